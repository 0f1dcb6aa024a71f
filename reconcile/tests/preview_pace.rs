//! The plan's estimate of API calls, also as a duration at the gateway's
//! current rate (issue #19): the rate is the run's, said beside the plan,
//! and leaves the plan itself (and its preview and fingerprint) alone.

mod common;

use common::*;
use muster_reconcile::{Desired, Plan, render};

/// Three updates to existing people: one GET and one PUT each.
fn three_updates() -> Plan {
    let world = World::new(vec![
        account("muster-api@example.com"),
        account("ann@example.com").with_names("Ann", "Lee"),
        account("bob@example.com").with_names("Bob", "Ray"),
        account("cy@example.com").with_names("Cy", "Moss"),
    ]);
    let entries = vec![
        person("ann@example.com", "Ann", "Lee-Smith"),
        person("bob@example.com", "Robert", "Ray"),
        person("cy@example.com", "Cy", "Moss-Hart"),
    ];
    world.plan(&Desired::new(ldap(entries)), &policy().build(), t(10, 9))
}

fn calls_line(text: &str) -> &str {
    text.lines()
        .find(|l| l.contains("API calls"))
        .unwrap_or_else(|| panic!("no API-call estimate in:\n{text}"))
}

#[test]
fn the_estimate_says_how_long_the_calls_take_at_the_rate_given() {
    let plan = three_updates();
    let calls = plan.summary.api_calls;
    assert!(calls > 0, "{plan:?}");
    let at = |rate| render::duration_at_rate(calls, rate).unwrap();
    // 60 s a minute over the rate, rounded up: never promises less than it takes.
    let secs = (calls * 60).div_ceil(100);
    assert_eq!(at(100.0), format!("about {secs} s at 100 requests/minute"));
    // A learned, slower rate: the same calls take longer.
    let minutes = (calls * 40).div_ceil(60);
    assert_eq!(at(1.5), format!("about {minutes} min at 2 requests/minute"));
    // Past two hours, hours and minutes.
    assert_eq!(
        render::duration_at_rate(60_000, 100.0).as_deref(),
        Some("about 10 h 0 min at 100 requests/minute")
    );
    // No rate, or nothing to send: nothing to say.
    assert_eq!(render::duration_at_rate(calls, 0.0), None);
    assert_eq!(render::duration_at_rate(0, 100.0), None);
}

#[test]
fn the_rate_is_no_part_of_the_plan_or_its_preview() {
    let plan = three_updates();
    let calls = plan.summary.api_calls;
    assert!(calls_line(&render::text(&plan)).ends_with(&format!("about {calls} API calls")));
    assert!(!render::json(&plan).contains("requests/minute"));
}
