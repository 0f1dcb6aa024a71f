//! The one retry policy of muster's HTTP clients (the gateway client and the
//! Entra ID source): which outcomes may be tried again ([`classify`]),
//! how long to wait ([`RetryConfig::backoff`], through the `backon` crate,
//! and [`RetryConfig::decide`], its adjustment hook that honours
//! `Retry-After`), and how many retries a client may spend in all
//! ([`RetryBudget`], after smithy-rs' retry token bucket).
//!
//! Where the two clients differ, it is a setting of [`RetryConfig`], not a
//! rule of their own: what a `Retry-After` beyond the maximum means
//! ([`LongRetryAfter`]); and whether a request is idempotent, which only
//! matters after an [ambiguous](RetryAction::is_ambiguous) outcome
//! ([`RetryReason::may_resend`]: the gateway's POSTs are not; every Graph
//! request is a read and is).
//!
//! Classifying and timing are kept apart (smithy-rs `RetryAction` and its
//! backoff are separate too), so each is tested on its own, and both are
//! pure: no IO, no clock. The status table is written once, here:
//!
//! | outcome                         | retried | ambiguous for a write | honours `Retry-After` |
//! |---------------------------------|---------|-----------------------|-----------------------|
//! | 2xx                             | no (success) | no               | no                    |
//! | 3xx (redirects are not followed)| no      | no                    | no                    |
//! | 408 Request Timeout             | yes     | yes                   | no                    |
//! | 429 Too Many Requests           | yes     | no (not processed)    | yes                   |
//! | other 4xx                       | no      | no                    | no                    |
//! | 503 Service Unavailable         | yes     | yes                   | yes                   |
//! | 501, 505 (never to be done)     | no      | no                    | no                    |
//! | other 5xx                       | yes     | yes                   | no                    |
//! | connection never made           | yes     | no (nothing sent)     | no                    |
//! | timeout / dropped after sending | yes     | yes                   | no                    |
//!
//! "Ambiguous" means a non-idempotent write (a POST) may or may not have
//! happened: it is never sent again blindly; the caller reads back first.

use std::sync::Mutex;
use std::time::Duration;

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

/// Why a request may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryReason {
    /// 429: the server asks us to slow down; the request was not processed.
    Throttled,
    /// 408 or 5xx: the server failed; a write may or may not have happened.
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

    /// Whether a request that failed for this reason may be sent again:
    /// always when it is `idempotent` (a read, a full-replace PUT, a
    /// DELETE), otherwise only when it [certainly was not
    /// processed](Self::request_not_processed). The one place that says
    /// what idempotency changes.
    ///
    /// ```
    /// use muster_core::retry::RetryReason;
    /// assert!(RetryReason::ServerError.may_resend(true));
    /// assert!(!RetryReason::ServerError.may_resend(false)); // a POST that may have landed
    /// assert!(RetryReason::Throttled.may_resend(false));
    /// ```
    #[must_use]
    pub fn may_resend(self, idempotent: bool) -> bool {
        idempotent || self.request_not_processed()
    }

    /// What a retry for this reason costs from a [`RetryBudget`]: a timeout
    /// or dropped connection costs twice as much as an answer (smithy-rs
    /// charges timeouts double: they hold a connection for the longest).
    #[must_use]
    pub fn retry_cost(self) -> u32 {
        match self {
            RetryReason::Transport => RETRY_TIMEOUT_COST,
            _ => RETRY_COST,
        }
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

impl RetryAction {
    /// True when a non-idempotent write may or may not have happened (see
    /// the table in the [module docs](self)): the caller reads back before
    /// it sends the write again.
    #[must_use]
    pub fn is_ambiguous(self) -> bool {
        matches!(self, RetryAction::RetryIndicated(r) if !r.request_not_processed())
    }
}

/// The single place that decides which outcomes are retryable (the table
/// in the [module docs](self)).
///
/// ```
/// use muster_core::retry::{classify, AttemptOutcome, RetryAction, RetryReason};
/// assert_eq!(classify(AttemptOutcome::Status(429)), RetryAction::RetryIndicated(RetryReason::Throttled));
/// assert_eq!(classify(AttemptOutcome::Status(400)), RetryAction::RetryForbidden);
/// assert!(classify(AttemptOutcome::Interrupted).is_ambiguous());
/// assert!(!classify(AttemptOutcome::ConnectFailed).is_ambiguous());
/// ```
#[must_use]
pub fn classify(outcome: AttemptOutcome) -> RetryAction {
    match outcome {
        AttemptOutcome::Status(200..=299) => RetryAction::NoActionIndicated,
        AttemptOutcome::Status(429) => RetryAction::RetryIndicated(RetryReason::Throttled),
        // The server says it will never do this (the method, the HTTP
        // version): asking again only spends the budget.
        AttemptOutcome::Status(501 | 505) => RetryAction::RetryForbidden,
        AttemptOutcome::Status(408 | 500..=599) => {
            RetryAction::RetryIndicated(RetryReason::ServerError)
        }
        AttemptOutcome::Status(_) => RetryAction::RetryForbidden,
        AttemptOutcome::ConnectFailed => RetryAction::RetryIndicated(RetryReason::Connect),
        AttemptOutcome::Interrupted => RetryAction::RetryIndicated(RetryReason::Transport),
    }
}

/// Whether a `Retry-After` on this status is an instruction to follow: on
/// 429 and 503 (RFC 9110 §10.2.3, RFC 6585 §4). On any other status the
/// header is ignored and the backoff schedule decides.
#[must_use]
pub fn honours_retry_after(status: u16) -> bool {
    matches!(status, 429 | 503)
}

/// True for the outcomes that say the server is unreachable or failing
/// (connection failures, timeouts, 5xx), as opposed to answering: what a
/// circuit breaker counts.
#[must_use]
pub fn is_server_failure(outcome: AttemptOutcome) -> bool {
    matches!(
        classify(outcome),
        RetryAction::RetryIndicated(
            RetryReason::ServerError | RetryReason::Transport | RetryReason::Connect
        )
    )
}

/// What a `Retry-After` longer than [`RetryConfig::max_retry_after`] means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LongRetryAfter {
    /// Wait the maximum, then retry (the gateway: its budget is ours to
    /// pace, and a run should go on rather than fail on one long ask).
    #[default]
    Clamp,
    /// Give up at once with the failure (the Entra ID source: retrying
    /// early into Graph's throttling only earns more throttling, and a
    /// nightly read should end with an error that says so, not hang).
    GiveUp,
}

/// What to do before a retry (the result of [`RetryConfig::decide`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wait {
    /// Wait this long, then try again.
    After(Duration),
    /// The schedule is used up: the failure stands.
    Exhausted,
    /// The server asked for a longer wait than allowed and the config says
    /// [give up](LongRetryAfter::GiveUp): the failure stands, and says so.
    BeyondMax {
        /// What the server asked for.
        asked: Duration,
    },
}

/// How many attempts and how long to wait between them.
///
/// ```
/// use std::time::Duration;
/// use muster_core::retry::RetryConfig;
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
    long_retry_after: LongRetryAfter,
    jitter_seed: Option<u64>,
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
            long_retry_after: LongRetryAfter::Clamp,
            jitter_seed: None,
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

    /// The longest wait before the first retry; it doubles per attempt.
    #[must_use]
    pub fn with_initial_backoff(mut self, delay: Duration) -> Self {
        self.initial_backoff = delay;
        self
    }

    /// The longest wait of any retry.
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

    /// What a `Retry-After` beyond [the maximum](Self::with_max_retry_after)
    /// means (default: [`LongRetryAfter::Clamp`]).
    #[must_use]
    pub fn with_long_retry_after(mut self, long: LongRetryAfter) -> Self {
        self.long_retry_after = long;
        self
    }

    /// Seeds the jitter, so a test sees the same schedule every run.
    #[must_use]
    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    /// Total attempts including the first.
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The longest `Retry-After` honoured.
    #[must_use]
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// The backoff schedule: `max_attempts - 1` waits, the n-th (1-based)
    /// drawn from `[c/2, c)` with `c = min(max_backoff, initial_backoff ×
    /// 2^(n-1))` ("equal jitter": clients that failed together do not retry
    /// together, and no retry comes immediately). backon's jitter adds up
    /// to one more base delay, so the base is half the ceiling.
    ///
    /// ```
    /// use std::time::Duration;
    /// use muster_core::retry::RetryConfig;
    /// use backon::BackoffBuilder;
    /// let waits: Vec<Duration> = RetryConfig::standard().backoff().build().collect();
    /// assert_eq!(waits.len(), 4);
    /// assert!(waits[0] >= Duration::from_millis(250) && waits[0] < Duration::from_millis(500));
    /// ```
    #[must_use]
    pub fn backoff(&self) -> backon::ExponentialBuilder {
        let builder = backon::ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff / 2)
            .with_max_delay(self.max_backoff / 2)
            .with_factor(2.0)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter();
        match self.jitter_seed {
            Some(seed) => builder.with_jitter_seed(seed),
            None => builder,
        }
    }

    /// The adjustment of one wait (backon's `adjust` hook): no wait left
    /// in the schedule means no retry; a `Retry-After` the server sent on a
    /// status that [honours it](honours_retry_after) replaces the
    /// scheduled wait; one beyond the maximum is clamped to it or ends the
    /// retries, as [`LongRetryAfter`] says.
    ///
    /// ```
    /// use std::time::Duration;
    /// use muster_core::retry::{LongRetryAfter, RetryConfig, Wait};
    /// let s = Duration::from_secs;
    /// let clamp = RetryConfig::standard();
    /// assert_eq!(clamp.decide(Some(s(1)), Some(s(7))), Wait::After(s(7)));
    /// assert_eq!(clamp.decide(Some(s(1)), Some(s(3600))), Wait::After(s(120)));
    /// assert_eq!(clamp.decide(None, Some(s(7))), Wait::Exhausted);
    /// let give_up = clamp.with_long_retry_after(LongRetryAfter::GiveUp);
    /// assert_eq!(give_up.decide(Some(s(1)), Some(s(120))), Wait::After(s(120)));
    /// assert_eq!(give_up.decide(Some(s(1)), Some(s(121))), Wait::BeyondMax { asked: s(121) });
    /// // Out of attempts, the failure itself stands, however long the wait asked.
    /// assert_eq!(give_up.decide(None, Some(s(3600))), Wait::Exhausted);
    /// ```
    #[must_use]
    pub fn decide(&self, scheduled: Option<Duration>, retry_after: Option<Duration>) -> Wait {
        let Some(scheduled) = scheduled else {
            return Wait::Exhausted;
        };
        match retry_after {
            Some(asked) if asked > self.max_retry_after => match self.long_retry_after {
                LongRetryAfter::Clamp => Wait::After(self.max_retry_after),
                LongRetryAfter::GiveUp => Wait::BeyondMax { asked },
            },
            Some(asked) => Wait::After(asked),
            None => Wait::After(scheduled),
        }
    }

    /// [`decide`](Self::decide) as backon's `adjust` hook wants it: the
    /// wait, or `None` for no retry.
    ///
    /// ```
    /// use std::time::Duration;
    /// use muster_core::retry::RetryConfig;
    /// let cfg = RetryConfig::standard();
    /// let s = Duration::from_secs;
    /// assert_eq!(cfg.wait(Some(s(1)), Some(s(7))), Some(s(7)));
    /// assert_eq!(cfg.wait(Some(s(1)), Some(s(3600))), Some(s(120)));
    /// assert_eq!(cfg.wait(None, Some(s(7))), None);
    /// ```
    #[must_use]
    pub fn wait(
        &self,
        scheduled: Option<Duration>,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        match self.decide(scheduled, retry_after) {
            Wait::After(wait) => Some(wait),
            Wait::Exhausted | Wait::BeyondMax { .. } => None,
        }
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig::standard()
    }
}

/// What a retry costs from the budget (smithy-rs `RETRY_COST`).
pub const RETRY_COST: u32 = 5;
/// What a retry after a timeout or dropped connection costs (smithy-rs `RETRY_TIMEOUT_COST`).
pub const RETRY_TIMEOUT_COST: u32 = 10;
/// The budget a client starts with (smithy-rs `INITIAL_RETRY_TOKENS`).
pub const INITIAL_RETRY_TOKENS: u32 = 500;

/// How many retries a client may spend in all, so a failing server gets
/// fewer requests, not five times as many (smithy-rs' standard retry
/// token bucket).
///
/// Each retry withdraws its [cost](RetryReason::retry_cost); a first
/// attempt that succeeds gives one token back, and a retry that succeeds
/// gives its cost back. An empty budget means "no retry": the failure goes
/// to the caller at once. Share one budget (in an `Arc`) among everything
/// that talks to one server.
///
/// ```
/// use muster_core::retry::{RetryBudget, RetryReason};
/// let budget = RetryBudget::new(12);
/// assert!(budget.withdraw(RetryReason::ServerError)); // 5 spent, 7 left
/// assert!(budget.withdraw(RetryReason::Throttled));   // 2 left
/// assert!(!budget.withdraw(RetryReason::Transport));   // costs 10: refused
/// budget.succeeded(Some(RetryReason::ServerError));   // a retry worked: 5 back
/// assert_eq!(budget.available(), 7);
/// ```
#[derive(Debug)]
pub struct RetryBudget {
    max: u32,
    tokens: Mutex<u32>,
}

impl RetryBudget {
    /// A full budget of `tokens`.
    #[must_use]
    pub fn new(tokens: u32) -> Self {
        RetryBudget {
            max: tokens,
            tokens: Mutex::new(tokens),
        }
    }

    /// Takes the cost of one retry for `reason`; false (nothing taken) when
    /// the budget cannot pay it.
    #[must_use]
    pub fn withdraw(&self, reason: RetryReason) -> bool {
        let mut tokens = lock(&self.tokens);
        let cost = reason.retry_cost();
        if *tokens < cost {
            return false;
        }
        *tokens -= cost;
        true
    }

    /// A request succeeded; `after_retry` is the reason of the last retry
    /// it needed, if any (its cost is given back), else one token is.
    pub fn succeeded(&self, after_retry: Option<RetryReason>) {
        let mut tokens = lock(&self.tokens);
        let back = after_retry.map_or(1, RetryReason::retry_cost);
        *tokens = (*tokens + back).min(self.max);
    }

    /// Tokens left.
    #[must_use]
    pub fn available(&self) -> u32 {
        *lock(&self.tokens)
    }
}

impl Default for RetryBudget {
    /// [`INITIAL_RETRY_TOKENS`] tokens.
    fn default() -> Self {
        RetryBudget::new(INITIAL_RETRY_TOKENS)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A count is updated in one assignment: a poisoned lock is still consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use backon::BackoffBuilder;

    #[test]
    fn classification_follows_the_table() {
        for s in [429, 408, 500, 502, 503, 504, 599] {
            assert!(
                matches!(
                    classify(AttemptOutcome::Status(s)),
                    RetryAction::RetryIndicated(_)
                ),
                "{s}"
            );
        }
        for s in [301, 302, 304, 400, 401, 403, 404, 409, 422, 501, 505, 600] {
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
    }

    #[test]
    fn only_answers_that_may_have_been_processed_are_ambiguous() {
        let ambiguous = |o| classify(o).is_ambiguous();
        assert!(ambiguous(AttemptOutcome::Status(500)));
        assert!(ambiguous(AttemptOutcome::Status(408)));
        assert!(ambiguous(AttemptOutcome::Interrupted));
        assert!(!ambiguous(AttemptOutcome::Status(429)));
        assert!(!ambiguous(AttemptOutcome::ConnectFailed));
        assert!(!ambiguous(AttemptOutcome::Status(400)));
        assert!(!ambiguous(AttemptOutcome::Status(201)));
    }

    #[test]
    fn retry_after_is_an_instruction_on_429_and_503_only() {
        assert!(honours_retry_after(429));
        assert!(honours_retry_after(503));
        for s in [200, 301, 408, 500, 502, 504] {
            assert!(!honours_retry_after(s), "{s}");
        }
    }

    #[test]
    fn server_failures_are_what_a_breaker_counts() {
        assert!(is_server_failure(AttemptOutcome::ConnectFailed));
        assert!(is_server_failure(AttemptOutcome::Interrupted));
        assert!(is_server_failure(AttemptOutcome::Status(502)));
        assert!(!is_server_failure(AttemptOutcome::Status(429)));
        assert!(!is_server_failure(AttemptOutcome::Status(401)));
        assert!(!is_server_failure(AttemptOutcome::Status(200)));
    }

    #[test]
    fn each_wait_lies_between_half_its_ceiling_and_its_ceiling() {
        let cfg = RetryConfig::standard()
            .with_max_attempts(7)
            .with_initial_backoff(Duration::from_secs(1))
            .with_max_backoff(Duration::from_secs(10));
        for seed in 0..50 {
            let waits: Vec<Duration> = cfg
                .clone()
                .with_jitter_seed(seed)
                .backoff()
                .build()
                .collect();
            assert_eq!(waits.len(), 6);
            for (i, wait) in waits.iter().enumerate() {
                let ceiling = Duration::from_secs(1 << i).min(Duration::from_secs(10));
                assert!(
                    *wait >= ceiling / 2 && *wait <= ceiling,
                    "retry {}: {wait:?}",
                    i + 1
                );
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let waits = |seed| -> Vec<Duration> {
            RetryConfig::standard()
                .with_jitter_seed(seed)
                .backoff()
                .build()
                .collect()
        };
        assert_eq!(waits(3), waits(3));
        assert_ne!(waits(3), waits(4));
    }

    #[test]
    fn one_attempt_has_no_wait_and_at_least_one_attempt_is_made() {
        assert_eq!(RetryConfig::disabled().backoff().build().count(), 0);
        assert_eq!(
            RetryConfig::standard().with_max_attempts(0).max_attempts(),
            1
        );
    }

    #[test]
    fn the_budget_refuses_what_it_cannot_pay_and_refills_to_its_maximum() {
        let budget = RetryBudget::new(10);
        assert!(budget.withdraw(RetryReason::Transport));
        assert!(!budget.withdraw(RetryReason::Connect));
        for _ in 0..20 {
            budget.succeeded(None);
        }
        assert_eq!(budget.available(), 10);
    }
}
