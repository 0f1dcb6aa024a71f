//! How the client waits between retries: injectable, so tests control time.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

/// Waits between attempts (smithy-rs `AsyncSleep`).
///
/// The default, [`TokioSleep`], sleeps on tokio's timer. Inject another with
/// [`ClientBuilder::sleeper`](crate::ClientBuilder::sleeper) to observe the
/// waits a retry schedule asks for — a `Retry-After: 7` then costs a test no
/// real time, while the HTTP exchanges stay real (tokio's paused clock cannot
/// be used there: reqwest's own timeouts would fire at once). Do not
/// implement it to add pacing; that is the [`RateLimiter`](crate::RateLimiter)'s job.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use muster_gateway::Sleep;
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
/// let sleeper = Arc::new(Recorder::default());
/// # let _ = sleeper;
/// ```
#[async_trait]
pub trait Sleep: Send + Sync + fmt::Debug {
    /// Returns after `duration` (or, in a test, whenever it likes).
    async fn sleep(&self, duration: Duration);
}

/// Sleeps on tokio's timer (follows `tokio::time::pause`).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct TokioSleep;

#[async_trait]
impl Sleep for TokioSleep {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
