//! What an apply did: one [`Outcome`] per change, counts, and the new state.

use muster_core::EmailAddress;
use muster_core::Sanitized;
use muster_reconcile::{AccountChange, ChangeKind, SyncState};
use serde::{Deserialize, Serialize};

/// What happened to one account change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Written to the gateway (or, for a state-only change, recorded).
    Applied,
    /// Applied by an earlier run of the same plan, as its journal records;
    /// not sent again.
    AlreadyApplied,
    /// The account no longer looks the way the plan expected: nothing was
    /// written. Plan again to see what is left to do.
    Stale {
        /// What differed.
        reason: String,
    },
    /// The gateway refused or could not be reached.
    Failed {
        /// The error, with its causes (never credentials).
        error: String,
        /// True when trying again later may succeed.
        retryable: bool,
    },
    /// Not attempted.
    Skipped {
        /// Why (a dependency that did not succeed, a halted run, a limit).
        reason: String,
    },
    /// A dry run: the preconditions hold and these requests would be sent.
    DryRun {
        /// The requests, in order (`POST users (create ann@example.com)`).
        requests: Vec<String>,
    },
    /// Left out of this run by the reviewer (`--exclude`, `--only`): not
    /// attempted, not a failure; its state transitions are not applied.
    Excluded,
}

impl Outcome {
    /// True when the change's effect is (or, in a dry run, would be) on the
    /// gateway: its state transitions apply and its dependents may go ahead.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        matches!(
            self,
            Outcome::Applied | Outcome::AlreadyApplied | Outcome::DryRun { .. }
        )
    }

    /// The stable name of the outcome (`applied`, `stale`, …).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::AlreadyApplied => "already_applied",
            Outcome::Stale { .. } => "stale",
            Outcome::Failed { .. } => "failed",
            Outcome::Skipped { .. } => "skipped",
            Outcome::DryRun { .. } => "dry_run",
            Outcome::Excluded => "excluded",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Applied => f.write_str("applied"),
            Outcome::AlreadyApplied => f.write_str("already applied (journal)"),
            // Reasons and errors quote the gateway's answers: outside text.
            Outcome::Stale { reason } => write!(f, "stale: {}", Sanitized(reason)),
            Outcome::Failed { error, retryable } => {
                let again = if *retryable { " (retryable)" } else { "" };
                write!(f, "failed{again}: {}", Sanitized(error))
            }
            Outcome::Skipped { reason } => write!(f, "skipped: {}", Sanitized(reason)),
            Outcome::DryRun { requests } => {
                write!(f, "dry run: {}", Sanitized(&requests.join("; ")))
            }
            Outcome::Excluded => f.write_str("skipped (excluded)"),
        }
    }
}

/// One change of the plan and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChangeReport {
    /// The change's id in the plan.
    pub id: u32,
    /// The account (for a rename, the new primary).
    pub email: EmailAddress,
    /// The change's heading.
    pub kind: ChangeKind,
    /// What happened.
    pub outcome: Outcome,
}

/// How many changes ended each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Counts {
    /// [`Outcome::Applied`].
    pub applied: usize,
    /// [`Outcome::AlreadyApplied`].
    pub already_applied: usize,
    /// [`Outcome::Stale`].
    pub stale: usize,
    /// [`Outcome::Failed`].
    pub failed: usize,
    /// [`Outcome::Skipped`].
    pub skipped: usize,
    /// [`Outcome::DryRun`].
    pub dry_run: usize,
    /// [`Outcome::Excluded`].
    #[serde(default)]
    pub excluded: usize,
}

impl Counts {
    pub(crate) fn add(&mut self, outcome: &Outcome) {
        let slot = match outcome {
            Outcome::Applied => &mut self.applied,
            Outcome::AlreadyApplied => &mut self.already_applied,
            Outcome::Stale { .. } => &mut self.stale,
            Outcome::Failed { .. } => &mut self.failed,
            Outcome::Skipped { .. } => &mut self.skipped,
            Outcome::DryRun { .. } => &mut self.dry_run,
            Outcome::Excluded => &mut self.excluded,
        };
        *slot += 1;
    }
}

/// Why a run stopped before attempting every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "halt", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Halt {
    /// The error policy said [`ErrorAction::Abort`](crate::ErrorAction::Abort).
    Aborted {
        /// The change whose failure stopped the run.
        change: u32,
        /// Its error.
        error: String,
    },
    /// The journal could not be written: without it a crash could not be
    /// resumed safely, so no further write is sent.
    Journal {
        /// The IO error.
        error: String,
    },
    /// [`Executor::max_changes`](crate::Executor::max_changes) was reached.
    Limit {
        /// The limit.
        max_changes: usize,
    },
    /// The breaker stopped the run: the gateway looks down (connection
    /// failures, timeouts or 5xx answers in a row, see
    /// [`Executor::breaker`](crate::Executor::breaker)), or it refused the
    /// login once writes had begun. Nothing more was sent; applying the
    /// same plan with the same journal resumes it.
    Breaker {
        /// What tripped it (never credentials).
        reason: String,
    },
    /// A [`Stop`](crate::Stop) was requested (SIGINT or SIGTERM in the
    /// CLI): nothing more was sent, the changes in flight were let finish
    /// (or, past the grace period, left in doubt for the resume to settle).
    /// Applying the same plan with the same journal resumes it.
    Interrupted,
}

impl std::fmt::Display for Halt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Halt::Aborted { change, error } => {
                write!(
                    f,
                    "run aborted after change #{change} failed: {}",
                    Sanitized(error)
                )
            }
            Halt::Journal { error } => {
                write!(
                    f,
                    "run stopped: the journal cannot be written: {}",
                    Sanitized(error)
                )
            }
            Halt::Limit { max_changes } => {
                write!(f, "run stopped after {max_changes} changes (limit)")
            }
            Halt::Breaker { reason } => write!(f, "run stopped sending: {reason}"),
            Halt::Interrupted => f.write_str("run interrupted: nothing more was sent"),
        }
    }
}

/// What [`Executor::apply`](crate::Executor::apply) did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApplyReport {
    /// The applied plan's fingerprint.
    pub fingerprint: String,
    /// True for a dry run: nothing was written, outcomes say what would happen.
    pub dry_run: bool,
    /// One entry per change, in plan order.
    pub changes: Vec<ChangeReport>,
    /// How many changes ended each way.
    pub counts: Counts,
    /// Why the run stopped early, if it did.
    pub halted: Option<Halt>,
    /// The sync state after the run: the input state with the transitions
    /// of the changes that succeeded and the run's own transitions applied.
    /// Save it; the next plan needs it. (In a dry run: what it would be.)
    pub state: SyncState,
}

impl ApplyReport {
    /// True when every change succeeded (or would, in a dry run), the
    /// changes the reviewer excluded aside.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.changes
            .iter()
            .all(|c| c.outcome.succeeded() || c.outcome == Outcome::Excluded)
    }

    /// The outcome of the change with this id.
    #[must_use]
    pub fn outcome(&self, id: u32) -> Option<&Outcome> {
        self.changes.iter().find(|c| c.id == id).map(|c| &c.outcome)
    }

    /// The outcome of the change for this account (for a rename, the new primary).
    #[must_use]
    pub fn outcome_for(&self, email: &EmailAddress) -> Option<&Outcome> {
        self.changes
            .iter()
            .find(|c| &c.email == email)
            .map(|c| &c.outcome)
    }
}

impl std::fmt::Display for Counts {
    /// The non-zero counts: `3 applied, 1 stale` (`nothing` when all are zero).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = [
            (self.applied, "applied"),
            (self.already_applied, "already applied"),
            (self.dry_run, "would apply"),
            (self.stale, "stale"),
            (self.failed, "failed"),
            (self.skipped, "skipped"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if parts.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

impl std::fmt::Display for ApplyReport {
    /// One line per change, then the counts (and why the run stopped early).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in &self.changes {
            writeln!(
                f,
                "#{} {} ({}): {}",
                c.id,
                c.email,
                c.kind.as_str(),
                c.outcome
            )?;
        }
        let run = if self.dry_run { "dry run" } else { "applied" };
        write!(f, "{run}: {}", self.counts)?;
        if let Some(halt) = &self.halted {
            write!(f, "; {halt}")?;
        }
        Ok(())
    }
}

/// A progress event, passed to [`Executor::on_progress`](crate::Executor::on_progress).
///
/// Carries addresses and outcomes, never credentials.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// A change is about to be sent (or checked, in a dry run).
    Started {
        /// The change.
        change: &'a AccountChange,
    },
    /// A change has an outcome.
    Finished {
        /// The change.
        change: &'a AccountChange,
        /// What happened.
        outcome: &'a Outcome,
        /// Changes with an outcome so far, this one included.
        done: usize,
        /// Changes in the plan.
        total: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_as_one_line_per_change_and_the_counts() {
        let report = ApplyReport {
            fingerprint: "f".into(),
            dry_run: false,
            changes: vec![
                ChangeReport {
                    id: 0,
                    email: "ann@example.com".parse().unwrap(),
                    kind: ChangeKind::Update,
                    outcome: Outcome::Stale {
                        reason: "expected last_name = \"Lee\", found \"Li\"".into(),
                    },
                },
                ChangeReport {
                    id: 1,
                    email: "bob@example.com".parse().unwrap(),
                    kind: ChangeKind::Create,
                    outcome: Outcome::Applied,
                },
            ],
            counts: Counts {
                applied: 1,
                stale: 1,
                ..Counts::default()
            },
            halted: Some(Halt::Limit { max_changes: 2 }),
            state: SyncState::new("us1", "example.com"),
        };
        assert_eq!(
            report.to_string(),
            "#0 ann@example.com (update): stale: expected last_name = \"Lee\", found \"Li\"\n\
             #1 bob@example.com (create): applied\n\
             applied: 1 applied, 1 stale; run stopped after 2 changes (limit)"
        );
        assert_eq!(Counts::default().to_string(), "nothing");
    }
}
