//! How the IO crates wait between retries: one injectable capability, so a
//! test (or a caller with its own runtime) controls time for all of them.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

/// Waits between attempts (smithy-rs `AsyncSleep`).
///
/// The gateway client and the Entra ID source both wait through this trait
/// (their builders' `sleeper` methods), by default on tokio's timer
/// ([`TokioSleep`], feature `tokio`). Inject another to observe the waits a
/// retry schedule asks for: a `Retry-After: 7` then costs a test no real
/// time, while the HTTP exchanges stay real (tokio's paused clock cannot be
/// used there: reqwest's own timeouts would fire at once). One recorder
/// serves both. Do not implement it to slow a client down on purpose:
/// pacing is the gateway client's `RateLimiter`'s job, and Graph's own
/// `Retry-After` paces the Entra ID source.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use muster_core::Sleep;
///
/// #[derive(Debug, Default)]
/// struct Recorder(Mutex<Vec<Duration>>);
///
/// #[async_trait::async_trait]
/// impl Sleep for Recorder {
///     async fn sleep(&self, duration: Duration) {
///         self.0.lock().unwrap().push(duration);
///     }
/// }
/// let sleeper: Arc<dyn Sleep> = Arc::new(Recorder::default());
/// # let _ = sleeper;
/// ```
#[async_trait]
pub trait Sleep: Send + Sync + fmt::Debug {
    /// Returns after `duration` (or, in a test, whenever it likes).
    async fn sleep(&self, duration: Duration);
}

/// Sleeps on tokio's timer (follows `tokio::time::pause`).
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct TokioSleep;

#[cfg(feature = "tokio")]
#[async_trait]
impl Sleep for TokioSleep {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
