//! Entry points for the cargo-fuzz targets (`fuzz/`), behind the
//! `fuzzing` feature: the LDAP and Graph mappings, which a read reaches only
//! over the network, fed with whatever the fuzzer makes. Not for callers.

use std::collections::HashMap;

use muster_core::DirectorySnapshot;
use secrecy::SecretString;

use crate::LdapAttributes;
use crate::collect::Collector;
use crate::ldap::{Object, map_group, map_object};
use crate::{GraphSource, GuestPolicy};

/// One LDAP object's attributes as the server could answer them.
pub struct LdapObject {
    /// Its DN.
    pub dn: String,
    /// Text attributes (any spelling of the names).
    pub text: Vec<(String, Vec<String>)>,
    /// Binary attributes (`objectGUID`).
    pub binary: Vec<(String, Vec<Vec<u8>>)>,
}

/// Maps `objects` as users and as groups, with the Active Directory and
/// the inetOrgPerson attribute maps, through the collector, as a read would.
#[must_use]
pub fn ldap_objects(objects: &[LdapObject]) -> Vec<DirectorySnapshot> {
    let mut out = Vec::new();
    for map in [
        LdapAttributes::active_directory(),
        LdapAttributes::inet_org_person(),
    ] {
        let mut users = Collector::new("ldap");
        let mut groups = Collector::new("ldap");
        for o in objects {
            let object = Object::new(
                o.dn.clone(),
                o.text.iter().cloned().collect::<HashMap<_, _>>(),
                o.binary.iter().cloned().collect::<HashMap<_, _>>(),
            );
            users.add_mapped(map_object(&object, &map));
            groups.add_mapped(map_group(&object, &map));
        }
        out.push(users.into_snapshot("ldap", map.provided_fields()));
        out.push(groups.into_snapshot("ldap", map.provided_fields()));
    }
    out
}

/// Maps one page of Graph's `/users` (its JSON body), skipping guests and reading them
/// as contacts; empty when it is not a page.
#[must_use]
pub fn graph_users_page(json: &[u8]) -> Vec<DirectorySnapshot> {
    let secret = SecretString::from("fuzz".to_owned());
    [GuestPolicy::Skip, GuestPolicy::Contact]
        .into_iter()
        .filter_map(|guests| {
            GraphSource::new("contoso", "fuzz", secret.clone())
                .guests(guests)
                .map_page(json)
        })
        .collect()
}
