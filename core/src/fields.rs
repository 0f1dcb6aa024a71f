//! Which fields a source provides and muster owns.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::kinds::UnknownValue;

/// A field of a directory entry that can be compared with a gateway account.
///
/// The primary address is not a field: it is the identity of the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Field {
    /// Given name.
    FirstName,
    /// Family name (`surname` on the wire).
    LastName,
    /// Secondary addresses.
    Aliases,
    /// Mobile phone number (international format).
    Mobile,
    /// Other phone number.
    Phone,
    /// Company name.
    Company,
    /// Department.
    Department,
    /// Free-text notes (AD `info`).
    Notes,
    /// Whether the account is enabled (the gateway's `is_active`).
    Enabled,
    /// Group memberships.
    Groups,
    /// What kind of recipient the entry is (decides the gateway type at creation).
    Kind,
    /// Personal allowed senders.
    AllowSenders,
    /// Personal blocked senders.
    BlockSenders,
    /// The source's stable identifier.
    ExternalId,
}

impl Field {
    /// Every field, in a stable order.
    pub const ALL: [Field; 14] = [
        Field::FirstName,
        Field::LastName,
        Field::Aliases,
        Field::Mobile,
        Field::Phone,
        Field::Company,
        Field::Department,
        Field::Notes,
        Field::Enabled,
        Field::Groups,
        Field::Kind,
        Field::AllowSenders,
        Field::BlockSenders,
        Field::ExternalId,
    ];

    /// The stable spelling used in config, plans and CSV.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Aliases => "aliases",
            Field::Mobile => "mobile",
            Field::Phone => "phone",
            Field::Company => "company",
            Field::Department => "department",
            Field::Notes => "notes",
            Field::Enabled => "enabled",
            Field::Groups => "groups",
            Field::Kind => "kind",
            Field::AllowSenders => "allow_senders",
            Field::BlockSenders => "block_senders",
            Field::ExternalId => "external_id",
        }
    }

    const fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Field {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Field::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownValue {
                value: s.to_owned(),
                what: "field",
                expected: "first_name, last_name, aliases, mobile, phone, company, department, notes, enabled, groups, kind, allow_senders, block_senders, external_id",
            })
    }
}

impl Serialize for Field {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A set of [`Field`]s: what a snapshot provides, what a policy owns.
///
/// The planner only compares fields that are in both sets, so a CSV without a
/// mobile column never clears anybody's mobile number.
///
/// ```
/// use muster_core::{Field, FieldSet};
/// let provided = FieldSet::from_iter([Field::FirstName, Field::LastName, Field::Mobile]);
/// let owned = FieldSet::from_iter([Field::FirstName, Field::Aliases]);
/// assert_eq!(provided.intersection(owned).iter().collect::<Vec<_>>(), vec![Field::FirstName]);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FieldSet(u32);

impl FieldSet {
    /// No fields.
    #[must_use]
    pub const fn empty() -> Self {
        FieldSet(0)
    }

    /// Every field.
    #[must_use]
    pub fn all() -> Self {
        Field::ALL.into_iter().collect()
    }

    /// This set with `field` added.
    #[must_use]
    pub const fn with(self, field: Field) -> Self {
        FieldSet(self.0 | field.bit())
    }

    /// This set without `field`.
    #[must_use]
    pub const fn without(self, field: Field) -> Self {
        FieldSet(self.0 & !field.bit())
    }

    /// Adds `field`.
    pub fn insert(&mut self, field: Field) {
        self.0 |= field.bit();
    }

    /// Removes `field`.
    pub fn remove(&mut self, field: Field) {
        self.0 &= !field.bit();
    }

    /// True when `field` is in the set.
    #[must_use]
    pub const fn contains(self, field: Field) -> bool {
        self.0 & field.bit() != 0
    }

    /// Fields in both sets.
    #[must_use]
    pub const fn intersection(self, other: FieldSet) -> FieldSet {
        FieldSet(self.0 & other.0)
    }

    /// Fields in either set.
    #[must_use]
    pub const fn union(self, other: FieldSet) -> FieldSet {
        FieldSet(self.0 | other.0)
    }

    /// True when the set has no fields.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Fields in this set and not in `other`.
    #[must_use]
    pub const fn difference(self, other: FieldSet) -> FieldSet {
        FieldSet(self.0 & !other.0)
    }

    /// The fields, in [`Field::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Field> {
        Field::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

impl FromIterator<Field> for FieldSet {
    fn from_iter<I: IntoIterator<Item = Field>>(iter: I) -> Self {
        iter.into_iter().fold(FieldSet::empty(), FieldSet::with)
    }
}

impl Extend<Field> for FieldSet {
    fn extend<I: IntoIterator<Item = Field>>(&mut self, iter: I) {
        for f in iter {
            self.insert(f);
        }
    }
}

impl fmt::Debug for FieldSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for FieldSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for FieldSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<Field>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let mut s = FieldSet::empty().with(Field::Mobile).with(Field::Notes);
        assert!(s.contains(Field::Mobile));
        assert!(!s.contains(Field::Phone));
        s.remove(Field::Mobile);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![Field::Notes]);
        assert_eq!(FieldSet::all().iter().count(), Field::ALL.len());
        assert!(FieldSet::empty().is_empty());
    }

    #[test]
    fn serde_is_a_sorted_list_of_names() {
        let s = FieldSet::from_iter([Field::Notes, Field::FirstName]);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"["first_name","notes"]"#);
        assert_eq!(serde_json::from_str::<FieldSet>(&json).unwrap(), s);
        assert!(serde_json::from_str::<FieldSet>(r#"["shoe_size"]"#).is_err());
    }
}
