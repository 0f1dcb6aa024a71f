//! The LDAP source against a real Active Directory domain controller:
//! Samba's AD DC, provisioned and started on 127.0.0.1 by
//! `scripts/samba-up.sh` (which `scripts/test.sh` runs first). Where
//! `tests/ldap.rs` dresses OpenLDAP in AD's user schema, this is AD itself:
//! its `objectCategory` expansion, `objectGUID`, the accounts and groups it
//! creates, its TLS and bind rules, and its answers to paged and ranged
//! reads.
//!
//! Each test writes its own organisational unit, so tests run in parallel;
//! the bulk unit (more users than MaxPageSize, a group with more members
//! than MaxValRange) is made by the script and only read.

mod ad_support;
mod support;

use std::collections::BTreeSet;

use ad_support::{Dc, chain, dc, group, object, read_base, user};
use ldap3::{Scope, SearchEntry};
use muster_core::{DirectorySnapshot, Field, Location, RecipientKind};
use muster_directory::{Error, LdapObjects, LdapSource};
use support::primaries;

/// The snapshot's entry with this primary address.
fn entry<'a>(snapshot: &'a DirectorySnapshot, address: &str) -> &'a muster_core::DirectoryEntry {
    snapshot
        .entries
        .iter()
        .find(|e| e.primary_email.as_str() == address)
        .unwrap_or_else(|| panic!("no {address} in {:?}", primaries(snapshot)))
}

/// The snapshot's primary addresses, sorted.
fn sorted_primaries(snapshot: &DirectorySnapshot) -> Vec<&str> {
    let mut found = primaries(snapshot);
    found.sort_unstable();
    found
}

/// The DC's own limits, from its default query policy (`lDAPAdminLimits`).
async fn admin_limit(s: &Dc, name: &str) -> usize {
    let mut ldap = s.reader().await;
    let policy = format!(
        "CN=Default Query Policy,CN=Query-Policies,CN=Directory Service,CN=Windows NT,CN=Services,CN=Configuration,{}",
        s.base
    );
    let limits = read_base(&mut ldap, &policy, &["lDAPAdminLimits"]).await;
    let prefix = format!("{name}=");
    limits
        .iter()
        .flat_map(|(_, values)| values)
        .find_map(|v| v.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in the DC's query policy: {limits:?}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn every_user_is_read_past_the_dcs_max_page_size() {
    let s = dc();
    let max_page_size = admin_limit(&s, "MaxPageSize").await;
    assert_eq!(
        max_page_size, 1000,
        "AD's default, which the source's pages match"
    );
    assert!(s.bulk_users > max_page_size);

    // Samba 4.17 publishes MaxPageSize but does not enforce it (Windows
    // answers an unpaged search with 1000 objects and sizeLimitExceeded;
    // tests/ldap.rs shows the source refusing that cut on slapd). So here
    // the paging shows as pages: with the DC's default, and with pages of
    // 100, of which a source that stopped after the first page (or lost
    // the DC's cookie) would read 100.
    let mut ldap = s.reader().await;
    let unpaged = ldap
        .search(
            &s.bulk_ou,
            Scope::Subtree,
            "(objectClass=user)",
            vec!["1.1"],
        )
        .await
        .unwrap();
    assert_eq!(
        (unpaged.1.rc, unpaged.0.len()),
        (0, s.bulk_users),
        "Samba now limits unpaged searches, as Windows does: assert the cut here (rc 4)"
    );

    let expected: Vec<String> = (1..=s.bulk_users)
        .map(|i| format!("bulk{i:04}@muster.test"))
        .collect();
    for source in [s.source(&s.bulk_ou), s.source(&s.bulk_ou).page_size(100)] {
        let snapshot = source.read().await.unwrap();
        assert!(snapshot.issues.is_empty(), "{:?}", snapshot.issues);
        assert_eq!(sorted_primaries(&snapshot), expected);
    }
}

#[tokio::test]
async fn a_group_beyond_max_val_range_is_read_whole() {
    let s = dc();
    let max_val_range = admin_limit(&s, "MaxValRange").await;
    assert_eq!(max_val_range, 1500);
    assert!(s.bulk_users > max_val_range);

    let snapshot = s
        .source(&s.bulk_ou)
        .objects(LdapObjects::Both)
        .read()
        .await
        .unwrap();
    assert!(snapshot.issues.is_empty(), "{:?}", snapshot.issues);
    assert!(snapshot.provided.contains(Field::Groups));
    assert_eq!(snapshot.entries.len(), s.bulk_users + 1);
    let group = entry(&snapshot, "bulk-all@muster.test");
    // Made without a groupType: AD's default, a global security group.
    assert_eq!(group.kind, RecipientKind::SecurityGroup);
    let members: Vec<&str> = snapshot
        .entries
        .iter()
        .filter(|e| e.member_of.contains("bulk-all"))
        .map(|e| e.primary_email.as_str())
        .collect();
    assert_eq!(
        members.len(),
        s.bulk_users,
        "every member, not the first 1500"
    );

    // What the DC answers the requests the source makes. Samba answers a
    // plain `member` whole (Windows would send `member;range=0-1499`), and
    // the follow-up the source sends after such a first range, as AD does:
    // the values from 1500 on, under a description that ends in `-*`.
    let mut ldap = s.reader().await;
    let group_dn = format!("CN=bulk-all,{}", s.bulk_ou);
    let counted = |answer: Vec<(String, Vec<String>)>| {
        answer
            .into_iter()
            .map(|(description, values)| (description, values.len()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        counted(read_base(&mut ldap, &group_dn, &["member"]).await),
        [("member".to_owned(), s.bulk_users)]
    );
    assert_eq!(
        counted(read_base(&mut ldap, &group_dn, &["member;range=0-1499"]).await),
        [("member;range=0-1499".to_owned(), 1500)]
    );
    assert_eq!(
        counted(read_base(&mut ldap, &group_dn, &["member;range=1500-*"]).await),
        [("member;range=1500-*".to_owned(), s.bulk_users - 1500)]
    );
}

#[tokio::test]
async fn ad_users_become_entries_as_aduc_shows_them() {
    let s = dc();
    let ou = s
        .populate(
            "ad-mapping",
            vec![
                user(
                    "Ann Lee",
                    &[
                        ("givenName", &["Ann"]),
                        ("sn", &["Lee"]),
                        ("mail", &["ann.lee@muster.test"]),
                        (
                            "proxyAddresses",
                            &[
                                "SMTP:Ann.Lee@muster.test",
                                "smtp:ann@muster.test",
                                "smtp:a.lee@example.org",
                                "X500:/o=Muster/ou=Exchange/cn=Recipients/cn=ann",
                            ],
                        ),
                        ("mobile", &["+44 7700 900123"]),
                        ("homePhone", &["+44 20 7946 0000"]),
                        ("company", &["Muster Ltd"]),
                        ("department", &["Sales"]),
                        ("info", &["Works Fridays only"]),
                        // NORMAL_ACCOUNT | PASSWD_NOTREQD: enabled.
                        ("userAccountControl", &["544"]),
                    ],
                ),
                // ACCOUNTDISABLE (0x2) on a normal account: someone who left.
                user(
                    "Bob Gone",
                    &[
                        ("mail", &["bob.gone@muster.test"]),
                        ("userAccountControl", &["546"]),
                    ],
                ),
                // Disabled with DONT_EXPIRE_PASSWORD set too (66050 = 0x10202).
                user(
                    "Cy Old",
                    &[
                        ("mail", &["cy.old@muster.test"]),
                        ("userAccountControl", &["66050"]),
                    ],
                ),
                // No userAccountControl given: AD creates the account disabled.
                user("Dee New", &[("mail", &["dee.new@muster.test"])]),
                // Addresses only in proxyAddresses: the SMTP: one is the primary.
                user(
                    "Eve Proxy",
                    &[
                        (
                            "proxyAddresses",
                            &["smtp:eve.old@muster.test", "SMTP:eve@muster.test"],
                        ),
                        ("userAccountControl", &["544"]),
                    ],
                ),
                // A service account without any address: not a recipient.
                user("svc-backup", &[("userAccountControl", &["544"])]),
                // objectClass=user too, but objectCategory=computer.
                object(
                    "computer",
                    "PC1",
                    &[
                        ("sAMAccountName", &["PC1$"]),
                        ("mail", &["pc1@muster.test"]),
                        ("userAccountControl", &["4096"]),
                    ],
                ),
                // objectCategory=person, but no user: a contact.
                object(
                    "contact",
                    "Outside Olga",
                    &[("mail", &["olga@example.org"])],
                ),
            ],
        )
        .await;

    let snapshot = s.source(&ou).read().await.unwrap();
    assert!(snapshot.issues.is_empty(), "{:?}", snapshot.issues);
    assert_eq!(
        sorted_primaries(&snapshot),
        [
            "Ann.Lee@muster.test",
            "bob.gone@muster.test",
            "cy.old@muster.test",
            "dee.new@muster.test",
            "eve@muster.test",
        ]
    );
    let ann = entry(&snapshot, "Ann.Lee@muster.test");
    let aliases: Vec<&str> = ann.aliases.iter().map(|a| a.as_str()).collect();
    assert_eq!(aliases, ["a.lee@example.org", "ann@muster.test"]);
    assert_eq!(ann.first_name.as_deref(), Some("Ann"));
    assert_eq!(ann.last_name.as_deref(), Some("Lee"));
    assert_eq!(ann.mobile.as_deref(), Some("+447700900123"));
    assert_eq!(ann.phone.as_deref(), Some("+44 20 7946 0000"));
    assert_eq!(ann.company.as_deref(), Some("Muster Ltd"));
    assert_eq!(ann.department.as_deref(), Some("Sales"));
    assert_eq!(ann.notes.as_deref(), Some("Works Fridays only"));
    assert!(ann.enabled);
    // Samba carries no Exchange schema: no recipient type, a user mailbox.
    assert_eq!(ann.kind, RecipientKind::UserMailbox);
    assert_eq!(ann.location, Some(Location::dn(format!("CN=Ann Lee,{ou}"))));
    for disabled in [
        "bob.gone@muster.test",
        "cy.old@muster.test",
        "dee.new@muster.test",
    ] {
        assert!(!entry(&snapshot, disabled).enabled, "{disabled}");
    }
    let eve = entry(&snapshot, "eve@muster.test");
    assert!(eve.enabled);
    let aliases: Vec<&str> = eve.aliases.iter().map(|a| a.as_str()).collect();
    assert_eq!(aliases, ["eve.old@muster.test"]);

    // The DC's own view of the accounts' flags, which the entries follow.
    let mut ldap = s.reader().await;
    let flags = read_base(
        &mut ldap,
        &format!("CN=Dee New,{ou}"),
        &["userAccountControl"],
    )
    .await;
    assert_eq!(
        flags,
        [("userAccountControl".to_owned(), vec!["546".to_owned()])]
    );
}

#[tokio::test]
async fn object_guid_is_the_guid_the_dc_itself_reports() {
    let s = dc();
    let names: Vec<String> = (0..8).map(|i| format!("Guid {i}")).collect();
    let ou = s
        .populate(
            "ad-guid",
            names
                .iter()
                .enumerate()
                .map(|(i, cn)| {
                    let mail = format!("guid{i}@muster.test");
                    user(cn, &[("mail", &[mail.as_str()])])
                })
                .collect(),
        )
        .await;
    let snapshot = s.source(&ou).read().await.unwrap();
    assert_eq!(snapshot.entries.len(), names.len());
    assert!(snapshot.provided.contains(Field::ExternalId));
    let mut ldap = s.reader().await;
    for entry in &snapshot.entries {
        let Some(Location::Dn { dn }) = &entry.location else {
            panic!("no DN for {}", entry.primary_email);
        };
        let id = entry
            .external_id
            .as_ref()
            .unwrap_or_else(|| panic!("no external id for {dn}"))
            .as_str();
        // As the DC's own tools print it…
        assert_eq!(id, s.guid_as_the_dc_shows_it(dn), "{dn}");
        // …and as the DC reads it back: AD's `<GUID=…>` form of a DN
        // names the same object (a GUID read in the wrong byte order names none).
        let (found, _) = ldap
            .search(
                &format!("<GUID={id}>"),
                Scope::Base,
                "(objectClass=*)",
                vec!["1.1"],
            )
            .await
            .unwrap()
            .success()
            .unwrap_or_else(|e| panic!("<GUID={id}> for {dn}: {e}"));
        let found: Vec<String> = found
            .into_iter()
            .map(|e| SearchEntry::construct(e).dn)
            .collect();
        assert_eq!(found, std::slice::from_ref(dn));
    }
}

#[tokio::test]
async fn groups_and_nested_membership_as_the_dc_keeps_them() {
    let s = dc();
    let unit = "ad-groups";
    let dn = |cn: &str| format!("CN={cn},OU={unit},{}", s.base);
    let ou = s
        .populate(
            unit,
            vec![
                user(
                    "Ann",
                    &[
                        ("mail", &["ann@muster.test"]),
                        ("userAccountControl", &["544"]),
                    ],
                ),
                user(
                    "Bo",
                    &[
                        ("mail", &["bo@muster.test"]),
                        ("userAccountControl", &["544"]),
                    ],
                ),
                user(
                    "Cy",
                    &[
                        ("mail", &["cy@muster.test"]),
                        ("userAccountControl", &["544"]),
                    ],
                ),
                // Made a member of Sales EU, which then becomes her primary group.
                user(
                    "Pat",
                    &[
                        ("mail", &["pat@muster.test"]),
                        ("userAccountControl", &["544"]),
                    ],
                ),
                // A mail-enabled global security group (groupType is signed).
                group(
                    "Sales EU",
                    &[
                        ("groupType", &["-2147483646"]),
                        ("mail", &["sales-eu@muster.test"]),
                        ("member", &[&dn("Bo"), &dn("Pat")]),
                    ],
                ),
                // A universal distribution group, with the security group in it.
                group(
                    "Sales",
                    &[
                        ("groupType", &["8"]),
                        ("mail", &["sales@muster.test"]),
                        (
                            "proxyAddresses",
                            &["SMTP:sales@muster.test", "smtp:sales-team@muster.test"],
                        ),
                        ("member", &[&dn("Ann"), &dn("Sales EU")]),
                    ],
                ),
                // Not mail-enabled: neither an entry nor a membership.
                group("Staff", &[("member", &[&dn("Ann"), &dn("Bo"), &dn("Cy")])]),
            ],
        )
        .await;
    // Sales EU becomes Pat's primary group (AD's `primaryGroupID`, the
    // group's RID, which it offers as `primaryGroupToken`). The DC then
    // takes her out of the group's `member` list: she is a member of her
    // primary group by that id alone, as every user is of Domain Users.
    let mut ldap = s.admin().await;
    let token = read_base(&mut ldap, &dn("Sales EU"), &["primaryGroupToken"]).await;
    let [(_, rid)] = token.as_slice() else {
        panic!("{token:?}");
    };
    ldap.modify(
        &dn("Pat"),
        vec![ldap3::Mod::Replace(
            "primaryGroupID",
            rid.iter().map(String::as_str).collect(),
        )],
    )
    .await
    .unwrap()
    .success()
    .unwrap();
    let members = read_base(&mut ldap, &dn("Sales EU"), &["member"]).await;
    assert_eq!(
        members,
        [("member".to_owned(), vec![dn("Bo")])],
        "the DC lists Pat nowhere in the group's members"
    );

    let snapshot = s
        .source(&ou)
        .objects(LdapObjects::Both)
        .read()
        .await
        .unwrap();
    assert!(snapshot.issues.is_empty(), "{:?}", snapshot.issues);
    assert!(snapshot.provided.contains(Field::Groups));
    let mut memberships: Vec<(&str, Vec<&str>)> = snapshot
        .entries
        .iter()
        .map(|e| {
            (
                e.primary_email.as_str(),
                e.member_of.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    memberships.sort();
    assert_eq!(
        memberships,
        [
            ("ann@muster.test", vec!["Sales"]),
            // Through Sales EU, a member of Sales.
            ("bo@muster.test", vec!["Sales", "Sales EU"]),
            ("cy@muster.test", vec![]),
            // Through her primary group (and on through Sales EU into Sales).
            ("pat@muster.test", vec!["Sales", "Sales EU"]),
            ("sales-eu@muster.test", vec!["Sales"]),
            ("sales@muster.test", vec![]),
        ]
    );
    let sales = entry(&snapshot, "sales@muster.test");
    assert_eq!(sales.kind, RecipientKind::DistributionGroup);
    let aliases: Vec<&str> = sales.aliases.iter().map(|a| a.as_str()).collect();
    assert_eq!(aliases, ["sales-team@muster.test"]);
    assert_eq!(
        entry(&snapshot, "sales-eu@muster.test").kind,
        RecipientKind::SecurityGroup
    );
}

#[tokio::test]
async fn reading_from_the_domain_root_passes_over_the_dcs_referral() {
    let s = dc();
    // A subtree search at the domain's root gets, besides the objects, a
    // continuation reference to the configuration partition (as from
    // every AD DC). The raw search shows it; the source reads past it.
    let mut ldap = s.reader().await;
    // Without adapters (ldap3's `search` keeps entries only).
    let mut search = ldap
        .streaming_search(
            &s.base,
            Scope::Subtree,
            "(objectClass=organizationalUnit)",
            vec!["1.1"],
        )
        .await
        .unwrap();
    let mut referrals = Vec::new();
    while let Some(found) = search.next().await.unwrap() {
        if found.is_ref() {
            referrals.extend(ldap3::parse_refs(found.0));
        }
    }
    assert_eq!(search.finish().await.rc, 0);
    assert!(
        referrals.iter().any(|r| r.contains("CN=Configuration")),
        "{referrals:?}"
    );

    let snapshot = s.source(&s.base).read().await.unwrap();
    let read: BTreeSet<&str> = primaries(&snapshot).into_iter().collect();
    for i in 1..=s.bulk_users {
        let bulk = format!("bulk{i:04}@muster.test");
        assert!(read.contains(bulk.as_str()), "{bulk} not read");
    }
}

/// Asserts the read failed on the DC's certificate, saying so, with
/// rustls's `reason`, and without the password.
fn assert_certificate_refused(s: &Dc, result: Result<DirectorySnapshot, Error>, reason: &str) {
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

/// The reader on `url`, nothing trusted but what the caller adds.
fn reader_at(s: &Dc, url: &str, base: &str) -> LdapSource {
    LdapSource::new(url, base)
        .named("ad")
        .bind(&s.reader_dn, s.reader_password.clone().into())
}

#[tokio::test]
async fn ldaps_is_verified_against_the_dcs_ca_and_refused_without_it() {
    let s = dc();
    let ou = s
        .populate(
            "ad-tls",
            vec![user("Tess", &[("mail", &["tess@muster.test"])])],
        )
        .await;
    // Verification is on by default: the domain's CA is no public one.
    assert_certificate_refused(
        &s,
        reader_at(&s, &s.ldaps_url, &ou).read().await,
        "UnknownIssuer",
    );
    let trusted = reader_at(&s, &s.ldaps_url, &ou)
        .root_certificate_pem(&s.ca_pem)
        .unwrap();
    assert_eq!(
        primaries(&trusted.read().await.unwrap()),
        ["tess@muster.test"]
    );
    // StartTLS on the plain port: the same certificate, the same checks.
    assert_certificate_refused(
        &s,
        reader_at(&s, &s.ldap_url, &ou).starttls().read().await,
        "UnknownIssuer",
    );
    let starttls = reader_at(&s, &s.ldap_url, &ou)
        .starttls()
        .root_certificate_pem(&s.ca_pem)
        .unwrap();
    assert_eq!(
        primaries(&starttls.read().await.unwrap()),
        ["tess@muster.test"]
    );
}

#[tokio::test]
async fn a_simple_bind_the_dc_refuses_without_tls_is_an_error_that_says_so() {
    let s = dc();
    // ldap:// to this machine is allowed by the source; the DC refuses
    // the password in clear text ("strong auth required", Samba's default
    // and a hardened Windows DC's).
    let error = reader_at(&s, &s.ldap_url, &s.base)
        .read()
        .await
        .unwrap_err();
    let text = chain(&error);
    assert!(
        matches!(&error, Error::Ldap { action, .. } if action.contains("TLS")),
        "{text}"
    );
    assert!(error.is_directory_unavailable());
    assert!(text.contains("rc=8"), "{text}");
    assert!(
        !text.contains(&s.reader_password) && !format!("{error:?}").contains(&s.reader_password)
    );
}

#[tokio::test]
async fn a_wrong_password_is_a_bind_error_and_ad_logon_names_bind_too() {
    let s = dc();
    let wrong = "Not-the-reader-password-42";
    let error = LdapSource::new(&s.ldaps_url, &s.base)
        .named("ad")
        .bind(&s.reader_dn, wrong.to_owned().into())
        .root_certificate_pem(&s.ca_pem)
        .unwrap()
        .read()
        .await
        .unwrap_err();
    let text = chain(&error);
    assert!(
        matches!(&error, Error::Ldap { action, .. } if *action == "bind"),
        "{text}"
    );
    assert!(text.contains("rc=49"), "{text}");
    assert!(!text.contains(wrong) && !format!("{error:?}").contains(wrong));

    // AD also takes the user principal name and the down-level logon name
    // as the bind "DN", as operators often configure them.
    let ou = s
        .populate(
            "ad-logon-names",
            vec![user("Lou", &[("mail", &["lou@muster.test"])])],
        )
        .await;
    for name in ["muster-reader@muster.test", r"MUSTER\muster-reader"] {
        let snapshot = LdapSource::new(&s.ldaps_url, &ou)
            .bind(name, s.reader_password.clone().into())
            .root_certificate_pem(&s.ca_pem)
            .unwrap()
            .read()
            .await
            .unwrap_or_else(|e| panic!("{name}: {}", chain(&e)));
        assert_eq!(primaries(&snapshot), ["lou@muster.test"], "{name}");
    }
}

#[tokio::test]
async fn a_base_dn_that_does_not_exist_is_an_error_that_says_so() {
    let s = dc();
    let nowhere = format!("OU=Nowhere,{}", s.base);
    let error = s.source(&nowhere).read().await.unwrap_err();
    let text = chain(&error);
    assert!(
        matches!(&error, Error::Ldap { action, .. } if action.contains("base DN")),
        "{text}"
    );
    assert!(text.contains("rc=32"), "{text}");
    assert!(error.is_directory_unavailable());
}

#[tokio::test]
async fn an_anonymous_search_the_dc_refuses_is_an_error_not_an_empty_directory() {
    let s = dc();
    let anonymous = LdapSource::new(&s.ldaps_url, &s.bulk_ou)
        .root_certificate_pem(&s.ca_pem)
        .unwrap();
    let error = anonymous.read().await.unwrap_err();
    let text = chain(&error);
    assert!(matches!(&error, Error::Ldap { .. }), "{text}");
    assert!(error.is_directory_unavailable());
}
