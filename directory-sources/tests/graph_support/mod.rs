//! What the Graph test files share: the tenant and its credentials, a
//! sleeper that records waits instead of waiting, the recorded-shape
//! fixtures, and a mock server that refuses whatever is not mocked.

// Each test file uses the part it needs.
#![allow(dead_code)]

use std::sync::Mutex;
use std::time::Duration;

use muster_directory::{Error, Sleep};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

pub(crate) const TENANT: &str = "contoso.onmicrosoft.com";
pub(crate) const CLIENT_ID: &str = "8f0e2d4c-0000-4000-8000-000000000001";
pub(crate) const SECRET: &str = "Xy7~q8Q.s3cret-value-never-shown";
/// The access token `fixtures/graph/token.json` issues.
pub(crate) const ACCESS_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJub25jZSI6Im11c3Rlci10ZXN0In0.eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20ifQ.c2lnbmF0dXJl";
pub(crate) const TOKEN_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/token";

/// The `authorization` header a request with the fixture's token carries.
pub(crate) fn bearer() -> String {
    format!("Bearer {ACCESS_TOKEN}")
}

/// Records every wait instead of waiting.
#[derive(Debug, Default)]
pub(crate) struct Waits(Mutex<Vec<Duration>>);

#[async_trait::async_trait]
impl Sleep for Waits {
    async fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

impl Waits {
    /// The waits so far, in whole seconds.
    pub(crate) fn seconds(&self) -> Vec<u64> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(Duration::as_secs)
            .collect()
    }

    /// Asserts that the waits so far are the source's own backoff (Graph
    /// named no wait): `retries` of them, the n-th (1-based) jittered
    /// within [c/2, c] of c = 1 s × 2^(n-1), so that clients that failed
    /// together do not retry together, and none retries at once.
    pub(crate) fn assert_own_backoff(&self, retries: usize) {
        let waits = self.0.lock().unwrap().clone();
        assert_eq!(waits.len(), retries, "{waits:?}");
        for (i, wait) in waits.iter().enumerate() {
            let ceiling = Duration::from_secs(1 << i);
            assert!(
                *wait >= ceiling / 2 && *wait <= ceiling,
                "retry {}: {wait:?} (all: {waits:?})",
                i + 1
            );
        }
    }
}

/// `tests/fixtures/graph/{name}.json`, with `{base}` replaced by the mock
/// server's address.
pub(crate) fn fixture(server: &MockServer, name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/graph/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {path}: {e}"))
        .replace("{base}", &server.uri())
}

/// A JSON response.
pub(crate) fn json(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "application/json")
}

/// A mock server that answers anything not mocked with a readable refusal
/// (418: not retried), so a request the source should not make fails the
/// test instead of hanging it.
pub(crate) async fn refusing_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(418).set_body_string("not mocked"))
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

/// `err` is Graph's 503 `serviceNotAvailable` (the fixture
/// `error_unavailable`) on page `page`, after the retries.
pub(crate) fn assert_page_unavailable(err: &Error, page: usize) {
    match err {
        Error::Graph {
            page: failed,
            status,
            code,
            ..
        } => {
            assert_eq!(*failed, page);
            assert_eq!(*status, Some(503));
            assert_eq!(code.as_deref(), Some("serviceNotAvailable"));
        }
        other => panic!("expected a Graph error, got {other:?}"),
    }
}
