//! Why the planner refuses to plan at all.

use chrono::{DateTime, Utc};
use muster_core::Domain;

/// A refusal: the inputs are inconsistent, and any plan made from them could
/// destroy mail flow. Nothing is planned; the caller must fix the inputs.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The sync state belongs to another gateway stack or organisation.
    #[error(
        "sync state is for organisation `{state_org}` on stack `{state_stack}`, not `{target_org}` on `{target_stack}`"
    )]
    StateForAnotherOrg {
        /// Stack recorded in the state.
        state_stack: String,
        /// Organisation recorded in the state.
        state_org: String,
        /// Stack of the target.
        target_stack: String,
        /// Organisation of the target.
        target_org: String,
    },
    /// `now` is earlier than the last run: a clock went backwards, and every
    /// deletion delay computed from it would be wrong.
    #[error("`now` ({now}) is earlier than the last run ({last_run}); refusing to plan")]
    ClockWentBackwards {
        /// The `now` passed in.
        now: DateTime<Utc>,
        /// The last run recorded in the state.
        last_run: DateTime<Utc>,
    },
    /// A managed domain is not registered on the gateway (a typo here would
    /// make every user of the real domain look absent).
    #[error("managed domain `{domain}` is not registered on the gateway")]
    UnregisteredDomain {
        /// The domain.
        domain: Domain,
    },
    /// The policy manages no domain at all, so every entry would be skipped.
    #[error("the policy manages no domain")]
    NoManagedDomains,
    /// The sync state was written by an incompatible version of muster.
    #[error("sync state version {found} is not supported (this muster reads version {supported})")]
    UnsupportedStateVersion {
        /// Version found.
        found: u32,
        /// Version this muster reads and writes.
        supported: u32,
    },
    /// The sync state could not be read.
    #[error("sync state is not valid")]
    InvalidState(#[source] std::sync::Arc<serde_json::Error>),
    /// A plan-signing key shorter than [`PlanKey::MIN_LEN`](crate::PlanKey::MIN_LEN) bytes.
    #[error("a plan-signing key needs at least 32 bytes, this one has {len}")]
    KeyTooShort {
        /// The key's length.
        len: usize,
    },
    /// A plan that should be signed is not.
    #[error("the plan is not signed, and plans must be (a plan key is configured)")]
    Unsigned,
    /// The plan was signed with another key than the one given.
    #[error("the plan is signed with key `{plan_key}`, not with this one (`{key}`)")]
    SignedWithAnotherKey {
        /// The key id the plan names.
        plan_key: String,
        /// The given key's id.
        key: String,
    },
    /// The plan's signature does not match its content: it was changed after
    /// it was signed. (Nothing about the expected value is said.)
    #[error("the plan's signature does not match its content: it was changed after it was signed")]
    BadSignature,
    /// An action on a conflict ("delete now", "deactivate") that cannot be
    /// planned: the address is no conflict of a fresh plan, is protected, is
    /// not muster's, or a safety guard holds deletions.
    #[error("cannot {} {address}: {reason}", action_verb(*.action))]
    ConflictAction {
        /// The address asked for.
        address: String,
        /// The action.
        action: crate::ConflictAction,
        /// Why not.
        reason: String,
    },
    /// An approval (`--exclude`, `--only`, an approval file) that cannot be
    /// used: unreadable, made for another plan, or naming no change of it.
    #[error("{0}")]
    Approval(String),
    /// A saved plan could not be read.
    #[error("saved plan is not valid")]
    InvalidPlan(#[source] std::sync::Arc<serde_json::Error>),
    /// A saved plan was written with another schema version.
    #[error("plan schema version {found} is not supported (this muster reads version {supported})")]
    UnsupportedPlanVersion {
        /// Version found.
        found: u32,
        /// Version this muster reads and writes.
        supported: u32,
    },
}

fn action_verb(action: crate::ConflictAction) -> &'static str {
    match action {
        crate::ConflictAction::Deactivate => "deactivate",
        crate::ConflictAction::Ignore => "ignore",
        crate::ConflictAction::Export => "export",
        _ => "delete now",
    }
}
