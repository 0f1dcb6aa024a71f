//! The "Export preview to .csv": one row per address with its type, its
//! primary/alias relationship, the change and the reason.

use muster_core::{neutralize_cell, sanitize};

use crate::plan::{AccountChange, Plan, Step};

/// The columns, in order. `exclude` is left empty for a reviewer to mark:
/// `muster apply --exclude-from` reads the saved file back.
pub const COLUMNS: [&str; 7] = [
    "email",
    "type",
    "relationship",
    "primary",
    "change",
    "reason",
    "exclude",
];

/// Renders the preview as CSV (UTF-8, header row, CRLF-free). Every cell
/// goes through muster's one sanitiser ([`sanitize`]: no control, bidi or
/// invisible character reaches the reviewer) and then [`neutralize_cell`]:
/// names and addresses come from directories, and a reviewer will open this
/// file in a spreadsheet.
#[must_use]
pub fn csv(plan: &Plan) -> String {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    // The plan it previews, for an approval made from it.
    let _ = w.write_record(["plan", &sanitize(&plan.fingerprint)]);
    let _ = w.write_record(COLUMNS);
    let mut row = |cells: [&str; 6]| {
        let mut cells = cells
            .map(|c| neutralize_cell(&sanitize(c)).into_owned())
            .to_vec();
        cells.push(String::new());
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&cells);
    };
    for c in &plan.changes {
        rows_for_change(c, &mut row);
    }
    for c in &plan.conflicts {
        row([
            c.email.as_str(),
            c.user_type.as_str(),
            "primary",
            "",
            "conflict",
            &c.reason,
        ]);
    }
    for s in &plan.skipped {
        row([&s.email, "", "", "", "skipped", &s.reason]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

fn rows_for_change(c: &AccountChange, row: &mut impl FnMut([&str; 6])) {
    let email = c.email.as_str();
    let ty = c
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Create { account, .. } | Step::ChangePrimary { account, .. } => {
                Some(account.user_type.as_str())
            }
            Step::SetType { to, .. } => Some(to.as_str()),
            _ => None,
        })
        .or(c.expect.user_type.as_ref().map(|t| t.as_str()))
        .unwrap_or("");
    let mut names: Vec<&str> = c.steps.iter().map(Step::name).collect();
    names.dedup();
    row([email, ty, "primary", "", &names.join(" + "), &c.reason]);
    for step in &c.steps {
        match step {
            Step::Create { account, .. } | Step::ChangePrimary { account, .. } => {
                for a in &account.aliases {
                    row([a.as_str(), "", "alias", email, "add alias", &c.reason]);
                }
            }
            Step::AddAliases { aliases } => {
                for a in aliases {
                    row([a.as_str(), "", "alias", email, "add alias", &c.reason]);
                }
            }
            Step::RemoveAliases { aliases } => {
                for a in aliases {
                    row([a.as_str(), "", "alias", email, "remove alias", &c.reason]);
                }
            }
            _ => {}
        }
    }
}
