//! Mail-enabled Graph groups as recipients, and turning one group into a
//! [`DirectoryEntry`] (pure: no HTTP needed).
//!
//! A mail-enabled group has an address of its own that mail is sent to, so
//! a gateway that filters the domain must know it, or it rejects the mail
//! as sent to an unknown user.

use muster_core::RecipientKind;
use serde::Deserialize;

use super::users::recipient;
use crate::collect::Mapped;

/// `/groups` `$select`: exactly what [`map_group`] reads.
pub(crate) const GROUP_SELECT: &str =
    "id,displayName,mail,proxyAddresses,securityEnabled,groupTypes";

/// Only groups that receive mail (a plain `eq` on a boolean: no advanced
/// query needed).
pub(crate) const MAIL_ENABLED: &str = "mailEnabled eq true";

/// The key under which a group's `displayName` is kept in
/// [`DirectoryEntry::attributes`](muster_core::DirectoryEntry): a group has
/// no first and last name, yet a preview should say which group it is.
pub(crate) const DISPLAY_NAME: &str = "displayName";

/// The properties of one group as `/groups?$select=…` returns them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphGroup {
    pub(crate) id: String,
    pub(crate) display_name: Option<String>,
    pub(crate) mail: Option<String>,
    pub(crate) proxy_addresses: Option<Vec<String>>,
    pub(crate) security_enabled: Option<bool>,
    pub(crate) group_types: Option<Vec<String>>,
}

/// Maps one mail-enabled group: its addresses as a user's are read
/// (`proxyAddresses`, else `mail`), its kind from `groupTypes` and
/// `securityEnabled`:
///
/// - a Microsoft 365 group (`groupTypes` contains `Unified`) is a
///   [`RecipientKind::DistributionGroup`], even when it is also
///   security-enabled: mail to it is delivered to its members like a
///   distribution list's (and to its group mailbox), which is what the
///   gateway needs to know;
/// - otherwise a security-enabled group is a [`RecipientKind::SecurityGroup`]
///   (a mail-enabled security group), and any other a distribution group.
pub(crate) fn map_group(group: &GraphGroup) -> Mapped {
    let (mut entry, issues) = match recipient(
        &group.id,
        group.mail.as_deref(),
        group.proxy_addresses.as_deref().unwrap_or_default(),
    ) {
        Ok(found) => found,
        Err(mapped) => return *mapped,
    };
    let unified = group
        .group_types
        .iter()
        .flatten()
        .any(|t| t.eq_ignore_ascii_case("Unified"));
    entry.kind = if !unified && group.security_enabled == Some(true) {
        RecipientKind::SecurityGroup
    } else {
        RecipientKind::DistributionGroup
    };
    if let Some(name) = group
        .display_name
        .as_deref()
        .and_then(muster_core::non_blank)
    {
        entry.attributes.insert(DISPLAY_NAME.to_owned(), name);
    }
    Mapped::Entry(Box::new(entry), issues)
}

#[cfg(test)]
mod tests {
    use super::*;
    use muster_core::Location;

    fn group(json: &str) -> GraphGroup {
        serde_json::from_str(json).unwrap()
    }

    fn kind(json: &str) -> RecipientKind {
        match map_group(&group(json)) {
            Mapped::Entry(e, _) => e.kind,
            other => panic!("not an entry: {other:?}"),
        }
    }

    #[test]
    fn the_kind_follows_group_types_then_security_enabled() {
        let base = r#""id":"g","mail":"g@example.com""#;
        let cases = [
            (
                r#""securityEnabled":true,"groupTypes":[]"#,
                RecipientKind::SecurityGroup,
            ),
            (
                r#""securityEnabled":false,"groupTypes":[]"#,
                RecipientKind::DistributionGroup,
            ),
            (
                r#""securityEnabled":null"#,
                RecipientKind::DistributionGroup,
            ),
            (
                r#""securityEnabled":false,"groupTypes":["Unified"]"#,
                RecipientKind::DistributionGroup,
            ),
            (
                r#""securityEnabled":true,"groupTypes":["Unified","DynamicMembership"]"#,
                RecipientKind::DistributionGroup,
            ),
            (
                r#""securityEnabled":true,"groupTypes":["DynamicMembership"]"#,
                RecipientKind::SecurityGroup,
            ),
        ];
        for (rest, expected) in cases {
            assert_eq!(kind(&format!("{{{base},{rest}}}")), expected, "{rest}");
        }
    }

    #[test]
    fn addresses_id_and_name_are_read_like_a_users() {
        let g = group(
            r#"{"id":"g1","displayName":"Sales Team","mail":"sales@example.com",
                "proxyAddresses":["SMTP:Sales@example.com","smtp:sales@example.org","X500:/o=x"],
                "securityEnabled":false,"groupTypes":[]}"#,
        );
        let Mapped::Entry(e, issues) = map_group(&g) else {
            panic!("not an entry")
        };
        assert!(issues.is_empty());
        assert_eq!(e.primary_email.as_str(), "Sales@example.com");
        assert_eq!(
            e.aliases.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            ["sales@example.org"]
        );
        assert_eq!(e.external_id.unwrap().as_str(), "g1");
        assert_eq!(e.location, Some(Location::object_id("g1")));
        assert_eq!(e.attributes[DISPLAY_NAME], "Sales Team");
        assert_eq!((e.first_name, e.last_name), (None, None));
        assert!(e.enabled);

        let none = group(r#"{"id":"g2","mail":null,"proxyAddresses":[]}"#);
        assert!(matches!(map_group(&none), Mapped::NotARecipient));
        let bad = group(r#"{"id":"g3","mail":"not an address"}"#);
        assert!(matches!(map_group(&bad), Mapped::Unreadable(_)));
    }
}
