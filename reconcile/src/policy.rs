//! What the organisation wants a sync to do: [`Policy`] and its builder.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use muster_core::{
    DirectoryEntry, Domain, EmailAddress, Field, FieldSet, RecipientKind, UserType, keywords,
};
use serde::{Deserialize, Serialize};

/// Whether the directory is the system of truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// The directory is the truth: absent users go through the deletion lifecycle.
    Authoritative,
    /// The directory only adds and updates; nothing is flagged or deleted.
    Supplemental,
}

keywords!(Mode, "mode (or source role)", {
    Authoritative => "authoritative",
    Supplemental => "supplemental",
});

/// How long a flagged user waits before deletion (the vendors' "Delete users after").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeleteDelay {
    /// 7 days.
    Days7,
    /// 14 days.
    Days14,
    /// 30 days.
    Days30,
    /// Flag, but never delete.
    Never,
}

keywords!(DeleteDelay, "delete delay", {
    Days7 => "7d",
    Days14 => "14d",
    Days30 => "30d",
    Never => "never",
});

impl DeleteDelay {
    /// The delay, or `None` for [`DeleteDelay::Never`].
    #[must_use]
    pub fn duration(self) -> Option<Duration> {
        match self {
            DeleteDelay::Days7 => Some(Duration::days(7)),
            DeleteDelay::Days14 => Some(Duration::days(14)),
            DeleteDelay::Days30 => Some(Duration::days(30)),
            DeleteDelay::Never => None,
        }
    }

    /// Short text for reasons: `7 days`, `never`.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            DeleteDelay::Days7 => "7 days",
            DeleteDelay::Days14 => "14 days",
            DeleteDelay::Days30 => "30 days",
            DeleteDelay::Never => "never",
        }
    }
}

/// What happens to an account when it is flagged for deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlagAction {
    /// Only record the flag (default): mail keeps flowing during the delay.
    RecordOnly,
    /// Also deactivate the account (muster reactivates it if the user comes back).
    Deactivate,
}

keywords!(FlagAction, "flag action", {
    RecordOnly => "keep",
    Deactivate => "deactivate",
});

/// What to do with accounts that existed before muster (origin unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnknownOrigin {
    /// Adopt the ones the directory matches; list the rest as conflicts, never flag them (default).
    AdoptMatchedListRest,
    /// Adopt the matched ones and put the rest through the deletion lifecycle.
    AdoptMatchedFlagRest,
}

keywords!(UnknownOrigin, "unknown-origin rule", {
    AdoptMatchedListRest => "list_unmatched",
    AdoptMatchedFlagRest => "flag_unmatched",
});

/// What the HR rule does to a user absent from HR or terminated there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HrAction {
    /// Make the account a functional account (it stops using a licence, mail keeps flowing).
    MakeFunctional,
    /// Flag it for deletion, like a user absent from the directory.
    Flag,
}

keywords!(HrAction, "HR action", {
    MakeFunctional => "functional_account",
    Flag => "flag",
});

/// The HR rule (seed 002): end users who are not employed stop using licences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HrRule {
    /// What to do with them.
    pub action: HrAction,
    /// Accounts the rule never touches (service mailboxes with a person's type, executives' assistants…).
    pub allowlist: BTreeSet<EmailAddress>,
}

impl HrRule {
    /// A rule with an empty allowlist.
    #[must_use]
    pub fn new(action: HrAction) -> Self {
        HrRule {
            action,
            allowlist: BTreeSet::new(),
        }
    }

    /// Adds addresses the rule never touches.
    #[must_use]
    pub fn allow(mut self, addresses: impl IntoIterator<Item = EmailAddress>) -> Self {
        self.allowlist.extend(addresses);
        self
    }
}

/// The destructive-change threshold: above it a plan needs an explicit override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Threshold {
    /// At most this many destructive changes…
    pub max_count: usize,
    /// …and at most this percentage of the current accounts.
    pub max_percent: u32,
}

impl Threshold {
    /// How many destructive changes are allowed when the gateway has
    /// `current` accounts: the smaller of the count and the percentage,
    /// rounded *up*, so that an organisation of any size can change one
    /// account (10 % of 9 accounts allows 1, not 0).
    ///
    /// ```
    /// use muster_reconcile::Policy;
    /// let t = Policy::default().threshold(); // 25 accounts or 10 %
    /// let allowed: Vec<usize> = [1, 9, 10, 100, 10_000].map(|n| t.allowed(n)).to_vec();
    /// assert_eq!(allowed, [1, 1, 1, 10, 25]);
    /// ```
    #[must_use]
    pub fn allowed(self, current: usize) -> usize {
        let by_percent = current
            .saturating_mul(self.max_percent as usize)
            .div_ceil(100);
        self.max_count.min(by_percent)
    }

    /// How many accounts may disappear from the gateway between two runs
    /// before the planner suspects the listing (the percentage rounded
    /// *down*): a listing that lost 2 of 9 accounts is suspect, whatever the
    /// threshold lets a plan do on purpose.
    #[must_use]
    pub fn shrink_allowed(self, previous: usize) -> usize {
        let by_percent = previous.saturating_mul(self.max_percent as usize) / 100;
        self.max_count.min(by_percent)
    }
}

/// The limit on creates in one plan: above it a plan needs the same explicit
/// override as one over the destructive threshold. A wrong base DN or filter
/// can make a whole forest look new: 50,000 billable users and 50,000
/// welcome letters to real people.
///
/// Allowed is the *larger* of the count and the percentage of the current
/// accounts (rounded up): the defaults (500, 25 %) let a first onboarding
/// of up to 500 people through, and an organisation of 10,000 grow by
/// 2,500; a bigger first onboarding is reviewed once and overridden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateLimit {
    /// At least this many creates are allowed…
    pub min_count: usize,
    /// …or this percentage of the current accounts, if more.
    pub percent: u32,
}

impl CreateLimit {
    /// How many creates are allowed when the gateway has `current` accounts.
    ///
    /// ```
    /// use muster_reconcile::Policy;
    /// let c = Policy::default().create_limit(); // 500, or 25 %
    /// assert_eq!(c.allowed(1), 500);
    /// assert_eq!(c.allowed(10_000), 2_500);
    /// ```
    #[must_use]
    pub fn allowed(self, current: usize) -> usize {
        let by_percent = current.saturating_mul(self.percent as usize).div_ceil(100);
        self.min_count.max(by_percent)
    }
}

/// Everything the organisation decides about a sync.
///
/// The defaults are the safe ones: authoritative mode, end users get a
/// welcome letter, flags are only recorded, deletion after 7 days *and* 3
/// consecutive absent runs (held while the source has unreadable records),
/// destructive threshold 25 accounts or 10 % (rounded up), at most 500
/// creates or 25 % more accounts, unknown-origin accounts adopted when
/// matched and otherwise only listed.
///
/// ```
/// use muster_reconcile::{DeleteDelay, Policy};
/// let policy = Policy::builder()
///     .managed_domain("example.com".parse()?)
///     .delete_delay(DeleteDelay::Days14)
///     .min_absent_runs(2)
///     .build();
/// assert_eq!(policy.delete_delay(), DeleteDelay::Days14);
/// # Ok::<(), muster_core::AddressError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Policy {
    pub(crate) managed_domains: BTreeSet<Domain>,
    pub(crate) mode: Mode,
    pub(crate) default_user_type: UserType,
    pub(crate) welcome_letters: bool,
    pub(crate) delete_delay: DeleteDelay,
    pub(crate) min_absent_runs: u32,
    pub(crate) flag_action: FlagAction,
    pub(crate) exceptions: BTreeSet<EmailAddress>,
    /// The state's exemptions, set by `plan()` for one plan (never saved
    /// with the policy: they belong to muster's state).
    #[serde(skip)]
    pub(crate) exempted: BTreeSet<EmailAddress>,
    pub(crate) additions: Vec<DirectoryEntry>,
    pub(crate) sync_disabled_users: bool,
    pub(crate) kinds: BTreeMap<RecipientKind, UserType>,
    pub(crate) unknown_origin: UnknownOrigin,
    pub(crate) threshold: Threshold,
    #[serde(default = "default_create_limit")]
    pub(crate) create_limit: CreateLimit,
    pub(crate) threshold_override: bool,
    pub(crate) hr_rule: Option<HrRule>,
    pub(crate) owned_fields: FieldSet,
    pub(crate) bulk_size: usize,
    #[serde(default = "hold_by_default")]
    pub(crate) hold_deletions_for_unread_records: bool,
}

/// The create limit of a policy saved before it existed: the default.
fn default_create_limit() -> CreateLimit {
    CreateLimit {
        min_count: 500,
        percent: 25,
    }
}

/// A policy saved before the option existed holds deletions too.
fn hold_by_default() -> bool {
    true
}

impl Default for Policy {
    fn default() -> Self {
        let functional = [
            RecipientKind::SharedMailbox,
            RecipientKind::RoomMailbox,
            RecipientKind::DistributionGroup,
            RecipientKind::SecurityGroup,
            RecipientKind::PublicFolder,
        ];
        let mut kinds: BTreeMap<RecipientKind, UserType> = functional
            .into_iter()
            .map(|k| (k, UserType::FunctionalAccount))
            .collect();
        kinds.insert(RecipientKind::UserMailbox, UserType::EndUser);
        Policy {
            managed_domains: BTreeSet::new(),
            mode: Mode::Authoritative,
            default_user_type: UserType::EndUser,
            welcome_letters: true,
            delete_delay: DeleteDelay::Days7,
            min_absent_runs: 3,
            flag_action: FlagAction::RecordOnly,
            exceptions: BTreeSet::new(),
            exempted: BTreeSet::new(),
            additions: Vec::new(),
            sync_disabled_users: false,
            kinds,
            unknown_origin: UnknownOrigin::AdoptMatchedListRest,
            threshold: Threshold {
                max_count: 25,
                max_percent: 10,
            },
            create_limit: default_create_limit(),
            threshold_override: false,
            hr_rule: None,
            owned_fields: FieldSet::all()
                .without(Field::AllowSenders)
                .without(Field::BlockSenders)
                .without(Field::Enabled)
                .without(Field::ExternalId)
                .without(Field::Kind),
            bulk_size: 200,
            hold_deletions_for_unread_records: true,
        }
    }
}

impl Policy {
    /// A builder starting from the safe defaults.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder(Policy::default())
    }

    /// The managed domains.
    #[must_use]
    pub fn managed_domains(&self) -> &BTreeSet<Domain> {
        &self.managed_domains
    }

    /// The deletion delay.
    #[must_use]
    pub fn delete_delay(&self) -> DeleteDelay {
        self.delete_delay
    }

    /// The mode.
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The destructive-change threshold.
    #[must_use]
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }

    /// The limit on creates in one plan.
    #[must_use]
    pub fn create_limit(&self) -> CreateLimit {
        self.create_limit
    }

    /// The fields muster owns.
    #[must_use]
    pub fn owned_fields(&self) -> FieldSet {
        self.owned_fields
    }

    /// The type new user mailboxes get (end user, or silent user: no welcome letter).
    #[must_use]
    pub fn default_user_type(&self) -> &UserType {
        &self.default_user_type
    }

    /// Whether new end users get a welcome letter (the organisation must allow them too).
    #[must_use]
    pub fn welcome_letters(&self) -> bool {
        self.welcome_letters
    }

    /// The consecutive absent runs an account needs before deletion.
    #[must_use]
    pub fn min_absent_runs(&self) -> u32 {
        self.min_absent_runs
    }

    /// What flagging does.
    #[must_use]
    pub fn flag_action(&self) -> FlagAction {
        self.flag_action
    }

    /// Accounts a sync never touches.
    #[must_use]
    pub fn exceptions(&self) -> &BTreeSet<EmailAddress> {
        &self.exceptions
    }

    /// Entries always included, as if the authoritative directory listed them.
    #[must_use]
    pub fn additions(&self) -> &[DirectoryEntry] {
        &self.additions
    }

    /// Whether disabled user mailboxes are synced.
    #[must_use]
    pub fn sync_disabled_users(&self) -> bool {
        self.sync_disabled_users
    }

    /// The recipient kinds synced, and the type each is created with (user
    /// mailboxes get [`Policy::default_user_type`]).
    #[must_use]
    pub fn kinds(&self) -> &BTreeMap<RecipientKind, UserType> {
        &self.kinds
    }

    /// What happens to accounts of unknown origin.
    #[must_use]
    pub fn unknown_origin(&self) -> UnknownOrigin {
        self.unknown_origin
    }

    /// Whether the administrator overrode the threshold for this run.
    #[must_use]
    pub fn threshold_overridden(&self) -> bool {
        self.threshold_override
    }

    /// The HR rule, when it is on.
    #[must_use]
    pub fn hr_rule(&self) -> Option<&HrRule> {
        self.hr_rule.as_ref()
    }

    /// How many creates go in one bulk request.
    #[must_use]
    pub fn bulk_size(&self) -> usize {
        self.bulk_size
    }

    /// Whether records the authoritative source could not read hold deletions.
    #[must_use]
    pub fn holds_deletions_for_unread_records(&self) -> bool {
        self.hold_deletions_for_unread_records
    }

    /// A builder starting from this policy (to change a few settings of one
    /// read from a config file, say).
    pub fn into_builder(self) -> PolicyBuilder {
        PolicyBuilder(self)
    }

    /// The gateway type a new account of `kind` gets, or `None` when the kind is not synced.
    pub(crate) fn type_for(&self, kind: RecipientKind) -> Option<&UserType> {
        if kind == RecipientKind::UserMailbox {
            return self
                .kinds
                .contains_key(&kind)
                .then_some(&self.default_user_type);
        }
        self.kinds.get(&kind)
    }
}

/// Builds a [`Policy`]; every setter takes `self` and starts from the safe defaults.
#[derive(Debug, Clone)]
#[must_use]
pub struct PolicyBuilder(Policy);

impl PolicyBuilder {
    /// Adds a managed domain. It must also be registered on the gateway, or `plan` refuses.
    pub fn managed_domain(mut self, domain: Domain) -> Self {
        self.0.managed_domains.insert(domain);
        self
    }

    /// Authoritative (default) or supplemental.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.0.mode = mode;
        self
    }

    /// The type of new user mailboxes (default end user; silent users get no welcome letter).
    pub fn default_user_type(mut self, user_type: UserType) -> Self {
        self.0.default_user_type = user_type;
        self
    }

    /// Whether new end users get a welcome letter (default yes; letters go to real people).
    pub fn welcome_letters(mut self, send: bool) -> Self {
        self.0.welcome_letters = send;
        self
    }

    /// The deletion delay (default 7 days).
    pub fn delete_delay(mut self, delay: DeleteDelay) -> Self {
        self.0.delete_delay = delay;
        self
    }

    /// The minimum number of consecutive runs an account must be absent before deletion (default 3, at least 1).
    pub fn min_absent_runs(mut self, runs: u32) -> Self {
        self.0.min_absent_runs = runs.max(1);
        self
    }

    /// What flagging does (default: record only).
    pub fn flag_action(mut self, action: FlagAction) -> Self {
        self.0.flag_action = action;
        self
    }

    /// Accounts a sync never touches.
    pub fn exception(mut self, address: EmailAddress) -> Self {
        self.0.exceptions.insert(address);
        self
    }

    /// An entry always included, as if the authoritative directory listed it.
    pub fn addition(mut self, entry: DirectoryEntry) -> Self {
        self.0.additions.push(entry);
        self
    }

    /// Whether disabled user mailboxes are synced (default no: a disabled person is absent).
    pub fn sync_disabled_users(mut self, sync: bool) -> Self {
        self.0.sync_disabled_users = sync;
        self
    }

    /// Syncs recipients of `kind`, creating them with `user_type` (user mailboxes use the default user type).
    pub fn sync_kind(mut self, kind: RecipientKind, user_type: UserType) -> Self {
        self.0.kinds.insert(kind, user_type);
        self
    }

    /// Stops syncing recipients of `kind`.
    pub fn skip_kind(mut self, kind: RecipientKind) -> Self {
        self.0.kinds.remove(&kind);
        self
    }

    /// What to do with accounts of unknown origin.
    pub fn unknown_origin(mut self, rule: UnknownOrigin) -> Self {
        self.0.unknown_origin = rule;
        self
    }

    /// The destructive-change threshold: `max_count` changes and `max_percent` % of current accounts.
    pub fn threshold(mut self, max_count: usize, max_percent: u32) -> Self {
        self.0.threshold = Threshold {
            max_count,
            max_percent,
        };
        self
    }

    /// The limit on creates: at least `min_count`, or `percent` % of the
    /// current accounts if more (default 500 or 25 %).
    pub fn create_limit(mut self, min_count: usize, percent: u32) -> Self {
        self.0.create_limit = CreateLimit { min_count, percent };
        self
    }

    /// The explicit override an administrator gives after reviewing a plan
    /// that trips the destructive threshold, the create limit or the
    /// licence count.
    pub fn override_threshold(mut self, allow: bool) -> Self {
        self.0.threshold_override = allow;
        self
    }

    /// Turns on the HR rule.
    pub fn hr_rule(mut self, rule: HrRule) -> Self {
        self.0.hr_rule = Some(rule);
        self
    }

    /// The fields muster owns (default: names, aliases, phones, company, department, notes, groups).
    pub fn owned_fields(mut self, fields: FieldSet) -> Self {
        self.0.owned_fields = fields;
        self
    }

    /// How many creates go in one bulk request when the gateway supports it (default 200).
    pub fn bulk_size(mut self, size: usize) -> Self {
        self.0.bulk_size = size.max(1);
        self
    }

    /// Whether records the authoritative source could not read hold
    /// deletions and deactivations (default yes: a typo in one row would
    /// otherwise make that person look absent and, after the delay, delete
    /// their account). Absent accounts are still flagged either way.
    pub fn hold_deletions_for_unread_records(mut self, hold: bool) -> Self {
        self.0.hold_deletions_for_unread_records = hold;
        self
    }

    /// The policy.
    #[must_use]
    pub fn build(self) -> Policy {
        self.0
    }
}
