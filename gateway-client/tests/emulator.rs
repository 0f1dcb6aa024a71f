//! The shared scenarios, and the behaviours only a stateful gateway can
//! show (faults after commit, its own rate limit, logins, paging, groups),
//! against the `muster-emulator`.

mod common;
mod scenarios;

use std::time::Duration;

use muster_core::Account;
use muster_emulator::{Emulator, Fault, Login, Org, RateLimit as EmuRateLimit};
use muster_gateway::{Client, Error, NewUser, UserPatch, WelcomeEmail};
use serde_json::{Value, json};

use scenarios::{Backend, LOGIN, ORG, OTHER_DOMAIN, PASSWORD, email};

fn org(seed: Vec<Value>) -> Org {
    seed.into_iter()
        .fold(Org::new(ORG).domain(OTHER_DOMAIN), |o, u| o.user(u))
}

async fn start_with(org: Org, limit: EmuRateLimit) -> Emulator {
    Emulator::builder()
        .org(org)
        .login(Login::org_admin(LOGIN, PASSWORD, ORG))
        .login(Login::org_admin("auditor@example.com", PASSWORD, ORG).read_only())
        .rate_limit(limit)
        .start()
        .await
        .unwrap()
}

fn v1_client(emu: &Emulator, login: &str, password: &str) -> Client {
    Client::builder()
        .essentials(emu.base_url(), ORG)
        .credentials(login, password.into())
        .retry(common::fast_retry())
        .rate_limit(common::unlimited())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

impl Backend for Emulator {
    async fn start(seed: Vec<Value>) -> Self {
        start_with(org(seed), EmuRateLimit::unlimited()).await
    }

    fn client(&self) -> Client {
        v1_client(self, LOGIN, PASSWORD)
    }

    async fn stored(&self, email: &str) -> Option<Value> {
        self.user(ORG, email)
    }

    async fn password(&self, email: &str) -> Option<String> {
        Emulator::password(self, ORG, email)
    }
}

scenario_tests!(Emulator);

fn welcome(address: &str) -> NewUser {
    NewUser::new(Account::new(email(address)), WelcomeEmail::Send)
}

#[tokio::test]
async fn a_create_dropped_after_commit_makes_one_user_and_one_letter() {
    let emu = <Emulator as Backend>::start(vec![]).await;
    emu.push_fault(Fault::DropAfterCommit);
    let user = emu
        .client()
        .users()
        .create(welcome("once@example.com"))
        .await
        .unwrap();
    assert_eq!(user.account().primary_email.as_str(), "once@example.com");
    assert_eq!(emu.users(ORG).len(), 1);
    assert_eq!(
        emu.welcome_letters("once@example.com"),
        1,
        "no second letter"
    );
    // The read-back found the user, so the POST was not sent again.
    let posts = emu.requests().iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn a_create_dropped_before_commit_is_posted_again() {
    let emu = <Emulator as Backend>::start(vec![]).await;
    emu.push_fault(Fault::DropBeforeCommit);
    emu.client()
        .users()
        .create(welcome("late@example.com"))
        .await
        .unwrap();
    assert!(emu.user(ORG, "late@example.com").is_some());
    assert_eq!(emu.welcome_letters("late@example.com"), 1);
}

#[tokio::test]
async fn a_create_answered_503_is_settled_by_reading_back() {
    let emu = <Emulator as Backend>::start(vec![]).await;
    emu.push_fault(Fault::Status(503));
    emu.client()
        .users()
        .create(welcome("s@example.com"))
        .await
        .unwrap();
    assert_eq!(emu.users(ORG).len(), 1);
    assert_eq!(emu.welcome_letters("s@example.com"), 1);
}

#[tokio::test]
async fn a_delete_dropped_after_commit_is_done() {
    let emu = <Emulator as Backend>::start(vec![scenarios::rich_user()]).await;
    emu.push_fault(Fault::DropAfterCommit);
    emu.client()
        .users()
        .delete(&email("ann.lee@example.com"))
        .await
        .unwrap();
    assert!(emu.user(ORG, "ann.lee@example.com").is_none());
}

#[tokio::test]
async fn an_update_dropped_after_commit_is_repeated_harmlessly() {
    let emu = <Emulator as Backend>::start(vec![scenarios::rich_user()]).await;
    let before = emu.user(ORG, "ann.lee@example.com").unwrap();
    emu.push_fault(Fault::DropAfterCommit);
    emu.client()
        .users()
        .update(
            &email("ann.lee@example.com"),
            UserPatch::new().remove_alias(email("ann@example.org")),
        )
        .await
        .unwrap();
    let mut expected = before;
    expected["alias_emails"] = json!(["ann@example.com"]);
    assert_eq!(emu.user(ORG, "ann.lee@example.com").unwrap(), expected);
}

#[tokio::test]
async fn server_errors_on_reads_are_retried() {
    let emu = <Emulator as Backend>::start(vec![scenarios::rich_user()]).await;
    for _ in 0..3 {
        emu.push_fault(Fault::Status(503));
    }
    assert_eq!(emu.client().users().list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_gateways_rate_limit_is_absorbed() {
    // 4 requests per second, with Retry-After: 12 reads still all succeed.
    let emu = start_with(
        org(vec![]),
        EmuRateLimit::new(4, Duration::from_secs(1)).with_retry_after(),
    )
    .await;
    let client = v1_client(&emu, LOGIN, PASSWORD);
    for _ in 0..12 {
        client.users().list().await.unwrap();
    }
    assert!(emu.count("GET", "/api/v1/orgs/{domain}/users", 429) >= 1);
    assert_eq!(emu.count("GET", "/api/v1/orgs/{domain}/users", 200), 12);
}

#[tokio::test]
async fn wrong_password_is_auth_and_read_only_writes_are_forbidden() {
    let emu = <Emulator as Backend>::start(vec![]).await;
    let wrong = v1_client(&emu, LOGIN, "nope");
    assert!(matches!(wrong.verify().await, Err(Error::Auth { .. })));
    let auditor = v1_client(&emu, "auditor@example.com", PASSWORD);
    let me = auditor.verify().await.unwrap();
    assert!(me.read_only, "{me:?}");
    let err = auditor
        .users()
        .create(welcome("x@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    assert!(emu.user(ORG, "x@example.com").is_none());
}

#[tokio::test]
async fn org_lists_registered_domains_and_endpoints_point_back() {
    let emu = <Emulator as Backend>::start(vec![scenarios::rich_user()]).await;
    let client = emu.client();
    let info = client.org().await.unwrap();
    let names: Vec<&str> = info.domains.iter().map(|d| d.name.as_str()).collect();
    assert!(
        names.contains(&ORG) && names.contains(&OTHER_DOMAIN),
        "{names:?}"
    );
    let endpoints = client.endpoints(ORG).await.unwrap();
    assert!(!endpoints.is_empty());
    let me = client.verify().await.unwrap();
    assert_eq!(me.login, LOGIN);
}

#[tokio::test]
async fn an_unknown_org_is_domain_not_registered() {
    let emu = <Emulator as Backend>::start(vec![]).await;
    let client = Client::builder()
        .essentials(emu.base_url(), "unknown.example")
        .credentials(LOGIN, PASSWORD.into())
        .retry(common::fast_retry())
        .rate_limit(common::unlimited())
        .build()
        .unwrap();
    let err = client.users().list().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::DomainNotRegistered { .. } | Error::Forbidden { .. }
        ),
        "{err:?}"
    );
}

fn v2_client(emu: &Emulator) -> Client {
    Client::builder()
        .rest_v2(emu.base_url())
        .credentials(LOGIN, PASSWORD.into())
        .retry(common::fast_retry())
        .rate_limit(common::unlimited())
        .page_size(2)
        .build()
        .unwrap()
}

#[tokio::test]
async fn v2_lists_every_page_and_updates_loss_free() {
    let users: Vec<Value> = (1..=5)
        .map(|i| json!({"primary_email": format!("u{i}@example.com"), "firstname": "U", "alias_emails": [format!("alias{i}@example.org")]}))
        .collect();
    let emu = <Emulator as Backend>::start(users).await;
    let client = v2_client(&emu);
    let listed = client.users().list().await.unwrap();
    assert_eq!(listed.len(), 5);
    assert!(listed.iter().all(|u| u.account().aliases.len() == 1));
    client
        .users()
        .update(
            &email("u3@example.com"),
            UserPatch::new().last_name(Some("Three")),
        )
        .await
        .unwrap();
    let stored = emu.user(ORG, "u3@example.com").unwrap();
    assert_eq!(stored["surname"], json!("Three"));
    assert_eq!(stored["firstname"], json!("U"));
    assert_eq!(stored["alias_emails"], json!(["alias3@example.org"]));
}

#[tokio::test]
async fn v2_groups_and_members() {
    let emu = start_with(
        org(vec![
            json!({"primary_email": "a@example.com"}),
            json!({"primary_email": "b@example.com"}),
        ])
        .group("Sales", ["a@example.com"]),
        EmuRateLimit::unlimited(),
    )
    .await;
    let client = v2_client(&emu);
    let groups = client.groups().list().await.unwrap();
    let sales = groups.iter().find(|g| g.name == "Sales").unwrap();
    assert_eq!(
        client.groups().members(&sales.id).await.unwrap(),
        [email("a@example.com")]
    );
    client
        .groups()
        .add_member(&sales.id, &email("b@example.com"))
        .await
        .unwrap();
    // Adding again is harmless.
    client
        .groups()
        .add_member(&sales.id, &email("b@example.com"))
        .await
        .unwrap();
    client
        .groups()
        .remove_member(&sales.id, &email("a@example.com"))
        .await
        .unwrap();
    assert_eq!(
        client.groups().members(&sales.id).await.unwrap(),
        [email("b@example.com")]
    );
    let user = client.users().get(&email("b@example.com")).await.unwrap();
    assert!(user.account().groups.contains("Sales"));
}
