//! The User Conflicts list on its own (`muster conflicts list` and
//! `export`): the conflicts of one plan, as text, JSON or CSV.

use muster_core::{neutralize_cell, sanitize};

use crate::plan::Plan;

/// The CSV columns of [`conflicts_csv`], in order.
pub const CONFLICT_COLUMNS: [&str; 9] = [
    "email",
    "type",
    "origin",
    "kind",
    "flagged_since",
    "absent_runs",
    "delete_after",
    "ignored",
    "reason",
];

/// The conflicts as the preview lists them, one line each, headed by the
/// plan they come from.
#[must_use]
pub fn conflicts_text(plan: &Plan) -> String {
    let mut out = format!(
        "User conflicts of plan {} ({})\n",
        sanitize(&plan.fingerprint),
        plan.conflicts.len()
    );
    for c in &plan.conflicts {
        super::text_preview::conflict_line(&mut out, c);
    }
    out
}

/// The conflicts as a JSON array (each as in the plan's JSON).
#[must_use]
pub fn conflicts_json(plan: &Plan) -> String {
    let mut out = Vec::new();
    let formatter = super::VisibleJson(serde_json::ser::PrettyFormatter::new());
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(&plan.conflicts, &mut serializer)
        .unwrap_or_else(|e| unreachable!("conflicts serialise: {e}"));
    String::from_utf8(out).unwrap_or_else(|e| unreachable!("serde_json writes UTF-8: {e}"))
}

/// The conflicts as CSV ([`CONFLICT_COLUMNS`]), every cell through the one
/// sanitiser and neutralised for spreadsheets, like the preview's CSV.
#[must_use]
pub fn conflicts_csv(plan: &Plan) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_record(CONFLICT_COLUMNS);
    let time =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    for c in &plan.conflicts {
        let kind = serde_json::to_value(c.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let cells = [
            c.email.to_string(),
            c.user_type.as_str().to_owned(),
            c.origin.to_string(),
            kind,
            time(c.flagged_since),
            c.absent_runs.to_string(),
            time(c.delete_after),
            c.ignored.to_string(),
            c.reason.clone(),
        ]
        .map(|cell| neutralize_cell(&sanitize(&cell)).into_owned());
        let _ = w.write_record(&cells);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}
