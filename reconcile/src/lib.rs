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
//! ```
//! use chrono::{TimeZone, Utc};
//! use muster_core::{Account, DirectoryEntry, DirectorySnapshot, Field, FieldSet};
//! use muster_reconcile::{plan, render, Desired, GatewayListing, Policy, SyncState, TargetProfile};
//!
//! let domain: muster_core::Domain = "example.com".parse()?;
//! let target = TargetProfile::new("us1", "example.com").with_domain(domain.clone());
//! let policy = Policy::builder().managed_domain(domain).build();
//! let ldap = DirectorySnapshot::new("ldap", FieldSet::from_iter([Field::FirstName, Field::Aliases]))
//!     .with_entries(vec![DirectoryEntry::new("ann@example.com".parse()?).with_names("Ann", "")]);
//! let gateway = GatewayListing::complete(vec![Account::new("Ann@Example.com".parse()?)]);
//! let mut state = SyncState::new("us1", "example.com");
//! let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
//!
//! let plan = plan(&Desired::new(ldap), &gateway, &target, &state, &policy, now)?;
//! // Ann existed before muster: she is adopted and her name filled in; the
//! // case-only difference in her address is not a change.
//! assert_eq!(plan.changes.len(), 1);
//! assert!(render::text(&plan).contains("first_name: (empty) -> \"Ann\""));
//! plan.apply_all_transitions(&mut state); // what an executor does for the changes that succeed
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod approval;
mod content_hash;
mod error;
mod fingerprint;
mod index;
mod inputs;
mod plan;
mod planner;
mod policy;
pub mod render;
mod rules;
mod signing;
pub mod simulate;
mod state;
mod wanted;

pub use approval::{Approval, Pick, Selection};
pub use error::PlanError;
pub use inputs::{Capabilities, Desired, GatewayListing, TargetProfile};
pub use plan::{
    AccountChange, ChangeKind, Conflict, ConflictAction, ConflictKind, Expect, Guard,
    PLAN_SCHEMA_VERSION, Phase, Plan, PlanNote, PlanOutcome, SkipCode, Skipped, Step, Summary,
    ThresholdCheck, WelcomeRule, is_downgrade,
};
pub use planner::{ConflictRequest, plan, plan_conflict_action, plan_restore};
pub use policy::{
    CreateLimit, DeleteDelay, FlagAction, HrAction, HrRule, Mode, Policy, PolicyBuilder, Threshold,
    UnknownOrigin,
};
pub use signing::{PlanKey, PlanSignature};
pub use state::{
    AccountState, Exemption, FlagCause, FlagState, STATE_VERSION, SyncState, Transition,
};
