//! The command line, as clap reads it.

use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand, ValueEnum};
use muster::config::NewUserRole;
use muster::core::{Domain, EmailAddress, UnknownValue};
use muster::reconcile::{DeleteDelay, FlagAction, HrAction, UnknownOrigin};

/// Keep a mail gateway's users in step with your directories — and see every
/// change before it happens.
#[derive(Debug, Parser)]
#[command(
    name = "muster",
    version,
    about,
    long_about = None,
    after_help = crate::exit::HELP
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Preview a sync against a local gateway emulator, apply it there, plan again (nothing to set up).
    Demo(DemoArgs),
    /// Read the directory and the gateway, and print what a sync would change.
    Plan(Box<PlanArgs>),
    /// Apply a saved plan (`plan --save plan.json`) to the gateway, or the part of it approved.
    Apply(ApplyArgs),
    /// Show a saved plan as `plan` showed it (text, json or csv), with what it is for and its threshold.
    Show(ShowArgs),
    /// Write an approval file for part of a saved plan (signed with the plan key, when there is one).
    Approve(ApproveArgs),
    /// Add a mail-flow log to the SMTP-discovery ledger and list the candidates.
    Discover(DiscoverArgs),
    /// Write the gateway's users as a Standard CSV: a backup before a sync, or a start for one.
    Export(ExportArgs),
    /// Run a local gateway emulator until interrupted.
    Emulator(EmulatorArgs),
    /// Check a config file: print every setting it resolves to, defaults filled in.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Act on the User Conflicts list: list, ignore, unignore, delete now, deactivate, export.
    #[command(subcommand)]
    Conflicts(Box<ConflictsCommand>),
    /// Exempt an account from sync (kept in muster's state): never created, changed or deleted.
    Exempt(ExemptArgs),
    /// End an account's exemption: the next plan syncs it again.
    Unexempt(UnexemptArgs),
    /// Plan putting back accounts an apply deleted or stripped, from the journal's before-images.
    Restore(RestoreArgs),
    /// Write a commented starter config for an Active Directory, Entra ID or CSV sync.
    Init(InitArgs),
    /// Plan or apply many organisations in one process: one config file each, one line each, the worst exit code.
    #[command(subcommand)]
    Fleet(FleetCommand),
}

/// `muster fleet plan|apply`.
#[derive(Debug, Subcommand)]
pub(crate) enum FleetCommand {
    /// `muster plan` for each organisation, saved for review beside its config (`<name>.plan.json`).
    Plan(FleetArgs),
    /// `muster apply` of each organisation's saved, reviewed plan (`<name>.plan.json`); never a new one.
    Apply(FleetArgs),
}

/// The organisations of a fleet and how many run at once.
#[derive(Debug, Args)]
pub(crate) struct FleetArgs {
    /// The organisations' config files: files, folders (their `*.toml`) or
    /// patterns (`orgs/*.toml`). Each is an ordinary per-organisation config.
    #[arg(value_name = "CONFIG|DIR", required = true)]
    pub(crate) configs: Vec<PathBuf>,
    /// How many organisations run at once. Those of one login share its
    /// request budget whatever this is.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) concurrency: u16,
    /// How to report the organisations' runs.
    #[arg(long, value_enum, default_value_t = FleetFormat::Text)]
    pub(crate) format: FleetFormat,
}

/// `fleet --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FleetFormat {
    /// A line per organisation as it finishes, then a table.
    Text,
    /// One JSON document: an object per organisation with its code (the lines go to stderr).
    Json,
}

/// `muster config …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print the resolved settings (every default filled in), or the first problem.
    Check(ConfigCheckArgs),
}

/// muster's state, for the commands that change only it: the config (or
/// `--stack`/`--org`) says whose state it is, `--state` where it is.
#[derive(Debug, Args)]
pub(crate) struct StateArgs {
    #[command(flatten)]
    pub(crate) gateway: GatewayArgs,
    /// muster's state (default: the config's `files.state`); created when missing.
    #[arg(long, value_name = "FILE")]
    pub(crate) state: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ExemptArgs {
    /// The account's primary address.
    #[arg(value_name = "ADDRESS")]
    pub(crate) address: EmailAddress,
    /// Why, for whoever reads the next plan.
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: Option<String>,
    #[command(flatten)]
    pub(crate) state: StateArgs,
}

#[derive(Debug, Args)]
pub(crate) struct UnexemptArgs {
    /// The account's primary address.
    #[arg(value_name = "ADDRESS")]
    pub(crate) address: EmailAddress,
    #[command(flatten)]
    pub(crate) state: StateArgs,
}

/// What `plan` reads: the gateway, the sources, the policy and the state.
#[derive(Debug, Default, Args)]
pub(crate) struct PlanInputArgs {
    #[command(flatten)]
    pub(crate) gateway: GatewayArgs,
    #[command(flatten)]
    pub(crate) sources: SourceArgs,
    #[command(flatten)]
    pub(crate) policy: PolicyArgs,
    /// muster's state from earlier runs (default: the config's `files.state`).
    #[arg(long, value_name = "FILE")]
    pub(crate) state: Option<PathBuf>,
}

/// `muster conflicts …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConflictsCommand {
    /// List the conflicts of a fresh plan (or of a saved one, `--plan`).
    List(ConflictsListArgs),
    /// Keep these accounts although absent ("Ignore"): recorded in the state.
    Ignore(ConflictsStateArgs),
    /// Undo "Ignore": the accounts follow the deletion lifecycle again.
    Unignore(ConflictsStateArgs),
    /// Plan deleting these conflicts now (afresh, every guard applies); saved for show and apply.
    DeleteNow(ConflictActionArgs),
    /// Plan deactivating these conflicts (afresh, every guard applies); saved for show and apply.
    Deactivate(ConflictActionArgs),
    /// Write the conflicts list as CSV.
    Export(ConflictsExportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ConflictsListArgs {
    /// Read the conflicts of this saved plan instead of planning afresh.
    #[arg(long, value_name = "PLAN")]
    pub(crate) plan: Option<PathBuf>,
    /// text, json or csv.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    #[command(flatten)]
    pub(crate) inputs: PlanInputArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ConflictsExportArgs {
    /// The CSV file to write.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Read the conflicts of this saved plan instead of planning afresh.
    #[arg(long, value_name = "PLAN")]
    pub(crate) plan: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) inputs: PlanInputArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ConflictsStateArgs {
    /// The accounts' primary addresses.
    #[arg(value_name = "ADDRESS", required = true)]
    pub(crate) addresses: Vec<EmailAddress>,
    #[command(flatten)]
    pub(crate) state: StateArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ConflictActionArgs {
    /// The accounts' primary addresses: each must be a conflict of the fresh plan.
    #[arg(value_name = "ADDRESS", required = true)]
    pub(crate) addresses: Vec<EmailAddress>,
    /// Also act on accounts muster does not own (they existed before muster).
    #[arg(long)]
    pub(crate) include_unowned: bool,
    #[command(flatten)]
    pub(crate) out: ReviewPlanArgs,
    #[command(flatten)]
    pub(crate) inputs: PlanInputArgs,
}

/// Where a command that makes a plan for review (a conflict action, a
/// restore) saves it, how it prints it, and the key that signs it.
#[derive(Debug, Args)]
pub(crate) struct ReviewPlanArgs {
    /// Save the plan here, for `show` and `apply`.
    #[arg(long, value_name = "FILE")]
    pub(crate) save: PathBuf,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Sign the plan with the key in this file (else `[signing]`, else `MUSTER_PLAN_KEY`).
    #[arg(long, value_name = "FILE")]
    pub(crate) plan_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The journal of the apply to undo; its before-images sit next to it.
    #[arg(long, value_name = "FILE")]
    pub(crate) journal: PathBuf,
    /// Only these accounts (default: every account the journal saved).
    #[arg(value_name = "ADDRESS")]
    pub(crate) addresses: Vec<EmailAddress>,
    #[command(flatten)]
    pub(crate) out: ReviewPlanArgs,
    #[command(flatten)]
    pub(crate) state: StateArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ConfigCheckArgs {
    /// The config file.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: PathBuf,
    /// Also bind to LDAP, fetch a Graph token and read the gateway's
    /// organisation (are the managed domains registered?). Reads only.
    #[arg(long)]
    pub(crate) connect: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Which kind of sync the starter config is for.
    #[arg(value_enum)]
    pub(crate) kind: InitKind,
    /// Write it here (refused when the file exists) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

/// `muster init ad|entra|csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum InitKind {
    /// Active Directory (LDAP) as the authoritative source.
    Ad,
    /// Microsoft Entra ID (Graph) as the authoritative source.
    Entra,
    /// A Standard CSV, with HR records for the functional-account rule.
    Csv,
}

#[derive(Debug, Default, Args)]
pub(crate) struct ApplyArgs {
    #[command(flatten)]
    pub(crate) gateway: GatewayArgs,
    /// The plan to apply, as `muster plan --format json` wrote it.
    #[arg(long, value_name = "FILE")]
    pub(crate) plan: PathBuf,
    /// muster's state, as the plan was made with it; the new state is written back here
    /// (default: the config's `files.state`).
    /// Required unless --dry-run: without it muster would forget what it owns.
    #[arg(long, value_name = "FILE")]
    pub(crate) state: Option<PathBuf>,
    /// Record every outcome here as it happens; running the same command
    /// again after a crash resumes without sending anything twice (default:
    /// `<fingerprint>.journal` in the config's `files.journals` folder).
    #[arg(long, value_name = "FILE")]
    pub(crate) journal: Option<PathBuf>,
    /// Check every change against the gateway and show the requests, without writing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Apply at most this many changes now; run again (same journal) for the rest.
    #[arg(long, value_name = "N")]
    pub(crate) max_changes: Option<usize>,
    /// How many changes may be in flight at once (default 4; never two on
    /// one account). The rate limit paces the requests whatever this is.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) concurrency: Option<u16>,
    /// Approve a plan that trips the threshold, the create limit or the
    /// licence count, after reading it.
    #[arg(long)]
    pub(crate) override_threshold: bool,
    #[command(flatten)]
    pub(crate) selection: SelectionArgs,
    /// Print the report as one JSON document instead of text.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub(crate) format: ReportFormat,
    /// Apply only a plan signed with the key in this file (else the
    /// config's `[signing]`, else `MUSTER_PLAN_KEY` when set); with no key,
    /// a signed plan is refused.
    #[arg(long, value_name = "FILE")]
    pub(crate) plan_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The saved plan (`plan --save`, or `plan --format json --out`).
    #[arg(value_name = "PLAN")]
    pub(crate) plan: PathBuf,
    /// text (the preview), json (the saved plan, byte for byte) or csv (with an `exclude` column to mark).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// The saved plan.
    #[arg(value_name = "PLAN")]
    pub(crate) plan: PathBuf,
    #[command(flatten)]
    pub(crate) selection: SelectionArgs,
    /// Write the approval file here (it lists the changes left out).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// The config file, for its `[signing]` key.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Sign with the key in this file (else `[signing]`, else `MUSTER_PLAN_KEY`).
    #[arg(long, value_name = "FILE")]
    pub(crate) plan_key_file: Option<PathBuf>,
}

/// Which part of a plan a reviewer approves.
#[derive(Debug, Default, Args)]
pub(crate) struct SelectionArgs {
    /// Leave out the change(s) of this address, or `#ID` (repeat for more),
    /// with every change it moves an address to or from.
    #[arg(long, value_name = "ADDRESS|#ID", num_args = 1..)]
    pub(crate) exclude: Vec<String>,
    /// Leave out what this approval file lists (a `plan: <fingerprint>`
    /// line, then addresses or #ids), or what the `exclude` column of a
    /// reviewed `show --format csv` marks.
    #[arg(long, value_name = "FILE")]
    pub(crate) exclude_from: Option<PathBuf>,
    /// Apply only the change(s) of this address, or `#ID` (repeat for
    /// more), with every change it moves an address to or from.
    #[arg(long, value_name = "ADDRESS|#ID", num_args = 1..)]
    pub(crate) only: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DiscoverArgs {
    /// The config file: its `discovery` source gives the ledger, its policy
    /// and the managed domains.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The ledger of addresses seen so far (created when missing, saved back).
    #[arg(long, value_name = "FILE", required_unless_present = "config")]
    pub(crate) ledger: Option<PathBuf>,
    /// Observations to add: a CSV with address, direction, messages,
    /// last_seen (and optionally first_seen, display_name) columns.
    #[arg(long, value_name = "FILE")]
    pub(crate) observations: Vec<PathBuf>,
    /// A domain whose addresses can become users (repeat for more).
    #[arg(
        long = "managed-domain",
        value_name = "DOMAIN",
        required_unless_present = "config"
    )]
    pub(crate) managed_domains: Vec<Domain>,
    #[command(flatten)]
    pub(crate) policy: DiscoveryArgs,
}

/// When an address seen in mail flow becomes a candidate user.
#[derive(Debug, Default, Args)]
pub(crate) struct DiscoveryArgs {
    /// Counted messages within the window that make an address a candidate.
    #[arg(long, value_name = "N")]
    pub(crate) discovery_min_messages: Option<u64>,
    /// The window those messages are counted in, in days.
    #[arg(long, value_name = "DAYS")]
    pub(crate) discovery_window_days: Option<u32>,
    /// Forget addresses not seen for this many days.
    #[arg(long, value_name = "DAYS")]
    pub(crate) discovery_expiry_days: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub(crate) gateway: GatewayArgs,
    /// Write the CSV here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// A Standard CSV to preview instead of the embedded one.
    pub(crate) csv: Option<PathBuf>,
}

#[derive(Debug, Default, Args)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    pub(crate) inputs: PlanInputArgs,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Write the plan here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Also save the plan (JSON) here, for `show` and `apply`: the very plan
    /// the preview above shows, fingerprint and all.
    #[arg(long, value_name = "FILE")]
    pub(crate) save: Option<PathBuf>,
    /// Exit with 2 when applying the plan would change the gateway or
    /// muster's state (flags and absent runs included), 0 when not.
    #[arg(long)]
    pub(crate) detailed_exitcode: bool,
    /// Sign the plan with the key in this file (at least 32 bytes; else
    /// the config's `[signing]`, else `MUSTER_PLAN_KEY` when set).
    #[arg(long, value_name = "FILE")]
    pub(crate) plan_key_file: Option<PathBuf>,
}

/// Where the gateway is and who muster logs in as: the config file's
/// `[gateway]`, each value overridden by its flag or environment variable.
#[derive(Debug, Default, Args)]
pub(crate) struct GatewayArgs {
    /// The organisation's config file (`muster.toml`); flags override it.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The Essentials stack (`us1`, `eu1`, …) or the API's base URL.
    #[arg(long, env = "MUSTER_STACK")]
    pub(crate) stack: Option<String>,
    /// The organisation's primary domain on the gateway.
    #[arg(long, env = "MUSTER_ORG")]
    pub(crate) org: Option<String>,
    /// The administrator muster logs in as.
    #[arg(long, env = "MUSTER_LOGIN")]
    pub(crate) login: Option<String>,
    /// A file holding the password (first line). Otherwise `MUSTER_PASSWORD` is read.
    #[arg(long, value_name = "FILE")]
    pub(crate) password_file: Option<PathBuf>,
    /// The login's request budget per minute on this stack (default 100).
    #[arg(long, value_name = "N")]
    pub(crate) requests_per_minute: Option<u32>,
}

/// The directory side: an LDAP/AD directory and/or CSV files.
#[derive(Debug, Default, Args)]
pub(crate) struct SourceArgs {
    /// An LDAP or Active Directory server (`ldaps://dc1.example.com`, or
    /// `ldap://` with --ldap-starttls). Authoritative when given; the bind
    /// password comes from `MUSTER_LDAP_PASSWORD`.
    #[arg(long, value_name = "URL", requires = "ldap_base")]
    pub(crate) ldap: Option<String>,
    /// The subtree to read (`OU=Staff,DC=example,DC=com`).
    #[arg(long, value_name = "DN")]
    pub(crate) ldap_base: Option<String>,
    /// The account to bind as (anonymous when absent).
    #[arg(long, value_name = "DN")]
    pub(crate) ldap_bind_dn: Option<String>,
    /// The object filter (default: AD's mail-enabled users).
    #[arg(long, value_name = "FILTER")]
    pub(crate) ldap_filter: Option<String>,
    /// Upgrade `ldap://` with StartTLS.
    #[arg(long)]
    pub(crate) ldap_starttls: bool,
    /// Also trust the CA certificates in this PEM file for ldaps and
    /// StartTLS: a domain's own enterprise CA, which this machine may not
    /// trust. The server's certificate is still verified, host name included.
    #[arg(long, value_name = "FILE", requires = "ldap")]
    pub(crate) ldap_ca_file: Option<PathBuf>,
    /// Trust only the CAs of --ldap-ca-file, not this machine's store: for a
    /// directory whose certificates must come from the organisation's own
    /// CA and no public one. Verification stays on.
    #[arg(long, requires = "ldap_ca_file")]
    pub(crate) ldap_ca_only: bool,
    /// What to read from the directory (default: users): mail-enabled users,
    /// mail-enabled groups (as recipients), or both, and then each user's
    /// groups too, from the groups' member lists.
    #[arg(long, value_enum, value_name = "OBJECTS", requires = "ldap")]
    pub(crate) ldap_objects: Option<LdapObjectsArg>,
    /// A Microsoft Entra ID tenant (its id or `contoso.onmicrosoft.com`), read
    /// through Microsoft Graph with an app's client credentials; the secret
    /// comes from `MUSTER_GRAPH_SECRET`. Authoritative unless --ldap is given.
    #[arg(long, value_name = "TENANT", requires = "graph_client_id")]
    pub(crate) graph_tenant: Option<String>,
    /// The app registration's client id.
    #[arg(long, value_name = "ID")]
    pub(crate) graph_client_id: Option<String>,
    /// An OData `$filter` for `/users` (used as written).
    #[arg(long, value_name = "FILTER")]
    pub(crate) graph_filter: Option<String>,
    /// Read `accountEnabled` (off by default: shared and room mailboxes are
    /// disabled users in Entra ID and would be read as leavers).
    #[arg(long)]
    pub(crate) graph_read_account_enabled: bool,
    /// Also read the tenant's mail-enabled groups (distribution lists,
    /// mail-enabled security and Microsoft 365 groups) as recipients, so mail
    /// to a group's address is not refused. Needs `Group.Read.All`.
    #[arg(long, requires = "graph_tenant")]
    pub(crate) graph_mail_groups: bool,
    /// Read Entra ID incrementally (Graph's delta query) from the cursor kept
    /// in this file: created by the first run, replaced after every complete
    /// read. A file that is not a cursor of this tenant and selection is an
    /// error; delete it to read every user again. Holds directory data: keep
    /// it as private as the plans.
    #[arg(
        long,
        value_name = "FILE",
        requires = "graph_tenant",
        conflicts_with = "graph_filter"
    )]
    pub(crate) graph_cursor: Option<PathBuf>,
    /// The token authority, for national clouds (default: the public cloud).
    #[arg(long, value_name = "URL")]
    pub(crate) graph_authority: Option<String>,
    /// The Graph base URL with its version, for national clouds (default: the public cloud).
    #[arg(long, value_name = "URL")]
    pub(crate) graph_url: Option<String>,
    /// A Proofpoint Standard CSV (First Name, Last Name, Primary Email, Mobile, Alias 1…).
    /// The first source (LDAP, else Graph, else the first CSV) is authoritative; the others are supplemental.
    /// Source flags replace the config file's sources.
    /// (Without any source flag, the config file's sources are read; with
    /// neither, the command stops with "no source".)
    #[arg(long = "csv", value_name = "FILE")]
    pub(crate) csv: Vec<PathBuf>,
    /// An SMTP-discovery ledger (`muster discover`): addresses seen often
    /// enough in mail flow become users. Supplemental: it adds, never removes.
    #[arg(long, value_name = "FILE")]
    pub(crate) discovery_ledger: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) discovery: DiscoveryArgs,
    /// HR records (email, status) for the HR rule: an end user absent from
    /// HR or terminated there becomes a functional account (or is flagged).
    #[arg(long, value_name = "FILE", requires = "hr_action")]
    pub(crate) hr: Option<PathBuf>,
    /// What the HR rule does: `functional_account` or `flag` (required with --hr: no default).
    #[arg(long, value_name = "ACTION", value_parser = keyword::<HrAction>)]
    pub(crate) hr_action: Option<HrAction>,
    /// An account the HR rule never touches (repeat for more).
    #[arg(long, value_name = "ADDRESS", requires = "hr")]
    pub(crate) hr_allow: Vec<EmailAddress>,
}

/// Policy flags: each overrides the config file's `[policy]` key of the same name.
#[derive(Debug, Default, Args)]
pub(crate) struct PolicyArgs {
    /// A domain muster manages (repeat for more). Default: the organisation's domain.
    #[arg(long = "managed-domain", value_name = "DOMAIN")]
    pub(crate) managed_domains: Vec<Domain>,
    /// How long an account absent from the directory stays flagged before
    /// it is deleted: 7d, 14d, 30d or never.
    #[arg(long, value_name = "DELAY", value_parser = keyword::<DeleteDelay>)]
    pub(crate) delete_delay: Option<DeleteDelay>,
    /// Consecutive runs an account must be absent before it is deleted (default 3).
    #[arg(long, value_name = "N")]
    pub(crate) min_absent_runs: Option<u32>,
    /// What flagging does: keep (mail flows during the delay) or deactivate.
    #[arg(long, value_name = "ACTION", value_parser = keyword::<FlagAction>)]
    pub(crate) on_flag: Option<FlagAction>,
    /// The role of new users: end_user (each gets a welcome letter) or
    /// silent_user (none).
    #[arg(long, value_name = "ROLE", value_parser = keyword::<NewUserRole>)]
    pub(crate) new_user_role: Option<NewUserRole>,
    /// An account a sync never touches (repeat for more).
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) exception: Vec<EmailAddress>,
    /// At most this many destructive changes without --override-threshold (default 25).
    #[arg(long, value_name = "N")]
    pub(crate) threshold_count: Option<usize>,
    /// …and at most this percentage of the gateway's accounts (default 10).
    #[arg(long, value_name = "PERCENT")]
    pub(crate) threshold_percent: Option<u32>,
    /// Accounts that existed before muster: list_unmatched (default) or flag_unmatched.
    #[arg(long, value_name = "RULE", value_parser = keyword::<UnknownOrigin>)]
    pub(crate) unknown_origin: Option<UnknownOrigin>,
    /// Also sync users whose directory account is disabled (created inactive, no letter).
    #[arg(long)]
    pub(crate) sync_disabled_users: bool,
    /// Let this run exceed the deletion threshold (after you have read the plan).
    #[arg(long)]
    pub(crate) override_threshold: bool,
}

/// Parses an option value by its one spelling (the config file's).
fn keyword<T: FromStr<Err = UnknownValue>>(value: &str) -> Result<T, String> {
    value.parse().map_err(|e: UnknownValue| e.to_string())
}

/// `--ldap-objects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LdapObjectsArg {
    /// Mail-enabled users (the --ldap-filter).
    Users,
    /// Mail-enabled groups, as distribution or security groups.
    Groups,
    /// Users and groups, and each user's groups.
    Both,
}

/// `apply --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum ReportFormat {
    /// One line per change.
    #[default]
    Text,
    /// The report as JSON (outcomes, counts, halt, new state).
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum Format {
    /// The vendor-style preview: Adding / Updating / Deleting, conflicts, skipped, summary.
    #[default]
    Text,
    /// The versioned JSON plan (what `apply` will read).
    Json,
    /// The "export preview to .csv" spreadsheet.
    Csv,
}

#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// A JSON seed (organisations, logins, users).
    #[arg(long, value_name = "FILE")]
    pub(crate) seed: Option<PathBuf>,
    /// The port on 127.0.0.1 (default: any free port).
    #[arg(long)]
    pub(crate) port: Option<u16>,
}
