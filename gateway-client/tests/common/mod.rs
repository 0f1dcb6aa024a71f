//! Shared helpers for the wiremock tests.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use muster_gateway::{Client, RateLimit, RetryConfig};
use serde_json::{Map, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const USER: &str = "admin@example.com";
pub const PASSWORD: &str = "S3cret-Pa55word!";

/// A mock server whose unmatched requests get a readable 500.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500).set_body_string("not mocked"))
        .with_priority(u8::MAX)
        .named("catch-all: not mocked")
        .mount(&server)
        .await;
    server
}

/// Retries that are quick in real time.
pub fn fast_retry() -> RetryConfig {
    RetryConfig::standard()
        .with_initial_backoff(Duration::from_millis(10))
        .with_max_backoff(Duration::from_millis(40))
        .with_max_attempts(4)
}

/// A pace no test reaches.
pub fn unlimited() -> RateLimit {
    RateLimit::per_minute(600_000).with_burst(1_000)
}

pub fn v1(server: &MockServer) -> Client {
    Client::builder()
        .essentials(&server.uri(), "example.com")
        .credentials(USER, PASSWORD.into())
        .retry(fast_retry())
        .rate_limit(unlimited())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

pub fn v2(server: &MockServer) -> Client {
    Client::builder()
        .rest_v2(&server.uri())
        .credentials("api-key-123", PASSWORD.into())
        .retry(fast_retry())
        .rate_limit(unlimited())
        .timeout(Duration::from_secs(5))
        .page_size(2)
        .build()
        .unwrap()
}

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

pub fn object(text: &str) -> Map<String, Value> {
    json(text).as_object().unwrap().clone()
}

/// The JSON bodies of the requests the server received with this method.
pub async fn bodies(server: &MockServer, method: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == method)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

pub fn email(s: &str) -> muster_core::EmailAddress {
    s.parse().unwrap()
}
