//! A reference planner: the reconcile rules of DESIGN.md ("The reconcile
//! engine") and the vendors' pages in the seeds, written out the slow,
//! obvious way — plain maps and loops, one rule after another, no index, no
//! fast path — so that `oracle.rs` can check `plan()` against it.
//!
//! It never calls the planner's internals: only the public input types, the
//! policy's getters and the plan's public types are shared.
//!
//! # What "the same plan" means
//!
//! [`SamePlan`] is a plan with what may legitimately vary taken out. Two
//! plans are the same when they have:
//!
//! - the same **account changes**: per account (by normalised address) the
//!   same kind, phase, steps in order (field diffs with their before and
//!   after values, aliases, list changes, types, creates with the whole
//!   account, welcome letter and bulk group), preconditions, transitions,
//!   and dependencies. Change ids are replaced by the address of the change
//!   they name, and changes are compared sorted by address: the plan's own
//!   order (phase, then address) is checked separately, by
//!   [`changes_in_stable_order`];
//! - the same **conflicts** (address, type, origin, kind, flag times, absent
//!   runs, ignored, actions), sorted by address;
//! - the same **skipped entries** (address, source, location, code), as a
//!   sorted set (the planner lists a record once per distinct reason: an
//!   alias lost to another entry and then refused on the gateway is two
//!   records of one address; the reasons are not modelled, so neither is
//!   that count: the summary's `skipped` is checked against the plan's own
//!   list instead);
//! - the same **guards**, sorted, and the same **run transitions**;
//! - the same **summary** counts (changes and steps per kind, conflicts,
//!   skipped, welcome letters and their rule, billable before and after,
//!   licence, API calls) and the same number of **destructive steps**, and
//!   override.
//!
//! Left out on purpose:
//!
//! - every *reason* (of changes, conflicts, skipped entries and flag
//!   transitions): text for a human, checked by the render snapshots and the
//!   named tests; and address *spelling* (addresses compare as the gateway
//!   does, without case);
//! - the threshold's `allowed` and `exceeded_by`, the `allowed` of
//!   [`Guard::GatewayShrank`], and any create threshold: that arithmetic is
//!   being changed (rounding up, mass creates, the licence count) and is
//!   compared by the threshold tests instead. The generator keeps the
//!   gateway-shrank guard where rounding cannot change whether it trips;
//! - the fingerprint (a hash of all of the above, `allowed` included);
//! - guards this reference does not know (`Guard` is non-exhaustive): a new
//!   guard is checked by its own tests until the reference learns it.
//!
//! # What it does not model
//!
//! Primary-address changes (`ChangePrimary`): the oracle's generator never
//! lets an alias name a primary address and gives entries no external id,
//! so no rename can arise; renames are covered by `lifecycle.rs` and the
//! convergence law in `laws.rs`. The rules below still handle an alias that
//! is a primary (it is refused) so the reference stays honest if that
//! changes.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use muster_core::{
    Account, Completeness, DirectoryEntry, EmailAddress, Field, FieldSet, HrStatus, Location,
    Origin, RecipientKind, UserType,
};
use muster_reconcile::{
    ChangeKind, ConflictAction, ConflictKind, Desired, FlagAction, FlagCause, GatewayListing,
    Guard, HrAction, Mode, Phase, Plan, Policy, SkipCode, Step, SyncState, TargetProfile,
    Transition, UnknownOrigin, WelcomeRule,
};

/// Everything `plan()` is given.
pub struct Inputs<'a> {
    pub desired: &'a Desired,
    pub current: &'a GatewayListing,
    pub target: &'a TargetProfile,
    pub state: &'a SyncState,
    pub policy: &'a Policy,
    pub now: DateTime<Utc>,
}

/// A plan, normalised (see the module's doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamePlan {
    pub header: (u32, String, String, String, DateTime<Utc>),
    pub changes: Vec<SameChange>,
    pub conflicts: Vec<SameConflict>,
    pub skipped: Vec<SameSkipped>,
    pub guards: Vec<Guard>,
    pub run_transitions: Vec<Transition>,
    pub summary: SameSummary,
    /// Destructive steps counted by the threshold.
    pub destructive: usize,
    pub overridden: bool,
}

/// One account change, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SameChange {
    /// The normalised address.
    pub email: String,
    pub kind: ChangeKind,
    pub phase: Phase,
    pub steps: Vec<Step>,
    pub expect: SameExpect,
    /// The addresses of the changes this one waits for, sorted.
    pub depends_on: Vec<String>,
    /// Flag transitions carry no reason here.
    pub transitions: Vec<Transition>,
}

/// A change's preconditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SameExpect {
    pub exists: bool,
    pub user_type: Option<UserType>,
    pub active: Option<bool>,
    pub aliases: Option<Vec<EmailAddress>>,
}

/// A User Conflicts entry without its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SameConflict {
    pub email: String,
    pub user_type: UserType,
    pub origin: Origin,
    pub kind: ConflictKind,
    pub flagged_since: Option<DateTime<Utc>>,
    pub absent_runs: u32,
    pub delete_after: Option<DateTime<Utc>>,
    pub ignored: bool,
    pub actions: Vec<ConflictAction>,
}

/// A skipped entry without its reason; the address in lower case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SameSkipped {
    pub email: String,
    pub source: String,
    pub location: Option<Location>,
    pub code: SkipCode,
}

/// The summary's counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SameSummary {
    pub changes: BTreeMap<String, usize>,
    pub steps: BTreeMap<String, usize>,
    pub conflicts: usize,
    pub skipped: usize,
    pub welcome_letters: usize,
    pub welcome_rule: WelcomeRule,
    pub billable_before: usize,
    pub billable_after: usize,
    pub licence_count: Option<u64>,
    pub over_licence_by: Option<u64>,
    pub api_calls: u64,
}

fn key(e: &EmailAddress) -> String {
    e.normalized().to_owned()
}

/// A flag transition's reason is text for a human: not compared.
fn without_reason(t: &Transition) -> Transition {
    match t {
        Transition::Flag {
            email,
            since,
            cause,
            ..
        } => Transition::Flag {
            email: email.clone(),
            since: *since,
            cause: *cause,
            reason: String::new(),
        },
        other => other.clone(),
    }
}

fn normal_guard(g: &Guard) -> Guard {
    match g {
        Guard::GatewayShrank { from, to, .. } => Guard::GatewayShrank {
            from: *from,
            to: *to,
            allowed: 0,
        },
        other => other.clone(),
    }
}

/// Only the guards the reference knows are compared (see the module's doc).
fn known_guard(g: &Guard) -> bool {
    matches!(
        g,
        Guard::SourceIncomplete { .. }
            | Guard::SourceEmpty { .. }
            | Guard::GatewayListingIncomplete
            | Guard::GatewayShrank { .. }
            | Guard::HrIncomplete { .. }
            | Guard::HrRecordsUnread { .. }
            | Guard::RecordsUnread { .. }
    )
}

fn transition_rank(t: &Transition) -> (u8, String) {
    match t {
        Transition::CountAbsent { email, .. } => (0, key(email)),
        Transition::RecordRun { .. } => (1, String::new()),
        _ => (2, String::new()),
    }
}

/// The plan `plan()` made, normalised for comparison.
pub fn normalise(plan: &Plan) -> SamePlan {
    let email_of: BTreeMap<u32, String> =
        plan.changes.iter().map(|c| (c.id, key(&c.email))).collect();
    let mut changes: Vec<SameChange> = plan
        .changes
        .iter()
        .map(|c| {
            let mut depends_on: Vec<String> =
                c.depends_on.iter().map(|d| email_of[d].clone()).collect();
            depends_on.sort();
            SameChange {
                email: key(&c.email),
                kind: c.kind,
                phase: c.phase,
                steps: c.steps.clone(),
                expect: SameExpect {
                    exists: c.expect.exists,
                    user_type: c.expect.user_type.clone(),
                    active: c.expect.active,
                    aliases: c.expect.aliases.clone(),
                },
                depends_on,
                transitions: c.transitions.iter().map(without_reason).collect(),
            }
        })
        .collect();
    changes.sort_by(|a, b| (&a.email, a.phase).cmp(&(&b.email, b.phase)));
    let mut conflicts: Vec<SameConflict> = plan
        .conflicts
        .iter()
        .map(|c| SameConflict {
            email: key(&c.email),
            user_type: c.user_type.clone(),
            origin: c.origin.clone(),
            kind: c.kind,
            flagged_since: c.flagged_since,
            absent_runs: c.absent_runs,
            delete_after: c.delete_after,
            ignored: c.ignored,
            actions: c.actions.clone(),
        })
        .collect();
    conflicts.sort_by(|a, b| (&a.email, a.kind).cmp(&(&b.email, b.kind)));
    let mut skipped: Vec<SameSkipped> = plan
        .skipped
        .iter()
        .map(|s| SameSkipped {
            email: s.email.to_lowercase(),
            source: s.source.clone(),
            location: s.location.clone(),
            code: s.code,
        })
        .collect();
    skipped.sort();
    skipped.dedup();
    let mut guards: Vec<Guard> = plan
        .guards
        .iter()
        .filter(|g| known_guard(g))
        .map(normal_guard)
        .collect();
    guards.sort();
    let mut run_transitions = plan.run_transitions.clone();
    run_transitions.sort_by_key(transition_rank);
    let s = &plan.summary;
    SamePlan {
        header: (
            plan.schema_version,
            plan.stack.clone(),
            plan.org.clone(),
            plan.source.clone(),
            plan.planned_at,
        ),
        changes,
        conflicts,
        skipped,
        guards,
        run_transitions,
        summary: SameSummary {
            changes: s.changes.clone(),
            steps: s.steps.clone(),
            conflicts: s.conflicts,
            skipped: s.skipped,
            welcome_letters: s.welcome_letters,
            welcome_rule: s.welcome_rule,
            billable_before: s.billable_before,
            billable_after: s.billable_after,
            licence_count: s.licence_count,
            over_licence_by: s.over_licence_by,
            api_calls: s.api_calls,
        },
        destructive: plan.threshold.destructive,
        overridden: plan.threshold.overridden,
    }
}

/// The plan's own order: phase, then normalised address; ids are positions.
pub fn changes_in_stable_order(plan: &Plan) -> bool {
    let ids_are_positions = plan
        .changes
        .iter()
        .enumerate()
        .all(|(i, c)| c.id as usize == i);
    let sorted = plan
        .changes
        .windows(2)
        .all(|w| (w[0].phase, w[0].email.normalized()) < (w[1].phase, w[1].email.normalized()));
    ids_are_positions && sorted
}

// ---------------------------------------------------------------------------
// The rules.
// ---------------------------------------------------------------------------

/// An entry that passed admission, with where it came from.
#[derive(Clone)]
struct Want<'a> {
    entry: &'a DirectoryEntry,
    source: &'a str,
    provided: FieldSet,
    /// 0: the authoritative source and the policy's additions; 1, 2…: the
    /// supplemental sources in order.
    precedence: u32,
    user_type: UserType,
}

/// One account's change being built, keyed by its address.
struct Draft {
    kind: ChangeKind,
    steps: Vec<Step>,
    expect: SameExpect,
    transitions: Vec<Transition>,
    deps: BTreeSet<String>,
    /// It frees an address another change takes.
    releases: bool,
    /// A create whose own address cannot be freed: dropped.
    dead: bool,
}

/// An address a change adds that a gateway account holds now.
struct Claim {
    draft: String,
    address: EmailAddress,
    holder: String,
    primary: bool,
}

const ALL_ACTIONS: [ConflictAction; 4] = [
    ConflictAction::DeleteNow,
    ConflictAction::Ignore,
    ConflictAction::Deactivate,
    ConflictAction::Export,
];

/// Text compares trimmed, blank equal to missing.
fn same_text(a: &Option<String>, b: &Option<String>) -> bool {
    let norm = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    norm(a) == norm(b)
}

fn text_fields(a: &Account) -> [(Field, &Option<String>); 7] {
    [
        (Field::FirstName, &a.first_name),
        (Field::LastName, &a.last_name),
        (Field::Mobile, &a.mobile),
        (Field::Phone, &a.phone),
        (Field::Company, &a.company),
        (Field::Department, &a.department),
        (Field::Notes, &a.notes),
    ]
}

fn entry_text(e: &DirectoryEntry) -> [&Option<String>; 7] {
    [
        &e.first_name,
        &e.last_name,
        &e.mobile,
        &e.phone,
        &e.company,
        &e.department,
        &e.notes,
    ]
}

/// The documented last tie-break between two entries with one primary
/// (`wanted.rs`, `outranks`): content with addresses normalised, then the
/// spellings.
fn content_rank(e: &DirectoryEntry) -> impl Ord + '_ {
    (
        (
            e.primary_email.normalized(),
            e.aliases.iter().map(key).collect::<Vec<_>>(),
            e.kind,
            e.enabled,
        ),
        (
            &e.first_name,
            &e.last_name,
            &e.mobile,
            &e.phone,
            &e.company,
            &e.department,
            &e.notes,
        ),
        (
            &e.member_of,
            &e.external_id,
            &e.allow_senders,
            &e.block_senders,
            &e.attributes,
        ),
        (
            e.primary_email.as_str(),
            e.aliases
                .iter()
                .map(EmailAddress::as_str)
                .collect::<Vec<_>>(),
        ),
    )
}

/// Billable: the gateway's own flag, else end and silent users.
fn billable(a: &Account) -> bool {
    a.billable.unwrap_or(matches!(
        a.user_type,
        UserType::EndUser | UserType::SilentUser
    ))
}

fn destructive(step: &Step) -> bool {
    let rank = |t: &UserType| match t {
        UserType::EndUser => 2,
        UserType::SilentUser => 1,
        _ => 0,
    };
    match step {
        Step::Delete | Step::Deactivate => true,
        Step::RemoveAliases { aliases } => !aliases.is_empty(),
        Step::ChangeList { field, remove, .. } => *field == Field::Groups && !remove.is_empty(),
        Step::SetType { from, to } => rank(to) < rank(from),
        _ => false,
    }
}

fn step_name(step: &Step) -> &'static str {
    match step {
        Step::Create { .. } => "create",
        Step::SetField { .. } => "set_field",
        Step::AddAliases { .. } => "add_aliases",
        Step::RemoveAliases { .. } => "remove_aliases",
        Step::ChangeList { field, .. } if *field == Field::Groups => "change_groups",
        Step::ChangeList { .. } => "change_list",
        Step::SetType { .. } => "set_type",
        Step::Activate => "activate",
        Step::Deactivate => "deactivate",
        Step::Flag => "flag",
        Step::Unflag => "unflag",
        Step::Adopt { .. } => "adopt",
        Step::Delete => "delete",
        Step::ChangePrimary { .. } => "change_primary",
        _ => "unknown",
    }
}

fn state_only(step: &Step) -> bool {
    matches!(step, Step::Flag | Step::Unflag | Step::Adopt { .. })
}

/// The heading a change's steps put it under in the executor's order.
fn phase(draft: &Draft) -> Phase {
    let has = |f: fn(&Step) -> bool| draft.steps.iter().any(f);
    if has(|s| matches!(s, Step::Delete)) {
        Phase::Delete
    } else if draft.releases {
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

fn kind_name(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Create => "create",
        ChangeKind::Rename => "rename",
        ChangeKind::Update => "update",
        ChangeKind::Flag => "flag",
        ChangeKind::Delete => "delete",
        _ => "unknown",
    }
}

struct Reference<'a> {
    i: &'a Inputs<'a>,
    /// Normalised primary → gateway account.
    account_at: BTreeMap<String, &'a Account>,
    /// Normalised alias → the gateway account holding it.
    alias_holder: BTreeMap<String, &'a Account>,
    /// Normalised primary → the entry that wins it.
    wants: BTreeMap<String, Want<'a>>,
    /// Normalised primary → the aliases its want keeps (entry spelling).
    kept: BTreeMap<String, Vec<EmailAddress>>,
    hr: BTreeMap<String, &'a HrStatus>,
    guards: Vec<Guard>,
    drafts: BTreeMap<String, Draft>,
    claims: Vec<Claim>,
    conflicts: Vec<SameConflict>,
    skipped: Vec<SameSkipped>,
    run_transitions: Vec<Transition>,
}

/// What the planner should make of `inputs` (assumed valid: state of this
/// organisation, clock forward, managed domains registered), normalised.
pub fn plan(inputs: &Inputs<'_>) -> SamePlan {
    let mut r = Reference {
        i: inputs,
        account_at: BTreeMap::new(),
        alias_holder: BTreeMap::new(),
        wants: BTreeMap::new(),
        kept: BTreeMap::new(),
        hr: BTreeMap::new(),
        guards: Vec::new(),
        drafts: BTreeMap::new(),
        claims: Vec::new(),
        conflicts: Vec::new(),
        skipped: Vec::new(),
        run_transitions: Vec::new(),
    };
    for a in &inputs.current.accounts {
        r.account_at.insert(key(&a.primary_email), a);
        for alias in a.aliases.iter() {
            r.alias_holder.insert(key(alias), a);
        }
    }
    if let (Some(hr), Some(_)) = (&inputs.desired.hr, inputs.policy.hr_rule()) {
        for rec in &hr.records {
            r.hr.insert(key(&rec.email), &rec.status);
        }
    }
    r.report_issues();
    r.guards = r.safety_guards();
    r.admit_entries();
    r.contest_aliases();
    r.plan_matched();
    r.plan_creates();
    r.plan_absent();
    r.plan_hr();
    r.resolve_claims();
    r.finish()
}

impl<'a> Reference<'a> {
    fn policy(&self) -> &'a Policy {
        self.i.policy
    }

    fn auth(&self) -> &'a str {
        &self.i.desired.authoritative.source
    }

    fn origin(&self, a: &Account) -> Origin {
        self.i
            .state
            .accounts
            .get(&a.primary_email)
            .map_or(Origin::Unknown, |s| s.origin.clone())
    }

    fn managed(&self, address: &EmailAddress) -> bool {
        self.policy()
            .managed_domains()
            .iter()
            .any(|d| d.as_ascii() == address.domain_ascii())
    }

    /// Owned by the authoritative directory or a former one, not by a
    /// supplemental source (those only add and update).
    fn directory_owned(&self, origin: &Origin) -> bool {
        match origin {
            Origin::Directory(s) => !self
                .i
                .desired
                .supplemental
                .iter()
                .any(|snap| &snap.source == s),
            _ => false,
        }
    }

    /// Never changed: administrators, read-only users, types muster does
    /// not manage, its own login, the policy's exceptions.
    fn protected(&self, a: &Account) -> bool {
        a.user_type.is_admin()
            || a.read_only
            || !matches!(
                a.user_type,
                UserType::EndUser | UserType::SilentUser | UserType::FunctionalAccount
            )
            || self.i.target.login.as_ref() == Some(&a.primary_email)
            || self.policy().exceptions().contains(&a.primary_email)
    }

    /// Provided by the source, owned by muster, held by the gateway (groups
    /// only when the gateway has them).
    fn comparable(&self, provided: FieldSet) -> FieldSet {
        let caps = &self.i.target.capabilities;
        let mut fields = FieldSet::empty();
        for f in provided.iter() {
            if self.policy().owned_fields().contains(f)
                && caps.fields.contains(f)
                && (f != Field::Groups || caps.groups)
            {
                fields.insert(f);
            }
        }
        fields
    }

    fn guarded(&self) -> bool {
        self.guards.iter().any(|g| {
            matches!(
                g,
                Guard::SourceIncomplete { .. }
                    | Guard::SourceEmpty { .. }
                    | Guard::GatewayListingIncomplete
                    | Guard::GatewayShrank { .. }
            )
        })
    }

    fn deletions_held(&self) -> bool {
        self.guarded()
            || self
                .guards
                .iter()
                .any(|g| matches!(g, Guard::RecordsUnread { .. }))
    }

    fn hr_guarded(&self) -> bool {
        self.guards.iter().any(|g| {
            matches!(
                g,
                Guard::HrIncomplete { .. }
                    | Guard::GatewayListingIncomplete
                    | Guard::GatewayShrank { .. }
            )
        })
    }

    fn report_issues(&mut self) {
        let d = self.i.desired;
        let mut sources: Vec<(&str, &[muster_core::SourceIssue])> =
            vec![(&d.authoritative.source, &d.authoritative.issues)];
        for s in &d.supplemental {
            sources.push((&s.source, &s.issues));
        }
        if let (Some(hr), Some(_)) = (&d.hr, self.policy().hr_rule()) {
            sources.push((&hr.source, &hr.issues));
        }
        for (source, issues) in sources {
            for issue in issues {
                let record = SameSkipped {
                    email: issue.value.clone().unwrap_or_default().to_lowercase(),
                    source: source.to_owned(),
                    location: Some(issue.location.clone()),
                    code: SkipCode::SourceIssue,
                };
                self.skipped.push(record);
            }
        }
    }

    /// The places of issues no record that was read comes from: unread records.
    fn unread(
        issues: &[muster_core::SourceIssue],
        read: &BTreeSet<&Location>,
    ) -> Option<(usize, Vec<Location>)> {
        let unread: BTreeSet<&Location> = issues
            .iter()
            .map(|i| &i.location)
            .filter(|l| !read.contains(l))
            .collect();
        (!unread.is_empty()).then(|| {
            (
                unread.len(),
                unread.iter().take(3).map(|l| (*l).clone()).collect(),
            )
        })
    }

    /// "We do not know who is really gone": partial or empty source, partial
    /// listing, a gateway that shrank past the threshold; unread records
    /// hold deletions; HR's own guards stop the HR rule.
    fn safety_guards(&self) -> Vec<Guard> {
        let (d, p) = (self.i.desired, self.policy());
        let auth = &d.authoritative;
        let mut guards = Vec::new();
        if let Completeness::Partial { reason } = &auth.completeness {
            guards.push(Guard::SourceIncomplete {
                source: auth.source.clone(),
                reason: reason.clone(),
            });
        }
        if auth.entries.is_empty() {
            guards.push(Guard::SourceEmpty {
                source: auth.source.clone(),
            });
        }
        if !self.i.current.complete {
            guards.push(Guard::GatewayListingIncomplete);
        }
        if p.holds_deletions_for_unread_records() {
            let read: BTreeSet<&Location> = auth
                .entries
                .iter()
                .filter_map(|e| e.location.as_ref())
                .collect();
            if let Some((count, first)) = Self::unread(&auth.issues, &read) {
                guards.push(Guard::RecordsUnread {
                    source: auth.source.clone(),
                    count,
                    first,
                });
            }
        }
        if let Some(from) = self.i.state.last_gateway_count {
            let to = self.i.current.accounts.len();
            let t = p.threshold();
            // The generator keeps `from × percent` a multiple of 100, where
            // rounding up and down agree.
            let allowed = t.max_count.min(from * t.max_percent as usize / 100);
            if from > to && from - to > allowed {
                guards.push(Guard::GatewayShrank {
                    from,
                    to,
                    allowed: 0,
                });
            }
        }
        if let (Some(hr), Some(_)) = (&d.hr, p.hr_rule()) {
            if !hr.is_complete() || hr.records.is_empty() {
                guards.push(Guard::HrIncomplete {
                    source: hr.source.clone(),
                });
            }
            let read: BTreeSet<&Location> = hr
                .records
                .iter()
                .filter_map(|r| r.location.as_ref())
                .collect();
            if let Some((count, first)) = Self::unread(&hr.issues, &read) {
                guards.push(Guard::HrRecordsUnread {
                    source: hr.source.clone(),
                    count,
                    first,
                });
            }
        }
        guards.sort();
        guards
    }

    fn type_for(&self, kind: RecipientKind) -> Option<UserType> {
        let kinds = self.policy().kinds();
        if kind == RecipientKind::UserMailbox {
            kinds
                .contains_key(&kind)
                .then(|| self.policy().default_user_type().clone())
        } else {
            kinds.get(&kind).cloned()
        }
    }

    fn skip(
        &mut self,
        (email, source, at): (&EmailAddress, &str, &Option<Location>),
        code: SkipCode,
    ) {
        let record = SameSkipped {
            email: email.as_str().to_lowercase(),
            source: source.to_owned(),
            location: at.clone(),
            code,
        };
        self.skipped.push(record);
    }

    /// Exceptions are never touched, kinds not synced are skipped, a
    /// disabled person is absent, a primary outside the managed domains is
    /// refused. Of several entries for one primary the best ranked wins:
    /// source precedence, then location, then content; a loser from the
    /// winner's own source is a clash, a loser from a lower source is
    /// silently outranked.
    fn admit_entries(&mut self) {
        let d = self.i.desired;
        let auth = &d.authoritative;
        let mut sources: Vec<(u32, &'a str, FieldSet, &'a [DirectoryEntry])> = vec![
            (0, &auth.source, auth.provided, &auth.entries),
            (0, &auth.source, auth.provided, self.policy().additions()),
        ];
        for (n, s) in d.supplemental.iter().enumerate() {
            sources.push((n as u32 + 1, &s.source, s.provided, &s.entries));
        }
        let mut candidates: BTreeMap<String, Vec<Want<'a>>> = BTreeMap::new();
        for (precedence, source, provided, entries) in sources {
            for e in entries {
                if self.policy().exceptions().contains(&e.primary_email) {
                    self.skip((&e.primary_email, source, &e.location), SkipCode::Exception);
                    continue;
                }
                let Some(user_type) = self.type_for(e.kind) else {
                    self.skip(
                        (&e.primary_email, source, &e.location),
                        SkipCode::KindNotSynced,
                    );
                    continue;
                };
                let disabled_person = !e.enabled && e.kind == RecipientKind::UserMailbox;
                if disabled_person && !self.policy().sync_disabled_users() {
                    continue; // absent
                }
                if !self.managed(&e.primary_email) {
                    let code = SkipCode::OutsideManagedDomains;
                    self.skip((&e.primary_email, source, &e.location), code);
                    continue;
                }
                candidates
                    .entry(key(&e.primary_email))
                    .or_default()
                    .push(Want {
                        entry: e,
                        source,
                        provided,
                        precedence,
                        user_type,
                    });
            }
        }
        for (primary, cands) in candidates {
            let rank = |w: &Want<'a>| (w.precedence, w.entry.location.clone());
            let best = (0..cands.len())
                .min_by(|&a, &b| {
                    let (a, b) = (&cands[a], &cands[b]);
                    rank(a)
                        .cmp(&rank(b))
                        .then_with(|| content_rank(a.entry).cmp(&content_rank(b.entry)))
                })
                .expect("at least one candidate");
            for (n, c) in cands.iter().enumerate() {
                if n != best && c.precedence == cands[best].precedence {
                    let code = SkipCode::AddressClash;
                    self.skip((&c.entry.primary_email, c.source, &c.entry.location), code);
                }
            }
            let best = cands[best].clone();
            self.wants.insert(primary, best);
        }
    }

    /// Whether `w`'s aliases are exactly its account's already.
    fn aliases_in_step(&self, primary: &str, w: &Want<'_>) -> bool {
        self.account_at.get(primary).is_some_and(|a| {
            w.provided.contains(Field::Aliases)
                && a.aliases == w.entry.aliases
                && !w.entry.aliases.contains(&w.entry.primary_email)
        })
    }

    /// Aliases: one address, one owner. An alias the entry's own account
    /// has is kept; one outside the managed domains, or another entry's
    /// primary, is refused; one several entries want goes to the entry whose
    /// primary sorts first.
    fn contest_aliases(&mut self) {
        let mut claimants: BTreeMap<String, Vec<(String, EmailAddress)>> = BTreeMap::new();
        // (the entry losing it, the alias)
        let mut clashes: Vec<(String, EmailAddress)> = Vec::new();
        let wants: Vec<(String, Want<'a>)> = self
            .wants
            .iter()
            .map(|(k, w)| (k.clone(), w.clone()))
            .collect();
        for (primary, w) in &wants {
            if !w.provided.contains(Field::Aliases) {
                continue;
            }
            if self.aliases_in_step(primary, w) {
                self.kept
                    .insert(primary.clone(), w.entry.aliases.iter().cloned().collect());
                continue;
            }
            let own = self.account_at.get(primary).map(|a| &a.aliases);
            let mut kept = Vec::new();
            for alias in w.entry.aliases.iter() {
                if *alias == w.entry.primary_email {
                    continue;
                }
                if own.is_some_and(|own| own.contains(alias)) {
                    kept.push(alias.clone());
                } else if !self.managed(alias) {
                    let code = SkipCode::AliasOutsideManagedDomains;
                    self.skip((alias, w.source, &w.entry.location), code);
                } else if self.wants.contains_key(&key(alias)) {
                    clashes.push((primary.clone(), alias.clone()));
                } else {
                    kept.push(alias.clone());
                    claimants
                        .entry(key(alias))
                        .or_default()
                        .push((primary.clone(), alias.clone()));
                }
            }
            self.kept.insert(primary.clone(), kept);
        }
        for (_, mut cs) in claimants {
            cs.sort_by(|a, b| a.0.cmp(&b.0));
            clashes.extend(cs.into_iter().skip(1));
        }
        for (primary, alias) in clashes {
            if let Some(kept) = self.kept.get_mut(&primary) {
                kept.retain(|a| *a != alias);
            }
            let w = &self.wants[&primary];
            let (source, at) = (w.source, w.entry.location.clone());
            self.skip((&alias, source, &at), SkipCode::AddressClash);
        }
    }

    fn kept_of(&self, primary: &str) -> Vec<EmailAddress> {
        self.kept.get(primary).cloned().unwrap_or_default()
    }

    /// Records that `draft` adds `address`, when a gateway account holds it.
    fn claim(&mut self, draft: &str, address: &EmailAddress, primary: bool) {
        let holder = self
            .alias_holder
            .get(&key(address))
            .or_else(|| self.account_at.get(&key(address)))
            .map(|a| key(&a.primary_email));
        if let Some(holder) = holder {
            self.claims.push(Claim {
                draft: draft.to_owned(),
                address: address.clone(),
                holder,
                primary,
            });
        }
    }

    fn account_draft(&mut self, a: &Account, kind: ChangeKind) -> &mut Draft {
        self.drafts
            .entry(key(&a.primary_email))
            .or_insert_with(|| Draft {
                kind,
                steps: Vec::new(),
                expect: SameExpect {
                    exists: true,
                    user_type: Some(a.user_type.clone()),
                    active: Some(a.active),
                    aliases: None,
                },
                transitions: Vec::new(),
                deps: BTreeSet::new(),
                releases: false,
                dead: false,
            })
    }

    /// Entries that match an account by primary: adopt it when it existed
    /// before muster (or belonged to another directory), clear its absence
    /// flag, reactivate what muster deactivated, update the comparable
    /// fields; take away (aliases, list values) only from the authoritative
    /// source, in authoritative mode, from a directory-owned account, and
    /// never under a guard. Protected accounts are skipped.
    fn plan_matched(&mut self) {
        let wants: Vec<(String, Want<'a>)> = self
            .wants
            .iter()
            .map(|(k, w)| (k.clone(), w.clone()))
            .collect();
        for (primary, w) in wants {
            let Some(&a) = self.account_at.get(&primary) else {
                continue;
            };
            if self.protected(a) {
                let at = (&a.primary_email, w.source, &w.entry.location);
                self.skip(at, SkipCode::Protected);
                continue;
            }
            let e = w.entry;
            let known = self.i.state.accounts.get(&a.primary_email);
            let origin = self.origin(a);
            let adopt = if w.precedence == 0 || origin == Origin::Unknown {
                match &origin {
                    Origin::Unknown => Some(Origin::Directory(w.source.to_owned())),
                    Origin::Directory(s) if s != w.source => {
                        Some(Origin::Directory(w.source.to_owned()))
                    }
                    _ => None,
                }
            } else {
                None
            };
            let take_away = !self.guarded()
                && self.policy().mode() == Mode::Authoritative
                && w.precedence == 0
                && self.directory_owned(adopt.as_ref().unwrap_or(&origin));
            let mut steps = Vec::new();
            let mut transitions = Vec::new();
            if let Some(new) = adopt {
                transitions.push(Transition::Claim {
                    email: a.primary_email.clone(),
                    origin: new.clone(),
                    external_id: e.external_id.clone(),
                });
                steps.push(Step::Adopt { origin: new });
            }
            let flag = self.i.state.flags.get(&a.primary_email);
            if flag.is_some_and(|f| f.cause == FlagCause::Absent) {
                steps.push(Step::Unflag);
                transitions.push(Transition::Unflag {
                    email: a.primary_email.clone(),
                });
            }
            if !a.active && known.is_some_and(|k| k.deactivated_by_muster) {
                steps.push(Step::Activate);
                transitions.push(Transition::Reactivated {
                    email: a.primary_email.clone(),
                });
            }
            let fields = self.comparable(w.provided);
            for ((field, have), wants) in text_fields(a).into_iter().zip(entry_text(e)) {
                if fields.contains(field) && !same_text(have, wants) {
                    steps.push(Step::SetField {
                        field,
                        before: have.clone(),
                        after: wants.as_deref().map(|s| s.trim().to_owned()),
                    });
                }
            }
            let mut touches_aliases = false;
            let mut added = Vec::new();
            if fields.contains(Field::Aliases) && !self.aliases_in_step(&primary, &w) {
                let kept = self.kept_of(&primary);
                let add: Vec<EmailAddress> = kept
                    .iter()
                    .filter(|x| !a.aliases.contains(x) && **x != a.primary_email)
                    .cloned()
                    .collect();
                let remove: Vec<EmailAddress> = if take_away {
                    a.aliases
                        .iter()
                        .filter(|x| !kept.contains(x))
                        .cloned()
                        .collect()
                } else {
                    Vec::new()
                };
                if !remove.is_empty() {
                    touches_aliases = true;
                    steps.push(Step::RemoveAliases { aliases: remove });
                }
                if !add.is_empty() {
                    touches_aliases = true;
                    added.clone_from(&add);
                    steps.push(Step::AddAliases { aliases: add });
                }
            }
            let lists = [
                (Field::Groups, &a.groups, &e.member_of),
                (Field::AllowSenders, &a.allow_senders, &e.allow_senders),
                (Field::BlockSenders, &a.block_senders, &e.block_senders),
            ];
            for (field, have, wants) in lists {
                if !fields.contains(field) {
                    continue;
                }
                let add: Vec<String> = wants.difference(have).cloned().collect();
                let remove: Vec<String> = if take_away {
                    have.difference(wants).cloned().collect()
                } else {
                    Vec::new()
                };
                if !add.is_empty() || !remove.is_empty() {
                    steps.push(Step::ChangeList { field, add, remove });
                }
            }
            if steps.is_empty() {
                continue;
            }
            let draft = self.account_draft(a, ChangeKind::Update);
            draft.steps.extend(steps);
            draft.transitions.extend(transitions);
            if touches_aliases {
                draft.expect.aliases = Some(a.aliases.iter().cloned().collect());
            }
            for alias in added {
                self.claim(&primary, &alias, false);
            }
        }
    }

    /// The HR rule's verdict on a person, if they should stop being an end user.
    fn hr_verdict(&self, email: &EmailAddress) -> bool {
        let (Some(rule), Some(_)) = (self.policy().hr_rule(), &self.i.desired.hr) else {
            return false;
        };
        if self.hr_guarded() || rule.allowlist.contains(email) {
            return false;
        }
        let absence_held = self
            .guards
            .iter()
            .any(|g| matches!(g, Guard::HrRecordsUnread { .. }));
        match self.hr.get(&key(email)) {
            None => !absence_held,
            Some(status) => **status == HrStatus::Terminated,
        }
    }

    fn hr_action(&self) -> Option<HrAction> {
        self.policy().hr_rule().map(|r| r.action)
    }

    /// Entries no account has: created with the comparable fields, their
    /// kind's type, inactive when a disabled person is synced, a welcome
    /// letter only for an active end user when the organisation and the
    /// policy send letters; the HR rule applied at once so the next plan does
    /// not undo this one.
    fn plan_creates(&mut self) {
        let wants: Vec<(String, Want<'a>)> = self
            .wants
            .iter()
            .map(|(k, w)| (k.clone(), w.clone()))
            .collect();
        let letters = self.welcome_rule() == WelcomeRule::EndUsers;
        for (primary, w) in wants {
            if self.account_at.contains_key(&primary) {
                continue;
            }
            let e = w.entry;
            let fields = self.comparable(w.provided);
            let mut account = Account::new(e.primary_email.clone()).with_type(w.user_type.clone());
            let slots = [
                &mut account.first_name,
                &mut account.last_name,
                &mut account.mobile,
                &mut account.phone,
                &mut account.company,
                &mut account.department,
                &mut account.notes,
            ];
            let names = [
                Field::FirstName,
                Field::LastName,
                Field::Mobile,
                Field::Phone,
                Field::Company,
                Field::Department,
                Field::Notes,
            ];
            for ((slot, field), value) in slots.into_iter().zip(names).zip(entry_text(e)) {
                if fields.contains(field) {
                    *slot = value
                        .as_deref()
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned);
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
            if e.kind == RecipientKind::UserMailbox && !e.enabled {
                account.active = false;
            }
            let kept = self.kept_of(&primary);
            if fields.contains(Field::Aliases) {
                account.aliases = kept.iter().cloned().collect();
            }
            let hr =
                account.user_type == UserType::EndUser && self.hr_verdict(&account.primary_email);
            if hr && self.hr_action() == Some(HrAction::MakeFunctional) {
                account.user_type = UserType::FunctionalAccount;
            }
            let welcome = letters && account.user_type == UserType::EndUser && account.active;
            let mut steps = vec![Step::Create {
                account: Box::new(account),
                welcome_letter: welcome,
                bulk_group: None,
                unowned_fields: serde_json::Map::new(),
            }];
            let mut transitions = vec![Transition::Claim {
                email: e.primary_email.clone(),
                origin: Origin::Directory(w.source.to_owned()),
                external_id: e.external_id.clone(),
            }];
            match self.hr_action() {
                Some(HrAction::Flag) if hr => {
                    steps.push(Step::Flag);
                    transitions.push(Transition::Flag {
                        email: e.primary_email.clone(),
                        since: self.i.now,
                        cause: FlagCause::Hr,
                        reason: String::new(),
                    });
                }
                Some(_) if hr => transitions.push(Transition::TypeSetByHr {
                    email: e.primary_email.clone(),
                }),
                _ => {}
            }
            self.drafts.insert(
                primary.clone(),
                Draft {
                    kind: ChangeKind::Create,
                    steps,
                    expect: SameExpect {
                        exists: false,
                        user_type: None,
                        active: None,
                        aliases: None,
                    },
                    transitions,
                    deps: BTreeSet::new(),
                    releases: false,
                    dead: false,
                },
            );
            self.claim(&primary, &e.primary_email, true);
            // The aliases the create gives are claimed; with aliases not
            // compared it gives none, and claims none.
            if fields.contains(Field::Aliases) {
                for alias in &kept {
                    self.claim(&primary, alias, false);
                }
            }
        }
    }

    fn welcome_rule(&self) -> WelcomeRule {
        if self.i.target.welcome_letters == Some(false) {
            WelcomeRule::OffForOrganisation
        } else if !self.policy().welcome_letters() {
            WelcomeRule::OffByPolicy
        } else {
            WelcomeRule::EndUsers
        }
    }

    /// Accounts no directory lists (authoritative mode only): a directory's
    /// own go through absent → flagged → deleted after the delay *and* the
    /// minimum runs (unless ignored; never under a guard; deletion held
    /// while records are unread); unknown-origin ones are only listed unless
    /// the policy flags them; everybody else's are left alone.
    fn plan_absent(&mut self) {
        if self.policy().mode() != Mode::Authoritative {
            return;
        }
        let p = self.policy();
        let now = self.i.now;
        let delay = p.delete_delay().duration();
        let new_run = self.i.state.last_run.is_none_or(|last| now > last);
        for a in &self.i.current.accounts {
            if self.wants.contains_key(&key(&a.primary_email)) || self.protected(a) {
                continue;
            }
            let origin = self.origin(a);
            let lifecycle = self.directory_owned(&origin)
                || (origin == Origin::Unknown
                    && p.unknown_origin() == UnknownOrigin::AdoptMatchedFlagRest);
            let ignored = self.i.state.ignored.contains(&a.primary_email);
            if !lifecycle {
                if origin == Origin::Unknown {
                    self.conflicts.push(SameConflict {
                        email: key(&a.primary_email),
                        user_type: a.user_type.clone(),
                        origin,
                        kind: ConflictKind::UnknownOrigin,
                        flagged_since: None,
                        absent_runs: 0,
                        delete_after: None,
                        ignored,
                        actions: ALL_ACTIONS.to_vec(),
                    });
                }
                continue;
            }
            let flag = self.i.state.flags.get(&a.primary_email);
            let mut conflict = SameConflict {
                email: key(&a.primary_email),
                user_type: a.user_type.clone(),
                origin,
                kind: ConflictKind::Absent,
                flagged_since: flag.map(|f| f.since),
                absent_runs: flag.map_or(0, |f| f.absent_runs),
                delete_after: flag.and_then(|f| delay.map(|d| f.since + d)),
                ignored,
                actions: ALL_ACTIONS.to_vec(),
            };
            if ignored {
                conflict.actions = vec![ConflictAction::DeleteNow, ConflictAction::Export];
                self.conflicts.push(conflict);
                continue;
            }
            if self.guarded() {
                if flag.is_some() {
                    self.conflicts.push(conflict);
                }
                continue;
            }
            let Some(flag) = flag else {
                // Absent for the first time: flag (and deactivate, if the
                // policy says so and deletions are not held).
                let deactivate =
                    p.flag_action() == FlagAction::Deactivate && a.active && !self.deletions_held();
                let draft = self.account_draft(a, ChangeKind::Flag);
                draft.steps.push(Step::Flag);
                draft.transitions.push(Transition::Flag {
                    email: a.primary_email.clone(),
                    since: now,
                    cause: FlagCause::Absent,
                    reason: String::new(),
                });
                if deactivate {
                    draft.steps.push(Step::Deactivate);
                    draft.transitions.push(Transition::Deactivated {
                        email: a.primary_email.clone(),
                    });
                }
                conflict.flagged_since = Some(now);
                conflict.absent_runs = 1;
                conflict.delete_after = delay.map(|d| now + d);
                self.conflicts.push(conflict);
                continue;
            };
            let runs = flag.absent_runs + u32::from(new_run);
            let due = delay.map(|d| flag.since + d);
            let deletable = due.is_some_and(|due| now >= due) && runs >= p.min_absent_runs();
            if deletable && !self.deletions_held() {
                let draft = self.account_draft(a, ChangeKind::Delete);
                draft.kind = ChangeKind::Delete;
                draft.steps.push(Step::Delete);
                draft.transitions.push(Transition::Forget {
                    email: a.primary_email.clone(),
                });
                continue;
            }
            if runs != flag.absent_runs {
                self.run_transitions.push(Transition::CountAbsent {
                    email: a.primary_email.clone(),
                    runs,
                });
            }
            conflict.absent_runs = runs;
            self.conflicts.push(conflict);
        }
    }

    /// The HR rule (seed 002) over every gateway account that is not
    /// protected or being deleted: an end user absent from HR or terminated
    /// becomes a functional account, or is flagged; someone the rule flagged
    /// who is employed again is unflagged.
    fn plan_hr(&mut self) {
        let Some(action) = self.hr_action() else {
            return;
        };
        if self.i.desired.hr.is_none() || self.hr_guarded() {
            return;
        }
        let now = self.i.now;
        for a in &self.i.current.accounts {
            let k = key(&a.primary_email);
            if self.protected(a)
                || self
                    .drafts
                    .get(&k)
                    .is_some_and(|d| d.steps.contains(&Step::Delete))
            {
                continue;
            }
            let flag = self.i.state.flags.get(&a.primary_email);
            let hr_flag = flag.is_some_and(|f| f.cause == FlagCause::Hr);
            let end_user = a.user_type == UserType::EndUser;
            let verdict = (end_user || hr_flag) && self.hr_verdict(&a.primary_email);
            if verdict && action == HrAction::MakeFunctional && end_user {
                let draft = self.account_draft(a, ChangeKind::Update);
                draft.steps.push(Step::SetType {
                    from: UserType::EndUser,
                    to: UserType::FunctionalAccount,
                });
                draft.transitions.push(Transition::TypeSetByHr {
                    email: a.primary_email.clone(),
                });
            } else if verdict && action == HrAction::Flag {
                // Flagged already (in the state, or by the absence rule in
                // this very plan): one flag is enough.
                if flag.is_some()
                    || self
                        .drafts
                        .get(&k)
                        .is_some_and(|d| d.steps.contains(&Step::Flag))
                {
                    continue;
                }
                let draft = self.account_draft(a, ChangeKind::Flag);
                draft.steps.push(Step::Flag);
                draft.transitions.push(Transition::Flag {
                    email: a.primary_email.clone(),
                    since: now,
                    cause: FlagCause::Hr,
                    reason: String::new(),
                });
                let origin = self.origin(a);
                self.conflicts.push(SameConflict {
                    email: k,
                    user_type: a.user_type.clone(),
                    origin,
                    kind: ConflictKind::Hr,
                    flagged_since: Some(now),
                    absent_runs: 0,
                    delete_after: None,
                    ignored: false,
                    actions: ALL_ACTIONS.to_vec(),
                });
            } else if !verdict && hr_flag && self.hr.contains_key(&k) {
                let draft = self.account_draft(a, ChangeKind::Update);
                draft.steps.push(Step::Unflag);
                draft.transitions.push(Transition::Unflag {
                    email: a.primary_email.clone(),
                });
            }
        }
    }

    /// Whether the holder's change frees `address` (removes it or deletes the account).
    fn frees(&self, holder: &str, by: &str, address: &EmailAddress) -> bool {
        holder != by
            && self.drafts.get(holder).is_some_and(|d| {
                !d.dead
                    && d.steps.iter().any(|s| match s {
                        Step::RemoveAliases { aliases } => aliases.contains(address),
                        Step::Delete => true,
                        _ => false,
                    })
            })
    }

    /// One address, one account: a change adding an address another account
    /// holds waits for the change that frees it; when none does, the address
    /// is not given (skipped), and a create of that very address is dropped.
    fn resolve_claims(&mut self) {
        let claims = std::mem::take(&mut self.claims);
        loop {
            let mut dropped = false;
            for c in claims.iter().filter(|c| c.primary) {
                if !self.drafts[&c.draft].dead && !self.frees(&c.holder, &c.draft, &c.address) {
                    self.refuse(c);
                    dropped = true;
                }
            }
            if !dropped {
                break;
            }
        }
        for c in &claims {
            if self.drafts[&c.draft].dead {
                continue;
            }
            if self.frees(&c.holder, &c.draft, &c.address) {
                self.drafts.get_mut(&c.holder).unwrap().releases = true;
                self.drafts
                    .get_mut(&c.draft)
                    .unwrap()
                    .deps
                    .insert(c.holder.clone());
            } else {
                self.refuse(c);
            }
        }
    }

    fn refuse(&mut self, c: &Claim) {
        let auth = self.auth().to_owned();
        self.skip((&c.address, &auth, &None), SkipCode::AddressClash);
        let draft = self.drafts.get_mut(&c.draft).unwrap();
        if c.primary {
            draft.dead = true;
            return;
        }
        for step in &mut draft.steps {
            match step {
                Step::AddAliases { aliases } => aliases.retain(|x| *x != c.address),
                Step::Create { account, .. } => {
                    account.aliases.remove(&c.address);
                }
                _ => {}
            }
        }
        draft
            .steps
            .retain(|s| !matches!(s, Step::AddAliases { aliases } if aliases.is_empty()));
    }

    /// Orders the changes (phase, then address), groups bulk creates, and
    /// counts the summary from the changes themselves.
    fn finish(mut self) -> SamePlan {
        let (p, target) = (self.policy(), self.i.target);
        let drafts = std::mem::take(&mut self.drafts);
        let mut live: Vec<(Phase, String, Draft)> = drafts
            .into_iter()
            .filter(|(_, d)| !d.dead && !d.steps.is_empty())
            .map(|(k, d)| (phase(&d), k, d))
            .collect();
        live.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let mut creates_seen = 0;
        let mut changes = Vec::new();
        for (phase, email, mut d) in live {
            if target.capabilities.bulk_create && d.deps.is_empty() {
                for s in &mut d.steps {
                    if let Step::Create { bulk_group, .. } = s {
                        *bulk_group = Some(creates_seen / p.bulk_size() as u32);
                        creates_seen += 1;
                    }
                }
            }
            changes.push(SameChange {
                email,
                kind: d.kind,
                phase,
                steps: d.steps,
                expect: d.expect,
                depends_on: d.deps.into_iter().collect(),
                transitions: d.transitions,
            });
        }

        // One conflict per account: the directory's absence before HR's.
        self.conflicts
            .sort_by(|a, b| (&a.email, a.kind).cmp(&(&b.email, b.kind)));
        self.conflicts.dedup_by(|a, b| a.email == b.email);
        self.skipped.sort();
        self.skipped.dedup();

        let accounts = &self.i.current.accounts;
        let mut summary = SameSummary {
            conflicts: self.conflicts.len(),
            skipped: self.skipped.len(),
            welcome_rule: self.welcome_rule(),
            licence_count: target.licence_count,
            billable_before: accounts.iter().filter(|a| billable(a)).count(),
            ..SameSummary::default()
        };
        let mut after = summary.billable_before as i64;
        let (mut creates, mut calls) = (0u64, 0u64);
        for c in &changes {
            *summary.changes.entry(kind_name(c.kind).into()).or_default() += 1;
            if c.steps.contains(&Step::Delete) {
                let gone = accounts
                    .iter()
                    .find(|a| key(&a.primary_email) == c.email)
                    .is_some_and(billable);
                after -= i64::from(gone);
            }
            let mut writes = false;
            for s in &c.steps {
                *summary.steps.entry(step_name(s).into()).or_default() += 1;
                match s {
                    Step::Create {
                        account,
                        welcome_letter,
                        ..
                    } => {
                        creates += 1;
                        summary.welcome_letters += usize::from(*welcome_letter);
                        after += i64::from(billable(account));
                    }
                    Step::Delete => calls += 1,
                    Step::SetType { from, to } => {
                        writes = true;
                        let b = |t: &UserType| {
                            i64::from(matches!(t, UserType::EndUser | UserType::SilentUser))
                        };
                        after += b(to) - b(from);
                    }
                    Step::ChangePrimary { .. } => calls += 5,
                    s if state_only(s) => {}
                    _ => writes = true,
                }
            }
            if writes {
                calls += 2;
            }
        }
        calls += if target.capabilities.bulk_create {
            creates.div_ceil(p.bulk_size() as u64)
        } else {
            creates
        };
        summary.billable_after = after.max(0) as usize;
        summary.api_calls = calls;
        summary.over_licence_by = target
            .licence_count
            .and_then(|l| (summary.billable_after as u64).checked_sub(l))
            .filter(|x| *x > 0);

        let count = |k: &str| summary.changes.get(k).copied().unwrap_or(0);
        self.run_transitions.push(Transition::RecordRun {
            at: self.i.now,
            gateway_count: (accounts.len() + count("create")).saturating_sub(count("delete")),
        });
        self.run_transitions.sort_by_key(transition_rank);
        let destructive = changes
            .iter()
            .flat_map(|c| &c.steps)
            .filter(|s| destructive(s))
            .count();
        let changes = {
            let mut c = changes;
            c.sort_by(|a, b| (&a.email, a.phase).cmp(&(&b.email, b.phase)));
            c
        };
        SamePlan {
            header: (
                muster_reconcile::PLAN_SCHEMA_VERSION,
                target.stack.clone(),
                target.org.clone(),
                self.auth().to_owned(),
                self.i.now,
            ),
            changes,
            conflicts: self.conflicts,
            skipped: self.skipped,
            guards: self.guards,
            run_transitions: self.run_transitions,
            summary,
            destructive,
            overridden: p.threshold_overridden(),
        }
    }
}
