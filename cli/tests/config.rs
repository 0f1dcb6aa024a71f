//! `muster --config`: one config file per organisation, as an operator
//! keeps it, against the gateway emulator (and the test directory server).
//! Each setting is shown through the file, where it reaches the plan and
//! the wire.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use muster_emulator::{Emulator, Seed};
use serde_json::Value;
use support::*;

const STAFF: &str = "First Name,Last Name,Primary Email,Mobile,Alias 1\n\
                     Anne,Lee,ann.lee@example.com,,\n\
                     Bob,Ray,bob.ray@example.com,,\n";

/// Writes `muster.toml` for `emulator`'s example.com into `dir`: the
/// gateway, state and journals beside it, then `body` (sources, HR, policy).
fn config(dir: &Scratch, emulator: &Emulator, body: &str) -> PathBuf {
    dir.file(
        "muster.toml",
        &format!(
            "[gateway]\n\
             stack = \"{}\"\n\
             org = \"example.com\"\n\
             login = \"admin@example.com\"\n\
             password_env = \"MUSTER_PASSWORD\"\n\n\
             [files]\n\
             state = \"state.json\"\n\
             journals = \"journals\"\n\n\
             {body}",
            emulator.api_v1_url()
        ),
    )
}

/// A Standard CSV source `staff` reading `staff.csv` beside the config.
const CSV_SOURCE: &str = "[[source]]\n\
                          name = \"staff\"\n\
                          role = \"authoritative\"\n\
                          kind = \"csv\"\n\
                          path = \"staff.csv\"\n\n";

fn password() -> Vec<(String, String)> {
    vec![("MUSTER_PASSWORD".to_owned(), PASSWORD.to_owned())]
}

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| (*s).to_owned()).collect()
}

/// `muster plan --config` into `plan.json` beside the config (as of `now`,
/// when given); the run's output and the plan.
async fn plan_at(config: &Path, now: Option<&str>) -> (Output, Value) {
    let mut env = password();
    if let Some(now) = now {
        env.push(("MUSTER_TEST_NOW".to_owned(), now.to_owned()));
    }
    plan_with_env(config, env).await
}

/// [`plan_at`] with exactly these environment variables.
async fn plan_with_env(config: &Path, env: Vec<(String, String)>) -> (Output, Value) {
    let plan = config.with_file_name("plan.json");
    let _ = std::fs::remove_file(&plan);
    let out = muster_with_env(
        args(&[
            "plan",
            "--config",
            config.to_str().unwrap(),
            "--format",
            "json",
            "--out",
            plan.to_str().unwrap(),
        ]),
        env,
    )
    .await;
    // A plan is written whatever it found: 0 nothing to do, 2 changes,
    // 4 over a threshold, 5 a source or listing not to trust.
    assert!(
        matches!(out.status.code(), Some(0 | 2 | 4 | 5)),
        "{:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    let json = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    (out, json)
}

async fn plan(config: &Path) -> (Output, Value) {
    plan_at(config, None).await
}

/// `muster apply --config` of the `plan.json` beside the config.
async fn apply(config: &Path) -> Output {
    let plan = config.with_file_name("plan.json");
    let out = muster_with_env(
        args(&[
            "apply",
            "--config",
            config.to_str().unwrap(),
            "--plan",
            plan.to_str().unwrap(),
        ]),
        password(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stdout));
    out
}

/// The plan's change for `email`.
fn change<'a>(plan: &'a Value, email: &str) -> &'a Value {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == email)
        .unwrap_or_else(|| panic!("no change for {email} in {plan:#}"))
}

/// The kinds of the plan's changes, as (email, kind).
fn kinds(plan: &Value) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["email"].as_str().unwrap().to_owned(),
                c["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The JSON bodies of the creates (`POST …/users`) the emulator received.
fn create_bodies(emulator: &Emulator) -> Vec<Value> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .filter_map(|r| r.body)
        .flat_map(|b| match b {
            Value::Array(items) => items,
            one => vec![one],
        })
        .collect()
}

/// An emulator seeded with the demo organisation, changed by `edit` first.
async fn emulator_with(edit: impl Fn(&mut Value)) -> Emulator {
    let mut seed: Value = serde_json::from_str(SEED).unwrap();
    edit(&mut seed);
    Emulator::builder()
        .seed(Seed::from_json(&seed.to_string()).unwrap())
        .start()
        .await
        .unwrap()
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/config")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_config_passes_config_check_with_every_default_filled_in() {
    for name in ["ad.toml", "entra.toml", "csv-hr.toml"] {
        let out = muster_with_env(
            args(&[
                "config",
                "check",
                "--config",
                example(name).to_str().unwrap(),
            ]),
            vec![],
        )
        .await;
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        // Defaults the file leaves out are written out…
        for default in [
            "requests_per_minute = 100",
            "mode = \"authoritative\"",
            "bulk_size = 200",
        ] {
            assert!(
                stdout.contains(default),
                "{name}: no `{default}` in\n{stdout}"
            );
        }
        // …and what it prints is a config that reads back the same.
        let again = muster::config::Config::from_toml(&stdout, example(name)).unwrap();
        assert_eq!(
            again.with_defaults().unwrap().to_toml().unwrap(),
            stdout,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_writes_each_starter_config_and_never_overwrites_one() {
    let dir = Scratch::new("cfg-init");
    for (kind, example_file) in [
        ("ad", "ad.toml"),
        ("entra", "entra.toml"),
        ("csv", "csv-hr.toml"),
    ] {
        let out_file = dir.path(&format!("{kind}.toml"));
        let out = muster_with_env(
            args(&["init", kind, "--out", out_file.to_str().unwrap()]),
            vec![],
        )
        .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(
            std::fs::read_to_string(&out_file).unwrap(),
            std::fs::read_to_string(example(example_file)).unwrap()
        );
        let again = muster_with_env(
            args(&["init", kind, "--out", out_file.to_str().unwrap()]),
            vec![],
        )
        .await;
        assert_stops(&again, 1, "must not exist yet");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_plans_and_applies_and_the_next_plan_from_another_directory_is_empty() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-e2e");
    dir.file("staff.csv", STAFF);
    let cfg = config(
        &dir,
        &emulator,
        &format!("{CSV_SOURCE}[policy]\nmanaged_domains = [\"example.com\", \"example.org\"]\n"),
    );
    let (_, first) = plan(&cfg).await;
    assert_eq!(
        kinds(&first),
        [
            ("bob.ray@example.com".to_owned(), "create".to_owned()),
            ("ann.lee@example.com".to_owned(), "update".to_owned()),
        ]
    );
    apply(&cfg).await;
    assert!(
        dir.path("state.json").exists(),
        "files.state is where the state goes"
    );
    let journals: Vec<_> = std::fs::read_dir(dir.path("journals")).unwrap().collect();
    assert_eq!(journals.len(), 1, "one journal per plan in files.journals");
    assert_eq!(
        emulator.user("example.com", "ann.lee@example.com").unwrap()["firstname"],
        "Anne"
    );

    // Run from elsewhere: every path is the config's, not the working directory's.
    let elsewhere = Scratch::new("cfg-e2e-cwd");
    let plan_file = dir.path("plan.json");
    let out = muster_in(
        Some(elsewhere.0.clone()),
        args(&[
            "plan",
            "--config",
            cfg.to_str().unwrap(),
            "--format",
            "json",
            "--out",
            plan_file.to_str().unwrap(),
        ]),
        password(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let again: Value = serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    assert_eq!(again["changes"], Value::Array(vec![]), "{again:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_reads_the_test_directory_server_with_its_own_password_variable() {
    let emulator = emulator().await;
    let ou = ldap_people("cfg-ldap").await;
    let dir = Scratch::new("cfg-ldap");
    let cfg = config(
        &dir,
        &emulator,
        &format!(
            "[[source]]\n\
             name = \"ad\"\n\
             role = \"authoritative\"\n\
             kind = \"ldap\"\n\
             url = \"{}\"\n\
             base = \"{ou}\"\n\
             bind_dn = \"{}\"\n\
             password_env = \"CORP_LDAP_SECRET\"\n\
             filter = \"(objectClass=user)\"\n\n\
             [policy]\n\
             managed_domains = [\"example.com\", \"example.org\"]\n",
            ldap_env("MUSTER_LDAP_URL"),
            ldap_env("MUSTER_LDAP_READER_DN"),
        ),
    );
    let mut env = password();
    env.push((
        "CORP_LDAP_SECRET".to_owned(),
        ldap_env("MUSTER_LDAP_READER_PASSWORD"),
    ));
    let (_, plan) = plan_with_env(&cfg, env.clone()).await;
    assert_eq!(plan["source"], "ad", "the source's name is its identity");
    let bob = change(&plan, "bob.ray@example.com");
    assert_eq!(bob["kind"], "create");
    assert_eq!(bob["transitions"][0]["origin"], "directory:ad");
    apply(&cfg).await;
    assert!(
        emulator
            .user("example.com", "bob.ray@example.com")
            .is_some()
    );
    let (_, again) = plan_with_env(&cfg, env).await;
    assert_eq!(again["changes"], Value::Array(vec![]), "{again:#}");

    // Without its variable the run stops before reading anything, naming it.
    let out = muster_with_env(
        args(&["plan", "--config", cfg.to_str().unwrap()]),
        password(),
    )
    .await;
    assert_stops(&out, 1, "CORP_LDAP_SECRET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_users_get_no_welcome_letter_and_the_wire_says_so() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-silent");
    dir.file("staff.csv", STAFF);
    let cfg = config(
        &dir,
        &emulator,
        &format!("{CSV_SOURCE}[policy]\nnew_user_role = \"silent_user\"\n"),
    );
    let (_, plan) = plan(&cfg).await;
    assert_eq!(plan["summary"]["welcome_letters"], 0);
    let bob = change(&plan, "bob.ray@example.com");
    assert_eq!(bob["steps"][0]["account"]["user_type"], "silent_user");
    apply(&cfg).await;
    let bodies = create_bodies(&emulator);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["send_welcome_email"], false);
    assert_eq!(bodies[0]["type"], "silent_user");
    assert_eq!(emulator.welcome_letters("bob.ray@example.com"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_with_letters_off_gets_none_and_the_plan_says_why() {
    let emulator = emulator_with(|seed| {
        seed["orgs"][0]["send_welcome_email"] = Value::Bool(false);
    })
    .await;
    let dir = Scratch::new("cfg-org-letters");
    dir.file("staff.csv", STAFF);
    let cfg = config(&dir, &emulator, CSV_SOURCE);
    let (_, plan) = plan(&cfg).await;
    assert_eq!(plan["summary"]["welcome_letters"], 0);
    assert_eq!(plan["summary"]["welcome_rule"], "off_for_organisation");
    assert_eq!(
        change(&plan, "bob.ray@example.com")["steps"][0]["welcome_letter"],
        false
    );
    // The run says how long its API calls take at the login's request budget.
    let out = muster_with_env(
        args(&[
            "plan",
            "--config",
            cfg.to_str().unwrap(),
            "--requests-per-minute",
            "30",
        ]),
        password(),
    )
    .await;
    let said = text(&out.stderr);
    let estimate = said
        .lines()
        .find(|l| l.starts_with("estimate: about "))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(estimate.ends_with(" s at 30 requests/minute"), "{estimate}");
    apply(&cfg).await;
    assert_eq!(emulator.welcome_letters("bob.ray@example.com"), 0);

    // The text preview says which rule applied.
    let out = muster_with_env(
        args(&["plan", "--config", cfg.to_str().unwrap()]),
        password(),
    )
    .await;
    assert!(
        text(&out.stdout).contains("Welcome letters: 0 (the organisation sends none)"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_user_synced_is_created_inactive_with_no_letter_from_a_mapped_csv() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-disabled");
    dir.file(
        "people.csv",
        "E-mail;Given name;Family name;State\n\
         bob.ray@example.com;Bob;Ray;disabled\n\
         cy.sun@example.com;Cy;Sun;enabled\n",
    );
    let cfg = config(
        &dir,
        &emulator,
        "[[source]]\n\
         name = \"people\"\n\
         role = \"authoritative\"\n\
         kind = \"mapped-csv\"\n\
         path = \"people.csv\"\n\
         primary = \"E-mail\"\n\
         delimiter = \"semicolon\"\n\
         columns = { first_name = \"Given name\", last_name = \"Family name\", enabled = \"State\" }\n\n\
         [policy]\n\
         sync_disabled_users = true\n",
    );
    let (_, plan) = plan(&cfg).await;
    let bob = &change(&plan, "bob.ray@example.com")["steps"][0];
    assert_eq!(bob["account"]["active"], false);
    assert_eq!(
        bob["account"]["first_name"], "Bob",
        "the mapped columns are read"
    );
    assert_eq!(bob["welcome_letter"], false);
    let cy = &change(&plan, "cy.sun@example.com")["steps"][0];
    assert_eq!(cy["account"]["active"], true);
    assert_eq!(cy["welcome_letter"], true);
    assert_eq!(plan["summary"]["welcome_letters"], 1);
    apply(&cfg).await;
    assert_eq!(
        emulator.user("example.com", "bob.ray@example.com").unwrap()["is_active"],
        false
    );
    assert_eq!(emulator.welcome_letters("bob.ray@example.com"), 0);
    assert_eq!(emulator.welcome_letters("cy.sun@example.com"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exception_is_skipped_with_its_reason() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-exception");
    dir.file("staff.csv", STAFF);
    let cfg = config(
        &dir,
        &emulator,
        &format!("{CSV_SOURCE}[policy]\nexceptions = [\"Bob.Ray@example.com\"]\n"),
    );
    let (_, plan) = plan(&cfg).await;
    assert!(
        !kinds(&plan)
            .iter()
            .any(|(email, _)| email == "bob.ray@example.com"),
        "{plan:#}"
    );
    let skipped = plan["skipped"].as_array().unwrap();
    let bob = skipped
        .iter()
        .find(|s| s["email"] == "bob.ray@example.com")
        .unwrap();
    assert_eq!(bob["code"], "exception");
    assert!(
        bob["reason"].as_str().unwrap().contains("exception"),
        "{bob}"
    );
}

/// Applies `STAFF` once (so muster owns Bob), then empties the CSV of
/// everybody but Anne: Bob is absent from now on.
async fn bob_leaves(dir: &Scratch, cfg: &Path, at: Option<&str>) {
    dir.file("staff.csv", STAFF);
    plan_at(cfg, at).await;
    apply(cfg).await;
    dir.file(
        "staff.csv",
        "First Name,Last Name,Primary Email,Mobile,Alias 1\nAnne,Lee,ann.lee@example.com,,\n",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_flag_deactivate_deactivates_a_leaver_while_the_delay_runs() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-onflag");
    let cfg = config(
        &dir,
        &emulator,
        &format!(
            "{CSV_SOURCE}[policy]\non_flag = \"deactivate\"\nthreshold = {{ count = 5, percent = 100 }}\n"
        ),
    );
    bob_leaves(&dir, &cfg, None).await;
    let (_, plan) = plan(&cfg).await;
    let bob = change(&plan, "bob.ray@example.com");
    let steps: Vec<&str> = bob["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(
        steps.contains(&"flag") && steps.contains(&"deactivate"),
        "{bob:#}"
    );
    apply(&cfg).await;
    assert_eq!(
        emulator.user("example.com", "bob.ray@example.com").unwrap()["is_active"],
        false
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_threshold_count_and_percent_come_from_the_config() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-threshold");
    // With deactivation on flag, a leaver is one destructive change.
    let cfg = config(
        &dir,
        &emulator,
        &format!(
            "{CSV_SOURCE}[policy]\non_flag = \"deactivate\"\nthreshold = {{ count = 0, percent = 100 }}\n"
        ),
    );
    bob_leaves(&dir, &cfg, None).await;
    let (out, by_count) = plan(&cfg).await;
    assert_eq!(
        out.status.code(),
        Some(4),
        "a tripped threshold has its own exit code"
    );
    assert_eq!(by_count["threshold"]["destructive"], 1);
    assert_eq!(by_count["threshold"]["allowed"], 0, "the count: 0");
    assert_eq!(by_count["threshold"]["exceeded_by"], 1);

    // 5 accounts on the gateway: 40 % of them is 2, below the count of 100.
    let cfg = config(
        &dir,
        &emulator,
        &format!(
            "{CSV_SOURCE}[policy]\non_flag = \"deactivate\"\nthreshold = {{ count = 100, percent = 40 }}\n"
        ),
    );
    let (_, by_percent) = plan(&cfg).await;
    assert_eq!(
        by_percent["threshold"]["allowed"], 2,
        "{:#}",
        by_percent["threshold"]
    );
    assert!(by_percent["threshold"].get("exceeded_by").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaver_is_deleted_only_after_the_delay_and_the_minimum_runs() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-lifecycle");
    let cfg = config(
        &dir,
        &emulator,
        &format!(
            "{CSV_SOURCE}[policy]\ndelete_delay = \"7d\"\nmin_absent_runs = 3\n\
             threshold = {{ count = 5, percent = 100 }}\n"
        ),
    );
    let day = |d: u32| format!("2031-03-{d:02}T02:00:00Z");
    bob_leaves(&dir, &cfg, Some(&day(1))).await;
    // Day 2: flagged (run 1 absent).
    let (_, plan) = plan_at(&cfg, Some(&day(2))).await;
    assert_eq!(change(&plan, "bob.ray@example.com")["kind"], "flag");
    apply(&cfg).await;
    // Day 10: the delay is over but this is only the second absent run.
    let (_, plan) = plan_at(&cfg, Some(&day(10))).await;
    assert!(
        !kinds(&plan).contains(&("bob.ray@example.com".to_owned(), "delete".to_owned())),
        "{plan:#}"
    );
    apply(&cfg).await;
    // Day 11: third absent run, delay over: deleted.
    let (_, plan) = plan_at(&cfg, Some(&day(11))).await;
    assert_eq!(change(&plan, "bob.ray@example.com")["kind"], "delete");
    apply(&cfg).await;
    assert!(
        emulator
            .user("example.com", "bob.ray@example.com")
            .is_none()
    );
}

/// An HR file with the given rows under an `email,status` header.
fn hr_file(dir: &Scratch, rows: &str) {
    dir.file("hr.csv", &format!("email,status\n{rows}"));
}

const HR_SECTION: &str = "[hr]\npath = \"hr.csv\"\naction = \"functional_account\"\n\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_terminated_becomes_a_functional_account() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-hr");
    dir.file("staff.csv", STAFF);
    hr_file(
        &dir,
        "ann.lee@example.com,Active\nbob.ray@example.com,Terminated\nsam.old@example.com,Active\n",
    );
    let cfg = config(&dir, &emulator, &format!("{CSV_SOURCE}{HR_SECTION}"));
    let (_, plan) = plan(&cfg).await;
    let bob = change(&plan, "bob.ray@example.com");
    assert_eq!(
        bob["steps"][0]["account"]["user_type"],
        "functional_account"
    );
    assert!(
        bob["reason"].as_str().unwrap().contains("terminated in"),
        "{bob}"
    );
    apply(&cfg).await;
    assert_eq!(
        emulator.user("example.com", "bob.ray@example.com").unwrap()["type"],
        "functional_account"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blank_hr_status_holds_that_person_and_the_issue_is_printed() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-hr-blank");
    dir.file("staff.csv", STAFF);
    // Bob's status is blank.
    hr_file(
        &dir,
        "ann.lee@example.com,Active\nbob.ray@example.com,\nsam.old@example.com,Active\n",
    );
    let cfg = config(&dir, &emulator, &format!("{CSV_SOURCE}{HR_SECTION}"));
    let (out, plan) = plan(&cfg).await;
    let bob = change(&plan, "bob.ray@example.com");
    assert_eq!(
        bob["steps"][0]["account"]["user_type"], "end_user",
        "held: created as the directory says, not as a leaver"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("hr.csv:3: status: expected an employment status")
            && stderr.contains("this person is held"),
        "{stderr}"
    );
    let skipped = plan["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["code"] == "source_issue"
                && s["reason"].as_str().unwrap().contains("hr.csv:3")),
        "{skipped:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_from_flags_needs_its_action_and_then_applies() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-hr-flags");
    let csv = dir.file("staff.csv", STAFF);
    hr_file(
        &dir,
        "ann.lee@example.com,Active\nbob.ray@example.com,Terminated\n",
    );
    let hr = dir.path("hr.csv");
    let base = command(
        &emulator,
        "plan",
        &["--csv", csv.to_str().unwrap(), "--hr", hr.to_str().unwrap()],
    );
    let out = muster_with_env(base.clone(), password()).await;
    assert_stops(&out, 2, "--hr-action");
    let mut with_action = base;
    with_action.extend(args(&[
        "--hr-action",
        "functional_account",
        "--format",
        "json",
    ]));
    let out = muster_with_env(with_action, password()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        change(&plan, "bob.ray@example.com")["steps"][0]["account"]["user_type"],
        "functional_account"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postini_user_and_alias_exports_are_joined() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-postini");
    dir.file(
        "users.csv",
        "address,user_id,firstname,lastname\nbob.ray@example.com,101,Bob,Ray\n",
    );
    dir.file(
        "aliases.csv",
        "address,domain,user_id,user_address\nbob,example.org,101,\n",
    );
    let cfg = config(
        &dir,
        &emulator,
        "[[source]]\n\
         name = \"postini\"\n\
         role = \"authoritative\"\n\
         kind = \"postini\"\n\
         users = \"users.csv\"\n\
         aliases = \"aliases.csv\"\n\n\
         [policy]\n\
         managed_domains = [\"example.com\", \"example.org\"]\n",
    );
    let (_, plan) = plan(&cfg).await;
    let bob = &change(&plan, "bob.ray@example.com")["steps"][0]["account"];
    assert_eq!(bob["first_name"], "Bob");
    assert_eq!(bob["aliases"], serde_json::json!(["bob@example.org"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_from_flags_then_the_same_sync_from_a_config_elsewhere_changes_nothing() {
    let emulator = emulator().await;
    // The flags' run: `--csv users.csv` from its own folder, so the source
    // is named `users.csv` as it always was.
    let flags_dir = Scratch::new("cfg-identity-flags");
    flags_dir.file("users.csv", STAFF);
    let state = flags_dir.path("state.json");
    let plan_file = flags_dir.path("plan.json");
    let plan_args = command(
        &emulator,
        "plan",
        &[
            "--managed-domain",
            "example.com",
            "--csv",
            "users.csv",
            "--state",
            state.to_str().unwrap(),
            "--format",
            "json",
            "--out",
            plan_file.to_str().unwrap(),
        ],
    );
    let out = muster_in(Some(flags_dir.0.clone()), plan_args, password()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = muster_in(
        Some(flags_dir.0.clone()),
        command(
            &emulator,
            "apply",
            &[
                "--plan",
                plan_file.to_str().unwrap(),
                "--state",
                state.to_str().unwrap(),
            ],
        ),
        password(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stdout));

    // The config: in another folder, naming the same file and the same source name.
    let config_dir = Scratch::new("cfg-identity-config");
    let cfg = config_dir.file(
        "muster.toml",
        &format!(
            "[gateway]\nstack = \"{}\"\norg = \"example.com\"\nlogin = \"admin@example.com\"\n\n\
             [[source]]\nname = \"users.csv\"\nrole = \"authoritative\"\nkind = \"csv\"\npath = \"{}\"\n\n\
             [files]\nstate = \"{}\"\n",
            emulator.api_v1_url(),
            flags_dir.path("users.csv").display(),
            state.display()
        ),
    );
    let third = Scratch::new("cfg-identity-cwd");
    let out = muster_in(
        Some(third.0.clone()),
        args(&[
            "plan",
            "--config",
            cfg.to_str().unwrap(),
            "--format",
            "json",
        ]),
        password(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["changes"], Value::Array(vec![]), "{plan:#}");
    let conflicts = plan["conflicts"].as_array().unwrap();
    assert!(
        !conflicts
            .iter()
            .any(|c| c["email"] == "bob.ray@example.com"),
        "Bob is still the source's: {conflicts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_config_stops_with_one_line_naming_file_line_and_key_before_any_request() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-bad");
    dir.file("staff.csv", STAFF);
    let two_authoritative = format!(
        "{CSV_SOURCE}[[source]]\nname = \"more\"\nrole = \"authoritative\"\nkind = \"csv\"\npath = \"staff.csv\"\n"
    );
    let cases: [(&str, String, &str); 5] = [
        (
            "unknown key",
            format!("{CSV_SOURCE}[policy]\ndelete_dealy = \"7d\"\n"),
            ":18: policy.delete_dealy: unknown field `delete_dealy`, expected one of",
        ),
        (
            "wrong type",
            format!("{CSV_SOURCE}[policy]\nmin_absent_runs = \"three\"\n"),
            ":18: policy.min_absent_runs: invalid type: string \"three\", expected u32",
        ),
        (
            "literal password",
            format!(
                "{CSV_SOURCE}[hr]\npath = \"hr.csv\"\naction = \"flag\"\npassword = \"hunter2\"\n"
            ),
            ":20: hr.password: a secret is never written in the config file",
        ),
        (
            "two authoritative sources",
            two_authoritative,
            ":19: source[1].role: two authoritative sources (`staff` and `more`)",
        ),
        (
            "a value outside its words",
            format!("{CSV_SOURCE}[policy]\non_flag = \"delete\"\n"),
            ":18: policy.on_flag: `delete` is not a valid flag action; expected one of: keep, deactivate",
        ),
    ];
    for (what, body, says) in cases {
        let cfg = config(&dir, &emulator, &body);
        let out = muster_with_env(
            args(&["plan", "--config", cfg.to_str().unwrap()]),
            password(),
        )
        .await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{what}: one line: {stderr}");
        assert!(
            stderr.contains(&format!("{}{says}", cfg.display())),
            "{what}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{what}: {stderr}");
    }
    let missing = dir.path("nowhere.toml");
    let out = muster_with_env(
        args(&["plan", "--config", missing.to_str().unwrap()]),
        password(),
    )
    .await;
    assert_stops(&out, 1, &format!("cannot read `{}`", missing.display()));
    assert_eq!(text(&out.stderr).lines().count(), 1);
    assert!(emulator.requests().is_empty(), "{:?}", emulator.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_connect_reads_every_source_and_the_gateway_and_checks_the_domains() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-connect");
    dir.file("staff.csv", STAFF);
    let cfg = config(
        &dir,
        &emulator,
        &format!("{CSV_SOURCE}[policy]\nmanaged_domains = [\"example.com\", \"example.org\"]\n"),
    );
    let check = |cfg: &Path| {
        args(&[
            "config",
            "check",
            "--config",
            cfg.to_str().unwrap(),
            "--connect",
        ])
    };
    let out = muster_with_env(check(&cfg), password()).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("# gateway: logged in as admin@example.com, 4 accounts, domains registered: example.com, example.org"),
        "{stdout}"
    );
    assert!(
        stdout.contains("# source `staff`: 2 entries, 0 issues"),
        "{stdout}"
    );
    assert_eq!(writes(&emulator), 0, "a check writes nothing");

    // A managed domain the gateway does not know: exit 1, named.
    let cfg = config(
        &dir,
        &emulator,
        &format!("{CSV_SOURCE}[policy]\nmanaged_domains = [\"example.com\", \"exmaple.org\"]\n"),
    );
    let out = muster_with_env(check(&cfg), password()).await;
    assert_stops(
        &out,
        1,
        "managed domain `exmaple.org` is not registered on the gateway",
    );
    // Without --connect nothing is read: no password needed, no request.
    let before = emulator.requests().len();
    let out = muster_with_env(
        args(&["config", "check", "--config", cfg.to_str().unwrap()]),
        vec![],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(emulator.requests().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_and_export_take_the_config_too() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-discover");
    dir.file("staff.csv", STAFF);
    let yesterday = (muster::chrono::Utc::now() - muster::chrono::TimeDelta::days(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let log = dir.file(
        "maillog.csv",
        &format!(
            "address,direction,messages,last_seen\n\
             cy.new@example.com,inbound,3,{yesterday}\n\
             dee.new@example.com,outbound,3,{yesterday}\n"
        ),
    );
    // The discovery source's own settings: 3 messages, outbound counted too.
    let cfg = config(
        &dir,
        &emulator,
        &format!(
            "{CSV_SOURCE}[[source]]\n\
             name = \"seen\"\n\
             role = \"supplemental\"\n\
             kind = \"discovery\"\n\
             ledger = \"ledger.json\"\n\
             min_messages = 3\n\
             directions = [\"inbound\", \"outbound\"]\n"
        ),
    );
    let out = muster_with_env(
        args(&[
            "discover",
            "--config",
            cfg.to_str().unwrap(),
            "--observations",
            log.to_str().unwrap(),
        ]),
        vec![],
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("2 candidates"), "{stdout}");
    assert!(
        dir.path("ledger.json").exists(),
        "the config's ledger, beside it"
    );
    let (_, plan) = plan(&cfg).await;
    assert_eq!(change(&plan, "dee.new@example.com")["kind"], "create");
    assert_eq!(
        change(&plan, "dee.new@example.com")["transitions"][0]["origin"],
        "directory:seen"
    );

    let backup = dir.path("backup.csv");
    let out = muster_with_env(
        args(&[
            "export",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            backup.to_str().unwrap(),
        ]),
        password(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        std::fs::read_to_string(&backup)
            .unwrap()
            .contains("ann.lee@example.com")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_are_signed_with_the_configured_key_and_apply_checks_them() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-signing");
    dir.file("staff.csv", STAFF);
    dir.file("plan.key", "0123456789abcdef0123456789abcdef-approvals\n");
    let cfg = config(
        &dir,
        &emulator,
        &format!("{CSV_SOURCE}[signing]\nkey_file = \"plan.key\"\n"),
    );
    let (_, plan) = plan(&cfg).await;
    let key_id = plan["signature"]["key_id"].as_str().unwrap().to_owned();
    assert_eq!(key_id.len(), 16);
    let preview = muster_with_env(
        args(&["plan", "--config", cfg.to_str().unwrap()]),
        password(),
    )
    .await;
    let preview = text(&preview.stdout);
    assert!(
        preview.contains(&format!("Signed with plan key {key_id}")),
        "{preview}"
    );
    assert!(!preview.contains("0123456789abcdef"), "the key never shows");

    // Edited, with its fingerprint recomputed the way anyone could: refused.
    let plan_file = dir.path("plan.json");
    let mut edited: muster::reconcile::Plan =
        muster::reconcile::render::from_json(&std::fs::read_to_string(&plan_file).unwrap())
            .unwrap();
    edited
        .changes
        .retain(|c| c.email.as_str() != "ann.lee@example.com");
    edited.fingerprint = edited.content_fingerprint();
    std::fs::write(&plan_file, muster::reconcile::render::json(&edited)).unwrap();
    let out = muster_with_env(
        args(&[
            "apply",
            "--config",
            cfg.to_str().unwrap(),
            "--plan",
            plan_file.to_str().unwrap(),
        ]),
        password(),
    )
    .await;
    assert_stops(&out, 1, "changed after it was signed");
    assert_eq!(writes(&emulator), 0);

    // Signed and untouched: it applies.
    plan_at(&cfg, None).await;
    apply(&cfg).await;
    assert!(
        emulator
            .user("example.com", "bob.ray@example.com")
            .is_some()
    );
}

/// The permission bits of `path`.
#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_muster_writes_is_private() {
    let emulator = emulator().await;
    let dir = Scratch::new("cfg-private");
    dir.file("staff.csv", STAFF);
    let log = dir.file(
        "maillog.csv",
        "address,direction,messages,last_seen\ncy.new@example.com,inbound,1,2026-11-30T00:00:00Z\n",
    );
    let cfg = config(
        &dir,
        &emulator,
        &format!(
            "{CSV_SOURCE}[[source]]\nname = \"seen\"\nrole = \"supplemental\"\nkind = \"discovery\"\nledger = \"ledger.json\"\n"
        ),
    );
    let config_arg = cfg.to_str().unwrap();
    for (format, out) in [("text", "preview.txt"), ("csv", "preview.csv")] {
        let out = dir.path(out);
        let run = muster_with_env(
            args(&[
                "plan",
                "--config",
                config_arg,
                "--format",
                format,
                "--out",
                out.to_str().unwrap(),
            ]),
            password(),
        )
        .await;
        assert!(run.status.success(), "{}", text(&run.stderr));
    }
    plan(&cfg).await; // plan.json
    apply(&cfg).await; // state.json and the journal
    let export = dir.path("export.csv");
    let run = muster_with_env(
        args(&[
            "export",
            "--config",
            config_arg,
            "--out",
            export.to_str().unwrap(),
        ]),
        password(),
    )
    .await;
    assert!(run.status.success(), "{}", text(&run.stderr));
    let run = muster_with_env(
        args(&[
            "discover",
            "--config",
            config_arg,
            "--observations",
            log.to_str().unwrap(),
        ]),
        vec![],
    )
    .await;
    assert!(run.status.success(), "{}", text(&run.stderr));

    let journal = std::fs::read_dir(dir.path("journals"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for file in [
        "preview.txt",
        "preview.csv",
        "plan.json",
        "state.json",
        "export.csv",
        "ledger.json",
    ] {
        assert_eq!(mode(&dir.path(file)), 0o600, "{file}");
    }
    assert_eq!(mode(&journal), 0o600, "the journal");
    assert_eq!(mode(&dir.path("journals")), 0o700, "the journal folder");
    // No temporary file is left beside them.
    let names: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with(".tmp")), "{names:?}");
}
