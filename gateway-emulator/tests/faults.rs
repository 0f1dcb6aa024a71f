//! Injected faults: server errors, dropped connections before and after the
//! write commits, slow answers, read-after-write lag; all reproducible.

mod common;

use std::time::{Duration, Instant};

use common::{ORG, V1, body, builder};
use muster_emulator::{Emulator, Fault, Faults, ManualClock};
use serde_json::json;

async fn with_faults(faults: Faults) -> Emulator {
    builder().faults(faults).start().await.unwrap()
}

#[tokio::test]
async fn dropped_after_commit_the_client_errs_but_the_user_exists() {
    let emu = with_faults(Faults::seeded(1).drop_after_commit(1.0)).await;
    let v1 = V1::new(&emu);
    let err = v1
        .req(reqwest::Method::POST, "/orgs/example.com/users")
        .json(&json!({"primary_email": "ann@example.com"}))
        .send()
        .await
        .expect_err("the connection is closed without a response");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    // The write is committed: a blind retry is a duplicate.
    assert!(emu.user(ORG, "ann@example.com").is_some());
    assert_eq!(emu.welcome_letters("ann@example.com"), 1);
    let log = emu.requests();
    assert_eq!(
        log[0].fault.as_deref(),
        Some("drop after commit (201 not sent)")
    );
    assert_eq!(log[0].status, 0, "no response was sent");
    assert_eq!(emu.count("POST", "/api/v1/orgs/{domain}/users", 0), 1);
    assert_eq!(emu.count("POST", "/api/v1/orgs/{domain}/users", 201), 0);
}

#[tokio::test]
async fn retrying_a_create_dropped_after_commit_gets_409() {
    let emu = with_faults(Faults::seeded(1)).await;
    emu.push_fault(Fault::DropAfterCommit);
    let v1 = V1::new(&emu);
    let user = json!({"primary_email": "ann@example.com", "send_welcome_email": true});
    let first = v1
        .req(reqwest::Method::POST, "/orgs/example.com/users")
        .json(&user)
        .send()
        .await;
    assert!(first.is_err());
    let retry = v1.create(user).await;
    assert_eq!(retry.status(), 409);
    assert_eq!(emu.users(ORG).len(), 1);
    assert_eq!(emu.welcome_letters("ann@example.com"), 1);
}

#[tokio::test]
async fn dropped_before_commit_nothing_is_stored() {
    let emu = with_faults(Faults::seeded(1).drop_before_commit(1.0)).await;
    let v1 = V1::new(&emu);
    let sent = v1
        .req(reqwest::Method::POST, "/orgs/example.com/users")
        .json(&json!({"primary_email": "ann@example.com"}))
        .send()
        .await;
    assert!(sent.is_err());
    assert!(emu.users(ORG).is_empty());
    assert_eq!(emu.requests()[0].status, 0);
    // Reads are never dropped.
    assert_eq!(v1.get("/orgs/example.com/users").await.status(), 200);
}

#[tokio::test]
async fn a_put_dropped_after_commit_is_applied() {
    let emu = with_faults(Faults::seeded(1)).await;
    let v1 = V1::new(&emu);
    v1.create(json!({"primary_email": "ann@example.com"})).await;
    emu.push_fault(Fault::DropAfterCommit);
    let sent = v1
        .req(
            reqwest::Method::PUT,
            "/orgs/example.com/users/ann@example.com",
        )
        .json(&json!({"surname": "Lee"}))
        .send()
        .await;
    assert!(sent.is_err());
    assert_eq!(emu.user(ORG, "ann@example.com").unwrap()["surname"], "Lee");
}

async fn statuses(seed: u64) -> Vec<u16> {
    let emu = with_faults(Faults::seeded(seed).server_errors(0.5)).await;
    let v1 = V1::new(&emu);
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(v1.get("/me").await.status().as_u16());
    }
    out
}

#[tokio::test]
async fn server_errors_are_a_fraction_and_reproducible_by_seed() {
    let a = statuses(42).await;
    assert_eq!(a, statuses(42).await, "same seed, same failures");
    assert_ne!(a, statuses(43).await);
    let failed = a.iter().filter(|s| **s != 200).count();
    assert!((8..=32).contains(&failed), "{failed} of 40 failed");
    assert!(a.iter().all(|s| [200, 500, 502, 503].contains(s)), "{a:?}");
}

#[tokio::test]
async fn a_server_error_changes_nothing() {
    let emu = with_faults(Faults::seeded(1)).await;
    emu.push_fault(Fault::Status(503));
    let v1 = V1::new(&emu);
    let r = v1.create(json!({"primary_email": "ann@example.com"})).await;
    assert_eq!(r.status(), 503);
    assert!(emu.users(ORG).is_empty());
    assert_eq!(
        v1.create(json!({"primary_email": "ann@example.com"}))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn scripted_faults_apply_in_order_then_stop() {
    let emu = with_faults(Faults::seeded(1)).await;
    emu.push_fault(Fault::Status(500));
    emu.push_fault(Fault::Status(429));
    let v1 = V1::new(&emu);
    let got: Vec<u16> = [
        v1.get("/me").await,
        v1.get("/me").await,
        v1.get("/me").await,
    ]
    .iter()
    .map(|r| r.status().as_u16())
    .collect();
    assert_eq!(got, [500, 429, 200]);
}

#[tokio::test]
async fn slow_responses_wait_before_answering() {
    let emu = with_faults(Faults::seeded(1).slow(1.0, Duration::from_millis(300))).await;
    let v1 = V1::new(&emu);
    let t = Instant::now();
    assert_eq!(v1.get("/me").await.status(), 200);
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(emu.requests()[0].fault.as_deref(), Some("slow 300ms"));
    // A client with a shorter timeout gives up.
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let err = quick
        .get(format!("{}/me", emu.api_v1_url()))
        .header("X-User", common::ADMIN)
        .header("X-Password", common::PASSWORD)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
}

#[tokio::test]
async fn a_created_user_is_invisible_to_gets_until_the_lag_passes() {
    let clock = ManualClock::new();
    let emu = builder()
        .faults(Faults::seeded(1).read_after_write_lag(Duration::from_secs(5)))
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let v1 = V1::new(&emu);
    assert_eq!(
        v1.create(json!({"primary_email": "ann@example.com"}))
            .await
            .status(),
        201
    );
    assert_eq!(v1.get_user("ann@example.com").await.status(), 404);
    assert!(v1.list().await.is_empty());
    // ...but it exists: creating it again is a conflict, and the snapshot shows it.
    assert_eq!(
        v1.create(json!({"primary_email": "ann@example.com"}))
            .await
            .status(),
        409
    );
    assert_eq!(emu.users(ORG).len(), 1);
    clock.advance(Duration::from_secs(5));
    assert_eq!(v1.get_user("ann@example.com").await.status(), 200);
    assert_eq!(
        body(v1.get("/orgs/example.com/users").await).await["users"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn fractions_above_one_are_refused_at_start() {
    let e = builder()
        .faults(Faults::seeded(1).server_errors(0.7).drop_after_commit(0.6))
        .start()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at most 1"), "{e}");
}
