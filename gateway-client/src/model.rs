//! The typed view of gateway users, and the two ways to change them:
//! [`NewUser`] for creation and [`UserPatch`] for a loss-proof update.

use std::collections::BTreeSet;
use std::fmt;

use muster_core::{Account, AddressSet, EmailAddress, Field, UserType};
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::Error;

/// A user as the gateway returned it: the typed [`Account`] plus the whole
/// JSON object as read (minus the write-only `password`).
///
/// Keeping the whole object — not only the fields muster does not model —
/// means a read-merge-write update puts back every field it did not change
/// exactly as the server sent it (same spelling of the sender lists, same
/// `null`s, same `uid`, the same `x_future` a newer server might add).
#[derive(Clone, PartialEq)]
pub struct RemoteUser {
    account: Account,
    raw: Map<String, Value>,
}

impl RemoteUser {
    pub(crate) fn new(account: Account, mut raw: Map<String, Value>) -> Self {
        raw.remove(PASSWORD_KEY);
        RemoteUser { account, raw }
    }

    /// Adds an alias that the gateway lists as a separate record (v2 `type: Alias`).
    pub(crate) fn add_alias(&mut self, alias: EmailAddress) {
        self.account.aliases.insert(alias);
    }

    /// The typed account.
    #[must_use]
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The typed account, by value.
    #[must_use]
    pub fn into_account(self) -> Account {
        self.account
    }

    /// The JSON object as the gateway returned it (never a `password`).
    #[must_use]
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// One field of the JSON object as returned, by its wire name
    /// (`"odin_settings"`, `"uid"`, …).
    #[must_use]
    pub fn field(&self, wire_name: &str) -> Option<&Value> {
        self.raw.get(wire_name)
    }
}

impl fmt::Debug for RemoteUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteUser")
            .field("account", &self.account)
            .field("raw", &self.raw)
            .finish()
    }
}

/// The wire name of the write-only password, in both dialects.
pub(crate) const PASSWORD_KEY: &str = "password";

/// Whether the gateway should send the welcome letter on creation.
///
/// There is no default on purpose: welcome letters go to real people, so
/// every create states its choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WelcomeEmail {
    /// Send it (`send_welcome_email: true`).
    Send,
    /// Do not send it (`send_welcome_email: false`), e.g. when re-creating
    /// an account under a new primary address.
    DontSend,
}

/// A user to create.
///
/// ```
/// use muster_core::Account;
/// use muster_gateway::{NewUser, WelcomeEmail};
/// let account = Account::new("ann@example.com".parse()?).with_names("Ann", "Lee");
/// let new = NewUser::new(account, WelcomeEmail::DontSend);
/// assert_eq!(new.account().primary_email.as_str(), "ann@example.com");
/// # Ok::<(), muster_core::AddressError>(())
/// ```
#[derive(Clone)]
pub struct NewUser {
    account: Account,
    welcome: WelcomeEmail,
    password: Option<SecretString>,
    extra: Map<String, Value>,
}

impl NewUser {
    /// A user to create from `account`. `billable` is only sent when it is
    /// `Some`; read-only and group fields are not sent.
    #[must_use]
    pub fn new(account: Account, welcome: WelcomeEmail) -> Self {
        NewUser {
            account,
            welcome,
            password: None,
            extra: Map::new(),
        }
    }

    /// Sets an initial password (not needed for functional accounts).
    #[must_use]
    pub fn with_password(mut self, password: SecretString) -> Self {
        self.password = Some(password);
        self
    }

    /// Adds fields muster does not model, sent verbatim — e.g. the unowned
    /// fields of an account being re-created under a new primary address.
    /// Modelled fields and `password` in `fields` are ignored: they come
    /// from the account and [`with_password`](Self::with_password).
    #[must_use]
    pub fn with_extra_fields(mut self, fields: Map<String, Value>) -> Self {
        self.extra.extend(fields);
        self.extra.remove(PASSWORD_KEY);
        self
    }

    /// The account to create.
    #[must_use]
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The welcome-letter choice.
    #[must_use]
    pub fn welcome(&self) -> WelcomeEmail {
        self.welcome
    }

    pub(crate) fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("account", &self.account)
            .field("welcome", &self.welcome)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("extra", &self.extra)
            .finish()
    }
}

/// The value of one [`Field`] on an account, for before-value preconditions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldValue {
    /// A text field (`None` = empty).
    Text(Option<String>),
    /// A set of addresses (aliases).
    Addresses(AddressSet),
    /// A flag (`Field::Enabled` = the account is active).
    Flag(bool),
    /// The account type (`Field::Kind`).
    Type(UserType),
    /// A set of strings (groups, sender lists).
    Strings(BTreeSet<String>),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T: fmt::Display>(
            f: &mut fmt::Formatter<'_>,
            items: impl IntoIterator<Item = T>,
        ) -> fmt::Result {
            let joined: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
            write!(f, "[{}]", joined.join(", "))
        }
        match self {
            FieldValue::Text(None) => f.write_str("(empty)"),
            FieldValue::Text(Some(s)) => write!(f, "{s:?}"),
            FieldValue::Addresses(a) => list(f, a),
            FieldValue::Flag(b) => write!(f, "{b}"),
            FieldValue::Type(t) => write!(f, "{t}"),
            FieldValue::Strings(s) => list(f, s),
        }
    }
}

/// The value `field` has on `account`; `None` for fields the gateway does
/// not hold (`Field::ExternalId`).
#[must_use]
pub fn field_value(account: &Account, field: Field) -> Option<FieldValue> {
    let text = |v: &Option<String>| Some(FieldValue::Text(v.clone()));
    match field {
        Field::FirstName => text(&account.first_name),
        Field::LastName => text(&account.last_name),
        Field::Aliases => Some(FieldValue::Addresses(account.aliases.clone())),
        Field::Mobile => text(&account.mobile),
        Field::Phone => text(&account.phone),
        Field::Company => text(&account.company),
        Field::Department => text(&account.department),
        Field::Notes => text(&account.notes),
        Field::Enabled => Some(FieldValue::Flag(account.active)),
        Field::Groups => Some(FieldValue::Strings(account.groups.clone())),
        Field::Kind => Some(FieldValue::Type(account.user_type.clone())),
        Field::AllowSenders => Some(FieldValue::Strings(account.allow_senders.clone())),
        Field::BlockSenders => Some(FieldValue::Strings(account.block_senders.clone())),
        _ => None,
    }
}

/// One field assignment, resolved against the current account.
#[derive(Clone)]
pub(crate) enum Assign {
    FirstName(Option<String>),
    LastName(Option<String>),
    Aliases(AddressSet),
    Type(UserType),
    Active(bool),
    Billable(bool),
    AllowSenders(BTreeSet<String>),
    BlockSenders(BTreeSet<String>),
    Password(SecretString),
    /// Only on create.
    Welcome(WelcomeEmail),
}

/// The changes of one update, and the before-values they assume.
///
/// Fields left alone are not touched: `update` reads the user, applies only
/// these assignments and writes the whole object back. Aliases are changed
/// by adding and removing, so a concurrent alias added elsewhere survives.
///
/// ```
/// use muster_core::Field;
/// use muster_gateway::{FieldValue, UserPatch};
/// let patch = UserPatch::new()
///     .last_name(Some("Lee-Smith"))
///     .expect(Field::LastName, FieldValue::Text(Some("Lee".into())));
/// assert!(!patch.is_empty());
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct UserPatch {
    first_name: Option<Option<String>>,
    last_name: Option<Option<String>>,
    add_aliases: AddressSet,
    remove_aliases: AddressSet,
    user_type: Option<UserType>,
    active: Option<bool>,
    billable: Option<bool>,
    allow_senders: Option<BTreeSet<String>>,
    block_senders: Option<BTreeSet<String>>,
    password: Option<SecretString>,
    expected: Vec<(Field, FieldValue)>,
}

impl UserPatch {
    /// A patch that changes nothing.
    pub fn new() -> Self {
        UserPatch::default()
    }

    /// Sets the first name (`None` or blank clears it).
    pub fn first_name(mut self, name: Option<&str>) -> Self {
        self.first_name = Some(name.and_then(muster_core::non_blank));
        self
    }

    /// Sets the last name (`None` or blank clears it).
    pub fn last_name(mut self, name: Option<&str>) -> Self {
        self.last_name = Some(name.and_then(muster_core::non_blank));
        self
    }

    /// Adds an alias (no-op when present).
    pub fn add_alias(mut self, alias: EmailAddress) -> Self {
        self.remove_aliases.remove(&alias);
        self.add_aliases.insert(alias);
        self
    }

    /// Removes an alias (no-op when absent).
    pub fn remove_alias(mut self, alias: EmailAddress) -> Self {
        self.add_aliases.remove(&alias);
        self.remove_aliases.insert(alias);
        self
    }

    /// Sets the account type.
    pub fn user_type(mut self, user_type: UserType) -> Self {
        self.user_type = Some(user_type);
        self
    }

    /// Activates or deactivates the account.
    pub fn active(mut self, active: bool) -> Self {
        self.active = Some(active);
        self
    }

    /// Sets `is_billable`. Only written when set here.
    pub fn billable(mut self, billable: bool) -> Self {
        self.billable = Some(billable);
        self
    }

    /// Replaces the personal allowed-senders list.
    pub fn allow_senders(mut self, senders: BTreeSet<String>) -> Self {
        self.allow_senders = Some(senders);
        self
    }

    /// Replaces the personal blocked-senders list.
    pub fn block_senders(mut self, senders: BTreeSet<String>) -> Self {
        self.block_senders = Some(senders);
        self
    }

    /// Sets a new password. The only way a `password` key is ever sent on update.
    pub fn password(mut self, password: SecretString) -> Self {
        self.password = Some(password);
        self
    }

    /// Requires `field` to have `value` on the gateway before writing;
    /// otherwise the update fails with [`Error::Stale`] and nothing is written.
    pub fn expect(mut self, field: Field, value: FieldValue) -> Self {
        self.expected.push((field, value));
        self
    }

    /// True when the patch assigns nothing (preconditions aside).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.first_name.is_none()
            && self.last_name.is_none()
            && self.add_aliases.is_empty()
            && self.remove_aliases.is_empty()
            && self.user_type.is_none()
            && self.active.is_none()
            && self.billable.is_none()
            && self.allow_senders.is_none()
            && self.block_senders.is_none()
            && self.password.is_none()
    }

    /// Checks the preconditions against the account as read now.
    pub(crate) fn check(&self, current: &Account, dialect: crate::Dialect) -> Result<(), Error> {
        for (field, expected) in &self.expected {
            let found = field_value(current, *field).ok_or(Error::Unsupported {
                operation: "a precondition on a field the gateway does not hold",
                dialect,
            })?;
            if &found != expected {
                return Err(Error::Stale {
                    email: current.primary_email.to_string(),
                    field: *field,
                    expected: expected.to_string(),
                    found: found.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The assignments this patch makes to `current`, in a fixed order.
    pub(crate) fn resolve(&self, current: &Account) -> Vec<Assign> {
        let mut out = Vec::new();
        if let Some(v) = &self.first_name {
            out.push(Assign::FirstName(v.clone()));
        }
        if let Some(v) = &self.last_name {
            out.push(Assign::LastName(v.clone()));
        }
        if !self.add_aliases.is_empty() || !self.remove_aliases.is_empty() {
            let mut aliases: AddressSet = current
                .aliases
                .difference(&self.remove_aliases)
                .cloned()
                .collect();
            aliases.extend(self.add_aliases.iter().cloned());
            if aliases != current.aliases {
                out.push(Assign::Aliases(aliases));
            }
        }
        if let Some(v) = &self.user_type {
            out.push(Assign::Type(v.clone()));
        }
        if let Some(v) = self.active {
            out.push(Assign::Active(v));
        }
        if let Some(v) = self.billable {
            out.push(Assign::Billable(v));
        }
        if let Some(v) = &self.allow_senders {
            out.push(Assign::AllowSenders(v.clone()));
        }
        if let Some(v) = &self.block_senders {
            out.push(Assign::BlockSenders(v.clone()));
        }
        if let Some(v) = &self.password {
            out.push(Assign::Password(v.clone()));
        }
        out
    }
}

impl fmt::Debug for UserPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserPatch")
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("add_aliases", &self.add_aliases)
            .field("remove_aliases", &self.remove_aliases)
            .field("user_type", &self.user_type)
            .field("active", &self.active)
            .field("billable", &self.billable)
            .field("allow_senders", &self.allow_senders)
            .field("block_senders", &self.block_senders)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("expected", &self.expected)
            .finish()
    }
}

impl NewUser {
    /// The assignments that create this user, in a fixed order. Empty
    /// optional values are left out; `billable` only when set.
    pub(crate) fn assignments(&self) -> Vec<Assign> {
        let a = &self.account;
        let mut out = Vec::new();
        if a.first_name.is_some() {
            out.push(Assign::FirstName(a.first_name.clone()));
        }
        if a.last_name.is_some() {
            out.push(Assign::LastName(a.last_name.clone()));
        }
        if !a.aliases.is_empty() {
            out.push(Assign::Aliases(a.aliases.clone()));
        }
        out.push(Assign::Type(a.user_type.clone()));
        out.push(Assign::Active(a.active));
        if let Some(b) = a.billable {
            out.push(Assign::Billable(b));
        }
        if !a.allow_senders.is_empty() {
            out.push(Assign::AllowSenders(a.allow_senders.clone()));
        }
        if !a.block_senders.is_empty() {
            out.push(Assign::BlockSenders(a.block_senders.clone()));
        }
        if let Some(p) = &self.password {
            out.push(Assign::Password(p.clone()));
        }
        out.push(Assign::Welcome(self.welcome));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> EmailAddress {
        s.parse().unwrap()
    }

    #[test]
    fn alias_changes_are_applied_to_the_current_set() {
        let current =
            Account::new(email("a@x.com")).with_aliases([email("old@x.com"), email("keep@x.com")]);
        let patch = UserPatch::new()
            .remove_alias(email("OLD@x.com"))
            .add_alias(email("new@x.com"));
        let assigns = patch.resolve(&current);
        assert_eq!(assigns.len(), 1);
        let Assign::Aliases(set) = &assigns[0] else {
            panic!("expected an alias assignment")
        };
        let got: Vec<&str> = set.iter().map(EmailAddress::as_str).collect();
        assert_eq!(got, ["keep@x.com", "new@x.com"]);
    }

    #[test]
    fn alias_changes_that_change_nothing_assign_nothing() {
        let current = Account::new(email("a@x.com")).with_aliases([email("k@x.com")]);
        let patch = UserPatch::new()
            .add_alias(email("K@X.com"))
            .remove_alias(email("absent@x.com"));
        assert!(patch.resolve(&current).is_empty());
    }

    #[test]
    fn preconditions_report_the_field_and_both_values() {
        let current = Account::new(email("a@x.com")).with_names("Ann", "Lee");
        let ok = UserPatch::new().expect(Field::LastName, FieldValue::Text(Some("Lee".into())));
        assert!(ok.check(&current, crate::Dialect::EssentialsV1).is_ok());
        let stale = UserPatch::new().expect(Field::LastName, FieldValue::Text(Some("Li".into())));
        let err = stale
            .check(&current, crate::Dialect::EssentialsV1)
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Stale {
                field: Field::LastName,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "stale change for a@x.com: expected last_name = \"Li\", found \"Lee\""
        );
    }

    #[test]
    fn debug_never_shows_a_password() {
        let secret = "hunter2-very-secret";
        let patch = UserPatch::new().password(SecretString::from(secret));
        let new = NewUser::new(Account::new(email("a@x.com")), WelcomeEmail::Send)
            .with_password(SecretString::from(secret));
        assert!(!format!("{patch:?}").contains(secret));
        assert!(!format!("{new:?}").contains(secret));
    }
}
