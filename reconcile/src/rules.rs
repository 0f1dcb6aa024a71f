//! The rules, one small function each. The planner (`planner.rs`) only
//! sequences them; each says here what it implements and why.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use muster_core::{
    Account, DirectoryEntry, Domain, EmailAddress, Field, FieldSet, Location, Origin,
    RecipientKind, UserType,
};

use crate::error::PlanError;
use crate::inputs::{Desired, GatewayListing, TargetProfile};
use crate::plan::{Guard, PlanNote, SkipCode, Skipped, WelcomeRule};
use crate::policy::{DeleteDelay, Mode, Policy};
use crate::state::{FlagState, SyncState};

/// Refuses a state stamped with another stack or organisation: ownership and
/// flags recorded for one customer must never drive deletions at another.
pub(crate) fn check_state_stamp(
    state: &SyncState,
    target: &TargetProfile,
) -> Result<(), PlanError> {
    state.check(&target.stack, &target.org)
}

/// Refuses to plan when `now` is earlier than the last run: every deletion
/// delay is measured from recorded times, and a clock running backwards
/// (a restored VM, a wrong timezone) would make them meaningless.
pub(crate) fn check_clock(state: &SyncState, now: DateTime<Utc>) -> Result<(), PlanError> {
    match state.last_run {
        Some(last_run) if now < last_run => Err(PlanError::ClockWentBackwards { now, last_run }),
        _ => Ok(()),
    }
}

/// Refuses a policy whose managed domains are not all registered on the
/// gateway: a typo there would make every user of the real domain look
/// absent and start deleting them.
pub(crate) fn check_domains_registered(
    policy: &Policy,
    target: &TargetProfile,
) -> Result<(), PlanError> {
    if policy.managed_domains.is_empty() {
        return Err(PlanError::NoManagedDomains);
    }
    for domain in &policy.managed_domains {
        if !target
            .registered_domains
            .iter()
            .any(|d| d.as_ascii() == domain.as_ascii())
        {
            return Err(PlanError::UnregisteredDomain {
                domain: domain.clone(),
            });
        }
    }
    Ok(())
}

/// Why an account is protected, if it is. Protected accounts are never
/// changed at all: administrators (a sync that demotes the admin locks the
/// organisation out), read-only users, types muster does not know, the login
/// muster itself uses, and the policy's exceptions.
pub(crate) fn protection(
    account: &Account,
    policy: &Policy,
    target: &TargetProfile,
) -> Option<&'static str> {
    if account.user_type.is_admin() {
        Some("administrators are never changed by a sync")
    } else if account.read_only {
        Some("read-only users are never changed by a sync")
    } else if !account.user_type.is_manageable() {
        Some("muster does not manage accounts of this type")
    } else if target.login.as_ref() == Some(&account.primary_email) {
        Some("muster's own login is never changed")
    } else if policy.exceptions.contains(&account.primary_email) {
        Some("listed in the policy's exceptions")
    } else if policy.exempted.contains(&account.primary_email) {
        Some("exempted from sync by an administrator")
    } else {
        None
    }
}

/// The skipped entries of the state's exemptions: each listed once per plan,
/// with when it was exempted and why, whether a source lists it or not.
pub(crate) fn exemptions(state: &SyncState) -> Vec<Skipped> {
    state
        .exempt
        .iter()
        .map(|(email, exemption)| Skipped {
            email: email.to_string(),
            source: "muster exempt".to_owned(),
            location: None,
            code: SkipCode::Exempt,
            reason: match &exemption.reason {
                Some(reason) => format!("exempted from sync on {}: {reason}", day(exemption.since)),
                None => format!("exempted from sync on {}", day(exemption.since)),
            },
        })
        .collect()
}

/// What the planner does with one directory entry.
pub(crate) enum Admission<'p> {
    /// Sync it; created with this type.
    Want(&'p UserType),
    /// Treat it as absent: a disabled person has left (unless disabled users are synced).
    Absent,
    /// Refuse it, saying why.
    Skip(SkipCode, String),
    /// Leave it out without a word: it is exempt from sync, and the plan
    /// lists each exemption once, with its reason, whatever the sources say.
    Exempt,
}

/// The policy's answers every entry asks for, resolved once per plan rather
/// than once per entry (walking the policy's domain set for each entry's
/// four addresses was 6 % of `plan()`'s work): the type each recipient kind
/// gets (or `None`: not synced), and the managed domains' ASCII forms.
pub(crate) struct EntryRules<'p> {
    kind_types: [Option<&'p UserType>; RecipientKind::ALL.len()],
    managed: Vec<&'p str>,
}

impl<'p> EntryRules<'p> {
    pub(crate) fn of(policy: &'p Policy) -> Self {
        EntryRules {
            kind_types: RecipientKind::ALL.map(|kind| policy.type_for(kind)),
            managed: policy
                .managed_domains
                .iter()
                .map(Domain::as_ascii)
                .collect(),
        }
    }

    fn user_type(&self, kind: RecipientKind) -> Option<&'p UserType> {
        // User mailboxes, most entries, come first in `ALL`.
        let at = RecipientKind::ALL.iter().position(|k| *k == kind)?;
        self.kind_types[at]
    }

    /// True when `domain_ascii` (an address's domain, ASCII form) is managed.
    fn manages(&self, domain_ascii: &str) -> bool {
        self.managed.contains(&domain_ascii)
    }
}

/// Decides whether an entry is synced: exceptions are never touched, kinds
/// the policy does not sync are skipped, a disabled *user* mailbox is absent
/// (a disabled shared or room mailbox is normal in AD and is synced), and a
/// primary outside the managed domains is refused — the gateway would not
/// route mail for it. `rules` is [`EntryRules::of`] the same policy.
pub(crate) fn admit_entry<'p>(
    entry: &DirectoryEntry,
    policy: &'p Policy,
    rules: &EntryRules<'p>,
) -> Admission<'p> {
    if !policy.exceptions.is_empty() && policy.exceptions.contains(&entry.primary_email) {
        return Admission::Skip(
            SkipCode::Exception,
            "listed in the policy's exceptions".into(),
        );
    }
    if !policy.exempted.is_empty() && policy.exempted.contains(&entry.primary_email) {
        return Admission::Exempt;
    }
    let Some(user_type) = rules.user_type(entry.kind) else {
        return Admission::Skip(
            SkipCode::KindNotSynced,
            format!("{} recipients are not synced by this policy", entry.kind),
        );
    };
    if !entry.enabled && entry.kind == RecipientKind::UserMailbox && !policy.sync_disabled_users {
        return Admission::Absent;
    }
    if !rules.manages(entry.primary_email.domain_ascii()) {
        return Admission::Skip(
            SkipCode::OutsideManagedDomains,
            format!(
                "domain {} is not managed",
                entry.primary_email.domain_ascii()
            ),
        );
    }
    Admission::Want(user_type)
}

/// An alias is added only when its own domain is managed (the primary's was
/// checked by [`admit_entry`]): the gateway cannot deliver for other domains.
pub(crate) fn alias_admitted(alias: &EmailAddress, rules: &EntryRules<'_>) -> bool {
    rules.manages(alias.domain_ascii())
}

/// The fields a plan may compare and write for an entry: those its source
/// provides (a field a source does not read is unknown, not empty), that
/// muster owns (the rest belong to administrators), and that the gateway
/// holds (a change to a field the gateway drops would be proposed again on
/// every run and never converge). Group membership also needs the gateway's
/// group support. Every comparison and every create goes through here.
pub(crate) fn comparable_fields(
    provided: FieldSet,
    policy: &Policy,
    target: &TargetProfile,
) -> FieldSet {
    let fields = provided
        .intersection(policy.owned_fields)
        .intersection(target.capabilities.fields);
    if target.capabilities.groups {
        fields
    } else {
        fields.without(Field::Groups)
    }
}

/// Whether the directory may take something away from an account (remove an
/// alias, a group membership, flag or delete it): only in authoritative
/// mode, only from the authoritative source, and only for accounts a
/// directory owns. Accounts made manually, by CSV import or SMTP discovery
/// belong to someone else; supplemental sources only add and update.
pub(crate) fn may_take_away(
    origin_after: &Origin,
    from_authoritative: bool,
    policy: &Policy,
    desired: &Desired,
) -> bool {
    policy.mode == Mode::Authoritative
        && from_authoritative
        && directory_owned(origin_after, desired)
}

/// True for accounts owned by the authoritative directory or by a directory
/// that used to be authoritative (switching source turns the old source's
/// users into conflicts), but not by a supplemental source.
pub(crate) fn directory_owned(origin: &Origin, desired: &Desired) -> bool {
    match origin {
        Origin::Directory(s) => !desired.supplemental.iter().any(|snap| &snap.source == s),
        _ => false,
    }
}

/// The origin an account gets when the directory matches it: unknown-origin
/// accounts (older than muster) and accounts of a former directory are
/// adopted; accounts someone else made keep their origin.
pub(crate) fn adopted_origin(current: &Origin, source: &str) -> Option<Origin> {
    match current {
        Origin::Unknown => Some(Origin::Directory(source.to_owned())),
        Origin::Directory(s) if s != source => Some(Origin::Directory(source.to_owned())),
        _ => None,
    }
}

/// The destructive-change guards: an empty or partial authoritative
/// snapshot, an incomplete gateway listing, or a gateway that shrank by more
/// than the threshold since the last run all mean "we do not know who is
/// really gone", so nothing is flagged or removed. Records the authoritative
/// snapshot could not read hold deletions and deactivations (flags are still
/// recorded), unless the policy says otherwise. An incomplete HR snapshot
/// stops only the HR rule.
pub(crate) fn safety_guards(
    desired: &Desired,
    current: &GatewayListing,
    state: &SyncState,
    policy: &Policy,
) -> Vec<Guard> {
    let mut guards = Vec::new();
    let source = &desired.authoritative;
    if !source.is_complete() {
        let reason = match &source.completeness {
            muster_core::Completeness::Partial { reason } => reason.clone(),
            _ => String::new(),
        };
        guards.push(Guard::SourceIncomplete {
            source: source.source.clone(),
            reason,
        });
    }
    if source.entries.is_empty() {
        guards.push(Guard::SourceEmpty {
            source: source.source.clone(),
        });
    }
    if !current.complete {
        guards.push(Guard::GatewayListingIncomplete);
    }
    if policy.hold_deletions_for_unread_records {
        let read = source.entries.iter().filter_map(|e| e.location.as_ref());
        if let Some((count, first)) = unread_records(&source.issues, read) {
            guards.push(Guard::RecordsUnread {
                source: source.source.clone(),
                count,
                first,
            });
        }
    }
    if let Some(from) = state.last_gateway_count {
        let to = current.accounts.len();
        let allowed = policy.threshold.shrink_allowed(from);
        if from > to && from - to > allowed {
            guards.push(Guard::GatewayShrank { from, to, allowed });
        }
    }
    let hr_unusable = |hr: &&muster_core::HrSnapshot| !hr.is_complete() || hr.records.is_empty();
    if let Some(hr) = desired
        .hr
        .as_ref()
        .filter(|_| policy.hr_rule.is_some())
        .filter(hr_unusable)
    {
        guards.push(Guard::HrIncomplete {
            source: hr.source.clone(),
        });
    }
    if let Some(hr) = desired.hr.as_ref().filter(|_| policy.hr_rule.is_some()) {
        let read = hr.records.iter().filter_map(|r| r.location.as_ref());
        if let Some((count, first)) = unread_records(&hr.issues, read) {
            guards.push(Guard::HrRecordsUnread {
                source: hr.source.clone(),
                count,
                first,
            });
        }
    }
    guards
}

/// How many locations an [`Guard::RecordsUnread`] names.
const UNREAD_SHOWN: usize = 3;

/// The records a source could not read: its issues at places no record it
/// did read comes from (an issue at a read record's place is a bad value in
/// it), as a count and the first few places. A typo in one row must not make
/// that person look absent and, a week later, delete their account.
fn unread_records<'a>(
    issues: &'a [muster_core::SourceIssue],
    read: impl Iterator<Item = &'a Location>,
) -> Option<(usize, Vec<Location>)> {
    if issues.is_empty() {
        return None;
    }
    let mut unread: BTreeSet<&Location> = issues.iter().map(|i| &i.location).collect();
    for at in read {
        unread.remove(at);
        if unread.is_empty() {
            return None;
        }
    }
    let first = unread
        .iter()
        .take(UNREAD_SHOWN)
        .map(|l| (*l).clone())
        .collect();
    Some((unread.len(), first))
}

/// Where an absent, flaggable account is in the deletion lifecycle.
pub(crate) enum Lifecycle {
    /// Not flagged yet: flag it now.
    StartFlag,
    /// Flagged, waiting: `runs` absent so far, deletable from `due` (if ever).
    Wait {
        /// Consecutive absent runs, this one included.
        runs: u32,
        /// When the delay ends.
        due: Option<DateTime<Utc>>,
    },
    /// Flagged long enough and for enough runs: delete.
    Delete {
        /// Consecutive absent runs, this one included.
        runs: u32,
    },
}

/// The deletion lifecycle: absent → flagged → deleted only after the delay
/// *and* the minimum number of consecutive absent runs (a run is a new
/// `now`; planning twice at the same instant is the same run). `never`
/// never deletes. Both conditions protect against a directory that is wrong
/// for a day, and against a scheduler that runs many times in an hour.
pub(crate) fn lifecycle(
    flag: Option<&FlagState>,
    new_run: bool,
    delay: DeleteDelay,
    min_runs: u32,
    now: DateTime<Utc>,
) -> Lifecycle {
    let Some(flag) = flag else {
        return Lifecycle::StartFlag;
    };
    let runs = flag.absent_runs + u32::from(new_run);
    let due = delay.duration().map(|d| flag.since + d);
    match due {
        Some(due) if now >= due && runs >= min_runs => Lifecycle::Delete { runs },
        _ => Lifecycle::Wait { runs, due },
    }
}

/// Which rule decides this plan's welcome letters: the organisation's own
/// setting first (the gateway sends none when it is off), then the policy's.
pub(crate) fn welcome_rule(policy: &Policy, target: &TargetProfile) -> WelcomeRule {
    if target.welcome_letters == Some(false) {
        WelcomeRule::OffForOrganisation
    } else if !policy.welcome_letters {
        WelcomeRule::OffByPolicy
    } else {
        WelcomeRule::EndUsers
    }
}

/// A welcome letter goes with a create only when the rule sends letters,
/// only to an end user, and only to an active one: letters go to real
/// people; silent users, functional accounts and a disabled user created
/// inactive never get one.
pub(crate) fn welcome_letter(account: &Account, rule: WelcomeRule) -> bool {
    rule == WelcomeRule::EndUsers && account.user_type == UserType::EndUser && account.active
}

/// Whether an account counts against the licence: the gateway's own
/// `is_billable` when it says, otherwise end and silent users do.
pub(crate) fn billable(account: &Account) -> bool {
    account.billable.unwrap_or(matches!(
        account.user_type,
        UserType::EndUser | UserType::SilentUser
    ))
}

/// Text values compare trimmed, with blank equal to missing: a gateway that
/// returns `""` where the directory has nothing is not a difference.
#[inline]
pub(crate) fn same_text(a: Option<&str>, b: Option<&str>) -> bool {
    fn norm(s: Option<&str>) -> Option<&str> {
        s.map(str::trim).filter(|s| !s.is_empty())
    }
    a == b || norm(a) == norm(b)
}

/// "2026-11-01" for reasons.
pub(crate) fn day(t: DateTime<Utc>) -> String {
    use chrono::Datelike;
    format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())
}

/// What a reviewer should know that is not a change: per source, each
/// field muster owns and the source provides that the gateway cannot hold
/// (with how many entries carry a value for it, once per field), and what
/// the source itself counted and left out.
pub(crate) fn notes(desired: &Desired, policy: &Policy, target: &TargetProfile) -> Vec<PlanNote> {
    let mut notes = Vec::new();
    for snapshot in std::iter::once(&desired.authoritative).chain(&desired.supplemental) {
        for field in snapshot.provided.iter() {
            if !policy.owned_fields.contains(field) || target.capabilities.fields.contains(field) {
                continue;
            }
            let entries = snapshot
                .entries
                .iter()
                .filter(|e| has_value(e, field))
                .count();
            if entries > 0 {
                notes.push(PlanNote::FieldNotWritten {
                    source: snapshot.source.clone(),
                    field,
                    entries,
                });
            }
        }
        notes.extend(snapshot.notes.iter().map(|note| PlanNote::Source {
            source: snapshot.source.clone(),
            counted: note.clone(),
        }));
    }
    notes
}

/// Whether `entry` carries a value for `field` (the kind and the enabled
/// flag always do).
fn has_value(entry: &DirectoryEntry, field: Field) -> bool {
    let text = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    match field {
        Field::FirstName => text(&entry.first_name),
        Field::LastName => text(&entry.last_name),
        Field::Aliases => !entry.aliases.is_empty(),
        Field::Mobile => text(&entry.mobile),
        Field::Phone => text(&entry.phone),
        Field::Company => text(&entry.company),
        Field::Department => text(&entry.department),
        Field::Notes => text(&entry.notes),
        Field::Groups => !entry.member_of.is_empty(),
        Field::AllowSenders => !entry.allow_senders.is_empty(),
        Field::BlockSenders => !entry.block_senders.is_empty(),
        Field::ExternalId => entry.external_id.is_some(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::policy::Threshold;
    use crate::state::FlagCause;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 9, 0, 0).unwrap()
    }

    fn flag(since: DateTime<Utc>, runs: u32) -> FlagState {
        FlagState {
            since,
            absent_runs: runs,
            cause: FlagCause::Absent,
            reason: String::new(),
        }
    }

    #[test]
    fn deletion_needs_both_the_delay_and_the_runs() {
        let f = flag(at(1), 1);
        assert!(matches!(
            lifecycle(None, true, DeleteDelay::Days7, 3, at(1)),
            Lifecycle::StartFlag
        ));
        // Delay passed, but only 2 runs.
        assert!(matches!(
            lifecycle(Some(&f), true, DeleteDelay::Days7, 3, at(9)),
            Lifecycle::Wait { runs: 2, .. }
        ));
        // Enough runs, delay not passed.
        let many = flag(at(1), 10);
        assert!(matches!(
            lifecycle(Some(&many), true, DeleteDelay::Days7, 3, at(7)),
            Lifecycle::Wait { .. }
        ));
        // Both: delete.
        assert!(matches!(
            lifecycle(
                Some(&many),
                true,
                DeleteDelay::Days7,
                3,
                at(1) + Duration::days(7)
            ),
            Lifecycle::Delete { runs: 11 }
        ));
        // Never means never.
        assert!(matches!(
            lifecycle(Some(&many), true, DeleteDelay::Never, 1, at(30)),
            Lifecycle::Wait { due: None, .. }
        ));
    }

    #[test]
    fn planning_twice_at_one_instant_is_one_run() {
        let f = flag(at(1), 2);
        assert!(matches!(
            lifecycle(Some(&f), false, DeleteDelay::Days7, 3, at(20)),
            Lifecycle::Wait { runs: 2, .. }
        ));
    }

    #[test]
    fn threshold_is_the_smaller_of_count_and_percent() {
        let t = Threshold {
            max_count: 25,
            max_percent: 10,
        };
        assert_eq!(t.allowed(1000), 25);
        assert_eq!(t.allowed(100), 10);
        assert_eq!(
            t.allowed(5),
            1,
            "a tiny organisation may still change one account (the percentage rounds up)"
        );
        assert_eq!(
            t.shrink_allowed(5),
            0,
            "but a listing missing one is suspect"
        );
    }

    #[test]
    fn blank_text_equals_missing_and_is_trimmed() {
        assert!(same_text(Some("  "), None));
        assert!(same_text(Some(" Ann "), Some("Ann")));
        assert!(
            !same_text(Some("Ann"), Some("ann")),
            "case in a name is a real change"
        );
    }

    #[test]
    fn downgrades_are_ranked() {
        use crate::plan::is_downgrade;
        assert!(is_downgrade(
            &UserType::EndUser,
            &UserType::FunctionalAccount
        ));
        assert!(is_downgrade(
            &UserType::SilentUser,
            &UserType::FunctionalAccount
        ));
        assert!(!is_downgrade(
            &UserType::FunctionalAccount,
            &UserType::EndUser
        ));
        assert!(!is_downgrade(&UserType::EndUser, &UserType::EndUser));
    }

    #[test]
    fn clock_going_backwards_is_refused() {
        let mut state = SyncState::new("us1", "example.com");
        state.last_run = Some(at(5));
        assert!(check_clock(&state, at(5)).is_ok());
        let err = check_clock(&state, at(4)).unwrap_err();
        assert!(
            err.to_string().contains("earlier than the last run"),
            "{err}"
        );
    }
}
