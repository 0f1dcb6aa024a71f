//! The executor against the stateful gateway emulator: plans applied for
//! real, then planned again; dry runs; stale plans; failed dependencies;
//! crashes resumed from the journal; refused plans.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use muster::chrono::{DateTime, TimeZone, Utc};
use muster::core::{DirectoryEntry, DirectorySnapshot, Domain, EmailAddress, Field, FieldSet};
use muster::gateway::{Client, RateLimit, RetryConfig, UserPatch};
use muster::reconcile::{
    self, Desired, GatewayListing, Guard, Phase, Plan, Policy, Step, SyncState,
};
use muster::{ApplyError, ApplyReport, Executor, Halt, Outcome, Progress};
use muster_emulator::{Emulator, Fault, Login, Org, RateLimit as EmuRateLimit};
use serde_json::{Value, json};

const ORG: &str = "example.com";
const LOGIN: &str = "admin@example.com";
const PASSWORD: &str = "Executor-Test-Pa55word";
const STACK: &str = "local";
const SOURCE: &str = "hr-dir";

fn email(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap() + muster::chrono::Duration::days(n)
}

async fn emulator(users: Vec<Value>) -> Emulator {
    let org = users
        .into_iter()
        .fold(Org::new(ORG).domain("example.org"), |o, u| o.user(u))
        .user(json!({"primary_email": LOGIN, "type": "organization_admin"}));
    Emulator::builder()
        .org(org)
        .login(Login::org_admin(LOGIN, PASSWORD, ORG))
        .rate_limit(EmuRateLimit::unlimited())
        .start()
        .await
        .unwrap()
}

/// No retries (a failure is a failure, and no test waits on a backoff) and
/// a pace no test reaches.
fn client(emu: &Emulator) -> Client {
    Client::builder()
        .essentials(emu.base_url(), ORG)
        .credentials(LOGIN, PASSWORD.into())
        .retry(RetryConfig::disabled())
        .rate_limit(RateLimit::per_minute(600_000).with_burst(1_000))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn policy() -> Policy {
    Policy::builder()
        .managed_domain("example.com".parse::<Domain>().unwrap())
        .managed_domain("example.org".parse::<Domain>().unwrap())
        .threshold(100, 100)
        .min_absent_runs(1)
        .build()
}

fn entry(primary: &str, first: &str, last: &str, aliases: &[&str]) -> DirectoryEntry {
    DirectoryEntry::new(email(primary))
        .with_names(first, last)
        .with_aliases(aliases.iter().map(|a| email(a)))
}

fn directory(entries: Vec<DirectoryEntry>) -> Desired {
    Desired::new(
        DirectorySnapshot::new(
            SOURCE,
            FieldSet::from_iter([Field::FirstName, Field::LastName, Field::Aliases]),
        )
        .with_entries(entries),
    )
}

async fn plan_at(
    client: &Client,
    desired: &Desired,
    state: &SyncState,
    now: DateTime<Utc>,
) -> Plan {
    plan_with(client, desired, state, now, &policy()).await
}

async fn plan_with(
    client: &Client,
    desired: &Desired,
    state: &SyncState,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Plan {
    let gateway = muster::read_gateway(client, STACK).await.unwrap();
    reconcile::plan(
        desired,
        &gateway.listing,
        &gateway.target,
        state,
        policy,
        now,
    )
    .unwrap()
}

/// Requests that change something (POST, PUT, DELETE), as `METHOD uri`.
fn writes(emu: &Emulator) -> Vec<String> {
    emu.requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.uri))
        .collect()
}

fn user_field(emu: &Emulator, address: &str, field: &str) -> Value {
    emu.user(ORG, address)
        .unwrap_or_else(|| panic!("{address} is on the gateway"))[field]
        .clone()
}

fn outcome<'r>(report: &'r ApplyReport, address: &str) -> &'r Outcome {
    report
        .outcome_for(&email(address))
        .unwrap_or_else(|| panic!("a change for {address} in {report:#?}"))
}

fn executor() -> Executor {
    Executor::new().stack(STACK)
}

/// Three runs against one gateway, each applied and planned again: creates
/// (in one bulk request), updates, an adoption, an alias moving between two
/// accounts, a primary-address change, a flag and, a week later, a delete.
#[tokio::test]
async fn each_applied_plan_leaves_nothing_to_do() {
    let emu = emulator(vec![
        json!({"primary_email": "ann@example.com", "firstname": "Anne", "surname": "Lee",
               "alias_emails": ["sales@example.com"], "white_list_senders": ["partner.example"]}),
        json!({"primary_email": "bob@example.com", "firstname": "Bob", "surname": "Ray"}),
    ])
    .await;
    let client = client(&emu);

    // Run 1: Ann adopted and renamed "Ann", Bob adopted, Carl and Dora created.
    let first = directory(vec![
        entry("ann@example.com", "Ann", "Lee", &["sales@example.com"]),
        entry("bob@example.com", "Bob", "Ray", &[]),
        entry("carl@example.com", "Carl", "Ito", &[]),
        entry("dora@example.com", "Dora", "Fox", &["dora@example.org"]),
    ]);
    let state = SyncState::new(STACK, ORG);
    let plan = plan_at(&client, &first, &state, day(0)).await;
    assert_eq!(plan.changes.len(), 4, "{}", reconcile::render::text(&plan));
    let finished = Arc::new(Mutex::new(0usize));
    let counter = Arc::clone(&finished);
    let report = executor()
        .on_progress(move |p| {
            if let Progress::Finished { .. } = p {
                *counter.lock().unwrap() += 1;
            }
        })
        .apply(&plan, &client, &state)
        .await
        .unwrap();
    assert!(report.is_complete(), "{report:#?}");
    assert_eq!(report.counts.applied, 4);
    assert_eq!(*finished.lock().unwrap(), 4);
    assert_eq!(user_field(&emu, "ann@example.com", "firstname"), "Ann");
    // The sender list muster does not own survived the read-merge-write.
    assert_eq!(
        user_field(&emu, "ann@example.com", "white_list_senders"),
        json!(["partner.example"])
    );
    assert_eq!(
        user_field(&emu, "dora@example.com", "alias_emails"),
        json!(["dora@example.org"])
    );
    assert_eq!(
        emu.count("POST", "/api/v1/orgs/{domain}/users", 201),
        1,
        "one bulk create"
    );
    assert_eq!(emu.welcome_letters("carl@example.com"), 1);
    let state = report.state;
    let again = plan_at(
        &client,
        &first,
        &state,
        day(0) + muster::chrono::Duration::hours(1),
    )
    .await;
    assert!(again.is_empty(), "{}", reconcile::render::text(&again));

    // Run 2: Bob becomes Robert (old address kept as an alias), sales@ moves
    // from Ann to Dora, Carl leaves and is flagged.
    let second = directory(vec![
        entry("ann@example.com", "Ann", "Lee", &[]),
        entry("robert@example.com", "Robert", "Ray", &["bob@example.com"]),
        entry(
            "dora@example.com",
            "Dora",
            "Fox",
            &["dora@example.org", "sales@example.com"],
        ),
    ]);
    let plan = plan_at(&client, &second, &state, day(1)).await;
    let text = reconcile::render::text(&plan);
    let ann = plan
        .changes
        .iter()
        .find(|c| c.email.as_str() == "ann@example.com")
        .unwrap();
    let dora = plan
        .changes
        .iter()
        .find(|c| c.email.as_str() == "dora@example.com")
        .unwrap();
    assert_eq!(ann.phase, Phase::Release, "{text}");
    assert_eq!(dora.depends_on, vec![ann.id], "{text}");
    assert!(
        plan.changes.iter().any(|c| c
            .steps
            .iter()
            .any(|s| matches!(s, Step::ChangePrimary { .. }))),
        "{text}"
    );
    let report = executor().apply(&plan, &client, &state).await.unwrap();
    assert!(report.is_complete(), "{report:#?}");
    assert!(emu.user(ORG, "bob@example.com").is_none());
    assert_eq!(
        user_field(&emu, "robert@example.com", "alias_emails"),
        json!(["bob@example.com"])
    );
    assert_eq!(
        emu.welcome_letters("robert@example.com"),
        0,
        "a rename sends no letter"
    );
    assert_eq!(
        user_field(&emu, "ann@example.com", "alias_emails"),
        json!([])
    );
    assert_eq!(
        user_field(&emu, "dora@example.com", "alias_emails"),
        json!(["dora@example.org", "sales@example.com"])
    );
    let state = report.state;
    assert!(
        state.flags.contains_key(&email("carl@example.com")),
        "the flag is recorded"
    );
    let again = plan_at(
        &client,
        &second,
        &state,
        day(1) + muster::chrono::Duration::hours(1),
    )
    .await;
    assert!(again.is_empty(), "{}", reconcile::render::text(&again));

    // Run 3, eight days later: Carl is deleted.
    let plan = plan_at(&client, &second, &state, day(9)).await;
    assert_eq!(plan.changes.len(), 1, "{}", reconcile::render::text(&plan));
    let report = executor().apply(&plan, &client, &state).await.unwrap();
    assert_eq!(outcome(&report, "carl@example.com"), &Outcome::Applied);
    assert!(emu.user(ORG, "carl@example.com").is_none());
    let state = report.state;
    assert!(!state.flags.contains_key(&email("carl@example.com")));
    let again = plan_at(&client, &second, &state, day(10)).await;
    assert!(again.is_empty(), "{}", reconcile::render::text(&again));
}

/// A gateway with Ann to update and two users to create, for the tests below.
async fn small_gateway() -> (Emulator, Client, Desired) {
    let emu = emulator(vec![
        json!({"primary_email": "ann@example.com", "firstname": "Ann", "surname": "Lee"}),
    ])
    .await;
    let client = client(&emu);
    let desired = directory(vec![
        entry("ann@example.com", "Ann", "Lee-Smith", &["ann@example.org"]),
        entry("carl@example.com", "Carl", "Ito", &[]),
        entry("dora@example.com", "Dora", "Fox", &[]),
    ]);
    (emu, client, desired)
}

#[tokio::test]
async fn a_dry_run_sends_no_write_and_says_what_it_would_send() {
    let (emu, client, desired) = small_gateway().await;
    let state = SyncState::new(STACK, ORG);
    let plan = plan_at(&client, &desired, &state, day(0)).await;
    let before = emu.users(ORG);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    emu.clear_observations();

    let report = executor()
        .dry_run(true)
        .journal(&journal)
        .apply(&plan, &client, &state)
        .await
        .unwrap();

    assert!(report.dry_run);
    assert_eq!(report.counts.dry_run, plan.changes.len(), "{report:#?}");
    assert!(writes(&emu).is_empty(), "{:?}", writes(&emu));
    assert_eq!(emu.users(ORG), before);
    assert!(!journal.exists(), "a dry run writes no journal");
    let Outcome::DryRun { requests } = outcome(&report, "carl@example.com") else {
        panic!("{report:#?}");
    };
    assert_eq!(
        requests,
        &["POST users (create carl@example.com, welcome letter, bulk group 0)"]
    );
    let Outcome::DryRun { requests } = outcome(&report, "ann@example.com") else {
        panic!("{report:#?}");
    };
    assert_eq!(
        requests,
        &["PUT users/ann@example.com (last_name, +1 aliases)"]
    );
    // The state shows what the run would record (Ann adopted by the directory).
    assert_eq!(
        report.state.origin(&email("ann@example.com")),
        &muster::core::Origin::Directory(SOURCE.into())
    );
}

#[tokio::test]
async fn an_account_changed_since_planning_is_stale_and_not_written() {
    let (emu, client, desired) = small_gateway().await;
    let state = SyncState::new(STACK, ORG);
    let plan = plan_at(&client, &desired, &state, day(0)).await;
    // Someone edits Ann in the console, and creates Carl, after the plan was made.
    client
        .users()
        .update(
            &email("ann@example.com"),
            UserPatch::new().last_name(Some("Li")),
        )
        .await
        .unwrap();
    emu.insert_user(
        ORG,
        json!({"primary_email": "carl@example.com", "firstname": "Carl"}),
    )
    .unwrap();
    emu.clear_observations();

    let report = executor().apply(&plan, &client, &state).await.unwrap();

    let Outcome::Stale { reason } = outcome(&report, "ann@example.com") else {
        panic!("{report:#?}");
    };
    assert!(reason.contains("last_name"), "{reason}");
    assert!(matches!(
        outcome(&report, "carl@example.com"),
        Outcome::Stale { .. }
    ));
    assert_eq!(outcome(&report, "dora@example.com"), &Outcome::Applied);
    assert_eq!(
        user_field(&emu, "ann@example.com", "surname"),
        "Li",
        "not overwritten"
    );
    assert!(
        !writes(&emu).iter().any(|w| w.starts_with("PUT")),
        "{:?}",
        writes(&emu)
    );
    assert_eq!(emu.welcome_letters("carl@example.com"), 0);
    // A stale change's transitions are not applied: Ann is not adopted.
    assert_eq!(
        report.state.origin(&email("ann@example.com")),
        &muster::core::Origin::Unknown
    );
    assert_eq!(
        report.state.origin(&email("dora@example.com")),
        &muster::core::Origin::Directory(SOURCE.into())
    );
}

#[tokio::test]
async fn a_failed_change_skips_the_changes_that_depend_on_it() {
    let emu = emulator(vec![
        json!({"primary_email": "ann@example.com", "firstname": "Ann", "surname": "Lee",
               "alias_emails": ["sales@example.com"]}),
        json!({"primary_email": "bob@example.com", "firstname": "Bob", "surname": "Ray"}),
    ])
    .await;
    let client = client(&emu);
    let desired = directory(vec![
        entry("ann@example.com", "Ann", "Lee", &[]),
        entry("bob@example.com", "Bob", "Ray", &["sales@example.com"]),
    ]);
    let state = SyncState::new(STACK, ORG);
    let plan = plan_at(&client, &desired, &state, day(0)).await;
    let ann = plan
        .changes
        .iter()
        .find(|c| c.email.as_str() == "ann@example.com")
        .unwrap();
    let bob = plan
        .changes
        .iter()
        .find(|c| c.email.as_str() == "bob@example.com")
        .unwrap();
    assert_eq!(bob.depends_on, vec![ann.id]);
    emu.clear_observations();
    // The first request of the run (reading Ann, whose alias is released first) fails.
    emu.push_fault(Fault::Status(503));

    let report = executor().apply(&plan, &client, &state).await.unwrap();

    let Outcome::Failed { retryable, .. } = outcome(&report, "ann@example.com") else {
        panic!("{report:#?}");
    };
    assert!(*retryable);
    let Outcome::Skipped { reason } = outcome(&report, "bob@example.com") else {
        panic!("{report:#?}");
    };
    assert!(reason.contains(&format!("#{}", ann.id)), "{reason}");
    assert!(writes(&emu).is_empty(), "{:?}", writes(&emu));
    assert_eq!(
        user_field(&emu, "bob@example.com", "alias_emails"),
        json!([])
    );
    assert_eq!(report.counts.failed, 1);
    assert_eq!(report.counts.skipped, 1);
}

/// The POST bodies' addresses, in order.
fn posted(emu: &Emulator) -> Vec<String> {
    emu.requests()
        .iter()
        .filter(|r| r.method == "POST")
        .filter_map(|r| r.body.clone())
        .flat_map(|b| match b {
            Value::Array(items) => items,
            one => vec![one],
        })
        .filter_map(|u| u["primary_email"].as_str().map(str::to_owned))
        .collect()
}

fn four_new_users() -> Desired {
    directory(vec![
        entry("ann@example.com", "Ann", "Lee-Smith", &[]),
        entry("carl@example.com", "Carl", "Ito", &[]),
        entry("dora@example.com", "Dora", "Fox", &[]),
        entry("eve@example.com", "Eve", "Ng", &[]),
        entry("fay@example.com", "Fay", "Oz", &[]),
    ])
}

#[tokio::test]
async fn a_run_stopped_part_way_resumes_from_its_journal_without_duplicates() {
    let (emu, client, _) = small_gateway().await;
    let desired = four_new_users();
    let state = SyncState::new(STACK, ORG);
    let plan = plan_at(&client, &desired, &state, day(0)).await;
    assert_eq!(plan.changes.len(), 5);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");

    // The first run stops after two changes (as a crash would, but cleanly).
    let first = executor()
        .journal(&journal)
        .max_changes(2)
        .apply(&plan, &client, &state)
        .await
        .unwrap();
    assert_eq!(first.counts.applied, 2, "{first:#?}");
    assert_eq!(first.counts.skipped, 3);
    assert_eq!(first.halted, Some(Halt::Limit { max_changes: 2 }));
    let created_first = posted(&emu);
    assert_eq!(created_first, ["carl@example.com", "dora@example.com"]);

    // The same plan and journal: only the rest is sent.
    emu.clear_observations();
    let second = executor()
        .journal(&journal)
        .apply(&plan, &client, &state)
        .await
        .unwrap();
    assert!(second.is_complete(), "{second:#?}");
    assert_eq!(second.counts.already_applied, 2);
    assert_eq!(second.counts.applied, 3);
    assert_eq!(posted(&emu), ["eve@example.com", "fay@example.com"]);
    for who in ["carl", "dora", "eve", "fay"] {
        assert_eq!(
            emu.welcome_letters(&format!("{who}@example.com")),
            1,
            "{who}"
        );
    }
    assert_eq!(emu.users(ORG).len(), 6);
    // The new state has every change's transitions, the first run's included.
    for who in ["ann", "carl", "dora", "eve", "fay"] {
        assert_eq!(
            second.state.origin(&email(&format!("{who}@example.com"))),
            &muster::core::Origin::Directory(SOURCE.into()),
            "{who}"
        );
    }
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(!text.contains(PASSWORD), "no secret in the journal");
    assert!(
        text.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "{text}"
    );

    // A third run has nothing left to send.
    emu.clear_observations();
    let third = executor()
        .journal(&journal)
        .apply(&plan, &client, &state)
        .await
        .unwrap();
    assert_eq!(third.counts.already_applied, 5);
    assert!(emu.requests().is_empty(), "{:?}", writes(&emu));
}

/// Drops the `end` lines of these changes: the process died after their
/// writes reached the gateway and before it could journal them.
fn forget_ends(journal: &Path, ids: &[u32]) {
    let text = std::fs::read_to_string(journal).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            !(v["event"] == "end" && ids.iter().any(|id| v["id"] == json!(id)))
        })
        .collect();
    std::fs::write(journal, format!("{}\n", kept.join("\n"))).unwrap();
}

#[tokio::test]
async fn changes_a_crash_left_in_doubt_are_settled_by_reading_back() {
    let (emu, client, _) = small_gateway().await;
    let desired = four_new_users();
    let state = SyncState::new(STACK, ORG);
    let plan = plan_at(&client, &desired, &state, day(0)).await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let first = executor()
        .journal(&journal)
        .apply(&plan, &client, &state)
        .await
        .unwrap();
    assert!(first.is_complete(), "{first:#?}");
    let ann = plan
        .changes
        .iter()
        .find(|c| c.email.as_str() == "ann@example.com")
        .unwrap();
    let eve = plan
        .changes
        .iter()
        .find(|c| c.email.as_str() == "eve@example.com")
        .unwrap();
    forget_ends(&journal, &[ann.id, eve.id]);
    // A torn last line, as a crash in the middle of a write leaves it.
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.push_str(r#"{"event":"end","id":"#);
    std::fs::write(&journal, text).unwrap();
    emu.clear_observations();

    // A dry run shows that nothing is left to send.
    let preview = executor()
        .dry_run(true)
        .journal(&journal)
        .apply(&plan, &client, &state)
        .await
        .unwrap();
    assert_eq!(preview.counts.already_applied, 3, "{preview:#?}");
    for who in ["ann@example.com", "eve@example.com"] {
        assert_eq!(
            outcome(&preview, who),
            &Outcome::DryRun { requests: vec![] },
            "{who}"
        );
    }

    let again = executor()
        .journal(&journal)
        .apply(&plan, &client, &state)
        .await
        .unwrap();

    assert_eq!(again.counts.already_applied, 3, "{again:#?}");
    assert_eq!(outcome(&again, "ann@example.com"), &Outcome::Applied);
    assert_eq!(outcome(&again, "eve@example.com"), &Outcome::Applied);
    assert!(
        writes(&emu).is_empty(),
        "settled by reading, not sent again: {:?}",
        writes(&emu)
    );
    assert_eq!(emu.welcome_letters("eve@example.com"), 1);
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.ends_with('\n'));
    assert!(
        text.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "{text}"
    );
}

#[tokio::test]
async fn a_journal_of_another_plan_is_refused() {
    let (emu, client, desired) = small_gateway().await;
    let state = SyncState::new(STACK, ORG);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let plan = plan_at(&client, &desired, &state, day(0)).await;
    executor()
        .dry_run(false)
        .max_changes(1)
        .journal(&journal)
        .apply(&plan, &client, &state)
        .await
        .unwrap();
    let other = plan_at(&client, &four_new_users(), &state, day(0)).await;
    assert_ne!(other.fingerprint, plan.fingerprint);
    emu.clear_observations();

    let err = executor()
        .journal(&journal)
        .apply(&other, &client, &state)
        .await
        .unwrap_err();

    let ApplyError::JournalForAnotherPlan {
        found, expected, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(found, &plan.fingerprint);
    assert_eq!(expected, &other.fingerprint);
    assert!(emu.requests().is_empty());
    assert!(err.to_string().starts_with("journal "), "{err}");
}

#[tokio::test]
async fn an_edited_plan_is_refused_and_a_step_its_guard_withholds_too() {
    let (emu, client, desired) = small_gateway().await;
    let state = SyncState::new(STACK, ORG);
    let gateway = muster::read_gateway(&client, STACK).await.unwrap();
    // The listing may be missing accounts: the planner withholds every deletion…
    let partial = GatewayListing::partial(gateway.listing.accounts.clone());
    let mut plan = reconcile::plan(
        &desired,
        &partial,
        &gateway.target,
        &state,
        &policy(),
        day(0),
    )
    .unwrap();
    assert_eq!(plan.guards, vec![Guard::GatewayListingIncomplete]);
    // …and someone edits a deletion into the saved plan anyway.
    let ann = plan
        .changes
        .iter_mut()
        .find(|c| c.email.as_str() == "ann@example.com")
        .unwrap();
    ann.steps = vec![Step::Delete];
    ann.phase = Phase::Delete;
    let ann_id = ann.id;
    emu.clear_observations();

    // The edit no longer matches the plan's fingerprint: refused as altered.
    let err = executor().apply(&plan, &client, &state).await.unwrap_err();
    assert!(
        matches!(&err, ApplyError::PlanAltered { recorded } if *recorded == plan.fingerprint),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("changed after it was made"),
        "{err}"
    );
    assert!(emu.requests().is_empty());

    // Fingerprinted again (by hand, or by a broken planner): the guard still holds.
    plan.fingerprint = plan.content_fingerprint();
    let err = executor().apply(&plan, &client, &state).await.unwrap_err();

    assert!(
        matches!(&err, ApplyError::Guarded { change, step: "delete", guard: Guard::GatewayListingIncomplete } if *change == ann_id),
        "{err:?}"
    );
    assert!(emu.requests().is_empty());
    assert!(emu.user(ORG, "ann@example.com").is_some());
}

#[tokio::test]
async fn a_plan_over_its_threshold_is_refused_without_the_override() {
    let emu = emulator(vec![
        json!({"primary_email": "ann@example.com", "alias_emails": ["a1@example.com", "a2@example.com"]}),
    ])
    .await;
    let client = client(&emu);
    let desired = directory(vec![entry("ann@example.com", "", "", &[])]);
    let state = SyncState::new(STACK, ORG);
    // No destructive change at all without the override.
    let strict = Policy::builder()
        .managed_domain("example.com".parse::<Domain>().unwrap())
        .managed_domain("example.org".parse::<Domain>().unwrap())
        .threshold(0, 100)
        .build();
    let plan = plan_with(&client, &desired, &state, day(0), &strict).await;
    assert!(plan.requires_override());
    emu.clear_observations();

    let err = executor().apply(&plan, &client, &state).await.unwrap_err();

    assert!(
        matches!(
            err,
            ApplyError::ThresholdExceeded {
                destructive: 1,
                allowed: 0
            }
        ),
        "{err:?}"
    );
    assert!(emu.requests().is_empty());
}

#[tokio::test]
async fn a_plan_for_another_organisation_or_stack_is_refused() {
    let (emu, client, desired) = small_gateway().await;
    let state = SyncState::new(STACK, ORG);
    let plan = plan_at(&client, &desired, &state, day(0)).await;
    let other_org = Client::builder()
        .essentials(emu.base_url(), "example.org")
        .credentials(LOGIN, PASSWORD.into())
        .build()
        .unwrap();
    emu.clear_observations();

    let err = executor()
        .apply(&plan, &other_org, &state)
        .await
        .unwrap_err();
    assert!(matches!(err, ApplyError::WrongGateway { .. }), "{err:?}");
    let err = Executor::new()
        .stack("eu1")
        .apply(&plan, &client, &state)
        .await
        .unwrap_err();
    assert!(matches!(err, ApplyError::WrongGateway { .. }), "{err:?}");
    let foreign_state = SyncState::new("eu1", ORG);
    let err = executor()
        .apply(&plan, &client, &foreign_state)
        .await
        .unwrap_err();
    assert!(matches!(err, ApplyError::State(_)), "{err:?}");
    assert!(emu.requests().is_empty());
}

#[tokio::test]
async fn a_rename_whose_create_fails_gives_the_old_account_its_aliases_back() {
    let emu = emulator(vec![
        json!({"primary_email": "bob@example.com", "firstname": "Bob",
                                   "surname": "Ray", "alias_emails": ["bob@example.org"]}),
    ])
    .await;
    let client = client(&emu);
    let before = directory(vec![entry(
        "bob@example.com",
        "Bob",
        "Ray",
        &["bob@example.org"],
    )]);
    let state = SyncState::new(STACK, ORG);
    let adopt = plan_at(&client, &before, &state, day(0)).await;
    let state = executor()
        .apply(&adopt, &client, &state)
        .await
        .unwrap()
        .state;
    let after = directory(vec![entry(
        "robert@example.com",
        "Robert",
        "Ray",
        &["bob@example.com", "bob@example.org"],
    )]);
    let plan = plan_at(&client, &after, &state, day(1)).await;
    assert_eq!(plan.changes.len(), 1, "{}", reconcile::render::text(&plan));
    // Read the old and new accounts, strip the alias (read, write), then the create is refused.
    for _ in 0..4 {
        emu.push_fault(Fault::Slow(Duration::ZERO));
    }
    emu.push_fault(Fault::Status(400));

    let report = executor().apply(&plan, &client, &state).await.unwrap();

    let Outcome::Failed { error, retryable } = outcome(&report, "robert@example.com") else {
        panic!("{report:#?}");
    };
    assert!(!retryable);
    assert!(error.contains("aliases were put back"), "{error}");
    assert_eq!(
        user_field(&emu, "bob@example.com", "alias_emails"),
        json!(["bob@example.org"])
    );
    assert!(emu.user(ORG, "robert@example.com").is_none());
    assert_eq!(
        report.state.origin(&email("robert@example.com")),
        &muster::core::Origin::Unknown
    );

    // Nothing was lost, so the same plan applies once the gateway takes it.
    let report = executor().apply(&plan, &client, &state).await.unwrap();
    assert_eq!(outcome(&report, "robert@example.com"), &Outcome::Applied);
    assert!(emu.user(ORG, "bob@example.com").is_none());
    assert_eq!(
        user_field(&emu, "robert@example.com", "alias_emails"),
        json!(["bob@example.com", "bob@example.org"])
    );
    assert_eq!(
        user_field(&emu, "robert@example.com", "firstname"),
        "Robert"
    );
    let again = plan_at(&client, &after, &report.state, day(2)).await;
    assert!(again.is_empty(), "{}", reconcile::render::text(&again));
}

#[tokio::test]
async fn a_refused_login_aborts_the_run_unless_the_policy_says_go_on() {
    let (emu, client, desired) = small_gateway().await;
    let state = SyncState::new(STACK, ORG);
    let plan = plan_at(&client, &desired, &state, day(0)).await;
    assert_eq!(plan.changes.len(), 3);
    let wrong = Client::builder()
        .essentials(emu.base_url(), ORG)
        .credentials(LOGIN, "not-the-password".into())
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    emu.clear_observations();

    // Carl and Dora go in one bulk request, refused: the run stops before Ann.
    let report = executor().apply(&plan, &wrong, &state).await.unwrap();
    assert!(
        matches!(report.halted, Some(Halt::Aborted { .. })),
        "{report:#?}"
    );
    assert_eq!(
        (report.counts.failed, report.counts.skipped),
        (2, 1),
        "{report:#?}"
    );
    assert!(matches!(
        outcome(&report, "ann@example.com"),
        Outcome::Skipped { .. }
    ));
    assert_eq!(emu.requests().len(), 1);
    // Nothing succeeded: nothing claimed; the run itself is recorded, expecting no new account.
    assert!(
        report.state.accounts.is_empty(),
        "{:?}",
        report.state.accounts
    );
    assert_eq!(report.state.last_run, Some(day(0)));
    assert_eq!(report.state.last_gateway_count, Some(2));

    let report = executor()
        .on_error(|_, _| muster::ErrorAction::Continue)
        .apply(&plan, &wrong, &state)
        .await
        .unwrap();
    assert_eq!(report.halted, None);
    assert_eq!(report.counts.failed, 3, "{report:#?}");
    assert!(emu.requests().iter().all(|r| r.status == 401));
}

/// The v2 dialect: no bulk create (one POST per user) and group
/// memberships through the groups API.
#[tokio::test]
async fn on_v2_memberships_go_through_the_groups_api_and_converge() {
    let emu = Emulator::builder()
        .org(
            Org::new(ORG)
                .domain("example.org")
                .user(json!({"primary_email": "ann@example.com", "firstname": "Ann", "surname": "Lee"}))
                .user(json!({"primary_email": "bob@example.com", "firstname": "Bob", "surname": "Ray"}))
                .group("staff", ["ann@example.com"])
                .group("sales", Vec::<String>::new()),
        )
        .login(Login::org_admin(LOGIN, PASSWORD, ORG))
        .rate_limit(EmuRateLimit::unlimited())
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .rest_v2(emu.base_url())
        .credentials(LOGIN, PASSWORD.into())
        .retry(RetryConfig::disabled())
        .rate_limit(RateLimit::per_minute(600_000).with_burst(1_000))
        .build()
        .unwrap();
    let member = |e: &str, groups: &[&str]| {
        let mut entry = entry(e, "", "", &[]);
        let (first, last) = e.split_once('@').unwrap();
        entry = entry.with_names(first, last);
        entry.member_of = groups.iter().map(|g| (*g).to_owned()).collect();
        entry
    };
    let desired = Desired::new(
        DirectorySnapshot::new(
            SOURCE,
            FieldSet::from_iter([Field::FirstName, Field::LastName, Field::Groups]),
        )
        .with_entries(vec![
            member("ann@example.com", &["sales"]),
            member("bob@example.com", &["staff"]),
            member("carl@example.com", &[]),
            member("dora@example.com", &[]),
        ]),
    );
    let target = reconcile::TargetProfile::new(STACK, ORG)
        .with_domain("example.com".parse().unwrap())
        .with_domain("example.org".parse().unwrap())
        .with_capabilities(
            reconcile::Capabilities::default()
                .with_groups(true)
                .with_fields(client.capabilities().fields),
        );
    let plan_v2 = |state: SyncState, now| {
        let client = client.clone();
        let desired = desired.clone();
        let target = target.clone();
        async move {
            let accounts = client.users().list().await.unwrap();
            let listing =
                GatewayListing::complete(accounts.into_iter().map(|u| u.into_account()).collect());
            reconcile::plan(&desired, &listing, &target, &state, &policy(), now).unwrap()
        }
    };
    let state = SyncState::new(STACK, ORG);
    let plan = plan_v2(state.clone(), day(0)).await;
    assert_eq!(plan.changes.len(), 4, "{}", reconcile::render::text(&plan));

    let report = executor().apply(&plan, &client, &state).await.unwrap();

    assert!(report.is_complete(), "{report:#?}");
    let groups: std::collections::BTreeMap<String, String> = client
        .groups()
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.name, g.id))
        .collect();
    let members = |name: &str| {
        let client = client.clone();
        let id = groups[name].clone();
        async move {
            let mut m: Vec<String> = client
                .groups()
                .members(&id)
                .await
                .unwrap()
                .iter()
                .map(ToString::to_string)
                .collect();
            m.sort();
            m
        }
    };
    assert_eq!(members("staff").await, ["bob@example.com"]);
    assert_eq!(members("sales").await, ["ann@example.com"]);
    assert_eq!(
        emu.count("POST", "/v2/users", 201),
        2,
        "one POST per create on v2"
    );
    let again = plan_v2(report.state, day(1)).await;
    assert!(again.is_empty(), "{}", reconcile::render::text(&again));
}

/// Starts and outcomes as the progress callback sees them: the most
/// changes ever in flight at once.
fn most_in_flight(executor: Executor) -> (Executor, Arc<Mutex<(usize, usize)>>) {
    let seen = Arc::new(Mutex::new((0usize, 0usize)));
    let counter = Arc::clone(&seen);
    let executor = executor.on_progress(move |p| {
        let mut c = counter.lock().unwrap();
        match p {
            Progress::Started { .. } => {
                c.0 += 1;
                c.1 = c.1.max(c.0);
            }
            Progress::Finished { .. } => c.0 = c.0.saturating_sub(1),
            _ => {}
        }
    });
    (executor, seen)
}

#[tokio::test]
async fn changes_run_a_few_at_a_time_and_never_more() {
    let names: Vec<String> = (0..10).map(|i| format!("user{i}@example.com")).collect();
    let emu = emulator(
        names
            .iter()
            .map(|n| json!({"primary_email": n, "firstname": "Old", "surname": "Name"}))
            .collect(),
    )
    .await;
    let client = client(&emu);
    let desired = directory(names.iter().map(|n| entry(n, "New", "Name", &[])).collect());
    let state = SyncState::new(STACK, ORG);
    let plan = plan_at(&client, &desired, &state, day(0)).await;
    assert_eq!(plan.changes.len(), 10);

    let (one_by_one, seen) = most_in_flight(executor().concurrency(1));
    let dry = one_by_one
        .dry_run(true)
        .apply(&plan, &client, &state)
        .await
        .unwrap();
    assert_eq!(dry.counts.dry_run, 10);
    assert_eq!(seen.lock().unwrap().1, 1);

    let (four, seen) = most_in_flight(executor());
    let report = four.apply(&plan, &client, &state).await.unwrap();
    assert!(report.is_complete(), "{report:#?}");
    assert_eq!(seen.lock().unwrap().1, 4, "the default is four at a time");
    assert_eq!(
        emu.count("PUT", "/api/v1/orgs/{domain}/users/{email}", 204),
        10
    );
    for n in &names {
        assert_eq!(user_field(&emu, n, "firstname"), "New");
    }
}

#[tokio::test]
async fn a_rename_stopped_between_its_steps_is_finished_by_the_next_run() {
    let emu = emulator(vec![
        json!({"primary_email": "bob@example.com", "firstname": "Bob",
                                   "surname": "Ray", "alias_emails": ["bob@example.org"]}),
    ])
    .await;
    let client = client(&emu);
    let before = directory(vec![entry(
        "bob@example.com",
        "Bob",
        "Ray",
        &["bob@example.org"],
    )]);
    let state = SyncState::new(STACK, ORG);
    let adopt = plan_at(&client, &before, &state, day(0)).await;
    let state = executor()
        .apply(&adopt, &client, &state)
        .await
        .unwrap()
        .state;
    let after = directory(vec![entry(
        "robert@example.com",
        "Robert",
        "Ray",
        &["bob@example.com", "bob@example.org"],
    )]);
    let plan = plan_at(&client, &after, &state, day(1)).await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    // Read both accounts, strip the alias (read, write), create: then the delete is refused.
    for _ in 0..5 {
        emu.push_fault(Fault::Slow(Duration::ZERO));
    }
    emu.push_fault(Fault::Status(400));

    let first = executor()
        .journal(&journal)
        .apply(&plan, &client, &state)
        .await
        .unwrap();

    let Outcome::Failed { error, .. } = outcome(&first, "robert@example.com") else {
        panic!("{first:#?}");
    };
    assert!(error.contains("was not deleted"), "{error}");
    assert!(emu.user(ORG, "bob@example.com").is_some());
    assert!(emu.user(ORG, "robert@example.com").is_some());
    emu.clear_observations();

    let second = executor()
        .journal(&journal)
        .apply(&plan, &client, &state)
        .await
        .unwrap();

    assert_eq!(
        outcome(&second, "robert@example.com"),
        &Outcome::Applied,
        "{second:#?}"
    );
    assert!(emu.user(ORG, "bob@example.com").is_none());
    assert_eq!(
        user_field(&emu, "robert@example.com", "alias_emails"),
        json!(["bob@example.com", "bob@example.org"])
    );
    assert_eq!(
        posted(&emu),
        Vec::<String>::new(),
        "the new account is not created twice"
    );
    assert_eq!(emu.welcome_letters("robert@example.com"), 0);
    let again = plan_at(&client, &after, &second.state, day(2)).await;
    assert!(again.is_empty(), "{}", reconcile::render::text(&again));
}

/// How many requests of each method the emulator answered (or dropped).
fn requests_by_method(emu: &Emulator, method: &str) -> usize {
    emu.requests().iter().filter(|r| r.method == method).count()
}

#[tokio::test]
async fn a_resume_settles_creates_in_doubt_from_one_listing_and_posts_only_the_missing() {
    const CREATES: usize = 2_000;
    const BATCH: usize = 200;
    let emu = emulator(vec![]).await;
    let client = client(&emu);
    let desired = directory(
        (0..CREATES)
            .map(|n| {
                entry(
                    &format!("user{n:04}@example.com"),
                    "User",
                    &format!("N{n}"),
                    &[],
                )
            })
            .collect(),
    );
    let state = SyncState::new(STACK, ORG);
    let policy = Policy::builder()
        .managed_domain("example.com".parse::<Domain>().unwrap())
        .threshold(100, 100)
        .bulk_size(BATCH)
        // 2,000 creates, past the create limit and the licences: approved.
        .override_threshold(true)
        .build();
    let plan = plan_with(&client, &desired, &state, day(0), &policy).await;
    assert_eq!(plan.changes.len(), CREATES);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");

    // One bulk at a time, so the faults strike known requests. The first
    // bulk POST is committed and its reply dropped; the second is dropped
    // before commit; the client's read-back of each fails, so both bulks
    // end in doubt.
    emu.push_fault(Fault::DropAfterCommit);
    emu.push_fault(Fault::Status(500));
    emu.push_fault(Fault::DropBeforeCommit);
    emu.push_fault(Fault::Status(500));
    let first = executor()
        .concurrency(1)
        .journal(&journal)
        .apply(&plan, &client, &state)
        .await
        .unwrap();
    assert_eq!(first.counts.failed, 2 * BATCH, "{}", first.counts);
    assert_eq!(first.counts.applied, CREATES - 2 * BATCH);
    let on_gateway = |emu: &Emulator| emu.users(ORG).len() - 1; // the login's own account
    assert_eq!(on_gateway(&emu), CREATES - BATCH, "the first bulk landed");
    let landed_unrecorded: Vec<String> = posted(&emu)[..BATCH].to_vec();
    let missing: Vec<String> = posted(&emu)[BATCH..2 * BATCH].to_vec();

    emu.clear_observations();
    let again = executor()
        .journal(&journal)
        .apply(&plan, &client, &state)
        .await
        .unwrap();
    assert!(again.is_complete(), "{}", again.counts);
    assert_eq!(again.counts.already_applied, CREATES - 2 * BATCH);
    assert_eq!(again.counts.applied, 2 * BATCH);
    assert_eq!(on_gateway(&emu), CREATES);
    // One listing, then ⌈missing / batch⌉ bulk POSTs: nothing else.
    assert_eq!(requests_by_method(&emu, "GET"), 1, "{:?}", writes(&emu));
    assert_eq!(
        requests_by_method(&emu, "POST"),
        missing.len().div_ceil(BATCH)
    );
    assert_eq!(emu.requests().len(), 1 + missing.len().div_ceil(BATCH));
    // No create twice: only the missing ones were posted again.
    let mut reposted = posted(&emu);
    reposted.sort();
    let mut expected = missing.clone();
    expected.sort();
    assert_eq!(reposted, expected);
    assert!(landed_unrecorded.iter().all(|a| !reposted.contains(a)));
    assert!(
        emu.welcome_letter_counts().values().all(|&n| n <= 1),
        "no welcome letter twice"
    );
}

/// A "gateway" that accepts every connection and closes it at once,
/// counting them.
async fn dead_gateway() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(socket);
        }
    });
    (url, accepted)
}

#[tokio::test]
async fn a_dead_gateway_trips_the_breaker_and_the_rerun_completes_the_apply() {
    const BREAKER: u32 = 5;
    let emu = emulator(vec![]).await;
    let client = client(&emu);
    let desired = directory(
        (0..20)
            .map(|n| entry(&format!("u{n:02}@example.com"), "U", &format!("N{n}"), &[]))
            .collect(),
    );
    let state = SyncState::new(STACK, ORG);
    // One create per request: twenty requests that could each be retried five times.
    let policy = Policy::builder()
        .managed_domain("example.com".parse::<Domain>().unwrap())
        .threshold(100, 100)
        .bulk_size(1)
        .build();
    let plan = plan_with(&client, &desired, &state, day(0), &policy).await;
    assert_eq!(plan.changes.len(), 20);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");

    let (url, accepted) = dead_gateway().await;
    let dead = Client::builder()
        .essentials(&url, ORG)
        .credentials(LOGIN, PASSWORD.into())
        .retry(
            RetryConfig::standard()
                .with_initial_backoff(Duration::from_millis(2))
                .with_max_backoff(Duration::from_millis(8)),
        )
        .rate_limit(RateLimit::per_minute(600_000).with_burst(1_000))
        .build()
        .unwrap();
    let report = executor()
        .breaker(BREAKER)
        .journal(&journal)
        .apply(&plan, &dead, &state)
        .await
        .unwrap();
    let attempts = accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        attempts <= BREAKER as usize + 1,
        "{attempts} attempts reached the dead gateway"
    );
    assert!(attempts >= BREAKER as usize, "{attempts}");
    let Some(Halt::Breaker { reason }) = &report.halted else {
        panic!("halted by the breaker: {report}");
    };
    assert!(reason.contains("looks down"), "{reason}");
    assert!(!reason.contains(PASSWORD));
    assert_eq!(report.counts.applied, 0);
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains(r#""event":"halt""#) && l.contains("breaker")),
        "{text}"
    );

    // The gateway is back: the same plan and journal finish the job.
    let again = executor()
        .journal(&journal)
        .apply(&plan, &client, &state)
        .await
        .unwrap();
    assert!(again.is_complete(), "{again}");
    assert_eq!(again.halted, None);
    assert_eq!(emu.users(ORG).len(), 21);
}

#[tokio::test]
async fn a_refused_login_once_writes_have_begun_trips_the_breaker() {
    let (emu, client, desired) = small_gateway().await;
    let emu = Arc::new(emu);
    let state = SyncState::new(STACK, ORG);
    let plan = plan_at(&client, &desired, &state, day(0)).await;
    // The first write goes through; then the gateway refuses the login.
    let report = executor()
        .concurrency(1)
        .on_progress({
            let emu = Arc::clone(&emu);
            let seen = Arc::new(Mutex::new(0));
            move |p| {
                if let Progress::Finished { .. } = p {
                    let mut n = seen.lock().unwrap();
                    *n += 1;
                    if *n == 1 {
                        for _ in 0..10 {
                            emu.push_fault(Fault::Status(401));
                        }
                    }
                }
            }
        })
        .apply(&plan, &client, &state)
        .await
        .unwrap();
    let Some(Halt::Breaker { reason }) = &report.halted else {
        panic!("halted by the breaker: {report}");
    };
    assert!(reason.contains("after writes had begun"), "{reason}");
}

/// Three accounts whose last names the directory changes: three updates,
/// one read-merge-write each.
async fn three_updates() -> (Emulator, Client, Plan) {
    let emu = emulator(
        ["ann", "bob", "cy"]
            .iter()
            .map(|w| json!({"primary_email": format!("{w}@example.com"), "firstname": w, "surname": "Old"}))
            .collect(),
    )
    .await;
    let client = client(&emu);
    let desired = directory(
        ["ann", "bob", "cy"]
            .iter()
            .map(|w| entry(&format!("{w}@example.com"), w, "New", &[]))
            .collect(),
    );
    let plan = plan_at(&client, &desired, &SyncState::new(STACK, ORG), day(0)).await;
    assert_eq!(plan.changes.len(), 3);
    (emu, client, plan)
}

/// Every PUT is sent at most once over all runs.
fn assert_no_put_twice(puts: &[String]) {
    let mut seen = std::collections::BTreeSet::new();
    for put in puts {
        assert!(seen.insert(put.clone()), "{put} sent twice: {puts:?}");
    }
}

#[tokio::test]
async fn a_stop_sends_nothing_new_lets_the_change_in_flight_finish_and_the_resume_does_the_rest() {
    let (emu, client, plan) = three_updates().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let stop = muster::Stop::new();
    let asked = stop.clone();
    // Stop as the second change starts: it is in flight, the third is not.
    let first = executor()
        .concurrency(1)
        .journal(&journal)
        .stop_on(&stop)
        .on_progress(move |p| {
            if let Progress::Started { change } = p
                && change.email.as_str() == "bob@example.com"
            {
                asked.request(None);
            }
        })
        .apply(&plan, &client, &SyncState::new(STACK, ORG))
        .await
        .unwrap();
    assert_eq!(first.halted, Some(Halt::Interrupted), "{first:#?}");
    assert_eq!(outcome(&first, "ann@example.com"), &Outcome::Applied);
    assert_eq!(outcome(&first, "bob@example.com"), &Outcome::Applied);
    assert!(matches!(
        outcome(&first, "cy@example.com"),
        Outcome::Skipped { .. }
    ));
    assert_eq!(user_field(&emu, "bob@example.com", "surname"), "New");
    assert_eq!(user_field(&emu, "cy@example.com", "surname"), "Old");
    // The state holds what succeeded, and only that.
    assert!(first.state.accounts.contains_key(&email("bob@example.com")));
    assert!(!first.state.accounts.contains_key(&email("cy@example.com")));
    let mut puts = writes(&emu);

    emu.clear_observations();
    let second = executor()
        .journal(&journal)
        .apply(&plan, &client, &first.state)
        .await
        .unwrap();
    assert!(second.is_complete(), "{second:#?}");
    assert_eq!(second.counts.already_applied, 2);
    assert_eq!(user_field(&emu, "cy@example.com", "surname"), "New");
    puts.extend(writes(&emu));
    assert_eq!(puts.len(), 3, "{puts:?}");
    assert_no_put_twice(&puts);
}

#[tokio::test]
async fn past_the_grace_period_a_change_in_flight_is_left_in_doubt_and_the_resume_settles_it() {
    let (emu, client, plan) = three_updates().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let stop = muster::Stop::new();
    let asked = stop.clone();
    // No grace at all: bob's change, just started, is given up at once.
    let first = executor()
        .concurrency(1)
        .journal(&journal)
        .stop_on(&stop)
        .on_progress(move |p| {
            if let Progress::Started { change } = p
                && change.email.as_str() == "bob@example.com"
            {
                asked.request(Some(Duration::ZERO));
            }
        })
        .apply(&plan, &client, &SyncState::new(STACK, ORG))
        .await
        .unwrap();
    assert_eq!(first.halted, Some(Halt::Interrupted), "{first:#?}");
    match outcome(&first, "bob@example.com") {
        Outcome::Skipped { reason } => assert!(reason.contains("in flight"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(!first.state.accounts.contains_key(&email("bob@example.com")));
    let journal_text = std::fs::read_to_string(&journal).unwrap();
    assert!(journal_text.contains("\"in_doubt\":true"), "{journal_text}");
    let mut puts = writes(&emu);

    emu.clear_observations();
    let second = executor()
        .journal(&journal)
        .apply(&plan, &client, &first.state)
        .await
        .unwrap();
    assert!(second.is_complete(), "{second:#?}");
    for who in ["ann", "bob", "cy"] {
        assert_eq!(
            user_field(&emu, &format!("{who}@example.com"), "surname"),
            "New"
        );
    }
    puts.extend(writes(&emu));
    assert_no_put_twice(&puts);
}
