//! HR records (email, employment status, any other columns) from a CSV file
//! or from rows the caller already has (Python dicts later).
//!
//! Both inputs go through one [`HrCollector`], so they behave alike: a row
//! without a usable address is an issue, a person listed twice with the same
//! status is one record, and a person listed twice with *different* statuses
//! is an issue naming both lines, keeping the status that changes less
//! (active before leave before unknown before terminated): the
//! functional-account rule must not act on a coin toss.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use muster_core::{HrRecord, HrSnapshot, HrStatus, Location, SourceIssue};

use crate::error::Error;
use crate::issues::Issues;
use crate::source::{off_runtime, open_file};
use crate::table::{CsvFormat, Next, Row, Table, unescape_cell};
use crate::values::parse_address;

/// Which columns (or keys) hold the address and the status, and how status values map.
///
/// ```
/// use muster_core::HrStatus;
/// use muster_directory::HrColumns;
/// let columns = HrColumns::default()
///     .email("Work Email")
///     .status("Employment Status")
///     .map_status("Garden leave", HrStatus::Leave)
///     .map_status("Retired", HrStatus::Terminated);
/// # let _ = columns;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct HrColumns {
    email: String,
    status: String,
    statuses: BTreeMap<String, HrStatus>,
}

impl Default for HrColumns {
    /// Columns `email` and `status`; statuses parsed by [`HrStatus`]'s own spellings.
    fn default() -> Self {
        HrColumns {
            email: "email".into(),
            status: "status".into(),
            statuses: BTreeMap::new(),
        }
    }
}

impl HrColumns {
    /// Renames the address column.
    pub fn email(mut self, header: impl Into<String>) -> Self {
        self.email = header.into();
        self
    }

    /// Renames the status column.
    pub fn status(mut self, header: impl Into<String>) -> Self {
        self.status = header.into();
        self
    }

    /// Maps a status value (compared ignoring case and surrounding spaces) to a status.
    /// Unmapped values go through [`HrStatus`]'s parser; unknown ones stay [`HrStatus::Other`].
    pub fn map_status(mut self, value: &str, status: HrStatus) -> Self {
        self.statuses.insert(value.trim().to_lowercase(), status);
        self
    }

    fn status_of(&self, value: &str) -> HrStatus {
        self.statuses
            .get(&value.trim().to_lowercase())
            .cloned()
            .unwrap_or_else(|| value.parse().unwrap_or_else(|never| match never {}))
    }

    fn is_email(&self, key: &str) -> bool {
        key.trim().eq_ignore_ascii_case(self.email.trim())
    }

    fn is_status(&self, key: &str) -> bool {
        key.trim().eq_ignore_ascii_case(self.status.trim())
    }
}

/// What an HR status cell must hold.
const STATUS_EXPECTED: &str = "an employment status (active, terminated, leave, or a value mapped in the HR settings); this person is held: no change";

/// How far a status is from "employed": the lower, the fewer changes it causes.
fn rank(status: &HrStatus) -> u8 {
    match status {
        HrStatus::Active => 0,
        HrStatus::Leave => 1,
        HrStatus::Terminated => 3,
        _ => 2,
    }
}

/// Turns HR rows into records, one per person.
struct HrCollector<'a> {
    columns: &'a HrColumns,
    records: Vec<HrRecord>,
    seen: HashMap<Box<str>, usize>,
    issues: Issues,
    /// Why the snapshot is incomplete, when the file's structure broke.
    partial: Option<String>,
}

impl<'a> HrCollector<'a> {
    fn new(columns: &'a HrColumns) -> Self {
        HrCollector {
            columns,
            records: Vec::new(),
            seen: HashMap::new(),
            issues: Issues::default(),
            partial: None,
        }
    }

    /// Records a break in the file's structure: the snapshot becomes partial,
    /// and the HR rule is not applied (`Guard::HrIncomplete`).
    fn broken(&mut self, issue: SourceIssue, reason: String) {
        self.issues.push(issue);
        self.partial.get_or_insert(reason);
    }

    /// One row: its address, its status and the other cells as attributes.
    fn add(
        &mut self,
        location: Location,
        email: Option<&str>,
        status: Option<&str>,
        attributes: BTreeMap<String, String>,
    ) {
        let issue = |field: &str, value: &str, expected: &str| {
            SourceIssue::new(location.clone(), expected)
                .with_field(field)
                .with_value(value)
        };
        let email_value = email.unwrap_or("").trim();
        let email = match parse_address(email_value) {
            Ok(e) => e,
            Err(expected) => {
                return self
                    .issues
                    .push(issue(&self.columns.email, email_value, &expected));
            }
        };
        let status_value = status.unwrap_or("").trim();
        let status = self.columns.status_of(status_value);
        if let HrStatus::Other(_) = status {
            // Blank or unknown: an issue, and the person is kept with a
            // status the HR rule never acts on, so they are held (no change)
            // rather than absent from HR, which would change their account.
            let mut found = SourceIssue::new(location.clone(), STATUS_EXPECTED)
                .with_field(&self.columns.status);
            if !status_value.is_empty() {
                found = found.with_value(status_value);
            }
            self.issues.push(found);
        }
        let key: Box<str> = email.normalized().into();
        if let Some(&first) = self.seen.get(&key) {
            let earlier = &mut self.records[first];
            if earlier.status != status {
                // Keep the reading that changes less: a wrong "terminated" turns
                // a working person's mailbox into a functional account.
                let kept = if rank(&status) < rank(&earlier.status) {
                    status.clone()
                } else {
                    earlier.status.clone()
                };
                let expected = format!(
                    "one status per person; an earlier record says `{}`, `{}` is kept",
                    earlier.status, kept,
                );
                let mut found = issue(&self.columns.status, status_value, &expected);
                if let Some(related) = earlier.location.clone() {
                    found = found.with_related(related);
                }
                earlier.status = kept;
                self.issues.push(found);
            }
            return;
        }
        self.seen.insert(key, self.records.len());
        let mut record = HrRecord::new(email, status);
        record.attributes = attributes;
        record.location = Some(location);
        self.records.push(record);
    }

    fn finish(self, source: &str) -> HrSnapshot {
        let mut snapshot = HrSnapshot::new(source, self.records);
        snapshot.issues = self.issues.into_sorted();
        if let Some(reason) = self.partial {
            snapshot.completeness = muster_core::Completeness::Partial { reason };
        }
        snapshot
    }
}

/// HR records from rows the caller already has: each row a set of
/// (column, value) pairs, e.g. a list of Python dicts. Issues name the row's
/// 0-based index.
///
/// ```
/// use muster_core::HrStatus;
/// use muster_directory::{HrColumns, hr_from_rows};
/// let rows = vec![
///     vec![("email", "ann@example.com"), ("status", "Active"), ("team", "Ops")],
///     vec![("email", "bob@example.com"), ("status", "Terminated")],
/// ];
/// let hr = hr_from_rows("workday", &HrColumns::default(), rows);
/// assert_eq!(hr.records[1].status, HrStatus::Terminated);
/// assert_eq!(hr.records[0].attributes["team"], "Ops");
/// ```
#[must_use]
pub fn hr_from_rows<I, R, K, V>(source: &str, columns: &HrColumns, rows: I) -> HrSnapshot
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut out = HrCollector::new(columns);
    for (index, row) in rows.into_iter().enumerate() {
        let (mut email, mut status) = (None, None);
        let mut attributes = BTreeMap::new();
        for (key, value) in row {
            let (key, value) = (key.as_ref(), value.as_ref());
            if columns.is_email(key) {
                email = Some(value.to_owned());
            } else if columns.is_status(key) {
                status = Some(value.to_owned());
            } else {
                attributes.insert(key.to_owned(), value.to_owned());
            }
        }
        out.add(
            Location::record(index),
            email.as_deref(),
            status.as_deref(),
            attributes,
        );
    }
    out.finish(source)
}

/// HR records from a CSV file with a header row.
///
/// ```
/// use muster_directory::HrCsv;
/// let csv = "Email;Status;Manager\nann@example.com;Leave;bob@example.com\n";
/// let hr = HrCsv::new("hr.csv").read_from(csv.as_bytes())?;
/// assert_eq!(hr.records[0].attributes["Manager"], "bob@example.com");
/// # Ok::<(), muster_directory::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct HrCsv {
    path: PathBuf,
    name: String,
    columns: HrColumns,
    format: CsvFormat,
}

impl HrCsv {
    /// The file at `path`, with the default columns.
    pub fn new(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        HrCsv {
            name: path.display().to_string(),
            path,
            columns: HrColumns::default(),
            format: CsvFormat::default(),
        }
    }

    /// Names the source.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the columns and status mapping.
    pub fn columns(mut self, columns: HrColumns) -> Self {
        self.columns = columns;
        self
    }

    /// Sets the encoding and delimiter instead of detecting them.
    pub fn format(mut self, format: CsvFormat) -> Self {
        self.format = format;
        self
    }

    /// Reads the file (blocking).
    ///
    /// # Errors
    /// [`Error::Read`] when it cannot be read to the end; [`Error::MissingHeader`]
    /// or [`Error::MissingColumn`] when the email or status column is missing;
    /// the encoding errors of [`StandardCsv::read`](crate::StandardCsv::read).
    /// A quote that never closes or swallows rows makes the snapshot partial
    /// (the HR rule is then not applied).
    pub fn read(&self) -> Result<HrSnapshot, Error> {
        self.read_from(open_file(&self.path, &self.name)?)
    }

    /// Reads the file on tokio's blocking pool.
    ///
    /// # Errors
    /// As [`HrCsv::read`].
    pub async fn fetch(&self) -> Result<HrSnapshot, Error> {
        let source = self.clone();
        off_runtime(&self.name, move || source.read()).await
    }

    /// Reads HR CSV from any reader, incrementally (blocking).
    ///
    /// # Errors
    /// As [`HrCsv::read`].
    pub fn read_from(&self, input: impl Read) -> Result<HrSnapshot, Error> {
        let mut table = Table::open(&self.name, input, self.format)?;
        let mut out = HrCollector::new(&self.columns);
        let mut row = Row::default();
        let headers: Vec<String> = loop {
            match table.next_row(&mut row)? {
                Next::Row => break row.cells().map(str::to_owned).collect(),
                Next::Broken { issue, reason } => out.broken(issue, reason),
                Next::End => {
                    return Err(Error::MissingHeader {
                        file: self.name.clone(),
                    });
                }
            }
        };
        let find = |wanted: &dyn Fn(&str) -> bool, column: &str| {
            headers
                .iter()
                .position(|h| wanted(h))
                .ok_or_else(|| Error::MissingColumn {
                    file: self.name.clone(),
                    column: column.to_owned(),
                    needed_for: "hr records".to_owned(),
                })
        };
        let email = find(&|h| self.columns.is_email(h), &self.columns.email)?;
        let status = find(&|h| self.columns.is_status(h), &self.columns.status)?;
        loop {
            match table.next_row(&mut row)? {
                Next::End => break,
                Next::Broken { issue, reason } => out.broken(issue, reason),
                Next::Row => {
                    let attributes = headers
                        .iter()
                        .enumerate()
                        .filter(|(i, h)| *i != email && *i != status && !h.is_empty())
                        .map(|(i, h)| (h.clone(), unescape_cell(row.get(i)).to_owned()))
                        .collect();
                    out.add(
                        Location::line(self.name.as_str(), row.line),
                        Some(unescape_cell(row.get(email))),
                        Some(unescape_cell(row.get(status))),
                        attributes,
                    );
                }
            }
        }
        Ok(out.finish(&self.name))
    }
}
