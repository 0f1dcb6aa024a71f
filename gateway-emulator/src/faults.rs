//! Deciding, per request, which fault (if any) strikes it.

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{Fault, Faults};

/// The random fault plan, its seeded RNG, and the queue of scripted faults.
#[derive(Debug)]
pub(crate) struct FaultState {
    plan: Faults,
    rng: StdRng,
    scripted: VecDeque<Fault>,
}

/// What happens to one request.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) fault: Option<Fault>,
    pub(crate) delay: Option<std::time::Duration>,
}

impl FaultState {
    pub(crate) fn new(plan: Faults) -> Self {
        FaultState {
            rng: StdRng::seed_from_u64(plan.seed),
            plan,
            scripted: VecDeque::new(),
        }
    }

    pub(crate) fn push(&mut self, fault: Fault) {
        self.scripted.push_back(fault);
    }

    /// Drops the scripted faults not yet used; returns how many there were.
    pub(crate) fn clear_scripted(&mut self) -> usize {
        std::mem::take(&mut self.scripted).len()
    }

    pub(crate) fn lag(&self) -> std::time::Duration {
        self.plan.read_after_write_lag
    }

    /// Draws the fate of the next request. Exactly two draws per request,
    /// whatever the outcome, so one request's fate does not shift the next.
    pub(crate) fn decide(&mut self, is_write: bool) -> Decision {
        let roll: f64 = self.rng.random();
        let slow_roll: f64 = self.rng.random();
        if let Some(fault) = self.scripted.pop_front() {
            return match fault {
                Fault::Slow(d) => Decision {
                    fault: None,
                    delay: Some(d),
                },
                other => Decision {
                    fault: Some(other),
                    delay: None,
                },
            };
        }
        let p = &self.plan;
        // Within the error band, thirds pick 500, 502 and 503.
        let third = (roll / p.server_errors.max(f64::MIN_POSITIVE) * 3.0) as usize;
        let status = [500, 502, 503][third.min(2)];
        let fault = if roll < p.server_errors {
            Some(Fault::Status(status))
        } else if is_write && roll < p.server_errors + p.drop_before_commit {
            Some(Fault::DropBeforeCommit)
        } else if is_write && roll < p.server_errors + p.drop_before_commit + p.drop_after_commit {
            Some(Fault::DropAfterCommit)
        } else {
            None
        };
        let delay = (slow_roll < p.slow).then_some(p.slow_delay);
        Decision { fault, delay }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fates(seed: u64) -> Vec<Decision> {
        let mut f = FaultState::new(
            Faults::seeded(seed)
                .server_errors(0.3)
                .drop_after_commit(0.2),
        );
        (0..200).map(|_| f.decide(true)).collect()
    }

    #[test]
    fn same_seed_same_fates() {
        assert_eq!(fates(9), fates(9));
        assert_ne!(fates(9), fates(10));
    }

    #[test]
    fn fractions_are_roughly_respected_and_all_error_codes_occur() {
        let all = fates(1);
        let errors: Vec<u16> = all
            .iter()
            .filter_map(|d| match d.fault {
                Some(Fault::Status(s)) => Some(s),
                _ => None,
            })
            .collect();
        assert!((40..=80).contains(&errors.len()), "{}", errors.len());
        for code in [500, 502, 503] {
            assert!(errors.contains(&code), "{code} never drawn");
        }
        let drops = all
            .iter()
            .filter(|d| d.fault == Some(Fault::DropAfterCommit))
            .count();
        assert!((20..=60).contains(&drops), "{drops}");
    }

    #[test]
    fn reads_are_never_dropped() {
        let mut f = FaultState::new(Faults::seeded(3).drop_before_commit(1.0));
        assert_eq!(f.decide(false).fault, None);
        assert_eq!(f.decide(true).fault, Some(Fault::DropBeforeCommit));
    }
}
