//! Named regressions for rules the lifecycle fixture does not walk through.

mod common;

use common::*;
use muster_core::{DirectorySnapshot, Origin};
use muster_reconcile::{
    ChangeKind, ConflictKind, Desired, GatewayListing, Guard, Mode, PlanError, SkipCode, Step, plan,
};

#[test]
fn switching_directory_turns_the_old_sources_users_into_conflicts() {
    let mut world = World::new(vec![account("ann@example.com"), account("bob@example.com")]);
    for who in ["ann", "bob"] {
        world.state.set_origin(
            a(&format!("{who}@example.com")),
            Origin::Directory("ldap".into()),
        );
    }
    let entra = Desired::new(
        DirectorySnapshot::new("entra", provided()).with_entries(vec![person(
            "ann@example.com",
            "Ann",
            "",
        )]),
    );
    let p = world.run(&entra, &policy().build(), t(3, 9));
    let ann = p
        .changes
        .iter()
        .find(|c| c.email == a("ann@example.com"))
        .unwrap();
    assert!(ann.steps.contains(&Step::Adopt {
        origin: Origin::Directory("entra".into())
    }));
    let bob = p
        .conflicts
        .iter()
        .find(|c| c.email == a("bob@example.com"))
        .unwrap();
    assert_eq!(bob.kind, ConflictKind::Absent);
    assert!(bob.reason.contains("absent from ldap"), "{}", bob.reason);
}

#[test]
fn additions_are_always_included_and_exceptions_never_touched() {
    let world = World::new(vec![account("boss@example.com").with_names("Old", "Name")]);
    let policy = policy()
        .addition(person("temp@example.com", "Tem", "Porary"))
        .exception(a("boss@example.com"))
        .build();
    let p = world.plan(
        &Desired::new(ldap(vec![person("boss@example.com", "New", "Name")])),
        &policy,
        t(3, 9),
    );
    assert!(
        p.changes
            .iter()
            .any(|c| c.email == a("temp@example.com") && c.kind == ChangeKind::Create)
    );
    assert!(p.changes.iter().all(|c| c.email != a("boss@example.com")));
    assert!(p.conflicts.iter().all(|c| c.email != a("boss@example.com")));
}

#[test]
fn supplemental_mode_only_adds_and_updates() {
    let mut world = World::new(vec![
        account("gone@example.com").with_aliases([a("old@example.com")]),
    ]);
    world
        .state
        .set_origin(a("gone@example.com"), Origin::Directory("ldap".into()));
    let p = world.plan(
        &Desired::new(ldap(vec![person("new@example.com", "N", "")])),
        &policy().mode(Mode::Supplemental).build(),
        t(3, 9),
    );
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].kind, ChangeKind::Create);
    assert!(p.conflicts.is_empty());
}

#[test]
fn an_empty_directory_flags_nobody() {
    let mut world = World::new(vec![account("ann@example.com"), account("bob@example.com")]);
    for who in ["ann", "bob"] {
        world.state.set_origin(
            a(&format!("{who}@example.com")),
            Origin::Directory("ldap".into()),
        );
    }
    let p = world.plan(&Desired::new(ldap(vec![])), &policy().build(), t(3, 9));
    assert!(p.is_empty());
    assert_eq!(
        p.guards,
        vec![Guard::SourceEmpty {
            source: "ldap".into()
        }]
    );
    assert!(
        muster_reconcile::render::text(&p)
            .contains("SAFETY: ldap returned no entries: nothing is flagged or removed")
    );
}

#[test]
fn a_typo_in_a_managed_domain_refuses_the_plan() {
    let world = World::new(vec![]);
    let typo = muster_reconcile::Policy::builder()
        .managed_domain(d("exmaple.com"))
        .build();
    let err = plan(
        &Desired::new(ldap(vec![])),
        &GatewayListing::complete(vec![]),
        &target(),
        &world.state,
        &typo,
        t(1, 1),
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::UnregisteredDomain { .. }));
    assert_eq!(
        err.to_string(),
        "managed domain `exmaple.com` is not registered on the gateway"
    );
}

/// A Standard CSV with a mobile column against Essentials v1, which does not
/// store phones: the plan never proposes the mobile (the gateway would drop
/// it and every later plan would propose it again), for creates and updates.
#[test]
fn a_field_the_gateway_does_not_hold_is_never_planned() {
    use muster_core::{Field, FieldSet};
    use muster_reconcile::Capabilities;

    let csv_fields = FieldSet::from_iter([Field::FirstName, Field::LastName, Field::Mobile]);
    let mut ann = person("ann@example.com", "Ann", "Lee");
    ann.mobile = Some("+447700900123".into());
    let mut bob = person("bob@example.com", "Bob", "Roe");
    bob.mobile = Some("+447700900456".into());
    let desired =
        Desired::new(DirectorySnapshot::new("users.csv", csv_fields).with_entries(vec![ann, bob]));
    let accounts = vec![account("bob@example.com").with_names("Bob", "Roe")];
    let mut state = muster_reconcile::SyncState::new("us1", "example.com");
    state.set_origin(a("bob@example.com"), Origin::Directory("users.csv".into()));
    let run = |target: &muster_reconcile::TargetProfile| {
        plan(
            &desired,
            &GatewayListing::complete(accounts.clone()),
            target,
            &state,
            &policy().build(),
            t(3, 9),
        )
        .unwrap()
    };
    let held = FieldSet::all().without(Field::Mobile).without(Field::Phone);
    let v1_like = target().with_capabilities(Capabilities::default().with_fields(held));
    let p = run(&v1_like);
    let text = muster_reconcile::render::text(&p);
    // Said once, in the notes: read, and not written.
    assert_eq!(text.matches("mobile").count(), 1, "{text}");
    assert!(
        text.contains("users.csv provides mobile for 2 entries, which the gateway cannot store: it is not written"),
        "{text}"
    );
    let ann = p
        .changes
        .iter()
        .find(|c| c.email == a("ann@example.com"))
        .unwrap();
    assert!(
        matches!(&ann.steps[0], Step::Create { account, .. } if account.mobile.is_none() && account.first_name.as_deref() == Some("Ann")),
        "{ann:#?}"
    );
    assert!(
        p.changes.iter().all(|c| c.email != a("bob@example.com")),
        "{:#?}",
        p.changes
    );

    // The library default holds every field: the same inputs do plan the mobile.
    let p = run(&target());
    assert!(muster_reconcile::render::text(&p).contains("mobile: (empty) -> \"+447700900456\""));
}

/// An alias outside the managed domains is never added, and the skip names
/// it; one the account already has stays where it is, unreported (the
/// gateway delivers for it today; taking it away is not the domain rule's job).
#[test]
fn an_alias_outside_the_managed_domains_is_skipped_unless_the_account_has_it() {
    let mut world = World::new(vec![
        account("ann@example.com")
            .with_names("Ann", "Lee")
            .with_aliases([a("ann@legacy.net")]),
    ]);
    world
        .state
        .set_origin(a("ann@example.com"), Origin::Directory("ldap".into()));
    let policy = policy().build();
    let kept = ldap(vec![with_aliases(
        person("ann@example.com", "Ann", "Lee"),
        &["ann@legacy.net"],
    )]);
    let p = world.run(&Desired::new(kept), &policy, t(3, 9));
    assert!(p.is_empty(), "{:#?}", p.changes);
    assert!(p.skipped.is_empty(), "{:#?}", p.skipped);

    let more = ldap(vec![with_aliases(
        person("ann@example.com", "Ann", "Lee"),
        &["ann@legacy.net", "ann@other.net", "ann.lee@example.com"],
    )]);
    let p = world.run(&Desired::new(more), &policy, t(3, 10));
    let ann = &p.changes[0];
    assert_eq!(
        ann.steps,
        vec![Step::AddAliases {
            aliases: vec![a("ann.lee@example.com")]
        }]
    );
    let [skip] = p.skipped.as_slice() else {
        panic!("one skip expected: {:#?}", p.skipped);
    };
    assert_eq!(skip.code, SkipCode::AliasOutsideManagedDomains);
    assert_eq!(skip.email, "ann@other.net");
    assert!(
        world
            .get("ann@example.com")
            .unwrap()
            .aliases
            .contains(&a("ann@legacy.net"))
    );
}
