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
