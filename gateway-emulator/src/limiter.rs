//! Per-login sliding-window rate limiting, as a pure function of time.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::config::RateLimit;

/// Remembers when each login's recent requests arrived.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: RateLimit,
    seen: HashMap<String, VecDeque<Instant>>,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Limiter {
            limit,
            seen: HashMap::new(),
        }
    }

    /// Counts a request by `login` at `now`. `Err(wait)` when over budget:
    /// `wait` is how long until the oldest request in the window expires.
    /// Refused requests do not use up budget.
    pub(crate) fn admit(&mut self, login: &str, now: Instant) -> Result<(), Duration> {
        let window = self.limit.window;
        let recent = self.seen.entry(login.to_owned()).or_default();
        while recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            recent.pop_front();
        }
        if recent.len() >= self.limit.requests as usize {
            let oldest = recent.front().copied().unwrap_or(now);
            return Err(window.saturating_sub(now.saturating_duration_since(oldest)));
        }
        recent.push_back(now);
        Ok(())
    }

    pub(crate) fn sends_retry_after(&self) -> bool {
        self.limit.retry_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_per_login_and_slides() {
        let t0 = Instant::now();
        let mut l = Limiter::new(RateLimit::new(2, Duration::from_secs(10)));
        assert!(l.admit("a", t0).is_ok());
        assert!(l.admit("a", t0 + Duration::from_secs(4)).is_ok());
        assert_eq!(
            l.admit("a", t0 + Duration::from_secs(5)),
            Err(Duration::from_secs(5))
        );
        assert!(l.admit("b", t0 + Duration::from_secs(5)).is_ok());
        // The first request leaves the window at t0+10; the second is still in it.
        assert!(l.admit("a", t0 + Duration::from_secs(10)).is_ok());
        assert!(l.admit("a", t0 + Duration::from_secs(11)).is_err());
    }
}
