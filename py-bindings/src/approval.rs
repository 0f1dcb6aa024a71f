//! Approving part of a plan from Python: `exclude=`, `only=` and
//! `approval=` on `Gateway.apply` and `Config.apply`, and `Plan.approve`
//! to see what a selection brings along. The rules (approval units, the
//! approval file, signatures) are `muster::reconcile`'s and
//! `muster::read_approval`'s.

use std::path::PathBuf;

use muster::core::Sanitized;
use muster::reconcile::{Approval, Pick, Plan, PlanKey};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors;

/// What a script picked: addresses or `#ids` to leave out or to apply
/// only, and an approval file.
#[derive(Default)]
pub(crate) struct PickArgs {
    pub(crate) exclude: Option<Vec<String>>,
    pub(crate) only: Option<Vec<String>>,
    pub(crate) approval: Option<PathBuf>,
}

/// `exclude=["bob@example.com", "#12"]` as picks; a value that is neither
/// is a `ValueError` naming the argument and the item.
fn picks(argument: &str, values: Option<Vec<String>>) -> PyResult<Vec<Pick>> {
    values
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.parse()
                .map_err(|e| PyValueError::new_err(format!("{argument}[{i}]: {e}")))
        })
        .collect()
}

/// The approved part of `plan`, or `None` for all of it. What a pick
/// brings along (a change it moves an address to or from) is logged on
/// `muster.approval`, as the CLI says it on standard error.
pub(crate) fn approve(
    py: Python<'_>,
    plan: &Plan,
    args: PickArgs,
    key: Option<&PlanKey>,
) -> PyResult<Option<Approval>> {
    let only = picks("only", args.only)?;
    let mut exclude = picks("exclude", args.exclude)?;
    if let Some(path) = &args.approval {
        let text = std::fs::read_to_string(path).map_err(|e| {
            pyo3::exceptions::PyOSError::new_err(format!(
                "cannot read the approval file `{}`: {e}",
                Sanitized(&path.display().to_string())
            ))
        })?;
        exclude
            .extend(muster::read_approval(&text, path, plan, key).map_err(|e| errors::plan(&e))?);
    }
    if only.is_empty() && exclude.is_empty() {
        return Ok(None);
    }
    let approval = plan
        .approve(&only, &exclude)
        .map_err(|e| errors::plan(&e))?;
    let logger = py
        .import("logging")?
        .call_method1("getLogger", ("muster.approval",))?;
    for (picked, others) in &approval.brought_along {
        let verb = if approval.included.contains(picked) {
            "also applies"
        } else {
            "also leaves out"
        };
        let others: Vec<String> = others.iter().map(|id| format!("#{id}")).collect();
        logger.call_method1(
            "warning",
            (format!(
                "approval: #{picked} {verb} {} (they move an address between them)",
                others.join(", ")
            ),),
        )?;
    }
    Ok(Some(approval))
}

/// `muster approve PLAN --out FILE`: an approval file for the part of
/// `plan` (a `Plan`, or a saved plan's path) that the picks leave out —
/// each change left out by id — signed with the plan key of `config` when
/// it has one, so `apply(approval=FILE)` on the apply host can tell it came
/// from a key holder. Written owner-only and atomically. Returns what it
/// approves, as `Plan.approve` does.
#[pyfunction]
#[pyo3(name = "approve", signature = (plan, out, *, exclude=None, only=None, approval=None, config=None))]
pub(crate) fn approve_to_file<'py>(
    py: Python<'py>,
    plan: Bound<'py, PyAny>,
    out: PathBuf,
    exclude: Option<Vec<String>>,
    only: Option<Vec<String>>,
    approval: Option<PathBuf>,
    config: Option<PyRef<'py, crate::config::Config>>,
) -> PyResult<Bound<'py, PyAny>> {
    let plan = crate::planning::plan_or_path(&plan)?;
    let key = match &config {
        Some(config) => config.plan_key()?,
        None => None,
    };
    let args = PickArgs {
        exclude,
        only,
        approval,
    };
    // The reviewer's own inputs are not checked against the key: this is
    // where the key holder vouches for them (as `muster approve`).
    let approved = approve(py, &plan, args, None)?.unwrap_or_else(|| {
        let mut all = muster::reconcile::Approval::default();
        all.included = plan.changes.iter().map(|c| c.id).collect();
        all
    });
    let selection = muster::reconcile::Selection::leaving_out(&plan, &approved, key.as_ref());
    muster::write_private(&out, selection.render().as_bytes()).map_err(|e| {
        pyo3::exceptions::PyOSError::new_err(format!(
            "cannot write the approval to `{}`: {e}",
            Sanitized(&out.display().to_string())
        ))
    })?;
    crate::planning::approved_to_py(py, &approved)
}
