//! The guards that need an explicit override: the destructive threshold at
//! every organisation size, the create limit, the licence count.

mod common;

use common::*;
use muster_core::Origin;
use muster_reconcile::{Desired, Guard, Policy, Transition};

/// An organisation of `n` accounts that `ldap` made, all still listed.
fn organisation(n: usize) -> (World, Vec<muster_core::DirectoryEntry>) {
    let emails: Vec<String> = (0..n).map(|i| format!("u{i}@example.com")).collect();
    let mut world = World::new(
        emails
            .iter()
            .map(|e| account(e).with_aliases([a(&e.replace("@example.com", "@example.org"))]))
            .collect(),
    );
    for e in &emails {
        world
            .state
            .set_origin(a(e), Origin::Directory("ldap".into()));
    }
    let entries = emails
        .iter()
        .map(|e| {
            with_aliases(
                person(e, "", ""),
                &[&e.replace("@example.com", "@example.org")],
            )
        })
        .collect();
    (world, entries)
}

fn managed() -> muster_reconcile::PolicyBuilder {
    Policy::builder()
        .managed_domain(d("example.com"))
        .managed_domain(d("example.org"))
}

#[test]
fn a_small_organisation_can_still_change_one_account() {
    // 10 % and a count of 25, as the table has it.
    let threshold = managed().threshold(25, 10).build().threshold();
    for (current, allowed) in [
        (0, 0),
        (1, 1),
        (9, 1),
        (10, 1),
        (11, 2),
        (100, 10),
        (10_000, 25),
    ] {
        assert_eq!(threshold.allowed(current), allowed, "{current} accounts");
    }
    // A real plan in an organisation of 9: one alias removed is one
    // destructive change, and it needs no override.
    let (world, mut entries) = organisation(9);
    entries[0].aliases = muster_core::AddressSet::new();
    let plan = world.plan(
        &Desired::new(ldap(entries)),
        &managed().threshold(25, 10).build(),
        t(10, 9),
    );
    assert_eq!(plan.threshold.destructive, 1, "{:#?}", plan.changes);
    assert_eq!(plan.threshold.allowed, 1);
    assert!(!plan.requires_override());
}

#[test]
fn a_gateway_that_lost_two_of_nine_accounts_is_still_suspect() {
    // The listing guard keeps rounding down: a drop from 9 to 7 is not the
    // one change a small organisation may make on purpose.
    let (mut world, entries) = organisation(9);
    world.state.apply(&Transition::RecordRun {
        at: t(9, 9),
        gateway_count: 9,
    });
    world.accounts.truncate(7);
    let plan = world.plan(
        &Desired::new(ldap(entries)),
        &managed().threshold(25, 10).build(),
        t(10, 9),
    );
    assert!(
        plan.guards.iter().any(|g| matches!(
            g,
            Guard::GatewayShrank {
                from: 9,
                to: 7,
                allowed: 0
            }
        )),
        "{:?}",
        plan.guards
    );
}

#[test]
fn a_mass_create_needs_the_override() {
    let (world, mut entries) = organisation(2);
    entries.extend((0..5).map(|i| person(&format!("new{i}@example.com"), "New", "Starter")));
    let desired = Desired::new(ldap(entries));
    // At least 3 creates, or 10 % more: 5 creates are 2 too many.
    let limited = managed().create_limit(3, 10);
    let plan = world.plan(&desired, &limited.clone().build(), t(10, 9));
    assert_eq!(plan.threshold.creates, 5);
    assert_eq!(plan.threshold.creates_allowed, 3);
    assert_eq!(plan.threshold.creates_exceeded_by, Some(2));
    assert!(plan.requires_override());
    assert!(muster_reconcile::render::text(&plan).contains(
        "THRESHOLD EXCEEDED: the create limit by 2: this plan needs an explicit override"
    ));
    let approved = world.plan(
        &desired,
        &limited.override_threshold(true).build(),
        t(10, 9),
    );
    assert!(!approved.requires_override());
    // The defaults let a first onboarding of a few hundred through.
    let plan = world.plan(&desired, &managed().build(), t(10, 9));
    assert_eq!(plan.threshold.creates_allowed, 500);
    assert!(!plan.requires_override());
}

#[test]
fn a_plan_over_the_licence_count_needs_the_override() {
    // The target has 10 licences; 8 billable accounts and 4 starters make 12.
    let (world, mut entries) = organisation(8);
    entries.extend((0..4).map(|i| person(&format!("new{i}@example.com"), "New", "Starter")));
    let desired = Desired::new(ldap(entries.clone()));
    let plan = world.plan(&desired, &managed().build(), t(10, 9));
    assert_eq!(plan.summary.billable_after, 12);
    assert_eq!(plan.threshold.licences_exceeded_by, Some(2));
    assert!(plan.requires_override());
    assert!(
        muster_reconcile::render::text(&plan)
            .contains("THRESHOLD EXCEEDED: the licence count by 2")
    );
    let approved = world.plan(
        &desired,
        &managed().override_threshold(true).build(),
        t(10, 9),
    );
    assert!(!approved.requires_override());

    // An organisation already over its licences may still plan what adds no
    // billable user (here: nothing at all).
    let (world, entries) = organisation(12);
    let plan = world.plan(&Desired::new(ldap(entries)), &managed().build(), t(10, 9));
    assert_eq!(plan.threshold.licences_exceeded_by, None);
    assert!(!plan.requires_override());
}
