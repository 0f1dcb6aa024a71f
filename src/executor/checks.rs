//! The checks made before anything is sent: is this plan fit to apply, to
//! this gateway, with this state?

use std::collections::BTreeSet;

use muster_core::Domain;
use muster_gateway::Client;
use muster_reconcile::{
    AccountChange, PLAN_SCHEMA_VERSION, Plan, PlanKey, Step, SyncState, Transition,
};

use super::error::ApplyError;

/// The host suffix of the real gateway's stacks (`us1.proofpointessentials.com`).
const STACK_HOST_SUFFIX: &str = ".proofpointessentials.com";

/// With a key, a plan must carry its valid signature; without one, a
/// signed plan is refused (its signature cannot be checked here).
pub(crate) fn check_signature(plan: &Plan, key: Option<&PlanKey>) -> Result<(), ApplyError> {
    match (key, &plan.signature) {
        (Some(key), _) => plan.verify(key).map_err(ApplyError::Signature),
        (None, Some(signature)) => Err(ApplyError::SignedPlanWithoutKey {
            key_id: signature.key_id.clone(),
        }),
        (None, None) => Ok(()),
    }
}

/// Refuses a plan that must not be applied: another schema version, content
/// changed since it was made, another gateway, a state of another organisation, a tripped threshold without
/// override, a step its own guards forbid, or a malformed change list.
pub(crate) fn check_plan(
    plan: &Plan,
    client: &Client,
    declared_stack: Option<&str>,
    state: &SyncState,
    override_threshold: bool,
    in_parts: bool,
) -> Result<(), ApplyError> {
    if plan.schema_version != PLAN_SCHEMA_VERSION {
        return Err(ApplyError::UnsupportedPlanVersion {
            found: plan.schema_version,
            supported: PLAN_SCHEMA_VERSION,
        });
    }
    if plan.content_fingerprint() != plan.fingerprint {
        return Err(ApplyError::PlanAltered {
            recorded: plan.fingerprint.clone(),
        });
    }
    check_gateway(plan, client, declared_stack)?;
    state
        .check(&plan.stack, &plan.org)
        .map_err(ApplyError::State)?;
    check_structure(plan)?;
    check_guards(plan)?;
    // A plan applied in parts is held to its threshold part by part, with
    // the journal (check_approved_threshold).
    if in_parts {
        return Ok(());
    }
    check_threshold(plan, override_threshold)
}

/// The client's organisation (Essentials v1 names one) and stack (a stack
/// URL names one; otherwise the caller may declare it) must be the plan's.
fn check_gateway(
    plan: &Plan,
    client: &Client,
    declared_stack: Option<&str>,
) -> Result<(), ApplyError> {
    let wrong = |client: String| ApplyError::WrongGateway {
        plan_stack: plan.stack.clone(),
        plan_org: plan.org.clone(),
        client,
    };
    if let Some(org) = client.org_domain() {
        let same = Domain::parse(&plan.org).is_ok_and(|p| &p == org);
        if !same {
            return Err(wrong(format!("organisation {}", org.as_str())));
        }
    }
    let url_stack = client.base_url().host_str().and_then(|h| {
        h.to_ascii_lowercase()
            .strip_suffix(STACK_HOST_SUFFIX)
            .map(str::to_owned)
    });
    for stack in url_stack.as_deref().into_iter().chain(declared_stack) {
        if !stack.eq_ignore_ascii_case(&plan.stack) {
            return Err(wrong(format!("stack {stack}")));
        }
    }
    Ok(())
}

/// Ids are unique, dependencies name changes of the plan, and a change's
/// steps can be carried out together.
fn check_structure(plan: &Plan) -> Result<(), ApplyError> {
    let mut ids = BTreeSet::new();
    for change in &plan.changes {
        if !ids.insert(change.id) {
            return Err(ApplyError::InvalidPlan(format!(
                "two changes have id {}",
                change.id
            )));
        }
    }
    for change in &plan.changes {
        if let Some(d) = change
            .depends_on
            .iter()
            .find(|d| !ids.contains(d) || **d == change.id)
        {
            return Err(ApplyError::InvalidPlan(format!(
                "change #{} depends on #{d}, which is not another change of the plan",
                change.id
            )));
        }
        let creates = change
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Create { .. } | Step::ChangePrimary { .. }))
            .count();
        let deletes = change.steps.iter().any(|s| matches!(s, Step::Delete));
        let writes = change.steps.iter().filter(|s| !s.is_state_only()).count();
        if creates > 1 || (deletes && writes > 1) {
            return Err(ApplyError::InvalidPlan(format!(
                "change #{} combines steps that cannot go together",
                change.id
            )));
        }
    }
    Ok(())
}

/// The threshold of a plan applied in parts: this run's destructive steps
/// (and creates) plus those the journal records as applied for the plan,
/// against what the plan allows, so a tripped plan cannot be applied in
/// slices without the override. (The licence count is the whole plan's.)
pub(crate) fn check_approved_threshold(
    plan: &Plan,
    approved: &BTreeSet<u32>,
    applied: &BTreeSet<u32>,
    override_threshold: bool,
) -> Result<(), ApplyError> {
    if plan.threshold.overridden || override_threshold {
        return Ok(());
    }
    let counted = plan
        .changes
        .iter()
        .filter(|c| approved.contains(&c.id) || applied.contains(&c.id));
    let (mut destructive, mut creates) = (0, 0);
    for change in counted {
        destructive += change.destructive_count();
        creates += change
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Create { .. }))
            .count();
    }
    if destructive > plan.threshold.allowed {
        return Err(ApplyError::ThresholdExceeded {
            destructive,
            allowed: plan.threshold.allowed,
        });
    }
    if creates > plan.threshold.creates_allowed {
        return Err(ApplyError::CreateLimitExceeded {
            creates,
            allowed: plan.threshold.creates_allowed,
        });
    }
    if let Some(over) = plan.threshold.licences_exceeded_by {
        return Err(ApplyError::LicencesExceeded { over });
    }
    Ok(())
}

/// A plan over the destructive threshold needs its override. The count is
/// taken from the changes themselves, so a plan edited after it was made
/// cannot slip more deletions under the recorded count.
fn check_threshold(plan: &Plan, override_threshold: bool) -> Result<(), ApplyError> {
    let overridden = plan.threshold.overridden || override_threshold;
    let recounted: usize = plan
        .changes
        .iter()
        .map(AccountChange::destructive_count)
        .sum();
    let destructive = recounted.max(plan.threshold.destructive);
    let over = destructive > plan.threshold.allowed || plan.threshold.exceeded_by.is_some();
    if over && !overridden {
        return Err(ApplyError::ThresholdExceeded {
            destructive,
            allowed: plan.threshold.allowed,
        });
    }
    let creates = plan
        .changes
        .iter()
        .flat_map(|c| &c.steps)
        .filter(|s| matches!(s, Step::Create { .. }))
        .count()
        .max(plan.threshold.creates);
    let too_many =
        creates > plan.threshold.creates_allowed || plan.threshold.creates_exceeded_by.is_some();
    if too_many && !overridden {
        return Err(ApplyError::CreateLimitExceeded {
            creates,
            allowed: plan.threshold.creates_allowed,
        });
    }
    if let (Some(over), false) = (
        plan.threshold.licences_exceeded_by,
        plan.threshold.overridden,
    ) {
        return Err(ApplyError::LicencesExceeded { over });
    }
    Ok(())
}

/// A guard says which destructive steps the planner withheld; a plan that
/// carries one anyway (edited, or from a broken planner) is refused.
///
/// - a guard that holds deletions forbids deletes and deactivations;
/// - a guard that blocks the HR rule forbids its type changes (marked by
///   their `TypeSetByHr` transition);
/// - a guard that blocks the directory forbids every other destructive step.
fn check_guards(plan: &Plan) -> Result<(), ApplyError> {
    for guard in &plan.guards {
        for change in &plan.changes {
            let by_hr = change
                .transitions
                .iter()
                .any(|t| matches!(t, Transition::TypeSetByHr { .. }));
            let forbidden = change.steps.iter().find(|step| {
                let removal = matches!(step, Step::Delete | Step::Deactivate);
                let hr_type = by_hr && matches!(step, Step::SetType { .. });
                (guard.holds_deletions() && removal)
                    || (guard.blocks_hr() && hr_type)
                    || (guard.blocks_directory() && step.is_destructive() && !hr_type)
            });
            if let Some(step) = forbidden {
                return Err(ApplyError::Guarded {
                    change: change.id,
                    step: step.name(),
                    guard: guard.clone(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::testing::{change, plan};
    use serde_json::json;

    fn client(stack_or_url: &str, org: &str) -> Client {
        Client::builder()
            .essentials(stack_or_url, org)
            .credentials("admin@example.com", "pw".into())
            .build()
            .unwrap()
    }

    #[test]
    fn the_client_must_be_for_the_plans_organisation_and_stack() {
        let p = plan(vec![], json!([]));
        assert!(check_gateway(&p, &client("us1", "Example.COM"), None).is_ok());
        assert!(check_gateway(&p, &client("US1", "example.com"), Some("us1")).is_ok());
        for (stack, org, declared) in [
            ("us1", "example.org", None),
            ("eu1", "example.com", None),
            ("us1", "example.com", Some("eu1")),
            ("http://127.0.0.1:9", "example.com", Some("local")),
        ] {
            let err = check_gateway(&p, &client(stack, org), declared).unwrap_err();
            assert!(
                matches!(err, ApplyError::WrongGateway { .. }),
                "{stack} {org} {declared:?}"
            );
        }
        // A local URL names no stack: only a declared one is checked.
        assert!(check_gateway(&p, &client("http://127.0.0.1:9", "example.com"), None).is_ok());
    }

    #[test]
    fn a_guard_refuses_the_steps_it_withholds_and_only_those() {
        let delete = json!([{"step": "delete"}]);
        let remove = json!([{"step": "remove_aliases", "aliases": ["a@example.com"]}]);
        let add = json!([{"step": "add_aliases", "aliases": ["a@example.com"]}]);
        let unread = json!([{"guard": "records_unread", "source": "csv", "count": 1, "first": []}]);
        let listing = json!([{"guard": "gateway_listing_incomplete"}]);
        let refused = |steps: &serde_json::Value, guards: &serde_json::Value| {
            check_guards(&plan(
                vec![change(0, "a@example.com", steps.clone())],
                guards.clone(),
            ))
            .is_err()
        };
        assert!(refused(&delete, &unread));
        assert!(
            !refused(&remove, &unread),
            "unread records hold only deletions"
        );
        assert!(refused(&remove, &listing));
        assert!(!refused(&add, &listing), "additions are never withheld");
        assert!(!refused(&delete, &json!([])));
    }

    #[test]
    fn the_threshold_is_recounted_from_the_changes() {
        let deletes: Vec<_> = (0..3)
            .map(|i| change(i, &format!("u{i}@example.com"), json!([{"step": "delete"}])))
            .collect();
        let mut p = plan(deletes, json!([]));
        p.threshold.allowed = 2;
        // The recorded count says 0, the changes say 3.
        assert!(matches!(
            check_threshold(&p, false),
            Err(ApplyError::ThresholdExceeded {
                destructive: 3,
                allowed: 2
            })
        ));
        p.threshold.overridden = true;
        assert!(check_threshold(&p, false).is_ok());
        p.threshold.overridden = false;
        assert!(check_threshold(&p, true).is_ok(), "approved at apply time");
    }

    #[test]
    fn malformed_change_lists_are_refused() {
        let dup = plan(
            vec![
                change(0, "a@example.com", json!([])),
                change(0, "b@example.com", json!([])),
            ],
            json!([]),
        );
        assert!(check_structure(&dup).is_err());
        let mut dangling = plan(vec![change(0, "a@example.com", json!([]))], json!([]));
        dangling.changes[0].depends_on = vec![4];
        assert!(check_structure(&dangling).is_err());
        let mixed = plan(
            vec![change(
                0,
                "a@example.com",
                json!([{"step": "delete"}, {"step": "deactivate"}]),
            )],
            json!([]),
        );
        assert!(check_structure(&mixed).is_err());
    }
}
