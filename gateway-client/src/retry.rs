//! When to try again and how long to wait: muster's one retry policy,
//! [`muster_core::retry`], re-exported so callers of the gateway client
//! need no other dependency. The client classifies every attempt with
//! [`classify`], waits on backon's schedule ([`RetryConfig::backoff`])
//! adjusted for `Retry-After` ([`RetryConfig::wait`]), and spends retries
//! from a [`RetryBudget`] shared by its clones.

pub use muster_core::retry::{
    AttemptOutcome, LongRetryAfter, RetryAction, RetryBudget, RetryConfig, RetryReason, Wait,
    classify, honours_retry_after, is_server_failure,
};
