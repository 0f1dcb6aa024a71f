//! `muster fleet plan|apply`: many organisations' runs in one process.
//!
//! The unit of work stays one organisation's run: each organisation's
//! plan is exactly `muster plan --config X --save X.plan.json
//! --detailed-exitcode`, its apply exactly `muster apply --config X --plan
//! X.plan.json` (the same functions, [`commands::plan_to`] and
//! [`commands::apply_to`]), with the output of each into its own log
//! beside its config. The fleet adds how many run at once, a line per
//! organisation as it finishes, a table, and one exit code by the fleet's
//! precedence ([`exit::fleet_worst`]).
//!
//! Organisations under one login share one request budget: every client
//! of a login and gateway host in the process takes its requests from one
//! limiter ([`muster::gateway::AdaptiveLimiter::shared`]), which the fleet
//! keeps alive until it ends, so organisations that run one after another
//! share it too; `[gateway.shared_rate_limit]` extends it to other
//! processes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use muster::config::Config;
use muster::core::{Sanitized, sanitize};
use muster::gateway::RateLimiter;
use muster::reconcile::Plan;
use serde_json::json;

use crate::args::{
    ApplyArgs, FleetArgs, FleetCommand, FleetFormat, GatewayArgs, PlanArgs, PlanInputArgs,
};
use crate::commands;
use crate::error::CliError;
use crate::exit;
use crate::interrupt::Interrupt;
use crate::out::Out;

/// `plan` or `apply`, for each organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plan,
    Apply,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Plan => "plan",
            Kind::Apply => "apply",
        }
    }
}

/// How one organisation's run ended.
#[derive(Debug, Clone)]
struct OrgResult {
    /// The config file (or the folder or pattern that named none).
    config: PathBuf,
    /// The organisation its config names, when it loads.
    org: Option<String>,
    code: u8,
    /// Changes by kind, the counts applied, or the error: one line, sanitised.
    summary: String,
    /// The saved plan, for `plan` when one was saved and for `apply`.
    plan: Option<PathBuf>,
    /// Where the run's output went.
    log: Option<PathBuf>,
}

impl OrgResult {
    fn refused(config: PathBuf, org: Option<String>, summary: String) -> OrgResult {
        OrgResult {
            config,
            org,
            code: 1,
            summary,
            plan: None,
            log: None,
        }
    }

    /// The organisation's name, or its config's file name when it names
    /// none: sanitised, like everything else the fleet prints.
    fn label(&self) -> String {
        match &self.org {
            Some(org) => sanitize(org).into_owned(),
            None => shown(&self.config),
        }
    }
}

/// A path as the fleet prints it: through the sanitiser (a file name is
/// outside text too).
fn shown(path: &Path) -> String {
    sanitize(&path.display().to_string()).into_owned()
}

/// `muster fleet plan|apply CONFIG…`.
pub(crate) async fn fleet(
    command: FleetCommand,
    interrupt: &Interrupt,
) -> Result<ExitCode, CliError> {
    let (kind, args) = match command {
        FleetCommand::Plan(args) => (Kind::Plan, args),
        FleetCommand::Apply(args) => (Kind::Apply, args),
    };
    let configs = expand(&args.configs);
    let results = run_all(kind, &args, configs, interrupt).await;
    let code = match interrupt.caught() {
        Some(caught) => caught.code,
        None => exit::fleet_worst(results.iter().map(|r| r.code)),
    };
    match args.format {
        FleetFormat::Text => print!("{}", table(kind, &results, code)),
        FleetFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report_json(kind, &results, code))
                .map_err(CliError::Report)?
        ),
    }
    Ok(ExitCode::from(code))
}

/// The config files the arguments name, in their order: a file as given,
/// a folder's `*.toml`, a pattern's matches (`*`, `?`, `[…]` as a shell
/// reads them, through the `glob` crate), each sorted. A folder or pattern
/// that names no file is an `Err` of its own — reported as a refusal,
/// never skipped in silence.
fn expand(args: &[PathBuf]) -> Vec<Result<PathBuf, OrgResult>> {
    let mut out = Vec::new();
    for arg in args {
        let text = arg.to_string_lossy();
        let pattern = if arg.is_dir() {
            format!("{}/*.toml", glob::Pattern::escape(&text))
        } else if text.contains(['*', '?', '[']) && !arg.exists() {
            text.into_owned()
        } else {
            out.push(Ok(arg.clone()));
            continue;
        };
        let refused = |why: String| OrgResult::refused(arg.clone(), None, why);
        let paths = match glob::glob(&pattern) {
            Ok(paths) => paths,
            Err(e) => {
                out.push(Err(refused(format!(
                    "`{}` is not a pattern: {e}",
                    shown(arg)
                ))));
                continue;
            }
        };
        let mut found = Vec::new();
        for path in paths {
            match path {
                Ok(path) if path.is_file() => found.push(path),
                Ok(_) => {}
                Err(e) => out.push(Err(refused(format!(
                    "cannot read `{}`: {}",
                    shown(e.path()),
                    e.error()
                )))),
            }
        }
        if found.is_empty() {
            out.push(Err(refused(format!(
                "no config file matches `{}`",
                shown(arg)
            ))));
        }
        out.extend(found.into_iter().map(Ok));
    }
    out
}

/// Runs every organisation, `--concurrency` at a time, printing a line for
/// each as it finishes; after a signal none is started, those running
/// stop as `apply` stops, and those never started say so. The results are
/// in the order of the arguments.
async fn run_all(
    kind: Kind,
    args: &FleetArgs,
    configs: Vec<Result<PathBuf, OrgResult>>,
    interrupt: &Interrupt,
) -> Vec<OrgResult> {
    let slots = Arc::new(tokio::sync::Semaphore::new(usize::from(args.concurrency)));
    let limiters: Limiters = Arc::default();
    let mut results: Vec<Option<OrgResult>> = vec![None; configs.len()];
    let mut running = tokio::task::JoinSet::new();
    let mut tasks = std::collections::HashMap::new();
    let line_to = args.format;
    let finished = |result: &OrgResult| {
        let line = line(kind, result);
        match line_to {
            FleetFormat::Text => println!("{line}"),
            // stdout is the JSON document's.
            FleetFormat::Json => eprintln!("{line}"),
        }
    };
    let mut never_started = Vec::new();
    for (index, config) in configs.into_iter().enumerate() {
        let config = match config {
            Ok(config) => config,
            Err(result) => {
                finished(&result);
                results[index] = Some(result);
                continue;
            }
        };
        let slot = loop {
            tokio::select! {
                slot = slots.clone().acquire_owned() => break slot,
                Some(done) = running.join_next_with_id() => {
                    let (i, result) = joined(done, &tasks);
                    finished(&result);
                    results[i] = Some(result);
                }
            }
        };
        if interrupt.caught().is_some() {
            never_started.push((index, config));
            continue;
        }
        let (interrupt, limiters) = (interrupt.clone(), limiters.clone());
        let path = config.clone();
        let task = running.spawn(async move {
            let _slot = slot;
            (index, run_one(kind, config, &interrupt, &limiters).await)
        });
        tasks.insert(task.id(), (index, path));
    }
    while let Some(done) = running.join_next_with_id().await {
        let (i, result) = joined(done, &tasks);
        finished(&result);
        results[i] = Some(result);
    }
    let code = interrupt.caught().map_or(130, |c| c.code);
    for (index, config) in never_started {
        let result = OrgResult {
            org: org_of(&config),
            config,
            code,
            summary: "not started: the fleet was interrupted".to_owned(),
            plan: None,
            log: None,
        };
        finished(&result);
        results[index] = Some(result);
    }
    results.into_iter().flatten().collect()
}

/// The limiters of the organisations' clients, kept until the fleet ends.
type Limiters = Arc<Mutex<Vec<Arc<dyn RateLimiter>>>>;

/// Each running task's organisation: its place in the arguments and its config.
type Tasks = std::collections::HashMap<tokio::task::Id, (usize, PathBuf)>;

/// A finished task's result; a task that panicked is its organisation's
/// failure, never the fleet's.
fn joined(
    done: Result<(tokio::task::Id, (usize, OrgResult)), tokio::task::JoinError>,
    tasks: &Tasks,
) -> (usize, OrgResult) {
    match done {
        Ok((_, (index, result))) => (index, result),
        Err(e) => {
            let (index, config) = tasks.get(&e.id()).cloned().unwrap_or_default();
            let org = org_of(&config);
            let summary = format!("the run stopped unexpectedly: {e}");
            (index, OrgResult::refused(config, org, summary))
        }
    }
}

/// The organisation a config names, for the lines (the run itself loads
/// it again and reports what is wrong with it).
fn org_of(config: &Path) -> Option<String> {
    Config::from_file(config).ok()?.gateway.org
}

/// `<config>` with its extension replaced: `example.com.toml` →
/// `example.com.plan.json`.
fn beside(config: &Path, extension: &str) -> PathBuf {
    config.with_extension(extension)
}

/// The plan `fleet plan` saves for `config`, and `fleet apply` applies.
pub(crate) fn saved_plan(config: &Path) -> PathBuf {
    beside(config, "plan.json")
}

/// One organisation's run, its output into its log.
async fn run_one(
    kind: Kind,
    config: PathBuf,
    interrupt: &Interrupt,
    limiters: &Limiters,
) -> OrgResult {
    let org = org_of(&config);
    let plan = saved_plan(&config);
    let log = beside(&config, &format!("{}.log", kind.name()));
    let out = match Out::log(&log) {
        Ok(out) => out,
        Err(e) => return OrgResult::refused(config, org, e.one_line()),
    };
    out.say(format_args!(
        "muster fleet {}: {}",
        kind.name(),
        shown(&config)
    ));
    let mut result = OrgResult {
        config: config.clone(),
        org,
        code: 0,
        summary: String::new(),
        plan: Some(plan.clone()),
        log: Some(log),
    };
    let ran = match kind {
        Kind::Plan => plan_one(config, &plan, &out, limiters).await,
        Kind::Apply => apply_one(config, &plan, interrupt, &out, limiters).await,
    };
    match ran {
        Ok((code, summary)) => (result.code, result.summary) = (code, summary),
        Err(e) => {
            out.say(format_args!("muster: {}", e.one_line()));
            (result.code, result.summary) = (e.exit_code(), e.one_line());
            if kind == Kind::Plan {
                result.plan = None;
            }
        }
    }
    result
}

/// `muster plan --config X --save X.plan.json --detailed-exitcode`. The
/// plan saved before is removed first: a run that fails before it makes a
/// plan must leave none for `fleet apply` to find.
async fn plan_one(
    config: PathBuf,
    plan: &Path,
    out: &Out,
    limiters: &Limiters,
) -> Result<(u8, String), CliError> {
    match std::fs::remove_file(plan) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(CliError::File {
                action: "cannot remove the plan saved before",
                path: plan.to_owned(),
                source: e,
            });
        }
        _ => {}
    }
    let args = PlanArgs {
        inputs: PlanInputArgs {
            gateway: GatewayArgs {
                config: Some(config),
                ..GatewayArgs::default()
            },
            ..PlanInputArgs::default()
        },
        save: Some(plan.to_owned()),
        detailed_exitcode: true,
        ..PlanArgs::default()
    };
    let planned = commands::plan_to(args, out).await?;
    keep(limiters, planned.limiter);
    Ok((planned.exit.number(), plan_summary(&planned.plan)))
}

/// `muster apply --config X --plan X.plan.json`, when `fleet plan` (or
/// `muster plan --save`) saved one; `apply`'s own checks (fingerprint,
/// signature, organisation, state, threshold) then decide.
async fn apply_one(
    config: PathBuf,
    plan: &Path,
    interrupt: &Interrupt,
    out: &Out,
    limiters: &Limiters,
) -> Result<(u8, String), CliError> {
    // A config that does not load says so first, as `muster apply` would.
    Config::from_file(&config).map_err(CliError::Config)?;
    if !plan.exists() {
        return Err(CliError::Setting(format!(
            "no saved plan `{}`: nothing applied; `muster fleet plan` (or `muster plan --save`) saves one for review",
            shown(plan)
        )));
    }
    let args = ApplyArgs {
        gateway: GatewayArgs {
            config: Some(config),
            ..GatewayArgs::default()
        },
        plan: plan.to_owned(),
        ..ApplyArgs::default()
    };
    let applied = commands::apply_to(args, interrupt, out).await?;
    keep(limiters, applied.limiter);
    let report = &applied.report;
    let mut summary = report.counts.to_string();
    if let Some(halt) = &report.halted {
        summary.push_str(&format!("; halted: {}", Sanitized(&halt.to_string())));
    }
    Ok((applied.code, summary))
}

fn keep(limiters: &Limiters, limiter: Arc<dyn RateLimiter>) {
    limiters
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(limiter);
}

/// A plan in one line: its changes by kind, then what holds it back.
fn plan_summary(plan: &Plan) -> String {
    let words = |kind: &str| match kind {
        "create" => "to add".to_owned(),
        "rename" => "to rename".to_owned(),
        "update" => "to update".to_owned(),
        "flag" => "to flag".to_owned(),
        "delete" => "to delete".to_owned(),
        other => format!("to {}", sanitize(other)),
    };
    let mut parts: Vec<String> = plan
        .summary
        .changes
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(kind, n)| format!("{n} {}", words(kind)))
        .collect();
    if parts.is_empty() {
        parts.push("no changes".to_owned());
    }
    let mut line = parts.join(", ");
    if plan.summary.conflicts > 0 {
        line.push_str(&format!("; {} conflicts", plan.summary.conflicts));
    }
    if plan.requires_override() {
        line.push_str(&format!(
            "; THRESHOLD EXCEEDED: {}",
            plan.threshold.exceeded().join(", ")
        ));
    }
    for guard in &plan.guards {
        line.push_str(&format!("; {}", Sanitized(&guard.to_string())));
    }
    line
}

/// The line printed as an organisation finishes.
fn line(kind: Kind, r: &OrgResult) -> String {
    format!(
        "{}: {} {}: {}",
        r.label(),
        r.code,
        exit::meaning(r.code, kind == Kind::Apply),
        r.summary
    )
}

/// The table after the lines, in the order of the arguments, and the
/// fleet's code.
fn table(kind: Kind, results: &[OrgResult], code: u8) -> String {
    let rows: Vec<[String; 5]> = results
        .iter()
        .map(|r| {
            [
                r.label(),
                r.code.to_string(),
                exit::meaning(r.code, kind == Kind::Apply).to_owned(),
                shown(&r.config),
                r.summary.clone(),
            ]
        })
        .collect();
    let header = ["ORGANISATION", "EXIT", "RESULT", "CONFIG", "SUMMARY"].map(str::to_owned);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::from("\n");
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    let mut counts = std::collections::BTreeMap::<u8, usize>::new();
    for r in results {
        *counts.entry(r.code).or_default() += 1;
    }
    let counts: Vec<String> = counts
        .iter()
        .map(|(c, n)| format!("{n} {}", exit::meaning(*c, kind == Kind::Apply)))
        .collect();
    out.push_str(&format!(
        "fleet {}: {} organisations ({}); exit {code} ({}); each one's output is in its `<config>.{}.log`\n",
        kind.name(),
        results.len(),
        counts.join(", "),
        exit::meaning(code, kind == Kind::Apply),
        kind.name()
    ));
    out
}

/// `--format json`: one document, an object per organisation with its code.
fn report_json(kind: Kind, results: &[OrgResult], code: u8) -> serde_json::Value {
    let orgs: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            json!({
                "config": r.config.display().to_string(),
                "org": r.org.as_deref().map(|o| sanitize(o).into_owned()),
                "exit": r.code,
                "result": exit::meaning(r.code, kind == Kind::Apply),
                "summary": r.summary,
                "plan": r.plan.as_ref().map(|p| p.display().to_string()),
                "log": r.log.as_ref().map(|p| p.display().to_string()),
            })
        })
        .collect();
    json!({
        "command": format!("fleet {}", kind.name()),
        "exit": code,
        "result": exit::meaning(code, kind == Kind::Apply),
        "orgs": orgs,
    })
}

#[cfg(test)]
mod tests {
    use super::expand;
    use std::path::PathBuf;

    #[test]
    fn a_folder_or_pattern_names_its_config_files_sorted_and_one_naming_none_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["eu-b.toml", "eu-a.toml", "us-a.toml", "eu-a.plan.json"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.toml")).unwrap();
        let named = |args: &[PathBuf]| -> Vec<Result<String, String>> {
            expand(args)
                .into_iter()
                .map(|r| {
                    r.map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                        .map_err(|o| o.summary)
                })
                .collect()
        };
        let folder = dir.path().to_path_buf();
        let ok = |n: &[&str]| n.iter().map(|s| Ok((*s).to_owned())).collect::<Vec<_>>();
        assert_eq!(
            named(std::slice::from_ref(&folder)),
            ok(&["eu-a.toml", "eu-b.toml", "us-a.toml"])
        );
        assert_eq!(
            named(&[folder.join("eu-*.toml")]),
            ok(&["eu-a.toml", "eu-b.toml"])
        );
        // A file is taken as given, whatever its name.
        assert_eq!(named(&[folder.join("x.txt")]), ok(&["x.txt"]));
        let none = named(&[folder.join("ap-*.toml")]);
        assert!(
            matches!(&none[..], [Err(why)] if why.starts_with("no config file matches")),
            "{none:?}"
        );
    }
}
