//! The planner against its reference (`reference/mod.rs`): on generated
//! organisations — an authoritative directory and up to two supplemental
//! sources listing overlapping addresses, the policy's additions, HR
//! records, muster's state (ownership, flags, ignored and deactivated
//! accounts), unknown-origin and protected accounts — `plan()` must make the
//! same plan as the rules written out the slow way, run after run, as the
//! lifecycle moves on at several `now`s (each plan applied with
//! `simulate::apply` before the next).
//!
//! 128 cases by default (a couple of seconds); `PROPTEST_CASES` raises it for
//! a soak: `PROPTEST_CASES=5000 cargo test -p muster-reconcile --test oracle`.

mod common;
mod reference;

use chrono::{DateTime, Duration, Utc};
use common::{a, d, t};
use muster_core::{
    Account, DirectoryEntry, DirectorySnapshot, EmailAddress, Field, FieldSet, HrRecord,
    HrSnapshot, HrStatus, Location, Origin, RecipientKind, SourceIssue, UserType,
};
use muster_reconcile::{
    Capabilities, DeleteDelay, Desired, FlagAction, FlagCause, GatewayListing, HrAction, HrRule,
    Mode, Plan, Policy, Step, SyncState, TargetProfile, Transition, UnknownOrigin, plan, simulate,
};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::TestCaseError;
use reference::{Inputs, SamePlan, SameSummary, changes_in_stable_order, normalise};

/// Primaries and aliases come from separate pools (see the reference's
/// doc: no alias names a primary, so no rename arises); both are small so
/// that sources overlap, entries clash and aliases move often.
const PEOPLE: [&str; 6] = ["ann", "bob", "cy", "di", "ed", "flo"];
const ROLES: [&str; 4] = ["sales", "info", "team", "help"];
/// `other.test` is not managed.
const DOMAINS: [&str; 3] = ["example.com", "example.org", "other.test"];
const SUPPLEMENTAL: [&str; 2] = ["csv", "smtp"];

fn spelled(local: &str, domain: &str, upper: bool) -> EmailAddress {
    let s = format!("{local}@{domain}");
    a(&if upper { s.to_uppercase() } else { s })
}

fn address(locals: &'static [&'static str]) -> impl Strategy<Value = EmailAddress> {
    (
        select(locals),
        prop_oneof![3 => Just(DOMAINS[0]), 1 => Just(DOMAINS[1]), 1 => Just(DOMAINS[2])],
        prop_oneof![4 => Just(false), 1 => Just(true)],
    )
        .prop_map(|(l, dom, upper)| spelled(l, dom, upper))
}

fn person() -> impl Strategy<Value = EmailAddress> {
    address(&PEOPLE)
}

fn role() -> impl Strategy<Value = EmailAddress> {
    address(&ROLES)
}

fn text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        3 => select(&["Ann", "Bo", " Bo ", "  "][..]).prop_map(|s| Some(s.to_owned())),
    ]
}

fn groups() -> impl Strategy<Value = std::collections::BTreeSet<String>> {
    subsequence(vec!["staff", "sales"], 0..=2)
        .prop_map(|g| g.into_iter().map(str::to_owned).collect())
}

/// An entry of `file`, at one of a few lines (often the same one) or nowhere.
fn entry(file: &'static str) -> impl Strategy<Value = DirectoryEntry> {
    (
        person(),
        proptest::collection::vec(role(), 0..3),
        (text(), text(), text()),
        prop_oneof![
            6 => Just(RecipientKind::UserMailbox),
            1 => Just(RecipientKind::SharedMailbox),
            1 => Just(RecipientKind::Contact),
        ],
        prop_oneof![5 => Just(true), 1 => Just(false)],
        groups(),
        proptest::option::of(1u64..4),
    )
        .prop_map(
            move |(primary, aliases, (first, last, dept), kind, enabled, member_of, line)| {
                let mut e = DirectoryEntry::new(primary)
                    .with_kind(kind)
                    .with_enabled(enabled)
                    .with_aliases(aliases);
                e.first_name = first;
                e.last_name = last;
                e.department = dept;
                e.member_of = member_of;
                e.location = line.map(|l| Location::line(file, l));
                e
            },
        )
}

fn provided() -> impl Strategy<Value = FieldSet> {
    subsequence(
        vec![
            Field::FirstName,
            Field::LastName,
            Field::Aliases,
            Field::Department,
            Field::Groups,
        ],
        0..=5,
    )
    .prop_map(FieldSet::from_iter)
}

fn account() -> impl Strategy<Value = Account> {
    (
        person(),
        proptest::collection::vec(role(), 0..3),
        (text(), text()),
        prop_oneof![
            6 => Just(UserType::EndUser),
            2 => Just(UserType::SilentUser),
            2 => Just(UserType::FunctionalAccount),
            1 => Just(UserType::OrganizationAdmin),
            1 => Just(UserType::Other("room".into())),
        ],
        prop_oneof![4 => Just(true), 1 => Just(false)],
        prop_oneof![9 => Just(false), 1 => Just(true)],
        prop_oneof![4 => Just(None), 1 => any::<bool>().prop_map(Some)],
        groups(),
    )
        .prop_map(
            |(primary, aliases, (first, dept), ty, active, read_only, billable, groups)| {
                let mut acc = Account::new(primary).with_type(ty).with_aliases(aliases);
                acc.first_name = first;
                acc.department = dept;
                acc.active = active;
                acc.read_only = read_only;
                acc.billable = billable;
                acc.groups = groups;
                acc
            },
        )
}

/// Gateway accounts never share an address: the first holder keeps it.
fn gateway(accounts: Vec<Account>) -> Vec<Account> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for mut acc in accounts {
        if !seen.insert(acc.primary_email.normalized().to_owned()) {
            continue;
        }
        acc.aliases
            .retain(|x| seen.insert(x.normalized().to_owned()));
        out.push(acc);
    }
    out
}

/// What muster remembers of one gateway account.
#[derive(Debug, Clone)]
struct Known {
    /// `None`: muster never saw it.
    origin: Option<Origin>,
    /// Flagged this many days before the last run, absent for so many runs, for this cause.
    flag: Option<(i64, u32, FlagCause)>,
    ignored: bool,
    deactivated_by_muster: bool,
}

fn known() -> impl Strategy<Value = Known> {
    (
        prop_oneof![
            4 => Just(Some(Origin::Directory("ldap".into()))),
            2 => Just(Some(Origin::Directory("old-ad".into()))),
            1 => Just(Some(Origin::Directory("csv".into()))),
            2 => Just(None),
            1 => Just(Some(Origin::Unknown)),
            1 => Just(Some(Origin::Manual)),
            1 => Just(Some(Origin::CsvImport)),
            1 => Just(Some(Origin::SmtpDiscovery)),
        ],
        proptest::option::weighted(
            0.3,
            (
                0i64..20,
                1u32..4,
                prop_oneof![4 => Just(FlagCause::Absent), 1 => Just(FlagCause::Hr)],
            ),
        ),
        prop_oneof![5 => Just(false), 1 => Just(true)],
        prop_oneof![5 => Just(false), 1 => Just(true)],
    )
        .prop_map(|(origin, flag, ignored, deactivated_by_muster)| Known {
            origin,
            flag,
            ignored,
            deactivated_by_muster,
        })
}

#[derive(Debug, Clone)]
struct Hr {
    records: Vec<(EmailAddress, HrStatus)>,
    action: HrAction,
    allow: Option<EmailAddress>,
    partial: bool,
    unread_row: bool,
}

fn hr() -> impl Strategy<Value = Hr> {
    (
        proptest::collection::vec(
            (
                person(),
                prop_oneof![
                    3 => Just(HrStatus::Active),
                    2 => Just(HrStatus::Terminated),
                    1 => Just(HrStatus::Leave),
                ],
            ),
            0..6,
        ),
        select(&[HrAction::MakeFunctional, HrAction::Flag][..]),
        proptest::option::weighted(0.2, person()),
        prop_oneof![6 => Just(false), 1 => Just(true)],
        prop_oneof![6 => Just(false), 1 => Just(true)],
    )
        .prop_map(|(records, action, allow, partial, unread_row)| Hr {
            records,
            action,
            allow,
            partial,
            unread_row,
        })
}

/// The policy's and the gateway's settings.
#[derive(Debug, Clone)]
struct Settings {
    mode: Mode,
    delay: DeleteDelay,
    min_runs: u32,
    flag_action: FlagAction,
    unknown: UnknownOrigin,
    sync_disabled: bool,
    exception: Option<EmailAddress>,
    silent_by_default: bool,
    letters: bool,
    hold_for_unread: bool,
    /// `max_percent` is 0 or 100, so rounding cannot change the shrink guard.
    threshold: (usize, u32),
    override_threshold: bool,
    bulk_size: usize,
    groups: bool,
    bulk: bool,
    held: FieldSet,
    /// A person's address as muster's login (protected), else muster-api@.
    login: Option<EmailAddress>,
    org_letters: Option<bool>,
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        (
            prop_oneof![5 => Just(Mode::Authoritative), 1 => Just(Mode::Supplemental)],
            select(&[DeleteDelay::Days7, DeleteDelay::Days14, DeleteDelay::Never][..]),
            1u32..4,
            select(&[FlagAction::RecordOnly, FlagAction::Deactivate][..]),
            select(
                &[
                    UnknownOrigin::AdoptMatchedListRest,
                    UnknownOrigin::AdoptMatchedFlagRest,
                ][..],
            ),
            prop_oneof![3 => Just(false), 1 => Just(true)],
            proptest::option::weighted(0.2, person()),
            prop_oneof![3 => Just(false), 1 => Just(true)],
            prop_oneof![3 => Just(true), 1 => Just(false)],
            prop_oneof![4 => Just(true), 1 => Just(false)],
        ),
        (
            (select(&[0usize, 3, 25][..]), select(&[0u32, 100][..])),
            any::<bool>(),
            1usize..3,
            any::<bool>(),
            any::<bool>(),
            prop_oneof![
                3 => Just(FieldSet::all()),
                1 => subsequence(
                    vec![Field::FirstName, Field::LastName, Field::Aliases, Field::Department, Field::Groups],
                    0..=5,
                )
                .prop_map(FieldSet::from_iter),
            ],
            proptest::option::weighted(0.2, person()),
            prop_oneof![Just(None), Just(Some(true)), Just(Some(false))],
        ),
    )
        .prop_map(
            |(
                (
                    mode,
                    delay,
                    min_runs,
                    flag_action,
                    unknown,
                    sync_disabled,
                    exception,
                    silent_by_default,
                    letters,
                    hold_for_unread,
                ),
                (threshold, override_threshold, bulk_size, groups, bulk, held, login, org_letters),
            )| Settings {
                mode,
                delay,
                min_runs,
                flag_action,
                unknown,
                sync_disabled,
                exception,
                silent_by_default,
                letters,
                hold_for_unread,
                threshold,
                override_threshold,
                bulk_size,
                groups,
                bulk,
                held,
                login,
                org_letters,
            },
        )
}

/// The authoritative directory as read: its entries, whether the read was
/// partial, and lines it could not read (100, 101…) or read with a bad value.
#[derive(Debug, Clone)]
struct Authoritative {
    provided: FieldSet,
    entries: Vec<DirectoryEntry>,
    partial: bool,
    unread: usize,
    bad_value_at: Option<u64>,
    /// Entries gone from the second run on (people leaving).
    leavers: Vec<bool>,
}

fn authoritative() -> impl Strategy<Value = Authoritative> {
    (
        provided(),
        proptest::collection::vec(entry("ldap.ldif"), 0..7),
        prop_oneof![8 => Just(false), 1 => Just(true)],
        prop_oneof![6 => Just(0usize), 1 => 1usize..4],
        proptest::option::weighted(0.15, 1u64..4),
        proptest::collection::vec(prop_oneof![2 => Just(false), 1 => Just(true)], 7),
    )
        .prop_map(
            |(provided, entries, partial, unread, bad_value_at, leavers)| Authoritative {
                provided,
                entries,
                partial,
                unread,
                bad_value_at,
                leavers,
            },
        )
}

#[derive(Debug, Clone)]
struct Org {
    auth: Authoritative,
    /// Up to two supplemental sources (named "csv", "smtp" in order): their
    /// own entries, and which gateway accounts they list again, as an old
    /// export of the gateway would (no aliases, no groups, no location).
    supplemental: Vec<(FieldSet, Vec<DirectoryEntry>, Vec<bool>)>,
    additions: Vec<DirectoryEntry>,
    /// The gateway: accounts for some authoritative entries as the last sync
    /// left them, then generated ones.
    accounts: Vec<Account>,
    known: Vec<Known>,
    listing_partial: bool,
    hr: Option<Hr>,
    settings: Settings,
    /// The last run was `t0`, or muster never ran.
    ran_before: bool,
    /// The gateway expected after the last run: as listed, one more, or forty more.
    expected_more: Option<usize>,
    /// Hours after the previous run each of the three runs happens.
    gaps: [i64; 3],
}

fn org() -> impl Strategy<Value = Org> {
    let gap = select(&[0i64, 1, 24 * 3, 24 * 8, 24 * 16, 24 * 31][..]);
    (
        authoritative(),
        proptest::collection::vec(
            (
                // Mostly with aliases: what a supplemental source must never take away.
                (provided(), prop_oneof![3 => Just(true), 1 => Just(false)])
                    .prop_map(|(p, aliases)| if aliases { p.with(Field::Aliases) } else { p }),
                proptest::collection::vec(entry("users.csv"), 0..5),
                proptest::collection::vec(any::<bool>(), 13),
            ),
            0..=2,
        ),
        proptest::collection::vec(entry("additions"), 0..2)
            .prop_map(|v| v.into_iter().map(|e| e.with_location_none()).collect()),
        proptest::collection::vec(
            prop_oneof![Just(Synced::No), Just(Synced::AsLeft), Just(Synced::Stale)],
            7,
        ),
        proptest::collection::vec(account(), 0..6),
        proptest::collection::vec(known(), 13),
        prop_oneof![10 => Just(false), 1 => Just(true)],
        proptest::option::weighted(0.6, hr()),
        settings(),
        prop_oneof![4 => Just(true), 1 => Just(false)],
        prop_oneof![3 => Just(None), 2 => Just(Some(0usize)), 1 => Just(Some(1)), 1 => Just(Some(40))],
        [gap.clone(), gap.clone(), gap],
    )
        .prop_map(
            |(
                auth,
                supplemental,
                additions,
                synced,
                accounts,
                known,
                listing_partial,
                hr,
                settings,
                ran_before,
                expected_more,
                gaps,
            )| Org {
                supplemental,
                additions,
                accounts: gateway(synced_accounts(&auth, &synced).chain(accounts).collect()),
                auth,
                known,
                listing_partial,
                hr,
                settings,
                ran_before,
                expected_more,
                gaps,
            },
        )
}

/// Whether the last sync made an account for an authoritative entry.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Synced {
    No,
    /// As the entry is now: on most runs most accounts have nothing to do.
    AsLeft,
    /// Before the entry's groups and last alias were added.
    Stale,
}

/// The accounts the last sync made for the authoritative entries.
fn synced_accounts<'a>(
    auth: &'a Authoritative,
    synced: &'a [Synced],
) -> impl Iterator<Item = Account> + 'a {
    auth.entries
        .iter()
        .zip(synced)
        .filter(|(_, s)| **s != Synced::No)
        .map(|(e, s)| {
            let mut acc =
                Account::new(e.primary_email.clone()).with_aliases(e.aliases.iter().cloned());
            let text = |t: &Option<String>| t.as_deref().and_then(muster_core::non_blank);
            acc.first_name = text(&e.first_name);
            acc.last_name = text(&e.last_name);
            acc.department = text(&e.department);
            acc.groups = e.member_of.clone();
            if *s == Synced::Stale {
                acc.groups.clear();
                if let Some(last) = e.aliases.iter().last() {
                    acc.aliases.remove(last);
                }
            }
            acc
        })
}

trait NoLocation {
    fn with_location_none(self) -> Self;
}

impl NoLocation for DirectoryEntry {
    /// The policy's additions come from the policy, not from a file.
    fn with_location_none(mut self) -> Self {
        self.location = None;
        self
    }
}

/// The last run before the first generated one.
fn t0() -> DateTime<Utc> {
    t(10, 8)
}

impl Org {
    fn desired(&self, run: usize) -> Desired {
        let auth = &self.auth;
        let entries: Vec<DirectoryEntry> = auth
            .entries
            .iter()
            .zip(&auth.leavers)
            .filter(|(_, gone)| run == 0 || !**gone)
            .map(|(e, _)| e.clone())
            .collect();
        let mut snapshot = DirectorySnapshot::new("ldap", auth.provided).with_entries(entries);
        if auth.partial {
            snapshot = snapshot.partial("size limit");
        }
        for k in 0..auth.unread {
            let at = Location::line("ldap.ldif", 100 + k as u64);
            snapshot
                .issues
                .push(SourceIssue::new(at, "a valid mail").with_value("Broken@Example.com"));
        }
        if let Some(line) = auth.bad_value_at {
            let at = Location::line("ldap.ldif", line);
            snapshot.issues.push(SourceIssue::new(at, "a phone number"));
        }
        let mut desired = Desired::new(snapshot);
        for (name, (provided, own, echo)) in SUPPLEMENTAL.iter().zip(&self.supplemental) {
            let mut entries = own.clone();
            for (acc, _) in self
                .accounts
                .iter()
                .zip(echo)
                .filter(|(_, echoed)| **echoed)
            {
                let mut old = DirectoryEntry::new(acc.primary_email.clone());
                old.first_name.clone_from(&acc.first_name);
                old.department = Some("Old".into());
                entries.push(old);
            }
            desired = desired
                .with_supplemental(DirectorySnapshot::new(*name, *provided).with_entries(entries));
        }
        if let Some(hr) = &self.hr {
            let records = hr
                .records
                .iter()
                .enumerate()
                .map(|(n, (email, status))| {
                    let mut r = HrRecord::new(email.clone(), status.clone());
                    r.location = Some(Location::line("hr.csv", n as u64 + 2));
                    r
                })
                .collect();
            let mut snapshot = HrSnapshot::new("hr.csv", records);
            if hr.partial {
                snapshot.completeness = muster_core::Completeness::Partial {
                    reason: "timeout".into(),
                };
            }
            if hr.unread_row {
                snapshot
                    .issues
                    .push(SourceIssue::new(Location::line("hr.csv", 99), "an email"));
            }
            desired = desired.with_hr(snapshot);
        }
        desired
    }

    fn policy(&self) -> Policy {
        let s = &self.settings;
        let mut p = Policy::builder()
            .managed_domain(d("example.com"))
            .managed_domain(d("example.org"))
            .mode(s.mode)
            .delete_delay(s.delay)
            .min_absent_runs(s.min_runs)
            .flag_action(s.flag_action)
            .unknown_origin(s.unknown)
            .sync_disabled_users(s.sync_disabled)
            .welcome_letters(s.letters)
            .hold_deletions_for_unread_records(s.hold_for_unread)
            .threshold(s.threshold.0, s.threshold.1)
            .override_threshold(s.override_threshold)
            .bulk_size(s.bulk_size);
        if s.silent_by_default {
            p = p.default_user_type(UserType::SilentUser);
        }
        if let Some(x) = &s.exception {
            p = p.exception(x.clone());
        }
        for e in &self.additions {
            p = p.addition(e.clone());
        }
        if let Some(hr) = &self.hr {
            p = p.hr_rule(HrRule::new(hr.action).allow(hr.allow.clone()));
        }
        p.build()
    }

    fn target(&self) -> TargetProfile {
        let s = &self.settings;
        let mut target = TargetProfile::new("us1", "example.com")
            .with_domain(d("example.com"))
            .with_domain(d("example.org"))
            .with_login(
                s.login
                    .clone()
                    .unwrap_or_else(|| a("muster-api@example.com")),
            )
            .with_capabilities(
                Capabilities::default()
                    .with_groups(s.groups)
                    .with_bulk_create(s.bulk)
                    .with_fields(s.held),
            );
        if let Some(send) = s.org_letters {
            target = target.with_welcome_letters(send);
        }
        target
    }

    fn state(&self) -> SyncState {
        let mut s = SyncState::new("us1", "example.com");
        for (acc, k) in self.accounts.iter().zip(&self.known) {
            let email = &acc.primary_email;
            if let Some(origin) = &k.origin {
                s.set_origin(email.clone(), origin.clone());
            }
            if let Some((days_ago, runs, cause)) = k.flag {
                s.apply(&Transition::Flag {
                    email: email.clone(),
                    since: t0() - Duration::days(days_ago),
                    cause,
                    reason: "generated".into(),
                });
                s.apply(&Transition::CountAbsent {
                    email: email.clone(),
                    runs,
                });
            }
            if k.ignored {
                s.ignore(email.clone());
            }
            if k.deactivated_by_muster {
                s.apply(&Transition::Deactivated {
                    email: email.clone(),
                });
            }
        }
        if self.ran_before {
            s.last_run = Some(t0());
        }
        s.last_gateway_count = self.expected_more.map(|more| self.accounts.len() + more);
        s
    }

    fn listing(&self, accounts: &[Account]) -> GatewayListing {
        if self.listing_partial {
            GatewayListing::partial(accounts.to_vec())
        } else {
            GatewayListing::complete(accounts.to_vec())
        }
    }
}

/// `actual` equals `expected`, section by section (the first difference is
/// the one reported, with both plans' changes for context).
fn same(actual: &SamePlan, expected: &SamePlan, plan: &Plan) -> Result<(), TestCaseError> {
    let context = || format!("\nplanner's plan: {:#?}", plan.changes);
    prop_assert_eq!(&actual.header, &expected.header);
    prop_assert_eq!(&actual.guards, &expected.guards, "guards{}", context());
    prop_assert_eq!(&actual.skipped, &expected.skipped, "skipped{}", context());
    prop_assert_eq!(&actual.changes, &expected.changes, "changes");
    prop_assert_eq!(
        &actual.conflicts,
        &expected.conflicts,
        "conflicts{}",
        context()
    );
    prop_assert_eq!(
        &actual.run_transitions,
        &expected.run_transitions,
        "run transitions"
    );
    // The reference does not model the reasons that make two records of
    // one address distinct (see its doc): the count is the plan's own list's.
    prop_assert_eq!(plan.summary.skipped, plan.skipped.len(), "skipped count");
    let expected_summary = SameSummary {
        skipped: actual.summary.skipped,
        ..expected.summary.clone()
    };
    prop_assert_eq!(&actual.summary, &expected_summary, "summary{}", context());
    prop_assert_eq!(
        actual.destructive,
        expected.destructive,
        "destructive steps"
    );
    prop_assert_eq!(actual.overridden, expected.overridden);
    Ok(())
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Three runs of one organisation: each plan equals the reference's, is
    /// in the stable order, and is applied before the next run (people in
    /// `leavers` are gone from the second run on).
    #[test]
    fn the_planner_makes_the_reference_plan(org in org()) {
        let (policy, target) = (org.policy(), org.target());
        let mut accounts = org.accounts.clone();
        let mut state = org.state();
        let mut now = if org.ran_before { t0() } else { t(1, 0) };
        for (run, gap) in org.gaps.iter().enumerate() {
            now += Duration::hours(*gap);
            let desired = org.desired(run);
            let listing = org.listing(&accounts);
            let planned = plan(&desired, &listing, &target, &state, &policy, now).unwrap();
            prop_assert!(changes_in_stable_order(&planned), "order: {:#?}", planned.changes);
            let inputs = Inputs { desired: &desired, current: &listing, target: &target, state: &state, policy: &policy, now };
            same(&normalise(&planned), &reference::plan(&inputs), &planned)?;
            simulate::apply(&planned, &mut accounts, &mut state);
        }
    }
}

// ---------------------------------------------------------------------------
// The two mutants that once survived every test, each with a named test.
// ---------------------------------------------------------------------------

fn plain_target() -> TargetProfile {
    TargetProfile::new("us1", "example.com").with_domain(d("example.com"))
}

fn plain_policy() -> Policy {
    Policy::builder().managed_domain(d("example.com")).build()
}

fn names_and_aliases() -> FieldSet {
    FieldSet::from_iter([Field::FirstName, Field::Aliases])
}

fn named(email: &str, first: &str) -> DirectoryEntry {
    let mut e = DirectoryEntry::new(a(email));
    e.first_name = Some(first.to_owned());
    e
}

fn first_name_set_to(plan: &Plan, email: &str) -> Option<String> {
    let email = a(email);
    plan.changes
        .iter()
        .filter(|c| c.email == email)
        .flat_map(|c| &c.steps)
        .find_map(|s| match s {
            Step::SetField {
                field: Field::FirstName,
                after,
                ..
            } => after.clone(),
            Step::Create { account, .. } => account.first_name.clone(),
            _ => None,
        })
}

/// An address both the authoritative directory and a supplemental source
/// list is the authoritative entry's, whether the account exists or not,
/// even where the supplemental entry would win every later tie-break (no
/// location, content sorting first).
#[test]
fn the_authoritative_entry_wins_an_address_over_a_supplemental_one() {
    let at_line = |e: DirectoryEntry| e.with_location(Location::line("ldap.ldif", 7));
    let ldap = DirectorySnapshot::new("ldap", names_and_aliases()).with_entries(vec![
        at_line(named("ann@example.com", "Ann")),
        at_line(named("bob@example.com", "Bob")),
    ]);
    let csv = DirectorySnapshot::new("csv", names_and_aliases()).with_entries(vec![
        named("Ann@example.com", "Aa"),
        named("bob@example.com", "Ba"),
    ]);
    let gateway = GatewayListing::complete(vec![Account::new(a("ann@example.com"))]);
    let state = SyncState::new("us1", "example.com");
    let desired = Desired::new(ldap).with_supplemental(csv);
    let p = plan(
        &desired,
        &gateway,
        &plain_target(),
        &state,
        &plain_policy(),
        t(2, 9),
    )
    .unwrap();
    assert_eq!(
        first_name_set_to(&p, "ann@example.com").as_deref(),
        Some("Ann")
    );
    assert_eq!(
        first_name_set_to(&p, "bob@example.com").as_deref(),
        Some("Bob")
    );
    let bob = p
        .changes
        .iter()
        .find(|c| c.email == a("bob@example.com"))
        .unwrap();
    assert!(
        bob.transitions.contains(&Transition::Claim {
            email: a("bob@example.com"),
            origin: Origin::Directory("ldap".into()),
            external_id: None,
        }),
        "bob is the directory's: {bob:#?}"
    );
    assert!(
        p.skipped.is_empty(),
        "outranked, not a clash: {:#?}",
        p.skipped
    );
}

/// Two entries of one source for one address: the one at the earlier
/// location wins; without locations, the documented content order decides
/// (aliases, kind, enabled, then names…), never the order they came in.
#[test]
fn ties_for_one_address_break_by_location_then_content() {
    let ldap = |entries: Vec<DirectoryEntry>| {
        Desired::new(DirectorySnapshot::new("ldap", names_and_aliases()).with_entries(entries))
    };
    let gateway = GatewayListing::complete(vec![]);
    let state = SyncState::new("us1", "example.com");
    let winner = |entries: Vec<DirectoryEntry>| {
        let p = plan(
            &ldap(entries),
            &gateway,
            &plain_target(),
            &state,
            &plain_policy(),
            t(2, 9),
        )
        .unwrap();
        assert_eq!(p.skipped.len(), 1, "the loser is a clash: {:#?}", p.skipped);
        first_name_set_to(&p, "ann@example.com").unwrap()
    };
    let at = |e: DirectoryEntry, line| e.with_location(Location::line("ldap.ldif", line));
    let (zed, ann) = (
        named("ann@example.com", "Zed"),
        named("ann@example.com", "Ann"),
    );
    assert_eq!(winner(vec![at(zed.clone(), 3), at(ann.clone(), 5)]), "Zed");
    assert_eq!(winner(vec![at(ann.clone(), 5), at(zed.clone(), 3)]), "Zed");
    assert_eq!(winner(vec![zed.clone(), ann.clone()]), "Ann");
    assert_eq!(winner(vec![ann.clone(), zed.clone()]), "Ann");
    // Aliases come before names in the content order.
    let zed = zed.with_aliases([a("a.zed@example.com")]);
    let ann = ann.with_aliases([a("b.ann@example.com")]);
    assert_eq!(winner(vec![ann.clone(), zed.clone()]), "Zed");
    assert_eq!(winner(vec![zed, ann]), "Zed");
}

/// Two entries of one source, at one place, that differ only in how an
/// address is spelled: the spelling that sorts first (byte-wise: capitals
/// first) is the one created, whichever entry came first. The oracle
/// compares addresses without case, so this is checked here.
#[test]
fn ties_between_spellings_pick_the_first_spelling() {
    let created = |entries: Vec<DirectoryEntry>| {
        let desired =
            Desired::new(DirectorySnapshot::new("ldap", names_and_aliases()).with_entries(entries));
        let p = plan(
            &desired,
            &GatewayListing::complete(vec![]),
            &plain_target(),
            &SyncState::new("us1", "example.com"),
            &plain_policy(),
            t(2, 9),
        )
        .unwrap();
        let Some(Step::Create { account, .. }) = p.changes[0].steps.first() else {
            panic!("{:#?}", p.changes);
        };
        let aliases: Vec<String> = account
            .aliases
            .iter()
            .map(|x| x.as_str().to_owned())
            .collect();
        (account.primary_email.as_str().to_owned(), aliases)
    };
    let with_alias =
        |primary: &str, alias: &str| DirectoryEntry::new(a(primary)).with_aliases([a(alias)]);
    let (upper, lower) = (
        with_alias("ann@example.com", "Sales@example.com"),
        with_alias("ann@example.com", "sales@example.com"),
    );
    let expected = (
        "ann@example.com".to_owned(),
        vec!["Sales@example.com".to_owned()],
    );
    assert_eq!(created(vec![lower.clone(), upper.clone()]), expected);
    assert_eq!(created(vec![upper, lower]), expected);
    let (upper, lower) = (
        with_alias("Ann@example.com", "sales@example.com"),
        with_alias("ann@example.com", "sales@example.com"),
    );
    let expected = (
        "Ann@example.com".to_owned(),
        vec!["sales@example.com".to_owned()],
    );
    assert_eq!(created(vec![lower.clone(), upper.clone()]), expected);
    assert_eq!(created(vec![upper, lower]), expected);
}

/// A supplemental source only adds and updates: it never removes an alias
/// (or a group), even from an account a directory owns that the
/// authoritative directory no longer lists.
#[test]
fn a_supplemental_source_never_takes_an_alias_away() {
    let ann = Account::new(a("ann@example.com")).with_aliases([a("sales@example.com")]);
    for origin in [
        Origin::Directory("old-ad".into()),
        Origin::Directory("ldap".into()),
    ] {
        let mut state = SyncState::new("us1", "example.com");
        state.set_origin(a("ann@example.com"), origin.clone());
        state.apply(&Transition::Flag {
            email: a("ann@example.com"),
            since: t(1, 9),
            cause: FlagCause::Absent,
            reason: "absent from ldap".into(),
        });
        let ldap = DirectorySnapshot::new("ldap", names_and_aliases())
            .with_entries(vec![named("bob@example.com", "Bob")]);
        let csv = DirectorySnapshot::new("csv", names_and_aliases())
            .with_entries(vec![named("ann@example.com", "Ann")]);
        let desired = Desired::new(ldap).with_supplemental(csv);
        let gateway = GatewayListing::complete(vec![ann.clone()]);
        let p = plan(
            &desired,
            &gateway,
            &plain_target(),
            &state,
            &plain_policy(),
            t(2, 9),
        )
        .unwrap();
        let change = p
            .changes
            .iter()
            .find(|c| c.email == a("ann@example.com"))
            .unwrap();
        assert_eq!(
            first_name_set_to(&p, "ann@example.com").as_deref(),
            Some("Ann"),
            "{origin}"
        );
        assert!(!change.is_destructive(), "{origin}: {change:#?}");
        assert!(
            !change
                .steps
                .iter()
                .any(|s| matches!(s, Step::RemoveAliases { .. })),
            "{origin}: {change:#?}"
        );
    }
}
