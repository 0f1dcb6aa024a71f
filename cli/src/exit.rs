//! The exit codes, in one table: what a scheduler can trust.

use std::process::ExitCode;

use muster::reconcile::{Guard, Plan, Transition};

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

/// The code for a plan: 4 when it needs an override, 5 when a guard says a
/// source or the listing cannot be trusted, 2 (with `--detailed-exitcode`)
/// when applying it would change the gateway or muster's state — any
/// change, a flag or an absent run counted included, since a job that
/// applies only on drift must still record them or nobody is ever deleted —
/// and 0 otherwise. The enum's order is the precedence.
pub(crate) fn for_plan(plan: &Plan, detailed: bool) -> Exit {
    let untrusted = plan.guards.iter().any(|g| {
        matches!(
            g,
            Guard::SourceEmpty { .. }
                | Guard::SourceIncomplete { .. }
                | Guard::GatewayListingIncomplete
                | Guard::GatewayShrank { .. }
        )
    });
    let changes_state = !plan.changes.is_empty()
        || plan
            .run_transitions
            .iter()
            .any(|t| !matches!(t, Transition::RecordRun { .. }));
    [
        (plan.requires_override(), Exit::Threshold),
        (untrusted, Exit::SourceUnsafe),
        (detailed && changes_state, Exit::WouldChange),
    ]
    .into_iter()
    .filter_map(|(holds, exit)| holds.then_some(exit))
    .max()
    .unwrap_or(Exit::Done)
}
