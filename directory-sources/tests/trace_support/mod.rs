//! What a test file needs to see what a source traces (what the CLI's
//! `MUSTER_LOG` prints).

use std::sync::{Arc, Mutex};

/// What the source traces while the returned guard lives (this thread
/// only), as the CLI's `MUSTER_LOG=trace` would print it.
pub(crate) fn capture_trace() -> (Trace, tracing::subscriber::DefaultGuard) {
    let trace = Trace::default();
    let sink = trace.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || sink.clone())
        .finish();
    (trace, tracing::subscriber::set_default(subscriber))
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
