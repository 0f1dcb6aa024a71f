//! What the gateway holds ([`Account`]) and what a directory says ([`DirectoryEntry`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::address_set::AddressSet;
use crate::email::EmailAddress;
use crate::fields::FieldSet;
use crate::kinds::{ExternalId, RecipientKind, UserType};
use crate::snapshot::Location;

/// An account on the gateway, in muster's typed model.
///
/// The gateway client maps its wire dialects to and from this type and keeps
/// every field muster does not model next to it, so nothing is lost on update.
/// Optional text fields use `None` for "empty"; [`non_blank`] turns the
/// empty strings APIs like to send into `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Account {
    /// The identity of the account on the gateway; immutable there.
    pub primary_email: EmailAddress,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Secondary addresses that deliver to this account.
    pub aliases: AddressSet,
    /// The gateway's account type.
    pub user_type: UserType,
    /// Whether the account is active (`is_active`).
    pub active: bool,
    /// Whether the account uses a licence, when the gateway says.
    pub billable: Option<bool>,
    /// Read-only administrators and users are never changed by muster.
    pub read_only: bool,
    /// Mobile phone, international format.
    pub mobile: Option<String>,
    /// Other phone.
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Group names, where the gateway has groups.
    pub groups: BTreeSet<String>,
    /// Personal allowed senders (addresses or domains, `*` wildcards allowed).
    pub allow_senders: BTreeSet<String>,
    /// Personal blocked senders.
    pub block_senders: BTreeSet<String>,
}

impl Account {
    /// An active end user with nothing but an address.
    #[must_use]
    pub fn new(primary_email: EmailAddress) -> Self {
        Account {
            primary_email,
            first_name: None,
            last_name: None,
            aliases: AddressSet::new(),
            user_type: UserType::EndUser,
            active: true,
            billable: None,
            read_only: false,
            mobile: None,
            phone: None,
            company: None,
            department: None,
            notes: None,
            groups: BTreeSet::new(),
            allow_senders: BTreeSet::new(),
            block_senders: BTreeSet::new(),
        }
    }

    /// Sets the account type.
    #[must_use]
    pub fn with_type(mut self, user_type: UserType) -> Self {
        self.user_type = user_type;
        self
    }

    /// Sets first and last name (blank strings become `None`).
    #[must_use]
    pub fn with_names(mut self, first: &str, last: &str) -> Self {
        self.first_name = non_blank(first);
        self.last_name = non_blank(last);
        self
    }

    /// Adds aliases.
    #[must_use]
    pub fn with_aliases(mut self, aliases: impl IntoIterator<Item = EmailAddress>) -> Self {
        self.aliases.extend(aliases);
        self
    }

    /// Sets whether the account is active.
    #[must_use]
    pub fn with_active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }

    /// The primary address followed by the aliases: every address that delivers here.
    pub fn addresses(&self) -> impl Iterator<Item = &EmailAddress> {
        std::iter::once(&self.primary_email).chain(self.aliases.iter())
    }
}

/// One recipient as a directory source describes it.
///
/// Which of these fields mean anything is declared by the snapshot's
/// provided-field set: a field the source does not provide is left at its
/// default here and ignored by the planner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DirectoryEntry {
    /// What kind of recipient this is.
    pub kind: RecipientKind,
    /// The primary (reply) address.
    pub primary_email: EmailAddress,
    /// Secondary addresses.
    pub aliases: AddressSet,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Mobile phone, international format.
    pub mobile: Option<String>,
    /// Other phone.
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// False when the directory account is disabled. For shared and room
    /// mailboxes this is normal and does not mean the recipient is gone.
    pub enabled: bool,
    /// Names of groups this entry belongs to.
    pub member_of: BTreeSet<String>,
    /// The source's stable identifier (objectGUID, Graph id, employee number).
    pub external_id: Option<ExternalId>,
    /// Personal allowed senders (e.g. Postini `approved_senders`).
    pub allow_senders: BTreeSet<String>,
    /// Personal blocked senders (e.g. Postini `blocked_senders`).
    pub block_senders: BTreeSet<String>,
    /// Source-specific attributes kept for callers and previews.
    pub attributes: BTreeMap<String, String>,
    /// Where the entry came from (file and line, DN, object id), for messages.
    pub location: Option<Location>,
    /// Fields whose value in the source could not be used (too long, a
    /// control, bidi or invisible character, text the file's encoding could
    /// not decode, an alias that is not an address): each is an issue at
    /// this entry's location, and the planner leaves that field of this
    /// account as it is on the gateway, as if the source did not provide it.
    /// The record itself is read: one odd value must neither hide the
    /// person (who would look absent) nor hold everybody's deletions.
    #[serde(default, skip_serializing_if = "nothing_withheld")]
    pub withheld: FieldSet,
}

impl DirectoryEntry {
    /// An enabled user mailbox with nothing but an address.
    #[must_use]
    pub fn new(primary_email: EmailAddress) -> Self {
        DirectoryEntry {
            kind: RecipientKind::UserMailbox,
            primary_email,
            aliases: AddressSet::new(),
            first_name: None,
            last_name: None,
            mobile: None,
            phone: None,
            company: None,
            department: None,
            notes: None,
            enabled: true,
            member_of: BTreeSet::new(),
            external_id: None,
            allow_senders: BTreeSet::new(),
            block_senders: BTreeSet::new(),
            attributes: BTreeMap::new(),
            location: None,
            withheld: FieldSet::empty(),
        }
    }

    /// Sets the recipient kind.
    #[must_use]
    pub fn with_kind(mut self, kind: RecipientKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets first and last name (blank strings become `None`).
    #[must_use]
    pub fn with_names(mut self, first: &str, last: &str) -> Self {
        self.first_name = non_blank(first);
        self.last_name = non_blank(last);
        self
    }

    /// Adds aliases.
    #[must_use]
    pub fn with_aliases(mut self, aliases: impl IntoIterator<Item = EmailAddress>) -> Self {
        self.aliases.extend(aliases);
        self
    }

    /// Sets whether the directory account is enabled.
    #[must_use]
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Sets where the entry came from.
    #[must_use]
    pub fn with_location(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// The primary address followed by the aliases.
    pub fn addresses(&self) -> impl Iterator<Item = &EmailAddress> {
        std::iter::once(&self.primary_email).chain(self.aliases.iter())
    }
}

/// For serde: `withheld` is left out of the JSON when empty.
fn nothing_withheld(set: &FieldSet) -> bool {
    set.is_empty()
}

/// Trims `s` and returns `None` when nothing is left.
///
/// ```
/// assert_eq!(muster_core::non_blank("  Ann "), Some("Ann".to_string()));
/// assert_eq!(muster_core::non_blank("   "), None);
/// ```
#[must_use]
pub fn non_blank(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_lists_primary_then_sorted_aliases() {
        let a = Account::new("a@example.com".parse().unwrap()).with_aliases([
            "z@example.com".parse().unwrap(),
            "b@example.com".parse().unwrap(),
        ]);
        let all: Vec<String> = a.addresses().map(ToString::to_string).collect();
        assert_eq!(all, ["a@example.com", "b@example.com", "z@example.com"]);
    }

    #[test]
    fn withheld_fields_round_trip_and_are_left_out_of_the_json_when_none() {
        let mut e = DirectoryEntry::new("ann@example.com".parse().unwrap());
        let json = serde_json::to_string(&e).unwrap();
        assert!(!json.contains("withheld"), "{json}");
        e.withheld.insert(crate::Field::FirstName);
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(r#""withheld":["first_name"]"#), "{json}");
        assert_eq!(serde_json::from_str::<DirectoryEntry>(&json).unwrap(), e);
    }

    #[test]
    fn entry_serde_round_trip() {
        let e = DirectoryEntry::new("Ann@Example.com".parse().unwrap())
            .with_kind(RecipientKind::SharedMailbox)
            .with_names("Ann", " ")
            .with_enabled(false)
            .with_location(Location::line("users.csv", 3));
        let json = serde_json::to_string(&e).unwrap();
        let back: DirectoryEntry = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.last_name, None);
        assert_eq!(back.primary_email.as_str(), "Ann@Example.com");
    }
}
