//! The stored user and its two wire shapes (v1 snake_case, v2 camelCase).
//!
//! Parsing a write body yields *every* replaceable field: whatever the body
//! omits gets its default here. That is the full-replace PUT the real
//! gateway performs, and the reason a client must send the whole object.

use std::time::Instant;

use muster_core::{EmailAddress, UserType};
use serde_json::{Map, Value, json};

use crate::config::SenderListSpelling;

/// Everything a PUT replaces. `Default` is what an omitted field becomes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UserFields {
    pub(crate) firstname: String,
    pub(crate) surname: String,
    pub(crate) aliases: Vec<EmailAddress>,
    pub(crate) user_type: UserType,
    pub(crate) is_active: bool,
    pub(crate) is_billable: bool,
    pub(crate) read_only_user: bool,
    pub(crate) allow_senders: Vec<String>,
    pub(crate) block_senders: Vec<String>,
    pub(crate) can_impersonate: bool,
    pub(crate) is_imitable: bool,
    /// Fields the emulator does not know, kept and returned as sent.
    pub(crate) extra: Map<String, Value>,
}

impl Default for UserFields {
    fn default() -> Self {
        UserFields {
            firstname: String::new(),
            surname: String::new(),
            aliases: Vec::new(),
            user_type: UserType::EndUser,
            is_active: true,
            is_billable: true,
            read_only_user: false,
            allow_senders: Vec::new(),
            block_senders: Vec::new(),
            can_impersonate: false,
            is_imitable: false,
            extra: Map::new(),
        }
    }
}

/// A parsed POST or PUT body.
#[derive(Debug, Clone)]
pub(crate) struct UserWrite {
    pub(crate) primary: Option<EmailAddress>,
    pub(crate) uid: Option<u64>,
    pub(crate) fields: UserFields,
    /// Write-only: stored, never returned. `None` keeps the stored password.
    pub(crate) password: Option<Password>,
    /// POST only; `None` means "the organisation's default".
    pub(crate) send_welcome_email: Option<bool>,
}

/// A user's password: kept for [`Emulator::password`](crate::Emulator::password),
/// never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Password(pub(crate) String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A user as stored.
#[derive(Debug, Clone)]
pub(crate) struct StoredUser {
    pub(crate) uid: u64,
    pub(crate) primary: EmailAddress,
    pub(crate) fields: UserFields,
    pub(crate) password: Option<Password>,
    /// Before this instant GETs do not see the user (read-after-write lag).
    pub(crate) visible_at: Instant,
}

const V1_TYPES: &str = "end_user, silent_user, functional_account, organization_admin, channel_admin, strategic_partner_admin, oem_partner_admin";

/// Takes typed fields out of a JSON object, leaving the unknown ones.
struct Fields {
    map: Map<String, Value>,
}

impl Fields {
    fn new(body: Value) -> Result<Self, String> {
        match body {
            Value::Object(map) => Ok(Fields { map }),
            other => Err(format!(
                "expected a JSON object for a user, got {}",
                kind_of(&other)
            )),
        }
    }

    /// Removes `name`; JSON `null` counts as omitted.
    fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name).filter(|v| !v.is_null())
    }

    fn string(&mut self, name: &str) -> Result<Option<String>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(expected(name, "a string", &other)),
        }
    }

    fn boolean(&mut self, name: &str) -> Result<Option<bool>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(expected(name, "true or false", &other)),
        }
    }

    fn strings(&mut self, name: &str) -> Result<Option<Vec<String>>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s),
                    other => Err(expected(name, "an array of strings", &other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(expected(name, "an array of strings", &other)),
        }
    }

    fn email(&mut self, name: &str) -> Result<Option<EmailAddress>, String> {
        self.string(name)?
            .map(|s| parse_email(name, &s))
            .transpose()
    }

    fn emails(&mut self, name: &str) -> Result<Vec<EmailAddress>, String> {
        self.strings(name)?
            .unwrap_or_default()
            .iter()
            .map(|s| parse_email(name, s))
            .collect()
    }

    fn uid(&mut self, name: &str) -> Result<Option<u64>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| expected(name, "a non-negative integer", &v)),
        }
    }

    fn into_extra(self) -> Map<String, Value> {
        self.map
    }
}

fn parse_email(field: &str, s: &str) -> Result<EmailAddress, String> {
    EmailAddress::parse(s).map_err(|e| format!("field `{field}`: {e}"))
}

fn expected(field: &str, what: &str, got: &Value) -> String {
    format!("field `{field}`: expected {what}, got {}", kind_of(got))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One of two spellings of a list; both given and different is an error
/// because the emulator could not tell which the client meant.
fn either_list(f: &mut Fields, first: &str, second: &str) -> Result<Vec<String>, String> {
    match (f.strings(first)?, f.strings(second)?) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "fields `{first}` and `{second}` name the same list but differ; send one"
        )),
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) => Ok(Vec::new()),
    }
}

/// Parses a v1 (snake_case) user body.
pub(crate) fn parse_v1(body: Value) -> Result<UserWrite, String> {
    let mut f = Fields::new(body)?;
    let primary = f.email("primary_email")?;
    let uid = f.uid("uid")?;
    let user_type = match f.string("type")? {
        None => UserType::EndUser,
        Some(s) => match s.parse::<UserType>() {
            Ok(UserType::Other(_)) | Err(_) => {
                return Err(format!(
                    "field `type`: `{s}` is not a user type, expected one of {V1_TYPES}"
                ));
            }
            Ok(t) => t,
        },
    };
    let (can_impersonate, is_imitable) = match f.take("odin_settings") {
        None => (false, false),
        Some(Value::Object(odin)) => {
            let mut odin = Fields { map: odin };
            (
                odin.boolean("can_impersonate")?.unwrap_or(false),
                odin.boolean("is_imitable")?.unwrap_or(false),
            )
        }
        Some(other) => return Err(expected("odin_settings", "an object", &other)),
    };
    let defaults = UserFields::default();
    let fields = UserFields {
        firstname: f.string("firstname")?.unwrap_or_default(),
        surname: f.string("surname")?.unwrap_or_default(),
        aliases: f.emails("alias_emails")?,
        user_type,
        is_active: f.boolean("is_active")?.unwrap_or(defaults.is_active),
        is_billable: f.boolean("is_billable")?.unwrap_or(defaults.is_billable),
        read_only_user: f.boolean("read_only_user")?.unwrap_or(false),
        allow_senders: either_list(&mut f, "white_list_senders", "safe_list_senders")?,
        block_senders: either_list(&mut f, "black_list_senders", "block_list_senders")?,
        can_impersonate,
        is_imitable,
        extra: Map::new(),
    };
    let password = f.string("password")?.map(Password);
    let send_welcome_email = f.boolean("send_welcome_email")?;
    Ok(UserWrite {
        primary,
        uid,
        fields: UserFields {
            extra: f.into_extra(),
            ..fields
        },
        password,
        send_welcome_email,
    })
}

/// Parses a v2 (camelCase) user body onto the same store.
///
/// v2 has no sender lists or Odin settings: a v2 PUT resets them like any
/// other omitted field. `roles` containing `ADMINISTRATOR` makes an
/// organisation admin; anything else an end user.
pub(crate) fn parse_v2(body: Value) -> Result<UserWrite, String> {
    let mut f = Fields::new(body)?;
    let primary = f.email("primaryEmail")?;
    if let Some(t) = f.string("type")? {
        match t.as_str() {
            "User" => {}
            "Alias" => {
                return Err(
                    "field `type`: aliases are not users; add the address to a user's `aliases`"
                        .to_owned(),
                );
            }
            other => {
                return Err(format!(
                    "field `type`: `{other}` is not a type, expected `User`"
                ));
            }
        }
    }
    let is_active = match f.string("status")?.as_deref() {
        None | Some("active") => true,
        Some("inactive") => false,
        Some(other) => {
            return Err(format!(
                "field `status`: `{other}` is not a status, expected `active` or `inactive`"
            ));
        }
    };
    let roles = f.strings("roles")?.unwrap_or_default();
    let user_type = if roles.iter().any(|r| r == "ADMINISTRATOR") {
        UserType::OrganizationAdmin
    } else {
        UserType::EndUser
    };
    // Read-only on the wire: accepted and ignored so a GET body can be PUT back.
    for ignored in ["groups", "createdAt", "updatedAt", "id"] {
        f.take(ignored);
    }
    let fields = UserFields {
        firstname: f.string("firstName")?.unwrap_or_default(),
        surname: f.string("lastName")?.unwrap_or_default(),
        aliases: f.emails("aliases")?,
        user_type,
        is_active,
        ..UserFields::default()
    };
    let password = f.string("password")?.map(Password);
    Ok(UserWrite {
        primary,
        uid: None,
        fields: UserFields {
            extra: f.into_extra(),
            ..fields
        },
        password,
        send_welcome_email: None,
    })
}

fn addresses(list: &[EmailAddress]) -> Value {
    Value::Array(list.iter().map(|a| Value::from(a.as_str())).collect())
}

fn with_extra(mut obj: Map<String, Value>, extra: &Map<String, Value>) -> Value {
    for (k, v) in extra {
        obj.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(obj)
}

/// The v1 GET shape. Never contains `password` or `send_welcome_email`.
pub(crate) fn render_v1(user: &StoredUser, spelling: SenderListSpelling) -> Value {
    let f = &user.fields;
    let (allow, block) = match spelling {
        SenderListSpelling::WhiteBlack => ("white_list_senders", "black_list_senders"),
        SenderListSpelling::SafeBlock => ("safe_list_senders", "block_list_senders"),
    };
    let mut obj = Map::new();
    obj.insert("uid".into(), user.uid.into());
    obj.insert("primary_email".into(), user.primary.as_str().into());
    obj.insert("firstname".into(), f.firstname.as_str().into());
    obj.insert("surname".into(), f.surname.as_str().into());
    obj.insert("alias_emails".into(), addresses(&f.aliases));
    obj.insert("type".into(), f.user_type.as_str().into());
    obj.insert("is_active".into(), f.is_active.into());
    obj.insert("is_billable".into(), f.is_billable.into());
    obj.insert("read_only_user".into(), f.read_only_user.into());
    obj.insert(
        "odin_settings".into(),
        json!({"can_impersonate": f.can_impersonate, "is_imitable": f.is_imitable}),
    );
    obj.insert(allow.into(), json!(f.allow_senders));
    obj.insert(block.into(), json!(f.block_senders));
    with_extra(obj, &f.extra)
}

/// The v2 GET shape.
pub(crate) fn render_v2(user: &StoredUser, groups: Vec<String>) -> Value {
    let f = &user.fields;
    let role = if f.user_type.is_admin() {
        "ADMINISTRATOR"
    } else {
        "USER"
    };
    let mut obj = Map::new();
    obj.insert("primaryEmail".into(), user.primary.as_str().into());
    obj.insert("firstName".into(), f.firstname.as_str().into());
    obj.insert("lastName".into(), f.surname.as_str().into());
    obj.insert("type".into(), "User".into());
    obj.insert("roles".into(), json!([role]));
    obj.insert("aliases".into(), addresses(&f.aliases));
    obj.insert("groups".into(), json!(groups));
    obj.insert(
        "status".into(),
        if f.is_active { "active" } else { "inactive" }.into(),
    );
    with_extra(obj, &f.extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_fields_take_their_defaults() {
        let w = parse_v1(json!({"primary_email": "a@x.example"})).unwrap();
        assert_eq!(w.fields, UserFields::default());
        assert!(w.fields.is_billable && w.fields.is_active);
    }

    #[test]
    fn unknown_type_names_the_accepted_ones() {
        let e = parse_v1(json!({"type": "admin"})).unwrap_err();
        assert!(e.contains("`admin`") && e.contains("end_user"), "{e}");
    }

    #[test]
    fn wrong_json_type_names_field_and_expectation() {
        let e = parse_v1(json!({"is_active": "yes"})).unwrap_err();
        assert_eq!(e, "field `is_active`: expected true or false, got a string");
    }

    #[test]
    fn both_sender_list_spellings_are_read_and_must_agree() {
        let w = parse_v1(json!({"safe_list_senders": ["*@ok.example"]})).unwrap();
        assert_eq!(w.fields.allow_senders, ["*@ok.example"]);
        let e =
            parse_v1(json!({"white_list_senders": ["a"], "safe_list_senders": ["b"]})).unwrap_err();
        assert!(e.contains("differ"), "{e}");
    }

    #[test]
    fn unknown_fields_are_kept() {
        let w = parse_v1(json!({"x_future": {"a": 1}, "password": "p"})).unwrap();
        assert_eq!(w.fields.extra.get("x_future"), Some(&json!({"a": 1})));
        assert!(!w.fields.extra.contains_key("password"));
    }
}
