//! The vendors' preview, as text: Adding / Updating / Deleting, conflicts,
//! skipped, summary.

use std::borrow::Cow;
use std::fmt::{Display, Write as _};

use muster_core::{sanitize, sanitize_value};

use crate::plan::{AccountChange, ChangeKind, ConflictAction, Plan, Step};
use crate::rules::day;

/// Outside text (a name, an address, a reason quoting a value, a source's
/// name), [`sanitize`]d: nothing in the data can move the cursor, break the
/// line or hide a character.
fn o(text: &str) -> Cow<'_, str> {
    sanitize(text)
}

/// [`o`] for anything displayed (addresses, types, origins, guards).
fn d(value: impl Display) -> String {
    sanitize(&value.to_string()).into_owned()
}

/// A field's value, always in quotes (its own quotes escaped), so a value
/// can never read as the arrow or the next value.
fn quoted(value: &str) -> String {
    format!("\"{}\"", sanitize(value).replace('"', "\\\""))
}

/// `about 8 s at 100 requests/minute`: how long `calls` requests take at
/// the rate, rounded up (never promising less than it takes); `None` when
/// there is no rate or nothing to send. How long an apply takes is set by
/// the gateway's budget, and the rate (configured, or learned by the
/// client) is the run's, not the plan's: it is said beside the preview, never
/// in it, so the plan and what `show` prints of it stay the same.
///
/// ```
/// use muster_reconcile::render::duration_at_rate;
/// assert_eq!(duration_at_rate(12, 100.0).as_deref(), Some("about 8 s at 100 requests/minute"));
/// assert_eq!(duration_at_rate(300, 100.0).as_deref(), Some("about 3 min at 100 requests/minute"));
/// assert_eq!(duration_at_rate(0, 100.0), None);
/// ```
#[must_use]
pub fn duration_at_rate(calls: u64, requests_per_minute: f64) -> Option<String> {
    if !(requests_per_minute > 0.0 && calls > 0) {
        return None;
    }
    let secs = (calls as f64 * 60.0 / requests_per_minute).ceil() as u64;
    let minutes = secs.div_ceil(60);
    let took = match secs {
        0..120 => format!("{secs} s"),
        120..7200 => format!("{minutes} min"),
        _ => format!("{} h {} min", minutes / 60, minutes % 60),
    };
    Some(format!(
        "about {took} at {requests_per_minute:.0} requests/minute"
    ))
}

/// Renders the plan for a human to review before it is applied. Every value
/// from outside goes through muster's one sanitiser ([`sanitize`]): each
/// line of the output starts with what this renderer wrote.
#[must_use]
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan for {} on {} from {}, {} (fingerprint {})",
        o(&plan.org),
        o(&plan.stack),
        o(&plan.source),
        plan.planned_at.format("%Y-%m-%d %H:%M UTC"),
        o(&plan.fingerprint)
    );
    if let Some(signature) = &plan.signature {
        let _ = writeln!(out, "Signed with plan key {}", o(&signature.key_id));
    }
    for guard in &plan.guards {
        let _ = writeln!(out, "SAFETY: {}", d(guard));
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
            conflict_line(&mut out, c);
        }
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(out, "\nSkipped ({})", plan.skipped.len());
        for s in &plan.skipped {
            let at = s
                .location
                .as_ref()
                .map(|l| format!(", {}", d(l)))
                .unwrap_or_default();
            let email = if s.email.is_empty() {
                "(no address)".into()
            } else {
                sanitize_value(&s.email)
            };
            let _ = writeln!(out, "  x {email} ({}{at}): {}", o(&s.source), o(&s.reason));
        }
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(out, "\nNotes ({})", plan.notes.len());
        for note in &plan.notes {
            let _ = writeln!(out, "  * {}", d(note));
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
    let _ = writeln!(
        out,
        "  {mark} #{} {}: {}{after}",
        c.id,
        d(&c.email),
        o(&c.reason)
    );
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
                let mut l = format!("create as {}, {letter}", d(&account.user_type));
                if !account.active {
                    l.push_str(", inactive");
                }
                if !names.is_empty() {
                    let _ = write!(l, ", name {}", sanitize_value(&names));
                }
                for a in &account.aliases {
                    let _ = write!(l, "\n      + alias {}", d(a));
                }
                l
            }
            Step::SetField {
                field,
                before,
                after,
            } => format!(
                "{field}: {} -> {}",
                before.as_deref().map_or("(empty)".into(), quoted),
                after.as_deref().map_or("(empty)".into(), quoted)
            ),
            Step::AddAliases { aliases } => list("+ alias", aliases.iter()),
            Step::RemoveAliases { aliases } => list("- alias", aliases.iter()),
            Step::ChangeList { field, add, remove } => {
                let mut l = String::new();
                for v in add {
                    let _ = write!(l, "\n      + {field} {}", sanitize_value(v));
                }
                for v in remove {
                    let _ = write!(l, "\n      - {field} {}", sanitize_value(v));
                }
                l.trim_start_matches("\n      ").to_owned()
            }
            Step::SetType { from, to } => format!("type {} -> {}", d(from), d(to)),
            Step::Activate => "reactivate".into(),
            Step::Deactivate => "deactivate".into(),
            Step::Flag => "flag (recorded by muster; mail keeps flowing)".into(),
            Step::Unflag => "clear the deletion flag".into(),
            Step::Adopt { origin } => format!("now owned by {}", d(origin)),
            Step::Delete => "delete the account".into(),
            Step::ChangePrimary {
                from,
                strip_aliases,
                account,
                keep_old_as_alias,
            } => {
                let from = d(from);
                let mut l = format!("1. strip {} alias(es) from {from}", strip_aliases.len());
                let _ = write!(
                    l,
                    "\n      2. create {} as {} (settings copied, no welcome letter)",
                    d(&account.primary_email),
                    d(&account.user_type)
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
        .map(|a| format!("{prefix} {}", d(a)))
        .collect::<Vec<_>>()
        .join("\n      ")
}

/// One line of the User Conflicts list, as the preview and `muster
/// conflicts list` print it.
pub(crate) fn conflict_line(out: &mut String, c: &crate::plan::Conflict) {
    let actions: Vec<&str> = c.actions.iter().map(|a| action(*a)).collect();
    let _ = writeln!(
        out,
        "  ? {} ({}, {}): {} [{}]",
        d(&c.email),
        d(&c.user_type),
        d(&c.origin),
        o(&c.reason),
        actions.join(" | ")
    );
}

pub(crate) fn action(a: ConflictAction) -> &'static str {
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
    let _ = writeln!(
        out,
        "Destructive changes: {} (threshold allows {}); creates: {} (limit allows {})",
        t.destructive, t.allowed, t.creates, t.creates_allowed
    );
    for what in t.exceeded() {
        if t.overridden {
            let _ = writeln!(
                out,
                "THRESHOLD EXCEEDED: {what}, overridden by the administrator"
            );
        } else {
            let _ = writeln!(
                out,
                "THRESHOLD EXCEEDED: {what}: this plan needs an explicit override to be applied"
            );
        }
    }
    if let Some(next) = plan.conflicts.iter().filter_map(|c| c.delete_after).min() {
        let _ = writeln!(out, "Next possible deletion: {}", day(next));
    }
}
