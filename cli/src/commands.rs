//! One function per subcommand.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use muster::Executor;
use muster::config::{Config, GraphRound, SourceSettings};
use muster::core::Domain;
use muster::core::{DirectoryEntry, Sanitized};
use muster::directory::{
    Becomes, DeltaRound, DiscoverySource, ObservationCsv, StandardCsv, write_standard_csv,
};
use muster::gateway::{Client, SecretString};
use muster::reconcile::{
    self, Approval, ConflictRequest, Desired, Pick, Plan, Policy, Selection, SyncState,
};
use muster_emulator::{Emulator, Seed};

use crate::args::{
    ApplyArgs, ApproveArgs, ConfigCheckArgs, ConflictActionArgs, ConflictsCommand, DemoArgs,
    DiscoverArgs, EmulatorArgs, ExemptArgs, ExportArgs, Format, InitArgs, InitKind, PlanArgs,
    PlanInputArgs, ReportFormat, RestoreArgs, ReviewPlanArgs, SelectionArgs, ShowArgs, StateArgs,
    UnexemptArgs,
};
use crate::error::CliError;
use crate::exit::{self, Exit};
use crate::out::Out;
use crate::settings;

const DEMO_GATEWAY: &str = include_str!("../../examples/data/demo_gateway.json");
const STARTER_AD: &str = include_str!("../../examples/config/ad.toml");
const STARTER_ENTRA: &str = include_str!("../../examples/config/entra.toml");
const STARTER_CSV: &str = include_str!("../../examples/config/csv-hr.toml");
const DEMO_USERS: &str = include_str!("../../examples/data/demo_users.csv");
/// The stack label the demo stamps on its (throw-away) state.
const DEMO_STACK: &str = "local-emulator";

/// `muster plan`: read the directory, read the gateway, print the plan.
pub(crate) async fn plan(args: PlanArgs) -> Result<ExitCode, CliError> {
    Ok(plan_to(args, &Out::Terminal).await?.exit.code())
}

/// What one organisation's `plan` made: the plan, its exit code, and the
/// limiter its client paced with (a fleet keeps it, so the organisations
/// of one login that run one after another spend one budget too).
pub(crate) struct Planned {
    pub(crate) plan: Plan,
    pub(crate) exit: Exit,
    pub(crate) limiter: std::sync::Arc<dyn muster::gateway::RateLimiter>,
}

/// `muster plan`, its output to `out`: the one run `plan` and each
/// organisation of `fleet plan` make.
pub(crate) async fn plan_to(args: PlanArgs, out: &Out) -> Result<Planned, CliError> {
    let mut inputs = read_inputs(&args.inputs, out).await?;
    let mut plan = inputs.plan(None).await?;
    if let Some(key) = plan_key(&mut inputs.config, args.plan_key_file.as_deref())? {
        plan.sign(&key);
    }
    if let Some(path) = &args.save {
        save_atomically(
            path,
            "cannot save the plan to",
            &reconcile::render::json(&plan),
        )?;
    }
    write_output(args.out.as_deref(), &render(&plan, args.format), out)?;
    say_pace(&plan, &inputs.client, out);
    inputs.learned.save(&inputs.client, out);
    let exit = exit::for_plan(&plan, args.detailed_exitcode);
    Ok(Planned {
        plan,
        exit,
        limiter: inputs.client.limiter().clone(),
    })
}

/// Everything a plan is made from, read: the config with the flags over
/// it, the client, the policy, the state (under the organisation's lease,
/// held while this value lives) and the directory.
struct Inputs {
    config: Config,
    client: Client,
    learned: LearnedPace,
    policy: Policy,
    stack: String,
    state: SyncState,
    desired: Desired,
    _lease: Option<muster::Lease>,
}

impl Inputs {
    /// A fresh plan from these inputs, or the plan of an action on
    /// conflicts: the one pipeline `plan` and `conflicts` share, so every
    /// guard of one applies to the other.
    async fn plan(&self, request: Option<&ConflictRequest>) -> Result<Plan, CliError> {
        plan_against(
            &self.client,
            &self.stack,
            &self.desired,
            &self.state,
            &self.policy,
            request,
        )
        .await
    }
}

/// Reads what `plan` reads: config and flags, the state under the lease,
/// every source (their issues warned about on stderr, a Graph cursor kept).
async fn read_inputs(args: &PlanInputArgs, out: &Out) -> Result<Inputs, CliError> {
    let mut config = settings::config(&args.gateway)?;
    settings::sources(&mut config, &args.sources);
    settings::policy_flags(&mut config, &args.policy);
    config.check().map_err(CliError::Config)?;
    if let Some(state) = &args.state {
        config.files.state = Some(state.clone());
    }
    let client = config.client().map_err(CliError::Config)?;
    let learned = LearnedPace::load(&config, &client, out);
    let mut policy = config.policy().map_err(CliError::Config)?;
    if args.policy.override_threshold {
        policy = policy.into_builder().override_threshold(true).build();
    }
    let (stack, org) = stack_and_org(&config)?;
    let (stack, org) = (stack.to_owned(), org.to_owned());
    let state_path = settings::state_path(args.state.as_deref(), &config);
    let lease = lease(state_path.as_deref())?;
    let state = settings::state(state_path.as_deref(), &stack, &org)?;
    let directory = config
        .read_directory(now()?)
        .await
        .map_err(CliError::Read)?;
    let desired = directory.desired;
    report_issues(&desired, out);
    warn_empty_sources(&desired, out);
    for graph in &directory.graph_rounds {
        keep_graph_cursor(graph, out)?;
    }
    Ok(Inputs {
        config,
        client,
        learned,
        policy,
        stack,
        state,
        desired,
        _lease: lease,
    })
}

/// Changes muster's state only (exempt, ignore, …), under the
/// organisation's lease, and saves it atomically; `edit` says what it did.
fn edit_state(
    args: &StateArgs,
    edit: impl FnOnce(&mut SyncState) -> String,
) -> Result<ExitCode, CliError> {
    let config = settings::config(&args.gateway)?;
    let Some(path) = settings::state_path(args.state.as_deref(), &config) else {
        return Err(CliError::Setting(
            "--state is required (or `files.state` in the config): this command changes muster's state".to_owned(),
        ));
    };
    let (stack, org) = stack_and_org(&config)?;
    let _lease = lease(Some(&path))?;
    let mut state = settings::state(Some(&path), stack, org)?;
    let said = edit(&mut state);
    save_atomically(&path, "cannot save the state to", &state.to_json())?;
    eprintln!("{said}");
    Ok(ExitCode::SUCCESS)
}

/// `muster exempt ADDRESS [--reason TEXT]`: recorded in muster's state,
/// never in the operator's config; every later plan lists the account as
/// skipped, with the reason and the day.
pub(crate) fn exempt(args: ExemptArgs) -> Result<ExitCode, CliError> {
    let now = now()?;
    edit_state(&args.state, |state| {
        state.exempt(args.address.clone(), now, args.reason.clone());
        format!(
            "exempt: {} is exempt from sync from {}; `muster unexempt` ends it",
            Sanitized(args.address.as_str()),
            now.format("%Y-%m-%d")
        )
    })
}

/// `muster unexempt ADDRESS`: the next plan syncs the account again.
pub(crate) fn unexempt(args: UnexemptArgs) -> Result<ExitCode, CliError> {
    edit_state(&args.state, |state| {
        let address = Sanitized(args.address.as_str());
        if state.unexempt(&args.address) {
            format!("unexempt: {address} is synced again from the next plan")
        } else {
            format!("unexempt: {address} was not exempt; nothing changed")
        }
    })
}

/// `muster conflicts …`.
pub(crate) async fn conflicts(command: ConflictsCommand) -> Result<ExitCode, CliError> {
    match command {
        ConflictsCommand::List(args) => {
            let plan = conflicts_plan(args.plan.as_deref(), &args.inputs).await?;
            print!(
                "{}",
                match args.format {
                    Format::Text => reconcile::render::conflicts_text(&plan),
                    Format::Json => reconcile::render::conflicts_json(&plan) + "\n",
                    Format::Csv => reconcile::render::conflicts_csv(&plan),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        ConflictsCommand::Export(args) => {
            let plan = conflicts_plan(args.plan.as_deref(), &args.inputs).await?;
            save_atomically(
                &args.file,
                "cannot write the conflicts to",
                &reconcile::render::conflicts_csv(&plan),
            )?;
            eprintln!(
                "conflicts: {} written to `{}`",
                plan.conflicts.len(),
                args.file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        ConflictsCommand::Ignore(args) => edit_state(&args.state, |state| {
            for address in &args.addresses {
                state.ignore(address.clone());
            }
            format!(
                "ignore: {} kept although absent, until `muster conflicts unignore`",
                addresses(&args.addresses)
            )
        }),
        ConflictsCommand::Unignore(args) => edit_state(&args.state, |state| {
            let (was, not): (Vec<_>, Vec<_>) = args
                .addresses
                .iter()
                .cloned()
                .partition(|a| state.unignore(a));
            let mut said = format!(
                "unignore: {} follow the deletion lifecycle again",
                addresses(&was)
            );
            if !not.is_empty() {
                said.push_str(&format!("; {} were not ignored", addresses(&not)));
            }
            said
        }),
        ConflictsCommand::DeleteNow(args) => {
            let request = ConflictRequest::delete_now(args.addresses.clone());
            conflict_action(args, request).await
        }
        ConflictsCommand::Deactivate(args) => {
            let request = ConflictRequest::deactivate(args.addresses.clone());
            conflict_action(args, request).await
        }
    }
}

/// Addresses for a message on stderr, through the sanitiser.
fn addresses(list: &[muster::core::EmailAddress]) -> String {
    if list.is_empty() {
        return "none".to_owned();
    }
    let list: Vec<String> = list
        .iter()
        .map(|a| Sanitized(a.as_str()).to_string())
        .collect();
    list.join(", ")
}

/// The plan whose conflicts `list` and `export` show: the saved one, or a
/// fresh one (the state alone does not know the accounts muster does not own).
async fn conflicts_plan(saved: Option<&Path>, inputs: &PlanInputArgs) -> Result<Plan, CliError> {
    match saved {
        Some(path) => Ok(read_plan(path)?.1),
        None => read_inputs(inputs, &Out::Terminal).await?.plan(None).await,
    }
}

/// `conflicts delete-now|deactivate`: planned afresh with the action, saved
/// (signed when there is a key) for `show` and `apply`, and previewed.
async fn conflict_action(
    args: ConflictActionArgs,
    request: ConflictRequest,
) -> Result<ExitCode, CliError> {
    let mut inputs = read_inputs(&args.inputs, &Out::Terminal).await?;
    let request = request.include_unowned(args.include_unowned);
    let plan = inputs.plan(Some(&request)).await?;
    let plan = save_for_review(plan, &args.out, &mut inputs.config, "conflicts")?;
    say_pace(&plan, &inputs.client, &Out::Terminal);
    inputs.learned.save(&inputs.client, &Out::Terminal);
    Ok(exit::for_plan(&plan, false).code())
}

/// A plan a command made for review (a conflict action, a restore):
/// signed when there is a plan key, saved for `show` and `apply`, and
/// previewed; `command` names it in the line that says where it went.
fn save_for_review(
    mut plan: Plan,
    out: &ReviewPlanArgs,
    config: &mut Config,
    command: &str,
) -> Result<Plan, CliError> {
    if let Some(key) = plan_key(config, out.plan_key_file.as_deref())? {
        plan.sign(&key);
    }
    save_atomically(
        &out.save,
        "cannot save the plan to",
        &reconcile::render::json(&plan),
    )?;
    print!("{}", render(&plan, out.format));
    eprintln!(
        "{command}: plan saved to `{}`; review it with `muster show`, then `muster apply --plan {}`",
        out.save.display(),
        out.save.display()
    );
    Ok(plan)
}

/// The request rate the gateway allowed this login on this stack, kept
/// beside the state between runs ([`Config::learned_rate_path`]): the next
/// run starts at it instead of with a burst of 429s. Losing it only costs a
/// few 429s, so a file that cannot be read or written is a warning.
struct LearnedPace(Option<std::path::PathBuf>);

impl LearnedPace {
    fn load(config: &Config, client: &Client, out: &Out) -> LearnedPace {
        let path = config.learned_rate_path(client);
        if let Some(path) = &path {
            match muster::gateway::LearnedRate::load(path) {
                Ok(Some(rate)) => client
                    .limiter()
                    .load_learned_rate(rate, std::time::SystemTime::now()),
                Ok(None) => {}
                Err(e) => out.say(format_args!(
                    "warning: {}",
                    Sanitized(&muster::core::error_chain(&e).to_string())
                )),
            }
        }
        LearnedPace(path)
    }

    fn save(&self, client: &Client, out: &Out) {
        if let (Some(path), Some(rate)) = (&self.0, client.learned_rate())
            && let Err(e) = rate.save(path)
        {
            out.say(format_args!(
                "warning: {}",
                Sanitized(&muster::core::error_chain(&e).to_string())
            ));
        }
    }
}

/// Says on stderr how long applying `plan` takes at the client's current
/// pace (configured or learned). Not in the preview itself: the pace is
/// this run's, and `show` must print exactly what `plan` printed.
fn say_pace(plan: &Plan, client: &Client, out: &Out) {
    let calls = plan.summary.api_calls;
    if let Some(duration) = reconcile::render::duration_at_rate(calls, client.requests_per_minute())
    {
        out.say(format_args!(
            "estimate: about {calls} API calls, {duration}"
        ));
    }
}

/// A plan as `plan` prints it and `show` shows it: the same renderers.
fn render(plan: &Plan, format: Format) -> String {
    match format {
        Format::Text => reconcile::render::text(plan),
        Format::Json => reconcile::render::json(plan),
        Format::Csv => reconcile::render::csv(plan),
    }
}

/// A source that returned no entry is safe (nothing is removed for it) but
/// must never pass for a quiet night: it is said on stderr, every time.
fn warn_empty_sources(desired: &Desired, out: &Out) {
    for snapshot in std::iter::once(&desired.authoritative).chain(&desired.supplemental) {
        if snapshot.entries.is_empty() {
            out.say(format_args!(
                "warning: source `{}` returned no entries: nothing is flagged or removed for it; check its base, filter or file",
                Sanitized(&snapshot.source)
            ));
        }
    }
}

/// A saved plan: its text as it is on disk, and the plan it holds.
fn read_plan(path: &Path) -> Result<(String, Plan), CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::File {
        action: "cannot read the plan",
        path: path.to_owned(),
        source,
    })?;
    let plan = reconcile::render::from_json(&text).map_err(CliError::Plan)?;
    Ok((text, plan))
}

/// `muster show PLAN`: the saved plan through the very renderers `plan`
/// used (its text shows what it is for, when it was made, its fingerprint
/// and its threshold); `--format json` prints the file as it is, byte for
/// byte. Exit codes as `plan --detailed-exitcode` would give for it.
pub(crate) fn show(args: ShowArgs) -> Result<ExitCode, CliError> {
    let (text, plan) = read_plan(&args.plan)?;
    if args.format == Format::Json {
        print!("{text}");
    } else {
        print!("{}", render(&plan, args.format));
    }
    Ok(exit::for_plan(&plan, true).code())
}

/// The part of `plan` the reviewer approved (`--only`, `--exclude`,
/// `--exclude-from`), or `None` for all of it. What `--only` brings along
/// with a pick, or `--exclude` leaves out with one, is said on stderr.
fn approval(
    args: &SelectionArgs,
    plan: &Plan,
    key: Option<&muster::reconcile::PlanKey>,
) -> Result<Option<Approval>, CliError> {
    let picks = |values: &[String]| -> Result<Vec<Pick>, CliError> {
        values
            .iter()
            .map(|v| v.parse().map_err(CliError::Approval))
            .collect()
    };
    let only = picks(&args.only)?;
    let mut exclude = picks(&args.exclude)?;
    if let Some(path) = &args.exclude_from {
        let text = std::fs::read_to_string(path).map_err(|source| CliError::File {
            action: "cannot read the approval file",
            path: path.clone(),
            source,
        })?;
        exclude.extend(muster::read_approval(&text, path, plan, key).map_err(CliError::Approval)?);
    }
    if only.is_empty() && exclude.is_empty() {
        return Ok(None);
    }
    let approval = plan.approve(&only, &exclude).map_err(CliError::Approval)?;
    let email = |id: u32| {
        plan.changes
            .iter()
            .find(|c| c.id == id)
            .map_or_else(String::new, |c| c.email.to_string())
    };
    for (picked, others) in &approval.brought_along {
        let others: Vec<String> = others
            .iter()
            .map(|id| format!("#{id} {}", email(*id)))
            .collect();
        let verb = if approval.included.contains(picked) {
            "also applies"
        } else {
            "also leaves out"
        };
        eprintln!(
            "approval: #{picked} {} {verb} {} (they move an address between them)",
            email(*picked),
            others.join(", ")
        );
    }
    Ok(Some(approval))
}

/// `muster approve PLAN`: an approval file for the part of the plan the
/// selection leaves out (each change left out by id, its address as a
/// comment), signed with the plan key when there is one, so `apply
/// --exclude-from` on the apply host can tell it came from a key holder.
pub(crate) fn approve(args: ApproveArgs) -> Result<ExitCode, CliError> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path).map_err(CliError::Config)?,
        None => Config::default(),
    };
    let (_, plan) = read_plan(&args.plan)?;
    let key = plan_key(&mut config, args.plan_key_file.as_deref())?;
    // The reviewer's own inputs are not checked against the key: this is
    // where the key holder vouches for them.
    let approval = approval(&args.selection, &plan, None)?.unwrap_or_default();
    let selection = Selection::leaving_out(&plan, &approval, key.as_ref());
    save_atomically(
        &args.out,
        "cannot write the approval to",
        &selection.render(),
    )?;
    eprintln!(
        "approval: {} of {} changes left out of plan {}{}",
        approval.excluded.len(),
        plan.changes.len(),
        plan.fingerprint,
        if key.is_some() { ", signed" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

/// The organisation's lease for this run ([`muster::Lease`]), when there
/// is a state file to guard.
fn lease(state: Option<&Path>) -> Result<Option<muster::Lease>, CliError> {
    state
        .map(muster::Lease::take)
        .transpose()
        .map_err(CliError::Lease)
}

/// The plan-signing key: `--plan-key-file`, else the config's `[signing]`,
/// else `MUSTER_PLAN_KEY` when it is set.
fn plan_key(
    config: &mut Config,
    flag: Option<&Path>,
) -> Result<Option<muster::reconcile::PlanKey>, CliError> {
    if let Some(file) = flag {
        config.signing.key_file = Some(file.to_owned());
    }
    config.plan_key().map_err(CliError::Config)
}

/// The stack and organisation a config names (both required to run).
fn stack_and_org(config: &Config) -> Result<(&str, &str), CliError> {
    Ok((
        config.stack().map_err(CliError::Config)?,
        config.org().map_err(CliError::Config)?,
    ))
}

/// Saves the cursor of an incremental Entra ID read (atomically, like the
/// state) and says on standard error what kind of round it was; standard
/// output may be the plan itself (`--format json`), so the note stays out of it.
///
/// Saved as soon as the directory side is read completely, even when a
/// later step fails (the gateway cannot be read, the planner refuses, the
/// plan cannot be written): the cursor caches what Entra ID holds, not what
/// was planned or applied, and every round yields the whole directory, so
/// no change can be lost by moving it forward. Holding it back would only
/// make the next run fetch the same changes again, and after a resync a
/// whole tenant again. A read that failed saves nothing: the old cursor
/// stays as good as it was.
fn keep_graph_cursor(graph: &GraphRound, out: &Out) -> Result<(), CliError> {
    let text = graph.cursor.to_json().map_err(|source| CliError::Cursor {
        path: graph.path.clone(),
        source: Box::new(source),
    })?;
    save_atomically(&graph.path, "cannot save the Graph cursor to", &text)?;
    let path = graph.path.display();
    let users = graph.cursor.user_count();
    match &graph.round {
        DeltaRound::Initial => out.say(format_args!(
            "graph: no cursor in `{path}` yet: read all {users} users, saved the cursor for the next run"
        )),
        DeltaRound::Incremental { changed, removed } => out.say(format_args!(
            "graph: incremental read from `{path}`: {changed} changed, {removed} removed ({users} users)"
        )),
        DeltaRound::Resynced { status, code } => {
            let why = [status.map(|s| format!("HTTP {s}")), code.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            out.say(format_args!(
                "warning: graph: Entra ID no longer knew the cursor in `{path}` ({why}): \
                 forced a full resync, read all {users} users again and saved a new cursor"
            ));
        }
        _ => out.say(format_args!(
            "graph: read from `{path}`, saved the cursor ({users} users)"
        )),
    }
    Ok(())
}

/// `muster demo`: the emulator in-process, seeded with a small organisation,
/// the embedded (or given) Standard CSV, and the preview (which writes
/// nothing); then the plan applied to the emulator and planned again, which
/// finds nothing left to change.
pub(crate) async fn demo(args: DemoArgs) -> Result<ExitCode, CliError> {
    let seed = Seed::from_json(DEMO_GATEWAY).map_err(CliError::Emulator)?;
    let emulator = Emulator::builder()
        .seed(seed)
        .start()
        .await
        .map_err(CliError::Emulator)?;
    println!("gateway emulator: {}", emulator.api_v1_url());
    let users = match &args.csv {
        Some(path) => StandardCsv::new(path).read(),
        None => StandardCsv::new("demo_users.csv").read_from(DEMO_USERS.as_bytes()),
    }
    .map_err(CliError::Directory)?;
    let desired = Desired::new(users);
    report_issues(&desired, &Out::Terminal);

    let client = Client::builder()
        .essentials(&emulator.api_v1_url(), "example.com")
        .credentials("admin@example.com", SecretString::from("demo-password"))
        .build()
        .map_err(CliError::Gateway)?;
    let mut policy = Policy::builder();
    for domain in ["example.com", "example.org"] {
        policy = policy.managed_domain(domain.parse::<Domain>().expect("a valid domain"));
    }
    let policy = policy.build();
    let state = SyncState::new(DEMO_STACK, "example.com");
    let plan = plan_against(&client, DEMO_STACK, &desired, &state, &policy, None).await?;
    print!("{}", reconcile::render::text(&plan));

    let writes = emulator
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    println!("\nplanning wrote nothing: the gateway saw {writes} writes");

    // The emulator is throw-away: apply the plan, then plan again.
    println!("\napplying the plan to the emulator:");
    let report = Executor::new()
        .stack(DEMO_STACK)
        .apply(&plan, &client, &state)
        .await
        .map_err(CliError::Apply)?;
    println!("{report}");
    let again = plan_against(&client, DEMO_STACK, &desired, &report.state, &policy, None).await?;
    if again.is_empty() {
        println!(
            "\nplanning again: nothing left to change ({} conflicts wait for a decision)",
            again.conflicts.len()
        );
    } else {
        println!("\nplanning again:\n{}", reconcile::render::text(&again));
    }
    Ok(if report.is_complete() && again.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// `muster apply`: the saved plan through the executor, one line per
/// change, then the new state saved (atomically) next to the old one's place.
/// Exit 0 when every change succeeded, 3 when some did not (stale, failed,
/// skipped: plan again to see what is left), 1 when the plan was refused.
pub(crate) async fn apply(
    args: ApplyArgs,
    interrupt: &crate::interrupt::Interrupt,
) -> Result<ExitCode, CliError> {
    Ok(ExitCode::from(
        apply_to(args, interrupt, &Out::Terminal).await?.code,
    ))
}

/// What one organisation's `apply` did: the report, its exit code (0, 3,
/// or the signal's), and the limiter its client paced with.
pub(crate) struct Applied {
    pub(crate) report: muster::ApplyReport,
    pub(crate) code: u8,
    pub(crate) limiter: std::sync::Arc<dyn muster::gateway::RateLimiter>,
}

/// `muster apply`, its output to `out`: the one run `apply` and each
/// organisation of `fleet apply` make.
pub(crate) async fn apply_to(
    args: ApplyArgs,
    interrupt: &crate::interrupt::Interrupt,
    out: &Out,
) -> Result<Applied, CliError> {
    let mut config = settings::config(&args.gateway)?;
    let state_path = settings::state_path(args.state.as_deref(), &config);
    if state_path.is_none() && !args.dry_run {
        return Err(CliError::Setting(
            "--state is required to apply (or `files.state` in the config): the new state records what muster owns".to_owned(),
        ));
    }
    let (_, plan) = read_plan(&args.plan)?;
    // What the reviewer approved is checked before anything is sent.
    let key = plan_key(&mut config, args.plan_key_file.as_deref())?;
    let approval = approval(&args.selection, &plan, key.as_ref())?;
    config.files.state.clone_from(&state_path);
    let client = config.client().map_err(CliError::Config)?;
    let learned = LearnedPace::load(&config, &client, out);
    let stack = config.stack().map_err(CliError::Config)?;
    let state = settings::state(state_path.as_deref(), &plan.stack, &plan.org)?;
    // The login first: a wrong password or a login without rights stops
    // here, in one line, before anything is read or written.
    client.verify().await.map_err(CliError::Login)?;
    let mut executor = Executor::new()
        .dry_run(args.dry_run)
        .stack(stack)
        .override_threshold(args.override_threshold)
        .stop_on(&interrupt.stop);
    if let Some(key) = key {
        executor = executor.plan_key(key);
    }
    if let Some(approval) = &approval {
        executor = executor.approved(approval);
    }
    let _lease = lease(state_path.as_deref())?;
    let journal = config
        .journal_for(&plan.fingerprint, args.journal.clone())
        .map_err(|e| CliError::File {
            action: "cannot create the journal folder",
            path: e.folder,
            source: e.source,
        })?;
    if let Some(journal) = &journal {
        executor = executor.journal(journal);
    }
    if let Some(max) = args.max_changes {
        executor = executor.max_changes(max);
    }
    if let Some(changes) = args.concurrency {
        executor = executor.concurrency(usize::from(changes));
    }
    let configured = config
        .gateway
        .requests_per_minute
        .unwrap_or(muster::config::DEFAULT_REQUESTS_PER_MINUTE);
    let display = std::sync::Arc::new(std::sync::Mutex::new(crate::progress::for_apply(
        &plan, &client, configured, out,
    )));
    let shown = display.clone();
    executor = executor.on_progress(move |event| {
        shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .event(&event);
    });
    let report = executor.apply(&plan, &client, &state).await;
    display
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .finish();
    let report = report.map_err(CliError::Apply)?;
    match args.format {
        ReportFormat::Text => out.print(&format!("{report}\n")),
        ReportFormat::Json => out.print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report).map_err(CliError::Report)?
        )),
    }
    if let (Some(path), false) = (&state_path, report.dry_run) {
        save_atomically(path, "cannot save the state to", &report.state.to_json())?;
    }
    learned.save(&client, out);
    let limiter = client.limiter().clone();
    if let Some(caught) = interrupt.caught() {
        say_what_is_left(
            &report,
            caught,
            journal.as_deref(),
            state_path.as_deref(),
            out,
        );
        return Ok(Applied {
            report,
            code: caught.code,
            limiter,
        });
    }
    // A halt (the breaker, a limit) is why the run is incomplete: said on
    // stderr too, where a scheduler's log keeps it (the report is stdout's).
    if let Some(halt) = &report.halted {
        out.say(format_args!(
            "muster: apply halted: {}; what was done is kept{}",
            Sanitized(&halt.to_string()),
            if journal.is_some() {
                ", and the same command resumes with the same journal"
            } else {
                ""
            }
        ));
    }
    let exit = if report.is_complete() {
        Exit::Done
    } else {
        Exit::Incomplete
    };
    Ok(Applied {
        report,
        code: exit.number(),
        limiter,
    })
}

/// After a signal: what is done, what is left, where the journal and state
/// are, and the command that resumes (the same one, with the same journal).
fn say_what_is_left(
    report: &muster::ApplyReport,
    caught: crate::interrupt::Caught,
    journal: Option<&Path>,
    state: Option<&Path>,
    out: &Out,
) {
    let left: Vec<&muster::ChangeReport> = report
        .changes
        .iter()
        .filter(|c| !c.outcome.succeeded())
        .collect();
    let shown: Vec<String> = left
        .iter()
        .take(5)
        .map(|c| format!("#{} {}", c.id, Sanitized(c.email.as_str())))
        .collect();
    let more = if left.len() > shown.len() {
        ", …"
    } else {
        ""
    };
    out.say(format_args!(
        "muster: interrupted by {}: {} of {} changes done, {} left{}",
        caught.signal,
        report.changes.len() - left.len(),
        report.changes.len(),
        left.len(),
        if left.is_empty() {
            String::new()
        } else {
            format!(" ({}{more})", shown.join(", "))
        }
    ));
    let saved = |what: &str, path: Option<&Path>| {
        path.map(|p| format!("{what} `{}`", Sanitized(&p.display().to_string())))
    };
    let files: Vec<String> = [saved("journal", journal), saved("state", state)]
        .into_iter()
        .flatten()
        .collect();
    if !files.is_empty() {
        out.say(format_args!("muster: saved: {}", files.join(", ")));
    }
    if journal.is_some() {
        out.say(format_args!(
            "muster: resume with: {}",
            Sanitized(&crate::interrupt::resume_command())
        ));
    } else {
        out.say("muster: no journal was kept: plan again (`muster plan`) to see what is left");
    }
}

/// Saves `text` to `path` through [`muster::write_private`]: atomically
/// (a crash leaves the old file or the new one) and readable by its owner
/// only, since these files hold directory data. `action` names the file in
/// errors.
fn save_atomically(path: &Path, action: &'static str, text: &str) -> Result<(), CliError> {
    muster::write_private(path, text.as_bytes()).map_err(|source| CliError::File {
        action,
        path: path.to_owned(),
        source,
    })
}

/// `muster discover`: adds each observations file to the ledger (as of
/// now), forgets what expired, saves the ledger atomically, and lists the
/// candidates and the rows that could not be used.
pub(crate) async fn discover(args: DiscoverArgs) -> Result<ExitCode, CliError> {
    let config = match &args.config {
        Some(path) => Config::from_file(path).map_err(CliError::Config)?,
        None => Config::default(),
    };
    let mut discovery = config
        .sources
        .iter()
        .find_map(|s| match &s.settings {
            SourceSettings::Discovery(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap_or_default();
    if let Some(ledger) = &args.ledger {
        discovery.ledger.clone_from(ledger);
    }
    if discovery.ledger.as_os_str().is_empty() {
        return Err(CliError::Setting(
            "no ledger: pass --ledger or add a `kind = \"discovery\"` source to the config"
                .to_owned(),
        ));
    }
    settings::discovery(&mut discovery, &args.policy);
    let managed = if args.managed_domains.is_empty() {
        config.managed_domains().map_err(CliError::Config)?
    } else {
        args.managed_domains.clone()
    };
    let policy = discovery.policy(&managed);
    let ledger_path = discovery.ledger.clone();
    let mut ledger = muster::config::load_ledger(&ledger_path).map_err(CliError::Read)?;
    let now = now()?;
    let mut issues = Vec::new();
    for path in &args.observations {
        let read = ObservationCsv::new(path)
            .read()
            .map_err(CliError::Directory)?;
        issues.extend(read.issues);
        issues.extend(ledger.observe(&read.observations, now));
    }
    let forgotten = ledger.expire(&policy, now);
    let text = ledger.to_json().map_err(CliError::Directory)?;
    save_atomically(&ledger_path, "cannot save the discovery ledger to", &text)?;
    for issue in &issues {
        eprintln!("warning: {}", Sanitized(&issue.to_string()));
    }
    let source = DiscoverySource::new(ledger, policy, now);
    let candidates = source.candidates();
    println!(
        "{} addresses in the ledger, {} forgotten, {} candidates",
        source.ledger().len(),
        forgotten.len(),
        candidates.len()
    );
    for candidate in candidates {
        let becomes = match &candidate.becomes {
            Becomes::User => "user".to_owned(),
            Becomes::AliasOf { user } => format!("alias of {user}"),
            Becomes::FunctionalAccount => "functional account".to_owned(),
            _ => "something new".to_owned(),
        };
        println!(
            "  {} -> {becomes} ({} messages counted)",
            candidate.address, candidate.counted
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `muster export`: every account of the organisation as a Standard CSV
/// (names, mobile, aliases; cells a spreadsheet would run as formulas
/// neutralised), so the file `muster plan --csv` reads back is what the
/// gateway holds.
pub(crate) async fn export(args: ExportArgs) -> Result<ExitCode, CliError> {
    let config = settings::config(&args.gateway)?;
    let client = config.client().map_err(CliError::Config)?;
    let gateway = muster::read_gateway(&client, config.stack().map_err(CliError::Config)?)
        .await
        .map_err(CliError::Gateway)?;
    let entries: Vec<DirectoryEntry> = gateway
        .listing
        .accounts
        .into_iter()
        .map(|account| {
            let mut entry = DirectoryEntry::new(account.primary_email);
            entry.first_name = account.first_name;
            entry.last_name = account.last_name;
            entry.mobile = account.mobile;
            entry.aliases = account.aliases;
            entry
        })
        .collect();
    let mut csv = Vec::new();
    write_standard_csv(&entries, &mut csv).map_err(CliError::Directory)?;
    write_output(
        args.out.as_deref(),
        &String::from_utf8_lossy(&csv),
        &Out::Terminal,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `muster emulator`: serve until interrupted, printing the base URL first so
/// scripts can read it.
pub(crate) async fn emulator(args: EmulatorArgs) -> Result<ExitCode, CliError> {
    let mut builder = Emulator::builder();
    if let Some(path) = &args.seed {
        builder = builder.seed(Seed::from_file(path).map_err(CliError::Emulator)?);
    }
    if let Some(port) = args.port {
        builder = builder.port(port);
    }
    let emulator = builder.start().await.map_err(CliError::Emulator)?;
    println!("{}", emulator.base_url());
    std::io::stdout().flush().ok();
    // Serves until SIGINT or SIGTERM ends the process (130 or 143).
    std::future::pending::<()>().await;
    Ok(ExitCode::SUCCESS)
}

/// The time a run plans for: the clock's, or `MUSTER_TEST_NOW` (an RFC 3339
/// time). **For tests only**: it lets a test walk the deletion lifecycle
/// through days in seconds. A scheduled job never sets it.
fn now() -> Result<muster::chrono::DateTime<muster::chrono::Utc>, CliError> {
    match std::env::var("MUSTER_TEST_NOW") {
        Err(_) => Ok(muster::chrono::Utc::now()),
        Ok(text) => muster::chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| t.to_utc())
            .map_err(|e| {
                CliError::Setting(format!(
                    "MUSTER_TEST_NOW (test-only) is not an RFC 3339 time: {e}"
                ))
            }),
    }
}

/// Reads the gateway and plans: the one pipeline `plan` and `demo` share.
async fn plan_against(
    client: &Client,
    stack: &str,
    desired: &Desired,
    state: &SyncState,
    policy: &Policy,
    request: Option<&ConflictRequest>,
) -> Result<Plan, CliError> {
    let gateway = muster::read_gateway(client, stack)
        .await
        .map_err(CliError::Gateway)?;
    let (listing, target, now) = (&gateway.listing, &gateway.target, now()?);
    match request {
        None => reconcile::plan(desired, listing, target, state, policy, now),
        Some(request) => {
            reconcile::plan_conflict_action(desired, listing, target, state, policy, now, request)
        }
    }
    .map_err(CliError::Plan)
}

/// Records the sources could not read go to standard error, one per line,
/// with file and line, the HR source's too; the plan itself lists them
/// among the skipped records and says what they hold back.
fn report_issues(desired: &Desired, out: &Out) {
    let snapshots = std::iter::once(&desired.authoritative).chain(&desired.supplemental);
    let directory = snapshots.flat_map(|s| &s.issues);
    let hr = desired.hr.iter().flat_map(|h| &h.issues);
    for issue in directory.chain(hr) {
        out.say(format_args!("warning: {}", Sanitized(&issue.to_string())));
    }
}

/// `muster config check`: the config with every default filled in, or its
/// first problem (exit 1, nothing sent). With `--connect`, every source is
/// read and the gateway's organisation too (nothing is written): the
/// managed domains must be registered there.
pub(crate) async fn config_check(args: ConfigCheckArgs) -> Result<ExitCode, CliError> {
    let config = Config::from_file(&args.config).map_err(CliError::Config)?;
    config.check().map_err(CliError::Config)?;
    let full = config.with_defaults().map_err(CliError::Config)?;
    print!("{}", full.to_toml().map_err(CliError::Config)?);
    if !args.connect {
        return Ok(ExitCode::SUCCESS);
    }
    let client = config.client().map_err(CliError::Config)?;
    let gateway = muster::read_gateway(&client, config.stack().map_err(CliError::Config)?)
        .await
        .map_err(CliError::Gateway)?;
    println!(
        "\n# gateway: logged in as {}, {} accounts, domains registered: {}",
        gateway
            .target
            .login
            .as_ref()
            .map_or_else(|| "?".to_owned(), ToString::to_string),
        gateway.listing.accounts.len(),
        gateway
            .target
            .registered_domains
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut ok = true;
    for domain in config.managed_domains().map_err(CliError::Config)? {
        if !gateway.target.registered_domains.contains(&domain) {
            eprintln!("muster: managed domain `{domain}` is not registered on the gateway");
            ok = false;
        }
    }
    let directory = config
        .read_directory(now()?)
        .await
        .map_err(CliError::Read)?;
    let desired = &directory.desired;
    for snapshot in std::iter::once(&desired.authoritative).chain(&desired.supplemental) {
        println!(
            "# source `{}`: {} entries, {} issues",
            snapshot.source,
            snapshot.entries.len(),
            snapshot.issues.len()
        );
    }
    if let Some(hr) = &desired.hr {
        println!(
            "# hr `{}`: {} records, {} issues",
            hr.source,
            hr.records.len(),
            hr.issues.len()
        );
    }
    report_issues(desired, &Out::Terminal);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `muster init ad|entra|csv`: a commented starter config (the examples
/// the tests check), to standard output or a new file.
pub(crate) fn init(args: InitArgs) -> Result<ExitCode, CliError> {
    let text = match args.kind {
        InitKind::Ad => STARTER_AD,
        InitKind::Entra => STARTER_ENTRA,
        InitKind::Csv => STARTER_CSV,
    };
    let Some(path) = &args.out else {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| CliError::File {
            action: "cannot create (it must not exist yet)",
            path: path.clone(),
            source,
        })?;
    file.write_all(text.as_bytes())
        .map_err(|source| CliError::File {
            action: "cannot write",
            path: path.clone(),
            source,
        })?;
    eprintln!(
        "wrote `{}`: fill in its names, then run `muster config check --config {}`",
        path.display(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn write_output(path: Option<&Path>, text: &str, out: &Out) -> Result<(), CliError> {
    match path {
        // Plans, previews and exports hold directory data: owner-only.
        Some(path) => save_atomically(path, "cannot write", text),
        None => {
            out.print(text);
            Ok(())
        }
    }
}

/// `muster restore --journal J [ADDRESS…]`: a plan that puts back, from
/// the before-images next to the journal, the accounts that apply deleted
/// or stripped — saved (signed when there is a key) for `show` and `apply`
/// like any plan, never applied here.
pub(crate) async fn restore(args: RestoreArgs) -> Result<ExitCode, CliError> {
    let mut config = settings::config(&args.state.gateway)?;
    let client = config.client().map_err(CliError::Config)?;
    let (stack, org) = stack_and_org(&config)?;
    let (stack, org) = (stack.to_owned(), org.to_owned());
    let state_path = settings::state_path(args.state.state.as_deref(), &config);
    let _lease = lease(state_path.as_deref())?;
    let state = settings::state(state_path.as_deref(), &stack, &org)?;
    let mut images = muster::read_before_images(&args.journal).map_err(CliError::Restore)?;
    if !args.addresses.is_empty() {
        for address in &args.addresses {
            if !images.iter().any(|i| i.account.primary_email == *address) {
                return Err(CliError::Setting(format!(
                    "no before-image of {} next to `{}`",
                    Sanitized(address.as_str()),
                    args.journal.display()
                )));
            }
        }
        images.retain(|i| args.addresses.contains(&i.account.primary_email));
    }
    if images.is_empty() {
        return Err(CliError::Setting(format!(
            "no before-images next to `{}`: that apply changed no account destructively",
            args.journal.display()
        )));
    }
    let saved: Vec<_> = images
        .iter()
        .map(|i| (i.account.clone(), i.unowned_fields()))
        .collect();
    let gateway = muster::read_gateway(&client, &stack)
        .await
        .map_err(CliError::Gateway)?;
    let policy = config.policy().map_err(CliError::Config)?;
    let plan = reconcile::plan_restore(
        &saved,
        &gateway.listing,
        &gateway.target,
        &state,
        &policy,
        now()?,
    )
    .map_err(CliError::Plan)?;
    let plan = save_for_review(plan, &args.out, &mut config, "restore")?;
    Ok(exit::for_plan(&plan, false).code())
}
