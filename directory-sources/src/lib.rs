//! Directory sources for muster: who *should* be on the gateway.
//!
//! Every source implements [`DirectorySource`] and yields a
//! [`muster_core::DirectorySnapshot`]: the entries, the per-record
//! [`muster_core::SourceIssue`]s (file and line, field, value, what was
//! expected), and exactly the fields the input carries:
//!
//! - [`LdapSource`]: Active Directory or any LDAP directory (paged search,
//!   `proxyAddresses`, disabled accounts, Exchange recipient types, filter
//!   values escaped, TLS verified), mapped by [`LdapAttributes`];
//! - [`GraphSource`]: Microsoft Entra ID users (and, if asked, mail-enabled
//!   groups) through Microsoft Graph
//!   (client-credentials token, every `@odata.nextLink` page, throttling
//!   retried as `Retry-After` asks, `$filter` values escaped), in full or
//!   incrementally through delta queries with a [`GraphCursor`];
//! - [`StandardCsv`]: Proofpoint's Standard CSV, both layouts, header optional;
//! - [`MappedCsv`] with a [`CsvMapping`]: any CSV with a header, including the
//!   Postini user export ([`CsvMapping::postini_users`]) joined with a
//!   Postini alias export ([`PostiniAliases`]);
//! - [`HrCsv`] and [`hr_from_rows`]: HR records for the functional-account rules;
//! - [`DiscoverySource`]: SMTP discovery, candidate users and aliases from
//!   addresses seen in mail flow ([`DiscoveryLedger`], [`DiscoveryPolicy`]),
//!   a supplemental source that adds and never removes;
//! - [`write_standard_csv`]: a formula-safe preview of entries.
//!
//! They read what Excel writes: UTF-8 with or without BOM, Windows-1252,
//! CRLF, quoted commas and newlines, `;` or tab delimiters, trailing empty
//! columns, blank lines. Files are read incrementally; memory grows with the
//! number of distinct addresses, not with the file size.
//!
//! ```
//! use muster_core::{Field, Location};
//! use muster_directory::StandardCsv;
//!
//! let csv = "\u{feff}First Name;Last Name;Email;Mobile;Alias 1\r\n\
//!            Ann;Lee;ann@example.com;+44 7700 900123;\r\n\
//!            Bob;Ray;not-an-address;;\r\n";
//! let snapshot = StandardCsv::new("users.csv").read_from(csv.as_bytes())?;
//! assert_eq!(snapshot.entries.len(), 1);
//! assert!(snapshot.provided.contains(Field::Mobile));
//! assert_eq!(snapshot.issues[0].location, Location::line("users.csv", 3));
//! # Ok::<(), muster_directory::Error>(())
//! ```
#![deny(missing_docs)]

mod collect;
mod discovery;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod graph;
mod hr;
mod issues;
mod keywords;
mod ldap;
mod mapped;
mod postini;
mod preview;
mod source;
mod standard;
mod table;
mod values;

pub use discovery::{
    Becomes, Candidate, CandidateUse, DEFAULT_BLOCKED, Decision, DecisionRecord, Direction,
    DiscoveryLedger, DiscoveryPolicy, DiscoverySource, LEDGER_VERSION, LedgerEntry, Observation,
    ObservationColumns, ObservationCsv, Observations, Reason, SeenName, Tally,
    observations_from_rows,
};
pub use error::Error;
pub use graph::{
    DeltaRead, DeltaRound, ExternalMembers, GRAPH_CURSOR_VERSION, GRAPH_V1, GraphCloud,
    GraphCursor, GraphSource, GuestPolicy, LOGIN_AUTHORITY, Sleep, TokioSleep, escape_odata_string,
};
pub use hr::{HrColumns, HrCsv, hr_from_rows};
pub use issues::MAX_ISSUES;
pub use ldap::{AD_MAIL_USERS, LdapAttributes, LdapObjects, LdapSource, escape_filter_value};
pub use mapped::{CsvMapping, MappedCsv};
pub use postini::PostiniAliases;
pub use preview::write_standard_csv;
pub use source::{DirectorySource, InMemorySource};
pub use standard::{HeaderRow, StandardCsv, StandardLayout};
pub use table::{CsvFormat, Delimiter, Encoding};
pub use values::{NOTES_MAX_CHARS, TEXT_MAX_CHARS};

source::file_source!(StandardCsv);
source::file_source!(MappedCsv);
