//! When a failed Graph request is tried again, and how long to wait first
//! (pure). The wait itself is [`muster_core::Sleep`].

use std::time::Duration;

/// How often and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retry {
    /// Retries after the first attempt.
    pub(crate) max_retries: u32,
    /// The longest single wait, even when `Retry-After` asks for more.
    pub(crate) max_wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_retries: 5,
            max_wait: Duration::from_secs(120),
        }
    }
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
    /// The wait before retry number `retry` (1-based), or `None` when the
    /// retries are used up. The server's `Retry-After` wins when it gave
    /// one (Graph documents it on 429 and 503), clamped to `max_wait`;
    /// otherwise 1 s, 2 s, 4 s … up to 30 s.
    pub(crate) fn wait(self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if retry == 0 || retry > self.max_retries {
            return None;
        }
        let own = FIRST_BACKOFF
            .saturating_mul(1u32 << (retry - 1).min(16))
            .min(MAX_BACKOFF);
        Some(retry_after.unwrap_or(own).min(self.max_wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_doubles_to_a_cap_and_stops_after_the_last_retry() {
        let retry = Retry {
            max_retries: 7,
            max_wait: Duration::from_secs(120),
        };
        let waits: Vec<_> = (1..=8).map(|n| retry.wait(n, None)).collect();
        let secs = |s: &[u64]| {
            s.iter()
                .map(|&s| Some(Duration::from_secs(s)))
                .collect::<Vec<_>>()
        };
        let mut expected = secs(&[1, 2, 4, 8, 16, 30, 30]);
        expected.push(None);
        assert_eq!(waits, expected);
        assert_eq!(retry.wait(0, None), None);
    }

    #[test]
    fn retry_after_wins_and_is_clamped() {
        let retry = Retry {
            max_retries: 100,
            max_wait: Duration::from_secs(60),
        };
        assert_eq!(
            retry.wait(1, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(retry.wait(1, Some(Duration::ZERO)), Some(Duration::ZERO));
        assert_eq!(
            retry.wait(3, Some(Duration::from_secs(3600))),
            Some(Duration::from_secs(60))
        );
        assert_eq!(retry.wait(100, None), Some(Duration::from_secs(30)));
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
