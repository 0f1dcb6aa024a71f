//! Microsoft Graph (Entra ID) users as a directory source.
//!
//! An app-only token from the client-credentials flow, then `/users` with
//! `$select` of exactly the mapped properties and `$top=999` (Graph's
//! largest page), following every `@odata.nextLink` to the end. Throttling
//! (429) and transient failures (408, 5xx, lost connections) are retried a
//! bounded number of times on muster's one retry policy
//! ([`muster_core::retry`], the gateway client's too: the same status table,
//! jittered backoff, `Retry-After` honoured, a retry budget); a page that
//! still fails is an error, never a shorter directory. Each user is mapped by a
//! pure function (`users.rs`).
//!
//! What Graph `/users` cannot say: whether a mailbox is a person's, shared,
//! or a room. Exchange Online keeps that in the mailbox, not in the user
//! object, and shared and room mailboxes sit on user objects with
//! `accountEnabled: false`. Every entry is therefore a user mailbox, `kind`
//! is not provided, and `accountEnabled` is not read unless
//! [`GraphSource::read_account_enabled`] asks for it: read as disabled
//! people, those mailboxes would be flagged and, after the delay, deleted.
//!
//! Mail-enabled groups are read as recipients (`/groups?$filter=mailEnabled
//! eq true`, `groups.rs`) when [`GraphSource::mail_enabled_groups`] asks for
//! them. Group memberships come from `/groups/{id}/transitiveMembers` for
//! those groups and the ones named with [`GraphSource::groups`], as LDAP's
//! [`LdapObjects::Both`](crate::LdapObjects::Both) reads them: each entry's
//! `member_of` holds the names of the groups read that it is in.
//!
//! What is left out on purpose is counted, never silent: guests, users
//! without an address, external members, and group members that are not
//! users or groups are [`SourceNote`]s in the snapshot, with a few names.
//!
//! Incremental runs ([`GraphSource::read_incremental`], `delta.rs`) read
//! `/users/delta` and merge each round into the users the caller's
//! [`GraphCursor`] remembers, so every run still yields the whole directory.

mod advanced;
mod delta;
mod groups;
mod users;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use backon::Retryable;
use muster_core::retry::{
    AttemptOutcome, LongRetryAfter, RetryAction, RetryBudget, RetryConfig, RetryReason, Wait,
    classify, honours_retry_after,
};
use muster_core::{
    DirectorySnapshot, Field, Location, NoteKind, SourceIssue, SourceNote, non_blank,
    parse_retry_after,
};
use reqwest::header::RETRY_AFTER;
use reqwest::{RequestBuilder, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tracing::Instrument;

pub use delta::{DeltaRead, DeltaRound, GRAPH_CURSOR_VERSION, GraphCursor};
pub use muster_core::{Sleep, TokioSleep};
pub use users::{ExternalMembers, GuestPolicy};

use advanced::{ADVANCED_QUERIES_DOC, needs_advanced_query};
use delta::{Change, is_resync, merge, refused};
use groups::{GROUP_SELECT, GraphGroup, MAIL_ENABLED, map_group};
use users::{GraphUser, UserMap, map_user};

use crate::collect::{Collector, Mapped};
use crate::error::Error;

/// The source's retry settings on muster's one retry policy: 5 retries,
/// backoff from 1 s doubling (with jitter) up to 30 s, and a `Retry-After`
/// of at most 5 minutes, beyond which the read gives up
/// ([`LongRetryAfter::GiveUp`]: Graph's throttling waits are seconds to a
/// few minutes; anything longer is a service in trouble, and a nightly run
/// must not hang for hours).
fn default_retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(6)
        .with_initial_backoff(Duration::from_secs(1))
        .with_max_backoff(Duration::from_secs(30))
        .with_max_retry_after(Duration::from_secs(300))
        .with_long_retry_after(LongRetryAfter::GiveUp)
}

/// Entra ID's token authority (the public cloud). National clouds have their
/// own: see [`GraphCloud`].
pub const LOGIN_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Microsoft Graph v1.0 (the public cloud).
pub const GRAPH_V1: &str = "https://graph.microsoft.com/v1.0";

/// A Microsoft cloud that hosts Entra ID tenants: each has its own token
/// authority and its own Graph, and a tenant exists in exactly one of them.
/// Tokens are not interchangeable between clouds, and the token's scope
/// names the cloud's own Graph (`https://graph.microsoft.us/.default`), so
/// pointing only the URLs at a national cloud is not enough — which is why
/// the scope follows the Graph URL (see [`GraphSource::scope`]).
///
/// | Cloud | Token authority | Graph |
/// |---|---|---|
/// | [`Global`](GraphCloud::Global) (also US Government GCC "moderate") | `https://login.microsoftonline.com` | `https://graph.microsoft.com` |
/// | [`UsGovernment`](GraphCloud::UsGovernment) (L4, GCC High) | `https://login.microsoftonline.us` | `https://graph.microsoft.us` |
/// | [`UsGovernmentDod`](GraphCloud::UsGovernmentDod) (L5, DoD) | `https://login.microsoftonline.us` | `https://dod-graph.microsoft.us` |
/// | [`China`](GraphCloud::China) (operated by 21Vianet) | `https://login.chinacloudapi.cn` | `https://microsoftgraph.chinacloudapi.cn` |
///
/// From Microsoft Graph's "National cloud deployments" and "Access national
/// cloud deployments with the Microsoft Graph SDKs" pages
/// (`concepts/deployments.md`, `concepts/sdks/national-clouds.md`). The app
/// registration must be made in the same cloud's admin center.
///
/// ```
/// use muster_directory::{GraphCloud, GraphSource};
/// assert_eq!(GraphCloud::UsGovernment.graph_url(), "https://graph.microsoft.us/v1.0");
/// assert_eq!(GraphCloud::China.authority(), "https://login.chinacloudapi.cn");
/// let source = GraphSource::new("contoso.onmicrosoft.us", "app-id", "secret".into())
///     .cloud(GraphCloud::UsGovernment); // asks for https://graph.microsoft.us/.default
/// # let _ = source;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GraphCloud {
    /// The global service (and US Government GCC, which uses it).
    #[default]
    Global,
    /// Microsoft Cloud for US Government, L4 (GCC High).
    UsGovernment,
    /// Microsoft Cloud for US Government, L5 (Department of Defense).
    UsGovernmentDod,
    /// Microsoft Azure and Microsoft 365 operated by 21Vianet in China.
    China,
}

impl GraphCloud {
    /// The cloud's token authority, without the tenant.
    #[must_use]
    pub const fn authority(self) -> &'static str {
        match self {
            GraphCloud::Global => LOGIN_AUTHORITY,
            GraphCloud::UsGovernment | GraphCloud::UsGovernmentDod => {
                "https://login.microsoftonline.us"
            }
            GraphCloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// The cloud's Graph v1.0 base URL.
    #[must_use]
    pub const fn graph_url(self) -> &'static str {
        match self {
            GraphCloud::Global => GRAPH_V1,
            GraphCloud::UsGovernment => "https://graph.microsoft.us/v1.0",
            GraphCloud::UsGovernmentDod => "https://dod-graph.microsoft.us/v1.0",
            GraphCloud::China => "https://microsoftgraph.chinacloudapi.cn/v1.0",
        }
    }
}

/// The largest `$top` `/users` accepts (1000 is `Request_UnsupportedQuery`).
const PAGE_SIZE: &str = "999";

/// The query option of an advanced query; the `ConsistencyLevel: eventual`
/// header goes with it on every page.
const ADVANCED: (&str, &str) = ("$count", "true");

/// The `@odata.type` of a user among a group's members.
const USER_TYPE: &str = "#microsoft.graph.user";

/// The `@odata.type` of a nested group among a group's members.
const GROUP_TYPE: &str = "#microsoft.graph.group";

/// The longest server message kept in an error, in characters.
const MESSAGE_CHARS: usize = 300;

/// Users of a Microsoft Entra ID tenant, read through Microsoft Graph with
/// an app registration's client credentials (application permission
/// `User.Read.All`, with admin consent).
///
/// Mapping: `proxyAddresses` (the one `SMTP:` value is the primary, `smtp:`
/// values are aliases; several `SMTP:` values are an issue and `mail` is
/// the primary), else `mail`; `givenName`, `surname`, `mobilePhone`
/// (international numbers only), the first of `businessPhones`,
/// `companyName`, `department`, `accountEnabled`, and `id` as the external
/// id. Users without any address are not recipients and are left out;
/// guests are left out unless [`GraphSource::guests`] says otherwise;
/// external members (B2B, `#EXT#`) are read unless
/// [`GraphSource::external_members`] says otherwise — each counted in the
/// snapshot's [`notes`](DirectorySnapshot::notes). Issues name the user's
/// object id. Mail-enabled groups become entries, and memberships are read,
/// only with [`GraphSource::mail_enabled_groups`] or [`GraphSource::groups`].
///
/// Every entry is a user mailbox: Graph `/users` cannot tell shared and
/// room mailboxes from people's (see [`GraphSource::read_account_enabled`]).
///
/// ```no_run
/// # async fn demo() -> Result<(), muster_directory::Error> {
/// use muster_directory::{DirectorySource, GraphSource};
/// let secret = std::env::var("ENTRA_CLIENT_SECRET").unwrap_or_default();
/// let source = GraphSource::new("contoso.onmicrosoft.com", "8f0e…-app-id", secret.into())
///     .require("companyName", "O'Brien & Sons"); // companyName eq 'O''Brien & Sons'
/// let snapshot = source.fetch().await?;
/// for issue in &snapshot.issues {
///     eprintln!("{issue}"); // object 4f1c…: mobilePhone `07700 900123`: expected an international …
/// }
/// # Ok(())
/// # }
/// ```
///
/// A token the tenant refuses is an error that names the tenant and the
/// endpoint's reason, never the secret:
///
/// ```no_run
/// # async fn demo() {
/// # use muster_directory::{DirectorySource, GraphSource};
/// let err = GraphSource::new("contoso.onmicrosoft.com", "app-id", "wrong".into())
///     .fetch()
///     .await
///     .unwrap_err();
/// // `graph:contoso.onmicrosoft.com`: no Graph token for tenant `contoso.onmicrosoft.com`
/// //   (HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided. …)
/// assert!(err.is_directory_unavailable());
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct GraphSource {
    name: String,
    tenant: String,
    client_id: String,
    client_secret: SecretString,
    authority: String,
    graph: String,
    scope: Option<String>,
    filter: Option<String>,
    required: Vec<(String, String)>,
    advanced_query: bool,
    groups: Vec<String>,
    mail_groups: bool,
    map: UserMap,
    external_members: ExternalMembers,
    retry: RetryConfig,
    budget: Arc<RetryBudget>,
    sleeper: Arc<dyn Sleep>,
    timeout: Duration,
}

impl GraphSource {
    /// Reads the users of `tenant` (its id or a verified domain such as
    /// `contoso.onmicrosoft.com`) as the app `client_id`, authenticating with
    /// `client_secret` (never logged or shown). Defaults: the public cloud
    /// ([`LOGIN_AUTHORITY`], [`GRAPH_V1`]), every user, guests left out,
    /// `accountEnabled` not read (see [`GraphSource::read_account_enabled`]),
    /// 5 retries, a `Retry-After` of at most 5 minutes (see
    /// [`GraphSource::max_retry_after`]), 60 s per request.
    pub fn new(tenant: &str, client_id: &str, client_secret: SecretString) -> Self {
        let tenant = tenant.trim().to_owned();
        GraphSource {
            name: format!("graph:{tenant}"),
            tenant,
            client_id: client_id.trim().to_owned(),
            client_secret,
            authority: LOGIN_AUTHORITY.to_owned(),
            graph: GRAPH_V1.to_owned(),
            scope: None,
            filter: None,
            required: Vec::new(),
            advanced_query: false,
            groups: Vec::new(),
            mail_groups: false,
            map: UserMap {
                guests: GuestPolicy::Skip,
                account_enabled: false,
            },
            external_members: ExternalMembers::Sync,
            retry: default_retry(),
            budget: Arc::new(RetryBudget::default()),
            sleeper: Arc::new(TokioSleep::default()),
            timeout: Duration::from_secs(60),
        }
    }

    /// Names the source (the snapshot's `source`, and the origin of the accounts it creates).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Reads a tenant of this national cloud: its token authority and its
    /// Graph (see [`GraphCloud`] for the URLs), and so the token scope of
    /// that Graph. [`GraphSource::authority`] and [`GraphSource::graph_url`]
    /// given after it override either URL.
    pub fn cloud(mut self, cloud: GraphCloud) -> Self {
        self.authority = cloud.authority().to_owned();
        self.graph = cloud.graph_url().to_owned();
        self
    }

    /// The token authority without the tenant (`https://login.microsoftonline.us`
    /// for US Government, a local mock in tests). Plain `http://` is
    /// refused at fetch time unless it points at this machine.
    pub fn authority(mut self, url: &str) -> Self {
        self.authority = url.trim().trim_end_matches('/').to_owned();
        self
    }

    /// The Graph base URL including the version (`https://graph.microsoft.us/v1.0`,
    /// a local mock in tests). Plain `http://` is refused at fetch time unless
    /// it points at this machine. Unless [`GraphSource::scope`] says
    /// otherwise, the token is asked for this URL's origin plus `/.default`
    /// (`https://graph.microsoft.us/.default`): a national cloud's Entra ID
    /// issues tokens only for its own Graph.
    pub fn graph_url(mut self, url: &str) -> Self {
        self.graph = url.trim().trim_end_matches('/').to_owned();
        self
    }

    /// The token's scope, for a deployment where it is not the Graph URL's
    /// origin plus `/.default` (a proxy in front of Graph, say). It must
    /// still end in `/.default`: the client-credentials flow refuses any
    /// other scope (AADSTS1002012), so a token is never asked with one.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// # use muster_directory::{DirectorySource, GraphSource};
    /// let err = GraphSource::new("contoso.onmicrosoft.com", "app-id", "secret".into())
    ///     .scope("User.Read.All")
    ///     .fetch()
    ///     .await
    ///     .unwrap_err();
    /// // `graph:contoso.onmicrosoft.com`: User.Read.All: an app-only token's scope ends in /.default
    /// # }
    /// ```
    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = Some(scope.trim().to_owned());
        self
    }

    /// Sends an OData `$filter`, used as written: build any part that comes
    /// from user input with [`GraphSource::require`] or [`escape_odata_string`].
    /// A filter with a form only Graph's advanced queries support (`ne`,
    /// `not`, `endsWith`, `/$count`, a comparison with `null`; outside
    /// string literals) is sent as one — `ConsistencyLevel: eventual` and
    /// `$count=true` — without being asked (see
    /// [`GraphSource::advanced_query`] for the others). A filter Graph
    /// refuses all the same (400 `Request_UnsupportedQuery`) is an error
    /// that names Microsoft's page on advanced queries.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// # use muster_directory::{DirectorySource, GraphSource};
    /// let err = GraphSource::new("contoso.onmicrosoft.com", "app-id", "secret".into())
    ///     .filter("userType ne 'Guest'") // sent with ConsistencyLevel: eventual and $count=true
    ///     .require("companyName", "Fabrikam")
    ///     .fetch()
    ///     .await;
    /// // Should Graph refuse it: `graph:contoso.onmicrosoft.com`: cannot read page 1 of
    /// //   https://graph.microsoft.com/v1.0/users (HTTP 400 Request_UnsupportedQuery: …;
    /// //   Graph refused the filter even as an advanced query: see https://learn.microsoft.com/graph/aad-advanced-queries)
    /// # }
    /// ```
    pub fn filter(mut self, filter: &str) -> Self {
        self.filter = Some(filter.trim().to_owned()).filter(|f| !f.is_empty());
        self
    }

    /// Also requires `property` to equal `value` (`property eq 'value'`);
    /// the value is escaped as an OData string, so a `'` in it is just a character.
    pub fn require(mut self, property: &str, value: &str) -> Self {
        self.required.push((property.to_owned(), value.to_owned()));
        self
    }

    /// Asks for Graph's advanced query capabilities (`ConsistencyLevel:
    /// eventual` on every page of users, `$count=true`) whatever the
    /// filter: for a form the detection in [`GraphSource::filter`] does not
    /// know (advanced-only properties, say). Results may lag recent changes
    /// by a little. Incremental reads refuse it, as they refuse filters.
    pub fn advanced_query(mut self) -> Self {
        self.advanced_query = true;
        self
    }

    /// Reads the transitive members of these groups (by object id; nested
    /// groups count) into each user's `member_of`, as the group's
    /// `displayName`; the snapshot then provides `groups`. These groups
    /// (with the mail-enabled ones, when read) are then *all* of a user's
    /// groups as far as the planner knows: a gateway group not named here
    /// is removed from the users it compares. Needs `GroupMember.Read.All`,
    /// and `Member.Read.Hidden` for a group with hidden membership (see
    /// [`GraphSource::mail_enabled_groups`]). A group that cannot be read
    /// fails the fetch.
    pub fn groups<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups
            .extend(ids.into_iter().map(|id| id.into().trim().to_owned()));
        self
    }

    /// Also reads the tenant's mail-enabled groups (`/groups` with
    /// `$filter=mailEnabled eq true`, every page) as recipients, so mail to
    /// a group address is not refused as mail to an unknown user. Their
    /// addresses are read as users' are (`proxyAddresses`, else `mail`);
    /// a mail-enabled security group is a
    /// [`RecipientKind::SecurityGroup`](muster_core::RecipientKind::SecurityGroup),
    /// any other a
    /// [`RecipientKind::DistributionGroup`](muster_core::RecipientKind::DistributionGroup)
    /// — Microsoft 365 groups (`groupTypes` `Unified`) too, even when
    /// security-enabled, since their mail goes to their members like a
    /// list's. The group's `displayName` is kept in the entry's
    /// `attributes`.
    ///
    /// Their memberships are read too, as LDAP's
    /// [`LdapObjects::Both`](crate::LdapObjects::Both) reads them: every
    /// entry's `member_of` (users' and nested groups') holds the
    /// `displayName`s of the mail-enabled groups it is in, from each
    /// group's `/transitiveMembers` (`$select=id`, every page), so nesting
    /// counts through any group, one without mail included; the snapshot
    /// provides `groups`. Devices, service principals and organisational
    /// contacts among the members are ignored, each counted once in the
    /// [`NoteKind::OtherMembers`] note. A page of members that fails fails
    /// the fetch, never shortens a membership. That costs a request per
    /// group (more for big ones) on every run.
    ///
    /// Groups are read in full on every run, incremental ones included.
    /// Needs `GroupMember.Read.All` (or `Group.Read.All`); a group with
    /// hidden membership (`visibility` `HiddenMembership`, a Microsoft 365
    /// group option) lists its members only to an app that also has
    /// `Member.Read.Hidden`. A page of groups that cannot be read fails the
    /// fetch. Off by default: turning it on adds entries and memberships,
    /// and the snapshot still does not provide `kind` (a user's kind stays
    /// unknown to Graph).
    pub fn mail_enabled_groups(mut self) -> Self {
        self.mail_groups = true;
        self
    }

    /// What to do with guest accounts (default: [`GuestPolicy::Skip`]).
    /// Skipped guests are counted in the snapshot's
    /// [`NoteKind::Guests`] note, with a few of their addresses.
    pub fn guests(mut self, guests: GuestPolicy) -> Self {
        self.map.guests = guests;
        self
    }

    /// What to do with external members, B2B accounts of other
    /// organisations with `userType` `Member` (default:
    /// [`ExternalMembers::Sync`]). Either way they are counted in the
    /// snapshot's [`NoteKind::ExternalMembers`] note.
    pub fn external_members(mut self, external: ExternalMembers) -> Self {
        self.external_members = external;
        self
    }

    /// Reads `accountEnabled`, so a disabled user is a disabled entry (and
    /// the planner treats a disabled person as gone). Off by default: Graph
    /// shows shared and room mailboxes as ordinary users with
    /// `accountEnabled: false`, so turn it on only for a tenant without them
    /// or with a filter that leaves them out. Without it every entry is
    /// enabled and the snapshot does not provide `enabled`: a leaver stays on
    /// the gateway until removed from the directory, never the other way round.
    pub fn read_account_enabled(mut self) -> Self {
        self.map.account_enabled = true;
        self
    }

    /// How often a throttled or failed request is tried again (default 5);
    /// `0` fails on the first refusal.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.retry = self.retry.with_max_attempts(retries.saturating_add(1));
        self
    }

    /// The longest `Retry-After` the source waits (default 5 minutes). A
    /// throttled answer asking for a longer wait ends the read with an
    /// [`Error::Graph`] (or [`Error::GraphToken`]) that says how long Graph
    /// asked for and what the cap is: a nightly run does not hang for as
    /// long as a misbehaving service says, and does not retry early into
    /// more throttling either.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// # use std::time::Duration;
    /// # use muster_directory::{DirectorySource, GraphSource};
    /// let err = GraphSource::new("contoso.onmicrosoft.com", "app-id", "secret".into())
    ///     .max_retry_after(Duration::from_secs(60))
    ///     .fetch()
    ///     .await
    ///     .unwrap_err();
    /// // `graph:contoso.onmicrosoft.com`: cannot read page 2 of https://graph.microsoft.com/v1.0/users
    /// //   (HTTP 429 TooManyRequests: Graph asked to wait 120 s before a retry, more than the 60 s allowed)
    /// # }
    /// ```
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        self.retry = self.retry.with_max_retry_after(cap);
        self
    }

    /// The retries this source may spend in all, shared by its clones
    /// (default: a [`RetryBudget::default`] of its own). A Graph that fails
    /// every request gets a few retries, not five per page.
    pub fn retry_budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// How the source waits between retries (default: tokio's timer). Tests
    /// inject a [`Sleep`] that records the waits instead.
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleep>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// How long one request (token or page, body included) may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The `$filter` sent: the custom filter and every required value, escaped.
    fn full_filter(&self) -> Option<String> {
        let mut parts: Vec<String> = self.filter.iter().map(|f| format!("({f})")).collect();
        if parts.len() == 1 && self.required.is_empty() {
            return self.filter.clone();
        }
        for (property, value) in &self.required {
            parts.push(format!("{property} eq '{}'", escape_odata_string(value)));
        }
        (!parts.is_empty()).then(|| parts.join(" and "))
    }

    /// Parses an endpoint, refusing plain HTTP to another machine.
    fn endpoint(&self, url: &str) -> Result<Url, Error> {
        let refuse = |reason| Error::GraphEndpoint {
            source_name: self.name.clone(),
            url: url.to_owned(),
            reason,
        };
        let parsed = Url::parse(url).map_err(|_| refuse("not a URL"))?;
        let host = parsed.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        match parsed.scheme() {
            "https" => Ok(parsed),
            "http" if loopback => Ok(parsed),
            "http" => Err(refuse(
                "plain http would send the client secret and tokens unencrypted; use https",
            )),
            _ => Err(refuse("not an http(s) URL")),
        }
    }

    /// Gets a token, reads every page and maps the users.
    ///
    /// # Errors
    /// [`Error::GraphEndpoint`] before any request when an endpoint is not
    /// a URL or is plain `http://` to another machine;
    /// [`Error::GraphToken`] when no token is issued; [`Error::Graph`] when
    /// any page (of users, or of a named group's members) fails after the
    /// retries or is not a page, or a named group cannot be read. Users with
    /// bad values are issues in the snapshot.
    pub async fn read(&self) -> Result<DirectorySnapshot, Error> {
        let users_url = self.segments(&self.graph, &["users"])?;
        let mut session = self.session().await?;
        let select = self.map.select();
        let filter = self.full_filter();
        let mut query = vec![("$select", select.as_str()), ("$top", PAGE_SIZE)];
        if let Some(f) = &filter {
            query.push(("$filter", f));
        }
        let advanced = self.advanced_query || filter.as_deref().is_some_and(needs_advanced_query);
        if advanced {
            query.push(ADVANCED);
        }
        let mut collector = Collector::new(&self.name);
        let mut notes = Notes::default();
        let mut read = 0usize;
        self.collection(&mut session, &users_url, &query, "users", false, |value| {
            self.add_user(&mut collector, &mut notes, &value, read);
            read += 1;
            Ok(())
        })
        .await
        .map_err(|e| unsupported_query(e, advanced))?;
        self.finish(&mut session, collector, notes).await
    }

    /// Reads the directory through Graph's delta query, as a round that
    /// continues from `cursor` (or, without one, enumerates every user), and
    /// returns the whole snapshot with the cursor for the next round.
    ///
    /// The snapshot is exactly what [`GraphSource::read`] would give for
    /// the same directory (the same mapping, guests, issues, memberships),
    /// with the entries in object-id order: changed users are merged
    /// property by property into the ones the cursor remembers, removed
    /// ones (deleted, soft-deleted or out of scope) leave it. A round costs
    /// one request per page of *changes*, where [`GraphSource::read`]
    /// costs one per 999 users.
    ///
    /// When Graph no longer knows the cursor's state (410 Gone,
    /// `resyncRequired`, `syncStateNotFound`; directory delta tokens expire
    /// after about a week), every user is enumerated again and
    /// [`DeltaRead::round`] says [`DeltaRound::Resynced`]: a lost cursor
    /// costs a full read, never an empty or partial directory.
    ///
    /// The cursor is borrowed: whatever happens here, the caller's copy is
    /// untouched, and the new one is only handed over with a complete snapshot.
    ///
    /// ```no_run
    /// # async fn demo(saved: Option<String>) -> Result<(), muster_directory::Error> {
    /// use muster_directory::{DeltaRound, GraphCursor, GraphSource};
    /// let source = GraphSource::new("contoso.onmicrosoft.com", "app-id", "secret".into());
    /// let cursor = saved.as_deref().map(GraphCursor::from_json).transpose()?;
    /// let read = source.read_incremental(cursor.as_ref()).await?;
    /// if let DeltaRound::Resynced { .. } = read.round {
    ///     eprintln!("the delta token had expired; read every user again");
    /// }
    /// let keep = read.cursor.to_json()?; // store it only now: the read succeeded
    /// # let _ = (keep, read.snapshot);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::GraphCursor`] before any request when the cursor was made
    /// for another tenant, `$select` or `$filter` (see [`GraphCursor`]), its
    /// link leaves the Graph endpoint, or the source has a `$filter`, a
    /// required value or advanced queries, which delta queries cannot apply
    /// (Graph only filters them by id). Otherwise as [`GraphSource::read`]:
    /// any page that fails after the retries — including a page of the full
    /// enumeration after a resync — is an error, and nothing is merged.
    pub async fn read_incremental(&self, cursor: Option<&GraphCursor>) -> Result<DeltaRead, Error> {
        if self.filter.is_some() || !self.required.is_empty() || self.advanced_query {
            return Err(refused(
                &self.name,
                "Graph's delta queries cannot apply a $filter, required values or advanced queries; use read()".to_owned(),
            ));
        }
        let select = self.map.select();
        let filter = self.full_filter();
        let delta_url = self.segments(&self.graph, &["users", "delta"])?;
        let continued = match cursor {
            None => None,
            Some(cursor) => {
                cursor.check(&self.name, &self.tenant, &select, filter.as_deref())?;
                let link = self
                    .next_link(&delta_url, None, cursor.delta_link())
                    .map_err(|m| refused(&self.name, format!("the cursor's delta link: {m}")))?;
                Some((cursor, link))
            }
        };
        let selected: Vec<&str> = select.split(',').collect();
        let mut session = self.session().await?;
        let mut round = DeltaRound::Initial;
        let mut resumed = None;
        if let Some((cursor, link)) = continued {
            let mut users = cursor.users().clone();
            let (mut changed, mut removed) = (0, 0);
            let result = self
                .collection(&mut session, &link, &[], "users", true, |item| {
                    match merge(&mut users, item, &selected)? {
                        Change::Upserted => changed += 1,
                        Change::Removed => removed += 1,
                    }
                    Ok(())
                })
                .await;
            match result {
                Ok(link) => {
                    round = DeltaRound::Incremental { changed, removed };
                    resumed = Some((users, link));
                }
                Err(e) => match is_resync(&e) {
                    Some((status, code)) => round = DeltaRound::Resynced { status, code },
                    None => return Err(e),
                },
            }
        }
        let (users, link) = match resumed {
            Some(found) => found,
            None => {
                let mut users = BTreeMap::new();
                let query = [("$select", select.as_str())];
                let link = self
                    .collection(&mut session, &delta_url, &query, "users", true, |item| {
                        merge(&mut users, item, &selected).map(drop)
                    })
                    .await?;
                (users, link)
            }
        };
        // `collection` returns a link for every delta round it completes.
        let link = link.unwrap_or_default();
        let mut collector = Collector::new(&self.name);
        let mut notes = Notes::default();
        for (index, user) in users.values().enumerate() {
            self.add_user(
                &mut collector,
                &mut notes,
                &serde_json::Value::Object(user.clone()),
                index,
            );
        }
        let snapshot = self.finish(&mut session, collector, notes).await?;
        Ok(DeltaRead {
            snapshot,
            cursor: GraphCursor::new(&self.tenant, &select, filter, link, users),
            round,
        })
    }

    /// An HTTP client that follows no redirects, and a first token.
    async fn session(&self) -> Result<Session, Error> {
        let token_url = self.segments(
            &self.authority,
            &[self.tenant.as_str(), "oauth2", "v2.0", "token"],
        )?;
        // Checked before the token is asked for, so a bad Graph URL costs no request.
        let graph = self.endpoint(&self.graph)?;
        let scope = match &self.scope {
            Some(scope) if !scope.ends_with("/.default") => {
                return Err(Error::GraphEndpoint {
                    source_name: self.name.clone(),
                    url: scope.clone(),
                    reason: "an app-only token's scope ends in /.default",
                });
            }
            Some(scope) => scope.clone(),
            None => format!("{}/.default", graph.origin().ascii_serialization()),
        };
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(15)))
            // A redirect would carry the bearer token wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| self.token_error(Failure::transport(e)))?;
        let token = self.token(&http, &token_url, &scope).await?;
        Ok(Session {
            http,
            token_url,
            scope,
            token,
        })
    }

    /// Turns the users collected into the snapshot, with the mail-enabled
    /// groups and the memberships of every group read (mail-enabled and
    /// named): the same last step for a full read and a delta round, so both
    /// give the same snapshot of the same directory. Groups come after
    /// users: the first of two entries claiming one primary address keeps it.
    async fn finish(
        &self,
        session: &mut Session,
        mut collector: Collector,
        mut notes: Notes,
    ) -> Result<DirectorySnapshot, Error> {
        // Every group whose members are read: (id, the name users' `member_of` holds).
        let mut groups: Vec<(String, String)> = Vec::new();
        if self.mail_groups {
            let groups_url = self.segments(&self.graph, &["groups"])?;
            let query = [
                ("$select", GROUP_SELECT),
                ("$filter", MAIL_ENABLED),
                ("$top", PAGE_SIZE),
            ];
            let mut read = 0usize;
            self.collection(session, &groups_url, &query, "groups", false, |value| {
                if let Some(group) = Self::add_group(&mut collector, &value, read) {
                    groups.push(group);
                }
                read += 1;
                Ok(())
            })
            .await?;
        }
        for id in &self.groups {
            if !groups.iter().any(|(read, _)| read == id) {
                let name = self.group_name(session, id).await?;
                groups.push((id.clone(), name));
            }
        }
        let mut provided = self.map.provided_fields();
        if !self.mail_groups && self.groups.is_empty() {
            let mut snapshot = collector.into_snapshot(&self.name, provided);
            snapshot.notes = notes.into_vec();
            return Ok(snapshot);
        }
        let mut memberships = self.memberships(session, &groups, &mut notes).await?;
        provided.insert(Field::Groups);
        let mut snapshot = collector.into_snapshot(&self.name, provided);
        for entry in &mut snapshot.entries {
            if let Some(groups) = entry
                .external_id
                .as_ref()
                .and_then(|id| memberships.remove(id.as_str()))
            {
                entry.member_of = groups;
            }
        }
        snapshot.notes = notes.into_vec();
        Ok(snapshot)
    }

    /// A named group's `displayName` (its id when it has none).
    async fn group_name(&self, session: &mut Session, id: &str) -> Result<String, Error> {
        let group_url = self.segments(&self.graph, &["groups", id])?;
        let http = session.http.clone();
        let body = self
            .authorized(
                session,
                || {
                    http.get(group_url.clone())
                        .query(&[("$select", "id,displayName")])
                },
                |f| self.page_error(&group_url, 1, f),
            )
            .await?;
        let group: Group = serde_json::from_str(&body).map_err(|e| {
            self.page_error(
                &group_url,
                1,
                Failure::answer(format!("the answer is not a group: {e}")),
            )
        })?;
        Ok(group
            .display_name
            .as_deref()
            .and_then(non_blank)
            .unwrap_or_else(|| id.to_owned()))
    }

    /// The names of the groups each object (user or group, by id) is in,
    /// directly or through nested groups — with or without mail, as
    /// `/transitiveMembers` flattens them — read to the last page of every
    /// group. Members that are neither users nor groups (devices, service
    /// principals, contacts) have no membership to sync: each is counted
    /// once in `notes`.
    async fn memberships(
        &self,
        session: &mut Session,
        groups: &[(String, String)],
        notes: &mut Notes,
    ) -> Result<HashMap<String, BTreeSet<String>>, Error> {
        let mut memberships: HashMap<String, BTreeSet<String>> = HashMap::new();
        let mut others = HashSet::new();
        for (id, name) in groups {
            let members_url = self.segments(&self.graph, &["groups", id, "transitiveMembers"])?;
            let query = [("$select", "id"), ("$top", PAGE_SIZE)];
            self.collection(session, &members_url, &query, "members", false, |member| {
                let Some(member_id) = member.get("id").and_then(serde_json::Value::as_str) else {
                    return Err("a member without an id".to_owned());
                };
                // Graph names every member's type; one without is read as a user.
                let kind = member
                    .get("@odata.type")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or(USER_TYPE);
                if kind == USER_TYPE || kind == GROUP_TYPE {
                    if member_id != id {
                        memberships
                            .entry(member_id.to_owned())
                            .or_default()
                            .insert(name.clone());
                    }
                } else if others.insert(member_id.to_owned()) {
                    let kind = kind.trim_start_matches("#microsoft.graph.");
                    notes.add(
                        NoteKind::OtherMembers,
                        false,
                        &format!("{kind} {member_id}"),
                    );
                }
                Ok(())
            })
            .await?;
        }
        Ok(memberships)
    }

    /// The endpoint `base` with `segments` appended, each percent-encoded
    /// (a tenant or group id from configuration can never step outside its
    /// path segment).
    fn segments(&self, base: &str, segments: &[&str]) -> Result<Url, Error> {
        let mut url = self.endpoint(base)?;
        url.path_segments_mut()
            .map_err(|()| Error::GraphEndpoint {
                source_name: self.name.clone(),
                url: base.to_owned(),
                reason: "not a base URL",
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Reads every page of the collection at `url`, handing each element
    /// of `value` to `each`. Any page that fails, after the retries, or an
    /// element `each` refuses, fails the whole read. With `delta`, the last
    /// page must carry an `@odata.deltaLink`, which is returned (a delta
    /// round that ends without one did not end).
    async fn collection(
        &self,
        session: &mut Session,
        url: &Url,
        query: &[(&str, &str)],
        what: &str,
        delta: bool,
        mut each: impl FnMut(serde_json::Value) -> Result<(), String>,
    ) -> Result<Option<String>, Error> {
        let mut next: Option<Url> = None;
        for page in 1usize.. {
            let request = |http: &reqwest::Client| {
                let request = match &next {
                    None => http.get(url.clone()).query(query),
                    // The whole link, as Graph asks: it carries the skip token
                    // and every original query option.
                    Some(link) => http.get(link.clone()),
                };
                if query.contains(&ADVANCED) {
                    // Not carried into next links by Graph: sent on every page.
                    request.header("ConsistencyLevel", "eventual")
                } else {
                    request
                }
            };
            let http = session.http.clone();
            let body = self
                .authorized(
                    session,
                    || request(&http),
                    |f| self.page_error(url, page, f),
                )
                .await?;
            let parsed: Page = serde_json::from_str(&body).map_err(|e| {
                self.page_error(
                    url,
                    page,
                    Failure::answer(format!("the answer is not a page of {what}: {e}")),
                )
            })?;
            for value in parsed.value {
                each(value).map_err(|m| self.page_error(url, page, Failure::answer(m)))?;
            }
            match (parsed.next_link, parsed.delta_link) {
                (Some(link), _) => {
                    let link = self
                        .next_link(url, next.as_ref(), &link)
                        .map_err(|m| self.page_error(url, page, Failure::answer(m)))?;
                    next = Some(link);
                }
                (None, _) if !delta => return Ok(None),
                (None, Some(link)) => {
                    // Checked now, so a saved cursor never points elsewhere.
                    self.next_link(url, None, &link)
                        .map_err(|m| self.page_error(url, page, Failure::answer(m)))?;
                    return Ok(Some(link));
                }
                (None, None) => {
                    return Err(self.page_error(
                        url,
                        page,
                        Failure::answer(
                            "the last page of the delta round has no @odata.deltaLink".to_owned(),
                        ),
                    ));
                }
            }
        }
        Ok(None)
    }

    /// Sends a Graph request with the session's token; on 401 (an app-only
    /// token lives about an hour, a long read outlives it) gets a new token
    /// and sends it once more. A failure is put in context by `error`.
    async fn authorized(
        &self,
        session: &mut Session,
        request: impl Fn() -> RequestBuilder + Send + Sync,
        error: impl Fn(Failure) -> Error,
    ) -> Result<String, Error> {
        let send = |token: &SecretString| {
            request()
                .header(reqwest::header::ACCEPT, "application/json")
                .bearer_auth(token.expose_secret())
        };
        match self.exchange(|| send(&session.token)).await {
            Err(f) if f.status == Some(401) => {
                session.token = self
                    .token(&session.http, &session.token_url, &session.scope)
                    .await?;
                self.exchange(|| send(&session.token)).await.map_err(error)
            }
            other => other.map_err(error),
        }
    }

    /// Maps one page of `/users` (its JSON body) as a read would, for the
    /// fuzz target: `None` when it is not a page.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn map_page(&self, json: &[u8]) -> Option<DirectorySnapshot> {
        let page: Page = serde_json::from_slice(json).ok()?;
        let mut collector = Collector::new(&self.name);
        let mut notes = Notes::default();
        for (read, value) in page.value.iter().enumerate() {
            self.add_user(&mut collector, &mut notes, value, read);
        }
        let mut snapshot = collector.into_snapshot(&self.name, self.map.provided_fields());
        snapshot.notes = notes.0.into_values().collect();
        Some(snapshot)
    }

    /// Maps one element of a page's `value` into the collector, counting
    /// in `notes` the users left out on purpose and the external members.
    fn add_user(
        &self,
        collector: &mut Collector,
        notes: &mut Notes,
        value: &serde_json::Value,
        index: usize,
    ) {
        let at = match value.get("id").and_then(serde_json::Value::as_str) {
            Some(id) => Location::object_id(id),
            None => Location::record(index),
        };
        let user = match GraphUser::deserialize(value) {
            Ok(user) => user,
            Err(e) => {
                collector.issue(SourceIssue::new(at, format!("a Graph user object ({e})")));
                return;
            }
        };
        let external = user.is_external_member();
        if external && self.external_members == ExternalMembers::Skip {
            notes.add(NoteKind::ExternalMembers, false, user.name());
            return;
        }
        let mapped = map_user(&user, self.map);
        match &mapped {
            Mapped::NotARecipient if user.is_guest() => {
                notes.add(NoteKind::Guests, false, user.name());
            }
            Mapped::NotARecipient => notes.add(NoteKind::WithoutMail, false, user.name()),
            Mapped::Entry(..) if external => {
                notes.add(NoteKind::ExternalMembers, true, user.name());
            }
            _ => {}
        }
        collector.add_mapped(mapped);
    }

    /// Maps one element of a page of groups into the collector; returns
    /// the group's id and the name its members' `member_of` holds (its
    /// `displayName`, else its id), unless it is not a group object.
    fn add_group(
        collector: &mut Collector,
        value: &serde_json::Value,
        index: usize,
    ) -> Option<(String, String)> {
        let at = match value.get("id").and_then(serde_json::Value::as_str) {
            Some(id) => Location::object_id(id),
            None => Location::record(index),
        };
        let group = match GraphGroup::deserialize(value) {
            Ok(group) => group,
            Err(e) => {
                collector.issue(SourceIssue::new(at, format!("a Graph group object ({e})")));
                return None;
            }
        };
        collector.add_mapped(map_group(&group));
        let name = group
            .display_name
            .as_deref()
            .and_then(non_blank)
            .unwrap_or_else(|| group.id.clone());
        Some((group.id, name))
    }

    /// Checks a next link before the token is sent to it: the same scheme,
    /// host and port as the Graph base, and not the page just read (a loop).
    fn next_link(&self, base: &Url, current: Option<&Url>, link: &str) -> Result<Url, String> {
        let link = Url::parse(link).map_err(|_| "the next page link is not a URL".to_owned())?;
        if link.origin() != base.origin() {
            return Err(format!(
                "the next page link points to {}, not to the Graph endpoint",
                link.origin().ascii_serialization()
            ));
        }
        if current == Some(&link) {
            return Err("the next page link repeats the page just read".to_owned());
        }
        Ok(link)
    }

    /// The client-credentials token for `scope`.
    async fn token(
        &self,
        http: &reqwest::Client,
        url: &Url,
        scope: &str,
    ) -> Result<SecretString, Error> {
        let body = self
            .exchange(|| {
                http.post(url.clone()).form(&[
                    ("client_id", self.client_id.as_str()),
                    ("scope", scope),
                    ("client_secret", self.client_secret.expose_secret()),
                    ("grant_type", "client_credentials"),
                ])
            })
            .await
            .map_err(|f| self.token_error(f))?;
        let token: Token = serde_json::from_str(&body).map_err(|e| {
            self.token_error(Failure::answer(format!("the answer holds no token: {e}")))
        })?;
        if token.access_token.trim().is_empty() {
            return Err(self.token_error(Failure::answer("the token is empty".to_owned())));
        }
        Ok(token.access_token.into())
    }

    /// Sends a request until it succeeds, fails for good, or the retries are
    /// used up; returns the body of the successful answer. Which failures
    /// are retried and how long to wait is muster's one retry policy
    /// ([`muster_core::retry`], the gateway client's too): the status table
    /// of [`classify`], backon's jittered schedule adjusted for
    /// `Retry-After` ([`RetryConfig::decide`]), and the source's
    /// [`RetryBudget`]. Each attempt is a `graph.request` span (method,
    /// path — never the query or a header —, attempt, status, the wait
    /// before the next one), for `MUSTER_LOG`; each retry is logged in it.
    async fn exchange(
        &self,
        request: impl Fn() -> RequestBuilder + Send + Sync,
    ) -> Result<String, Failure> {
        let attempts = AtomicU32::new(0);
        // The reason of the last retry (its cost comes back on success), and
        // what Graph asked for when it asked too much.
        let retried = Mutex::new(None::<RetryReason>);
        let beyond = Mutex::new(None::<Duration>);
        let result = self.retrying(&request, &attempts, &retried, &beyond).await;
        match result {
            Ok(body) => {
                self.budget.succeeded(*lock(&retried));
                Ok(body)
            }
            Err(f) => Err(match *lock(&beyond) {
                Some(asked) => f.failure.beyond_cap(asked, self.retry.max_retry_after()),
                None => f.failure,
            }),
        }
    }

    /// The attempts of one request on backon's schedule. Built in a plain
    /// function and boxed, so its closures' `Send` is proven here rather
    /// than inside every async caller (as the gateway client does).
    fn retrying<'s>(
        &'s self,
        request: &'s (impl Fn() -> RequestBuilder + Send + Sync),
        attempts: &'s AtomicU32,
        retried: &'s Mutex<Option<RetryReason>>,
        beyond: &'s Mutex<Option<Duration>>,
    ) -> Pin<Box<dyn Future<Output = Result<String, Attempted>> + Send + 's>> {
        let sleeper = Arc::clone(&self.sleeper);
        let retrying = (move || self.attempt(request, attempts))
            .retry(self.retry.backoff())
            .sleep(move |wait| {
                let sleeper = Arc::clone(&sleeper);
                async move { sleeper.sleep(wait).await }
            })
            .when(|f: &Attempted| f.reason.is_some())
            .adjust(move |f: &Attempted, scheduled| {
                let wait = match self.retry.decide(scheduled, f.retry_after) {
                    Wait::After(wait) => wait,
                    Wait::BeyondMax { asked } => {
                        *lock(beyond) = Some(asked);
                        return None;
                    }
                    _ => return None,
                };
                let reason = f.reason?;
                if !self.budget.withdraw(reason) {
                    f.span.in_scope(|| {
                        tracing::warn!(?reason, "retry budget spent: not retrying");
                    });
                    return None;
                }
                *lock(retried) = Some(reason);
                Some(wait)
            })
            .notify(|f: &Attempted, wait| {
                f.span.record("wait_ms", wait.as_millis() as u64);
                f.span.in_scope(|| {
                    tracing::debug!(reason = ?f.reason, ?wait, "retrying after a transient failure");
                });
            });
        Box::pin(retrying)
    }

    /// One attempt of a request, classified by [`classify`].
    async fn attempt(
        &self,
        request: &(impl Fn() -> RequestBuilder + Send + Sync),
        attempts: &AtomicU32,
    ) -> Result<String, Attempted> {
        let (http, built) = request().build_split();
        let request = match built {
            Ok(request) => request,
            Err(e) => return Err(Attempted::definite(Failure::transport(e))),
        };
        let span = tracing::info_span!(
            "graph.request",
            method = %request.method(),
            path = %request.url().path(),
            attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1,
            status = tracing::field::Empty,
            wait_ms = tracing::field::Empty,
        );
        let answer = async {
            let response = http.execute(request).await?;
            tracing::Span::current().record("status", response.status().as_u16());
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            let body = response.text().await;
            Ok::<_, reqwest::Error>((status, retry_after, body))
        }
        .instrument(span.clone())
        .await;
        let (outcome, failure, retry_after) = match answer {
            Ok((status, _, Ok(body))) if status.is_success() => return Ok(body),
            // Cut off mid-body: as transient as a lost connection.
            Ok((status, _, Err(e))) if status.is_success() => {
                (AttemptOutcome::Interrupted, Failure::transport(e), None)
            }
            Ok((status, retry_after, body)) => (
                AttemptOutcome::Status(status.as_u16()),
                self.failure(status, &body.unwrap_or_default()),
                retry_after.filter(|_| honours_retry_after(status.as_u16())),
            ),
            Err(e) if e.is_connect() => {
                (AttemptOutcome::ConnectFailed, Failure::transport(e), None)
            }
            Err(e) => (AttemptOutcome::Interrupted, Failure::transport(e), None),
        };
        let reason = match classify(outcome) {
            // Every Graph request is a read (the token POST included: asking
            // again only issues another token), so where the classifier
            // allows a retry the request may be sent again, ambiguous or not.
            RetryAction::RetryIndicated(reason) if reason.may_resend(GRAPH_IS_IDEMPOTENT) => {
                Some(reason)
            }
            _ => None,
        };
        Err(Attempted {
            failure,
            reason,
            retry_after,
            span,
        })
    }

    /// Reads an error answer: Graph's `{"error":{"code","message"}}` or the
    /// token endpoint's `{"error","error_description"}`.
    fn failure(&self, status: StatusCode, body: &str) -> Failure {
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let text = |v: Option<&serde_json::Value>| {
            v.and_then(serde_json::Value::as_str)
                .map(|s| self.shorten(s))
        };
        let (code, message) = match json.get("error") {
            Some(serde_json::Value::Object(error)) => {
                (text(error.get("code")), text(error.get("message")))
            }
            Some(error) => (text(Some(error)), text(json.get("error_description"))),
            None => (None, None),
        };
        Failure {
            status: Some(status.as_u16()),
            code,
            message,
            source: None,
        }
    }

    /// A server's text made fit for an error: short, on one line, and never
    /// holding the client secret (no endpoint is known to echo it; this
    /// makes sure).
    fn shorten(&self, text: &str) -> String {
        let secret = self.client_secret.expose_secret();
        let text = if secret.is_empty() {
            text.to_owned()
        } else {
            text.replace(secret, "[REDACTED]")
        };
        let mut short: String = text
            .chars()
            .take(MESSAGE_CHARS)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if text.chars().nth(MESSAGE_CHARS).is_some() {
            short.push('…');
        }
        short
    }

    fn token_error(&self, f: Failure) -> Error {
        Error::GraphToken {
            source_name: self.name.clone(),
            tenant: self.tenant.clone(),
            status: f.status,
            code: f.code,
            message: f.message,
            source: f.source,
        }
    }

    /// A failed page in context. The URL loses its query: a delta link's
    /// state token has no business in an error message or a log.
    fn page_error(&self, url: &Url, page: usize, f: Failure) -> Error {
        let mut url = url.clone();
        url.set_query(None);
        Error::Graph {
            source_name: self.name.clone(),
            url: url.to_string(),
            page,
            status: f.status,
            code: f.code,
            message: f.message,
            source: f.source,
        }
    }
}

crate::source::network_source!(GraphSource);

/// A users page Graph refused as an unsupported query, told what was sent
/// and where Microsoft explains which filters work how.
fn unsupported_query(mut err: Error, advanced: bool) -> Error {
    if let Error::Graph {
        code: Some(code),
        message,
        ..
    } = &mut err
        && code.eq_ignore_ascii_case("Request_UnsupportedQuery")
    {
        let hint = if advanced {
            "Graph refused the filter even as an advanced query"
        } else {
            "filters with ne, not, endsWith, $count or null need an advanced query (advanced_query)"
        };
        let said = message.take().map(|m| format!("{m}; ")).unwrap_or_default();
        *message = Some(format!("{said}{hint}: see {ADVANCED_QUERIES_DOC}"));
    }
    err
}

/// Escapes a value for an OData string literal in a `$filter`: a `'`
/// becomes `''`, so user input can only ever be compared literally. (`&`,
/// `#`, `+` and the like are percent-encoded with the rest of the query.)
///
/// ```
/// use muster_directory::escape_odata_string;
/// assert_eq!(escape_odata_string("O'Brien & Sons"), "O''Brien & Sons");
/// let filter = format!("department eq '{}'", escape_odata_string("R&D') or (true"));
/// assert_eq!(filter, "department eq 'R&D'') or (true'");
/// ```
#[must_use]
pub fn escape_odata_string(value: &str) -> String {
    value.replace('\'', "''")
}

/// Every request the source sends is a read: what
/// [`RetryReason::may_resend`] is told, so an ambiguous outcome is retried.
const GRAPH_IS_IDEMPOTENT: bool = true;

/// A failed attempt, and why it may be tried again when it may.
struct Attempted {
    failure: Failure,
    /// Set when the classifier allows a retry.
    reason: Option<RetryReason>,
    /// A `Retry-After` Graph sent on a status that honours it.
    retry_after: Option<Duration>,
    /// The attempt's span, to record the wait in.
    span: tracing::Span,
}

impl Attempted {
    /// A failure that is never retried.
    fn definite(failure: Failure) -> Self {
        Attempted {
            failure,
            reason: None,
            retry_after: None,
            span: tracing::Span::none(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // One value replaced whole: a poisoned lock is still consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A failed exchange, before it is given its context.
#[derive(Debug)]
struct Failure {
    status: Option<u16>,
    code: Option<String>,
    message: Option<String>,
    source: Option<reqwest::Error>,
}

impl Failure {
    fn transport(source: reqwest::Error) -> Self {
        Failure {
            status: None,
            code: None,
            message: None,
            source: Some(source),
        }
    }

    /// The failure, when the server asked for a longer wait than `cap`:
    /// its status and code stay, the message says why there was no retry.
    fn beyond_cap(mut self, asked: Duration, cap: Duration) -> Self {
        self.message = Some(format!(
            "Graph asked to wait {} s before a retry, more than the {} s allowed",
            asked.as_secs(),
            cap.as_secs()
        ));
        self
    }

    fn answer(message: String) -> Self {
        Failure {
            status: None,
            code: None,
            message: Some(message),
            source: None,
        }
    }
}

/// One page of a Graph collection.
#[derive(Deserialize)]
struct Page {
    /// Required: an answer without it is not a page, and must not read as an empty one.
    value: Vec<serde_json::Value>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
    /// The last page of a delta round: where the next round starts.
    #[serde(rename = "@odata.deltaLink")]
    delta_link: Option<String>,
}

/// A group's name.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    display_name: Option<String>,
}

/// The notes of one read, one per kind.
#[derive(Default)]
struct Notes(BTreeMap<NoteKind, SourceNote>);

impl Notes {
    /// Counts one object of `kind` named `name`; `kept` says whether such
    /// objects stay in the entries.
    fn add(&mut self, kind: NoteKind, kept: bool, name: &str) {
        self.0
            .entry(kind)
            .or_insert_with(|| SourceNote::new(kind, kept))
            .add(name);
    }

    fn into_vec(self) -> Vec<SourceNote> {
        self.0.into_values().collect()
    }
}

/// One read's HTTP client and current token.
struct Session {
    http: reqwest::Client,
    token_url: Url,
    /// The token's scope: the Graph URL's origin plus `/.default`, unless set.
    scope: String,
    token: SecretString,
}

/// The token endpoint's answer (the rest of it is not needed).
#[derive(Deserialize)]
struct Token {
    access_token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> GraphSource {
        GraphSource::new("contoso.onmicrosoft.com", "app", "s3cret-value".into())
    }

    #[test]
    fn required_values_are_escaped_into_the_filter() {
        assert_eq!(source().full_filter(), None);
        assert_eq!(
            source()
                .filter("accountEnabled eq true")
                .full_filter()
                .as_deref(),
            Some("accountEnabled eq true")
        );
        assert_eq!(
            source()
                .filter("accountEnabled eq true")
                .require("companyName", "O'Brien")
                .require("department", "R&D")
                .full_filter()
                .as_deref(),
            Some("(accountEnabled eq true) and companyName eq 'O''Brien' and department eq 'R&D'")
        );
        assert_eq!(
            source().require("department", "'").full_filter().as_deref(),
            Some("department eq ''''")
        );
    }

    #[test]
    fn plain_http_is_refused_off_this_machine() {
        let s = source();
        assert!(matches!(
            s.endpoint("http://login.example.com/t/oauth2/v2.0/token"),
            Err(Error::GraphEndpoint { .. })
        ));
        assert!(matches!(
            s.endpoint("ftp://x/"),
            Err(Error::GraphEndpoint { .. })
        ));
        assert!(matches!(
            s.endpoint("not a url"),
            Err(Error::GraphEndpoint { .. })
        ));
        for ok in [
            "https://graph.microsoft.com/v1.0/users",
            "http://127.0.0.1:8080/users",
            "http://[::1]:8080/users",
            "http://localhost/users",
        ] {
            assert!(s.endpoint(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn next_links_stay_on_the_graph_endpoint_and_move_on() {
        let s = source();
        let base = Url::parse("https://graph.microsoft.com/v1.0/users").unwrap();
        let next = "https://graph.microsoft.com/v1.0/users?$skiptoken=X";
        let link = s.next_link(&base, None, next).unwrap();
        assert!(s.next_link(&base, Some(&link), next).is_err(), "a loop");
        for elsewhere in [
            "https://evil.example/v1.0/users?$skiptoken=X",
            "http://graph.microsoft.com/v1.0/users?$skiptoken=X",
            "https://graph.microsoft.com:8443/v1.0/users?$skiptoken=X",
        ] {
            assert!(s.next_link(&base, None, elsewhere).is_err(), "{elsewhere}");
        }
    }

    #[test]
    fn error_answers_are_read_in_both_shapes_and_never_hold_the_secret() {
        let s = source();
        let graph = s.failure(
            StatusCode::BAD_REQUEST,
            r#"{"error":{"code":"Request_UnsupportedQuery","message":"Invalid filter clause","innerError":{}}}"#,
        );
        assert_eq!(graph.code.as_deref(), Some("Request_UnsupportedQuery"));
        assert_eq!(graph.message.as_deref(), Some("Invalid filter clause"));
        let token = s.failure(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret s3cret-value\r\nTrace ID: 1"}"#,
        );
        assert_eq!(token.status, Some(401));
        assert_eq!(token.code.as_deref(), Some("invalid_client"));
        assert_eq!(
            token.message.as_deref(),
            Some("AADSTS7000215: Invalid client secret [REDACTED]  Trace ID: 1")
        );
        let html = s.failure(StatusCode::BAD_GATEWAY, "<html>bad gateway</html>");
        assert_eq!((html.code, html.message), (None, None));
        assert_eq!(
            s.shorten(&"x".repeat(400)).chars().count(),
            MESSAGE_CHARS + 1
        );
    }

    #[test]
    fn group_ids_stay_inside_their_path_segment() {
        let s = source().graph_url("https://graph.microsoft.com/v1.0/");
        let url = s
            .segments(&s.graph, &["groups", "../users?x=1#f", "transitiveMembers"])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://graph.microsoft.com/v1.0/groups/..%2Fusers%3Fx=1%23f/transitiveMembers"
        );
        let token = s
            .segments(
                LOGIN_AUTHORITY,
                &["contoso/../x", "oauth2", "v2.0", "token"],
            )
            .unwrap();
        assert_eq!(
            token.as_str(),
            "https://login.microsoftonline.com/contoso%2F..%2Fx/oauth2/v2.0/token"
        );
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        assert!(!format!("{:?}", source()).contains("s3cret-value"));
    }
}
