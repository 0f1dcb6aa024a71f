//! Which Graph `user` properties are read, and turning one user into a
//! [`DirectoryEntry`] (pure: no HTTP needed).

use muster_core::{
    DirectoryEntry, EmailAddress, ExternalId, Field, FieldSet, Location, ProxyAddressProblem,
    RecipientKind, SourceIssue, non_blank, proxy_addresses,
};
use serde::Deserialize;

use crate::collect::Mapped;
use crate::values::{MOBILE_EXPECTED, address_expected, mobile};

/// What to do with guest accounts (`userType` `Guest`): people from other
/// organisations invited into the tenant. Their addresses belong to their
/// own organisation's domain, whose mail does not pass this gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GuestPolicy {
    /// Leave guests out of the snapshot, silently (the default): they are
    /// not recipients of the tenant's domains.
    #[default]
    Skip,
    /// Read guests as [`RecipientKind::Contact`] entries (the policy then
    /// decides whether contacts are synced at all).
    Contact,
}

/// What to do with external members: Entra ID B2B accounts of people from
/// other organisations (`#EXT#` in the `userPrincipalName`) whose
/// `userType` is `Member`, not `Guest` — invited as members, or converted.
/// Their address is usually their own organisation's, but an admin may
/// have given them one of the tenant's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ExternalMembers {
    /// Read them like any member (the default), counted in the snapshot's
    /// [`NoteKind::ExternalMembers`](muster_core::NoteKind::ExternalMembers)
    /// note so they are not synced unseen.
    #[default]
    Sync,
    /// Leave them out, counted in the same note.
    Skip,
}

/// The properties of one user as `/users?$select=…` returns them. Every
/// property is optional: Graph sends `null` for unset values.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphUser {
    pub(crate) id: String,
    pub(crate) mail: Option<String>,
    pub(crate) proxy_addresses: Option<Vec<String>>,
    pub(crate) given_name: Option<String>,
    pub(crate) surname: Option<String>,
    pub(crate) mobile_phone: Option<String>,
    pub(crate) business_phones: Option<Vec<String>>,
    pub(crate) company_name: Option<String>,
    pub(crate) department: Option<String>,
    pub(crate) account_enabled: Option<bool>,
    pub(crate) user_type: Option<String>,
    pub(crate) user_principal_name: Option<String>,
}

impl GraphUser {
    /// A guest (`userType` `Guest`).
    pub(crate) fn is_guest(&self) -> bool {
        self.user_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("guest"))
    }

    /// An external member: a B2B account (`#EXT#` in its principal name)
    /// that is not a guest.
    pub(crate) fn is_external_member(&self) -> bool {
        !self.is_guest()
            && self
                .user_principal_name
                .as_deref()
                .is_some_and(|upn| upn.to_ascii_uppercase().contains("#EXT#"))
    }

    /// What a note calls the user: its address, else its principal name, else its id.
    pub(crate) fn name(&self) -> &str {
        [self.mail.as_deref(), self.user_principal_name.as_deref()]
            .into_iter()
            .flatten()
            .find(|n| !n.trim().is_empty())
            .unwrap_or(&self.id)
    }
}

/// What is read, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UserMap {
    pub(crate) guests: GuestPolicy,
    /// Whether `accountEnabled` is read (and `enabled` provided).
    pub(crate) account_enabled: bool,
}

impl UserMap {
    /// The `$select` list: exactly the properties [`map_user`] reads.
    pub(crate) fn select(self) -> String {
        let mut properties = vec![
            "id",
            "mail",
            "proxyAddresses",
            "givenName",
            "surname",
            "mobilePhone",
            "businessPhones",
            "companyName",
            "department",
        ];
        if self.account_enabled {
            properties.push("accountEnabled");
        }
        // Guests and external members are told apart by these two.
        properties.push("userType");
        properties.push("userPrincipalName");
        properties.join(",")
    }

    /// The fields a snapshot read with this map provides. Not `kind`:
    /// `/users` cannot tell a shared or room mailbox from a person's.
    /// Not `notes` or `groups`: not read.
    pub(crate) fn provided_fields(self) -> FieldSet {
        let fields = FieldSet::empty()
            .with(Field::Aliases)
            .with(Field::FirstName)
            .with(Field::LastName)
            .with(Field::Mobile)
            .with(Field::Phone)
            .with(Field::Company)
            .with(Field::Department)
            .with(Field::ExternalId);
        if self.account_enabled {
            fields.with(Field::Enabled)
        } else {
            fields
        }
    }
}

/// Maps one user. Problems with single values are issues on the entry
/// (located by object id), which keeps the rest; a user whose primary
/// address cannot be determined is unreadable.
pub(crate) fn map_user(user: &GraphUser, map: UserMap) -> Mapped {
    let guest = user.is_guest();
    if guest && map.guests == GuestPolicy::Skip {
        return Mapped::NotARecipient;
    }
    let (mut entry, mut issues) = match recipient(
        &user.id,
        user.mail.as_deref(),
        user.proxy_addresses.as_deref().unwrap_or_default(),
    ) {
        Ok(found) => found,
        Err(mapped) => return *mapped,
    };
    let at = || Location::object_id(user.id.clone());
    let text = |value: &Option<String>| value.as_deref().and_then(non_blank);
    entry.first_name = text(&user.given_name);
    entry.last_name = text(&user.surname);
    entry.phone = user
        .business_phones
        .as_deref()
        .and_then(|phones| phones.first())
        .and_then(|p| non_blank(p));
    entry.company = text(&user.company_name);
    entry.department = text(&user.department);
    if let Some(value) = text(&user.mobile_phone) {
        match mobile(&value) {
            Some(m) => entry.mobile = Some(m),
            None => {
                // Unreadable: the gateway's mobile number stays as it is.
                entry.withheld.insert(muster_core::Field::Mobile);
                issues.push(
                    SourceIssue::new(at(), MOBILE_EXPECTED)
                        .with_field("mobilePhone")
                        .with_value(&value),
                );
            }
        }
    }
    if map.account_enabled {
        // `null` is read as enabled: an unknown state never disables anyone.
        entry.enabled = user.account_enabled.unwrap_or(true);
    }
    if guest {
        entry.kind = RecipientKind::Contact;
    }
    Mapped::Entry(Box::new(entry), issues)
}

/// The addresses, id and location of a Graph user or group: the one
/// `SMTP:` proxy address is the primary, `smtp:` ones are aliases, `mail`
/// is the primary when no proxy address names one. Problems with single
/// values are issues located by object id; an object with no address at
/// all is not a recipient, one whose primary cannot be determined is
/// unreadable.
pub(crate) fn recipient(
    id: &str,
    mail: Option<&str>,
    proxy_values: &[String],
) -> Result<(DirectoryEntry, Vec<SourceIssue>), Box<Mapped>> {
    let at = || Location::object_id(id);
    let mut issues = Vec::new();
    let proxies = proxy_addresses(proxy_values.iter().map(String::as_str));
    for problem in &proxies.problems {
        let (value, expected) = match problem {
            ProxyAddressProblem::SeveralPrimaries(values) => (
                values.join(", "),
                "exactly one primary SMTP: address (Graph does not promise an order)".to_owned(),
            ),
            ProxyAddressProblem::InvalidAddress { value, reason } => {
                (value.clone(), format!("a usable address ({reason})"))
            }
            _ => (String::new(), problem.to_string()),
        };
        let expected = expected + crate::values::ALIASES_KEPT;
        issues.push(
            SourceIssue::new(at(), expected)
                .with_field("proxyAddresses")
                .with_value(&value),
        );
    }
    let mail = mail.and_then(non_blank);
    let primary = match (proxies.primary, mail) {
        (Some(primary), _) => primary,
        (None, Some(mail)) => match EmailAddress::parse(&mail) {
            Ok(address) => address,
            Err(e) => {
                return Err(Box::new(Mapped::Unreadable(
                    SourceIssue::new(at(), address_expected(&e))
                        .with_field("mail")
                        .with_value(&mail),
                )));
            }
        },
        (None, None) if proxies.aliases.is_empty() && proxies.problems.is_empty() => {
            return Err(Box::new(Mapped::NotARecipient));
        }
        (None, None) => {
            return Err(Box::new(Mapped::Unreadable(
                SourceIssue::new(at(), "a primary address: `mail` or one SMTP: proxy address")
                    .with_field("mail"),
            )));
        }
    };
    let mut entry = DirectoryEntry::new(primary);
    if !proxies.problems.is_empty() {
        // Which addresses are this object's is uncertain: its aliases stay as they are.
        entry.withheld.insert(muster_core::Field::Aliases);
    }
    entry.aliases = proxies.aliases;
    entry.aliases.remove(&entry.primary_email);
    entry.external_id = ExternalId::new(id).ok();
    entry.location = Some(at());
    Ok((entry, issues))
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ_ALL: UserMap = UserMap {
        guests: GuestPolicy::Skip,
        account_enabled: true,
    };

    fn user(json: &str) -> GraphUser {
        serde_json::from_str(json).unwrap()
    }

    fn entry(mapped: Mapped) -> (DirectoryEntry, Vec<SourceIssue>) {
        match mapped {
            Mapped::Entry(e, issues) => (*e, issues),
            other => panic!("not an entry: {other:?}"),
        }
    }

    #[test]
    fn every_selected_property_lands_in_its_field() {
        let u = user(
            r#"{"id":"4f1c-1","mail":"ann.lee@example.com",
                "proxyAddresses":["smtp:ann@example.org","SMTP:Ann.Lee@example.com","SIP:ann@example.com"],
                "givenName":"Ann","surname":" Lee ","mobilePhone":"+44 7700 900123",
                "businessPhones":["+44 20 7946 0000","+44 20 7946 0001"],
                "companyName":"Example Ltd","department":"Sales","accountEnabled":false,"userType":"Member"}"#,
        );
        let (e, issues) = entry(map_user(&u, READ_ALL));
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(e.primary_email.as_str(), "Ann.Lee@example.com");
        assert_eq!(
            e.aliases
                .iter()
                .map(EmailAddress::as_str)
                .collect::<Vec<_>>(),
            ["ann@example.org"]
        );
        assert_eq!(e.first_name.as_deref(), Some("Ann"));
        assert_eq!(e.last_name.as_deref(), Some("Lee"));
        assert_eq!(e.mobile.as_deref(), Some("+447700900123"));
        assert_eq!(e.phone.as_deref(), Some("+44 20 7946 0000"));
        assert_eq!(e.company.as_deref(), Some("Example Ltd"));
        assert_eq!(e.department.as_deref(), Some("Sales"));
        assert!(!e.enabled);
        assert_eq!(e.kind, RecipientKind::UserMailbox);
        assert_eq!(e.external_id.unwrap().as_str(), "4f1c-1");
        assert_eq!(e.location, Some(Location::object_id("4f1c-1")));
    }

    #[test]
    fn mail_is_the_primary_when_no_proxy_address_names_one() {
        let u =
            user(r#"{"id":"1","mail":"bo@example.com","proxyAddresses":[],"businessPhones":[]}"#);
        let (e, issues) = entry(map_user(&u, READ_ALL));
        assert!(issues.is_empty());
        assert_eq!(e.primary_email.as_str(), "bo@example.com");
        assert!(e.enabled, "a missing accountEnabled never disables anyone");
        assert_eq!(e.phone, None);
    }

    #[test]
    fn several_primaries_fall_back_to_mail_with_an_issue() {
        let u = user(
            r#"{"id":"2","mail":"bo@example.com","proxyAddresses":["SMTP:bo@example.com","SMTP:b@example.com"]}"#,
        );
        let (e, issues) = entry(map_user(&u, READ_ALL));
        assert_eq!(e.primary_email.as_str(), "bo@example.com");
        assert_eq!(e.aliases.len(), 1, "the other primary still delivers");
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].location, Location::object_id("2"));
        assert_eq!(issues[0].field.as_deref(), Some("proxyAddresses"));
        assert_eq!(
            issues[0].value.as_deref(),
            Some("b@example.com, bo@example.com")
        );
    }

    #[test]
    fn users_without_any_address_are_not_recipients_and_a_bad_mail_is_unreadable() {
        let none = user(r#"{"id":"3","mail":null,"proxyAddresses":[],"givenName":"Svc"}"#);
        assert!(matches!(map_user(&none, READ_ALL), Mapped::NotARecipient));
        let blank = user(r#"{"id":"3b","mail":"  "}"#);
        assert!(matches!(map_user(&blank, READ_ALL), Mapped::NotARecipient));
        let bad = user(r#"{"id":"4","mail":"bad at example.com"}"#);
        match map_user(&bad, READ_ALL) {
            Mapped::Unreadable(issue) => {
                assert_eq!(issue.location, Location::object_id("4"));
                assert_eq!(issue.field.as_deref(), Some("mail"));
                assert_eq!(issue.value.as_deref(), Some("bad at example.com"));
            }
            other => panic!("a bad mail must be an issue: {other:?}"),
        }
        let aliases_only = user(r#"{"id":"5","proxyAddresses":["smtp:x@example.com"]}"#);
        assert!(matches!(
            map_user(&aliases_only, READ_ALL),
            Mapped::Unreadable(_)
        ));
    }

    #[test]
    fn a_national_mobile_is_an_issue_and_the_entry_keeps_the_rest() {
        let u = user(
            r#"{"id":"6","mail":"cy@example.com","mobilePhone":"07700 900123","department":"Ops"}"#,
        );
        let (e, issues) = entry(map_user(&u, READ_ALL));
        assert_eq!(e.mobile, None);
        assert_eq!(e.department.as_deref(), Some("Ops"));
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].field.as_deref(), Some("mobilePhone"));
        assert_eq!(issues[0].value.as_deref(), Some("07700 900123"));
    }

    #[test]
    fn guests_are_skipped_or_read_as_contacts() {
        let u = user(
            r#"{"id":"7","mail":"pat@partner.example","userType":"Guest","accountEnabled":true}"#,
        );
        assert!(matches!(map_user(&u, READ_ALL), Mapped::NotARecipient));
        let contacts = UserMap {
            guests: GuestPolicy::Contact,
            ..READ_ALL
        };
        let (e, _) = entry(map_user(&u, contacts));
        assert_eq!(e.kind, RecipientKind::Contact);
        assert_eq!(e.primary_email.as_str(), "pat@partner.example");
    }

    #[test]
    fn external_members_are_told_from_guests_and_members_by_principal_name() {
        let external = user(
            r#"{"id":"9","mail":"lee@partner.example","userType":"Member",
                "userPrincipalName":"lee_partner.example#EXT#@contoso.onmicrosoft.com"}"#,
        );
        assert!(external.is_external_member() && !external.is_guest());
        let guest = user(
            r#"{"id":"10","mail":null,"userType":"Guest","userPrincipalName":"pat_partner.example#ext#@contoso.onmicrosoft.com"}"#,
        );
        assert!(guest.is_guest() && !guest.is_external_member());
        assert_eq!(
            guest.name(),
            "pat_partner.example#ext#@contoso.onmicrosoft.com"
        );
        let member =
            user(r#"{"id":"11","mail":" ","userPrincipalName":"ann@contoso.onmicrosoft.com"}"#);
        assert!(!member.is_external_member());
        assert_eq!(
            member.name(),
            "ann@contoso.onmicrosoft.com",
            "a blank mail is no name"
        );
        assert_eq!(user(r#"{"id":"12"}"#).name(), "12");
    }

    #[test]
    fn without_account_enabled_everyone_is_enabled_and_enabled_is_not_provided() {
        let map = UserMap {
            account_enabled: false,
            ..READ_ALL
        };
        let u = user(r#"{"id":"8","mail":"shared@example.com","accountEnabled":false}"#);
        let (e, _) = entry(map_user(&u, map));
        assert!(e.enabled);
        assert!(!map.provided_fields().contains(Field::Enabled));
        assert!(!map.select().contains("accountEnabled"));
        assert!(READ_ALL.provided_fields().contains(Field::Enabled));
    }

    #[test]
    fn the_select_list_and_the_provided_fields_match() {
        assert_eq!(
            READ_ALL.select(),
            "id,mail,proxyAddresses,givenName,surname,mobilePhone,businessPhones,companyName,department,accountEnabled,userType,userPrincipalName"
        );
        let provided = READ_ALL.provided_fields();
        for field in [Field::Kind, Field::Notes, Field::Groups] {
            assert!(!provided.contains(field), "{field}");
        }
        assert_eq!(provided.iter().count(), 9);
    }
}
