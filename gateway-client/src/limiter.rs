//! Client-side pacing: a token bucket that slows down when the gateway says
//! 429 and speeds up again slowly, shared by every client that uses the
//! same login against the same gateway host.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

/// Paces requests. One limiter stands for one budget on the gateway.
///
/// Implement this to share a budget across processes (a Redis or database
/// token bucket, say). Do not implement it to add retries: retrying is the
/// client's job, the limiter only decides *when* a request may leave.
#[async_trait]
pub trait RateLimiter: Send + Sync + fmt::Debug {
    /// Waits until one more request may be sent.
    async fn acquire(&self);
    /// The gateway answered 429: slow down.
    fn throttled(&self);
    /// A request went through without being throttled.
    fn succeeded(&self);
}

/// The pace of the default limiter.
///
/// The default, 100 requests a minute with a burst of 5, is the figure from
/// a third-party summary of the API (seed 003) and is unverified, which is
/// why the limiter halves its rate on every 429.
///
/// ```
/// use muster_gateway::RateLimit;
/// let limit = RateLimit::per_minute(300).with_burst(10);
/// assert_eq!(limit.requests_per_minute(), 300);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RateLimit {
    per_minute: u32,
    burst: u32,
    floor_per_minute: u32,
}

impl RateLimit {
    /// `n` requests per minute (at least 1), burst 5, never slower than 1/10 of `n` after 429s.
    #[must_use]
    pub fn per_minute(n: u32) -> Self {
        let n = n.max(1);
        RateLimit {
            per_minute: n,
            burst: 5,
            floor_per_minute: (n / 10).max(1),
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
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::per_minute(100)
    }
}

/// On a 429 the rate is multiplied by this.
const DECREASE_FACTOR: f64 = 0.5;
/// Each unthrottled request gives back this share of the configured rate, so
/// recovering from one halving takes 25 good requests.
const RECOVERY_SHARE: f64 = 0.02;

/// The default limiter: a token bucket driven by tokio's clock (so tests can
/// pause time), with multiplicative decrease on 429 and slow additive recovery.
///
/// Waiting requests reserve their slot under the lock and sleep outside it,
/// so callers are served in arrival order.
pub struct AdaptiveLimiter {
    limit: RateLimit,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl AdaptiveLimiter {
    /// A full bucket at the configured rate.
    #[must_use]
    pub fn new(limit: RateLimit) -> Self {
        AdaptiveLimiter {
            limit,
            state: Mutex::new(BucketState {
                per_second: f64::from(limit.per_minute) / 60.0,
                tokens: f64::from(limit.burst),
                last: Instant::now(),
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

    fn reserve(&self) -> Duration {
        let mut s = lock(&self.state);
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(s.last).as_secs_f64();
        s.tokens = (s.tokens + elapsed * s.per_second).min(f64::from(self.limit.burst));
        s.last = now;
        s.tokens -= 1.0;
        if s.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.tokens / s.per_second)
        }
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
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    fn throttled(&self) {
        let floor = f64::from(self.limit.floor_per_minute) / 60.0;
        let mut s = lock(&self.state);
        s.per_second = (s.per_second * DECREASE_FACTOR).max(floor);
        // The burst is what got us throttled: spend it.
        s.tokens = s.tokens.min(0.0);
    }

    fn succeeded(&self) {
        let max = f64::from(self.limit.per_minute) / 60.0;
        let mut s = lock(&self.state);
        s.per_second = (s.per_second + max * RECOVERY_SHARE).min(max);
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

    #[tokio::test(start_paused = true)]
    async fn a_429_halves_the_rate_and_recovery_is_slow() {
        let limiter = AdaptiveLimiter::new(RateLimit::per_minute(60).with_burst(1));
        limiter.throttled();
        assert!((limiter.current_per_minute() - 30.0).abs() < 1e-9);
        // At 30/min, 10 calls after an empty bucket need ~20 s, not 10 s.
        let took = time_for(&limiter, 10).await;
        assert!(took >= Duration::from_secs(19), "{took:?}");
        limiter.succeeded();
        assert!(limiter.current_per_minute() < 32.0);
        for _ in 0..100 {
            limiter.succeeded();
        }
        assert!((limiter.current_per_minute() - 60.0).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn repeated_429s_stop_at_the_floor() {
        let limiter = AdaptiveLimiter::new(RateLimit::per_minute(100).with_floor_per_minute(10));
        for _ in 0..20 {
            limiter.throttled();
        }
        assert!((limiter.current_per_minute() - 10.0).abs() < 1e-9);
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
