//! Reading an approval file against the plan it approves.

use std::path::Path;

use muster_core::Sanitized;
use muster_reconcile::{Pick, Plan, PlanError, PlanKey, Selection};

/// The picks an approval file leaves out of `plan`: an approval file
/// (`plan: <fingerprint>`, then addresses or `#ids`), or the CSV preview
/// with its `exclude` column marked in a spreadsheet (told apart by its
/// first row, `plan,…` or `plan;…`). `path` names the file in errors.
///
/// With a plan `key`, only an approval signed by it counts (`muster
/// approve` signs on the reviewer's side), so whoever can only write files
/// cannot approve a deletion. An approval of another plan is refused: ids
/// and addresses mean nothing outside the plan they were picked from.
///
/// # Errors
/// [`PlanError::Approval`] (unreadable, another plan's, unsigned with a
/// key), [`PlanError::SignedWithAnotherKey`], [`PlanError::BadSignature`].
pub fn read_approval(
    text: &str,
    path: &Path,
    plan: &Plan,
    key: Option<&PlanKey>,
) -> Result<Vec<Pick>, PlanError> {
    let first = text.trim_start_matches('\u{feff}').trim_start();
    let reviewed_csv = first.starts_with("plan,") || first.starts_with("plan;");
    let selection = if reviewed_csv {
        Selection::from_reviewed_csv(text)
    } else {
        Selection::parse(text)
    }?;
    if let Some(key) = key {
        selection.verify(key)?;
    }
    if selection.fingerprint != plan.fingerprint {
        return Err(PlanError::Approval(format!(
            "`{}` approves plan {}, not this one ({})",
            Sanitized(&path.display().to_string()),
            Sanitized(&selection.fingerprint),
            plan.fingerprint
        )));
    }
    Ok(selection.picks)
}
