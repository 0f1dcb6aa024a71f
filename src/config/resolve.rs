//! From a config to the SDK's values: the checks across keys, the defaults,
//! the [`Policy`], the gateway client, the secrets.
//!
//! Each conversion destructures its config struct without `..`, so a key
//! added to the file's shape and forgotten here does not compile.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use muster_core::{DirectoryEntry, Domain, EmailAddress, FieldSet, RecipientKind, UserType};
use muster_directory::{
    AD_MAIL_USERS, CandidateUse, CsvFormat, CsvMapping, Delimiter, Direction, DiscoveryPolicy,
    Encoding, ExternalMembers, GraphCloud, GuestPolicy, HeaderRow, LdapAttributes, LdapObjects,
    PostiniAliases, StandardLayout,
};
use muster_gateway::{Client, RateLimit, SecretString};

use crate::shared_limiter::RedisLimiter;
use muster_reconcile::{HrRule, Mode, PlanKey, Policy};

use super::error::ConfigError;
use super::file::{
    AdditionConfig, Config, DiscoveryConfig, GatewayConfig, KindRule, NewUserRole, PolicyConfig,
    PostiniConfig, SourceSettings, ThresholdConfig,
};
use super::load::{self, KeyPath};

/// The requests per minute a login gets unless the config says otherwise
/// (seed 003's figure; nothing official confirms it).
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 100;
/// The environment variable of the gateway password by default.
pub const GATEWAY_PASSWORD_ENV: &str = "MUSTER_PASSWORD";
/// The environment variable of the LDAP bind password by default.
pub const LDAP_PASSWORD_ENV: &str = "MUSTER_LDAP_PASSWORD";
/// The environment variable of the plan-signing key by default.
pub const PLAN_KEY_ENV: &str = "MUSTER_PLAN_KEY";
/// The environment variable of the Graph client secret by default.
pub const GRAPH_SECRET_ENV: &str = "MUSTER_GRAPH_SECRET";
/// The environment variable of the shared rate limit's Redis URL by default.
pub const REDIS_URL_ENV: &str = "MUSTER_REDIS_URL";

/// The keys of `[source.attributes]` besides `preset`, in the map's order.
const ATTRIBUTE_KEYS: &[&str] = &[
    "mail",
    "proxy_addresses",
    "first_name",
    "last_name",
    "mobile",
    "phone",
    "company",
    "department",
    "notes",
    "account_control",
    "recipient_type",
    "external_id",
    "group_class",
    "group_name",
    "group_members",
    "group_type",
    "primary_group_id",
];

impl Config {
    /// An error at `path`: with the file and line when this config came
    /// from a file.
    pub(crate) fn error(&self, path: &KeyPath, problem: impl Into<String>) -> ConfigError {
        match &self.text {
            Some(text) => text.error(path, problem),
            None => load::unlocated(path, problem),
        }
    }

    /// Makes every relative path absolute against `folder` (the config
    /// file's): the same config works from any working directory.
    pub(crate) fn rebase(&mut self, folder: &Path) {
        let rebase = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = folder.join(&*p);
            }
        };
        let rebase_opt = |p: &mut Option<PathBuf>| {
            if let Some(p) = p {
                rebase(p);
            }
        };
        rebase_opt(&mut self.gateway.password_file);
        if let Some(shared) = &mut self.gateway.shared_rate_limit {
            rebase_opt(&mut shared.url_file);
        }
        for source in &mut self.sources {
            match &mut source.settings {
                SourceSettings::Ldap(c) => {
                    rebase_opt(&mut c.password_file);
                    rebase_opt(&mut c.ca_file);
                }
                SourceSettings::Graph(c) => {
                    rebase_opt(&mut c.password_file);
                    rebase_opt(&mut c.cursor);
                }
                SourceSettings::Csv(c) => rebase(&mut c.path),
                SourceSettings::MappedCsv(c) => rebase(&mut c.path),
                SourceSettings::Postini(c) => {
                    rebase(&mut c.users);
                    rebase_opt(&mut c.aliases);
                }
                SourceSettings::Discovery(c) => rebase(&mut c.ledger),
            }
        }
        if let Some(hr) = &mut self.hr {
            rebase(&mut hr.path);
        }
        rebase_opt(&mut self.files.state);
        rebase_opt(&mut self.files.journals);
        rebase_opt(&mut self.signing.key_file);
    }

    /// The checks that look across keys: exactly one authoritative source,
    /// unique source names, one way to give each secret, settings that need
    /// another. Run before anything is read or sent.
    ///
    /// # Errors
    /// The first problem, naming its key (and line, for a file).
    pub fn check(&self) -> Result<(), ConfigError> {
        let gateway = KeyPath::of(&["gateway"]);
        self.one_secret(
            &gateway,
            &self.gateway.password_env,
            &self.gateway.password_file,
        )?;
        if let Some(shared) = &self.gateway.shared_rate_limit
            && shared.url_env.is_some()
            && shared.url_file.is_some()
        {
            return Err(self.error(
                &gateway.key("shared_rate_limit").key("url_file"),
                "both `url_env` and `url_file` are set: keep one",
            ));
        }
        if self.sources.is_empty() {
            return Err(self.error(
                &KeyPath::of(&["source"]),
                "no source: add a `[[source]]` (ldap, graph, csv, …)",
            ));
        }
        let authoritative: Vec<usize> = (0..self.sources.len())
            .filter(|i| self.sources[*i].role == Mode::Authoritative)
            .collect();
        match authoritative.as_slice() {
            [_] => {}
            [] => {
                return Err(self.error(
                    &KeyPath::of(&["source"]).index(0).key("role"),
                    "no source is authoritative: exactly one needs `role = \"authoritative\"`",
                ));
            }
            [first, second, ..] => {
                return Err(self.error(
                    &KeyPath::of(&["source"]).index(*second).key("role"),
                    format!(
                        "two authoritative sources (`{}` and `{}`): exactly one may be, the others are `supplemental`",
                        self.sources[*first].name, self.sources[*second].name
                    ),
                ));
            }
        }
        let mut names = BTreeSet::new();
        for (i, source) in self.sources.iter().enumerate() {
            let path = KeyPath::of(&["source"]).index(i);
            if !names.insert(source.name.as_str()) {
                return Err(self.error(
                    &path.key("name"),
                    format!(
                        "`{}` names two sources: a name is a source's identity in the state",
                        source.name
                    ),
                ));
            }
            self.check_source(&path, &source.settings)?;
        }
        Ok(())
    }

    fn check_source(&self, path: &KeyPath, settings: &SourceSettings) -> Result<(), ConfigError> {
        match settings {
            SourceSettings::Ldap(c) => {
                self.one_secret(path, &c.password_env, &c.password_file)?;
                if c.ca_only == Some(true) && c.ca_file.is_none() {
                    return Err(self.error(
                        &path.key("ca_only"),
                        "needs `ca_file`: trusting only its CAs without one would trust nothing",
                    ));
                }
                if (c.password_env.is_some() || c.password_file.is_some()) && c.bind_dn.is_none() {
                    return Err(self.error(
                        &path.key("bind_dn"),
                        "missing: a bind password is given but no account to bind as",
                    ));
                }
                for key in c.attributes.keys() {
                    if key != "preset" && !ATTRIBUTE_KEYS.contains(&key.as_str()) {
                        return Err(self.error(
                            &path.key("attributes").key(key),
                            format!(
                                "unknown attribute-map key; expected `preset` or one of: {}",
                                ATTRIBUTE_KEYS.join(", ")
                            ),
                        ));
                    }
                }
                ldap_attributes(&c.attributes).map_err(|(key, problem)| {
                    self.error(&path.key("attributes").key(&key), problem)
                })?;
            }
            SourceSettings::Graph(c) => {
                self.one_secret(path, &c.password_env, &c.password_file)?;
                if c.cursor.is_some() && c.filter.is_some() {
                    return Err(self.error(
                        &path.key("cursor"),
                        "a delta cursor cannot be combined with `filter` (Graph's delta query takes no $filter)",
                    ));
                }
            }
            SourceSettings::Postini(c) => {
                postini_mapping(c)
                    .map(drop)
                    .map_err(|(key, problem)| self.error(&path.key(&key), problem))?;
            }
            SourceSettings::Csv(_)
            | SourceSettings::MappedCsv(_)
            | SourceSettings::Discovery(_) => {}
        }
        Ok(())
    }

    /// `password_env` or `password_file`, not both.
    fn one_secret(
        &self,
        path: &KeyPath,
        env: &Option<String>,
        file: &Option<PathBuf>,
    ) -> Result<(), ConfigError> {
        if env.is_some() && file.is_some() {
            return Err(self.error(
                &path.key("password_file"),
                "both `password_env` and `password_file` are set: keep one",
            ));
        }
        Ok(())
    }

    /// The organisation's primary domain.
    ///
    /// # Errors
    /// When it is set nowhere.
    pub fn org(&self) -> Result<&str, ConfigError> {
        self.gateway.org.as_deref().ok_or_else(|| {
            self.error(
                &KeyPath::of(&["gateway", "org"]),
                "missing: set `org` in [gateway], pass --org or set MUSTER_ORG",
            )
        })
    }

    /// The stack.
    ///
    /// # Errors
    /// When it is set nowhere.
    pub fn stack(&self) -> Result<&str, ConfigError> {
        self.gateway.stack.as_deref().ok_or_else(|| {
            self.error(
                &KeyPath::of(&["gateway", "stack"]),
                "missing: set `stack` in [gateway], pass --stack or set MUSTER_STACK",
            )
        })
    }

    /// The gateway client: the organisation, the login, its password (from
    /// the environment or a file, never the config) and its request budget.
    ///
    /// With `[gateway.shared_rate_limit]`, the budget is a bucket in Redis
    /// shared with every process using the same login and stack
    /// ([`RedisLimiter`]); this connects to Redis once (blocking, for at
    /// most a few seconds) to check it answers, so a run whose shared budget
    /// is unreachable is refused before anything is sent rather than
    /// spending the budget alone.
    ///
    /// # Errors
    /// A missing setting or secret, settings the client refuses, or a
    /// shared budget whose Redis does not answer (the error names the
    /// server, never the URL's password).
    pub fn client(&self) -> Result<Client, ConfigError> {
        let GatewayConfig {
            stack: _,
            org: _,
            login,
            password_env,
            password_file,
            requests_per_minute,
            shared_rate_limit,
        } = &self.gateway;
        let (stack, org) = (self.stack()?, self.org()?);
        let login = login.as_deref().ok_or_else(|| {
            self.error(
                &KeyPath::of(&["gateway", "login"]),
                "missing: set `login` in [gateway], pass --login or set MUSTER_LOGIN",
            )
        })?;
        let password = secret(
            &KeyPath::of(&["gateway"]),
            password_env,
            password_file,
            GATEWAY_PASSWORD_ENV,
        )?;
        let rate =
            RateLimit::per_minute(requests_per_minute.unwrap_or(DEFAULT_REQUESTS_PER_MINUTE));
        let build = |limiter: Option<RedisLimiter>| {
            let builder = Client::builder()
                .essentials(stack, org)
                .credentials(login, password.clone())
                .rate_limit(rate);
            match limiter {
                Some(l) => builder.limiter(std::sync::Arc::new(l)),
                None => builder,
            }
            .build()
            .map_err(|e| {
                self.error(
                    &KeyPath::of(&["gateway"]),
                    muster_core::error_chain(&e).to_string(),
                )
            })
        };
        let client = build(None)?;
        let Some(shared) = shared_rate_limit else {
            return Ok(client);
        };
        // The bucket is keyed as the client keys its own limiter (login and
        // host of the resolved base URL), so the first client, never used,
        // is what says the key.
        let path = KeyPath::of(&["gateway", "shared_rate_limit"]);
        let url = secret_named(
            &path,
            ("url_env", &shared.url_env),
            ("url_file", &shared.url_file),
            REDIS_URL_ENV,
        )?;
        let shared_error = |e: crate::shared_limiter::SharedLimiterError| {
            self.error(&path, muster_core::error_chain(&e))
        };
        let limiter = RedisLimiter::builder(url, &client.limiter_key())
            .rate_limit(rate)
            .build()
            .map_err(shared_error)?;
        limiter.check_blocking().map_err(shared_error)?;
        build(Some(limiter))
    }

    /// The plan-signing key: `signing.key_file`, else the variable
    /// `signing.key_env` (default `MUSTER_PLAN_KEY`) when it is set; none
    /// when neither is. A key that is named but unreadable or too short is
    /// an error (never a silent fall-back to unsigned plans).
    ///
    /// # Errors
    /// [`ConfigError::Secret`], naming where the key was looked for, never the key.
    pub fn plan_key(&self) -> Result<Option<PlanKey>, ConfigError> {
        let path = KeyPath::of(&["signing"]);
        let (bytes, key) = if let Some(file) = &self.signing.key_file {
            let mut bytes = std::fs::read(file).map_err(|e| ConfigError::Secret {
                key: path.key("key_file").to_string(),
                problem: format!("cannot read `{}`: {e}", file.display()),
            })?;
            while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                bytes.pop();
            }
            (bytes, path.key("key_file"))
        } else {
            let name = self.signing.key_env.as_deref().unwrap_or(PLAN_KEY_ENV);
            match std::env::var(name) {
                Ok(text) if !text.is_empty() => (text.into_bytes(), path.key("key_env")),
                _ if self.signing.key_env.is_some() => {
                    return Err(ConfigError::Secret {
                        key: path.key("key_env").to_string(),
                        problem: format!("the environment variable `{name}` is not set"),
                    });
                }
                _ => return Ok(None),
            }
        };
        PlanKey::new(bytes)
            .map(Some)
            .map_err(|e| ConfigError::Secret {
                key: key.to_string(),
                problem: e.to_string(),
            })
    }

    /// Where the request rate learned for `client`'s login and stack is
    /// kept between runs: beside muster's state (`files.state`), named after
    /// the login and stack (an MSP's one login serves many organisations,
    /// and its budget is the login's). `None` without a state file.
    #[must_use]
    pub fn learned_rate_path(&self, client: &Client) -> Option<PathBuf> {
        let state = self.files.state.as_ref()?;
        let folder = state.parent().unwrap_or(Path::new("."));
        Some(folder.join(client.limiter_key().file_name()))
    }

    /// The managed domains: `policy.managed_domains`, or the organisation's own.
    ///
    /// # Errors
    /// When neither is set, or the organisation is not a domain.
    pub fn managed_domains(&self) -> Result<Vec<Domain>, ConfigError> {
        if let Some(domains) = &self.policy.managed_domains {
            return Ok(domains.clone());
        }
        let org = self.org()?;
        let domain = org
            .parse::<Domain>()
            .map_err(|e| self.error(&KeyPath::of(&["gateway", "org"]), e.to_string()))?;
        Ok(vec![domain])
    }

    /// The planner's policy: `[policy]` and the HR rule of `[hr]`, every
    /// key not set at its safe default.
    ///
    /// # Errors
    /// A value that cannot be used (a kind rule for user mailboxes, no managed domain).
    pub fn policy(&self) -> Result<Policy, ConfigError> {
        let PolicyConfig {
            managed_domains: _,
            mode,
            new_user_role,
            welcome_letters,
            delete_delay,
            min_absent_runs,
            on_flag,
            exceptions,
            additions,
            sync_disabled_users,
            kinds,
            unknown_origin,
            threshold,
            create_limit,
            owned_fields,
            bulk_size,
            hold_deletions_for_unread_records,
        } = &self.policy;
        let mut b = Policy::builder();
        for domain in self.managed_domains()? {
            b = b.managed_domain(domain);
        }
        if let Some(mode) = mode {
            b = b.mode(*mode);
        }
        if let Some(role) = new_user_role {
            b = b.default_user_type(match role {
                NewUserRole::SilentUser => UserType::SilentUser,
                _ => UserType::EndUser,
            });
        }
        if let Some(send) = welcome_letters {
            b = b.welcome_letters(*send);
        }
        if let Some(delay) = delete_delay {
            b = b.delete_delay(*delay);
        }
        if let Some(runs) = min_absent_runs {
            b = b.min_absent_runs(*runs);
        }
        if let Some(action) = on_flag {
            b = b.flag_action(*action);
        }
        for address in exceptions.iter().flatten() {
            b = b.exception(address.clone());
        }
        for addition in additions.iter().flatten() {
            b = b.addition(addition_entry(addition));
        }
        if let Some(sync) = sync_disabled_users {
            b = b.sync_disabled_users(*sync);
        }
        for (kind, rule) in kinds.iter().flatten() {
            let path = KeyPath::of(&["policy", "kinds"]).key(kind.as_str());
            b = match (kind, rule) {
                (_, KindRule::Skip) => b.skip_kind(*kind),
                (RecipientKind::UserMailbox, _) => {
                    return Err(self.error(
                        &path,
                        "user mailboxes get the type of `new_user_role`; here only `skip` is allowed",
                    ));
                }
                (_, KindRule::EndUser) => b.sync_kind(*kind, UserType::EndUser),
                (_, KindRule::SilentUser) => b.sync_kind(*kind, UserType::SilentUser),
                (_, _) => b.sync_kind(*kind, UserType::FunctionalAccount),
            };
        }
        if let Some(rule) = unknown_origin {
            b = b.unknown_origin(*rule);
        }
        if let Some(ThresholdConfig { count, percent }) = threshold {
            b = b.threshold(*count, *percent);
        }
        if let Some(ThresholdConfig { count, percent }) = create_limit {
            b = b.create_limit(*count, *percent);
        }
        if let Some(fields) = owned_fields {
            b = b.owned_fields(fields.iter().copied().collect::<FieldSet>());
        }
        if let Some(size) = bulk_size {
            b = b.bulk_size(*size);
        }
        if let Some(hold) = hold_deletions_for_unread_records {
            b = b.hold_deletions_for_unread_records(*hold);
        }
        if let Some(hr) = &self.hr {
            b = b.hr_rule(HrRule::new(hr.action).allow(hr.allow.iter().cloned()));
        }
        Ok(b.build())
    }

    /// This config with every default filled in: what `muster config
    /// check` prints, so an operator sees exactly what the sync will do.
    /// (Secrets are named, never read.)
    ///
    /// # Errors
    /// As [`Config::policy`].
    pub fn with_defaults(&self) -> Result<Config, ConfigError> {
        let mut full = self.clone();
        let g = &mut full.gateway;
        g.requests_per_minute
            .get_or_insert(DEFAULT_REQUESTS_PER_MINUTE);
        if g.password_file.is_none() {
            g.password_env
                .get_or_insert_with(|| GATEWAY_PASSWORD_ENV.to_owned());
        }
        if let Some(shared) = &mut g.shared_rate_limit
            && shared.url_file.is_none()
        {
            shared
                .url_env
                .get_or_insert_with(|| REDIS_URL_ENV.to_owned());
        }
        for source in &mut full.sources {
            fill_source_defaults(&mut source.settings);
        }
        if let Some(hr) = &mut full.hr {
            hr.email_column.get_or_insert_with(|| "email".to_owned());
            hr.status_column.get_or_insert_with(|| "status".to_owned());
            hr.encoding.get_or_insert(Encoding::Auto);
            hr.delimiter.get_or_insert(Delimiter::Auto);
        }
        full.policy = PolicyConfig::from_policy(&self.policy()?);
        Ok(full)
    }
}

/// A source's settings with every default the SDK would use written out.
fn fill_source_defaults(settings: &mut SourceSettings) {
    match settings {
        SourceSettings::Ldap(c) => {
            if c.bind_dn.is_some() && c.password_file.is_none() {
                c.password_env
                    .get_or_insert_with(|| LDAP_PASSWORD_ENV.to_owned());
            }
            c.filter.get_or_insert_with(|| AD_MAIL_USERS.to_owned());
            c.objects.get_or_insert(LdapObjects::Users);
            c.starttls.get_or_insert(false);
            c.allow_plaintext.get_or_insert(false);
            c.ca_only.get_or_insert(false);
            c.page_size.get_or_insert(1000);
            c.timeout_seconds.get_or_insert(30);
            c.attributes
                .entry("preset".to_owned())
                .or_insert_with(|| "active_directory".to_owned());
        }
        SourceSettings::Graph(c) => {
            if c.password_file.is_none() {
                c.password_env
                    .get_or_insert_with(|| GRAPH_SECRET_ENV.to_owned());
            }
            c.advanced_query.get_or_insert(false);
            c.mail_groups.get_or_insert(false);
            c.guests.get_or_insert(GuestPolicy::Skip);
            c.read_account_enabled.get_or_insert(false);
            let cloud = *c.cloud.get_or_insert(GraphCloud::Global);
            c.external_members.get_or_insert(ExternalMembers::Sync);
            c.authority
                .get_or_insert_with(|| cloud.authority().to_owned());
            c.graph_url
                .get_or_insert_with(|| cloud.graph_url().to_owned());
            c.max_retries.get_or_insert(5);
            c.max_retry_after_seconds.get_or_insert(300);
            c.timeout_seconds.get_or_insert(60);
        }
        SourceSettings::Csv(c) => {
            c.layout.get_or_insert(StandardLayout::Auto);
            c.header.get_or_insert(HeaderRow::Auto);
            c.encoding.get_or_insert(Encoding::Auto);
            c.delimiter.get_or_insert(Delimiter::Auto);
        }
        SourceSettings::MappedCsv(c) => {
            c.encoding.get_or_insert(Encoding::Auto);
            c.delimiter.get_or_insert(Delimiter::Auto);
        }
        SourceSettings::Postini(c) => {
            c.encoding.get_or_insert(Encoding::Auto);
            c.delimiter.get_or_insert(Delimiter::Auto);
        }
        SourceSettings::Discovery(c) => {
            c.min_messages.get_or_insert(5);
            c.window_days.get_or_insert(30);
            c.expiry_days.get_or_insert(90);
            c.directions.get_or_insert_with(|| vec![Direction::Inbound]);
            c.blocked.get_or_insert_with(|| {
                muster_directory::DEFAULT_BLOCKED
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect()
            });
            c.candidates.get_or_insert(CandidateUse::CreateUsers);
        }
    }
}

impl PolicyConfig {
    /// Every setting of `policy`, written as the config's keys.
    #[must_use]
    pub fn from_policy(policy: &Policy) -> PolicyConfig {
        let role = if *policy.default_user_type() == UserType::SilentUser {
            NewUserRole::SilentUser
        } else {
            NewUserRole::EndUser
        };
        let mut kinds = std::collections::BTreeMap::new();
        for kind in RecipientKind::ALL {
            let rule = match policy.kinds().get(&kind) {
                None => KindRule::Skip,
                Some(_) if kind == RecipientKind::UserMailbox => continue,
                Some(UserType::EndUser) => KindRule::EndUser,
                Some(UserType::SilentUser) => KindRule::SilentUser,
                Some(_) => KindRule::FunctionalAccount,
            };
            kinds.insert(kind, rule);
        }
        PolicyConfig {
            managed_domains: Some(policy.managed_domains().iter().cloned().collect()),
            mode: Some(policy.mode()),
            new_user_role: Some(role),
            welcome_letters: Some(policy.welcome_letters()),
            delete_delay: Some(policy.delete_delay()),
            min_absent_runs: Some(policy.min_absent_runs()),
            on_flag: Some(policy.flag_action()),
            exceptions: Some(policy.exceptions().iter().cloned().collect()),
            additions: Some(policy.additions().iter().map(addition_config).collect()),
            sync_disabled_users: Some(policy.sync_disabled_users()),
            kinds: Some(kinds),
            unknown_origin: Some(policy.unknown_origin()),
            threshold: Some(ThresholdConfig {
                count: policy.threshold().max_count,
                percent: policy.threshold().max_percent,
            }),
            create_limit: Some(ThresholdConfig {
                count: policy.create_limit().min_count,
                percent: policy.create_limit().percent,
            }),
            owned_fields: Some(policy.owned_fields().iter().collect()),
            bulk_size: Some(policy.bulk_size()),
            hold_deletions_for_unread_records: Some(policy.holds_deletions_for_unread_records()),
        }
    }
}

fn addition_entry(a: &AdditionConfig) -> DirectoryEntry {
    let AdditionConfig {
        email,
        first_name,
        last_name,
        aliases,
        kind,
    } = a;
    let mut entry = DirectoryEntry::new(email.clone())
        .with_kind(kind.unwrap_or_default())
        .with_names(
            first_name.as_deref().unwrap_or(""),
            last_name.as_deref().unwrap_or(""),
        );
    entry.aliases = aliases.iter().cloned().collect();
    entry
}

fn addition_config(e: &DirectoryEntry) -> AdditionConfig {
    AdditionConfig {
        email: e.primary_email.clone(),
        first_name: e.first_name.clone(),
        last_name: e.last_name.clone(),
        aliases: e.aliases.iter().cloned().collect::<Vec<EmailAddress>>(),
        kind: Some(e.kind),
    }
}

/// A secret by the environment variable or file the config names (the
/// default variable when it names neither). Never the value in an error.
pub(crate) fn secret(
    path: &KeyPath,
    env: &Option<String>,
    file: &Option<PathBuf>,
    default_env: &str,
) -> Result<SecretString, ConfigError> {
    secret_named(
        path,
        ("password_env", env),
        ("password_file", file),
        default_env,
    )
}

/// [`secret`] for keys named otherwise (`url_env` / `url_file`).
fn secret_named(
    path: &KeyPath,
    (env_key, env): (&str, &Option<String>),
    (file_key, file): (&str, &Option<PathBuf>),
    default_env: &str,
) -> Result<SecretString, ConfigError> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError::Secret {
            key: path.key(file_key).to_string(),
            problem: format!("cannot read `{}`: {e}", file.display()),
        })?;
        let first = text.lines().next().unwrap_or_default().trim_end();
        if first.is_empty() {
            return Err(ConfigError::Secret {
                key: path.key(file_key).to_string(),
                problem: format!("`{}` is empty", file.display()),
            });
        }
        return Ok(SecretString::from(first.to_owned()));
    }
    let name = env.as_deref().unwrap_or(default_env);
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(SecretString::from(value)),
        _ => Err(ConfigError::Secret {
            key: path.key(env_key).to_string(),
            problem: format!("the environment variable `{name}` is not set (or use `{file_key}`)"),
        }),
    }
}

/// The attribute map `[source.attributes]` describes: a preset with the
/// keys that differ. Errors are (key, problem).
pub(crate) fn ldap_attributes(
    keys: &std::collections::BTreeMap<String, String>,
) -> Result<LdapAttributes, (String, String)> {
    let mut map = match keys.get("preset").map(String::as_str) {
        None | Some("active_directory") => LdapAttributes::active_directory(),
        Some("inet_org_person") => LdapAttributes::inet_org_person(),
        Some(other) => {
            return Err((
                "preset".to_owned(),
                format!(
                    "`{other}` is not a preset; expected one of: active_directory, inet_org_person"
                ),
            ));
        }
    };
    for (key, value) in keys {
        let optional = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
        let required = |v: &str| -> Result<String, (String, String)> {
            optional(v).ok_or_else(|| (key.clone(), "cannot be empty: the map needs it".to_owned()))
        };
        match key.as_str() {
            "preset" => {}
            "mail" => map.mail = required(value)?,
            "group_class" => map.group_class = required(value)?,
            "group_name" => map.group_name = required(value)?,
            "group_members" => map.group_members = required(value)?,
            "proxy_addresses" => map.proxy_addresses = optional(value),
            "first_name" => map.first_name = optional(value),
            "last_name" => map.last_name = optional(value),
            "mobile" => map.mobile = optional(value),
            "phone" => map.phone = optional(value),
            "company" => map.company = optional(value),
            "department" => map.department = optional(value),
            "notes" => map.notes = optional(value),
            "account_control" => map.account_control = optional(value),
            "recipient_type" => map.recipient_type = optional(value),
            "external_id" => map.external_id = optional(value),
            "group_type" => map.group_type = optional(value),
            "primary_group_id" => map.primary_group_id = optional(value),
            _ => {
                return Err((
                    key.clone(),
                    format!(
                        "unknown attribute-map key; expected `preset` or one of: {}",
                        ATTRIBUTE_KEYS.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(map)
}

/// The Postini user mapping and alias columns a `postini` source names.
/// Errors are (key, problem).
pub(crate) fn postini_mapping(
    c: &PostiniConfig,
) -> Result<(CsvMapping, Option<PostiniAliases>), (String, String)> {
    let mut mapping = CsvMapping::postini_users();
    for (key, header) in &c.user_columns {
        mapping = match key.as_str() {
            "primary" => mapping.primary(header),
            field => match field.parse() {
                Ok(field) => mapping.optional_column(field, header),
                Err(e) => {
                    return Err((format!("user_columns.{key}"), format!("{e}, or `primary`")));
                }
            },
        };
    }
    let aliases = match &c.aliases {
        None if !c.alias_columns.is_empty() => {
            return Err((
                "alias_columns".to_owned(),
                "alias columns are named but no `aliases` file is".to_owned(),
            ));
        }
        None => None,
        Some(path) => {
            let mut aliases = PostiniAliases::new(path);
            for (key, header) in &c.alias_columns {
                aliases = match key.as_str() {
                    "address" => aliases.address_column(header),
                    "domain" => aliases.domain_column(header),
                    "user_id" => aliases.user_id_column(header),
                    "user_address" => aliases.user_address_column(header),
                    _ => {
                        return Err((
                            format!("alias_columns.{key}"),
                            "unknown column; expected one of: address, domain, user_id, user_address"
                                .to_owned(),
                        ));
                    }
                };
            }
            Some(aliases)
        }
    };
    Ok((mapping, aliases))
}

/// A CSV format from the two optional keys.
pub(crate) fn csv_format(encoding: Option<Encoding>, delimiter: Option<Delimiter>) -> CsvFormat {
    CsvFormat::default()
        .encoding(encoding.unwrap_or_default())
        .delimiter(delimiter.unwrap_or_default())
}

impl DiscoveryConfig {
    /// The discovery policy these settings describe, over the managed domains.
    pub fn policy(&self, managed: &[Domain]) -> DiscoveryPolicy {
        discovery_policy(self, managed)
    }
}

/// The discovery policy a `discovery` source describes, over the managed domains.
pub(crate) fn discovery_policy(c: &DiscoveryConfig, managed: &[Domain]) -> DiscoveryPolicy {
    let DiscoveryConfig {
        ledger: _,
        min_messages,
        window_days,
        expiry_days,
        directions,
        blocked,
        candidates,
    } = c;
    let mut policy = DiscoveryPolicy::new(managed.iter().cloned());
    if let Some(n) = min_messages {
        policy = policy.min_messages(*n);
    }
    if let Some(days) = window_days {
        policy = policy.window(chrono::TimeDelta::days(i64::from(*days)));
    }
    if let Some(days) = expiry_days {
        policy = policy.expiry(chrono::TimeDelta::days(i64::from(*days)));
    }
    if let Some(directions) = directions {
        policy = policy.directions(directions.iter().copied());
    }
    if let Some(blocked) = blocked {
        policy = policy.blocked(blocked);
    }
    if let Some(candidates) = candidates {
        policy = policy.candidates(*candidates);
    }
    policy
}
