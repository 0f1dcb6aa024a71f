//! The SMTP-discovery ledger: what was seen of each address across runs, and
//! what an administrator decided about it. The caller owns and persists it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use muster_core::{EmailAddress, Location, SourceIssue};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::observation::{Direction, Observation};
use super::policy::DiscoveryPolicy;
use crate::error::Error;

/// The ledger format this muster writes and reads.
pub const LEDGER_VERSION: u32 = 1;

/// Messages per direction (on one day, or in total).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Tally {
    /// Inbound messages.
    pub inbound: u64,
    /// Outbound messages.
    pub outbound: u64,
}

impl Tally {
    fn add(&mut self, direction: Direction, messages: u64) {
        let slot = match direction {
            Direction::Inbound => &mut self.inbound,
            Direction::Outbound => &mut self.outbound,
        };
        *slot = slot.saturating_add(messages);
    }
}

/// A display name and when it was last seen (the latest one wins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SeenName {
    /// The name as the headers had it.
    pub name: String,
    /// The last-seen time of the observation that carried it.
    pub seen: DateTime<Utc>,
}

/// Everything seen of one address (compared ignoring case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LedgerEntry {
    /// The address, spelled as in its latest observation.
    pub address: EmailAddress,
    /// The earliest message seen.
    pub first_seen: DateTime<Utc>,
    /// The latest message seen.
    pub last_seen: DateTime<Utc>,
    /// All messages seen, per direction, since the address was first seen.
    pub total: Tally,
    /// Messages per (UTC) day of each observation's last message, for the
    /// threshold window; days older than the expiry are dropped.
    pub days: BTreeMap<NaiveDate, Tally>,
    /// The latest display name seen, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<SeenName>,
}

impl LedgerEntry {
    fn new(o: &Observation) -> Self {
        LedgerEntry {
            address: o.address.clone(),
            first_seen: o.first_seen,
            last_seen: o.last_seen,
            total: Tally::default(),
            days: BTreeMap::new(),
            display_name: None,
        }
    }

    /// Adds `o`. Every choice is a sum, a minimum or a maximum over a total
    /// order (ties broken by spelling), so the result does not depend on the
    /// order observations arrive in, nor on how they are split into runs.
    fn merge(&mut self, o: &Observation) {
        if (o.last_seen, std::cmp::Reverse(o.address.as_str()))
            > (self.last_seen, std::cmp::Reverse(self.address.as_str()))
        {
            self.address = o.address.clone();
        }
        self.first_seen = self.first_seen.min(o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        self.total.add(o.direction, o.messages);
        self.days
            .entry(o.last_seen.date_naive())
            .or_default()
            .add(o.direction, o.messages);
        if let Some(name) = &o.display_name {
            let newer = self.display_name.as_ref().is_none_or(|held| {
                (o.last_seen, std::cmp::Reverse(name.as_str()))
                    > (held.seen, std::cmp::Reverse(held.name.as_str()))
            });
            if newer {
                self.display_name = Some(SeenName {
                    name: name.clone(),
                    seen: o.last_seen,
                });
            }
        }
    }
}

/// What an administrator decided about a discovered address (the gateway's
/// actions on its SMTP Discovery report, plus "ignore").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Decision {
    /// Create a user for it now, whatever the counts say.
    User,
    /// Add it as an alias of an existing user.
    AliasOf {
        /// The user it belongs to.
        user: EmailAddress,
    },
    /// Create a functional account for it (a shared mailbox, a service).
    FunctionalAccount,
    /// It is not a real recipient: never a candidate again.
    Invalid,
    /// Not wanted on the gateway: never a candidate again.
    Ignore,
}

/// A decision, with when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DecisionRecord {
    /// The address decided about, as spelled then.
    pub address: EmailAddress,
    /// The decision.
    #[serde(flatten)]
    pub decision: Decision,
    /// When (the `now` of the call that recorded it).
    pub decided_at: DateTime<Utc>,
}

/// The format version; only [`LEDGER_VERSION`] is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version;

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(LEDGER_VERSION)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let found = u64::deserialize(deserializer)?;
        if found == u64::from(LEDGER_VERSION) {
            Ok(Version)
        } else {
            Err(serde::de::Error::custom(format!(
                "SMTP discovery ledger version {found}; this muster reads version {LEDGER_VERSION}"
            )))
        }
    }
}

/// Something kept per address, serialised as a list sorted by address.
trait Keyed {
    fn key(&self) -> &EmailAddress;
}

impl Keyed for LedgerEntry {
    fn key(&self) -> &EmailAddress {
        &self.address
    }
}

impl Keyed for DecisionRecord {
    fn key(&self) -> &EmailAddress {
        &self.address
    }
}

/// A map by address written as the list of its values: the address is in
/// each value already, and a list keeps the spelling.
mod by_address {
    use super::{BTreeMap, Deserialize, Deserializer, EmailAddress, Keyed, Serializer};

    pub(super) fn serialize<S: Serializer, T: Keyed + serde::Serialize>(
        map: &BTreeMap<EmailAddress, T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.values())
    }

    pub(super) fn deserialize<'de, D, T>(
        deserializer: D,
    ) -> Result<BTreeMap<EmailAddress, T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Keyed + Deserialize<'de>,
    {
        let mut map = BTreeMap::new();
        for value in Vec::<T>::deserialize(deserializer)? {
            let key = value.key().clone();
            if map.insert(key.clone(), value).is_some() {
                return Err(serde::de::Error::custom(format!(
                    "{key} is listed twice (addresses compare ignoring case)"
                )));
            }
        }
        Ok(map)
    }
}

/// Observations accumulated per address across runs, and the decisions made
/// about addresses. One of muster's three state stores; its owner is the
/// caller, who keeps it between runs ([`DiscoveryLedger::to_json`] /
/// [`DiscoveryLedger::from_json`]).
///
/// Everything here is pure: times come in as arguments.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use muster_directory::{Direction, DiscoveryLedger, Observation};
/// let now = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
/// let seen = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
/// let mut ledger = DiscoveryLedger::new();
/// let issues = ledger.observe(&[
///     Observation::new("Ann@Example.com".parse()?, Direction::Inbound, 2, seen),
///     Observation::new("ann@example.com".parse()?, Direction::Inbound, 3, seen),
/// ], now);
/// assert!(issues.is_empty());
/// assert_eq!(ledger.entry(&"ANN@example.com".parse()?).unwrap().total.inbound, 5);
/// let saved = ledger.to_json()?;
/// assert_eq!(DiscoveryLedger::from_json(&saved)?, ledger);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiscoveryLedger {
    version: Version,
    #[serde(with = "by_address")]
    addresses: BTreeMap<EmailAddress, LedgerEntry>,
    #[serde(with = "by_address")]
    decisions: BTreeMap<EmailAddress, DecisionRecord>,
}

impl Default for DiscoveryLedger {
    fn default() -> Self {
        Self::new()
    }
}

impl DiscoveryLedger {
    /// An empty ledger.
    #[must_use]
    pub fn new() -> Self {
        DiscoveryLedger {
            version: Version,
            addresses: BTreeMap::new(),
            decisions: BTreeMap::new(),
        }
    }

    /// Adds one run's observations; returns those that could not be used:
    /// a last message after `now` (a clock or log that runs ahead would
    /// otherwise keep an address alive), a first message after the last,
    /// or no messages. Order does not matter, within a call or across calls.
    pub fn observe(
        &mut self,
        observations: &[Observation],
        now: DateTime<Utc>,
    ) -> Vec<SourceIssue> {
        let mut issues = Vec::new();
        for (index, o) in observations.iter().enumerate() {
            let problem = if o.last_seen > now {
                Some((
                    "last_seen",
                    o.last_seen,
                    "a last-seen time no later than the run's time",
                ))
            } else if o.first_seen > o.last_seen {
                Some((
                    "first_seen",
                    o.first_seen,
                    "a first-seen time no later than the last-seen time",
                ))
            } else if o.messages == 0 {
                Some(("messages", o.last_seen, "at least one message"))
            } else {
                None
            };
            if let Some((field, value, expected)) = problem {
                let location = o
                    .location
                    .clone()
                    .unwrap_or_else(|| Location::record(index));
                let value = if field == "messages" {
                    "0".to_owned()
                } else {
                    value.to_rfc3339()
                };
                issues.push(
                    SourceIssue::new(location, expected)
                        .with_field(field)
                        .with_value(&value),
                );
                continue;
            }
            match self.addresses.get_mut(&o.address) {
                Some(entry) => entry.merge(o),
                None => {
                    let mut entry = LedgerEntry::new(o);
                    entry.merge(o);
                    self.addresses.insert(o.address.clone(), entry);
                }
            }
        }
        issues
    }

    /// Forgets addresses not seen since `now` less the policy's expiry, and
    /// day counts older than that; returns the addresses forgotten.
    /// Decisions are kept: an ignored address stays ignored when it comes back.
    pub fn expire(&mut self, policy: &DiscoveryPolicy, now: DateTime<Utc>) -> Vec<EmailAddress> {
        let cutoff = policy.expired_before(now);
        let mut forgotten = Vec::new();
        self.addresses.retain(|_, entry| {
            if entry.last_seen < cutoff {
                forgotten.push(entry.address.clone());
                return false;
            }
            entry.days.retain(|day, _| *day >= cutoff.date_naive());
            true
        });
        forgotten
    }

    /// Records a decision about `address` (replacing an earlier one) at `now`.
    pub fn decide(&mut self, address: EmailAddress, decision: Decision, now: DateTime<Utc>) {
        self.decisions.insert(
            address.clone(),
            DecisionRecord {
                address,
                decision,
                decided_at: now,
            },
        );
    }

    /// Withdraws the decision about `address`, returning it.
    pub fn undecide(&mut self, address: &EmailAddress) -> Option<DecisionRecord> {
        self.decisions.remove(address)
    }

    /// What was seen of `address`.
    #[must_use]
    pub fn entry(&self, address: &EmailAddress) -> Option<&LedgerEntry> {
        self.addresses.get(address)
    }

    /// Every address seen, ordered by address.
    pub fn entries(&self) -> impl Iterator<Item = &LedgerEntry> {
        self.addresses.values()
    }

    /// The decision about `address`, if one.
    #[must_use]
    pub fn decision(&self, address: &EmailAddress) -> Option<&DecisionRecord> {
        self.decisions.get(address)
    }

    /// Every decision, ordered by address.
    pub fn decisions(&self) -> impl Iterator<Item = &DecisionRecord> {
        self.decisions.values()
    }

    /// How many addresses are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.addresses.len()
    }

    /// True when no address is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }

    /// The ledger as versioned JSON, to keep until the next run.
    ///
    /// # Errors
    /// [`Error::DiscoveryLedger`] if serialisation fails (it does not for a ledger built here).
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(self).map_err(Error::DiscoveryLedger)
    }

    /// Reads a ledger saved by [`DiscoveryLedger::to_json`].
    ///
    /// # Errors
    /// [`Error::DiscoveryLedger`] when `json` is not a ledger, lists an
    /// address twice, or has a version other than [`LEDGER_VERSION`].
    pub fn from_json(json: &str) -> Result<Self, Error> {
        serde_json::from_str(json).map_err(Error::DiscoveryLedger)
    }
}
