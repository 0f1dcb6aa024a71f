//! Client-side pacing: a GCRA token bucket whose rate is learned from the
//! gateway's 429s, shared by every client that uses the same login against
//! the same gateway host, and kept from one run to the next as a
//! [`LearnedRate`].

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::Error;

/// Paces requests. One limiter stands for one budget on the gateway.
///
/// Implement this to share a budget across processes (a Redis or database
/// token bucket, say). Do not implement it to add retries: retrying is the
/// client's job, the limiter only decides *when* a request may leave.
#[async_trait]
pub trait RateLimiter: Send + Sync + fmt::Debug {
    /// Waits until one more request may be sent.
    async fn acquire(&self);
    /// The gateway answered 429 without saying how long to wait: slow down.
    fn throttled(&self);
    /// The gateway answered 429 with a `Retry-After` of `wait`: nothing may
    /// be sent before it has passed. The default treats it as [`throttled`](Self::throttled).
    fn retry_after(&self, wait: Duration) {
        let _ = wait;
        self.throttled();
    }
    /// A request went through without being throttled.
    fn succeeded(&self);
    /// The rate this limiter learned, to be saved for the next run; `None`
    /// (the default) when it learned nothing or does not learn.
    fn learned_rate(&self, now: SystemTime) -> Option<LearnedRate> {
        let _ = now;
        None
    }
    /// Starts from a rate an earlier run learned. The default ignores it.
    fn load_learned_rate(&self, learned: LearnedRate, now: SystemTime) {
        let _ = (learned, now);
    }
}

/// The pace of the default limiter.
///
/// The default, 100 requests a minute with a burst of 5, is the figure from
/// a third-party summary of the API (seed 003) and is unverified, which is
/// why the limiter learns the real one from the gateway's 429s.
///
/// ```
/// use std::time::Duration;
/// use muster_gateway::RateLimit;
/// let limit = RateLimit::per_minute(300).with_burst(10).with_probe_interval(Duration::from_secs(30));
/// assert_eq!(limit.requests_per_minute(), 300);
/// assert_eq!(limit.probe_interval(), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RateLimit {
    per_minute: u32,
    burst: u32,
    floor_per_minute: u32,
    probe_interval: Duration,
}

impl RateLimit {
    /// `n` requests per minute (at least 1), burst 5, never slower than 1/10
    /// of `n` after 429s, one probe upward a minute.
    #[must_use]
    pub fn per_minute(n: u32) -> Self {
        let n = n.max(1);
        RateLimit {
            per_minute: n,
            burst: 5,
            floor_per_minute: (n / 10).max(1),
            probe_interval: Duration::from_secs(60),
        }
    }

    /// How many requests may go at once after a quiet period (at least 1).
    #[must_use]
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst.max(1);
        self
    }

    /// The slowest the limiter will go after repeated 429s (at least 1/min).
    #[must_use]
    pub fn with_floor_per_minute(mut self, floor: u32) -> Self {
        self.floor_per_minute = floor.clamp(1, self.per_minute);
        self
    }

    /// How long the limiter keeps a rate before it tries a higher one (P;
    /// default one minute). Each probe may cost one 429, so a shorter
    /// interval finds a raised limit sooner and pays more 429s for it.
    #[must_use]
    pub fn with_probe_interval(mut self, interval: Duration) -> Self {
        self.probe_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The configured (maximum) rate.
    #[must_use]
    pub fn requests_per_minute(&self) -> u32 {
        self.per_minute
    }

    /// The configured burst.
    #[must_use]
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The probe interval P.
    #[must_use]
    pub fn probe_interval(&self) -> Duration {
        self.probe_interval
    }

    /// The slowest pace 429s can bring the limiter down to.
    #[must_use]
    pub fn floor_per_minute(&self) -> u32 {
        self.floor_per_minute
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::per_minute(100)
    }
}

/// On a 429 without `Retry-After`, before half a probe interval has been
/// counted, the rate is multiplied by this.
pub const DECREASE_FACTOR: f64 = 0.9;
/// After a 429 the rate is this share of the rate the gateway accepted over
/// the last probe interval (or of the current rate, if lower).
pub const ACCEPTED_SHARE: f64 = 0.98;
/// Each probe raises the rate by this share of the configured rate.
pub const PROBE_STEP: f64 = 0.05;

/// The default limiter: a GCRA token bucket on tokio's clock (so tests can
/// pause time) whose rate is learned.
///
/// - A 429 without `Retry-After` lowers the rate multiplicatively: to
///   [`ACCEPTED_SHARE`] of the rate the gateway accepted over the last probe
///   interval (or of the current rate, if lower) once at least half an
///   interval has been counted, so a limit far below the rate is found in
///   one step, not in minutes; by [`DECREASE_FACTOR`] before that. (The
///   gateway's window is taken to be the probe interval: a minute by
///   default, the unit its budget is counted in.) Once
///   per run of 429s: the ones that follow it before any success
///   (a sliding window on the gateway keeps refusing until it drains) only
///   double a pause, which starts at one request interval and never
///   exceeds the probe interval; 429s of requests sent before a pause
///   began do not extend it.
/// - A `Retry-After` is honoured exactly: nothing leaves before it has
///   passed, and the rate is not lowered (the gateway said what it wants).
/// - Then it probes upward: at most once per [probe interval](RateLimit::with_probe_interval),
///   after a success, by [`PROBE_STEP`] of the configured rate, never above it.
/// - What it learned is a [`LearnedRate`] to save and load, so the next run
///   starts where this one ended.
///
/// Waiting requests reserve their slot under the lock and sleep outside it,
/// so callers are served in arrival order.
///
/// Hand-written rather than `governor`: governor's quota is fixed when the
/// limiter is built (no rate that moves with 429s, no pause until a
/// `Retry-After` has passed), and the fleet's store shared across
/// processes needs the same GCRA arithmetic outside any one process.
pub struct AdaptiveLimiter {
    limit: RateLimit,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    per_second: f64,
    /// GCRA's theoretical arrival time of the next request.
    tat: Instant,
    /// The last decrease or probe: the next probe is one interval later.
    last_change: Instant,
    /// 429s in a row, without a success between them (429s that arrive
    /// during the pause they caused are not counted: those requests left
    /// before it began).
    streak: u32,
    /// The end of the current pause after 429s.
    paused_until: Instant,
    /// Counts the pauses: a slot reserved before a pause began is void.
    pauses: u64,
    /// The rate before the last probe (which ran a whole interval without
    /// a 429), or the last lowered or loaded rate: what is saved while a
    /// probe is still unanswered.
    last_good: f64,
    /// When the last probe raised the rate, until a 429 answers it.
    probed_at: Option<Instant>,
    /// When the requests of the last probe interval were accepted: the
    /// rate the gateway really allowed.
    accepted: VecDeque<Instant>,
    /// Since when requests have been counted in `accepted`.
    counting_since: Instant,
    /// When the rate was last learned (lowered, or loaded), if ever.
    learned_at: Option<SystemTime>,
}

impl AdaptiveLimiter {
    /// A full bucket at the configured rate.
    #[must_use]
    pub fn new(limit: RateLimit) -> Self {
        let now = Instant::now();
        AdaptiveLimiter {
            limit,
            state: Mutex::new(BucketState {
                per_second: f64::from(limit.per_minute) / 60.0,
                tat: now,
                last_change: now,
                streak: 0,
                paused_until: now,
                pauses: 0,
                last_good: f64::from(limit.per_minute) / 60.0,
                probed_at: None,
                accepted: VecDeque::new(),
                counting_since: now,
                learned_at: None,
            }),
        }
    }

    /// The limiter for this login on this gateway host, shared with every
    /// other client in the process that uses the same pair. The first
    /// caller's `limit` wins while the limiter is alive.
    #[must_use]
    pub fn shared(key: LimiterKey, limit: RateLimit) -> Arc<Self> {
        static REGISTRY: OnceLock<Mutex<HashMap<LimiterKey, Weak<AdaptiveLimiter>>>> =
            OnceLock::new();
        let mut map = lock(REGISTRY.get_or_init(Default::default));
        if let Some(existing) = map.get(&key).and_then(Weak::upgrade) {
            return existing;
        }
        map.retain(|_, weak| weak.strong_count() > 0);
        let limiter = Arc::new(AdaptiveLimiter::new(limit));
        map.insert(key, Arc::downgrade(&limiter));
        limiter
    }

    /// The rate the limiter currently allows, in requests per minute.
    #[must_use]
    pub fn current_per_minute(&self) -> f64 {
        lock(&self.state).per_second * 60.0
    }

    fn max_per_second(&self) -> f64 {
        f64::from(self.limit.per_minute) / 60.0
    }

    /// How long `burst` requests may run ahead of the rate (GCRA's τ).
    fn tolerance(&self, per_second: f64) -> Duration {
        Duration::from_secs_f64(f64::from(self.limit.burst - 1) / per_second)
    }

    /// Reserves the next slot: how long until it, and the pause count it
    /// was reserved under.
    fn reserve(&self) -> (Duration, u64) {
        let mut s = lock(&self.state);
        let now = Instant::now();
        let interval = Duration::from_secs_f64(1.0 / s.per_second);
        let tat = s.tat.max(now);
        let send_at = tat
            .checked_sub(self.tolerance(s.per_second))
            .unwrap_or(now)
            .max(now);
        s.tat = tat + interval;
        (send_at - now, s.pauses)
    }

    /// True when no pause began since a slot was reserved under `pauses`.
    fn still_valid(&self, pauses: u64) -> bool {
        lock(&self.state).pauses == pauses
    }

    /// Nothing leaves before `until`, and the burst is spent.
    fn pause_until(&self, s: &mut BucketState, until: Instant) {
        let tolerance = self.tolerance(s.per_second);
        s.tat = s.tat.max(until + tolerance);
        s.paused_until = s.paused_until.max(until);
        s.pauses += 1;
    }
}

/// Drops the instants older than `span`.
fn forget_before(instants: &mut VecDeque<Instant>, now: Instant, span: Duration) {
    while instants
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) > span)
    {
        instants.pop_front();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the bucket inconsistent
    // (every update is a single assignment), so a poisoned lock is usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl fmt::Debug for AdaptiveLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveLimiter")
            .field("limit", &self.limit)
            .field("current_per_minute", &self.current_per_minute())
            .finish()
    }
}

#[async_trait]
impl RateLimiter for AdaptiveLimiter {
    async fn acquire(&self) {
        // A request that waited for its slot while a 429 paused everyone
        // takes a new slot after the pause instead of going out into it.
        loop {
            let (wait, pauses) = self.reserve();
            if wait.is_zero() {
                return;
            }
            tokio::time::sleep(wait).await;
            if self.still_valid(pauses) {
                return;
            }
        }
    }

    fn throttled(&self) {
        let floor = f64::from(self.limit.floor_per_minute) / 60.0;
        let now = Instant::now();
        let mut s = lock(&self.state);
        if now < s.paused_until {
            // Sent before the pause began: the same lesson again.
            return;
        }
        if s.streak == 0 {
            let before = s.per_second * 60.0;
            // What the gateway accepted over the last probe interval: a
            // sliding window refuses in blocks, once per window, so the
            // factor alone would take minutes to find a limit far below the
            // rate. The gateway's window is taken to be the probe interval
            // (a minute by default, the unit of its budget), and the count
            // trusted once at least half of it has been seen (before that,
            // a gateway with a short window would look far stricter than
            // it is).
            let p = self.limit.probe_interval;
            forget_before(&mut s.accepted, now, p);
            let lowered = if now.saturating_duration_since(s.counting_since) >= p / 2 {
                let accepted = s.accepted.len() as f64 / p.as_secs_f64();
                s.per_second.min(accepted) * ACCEPTED_SHARE
            } else {
                s.per_second * DECREASE_FACTOR
            };
            s.per_second = lowered.min(s.per_second).max(floor);
            s.last_good = s.per_second;
            s.probed_at = None;
            s.last_change = now;
            s.learned_at = Some(SystemTime::now());
            tracing::info!(
                from_per_minute = before,
                to_per_minute = s.per_second * 60.0,
                "throttled by the gateway: pacing lowered"
            );
        }
        s.streak += 1;
        let pause = Duration::from_secs_f64(1.0 / s.per_second)
            .saturating_mul(1 << (s.streak - 1).min(16))
            .min(self.limit.probe_interval);
        self.pause_until(&mut s, now + pause);
    }

    fn retry_after(&self, wait: Duration) {
        let now = Instant::now();
        let mut s = lock(&self.state);
        self.pause_until(&mut s, now + wait);
    }

    fn succeeded(&self) {
        let max = self.max_per_second();
        let now = Instant::now();
        let mut s = lock(&self.state);
        s.streak = 0;
        s.accepted.push_back(now);
        forget_before(&mut s.accepted, now, self.limit.probe_interval);
        if s.per_second < max
            && now.saturating_duration_since(s.last_change) >= self.limit.probe_interval
        {
            let before = s.per_second * 60.0;
            s.last_good = s.per_second;
            s.probed_at = Some(now);
            s.per_second = (s.per_second + max * PROBE_STEP).min(max);
            s.last_change = now;
            tracing::debug!(
                from_per_minute = before,
                to_per_minute = s.per_second * 60.0,
                "probing a higher pace"
            );
        }
    }

    fn learned_rate(&self, _now: SystemTime) -> Option<LearnedRate> {
        let s = lock(&self.state);
        // Not a probe still unanswered: the last rate known to hold.
        let p = self.limit.probe_interval;
        let rate = match s.probed_at {
            Some(t) if Instant::now().saturating_duration_since(t) < p => s.last_good,
            _ => s.per_second,
        };
        s.learned_at.map(|at| LearnedRate::new(rate * 60.0, at))
    }

    fn load_learned_rate(&self, learned: LearnedRate, now: SystemTime) {
        let rate = learned.effective_per_minute(self.limit.per_minute, now);
        let floor = f64::from(self.limit.floor_per_minute);
        let now = Instant::now();
        let mut s = lock(&self.state);
        s.per_second = rate.max(floor) / 60.0;
        s.last_good = s.per_second;
        s.learned_at = Some(learned.learned_at());
        s.last_change = now;
        // No burst to start with: the gateway's window may still hold the
        // last run's requests, and the learned rate is its whole budget.
        let tolerance = self.tolerance(s.per_second);
        s.tat = s.tat.max(now + tolerance);
    }
}

/// How long a learned rate is kept as it is; over the same time again it
/// decays back to the configured budget (a gateway's limit rarely moves,
/// but a rate learned on a bad day must not slow every later run).
pub const LEARNED_RATE_KEEP: Duration = Duration::from_secs(24 * 60 * 60);

/// A rate the limiter learned from the gateway's 429s, with when: the small
/// value muster keeps per login and stack between runs (not per
/// organisation: the gateway counts requests per login).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use muster_gateway::{LearnedRate, LEARNED_RATE_KEEP};
/// let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// let learned = LearnedRate::new(57.0, at);
/// assert_eq!(learned.effective_per_minute(100, at + Duration::from_secs(60)), 57.0);
/// // Half-way through the decay, half-way back to the configured 100.
/// let later = at + LEARNED_RATE_KEEP + LEARNED_RATE_KEEP / 2;
/// assert!((learned.effective_per_minute(100, later) - 78.5).abs() < 1e-6);
/// assert_eq!(learned.effective_per_minute(100, at + LEARNED_RATE_KEEP * 2), 100.0);
/// // Never above the configured budget.
/// assert_eq!(learned.effective_per_minute(40, at), 40.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LearnedRate {
    /// Requests per minute.
    per_minute: f64,
    /// When it was learned, in seconds since the Unix epoch.
    learned_at_unix: u64,
}

impl LearnedRate {
    /// `per_minute` learned at `learned_at`.
    #[must_use]
    pub fn new(per_minute: f64, learned_at: SystemTime) -> Self {
        LearnedRate {
            per_minute,
            learned_at_unix: learned_at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// The learned rate, in requests per minute.
    #[must_use]
    pub fn per_minute(&self) -> f64 {
        self.per_minute
    }

    /// When it was learned.
    #[must_use]
    pub fn learned_at(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(self.learned_at_unix)
    }

    /// The rate to start at `now` with `configured` as the budget: the
    /// learned rate for [`LEARNED_RATE_KEEP`], then linearly back to the
    /// configured rate over as long again; never above the configured rate.
    /// A time in the future (a clock set back) counts as just learned.
    #[must_use]
    pub fn effective_per_minute(&self, configured: u32, now: SystemTime) -> f64 {
        let configured = f64::from(configured);
        let learned = self.per_minute.min(configured);
        let age = now.duration_since(self.learned_at()).unwrap_or_default();
        let Some(decaying) = age.checked_sub(LEARNED_RATE_KEEP) else {
            return learned;
        };
        let share = (decaying.as_secs_f64() / LEARNED_RATE_KEEP.as_secs_f64()).min(1.0);
        learned + (configured - learned) * share
    }

    /// Reads a learned rate saved by [`save`](Self::save); `Ok(None)` when
    /// there is no file yet.
    ///
    /// # Errors
    /// [`Error::LearnedRate`] when the file cannot be read or does not parse.
    pub fn load(path: &Path) -> Result<Option<Self>, Error> {
        let io = |reason: String| Error::LearnedRate {
            path: path.to_owned(),
            reason,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| io(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e.to_string())),
        }
    }

    /// Writes it to `path` atomically (a temporary file in the same
    /// directory, renamed over the old one), readable by its owner only.
    ///
    /// # Errors
    /// [`Error::LearnedRate`] when the directory is not writable.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let io = |e: std::io::Error| Error::LearnedRate {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        // NamedTempFile is created 0600 on unix.
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        let text = serde_json::to_string(self).map_err(|e| io(std::io::Error::other(e)))?;
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io)?;
        file.as_file().sync_all().map_err(io)?;
        file.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

/// What one budget on the gateway is keyed by: the login and the host.
///
/// An MSP uses one channel-admin login for many organisations, and the
/// gateway counts requests per login, so the organisation is not part of
/// the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LimiterKey {
    login: String,
    host: String,
}

impl LimiterKey {
    /// The key for `login` (the user name, never the password) on `host`
    /// (host and port of the gateway).
    #[must_use]
    pub fn new(login: &str, host: &str) -> Self {
        LimiterKey {
            login: login.to_ascii_lowercase(),
            host: host.to_ascii_lowercase(),
        }
    }

    /// The login (lowercased): a user name, never the password.
    #[must_use]
    pub fn login(&self) -> &str {
        &self.login
    }

    /// The gateway's `host:port` (lowercased).
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A file name for this key's [`LearnedRate`]
    /// (`learned-rate-admin@example.com-us1.example.com_443.json`): login
    /// and host with every character but letters, digits, `@`, `.`, `-`
    /// and `_` replaced by `_`. The login is a user name, never a secret.
    #[must_use]
    pub fn file_name(&self) -> String {
        let safe = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "@.-_".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        format!(
            "learned-rate-{}-{}.json",
            safe(&self.login),
            safe(&self.host)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn time_for(limiter: &AdaptiveLimiter, n: u32) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            limiter.acquire().await;
        }
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn n_calls_with_burst_b_take_at_least_n_minus_b_over_r() {
        // 60/min, burst 5, 25 calls: the first 5 are free, the other 20 need 20 s.
        let limiter = AdaptiveLimiter::new(RateLimit::per_minute(60).with_burst(5));
        let took = time_for(&limiter, 25).await;
        assert!(took >= Duration::from_secs(20), "{took:?}");
        assert!(took < Duration::from_secs(21), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn burst_is_free_and_refills_after_a_quiet_period() {
        let limiter = AdaptiveLimiter::new(RateLimit::per_minute(60).with_burst(3));
        assert_eq!(time_for(&limiter, 3).await, Duration::ZERO);
        tokio::time::sleep(Duration::from_secs(60)).await;
        // Refilled to the burst, not beyond it.
        assert_eq!(time_for(&limiter, 3).await, Duration::ZERO);
        assert!(time_for(&limiter, 1).await >= Duration::from_millis(999));
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_lowers_the_rate_once_per_run_of_429s() {
        let limiter = AdaptiveLimiter::new(RateLimit::per_minute(60).with_burst(1));
        limiter.throttled();
        assert!(close(limiter.current_per_minute(), 60.0 * DECREASE_FACTOR));
        // More 429s before any success: the same overflow, not a new lesson.
        tokio::time::advance(Duration::from_secs(5)).await;
        limiter.throttled();
        limiter.throttled();
        assert!(close(limiter.current_per_minute(), 60.0 * DECREASE_FACTOR));
        // Then the gateway accepts one a second for half a minute: 30 in
        // the last interval (a minute), and refuses again.
        for _ in 0..30 {
            tokio::time::advance(Duration::from_secs(1)).await;
            limiter.succeeded();
        }
        limiter.throttled();
        assert!(close(limiter.current_per_minute(), 30.0 * ACCEPTED_SHARE));
    }

    #[tokio::test(start_paused = true)]
    async fn a_limit_far_below_the_rate_is_found_in_one_step() {
        let limiter = AdaptiveLimiter::new(RateLimit::per_minute(100));
        // The gateway accepted 30 a minute, then refused.
        for _ in 0..30 {
            tokio::time::advance(Duration::from_secs(2)).await;
            limiter.succeeded();
        }
        limiter.throttled();
        assert!(close(limiter.current_per_minute(), 30.0 * ACCEPTED_SHARE));
    }

    #[tokio::test(start_paused = true)]
    async fn throttles_in_a_row_double_a_pause_that_starts_at_one_interval() {
        let limiter = AdaptiveLimiter::new(RateLimit::per_minute(60).with_burst(5));
        limiter.throttled();
        let interval = Duration::from_secs_f64(60.0 / (60.0 * DECREASE_FACTOR));
        // The burst is spent and nothing leaves for one interval.
        let took = time_for(&limiter, 1).await;
        assert!(
            took >= interval && took < interval + Duration::from_millis(5),
            "{took:?}"
        );
        limiter.throttled();
        let took = time_for(&limiter, 1).await;
        assert!(
            took >= interval * 2 && took < interval * 2 + Duration::from_millis(5),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttles_from_before_a_pause_do_not_extend_it_and_it_stops_at_the_probe_interval() {
        let p = Duration::from_secs(4);
        let limiter = AdaptiveLimiter::new(
            RateLimit::per_minute(60)
                .with_burst(1)
                .with_probe_interval(p),
        );
        limiter.throttled();
        // Three more answers to requests that were in flight: no longer pause.
        limiter.throttled();
        limiter.throttled();
        limiter.throttled();
        let interval = Duration::from_secs_f64(60.0 / (60.0 * DECREASE_FACTOR));
        assert!(time_for(&limiter, 1).await < interval + Duration::from_millis(5));
        // 429s in a row, each after its pause: 2, 4, 8… intervals, but never beyond P.
        for _ in 0..6 {
            limiter.throttled();
            let took = time_for(&limiter, 1).await;
            assert!(took <= p + Duration::from_millis(5), "{took:?}");
        }
        limiter.throttled();
        assert!(time_for(&limiter, 1).await >= p);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_pauses_exactly_that_long_and_keeps_the_rate() {
        let limiter = AdaptiveLimiter::new(RateLimit::per_minute(600).with_burst(5));
        limiter.retry_after(Duration::from_secs(7));
        assert!(close(limiter.current_per_minute(), 600.0));
        assert_eq!(time_for(&limiter, 1).await, Duration::from_secs(7));
        assert!(limiter.learned_rate(SystemTime::now()).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn it_probes_upward_at_most_once_per_interval_never_above_the_budget() {
        let p = Duration::from_secs(30);
        let limiter = AdaptiveLimiter::new(RateLimit::per_minute(100).with_probe_interval(p));
        limiter.throttled();
        let low = 100.0 * DECREASE_FACTOR;
        // Successes within the interval do not raise it.
        tokio::time::advance(p - Duration::from_secs(1)).await;
        limiter.succeeded();
        assert!(close(limiter.current_per_minute(), low));
        tokio::time::advance(Duration::from_secs(1)).await;
        limiter.succeeded();
        limiter.succeeded();
        assert!(close(
            limiter.current_per_minute(),
            low + 100.0 * PROBE_STEP
        ));
        for _ in 0..10 {
            tokio::time::advance(p).await;
            limiter.succeeded();
        }
        assert!(close(limiter.current_per_minute(), 100.0));
    }

    #[tokio::test(start_paused = true)]
    async fn repeated_429s_stop_at_the_floor() {
        let limiter = AdaptiveLimiter::new(RateLimit::per_minute(100).with_floor_per_minute(10));
        for _ in 0..40 {
            limiter.throttled();
            tokio::time::advance(Duration::from_secs(10)).await;
            limiter.succeeded();
        }
        assert!(close(limiter.current_per_minute(), 10.0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_learned_rate_is_where_the_next_limiter_starts() {
        let first = AdaptiveLimiter::new(RateLimit::per_minute(60).with_burst(1));
        first.throttled();
        let learned = first.learned_rate(SystemTime::now()).unwrap();
        assert!(close(learned.per_minute(), 60.0 * DECREASE_FACTOR));
        let next = AdaptiveLimiter::new(RateLimit::per_minute(60).with_burst(1));
        next.load_learned_rate(learned, SystemTime::now());
        assert!(close(next.current_per_minute(), 54.0));
        // 54/min: ten calls after the first need 10 × 60/54 s.
        let took = time_for(&next, 11).await;
        assert!(took >= Duration::from_secs_f64(600.0 / 54.0), "{took:?}");
        // And no probe before one interval has passed.
        next.succeeded();
        assert!(close(next.current_per_minute(), 54.0));
    }

    #[test]
    fn a_learned_rate_survives_a_file_round_trip_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = LimiterKey::new("MSP@Example.com", "us1.example.com:443");
        let path = dir.path().join(key.file_name());
        assert_eq!(
            key.file_name(),
            "learned-rate-msp@example.com-us1.example.com_443.json"
        );
        assert_eq!(LearnedRate::load(&path).unwrap(), None);
        let learned = LearnedRate::new(57.5, SystemTime::UNIX_EPOCH + Duration::from_secs(9));
        learned.save(&path).unwrap();
        LearnedRate::new(12.0, SystemTime::now())
            .save(&path)
            .unwrap();
        learned.save(&path).unwrap();
        assert_eq!(LearnedRate::load(&path).unwrap(), Some(learned));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not json").unwrap();
        assert!(matches!(
            LearnedRate::load(&path),
            Err(Error::LearnedRate { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn same_key_shares_one_budget() {
        let key = LimiterKey::new("Admin@Shared.example", "us1.example:443");
        let a = AdaptiveLimiter::shared(key.clone(), RateLimit::per_minute(60).with_burst(2));
        let b = AdaptiveLimiter::shared(
            LimiterKey::new("admin@shared.example", "US1.example:443"),
            RateLimit::per_minute(60).with_burst(2),
        );
        let other = AdaptiveLimiter::shared(
            LimiterKey::new("someone-else@shared.example", "us1.example:443"),
            RateLimit::per_minute(60).with_burst(2),
        );
        assert_eq!(time_for(&a, 2).await, Duration::ZERO);
        // b has no burst left: a spent it.
        assert!(time_for(&b, 1).await >= Duration::from_millis(999));
        assert_eq!(time_for(&other, 2).await, Duration::ZERO);
    }
}
