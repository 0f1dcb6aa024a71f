//! `muster.ApplyReport`: what `Gateway.apply` did, change by change.

use muster::{ApplyReport, Outcome};
use pyo3::prelude::*;

use serde_json::Value;

use crate::convert::{serialize_to_py, to_py};
use crate::errors::{ApplyError, StaleError};

fn convert_error(e: serde_json::Error) -> PyErr {
    pyo3::exceptions::PyTypeError::new_err(format!("cannot convert the report: {e}"))
}

/// One outcome per change (`applied`, `already_applied`, `stale`, `failed`,
/// `skipped`, `dry_run`), counts, and the new sync state to save.
#[pyclass(module = "muster._muster", frozen, name = "ApplyReport")]
pub(crate) struct Report {
    report: ApplyReport,
}

impl Report {
    pub(crate) fn new(report: ApplyReport) -> Self {
        Report { report }
    }

    /// Each change as flat plain data: `id`, `email`, `kind`, `outcome` (its
    /// name) and the outcome's own fields next to them.
    fn changes_value(&self) -> PyResult<Value> {
        let mut changes = Vec::with_capacity(self.report.changes.len());
        for change in &self.report.changes {
            let mut value = serde_json::to_value(change).map_err(convert_error)?;
            if let Some(map) = value.as_object_mut()
                && let Some(Value::Object(outcome)) = map.remove("outcome")
            {
                map.extend(outcome);
            }
            changes.push(value);
        }
        Ok(Value::Array(changes))
    }

    /// The changes whose outcome is `name`, as `email (reason)` lines.
    fn lines(&self, stale: bool) -> Vec<String> {
        self.report
            .changes
            .iter()
            .filter_map(|c| match (&c.outcome, stale) {
                (Outcome::Stale { reason }, true) => Some(format!("{}: {reason}", c.email)),
                (Outcome::Failed { error, .. }, false) => Some(format!("{}: {error}", c.email)),
                (Outcome::Skipped { reason }, false) => {
                    Some(format!("{}: skipped: {reason}", c.email))
                }
                _ => None,
            })
            .collect()
    }
}

#[pymethods]
impl Report {
    /// One dict per change: `id`, `email`, `kind`, `outcome` (and the
    /// outcome's `reason`, `error`/`retryable` or `requests`).
    #[getter]
    fn changes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.changes_value()?)
    }

    /// How many changes ended each way.
    #[getter]
    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize_to_py(py, &self.report.counts)
    }

    /// True for a dry run: nothing was written.
    #[getter]
    fn dry_run(&self) -> bool {
        self.report.dry_run
    }

    /// Why the run stopped early, or None.
    #[getter]
    fn halted(&self) -> Option<String> {
        self.report.halted.as_ref().map(ToString::to_string)
    }

    /// True when every change succeeded (or would, in a dry run).
    #[getter]
    fn is_complete(&self) -> bool {
        self.report.is_complete()
    }

    /// The applied plan's fingerprint.
    #[getter]
    fn fingerprint(&self) -> &str {
        &self.report.fingerprint
    }

    /// The sync state after the run, as JSON: save it, the next plan needs it.
    #[getter]
    fn state_json(&self) -> String {
        self.report.state.to_json()
    }

    /// The whole report as plain data.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mut value = serde_json::to_value(&self.report).map_err(convert_error)?;
        if let Some(map) = value.as_object_mut() {
            map.insert("changes".to_owned(), self.changes_value()?);
        }
        to_py(py, &value)
    }

    /// Raises `StaleError` when an account changed since planning (plan
    /// again), `ApplyError` when a change failed or was skipped or the run
    /// halted; returns None when everything succeeded.
    fn raise_for_status(&self) -> PyResult<()> {
        let stale = self.lines(true);
        if !stale.is_empty() {
            return Err(StaleError::new_err(format!(
                "{} change(s) are stale, plan again: {}",
                stale.len(),
                stale.join("; ")
            )));
        }
        let mut bad = self.lines(false);
        if let Some(halt) = &self.report.halted {
            bad.insert(0, halt.to_string());
        }
        if !bad.is_empty() {
            return Err(ApplyError::new_err(bad.join("; ")));
        }
        Ok(())
    }

    fn __repr__(&self) -> String {
        let c = &self.report.counts;
        format!(
            "ApplyReport(dry_run={}, applied={}, already_applied={}, stale={}, failed={}, skipped={}, would_apply={})",
            if self.report.dry_run { "True" } else { "False" },
            c.applied,
            c.already_applied,
            c.stale,
            c.failed,
            c.skipped,
            c.dry_run
        )
    }
}
