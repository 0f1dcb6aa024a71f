//! The index of primary addresses: normalised primary → gateway account, or
//! → a wanted entry no account has.
//!
//! At a million accounts the joins through this index (entries to accounts,
//! the state to accounts) are bound by memory latency: each lookup reads a
//! key, a table slot and the other side's key, all cold. So the table is
//! narrow (one `u64` per slot: a hash tag and an id, 16 MB for a million
//! accounts, where a map of `&str` would need four times that), and lookups
//! come in batches: all first probes of a batch, then all key checks. Each
//! stage is a short loop whose iterations do not depend on each other, so the
//! processor has the misses of a whole batch in flight at once instead of one
//! after another. The hashes are the addresses' own
//! ([`EmailAddress::key_hash`], taken at parse), so placing a key does not
//! wait for its text to arrive from memory: only the key check reads it.

use muster_core::{Account, EmailAddress};

use crate::wanted::NONE;

/// How many lookups [`PrimaryIndex::find_batch`] overlaps.
pub(crate) const BATCH: usize = 16;

/// Normalised primary → id: `i < accounts.len()` is gateway account `i`;
/// `accounts.len() + k` is the `k`-th primary only a wanted entry has.
pub(crate) struct PrimaryIndex<'a> {
    /// Linear probing; a slot holds `tag << 32 | (id + 1)`, 0 when empty.
    table: Vec<u64>,
    mask: usize,
    len: usize,
    accounts: &'a [Account],
    /// The accounts' keys one after another (account `i`'s ends at
    /// `ends[i]`): checking a key here reads two compact arrays instead of an
    /// account and its address, wherever they are.
    arena: String,
    ends: Vec<usize>,
    /// The primaries no account has.
    extra: Vec<&'a EmailAddress>,
}

fn tag(hash: u64) -> u64 {
    hash >> 32
}

fn home(hash: u64, mask: usize) -> usize {
    hash as usize & mask
}

impl<'a> PrimaryIndex<'a> {
    /// Indexes every account's primary, with room for `more` other primaries.
    /// Two accounts with one primary (which the gateway should not allow):
    /// the later one is indexed.
    pub(crate) fn new(accounts: &'a [Account], more: usize) -> Self {
        let mut index = PrimaryIndex {
            table: Vec::new(),
            mask: 0,
            len: 0,
            accounts,
            arena: String::with_capacity(accounts.len() * 24),
            ends: Vec::with_capacity(accounts.len()),
            extra: Vec::new(),
        };
        index.resize(accounts.len() + more);
        for (start, chunk) in accounts.chunks(BATCH).enumerate() {
            for a in chunk {
                index.arena.push_str(a.primary_email.normalized());
                index.ends.push(index.arena.len());
            }
            for (k, a) in chunk.iter().enumerate() {
                let id = (start * BATCH + k) as u32;
                index.insert(a.primary_email.key_hash(), id, true);
            }
        }
        index
    }

    /// Allocates a table for `keys` keys (at most three quarters full, as
    /// `find_or_add` keeps it: short probe runs stay within a cache line,
    /// and a table half the size misses the cache and the TLB less) and
    /// re-inserts what it holds.
    fn resize(&mut self, keys: usize) {
        let slots = (keys.max(6) * 4 / 3 + 1).next_power_of_two();
        let old = std::mem::replace(&mut self.table, vec![0; slots]);
        self.mask = slots - 1;
        self.len = 0;
        for entry in old.into_iter().filter(|&e| e != 0) {
            let id = (entry as u32).wrapping_sub(1);
            self.insert(self.address(id).key_hash(), id, false);
        }
    }

    /// The key of `id`.
    fn key(&self, id: u32) -> &str {
        let id = id as usize;
        match self.ends.get(id) {
            Some(&end) => {
                let start = id.checked_sub(1).map_or(0, |p| self.ends[p]);
                &self.arena[start..end]
            }
            None => self.extra[id - self.ends.len()].normalized(),
        }
    }

    /// The address of `id` (reads the account: only for re-hashing on growth).
    fn address(&self, id: u32) -> &EmailAddress {
        let id = id as usize;
        match self.accounts.get(id) {
            Some(a) => &a.primary_email,
            None => self.extra[id - self.accounts.len()],
        }
    }

    /// Puts `id` under its key (hash `h`); when `replace`, an id already
    /// under that key gives way, otherwise `id` must be new.
    fn insert(&mut self, h: u64, id: u32, replace: bool) {
        let mut at = home(h, self.mask);
        loop {
            let entry = self.table[at];
            if entry == 0 {
                self.table[at] = tag(h) << 32 | u64::from(id + 1);
                self.len += 1;
                return;
            }
            if replace
                && entry >> 32 == tag(h)
                && self.key((entry as u32).wrapping_sub(1)) == self.key(id)
            {
                self.table[at] = tag(h) << 32 | u64::from(id + 1);
                return;
            }
            at = (at + 1) & self.mask;
        }
    }

    /// The slot where probing for hash `h` stops first: a tag match or an empty slot.
    fn first_candidate(&self, h: u64) -> usize {
        let mut at = home(h, self.mask);
        loop {
            let entry = self.table[at];
            if entry == 0 || entry >> 32 == tag(h) {
                return at;
            }
            at = (at + 1) & self.mask;
        }
    }

    /// Probes on from slot `at` until `key` (hash `h`) is found or an empty slot ends the run.
    fn confirm(&self, mut at: usize, h: u64, key: &str) -> u32 {
        loop {
            let entry = self.table[at];
            if entry == 0 {
                return NONE;
            }
            if entry >> 32 == tag(h) {
                let id = (entry as u32).wrapping_sub(1);
                if self.key(id) == key {
                    return id;
                }
            }
            at = (at + 1) & self.mask;
        }
    }

    /// The id of `address`, or [`NONE`].
    pub(crate) fn find(&self, address: &EmailAddress) -> u32 {
        let h = address.key_hash();
        self.confirm(home(h, self.mask), h, address.normalized())
    }

    /// The ids of up to [`BATCH`] addresses (or [`NONE`]), in two overlapped stages.
    pub(crate) fn find_batch(&self, addresses: &[&EmailAddress], ids: &mut [u32]) {
        debug_assert!(addresses.len() <= BATCH && ids.len() == addresses.len());
        let mut at = [0usize; BATCH];
        for (a, address) in at.iter_mut().zip(addresses) {
            *a = self.first_candidate(address.key_hash());
        }
        for (k, id) in ids.iter_mut().enumerate() {
            let address = addresses[k];
            *id = self.confirm(at[k], address.key_hash(), address.normalized());
        }
    }

    /// The id of `address`, adding it as a primary no account has if it is new.
    pub(crate) fn find_or_add(&mut self, address: &'a EmailAddress) -> u32 {
        let found = self.find(address);
        if found != NONE {
            return found;
        }
        if (self.len + 1) * 4 > self.table.len() * 3 {
            self.resize(self.len * 2);
        }
        let id = u32::try_from(self.accounts.len() + self.extra.len()).unwrap_or(NONE);
        self.extra.push(address);
        self.insert(address.key_hash(), id, false);
        id
    }

    /// True when `id` is a gateway account.
    pub(crate) fn is_account(&self, id: u32) -> bool {
        (id as usize) < self.accounts.len()
    }

    /// How many primaries no account has.
    pub(crate) fn extra_len(&self) -> usize {
        self.extra.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> EmailAddress {
        s.parse().unwrap()
    }

    fn account(s: &str) -> Account {
        Account::new(email(s))
    }

    #[test]
    fn finds_accounts_and_added_primaries_in_batches_and_alone() {
        let accounts: Vec<Account> = (0..100)
            .map(|i| account(&format!("User{i}@Example.com")))
            .collect();
        let mut index = PrimaryIndex::new(&accounts, 0);
        let keys: Vec<EmailAddress> = (0..BATCH)
            .map(|i| email(&format!("user{}@example.com", i * 6)))
            .collect();
        let keys: Vec<&EmailAddress> = keys.iter().collect();
        let mut ids = [0u32; BATCH];
        index.find_batch(&keys, &mut ids);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(*id, (i * 6) as u32);
        }
        assert_eq!(index.find(&email("nobody@example.com")), NONE);
        // Added keys make the table grow past its first size and stay findable.
        let added: Vec<EmailAddress> = (0..500)
            .map(|i| email(&format!("new{i}@example.com")))
            .collect();
        for (k, key) in added.iter().enumerate() {
            let id = index.find_or_add(key);
            assert_eq!(id as usize, accounts.len() + k);
            assert!(!index.is_account(id));
            assert_eq!(index.find_or_add(key), id);
        }
        for (k, key) in added.iter().enumerate() {
            assert_eq!(index.find(key) as usize, accounts.len() + k);
        }
        assert_eq!(index.find(&email("USER99@example.com")), 99);
        assert_eq!(index.extra_len(), 500);
    }

    #[test]
    fn a_primary_on_two_accounts_indexes_the_later() {
        let accounts = vec![
            account("a@example.com"),
            account("A@example.com"),
            account("b@example.com"),
        ];
        let index = PrimaryIndex::new(&accounts, 0);
        assert_eq!(index.find(&email("a@example.com")), 1);
        assert_eq!(index.find(&email("b@example.com")), 2);
    }
}
