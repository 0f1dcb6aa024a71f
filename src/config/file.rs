//! The config file's shape: one struct per table, one field per key.
//!
//! Every field is optional in the file (`None` is "the default"); [`Config::with_defaults`]
//! fills in every default, which is what `muster config check` prints. The
//! values are the SDK's own types, so a value is checked where it is read
//! (an address is an [`EmailAddress`], a delay a [`DeleteDelay`]), and its
//! spelling is the one the command line and Python use too.

use std::collections::BTreeMap;
use std::path::PathBuf;

use muster_core::{Domain, EmailAddress, Field, RecipientKind};
use muster_directory::{
    CandidateUse, Delimiter, Direction, Encoding, ExternalMembers, GraphCloud, GuestPolicy,
    HeaderRow, LdapObjects, StandardLayout,
};
use muster_reconcile::{DeleteDelay, FlagAction, HrAction, Mode, UnknownOrigin};
use serde::{Deserialize, Serialize};

/// One organisation's sync: where the gateway is, what to read, what the
/// organisation decided, where muster keeps its files.
///
/// Read one with [`Config::from_file`]; build one in code with
/// [`Config::default`] and its public fields (the CLI turns its flags into
/// one, so a run from flags and a run from a file go through the same code).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// `[gateway]`: the organisation on the gateway and the login.
    #[serde(default)]
    pub gateway: GatewayConfig,
    /// `[[source]]`: the directories, exactly one of them authoritative.
    /// (Read by [`Config::from_file`] table by table, so each kind's keys are
    /// checked against that kind.)
    #[serde(rename = "source", default, skip_deserializing)]
    pub sources: Vec<SourceConfig>,
    /// `[hr]`: HR records for the HR rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hr: Option<HrConfig>,
    /// `[policy]`: what the organisation decided.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// `[files]`: where muster keeps its state and journals.
    #[serde(default)]
    pub files: FilesConfig,
    /// `[signing]`: the key that signs plans and that `apply` checks them with.
    #[serde(default, skip_serializing_if = "SigningConfig::is_empty")]
    pub signing: SigningConfig,
    /// The file this config was read from, to name lines in later errors.
    #[serde(skip)]
    pub(crate) text: Option<std::sync::Arc<super::load::ConfigText>>,
}

/// `[gateway]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GatewayConfig {
    /// The Essentials stack (`us1`, `eu1`, …) or the API's base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// The organisation's primary domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// The administrator muster logs in as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// The environment variable holding the password (default `MUSTER_PASSWORD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// A file holding the password (its first line), instead of the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// The request budget per minute of this login on this stack (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    /// `[gateway.shared_rate_limit]`: spend the login's budget from one
    /// bucket in Redis shared with every other process that uses it (absent:
    /// each process paces itself alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_rate_limit: Option<SharedRateLimitConfig>,
}

/// `[gateway.shared_rate_limit]`: where the shared budget lives. The Redis
/// URL may hold a password, so like every secret it is named, never
/// written: an environment variable or a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SharedRateLimitConfig {
    /// The environment variable holding the Redis URL (default `MUSTER_REDIS_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// A file holding the Redis URL (its first line), instead of the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
}

/// One `[[source]]`: a directory, its stable name and its role.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SourceConfig {
    /// The source's stable identity: the state records the accounts it
    /// brings under this name, so it must not change when a file moves.
    pub name: String,
    /// `authoritative` (exactly one source) or `supplemental` (adds and
    /// updates, never removes).
    pub role: Mode,
    /// What kind of source it is, and its settings.
    #[serde(flatten)]
    pub settings: SourceSettings,
}

impl SourceConfig {
    /// A source named `name` with the given role and settings.
    #[must_use]
    pub fn new(name: impl Into<String>, role: Mode, settings: SourceSettings) -> Self {
        SourceConfig {
            name: name.into(),
            role,
            settings,
        }
    }
}

/// The kinds of `[[source]]` (`kind = "ldap"`, …), each with its own keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SourceSettings {
    /// Active Directory or another LDAP directory.
    Ldap(LdapConfig),
    /// Microsoft Entra ID through Microsoft Graph.
    Graph(GraphConfig),
    /// A Proofpoint Standard CSV.
    Csv(CsvConfig),
    /// A CSV whose columns are named in the config.
    MappedCsv(MappedCsvConfig),
    /// A Postini user export, with its alias export joined in.
    Postini(PostiniConfig),
    /// The SMTP-discovery ledger (`muster discover`).
    Discovery(DiscoveryConfig),
}

impl SourceSettings {
    /// The `kind` keyword.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            SourceSettings::Ldap(_) => "ldap",
            SourceSettings::Graph(_) => "graph",
            SourceSettings::Csv(_) => "csv",
            SourceSettings::MappedCsv(_) => "mapped-csv",
            SourceSettings::Postini(_) => "postini",
            SourceSettings::Discovery(_) => "discovery",
        }
    }

    /// Every `kind` keyword.
    pub const KINDS: &'static str = "ldap, graph, csv, mapped-csv, postini, discovery";
}

/// `kind = "ldap"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LdapConfig {
    /// `ldaps://dc1.example.com`, or `ldap://` with `starttls`.
    pub url: String,
    /// The subtree to read.
    pub base: String,
    /// The account to bind as (anonymous when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_dn: Option<String>,
    /// The environment variable holding the bind password (default `MUSTER_LDAP_PASSWORD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// A file holding the bind password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// The user filter (default: AD's mail-enabled users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Extra `attribute = value` conditions ANDed to the filter (values escaped).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub require: BTreeMap<String, String>,
    /// The group filter (default: the mail-enabled groups of the attribute map's group class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_filter: Option<String>,
    /// `users`, `groups` or `both` (default `users`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<LdapObjects>,
    /// Upgrade `ldap://` with StartTLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starttls: Option<bool>,
    /// Allow `ldap://` without TLS (passwords cross the network readable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_plaintext: Option<bool>,
    /// Also trust the CA certificates in this PEM file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Trust only `ca_file`'s CAs, not this machine's store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_only: Option<bool>,
    /// Entries per page (default 1000, AD's MaxPageSize).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u16>,
    /// Seconds before a request is given up (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// `[source.attributes]`: `preset = "active_directory"` (default) or
    /// `"inet_org_person"`, and any attribute of the map by its field name
    /// (`mail`, `first_name`, `notes`, `group_class`, …); an empty string
    /// unmaps an optional one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// `kind = "graph"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GraphConfig {
    /// The tenant id or `contoso.onmicrosoft.com`.
    pub tenant: String,
    /// The app registration's client id.
    pub client_id: String,
    /// The environment variable holding the client secret (default `MUSTER_GRAPH_SECRET`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// A file holding the client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// An OData `$filter` for `/users`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Extra `property = value` conditions ANDed to the filter (values quoted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub require: BTreeMap<String, String>,
    /// Send Graph's advanced-query header and `$count` with the filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced_query: Option<bool>,
    /// Read these groups' members too (group object ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Read the tenant's mail-enabled groups as recipients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_groups: Option<bool>,
    /// `skip` (default) or `contact`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guests: Option<GuestPolicy>,
    /// Read `accountEnabled` (off by default: shared mailboxes are disabled users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_account_enabled: Option<bool>,
    /// Read incrementally from the delta cursor kept in this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<PathBuf>,
    /// The national cloud: `global` (default), `us_government`,
    /// `us_government_dod` or `china` (its authority and Graph URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<GraphCloud>,
    /// The token scope, for unusual deployments (default: the Graph URL's
    /// origin + `/.default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// B2B external members (`#EXT#`, userType Member): `sync` (default,
    /// counted in the plan) or `skip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_members: Option<ExternalMembers>,
    /// The token authority (overrides the cloud's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// The Graph base URL with its version (overrides the cloud's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_url: Option<String>,
    /// Retries of one request (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// The longest `Retry-After` waited, in seconds (default 300); Graph
    /// asking for longer ends the read with an error that says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_after_seconds: Option<u64>,
    /// Seconds before a request is given up (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

/// `kind = "csv"`: a Proofpoint Standard CSV.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CsvConfig {
    /// The file (relative to the config file's folder).
    pub path: PathBuf,
    /// `auto`, `current` (with Mobile) or `legacy` (before October 2021).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<StandardLayout>,
    /// `auto`, `present` or `absent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<HeaderRow>,
    /// `auto`, `utf-8` or `windows-1252`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    /// `auto`, `comma`, `semicolon` or `tab`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<Delimiter>,
}

/// `kind = "mapped-csv"`: a CSV with a header row, its columns named here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MappedCsvConfig {
    /// The file.
    pub path: PathBuf,
    /// The primary-address column.
    pub primary: String,
    /// `field = "Header"` (or a list of headers for `aliases`): required columns.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<Field, Headers>,
    /// Like `columns`, but a missing column only means the field is not provided.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub optional_columns: BTreeMap<Field, Headers>,
    /// `field = ";"`: cells of that field hold several values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub separators: BTreeMap<Field, char>,
    /// `auto`, `utf-8` or `windows-1252`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    /// `auto`, `comma`, `semicolon` or `tab`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<Delimiter>,
}

/// One column header, or several (`aliases = ["Alias 1", "Alias 2"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Headers {
    /// One column.
    One(String),
    /// Several columns (aliases).
    Many(Vec<String>),
}

impl Headers {
    /// The headers, in order.
    #[must_use]
    pub fn names(&self) -> &[String] {
        match self {
            Headers::One(h) => std::slice::from_ref(h),
            Headers::Many(hs) => hs,
        }
    }
}

/// `kind = "postini"`: a Postini user export and, optionally, its alias export.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PostiniConfig {
    /// The user export.
    pub users: PathBuf,
    /// The alias export, joined to the users by user id or address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aliases: Option<PathBuf>,
    /// Renamed user-export columns: `primary`, or a field (`first_name = "First"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_columns: BTreeMap<String, String>,
    /// Renamed alias-export columns: `address`, `domain`, `user_id`, `user_address`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alias_columns: BTreeMap<String, String>,
    /// `auto`, `utf-8` or `windows-1252`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    /// `auto`, `comma`, `semicolon` or `tab`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<Delimiter>,
}

/// `kind = "discovery"`: addresses seen often enough in mail flow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DiscoveryConfig {
    /// The ledger `muster discover` keeps.
    pub ledger: PathBuf,
    /// Counted messages within the window that make a candidate (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_messages: Option<u64>,
    /// The window, in days (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_days: Option<u32>,
    /// Forget addresses not seen for this many days (default 90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_days: Option<u32>,
    /// Which directions count (default `["inbound"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directions: Option<Vec<Direction>>,
    /// Address patterns never made users (replaces the default list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<Vec<String>>,
    /// `create_users` (default) or `report_only`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<CandidateUse>,
}

/// `[hr]`: HR records for the HR rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HrConfig {
    /// The HR CSV.
    pub path: PathBuf,
    /// What happens to an end user absent from HR or terminated there:
    /// `functional_account` or `flag`. Required: no default.
    pub action: HrAction,
    /// Accounts the rule never touches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<EmailAddress>,
    /// The address column (default `email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_column: Option<String>,
    /// The status column (default `status`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_column: Option<String>,
    /// `"Garden leave" = "leave"`: the organisation's own status words.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub statuses: BTreeMap<String, StatusWord>,
    /// `auto`, `utf-8` or `windows-1252`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    /// `auto`, `comma`, `semicolon` or `tab`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<Delimiter>,
}

impl HrConfig {
    /// HR records in `path`, acted on by `action`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>, action: HrAction) -> Self {
        HrConfig {
            path: path.into(),
            action,
            allow: Vec::new(),
            email_column: None,
            status_column: None,
            statuses: BTreeMap::new(),
            encoding: None,
            delimiter: None,
        }
    }
}

/// The role of a new user mailbox (the vendor's "Default New User Role").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NewUserRole {
    /// Gets a welcome letter (when the organisation sends them).
    EndUser,
    /// Gets no welcome letter; can be made an end user later.
    SilentUser,
}

muster_core::keywords!(NewUserRole, "new user role", {
    EndUser => "end_user",
    SilentUser => "silent_user",
});

/// What a recipient kind becomes (`[policy.kinds]`): a gateway type, or not synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KindRule {
    /// Created as an end user (user mailboxes: the new user role decides).
    EndUser,
    /// Created as a silent user.
    SilentUser,
    /// Created as a functional account.
    FunctionalAccount,
    /// Not synced.
    Skip,
}

muster_core::keywords!(KindRule, "kind rule", {
    EndUser => "end_user",
    SilentUser => "silent_user",
    FunctionalAccount => "functional_account",
    Skip => "skip",
});

/// An employment status an organisation's own status word maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusWord {
    /// Employed.
    Active,
    /// Employment ended.
    Terminated,
    /// Away, still a person with a mailbox.
    Leave,
}

muster_core::keywords!(StatusWord, "employment status", {
    Active => "active",
    Terminated => "terminated",
    Leave => "leave",
});

/// `[policy]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PolicyConfig {
    /// The domains muster manages (default: the organisation's domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_domains: Option<Vec<Domain>>,
    /// `authoritative` (default) or `supplemental` for the whole sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// `end_user` (default: each new user gets a welcome letter) or `silent_user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_user_role: Option<NewUserRole>,
    /// Whether new end users get a welcome letter at all (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welcome_letters: Option<bool>,
    /// `7d` (default), `14d`, `30d` or `never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_delay: Option<DeleteDelay>,
    /// Consecutive absent runs before a deletion (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_absent_runs: Option<u32>,
    /// `keep` (default: mail flows during the delay) or `deactivate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_flag: Option<FlagAction>,
    /// Accounts a sync never touches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exceptions: Option<Vec<EmailAddress>>,
    /// `[[policy.additions]]`: entries always included, as if the
    /// authoritative directory listed them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additions: Option<Vec<AdditionConfig>>,
    /// Also sync users whose directory account is disabled (created inactive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_disabled_users: Option<bool>,
    /// `[policy.kinds]`: `shared_mailbox = "functional_account"`, `contact = "skip"`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<BTreeMap<RecipientKind, KindRule>>,
    /// `list_unmatched` (default) or `flag_unmatched`: accounts that existed before muster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_origin: Option<UnknownOrigin>,
    /// `{ count = 25, percent = 10 }`: destructive changes above it need an override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<ThresholdConfig>,
    /// `{ count = 500, percent = 25 }`: creates above both (at least `count`,
    /// or `percent` % more accounts) need an override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_limit: Option<ThresholdConfig>,
    /// The fields muster owns (default: names, aliases, phones, company, department, notes, groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_fields: Option<Vec<Field>>,
    /// Creates per bulk request, where the gateway has bulk create (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_size: Option<usize>,
    /// Unreadable records hold deletions (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_deletions_for_unread_records: Option<bool>,
}

/// `threshold = { count = 25, percent = 10 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ThresholdConfig {
    /// At most this many destructive changes…
    pub count: usize,
    /// …and at most this percentage of the current accounts.
    pub percent: u32,
}

impl ThresholdConfig {
    /// At most `count` destructive changes and `percent` % of the current accounts.
    #[must_use]
    pub fn new(count: usize, percent: u32) -> Self {
        ThresholdConfig { count, percent }
    }
}

/// One `[[policy.additions]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AdditionConfig {
    /// The primary address.
    pub email: EmailAddress,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Secondary addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<EmailAddress>,
    /// The recipient kind (default `user_mailbox`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<RecipientKind>,
}

/// `[files]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FilesConfig {
    /// muster's state (ownership, flags), read by `plan` and written by `apply`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<PathBuf>,
    /// A folder for apply journals, one per plan (named by its fingerprint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journals: Option<PathBuf>,
}

/// `[signing]`: where the plan-signing key is (never the key itself). With
/// a key, `plan` signs the plans it writes and `apply` refuses any plan not
/// signed with it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SigningConfig {
    /// The environment variable holding the key (default `MUSTER_PLAN_KEY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_env: Option<String>,
    /// A file holding the key (at least 32 bytes; a final newline is not part of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
}

impl SigningConfig {
    fn is_empty(&self) -> bool {
        self.key_env.is_none() && self.key_file.is_none()
    }
}
