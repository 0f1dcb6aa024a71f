//! The Rust crates' diagnostics as Python `logging` records, under the
//! logger `muster`: `muster.gateway` (each gateway request as it ends:
//! method, path, attempt, status, retry wait, duration), `muster.directory`
//! (each Graph request, each LDAP read with its entry count),
//! `muster.executor` (each change applied). What the CLI prints with
//! `MUSTER_LOG`; nothing in it holds a password or token.
//!
//! Records are made on the IO runtime's threads, which never wait for the
//! GIL: one that did could deadlock with a Python thread that holds the GIL
//! while it waits on a lock the runtime thread holds. They are queued
//! instead and handed to `logging` on the Python thread by the call that
//! caused them, while it waits (it takes the GIL back every 50 ms for
//! signals anyway) and when it returns; what happens between calls (the
//! test emulator serving) goes with the next call. At most [`KEPT`]
//! records wait; further ones are counted, and the count is logged.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// How many records wait for a Python thread at most.
const KEPT: usize = 10_000;

/// One record on its way to `logging`.
struct Queued {
    level: Level,
    logger: String,
    message: String,
}

/// The records waiting for a Python thread. Runtime threads only send on
/// an unbounded channel and count with atomics; the receiver sits behind a
/// mutex taken only with the GIL held, which `os.fork` holds too, so a
/// worker process forked mid-call (Celery, Airflow, `multiprocessing`)
/// does not inherit it locked.
struct Queue {
    sender: Sender<Queued>,
    receiver: Mutex<Receiver<Queued>>,
    waiting: AtomicUsize,
    dropped: AtomicUsize,
}

fn the_queue() -> &'static Queue {
    static QUEUE: OnceLock<Queue> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (sender, receiver) = mpsc::channel();
        Queue {
            sender,
            receiver: Mutex::new(receiver),
            waiting: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
        }
    })
}

/// Queues a record, or counts it as dropped when [`KEPT`] already wait.
fn queue(record: Queued) {
    let q = the_queue();
    if q.waiting.fetch_add(1, Ordering::Relaxed) >= KEPT {
        q.waiting.fetch_sub(1, Ordering::Relaxed);
        q.dropped.fetch_add(1, Ordering::Relaxed);
        return;
    }
    // The receiver lives as long as the process: sending cannot fail.
    let _ = q.sender.send(record);
}

/// Starts sending the muster crates' diagnostics to `logging` (DEBUG and
/// up; `logging`'s own levels decide what is shown). A process that has
/// already installed a `tracing` subscriber keeps its own.
pub(crate) fn install() {
    // Made here, on the importing thread, before any runtime thread can log.
    the_queue();
    let muster_only = filter_fn(|meta: &Metadata<'_>| {
        meta.target().starts_with("muster") && *meta.level() <= Level::DEBUG
    });
    // Not `try_init`: that would also claim the `log` crate's global logger,
    // which another extension module in the process may want.
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(ToLogging.with_filter(muster_only)),
    );
}

/// Hands the queued records to `logging`, on the calling (Python) thread.
///
/// Running Python code runs pending signal handlers, so a Ctrl-C can
/// surface inside a `logging` call: that exception is returned, never
/// swallowed (the records after it are lost with the interrupted call).
/// A failing handler does not raise here: `logging` reports it itself.
pub(crate) fn hand_over(py: Python<'_>) -> PyResult<()> {
    let q = the_queue();
    let records: Vec<Queued> = {
        let receiver = q.receiver.lock().unwrap_or_else(|e| e.into_inner());
        receiver.try_iter().collect()
    };
    q.waiting.fetch_sub(records.len(), Ordering::Relaxed);
    let dropped = q.dropped.swap(0, Ordering::Relaxed);
    if records.is_empty() && dropped == 0 {
        return Ok(());
    }
    let logging = py.import("logging")?;
    let log = |logger: &str, level: Level, message: &str| -> PyResult<()> {
        logging
            .call_method1("getLogger", (logger,))?
            .call_method1("log", (python_level(level), message))?;
        Ok(())
    };
    if dropped > 0 {
        log(
            "muster",
            Level::WARN,
            &format!("{dropped} diagnostics were dropped while no Python call took them"),
        )?;
    }
    for r in records {
        // Log records quote servers and directories: outside text, through
        // the one sanitiser before any handler prints it.
        log(&r.logger, r.level, &muster::core::sanitize(&r.message))?;
    }
    Ok(())
}

/// `logging`'s number for a level (TRACE below DEBUG).
fn python_level(level: Level) -> u8 {
    match level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// `muster_gateway::transport` → `muster.gateway`; `muster::executor` → `muster.executor`.
fn logger_name(target: &str) -> String {
    let mut parts = target.split("::");
    let krate = parts.next().unwrap_or("muster");
    match krate.strip_prefix("muster_") {
        Some(rest) => format!("muster.{rest}"),
        None => parts
            .next()
            .map_or_else(|| "muster".to_owned(), |m| format!("muster.{m}")),
    }
}

/// A span's fields as `name=value` pairs, and when it started.
struct SpanText {
    started: Instant,
    fields: String,
}

/// Writes fields as ` name=value`; an event's `message` first, bare.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value}", field.name());
        }
    }
}

/// The layer that queues records (see the module's doc).
struct ToLogging;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for ToLogging {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanText {
                started: Instant::now(),
                fields: fields.rest,
            });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(span) = ctx.span(id)
            && let Some(text) = span.extensions_mut().get_mut::<SpanText>()
        {
            text.fields.push_str(&fields.rest);
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        queue(Queued {
            level: *meta.level(),
            logger: logger_name(meta.target()),
            message: format!("{}{}", fields.message, fields.rest),
        });
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let meta = span.metadata();
        let message = match span.extensions().get::<SpanText>() {
            Some(text) => format!(
                "{}{} ({:.1?})",
                meta.name(),
                text.fields,
                text.started.elapsed()
            ),
            None => meta.name().to_owned(),
        };
        queue(Queued {
            level: *meta.level(),
            logger: logger_name(meta.target()),
            message,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loggers_are_named_after_the_crate_or_the_umbrella_module() {
        assert_eq!(logger_name("muster_gateway::transport"), "muster.gateway");
        assert_eq!(logger_name("muster_directory::graph"), "muster.directory");
        assert_eq!(logger_name("muster::executor"), "muster.executor");
        assert_eq!(logger_name("muster"), "muster");
    }

    #[test]
    fn the_queue_holds_at_most_kept_records_and_counts_the_rest() {
        for i in 0..KEPT + 3 {
            queue(Queued {
                level: Level::INFO,
                logger: "muster.test".to_owned(),
                message: i.to_string(),
            });
        }
        let q = the_queue();
        assert_eq!(q.waiting.load(Ordering::Relaxed), KEPT);
        assert_eq!(q.dropped.load(Ordering::Relaxed), 3);
        let first = q.receiver.lock().unwrap().try_recv().unwrap();
        assert_eq!(first.message, "0", "the earliest are kept");
    }
}
