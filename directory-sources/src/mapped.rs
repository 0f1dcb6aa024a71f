//! Header-mapped CSV: the caller says which column holds which field.
//!
//! The Postini user export is a preset of it. Its exact headers were never
//! published (api-facts §4.2), so the preset names the columns the Postini
//! batch interface uses and every name can be overridden.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use muster_core::{DirectoryEntry, DirectorySnapshot, ExternalId, Field, FieldSet, RecipientKind};

use crate::collect::Collector;
use crate::error::Error;
use crate::postini::PostiniAliases;
use crate::source::open_file;
use crate::table::{CsvFormat, Next, Row, Table, unescape_cell};
use crate::values::{At, MOBILE_EXPECTED, flag, list, mobile};

/// A header column mapped to a field.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    header: String,
    /// A missing required column is an error; a missing optional one means
    /// the field is simply not provided (presets use optional columns).
    required: bool,
}

/// Which header column holds which field.
///
/// Columns are matched by name, ignoring case and surrounding spaces. Fields
/// whose column is present in the file are the snapshot's provided fields.
///
/// ```
/// use muster_core::Field;
/// use muster_directory::CsvMapping;
/// let mapping = CsvMapping::new("E-mail")
///     .column(Field::FirstName, "Given name")
///     .column(Field::Aliases, "Other address 1")
///     .column(Field::Aliases, "Other address 2")
///     .column(Field::Department, "Dept");
/// # let _ = mapping;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CsvMapping {
    primary: String,
    columns: Vec<(Field, Column)>,
    separators: BTreeMap<Field, char>,
}

impl CsvMapping {
    /// A mapping whose primary address is in column `primary`.
    pub fn new(primary: impl Into<String>) -> Self {
        let separators = [Field::AllowSenders, Field::BlockSenders, Field::Groups]
            .into_iter()
            .map(|f| (f, ','))
            .collect();
        CsvMapping {
            primary: primary.into(),
            columns: Vec::new(),
            separators,
        }
    }

    /// The Postini user export: `address`, `user_id` (kept as external id),
    /// `firstname`, `lastname`, `approved_senders`, `blocked_senders`
    /// (comma-separated). Every column but `address` may be absent.
    pub fn postini_users() -> Self {
        [
            (Field::ExternalId, "user_id"),
            (Field::FirstName, "firstname"),
            (Field::LastName, "lastname"),
            (Field::AllowSenders, "approved_senders"),
            (Field::BlockSenders, "blocked_senders"),
        ]
        .into_iter()
        .fold(CsvMapping::new("address"), |m, (field, header)| {
            m.map(field, header, false)
        })
    }

    /// Renames the primary-address column.
    pub fn primary(mut self, header: impl Into<String>) -> Self {
        self.primary = header.into();
        self
    }

    /// Maps a required column to `field`. For [`Field::Aliases`] each call adds
    /// one more alias column; for other fields it replaces the earlier mapping.
    ///
    /// Reading fails with [`Error::MissingColumn`] when the header lacks it:
    /// ```
    /// use muster_core::Field;
    /// use muster_directory::{CsvMapping, Error, MappedCsv};
    /// let source = MappedCsv::new("hr.csv", CsvMapping::new("mail").column(Field::Mobile, "cell"));
    /// let err = source.read_from("mail,phone\nann@example.com,+447700900123\n".as_bytes()).unwrap_err();
    /// assert!(matches!(err, Error::MissingColumn { .. }));
    /// ```
    pub fn column(self, field: Field, header: impl Into<String>) -> Self {
        self.map(field, header, true)
    }

    /// Like [`CsvMapping::column`], but a missing column only means the field is not provided.
    pub fn optional_column(self, field: Field, header: impl Into<String>) -> Self {
        self.map(field, header, false)
    }

    /// Removes every column mapped to `field` (e.g. to ignore a preset's sender lists).
    pub fn unmap(mut self, field: Field) -> Self {
        self.columns.retain(|(f, _)| *f != field);
        self
    }

    /// Splits the cells of `field` on `separator` (aliases in one cell,
    /// `a@x.com;b@x.com`). Sender lists and groups split on `,` by default.
    pub fn separator(mut self, field: Field, separator: char) -> Self {
        self.separators.insert(field, separator);
        self
    }

    fn map(mut self, field: Field, header: impl Into<String>, required: bool) -> Self {
        if field != Field::Aliases {
            self.columns.retain(|(f, _)| *f != field);
        }
        self.columns.push((
            field,
            Column {
                header: header.into(),
                required,
            },
        ));
        self
    }

    /// Finds the mapped columns in a header row.
    fn resolve(&self, file: &str, header: &Row) -> Result<Resolved, Error> {
        let find = |name: &str| {
            let name = name.trim();
            header.cells().position(|c| c.eq_ignore_ascii_case(name))
        };
        let missing = |column: &str, field: &str| Error::MissingColumn {
            file: file.to_owned(),
            column: column.to_owned(),
            needed_for: field.to_owned(),
        };
        let primary = find(&self.primary).ok_or_else(|| missing(&self.primary, "primary_email"))?;
        let mut columns = Vec::new();
        let mut provided = FieldSet::empty();
        for (field, column) in &self.columns {
            match find(&column.header) {
                Some(index) => {
                    provided.insert(*field);
                    columns.push((*field, index, column.header.clone()));
                }
                None if column.required => {
                    return Err(missing(&column.header, field.as_str()));
                }
                None => {}
            }
        }
        Ok(Resolved {
            primary,
            primary_header: self.primary.clone(),
            columns,
            provided,
            separators: self.separators.clone(),
        })
    }
}

/// A mapping applied to one file's header.
struct Resolved {
    primary: usize,
    primary_header: String,
    columns: Vec<(Field, usize, String)>,
    provided: FieldSet,
    separators: BTreeMap<Field, char>,
}

impl Resolved {
    /// Turns one row into an entry; bad values are issues and the entry keeps the rest.
    fn entry(&self, at: &At<'_>, row: &Row, out: &mut Collector) -> Option<DirectoryEntry> {
        let cell = |i: usize| unescape_cell(row.get(i));
        let primary = match at.address(&self.primary_header, cell(self.primary)) {
            Ok(a) => a,
            Err(issue) => {
                out.issue(*issue);
                return None;
            }
        };
        let mut entry = DirectoryEntry::new(primary);
        entry.location = Some(out.location(0, at.line));
        for (field, index, header) in &self.columns {
            let value = cell(*index);
            if value.is_empty() {
                continue;
            }
            let text = || Some(value.to_owned());
            let items = || list(value, self.separators.get(field).copied());
            match field {
                Field::FirstName => entry.first_name = text(),
                Field::LastName => entry.last_name = text(),
                Field::Phone => entry.phone = text(),
                Field::Company => entry.company = text(),
                Field::Department => entry.department = text(),
                Field::Notes => entry.notes = text(),
                // A value that cannot be read leaves its field as the gateway has it.
                Field::Mobile => match mobile(value) {
                    Some(m) => entry.mobile = Some(m),
                    None => {
                        entry.withheld.insert(Field::Mobile);
                        out.issue(at.issue(header, value, MOBILE_EXPECTED));
                    }
                },
                Field::Enabled => match flag(value) {
                    Some(e) => entry.enabled = e,
                    None => {
                        entry.withheld.insert(Field::Enabled);
                        out.issue(at.issue(
                            header,
                            value,
                            "yes/no, true/false, 1/0 or enabled/disabled (kept enabled)",
                        ));
                    }
                },
                Field::Kind => match value.parse::<RecipientKind>() {
                    Ok(k) => entry.kind = k,
                    Err(e) => {
                        entry.withheld.insert(Field::Kind);
                        out.issue(at.issue(header, value, &format!("one of {}", e.expected)));
                    }
                },
                Field::ExternalId => entry.external_id = ExternalId::new(value).ok(),
                Field::Aliases => {
                    for item in items() {
                        match at.alias(&mut entry, header, item) {
                            Ok(a) => {
                                entry.aliases.insert(a);
                            }
                            Err(issue) => out.issue(*issue),
                        }
                    }
                }
                Field::Groups => entry.member_of.extend(items().map(str::to_owned)),
                Field::AllowSenders => entry.allow_senders.extend(items().map(str::to_owned)),
                Field::BlockSenders => entry.block_senders.extend(items().map(str::to_owned)),
                _ => {}
            }
        }
        Some(entry)
    }
}

/// A CSV file with a header row, read through a [`CsvMapping`]; optionally
/// joined with a Postini alias export.
///
/// ```no_run
/// use muster_directory::{CsvMapping, MappedCsv, PostiniAliases};
/// let source = MappedCsv::new("postini-users.csv", CsvMapping::postini_users())
///     .aliases(PostiniAliases::new("postini-aliases.csv"));
/// let snapshot = source.read()?;
/// # Ok::<(), muster_directory::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct MappedCsv {
    path: PathBuf,
    name: String,
    mapping: CsvMapping,
    format: CsvFormat,
    aliases: Option<PostiniAliases>,
}

impl MappedCsv {
    /// Reads the file at `path` with `mapping`; the source is named after the path.
    pub fn new(path: impl AsRef<Path>, mapping: CsvMapping) -> Self {
        let path = path.as_ref().to_path_buf();
        MappedCsv {
            name: path.display().to_string(),
            path,
            mapping,
            format: CsvFormat::default(),
            aliases: None,
        }
    }

    /// The Postini user export at `path` ([`CsvMapping::postini_users`]).
    pub fn postini_users(path: impl AsRef<Path>) -> Self {
        MappedCsv::new(path, CsvMapping::postini_users())
    }

    /// Names the source (used in issues and as the snapshot's `source`).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the encoding and delimiter instead of detecting them.
    pub fn format(mut self, format: CsvFormat) -> Self {
        self.format = format;
        self
    }

    /// Joins aliases from a Postini alias export; the snapshot then provides `aliases`.
    pub fn aliases(mut self, aliases: PostiniAliases) -> Self {
        self.aliases = Some(aliases);
        self
    }

    /// The source's name (also [`DirectorySource::name`](crate::DirectorySource::name)).
    pub(crate) fn label(&self) -> &str {
        &self.name
    }

    /// Reads the file, and the alias file if any (blocking).
    ///
    /// # Errors
    /// [`Error::Read`] when a file cannot be read to the end,
    /// [`Error::MissingHeader`] / [`Error::MissingColumn`] when the header does
    /// not fit the mapping; the encoding errors of [`StandardCsv::read`](crate::StandardCsv::read).
    /// Bad values are field issues, bad rows are issues, not errors; a
    /// quote that never closes or swallows rows makes the snapshot partial.
    pub fn read(&self) -> Result<DirectorySnapshot, Error> {
        let file = open_file(&self.path, &self.name)?;
        match &self.aliases {
            Some(aliases) => self.read_joined(file, aliases.open()?),
            None => self.read_from(file),
        }
    }

    /// Reads mapped CSV from any reader, incrementally (blocking).
    ///
    /// # Errors
    /// As [`MappedCsv::read`].
    pub fn read_from(&self, input: impl Read) -> Result<DirectorySnapshot, Error> {
        let (out, provided) = self.collect(input)?;
        Ok(out.into_snapshot(&self.name, provided))
    }

    /// Reads users from `users` and joins the aliases read from `aliases` (blocking).
    ///
    /// # Errors
    /// As [`MappedCsv::read`].
    pub fn read_joined(
        &self,
        users: impl Read,
        aliases: impl Read,
    ) -> Result<DirectorySnapshot, Error> {
        let (mut out, provided) = self.collect(users)?;
        let join = self
            .aliases
            .clone()
            .unwrap_or_else(|| PostiniAliases::new(""));
        join.join(aliases, self.format, &mut out)?;
        Ok(out.into_snapshot(&self.name, provided.with(Field::Aliases)))
    }

    fn collect(&self, input: impl Read) -> Result<(Collector, FieldSet), Error> {
        let mut table = Table::open(&self.name, input, self.format)?;
        let mut out = Collector::new(table.file());
        let mut row = Row::default();
        let resolved = loop {
            match table.next_row(&mut row)? {
                Next::Row => break self.mapping.resolve(table.file(), &row)?,
                Next::Broken { issue, reason } => out.broken(issue, reason),
                Next::End => {
                    return Err(Error::MissingHeader {
                        file: self.name.clone(),
                    });
                }
            }
        };
        loop {
            match table.next_row(&mut row)? {
                Next::End => break,
                Next::Broken { issue, reason } => out.broken(issue, reason),
                Next::Row => {
                    let at = At {
                        file: table.file(),
                        line: row.line,
                    };
                    if let Some(entry) = resolved.entry(&at, &row, &mut out) {
                        out.add(entry, row.line);
                    }
                }
            }
        }
        Ok((out, resolved.provided))
    }
}
