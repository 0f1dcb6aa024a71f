//! The two wire mappings of one typed model.
//!
//! Each dialect knows how to read an [`Account`](muster_core::Account) out
//! of a JSON object and how to write an assignment into one. Updates start
//! from the object exactly as read, so everything a dialect does not write
//! goes back unchanged.

pub(crate) mod v1;
pub(crate) mod v2;

use std::collections::BTreeSet;

use muster_core::{AddressSet, EmailAddress};
use serde_json::{Map, Value};

use crate::model::{Assign, NewUser, PASSWORD_KEY, RemoteUser};
use crate::{Dialect, Error};

/// Reads one user object.
pub(crate) fn decode_user(dialect: Dialect, obj: Map<String, Value>) -> Result<RemoteUser, String> {
    let account = decode_account(dialect, &obj)?;
    Ok(RemoteUser::new(account, obj))
}

/// The account a user object describes, in `dialect`'s mapping (the object
/// is only read: the caller keeps it, to move it into the user or to quote
/// it in an error).
pub(crate) fn decode_account(
    dialect: Dialect,
    obj: &Map<String, Value>,
) -> Result<muster_core::Account, String> {
    match dialect {
        Dialect::RestV2 => v2::decode(obj),
        _ => v1::decode(obj),
    }
}

/// Writes `assigns` into `obj`, touching nothing else.
pub(crate) fn apply(
    dialect: Dialect,
    obj: &mut Map<String, Value>,
    assigns: &[Assign],
) -> Result<(), Error> {
    for assign in assigns {
        if let Assign::Password(p) = assign {
            use secrecy::ExposeSecret;
            obj.insert(PASSWORD_KEY.into(), Value::from(p.expose_secret()));
            continue;
        }
        let written = match dialect {
            Dialect::RestV2 => v2::write(obj, assign),
            _ => v1::write(obj, assign),
        };
        written.map_err(|operation| Error::Unsupported { operation, dialect })?;
    }
    Ok(())
}

/// The JSON object that creates `new`.
pub(crate) fn encode_new(dialect: Dialect, new: &NewUser) -> Result<Map<String, Value>, Error> {
    let (primary_key, modelled) = match dialect {
        Dialect::RestV2 => (v2::PRIMARY, v2::MODELLED),
        _ => (v1::PRIMARY, v1::MODELLED),
    };
    let mut obj: Map<String, Value> = new
        .extra()
        .iter()
        .filter(|(k, _)| !modelled.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    obj.insert(
        primary_key.into(),
        Value::from(new.account().primary_email.as_str()),
    );
    apply(dialect, &mut obj, &new.assignments())?;
    Ok(obj)
}

/// Every address a request body names, so a "domain not registered" answer
/// can say which domain.
pub(crate) fn addresses_in(obj: &Map<String, Value>) -> Vec<EmailAddress> {
    let mut out = Vec::new();
    for key in [v1::PRIMARY, v2::PRIMARY] {
        if let Some(e) = obj
            .get(key)
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
        {
            out.push(e);
        }
    }
    for key in [v1::ALIASES, v2::ALIASES] {
        if let Some(list) = obj.get(key).and_then(Value::as_array) {
            out.extend(
                list.iter()
                    .filter_map(Value::as_str)
                    .filter_map(|s| s.parse().ok()),
            );
        }
    }
    out
}

// ---- small readers shared by both dialects ----

/// Deserializes `T`, naming the field that did not fit (`alias_emails[1]`:
/// …) so an error points at the record's field, not at a byte offset.
pub(crate) fn read<'de, T, D>(deserializer: D) -> Result<T, String>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.inner().to_string()
        } else {
            format!("`{path}`: {}", e.inner())
        }
    })
}

pub(crate) fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("`{key}` should be a string, got {other}")),
    }
}

pub(crate) fn str_list<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Vec<&'a str>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| format!("`{key}` should hold strings, got {v}"))
            })
            .collect(),
        Some(other) => Err(format!("`{key}` should be a list, got {other}")),
    }
}

pub(crate) fn primary(obj: &Map<String, Value>, key: &str) -> Result<EmailAddress, String> {
    let s = opt_str(obj, key)?.ok_or_else(|| format!("`{key}` is missing"))?;
    s.parse().map_err(|e| format!("`{key}`: {e}"))
}

pub(crate) fn address_set(obj: &Map<String, Value>, key: &str) -> Result<AddressSet, String> {
    str_list(obj, key)?
        .into_iter()
        .map(|s| {
            s.parse::<EmailAddress>()
                .map_err(|e| format!("`{key}`: {e}"))
        })
        .collect()
}

pub(crate) fn string_set(obj: &Map<String, Value>, key: &str) -> Result<BTreeSet<String>, String> {
    Ok(str_list(obj, key)?.into_iter().map(str::to_owned).collect())
}

pub(crate) fn text_value(v: &Option<String>) -> Value {
    Value::from(v.as_deref().unwrap_or(""))
}

pub(crate) fn list_value<T: AsRef<str>>(items: impl IntoIterator<Item = T>) -> Value {
    Value::Array(items.into_iter().map(|s| Value::from(s.as_ref())).collect())
}
