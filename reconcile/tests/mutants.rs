//! Regression tests named after what `cargo mutants` found no test for:
//! each pins one behaviour a surviving mutant of `rules.rs`, `wanted.rs` or
//! `planner.rs` changed (the oracle in `oracle.rs` does not model renames,
//! so most of them are about renames).

mod common;

use common::{a, d, t};
use muster_core::{
    Account, DirectoryEntry, DirectorySnapshot, Field, FieldSet, HrRecord, HrSnapshot, HrStatus,
    Origin,
};
use muster_reconcile::{
    ChangeKind, Desired, GatewayListing, HrAction, HrRule, Plan, Policy, Step, SyncState,
    TargetProfile, Transition,
};

fn target() -> TargetProfile {
    TargetProfile::new("us1", "example.com").with_domain(d("example.com"))
}

fn aliases_only() -> FieldSet {
    FieldSet::from_iter([Field::Aliases])
}

/// The directory now lists `new@` with the old primary `old@` as an alias:
/// the account `old@` (the directory's) is renamed.
fn renamed(policy: &Policy, hr: Option<HrSnapshot>) -> Plan {
    let entry = DirectoryEntry::new(a("new@example.com")).with_aliases([a("old@example.com")]);
    let mut desired =
        Desired::new(DirectorySnapshot::new("ldap", aliases_only()).with_entries(vec![entry]));
    if let Some(hr) = hr {
        desired = desired.with_hr(hr);
    }
    let mut state = SyncState::new("us1", "example.com");
    state.set_origin(a("old@example.com"), Origin::Directory("ldap".into()));
    let gateway = GatewayListing::complete(vec![Account::new(a("old@example.com"))]);
    muster_reconcile::plan(&desired, &gateway, &target(), &state, policy, t(2, 9)).unwrap()
}

/// A renamed end user the HR rule flags (rather than making functional)
/// keeps its type, so the rename records no type set by HR: that mark
/// would keep the directory from ever setting the type again.
/// (Mutant: `&&` → `||` in `hr_set_type`, `plan_rename`.)
#[test]
fn a_rename_the_hr_rule_flags_does_not_mark_the_type_as_set_by_hr() {
    let policy = Policy::builder()
        .managed_domain(d("example.com"))
        .hr_rule(HrRule::new(HrAction::Flag))
        .build();
    let hr = HrSnapshot::new(
        "hr.csv",
        vec![HrRecord::new(a("someone@example.com"), HrStatus::Active)],
    );
    let p = renamed(&policy, Some(hr));
    let rename = p
        .changes
        .iter()
        .find(|c| c.kind == ChangeKind::Rename)
        .unwrap_or_else(|| panic!("no rename: {:#?}", p.changes));
    assert!(
        !rename
            .transitions
            .iter()
            .any(|t| matches!(t, Transition::TypeSetByHr { .. })),
        "{rename:#?}"
    );
    let Some(Step::ChangePrimary { account, .. }) = rename.steps.first() else {
        panic!("{rename:#?}");
    };
    assert_eq!(account.user_type, muster_core::UserType::EndUser);
}

/// The summary says by how much a plan goes over the licences bought, and
/// nothing when it stays within them, exactly at the count included.
/// (Mutant: `> 0` → `== 0` in `summarize`.)
#[test]
fn the_summary_says_how_far_over_the_licence_count_a_plan_goes() {
    let desired = Desired::new(
        DirectorySnapshot::new("ldap", FieldSet::empty()).with_entries(vec![
            DirectoryEntry::new(a("ann@example.com")),
            DirectoryEntry::new(a("bob@example.com")),
        ]),
    );
    let policy = Policy::builder().managed_domain(d("example.com")).build();
    let state = SyncState::new("us1", "example.com");
    let over_by = |licences| {
        let target = target().with_licences(licences);
        let gateway = GatewayListing::complete(vec![]);
        let p = muster_reconcile::plan(&desired, &gateway, &target, &state, &policy, t(2, 9));
        let summary = p.unwrap().summary;
        assert_eq!(summary.billable_after, 2);
        summary.over_licence_by
    };
    assert_eq!(over_by(1), Some(1));
    assert_eq!(over_by(2), None, "exactly at the count is not over it");
    assert_eq!(over_by(5), None);
}

/// A person whose primary changed is recognised by the directory's stable
/// id alone (no alias names the old address): the account is renamed, not
/// created anew beside the old one (which would then be flagged and, a
/// week later, deleted). (Mutant: `!=` → `==` in `rename_candidate`'s
/// lookup by external id.)
#[test]
fn a_person_is_renamed_by_external_id_alone() {
    let guid = muster_core::ExternalId::new("guid-1").unwrap();
    let mut entry = DirectoryEntry::new(a("new@example.com"));
    entry.external_id = Some(guid.clone());
    let desired =
        Desired::new(DirectorySnapshot::new("ldap", aliases_only()).with_entries(vec![entry]));
    let mut state = SyncState::new("us1", "example.com");
    state.apply(&Transition::Claim {
        email: a("old@example.com"),
        origin: Origin::Directory("ldap".into()),
        external_id: Some(guid),
    });
    let gateway = GatewayListing::complete(vec![Account::new(a("old@example.com"))]);
    let policy = Policy::builder().managed_domain(d("example.com")).build();
    let p =
        muster_reconcile::plan(&desired, &gateway, &target(), &state, &policy, t(2, 9)).unwrap();
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    let change = &p.changes[0];
    assert_eq!(change.kind, ChangeKind::Rename);
    assert!(
        matches!(&change.steps[..], [Step::ChangePrimary { from, .. }] if *from == a("old@example.com")),
        "{change:#?}"
    );
    assert!(
        p.conflicts.is_empty(),
        "the old account is not absent: {:#?}",
        p.conflicts
    );
}

/// Claims one change makes on an address another change frees: when the
/// freeing change is itself dropped (a rename whose new primary another
/// account holds), the address stays where it is, and the change that
/// waited for it does not take it (an address on two accounts).
/// (Mutant: `!` deleted in `resolve_claims`, which resolved the rename's
/// own claim only after the alias had been promised.)
#[test]
fn an_alias_freed_only_by_a_rename_that_cannot_happen_stays_where_it_is() {
    let entries = vec![
        DirectoryEntry::new(a("dee@example.com")).with_aliases([a("sales@example.com")]),
        DirectoryEntry::new(a("new@example.com")).with_aliases([a("old@example.com")]),
    ];
    let desired =
        Desired::new(DirectorySnapshot::new("ldap", aliases_only()).with_entries(entries));
    let mut state = SyncState::new("us1", "example.com");
    for owned in ["old@example.com", "dee@example.com"] {
        state.set_origin(a(owned), Origin::Directory("ldap".into()));
    }
    state.set_origin(a("other@example.com"), Origin::Manual);
    let gateway = GatewayListing::complete(vec![
        Account::new(a("old@example.com")).with_aliases([a("sales@example.com")]),
        Account::new(a("dee@example.com")),
        Account::new(a("other@example.com")).with_aliases([a("new@example.com")]),
    ]);
    let policy = Policy::builder().managed_domain(d("example.com")).build();
    let p =
        muster_reconcile::plan(&desired, &gateway, &target(), &state, &policy, t(2, 9)).unwrap();
    assert!(
        !p.changes.iter().any(|c| c.kind == ChangeKind::Rename),
        "new@ is other@'s alias: no rename {:#?}",
        p.changes
    );
    let adds_sales = p.changes.iter().flat_map(|c| &c.steps).any(
        |s| matches!(s, Step::AddAliases { aliases } if aliases.contains(&a("sales@example.com"))),
    );
    assert!(!adds_sales, "sales@ stays on old@: {:#?}", p.changes);
    let refused: Vec<&str> = p.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert!(
        refused.contains(&"sales@example.com is already an alias of old@example.com on the gateway; not given to dee@example.com"),
        "{refused:#?}"
    );
}

/// An old primary that one entry lists as an alias goes to that entry (a
/// rename), even when another entry carries the old account's external id:
/// the id finds a renamed person only when no entry wants the old address.
/// (Mutant: `!=` → `==` in `Wanted::slot`, which hid who wants an address
/// that is both an account's primary and an entry's alias.)
#[test]
fn an_old_primary_listed_as_an_alias_wins_over_the_external_id() {
    let guid = muster_core::ExternalId::new("guid-1").unwrap();
    let mut by_id = DirectoryEntry::new(a("new1@example.com"));
    by_id.external_id = Some(guid.clone());
    let by_alias = DirectoryEntry::new(a("new2@example.com")).with_aliases([a("old@example.com")]);
    let desired = Desired::new(
        DirectorySnapshot::new("ldap", aliases_only()).with_entries(vec![by_id, by_alias]),
    );
    let mut state = SyncState::new("us1", "example.com");
    state.apply(&Transition::Claim {
        email: a("old@example.com"),
        origin: Origin::Directory("ldap".into()),
        external_id: Some(guid),
    });
    let gateway = GatewayListing::complete(vec![Account::new(a("old@example.com"))]);
    let policy = Policy::builder().managed_domain(d("example.com")).build();
    let p =
        muster_reconcile::plan(&desired, &gateway, &target(), &state, &policy, t(2, 9)).unwrap();
    let kind_of = |email: &str| {
        let email = a(email);
        p.changes.iter().find(|c| c.email == email).map(|c| c.kind)
    };
    assert_eq!(
        kind_of("new2@example.com"),
        Some(ChangeKind::Rename),
        "{:#?}",
        p.changes
    );
    assert_eq!(
        kind_of("new1@example.com"),
        Some(ChangeKind::Create),
        "{:#?}",
        p.changes
    );
}

/// An account with no groups and no sender lists gets the groups its entry
/// has, even when the entry also has sender lists muster does not own: the
/// quick "nothing differs" check must see that lists of different lengths
/// differ. (Mutant: `==` → `!=` in `same_list`.)
#[test]
fn groups_are_added_to_an_account_that_has_none() {
    let mut entry = DirectoryEntry::new(a("ann@example.com"));
    entry.member_of = ["staff".to_owned()].into();
    entry.allow_senders = ["partner@vendor.test".to_owned()].into();
    entry.block_senders = ["spam@vendor.test".to_owned()].into();
    let provided = FieldSet::from_iter([Field::Groups]);
    let desired = Desired::new(DirectorySnapshot::new("ldap", provided).with_entries(vec![entry]));
    let mut state = SyncState::new("us1", "example.com");
    state.set_origin(a("ann@example.com"), Origin::Directory("ldap".into()));
    let gateway = GatewayListing::complete(vec![Account::new(a("ann@example.com"))]);
    let target =
        target().with_capabilities(muster_reconcile::Capabilities::default().with_groups(true));
    let policy = Policy::builder().managed_domain(d("example.com")).build();
    let p = muster_reconcile::plan(&desired, &gateway, &target, &state, &policy, t(2, 9)).unwrap();
    let steps: Vec<&Step> = p.changes.iter().flat_map(|c| &c.steps).collect();
    assert_eq!(
        steps,
        [&Step::ChangeList {
            field: Field::Groups,
            add: vec!["staff".into()],
            remove: vec![],
        }]
    );
}

/// Someone who has left the directory and is terminated in HR, under the
/// HR rule `flag`, is flagged once: one flag step, one flag transition and
/// one conflict, with both reasons said (the oracle found two of each).
#[test]
fn an_account_absent_and_terminated_in_hr_is_flagged_once() {
    let policy = Policy::builder()
        .managed_domain(d("example.com"))
        .hr_rule(HrRule::new(HrAction::Flag))
        .build();
    let stays = DirectoryEntry::new(a("ann@example.com"));
    let desired =
        Desired::new(DirectorySnapshot::new("ldap", aliases_only()).with_entries(vec![stays]))
            .with_hr(HrSnapshot::new(
                "hr.csv",
                vec![
                    HrRecord::new(a("ann@example.com"), HrStatus::Active),
                    HrRecord::new(a("bob@example.com"), HrStatus::Terminated),
                ],
            ));
    let mut state = SyncState::new("us1", "example.com");
    for who in ["ann@example.com", "bob@example.com"] {
        state.set_origin(a(who), Origin::Directory("ldap".into()));
    }
    let gateway = GatewayListing::complete(vec![
        Account::new(a("ann@example.com")),
        Account::new(a("bob@example.com")),
    ]);
    let p =
        muster_reconcile::plan(&desired, &gateway, &target(), &state, &policy, t(2, 9)).unwrap();
    let bob: Vec<_> = p
        .changes
        .iter()
        .filter(|c| c.email == a("bob@example.com"))
        .collect();
    assert_eq!(bob.len(), 1, "{:#?}", p.changes);
    let flags = bob[0]
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Flag))
        .count();
    let marks = bob[0]
        .transitions
        .iter()
        .filter(|t| matches!(t, Transition::Flag { .. }))
        .count();
    assert_eq!((flags, marks), (1, 1), "{:#?}", bob[0]);
    assert!(
        bob[0].reason.contains("terminated in hr.csv"),
        "{}",
        bob[0].reason
    );
    let conflicts = p
        .conflicts
        .iter()
        .filter(|c| c.email == a("bob@example.com"))
        .count();
    assert_eq!(conflicts, 1, "{:#?}", p.conflicts);
}
