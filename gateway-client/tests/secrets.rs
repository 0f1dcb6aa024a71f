//! Credentials never appear in Debug, Display, error chains or tracing
//! output — checked on errors the client really produces, one per variant.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine;
use common::*;
use muster_core::{Account, Field};
use muster_gateway::{Client, Error, FieldValue, NewUser, RetryConfig, UserPatch, WelcomeEmail};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Every rendering of `e` a log or a user could see.
fn renderings(e: &Error) -> String {
    let mut out = format!("{e:?}\n{e}\n{e:#?}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        out.push_str(&format!("\n{cause}\n{cause:?}"));
        source = cause.source();
    }
    out
}

fn assert_clean(text: &str) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("api-key-123:{PASSWORD}"));
    assert!(!text.contains(PASSWORD), "password leaked: {text}");
    assert!(!text.contains(&basic), "basic token leaked: {text}");
}

async fn status(server: &MockServer, verb: &str, p: &str, response: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(p))
        .respond_with(response)
        .mount(server)
        .await;
}

#[tokio::test]
async fn no_error_variant_shows_a_credential() {
    let server = server().await;
    let users = "/api/v1/orgs/example.com/users";
    status(&server, "GET", "/api/v1/me", ResponseTemplate::new(401)).await;
    status(
        &server,
        "DELETE",
        &format!("{users}/ro%40example.com"),
        ResponseTemplate::new(403).set_body_json(json!({"message": "read-only"})),
    )
    .await;
    status(
        &server,
        "GET",
        &format!("{users}/gone%40example.com"),
        ResponseTemplate::new(404),
    )
    .await;
    status(
        &server,
        "POST",
        users,
        ResponseTemplate::new(409).set_body_json(json!({"message": "exists"})),
    )
    .await;
    status(
        &server,
        "GET",
        &format!("{users}/ann%40example.com"),
        ResponseTemplate::new(200)
            .set_body_json(json!({"primary_email": "ann@example.com", "surname": "Lee"})),
    )
    .await;
    status(
        &server,
        "GET",
        &format!("{users}/broken%40example.com"),
        ResponseTemplate::new(200).set_body_string("<html>oops"),
    )
    .await;
    status(
        &server,
        "GET",
        "/api/v1/orgs/example.com",
        ResponseTemplate::new(429),
    )
    .await;
    status(
        &server,
        "GET",
        "/api/v1/endpoints/example.com",
        ResponseTemplate::new(400).set_body_string("bad"),
    )
    .await;
    let v1 = v1(&server);
    let v2 = v2(&server);
    let refused = Client::builder()
        .essentials("http://127.0.0.1:9", "example.com")
        .credentials(USER, PASSWORD.into())
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    Mock::given(method("GET"))
        .and(path("/v2/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"users": [], "total": 3})))
        .mount(&server)
        .await;
    status(
        &server,
        "POST",
        "/v2/users",
        ResponseTemplate::new(400)
            .set_body_json(json!({"message": "domain typo.example is not registered"})),
    )
    .await;
    let new = |e: &str| NewUser::new(Account::new(email(e)), WelcomeEmail::DontSend);

    let errors: Vec<Error> = vec![
        v1.verify().await.unwrap_err(),
        v1.users()
            .delete(&email("ro@example.com"))
            .await
            .unwrap_err(),
        v1.users()
            .get(&email("gone@example.com"))
            .await
            .unwrap_err(),
        v2.users()
            .create(new("typo@typo.example"))
            .await
            .unwrap_err(),
        v1.users().create(new("dup@example.com")).await.unwrap_err(),
        v1.users()
            .update(
                &email("ann@example.com"),
                UserPatch::new()
                    .password(PASSWORD.into())
                    .expect(Field::LastName, FieldValue::Text(Some("Li".into()))),
            )
            .await
            .unwrap_err(),
        v1.org().await.unwrap_err(),
        v1.endpoints("example.com").await.unwrap_err(),
        refused.users().list().await.unwrap_err(),
        v1.users()
            .get(&email("broken@example.com"))
            .await
            .unwrap_err(),
        v2.users().list().await.unwrap_err(),
        v1.groups().list().await.unwrap_err(),
        Client::builder()
            .essentials("http://remote.example", "example.com")
            .credentials(USER, PASSWORD.into())
            .build()
            .unwrap_err(),
    ];
    let kinds: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            Error::Auth { .. } => "auth",
            Error::Forbidden { .. } => "forbidden",
            Error::NotFound { .. } => "not_found",
            Error::DomainNotRegistered { .. } => "domain",
            Error::Conflict { .. } => "conflict",
            Error::Stale { .. } => "stale",
            Error::RateLimited { .. } => "rate_limited",
            Error::Api { .. } => "api",
            Error::Transport { .. } => "transport",
            Error::Decode { .. } => "decode",
            Error::Truncated { .. } => "truncated",
            Error::Unsupported { .. } => "unsupported",
            Error::Config(_) => "config",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "auth",
            "forbidden",
            "not_found",
            "domain",
            "conflict",
            "stale",
            "rate_limited",
            "api",
            "transport",
            "decode",
            "truncated",
            "unsupported",
            "config"
        ]
    );
    for e in &errors {
        assert_clean(&renderings(e));
    }
    assert_clean(&format!("{v1:?} {v2:?} {refused:?}"));
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tracing_shows_method_path_status_attempt_and_wait_but_no_credentials() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v2/users/jane%40example.com"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/users/jane%40example.com"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"primaryEmail": "jane@example.com"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    v2(&server)
        .users()
        .update(
            &email("jane@example.com"),
            UserPatch::new().password(PASSWORD.into()),
        )
        .await
        .unwrap();
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("gateway.request"), "{log}");
    assert!(log.contains("path=/v2/users/jane%40example.com"), "{log}");
    assert!(
        log.contains("attempt=1") && log.contains("status=503") && log.contains("wait_ms="),
        "{log}"
    );
    assert_clean(&log);
}
