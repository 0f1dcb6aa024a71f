//! The planner's laws ("Rules that must hold"), each a named property test
//! over generated organisations: small address pools so that clashes,
//! case-only differences and alias moves happen often.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Duration, Utc};
use common::{a, d, t, target};
use muster_core::{
    Account, AddressSet, DirectoryEntry, DirectorySnapshot, EmailAddress, Field, FieldSet,
    HrRecord, HrSnapshot, HrStatus, Location, Origin, RecipientKind, SourceIssue, UserType,
};
use muster_reconcile::{
    Capabilities, DeleteDelay, Desired, FlagAction, FlagCause, GatewayListing, Guard, HrAction,
    HrRule, Plan, PlanError, Policy, Step, SyncState, TargetProfile, Transition, UnknownOrigin,
    plan, simulate,
};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

const LOCALS: [&str; 7] = ["ann", "bob", "cy", "di", "ed", "flo", "gus"];
const DOMAINS: [&str; 3] = ["example.com", "example.org", "other.test"];

fn address() -> impl Strategy<Value = EmailAddress> {
    (select(&LOCALS[..]), select(&DOMAINS[..]), any::<bool>()).prop_map(|(l, dom, upper)| {
        let s = format!("{l}@{dom}");
        a(&if upper { s.to_uppercase() } else { s })
    })
}

fn name() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        select(&["Ann", "Bo", "Cy"][..]).prop_map(|s| Some(s.to_owned()))
    ]
}

fn entry() -> impl Strategy<Value = DirectoryEntry> {
    (
        address(),
        proptest::collection::vec(address(), 0..3),
        name(),
        name(),
        name(),
        prop_oneof![4 => Just(RecipientKind::UserMailbox), 1 => Just(RecipientKind::SharedMailbox)],
        prop_oneof![5 => Just(true), 1 => Just(false)],
    )
        .prop_map(|(primary, aliases, first, last, dept, kind, enabled)| {
            let mut e = DirectoryEntry::new(primary)
                .with_kind(kind)
                .with_enabled(enabled)
                .with_aliases(aliases);
            e.first_name = first;
            e.last_name = last;
            e.department = dept;
            e
        })
}

fn user_type() -> impl Strategy<Value = UserType> {
    prop_oneof![
        6 => Just(UserType::EndUser),
        2 => Just(UserType::SilentUser),
        2 => Just(UserType::FunctionalAccount),
        1 => Just(UserType::OrganizationAdmin),
    ]
}

fn account() -> impl Strategy<Value = Account> {
    (
        address(),
        proptest::collection::vec(address(), 0..3),
        name(),
        name(),
        user_type(),
        any::<bool>(),
        prop_oneof![9 => Just(false), 1 => Just(true)],
    )
        .prop_map(|(primary, aliases, first, dept, ty, active, read_only)| {
            let mut acc = Account::new(primary).with_type(ty).with_aliases(aliases);
            acc.first_name = first;
            acc.department = dept;
            acc.read_only = read_only;
            acc.active = active;
            acc
        })
}

/// Gateway accounts never share an address: keep the first holder.
fn gateway(accounts: Vec<Account>) -> Vec<Account> {
    let mut seen = HashSet::new();
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

fn origin() -> impl Strategy<Value = Origin> {
    prop_oneof![
        3 => Just(Origin::Directory("ldap".into())),
        2 => Just(Origin::Unknown),
        1 => Just(Origin::Manual),
        1 => Just(Origin::CsvImport),
        1 => Just(Origin::SmtpDiscovery),
    ]
}

#[derive(Debug, Clone)]
struct World {
    entries: Vec<DirectoryEntry>,
    accounts: Vec<Account>,
    provided: FieldSet,
    /// The fields the gateway holds.
    held: FieldSet,
    origins: Vec<Origin>,
    flags: Vec<Option<(i64, u32)>>,
    ignored: Vec<bool>,
    delay: DeleteDelay,
    min_runs: u32,
    flag_action: FlagAction,
    unknown: UnknownOrigin,
    now: DateTime<Utc>,
}

fn world() -> impl Strategy<Value = World> {
    (
        proptest::collection::vec(entry(), 0..8),
        proptest::collection::vec(account(), 0..8).prop_map(gateway),
        subsequence(
            vec![
                Field::FirstName,
                Field::LastName,
                Field::Aliases,
                Field::Department,
            ],
            0..=4,
        ),
        prop_oneof![
            3 => Just(FieldSet::all()),
            1 => subsequence(
                vec![Field::FirstName, Field::LastName, Field::Aliases, Field::Department],
                0..=4,
            )
            .prop_map(FieldSet::from_iter),
        ],
        proptest::collection::vec(origin(), 8),
        proptest::collection::vec(proptest::option::of((0i64..20, 1u32..4)), 8),
        proptest::collection::vec(prop_oneof![5 => Just(false), 1 => Just(true)], 8),
        select(&[DeleteDelay::Days7, DeleteDelay::Days14, DeleteDelay::Never][..]),
        1u32..4,
        select(&[FlagAction::RecordOnly, FlagAction::Deactivate][..]),
        select(
            &[
                UnknownOrigin::AdoptMatchedListRest,
                UnknownOrigin::AdoptMatchedFlagRest,
            ][..],
        ),
        0u32..3,
    )
        .prop_map(
            |(
                entries,
                accounts,
                provided,
                held,
                origins,
                flags,
                ignored,
                delay,
                min_runs,
                flag_action,
                unknown,
                hour,
            )| World {
                entries,
                accounts,
                provided: provided.into_iter().collect(),
                held,
                origins,
                flags,
                ignored,
                delay,
                min_runs,
                flag_action,
                unknown,
                now: t(25, 9 + hour),
            },
        )
}

impl World {
    fn state(&self) -> SyncState {
        let mut s = SyncState::new("us1", "example.com");
        for (i, acc) in self.accounts.iter().enumerate() {
            s.set_origin(acc.primary_email.clone(), self.origins[i].clone());
            if let Some((days_ago, runs)) = self.flags[i] {
                s.apply(&Transition::Flag {
                    email: acc.primary_email.clone(),
                    since: t(25, 8) - Duration::days(days_ago),
                    cause: FlagCause::Absent,
                    reason: "absent".into(),
                });
                s.apply(&Transition::CountAbsent {
                    email: acc.primary_email.clone(),
                    runs,
                });
            }
            if self.ignored[i] {
                s.ignore(acc.primary_email.clone());
            }
        }
        s.last_run = Some(t(25, 8));
        s
    }

    fn policy(&self) -> Policy {
        Policy::builder()
            .managed_domain(d("example.com"))
            .managed_domain(d("example.org"))
            .delete_delay(self.delay)
            .min_absent_runs(self.min_runs)
            .flag_action(self.flag_action)
            .unknown_origin(self.unknown)
            .build()
    }

    /// The gateway, holding only the world's fields.
    fn target(&self) -> TargetProfile {
        target().with_capabilities(
            Capabilities::default()
                .with_bulk_create(true)
                .with_fields(self.held),
        )
    }

    fn desired(&self) -> Desired {
        Desired::new(
            DirectorySnapshot::new("ldap", self.provided).with_entries(self.entries.clone()),
        )
    }

    fn plan(&self) -> Plan {
        plan(
            &self.desired(),
            &GatewayListing::complete(self.accounts.clone()),
            &self.target(),
            &self.state(),
            &self.policy(),
            self.now,
        )
        .unwrap()
    }

    fn origin_of(&self, email: &EmailAddress) -> Option<&Origin> {
        self.accounts
            .iter()
            .position(|x| x.primary_email == *email)
            .map(|i| &self.origins[i])
    }
}

fn steps_for<'p>(plan: &'p Plan, email: &EmailAddress) -> Vec<&'p Step> {
    plan.changes
        .iter()
        .filter(|c| c.email == *email)
        .flat_map(|c| &c.steps)
        .collect()
}

fn addresses_unique(accounts: &[Account]) -> Result<(), String> {
    let mut seen = BTreeMap::new();
    for acc in accounts {
        for x in acc.addresses() {
            if let Some(other) = seen.insert(x.normalized().to_owned(), acc.primary_email.clone()) {
                return Err(format!("{x} on both {other} and {}", acc.primary_email));
            }
        }
    }
    Ok(())
}

fn config() -> ProptestConfig {
    // 384 cases by default (a few seconds); PROPTEST_CASES raises it for a soak.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(384);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Apply the plan with the in-memory model, plan again at the same
    /// instant: nothing is left to do, and no address is on two accounts.
    #[test]
    fn convergence(w in world()) {
        let first = w.plan();
        let mut accounts = w.accounts.clone();
        let mut state = w.state();
        simulate::apply(&first, &mut accounts, &mut state);
        prop_assert!(addresses_unique(&accounts).is_ok(), "{:?}", addresses_unique(&accounts));
        let again = plan(&w.desired(), &GatewayListing::complete(accounts.clone()), &w.target(), &state, &w.policy(), w.now).unwrap();
        prop_assert!(again.is_empty(), "second plan: {:#?}\nfirst: {:#?}", again.changes, first.changes);
        // And a later run converges too (counters move, nothing else appears
        // unless the lifecycle says so).
        let later = plan(&w.desired(), &GatewayListing::complete(accounts), &w.target(), &state, &w.policy(), w.now + Duration::hours(1)).unwrap();
        let deletes: HashSet<u32> = later.changes.iter().filter(|c| c.steps.contains(&Step::Delete)).map(|c| c.id).collect();
        for c in &later.changes {
            let frees_from_a_delete = c.depends_on.iter().any(|d| deletes.contains(d));
            prop_assert!(deletes.contains(&c.id) || frees_from_a_delete, "unexpected later change {c:#?}");
        }
    }

    /// Manual, CSV-import and SMTP-discovery accounts are never deleted,
    /// deactivated or downgraded by the directory, nor unknown-origin ones
    /// unless the policy flags them; protected accounts are never changed.
    #[test]
    fn ownership_and_protection(w in world()) {
        let p = w.plan();
        for c in &p.changes {
            let origin = w.origin_of(&c.email);
            let foreign = matches!(origin, Some(Origin::Manual | Origin::CsvImport | Origin::SmtpDiscovery));
            let unknown_listed = origin == Some(&Origin::Unknown) && w.unknown == UnknownOrigin::AdoptMatchedListRest;
            if unknown_listed {
                // Adopting a matched account may remove aliases the directory
                // does not list (counted toward the threshold), but never
                // deletes, deactivates, flags or downgrades it.
                for s in &c.steps {
                    let downgrade = matches!(s, Step::SetType { from, to } if muster_reconcile::is_downgrade(from, to));
                    prop_assert!(!matches!(s, Step::Delete | Step::Deactivate | Step::Flag) && !downgrade, "{s:?} on unknown {}", c.email);
                }
            }
            if foreign {
                for s in &c.steps {
                    prop_assert!(!matches!(s, Step::Delete | Step::Deactivate | Step::Flag | Step::RemoveAliases { .. }), "{s:?} on {origin:?} {}", c.email);
                    prop_assert!(!s.is_destructive(), "{s:?} on {origin:?}");
                }
            }
            if let Some(acc) = w.accounts.iter().find(|x| x.primary_email == c.email) {
                prop_assert!(!acc.user_type.is_admin() && !acc.read_only, "protected {} changed: {c:#?}", c.email);
            }
            for s in &c.steps {
                if let Step::ChangePrimary { from, .. } = s {
                    let old = w.accounts.iter().find(|x| x.primary_email == *from).unwrap();
                    prop_assert!(!old.user_type.is_admin() && !old.read_only);
                    prop_assert_eq!(w.origin_of(from), Some(&Origin::Directory("ldap".into())));
                }
            }
        }
        prop_assert!(steps_for(&p, &a("muster-api@example.com")).is_empty());
    }

    /// Primaries and aliases only in managed domains; an unregistered managed
    /// domain refuses the plan; a clash names both sides.
    #[test]
    fn domains(w in world()) {
        let p = w.plan();
        let managed = |e: &EmailAddress| e.domain_ascii() != "other.test";
        for c in &p.changes {
            for s in &c.steps {
                match s {
                    Step::Create { account, .. } => {
                        prop_assert!(managed(&account.primary_email));
                        prop_assert!(account.aliases.iter().all(managed));
                    }
                    Step::AddAliases { aliases } => prop_assert!(aliases.iter().all(managed)),
                    _ => {}
                }
            }
        }
        for s in &p.skipped {
            if s.code == muster_reconcile::SkipCode::AddressClash {
                prop_assert!(s.reason.contains("twice") || s.reason.matches('@').count() >= 2, "a clash names both sides: {}", s.reason);
            }
        }
        let typo = w.policy();
        let typo = Policy::builder().managed_domain(d("exmaple.com")).delete_delay(typo.delete_delay()).build();
        let err = plan(&w.desired(), &GatewayListing::complete(w.accounts.clone()), &w.target(), &w.state(), &typo, w.now).unwrap_err();
        prop_assert!(matches!(err, PlanError::UnregisteredDomain { .. }), "{}", err);
    }

    /// A field the snapshot does not provide, muster does not own, or the
    /// gateway does not hold is never in a plan: a change the gateway drops
    /// would be proposed again on every run.
    #[test]
    fn provided_fields(w in world()) {
        let p = w.plan();
        let comparable = w.provided.intersection(w.held);
        for c in &p.changes {
            for s in &c.steps {
                match s {
                    Step::SetField { field, .. } => prop_assert!(comparable.contains(*field), "{field} not provided or not held"),
                    Step::ChangeList { field, .. } => prop_assert!(comparable.contains(*field), "{field} not provided or not held"),
                    Step::AddAliases { .. } | Step::RemoveAliases { .. } => prop_assert!(comparable.contains(Field::Aliases)),
                    Step::Create { account, .. } => {
                        if !comparable.contains(Field::FirstName) { prop_assert_eq!(&account.first_name, &None); }
                        if !comparable.contains(Field::Department) { prop_assert_eq!(&account.department, &None); }
                        if !comparable.contains(Field::Aliases) { prop_assert!(account.aliases.is_empty()); }
                    }
                    Step::ChangePrimary { from, account, .. } => {
                        // The renamed account keeps what it had in every field the plan may not compare.
                        let old = w.accounts.iter().find(|x| x.primary_email == *from).unwrap();
                        if !comparable.contains(Field::FirstName) { prop_assert_eq!(&account.first_name, &old.first_name); }
                        if !comparable.contains(Field::Department) { prop_assert_eq!(&account.department, &old.department); }
                    }
                    _ => {}
                }
            }
        }
    }

    /// absent → flagged → deleted only after the delay and the minimum runs;
    /// reappearing clears the flag; ignored stays; `never` never deletes; a
    /// disabled shared mailbox is not absent; a clock going backwards refuses.
    #[test]
    fn deletion_lifecycle(w in world()) {
        let p = w.plan();
        let state = w.state();
        let wanted: HashSet<String> = w.entries.iter()
            .filter(|e| e.enabled || e.kind != RecipientKind::UserMailbox)
            .filter(|e| e.primary_email.domain_ascii() != "other.test")
            .map(|e| e.primary_email.normalized().to_owned()).collect();
        for c in &p.changes {
            if c.steps.contains(&Step::Delete) {
                prop_assert!(w.delay != DeleteDelay::Never);
                prop_assert!(!state.ignored.contains(&c.email));
                let flag = state.flags.get(&c.email);
                prop_assert!(flag.is_some(), "deleted without a flag: {c:#?}");
                let flag = flag.unwrap();
                prop_assert!(w.now >= flag.since + w.delay.duration().unwrap());
                prop_assert!(flag.absent_runs + 1 >= w.min_runs);
                prop_assert!(!wanted.contains(c.email.normalized()));
            }
            if c.steps.contains(&Step::Flag) {
                prop_assert!(!wanted.contains(c.email.normalized()), "a listed account is flagged: {c:#?}");
            }
        }
        for (i, acc) in w.accounts.iter().enumerate() {
            let listed = wanted.contains(acc.primary_email.normalized());
            let protected = acc.user_type.is_admin() || acc.read_only;
            if listed && !protected && w.flags[i].is_some() {
                prop_assert!(steps_for(&p, &acc.primary_email).contains(&&Step::Unflag), "{} reappeared but stays flagged", acc.primary_email);
            }
        }
        let mut past = w.state();
        past.last_run = Some(w.now + Duration::seconds(1));
        let err = plan(&w.desired(), &GatewayListing::complete(w.accounts.clone()), &w.target(), &past, &w.policy(), w.now).unwrap_err();
        prop_assert!(matches!(err, PlanError::ClockWentBackwards { .. }), "{err:?}");
    }

    /// Partial, empty or failed snapshots, partial listings and a shrunken
    /// gateway never yield a destructive change (or a new flag); records the
    /// source could not read hold every deletion and deactivation (flags are
    /// still recorded), while a bad value in a record that was read holds
    /// nothing; every destructive step counts toward the threshold.
    #[test]
    fn safety(w in world(), which in 0u8..5, unread in 1usize..5, bad_values in 0usize..3) {
        let policy = w.policy();
        let mut desired = w.desired();
        let mut listing = GatewayListing::complete(w.accounts.clone());
        let mut state = w.state();
        match which {
            0 => desired = Desired::new(DirectorySnapshot::new("ldap", w.provided).with_entries(w.entries.clone()).partial("size limit")),
            1 => desired = Desired::new(DirectorySnapshot::new("ldap", w.provided)),
            2 => listing = GatewayListing::partial(w.accounts.clone()),
            3 => state.last_gateway_count = Some(w.accounts.len() + 30),
            _ => desired = Desired::new(with_issues(&w, unread, bad_values)),
        }
        let p = plan(&desired, &listing, &w.target(), &state, &policy, w.now).unwrap();
        prop_assert!(!p.guards.is_empty());
        for c in &p.changes {
            if which == 4 {
                prop_assert!(!c.steps.iter().any(|s| matches!(s, Step::Delete | Step::Deactivate)), "deletion with unread records: {c:#?}");
            } else {
                prop_assert!(!c.is_destructive(), "destructive change under a guard: {c:#?}");
                prop_assert!(!c.steps.contains(&Step::Flag), "flag under a guard: {c:#?}");
            }
        }
        if which == 4 {
            let shown: Vec<String> = (0..unread.min(3)).map(|k| format!("users.csv:{}", 1000 + k)).collect();
            let expected = format!(
                "{unread} record{} of ldap could not be read ({}{}); deletions are held until they are fixed",
                if unread == 1 { "" } else { "s" },
                shown.join(", "),
                if unread > 3 { ", …" } else { "" },
            );
            let guards: Vec<String> = p.guards.iter().map(ToString::to_string).collect();
            prop_assert!(guards.contains(&expected), "{:?}", guards);
            // Absent accounts are flagged exactly as without bad records.
            let normal = plan(&Desired::new(with_issues(&w, 0, 0)), &listing, &w.target(), &state, &policy, w.now).unwrap();
            let flags = |p: &Plan| p.changes.iter().filter(|c| c.steps.contains(&Step::Flag)).map(|c| c.email.clone()).collect::<BTreeSet<_>>();
            prop_assert_eq!(flags(&p), flags(&normal));
            // Turned off, the bad records hold nothing.
            let off = Policy::builder().managed_domain(d("example.com")).managed_domain(d("example.org"))
                .delete_delay(w.delay).min_absent_runs(w.min_runs).flag_action(w.flag_action).unknown_origin(w.unknown)
                .hold_deletions_for_unread_records(false).build();
            let p = plan(&desired, &listing, &w.target(), &state, &off, w.now).unwrap();
            prop_assert!(!p.guards.iter().any(|g| matches!(g, Guard::RecordsUnread { .. })), "{:?}", p.guards);
            prop_assert_eq!(serde_json::to_value(&p.changes).unwrap(), serde_json::to_value(&normal.changes).unwrap());
            // Bad values in records that were read hold nothing either.
            let read_only_issues = with_issues(&w, 0, bad_values);
            let p = plan(&Desired::new(read_only_issues), &listing, &w.target(), &state, &policy, w.now).unwrap();
            prop_assert!(!p.guards.iter().any(|g| matches!(g, Guard::RecordsUnread { .. })), "{:?}", p.guards);
        }
        let normal = w.plan();
        let counted: usize = normal.changes.iter().flat_map(|c| &c.steps).filter(|s| s.is_destructive()).count();
        prop_assert_eq!(normal.threshold.destructive, counted);
        prop_assert_eq!(normal.requires_override(), counted > normal.threshold.allowed);
    }

    /// The HR rule acts only on end users out of HR, obeys the guards, and
    /// the type it sets is not flipped back by the directory.
    #[test]
    fn hr(w in world(), employed in proptest::collection::vec(any::<bool>(), 8), complete in any::<bool>()) {
        let records: Vec<HrRecord> = w.accounts.iter().zip(&employed)
            .filter(|(_, e)| **e)
            .map(|(acc, _)| HrRecord::new(acc.primary_email.clone(), HrStatus::Active))
            .collect();
        let mut hr = HrSnapshot::new("hr.csv", records);
        if !complete { hr.completeness = muster_core::Completeness::Partial { reason: "timeout".into() }; }
        let policy = Policy::builder().managed_domain(d("example.com")).managed_domain(d("example.org"))
            .hr_rule(HrRule::new(HrAction::MakeFunctional)).build();
        let desired = w.desired().with_hr(hr.clone());
        let p = plan(&desired, &GatewayListing::complete(w.accounts.clone()), &w.target(), &w.state(), &policy, w.now).unwrap();
        let hr_emails: HashSet<&str> = hr.records.iter().map(|r| r.email.normalized()).collect();
        for c in &p.changes {
            for s in &c.steps {
                if let Step::SetType { from, to } = s {
                    prop_assert!(complete && !hr.records.is_empty(), "HR acted on a partial or empty list");
                    prop_assert_eq!(from, &UserType::EndUser);
                    prop_assert_eq!(to, &UserType::FunctionalAccount);
                    prop_assert!(!hr_emails.contains(c.email.normalized()));
                }
            }
        }
        // Apply, then plan with the directory alone: no type is flipped back.
        let mut accounts = w.accounts.clone();
        let mut state = w.state();
        simulate::apply(&p, &mut accounts, &mut state);
        let later = plan(&w.desired(), &GatewayListing::complete(accounts), &w.target(), &state, &w.policy(), w.now).unwrap();
        let flipped = later.changes.iter().flat_map(|c| &c.steps).any(|s| matches!(s, Step::SetType { .. }));
        prop_assert!(!flipped, "{:#?}", later.changes);
    }

    /// Same inputs in any order give a byte-identical plan; a case-only
    /// difference in an address is not a change.
    #[test]
    fn determinism(w in world(), seed in any::<u64>()) {
        let json = serde_json::to_string(&w.plan()).unwrap();
        prop_assert_eq!(&json, &serde_json::to_string(&w.plan()).unwrap());
        let mut shuffled = w.clone();
        let mut rng = seed;
        let mut next = || { rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (rng >> 33) as usize };
        for i in (1..shuffled.entries.len()).rev() { let j = next() % (i + 1); shuffled.entries.swap(i, j); }
        let n = shuffled.accounts.len();
        let mut perm: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() { let j = next() % (i + 1); perm.swap(i, j); }
        shuffled.accounts = perm.iter().map(|&i| w.accounts[i].clone()).collect();
        shuffled.origins = perm.iter().map(|&i| w.origins[i].clone()).chain(w.origins[n..].iter().cloned()).collect();
        shuffled.flags = perm.iter().map(|&i| w.flags[i]).chain(w.flags[n..].iter().copied()).collect();
        shuffled.ignored = perm.iter().map(|&i| w.ignored[i]).chain(w.ignored[n..].iter().copied()).collect();
        prop_assert_eq!(json, serde_json::to_string(&shuffled.plan()).unwrap());

        // Converge, then change only the case of every directory address: nothing to do.
        let mut accounts = w.accounts.clone();
        let mut state = w.state();
        simulate::apply(&w.plan(), &mut accounts, &mut state);
        let recased: Vec<DirectoryEntry> = w.entries.iter().map(|e| {
            let mut e = e.clone();
            e.primary_email = a(&swap_case(e.primary_email.as_str()));
            e.aliases = e.aliases.iter().map(|x| a(&swap_case(x.as_str()))).collect::<AddressSet>();
            e
        }).collect();
        let desired = Desired::new(DirectorySnapshot::new("ldap", w.provided).with_entries(recased));
        let again = plan(&desired, &GatewayListing::complete(accounts), &w.target(), &state, &w.policy(), w.now).unwrap();
        prop_assert!(again.is_empty(), "{:#?}", again.changes);
    }
}

/// The world's snapshot as read from `users.csv`: entry `i` from line
/// `i + 2`, `unread` records that could not be read at lines 1000…, and
/// `bad_values` issues about values of records that were read.
fn with_issues(w: &World, unread: usize, bad_values: usize) -> DirectorySnapshot {
    let entries: Vec<DirectoryEntry> = w
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.clone()
                .with_location(Location::line("users.csv", i as u64 + 2))
        })
        .collect();
    let mut issues: Vec<SourceIssue> = (0..unread)
        .rev()
        .map(|k| {
            SourceIssue::new(
                Location::line("users.csv", 1000 + k as u64),
                "a valid primary_email",
            )
        })
        .collect();
    for k in 0..bad_values.min(entries.len()) {
        issues.push(SourceIssue::new(
            Location::line("users.csv", k as u64 + 2),
            "a phone number",
        ));
    }
    let mut snapshot = DirectorySnapshot::new("ldap", w.provided).with_entries(entries);
    snapshot.issues = issues;
    snapshot
}

fn swap_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

#[test]
fn state_for_another_org_is_refused() {
    let state = SyncState::new("eu1", "example.com");
    let err = plan(
        &Desired::new(DirectorySnapshot::new("ldap", FieldSet::empty())),
        &GatewayListing::complete(vec![]),
        &target(),
        &state,
        &Policy::builder().managed_domain(d("example.com")).build(),
        t(1, 1),
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::StateForAnotherOrg { .. }), "{err}");
    assert!(err.to_string().contains("eu1"));
}

#[test]
fn a_guard_explains_itself() {
    let g = Guard::GatewayShrank {
        from: 100,
        to: 40,
        allowed: 10,
    };
    assert_eq!(
        g.to_string(),
        "the gateway holds 40 accounts, 100 expected (more than 10 gone): nothing is flagged or removed"
    );
}
