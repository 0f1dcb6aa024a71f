//! Starting an emulator and looking inside it from a test.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use muster_core::{Domain, EmailAddress};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::Error;
use crate::clock::{Clock, TokioClock, lock};
use crate::config::{Fault, Faults, Login, Org, RateLimit, Seed, SenderListSpelling};
use crate::conn::{Cut, CuttableListener};
use crate::faults::FaultState;
use crate::http::{Shared, router};
use crate::limiter::Limiter;
use crate::model::{parse_v1, render_v1};
use crate::observe::{CounterKey, Observations, RequestRecord};
use crate::store::Store;

/// Configures an emulator; [`EmulatorBuilder::start`] brings it up.
#[derive(Debug)]
#[must_use]
pub struct EmulatorBuilder {
    seed: Seed,
    clock: Arc<dyn Clock>,
    port: u16,
}

impl EmulatorBuilder {
    /// Adds an organisation.
    pub fn org(mut self, org: Org) -> Self {
        self.seed.orgs.push(org);
        self
    }

    /// Adds a login. Logins must name seeded organisations.
    pub fn login(mut self, login: Login) -> Self {
        self.seed.logins.push(login);
        self
    }

    /// Sets the per-login rate limit (default: 100 per minute, no `Retry-After`).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.seed.rate_limit = Some(limit);
        self
    }

    /// Sets the random faults (default: none).
    ///
    /// A fraction outside 0–1 makes [`start`](Self::start) fail with
    /// [`Error::InvalidSeed`].
    pub fn faults(mut self, faults: Faults) -> Self {
        self.seed.faults = Some(faults);
        self
    }

    /// Chooses the sender-list spelling the emulator returns.
    pub fn sender_list_spelling(mut self, spelling: SenderListSpelling) -> Self {
        self.seed.sender_list_spelling = Some(spelling);
        self
    }

    /// Adds everything in `seed`: its organisations and logins, and its
    /// rate limit, faults and spelling where given.
    pub fn seed(mut self, seed: Seed) -> Self {
        self.seed.orgs.extend(seed.orgs);
        self.seed.logins.extend(seed.logins);
        self.seed.rate_limit = seed.rate_limit.or(self.seed.rate_limit);
        self.seed.faults = seed.faults.or(self.seed.faults);
        self.seed.sender_list_spelling =
            seed.sender_list_spelling.or(self.seed.sender_list_spelling);
        self
    }

    /// Replaces the clock used for the rate limit and read-after-write lag
    /// (default: tokio's, which follows `tokio::time::pause`).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Listens on this port of 127.0.0.1 (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Checks the seed, binds 127.0.0.1 and serves in the background on the
    /// current tokio runtime.
    ///
    /// # Errors
    /// [`Error::InvalidSeed`] for a seed the gateway would refuse (a user
    /// outside the registered domains, a login for an unknown organisation,
    /// a fault fraction above 1, …), [`Error::Bind`] when the port is taken.
    pub async fn start(self) -> Result<Emulator, Error> {
        let faults = self.seed.faults.clone().unwrap_or_default();
        faults.check()?;
        let store = Store::seeded(&self.seed.orgs, self.clock.now())?;
        let logins = logins(&self.seed.logins, &store)?;
        let addr = format!("127.0.0.1:{}", self.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| Error::Bind {
                addr: addr.clone(),
                source,
            })?;
        let local = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let base_url = format!("http://{local}");
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            logins,
            limiter: Mutex::new(Limiter::new(self.seed.rate_limit.unwrap_or_default())),
            faults: Mutex::new(FaultState::new(faults)),
            observations: Mutex::new(Observations::default()),
            started: self.clock.now(),
            clock: self.clock,
            spelling: self.seed.sender_list_spelling.unwrap_or_default(),
            base_url: base_url.clone(),
        });
        let app = router(shared.clone()).into_make_service_with_connect_info::<Cut>();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(CuttableListener(listener), app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "emulator stopped serving");
            }
        });
        tracing::debug!(%base_url, "emulator started");
        Ok(Emulator {
            shared,
            base_url,
            stop: Some(stop),
        })
    }
}

/// Indexes logins by lowercase name, resolving their organisations to store keys.
fn logins(seeded: &[Login], store: &Store) -> Result<HashMap<String, Login>, Error> {
    let mut out = HashMap::new();
    for login in seeded {
        let mut login = login.clone();
        if login.orgs.is_empty() {
            return Err(Error::InvalidSeed(format!(
                "login `{}` administers no organisation",
                login.user
            )));
        }
        for org in &mut login.orgs {
            let key = Domain::parse(org)
                .map(|d| d.as_ascii().to_owned())
                .map_err(|e| Error::InvalidSeed(format!("login `{}`: {e}", login.user)))?;
            if store.org(&key).is_none() {
                return Err(Error::InvalidSeed(format!(
                    "login `{}` names organisation `{org}`, which is not seeded",
                    login.user
                )));
            }
            *org = key;
        }
        if out
            .insert(login.user.to_lowercase(), login.clone())
            .is_some()
        {
            return Err(Error::InvalidSeed(format!(
                "login `{}` is seeded twice",
                login.user
            )));
        }
    }
    Ok(out)
}

/// A running emulator. Dropping it stops the server.
///
/// Every accessor reads the live state, so a test can act through HTTP and
/// then assert on what the gateway now holds.
#[derive(Debug)]
pub struct Emulator {
    shared: Arc<Shared>,
    base_url: String,
    stop: Option<oneshot::Sender<()>>,
}

impl Emulator {
    /// Starts configuring an emulator: no organisations, no logins,
    /// 100 requests per minute per login, no faults.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder {
            seed: Seed::default(),
            clock: Arc::new(TokioClock),
            port: 0,
        }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `http://127.0.0.1:PORT/api/v1`: the v1 base a client is configured with.
    #[must_use]
    pub fn api_v1_url(&self) -> String {
        format!("{}/api/v1", self.base_url)
    }

    /// Every user of organisation `org` in the v1 GET shape, in creation
    /// order, including users still hidden by read-after-write lag. Empty
    /// for an unknown organisation.
    #[must_use]
    pub fn users(&self, org: &str) -> Vec<Value> {
        let Some(key) = org_key(org) else {
            return Vec::new();
        };
        let store = lock(&self.shared.store);
        store
            .org(&key)
            .map(|o| {
                o.all_users()
                    .map(|u| render_v1(u, self.shared.spelling))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One user of `org` by primary address (any spelling), in the v1 GET shape.
    #[must_use]
    pub fn user(&self, org: &str, email: &str) -> Option<Value> {
        self.with_user(org, email, |u| render_v1(u, self.shared.spelling))
    }

    /// The stored (write-only) password of a user: a test can check that a
    /// password was set, or was *not* wiped, without the API ever returning it.
    #[must_use]
    pub fn password(&self, org: &str, email: &str) -> Option<String> {
        self.with_user(org, email, |u| u.password.as_ref().map(|p| p.0.clone()))
            .flatten()
    }

    fn with_user<T>(
        &self,
        org: &str,
        email: &str,
        f: impl FnOnce(&crate::model::StoredUser) -> T,
    ) -> Option<T> {
        let key = org_key(org)?;
        let email = EmailAddress::parse(email).ok()?;
        let store = lock(&self.shared.store);
        store.org(&key)?.user(&email).map(f)
    }

    /// Welcome letters sent to `email` (in any organisation) since start.
    /// Deleting a user does not reset the count: a person who was deleted
    /// and recreated did get two letters.
    #[must_use]
    pub fn welcome_letters(&self, email: &str) -> u32 {
        let Ok(email) = EmailAddress::parse(email) else {
            return 0;
        };
        let store = lock(&self.shared.store);
        store
            .orgs()
            .filter_map(|o| o.welcome_letters.get(email.normalized()))
            .sum()
    }

    /// Every address that received a welcome letter, with its count.
    #[must_use]
    pub fn welcome_letter_counts(&self) -> BTreeMap<String, u32> {
        let store = lock(&self.shared.store);
        let mut out = BTreeMap::new();
        for o in store.orgs() {
            for (address, n) in &o.welcome_letters {
                *out.entry(address.clone()).or_default() += n;
            }
        }
        out
    }

    /// The request log (credentials redacted), oldest first. `/__admin`
    /// requests are not logged.
    #[must_use]
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.observations).requests.clone()
    }

    /// Request counts by method, route template and status.
    #[must_use]
    pub fn counters(&self) -> BTreeMap<CounterKey, u64> {
        lock(&self.shared.observations).counters.clone()
    }

    /// How many requests had this method, route template and status.
    ///
    /// ```no_run
    /// # async fn f(emu: muster_emulator::Emulator) {
    /// assert_eq!(emu.count("PUT", "/api/v1/orgs/{domain}/users/{email}", 204), 1);
    /// # }
    /// ```
    #[must_use]
    pub fn count(&self, method: &str, route: &str, status: u16) -> u64 {
        lock(&self.shared.observations)
            .counters
            .iter()
            .filter(|(k, _)| k.method == method && k.route == route && k.status == status)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Forgets the request log and counters (not the users or letters).
    pub fn clear_observations(&self) {
        *lock(&self.shared.observations) = Observations::default();
    }

    /// Stores a user (v1 shape) as if an administrator had added it in the
    /// console: no welcome letter, no lag, no request logged. For tests of
    /// accounts a sync did not create.
    ///
    /// # Errors
    /// [`Error::InvalidSeed`] with the gateway's reason (unregistered
    /// domain, duplicate address, unknown organisation, bad field).
    pub fn insert_user(&self, org: &str, user: Value) -> Result<(), Error> {
        let key =
            org_key(org).ok_or_else(|| Error::InvalidSeed(format!("`{org}` is not a domain")))?;
        let write = parse_v1(user).map_err(Error::InvalidSeed)?;
        let now = self.shared.clock.now();
        lock(&self.shared.store)
            .create(&key, write, now, std::time::Duration::ZERO, false)
            .map(|_| ())
            .map_err(|e| Error::InvalidSeed(e.message))
    }

    /// Queues a fault for the next API request that passes authentication
    /// and the rate limit (first in, first out), whatever its method, in
    /// place of the random faults for that request: exact, repeatable
    /// failures for retry tests.
    pub fn push_fault(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
    }

    /// Drops the [`push_fault`](Self::push_fault) faults no request has
    /// used yet (the gateway is "back"), returning how many there were.
    pub fn clear_faults(&self) -> usize {
        lock(&self.shared.faults).clear_scripted()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn org_key(org: &str) -> Option<String> {
    Domain::parse(org).ok().map(|d| d.as_ascii().to_owned())
}
