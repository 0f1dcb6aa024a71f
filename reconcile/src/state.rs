//! What muster remembers between runs: [`SyncState`], and the
//! [`Transition`]s a plan makes to it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use muster_core::{EmailAddress, ExternalId, Origin};
use serde::{Deserialize, Serialize};

use crate::error::PlanError;

/// The state format this version reads and writes.
pub const STATE_VERSION: u32 = 1;

/// What muster knows about one gateway account that the gateway does not record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccountState {
    /// Who brought the account onto the gateway.
    pub origin: Origin,
    /// The directory's stable id for it, to recognise a renamed person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<ExternalId>,
    /// The HR rule set its type; the directory does not flip it back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub type_set_by_hr: bool,
    /// muster deactivated it (and so may reactivate it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deactivated_by_muster: bool,
}

impl AccountState {
    /// State for an account of `origin`.
    #[must_use]
    pub fn new(origin: Origin) -> Self {
        AccountState {
            origin,
            external_id: None,
            type_set_by_hr: false,
            deactivated_by_muster: false,
        }
    }
}

/// Why an account is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FlagCause {
    /// Absent from (or disabled in) its directory; cleared when it comes back.
    Absent,
    /// Out of HR or terminated there; cleared when HR lists it as employed.
    Hr,
}

/// Why and since when an account is exempt from sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Exemption {
    /// When it was exempted.
    pub since: DateTime<Utc>,
    /// Why, as the administrator wrote it (outside text: rendered through the sanitiser).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A flagged account: absent from its directory (or out of HR) and on its way to deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FlagState {
    /// When the flag was really set (the run whose plan was applied).
    pub since: DateTime<Utc>,
    /// Consecutive runs the account has been absent, this flagging run included.
    pub absent_runs: u32,
    /// Why it was flagged.
    pub cause: FlagCause,
    /// Why, for a human.
    pub reason: String,
}

/// muster's memory between runs, stamped with the stack and organisation it belongs to.
///
/// ```
/// use muster_reconcile::SyncState;
/// let state = SyncState::new("us1", "example.com");
/// let json = state.to_json();
/// assert!(SyncState::from_json(&json, "us1", "example.com").is_ok());
/// assert!(SyncState::from_json(&json, "eu1", "example.com").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SyncState {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// The gateway stack.
    pub stack: String,
    /// The organisation.
    pub org: String,
    /// Per-account knowledge, keyed by primary address.
    pub accounts: BTreeMap<EmailAddress, AccountState>,
    /// Flagged accounts.
    pub flags: BTreeMap<EmailAddress, FlagState>,
    /// Accounts the administrator chose to keep although absent (the "Ignore" action).
    pub ignored: BTreeSet<EmailAddress>,
    /// Accounts exempted from sync (`muster exempt`, the vendors' "Exempt
    /// from Sync"): never created, changed, flagged or deleted, and listed
    /// as skipped in every plan. Kept here, not in the operator's config,
    /// so muster never rewrites a file a person maintains.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exempt: BTreeMap<EmailAddress, Exemption>,
    /// When the last plan was made.
    pub last_run: Option<DateTime<Utc>>,
    /// How many accounts the gateway was expected to hold after the last run.
    pub last_gateway_count: Option<usize>,
}

impl SyncState {
    /// An empty state for `org` on `stack`.
    #[must_use]
    pub fn new(stack: impl Into<String>, org: impl Into<String>) -> Self {
        SyncState {
            version: STATE_VERSION,
            stack: stack.into(),
            org: org.into(),
            accounts: BTreeMap::new(),
            flags: BTreeMap::new(),
            ignored: BTreeSet::new(),
            exempt: BTreeMap::new(),
            last_run: None,
            last_gateway_count: None,
        }
    }

    /// Records the administrator's "Ignore": the account stays although absent.
    pub fn ignore(&mut self, address: EmailAddress) {
        self.ignored.insert(address);
    }

    /// Undoes an "Ignore": the account follows the deletion lifecycle
    /// again. False when it was not ignored.
    pub fn unignore(&mut self, address: &EmailAddress) -> bool {
        self.ignored.remove(address)
    }

    /// Exempts an account from sync from `since`, with an optional reason
    /// for the next reviewer. Exempting it again replaces the reason and time.
    pub fn exempt(&mut self, address: EmailAddress, since: DateTime<Utc>, reason: Option<String>) {
        self.exempt.insert(address, Exemption { since, reason });
    }

    /// Ends an exemption: the next plan syncs the account again. False when
    /// it was not exempt.
    pub fn unexempt(&mut self, address: &EmailAddress) -> bool {
        self.exempt.remove(address).is_some()
    }

    /// Records who made an account.
    pub fn set_origin(&mut self, address: EmailAddress, origin: Origin) {
        self.accounts
            .entry(address)
            .and_modify(|a| a.origin = origin.clone())
            .or_insert_with(|| AccountState::new(origin));
    }

    /// The origin of an account; [`Origin::Unknown`] when muster never saw it.
    #[must_use]
    pub fn origin(&self, address: &EmailAddress) -> &Origin {
        static UNKNOWN: Origin = Origin::Unknown;
        self.accounts.get(address).map_or(&UNKNOWN, |a| &a.origin)
    }

    /// The state as pretty JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| unreachable!("state serialises: {e}"))
    }

    /// Reads a state, refusing another version, stack or organisation.
    pub fn from_json(json: &str, stack: &str, org: &str) -> Result<Self, PlanError> {
        let state: SyncState = serde_json::from_str(json)
            .map_err(|e| PlanError::InvalidState(std::sync::Arc::new(e)))?;
        state.check(stack, org)?;
        Ok(state)
    }

    /// Refuses a state of another version, stack or organisation.
    pub fn check(&self, stack: &str, org: &str) -> Result<(), PlanError> {
        if self.version != STATE_VERSION {
            return Err(PlanError::UnsupportedStateVersion {
                found: self.version,
                supported: STATE_VERSION,
            });
        }
        if !self.stack.eq_ignore_ascii_case(stack) || !self.org.eq_ignore_ascii_case(org) {
            return Err(PlanError::StateForAnotherOrg {
                state_stack: self.stack.clone(),
                state_org: self.org.clone(),
                target_stack: stack.to_owned(),
                target_org: org.to_owned(),
            });
        }
        Ok(())
    }

    /// Applies one transition. The executor calls this only for changes that succeeded.
    pub fn apply(&mut self, transition: &Transition) {
        match transition {
            Transition::Claim {
                email,
                origin,
                external_id,
            } => {
                let entry = self
                    .accounts
                    .entry(email.clone())
                    .or_insert_with(|| AccountState::new(origin.clone()));
                entry.origin = origin.clone();
                if external_id.is_some() {
                    entry.external_id.clone_from(external_id);
                }
            }
            Transition::Flag {
                email,
                since,
                cause,
                reason,
            } => {
                self.flags.insert(
                    email.clone(),
                    FlagState {
                        since: *since,
                        absent_runs: 1,
                        cause: *cause,
                        reason: reason.clone(),
                    },
                );
            }
            Transition::CountAbsent { email, runs } => {
                if let Some(flag) = self.flags.get_mut(email) {
                    flag.absent_runs = *runs;
                }
            }
            Transition::Unflag { email } => {
                self.flags.remove(email);
            }
            Transition::Deactivated { email } => {
                self.account_mut(email).deactivated_by_muster = true;
            }
            Transition::Reactivated { email } => {
                self.account_mut(email).deactivated_by_muster = false;
            }
            Transition::TypeSetByHr { email } => {
                self.account_mut(email).type_set_by_hr = true;
            }
            Transition::Forget { email } => {
                self.accounts.remove(email);
                self.flags.remove(email);
                self.ignored.remove(email);
                self.exempt.remove(email);
            }
            Transition::Rename { from, to } => {
                if let Some(account) = self.accounts.remove(from) {
                    self.accounts.insert(to.clone(), account);
                }
                self.flags.remove(from);
                if self.ignored.remove(from) {
                    self.ignored.insert(to.clone());
                }
            }
            Transition::RecordRun { at, gateway_count } => {
                self.last_run = Some(*at);
                self.last_gateway_count = Some(*gateway_count);
            }
        }
    }

    fn account_mut(&mut self, email: &EmailAddress) -> &mut AccountState {
        self.accounts
            .entry(email.clone())
            .or_insert_with(|| AccountState::new(Origin::Unknown))
    }
}

/// A change to [`SyncState`] that a plan causes.
///
/// Each belongs to an account change (applied only when that change succeeds,
/// so `flagged_since` starts when the flag really happened) or to the run as a
/// whole ([`crate::Plan::run_transitions`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "transition", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Transition {
    /// muster now owns (or knows the origin of) the account.
    Claim {
        /// The account.
        email: EmailAddress,
        /// Its origin.
        origin: Origin,
        /// The directory's stable id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_id: Option<ExternalId>,
    },
    /// The account is flagged for deletion from `since`.
    Flag {
        /// The account.
        email: EmailAddress,
        /// When.
        since: DateTime<Utc>,
        /// Why (category).
        cause: FlagCause,
        /// Why, for a human.
        reason: String,
    },
    /// The account has now been absent for `runs` consecutive runs.
    CountAbsent {
        /// The account.
        email: EmailAddress,
        /// Runs absent.
        runs: u32,
    },
    /// The flag is cleared (the user came back).
    Unflag {
        /// The account.
        email: EmailAddress,
    },
    /// muster deactivated the account.
    Deactivated {
        /// The account.
        email: EmailAddress,
    },
    /// muster reactivated an account it had deactivated.
    Reactivated {
        /// The account.
        email: EmailAddress,
    },
    /// The HR rule set the account's type.
    TypeSetByHr {
        /// The account.
        email: EmailAddress,
    },
    /// The account is gone: forget everything about it.
    Forget {
        /// The account.
        email: EmailAddress,
    },
    /// The account's primary address changed.
    Rename {
        /// Old primary.
        from: EmailAddress,
        /// New primary.
        to: EmailAddress,
    },
    /// The run happened; the gateway is expected to hold `gateway_count` accounts.
    RecordRun {
        /// The run's `now`.
        at: DateTime<Utc>,
        /// Expected accounts afterwards.
        gateway_count: usize,
    },
}
