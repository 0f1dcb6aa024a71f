//! Gathering entries while keeping every address owned by exactly one entry.
//!
//! An address that two entries claim would make the gateway bounce between
//! them on every run, so the first claim wins and the later one becomes an
//! issue naming both lines; a primary address always beats an alias, because
//! dropping a user's primary would drop the user.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::Arc;

use crate::issues::Issues;

use muster_core::{
    DirectoryEntry, DirectorySnapshot, EmailAddress, FieldSet, Location, SourceIssue,
};

/// What a directory source (LDAP, Graph) made of one object it read.
#[derive(Debug)]
pub(crate) enum Mapped {
    /// A recipient, and problems with some of its values.
    Entry(Box<DirectoryEntry>, Vec<SourceIssue>),
    /// Not a mail recipient: no address at all (service accounts,
    /// computers, accounts without a mailbox), or a guest the source skips.
    NotARecipient,
    /// It has addresses, but none that can be its primary.
    Unreadable(SourceIssue),
}

/// The `file` of a claim made where its entry was read (a DN, an object id):
/// the claim's place is the entry's own [`Location`].
const AT_ENTRY: u8 = u8::MAX;

/// Where an address was claimed: which entry, which file and line, and how.
#[derive(Clone, Copy)]
struct Claim {
    entry: usize,
    file: u8,
    line: u64,
    primary: bool,
}

/// Hashes `u64` keys that already are hashes: the identity.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in rather than lose it.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A keyed hash of address keys, much cheaper than SipHash for short keys.
///
/// One folded 64x64->128-bit multiply per 8 bytes, with secret per-collector
/// keys, so a crafted file cannot aim for collisions it cannot see; and
/// should two addresses share a hash anyway, the claims stay exact (the
/// collision map), only slower.
#[derive(Clone, Copy)]
struct KeyHasher {
    multiplier: u64,
    start: u64,
}

impl KeyHasher {
    fn random() -> Self {
        let keys = RandomState::new();
        KeyHasher {
            // Odd, so that multiplying loses no bits.
            multiplier: keys.hash_one(0u8) | 1,
            start: keys.hash_one(1u8),
        }
    }

    fn hash(self, key: &[u8]) -> u64 {
        let mix = |h: u64, word: u64| fold_multiply(h ^ word, self.multiplier);
        let mut chunks = key.chunks_exact(8);
        let mut h = self.start ^ key.len() as u64;
        for chunk in &mut chunks {
            h = mix(h, word(chunk));
        }
        if !chunks.remainder().is_empty() {
            h = mix(h, word(chunks.remainder()));
        }
        fold_multiply(h, self.multiplier.rotate_left(32) | 1)
    }
}

/// Up to 8 bytes as a little-endian word (zero-padded).
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(w)
}

/// The full 128-bit product, folded to 64 bits: every input bit reaches every output bit.
fn fold_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// True when `claim` (on an address with the same hash) is a claim on `address`.
fn claims_address(entries: &[DirectoryEntry], claim: &Claim, address: &EmailAddress) -> bool {
    let entry = &entries[claim.entry];
    if claim.primary {
        entry.primary_email == *address
    } else {
        entry.aliases.contains(address)
    }
}

/// Where an address's claim lives.
#[derive(Clone, Copy)]
enum Slot {
    Hashed(u64),
    Collision,
}

/// Entries in input order, with duplicate detection. Memory grows with the
/// number of distinct addresses, which is all a streaming reader keeps.
///
/// Claims are keyed by a (randomly seeded) 64-bit hash of the address rather
/// than by a copy of it: the address itself is already in the entry, so the
/// index costs 40 bytes per address and no allocation. Two different
/// addresses with the same hash go to a small exact map instead.
pub(crate) struct Collector {
    /// File names, shared by every entry's and issue's [`Location`].
    files: Vec<Arc<str>>,
    entries: Vec<DirectoryEntry>,
    /// `None` only in tests: every address then hashes to 0, so every claim but the first collides.
    hasher: Option<KeyHasher>,
    claims: HashMap<u64, Claim, BuildHasherDefault<PassThrough>>,
    collisions: HashMap<Box<str>, Claim>,
    issues: Issues,
    /// Entries of a directory server, claimed when the snapshot is made
    /// (see [`Collector::add_in_location_order`]).
    pending: Vec<DirectoryEntry>,
    /// Why the snapshot is incomplete, when the input's structure broke.
    partial: Option<String>,
}

impl Collector {
    /// A collector whose first file (index 0) is `file`.
    pub(crate) fn new(file: &str) -> Self {
        Collector {
            files: vec![Arc::from(file)],
            entries: Vec::new(),
            hasher: Some(KeyHasher::random()),
            claims: HashMap::default(),
            collisions: HashMap::new(),
            issues: Issues::default(),
            pending: Vec::new(),
            partial: None,
        }
    }

    /// Makes room for about `entries` entries up front, rather than copying
    /// the (large) entries along a large file. A hint only: if the room
    /// cannot be had, the list grows as needed. Room not used is never
    /// touched, so it costs address space, not memory; the claims index is
    /// not reserved, because an empty index would be real memory that a
    /// file of repeats never needs.
    pub(crate) fn reserve(&mut self, entries: usize) {
        let _ = self.entries.try_reserve(entries);
    }

    /// Registers another file (e.g. a Postini alias export) and returns its index.
    pub(crate) fn add_file(&mut self, file: &str) -> u8 {
        self.files.push(Arc::from(file));
        u8::try_from(self.files.len() - 1).unwrap_or(u8::MAX)
    }

    /// A line of a registered file; the name is shared, not copied.
    pub(crate) fn location(&self, file: u8, line: u64) -> Location {
        Location::line(Arc::clone(&self.files[usize::from(file)]), line)
    }

    /// Where `claim` was made: a file and line, or its entry's own location.
    fn claim_location(&self, claim: &Claim) -> Location {
        if claim.file == AT_ENTRY {
            self.entries[claim.entry]
                .location
                .clone()
                .unwrap_or_else(|| Location::record(claim.entry))
        } else {
            self.location(claim.file, claim.line)
        }
    }

    /// Records an issue.
    pub(crate) fn issue(&mut self, issue: SourceIssue) {
        self.issues.push(issue);
    }

    /// Records a break in the input's structure ([`crate::table::Next::Broken`]):
    /// the issue, and the snapshot becomes partial (the first reason is kept).
    pub(crate) fn broken(&mut self, issue: SourceIssue, reason: String) {
        self.issues.push(issue);
        self.partial.get_or_insert(reason);
    }

    fn hash(&self, address: &EmailAddress) -> u64 {
        self.hasher
            .as_ref()
            .map_or(0, |h| h.hash(address.normalized().as_bytes()))
    }

    /// The claim on `address`, if any.
    fn claim(&self, address: &EmailAddress) -> Option<Claim> {
        match self.claims.get(&self.hash(address)) {
            Some(c) if claims_address(&self.entries, c, address) => Some(*c),
            Some(_) => self.collisions.get(address.normalized()).copied(),
            None => None,
        }
    }

    /// Records `claim` on `address` unless the address is claimed already;
    /// then returns the earlier claim and where a new claim on it would go.
    /// One probe of the index for a new address, the usual case.
    fn claim_if_free(&mut self, address: &EmailAddress, claim: Claim) -> Option<(Claim, Slot)> {
        let hash = self.hash(address);
        match self.claims.entry(hash) {
            Entry::Vacant(free) => {
                free.insert(claim);
                None
            }
            Entry::Occupied(taken) if claims_address(&self.entries, taken.get(), address) => {
                Some((*taken.get(), Slot::Hashed(hash)))
            }
            Entry::Occupied(_) => match self.collisions.entry(address.normalized().into()) {
                Entry::Vacant(free) => {
                    free.insert(claim);
                    None
                }
                Entry::Occupied(taken) => Some((*taken.get(), Slot::Collision)),
            },
        }
    }

    /// Records `claim` on `address` in the slot [`Collector::claim_if_free`] found.
    fn set_claim(&mut self, slot: Slot, address: &EmailAddress, claim: Claim) {
        match slot {
            Slot::Hashed(hash) => {
                self.claims.insert(hash, claim);
            }
            Slot::Collision => {
                self.collisions.insert(address.normalized().into(), claim);
            }
        }
    }

    /// Adds an entry read at `line` of file 0; its aliases are checked one by
    /// one, and its other fields by the field rules ([`crate::values::vet_entry`]).
    /// Returns the entry's index, or `None` when its primary was already taken.
    pub(crate) fn add(&mut self, mut entry: DirectoryEntry, line: u64) -> Option<usize> {
        let aliases = std::mem::take(&mut entry.aliases);
        self.add_with_aliases(entry, aliases, line)
    }

    /// Like [`Collector::add`], with the aliases handed over separately (saves
    /// building the alias set twice).
    pub(crate) fn add_with_aliases(
        &mut self,
        entry: DirectoryEntry,
        aliases: impl IntoIterator<Item = EmailAddress>,
        line: u64,
    ) -> Option<usize> {
        self.add_claiming(entry, aliases, 0, line)
    }

    /// Adds an entry read from a directory object rather than a file line:
    /// issues about its addresses name the entry's own location (its DN).
    pub(crate) fn add_at_entry(&mut self, mut entry: DirectoryEntry) -> Option<usize> {
        let aliases = std::mem::take(&mut entry.aliases);
        self.add_claiming(entry, aliases, AT_ENTRY, 0)
    }

    /// Adds an entry read from a directory server (located by DN or object
    /// id); its addresses are claimed when the snapshot is made, entries in
    /// the order of their locations. A server returns objects in no promised
    /// order (AD's changes with replication and paging, Graph's with its
    /// shards), and which of two entries that claim one address keeps it
    /// must not change from run to run with that order: the gateway would
    /// move the address back and forth.
    pub(crate) fn add_in_location_order(&mut self, entry: DirectoryEntry) {
        self.pending.push(entry);
    }

    /// Adds what a directory source made of one object: the entry (in
    /// location order, see [`Collector::add_in_location_order`]) and its
    /// issues, or only the issue.
    pub(crate) fn add_mapped(&mut self, mapped: Mapped) {
        match mapped {
            Mapped::Entry(entry, issues) => {
                for issue in issues {
                    self.issue(issue);
                }
                self.add_in_location_order(*entry);
            }
            Mapped::NotARecipient => {}
            Mapped::Unreadable(issue) => self.issue(issue),
        }
    }

    fn add_claiming(
        &mut self,
        entry: DirectoryEntry,
        aliases: impl IntoIterator<Item = EmailAddress>,
        file: u8,
        line: u64,
    ) -> Option<usize> {
        let index = self.entries.len();
        let claim = Claim {
            entry: index,
            file,
            line,
            primary: true,
        };
        let here = |c: &Self| {
            if file == AT_ENTRY {
                entry
                    .location
                    .clone()
                    .unwrap_or_else(|| Location::record(index))
            } else {
                c.location(file, line)
            }
        };
        match self.claim_if_free(&entry.primary_email, claim) {
            Some((first, _)) if first.primary => {
                let issue =
                    SourceIssue::new(here(self), "a primary address that no earlier line uses")
                        .with_field("primary_email")
                        .with_value(entry.primary_email.as_str())
                        .with_related(self.claim_location(&first));
                self.issues.push(issue);
                return None;
            }
            Some((first, slot)) => {
                // An earlier alias of someone else: the primary wins, the alias goes.
                self.set_claim(slot, &entry.primary_email, claim);
                self.entries[first.entry]
                    .aliases
                    .remove(&entry.primary_email);
                let issue = SourceIssue::new(
                    self.claim_location(&first),
                    "an alias that is not another user's primary address",
                )
                .with_field("alias")
                .with_value(entry.primary_email.as_str())
                .with_related(here(self));
                self.issues.push(issue);
            }
            None => {}
        }
        let mut entry = entry;
        let problems = crate::values::vet_entry(&mut entry);
        if !problems.is_empty() {
            let at = match (&entry.location, file) {
                (Some(at), AT_ENTRY) => at.clone(),
                (None, AT_ENTRY) => Location::record(index),
                _ => self.location(file, line),
            };
            for (field, value, expected) in problems {
                self.issues.push(
                    SourceIssue::new(at.clone(), expected)
                        .with_field(field.as_str())
                        .with_value(&value),
                );
            }
        }
        self.entries.push(entry);
        for alias in aliases {
            self.add_alias(index, alias, file, line);
        }
        Some(index)
    }

    /// Gives `alias` (read at `line` of `file`) to entry `index`, unless another entry has it.
    pub(crate) fn add_alias(&mut self, index: usize, alias: EmailAddress, file: u8, line: u64) {
        if alias == self.entries[index].primary_email {
            return;
        }
        let claim = Claim {
            entry: index,
            file,
            line,
            primary: false,
        };
        match self.claim_if_free(&alias, claim) {
            Some((first, _)) if first.entry == index => {}
            Some((first, _)) => {
                let expected = if first.primary {
                    "an alias that is not another user's primary address"
                } else {
                    "an alias that no other user has"
                };
                let issue = SourceIssue::new(self.claim_location(&claim), expected)
                    .with_field("alias")
                    .with_value(alias.as_str())
                    .with_related(self.claim_location(&first));
                self.issues.push(issue);
            }
            None => {
                self.entries[index].aliases.insert(alias);
            }
        }
    }

    /// The entry whose primary address is `address`, if any.
    pub(crate) fn entry_with_primary(&self, address: &EmailAddress) -> Option<usize> {
        self.claim(address).filter(|c| c.primary).map(|c| c.entry)
    }

    /// The entries read so far.
    pub(crate) fn entries(&self) -> &[DirectoryEntry] {
        &self.entries
    }

    /// A snapshot of what was collected: complete unless the input broke.
    pub(crate) fn into_snapshot(mut self, source: &str, provided: FieldSet) -> DirectorySnapshot {
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_by(|a, b| {
            a.location
                .cmp(&b.location)
                .then_with(|| a.primary_email.cmp(&b.primary_email))
        });
        for entry in pending {
            self.add_at_entry(entry);
        }
        let mut snapshot = DirectorySnapshot::new(source, provided).with_entries(self.entries);
        snapshot.issues = self.issues.into_sorted();
        match self.partial {
            Some(reason) => snapshot.partial(reason),
            None => snapshot,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use muster_core::Field;

    fn entry(primary: &str, aliases: &[&str]) -> DirectoryEntry {
        DirectoryEntry::new(primary.parse().unwrap())
            .with_aliases(aliases.iter().map(|a| a.parse().unwrap()))
    }

    /// A normal collector, and one where every address hashes alike.
    fn collectors() -> [Collector; 2] {
        let mut colliding = Collector::new("u.csv");
        colliding.hasher = None;
        [Collector::new("u.csv"), colliding]
    }

    #[test]
    fn the_key_hash_tells_similar_addresses_apart() {
        let hasher = KeyHasher::random();
        let mut keys: Vec<Vec<u8>> = (0..20_000)
            .map(|i| format!("first.last{i}@example.com").into_bytes())
            .collect();
        // Differ only in the last, partial word, or only by trailing zero bytes.
        keys.extend([b"a@x.co".to_vec(), b"b@x.co".to_vec(), b"a@x.co\0".to_vec()]);
        keys.extend([b"abcdefgh".to_vec(), b"abcdefgh\0".to_vec(), Vec::new()]);
        let hashes: std::collections::HashSet<u64> = keys.iter().map(|k| hasher.hash(k)).collect();
        assert_eq!(hashes.len(), keys.len());
    }

    #[test]
    fn a_later_primary_takes_an_address_back_from_an_earlier_alias() {
        for mut c in collectors() {
            c.add(entry("a@x.com", &["shared@x.com"]), 2);
            c.add(entry("Shared@X.com", &[]), 5);
            c.add(entry("b@x.com", &["shared@x.com"]), 6);
            let s = c.into_snapshot("u.csv", FieldSet::empty());
            assert!(s.entries[0].aliases.is_empty());
            assert!(s.entries[2].aliases.is_empty());
            assert_eq!(s.entries.len(), 3);
            let places: Vec<_> = s
                .issues
                .iter()
                .map(|i| (i.location.clone(), i.related.clone()))
                .collect();
            assert_eq!(
                places,
                [
                    (Location::line("u.csv", 2), Some(Location::line("u.csv", 5))),
                    (Location::line("u.csv", 6), Some(Location::line("u.csv", 5))),
                ]
            );
        }
    }

    #[test]
    fn an_alias_claimed_twice_stays_with_the_first() {
        for mut c in collectors() {
            c.add(entry("a@x.com", &["s@x.com"]), 2);
            c.add(entry("b@x.com", &["s@x.com", "a@x.com", "t@x.com"]), 3);
            assert_eq!(c.add(entry("T@x.com", &[]), 4), Some(2));
            assert_eq!(c.add(entry("a@X.com", &[]), 5), None);
            assert_eq!(c.entry_with_primary(&"B@x.com".parse().unwrap()), Some(1));
            assert_eq!(c.entry_with_primary(&"s@x.com".parse().unwrap()), None);
            let s = c.into_snapshot("u.csv", FieldSet::empty());
            assert_eq!(s.entries[0].aliases.len(), 1);
            assert!(s.entries[1].aliases.is_empty());
            let lines: Vec<_> = s.issues.iter().map(|i| i.location.clone()).collect();
            assert_eq!(
                lines,
                [3, 3, 3, 5].map(|l| Location::line("u.csv", l)),
                "{:?}",
                s.issues
            );
        }
    }

    #[test]
    fn a_bad_value_from_a_directory_server_is_a_field_issue_at_its_dn_or_object_id() {
        let mut c = Collector::new("ldap");
        let mut ann = entry("ann@x.com", &[]).with_names("Ann", "Lee");
        ann.department = Some("Sales\u{202e}selaS".into());
        ann.location = Some(Location::dn("cn=ann,dc=x"));
        let mut bob = entry("bob@x.com", &[]).with_names(&"B".repeat(300), "Ray");
        bob.notes = Some("line one\nline two".into());
        bob.location = Some(Location::object_id("0b0b"));
        c.add_mapped(Mapped::Entry(Box::new(ann), Vec::new()));
        c.add_mapped(Mapped::Entry(Box::new(bob), Vec::new()));
        let s = c.into_snapshot("ldap", FieldSet::all());
        // Both read; the bad fields are empty and withheld, the rest kept.
        assert_eq!(s.entries.len(), 2);
        assert_eq!(s.entries[0].department, None);
        assert_eq!(
            s.entries[0].withheld,
            FieldSet::from_iter([Field::Department])
        );
        assert_eq!(s.entries[1].first_name, None);
        assert_eq!(
            s.entries[1].withheld,
            FieldSet::from_iter([Field::FirstName])
        );
        assert_eq!(s.entries[1].notes.as_deref(), Some("line one\nline two"));
        let shown: Vec<String> = s.issues.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "dn `cn=ann,dc=x`: department `Sales\\u{202e}selaS`: expected text without a bidi or \
                 invisible character (U+202E); this field is left as it is on the gateway",
                &format!(
                    "object 0b0b: first_name `{}…`: expected at most 256 characters (it has 300); \
                     this field is left as it is on the gateway",
                    "B".repeat(60)
                ),
            ]
        );
    }

    #[test]
    fn a_directory_servers_order_does_not_decide_who_keeps_an_address() {
        let at = |dn: &str, primary: &str, aliases: &[&str]| {
            let mut e = entry(primary, aliases);
            e.location = Some(Location::dn(dn));
            e
        };
        let objects = [
            at("cn=zed,dc=x", "zed@x.com", &["shared@x.com"]),
            at("cn=amy,dc=x", "amy@x.com", &["shared@x.com"]),
            at("cn=bob,dc=x", "bob@x.com", &[]),
        ];
        let snapshots: Vec<DirectorySnapshot> = [[0, 1, 2], [2, 1, 0], [1, 2, 0]]
            .iter()
            .map(|order| {
                let mut c = Collector::new("ldap");
                for &i in order {
                    c.add_in_location_order(objects[i].clone());
                }
                c.into_snapshot("ldap", FieldSet::empty())
            })
            .collect();
        assert!(snapshots.iter().all(|s| *s == snapshots[0]));
        // The entry whose DN sorts first keeps the address; the other's claim is the issue.
        let amy = &snapshots[0].entries[0];
        assert_eq!(amy.primary_email.as_str(), "amy@x.com");
        assert_eq!(amy.aliases.len(), 1);
        assert_eq!(snapshots[0].issues.len(), 1);
        assert_eq!(snapshots[0].issues[0].location, Location::dn("cn=zed,dc=x"));
    }
}
