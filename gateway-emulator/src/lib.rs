//! A stateful local Proofpoint Essentials gateway, as harsh as the real one.
//!
//! Nobody can run their tests against a production tenant, so this crate
//! serves the gateway API on `127.0.0.1`, in-process or as the
//! `muster-emulator` binary, including the behaviours that hurt careless
//! clients:
//!
//! - **Essentials v1** (`/api/v1`, `X-User` / `X-Password`, snake_case):
//!   `/me`, `/endpoints/{domain}` (answers `{"endpoints": ["<this
//!   emulator's /api/v1 base URL>"]}`; the real element shape is unknown),
//!   `/orgs/{domain}` (registered domains, `user_licenses`, `active_users`),
//!   `/orgs/{domain}/domains[/{name}]` (GET), `/orgs/{partner}/orgs`, and
//!   `/orgs/{domain}/users[/{email}]` with GET
//!   (unpaged), POST (one object or an array → 201 `{users, errors:
//!   [{status, error_message, identifier}]}`; when every item fails, the
//!   first error's status), PUT → 204 and DELETE → 204.
//! - **The seed-003 "v2" shape** on the same store: `/v2/users` (HTTP Basic,
//!   camelCase, `type: "User"`, `status`, `roles`, `page` / `pageSize`
//!   capped at 1000 without complaint, `total`), `/v2/groups`,
//!   `/v2/groups/{id}/members`. v2 paths name no organisation: a login acts
//!   on the first organisation it administers.
//! - **Full-replace PUT**: every field a PUT omits is reset to its default
//!   (names blanked, aliases and sender lists emptied, `type` back to
//!   `end_user`, `is_active` and `is_billable` back to true, `odin_settings`
//!   off, unknown fields dropped). Only `password` survives an omission,
//!   because it is write-only and a client could never send it back.
//! - `primary_email` is immutable; DELETE is immediate and takes the aliases.
//! - An address outside the organisation's registered domains → 400 naming
//!   the domain; a primary or alias already used by another user of the
//!   organisation (compared case-insensitively, IDN = punycode) → 409; a
//!   second non-billable user → 400.
//! - Welcome letters are counted per address
//!   ([`Emulator::welcome_letters`]): a create sends one only when the
//!   organisation's `send_welcome_email` is on (the default) and the create
//!   does not say `send_welcome_email: false` (api-facts §1.4: the org
//!   setting must be true; a user can only turn it off). Seeded users get none.
//! - A sliding-window rate limit per login ([`RateLimit`], default 100 per
//!   minute) answering 429 without `Retry-After` unless asked; its [`Clock`]
//!   is injectable ([`ManualClock`]) or follows `tokio::time::pause`.
//! - Reproducible faults ([`Faults`], seeded RNG; [`Emulator::push_fault`]
//!   for exact scripts): 500/502/503, slow answers, connections dropped
//!   before or *after* a write is committed (logged and counted with status
//!   0: nothing was sent), read-after-write lag.
//! - 401 for wrong or missing credentials, 403 for writes by a read-only
//!   login or for another organisation, 400 with the parser's message
//!   (line, column) for bad JSON, 404 with a JSON body for unknown routes.
//!   Every error body is `{"status", "error_message", "identifier"}`.
//! - A redacted request log and counters by method, route template and
//!   status ([`Emulator::requests`], [`Emulator::count`]), and snapshots
//!   ([`Emulator::users`]); the same over `GET /__admin/users`,
//!   `/__admin/requests`, `/__admin/counters`, `/__admin/welcome-letters`
//!   for harnesses in other languages, which can also script faults
//!   (`POST /__admin/faults`) and add users behind the API's back
//!   (`POST /__admin/orgs/{domain}/users`, like [`Emulator::insert_user`]).
//!   `/__admin` needs no login, is not rate-limited and is not logged.
//!
//! **As a binary**: `muster-emulator --seed seed.json --port 8025` prints
//! its base URL on the first line of stdout and serves until killed; the
//! seed format is [`Seed`]'s.
//!
//! **Unknown fields.** A JSON field the emulator does not know (`x_future`)
//! is stored and returned as sent, so a client's promise to round-trip
//! fields it does not own can be tested. A real server probably drops names
//! it does not know; keeping them is the stricter test for the client (a
//! client that drops them fails here), and a full-replace PUT without them
//! does drop them.
//!
//! # Example
//!
//! Copy this into a test of your own:
//!
//! ```
//! use muster_emulator::{Emulator, Login, Org};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emu = Emulator::builder()
//!     .org(Org::new("example.com").domain("example.org").user(json!({
//!         "primary_email": "ann@example.com",
//!         "firstname": "Ann",
//!         "alias_emails": ["ann@example.org"],
//!     })))
//!     .login(Login::org_admin("admin@example.com", "secret", "example.com"))
//!     .start()
//!     .await?;
//!
//! let http = reqwest::Client::new();
//! let users: serde_json::Value = http
//!     .get(format!("{}/orgs/example.com/users", emu.api_v1_url()))
//!     .header("X-User", "admin@example.com")
//!     .header("X-Password", "secret")
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(users["users"][0]["alias_emails"], json!(["ann@example.org"]));
//!
//! // A PUT that omits the aliases removes them: the trap a client must avoid.
//! let status = http
//!     .put(format!("{}/orgs/example.com/users/ann@example.com", emu.api_v1_url()))
//!     .header("X-User", "admin@example.com")
//!     .header("X-Password", "secret")
//!     .json(&json!({"primary_email": "ann@example.com", "firstname": "Ann"}))
//!     .send()
//!     .await?
//!     .status();
//! assert_eq!(status, 204);
//! assert_eq!(emu.user("example.com", "ann@example.com").unwrap()["alias_emails"], json!([]));
//! assert_eq!(emu.welcome_letters("ann@example.com"), 0);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod clock;
mod config;
mod conn;
mod emulator;
mod error;
mod faults;
mod http;
mod limiter;
mod model;
mod observe;
mod reply;
mod store;

pub use clock::{Clock, ManualClock, TokioClock};
pub use config::{Fault, Faults, Login, LoginKind, Org, RateLimit, Seed, SenderListSpelling};
pub use emulator::{Emulator, EmulatorBuilder};
pub use error::Error;
pub use observe::{CounterKey, RequestRecord};
