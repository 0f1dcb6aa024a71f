//! [`Stop`]: asking a running apply to stop cleanly.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// A request to stop an apply cleanly, shared between whoever asks (a
/// signal handler, a Python `KeyboardInterrupt`, a worker's shutdown) and
/// the [`Executor`](crate::Executor) it was given to
/// ([`Executor::stop_on`](crate::Executor::stop_on)).
///
/// Stopping is not cancelling: a change cut off mid-request could leave an
/// account half-written with nobody knowing. So the executor sends nothing
/// new, lets what is in flight finish, and returns its report; a grace
/// period bounds the wait (Kubernetes kills a pod 30 s after SIGTERM), and
/// what is still in flight then is journalled as in doubt, which the resume
/// settles by reading back.
///
/// ```
/// let stop = muster::Stop::new();
/// let executor = muster::Executor::new().stop_on(&stop);
/// // in a signal handler:
/// stop.request(Some(std::time::Duration::from_secs(10)));
/// assert!(stop.is_requested());
/// # drop(executor);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// `None`: not requested; `Some(None)`: requested, in-flight changes
    /// finish however long they take; `Some(Some(t))`: given up at `t`.
    state: Mutex<Option<Option<Instant>>>,
    changed: Notify,
}

impl Stop {
    /// A stop nobody has requested yet.
    #[must_use]
    pub fn new() -> Self {
        Stop::default()
    }

    /// Asks the run to stop: nothing new is sent; changes in flight finish,
    /// within `grace` when it is given. Asking again can shorten the grace
    /// period, never lengthen it.
    pub fn request(&self, grace: Option<Duration>) {
        let deadline = grace.map(|g| Instant::now() + g);
        {
            let mut state = self.0.state.lock().unwrap_or_else(PoisonError::into_inner);
            *state = Some(match (*state, deadline) {
                (Some(Some(old)), Some(new)) => Some(old.min(new)),
                (Some(Some(old)), None) => Some(old),
                (_, new) => new,
            });
        }
        self.0.changed.notify_waiters();
    }

    /// True once [`request`](Self::request) was called.
    #[must_use]
    pub fn is_requested(&self) -> bool {
        self.state().is_some()
    }

    fn state(&self) -> Option<Option<Instant>> {
        *self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Resolves when a stop is requested.
    pub(crate) async fn requested(&self) {
        loop {
            let changed = self.0.changed.notified();
            if self.is_requested() {
                return;
            }
            changed.await;
        }
    }

    /// Resolves when the grace period of a requested stop is over (never,
    /// when there is none).
    pub(crate) async fn grace_over(&self) {
        loop {
            let changed = self.0.changed.notified();
            match self.state() {
                Some(Some(deadline)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => return,
                        () = changed => {}
                    }
                }
                _ => changed.await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_grace_period_ends_when_it_says_and_a_second_request_only_shortens_it() {
        let stop = Stop::new();
        assert!(!stop.is_requested());
        let started = Instant::now();
        let waiter = {
            let stop = stop.clone();
            tokio::spawn(async move {
                stop.requested().await;
                stop.grace_over().await;
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.request(Some(Duration::from_secs(10)));
        // A later, longer request does not move the end.
        stop.request(Some(Duration::from_secs(60)));
        let over = waiter.await.unwrap();
        assert_eq!(over - started, Duration::from_secs(11));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_grace_period_it_is_never_over() {
        let stop = Stop::new();
        stop.request(None);
        stop.requested().await;
        let over = tokio::time::timeout(Duration::from_secs(3600), stop.grace_over()).await;
        assert!(over.is_err());
        // Ctrl-C, then SIGTERM: now the grace period counts.
        stop.request(Some(Duration::from_secs(10)));
        tokio::time::timeout(Duration::from_secs(11), stop.grace_over())
            .await
            .unwrap();
    }
}
