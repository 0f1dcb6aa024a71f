//! Proofpoint Essentials v1: snake_case, `firstname`/`surname`,
//! `alias_emails`, `type`, `is_active`, sender lists under two spellings.

use muster_core::{Account, UserType};
use serde_json::{Map, Value};

use super::{
    address_set, list_value, opt_bool, opt_str, primary as primary_of, string_set, text_value,
};
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

pub(crate) fn decode(obj: &Map<String, Value>) -> Result<Account, String> {
    let mut a = Account::new(primary_of(obj, PRIMARY)?);
    a.first_name = opt_str(obj, FIRST)?.and_then(muster_core::non_blank);
    a.last_name = opt_str(obj, LAST)?.and_then(muster_core::non_blank);
    a.aliases = address_set(obj, ALIASES)?;
    if let Some(t) = opt_str(obj, TYPE)? {
        a.user_type = t.parse::<UserType>().unwrap_or_else(|never| match never {});
    }
    a.active = opt_bool(obj, ACTIVE)?.unwrap_or(true);
    a.billable = opt_bool(obj, BILLABLE)?;
    a.read_only = opt_bool(obj, READ_ONLY)?.unwrap_or(false);
    a.allow_senders = string_set(obj, spelling(obj, ALLOW))?;
    a.block_senders = string_set(obj, spelling(obj, BLOCK))?;
    Ok(a)
}

/// The spelling of a sender list this server uses: the one it returned,
/// else the more common one.
fn spelling(obj: &Map<String, Value>, names: [&'static str; 2]) -> &'static str {
    if !obj.contains_key(names[0]) && obj.contains_key(names[1]) {
        names[1]
    } else {
        names[0]
    }
}

pub(crate) fn write(obj: &mut Map<String, Value>, assign: &Assign) -> Result<(), &'static str> {
    let (key, value) = match assign {
        Assign::FirstName(v) => (FIRST, text_value(v)),
        Assign::LastName(v) => (LAST, text_value(v)),
        Assign::Aliases(set) => (ALIASES, list_value(set.iter().map(|e| e.as_str()))),
        Assign::Type(t) => (TYPE, Value::from(t.as_str())),
        Assign::Active(b) => (ACTIVE, Value::from(*b)),
        Assign::Billable(b) => (BILLABLE, Value::from(*b)),
        Assign::AllowSenders(set) => (spelling(obj, ALLOW), list_value(set)),
        Assign::BlockSenders(set) => (spelling(obj, BLOCK), list_value(set)),
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
