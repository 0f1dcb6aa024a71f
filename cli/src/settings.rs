//! Turning the command line into a [`Config`]: the config file's settings,
//! each overridden by its flag. Everything after that (the client, the
//! policy, the sources) is the SDK's, so a run from flags and a run from a
//! file are the same run.

use std::path::{Path, PathBuf};

use muster::config::{
    Config, DiscoveryConfig, GraphConfig, HrConfig, LdapConfig, SourceConfig, SourceSettings,
    ThresholdConfig,
};
use muster::directory::LdapObjects;
use muster::reconcile::{Mode, Policy, SyncState};

use crate::args::{DiscoveryArgs, GatewayArgs, LdapObjectsArg, PolicyArgs, SourceArgs};
use crate::error::CliError;

/// The config file named by `--config` (or an empty one), with the
/// gateway flags over it.
pub(crate) fn config(args: &GatewayArgs) -> Result<Config, CliError> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path).map_err(CliError::Config)?,
        None => Config::default(),
    };
    let g = &mut config.gateway;
    overlay(&mut g.stack, &args.stack);
    overlay(&mut g.org, &args.org);
    overlay(&mut g.login, &args.login);
    if let Some(file) = &args.password_file {
        g.password_file = Some(file.clone());
        g.password_env = None;
    }
    overlay(&mut g.requests_per_minute, &args.requests_per_minute);
    Ok(config)
}

fn overlay<T: Clone>(setting: &mut Option<T>, flag: &Option<T>) {
    if let Some(value) = flag {
        *setting = Some(value.clone());
    }
}

/// The sources the flags name replace the file's (a one-off run against
/// another directory); flags that only tune the file's sources (the
/// discovery policy) apply to them.
///
/// The first source (LDAP, else Graph, else the first CSV) is
/// authoritative, the others supplemental. Each keeps the name muster has
/// always given it (`ldap:<base>`, `graph:<tenant>`, the CSV's path as
/// given, `smtp-discovery`), since the state records ownership by it.
pub(crate) fn sources(config: &mut Config, args: &SourceArgs) {
    let mut flagged = Vec::new();
    if let (Some(url), Some(base)) = (&args.ldap, &args.ldap_base) {
        let mut ldap = LdapConfig::default();
        ldap.url.clone_from(url);
        ldap.base.clone_from(base);
        ldap.bind_dn.clone_from(&args.ldap_bind_dn);
        ldap.filter.clone_from(&args.ldap_filter);
        ldap.starttls = args.ldap_starttls.then_some(true);
        ldap.ca_file.clone_from(&args.ldap_ca_file);
        ldap.ca_only = args.ldap_ca_only.then_some(true);
        ldap.objects = args.ldap_objects.map(|o| match o {
            LdapObjectsArg::Users => LdapObjects::Users,
            LdapObjectsArg::Groups => LdapObjects::Groups,
            LdapObjectsArg::Both => LdapObjects::Both,
        });
        flagged.push((format!("ldap:{base}"), SourceSettings::Ldap(ldap)));
    }
    if let (Some(tenant), Some(client_id)) = (&args.graph_tenant, &args.graph_client_id) {
        let mut graph = GraphConfig::default();
        graph.tenant = tenant.trim().to_owned();
        graph.client_id = client_id.trim().to_owned();
        graph.filter.clone_from(&args.graph_filter);
        graph.read_account_enabled = args.graph_read_account_enabled.then_some(true);
        graph.mail_groups = args.graph_mail_groups.then_some(true);
        graph.cursor.clone_from(&args.graph_cursor);
        graph.authority.clone_from(&args.graph_authority);
        graph.graph_url.clone_from(&args.graph_url);
        flagged.push((
            format!("graph:{}", graph.tenant),
            SourceSettings::Graph(graph),
        ));
    }
    for path in &args.csv {
        let mut csv = muster::config::CsvConfig::default();
        csv.path.clone_from(path);
        flagged.push((path.display().to_string(), SourceSettings::Csv(csv)));
    }
    if let Some(ledger) = &args.discovery_ledger {
        let mut discovery = DiscoveryConfig::default();
        discovery.ledger.clone_from(ledger);
        flagged.push((
            "smtp-discovery".to_owned(),
            SourceSettings::Discovery(discovery),
        ));
    }
    if !flagged.is_empty() {
        config.sources = flagged
            .into_iter()
            .enumerate()
            .map(|(i, (name, settings))| {
                let role = if i == 0 {
                    Mode::Authoritative
                } else {
                    Mode::Supplemental
                };
                SourceConfig::new(name, role, settings)
            })
            .collect();
    }
    for source in &mut config.sources {
        if let SourceSettings::Discovery(d) = &mut source.settings {
            discovery(d, &args.discovery);
        }
    }
    if let (Some(path), Some(action)) = (&args.hr, args.hr_action) {
        let mut hr = HrConfig::new(path, action);
        hr.allow.clone_from(&args.hr_allow);
        config.hr = Some(hr);
    }
}

/// The discovery flags over a `discovery` source's settings.
pub(crate) fn discovery(d: &mut DiscoveryConfig, args: &DiscoveryArgs) {
    overlay(&mut d.min_messages, &args.discovery_min_messages);
    overlay(&mut d.window_days, &args.discovery_window_days);
    overlay(&mut d.expiry_days, &args.discovery_expiry_days);
}

/// The policy flags over the config's `[policy]`.
pub(crate) fn policy_flags(config: &mut Config, args: &PolicyArgs) {
    let p = &mut config.policy;
    if !args.managed_domains.is_empty() {
        p.managed_domains = Some(args.managed_domains.clone());
    }
    overlay(&mut p.delete_delay, &args.delete_delay);
    overlay(&mut p.min_absent_runs, &args.min_absent_runs);
    overlay(&mut p.on_flag, &args.on_flag);
    overlay(&mut p.new_user_role, &args.new_user_role);
    overlay(&mut p.unknown_origin, &args.unknown_origin);
    if !args.exception.is_empty() {
        p.exceptions
            .get_or_insert_with(Vec::new)
            .extend(args.exception.iter().cloned());
    }
    if args.threshold_count.is_some() || args.threshold_percent.is_some() {
        let defaults = Policy::default().threshold();
        let old = p.threshold;
        p.threshold = Some(ThresholdConfig::new(
            args.threshold_count
                .or(old.map(|t| t.count))
                .unwrap_or(defaults.max_count),
            args.threshold_percent
                .or(old.map(|t| t.percent))
                .unwrap_or(defaults.max_percent),
        ));
    }
    if args.sync_disabled_users {
        p.sync_disabled_users = Some(true);
    }
}

/// The state file: the flag's, else the config's `files.state`.
pub(crate) fn state_path(flag: Option<&Path>, config: &Config) -> Option<PathBuf> {
    flag.map(Path::to_owned)
        .or_else(|| config.files.state.clone())
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
