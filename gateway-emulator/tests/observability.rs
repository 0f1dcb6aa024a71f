//! What a test can inspect: welcome letters, the redacted request log,
//! counters, snapshots (from the handle and over `/__admin`), and seeding
//! from a JSON file (in-process and through the binary).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{ADMIN, ORG, PASSWORD, V1, body, builder, start};
use muster_emulator::{Emulator, Org, Seed};
use serde_json::json;

#[tokio::test]
async fn welcome_letters_are_counted_per_user_on_create_only() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    // Org default (on) applies when the create does not say.
    v1.create(json!({"primary_email": "a@example.com"})).await;
    v1.create(json!({"primary_email": "b@example.com", "send_welcome_email": true}))
        .await;
    v1.create(json!({"primary_email": "c@example.com", "send_welcome_email": false}))
        .await;
    // Updates never send letters, whatever they say.
    v1.put("a@example.com", json!({"send_welcome_email": true}))
        .await;
    // A refused duplicate sends none.
    v1.create(json!({"primary_email": "A@example.com"})).await;
    assert_eq!(emu.welcome_letters("A@EXAMPLE.COM"), 1);
    assert_eq!(emu.welcome_letters("b@example.com"), 1);
    assert_eq!(emu.welcome_letters("c@example.com"), 0);
    // Delete and recreate: that person got two.
    v1.delete("b@example.com").await;
    v1.create(json!({"primary_email": "b@example.com"})).await;
    assert_eq!(
        emu.welcome_letter_counts().into_iter().collect::<Vec<_>>(),
        [
            ("a@example.com".to_owned(), 1),
            ("b@example.com".to_owned(), 2)
        ]
    );
}

#[tokio::test]
async fn an_organisation_with_letters_off_sends_none_even_when_a_create_asks() {
    let emu = Emulator::builder()
        .org(Org::new(ORG).send_welcome_email(false))
        .login(muster_emulator::Login::org_admin(ADMIN, PASSWORD, ORG))
        .start()
        .await
        .unwrap();
    let v1 = V1::new(&emu);
    v1.create(json!([{"primary_email": "a@example.com"}, {"primary_email": "b@example.com", "send_welcome_email": true}])).await;
    // api-facts §1.4: "to send a welcome email this must be true at org level".
    assert_eq!(emu.welcome_letters("a@example.com"), 0);
    assert_eq!(emu.welcome_letters("b@example.com"), 0);
}

#[tokio::test]
async fn the_request_log_never_holds_a_password() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    v1.create(json!([{"primary_email": "a@example.com", "password": "user-secret-1"}]))
        .await;
    V1::as_login(&emu, ADMIN, "wrong-admin-guess")
        .get("/me")
        .await;
    reqwest::Client::new()
        .get(format!("{}/v2/users", emu.base_url()))
        .basic_auth(ADMIN, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    let log = emu.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(
        log[0].body,
        Some(json!([{"primary_email": "a@example.com", "password": "<redacted>"}]))
    );
    assert_eq!(log[0].login.as_deref(), Some(ADMIN));
    assert_eq!(log[0].route, "/api/v1/orgs/{domain}/users");
    assert_eq!(log[1].status, 401);
    assert_eq!(
        log[2].login.as_deref(),
        Some(ADMIN),
        "the Basic user name is logged"
    );
    let everything = format!("{log:?} {}", serde_json::to_string(&log).unwrap());
    for secret in [PASSWORD, "user-secret-1", "wrong-admin-guess"] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
}

#[tokio::test]
async fn counters_group_by_method_route_and_status() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    v1.create(json!({"primary_email": "a@example.com"})).await;
    v1.create(json!({"primary_email": "a@example.com"})).await;
    v1.get_user("a@example.com").await;
    v1.get_user("b@example.com").await;
    v1.get("/nope").await;
    assert_eq!(emu.count("POST", "/api/v1/orgs/{domain}/users", 201), 1);
    assert_eq!(emu.count("POST", "/api/v1/orgs/{domain}/users", 409), 1);
    assert_eq!(
        emu.count("GET", "/api/v1/orgs/{domain}/users/{email}", 200),
        1
    );
    assert_eq!(
        emu.count("GET", "/api/v1/orgs/{domain}/users/{email}", 404),
        1
    );
    assert_eq!(emu.count("GET", "<unmatched>", 404), 1);
    assert_eq!(emu.counters().values().sum::<u64>(), 5);
    emu.clear_observations();
    assert!(emu.requests().is_empty() && emu.counters().is_empty());
    assert_eq!(
        emu.users(ORG).len(),
        1,
        "clearing observations keeps the users"
    );
}

#[tokio::test]
async fn admin_endpoints_show_the_same_state_without_auth_or_logging() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    v1.create(json!({"primary_email": "a@example.com", "password": "pw"}))
        .await;
    let get = |path: &str| reqwest::get(format!("{}/__admin/{path}", emu.base_url()));
    let users = body(get("users").await.unwrap()).await;
    assert_eq!(users[ORG], json!(emu.users(ORG)));
    assert_eq!(users[ORG][0].get("password"), None);
    let letters = body(get("welcome-letters").await.unwrap()).await;
    assert_eq!(letters, json!({ORG: {"a@example.com": 1}}));
    let counters = body(get("counters").await.unwrap()).await;
    assert_eq!(
        counters,
        json!([{"method": "POST", "route": "/api/v1/orgs/{domain}/users", "status": 201, "count": 1}])
    );
    let requests = body(get("requests").await.unwrap()).await;
    assert_eq!(requests.as_array().unwrap().len(), 1);
    assert_eq!(requests[0]["body"]["password"], "<redacted>");
    assert_eq!(emu.requests().len(), 1, "admin requests are not logged");
}

#[tokio::test]
async fn a_seed_file_describes_orgs_logins_limits_and_spelling() {
    let seed = Seed::from_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/seed.json"
    ))
    .unwrap();
    let emu = Emulator::builder().seed(seed).start().await.unwrap();
    let msp = V1::as_login(&emu, "ops@msp.example", "msp-secret");
    let users = body(msp.get("/orgs/acme.example/users").await).await;
    assert_eq!(users["users"].as_array().unwrap().len(), 2);
    assert_eq!(users["users"][0]["alias_emails"], json!(["ann@acme.test"]));
    assert!(users["users"][0].get("safe_list_senders").is_some());
    assert_eq!(
        emu.welcome_letters("ann@acme.example"),
        0,
        "seeded users get no letter"
    );
    assert_eq!(
        body(msp.get("/orgs/acme.example").await).await["user_licenses"],
        25
    );
    let viewer = V1::as_login(&emu, "viewer@acme.example", "view");
    assert_eq!(viewer.delete("ann@acme.example").await.status(), 403);
    // 50 per minute per login with Retry-After: the msp login made 2 requests above.
    for _ in 0..48 {
        msp.get("/me").await;
    }
    let r = msp.get("/me").await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

#[test]
fn a_broken_seed_file_names_the_file_and_position() {
    let dir = std::env::temp_dir().join(format!("muster-emulator-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.json");
    std::fs::write(&path, "{\"orgs\": [\n  {\"primary_domain\": 3}\n]}").unwrap();
    let e = Seed::from_file(&path).unwrap_err();
    let full = format!("{e}: {}", std::error::Error::source(&e).unwrap());
    assert!(
        full.contains("broken.json") && full.contains("line 2"),
        "{full}"
    );
    let e = Seed::from_json(r#"{"orgs": [], "logins": [], "typo": 1}"#).unwrap_err();
    assert!(
        std::error::Error::source(&e)
            .unwrap()
            .to_string()
            .contains("typo")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn the_binary_serves_a_seed_file() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_muster-emulator"))
        .args([
            "--seed",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed.json"),
            "--port",
            "0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().to_owned();
    let r = reqwest::Client::new()
        .get(format!(
            "{base}/api/v1/orgs/acme.example/users/ann@acme.example"
        ))
        .header("X-User", "ops@msp.example")
        .header("X-Password", "msp-secret")
        .send()
        .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let r = r.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(body(r).await["firstname"], "Ann");
}

#[test]
fn the_binary_explains_bad_arguments() {
    let out = Command::new(env!("CARGO_BIN_EXE_muster-emulator"))
        .args(["--seed", "/nonexistent/seed.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/seed.json"), "{err}");
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let emu = builder().start().await.unwrap();
    let url = format!("{}/api/v1/me", emu.base_url());
    drop(emu);
    // Give the server task a turn to notice.
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    let r = reqwest::Client::new().get(&url).send().await;
    assert!(r.is_err(), "still answering: {r:?}");
}

#[tokio::test]
async fn a_user_added_behind_the_apis_back_is_listed_without_a_letter() {
    let emu = start().await;
    emu.insert_user(
        ORG,
        json!({"primary_email": "manual@example.com", "firstname": "M"}),
    )
    .unwrap();
    let e = emu
        .insert_user(ORG, json!({"primary_email": "x@unregistered.example"}))
        .unwrap_err();
    assert!(e.to_string().contains("`unregistered.example`"), "{e}");
    let r = reqwest::Client::new()
        .post(format!("{}/__admin/orgs/{ORG}/users", emu.base_url()))
        .json(&json!({"primary_email": "console@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let listed = V1::new(&emu).list().await;
    let names: Vec<&str> = listed
        .iter()
        .map(|u| u["primary_email"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["manual@example.com", "console@example.com"]);
    assert!(emu.welcome_letter_counts().is_empty());
}

#[tokio::test]
async fn faults_can_be_scripted_over_the_admin_endpoint() {
    let emu = start().await;
    let admin = |body: serde_json::Value| {
        reqwest::Client::new()
            .post(format!("{}/__admin/faults", emu.base_url()))
            .json(&body)
            .send()
    };
    assert_eq!(admin(json!({"status": 502})).await.unwrap().status(), 204);
    assert_eq!(
        admin(json!({"drop": "after_commit"}))
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        admin(json!({"drop": "sideways"})).await.unwrap().status(),
        400
    );
    let v1 = V1::new(&emu);
    assert_eq!(v1.get("/me").await.status(), 502);
    let dropped = v1
        .req(reqwest::Method::POST, "/orgs/example.com/users")
        .json(&json!({"primary_email": "a@example.com"}))
        .send()
        .await;
    assert!(dropped.is_err());
    assert!(emu.user(ORG, "a@example.com").is_some());
    assert_eq!(v1.get("/me").await.status(), 200);
}

#[tokio::test]
async fn debug_output_of_the_handle_shows_no_password() {
    let emu = start().await;
    V1::new(&emu)
        .create(json!({"primary_email": "a@example.com", "password": "user-secret-2"}))
        .await;
    let debug = format!("{emu:?}");
    assert!(debug.contains("a@example.com"), "the state is shown");
    assert!(
        !debug.contains("user-secret-2") && !debug.contains(PASSWORD),
        "{debug}"
    );
}
