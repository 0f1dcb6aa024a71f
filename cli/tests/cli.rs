//! The `muster` command as a user runs it: a real process against the
//! gateway emulator, with files on disk and the password in the environment.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use muster_emulator::Emulator;
use support::*;

fn plan_args(emulator: &Emulator, csv: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = command(
        emulator,
        "plan",
        &[
            "--managed-domain",
            "example.com",
            "--managed-domain",
            "example.org",
            "--csv",
        ],
    );
    args.push(csv.display().to_string());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_previews_without_writing_then_applies_and_converges() {
    let out = muster(vec!["demo".into()], None).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("Adding (1)"), "{stdout}");
    assert!(stdout.contains("+ #0 bob.ray@example.com"), "{stdout}");
    assert!(
        stdout.contains("first_name: \"Anne\" -> \"Ann\""),
        "{stdout}"
    );
    assert!(stdout.contains("the gateway saw 0 writes"), "{stdout}");
    // Then applied to the emulator, and planned again: nothing left.
    assert!(
        stdout.contains("#0 bob.ray@example.com (create): applied"),
        "{stdout}"
    );
    assert!(stdout.contains("applied: 2 applied"), "{stdout}");
    assert!(
        stdout.contains("planning again: nothing left to change (2 conflicts wait for a decision)"),
        "{stdout}"
    );
    // The unreadable record is reported with its line, and holds deletions back.
    assert!(text(&out.stderr).contains("demo_users.csv:5"));
    assert!(stdout.contains("deletions are held"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_writes_a_json_plan_and_reports_changes_in_the_exit_code() {
    let emulator = emulator().await;
    let dir = Scratch::new("json");
    let csv = dir.file(
        "users.csv",
        "First Name,Last Name,Primary Email,Mobile,Alias 1\n\
         Ann,Lee,ann.lee@example.com,,\n\
         Bob,Ray,bob.ray@example.com,,\n",
    );
    let plan_file = dir.path("plan.json");
    let args = plan_args(
        &emulator,
        &csv,
        &[
            "--format",
            "json",
            "--out",
            plan_file.to_str().unwrap(),
            "--detailed-exitcode",
        ],
    );
    let out = muster(args, Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    let emails: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["bob.ray@example.com", "ann.lee@example.com"]);
    assert_eq!(plan["org"], "example.com");
    assert_eq!(writes(&emulator), 0, "planning never writes");
    // The plan reads back as a plan (what `apply` will load).
    muster::reconcile::render::from_json(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_step_directory_exits_zero_with_the_detailed_exit_code() {
    let emulator = emulator().await;
    let dir = Scratch::new("instep");
    // Exactly what the gateway holds for the two end users muster would own.
    let csv = dir.file(
        "users.csv",
        "Anne,Lee,ann.lee@example.com\nSam,Old,sam.old@example.com\n",
    );
    // The first run adopts them: muster's state changes, so a job that
    // applies on 2 records it.
    let state = dir.path("state.json");
    let plan_file = dir.path("plan.json");
    let state_args = ["--state", state.to_str().unwrap()];
    let mut first_args = plan_args(
        &emulator,
        &csv,
        &["--detailed-exitcode", "--save", plan_file.to_str().unwrap()],
    );
    first_args.extend(state_args.iter().map(|s| (*s).to_owned()));
    let out = muster(first_args, Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("now owned by"),
        "{}",
        text(&out.stdout)
    );
    let out = muster(
        apply_args(&emulator, &plan_file, &state_args),
        Some(PASSWORD),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stdout));
    // Then the directory is in step: nothing to do, exit 0.
    let mut again = plan_args(&emulator, &csv, &["--detailed-exitcode"]);
    again.extend(state_args.iter().map(|s| (*s).to_owned()));
    let out = muster(again, Some(PASSWORD)).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("Summary: 0 to add"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_password_stops_before_any_request() {
    let emulator = emulator().await;
    let dir = Scratch::new("nopass");
    let csv = dir.file("users.csv", "Ann,Lee,ann.lee@example.com\n");
    let out = muster(plan_args(&emulator, &csv, &[]), None).await;
    assert_stops(&out, 1, "MUSTER_PASSWORD");
    assert!(out.stdout.is_empty());
    assert!(emulator.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_an_error_that_never_shows_the_password() {
    let emulator = emulator().await;
    let dir = Scratch::new("badpass");
    let csv = dir.file("users.csv", "Ann,Lee,ann.lee@example.com\n");
    let secret = "hunter2-not-the-password";
    let out = muster(plan_args(&emulator, &csv, &[]), Some(secret)).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cannot read the gateway"), "{stderr}");
    assert!(!stderr.contains(secret) && !text(&out.stdout).contains(secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_source_is_an_error_not_an_empty_directory() {
    let emulator = emulator().await;
    let dir = Scratch::new("nofile");
    let missing = dir.path("missing.csv");
    let out = muster(plan_args(&emulator, &missing, &[]), Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("missing.csv"), "{stderr}");
    assert!(out.stdout.is_empty(), "no plan is printed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_of_another_organisation_is_refused() {
    let emulator = emulator().await;
    let dir = Scratch::new("state");
    let csv = dir.file("users.csv", "Ann,Lee,ann.lee@example.com\n");
    let other = muster::reconcile::SyncState::new(emulator.api_v1_url(), "other.example");
    let state = dir.file("state.json", &other.to_json());
    let out = muster(
        plan_args(&emulator, &csv, &["--state", state.to_str().unwrap()]),
        Some(PASSWORD),
    )
    .await;
    assert_stops(&out, 1, "cannot plan");
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_plans_nothing_when_read_back() {
    let emulator = emulator().await;
    let dir = Scratch::new("export");
    let backup = dir.path("backup.csv");
    let args: Vec<String> = command(&emulator, "export", &["--out", backup.to_str().unwrap()]);
    let out = muster(args, Some(PASSWORD)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(&backup).unwrap();
    assert!(
        csv.starts_with("First Name,Last Name,Primary Email,Mobile\n"),
        "{csv}"
    );
    assert!(csv.contains("Anne,Lee,ann.lee@example.com,"), "{csv}");
    assert!(csv.contains("helpdesk@example.com"), "{csv}");
    // Read back as the directory, the gateway is in step with itself: the
    // only thing to record is that muster now owns the accounts (exit 2 says
    // a job must apply that, and nothing is written to the gateway).
    let out = muster(
        plan_args(&emulator, &backup, &["--detailed-exitcode"]),
        Some(PASSWORD),
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("Summary: 0 to add"), "{stdout}");
    let steps: Vec<&str> = stdout.lines().filter(|l| l.starts_with("      ")).collect();
    assert!(
        !steps.is_empty() && steps.iter().all(|l| l.contains("now owned by")),
        "{stdout}"
    );
    assert_eq!(writes(&emulator), 0);
}

/// The arguments of `muster apply` against `emulator`.
fn apply_args(emulator: &Emulator, plan: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = command(emulator, "apply", &["--plan"]);
    args.push(plan.display().to_string());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

/// Plans `csv` against `emulator` into `dir/plan.json` with the state file `dir/state.json`.
async fn save_plan(emulator: &Emulator, dir: &Scratch, csv: &Path) -> (PathBuf, PathBuf) {
    let plan = dir.path("plan.json");
    let state = dir.path("state.json");
    let out = muster(
        plan_args(
            emulator,
            csv,
            &[
                "--format",
                "json",
                "--out",
                plan.to_str().unwrap(),
                "--state",
                state.to_str().unwrap(),
            ],
        ),
        Some(PASSWORD),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    (plan, state)
}

const TWO_USERS: &str = "First Name,Last Name,Primary Email,Mobile,Alias 1\n\
                         Ann,Lee,ann.lee@example.com,,\n\
                         Bob,Ray,bob.ray@example.com,,\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_writes_the_plan_saves_the_state_and_the_next_plan_is_empty() {
    let emulator = emulator().await;
    let dir = Scratch::new("apply");
    let csv = dir.file("users.csv", TWO_USERS);
    let (plan, state) = save_plan(&emulator, &dir, &csv).await;
    let journal = dir.path("journal.jsonl");
    let out = muster(
        apply_args(
            &emulator,
            &plan,
            &[
                "--state",
                state.to_str().unwrap(),
                "--journal",
                journal.to_str().unwrap(),
            ],
        ),
        Some(PASSWORD),
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("bob.ray@example.com (create): applied"),
        "{stdout}"
    );
    assert!(stdout.ends_with("applied: 2 applied\n"), "{stdout}");
    assert!(
        emulator
            .user("example.com", "bob.ray@example.com")
            .is_some()
    );
    assert!(std::fs::read_to_string(&journal).unwrap().lines().count() >= 2);
    // The state holds directory data: only its owner may read it, and no
    // temporary file is left beside it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let mut temporary = state.clone().into_os_string();
        temporary.push(".tmp");
        assert!(!std::path::Path::new(&temporary).exists());
    }
    // The state now says muster owns both; planning again changes nothing.
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(saved.contains("bob.ray@example.com"), "{saved}");
    let again = muster(
        plan_args(
            &emulator,
            &csv,
            &["--state", state.to_str().unwrap(), "--detailed-exitcode"],
        ),
        Some(PASSWORD),
    )
    .await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stdout));
    // The same command again resumes from the journal: nothing is sent twice.
    let posts_before = emulator
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    let resumed = muster(
        apply_args(
            &emulator,
            &plan,
            &[
                "--state",
                state.to_str().unwrap(),
                "--journal",
                journal.to_str().unwrap(),
            ],
        ),
        Some(PASSWORD),
    )
    .await;
    assert!(
        text(&resumed.stdout).contains("applied: 2 already applied"),
        "{}",
        text(&resumed.stdout)
    );
    let posts_after = emulator
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts_before, posts_after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_writes_nothing_and_saves_no_state() {
    let emulator = emulator().await;
    let dir = Scratch::new("dryrun");
    let csv = dir.file("users.csv", TWO_USERS);
    let (plan, state) = save_plan(&emulator, &dir, &csv).await;
    let out = muster(apply_args(&emulator, &plan, &["--dry-run"]), Some(PASSWORD)).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("dry run: POST"), "{stdout}");
    assert_eq!(writes(&emulator), 0);
    assert!(!state.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_without_a_state_file_is_refused() {
    let emulator = emulator().await;
    let dir = Scratch::new("nostate");
    let csv = dir.file("users.csv", TWO_USERS);
    let (plan, _) = save_plan(&emulator, &dir, &csv).await;
    let requests = emulator.requests().len();
    let out = muster(apply_args(&emulator, &plan, &[]), Some(PASSWORD)).await;
    assert_stops(&out, 1, "--state is required");
    assert_eq!(
        emulator.requests().len(),
        requests,
        "refused before any request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_overtaken_by_the_gateway_is_stale_and_the_exit_code_says_so() {
    let emulator = emulator().await;
    let dir = Scratch::new("stale");
    let csv = dir.file("users.csv", TWO_USERS);
    let (plan, state) = save_plan(&emulator, &dir, &csv).await;
    // Someone creates Bob in the console after the plan was made.
    emulator
        .insert_user(
            "example.com",
            serde_json::json!({"primary_email": "bob.ray@example.com", "firstname": "Robert"}),
        )
        .unwrap();
    let out = muster(
        apply_args(&emulator, &plan, &["--state", state.to_str().unwrap()]),
        Some(PASSWORD),
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("bob.ray@example.com (create): stale"),
        "{stdout}"
    );
    let bob = emulator.user("example.com", "bob.ray@example.com").unwrap();
    assert_eq!(
        bob["firstname"], "Robert",
        "the console's Bob is not overwritten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_reads_an_active_directory_and_plans_against_the_gateway() {
    let emulator = emulator().await;
    let ou = ldap_people("cli-plan").await;
    let dir = Scratch::new("ldap");
    let plan_file = dir.path("plan.json");
    let args: Vec<String> = command(
        &emulator,
        "plan",
        &[
            "--managed-domain",
            "example.com",
            "--managed-domain",
            "example.org",
            "--ldap",
            &ldap_env("MUSTER_LDAP_URL"),
            "--ldap-base",
            &ou,
            "--ldap-bind-dn",
            &ldap_env("MUSTER_LDAP_READER_DN"),
            "--ldap-filter",
            "(objectClass=user)",
            "--format",
            "json",
            "--out",
            plan_file.to_str().unwrap(),
        ],
    );
    let env = vec![
        ("MUSTER_PASSWORD".to_owned(), PASSWORD.to_owned()),
        (
            "MUSTER_LDAP_PASSWORD".to_owned(),
            ldap_env("MUSTER_LDAP_READER_PASSWORD"),
        ),
    ];
    let out = muster_with_env(args.clone(), env).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    assert!(
        plan["source"].as_str().unwrap().starts_with("ldap:"),
        "{}",
        plan["source"]
    );
    let changes: Vec<(&str, &str)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["email"].as_str().unwrap(), c["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changes,
        [
            ("bob.ray@example.com", "create"),
            ("ann.lee@example.com", "update")
        ]
    );
    let ann_update = plan["changes"][1].to_string();
    assert!(ann_update.contains("ann@example.org"), "{ann_update}");

    // Without the directory's password, the run stops before planning.
    let no_ldap_password = vec![("MUSTER_PASSWORD".to_owned(), PASSWORD.to_owned())];
    let out = muster_with_env(args, no_ldap_password).await;
    assert_stops(&out, 1, "MUSTER_LDAP_PASSWORD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_reads_entra_id_through_graph_with_the_secret_from_the_environment() {
    use wiremock::matchers::{body_string_contains, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let emulator = emulator().await;
    let graph = MockServer::start().await;
    let secret = "graph-secret-never-shown";
    Mock::given(method("POST"))
        .and(path("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .and(body_string_contains("client_id=app-id"))
        .and(body_string_contains(secret))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"token-1"}"#,
        ))
        .mount(&graph)
        .await;
    // A disabled shared mailbox among the users: accountEnabled is not read by default.
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"value":[
                {"id":"1","mail":"ann.lee@example.com","givenName":"Ann","surname":"Lee",
                 "proxyAddresses":["SMTP:ann.lee@example.com","smtp:ann@example.org"],"userType":"Member"},
                {"id":"2","mail":"bob.ray@example.com","givenName":"Bob","surname":"Ray","userType":"Member"},
                {"id":"3","mail":"sam.old@example.com","givenName":"Sam","surname":"Old",
                 "accountEnabled":false,"userType":"Member"}
            ]}"#,
        ))
        .mount(&graph)
        .await;
    let args = graph_plan_args(&emulator, &graph, &[]);
    let env = vec![
        ("MUSTER_PASSWORD".to_owned(), PASSWORD.to_owned()),
        ("MUSTER_GRAPH_SECRET".to_owned(), secret.to_owned()),
    ];
    let out = muster_with_env(args.clone(), env).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("+ #0 bob.ray@example.com"), "{stdout}");
    assert!(stdout.contains("+ alias ann@example.org"), "{stdout}");
    // Sam's account is disabled in Entra ID (as a shared mailbox would be):
    // still listed, so adopted, and nothing is flagged or deleted.
    assert!(
        stdout.contains("sam.old@example.com: existed before muster; graph:contoso.onmicrosoft.com lists it, adopted"),
        "{stdout}"
    );
    assert!(stdout.contains("0 to flag, 0 to delete"), "{stdout}");
    assert!(!stdout.contains(secret) && !text(&out.stderr).contains(secret));

    // Without the secret the run stops before asking for a token.
    let out = muster_with_env(
        args,
        vec![("MUSTER_PASSWORD".to_owned(), PASSWORD.to_owned())],
    )
    .await;
    assert_stops(&out, 1, "MUSTER_GRAPH_SECRET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovered_addresses_become_users_through_a_supplemental_source() {
    let emulator = emulator().await;
    let dir = Scratch::new("discover");
    let yesterday = (muster::chrono::Utc::now() - muster::chrono::TimeDelta::days(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let log = dir.file(
        "maillog.csv",
        &format!(
            "address,direction,messages,last_seen,display_name\n\
             cy.new@example.com,inbound,7,{yesterday},Cy New\n\
             noreply@example.com,inbound,90,{yesterday},\n\
             someone@elsewhere.net,inbound,40,{yesterday},\n\
             rare@example.com,inbound,1,{yesterday},\n\
             broken,inbound,3,{yesterday},\n"
        ),
    );
    let ledger = dir.path("ledger.json");
    let discover: Vec<String> = [
        "discover",
        "--ledger",
        ledger.to_str().unwrap(),
        "--observations",
        log.to_str().unwrap(),
        "--managed-domain",
        "example.com",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let out = muster(discover, None).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("4 addresses in the ledger, 0 forgotten, 1 candidates"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cy.new@example.com -> user (7 messages counted)"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("maillog.csv:6"),
        "the bad row is named: {}",
        text(&out.stderr)
    );
    assert!(ledger.exists());

    // Planned with the directory, the candidate is created; nothing is removed for it.
    let csv = dir.file("users.csv", "Ann,Lee,ann.lee@example.com\n");
    let out = muster(
        plan_args(
            &emulator,
            &csv,
            &["--discovery-ledger", ledger.to_str().unwrap()],
        ),
        Some(PASSWORD),
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("cy.new@example.com"), "{stdout}");
    assert!(stdout.contains("name Cy New"), "{stdout}");
    assert!(!stdout.contains("rare@example.com"), "{stdout}");
    assert!(stdout.contains("0 to flag, 0 to delete"), "{stdout}");
}

/// A stand-in for Entra ID and Graph: tokens for `contoso.onmicrosoft.com`,
/// and a teapot for anything not mocked (418 is not retried, so a request
/// the test did not expect fails the run readably).
async fn graph_mock() -> wiremock::MockServer {
    use wiremock::matchers::{any, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let graph = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(418).set_body_string("not mocked"))
        .with_priority(u8::MAX)
        .mount(&graph)
        .await;
    Mock::given(method("POST"))
        .and(path("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"token-1"}"#,
        ))
        .mount(&graph)
        .await;
    graph
}

/// `muster plan` against `emulator` with Entra ID at `graph` as the
/// directory, then `extra`.
fn graph_plan_args(
    emulator: &Emulator,
    graph: &wiremock::MockServer,
    extra: &[&str],
) -> Vec<String> {
    let graph_url = format!("{}/v1.0", graph.uri());
    let mut args = command(
        emulator,
        "plan",
        &[
            "--managed-domain",
            "example.com",
            "--managed-domain",
            "example.org",
            "--graph-tenant",
            "contoso.onmicrosoft.com",
            "--graph-client-id",
            "app-id",
            "--graph-authority",
            &graph.uri(),
            "--graph-url",
            &graph_url,
        ],
    );
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

fn graph_env() -> Vec<(String, String)> {
    vec![
        ("MUSTER_PASSWORD".to_owned(), PASSWORD.to_owned()),
        ("MUSTER_GRAPH_SECRET".to_owned(), "graph-secret".to_owned()),
    ]
}

/// A page of `/users/delta` whose round ends with the delta link of `next`.
fn delta_page(graph: &wiremock::MockServer, users: &str, next: &str) -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200).set_body_raw(
        format!(
            r#"{{"@odata.deltaLink":"{}/v1.0/users/delta?$deltatoken={next}","value":[{users}]}}"#,
            graph.uri()
        ),
        "application/json",
    )
}

/// The first delta round of a tenant with Ann and Bob, from scratch (no state token).
async fn mount_first_delta_round(graph: &wiremock::MockServer, times: u64) {
    use wiremock::Mock;
    use wiremock::matchers::{method, path, query_param_is_missing};

    Mock::given(method("GET"))
        .and(path("/v1.0/users/delta"))
        .and(query_param_is_missing("$deltatoken"))
        .respond_with(delta_page(
            graph,
            r#"{"id":"1","mail":"ann.lee@example.com","givenName":"Ann","surname":"Lee","userType":"Member"},
               {"id":"2","mail":"bob.ray@example.com","givenName":"Bob","surname":"Ray","userType":"Member"}"#,
            "round-one",
        ))
        .expect(times)
        .mount(graph)
        .await;
}

/// The delta requests a run made: `from scratch`, or the state token it continued from.
fn delta_requests(requests: &[wiremock::Request]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.url.path() == "/v1.0/users/delta")
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "$deltatoken")
                .map_or("from scratch".to_owned(), |(_, v)| v.into_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_cursor_file_makes_the_next_run_incremental_and_a_resync_is_reported() {
    use wiremock::Mock;
    use wiremock::matchers::{method, path, query_param};

    let emulator = emulator().await;
    let graph = graph_mock().await;
    let dir = Scratch::new("graph-cursor");
    let cursor = dir.path("entra.cursor.json");
    let args = graph_plan_args(
        &emulator,
        &graph,
        &["--graph-cursor", cursor.to_str().unwrap()],
    );
    // The first run and, after the resync, the third enumerate every user.
    mount_first_delta_round(&graph, 2).await;
    // Round two: Bob deleted, Cy new.
    Mock::given(method("GET"))
        .and(path("/v1.0/users/delta"))
        .and(query_param("$deltatoken", "round-one"))
        .respond_with(delta_page(
            &graph,
            r#"{"id":"2","@removed":{"reason":"deleted"}},
               {"id":"3","mail":"cy.new@example.com","givenName":"Cy","surname":"New","userType":"Member"}"#,
            "round-two",
        ))
        .expect(1)
        .mount(&graph)
        .await;
    // Round two's token has expired by the third run.
    Mock::given(method("GET"))
        .and(path("/v1.0/users/delta"))
        .and(query_param("$deltatoken", "round-two"))
        .respond_with(wiremock::ResponseTemplate::new(410).set_body_raw(
            r#"{"error":{"code":"resyncRequired","message":"Resync required."}}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&graph)
        .await;

    // First run: no file yet, every user read, the cursor saved.
    let out = muster_with_env(args.clone(), graph_env()).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("+ #0 bob.ray@example.com"), "{stdout}");
    assert!(stderr.contains("no cursor in"), "{stderr}");
    let first = std::fs::read_to_string(&cursor).expect("the first run saves the cursor");
    assert!(first.contains("round-one"), "{first}");
    assert!(!dir.path("entra.cursor.json.tmp").exists());
    assert_eq!(
        delta_requests(&graph.received_requests().await.unwrap()),
        ["from scratch"]
    );

    // Second run: continues from the delta link; Bob has left, Cy arrived.
    let out = muster_with_env(args.clone(), graph_env()).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("cy.new@example.com"), "{stdout}");
    assert!(!stdout.contains("bob.ray@example.com"), "{stdout}");
    assert!(
        stderr.contains("incremental read from") && stderr.contains("1 changed, 1 removed"),
        "{stderr}"
    );
    assert!(!stderr.contains("resync"), "{stderr}");
    assert_eq!(
        delta_requests(&graph.received_requests().await.unwrap()),
        ["from scratch", "round-one"]
    );
    assert!(
        std::fs::read_to_string(&cursor)
            .unwrap()
            .contains("round-two")
    );

    // Third run: Graph refuses the expired token; every user is read again,
    // the output says so, and the new cursor replaces the old one.
    let out = muster_with_env(args, graph_env()).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("forced a full resync") && stderr.contains("HTTP 410 resyncRequired"),
        "{stderr}"
    );
    assert!(stdout.contains("+ #0 bob.ray@example.com"), "{stdout}");
    assert_eq!(
        delta_requests(&graph.received_requests().await.unwrap()),
        ["from scratch", "round-one", "round-two", "from scratch"]
    );
    assert!(
        std::fs::read_to_string(&cursor)
            .unwrap()
            .contains("round-one")
    );
    graph.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_or_foreign_graph_cursor_is_an_error_naming_the_file_never_a_full_read() {
    let emulator = emulator().await;
    let graph = graph_mock().await;
    mount_first_delta_round(&graph, 1).await;
    let dir = Scratch::new("graph-cursor-bad");
    let cursor = dir.path("entra.cursor.json");
    let cursor_arg = cursor.to_str().unwrap();
    let args = graph_plan_args(&emulator, &graph, &["--graph-cursor", cursor_arg]);
    let out = muster_with_env(args, graph_env()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let saved = std::fs::read_to_string(&cursor).unwrap();
    let requests_before = graph.received_requests().await.unwrap().len();

    // The same file for another tenant: refused before any request, and kept.
    let mut other_tenant = graph_plan_args(&emulator, &graph, &["--graph-cursor", cursor_arg]);
    let tenant = other_tenant
        .iter()
        .position(|a| a == "contoso.onmicrosoft.com")
        .unwrap();
    other_tenant[tenant] = "fabrikam.onmicrosoft.com".to_owned();
    let out = muster_with_env(other_tenant, graph_env()).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot use the Graph cursor `{cursor_arg}`"))
            && stderr.contains("delete it to read every user again")
            && stderr.contains("contoso.onmicrosoft.com"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no plan: {}", text(&out.stdout));
    assert_eq!(std::fs::read_to_string(&cursor).unwrap(), saved);

    // A damaged file: the same, never a silent full read.
    std::fs::write(&cursor, &saved[..saved.len() / 2]).unwrap();
    let args = graph_plan_args(&emulator, &graph, &["--graph-cursor", cursor_arg]);
    let out = muster_with_env(args, graph_env()).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot use the Graph cursor `{cursor_arg}`"))
            && stderr.contains("not a saved Graph cursor"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&cursor).unwrap(),
        &saved[..saved.len() / 2]
    );
    assert_eq!(
        graph.received_requests().await.unwrap().len(),
        requests_before,
        "neither refusal asked Graph for anything"
    );
    assert_eq!(writes(&emulator), 0);

    // Delta queries cannot apply a $filter: the flags refuse to combine.
    let args = graph_plan_args(
        &emulator,
        &graph,
        &[
            "--graph-cursor",
            cursor_arg,
            "--graph-filter",
            "department eq 'Sales'",
        ],
    );
    let out = muster_with_env(args, graph_env()).await;
    assert_stops(&out, 2, "cannot be used with");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_mail_groups_become_recipients_on_the_gateway() {
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, ResponseTemplate};

    let emulator = emulator().await;
    let graph = graph_mock().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"value":[{"id":"1","mail":"ann.lee@example.com","givenName":"Ann","surname":"Lee","userType":"Member"}]}"#,
            "application/json",
        ))
        .expect(2)
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/groups"))
        .and(query_param("$filter", "mailEnabled eq true"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"value":[{"id":"g1","displayName":"Sales","mail":"sales@example.com",
                "proxyAddresses":["SMTP:sales@example.com","smtp:sales@example.org"],
                "securityEnabled":false,"groupTypes":[]}]}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&graph)
        .await;
    // With groups read, each group's members are read too (users' member_of).
    Mock::given(method("GET"))
        .and(path("/v1.0/groups/g1/transitiveMembers"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r##"{"value":[{"@odata.type":"#microsoft.graph.user","id":"1"}]}"##,
            "application/json",
        ))
        .expect(1)
        .mount(&graph)
        .await;

    let out = muster_with_env(
        graph_plan_args(&emulator, &graph, &["--graph-mail-groups"]),
        graph_env(),
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("sales@example.com"), "{stdout}");
    assert!(stdout.contains("sales@example.org"), "{stdout}");

    // Without the flag, no group is asked for (the catch-all would fail the run).
    let out = muster_with_env(graph_plan_args(&emulator, &graph, &[]), graph_env()).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(!stdout.contains("sales@example.com"), "{stdout}");
    graph.verify().await;
}

/// Adds the mail-enabled distribution group Sales (AD's `groupType` 8) with
/// Ann in it to `ou` (written by `ldap_people`).
async fn ldap_group(ou: &str) {
    let mut ldap = ldap_admin().await;
    let ann = format!("cn=Ann Lee,{ou}");
    let attrs = vec![
        (b"objectClass".to_vec(), set(&["group"])),
        (b"cn".to_vec(), set(&["Sales"])),
        (b"groupType".to_vec(), set(&["8"])),
        (b"mail".to_vec(), set(&["sales@example.com"])),
        (b"member".to_vec(), set(&[&ann])),
        (b"instanceType".to_vec(), set(&["4"])),
        (b"nTSecurityDescriptor".to_vec(), set(&["x"])),
        (
            b"objectCategory".to_vec(),
            set(&["CN=Group,CN=Schema,CN=Configuration,DC=example,DC=com"]),
        ),
    ];
    ldap.add(&format!("cn=Sales,{ou}"), attrs)
        .await
        .unwrap()
        .success()
        .unwrap();
    ldap.unbind().await.unwrap();
}

/// `muster plan` against `emulator` with the test directory at `url` (bound
/// as its reader, every user object of `ou`), then `extra`.
fn ldap_plan_args(emulator: &Emulator, url: &str, ou: &str, extra: &[&str]) -> Vec<String> {
    let mut args = command(
        emulator,
        "plan",
        &[
            "--managed-domain",
            "example.com",
            "--managed-domain",
            "example.org",
            "--ldap",
            url,
            "--ldap-base",
            ou,
            "--ldap-bind-dn",
            &ldap_env("MUSTER_LDAP_READER_DN"),
            "--ldap-filter",
            "(objectClass=user)",
        ],
    );
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

fn ldap_run_env() -> Vec<(String, String)> {
    vec![
        ("MUSTER_PASSWORD".to_owned(), PASSWORD.to_owned()),
        (
            "MUSTER_LDAP_PASSWORD".to_owned(),
            ldap_env("MUSTER_LDAP_READER_PASSWORD"),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ldap_ca_file_is_trusted_for_ldaps_and_a_bad_one_is_refused_naming_the_file() {
    let emulator = emulator().await;
    let ou = ldap_people("cli-tls").await;
    let ldaps = ldap_env("MUSTER_LDAP_LDAPS_URL");
    let ca = ldap_env("MUSTER_LDAP_CA_FILE");

    // The test CA is no platform root: trusted only through the flag.
    let out = muster_with_env(
        ldap_plan_args(&emulator, &ldaps, &ou, &["--ldap-ca-file", &ca]),
        ldap_run_env(),
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("+ #0 bob.ray@example.com"), "{stdout}");
    // Trusting only that CA works too (the test CA is all the server needs).
    let out = muster_with_env(
        ldap_plan_args(
            &emulator,
            &ldaps,
            &ou,
            &["--ldap-ca-file", &ca, "--ldap-ca-only"],
        ),
        ldap_run_env(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = muster_with_env(ldap_plan_args(&emulator, &ldaps, &ou, &[]), ldap_run_env()).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("cannot verify the server's certificate"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "no plan: {}", text(&out.stdout));

    let dir = Scratch::new("ldap-ca");
    let not_pem = dir.file("not-a-ca.pem", "this is the CA, honest\n");
    let bad_block = dir.file(
        "bad-block.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let missing = dir.path("missing.pem");
    let cases = [
        (
            &not_pem,
            "cannot trust the CA certificates in",
            "-----BEGIN CERTIFICATE-----",
        ),
        (
            &bad_block,
            "cannot trust the CA certificates in",
            "not a usable certificate",
        ),
        (&missing, "cannot read", "No such file"),
    ];
    for (file, message, reason) in cases {
        let file = file.to_str().unwrap();
        let args = ldap_plan_args(&emulator, &ldaps, &ou, &["--ldap-ca-file", file]);
        let out = muster_with_env(args, ldap_run_env()).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("{message} `{file}`")) && stderr.contains(reason),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "no plan: {}", text(&out.stdout));
    }
    // Trusting no CA at all is not an option: --ldap-ca-only needs a file.
    let out = muster_with_env(
        ldap_plan_args(&emulator, &ldaps, &ou, &["--ldap-ca-only"]),
        ldap_run_env(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(writes(&emulator), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_objects_groups_plans_the_mail_enabled_groups() {
    let emulator = emulator().await;
    let ou = ldap_people("cli-groups").await;
    ldap_group(&ou).await;
    let url = ldap_env("MUSTER_LDAP_URL");
    let creates = |out: &Output| -> Vec<String> {
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let mut found: Vec<String> = stdout
            .lines()
            .filter_map(|l| l.trim().strip_prefix("+ #"))
            .filter_map(|l| l.split_whitespace().nth(1))
            .map(|address| address.trim_end_matches(':').to_owned())
            .collect();
        found.sort();
        found
    };

    let out = muster_with_env(
        ldap_plan_args(&emulator, &url, &ou, &["--ldap-objects", "groups"]),
        ldap_run_env(),
    )
    .await;
    assert_eq!(
        creates(&out),
        ["sales@example.com"],
        "{}",
        text(&out.stdout)
    );
    let out = muster_with_env(
        ldap_plan_args(&emulator, &url, &ou, &["--ldap-objects", "both"]),
        ldap_run_env(),
    )
    .await;
    assert_eq!(
        creates(&out),
        ["bob.ray@example.com", "sales@example.com"],
        "{}",
        text(&out.stdout)
    );
    // The default stays users only.
    let out = muster_with_env(ldap_plan_args(&emulator, &url, &ou, &[]), ldap_run_env()).await;
    assert_eq!(
        creates(&out),
        ["bob.ray@example.com"],
        "{}",
        text(&out.stdout)
    );

    // A value clap does not know, or the flag without a directory, stops at once.
    let out = muster_with_env(
        ldap_plan_args(&emulator, &url, &ou, &["--ldap-objects", "computers"]),
        ldap_run_env(),
    )
    .await;
    assert_stops(&out, 2, "[possible values: users, groups, both]");
    let dir = Scratch::new("ldap-objects");
    let csv = dir.file("users.csv", "Ann,Lee,ann.lee@example.com\n");
    let out = muster(
        plan_args(&emulator, &csv, &["--ldap-objects", "groups"]),
        Some(PASSWORD),
    )
    .await;
    assert_stops(&out, 2, "--ldap <URL>");
    assert_eq!(writes(&emulator), 0);
}

/// `MUSTER_LOG` shows each gateway request as it ends (method, path, status,
/// duration) on stderr, never the password; stdout is the same plan. A
/// value that is not a filter stops the command before it reads anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muster_log_shows_each_gateway_request_and_no_secret() {
    let emulator = emulator().await;
    let dir = Scratch::new("log");
    let csv = dir.file("users.csv", "Ann,Lee,ann.lee@example.com\n");
    let env = |log: &str| {
        vec![
            ("MUSTER_PASSWORD".to_owned(), PASSWORD.to_owned()),
            ("MUSTER_LOG".to_owned(), log.to_owned()),
        ]
    };
    let quiet = muster(plan_args(&emulator, &csv, &[]), Some(PASSWORD)).await;
    let out = muster_with_env(plan_args(&emulator, &csv, &[]), env("info")).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The same plan, but for its header (the time it was made, and so its fingerprint).
    let body = |o: &Output| {
        text(&o.stdout)
            .lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&out), body(&quiet), "diagnostics go to stderr only");
    assert!(
        !text(&quiet.stderr).contains("gateway.request"),
        "off by default"
    );
    let listing = stderr
        .lines()
        .find(|l| {
            l.contains("gateway.request") && l.contains("path=/api/v1/orgs/example.com/users")
        })
        .unwrap_or_else(|| panic!("no request line for the user listing:\n{stderr}"));
    assert!(
        listing.contains("method=GET") && listing.contains("status=200"),
        "{listing}"
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes when stderr is not a terminal"
    );

    let before = emulator.requests().len();
    let bad = muster_with_env(plan_args(&emulator, &csv, &[]), env("muster_gateway=[")).await;
    assert_stops(&bad, 1, "MUSTER_LOG is not a log filter");
    assert_eq!(emulator.requests().len(), before, "nothing was read");
}
