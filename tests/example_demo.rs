//! Runs `examples/demo.rs` (the README's main command) and checks the
//! preview it prints: what is added, updated, listed as a conflict and
//! skipped, and that planning wrote nothing.

mod support;

#[test]
fn the_demo_previews_the_embedded_sync_and_writes_nothing() {
    let out = support::run_example("demo", &[], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "directory: demo_users.csv (3 entries, 1 issues)",
        "  issue: demo_users.csv:5: primary_email `dee.stone(at)example.com`",
        "gateway: 4 accounts, 2 registered domains",
        // The unreadable row could be someone on the gateway: nothing is deleted meanwhile.
        "SAFETY: 1 record of demo_users.csv could not be read (demo_users.csv:5); deletions are held until they are fixed",
        "Adding (1)\n  + #0 bob.ray@example.com: in demo_users.csv, not on the gateway",
        "      first_name: \"Anne\" -> \"Ann\"",
        "      + alias ann@example.org",
        "  ? sam.old@example.com (end_user, unknown): existed before muster; demo_users.csv does not list it",
        "  ? helpdesk@example.com (functional_account, unknown)",
        "  x cy.vance@example.net (demo_users.csv, demo_users.csv:4): domain example.net is not managed",
        "planning wrote nothing: the gateway saw 0 writes",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // Accounts the CSV does not list existed before muster: never deleted on a first run.
    assert!(!stdout.contains("Deleting"), "{stdout}");
    // Essentials v1 has no known field for the mobile number: planning it
    // would be dropped by the gateway and proposed again on every run.
    assert!(!stdout.contains("mobile:"), "{stdout}");
    // The administrator muster logs in as is never touched.
    assert!(!stdout.contains("admin@example.com"), "{stdout}");
}

#[test]
fn the_demo_reads_a_csv_given_on_the_command_line() {
    let out = support::run_example(
        "demo",
        &["directory-sources/tests/fixtures/standard_current.csv"],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "directory: directory-sources/tests/fixtures/standard_current.csv (5 entries, 2 issues)"
        ),
        "{stdout}"
    );
}

#[test]
fn the_demo_fails_loudly_on_a_missing_csv() {
    let out = support::run_example("demo", &["no/such/users.csv"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot read `no/such/users.csv`"),
        "{stderr}"
    );
}
