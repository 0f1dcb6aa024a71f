//! The one classifier, driven through the gateway client's HTTP path: for
//! every status of the table, the client retries exactly when
//! `muster_core::retry::classify` says so, a POST only when the request
//! was certainly not processed, and a PUT left in doubt is settled by one
//! read. (The Entra ID source is held to the same table in the workspace
//! test `tests/one_classifier.rs`.)

mod common;

use common::*;
use muster_core::retry::{AttemptOutcome, RetryAction, classify};
use muster_gateway::{Error, NewUser, UserPatch, WelcomeEmail};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USERS: &str = "/api/v1/orgs/example.com/users";
const ANN: &str = "/api/v1/orgs/example.com/users/ann%40example.com";

/// Every status class the table distinguishes, and its neighbours.
const STATUSES: [u16; 17] = [
    200, 201, 301, 302, 400, 401, 403, 404, 408, 409, 422, 429, 500, 501, 502, 503, 504,
];

fn retried(status: u16) -> bool {
    matches!(
        classify(AttemptOutcome::Status(status)),
        RetryAction::RetryIndicated(_)
    )
}

/// `status` once, then a success; returns how many requests were made and
/// whether the call succeeded.
/// A success answers with `ok_body`, anything else with an error message.
async fn once_then_ok(
    verb: &str,
    p: &str,
    status: u16,
    ok_body: serde_json::Value,
) -> (usize, bool, MockServer) {
    let server = server().await;
    let first = if (200..300).contains(&status) {
        ok_body.clone()
    } else {
        json!({"message": "no"})
    };
    let ok = ResponseTemplate::new(200).set_body_json(ok_body);
    Mock::given(method(verb))
        .and(path(p))
        .respond_with(ResponseTemplate::new(status).set_body_json(first))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method(verb))
        .and(path(p))
        .respond_with(ok)
        .with_priority(2)
        .mount(&server)
        .await;
    let client = v1(&server);
    let ok = match verb {
        "GET" => client.users().list().await.is_ok(),
        _ => client
            .users()
            .create(NewUser::new(
                muster_core::Account::new(email("new@example.com")),
                WelcomeEmail::DontSend,
            ))
            .await
            .is_ok(),
    };
    let n = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == verb)
        .count();
    (n, ok, server)
}

#[tokio::test]
async fn a_read_is_retried_on_exactly_the_statuses_the_classifier_retries() {
    for status in STATUSES {
        let (requests, succeeded, _server) =
            once_then_ok("GET", USERS, status, json!({"users": []})).await;
        let success = (200..300).contains(&status);
        let expected = if retried(status) { 2 } else { 1 };
        assert_eq!(requests, expected, "status {status}");
        assert_eq!(succeeded, success || retried(status), "status {status}");
    }
}

#[tokio::test]
async fn a_create_is_sent_again_only_when_the_classifier_says_it_was_not_processed() {
    let created = json!({"users": [{"uid": 9, "primary_email": "new@example.com", "type": "end_user"}], "errors": []});
    for status in [429, 408, 500, 502, 503, 504, 400, 403] {
        let (posts, _, server) = once_then_ok("POST", USERS, status, created.clone()).await;
        let action = classify(AttemptOutcome::Status(status));
        let resent = matches!(action, RetryAction::RetryIndicated(_)) && !action.is_ambiguous();
        // An ambiguous answer is read back first (here: the user is not
        // found, the catch-all's 500 on GET), never blindly posted again.
        let expected = if resent { 2 } else { 1 };
        assert_eq!(posts, expected, "status {status}");
        drop(server);
    }
}

#[tokio::test]
async fn a_put_left_in_doubt_is_settled_by_one_read_of_what_landed() {
    let server = server().await;
    let before = json!({"primary_email": "ann@example.com", "firstname": "Ann", "surname": "Lee"});
    let after =
        json!({"primary_email": "ann@example.com", "firstname": "Ann", "surname": "Lee-Smith"});
    Mock::given(method("GET"))
        .and(path(ANN))
        .respond_with(ResponseTemplate::new(200).set_body_json(before))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ANN))
        .respond_with(ResponseTemplate::new(200).set_body_json(after))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    // The PUT lands, but every answer is a 502.
    Mock::given(method("PUT"))
        .and(path(ANN))
        .respond_with(ResponseTemplate::new(502))
        .expect(4)
        .mount(&server)
        .await;
    let user = v1(&server)
        .users()
        .update(
            &email("ann@example.com"),
            UserPatch::new().last_name(Some("Lee-Smith")),
        )
        .await
        .unwrap();
    assert_eq!(user.account().last_name.as_deref(), Some("Lee-Smith"));
}

#[tokio::test]
async fn a_put_left_in_doubt_that_did_not_land_is_still_a_failure() {
    let server = server().await;
    let before = json!({"primary_email": "ann@example.com", "firstname": "Ann", "surname": "Lee"});
    Mock::given(method("GET"))
        .and(path(ANN))
        .respond_with(ResponseTemplate::new(200).set_body_json(before))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(ANN))
        .respond_with(ResponseTemplate::new(503))
        .expect(4)
        .mount(&server)
        .await;
    let err = v1(&server)
        .users()
        .update(
            &email("ann@example.com"),
            UserPatch::new().last_name(Some("Lee-Smith")),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    assert!(err.is_ambiguous());
    assert!(matches!(err, Error::Api { .. }));
}
