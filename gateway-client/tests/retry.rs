//! Retries, backoff and ambiguous writes over real HTTP (short real timings;
//! the schedules themselves are unit-tested under paused time).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use muster_core::Account;
use muster_gateway::{Client, Error, NewUser, RateLimit, RateLimiter, Sleep, WelcomeEmail};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USERS: &str = "/api/v1/orgs/example.com/users";
const NEW: &str = "/api/v1/orgs/example.com/users/new%40example.com";

fn new_user() -> NewUser {
    NewUser::new(
        Account::new(email("new@example.com")),
        WelcomeEmail::DontSend,
    )
}

fn created() -> serde_json::Value {
    json!({"users": [{"uid": 9, "primary_email": "new@example.com", "type": "end_user", "is_active": true}], "errors": []})
}

async fn mount(
    server: &MockServer,
    verb: &str,
    p: &str,
    response: ResponseTemplate,
    times: Option<u64>,
    priority: u8,
    expect: u64,
) {
    let mut mock = Mock::given(method(verb))
        .and(path(p))
        .respond_with(response)
        .with_priority(priority);
    if let Some(n) = times {
        mock = mock.up_to_n_times(n);
    }
    mock.expect(expect).mount(server).await;
}

fn users_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"users": []}))
}

#[tokio::test]
async fn a_429_without_retry_after_backs_off_then_succeeds() {
    let server = server().await;
    mount(
        &server,
        "GET",
        USERS,
        ResponseTemplate::new(429),
        Some(2),
        1,
        2,
    )
    .await;
    mount(&server, "GET", USERS, users_ok(), None, 2, 1).await;
    assert!(v1(&server).users().list().await.unwrap().is_empty());
}

/// Records the waits the client asks for and returns at once: the HTTP
/// exchanges stay real, the clock is the test's.
#[derive(Debug, Default)]
struct RecordingSleep(std::sync::Mutex<Vec<Duration>>);

#[async_trait]
impl Sleep for RecordingSleep {
    async fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

impl RecordingSleep {
    fn waits(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

/// Lets every request go at once: the waits observed are the retry
/// schedule's alone. (The default limiter also holds every request back
/// until a `Retry-After` has passed, on tokio's clock; its unit tests show
/// that under a paused clock.)
#[derive(Debug)]
struct Unpaced;

#[async_trait]
impl RateLimiter for Unpaced {
    async fn acquire(&self) {}
    fn throttled(&self) {}
    fn succeeded(&self) {}
}

fn recording_client(
    server: &MockServer,
    retry: muster_gateway::RetryConfig,
) -> (Client, Arc<RecordingSleep>) {
    let sleeper = Arc::new(RecordingSleep::default());
    let client = Client::builder()
        .essentials(&server.uri(), "example.com")
        .credentials(USER, PASSWORD.into())
        .retry(retry)
        .limiter(Arc::new(Unpaced))
        .sleeper(sleeper.clone())
        .build()
        .unwrap();
    (client, sleeper)
}

#[tokio::test]
async fn retry_after_seven_waits_seven_seconds() {
    // The exchanges are real; the wait is observed through an injected
    // sleeper instead of costing the test seven seconds. Without the header
    // the backoff (10-40 ms here) would ask for far less.
    let server = server().await;
    let throttled = ResponseTemplate::new(429).insert_header("Retry-After", "7");
    mount(&server, "GET", USERS, throttled, Some(1), 1, 1).await;
    mount(&server, "GET", USERS, users_ok(), None, 2, 1).await;
    let (client, sleeper) = recording_client(&server, fast_retry());
    client.users().list().await.unwrap();
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(7)]);
}

#[tokio::test]
async fn a_huge_retry_after_is_clamped() {
    let server = server().await;
    let throttled = ResponseTemplate::new(429).insert_header("Retry-After", "86400");
    mount(&server, "GET", USERS, throttled, Some(1), 1, 1).await;
    mount(&server, "GET", USERS, users_ok(), None, 2, 1).await;
    let (client, sleeper) = recording_client(
        &server,
        fast_retry().with_max_retry_after(Duration::from_secs(120)),
    );
    client.users().list().await.unwrap();
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(120)]);
}

#[tokio::test]
async fn without_retry_after_the_waits_follow_the_backoff_schedule() {
    let server = server().await;
    mount(
        &server,
        "GET",
        USERS,
        ResponseTemplate::new(503),
        Some(3),
        1,
        3,
    )
    .await;
    mount(&server, "GET", USERS, users_ok(), None, 2, 1).await;
    let (client, sleeper) = recording_client(&server, fast_retry());
    client.users().list().await.unwrap();
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 3, "{waits:?}");
    // Equal jitter: each wait lies between half the capped exponential step and the step.
    for (attempt, wait) in waits.iter().enumerate() {
        let cap =
            Duration::from_millis(10 * 2u64.pow(attempt as u32)).min(Duration::from_millis(40));
        assert!(
            *wait <= cap && *wait >= cap / 2,
            "attempt {attempt}: {wait:?} vs {cap:?}"
        );
    }
}

#[tokio::test]
async fn three_503s_then_success() {
    let server = server().await;
    mount(
        &server,
        "GET",
        USERS,
        ResponseTemplate::new(503),
        Some(3),
        1,
        3,
    )
    .await;
    mount(&server, "GET", USERS, users_ok(), None, 2, 1).await;
    v1(&server).users().list().await.unwrap();
}

#[tokio::test]
async fn attempts_exhausted_on_429_is_rate_limited() {
    let server = server().await;
    mount(
        &server,
        "GET",
        USERS,
        ResponseTemplate::new(429),
        None,
        1,
        4,
    )
    .await;
    let err = v1(&server).users().list().await.unwrap_err();
    assert!(matches!(err, Error::RateLimited { attempts: 4 }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn attempts_exhausted_on_5xx_keeps_the_status() {
    let server = server().await;
    mount(
        &server,
        "GET",
        USERS,
        ResponseTemplate::new(502),
        None,
        1,
        4,
    )
    .await;
    let err = v1(&server).users().list().await.unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let server = server().await;
    mount(
        &server,
        "GET",
        USERS,
        ResponseTemplate::new(400).set_body_json(json!({"message": "bad"})),
        None,
        1,
        1,
    )
    .await;
    let err = v1(&server).users().list().await.unwrap_err();
    assert!(
        matches!(err, Error::Api { status: 400, ref message, .. } if message == "bad"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

fn short_timeout(server: &MockServer) -> Client {
    Client::builder()
        .essentials(&server.uri(), "example.com")
        .credentials(USER, PASSWORD.into())
        .retry(fast_retry())
        .rate_limit(unlimited())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap()
}

fn slow(response: ResponseTemplate) -> ResponseTemplate {
    response.set_delay(Duration::from_secs(2))
}

#[tokio::test]
async fn a_create_that_times_out_reads_back_then_posts_at_most_once_more() {
    let server = server().await;
    mount(
        &server,
        "POST",
        USERS,
        slow(ResponseTemplate::new(201)),
        Some(1),
        1,
        1,
    )
    .await;
    mount(&server, "GET", NEW, ResponseTemplate::new(404), None, 1, 1).await;
    mount(
        &server,
        "POST",
        USERS,
        ResponseTemplate::new(201).set_body_json(created()),
        None,
        2,
        1,
    )
    .await;
    let user = short_timeout(&server)
        .users()
        .create(new_user())
        .await
        .unwrap();
    assert_eq!(user.field("uid"), Some(&json!(9)));
}

#[tokio::test]
async fn a_409_on_the_second_post_with_the_user_present_is_success() {
    let server = server().await;
    mount(
        &server,
        "POST",
        USERS,
        slow(ResponseTemplate::new(201)),
        Some(1),
        1,
        1,
    )
    .await;
    // Read-after-write lag: the first read does not see the user yet.
    mount(
        &server,
        "GET",
        NEW,
        ResponseTemplate::new(404),
        Some(1),
        1,
        1,
    )
    .await;
    mount(
        &server,
        "POST",
        USERS,
        ResponseTemplate::new(409).set_body_json(json!({"message": "exists"})),
        None,
        2,
        1,
    )
    .await;
    let present = json!({"uid": 9, "primary_email": "new@example.com", "type": "end_user", "is_active": true});
    mount(
        &server,
        "GET",
        NEW,
        ResponseTemplate::new(200).set_body_json(present),
        None,
        2,
        1,
    )
    .await;
    let user = short_timeout(&server)
        .users()
        .create(new_user())
        .await
        .unwrap();
    assert_eq!(user.account().primary_email.as_str(), "new@example.com");
}

#[tokio::test]
async fn a_create_answered_503_that_did_happen_is_not_posted_again() {
    let server = server().await;
    mount(
        &server,
        "POST",
        USERS,
        ResponseTemplate::new(503),
        None,
        1,
        1,
    )
    .await;
    let present =
        json!({"primary_email": "new@example.com", "type": "end_user", "is_active": true});
    mount(
        &server,
        "GET",
        NEW,
        ResponseTemplate::new(200).set_body_json(present),
        None,
        1,
        1,
    )
    .await;
    short_timeout(&server)
        .users()
        .create(new_user())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_throttled_create_is_simply_sent_again() {
    let server = server().await;
    mount(
        &server,
        "POST",
        USERS,
        ResponseTemplate::new(429),
        Some(1),
        1,
        1,
    )
    .await;
    mount(
        &server,
        "POST",
        USERS,
        ResponseTemplate::new(201).set_body_json(created()),
        None,
        2,
        1,
    )
    .await;
    mount(&server, "GET", NEW, ResponseTemplate::new(404), None, 1, 0).await;
    v1(&server).users().create(new_user()).await.unwrap();
}

#[tokio::test]
async fn a_first_409_is_a_conflict_not_a_success() {
    let server = server().await;
    mount(
        &server,
        "POST",
        USERS,
        ResponseTemplate::new(409),
        None,
        1,
        1,
    )
    .await;
    let err = v1(&server).users().create(new_user()).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
}

#[tokio::test]
async fn an_ambiguous_bulk_create_posts_only_the_missing_users_again() {
    let server = server().await;
    mount(
        &server,
        "POST",
        USERS,
        ResponseTemplate::new(502),
        Some(1),
        1,
        1,
    )
    .await;
    let listing = json!({"users": [{"primary_email": "a@example.com", "type": "end_user", "is_active": true}]});
    mount(
        &server,
        "GET",
        USERS,
        ResponseTemplate::new(200).set_body_json(listing),
        None,
        1,
        1,
    )
    .await;
    let second = json!({"users": [{"primary_email": "b@example.com", "type": "end_user", "is_active": true}], "errors": []});
    mount(
        &server,
        "POST",
        USERS,
        ResponseTemplate::new(201).set_body_json(second),
        None,
        2,
        1,
    )
    .await;
    let users = ["a@example.com", "b@example.com"]
        .map(|e| NewUser::new(Account::new(email(e)), WelcomeEmail::DontSend));
    let report = v1(&server)
        .users()
        .create_many(users.to_vec())
        .await
        .unwrap();
    assert_eq!(report.created.len(), 2);
    assert!(report.failed.is_empty());
    let posts = bodies(&server, "POST").await;
    assert_eq!(posts[1].as_array().unwrap().len(), 1);
    assert_eq!(posts[1][0]["primary_email"], json!("b@example.com"));
}

#[tokio::test]
async fn a_404_after_an_ambiguous_delete_is_done() {
    let server = server().await;
    mount(
        &server,
        "DELETE",
        NEW,
        ResponseTemplate::new(503),
        Some(1),
        1,
        1,
    )
    .await;
    mount(
        &server,
        "DELETE",
        NEW,
        ResponseTemplate::new(404),
        None,
        2,
        1,
    )
    .await;
    v1(&server)
        .users()
        .delete(&email("new@example.com"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_404_on_a_clean_delete_is_not_found() {
    let server = server().await;
    mount(
        &server,
        "DELETE",
        NEW,
        ResponseTemplate::new(404),
        None,
        1,
        1,
    )
    .await;
    let err = v1(&server)
        .users()
        .delete(&email("new@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_transport_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = Client::builder()
        .essentials(&format!("http://127.0.0.1:{port}"), "example.com")
        .credentials(USER, PASSWORD.into())
        .retry(fast_retry())
        .rate_limit(unlimited())
        .build()
        .unwrap();
    let err = client.users().list().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(!format!("{err:?}").contains(PASSWORD));
}

/// Counts what the client reports to its limiter.
#[derive(Debug, Default)]
struct Counting {
    acquired: AtomicU32,
    throttled: AtomicU32,
    succeeded: AtomicU32,
}

#[async_trait]
impl RateLimiter for Counting {
    async fn acquire(&self) {
        self.acquired.fetch_add(1, Ordering::SeqCst);
    }
    fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::SeqCst);
    }
    fn succeeded(&self) {
        self.succeeded.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn every_attempt_goes_through_the_limiter_and_429s_are_reported() {
    let server = server().await;
    mount(
        &server,
        "GET",
        USERS,
        ResponseTemplate::new(429),
        Some(2),
        1,
        2,
    )
    .await;
    mount(&server, "GET", USERS, users_ok(), None, 2, 1).await;
    let limiter = Arc::new(Counting::default());
    let client = Client::builder()
        .essentials(&server.uri(), "example.com")
        .credentials(USER, PASSWORD.into())
        .retry(fast_retry())
        .limiter(limiter.clone())
        .build()
        .unwrap();
    client.users().list().await.unwrap();
    assert_eq!(limiter.acquired.load(Ordering::SeqCst), 3);
    assert_eq!(limiter.throttled.load(Ordering::SeqCst), 2);
    assert_eq!(limiter.succeeded.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_429_lowers_the_default_limiters_rate() {
    let server = server().await;
    mount(
        &server,
        "GET",
        USERS,
        ResponseTemplate::new(429),
        Some(1),
        1,
        1,
    )
    .await;
    mount(&server, "GET", USERS, users_ok(), None, 2, 1).await;
    let limiter = Arc::new(muster_gateway::AdaptiveLimiter::new(unlimited()));
    let client = Client::builder()
        .essentials(&server.uri(), "example.com")
        .credentials(USER, PASSWORD.into())
        .retry(fast_retry())
        .limiter(limiter.clone())
        .build()
        .unwrap();
    client.users().list().await.unwrap();
    let lowered = 600_000.0 * muster_gateway::DECREASE_FACTOR;
    assert!(
        (limiter.current_per_minute() - lowered).abs() < 1e-6,
        "{}",
        limiter.current_per_minute()
    );
}

fn paced(base: &str, user: &str) -> Client {
    Client::builder()
        .essentials(base, "example.com")
        .credentials(user, PASSWORD.into())
        .rate_limit(RateLimit::per_minute(60).with_burst(1))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn two_clients_with_the_same_login_and_stack_share_one_budget() {
    // Built separately, for different organisations: one login, one budget.
    let a = paced("https://us9.example.invalid", "msp@example.com");
    let b = Client::builder()
        .essentials("https://us9.example.invalid", "other-org.example")
        .credentials("MSP@example.com", PASSWORD.into())
        .build()
        .unwrap();
    let other_login = paced("https://us9.example.invalid", "someone@example.com");
    let other_stack = paced("https://eu9.example.invalid", "msp@example.com");
    let start = tokio::time::Instant::now();
    a.limiter().acquire().await;
    assert_eq!(start.elapsed(), Duration::ZERO);
    other_login.limiter().acquire().await;
    other_stack.limiter().acquire().await;
    a.clone().limiter().acquire().await;
    assert!(start.elapsed() >= Duration::from_secs(1));
    b.limiter().acquire().await;
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "b waited for a's budget"
    );
}
