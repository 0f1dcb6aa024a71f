//! The seed-003 "v2" shape against wiremock: Basic auth, paging, camelCase,
//! alias records, groups.

mod common;

use base64::Engine;
use common::*;
use muster_core::{Account, UserType};
use muster_gateway::{Error, NewUser, UserPatch, WelcomeEmail};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn basic() -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("api-key-123:{PASSWORD}"));
    format!("Basic {token}")
}

async fn mount_pages(server: &MockServer) {
    for (page, fixture) in [
        ("1", include_str!("fixtures/v2_users_page1.json")),
        ("2", include_str!("fixtures/v2_users_page2.json")),
    ] {
        Mock::given(method("GET"))
            .and(path("/v2/users"))
            .and(query_param("page", page))
            .and(query_param("pageSize", "2"))
            .and(header("Authorization", basic().as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json(fixture)))
            .expect(1)
            .mount(server)
            .await;
    }
}

#[tokio::test]
async fn list_reads_every_page_with_basic_auth_and_folds_alias_records() {
    let server = server().await;
    mount_pages(&server).await;
    let client = v2(&server);
    assert!(client.capabilities().paging);
    let users = client.users().list().await.unwrap();
    assert_eq!(users.len(), 2, "the Alias record is not a user");
    let boss = users
        .iter()
        .find(|u| u.account().primary_email.as_str() == "boss@example.com")
        .unwrap();
    assert_eq!(boss.account().user_type, UserType::OrganizationAdmin);
    assert!(!boss.account().active);
    let jane = users
        .iter()
        .find(|u| u.account().primary_email.as_str() == "jane@example.com")
        .unwrap();
    let aliases: Vec<&str> = jane.account().aliases.iter().map(|a| a.as_str()).collect();
    assert_eq!(aliases, ["j.doe@example.com"]);
    assert!(jane.account().groups.contains("Sales"));
    let req = &server.received_requests().await.unwrap()[0];
    assert!(req.headers.get("x-password").is_none());
}

#[tokio::test]
async fn a_listing_short_of_its_total_is_an_error_not_a_short_list() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v2/users"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "users": [{"primaryEmail": "a@example.com", "type": "User"}], "total": 5})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/users"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"users": [], "total": 5})))
        .mount(&server)
        .await;
    let err = v2(&server).users().list().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Truncated {
                expected: 5,
                received: 1
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn update_puts_the_whole_camel_case_object() {
    let server = server().await;
    let fixture = include_str!("fixtures/v2_user.json");
    Mock::given(method("GET"))
        .and(path("/v2/users/jane%40example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json(fixture)))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/users/jane%40example.com"))
        .and(header("Authorization", basic().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json(fixture)))
        .expect(1)
        .mount(&server)
        .await;
    v2(&server)
        .users()
        .update(
            &email("jane@example.com"),
            UserPatch::new().last_name(Some("Smith")).active(false),
        )
        .await
        .unwrap();
    let put = &bodies(&server, "PUT").await[0];
    let mut expected = json(fixture);
    expected["lastName"] = json!("Smith");
    expected["status"] = json!("inactive");
    assert_eq!(put, &expected, "spamPolicy, mailboxSize, roles… unchanged");
}

#[tokio::test]
async fn fields_v2_does_not_have_are_unsupported_not_silently_dropped() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v2/users/jane%40example.com"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json(include_str!("fixtures/v2_user.json"))),
        )
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .expect(0)
        .mount(&server)
        .await;
    let err = v2(&server)
        .users()
        .update(&email("jane@example.com"), UserPatch::new().billable(false))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
}

#[tokio::test]
async fn create_posts_camel_case_and_delete_is_204() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/v2/users"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "primaryEmail": "newuser@example.com", "firstName": "John", "lastName": "Smith",
            "type": "User", "status": "active"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v2/users/newuser%40example.com"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = v2(&server);
    let account = Account::new(email("newuser@example.com")).with_names("John", "Smith");
    let created = client
        .users()
        .create(NewUser::new(account, WelcomeEmail::Send).with_password("Temp@1234".into()))
        .await
        .unwrap();
    assert_eq!(created.account().last_name.as_deref(), Some("Smith"));
    let sent = &bodies(&server, "POST").await[0];
    assert_eq!(
        sent,
        &json!({"primaryEmail": "newuser@example.com", "firstName": "John", "lastName": "Smith",
                "type": "User", "status": "active", "password": "Temp@1234", "sendWelcomeEmail": true})
    );
    client
        .users()
        .delete(&email("newuser@example.com"))
        .await
        .unwrap();
}

#[tokio::test]
async fn create_many_without_bulk_creates_one_by_one() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/v2/users"))
        .respond_with(ResponseTemplate::new(201))
        .expect(2)
        .mount(&server)
        .await;
    let users = ["a@example.com", "b@example.com"]
        .map(|e| NewUser::new(Account::new(email(e)), WelcomeEmail::DontSend));
    let report = v2(&server)
        .users()
        .create_many(users.to_vec())
        .await
        .unwrap();
    assert_eq!(report.created.len(), 2);
    assert!(bodies(&server, "POST").await.iter().all(|b| b.is_object()));
}

#[tokio::test]
async fn groups_and_members() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v2/groups"))
        .and(query_param("page", "1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json(include_str!("fixtures/v2_groups.json"))),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/groups/grp_001/members"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json(include_str!("fixtures/v2_members.json"))),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/groups/grp_001/members"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"groupId": "grp_001", "primaryEmail": "new@example.com"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v2/groups/grp_001/members/jane%40example.com"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = v2(&server);
    let groups = client.groups().list().await.unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(
        (
            groups[0].id.as_str(),
            groups[0].name.as_str(),
            groups[0].member_count
        ),
        ("grp_001", "Sales", Some(2))
    );
    let members = client.groups().members("grp_001").await.unwrap();
    assert_eq!(
        members,
        [email("jane@example.com"), email("boss@example.com")]
    );
    client
        .groups()
        .add_member("grp_001", &email("new@example.com"))
        .await
        .unwrap();
    assert_eq!(
        bodies(&server, "POST").await[0],
        json!({"primaryEmail": "new@example.com"})
    );
    client
        .groups()
        .remove_member("grp_001", &email("jane@example.com"))
        .await
        .unwrap();
}

#[tokio::test]
async fn org_and_stack_discovery_are_unsupported_on_v2() {
    let server = server().await;
    let client = v2(&server);
    assert!(matches!(client.org().await, Err(Error::Unsupported { .. })));
    assert!(matches!(
        client.endpoints("example.com").await,
        Err(Error::Unsupported { .. })
    ));
}

#[tokio::test]
async fn the_stream_reads_pages_only_as_far_as_it_is_consumed() {
    use futures::StreamExt;
    use muster_gateway::Listed;
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v2/users"))
        .and(query_param("page", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json(include_str!("fixtures/v2_users_page1.json"))),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/users"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json(include_str!("fixtures/v2_users_page2.json"))),
        )
        .expect(0)
        .mount(&server)
        .await;
    let client = v2(&server);
    let first_two: Vec<Listed> = client
        .users()
        .stream()
        .take(2)
        .map(Result::unwrap)
        .collect()
        .await;
    assert!(
        matches!(&first_two[0], Listed::User(u) if u.account().primary_email.as_str() == "jane@example.com")
    );
    assert!(
        matches!(&first_two[1], Listed::Alias { address, user } if address.as_str() == "j.doe@example.com" && user.as_str() == "jane@example.com")
    );
}
