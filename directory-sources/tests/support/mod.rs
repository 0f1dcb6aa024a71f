//! What the source test files share: seeing what a source traces (what the
//! CLI's `MUSTER_LOG` prints), and a snapshot's primary addresses.

// Each test file uses the part it needs.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use muster_core::DirectorySnapshot;

/// The snapshot's primary addresses, in its order.
pub(crate) fn primaries(snapshot: &DirectorySnapshot) -> Vec<&str> {
    snapshot
        .entries
        .iter()
        .map(|e| e.primary_email.as_str())
        .collect()
}

/// What the source traces while the returned guard lives (this thread
/// only), as the CLI's `MUSTER_LOG=trace` would print it.
///
/// One subscriber serves the whole test binary, installed once as the
/// global default; a per-thread filter lets through only the events of
/// threads that are capturing, and its writer appends them to that
/// thread's capture. A subscriber per test (`set_default`) does not work
/// under `cargo test`, where tests share a process: whether a callsite is
/// enabled is cached process-wide, and a test on another thread that hits
/// a callsite first, while no capturing subscriber exists, caches "never"
/// for everyone (rebuilding the cache after `set_default` still loses the
/// race for callsites registering at that moment). The per-thread filter
/// is dynamic, so every callsite is cached as "sometimes" and asked each
/// time.
pub(crate) fn capture_trace() -> (Trace, CaptureGuard) {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::{Layer, filter, fmt};
        let capturing = filter::dynamic_filter_fn(|_, _| CAPTURE.with(|c| c.borrow().is_some()));
        let layer = fmt::layer()
            .with_ansi(false)
            .with_span_events(fmt::format::FmtSpan::CLOSE)
            .with_writer(|| ThisThread)
            .with_filter(capturing);
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .expect("no other global subscriber in a source test binary");
    });
    let trace = Trace::default();
    CAPTURE.with(|c| *c.borrow_mut() = Some(trace.clone()));
    (trace, CaptureGuard(std::marker::PhantomData))
}

std::thread_local! {
    /// The capture of this thread's test, while it captures.
    static CAPTURE: std::cell::RefCell<Option<Trace>> = const { std::cell::RefCell::new(None) };
}

/// Ends this thread's capture when dropped (see [`capture_trace`]).
pub(crate) struct CaptureGuard(std::marker::PhantomData<*const ()>);

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURE.with(|c| c.borrow_mut().take());
    }
}

/// Writes what the subscriber formats to the capture of the thread it
/// formats on (events are formatted where they happen).
struct ThisThread;

impl std::io::Write for ThisThread {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(trace) = c.borrow_mut().as_mut() {
                trace.write_all(buf)?;
            }
            Ok(buf.len())
        })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The text traced so far (see [`capture_trace`]).
#[derive(Clone, Default)]
pub(crate) struct Trace(Arc<Mutex<Vec<u8>>>);

impl Trace {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Trace {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An attribute and its values, as the admin writes them.
pub(crate) type Attribute = (String, std::collections::HashSet<Vec<u8>>);

/// A directory object to write: its RDN and attributes.
pub(crate) type NewObject = (String, Vec<Attribute>);

/// An attribute's values as the admin writes them.
pub(crate) fn set(values: &[&str]) -> std::collections::HashSet<Vec<u8>> {
    values.iter().map(|v| v.as_bytes().to_vec()).collect()
}

/// Adds the organisational unit `ou` (`ou=<unit>,…`) and `objects` in it
/// (each `(rdn, attributes)`, the RDN as the server spells it), as the
/// connection's admin: the test directory servers' shared set-up; each
/// server's file removes a leftover unit first in its own way.
pub(crate) async fn add_unit(
    ldap: &mut ldap3::Ldap,
    ou: &str,
    unit: &str,
    objects: Vec<NewObject>,
) {
    ldap.add(
        ou,
        vec![
            (b"objectClass".to_vec(), set(&["organizationalUnit"])),
            (b"ou".to_vec(), set(&[unit])),
        ],
    )
    .await
    .unwrap()
    .success()
    .unwrap_or_else(|e| panic!("adding {ou}: {e}"));
    for (rdn, attributes) in objects {
        let dn = format!("{rdn},{ou}");
        let attributes: Vec<(Vec<u8>, std::collections::HashSet<Vec<u8>>)> = attributes
            .into_iter()
            .map(|(name, values)| (name.into_bytes(), values))
            .collect();
        ldap.add(&dn, attributes)
            .await
            .unwrap()
            .success()
            .unwrap_or_else(|e| panic!("adding {dn}: {e}"));
    }
}
