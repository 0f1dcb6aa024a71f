//! A fast, stable, folded-multiply hash: for the fingerprint of the
//! planner's inputs (so an executor can tell a saved plan was made from other
//! data than it now sees) and for the planner's address index.
//!
//! Items are combined by wrapping addition so the fingerprint does not
//! depend on input order (the plan must not either). Not cryptographic and
//! not keyed: it detects staleness, it does not authenticate, and the index
//! keys are the organisation's own addresses (no untrusted party chooses
//! them to force collisions).

use std::hash::{BuildHasherDefault, Hasher};

use muster_core::{Account, DirectoryEntry};

const SEED: u64 = 0xcbf2_9ce4_8422_2325;
const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;
/// Stands for a field that has no value (distinct from any text's hash input).
const ABSENT: u64 = 0x8ebc_6af0_9c88_c6e3;

/// The 128-bit product of `a` and `b`, folded to 64 bits: one multiply
/// mixes sixteen bytes, where a rotate-xor-multiply chain needs two
/// dependent steps for eight.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

#[inline]
fn read8(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

#[inline]
fn read4(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u64::from(u32::from_le_bytes(w))
}

/// Hashes `bytes` into `state`, sixteen bytes per multiply (short inputs,
/// most addresses and names, are read as two overlapping words). The length
/// is mixed in, so consecutive texts cannot run into each other.
#[inline]
fn mix_bytes(state: u64, bytes: &[u8]) -> u64 {
    let len = bytes.len();
    let mut s = state ^ (len as u64).wrapping_mul(P0);
    let (a, b) = if len <= 16 {
        if len >= 8 {
            (read8(bytes, 0), read8(bytes, len - 8))
        } else if len >= 4 {
            (read4(bytes, 0), read4(bytes, len - 4))
        } else if len > 0 {
            let x = (u64::from(bytes[0]) << 16)
                | (u64::from(bytes[len / 2]) << 8)
                | u64::from(bytes[len - 1]);
            (x, 0)
        } else {
            (0, 0)
        }
    } else {
        let mut i = 0;
        while len - i > 16 {
            s = fold(read8(bytes, i) ^ P1, read8(bytes, i + 8) ^ s);
            i += 16;
        }
        (read8(bytes, len - 16), read8(bytes, len - 8))
    };
    fold(a ^ P1, b ^ s)
}

/// A fast, stable (unkeyed) hash: the planner's index hasher and the
/// fingerprint's item hash.
#[derive(Clone, Copy)]
pub(crate) struct WordHash(u64);

impl Default for WordHash {
    fn default() -> Self {
        WordHash(SEED)
    }
}

impl WordHash {
    pub(crate) fn new() -> Self {
        WordHash::default()
    }

    #[inline]
    fn word(&mut self, w: u64) {
        self.0 = fold(self.0 ^ w, P0);
    }

    pub(crate) fn text(&mut self, s: &str) -> &mut Self {
        self.0 = mix_bytes(self.0, s.as_bytes());
        self
    }

    pub(crate) fn opt(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.text(s),
            None => {
                self.word(ABSENT);
                self
            }
        }
    }

    /// Up to 64 flags in one step.
    pub(crate) fn flags(&mut self, bits: u64) -> &mut Self {
        self.word(bits ^ ABSENT.rotate_left(17));
        self
    }

    /// The hash, mixed so that sums of similar items do not cancel out.
    pub(crate) fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x
    }
}

impl Hasher for WordHash {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0 = mix_bytes(self.0, bytes);
    }

    /// `str`'s `Hash` ends every string with `0xff`; the length is already
    /// mixed in, so this only has to be cheap.
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 ^= u64::from(i);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.word(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.word(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.word(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds the index's hasher.
pub(crate) type FastHash = BuildHasherDefault<WordHash>;

/// Hash of one normalised address on its own (the planner's alias filter).
pub(crate) fn address(normalized: &str) -> u64 {
    let mut h = WordHash::new();
    h.text(normalized);
    h.finish()
}

/// Hash of one gateway account (every field muster reads). Addresses are
/// hashed in their normalised form: a case-only difference is not a change,
/// and the normalised strings are the ones the planner touches anyway.
pub(crate) fn account(a: &Account) -> u64 {
    let mut h = WordHash::new();
    h.text(a.primary_email.normalized())
        .opt(a.first_name.as_deref())
        .opt(a.last_name.as_deref())
        .text(a.user_type.as_str())
        .flags(u64::from(a.active) | u64::from(a.read_only) << 1)
        .opt(a.mobile.as_deref())
        .opt(a.phone.as_deref())
        .opt(a.company.as_deref())
        .opt(a.department.as_deref())
        .opt(a.notes.as_deref());
    for x in &a.aliases {
        h.text(x.normalized());
    }
    for x in a
        .groups
        .iter()
        .chain(&a.allow_senders)
        .chain(&a.block_senders)
    {
        h.text(x);
    }
    h.finish()
}

/// Hash of one directory entry from `source`.
pub(crate) fn entry(source: &str, e: &DirectoryEntry) -> u64 {
    let mut h = WordHash::new();
    h.text(source)
        .text(e.kind.as_str())
        .text(e.primary_email.normalized())
        .opt(e.first_name.as_deref())
        .opt(e.last_name.as_deref())
        .opt(e.mobile.as_deref())
        .opt(e.phone.as_deref())
        .opt(e.company.as_deref())
        .opt(e.department.as_deref())
        .opt(e.notes.as_deref())
        .flags(u64::from(e.enabled))
        .opt(e.external_id.as_ref().map(|x| x.as_str()));
    for x in &e.aliases {
        h.text(x.normalized());
    }
    for x in e
        .member_of
        .iter()
        .chain(&e.allow_senders)
        .chain(&e.block_senders)
    {
        h.text(x);
    }
    h.finish()
}

/// Hash of what the state knows about one account.
pub(crate) fn account_state(
    email: &muster_core::EmailAddress,
    known: &crate::state::AccountState,
) -> u64 {
    let mut h = WordHash::new();
    h.text(email.normalized());
    match &known.origin {
        muster_core::Origin::Directory(s) => h.text("directory:").text(s),
        other => h.text(&other.to_string()),
    };
    h.flags(u64::from(known.type_set_by_hr) | u64::from(known.deactivated_by_muster) << 1)
        .opt(known.external_id.as_ref().map(|x| x.as_str()));
    h.finish()
}

/// Hash of any serialisable value (small inputs: policy, target, state).
pub(crate) fn json<T: serde::Serialize>(value: &T) -> u64 {
    let mut h = WordHash::new();
    h.text(&serde_json::to_string(value).unwrap_or_default());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use muster_core::{EmailAddress, UserType};

    fn email(s: &str) -> EmailAddress {
        s.parse().unwrap()
    }

    #[test]
    fn every_account_field_moves_the_hash() {
        let base = Account::new(email("ann@example.com"))
            .with_names("Ann", "Lee")
            .with_aliases([email("a@example.com")]);
        let h = account(&base);
        let edits: [fn(&mut Account); 14] = [
            |a| a.primary_email = email("ann2@example.com"),
            |a| a.first_name = Some("Anne".into()),
            |a| a.last_name = None,
            |a| a.user_type = UserType::SilentUser,
            |a| a.active = !a.active,
            |a| a.read_only = !a.read_only,
            |a| a.mobile = Some(String::new()),
            |a| a.phone = Some("+1".into()),
            |a| a.company = Some("X".into()),
            |a| a.department = Some("Y".into()),
            |a| a.notes = Some("Z".into()),
            |a| {
                a.aliases.insert(email("b@example.com"));
            },
            |a| {
                a.groups.insert("staff".into());
            },
            |a| {
                a.block_senders.insert("spam.test".into());
            },
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut changed = base.clone();
            edit(&mut changed);
            assert_ne!(account(&changed), h, "edit {i} not seen");
        }
        // A case-only difference in an address is not a change.
        let mut recased = base.clone();
        recased.primary_email = email("Ann@Example.com");
        assert_eq!(account(&recased), h);
    }

    #[test]
    fn texts_do_not_run_into_each_other() {
        let hash = |parts: &[Option<&str>]| {
            let mut h = WordHash::new();
            for p in parts {
                h.opt(*p);
            }
            h.finish()
        };
        assert_ne!(
            hash(&[Some("ab"), Some("c")]),
            hash(&[Some("a"), Some("bc")])
        );
        assert_ne!(hash(&[None]), hash(&[Some("")]));
        assert_ne!(hash(&[Some(""), None]), hash(&[None, Some("")]));
        // Long texts (more than sixteen bytes) differ in every position.
        let long = "first.last@department.example.com";
        let base = hash(&[Some(long)]);
        for i in 0..long.len() {
            let mut bytes = long.as_bytes().to_vec();
            bytes[i] ^= 1;
            let other = String::from_utf8(bytes).unwrap();
            assert_ne!(hash(&[Some(&other)]), base, "byte {i}");
        }
    }

    #[test]
    fn entry_fields_and_source_move_the_hash() {
        let e = DirectoryEntry::new(email("ann@example.com")).with_names("Ann", "Lee");
        let h = entry("ldap", &e);
        assert_ne!(entry("users.csv", &e), h);
        let mut disabled = e.clone();
        disabled.enabled = false;
        assert_ne!(entry("ldap", &disabled), h);
        let mut dept = e.clone();
        dept.department = Some("Sales".into());
        assert_ne!(entry("ldap", &dept), h);
    }
}
