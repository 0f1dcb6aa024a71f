//! Essentials v1 users: list, get, create, full-replace PUT, delete.

mod common;

use common::{ORG, V1, body, full_user, start};
use serde_json::{Value, json};

#[tokio::test]
async fn starts_in_process_and_answers_on_its_base_url() {
    let emu = start().await;
    assert!(emu.base_url().starts_with("http://127.0.0.1:"));
    let r = V1::new(&emu).get("/me").await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn created_user_is_returned_with_every_field_but_the_password() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    let r = v1.create(full_user("ann@example.com")).await;
    assert_eq!(r.status(), 201);
    let created = body(r).await;
    assert_eq!(created["errors"], json!([]));
    let uid = created["users"][0]["uid"].as_u64().expect("uid assigned");

    let got = body(v1.get_user("ann@example.com").await).await;
    assert_eq!(
        got,
        json!({
            "uid": uid,
            "primary_email": "ann@example.com",
            "firstname": "Ann",
            "surname": "Lee",
            "alias_emails": ["ann@example.org"],
            "type": "functional_account",
            "is_active": false,
            "is_billable": false,
            "read_only_user": true,
            "odin_settings": {"can_impersonate": true, "is_imitable": true},
            "white_list_senders": ["*@partner.example"],
            "black_list_senders": ["spam@bad.example"],
            "x_future": {"kept": true},
        })
    );
    assert_eq!(v1.list().await, vec![got]);
    assert_eq!(
        emu.password(ORG, "ann@example.com").as_deref(),
        Some("initial-pass")
    );
}

#[tokio::test]
async fn users_are_addressed_case_insensitively_and_by_primary_only() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    v1.create(full_user("ann@example.com")).await;
    assert_eq!(v1.get_user("ANN@Example.COM").await.status(), 200);
    // An alias does not address a user.
    assert_eq!(v1.get_user("ann@example.org").await.status(), 404);
}

/// Each field a full-replace PUT omits goes back to its default.
#[tokio::test]
async fn put_resets_every_omitted_field_to_its_default() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    v1.create(full_user("ann@example.com")).await;
    let before = body(v1.get_user("ann@example.com").await).await;

    let r = v1
        .put(
            "ann@example.com",
            json!({"primary_email": "ann@example.com"}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let after = body(v1.get_user("ann@example.com").await).await;

    let defaults = [
        ("firstname", json!("")),
        ("surname", json!("")),
        ("alias_emails", json!([])),
        ("type", json!("end_user")),
        ("is_active", json!(true)),
        ("is_billable", json!(true)),
        ("read_only_user", json!(false)),
        ("white_list_senders", json!([])),
        ("black_list_senders", json!([])),
        (
            "odin_settings",
            json!({"can_impersonate": false, "is_imitable": false}),
        ),
    ];
    for (field, default) in defaults {
        assert_ne!(before[field], default, "{field} was not set to begin with");
        assert_eq!(after[field], default, "{field} was not reset by the PUT");
    }
    assert_eq!(
        after.get("x_future"),
        None,
        "unknown field survived a PUT without it"
    );
    assert_eq!(after["uid"], before["uid"]);
    // The freed alias can now be used by someone else.
    let r = v1
        .create(json!({"primary_email": "bob@example.com", "alias_emails": ["ann@example.org"]}))
        .await;
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn put_of_the_whole_object_changes_only_what_changed() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    v1.create(full_user("ann@example.com")).await;
    let mut user = body(v1.get_user("ann@example.com").await).await;
    user["surname"] = json!("Lee-Smith");
    assert_eq!(v1.put("ann@example.com", user.clone()).await.status(), 204);
    assert_eq!(body(v1.get_user("ann@example.com").await).await, user);
}

#[tokio::test]
async fn password_is_write_only_and_survives_a_put_without_it() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    v1.create(full_user("ann@example.com")).await;
    let got = body(v1.get_user("ann@example.com").await).await;
    assert_eq!(got.get("password"), None);
    assert_eq!(got.get("send_welcome_email"), None);

    v1.put("ann@example.com", got.clone()).await;
    assert_eq!(
        emu.password(ORG, "ann@example.com").as_deref(),
        Some("initial-pass")
    );

    let mut with_pw = got;
    with_pw["password"] = json!("rotated");
    assert_eq!(v1.put("ann@example.com", with_pw).await.status(), 204);
    assert_eq!(
        emu.password(ORG, "ann@example.com").as_deref(),
        Some("rotated")
    );
    assert_eq!(
        body(v1.get_user("ann@example.com").await)
            .await
            .get("password"),
        None
    );
    let list = v1.list().await;
    assert!(list.iter().all(|u| u.get("password").is_none()));
}

#[tokio::test]
async fn primary_email_is_immutable() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    v1.create(full_user("ann@example.com")).await;
    let r = v1
        .put(
            "ann@example.com",
            json!({"primary_email": "anna@example.com"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let msg = body(r).await["error_message"].as_str().unwrap().to_owned();
    assert!(msg.contains("immutable"), "{msg}");
    assert!(emu.user(ORG, "anna@example.com").is_none());
    assert_eq!(emu.user(ORG, "ann@example.com").unwrap()["surname"], "Lee");
    // A case-only spelling of the same primary is the same address.
    let r = v1
        .put(
            "ann@example.com",
            json!({"primary_email": "ANN@example.com", "surname": "Lee"}),
        )
        .await;
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn put_and_delete_of_an_unknown_user_are_404() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    assert_eq!(v1.put("nobody@example.com", json!({})).await.status(), 404);
    assert_eq!(v1.delete("nobody@example.com").await.status(), 404);
}

#[tokio::test]
async fn delete_is_immediate_and_frees_the_aliases() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    v1.create(full_user("ann@example.com")).await;
    assert_eq!(v1.delete("ann@example.com").await.status(), 204);
    assert_eq!(v1.get_user("ann@example.com").await.status(), 404);
    assert!(v1.list().await.is_empty());
    assert!(emu.users(ORG).is_empty());
    let r = v1.create(json!({"primary_email": "ann@example.org"})).await;
    assert_eq!(r.status(), 201, "the deleted user's alias is free again");
}

#[tokio::test]
async fn both_sender_list_spellings_are_accepted() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    let r = v1
        .create(json!({
            "primary_email": "ann@example.com",
            "safe_list_senders": ["a@ok.example"],
            "block_list_senders": ["b@bad.example"],
        }))
        .await;
    assert_eq!(r.status(), 201);
    let got = body(v1.get_user("ann@example.com").await).await;
    assert_eq!(got["white_list_senders"], json!(["a@ok.example"]));
    assert_eq!(got["black_list_senders"], json!(["b@bad.example"]));
}

#[tokio::test]
async fn the_other_sender_list_spelling_can_be_served() {
    let emu = common::builder()
        .sender_list_spelling(muster_emulator::SenderListSpelling::SafeBlock)
        .start()
        .await
        .unwrap();
    let v1 = V1::new(&emu);
    v1.create(json!({"primary_email": "ann@example.com", "white_list_senders": ["a@ok.example"]}))
        .await;
    let got = body(v1.get_user("ann@example.com").await).await;
    assert_eq!(got["safe_list_senders"], json!(["a@ok.example"]));
    assert_eq!(got.get("white_list_senders"), None);
}

#[tokio::test]
async fn only_one_user_per_org_can_be_non_billable() {
    let emu = start().await;
    let v1 = V1::new(&emu);
    v1.create(json!({"primary_email": "a@example.com", "is_billable": false}))
        .await;
    let r = v1
        .create(json!({"primary_email": "b@example.com", "is_billable": false}))
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = body(r).await;
    assert!(
        e["errors"][0]["error_message"]
            .as_str()
            .unwrap()
            .contains("non-billable")
    );
}
