//! The calls the public clients of the Essentials v1 API make, as
//! `shared/reference/api-facts.md` §1 records them, answered as those
//! clients expect: a script written against the real gateway (krzydoug's
//! and Midnigh7's PowerShell modules, codieg0's shell scripts, singhkamall's
//! C# client) runs against the emulator unchanged. What the emulator
//! already does for muster's own client is tested in the other files; these
//! are the conventions only other clients use.

mod common;

use common::*;
use muster_emulator::{Login, Org};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// krzydoug/Proofpoint: `X-User` / `X-Password` plus `X-Terms-Update: true`
/// on every request; a create POSTs one object and checks for 201; an
/// update PUTs the merged object and checks for 204; a DELETE carries a
/// `{"primary_email": …}` body and checks for 204. It spells the sender
/// lists `safe_list_senders` / `block_list_senders`, so it runs against a
/// server that serves that spelling.
#[tokio::test]
async fn krzydougs_module_creates_updates_and_deletes_with_its_own_conventions() {
    let emu = builder()
        .sender_list_spelling(muster_emulator::SenderListSpelling::SafeBlock)
        .start()
        .await
        .unwrap();
    let v1 = V1::new(&emu);
    let terms = |m: Method, path: &str| v1.req(m, path).header("X-Terms-Update", "true");
    let created = terms(Method::POST, "/orgs/example.com/users")
        .json(
            &json!({"primary_email": "bo@example.com", "firstname": "Bo",
                      "surname": "Ray", "type": "end_user", "send_welcome_email": false}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let mut user = body(v1.get_user("bo@example.com").await).await;
    user["surname"] = json!("Rae");
    user["safe_list_senders"] = json!(["*@partner.example"]);
    let put = terms(Method::PUT, "/orgs/example.com/users/bo@example.com")
        .json(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    let read = body(v1.get_user("bo@example.com").await).await;
    assert_eq!(read["surname"], "Rae");
    // The spelling it wrote is the spelling it reads back.
    assert_eq!(read["safe_list_senders"], json!(["*@partner.example"]));
    let deleted = terms(Method::DELETE, "/orgs/example.com/users/bo@example.com")
        .json(&json!({"primary_email": "bo@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        v1.get_user("bo@example.com").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// singhkamall/ProofPointEssentialsClient writes the headers as `X-user` /
/// `X-password` and POSTs a bare array, reading `{users, errors}` back.
#[tokio::test]
async fn singhkamalls_client_posts_an_array_with_lowercase_header_names() {
    let emu = start().await;
    let response = reqwest::Client::new()
        .post(format!("{}/orgs/example.com/users", emu.api_v1_url()))
        .header("X-user", ADMIN)
        .header("X-password", PASSWORD)
        .json(&json!([
            {"primary_email": "a@example.com", "send_welcome_email": false},
            {"primary_email": "b@example.com", "send_welcome_email": false},
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let answer = body(response).await;
    let created: Vec<&str> = answer["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["primary_email"].as_str().unwrap())
        .collect();
    assert_eq!(created, ["a@example.com", "b@example.com"]);
    assert_eq!(answer["errors"], json!([]));
}

/// codieg0's `not_billable.sh`: GET the user, change one field in the JSON,
/// PUT the whole object back; `get_users.sh` reads `.users[]`.
#[tokio::test]
async fn codieg0s_scripts_read_modify_and_write_the_whole_object() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    let mut user = full_user("ann@example.com");
    user["is_billable"] = json!(true);
    assert_eq!(v1.create(user).await.status(), StatusCode::CREATED);
    let mut read = body(v1.get_user("ann@example.com").await).await;
    read["is_billable"] = json!(false);
    assert_eq!(
        v1.put("ann@example.com", read.clone()).await.status(),
        StatusCode::NO_CONTENT
    );
    let after = body(v1.get_user("ann@example.com").await).await;
    assert_eq!(
        after, read,
        "only is_billable changed, everything else kept"
    );
    let listed: Vec<Value> = v1.list().await;
    assert!(
        listed
            .iter()
            .any(|u| u["primary_email"] == "ann@example.com" && u["is_billable"] == false)
    );
}

/// Midnigh7/PSProofpoint: `GET /me` as the connection test, the stack from
/// `GET /endpoints/{domain}` (`$response.endpoints`), a channel admin's
/// organisations from `GET /orgs/{partner}/orgs` (`{"orgs": [...]}`), and
/// an organisation's domains from `GET /orgs/{domain}/domains`
/// (`{"domains": [...]}`) or one by name.
#[tokio::test]
async fn midnigh7s_module_connects_finds_the_stack_and_lists_orgs_and_domains() {
    let emu = builder()
        .org(Org::new("customer.example").domain("customer.example.net"))
        .login(Login::channel_admin(
            "msp@partner.example",
            "msp-pass",
            ["example.com", "customer.example"],
        ))
        .start()
        .await
        .unwrap();
    let msp = V1::as_login(&emu, "msp@partner.example", "msp-pass");
    let me = body(msp.get("/me").await).await;
    assert_eq!(me["type"], "channel_admin");
    assert_eq!(me["is_partner_admin"], true);
    let endpoints = body(msp.get("/endpoints/customer.example.net").await).await;
    assert_eq!(endpoints["endpoints"], json!([emu.api_v1_url()]));
    let orgs = body(msp.get("/orgs/partner.example/orgs").await).await;
    let primaries: Vec<&str> = orgs["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["primary_domain"].as_str().unwrap())
        .collect();
    assert_eq!(primaries, ["example.com", "customer.example"]);
    let domains = body(msp.get("/orgs/customer.example/domains").await).await;
    let names: Vec<&str> = domains["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["customer.example", "customer.example.net"]);
    // The same objects as the organisation lists.
    let org = body(msp.get("/orgs/customer.example").await).await;
    assert_eq!(org["domains"], domains["domains"]);
    let one = msp
        .get("/orgs/customer.example/domains/CUSTOMER.example.net")
        .await;
    assert_eq!(one.status(), StatusCode::OK);
    assert_eq!(body(one).await["name"], "customer.example.net");
    let unknown = msp
        .get("/orgs/customer.example/domains/other.example")
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // Another organisation's domains are not this login's to read.
    let org_admin = V1::new(&emu);
    let foreign = org_admin.get("/orgs/customer.example/domains").await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
}
