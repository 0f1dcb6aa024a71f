//! `muster.Gateway`: the gateway client, its listing, and applying plans.

use std::time::Duration;

use muster::core::Account;
use muster::gateway::{Client, RateLimit, RetryConfig, SecretString};
use muster::{ApplyReport, Executor, GatewaySnapshot};
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors;
use crate::planning::Plan;
use crate::runtime;

/// A gateway organisation, reached with one admin login.
///
/// The password is held as a `SecretString`: it is never part of `repr()`,
/// of an error message or of a log line.
#[pyclass(module = "muster._muster", frozen)]
pub(crate) struct Gateway {
    client: Client,
    /// The stack label plans are stamped with (`us1`, or the base URL).
    stack: String,
    /// Declared to the executor when the URL names no stack.
    declared_stack: Option<String>,
    org: String,
    user: String,
}

/// A client the builder refused is a bad argument, raised as `ValueError`
/// naming it when the object is made, never a `GatewayError` at the first
/// request. The organisation is checked before the builder runs (see
/// `essentials`), so what the builder still refuses is the URL.
fn construction_error(e: &muster::gateway::Error) -> PyErr {
    match e {
        muster::gateway::Error::Config(message) => {
            PyValueError::new_err(format!("stack_or_url: {}", muster::core::sanitize(message)))
        }
        other => errors::gateway(other),
    }
}

/// The label a plan is stamped with: the stack name, or the base URL as
/// given when the caller passed one (an emulator, a proxy).
fn stack_label(stack_or_url: &str) -> (String, Option<String>) {
    let trimmed = stack_or_url.trim_end_matches('/');
    if trimmed.contains("://") {
        (trimmed.to_owned(), Some(trimmed.to_owned()))
    } else {
        (trimmed.to_ascii_lowercase(), None)
    }
}

#[pymethods]
impl Gateway {
    /// Proofpoint Essentials v1: `stack_or_url` is a stack (`us1`, `eu1`…) or
    /// a base URL (`http://127.0.0.1:PORT/api/v1` of an emulator).
    #[staticmethod]
    #[pyo3(signature = (stack_or_url, *, org, user, password, requests_per_minute=None, timeout=None, max_attempts=None))]
    #[allow(clippy::too_many_arguments)]
    fn essentials(
        stack_or_url: &str,
        org: &str,
        user: &str,
        password: String,
        requests_per_minute: Option<u32>,
        timeout: Option<f64>,
        max_attempts: Option<u32>,
    ) -> PyResult<Self> {
        let password = SecretString::from(password);
        if let Err(e) = muster::core::Domain::parse(org) {
            return Err(PyValueError::new_err(format!(
                "org: {}",
                muster::core::sanitize(&e.to_string())
            )));
        }
        let mut builder = Client::builder()
            .essentials(stack_or_url, org)
            .credentials(user, password);
        if let Some(rpm) = requests_per_minute {
            if rpm == 0 {
                return Err(PyValueError::new_err(
                    "requests_per_minute must be at least 1",
                ));
            }
            builder = builder.rate_limit(RateLimit::per_minute(rpm));
        }
        if let Some(secs) = timeout {
            let t = Duration::try_from_secs_f64(secs)
                .map_err(|e| PyValueError::new_err(format!("timeout: {e}")))?;
            builder = builder.timeout(t);
        }
        if let Some(attempts) = max_attempts {
            builder = builder.retry(RetryConfig::standard().with_max_attempts(attempts));
        }
        let client = builder.build().map_err(|e| construction_error(&e))?;
        let (stack, declared_stack) = stack_label(stack_or_url);
        Ok(Gateway {
            client,
            stack,
            declared_stack,
            org: org.to_owned(),
            user: user.to_owned(),
        })
    }

    /// The stack label plans made from this gateway carry.
    #[getter]
    fn stack(&self) -> &str {
        &self.stack
    }

    /// The organisation's primary domain.
    #[getter]
    fn org(&self) -> &str {
        &self.org
    }

    /// The login name (never the password).
    #[getter]
    fn user(&self) -> &str {
        &self.user
    }

    /// Reads the organisation's profile and every account: a
    /// `muster.Users` (a list of account dicts) that remembers the profile,
    /// so `muster.plan` / `muster.functional_accounts` can plan from it.
    fn list_users<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let snapshot = self.snapshot(py)?;
        let accounts = snapshot
            .snapshot
            .listing
            .accounts
            .iter()
            .map(|a| account_dict(py, a))
            .collect::<PyResult<Vec<_>>>()?;
        let accounts = PyList::new(py, accounts)?;
        let users = py.import("muster")?.getattr("Users")?;
        users.call1((accounts, Bound::new(py, snapshot)?))
    }

    /// Applies `plan`: each change re-checks the account it was planned
    /// against (a changed account is `stale`, never overwritten). With
    /// `dry_run=True` nothing is written; with `journal=path` every outcome is
    /// appended to a JSON-lines file and a re-run of the same plan resumes.
    /// Returns an `ApplyReport`; per-change failures are outcomes in it (call
    /// `report.raise_for_status()` to turn them into exceptions).
    /// `exclude=` / `only=` (addresses or `"#12"` ids) and `approval=` (an
    /// approval file, or the reviewed CSV preview) apply part of the plan,
    /// in whole approval units, as `muster apply --exclude/--only/--exclude-from`.
    /// `progress=callable` is called with each `ProgressEvent` on this
    /// thread; Ctrl-C (or an exception from `progress`) stops the apply as
    /// `muster apply` stops on SIGINT: nothing new is sent, the changes in
    /// flight finish and are journalled, then the exception is raised.
    /// The keyword options are `GatewayApplyOptions` in the stubs.
    #[pyo3(signature = (plan, **options))]
    fn apply(
        &self,
        py: Python<'_>,
        plan: &Plan,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<crate::report::Report> {
        let crate::apply::GatewayOptions {
            mut common,
            concurrency,
        } = crate::apply::options("apply", options, |o: &mut crate::apply::GatewayOptions| {
            &mut o.common
        })?;
        let picks = common.picks();
        let crate::apply::Common {
            dry_run,
            journal,
            max_changes,
            progress,
            ..
        } = common;
        let approved = crate::approval::approve(py, plan.inner(), picks, None)?;
        let mut executor = Executor::new().dry_run(dry_run).concurrency(concurrency);
        if let Some(approved) = &approved {
            executor = executor.approved(approved);
        }
        if let Some(path) = &journal {
            executor = executor.journal(path);
        }
        if let Some(n) = max_changes {
            executor = executor.max_changes(n);
        }
        if let Some(stack) = &self.declared_stack {
            executor = executor.stack(stack);
        }
        let (inner, state) = (plan.inner(), plan.state());
        let client = &self.client;
        let run = crate::apply::run(py, executor, inner, client, state, progress)?;
        let result: Result<ApplyReport, muster::ApplyError> =
            run.raise_after(py, journal.as_deref())?;
        result
            .map(crate::report::Report::new)
            .map_err(|e| errors::apply(&e))
    }

    fn __repr__(&self) -> String {
        format!(
            "Gateway(stack={:?}, org={:?}, user={:?})",
            self.stack, self.org, self.user
        )
    }
}

impl Gateway {
    fn snapshot(&self, py: Python<'_>) -> PyResult<Snapshot> {
        let client = &self.client;
        let stack = self.stack.as_str();
        let read = runtime::block_on(py, muster::read_gateway(client, stack))?;
        let snapshot = read.map_err(|e| errors::gateway(&e))?;
        Ok(Snapshot { snapshot })
    }
}

/// An account as the dict `list_users()` lists (the stubs' `Account`: the
/// keys and values `serde` gives it in JSON, which a test pins).
///
/// Built field by field with interned keys rather than through
/// `serde_json::Value`: a listing of 10,000 accounts is 160,000 keys, and
/// the detour through JSON values (an allocation per key and value, then a
/// Python string per key) cost more than reading the listing itself.
fn account_dict<'py>(py: Python<'py>, a: &Account) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "primary_email"), a.primary_email.as_str())?;
    d.set_item(intern!(py, "first_name"), a.first_name.as_deref())?;
    d.set_item(intern!(py, "last_name"), a.last_name.as_deref())?;
    let aliases: Vec<&str> = a.aliases.iter().map(|e| e.as_str()).collect();
    d.set_item(intern!(py, "aliases"), PyList::new(py, aliases)?)?;
    d.set_item(intern!(py, "user_type"), a.user_type.as_str())?;
    d.set_item(intern!(py, "active"), a.active)?;
    d.set_item(intern!(py, "billable"), a.billable)?;
    d.set_item(intern!(py, "read_only"), a.read_only)?;
    d.set_item(intern!(py, "mobile"), a.mobile.as_deref())?;
    d.set_item(intern!(py, "phone"), a.phone.as_deref())?;
    d.set_item(intern!(py, "company"), a.company.as_deref())?;
    d.set_item(intern!(py, "department"), a.department.as_deref())?;
    d.set_item(intern!(py, "notes"), a.notes.as_deref())?;
    for (key, set) in [
        (intern!(py, "groups"), &a.groups),
        (intern!(py, "allow_senders"), &a.allow_senders),
        (intern!(py, "block_senders"), &a.block_senders),
    ] {
        d.set_item(key, PyList::new(py, set.iter().map(String::as_str))?)?;
    }
    Ok(d)
}

/// What a `list_users()` read: the accounts and the gateway's profile
/// (registered domains, licences, login), kept for planning.
#[pyclass(module = "muster._muster", frozen, name = "GatewaySnapshot")]
pub(crate) struct Snapshot {
    pub(crate) snapshot: GatewaySnapshot,
}

#[pymethods]
impl Snapshot {
    /// The organisation's domains registered on the gateway.
    #[getter]
    fn registered_domains(&self) -> Vec<String> {
        self.snapshot
            .target
            .registered_domains
            .iter()
            .map(|d| d.as_str().to_owned())
            .collect()
    }

    /// Licences bought, when the gateway says.
    #[getter]
    fn licence_count(&self) -> Option<u64> {
        self.snapshot.target.licence_count
    }

    /// The stack label.
    #[getter]
    fn stack(&self) -> &str {
        &self.snapshot.target.stack
    }

    /// The organisation.
    #[getter]
    fn org(&self) -> &str {
        &self.snapshot.target.org
    }

    /// True when the login can only read: plans can be previewed, not applied.
    #[getter]
    fn read_only_login(&self) -> bool {
        self.snapshot.read_only_login
    }

    fn __repr__(&self) -> String {
        format!(
            "GatewaySnapshot(org={:?}, stack={:?}, accounts={})",
            self.snapshot.target.org,
            self.snapshot.target.stack,
            self.snapshot.listing.accounts.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::stack_label;

    #[test]
    fn a_stack_name_is_its_own_label_and_declares_nothing() {
        assert_eq!(stack_label("US1"), ("us1".to_owned(), None));
    }

    #[test]
    fn a_url_is_the_label_and_is_declared_to_the_executor() {
        let (label, declared) = stack_label("http://127.0.0.1:8025/api/v1/");
        assert_eq!(label, "http://127.0.0.1:8025/api/v1");
        assert_eq!(declared.as_deref(), Some("http://127.0.0.1:8025/api/v1"));
    }
}
