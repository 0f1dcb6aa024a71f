//! A stable hash of the planner's inputs, so an executor can tell that a
//! saved plan was made from other data than it now sees.
//!
//! FNV-1a per item, items combined by wrapping addition so the result does
//! not depend on input order (the plan must not either). Not cryptographic:
//! it detects staleness, it does not authenticate.

use muster_core::{Account, DirectoryEntry};

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// An FNV-1a hasher over byte strings separated by a marker byte.
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Self {
        Fnv(OFFSET)
    }

    pub(crate) fn text(&mut self, s: &str) -> &mut Self {
        for b in s.bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(PRIME);
        }
        self.0 = (self.0 ^ 0xff).wrapping_mul(PRIME);
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

/// Hash of one gateway account (every field muster reads).
pub(crate) fn account(a: &Account) -> u64 {
    let mut h = Fnv::new();
    h.text(a.primary_email.as_str())
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
        h.text(x.as_str());
    }
    for x in a.groups.iter().chain(&a.allow_senders).chain(&a.block_senders) {
        h.text(x);
    }
    h.finish()
}

/// Hash of one directory entry from `source`.
pub(crate) fn entry(source: &str, e: &DirectoryEntry) -> u64 {
    let mut h = Fnv::new();
    h.text(source)
        .text(e.kind.as_str())
        .text(e.primary_email.as_str())
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
        h.text(x.as_str());
    }
    for x in e.member_of.iter().chain(&e.allow_senders).chain(&e.block_senders) {
        h.text(x);
    }
    h.finish()
}

/// Hash of any serialisable value (small inputs: policy, target, state).
pub(crate) fn json<T: serde::Serialize>(value: &T) -> u64 {
    let mut h = Fnv::new();
    h.text(&serde_json::to_string(value).unwrap_or_default());
    h.finish()
}
