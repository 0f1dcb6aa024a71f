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
