//! A fast, stable, folded-multiply hash: for the planner's hash maps
//! ([`FastHash`]) and for a plan's fingerprint (a hash of the plan's content).
//! The primary-address index uses the addresses' own
//! [`muster_core::EmailAddress::key_hash`] instead.
//!
//! Not cryptographic and not keyed: the fingerprint names a plan and
//! detects one edited after it was made, it does not authenticate; the maps'
//! keys are the organisation's own addresses, from its directories and its
//! gateway (no untrusted party chooses them in bulk to force collisions).

use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0xcbf2_9ce4_8422_2325;
const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;

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
    pub(crate) fn word(&mut self, w: u64) {
        self.0 = fold(self.0 ^ w, P0);
    }

    /// Bytes and their length: consecutive texts cannot run into each other.
    pub(crate) fn text_bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.0 = mix_bytes(self.0, bytes);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_do_not_run_into_each_other() {
        let hash = |parts: &[&str]| {
            let mut h = WordHash::new();
            for p in parts {
                h.text_bytes(p.as_bytes());
            }
            h.finish()
        };
        assert_ne!(hash(&["ab", "c"]), hash(&["a", "bc"]));
        assert_ne!(hash(&["", "x"]), hash(&["x", ""]));
        assert_ne!(hash(&[""]), hash(&[]));
        // Long texts (more than sixteen bytes) differ in every position.
        let long = "first.last@department.example.com";
        let base = hash(&[long]);
        for i in 0..long.len() {
            let mut bytes = long.as_bytes().to_vec();
            bytes[i] ^= 1;
            let other = String::from_utf8(bytes).unwrap();
            assert_ne!(hash(&[&other]), base, "byte {i}");
        }
    }
}
