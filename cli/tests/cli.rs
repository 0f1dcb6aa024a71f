//! The `muster` command as a user runs it: a real process against the
//! gateway emulator, with files on disk and the password in the environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use muster_emulator::{Emulator, Seed};

const SEED: &str = include_str!("../../examples/data/demo_gateway.json");
const PASSWORD: &str = "demo-password";

async fn emulator() -> Emulator {
    Emulator::builder()
        .seed(Seed::from_json(SEED).unwrap())
        .start()
        .await
        .unwrap()
}

/// A scratch directory removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("muster-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `muster` off the async runtime (the emulator answers on it meanwhile).
async fn muster(args: Vec<String>, password: Option<&str>) -> Output {
    let env: Vec<(String, String)> = password
        .map(|p| ("MUSTER_PASSWORD".to_owned(), p.to_owned()))
        .into_iter()
        .collect();
    muster_with_env(args, env).await
}

/// Runs `muster` with exactly these `MUSTER_*PASSWORD` variables set.
async fn muster_with_env(args: Vec<String>, env: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_muster"));
        command
            .args(&args)
            .env_remove("MUSTER_PASSWORD")
            .env_remove("MUSTER_LDAP_PASSWORD")
            .envs(env);
        command.output().unwrap()
    })
    .await
    .unwrap()
}

/// `muster <command>` against `emulator` as its admin, then `rest`.
fn command(emulator: &Emulator, command: &str, rest: &[&str]) -> Vec<String> {
    let url = emulator.api_v1_url();
    let prefix = [
        command,
        "--stack",
        &url,
        "--org",
        "example.com",
        "--login",
        "admin@example.com",
    ];
    prefix.iter().chain(rest).map(|s| (*s).to_owned()).collect()
}

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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn writes(emulator: &Emulator) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count()
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
    let out = muster(
        plan_args(&emulator, &csv, &["--detailed-exitcode"]),
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
    assert!(stdout.contains("Summary: 0 to add"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_password_stops_before_any_request() {
    let emulator = emulator().await;
    let dir = Scratch::new("nopass");
    let csv = dir.file("users.csv", "Ann,Lee,ann.lee@example.com\n");
    let out = muster(plan_args(&emulator, &csv, &[]), None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("MUSTER_PASSWORD"),
        "{}",
        text(&out.stderr)
    );
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
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot plan"),
        "{}",
        text(&out.stderr)
    );
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
    // Read back as the directory, the gateway is in step with itself.
    let out = muster(
        plan_args(&emulator, &backup, &["--detailed-exitcode"]),
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
    assert!(stdout.contains("Summary: 0 to add"), "{stdout}");
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
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--state is required"),
        "{}",
        text(&out.stderr)
    );
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

/// The test LDAP server `scripts/ldap-up.sh` started (scripts/test.sh runs it first).
fn ldap_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run `eval \"$(scripts/ldap-up.sh)\"` first (scripts/test.sh does)"
        )
    })
}

/// Writes `ou=<unit>` with Ann and Bob as AD user objects, as the directory's admin.
async fn ldap_people(unit: &str) -> String {
    use std::collections::HashSet;
    let set = |values: &[&str]| -> HashSet<Vec<u8>> {
        values.iter().map(|v| v.as_bytes().to_vec()).collect()
    };
    let (connection, mut ldap) = ldap3::LdapConnAsync::new(&ldap_env("MUSTER_LDAP_URL"))
        .await
        .unwrap();
    ldap3::drive!(connection);
    ldap.simple_bind(
        &ldap_env("MUSTER_LDAP_ADMIN_DN"),
        &ldap_env("MUSTER_LDAP_ADMIN_PASSWORD"),
    )
    .await
    .unwrap()
    .success()
    .unwrap();
    let ou = format!("ou={unit},{}", ldap_env("MUSTER_LDAP_BASE"));
    for cn in ["Ann Lee", "Bob Ray"] {
        let _ = ldap.delete(&format!("cn={cn},{ou}")).await;
    }
    let _ = ldap.delete(&ou).await;
    ldap.add(
        &ou,
        vec![
            (b"objectClass".to_vec(), set(&["organizationalUnit"])),
            (b"ou".to_vec(), set(&[unit])),
        ],
    )
    .await
    .unwrap()
    .success()
    .unwrap();
    let people: [(&str, &str, &str, &[&str]); 2] = [
        (
            "Ann Lee",
            "Ann",
            "Lee",
            &["SMTP:ann.lee@example.com", "smtp:ann@example.org"],
        ),
        ("Bob Ray", "Bob", "Ray", &["SMTP:bob.ray@example.com"]),
    ];
    for (cn, given, sn, proxies) in people {
        let attrs = vec![
            (b"objectClass".to_vec(), set(&["user"])),
            (b"cn".to_vec(), set(&[cn])),
            (b"givenName".to_vec(), set(&[given])),
            (b"sn".to_vec(), set(&[sn])),
            (b"proxyAddresses".to_vec(), set(proxies)),
            (b"userAccountControl".to_vec(), set(&["512"])),
            (b"instanceType".to_vec(), set(&["4"])),
            (b"nTSecurityDescriptor".to_vec(), set(&["x"])),
            (
                b"objectCategory".to_vec(),
                set(&["CN=Person,CN=Schema,CN=Configuration,DC=example,DC=com"]),
            ),
        ];
        ldap.add(&format!("cn={cn},{ou}"), attrs)
            .await
            .unwrap()
            .success()
            .unwrap();
    }
    ldap.unbind().await.unwrap();
    ou
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
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("MUSTER_LDAP_PASSWORD"),
        "{}",
        text(&out.stderr)
    );
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
    let args: Vec<String> = command(
        &emulator,
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
            &format!("{}/v1.0", graph.uri()),
        ],
    );
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
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("MUSTER_GRAPH_SECRET"),
        "{}",
        text(&out.stderr)
    );
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
