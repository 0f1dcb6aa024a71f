//! Proofpoint Essentials v1: snake_case, `firstname`/`surname`,
//! `alias_emails`, `type`, `is_active`, sender lists under two spellings.

use std::collections::BTreeSet;

use muster_core::{Account, EmailAddress, UserType};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::{list_value, text_value};
use crate::model::{Assign, WelcomeEmail};

pub(crate) const PRIMARY: &str = "primary_email";
pub(crate) const ALIASES: &str = "alias_emails";
const FIRST: &str = "firstname";
const LAST: &str = "surname";
const TYPE: &str = "type";
const ACTIVE: &str = "is_active";
const BILLABLE: &str = "is_billable";
const READ_ONLY: &str = "read_only_user";
const WELCOME: &str = "send_welcome_email";
/// Allowed senders: the spelling most clients use first, the other second.
const ALLOW: [&str; 2] = ["white_list_senders", "safe_list_senders"];
/// Blocked senders, likewise.
const BLOCK: [&str; 2] = ["black_list_senders", "block_list_senders"];

/// Fields this mapping writes from the typed model (ignored in `NewUser` extras).
pub(crate) const MODELLED: &[&str] = &[
    PRIMARY,
    FIRST,
    LAST,
    ALIASES,
    TYPE,
    ACTIVE,
    BILLABLE,
    READ_ONLY,
    WELCOME,
    ALLOW[0],
    ALLOW[1],
    BLOCK[0],
    BLOCK[1],
    crate::model::PASSWORD_KEY,
];

/// A v1 user object as muster reads it: the one place v1's field names meet
/// the typed model. It is read from a listing's text (planning, with no JSON
/// tree in between) or from the object a [`RemoteUser`](crate::RemoteUser)
/// keeps; fields it does not name are skipped.
#[derive(Deserialize)]
struct Wire {
    primary_email: EmailAddress,
    firstname: Option<String>,
    surname: Option<String>,
    alias_emails: Option<Vec<EmailAddress>>,
    #[serde(rename = "type")]
    user_type: Option<String>,
    is_active: Option<bool>,
    is_billable: Option<bool>,
    read_only_user: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    white_list_senders: Option<Option<BTreeSet<String>>>,
    #[serde(default, deserialize_with = "present")]
    safe_list_senders: Option<Option<BTreeSet<String>>>,
    #[serde(default, deserialize_with = "present")]
    black_list_senders: Option<Option<BTreeSet<String>>>,
    #[serde(default, deserialize_with = "present")]
    block_list_senders: Option<Option<BTreeSet<String>>>,
}

impl Wire {
    fn into_account(self) -> Account {
        let mut a = Account::new(self.primary_email);
        a.first_name = self.firstname.as_deref().and_then(muster_core::non_blank);
        a.last_name = self.surname.as_deref().and_then(muster_core::non_blank);
        a.aliases = self.alias_emails.unwrap_or_default().into_iter().collect();
        if let Some(t) = self.user_type {
            a.user_type = t.parse::<UserType>().unwrap_or_else(|never| match never {});
        }
        a.active = self.is_active.unwrap_or(true);
        a.billable = self.is_billable;
        a.read_only = self.read_only_user.unwrap_or(false);
        a.allow_senders = sender_list([self.white_list_senders, self.safe_list_senders]);
        a.block_senders = sender_list([self.black_list_senders, self.block_list_senders]);
        a
    }
}

/// A field that may be absent, `null` or a value, with "absent" kept apart
/// (`None`) from `null` (`Some(None)`): which spelling of a sender list the
/// server returned decides where it is written back.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The sender list under the spelling [`spelling`] picks (a `null` list is empty).
fn sender_list(spellings: [Option<Option<BTreeSet<String>>>; 2]) -> BTreeSet<String> {
    let present = [spellings[0].is_some(), spellings[1].is_some()];
    let [first, second] = spellings;
    let chosen = if spelling(present) == 0 {
        first
    } else {
        second
    };
    chosen.flatten().unwrap_or_default()
}

/// Reads one user object.
pub(crate) fn decode(obj: &Map<String, Value>) -> Result<Account, String> {
    super::read::<Wire, _>(obj).map(Wire::into_account)
}

/// A v1 listing's body, `{"users": [...]}`.
#[derive(Deserialize)]
struct Listing {
    users: Vec<Wire>,
}

/// Every account of a v1 listing, read straight from its text: at 10,000
/// users this is a fraction of building each object as a JSON tree first.
/// `Err` when anything does not decode; the caller then reads the body the
/// slow way, to name the record.
pub(crate) fn decode_listing(body: &str) -> Result<Vec<Account>, String> {
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let listing: Listing = super::read(&mut deserializer)?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(listing.users.into_iter().map(Wire::into_account).collect())
}

/// Which of a sender list's two spellings this server uses (0 or 1): the
/// one it returned, else the more common one. `present` says which of the
/// two the object holds.
fn spelling(present: [bool; 2]) -> usize {
    usize::from(!present[0] && present[1])
}

/// The name of the spelling [`spelling`] picks in `obj`.
fn spelling_in(obj: &Map<String, Value>, names: [&'static str; 2]) -> &'static str {
    names[spelling(names.map(|n| obj.contains_key(n)))]
}

pub(crate) fn write(obj: &mut Map<String, Value>, assign: &Assign) -> Result<(), &'static str> {
    let (key, value) = match assign {
        Assign::FirstName(v) => (FIRST, text_value(v)),
        Assign::LastName(v) => (LAST, text_value(v)),
        Assign::Aliases(set) => (ALIASES, list_value(set.iter().map(|e| e.as_str()))),
        Assign::Type(t) => (TYPE, Value::from(t.as_str())),
        Assign::Active(b) => (ACTIVE, Value::from(*b)),
        Assign::Billable(b) => (BILLABLE, Value::from(*b)),
        Assign::AllowSenders(set) => (spelling_in(obj, ALLOW), list_value(set)),
        Assign::BlockSenders(set) => (spelling_in(obj, BLOCK), list_value(set)),
        Assign::Welcome(w) => (WELCOME, Value::from(*w == WelcomeEmail::Send)),
        Assign::Password(_) => return Ok(()),
    };
    obj.insert(key.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn decodes_the_documented_fields() {
        let a = decode(&obj(json!({
            "uid": 7, "primary_email": "ann@x.com", "firstname": "Ann", "surname": "",
            "alias_emails": ["a2@x.com"], "type": "functional_account", "is_active": false,
            "is_billable": false, "read_only_user": true, "safe_list_senders": ["*@partner.com"],
        })))
        .unwrap();
        assert_eq!(a.first_name.as_deref(), Some("Ann"));
        assert_eq!(a.last_name, None);
        assert_eq!(a.aliases.len(), 1);
        assert_eq!(a.user_type, UserType::FunctionalAccount);
        assert!(!a.active && a.read_only);
        assert_eq!(a.billable, Some(false));
        assert!(a.allow_senders.contains("*@partner.com"));
    }

    /// The names the reader reads are the names the writer writes: every
    /// field written into an object is read back from it.
    #[test]
    fn what_is_written_is_read_back() {
        let mut o = obj(json!({"primary_email": "ann@x.com"}));
        let aliases: muster_core::AddressSet = ["a2@x.com".parse::<EmailAddress>().unwrap()]
            .into_iter()
            .collect();
        for assign in [
            Assign::FirstName(Some("Ann".into())),
            Assign::LastName(Some("Lee".into())),
            Assign::Aliases(aliases.clone()),
            Assign::Type(UserType::FunctionalAccount),
            Assign::Active(false),
            Assign::Billable(false),
            Assign::AllowSenders(["p.com".to_string()].into()),
            Assign::BlockSenders(["s.com".to_string()].into()),
        ] {
            write(&mut o, &assign).unwrap();
        }
        let a = decode(&o).unwrap();
        assert_eq!(
            (a.first_name.as_deref(), a.last_name.as_deref()),
            (Some("Ann"), Some("Lee"))
        );
        assert_eq!(
            (a.aliases, a.user_type),
            (aliases, UserType::FunctionalAccount)
        );
        assert_eq!((a.active, a.billable), (false, Some(false)));
        assert!(a.allow_senders.contains("p.com") && a.block_senders.contains("s.com"));
    }

    #[test]
    fn bad_fields_are_named() {
        let err = decode(&obj(
            json!({"primary_email": "ann@x.com", "is_active": "yes"}),
        ))
        .unwrap_err();
        assert!(err.contains("is_active"), "{err}");
        let err = decode(&obj(
            json!({"primary_email": "ann@x.com", "alias_emails": ["nope"]}),
        ))
        .unwrap_err();
        assert!(err.contains("alias_emails"), "{err}");
        let err = decode(&obj(json!({"firstname": "Ann"}))).unwrap_err();
        assert!(err.contains("primary_email"), "{err}");
    }

    #[test]
    fn sender_lists_are_written_under_the_spelling_the_server_returned() {
        let mut o = obj(
            json!({"primary_email": "a@x.com", "safe_list_senders": [], "black_list_senders": []}),
        );
        write(&mut o, &Assign::AllowSenders(["p.com".to_string()].into())).unwrap();
        write(
            &mut o,
            &Assign::BlockSenders(["spam.com".to_string()].into()),
        )
        .unwrap();
        assert_eq!(o["safe_list_senders"], json!(["p.com"]));
        assert_eq!(o["black_list_senders"], json!(["spam.com"]));
        assert!(!o.contains_key("white_list_senders") && !o.contains_key("block_list_senders"));
    }
}
