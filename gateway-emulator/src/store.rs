//! The gateway's state and its rules, without HTTP: organisations, users,
//! aliases, groups and welcome letters. Time comes in as an argument.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use muster_core::{Domain, EmailAddress};
use serde_json::Value;

use crate::Error;
use crate::config::Org;
use crate::model::{StoredUser, UserFields, UserWrite, parse_v1};
use crate::reply::ApiError;

/// A v2 group: a named set of users of one organisation.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) name: String,
    /// Member uids, in the order they were added.
    pub(crate) members: Vec<u64>,
}

/// One organisation and everything in it.
#[derive(Debug)]
pub(crate) struct OrgState {
    pub(crate) primary: Domain,
    pub(crate) name: String,
    /// Registered domains, the primary first.
    pub(crate) domains: Vec<Domain>,
    pub(crate) user_licenses: u32,
    pub(crate) send_welcome_email: bool,
    users: BTreeMap<u64, StoredUser>,
    /// Every primary and alias address (normalized) → the uid that holds it.
    index: HashMap<String, u64>,
    /// Welcome letters sent, by normalized primary address.
    pub(crate) welcome_letters: BTreeMap<String, u32>,
    pub(crate) groups: Vec<Group>,
}

impl OrgState {
    /// Users in creation order, including ones still hidden by read-after-write lag.
    pub(crate) fn all_users(&self) -> impl Iterator<Item = &StoredUser> {
        self.users.values()
    }

    /// Users a GET may see at `now`.
    pub(crate) fn visible_users(&self, now: Instant) -> impl Iterator<Item = &StoredUser> {
        self.users.values().filter(move |u| u.visible_at <= now)
    }

    /// The user whose *primary* address is `email` (aliases do not address users).
    pub(crate) fn user(&self, email: &EmailAddress) -> Option<&StoredUser> {
        let uid = self.index.get(email.normalized())?;
        self.users.get(uid).filter(|u| &u.primary == email)
    }

    /// The user whose primary address is `email`, if a GET may see it at `now`.
    pub(crate) fn visible_user(&self, email: &EmailAddress, now: Instant) -> Option<&StoredUser> {
        self.user(email).filter(|u| u.visible_at <= now)
    }

    pub(crate) fn active_users(&self) -> usize {
        self.users.values().filter(|u| u.fields.is_active).count()
    }

    /// Names of the groups `uid` belongs to.
    pub(crate) fn groups_of(&self, uid: u64) -> Vec<String> {
        self.groups
            .iter()
            .filter(|g| g.members.contains(&uid))
            .map(|g| g.name.clone())
            .collect()
    }

    fn check_domain(&self, address: &EmailAddress) -> Result<(), ApiError> {
        if self
            .domains
            .iter()
            .any(|d| d.as_ascii() == address.domain_ascii())
        {
            return Ok(());
        }
        Err(ApiError::bad_request(format!(
            "domain `{}` of `{address}` is not registered for organisation `{}`",
            address.domain(),
            self.primary
        ))
        .about(address.as_str()))
    }

    /// Checks the rules every stored user obeys, for a user `uid` (existing or not).
    fn check(&self, uid: u64, primary: &EmailAddress, fields: &UserFields) -> Result<(), ApiError> {
        self.check_domain(primary)?;
        for (i, alias) in fields.aliases.iter().enumerate() {
            self.check_domain(alias)?;
            if alias == primary {
                return Err(ApiError::bad_request(format!(
                    "alias `{alias}` is the user's own primary address"
                ))
                .about(primary.as_str()));
            }
            if fields.aliases[..i].contains(alias) {
                return Err(
                    ApiError::bad_request(format!("alias `{alias}` is listed twice"))
                        .about(primary.as_str()),
                );
            }
        }
        for address in std::iter::once(primary).chain(&fields.aliases) {
            if let Some(holder) = self.index.get(address.normalized()).filter(|h| **h != uid) {
                let holder = &self.users[holder].primary;
                return Err(ApiError::conflict(format!(
                    "`{address}` is already used by user `{holder}`"
                ))
                .about(primary.as_str()));
            }
        }
        if !fields.is_billable
            && let Some(other) = self
                .users
                .values()
                .find(|u| u.uid != uid && !u.fields.is_billable)
        {
            return Err(ApiError::bad_request(format!(
                "only one user per organisation can be non-billable, and `{}` already is",
                other.primary
            ))
            .about(primary.as_str()));
        }
        Ok(())
    }

    /// Removes `uid`'s addresses from the index (before a change or a delete).
    fn unindex(&mut self, uid: u64) {
        if let Some(u) = self.users.get(&uid) {
            for address in std::iter::once(&u.primary).chain(&u.fields.aliases) {
                if self.index.get(address.normalized()) == Some(&uid) {
                    self.index.remove(address.normalized());
                }
            }
        }
    }

    /// Adds `uid`'s current addresses to the index.
    fn index(&mut self, uid: u64) {
        if let Some(u) = self.users.get(&uid) {
            for address in std::iter::once(&u.primary).chain(&u.fields.aliases) {
                self.index.insert(address.normalized().to_owned(), uid);
            }
        }
    }
}

/// Every organisation, plus the uid counter shared by all of them.
#[derive(Debug, Default)]
pub(crate) struct Store {
    orgs: BTreeMap<String, OrgState>,
    next_uid: u64,
    next_group: u64,
}

impl Store {
    /// Builds the store from seeded organisations, failing on anything the
    /// gateway itself would refuse.
    pub(crate) fn seeded(orgs: &[Org], now: Instant) -> Result<Self, Error> {
        let mut store = Store {
            orgs: BTreeMap::new(),
            next_uid: 1000,
            next_group: 1,
        };
        for org in orgs {
            store.add_org(org)?;
        }
        for org in orgs {
            let key = parse_domain(&org.primary_domain)?.as_ascii().to_owned();
            for (i, user) in org.users.iter().enumerate() {
                let write = parse_v1(user.clone()).map_err(|e| {
                    Error::InvalidSeed(format!("org `{}` user #{}: {e}", org.primary_domain, i + 1))
                })?;
                store
                    .create(&key, write, now, Duration::ZERO, false)
                    .map_err(|e| {
                        Error::InvalidSeed(format!(
                            "org `{}` user #{}: {}",
                            org.primary_domain,
                            i + 1,
                            e.message
                        ))
                    })?;
            }
            for group in &org.groups {
                let id = store.create_group(&key, &group.name);
                for member in &group.members {
                    store.add_member(&key, &id, member).map_err(|e| {
                        Error::InvalidSeed(format!(
                            "org `{}` group `{}`: {}",
                            org.primary_domain, group.name, e.message
                        ))
                    })?;
                }
            }
        }
        Ok(store)
    }

    fn add_org(&mut self, org: &Org) -> Result<(), Error> {
        let primary = parse_domain(&org.primary_domain)?;
        let mut domains = vec![primary.clone()];
        for d in &org.domains {
            let d = parse_domain(d)?;
            if !domains.contains(&d) {
                domains.push(d);
            }
        }
        let key = primary.as_ascii().to_owned();
        if self.orgs.contains_key(&key) {
            return Err(Error::InvalidSeed(format!(
                "organisation `{primary}` is seeded twice"
            )));
        }
        self.orgs.insert(
            key,
            OrgState {
                name: org.name.clone().unwrap_or_else(|| primary.to_string()),
                primary,
                domains,
                user_licenses: org.user_licenses,
                send_welcome_email: org.send_welcome_email,
                users: BTreeMap::new(),
                index: HashMap::new(),
                welcome_letters: BTreeMap::new(),
                groups: Vec::new(),
            },
        );
        Ok(())
    }

    /// The organisation whose primary domain is `key` (lowercase ASCII).
    pub(crate) fn org(&self, key: &str) -> Option<&OrgState> {
        self.orgs.get(key)
    }

    pub(crate) fn orgs(&self) -> impl Iterator<Item = &OrgState> {
        self.orgs.values()
    }

    fn org_mut(&mut self, key: &str) -> Result<&mut OrgState, ApiError> {
        self.orgs
            .get_mut(key)
            .ok_or_else(|| ApiError::not_found(format!("organisation `{key}` not found")))
    }

    /// Creates a user. `welcome` false suppresses letters (seeding).
    pub(crate) fn create(
        &mut self,
        org: &str,
        write: UserWrite,
        now: Instant,
        lag: Duration,
        welcome: bool,
    ) -> Result<&StoredUser, ApiError> {
        let uid = self.next_uid;
        let o = self.org_mut(org)?;
        let primary = write
            .primary
            .ok_or_else(|| ApiError::bad_request("field `primary_email` is required"))?;
        o.check(uid, &primary, &write.fields)?;
        // api-facts §1.4: "to send a welcome email this must be true at org
        // level. This can optionally be overridden to false at a per user
        // level": a create can turn a letter off, never on.
        let send = o.send_welcome_email && write.send_welcome_email.unwrap_or(true);
        if welcome && send {
            *o.welcome_letters
                .entry(primary.normalized().to_owned())
                .or_default() += 1;
        }
        o.users.insert(
            uid,
            StoredUser {
                uid,
                primary,
                fields: write.fields,
                password: write.password,
                visible_at: now + lag,
            },
        );
        o.index(uid);
        self.next_uid += 1;
        Ok(&self.orgs[org].users[&uid])
    }

    /// Replaces every field of the user addressed by `email` (full-replace PUT).
    pub(crate) fn replace(
        &mut self,
        org: &str,
        email: &EmailAddress,
        write: UserWrite,
    ) -> Result<(), ApiError> {
        let o = self.org_mut(org)?;
        let uid = o
            .user(email)
            .map(|u| u.uid)
            .ok_or_else(|| user_not_found(email))?;
        if let Some(p) = &write.primary
            && p != email
        {
            return Err(ApiError::bad_request(format!(
                "primary_email is immutable: `{p}` does not match `{email}` in the path"
            ))
            .about(email.as_str()));
        }
        if let Some(given) = write.uid
            && given != uid
        {
            return Err(
                ApiError::bad_request(format!("uid {given} does not belong to `{email}`"))
                    .about(email.as_str()),
            );
        }
        let primary = o.users[&uid].primary.clone();
        o.check(uid, &primary, &write.fields)?;
        o.unindex(uid);
        let user = o.users.get_mut(&uid).ok_or_else(|| user_not_found(email))?;
        user.fields = write.fields;
        if write.password.is_some() {
            user.password = write.password;
        }
        o.index(uid);
        Ok(())
    }

    /// Deletes a user at once; its aliases and group memberships go with it.
    pub(crate) fn delete(&mut self, org: &str, email: &EmailAddress) -> Result<(), ApiError> {
        let o = self.org_mut(org)?;
        let uid = o
            .user(email)
            .map(|u| u.uid)
            .ok_or_else(|| user_not_found(email))?;
        o.unindex(uid);
        o.users.remove(&uid);
        for g in &mut o.groups {
            g.members.retain(|m| *m != uid);
        }
        Ok(())
    }

    /// Creates a group and returns its id.
    pub(crate) fn create_group(&mut self, org: &str, name: &str) -> String {
        let id = format!("grp_{:03}", self.next_group);
        self.next_group += 1;
        if let Some(o) = self.orgs.get_mut(org) {
            o.groups.push(Group {
                id: id.clone(),
                name: name.to_owned(),
                members: Vec::new(),
            });
        }
        id
    }

    fn group_mut<'a>(o: &'a mut OrgState, id: &str) -> Result<&'a mut Group, ApiError> {
        o.groups
            .iter_mut()
            .find(|g| g.id == id)
            .ok_or_else(|| ApiError::not_found(format!("group `{id}` not found")))
    }

    /// Adds an existing user to a group (idempotent).
    pub(crate) fn add_member(&mut self, org: &str, id: &str, email: &str) -> Result<(), ApiError> {
        let o = self.org_mut(org)?;
        let address = EmailAddress::parse(email)
            .map_err(|e| ApiError::bad_request(format!("field `primaryEmail`: {e}")))?;
        let uid = o
            .user(&address)
            .map(|u| u.uid)
            .ok_or_else(|| user_not_found(&address))?;
        let group = Self::group_mut(o, id)?;
        if !group.members.contains(&uid) {
            group.members.push(uid);
        }
        Ok(())
    }

    /// Removes a user from a group.
    pub(crate) fn remove_member(
        &mut self,
        org: &str,
        id: &str,
        email: &EmailAddress,
    ) -> Result<(), ApiError> {
        let o = self.org_mut(org)?;
        let uid = o.user(email).map(|u| u.uid);
        let group = Self::group_mut(o, id)?;
        let before = group.members.len();
        group.members.retain(|m| Some(*m) != uid);
        if group.members.len() == before {
            return Err(ApiError::not_found(format!(
                "`{email}` is not a member of group `{id}`"
            )));
        }
        Ok(())
    }

    /// Every stored user of every organisation in the v1 shape, for snapshots.
    pub(crate) fn snapshot(
        &self,
        render: impl Fn(&StoredUser) -> Value,
    ) -> BTreeMap<String, Vec<Value>> {
        self.orgs
            .iter()
            .map(|(k, o)| (k.clone(), o.all_users().map(&render).collect()))
            .collect()
    }
}

fn user_not_found(email: &EmailAddress) -> ApiError {
    ApiError::not_found(format!("user `{email}` not found")).about(email.as_str())
}

fn parse_domain(d: &str) -> Result<Domain, Error> {
    Domain::parse(d).map_err(|e| Error::InvalidSeed(format!("domain `{d}`: {e}")))
}
