//! Renderers: the vendors' preview text ([`text`]), versioned JSON
//! ([`json`], [`from_json`]) and the "Export preview to .csv" ([`csv()`]).
//!
//! ```no_run
//! # fn get_plan() -> muster_reconcile::Plan { unimplemented!() }
//! let plan = get_plan();
//! println!("{}", muster_reconcile::render::text(&plan));
//! std::fs::write("preview.csv", muster_reconcile::render::csv(&plan))?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod csv_export;
mod text_preview;

pub use csv_export::{COLUMNS, csv};
pub use text_preview::text;

use crate::error::PlanError;
use crate::plan::{PLAN_SCHEMA_VERSION, Plan};

/// The plan as pretty JSON. The schema is versioned by `schema_version`
/// ([`PLAN_SCHEMA_VERSION`]); field order and change order are stable, so
/// two renders of the same plan are byte-identical.
#[must_use]
pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).unwrap_or_else(|e| unreachable!("a plan serialises: {e}"))
}

/// Reads a saved plan, refusing another schema version.
pub fn from_json(input: &str) -> Result<Plan, PlanError> {
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: u32,
    }
    let version: Version =
        serde_json::from_str(input).map_err(|e| PlanError::InvalidPlan(std::sync::Arc::new(e)))?;
    if version.schema_version != PLAN_SCHEMA_VERSION {
        return Err(PlanError::UnsupportedPlanVersion {
            found: version.schema_version,
            supported: PLAN_SCHEMA_VERSION,
        });
    }
    serde_json::from_str(input).map_err(|e| PlanError::InvalidPlan(std::sync::Arc::new(e)))
}
