//! One organisation walked through several runs: onboarding onto a gateway
//! that already has accounts, updates, an alias moving, a primary-address
//! change, a user leaving and coming back, one leaving for good (her
//! deletion held while a record of the export cannot be read), an HR
//! termination, a shared mailbox on a disabled account, and a threshold trip
//! with its override. Every run is applied and planned again (convergence).

mod common;

use common::*;
use muster_core::{HrRecord, HrSnapshot, HrStatus, Location, Origin, SourceIssue, UserType};
use muster_reconcile::{
    ChangeKind, ConflictKind, Desired, FlagAction, HrAction, HrRule, Phase, PlanError, SkipCode,
    Step, plan,
};

fn staff(n: usize) -> Vec<muster_core::DirectoryEntry> {
    (1..=n)
        .map(|i| {
            person(
                &format!("staff{i}@example.com"),
                "Staff",
                &format!("Member{i}"),
            )
        })
        .collect()
}

fn change<'p>(
    plan: &'p muster_reconcile::Plan,
    email: &str,
) -> &'p muster_reconcile::AccountChange {
    let e = a(email);
    plan.changes
        .iter()
        .find(|c| c.email == e)
        .unwrap_or_else(|| panic!("no change for {email}: {:#?}", plan.changes))
}

fn has_change(plan: &muster_reconcile::Plan, email: &str) -> bool {
    let e = a(email);
    plan.changes.iter().any(|c| c.email == e)
}

#[test]
fn an_organisation_across_thirteen_runs() {
    let mut world = World::new(vec![
        admin("admin@example.com"),
        account("muster-api@example.com"),
        account("printer@example.com"),
        account("Ann@Example.com").with_aliases([a("sales@example.com")]),
    ]);
    let base_policy = policy().build();
    let policy = &base_policy;

    let ann = || {
        with_aliases(
            person("ann@example.com", "Ann", "Lee"),
            &["sales@example.com"],
        )
    };
    let bob = || {
        with_aliases(
            person("bob@example.com", "Bob", "Ray"),
            &["bob.ray@example.org"],
        )
    };
    let carol = || person("carol@example.com", "Carol", "Diaz");
    let dave_disabled = || person("dave@example.com", "Dave", "Old").with_enabled(false);
    let outsider = || person("contractor@partner.test", "Con", "Tractor");
    let admin_in_ldap = || person("admin@example.com", "Ad", "Min");
    let base = |extra: Vec<muster_core::DirectoryEntry>| {
        let mut v = vec![
            shared("info@example.com"),
            dave_disabled(),
            outsider(),
            admin_in_ldap(),
        ];
        v.extend(staff(6));
        v.extend(extra);
        Desired::new(ldap(v))
    };

    // Run 1 — onboarding. Ann existed before muster (unknown origin) and is adopted;
    // the printer is unknown and unmatched: listed, never flagged.
    let run1 = world.run(&base(vec![ann(), bob(), carol()]), policy, t(1, 9));
    let ann_change = change(&run1, "ann@example.com");
    assert!(
        ann_change
            .steps
            .iter()
            .any(|s| matches!(s, Step::Adopt { .. }))
    );
    assert!(
        ann_change
            .steps
            .iter()
            .any(|s| matches!(s, Step::SetField { .. }))
    );
    assert_eq!(change(&run1, "bob@example.com").kind, ChangeKind::Create);
    let info = change(&run1, "info@example.com");
    match &info.steps[0] {
        Step::Create {
            account,
            welcome_letter,
            bulk_group,
            ..
        } => {
            assert_eq!(
                account.user_type,
                UserType::FunctionalAccount,
                "a shared mailbox is a functional account"
            );
            assert!(
                !welcome_letter,
                "nobody reads a shared mailbox's welcome letter"
            );
            assert_eq!(*bulk_group, Some(0));
        }
        other => panic!("info should be created, got {other:?}"),
    }
    assert!(
        !has_change(&run1, "dave@example.com"),
        "a disabled user is not created"
    );
    assert!(
        !has_change(&run1, "admin@example.com"),
        "administrators are never changed"
    );
    assert!(
        !has_change(&run1, "muster-api@example.com"),
        "muster's own login is never changed"
    );
    assert!(
        !has_change(&run1, "printer@example.com"),
        "an unknown unmatched account is not flagged"
    );
    assert!(
        run1.skipped
            .iter()
            .any(|s| s.code == SkipCode::OutsideManagedDomains
                && s.email == "contractor@partner.test")
    );
    assert!(
        run1.skipped
            .iter()
            .any(|s| s.code == SkipCode::Protected && s.email == "admin@example.com")
    );
    let printer = run1
        .conflicts
        .iter()
        .find(|c| c.email == a("printer@example.com"))
        .unwrap();
    assert_eq!(printer.kind, ConflictKind::UnknownOrigin);
    assert_eq!(printer.flagged_since, None);
    assert_eq!(
        run1.summary.welcome_letters,
        2 + 6,
        "bob, carol and six staff are end users"
    );
    assert_eq!(
        world.state.origin(&a("ann@example.com")),
        &Origin::Directory("ldap".into())
    );
    assert_eq!(
        world.state.origin(&a("printer@example.com")),
        &Origin::Unknown
    );

    // Run 2 — bob changes department; the sales alias moves from ann to carol.
    let mut bob2 = bob();
    bob2.department = Some("Finance".into());
    let ann2 = || person("ann@example.com", "Ann", "Lee");
    let carol2 = || with_aliases(carol(), &["sales@example.com"]);
    let run2 = world.run(&base(vec![ann2(), bob2.clone(), carol2()]), policy, t(2, 9));
    let from = change(&run2, "ann@example.com");
    let to = change(&run2, "carol@example.com");
    assert_eq!(from.phase, Phase::Release);
    assert!(
        matches!(&from.steps[..], [Step::RemoveAliases { aliases }] if aliases == &vec![a("sales@example.com")])
    );
    assert_eq!(
        to.depends_on,
        vec![from.id],
        "the alias is removed from ann before carol gets it"
    );
    assert!(
        change(&run2, "bob@example.com")
            .reason
            .contains("department")
    );
    assert_eq!(world.get("carol@example.com").unwrap().aliases.len(), 1);

    // Run 3 — carol's primary changes (the directory keeps the old address as an alias);
    // bob leaves.
    let carol3 = || {
        with_aliases(
            person("carol.diaz@example.com", "Carol", "Diaz"),
            &["carol@example.com", "sales@example.com"],
        )
    };
    let run3 = world.run(&base(vec![ann2(), carol3()]), policy, t(3, 9));
    let rename = change(&run3, "carol.diaz@example.com");
    assert_eq!(rename.kind, ChangeKind::Rename);
    match &rename.steps[..] {
        [
            Step::ChangePrimary {
                from,
                strip_aliases,
                account,
                keep_old_as_alias,
            },
        ] => {
            assert_eq!(from, &a("carol@example.com"));
            assert_eq!(strip_aliases, &vec![a("sales@example.com")]);
            assert!(keep_old_as_alias);
            assert!(account.aliases.contains(&a("carol@example.com")));
        }
        other => panic!("expected a primary change, got {other:?}"),
    }
    let bob_flag = change(&run3, "bob@example.com");
    assert_eq!(bob_flag.kind, ChangeKind::Flag);
    assert!(!bob_flag.is_destructive(), "flagging only records");
    assert!(
        bob_flag
            .reason
            .contains("absent from ldap since 2026-11-03"),
        "{}",
        bob_flag.reason
    );
    assert!(world.get("carol@example.com").is_none());
    assert_eq!(
        world.state.origin(&a("carol.diaz@example.com")),
        &Origin::Directory("ldap".into())
    );

    // Run 4 — bob still absent; ann leaves.
    let run4 = world.run(&base(vec![carol3()]), policy, t(5, 9));
    assert!(
        !has_change(&run4, "bob@example.com"),
        "bob waits out the delay"
    );
    let bob_conflict = run4
        .conflicts
        .iter()
        .find(|c| c.email == a("bob@example.com"))
        .unwrap();
    assert_eq!(bob_conflict.absent_runs, 2);
    assert_eq!(bob_conflict.delete_after, Some(t(10, 9)));
    assert_eq!(change(&run4, "ann@example.com").kind, ChangeKind::Flag);

    // Run 5 — bob comes back inside the delay: his flag is cleared.
    let run5 = world.run(&base(vec![bob(), carol3()]), policy, t(6, 9));
    let back = change(&run5, "bob@example.com");
    assert!(back.steps.contains(&Step::Unflag));
    assert!(back.reason.contains("back in ldap"));
    assert!(!world.state.flags.contains_key(&a("bob@example.com")));

    // Run 6 — ann: three absent runs, but the 7-day delay has not passed.
    let run6 = world.run(&base(vec![bob(), carol3()]), policy, t(9, 9));
    assert!(!has_change(&run6, "ann@example.com"));
    assert_eq!(world.state.flags[&a("ann@example.com")].absent_runs, 3);

    // Run 7 — delay passed and enough runs, but one record of the export
    // could not be read (it may be ann with a typo): her deletion is held,
    // the run is counted, and the plan says why.
    let mut unreadable = base(vec![bob(), carol3()]);
    unreadable.authoritative.issues.push(SourceIssue::new(
        Location::dn("CN=Ann Lee,OU=Staff,DC=example,DC=com"),
        "a mail attribute that is an address",
    ));
    let held = world.run(&unreadable, policy, t(12, 9));
    assert!(!has_change(&held, "ann@example.com"), "{:#?}", held.changes);
    assert!(world.get("ann@example.com").is_some());
    let text = muster_reconcile::render::text(&held);
    assert!(
        text.contains(
            "SAFETY: 1 record of ldap could not be read (dn `CN=Ann Lee,OU=Staff,DC=example,DC=com`); deletions are held until they are fixed"
        ),
        "{text}"
    );
    let waiting = held
        .conflicts
        .iter()
        .find(|c| c.email == a("ann@example.com"))
        .unwrap();
    assert!(
        waiting.reason.contains("deletion held"),
        "{}",
        waiting.reason
    );

    // Run 8 — the record is fixed (it was not ann): she is deleted.
    let run7 = world.run(&base(vec![bob(), carol3()]), policy, t(12, 10));
    let gone = change(&run7, "ann@example.com");
    assert_eq!(gone.kind, ChangeKind::Delete);
    assert!(
        gone.reason
            .contains("absent from ldap since 2026-11-05, 5 runs, delay 7 days"),
        "{}",
        gone.reason
    );
    assert!(world.get("ann@example.com").is_none());
    assert!(
        world.get("info@example.com").is_some(),
        "the disabled shared mailbox stays"
    );
    assert!(
        run7.conflicts
            .iter()
            .all(|c| c.email != a("info@example.com"))
    );

    // Run 9 — HR: carol is terminated, so she becomes a functional account.
    let hr_policy = common::policy()
        .hr_rule(HrRule::new(HrAction::MakeFunctional))
        .build();
    let mut hr_records: Vec<HrRecord> = staff(6)
        .into_iter()
        .map(|e| HrRecord::new(e.primary_email, HrStatus::Active))
        .collect();
    hr_records.push(HrRecord::new(a("bob@example.com"), HrStatus::Active));
    hr_records.push(HrRecord::new(
        a("carol.diaz@example.com"),
        HrStatus::Terminated,
    ));
    let with_hr =
        base(vec![bob(), carol3()]).with_hr(HrSnapshot::new("hr.csv", hr_records.clone()));
    let run8 = world.run(&with_hr, &hr_policy, t(13, 9));
    let carol_hr = change(&run8, "carol.diaz@example.com");
    assert!(carol_hr.steps.contains(&Step::SetType {
        from: UserType::EndUser,
        to: UserType::FunctionalAccount
    }));
    assert!(carol_hr.reason.contains("terminated in hr.csv"));
    assert!(
        carol_hr.is_destructive(),
        "a type downgrade counts toward the threshold"
    );
    let printer = change(&run8, "printer@example.com");
    assert!(
        printer.reason.contains("absent from hr.csv"),
        "an end user nobody employs stops using a licence"
    );
    assert!(
        !has_change(&run8, "info@example.com"),
        "already a functional account"
    );
    assert!(
        !has_change(&run8, "muster-api@example.com"),
        "muster's login is protected from the HR rule too"
    );
    assert_eq!(
        run8.summary.billable_after + 2,
        run8.summary.billable_before
    );
    // Run 10 — the directory does not flip the HR-set type back, even without HR.
    let run9 = world.run(&base(vec![bob(), carol3()]), policy, t(14, 9));
    assert!(!has_change(&run9, "carol.diaz@example.com"));
    assert_eq!(
        world.get("carol.diaz@example.com").unwrap().user_type,
        UserType::FunctionalAccount
    );

    // Run 11 — the six staff vanish and the policy deactivates flagged users:
    // six deactivations trip the threshold (5).
    let strict = common::policy().flag_action(FlagAction::Deactivate).build();
    let without_staff = Desired::new(ldap(vec![shared("info@example.com"), bob(), carol3()]));
    let tripped = world.plan(&without_staff, &strict, t(15, 9));
    assert!(tripped.requires_override());
    assert_eq!(tripped.threshold.destructive, 6);
    assert_eq!(
        tripped.threshold.exceeded_by,
        Some(6 - tripped.threshold.allowed)
    );
    // Run 12 — the administrator reviews it and overrides.
    let overridden = common::policy()
        .flag_action(FlagAction::Deactivate)
        .override_threshold(true)
        .build();
    let run11 = world.run(&without_staff, &overridden, t(15, 10));
    assert!(!run11.requires_override());
    assert!(run11.threshold.overridden);
    assert!(world.get("staff1@example.com").is_some_and(|s| !s.active));
    // Run 13 — staff1 returns: muster reactivates the account it deactivated.
    let mut returning = vec![shared("info@example.com"), bob(), carol3()];
    returning.push(person("staff1@example.com", "Staff", "Member1"));
    let run12 = world.run(&Desired::new(ldap(returning)), policy, t(16, 9));
    assert!(
        change(&run12, "staff1@example.com")
            .steps
            .contains(&Step::Activate)
    );
    assert!(world.get("staff1@example.com").unwrap().active);

    // A clock that runs backwards refuses to plan.
    let err = plan(
        &without_staff,
        &muster_reconcile::GatewayListing::complete(world.accounts.clone()),
        &target(),
        &world.state,
        policy,
        t(10, 9),
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::ClockWentBackwards { .. }));
}

/// A person HR has let go whom the directory renames in the same run is
/// flagged in that run, under the new address (the rename clears the old
/// address's state): not one run later, and the plan converges.
#[test]
fn a_rename_of_someone_hr_let_go_is_flagged_in_the_same_run() {
    let mut world = World::new(vec![account("old@example.com")]);
    world
        .state
        .set_origin(a("old@example.com"), Origin::Directory("ldap".into()));
    let entry = with_aliases(
        person("new@example.com", "Ann", "Lee"),
        &["old@example.com"],
    );
    let hr = HrSnapshot::new(
        "hr.csv",
        vec![
            HrRecord::new(a("new@example.com"), HrStatus::Terminated),
            HrRecord::new(a("someone@example.com"), HrStatus::Active),
        ],
    );
    let desired = Desired::new(ldap(vec![entry])).with_hr(hr);
    let policy = policy().hr_rule(HrRule::new(HrAction::Flag)).build();
    let p = world.run(&desired, &policy, t(2, 9));
    let rename = change(&p, "new@example.com");
    assert_eq!(rename.kind, ChangeKind::Rename, "{rename:#?}");
    assert!(rename.steps.contains(&Step::Flag), "{rename:#?}");
    let conflict = p
        .conflicts
        .iter()
        .find(|c| c.email == a("new@example.com"))
        .unwrap_or_else(|| panic!("an HR conflict: {:#?}", p.conflicts));
    assert_eq!(conflict.kind, ConflictKind::Hr);
    let flag = world.state.flags.get(&a("new@example.com"));
    assert_eq!(
        flag.map(|f| f.since),
        Some(t(2, 9)),
        "{:#?}",
        world.state.flags
    );
    assert!(!world.state.flags.contains_key(&a("old@example.com")));
}
