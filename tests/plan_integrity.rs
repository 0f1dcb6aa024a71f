//! A plan applies only as it was reviewed: an edited plan is refused without
//! a hint of what would pass, and a signed plan only with its key.

use muster::chrono::{TimeZone, Utc};
use muster::directory::StandardCsv;
use muster::gateway::{Client, SecretString};
use muster::reconcile::{self, Desired, Plan, PlanError, PlanKey, Policy, Step, SyncState};
use muster::{ApplyError, Executor};
use muster_emulator::{Emulator, Seed};

const SEED: &str = include_str!("../examples/data/demo_gateway.json");
const STACK: &str = "local";

struct Gateway {
    emulator: Emulator,
    client: Client,
}

async fn gateway() -> Gateway {
    let emulator = Emulator::builder()
        .seed(Seed::from_json(SEED).unwrap())
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .essentials(&emulator.api_v1_url(), "example.com")
        .credentials("admin@example.com", SecretString::from("demo-password"))
        .build()
        .unwrap();
    Gateway { emulator, client }
}

/// Anne Lee is renamed Ann: one update of a surname-bearing account.
async fn plan(gw: &Gateway) -> Plan {
    let csv = "First Name,Last Name,Primary Email\nAnn,Lee,ann.lee@example.com\n";
    let users = StandardCsv::new("users.csv")
        .read_from(csv.as_bytes())
        .unwrap();
    let gateway = muster::read_gateway(&gw.client, STACK).await.unwrap();
    let policy = Policy::builder()
        .managed_domain("example.com".parse().unwrap())
        .build();
    reconcile::plan(
        &Desired::new(users),
        &gateway.listing,
        &gateway.target,
        &SyncState::new(STACK, "example.com"),
        &policy,
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
    )
    .unwrap()
}

/// The attack that worked: change the surname the plan writes.
fn edit_surname(plan: &mut Plan) {
    let ann = plan
        .changes
        .iter_mut()
        .find(|c| c.email.as_str() == "ann.lee@example.com")
        .unwrap();
    for step in &mut ann.steps {
        if let Step::SetField { after, .. } = step {
            *after = Some("Mallory".into());
        }
    }
}

fn key(seed: u8) -> PlanKey {
    PlanKey::new(vec![seed; 32]).unwrap()
}

fn writes(gw: &Gateway) -> usize {
    gw.emulator
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count()
}

async fn apply(gw: &Gateway, plan: &Plan, executor: Executor) -> Result<(), ApplyError> {
    let state = SyncState::new(STACK, "example.com");
    executor
        .stack(STACK)
        .apply(plan, &gw.client, &state)
        .await
        .map(drop)
}

#[tokio::test]
async fn without_a_key_the_refusal_names_no_hash() {
    let gw = gateway().await;
    let mut plan = plan(&gw).await;
    edit_surname(&mut plan);
    let would_pass = plan.content_fingerprint();
    let err = apply(&gw, &plan, Executor::new()).await.unwrap_err();
    assert!(matches!(err, ApplyError::PlanAltered { .. }), "{err:?}");
    for shown in [
        err.to_string(),
        format!("{err:?}"),
        muster::core::error_chain(&err).to_string(),
    ] {
        assert!(!shown.contains(&would_pass), "{shown}");
    }
    assert_eq!(writes(&gw), 0);
    assert_eq!(
        gw.emulator
            .user("example.com", "ann.lee@example.com")
            .unwrap()["surname"],
        "Lee"
    );
}

#[tokio::test]
async fn a_signed_plan_edited_after_signing_is_refused() {
    let gw = gateway().await;
    let mut plan = plan(&gw).await;
    plan.sign(&key(1));
    // The edit, with the fingerprint recomputed (the hash function is public).
    edit_surname(&mut plan);
    plan.fingerprint = plan.content_fingerprint();
    let err = apply(&gw, &plan, Executor::new().plan_key(key(1)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApplyError::Signature(PlanError::BadSignature)),
        "{err:?}"
    );
    assert_eq!(writes(&gw), 0);

    // An unsigned plan is refused where a key is configured; a signed one
    // is refused where none is (its signature cannot be checked).
    let unsigned = self::plan(&gw).await;
    let err = apply(&gw, &unsigned, Executor::new().plan_key(key(1)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApplyError::Signature(PlanError::Unsigned)),
        "{err:?}"
    );
    let mut signed = self::plan(&gw).await;
    signed.sign(&key(1));
    let err = apply(&gw, &signed, Executor::new()).await.unwrap_err();
    assert!(
        matches!(err, ApplyError::SignedPlanWithoutKey { .. }),
        "{err:?}"
    );
    assert_eq!(writes(&gw), 0);

    // The plan as signed applies, and survives its JSON round trip.
    let saved = reconcile::render::from_json(&reconcile::render::json(&signed)).unwrap();
    apply(&gw, &saved, Executor::new().plan_key(key(1)))
        .await
        .unwrap();
    assert_eq!(
        gw.emulator
            .user("example.com", "ann.lee@example.com")
            .unwrap()["firstname"],
        "Ann"
    );
}

#[tokio::test]
async fn a_plan_signed_with_another_key_is_refused() {
    let gw = gateway().await;
    let mut plan = plan(&gw).await;
    plan.sign(&key(2));
    let err = apply(&gw, &plan, Executor::new().plan_key(key(1)))
        .await
        .unwrap_err();
    let ApplyError::Signature(PlanError::SignedWithAnotherKey {
        plan_key,
        key: ours,
    }) = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(plan_key, key(2).id());
    assert_eq!(ours, key(1).id());
    // A forged signature under the right key id is just a bad signature.
    plan.signature.as_mut().unwrap().key_id = key(1).id().to_owned();
    let err = apply(&gw, &plan, Executor::new().plan_key(key(1)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApplyError::Signature(PlanError::BadSignature)),
        "{err:?}"
    );
    assert_eq!(writes(&gw), 0);
}
