//! When a failed Graph request is tried again, and how long to wait first
//! (pure). The wait itself is [`muster_core::Sleep`].

use std::time::Duration;

/// How often and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retry {
    /// Retries after the first attempt.
    pub(crate) max_retries: u32,
    /// The longest `Retry-After` waited; a server asking for more ends the
    /// read instead of stalling it (a nightly run must not hang for hours).
    pub(crate) max_retry_after: Duration,
}

/// The default cap on `Retry-After`: Graph's throttling waits are seconds
/// to a few minutes; anything longer is a service in trouble.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_retries: 5,
            max_retry_after: MAX_RETRY_AFTER,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Wait this long, then try again.
    After(Duration),
    /// The retries are used up: the failure stands.
    Exhausted,
    /// The server asked for a longer wait than the cap allows: give up now.
    BeyondCap(Duration),
}

/// The first wait when the server names none; it doubles per retry.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait of our own choosing.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Whether a response with this status is worth another try: throttling
/// (429) and the server's transient failures. Everything else (400 a bad
/// `$filter`, 403 missing consent, 404 a wrong tenant) fails the same way
/// again. Every request a source sends is a read, so retrying is safe.
pub(crate) fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

impl Retry {
    /// What to do before retry number `retry` (1-based). The server's
    /// `Retry-After` wins when it gave one (Graph documents it on 429 and
    /// 503) and is at most `max_retry_after`; otherwise 1 s, 2 s, 4 s … up
    /// to 30 s.
    pub(crate) fn wait(self, retry: u32, retry_after: Option<Duration>) -> Wait {
        if retry == 0 || retry > self.max_retries {
            return Wait::Exhausted;
        }
        match retry_after {
            Some(asked) if asked > self.max_retry_after => Wait::BeyondCap(asked),
            Some(asked) => Wait::After(asked),
            None => Wait::After(
                FIRST_BACKOFF
                    .saturating_mul(1u32 << (retry - 1).min(16))
                    .min(MAX_BACKOFF),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_doubles_to_a_cap_and_stops_after_the_last_retry() {
        let retry = Retry {
            max_retries: 7,
            ..Retry::default()
        };
        let waits: Vec<_> = (1..=8).map(|n| retry.wait(n, None)).collect();
        let mut expected: Vec<_> = [1, 2, 4, 8, 16, 30, 30]
            .map(|s| Wait::After(Duration::from_secs(s)))
            .into();
        expected.push(Wait::Exhausted);
        assert_eq!(waits, expected);
        assert_eq!(retry.wait(0, None), Wait::Exhausted);
    }

    #[test]
    fn retry_after_wins_up_to_the_cap_and_beyond_it_ends_the_retries() {
        let retry = Retry::default();
        let secs = Duration::from_secs;
        assert_eq!(retry.wait(1, Some(secs(7))), Wait::After(secs(7)));
        assert_eq!(
            retry.wait(1, Some(Duration::ZERO)),
            Wait::After(Duration::ZERO)
        );
        assert_eq!(
            retry.wait(2, Some(secs(300))),
            Wait::After(secs(300)),
            "the cap itself is waited"
        );
        assert_eq!(retry.wait(3, Some(secs(301))), Wait::BeyondCap(secs(301)));
        // Out of retries, the failure itself stands, however long the wait asked.
        assert_eq!(retry.wait(6, Some(secs(3600))), Wait::Exhausted);
        let short = Retry {
            max_retry_after: secs(60),
            ..retry
        };
        assert_eq!(short.wait(1, Some(secs(61))), Wait::BeyondCap(secs(61)));
    }

    #[test]
    fn only_throttling_and_transient_server_failures_are_retried() {
        for status in [429, 500, 502, 503, 504] {
            assert!(retryable_status(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 410, 501] {
            assert!(!retryable_status(status), "{status}");
        }
    }
}
