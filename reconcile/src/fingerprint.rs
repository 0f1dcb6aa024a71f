//! A fast, stable, word-at-a-time hash: for the fingerprint of the
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
const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Hashes eight bytes per step (the FxHash mixing step), stable across runs.
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

    fn word(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
    }

    pub(crate) fn text(&mut self, s: &str) -> &mut Self {
        Hasher::write(self, s.as_bytes());
        self.word(0xff);
        self
    }

    pub(crate) fn opt(&mut self, s: Option<&str>) -> &mut Self {
        self.text(s.unwrap_or("\u{0}"))
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
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.word(u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.word(u64::from(i));
    }

    fn finish(&self) -> u64 {
        WordHash::finish(self)
    }
}

/// Builds the index's hasher.
pub(crate) type FastHash = BuildHasherDefault<WordHash>;

/// Hash of one gateway account (every field muster reads). Addresses are
/// hashed in their normalised form: a case-only difference is not a change,
/// and the normalised strings are the ones the planner touches anyway.
pub(crate) fn account(a: &Account) -> u64 {
    let mut h = WordHash::new();
    h.text(a.primary_email.normalized())
        .opt(a.first_name.as_deref())
        .opt(a.last_name.as_deref())
        .text(a.user_type.as_str())
        .text(if a.active { "1" } else { "0" })
        .text(if a.read_only { "1" } else { "0" })
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
        .text(if e.enabled { "1" } else { "0" })
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
    h.text(if known.type_set_by_hr { "1" } else { "0" })
        .text(if known.deactivated_by_muster {
            "1"
        } else {
            "0"
        })
        .opt(known.external_id.as_ref().map(|x| x.as_str()));
    h.finish()
}

/// Hash of any serialisable value (small inputs: policy, target, state).
pub(crate) fn json<T: serde::Serialize>(value: &T) -> u64 {
    let mut h = WordHash::new();
    h.text(&serde_json::to_string(value).unwrap_or_default());
    h.finish()
}
