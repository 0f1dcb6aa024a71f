//! Turns the desired snapshots into one list of wanted accounts, and indexes
//! every address on both sides.

use std::collections::{HashMap, HashSet};

use muster_core::{Account, DirectoryEntry, EmailAddress, Field, FieldSet, UserType};

use crate::fingerprint::FastHash;
use crate::index::{BATCH, PrimaryIndex};
use crate::inputs::{Desired, TargetProfile};
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
    pub(crate) precedence: u32,
    /// Where in [`Wanted::kept_aliases`] the aliases that survived domain
    /// and clash checks are, or [`NONE`] for none. None either when
    /// `aliases_in_step` (they are then exactly the entry's, already on its
    /// account). Out of line: a million wants are read in every pass, and
    /// most have no list of their own.
    pub(crate) aliases: u32,
    /// The type a create gets (the policy's).
    pub(crate) user_type: &'a UserType,
    /// The gateway account with this primary, or [`NONE`].
    pub(crate) account: u32,
    /// The aliases are exactly the account's already (nothing to add or remove).
    pub(crate) aliases_in_step: bool,
    /// Every text field and list equals the account's ([`crate::planner::fields_equal`]).
    pub(crate) fields_equal: bool,
    /// The account is protected ([`rules::protection`]): it is never changed.
    pub(crate) protected: bool,
    /// When not `fields_equal`: where in [`Wanted::field_steps`] the steps
    /// setting its text fields are.
    pub(crate) field_steps: u32,
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

/// The wanted entries, and an index of the addresses that matter.
///
/// Every gateway primary and every wanted primary is in `primaries`. Only
/// the addresses an entry wants that its own account does not already have
/// ("fresh": new aliases, primaries of new accounts) are in `fresh`, with
/// the gateway account that holds them now. Aliases already where the
/// directory wants them are never hashed: at a million accounts that is
/// most of the work a naive index would do.
pub(crate) struct Wanted<'a> {
    pub(crate) wants: Vec<Want<'a>>,
    pub(crate) primaries: PrimaryIndex<'a>,
    /// For each primary only a want has (by its index id less the account count), that want.
    extra_want: Vec<u32>,
    pub(crate) fresh: HashMap<&'a EmailAddress, Slot, FastHash>,
    /// Normalised primaries of disabled people (absent, with a better reason).
    pub(crate) disabled: HashSet<&'a str, FastHash>,
    /// For each gateway account, the want whose primary it is (or [`NONE`]).
    pub(crate) account_want: Vec<u32>,
    /// Claimed accounts' alias hashes, for [`Wanted::note_holders`].
    alias_hashes: AliasHashes,
    /// How many claimed accounts are billable (counted where `collect` reads them).
    pub(crate) billable_claimed: usize,
    /// The text-field steps of wants whose fields differ from their
    /// account's, made where `collect` compares them (both sides in cache).
    pub(crate) field_steps: Vec<Vec<crate::plan::Step>>,
    /// The kept aliases of wants that have any (see [`Want::aliases`]).
    kept_aliases: Vec<Vec<&'a EmailAddress>>,
    /// The wants no gateway account matches, in order: the creates and
    /// renames to be, listed so those passes need not read every want.
    pub(crate) unmatched: Vec<u32>,
}

/// The hashes of claimed accounts' aliases, taken while `collect` compares
/// them, and a bitmap of the fresh addresses' hashes: holders of fresh
/// addresses are then found by scanning these pairs, without reading any
/// account again except the few that may hold one.
#[derive(Default)]
struct AliasHashes {
    /// (high half of an alias's hash, the account that has the alias).
    pairs: Vec<(u32, u32)>,
    /// One bit per bucket of fresh-address hashes.
    fresh: Vec<u64>,
    /// Right shift from a hash's high half to its bucket.
    shift: u32,
}

fn high(hash: u64) -> u32 {
    (hash >> 32) as u32
}

impl AliasHashes {
    fn new(accounts: usize) -> Self {
        AliasHashes {
            pairs: Vec::with_capacity(accounts.saturating_mul(3)),
            ..AliasHashes::default()
        }
    }

    /// Takes account `i`'s alias hashes (once per account: when its entry first claims it).
    fn record(&mut self, i: u32, account: &Account) {
        self.pairs
            .extend(account.aliases.iter().map(|a| (high(a.key_hash()), i)));
    }

    /// Builds the bitmap of the fresh addresses (about 64 bits per address).
    fn seal<'k>(&mut self, fresh: impl ExactSizeIterator<Item = &'k &'k EmailAddress>) {
        let bits = (fresh.len().max(1) * 64).next_power_of_two().min(1 << 31);
        self.shift = 32 - bits.trailing_zeros();
        self.fresh = vec![0; bits.div_ceil(64)];
        for key in fresh {
            let b = self.bucket(high(key.key_hash()));
            self.fresh[b / 64] |= 1 << (b % 64);
        }
    }

    fn bucket(&self, high: u32) -> usize {
        (high >> self.shift) as usize
    }

    /// The accounts whose recorded aliases may be fresh addresses (an
    /// account may come more than once).
    fn may_hold_fresh(&self) -> impl Iterator<Item = usize> + '_ {
        self.pairs.iter().filter_map(|&(h, i)| {
            let b = self.bucket(h);
            (self.fresh[b / 64] & (1 << (b % 64)) != 0).then_some(i as usize)
        })
    }
}

impl<'a> Wanted<'a> {
    /// The aliases `want` keeps (see [`Want::aliases`]).
    pub(crate) fn aliases_of(&self, want: &Want<'a>) -> &[&'a EmailAddress] {
        self.kept_aliases
            .get(want.aliases as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// Who wants and who holds `address`, from both maps.
    pub(crate) fn slot(&self, address: &EmailAddress) -> Option<Slot> {
        let primary = primary_slot(
            &self.primaries,
            &self.account_want,
            &self.extra_want,
            address,
        );
        let fresh = self.fresh.get(address).copied();
        match (primary, fresh) {
            (None, None) => None,
            (Some(s), None) | (None, Some(s)) => Some(s),
            (Some(p), Some(f)) => Some(Slot {
                want: if p.want != NONE { p.want } else { f.want },
                want_primary: p.want_primary || f.want_primary,
                have: if p.have != NONE { p.have } else { f.have },
                have_primary: p.have_primary,
            }),
        }
    }

    /// The gateway accounts whose primaries are `addresses` (up to
    /// [`BATCH`], looked up together), or [`NONE`].
    pub(crate) fn accounts_with_primaries(&self, addresses: &[&EmailAddress], ids: &mut [u32]) {
        self.primaries.find_batch(addresses, ids);
        for id in ids {
            if !self.primaries.is_account(*id) {
                *id = NONE;
            }
        }
    }
}

/// Who wants and who holds the primary address `address`.
fn primary_slot(
    primaries: &PrimaryIndex<'_>,
    account_want: &[u32],
    extra_want: &[u32],
    address: &EmailAddress,
) -> Option<Slot> {
    let id = primaries.find(address);
    if id == NONE {
        None
    } else if primaries.is_account(id) {
        let want = account_want[id as usize];
        Some(Slot {
            want,
            want_primary: want != NONE,
            have: id,
            have_primary: true,
        })
    } else {
        Some(Slot {
            want: extra_want[id as usize - account_want.len()],
            want_primary: true,
            have: NONE,
            have_primary: false,
        })
    }
}

/// Collects the wanted entries from every snapshot and the policy's
/// additions, refusing what the rules refuse, and indexes all addresses.
///
/// Ties are broken by a total order ([`outranks`]), never by input order,
/// so the plan does not depend on it.
pub(crate) fn collect<'a>(
    desired: &'a Desired,
    accounts: &'a [Account],
    (policy, target): (&'a Policy, &TargetProfile),
    skipped: &mut Vec<Skipped>,
) -> Wanted<'a> {
    let auth = &desired.authoritative;
    let mut sources: Vec<(u32, &'a str, FieldSet, &'a [DirectoryEntry])> =
        Vec::with_capacity(2 + desired.supplemental.len());
    sources.push((0, &auth.source, auth.provided, &auth.entries));
    sources.push((0, &auth.source, auth.provided, &policy.additions));
    for (i, snap) in (1..).zip(&desired.supplemental) {
        sources.push((i, &snap.source, snap.provided, &snap.entries));
    }
    for snap in std::iter::once(auth).chain(&desired.supplemental) {
        report_issues(&snap.source, &snap.issues, skipped);
    }
    if let Some(hr) = desired.hr.as_ref().filter(|_| policy.hr_rule.is_some()) {
        report_issues(&hr.source, &hr.issues, skipped);
    }

    let entry_count: usize = sources.iter().map(|s| s.3.len()).sum();
    let mut primaries = PrimaryIndex::new(accounts, entry_count / 8);
    let mut account_want = vec![NONE; accounts.len()];
    let mut extra_want = Vec::new();
    let mut billable_claimed = 0usize;
    let mut field_steps = Vec::new();
    let mut alias_hashes = AliasHashes::new(accounts.len());
    let mut wants: Vec<Want<'a>> = Vec::with_capacity(entry_count);
    let mut disabled = HashSet::default();

    let mut found = [NONE; BATCH];
    let entry_rules = rules::EntryRules::of(policy);
    for &(precedence, source, provided, entries) in &sources {
        for chunk in entries.chunks(BATCH) {
            // The accounts of a whole batch are looked up together (see `index`).
            let mut keys = [&chunk[0].primary_email; BATCH];
            for (key, entry) in keys.iter_mut().zip(chunk) {
                *key = &entry.primary_email;
            }
            primaries.find_batch(&keys[..chunk.len()], &mut found[..chunk.len()]);
            // Then what each pair will compare is read for the whole batch at
            // once, so those misses overlap too.
            let mut touched = 0u8;
            for (entry, &id) in chunk.iter().zip(&found) {
                touched ^= touch_entry(entry);
                if let Some(account) = accounts.get(id as usize) {
                    touched ^= touch_account(account);
                }
            }
            std::hint::black_box(touched);
            for (entry, &id) in chunk.iter().zip(&found) {
                match rules::admit_entry(entry, policy, &entry_rules) {
                    Admission::Want(user_type) => {
                        let candidate = Want {
                            entry,
                            source,
                            // A field whose value the source could not use is
                            // left as the gateway has it, for this entry only.
                            provided: provided.difference(entry.withheld),
                            precedence,
                            aliases: NONE,
                            user_type,
                            account: NONE,
                            aliases_in_step: false,
                            fields_equal: false,
                            protected: false,
                            field_steps: NONE,
                        };
                        // Not found may be a primary an earlier entry of this batch added.
                        let id = if id == NONE {
                            primaries.find_or_add(&entry.primary_email)
                        } else {
                            id
                        };
                        let want_of = if primaries.is_account(id) {
                            &mut account_want[id as usize]
                        } else {
                            let k = id as usize - accounts.len();
                            if k == extra_want.len() {
                                extra_want.push(NONE);
                            }
                            &mut extra_want[k]
                        };
                        let have = if primaries.is_account(id) { id } else { NONE };
                        claim_primary(
                            &mut wants,
                            (have, want_of),
                            accounts,
                            (policy, target),
                            candidate,
                            skipped,
                            (&mut alias_hashes, &mut billable_claimed),
                            &mut field_steps,
                        );
                    }
                    Admission::Absent => {
                        disabled.insert(entry.primary_email.normalized());
                    }
                    Admission::Skip(code, reason) => {
                        skipped.push(skip(entry, source, code, reason));
                    }
                    Admission::Exempt => {}
                }
            }
        }
    }
    debug_assert_eq!(extra_want.len(), primaries.extra_len());
    let mut fresh: HashMap<&'a EmailAddress, Slot, FastHash> = HashMap::default();
    let mut unmatched = Vec::new();
    for (w, want) in wants.iter().enumerate() {
        if want.account == NONE {
            unmatched.push(w as u32);
            let slot = fresh.entry(&want.entry.primary_email).or_default();
            slot.want = w as u32;
            slot.want_primary = true;
        }
    }
    let mut wanted = Wanted {
        wants,
        primaries,
        extra_want,
        fresh,
        disabled,
        account_want,
        alias_hashes,
        billable_claimed,
        field_steps,
        kept_aliases: Vec::new(),
        unmatched,
    };
    claim_aliases(&mut wanted, accounts, &entry_rules, skipped);
    let Wanted {
        fresh,
        alias_hashes,
        ..
    } = &mut wanted;
    alias_hashes.seal(fresh.keys());
    wanted
}

/// The first byte of `s`, to bring it into cache.
fn first_byte(s: &str) -> u8 {
    s.as_bytes().first().copied().unwrap_or(0)
}

/// Reads one byte of each field `collect` compares and hashes (see the batch loop there).
fn touch_entry(e: &DirectoryEntry) -> u8 {
    let mut t = 0;
    for s in [&e.first_name, &e.last_name, &e.department]
        .into_iter()
        .flatten()
    {
        t ^= first_byte(s);
    }
    for a in &e.aliases {
        t ^= first_byte(a.normalized());
    }
    t
}

/// Reads one byte of each field `collect` compares and hashes.
fn touch_account(a: &Account) -> u8 {
    let mut t = first_byte(a.primary_email.normalized());
    for s in [&a.first_name, &a.last_name, &a.department]
        .into_iter()
        .flatten()
    {
        t ^= first_byte(s);
    }
    for x in &a.aliases {
        t ^= first_byte(x.normalized());
    }
    t
}

/// Every source's issues, the HR source's included, are skipped records of
/// the plan: a reviewer sees what was not read where they see the rest.
fn report_issues(source: &str, issues: &[muster_core::SourceIssue], skipped: &mut Vec<Skipped>) {
    for issue in issues {
        skipped.push(Skipped {
            email: issue.value.clone().unwrap_or_default(),
            source: source.to_owned(),
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
/// source precedence, then where the entry came from (an entry without a
/// location, such as a policy addition, first), then [`content_order`].
/// Never input order, and never `Debug` text (a new field would silently
/// change the winner).
fn outranks(a: &Want<'_>, b: &Want<'_>) -> bool {
    (a.precedence, &a.entry.location)
        .cmp(&(b.precedence, &b.entry.location))
        .then_with(|| content_order(a.entry, b.entry))
        .is_lt()
}

/// The last tie-break between two entries for one primary, field by field:
/// aliases (normalised, so re-spelling an address does not change the
/// winner), kind, enabled, first and last name, mobile, phone, company,
/// department, notes, groups, external id, allowed and blocked senders,
/// attributes; then the spellings of the primary and the aliases. Entries
/// still equal are the same in everything the planner reads, so either
/// may win. Any order would do; this one is written down so it can be
/// checked (`tests/oracle.rs`).
fn content_order(a: &DirectoryEntry, b: &DirectoryEntry) -> std::cmp::Ordering {
    #[allow(clippy::type_complexity)]
    fn content(e: &DirectoryEntry) -> impl Ord + '_ {
        (
            (&e.aliases, e.kind, e.enabled),
            (&e.first_name, &e.last_name, &e.mobile, &e.phone),
            (&e.company, &e.department, &e.notes),
            (&e.member_of, &e.external_id),
            (&e.allow_senders, &e.block_senders, &e.attributes),
        )
    }
    fn alias_spellings(e: &DirectoryEntry) -> impl Iterator<Item = &str> {
        e.aliases.iter().map(EmailAddress::as_str)
    }
    content(a).cmp(&content(b)).then_with(|| {
        (a.primary_email.as_str().cmp(b.primary_email.as_str()))
            .then_with(|| alias_spellings(a).cmp(alias_spellings(b)))
    })
}

/// One address, one account: a primary listed twice keeps the entry of the
/// highest-precedence source; twice in one source, the loser is skipped with
/// both sides named.
#[allow(clippy::too_many_arguments)]
fn claim_primary<'a>(
    wants: &mut Vec<Want<'a>>,
    (have, want_of): (u32, &mut u32),
    accounts: &'a [Account],
    (policy, target): (&Policy, &TargetProfile),
    mut candidate: Want<'a>,
    skipped: &mut Vec<Skipped>,
    (alias_hashes, billable): (&mut AliasHashes, &mut usize),
    field_steps: &mut Vec<Vec<crate::plan::Step>>,
) {
    if have != NONE {
        candidate.account = have;
        let account = &accounts[have as usize];
        if *want_of == NONE {
            // The account's count and alias hashes, taken while it is in
            // cache; accounts no entry claims are counted in the match pass.
            *billable += usize::from(rules::billable(account));
            alias_hashes.record(have, account);
        }
        candidate.protected = rules::protection(account, policy, target).is_some();
        // Fast path, most entries on most runs: the account already has
        // exactly these aliases and fields (checked here, while both are in cache).
        let entry = candidate.entry;
        candidate.fields_equal = crate::planner::fields_equal(account, entry);
        if !candidate.fields_equal {
            let fields = rules::comparable_fields(candidate.provided, policy, target);
            candidate.field_steps = u32::try_from(field_steps.len()).unwrap_or(NONE);
            field_steps.push(crate::planner::text_field_steps(account, entry, fields));
        }
        // No domain check: an alias the account already has is kept
        // whatever its domain (as `claim_aliases` keeps it), so equal lists
        // are in step.
        candidate.aliases_in_step = candidate.provided.contains(Field::Aliases)
            && account.aliases == entry.aliases
            && entry.aliases.iter().all(|a| *a != entry.primary_email);
    }
    if *want_of == NONE {
        *want_of = u32::try_from(wants.len()).unwrap_or(NONE);
        wants.push(candidate);
        return;
    }
    let held = &mut wants[*want_of as usize];
    if outranks(&candidate, held) {
        std::mem::swap(held, &mut candidate);
    }
    let loser = candidate;
    if held.precedence == loser.precedence {
        let reason = format!(
            "{} is listed twice in {}{}; the other entry is used",
            loser.entry.primary_email,
            loser.source,
            held.entry
                .location
                .as_ref()
                .map(|l| format!(" (also at {l})"))
                .unwrap_or_default()
        );
        skipped.push(skip(
            loser.entry,
            loser.source,
            SkipCode::AddressClash,
            reason,
        ));
    }
}

/// Aliases: only managed domains, never another entry's primary, and an
/// alias listed under two entries stays with the entry whose primary sorts
/// first; the other is skipped with both sides named.
///
/// An alias the entry's own gateway account already has is settled: the
/// gateway guarantees nobody else holds it, so it needs no index work (most
/// aliases, most runs). Another entry wanting it is refused when its claim
/// is resolved against the gateway.
fn claim_aliases<'a>(
    wanted: &mut Wanted<'a>,
    accounts: &'a [Account],
    entry_rules: &rules::EntryRules<'_>,
    skipped: &mut Vec<Skipped>,
) {
    let Wanted {
        wants,
        primaries,
        account_want,
        extra_want,
        fresh,
        kept_aliases,
        ..
    } = wanted;
    let primary_slot =
        |address: &EmailAddress| primary_slot(primaries, account_want, extra_want, address);
    let mut losers: Vec<(u32, &'a EmailAddress)> = Vec::new();
    for i in 0..wants.len() {
        let want = &wants[i];
        if !want.provided.contains(Field::Aliases) {
            continue;
        }
        if want.aliases_in_step {
            continue;
        }
        let entry = want.entry;
        let own = (want.account != NONE).then(|| &accounts[want.account as usize].aliases);
        let mut kept: Vec<&'a EmailAddress> = Vec::with_capacity(entry.aliases.len());
        for alias in &entry.aliases {
            if *alias == entry.primary_email {
                continue;
            }
            if own.is_some_and(|own| own.contains(alias)) {
                kept.push(alias);
                continue;
            }
            if !rules::alias_admitted(alias, entry_rules) {
                let reason = format!(
                    "alias {alias} of {}: domain {} is not managed",
                    entry.primary_email,
                    alias.domain_ascii()
                );
                skipped.push(Skipped {
                    email: alias.to_string(),
                    source: want.source.to_owned(),
                    location: entry.location.clone(),
                    code: SkipCode::AliasOutsideManagedDomains,
                    reason,
                });
                continue;
            }
            if primary_slot(alias).is_some_and(|p| p.want_primary) {
                losers.push((i as u32, alias));
                continue;
            }
            let slot = fresh.entry(alias).or_default();
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
        if !kept.is_empty() {
            wants[i].aliases = u32::try_from(kept_aliases.len()).unwrap_or(NONE);
            kept_aliases.push(kept);
        }
    }
    losers.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
    losers.dedup();
    for &(loser, alias) in &losers {
        if let Some(kept) = kept_aliases.get_mut(wants[loser as usize].aliases as usize) {
            kept.retain(|a| *a != alias);
        }
    }
    for (loser, alias) in losers {
        let slot = primary_slot(alias)
            .filter(|p| p.want_primary)
            .or_else(|| fresh.get(alias).copied())
            .unwrap_or_default();
        let holder = &wants[slot.want as usize].entry.primary_email;
        let want = &wants[loser as usize];
        let role = if slot.want_primary {
            "the primary address"
        } else {
            "an alias"
        };
        let reason = format!(
            "alias {alias} of {} is already {role} of {holder}; not added",
            want.entry.primary_email
        );
        skipped.push(Skipped {
            email: alias.to_string(),
            source: want.source.to_owned(),
            location: want.entry.location.clone(),
            code: SkipCode::AddressClash,
            reason,
        });
    }
}

impl Wanted<'_> {
    /// Records which fresh addresses gateway accounts hold as aliases,
    /// before any claim is resolved. Claimed accounts' alias hashes were
    /// taken in `collect`; unclaimed accounts are read here. An alias on two
    /// accounts (which the gateway should not allow) stays with the account
    /// whose primary sorts first.
    pub(crate) fn note_holders(&mut self, accounts: &[Account]) {
        if self.fresh.is_empty() {
            return;
        }
        let mut candidates: Vec<usize> = self.alias_hashes.may_hold_fresh().collect();
        candidates.extend(
            self.account_want
                .iter()
                .enumerate()
                .filter(|(_, w)| **w == NONE)
                .map(|(i, _)| i),
        );
        for i in candidates {
            let account = &accounts[i];
            for alias in &account.aliases {
                let Some(slot) = self.fresh.get_mut(alias) else {
                    continue;
                };
                if slot.have == NONE
                    || account.primary_email < accounts[slot.have as usize].primary_email
                {
                    slot.have = i as u32;
                }
            }
        }
    }
}
