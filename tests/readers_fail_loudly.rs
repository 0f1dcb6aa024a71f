//! A broken file is never a short directory, and one bad value never
//! freezes offboarding: CSV files read by the real reader, planned and
//! applied (to muster's simulation of the gateway) over several runs.

use chrono::{DateTime, TimeZone, Utc};
use muster::core::{Account, Domain, EmailAddress, Field, Location, UserType};
use muster::directory::StandardCsv;
use muster::reconcile::{
    ChangeKind, Desired, GatewayListing, Guard, Plan, Policy, Skipped, Step, SyncState,
    TargetProfile, plan, simulate,
};

const CLEAN: &[u8] = include_bytes!("fixtures/readers/clean.csv");
const UNTERMINATED_QUOTE: &[u8] = include_bytes!("fixtures/readers/unterminated_quote.csv");
const OVERLONG_NAME: &[u8] = include_bytes!("fixtures/readers/overlong_name.csv");

fn a(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, 6, 0, 0).unwrap()
}

fn policy() -> Policy {
    let domain: Domain = "example.com".parse().unwrap();
    Policy::builder().managed_domain(domain).build()
}

/// The gateway's accounts and muster's state, moved on by applying plans.
struct World {
    accounts: Vec<Account>,
    state: SyncState,
}

impl World {
    fn new() -> Self {
        World {
            accounts: vec![
                Account::new(a("admin@example.com")).with_type(UserType::OrganizationAdmin),
                Account::new(a("muster-api@example.com")),
            ],
            state: SyncState::new("us1", "example.com"),
        }
    }

    /// Reads `file` as the authoritative Standard CSV, plans at `now`, applies.
    fn run(&mut self, name: &str, file: &[u8], now: DateTime<Utc>) -> Plan {
        let snapshot = StandardCsv::new(name).read_from(file).unwrap();
        let target = TargetProfile::new("us1", "example.com")
            .with_domain("example.com".parse().unwrap())
            .with_licences(100)
            .with_login(a("muster-api@example.com"));
        let plan = plan(
            &Desired::new(snapshot),
            &GatewayListing::complete(self.accounts.clone()),
            &target,
            &self.state,
            &policy(),
            now,
        )
        .unwrap();
        simulate::apply(&plan, &mut self.accounts, &mut self.state);
        plan
    }

    fn get(&self, email: &str) -> Option<&Account> {
        let e = a(email);
        self.accounts.iter().find(|x| x.primary_email == e)
    }
}

/// The source issue the plan lists (among its skipped records) that mentions `text`.
fn skipped_about<'p>(plan: &'p Plan, text: &str) -> &'p Skipped {
    plan.skipped
        .iter()
        .find(|s| s.reason.contains(text))
        .unwrap_or_else(|| panic!("no issue about {text}: {:#?}", plan.skipped))
}

fn count(plan: &Plan, kind: ChangeKind) -> usize {
    plan.changes.iter().filter(|c| c.kind == kind).count()
}

#[test]
fn an_unterminated_quote_cannot_start_a_deletion_clock() {
    let mut world = World::new();
    let first = world.run("users.csv", CLEAN, day(1));
    assert_eq!(count(&first, ChangeKind::Create), 4);

    // Bob's last name opens a quote that never closes: Bob, Cy and Di are
    // swallowed into one field, and only Ann is read.
    for now in [day(2), day(3), day(10), day(20)] {
        let plan = world.run("users.csv", UNTERMINATED_QUOTE, now);
        assert_eq!(count(&plan, ChangeKind::Flag), 0, "{now}: {plan:#?}");
        assert_eq!(count(&plan, ChangeKind::Delete), 0, "{now}");
        assert!(
            world.state.flags.is_empty(),
            "{now}: {:?}",
            world.state.flags
        );
        assert!(
            plan.guards
                .iter()
                .any(|g| matches!(g, Guard::SourceIncomplete { source, reason }
                    if source == "users.csv" && reason.contains("line 3"))),
            "{:?}",
            plan.guards
        );
        let quote = skipped_about(&plan, "quote");
        assert!(quote.reason.contains("users.csv:3"), "{}", quote.reason);
    }
    for person in ["ann", "bob", "cy", "di"] {
        assert!(world.get(&format!("{person}@example.com")).is_some());
    }

    // The snapshot itself: the issue at the line the quote opened, naming the lines it took.
    let snapshot = StandardCsv::new("users.csv")
        .read_from(UNTERMINATED_QUOTE)
        .unwrap();
    assert!(!snapshot.is_complete());
    let entries: Vec<&str> = snapshot
        .entries
        .iter()
        .map(|e| e.primary_email.as_str())
        .collect();
    assert_eq!(entries, ["ann@example.com"]);
    let issues: Vec<String> = snapshot.issues.iter().map(ToString::to_string).collect();
    assert_eq!(
        issues,
        [
            "users.csv:3: column 2: expected a closing quote for the quote that opens here: it never \
          closes and takes the rest of the file, 3 lines; the file is read as incomplete: nothing \
          is flagged, deactivated or deleted"
        ]
    );
}

#[test]
fn one_overlong_name_does_not_hold_other_deletions() {
    let mut world = World::new();
    world.run("users.csv", CLEAN, day(1));

    // Ann's first name is now over 256 characters; Bob has left.
    let flagged = world.run("users.csv", OVERLONG_NAME, day(2));
    assert!(
        !flagged
            .guards
            .iter()
            .any(|g| matches!(g, Guard::RecordsUnread { .. })),
        "{:?}",
        flagged.guards
    );
    let flags: Vec<&str> = flagged
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Flag)
        .map(|c| c.email.as_str())
        .collect();
    assert_eq!(flags, ["bob@example.com"]);
    // Nothing is planned for Ann: her name stays as the gateway has it.
    assert!(
        !flagged
            .changes
            .iter()
            .any(|c| c.email == a("ann@example.com")),
        "{:#?}",
        flagged.changes
    );
    let issue = skipped_about(&flagged, "first_name");
    assert!(issue.reason.contains("users.csv:2"), "{}", issue.reason);
    assert!(
        issue.reason.contains("at most 256 characters (it has 303)"),
        "{}",
        issue.reason
    );

    world.run("users.csv", OVERLONG_NAME, day(3));
    let deleted = world.run("users.csv", OVERLONG_NAME, day(10));
    let deletes: Vec<&str> = deleted
        .changes
        .iter()
        .filter(|c| c.steps.iter().any(|s| matches!(s, Step::Delete)))
        .map(|c| c.email.as_str())
        .collect();
    assert_eq!(deletes, ["bob@example.com"], "{:#?}", deleted.guards);
    assert!(world.get("bob@example.com").is_none());
    let ann = world.get("ann@example.com").unwrap();
    assert_eq!(ann.first_name.as_deref(), Some("Ann"));
    assert_eq!(ann.last_name.as_deref(), Some("Lee"));

    // The reader: Ann is read, her first name withheld, the issue at her line.
    let snapshot = StandardCsv::new("users.csv")
        .read_from(OVERLONG_NAME)
        .unwrap();
    let ann = &snapshot.entries[0];
    assert_eq!(ann.location, Some(Location::line("users.csv", 2)));
    assert_eq!(ann.first_name, None);
    assert!(ann.withheld.contains(Field::FirstName));
    assert_eq!(ann.last_name.as_deref(), Some("Lee"));
}
