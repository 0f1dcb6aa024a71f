//! What the gateway refuses: unregistered domains, duplicates, bad JSON,
//! unknown routes, and the per-item results of a bulk create.

mod common;

use common::{ORG, V1, body, start};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn primary_outside_the_registered_domains_is_400_naming_the_domain() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    let r = v1.create(json!({"primary_email": "ann@exmaple.com"})).await;
    assert_eq!(r.status(), 400);
    let e = body(r).await["errors"][0].clone();
    let msg = e["error_message"].as_str().unwrap();
    assert!(
        msg.contains("`exmaple.com`") && msg.contains("not registered"),
        "{msg}"
    );
    assert_eq!(e["identifier"], "ann@exmaple.com");
    assert!(emu.users(ORG).is_empty());
}

#[tokio::test]
async fn alias_outside_the_registered_domains_is_400_on_create_and_put() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    let r = v1
        .create(
            json!({"primary_email": "ann@example.com", "alias_emails": ["ann@sub.example.com"]}),
        )
        .await;
    assert_eq!(
        r.status(),
        400,
        "a subdomain is not registered by its parent"
    );
    assert!(
        body(r).await["errors"][0]["error_message"]
            .as_str()
            .unwrap()
            .contains("`sub.example.com`")
    );

    v1.create(json!({"primary_email": "ann@example.com"})).await;
    let r = v1
        .put(
            "ann@example.com",
            json!({"alias_emails": ["ann@other.example"]}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(
        body(r).await["error_message"]
            .as_str()
            .unwrap()
            .contains("`other.example`")
    );
    assert_eq!(
        emu.user(ORG, "ann@example.com").unwrap()["alias_emails"],
        json!([])
    );
}

#[tokio::test]
async fn duplicate_primary_is_409_whatever_the_case() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    assert_eq!(
        v1.create(json!({"primary_email": "ann@example.com"}))
            .await
            .status(),
        201
    );
    let r = v1.create(json!({"primary_email": "Ann@EXAMPLE.com"})).await;
    assert_eq!(r.status(), 409);
    assert_eq!(emu.users(ORG).len(), 1);
}

#[tokio::test]
async fn alias_taken_by_another_user_is_409_as_alias_or_primary() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    v1.create(json!({"primary_email": "ann@example.com", "alias_emails": ["sales@example.com"]}))
        .await;
    // Another user's alias as my alias.
    let r = v1
        .create(json!({"primary_email": "bob@example.com", "alias_emails": ["SALES@example.com"]}))
        .await;
    assert_eq!(r.status(), 409);
    let msg = body(r).await["errors"][0]["error_message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(msg.contains("ann@example.com"), "names the holder: {msg}");
    // Another user's alias as my primary.
    assert_eq!(
        v1.create(json!({"primary_email": "sales@example.com"}))
            .await
            .status(),
        409
    );
    // Another user's primary as my alias, through a PUT.
    v1.create(json!({"primary_email": "bob@example.com"})).await;
    let r = v1
        .put(
            "bob@example.com",
            json!({"alias_emails": ["ann@example.com"]}),
        )
        .await;
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn idn_and_punycode_spellings_collide() {
    let emu = common::builder()
        .org(muster_emulator::Org::new("bücher.example"))
        .login(muster_emulator::Login::org_admin(
            "b@xn--bcher-kva.example",
            "pw",
            "xn--bcher-kva.example",
        ))
        .start()
        .await
        .unwrap();
    let v1 = V1::as_login(&emu, "b@xn--bcher-kva.example", "pw");
    let path = "/orgs/xn--bcher-kva.example/users";
    let r = v1
        .req(Method::POST, path)
        .json(&json!({"primary_email": "eva@bücher.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = v1
        .req(Method::POST, path)
        .json(&json!({"primary_email": "eva@xn--bcher-kva.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn an_alias_equal_to_the_primary_or_listed_twice_is_400() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    let r = v1
        .create(json!({"primary_email": "ann@example.com", "alias_emails": ["ANN@example.com"]}))
        .await;
    assert_eq!(r.status(), 400);
    let r = v1
        .create(json!({"primary_email": "ann@example.com", "alias_emails": ["a@example.org", "A@example.org"]}))
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn bulk_create_reports_each_failure_and_creates_the_rest() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    v1.create(json!({"primary_email": "taken@example.com"}))
        .await;
    let r = v1
        .create(json!([
            {"primary_email": "a@example.com", "firstname": "A"},
            {"primary_email": "taken@example.com"},
            {"primary_email": "c@elsewhere.example"},
            {"firstname": "no address"},
            {"primary_email": "e@example.com", "is_active": "yes"},
            {"primary_email": "f@example.org"},
        ]))
        .await;
    assert_eq!(r.status(), 201);
    let b = body(r).await;
    let created: Vec<&str> = b["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["primary_email"].as_str().unwrap())
        .collect();
    assert_eq!(created, ["a@example.com", "f@example.org"]);
    let errors: Vec<(u64, &str)> = b["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["status"].as_u64().unwrap(),
                e["identifier"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (409, "taken@example.com"),
            (400, "c@elsewhere.example"),
            (400, "#4"),
            (400, "e@example.com"),
        ]
    );
    assert!(
        b["errors"][2]["error_message"]
            .as_str()
            .unwrap()
            .contains("primary_email")
    );
    assert!(
        b["errors"][3]["error_message"]
            .as_str()
            .unwrap()
            .contains("is_active")
    );
    assert_eq!(emu.users(ORG).len(), 3);
}

#[tokio::test]
async fn bulk_create_where_everything_fails_is_not_201() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    let r = v1
        .create(json!([{"primary_email": "x@nowhere.example"}]))
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(body(r).await["users"], json!([]));
}

#[tokio::test]
async fn a_duplicate_inside_one_bulk_request_is_caught() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    let r = v1
        .create(json!([{"primary_email": "a@example.com"}, {"primary_email": "A@example.com"}]))
        .await;
    let b = body(r).await;
    assert_eq!(b["users"].as_array().unwrap().len(), 1);
    assert_eq!(b["errors"][0]["status"], 409);
}

#[tokio::test]
async fn bad_json_is_400_with_the_parser_position() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    let r = v1
        .req(Method::POST, "/orgs/example.com/users")
        .header("content-type", "application/json")
        .body("{\"primary_email\": \"a@example.com\",}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let msg = body(r).await["error_message"].as_str().unwrap().to_owned();
    assert!(
        msg.starts_with("invalid JSON") && msg.contains("line 1 column"),
        "{msg}"
    );

    let r = v1
        .req(Method::PUT, "/orgs/example.com/users/a@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "empty body");
    let r = v1.create(json!("just a string")).await;
    assert_eq!(r.status(), 400);
    let r = v1.create(json!([])).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn wrong_field_types_and_unknown_user_types_are_400_naming_the_field() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    let r = v1
        .create(json!({"primary_email": "a@example.com", "type": "superuser"}))
        .await;
    assert_eq!(r.status(), 400);
    let msg = body(r).await["errors"][0]["error_message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        msg.contains("`type`") && msg.contains("functional_account"),
        "{msg}"
    );
    let r = v1
        .create(json!({"primary_email": "a@example.com", "alias_emails": "b@example.com"}))
        .await;
    assert!(
        body(r).await["errors"][0]["error_message"]
            .as_str()
            .unwrap()
            .contains("alias_emails")
    );
    let r = v1.create(json!({"primary_email": "not an address"})).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn unknown_routes_are_404_with_a_json_body() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    let r = v1.get("/orgs/example.com/mailboxes").await;
    assert_eq!(r.status(), 404);
    assert_eq!(body(r).await["error_message"], "no such endpoint");
    let r = reqwest::get(format!("{}/", emu.base_url())).await.unwrap();
    assert_eq!(r.status(), 404);
    // A known route with an unsupported method is not a silent success.
    let r = v1
        .req(Method::PATCH, "/orgs/example.com/users")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn a_bulk_create_larger_than_axums_default_body_limit_is_accepted() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    let note = "n".repeat(1000);
    let users: Vec<serde_json::Value> = (0..2500)
        .map(|i| json!({"primary_email": format!("u{i}@example.com"), "x_note": note}))
        .collect();
    let r = v1.create(json!(users)).await;
    assert_eq!(r.status(), 201);
    let b = body(r).await;
    assert_eq!(b["users"].as_array().unwrap().len(), 2500);
    assert_eq!(b["errors"], json!([]));
    assert_eq!(v1.list().await.len(), 2500);
    assert_eq!(emu.requests()[0].body, None, "too big to keep in the log");
}

#[tokio::test]
async fn percent_encoded_addresses_in_paths_are_decoded_once() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    v1.create(json!({"primary_email": "ann+tag@example.com"}))
        .await;
    v1.create(json!({"primary_email": "jörg@example.com"}))
        .await;
    let r = v1
        .get("/orgs/example.com/users/ann%2Btag%40example.com")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(body(r).await["primary_email"], "ann+tag@example.com");
    // `+` in a path is a plus, not a space.
    assert_eq!(
        v1.get("/orgs/example.com/users/ann+tag@example.com")
            .await
            .status(),
        200
    );
    let r = v1
        .get("/orgs/example.com/users/j%C3%B6rg%40example.com")
        .await;
    assert_eq!(r.status(), 200);
    let r = v1.delete("ann%2Btag%40example.com").await;
    assert_eq!(r.status(), 204);
    assert!(emu.user(ORG, "ann+tag@example.com").is_none());
}

#[tokio::test]
async fn concurrent_creates_of_one_address_make_one_user() {
    let emu = start().await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let v1 = V1::new(&emu);
            tokio::spawn(async move {
                v1.create(json!({"primary_email": "race@example.com"}))
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
    assert_eq!(emu.users(ORG).len(), 1);
    assert_eq!(emu.welcome_letters("race@example.com"), 1);
}

#[tokio::test]
async fn an_alias_moves_only_after_its_old_holder_lets_go() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    v1.create(json!({"primary_email": "a@example.com", "alias_emails": ["desk@example.com"]}))
        .await;
    v1.create(json!({"primary_email": "b@example.com"})).await;
    let to_b = json!({"primary_email": "b@example.com", "alias_emails": ["desk@example.com"]});
    assert_eq!(
        v1.put("b@example.com", to_b.clone()).await.status(),
        409,
        "still A's"
    );
    assert_eq!(
        emu.user(ORG, "b@example.com").unwrap()["alias_emails"],
        json!([])
    );
    assert_eq!(
        v1.put("a@example.com", json!({"primary_email": "a@example.com"}))
            .await
            .status(),
        204
    );
    assert_eq!(v1.put("b@example.com", to_b).await.status(), 204);
    assert_eq!(
        emu.user(ORG, "b@example.com").unwrap()["alias_emails"],
        json!(["desk@example.com"])
    );
    // A user may keep its own aliases through a PUT.
    let keep = json!({"primary_email": "b@example.com", "alias_emails": ["desk@example.com", "b@example.org"]});
    assert_eq!(v1.put("b@example.com", keep).await.status(), 204);
}
