//! muster keeps the users of a cloud email-security gateway in step with an
//! organisation's directories, without ever silently destroying mail flow.
//!
//! This is the umbrella crate: depend on `muster` alone and reach every part
//! through it. The shared vocabulary lives in [`core`].
//!
//! ```
//! use muster::core::EmailAddress;
//! let a: EmailAddress = "Bob@Example.COM".parse()?;
//! assert_eq!(a, "bob@example.com".parse()?);
//! # Ok::<(), muster::core::AddressError>(())
//! ```
#![deny(missing_docs)]

pub use muster_core as core;
pub use muster_directory as directory;
pub use muster_gateway as gateway;
pub use muster_reconcile as reconcile;
