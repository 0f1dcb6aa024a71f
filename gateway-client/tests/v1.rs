//! Essentials v1 against wiremock: headers, paths, bodies, status codes.

mod common;

use common::*;
use muster_core::{Account, Field, UserType};
use muster_gateway::{Error, FieldValue, NewUser, UserPatch, WelcomeEmail};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, ResponseTemplate};

const USER_FIXTURE: &str = include_str!("fixtures/v1_user.json");
const USERS_FIXTURE: &str = include_str!("fixtures/v1_users.json");
const ANN: &str = "/api/v1/orgs/example.com/users/ann.lee%40example.com";

#[tokio::test]
async fn list_sends_x_user_and_x_password_and_maps_every_user() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/orgs/example.com/users"))
        .and(header("X-User", USER))
        .and(header("X-Password", PASSWORD))
        .respond_with(ResponseTemplate::new(200).set_body_json(json(USERS_FIXTURE)))
        .expect(1)
        .mount(&server)
        .await;
    let users = v1(&server).users().list().await.unwrap();
    assert_eq!(users.len(), 3);
    let sales = users[1].account();
    assert_eq!(sales.user_type, UserType::FunctionalAccount);
    assert_eq!(sales.first_name, None);
    assert!(sales.allow_senders.contains("*@customer.example"));
    assert!(users[2].account().read_only);
    assert_eq!(users[0].field("uid"), Some(&json!(1042)));
    let req = &server.received_requests().await.unwrap()[0];
    assert!(req.headers.get("authorization").is_none());
}

#[tokio::test]
async fn list_of_an_unknown_org_is_domain_not_registered() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/orgs/example.com/users"))
        .respond_with(ResponseTemplate::new(404))
        .expect(2)
        .mount(&server)
        .await;
    for err in [
        v1(&server).users().list().await.unwrap_err(),
        v1(&server).users().list_accounts().await.unwrap_err(),
    ] {
        assert!(
            matches!(err, Error::DomainNotRegistered { ref domain } if domain == "example.com"),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn a_bad_record_is_named_in_the_error() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/orgs/example.com/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"users": [
            {"primary_email": "ok@example.com", "type": "end_user", "is_active": true},
            {"primary_email": "bad@example.com", "type": "end_user", "is_active": "sometimes"}
        ]})))
        .mount(&server)
        .await;
    let err = v1(&server).users().list().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("bad@example.com") && text.contains("is_active"),
        "{text}"
    );
    let planning = v1(&server).users().list_accounts().await.unwrap_err();
    assert_eq!(planning.to_string(), text);
}

/// Planning reads the listing without the objects (`list_accounts`),
/// straight from the text: every shape the object-by-object reading
/// accepts must come out the same, field for field.
#[tokio::test]
async fn the_planning_listing_reads_every_account_as_the_full_listing_does() {
    let server = server().await;
    let mut users = json(USERS_FIXTURE)["users"].as_array().unwrap().clone();
    users.extend([
        json!({"uid": 1, "primary_email": "Zoe@Example.com", "firstname": "Zo\u{eb} \"Z\"",
               "surname": "   ", "alias_emails": null, "type": null, "is_active": null,
               "odin_settings": {"nested": [1, {"deep": true}]}, "extra": "ignored"}),
        json!({"primary_email": "safe@example.com", "safe_list_senders": ["a.example"],
               "block_list_senders": ["b.example"], "is_billable": false}),
        json!({"primary_email": "both@example.com", "white_list_senders": null,
               "safe_list_senders": ["not.read"], "black_list_senders": ["c.example"],
               "block_list_senders": ["not.read"], "type": "something_new"}),
    ]);
    Mock::given(method("GET"))
        .and(path("/api/v1/orgs/example.com/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"users": users})))
        .expect(2)
        .mount(&server)
        .await;
    let client = v1(&server);
    let full: Vec<Account> = (client.users().list().await)
        .map(|users| users.into_iter().map(|u| u.into_account()).collect())
        .unwrap_or_else(|e| panic!("{e}"));
    let planning = client.users().list_accounts().await;
    assert_eq!(planning.map_err(|e| e.to_string()), Ok(full.clone()));
    let zoe = &full[3];
    assert_eq!(zoe.first_name.as_deref(), Some("Zo\u{eb} \"Z\""));
    assert_eq!(
        (zoe.last_name.as_ref(), zoe.aliases.len(), zoe.active),
        (None, 0, true)
    );
    assert!(
        full[4].allow_senders.contains("a.example") && full[4].block_senders.contains("b.example")
    );
    assert!(full[5].allow_senders.is_empty() && full[5].block_senders.contains("c.example"));
}

#[tokio::test]
async fn get_percent_encodes_the_address() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(
            "/api/v1/orgs/example.com/users/o%27brien%2Btag%40example.com",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "primary_email": "o'brien+tag@example.com", "type": "end_user", "is_active": true
        })))
        .expect(1)
        .mount(&server)
        .await;
    let user = v1(&server)
        .users()
        .get(&email("o'brien+tag@example.com"))
        .await
        .unwrap();
    assert_eq!(
        user.account().primary_email.as_str(),
        "o'brien+tag@example.com"
    );
}

#[tokio::test]
async fn get_of_a_missing_user_is_not_found_and_not_retried() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/orgs/example.com/users/nobody%40example.com"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "User not found"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = v1(&server)
        .users()
        .get(&email("nobody@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(err.status(), Some(404));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn create_posts_one_object_with_the_welcome_choice_and_no_billable() {
    let server = server().await;
    let expected_body = json!({
        "primary_email": "new.one@example.com",
        "firstname": "New",
        "surname": "One",
        "alias_emails": ["n1@example.com"],
        "type": "end_user",
        "is_active": true,
        "send_welcome_email": false
    });
    Mock::given(method("POST"))
        .and(path("/api/v1/orgs/example.com/users"))
        .and(body_json(&expected_body))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "users": [{"uid": 2001, "primary_email": "new.one@example.com", "firstname": "New",
                       "surname": "One", "alias_emails": ["n1@example.com"], "type": "end_user",
                       "is_active": true, "is_billable": true}],
            "errors": []
        })))
        .expect(1)
        .mount(&server)
        .await;
    let account = Account::new(email("new.one@example.com"))
        .with_names("New", "One")
        .with_aliases([email("n1@example.com")]);
    let created = v1(&server)
        .users()
        .create(NewUser::new(account, WelcomeEmail::DontSend))
        .await
        .unwrap();
    assert_eq!(created.field("uid"), Some(&json!(2001)));
    assert_eq!(created.account().billable, Some(true));
}

#[tokio::test]
async fn create_with_password_and_welcome_letter() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/orgs/example.com/users"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"users": [
            {"primary_email": "p@example.com", "type": "end_user", "is_active": true}], "errors": []})))
        .expect(1)
        .mount(&server)
        .await;
    v1(&server)
        .users()
        .create(
            NewUser::new(Account::new(email("p@example.com")), WelcomeEmail::Send)
                .with_password("Initial-1".into()),
        )
        .await
        .unwrap();
    let sent = &bodies(&server, "POST").await[0];
    assert_eq!(sent["send_welcome_email"], json!(true));
    assert_eq!(sent["password"], json!("Initial-1"));
    assert!(sent.get("is_billable").is_none());
}

#[tokio::test]
async fn create_refused_for_an_unregistered_domain_names_the_domain() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/orgs/example.com/users"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "message": "Domain typo.example is not registered to this organization"})))
        .expect(1)
        .mount(&server)
        .await;
    let err = v1(&server)
        .users()
        .create(NewUser::new(
            Account::new(email("bob@typo.example")),
            WelcomeEmail::DontSend,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DomainNotRegistered { ref domain } if domain == "typo.example"),
        "{err:?}"
    );
}

#[tokio::test]
async fn bulk_create_posts_an_array_and_reports_per_item_errors() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/orgs/example.com/users"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json(include_str!("fixtures/v1_bulk_response.json"))),
        )
        .expect(1)
        .mount(&server)
        .await;
    let users = [
        "new.one@example.com",
        "taken@example.com",
        "bob@typo.example",
    ]
    .map(|e| NewUser::new(Account::new(email(e)), WelcomeEmail::DontSend));
    let report = v1(&server)
        .users()
        .create_many(users.to_vec())
        .await
        .unwrap();
    let sent = &bodies(&server, "POST").await[0];
    assert_eq!(sent.as_array().map(Vec::len), Some(3));
    assert_eq!(report.created.len(), 1);
    assert_eq!(
        report.created[0].account().primary_email.as_str(),
        "new.one@example.com"
    );
    assert_eq!(report.failed.len(), 2);
    assert_eq!(report.failed[0].identifier, "taken@example.com");
    assert!(matches!(report.failed[0].error, Error::Conflict { .. }));
    assert!(
        matches!(report.failed[1].error, Error::DomainNotRegistered { ref domain } if domain == "typo.example"),
        "{:?}",
        report.failed[1].error
    );
}

async fn mount_ann(server: &wiremock::MockServer) {
    Mock::given(method("GET"))
        .and(path(ANN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json(USER_FIXTURE)))
        .mount(server)
        .await;
}

#[tokio::test]
async fn update_of_one_field_puts_every_other_field_back_unchanged() {
    let server = server().await;
    mount_ann(&server).await;
    Mock::given(method("PUT"))
        .and(path(ANN))
        .and(header("X-User", USER))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let updated = v1(&server)
        .users()
        .update(
            &email("ann.lee@example.com"),
            UserPatch::new().last_name(Some("Lee-Smith")),
        )
        .await
        .unwrap();
    assert_eq!(updated.account().last_name.as_deref(), Some("Lee-Smith"));

    let put = &bodies(&server, "PUT").await[0];
    let mut expected = json(USER_FIXTURE);
    expected["surname"] = json!("Lee-Smith");
    // Everything else exactly as read: white_list_senders, odin_settings,
    // is_billable (false!), uid, x_future …
    assert_eq!(put, &expected);
    assert!(put.get("password").is_none());
    assert_eq!(put["is_billable"], json!(false));
    assert_eq!(put["x_future"], json(USER_FIXTURE)["x_future"]);
}

#[tokio::test]
async fn update_with_a_new_password_is_the_only_way_a_password_is_sent() {
    let server = server().await;
    mount_ann(&server).await;
    Mock::given(method("PUT"))
        .and(path(ANN))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    v1(&server)
        .users()
        .update(
            &email("ann.lee@example.com"),
            UserPatch::new().password("N3w-pass".into()),
        )
        .await
        .unwrap();
    let put = &bodies(&server, "PUT").await[0];
    assert_eq!(put["password"], json!("N3w-pass"));
}

#[tokio::test]
async fn update_changes_aliases_by_adding_and_removing() {
    let server = server().await;
    mount_ann(&server).await;
    Mock::given(method("PUT"))
        .and(path(ANN))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let patch = UserPatch::new()
        .remove_alias(email("a.lee@example.com"))
        .add_alias(email("annie@example.com"))
        .active(false)
        .expect(
            Field::Aliases,
            FieldValue::Addresses([email("ann@example.com"), email("a.lee@example.com")].into()),
        );
    v1(&server)
        .users()
        .update(&email("ann.lee@example.com"), patch)
        .await
        .unwrap();
    let put = &bodies(&server, "PUT").await[0];
    assert_eq!(
        put["alias_emails"],
        json!(["ann@example.com", "annie@example.com"])
    );
    assert_eq!(put["is_active"], json!(false));
    assert_eq!(
        put["white_list_senders"],
        json(USER_FIXTURE)["white_list_senders"]
    );
}

#[tokio::test]
async fn a_stale_precondition_writes_nothing() {
    let server = server().await;
    mount_ann(&server).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .expect(0)
        .mount(&server)
        .await;
    let patch = UserPatch::new()
        .user_type(UserType::FunctionalAccount)
        .expect(Field::LastName, FieldValue::Text(Some("Li".into())));
    let err = v1(&server)
        .users()
        .update(&email("ann.lee@example.com"), patch)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Stale {
                field: Field::LastName,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_update_that_changes_nothing_writes_nothing() {
    let server = server().await;
    mount_ann(&server).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .expect(0)
        .mount(&server)
        .await;
    let same = v1(&server)
        .users()
        .update(
            &email("ann.lee@example.com"),
            UserPatch::new().last_name(Some("Lee")),
        )
        .await
        .unwrap();
    assert_eq!(same.raw(), json(USER_FIXTURE).as_object().unwrap());
}

#[tokio::test]
async fn billable_is_written_only_when_the_patch_sets_it() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/orgs/example.com/users/x%40example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "primary_email": "x@example.com", "type": "end_user", "is_active": true})))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .expect(2)
        .mount(&server)
        .await;
    let client = v1(&server);
    let x = email("x@example.com");
    client
        .users()
        .update(&x, UserPatch::new().first_name(Some("X")))
        .await
        .unwrap();
    client
        .users()
        .update(&x, UserPatch::new().billable(false))
        .await
        .unwrap();
    let puts = bodies(&server, "PUT").await;
    assert!(puts[0].get("is_billable").is_none(), "{}", puts[0]);
    assert_eq!(puts[1]["is_billable"], json!(false));
}

#[tokio::test]
async fn delete_is_204() {
    let server = server().await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/orgs/example.com/users/a%2Fb%40example.com"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    v1(&server)
        .users()
        .delete(&email("a/b@example.com"))
        .await
        .unwrap();
}

#[tokio::test]
async fn org_reads_domains_and_licences() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/orgs/example.com"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json(include_str!("fixtures/v1_org.json"))),
        )
        .expect(1)
        .mount(&server)
        .await;
    let org = v1(&server).org().await.unwrap();
    let names: Vec<&str> = org.domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["example.com", "example.org"]);
    assert!(!org.domains[1].is_active);
    assert_eq!(
        (org.user_licenses, org.active_users),
        (Some(250), Some(212))
    );
}

#[tokio::test]
async fn verify_reads_me() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/me"))
        .and(header("X-User", USER))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json(include_str!("fixtures/v1_me.json"))),
        )
        .expect(1)
        .mount(&server)
        .await;
    let me = v1(&server).verify().await.unwrap();
    assert_eq!(me.login, "admin@example.com");
    assert_eq!(me.user_type, Some(UserType::OrganizationAdmin));
    assert!(!me.read_only);
}

#[tokio::test]
async fn wrong_credentials_are_auth_and_not_retried() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/me"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    let err = v1(&server).verify().await.unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert!(!err.to_string().contains(PASSWORD));
}

#[tokio::test]
async fn endpoints_lists_the_stacks() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/endpoints/example.com"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json(include_str!("fixtures/v1_endpoints.json"))),
        )
        .expect(1)
        .mount(&server)
        .await;
    let endpoints = v1(&server).endpoints("example.com").await.unwrap();
    assert_eq!(
        endpoints,
        [Value::from("https://us3.proofpointessentials.com")]
    );
}

#[tokio::test]
async fn groups_are_unsupported_on_v1_without_a_request() {
    let server = server().await;
    let client = v1(&server);
    assert!(!client.capabilities().groups);
    let err = client.groups().list().await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_password_the_server_returns_is_dropped_and_never_put_back() {
    let server = server().await;
    let mut leaky = json(USER_FIXTURE);
    leaky["password"] = json!("should-never-be-read");
    Mock::given(method("GET"))
        .and(path(ANN))
        .respond_with(ResponseTemplate::new(200).set_body_json(&leaky))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(ANN))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = v1(&server);
    let ann = email("ann.lee@example.com");
    assert!(
        client
            .users()
            .get(&ann)
            .await
            .unwrap()
            .field("password")
            .is_none()
    );
    client
        .users()
        .update(&ann, UserPatch::new().active(false))
        .await
        .unwrap();
    assert!(bodies(&server, "PUT").await[0].get("password").is_none());
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/me"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("Location", "https://elsewhere.example/steal"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = v1(&server).verify().await.unwrap_err();
    assert_eq!(err.status(), Some(302), "{err:?}");
}

/// A listing whose records decode costs no error text; one that does not
/// decode is named, and quoted in the error (the excerpt is written only
/// then, so it must still be written then).
#[tokio::test]
async fn a_listed_record_that_does_not_decode_is_named_and_quoted() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/orgs/example.com/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"users": [
            {"primary_email": "ann@example.com", "type": "end_user"},
            {"primary_email": "not an address", "firstname": "Bo", "type": "end_user"}
        ]})))
        .expect(2)
        .mount(&server)
        .await;
    let err = v1(&server).users().list().await.unwrap_err();
    let planning = v1(&server).users().list_accounts().await.unwrap_err();
    assert_eq!(format!("{planning:?}"), format!("{err:?}"));
    let Error::Decode {
        reason,
        body_excerpt,
        ..
    } = &err
    else {
        panic!("expected a decode error, got {err:?}");
    };
    assert!(
        reason.starts_with("record \"not an address\": "),
        "{reason}"
    );
    assert!(
        body_excerpt.contains("\"firstname\":\"Bo\""),
        "{body_excerpt}"
    );
    assert!(!body_excerpt.contains("ann@example.com"), "{body_excerpt}");
}
