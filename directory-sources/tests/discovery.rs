//! SMTP discovery: observations over several runs, a ledger kept between
//! them, and the supplemental snapshot of candidates a policy makes of it.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use muster_core::{Completeness, EmailAddress, Field, Location, RecipientKind};
use muster_directory::{
    Becomes, CandidateUse, Decision, Direction, DirectorySource, DiscoveryLedger, DiscoveryPolicy,
    DiscoverySource, Error, Observation, ObservationCsv, Reason, observations_from_rows,
};
use proptest::prelude::*;

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/discovery/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn at(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).unwrap()
}

fn addr(a: &str) -> EmailAddress {
    a.parse().unwrap()
}

fn inbound(a: &str, messages: u64, seen: DateTime<Utc>) -> Observation {
    Observation::new(addr(a), Direction::Inbound, messages, seen)
}

fn outbound(a: &str, messages: u64, seen: DateTime<Utc>) -> Observation {
    Observation::new(addr(a), Direction::Outbound, messages, seen)
}

fn policy() -> DiscoveryPolicy {
    DiscoveryPolicy::new(["example.com".parse().unwrap()])
        .min_messages(5)
        .window(TimeDelta::days(30))
        .expiry(TimeDelta::days(60))
}

/// The candidates' addresses as spelled, with their counted messages.
fn candidates(
    ledger: &DiscoveryLedger,
    policy: &DiscoveryPolicy,
    now: DateTime<Utc>,
) -> Vec<(String, u64)> {
    DiscoverySource::new(ledger.clone(), policy.clone(), now)
        .candidates()
        .into_iter()
        .map(|c| (c.address.as_str().to_owned(), c.counted))
        .collect()
}

#[test]
fn the_threshold_is_crossed_over_several_runs_and_only_within_the_window() {
    let policy = policy();
    let mut ledger = DiscoveryLedger::new();

    // Run 1: four messages for bob, long before the others.
    let now = at(10, 2, 0);
    assert!(
        ledger
            .observe(&[inbound("bob@example.com", 4, at(10, 1, 9))], now)
            .is_empty()
    );
    assert_eq!(candidates(&ledger, &policy, now), []);

    // Run 2: ann gets 2 inbound, and sends 10 (not counted by default).
    let now = at(11, 1, 12);
    let issues = ledger.observe(
        &[
            inbound("Ann@Example.com", 2, at(11, 1, 8)),
            outbound("ann@example.com", 10, at(11, 1, 9)),
        ],
        now,
    );
    assert!(issues.is_empty());
    assert_eq!(candidates(&ledger, &policy, now), []);
    // Counting outbound as well crosses the threshold at once.
    let both = policy
        .clone()
        .directions([Direction::Inbound, Direction::Outbound]);
    assert_eq!(
        candidates(&ledger, &both, now),
        [("ann@example.com".to_owned(), 12)]
    );

    // Run 3: two more.
    let now = at(11, 8, 12);
    let _ = ledger.observe(&[inbound("ANN@example.com", 2, at(11, 8, 8))], now);
    assert_eq!(candidates(&ledger, &policy, now), []);

    // Run 4: the fifth message. Bob's fifth too, but his first four are out of the window.
    let now = at(11, 15, 12);
    let _ = ledger.observe(
        &[
            inbound("ann@example.com", 1, at(11, 15, 8)),
            inbound("bob@example.com", 1, at(11, 15, 9)),
        ],
        now,
    );
    assert_eq!(
        candidates(&ledger, &policy, now),
        [("ann@example.com".to_owned(), 5)]
    );
    let bob = ledger.entry(&addr("bob@example.com")).unwrap();
    assert_eq!((bob.total.inbound, policy.counted(bob, now)), (5, 1));
    let ann = ledger.entry(&addr("ann@example.com")).unwrap();
    assert_eq!((ann.total.inbound, ann.total.outbound), (5, 10));
    assert_eq!(
        (ann.first_seen, ann.last_seen),
        (at(11, 1, 8), at(11, 15, 8))
    );

    // Nothing new for weeks: the early messages leave the window again.
    assert_eq!(candidates(&ledger, &policy, at(12, 5, 12)), []);
}

#[test]
fn addresses_not_seen_within_the_expiry_are_forgotten_but_decisions_stay() {
    let policy = policy();
    let mut ledger = DiscoveryLedger::new();
    let _ = ledger.observe(
        &[
            inbound("carl@example.com", 10, at(9, 1, 8)),
            inbound("dana@example.com", 1, at(9, 1, 8)),
            inbound("dana@example.com", 6, at(11, 1, 8)),
        ],
        at(11, 2, 0),
    );
    ledger.decide(addr("carl@example.com"), Decision::Ignore, at(9, 2, 0));

    let forgotten = ledger.expire(&policy, at(11, 15, 0));
    assert_eq!(forgotten, [addr("carl@example.com")]);
    assert_eq!(ledger.len(), 1);
    let dana = ledger.entry(&addr("dana@example.com")).unwrap();
    assert_eq!(
        dana.days
            .keys()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["2026-11-01"]
    );
    assert_eq!(
        dana.total.inbound, 7,
        "totals keep what the day counts dropped"
    );

    // Carl comes back with plenty of mail: still ignored.
    let _ = ledger.observe(
        &[inbound("Carl@example.com", 50, at(11, 20, 8))],
        at(11, 21, 0),
    );
    assert_eq!(
        ledger.decision(&addr("carl@example.com")).unwrap().decision,
        Decision::Ignore
    );
    assert_eq!(
        candidates(&ledger, &policy, at(11, 21, 0)),
        [("dana@example.com".to_owned(), 6)]
    );
}

#[test]
fn blocked_and_unmanaged_addresses_are_never_candidates() {
    let policy = policy().block("scanner@");
    let mut ledger = DiscoveryLedger::new();
    let seen = at(11, 1, 8);
    let _ = ledger.observe(
        &[
            inbound("noreply@example.com", 100, seen),
            inbound("Postmaster@example.com", 100, seen),
            inbound("list-bounces@example.com", 100, seen),
            inbound("scanner@example.com", 100, seen),
            inbound("ann@other.org", 100, seen),
            inbound("ann@sub.example.com", 100, seen),
            inbound("ann@example.com", 5, seen),
        ],
        at(11, 2, 0),
    );
    assert_eq!(
        ledger.len(),
        7,
        "the ledger keeps everything; the policy chooses"
    );
    assert_eq!(
        candidates(&ledger, &policy, at(11, 2, 0)),
        [("ann@example.com".to_owned(), 5)]
    );
    let nothing_blocked = policy.blocked::<&str>([]);
    assert_eq!(candidates(&ledger, &nothing_blocked, at(11, 2, 0)).len(), 5);
}

#[test]
fn addresses_merge_ignoring_case_and_keep_the_latest_spelling_and_name() {
    let mut ledger = DiscoveryLedger::new();
    let issues = ledger.observe(
        &[
            inbound("ann@x.com", 2, at(11, 2, 8)).with_display_name("A. Lee"),
            inbound("Ann@X.com", 3, at(11, 3, 8)).with_display_name("Ann Lee"),
            outbound("ANN@x.COM", 1, at(11, 1, 8)).with_display_name("ann"),
        ],
        at(11, 4, 0),
    );
    assert!(issues.is_empty());
    assert_eq!(ledger.len(), 1);
    let ann = ledger.entry(&addr("ann@x.com")).unwrap();
    assert_eq!(ann.address.as_str(), "Ann@X.com");
    assert_eq!((ann.total.inbound, ann.total.outbound), (5, 1));
    assert_eq!(ann.display_name.as_ref().unwrap().name, "Ann Lee");
    assert_eq!(ann.days.len(), 3);
}

#[test]
fn observations_from_the_future_or_empty_are_issues_not_counts() {
    let mut ledger = DiscoveryLedger::new();
    let now = at(11, 2, 0);
    let issues = ledger.observe(
        &[
            inbound("ann@example.com", 2, at(11, 3, 8)).with_location(Location::line("log.csv", 7)),
            inbound("bob@example.com", 0, at(11, 1, 8)),
            inbound("cy@example.com", 1, at(11, 1, 8)).seen_between(at(11, 1, 9), at(11, 1, 8)),
            inbound("dee@example.com", 1, at(11, 1, 8)),
        ],
        now,
    );
    let found: Vec<_> = issues
        .iter()
        .map(|i| {
            (
                i.location.to_string(),
                i.field.clone().unwrap(),
                i.value.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "log.csv:7".to_owned(),
                "last_seen".to_owned(),
                "2026-11-03T08:00:00+00:00".to_owned()
            ),
            (
                "record #1".to_owned(),
                "messages".to_owned(),
                "0".to_owned()
            ),
            (
                "record #2".to_owned(),
                "first_seen".to_owned(),
                "2026-11-01T09:00:00+00:00".to_owned()
            ),
        ]
    );
    assert_eq!(
        ledger
            .entries()
            .map(|e| e.address.as_str())
            .collect::<Vec<_>>(),
        ["dee@example.com"]
    );
}

#[test]
fn a_csv_with_bad_rows_keeps_the_good_ones_and_names_each_bad_line() {
    let read = ObservationCsv::new(fixture("maillog.csv"))
        .named("maillog.csv")
        .read()
        .unwrap();
    let good: Vec<_> = read
        .observations
        .iter()
        .map(|o| {
            (
                o.address.as_str(),
                o.direction,
                o.messages,
                o.location.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        good,
        [
            (
                "ann@example.com",
                Direction::Inbound,
                3,
                Location::line("maillog.csv", 2)
            ),
            (
                "Bob@Example.com",
                Direction::Inbound,
                2,
                Location::line("maillog.csv", 3)
            ),
            (
                "ann@example.com",
                Direction::Outbound,
                1,
                Location::line("maillog.csv", 5)
            ),
            (
                "eve@example.com",
                Direction::Inbound,
                7,
                Location::line("maillog.csv", 10)
            ),
        ]
    );
    assert_eq!(read.observations[0].first_seen, at(11, 1, 8));
    assert_eq!(
        read.observations[0].display_name.as_deref(),
        Some("Ann Lee")
    );
    assert_eq!(
        read.observations[1].first_seen,
        read.observations[1].last_seen
    );
    assert_eq!(read.observations[1].display_name, None);
    assert_eq!(read.observations[3].last_seen, at(11, 3, 9));
    let bad: Vec<_> = read
        .issues
        .iter()
        .map(|i| {
            (
                i.location.to_string(),
                i.field.clone().unwrap(),
                i.value.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        bad,
        [
            (
                "maillog.csv:4".to_owned(),
                "address".to_owned(),
                "not-an-address".to_owned()
            ),
            (
                "maillog.csv:6".to_owned(),
                "direction".to_owned(),
                "sideways".to_owned()
            ),
            (
                "maillog.csv:7".to_owned(),
                "messages".to_owned(),
                "0".to_owned()
            ),
            (
                "maillog.csv:9".to_owned(),
                "first_seen".to_owned(),
                "2026-11-03".to_owned()
            ),
        ]
    );
    assert_eq!(
        read.issues[0].to_string(),
        "maillog.csv:4: address `not-an-address`: expected an email address like ann@example.com (it has no `@`)"
    );
}

#[test]
fn a_csv_without_a_required_column_is_an_error() {
    let csv = "address,direction,last_seen\nann@example.com,in,2026-11-01\n";
    let err = ObservationCsv::new("log.csv")
        .read_from(csv.as_bytes())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`log.csv`: the header has no column `messages` (needed for smtp discovery observations)"
    );
}

#[test]
fn rows_in_memory_read_like_the_csv() {
    let rows = vec![
        vec![
            ("Address", "ann@example.com"),
            ("direction", "out"),
            ("messages", "2"),
            ("last_seen", "2026-11-01"),
            ("extra", "x"),
        ],
        vec![
            ("address", "bob@example.com"),
            ("direction", "in"),
            ("messages", "two"),
            ("last_seen", "2026-11-01"),
        ],
    ];
    let read = observations_from_rows("py", &Default::default(), rows);
    assert_eq!(read.source, "py");
    assert_eq!(read.observations.len(), 1);
    assert_eq!(read.observations[0].direction, Direction::Outbound);
    assert_eq!(read.observations[0].location, Some(Location::record(0)));
    assert_eq!(read.issues.len(), 1);
    assert_eq!(
        (
            read.issues[0].location.clone(),
            read.issues[0].field.as_deref()
        ),
        (Location::record(1), Some("messages"))
    );
}

fn sample_ledger() -> DiscoveryLedger {
    let mut ledger = DiscoveryLedger::new();
    let _ = ledger.observe(
        &[
            inbound("ann@example.com", 2, at(10, 1, 8)),
            inbound("Ann@Example.com", 4, at(11, 1, 17))
                .seen_between(at(11, 1, 8), at(11, 1, 17))
                .with_display_name("Ann Lee"),
            outbound("ann@example.com", 1, at(11, 1, 9)),
        ],
        at(11, 2, 0),
    );
    ledger.decide(
        addr("ann.lee@example.com"),
        Decision::AliasOf {
            user: addr("ann@example.com"),
        },
        at(11, 2, 0),
    );
    ledger.decide(addr("scanner@example.com"), Decision::Invalid, at(11, 2, 0));
    ledger
}

#[test]
fn the_ledger_round_trips_through_versioned_json() {
    let ledger = sample_ledger();
    let json = ledger.to_json().unwrap();
    assert_eq!(DiscoveryLedger::from_json(&json).unwrap(), ledger);
    // The saved format is stable: a file written by this version reads back as the same ledger.
    let saved = std::fs::read_to_string(fixture("ledger_v1.json")).unwrap();
    assert_eq!(DiscoveryLedger::from_json(&saved).unwrap(), ledger);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["version"], 1);
    assert_eq!(value["decisions"][0]["action"], "alias_of");
}

#[test]
fn a_ledger_of_another_version_or_with_an_address_twice_is_refused() {
    let saved = std::fs::read_to_string(fixture("ledger_v1.json")).unwrap();
    let newer = saved.replacen("\"version\": 1", "\"version\": 2", 1);
    let err = DiscoveryLedger::from_json(&newer).unwrap_err();
    assert!(matches!(err, Error::DiscoveryLedger(_)));
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        cause.starts_with("SMTP discovery ledger version 2; this muster reads version 1"),
        "{cause}"
    );
    let twice = saved.replacen("\"scanner@example.com\"", "\"Ann.Lee@example.com\"", 1);
    let cause = std::error::Error::source(&DiscoveryLedger::from_json(&twice).unwrap_err())
        .unwrap()
        .to_string();
    assert!(
        cause.starts_with("Ann.Lee@example.com is listed twice"),
        "{cause}"
    );
}

#[tokio::test]
async fn the_snapshot_is_supplemental_partial_and_provides_only_what_it_knows() {
    let now = at(11, 2, 0);
    let mut ledger = sample_ledger();
    let issues = ledger.observe(
        &[
            inbound("ann@example.com", 2, at(11, 1, 10)),
            inbound("bob@example.com", 9, at(11, 1, 8)),
            inbound("shared@example.com", 1, at(11, 1, 8)),
            inbound("late@example.com", 1, at(11, 3, 8)),
        ],
        now,
    );
    ledger.decide(addr("shared@example.com"), Decision::FunctionalAccount, now);
    ledger.decide(addr("ext@other.org"), Decision::User, now);
    let source: Box<dyn DirectorySource> = Box::new(
        DiscoverySource::new(ledger, policy(), now)
            .named("discovery")
            .with_issues(issues),
    );
    assert_eq!(source.name(), "discovery");
    let snapshot = source.fetch().await.unwrap();
    assert_eq!(snapshot.source, "discovery");
    assert!(matches!(
        snapshot.completeness,
        Completeness::Partial { .. }
    ));

    let entries: Vec<_> = snapshot
        .entries
        .iter()
        .map(|e| {
            (
                e.primary_email.as_str(),
                e.kind,
                e.aliases
                    .iter()
                    .map(EmailAddress::as_str)
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (
                "Ann@Example.com",
                RecipientKind::UserMailbox,
                vec!["ann.lee@example.com"]
            ),
            ("bob@example.com", RecipientKind::UserMailbox, vec![]),
            ("shared@example.com", RecipientKind::SharedMailbox, vec![]),
        ]
    );
    let ann = &snapshot.entries[0];
    assert_eq!(
        (ann.first_name.as_deref(), ann.last_name.as_deref()),
        (Some("Ann"), Some("Lee"))
    );
    assert_eq!(ann.location, Some(Location::object_id("ann@example.com")));
    assert_eq!(ann.attributes["discovered"], "threshold");
    assert_eq!(ann.attributes["messages_counted"], "6");
    assert_eq!(snapshot.entries[2].attributes["discovered"], "decision");
    // Bob and the shared mailbox have no display name: no names are provided,
    // so no existing account's name is cleared.
    let provided: Vec<Field> = snapshot.provided.iter().collect();
    assert_eq!(provided, [Field::Aliases, Field::Kind]);

    let issues: Vec<_> = snapshot.issues.iter().map(ToString::to_string).collect();
    assert_eq!(
        issues,
        [
            "object ext@other.org: address `ext@other.org`: expected a decided address in a managed domain",
            "record #3: last_seen `2026-11-03T08:00:00+00:00`: expected a last-seen time no later than the run's time",
        ]
    );
}

#[test]
fn names_are_provided_when_every_entry_has_one() {
    let now = at(11, 2, 0);
    let mut ledger = DiscoveryLedger::new();
    let _ = ledger.observe(
        &[
            inbound("ann@example.com", 5, at(11, 1, 8)).with_display_name("Lee, Ann"),
            inbound("bob@example.com", 5, at(11, 1, 8)).with_display_name("Bob"),
        ],
        now,
    );
    let snapshot = DiscoverySource::new(ledger, policy(), now).snapshot();
    let provided: Vec<Field> = snapshot.provided.iter().collect();
    assert_eq!(provided, [Field::FirstName], "Bob has no last name");
}

#[test]
fn report_only_lists_candidates_but_the_snapshot_carries_only_decisions() {
    let now = at(11, 2, 0);
    let mut ledger = DiscoveryLedger::new();
    let _ = ledger.observe(&[inbound("bob@example.com", 9, at(11, 1, 8))], now);
    ledger.decide(addr("cy@example.com"), Decision::User, now);
    let source = DiscoverySource::new(ledger, policy().candidates(CandidateUse::ReportOnly), now);
    let listed: Vec<_> = source
        .candidates()
        .into_iter()
        .map(|c| (c.address.to_string(), c.becomes, c.reason))
        .collect();
    assert_eq!(
        listed,
        [
            (
                "bob@example.com".to_owned(),
                Becomes::User,
                Reason::Threshold
            ),
            (
                "cy@example.com".to_owned(),
                Becomes::User,
                Reason::Decision { decided_at: now }
            ),
        ]
    );
    let snapshot = source.snapshot();
    assert_eq!(snapshot.entries.len(), 1);
    assert_eq!(snapshot.entries[0].primary_email.as_str(), "cy@example.com");
    assert!(snapshot.provided.is_empty());
}

/// One generated observation: which of four addresses (and how it is
/// capitalised), direction, count, first-seen hour and duration, name.
fn observation() -> impl Strategy<Value = Observation> {
    (
        0..4usize,
        any::<u8>(),
        any::<bool>(),
        1..50u64,
        0..2000i64,
        0..72i64,
        proptest::option::of(0..3usize),
    )
        .prop_map(|(who, case, out, messages, start, hours, name)| {
            let local = ["ann", "bob", "cy", "dee"][who];
            let spelled: String = format!("{local}@example.com")
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if case >> (i % 8) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            let first = at(9, 1, 0) + TimeDelta::hours(start);
            let direction = if out {
                Direction::Outbound
            } else {
                Direction::Inbound
            };
            let o = Observation::new(addr(&spelled), direction, messages, first)
                .seen_between(first, first + TimeDelta::hours(hours));
            match name {
                Some(n) => o.with_display_name(["Ann Lee", "A. Lee", "Bob Ray"][n]),
                None => o,
            }
        })
}

proptest! {
    #[test]
    fn observation_order_and_run_splits_do_not_change_the_ledger(
        (observations, shuffled) in proptest::collection::vec(observation(), 0..40)
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
        split in 0..40usize,
    ) {
        let now = at(12, 31, 0);
        let mut one_run = DiscoveryLedger::new();
        prop_assert!(one_run.observe(&observations, now).is_empty());
        let mut two_runs = DiscoveryLedger::new();
        let split = split.min(shuffled.len());
        let _ = two_runs.observe(&shuffled[..split], now);
        let _ = two_runs.observe(&shuffled[split..], now);
        prop_assert_eq!(&one_run, &two_runs);
        prop_assert_eq!(one_run.to_json().unwrap(), two_runs.to_json().unwrap());
        let total: u64 = observations.iter().map(|o| o.messages).sum();
        let counted: u64 = one_run.entries().map(|e| e.total.inbound + e.total.outbound).sum();
        prop_assert_eq!(counted, total);
    }
}

#[test]
fn decisions_override_the_block_list_but_not_the_managed_domains() {
    let now = at(11, 2, 0);
    let mut ledger = DiscoveryLedger::new();
    ledger.decide(
        addr("noreply@example.com"),
        Decision::FunctionalAccount,
        now,
    );
    ledger.decide(
        addr("ann.lee@example.com"),
        Decision::AliasOf {
            user: addr("ann@other.org"),
        },
        now,
    );
    let snapshot = DiscoverySource::new(ledger, policy(), now).snapshot();
    let entries: Vec<_> = snapshot
        .entries
        .iter()
        .map(|e| (e.primary_email.as_str(), e.kind))
        .collect();
    assert_eq!(
        entries,
        [("noreply@example.com", RecipientKind::SharedMailbox)]
    );
    let issues: Vec<_> = snapshot.issues.iter().map(ToString::to_string).collect();
    assert_eq!(
        issues,
        [
            "object ann@other.org: alias_of `ann@other.org`: expected the user of an alias in a managed domain"
        ]
    );
}
