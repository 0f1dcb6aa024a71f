//! Proofpoint's "Standard CSV": First Name, Last Name, Primary Email, Mobile, Alias 1…N.
//!
//! The header row is optional, and files written before October 2021 have no
//! mobile column (aliases start in the 4th column). Both layouts differ only
//! in how the 4th cell is read, so detection looks at the header, or else at
//! the first non-empty 4th cell: an address there is not a phone number.

use std::io::Read;
use std::path::{Path, PathBuf};

use muster_core::{DirectoryEntry, DirectorySnapshot, EmailAddress, Field, FieldSet, non_blank};

use crate::collect::Collector;
use crate::error::Error;
use crate::source::open_file;
use crate::table::{CsvFormat, Next, Row, Table, unescape_cell};
use crate::values::{At, MOBILE_EXPECTED, mobile};

/// Which Standard CSV layout a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StandardLayout {
    /// From the header's 4th column name, or else from the first non-empty
    /// 4th cell (an address means pre-2021). A file whose 4th column is empty
    /// throughout stays undecided and does not provide `mobile`.
    #[default]
    Auto,
    /// Since October 2021: the 4th column is the mobile number.
    Current,
    /// Before October 2021: aliases start in the 4th column.
    Legacy,
}

/// Whether the first row is a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HeaderRow {
    /// A header when the 3rd cell mentions mail but has no `@`, and the 1st mentions a (first) name.
    #[default]
    Auto,
    /// The first row is a header.
    Present,
    /// Every row is data.
    Absent,
}

/// A Proofpoint Standard CSV file as a directory source.
///
/// ```no_run
/// use muster_directory::{StandardCsv, StandardLayout};
/// let snapshot = StandardCsv::new("users.csv").layout(StandardLayout::Current).read()?;
/// for issue in &snapshot.issues {
///     eprintln!("{issue}"); // users.csv:7: mobile `07700 900123`: expected an international …
/// }
/// # Ok::<(), muster_directory::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct StandardCsv {
    path: PathBuf,
    name: String,
    layout: StandardLayout,
    header: HeaderRow,
    format: CsvFormat,
}

impl StandardCsv {
    /// Reads the file at `path`; the source is named after the path.
    pub fn new(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        StandardCsv {
            name: path.display().to_string(),
            path,
            layout: StandardLayout::Auto,
            header: HeaderRow::Auto,
            format: CsvFormat::default(),
        }
    }

    /// Names the source (used in issues and as the snapshot's `source`).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the layout instead of detecting it.
    pub fn layout(mut self, layout: StandardLayout) -> Self {
        self.layout = layout;
        self
    }

    /// Says whether the first row is a header instead of detecting it.
    pub fn header(mut self, header: HeaderRow) -> Self {
        self.header = header;
        self
    }

    /// Sets the encoding and delimiter instead of detecting them.
    pub fn format(mut self, format: CsvFormat) -> Self {
        self.format = format;
        self
    }

    /// The source's name (also [`DirectorySource::name`](crate::DirectorySource::name)).
    pub(crate) fn label(&self) -> &str {
        &self.name
    }

    /// Reads the file (blocking).
    ///
    /// # Errors
    /// [`Error::Read`] when the file cannot be opened or read to the end,
    /// [`Error::UnsupportedEncoding`] for UTF-16 (with or without its BOM)
    /// and Mac Roman, [`Error::MixedEncoding`] for a file holding UTF-8 and
    /// other bytes with the encoding left to detection. Bad values are field
    /// issues, bad rows are issues, not errors; a quote that never closes or
    /// swallows rows makes the snapshot partial.
    pub fn read(&self) -> Result<DirectorySnapshot, Error> {
        let file = open_file(&self.path, &self.name)?;
        // The size only sizes collections up front; a file without one still reads.
        let len = file.metadata().ok().map(|m| m.len());
        self.read_sized(file, len)
    }

    /// Reads Standard CSV from any reader, incrementally (blocking).
    ///
    /// ```
    /// use muster_directory::StandardCsv;
    /// let csv = "Ann,Lee,ann@example.com,+44 7700 900123,a.lee@example.com\n";
    /// let snapshot = StandardCsv::new("users.csv").read_from(csv.as_bytes())?;
    /// assert_eq!(snapshot.entries[0].mobile.as_deref(), Some("+447700900123"));
    /// # Ok::<(), muster_directory::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`StandardCsv::read`].
    pub fn read_from(&self, input: impl Read) -> Result<DirectorySnapshot, Error> {
        self.read_sized(input, None)
    }

    /// [`StandardCsv::read_from`], for an input of `len` bytes if known.
    fn read_sized(&self, input: impl Read, len: Option<u64>) -> Result<DirectorySnapshot, Error> {
        let mut table = Table::open(&self.name, input, self.format)?;
        let mut parser = Parser::new(self, &self.name);
        parser.out.reserve(table.expected_rows(len));
        let mut row = Row::default();
        loop {
            match table.next_row(&mut row)? {
                Next::End => break,
                Next::Broken { issue, reason } => parser.out.broken(issue, reason),
                Next::Row => parser.row(&row),
            }
        }
        Ok(parser.finish(&self.name))
    }
}

/// The resolved layout of the file being read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resolved {
    Undecided,
    Current,
    Legacy,
}

struct Parser<'a> {
    file: &'a str,
    header: HeaderRow,
    layout: Resolved,
    first: bool,
    header_width: usize,
    has_fourth_column: bool,
    has_alias_values: bool,
    /// The row's aliases, reused between rows.
    aliases: Vec<EmailAddress>,
    out: Collector,
}

impl<'a> Parser<'a> {
    fn new(source: &StandardCsv, file: &'a str) -> Self {
        Parser {
            file,
            header: source.header,
            layout: match source.layout {
                StandardLayout::Auto => Resolved::Undecided,
                StandardLayout::Current => Resolved::Current,
                StandardLayout::Legacy => Resolved::Legacy,
            },
            first: true,
            header_width: 0,
            has_fourth_column: false,
            has_alias_values: false,
            aliases: Vec::new(),
            out: Collector::new(file),
        }
    }

    fn row(&mut self, row: &Row) {
        if std::mem::take(&mut self.first) && self.is_header(row) {
            self.header_width = row.width();
            if self.layout == Resolved::Undecided {
                let fourth = row.get(3).to_ascii_lowercase();
                if fourth.contains("mobile") || fourth.contains("phone") {
                    self.layout = Resolved::Current;
                } else if fourth.contains("alias") || fourth.contains("mail") {
                    self.layout = Resolved::Legacy;
                }
            }
            return;
        }
        self.data(row);
    }

    fn is_header(&self, row: &Row) -> bool {
        match self.header {
            HeaderRow::Present => true,
            HeaderRow::Absent => false,
            _ => {
                let first = row.get(0).to_ascii_lowercase();
                let third = row.get(2).to_ascii_lowercase();
                third.contains("mail")
                    && !third.contains('@')
                    && (first.contains("name") || first.contains("first"))
            }
        }
    }

    fn data(&mut self, row: &Row) {
        let at = At {
            file: self.file,
            line: row.line,
        };
        let cell = |i: usize| unescape_cell(row.get(i));
        self.has_fourth_column |= row.width() >= 4;
        let primary = match at.address("primary_email", cell(2)) {
            Ok(a) => a,
            Err(issue) => return self.out.issue(*issue),
        };
        // Filled in place: the entry is large, and each builder step would move it.
        let mut entry = DirectoryEntry::new(primary);
        entry.first_name = non_blank(cell(0));
        entry.last_name = non_blank(cell(1));
        entry.location = Some(self.out.location(0, row.line));
        let fourth = cell(3);
        if !fourth.is_empty() && self.layout == Resolved::Undecided {
            self.layout = if EmailAddress::parse(fourth).is_ok() {
                Resolved::Legacy
            } else {
                Resolved::Current
            };
        }
        let first_alias = if self.layout == Resolved::Legacy {
            3
        } else {
            4
        };
        if self.layout == Resolved::Current && !fourth.is_empty() {
            if mobile(fourth).is_none() {
                // Unreadable: the gateway's mobile number stays as it is.
                entry.withheld.insert(Field::Mobile);
            }
            match mobile(fourth) {
                Some(m) => entry.mobile = Some(m),
                None if EmailAddress::parse(fourth).is_ok() => self.out.issue(at.issue(
                    "mobile",
                    fourth,
                    &format!("{MOBILE_EXPECTED}; an address here means a pre-2021 file: set the layout to legacy"),
                )),
                None => self.out.issue(at.issue("mobile", fourth, MOBILE_EXPECTED)),
            }
        }
        for i in first_alias..row.width() {
            let value = cell(i);
            if value.is_empty() {
                continue;
            }
            self.has_alias_values = true;
            match at.alias(&mut entry, "alias", value) {
                Ok(a) => self.aliases.push(a),
                Err(issue) => self.out.issue(*issue),
            }
        }
        self.out
            .add_with_aliases(entry, self.aliases.drain(..), row.line);
    }

    fn finish(self, source: &str) -> DirectorySnapshot {
        let mut provided = FieldSet::from_iter([Field::FirstName, Field::LastName]);
        if self.layout == Resolved::Current && (self.has_fourth_column || self.header_width >= 4) {
            provided.insert(Field::Mobile);
        }
        let header_names_aliases = match self.layout {
            Resolved::Legacy => self.header_width >= 4,
            _ => self.header_width >= 5,
        };
        if self.has_alias_values || header_names_aliases {
            provided.insert(Field::Aliases);
        }
        self.out.into_snapshot(source, provided)
    }
}
