//! The LDAP source against a real directory server: OpenLDAP's slapd with
//! Active Directory's user schema, started on 127.0.0.1 by
//! `scripts/ldap-up.sh` (which `scripts/test.sh` runs first). Each test
//! writes its own organisational unit, so tests can run in parallel.

mod support;
use support::{Attribute, NewObject, add_unit, capture_trace, primaries, set};

use std::collections::BTreeSet;

use ldap3::{LdapConnAsync, Scope};
use muster_core::{DirectorySnapshot, Field, FieldSet, Location, RecipientKind};
use muster_directory::{DirectorySource, Error, LdapAttributes, LdapObjects, LdapSource};

/// The test server's settings, from the environment `scripts/ldap-up.sh` prints.
struct Server {
    url: String,
    base: String,
    admin_dn: String,
    admin_password: String,
    reader_dn: String,
    reader_password: String,
    limited_dn: String,
    /// The throw-away CA that signed the server's certificate (PEM).
    ca_pem: Vec<u8>,
    /// `ldaps://127.0.0.1:<port+1>`: the certificate names this address.
    ldaps_url: String,
    /// The same ldaps listener at an address the certificate does not name.
    ldaps_wrong_name_url: String,
}

fn server() -> Server {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run `eval \"$(scripts/ldap-up.sh)\"` first (scripts/test.sh does)")
        })
    };
    Server {
        url: var("MUSTER_LDAP_URL"),
        base: var("MUSTER_LDAP_BASE"),
        admin_dn: var("MUSTER_LDAP_ADMIN_DN"),
        admin_password: var("MUSTER_LDAP_ADMIN_PASSWORD"),
        reader_dn: var("MUSTER_LDAP_READER_DN"),
        reader_password: var("MUSTER_LDAP_READER_PASSWORD"),
        limited_dn: var("MUSTER_LDAP_LIMITED_DN"),
        ca_pem: std::fs::read(var("MUSTER_LDAP_CA_FILE")).expect("the test CA is readable"),
        ldaps_url: var("MUSTER_LDAP_LDAPS_URL"),
        ldaps_wrong_name_url: var("MUSTER_LDAP_LDAPS_WRONG_NAME_URL"),
    }
}

/// A user object as AD stores it (the attributes `mstop` requires included).
fn user(cn: &str, attributes: &[(&str, &[&str])]) -> NewObject {
    let mut attrs: Vec<Attribute> = vec![
        (
            "objectClass".into(),
            set(&["user", "musterExchangeRecipient"]),
        ),
        ("cn".into(), set(&[cn])),
        ("instanceType".into(), set(&["4"])),
        ("nTSecurityDescriptor".into(), set(&["x"])),
        (
            "objectCategory".into(),
            set(&["CN=Person,CN=Schema,CN=Configuration,DC=example,DC=com"]),
        ),
    ];
    if !attributes.iter().any(|(name, _)| *name == "sn") {
        attrs.push(("sn".into(), set(&[cn])));
    }
    for (name, values) in attributes {
        attrs.push(((*name).to_owned(), set(values)));
    }
    (cn.to_owned(), attrs)
}

/// A group object as AD stores it: `groupType` and the `mstop` musts.
fn group(cn: &str, group_type: &str, attributes: &[(&str, &[&str])]) -> NewObject {
    let mut attrs: Vec<Attribute> = vec![
        ("objectClass".into(), set(&["group"])),
        ("cn".into(), set(&[cn])),
        ("groupType".into(), set(&[group_type])),
        ("instanceType".into(), set(&["4"])),
        ("nTSecurityDescriptor".into(), set(&["x"])),
        (
            "objectCategory".into(),
            set(&["CN=Group,CN=Schema,CN=Configuration,DC=example,DC=com"]),
        ),
    ];
    for (name, values) in attributes {
        attrs.push(((*name).to_owned(), set(values)));
    }
    (cn.to_owned(), attrs)
}

/// Creates `ou=<unit>` under the base and the given objects in it, as the
/// admin; returns the unit's DN.
async fn populate(s: &Server, unit: &str, objects: Vec<NewObject>) -> String {
    let (connection, mut ldap) = LdapConnAsync::new(&s.url).await.unwrap();
    ldap3::drive!(connection);
    ldap.simple_bind(&s.admin_dn, &s.admin_password)
        .await
        .unwrap()
        .success()
        .unwrap();
    let ou = format!("ou={unit},{}", s.base);
    // A leftover from an earlier run of the same test: remove it first.
    let old = ldap
        .search(&ou, Scope::OneLevel, "(objectClass=*)", vec!["1.1"])
        .await
        .ok()
        .and_then(|r| r.success().ok())
        .map(|(entries, _)| entries)
        .unwrap_or_default();
    for entry in old {
        let dn = ldap3::SearchEntry::construct(entry).dn;
        ldap.delete(&dn).await.unwrap();
    }
    let _ = ldap.delete(&ou).await;
    let objects = objects
        .into_iter()
        .map(|(cn, attrs)| (format!("cn={cn}"), attrs))
        .collect();
    add_unit(&mut ldap, &ou, unit, objects).await;
    ldap.unbind().await.unwrap();
    ou
}

/// The source a deployment would configure, reading `ou` as the reader
/// account. slapd does not expand `objectCategory=person` the way a domain
/// controller does, so the tests select users by class.
fn source(s: &Server, ou: &str) -> LdapSource {
    LdapSource::new(&s.url, ou)
        .named("ad")
        .bind(&s.reader_dn, s.reader_password.clone().into())
        .filter("(objectClass=user)")
}

#[tokio::test]
async fn active_directory_users_become_entries_with_exactly_the_fields_the_map_names() {
    let s = server();
    let guid: &[u8] = &[
        0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x78, 0x56, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4,
    ];
    let mut ann = user(
        "Ann Lee",
        &[
            ("givenName", &["Ann"]),
            ("sn", &["Lee"]),
            ("mail", &["ann.lee@example.com"]),
            (
                "proxyAddresses",
                &[
                    "SMTP:Ann.Lee@example.com",
                    "smtp:ann@example.org",
                    "X500:/o=Example/cn=ann",
                ],
            ),
            ("mobile", &["+44 7700 900123"]),
            ("homePhone", &["+44 20 7946 0000"]),
            ("company", &["Example Ltd"]),
            ("department", &["Sales"]),
            ("info", &["Works Fridays only"]),
            ("userAccountControl", &["512"]),
            ("msExchRecipientTypeDetails", &["1"]),
        ],
    );
    ann.1
        .push(("objectGUID".into(), [guid.to_vec()].into_iter().collect()));
    let objects = vec![
        ann,
        // A shared mailbox sits on a disabled account: disabled, but not gone.
        user(
            "Support",
            &[
                ("mail", &["support@example.com"]),
                ("userAccountControl", &["514"]),
                ("msExchRecipientTypeDetails", &["4"]),
            ],
        ),
        // A person who left: disabled user mailbox.
        user(
            "Bob Gone",
            &[
                ("mail", &["bob.gone@example.com"]),
                ("userAccountControl", &["66050"]),
                ("msExchRecipientTypeDetails", &["1"]),
            ],
        ),
        // A service account without any address is not a recipient, and not a problem.
        user("svc-backup", &[("userAccountControl", &["512"])]),
    ];
    let ou = populate(&s, "mapping", objects).await;

    let snapshot = source(&s, &ou).read().await.unwrap();
    assert!(snapshot.issues.is_empty(), "{:?}", snapshot.issues);
    assert_eq!(snapshot.source, "ad");
    assert_eq!(
        snapshot.provided,
        LdapAttributes::active_directory().provided_fields()
    );
    let mut entries = snapshot.entries.clone();
    entries.sort_by(|a, b| a.primary_email.cmp(&b.primary_email));
    let primaries: Vec<&str> = entries.iter().map(|e| e.primary_email.as_str()).collect();
    assert_eq!(
        primaries,
        [
            "Ann.Lee@example.com",
            "bob.gone@example.com",
            "support@example.com"
        ]
    );

    let ann = &entries[0];
    let aliases: Vec<&str> = ann.aliases.iter().map(|a| a.as_str()).collect();
    assert_eq!(aliases, ["ann@example.org"]);
    assert_eq!(ann.first_name.as_deref(), Some("Ann"));
    assert_eq!(ann.last_name.as_deref(), Some("Lee"));
    assert_eq!(ann.mobile.as_deref(), Some("+447700900123"));
    assert_eq!(ann.phone.as_deref(), Some("+44 20 7946 0000"));
    assert_eq!(ann.company.as_deref(), Some("Example Ltd"));
    assert_eq!(ann.department.as_deref(), Some("Sales"));
    assert_eq!(ann.notes.as_deref(), Some("Works Fridays only"));
    assert!(ann.enabled);
    assert_eq!(ann.kind, RecipientKind::UserMailbox);
    assert_eq!(
        ann.external_id.as_ref().map(|id| id.as_str()),
        Some("12345678-1234-5678-9abc-def001020304")
    );
    assert_eq!(ann.location, Some(Location::dn(format!("cn=Ann Lee,{ou}"))));

    let bob = &entries[1];
    assert!(!bob.enabled);
    assert_eq!(bob.kind, RecipientKind::UserMailbox);
    let support = &entries[2];
    assert!(!support.enabled);
    assert_eq!(support.kind, RecipientKind::SharedMailbox);
}

#[tokio::test]
async fn bad_objects_are_issues_named_by_dn_and_the_good_ones_still_arrive() {
    let s = server();
    let objects = vec![
        user("Good One", &[("mail", &["good@example.com"])]),
        user(
            "Two Primaries",
            &[
                ("mail", &["two@example.com"]),
                (
                    "proxyAddresses",
                    &["SMTP:two@example.com", "SMTP:deux@example.com"],
                ),
            ],
        ),
        user("Bad Mail", &[("mail", &["bad mail@example.com"])]),
        user("Copy Of Good", &[("mail", &["Good@Example.com"])]),
        user(
            "Old Phone",
            &[
                ("mail", &["phone@example.com"]),
                ("mobile", &["07700 900123"]),
            ],
        ),
    ];
    let ou = populate(&s, "issues", objects).await;
    let snapshot = source(&s, &ou).read().await.unwrap();

    let mut primaries = primaries(&snapshot);
    primaries.sort_unstable();
    // The duplicate is whichever of the two the server sent second; the other stays.
    assert_eq!(primaries.len(), 3, "{primaries:?}");
    assert!(primaries.contains(&"two@example.com") && primaries.contains(&"phone@example.com"));
    let two = snapshot
        .entries
        .iter()
        .find(|e| e.primary_email.as_str() == "two@example.com")
        .unwrap();
    assert_eq!(
        two.aliases.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        ["deux@example.com"]
    );

    let dn = |cn: &str| Location::dn(format!("cn={cn},{ou}"));
    let mut found: Vec<(Location, Option<String>)> = snapshot
        .issues
        .iter()
        .map(|i| (i.location.clone(), i.field.clone()))
        .collect();
    found.sort_by_key(|(l, _)| l.to_string());
    let duplicate = snapshot
        .issues
        .iter()
        .find(|i| i.field.as_deref() == Some("primary_email"))
        .unwrap();
    let pair = BTreeSet::from([
        duplicate.location.clone(),
        duplicate.related.clone().unwrap(),
    ]);
    assert_eq!(
        pair,
        BTreeSet::from([dn("Good One"), dn("Copy Of Good")]),
        "both objects are named"
    );
    let mut expected = vec![
        (dn("Bad Mail"), Some("mail".to_owned())),
        (duplicate.location.clone(), Some("primary_email".to_owned())),
        (dn("Old Phone"), Some("mobile".to_owned())),
        (dn("Two Primaries"), Some("proxyAddresses".to_owned())),
    ];
    expected.sort_by_key(|(l, _)| l.to_string());
    assert_eq!(found, expected);
}

#[tokio::test]
async fn every_object_is_read_past_the_servers_per_search_limit() {
    let s = server();
    let objects = (0..2_500)
        .map(|i| {
            let mail = format!("user{i:04}@example.com");
            user(&format!("User {i:04}"), &[("mail", &[mail.as_str()])])
        })
        .collect();
    let ou = populate(&s, "paging", objects).await;

    // The server's limit is real: an unpaged search by the same account is cut short.
    let (connection, mut ldap) = LdapConnAsync::new(&s.url).await.unwrap();
    ldap3::drive!(connection);
    ldap.simple_bind(&s.reader_dn, &s.reader_password)
        .await
        .unwrap()
        .success()
        .unwrap();
    let unpaged = ldap
        .search(&ou, Scope::Subtree, "(objectClass=user)", vec!["mail"])
        .await
        .unwrap();
    assert_eq!(unpaged.1.rc, 4, "sizeLimitExceeded without paging");

    let (trace, guard) = capture_trace();
    let snapshot = source(&s, &ou).read().await.unwrap();
    drop(guard);
    assert_eq!(snapshot.entries.len(), 2_500);
    assert!(snapshot.issues.is_empty());
    let distinct: BTreeSet<&str> = primaries(&snapshot).into_iter().collect();
    assert_eq!(distinct.len(), 2_500);
    // What `MUSTER_LOG` shows of it: the search and the read, with their
    // counts, and never the password.
    let trace = trace.text();
    assert!(
        trace.lines().any(|l| l.contains("ldap.search")
            && l.contains("objects=2500")
            && l.contains("close")),
        "{trace}"
    );
    assert!(
        trace
            .lines()
            .any(|l| l.contains("ldap.read") && l.contains("entries=2500") && l.contains("close")),
        "{trace}"
    );
    assert!(!trace.contains(&s.reader_password), "{trace}");
}

#[tokio::test]
async fn a_search_the_server_cuts_short_is_an_error_never_a_smaller_directory() {
    let s = server();
    let objects = (0..20)
        .map(|i| {
            let mail = format!("cut{i:02}@example.com");
            user(&format!("Cut {i:02}"), &[("mail", &[mail.as_str()])])
        })
        .collect();
    let ou = populate(&s, "truncated", objects).await;
    let limited = LdapSource::new(&s.url, &ou)
        .bind(&s.limited_dn, s.reader_password.clone().into())
        .filter("(objectClass=user)")
        .page_size(5);
    let error = limited.read().await.unwrap_err();
    assert!(matches!(error, Error::Ldap { .. }), "{error}");
    assert!(error.is_directory_unavailable());
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_showing_it() {
    let s = server();
    let wrong = "not-the-reader-password-42";
    let source = LdapSource::new(&s.url, &s.base)
        .bind(&s.reader_dn, wrong.to_owned().into())
        .filter("(objectClass=user)");
    let error = source.read().await.unwrap_err();
    let mut chain = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(c) = cause {
        chain.push_str(&format!(": {c}"));
        cause = c.source();
    }
    assert!(chain.contains("bind"), "{chain}");
    assert!(chain.contains("rc=49") || chain.contains("49"), "{chain}");
    assert!(!chain.contains(wrong) && !format!("{error:?}").contains(wrong));
}

#[tokio::test]
async fn a_base_that_does_not_exist_is_an_error_not_an_empty_directory() {
    let s = server();
    let nowhere = format!("ou=Nowhere,{}", s.base);
    let error = source(&s, &nowhere).read().await.unwrap_err();
    assert!(matches!(error, Error::Ldap { .. }), "{error}");
}

#[tokio::test]
async fn required_values_match_literally_even_with_filter_characters() {
    let s = server();
    let objects = vec![
        user(
            "Star",
            &[("mail", &["star@example.com"]), ("sn", &["Lee (*)"])],
        ),
        user(
            "Paren",
            &[("mail", &["paren@example.com"]), ("sn", &["Lee (UK)"])],
        ),
        user(
            "Plain",
            &[("mail", &["plain@example.com"]), ("sn", &["Lee"])],
        ),
    ];
    let ou = populate(&s, "escaping", objects).await;
    let snapshot = source(&s, &ou)
        .require("sn", "Lee (*)")
        .read()
        .await
        .unwrap();
    let primaries = primaries(&snapshot);
    assert_eq!(primaries, ["star@example.com"]);
}

#[tokio::test]
async fn a_plain_directory_map_provides_only_what_it_names() {
    let s = server();
    let objects = vec![user(
        "Dee",
        &[
            ("mail", &["dee@example.com"]),
            ("givenName", &["Dee"]),
            ("info", &["ignored"]),
        ],
    )];
    let ou = populate(&s, "inetorg", objects).await;
    let source: Box<dyn DirectorySource> =
        Box::new(source(&s, &ou).attributes(LdapAttributes::inet_org_person()));
    let snapshot = source.fetch().await.unwrap();
    assert_eq!(snapshot.entries.len(), 1);
    assert_eq!(snapshot.entries[0].notes, None);
    assert!(!snapshot.provided.contains(Field::Notes));
    assert!(!snapshot.provided.contains(Field::Aliases));
    assert!(snapshot.provided.contains(Field::FirstName));
    assert_ne!(snapshot.provided, FieldSet::all());
}

/// The error and its causes on one line, as a person would read them.
fn chain(error: &Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

/// One user in `ou=<unit>`, read back over TLS by `configure`d sources.
async fn tls_unit(s: &Server, unit: &str) -> String {
    populate(
        s,
        unit,
        vec![user("Tess", &[("mail", &["tess@example.com"])])],
    )
    .await
}

/// The reader on `url` under `ou`, as a deployment would bind.
fn reader(s: &Server, url: &str, ou: &str) -> LdapSource {
    LdapSource::new(url, ou)
        .named("ad")
        .bind(&s.reader_dn, s.reader_password.clone().into())
        .filter("(objectClass=user)")
}

/// Asserts `result` failed on the server's certificate, saying so, for
/// `reason` (rustls's name for the check), and without the password.
fn assert_certificate_refused(s: &Server, result: Result<DirectorySnapshot, Error>, reason: &str) {
    let error = result.expect_err("a certificate that does not verify must fail the read");
    let text = chain(&error);
    assert!(
        matches!(&error, Error::Ldap { action, .. } if action.contains("certificate")),
        "{text}"
    );
    assert!(error.is_directory_unavailable());
    assert!(text.contains(reason), "{text}");
    assert!(
        !text.contains(&s.reader_password) && !format!("{error:?}").contains(&s.reader_password)
    );
}

#[tokio::test]
async fn ldaps_with_the_test_ca_trusted_reads_the_directory() {
    let s = server();
    let ou = tls_unit(&s, "tls-ldaps").await;
    let snapshot = reader(&s, &s.ldaps_url, &ou)
        .root_certificate_pem(&s.ca_pem)
        .unwrap()
        .read()
        .await
        .unwrap();
    let primaries = primaries(&snapshot);
    assert_eq!(primaries, ["tess@example.com"]);
}

#[tokio::test]
async fn ldaps_without_trusting_the_ca_is_a_certificate_error_not_an_empty_directory() {
    let s = server();
    let ou = tls_unit(&s, "tls-unknown-ca").await;
    assert_certificate_refused(
        &s,
        reader(&s, &s.ldaps_url, &ou).read().await,
        "UnknownIssuer",
    );
}

#[tokio::test]
async fn starttls_on_the_plain_port_verifies_against_the_trusted_ca() {
    let s = server();
    let ou = tls_unit(&s, "tls-starttls").await;
    let snapshot = reader(&s, &s.url, &ou)
        .starttls()
        .root_certificate_pem(&s.ca_pem)
        .unwrap()
        .read()
        .await
        .unwrap();
    assert_eq!(snapshot.entries.len(), 1);
    // The same port without the CA fails: TLS really was negotiated and verified.
    assert_certificate_refused(
        &s,
        reader(&s, &s.url, &ou).starttls().read().await,
        "UnknownIssuer",
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_even_from_a_trusted_ca() {
    let s = server();
    let ou = tls_unit(&s, "tls-wrong-name").await;
    let source = reader(&s, &s.ldaps_wrong_name_url, &ou)
        .root_certificate_pem(&s.ca_pem)
        .unwrap();
    assert_certificate_refused(&s, source.read().await, "not valid for name");
}

#[tokio::test]
async fn the_given_ca_can_be_the_only_trusted_one_and_verification_never_switches_off() {
    let s = server();
    let ou = tls_unit(&s, "tls-only-ca").await;
    let only = reader(&s, &s.ldaps_url, &ou)
        .without_platform_root_certificates()
        .root_certificate_pem(&s.ca_pem)
        .unwrap();
    assert_eq!(only.read().await.unwrap().entries.len(), 1);
    // No CA at all: nothing verifies, so nothing is read.
    let none = reader(&s, &s.ldaps_url, &ou).without_platform_root_certificates();
    assert_certificate_refused(&s, none.read().await, "UnknownIssuer");
    // Only the explicit escape hatch reads a server it cannot verify.
    let danger = reader(&s, &s.ldaps_url, &ou).danger_accept_invalid_certificates();
    assert_eq!(danger.read().await.unwrap().entries.len(), 1);
}

#[test]
fn a_ca_file_that_is_not_a_certificate_is_refused_when_configured() {
    let s = server();
    let source = || LdapSource::new(&s.ldaps_url, &s.base).named("ad");
    for bad in [
        &b""[..],
        b"not pem at all",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n",
    ] {
        let error = source().root_certificate_pem(bad).unwrap_err();
        assert!(
            matches!(&error, Error::LdapCertificate { source_name, .. } if source_name == "ad"),
            "{error}"
        );
    }
    // The real one parses, and a bundle adds every certificate in it.
    let mut bundle = s.ca_pem.clone();
    bundle.extend_from_slice(&s.ca_pem);
    assert!(source().root_certificate_pem(&bundle).is_ok());
}

/// The names in an entry's `member_of`, by primary address.
fn memberships(snapshot: &DirectorySnapshot) -> Vec<(String, Vec<String>)> {
    let mut found: Vec<(String, Vec<String>)> = snapshot
        .entries
        .iter()
        .map(|e| {
            (
                e.primary_email.as_str().to_owned(),
                e.member_of.iter().cloned().collect(),
            )
        })
        .collect();
    found.sort();
    found
}

/// Strings for comparing.
fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

#[tokio::test]
async fn mail_enabled_groups_become_entries_and_users_their_members() {
    let s = server();
    let ou = format!("ou=groups,{}", s.base);
    let dn = |cn: &str| format!("cn={cn},{ou}");
    let objects = vec![
        user("Ann", &[("mail", &["ann@example.com"])]),
        user("Bo", &[("mail", &["bo@example.com"])]),
        user("Cy", &[("mail", &["cy@example.com"])]),
        // In a group, but no recipient: no entry, and nothing to attach groups to.
        user("svc", &[]),
        // A universal distribution group, with a nested security group in it.
        group(
            "Sales",
            "8",
            &[
                ("mail", &["sales@example.com"]),
                (
                    "proxyAddresses",
                    &["SMTP:sales@example.com", "smtp:sales-team@example.com"],
                ),
                ("member", &[&dn("Ann"), &dn("svc"), &dn("Sales EU")]),
            ],
        ),
        // A mail-enabled global security group (`groupType` is signed).
        group(
            "Sales EU",
            "-2147483646",
            &[
                ("mail", &["sales-eu@example.com"]),
                ("member", &[&dn("Bo")]),
            ],
        ),
        // A security group that is not mail-enabled: neither an entry nor a membership.
        group(
            "Staff",
            "-2147483646",
            &[("member", &[&dn("Ann"), &dn("Bo"), &dn("Cy")])],
        ),
    ];
    populate(&s, "groups", objects).await;
    let read = |objects| {
        let source = source(&s, &ou).objects(objects);
        async move { source.read().await.unwrap() }
    };

    let both = read(LdapObjects::Both).await;
    assert!(both.issues.is_empty(), "{:?}", both.issues);
    assert!(both.provided.contains(Field::Groups) && both.provided.contains(Field::Kind));
    assert_eq!(
        memberships(&both),
        [
            ("ann@example.com".to_owned(), strings(&["Sales"])),
            // Through Sales EU, a member of Sales.
            ("bo@example.com".to_owned(), strings(&["Sales", "Sales EU"])),
            ("cy@example.com".to_owned(), strings(&[])),
            ("sales-eu@example.com".to_owned(), strings(&["Sales"])),
            ("sales@example.com".to_owned(), strings(&[])),
        ]
    );
    let entry = |address: &str| {
        both.entries
            .iter()
            .find(|e| e.primary_email.as_str() == address)
            .unwrap()
    };
    let sales = entry("sales@example.com");
    assert_eq!(sales.kind, RecipientKind::DistributionGroup);
    assert_eq!(
        sales.aliases.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        ["sales-team@example.com"]
    );
    assert_eq!(sales.location, Some(Location::dn(dn("Sales"))));
    assert_eq!(
        entry("sales-eu@example.com").kind,
        RecipientKind::SecurityGroup
    );
    assert_eq!(entry("ann@example.com").kind, RecipientKind::UserMailbox);

    let groups = read(LdapObjects::Groups).await;
    let primaries: BTreeSet<&str> = primaries(&groups).into_iter().collect();
    assert_eq!(
        primaries,
        BTreeSet::from(["sales@example.com", "sales-eu@example.com"])
    );

    // Users only, as before: no groups, no memberships, `groups` not provided.
    let users = read(LdapObjects::Users).await;
    assert_eq!(users.entries.len(), 3);
    assert!(users.entries.iter().all(|e| e.member_of.is_empty()));
    assert!(!users.provided.contains(Field::Groups));
    assert_eq!(
        users.provided,
        LdapAttributes::active_directory().provided_fields()
    );
}

#[tokio::test]
async fn group_of_names_with_mail_is_a_group_for_plain_directories() {
    let s = server();
    let ou = format!("ou=names,{}", s.base);
    let dn = |cn: &str| format!("cn={cn},{ou}");
    let group_of_names = |cn: &str, attributes: &[(&str, &[&str])]| {
        let mut attrs: Vec<Attribute> = vec![
            // extensibleObject: OpenLDAP's groupOfNames has no `mail` of its own.
            (
                "objectClass".into(),
                set(&["groupOfNames", "extensibleObject"]),
            ),
            ("cn".into(), set(&[cn])),
        ];
        for (name, values) in attributes {
            attrs.push(((*name).to_owned(), set(values)));
        }
        (cn.to_owned(), attrs)
    };
    let objects = vec![
        user("Dee", &[("mail", &["dee@example.com"])]),
        group_of_names(
            "Ops",
            &[("mail", &["ops@example.com"]), ("member", &[&dn("Dee")])],
        ),
        group_of_names("Quiet", &[("member", &[&dn("Dee")])]),
    ];
    populate(&s, "names", objects).await;
    let snapshot = source(&s, &ou)
        .attributes(LdapAttributes::inet_org_person())
        .objects(LdapObjects::Both)
        .read()
        .await
        .unwrap();
    assert!(snapshot.issues.is_empty(), "{:?}", snapshot.issues);
    assert_eq!(
        memberships(&snapshot),
        [
            ("dee@example.com".to_owned(), strings(&["Ops"])),
            ("ops@example.com".to_owned(), strings(&[])),
        ]
    );
    let ops = snapshot
        .entries
        .iter()
        .find(|e| e.primary_email.as_str() == "ops@example.com")
        .unwrap();
    assert_eq!(ops.kind, RecipientKind::DistributionGroup);
}
