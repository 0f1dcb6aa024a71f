//! muster keeps the users of a cloud email-security gateway in step with an
//! organisation's directories, without ever silently destroying mail flow.
//!
//! This is the umbrella crate: depend on `muster` alone and reach every part
//! through it.
//!
//! - [`core`]: the shared vocabulary (`EmailAddress`, `Account`, `DirectorySnapshot`, …);
//! - [`directory`]: directory sources (CSV, Postini, HR);
//! - [`gateway`]: the gateway API client;
//! - [`reconcile`]: the pure planner and its renderers;
//! - [`config`]: one config file per organisation's sync (`muster.toml`);
//! - [`read_gateway`]: the gateway side of a plan in one call;
//! - [`write_private`]: how every file holding directory data is written (0600, atomically);
//! - [`Lease`]: one run per organisation at a time;
//! - [`shared_limiter`]: one request budget shared by every process using a
//!   login (a GCRA bucket in Redis);
//! - [`read_approval`]: the part of a plan an approval file leaves out;
//! - [`Executor`]: applies a plan (order, preconditions, journal and resume,
//!   dry run) and reports each change's [`Outcome`] with the new state.
//!
//! ```
//! use muster::core::EmailAddress;
//! let a: EmailAddress = "Bob@Example.COM".parse()?;
//! assert_eq!(a, "bob@example.com".parse()?);
//! # Ok::<(), muster::core::AddressError>(())
//! ```
//!
//! The flow, end to end (see `examples/demo.rs` for a runnable version):
//!
//! ```no_run
//! # async fn demo(client: muster::gateway::Client, policy: muster::reconcile::Policy)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use muster::directory::StandardCsv;
//! use muster::reconcile::{self, Desired, SyncState};
//!
//! let users = StandardCsv::new("users.csv").read()?;
//! let gateway = muster::read_gateway(&client, "us1").await?;
//! let state = SyncState::new("us1", &gateway.target.org);
//! let plan = reconcile::plan(&Desired::new(users), &gateway.listing, &gateway.target,
//!                            &state, &policy, chrono::Utc::now())?;
//! print!("{}", reconcile::render::text(&plan));
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod approval;
pub mod config;
mod executor;
mod files;
mod gateway_snapshot;
mod lease;
pub mod shared_limiter;

pub use approval::read_approval;
/// The date-time library of the planner's `now` and of flag dates.
pub use chrono;
pub use executor::{
    ApplyError, ApplyReport, BeforeImage, ChangeReport, Counts, ErrorAction, Executor, Halt,
    Outcome, Progress, Stop, before_images_folder, read_before_images,
};
pub use files::{FolderError, create_private_folder, write_private};
pub use gateway_snapshot::{GatewaySnapshot, read_gateway};
pub use lease::{Lease, LeaseError};
pub use muster_core as core;
pub use muster_directory as directory;
pub use muster_gateway as gateway;
pub use muster_reconcile as reconcile;
