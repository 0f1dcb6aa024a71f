//! Signed plans, for approval workflows: HMAC-SHA256 over a plan's content.
//!
//! A plan's fingerprint catches accidents — a damaged file, a plan edited
//! by mistake — but not someone who can write the file: the hash is public,
//! so whoever edits a plan can recompute it. A signature needs a key: with
//! one, `plan` signs what it writes and `apply` refuses a plan that is
//! unsigned, signed with another key, or changed after it was signed.
//! Whoever holds the key on the apply host can sign too: keep it where only
//! the reviewers' approval step runs.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::content_hash::{Sink, walk};
use crate::error::PlanError;
use crate::plan::Plan;

type PlanMac = Hmac<Sha256>;

/// What names the signing scheme in the MAC, so a signature over anything
/// else muster might sign later cannot pass for a plan's.
const DOMAIN: &[u8] = b"muster plan signature v1";

/// A key that signs and checks plans. A secret like a password: it is never
/// shown (`Debug` prints only its id), and only its id goes into a plan.
#[derive(Clone)]
pub struct PlanKey {
    bytes: Box<[u8]>,
    id: String,
}

impl PlanKey {
    /// The shortest key accepted: 32 bytes, HMAC-SHA256's block strength.
    pub const MIN_LEN: usize = 32;

    /// A key from its bytes (a file's contents, an environment variable's
    /// text).
    ///
    /// # Errors
    /// [`PlanError::KeyTooShort`] below [`PlanKey::MIN_LEN`] bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<PlanKey, PlanError> {
        let bytes = bytes.into().into_boxed_slice();
        if bytes.len() < Self::MIN_LEN {
            return Err(PlanError::KeyTooShort { len: bytes.len() });
        }
        let digest = Sha256::new()
            .chain_update(b"muster plan key id")
            .chain_update(&bytes)
            .finalize();
        let id = hex(&digest[..8]);
        Ok(PlanKey { bytes, id })
    }

    /// The key's id: sixteen hex digits derived from it, which say which key
    /// signed a plan and reveal nothing of the key.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The MAC of an approval's canonical text (see [`crate::Selection`]).
    pub(crate) fn approval_mac(&self, canonical: &str) -> PlanMac {
        let mut mac = PlanMac::new_from_slice(&self.bytes)
            .unwrap_or_else(|e| unreachable!("HMAC takes a key of any length: {e}"));
        mac.update(b"muster approval signature v1");
        mac.update(canonical.as_bytes());
        mac
    }

    fn mac(&self, plan: &Plan) -> PlanMac {
        let mut mac = PlanMac::new_from_slice(&self.bytes)
            .unwrap_or_else(|e| unreachable!("HMAC takes a key of any length: {e}"));
        mac.update(DOMAIN);
        walk(&plan.content(), MacSink(mac)).0
    }
}

impl std::fmt::Debug for PlanKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A plan's signature: which key, and the MAC of the plan's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PlanSignature {
    /// The signing key's [`PlanKey::id`].
    pub key_id: String,
    /// HMAC-SHA256 of the plan's content, in hex.
    pub mac: String,
}

/// Feeds the content walk to the MAC.
struct MacSink(PlanMac);

impl Sink for MacSink {
    fn word(&mut self, w: u64) {
        self.0.update(&w.to_le_bytes());
    }
    fn text(&mut self, bytes: &[u8]) {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }
}

impl Plan {
    /// Signs the plan with `key` (replacing any signature it had).
    pub fn sign(&mut self, key: &PlanKey) {
        let mac = key.mac(self).finalize().into_bytes();
        self.signature = Some(PlanSignature {
            key_id: key.id().to_owned(),
            mac: hex(&mac),
        });
    }

    /// Checks the plan's signature against `key`, in constant time.
    ///
    /// # Errors
    /// [`PlanError::Unsigned`], [`PlanError::SignedWithAnotherKey`], or
    /// [`PlanError::BadSignature`] for a plan changed after it was signed
    /// (the error never says what the signature should have been).
    pub fn verify(&self, key: &PlanKey) -> Result<(), PlanError> {
        let Some(signature) = &self.signature else {
            return Err(PlanError::Unsigned);
        };
        if signature.key_id != key.id() {
            return Err(PlanError::SignedWithAnotherKey {
                plan_key: signature.key_id.clone(),
                key: key.id().to_owned(),
            });
        }
        let given = unhex(&signature.mac).ok_or(PlanError::BadSignature)?;
        key.mac(self)
            .verify_slice(&given)
            .map_err(|_| PlanError::BadSignature)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_key_is_refused_and_a_key_never_shows() {
        assert!(matches!(
            PlanKey::new(vec![7; 31]),
            Err(PlanError::KeyTooShort { len: 31 })
        ));
        let key = PlanKey::new(b"correct horse battery staple 1234".to_vec()).unwrap();
        let debug = format!("{key:?}");
        assert!(!debug.contains("horse"), "{debug}");
        assert_eq!(key.id().len(), 16);
    }

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_hex() {
        assert_eq!(unhex(&hex(&[0, 15, 255])), Some(vec![0, 15, 255]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
