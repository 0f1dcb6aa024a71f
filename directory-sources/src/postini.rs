//! The Postini alias export, joined to the users of a Postini user export.
//!
//! Each row names an alias (`address`, possibly without its `domain`) and its
//! owner, by Postini `user_id` and/or by `user_address`. An alias whose owner
//! is not among the users is an issue: adding it to nobody is safer than
//! guessing.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::collect::Collector;
use crate::error::Error;
use crate::source::open_file;
use crate::table::{CsvFormat, Next, Row, Table, unescape_cell};
use crate::values::At;

/// A Postini alias export and its column names.
///
/// Defaults: `address`, `domain`, `user_id`, `user_address` (the exact
/// export headers were never published, so each can be renamed).
///
/// ```
/// use muster_directory::{CsvMapping, MappedCsv, PostiniAliases};
/// let users = "address,user_id,firstname,lastname\nann@example.com,101,Ann,Lee\n";
/// let aliases = "address,domain,user_id,user_address\na.lee,example.com,101,\n";
/// let snapshot = MappedCsv::postini_users("users.csv")
///     .aliases(PostiniAliases::new("aliases.csv"))
///     .read_joined(users.as_bytes(), aliases.as_bytes())?;
/// assert_eq!(snapshot.entries[0].aliases.iter().next().unwrap().as_str(), "a.lee@example.com");
/// # Ok::<(), muster_directory::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct PostiniAliases {
    path: PathBuf,
    name: String,
    address: String,
    domain: String,
    user_id: String,
    user_address: String,
}

impl PostiniAliases {
    /// The alias export at `path`, with the default column names.
    pub fn new(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        PostiniAliases {
            name: path.display().to_string(),
            path,
            address: "address".into(),
            domain: "domain".into(),
            user_id: "user_id".into(),
            user_address: "user_address".into(),
        }
    }

    /// Names the file in issues.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Renames the alias-address column.
    pub fn address_column(mut self, header: impl Into<String>) -> Self {
        self.address = header.into();
        self
    }

    /// Renames the domain column (used when the address has no `@`).
    pub fn domain_column(mut self, header: impl Into<String>) -> Self {
        self.domain = header.into();
        self
    }

    /// Renames the owner's user-id column (matched against the users' external id).
    pub fn user_id_column(mut self, header: impl Into<String>) -> Self {
        self.user_id = header.into();
        self
    }

    /// Renames the owner's primary-address column.
    pub fn user_address_column(mut self, header: impl Into<String>) -> Self {
        self.user_address = header.into();
        self
    }

    pub(crate) fn open(&self) -> Result<std::fs::File, Error> {
        open_file(&self.path, &self.name)
    }

    /// Reads the alias rows and gives each alias to its owner in `out`.
    pub(crate) fn join(
        &self,
        input: impl Read,
        format: CsvFormat,
        out: &mut Collector,
    ) -> Result<(), Error> {
        let mut table = Table::open(&self.name, input, format)?;
        let file = out.add_file(&self.name);
        let mut row = Row::default();
        let columns = loop {
            match table.next_row(&mut row)? {
                Next::Row => break self.columns(&row)?,
                Next::Broken { issue, reason } => out.broken(issue, reason),
                // An empty alias file would remove everybody's aliases.
                Next::End => {
                    return Err(Error::MissingHeader {
                        file: self.name.clone(),
                    });
                }
            }
        };
        let by_id: HashMap<String, usize> = out
            .entries()
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((e.external_id.as_ref()?.as_str().to_owned(), i)))
            .collect();
        loop {
            match table.next_row(&mut row)? {
                Next::End => return Ok(()),
                Next::Broken { issue, reason } => out.broken(issue, reason),
                Next::Row => {
                    let at = At {
                        file: &self.name,
                        line: row.line,
                    };
                    self.alias_row(&at, &row, &columns, &by_id, file, out);
                }
            }
        }
    }

    fn columns(&self, header: &Row) -> Result<Columns, Error> {
        let find = |name: &str| {
            header
                .cells()
                .position(|c| c.eq_ignore_ascii_case(name.trim()))
        };
        let missing = |column: &str| Error::MissingColumn {
            file: self.name.clone(),
            column: column.to_owned(),
            needed_for: "aliases".to_owned(),
        };
        let columns = Columns {
            address: find(&self.address).ok_or_else(|| missing(&self.address))?,
            domain: find(&self.domain),
            user_id: find(&self.user_id),
            user_address: find(&self.user_address),
        };
        if columns.user_id.is_none() && columns.user_address.is_none() {
            return Err(missing(&format!(
                "{}` or `{}",
                self.user_id, self.user_address
            )));
        }
        Ok(columns)
    }

    fn alias_row(
        &self,
        at: &At<'_>,
        row: &Row,
        columns: &Columns,
        by_id: &HashMap<String, usize>,
        file: u8,
        out: &mut Collector,
    ) {
        let cell = |i: Option<usize>| i.map_or("", |i| unescape_cell(row.get(i)));
        let local = cell(Some(columns.address));
        let domain = cell(columns.domain);
        let full;
        let address = if local.contains('@') || domain.is_empty() {
            local
        } else {
            full = format!("{local}@{domain}");
            &full
        };
        let alias = match at.address(&self.address, address) {
            Ok(a) => a,
            Err(issue) => return out.issue(*issue),
        };
        let user_id = cell(columns.user_id);
        let user_address = cell(columns.user_address);
        let owner = by_id.get(user_id).copied().or_else(|| {
            let address = muster_core::EmailAddress::parse(user_address).ok()?;
            out.entry_with_primary(&address)
        });
        match owner {
            Some(index) => out.add_alias(index, alias, file, at.line),
            None => {
                let (field, value) = if user_id.is_empty() {
                    (&self.user_address, user_address)
                } else {
                    (&self.user_id, user_id)
                };
                out.issue(at.issue(
                    field,
                    value,
                    &format!(
                        "the owner of alias {} among the users (by user id or address)",
                        alias.as_str()
                    ),
                ));
            }
        }
    }
}

/// Where the alias export's columns are.
struct Columns {
    address: usize,
    domain: Option<usize>,
    user_id: Option<usize>,
    user_address: Option<usize>,
}
