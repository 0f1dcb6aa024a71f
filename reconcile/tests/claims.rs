//! A change claims only the addresses it gives: an alias the plan will not
//! write (here: the directory lists aliases, the gateway does not hold
//! them) is never reported as taken from another account, and no change
//! waits on that account for it.
//! (Found by the oracle, `oracle.rs`, whose reference planner mirrored it.)

mod common;

use common::{a, d, t};
use muster_core::{Account, DirectoryEntry, DirectorySnapshot, Field, FieldSet, Origin};
use muster_reconcile::{
    Capabilities, ChangeKind, Desired, GatewayListing, Plan, Policy, Step, SyncState, TargetProfile,
};

fn names_and_aliases() -> FieldSet {
    FieldSet::from_iter([Field::FirstName, Field::LastName, Field::Aliases])
}

fn plan_of(entries: Vec<DirectoryEntry>, gateway: Vec<Account>, owned: &[&str]) -> Plan {
    let desired =
        Desired::new(DirectorySnapshot::new("ldap", names_and_aliases()).with_entries(entries));
    let mut state = SyncState::new("us1", "example.com");
    for address in owned {
        state.set_origin(a(address), Origin::Directory("ldap".into()));
    }
    let no_aliases = FieldSet::from_iter([Field::FirstName, Field::LastName]);
    let target = TargetProfile::new("us1", "example.com")
        .with_domain(d("example.com"))
        .with_capabilities(Capabilities::default().with_fields(no_aliases));
    let policy = Policy::builder().managed_domain(d("example.com")).build();
    let gateway = GatewayListing::complete(gateway);
    muster_reconcile::plan(&desired, &gateway, &target, &state, &policy, t(2, 9)).unwrap()
}

#[test]
fn a_create_that_gives_no_aliases_reports_no_clash_over_them() {
    let p = plan_of(
        vec![
            DirectoryEntry::new(a("dee@example.com"))
                .with_names("Dee", "Ray")
                .with_aliases([a("sales@example.com")]),
        ],
        vec![Account::new(a("bob@example.com")).with_aliases([a("sales@example.com")])],
        &[],
    );
    let [create] = &p.changes[..] else {
        panic!("one create: {:#?}", p.changes);
    };
    assert_eq!(create.kind, ChangeKind::Create);
    let Some(Step::Create { account, .. }) = create.steps.first() else {
        panic!("{create:#?}");
    };
    assert!(account.aliases.is_empty(), "{account:#?}");
    assert!(create.depends_on.is_empty(), "{create:#?}");
    assert!(
        p.skipped.is_empty(),
        "nothing was taken from bob@: {:#?}",
        p.skipped
    );
    assert_eq!(p.summary.skipped, 0);
}

#[test]
fn a_rename_that_keeps_the_aliases_it_had_reports_no_clash_over_new_ones() {
    let p = plan_of(
        vec![
            DirectoryEntry::new(a("new@example.com"))
                .with_names("Dee", "Ray")
                .with_aliases([a("old@example.com"), a("sales@example.com")]),
        ],
        vec![
            Account::new(a("old@example.com")),
            Account::new(a("bob@example.com")).with_aliases([a("sales@example.com")]),
        ],
        &["old@example.com"],
    );
    let rename = p
        .changes
        .iter()
        .find(|c| c.kind == ChangeKind::Rename)
        .unwrap_or_else(|| panic!("a rename: {:#?}", p.changes));
    assert!(rename.depends_on.is_empty(), "{rename:#?}");
    assert!(
        p.skipped.is_empty(),
        "nothing was taken from bob@: {:#?}",
        p.skipped
    );
}
