//! Turning command-line settings into the SDK's inputs.

use std::path::{Path, PathBuf};

use muster::chrono::{TimeDelta, Utc};
use muster::core::Domain;
use muster::directory::{
    DeltaRound, DirectorySource, DiscoveryLedger, DiscoveryPolicy, DiscoverySource, GraphCursor,
    GraphSource, HrCsv, LdapObjects, LdapSource, StandardCsv,
};
use muster::gateway::{Client, SecretString};
use muster::reconcile::{DeleteDelay, Desired, Policy, SyncState};

use crate::args::{
    DeleteDelayArg, DiscoveryArgs, GatewayArgs, LdapObjectsArg, PolicyArgs, SourceArgs,
};
use crate::error::CliError;

/// Builds the client for the gateway the flags name. The password comes
/// from `--password-file` or `MUSTER_PASSWORD`, never from a flag.
pub(crate) fn client(args: &GatewayArgs) -> Result<Client, CliError> {
    let password = match &args.password_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| CliError::File {
                action: "cannot read the password file",
                path: path.clone(),
                source,
            })?;
            text.lines().next().unwrap_or_default().to_owned()
        }
        None => std::env::var("MUSTER_PASSWORD").map_err(|_| {
            CliError::Setting("no password: set MUSTER_PASSWORD or pass --password-file".to_owned())
        })?,
    };
    Client::builder()
        .essentials(&args.stack, &args.org)
        .credentials(&args.login, SecretString::from(password))
        .build()
        .map_err(CliError::Gateway)
}

/// The managed domains: the flags', or the organisation's own domain.
pub(crate) fn managed_domains(flags: &[String], org: &str) -> Result<Vec<Domain>, CliError> {
    let names: Vec<&str> = if flags.is_empty() {
        vec![org]
    } else {
        flags.iter().map(String::as_str).collect()
    };
    names
        .into_iter()
        .map(|d| {
            d.parse().map_err(|source| CliError::Address {
                flag: "--managed-domain",
                source,
            })
        })
        .collect()
}

/// The policy: the managed domains and the few knobs the flags expose;
/// everything else keeps the safe defaults.
pub(crate) fn policy(args: &PolicyArgs, managed_domains: &[Domain]) -> Policy {
    let mut builder = Policy::builder()
        .sync_disabled_users(args.sync_disabled_users)
        .override_threshold(args.override_threshold);
    for domain in managed_domains {
        builder = builder.managed_domain(domain.clone());
    }
    if let Some(delay) = args.delete_delay {
        builder = builder.delete_delay(match delay {
            DeleteDelayArg::Days7 => DeleteDelay::Days7,
            DeleteDelayArg::Days14 => DeleteDelay::Days14,
            DeleteDelayArg::Days30 => DeleteDelay::Days30,
            DeleteDelayArg::Never => DeleteDelay::Never,
        });
    }
    builder.build()
}

/// The SMTP-discovery policy: muster's defaults, overridden by the flags.
pub(crate) fn discovery_policy(
    args: &DiscoveryArgs,
    managed_domains: &[Domain],
) -> DiscoveryPolicy {
    let mut policy = DiscoveryPolicy::new(managed_domains.iter().cloned());
    if let Some(n) = args.discovery_min_messages {
        policy = policy.min_messages(n);
    }
    if let Some(days) = args.discovery_window_days {
        policy = policy.window(TimeDelta::days(i64::from(days)));
    }
    if let Some(days) = args.discovery_expiry_days {
        policy = policy.expiry(TimeDelta::days(i64::from(days)));
    }
    policy
}

/// The SMTP-discovery ledger in `path`, or a new one when there is no file yet.
pub(crate) fn load_ledger(path: &Path) -> Result<DiscoveryLedger, CliError> {
    match std::fs::read_to_string(path) {
        Ok(text) => DiscoveryLedger::from_json(&text).map_err(CliError::Directory),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DiscoveryLedger::new()),
        Err(source) => Err(CliError::File {
            action: "cannot read the discovery ledger",
            path: path.to_owned(),
            source,
        }),
    }
}

/// What the directory side of a run read: the sources for the planner, and
/// the Graph cursor an incremental read left for the next run (not saved yet).
pub(crate) struct Directory {
    pub(crate) desired: Desired,
    pub(crate) graph_round: Option<GraphRound>,
}

/// One incremental Entra ID read (`--graph-cursor`): where its cursor lives,
/// the cursor to keep, and what kind of round it was.
pub(crate) struct GraphRound {
    pub(crate) path: PathBuf,
    pub(crate) cursor: GraphCursor,
    pub(crate) round: DeltaRound,
}

/// Reads every source the flags name: the LDAP directory (else Graph, else
/// the first CSV) is authoritative, the others supplemental, HR records on
/// the side. A source that cannot be read completely stops the run: it must
/// never look like an empty directory.
pub(crate) async fn desired(
    args: &SourceArgs,
    managed_domains: &[Domain],
) -> Result<Directory, CliError> {
    let mut snapshots = Vec::new();
    let mut graph_round = None;
    if let Some(source) = ldap_source(args)? {
        snapshots.push(source.read().await.map_err(CliError::Directory)?);
    }
    if let Some(source) = graph_source(args)? {
        match &args.graph_cursor {
            None => snapshots.push(source.fetch().await.map_err(CliError::Directory)?),
            Some(path) => {
                let (snapshot, round) = read_graph_incrementally(&source, path).await?;
                snapshots.push(snapshot);
                graph_round = Some(round);
            }
        }
    }
    for path in &args.csv {
        let snapshot = StandardCsv::new(path).read().map_err(CliError::Directory)?;
        snapshots.push(snapshot);
    }
    if let Some(path) = &args.discovery_ledger {
        let ledger = load_ledger(path)?;
        let policy = discovery_policy(&args.discovery, managed_domains);
        let discovered = DiscoverySource::new(ledger, policy, Utc::now()).snapshot();
        snapshots.push(discovered);
    }
    let mut snapshots = snapshots.into_iter();
    let Some(first) = snapshots.next() else {
        return Err(CliError::Setting(
            "no directory source: pass --ldap, --graph-tenant or --csv".to_owned(),
        ));
    };
    let mut desired = Desired::new(first);
    for snapshot in snapshots {
        desired = desired.with_supplemental(snapshot);
    }
    if let Some(path) = &args.hr {
        let hr = HrCsv::new(path).read().map_err(CliError::Directory)?;
        desired = desired.with_hr(hr);
    }
    Ok(Directory {
        desired,
        graph_round,
    })
}

/// The cursor saved in `path`, or none on a first run (no file). A file
/// that is there but cannot be read as a cursor is an error, never a reason
/// to read everything again: the user decides that by deleting it.
fn load_graph_cursor(path: &Path) -> Result<Option<GraphCursor>, CliError> {
    match std::fs::read_to_string(path) {
        Ok(text) => GraphCursor::from_json(&text)
            .map(Some)
            .map_err(|source| CliError::Cursor {
                path: path.to_owned(),
                source: Box::new(source),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CliError::File {
            action: "cannot read the Graph cursor",
            path: path.to_owned(),
            source,
        }),
    }
}

/// A delta round from the cursor in `path` (a full enumeration without
/// one): the whole directory, and the cursor to keep. A cursor the source
/// refuses (another tenant or selection) is an error naming the file.
async fn read_graph_incrementally(
    source: &GraphSource,
    path: &Path,
) -> Result<(muster::core::DirectorySnapshot, GraphRound), CliError> {
    let saved = load_graph_cursor(path)?;
    let read = source
        .read_incremental(saved.as_ref())
        .await
        .map_err(|e| match e {
            muster::directory::Error::GraphCursor { .. } if saved.is_some() => CliError::Cursor {
                path: path.to_owned(),
                source: Box::new(e),
            },
            e => CliError::Directory(e),
        })?;
    let round = GraphRound {
        path: path.to_owned(),
        cursor: read.cursor,
        round: read.round,
    };
    Ok((read.snapshot, round))
}

/// The Entra ID source the flags describe, if any; the client secret comes
/// from `MUSTER_GRAPH_SECRET`.
fn graph_source(args: &SourceArgs) -> Result<Option<GraphSource>, CliError> {
    let (Some(tenant), Some(client_id)) = (&args.graph_tenant, &args.graph_client_id) else {
        return Ok(None);
    };
    let secret = std::env::var("MUSTER_GRAPH_SECRET").map_err(|_| {
        CliError::Setting(
            "--graph-tenant needs the client secret in MUSTER_GRAPH_SECRET".to_owned(),
        )
    })?;
    let mut source = GraphSource::new(tenant, client_id, SecretString::from(secret));
    if let Some(filter) = &args.graph_filter {
        source = source.filter(filter);
    }
    if args.graph_read_account_enabled {
        source = source.read_account_enabled();
    }
    if args.graph_mail_groups {
        source = source.mail_enabled_groups();
    }
    if let Some(url) = &args.graph_authority {
        source = source.authority(url);
    }
    if let Some(url) = &args.graph_url {
        source = source.graph_url(url);
    }
    Ok(Some(source))
}

/// The LDAP source the flags describe, if any; its bind password comes from
/// `MUSTER_LDAP_PASSWORD`.
fn ldap_source(args: &SourceArgs) -> Result<Option<LdapSource>, CliError> {
    let (Some(url), Some(base)) = (&args.ldap, &args.ldap_base) else {
        return Ok(None);
    };
    let mut source = LdapSource::new(url, base);
    if let Some(dn) = &args.ldap_bind_dn {
        let password = std::env::var("MUSTER_LDAP_PASSWORD").map_err(|_| {
            CliError::Setting(
                "--ldap-bind-dn needs the password in MUSTER_LDAP_PASSWORD".to_owned(),
            )
        })?;
        source = source.bind(dn, SecretString::from(password));
    }
    if let Some(filter) = &args.ldap_filter {
        source = source.filter(filter);
    }
    if args.ldap_starttls {
        source = source.starttls();
    }
    if let Some(path) = &args.ldap_ca_file {
        let pem = std::fs::read(path).map_err(|source| CliError::File {
            action: "cannot read the LDAP CA certificate file",
            path: path.clone(),
            source,
        })?;
        source = source
            .root_certificate_pem(&pem)
            .map_err(|source| CliError::Certificate {
                path: path.clone(),
                source: Box::new(source),
            })?;
    }
    if args.ldap_ca_only {
        source = source.without_platform_root_certificates();
    }
    if let Some(objects) = args.ldap_objects {
        source = source.objects(match objects {
            LdapObjectsArg::Users => LdapObjects::Users,
            LdapObjectsArg::Groups => LdapObjects::Groups,
            LdapObjectsArg::Both => LdapObjects::Both,
        });
    }
    Ok(Some(source))
}

/// muster's state for this stack and organisation: the file's, or a first
/// run's when there is no file yet. A state file of another installation is
/// refused by the planner's own check.
pub(crate) fn state(path: Option<&Path>, stack: &str, org: &str) -> Result<SyncState, CliError> {
    let Some(path) = path else {
        return Ok(SyncState::new(stack, org));
    };
    match std::fs::read_to_string(path) {
        Ok(text) => SyncState::from_json(&text, stack, org).map_err(CliError::Plan),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SyncState::new(stack, org)),
        Err(source) => Err(CliError::File {
            action: "cannot read the state file",
            path: path.to_owned(),
            source,
        }),
    }
}
