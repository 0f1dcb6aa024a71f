//! Reading every source a config names into the planner's [`Desired`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use muster_core::{DirectorySnapshot, Domain, HrSnapshot, HrStatus};
use muster_directory::{
    DeltaRound, DiscoveryLedger, DiscoverySource, GraphCursor, GraphSource, HrColumns, HrCsv,
    LdapSource, MappedCsv, StandardCsv,
};
use muster_reconcile::{Desired, Mode};

use super::error::ConfigError;
use super::file::{
    Config, CsvConfig, GraphConfig, HrConfig, LdapConfig, MappedCsvConfig, PostiniConfig,
    SourceConfig, SourceSettings, StatusWord,
};
use super::load::KeyPath;
use super::resolve::{
    GRAPH_SECRET_ENV, LDAP_PASSWORD_ENV, csv_format, discovery_policy, ldap_attributes,
    postini_mapping, secret,
};

/// A source that could not be read: never an empty directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// A setting or secret is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The source could not be read completely.
    #[error("cannot read source `{name}`")]
    Source {
        /// The source's name.
        name: String,
        /// Why.
        #[source]
        source: Box<muster_directory::Error>,
    },
    /// The HR file could not be read completely.
    #[error("cannot read the HR records")]
    Hr(#[source] Box<muster_directory::Error>),
    /// A saved Graph cursor that cannot be used: never quietly replaced by a
    /// full read, which would hide a misconfiguration (one cursor file for
    /// two tenants); the user deletes it to start over.
    #[error("cannot use the Graph cursor `{}` (delete it to read every user again)", path.display())]
    Cursor {
        /// The cursor file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<muster_directory::Error>,
    },
    /// A CA file that holds no usable certificate: refused before
    /// connecting, so a wrong file never shows up as "unknown issuer".
    #[error("cannot trust the CA certificates in `{}`", path.display())]
    Certificate {
        /// The PEM file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<muster_directory::Error>,
    },
}

impl ReadError {
    /// True when a later try may well succeed (the directory could not be
    /// reached or was busy: [`muster_directory::Error::is_retryable`]). A
    /// file that is missing or broken, a wrong password or a setting is
    /// not: a retry would meet the same.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            ReadError::Source { source, .. } | ReadError::Hr(source) => source.is_retryable(),
            _ => false,
        }
    }
}

/// What the directory side of a run read.
#[derive(Debug)]
#[non_exhaustive]
pub struct Directory {
    /// The sources for the planner: the authoritative one, the supplemental
    /// ones in the config's order, HR on the side.
    pub desired: Desired,
    /// Each incremental Entra ID read's cursor, to save once the run may go on.
    pub graph_rounds: Vec<GraphRound>,
}

/// One incremental Entra ID read: where its cursor lives, the cursor to
/// keep, and what kind of round it was.
#[derive(Debug)]
#[non_exhaustive]
pub struct GraphRound {
    /// The cursor file.
    pub path: PathBuf,
    /// The cursor to save there.
    pub cursor: GraphCursor,
    /// Initial, incremental or a forced resync.
    pub round: DeltaRound,
}

impl Config {
    /// Reads every source (the authoritative one first, each snapshot under
    /// its source's name) and the HR records. A source that cannot be read
    /// completely is an error, never a short directory.
    ///
    /// # Errors
    /// A setting or secret that is wrong, or a source that fails.
    pub async fn read_directory(&self, now: DateTime<Utc>) -> Result<Directory, ReadError> {
        self.check()?;
        let managed = self.managed_domains()?;
        let mut authoritative = None;
        let mut supplemental = Vec::new();
        let mut graph_rounds = Vec::new();
        for (i, source) in self.sources.iter().enumerate() {
            let path = KeyPath::of(&["source"]).index(i);
            let mut snapshot = self
                .read_source(&path, source, &managed, now, &mut graph_rounds)
                .await?;
            // The name, never the file's path, is the source's identity.
            snapshot.source.clone_from(&source.name);
            match source.role {
                Mode::Authoritative => authoritative = Some(snapshot),
                _ => supplemental.push(snapshot),
            }
        }
        let authoritative = authoritative.expect("check() found one authoritative source");
        let mut desired = Desired::new(authoritative);
        for snapshot in supplemental {
            desired = desired.with_supplemental(snapshot);
        }
        if let Some(hr) = &self.hr {
            desired = desired.with_hr(read_hr(hr).map_err(|e| ReadError::Hr(Box::new(e)))?);
        }
        Ok(Directory {
            desired,
            graph_rounds,
        })
    }

    async fn read_source(
        &self,
        path: &KeyPath,
        source: &SourceConfig,
        managed: &[Domain],
        now: DateTime<Utc>,
        graph_rounds: &mut Vec<GraphRound>,
    ) -> Result<DirectorySnapshot, ReadError> {
        let failed = |source_error| ReadError::Source {
            name: source.name.clone(),
            source: Box::new(source_error),
        };
        match &source.settings {
            SourceSettings::Ldap(c) => {
                let ldap = ldap_source(path, &source.name, c)?;
                ldap.read().await.map_err(failed)
            }
            SourceSettings::Graph(c) => {
                let graph = graph_source(path, &source.name, c)?;
                match &c.cursor {
                    None => graph.read().await.map_err(failed),
                    Some(cursor) => {
                        let (snapshot, round) = read_graph_incrementally(&graph, cursor).await?;
                        graph_rounds.push(round);
                        Ok(snapshot)
                    }
                }
            }
            SourceSettings::Csv(c) => {
                let CsvConfig {
                    path,
                    layout,
                    header,
                    encoding,
                    delimiter,
                } = c;
                StandardCsv::new(path)
                    .layout(layout.unwrap_or_default())
                    .header(header.unwrap_or_default())
                    .format(csv_format(*encoding, *delimiter))
                    .read()
                    .map_err(failed)
            }
            SourceSettings::MappedCsv(c) => c.reader().read().map_err(failed),
            SourceSettings::Postini(c) => {
                let csv = c
                    .reader()
                    .map_err(|(key, problem)| self.error(&path.key(&key), problem))?;
                csv.read().map_err(failed)
            }
            SourceSettings::Discovery(c) => {
                let ledger = load_ledger(&c.ledger)?;
                let policy = discovery_policy(c, managed);
                Ok(DiscoverySource::new(ledger, policy, now).snapshot())
            }
        }
    }
}

impl MappedCsvConfig {
    /// The reader these settings describe (what a `kind = "mapped-csv"`
    /// source reads with, and the Python package's `MappedCsv`).
    pub fn reader(&self) -> MappedCsv {
        mapped_csv(self)
    }
}

impl PostiniConfig {
    /// The reader these settings describe (what a `kind = "postini"` source
    /// reads with, and the Python package's `PostiniCsv`): the user export,
    /// joined to the alias export when there is one.
    ///
    /// # Errors
    /// `(key, problem)`: a renamed column that is not a field, or alias
    /// columns without an alias file.
    pub fn reader(&self) -> Result<MappedCsv, (String, String)> {
        let (mapping, aliases) = postini_mapping(self)?;
        let mut csv =
            MappedCsv::new(&self.users, mapping).format(csv_format(self.encoding, self.delimiter));
        if let Some(aliases) = aliases {
            csv = csv.aliases(aliases);
        }
        Ok(csv)
    }
}

fn mapped_csv(c: &MappedCsvConfig) -> MappedCsv {
    let MappedCsvConfig {
        path,
        primary,
        columns,
        optional_columns,
        separators,
        encoding,
        delimiter,
    } = c;
    let mut mapping = muster_directory::CsvMapping::new(primary);
    for (field, headers) in columns {
        for header in headers.names() {
            mapping = mapping.column(*field, header);
        }
    }
    for (field, headers) in optional_columns {
        for header in headers.names() {
            mapping = mapping.optional_column(*field, header);
        }
    }
    for (field, separator) in separators {
        mapping = mapping.separator(*field, *separator);
    }
    MappedCsv::new(path, mapping).format(csv_format(*encoding, *delimiter))
}

/// The HR records `[hr]` names, with its columns and status words.
pub(crate) fn read_hr(c: &HrConfig) -> Result<HrSnapshot, muster_directory::Error> {
    let HrConfig {
        path,
        action: _,
        allow: _,
        email_column,
        status_column,
        statuses,
        encoding,
        delimiter,
    } = c;
    let mut columns = HrColumns::default();
    if let Some(header) = email_column {
        columns = columns.email(header);
    }
    if let Some(header) = status_column {
        columns = columns.status(header);
    }
    for (word, status) in statuses {
        let status = match status {
            StatusWord::Active => HrStatus::Active,
            StatusWord::Terminated => HrStatus::Terminated,
            _ => HrStatus::Leave,
        };
        columns = columns.map_status(word, status);
    }
    HrCsv::new(path)
        .columns(columns)
        .format(csv_format(*encoding, *delimiter))
        .read()
}

/// The LDAP source a `kind = "ldap"` table describes; its bind password
/// from the variable or file it names.
fn ldap_source(path: &KeyPath, name: &str, c: &LdapConfig) -> Result<LdapSource, ReadError> {
    let LdapConfig {
        url,
        base,
        bind_dn,
        password_env,
        password_file,
        filter,
        require,
        group_filter,
        objects,
        starttls,
        allow_plaintext,
        ca_file,
        ca_only,
        page_size,
        timeout_seconds,
        attributes,
    } = c;
    let mut source = LdapSource::new(url, base).named(name);
    if let Some(dn) = bind_dn {
        let password = secret(path, password_env, password_file, LDAP_PASSWORD_ENV)?;
        source = source.bind(dn, password);
    }
    if !attributes.is_empty() {
        let map = ldap_attributes(attributes).map_err(|(key, problem)| {
            super::load::unlocated(path.key("attributes").key(&key), problem)
        })?;
        source = source.attributes(map);
    }
    if let Some(filter) = filter {
        source = source.filter(filter);
    }
    for (attribute, value) in require {
        source = source.require(attribute, value);
    }
    if let Some(filter) = group_filter {
        source = source.group_filter(filter);
    }
    if let Some(objects) = objects {
        source = source.objects(*objects);
    }
    if *starttls == Some(true) {
        source = source.starttls();
    }
    if *allow_plaintext == Some(true) {
        source = source.allow_plaintext();
    }
    if let Some(file) = ca_file {
        let pem = std::fs::read(file).map_err(|e| ConfigError::Read {
            path: file.clone(),
            source: e,
        })?;
        source = source
            .root_certificate_pem(&pem)
            .map_err(|e| ReadError::Certificate {
                path: file.clone(),
                source: Box::new(e),
            })?;
    }
    if *ca_only == Some(true) {
        source = source.without_platform_root_certificates();
    }
    if let Some(size) = page_size {
        source = source.page_size(*size);
    }
    if let Some(seconds) = timeout_seconds {
        source = source.timeout(Duration::from_secs(*seconds));
    }
    Ok(source)
}

/// The Entra ID source a `kind = "graph"` table describes; its client
/// secret from the variable or file it names.
fn graph_source(path: &KeyPath, name: &str, c: &GraphConfig) -> Result<GraphSource, ReadError> {
    let GraphConfig {
        tenant,
        client_id,
        password_env,
        password_file,
        filter,
        require,
        advanced_query,
        groups,
        mail_groups,
        guests,
        read_account_enabled,
        cursor: _,
        cloud,
        scope,
        external_members,
        authority,
        graph_url,
        max_retries,
        max_retry_after_seconds,
        timeout_seconds,
    } = c;
    let secret = secret(path, password_env, password_file, GRAPH_SECRET_ENV)?;
    let mut source = GraphSource::new(tenant, client_id, secret).named(name);
    // The cloud first: an explicit authority or Graph URL overrides its URLs.
    if let Some(cloud) = cloud {
        source = source.cloud(*cloud);
    }
    if let Some(scope) = scope {
        source = source.scope(scope);
    }
    if let Some(policy) = external_members {
        source = source.external_members(*policy);
    }
    if let Some(filter) = filter {
        source = source.filter(filter);
    }
    for (property, value) in require {
        source = source.require(property, value);
    }
    if *advanced_query == Some(true) {
        source = source.advanced_query();
    }
    if !groups.is_empty() {
        source = source.groups(groups);
    }
    if *mail_groups == Some(true) {
        source = source.mail_enabled_groups();
    }
    if let Some(guests) = guests {
        source = source.guests(*guests);
    }
    if *read_account_enabled == Some(true) {
        source = source.read_account_enabled();
    }
    if let Some(url) = authority {
        source = source.authority(url);
    }
    if let Some(url) = graph_url {
        source = source.graph_url(url);
    }
    if let Some(n) = max_retries {
        source = source.max_retries(*n);
    }
    if let Some(seconds) = max_retry_after_seconds {
        source = source.max_retry_after(Duration::from_secs(*seconds));
    }
    if let Some(seconds) = timeout_seconds {
        source = source.timeout(Duration::from_secs(*seconds));
    }
    Ok(source)
}

/// The SMTP-discovery ledger in `path`, or a new one when there is no file yet.
///
/// # Errors
/// A file that is there but cannot be read, or is not a ledger.
pub fn load_ledger(path: &Path) -> Result<DiscoveryLedger, ReadError> {
    match std::fs::read_to_string(path) {
        Ok(text) => DiscoveryLedger::from_json(&text).map_err(|e| ReadError::Source {
            name: path.display().to_string(),
            source: Box::new(e),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DiscoveryLedger::new()),
        Err(source) => Err(ConfigError::Read {
            path: path.to_owned(),
            source,
        }
        .into()),
    }
}

/// The cursor saved in `path`, or none on a first run (no file). A file
/// that is there but cannot be read as a cursor is an error, never a reason
/// to read everything again: the user decides that by deleting it.
fn load_graph_cursor(path: &Path) -> Result<Option<GraphCursor>, ReadError> {
    match std::fs::read_to_string(path) {
        Ok(text) => GraphCursor::from_json(&text)
            .map(Some)
            .map_err(|source| ReadError::Cursor {
                path: path.to_owned(),
                source: Box::new(source),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read {
            path: path.to_owned(),
            source,
        }
        .into()),
    }
}

/// A delta round from the cursor in `path` (a full enumeration without
/// one): the whole directory, and the cursor to keep. A cursor the source
/// refuses (another tenant or selection) is an error naming the file.
async fn read_graph_incrementally(
    source: &GraphSource,
    path: &Path,
) -> Result<(DirectorySnapshot, GraphRound), ReadError> {
    let saved = load_graph_cursor(path)?;
    let read = source
        .read_incremental(saved.as_ref())
        .await
        .map_err(|e| match e {
            muster_directory::Error::GraphCursor { .. } if saved.is_some() => ReadError::Cursor {
                path: path.to_owned(),
                source: Box::new(e),
            },
            e => ReadError::Source {
                name: muster_directory::DirectorySource::name(source).to_owned(),
                source: Box::new(e),
            },
        })?;
    let round = GraphRound {
        path: path.to_owned(),
        cursor: read.cursor,
        round: read.round,
    };
    Ok((read.snapshot, round))
}
