//! SMTP discovery: addresses seen in mail flow become candidate users or aliases.
//!
//! Proofpoint Essentials discovers recipients itself (a recipient
//! verification on each inbound message, several runs a day) but only while
//! no directory sync is on. This module does the same from the caller's
//! mail logs, so discovery and a directory can work together:
//!
//! 1. read [`Observations`] ([`ObservationCsv`], [`observations_from_rows`]);
//! 2. merge them into the caller's [`DiscoveryLedger`] with
//!    [`DiscoveryLedger::observe`] and forget stale addresses with
//!    [`DiscoveryLedger::expire`];
//! 3. let a [`DiscoverySource`] turn ledger and [`DiscoveryPolicy`] into a
//!    snapshot of candidates, and save the ledger for the next run.
//!
//! The snapshot is **supplemental** and must reach the planner as one
//! (`Desired::with_supplemental`): absence from mail flow means nothing, so
//! discovery may add users and aliases but is never a reason to delete,
//! deactivate or strip anything. As a second guard the snapshot is marked
//! [`Completeness::Partial`], which keeps every destructive change away even
//! if it were wrongly passed as authoritative.

mod ledger;
mod observation;
mod policy;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use muster_core::{
    Completeness, DirectoryEntry, DirectorySnapshot, EmailAddress, Field, FieldSet, Location,
    RecipientKind, SourceIssue, non_blank,
};
use serde::{Deserialize, Serialize};

pub use ledger::{
    Decision, DecisionRecord, DiscoveryLedger, LEDGER_VERSION, LedgerEntry, SeenName, Tally,
};
pub use observation::{
    Direction, Observation, ObservationColumns, ObservationCsv, Observations,
    observations_from_rows,
};
pub use policy::{CandidateUse, DEFAULT_BLOCKED, DiscoveryPolicy};

use crate::collect::Collector;
use crate::error::Error;
use crate::source::DirectorySource;

/// Why the snapshot is partial.
const PARTIAL: &str =
    "SMTP discovery lists only addresses seen in mail flow; it adds, it never removes";

/// What a candidate becomes on the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "becomes", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Becomes {
    /// A user.
    User,
    /// An alias of an existing user.
    AliasOf {
        /// The user.
        user: EmailAddress,
    },
    /// A functional account.
    FunctionalAccount,
}

/// Why an address is a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// Enough counted messages within the window.
    Threshold,
    /// An administrator decided (counts do not matter).
    Decision {
        /// When.
        decided_at: DateTime<Utc>,
    },
}

/// An address the policy (or an administrator) wants on the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Candidate {
    /// The address.
    pub address: EmailAddress,
    /// What it becomes.
    pub becomes: Becomes,
    /// Why.
    pub reason: Reason,
    /// Messages counted by the policy (counted directions, within the window).
    pub counted: u64,
    /// What the ledger holds about it; `None` for a decision about an address not (or no longer) seen.
    pub seen: Option<LedgerEntry>,
}

/// Turns a [`DiscoveryLedger`] and a [`DiscoveryPolicy`] into a
/// **supplemental** directory snapshot of candidates, as of `now`.
///
/// - Addresses outside the managed domains, blocked by the policy, not seen
///   within the expiry, ignored or marked invalid are never entries.
/// - Users, aliases and functional accounts an administrator decided are
///   always entries (their domains must be managed; else an issue).
/// - Addresses over the threshold are user entries unless the policy is
///   [`CandidateUse::ReportOnly`]; [`DiscoverySource::candidates`] lists them either way.
/// - Entries are located by object id (the lowercase address). Names come
///   from observed display names, and `provided` names a field only when
///   every entry has it: an entry without a name must not clear the name of
///   an account that already has one. `aliases` is provided when an alias
///   was decided (supplemental sources never remove aliases).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use muster_core::{Completeness, Field};
/// use muster_directory::{Direction, DiscoveryLedger, DiscoveryPolicy, DiscoverySource, Observation};
/// let now = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
/// let seen = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
/// let mut ledger = DiscoveryLedger::new();
/// let _ = ledger.observe(&[
///     Observation::new("ann@example.com".parse()?, Direction::Inbound, 5, seen).with_display_name("Ann Lee"),
///     Observation::new("noreply@example.com".parse()?, Direction::Inbound, 50, seen),
///     Observation::new("ann@elsewhere.org".parse()?, Direction::Inbound, 50, seen),
/// ], now);
/// let policy = DiscoveryPolicy::new(["example.com".parse()?]);
/// let snapshot = DiscoverySource::new(ledger, policy, now).snapshot();
/// assert_eq!(snapshot.entries.len(), 1);
/// assert_eq!(snapshot.entries[0].last_name.as_deref(), Some("Lee"));
/// assert!(snapshot.provided.contains(Field::FirstName));
/// assert!(matches!(snapshot.completeness, Completeness::Partial { .. }));
/// # Ok::<(), muster_core::AddressError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct DiscoverySource {
    name: String,
    ledger: DiscoveryLedger,
    policy: DiscoveryPolicy,
    now: DateTime<Utc>,
    issues: Vec<SourceIssue>,
}

impl DiscoverySource {
    /// Candidates from `ledger` under `policy`, as of `now`. Named `smtp-discovery`.
    pub fn new(ledger: DiscoveryLedger, policy: DiscoveryPolicy, now: DateTime<Utc>) -> Self {
        DiscoverySource {
            name: "smtp-discovery".to_owned(),
            ledger,
            policy,
            now,
            issues: Vec::new(),
        }
    }

    /// Names the source (the snapshot's `source`, and the origin of the accounts it creates).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Adds issues to report in the snapshot: the observations that could
    /// not be read ([`Observations::issues`]) or merged (what
    /// [`DiscoveryLedger::observe`] returned).
    pub fn with_issues(mut self, issues: impl IntoIterator<Item = SourceIssue>) -> Self {
        self.issues.extend(issues);
        self
    }

    /// The ledger this source reads.
    #[must_use]
    pub fn ledger(&self) -> &DiscoveryLedger {
        &self.ledger
    }

    /// Every candidate, ordered by address, whether or not the policy lets
    /// threshold candidates into the snapshot.
    #[must_use]
    pub fn candidates(&self) -> Vec<Candidate> {
        self.candidates_and_issues().0
    }

    fn candidates_and_issues(&self) -> (Vec<Candidate>, Vec<SourceIssue>) {
        let (policy, now) = (&self.policy, self.now);
        let fresh = |e: &&LedgerEntry| e.last_seen >= policy.expired_before(now);
        let seen = |a: &EmailAddress| self.ledger.entry(a).filter(fresh).cloned();
        let mut found = Vec::new();
        let mut issues = Vec::new();
        let outside = |address: &EmailAddress, field: &str, expected: &str| {
            SourceIssue::new(Location::object_id(address.normalized()), expected)
                .with_field(field)
                .with_value(address.as_str())
        };
        for record in self.ledger.decisions() {
            let becomes = match &record.decision {
                Decision::User => Becomes::User,
                Decision::FunctionalAccount => Becomes::FunctionalAccount,
                Decision::AliasOf { user } => Becomes::AliasOf { user: user.clone() },
                Decision::Invalid | Decision::Ignore => continue,
            };
            let address = &record.address;
            if !policy.manages(address) {
                issues.push(outside(
                    address,
                    "address",
                    "a decided address in a managed domain",
                ));
                continue;
            }
            if let Becomes::AliasOf { user } = &becomes
                && !policy.manages(user)
            {
                issues.push(outside(
                    user,
                    "alias_of",
                    "the user of an alias in a managed domain",
                ));
                continue;
            }
            let seen = seen(address);
            found.push(Candidate {
                address: seen
                    .as_ref()
                    .map_or_else(|| address.clone(), |s| s.address.clone()),
                becomes,
                reason: Reason::Decision {
                    decided_at: record.decided_at,
                },
                counted: seen.as_ref().map_or(0, |s| policy.counted(s, now)),
                seen,
            });
        }
        for entry in self.ledger.entries().filter(fresh) {
            let address = &entry.address;
            if self.ledger.decision(address).is_some()
                || !policy.manages(address)
                || policy.blocks(address)
            {
                continue;
            }
            let counted = policy.counted(entry, now);
            if counted >= policy.min_messages {
                found.push(Candidate {
                    address: address.clone(),
                    becomes: Becomes::User,
                    reason: Reason::Threshold,
                    counted,
                    seen: Some(entry.clone()),
                });
            }
        }
        found.sort_by(|a, b| a.address.cmp(&b.address));
        (found, issues)
    }

    /// The snapshot, as [`DirectorySource::fetch`] returns it (no IO, no clock).
    #[must_use]
    pub fn snapshot(&self) -> DirectorySnapshot {
        let (candidates, issues) = self.candidates_and_issues();
        let mut entries: BTreeMap<EmailAddress, DirectoryEntry> = BTreeMap::new();
        let mut aliases: BTreeMap<EmailAddress, Vec<EmailAddress>> = BTreeMap::new();
        for c in candidates {
            let kind = match (&c.becomes, &c.reason) {
                (_, Reason::Threshold)
                    if self.policy.candidates == policy::CandidateUse::ReportOnly =>
                {
                    continue;
                }
                (Becomes::AliasOf { user }, _) => {
                    aliases.entry(user.clone()).or_default().push(c.address);
                    continue;
                }
                (Becomes::User, _) => RecipientKind::UserMailbox,
                (Becomes::FunctionalAccount, _) => RecipientKind::SharedMailbox,
            };
            let entry = candidate_entry(&c, kind);
            entries.insert(c.address, entry);
        }
        for (user, addresses) in aliases {
            let entry = entries.entry(user.clone()).or_insert_with(|| {
                DirectoryEntry::new(user.clone())
                    .with_location(Location::object_id(user.normalized()))
            });
            entry.aliases.extend(addresses);
        }
        let all =
            |has: fn(&DirectoryEntry) -> bool| !entries.is_empty() && entries.values().all(has);
        let any = |has: fn(&DirectoryEntry) -> bool| entries.values().any(has);
        let mut provided = FieldSet::empty();
        for (field, known) in [
            (Field::FirstName, all(|e| e.first_name.is_some())),
            (Field::LastName, all(|e| e.last_name.is_some())),
            (Field::Aliases, any(|e| !e.aliases.is_empty())),
            (Field::Kind, any(|e| e.kind != RecipientKind::UserMailbox)),
        ] {
            if known {
                provided.insert(field);
            }
        }
        let mut out = Collector::new(&self.name);
        for issue in self.issues.iter().cloned().chain(issues) {
            out.issue(issue);
        }
        for entry in entries.into_values() {
            out.add_at_entry(entry);
        }
        let mut snapshot = out.into_snapshot(&self.name, provided);
        snapshot.completeness = Completeness::Partial {
            reason: PARTIAL.to_owned(),
        };
        snapshot
    }
}

/// A user or functional-account entry for `c`, with what the ledger knows.
fn candidate_entry(c: &Candidate, kind: RecipientKind) -> DirectoryEntry {
    let mut entry = DirectoryEntry::new(c.address.clone())
        .with_kind(kind)
        .with_location(Location::object_id(c.address.normalized()));
    let discovered = match c.reason {
        Reason::Threshold => "threshold",
        Reason::Decision { .. } => "decision",
    };
    let mut attributes = BTreeMap::from([
        ("discovered".to_owned(), discovered.to_owned()),
        ("messages_counted".to_owned(), c.counted.to_string()),
    ]);
    if let Some(seen) = &c.seen {
        attributes.extend([
            ("inbound_total".to_owned(), seen.total.inbound.to_string()),
            ("outbound_total".to_owned(), seen.total.outbound.to_string()),
            ("first_seen".to_owned(), seen.first_seen.to_rfc3339()),
            ("last_seen".to_owned(), seen.last_seen.to_rfc3339()),
        ]);
        if let Some(name) = &seen.display_name {
            attributes.insert("display_name".to_owned(), name.name.clone());
            let (first, last) = names(&name.name);
            entry.first_name = first;
            entry.last_name = last;
        }
    }
    entry.attributes = attributes;
    entry
}

/// First and last name from a display name: `Ann Lee`, `Lee, Ann`, `"Ann"`.
/// A display name that is an address (`ann@example.com`) is no name.
fn names(display: &str) -> (Option<String>, Option<String>) {
    let d = display.trim().trim_matches(['"', '\'']).trim();
    if d.contains('@') {
        return (None, None);
    }
    if let Some((last, first)) = d.split_once(',') {
        return (non_blank(first), non_blank(last));
    }
    match d.rsplit_once(char::is_whitespace) {
        Some((first, last)) => (non_blank(first), non_blank(last)),
        None => (non_blank(d), None),
    }
}

#[async_trait]
impl DirectorySource for DiscoverySource {
    fn name(&self) -> &str {
        &self.name
    }

    /// The [`DiscoverySource::snapshot`]; never fails (the reading happened before).
    async fn fetch(&self) -> Result<DirectorySnapshot, Error> {
        Ok(self.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_in_the_usual_shapes() {
        let n = |s: &str| names(s);
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(n("Ann Lee"), (some("Ann"), some("Lee")));
        assert_eq!(n("Ann Mary Lee"), (some("Ann Mary"), some("Lee")));
        assert_eq!(n("\"Lee, Ann\""), (some("Ann"), some("Lee")));
        assert_eq!(n("Ann"), (some("Ann"), None));
        assert_eq!(n("ann@example.com"), (None, None));
        assert_eq!(n("  "), (None, None));
    }
}
