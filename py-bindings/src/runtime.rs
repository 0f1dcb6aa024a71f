//! The one tokio runtime of the module, and running futures on it with the
//! GIL released.
//!
//! A multi-thread runtime with two workers: its threads keep serving the
//! in-process emulator (`muster.testing`) between Python calls, and a sync
//! call from Python blocks only the calling thread while other Python
//! threads run.

use std::future::Future;
use std::sync::OnceLock;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::{Builder, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The process-wide runtime, started on first use.
pub(crate) fn get() -> PyResult<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("muster-io")
        .enable_all()
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the IO runtime: {e}")))?;
    // Another thread may have won the race; its runtime is used and ours dropped.
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Runs `future` to completion with the GIL released. Everything it uses
/// must be owned or `Sync` (checked by `detach`'s bounds): Python objects
/// are converted before the call.
pub(crate) fn block_on<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = get()?;
    Ok(py.detach(|| rt.block_on(future)))
}
