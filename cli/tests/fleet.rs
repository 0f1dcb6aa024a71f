//! `muster fleet plan|apply`: many organisations' runs in one process —
//! `muster` as a process against the gateway emulator, one config file
//! and one CSV per organisation, all under one channel-admin login.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use muster_emulator::{Emulator, Login, Org, RateLimit};
use serde_json::json;
use support::*;

const LOGIN: &str = "msp@channel.example";
const HEADER: &str = "First Name,Last Name,Primary Email\n";

/// An emulator holding `orgs` (each with the users given), all
/// administered by one channel admin.
async fn gateway(orgs: &[(&str, &[&str])], limit: RateLimit) -> Emulator {
    let mut builder = Emulator::builder().rate_limit(limit);
    for (org, users) in orgs {
        let mut seeded = Org::new(*org);
        for user in *users {
            seeded = seeded.user(json!({"primary_email": user}));
        }
        builder = builder.org(seeded);
    }
    builder
        .login(Login::channel_admin(
            LOGIN,
            PASSWORD,
            orgs.iter().map(|(org, _)| *org),
        ))
        .start()
        .await
        .unwrap()
}

/// The organisations' folder: one config (`<org>.toml`) and one CSV
/// (`<org>.csv`) each, their state and journals beside them.
struct Orgs {
    dir: Scratch,
    url: String,
}

impl Orgs {
    fn new(name: &str, emulator: &Emulator) -> Orgs {
        let dir = Scratch::new(&format!("fleet-{name}"));
        std::fs::create_dir_all(dir.path("orgs")).unwrap();
        Orgs {
            dir,
            url: emulator.api_v1_url(),
        }
    }

    /// `orgs/<org>.toml`, whose source is `orgs/<org>.csv` holding `users`
    /// (`None`: no CSV at all), with `extra` appended (a `[policy]`, …).
    fn org(&self, org: &str, users: Option<&[&str]>, extra: &str) -> PathBuf {
        self.org_at(org, users, extra, 6000)
    }

    fn org_at(&self, org: &str, users: Option<&[&str]>, extra: &str, rpm: u32) -> PathBuf {
        if let Some(users) = users {
            self.csv(org, users);
        }
        let url = &self.url;
        self.dir.file(
            &format!("orgs/{org}.toml"),
            &format!(
                "[gateway]\nstack = \"{url}\"\norg = \"{org}\"\nlogin = \"{LOGIN}\"\n\
                 requests_per_minute = {rpm}\n\n\
                 [[source]]\nname = \"staff\"\nrole = \"authoritative\"\nkind = \"csv\"\n\
                 path = \"{org}.csv\"\n\n\
                 [files]\nstate = \"{org}.state.json\"\njournals = \"journals-{org}\"\n\n{extra}"
            ),
        )
    }

    /// Writes `orgs/<org>.csv`: each user as `First,Last,address`.
    fn csv(&self, org: &str, users: &[&str]) {
        let mut text = HEADER.to_owned();
        for user in users {
            let local = user.split('@').next().unwrap();
            text.push_str(&format!("{local},Person,{user}\n"));
        }
        self.dir.file(&format!("orgs/{org}.csv"), &text);
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path(&format!("orgs/{name}"))
    }

    /// `muster <words…>` with the login's password, in the scratch folder.
    async fn run(&self, words: &[&str]) -> Output {
        muster_in(
            Some(self.dir.0.clone()),
            words.iter().map(|w| (*w).to_owned()).collect(),
            vec![("MUSTER_PASSWORD".to_owned(), PASSWORD.to_owned())],
        )
        .await
    }

    /// `muster fleet <command> <configs…> [rest…]`.
    async fn fleet(&self, command: &str, configs: &[&Path], rest: &[&str]) -> Output {
        let mut words = vec!["fleet", command];
        words.extend(configs.iter().map(|c| c.to_str().unwrap()));
        words.extend(rest);
        self.run(&words).await
    }
}

/// The fleet's code, and its stdout.
fn fleet_out(out: &Output, code: i32) -> String {
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    stdout
}

/// The line the fleet printed for `org` as it finished.
fn line_of<'a>(stdout: &'a str, org: &str) -> &'a str {
    let prefix = format!("{org}: ");
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with(&prefix)).collect();
    assert_eq!(lines.len(), 1, "one line for {org}:\n{stdout}");
    lines[0]
}

/// The row of the summary table for `org`: its cells.
fn row_of(stdout: &str, org: &str) -> Vec<String> {
    let table = stdout
        .split("ORGANISATION")
        .nth(1)
        .unwrap_or_else(|| panic!("no table:\n{stdout}"));
    let row = table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(org))
        .unwrap_or_else(|| panic!("no row for {org}:\n{stdout}"));
    row.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

fn has_user(emulator: &Emulator, org: &str, email: &str) -> bool {
    emulator.user(org, email).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_orgs_changes_in_step_and_a_missing_source_each_get_their_code_and_the_fleet_the_worst()
 {
    let emulator = gateway(
        &[
            ("a.example", &[]),
            ("b.example", &["ann@b.example"]),
            ("c.example", &[]),
        ],
        RateLimit::unlimited(),
    )
    .await;
    let orgs = Orgs::new("three", &emulator);
    orgs.org("a.example", Some(&["new@a.example"]), "");
    let b = orgs.org("b.example", Some(&["ann@b.example"]), "");
    let c = orgs.org("c.example", None, "");
    // b is in step: synced once by the ordinary commands.
    let b_plan = orgs.path("b.example.plan.json");
    let (b, b_plan) = (b.to_str().unwrap(), b_plan.to_str().unwrap());
    assert_eq!(
        orgs.run(&["plan", "--config", b, "--save", b_plan])
            .await
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        orgs.run(&["apply", "--config", b, "--plan", b_plan])
            .await
            .status
            .code(),
        Some(0)
    );
    // What `muster plan` gives the organisation without its CSV.
    let alone = orgs
        .run(&[
            "plan",
            "--config",
            c.to_str().unwrap(),
            "--detailed-exitcode",
        ])
        .await;
    let c_code = alone.status.code().unwrap();
    assert_eq!(c_code, 1, "{}", text(&alone.stderr));

    // The folder, relative to the working directory.
    let out = orgs.fleet("plan", &[Path::new("orgs")], &[]).await;
    let stdout = fleet_out(&out, 1);
    assert_eq!(
        line_of(&stdout, "a.example"),
        "a.example: 2 would change: 1 to add"
    );
    assert_eq!(
        line_of(&stdout, "b.example"),
        "b.example: 0 nothing to do: no changes"
    );
    let c_line = line_of(&stdout, "c.example");
    assert!(
        c_line.starts_with("c.example: 1 refused: cannot read source `staff`"),
        "{c_line}"
    );
    assert!(c_line.contains("c.example.csv"), "{c_line}");
    assert_eq!(
        row_of(&stdout, "a.example"),
        [
            "a.example",
            "2",
            "would change",
            "orgs/a.example.toml",
            "1 to add"
        ]
    );
    assert_eq!(row_of(&stdout, "b.example")[1], "0");
    assert_eq!(row_of(&stdout, "c.example")[1], "1");
    assert!(
        stdout.contains("fleet plan: 3 organisations (1 nothing to do, 1 refused, 1 would change); exit 1 (refused)"),
        "{stdout}"
    );
    // Each one's plan saved for review (none for c), its output in its log.
    assert!(orgs.path("a.example.plan.json").exists());
    assert!(!orgs.path("c.example.plan.json").exists());
    let log = std::fs::read_to_string(orgs.path("a.example.plan.log")).unwrap();
    assert!(log.contains("+ #0 new@a.example"), "{log}");
    let log = std::fs::read_to_string(orgs.path("c.example.plan.log")).unwrap();
    assert!(log.contains("muster: cannot read source `staff`"), "{log}");
    // Planning wrote nothing.
    assert!(!has_user(&emulator, "a.example", "new@a.example"));

    // The others are applied; c has no plan and says so.
    let out = orgs.fleet("apply", &[Path::new("orgs")], &[]).await;
    let stdout = fleet_out(&out, 1);
    assert_eq!(
        line_of(&stdout, "a.example"),
        "a.example: 0 applied: 1 applied"
    );
    assert!(line_of(&stdout, "b.example").starts_with("b.example: 0 applied"));
    let c_line = line_of(&stdout, "c.example");
    assert!(
        c_line.starts_with(
            "c.example: 1 refused: no saved plan `orgs/c.example.plan.json`: nothing applied"
        ),
        "{c_line}"
    );
    assert!(has_user(&emulator, "a.example", "new@a.example"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_apply_applies_exactly_the_saved_plans_and_then_there_is_nothing_to_do() {
    let emulator = gateway(
        &[("a.example", &[]), ("b.example", &["old@b.example"])],
        RateLimit::unlimited(),
    )
    .await;
    let orgs = Orgs::new("saved", &emulator);
    let a = orgs.org("a.example", Some(&["ann@a.example", "bob@a.example"]), "");
    let b = orgs.org("b.example", Some(&["old@b.example", "new@b.example"]), "");
    let both = [a.as_path(), b.as_path()];
    let stdout = fleet_out(&orgs.fleet("plan", &both, &[]).await, 2);
    assert_eq!(
        line_of(&stdout, "a.example"),
        "a.example: 2 would change: 2 to add"
    );
    assert_eq!(
        line_of(&stdout, "b.example"),
        "b.example: 2 would change: 1 to add, 1 to update"
    );

    // The directory changes after the review: the apply applies what was
    // reviewed, not a new plan.
    orgs.csv(
        "a.example",
        &["ann@a.example", "bob@a.example", "late@a.example"],
    );
    let stdout = fleet_out(&orgs.fleet("apply", &both, &[]).await, 0);
    assert_eq!(
        line_of(&stdout, "a.example"),
        "a.example: 0 applied: 2 applied"
    );
    assert_eq!(
        line_of(&stdout, "b.example"),
        "b.example: 0 applied: 2 applied"
    );
    for (org, user) in [
        ("a.example", "ann@a.example"),
        ("a.example", "bob@a.example"),
        ("b.example", "new@b.example"),
    ] {
        assert!(has_user(&emulator, org, user), "{user}");
    }
    assert!(!has_user(&emulator, "a.example", "late@a.example"));
    assert_eq!(
        emulator.user("b.example", "old@b.example").unwrap()["firstname"],
        "old"
    );
    let log = std::fs::read_to_string(orgs.path("a.example.apply.log")).unwrap();
    assert!(log.contains("#0 ann@a.example (create): applied"), "{log}");

    // The directory as reviewed again: nothing left to do.
    orgs.csv("a.example", &["ann@a.example", "bob@a.example"]);
    let stdout = fleet_out(&orgs.fleet("plan", &both, &[]).await, 0);
    assert!(
        stdout.contains("fleet plan: 2 organisations (2 nothing to do); exit 0"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tripped_threshold_is_4_and_not_applied_and_a_held_lease_is_6_while_the_others_run() {
    let emulator = gateway(
        &[("a.example", &[]), ("d.example", &[]), ("e.example", &[])],
        RateLimit::unlimited(),
    )
    .await;
    let orgs = Orgs::new("guards", &emulator);
    let a = orgs.org("a.example", Some(&["ann@a.example"]), "");
    let d = orgs.org(
        "d.example",
        Some(&["x@d.example", "y@d.example", "z@d.example"]),
        "[policy]\ncreate_limit = { count = 1, percent = 0 }\n",
    );
    let e = orgs.org("e.example", Some(&["eve@e.example"]), "");
    let all = [a.as_path(), d.as_path(), e.as_path()];

    let stdout = fleet_out(&orgs.fleet("plan", &all, &[]).await, 4);
    let d_line = line_of(&stdout, "d.example");
    assert!(
        d_line.starts_with(
            "d.example: 4 threshold exceeded: 3 to add; THRESHOLD EXCEEDED: the create limit by 2"
        ),
        "{d_line}"
    );
    assert!(line_of(&stdout, "e.example").starts_with("e.example: 2 would change"));

    // Another run holds e's lease: e is 6, the others are applied (d not:
    // its plan needs a person's override).
    let lease = muster::Lease::take(&orgs.path("e.example.state.json")).unwrap();
    let stdout = fleet_out(&orgs.fleet("apply", &all, &[]).await, 4);
    assert_eq!(
        line_of(&stdout, "a.example"),
        "a.example: 0 applied: 1 applied"
    );
    let d_line = line_of(&stdout, "d.example");
    assert!(
        d_line.starts_with("d.example: 4 threshold exceeded: cannot apply the plan: the plan creates 3 accounts, 1 allowed, and no override"),
        "{d_line}"
    );
    let e_line = line_of(&stdout, "e.example");
    assert!(
        e_line.starts_with("e.example: 6 lease held: another run holds this organisation's lease"),
        "{e_line}"
    );
    assert!(has_user(&emulator, "a.example", "ann@a.example"));
    assert!(emulator.users("d.example").is_empty());
    assert!(!has_user(&emulator, "e.example", "eve@e.example"));

    // Without d, the lease decides: 6 outranks only 2 and 0.
    let stdout = fleet_out(&orgs.fleet("plan", &[&a, &e], &[]).await, 6);
    assert_eq!(
        line_of(&stdout, "a.example"),
        "a.example: 0 nothing to do: no changes"
    );
    assert!(line_of(&stdout, "e.example").starts_with("e.example: 6 lease held"));
    drop(lease);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_config_is_its_own_exit_1_naming_file_and_line_and_the_others_run() {
    let emulator = gateway(&[("a.example", &[])], RateLimit::unlimited()).await;
    let orgs = Orgs::new("malformed", &emulator);
    let a = orgs.org("a.example", Some(&["ann@a.example"]), "");
    let bad = orgs.dir.file(
        "orgs/bad.toml",
        "[gateway]\nstack = \"us1\"\nstak = \"us1\"\n",
    );
    let stdout = fleet_out(&orgs.fleet("plan", &[&bad, &a], &[]).await, 1);
    let bad_line = stdout
        .lines()
        .find(|l| l.contains("bad.toml: 1 refused"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        bad_line.contains("bad.toml:3: gateway.stak: unknown field"),
        "{bad_line}"
    );
    assert_eq!(
        line_of(&stdout, "a.example"),
        "a.example: 2 would change: 1 to add"
    );
    // And at apply: the config's mistake, not a missing plan.
    let stdout = fleet_out(&orgs.fleet("apply", &[&bad, &a], &[]).await, 1);
    assert!(
        stdout.contains("bad.toml:3: gateway.stak: unknown field"),
        "{stdout}"
    );
    assert!(has_user(&emulator, "a.example", "ann@a.example"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_report_has_one_object_per_org_with_its_code() {
    let emulator = gateway(
        &[("a.example", &[]), ("b.example", &[])],
        RateLimit::unlimited(),
    )
    .await;
    let orgs = Orgs::new("json", &emulator);
    let a = orgs.org("a.example", Some(&["ann@a.example"]), "");
    let b = orgs.org("b.example", None, "");
    let out = orgs
        .fleet(
            "plan",
            &[&a, &b],
            &["--format", "json", "--concurrency", "1"],
        )
        .await;
    let stdout = fleet_out(&out, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["command"], "fleet plan");
    assert_eq!(report["exit"], 1);
    let listed = report["orgs"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["org"], "a.example");
    assert_eq!(listed[0]["exit"], 2);
    assert_eq!(listed[0]["result"], "would change");
    assert_eq!(listed[0]["summary"], "1 to add");
    assert!(
        listed[0]["plan"]
            .as_str()
            .unwrap()
            .ends_with("a.example.plan.json")
    );
    assert_eq!(listed[1]["org"], "b.example");
    assert_eq!(listed[1]["exit"], 1);
    assert_eq!(listed[1]["plan"], serde_json::Value::Null);
    // The lines went to stderr: stdout is the document alone.
    assert!(text(&out.stderr).contains("a.example: 2 would change"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_orgs_under_one_login_in_one_fleet_spend_one_request_budget() {
    // The gateway allows 20 requests in any 3 s per login. Each config
    // paces at 240/min with a burst of 5: one limiter spends at most
    // 5 + 12 = 17 in any 3 s; two limiters would spend twice that.
    let emulator = gateway(
        &[("f.example", &[]), ("g.example", &[])],
        RateLimit::new(20, Duration::from_secs(3)),
    )
    .await;
    let orgs = Orgs::new("budget", &emulator);
    let users = |org: &str| -> Vec<String> { (0..10).map(|i| format!("u{i}@{org}")).collect() };
    let mut configs = Vec::new();
    for org in ["f.example", "g.example"] {
        let users = users(org);
        let users: Vec<&str> = users.iter().map(String::as_str).collect();
        // One create per request: enough requests to find a double budget out.
        configs.push(orgs.org_at(org, Some(&users), "[policy]\nbulk_size = 1\n", 240));
    }
    let configs: Vec<&Path> = configs.iter().map(PathBuf::as_path).collect();
    fleet_out(
        &orgs.fleet("plan", &configs, &["--concurrency", "2"]).await,
        2,
    );
    let stdout = fleet_out(
        &orgs.fleet("apply", &configs, &["--concurrency", "2"]).await,
        0,
    );
    assert!(
        stdout.contains("fleet apply: 2 organisations (2 applied); exit 0"),
        "{stdout}"
    );
    for org in ["f.example", "g.example"] {
        assert_eq!(emulator.users(org).len(), 10, "{org}");
    }
    let requests = emulator.requests();
    let limited = requests.iter().filter(|r| r.status == 429).count();
    // Both organisations' requests came in, under one login.
    assert!(requests.len() >= 2 * 10 + 4, "{}", requests.len());
    assert!(requests.iter().all(|r| r.login.as_deref() == Some(LOGIN)));
    // Zero by design; a machine that bunches requests in its network
    // stack may draw one or two.
    assert!(
        limited <= 2,
        "{limited} of {} requests drew 429",
        requests.len()
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_starts_no_other_org_lets_the_running_one_stop_cleanly_and_exits_130() {
    let emulator = gateway(
        &[("a.example", &[]), ("b.example", &[])],
        RateLimit::unlimited(),
    )
    .await;
    let orgs = Orgs::new("interrupt", &emulator);
    let a = orgs.org("a.example", Some(&["ann@a.example"]), "");
    let b = orgs.org("b.example", Some(&["bob@b.example"]), "");
    fleet_out(&orgs.fleet("plan", &[&a, &b], &[]).await, 2);

    // a's first request (its login check) takes 5 s: the signal comes
    // while a runs, whatever the machine's speed.
    emulator.push_fault(muster_emulator::Fault::Slow(Duration::from_secs(5)));
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_muster"))
        .current_dir(&orgs.dir.0)
        .args(["fleet", "apply", "--concurrency", "1"])
        .args([&a, &b])
        .env("MUSTER_PASSWORD", PASSWORD)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The event: a's run has begun (its log names it).
    let log = orgs.path("a.example.apply.log");
    let begun = async {
        while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("muster fleet apply")) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), begun)
        .await
        .expect("a's apply began");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = fleet_out(&out, 130);
    assert!(
        line_of(&stdout, "a.example").starts_with("a.example: 130 interrupted"),
        "{stdout}"
    );
    assert_eq!(
        line_of(&stdout, "b.example"),
        "b.example: 130 interrupted: not started: the fleet was interrupted"
    );
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("muster: interrupted by SIGINT"), "{said}");
    assert!(!has_user(&emulator, "a.example", "ann@a.example"));
    assert!(!has_user(&emulator, "b.example", "bob@b.example"));

    // The same command again finishes both.
    let stdout = fleet_out(&orgs.fleet("apply", &[&a, &b], &[]).await, 0);
    assert!(
        stdout.contains("fleet apply: 2 organisations (2 applied); exit 0"),
        "{stdout}"
    );
    assert!(has_user(&emulator, "a.example", "ann@a.example"));
    assert!(has_user(&emulator, "b.example", "bob@b.example"));
}
