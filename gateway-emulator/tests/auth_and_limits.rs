//! Logins (v1 headers), read-only logins, organisations a login may see,
//! `/me`, `/endpoints`, `/orgs`, and the per-login rate limit.

mod common;

use std::time::Duration;

use common::{ADMIN, ORG, PASSWORD, V1, body, builder};
use muster_emulator::{Emulator, Login, ManualClock, Org, RateLimit};
use reqwest::Method;
use serde_json::json;

fn two_orgs() -> muster_emulator::EmulatorBuilder {
    builder()
        .org(Org::new("beta.example").user_licenses(7))
        .org(Org::new("gamma.example"))
        .login(Login::channel_admin(
            "ops@msp.example",
            "msp-pw",
            ["beta.example", "gamma.example"],
        ))
        .login(Login::org_admin("audit@example.com", "ro-pw", ORG).read_only())
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_401() {
    let emu = builder().start().await.unwrap();
    let wrong = V1::as_login(&emu, ADMIN, "guess");
    assert_eq!(wrong.get("/orgs/example.com/users").await.status(), 401);
    let unknown = V1::as_login(&emu, "who@example.com", PASSWORD);
    assert_eq!(unknown.get("/orgs/example.com/users").await.status(), 401);
    let r = reqwest::get(format!("{}/orgs/example.com/users", emu.api_v1_url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Basic auth is not how v1 authenticates.
    let r = reqwest::Client::new()
        .get(format!("{}/me", emu.api_v1_url()))
        .basic_auth(ADMIN, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The login name is case-insensitive, the password is not.
    assert_eq!(
        V1::as_login(&emu, "ADMIN@example.com", PASSWORD)
            .get("/me")
            .await
            .status(),
        200
    );
    assert_eq!(
        V1::as_login(&emu, ADMIN, &PASSWORD.to_uppercase())
            .get("/me")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn read_only_login_reads_but_every_write_is_403() {
    let emu = two_orgs().start().await.unwrap();
    V1::new(&emu)
        .create(json!({"primary_email": "ann@example.com"}))
        .await;
    let ro = V1::as_login(&emu, "audit@example.com", "ro-pw");
    assert_eq!(ro.list().await.len(), 1);
    assert_eq!(
        ro.create(json!({"primary_email": "bob@example.com"}))
            .await
            .status(),
        403
    );
    assert_eq!(ro.put("ann@example.com", json!({})).await.status(), 403);
    assert_eq!(ro.delete("ann@example.com").await.status(), 403);
    assert_eq!(emu.users(ORG).len(), 1);
    assert!(emu.user(ORG, "bob@example.com").is_none());
    let me = body(ro.get("/me").await).await;
    assert_eq!(me["read_only_user"], true);
}

#[tokio::test]
async fn channel_admin_reaches_each_of_its_orgs_and_no_other() {
    let emu = two_orgs().start().await.unwrap();
    let msp = V1::as_login(&emu, "ops@msp.example", "msp-pw");
    for org in ["beta.example", "gamma.example"] {
        let r = msp
            .req(Method::POST, &format!("/orgs/{org}/users"))
            .json(&json!({"primary_email": format!("x@{org}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{org}");
    }
    assert_eq!(msp.get("/orgs/example.com/users").await.status(), 403);
    assert_eq!(msp.get("/orgs/nowhere.example/users").await.status(), 404);
    assert_eq!(
        V1::new(&emu).get("/orgs/beta.example/users").await.status(),
        403
    );
    // Users stay in their own organisation.
    assert_eq!(emu.users("beta.example").len(), 1);
    assert!(emu.user("gamma.example", "x@beta.example").is_none());

    let children = body(msp.get("/orgs/msp.example/orgs").await).await;
    let names: Vec<&str> = children["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["primary_domain"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["beta.example", "gamma.example"]);
    let me = body(msp.get("/me").await).await;
    assert_eq!(me["type"], "channel_admin");
    assert_eq!(me["is_partner_admin"], true);
}

#[tokio::test]
async fn org_lists_registered_domains_licences_and_active_users() {
    let emu = two_orgs().start().await.unwrap();
    let v1 = V1::new(&emu);
    v1.create(json!({"primary_email": "a@example.com"})).await;
    v1.create(json!({"primary_email": "b@example.com", "is_active": false}))
        .await;
    let org = body(v1.get("/orgs/example.com").await).await;
    assert_eq!(org["primary_domain"], "example.com");
    let domains: Vec<&str> = org["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(domains, ["example.com", "example.org"]);
    assert_eq!(org["user_licenses"], 100);
    assert_eq!(org["active_users"], 1);
    let msp = V1::as_login(&emu, "ops@msp.example", "msp-pw");
    assert_eq!(
        body(msp.get("/orgs/beta.example").await).await["user_licenses"],
        7
    );
}

#[tokio::test]
async fn endpoints_names_the_base_url_for_any_registered_domain() {
    let emu = builder().start().await.unwrap();
    let v1 = V1::new(&emu);
    let r = body(v1.get("/endpoints/example.org").await).await;
    assert_eq!(r, json!({"endpoints": [emu.api_v1_url()]}));
    assert_eq!(v1.get("/endpoints/unknown.example").await.status(), 404);
}

#[tokio::test]
async fn a_seed_naming_an_unknown_org_or_bad_user_does_not_start() {
    let e = Emulator::builder()
        .login(Login::org_admin("a@x.example", "pw", "x.example"))
        .start()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("x.example"), "{e}");
    let e = Emulator::builder()
        .org(Org::new("x.example").user(json!({"primary_email": "a@y.example"})))
        .start()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("`y.example`"), "{e}");
}

async fn limited(limit: RateLimit) -> (Emulator, ManualClock) {
    let clock = ManualClock::new();
    let emu = builder()
        .rate_limit(limit)
        .login(Login::org_admin("second@example.com", "pw2", ORG))
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    (emu, clock)
}

#[tokio::test]
async fn the_101st_request_in_a_minute_is_429_without_retry_after() {
    let (emu, clock) = limited(RateLimit::default()).await;
    let v1 = V1::new(&emu);
    for i in 0..100 {
        assert_eq!(v1.get("/me").await.status(), 200, "request {i}");
    }
    let r = v1.get("/me").await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_none());
    // Another login has its own budget.
    assert_eq!(
        V1::as_login(&emu, "second@example.com", "pw2")
            .get("/me")
            .await
            .status(),
        200
    );
    // Refused requests do not extend the wait; a minute after the first, there is room again.
    clock.advance(Duration::from_secs(59));
    assert_eq!(v1.get("/me").await.status(), 429);
    clock.advance(Duration::from_secs(1));
    assert_eq!(v1.get("/me").await.status(), 200);
    assert_eq!(emu.count("GET", "/api/v1/me", 429), 2);
}

#[tokio::test]
async fn each_request_is_logged_with_when_it_arrived_by_the_emulators_clock() {
    let (emu, clock) = limited(RateLimit::new(1, Duration::from_secs(60))).await;
    let v1 = V1::new(&emu);
    clock.advance(Duration::from_secs(5));
    assert_eq!(v1.get("/me").await.status(), 200);
    clock.advance(Duration::from_secs(30));
    assert_eq!(v1.get("/me").await.status(), 429);
    let log: Vec<(u16, Duration)> = emu.requests().iter().map(|r| (r.status, r.at)).collect();
    assert_eq!(
        log,
        [
            (200, Duration::from_secs(5)),
            (429, Duration::from_secs(35))
        ]
    );
}

#[tokio::test]
async fn the_window_slides_and_retry_after_is_sent_when_asked() {
    let (emu, clock) = limited(RateLimit::new(2, Duration::from_secs(10)).with_retry_after()).await;
    let v1 = V1::new(&emu);
    assert_eq!(v1.get("/me").await.status(), 200);
    clock.advance(Duration::from_secs(4));
    assert_eq!(v1.get("/me").await.status(), 200);
    clock.advance(Duration::from_millis(2500));
    let r = v1.get("/me").await;
    assert_eq!(r.status(), 429);
    // The first request leaves the window 3.5 s from now: rounded up.
    assert_eq!(r.headers()["retry-after"], "4");
    clock.advance(Duration::from_millis(3500));
    assert_eq!(v1.get("/me").await.status(), 200);
    assert_eq!(
        v1.get("/me").await.status(),
        429,
        "the second request is still in the window"
    );
}

#[tokio::test(start_paused = true)]
async fn the_default_clock_follows_paused_tokio_time() {
    let emu = builder()
        .rate_limit(RateLimit::new(1, Duration::from_secs(30)))
        .start()
        .await
        .unwrap();
    let v1 = V1::new(&emu);
    assert_eq!(v1.get("/me").await.status(), 200);
    assert_eq!(v1.get("/me").await.status(), 429);
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(v1.get("/me").await.status(), 200);
}
