//! Observations of addresses in mail flow, from a CSV file (a mail-log
//! summary) or from rows the caller already has.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use muster_core::{EmailAddress, Location, SourceIssue, UnknownValue, non_blank};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::issues::Issues;
use crate::source::{off_runtime, open_file};
use crate::table::{CsvFormat, Next, Row, Table, unescape_cell};
use crate::values::parse_address;

/// Which way the observed messages went, seen from the organisation.
///
/// The observed address is always the organisation's side: the recipient of
/// inbound mail, the sender of outbound mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Received from outside and accepted for the address (its recipient
    /// verification succeeded): evidence that the mail server knows it.
    Inbound,
    /// Sent from the organisation's mail server by the address.
    Outbound,
}

impl Direction {
    /// `inbound` or `outbound`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Direction {
    type Err = UnknownValue;

    /// Reads the spellings mail logs use, ignoring case: `inbound`, `in`,
    /// `incoming`, `received`; `outbound`, `out`, `outgoing`, `sent`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "inbound" | "in" | "incoming" | "received" => Ok(Direction::Inbound),
            "outbound" | "out" | "outgoing" | "sent" => Ok(Direction::Outbound),
            _ => Err(UnknownValue {
                value: s.to_owned(),
                what: "direction",
                expected: DIRECTION_EXPECTED,
            }),
        }
    }
}

const DIRECTION_EXPECTED: &str = "a direction: inbound (in, received) or outbound (out, sent)";
const TIME_EXPECTED: &str =
    "a UTC time like 2026-11-01T08:30:00Z, 2026-11-01 08:30:00 or 2026-11-01";
const COUNT_EXPECTED: &str = "a whole number of messages, at least 1";

/// One address seen in mail flow: how many messages, which way, when.
///
/// Counts are *accepted* messages: mail rejected because the recipient does
/// not exist is not evidence of a user and must not be fed in.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use muster_directory::{Direction, Observation};
/// let seen = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
/// let o = Observation::new("Ann@Example.com".parse()?, Direction::Inbound, 3, seen)
///     .with_display_name("Ann Lee");
/// assert_eq!(o.first_seen, o.last_seen);
/// # Ok::<(), muster_core::AddressError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Observation {
    /// The organisation's address.
    pub address: EmailAddress,
    /// Which way the messages went.
    pub direction: Direction,
    /// How many messages.
    pub messages: u64,
    /// The first message's time.
    pub first_seen: DateTime<Utc>,
    /// The last message's time. The messages count towards the threshold
    /// window on this day.
    pub last_seen: DateTime<Utc>,
    /// The display name from the message headers, if one was seen.
    pub display_name: Option<String>,
    /// Where the observation was read (file line, row index), for issues.
    pub location: Option<Location>,
}

impl Observation {
    /// `messages` messages for `address`, all at `seen`.
    #[must_use]
    pub fn new(
        address: EmailAddress,
        direction: Direction,
        messages: u64,
        seen: DateTime<Utc>,
    ) -> Self {
        Observation {
            address,
            direction,
            messages,
            first_seen: seen,
            last_seen: seen,
            display_name: None,
            location: None,
        }
    }

    /// Sets the first and last message's times.
    #[must_use]
    pub fn seen_between(mut self, first: DateTime<Utc>, last: DateTime<Utc>) -> Self {
        self.first_seen = first;
        self.last_seen = last;
        self
    }

    /// Sets the display name (blank means none).
    #[must_use]
    pub fn with_display_name(mut self, name: &str) -> Self {
        self.display_name = non_blank(name);
        self
    }

    /// Sets where the observation was read.
    #[must_use]
    pub fn with_location(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }
}

/// Observations read from one input, and the rows that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Observations {
    /// The input's name.
    pub source: String,
    /// The usable observations, in input order.
    pub observations: Vec<Observation>,
    /// Rows that could not be read, and why; hand them to
    /// [`crate::DiscoverySource::with_issues`] so they reach the snapshot.
    pub issues: Vec<SourceIssue>,
}

/// Which columns (or keys) hold what. Names match ignoring case and surrounding spaces.
///
/// Defaults: `address`, `direction`, `messages`, `first_seen` (optional: the
/// last-seen time when absent), `last_seen`, `display_name` (optional).
///
/// ```
/// use muster_directory::ObservationColumns;
/// let columns = ObservationColumns::default()
///     .address("Recipient")
///     .messages("Count")
///     .last_seen("Last Message");
/// # let _ = columns;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ObservationColumns {
    address: String,
    direction: String,
    messages: String,
    first_seen: String,
    last_seen: String,
    display_name: String,
}

impl Default for ObservationColumns {
    fn default() -> Self {
        ObservationColumns {
            address: "address".into(),
            direction: "direction".into(),
            messages: "messages".into(),
            first_seen: "first_seen".into(),
            last_seen: "last_seen".into(),
            display_name: "display_name".into(),
        }
    }
}

/// The column an observation field is read from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Address,
    Direction,
    Messages,
    FirstSeen,
    LastSeen,
    DisplayName,
}

const COLS: [Col; 6] = [
    Col::Address,
    Col::Direction,
    Col::Messages,
    Col::FirstSeen,
    Col::LastSeen,
    Col::DisplayName,
];

impl ObservationColumns {
    /// Renames the address column.
    pub fn address(mut self, header: impl Into<String>) -> Self {
        self.address = header.into();
        self
    }

    /// Renames the direction column.
    pub fn direction(mut self, header: impl Into<String>) -> Self {
        self.direction = header.into();
        self
    }

    /// Renames the message-count column.
    pub fn messages(mut self, header: impl Into<String>) -> Self {
        self.messages = header.into();
        self
    }

    /// Renames the first-seen column.
    pub fn first_seen(mut self, header: impl Into<String>) -> Self {
        self.first_seen = header.into();
        self
    }

    /// Renames the last-seen column.
    pub fn last_seen(mut self, header: impl Into<String>) -> Self {
        self.last_seen = header.into();
        self
    }

    /// Renames the display-name column.
    pub fn display_name(mut self, header: impl Into<String>) -> Self {
        self.display_name = header.into();
        self
    }

    fn name(&self, col: Col) -> &str {
        match col {
            Col::Address => &self.address,
            Col::Direction => &self.direction,
            Col::Messages => &self.messages,
            Col::FirstSeen => &self.first_seen,
            Col::LastSeen => &self.last_seen,
            Col::DisplayName => &self.display_name,
        }
    }

    fn column_of(&self, key: &str) -> Option<Col> {
        COLS.into_iter()
            .find(|&c| key.trim().eq_ignore_ascii_case(self.name(c).trim()))
    }
}

/// Reads a time: RFC 3339 with any offset, or a naive date-time or date taken as UTC.
pub(crate) fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Turns one row's cells into an observation, or the first problem with it.
fn observation(
    columns: &ObservationColumns,
    location: Location,
    cell: impl Fn(Col) -> Option<String>,
    issues: &mut Issues,
) -> Result<Observation, Box<SourceIssue>> {
    let issue = |col: Col, value: &str, expected: &str| {
        Box::new(
            SourceIssue::new(location.clone(), expected)
                .with_field(columns.name(col))
                .with_value(value),
        )
    };
    let value = |col: Col| cell(col).unwrap_or_default();
    let raw = value(Col::Address);
    let address = parse_address(&raw).map_err(|expected| issue(Col::Address, &raw, &expected))?;
    let raw = value(Col::Direction);
    let direction = raw
        .parse::<Direction>()
        .map_err(|_| issue(Col::Direction, &raw, DIRECTION_EXPECTED))?;
    let raw = value(Col::Messages);
    let messages = raw
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| issue(Col::Messages, &raw, COUNT_EXPECTED))?;
    let raw = value(Col::LastSeen);
    let last_seen = parse_time(&raw).ok_or_else(|| issue(Col::LastSeen, &raw, TIME_EXPECTED))?;
    let raw = value(Col::FirstSeen);
    let first_seen = if raw.trim().is_empty() {
        last_seen
    } else {
        parse_time(&raw).ok_or_else(|| issue(Col::FirstSeen, &raw, TIME_EXPECTED))?
    };
    if first_seen > last_seen {
        return Err(issue(
            Col::FirstSeen,
            &raw,
            "a first-seen time no later than the last-seen time",
        ));
    }
    let mut found = Observation::new(address, direction, messages, last_seen)
        .seen_between(first_seen, last_seen)
        .with_location(location.clone());
    if let Some(name) = cell(Col::DisplayName) {
        // The field rules of every reader: a bad name is left out, the
        // observation still counts.
        match crate::values::text_problem(muster_core::Field::LastName, &name) {
            None => found = found.with_display_name(&name),
            Some(expected) => issues.push(
                SourceIssue::new(location, expected)
                    .with_field(columns.name(Col::DisplayName))
                    .with_value(&name),
            ),
        }
    }
    Ok(found)
}

/// Observations from rows the caller already has: each row a set of
/// (column, value) pairs, e.g. a list of Python dicts, keyed as
/// [`ObservationColumns`] says. Issues name the row's 0-based index; keys
/// that are not columns are ignored.
///
/// ```
/// use muster_core::Location;
/// use muster_directory::{Direction, ObservationColumns, observations_from_rows};
/// let rows = vec![
///     vec![("address", "ann@example.com"), ("direction", "in"), ("messages", "4"), ("last_seen", "2026-11-01")],
///     vec![("address", "bob@"), ("direction", "in"), ("messages", "1"), ("last_seen", "2026-11-01")],
/// ];
/// let seen = observations_from_rows("maillog", &ObservationColumns::default(), rows);
/// assert_eq!(seen.observations[0].direction, Direction::Inbound);
/// assert_eq!(seen.issues[0].location, Location::record(1));
/// ```
#[must_use]
pub fn observations_from_rows<I, R, K, V>(
    source: &str,
    columns: &ObservationColumns,
    rows: I,
) -> Observations
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut observations = Vec::new();
    let mut issues = Issues::default();
    for (index, row) in rows.into_iter().enumerate() {
        let mut cells: [Option<String>; COLS.len()] = Default::default();
        for (key, value) in row {
            if let Some(col) = columns.column_of(key.as_ref()) {
                cells[col as usize] = Some(value.as_ref().to_owned());
            }
        }
        let cell = |c: Col| cells[c as usize].clone();
        match observation(columns, Location::record(index), cell, &mut issues) {
            Ok(o) => observations.push(o),
            Err(issue) => issues.push(*issue),
        }
    }
    Observations {
        source: source.to_owned(),
        observations,
        issues: issues.into_sorted(),
    }
}

/// Observations from a CSV file with a header row (a mail-log summary: one
/// row per address and direction, or per address, direction and day).
///
/// A bad row is an issue naming its file and line; the good rows around it
/// are kept. Read through the same reader as every CSV source here (BOM,
/// CRLF, `;` or tab delimiters, Windows-1252).
///
/// ```
/// use muster_core::Location;
/// use muster_directory::ObservationCsv;
/// let csv = "address;direction;messages;last_seen\n\
///            ann@example.com;inbound;3;2026-11-01T08:00:00Z\n\
///            bob@example.com;sideways;1;2026-11-01\n";
/// let seen = ObservationCsv::new("maillog.csv").read_from(csv.as_bytes())?;
/// assert_eq!(seen.observations.len(), 1);
/// assert_eq!(seen.issues[0].location, Location::line("maillog.csv", 3));
/// # Ok::<(), muster_directory::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ObservationCsv {
    path: PathBuf,
    name: String,
    columns: ObservationColumns,
    format: CsvFormat,
}

impl ObservationCsv {
    /// The file at `path`, with the default columns.
    pub fn new(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        ObservationCsv {
            name: path.display().to_string(),
            path,
            columns: ObservationColumns::default(),
            format: CsvFormat::default(),
        }
    }

    /// Names the input (used in issues).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the column names.
    pub fn columns(mut self, columns: ObservationColumns) -> Self {
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
    /// or [`Error::MissingColumn`] when the address, direction, messages or
    /// last-seen column is missing; the encoding errors of
    /// [`StandardCsv::read`](crate::StandardCsv::read); [`Error::BrokenFile`]
    /// for a quote that never closes or swallows rows (observations cannot
    /// be partial, so the file is refused).
    pub fn read(&self) -> Result<Observations, Error> {
        self.read_from(open_file(&self.path, &self.name)?)
    }

    /// Reads the file on tokio's blocking pool.
    ///
    /// # Errors
    /// As [`ObservationCsv::read`].
    pub async fn fetch(&self) -> Result<Observations, Error> {
        let source = self.clone();
        off_runtime(&self.name, move || source.read()).await
    }

    /// Reads observations from any reader, incrementally (blocking).
    ///
    /// # Errors
    /// As [`ObservationCsv::read`].
    pub fn read_from(&self, input: impl Read) -> Result<Observations, Error> {
        let mut table = Table::open(&self.name, input, self.format)?;
        let mut issues = Issues::default();
        let mut row = Row::default();
        let headers: Vec<Option<Col>> = match table.next_row(&mut row)? {
            Next::Row => row.cells().map(|h| self.columns.column_of(h)).collect(),
            Next::Broken { issue, .. } => return Err(Error::broken(issue)),
            Next::End => {
                return Err(Error::MissingHeader {
                    file: self.name.clone(),
                });
            }
        };
        let index_of = |col: Col| headers.iter().position(|h| *h == Some(col));
        let mut at = [None; COLS.len()];
        for col in COLS {
            at[col as usize] = index_of(col);
            let optional = matches!(col, Col::FirstSeen | Col::DisplayName);
            if at[col as usize].is_none() && !optional {
                return Err(Error::MissingColumn {
                    file: self.name.clone(),
                    column: self.columns.name(col).to_owned(),
                    needed_for: "smtp discovery observations".to_owned(),
                });
            }
        }
        let mut observations = Vec::new();
        loop {
            match table.next_row(&mut row)? {
                Next::End => break,
                Next::Broken { issue, .. } => return Err(Error::broken(issue)),
                Next::Row => {
                    let location = Location::line(self.name.as_str(), row.line);
                    let cell =
                        |c: Col| at[c as usize].map(|i| unescape_cell(row.get(i)).to_owned());
                    match observation(&self.columns, location, cell, &mut issues) {
                        Ok(o) => observations.push(o),
                        Err(issue) => issues.push(*issue),
                    }
                }
            }
        }
        Ok(Observations {
            source: self.name.clone(),
            observations,
            issues: issues.into_sorted(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_in_the_shapes_mail_logs_write() {
        let eight = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
        assert_eq!(parse_time("2026-11-01T08:00:00Z"), Some(eight));
        assert_eq!(parse_time("2026-11-01T09:00:00+01:00"), Some(eight));
        assert_eq!(parse_time("2026-11-01 08:00:00"), Some(eight));
        assert_eq!(parse_time("2026-11-01 08:00"), Some(eight));
        assert_eq!(
            parse_time("2026-11-01"),
            Some(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(parse_time("01/11/2026"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn directions_in_log_spellings() {
        assert_eq!("Received".parse::<Direction>().unwrap(), Direction::Inbound);
        assert_eq!(" OUT ".parse::<Direction>().unwrap(), Direction::Outbound);
        assert!("both".parse::<Direction>().is_err());
    }
}
