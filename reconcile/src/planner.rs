//! `plan()`: sequences the rules of `rules.rs` over the inputs. Pure: no IO,
//! no clock, no async.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use muster_core::{Account, EmailAddress, Field, HrStatus, Origin, UserType};

use crate::error::PlanError;
use crate::fingerprint::FastHash;
use crate::index::BATCH;
use crate::inputs::{Desired, GatewayListing, TargetProfile};
use crate::plan::{
    AccountChange, ChangeKind, Conflict, ConflictAction, ConflictKind, Expect, Guard,
    PLAN_SCHEMA_VERSION, Phase, Plan, SkipCode, Skipped, Step, Summary, ThresholdCheck,
    WelcomeRule,
};
use crate::policy::{FlagAction, HrAction, Mode, Policy, UnknownOrigin};
use crate::rules::{self, Lifecycle};
use crate::state::{AccountState, FlagCause, FlagState, SyncState, Transition};
use crate::wanted::{self, NONE, Wanted};

/// Plans one sync run.
///
/// `desired` is what the directories say, `current` what the gateway holds,
/// `target` what the gateway is, `state` what muster remembers, `policy` what
/// the organisation wants and `now` the run's time (an argument, so the
/// planner never reads a clock). Same inputs give the same plan, whatever
/// their order.
///
/// Refuses (an `Err`, nothing planned) when the state belongs to another
/// organisation, the clock went backwards, or a managed domain is not
/// registered on the gateway.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use muster_core::{Account, DirectoryEntry, DirectorySnapshot, Field, FieldSet};
/// use muster_reconcile::{plan, Desired, GatewayListing, Policy, SyncState, TargetProfile};
///
/// let domain: muster_core::Domain = "example.com".parse()?;
/// let target = TargetProfile::new("us1", "example.com").with_domain(domain.clone());
/// let policy = Policy::builder().managed_domain(domain).build();
/// let ldap = DirectorySnapshot::new("ldap", FieldSet::from_iter([Field::FirstName, Field::LastName]))
///     .with_entries(vec![DirectoryEntry::new("ann@example.com".parse()?).with_names("Ann", "Lee")]);
/// let current = GatewayListing::complete(vec![Account::new("bob@example.com".parse()?)]);
/// let state = SyncState::new("us1", "example.com");
/// let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
///
/// let plan = plan(&Desired::new(ldap), &current, &target, &state, &policy, now)?;
/// assert_eq!(plan.changes.len(), 1); // ann is created; bob (origin unknown) is only listed
/// assert_eq!(plan.conflicts.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plan(
    desired: &Desired,
    current: &GatewayListing,
    target: &TargetProfile,
    state: &SyncState,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Plan, PlanError> {
    plan_with((desired, current, target), state, policy, now, None)
}

/// Plans an administrator's action on conflicts ("delete now",
/// "deactivate"): afresh, exactly as [`plan`] does, so every guard applies
/// and someone who is back in the directory is no conflict any more. The
/// plan holds only the requested changes (and the conflicts they act on),
/// with its own threshold check; it records no run, so the deletion
/// lifecycle of everyone else goes on as before.
///
/// Refuses ([`PlanError::ConflictAction`], nothing planned) an address the
/// fresh plan does not list as a conflict — protected and exempt accounts
/// never are — an account muster does not own unless
/// [`ConflictRequest::include_unowned`], an action the conflict does not
/// offer (an ignored account can only be deleted now), and any action while
/// a safety guard holds deletions.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use muster_core::{Account, DirectoryEntry, DirectorySnapshot, Field, FieldSet};
/// use muster_reconcile::{plan_conflict_action, ConflictRequest, Desired, GatewayListing, Policy, SyncState, TargetProfile};
///
/// let domain: muster_core::Domain = "example.com".parse()?;
/// let target = TargetProfile::new("us1", "example.com").with_domain(domain.clone());
/// let policy = Policy::builder().managed_domain(domain).build();
/// let ldap = DirectorySnapshot::new("ldap", FieldSet::from_iter([Field::FirstName]))
///     .with_entries(vec![DirectoryEntry::new("ann@example.com".parse()?)]);
/// let current = GatewayListing::complete(vec![
///     Account::new("ann@example.com".parse()?),
///     Account::new("old@example.com".parse()?),
/// ]);
/// let state = SyncState::new("us1", "example.com");
/// let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
/// let desired = Desired::new(ldap);
///
/// // old@ existed before muster: muster does not own it.
/// let delete = ConflictRequest::delete_now(["old@example.com".parse()?]);
/// assert!(plan_conflict_action(&desired, &current, &target, &state, &policy, now, &delete).is_err());
/// let delete = delete.include_unowned(true);
/// let plan = plan_conflict_action(&desired, &current, &target, &state, &policy, now, &delete)?;
/// assert_eq!(plan.changes.len(), 1);
/// // ann@ is in the directory: not a conflict.
/// let ann = ConflictRequest::delete_now(["ann@example.com".parse()?]);
/// assert!(plan_conflict_action(&desired, &current, &target, &state, &policy, now, &ann).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plan_conflict_action(
    desired: &Desired,
    current: &GatewayListing,
    target: &TargetProfile,
    state: &SyncState,
    policy: &Policy,
    now: DateTime<Utc>,
    request: &ConflictRequest,
) -> Result<Plan, PlanError> {
    plan_with(
        (desired, current, target),
        state,
        policy,
        now,
        Some(request),
    )
}

/// What an administrator asks of some conflicts: [`plan_conflict_action`]'s request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct ConflictRequest {
    action: ConflictAction,
    addresses: Vec<EmailAddress>,
    include_unowned: bool,
}

impl ConflictRequest {
    /// Delete these conflicts now instead of waiting for the delay.
    pub fn delete_now(addresses: impl IntoIterator<Item = EmailAddress>) -> Self {
        ConflictRequest::new(ConflictAction::DeleteNow, addresses)
    }

    /// Deactivate these conflicts (mail to them stops; the account stays).
    pub fn deactivate(addresses: impl IntoIterator<Item = EmailAddress>) -> Self {
        ConflictRequest::new(ConflictAction::Deactivate, addresses)
    }

    fn new(action: ConflictAction, addresses: impl IntoIterator<Item = EmailAddress>) -> Self {
        ConflictRequest {
            action,
            addresses: addresses.into_iter().collect(),
            include_unowned: false,
        }
    }

    /// Also act on accounts muster does not own (they existed before muster
    /// and no directory lists them): off by default, since nobody told
    /// muster whose they are.
    pub fn include_unowned(mut self, include: bool) -> Self {
        self.include_unowned = include;
        self
    }

    /// The action asked for.
    #[must_use]
    pub fn action(&self) -> ConflictAction {
        self.action
    }
}

fn plan_with(
    (desired, current, target): (&Desired, &GatewayListing, &TargetProfile),
    state: &SyncState,
    policy: &Policy,
    now: DateTime<Utc>,
    request: Option<&ConflictRequest>,
) -> Result<Plan, PlanError> {
    rules::check_state_stamp(state, target)?;
    rules::check_clock(state, now)?;
    rules::check_domains_registered(policy, target)?;

    // The state's exemptions act as exceptions for this plan; the policy a
    // caller passed is not changed (nor cloned when nobody is exempt).
    let exempting;
    let policy = if state.exempt.is_empty() {
        policy
    } else {
        let mut with = policy.clone();
        with.exempted = state.exempt.keys().cloned().collect();
        exempting = with;
        &exempting
    };
    let mut skipped = rules::exemptions(state);
    let wanted = wanted::collect(desired, &current.accounts, (policy, target), &mut skipped);
    let guards = rules::safety_guards(desired, current, state, policy);
    let draft_room = (current.accounts.len() + wanted.wants.len()) / 4;
    let mut planner = Planner {
        desired,
        accounts: &current.accounts,
        target,
        state,
        policy,
        now,
        new_run: state.last_run.is_none_or(|last| now > last),
        directory_guarded: guards.iter().any(Guard::blocks_directory),
        deletions_held: guards.iter().any(Guard::holds_deletions),
        hr_guarded: guards.iter().any(Guard::blocks_hr),
        hr_absence_held: guards
            .iter()
            .any(|g| matches!(g, Guard::HrRecordsUnread { .. })),
        welcome_rule: rules::welcome_rule(policy, target),
        auth_owned: rules::directory_owned(
            &Origin::Directory(desired.authoritative.source.clone()),
            desired,
        ),
        hr: HashMap::default(),
        known: Vec::new(),
        flags: HashMap::default(),
        settled: Vec::new(),
        wanted,
        consumed: vec![false; current.accounts.len()],
        // Room for a quarter of all accounts changing: untouched room costs
        // nothing, and growing copies every draft made so far.
        drafts: Vec::with_capacity(draft_room),
        draft_of_account: vec![NONE; current.accounts.len()],
        claims: Vec::new(),
        conflicts: Vec::new(),
        skipped,
        run_transitions: Vec::new(),
        billable_before: 0,
        conflict_action: false,
    };
    planner.index_state();
    planner.index_hr();
    planner.match_pass();
    planner.create_pass();
    planner.absent_pass();
    planner.hr_pass();
    planner.resolve_claims();
    if let Some(request) = request {
        planner.act_on_conflicts(request, &guards)?;
    }
    Ok(planner.finish(guards))
}

/// One account's change while it is being built.
struct Draft {
    email: EmailAddress,
    kind: ChangeKind,
    steps: Vec<Step>,
    expect: Expect,
    /// Why, each reason joined to the last with "; " (see [`add_reason`]).
    reason: String,
    transitions: Vec<Transition>,
    deps: Vec<usize>,
    releases: bool,
    dead: bool,
    /// The gateway account this draft changes, if it exists.
    account: Option<u32>,
}

impl Draft {
    /// Flags the account (muster's record only: mail keeps flowing), under
    /// `email`, the address it has once the change is made.
    fn flag(
        &mut self,
        email: EmailAddress,
        since: DateTime<Utc>,
        cause: FlagCause,
        reason: String,
    ) {
        self.steps.push(Step::Flag);
        self.transitions.push(Transition::Flag {
            email,
            since,
            cause,
            reason,
        });
    }

    fn new(email: EmailAddress, kind: ChangeKind, expect: Expect) -> Self {
        Draft {
            email,
            kind,
            steps: Vec::new(),
            expect,
            reason: String::new(),
            transitions: Vec::new(),
            deps: Vec::new(),
            releases: false,
            dead: false,
            account: None,
        }
    }

    /// True when this draft frees `address` for another account. A primary
    /// change strips the old aliases but frees only those the renamed
    /// account does not take back (when the aliases are not compared, it
    /// keeps them all).
    fn frees(&self, address: &EmailAddress) -> bool {
        self.steps.iter().any(|s| match s {
            Step::RemoveAliases { aliases } => aliases.contains(address),
            Step::Delete => true,
            Step::ChangePrimary {
                strip_aliases,
                account,
                ..
            } => strip_aliases.contains(address) && !account.aliases.contains(address),
            _ => false,
        })
    }

    /// Drops `address` from whatever this draft would add.
    fn drop_address(&mut self, address: &EmailAddress) {
        for step in &mut self.steps {
            match step {
                Step::AddAliases { aliases } => aliases.retain(|a| a != address),
                Step::Create { account, .. } | Step::ChangePrimary { account, .. } => {
                    account.aliases.remove(address);
                }
                _ => {}
            }
        }
        self.steps
            .retain(|s| !matches!(s, Step::AddAliases { aliases } if aliases.is_empty()));
    }

    fn phase(&self) -> Phase {
        let has = |f: fn(&Step) -> bool| self.steps.iter().any(f);
        if has(|s| matches!(s, Step::Delete)) {
            Phase::Delete
        } else if self.releases {
            Phase::Release
        } else if has(|s| matches!(s, Step::Create { .. })) {
            Phase::Create
        } else if has(|s| matches!(s, Step::ChangePrimary { .. })) {
            Phase::Rename
        } else if has(|s| matches!(s, Step::Deactivate | Step::SetType { .. })) {
            Phase::Deactivate
        } else {
            Phase::Update
        }
    }
}

/// An address a draft wants that an existing account holds now.
struct Claim<'a> {
    draft: usize,
    address: &'a EmailAddress,
    holder: u32,
    /// The draft's whole point is this address (a create's primary).
    primary: bool,
}

struct Planner<'a> {
    desired: &'a Desired,
    accounts: &'a [Account],
    target: &'a TargetProfile,
    state: &'a SyncState,
    policy: &'a Policy,
    now: DateTime<Utc>,
    new_run: bool,
    directory_guarded: bool,
    /// Deletions and deactivations wait (unread records); flags are still recorded.
    deletions_held: bool,
    hr_guarded: bool,
    /// Some HR rows could not be read: nobody counts as absent from HR (the
    /// unread row may be theirs); "terminated" still applies.
    hr_absence_held: bool,
    /// Which rule decides the creates' welcome letters.
    welcome_rule: WelcomeRule,
    /// The authoritative directory's accounts are its own (no supplemental
    /// source has its name; see [`rules::directory_owned`]).
    auth_owned: bool,
    hr: HashMap<&'a str, &'a HrStatus, FastHash>,
    wanted: Wanted<'a>,
    /// What the state knows about each gateway account, by account index.
    known: Vec<Option<&'a AccountState>>,
    /// The flagged gateway accounts' flags, by account index.
    flags: HashMap<u32, &'a FlagState, FastHash>,
    /// By account index: the authoritative source made it, it is not flagged
    /// absent and muster did not deactivate it (read where the state is
    /// read, so an unchanged account needs no second look at its state).
    settled: Vec<bool>,
    /// Accounts taken over by a primary-address change.
    consumed: Vec<bool>,
    drafts: Vec<Draft>,
    /// Each gateway account's draft (or [`NONE`]), by account index.
    draft_of_account: Vec<u32>,
    claims: Vec<Claim<'a>>,
    conflicts: Vec<Conflict>,
    skipped: Vec<Skipped>,
    run_transitions: Vec<Transition>,
    /// Billable gateway accounts, counted where each account is read anyway.
    billable_before: usize,
    /// This plan is an administrator's action on conflicts, not a sync run.
    conflict_action: bool,
}

impl<'a> Planner<'a> {
    fn auth_source(&self) -> &'a str {
        &self.desired.authoritative.source
    }

    /// Looks up the state of every gateway account once, through the address
    /// index (a per-account map lookup would dominate at a million accounts).
    fn index_state(&mut self) {
        self.known = vec![None; self.accounts.len()];
        self.settled = vec![false; self.accounts.len()];
        let auth = self.auth_source();
        let mut entries = self.state.accounts.iter();
        let mut batch: Vec<(&'a EmailAddress, &'a AccountState)> = Vec::with_capacity(BATCH);
        let mut found = [NONE; BATCH];
        loop {
            // The accounts of a batch of state entries are looked up together (see `index`).
            batch.clear();
            batch.extend(entries.by_ref().take(BATCH));
            if batch.is_empty() {
                break;
            }
            let mut keys = [batch[0].0; BATCH];
            for (key, (email, _)) in keys.iter_mut().zip(&batch) {
                *key = email;
            }
            let n = batch.len();
            self.wanted
                .accounts_with_primaries(&keys[..n], &mut found[..n]);
            for (&(_, known), &i) in batch.iter().zip(&found) {
                if i != NONE {
                    let i = i as usize;
                    self.known[i] = Some(known);
                    self.settled[i] = !known.deactivated_by_muster
                        && matches!(&known.origin, Origin::Directory(s) if s == auth);
                }
            }
        }
        for (email, flag) in &self.state.flags {
            if let Some(i) = self.account_index(email) {
                self.flags.insert(i as u32, flag);
                self.settled[i] &= flag.cause != FlagCause::Absent;
            }
        }
    }

    /// The gateway account whose primary is `email`.
    fn account_index(&self, email: &EmailAddress) -> Option<usize> {
        let mut found = [NONE];
        self.wanted.accounts_with_primaries(&[email], &mut found);
        (found[0] != NONE).then_some(found[0] as usize)
    }

    /// Account `i`'s flag, if the state has one (few accounts do: a map,
    /// not a slot per account).
    fn flag(&self, i: usize) -> Option<&'a FlagState> {
        if self.flags.is_empty() {
            return None;
        }
        u32::try_from(i)
            .ok()
            .and_then(|i| self.flags.get(&i).copied())
    }

    /// Who made account `i` ([`Origin::Unknown`] when muster never saw it).
    fn origin_of(&self, i: usize) -> &'a Origin {
        static UNKNOWN: Origin = Origin::Unknown;
        self.known[i].map_or(&UNKNOWN, |k| &k.origin)
    }

    fn index_hr(&mut self) {
        if self.policy.hr_rule.is_none() {
            return;
        }
        if let Some(hr) = &self.desired.hr {
            self.hr.reserve(hr.records.len());
            for r in &hr.records {
                self.hr.insert(r.email.normalized(), &r.status);
            }
        }
    }

    /// The HR rule's verdict on an end user: why they should stop being one, if they should.
    fn hr_verdict(&self, email: &EmailAddress) -> Option<String> {
        let rule = self.policy.hr_rule.as_ref()?;
        let hr = self.desired.hr.as_ref()?;
        if self.hr_guarded || rule.allowlist.contains(email) {
            return None;
        }
        match self.hr.get(email.normalized()) {
            None if self.hr_absence_held => None,
            None => Some(format!("absent from {}", hr.source)),
            Some(HrStatus::Terminated) => Some(format!("terminated in {}", hr.source)),
            Some(_) => None,
        }
    }

    /// The draft of gateway account `i`, if it has one.
    fn draft_of(&self, i: u32) -> Option<usize> {
        let d = self.draft_of_account[i as usize];
        (d != NONE).then_some(d as usize)
    }

    fn draft_for_account(&mut self, i: u32, kind: ChangeKind) -> &mut Draft {
        let account = &self.accounts[i as usize];
        let idx = match self.draft_of(i) {
            Some(idx) => idx,
            None => {
                let mut draft = Draft::new(
                    account.primary_email.clone(),
                    kind,
                    Expect {
                        exists: true,
                        user_type: Some(account.user_type.clone()),
                        active: Some(account.active),
                        aliases: None,
                    },
                );
                draft.account = Some(i);
                self.drafts.push(draft);
                self.draft_of_account[i as usize] = (self.drafts.len() - 1) as u32;
                self.drafts.len() - 1
            }
        };
        &mut self.drafts[idx]
    }

    /// Plans the updates of accounts matched by primary address (matched
    /// and counted in `collect`, where each was read), counts the
    /// accounts no entry claims, and finds who holds fresh addresses
    /// (claims are resolved only after all passes).
    fn match_pass(&mut self) {
        self.billable_before = self.wanted.billable_claimed;
        for (i, account) in self.accounts.iter().enumerate() {
            if self.wanted.account_want[i] == NONE {
                self.billable_before += usize::from(rules::billable(account));
            }
        }
        self.wanted.note_holders(self.accounts);
        for w in 0..self.wanted.wants.len() {
            let want = &self.wanted.wants[w];
            let i = want.account;
            if i == NONE {
                continue;
            }
            if want.protected {
                let account = &self.accounts[i as usize];
                let why = rules::protection(account, self.policy, self.target).unwrap_or_default();
                self.skipped.push(Skipped {
                    email: account.primary_email.to_string(),
                    source: want.source.to_owned(),
                    location: want.entry.location.clone(),
                    code: SkipCode::Protected,
                    reason: format!("{} ({}): {why}", account.primary_email, account.user_type),
                });
                continue;
            }
            self.plan_update(i, w);
        }
    }

    /// Plans what changes on a matched account: ownership, flags, fields,
    /// aliases, memberships. Only fields the source provides, muster owns
    /// and the gateway holds are compared; nothing is taken away from an account the
    /// directory does not own; under a safety guard nothing is taken away.
    fn plan_update(&mut self, i: u32, w: usize) {
        let account = &self.accounts[i as usize];
        let want = &self.wanted.wants[w];
        // Most accounts on most runs: nothing to adopt, unflag, reactivate,
        // set or add; every check below would find no step.
        if self.settled[i as usize]
            && want.authoritative()
            && want.fields_equal
            && (want.aliases_in_step || !want.provided.contains(Field::Aliases))
        {
            return;
        }
        // The text fields' steps, made in `collect` while both sides were in cache.
        let text_steps = if want.fields_equal {
            Vec::new()
        } else {
            let (at, e) = (want.field_steps, want.entry);
            let fields = rules::comparable_fields(want.provided, self.policy, self.target);
            self.wanted
                .field_steps
                .get_mut(at as usize)
                .map(std::mem::take)
                .unwrap_or_else(|| text_field_steps(account, e, fields))
        };
        let want = &self.wanted.wants[w];
        let e = want.entry;
        let email = &account.primary_email;
        let mut steps = Vec::new();
        let mut reason = String::new();
        let mut transitions = Vec::new();
        let fields = rules::comparable_fields(want.provided, self.policy, self.target);
        // A settled account (see `settled`) has nothing to adopt, unflag or
        // reactivate, and the authoritative directory owns it: its state is
        // not read again.
        let settled = self.settled[i as usize];
        let origin = (!settled).then(|| self.origin_of(i as usize));
        let adopt = match origin {
            Some(origin) if want.authoritative() || *origin == Origin::Unknown => {
                rules::adopted_origin(origin, want.source)
            }
            _ => None,
        };
        let take_away = !self.directory_guarded
            && match origin {
                Some(origin) => rules::may_take_away(
                    adopt.as_ref().unwrap_or(origin),
                    want.authoritative(),
                    self.policy,
                    self.desired,
                ),
                None => {
                    self.policy.mode == Mode::Authoritative
                        && want.authoritative()
                        && self.auth_owned
                }
            };
        if let (Some(new_origin), Some(origin)) = (adopt, origin) {
            add_reason(
                &mut reason,
                match origin {
                    Origin::Unknown => {
                        format!("existed before muster; {} lists it, adopted", want.source)
                    }
                    other => format!("was synced from {other}; now from {}", want.source),
                },
            );
            transitions.push(Transition::Claim {
                email: email.clone(),
                origin: new_origin.clone(),
                external_id: e.external_id.clone(),
            });
            steps.push(Step::Adopt { origin: new_origin });
        }
        if !settled
            && self
                .flag(i as usize)
                .is_some_and(|f| f.cause == FlagCause::Absent)
        {
            steps.push(Step::Unflag);
            transitions.push(Transition::Unflag {
                email: email.clone(),
            });
            add_reason(&mut reason, format!("back in {}", want.source));
        }
        let deactivated =
            !settled && self.known[i as usize].is_some_and(|a| a.deactivated_by_muster);
        if !account.active && deactivated {
            steps.push(Step::Activate);
            transitions.push(Transition::Reactivated {
                email: email.clone(),
            });
            add_reason(&mut reason, "muster had deactivated it".to_owned());
        }

        // "<source> differs: a, b", written as the differences are found.
        let mut changed = String::new();
        let mut note = |what: &str| {
            if changed.is_empty() {
                // Pushed, not `format!`ted: one allocation, sized for most lists.
                changed.reserve(want.source.len() + 48);
                changed.push_str(want.source);
                changed.push_str(" differs: ");
                changed.push_str(what);
            } else {
                changed.push_str(", ");
                changed.push_str(what);
            }
        };
        // Most matched entries equal their account (checked in `wanted`, while both were in cache).
        for step in &text_steps {
            if let Step::SetField { field, .. } = step {
                note(field.as_str());
            }
        }
        append(&mut steps, text_steps);
        let mut touches_aliases = false;
        let kept = self.wanted.aliases_of(want);
        if fields.contains(Field::Aliases) && !want.aliases_in_step {
            let add: Vec<EmailAddress> = kept
                .iter()
                .filter(|a| !account.aliases.contains(a) && ***a != account.primary_email)
                .map(|a| (*a).clone())
                .collect();
            let remove: Vec<EmailAddress> = if take_away {
                account
                    .aliases
                    .iter()
                    .filter(|a| !kept.contains(a))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            if !remove.is_empty() {
                touches_aliases = true;
                note("aliases removed");
                steps.push(Step::RemoveAliases { aliases: remove });
            }
            if !add.is_empty() {
                touches_aliases = true;
                note("aliases added");
                steps.push(Step::AddAliases { aliases: add });
            }
        }
        let lists = [
            (Field::Groups, &account.groups, &e.member_of),
            (
                Field::AllowSenders,
                &account.allow_senders,
                &e.allow_senders,
            ),
            (
                Field::BlockSenders,
                &account.block_senders,
                &e.block_senders,
            ),
        ];
        for (field, have, wants) in lists {
            if want.fields_equal || !fields.contains(field) {
                continue;
            }
            let add: Vec<String> = wants.difference(have).cloned().collect();
            let remove: Vec<String> = if take_away {
                have.difference(wants).cloned().collect()
            } else {
                Vec::new()
            };
            if !add.is_empty() || !remove.is_empty() {
                note(field.as_str());
                steps.push(Step::ChangeList { field, add, remove });
            }
        }
        if !changed.is_empty() {
            add_reason(&mut reason, changed);
        }
        if steps.is_empty() {
            return;
        }
        let alias_claims: Vec<&'a EmailAddress> = steps
            .iter()
            .filter_map(|s| match s {
                Step::AddAliases { aliases } => Some(aliases),
                _ => None,
            })
            .flatten()
            .filter_map(|a| kept.iter().copied().find(|w| *w == a))
            .collect();
        let snapshot_aliases = touches_aliases.then(|| account.aliases.iter().cloned().collect());
        let draft = self.draft_for_account(i, ChangeKind::Update);
        append(&mut draft.steps, steps);
        add_reason(&mut draft.reason, reason);
        append(&mut draft.transitions, transitions);
        if snapshot_aliases.is_some() {
            draft.expect.aliases = snapshot_aliases;
        }
        let d = self.draft_of_account[i as usize] as usize;
        for address in alias_claims {
            self.claim(d, address, false);
        }
    }

    /// Records that draft `d` needs `address`, if another account holds it now.
    /// The holder is looked up when claims are resolved, once every account has been read.
    fn claim(&mut self, d: usize, address: &'a EmailAddress, primary: bool) {
        self.claims.push(Claim {
            draft: d,
            address,
            holder: NONE,
            primary,
        });
    }

    /// Plans wanted entries no account matches: a primary-address change when
    /// an owned account is the same person (by external id, or because the
    /// new entry lists the old primary as an alias), otherwise a create.
    fn create_pass(&mut self) {
        let ext_index = self.external_id_index();
        for k in 0..self.wanted.unmatched.len() {
            let w = self.wanted.unmatched[k] as usize;
            match self.rename_candidate(w, &ext_index) {
                Some(c) => self.plan_rename(w, c),
                None => self.plan_create(w),
            }
        }
    }

    /// Maps external ids recorded in the state to gateway accounts, only when
    /// an unmatched entry carries one (the index is not free at a million accounts).
    fn external_id_index(&self) -> HashMap<&'a str, &'a EmailAddress> {
        let needed = self
            .wanted
            .unmatched
            .iter()
            .any(|&w| self.wanted.wants[w as usize].entry.external_id.is_some());
        if !needed {
            return HashMap::new();
        }
        self.state
            .accounts
            .iter()
            .filter_map(|(email, a)| a.external_id.as_ref().map(|x| (x.as_str(), email)))
            .collect()
    }

    fn rename_candidate(
        &self,
        w: usize,
        ext_index: &HashMap<&'a str, &'a EmailAddress>,
    ) -> Option<u32> {
        let want = &self.wanted.wants[w];
        if !want.authoritative() {
            return None;
        }
        let by_alias = self.wanted.aliases_of(want).iter().find_map(|a| {
            let slot = self.wanted.slot(a)?;
            (slot.have != NONE && slot.have_primary).then_some(slot.have)
        });
        let by_id = || {
            let id = want.entry.external_id.as_ref()?;
            let old = ext_index.get(id.as_str())?;
            let slot = self.wanted.slot(old)?;
            (slot.have != NONE && slot.have_primary && slot.want == NONE).then_some(slot.have)
        };
        let c = by_alias.or_else(by_id)?;
        let account = &self.accounts[c as usize];
        let owned = rules::directory_owned(self.origin_of(c as usize), self.desired);
        let usable = owned
            && !self.consumed[c as usize]
            && self.policy.mode == Mode::Authoritative
            && rules::protection(account, self.policy, self.target).is_none();
        usable.then_some(c)
    }

    /// A primary-address change (DESIGN: four steps), planned as one change
    /// so the executor runs the steps in order and never leaves the person
    /// without an account.
    fn plan_rename(&mut self, w: usize, c: u32) {
        self.consumed[c as usize] = true;
        let old: &'a Account = &self.accounts[c as usize];
        let want = &self.wanted.wants[w];
        let e: &'a muster_core::DirectoryEntry = want.entry;
        let want_aliases: Vec<&'a EmailAddress> = self.wanted.aliases_of(want).to_vec();
        let source: &'a str = want.source;
        let fields = rules::comparable_fields(want.provided, self.policy, self.target);
        let mut account = old.clone();
        account.primary_email = e.primary_email.clone();
        apply_owned_fields(&mut account, e, fields);
        let keep_old = !fields.contains(Field::Aliases)
            || want_aliases.iter().any(|a| **a == old.primary_email);
        if fields.contains(Field::Aliases) {
            account.aliases = want_aliases.iter().map(|a| (*a).clone()).collect();
        } else {
            account.aliases.insert(old.primary_email.clone());
        }
        let hr_why = self
            .hr_verdict(&account.primary_email)
            .filter(|_| account.user_type == UserType::EndUser);
        if hr_why.is_some() {
            self.hr_adjust_new(&mut account);
        }
        let hr_set_type = hr_why.is_some() && account.user_type != old.user_type;
        let origin = Origin::Directory(source.to_owned());
        let mut draft = Draft::new(
            e.primary_email.clone(),
            ChangeKind::Rename,
            Expect {
                exists: true,
                user_type: Some(old.user_type.clone()),
                active: Some(old.active),
                aliases: Some(old.aliases.iter().cloned().collect()),
            },
        );
        add_reason(
            &mut draft.reason,
            format!(
                "{source} now lists {} as the primary address of {}",
                e.primary_email, old.primary_email
            ),
        );
        draft.transitions.push(Transition::Rename {
            from: old.primary_email.clone(),
            to: e.primary_email.clone(),
        });
        draft.transitions.push(Transition::Claim {
            email: e.primary_email.clone(),
            origin,
            external_id: e.external_id.clone(),
        });
        let flag_why = hr_why.clone().filter(|_| {
            self.policy
                .hr_rule
                .as_ref()
                .is_some_and(|r| r.action == HrAction::Flag)
        });
        if let Some(why) = hr_why.filter(|_| hr_set_type) {
            add_reason(
                &mut draft.reason,
                format!("{why}: created as {}", account.user_type),
            );
            draft.transitions.push(Transition::TypeSetByHr {
                email: e.primary_email.clone(),
            });
        }
        draft.steps.push(Step::ChangePrimary {
            from: old.primary_email.clone(),
            strip_aliases: old.aliases.iter().cloned().collect(),
            account: Box::new(account),
            keep_old_as_alias: keep_old,
        });
        self.drafts.push(draft);
        self.draft_of_account[c as usize] = (self.drafts.len() - 1) as u32;
        // Flagged in this plan, under the address it is renamed to, as a
        // create HR acts on is (the rename clears the old address's flag).
        if let Some(why) = flag_why {
            self.flag_for_hr(c as usize, e.primary_email.clone(), why);
        }
        let d = self.drafts.len() - 1;
        self.claim(d, &e.primary_email, true);
        // Only the aliases the rename gives are claimed: with aliases not
        // compared it keeps the ones it had, and another account's address
        // it was never going to take is no clash.
        if fields.contains(Field::Aliases) {
            for alias in want_aliases {
                let held_by_old = self.wanted.slot(alias).is_some_and(|s| s.have == c);
                if !held_by_old && *alias != old.primary_email {
                    self.claim(d, alias, false);
                }
            }
        }
    }

    /// Makes a new account the HR rule would act on right away act now, so a
    /// second plan does not undo the first: a functional account, or flagged.
    fn hr_adjust_new(&self, account: &mut Account) {
        if self
            .policy
            .hr_rule
            .as_ref()
            .is_some_and(|r| r.action == HrAction::MakeFunctional)
        {
            account.user_type = UserType::FunctionalAccount;
        }
    }

    /// A create: the entry's provided fields, the type its kind maps to, a
    /// welcome letter only for end users when the policy sends them.
    fn plan_create(&mut self, w: usize) {
        let want = &self.wanted.wants[w];
        let e: &'a muster_core::DirectoryEntry = want.entry;
        let source: &'a str = want.source;
        let aliases: Vec<&'a EmailAddress> = self.wanted.aliases_of(want).to_vec();
        let fields = rules::comparable_fields(want.provided, self.policy, self.target);
        let mut account = Account::new(e.primary_email.clone()).with_type(want.user_type.clone());
        apply_owned_fields(&mut account, e, fields);
        // A disabled person reaches a create only when the policy syncs
        // disabled users: their account exists on the gateway, inactive,
        // and nobody is sent a letter. (Shared and room mailboxes sit on
        // disabled accounts by design and are created active.)
        if e.kind == muster_core::RecipientKind::UserMailbox && !e.enabled {
            account.active = false;
        }
        if fields.contains(Field::Aliases) {
            account.aliases = aliases.iter().map(|a| (*a).clone()).collect();
        }
        let hr_why = self
            .hr_verdict(&account.primary_email)
            .filter(|_| account.user_type == UserType::EndUser);
        let mut draft = Draft::new(
            e.primary_email.clone(),
            ChangeKind::Create,
            Expect {
                exists: false,
                user_type: None,
                active: None,
                aliases: None,
            },
        );
        add_reason(
            &mut draft.reason,
            format!("in {source}, not on the gateway"),
        );
        if let Some(why) = &hr_why {
            self.hr_adjust_new(&mut account);
            add_reason(
                &mut draft.reason,
                format!("{why}: created as {}", account.user_type),
            );
        }
        let welcome = rules::welcome_letter(&account, self.welcome_rule);
        draft.transitions.push(Transition::Claim {
            email: e.primary_email.clone(),
            origin: Origin::Directory(source.to_owned()),
            external_id: e.external_id.clone(),
        });
        if let (Some(why), Some(rule)) = (&hr_why, &self.policy.hr_rule) {
            if rule.action == HrAction::Flag {
                draft.flag(
                    e.primary_email.clone(),
                    self.now,
                    FlagCause::Hr,
                    why.clone(),
                );
            } else {
                draft.transitions.push(Transition::TypeSetByHr {
                    email: e.primary_email.clone(),
                });
            }
        }
        draft.steps.insert(
            0,
            Step::Create {
                account: Box::new(account),
                welcome_letter: welcome,
                bulk_group: None,
                unowned_fields: serde_json::Map::new(),
            },
        );
        self.drafts.push(draft);
        let d = self.drafts.len() - 1;
        self.claim(d, &e.primary_email, true);
        // As for a rename: an alias the create does not give is not claimed.
        if fields.contains(Field::Aliases) {
            for alias in aliases {
                self.claim(d, alias, false);
            }
        }
    }

    /// Accounts no directory lists: the deletion lifecycle for accounts a
    /// directory owns; unknown-origin accounts are only listed (unless the
    /// policy flags them); accounts someone else made are left alone.
    fn absent_pass(&mut self) {
        if self.policy.mode != Mode::Authoritative {
            return;
        }
        for (i, account) in self.accounts.iter().enumerate() {
            let matched = self.wanted.account_want[i] != NONE;
            if matched
                || self.consumed[i]
                || rules::protection(account, self.policy, self.target).is_some()
            {
                continue;
            }
            let origin = self.origin_of(i);
            let lifecycle_applies = rules::directory_owned(origin, self.desired)
                || (*origin == Origin::Unknown
                    && self.policy.unknown_origin == UnknownOrigin::AdoptMatchedFlagRest);
            if lifecycle_applies {
                self.plan_absent(i as u32);
            } else if *origin == Origin::Unknown {
                self.conflicts.push(Conflict {
                    email: account.primary_email.clone(),
                    user_type: account.user_type.clone(),
                    origin: origin.clone(),
                    kind: ConflictKind::UnknownOrigin,
                    flagged_since: None,
                    absent_runs: 0,
                    delete_after: None,
                    ignored: self.state.ignored.contains(&account.primary_email),
                    reason: format!(
                        "existed before muster; {} does not list it",
                        self.auth_source()
                    ),
                    actions: vec![
                        ConflictAction::DeleteNow,
                        ConflictAction::Ignore,
                        ConflictAction::Deactivate,
                        ConflictAction::Export,
                    ],
                });
            }
        }
    }

    fn plan_absent(&mut self, i: u32) {
        let account = &self.accounts[i as usize];
        let email = &account.primary_email;
        let origin = self.origin_of(i as usize);
        let source = match origin {
            Origin::Directory(s) => s.as_str(),
            _ => self.auth_source(),
        };
        let gone = if self.wanted.disabled.contains(email.normalized()) {
            "disabled in"
        } else {
            "absent from"
        };
        let flag = self.flag(i as usize);
        let ignored = self.state.ignored.contains(email);
        let delay = self.policy.delete_delay;
        let mut conflict = Conflict {
            email: email.clone(),
            user_type: account.user_type.clone(),
            origin: origin.clone(),
            kind: ConflictKind::Absent,
            flagged_since: flag.map(|f| f.since),
            absent_runs: flag.map_or(0, |f| f.absent_runs),
            delete_after: flag.and_then(|f| delay.duration().map(|d| f.since + d)),
            ignored,
            reason: String::new(),
            actions: vec![
                ConflictAction::DeleteNow,
                ConflictAction::Ignore,
                ConflictAction::Deactivate,
                ConflictAction::Export,
            ],
        };
        if ignored {
            conflict.reason = format!("{gone} {source}; ignored by an administrator, kept");
            conflict.actions = vec![ConflictAction::DeleteNow, ConflictAction::Export];
            self.conflicts.push(conflict);
            return;
        }
        if self.directory_guarded {
            if flag.is_some() {
                conflict.reason = format!("{gone} {source}; flag kept, not counted (safety guard)");
                self.conflicts.push(conflict);
            }
            return;
        }
        match rules::lifecycle(
            flag,
            self.new_run,
            delay,
            self.policy.min_absent_runs,
            self.now,
        ) {
            Lifecycle::StartFlag => {
                let reason = format!(
                    "{gone} {source} since {}, 1 run, delay {}",
                    rules::day(self.now),
                    delay.describe()
                );
                let deactivate = self.policy.flag_action == FlagAction::Deactivate
                    && account.active
                    && !self.deletions_held;
                let now = self.now;
                let draft = self.draft_for_account(i, ChangeKind::Flag);
                draft.flag(email.clone(), now, FlagCause::Absent, reason.clone());
                if deactivate {
                    draft.steps.push(Step::Deactivate);
                    draft.transitions.push(Transition::Deactivated {
                        email: email.clone(),
                    });
                }
                add_reason(&mut draft.reason, reason.clone());
                conflict.flagged_since = Some(self.now);
                conflict.absent_runs = 1;
                conflict.delete_after = delay.duration().map(|d| self.now + d);
                conflict.reason = reason;
                self.conflicts.push(conflict);
            }
            Lifecycle::Wait { runs, due } => {
                self.count_absent(flag, email, runs);
                let since = flag.map(|f| f.since).unwrap_or(self.now);
                conflict.absent_runs = runs;
                conflict.reason = match due {
                    Some(due) => format!(
                        "{gone} {source} since {}, {runs} of {} runs, delay {} (deletable from {})",
                        rules::day(since),
                        self.policy.min_absent_runs,
                        delay.describe(),
                        rules::day(due)
                    ),
                    None => format!(
                        "{gone} {source} since {}, {runs} runs; never deleted (delay: never)",
                        rules::day(since)
                    ),
                };
                self.conflicts.push(conflict);
            }
            Lifecycle::Delete { runs } if self.deletions_held => {
                self.count_absent(flag, email, runs);
                let since = flag.map(|f| f.since).unwrap_or(self.now);
                conflict.absent_runs = runs;
                conflict.reason = format!(
                    "{gone} {source} since {}, {runs} runs, delay {}; deletion held: records of {} could not be read",
                    rules::day(since),
                    delay.describe(),
                    self.auth_source()
                );
                self.conflicts.push(conflict);
            }
            Lifecycle::Delete { runs } => {
                let since = flag.map(|f| f.since).unwrap_or(self.now);
                let reason = format!(
                    "{gone} {source} since {}, {runs} runs, delay {}",
                    rules::day(since),
                    delay.describe()
                );
                let draft = self.draft_for_account(i, ChangeKind::Delete);
                draft.kind = ChangeKind::Delete;
                draft.steps.push(Step::Delete);
                draft.transitions.push(Transition::Forget {
                    email: email.clone(),
                });
                add_reason(&mut draft.reason, reason);
            }
        }
    }

    /// Records this run in an absent account's count, if it moved.
    fn count_absent(&mut self, flag: Option<&FlagState>, email: &EmailAddress, runs: u32) {
        if flag.is_some_and(|f| f.absent_runs != runs) {
            self.run_transitions.push(Transition::CountAbsent {
                email: email.clone(),
                runs,
            });
        }
    }

    /// The HR rule (seed 002): an end user absent from HR or terminated there
    /// becomes a functional account (or is flagged), unless allowlisted.
    /// Same guards as the directory (a partial HR list acts on nobody), and
    /// the type change counts toward the threshold.
    fn hr_pass(&mut self) {
        let Some(rule) = &self.policy.hr_rule else {
            return;
        };
        let Some(hr) = &self.desired.hr else { return };
        if self.hr_guarded {
            return;
        }
        for (i, account) in self.accounts.iter().enumerate() {
            let email = &account.primary_email;
            if self.consumed[i] || rules::protection(account, self.policy, self.target).is_some() {
                continue;
            }
            let deleted = self
                .draft_of(i as u32)
                .is_some_and(|d| self.drafts[d].steps.contains(&Step::Delete));
            if deleted {
                continue;
            }
            let hr_flag = self.flag(i).filter(|f| f.cause == FlagCause::Hr);
            let verdict = if account.user_type == UserType::EndUser || hr_flag.is_some() {
                self.hr_verdict(email)
            } else {
                None
            };
            match (verdict, rule.action) {
                (Some(why), HrAction::MakeFunctional) if account.user_type == UserType::EndUser => {
                    let draft = self.draft_for_account(i as u32, ChangeKind::Update);
                    draft.steps.push(Step::SetType {
                        from: UserType::EndUser,
                        to: UserType::FunctionalAccount,
                    });
                    draft.transitions.push(Transition::TypeSetByHr {
                        email: email.clone(),
                    });
                    add_reason(
                        &mut draft.reason,
                        format!("{why}: becomes a functional account"),
                    );
                }
                (Some(why), HrAction::Flag) => {
                    if self.flag(i).is_some() {
                        continue;
                    }
                    // Already flagged this run for leaving the directory:
                    // one flag, with HR's word added to its reason.
                    if let Some(d) = self.draft_of(i as u32)
                        && self.drafts[d].steps.contains(&Step::Flag)
                    {
                        add_reason(&mut self.drafts[d].reason, why);
                        continue;
                    }
                    self.flag_for_hr(i, email.clone(), why);
                }
                (None, _) if hr_flag.is_some() && self.hr.contains_key(email.normalized()) => {
                    let draft = self.draft_for_account(i as u32, ChangeKind::Update);
                    draft.steps.push(Step::Unflag);
                    draft.transitions.push(Transition::Unflag {
                        email: email.clone(),
                    });
                    add_reason(
                        &mut draft.reason,
                        format!("employed again in {}", hr.source),
                    );
                }
                _ => {}
            }
        }
    }

    /// Flags account `i` for HR (`email`: the address it has once this
    /// plan's change to it is made), and lists it as an HR conflict.
    fn flag_for_hr(&mut self, i: usize, email: EmailAddress, why: String) {
        let now = self.now;
        let draft = self.draft_for_account(i as u32, ChangeKind::Flag);
        draft.flag(email.clone(), now, FlagCause::Hr, why.clone());
        add_reason(&mut draft.reason, format!("{why}: flagged"));
        self.conflicts.push(Conflict {
            email,
            user_type: self.accounts[i].user_type.clone(),
            origin: self.origin_of(i).clone(),
            kind: ConflictKind::Hr,
            flagged_since: Some(self.now),
            absent_runs: 0,
            delete_after: None,
            ignored: false,
            reason: why,
            actions: vec![
                ConflictAction::DeleteNow,
                ConflictAction::Ignore,
                ConflictAction::Deactivate,
                ConflictAction::Export,
            ],
        });
    }

    /// One address never belongs to two accounts: a draft that needs an
    /// address another account holds waits for the change that frees it (an
    /// alias moving from A to B: A first); when nothing frees it, the address
    /// is skipped with both sides named.
    fn resolve_claims(&mut self) {
        let claims: Vec<Claim<'a>> = std::mem::take(&mut self.claims)
            .into_iter()
            .filter_map(|mut c| {
                c.holder = self.wanted.slot(c.address)?.have;
                (c.holder != NONE).then_some(c)
            })
            .collect();
        // A draft whose own address cannot be freed is dropped; that may in
        // turn leave others unfreed (a rename that does not happen strips
        // nothing), so repeat until nothing more is dropped.
        loop {
            let mut dropped = false;
            for claim in claims.iter().filter(|c| c.primary) {
                if !self.drafts[claim.draft].dead && self.freeing_draft(claim).is_none() {
                    self.refuse_claim(claim);
                    dropped = true;
                }
            }
            if !dropped {
                break;
            }
        }
        for claim in &claims {
            if self.drafts[claim.draft].dead {
                continue;
            }
            match self.freeing_draft(claim) {
                Some(h) => {
                    self.drafts[h].releases = true;
                    self.drafts[claim.draft].deps.push(h);
                }
                None => self.refuse_claim(claim),
            }
        }
    }

    /// The live draft of the holding account that frees the claimed address, if any.
    fn freeing_draft(&self, claim: &Claim<'_>) -> Option<usize> {
        self.draft_of(claim.holder).filter(|&h| {
            h != claim.draft && !self.drafts[h].dead && self.drafts[h].frees(claim.address)
        })
    }

    /// The claimed address stays where it is: the claim is skipped with both
    /// sides named, and a create of that very address is dropped.
    fn refuse_claim(&mut self, claim: &Claim<'_>) {
        let holder = &self.accounts[claim.holder as usize];
        let source = self.auth_source().to_owned();
        let draft = &mut self.drafts[claim.draft];
        let role = if holder.primary_email == *claim.address {
            "the primary address"
        } else {
            "an alias"
        };
        let reason = format!(
            "{} is already {role} of {} on the gateway; not given to {}",
            claim.address, holder.primary_email, draft.email
        );
        self.skipped.push(Skipped {
            email: claim.address.to_string(),
            source,
            location: None,
            code: SkipCode::AddressClash,
            reason,
        });
        if claim.primary {
            draft.dead = true;
        } else {
            draft.drop_address(claim.address);
        }
    }

    /// Replaces what this plan would do with the administrator's action on
    /// the requested conflicts (see [`plan_conflict_action`]).
    fn act_on_conflicts(
        &mut self,
        request: &ConflictRequest,
        guards: &[Guard],
    ) -> Result<(), PlanError> {
        let refuse = |address: &EmailAddress, reason: String| PlanError::ConflictAction {
            address: address.to_string(),
            action: request.action,
            reason,
        };
        let mut chosen = Vec::with_capacity(request.addresses.len());
        for address in &request.addresses {
            if let Some(guard) = guards.iter().find(|g| g.holds_deletions()) {
                return Err(refuse(address, format!("a safety guard holds it: {guard}")));
            }
            let Some(i) = self.account_index(address) else {
                return Err(refuse(address, "no such account on the gateway".into()));
            };
            let account = &self.accounts[i];
            if let Some(why) = rules::protection(account, self.policy, self.target) {
                return Err(refuse(address, format!("it is protected ({why})")));
            }
            let Some(conflict) = self.conflicts.iter().find(|c| c.email == *address) else {
                let why = if self.wanted.account_want[i] != NONE {
                    format!(
                        "a source lists it ({} or another): it is not a conflict",
                        self.auth_source()
                    )
                } else {
                    format!(
                        "it is not a conflict (origin {}: a directory sync leaves it alone)",
                        self.origin_of(i)
                    )
                };
                return Err(refuse(address, why));
            };
            if !matches!(conflict.origin, Origin::Directory(_)) && !request.include_unowned {
                return Err(refuse(
                    address,
                    format!(
                        "muster does not own it (origin {}); pass --include-unowned to act on it anyway",
                        conflict.origin
                    ),
                ));
            }
            if !conflict.actions.contains(&request.action) {
                return Err(refuse(
                    address,
                    format!("this conflict does not offer it ({})", conflict.reason),
                ));
            }
            if request.action == ConflictAction::Deactivate && !account.active {
                return Err(refuse(address, "it is inactive already".into()));
            }
            chosen.push((i as u32, conflict.reason.clone()));
        }
        self.drafts.clear();
        self.draft_of_account.fill(NONE);
        self.claims.clear();
        self.run_transitions.clear();
        self.conflicts
            .retain(|c| request.addresses.contains(&c.email));
        self.conflict_action = true;
        for (i, reason) in chosen {
            let email = self.accounts[i as usize].primary_email.clone();
            let (kind, step, transition, what) = match request.action {
                ConflictAction::Deactivate => (
                    ChangeKind::Update,
                    Step::Deactivate,
                    Transition::Deactivated {
                        email: email.clone(),
                    },
                    "deactivated",
                ),
                _ => (
                    ChangeKind::Delete,
                    Step::Delete,
                    Transition::Forget {
                        email: email.clone(),
                    },
                    "deleted now",
                ),
            };
            let draft = self.draft_for_account(i, kind);
            draft.steps.push(step);
            draft.transitions.push(transition);
            add_reason(
                &mut draft.reason,
                format!("{what} by an administrator (conflict: {reason})"),
            );
        }
        Ok(())
    }

    /// Orders the changes (phase, then address), numbers them, resolves
    /// dependencies to numbers, and adds the summary, threshold and fingerprint.
    fn finish(mut self, guards: Vec<Guard>) -> Plan {
        let drafts = std::mem::take(&mut self.drafts);
        let order: Vec<usize> = (0..drafts.len())
            .filter(|&d| !drafts[d].dead && !drafts[d].steps.is_empty())
            .collect();
        let phases: Vec<Phase> = drafts.iter().map(Draft::phase).collect();
        // Sort keys read once per draft: the address's first sixteen bytes as a
        // number decide most comparisons without reading the address again.
        // The index breaks no ties (one draft per address and phase) but keeps
        // the order total.
        let mut keyed: Vec<(Phase, u128, &str, usize)> = order
            .iter()
            .map(|&d| {
                let key = drafts[d].email.normalized();
                (phases[d], prefix(key), key, d)
            })
            .collect();
        keyed.sort_unstable();
        let order: Vec<usize> = keyed.into_iter().map(|(_, _, _, d)| d).collect();
        let mut id_of = vec![u32::MAX; drafts.len()];
        for (id, &d) in order.iter().enumerate() {
            id_of[d] = id as u32;
        }
        let bulk = self.target.capabilities.bulk_create;
        let mut creates_seen = 0u32;
        let mut drafts: Vec<Option<Draft>> = drafts.into_iter().map(Some).collect();
        let mut changes = Vec::with_capacity(order.len());
        let mut deleted_billable = 0usize;
        for (id, &d) in order.iter().enumerate() {
            let Some(mut draft) = drafts[d].take() else {
                continue;
            };
            if let Some(i) = draft
                .account
                .filter(|_| draft.steps.iter().any(|s| matches!(s, Step::Delete)))
            {
                deleted_billable += usize::from(rules::billable(&self.accounts[i as usize]));
            }
            let mut deps: Vec<u32> = draft
                .deps
                .iter()
                .map(|&x| id_of[x])
                .filter(|&x| x != u32::MAX)
                .collect();
            deps.sort_unstable();
            deps.dedup();
            if bulk && deps.is_empty() {
                for step in &mut draft.steps {
                    if let Step::Create { bulk_group, .. } = step {
                        *bulk_group = Some(creates_seen / self.policy.bulk_size as u32);
                        creates_seen += 1;
                    }
                }
            }
            changes.push(AccountChange {
                id: id as u32,
                email: draft.email,
                kind: draft.kind,
                phase: phases[d],
                steps: draft.steps,
                expect: draft.expect,
                depends_on: deps,
                reason: draft.reason,
                transitions: draft.transitions,
            });
        }
        sort_by_address(&mut self.conflicts, |c| {
            (c.email.normalized(), c.kind as u8)
        });
        self.conflicts.dedup_by(|a, b| a.email == b.email);
        self.skipped.sort();
        self.skipped.dedup();
        sort_by_address(&mut self.run_transitions, |t| (transition_key(t), 0));
        let mut summary = summarize(
            &changes,
            self.billable_before,
            deleted_billable,
            self.target,
            self.policy,
            (self.conflicts.len(), self.skipped.len()),
        );
        summary.welcome_rule = self.welcome_rule;
        let expected_count = (self.accounts.len()
            + summary.changes.get("create").copied().unwrap_or(0))
        .saturating_sub(summary.changes.get("delete").copied().unwrap_or(0));
        // An action on conflicts is no run of the sync: the last run's time
        // stays, only the expected account count follows the deletes.
        let at = if self.conflict_action {
            self.state.last_run.unwrap_or(self.now)
        } else {
            self.now
        };
        self.run_transitions.push(Transition::RecordRun {
            at,
            gateway_count: expected_count,
        });
        let threshold = threshold_check(&changes, &summary, self.accounts.len(), self.policy);
        let mut plan = Plan {
            schema_version: PLAN_SCHEMA_VERSION,
            stack: self.target.stack.clone(),
            org: self.target.org.clone(),
            source: self.auth_source().to_owned(),
            planned_at: self.now,
            fingerprint: String::new(),
            changes,
            conflicts: self.conflicts,
            skipped: self.skipped,
            guards,
            notes: rules::notes(self.desired, self.policy, self.target),
            run_transitions: self.run_transitions,
            summary,
            threshold,
            signature: None,
        };
        plan.fingerprint = plan.content_fingerprint();
        plan
    }
}

/// The guards that need an override, checked against `changes`: the
/// destructive threshold and the create limit for a gateway of `accounts`
/// accounts, and the licence count when the plan adds billable users.
fn threshold_check(
    changes: &[AccountChange],
    summary: &Summary,
    accounts: usize,
    policy: &Policy,
) -> ThresholdCheck {
    let destructive: usize = changes.iter().map(AccountChange::destructive_count).sum();
    let allowed = policy.threshold.allowed(accounts);
    let creates = summary.steps.get("create").copied().unwrap_or(0);
    let creates_allowed = policy.create_limit.allowed(accounts);
    let adds_billable = summary.billable_after > summary.billable_before;
    ThresholdCheck {
        destructive,
        allowed,
        exceeded_by: (destructive > allowed).then(|| destructive - allowed),
        creates,
        creates_allowed,
        creates_exceeded_by: (creates > creates_allowed).then(|| creates - creates_allowed),
        licences_exceeded_by: summary.over_licence_by.filter(|_| adds_billable),
        overridden: policy.threshold_override,
    }
}

/// Plans putting accounts back as their before-images show them (`muster
/// restore`): an account that is gone is created from its saved object —
/// the fields muster does not own included, and never with a welcome
/// letter (its owner had the account all along); one that exists gets its
/// name, aliases, type, activation, sender lists and memberships back in
/// one update, expected as it is now (a change since is a stale change,
/// not an overwrite). Protected accounts are left alone. The plan goes
/// through review and apply like any other; it records no run.
///
/// A restored account's origin is not claimed: the next sync adopts it if
/// a directory lists it, and lists it as a conflict otherwise (never
/// deletes it again without a person deciding).
pub fn plan_restore(
    saved: &[(Account, serde_json::Map<String, serde_json::Value>)],
    current: &GatewayListing,
    target: &TargetProfile,
    state: &SyncState,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Plan, PlanError> {
    rules::check_state_stamp(state, target)?;
    rules::check_clock(state, now)?;
    let by_primary: HashMap<&str, &Account> = current
        .accounts
        .iter()
        .map(|a| (a.primary_email.normalized(), a))
        .collect();
    let mut drafts = Vec::new();
    let mut skipped = Vec::new();
    for (before, unowned) in saved {
        let email = &before.primary_email;
        let Some(now_there) = by_primary.get(email.normalized()) else {
            let mut account = before.clone();
            account.read_only = false;
            let mut draft = Draft::new(
                email.clone(),
                ChangeKind::Create,
                Expect {
                    exists: false,
                    user_type: None,
                    active: None,
                    aliases: None,
                },
            );
            draft.steps.push(Step::Create {
                account: Box::new(account),
                welcome_letter: false,
                bulk_group: None,
                unowned_fields: unowned.clone(),
            });
            draft.reason =
                "restored from its before-image (created again, no welcome letter)".into();
            drafts.push(draft);
            continue;
        };
        if let Some(why) = rules::protection(now_there, policy, target) {
            skipped.push(Skipped {
                email: email.to_string(),
                source: "restore".into(),
                location: None,
                code: SkipCode::Protected,
                reason: why.into(),
            });
            continue;
        }
        let mut draft = Draft::new(
            email.clone(),
            ChangeKind::Update,
            Expect {
                exists: true,
                user_type: Some(now_there.user_type.clone()),
                active: Some(now_there.active),
                aliases: Some(now_there.aliases.iter().cloned().collect()),
            },
        );
        for (field, was, is) in [
            (Field::FirstName, &before.first_name, &now_there.first_name),
            (Field::LastName, &before.last_name, &now_there.last_name),
        ] {
            if was != is {
                draft.steps.push(Step::SetField {
                    field,
                    before: is.clone(),
                    after: was.clone(),
                });
            }
        }
        let missing: Vec<EmailAddress> = before
            .aliases
            .iter()
            .filter(|a| !now_there.aliases.contains(a))
            .cloned()
            .collect();
        if !missing.is_empty() {
            draft.steps.push(Step::AddAliases { aliases: missing });
        }
        for (field, was, is) in [
            (
                Field::AllowSenders,
                &before.allow_senders,
                &now_there.allow_senders,
            ),
            (
                Field::BlockSenders,
                &before.block_senders,
                &now_there.block_senders,
            ),
            (Field::Groups, &before.groups, &now_there.groups),
        ] {
            let add: Vec<String> = was.difference(is).cloned().collect();
            if !add.is_empty() {
                draft.steps.push(Step::ChangeList {
                    field,
                    add,
                    remove: Vec::new(),
                });
            }
        }
        if before.user_type != now_there.user_type {
            draft.steps.push(Step::SetType {
                from: now_there.user_type.clone(),
                to: before.user_type.clone(),
            });
        }
        if before.active && !now_there.active {
            draft.steps.push(Step::Activate);
            draft.transitions.push(Transition::Reactivated {
                email: email.clone(),
            });
        }
        if !draft.steps.is_empty() {
            draft.reason = "restored from its before-image".into();
            drafts.push(draft);
        }
    }
    drafts
        .sort_by(|a, b| (a.phase(), a.email.normalized()).cmp(&(b.phase(), b.email.normalized())));
    let changes: Vec<AccountChange> = drafts
        .into_iter()
        .enumerate()
        .map(|(id, d)| AccountChange {
            id: id as u32,
            phase: d.phase(),
            email: d.email,
            kind: d.kind,
            steps: d.steps,
            expect: d.expect,
            depends_on: Vec::new(),
            reason: d.reason,
            transitions: d.transitions,
        })
        .collect();
    skipped.sort();
    let billable_before = current
        .accounts
        .iter()
        .filter(|a| rules::billable(a))
        .count();
    let summary = summarize(
        &changes,
        billable_before,
        0,
        target,
        policy,
        (0, skipped.len()),
    );
    let threshold = threshold_check(&changes, &summary, current.accounts.len(), policy);
    let created = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Create)
        .count();
    let mut plan = Plan {
        schema_version: PLAN_SCHEMA_VERSION,
        stack: target.stack.clone(),
        org: target.org.clone(),
        source: "restore".into(),
        planned_at: now,
        fingerprint: String::new(),
        changes,
        conflicts: Vec::new(),
        skipped,
        guards: Vec::new(),
        notes: Vec::new(),
        run_transitions: vec![Transition::RecordRun {
            at: state.last_run.unwrap_or(now),
            gateway_count: current.accounts.len() + created,
        }],
        summary,
        threshold,
        signature: None,
    };
    plan.fingerprint = plan.content_fingerprint();
    Ok(plan)
}

/// Adds `text` to a change's reason: the reasons of one change read as one
/// sentence, joined with "; " (most changes have one, kept as it is).
fn add_reason(reason: &mut String, text: String) {
    if reason.is_empty() {
        *reason = text;
    } else {
        reason.push_str("; ");
        reason.push_str(&text);
    }
}

/// Appends `items` to `to`, taking over `items`' buffer when `to` is empty
/// (a fresh draft: most of them).
fn append<T>(to: &mut Vec<T>, mut items: Vec<T>) {
    if to.is_empty() {
        *to = items;
    } else {
        to.append(&mut items);
    }
}

/// The first sixteen bytes of `s` as a big-endian number (zero-padded):
/// numbers compare as the strings' beginnings do.
fn prefix(s: &str) -> u128 {
    let mut b = [0u8; 16];
    let n = s.len().min(16);
    b[..n].copy_from_slice(&s.as_bytes()[..n]);
    u128::from_be_bytes(b)
}

/// Puts `items` in the order of their addresses (then of a small rank),
/// reading each address once: its first sixteen bytes as a number decide
/// most comparisons without reading it again (at a million accounts every
/// read of an address is a cache miss; a comparison sort reads each one
/// twenty times). Items with equal keys keep their order.
fn sort_by_address<T>(items: &mut Vec<T>, key: impl Fn(&T) -> (&str, u8)) {
    let order: Vec<usize> = {
        let mut keyed: Vec<(u128, &str, u8, usize)> = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let (address, rank) = key(item);
                (prefix(address), address, rank, i)
            })
            .collect();
        keyed.sort_unstable();
        keyed.into_iter().map(|(_, _, _, i)| i).collect()
    };
    let mut slots: Vec<Option<T>> = std::mem::take(items).into_iter().map(Some).collect();
    *items = order.iter().filter_map(|&i| slots[i].take()).collect();
}

fn transition_key(t: &Transition) -> &str {
    match t {
        Transition::CountAbsent { email, .. } => email.normalized(),
        _ => "",
    }
}

/// True when every text field (compared as [`rules::same_text`]) and every
/// list of `e` equals `a`'s: nothing but aliases and state can change.
pub(crate) fn fields_equal(a: &Account, e: &muster_core::DirectoryEntry) -> bool {
    // Field by field rather than through `text_fields`: this runs for every
    // matched account, and most differ in nothing (or in the first name).
    let same =
        |x: &Option<String>, y: &Option<String>| rules::same_text(x.as_deref(), y.as_deref());
    same(&a.first_name, &e.first_name)
        && same(&a.last_name, &e.last_name)
        && same(&a.mobile, &e.mobile)
        && same(&a.phone, &e.phone)
        && same(&a.company, &e.company)
        && same(&a.department, &e.department)
        && same(&a.notes, &e.notes)
        && same_list(&a.groups, &e.member_of)
        && same_list(&a.allow_senders, &e.allow_senders)
        && same_list(&a.block_senders, &e.block_senders)
}

/// `a == b`, without building two B-tree iterators when both are empty
/// (most accounts' groups and sender lists, every run).
fn same_list(
    a: &std::collections::BTreeSet<String>,
    b: &std::collections::BTreeSet<String>,
) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// The steps that set `a`'s text fields among `fields` to `e`'s where they
/// differ (compared as [`rules::same_text`]).
pub(crate) fn text_field_steps(
    a: &Account,
    e: &muster_core::DirectoryEntry,
    fields: muster_core::FieldSet,
) -> Vec<Step> {
    text_fields(a, e)
        .into_iter()
        .filter(|(field, have, wants)| fields.contains(*field) && !rules::same_text(*have, *wants))
        .map(|(field, have, wants)| Step::SetField {
            field,
            before: have.map(str::to_owned),
            after: wants.map(|s| s.trim().to_owned()),
        })
        .collect()
}

/// The text fields with the gateway's and the directory's values.
fn text_fields<'x>(
    a: &'x Account,
    e: &'x muster_core::DirectoryEntry,
) -> [(Field, Option<&'x str>, Option<&'x str>); 7] {
    [
        (
            Field::FirstName,
            a.first_name.as_deref(),
            e.first_name.as_deref(),
        ),
        (
            Field::LastName,
            a.last_name.as_deref(),
            e.last_name.as_deref(),
        ),
        (Field::Mobile, a.mobile.as_deref(), e.mobile.as_deref()),
        (Field::Phone, a.phone.as_deref(), e.phone.as_deref()),
        (Field::Company, a.company.as_deref(), e.company.as_deref()),
        (
            Field::Department,
            a.department.as_deref(),
            e.department.as_deref(),
        ),
        (Field::Notes, a.notes.as_deref(), e.notes.as_deref()),
    ]
}

/// Copies the comparable fields (see `rules::comparable_fields`) of an entry
/// onto an account being created.
fn apply_owned_fields(
    account: &mut Account,
    e: &muster_core::DirectoryEntry,
    fields: muster_core::FieldSet,
) {
    let trimmed = |s: &Option<String>| s.as_deref().and_then(muster_core::non_blank);
    for (field, slot, value) in [
        (Field::FirstName, &mut account.first_name, &e.first_name),
        (Field::LastName, &mut account.last_name, &e.last_name),
        (Field::Mobile, &mut account.mobile, &e.mobile),
        (Field::Phone, &mut account.phone, &e.phone),
        (Field::Company, &mut account.company, &e.company),
        (Field::Department, &mut account.department, &e.department),
        (Field::Notes, &mut account.notes, &e.notes),
    ] {
        if fields.contains(field) {
            *slot = trimmed(value);
        }
    }
    if fields.contains(Field::Groups) {
        account.groups.clone_from(&e.member_of);
    }
    if fields.contains(Field::AllowSenders) {
        account.allow_senders.clone_from(&e.allow_senders);
    }
    if fields.contains(Field::BlockSenders) {
        account.block_senders.clone_from(&e.block_senders);
    }
}

/// Counts per heading and step, welcome letters, billable delta, API calls.
fn summarize(
    changes: &[AccountChange],
    before: usize,
    deleted_billable: usize,
    target: &TargetProfile,
    policy: &Policy,
    (conflicts, skipped): (usize, usize),
) -> Summary {
    let mut s = Summary {
        conflicts,
        skipped,
        licence_count: target.licence_count,
        ..Summary::default()
    };
    // Counted under the names' static strings in two short lists (a handful
    // of names; a map lookup per change and step cost more than the rest of
    // the summary), owned once at the end.
    let mut by_kind: Vec<(&'static str, usize)> = Vec::new();
    let mut by_step: Vec<(&'static str, usize)> = Vec::new();
    fn count(counts: &mut Vec<(&'static str, usize)>, name: &'static str) {
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => counts.push((name, 1)),
        }
    }
    let mut after = before as i64 - deleted_billable as i64;
    let mut creates = 0u64;
    let mut calls = 0u64;
    for c in changes {
        count(&mut by_kind, c.kind.as_str());
        let mut writes = false;
        for step in &c.steps {
            count(&mut by_step, step.name());
            match step {
                Step::Create {
                    account,
                    welcome_letter,
                    ..
                } => {
                    creates += 1;
                    s.welcome_letters += usize::from(*welcome_letter);
                    after += i64::from(rules::billable(account));
                }
                Step::Delete => calls += 1,
                Step::SetType { from, to } => {
                    writes = true;
                    let billable =
                        |t: &UserType| matches!(t, UserType::EndUser | UserType::SilentUser);
                    after += i64::from(billable(to)) - i64::from(billable(from));
                }
                Step::ChangePrimary { .. } => calls += 5,
                s if s.is_state_only() => {}
                _ => writes = true,
            }
        }
        if writes {
            calls += 2;
        }
    }
    calls += if target.capabilities.bulk_create {
        creates.div_ceil(policy.bulk_size as u64)
    } else {
        creates
    };
    let owned = |m: Vec<(&str, usize)>| m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    s.changes = owned(by_kind);
    s.steps = owned(by_step);
    s.billable_before = before;
    s.billable_after = after.max(0) as usize;
    s.api_calls = calls;
    s.over_licence_by = target
        .licence_count
        .and_then(|l| (s.billable_after as u64).checked_sub(l))
        .filter(|x| *x > 0);
    s
}

#[cfg(test)]
mod tests {
    use muster_core::{DirectoryEntry, FieldSet};

    use super::*;

    /// A field the source could not read for one entry (`withheld`) is
    /// neither cleared on that account nor set on a new one; the entry's
    /// other fields, and the same field of other entries, still are.
    #[test]
    fn a_withheld_field_is_left_as_the_gateway_has_it() {
        use crate::{Desired, GatewayListing, SyncState, TargetProfile};
        let domain: muster_core::Domain = "example.com".parse().unwrap();
        let a = |s: &str| -> EmailAddress { s.parse().unwrap() };
        let mut ann = DirectoryEntry::new(a("ann@example.com")).with_names("", "Lee-Smith");
        ann.withheld.insert(Field::FirstName);
        let mut cy = DirectoryEntry::new(a("cy@example.com")).with_names("", "Oh");
        cy.withheld.insert(Field::FirstName);
        let bob = DirectoryEntry::new(a("bob@example.com")).with_names("Robert", "Ray");
        let provided = FieldSet::from_iter([Field::FirstName, Field::LastName]);
        let snapshot =
            muster_core::DirectorySnapshot::new("ldap", provided).with_entries(vec![ann, bob, cy]);
        let accounts = vec![
            Account::new(a("ann@example.com")).with_names("Ann", "Lee"),
            Account::new(a("bob@example.com")).with_names("Bob", "Ray"),
        ];
        let target = TargetProfile::new("us1", "example.com").with_domain(domain.clone());
        let policy = Policy::builder().managed_domain(domain).build();
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-02T06:00:00Z")
            .unwrap()
            .to_utc();
        let plan = crate::plan(
            &Desired::new(snapshot),
            &GatewayListing::complete(accounts),
            &target,
            &SyncState::new("us1", "example.com"),
            &policy,
            now,
        )
        .unwrap();
        let fields_set = |email: &str| -> Vec<Field> {
            let e = a(email);
            plan.changes
                .iter()
                .filter(|c| c.email == e)
                .flat_map(|c| &c.steps)
                .filter_map(|s| match s {
                    Step::SetField { field, .. } => Some(*field),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(fields_set("ann@example.com"), [Field::LastName]);
        assert_eq!(fields_set("bob@example.com"), [Field::FirstName]);
        let created = plan
            .changes
            .iter()
            .flat_map(|c| &c.steps)
            .find_map(|s| match s {
                Step::Create { account, .. } => Some(account),
                _ => None,
            })
            .expect("cy is created");
        assert_eq!(created.first_name, None);
        assert_eq!(created.last_name.as_deref(), Some("Oh"));
    }

    /// `fields_equal` (the fast path) and `text_field_steps` list the text
    /// fields separately: a field added to one and not the other would make
    /// an account look unchanged while its steps say otherwise.
    #[test]
    fn fields_equal_sees_every_text_field_the_steps_set() {
        let email: EmailAddress = "ann@example.com".parse().unwrap();
        let account = Account::new(email.clone()).with_names("Ann", "Lee");
        let entry = DirectoryEntry::new(email).with_names(" Ann ", "Lee");
        assert!(fields_equal(&account, &entry), "trimmed text is the same");
        let all = FieldSet::from_iter(text_fields(&account, &entry).map(|(f, _, _)| f));
        assert!(text_field_steps(&account, &entry, all).is_empty());
        let edits: [fn(&mut DirectoryEntry); 7] = [
            |e| e.first_name = Some("Anne".into()),
            |e| e.last_name = None,
            |e| e.mobile = Some("+1 555".into()),
            |e| e.phone = Some("+1 556".into()),
            |e| e.company = Some("Example".into()),
            |e| e.department = Some("Sales".into()),
            |e| e.notes = Some("VIP".into()),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut changed = entry.clone();
            edit(&mut changed);
            assert!(!fields_equal(&account, &changed), "edit {i} not seen");
            assert_eq!(
                text_field_steps(&account, &changed, all).len(),
                1,
                "edit {i}"
            );
        }
    }
}
