//! One function per subcommand.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use muster::Executor;
use muster::core::DirectoryEntry;
use muster::core::Domain;
use muster::directory::{
    Becomes, DeltaRound, DiscoverySource, ObservationCsv, StandardCsv, write_standard_csv,
};
use muster::gateway::{Client, SecretString};
use muster::reconcile::{self, Desired, Plan, Policy, SyncState};
use muster_emulator::{Emulator, Seed};

use crate::args::{ApplyArgs, DemoArgs, DiscoverArgs, EmulatorArgs, ExportArgs, Format, PlanArgs};
use crate::error::CliError;
use crate::settings;

const DEMO_GATEWAY: &str = include_str!("../../examples/data/demo_gateway.json");
const DEMO_USERS: &str = include_str!("../../examples/data/demo_users.csv");
/// The stack label the demo stamps on its (throw-away) state.
const DEMO_STACK: &str = "local-emulator";

/// `muster plan`: read the directory, read the gateway, print the plan.
pub(crate) async fn plan(args: PlanArgs) -> Result<ExitCode, CliError> {
    let client = settings::client(&args.gateway)?;
    let managed = settings::managed_domains(&args.policy.managed_domains, &args.gateway.org)?;
    let policy = settings::policy(&args.policy, &managed);
    let state = settings::state(
        args.state.as_deref(),
        &args.gateway.stack,
        &args.gateway.org,
    )?;
    let directory = settings::desired(&args.sources, &managed).await?;
    let desired = directory.desired;
    report_issues(&desired);
    if let Some(graph) = &directory.graph_round {
        keep_graph_cursor(graph)?;
    }
    let plan = plan_against(&client, &args.gateway.stack, &desired, &state, &policy).await?;
    let rendered = match args.format {
        Format::Text => reconcile::render::text(&plan),
        Format::Json => reconcile::render::json(&plan),
        Format::Csv => reconcile::render::csv(&plan),
    };
    write_output(args.out.as_deref(), &rendered)?;
    let writes = plan.changes.iter().any(|c| !c.is_state_only());
    Ok(if args.detailed_exitcode && writes {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
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
fn keep_graph_cursor(graph: &settings::GraphRound) -> Result<(), CliError> {
    let text = graph.cursor.to_json().map_err(|source| CliError::Cursor {
        path: graph.path.clone(),
        source: Box::new(source),
    })?;
    save_atomically(&graph.path, "cannot save the Graph cursor to", &text)?;
    let path = graph.path.display();
    let users = graph.cursor.user_count();
    match &graph.round {
        DeltaRound::Initial => eprintln!(
            "graph: no cursor in `{path}` yet: read all {users} users, saved the cursor for the next run"
        ),
        DeltaRound::Incremental { changed, removed } => eprintln!(
            "graph: incremental read from `{path}`: {changed} changed, {removed} removed ({users} users)"
        ),
        DeltaRound::Resynced { status, code } => {
            let why = [status.map(|s| format!("HTTP {s}")), code.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            eprintln!(
                "warning: graph: Entra ID no longer knew the cursor in `{path}` ({why}): \
                 forced a full resync, read all {users} users again and saved a new cursor"
            );
        }
        _ => eprintln!("graph: read from `{path}`, saved the cursor ({users} users)"),
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
    report_issues(&desired);

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
    let plan = plan_against(&client, DEMO_STACK, &desired, &state, &policy).await?;
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
    let again = plan_against(&client, DEMO_STACK, &desired, &report.state, &policy).await?;
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
pub(crate) async fn apply(args: ApplyArgs) -> Result<ExitCode, CliError> {
    if args.state.is_none() && !args.dry_run {
        return Err(CliError::Setting(
            "--state is required to apply: the new state records what muster owns".to_owned(),
        ));
    }
    let text = std::fs::read_to_string(&args.plan).map_err(|source| CliError::File {
        action: "cannot read the plan",
        path: args.plan.clone(),
        source,
    })?;
    let plan = reconcile::render::from_json(&text).map_err(CliError::Plan)?;
    let client = settings::client(&args.gateway)?;
    let state = settings::state(args.state.as_deref(), &plan.stack, &plan.org)?;
    let mut executor = Executor::new()
        .dry_run(args.dry_run)
        .stack(&args.gateway.stack);
    if let Some(journal) = &args.journal {
        executor = executor.journal(journal);
    }
    if let Some(max) = args.max_changes {
        executor = executor.max_changes(max);
    }
    let report = executor
        .apply(&plan, &client, &state)
        .await
        .map_err(CliError::Apply)?;
    println!("{report}");
    if let (Some(path), false) = (&args.state, report.dry_run) {
        save_atomically(path, "cannot save the state to", &report.state.to_json())?;
    }
    Ok(if report.is_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// Writes `text` to a temporary file beside `path` and renames it over
/// `path`, so a crash leaves the old file or the new one, never half of one
/// (state, ledger and Graph cursor alike): the new text is on disk before
/// the rename, and the rename before this returns. On Unix the file is
/// readable by its owner only: these files hold directory data (names,
/// addresses, who owns which account). `action` names the file in errors.
fn save_atomically(path: &Path, action: &'static str, text: &str) -> Result<(), CliError> {
    use std::io::Write;

    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = std::path::PathBuf::from(temporary);
    let write = || -> std::io::Result<()> {
        // A leftover from a crash may have other permissions: start afresh.
        match std::fs::remove_file(&temporary) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, path)?;
        #[cfg(unix)]
        {
            let directory = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            std::fs::File::open(directory)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|source| CliError::File {
        action,
        path: path.to_owned(),
        source,
    })
}

/// `muster discover`: adds each observations file to the ledger (as of
/// now), forgets what expired, saves the ledger atomically, and lists the
/// candidates and the rows that could not be used.
pub(crate) async fn discover(args: DiscoverArgs) -> Result<ExitCode, CliError> {
    let managed = settings::managed_domains(&args.managed_domains, "")?;
    let policy = settings::discovery_policy(&args.policy, &managed);
    let mut ledger = settings::load_ledger(&args.ledger)?;
    let now = muster::chrono::Utc::now();
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
    save_atomically(&args.ledger, "cannot save the discovery ledger to", &text)?;
    for issue in &issues {
        eprintln!("warning: {issue}");
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
    let client = settings::client(&args.gateway)?;
    let gateway = muster::read_gateway(&client, &args.gateway.stack)
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
    write_output(args.out.as_deref(), &String::from_utf8_lossy(&csv))?;
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
    tokio::signal::ctrl_c().await.map_err(CliError::Runtime)?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the gateway and plans: the one pipeline `plan` and `demo` share.
async fn plan_against(
    client: &Client,
    stack: &str,
    desired: &Desired,
    state: &SyncState,
    policy: &Policy,
) -> Result<Plan, CliError> {
    let gateway = muster::read_gateway(client, stack)
        .await
        .map_err(CliError::Gateway)?;
    reconcile::plan(
        desired,
        &gateway.listing,
        &gateway.target,
        state,
        policy,
        muster::chrono::Utc::now(),
    )
    .map_err(CliError::Plan)
}

/// Records the sources could not read go to standard error, one per line,
/// with file and line; the plan itself says what they hold back.
fn report_issues(desired: &Desired) {
    let snapshots = std::iter::once(&desired.authoritative).chain(&desired.supplemental);
    for snapshot in snapshots {
        for issue in &snapshot.issues {
            eprintln!("warning: {issue}");
        }
    }
}

fn write_output(path: Option<&Path>, text: &str) -> Result<(), CliError> {
    match path {
        Some(path) => std::fs::write(path, text).map_err(|source| CliError::File {
            action: "cannot write",
            path: path.to_owned(),
            source,
        }),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
