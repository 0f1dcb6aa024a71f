//! Renderers: the vendors' preview text ([`text`]), versioned JSON
//! ([`json`], [`from_json`]) and the "Export preview to .csv" ([`csv()`]).
//!
//! ```no_run
//! # fn get_plan() -> muster_reconcile::Plan { unimplemented!() }
//! let plan = get_plan();
//! println!("{}", muster_reconcile::render::text(&plan));
//! let preview = muster_reconcile::render::csv(&plan);
//! # let _ = preview;
//! ```
//!
//! Every rendering holds directory data: write it readable by its owner
//! only, as `muster::write_private` (in the umbrella crate) does.

mod conflicts;
mod csv_export;
mod text_preview;

pub use conflicts::{CONFLICT_COLUMNS, conflicts_csv, conflicts_json, conflicts_text};
pub use csv_export::{COLUMNS, csv};
pub use text_preview::{duration_at_rate, text};

use crate::error::PlanError;
use crate::plan::{PLAN_SCHEMA_VERSION, Plan};

/// The plan as pretty JSON. The schema is versioned by `schema_version`
/// ([`PLAN_SCHEMA_VERSION`]); field order and change order are stable, so
/// two renders of the same plan are byte-identical.
///
/// A plan file is read by people too (`cat plan.json`, a code review of
/// it): every character [`muster_core::is_hidden`] finds in a string is
/// written as a JSON `\u` escape, so the file is pure visible text and
/// still reads back to exactly the same plan.
#[must_use]
pub fn json(plan: &Plan) -> String {
    let mut out = Vec::new();
    let formatter = VisibleJson(serde_json::ser::PrettyFormatter::new());
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(plan, &mut serializer)
        .unwrap_or_else(|e| unreachable!("a plan serialises: {e}"));
    String::from_utf8(out).unwrap_or_else(|e| unreachable!("serde_json writes UTF-8: {e}"))
}

/// serde_json's pretty output, with every hidden character of a string
/// (controls, DEL, C1, bidi, invisible) escaped as `\uXXXX` (a surrogate
/// pair above U+FFFF). serde_json itself escapes only C0 controls.
struct VisibleJson(serde_json::ser::PrettyFormatter<'static>);

impl serde_json::ser::Formatter for VisibleJson {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if muster_core::is_hidden(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    // The pretty layout, delegated.
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
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
