//! Running an apply from Python: `progress=` and Ctrl-C.
//!
//! The executor reports progress on its own task, on a runtime thread that
//! must not run Python code a script wrote for its own thread (a callable
//! that touches a GUI, a thread-local database handle, `signal`). So each
//! event goes through a channel and the callable is called on the thread
//! that called `apply`, which is the thread polling the apply (tokio's
//! `block_on`), with the GIL held only for the call.
//!
//! An interrupt stops the apply the way `muster apply` stops on SIGINT:
//! nothing new is sent, the changes in flight finish (so the journal and
//! the report hold every outcome), and then the `KeyboardInterrupt` is
//! raised. An exception from the progress callable stops it the same way
//! and is the one raised. A second interrupt while the changes in flight
//! finish abandons them at once (the journal is written as each change
//! ends: the next run with it settles them, as after a crash).

use muster::gateway::Client;
use muster::reconcile::{Plan, SyncState};
use muster::{ApplyError, ApplyReport, Executor, Progress, Stop};
use pyo3::prelude::*;
use serde_json::{Value, json};

use crate::convert::to_py;
use crate::runtime;

/// What an apply ended with: the executor's result, and the exception to
/// raise once the caller has saved what succeeded (the state file).
pub(crate) struct Run {
    pub(crate) result: Result<ApplyReport, ApplyError>,
    pub(crate) raised: Option<PyErr>,
}

impl Run {
    /// The exception to raise after an interrupted run, with a note (as
    /// the CLI says on standard error) of what is done and how to resume.
    pub(crate) fn raise_after(
        self,
        py: Python<'_>,
        journal: Option<&std::path::Path>,
    ) -> PyResult<Result<ApplyReport, ApplyError>> {
        let Some(error) = self.raised else {
            return Ok(self.result);
        };
        if let Ok(report) = &self.result {
            let left = report
                .changes
                .iter()
                .filter(|c| !c.outcome.succeeded())
                .count();
            let resume = match journal {
                Some(j) => format!(
                    "; apply the same plan with journal `{}` to resume",
                    muster::core::Sanitized(&j.display().to_string())
                ),
                None => "; no journal was kept: plan again to see what is left".to_owned(),
            };
            let note = format!(
                "muster: apply stopped: {} of {} changes done, {left} left{resume}",
                report.changes.len() - left,
                report.changes.len(),
            );
            // `add_note` is Python 3.11's; on older versions the note is lost, not the error.
            let value = error.value(py);
            if value.hasattr("add_note")? {
                value.call_method1("add_note", (note,))?;
            }
        }
        Err(error)
    }
}

/// An event as the stubs' `ProgressEvent`: `event` is `"started"` or
/// `"finished"`; a finished change has its outcome flat beside it (as in
/// `ApplyReport.changes`) and the counts so far.
fn event_value(event: &Progress<'_>) -> Option<Value> {
    match event {
        Progress::Started { change } => Some(json!({
            "event": "started",
            "id": change.id,
            "email": change.email,
            "kind": change.kind,
        })),
        Progress::Finished {
            change,
            outcome,
            done,
            total,
        } => {
            let mut value = json!({
                "event": "finished",
                "id": change.id,
                "email": change.email,
                "kind": change.kind,
                "done": done,
                "total": total,
            });
            if let (Some(map), Ok(Value::Object(outcome))) =
                (value.as_object_mut(), serde_json::to_value(outcome))
            {
                map.extend(outcome);
            }
            Some(value)
        }
        _ => None,
    }
}

/// Applies `plan` with `executor`, calling `progress` (when given) with each
/// event on this thread, and stopping cleanly on an interrupt or when
/// `progress` raises.
///
/// # Errors
/// Only when the runtime cannot start, or a second interrupt abandoned the
/// changes in flight; every other outcome is in the returned [`Run`].
pub(crate) fn run(
    py: Python<'_>,
    executor: Executor,
    plan: &Plan,
    client: &Client,
    state: &SyncState,
    progress: Option<Py<PyAny>>,
) -> PyResult<Run> {
    let stop = Stop::new();
    let mut executor = executor.stop_on(&stop);
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel::<Value>();
    if progress.is_some() {
        executor = executor.on_progress(move |event| {
            if let Some(value) = event_value(&event) {
                // The receiver lives until the apply ends: a send cannot fail before.
                let _ = events.send(value);
            }
        });
    }
    let rt = runtime::get()?;
    let mut raised: Option<PyErr> = None;
    let result = py.detach(|| {
        rt.block_on(async {
            let future = executor.apply(plan, client, state);
            tokio::pin!(future);
            let mut ticks = tokio::time::interval(runtime::SIGNAL_CHECK);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let call = |value: Value| {
                Python::attach(|py| match progress.as_ref() {
                    Some(callable) => callable.bind(py).call1((to_py(py, &value)?,)).map(drop),
                    None => Ok(()),
                })
            };
            let out = loop {
                let stopping = raised.is_some();
                let first = tokio::select! {
                    biased;
                    out = &mut future => break out,
                    Some(value) = received.recv(), if progress.is_some() && !stopping => call(value),
                    _ = ticks.tick() => Python::attach(|py| {
                        crate::logs::hand_over(py)?;
                        py.check_signals()
                    }),
                };
                if let Err(error) = first {
                    if stopping {
                        // A second interrupt: abandon what is in flight.
                        return Err(error);
                    }
                    stop.request(None);
                    raised = Some(error);
                }
            };
            // The last outcomes may still be in the channel when the apply ends.
            while raised.is_none()
                && let Ok(value) = received.try_recv()
            {
                if let Err(error) = call(value) {
                    raised = Some(error);
                }
            }
            Ok(out)
        })
    });
    crate::logs::hand_over(py)?;
    Ok(Run {
        result: result?,
        raised,
    })
}

/// `progress=` checked when `apply` is called, not at the first event: a
/// value that cannot be called is a `TypeError` before anything is sent.
pub(crate) fn callable(progress: Option<Bound<'_, PyAny>>) -> PyResult<Option<Py<PyAny>>> {
    match progress {
        Some(p) if p.is_none() => Ok(None),
        Some(p) if !p.is_callable() => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "progress must be callable, not {}",
            crate::convert::type_name(&p)
        ))),
        other => Ok(other.map(Bound::unbind)),
    }
}

/// The keywords `Gateway.apply` and `Config.apply` share (the stubs'
/// `ApplyOptions`), read once for both.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct Common {
    pub(crate) dry_run: bool,
    pub(crate) journal: Option<std::path::PathBuf>,
    pub(crate) max_changes: Option<usize>,
    pub(crate) exclude: Option<Vec<String>>,
    pub(crate) only: Option<Vec<String>>,
    pub(crate) approval: Option<std::path::PathBuf>,
    /// Read apart: a callable is not plain data.
    #[serde(skip)]
    pub(crate) progress: Option<Py<PyAny>>,
}

impl Common {
    /// What a script picked to approve.
    pub(crate) fn picks(&mut self) -> crate::approval::PickArgs {
        crate::approval::PickArgs {
            exclude: self.exclude.take(),
            only: self.only.take(),
            approval: self.approval.take(),
        }
    }
}

/// The keyword options of `Gateway.apply` (the stubs' `GatewayApplyOptions`).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct GatewayOptions {
    #[serde(flatten)]
    pub(crate) common: Common,
    pub(crate) concurrency: usize,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            common: Common::default(),
            concurrency: 4,
        }
    }
}

/// The keyword options of `Config.apply` (the stubs' `ConfigApplyOptions`).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ConfigOptions {
    #[serde(flatten)]
    pub(crate) common: Common,
    pub(crate) state: Option<std::path::PathBuf>,
    pub(crate) override_threshold: bool,
}

/// The keywords that are paths: a `pathlib.Path` is as good as a `str`.
const PATHS: [&str; 3] = ["journal", "approval", "state"];

/// Reads `apply`'s keywords as `T` (an unknown one is a `TypeError`, a
/// bad value a `ValueError` naming it), with `progress` taken out first
/// and checked to be callable.
pub(crate) fn options<T: serde::de::DeserializeOwned + Default>(
    function: &str,
    options: Option<&Bound<'_, pyo3::types::PyDict>>,
    common: impl FnOnce(&mut T) -> &mut Common,
) -> PyResult<T> {
    let Some(options) = options else {
        return Ok(T::default());
    };
    let rest = options.copy()?;
    let progress = rest.get_item("progress")?;
    if progress.is_some() {
        rest.del_item("progress")?;
    }
    let os = options.py().import("os")?;
    for key in PATHS {
        if let Some(value) = rest.get_item(key)?
            && !value.is_none()
        {
            let path = os
                .call_method1("fspath", (value,))
                .map_err(|e| pyo3::exceptions::PyTypeError::new_err(format!("{key}: {e}")))?;
            rest.set_item(key, path)?;
        }
    }
    let mut parsed: T = crate::planning::keywords(function, Some(&rest))?;
    common(&mut parsed).progress = callable(progress)?;
    Ok(parsed)
}
