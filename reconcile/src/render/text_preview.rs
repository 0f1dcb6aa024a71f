//! The vendors' preview, as text: Adding / Updating / Deleting, conflicts,
//! skipped, summary.

use std::fmt::Write as _;

use crate::plan::{AccountChange, ChangeKind, ConflictAction, Plan, Step};
use crate::rules::day;

/// Renders the plan for a human to review before it is applied.
#[must_use]
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan for {} on {} from {}, {} (fingerprint {})",
        plan.org,
        plan.stack,
        plan.source,
        plan.planned_at.format("%Y-%m-%d %H:%M UTC"),
        plan.fingerprint
    );
    for guard in &plan.guards {
        let _ = writeln!(out, "SAFETY: {guard}");
    }
    let sections = [
        (ChangeKind::Create, "Adding", '+'),
        (ChangeKind::Rename, "Changing primary address", '>'),
        (ChangeKind::Update, "Updating", '~'),
        (ChangeKind::Flag, "Flagging for deletion", '!'),
        (ChangeKind::Delete, "Deleting", '-'),
    ];
    for (kind, title, mark) in sections {
        let changes: Vec<&AccountChange> = plan.changes.iter().filter(|c| c.kind == kind).collect();
        if changes.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title} ({})", changes.len());
        for c in changes {
            change(&mut out, c, mark);
        }
    }
    if !plan.conflicts.is_empty() {
        let _ = writeln!(out, "\nUser conflicts ({})", plan.conflicts.len());
        for c in &plan.conflicts {
            let actions: Vec<&str> = c.actions.iter().map(|a| action(*a)).collect();
            let _ = writeln!(
                out,
                "  ? {} ({}, {}): {} [{}]",
                c.email,
                c.user_type,
                c.origin,
                c.reason,
                actions.join(" | ")
            );
        }
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(out, "\nSkipped ({})", plan.skipped.len());
        for s in &plan.skipped {
            let at = s
                .location
                .as_ref()
                .map(|l| format!(", {l}"))
                .unwrap_or_default();
            let email = if s.email.is_empty() {
                "(no address)"
            } else {
                &s.email
            };
            let _ = writeln!(out, "  x {email} ({}{at}): {}", s.source, s.reason);
        }
    }
    summary(&mut out, plan);
    out
}

fn change(out: &mut String, c: &AccountChange, mark: char) {
    let after = if c.depends_on.is_empty() {
        String::new()
    } else {
        let ids: Vec<String> = c.depends_on.iter().map(|d| format!("#{d}")).collect();
        format!(" (after {})", ids.join(", "))
    };
    let _ = writeln!(out, "  {mark} #{} {}: {}{after}", c.id, c.email, c.reason);
    for step in &c.steps {
        let line = match step {
            Step::Create {
                account,
                welcome_letter,
                ..
            } => {
                let letter = if *welcome_letter {
                    "welcome letter"
                } else {
                    "no welcome letter"
                };
                let names = [account.first_name.as_deref(), account.last_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut l = format!("create as {}, {letter}", account.user_type);
                if !names.is_empty() {
                    let _ = write!(l, ", name {names}");
                }
                for a in &account.aliases {
                    let _ = write!(l, "\n      + alias {a}");
                }
                l
            }
            Step::SetField {
                field,
                before,
                after,
            } => format!(
                "{field}: {} -> {}",
                before
                    .as_deref()
                    .map_or("(empty)".into(), |v| format!("{v:?}")),
                after
                    .as_deref()
                    .map_or("(empty)".into(), |v| format!("{v:?}"))
            ),
            Step::AddAliases { aliases } => list("+ alias", aliases.iter()),
            Step::RemoveAliases { aliases } => list("- alias", aliases.iter()),
            Step::ChangeList { field, add, remove } => {
                let mut l = String::new();
                for v in add {
                    let _ = write!(l, "\n      + {field} {v}");
                }
                for v in remove {
                    let _ = write!(l, "\n      - {field} {v}");
                }
                l.trim_start_matches("\n      ").to_owned()
            }
            Step::SetType { from, to } => format!("type {from} -> {to}"),
            Step::Activate => "reactivate".into(),
            Step::Deactivate => "deactivate".into(),
            Step::Flag => "flag (recorded by muster; mail keeps flowing)".into(),
            Step::Unflag => "clear the deletion flag".into(),
            Step::Adopt { origin } => format!("now owned by {origin}"),
            Step::Delete => "delete the account".into(),
            Step::ChangePrimary {
                from,
                strip_aliases,
                account,
                keep_old_as_alias,
            } => {
                let mut l = format!("1. strip {} alias(es) from {from}", strip_aliases.len());
                let _ = write!(
                    l,
                    "\n      2. create {} as {} (settings copied, no welcome letter)",
                    account.primary_email, account.user_type
                );
                let _ = write!(l, "\n      3. delete {from}");
                if *keep_old_as_alias {
                    let _ = write!(l, "\n      4. add {from} back as an alias");
                } else {
                    let _ = write!(
                        l,
                        "\n      4. {from} is not kept (the directory no longer lists it)"
                    );
                }
                l
            }
        };
        let _ = writeln!(out, "      {line}");
    }
}

fn list<'x>(prefix: &str, items: impl Iterator<Item = &'x muster_core::EmailAddress>) -> String {
    items
        .map(|a| format!("{prefix} {a}"))
        .collect::<Vec<_>>()
        .join("\n      ")
}

fn action(a: ConflictAction) -> &'static str {
    match a {
        ConflictAction::DeleteNow => "delete now",
        ConflictAction::Ignore => "ignore",
        ConflictAction::Deactivate => "deactivate",
        ConflictAction::Export => "export",
    }
}

fn summary(out: &mut String, plan: &Plan) {
    let s = &plan.summary;
    let count = |k: &str| s.changes.get(k).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "\nSummary: {} to add, {} to rename, {} to update, {} to flag, {} to delete; {} conflicts; {} skipped",
        count("create"),
        count("rename"),
        count("update"),
        count("flag"),
        count("delete"),
        s.conflicts,
        s.skipped
    );
    let licences = match (s.licence_count, s.over_licence_by) {
        (Some(l), Some(over)) => format!(" of {l} licences ({over} over)"),
        (Some(l), None) => format!(" of {l} licences"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "Welcome letters: {} ({}); billable users {} -> {}{licences}; about {} API calls",
        s.welcome_letters,
        s.welcome_rule.describe(),
        s.billable_before,
        s.billable_after,
        s.api_calls
    );
    let t = &plan.threshold;
    let _ = write!(
        out,
        "Destructive changes: {} (threshold allows {})",
        t.destructive, t.allowed
    );
    match t.exceeded_by {
        Some(by) if t.overridden => {
            let _ = writeln!(out, "; exceeded by {by}, overridden by the administrator");
        }
        Some(by) => {
            let _ = writeln!(
                out,
                "\nTHRESHOLD EXCEEDED by {by}: this plan needs an explicit override to be applied"
            );
        }
        None => out.push('\n'),
    }
    if let Some(next) = plan.conflicts.iter().filter_map(|c| c.delete_after).min() {
        let _ = writeln!(out, "Next possible deletion: {}", day(next));
    }
}
