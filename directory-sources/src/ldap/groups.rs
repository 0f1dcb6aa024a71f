//! Group memberships from the groups' own `member` lists (pure).
//!
//! Why `member` and not the users' `memberOf`: `memberOf` is a back-link AD
//! computes per domain (and OpenLDAP only with its overlay), it lists every
//! group including the ones the group filter leaves out, and a user in
//! thousands of groups gets it in ranges too. The groups' `member` lists are
//! what the group search reads anyway, cover exactly the groups selected, and
//! AD's ranged retrieval of them is checked value by value
//! ([`super::range`]). Membership is transitive through the groups read: a
//! user in group B, which is a member of group A, is in A too (as Graph's
//! transitive members, and as mail to A reaches the user).
//!
//! One membership is in no `member` list: AD keeps a user out of the
//! `member` of their primary group (Domain Users, or a group made primary
//! for the user) and records it as the user's `primaryGroupID`, the group's
//! RID. So the users' primary group ids are read too, and a user is a member
//! of the group whose `objectSid` is the user's domain with that RID
//! ([`primary_group_sid`]); otherwise making a mail-enabled group someone's
//! primary group would read as them leaving it.

use std::collections::{BTreeSet, HashMap, HashSet};

/// A DN in a form two spellings of the same DN share: attribute names and
/// values lowercased (AD and OpenLDAP compare both case-insensitively for
/// the naming attributes in use), spaces around `,` `+` and `=` removed.
/// Escapes are kept as written, so `\,` stays inside its value; the same
/// character escaped two ways (`\,` and `\2C`) is not recognised as one.
pub(crate) fn dn_key(dn: &str) -> String {
    let mut key = String::with_capacity(dn.len());
    let mut pending_space = String::new();
    let mut chars = dn.trim().chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                key.push_str(&pending_space);
                pending_space.clear();
                key.push('\\');
                if let Some(escaped) = chars.next() {
                    key.extend(escaped.to_lowercase());
                }
            }
            ',' | '+' | '=' => {
                pending_space.clear();
                key.push(c);
                // Spaces after a separator go too.
                let rest = chars.as_str().trim_start_matches(' ');
                chars = rest.chars();
            }
            ' ' => pending_space.push(' '),
            _ => {
                key.push_str(&pending_space);
                pending_space.clear();
                key.extend(c.to_lowercase());
            }
        }
    }
    key
}

/// The groups read and their direct members, by DN key.
#[derive(Debug, Default)]
pub(crate) struct Memberships {
    /// Each group's name, by index.
    names: Vec<String>,
    /// Each group's own DN key, by index.
    keys: Vec<String>,
    /// For a member's DN key, the groups that list it directly.
    containing: HashMap<String, Vec<usize>>,
}

impl Memberships {
    /// Records the group at `dn`, named `name`, with these member DNs.
    pub(crate) fn add_group<'a>(
        &mut self,
        dn: &str,
        name: &str,
        members: impl IntoIterator<Item = &'a String>,
    ) {
        let index = self.names.len();
        self.names.push(name.to_owned());
        self.keys.push(dn_key(dn));
        for member in members {
            self.containing
                .entry(dn_key(member))
                .or_default()
                .push(index);
        }
    }

    /// The names of every group the object at `dn` is in, directly or
    /// through groups that are members of others; a group is not its own
    /// member even when a cycle leads back to it.
    pub(crate) fn groups_of(&self, dn: &str) -> BTreeSet<String> {
        let key = dn_key(dn);
        let mut seen = HashSet::new();
        let mut queue: Vec<usize> = self.containing.get(&key).cloned().unwrap_or_default();
        let mut names = BTreeSet::new();
        while let Some(group) = queue.pop() {
            if !seen.insert(group) {
                continue;
            }
            if self.keys[group] != key {
                names.insert(self.names[group].clone());
            }
            if let Some(parents) = self.containing.get(&self.keys[group]) {
                queue.extend(parents.iter().copied().filter(|p| !seen.contains(p)));
            }
        }
        names
    }
}

/// A binary security identifier (AD's `objectSid`): revision, the count of
/// sub-authorities, a 48-bit big-endian authority, then the sub-authorities
/// as 32-bit little-endian numbers.
fn sid_parts(bytes: &[u8]) -> Option<(u8, u64, Vec<u32>)> {
    let (&revision, rest) = bytes.split_first()?;
    let (&count, rest) = rest.split_first()?;
    let (authority, rest) = rest.split_at_checked(6)?;
    if revision != 1 || rest.len() != usize::from(count) * 4 {
        return None;
    }
    let authority = authority
        .iter()
        .fold(0u64, |value, &byte| (value << 8) | u64::from(byte));
    let subs = rest
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Some((revision, authority, subs))
}

fn sid_string(revision: u8, authority: u64, subs: &[u32]) -> String {
    let mut text = format!("S-{revision}-{authority}");
    for sub in subs {
        text.push_str(&format!("-{sub}"));
    }
    text
}

/// A binary SID in its text form (`S-1-5-21-…-1105`); `None` when the
/// bytes are not one.
pub(crate) fn sid_text(bytes: &[u8]) -> Option<String> {
    sid_parts(bytes).map(|(revision, authority, subs)| sid_string(revision, authority, &subs))
}

/// The SID of the group a user's `primaryGroupID` names: the user's own
/// SID (binary) with its last part, the user's RID, replaced by that id.
/// `None` when the SID is not one or the id is not a RID.
pub(crate) fn primary_group_sid(user_sid: &[u8], primary_group_id: &str) -> Option<String> {
    let (revision, authority, mut subs) = sid_parts(user_sid)?;
    let id = primary_group_id.trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    *subs.last_mut()? = id.parse().ok()?;
    Some(sid_string(revision, authority, &subs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A group's and a user's `objectSid` as Samba's DC sent them (RIDs 2705 and 2704).
    const GROUP_SID: [u8; 28] = [
        1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 247, 248, 204, 194, 177, 231, 87, 13, 34, 9, 16, 214,
        145, 10, 0, 0,
    ];
    const USER_SID: [u8; 28] = [
        1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 247, 248, 204, 194, 177, 231, 87, 13, 34, 9, 16, 214,
        144, 10, 0, 0,
    ];

    #[test]
    fn a_users_primary_group_is_the_group_of_that_rid_in_the_users_domain() {
        let group = "S-1-5-21-3268212983-223864753-3591375138-2705";
        assert_eq!(sid_text(&GROUP_SID).as_deref(), Some(group));
        assert_eq!(primary_group_sid(&USER_SID, "2705").as_deref(), Some(group));
        // Domain Users.
        assert_eq!(
            primary_group_sid(&USER_SID, "513").as_deref(),
            Some("S-1-5-21-3268212983-223864753-3591375138-513")
        );
        for bad_id in ["", "-1", "+5", "x", "4294967296"] {
            assert_eq!(primary_group_sid(&USER_SID, bad_id), None, "{bad_id:?}");
        }
        // Not SIDs: too short, a count that does not match, another revision.
        assert_eq!(sid_text(&USER_SID[..27]), None);
        assert_eq!(
            sid_text(&[1, 0, 0, 0, 0, 0, 0, 5]).as_deref(),
            Some("S-1-5")
        );
        assert_eq!(primary_group_sid(&[1, 0, 0, 0, 0, 0, 0, 5], "513"), None);
        let mut other = USER_SID;
        other[0] = 2;
        assert_eq!(sid_text(&other), None);
        other = USER_SID;
        other[1] = 4;
        assert_eq!(sid_text(&other), None);
    }

    #[test]
    fn two_spellings_of_one_dn_share_a_key_and_escapes_stay_escaped() {
        assert_eq!(
            dn_key("CN=Ann Lee, OU=Staff ,DC=Example,DC=com"),
            dn_key("cn=ann lee,ou=staff,dc=example,dc=com")
        );
        assert_eq!(dn_key(" cn = A + sn = B , dc=x "), "cn=a+sn=b,dc=x");
        // An escaped comma is part of the value, not a separator.
        assert_eq!(dn_key(r"CN=Lee\, Ann,DC=x"), r"cn=lee\, ann,dc=x");
        assert_ne!(dn_key(r"CN=Lee\, Ann,DC=x"), dn_key("CN=Lee,CN=Ann,DC=x"));
        // Inner spaces of a value count.
        assert_ne!(dn_key("CN=Ann Lee,DC=x"), dn_key("CN=AnnLee,DC=x"));
        assert_eq!(dn_key(r"CN=x\\,DC=y"), r"cn=x\\,dc=y");
    }

    fn dns(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| format!("CN={n},DC=x")).collect()
    }

    #[test]
    fn membership_is_transitive_through_the_groups_read_and_cycles_end() {
        let mut m = Memberships::default();
        m.add_group("CN=All,DC=x", "All", &dns(&["Sales", "Ann"]));
        m.add_group("CN=Sales,DC=x", "Sales", &dns(&["Bo", "Loop"]));
        m.add_group("CN=Loop,DC=x", "Loop", &dns(&["Sales"]));
        let names = |dn: &str| m.groups_of(dn).into_iter().collect::<Vec<_>>();
        assert_eq!(names("cn=bo,dc=x"), ["All", "Loop", "Sales"]);
        assert_eq!(names("CN=Ann,DC=x"), ["All"]);
        assert_eq!(
            names("CN=Sales,DC=x"),
            ["All", "Loop"],
            "not its own member"
        );
        assert_eq!(names("CN=All,DC=x"), Vec::<String>::new());
        assert_eq!(names("CN=Nobody,DC=x"), Vec::<String>::new());
    }
}
