//! The reconcile engine of muster: a pure planner that cannot silently
//! destroy mail flow.
//!
//! [`plan`] compares what the directories say ([`Desired`]) with what the
//! gateway holds ([`GatewayListing`]), under a [`Policy`] and with muster's
//! memory ([`SyncState`]), and returns a [`Plan`]: one [`AccountChange`] per
//! account with reasons, preconditions, dependencies and the state
//! transitions to apply on success, plus the User Conflicts list, skipped
//! entries, safety guards, a threshold check and a summary. It does no IO
//! and reads no clock: `now` is an argument. The renderers in [`render`]
//! turn a plan into the vendors' preview text, versioned JSON and CSV.
//!
//! See [`plan`] for an example.
#![deny(missing_docs)]

mod error;
mod fingerprint;
mod inputs;
mod plan;
mod planner;
mod policy;
pub mod render;
mod rules;
pub mod simulate;
mod state;
mod wanted;

pub use error::PlanError;
pub use inputs::{Capabilities, Desired, GatewayListing, TargetProfile};
pub use plan::{
    AccountChange, ChangeKind, Conflict, ConflictAction, ConflictKind, Expect, Guard,
    PLAN_SCHEMA_VERSION, Phase, Plan, SkipCode, Skipped, Step, Summary, ThresholdCheck,
    is_downgrade,
};
pub use planner::plan;
pub use policy::{
    DeleteDelay, FlagAction, HrAction, HrRule, Mode, Policy, PolicyBuilder, Threshold,
    UnknownOrigin,
};
pub use state::{AccountState, FlagCause, FlagState, STATE_VERSION, SyncState, Transition};
