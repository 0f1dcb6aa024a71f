//! The request budget shared across processes, in a real redis-server
//! (`eval "$(scripts/redis-up.sh)"` starts one and exports
//! `MUSTER_REDIS_URL`), against the stateful emulator's per-login limit.
//!
//! The script's decisions are asserted on its answers under a
//! [`ManualClock`], never on wall-clock durations; the end-to-end runs
//! assert on the emulator's request counters, with generous margins only
//! where real time is unavoidable.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use muster::config::{Config, ConfigError};
use muster::gateway::{
    AdaptiveLimiter, Client, DECREASE_FACTOR, LimiterKey, PROBE_STEP, RateLimit, RateLimiter,
    RetryConfig, SecretString,
};
use muster::shared_limiter::{Decision, ManualClock, RedisLimiter, SharedLimiterError};
use muster_emulator::{Emulator, Login, Org, RateLimit as EmuRateLimit};
use serde_json::json;

const ORG: &str = "example.com";
const PASSWORD: &str = "Shared-Limit-Pa55word";
const LIST: &str = "/api/v1/orgs/{domain}/users";
/// 2026-01-15 08:00:00 UTC, in ms: whole milliseconds keep the script's
/// arithmetic exact.
const T0_MS: u64 = 1_768_464_000_000;

/// The test server's URL, or a panic saying how to start it.
fn redis_url() -> String {
    std::env::var("MUSTER_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "MUSTER_REDIS_URL is not set: start the test Redis with \
             `eval \"$(scripts/redis-up.sh)\"` (scripts/test.sh does it)"
        )
    })
}

/// The password in the test server's URL (redis-up.sh always sets one).
fn redis_password() -> String {
    let url = url::Url::parse(&redis_url()).expect("MUSTER_REDIS_URL parses");
    let password = url
        .password()
        .expect("the test server's URL has a password");
    assert!(password.len() >= 8);
    password.to_owned()
}

/// A login of this test alone (the server outlives test runs): its bucket
/// is deleted first, so a rerun starts from an empty budget.
fn login(tag: &str) -> String {
    let login = format!("sync-{tag}-{}@example.com", std::process::id());
    let mut conn = raw_redis();
    let _: () = redis::cmd("DEL")
        .arg(bucket(&login, "us1.example:443"))
        .query(&mut conn)
        .unwrap();
    login
}

fn bucket(login: &str, host: &str) -> String {
    format!("muster:budget:{login}|{host}")
}

fn raw_redis() -> redis::Connection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(5))
        .expect("the test Redis answers (scripts/redis-up.sh)")
}

fn limiter(login: &str, limit: RateLimit, clock: Option<&ManualClock>) -> RedisLimiter {
    let key = LimiterKey::new(login, "us1.example:443");
    let builder = RedisLimiter::builder(redis_url().into(), &key).rate_limit(limit);
    match clock {
        Some(c) => builder.clock(c.clone()),
        None => builder,
    }
    .build()
    .unwrap()
}

fn t0() -> ManualClock {
    ManualClock::at(Duration::from_millis(T0_MS))
}

/// Equal to the microsecond the script rounds its waits up to.
#[track_caller]
fn assert_wait(decision: Decision, expected: Duration) {
    let Decision::Wait(wait) = decision else {
        panic!("allowed, expected a wait of {expected:?}");
    };
    let diff = wait.abs_diff(expected);
    assert!(
        diff <= Duration::from_micros(2),
        "waits {wait:?}, expected {expected:?}"
    );
}

/// Asks until allowed, moving the clock by each wait; returns the waits.
async fn take(l: &RedisLimiter, clock: &ManualClock) -> Vec<Duration> {
    let mut waits = Vec::new();
    loop {
        match l.try_acquire().await.unwrap() {
            Decision::Allowed => return waits,
            Decision::Wait(w) => {
                waits.push(w);
                clock.advance(w);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn two_connections_are_spaced_exactly_as_one_bucket() {
    let login = login("one-bucket");
    let clock = t0();
    // 60/min: one a second, a burst of 2; two workers, two connections.
    let limit = RateLimit::per_minute(60).with_burst(2);
    let a = limiter(&login, limit, Some(&clock));
    let b = limiter(&login, limit, Some(&clock));
    let mut allowed_at = Vec::new();
    for i in 0..10 {
        let (me, other) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        take(me, &clock).await;
        allowed_at.push(clock.now() - Duration::from_millis(T0_MS));
        // The other worker, at the same instant, finds the slot taken
        // (once the burst is spent).
        if i >= 1 {
            assert_wait(other.try_acquire().await.unwrap(), Duration::from_secs(1));
        }
    }
    let secs: Vec<u64> = allowed_at.iter().map(Duration::as_secs).collect();
    // Two at once (the burst), then one a second, whichever worker asks.
    assert_eq!(secs, [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(
        allowed_at.iter().all(|d| d.subsec_micros() == 0),
        "{allowed_at:?}"
    );
    // A quiet period refills the burst, not beyond it.
    clock.advance(Duration::from_secs(60));
    assert_eq!(a.try_acquire().await.unwrap(), Decision::Allowed);
    assert_eq!(b.try_acquire().await.unwrap(), Decision::Allowed);
    assert_wait(a.try_acquire().await.unwrap(), Duration::from_secs(1));
}

#[tokio::test]
async fn on_redis_time_a_burst_goes_at_once_and_the_next_waits_at_most_one_interval() {
    let login = login("redis-time");
    let limit = RateLimit::per_minute(60).with_burst(3);
    let (a, b) = (limiter(&login, limit, None), limiter(&login, limit, None));
    for l in [&a, &b, &a] {
        assert_eq!(l.try_acquire().await.unwrap(), Decision::Allowed);
    }
    let Decision::Wait(wait) = b.try_acquire().await.unwrap() else {
        panic!("the burst of 3 is spent");
    };
    // Real time passed between the answers: less than one interval is left.
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(1),
        "{wait:?}"
    );
}

#[tokio::test]
async fn one_workers_429_slows_every_worker() {
    let login = login("throttle");
    let clock = t0();
    let p = Duration::from_secs(10);
    let limit = RateLimit::per_minute(60)
        .with_burst(1)
        .with_floor_per_minute(6)
        .with_probe_interval(p);
    let (a, b) = (
        limiter(&login, limit, Some(&clock)),
        limiter(&login, limit, Some(&clock)),
    );
    assert_eq!(a.try_acquire().await.unwrap(), Decision::Allowed);
    // A's request came back 429 without Retry-After: the rate drops for
    // everyone, and nothing leaves for one interval at the new rate.
    a.report_throttled().await.unwrap();
    let lowered = 60.0 * DECREASE_FACTOR;
    assert!((b.shared_per_minute().await.unwrap() - lowered).abs() < 1e-9);
    let interval = Duration::from_secs_f64(60.0 / lowered);
    assert_wait(b.try_acquire().await.unwrap(), interval);
    // More 429s of requests sent before that pause: the same lesson.
    b.report_throttled().await.unwrap();
    assert!((a.shared_per_minute().await.unwrap() - lowered).abs() < 1e-9);
    assert_wait(a.try_acquire().await.unwrap(), interval);
    assert_eq!(take(&b, &clock).await.len(), 1);
    // A Retry-After pauses everyone exactly that long, and keeps the rate.
    a.report_retry_after(Duration::from_secs(7)).await.unwrap();
    assert_wait(b.try_acquire().await.unwrap(), Duration::from_secs(7));
    assert!((b.shared_per_minute().await.unwrap() - lowered).abs() < 1e-9);
    // A success probes upward, at most once per probe interval (counted
    // from the decrease), by PROBE_STEP of the configured rate.
    b.report_succeeded().await.unwrap();
    assert!((a.shared_per_minute().await.unwrap() - lowered).abs() < 1e-9);
    clock.advance(p);
    a.report_succeeded().await.unwrap();
    b.report_succeeded().await.unwrap();
    let probed = lowered + 60.0 * PROBE_STEP;
    assert!((b.shared_per_minute().await.unwrap() - probed).abs() < 1e-9);
    // Runs of 429s (each after a success) stop at the floor.
    for _ in 0..40 {
        clock.advance(p);
        a.report_throttled().await.unwrap();
        b.report_succeeded().await.unwrap();
    }
    assert!((a.shared_per_minute().await.unwrap() - 6.0).abs() < 1e-9);
    // What was learned is what a run saves for the next one.
    let learned = a.learned_rate(std::time::SystemTime::now()).unwrap();
    assert!((learned.per_minute() - 6.0).abs() < 1e-9);
}

#[tokio::test]
async fn a_budget_expires_and_is_keyed_by_login_and_host() {
    let login = login("keys");
    let other = self::login("keys-other");
    let limit = RateLimit::per_minute(60).with_burst(1);
    let mine = RedisLimiter::builder(
        redis_url().into(),
        &LimiterKey::new(&login.to_uppercase(), "US1.example:443"),
    )
    .rate_limit(limit)
    .ttl(Duration::from_secs(120))
    .build()
    .unwrap();
    assert_eq!(mine.bucket_key(), bucket(&login, "us1.example:443"));
    assert_eq!(mine.try_acquire().await.unwrap(), Decision::Allowed);
    assert!(matches!(
        mine.try_acquire().await.unwrap(),
        Decision::Wait(_)
    ));
    // Another login's budget is its own.
    let theirs = limiter(&other, limit, None);
    assert_eq!(theirs.try_acquire().await.unwrap(), Decision::Allowed);
    let mut conn = raw_redis();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(mine.bucket_key())
        .query(&mut conn)
        .unwrap();
    assert!(ttl > 60_000 && ttl <= 120_000, "{ttl}");
    // Never the password in the key or the hash.
    let fields: Vec<String> = redis::cmd("HKEYS")
        .arg(mine.bucket_key())
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        fields.len(),
        6,
        "rate, tat, paused, streak, changed, learned: {fields:?}"
    );
}

// --- end to end: workers, each with its own client and runtime ---------------

async fn emulator(logins: &[&str], limit: EmuRateLimit) -> Emulator {
    let org = logins.iter().fold(Org::new(ORG), |o, l| {
        o.user(json!({"primary_email": l, "type": "organization_admin"}))
    });
    let builder = logins.iter().fold(Emulator::builder().org(org), |b, l| {
        b.login(Login::org_admin(*l, PASSWORD, ORG))
    });
    builder.rate_limit(limit).start().await.unwrap()
}

fn client(emu: &Emulator, login: &str, limit: RateLimit, limiter: Arc<dyn RateLimiter>) -> Client {
    Client::builder()
        .essentials(emu.base_url(), ORG)
        .credentials(login, PASSWORD.into())
        .retry(RetryConfig::disabled())
        .rate_limit(limit)
        .limiter(limiter)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn answered(emu: &Emulator, status: u16) -> u64 {
    emu.counters()
        .iter()
        .filter(|(k, _)| k.status == status)
        .map(|(_, n)| *n)
        .sum()
}

/// Starts one thread per client, each with a runtime of its own (as
/// separate worker processes would have), each listing the users
/// `requests` times or until `stop` is set.
fn workers(clients: Vec<Client>, requests: usize, stop: &Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    clients
        .into_iter()
        .map(|client| {
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    for _ in 0..requests {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        // A 429 is an error here (no retries): the emulator counts it.
                        let _ = client.users().list().await;
                    }
                });
            })
        })
        .collect()
}

/// Waits until every worker is done, or `enough` holds (then tells them to
/// stop); fails after `deadline`.
async fn wait_for(
    handles: Vec<JoinHandle<()>>,
    stop: &AtomicBool,
    deadline: Duration,
    enough: impl Fn() -> bool,
) {
    let start = std::time::Instant::now();
    while !handles.iter().all(JoinHandle::is_finished) {
        if enough() {
            stop.store(true, Ordering::SeqCst);
        }
        assert!(
            start.elapsed() < deadline,
            "the workers did not finish within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for h in handles {
        h.join().unwrap();
    }
}

/// Three workers, one login, a budget of 100 requests in any 2 s (3000 a
/// minute): each paced at 2400 a minute with a burst of 5, so any 2 s hold
/// at most 5 + 80 of their requests, leaving 15 for requests that the
/// machine's scheduling bunches together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_sharing_the_budget_stay_within_it_and_alone_they_do_not() {
    const WORKERS: usize = 3;
    const EACH: usize = 60;
    let login = login("fleet");
    let limit = RateLimit::per_minute(2400).with_burst(5);
    let budget = EmuRateLimit::new(100, Duration::from_secs(2));

    // Shared: every worker takes its slots from the one bucket in Redis.
    let emu = emulator(&[&login], budget).await;
    let clients = (0..WORKERS)
        .map(|_| {
            let shared =
                RedisLimiter::builder(redis_url().into(), &LimiterKey::new(&login, &host_of(&emu)))
                    .rate_limit(limit)
                    .build()
                    .unwrap();
            client(&emu, &login, limit, Arc::new(shared))
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let started = std::time::Instant::now();
    wait_for(
        workers(clients, EACH, &stop),
        &stop,
        Duration::from_secs(40),
        || false,
    )
    .await;
    let shared_secs = started.elapsed().as_secs_f64();
    let (ok, throttled) = (answered(&emu, 200), answered(&emu, 429));
    eprintln!("shared budget: {ok} answered 200, {throttled} answered 429, in {shared_secs:.1} s");
    // Zero by design; two at most for a machine that holds requests back
    // and lets them go together (any 2 s hold at most 85 by the bucket).
    assert!(
        throttled <= 2,
        "the shared budget drew {throttled} 429s ({ok} answered 200)"
    );
    assert_eq!(ok + throttled, (WORKERS * EACH) as u64);
    assert_eq!(emu.count("GET", LIST, 200), ok);

    // Alone: each worker paces itself as one process does, at the same
    // rate; together they are 2.4 times over the budget (each learns from
    // its own 429s, by 10 % a time, so they stop once 20 have been counted).
    let emu = emulator(&[&login], budget).await;
    let clients = (0..WORKERS)
        .map(|_| client(&emu, &login, limit, Arc::new(AdaptiveLimiter::new(limit))))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let started = std::time::Instant::now();
    wait_for(
        workers(clients, 2 * EACH, &stop),
        &stop,
        Duration::from_secs(40),
        || answered(&emu, 429) >= 20,
    )
    .await;
    let (ok, throttled) = (answered(&emu, 200), answered(&emu, 429));
    eprintln!(
        "per-process budgets: {ok} answered 200, {throttled} answered 429, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(throttled >= 20, "{throttled} 429s, {ok} 200s");
}

/// The emulator's `host:port`, as the client keys its budget.
fn host_of(emu: &Emulator) -> String {
    let url = url::Url::parse(emu.base_url()).unwrap();
    format!("{}:{}", url.host_str().unwrap(), url.port().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_one_worker_got_from_the_gateway_lowers_every_workers_pace() {
    let login = login("real-429");
    // The gateway allows 10 a minute; the config says 600.
    let emu = emulator(&[&login], EmuRateLimit::new(10, Duration::from_secs(60))).await;
    let limit = RateLimit::per_minute(600).with_burst(20);
    let key = LimiterKey::new(&login, &host_of(&emu));
    let shared = |_| {
        RedisLimiter::builder(redis_url().into(), &key)
            .rate_limit(limit)
            .build()
            .unwrap()
    };
    let (a, b) = (shared(0), shared(1));
    let worker_a = client(&emu, &login, limit, Arc::new(a));
    for _ in 0..11 {
        let _ = worker_a.users().list().await;
    }
    assert_eq!(answered(&emu, 429), 1);
    // A's limiter reports the 429 in the background: B sees the lowered
    // pace as soon as it lands.
    let start = std::time::Instant::now();
    let lowered = 600.0 * DECREASE_FACTOR;
    loop {
        let pace = b.shared_per_minute().await.unwrap();
        if (pace - lowered).abs() < 1e-9 {
            break;
        }
        assert!(
            (pace - 600.0).abs() < 1e-9,
            "unexpected pace {pace} (before or after {lowered})"
        );
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "A's 429 never reached B"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // And B's client says so too: the learned rate is the shared one.
    let worker_b = client(&emu, &login, limit, Arc::new(b));
    let _ = worker_b.users().list().await;
    let learned = worker_b.learned_rate().expect("B knows what A learned");
    assert!((learned.per_minute() - lowered).abs() < 1e-9);
}

// --- the config file ----------------------------------------------------------

fn config_text(emu_url: &str, login: &str, dir: &std::path::Path, shared: &str) -> String {
    let pw = dir.join("gateway-password");
    std::fs::write(&pw, PASSWORD).unwrap();
    format!(
        r#"
[gateway]
stack = "{emu_url}"
org = "{ORG}"
login = "{login}"
password_file = "{}"
requests_per_minute = 600
{shared}

[[source]]
name = "staff"
role = "authoritative"
kind = "csv"
path = "staff.csv"
"#,
        pw.display()
    )
}

#[tokio::test]
async fn the_client_built_from_the_config_spends_the_shared_budget() {
    let login = login("config");
    let emu = emulator(&[&login], EmuRateLimit::unlimited()).await;
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(
        emu.base_url(),
        &login,
        dir.path(),
        "[gateway.shared_rate_limit]\nurl_env = \"MUSTER_REDIS_URL\"",
    );
    let config = Config::from_toml(&text, dir.path().join("muster.toml")).unwrap();
    config.check().unwrap();
    let client = config.client().unwrap();
    let debug = format!("{client:?} {:?}", client.limiter());
    assert!(debug.contains("RedisLimiter"), "{debug}");
    assert!(
        !debug.contains(&redis_password()),
        "the Redis password in {debug}"
    );
    client.users().list().await.unwrap();
    let key = bucket(&login.to_lowercase(), &host_of(&emu));
    let exists: bool = redis::cmd("EXISTS")
        .arg(&key)
        .query(&mut raw_redis())
        .unwrap();
    assert!(exists, "no bucket {key} in Redis");
    // Printed with its defaults, the config names the URL's variable.
    let full = config.with_defaults().unwrap().to_toml().unwrap();
    assert!(full.contains("[gateway.shared_rate_limit]"), "{full}");
    assert!(full.contains("url_env = \"MUSTER_REDIS_URL\""), "{full}");
    assert!(!full.contains(&redis_password()));
}

#[test]
fn the_config_names_the_url_never_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let parse = |shared: &str| {
        let text = config_text("us1", "a@example.com", dir.path(), shared);
        Config::from_toml(&text, "muster.toml").and_then(|c| c.check().map(|()| c))
    };
    // A URL written in the file is refused, naming the key.
    let err = parse("[gateway.shared_rate_limit]\nurl = \"redis://:pw@127.0.0.1/0\"").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("gateway.shared_rate_limit.url"), "{text}");
    assert!(text.contains("url_env"), "{text}");
    assert!(!text.contains("pw@"), "{text}");
    // One way to give it.
    let err = parse(
        "[gateway.shared_rate_limit]\nurl_env = \"X\"\nurl_file = \"/run/secrets/redis-url\"",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("gateway.shared_rate_limit.url_file: both"),
        "{err}"
    );
    // Unset: each process paces itself alone.
    let config = parse("").unwrap();
    assert_eq!(config.gateway.shared_rate_limit, None);
    // Named but missing: an error, never a silent fall-back to pacing alone.
    let config =
        parse("[gateway.shared_rate_limit]\nurl_env = \"MUSTER_TEST_NO_SUCH_VARIABLE\"").unwrap();
    let err = config.client().unwrap_err();
    assert!(matches!(err, ConfigError::Secret { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("gateway.shared_rate_limit.url_env"),
        "{err}"
    );
}

// --- Redis away ----------------------------------------------------------------

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn an_unreachable_redis_refuses_the_run_before_anything_is_sent() {
    let login = login("unreachable");
    let emu = emulator(&[&login], EmuRateLimit::unlimited()).await;
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("redis-url");
    let secret = "Hunter2-Redis-Secret";
    std::fs::write(
        &url_file,
        format!("redis://:{secret}@127.0.0.1:{}/0\n", closed_port()),
    )
    .unwrap();
    let text = config_text(
        emu.base_url(),
        &login,
        dir.path(),
        &format!(
            "[gateway.shared_rate_limit]\nurl_file = \"{}\"",
            url_file.display()
        ),
    );
    let config = Config::from_toml(&text, "muster.toml").unwrap();
    let err = config.client().unwrap_err();
    let shown = format!("{err} / {err:?}");
    assert!(
        shown.contains(
            "gateway.shared_rate_limit: cannot reach the shared rate limit's Redis at 127.0.0.1:"
        ),
        "{shown}"
    );
    assert!(!shown.contains(secret), "the password in {shown}");
    assert!(emu.requests().is_empty());

    // A wrong password: refused, and neither password is shown.
    let real = redis_url();
    let wrong = real.replace(&redis_password(), secret);
    let key = LimiterKey::new(&login, &host_of(&emu));
    let limiter = RedisLimiter::builder(wrong.into(), &key).build().unwrap();
    let err = limiter.check().await.unwrap_err();
    assert!(matches!(err, SharedLimiterError::Refused { .. }), "{err:?}");
    let shown = format!("{} / {err:?}", muster::core::error_chain(&err));
    assert!(
        !shown.contains(secret) && !shown.contains(&redis_password()),
        "{shown}"
    );
    let err = limiter.check_blocking().unwrap_err();
    let shown = format!(
        "{} / {err:?} / {limiter:?}",
        muster::core::error_chain(&err)
    );
    assert!(
        !shown.contains(secret) && !shown.contains(&redis_password()),
        "{shown}"
    );
}

#[tokio::test(start_paused = true)]
async fn when_redis_does_not_answer_the_process_paces_itself_at_the_floor() {
    let secret = "Hunter2-Redis-Secret";
    let url: SecretString = format!("redis://:{secret}@127.0.0.1:{}/0", closed_port()).into();
    // 600/min, floor 60/min: alone, one a second.
    let limit = RateLimit::per_minute(600).with_burst(5);
    let limiter = RedisLimiter::builder(url, &LimiterKey::new("a@example.com", "h:443"))
        .rate_limit(limit)
        .build()
        .unwrap();
    assert!(!limiter.is_degraded());
    let start = tokio::time::Instant::now();
    for _ in 0..11 {
        limiter.acquire().await;
    }
    let took = start.elapsed();
    assert!(limiter.is_degraded());
    // Ten intervals of the floor after the first: never the burst of the
    // shared budget, never unpaced. (Redis is asked again every 5 s; a
    // refused connection costs no time, a timed-out one 2 s of the paused
    // clock: the bound allows for either.)
    assert!(took >= Duration::from_secs(10), "{took:?}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    // Its reports still reach the fallback: a 429 slows it further.
    limiter.throttled();
    let start = tokio::time::Instant::now();
    limiter.acquire().await;
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let debug = format!("{limiter:?}");
    assert!(!debug.contains(secret), "{debug}");
    assert!(debug.contains("degraded: true"), "{debug}");
}
