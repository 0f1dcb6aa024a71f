//! What an emulator is seeded with: organisations, logins, limits and faults.
//!
//! Every type here can be built in code (builders taking `self`) or read
//! from a JSON seed file ([`Seed`]), so the Rust tests, the binary and the
//! Python package describe a gateway the same way.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::Error;

/// An organisation on the gateway: its primary domain, its other registered
/// domains, its licence count and its users.
///
/// ```
/// use muster_emulator::Org;
/// let org = Org::new("example.com")
///     .domain("example.org")
///     .user_licenses(50)
///     .user(serde_json::json!({"primary_email": "ann@example.com", "firstname": "Ann"}));
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Org {
    pub(crate) primary_domain: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// Registered domains besides the primary one.
    #[serde(default)]
    pub(crate) domains: Vec<String>,
    #[serde(default = "default_licenses")]
    pub(crate) user_licenses: u32,
    #[serde(default = "default_true")]
    pub(crate) send_welcome_email: bool,
    /// Users in the v1 (snake_case) shape, created without welcome letters.
    #[serde(default)]
    pub(crate) users: Vec<Value>,
    #[serde(default)]
    pub(crate) groups: Vec<GroupSeed>,
}

/// A v2 group seeded into an organisation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupSeed {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) members: Vec<String>,
}

fn default_licenses() -> u32 {
    100
}

fn default_true() -> bool {
    true
}

impl Org {
    /// An organisation addressed by its primary domain (which is registered).
    ///
    /// Defaults: 100 user licences, welcome letters on (the gateway's own
    /// default, so a client that forgets `send_welcome_email: false` is
    /// caught by the letter counts), no users.
    #[must_use]
    pub fn new(primary_domain: impl Into<String>) -> Self {
        Org {
            primary_domain: primary_domain.into(),
            name: None,
            domains: Vec::new(),
            user_licenses: default_licenses(),
            send_welcome_email: true,
            users: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// Registers one more domain. Users and aliases outside the registered
    /// domains are refused with 400.
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domains.push(domain.into());
        self
    }

    /// The organisation's display name (defaults to the primary domain).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The licence count reported as `user_licenses` (not enforced).
    #[must_use]
    pub fn user_licenses(mut self, count: u32) -> Self {
        self.user_licenses = count;
        self
    }

    /// The org-level welcome-letter default used when a create does not say
    /// `send_welcome_email`.
    #[must_use]
    pub fn send_welcome_email(mut self, on: bool) -> Self {
        self.send_welcome_email = on;
        self
    }

    /// Seeds a user, given in the v1 (snake_case) shape as a client would
    /// POST it. Seeded users get no welcome letter. An invalid user makes
    /// [`EmulatorBuilder::start`](crate::EmulatorBuilder::start) fail.
    #[must_use]
    pub fn user(mut self, user: Value) -> Self {
        self.users.push(user);
        self
    }

    /// Seeds a v2 group with the given member addresses (which must be users).
    #[must_use]
    pub fn group<I, S>(mut self, name: impl Into<String>, members: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups.push(GroupSeed {
            name: name.into(),
            members: members.into_iter().map(Into::into).collect(),
        });
        self
    }
}

/// What a login is allowed to administer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LoginKind {
    /// A channel (partner) admin: several organisations under one login.
    ChannelAdmin,
    /// An administrator of one organisation.
    OrganizationAdmin,
}

/// An admin login accepted by the emulator (`X-User` / `X-Password` in v1,
/// HTTP Basic in v2).
///
/// The login is not listed among the organisation's users unless it is
/// also seeded as a user.
///
/// ```
/// use muster_emulator::Login;
/// let msp = Login::channel_admin("ops@msp.example", "s3cret", ["a.example", "b.example"]);
/// let auditor = Login::org_admin("audit@a.example", "pw", "a.example").read_only();
/// assert!(!format!("{msp:?}").contains("s3cret"));
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Login {
    pub(crate) user: String,
    pub(crate) password: String,
    #[serde(rename = "type")]
    pub(crate) kind: LoginKind,
    /// The organisations (primary domains) this login administers; the
    /// first is its home for v2, which has no organisation in the path.
    pub(crate) orgs: Vec<String>,
    #[serde(default)]
    pub(crate) read_only: bool,
}

impl Login {
    /// A channel admin administering the given organisations.
    #[must_use]
    pub fn channel_admin<I, S>(
        user: impl Into<String>,
        password: impl Into<String>,
        orgs: I,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Login {
            user: user.into(),
            password: password.into(),
            kind: LoginKind::ChannelAdmin,
            orgs: orgs.into_iter().map(Into::into).collect(),
            read_only: false,
        }
    }

    /// An administrator of one organisation.
    #[must_use]
    pub fn org_admin(
        user: impl Into<String>,
        password: impl Into<String>,
        org: impl Into<String>,
    ) -> Self {
        Login {
            user: user.into(),
            password: password.into(),
            kind: LoginKind::OrganizationAdmin,
            orgs: vec![org.into()],
            read_only: false,
        }
    }

    /// Makes the login read-only: every write it attempts gets 403.
    #[must_use]
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("kind", &self.kind)
            .field("orgs", &self.orgs)
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// The per-login request budget: at most `requests` in any sliding `window`.
///
/// A sliding window is stricter than a fixed one: a client cannot burst
/// twice the budget across a window boundary.
///
/// ```
/// use std::time::Duration;
/// use muster_emulator::RateLimit;
/// let strict = RateLimit::new(5, Duration::from_secs(10)).with_retry_after();
/// let default = RateLimit::default(); // 100 per minute, no Retry-After
/// # let _ = (strict, default);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RateLimit {
    pub(crate) requests: u32,
    #[serde(rename = "window_secs", with = "secs")]
    pub(crate) window: Duration,
    #[serde(default)]
    pub(crate) retry_after: bool,
}

impl RateLimit {
    /// `requests` per `window`, answered with 429 and no `Retry-After` (as v1 does).
    #[must_use]
    pub fn new(requests: u32, window: Duration) -> Self {
        RateLimit {
            requests,
            window,
            retry_after: false,
        }
    }

    /// `requests` per minute.
    #[must_use]
    pub fn per_minute(requests: u32) -> Self {
        Self::new(requests, Duration::from_secs(60))
    }

    /// No limit at all (for tests that make many requests and are not about pacing).
    #[must_use]
    pub fn unlimited() -> Self {
        Self::new(u32::MAX, Duration::from_secs(60))
    }

    /// Adds a `Retry-After` header (whole seconds until a slot frees up) to 429s.
    #[must_use]
    pub fn with_retry_after(mut self) -> Self {
        self.retry_after = true;
        self
    }
}

impl Default for RateLimit {
    /// 100 requests per minute per login, the figure in seed 003.
    fn default() -> Self {
        Self::per_minute(100)
    }
}

/// Random faults, drawn from an RNG seeded with a fixed number so a failing
/// test fails the same way every time (for requests made in the same order).
///
/// Server errors and slow responses hit any API request; dropped connections
/// hit only writes (POST, PUT, PATCH, DELETE). "After commit" means the change
/// is stored and *then* the connection is closed without a response: the
/// client sees an error although the user exists, which is how careless
/// retries create duplicates.
///
/// ```
/// use std::time::Duration;
/// use muster_emulator::Faults;
/// let flaky = Faults::seeded(7)
///     .server_errors(0.1)
///     .drop_after_commit(0.05)
///     .slow(0.1, Duration::from_millis(200))
///     .read_after_write_lag(Duration::from_secs(5));
/// # let _ = flaky;
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Faults {
    pub(crate) seed: u64,
    pub(crate) server_errors: f64,
    pub(crate) drop_before_commit: f64,
    pub(crate) drop_after_commit: f64,
    pub(crate) slow: f64,
    #[serde(rename = "slow_ms", with = "millis")]
    pub(crate) slow_delay: Duration,
    #[serde(rename = "read_after_write_lag_ms", with = "millis")]
    pub(crate) read_after_write_lag: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::seeded(0)
    }
}

impl Faults {
    /// No faults yet, with the RNG seeded by `seed`.
    #[must_use]
    pub fn seeded(seed: u64) -> Self {
        Faults {
            seed,
            server_errors: 0.0,
            drop_before_commit: 0.0,
            drop_after_commit: 0.0,
            slow: 0.0,
            slow_delay: Duration::ZERO,
            read_after_write_lag: Duration::ZERO,
        }
    }

    /// The fraction (0.0–1.0) of API requests answered 500, 502 or 503.
    #[must_use]
    pub fn server_errors(mut self, fraction: f64) -> Self {
        self.server_errors = fraction;
        self
    }

    /// The fraction of writes whose connection is closed before anything is stored.
    #[must_use]
    pub fn drop_before_commit(mut self, fraction: f64) -> Self {
        self.drop_before_commit = fraction;
        self
    }

    /// The fraction of writes whose connection is closed *after* the change is stored.
    #[must_use]
    pub fn drop_after_commit(mut self, fraction: f64) -> Self {
        self.drop_after_commit = fraction;
        self
    }

    /// The fraction of API requests delayed by `delay` before being handled.
    #[must_use]
    pub fn slow(mut self, fraction: f64, delay: Duration) -> Self {
        self.slow = fraction;
        self.slow_delay = delay;
        self
    }

    /// How long a newly created user stays invisible to GETs (list and
    /// single) while already counting for duplicates. Measured on the
    /// emulator's [`Clock`](crate::Clock).
    #[must_use]
    pub fn read_after_write_lag(mut self, lag: Duration) -> Self {
        self.read_after_write_lag = lag;
        self
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        let fractions = [
            ("server_errors", self.server_errors),
            ("drop_before_commit", self.drop_before_commit),
            ("drop_after_commit", self.drop_after_commit),
            ("slow", self.slow),
        ];
        for (name, f) in fractions {
            if !(0.0..=1.0).contains(&f) {
                return Err(Error::InvalidSeed(format!(
                    "fault fraction `{name}` is {f}, expected a number from 0 to 1"
                )));
            }
        }
        let exclusive = self.server_errors + self.drop_before_commit + self.drop_after_commit;
        if exclusive > 1.0 {
            return Err(Error::InvalidSeed(format!(
                "server_errors + drop_before_commit + drop_after_commit is {exclusive}, expected at most 1"
            )));
        }
        Ok(())
    }
}

/// One scripted fault for the next API request (see
/// [`Emulator::push_fault`](crate::Emulator::push_fault)): deterministic
/// failures for retry tests, independent of the random [`Faults`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status (e.g. 500, 503, 429) and an error body, changing nothing.
    Status(u16),
    /// Close the connection without a response, changing nothing.
    DropBeforeCommit,
    /// Handle the request (a write is stored), then close the connection without a response.
    DropAfterCommit,
    /// Wait this long before handling the request.
    Slow(Duration),
}

/// Which spelling of the personal sender lists the emulator *returns*.
///
/// Both spellings are accepted on writes (they name the same two lists);
/// api-facts §1.4 records that real clients disagree about which one the
/// server uses, so a client should read both and write back the one it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SenderListSpelling {
    /// `white_list_senders` / `black_list_senders` (three clients).
    #[default]
    WhiteBlack,
    /// `safe_list_senders` / `block_list_senders` (one client).
    SafeBlock,
}

/// A whole emulator description, as read from a JSON seed file.
///
/// ```
/// use muster_emulator::Seed;
/// let seed = Seed::from_json(r#"{
///   "orgs": [{"primary_domain": "example.com", "domains": ["example.org"],
///             "users": [{"primary_email": "ann@example.com", "alias_emails": ["a@example.org"]}]}],
///   "logins": [{"user": "admin@example.com", "password": "pw", "type": "organization_admin",
///               "orgs": ["example.com"]}],
///   "rate_limit": {"requests": 100, "window_secs": 60},
///   "faults": {"seed": 1, "server_errors": 0.05}
/// }"#)?;
/// # Ok::<(), muster_emulator::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Seed {
    #[serde(default)]
    pub(crate) orgs: Vec<Org>,
    #[serde(default)]
    pub(crate) logins: Vec<Login>,
    #[serde(default)]
    pub(crate) rate_limit: Option<RateLimit>,
    #[serde(default)]
    pub(crate) faults: Option<Faults>,
    #[serde(default)]
    pub(crate) sender_list_spelling: Option<SenderListSpelling>,
}

impl Seed {
    /// Parses a seed from JSON text.
    ///
    /// # Errors
    /// [`Error::SeedJson`] naming line and column when the text is not a seed.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|source| Error::SeedJson {
            origin: "<string>".to_owned(),
            source,
        })
    }

    /// Reads a seed file.
    ///
    /// # Errors
    /// [`Error::SeedFile`] when it cannot be read, [`Error::SeedJson`] (naming
    /// the file, line and column) when it is not a seed.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::SeedFile {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| Error::SeedJson {
            origin: path.display().to_string(),
            source,
        })
    }
}

mod secs {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        f64::deserialize(d)
            .and_then(|s| Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom))
    }
}

mod millis {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
