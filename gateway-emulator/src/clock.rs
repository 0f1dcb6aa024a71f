//! Time as the emulator sees it: injectable so rate-limit windows and
//! read-after-write lag can be tested without sleeping.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A source of "now" for the rate limiter and the read-after-write lag.
///
/// Implement it only to drive the emulator from a test's own notion of time;
/// [`TokioClock`] (the default) already follows `tokio::time::pause()` /
/// `advance()`, and [`ManualClock`] is moved by hand.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The default clock: tokio's, so a paused test runtime freezes it.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// A clock that stands still until [`ManualClock::advance`] moves it.
///
/// Clones share the same time, so a test keeps one clone and gives another
/// to the builder. Unlike a paused tokio runtime it does not affect the HTTP
/// client's own timeouts.
///
/// ```
/// use std::time::Duration;
/// use muster_emulator::{Clock, ManualClock};
/// let clock = ManualClock::new();
/// let before = clock.now();
/// clock.advance(Duration::from_secs(61));
/// assert_eq!(clock.now() - before, Duration::from_secs(61));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    start: Instant,
    offset: Arc<Mutex<Duration>>,
}

impl ManualClock {
    /// A clock reading an arbitrary fixed instant.
    #[must_use]
    pub fn new() -> Self {
        ManualClock {
            start: Instant::now(),
            offset: Arc::new(Mutex::new(Duration::ZERO)),
        }
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        *lock(&self.offset) += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *lock(&self.offset)
    }
}

/// Locks a mutex, ignoring poisoning: the emulator's state stays usable after
/// a panicking test thread (the data is plain values, never half-written).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
