//! The planner's inputs besides policy and state: what the directories say
//! ([`Desired`]), what the gateway holds ([`GatewayListing`]) and what the
//! gateway is ([`TargetProfile`]).

use std::collections::BTreeSet;

use muster_core::{Account, DirectorySnapshot, Domain, EmailAddress, FieldSet, HrSnapshot};
use serde::{Deserialize, Serialize};

/// What the directories say, in precedence order.
///
/// There is exactly one authoritative snapshot (the type makes "two
/// authoritative directories" unrepresentable); supplemental snapshots (CSV,
/// SMTP discovery) only add entries the authoritative one does not have and
/// never cause deletions. An HR snapshot feeds the HR rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Desired {
    /// The authoritative directory.
    pub authoritative: DirectorySnapshot,
    /// Supplemental sources, highest precedence first.
    pub supplemental: Vec<DirectorySnapshot>,
    /// HR records for the HR rule.
    pub hr: Option<HrSnapshot>,
}

impl Desired {
    /// Desired state from one authoritative snapshot.
    #[must_use]
    pub fn new(authoritative: DirectorySnapshot) -> Self {
        Desired {
            authoritative,
            supplemental: Vec::new(),
            hr: None,
        }
    }

    /// Adds a supplemental snapshot with lower precedence than those already added.
    #[must_use]
    pub fn with_supplemental(mut self, snapshot: DirectorySnapshot) -> Self {
        self.supplemental.push(snapshot);
        self
    }

    /// Adds the HR snapshot.
    #[must_use]
    pub fn with_hr(mut self, hr: HrSnapshot) -> Self {
        self.hr = Some(hr);
        self
    }
}

/// The gateway's accounts, and whether the listing is the whole organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GatewayListing {
    /// The accounts.
    pub accounts: Vec<Account>,
    /// False when the listing may be missing accounts (a page failed, a limit hit).
    pub complete: bool,
}

impl GatewayListing {
    /// A complete listing.
    #[must_use]
    pub fn complete(accounts: Vec<Account>) -> Self {
        GatewayListing {
            accounts,
            complete: true,
        }
    }

    /// A listing that may be missing accounts: nothing destructive is planned from it.
    #[must_use]
    pub fn partial(accounts: Vec<Account>) -> Self {
        GatewayListing {
            accounts,
            complete: false,
        }
    }
}

/// What the gateway dialect can do.
///
/// The default claims no groups and no bulk create, but every field: a pure
/// library caller that does not describe its gateway gets the planner's
/// full comparison. Code that talks to a real gateway sets [`fields`]
/// (`with_fields`) from the client's dialect, so the planner never proposes
/// a change the gateway would silently drop (and then propose again on
/// every run).
///
/// [`fields`]: Capabilities::fields
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// Group membership can be read and written.
    pub groups: bool,
    /// Several users can be created in one request.
    pub bulk_create: bool,
    /// The account fields the gateway stores and can write. The planner
    /// compares only fields that are provided, owned *and* held here.
    /// (A profile saved before this field existed reads back as "all".)
    #[serde(default = "FieldSet::all")]
    pub fields: FieldSet,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            groups: false,
            bulk_create: false,
            fields: FieldSet::all(),
        }
    }
}

impl Capabilities {
    /// Sets group support.
    #[must_use]
    pub fn with_groups(mut self, groups: bool) -> Self {
        self.groups = groups;
        self
    }

    /// Sets bulk-create support.
    #[must_use]
    pub fn with_bulk_create(mut self, bulk: bool) -> Self {
        self.bulk_create = bulk;
        self
    }

    /// Sets the fields the gateway holds (default: all).
    #[must_use]
    pub fn with_fields(mut self, fields: FieldSet) -> Self {
        self.fields = fields;
        self
    }
}

/// The gateway organisation a plan is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TargetProfile {
    /// The stack (`us1`, `eu1`…).
    pub stack: String,
    /// The organisation's primary domain.
    pub org: String,
    /// What the dialect can do.
    pub capabilities: Capabilities,
    /// Domains registered on the gateway for this organisation.
    pub registered_domains: BTreeSet<Domain>,
    /// Licences bought, when known.
    pub licence_count: Option<u64>,
    /// The account muster logs in as; never changed.
    pub login: Option<EmailAddress>,
    /// The organisation's own welcome-letter setting (`send_welcome_email`
    /// on the organisation), when known. A create sends a letter only when
    /// this is not `false`: the gateway sends none otherwise (api-facts
    /// §1.4), so a plan must not promise one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub welcome_letters: Option<bool>,
}

impl TargetProfile {
    /// A profile for `org` on `stack`, with no capabilities and no registered domains.
    #[must_use]
    pub fn new(stack: impl Into<String>, org: impl Into<String>) -> Self {
        TargetProfile {
            stack: stack.into(),
            org: org.into(),
            capabilities: Capabilities::default(),
            registered_domains: BTreeSet::new(),
            licence_count: None,
            login: None,
            welcome_letters: None,
        }
    }

    /// Sets the capabilities.
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Adds a registered domain.
    #[must_use]
    pub fn with_domain(mut self, domain: Domain) -> Self {
        self.registered_domains.insert(domain);
        self
    }

    /// Sets the licence count.
    #[must_use]
    pub fn with_licences(mut self, count: u64) -> Self {
        self.licence_count = Some(count);
        self
    }

    /// Sets the organisation's own welcome-letter setting.
    #[must_use]
    pub fn with_welcome_letters(mut self, send: bool) -> Self {
        self.welcome_letters = Some(send);
        self
    }

    /// Sets the login muster uses.
    #[must_use]
    pub fn with_login(mut self, login: EmailAddress) -> Self {
        self.login = Some(login);
        self
    }
}
