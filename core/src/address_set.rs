//! [`AddressSet`]: the aliases of one account or entry.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::EmailAddress;

/// A set of addresses (an account's or an entry's aliases), ordered and
/// compared by their normalised form, like [`EmailAddress`] itself.
///
/// A sorted `Vec` rather than a `BTreeSet`: most accounts have a handful of
/// aliases, where a B-tree spends a 364-byte node and pointer-chasing
/// iteration on three addresses. Sources and the planner hold a million of
/// these sets; one small allocation each keeps them in cache and cheap to
/// compare. Inserting keeps the order (a binary search and a shift), so large
/// sets are best built with [`FromIterator`] / [`Extend`], which sort once.
///
/// ```
/// use muster_core::{AddressSet, EmailAddress};
/// let mut set: AddressSet = ["b@example.com", "A@example.com"]
///     .into_iter()
///     .map(|s| s.parse::<EmailAddress>())
///     .collect::<Result<_, _>>()?;
/// assert!(!set.insert("a@EXAMPLE.com".parse()?), "already there, in another spelling");
/// assert_eq!(set.iter().map(|a| a.as_str()).collect::<Vec<_>>(), ["A@example.com", "b@example.com"]);
/// # Ok::<(), muster_core::AddressError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddressSet(Vec<EmailAddress>);

impl AddressSet {
    /// An empty set (no allocation).
    #[must_use]
    pub const fn new() -> Self {
        AddressSet(Vec::new())
    }

    /// How many addresses.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The addresses in order (by normalised form).
    pub fn iter(&self) -> std::slice::Iter<'_, EmailAddress> {
        self.0.iter()
    }

    /// The addresses in order, as a slice.
    #[must_use]
    pub fn as_slice(&self) -> &[EmailAddress] {
        &self.0
    }

    /// True when an address equal to `address` (in any spelling) is in the set.
    #[must_use]
    pub fn contains(&self, address: &EmailAddress) -> bool {
        self.0.binary_search(address).is_ok()
    }

    /// The set's own spelling of `address`, if it holds it.
    #[must_use]
    pub fn get(&self, address: &EmailAddress) -> Option<&EmailAddress> {
        self.0.binary_search(address).ok().map(|i| &self.0[i])
    }

    /// Adds `address`; false (and the set's spelling kept) when it was there.
    pub fn insert(&mut self, address: EmailAddress) -> bool {
        match self.0.binary_search(&address) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, address);
                true
            }
        }
    }

    /// Removes `address` (in any spelling); true when it was there.
    pub fn remove(&mut self, address: &EmailAddress) -> bool {
        match self.0.binary_search(address) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// Keeps only the addresses `keep` accepts.
    pub fn retain(&mut self, keep: impl FnMut(&EmailAddress) -> bool) {
        self.0.retain(keep);
    }

    /// Removes every address.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The addresses in `self` that are not in `other`, in order.
    pub fn difference<'s>(
        &'s self,
        other: &'s AddressSet,
    ) -> impl Iterator<Item = &'s EmailAddress> + 's {
        self.0.iter().filter(move |a| !other.contains(a))
    }

    /// Sorts what was pushed; of equal addresses the one already in the set
    /// (or pushed first) stays, as with repeated [`AddressSet::insert`].
    fn restore_order(&mut self) {
        // Stable, so the first of equal addresses is the one kept.
        self.0.sort();
        self.0.dedup();
    }
}

impl fmt::Debug for AddressSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(&self.0).finish()
    }
}

impl Extend<EmailAddress> for AddressSet {
    fn extend<I: IntoIterator<Item = EmailAddress>>(&mut self, iter: I) {
        let before = self.0.len();
        self.0.extend(iter);
        if self.0.len() != before {
            self.restore_order();
        }
    }
}

impl<'a> Extend<&'a EmailAddress> for AddressSet {
    fn extend<I: IntoIterator<Item = &'a EmailAddress>>(&mut self, iter: I) {
        self.extend(iter.into_iter().cloned());
    }
}

impl FromIterator<EmailAddress> for AddressSet {
    fn from_iter<I: IntoIterator<Item = EmailAddress>>(iter: I) -> Self {
        let mut set = AddressSet(iter.into_iter().collect());
        set.restore_order();
        set
    }
}

impl<'a> FromIterator<&'a EmailAddress> for AddressSet {
    fn from_iter<I: IntoIterator<Item = &'a EmailAddress>>(iter: I) -> Self {
        iter.into_iter().cloned().collect()
    }
}

impl<const N: usize> From<[EmailAddress; N]> for AddressSet {
    fn from(addresses: [EmailAddress; N]) -> Self {
        addresses.into_iter().collect()
    }
}

impl IntoIterator for AddressSet {
    type Item = EmailAddress;
    type IntoIter = std::vec::IntoIter<EmailAddress>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a AddressSet {
    type Item = &'a EmailAddress;
    type IntoIter = std::slice::Iter<'a, EmailAddress>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A JSON array, in order (as a `BTreeSet` of addresses was).
impl Serialize for AddressSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// Any array of addresses; repeats (in any spelling) are dropped.
impl<'de> Deserialize<'de> for AddressSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<EmailAddress>::deserialize(deserializer).map(AddressSet::from_iter)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn addr(s: &str) -> EmailAddress {
        s.parse().unwrap()
    }

    #[test]
    fn keeps_the_first_spelling_like_a_btree_set() {
        let mut set = AddressSet::from([addr("Ann@example.com"), addr("bob@example.com")]);
        assert!(!set.insert(addr("ann@EXAMPLE.com")));
        assert_eq!(
            set.get(&addr("ANN@example.com")).unwrap().as_str(),
            "Ann@example.com"
        );
        set.extend([addr("ANN@example.com"), addr("cy@example.com")]);
        assert_eq!(
            set.iter().map(EmailAddress::as_str).collect::<Vec<_>>(),
            ["Ann@example.com", "bob@example.com", "cy@example.com"]
        );
        assert!(set.remove(&addr("BOB@example.com")));
        assert!(!set.remove(&addr("bob@example.com")));
        assert_eq!(set.len(), 2);
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["Ann@example.com","cy@example.com"]"#);
        let back: AddressSet =
            serde_json::from_str(r#"["cy@example.com","Ann@example.com","ann@example.com"]"#)
                .unwrap();
        assert_eq!(back, set);
        assert_eq!(
            format!("{set:?}"),
            format!("{:?}", set.iter().collect::<BTreeSet<_>>())
        );
    }

    proptest! {
        /// Every operation agrees with `BTreeSet`, which the type replaced.
        #[test]
        fn behaves_like_a_btree_set(ops in prop::collection::vec((0u8..4, 0usize..12, any::<bool>()), 0..60)) {
            let pool: Vec<EmailAddress> = (0..12)
                .map(|i| addr(&format!("{}{i}@example.com", if i % 2 == 0 { "u" } else { "U" })))
                .collect();
            let mut set = AddressSet::new();
            let mut model = BTreeSet::new();
            for (op, i, flag) in ops {
                let a = pool[i].clone();
                match op {
                    0 => prop_assert_eq!(set.insert(a.clone()), model.insert(a)),
                    1 => prop_assert_eq!(set.remove(&a), model.remove(&a)),
                    2 => {
                        let more: Vec<EmailAddress> = pool.iter().skip(i).step_by(3).cloned().collect();
                        set.extend(more.iter().cloned());
                        model.extend(more);
                    }
                    _ => {
                        set.retain(|x| (x.as_str().len() % 2 == 0) == flag);
                        model.retain(|x| (x.as_str().len() % 2 == 0) == flag);
                    }
                }
                prop_assert!(set.iter().eq(model.iter()));
                for p in &pool {
                    prop_assert_eq!(set.contains(p), model.contains(p));
                }
            }
        }
    }
}
