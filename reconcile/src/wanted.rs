//! Turns the desired snapshots into one list of wanted accounts, and indexes
//! every address on both sides.

use std::collections::{HashMap, HashSet};

use muster_core::{Account, DirectoryEntry, DirectorySnapshot, EmailAddress, FieldSet, Field, UserType};

use crate::fingerprint::FastHash;
use crate::inputs::Desired;
use crate::plan::{SkipCode, Skipped};
use crate::policy::Policy;
use crate::rules::{self, Admission};

/// Marks "no index" in [`Slot`].
pub(crate) const NONE: u32 = u32::MAX;

/// One entry the planner wants on the gateway.
pub(crate) struct Want<'a> {
    pub(crate) entry: &'a DirectoryEntry,
    pub(crate) source: &'a str,
    pub(crate) provided: FieldSet,
    /// 0 for the authoritative source and the policy's additions.
    pub(crate) precedence: usize,
    /// The aliases that survived domain and clash checks.
    pub(crate) aliases: Vec<&'a EmailAddress>,
    /// The type a create gets.
    pub(crate) user_type: UserType,
}

impl Want<'_> {
    pub(crate) fn authoritative(&self) -> bool {
        self.precedence == 0
    }
}

/// Which want and which account hold one normalised address.
#[derive(Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) want: u32,
    pub(crate) want_primary: bool,
    pub(crate) have: u32,
    pub(crate) have_primary: bool,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            want: NONE,
            want_primary: false,
            have: NONE,
            have_primary: false,
        }
    }
}

/// The wanted entries, and an index of every address on both sides.
pub(crate) struct Wanted<'a> {
    pub(crate) wants: Vec<Want<'a>>,
    pub(crate) index: HashMap<&'a str, Slot, FastHash>,
    /// Normalised primaries of disabled people (absent, with a better reason).
    pub(crate) disabled: HashSet<&'a str, FastHash>,
    /// For each gateway account, the want whose primary it is (or [`NONE`]).
    pub(crate) account_want: Vec<u32>,
}

impl<'a> Wanted<'a> {
    pub(crate) fn slot(&self, address: &EmailAddress) -> Option<&Slot> {
        self.index.get(address.normalized())
    }
}

/// Collects the wanted entries from every snapshot and the policy's
/// additions, refusing what the rules refuse, and indexes all addresses.
///
/// Ties are broken by a total order (precedence, then spelling, then
/// location), never by input order, so the plan does not depend on it.
pub(crate) fn collect<'a>(desired: &'a Desired, accounts: &'a [Account], policy: &'a Policy, skipped: &mut Vec<Skipped>) -> Wanted<'a> {
    let auth = &desired.authoritative;
    let mut sources: Vec<(usize, &'a str, FieldSet, &'a [DirectoryEntry])> = Vec::with_capacity(2 + desired.supplemental.len());
    sources.push((0, &auth.source, auth.provided, &auth.entries));
    sources.push((0, &auth.source, auth.provided, &policy.additions));
    for (i, snap) in desired.supplemental.iter().enumerate() {
        sources.push((i + 1, &snap.source, snap.provided, &snap.entries));
    }
    for snap in std::iter::once(auth).chain(&desired.supplemental) {
        report_issues(snap, skipped);
    }

    let want_addresses: usize = sources.iter().map(|s| s.3.iter().map(|e| 1 + e.aliases.len()).sum::<usize>()).sum();
    let have_addresses: usize = accounts.iter().map(|a| 1 + a.aliases.len()).sum();
    let mut index: HashMap<&'a str, Slot, FastHash> =
        HashMap::with_capacity_and_hasher(want_addresses.max(have_addresses) + want_addresses.min(have_addresses) / 8, FastHash::default());
    let mut wants: Vec<Want<'a>> = Vec::with_capacity(sources.iter().map(|s| s.3.len()).sum());
    let mut disabled = HashSet::default();

    for &(precedence, source, provided, entries) in &sources {
        for entry in entries {
            match rules::admit_entry(entry, policy) {
                Admission::Want(user_type) => {
                    let candidate = Want { entry, source, provided, precedence, aliases: Vec::new(), user_type };
                    claim_primary(&mut wants, &mut index, candidate, skipped);
                }
                Admission::Absent => {
                    disabled.insert(entry.primary_email.normalized());
                }
                Admission::Skip(code, reason) => skipped.push(skip(entry, source, code, reason)),
            }
        }
    }
    let mut wanted = Wanted { wants, index, disabled, account_want: Vec::new() };
    claim_aliases(&mut wanted, policy, skipped);
    wanted.account_want = index_accounts(&mut wanted.index, accounts);
    wanted
}

fn report_issues(snap: &DirectorySnapshot, skipped: &mut Vec<Skipped>) {
    for issue in &snap.issues {
        skipped.push(Skipped {
            email: issue.value.clone().unwrap_or_default(),
            source: snap.source.clone(),
            location: Some(issue.location.clone()),
            code: SkipCode::SourceIssue,
            reason: issue.to_string(),
        });
    }
}

fn skip(entry: &DirectoryEntry, source: &str, code: SkipCode, reason: String) -> Skipped {
    Skipped {
        email: entry.primary_email.to_string(),
        source: source.to_owned(),
        location: entry.location.clone(),
        code,
        reason,
    }
}

/// The order that decides which of two entries with one primary wins:
/// source precedence, then where the entry came from, then its content
/// (addresses compared without case, so re-spelling an address does not
/// change the winner). Never input order.
fn outranks(a: &Want<'_>, b: &Want<'_>) -> bool {
    let key = |w: &Want<'_>| (w.precedence, w.entry.location.clone());
    key(a)
        .cmp(&key(b))
        .then_with(|| {
            let (da, db) = (format!("{:?}", a.entry), format!("{:?}", b.entry));
            da.to_lowercase().cmp(&db.to_lowercase()).then(da.cmp(&db))
        })
        .is_lt()
}

/// One address, one account: a primary listed twice keeps the entry of the
/// highest-precedence source; twice in one source, the loser is skipped with
/// both sides named.
fn claim_primary<'a>(wants: &mut Vec<Want<'a>>, index: &mut HashMap<&'a str, Slot, FastHash>, mut candidate: Want<'a>, skipped: &mut Vec<Skipped>) {
    let key = candidate.entry.primary_email.normalized();
    let slot = index.entry(key).or_default();
    if slot.want == NONE {
        slot.want = u32::try_from(wants.len()).unwrap_or(NONE);
        slot.want_primary = true;
        wants.push(candidate);
        return;
    }
    let held = &mut wants[slot.want as usize];
    if outranks(&candidate, held) {
        std::mem::swap(held, &mut candidate);
    }
    let loser = candidate;
    if held.precedence == loser.precedence {
        let reason = format!(
            "{} is listed twice in {}{}; the other entry is used",
            loser.entry.primary_email,
            loser.source,
            held.entry.location.as_ref().map(|l| format!(" (also at {l})")).unwrap_or_default()
        );
        skipped.push(skip(loser.entry, loser.source, SkipCode::AddressClash, reason));
    }
}

/// Aliases: only managed domains, never another entry's primary, and an
/// alias listed under two entries stays with the entry whose primary sorts
/// first; the other is skipped with both sides named.
fn claim_aliases<'a>(wanted: &mut Wanted<'a>, policy: &Policy, skipped: &mut Vec<Skipped>) {
    let Wanted { wants, index, .. } = wanted;
    let mut losers: Vec<(u32, &'a EmailAddress)> = Vec::new();
    for i in 0..wants.len() {
        let want = &wants[i];
        if !want.provided.contains(Field::Aliases) {
            continue;
        }
        let entry = want.entry;
        let mut kept: Vec<&'a EmailAddress> = Vec::with_capacity(entry.aliases.len());
        for alias in &entry.aliases {
            if *alias == entry.primary_email {
                continue;
            }
            if !rules::alias_admitted(alias, policy) {
                let reason = format!("alias {alias} of {}: domain {} is not managed", entry.primary_email, alias.domain_ascii());
                skipped.push(Skipped { email: alias.to_string(), source: want.source.to_owned(), location: entry.location.clone(), code: SkipCode::AliasOutsideManagedDomains, reason });
                continue;
            }
            let slot = index.entry(alias.normalized()).or_default();
            if slot.want == NONE {
                slot.want = i as u32;
                kept.push(alias);
            } else if slot.want_primary {
                losers.push((i as u32, alias));
            } else {
                let held = wants[slot.want as usize].entry;
                if entry.primary_email < held.primary_email {
                    // The held entry loses: name the alias as *it* spells it.
                    losers.push((slot.want, held.aliases.get(alias).unwrap_or(alias)));
                    slot.want = i as u32;
                    kept.push(alias);
                } else {
                    losers.push((i as u32, alias));
                }
            }
        }
        wants[i].aliases = kept;
    }
    losers.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
    losers.dedup();
    for &(loser, alias) in &losers {
        wants[loser as usize].aliases.retain(|a| *a != alias);
    }
    for (loser, alias) in losers {
        let slot = index[alias.normalized()];
        let holder = &wants[slot.want as usize].entry.primary_email;
        let want = &wants[loser as usize];
        let role = if slot.want_primary { "the primary address" } else { "an alias" };
        let reason = format!("alias {alias} of {} is already {role} of {holder}; not added", want.entry.primary_email);
        skipped.push(Skipped { email: alias.to_string(), source: want.source.to_owned(), location: want.entry.location.clone(), code: SkipCode::AddressClash, reason });
    }
}

/// Indexes the gateway's addresses. An address on two accounts (which the
/// gateway should not allow) stays with the account whose primary sorts first.
fn index_accounts<'a>(index: &mut HashMap<&'a str, Slot, FastHash>, accounts: &'a [Account]) -> Vec<u32> {
    let mut account_want = Vec::with_capacity(accounts.len());
    for (i, account) in accounts.iter().enumerate() {
        let slot = index.entry(account.primary_email.normalized()).or_default();
        slot.have = i as u32;
        slot.have_primary = true;
        account_want.push(if slot.want_primary { slot.want } else { NONE });
    }
    for (i, account) in accounts.iter().enumerate() {
        for alias in &account.aliases {
            let slot = index.entry(alias.normalized()).or_default();
            if slot.have == NONE || (!slot.have_primary && account.primary_email < accounts[slot.have as usize].primary_email) {
                slot.have = i as u32;
            }
        }
    }
    account_want
}
