//! Why the executor refuses to apply a plan at all.

use std::path::PathBuf;

use muster_reconcile::{Guard, PlanError};

/// A refusal to apply: nothing was written to the gateway.
///
/// Failures of single changes are not errors of [`apply`](crate::Executor::apply):
/// they are outcomes in the [`ApplyReport`](crate::ApplyReport), next to the
/// changes that did succeed (whose state transitions must still be saved).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The plan was written by an incompatible version of muster.
    #[error(
        "plan schema version {found} is not supported (this muster applies version {supported})"
    )]
    UnsupportedPlanVersion {
        /// Version found in the plan.
        found: u32,
        /// Version this muster applies.
        supported: u32,
    },
    /// The plan's content does not match its fingerprint: it was changed
    /// after it was made (and reviewed), or the file is damaged. Plan again.
    ///
    /// The refusal never says what the fingerprint should be: that would
    /// hand whoever edited the plan the value to paste in. (The fingerprint
    /// catches accidents; only a signed plan, [`Executor::plan_key`](crate::Executor::plan_key),
    /// stands up to someone who can write the file.)
    #[error(
        "the plan was changed after it was made: its content no longer matches its fingerprint {recorded}"
    )]
    PlanAltered {
        /// The fingerprint the plan carries.
        recorded: String,
    },
    /// The plan's signature does not check out with the executor's key.
    #[error("the plan's signature does not check out")]
    Signature(#[source] PlanError),
    /// The plan is signed, and the executor has no key to check it with.
    #[error("the plan is signed (key `{key_id}`) and no plan key was given to check it")]
    SignedPlanWithoutKey {
        /// The key id the plan names.
        key_id: String,
    },
    /// The plan was made for another gateway installation or organisation
    /// than the client talks to.
    #[error("the plan is for `{plan_org}` on stack `{plan_stack}`, the client for `{client}`")]
    WrongGateway {
        /// The plan's stack.
        plan_stack: String,
        /// The plan's organisation.
        plan_org: String,
        /// What the client names (organisation or stack).
        client: String,
    },
    /// The sync state passed in belongs to another stack or organisation
    /// than the plan, or to another version of muster.
    #[error("the sync state does not fit the plan")]
    State(#[source] PlanError),
    /// The plan trips the destructive-change threshold and nobody gave the
    /// explicit override.
    #[error("the plan has {destructive} destructive steps, {allowed} allowed, and no override")]
    ThresholdExceeded {
        /// Destructive steps in the plan (recounted from its changes).
        destructive: usize,
        /// How many the policy allowed when the plan was made.
        allowed: usize,
    },
    /// The plan creates more accounts than the create limit allows (a wrong
    /// base DN can make a whole forest look new) and nobody gave the
    /// explicit override.
    #[error("the plan creates {creates} accounts, {allowed} allowed, and no override")]
    CreateLimitExceeded {
        /// Creates in the plan (recounted from its changes).
        creates: usize,
        /// How many the policy allowed when the plan was made.
        allowed: usize,
    },
    /// The plan would take the organisation past its licence count and
    /// nobody gave the explicit override.
    #[error("the plan goes {over} billable users past the licence count, and no override")]
    LicencesExceeded {
        /// Billable users over the licence count after the plan.
        over: u64,
    },
    /// Part of a plan is applied without a journal: the journal is what
    /// counts the parts against the threshold, and resumes them.
    #[error("applying part of a plan needs a journal (--journal, or files.journals in the config)")]
    PartNeedsJournal,
    /// A run of this plan was interrupted with changes in doubt, and this
    /// run approves another part of it: finish the interrupted run first,
    /// with the same `--only` / `--exclude`.
    #[error(
        "the journal's last run applied another part of this plan and was interrupted: resume it with the same selection first"
    )]
    JournalSubsetDiffers {
        /// The journal.
        path: PathBuf,
    },
    /// A change does what one of the plan's own safety guards forbids (a plan
    /// edited after it was made, or made by a broken planner).
    #[error("change #{change} ({step}) is withheld by the plan's safety guard")]
    Guarded {
        /// The change.
        change: u32,
        /// The step the guard forbids.
        step: &'static str,
        /// The guard.
        guard: Guard,
    },
    /// A read that has to come before any change failed (the listing a dry
    /// run checks against, the groups whose memberships change).
    #[error("reading {what} from the gateway failed")]
    Read {
        /// What was being read.
        what: &'static str,
        /// The gateway's error.
        #[source]
        source: muster_gateway::Error,
    },
    /// The plan is not self-consistent (duplicate ids, unknown dependencies,
    /// steps that cannot go together).
    #[error("the plan is malformed: {0}")]
    InvalidPlan(String),
    /// The journal records a run of another plan: resuming from it could skip
    /// changes this plan still needs.
    #[error("journal {} belongs to plan {found}, not {expected}", path.display())]
    JournalForAnotherPlan {
        /// The journal file.
        path: PathBuf,
        /// The fingerprint the journal records.
        found: String,
        /// This plan's fingerprint.
        expected: String,
    },
    /// A journal line is not what this muster writes.
    #[error("journal {} line {line} is not valid: {reason}", path.display())]
    JournalCorrupt {
        /// The journal file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The before-images next to a journal could not be read.
    #[error("before-images {} could not be read", path.display())]
    BeforeImages {
        /// The folder or image.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The journal could not be opened, read or written.
    #[error("journal {} could not be read or written", path.display())]
    JournalIo {
        /// The journal file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
