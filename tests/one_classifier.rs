//! The one classifier (issue #19, "A test of the one classifier"): the
//! gateway client and the Entra ID source retry, or fail, on the same
//! statuses, because both ask [`muster_core::retry`]. Each status of the
//! table is driven through both HTTP paths against wiremock: the gateway's
//! user listing, Graph's token request and Graph's users page. Every path
//! answers the status once and then a success; what is compared is whether
//! the retry policy waited and sent the request again.
//!
//! Waits go through a recording [`Sleep`] on both clients, so no test
//! sleeps for a backoff (the gateway's limiter honours a 429's
//! `Retry-After` on the real clock: that case asks for 1 s).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use muster_core::Sleep;
use muster_core::retry::{AttemptOutcome, RetryAction, classify, honours_retry_after};
use muster_directory::{DirectorySource, GraphSource};
use muster_gateway::{Client, RateLimit, RetryConfig};
use serde_json::json;
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The statuses the table distinguishes and their neighbours: the
/// transient ones, the definite refusals, and the 5xx a server uses for
/// "never" (501), which neither retries.
const STATUSES: [u16; 15] = [
    408, 425, 429, 500, 501, 502, 503, 504, 400, 401, 403, 404, 409, 410, 422,
];

const USERS_V1: &str = "/api/v1/orgs/example.com/users";
const TENANT: &str = "contoso.onmicrosoft.com";
const TOKEN_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/token";
const GRAPH_USERS: &str = "/v1.0/users";

/// Records every wait instead of waiting.
#[derive(Debug, Default)]
struct Waits(Mutex<Vec<Duration>>);

#[async_trait::async_trait]
impl Sleep for Waits {
    async fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

impl Waits {
    fn all(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

/// What one path did with a status answered once.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    /// The retry policy waited and sent the request again.
    retried: bool,
    /// The call succeeded in the end.
    succeeded: bool,
    /// The waits the policy asked for.
    waits: Vec<Duration>,
}

/// What the table says for `status`.
fn classifier_retries(status: u16) -> bool {
    matches!(
        classify(AttemptOutcome::Status(status)),
        RetryAction::RetryIndicated(_)
    )
}

/// A mock server whose unmatched requests get a 418 (not retried by
/// anyone), so a request nobody mocked fails the test instead of being
/// retried into a pass.
async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(418).set_body_string("not mocked"))
        .with_priority(u8::MAX)
        .named("catch-all: not mocked")
        .mount(&server)
        .await;
    server
}

/// `verb path` answers `first` once, then `ok`.
async fn once_then(
    server: &MockServer,
    verb: &str,
    p: &str,
    first: ResponseTemplate,
    ok: ResponseTemplate,
) {
    Mock::given(method(verb))
        .and(path(p))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method(verb))
        .and(path(p))
        .respond_with(ok)
        .with_priority(2)
        .mount(server)
        .await;
}

async fn requests(server: &MockServer, verb: &str, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == p)
        .count()
}

/// A refusal with a body each client can read a message from.
fn refusal(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "message": "no",
        "error": {"code": "refused", "message": "no"}
    }))
}

/// Backoff small enough to be real: the same settings on both clients.
fn fast_retry() -> RetryConfig {
    RetryConfig::standard()
        .with_initial_backoff(Duration::from_millis(10))
        .with_max_backoff(Duration::from_millis(40))
        .with_max_attempts(4)
}

fn gateway(server: &MockServer, waits: &Arc<Waits>) -> Client {
    Client::builder()
        .essentials(&server.uri(), "example.com")
        .credentials("admin@example.com", "S3cret-Pa55word!".into())
        .retry(fast_retry())
        .rate_limit(RateLimit::per_minute(600_000).with_burst(1_000))
        .sleeper(Arc::clone(waits) as Arc<dyn Sleep>)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn graph(server: &MockServer, waits: &Arc<Waits>) -> GraphSource {
    GraphSource::new(TENANT, "app-id", "Xy7~q8Q.s3cret".into())
        .authority(&server.uri())
        .graph_url(&format!("{}/v1.0", server.uri()))
        .max_retries(3)
        .timeout(Duration::from_secs(5))
        .sleeper(Arc::clone(waits) as Arc<dyn Sleep>)
}

fn token() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ0.eyJh.c2ln"
    }))
}

fn one_user() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"value": [{
        "id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "mail": "cy@example.com",
        "proxyAddresses": ["SMTP:cy@example.com"],
        "userPrincipalName": "cy@example.com",
        "userType": "Member",
        "accountEnabled": true
    }]}))
}

/// The gateway's listing answers `first` once.
async fn through_gateway(first: ResponseTemplate) -> Seen {
    let server = server().await;
    once_then(
        &server,
        "GET",
        USERS_V1,
        first,
        ResponseTemplate::new(200).set_body_json(json!({"users": []})),
    )
    .await;
    let waits = Arc::new(Waits::default());
    let succeeded = gateway(&server, &waits).users().list().await.is_ok();
    let sent = requests(&server, "GET", USERS_V1).await;
    let waits = waits.all();
    assert_eq!(
        sent,
        1 + waits.len(),
        "gateway: one request per wait, plus the first"
    );
    Seen {
        retried: !waits.is_empty(),
        succeeded,
        waits,
    }
}

/// Graph's token request answers `first` once.
async fn through_graph_token(first: ResponseTemplate) -> Seen {
    let server = server().await;
    once_then(&server, "POST", TOKEN_PATH, first, token()).await;
    Mock::given(method("GET"))
        .and(path(GRAPH_USERS))
        .respond_with(one_user())
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let succeeded = graph(&server, &waits).fetch().await.is_ok();
    let sent = requests(&server, "POST", TOKEN_PATH).await;
    let waits = waits.all();
    assert_eq!(
        sent,
        1 + waits.len(),
        "Graph token: one request per wait, plus the first"
    );
    Seen {
        retried: !waits.is_empty(),
        succeeded,
        waits,
    }
}

/// Graph's users page answers `first` once. A 401 there is not a retry:
/// the source fetches a new token (an app-only token expires within the
/// hour) and sends the page once more without waiting, which is why it is
/// compared by the waits and counted apart.
async fn through_graph_page(status: u16, first: ResponseTemplate) -> Seen {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(token())
        .mount(&server)
        .await;
    once_then(&server, "GET", GRAPH_USERS, first, one_user()).await;
    let waits = Arc::new(Waits::default());
    let read = graph(&server, &waits).fetch().await;
    let sent = requests(&server, "GET", GRAPH_USERS).await;
    let waits = waits.all();
    let refreshed = usize::from(status == 401);
    assert_eq!(
        sent,
        1 + waits.len() + refreshed,
        "Graph page {status}: one request per wait (and per new token), plus the first"
    );
    Seen {
        retried: !waits.is_empty(),
        // A page refused with 401 succeeds with the new token: the
        // outcome of a refresh, not of the retry policy.
        succeeded: read.is_ok() && status != 401,
        waits,
    }
}

#[tokio::test]
async fn the_gateway_and_graph_retry_on_exactly_the_same_statuses() {
    let mut table = Vec::new();
    for status in STATUSES {
        let expected = classifier_retries(status);
        let gateway = through_gateway(refusal(status)).await;
        let token = through_graph_token(refusal(status)).await;
        let page = through_graph_page(status, refusal(status)).await;
        for (who, seen) in [
            ("gateway", &gateway),
            ("Graph token", &token),
            ("Graph page", &page),
        ] {
            assert_eq!(seen.retried, expected, "{who}, status {status}: {seen:?}");
            assert_eq!(
                seen.succeeded, expected,
                "{who}, status {status}: a retried status succeeds on the second answer, \
                 a refused one fails: {seen:?}"
            );
            assert!(seen.waits.len() <= 1, "{who}, status {status}: {seen:?}");
        }
        table.push((status, gateway.retried));
    }
    // The table itself, so a change to the classifier is seen here too.
    let retried: Vec<u16> = table.iter().filter(|(_, r)| *r).map(|(s, _)| *s).collect();
    assert_eq!(retried, [408, 429, 500, 502, 503, 504]);
}

/// A `Retry-After` is an instruction on 429 and 503 only, on both clients;
/// on another retried status the backoff schedule decides.
#[tokio::test]
async fn both_honour_retry_after_on_the_same_statuses() {
    for status in [429, 503, 500, 502] {
        let asked = || refusal(status).insert_header("Retry-After", "1");
        let seen = [
            ("gateway", through_gateway(asked()).await),
            ("Graph token", through_graph_token(asked()).await),
            ("Graph page", through_graph_page(status, asked()).await),
        ];
        for (who, seen) in seen {
            let expected = if honours_retry_after(status) {
                vec![Duration::from_secs(1)]
            } else {
                // The schedule's own wait, shorter than the 1 s asked for.
                assert!(
                    seen.waits.len() == 1 && seen.waits[0] < Duration::from_secs(1),
                    "{who}, status {status}: {seen:?}"
                );
                seen.waits.clone()
            };
            assert_eq!(seen.waits, expected, "{who}, status {status}");
        }
    }
}

/// Nothing listens: the connection is never made, and both retry it (a
/// request that was never sent is safe to send again) until the attempts
/// are used up, then fail.
#[tokio::test]
async fn both_retry_a_refused_connection_the_same_number_of_times() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let gateway_waits = Arc::new(Waits::default());
    let listed = Client::builder()
        .essentials(&url, "example.com")
        .credentials("admin@example.com", "S3cret-Pa55word!".into())
        .retry(fast_retry())
        .rate_limit(RateLimit::per_minute(600_000).with_burst(1_000))
        .sleeper(Arc::clone(&gateway_waits) as Arc<dyn Sleep>)
        .build()
        .unwrap()
        .users()
        .list()
        .await;
    let graph_waits = Arc::new(Waits::default());
    let read = GraphSource::new(TENANT, "app-id", "Xy7~q8Q.s3cret".into())
        .authority(&url)
        .graph_url(&url)
        .max_retries(3)
        .sleeper(Arc::clone(&graph_waits) as Arc<dyn Sleep>)
        .fetch()
        .await;
    assert!(listed.is_err() && read.is_err());
    assert_eq!(gateway_waits.all().len(), 3, "{:?}", gateway_waits.all());
    assert_eq!(graph_waits.all().len(), 3, "{:?}", graph_waits.all());
}
