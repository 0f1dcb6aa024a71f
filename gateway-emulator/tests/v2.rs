//! The seed-003 v2 shape on the same store: Basic auth, camelCase, paging, groups.

mod common;

use common::{ADMIN, ORG, PASSWORD, V1, body, builder};
use muster_emulator::{Emulator, Org};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

fn v2(emu: &Emulator, method: Method, path: &str) -> RequestBuilder {
    reqwest::Client::new()
        .request(method, format!("{}/v2{path}", emu.base_url()))
        .basic_auth(ADMIN, Some(PASSWORD))
}

async fn seeded(n: usize) -> Emulator {
    let mut org = Org::new(ORG);
    for i in 0..n {
        org = org.user(json!({"primary_email": format!("u{i:04}@example.com")}));
    }
    Emulator::builder()
        .org(org)
        .login(muster_emulator::Login::org_admin(ADMIN, PASSWORD, ORG))
        .rate_limit(muster_emulator::RateLimit::unlimited())
        .start()
        .await
        .unwrap()
}

async fn page(emu: &Emulator, query: &str) -> Value {
    let r = v2(emu, Method::GET, &format!("/users?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{query}");
    body(r).await
}

#[tokio::test]
async fn v2_needs_basic_auth() {
    let emu = seeded(1).await;
    let r = reqwest::Client::new()
        .get(format!("{}/v2/users", emu.base_url()))
        .header("X-User", ADMIN)
        .header("X-Password", PASSWORD)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = reqwest::Client::new()
        .get(format!("{}/v2/users", emu.base_url()))
        .basic_auth(ADMIN, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn pages_default_to_100_and_are_capped_at_1000_with_total() {
    let emu = seeded(1205).await;
    let first = page(&emu, "").await;
    assert_eq!(first["users"].as_array().unwrap().len(), 100);
    assert_eq!(first["total"], 1205);

    let capped = page(&emu, "page=1&pageSize=5000").await;
    assert_eq!(capped["users"].as_array().unwrap().len(), 1000);
    assert_eq!(capped["pageSize"], 1000);
    assert_eq!(capped["total"], 1205);

    let second = page(&emu, "page=2&pageSize=1000").await;
    assert_eq!(second["users"].as_array().unwrap().len(), 205);
    assert_eq!(second["users"][0]["primaryEmail"], "u1000@example.com");
    let past = page(&emu, "page=3&pageSize=1000").await;
    assert_eq!(past["users"], json!([]));

    let r = v2(&emu, Method::GET, "/users?page=0").send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        body(r).await["error_message"]
            .as_str()
            .unwrap()
            .contains("`page`")
    );
}

#[tokio::test]
async fn v2_users_are_camel_case_views_of_the_v1_store() {
    let emu = builder().start().await.unwrap();
    V1::new(&emu)
        .create(json!({
            "primary_email": "ann@example.com", "firstname": "Ann", "surname": "Lee",
            "alias_emails": ["ann@example.org"], "is_active": false, "type": "organization_admin",
        }))
        .await;
    let got = body(
        v2(&emu, Method::GET, "/users/ann@example.com")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        got,
        json!({
            "primaryEmail": "ann@example.com", "firstName": "Ann", "lastName": "Lee",
            "type": "User", "roles": ["ADMINISTRATOR"], "aliases": ["ann@example.org"],
            "groups": [], "status": "inactive",
        })
    );
}

#[tokio::test]
async fn v2_create_put_delete_follow_the_same_rules() {
    let emu = builder().start().await.unwrap();
    let r = v2(&emu, Method::POST, "/users")
        .json(
            &json!({"primaryEmail": "bob@example.com", "firstName": "Bob", "lastName": "Ray",
                      "type": "User", "password": "Temp@1234", "aliases": ["bob@example.org"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(body(r).await["primaryEmail"], "bob@example.com");
    assert_eq!(
        emu.password(ORG, "bob@example.com").as_deref(),
        Some("Temp@1234")
    );
    assert_eq!(emu.welcome_letters("bob@example.com"), 1);

    let r = v2(&emu, Method::POST, "/users")
        .json(&json!({"primaryEmail": "x@unregistered.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = v2(&emu, Method::POST, "/users")
        .json(&json!({"primaryEmail": "bob@example.org", "type": "Alias"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Full replace: the omitted aliases and names go.
    let r = v2(&emu, Method::PUT, "/users/bob@example.com")
        .json(&json!({"status": "inactive"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let v1_view = emu.user(ORG, "bob@example.com").unwrap();
    assert_eq!(v1_view["alias_emails"], json!([]));
    assert_eq!(v1_view["firstname"], "");
    assert_eq!(v1_view["is_active"], false);

    let r = v2(&emu, Method::PUT, "/users/bob@example.com")
        .json(&json!({"primaryEmail": "robert@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "primaryEmail is immutable");

    let r = v2(&emu, Method::DELETE, "/users/bob@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(emu.users(ORG).is_empty());
}

#[tokio::test]
async fn groups_and_members() {
    let emu = Emulator::builder()
        .org(
            Org::new(ORG)
                .user(json!({"primary_email": "a@example.com"}))
                .user(json!({"primary_email": "b@example.com"}))
                .group("Sales", ["a@example.com"]),
        )
        .login(muster_emulator::Login::org_admin(ADMIN, PASSWORD, ORG))
        .start()
        .await
        .unwrap();
    let groups = body(v2(&emu, Method::GET, "/groups").send().await.unwrap()).await;
    assert_eq!(
        groups["groups"],
        json!([{"id": "grp_001", "name": "Sales", "memberCount": 1}])
    );

    let r = v2(&emu, Method::POST, "/groups")
        .json(&json!({"name": "Support"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = body(r).await["id"].as_str().unwrap().to_owned();

    let r = v2(&emu, Method::POST, &format!("/groups/{id}/members"))
        .json(&json!({"primaryEmail": "b@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        body(r).await,
        json!({"groupId": id, "primaryEmail": "b@example.com"})
    );
    let r = v2(&emu, Method::POST, &format!("/groups/{id}/members"))
        .json(&json!({"primaryEmail": "nobody@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "the user must exist first");

    let members = body(
        v2(&emu, Method::GET, &format!("/groups/{id}/members"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        members,
        json!({"members": [{"primaryEmail": "b@example.com"}], "total": 1})
    );
    let user = body(
        v2(&emu, Method::GET, "/users/b@example.com")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(user["groups"], json!(["Support"]));

    let r = v2(
        &emu,
        Method::DELETE,
        &format!("/groups/{id}/members/b@example.com"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    let r = v2(
        &emu,
        Method::DELETE,
        &format!("/groups/{id}/members/b@example.com"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);

    // Deleting a user removes it from its groups.
    v2(&emu, Method::DELETE, "/users/a@example.com")
        .send()
        .await
        .unwrap();
    let groups = body(v2(&emu, Method::GET, "/groups").send().await.unwrap()).await;
    assert_eq!(groups["groups"][0]["memberCount"], 0);
    assert_eq!(
        v2(&emu, Method::GET, "/groups/grp_999/members")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
