//! The vocabulary of muster: the pure types every other muster crate shares.
//!
//! The gateway client, the directory sources and the reconcile engine never
//! depend on each other; they meet here. Nothing in this crate does IO or
//! reads a clock, except [`TokioSleep`] (feature `tokio`): the default
//! [`Sleep`] the IO crates share.
//!
//! ```
//! use muster_core::{DirectoryEntry, DirectorySnapshot, EmailAddress, Field, FieldSet};
//!
//! let ann: EmailAddress = "Ann.Lee@Example.com".parse()?;
//! let entry = DirectoryEntry::new(ann.clone()).with_names("Ann", "Lee");
//! let snapshot = DirectorySnapshot::new("hr.csv", FieldSet::from_iter([Field::FirstName, Field::LastName]))
//!     .with_entries(vec![entry]);
//! assert!(snapshot.is_complete());
//! assert_eq!(snapshot.entries[0].primary_email, "ann.lee@example.com".parse::<EmailAddress>()?);
//! # Ok::<(), muster_core::AddressError>(())
//! ```
#![deny(missing_docs)]

mod address_set;
mod email;
mod error_chain;
mod fields;
mod hr;
mod keywords;
mod kinds;
mod proxy;
mod records;
pub mod retry;
mod retry_after;
mod sanitize;
mod sleep;
mod snapshot;
mod spreadsheet;

pub use address_set::AddressSet;
pub use email::{
    AddressError, Domain, EmailAddress, MAX_ADDRESS_LEN, MAX_DOMAIN_LEN, MAX_LABEL_LEN,
    MAX_LOCAL_LEN,
};
pub use error_chain::error_chain;
pub use fields::{Field, FieldSet};
pub use hr::{HrRecord, HrSnapshot, HrStatus};
pub use kinds::{ExternalId, Origin, RecipientKind, UnknownValue, UserType};
pub use proxy::{ProxyAddressProblem, ProxyAddresses, proxy_addresses};
pub use records::{Account, DirectoryEntry, non_blank};
pub use retry_after::parse_retry_after;
pub use sanitize::{Sanitized, is_hidden, is_invisible, sanitize, sanitize_value};
pub use sleep::Sleep;
#[cfg(feature = "tokio")]
pub use sleep::TokioSleep;
pub use snapshot::{
    Completeness, DirectorySnapshot, Location, NOTE_EXAMPLES, NoteKind, SourceIssue, SourceNote,
    VALUE_EXCERPT_CHARS, excerpt,
};
pub use spreadsheet::{DANGEROUS_LEADING, neutralize_cell};
