//! Plans written by hand for the unit tests (the planner makes real ones in
//! the integration tests; these can be broken on purpose).

use muster_reconcile::Plan;
use serde_json::{Value, json};

/// A change for `email` in the update phase with these steps.
pub(crate) fn change(id: u32, email: &str, steps: Value) -> Value {
    json!({
        "id": id, "email": email, "kind": "update", "phase": "update",
        "steps": steps, "expect": {"exists": true}, "reason": "test",
    })
}

/// A plan for `example.com` on `us1` with these changes and guards (and the
/// fingerprint of that content, as the planner would give it).
pub(crate) fn plan(changes: Vec<Value>, guards: Value) -> Plan {
    let mut plan: Plan = serde_json::from_value(json!({
        "schema_version": muster_reconcile::PLAN_SCHEMA_VERSION,
        "stack": "us1", "org": "example.com", "source": "ldap",
        "planned_at": "2026-11-02T09:00:00Z", "fingerprint": "00000000000000aa",
        "changes": changes, "conflicts": [], "skipped": [], "guards": guards,
        "run_transitions": [],
        "summary": {"changes": {}, "steps": {}, "conflicts": 0, "skipped": 0,
                    "welcome_letters": 0, "billable_before": 0, "billable_after": 0,
                    "api_calls": 0},
        "threshold": {"destructive": 0, "allowed": 5, "overridden": false},
    }))
    .expect("a valid plan");
    plan.fingerprint = plan.content_fingerprint();
    plan
}
