//! The exit codes, in one table: what a scheduler can trust.

use std::process::ExitCode;

use muster::reconcile::{Plan, PlanOutcome};

/// The table, printed by `muster --help` and kept word for word in the
/// README and `docs/operating.md` (a test holds them to it).
pub(crate) const HELP: &str = concat!(
    "Diagnostics: set MUSTER_LOG to a tracing filter (`info`, `muster_gateway=debug`, …) \
     to see each gateway and Graph request, its status and any retry wait on stderr.\n\n",
    include_str!("exit_codes.txt")
);

/// The rows of the table a run can end on by itself (1, 6, 130 and 143 are
/// the refusal's, the lease's and the signals').
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Exit {
    /// 0.
    Done,
    /// 2.
    WouldChange,
    /// 3.
    Incomplete,
    /// 5.
    SourceUnsafe,
    /// 4.
    Threshold,
}

impl Exit {
    /// The code.
    pub(crate) fn code(self) -> ExitCode {
        ExitCode::from(self.number())
    }

    /// The code, as a number.
    pub(crate) fn number(self) -> u8 {
        match self {
            Exit::Done => 0,
            Exit::WouldChange => 2,
            Exit::Incomplete => 3,
            Exit::Threshold => 4,
            Exit::SourceUnsafe => 5,
        }
    }
}

/// The code for a plan: its [`PlanOutcome`] (4 > 5 > 2 > 0, the rule
/// written once in `Plan::outcome`), with "would change" 2 only under
/// `--detailed-exitcode`.
pub(crate) fn for_plan(plan: &Plan, detailed: bool) -> Exit {
    match plan.outcome() {
        PlanOutcome::ThresholdExceeded => Exit::Threshold,
        PlanOutcome::SourceUnsafe => Exit::SourceUnsafe,
        PlanOutcome::WouldChange if detailed => Exit::WouldChange,
        _ => Exit::Done,
    }
}

/// A fleet's code: its organisations' worst, the first of
/// 1 > 4 > 5 > 3 > 6 > 2 > 0 — a refusal (a config that does not load, a
/// login refused) first, since nothing at all was done for that
/// organisation; a lease held elsewhere after the codes that need a
/// person, since the other run is doing the work. 130/143 (interrupted)
/// outrank them all. No organisation at all is 0.
pub(crate) fn fleet_worst(codes: impl IntoIterator<Item = u8>) -> u8 {
    codes
        .into_iter()
        .max_by_key(|c| fleet_rank(*c))
        .unwrap_or(0)
}

/// The place of `code` in the fleet's precedence (higher wins).
fn fleet_rank(code: u8) -> u8 {
    match code {
        0 => 0,
        2 => 1,
        6 => 2,
        3 => 3,
        5 => 4,
        4 => 5,
        1 => 6,
        // 130, 143: interrupted; anything else is not in the table and
        // must not pass for success.
        _ => 7,
    }
}

/// What a code says, in a few words (the table's rows), for a fleet's
/// lines; `applied` picks the words of 0 for `apply`.
pub(crate) fn meaning(code: u8, applied: bool) -> &'static str {
    match code {
        0 if applied => "applied",
        0 => "nothing to do",
        1 => "refused",
        2 => "would change",
        3 => "incomplete",
        4 => "threshold exceeded",
        5 => "source unsafe",
        6 => "lease held",
        130 | 143 => "interrupted",
        _ => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::fleet_worst;

    #[test]
    fn a_fleet_reports_the_first_of_1_4_5_3_6_2_0() {
        let order = [1, 4, 5, 3, 6, 2, 0];
        for (i, worst) in order.iter().enumerate() {
            // With every code below it in the order, it wins.
            assert_eq!(fleet_worst(order[i..].iter().rev().copied()), *worst);
        }
        assert_eq!(fleet_worst([0, 130, 1]), 130);
        assert_eq!(fleet_worst([]), 0);
    }
}
