//! The three renderings of one realistic plan, snapshotted so a reviewer
//! sees every change of behaviour as a diff.

mod common;

use common::*;
use muster_core::{Location, Origin, UserType};
use muster_reconcile::{Desired, FlagCause, Plan, PlanError, Transition, render};

/// A mid-life organisation: new starters (one with a hostile display name),
/// an update, an alias moving, a primary change, one user flagged and one due
/// for deletion, an unknown-origin account, an administrator in the
/// directory, and entries outside the managed domains.
fn realistic_plan() -> Plan {
    let mut world = World::new(vec![
        admin("admin@example.com"),
        account("muster-api@example.com"),
        account("ann@example.com")
            .with_names("Ann", "Lee")
            .with_aliases([a("sales@example.com")]),
        account("bob@example.com").with_names("Bob", "Ray"),
        account("carol@example.com")
            .with_names("Carol", "Diaz")
            .with_aliases([a("c.diaz@example.org")]),
        account("old.timer@example.com").with_names("Old", "Timer"),
        account("leaver@example.com").with_names("Lea", "Ver"),
        account("printer@example.com").with_type(UserType::FunctionalAccount),
    ]);
    for who in ["ann", "bob", "carol", "old.timer", "leaver"] {
        world.state.set_origin(
            a(&format!("{who}@example.com")),
            Origin::Directory("ldap".into()),
        );
    }
    world.state.apply(&Transition::Flag {
        email: a("old.timer@example.com"),
        since: t(1, 9),
        cause: FlagCause::Absent,
        reason: "absent from ldap".into(),
    });
    world.state.apply(&Transition::CountAbsent {
        email: a("old.timer@example.com"),
        runs: 5,
    });
    world.state.last_run = Some(t(9, 9));
    world.state.last_gateway_count = Some(8);

    let mut bob = person("bob@example.com", "Robert", "Ray");
    bob.department = Some("Finance".into());
    let entries = vec![
        person("ann@example.com", "Ann", "Lee")
            .with_location(Location::dn("CN=Ann Lee,OU=Staff,DC=example,DC=com")),
        bob,
        with_aliases(
            person("carol.diaz@example.com", "Carol", "Diaz"),
            &["carol@example.com", "c.diaz@example.org"],
        ),
        with_aliases(
            person("dan@example.com", "Dan", "Moss"),
            &["sales@example.com", "dan@partner.test"],
        ),
        person(
            "eve@example.com",
            "=HYPERLINK(\"http://evil.test\",\"click\")",
            "Eve",
        ),
        shared("info@example.com"),
        person("admin@example.com", "Ad", "Min"),
        person("guest@partner.test", "Gue", "St").with_location(Location::line("extra.csv", 4)),
    ];
    world.plan(&Desired::new(ldap(entries)), &policy().build(), t(10, 9))
}

#[test]
fn text_preview() {
    insta::assert_snapshot!("text", render::text(&realistic_plan()));
}

#[test]
fn json_export_is_stable_and_round_trips() {
    let plan = realistic_plan();
    let json = render::json(&plan);
    insta::assert_snapshot!("json", json);
    assert_eq!(
        render::json(&realistic_plan()),
        json,
        "byte-identical across renders"
    );
    let loaded = render::from_json(&json).unwrap();
    assert_eq!(loaded, plan);
    // The fingerprint is of the content, and survives the round trip.
    assert_eq!(loaded.content_fingerprint(), plan.fingerprint);
    let mut edited = loaded.clone();
    edited.changes[0].reason.push('!');
    assert_ne!(edited.content_fingerprint(), plan.fingerprint);
    // Another version (an older muster's, or a newer one's) is refused as such.
    for other in [2, 4] {
        let json = json.replacen(
            "\"schema_version\": 3",
            &format!("\"schema_version\": {other}"),
            1,
        );
        assert!(matches!(
            render::from_json(&json),
            Err(PlanError::UnsupportedPlanVersion { found, .. }) if found == other
        ));
    }
}

#[test]
fn csv_preview() {
    let csv = render::csv(&realistic_plan());
    insta::assert_snapshot!("csv", csv);
    let plan_row = format!("plan,{}\n", realistic_plan().fingerprint);
    assert!(csv.starts_with(&format!(
        "{plan_row}email,type,relationship,primary,change,reason,exclude\n"
    )));
    assert!(
        !csv.contains(",=HYPERLINK"),
        "a formula must never reach a spreadsheet unquoted"
    );
}

#[test]
fn csv_neutralises_every_cell() {
    let mut plan = realistic_plan();
    plan.changes[0].reason = "=1+1".into();
    plan.skipped[0].email = "@SUM(A1)".into();
    let csv = render::csv(&plan);
    assert!(csv.contains("'=1+1"));
    assert!(csv.contains("'@SUM(A1)"));
    // The `plan` row, then the header, then the rows.
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(csv.as_bytes());
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "unneutralised cell {cell:?}"
            );
        }
    }
}
