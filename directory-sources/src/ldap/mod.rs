//! Active Directory and other LDAP directories as a directory source.
//!
//! One paged subtree search (AD answers at most `MaxPageSize`, 1000 by
//! default, per page; the paged-results control is how every object is
//! read), each object mapped by [`LdapAttributes`]. A search the server ends
//! with anything but success — a size or time limit, a referral, a lost
//! connection — is an error, never a shorter directory.
//!
//! Groups ([`LdapObjects`]) are a second paged search; their `member` lists,
//! which AD sends in ranges of 1500 values, are read to the end by base-scope
//! follow-ups (`range`), and with the users' primary groups (AD's
//! `primaryGroupID`, which `member` leaves out) give every entry its
//! `member_of` (`groups`).
//!
//! TLS (ldaps or StartTLS) is verified: against the platform's trusted CAs,
//! plus any the caller adds ([`LdapSource::root_certificate_pem`]: domain
//! controllers usually carry a certificate from the organisation's own CA).
//! A certificate that does not verify fails the read with an error that says
//! so; only [`LdapSource::danger_accept_invalid_certificates`] skips the check.

mod attributes;
mod groups;
mod range;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use muster_core::{DirectorySnapshot, Field, Location, SourceIssue};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;

pub use attributes::LdapAttributes;
pub(crate) use attributes::{Object, map_group, map_object, primary_group};
use groups::Memberships;
use range::{Chunk, RangeProblem};

use crate::collect::Collector;
use crate::error::Error;

/// AD's user objects that can receive mail. Computer objects are also
/// `objectClass=user`, hence the `objectCategory`.
pub const AD_MAIL_USERS: &str =
    "(&(objectCategory=person)(objectClass=user)(|(mail=*)(proxyAddresses=smtp:*)))";

/// An LDAP or Active Directory server as a directory source.
///
/// ```no_run
/// # async fn demo() -> Result<(), muster_directory::Error> {
/// use muster_directory::{DirectorySource, LdapSource};
/// let source = LdapSource::new("ldaps://dc1.example.com", "OU=Staff,DC=example,DC=com")
///     .bind("CN=muster,OU=Service,DC=example,DC=com", std::env::var("AD_PASSWORD").unwrap_or_default().into())
///     .require("department", "Sales & Marketing"); // escaped: `&` is just a character here
/// let snapshot = source.fetch().await?;
/// for issue in &snapshot.issues {
///     eprintln!("{issue}"); // dn `CN=Ann,…`: proxyAddresses `SMTP:a@…, SMTP:b@…`: expected exactly one …
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct LdapSource {
    name: String,
    url: String,
    base_dn: String,
    bind: Option<(String, SecretString)>,
    filter: String,
    required: Vec<(String, String)>,
    attributes: LdapAttributes,
    starttls: bool,
    allow_plaintext: bool,
    accept_invalid_certificates: bool,
    extra_roots: Vec<CertificateDer<'static>>,
    platform_roots: bool,
    objects: LdapObjects,
    group_filter: Option<String>,
    page_size: i32,
    timeout: Duration,
}

impl LdapSource {
    /// Searches the subtree under `base_dn` on the server at `url`
    /// (`ldaps://host[:port]`, or `ldap://` with [`LdapSource::starttls`]).
    /// Defaults: AD's mail-enabled users ([`AD_MAIL_USERS`]), the
    /// [`LdapAttributes::active_directory`] map, pages of 1000, anonymous bind,
    /// certificates verified, 30 s per request.
    pub fn new(url: &str, base_dn: &str) -> Self {
        LdapSource {
            name: format!("ldap:{base_dn}"),
            url: url.trim().to_owned(),
            base_dn: base_dn.to_owned(),
            bind: None,
            filter: AD_MAIL_USERS.to_owned(),
            required: Vec::new(),
            attributes: LdapAttributes::active_directory(),
            starttls: false,
            allow_plaintext: false,
            accept_invalid_certificates: false,
            extra_roots: Vec::new(),
            platform_roots: true,
            objects: LdapObjects::Users,
            group_filter: None,
            page_size: 1000,
            timeout: Duration::from_secs(30),
        }
    }

    /// Names the source (the snapshot's `source`, and the origin of the accounts it creates).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Binds as `dn` with `password` (a simple bind; the password is never logged or shown).
    pub fn bind(mut self, dn: &str, password: SecretString) -> Self {
        self.bind = Some((dn.to_owned(), password));
        self
    }

    /// Replaces the object filter. It is used as written: build any part that
    /// comes from user input with [`LdapSource::require`] or [`escape_filter_value`].
    pub fn filter(mut self, filter: &str) -> Self {
        self.filter = filter.trim().to_owned();
        self
    }

    /// Also requires `attribute` to equal `value`; the value is escaped
    /// (RFC 4515), so `*`, `(`, `)` and `\` in it match themselves.
    pub fn require(mut self, attribute: &str, value: &str) -> Self {
        self.required.push((attribute.to_owned(), value.to_owned()));
        self
    }

    /// Reads users (the default), mail-enabled groups, or both. With groups,
    /// every entry's `member_of` holds the names of the groups read that it
    /// is in, directly or through nested groups, and the snapshot provides
    /// `groups` and `kind`. Memberships come from the groups' `member`
    /// lists, read to the end even when AD sends them in ranges, and in AD
    /// from each user's `primaryGroupID` too (AD lists no one in the
    /// `member` of their primary group); a list that cannot be read
    /// completely is an issue at the group, and no membership is reported
    /// that run. Nesting counts through the groups
    /// read only: a user in a group the group filter leaves out (say, a
    /// security group without mail) is not seen in the groups that contain it.
    pub fn objects(mut self, objects: LdapObjects) -> Self {
        self.objects = objects;
        self
    }

    /// Replaces the group filter (by default
    /// [`LdapAttributes::mail_groups_filter`]: mail-enabled objects of the
    /// map's group class). Used as written, like [`LdapSource::filter`];
    /// [`LdapSource::require`] applies to users only.
    pub fn group_filter(mut self, filter: &str) -> Self {
        self.group_filter = Some(filter.trim().to_owned());
        self
    }

    /// Sets which attribute carries which field.
    pub fn attributes(mut self, attributes: LdapAttributes) -> Self {
        self.attributes = attributes;
        self
    }

    /// Upgrades an `ldap://` connection with StartTLS before binding.
    pub fn starttls(mut self) -> Self {
        self.starttls = true;
        self
    }

    /// Allows `ldap://` without TLS to a host that is not this machine. The
    /// bind password then crosses the network in clear text.
    pub fn allow_plaintext(mut self) -> Self {
        self.allow_plaintext = true;
        self
    }

    /// Accepts any server certificate. Only for test servers: anyone on the
    /// path can then read the bind password.
    pub fn danger_accept_invalid_certificates(mut self) -> Self {
        self.accept_invalid_certificates = true;
        self
    }

    /// Also trusts the CA certificates in `pem` (every `CERTIFICATE` block)
    /// for ldaps and StartTLS: a domain's own enterprise CA, which the
    /// machine's certificate store often lacks. They are added to the
    /// platform's trusted roots (see
    /// [`LdapSource::without_platform_root_certificates`]); the server's
    /// certificate is still verified, host name included.
    ///
    /// # Errors
    /// [`Error::LdapCertificate`] when `pem` holds no certificate, is not
    /// PEM, or a certificate in it cannot be a trust anchor: caught here
    /// rather than as an "unknown issuer" at the first sync.
    pub fn root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, Error> {
        let refuse = |reason: String| Error::LdapCertificate {
            source_name: self.name.clone(),
            reason,
        };
        let mut found = Vec::new();
        for certificate in CertificateDer::pem_slice_iter(pem) {
            let certificate = certificate.map_err(|e| refuse(format!("not PEM ({e})")))?;
            // The same check the verifier will make: parse it as a trust anchor now.
            RootCertStore::empty()
                .add(certificate.clone())
                .map_err(|e| refuse(format!("not a usable certificate ({e})")))?;
            found.push(certificate);
        }
        if found.is_empty() {
            return Err(refuse("no `-----BEGIN CERTIFICATE-----` block".to_owned()));
        }
        self.extra_roots.extend(found);
        Ok(self)
    }

    /// Trusts only the CAs given with [`LdapSource::root_certificate_pem`],
    /// not the platform's store: for a directory whose certificates must come
    /// from the organisation's own CA and no public one. Verification stays
    /// on: with no CA given, every TLS connection fails.
    pub fn without_platform_root_certificates(mut self) -> Self {
        self.platform_roots = false;
        self
    }

    /// Objects per page (at most the server's limit; AD's default is 1000).
    pub fn page_size(mut self, size: u16) -> Self {
        self.page_size = i32::from(size.max(1));
        self
    }

    /// How long one request (connect, bind, one page) may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The filter sent to the server: the base filter and every required value, escaped.
    fn full_filter(&self) -> String {
        if self.required.is_empty() {
            return self.filter.clone();
        }
        let mut filter = format!("(&{}", self.filter);
        for (attribute, value) in &self.required {
            filter.push_str(&format!("({attribute}={})", escape_filter_value(value)));
        }
        filter.push(')');
        filter
    }

    /// Refuses to send a password in clear text to another machine.
    fn check_transport(&self) -> Result<(), Error> {
        let plaintext = self
            .url
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("ldap://"));
        if !plaintext || self.starttls || self.allow_plaintext || is_loopback(&self.url[7..]) {
            return Ok(());
        }
        Err(Error::PlaintextLdap {
            source_name: self.name.clone(),
            url: self.url.clone(),
        })
    }

    fn ldap_error(&self, action: &'static str) -> impl FnOnce(LdapError) -> Error + '_ {
        move |source| Error::Ldap {
            source_name: self.name.clone(),
            server: self.url.clone(),
            // "cannot connect" hides the one failure a person can fix by
            // configuration: name it (the source says which check failed).
            action: if is_certificate_error(&source) {
                "verify the server's certificate"
            } else {
                refine_action(action, &source)
            },
            source: Box::new(source),
        }
    }

    /// The connection settings: TLS as configured, verified unless the
    /// caller said `danger_accept_invalid_certificates`.
    fn settings(&self) -> LdapConnSettings {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout)
            .set_starttls(self.starttls)
            .set_no_tls_verify(self.accept_invalid_certificates);
        if self.accept_invalid_certificates || (self.extra_roots.is_empty() && self.platform_roots)
        {
            // ldap3's own configuration: the platform store, or no verification.
            return settings;
        }
        let mut roots = RootCertStore::empty();
        if self.platform_roots {
            roots.extend(PLATFORM_ROOTS.roots.iter().cloned());
        }
        // Checked when given, so none is skipped here.
        roots.add_parsable_certificates(self.extra_roots.iter().cloned());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|builder| builder.with_root_certificates(roots).with_no_client_auth());
        match config {
            Ok(config) => settings.set_config(Arc::new(config)),
            // aws-lc-rs's default provider supports the default versions; were
            // that ever not so, ldap3's configuration still verifies.
            Err(_) => settings,
        }
    }

    /// Connects, binds, reads every page and maps the objects.
    ///
    /// # Errors
    /// [`Error::PlaintextLdap`] before connecting when the password would
    /// cross the network unencrypted; [`Error::Ldap`] when the server cannot
    /// be reached, refuses the bind, or ends the search with anything but
    /// success. Objects with bad values are issues in the snapshot.
    pub async fn read(&self) -> Result<DirectorySnapshot, Error> {
        self.check_transport()?;
        // For `MUSTER_LOG`: the server and base, how many entries, how long.
        let span = tracing::info_span!(
            "ldap.read",
            url = %self.url,
            base = %self.base_dn,
            entries = tracing::field::Empty,
        );
        let snapshot = self.connect_and_read().instrument(span.clone()).await?;
        span.record("entries", snapshot.entries.len());
        Ok(snapshot)
    }

    async fn connect_and_read(&self) -> Result<DirectorySnapshot, Error> {
        let (connection, mut ldap) = LdapConnAsync::with_settings(self.settings(), &self.url)
            .await
            .map_err(self.ldap_error("connect"))?;
        ldap3::drive!(connection);
        if let Some((dn, password)) = &self.bind {
            ldap.with_timeout(self.timeout)
                .simple_bind(dn, password.expose_secret())
                .await
                .and_then(ldap3::LdapResult::success)
                .map_err(self.ldap_error("bind"))?;
        }
        let map = &self.attributes;
        let mut collector = Collector::new(&self.name);
        let mut provided = map.provided_fields();
        // With memberships: the users by the SID of their primary group,
        // which AD leaves out of that group's `member` list.
        let reads_memberships = self.objects == LdapObjects::Both;
        let mut primary: HashMap<String, Vec<String>> = HashMap::new();
        let mut primary_complete = true;
        if self.objects != LdapObjects::Groups {
            let filter = self.full_filter();
            let mut requested = map.requested();
            if reads_memberships {
                requested.extend(map.primary_group_requested());
            }
            self.search_each(&mut ldap, &filter, requested, |object| {
                if reads_memberships {
                    match primary_group(&object, map) {
                        Ok(Some(sid)) => primary.entry(sid).or_default().push(object.dn.clone()),
                        Ok(None) => {}
                        Err(issue) => {
                            primary_complete = false;
                            collector.issue(*issue);
                        }
                    }
                }
                collector.add_mapped(map_object(&object, map));
            })
            .await?;
        }
        let mut memberships = None;
        if self.objects != LdapObjects::Users {
            let (read, complete) = self
                .read_groups(&mut ldap, &mut collector, &primary)
                .await?;
            let complete = complete && primary_complete;
            provided.insert(Field::Kind);
            // An incomplete list reports no memberships at all (see read_groups).
            if complete {
                provided.insert(Field::Groups);
                memberships = Some(read);
            }
        }
        // The snapshot is complete; a failed goodbye changes nothing.
        let _ = ldap.unbind().await;
        let mut snapshot = collector.into_snapshot(&self.name, provided);
        if let Some(memberships) = memberships {
            for entry in &mut snapshot.entries {
                if let Some(Location::Dn { dn }) = &entry.location {
                    entry.member_of = memberships.groups_of(dn);
                }
            }
        }
        Ok(snapshot)
    }

    /// One paged subtree search under the base; `each` sees every object.
    /// Anything but a successful end is an error.
    async fn search_each(
        &self,
        ldap: &mut Ldap,
        filter: &str,
        attributes: Vec<String>,
        mut each: impl FnMut(Object),
    ) -> Result<(), Error> {
        let adapters: Vec<Box<dyn Adapter<'_, String, Vec<String>>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(self.page_size)),
        ];
        let span = tracing::debug_span!(
            "ldap.search",
            filter = %filter,
            objects = tracing::field::Empty,
        );
        let mut objects = 0usize;
        async {
            let mut search = ldap
                .with_timeout(self.timeout)
                .streaming_search_with(adapters, &self.base_dn, Scope::Subtree, filter, attributes)
                .await
                .map_err(self.ldap_error("search"))?;
            while let Some(found) = search.next().await.map_err(self.ldap_error("search"))? {
                let found = SearchEntry::construct(found);
                each(Object::new(found.dn, found.attrs, found.bin_attrs));
                objects += 1;
            }
            search
                .finish()
                .await
                .success()
                .map_err(self.ldap_error("finish the search"))?;
            Ok(())
        }
        .instrument(span.clone())
        .await?;
        span.record("objects", objects);
        Ok(())
    }

    /// Reads the groups the group filter selects into `collector`, and their
    /// member lists, continuing AD's ranged answers group by group. Returns
    /// the memberships and whether every list was read completely: a list
    /// that could not be is an issue at the group's DN, and then no
    /// membership is reported at all (the snapshot does not provide
    /// `groups`), so no one is taken out of a group for a list cut short.
    async fn read_groups(
        &self,
        ldap: &mut Ldap,
        collector: &mut Collector,
        primary: &HashMap<String, Vec<String>>,
    ) -> Result<(Memberships, bool), Error> {
        /// A group as its search result left it.
        struct Read {
            dn: String,
            name: String,
            /// Its SID, when users' primary groups are read.
            sid: Option<String>,
            members: Vec<String>,
            /// The attribute description and first index still to ask for.
            more: Option<(String, u64)>,
        }
        let map = &self.attributes;
        let filter = self
            .group_filter
            .clone()
            .unwrap_or_else(|| map.mail_groups_filter());
        let members_issue = |dn: &str, problem: &RangeProblem| {
            SourceIssue::new(
                Location::dn(dn.to_owned()),
                format!(
                    "a complete member list ({}); no group memberships are changed this run",
                    problem.reason
                ),
            )
            .with_field(&map.group_members)
            .with_value(&problem.description)
        };
        let mut groups = Vec::new();
        let mut complete = true;
        self.search_each(ldap, &filter, map.group_requested(), |object| {
            let name = object
                .first(Some(&map.group_name))
                .unwrap_or(&object.dn)
                .to_owned();
            match range::chunk(object.attributes(), &map.group_members, 0) {
                Ok(chunk) => {
                    let (values, more) = match chunk {
                        Chunk::Last(values) => (values, None),
                        Chunk::More {
                            values,
                            next,
                            start,
                        } => (values, Some((next, start))),
                    };
                    let sid = map
                        .primary_group_id
                        .as_ref()
                        .and_then(|_| object.first_bytes(attributes::OBJECT_SID))
                        .and_then(groups::sid_text);
                    groups.push(Read {
                        dn: object.dn.clone(),
                        name,
                        sid,
                        members: values.to_vec(),
                        more,
                    });
                }
                Err(problem) => {
                    complete = false;
                    collector.issue(members_issue(&object.dn, &problem));
                }
            }
            collector.add_mapped(map_group(&object, map));
        })
        .await?;
        let mut memberships = Memberships::default();
        for mut group in groups {
            let fetched = range::read_rest(
                &map.group_members,
                group.more.take(),
                &mut group.members,
                |next: String| {
                    // Owned, so the request's future borrows nothing.
                    let (mut ldap, dn, timeout) = (ldap.clone(), group.dn.clone(), self.timeout);
                    async move {
                        let (found, _) = ldap
                            .with_timeout(timeout)
                            .search(&dn, Scope::Base, "(objectClass=*)", vec![next])
                            .await
                            .and_then(ldap3::SearchResult::success)?;
                        Ok(match <[_; 1]>::try_from(found) {
                            Ok([found]) => {
                                let found = SearchEntry::construct(found);
                                Object::new(found.dn, found.attrs, found.bin_attrs)
                            }
                            // Gone since the search, or an odd answer:
                            // read_rest says the values are missing.
                            Err(_) => Object::default(),
                        })
                    }
                },
            )
            .await
            .map_err(self.ldap_error("read the members of a group"))?;
            if let Err(problem) = fetched {
                complete = false;
                collector.issue(members_issue(&group.dn, &problem));
            }
            // The users whose primary group this is: AD lists them nowhere in `member`.
            if let Some(users) = group.sid.as_ref().and_then(|sid| primary.get(sid)) {
                group.members.extend(users.iter().cloned());
            }
            memberships.add_group(&group.dn, &group.name, &group.members);
        }
        Ok((memberships, complete))
    }
}

/// Which objects an [`LdapSource`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LdapObjects {
    /// Mail-enabled users (the filter of [`LdapSource::filter`]).
    #[default]
    Users,
    /// Mail-enabled groups (the filter of [`LdapSource::group_filter`]),
    /// as distribution or security groups; nested groups' memberships.
    Groups,
    /// Users and groups, and each user's groups in `member_of`.
    Both,
}

crate::source::network_source!(LdapSource);

/// Escapes a value for an LDAP filter (RFC 4515 §3): `*`, `(`, `)`, `\` and
/// NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`, so user input can only ever
/// be matched literally.
///
/// ```
/// use muster_directory::escape_filter_value;
/// assert_eq!(escape_filter_value("R&D (*)"), r"R&D \28\2a\29");
/// assert_eq!(escape_filter_value(r"a\b"), r"a\5cb");
/// ```
#[must_use]
pub fn escape_filter_value(value: &str) -> String {
    ldap3::ldap_escape(value).into_owned()
}

/// The platform's trusted CAs (as ldap3 loads them), read once per process;
/// extra CAs are added to a copy of these.
static PLATFORM_ROOTS: LazyLock<RootCertStore> = LazyLock::new(|| {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    roots
});

/// True when TLS failed because the server's certificate was not accepted
/// (unknown issuer, wrong host name, expired…), wherever in the chain it sits.
pub(crate) fn is_certificate_error(error: &LdapError) -> bool {
    let is_certificate = |e: &rustls::Error| {
        matches!(
            e,
            rustls::Error::InvalidCertificate(_)
                | rustls::Error::NoCertificatesPresented
                | rustls::Error::UnsupportedNameType
        )
    };
    match error {
        LdapError::Rustls { source } => is_certificate(source),
        LdapError::Io { source } => source
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_some_and(is_certificate),
        _ => false,
    }
}

/// What failed, said in the terms a person configures, for the two answers
/// whose result code alone leaves them guessing: a bind the server refuses
/// without TLS (AD's and Samba's "strong auth required": `strongerAuthRequired`,
/// 8), and a search whose base DN does not exist (`noSuchObject`, 32; a domain
/// controller's text then says nothing of the base).
fn refine_action(action: &'static str, error: &LdapError) -> &'static str {
    let LdapError::LdapResult { result } = error else {
        return action;
    };
    match (action, result.rc) {
        ("bind", 8) => {
            "bind without TLS (the server takes a password only over TLS: use ldaps:// or StartTLS)"
        }
        ("search" | "finish the search", 32) => "find the base DN",
        _ => action,
    }
}

/// True when `rest` (what follows `ldap://`) names this machine.
fn is_loopback(rest: &str) -> bool {
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_values_are_escaped_into_the_filter() {
        let source = LdapSource::new("ldaps://dc", "DC=x")
            .filter("(objectClass=user)")
            .require("department", "R&D (*)")
            .require("company", r"A\B");
        assert_eq!(
            source.full_filter(),
            r"(&(objectClass=user)(department=R&D \28\2a\29)(company=A\5cB))"
        );
    }

    #[test]
    fn plain_ldap_is_refused_off_this_machine() {
        let refused = LdapSource::new("ldap://dc1.example.com", "DC=x").check_transport();
        assert!(matches!(refused, Err(Error::PlaintextLdap { .. })));
        for allowed in [
            LdapSource::new("ldap://dc1.example.com", "DC=x").starttls(),
            LdapSource::new("ldap://dc1.example.com", "DC=x").allow_plaintext(),
            LdapSource::new("ldaps://dc1.example.com", "DC=x"),
            LdapSource::new("ldap://127.0.0.1:3890", "DC=x"),
            LdapSource::new("ldap://[::1]:389", "DC=x"),
            LdapSource::new("LDAP://localhost", "DC=x"),
        ] {
            assert!(allowed.check_transport().is_ok(), "{}", allowed.url);
        }
    }

    #[test]
    fn a_bind_refused_without_tls_and_a_missing_base_are_named() {
        use crate::error::tests::answer;
        assert!(refine_action("bind", &answer(8)).contains("only over TLS"));
        assert_eq!(refine_action("bind", &answer(49)), "bind");
        assert_eq!(
            refine_action("finish the search", &answer(32)),
            "find the base DN"
        );
        assert_eq!(refine_action("search", &answer(32)), "find the base DN");
        // A group gone between the search and its members' follow-up is no base.
        assert_eq!(
            refine_action("read the members of a group", &answer(32)),
            "read the members of a group"
        );
        assert_eq!(
            refine_action("finish the search", &answer(4)),
            "finish the search"
        );
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let source = LdapSource::new("ldaps://dc", "DC=x").bind("CN=svc", "s3cret-pw".into());
        assert!(!format!("{source:?}").contains("s3cret-pw"));
    }
}
