//! SMTP discovery from Python: `muster.DiscoveryLedger`, the caller-owned
//! record of addresses seen in mail flow, and the candidate users it yields.

use std::path::PathBuf;

use muster::chrono::TimeDelta;
use muster::core::Domain;
use muster::directory::{
    DiscoveryLedger as RustLedger, DiscoveryPolicy, DiscoverySource, ObservationColumns,
    ObservationCsv, observations_from_rows,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::convert::serialize_to_py;
use crate::errors;
use crate::planning::parse_now;
use crate::sources::{DirectoryRecords, issues_list, rows_of_cells};

/// Addresses seen in mail flow, with counts and first/last seen, kept
/// between runs (`to_json` / `from_json`; the caller stores it). Feeding it
/// is pure: `now` is an argument (RFC 3339; default: the current time).
/// Its `snapshot()` is a *supplemental* source: pass it to `muster.plan`
/// as `supplemental=[...]`; it can add users, never remove one.
#[pyclass(module = "muster._muster")]
pub(crate) struct DiscoveryLedger {
    ledger: RustLedger,
}

/// The policy from the keyword arguments (muster's defaults otherwise).
fn policy(
    managed_domains: Vec<String>,
    min_messages: Option<u64>,
    window_days: Option<u32>,
    expiry_days: Option<u32>,
) -> PyResult<DiscoveryPolicy> {
    let mut domains = Vec::with_capacity(managed_domains.len());
    for d in managed_domains {
        let domain: Domain = d
            .parse()
            .map_err(|e| PyValueError::new_err(format!("managed domain {d:?}: {e}")))?;
        domains.push(domain);
    }
    let mut policy = DiscoveryPolicy::new(domains);
    if let Some(n) = min_messages {
        policy = policy.min_messages(n);
    }
    if let Some(days) = window_days {
        policy = policy.window(TimeDelta::days(i64::from(days)));
    }
    if let Some(days) = expiry_days {
        policy = policy.expiry(TimeDelta::days(i64::from(days)));
    }
    Ok(policy)
}

#[pymethods]
impl DiscoveryLedger {
    /// An empty ledger.
    #[new]
    fn new() -> Self {
        DiscoveryLedger {
            ledger: RustLedger::new(),
        }
    }

    /// A ledger saved by `to_json`.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        let ledger = RustLedger::from_json(text).map_err(|e| errors::source(&e))?;
        Ok(DiscoveryLedger { ledger })
    }

    /// The ledger as versioned JSON, to store until the next run.
    fn to_json(&self) -> PyResult<String> {
        self.ledger.to_json().map_err(|e| errors::source(&e))
    }

    /// Adds observations from dicts (`address`, `direction`, `messages`,
    /// `last_seen`, optional `first_seen` and `display_name`). Returns the
    /// rows that could not be used, as issue dicts (`record #i`).
    #[pyo3(signature = (rows, *, now=None))]
    fn observe<'py>(
        &mut self,
        py: Python<'py>,
        rows: &Bound<'py, PyAny>,
        now: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        let now = parse_now(now)?;
        let read = observations_from_rows(
            "observations",
            &ObservationColumns::default(),
            rows_of_cells(rows)?,
        );
        let mut issues = read.issues;
        issues.extend(self.ledger.observe(&read.observations, now));
        issues_list(py, &issues)
    }

    /// Adds the observations of a CSV file (same columns, header row);
    /// returns the rows that could not be used (`file:line`).
    #[pyo3(signature = (path, *, now=None))]
    fn observe_csv<'py>(
        &mut self,
        py: Python<'py>,
        path: PathBuf,
        now: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        let now = parse_now(now)?;
        let read = py
            .detach(|| ObservationCsv::new(&path).read())
            .map_err(|e| errors::source(&e))?;
        let mut issues = read.issues;
        issues.extend(self.ledger.observe(&read.observations, now));
        issues_list(py, &issues)
    }

    /// The candidates as of `now`: dicts with `address`, `becomes`,
    /// `reason`, `counted` and `seen`.
    #[pyo3(signature = (managed_domains, *, min_messages=None, window_days=None, expiry_days=None, now=None))]
    fn candidates<'py>(
        &self,
        py: Python<'py>,
        managed_domains: Vec<String>,
        min_messages: Option<u64>,
        window_days: Option<u32>,
        expiry_days: Option<u32>,
        now: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let policy = policy(managed_domains, min_messages, window_days, expiry_days)?;
        let source = DiscoverySource::new(self.ledger.clone(), policy, parse_now(now)?);
        serialize_to_py(py, &source.candidates())
    }

    /// The candidates as a supplemental directory snapshot (for
    /// `muster.plan(..., supplemental=[...])`).
    #[pyo3(signature = (managed_domains, *, min_messages=None, window_days=None, expiry_days=None, now=None))]
    fn snapshot(
        &self,
        managed_domains: Vec<String>,
        min_messages: Option<u64>,
        window_days: Option<u32>,
        expiry_days: Option<u32>,
        now: Option<&str>,
    ) -> PyResult<DirectoryRecords> {
        let policy = policy(managed_domains, min_messages, window_days, expiry_days)?;
        let source = DiscoverySource::new(self.ledger.clone(), policy, parse_now(now)?);
        Ok(DirectoryRecords::new(source.snapshot()))
    }

    fn __len__(&self) -> usize {
        self.ledger.len()
    }

    fn __repr__(&self) -> String {
        format!("DiscoveryLedger({} addresses)", self.ledger.len())
    }
}
