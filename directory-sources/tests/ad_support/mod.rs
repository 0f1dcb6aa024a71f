//! The test domain controller `scripts/samba-up.sh` starts, and writing
//! objects into it: what `tests/ad.rs` needs besides the source itself.

use std::collections::HashSet;
use std::sync::Arc;

use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry};
use muster_directory::{Error, LdapSource};
use rustls_pki_types::pem::PemObject;

/// The DC's settings, from the environment `scripts/samba-up.sh` prints.
pub(crate) struct Dc {
    /// `ldap://127.0.0.1`: no simple bind without TLS here.
    pub(crate) ldap_url: String,
    /// `ldaps://127.0.0.1`, with a certificate from [`Dc::ca_pem`].
    pub(crate) ldaps_url: String,
    /// The domain's DN (`DC=muster,DC=test`).
    pub(crate) base: String,
    pub(crate) admin_dn: String,
    pub(crate) admin_password: String,
    /// An ordinary domain user: what a deployment binds as.
    pub(crate) reader_dn: String,
    pub(crate) reader_password: String,
    /// The CA that issued the DC's certificate (PEM).
    pub(crate) ca_pem: Vec<u8>,
    /// The DC's own database, for `ldbsearch`.
    pub(crate) sam_ldb: String,
    /// The read-only bulk unit: `bulk_users` users `bulk0001…`, and the
    /// group `bulk-all` with every one of them as a member.
    pub(crate) bulk_ou: String,
    pub(crate) bulk_users: usize,
}

pub(crate) fn dc() -> Dc {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: run `eval \"$(scripts/samba-up.sh)\"` first \
                 (it starts the test domain controller; scripts/test.sh does)"
            )
        })
    };
    let ca_file = var("MUSTER_AD_CA_FILE");
    Dc {
        ldap_url: var("MUSTER_AD_LDAP_URL"),
        ldaps_url: var("MUSTER_AD_LDAPS_URL"),
        base: var("MUSTER_AD_BASE"),
        admin_dn: var("MUSTER_AD_ADMIN_DN"),
        admin_password: var("MUSTER_AD_ADMIN_PASSWORD"),
        reader_dn: var("MUSTER_AD_READER_DN"),
        reader_password: var("MUSTER_AD_READER_PASSWORD"),
        ca_pem: std::fs::read(&ca_file)
            .unwrap_or_else(|e| panic!("the DC's CA certificate {ca_file}: {e}")),
        sam_ldb: var("MUSTER_AD_SAM_LDB"),
        bulk_ou: var("MUSTER_AD_BULK_OU"),
        bulk_users: var("MUSTER_AD_BULK_USERS")
            .parse()
            .expect("MUSTER_AD_BULK_USERS is a number"),
    }
}

impl Dc {
    /// The source a deployment would configure for this DC: ldaps with the
    /// domain's CA trusted, bound as the reader, AD's defaults for the rest
    /// (filter, attribute map, pages of 1000).
    pub(crate) fn source(&self, base: &str) -> LdapSource {
        LdapSource::new(&self.ldaps_url, base)
            .named("ad")
            .bind(&self.reader_dn, self.reader_password.clone().into())
            .root_certificate_pem(&self.ca_pem)
            .expect("the DC's CA certificate is usable")
    }

    /// A connection over ldaps (verified with the DC's CA), bound as `dn`.
    pub(crate) async fn connect(&self, dn: &str, password: &str) -> Ldap {
        let mut roots = rustls::RootCertStore::empty();
        for certificate in rustls_pki_types::CertificateDer::pem_slice_iter(&self.ca_pem) {
            roots.add(certificate.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let settings = LdapConnSettings::new().set_config(Arc::new(config));
        let (connection, mut ldap) = LdapConnAsync::with_settings(settings, &self.ldaps_url)
            .await
            .unwrap();
        ldap3::drive!(connection);
        ldap.simple_bind(dn, password)
            .await
            .unwrap()
            .success()
            .unwrap();
        ldap
    }

    /// A connection as the domain's Administrator.
    pub(crate) async fn admin(&self) -> Ldap {
        self.connect(&self.admin_dn, &self.admin_password).await
    }

    /// A connection as the reader, the account the sources bind as.
    pub(crate) async fn reader(&self) -> Ldap {
        self.connect(&self.reader_dn, &self.reader_password).await
    }

    /// Creates `OU=<unit>` under the domain, and `objects` in it, as the
    /// Administrator; a unit left from an earlier run against the same DC
    /// is deleted first, subtree and all. Returns the unit's DN.
    pub(crate) async fn populate(&self, unit: &str, objects: Vec<NewObject>) -> String {
        let mut ldap = self.admin().await;
        let ou = format!("OU={unit},{}", self.base);
        let exists = ldap
            .search(&ou, Scope::Base, "(objectClass=*)", vec!["1.1"])
            .await
            .unwrap()
            .success()
            .is_ok();
        if exists {
            // AD refuses to delete a group that is someone's primary group:
            // those users go back to Domain Users (RID 513) first.
            let (groups, _) = ldap
                .search(
                    &ou,
                    Scope::Subtree,
                    "(objectClass=group)",
                    vec!["primaryGroupToken"],
                )
                .await
                .unwrap()
                .success()
                .unwrap();
            for group in groups {
                let group = SearchEntry::construct(group);
                for token in group.attrs.get("primaryGroupToken").into_iter().flatten() {
                    let (users, _) = ldap
                        .search(
                            &self.base,
                            Scope::Subtree,
                            &format!("(primaryGroupID={token})"),
                            vec!["1.1"],
                        )
                        .await
                        .unwrap()
                        .success()
                        .unwrap();
                    for user in users {
                        let dn = SearchEntry::construct(user).dn;
                        ldap.modify(
                            &dn,
                            vec![Mod::Replace("primaryGroupID", HashSet::from(["513"]))],
                        )
                        .await
                        .unwrap()
                        .success()
                        .unwrap_or_else(|e| panic!("resetting the primary group of {dn}: {e}"));
                    }
                }
            }
            // AD's tree delete control: the unit and everything in it.
            ldap.with_controls(RawControl {
                ctype: "1.2.840.113556.1.4.805".to_owned(),
                crit: true,
                val: None,
            })
            .delete(&ou)
            .await
            .unwrap()
            .success()
            .unwrap();
        }
        crate::support::add_unit(&mut ldap, &ou, unit, objects).await;
        ldap.unbind().await.unwrap();
        ou
    }

    /// An object's `objectGUID` as the DC itself writes it: `ldbsearch` on
    /// its own database (Samba's GUID formatting, not ours).
    pub(crate) fn guid_as_the_dc_shows_it(&self, dn: &str) -> String {
        let output = std::process::Command::new("ldbsearch")
            .args(["-H", &self.sam_ldb, "-b", dn, "-s", "base", "objectGUID"])
            .output()
            .expect("ldbsearch runs (scripts/samba-up.sh installs ldb-tools)");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "ldbsearch on {dn}: {text}");
        let guids: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("objectGUID: "))
            .collect();
        let [guid] = guids.as_slice() else {
            panic!("ldbsearch on {dn}: expected one objectGUID in {text}");
        };
        (*guid).to_owned()
    }
}

pub(crate) use crate::support::{Attribute, NewObject};

/// A user object. Only what the test gives: the DC fills in the rest
/// (`objectGUID`, `objectCategory`, a `sAMAccountName`, and, without a
/// `userAccountControl`, a disabled account, as AD creates users).
pub(crate) fn user(cn: &str, attributes: &[(&str, &[&str])]) -> NewObject {
    object("user", cn, attributes)
}

/// A group object; without a `groupType` the DC makes it a global
/// security group.
pub(crate) fn group(cn: &str, attributes: &[(&str, &[&str])]) -> NewObject {
    object("group", cn, attributes)
}

/// An object of `class` with these attributes.
pub(crate) fn object(class: &str, cn: &str, attributes: &[(&str, &[&str])]) -> NewObject {
    let mut attrs: Vec<Attribute> = vec![("objectClass".into(), set(&[class]))];
    for (name, values) in attributes {
        attrs.push(((*name).to_owned(), set(values)));
    }
    (format!("CN={cn}"), attrs)
}

pub(crate) use crate::support::set;

/// The error and its causes on one line, as a person would read them.
pub(crate) fn chain(error: &Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

/// One base-scope read of `attributes` of the object at `dn`: the
/// attribute descriptions the DC answered with and their values.
pub(crate) async fn read_base(
    ldap: &mut Ldap,
    dn: &str,
    attributes: &[&str],
) -> Vec<(String, Vec<String>)> {
    let (found, _) = ldap
        .search(dn, Scope::Base, "(objectClass=*)", attributes.to_vec())
        .await
        .unwrap()
        .success()
        .unwrap_or_else(|e| panic!("reading {dn}: {e}"));
    let [found] = <[_; 1]>::try_from(found).expect("one object at the DN");
    let mut attrs: Vec<(String, Vec<String>)> =
        SearchEntry::construct(found).attrs.into_iter().collect();
    attrs.sort();
    attrs
}
