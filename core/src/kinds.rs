//! Small vocabulary types: user types, recipient kinds, origins, external ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An error for a value that is not one of a vocabulary type's spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {what}; expected one of: {expected}")]
pub struct UnknownValue {
    /// The rejected value.
    pub value: String,
    /// What was being parsed, e.g. `recipient kind`.
    pub what: &'static str,
    /// The accepted spellings, comma-separated.
    pub expected: &'static str,
}

/// Serialises via `Display` and deserialises via `FromStr`.
macro_rules! serde_via_str {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The gateway's account type (Proofpoint Essentials v1 `type`).
///
/// A type the gateway returns that muster does not know is kept verbatim in
/// [`UserType::Other`] so that writing the account back never changes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum UserType {
    /// A licensed mailbox user (`end_user`).
    EndUser,
    /// A user who is filtered but gets no notifications or portal access (`silent_user`).
    SilentUser,
    /// A shared mailbox, distribution list or other non-person address (`functional_account`).
    FunctionalAccount,
    /// An administrator of one organisation (`organization_admin`).
    OrganizationAdmin,
    /// An administrator of a channel partner (`channel_admin`).
    ChannelAdmin,
    /// An administrator of a strategic partner (`strategic_partner_admin`).
    StrategicPartnerAdmin,
    /// An administrator of an OEM partner (`oem_partner_admin`).
    OemPartnerAdmin,
    /// A type this version of muster does not know, kept as spelled.
    Other(String),
}

impl UserType {
    /// The wire spelling (`end_user`, …).
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            UserType::EndUser => "end_user",
            UserType::SilentUser => "silent_user",
            UserType::FunctionalAccount => "functional_account",
            UserType::OrganizationAdmin => "organization_admin",
            UserType::ChannelAdmin => "channel_admin",
            UserType::StrategicPartnerAdmin => "strategic_partner_admin",
            UserType::OemPartnerAdmin => "oem_partner_admin",
            UserType::Other(s) => s,
        }
    }

    /// True for every administrator type. Administrators are never changed by a sync.
    #[must_use]
    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            UserType::OrganizationAdmin
                | UserType::ChannelAdmin
                | UserType::StrategicPartnerAdmin
                | UserType::OemPartnerAdmin
        )
    }

    /// True for types muster may set on an account: end user, silent user, functional account.
    ///
    /// Unknown types are not manageable: muster does not know what changing them means.
    #[must_use]
    pub fn is_manageable(&self) -> bool {
        matches!(
            self,
            UserType::EndUser | UserType::SilentUser | UserType::FunctionalAccount
        )
    }
}

impl fmt::Display for UserType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UserType {
    type Err = std::convert::Infallible;
    /// Never fails: unknown spellings become [`UserType::Other`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "end_user" => UserType::EndUser,
            "silent_user" => UserType::SilentUser,
            "functional_account" => UserType::FunctionalAccount,
            "organization_admin" => UserType::OrganizationAdmin,
            "channel_admin" => UserType::ChannelAdmin,
            "strategic_partner_admin" => UserType::StrategicPartnerAdmin,
            "oem_partner_admin" => UserType::OemPartnerAdmin,
            other => UserType::Other(other.to_owned()),
        })
    }
}
serde_via_str!(UserType);

/// What kind of recipient a directory object is.
///
/// Shared and room mailboxes sit on *disabled* AD accounts, so a disabled
/// account of these kinds does not mean "this person left".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum RecipientKind {
    /// A person's mailbox.
    #[default]
    UserMailbox,
    /// A shared mailbox (no person signs in to it).
    SharedMailbox,
    /// A room or equipment mailbox.
    RoomMailbox,
    /// A mail-enabled distribution group.
    DistributionGroup,
    /// A mail-enabled security group.
    SecurityGroup,
    /// An external contact (mail goes elsewhere).
    Contact,
    /// A mail-enabled public folder.
    PublicFolder,
}

impl RecipientKind {
    /// Every kind, in declaration order.
    pub const ALL: [RecipientKind; 7] = [
        RecipientKind::UserMailbox,
        RecipientKind::SharedMailbox,
        RecipientKind::RoomMailbox,
        RecipientKind::DistributionGroup,
        RecipientKind::SecurityGroup,
        RecipientKind::Contact,
        RecipientKind::PublicFolder,
    ];

    /// The stable spelling used in config files, plans and CSV.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientKind::UserMailbox => "user_mailbox",
            RecipientKind::SharedMailbox => "shared_mailbox",
            RecipientKind::RoomMailbox => "room_mailbox",
            RecipientKind::DistributionGroup => "distribution_group",
            RecipientKind::SecurityGroup => "security_group",
            RecipientKind::Contact => "contact",
            RecipientKind::PublicFolder => "public_folder",
        }
    }

    /// True for kinds that are a person's own mailbox, where "disabled" means the person is gone.
    #[must_use]
    pub fn is_person(self) -> bool {
        matches!(self, RecipientKind::UserMailbox)
    }
}

impl fmt::Display for RecipientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecipientKind {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        let found = match wanted.as_str() {
            "user" | "user_mailbox" | "mailbox" => Some(RecipientKind::UserMailbox),
            "shared" | "shared_mailbox" => Some(RecipientKind::SharedMailbox),
            "room" | "equipment" | "room_mailbox" | "equipment_mailbox" => {
                Some(RecipientKind::RoomMailbox)
            }
            "distribution_group" | "distribution_list" | "dl" => {
                Some(RecipientKind::DistributionGroup)
            }
            "security_group" => Some(RecipientKind::SecurityGroup),
            "contact" | "mail_contact" => Some(RecipientKind::Contact),
            "public_folder" => Some(RecipientKind::PublicFolder),
            _ => None,
        };
        found.ok_or_else(|| UnknownValue {
            value: s.to_owned(),
            what: "recipient kind",
            expected: "user_mailbox, shared_mailbox, room_mailbox, distribution_group, security_group, contact, public_folder",
        })
    }
}
serde_via_str!(RecipientKind);

/// Who brought an account onto the gateway.
///
/// The gateway does not record this, so muster keeps it in its own state.
/// Ownership decides what a sync may do: a directory source only deletes,
/// deactivates or downgrades accounts that it created or adopted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Origin {
    /// Created or adopted by the named directory source (e.g. `ldap`, `entra`).
    Directory(String),
    /// Created by an administrator in the gateway's console.
    Manual,
    /// Created by a CSV import.
    CsvImport,
    /// Created from SMTP discovery.
    SmtpDiscovery,
    /// Created through the API by something other than muster.
    Api,
    /// Existed before muster first ran; nobody knows who made it.
    Unknown,
}

impl Origin {
    /// True when the account belongs to the named directory source.
    #[must_use]
    pub fn is_directory(&self, source: &str) -> bool {
        matches!(self, Origin::Directory(s) if s == source)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Directory(source) => write!(f, "directory:{source}"),
            Origin::Manual => f.write_str("manual"),
            Origin::CsvImport => f.write_str("csv_import"),
            Origin::SmtpDiscovery => f.write_str("smtp_discovery"),
            Origin::Api => f.write_str("api"),
            Origin::Unknown => f.write_str("unknown"),
        }
    }
}

impl FromStr for Origin {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "manual" => Ok(Origin::Manual),
            "csv_import" => Ok(Origin::CsvImport),
            "smtp_discovery" => Ok(Origin::SmtpDiscovery),
            "api" => Ok(Origin::Api),
            "unknown" => Ok(Origin::Unknown),
            other => match other.strip_prefix("directory:") {
                Some(source) if !source.is_empty() => Ok(Origin::Directory(source.to_owned())),
                _ => Err(UnknownValue {
                    value: s.to_owned(),
                    what: "origin",
                    expected: "directory:<source>, manual, csv_import, smtp_discovery, api, unknown",
                }),
            },
        }
    }
}
serde_via_str!(Origin);

/// A source's stable identifier for a directory object (AD `objectGUID`,
/// Graph `id`, an HR employee number), so a renamed person is recognised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ExternalId(String);

impl ExternalId {
    /// Wraps a non-empty identifier (surrounding whitespace trimmed).
    pub fn new(id: impl Into<String>) -> Result<Self, UnknownValue> {
        let id = id.into();
        let trimmed = id.trim();
        if trimmed.is_empty() {
            return Err(UnknownValue {
                value: id,
                what: "external id",
                expected: "a non-empty identifier",
            });
        }
        Ok(ExternalId(trimmed.to_owned()))
    }

    /// The identifier.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ExternalId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ExternalId::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_type_wire_names_round_trip_and_unknown_is_kept() {
        for name in [
            "end_user",
            "silent_user",
            "functional_account",
            "organization_admin",
            "channel_admin",
            "strategic_partner_admin",
            "oem_partner_admin",
            "future_kind",
        ] {
            let t: UserType = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{name}\""));
        }
        assert_eq!(
            "future_kind".parse::<UserType>().unwrap(),
            UserType::Other("future_kind".into())
        );
        assert!(UserType::ChannelAdmin.is_admin());
        assert!(!UserType::FunctionalAccount.is_admin());
        assert!(!UserType::Other("x".into()).is_manageable());
    }

    #[test]
    fn recipient_kind_accepts_common_spellings_and_rejects_others() {
        assert_eq!(
            "Shared Mailbox".parse::<RecipientKind>().unwrap(),
            RecipientKind::SharedMailbox
        );
        assert_eq!(
            "equipment".parse::<RecipientKind>().unwrap(),
            RecipientKind::RoomMailbox
        );
        let err = "printer".parse::<RecipientKind>().unwrap_err();
        assert!(
            err.to_string()
                .contains("`printer` is not a valid recipient kind")
        );
        for kind in RecipientKind::ALL {
            assert_eq!(kind.as_str().parse::<RecipientKind>().unwrap(), kind);
        }
    }

    #[test]
    fn origin_round_trips() {
        for o in [
            Origin::Directory("ldap".into()),
            Origin::Manual,
            Origin::CsvImport,
            Origin::SmtpDiscovery,
            Origin::Api,
            Origin::Unknown,
        ] {
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(serde_json::from_str::<Origin>(&json).unwrap(), o);
        }
        assert!("directory:".parse::<Origin>().is_err());
        assert!(Origin::Directory("ldap".into()).is_directory("ldap"));
        assert!(!Origin::Directory("ldap".into()).is_directory("entra"));
    }

    #[test]
    fn external_id_must_not_be_blank() {
        assert!(ExternalId::new("  ").is_err());
        assert_eq!(ExternalId::new(" 42 ").unwrap().as_str(), "42");
        assert!(serde_json::from_str::<ExternalId>("\"\"").is_err());
    }
}
