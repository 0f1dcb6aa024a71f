//! The seed-003 "v2" shape: camelCase, `type: User | Alias`,
//! `status: active | inactive`, `roles`, `groups`.

use std::collections::BTreeMap;

use muster_core::{Account, EmailAddress, UserType};
use serde_json::{Map, Value};

use super::{address_set, list_value, opt_str, primary as primary_of, string_set, text_value};
use crate::model::{Assign, RemoteUser, WelcomeEmail};

pub(crate) const PRIMARY: &str = "primaryEmail";
pub(crate) const ALIASES: &str = "aliases";
const FIRST: &str = "firstName";
const LAST: &str = "lastName";
const TYPE: &str = "type";
const STATUS: &str = "status";
const ROLES: &str = "roles";
const GROUPS: &str = "groups";
const WELCOME: &str = "sendWelcomeEmail";
/// On a `type: Alias` record, the primary address of the user it belongs to.
const ALIAS_OF: &str = "aliasOf";
const ADMIN_ROLE: &str = "ADMINISTRATOR";

/// Fields this mapping writes from the typed model (ignored in `NewUser` extras).
pub(crate) const MODELLED: &[&str] = &[
    PRIMARY,
    FIRST,
    LAST,
    ALIASES,
    TYPE,
    STATUS,
    ROLES,
    GROUPS,
    WELCOME,
    ALIAS_OF,
    crate::model::PASSWORD_KEY,
];

/// True for a `type: Alias` record (an address of another user, not a user).
pub(crate) fn is_alias_record(obj: &Map<String, Value>) -> bool {
    obj.get(TYPE).and_then(Value::as_str) == Some("Alias")
}

pub(crate) fn decode(obj: &Map<String, Value>) -> Result<Account, String> {
    let mut a = Account::new(primary_of(obj, PRIMARY)?);
    a.first_name = opt_str(obj, FIRST)?.and_then(muster_core::non_blank);
    a.last_name = opt_str(obj, LAST)?.and_then(muster_core::non_blank);
    a.aliases = address_set(obj, ALIASES)?;
    a.active = match opt_str(obj, STATUS)? {
        None | Some("active") => true,
        Some("inactive") => false,
        Some(other) => {
            return Err(format!(
                "`{STATUS}` should be active or inactive, got {other:?}"
            ));
        }
    };
    if string_set(obj, ROLES)?.contains(ADMIN_ROLE) {
        a.user_type = UserType::OrganizationAdmin;
    }
    a.groups = string_set(obj, GROUPS)?;
    Ok(a)
}

/// The alias address and the primary address of its user, from a
/// `type: Alias` record.
pub(crate) fn decode_alias(
    obj: &Map<String, Value>,
) -> Result<(EmailAddress, EmailAddress), String> {
    let alias = primary_of(obj, PRIMARY)?;
    let owner = primary_of(obj, ALIAS_OF).map_err(|e| format!("alias record {alias}: {e}"))?;
    Ok((alias, owner))
}

/// Folds alias records into the aliases of the users they name, so both
/// dialects yield the same model: one account per person. The users keep
/// their order.
pub(crate) fn fold_aliases(
    users: &mut [RemoteUser],
    aliases: Vec<(EmailAddress, EmailAddress)>,
) -> Result<(), String> {
    if aliases.is_empty() {
        return Ok(());
    }
    let index: BTreeMap<EmailAddress, usize> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.account().primary_email.clone(), i))
        .collect();
    for (alias, owner) in aliases {
        let i = index
            .get(&owner)
            .ok_or_else(|| format!("alias record {alias} names unknown user {owner}"))?;
        users[*i].add_alias(alias);
    }
    Ok(())
}

pub(crate) fn write(obj: &mut Map<String, Value>, assign: &Assign) -> Result<(), &'static str> {
    let (key, value) = match assign {
        Assign::FirstName(v) => (FIRST, text_value(v)),
        Assign::LastName(v) => (LAST, text_value(v)),
        Assign::Aliases(set) => (ALIASES, list_value(set.iter().map(EmailAddress::as_str))),
        Assign::Type(UserType::EndUser) => (TYPE, Value::from("User")),
        Assign::Type(_) => return Err("setting a user type other than end_user"),
        Assign::Active(b) => (STATUS, Value::from(if *b { "active" } else { "inactive" })),
        Assign::Billable(_) => return Err("setting is_billable"),
        Assign::AllowSenders(_) | Assign::BlockSenders(_) => {
            return Err("personal sender lists");
        }
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
    fn decodes_camel_case_and_status() {
        let a = decode(&obj(json!({
            "primaryEmail": "jane@x.com", "firstName": "Jane", "lastName": "Doe",
            "type": "User", "status": "inactive", "roles": ["ADMINISTRATOR"], "groups": ["Sales"],
        })))
        .unwrap();
        assert_eq!(a.last_name.as_deref(), Some("Doe"));
        assert!(!a.active);
        assert_eq!(a.user_type, UserType::OrganizationAdmin);
        assert!(a.groups.contains("Sales"));
        let err = decode(&obj(json!({"primaryEmail": "j@x.com", "status": "gone"}))).unwrap_err();
        assert!(err.contains("status"), "{err}");
    }
}
