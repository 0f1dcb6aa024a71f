//! The executor: the IO step right of the pure planner. It applies a
//! [`Plan`] to the gateway and says, change by change, what happened.
//!
//! - **Refusals first** ([`ApplyError`]): a plan of another schema, for
//!   another organisation or stack than the client's, with a state of
//!   another organisation, over its destructive threshold without the
//!   override, or carrying a step its own safety guards forbid, is refused
//!   before anything is sent.
//! - **Order**: changes run phase by phase (releases, creates, renames,
//!   updates, deactivations, deletes last) and after the changes they depend
//!   on; a change whose dependency did not succeed is skipped, never applied.
//! - **Concurrency**: a few changes at a time ([`Executor::concurrency`],
//!   default 4), never two on one account; the client paces the requests.
//! - **Preconditions**: each change's expected before-values are re-checked
//!   by the client's own mechanism ([`UserPatch::expect`](crate::gateway::UserPatch::expect));
//!   an account that changed since planning is [`Outcome::Stale`] and is not written.
//! - **Journal and resume** ([`Executor::journal`]): every outcome is
//!   appended to a JSON-lines file as it happens; applying the same plan
//!   with the same journal skips what is done and settles, by reading back,
//!   what a crash left in doubt — a create or delete is never sent twice.
//! - **Dry run** ([`Executor::dry_run`]): reads the gateway once, checks
//!   every precondition, and reports the requests it would send; no POST,
//!   PUT or DELETE.
//! - **Report** ([`ApplyReport`]): outcomes, counts, and the new
//!   [`SyncState`] with the transitions of the changes that succeeded.

mod checks;
mod error;
mod journal;
mod report;
mod steps;
mod stop;
#[cfg(test)]
mod testing;
mod undo;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use muster_core::Account;
use muster_gateway::{
    Breaker, Client, DEFAULT_BREAKER_THRESHOLD, Error as GatewayError, WelcomeEmail,
};
use muster_reconcile::{AccountChange, Approval, Plan, PlanKey, Step, SyncState, Transition};

pub use error::ApplyError;
pub use report::{ApplyReport, ChangeReport, Counts, Halt, Outcome, Progress};
pub use stop::Stop;
pub use undo::{BeforeImage, before_images_folder, read_before_images};

use journal::Journal;
use steps::{Ctx, Done, Work};

/// What to do about a change that failed (not one that was stale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorAction {
    /// Record the failure and go on with the changes that do not depend on it.
    Continue,
    /// Stop sending: changes not yet started are skipped. The report still
    /// holds everything that did succeed.
    Abort,
}

/// The error policy: given the change and the gateway's error, go on or stop.
type ErrorPolicy = dyn Fn(&AccountChange, &GatewayError) -> ErrorAction + Send + Sync;
/// The progress callback.
type ProgressFn = dyn Fn(Progress<'_>) + Send + Sync;

/// The default error policy: stop when the login is refused (every later
/// write would be refused too), go on otherwise.
fn default_policy(_: &AccountChange, error: &GatewayError) -> ErrorAction {
    match error {
        GatewayError::Auth { .. } | GatewayError::Forbidden { .. } | GatewayError::Config(_) => {
            ErrorAction::Abort
        }
        _ => ErrorAction::Continue,
    }
}

/// Applies plans to a gateway. Configure with the setters, then call
/// [`apply`](Self::apply) as often as needed.
///
/// What it guarantees: a plan that must not be applied is refused before any
/// request ([`ApplyError`]); changes run phase by phase and after the
/// changes they depend on, a few at a time and never two on one account;
/// each change's expected before-values are re-checked first (a mismatch is
/// [`Outcome::Stale`], nothing written); with a [`journal`](Self::journal)
/// a crashed run can be resumed without a create or delete being sent
/// twice; the report's [`state`](ApplyReport::state) holds the transitions
/// of exactly the changes that succeeded.
///
/// ```
/// use muster::chrono::{TimeZone, Utc};
/// use muster::core::{DirectoryEntry, DirectorySnapshot, Field, FieldSet};
/// use muster::gateway::Client;
/// use muster::reconcile::{self, Desired, Policy, SyncState};
/// use muster::{Executor, Outcome};
/// # use muster_emulator::{Emulator, Login, Org};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emu = Emulator::builder()
/// #     .org(Org::new("example.com"))
/// #     .login(Login::org_admin("admin@example.com", "pw", "example.com"))
/// #     .start().await?;
/// let client = Client::builder()
///     .essentials(emu.base_url(), "example.com")
///     .credentials("admin@example.com", "pw".into())
///     .build()?;
/// let hr = DirectorySnapshot::new("hr", FieldSet::from_iter([Field::FirstName, Field::LastName]))
///     .with_entries(vec![DirectoryEntry::new("ann@example.com".parse()?).with_names("Ann", "Lee")]);
/// let desired = Desired::new(hr);
/// let policy = Policy::builder().managed_domain("example.com".parse()?).build();
/// let state = SyncState::new("local", "example.com");
/// let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
/// let gateway = muster::read_gateway(&client, "local").await?;
/// let plan = reconcile::plan(&desired, &gateway.listing, &gateway.target, &state, &policy, now)?;
///
/// let report = Executor::new().apply(&plan, &client, &state).await?;
/// assert_eq!(report.changes[0].outcome, Outcome::Applied); // Ann was created
///
/// // The next plan starts from the new state, and finds nothing left to do.
/// let gateway = muster::read_gateway(&client, "local").await?;
/// let again = reconcile::plan(&desired, &gateway.listing, &gateway.target, &report.state,
///                             &policy, now + muster::chrono::Duration::hours(1))?;
/// assert!(again.is_empty());
/// # Ok(())
/// # }
/// ```
///
/// With a journal, a run that stopped part-way is resumed by applying the
/// same plan again:
///
/// ```no_run
/// # async fn demo(plan: muster::reconcile::Plan, client: muster::gateway::Client,
/// #               state: muster::reconcile::SyncState) -> Result<(), muster::ApplyError> {
/// use muster::Executor;
/// let executor = Executor::new().journal("apply-journal.jsonl");
/// let report = executor.apply(&plan, &client, &state).await?;
/// println!("{} applied ({} by an earlier run), {} stale, {} failed",
///          report.counts.applied, report.counts.already_applied,
///          report.counts.stale, report.counts.failed);
/// muster::write_private("state.json", report.state.to_json().as_bytes()).expect("state saved");
/// # Ok(())
/// # }
/// ```
///
/// A plan over its destructive threshold is refused before anything is sent:
///
/// ```no_run
/// # async fn demo(plan: muster::reconcile::Plan, client: muster::gateway::Client,
/// #               state: muster::reconcile::SyncState) {
/// use muster::{ApplyError, Executor};
/// match Executor::new().apply(&plan, &client, &state).await {
///     Err(ApplyError::ThresholdExceeded { destructive, allowed }) => {
///         eprintln!("{destructive} destructive steps, {allowed} allowed: re-plan with the override");
///     }
///     other => { let _ = other; }
/// }
/// # }
/// ```
#[derive(Clone)]
#[must_use]
#[non_exhaustive]
pub struct Executor {
    concurrency: usize,
    dry_run: bool,
    journal: Option<PathBuf>,
    max_changes: Option<usize>,
    stack: Option<String>,
    plan_key: Option<PlanKey>,
    override_threshold: bool,
    approved: Option<BTreeSet<u32>>,
    breaker: u32,
    on_error: Arc<ErrorPolicy>,
    on_progress: Option<Arc<ProgressFn>>,
    stop: Option<Stop>,
}

impl Default for Executor {
    fn default() -> Self {
        Executor::new()
    }
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("concurrency", &self.concurrency)
            .field("dry_run", &self.dry_run)
            .field("journal", &self.journal)
            .field("max_changes", &self.max_changes)
            .field("stack", &self.stack)
            .field("plan_key", &self.plan_key)
            .field("approved", &self.approved)
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// Four changes at a time, no journal, the default error policy.
    pub fn new() -> Self {
        Executor {
            concurrency: 4,
            dry_run: false,
            journal: None,
            max_changes: None,
            stack: None,
            plan_key: None,
            override_threshold: false,
            approved: None,
            breaker: DEFAULT_BREAKER_THRESHOLD,
            on_error: Arc::new(default_policy),
            on_progress: None,
            stop: None,
        }
    }

    /// How many changes run at once (at least 1; default 4). Two changes of
    /// one account never run at once whatever this says, and the client's
    /// rate limiter paces the requests either way.
    pub fn concurrency(mut self, changes: usize) -> Self {
        self.concurrency = changes.max(1);
        self
    }

    /// Checks everything and reports what would be sent, writing nothing to
    /// the gateway and nothing to the journal (which is still read, so a
    /// dry run of a half-applied plan shows what is left).
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Journals every outcome to this JSON-lines file, created if missing.
    /// An existing journal of the same plan resumes it: changes it records
    /// as applied are not sent again, and a change that began but has no
    /// outcome (the process died in between) is settled by reading the
    /// account back before anything is sent. A journal of another plan is
    /// refused ([`ApplyError::JournalForAnotherPlan`]): delete it, or give
    /// each plan its own. One run per journal at a time.
    ///
    /// ```text
    /// {"event":"plan","version":1,"fingerprint":"…","stack":"us1","org":"example.com","changes":3}
    /// {"event":"begin","id":0,"email":"ann@example.com","at":"2026-11-02T09:00:01Z"}
    /// {"event":"end","id":0,"email":"ann@example.com","outcome":"applied","at":"2026-11-02T09:00:02Z"}
    /// ```
    ///
    /// Each line is synced to disk before the executor goes on. Lines hold
    /// addresses, outcomes and error texts, never credentials.
    pub fn journal(mut self, path: impl AsRef<Path>) -> Self {
        self.journal = Some(path.as_ref().to_owned());
        self
    }

    /// Starts at most this many changes in one run; the rest are skipped
    /// (with [`Halt::Limit`]) and left for a resumed run. For applying a big
    /// plan in batches.
    pub fn max_changes(mut self, changes: usize) -> Self {
        self.max_changes = Some(changes);
        self
    }

    /// Declares the stack the client talks to, when its URL does not name
    /// one (a stack URL like `https://us1.proofpointessentials.com` does):
    /// a plan for another stack is then refused with [`ApplyError::WrongGateway`].
    pub fn stack(mut self, stack: &str) -> Self {
        self.stack = Some(stack.to_owned());
        self
    }

    /// Applies only plans signed with `key` (approval workflows): an
    /// unsigned plan, one signed with another key, or one changed after it
    /// was signed is refused ([`ApplyError::Signature`]) before anything is
    /// sent. Without a key, a signed plan is refused too: its signature
    /// could not be checked. Whoever holds the key can also sign.
    pub fn plan_key(mut self, key: PlanKey) -> Self {
        self.plan_key = Some(key);
        self
    }

    /// Approves, at apply time, a plan that trips the destructive
    /// threshold, the create limit or the licence count: the override a
    /// reviewer gives after reading the plan as it was made (default off).
    pub fn override_threshold(mut self, approve: bool) -> Self {
        self.override_threshold = approve;
        self
    }

    /// Applies only the changes a reviewer approved ([`Plan::approve`]:
    /// whole approval units); the others are reported
    /// [`Outcome::Excluded`]. Needs a journal: the threshold then counts
    /// this run's destructive steps and creates plus those the journal
    /// records as applied for the plan, so a plan over its threshold cannot
    /// be applied in slices without the override; and an interrupted run
    /// is resumed only with the same selection.
    ///
    /// [`Plan::approve`]: muster_reconcile::Plan::approve
    pub fn approved(mut self, approval: &Approval) -> Self {
        self.approved = Some(approval.included.clone());
        self
    }

    /// Stops the run after this many consecutive attempts (retries
    /// included) that failed to connect, timed out or got a 5xx (default
    /// 5, at least 1): the halt is [`Halt::Breaker`], recorded in the
    /// report and the journal, and nothing more is sent. A 401 or 403 once
    /// writes have begun stops it the same way. Applying the same plan with
    /// the same journal resumes it.
    pub fn breaker(mut self, failures: u32) -> Self {
        self.breaker = failures.max(1);
        self
    }

    /// Decides, for each failed change, whether the run goes on. The default
    /// aborts on authentication, permission and configuration errors and
    /// goes on otherwise. (Throttling and server errors were already retried
    /// by the client.)
    pub fn on_error(
        mut self,
        policy: impl Fn(&AccountChange, &GatewayError) -> ErrorAction + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Arc::new(policy);
        self
    }

    /// Stops the run cleanly when `stop` is requested (a signal handler
    /// calls [`Stop::request`]): no new request is sent, the changes in
    /// flight finish — within the grace period the request gives, after
    /// which they are left in doubt — and `apply` returns its report as
    /// usual ([`Halt::Interrupted`]), so the caller saves the state of what
    /// succeeded and the journal resumes the rest.
    pub fn stop_on(mut self, stop: &Stop) -> Self {
        self.stop = Some(stop.clone());
        self
    }

    /// Calls `progress` when a change starts and when it has an outcome.
    /// (Each outcome is also a `tracing` event of target `muster::executor`.)
    pub fn on_progress(mut self, progress: impl Fn(Progress<'_>) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(progress));
        self
    }

    /// Applies `plan` through `client`, starting from `state` (the state the
    /// plan was made with).
    ///
    /// # Errors
    /// A refusal ([`ApplyError`]) before anything is sent, or a failed read
    /// that has to come first ([`ApplyError::Read`]). Once changes run,
    /// their failures are outcomes in the report, never an `Err`: the report's
    /// new state must be saved whatever happened.
    pub async fn apply(
        &self,
        plan: &Plan,
        client: &Client,
        state: &SyncState,
    ) -> Result<ApplyReport, ApplyError> {
        checks::check_signature(plan, self.plan_key.as_ref())?;
        checks::check_plan(
            plan,
            client,
            self.stack.as_deref(),
            state,
            self.override_threshold,
            self.approved.is_some(),
        )?;
        if let Some(approved) = &self.approved {
            self.check_part(plan, approved)?;
        }
        let mut works = Vec::with_capacity(plan.changes.len());
        for change in &plan.changes {
            works.push(steps::classify(change));
        }
        let (mut journal, resume) = match &self.journal {
            Some(path) => journal::open(path, plan, !self.dry_run)?,
            None => (None, journal::Resume::default()),
        };
        if let Some(j) = journal.as_mut() {
            j.run(self.approved.as_ref())
                .map_err(|source| ApplyError::JournalIo {
                    path: j.path().to_owned(),
                    source,
                })?;
        }
        // A breaker of this run's own: a rerun starts with it closed.
        let guarded = client.with_breaker(Arc::new(Breaker::new(self.breaker)));
        let client = &guarded;
        let ctx = self.context(client, plan, &works).await?;
        let mut run = Run {
            executor: self,
            plan,
            works: &works,
            ctx: &ctx,
            journal,
            outcomes: vec![None; plan.changes.len()],
            running: BTreeSet::new(),
            busy: BTreeSet::new(),
            budget: self.max_changes,
            halted: None,
            writes_begun: false,
            done: 0,
        };
        let index: BTreeMap<u32, usize> = plan
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        for (i, change) in plan.changes.iter().enumerate() {
            if resume.done.contains(&change.id) {
                run.finish(i, Outcome::AlreadyApplied, false, false);
            } else if self
                .approved
                .as_ref()
                .is_some_and(|approved| !approved.contains(&change.id))
            {
                run.finish(i, Outcome::Excluded, false, false);
            }
        }
        let mut in_doubt: Vec<bool> = plan
            .changes
            .iter()
            .map(|c| resume.in_doubt.contains(&c.id))
            .collect();
        if !self.dry_run {
            for (i, done) in
                steps::settle_from_listing(client, &plan.changes, &works, &mut in_doubt).await?
            {
                run.finish(i, done.outcome, done.in_doubt, true);
            }
        }
        run.schedule(&index, &in_doubt).await;
        Ok(run.report(state))
    }

    /// The checks of a plan applied in parts: a journal to count with, the
    /// same selection as an interrupted run it resumes, and the threshold
    /// counted over this part and what the journal records as applied.
    fn check_part(&self, plan: &Plan, approved: &BTreeSet<u32>) -> Result<(), ApplyError> {
        let Some(path) = &self.journal else {
            return Err(ApplyError::PartNeedsJournal);
        };
        let (_, earlier) = journal::open(path, plan, false)?;
        let this: Vec<u32> = approved.iter().copied().collect();
        let interrupted = !earlier.in_doubt.is_empty();
        if interrupted
            && earlier
                .last_subset
                .as_ref()
                .is_some_and(|s| s.as_ref() != Some(&this))
        {
            return Err(ApplyError::JournalSubsetDiffers { path: path.clone() });
        }
        checks::check_approved_threshold(plan, approved, &earlier.done, self.override_threshold)
    }

    /// Reads what the changes need before the first one runs: the whole
    /// listing for a dry run, the groups when memberships change.
    async fn context<'a>(
        &self,
        client: &'a Client,
        plan: &Plan,
        works: &[Result<Work<'_>, String>],
    ) -> Result<Ctx<'a>, ApplyError> {
        let listing = if self.dry_run {
            let users = client
                .users()
                .list()
                .await
                .map_err(|source| ApplyError::Read {
                    what: "the users",
                    source,
                })?;
            let accounts = users
                .into_iter()
                .map(|u| {
                    let a = u.into_account();
                    (a.primary_email.clone(), a)
                })
                .collect();
            Some(accounts)
        } else {
            None
        };
        let groups = if works
            .iter()
            .any(|w| w.as_ref().is_ok_and(Work::touches_groups))
        {
            let groups = client
                .groups()
                .list()
                .await
                .map_err(|source| ApplyError::Read {
                    what: "the groups",
                    source,
                })?;
            Some(groups.into_iter().map(|g| (g.name, g.id)).collect())
        } else {
            None
        };
        // Before-images live next to the journal: without a journal a run
        // keeps no record to undo from either.
        let before_images = match (&self.journal, self.dry_run) {
            (Some(journal), false) => Some(undo::Saver {
                folder: undo::before_images_folder(journal),
                plan: plan.fingerprint.clone(),
            }),
            _ => None,
        };
        Ok(Ctx {
            client,
            listing,
            groups,
            before_images,
        })
    }
}

/// What one running unit (a change, or a bulk of creates) yields.
type UnitFuture<'a> = BoxFuture<'a, Vec<(usize, Done)>>;

/// One apply in progress.
struct Run<'a> {
    executor: &'a Executor,
    plan: &'a Plan,
    works: &'a [Result<Work<'a>, String>],
    ctx: &'a Ctx<'a>,
    journal: Option<Journal>,
    outcomes: Vec<Option<Outcome>>,
    /// Changes started and not finished.
    running: BTreeSet<usize>,
    /// Accounts (normalized addresses) a running change writes to.
    busy: BTreeSet<String>,
    budget: Option<usize>,
    halted: Option<Halt>,
    /// Some write reached (or may have reached) the gateway in this run.
    writes_begun: bool,
    done: usize,
}

impl<'a> Run<'a> {
    /// The accounts a change writes to.
    fn accounts(&self, i: usize) -> Vec<String> {
        let change = &self.plan.changes[i];
        let mut out = vec![change.email.normalized().to_owned()];
        for step in &change.steps {
            if let Step::ChangePrimary { from, .. } = step {
                out.push(from.normalized().to_owned());
            }
        }
        out
    }

    /// Runs every change: phase by phase, dependencies first, a few at a time.
    async fn schedule(&mut self, index: &BTreeMap<u32, usize>, in_doubt: &[bool]) {
        let plan = self.plan;
        let changes = &plan.changes;
        // Plan order is phase order; sorted again so a reordered plan is safe too.
        let mut order: Vec<usize> = (0..changes.len()).collect();
        order.sort_by_key(|&i| (changes[i].phase, i));
        let bulk_ok = self.ctx.listing.is_none() && self.ctx.client.capabilities().bulk_create;
        let mut running: FuturesUnordered<UnitFuture<'a>> = FuturesUnordered::new();
        let mut cursor = 0;
        loop {
            while cursor < order.len() && self.outcomes[order[cursor]].is_some() {
                cursor += 1;
            }
            if cursor == order.len() {
                break;
            }
            if self.executor.stop.as_ref().is_some_and(Stop::is_requested) {
                self.halt(Halt::Interrupted);
            }
            let phase = changes[order[cursor]].phase;
            // An outcome recorded without a request may unblock others: look again before waiting.
            let mut progressed = false;
            for &i in &order[cursor..] {
                if changes[i].phase != phase || running.len() >= self.executor.concurrency {
                    break;
                }
                if self.outcomes[i].is_some() || self.running.contains(&i) {
                    continue;
                }
                let skip = match (&self.halted, self.readiness(i, index)) {
                    (Some(halt), _) => Some(halt.to_string()),
                    (None, Ready::Skip(reason)) => Some(reason),
                    (None, Ready::Wait) => continue,
                    (None, Ready::Go) => None,
                };
                if let Some(reason) = skip {
                    self.finish(i, Outcome::Skipped { reason }, false, true);
                    progressed = true;
                    continue;
                }
                if self.accounts(i).iter().any(|a| self.busy.contains(a)) {
                    continue;
                }
                if self.budget == Some(0) {
                    self.halted = Some(Halt::Limit {
                        max_changes: self.executor.max_changes.unwrap_or(0),
                    });
                    progressed = true;
                    continue;
                }
                let work = match &self.works[i] {
                    Ok(work) => work,
                    Err(reason) => {
                        let outcome = Outcome::Failed {
                            error: reason.clone(),
                            retryable: false,
                        };
                        self.finish(i, outcome, false, true);
                        progressed = true;
                        continue;
                    }
                };
                let unit = if bulk_ok && is_bulk_member(&changes[i], work, in_doubt[i]) {
                    self.bulk_unit(i, &order[cursor..], index, in_doubt)
                } else {
                    vec![i]
                };
                if self.start(&unit) {
                    running.push(self.unit_future(unit, in_doubt));
                } else {
                    progressed = true;
                }
            }
            if progressed {
                continue;
            }
            match self.wait(&mut running).await {
                Waited::Done(results) => self.complete(results),
                Waited::Interrupted => {}
                Waited::Idle => {
                    // Nothing runs and nothing can start: what is left of
                    // this phase waits for changes that cannot come first.
                    for &i in &order[cursor..] {
                        if changes[i].phase == phase && self.outcomes[i].is_none() {
                            let reason =
                                "its dependencies cannot run before it (a cycle, or a later phase)"
                                    .to_owned();
                            self.finish(i, Outcome::Skipped { reason }, false, true);
                        }
                    }
                }
            }
        }
        loop {
            match self.wait(&mut running).await {
                Waited::Done(results) => self.complete(results),
                Waited::Interrupted => {}
                Waited::Idle => break,
            }
        }
    }

    /// Waits for the next unit to finish, or for a stop: a requested stop
    /// halts the run (nothing new starts), and once its grace period is over
    /// the units still in flight are given up — journalled as in doubt, so
    /// the resume reads back what they did.
    async fn wait(&mut self, running: &mut FuturesUnordered<UnitFuture<'a>>) -> Waited {
        if running.is_empty() {
            return Waited::Idle;
        }
        let Some(stop) = self.executor.stop.clone() else {
            return running.next().await.map_or(Waited::Idle, Waited::Done);
        };
        if stop.is_requested() && !matches!(self.halted, Some(Halt::Interrupted)) {
            self.halt(Halt::Interrupted);
            return Waited::Interrupted;
        }
        tokio::select! {
            results = running.next() => results.map_or(Waited::Idle, Waited::Done),
            () = stop.requested(), if !stop.is_requested() => {
                self.halt(Halt::Interrupted);
                Waited::Interrupted
            }
            () = stop.grace_over() => {
                let left: Vec<usize> = self.running.iter().copied().collect();
                *running = FuturesUnordered::new();
                for i in left {
                    self.running.remove(&i);
                    for a in self.accounts(i) {
                        self.busy.remove(&a);
                    }
                    let reason = "interrupted in flight: the resume reads back whether it landed".to_owned();
                    self.finish(i, Outcome::Skipped { reason }, true, true);
                }
                Waited::Interrupted
            }
        }
    }

    /// Whether a change can start: every dependency succeeded (go), one did
    /// not (skip), or some have no outcome yet (wait).
    fn readiness(&self, i: usize, index: &BTreeMap<u32, usize>) -> Ready {
        let mut wait = false;
        for d in &self.plan.changes[i].depends_on {
            let Some(&j) = index.get(d) else {
                return Ready::Skip(format!("depends on #{d}, which is not in the plan"));
            };
            match &self.outcomes[j] {
                Some(o) if o.succeeded() => {}
                Some(o) => {
                    return Ready::Skip(format!(
                        "depends on #{d} ({}), which did not succeed ({})",
                        self.plan.changes[j].email,
                        o.name()
                    ));
                }
                None => wait = true,
            }
        }
        if wait { Ready::Wait } else { Ready::Go }
    }

    /// The creates of `first`'s bulk group that can start with it now.
    fn bulk_unit(
        &self,
        first: usize,
        rest: &[usize],
        index: &BTreeMap<u32, usize>,
        in_doubt: &[bool],
    ) -> Vec<usize> {
        let group = bulk_group(&self.plan.changes[first]);
        let limit = self.budget.unwrap_or(usize::MAX);
        let mut unit = vec![first];
        let mut seen = BTreeSet::new();
        seen.extend(self.accounts(first));
        for &j in rest {
            if unit.len() >= limit {
                break;
            }
            let change = &self.plan.changes[j];
            if j == first
                || self.outcomes[j].is_some()
                || self.running.contains(&j)
                || bulk_group(change) != group
                || change.phase != self.plan.changes[first].phase
            {
                continue;
            }
            let Ok(work) = &self.works[j] else { continue };
            if !is_bulk_member(change, work, in_doubt[j])
                || !matches!(self.readiness(j, index), Ready::Go)
            {
                continue;
            }
            let accounts = self.accounts(j);
            if accounts
                .iter()
                .any(|a| self.busy.contains(a) || seen.contains(a))
            {
                continue;
            }
            seen.extend(accounts);
            unit.push(j);
        }
        unit
    }

    /// Marks a unit as running: journal `begin` lines, account locks,
    /// progress. False (and the run halted) when the journal cannot be written.
    fn start(&mut self, unit: &[usize]) -> bool {
        let writes = self.ctx.listing.is_none();
        for &i in unit {
            let change = &self.plan.changes[i];
            let state_only = self.works[i].as_ref().is_ok_and(Work::is_state_only);
            if writes && !state_only {
                let failed = self.journal.as_mut().and_then(|journal| {
                    journal
                        .begin(change.id, change.email.as_str())
                        .err()
                        .map(|e| journal_error(journal.path(), &e))
                });
                if let Some(error) = failed {
                    self.halt_journal(error);
                    return false;
                }
            }
        }
        for &i in unit {
            self.running.insert(i);
            for a in self.accounts(i) {
                self.busy.insert(a);
            }
            if let Some(b) = &mut self.budget {
                *b = b.saturating_sub(1);
            }
            if let Some(progress) = &self.executor.on_progress {
                progress(Progress::Started {
                    change: &self.plan.changes[i],
                });
            }
        }
        true
    }

    /// The future that carries out a unit.
    fn unit_future(&self, unit: Vec<usize>, in_doubt: &[bool]) -> UnitFuture<'a> {
        let ctx = self.ctx;
        let plan = self.plan;
        let works = self.works;
        if unit.len() == 1 {
            let i = unit[0];
            let doubt = in_doubt[i];
            return Box::pin(async move {
                let done = match &works[i] {
                    Ok(work) => steps::run(ctx, &plan.changes[i], work, doubt).await,
                    Err(_) => unreachable!("refused before starting"),
                };
                vec![(i, done)]
            });
        }
        let members: Vec<(usize, &'a AccountChange, &'a Account, WelcomeEmail, bool)> = unit
            .iter()
            .filter_map(|&i| {
                let (account, welcome) = works[i].as_ref().ok()?.plain_create()?;
                Some((i, &plan.changes[i], account, welcome, in_doubt[i]))
            })
            .collect();
        Box::pin(async move {
            let args: Vec<(&AccountChange, &Account, WelcomeEmail, bool)> = members
                .iter()
                .map(|(_, c, a, w, d)| (*c, *a, *w, *d))
                .collect();
            let results = steps::run_bulk(ctx.client, &args).await;
            members.iter().map(|m| m.0).zip(results).collect()
        })
    }

    /// Records what a finished unit did and applies the error policy.
    fn complete(&mut self, results: Vec<(usize, Done)>) {
        for (i, done) in results {
            self.running.remove(&i);
            for a in self.accounts(i) {
                self.busy.remove(&a);
            }
            let wrote = done.in_doubt
                || (done.outcome == Outcome::Applied
                    && self.works[i].as_ref().is_ok_and(|w| !w.is_state_only()));
            if let Some(error) = &done.error {
                if let Some(reason) = breaker_reason(error, self.writes_begun) {
                    self.halt(Halt::Breaker { reason });
                } else {
                    let action = (self.executor.on_error)(&self.plan.changes[i], error);
                    if action == ErrorAction::Abort {
                        self.halt(Halt::Aborted {
                            change: self.plan.changes[i].id,
                            error: muster_core::error_chain(error),
                        });
                    }
                }
            }
            self.writes_begun |= wrote;
            self.finish(i, done.outcome, done.in_doubt, true);
        }
    }

    /// Records an outcome: journal line, tracing event, progress callback.
    fn finish(&mut self, i: usize, outcome: Outcome, in_doubt: bool, journal: bool) {
        let change = &self.plan.changes[i];
        if journal && self.ctx.listing.is_none() {
            let failed = self.journal.as_mut().and_then(|j| {
                j.end(change.id, change.email.as_str(), &outcome, in_doubt)
                    .err()
                    .map(|e| journal_error(j.path(), &e))
            });
            if let Some(error) = failed {
                self.halt_journal(error);
            }
        }
        match &outcome {
            Outcome::Failed { error, retryable } => tracing::warn!(
                target: "muster::executor",
                id = change.id, email = %change.email, retryable, %error, "change failed"
            ),
            Outcome::Stale { reason } => tracing::warn!(
                target: "muster::executor",
                id = change.id, email = %change.email, %reason, "change is stale"
            ),
            other => tracing::info!(
                target: "muster::executor",
                id = change.id, email = %change.email, outcome = other.name(), "change finished"
            ),
        }
        self.done += 1;
        if let Some(progress) = &self.executor.on_progress {
            progress(Progress::Finished {
                change,
                outcome: &outcome,
                done: self.done,
                total: self.plan.changes.len(),
            });
        }
        self.outcomes[i] = Some(outcome);
    }

    fn halt_journal(&mut self, error: String) {
        if !matches!(self.halted, Some(Halt::Journal { .. })) {
            self.halted = Some(Halt::Journal { error });
        }
    }

    /// Stops the run (the first reason wins) and says why in the journal.
    fn halt(&mut self, halt: Halt) {
        if self.halted.is_some() {
            return;
        }
        tracing::warn!(target: "muster::executor", %halt, "run halted");
        let failed = self
            .journal
            .as_mut()
            .and_then(|j| j.halt(&halt).err().map(|e| journal_error(j.path(), &e)));
        self.halted = Some(halt);
        if let Some(error) = failed {
            self.halted = None;
            self.halt_journal(error);
        }
    }

    /// The report, and the new state: the transitions of the changes that
    /// succeeded, in plan order, then the run's own transitions (the
    /// expected account count corrected for creates and deletes that did
    /// not happen).
    fn report(self, state: &SyncState) -> ApplyReport {
        let mut new_state = state.clone();
        let mut counts = Counts::default();
        let mut changes = Vec::with_capacity(self.plan.changes.len());
        let mut missing_creates = 0usize;
        let mut missing_deletes = 0usize;
        for (change, outcome) in self.plan.changes.iter().zip(self.outcomes) {
            let outcome = outcome.unwrap_or_else(|| Outcome::Skipped {
                reason: "not reached".into(),
            });
            if outcome.succeeded() {
                for t in &change.transitions {
                    new_state.apply(t);
                }
            } else {
                for step in &change.steps {
                    match step {
                        Step::Create { .. } => missing_creates += 1,
                        Step::Delete => missing_deletes += 1,
                        _ => {}
                    }
                }
            }
            counts.add(&outcome);
            changes.push(ChangeReport {
                id: change.id,
                email: change.email.clone(),
                kind: change.kind,
                outcome,
            });
        }
        for t in &self.plan.run_transitions {
            match t {
                Transition::RecordRun { at, gateway_count } => {
                    new_state.apply(&Transition::RecordRun {
                        at: *at,
                        gateway_count: (gateway_count + missing_deletes)
                            .saturating_sub(missing_creates),
                    });
                }
                other => new_state.apply(other),
            }
        }
        ApplyReport {
            fingerprint: self.plan.fingerprint.clone(),
            dry_run: self.ctx.listing.is_some(),
            changes,
            counts,
            halted: self.halted,
            state: new_state,
        }
    }
}

/// Why the breaker stops the run after this error, if it does: the
/// client's breaker tripped (the gateway looks down), or the login was
/// refused once writes had begun (every later write would be refused too,
/// and the writes so far must be resumable).
fn breaker_reason(error: &GatewayError, writes_begun: bool) -> Option<String> {
    match error {
        GatewayError::CircuitOpen { .. } => Some(error.to_string()),
        GatewayError::Auth { .. } | GatewayError::Forbidden { .. } if writes_begun => Some(
            format!("the gateway refused the login after writes had begun: {error}"),
        ),
        _ => None,
    }
}

/// What waiting on the running units came to.
enum Waited {
    /// A unit finished.
    Done(Vec<(usize, Done)>),
    /// A stop was requested, or its grace period ran out.
    Interrupted,
    /// Nothing is running.
    Idle,
}

/// Whether a change can start now.
enum Ready {
    Go,
    Wait,
    Skip(String),
}

fn journal_error(path: &Path, e: &std::io::Error) -> String {
    format!("{}: {e}", path.display())
}

fn bulk_group(change: &AccountChange) -> Option<u32> {
    change.steps.iter().find_map(|s| match s {
        Step::Create { bulk_group, .. } => *bulk_group,
        _ => None,
    })
}

/// A plain create with a bulk group and no dependencies, not in doubt.
fn is_bulk_member(change: &AccountChange, work: &Work<'_>, in_doubt: bool) -> bool {
    !in_doubt
        && change.depends_on.is_empty()
        && bulk_group(change).is_some()
        && work.is_plain_create()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Callers spawn `apply` on a multi-threaded runtime: its future must be `Send`.
    #[allow(dead_code)]
    fn apply_can_be_spawned(e: &Executor, plan: &Plan, client: &Client, state: &SyncState) {
        fn send<T: Send>(_: &T) {}
        send(&e.apply(plan, client, state));
    }

    #[test]
    fn the_default_policy_stops_only_when_the_login_is_refused() {
        let plan = testing::plan(
            vec![testing::change(0, "a@example.com", serde_json::json!([]))],
            serde_json::json!([]),
        );
        let change = &plan.changes[0];
        let auth = GatewayError::Auth {
            method: "PUT".into(),
            path: "/x".into(),
        };
        let busy = GatewayError::RateLimited { attempts: 3 };
        assert_eq!(default_policy(change, &auth), ErrorAction::Abort);
        assert_eq!(default_policy(change, &busy), ErrorAction::Continue);
    }
}
