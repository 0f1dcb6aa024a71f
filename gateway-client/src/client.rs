//! The client, its builder, and what each dialect can do.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use muster_core::{Domain, Field, FieldSet};
use secrecy::SecretString;
use url::Url;

use crate::limiter::{AdaptiveLimiter, LearnedRate, LimiterKey, RateLimit, RateLimiter};
use crate::retry::RetryBudget;
use crate::{Breaker, Error, RetryConfig};
use muster_core::{Sleep, TokioSleep};

/// Which API the gateway speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// Proofpoint Essentials `/api/v1` (the real, documented API).
    EssentialsV1,
    /// The "v2" shape of seed 003 (`/v2/users`, Basic auth, camelCase).
    RestV2,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::EssentialsV1 => "Essentials v1",
            Dialect::RestV2 => "REST v2",
        })
    }
}

/// What a dialect can do, so callers (the planner, the executor) adapt
/// instead of discovering it from errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Groups and group membership endpoints exist.
    pub groups: bool,
    /// The user list is paged (otherwise one response holds everyone).
    pub paging: bool,
    /// Several users can be created in one POST.
    pub bulk_create: bool,
    /// The account fields this dialect stores and can write. A planner must
    /// not plan a change to any other field: the gateway would drop it and
    /// the next plan would propose it again. (Essentials v1's wire names for
    /// phones, company, department and notes are not known, so v1 does not
    /// claim them.)
    pub fields: FieldSet,
}

impl Dialect {
    /// What this dialect can do.
    #[must_use]
    pub fn capabilities(self) -> Capabilities {
        match self {
            Dialect::EssentialsV1 => Capabilities {
                groups: false,
                paging: false,
                bulk_create: true,
                fields: FieldSet::from_iter([
                    Field::FirstName,
                    Field::LastName,
                    Field::Aliases,
                    Field::Enabled,
                    Field::Kind,
                    Field::AllowSenders,
                    Field::BlockSenders,
                ]),
            },
            Dialect::RestV2 => Capabilities {
                groups: true,
                paging: true,
                bulk_create: false,
                fields: FieldSet::from_iter([
                    Field::FirstName,
                    Field::LastName,
                    Field::Aliases,
                    Field::Enabled,
                    Field::Groups,
                ]),
            },
        }
    }
}

/// Default per-request timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default connect timeout.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The v2 page size: the documented maximum, so large orgs need few requests.
pub(crate) const MAX_PAGE_SIZE: u32 = 1000;

/// Builds a [`Client`]. Obtain one with [`Client::builder`].
///
/// ```
/// use muster_gateway::{Client, Error};
/// // Plain http is refused for anything but loopback: credentials travel in headers.
/// let err = Client::builder()
///     .essentials("http://gateway.example.com", "example.com")
///     .credentials("admin@example.com", "secret".into())
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, Error::Config(_)));
/// ```
#[must_use]
pub struct ClientBuilder {
    target: Option<(Dialect, String, Option<String>)>,
    login: Option<(String, SecretString)>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryConfig,
    rate_limit: RateLimit,
    limiter: Option<Arc<dyn RateLimiter>>,
    learned: Option<LearnedRate>,
    budget: Option<Arc<RetryBudget>>,
    sleeper: Arc<dyn Sleep>,
    user_agent: String,
    page_size: u32,
}

impl ClientBuilder {
    /// Proofpoint Essentials v1 for the organisation whose primary domain is
    /// `org_domain`. `stack_or_base_url` is a stack name (`us1`, `eu1`, …,
    /// giving `https://us1.proofpointessentials.com/api/v1`) or a base URL;
    /// a base URL without a path gets `/api/v1` appended.
    pub fn essentials(mut self, stack_or_base_url: &str, org_domain: &str) -> Self {
        self.target = Some((
            Dialect::EssentialsV1,
            stack_or_base_url.to_owned(),
            Some(org_domain.to_owned()),
        ));
        self
    }

    /// The seed-003 "v2" API at `base_url` (a base URL without a path gets
    /// `/v2` appended).
    pub fn rest_v2(mut self, base_url: &str) -> Self {
        self.target = Some((Dialect::RestV2, base_url.to_owned(), None));
        self
    }

    /// The admin login (v1 `X-User`/`X-Password`) or API key and secret (v2 Basic auth).
    pub fn credentials(mut self, user: &str, password: SecretString) -> Self {
        self.login = Some((user.to_owned(), password));
        self
    }

    /// Timeout for one whole request (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Timeout for establishing a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Attempts and backoff (default [`RetryConfig::standard`]).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// The pace of the default limiter (default 100/min, burst 5). The
    /// limiter is shared with every client built for the same login and
    /// host in this process; the first one's pace wins.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    /// Spends retries from `budget` (shared with every client given the
    /// same one) instead of a budget of its own ([`RetryBudget::default`],
    /// shared by the client's clones).
    pub fn retry_budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Starts the limiter at a rate an earlier run learned
    /// ([`Client::learned_rate`], saved with [`LearnedRate::save`]) instead
    /// of at the configured one, so a new process does not rediscover the
    /// gateway's limit with a burst of 429s. The learned rate
    /// [decays](LearnedRate::effective_per_minute) back to the configured
    /// budget as it ages; it never raises the rate above it.
    pub fn learned_rate(mut self, learned: LearnedRate) -> Self {
        self.learned = Some(learned);
        self
    }

    /// Waits between retries with `sleeper` instead of tokio's timer, e.g. to
    /// observe the waits a retry schedule asks for in a test.
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleep>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// Uses `limiter` instead of the default, e.g. one shared across processes.
    pub fn limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The `User-Agent` header (default `muster/<version>`).
    pub fn user_agent(mut self, user_agent: &str) -> Self {
        self.user_agent = user_agent.to_owned();
        self
    }

    /// v2 page size (1 to 1000; default 1000).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size.clamp(1, MAX_PAGE_SIZE);
        self
    }

    /// Checks the configuration and builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] when no gateway or credentials were given, the URL
    /// or organisation domain does not parse, or the URL is plain `http://`
    /// to anything but a loopback address.
    pub fn build(self) -> Result<Client, Error> {
        let (dialect, target, org) = self
            .target
            .ok_or_else(|| Error::Config("no gateway: call essentials() or rest_v2()".into()))?;
        let (user, password) = self
            .login
            .ok_or_else(|| Error::Config("no credentials: call credentials()".into()))?;
        let base = base_url(dialect, &target)?;
        let org = org
            .map(|d| {
                Domain::parse(&d)
                    .map_err(|e| Error::Config(format!("organisation domain {d:?}: {e}")))
            })
            .transpose()?;
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            // Redirects would carry X-Password to wherever they point.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        let limiter = match self.limiter {
            Some(l) => l,
            None => {
                AdaptiveLimiter::shared(LimiterKey::new(&user, &host_of(&base)), self.rate_limit)
            }
        };
        if let Some(learned) = self.learned {
            limiter.load_learned_rate(learned, std::time::SystemTime::now());
        }
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                dialect,
                org,
                user,
                password,
                retry: self.retry,
                limiter,
                budget: self.budget.unwrap_or_default(),
                breaker: None,
                sleeper: self.sleeper,
                page_size: self.page_size,
                configured_per_minute: self.rate_limit.requests_per_minute(),
            }),
        })
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("target", &self.target)
            .field("user", &self.login.as_ref().map(|(user, _)| user))
            .field("password", &"[REDACTED]")
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}

/// Resolves a stack name or base URL, refusing plain http to remote hosts.
fn base_url(dialect: Dialect, target: &str) -> Result<Url, Error> {
    let default_path = match dialect {
        Dialect::RestV2 => "/v2",
        _ => "/api/v1",
    };
    let is_stack = !target.contains([':', '/', '.'])
        && !target.is_empty()
        && target.chars().all(|c| c.is_ascii_alphanumeric());
    let text = if is_stack && dialect == Dialect::EssentialsV1 {
        format!(
            "https://{}.proofpointessentials.com/api/v1",
            target.to_ascii_lowercase()
        )
    } else {
        target.to_owned()
    };
    let mut url =
        Url::parse(&text).map_err(|e| Error::Config(format!("gateway URL {text:?}: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(Error::Config(format!(
                "plain http is only allowed to loopback addresses, not {}",
                url.host_str().unwrap_or_default()
            )));
        }
        other => return Err(Error::Config(format!("unsupported URL scheme {other:?}"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(
            "credentials in the gateway URL; use credentials() instead".into(),
        ));
    }
    if url.path() == "/" || url.path().is_empty() {
        url.set_path(default_path);
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// A client for one gateway (and, on v1, one organisation).
///
/// Cheap to clone; clones share the connection pool and the rate limiter.
///
/// ```no_run
/// use muster_gateway::Client;
/// # async fn run() -> Result<(), muster_gateway::Error> {
/// let client = Client::builder()
///     .essentials("us1", "example.com")
///     .credentials("admin@example.com", std::env::var("PPE_PASSWORD").unwrap().into())
///     .build()?;
/// for user in client.users().list().await? {
///     println!("{}", user.account().primary_email);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Clone)]
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) dialect: Dialect,
    pub(crate) org: Option<Domain>,
    pub(crate) user: String,
    pub(crate) password: SecretString,
    pub(crate) retry: RetryConfig,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) budget: Arc<RetryBudget>,
    pub(crate) breaker: Option<Arc<Breaker>>,
    pub(crate) sleeper: Arc<dyn Sleep>,
    pub(crate) page_size: u32,
    /// The configured pace, for [`Client::requests_per_minute`].
    pub(crate) configured_per_minute: u32,
}

impl Client {
    /// Starts building a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            target: None,
            login: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryConfig::standard(),
            rate_limit: RateLimit::default(),
            limiter: None,
            learned: None,
            budget: None,
            sleeper: Arc::new(TokioSleep::default()),
            user_agent: concat!("muster/", env!("CARGO_PKG_VERSION")).to_owned(),
            page_size: MAX_PAGE_SIZE,
        }
    }

    /// The dialect this client speaks.
    #[must_use]
    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// What the dialect can do.
    #[must_use]
    pub fn capabilities(&self) -> Capabilities {
        self.inner.dialect.capabilities()
    }

    /// The base URL requests are made against.
    #[must_use]
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The organisation's primary domain (v1 only).
    #[must_use]
    pub fn org_domain(&self) -> Option<&Domain> {
        self.inner.org.as_ref()
    }

    /// The login in use (the user name; the password is never exposed).
    #[must_use]
    pub fn login(&self) -> &str {
        &self.inner.user
    }

    /// The limiter this client paces its requests with.
    #[must_use]
    pub fn limiter(&self) -> &Arc<dyn RateLimiter> {
        &self.inner.limiter
    }

    /// The pace requests leave at now, in requests per minute: the rate
    /// the limiter learned (loaded from an earlier run, or learned from a
    /// 429 in this one), else the configured one. How long an apply takes
    /// is set by it, so an estimate of that duration divides by it.
    #[must_use]
    pub fn requests_per_minute(&self) -> f64 {
        self.learned_rate()
            .map_or(f64::from(self.inner.configured_per_minute), |l| {
                l.per_minute()
            })
    }

    /// What the limiter has learned about the gateway's real budget, to be
    /// saved for the next run ([`LearnedRate::save`], then
    /// [`ClientBuilder::learned_rate`]); `None` when it learned nothing
    /// (no 429 without `Retry-After` came, or the limiter is not one that learns).
    #[must_use]
    pub fn learned_rate(&self) -> Option<LearnedRate> {
        self.inner
            .limiter
            .learned_rate(std::time::SystemTime::now())
    }

    /// The key the gateway counts this client's budget under: its login and
    /// host (where to save the [learned rate](Self::learned_rate)).
    #[must_use]
    pub fn limiter_key(&self) -> LimiterKey {
        LimiterKey::new(&self.inner.user, &host_of(&self.inner.base))
    }

    /// A client like this one (same connections, limiter and budget) that
    /// stops sending once `breaker` trips: every request then fails at
    /// once with [`Error::CircuitOpen`]. The executor gives each apply its
    /// own, so an apply against a dead gateway stops after a few attempts.
    #[must_use]
    pub fn with_breaker(&self, breaker: Arc<Breaker>) -> Client {
        let mut inner = (*self.inner).clone();
        inner.breaker = Some(breaker);
        Client {
            inner: Arc::new(inner),
        }
    }

    /// The breaker this client stops sending by, if it has one.
    #[must_use]
    pub fn breaker(&self) -> Option<&Arc<Breaker>> {
        self.inner.breaker.as_ref()
    }
}

/// `host:port` of a URL, as the limiter is keyed.
fn host_of(base: &Url) -> String {
    format!(
        "{}:{}",
        base.host_str().unwrap_or_default(),
        base.port_or_known_default().unwrap_or_default()
    )
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Client")
            .field("dialect", &i.dialect)
            .field("base", &i.base.as_str())
            .field("org", &i.org)
            .field("user", &i.user)
            .field("password", &"[REDACTED]")
            .field("retry", &i.retry)
            .field("limiter", &i.limiter)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(d: Dialect, s: &str) -> Result<String, Error> {
        base_url(d, s).map(String::from)
    }

    #[test]
    fn stack_names_and_base_urls() {
        assert_eq!(
            url(Dialect::EssentialsV1, "US1").unwrap(),
            "https://us1.proofpointessentials.com/api/v1"
        );
        assert_eq!(
            url(Dialect::EssentialsV1, "http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080/api/v1"
        );
        assert_eq!(
            url(Dialect::EssentialsV1, "http://localhost:1/custom/api").unwrap(),
            "http://localhost:1/custom/api"
        );
        assert_eq!(
            url(Dialect::RestV2, "https://api.example.com").unwrap(),
            "https://api.example.com/v2"
        );
        assert_eq!(
            url(Dialect::RestV2, "http://[::1]:9").unwrap(),
            "http://[::1]:9/v2"
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for bad in [
            "http://gateway.example.com",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "https://admin:pw@us1.example.com",
        ] {
            assert!(
                matches!(url(Dialect::EssentialsV1, bad), Err(Error::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_has_no_password() {
        let client = Client::builder()
            .essentials("us1", "example.com")
            .credentials("admin@example.com", "pa55-word-xyz".into())
            .build()
            .unwrap();
        let dbg = format!("{client:?}");
        assert!(!dbg.contains("pa55-word-xyz"), "{dbg}");
        let builder = Client::builder().credentials("admin@example.com", "pa55-word-xyz".into());
        assert!(!format!("{builder:?}").contains("pa55-word-xyz"));
        assert!(dbg.contains("admin@example.com"));
    }

    #[test]
    fn missing_parts_are_config_errors() {
        assert!(matches!(Client::builder().build(), Err(Error::Config(_))));
        assert!(matches!(
            Client::builder().essentials("us1", "example.com").build(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            Client::builder()
                .essentials("us1", "not a domain")
                .credentials("a@b.com", "x".into())
                .build(),
            Err(Error::Config(_))
        ));
    }
}
