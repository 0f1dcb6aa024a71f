//! Approving part of a plan: whole approval units, never half an address move.

mod common;

use common::*;
use muster_core::Origin;
use muster_reconcile::{Desired, Pick, Plan, Selection};

/// Ann holds sales@; the directory moves it to Bob. Carol, unrelated, is renamed.
fn alias_move() -> (World, Plan) {
    let mut world = World::new(vec![
        account("ann@example.com")
            .with_names("Ann", "Lee")
            .with_aliases([a("sales@example.com")]),
        account("bob@example.com").with_names("Bob", "Ray"),
        account("carol@example.com").with_names("Carol", "Diaz"),
    ]);
    for who in ["ann", "bob", "carol"] {
        world.state.set_origin(
            a(&format!("{who}@example.com")),
            Origin::Directory("ldap".into()),
        );
    }
    let entries = vec![
        person("ann@example.com", "Ann", "Lee"),
        with_aliases(
            person("bob@example.com", "Bob", "Ray"),
            &["sales@example.com"],
        ),
        person("carol@example.com", "Caroline", "Diaz"),
    ];
    let plan = world.plan(&Desired::new(ldap(entries)), &policy().build(), t(10, 9));
    (world, plan)
}

fn id_of(plan: &Plan, email: &str) -> u32 {
    plan.changes
        .iter()
        .find(|c| c.email == a(email))
        .unwrap()
        .id
}

/// Applies only the approved changes to the world.
fn apply_only(world: &mut World, plan: &Plan, included: &std::collections::BTreeSet<u32>) {
    let mut part = plan.clone();
    part.changes.retain(|c| included.contains(&c.id));
    world.apply(&part);
}

fn sales_holder(world: &World) -> Vec<String> {
    world
        .accounts
        .iter()
        .filter(|x| x.aliases.iter().any(|al| *al == a("sales@example.com")))
        .map(|x| x.primary_email.to_string())
        .collect()
}

#[test]
fn excluding_the_receiver_of_an_alias_move_leaves_the_alias_where_it_was() {
    let (mut world, plan) = alias_move();
    let (ann, bob, carol) = (
        id_of(&plan, "ann@example.com"),
        id_of(&plan, "bob@example.com"),
        id_of(&plan, "carol@example.com"),
    );
    let units = plan.approval_units();
    assert!(
        units.iter().any(|u| u.contains(&ann) && u.contains(&bob)),
        "{units:?}"
    );
    let approval = plan
        .approve(&[], &[Pick::Address(a("bob@example.com"))])
        .unwrap();
    assert_eq!(
        approval.included.iter().copied().collect::<Vec<_>>(),
        [carol]
    );
    assert!(
        approval.excluded.contains(&ann),
        "A's removal goes with B's addition"
    );
    apply_only(&mut world, &plan, &approval.included);
    assert_eq!(
        sales_holder(&world),
        ["ann@example.com"],
        "mail to sales@ still flows"
    );
    assert_eq!(
        world
            .get("carol@example.com")
            .unwrap()
            .first_name
            .as_deref(),
        Some("Caroline")
    );
}

#[test]
fn excluding_the_giver_of_an_alias_move_leaves_the_alias_too() {
    let (mut world, plan) = alias_move();
    let approval = plan
        .approve(&[], &[Pick::Address(a("ann@example.com"))])
        .unwrap();
    assert!(approval.excluded.contains(&id_of(&plan, "bob@example.com")));
    apply_only(&mut world, &plan, &approval.included);
    assert_eq!(sales_holder(&world), ["ann@example.com"]);
}

#[test]
fn only_the_receiver_brings_the_giver_in_and_says_so() {
    let (mut world, plan) = alias_move();
    let (ann, bob) = (
        id_of(&plan, "ann@example.com"),
        id_of(&plan, "bob@example.com"),
    );
    let approval = plan
        .approve(&[Pick::Address(a("bob@example.com"))], &[])
        .unwrap();
    assert_eq!(approval.included.iter().copied().collect::<Vec<_>>(), {
        let mut both = vec![ann, bob];
        both.sort_unstable();
        both
    });
    assert_eq!(approval.brought_along, [(bob, vec![ann])]);
    apply_only(&mut world, &plan, &approval.included);
    assert_eq!(sales_holder(&world), ["bob@example.com"]);
}

#[test]
fn a_pick_that_names_no_change_is_refused() {
    let (_, plan) = alias_move();
    let err = plan
        .approve(&[], &[Pick::Address(a("nobody@example.com"))])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`nobody@example.com` is not a change of this plan"
    );
    assert!(plan.approve(&[Pick::Change(999)], &[]).is_err());
}

#[test]
fn the_csv_preview_marked_in_a_spreadsheet_reads_back_as_its_marks() {
    let (_, plan) = alias_move();
    let preview = muster_reconcile::render::csv(&plan);
    // As Excel saves it in a locale with a decimal comma: BOM, `;`, CRLF,
    // and the reviewer's mark in the `exclude` column of Carol's row.
    let excel: String = std::iter::once("\u{feff}".to_owned())
        .chain(preview.lines().map(|line| {
            let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
            if cells[0] == "carol@example.com" {
                *cells.last_mut().unwrap() = "x".into();
            }
            cells.join(";") + "\r\n"
        }))
        .collect();
    let selection = Selection::from_reviewed_csv(&excel).unwrap();
    assert_eq!(selection.fingerprint, plan.fingerprint);
    assert_eq!(selection.picks, [Pick::Address(a("carol@example.com"))]);
}
