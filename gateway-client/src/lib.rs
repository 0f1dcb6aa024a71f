//! A typed, polite, loss-proof async client for the email-security
//! gateway's user API: Proofpoint Essentials v1 (the real API) and the
//! "v2" shape described in seed 003, behind one model.
//!
//! - **Loss-proof**: [`Users::update`] reads the user, applies only the
//!   fields being changed and writes the whole object back, unknown fields
//!   included; `password` is never sent unless set, `is_billable` never
//!   written unless asked. Expected before-values make a stale change fail
//!   ([`Error::Stale`]) instead of overwriting.
//! - **Polite**: a rate limiter keyed by login and host (shared by clones
//!   and by clients built for the same pair) that learns the gateway's real
//!   budget from its 429s and keeps it for the next run ([`LearnedRate`]);
//!   retries with jittered backoff (backon) honouring `Retry-After`,
//!   classified in one place ([`retry::classify`], from muster-core) and
//!   paid from a retry budget ([`retry::RetryBudget`]); a [`Breaker`] that
//!   stops sending to a gateway that looks down.
//! - **Honest about writes**: a POST whose outcome is unknown is settled by
//!   reading back, never blindly repeated.
//!
//! ```no_run
//! use muster_core::Field;
//! use muster_gateway::{Client, FieldValue, UserPatch};
//!
//! # async fn run() -> Result<(), muster_gateway::Error> {
//! let client = Client::builder()
//!     .essentials("us1", "example.com")
//!     .credentials("admin@example.com", std::env::var("PPE_PASSWORD").unwrap().into())
//!     .build()?;
//! let ann = "ann@example.com".parse().unwrap();
//! let patch = UserPatch::new()
//!     .last_name(Some("Lee-Smith"))
//!     .expect(Field::LastName, FieldValue::Text(Some("Lee".into())));
//! let updated = client.users().update(&ann, patch).await?;
//! assert_eq!(updated.account().last_name.as_deref(), Some("Lee-Smith"));
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod breaker;
mod client;
mod error;
mod groups;
mod limiter;
mod model;
mod org;
mod pages;
mod path;
pub mod retry;
mod transport;
mod users;
mod wire;

pub use breaker::{Breaker, DEFAULT_BREAKER_THRESHOLD};
pub use client::{Capabilities, Client, ClientBuilder, Dialect};
pub use error::Error;
pub use groups::{Group, Groups};
pub use limiter::{
    ACCEPTED_SHARE, AdaptiveLimiter, DECREASE_FACTOR, LEARNED_RATE_KEEP, LearnedRate, LimiterKey,
    PROBE_STEP, RateLimit, RateLimiter,
};
pub use model::{FieldValue, NewUser, RemoteUser, UserPatch, WelcomeEmail, field_value};
pub use muster_core::{Sleep, TokioSleep};
pub use org::{Identity, OrgDomain, OrgInfo};
pub use path::encode_segment;
pub use retry::RetryConfig;
pub use users::{BulkCreateReport, BulkFailure, Listed, Users};

/// Re-exported so callers can build credentials without a direct dependency.
pub use secrecy::SecretString;
