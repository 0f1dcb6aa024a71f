//! A simple in-memory model of applying a plan: what the gateway and the
//! state look like if every change succeeds.
//!
//! This is the model the planner's convergence law is stated against
//! (apply, plan again, nothing left to do), and what a dry run can show. It
//! honours dependencies but does no IO, pacing or precondition checks; the
//! executor does those.

use std::collections::BTreeMap;

use muster_core::{Account, EmailAddress, Field};

use crate::plan::{AccountChange, Plan, Step};
use crate::state::SyncState;

/// Applies every change of `plan` to `accounts`, in dependency order, and all
/// its transitions to `state`.
///
/// ```
/// use muster_core::Account;
/// use muster_reconcile::{simulate, SyncState};
/// # fn get_plan() -> muster_reconcile::Plan { unimplemented!() }
/// # fn demo() {
/// let plan = get_plan();
/// let mut accounts: Vec<Account> = Vec::new();
/// let mut state = SyncState::new("us1", "example.com");
/// simulate::apply(&plan, &mut accounts, &mut state);
/// # }
/// ```
pub fn apply(plan: &Plan, accounts: &mut Vec<Account>, state: &mut SyncState) {
    let mut by_email: BTreeMap<EmailAddress, Account> = accounts
        .drain(..)
        .map(|a| (a.primary_email.clone(), a))
        .collect();
    let mut done = vec![false; plan.changes.len()];
    let mut progress = true;
    while progress {
        progress = false;
        for (i, change) in plan.changes.iter().enumerate() {
            let ready = change
                .depends_on
                .iter()
                .all(|&d| done.get(d as usize).copied().unwrap_or(true));
            if done[i] || !ready {
                continue;
            }
            apply_change(change, &mut by_email);
            done[i] = true;
            progress = true;
        }
    }
    accounts.extend(by_email.into_values());
    plan.apply_all_transitions(state);
}

fn apply_change(change: &AccountChange, accounts: &mut BTreeMap<EmailAddress, Account>) {
    for step in &change.steps {
        if let Step::Create { account, .. } = step {
            accounts.insert(account.primary_email.clone(), (**account).clone());
            continue;
        }
        if let Step::ChangePrimary { from, account, .. } = step {
            accounts.remove(from);
            accounts.insert(account.primary_email.clone(), (**account).clone());
            continue;
        }
        if matches!(step, Step::Delete) {
            accounts.remove(&change.email);
            continue;
        }
        let Some(a) = accounts.get_mut(&change.email) else {
            continue;
        };
        match step {
            Step::SetField { field, after, .. } => {
                if let Some(slot) = text_slot(a, *field) {
                    slot.clone_from(after);
                }
            }
            Step::AddAliases { aliases } => a.aliases.extend(aliases.iter().cloned()),
            Step::RemoveAliases { aliases } => a.aliases.retain(|x| !aliases.contains(x)),
            Step::ChangeList { field, add, remove } => {
                let list = match field {
                    Field::Groups => &mut a.groups,
                    Field::AllowSenders => &mut a.allow_senders,
                    _ => &mut a.block_senders,
                };
                list.retain(|x| !remove.contains(x));
                list.extend(add.iter().cloned());
            }
            Step::SetType { to, .. } => a.user_type = to.clone(),
            Step::Activate => a.active = true,
            Step::Deactivate => a.active = false,
            _ => {}
        }
    }
}

fn text_slot(a: &mut Account, field: Field) -> Option<&mut Option<String>> {
    Some(match field {
        Field::FirstName => &mut a.first_name,
        Field::LastName => &mut a.last_name,
        Field::Mobile => &mut a.mobile,
        Field::Phone => &mut a.phone,
        Field::Company => &mut a.company,
        Field::Department => &mut a.department,
        Field::Notes => &mut a.notes,
        _ => return None,
    })
}
