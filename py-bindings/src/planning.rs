//! `muster.plan`, `muster.functional_accounts` and `muster.Plan`: the pure
//! planner behind plain-data inputs.

use std::collections::BTreeMap;

use muster::chrono::{DateTime, Utc};
use muster::core::{Account, DirectorySnapshot, Domain, EmailAddress, FieldSet};
use muster::reconcile::{
    self, DeleteDelay, Desired, GatewayListing, HrAction, HrRule, Mode, Policy, SyncState,
    TargetProfile,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde::Deserialize;

use crate::convert::{from_py, serialize_to_py, type_name};
use crate::errors;
use crate::gateway::Snapshot;
use crate::sources::{DirectoryRecords, HrRecords};

/// The name an HR-only plan gives its (empty) directory.
const NO_DIRECTORY: &str = "(no directory)";

/// A reviewed-before-applied plan: what would change on the gateway, why,
/// and the state it was made with. `str(plan)` is the preview text.
#[pyclass(module = "muster._muster", frozen)]
pub(crate) struct Plan {
    plan: reconcile::Plan,
    state: SyncState,
}

impl Plan {
    pub(crate) fn new(plan: reconcile::Plan, state: SyncState) -> Self {
        Plan { plan, state }
    }

    pub(crate) fn inner(&self) -> &reconcile::Plan {
        &self.plan
    }

    pub(crate) fn state(&self) -> &SyncState {
        &self.state
    }
}

fn write_text(path: Option<std::path::PathBuf>, text: &str) -> PyResult<()> {
    if let Some(path) = path {
        // A plan holds directory data: owner-only, never half-written.
        muster::write_private(&path, text.as_bytes()).map_err(|e| {
            pyo3::exceptions::PyOSError::new_err(format!("cannot write {}: {e}", path.display()))
        })?;
    }
    Ok(())
}

#[pymethods]
impl Plan {
    /// Counts: changes per heading, steps per kind, conflicts, skipped
    /// entries, welcome letters, billable users before/after, API calls.
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize_to_py(py, &self.plan.summary)
    }

    /// The "Export preview to .csv" table; written to `path` when given.
    #[pyo3(signature = (path=None))]
    fn to_csv(&self, path: Option<std::path::PathBuf>) -> PyResult<String> {
        let text = reconcile::render::csv(&self.plan);
        write_text(path, &text)?;
        Ok(text)
    }

    /// The plan as versioned JSON (byte-stable); written to `path` when given.
    #[pyo3(signature = (path=None))]
    fn to_json(&self, path: Option<std::path::PathBuf>) -> PyResult<String> {
        let text = reconcile::render::json(&self.plan);
        write_text(path, &text)?;
        Ok(text)
    }

    /// The plan as `muster show` shows it: `"text"` (the preview, with
    /// what it is for, when it was made, its fingerprint and threshold),
    /// `"json"` (the saved plan) or `"csv"` (the preview with an `exclude`
    /// column for a reviewer to mark).
    #[pyo3(signature = (format="text"))]
    fn show(&self, format: &str) -> PyResult<String> {
        Ok(render(&self.plan, ShowFormat::parse(format)?))
    }

    /// The User Conflicts list as `muster conflicts list` shows it:
    /// `"text"`, `"json"` or `"csv"` (the columns `export_conflicts` writes).
    #[pyo3(signature = (format="text"))]
    fn show_conflicts(&self, format: &str) -> PyResult<String> {
        Ok(match ShowFormat::parse(format)? {
            ShowFormat::Text => reconcile::render::conflicts_text(&self.plan),
            // As `conflicts list --format json` prints it.
            ShowFormat::Json => reconcile::render::conflicts_json(&self.plan) + "\n",
            ShowFormat::Csv => reconcile::render::conflicts_csv(&self.plan),
        })
    }

    /// What applying with these picks would apply: `included` and
    /// `excluded` change ids, and `brought_along` (a picked change and the
    /// changes it moves an address to or from, which go with it). Raises
    /// `PlanError` when a pick is no change of this plan, or the approval
    /// file is another plan's.
    #[pyo3(signature = (*, exclude=None, only=None, approval=None))]
    fn approve<'py>(
        &self,
        py: Python<'py>,
        exclude: Option<Vec<String>>,
        only: Option<Vec<String>>,
        approval: Option<std::path::PathBuf>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = crate::approval::PickArgs {
            exclude,
            only,
            approval,
        };
        let approved = crate::approval::approve(py, &self.plan, args, None)?.unwrap_or_else(|| {
            let mut all = reconcile::Approval::default();
            all.included = self.plan.changes.iter().map(|c| c.id).collect();
            all
        });
        approved_to_py(py, &approved)
    }

    /// Reads a plan saved with `to_json`, with the sync state it was made
    /// with (JSON text; a first run's state when omitted).
    #[staticmethod]
    #[pyo3(signature = (text, *, state=None))]
    fn from_json(text: &str, state: Option<&str>) -> PyResult<Self> {
        let plan = reconcile::render::from_json(text).map_err(|e| errors::plan(&e))?;
        let state = load_state(state, &plan.stack, &plan.org)?;
        Ok(Plan { plan, state })
    }

    /// One dict per account change (email, kind, phase, steps, expect, reason…).
    #[getter]
    fn changes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize_to_py(py, &self.plan.changes)
    }

    /// The User Conflicts list.
    #[getter]
    fn conflicts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize_to_py(py, &self.plan.conflicts)
    }

    /// Entries the planner refused, with why.
    #[getter]
    fn skipped<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize_to_py(py, &self.plan.skipped)
    }

    /// Why destructive changes were withheld, as sentences.
    #[getter]
    fn guards(&self) -> Vec<String> {
        self.plan.guards.iter().map(ToString::to_string).collect()
    }

    /// The destructive-change threshold check.
    #[getter]
    fn threshold<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize_to_py(py, &self.plan.threshold)
    }

    /// A hash of the plan's content: applying refuses a plan changed after it was made.
    #[getter]
    fn fingerprint(&self) -> &str {
        &self.plan.fingerprint
    }

    /// The organisation.
    #[getter]
    fn org(&self) -> &str {
        &self.plan.org
    }

    /// The stack label.
    #[getter]
    fn stack(&self) -> &str {
        &self.plan.stack
    }

    /// True when the plan changes nothing.
    #[getter]
    fn is_empty(&self) -> bool {
        self.plan.is_empty()
    }

    /// True when the plan trips the destructive threshold without override:
    /// `Gateway.apply` refuses it.
    #[getter]
    fn requires_override(&self) -> bool {
        self.plan.requires_override()
    }

    /// What the plan means for a scheduler, in the exit-code table's words:
    /// `"threshold exceeded"`, `"source unsafe"`, `"would change"` or
    /// `"nothing to do"` (the first that holds).
    #[getter]
    fn outcome(&self) -> &'static str {
        self.plan.outcome().describe()
    }

    /// The code `muster plan --detailed-exitcode` exits with for this plan:
    /// 4, 5, 2 or 0, as [`outcome`](Self::outcome) says.
    #[getter]
    fn exit_code(&self) -> u8 {
        self.plan.outcome().exit_code()
    }

    /// The sync state the plan was made with, as JSON.
    #[getter]
    fn state_json(&self) -> String {
        self.state.to_json()
    }

    fn __len__(&self) -> usize {
        self.plan.changes.len()
    }

    fn __str__(&self) -> String {
        reconcile::render::text(&self.plan)
    }

    fn __repr__(&self) -> String {
        format!(
            "Plan(org={:?}, stack={:?}, changes={}, fingerprint={:?})",
            self.plan.org,
            self.plan.stack,
            self.plan.changes.len(),
            self.plan.fingerprint
        )
    }
}

/// `show`'s formats, by the CLI's spellings.
#[derive(Clone, Copy)]
pub(crate) enum ShowFormat {
    Text,
    Json,
    Csv,
}

impl ShowFormat {
    pub(crate) fn parse(format: &str) -> PyResult<Self> {
        match format {
            "text" => Ok(ShowFormat::Text),
            "json" => Ok(ShowFormat::Json),
            "csv" => Ok(ShowFormat::Csv),
            other => Err(PyValueError::new_err(format!(
                "format: expected \"text\", \"json\" or \"csv\", not {:?}",
                muster::core::sanitize(other)
            ))),
        }
    }
}

/// A plan through the very renderers the CLI's `plan` and `show` use.
pub(crate) fn render(plan: &reconcile::Plan, format: ShowFormat) -> String {
    match format {
        ShowFormat::Text => reconcile::render::text(plan),
        ShowFormat::Json => reconcile::render::json(plan),
        ShowFormat::Csv => reconcile::render::csv(plan),
    }
}

/// `muster show PLAN`: a saved plan as text, JSON (the file as it is, byte
/// for byte) or CSV. An unreadable file is `OSError`, a file that is no
/// plan `PlanError`.
#[pyfunction]
#[pyo3(signature = (path, format="text"))]
pub(crate) fn show(path: std::path::PathBuf, format: &str) -> PyResult<String> {
    let format = ShowFormat::parse(format)?;
    let text = std::fs::read_to_string(&path).map_err(|e| {
        pyo3::exceptions::PyOSError::new_err(format!(
            "cannot read the plan `{}`: {e}",
            muster::core::Sanitized(&path.display().to_string())
        ))
    })?;
    let plan = reconcile::render::from_json(&text).map_err(|e| errors::plan(&e))?;
    Ok(match format {
        ShowFormat::Json => text,
        other => render(&plan, other),
    })
}

/// The gateway side of a plan: the snapshot `Gateway.list_users()` kept,
/// or a plain list of account dicts (then the profile is made up from the
/// accounts: their domains count as registered, `org` defaults to the most
/// common primary domain).
fn gateway_side(
    users: &Bound<'_, PyAny>,
    org: Option<&str>,
    stack: Option<&str>,
) -> PyResult<(GatewayListing, TargetProfile)> {
    if let Ok(snapshot) = users.getattr("snapshot")
        && let Ok(snapshot) = snapshot.cast::<Snapshot>()
    {
        let s = &snapshot.get().snapshot;
        return Ok((s.listing.clone(), s.target.clone()));
    }
    let list = users.cast::<PyList>().map_err(|_| {
        PyTypeError::new_err(format!(
            "users must be what Gateway.list_users() returns or a list of account dicts, not {}",
            type_name(users)
        ))
    })?;
    let mut accounts = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let value = from_py(&item)?;
        let account: Account = serde_json::from_value(value)
            .map_err(|e| PyValueError::new_err(format!("users[{i}] is not an account: {e}")))?;
        accounts.push(account);
    }
    let mut domains: BTreeMap<Domain, usize> = BTreeMap::new();
    for a in &accounts {
        *domains.entry(a.primary_email.domain()).or_default() += 2;
        for alias in &a.aliases {
            domains.entry(alias.domain()).or_default();
        }
    }
    let org = match org {
        Some(o) => o.to_owned(),
        None => domains
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(d, _)| d.as_str().to_owned())
            .ok_or_else(|| PyValueError::new_err("no accounts: pass org="))?,
    };
    let mut target = TargetProfile::new(stack.unwrap_or("offline"), org.clone());
    for d in domains.into_keys() {
        target = target.with_domain(d);
    }
    if let Ok(d) = org.parse::<Domain>() {
        target = target.with_domain(d);
    }
    Ok((GatewayListing::complete(accounts), target))
}

fn load_state(state: Option<&str>, stack: &str, org: &str) -> PyResult<SyncState> {
    match state {
        None => Ok(SyncState::new(stack, org)),
        Some(text) => SyncState::from_json(text, stack, org).map_err(|e| errors::plan(&e)),
    }
}

pub(crate) fn parse_now(now: Option<&str>) -> PyResult<DateTime<Utc>> {
    match now {
        None => Ok(Utc::now()),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| PyValueError::new_err(format!("now={text:?} is not RFC 3339: {e}"))),
    }
}

pub(crate) fn parse_addresses(what: &str, items: Vec<String>) -> PyResult<Vec<EmailAddress>> {
    items
        .into_iter()
        .map(|s| {
            s.parse::<EmailAddress>()
                .map_err(|e| PyValueError::new_err(format!("{what}: {s:?}: {e}")))
        })
        .collect()
}

/// The keyword options of `muster.plan` (the stubs' `PlanOptions`):
/// read from the call's keywords by serde, so a misspelt name is a
/// `TypeError` and a misspelt value a `ValueError` naming the option, with
/// the spellings the config file uses.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Options {
    /// Read apart: snapshots are objects, not plain data.
    #[serde(skip)]
    supplemental: Vec<DirectorySnapshot>,
    managed_domains: Option<Vec<String>>,
    mode: Mode,
    hr_action: Option<HrAction>,
    allow: Option<Vec<String>>,
    exceptions: Option<Vec<String>>,
    welcome_letters: bool,
    #[serde(flatten)]
    common: Common,
    delete_delay: Option<DeleteDelay>,
    sync_disabled_users: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            supplemental: Vec::new(),
            managed_domains: None,
            mode: Mode::Authoritative,
            hr_action: None,
            allow: None,
            exceptions: None,
            welcome_letters: true,
            common: Common::default(),
            delete_delay: None,
            sync_disabled_users: false,
        }
    }
}

/// The options `muster.plan` and `muster.functional_accounts` share (the
/// stubs' `CommonPlanOptions`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Common {
    override_threshold: bool,
    threshold: Option<(usize, u32)>,
    state: Option<String>,
    now: Option<String>,
    org: Option<String>,
    stack: Option<String>,
}

/// The keyword options of `muster.functional_accounts` (the stubs'
/// `FunctionalAccountsOptions`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FunctionalOptions {
    allow: Option<Vec<String>>,
    action: HrAction,
    #[serde(flatten)]
    common: Common,
}

impl Default for FunctionalOptions {
    fn default() -> Self {
        FunctionalOptions {
            allow: None,
            action: HrAction::MakeFunctional,
            common: Common::default(),
        }
    }
}

/// The keywords of a call as `T`: an unknown keyword is the `TypeError`
/// Python raises for one, a value of the wrong spelling or type a
/// `ValueError` naming the keyword.
pub(crate) fn keywords<T: serde::de::DeserializeOwned + Default>(
    function: &str,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<T> {
    let Some(options) = options else {
        return Ok(T::default());
    };
    // None means "not given", as it did when these were named parameters.
    let map = PyDict::new(options.py());
    for (k, v) in options.iter() {
        if !v.is_none() {
            map.set_item(k, v)?;
        }
    }
    let value = from_py(map.as_any())?;
    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let mut path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." {
            // A flattened option's error has lost its key: the first key
            // that fails on its own is the one.
            if let serde_json::Value::Object(options) = &value {
                path = options
                    .iter()
                    .find(|(k, v)| {
                        let one = serde_json::json!({ k.as_str(): v });
                        serde_json::from_value::<T>(one).is_err()
                    })
                    .map_or(path, |(k, _)| k.clone());
            }
        }
        if let Some(rest) = inner.strip_prefix("unknown field `") {
            let name = rest.split('`').next().unwrap_or_default();
            PyTypeError::new_err(format!(
                "{function}() got an unexpected keyword argument '{}'",
                muster::core::sanitize(name)
            ))
        } else {
            PyValueError::new_err(format!("{path}: {}", muster::core::sanitize(&inner)))
        }
    })
}

fn make_plan(
    users: &Bound<'_, PyAny>,
    directory: Option<&DirectoryRecords>,
    hr: Option<&HrRecords>,
    o: Options,
) -> PyResult<Plan> {
    let c = o.common;
    let (listing, target) = gateway_side(users, c.org.as_deref(), c.stack.as_deref())?;
    let (snapshot, mode) = match directory {
        Some(d) => ((*d.snapshot).clone(), o.mode),
        // No directory: only the HR rule acts, nobody is "absent".
        None => (
            DirectorySnapshot::new(NO_DIRECTORY, FieldSet::default()),
            Mode::Supplemental,
        ),
    };
    let mut desired = Desired::new(snapshot);
    for extra in &o.supplemental {
        desired = desired.with_supplemental(extra.clone());
    }
    if let Some(hr) = hr {
        desired = desired.with_hr(hr.snapshot.clone());
    }
    let mut policy = Policy::builder()
        .mode(mode)
        .welcome_letters(o.welcome_letters)
        .override_threshold(c.override_threshold)
        .sync_disabled_users(o.sync_disabled_users);
    let managed = match o.managed_domains {
        Some(list) => list,
        None if directory.is_some() => vec![target.org.clone()],
        // The HR rule needs no managed domain, the planner needs one: the
        // registered ones cannot be a typo.
        None => target
            .registered_domains
            .iter()
            .map(|d| d.as_str().to_owned())
            .collect(),
    };
    for d in managed {
        let domain: Domain = d
            .parse()
            .map_err(|e| PyValueError::new_err(format!("managed_domains: {d:?}: {e}")))?;
        policy = policy.managed_domain(domain);
    }
    for e in parse_addresses("exceptions", o.exceptions.unwrap_or_default())? {
        policy = policy.exception(e);
    }
    if let Some((count, percent)) = c.threshold {
        policy = policy.threshold(count, percent);
    }
    if let Some(d) = o.delete_delay {
        policy = policy.delete_delay(d);
    }
    let action = match (o.hr_action, hr) {
        (Some(a), _) => Some(a),
        (None, Some(_)) => Some(HrAction::MakeFunctional),
        (None, None) => None,
    };
    if let Some(action) = action {
        let allow = parse_addresses("allow", o.allow.unwrap_or_default())?;
        policy = policy.hr_rule(HrRule::new(action).allow(allow));
    }
    let policy = policy.build();
    let state = load_state(c.state.as_deref(), &target.stack, &target.org)?;
    let now = parse_now(c.now.as_deref())?;
    let plan = reconcile::plan(&desired, &listing, &target, &state, &policy, now)
        .map_err(|e| errors::plan(&e))?;
    Ok(Plan { plan, state })
}

/// Plans a sync of `users` (from `Gateway.list_users()`) towards a
/// directory snapshot (`StandardCsv(path).read()`) and/or HR records.
/// The keyword options are `PlanOptions` in the stubs.
#[pyfunction]
#[pyo3(signature = (users, directory=None, hr=None, **options))]
pub(crate) fn plan(
    users: &Bound<'_, PyAny>,
    directory: Option<PyRef<'_, DirectoryRecords>>,
    hr: Option<PyRef<'_, HrRecords>>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Plan> {
    // Snapshots are objects, not plain data: taken out before serde reads the rest.
    let mut supplemental = Vec::new();
    let rest = match options {
        Some(options) => {
            let rest = options.copy()?;
            if let Some(items) = rest.get_item("supplemental")? {
                rest.del_item("supplemental")?;
                if !items.is_none() {
                    for (i, item) in items.try_iter()?.enumerate() {
                        let item = item?;
                        let snapshot = item.cast::<DirectoryRecords>().map_err(|_| {
                            PyTypeError::new_err(format!(
                                "supplemental[{i}] must be a DirectorySnapshot, not {}",
                                type_name(&item)
                            ))
                        })?;
                        supplemental.push((*snapshot.get().snapshot).clone());
                    }
                }
            }
            Some(rest)
        }
        None => None,
    };
    let mut o: Options = keywords("plan", rest.as_ref())?;
    o.supplemental = supplemental;
    make_plan(users, directory.as_deref(), hr.as_deref(), o)
}

/// Seed 002 in one call: end users absent from HR or terminated there
/// become functional accounts (`action="functional_account"`; `"flag"`:
/// flagged instead), except the `allow`ed addresses. Nothing else changes.
/// The keyword options are `FunctionalAccountsOptions` in the stubs.
#[pyfunction]
#[pyo3(signature = (users, hr, **options))]
pub(crate) fn functional_accounts(
    users: &Bound<'_, PyAny>,
    hr: PyRef<'_, HrRecords>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Plan> {
    let f: FunctionalOptions = keywords("functional_accounts", options)?;
    make_plan(
        users,
        None,
        Some(&hr),
        Options {
            mode: Mode::Supplemental,
            hr_action: Some(f.action),
            allow: f.allow,
            welcome_letters: false,
            common: f.common,
            ..Options::default()
        },
    )
}

/// What an approval applies, as the stubs' `Approved`.
pub(crate) fn approved_to_py<'py>(
    py: Python<'py>,
    approved: &reconcile::Approval,
) -> PyResult<Bound<'py, PyAny>> {
    let brought: Vec<serde_json::Value> = approved
        .brought_along
        .iter()
        .map(|(id, others)| serde_json::json!({"change": id, "with": others}))
        .collect();
    crate::convert::to_py(
        py,
        &serde_json::json!({
            "included": approved.included,
            "excluded": approved.excluded,
            "brought_along": brought,
        }),
    )
}

/// A `Plan`, or the path of a saved one (read as `muster show` reads it).
pub(crate) fn plan_or_path(plan: &Bound<'_, PyAny>) -> PyResult<reconcile::Plan> {
    if let Ok(plan) = plan.cast::<Plan>() {
        return Ok(plan.get().inner().clone());
    }
    let path: std::path::PathBuf = plan.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "plan must be a Plan or the path of a saved plan, not {}",
            type_name(plan)
        ))
    })?;
    let text = std::fs::read_to_string(&path).map_err(|e| {
        pyo3::exceptions::PyOSError::new_err(format!(
            "cannot read the plan `{}`: {e}",
            muster::core::Sanitized(&path.display().to_string())
        ))
    })?;
    reconcile::render::from_json(&text).map_err(|e| errors::plan(&e))
}

#[cfg(test)]
mod tests {
    use super::parse_now;
    use crate::convert::keyword;
    use muster::reconcile::{DeleteDelay, HrAction, Mode};

    #[test]
    fn option_spellings_parse() {
        assert_eq!(
            keyword::<HrAction>("hr_action", "flag").unwrap(),
            HrAction::Flag
        );
        assert_eq!(
            keyword::<HrAction>("hr_action", "functional_account").unwrap(),
            HrAction::MakeFunctional
        );
        assert_eq!(
            keyword::<DeleteDelay>("delete_delay", "14d").unwrap(),
            DeleteDelay::Days14
        );
        assert_eq!(
            keyword::<Mode>("mode", "supplemental").unwrap(),
            Mode::Supplemental
        );
        assert_eq!(
            parse_now(Some("2026-11-02T09:00:00Z"))
                .unwrap()
                .to_rfc3339(),
            "2026-11-02T09:00:00+00:00"
        );
    }
}
