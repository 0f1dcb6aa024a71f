//! Which LDAP attribute carries which field, and turning one directory
//! object into a [`DirectoryEntry`] (pure: no connection needed).

use std::collections::HashMap;

use muster_core::{
    DirectoryEntry, EmailAddress, ExternalId, Field, FieldSet, Location, ProxyAddressProblem,
    RecipientKind, SourceIssue, non_blank, proxy_addresses,
};

use crate::collect::Mapped;
use crate::values::{MOBILE_EXPECTED, mobile};

/// The attribute names a directory uses for each field. `None` means the
/// directory does not carry that field, so the snapshot does not provide it
/// and the planner leaves it alone on the gateway.
///
/// ```
/// use muster_directory::LdapAttributes;
/// let mut openldap = LdapAttributes::inet_org_person();
/// openldap.notes = Some("description".to_owned());
/// assert_eq!(LdapAttributes::active_directory().account_control.as_deref(), Some("userAccountControl"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LdapAttributes {
    /// The mail address (`mail`); the primary when no `SMTP:` proxy address names one.
    pub mail: String,
    /// Exchange-style `proxyAddresses` (`SMTP:` primary, `smtp:` aliases).
    pub proxy_addresses: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Mobile phone.
    pub mobile: Option<String>,
    /// Other phone.
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// AD `userAccountControl`: bit 2 (ACCOUNTDISABLE) means disabled.
    pub account_control: Option<String>,
    /// Exchange `msExchRecipientTypeDetails`: shared, room, … mailboxes.
    pub recipient_type: Option<String>,
    /// A stable object id; `objectGUID` is read as AD's binary GUID, anything
    /// else (`entryUUID`, `employeeNumber`) as text.
    pub external_id: Option<String>,
    /// Groups: the structural class of a group object (`group` in AD,
    /// `groupOfNames` elsewhere); the default group filter selects the
    /// mail-enabled objects of this class.
    pub group_class: String,
    /// Groups: the name a group is known by in users' `member_of` (`cn`).
    pub group_name: String,
    /// Groups: the member DNs (`member`; AD sends big lists in ranges).
    pub group_members: String,
    /// Groups: AD's `groupType`, whose bit 0x80000000 makes a security
    /// group; without it every group is a distribution group.
    pub group_type: Option<String>,
    /// Groups: AD's `primaryGroupID`, the RID of a user's primary group.
    /// AD leaves every user out of the `member` list of their primary group
    /// (Domain Users, or whichever group was made primary), so with this
    /// set a user is also a member of the group read whose `objectSid` is
    /// the user's domain with this RID. `None`: the `member` lists alone.
    pub primary_group_id: Option<String>,
}

impl LdapAttributes {
    /// Active Directory (with or without the Exchange schema), as ADUC names
    /// its fields: `mail`, `proxyAddresses`, `givenName`, `sn`, `mobile`,
    /// `homePhone`, `company`, `department`, `info` (Notes),
    /// `userAccountControl`, `msExchRecipientTypeDetails`, `objectGUID`;
    /// for groups `cn`, `member`, `groupType` and users' `primaryGroupID`.
    #[must_use]
    pub fn active_directory() -> Self {
        let some = |s: &str| Some(s.to_owned());
        LdapAttributes {
            mail: "mail".to_owned(),
            proxy_addresses: some("proxyAddresses"),
            first_name: some("givenName"),
            last_name: some("sn"),
            mobile: some("mobile"),
            phone: some("homePhone"),
            company: some("company"),
            department: some("department"),
            notes: some("info"),
            account_control: some("userAccountControl"),
            recipient_type: some("msExchRecipientTypeDetails"),
            external_id: some("objectGUID"),
            group_class: "group".to_owned(),
            group_name: "cn".to_owned(),
            group_members: "member".to_owned(),
            group_type: some("groupType"),
            primary_group_id: some("primaryGroupID"),
        }
    }

    /// A standard `inetOrgPerson` directory (OpenLDAP, 389-ds): `mail`,
    /// `givenName`, `sn`, `mobile`, `telephoneNumber`, `o`, `ou`,
    /// `entryUUID`; no proxy addresses, no account state, no notes.
    #[must_use]
    pub fn inet_org_person() -> Self {
        let some = |s: &str| Some(s.to_owned());
        LdapAttributes {
            mail: "mail".to_owned(),
            proxy_addresses: None,
            first_name: some("givenName"),
            last_name: some("sn"),
            mobile: some("mobile"),
            phone: some("telephoneNumber"),
            company: some("o"),
            department: some("ou"),
            notes: None,
            account_control: None,
            recipient_type: None,
            external_id: some("entryUUID"),
            group_class: "groupOfNames".to_owned(),
            group_name: "cn".to_owned(),
            group_members: "member".to_owned(),
            group_type: None,
            primary_group_id: None,
        }
    }

    /// The attributes to ask the server for.
    pub(crate) fn requested(&self) -> Vec<String> {
        std::iter::once(&self.mail)
            .chain(self.optional().into_iter().flat_map(|(_, a)| a))
            .cloned()
            .collect()
    }

    /// The attributes to ask for on groups: addresses, id, name, type,
    /// members, and the SID users' primary group ids point at.
    pub(crate) fn group_requested(&self) -> Vec<String> {
        let sid = self
            .primary_group_id
            .as_ref()
            .map(|_| OBJECT_SID.to_owned());
        [
            Some(&self.mail),
            self.proxy_addresses.as_ref(),
            self.external_id.as_ref(),
            Some(&self.group_name),
            Some(&self.group_members),
            self.group_type.as_ref(),
            sid.as_ref(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
    }

    /// What else to ask for on users when memberships are read: the
    /// primary group's RID and the user's own SID (whose domain it is in).
    pub(crate) fn primary_group_requested(&self) -> Vec<String> {
        match &self.primary_group_id {
            Some(attribute) => vec![attribute.clone(), OBJECT_SID.to_owned()],
            None => Vec::new(),
        }
    }

    /// The mail-enabled groups of [`LdapAttributes::group_class`]: with a
    /// `mail`, or an SMTP proxy address where the map reads them.
    #[must_use]
    pub fn mail_groups_filter(&self) -> String {
        let addressed = match &self.proxy_addresses {
            Some(proxy) => format!("(|({}=*)({proxy}=smtp:*))", self.mail),
            None => format!("({}=*)", self.mail),
        };
        format!("(&(objectClass={}){addressed})", self.group_class)
    }

    /// The fields a snapshot read with this map provides.
    #[must_use]
    pub fn provided_fields(&self) -> FieldSet {
        self.optional()
            .into_iter()
            .filter(|(_, attribute)| attribute.is_some())
            .map(|(field, _)| field)
            .collect()
    }

    fn optional(&self) -> [(Field, Option<&String>); 11] {
        [
            (Field::Aliases, self.proxy_addresses.as_ref()),
            (Field::FirstName, self.first_name.as_ref()),
            (Field::LastName, self.last_name.as_ref()),
            (Field::Mobile, self.mobile.as_ref()),
            (Field::Phone, self.phone.as_ref()),
            (Field::Company, self.company.as_ref()),
            (Field::Department, self.department.as_ref()),
            (Field::Notes, self.notes.as_ref()),
            (Field::Enabled, self.account_control.as_ref()),
            (Field::Kind, self.recipient_type.as_ref()),
            (Field::ExternalId, self.external_id.as_ref()),
        ]
    }
}

/// AD's security identifier of users and groups (binary).
pub(crate) const OBJECT_SID: &str = "objectSid";

impl Default for LdapAttributes {
    fn default() -> Self {
        LdapAttributes::active_directory()
    }
}

/// One directory object's attributes, looked up case-insensitively (servers
/// answer with their own spelling of the names asked for).
#[derive(Debug, Default)]
pub(crate) struct Object {
    pub(crate) dn: String,
    text: HashMap<String, Vec<String>>,
    binary: HashMap<String, Vec<Vec<u8>>>,
}

impl Object {
    pub(crate) fn new(
        dn: String,
        text: HashMap<String, Vec<String>>,
        binary: HashMap<String, Vec<Vec<u8>>>,
    ) -> Self {
        Object {
            dn,
            text: lowercase_keys(text),
            binary: lowercase_keys(binary),
        }
    }

    fn values(&self, attribute: &str) -> &[String] {
        self.text
            .get(&attribute.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// Every text attribute as the server described it (lowercased), with its values.
    pub(crate) fn attributes(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.text.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    pub(crate) fn first(&self, attribute: Option<&String>) -> Option<&str> {
        attribute.and_then(|a| self.values(a).first().map(String::as_str))
    }

    /// The raw bytes of a value, whether the server's bytes happened to be UTF-8 or not.
    pub(crate) fn first_bytes(&self, attribute: &str) -> Option<&[u8]> {
        let key = attribute.to_ascii_lowercase();
        self.binary
            .get(&key)
            .and_then(|v| v.first().map(Vec::as_slice))
            .or_else(|| {
                self.text
                    .get(&key)
                    .and_then(|v| v.first())
                    .map(String::as_bytes)
            })
    }
}

fn lowercase_keys<V>(map: HashMap<String, V>) -> HashMap<String, V> {
    map.into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

/// The addresses of one object (users and groups alike): the primary from
/// the one `SMTP:` proxy address or `mail`, the other proxy addresses as
/// aliases, its stable id, located at its DN; or why it is no recipient.
fn recipient(
    object: &Object,
    map: &LdapAttributes,
) -> Result<(DirectoryEntry, Vec<SourceIssue>), Box<Mapped>> {
    let at = || Location::dn(object.dn.clone());
    let mut issues = Vec::new();
    let proxies = map
        .proxy_addresses
        .as_ref()
        .map(|a| proxy_addresses(object.values(a).iter().map(String::as_str)))
        .unwrap_or_default();
    let proxy_field = map.proxy_addresses.as_deref().unwrap_or("proxyAddresses");
    for problem in &proxies.problems {
        let (value, expected) = match problem {
            ProxyAddressProblem::SeveralPrimaries(values) => (
                values.join(", "),
                "exactly one primary SMTP: address (LDAP does not order values)".to_owned(),
            ),
            ProxyAddressProblem::InvalidAddress { value, reason } => {
                (value.clone(), format!("a usable address ({reason})"))
            }
            _ => (String::new(), problem.to_string()),
        };
        let expected = expected + crate::values::ALIASES_KEPT;
        issues.push(
            SourceIssue::new(at(), expected)
                .with_field(proxy_field)
                .with_value(&value),
        );
    }
    let mail = object.values(&map.mail).first();
    let primary = match (proxies.primary, mail) {
        (Some(primary), _) => primary,
        (None, Some(mail)) => match EmailAddress::parse(mail) {
            Ok(address) => address,
            Err(e) => {
                return Err(Box::new(Mapped::Unreadable(
                    SourceIssue::new(at(), format!("an email address ({e})"))
                        .with_field(&map.mail)
                        .with_value(mail),
                )));
            }
        },
        (None, None) if proxies.aliases.is_empty() && proxies.problems.is_empty() => {
            return Err(Box::new(Mapped::NotARecipient));
        }
        (None, None) => {
            return Err(Box::new(Mapped::Unreadable(
                SourceIssue::new(at(), "a primary address: `mail` or one SMTP: proxy address")
                    .with_field(&map.mail),
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
    entry.location = Some(at());
    if let Some(attribute) = &map.external_id {
        match external_id(object, attribute) {
            Ok(id) => entry.external_id = id,
            Err(issue) => issues.push(*issue),
        }
    }
    Ok((entry, issues))
}

/// The SID of the user's primary group (see
/// [`LdapAttributes::primary_group_id`]); `None` when the map reads none or
/// the object has no primary group id.
///
/// # Errors
/// An issue at the object when its primary group cannot be placed: no
/// `objectSid` beside the id, or values that are not a SID and a RID.
pub(crate) fn primary_group(
    object: &Object,
    map: &LdapAttributes,
) -> Result<Option<String>, Box<SourceIssue>> {
    let Some(attribute) = &map.primary_group_id else {
        return Ok(None);
    };
    let Some(id) = object.first(Some(attribute)) else {
        return Ok(None);
    };
    object
        .first_bytes(OBJECT_SID)
        .and_then(|sid| super::groups::primary_group_sid(sid, id))
        .map(Some)
        .ok_or_else(|| {
            Box::new(
                SourceIssue::new(
                    Location::dn(object.dn.clone()),
                    "a primary group id (a RID) and the object's objectSid; no group memberships are changed this run",
                )
                .with_field(attribute)
                .with_value(id),
            )
        })
}

/// Maps one object. Problems with single values are issues on the entry
/// (located by DN), which keeps the rest of it; an object whose primary
/// address cannot be determined is unreadable.
pub(crate) fn map_object(object: &Object, map: &LdapAttributes) -> Mapped {
    let (mut entry, mut issues) = match recipient(object, map) {
        Ok(found) => found,
        Err(mapped) => return *mapped,
    };
    let at = || Location::dn(object.dn.clone());
    let text = |attribute: &Option<String>| object.first(attribute.as_ref()).and_then(non_blank);
    entry.first_name = text(&map.first_name);
    entry.last_name = text(&map.last_name);
    entry.phone = text(&map.phone);
    entry.company = text(&map.company);
    entry.department = text(&map.department);
    entry.notes = text(&map.notes);
    if let (Some(attribute), Some(value)) = (&map.mobile, text(&map.mobile)) {
        match mobile(&value) {
            Some(m) => entry.mobile = Some(m),
            None => {
                // Unreadable values leave their fields as the gateway has them.
                entry.withheld.insert(Field::Mobile);
                issues.push(
                    SourceIssue::new(at(), MOBILE_EXPECTED)
                        .with_field(attribute)
                        .with_value(&value),
                );
            }
        }
    }
    if let (Some(attribute), Some(value)) = (&map.account_control, text(&map.account_control)) {
        match value.parse::<i64>() {
            // ACCOUNTDISABLE; the attribute is a signed 32-bit integer on the wire.
            Ok(flags) => entry.enabled = flags & 0x2 == 0,
            Err(_) => {
                entry.withheld.insert(Field::Enabled);
                issues.push(
                    SourceIssue::new(at(), "a decimal flag value; the account is read as enabled")
                        .with_field(attribute)
                        .with_value(&value),
                );
            }
        }
    }
    if let (Some(attribute), Some(value)) = (&map.recipient_type, text(&map.recipient_type)) {
        match value.parse::<u64>().ok().and_then(recipient_kind) {
            Some(kind) => entry.kind = kind,
            None => {
                entry.withheld.insert(Field::Kind);
                issues.push(
                    SourceIssue::new(
                        at(),
                        "a known Exchange recipient type; read as a user mailbox",
                    )
                    .with_field(attribute)
                    .with_value(&value),
                );
            }
        }
    }
    Mapped::Entry(Box::new(entry), issues)
}

/// Maps one group object: its addresses like a user's, its kind from
/// `groupType` (bit 0x80000000: a security group, which Exchange can also
/// mail-enable; otherwise a distribution group). Names and phones
/// are users' fields and stay empty.
pub(crate) fn map_group(object: &Object, map: &LdapAttributes) -> Mapped {
    let (mut entry, mut issues) = match recipient(object, map) {
        Ok(found) => found,
        Err(mapped) => return *mapped,
    };
    entry.kind = RecipientKind::DistributionGroup;
    if let (Some(attribute), Some(value)) = (
        &map.group_type,
        object.first(map.group_type.as_ref()).and_then(non_blank),
    ) {
        // A signed 32-bit integer on the wire (security groups are negative);
        // read as i64 so the unsigned spelling of the same bits works too.
        match value.parse::<i64>() {
            Ok(flags) if flags & 0x8000_0000 != 0 => entry.kind = RecipientKind::SecurityGroup,
            Ok(_) => {}
            Err(_) => issues.push(
                SourceIssue::new(
                    Location::dn(object.dn.clone()),
                    "a decimal group type; read as a distribution group",
                )
                .with_field(attribute)
                .with_value(&value),
            ),
        }
    }
    Mapped::Entry(Box::new(entry), issues)
}

/// Exchange's `RecipientTypeDetails` values for the kinds muster tells apart;
/// `None` for values it does not know (discovery, arbitration, system mailboxes…).
fn recipient_kind(value: u64) -> Option<RecipientKind> {
    Some(match value {
        // User, linked, legacy and remote (hybrid) user mailboxes.
        1 | 2 | 8 | 2_147_483_648 => RecipientKind::UserMailbox,
        // Shared, remote shared.
        4 | 34_359_738_368 => RecipientKind::SharedMailbox,
        // Room, equipment, and their remote forms.
        16 | 32 | 8_589_934_592 | 17_179_869_184 => RecipientKind::RoomMailbox,
        // Mail contact, mail user (mail goes to an outside address).
        64 | 128 => RecipientKind::Contact,
        // Universal and non-universal distribution groups, dynamic distribution groups.
        256 | 512 | 2048 => RecipientKind::DistributionGroup,
        1024 => RecipientKind::SecurityGroup,
        4096 => RecipientKind::PublicFolder,
        _ => return None,
    })
}

/// The object's stable id: AD's `objectGUID` (16 bytes, the first three
/// groups little-endian) in its usual text form, any other attribute as text.
fn external_id(object: &Object, attribute: &str) -> Result<Option<ExternalId>, Box<SourceIssue>> {
    let issue = |value: &str| {
        Box::new(
            SourceIssue::new(Location::dn(object.dn.clone()), "a 16-byte GUID")
                .with_field(attribute)
                .with_value(value),
        )
    };
    if attribute.eq_ignore_ascii_case("objectGUID") {
        let Some(bytes) = object.first_bytes(attribute) else {
            return Ok(None);
        };
        let Ok(b) = <[u8; 16]>::try_from(bytes) else {
            return Err(issue(&format!("{} bytes", bytes.len())));
        };
        let text = format!(
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            u16::from_le_bytes([b[4], b[5]]),
            u16::from_le_bytes([b[6], b[7]]),
            b[8],
            b[9],
            b[10],
            b[11],
            b[12],
            b[13],
            b[14],
            b[15]
        );
        return Ok(ExternalId::new(text).ok());
    }
    Ok(object
        .first(Some(&attribute.to_owned()))
        .and_then(|v| ExternalId::new(v).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(dn: &str, attrs: &[(&str, &[&str])]) -> Object {
        let text = attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect();
        Object::new(dn.to_owned(), text, HashMap::new())
    }

    fn entry(mapped: Mapped) -> (DirectoryEntry, Vec<SourceIssue>) {
        match mapped {
            Mapped::Entry(e, issues) => (*e, issues),
            Mapped::NotARecipient => panic!("not a recipient"),
            Mapped::Unreadable(i) => panic!("unreadable: {i}"),
        }
    }

    #[test]
    fn the_uppercase_proxy_address_is_the_primary_and_names_come_in_any_case() {
        let o = object(
            "CN=Ann,DC=x",
            &[
                ("MAIL", &["ann.lee@example.com"]),
                (
                    "proxyaddresses",
                    &[
                        "smtp:ann@example.org",
                        "SMTP:Ann.Lee@example.com",
                        "X500:/o=x",
                    ],
                ),
                ("GivenName", &["Ann"]),
                ("userAccountControl", &["514"]),
                ("msExchRecipientTypeDetails", &["4"]),
            ],
        );
        let (e, issues) = entry(map_object(&o, &LdapAttributes::active_directory()));
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(e.primary_email.as_str(), "Ann.Lee@example.com");
        assert_eq!(e.aliases.len(), 1);
        assert_eq!(e.first_name.as_deref(), Some("Ann"));
        assert!(!e.enabled);
        assert_eq!(e.kind, RecipientKind::SharedMailbox);
        assert_eq!(e.location, Some(Location::dn("CN=Ann,DC=x")));
    }

    #[test]
    fn several_primaries_fall_back_to_mail_with_an_issue() {
        let o = object(
            "CN=Bo,DC=x",
            &[
                ("mail", &["bo@example.com"]),
                (
                    "proxyAddresses",
                    &["SMTP:bo@example.com", "SMTP:b@example.com"],
                ),
            ],
        );
        let (e, issues) = entry(map_object(&o, &LdapAttributes::active_directory()));
        assert_eq!(e.primary_email.as_str(), "bo@example.com");
        assert_eq!(e.aliases.len(), 1, "the other primary still delivers");
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].location, Location::dn("CN=Bo,DC=x"));
        assert_eq!(issues[0].field.as_deref(), Some("proxyAddresses"));
    }

    #[test]
    fn an_object_without_addresses_is_not_a_recipient_and_a_bad_mail_is_unreadable() {
        let map = LdapAttributes::active_directory();
        let none = object("CN=svc,DC=x", &[("sn", &["Service"])]);
        assert!(matches!(map_object(&none, &map), Mapped::NotARecipient));
        let bad = object("CN=bad,DC=x", &[("mail", &["bad at example.com"])]);
        match map_object(&bad, &map) {
            Mapped::Unreadable(issue) => {
                assert_eq!(issue.location, Location::dn("CN=bad,DC=x"));
                assert_eq!(issue.field.as_deref(), Some("mail"));
            }
            _ => panic!("a bad mail must be an issue"),
        }
    }

    #[test]
    fn bad_single_values_are_issues_and_the_entry_keeps_the_rest() {
        let o = object(
            "CN=Cy,DC=x",
            &[
                ("mail", &["cy@example.com"]),
                ("mobile", &["07700 900123"]),
                ("userAccountControl", &["lots"]),
                ("msExchRecipientTypeDetails", &["536870912"]),
                ("department", &["Sales"]),
            ],
        );
        let (e, issues) = entry(map_object(&o, &LdapAttributes::active_directory()));
        assert_eq!(e.mobile, None);
        assert!(e.enabled, "unreadable flags never disable anyone");
        assert_eq!(e.kind, RecipientKind::UserMailbox);
        assert_eq!(e.department.as_deref(), Some("Sales"));
        let fields: Vec<_> = issues.iter().map(|i| i.field.clone().unwrap()).collect();
        assert_eq!(
            fields,
            ["mobile", "userAccountControl", "msExchRecipientTypeDetails"]
        );
    }

    #[test]
    fn a_users_primary_group_is_placed_by_its_sid_or_is_an_issue() {
        // S-1-5-21-1-2-3-1104: a user in the domain S-1-5-21-1-2-3.
        let mut sid = vec![1u8, 5, 0, 0, 0, 0, 0, 5];
        for sub in [21u32, 1, 2, 3, 1104] {
            sid.extend_from_slice(&sub.to_le_bytes());
        }
        let user = |id: Option<&str>, sid: Option<Vec<u8>>| {
            let mut text = HashMap::new();
            if let Some(id) = id {
                text.insert("primaryGroupID".to_owned(), vec![id.to_owned()]);
            }
            let binary = sid
                .map(|s| HashMap::from([("objectSid".to_owned(), vec![s])]))
                .unwrap_or_default();
            Object::new("CN=U,DC=x".to_owned(), text, binary)
        };
        let ad = LdapAttributes::active_directory();
        let bytes = || Some(sid.clone());
        assert_eq!(
            primary_group(&user(Some("513"), bytes()), &ad).unwrap(),
            Some("S-1-5-21-1-2-3-513".to_owned())
        );
        // No primary group id (not a user AD made), or a map without one.
        assert_eq!(primary_group(&user(None, bytes()), &ad).unwrap(), None);
        let plain = LdapAttributes::inet_org_person();
        assert_eq!(
            primary_group(&user(Some("513"), bytes()), &plain).unwrap(),
            None
        );
        // An id that cannot be placed: an issue at the user, naming the value.
        for (id, sid) in [
            (Some("513"), None),
            (Some("x"), bytes()),
            (Some("513"), Some(vec![1, 2])),
        ] {
            let issue = primary_group(&user(id, sid), &ad).unwrap_err();
            assert_eq!(issue.location, Location::dn("CN=U,DC=x".to_owned()));
            assert_eq!(issue.field.as_deref(), Some("primaryGroupID"));
        }
        // Asked for only with memberships, and the groups' SIDs with them.
        assert_eq!(
            ad.primary_group_requested(),
            ["primaryGroupID", "objectSid"]
        );
        assert!(ad.group_requested().contains(&"objectSid".to_owned()));
        assert!(!ad.requested().contains(&"primaryGroupID".to_owned()));
        assert!(plain.primary_group_requested().is_empty());
        assert!(!plain.group_requested().contains(&"objectSid".to_owned()));
    }

    #[test]
    fn object_guid_reads_in_the_ad_byte_order() {
        let mut binary = HashMap::new();
        binary.insert(
            "objectGUID".to_owned(),
            vec![(0u8..16).collect::<Vec<u8>>()],
        );
        let mut text = HashMap::new();
        text.insert("mail".to_owned(), vec!["g@example.com".to_owned()]);
        let o = Object::new("CN=G,DC=x".to_owned(), text, binary);
        let (e, _) = entry(map_object(&o, &LdapAttributes::active_directory()));
        assert_eq!(
            e.external_id.unwrap().as_str(),
            "03020100-0504-0706-0809-0a0b0c0d0e0f"
        );
    }

    #[test]
    fn the_map_provides_exactly_the_fields_it_names() {
        let ad = LdapAttributes::active_directory().provided_fields();
        assert!(
            ad.contains(Field::Notes) && ad.contains(Field::Kind) && ad.contains(Field::Enabled)
        );
        let openldap = LdapAttributes::inet_org_person().provided_fields();
        assert!(!openldap.contains(Field::Notes));
        assert!(!openldap.contains(Field::Aliases));
        assert!(!openldap.contains(Field::Enabled));
        assert!(openldap.contains(Field::FirstName));
    }

    #[test]
    fn a_groups_kind_comes_from_the_security_bit_of_group_type() {
        let ad = LdapAttributes::active_directory();
        let kind = |group_type: &str| {
            let o = object(
                "CN=G,DC=x",
                &[
                    ("mail", &["g@example.com"]),
                    (
                        "proxyAddresses",
                        &["SMTP:g@example.com", "smtp:grp@example.com"],
                    ),
                    ("groupType", &[group_type]),
                ],
            );
            let (e, issues) = entry(map_group(&o, &ad));
            assert_eq!(e.aliases.len(), 1, "aliases as for users");
            assert_eq!(e.location, Some(Location::dn("CN=G,DC=x")));
            (e.kind, issues.len())
        };
        // Global, domain-local and universal security groups (signed on the wire).
        assert_eq!(kind("-2147483646"), (RecipientKind::SecurityGroup, 0));
        assert_eq!(kind("-2147483644"), (RecipientKind::SecurityGroup, 0));
        assert_eq!(kind("-2147483640"), (RecipientKind::SecurityGroup, 0));
        // The same bits written unsigned.
        assert_eq!(kind("2147483656"), (RecipientKind::SecurityGroup, 0));
        // Global, domain-local and universal distribution groups.
        assert_eq!(kind("2"), (RecipientKind::DistributionGroup, 0));
        assert_eq!(kind("4"), (RecipientKind::DistributionGroup, 0));
        assert_eq!(kind("8"), (RecipientKind::DistributionGroup, 0));
        assert_eq!(kind("universal"), (RecipientKind::DistributionGroup, 1));

        let plain = object("cn=g,dc=x", &[("mail", &["g@example.com"])]);
        let (e, issues) = entry(map_group(&plain, &LdapAttributes::inet_org_person()));
        assert_eq!(e.kind, RecipientKind::DistributionGroup);
        assert!(issues.is_empty());
        let none = object("cn=g,dc=x", &[("cn", &["g"])]);
        assert!(matches!(map_group(&none, &ad), Mapped::NotARecipient));
    }

    #[test]
    fn the_default_group_filter_selects_mail_enabled_groups_of_the_maps_class() {
        assert_eq!(
            LdapAttributes::active_directory().mail_groups_filter(),
            "(&(objectClass=group)(|(mail=*)(proxyAddresses=smtp:*)))"
        );
        assert_eq!(
            LdapAttributes::inet_org_person().mail_groups_filter(),
            "(&(objectClass=groupOfNames)(mail=*))"
        );
    }
}
