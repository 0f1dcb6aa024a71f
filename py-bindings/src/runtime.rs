//! The one tokio runtime of the module, and running futures on it with the
//! GIL released.
//!
//! A multi-thread runtime with two workers: its threads keep serving the
//! in-process emulator (`muster.testing`) between Python calls, and a sync
//! call from Python blocks only the calling thread while other Python
//! threads run.
//!
//! A forked child (Celery and Airflow workers, `multiprocessing` with the
//! fork start method) inherits the runtime but none of its threads: it
//! would wait forever on IO no worker drives. So the runtime is per
//! process: a child builds its own on first use and never touches the
//! parent's copy (leaked, as dropping it would join threads that do not
//! exist in the child).

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::{Builder, Runtime};

/// The runtime and the process that built it.
static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// This process's runtime, started on first use.
pub(crate) fn get() -> PyResult<&'static Runtime> {
    let pid = std::process::id();
    // A panic while building a runtime poisons nothing we rely on: the slot
    // holds either a finished runtime or None.
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((owner, rt)) = *slot
        && owner == pid
    {
        return Ok(rt);
    }
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("muster-io")
        .enable_all()
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the IO runtime: {e}")))?;
    let rt: &'static Runtime = Box::leak(Box::new(rt));
    *slot = Some((pid, rt));
    Ok(rt)
}

/// How often a blocked call looks for Ctrl-C.
pub(crate) const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// Runs `future` to completion with the GIL released. Everything it uses
/// must be owned or `Sync` (checked by `detach`'s bounds): Python objects
/// are converted before the call.
///
/// Signals still work: every [`SIGNAL_CHECK`] the calling thread takes the
/// GIL back for a moment and runs Python's signal handlers, so Ctrl-C (or
/// a job scheduler's SIGINT) interrupts a call stuck on a slow gateway.
/// The future is then dropped: requests in flight are abandoned, which an
/// apply with a journal settles on its next run, as after a crash.
pub(crate) fn block_on<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = get()?;
    let out = py.detach(|| {
        rt.block_on(async {
            tokio::pin!(future);
            let mut ticks = tokio::time::interval(SIGNAL_CHECK);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    out = &mut future => return Ok(out),
                    _ = ticks.tick() => {
                        // block_on polls this future on the calling thread,
                        // so the signal handlers run where Python expects;
                        // so do the log handlers (see `logs`).
                        Python::attach(|py| {
                            crate::logs::hand_over(py)?;
                            py.check_signals()
                        })?;
                    }
                }
            }
        })
    });
    // A signal that arrives as the records are handed over interrupts the
    // call as it would have a moment earlier.
    crate::logs::hand_over(py)?;
    out
}
