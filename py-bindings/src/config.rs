//! `muster.Config`: one organisation's `muster.toml`, planned and applied
//! as `muster plan --config` and `muster apply --config` do.
//!
//! Every setting, default and error comes from `muster::config` (the file,
//! its checks, the client, the policy, the sources); this module only runs
//! the steps in the CLI's order: the lease, the state file, the learned
//! request rate, the sources' issues as warnings, the Graph cursors, the
//! plan key, the journal folder.

use std::path::{Path, PathBuf};

use muster::config::{Config as RustConfig, ConfigError, GraphRound, ReadError};
use muster::core::{Sanitized, sanitize};
use muster::directory::DeltaRound;
use muster::gateway::{Client, LearnedRate};
use muster::reconcile::{self, ConflictRequest, Desired, SyncState};
use muster::{Executor, Lease};
use pyo3::prelude::*;

use crate::approval;
use crate::errors;
use crate::planning::{Plan, parse_now};
use crate::report::Report;
use crate::runtime;

/// An organisation's sync as its config file describes it: the gateway and
/// login, the sources, the HR records, the policy and muster's files.
/// `Config.load(path)` reads and checks it; `plan()` and `apply()` run it.
#[pyclass(module = "muster._muster", frozen, name = "Config")]
pub(crate) struct Config {
    config: RustConfig,
    path: PathBuf,
}

/// Writes one warning to the `logging` logger `muster.config`: what the
/// CLI writes to standard error, already sanitised.
fn warn(py: Python<'_>, message: &str) -> PyResult<()> {
    py.import("logging")?
        .call_method1("getLogger", ("muster.config",))?
        .call_method1("warning", (message,))?;
    Ok(())
}

fn config_error(e: &ConfigError) -> PyErr {
    errors::ConfigError::new_err(errors::chain(e))
}

fn read_error(e: &ReadError) -> PyErr {
    match e {
        ReadError::Config(c) => config_error(c),
        other => errors::source_with(errors::chain(other), other.is_retryable()),
    }
}

fn lease_error(e: &muster::LeaseError) -> PyErr {
    errors::LeaseError::new_err(errors::chain(e))
}

fn file_error(action: &str, path: &Path, e: &std::io::Error) -> PyErr {
    pyo3::exceptions::PyOSError::new_err(format!(
        "{action} `{}`: {e}",
        Sanitized(&path.display().to_string())
    ))
}

/// muster's state for this stack and organisation: the file's, or a first
/// run's when there is no file yet (the CLI's rule).
fn load_state(path: Option<&Path>, stack: &str, org: &str) -> PyResult<SyncState> {
    let Some(path) = path else {
        return Ok(SyncState::new(stack, org));
    };
    match std::fs::read_to_string(path) {
        Ok(text) => SyncState::from_json(&text, stack, org).map_err(|e| errors::plan(&e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SyncState::new(stack, org)),
        Err(e) => Err(file_error("cannot read the state file", path, &e)),
    }
}

/// The request rate learned for this login and stack, kept beside the
/// state; losing it only costs a few 429s, so trouble is a warning.
struct LearnedPace(Option<PathBuf>);

impl LearnedPace {
    fn load(py: Python<'_>, config: &RustConfig, client: &Client) -> PyResult<LearnedPace> {
        let path = config.learned_rate_path(client);
        if let Some(path) = &path {
            match LearnedRate::load(path) {
                Ok(Some(rate)) => client
                    .limiter()
                    .load_learned_rate(rate, std::time::SystemTime::now()),
                Ok(None) => {}
                Err(e) => warn(py, &sanitize(&errors::chain(&e)))?,
            }
        }
        Ok(LearnedPace(path))
    }

    fn save(&self, py: Python<'_>, client: &Client) -> PyResult<()> {
        if let (Some(path), Some(rate)) = (&self.0, client.learned_rate())
            && let Err(e) = rate.save(path)
        {
            warn(py, &sanitize(&errors::chain(&e)))?;
        }
        Ok(())
    }
}

/// Each record a source could not read, and each source that returned
/// nothing, as a warning (the plan lists them among its skipped records).
fn warn_about_sources(py: Python<'_>, desired: &Desired) -> PyResult<()> {
    let snapshots = std::iter::once(&desired.authoritative).chain(&desired.supplemental);
    for snapshot in snapshots.clone() {
        for issue in &snapshot.issues {
            warn(py, &sanitize(&issue.to_string()))?;
        }
    }
    for issue in desired.hr.iter().flat_map(|h| &h.issues) {
        warn(py, &sanitize(&issue.to_string()))?;
    }
    for snapshot in snapshots {
        if snapshot.entries.is_empty() {
            warn(
                py,
                &format!(
                    "source `{}` returned no entries: nothing is flagged or removed for it; check its base, filter or file",
                    Sanitized(&snapshot.source)
                ),
            )?;
        }
    }
    Ok(())
}

/// Saves an incremental Entra ID read's cursor as soon as the directory
/// side is read (it caches Entra ID, not what was planned: see the CLI's
/// `keep_graph_cursor`), and logs the kind of round.
fn keep_graph_cursor(py: Python<'_>, graph: &GraphRound) -> PyResult<()> {
    let text = graph.cursor.to_json().map_err(|e| errors::source(&e))?;
    muster::write_private(&graph.path, text.as_bytes())
        .map_err(|e| file_error("cannot save the Graph cursor to", &graph.path, &e))?;
    if let DeltaRound::Resynced { .. } = graph.round {
        warn(
            py,
            &format!(
                "graph: Entra ID no longer knew the cursor in `{}`: forced a full resync and saved a new cursor",
                Sanitized(&graph.path.display().to_string())
            ),
        )?;
    }
    Ok(())
}

impl Config {
    /// A fresh plan, or the plan of an action on conflicts: the one
    /// pipeline `plan`, `delete_now` and `deactivate` share (as the CLI's
    /// do), so every guard of one applies to the others.
    fn fresh_plan(
        &self,
        py: Python<'_>,
        state: Option<PathBuf>,
        override_threshold: bool,
        now: Option<&str>,
        request: Option<&ConflictRequest>,
    ) -> PyResult<Plan> {
        let now = parse_now(now)?;
        let mut config = self.config.clone();
        if let Some(state) = state {
            config.files.state = Some(state);
        }
        let client = config.client().map_err(|e| config_error(&e))?;
        let learned = LearnedPace::load(py, &config, &client)?;
        let mut policy = config.policy().map_err(|e| config_error(&e))?;
        if override_threshold {
            policy = policy.into_builder().override_threshold(true).build();
        }
        let stack = config.stack().map_err(|e| config_error(&e))?;
        let org = config.org().map_err(|e| config_error(&e))?;
        let state_path = config.files.state.clone();
        let _lease = state_path
            .as_deref()
            .map(Lease::take)
            .transpose()
            .map_err(|e| lease_error(&e))?;
        let state = load_state(state_path.as_deref(), stack, org)?;
        let directory =
            runtime::block_on(py, config.read_directory(now))?.map_err(|e| read_error(&e))?;
        warn_about_sources(py, &directory.desired)?;
        for graph in &directory.graph_rounds {
            keep_graph_cursor(py, graph)?;
        }
        let gateway = runtime::block_on(py, muster::read_gateway(&client, stack))?
            .map_err(|e| errors::gateway(&e))?;
        let (desired, listing, target) = (&directory.desired, &gateway.listing, &gateway.target);
        let mut plan = match request {
            None => reconcile::plan(desired, listing, target, &state, &policy, now),
            Some(request) => reconcile::plan_conflict_action(
                desired, listing, target, &state, &policy, now, request,
            ),
        }
        .map_err(|e| errors::plan(&e))?;
        if let Some(key) = config.plan_key().map_err(|e| config_error(&e))? {
            plan.sign(&key);
        }
        learned.save(py, &client)?;
        Ok(Plan::new(plan, state))
    }

    /// The plan whose conflicts `conflicts` and `export_conflicts` show.
    fn conflicts_plan(
        &self,
        py: Python<'_>,
        plan: Option<Bound<'_, PyAny>>,
        state: Option<PathBuf>,
        now: Option<&str>,
    ) -> PyResult<reconcile::Plan> {
        match plan.filter(|p| !p.is_none()) {
            Some(plan) => crate::planning::plan_or_path(&plan),
            None => Ok(self
                .fresh_plan(py, state, false, now, None)?
                .inner()
                .clone()),
        }
    }

    /// The config's plan key, when it has one.
    pub(crate) fn plan_key(&self) -> PyResult<Option<reconcile::PlanKey>> {
        self.config.plan_key().map_err(|e| config_error(&e))
    }

    /// Changes muster's state only (exempt, ignore, …), as the CLI's
    /// `edit_state`: under the organisation's lease, saved atomically.
    fn edit_state<T>(
        &self,
        state: Option<PathBuf>,
        edit: impl FnOnce(&mut SyncState) -> T,
    ) -> PyResult<T> {
        let path = state.or_else(|| self.config.files.state.clone()).ok_or_else(|| {
            errors::ConfigError::new_err(
                "state= is required (or `files.state` in the config): this changes muster's state",
            )
        })?;
        let stack = self.config.stack().map_err(|e| config_error(&e))?;
        let org = self.config.org().map_err(|e| config_error(&e))?;
        let _lease = Lease::take(&path).map_err(|e| lease_error(&e))?;
        let mut state = load_state(Some(&path), stack, org)?;
        let out = edit(&mut state);
        muster::write_private(&path, state.to_json().as_bytes())
            .map_err(|e| file_error("cannot save the state to", &path, &e))?;
        Ok(out)
    }
}

#[pymethods]
impl Config {
    /// Reads and checks the config file at `path` (relative paths in it
    /// are the file's folder's). A wrong key or value raises `ConfigError`
    /// naming the file, the line and the key, as `muster config check`
    /// says it.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let config = RustConfig::from_file(&path).map_err(|e| config_error(&e))?;
        config.check().map_err(|e| config_error(&e))?;
        Ok(Config { config, path })
    }

    /// The organisation's primary domain, when the file sets it.
    #[getter]
    fn org(&self) -> Option<&str> {
        self.config.gateway.org.as_deref()
    }

    /// The stack (or the gateway's base URL), when the file sets it.
    #[getter]
    fn stack(&self) -> Option<&str> {
        self.config.gateway.stack.as_deref()
    }

    /// muster's state file (`[files] state`, resolved against the config's
    /// folder), when the config names one: where `plan` reads ownership and
    /// `apply` writes it.
    #[getter]
    fn state_file(&self) -> Option<PathBuf> {
        self.config.files.state.clone()
    }

    /// The folder of apply journals (`[files] journals`, resolved), when the
    /// config names one: `apply` journals each plan there, by fingerprint.
    #[getter]
    fn journals(&self) -> Option<PathBuf> {
        self.config.files.journals.clone()
    }

    /// The names of the sources, the authoritative one first.
    #[getter]
    fn sources(&self) -> Vec<String> {
        let (mut first, mut rest) = (Vec::new(), Vec::new());
        for s in &self.config.sources {
            if s.role == reconcile::Mode::Authoritative {
                first.push(s.name.clone());
            } else {
                rest.push(s.name.clone());
            }
        }
        first.extend(rest);
        first
    }

    /// The config with every default filled in, as TOML: what `muster
    /// config check` prints.
    fn to_toml(&self) -> PyResult<String> {
        let full = self.config.with_defaults().map_err(|e| config_error(&e))?;
        full.to_toml().map_err(|e| config_error(&e))
    }

    /// Reads every source and the gateway and plans, as `muster plan
    /// --config` does: under the organisation's lease (`LeaseError` when
    /// another run holds it), from the state in `files.state` (or
    /// `state=`), signed with the plan key when there is one. Records the
    /// sources could not read are logged as warnings on `muster.config`
    /// and listed in the plan. Writes nothing to the gateway.
    #[pyo3(signature = (*, state=None, override_threshold=false, now=None))]
    fn plan(
        &self,
        py: Python<'_>,
        state: Option<PathBuf>,
        override_threshold: bool,
        now: Option<&str>,
    ) -> PyResult<Plan> {
        self.fresh_plan(py, state, override_threshold, now, None)
    }

    /// The User Conflicts list, as `muster conflicts list` makes it: from
    /// a fresh plan (the state alone does not know the accounts muster
    /// does not own), or from `plan=` (a `Plan`, or a saved plan's path).
    #[pyo3(signature = (*, plan=None, state=None, now=None))]
    fn conflicts<'py>(
        &self,
        py: Python<'py>,
        plan: Option<Bound<'py, PyAny>>,
        state: Option<PathBuf>,
        now: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let plan = self.conflicts_plan(py, plan, state, now)?;
        crate::convert::serialize_to_py(py, &plan.conflicts)
    }

    /// `muster conflicts export FILE`: the conflicts list (of a fresh plan,
    /// or of `plan=`) written to `path` as CSV, owner-only and atomically.
    /// Returns how many conflicts it holds.
    #[pyo3(signature = (path, *, plan=None, state=None, now=None))]
    fn export_conflicts<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        plan: Option<Bound<'py, PyAny>>,
        state: Option<PathBuf>,
        now: Option<&str>,
    ) -> PyResult<usize> {
        let plan = self.conflicts_plan(py, plan, state, now)?;
        muster::write_private(&path, reconcile::render::conflicts_csv(&plan).as_bytes())
            .map_err(|e| file_error("cannot write the conflicts to", &path, &e))?;
        Ok(plan.conflicts.len())
    }

    /// `muster conflicts delete-now`: plans afresh, exactly as `plan()`
    /// (every guard applies), with these conflicts deleted now instead of
    /// after their delay. Refused (`PlanError`) for an address the fresh
    /// plan does not list as a conflict (someone back in the directory),
    /// a protected account, or an account muster does not own unless
    /// `include_unowned=True`. Returns the plan, for `show` and `apply`.
    #[pyo3(signature = (addresses, *, include_unowned=false, state=None, override_threshold=false, now=None))]
    fn delete_now(
        &self,
        py: Python<'_>,
        addresses: Vec<String>,
        include_unowned: bool,
        state: Option<PathBuf>,
        override_threshold: bool,
        now: Option<&str>,
    ) -> PyResult<Plan> {
        let addresses = crate::planning::parse_addresses("addresses", addresses)?;
        let request = ConflictRequest::delete_now(addresses).include_unowned(include_unowned);
        self.fresh_plan(py, state, override_threshold, now, Some(&request))
    }

    /// `muster conflicts deactivate`: as `delete_now`, but the accounts are
    /// deactivated (mail to them stops; the account and its settings stay).
    #[pyo3(signature = (addresses, *, include_unowned=false, state=None, override_threshold=false, now=None))]
    fn deactivate(
        &self,
        py: Python<'_>,
        addresses: Vec<String>,
        include_unowned: bool,
        state: Option<PathBuf>,
        override_threshold: bool,
        now: Option<&str>,
    ) -> PyResult<Plan> {
        let addresses = crate::planning::parse_addresses("addresses", addresses)?;
        let request = ConflictRequest::deactivate(addresses).include_unowned(include_unowned);
        self.fresh_plan(py, state, override_threshold, now, Some(&request))
    }

    /// `muster conflicts ignore`: these accounts are kept although absent
    /// from the directory, until `unignore`. Changes the state file only.
    #[pyo3(signature = (addresses, *, state=None))]
    fn ignore(&self, addresses: Vec<String>, state: Option<PathBuf>) -> PyResult<()> {
        let addresses = crate::planning::parse_addresses("addresses", addresses)?;
        self.edit_state(state, |s| {
            for a in addresses {
                s.ignore(a);
            }
        })
    }

    /// `muster conflicts unignore`: these accounts follow the deletion
    /// lifecycle again. Returns the addresses that were ignored (the
    /// others were not, and nothing changed for them).
    #[pyo3(signature = (addresses, *, state=None))]
    fn unignore(&self, addresses: Vec<String>, state: Option<PathBuf>) -> PyResult<Vec<String>> {
        let addresses = crate::planning::parse_addresses("addresses", addresses)?;
        self.edit_state(state, |s| {
            addresses
                .into_iter()
                .filter(|a| s.unignore(a))
                .map(|a| a.as_str().to_owned())
                .collect()
        })
    }

    /// `muster exempt ADDRESS [--reason TEXT]`: recorded in muster's state
    /// (never in this config file) from `now`; every later plan lists the
    /// account as skipped, with the reason and the day, until `unexempt`.
    #[pyo3(signature = (address, *, reason=None, state=None, now=None))]
    fn exempt(
        &self,
        address: String,
        reason: Option<String>,
        state: Option<PathBuf>,
        now: Option<&str>,
    ) -> PyResult<()> {
        let now = parse_now(now)?;
        let mut parsed = crate::planning::parse_addresses("address", vec![address])?;
        let address = parsed.remove(0);
        self.edit_state(state, |s| s.exempt(address, now, reason))
    }

    /// `muster unexempt ADDRESS`: the next plan syncs the account again.
    /// False when it was not exempt (nothing changed).
    #[pyo3(signature = (address, *, state=None))]
    fn unexempt(&self, address: String, state: Option<PathBuf>) -> PyResult<bool> {
        let mut parsed = crate::planning::parse_addresses("address", vec![address])?;
        let address = parsed.remove(0);
        self.edit_state(state, |s| s.unexempt(&address))
    }

    /// `muster restore --journal J [ADDRESS…]`: a plan that puts back, from
    /// the before-images next to `journal`, the accounts that apply deleted
    /// or stripped (a create with the saved object and no welcome letter,
    /// or an update), for `show` and `apply` like any plan; nothing is
    /// applied here. `addresses` restores only those (`ValueError` for one
    /// without a before-image); `PlanError` when there are none at all.
    #[pyo3(signature = (journal, addresses=None, *, state=None, now=None))]
    fn restore(
        &self,
        py: Python<'_>,
        journal: PathBuf,
        addresses: Option<Vec<String>>,
        state: Option<PathBuf>,
        now: Option<&str>,
    ) -> PyResult<Plan> {
        let now = parse_now(now)?;
        let addresses =
            crate::planning::parse_addresses("addresses", addresses.unwrap_or_default())?;
        let config = self.config.clone();
        let client = config.client().map_err(|e| config_error(&e))?;
        let stack = config.stack().map_err(|e| config_error(&e))?.to_owned();
        let org = config.org().map_err(|e| config_error(&e))?.to_owned();
        let state_path = state.or_else(|| config.files.state.clone());
        let _lease = state_path
            .as_deref()
            .map(Lease::take)
            .transpose()
            .map_err(|e| lease_error(&e))?;
        let state = load_state(state_path.as_deref(), &stack, &org)?;
        let shown = || Sanitized(&journal.display().to_string()).to_string();
        let mut images = muster::read_before_images(&journal).map_err(|e| errors::apply(&e))?;
        if !addresses.is_empty() {
            if let Some(missing) = addresses
                .iter()
                .find(|a| !images.iter().any(|i| i.account.primary_email == **a))
            {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "addresses: no before-image of {} next to `{}`",
                    Sanitized(missing.as_str()),
                    shown()
                )));
            }
            images.retain(|i| addresses.contains(&i.account.primary_email));
        }
        if images.is_empty() {
            return Err(errors::PlanError::new_err(format!(
                "no before-images next to `{}`: that apply changed no account destructively",
                shown()
            )));
        }
        let saved: Vec<_> = images
            .iter()
            .map(|i| (i.account.clone(), i.unowned_fields()))
            .collect();
        let gateway = runtime::block_on(py, muster::read_gateway(&client, &stack))?
            .map_err(|e| errors::gateway(&e))?;
        let policy = config.policy().map_err(|e| config_error(&e))?;
        let mut plan = reconcile::plan_restore(
            &saved,
            &gateway.listing,
            &gateway.target,
            &state,
            &policy,
            now,
        )
        .map_err(|e| errors::plan(&e))?;
        if let Some(key) = config.plan_key().map_err(|e| config_error(&e))? {
            plan.sign(&key);
        }
        Ok(Plan::new(plan, state))
    }

    /// Applies `plan` (or the part of it approved with `exclude=`,
    /// `only=` or an `approval=` file), as `muster apply --config` does:
    /// the login verified first, the plan key checked (a signed plan needs
    /// it; with a key, an approval file counts only when signed), under the
    /// organisation's lease, journalled in `journal=` or `files.journals`,
    /// and the new state saved to `files.state` (or `state=`, required
    /// unless `dry_run=True`).
    /// `progress=` and Ctrl-C as in `Gateway.apply`; after an interrupt
    /// the state of what succeeded is saved before the exception is raised.
    /// The keyword options are `ConfigApplyOptions` in the stubs.
    #[pyo3(signature = (plan, **options))]
    fn apply(
        &self,
        py: Python<'_>,
        plan: &Plan,
        options: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<Report> {
        let crate::apply::ConfigOptions {
            mut common,
            state,
            override_threshold,
        } = crate::apply::options("apply", options, |o: &mut crate::apply::ConfigOptions| {
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
        let mut config = self.config.clone();
        let state_path = state.or_else(|| config.files.state.clone());
        if state_path.is_none() && !dry_run {
            return Err(errors::ConfigError::new_err(
                "state= is required to apply (or `files.state` in the config): the new state records what muster owns",
            ));
        }
        let inner = plan.inner();
        // What the reviewer approved is checked before anything is sent.
        let key = config.plan_key().map_err(|e| config_error(&e))?;
        let approved = approval::approve(py, inner, picks, key.as_ref())?;
        config.files.state.clone_from(&state_path);
        let client = config.client().map_err(|e| config_error(&e))?;
        let learned = LearnedPace::load(py, &config, &client)?;
        let stack = config.stack().map_err(|e| config_error(&e))?;
        let state = load_state(state_path.as_deref(), &inner.stack, &inner.org)?;
        // A wrong password stops here, before anything is read or written.
        runtime::block_on(py, client.verify())?.map_err(|e| errors::gateway(&e))?;
        let mut executor = Executor::new()
            .dry_run(dry_run)
            .stack(stack)
            .override_threshold(override_threshold);
        if let Some(key) = key {
            executor = executor.plan_key(key);
        }
        if let Some(approved) = &approved {
            executor = executor.approved(approved);
        }
        let _lease = state_path
            .as_deref()
            .map(Lease::take)
            .transpose()
            .map_err(|e| lease_error(&e))?;
        let journal = config
            .journal_for(&inner.fingerprint, journal)
            .map_err(|e| file_error("cannot create the journal folder", &e.folder, &e.source))?;
        if let Some(journal) = &journal {
            executor = executor.journal(journal);
        }
        if let Some(max) = max_changes {
            executor = executor.max_changes(max);
        }
        let run = crate::apply::run(py, executor, inner, &client, &state, progress)?;
        // What succeeded is saved before an interrupt is raised.
        if let (Ok(report), Some(path)) = (&run.result, &state_path)
            && !report.dry_run
        {
            muster::write_private(path, report.state.to_json().as_bytes())
                .map_err(|e| file_error("cannot save the state to", path, &e))?;
        }
        learned.save(py, &client)?;
        let report = run
            .raise_after(py, journal.as_deref())?
            .map_err(|e| errors::apply(&e))?;
        Ok(Report::new(report))
    }

    fn __repr__(&self) -> String {
        format!(
            "Config({:?}, org={:?}, sources={})",
            sanitize(&self.path.display().to_string()),
            self.config.gateway.org.as_deref().map(sanitize),
            self.config.sources.len()
        )
    }
}
