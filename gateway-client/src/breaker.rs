//! A circuit breaker: a client stops sending once the gateway looks down.

use std::sync::Mutex;

use muster_core::retry::{AttemptOutcome, is_server_failure};

use crate::Error;

/// Stops a client from sending after `threshold` consecutive attempts that
/// failed to connect, timed out, dropped or were answered 5xx: against a
/// dead gateway an apply of a hundred changes would otherwise send five
/// hundred doomed attempts and print a hundred failures.
///
/// Counted per attempt, retries included, across every request of the
/// clients that share it; any other answer (a 2xx, a 4xx, a 429) resets
/// the count. While the count is above zero, attempts go one at a time, so
/// a dead gateway receives at most `threshold + concurrency - 1` attempts
/// (the attempts already in flight when the first failure came back still
/// land), never a burst. Once tripped it stays open until
/// [`reset`](Self::reset): every request fails at once with
/// [`Error::CircuitOpen`], unsent. The executor installs a fresh one per
/// apply ([`Client::with_breaker`](crate::Client::with_breaker)), so a
/// rerun starts closed.
///
/// Hand-written: a breaker is a counter and a flag here, and the probe
/// serialisation it needs is one async mutex; no crate of the workspace
/// offers it, and none is worth adding for it.
///
/// ```
/// use muster_gateway::Breaker;
/// let breaker = Breaker::new(5);
/// assert!(!breaker.is_open());
/// assert_eq!(breaker.threshold(), 5);
/// ```
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    state: Mutex<State>,
    /// Held by the one attempt allowed while failures are being counted.
    probe: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    consecutive: u32,
    last: Option<String>,
    open: bool,
}

/// The default threshold: five failures in a row.
pub const DEFAULT_BREAKER_THRESHOLD: u32 = 5;

impl Breaker {
    /// A closed breaker that opens after `threshold` (at least 1)
    /// consecutive failed attempts.
    #[must_use]
    pub fn new(threshold: u32) -> Self {
        Breaker {
            threshold: threshold.max(1),
            state: Mutex::new(State::default()),
            probe: tokio::sync::Mutex::new(()),
        }
    }

    /// How many failures in a row open it.
    #[must_use]
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// True once it has tripped.
    #[must_use]
    pub fn is_open(&self) -> bool {
        lock(&self.state).open
    }

    /// Closes it and forgets the failures.
    pub fn reset(&self) {
        *lock(&self.state) = State::default();
    }

    fn open_error(&self) -> Option<Error> {
        let s = lock(&self.state);
        s.open.then(|| Error::CircuitOpen {
            failures: s.consecutive,
            last: s.last.clone().unwrap_or_default(),
        })
    }

    /// Waits until one attempt may go: at once while nothing failed, one at
    /// a time while failures are being counted.
    pub(crate) async fn admit(&self) -> Result<Option<tokio::sync::MutexGuard<'_, ()>>, Error> {
        if let Some(e) = self.open_error() {
            return Err(e);
        }
        if lock(&self.state).consecutive == 0 {
            return Ok(None);
        }
        let guard = self.probe.lock().await;
        match self.open_error() {
            Some(e) => Err(e),
            None => Ok(Some(guard)),
        }
    }

    /// Counts one attempt's outcome; `what` describes it for the error.
    pub(crate) fn record(&self, outcome: AttemptOutcome, what: impl FnOnce() -> String) {
        let mut s = lock(&self.state);
        if is_server_failure(outcome) {
            s.consecutive += 1;
            s.last = Some(what());
            if s.consecutive >= self.threshold && !s.open {
                s.open = true;
                tracing::warn!(
                    failures = s.consecutive,
                    last = s.last.as_deref().unwrap_or_default(),
                    "the gateway looks down: no further request is sent"
                );
            }
        } else if !s.open {
            s.consecutive = 0;
        }
    }
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker::new(DEFAULT_BREAKER_THRESHOLD)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain values updated in place: a poisoned lock is still consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_opens_after_the_threshold_and_an_answer_resets_the_count() {
        let b = Breaker::new(3);
        let fail = || b.record(AttemptOutcome::ConnectFailed, || "GET /x: refused".into());
        fail();
        fail();
        b.record(AttemptOutcome::Status(404), String::new);
        fail();
        fail();
        assert!(!b.is_open());
        assert!(b.admit().await.is_ok());
        b.record(AttemptOutcome::Status(502), || "GET /x: 502".into());
        assert!(b.is_open());
        match b.admit().await {
            Err(Error::CircuitOpen { failures, last }) => {
                assert_eq!(failures, 3);
                assert_eq!(last, "GET /x: 502");
            }
            other => panic!("{other:?}"),
        }
        b.reset();
        assert!(b.admit().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn while_failing_attempts_go_one_at_a_time() {
        let b = Breaker::new(5);
        assert!(b.admit().await.unwrap().is_none(), "no failure: no lock");
        b.record(AttemptOutcome::Interrupted, String::new);
        let first = b.admit().await.unwrap();
        assert!(first.is_some());
        assert!(b.probe.try_lock().is_err(), "a second attempt waits");
        drop(first);
        assert!(b.probe.try_lock().is_ok());
    }
}
