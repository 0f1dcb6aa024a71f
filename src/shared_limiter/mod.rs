//! One request budget shared by every process that uses the same gateway
//! login: a GCRA bucket in Redis.
//!
//! Each process paces itself with [`AdaptiveLimiter`] by default, so ten
//! Celery workers syncing ten organisations under one channel-admin login
//! would together spend the login's budget ten times over. A
//! [`RedisLimiter`] keeps the bucket in Redis instead, keyed like the
//! in-process one by [`LimiterKey`] (login and gateway host, never the
//! password): every worker then takes its slots from one budget, and one
//! worker's 429 slows them all.
//!
//! - **One Lua script** (`gcra.lua`, run with EVALSHA) holds the whole
//!   decision, so it is atomic across workers, and reads Redis's own
//!   `TIME`, so the workers' clocks do not matter. [`RedisLimiter::try_acquire`]
//!   asks it once: [`Decision::Allowed`] (the slot is taken) or
//!   [`Decision::Wait`]; the [`RateLimiter::acquire`] loop sleeps on tokio's
//!   timer and asks again, so a pause another worker's 429 began meanwhile
//!   holds it back too.
//! - **The learned rate is shared**, stored next to the bucket, with the
//!   semantics of [`AdaptiveLimiter`] kept simple: a 429 without
//!   `Retry-After` lowers the rate by [`DECREASE_FACTOR`] once per run of
//!   429s and pauses everyone (one interval, doubling with each 429 in a
//!   row, never beyond the probe interval); a `Retry-After` pauses everyone
//!   exactly that long; a success at most once per probe interval raises
//!   the rate by [`PROBE_STEP`] of the configured one; never below the
//!   floor nor above the configured rate. (The in-process limiter's
//!   one-step estimate from the requests accepted over the last interval
//!   is left out: it needs a log of every request, which the shared
//!   bucket does not keep.)
//! - **Keys expire** ([`RedisLimiterBuilder::ttl`], a day by default,
//!   renewed by every write), so an abandoned budget disappears.
//! - **Redis unreachable**: [`RedisLimiter::check_blocking`], which
//!   [`Config::client`](crate::config::Config::client) runs, refuses the run
//!   before anything is sent. If Redis goes away during a run, pacing
//!   never stops: the limiter warns once and paces this process alone at
//!   the budget's floor (a tenth of it by default), asks Redis again every
//!   [`REDIS_RETRY_INTERVAL`] and goes back to the shared bucket when it
//!   answers. Ten workers at the floor together spend at most the budget;
//!   more may draw 429s, which the fallback learns from like any limiter.
//! - **The URL is a secret** (it may carry a password): it is held as a
//!   [`SecretString`], and Debug output, logs and errors name only the
//!   server's address; Redis's own error text is kept with the password
//!   blanked.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use muster::gateway::{Client, LimiterKey, RateLimit};
//! use muster::shared_limiter::RedisLimiter;
//!
//! let url = std::env::var("MUSTER_REDIS_URL")?.into();
//! let key = LimiterKey::new("msp-admin@example.net", "us1.proofpointessentials.com:443");
//! let limiter = RedisLimiter::builder(url, &key)
//!     .rate_limit(RateLimit::per_minute(100))
//!     .build()?;
//! limiter.check().await?; // Redis answers and runs the script: or refuse the run
//! let client = Client::builder()
//!     .essentials("us1", "customer.example.com")
//!     .credentials("msp-admin@example.net", std::env::var("MUSTER_PASSWORD")?.into())
//!     .rate_limit(RateLimit::per_minute(100))
//!     .limiter(Arc::new(limiter))
//!     .build()?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use muster_gateway::{
    AdaptiveLimiter, DECREASE_FACTOR, LEARNED_RATE_KEEP, LearnedRate, LimiterKey, PROBE_STEP,
    RateLimit, RateLimiter, SecretString,
};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError, Script};
use secrecy::ExposeSecret;
use tokio::time::Instant;

/// The GCRA script: every decision about the shared budget.
static SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("gcra.lua")));

/// While Redis does not answer, how often the limiter asks it again (the
/// requests in between are paced by the fallback without waiting on it).
pub const REDIS_RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// The default time to connect to Redis and for each answer: a budget's
/// store on the same network answers in a millisecond, and a request
/// waits on it.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the shared budget could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SharedLimiterError {
    /// The URL is not one the Redis client takes (`redis://[user][:password@]host[:port][/db]`,
    /// `redis+unix:///path`; `rediss://` needs TLS, which this build does not have).
    #[error("the shared rate limit's URL is not a usable Redis URL")]
    Url {
        /// Why.
        #[source]
        source: RedisFailure,
    },
    /// Redis did not answer (refused, timed out, dropped the connection).
    #[error("cannot reach the shared rate limit's Redis at {at}")]
    Unreachable {
        /// The server's address (`127.0.0.1:6379/0`), without credentials.
        at: String,
        /// Why.
        #[source]
        source: RedisFailure,
    },
    /// Redis answered with an error (a wrong password, scripts refused).
    #[error("the shared rate limit's Redis at {at} refused")]
    Refused {
        /// The server's address, without credentials.
        at: String,
        /// Redis's answer.
        #[source]
        source: RedisFailure,
    },
}

/// The Redis client's error, as text with the URL's password blanked.
///
/// Kept as text rather than as [`RedisError`] so that nothing reachable
/// from a [`SharedLimiterError`] (Display, Debug, the source chain) can
/// carry the password, whatever a future redis crate puts in its errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisFailure {
    message: String,
}

impl fmt::Display for RedisFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RedisFailure {}

impl RedisFailure {
    fn scrubbed(error: &RedisError, password: Option<&SecretString>) -> Self {
        let mut message = error.to_string();
        if let Some(password) = password.map(ExposeSecret::expose_secret)
            && !password.is_empty()
        {
            message = message.replace(password, "[REDACTED]");
        }
        RedisFailure { message }
    }
}

/// What the script answered to one [`RedisLimiter::try_acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// A request may leave now; its slot is taken.
    Allowed,
    /// Nothing was taken: ask again after this long.
    Wait(Duration),
}

/// A clock set by hand for the script, instead of Redis's `TIME`: for tests
/// of the script's decisions, which must not depend on how fast the machine
/// runs them. Never in production, where each worker's clock would be its
/// own.
///
/// ```
/// use std::time::Duration;
/// use muster::shared_limiter::ManualClock;
/// let clock = ManualClock::at(Duration::from_secs(1_800_000_000));
/// clock.advance(Duration::from_millis(250));
/// assert_eq!(clock.now(), Duration::from_millis(1_800_000_000_250));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock at `since_epoch` (microsecond precision).
    #[must_use]
    pub fn at(since_epoch: Duration) -> Self {
        ManualClock(Arc::new(AtomicU64::new(micros(since_epoch))))
    }

    /// Moves the clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(micros(by), Ordering::SeqCst);
    }

    /// The time since the Unix epoch.
    #[must_use]
    pub fn now(&self) -> Duration {
        Duration::from_micros(self.0.load(Ordering::SeqCst))
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Configures a [`RedisLimiter`]; see [`RedisLimiter::builder`].
#[must_use]
pub struct RedisLimiterBuilder {
    url: SecretString,
    key: LimiterKey,
    limit: RateLimit,
    ttl: Duration,
    timeout: Duration,
    clock: Option<ManualClock>,
}

impl fmt::Debug for RedisLimiterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiterBuilder")
            .field("url", &"[REDACTED]")
            .field("key", &self.key)
            .field("limit", &self.limit)
            .field("ttl", &self.ttl)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisLimiterBuilder {
    /// The budget: rate, burst, floor and probe interval (default
    /// [`RateLimit::default`]). Give every worker of one login the same;
    /// a worker keeps the shared rate within its own floor and maximum.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.limit = limit;
        self
    }

    /// How long an untouched budget stays in Redis (default
    /// [`LEARNED_RATE_KEEP`], a day: what it learned is worth that long;
    /// at least one probe interval).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The time to connect to Redis and for each of its answers (default
    /// [`DEFAULT_REDIS_TIMEOUT`]); past it, Redis counts as unreachable.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Times the script by `clock` instead of Redis's `TIME` (tests only:
    /// see [`ManualClock`]).
    pub fn clock(mut self, clock: ManualClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Parses the URL; connects to nothing yet.
    ///
    /// # Errors
    /// [`SharedLimiterError::Url`] when the URL does not parse or names a
    /// scheme this build cannot speak:
    ///
    /// ```
    /// use muster::gateway::LimiterKey;
    /// use muster::shared_limiter::{RedisLimiter, SharedLimiterError};
    /// let key = LimiterKey::new("admin@example.net", "us1.example:443");
    /// let err = RedisLimiter::builder("http://:pw@example.net".into(), &key).build().unwrap_err();
    /// assert!(matches!(err, SharedLimiterError::Url { .. }));
    /// assert!(!format!("{err:?}").contains("pw@"));
    /// ```
    pub fn build(self) -> Result<RedisLimiter, SharedLimiterError> {
        let client =
            redis::Client::open(self.url.expose_secret()).map_err(|e| SharedLimiterError::Url {
                source: RedisFailure::scrubbed(&e, Some(&self.url)),
            })?;
        let info = client.get_connection_info();
        let password = info
            .redis_settings()
            .password()
            .map(|p| SecretString::from(p.to_owned()));
        let at = format!("{}/{}", info.addr(), info.redis_settings().db());
        let floor = self.limit.floor_per_minute();
        Ok(RedisLimiter {
            inner: Arc::new(Inner {
                client,
                password,
                at,
                bucket: format!("muster:budget:{}|{}", self.key.login(), self.key.host()),
                limit: self.limit,
                ttl: self.ttl.max(self.limit.probe_interval()),
                timeout: self.timeout,
                clock: self.clock,
                conn: tokio::sync::Mutex::new(None),
                fallback: AdaptiveLimiter::new(RateLimit::per_minute(floor).with_burst(1)),
                local: Mutex::new(Local::default()),
            }),
        })
    }
}

/// A [`RateLimiter`] whose budget lives in Redis, shared by every process
/// (and every client) built for the same login and gateway host. See the
/// [module docs](self) for what it shares, how it learns and what it does
/// when Redis is away.
///
/// Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct RedisLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    /// The URL's password, to blank it in Redis's error text.
    password: Option<SecretString>,
    /// `host:port/db`, for Debug, logs and errors.
    at: String,
    /// The bucket's hash.
    bucket: String,
    limit: RateLimit,
    ttl: Duration,
    timeout: Duration,
    clock: Option<ManualClock>,
    /// The connection, made on first use and again after a failure.
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// Paces this process alone while Redis does not answer.
    fallback: AdaptiveLimiter,
    local: Mutex<Local>,
}

#[derive(Debug, Default)]
struct Local {
    /// Since when Redis has not answered, and when it was last asked.
    degraded: Option<Instant>,
    last_try: Option<Instant>,
    /// The shared rate and when it was learned, from the last answer.
    per_minute: Option<f64>,
    learned_ms: f64,
    /// A learned rate handed over outside any runtime, sent with the next
    /// acquire.
    pending_load: Option<(f64, SystemTime)>,
}

/// What is asked of the script.
#[derive(Debug, Clone, Copy)]
enum Op {
    Acquire,
    Throttled,
    RetryAfter(Duration),
    Succeeded,
    Load(f64, SystemTime),
    Peek,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Acquire => "acquire",
            Op::Throttled => "throttled",
            Op::RetryAfter(_) => "retry_after",
            Op::Succeeded => "succeeded",
            Op::Load(..) => "load",
            Op::Peek => "peek",
        }
    }
}

/// The script's answer: allowed, the wait in microseconds, the shared rate
/// and when it was learned (ms since the epoch; 0 for never).
type Answer = (i64, i64, String, String);

impl RedisLimiter {
    /// A limiter for the budget of `key` in the Redis at `url`
    /// (`redis://[:password@]host[:port][/db]`).
    pub fn builder(url: SecretString, key: &LimiterKey) -> RedisLimiterBuilder {
        RedisLimiterBuilder {
            url,
            key: key.clone(),
            limit: RateLimit::default(),
            ttl: LEARNED_RATE_KEEP,
            timeout: DEFAULT_REDIS_TIMEOUT,
            clock: None,
        }
    }

    /// The Redis key of the bucket (`muster:budget:<login>|<host:port>`).
    #[must_use]
    pub fn bucket_key(&self) -> &str {
        &self.inner.bucket
    }

    /// True while Redis does not answer and this process paces itself alone.
    #[must_use]
    pub fn is_degraded(&self) -> bool {
        lock(&self.inner.local).degraded.is_some()
    }

    /// Connects, checks that Redis answers and loads the script: what a run
    /// checks before it sends anything.
    ///
    /// # Errors
    /// [`SharedLimiterError::Unreachable`] or [`SharedLimiterError::Refused`].
    pub async fn check(&self) -> Result<(), SharedLimiterError> {
        let mut conn = self.inner.connection().await?;
        let loaded = SCRIPT.load_async(&mut conn).await;
        self.inner.answered(loaded).map(drop)
    }

    /// As [`check`](Self::check), on a blocking connection of its own, for
    /// callers outside any async runtime (building a client from a config
    /// file). Blocks for at most twice the [timeout](RedisLimiterBuilder::timeout).
    ///
    /// # Errors
    /// As [`check`](Self::check).
    pub fn check_blocking(&self) -> Result<(), SharedLimiterError> {
        let i = &self.inner;
        let run = || -> Result<(), RedisError> {
            let mut conn = i.client.get_connection_with_timeout(i.timeout)?;
            conn.set_read_timeout(Some(i.timeout))?;
            conn.set_write_timeout(Some(i.timeout))?;
            SCRIPT.load(&mut conn)?;
            Ok(())
        };
        run().map_err(|e| i.failure(&e))
    }

    /// Asks the script once whether a request may leave now (taking its
    /// slot) or how long until one may.
    ///
    /// # Errors
    /// When Redis does not answer or refuses.
    pub async fn try_acquire(&self) -> Result<Decision, SharedLimiterError> {
        let (allowed, wait_us, ..) = self.inner.run(Op::Acquire).await?;
        Ok(if allowed == 1 {
            Decision::Allowed
        } else {
            Decision::Wait(Duration::from_micros(wait_us.max(1).unsigned_abs()))
        })
    }

    /// Tells every worker that the gateway answered 429 without
    /// `Retry-After` (what [`RateLimiter::throttled`] sends in the background).
    ///
    /// # Errors
    /// When Redis does not answer or refuses.
    pub async fn report_throttled(&self) -> Result<(), SharedLimiterError> {
        self.inner.run(Op::Throttled).await.map(drop)
    }

    /// Tells every worker that nothing may leave for `wait` (a `Retry-After`).
    ///
    /// # Errors
    /// When Redis does not answer or refuses.
    pub async fn report_retry_after(&self, wait: Duration) -> Result<(), SharedLimiterError> {
        self.inner.run(Op::RetryAfter(wait)).await.map(drop)
    }

    /// Tells every worker a request went through (it may raise the rate).
    ///
    /// # Errors
    /// When Redis does not answer or refuses.
    pub async fn report_succeeded(&self) -> Result<(), SharedLimiterError> {
        self.inner.run(Op::Succeeded).await.map(drop)
    }

    /// The shared rate now, in requests per minute (the configured one for
    /// a budget nobody has used yet), without taking a slot.
    ///
    /// # Errors
    /// When Redis does not answer or refuses.
    pub async fn shared_per_minute(&self) -> Result<f64, SharedLimiterError> {
        self.inner.run(Op::Peek).await?;
        Ok(lock(&self.inner.local)
            .per_minute
            .unwrap_or(f64::from(self.inner.limit.requests_per_minute())))
    }

    /// Sends a report in the background (the trait's reports are not
    /// async); without a runtime, or while Redis is away, the fallback
    /// hears it instead.
    fn report(&self, op: Op) {
        let forward = move |fallback: &AdaptiveLimiter| match op {
            Op::Throttled => fallback.throttled(),
            Op::RetryAfter(wait) => fallback.retry_after(wait),
            Op::Succeeded => fallback.succeeded(),
            _ => {}
        };
        if self.is_degraded() {
            forward(&self.inner.fallback);
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let inner = Arc::clone(&self.inner);
                handle.spawn(async move {
                    if let Err(e) = inner.run(op).await {
                        inner.degrade(&e);
                        forward(&inner.fallback);
                    }
                });
            }
            Err(_) => forward(&self.inner.fallback),
        }
    }
}

impl Inner {
    async fn connection(&self) -> Result<MultiplexedConnection, SharedLimiterError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = &*slot {
            return Ok(conn.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| self.failure(&e))?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Redis's answer, or the error; a failed connection is dropped so the
    /// next call makes a new one.
    fn answered<T>(&self, result: Result<T, RedisError>) -> Result<T, SharedLimiterError> {
        result.map_err(|e| {
            if is_unreachable(&e)
                && let Ok(mut slot) = self.conn.try_lock()
            {
                *slot = None;
            }
            self.failure(&e)
        })
    }

    fn failure(&self, e: &RedisError) -> SharedLimiterError {
        let source = RedisFailure::scrubbed(e, self.password.as_ref());
        let at = self.at.clone();
        if is_unreachable(e) {
            SharedLimiterError::Unreachable { at, source }
        } else {
            SharedLimiterError::Refused { at, source }
        }
    }

    async fn run(&self, op: Op) -> Result<Answer, SharedLimiterError> {
        let limit = &self.limit;
        let (value, value2) = match op {
            Op::RetryAfter(wait) => (wait.as_secs_f64() * 1000.0, 0.0),
            Op::Load(per_minute, at) => (
                per_minute,
                at.duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64()
                    * 1000.0,
            ),
            _ => (0.0, 0.0),
        };
        let now = self
            .clock
            .as_ref()
            .map(|c| (c.now().as_secs_f64() * 1000.0).to_string())
            .unwrap_or_default();
        let mut conn = self.connection().await?;
        let answer: Result<Answer, _> = SCRIPT
            .key(&self.bucket)
            .arg(op.name())
            .arg(limit.requests_per_minute())
            .arg(limit.burst())
            .arg(limit.floor_per_minute())
            .arg(limit.probe_interval().as_secs_f64() * 1000.0)
            .arg(self.ttl.as_secs_f64() * 1000.0)
            .arg(value)
            .arg(value2)
            .arg(DECREASE_FACTOR)
            .arg(PROBE_STEP)
            .arg(now)
            .invoke_async(&mut conn)
            .await;
        let answer = self.answered(answer)?;
        let mut local = lock(&self.local);
        if let Some(since) = local.degraded.take() {
            tracing::warn!(
                redis = %self.at,
                down_for_seconds = since.elapsed().as_secs(),
                "the shared rate limit's Redis answers again: back to the shared budget"
            );
        }
        local.per_minute = answer.2.parse().ok();
        local.learned_ms = answer.3.parse().unwrap_or(0.0);
        Ok(answer)
    }

    /// Redis did not answer: from now on the fallback paces this process
    /// (said once per outage).
    fn degrade(&self, e: &SharedLimiterError) {
        let now = Instant::now();
        let mut local = lock(&self.local);
        local.last_try = Some(now);
        if local.degraded.is_none() {
            local.degraded = Some(now);
            tracing::warn!(
                error = %muster_core::error_chain(e),
                floor_per_minute = self.limit.floor_per_minute(),
                "the shared rate limit's Redis does not answer: this process paces \
                 itself alone at the budget's floor until it does"
            );
        }
    }

    /// True while Redis is away and was asked less than
    /// [`REDIS_RETRY_INTERVAL`] ago.
    fn waiting_for_redis(&self) -> bool {
        let local = lock(&self.local);
        local.degraded.is_some()
            && local
                .last_try
                .is_some_and(|t| t.elapsed() < REDIS_RETRY_INTERVAL)
    }
}

fn is_unreachable(e: &RedisError) -> bool {
    e.is_io_error() || e.is_timeout() || e.is_connection_refusal() || e.is_connection_dropped()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update under this lock is a plain assignment: a panic cannot
    // leave it half-done, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("RedisLimiter")
            .field("redis", &i.at)
            .field("bucket", &i.bucket)
            .field("limit", &i.limit)
            .field("degraded", &self.is_degraded())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn acquire(&self) {
        let pending = lock(&self.inner.local).pending_load.take();
        if let Some((per_minute, at)) = pending
            && let Err(e) = self.inner.run(Op::Load(per_minute, at)).await
        {
            self.inner.degrade(&e);
        }
        loop {
            if self.inner.waiting_for_redis() {
                self.inner.fallback.acquire().await;
                return;
            }
            match self.try_acquire().await {
                Ok(Decision::Allowed) => return,
                Ok(Decision::Wait(wait)) => tokio::time::sleep(wait).await,
                Err(e) => {
                    self.inner.degrade(&e);
                    self.inner.fallback.acquire().await;
                    return;
                }
            }
        }
    }

    fn throttled(&self) {
        self.report(Op::Throttled);
    }

    fn retry_after(&self, wait: Duration) {
        self.report(Op::RetryAfter(wait));
    }

    fn succeeded(&self) {
        self.report(Op::Succeeded);
    }

    /// The shared rate, as of the last answer, once anyone lowered it.
    fn learned_rate(&self, _now: SystemTime) -> Option<LearnedRate> {
        let local = lock(&self.inner.local);
        let per_minute = local.per_minute?;
        (local.learned_ms > 0.0).then(|| {
            LearnedRate::new(
                per_minute,
                SystemTime::UNIX_EPOCH + Duration::from_secs_f64(local.learned_ms / 1000.0),
            )
        })
    }

    /// Starts a budget nobody is using yet at a rate an earlier run saved;
    /// ignored when the budget is already in Redis (the workers spending
    /// it know better). Sent with the next acquire.
    fn load_learned_rate(&self, learned: LearnedRate, now: SystemTime) {
        let per_minute = learned.effective_per_minute(self.inner.limit.requests_per_minute(), now);
        lock(&self.inner.local).pending_load = Some((per_minute, learned.learned_at()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LimiterKey {
        LimiterKey::new("Admin@Example.net", "us1.example:443")
    }

    #[test]
    fn the_password_is_in_no_debug_output_nor_error() {
        let url: SecretString = "redis://:hunter2-pw@127.0.0.1:1/3".into();
        let builder = RedisLimiter::builder(url, &key());
        assert!(!format!("{builder:?}").contains("hunter2"));
        let limiter = builder.build().unwrap();
        let debug = format!("{limiter:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("127.0.0.1:1/3"), "{debug}");
        assert_eq!(
            limiter.bucket_key(),
            "muster:budget:admin@example.net|us1.example:443"
        );
        let err = limiter.check_blocking().unwrap_err();
        assert!(
            matches!(err, SharedLimiterError::Unreachable { .. }),
            "{err:?}"
        );
        let text = format!("{err:?} {}", muster_core::error_chain(&err));
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn redis_error_text_is_scrubbed_of_the_password() {
        let e = RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "bad",
            "the url redis://:s3cret@h said s3cret".to_owned(),
        ));
        let f = RedisFailure::scrubbed(&e, Some(&SecretString::from("s3cret")));
        assert!(!f.to_string().contains("s3cret"), "{f}");
        assert!(f.to_string().contains("[REDACTED]"), "{f}");
    }
}
