//! Nothing in the data can change what a reviewer reads: every renderer
//! writes outside text through muster's one sanitiser.

mod common;

use common::*;
use muster_core::{DirectorySnapshot, Location, SourceIssue, is_hidden};
use muster_reconcile::{Desired, Plan, render};
use proptest::prelude::*;

/// What the text preview itself starts lines with: anything else at the
/// start of a line came from the data.
const LINE_STARTS: &[&str] = &[
    "Plan for ",
    "Signed with plan key ",
    "SAFETY: ",
    "Adding (",
    "Changing primary address (",
    "Updating (",
    "Flagging for deletion (",
    "Deleting (",
    "User conflicts (",
    "Skipped (",
    "  + #",
    "  > #",
    "  ~ #",
    "  ! #",
    "  - #",
    "  ? ",
    "  x ",
    "Notes (",
    "  * ",
    "      ",
    "Summary: ",
    "Welcome letters: ",
    "Destructive changes: ",
    "THRESHOLD EXCEEDED: ",
    "Next possible deletion: ",
];

/// A plan of `first` and `last` as the names of a new starter and of an
/// updated account, `department` on the update, and `issue_value` in a
/// record the source could not read, from a source named `source`.
fn plan_of(first: &str, last: &str, department: &str, issue_value: &str, source: &str) -> Plan {
    let world = World::new(vec![
        account("bob@example.com").with_names("Bob", "Ray"),
        account("old@example.com"),
    ]);
    let mut bob = person("bob@example.com", first, last);
    bob.department = Some(department.to_owned());
    let mut snapshot = DirectorySnapshot::new(source, provided())
        .with_entries(vec![person("eve@example.com", first, last), bob]);
    snapshot.issues.push(
        SourceIssue::new(Location::line("users.csv", 7), "an email address")
            .with_field("primary_email")
            .with_value(issue_value),
    );
    world.plan(&Desired::new(snapshot), &policy().build(), t(10, 9))
}

#[test]
fn an_escape_sequence_in_a_name_cannot_rewrite_the_preview() {
    // What was seen on a terminal: the name moves the cursor up, erases the
    // SAFETY line and the heading, and prints a summary of its own.
    let forged = "Eve\x1b[1A\x1b[2K\x1b[1A\x1b[2K\rSummary: 0 to add, 0 to rename, 0 to update, 0 to flag, 0 to delete";
    let plan = plan_of(
        forged,
        "Lee\nSAFETY: nothing is held\n\u{202e}eteled",
        "Sales\u{200b}\u{2067}",
        "x\r\nAdding (0)\x00",
        "ldap\x1b]0;owned\x07",
    );
    let text = render::text(&plan);
    for line in text.lines() {
        assert!(
            line.is_empty() || LINE_STARTS.iter().any(|start| line.starts_with(start)),
            "a line the renderer did not start: {line:?}\n{text}"
        );
        assert!(!line.chars().any(is_hidden), "{line:?}");
    }
    assert_eq!(
        text.lines().filter(|l| l.starts_with("Summary: ")).count(),
        1,
        "{text}"
    );
    // The values are still there, visibly escaped, for the reviewer to see.
    assert!(text.contains("Eve\\x1b[1A\\x1b[2K"), "{text}");
    assert!(text.contains("\\u{202e}eteled"), "{text}");
    assert!(text.contains("Sales\\u{200b}\\u{2067}"), "{text}");
}

#[test]
fn the_json_plan_escapes_hidden_characters_and_reads_back_the_same() {
    let plan = plan_of(
        "Eve\x1b[2K",
        "\u{202e}Lee\u{7f}\u{85}x",
        "\u{e0041}",
        "x",
        "ldap",
    );
    let json = render::json(&plan);
    assert!(!json.chars().any(|c| c != '\n' && is_hidden(c)), "{json}");
    assert!(json.contains("Eve\\u001b[2K"), "{json}");
    assert!(json.contains("\\u202eLee\\u007f\\u0085x"), "{json}");
    assert!(json.contains("\\udb40\\udc41"), "{json}");
    assert_eq!(render::from_json(&json).unwrap(), plan);
}

/// Any text, hidden characters much more likely than in real names.
fn hostile() -> impl Strategy<Value = String> {
    let hidden = prop::sample::select(vec![
        '\x00',
        '\x07',
        '\x08',
        '\t',
        '\n',
        '\r',
        '\x1b',
        '\x7f',
        '\u{85}',
        '\u{9b}',
        '\u{ad}',
        '\u{200b}',
        '\u{200d}',
        '\u{200e}',
        '\u{202a}',
        '\u{202e}',
        '\u{2028}',
        '\u{2066}',
        '\u{2069}',
        '\u{feff}',
        '\u{e0041}',
        '\\',
        '"',
        ';',
        '=',
    ]);
    prop::collection::vec(prop_oneof![hidden, any::<char>()], 0..24)
        .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #[test]
    fn no_renderer_writes_a_hidden_character_whatever_the_input(
        first in hostile(),
        last in hostile(),
        department in hostile(),
        issue_value in hostile(),
        source in hostile(),
    ) {
        let plan = plan_of(&first, &last, &department, &issue_value, &source);
        for (name, out) in [
            ("text", render::text(&plan)),
            ("csv", render::csv(&plan)),
            ("json", render::json(&plan)),
        ] {
            // Only the renderers' own line ends.
            let found: Vec<char> = out.chars().filter(|c| *c != '\n' && is_hidden(*c)).collect();
            prop_assert!(found.is_empty(), "{} wrote {:?}:\n{}", name, found, out);
        }
    }
}

#[test]
fn what_the_gateway_cannot_hold_is_said_once_with_its_count() {
    use muster_core::{Field, FieldSet};
    use muster_reconcile::{Capabilities, GatewayListing, PlanNote, SyncState, plan};

    let mut provided = provided();
    provided.insert(Field::Mobile);
    let mut entries = vec![
        person("ann@example.com", "Ann", "Lee"),
        person("bob@example.com", "Bob", "Ray"),
        person("cy@example.com", "Cy", "Sun"),
    ];
    entries[0].mobile = Some("+447700900001".into());
    entries[1].mobile = Some("+447700900002".into());
    let snapshot = DirectorySnapshot::new("users.csv", provided).with_entries(entries);
    // A dialect that stores everything but the mobile number (Essentials v1).
    let v1 = target().with_capabilities(
        Capabilities::default().with_fields(FieldSet::all().without(Field::Mobile)),
    );
    let planned = plan(
        &Desired::new(snapshot),
        &GatewayListing::complete(vec![]),
        &v1,
        &SyncState::new("us1", "example.com"),
        &policy().build(),
        t(10, 9),
    )
    .unwrap();
    assert_eq!(
        planned.notes,
        [PlanNote::FieldNotWritten {
            source: "users.csv".into(),
            field: Field::Mobile,
            entries: 2,
        }]
    );
    let text = render::text(&planned);
    assert!(
        text.contains("Notes (1)\n  * users.csv provides mobile for 2 entries, which the gateway cannot store: it is not written"),
        "{text}"
    );
    // A gateway that stores it: nothing to say.
    let all = plan(
        &Desired::new(DirectorySnapshot::new("users.csv", provided)),
        &GatewayListing::complete(vec![]),
        &target(),
        &SyncState::new("us1", "example.com"),
        &policy().build(),
        t(10, 9),
    )
    .unwrap();
    assert!(all.notes.is_empty());
}

#[test]
fn what_a_source_left_out_is_counted_in_the_plan() {
    use muster_core::{NoteKind, SourceNote};
    use muster_reconcile::PlanNote;

    let mut guests = SourceNote::new(NoteKind::Guests, false);
    guests.add("frank_partner.test#EXT#@contoso.onmicrosoft.com");
    guests.add("gina_partner.test#EXT#@contoso.onmicrosoft.com");
    let mut snapshot = DirectorySnapshot::new("graph:contoso", provided())
        .with_entries(vec![person("ann@example.com", "Ann", "Lee")]);
    snapshot.notes.push(guests.clone());
    let planned = World::new(vec![]).plan(&Desired::new(snapshot), &policy().build(), t(10, 9));
    assert_eq!(
        planned.notes,
        [PlanNote::Source {
            source: "graph:contoso".into(),
            counted: guests,
        }]
    );
    let text = render::text(&planned);
    assert!(text.contains("  * graph:contoso: 2 guests"), "{text}");
}
