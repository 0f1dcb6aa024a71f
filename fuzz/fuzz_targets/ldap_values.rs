//! LDAP objects with any values in the attributes the mappings read (any
//! spelling of their names), mapped as users and groups through the
//! collector: issues, never a panic; the field rules hold.
#![no_main]

mod common;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use muster_directory::fuzzing::{LdapObject, ldap_objects};

const TEXT: [&str; 16] = [
    "mail", "proxyAddresses", "givenName", "sn", "telephoneNumber", "homePhone", "mobile",
    "company", "department", "info", "userAccountControl", "msExchRecipientTypeDetails",
    "groupType", "objectClass", "cn", "o",
];

#[derive(Arbitrary, Debug)]
struct Object {
    dn: String,
    values: Vec<(u8, bool, Vec<String>)>,
    guid: Vec<Vec<u8>>,
}

fuzz_target!(|objects: Vec<Object>| {
    let objects: Vec<LdapObject> = objects
        .into_iter()
        .map(|o| LdapObject {
            dn: o.dn,
            text: o
                .values
                .into_iter()
                .map(|(name, upper, values)| {
                    let name = TEXT[usize::from(name) % TEXT.len()];
                    let name = if upper { name.to_uppercase() } else { name.to_owned() };
                    (name, values)
                })
                .collect(),
            binary: vec![("objectGUID".to_owned(), o.guid)],
        })
        .collect();
    for snapshot in ldap_objects(&objects) {
        common::check(&snapshot);
    }
});
