//! Fixture helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use chrono::{DateTime, TimeZone, Utc};
use muster_core::{
    Account, DirectoryEntry, DirectorySnapshot, Domain, EmailAddress, Field, FieldSet,
    RecipientKind, UserType,
};
use muster_reconcile::{
    Capabilities, Desired, GatewayListing, Plan, Policy, PolicyBuilder, SyncState, TargetProfile,
    plan, simulate,
};

pub fn a(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

pub fn d(s: &str) -> Domain {
    s.parse().unwrap()
}

/// 2026-11-`day` at `hour`:00 UTC.
pub fn t(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

pub fn target() -> TargetProfile {
    TargetProfile::new("us1", "example.com")
        .with_domain(d("example.com"))
        .with_domain(d("example.org"))
        .with_licences(10)
        .with_login(a("muster-api@example.com"))
        .with_capabilities(Capabilities::default().with_bulk_create(true))
}

pub fn policy() -> PolicyBuilder {
    Policy::builder()
        .managed_domain(d("example.com"))
        .managed_domain(d("example.org"))
        .threshold(5, 50)
}

pub fn provided() -> FieldSet {
    FieldSet::from_iter([
        Field::FirstName,
        Field::LastName,
        Field::Aliases,
        Field::Department,
        Field::Enabled,
        Field::Kind,
    ])
}

pub fn person(email: &str, first: &str, last: &str) -> DirectoryEntry {
    DirectoryEntry::new(a(email)).with_names(first, last)
}

pub fn with_aliases(e: DirectoryEntry, aliases: &[&str]) -> DirectoryEntry {
    e.with_aliases(aliases.iter().map(|x| a(x)))
}

pub fn shared(email: &str) -> DirectoryEntry {
    DirectoryEntry::new(a(email))
        .with_kind(RecipientKind::SharedMailbox)
        .with_enabled(false)
}

pub fn ldap(entries: Vec<DirectoryEntry>) -> DirectorySnapshot {
    DirectorySnapshot::new("ldap", provided()).with_entries(entries)
}

pub fn account(email: &str) -> Account {
    Account::new(a(email))
}

pub fn admin(email: &str) -> Account {
    Account::new(a(email)).with_type(UserType::OrganizationAdmin)
}

/// The gateway and muster's state, moved forward by applying plans.
pub struct World {
    pub accounts: Vec<Account>,
    pub state: SyncState,
}

impl World {
    pub fn new(accounts: Vec<Account>) -> Self {
        World {
            accounts,
            state: SyncState::new("us1", "example.com"),
        }
    }

    pub fn plan(&self, desired: &Desired, policy: &Policy, now: DateTime<Utc>) -> Plan {
        plan(
            desired,
            &GatewayListing::complete(self.accounts.clone()),
            &target(),
            &self.state,
            policy,
            now,
        )
        .unwrap()
    }

    pub fn apply(&mut self, plan: &Plan) {
        simulate::apply(plan, &mut self.accounts, &mut self.state);
    }

    /// Plans, applies, and checks that planning again at the same instant finds nothing to do.
    pub fn run(&mut self, desired: &Desired, policy: &Policy, now: DateTime<Utc>) -> Plan {
        let plan = self.plan(desired, policy, now);
        self.apply(&plan);
        let again = self.plan(desired, policy, now);
        assert!(
            again.is_empty(),
            "plan did not converge at {now}: {:#?}",
            again.changes
        );
        plan
    }

    pub fn get(&self, email: &str) -> Option<&Account> {
        let e = a(email);
        self.accounts.iter().find(|x| x.primary_email == e)
    }
}
