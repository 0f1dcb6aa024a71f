//! The planner's output: a [`Plan`] is a value that can be printed,
//! exported, reviewed, saved and applied later.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use muster_core::{Account, EmailAddress, Field, Location, Origin, UserType};
use serde::{Deserialize, Serialize};

use crate::state::{SyncState, Transition};

/// The version of the plan's JSON schema. Bumped on any incompatible change.
///
/// 2: `fingerprint` is a hash of the plan's content (version 1 hashed the
/// inputs), so a version-1 plan would read as edited; it is refused as a
/// plan of another version instead, which is what it is.
///
/// 3: a create carries `unowned_fields` (a restore's saved object), which
/// the fingerprint covers even when empty; a version-2 plan is refused as
/// a plan of another version rather than read as edited.
pub const PLAN_SCHEMA_VERSION: u32 = 3;

/// One thing to do to one account. Several steps of one [`AccountChange`]
/// become one read-merge-write of that account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Step {
    /// Create the account.
    Create {
        /// The account as it should be created.
        account: Box<Account>,
        /// Whether the gateway sends a welcome letter (it goes to a real person).
        welcome_letter: bool,
        /// Creates with the same group number can go in one bulk request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bulk_group: Option<u32>,
        /// Fields muster does not model, sent verbatim with the create:
        /// the sender lists, `odin_settings` and the rest of an account put
        /// back from its before-image ([`crate::plan_restore`]). Empty for
        /// a directory's create.
        #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
        unowned_fields: serde_json::Map<String, serde_json::Value>,
    },
    /// Change a text field.
    SetField {
        /// Which field.
        field: Field,
        /// The value expected on the gateway now (a precondition).
        before: Option<String>,
        /// The new value.
        after: Option<String>,
    },
    /// Add aliases.
    AddAliases {
        /// The aliases.
        aliases: Vec<EmailAddress>,
    },
    /// Remove aliases (destructive: mail to them stops).
    RemoveAliases {
        /// The aliases.
        aliases: Vec<EmailAddress>,
    },
    /// Change a list of values other than aliases (groups, allowed / blocked senders).
    ChangeList {
        /// Which field.
        field: Field,
        /// Values to add.
        add: Vec<String>,
        /// Values to remove (destructive for group memberships).
        remove: Vec<String>,
    },
    /// Change the account's type.
    SetType {
        /// The type expected now.
        from: UserType,
        /// The new type.
        to: UserType,
    },
    /// Reactivate an account muster deactivated.
    Activate,
    /// Deactivate the account (destructive).
    Deactivate,
    /// Flag the account for deletion (state only; no request to the gateway).
    Flag,
    /// Clear the flag (state only).
    Unflag,
    /// Record that muster now owns the account (state only).
    Adopt {
        /// The new origin.
        origin: Origin,
    },
    /// Delete the account (destructive).
    Delete,
    /// Change the primary address, in four steps: strip the old account's
    /// aliases, create the new account (fields muster does not own copied, no
    /// welcome letter), delete the old account, add the old primary back as
    /// an alias when the directory keeps it.
    ChangePrimary {
        /// The old primary.
        from: EmailAddress,
        /// Aliases stripped from the old account first (so the new one can take them).
        strip_aliases: Vec<EmailAddress>,
        /// The new account, aliases included, as it should end up.
        account: Box<Account>,
        /// Whether the old primary ends up as an alias of the new account.
        keep_old_as_alias: bool,
    },
}

impl Step {
    /// True when the step can stop mail flow or lose data: deletes,
    /// deactivations, alias removals, membership removals, type downgrades.
    #[must_use]
    pub fn is_destructive(&self) -> bool {
        match self {
            Step::Delete | Step::Deactivate => true,
            Step::RemoveAliases { aliases } => !aliases.is_empty(),
            Step::ChangeList { field, remove, .. } => *field == Field::Groups && !remove.is_empty(),
            Step::SetType { from, to } => is_downgrade(from, to),
            _ => false,
        }
    }

    /// True for steps that only change muster's state, not the gateway.
    #[must_use]
    pub fn is_state_only(&self) -> bool {
        matches!(self, Step::Flag | Step::Unflag | Step::Adopt { .. })
    }

    /// The stable name of the step's kind, used in summaries and exports.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Step::Create { .. } => "create",
            Step::SetField { .. } => "set_field",
            Step::AddAliases { .. } => "add_aliases",
            Step::RemoveAliases { .. } => "remove_aliases",
            Step::ChangeList { field, .. } if *field == Field::Groups => "change_groups",
            Step::ChangeList { .. } => "change_list",
            Step::SetType { .. } => "set_type",
            Step::Activate => "activate",
            Step::Deactivate => "deactivate",
            Step::Flag => "flag",
            Step::Unflag => "unflag",
            Step::Adopt { .. } => "adopt",
            Step::Delete => "delete",
            Step::ChangePrimary { .. } => "change_primary",
        }
    }
}

/// True when going `from` → `to` takes something away from the user:
/// end user → silent user or functional account, silent user → functional account.
#[must_use]
pub fn is_downgrade(from: &UserType, to: &UserType) -> bool {
    fn rank(t: &UserType) -> u8 {
        match t {
            UserType::EndUser => 2,
            UserType::SilentUser => 1,
            _ => 0,
        }
    }
    rank(to) < rank(from)
}

/// The main heading an account change appears under in a preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// A new account.
    Create,
    /// A primary-address change.
    Rename,
    /// Changes to an existing account.
    Update,
    /// Flagged for deletion.
    Flag,
    /// Deleted.
    Delete,
}

impl ChangeKind {
    /// The stable name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Create => "create",
            ChangeKind::Rename => "rename",
            ChangeKind::Update => "update",
            ChangeKind::Flag => "flag",
            ChangeKind::Delete => "delete",
        }
    }
}

/// When, relative to other changes, the executor should apply a change
/// (dependencies come first regardless).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// Changes that release addresses other changes need.
    Release,
    /// Creates.
    Create,
    /// Primary-address changes.
    Rename,
    /// Updates, memberships, state-only changes.
    Update,
    /// Deactivations and type downgrades.
    Deactivate,
    /// Deletes, last.
    Delete,
}

/// What the executor must find on the gateway before writing; a mismatch is
/// a stale change, not a blind overwrite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Expect {
    /// Whether the account exists.
    pub exists: bool,
    /// Its type, when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<UserType>,
    /// Whether it is active, when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Its aliases, when the change touches aliases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<EmailAddress>>,
}

/// Everything planned for one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccountChange {
    /// The change's number in this plan (its position).
    pub id: u32,
    /// The account (for a rename, the new primary).
    pub email: EmailAddress,
    /// The heading.
    pub kind: ChangeKind,
    /// When to apply it relative to others.
    pub phase: Phase,
    /// The steps, applied as one read-merge-write where possible.
    pub steps: Vec<Step>,
    /// Preconditions (field steps carry their own `before`).
    pub expect: Expect,
    /// Changes that must succeed first (an alias moving from A to B: A first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<u32>,
    /// Why, for a human.
    pub reason: String,
    /// State changes to apply only if the change succeeds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<Transition>,
}

impl AccountChange {
    /// True when any step is destructive.
    #[must_use]
    pub fn is_destructive(&self) -> bool {
        self.steps.iter().any(Step::is_destructive)
    }

    /// How many destructive steps the change has (each counts toward the threshold).
    #[must_use]
    pub fn destructive_count(&self) -> usize {
        self.steps.iter().filter(|s| s.is_destructive()).count()
    }

    /// True when the change only touches muster's state.
    #[must_use]
    pub fn is_state_only(&self) -> bool {
        self.steps.iter().all(Step::is_state_only)
    }
}

/// What an administrator can do with a conflict (the vendors' User Conflicts actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConflictAction {
    /// Delete the account now instead of waiting.
    DeleteNow,
    /// Keep it although absent.
    Ignore,
    /// Deactivate it meanwhile.
    Deactivate,
    /// Export it with the preview.
    Export,
}

/// Why an account is a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConflictKind {
    /// Owned by a directory that no longer lists it.
    Absent,
    /// Existed before muster and no directory lists it.
    UnknownOrigin,
    /// Out of HR (when the HR rule flags).
    Hr,
}

/// One entry of the User Conflicts list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Conflict {
    /// The account.
    pub email: EmailAddress,
    /// Its type.
    pub user_type: UserType,
    /// Who made it.
    pub origin: Origin,
    /// Why it is a conflict.
    pub kind: ConflictKind,
    /// When it was flagged (after this plan is applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged_since: Option<DateTime<Utc>>,
    /// Consecutive absent runs, this one included.
    pub absent_runs: u32,
    /// The earliest time it can be deleted, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after: Option<DateTime<Utc>>,
    /// The administrator chose to keep it.
    pub ignored: bool,
    /// Why, for a human.
    pub reason: String,
    /// What the administrator can do.
    pub actions: Vec<ConflictAction>,
}

/// Why an entry was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipCode {
    /// The primary's domain is not managed.
    OutsideManagedDomains,
    /// An alias's domain (or its primary's) is not managed.
    AliasOutsideManagedDomains,
    /// The address already belongs to another account or entry.
    AddressClash,
    /// The account is protected (admin, read-only, muster's own login).
    Protected,
    /// The address is one of the policy's exceptions.
    Exception,
    /// Recipients of this kind are not synced.
    KindNotSynced,
    /// The source could not read the record.
    SourceIssue,
    /// An administrator exempted the account from sync (`muster exempt`).
    Exempt,
}

/// A refused entry, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Skipped {
    /// The address concerned (empty when the source could not read one).
    pub email: String,
    /// The source that listed it.
    pub source: String,
    /// Where in the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The category.
    pub code: SkipCode,
    /// Why, for a human (both sides named for a clash).
    pub reason: String,
}

/// Something a reviewer should know that is not a change: what the
/// sources provide but the gateway will not be given, what a source left
/// out on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PlanNote {
    /// A source provides a field muster owns that the gateway's dialect
    /// cannot hold (mobile on Essentials v1): it is read, and not written.
    FieldNotWritten {
        /// The source.
        source: String,
        /// The field.
        field: Field,
        /// How many of its entries have a value for it.
        entries: usize,
    },
    /// What a source counted and left out, or kept with a remark (guests,
    /// users without an address, external members, …).
    Source {
        /// The source.
        source: String,
        /// What it counted.
        counted: muster_core::SourceNote,
    },
}

impl std::fmt::Display for PlanNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanNote::FieldNotWritten {
                source,
                field,
                entries,
            } => {
                let entries = if *entries == 1 {
                    "1 entry".to_owned()
                } else {
                    format!("{entries} entries")
                };
                write!(
                    f,
                    "{source} provides {field} for {entries}, which the gateway cannot store: it is not written"
                )
            }
            PlanNote::Source { source, counted } => write!(f, "{source}: {counted}"),
        }
    }
}

/// Why destructive changes were withheld from this plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "guard", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Guard {
    /// The authoritative snapshot is partial.
    SourceIncomplete {
        /// The source.
        source: String,
        /// Why it is partial.
        reason: String,
    },
    /// The authoritative snapshot has no entries.
    SourceEmpty {
        /// The source.
        source: String,
    },
    /// The gateway listing may be missing accounts.
    GatewayListingIncomplete,
    /// The gateway holds far fewer accounts than after the last run.
    GatewayShrank {
        /// Expected after the last run.
        from: usize,
        /// Listed now.
        to: usize,
        /// The most the threshold allows to disappear.
        allowed: usize,
    },
    /// The HR snapshot is partial or empty: the HR rule is not applied.
    HrIncomplete {
        /// The source.
        source: String,
    },
    /// Some HR rows could not be read (no usable address): anybody could be
    /// the person on them, so nobody is treated as absent from HR this run.
    /// Terminations the readable rows report still apply.
    HrRecordsUnread {
        /// The HR source.
        source: String,
        /// How many rows could not be read.
        count: usize,
        /// Where the first few are, in order.
        first: Vec<Location>,
    },
    /// Some records of the authoritative snapshot could not be read (an
    /// issue at a place no entry comes from). The people they describe look
    /// absent, so deletions and deactivations are held until the records
    /// are fixed; absent accounts are still flagged (record only), so the
    /// delay runs as usual.
    RecordsUnread {
        /// The source.
        source: String,
        /// How many records could not be read.
        count: usize,
        /// Where the first few are, in order.
        first: Vec<Location>,
    },
}

impl Guard {
    /// True when the guard also stops directory-driven destructive changes
    /// (the HR guard only stops the HR rule).
    #[must_use]
    pub fn blocks_directory(&self) -> bool {
        !matches!(
            self,
            Guard::HrIncomplete { .. }
                | Guard::HrRecordsUnread { .. }
                | Guard::RecordsUnread { .. }
        )
    }

    /// True when the guard holds deletions and deactivations driven by the
    /// directory (every guard that blocks the directory does, and unread
    /// records do while still letting absent accounts be flagged).
    #[must_use]
    pub fn holds_deletions(&self) -> bool {
        self.blocks_directory() || matches!(self, Guard::RecordsUnread { .. })
    }

    /// True when the guard says a source or the gateway listing cannot be
    /// trusted (empty, incomplete, shrunk): the plan's outcome is then
    /// [`PlanOutcome::SourceUnsafe`]. Unread records and HR's guards are
    /// not: the rest of the source was read.
    #[must_use]
    pub fn distrusts_input(&self) -> bool {
        matches!(
            self,
            Guard::SourceEmpty { .. }
                | Guard::SourceIncomplete { .. }
                | Guard::GatewayListingIncomplete
                | Guard::GatewayShrank { .. }
        )
    }

    /// True when the guard stops the HR rule.
    #[must_use]
    pub fn blocks_hr(&self) -> bool {
        matches!(
            self,
            Guard::HrIncomplete { .. }
                | Guard::GatewayListingIncomplete
                | Guard::GatewayShrank { .. }
        )
    }
}

impl std::fmt::Display for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Guard::SourceIncomplete { source, reason } => {
                write!(
                    f,
                    "{source} is incomplete ({reason}): nothing is flagged or removed"
                )
            }
            Guard::SourceEmpty { source } => {
                write!(
                    f,
                    "{source} returned no entries: nothing is flagged or removed"
                )
            }
            Guard::GatewayListingIncomplete => {
                f.write_str("the gateway listing is incomplete: nothing is flagged or removed")
            }
            Guard::GatewayShrank { from, to, allowed } => write!(
                f,
                "the gateway holds {to} accounts, {from} expected (more than {allowed} gone): nothing is flagged or removed"
            ),
            Guard::HrIncomplete { source } => {
                write!(
                    f,
                    "{source} is incomplete or empty: the HR rule is not applied"
                )
            }
            Guard::RecordsUnread {
                source,
                count,
                first,
            } => {
                write_unread(f, source, *count, first)?;
                f.write_str("; deletions are held until they are fixed")
            }
            Guard::HrRecordsUnread {
                source,
                count,
                first,
            } => {
                write_unread(f, source, *count, first)?;
                f.write_str("; nobody is treated as absent from HR until they are fixed")
            }
        }
    }
}

/// `3 records of hr.csv could not be read (hr.csv:4, hr.csv:9, …)`.
fn write_unread(
    f: &mut std::fmt::Formatter<'_>,
    source: &str,
    count: usize,
    first: &[Location],
) -> std::fmt::Result {
    let records = if count == 1 { "record" } else { "records" };
    write!(f, "{count} {records} of {source} could not be read (")?;
    for (i, at) in first.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{at}")?;
    }
    if count > first.len() {
        f.write_str(", …")?;
    }
    f.write_str(")")
}

/// The guards that need an explicit override, checked against this plan:
/// the destructive-change threshold, the create limit and the licence count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThresholdCheck {
    /// Destructive steps in the plan.
    pub destructive: usize,
    /// How many the policy allows for the current account count.
    pub allowed: usize,
    /// By how much the plan exceeds the threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exceeded_by: Option<usize>,
    /// Accounts the plan creates.
    #[serde(default)]
    pub creates: usize,
    /// How many creates the policy allows for the current account count.
    #[serde(default)]
    pub creates_allowed: usize,
    /// By how much the plan exceeds the create limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creates_exceeded_by: Option<usize>,
    /// By how many billable users the plan would go past the licence count
    /// (only when it adds billable users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licences_exceeded_by: Option<u64>,
    /// The administrator gave the explicit override.
    pub overridden: bool,
}

/// What a plan means for a scheduler ([`Plan::outcome`]), each with its
/// code in the exit-code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PlanOutcome {
    /// Applying it would change neither the gateway nor muster's state (0).
    NothingToDo,
    /// Applying it would change the gateway or muster's state (2, with
    /// `--detailed-exitcode`; 0 without).
    WouldChange,
    /// A source or the gateway listing was empty, incomplete or shrank:
    /// deletions are held (5).
    SourceUnsafe,
    /// It goes over the destructive threshold, the create limit or the
    /// licences, and needs an explicit override to be applied (4).
    ThresholdExceeded,
}

impl PlanOutcome {
    /// The code in the exit-code table (`WouldChange` as with `--detailed-exitcode`).
    #[must_use]
    pub fn exit_code(self) -> u8 {
        match self {
            PlanOutcome::NothingToDo => 0,
            PlanOutcome::WouldChange => 2,
            PlanOutcome::ThresholdExceeded => 4,
            PlanOutcome::SourceUnsafe => 5,
        }
    }

    /// The table's words for it.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            PlanOutcome::NothingToDo => "nothing to do",
            PlanOutcome::WouldChange => "would change",
            PlanOutcome::SourceUnsafe => "source unsafe",
            PlanOutcome::ThresholdExceeded => "threshold exceeded",
        }
    }
}

impl ThresholdCheck {
    /// What the plan goes over, in words (`the create limit by 3`), each
    /// guard that trips once: what the preview and a fleet's line say.
    #[must_use]
    pub fn exceeded(&self) -> Vec<String> {
        [
            self.exceeded_by
                .map(|by| format!("the destructive threshold by {by}")),
            self.creates_exceeded_by
                .map(|by| format!("the create limit by {by}")),
            self.licences_exceeded_by
                .map(|by| format!("the licence count by {by}")),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// True when a guard that needs the override trips (overridden or not).
    #[must_use]
    pub fn tripped(&self) -> bool {
        self.exceeded_by.is_some()
            || self.creates_exceeded_by.is_some()
            || self.licences_exceeded_by.is_some()
    }
}

/// Which rule decided whether this plan's creates send welcome letters
/// (the vendor's "Default New User Role": an end user gets a letter, a
/// silent user does not, and the organisation must allow letters at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WelcomeRule {
    /// New end users get one; silent users, functional accounts and
    /// disabled users created inactive do not.
    #[default]
    EndUsers,
    /// The policy sends none (`welcome_letters = false`).
    OffByPolicy,
    /// The organisation's own setting sends none (`send_welcome_email` is
    /// false on the organisation).
    OffForOrganisation,
}

impl WelcomeRule {
    /// Why, for the preview's summary.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            WelcomeRule::EndUsers => "new end users get one",
            WelcomeRule::OffByPolicy => "the policy sends none",
            WelcomeRule::OffForOrganisation => "the organisation sends none",
        }
    }
}

/// Counts for the preview's summary line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// Account changes per heading.
    pub changes: BTreeMap<String, usize>,
    /// Steps per kind.
    pub steps: BTreeMap<String, usize>,
    /// Conflicts listed.
    pub conflicts: usize,
    /// Entries skipped.
    pub skipped: usize,
    /// Welcome letters the creates will send.
    pub welcome_letters: usize,
    /// Which rule decided them.
    #[serde(default)]
    pub welcome_rule: WelcomeRule,
    /// Billable accounts now.
    pub billable_before: usize,
    /// Billable accounts after the plan.
    pub billable_after: usize,
    /// Licences bought, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence_count: Option<u64>,
    /// How far over the licence count the plan goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_licence_by: Option<u64>,
    /// Estimated requests to the gateway.
    pub api_calls: u64,
}

/// A reviewed-before-applied description of one sync run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// [`PLAN_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The gateway stack.
    pub stack: String,
    /// The organisation.
    pub org: String,
    /// The authoritative source.
    pub source: String,
    /// The `now` the plan was made for.
    pub planned_at: DateTime<Utc>,
    /// A hash of everything else in the plan ([`Plan::content_fingerprint`]):
    /// two plans with one fingerprint make the same changes for the same
    /// reasons at the same time. Journals name the plan they belong to by it,
    /// and the executor refuses a plan whose content no longer matches it
    /// (changed after it was made and reviewed).
    pub fingerprint: String,
    /// Account changes, in a stable order (phase, then address).
    pub changes: Vec<AccountChange>,
    /// The User Conflicts list.
    pub conflicts: Vec<Conflict>,
    /// Refused entries.
    pub skipped: Vec<Skipped>,
    /// Why destructive changes were withheld, if they were.
    pub guards: Vec<Guard>,
    /// What a reviewer should know that is not a change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<PlanNote>,
    /// State changes that belong to the run, not to one change (absent-run
    /// counts, the run's time and expected gateway size).
    pub run_transitions: Vec<Transition>,
    /// Counts.
    pub summary: Summary,
    /// The threshold check.
    pub threshold: ThresholdCheck,
    /// The signature of a plan-signing key, when the plan was signed
    /// ([`Plan::sign`]); not part of the content it signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<crate::signing::PlanSignature>,
}

/// What [`Plan::fingerprint`] covers: every field of the plan but the
/// fingerprint itself.
#[derive(Serialize)]
pub(crate) struct PlanContent<'a> {
    schema_version: u32,
    stack: &'a str,
    org: &'a str,
    source: &'a str,
    planned_at: DateTime<Utc>,
    changes: &'a [AccountChange],
    conflicts: &'a [Conflict],
    skipped: &'a [Skipped],
    guards: &'a [Guard],
    notes: &'a [PlanNote],
    run_transitions: &'a [Transition],
    summary: &'a Summary,
    threshold: &'a ThresholdCheck,
}

impl Plan {
    /// The fingerprint of the plan's content as it is now (a hash of every
    /// field but `fingerprint` and `signature`). Equal to
    /// [`Plan::fingerprint`] unless the plan was changed after it was made.
    #[must_use]
    pub fn content_fingerprint(&self) -> String {
        crate::content_hash::fingerprint(&self.content())
    }

    /// Every field but the fingerprint and the signature: what both cover.
    pub(crate) fn content(&self) -> PlanContent<'_> {
        PlanContent {
            schema_version: self.schema_version,
            stack: &self.stack,
            org: &self.org,
            source: &self.source,
            planned_at: self.planned_at,
            changes: &self.changes,
            conflicts: &self.conflicts,
            skipped: &self.skipped,
            guards: &self.guards,
            notes: &self.notes,
            run_transitions: &self.run_transitions,
            summary: &self.summary,
            threshold: &self.threshold,
        }
    }

    /// True when the plan changes nothing (run bookkeeping aside).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// True when the plan trips the destructive threshold, the create limit
    /// or the licence count and has no override: an executor must refuse
    /// to apply it.
    #[must_use]
    pub fn requires_override(&self) -> bool {
        self.threshold.tripped() && !self.threshold.overridden
    }

    /// What this plan means for a scheduler, the plan's row of the exit-code
    /// table (`docs/operating.md`): the first of threshold exceeded, source
    /// unsafe, would change, nothing to do. "Would change" counts any change
    /// and any run transition but the record of the run (a flag, an absent
    /// run counted): a job that applies only on drift must still record
    /// them, or nobody is ever deleted.
    #[must_use]
    pub fn outcome(&self) -> PlanOutcome {
        if self.requires_override() {
            PlanOutcome::ThresholdExceeded
        } else if self.guards.iter().any(Guard::distrusts_input) {
            PlanOutcome::SourceUnsafe
        } else if !self.changes.is_empty()
            || self
                .run_transitions
                .iter()
                .any(|t| !matches!(t, Transition::RecordRun { .. }))
        {
            PlanOutcome::WouldChange
        } else {
            PlanOutcome::NothingToDo
        }
    }

    /// Applies every change's transitions and the run's, as if every change
    /// succeeded (for dry runs and tests; the executor applies only successes).
    pub fn apply_all_transitions(&self, state: &mut SyncState) {
        for change in &self.changes {
            for t in &change.transitions {
                state.apply(t);
            }
        }
        for t in &self.run_transitions {
            state.apply(t);
        }
    }
}
