//! When to try again ([`classify`]) and how long to wait ([`backoff_delay`]):
//! two pure functions, kept apart so each is tested on its own.

use std::time::Duration;

/// How many attempts and how long to wait between them.
///
/// ```
/// use std::time::Duration;
/// use muster_gateway::RetryConfig;
/// let retry = RetryConfig::standard()
///     .with_max_attempts(4)
///     .with_initial_backoff(Duration::from_millis(200));
/// assert_eq!(retry.max_attempts(), 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
}

impl RetryConfig {
    /// Five attempts, backoff from 500 ms doubling up to 30 s, `Retry-After`
    /// honoured up to 2 minutes.
    #[must_use]
    pub fn standard() -> Self {
        RetryConfig {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }

    /// One attempt, no retries.
    #[must_use]
    pub fn disabled() -> Self {
        RetryConfig::standard().with_max_attempts(1)
    }

    /// Total attempts including the first (at least 1).
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff ceiling before the first retry; it doubles per attempt.
    #[must_use]
    pub fn with_initial_backoff(mut self, delay: Duration) -> Self {
        self.initial_backoff = delay;
        self
    }

    /// The largest backoff ceiling.
    #[must_use]
    pub fn with_max_backoff(mut self, delay: Duration) -> Self {
        self.max_backoff = delay;
        self
    }

    /// A `Retry-After` longer than this is clamped to it (a server asking
    /// for an hour should not hang a sync run for an hour).
    #[must_use]
    pub fn with_max_retry_after(mut self, delay: Duration) -> Self {
        self.max_retry_after = delay;
        self
    }

    /// Total attempts including the first.
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig::standard()
    }
}

/// Why a request may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryReason {
    /// 429: the gateway asks us to slow down; the request was not processed.
    Throttled,
    /// 408 or 5xx: the gateway failed; a write may or may not have happened.
    ServerError,
    /// Timeout or dropped connection after sending: a write may or may not have happened.
    Transport,
    /// The connection was never made: nothing was sent.
    Connect,
}

impl RetryReason {
    /// True when the request certainly did not reach the application, so
    /// even a non-idempotent POST may be sent again.
    #[must_use]
    pub fn request_not_processed(self) -> bool {
        matches!(self, RetryReason::Throttled | RetryReason::Connect)
    }
}

/// What to do after one attempt (after smithy-rs `RetryAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryAction {
    /// Success, or a definite answer: hand it to the caller.
    NoActionIndicated,
    /// A transient failure: may be retried.
    RetryIndicated(RetryReason),
    /// A definite failure (400, 401, 403, 404, 409…): never retried.
    RetryForbidden,
}

/// The outcome of one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// A response with this status arrived.
    Status(u16),
    /// Connecting failed: nothing was sent.
    ConnectFailed,
    /// The request timed out or the connection dropped after sending.
    Interrupted,
}

/// The single place that decides which outcomes are retryable:
/// 429, 408, 5xx, connect failures and timeouts are; other 4xx are not,
/// and neither are 3xx (redirects are not followed: they would carry the
/// credential headers to wherever they point).
///
/// ```
/// use muster_gateway::retry::{classify, AttemptOutcome, RetryAction, RetryReason};
/// assert_eq!(classify(AttemptOutcome::Status(429)), RetryAction::RetryIndicated(RetryReason::Throttled));
/// assert_eq!(classify(AttemptOutcome::Status(400)), RetryAction::RetryForbidden);
/// ```
#[must_use]
pub fn classify(outcome: AttemptOutcome) -> RetryAction {
    match outcome {
        AttemptOutcome::Status(s) if (200..300).contains(&s) => RetryAction::NoActionIndicated,
        AttemptOutcome::Status(429) => RetryAction::RetryIndicated(RetryReason::Throttled),
        AttemptOutcome::Status(408) => RetryAction::RetryIndicated(RetryReason::ServerError),
        AttemptOutcome::Status(s) if s >= 500 => {
            RetryAction::RetryIndicated(RetryReason::ServerError)
        }
        AttemptOutcome::Status(_) => RetryAction::RetryForbidden,
        AttemptOutcome::ConnectFailed => RetryAction::RetryIndicated(RetryReason::Connect),
        AttemptOutcome::Interrupted => RetryAction::RetryIndicated(RetryReason::Transport),
    }
}

/// How long to wait before attempt `attempt + 1`, after attempt `attempt`
/// (1-based) failed.
///
/// A `Retry-After` from the server wins, clamped to the configured maximum.
/// Otherwise "full jitter": a uniformly random wait between zero and
/// `min(max_backoff, initial_backoff * 2^(attempt-1))`, so clients that
/// failed together do not retry together. `jitter` is that random draw in
/// `[0, 1)`, passed in to keep this function pure.
///
/// ```
/// use std::time::Duration;
/// use muster_gateway::{retry::backoff_delay, RetryConfig};
/// let cfg = RetryConfig::standard();
/// assert_eq!(backoff_delay(&cfg, 1, Some(Duration::from_secs(7)), 0.3), Duration::from_secs(7));
/// assert!(backoff_delay(&cfg, 3, None, 0.999) <= Duration::from_secs(2));
/// ```
#[must_use]
pub fn backoff_delay(
    config: &RetryConfig,
    attempt: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(config.max_retry_after);
    }
    let exponent = attempt.saturating_sub(1).min(30);
    let ceiling = config
        .initial_backoff
        .saturating_mul(1u32 << exponent)
        .min(config.max_backoff);
    ceiling.mul_f64(jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_issue_table() {
        for s in [429, 408, 500, 502, 503, 504] {
            assert!(
                matches!(
                    classify(AttemptOutcome::Status(s)),
                    RetryAction::RetryIndicated(_)
                ),
                "{s}"
            );
        }
        for s in [301, 302, 400, 401, 403, 404, 409, 422] {
            assert_eq!(
                classify(AttemptOutcome::Status(s)),
                RetryAction::RetryForbidden,
                "{s}"
            );
        }
        for s in [200, 201, 204] {
            assert_eq!(
                classify(AttemptOutcome::Status(s)),
                RetryAction::NoActionIndicated
            );
        }
        assert_eq!(
            classify(AttemptOutcome::ConnectFailed),
            RetryAction::RetryIndicated(RetryReason::Connect)
        );
        assert_eq!(
            classify(AttemptOutcome::Interrupted),
            RetryAction::RetryIndicated(RetryReason::Transport)
        );
        assert!(RetryReason::Throttled.request_not_processed());
        assert!(!RetryReason::ServerError.request_not_processed());
        assert!(!RetryReason::Transport.request_not_processed());
    }

    #[test]
    fn backoff_ceiling_doubles_per_attempt_and_is_capped() {
        let cfg = RetryConfig::standard()
            .with_initial_backoff(Duration::from_secs(1))
            .with_max_backoff(Duration::from_secs(10));
        let top = |attempt| backoff_delay(&cfg, attempt, None, 1.0);
        assert_eq!(top(1), Duration::from_secs(1));
        assert_eq!(top(2), Duration::from_secs(2));
        assert_eq!(top(3), Duration::from_secs(4));
        assert_eq!(top(4), Duration::from_secs(8));
        assert_eq!(top(5), Duration::from_secs(10));
        assert_eq!(top(500), Duration::from_secs(10));
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let cfg = RetryConfig::standard().with_initial_backoff(Duration::from_secs(4));
        assert_eq!(backoff_delay(&cfg, 1, None, 0.0), Duration::ZERO);
        assert_eq!(backoff_delay(&cfg, 1, None, 0.5), Duration::from_secs(2));
        assert_eq!(backoff_delay(&cfg, 1, None, 7.0), Duration::from_secs(4));
    }

    #[test]
    fn retry_after_is_honoured_and_clamped() {
        let cfg = RetryConfig::standard().with_max_retry_after(Duration::from_secs(60));
        assert_eq!(
            backoff_delay(&cfg, 1, Some(Duration::from_secs(7)), 0.0),
            Duration::from_secs(7)
        );
        assert_eq!(
            backoff_delay(&cfg, 1, Some(Duration::from_secs(3600)), 0.0),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn at_least_one_attempt() {
        assert_eq!(
            RetryConfig::standard().with_max_attempts(0).max_attempts(),
            1
        );
        assert_eq!(RetryConfig::disabled().max_attempts(), 1);
    }
}
