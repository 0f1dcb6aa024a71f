//! Review and approve: a saved plan shown as `plan` showed it, part of it
//! approved without cutting mail flow, and exit codes a scheduler can trust.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use muster_emulator::{Emulator, Seed};
use serde_json::{Value, json};
use support::*;

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| (*s).to_owned()).collect()
}

fn password() -> Vec<(String, String)> {
    vec![("MUSTER_PASSWORD".to_owned(), PASSWORD.to_owned())]
}

/// A folder with `muster.toml` for `emulator` (a CSV source `staff.csv`,
/// state and journals beside it) and `policy` as its `[policy]` body.
struct Org {
    dir: Scratch,
    config: PathBuf,
}

impl Org {
    fn new(name: &str, emulator: &Emulator, policy: &str) -> Org {
        let dir = Scratch::new(name);
        let config = dir.file(
            "muster.toml",
            &format!(
                "[gateway]\nstack = \"{}\"\norg = \"example.com\"\nlogin = \"admin@example.com\"\n\n\
                 [[source]]\nname = \"staff\"\nrole = \"authoritative\"\nkind = \"csv\"\npath = \"staff.csv\"\n\n\
                 [files]\nstate = \"state.json\"\njournals = \"journals\"\n\n\
                 [policy]\nmanaged_domains = [\"example.com\", \"example.org\"]\n{policy}",
                emulator.api_v1_url()
            ),
        );
        Org { dir, config }
    }

    fn staff(&self, rows: &str) {
        self.dir.file(
            "staff.csv",
            &format!("First Name,Last Name,Primary Email,Mobile,Alias 1\n{rows}"),
        );
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path(name)
    }

    /// `muster <command> --config … <rest>`, with the password.
    async fn run(&self, command: &[&str], rest: &[&str], env: &[(&str, &str)]) -> Output {
        let mut words = args(command);
        words.push("--config".into());
        words.push(self.config.display().to_string());
        words.extend(args(rest));
        let mut all = password();
        all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        muster_with_env(words, all).await
    }

    /// `plan --save plan.json`, with `rest`.
    async fn plan(&self, rest: &[&str], env: &[(&str, &str)]) -> Output {
        let save = self.path("plan.json");
        let mut words = vec!["--save", save.to_str().unwrap()];
        words.extend(rest);
        self.run(&["plan"], &words, env).await
    }

    /// `apply --plan plan.json`, with `rest`.
    async fn apply(&self, rest: &[&str]) -> Output {
        let plan = self.path("plan.json");
        let mut words = vec!["--plan", plan.to_str().unwrap()];
        words.extend(rest);
        self.run(&["apply"], &words, &[]).await
    }

    fn saved(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path("plan.json")).unwrap()).unwrap()
    }
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// Anne holds sales@example.com; the directory gives it to Bob. Cy is new.
async fn alias_move_emulator() -> Emulator {
    let mut seed: Value = serde_json::from_str(SEED).unwrap();
    let users = seed["orgs"][0]["users"].as_array_mut().unwrap();
    users.push(
        json!({"primary_email": "bob.ray@example.com", "firstname": "Bob", "surname": "Ray"}),
    );
    for user in users.iter_mut() {
        if user["primary_email"] == "ann.lee@example.com" {
            user["alias_emails"] = json!(["sales@example.com"]);
        }
    }
    Emulator::builder()
        .seed(Seed::from_json(&seed.to_string()).unwrap())
        .start()
        .await
        .unwrap()
}

const MOVED: &str = "Anne,Lee,ann.lee@example.com,,\n\
                     Bob,Ray,bob.ray@example.com,,sales@example.com\n\
                     Cy,Sun,cy.sun@example.com,,\n";

/// The alias move, planned and saved in a folder of its own.
async fn alias_move_planned(name: &str) -> (Emulator, Org) {
    let emulator = alias_move_emulator().await;
    let org = Org::new(name, &emulator, "");
    org.staff(MOVED);
    let planned = org.plan(&[], &[]).await;
    assert_eq!(code(&planned), Some(0), "{}", text(&planned.stderr));
    (emulator, org)
}

fn aliases_of(emulator: &Emulator, email: &str) -> Value {
    emulator.user("example.com", email).unwrap()["alias_emails"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_prints_exactly_what_plan_printed_and_json_is_the_file() {
    let emulator = alias_move_emulator().await;
    let org = Org::new("review-show", &emulator, "");
    org.staff(MOVED);
    let planned = org.plan(&[], &[]).await;
    assert_eq!(code(&planned), Some(0), "{}", text(&planned.stderr));
    let plan = org.path("plan.json");
    let shown = muster_with_env(args(&["show", plan.to_str().unwrap()]), vec![]).await;
    assert_eq!(text(&shown.stdout), text(&planned.stdout));
    let header = text(&shown.stdout);
    assert!(
        header.starts_with(&format!(
            "Plan for example.com on {} from staff",
            emulator.api_v1_url()
        )) && header.contains(&format!(
            "(fingerprint {})",
            org.saved()["fingerprint"].as_str().unwrap()
        )),
        "{header}"
    );
    assert!(
        header.contains("Destructive changes: 1 (threshold allows"),
        "{header}"
    );
    let json = muster_with_env(
        args(&["show", plan.to_str().unwrap(), "--format", "json"]),
        vec![],
    )
    .await;
    assert_eq!(json.stdout, std::fs::read(&plan).unwrap(), "byte for byte");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluding_the_receiver_of_an_alias_move_leaves_the_alias_on_the_giver() {
    let (emulator, org) = alias_move_planned("review-exclude-b").await;
    let out = org.apply(&["--exclude", "bob.ray@example.com"]).await;
    assert_eq!(
        code(&out),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("skipped (excluded)"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("also leaves out"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        aliases_of(&emulator, "ann.lee@example.com"),
        json!(["sales@example.com"])
    );
    assert_eq!(aliases_of(&emulator, "bob.ray@example.com"), json!([]));
    assert!(
        emulator.user("example.com", "cy.sun@example.com").is_some(),
        "the rest applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluding_the_giver_of_an_alias_move_leaves_the_alias_too() {
    let (emulator, org) = alias_move_planned("review-exclude-a").await;
    let out = org.apply(&["--exclude", "ann.lee@example.com"]).await;
    assert_eq!(code(&out), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        aliases_of(&emulator, "ann.lee@example.com"),
        json!(["sales@example.com"])
    );
    assert_eq!(aliases_of(&emulator, "bob.ray@example.com"), json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_receiver_brings_the_giver_in_and_says_so() {
    let (emulator, org) = alias_move_planned("review-only").await;
    let out = org.apply(&["--only", "bob.ray@example.com"]).await;
    assert_eq!(code(&out), Some(0), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("bob.ray@example.com also applies")
            && stderr.contains("ann.lee@example.com"),
        "{stderr}"
    );
    assert_eq!(
        aliases_of(&emulator, "bob.ray@example.com"),
        json!(["sales@example.com"])
    );
    assert_eq!(aliases_of(&emulator, "ann.lee@example.com"), json!([]));
    assert!(
        emulator.user("example.com", "cy.sun@example.com").is_none(),
        "not approved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tripped_plan_cannot_be_applied_in_slices() {
    let emulator = emulator().await;
    // One destructive change allowed; three leavers deactivated on flag.
    let org = Org::new(
        "review-slices",
        &emulator,
        "on_flag = \"deactivate\"\nthreshold = { count = 1, percent = 100 }\n",
    );
    org.staff(
        "Anne,Lee,ann.lee@example.com,,\nBo,One,bo1@example.com,,\nBo,Two,bo2@example.com,,\nBo,Three,bo3@example.com,,\n",
    );
    org.plan(&[], &[]).await;
    assert_eq!(code(&org.apply(&[]).await), Some(0));
    org.staff("Anne,Lee,ann.lee@example.com,,\n");
    let planned = org.plan(&[], &[]).await;
    assert_eq!(code(&planned), Some(4), "{}", text(&planned.stdout));
    // The whole plan is refused…
    assert_eq!(code(&org.apply(&[]).await), Some(4));
    // …the first slice fits under the threshold…
    let first = org.apply(&["--only", "bo1@example.com"]).await;
    assert_eq!(
        code(&first),
        Some(0),
        "{}\n{}",
        text(&first.stdout),
        text(&first.stderr)
    );
    // …and the next one would cross it with what the journal applied.
    let second = org.apply(&["--only", "bo2@example.com"]).await;
    assert_stops(&second, 4, "2 destructive steps, 1 allowed");
    assert_eq!(
        emulator.user("example.com", "bo2@example.com").unwrap()["is_active"],
        true
    );
    // The reviewer's explicit approval at apply time lets the rest through.
    let approved = org.apply(&["--override-threshold"]).await;
    assert_eq!(code(&approved), Some(0), "{}", text(&approved.stdout));
    assert_eq!(
        emulator.user("example.com", "bo3@example.com").unwrap()["is_active"],
        false
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_preview_marked_in_excel_excludes_exactly_the_marked_rows() {
    let (emulator, org) = alias_move_planned("review-excel").await;
    let plan = org.path("plan.json");
    let csv = muster_with_env(
        args(&["show", plan.to_str().unwrap(), "--format", "csv"]),
        vec![],
    )
    .await;
    let csv = text(&csv.stdout);
    // Excel in a decimal-comma locale: a BOM, `;`, CRLF; Cy's row marked.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.as_bytes());
    let mut excel = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(b"\xef\xbb\xbf".to_vec());
    for record in reader.records() {
        let mut cells: Vec<String> = record.unwrap().iter().map(str::to_owned).collect();
        if cells[0] == "cy.sun@example.com" {
            *cells.last_mut().unwrap() = "x".into();
        }
        excel.write_record(&cells).unwrap();
    }
    let reviewed = org.dir.file(
        "reviewed.csv",
        &String::from_utf8(excel.into_inner().unwrap()).unwrap(),
    );
    let out = org
        .apply(&["--exclude-from", reviewed.to_str().unwrap()])
        .await;
    assert_eq!(
        code(&out),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        emulator.user("example.com", "cy.sun@example.com").is_none(),
        "marked: excluded"
    );
    assert_eq!(
        aliases_of(&emulator, "bob.ray@example.com"),
        json!(["sales@example.com"]),
        "the rest applied"
    );

    // An approval made for another plan is refused, before anything is sent.
    let other = org
        .dir
        .file("other.txt", "plan: 0123456789abcdef\ncy.sun@example.com\n");
    let before = emulator.requests().len();
    let out = org
        .apply(&["--exclude-from", other.to_str().unwrap()])
        .await;
    assert_stops(&out, 1, "approves plan 0123456789abcdef, not this one");
    assert_eq!(emulator.requests().len(), before);
}

/// The nightly job on `day`: `plan --detailed-exitcode`, and `apply` only
/// when it says 2; the plan's exit code.
async fn night(org: &Org, day: u32) -> Option<i32> {
    let now = format!("2031-03-{day:02}T02:00:00Z");
    let env = [("MUSTER_TEST_NOW", now.as_str())];
    let planned = org.plan(&["--detailed-exitcode"], &env).await;
    let status = code(&planned);
    assert!(
        matches!(status, Some(0 | 2)),
        "{day}: {}",
        text(&planned.stderr)
    );
    if status == Some(2) {
        let plan = org.path("plan.json");
        let applied = org
            .run(&["apply"], &["--plan", plan.to_str().unwrap()], &env)
            .await;
        assert_eq!(code(&applied), Some(0), "{day}: {}", text(&applied.stdout));
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_job_that_applies_on_2_deletes_a_leaver_after_the_delay_and_runs() {
    let emulator = emulator().await;
    let org = Org::new(
        "review-cron",
        &emulator,
        "delete_delay = \"7d\"\nmin_absent_runs = 3\nthreshold = { count = 5, percent = 100 }\n",
    );
    org.staff("Anne,Lee,ann.lee@example.com,,\nBob,Ray,bob.ray@example.com,,\n");
    assert_eq!(night(&org, 1).await, Some(2), "Bob created, Anne adopted");
    assert_eq!(night(&org, 2).await, Some(0), "nothing to do");
    org.staff("Anne,Lee,ann.lee@example.com,,\n");
    let mut deleted_on = None;
    for day in 3..=15 {
        let status = night(&org, day).await;
        // A flag-only night still exits 2: the flag and each absent run
        // must be recorded, or the lifecycle never moves.
        if day == 3 {
            assert_eq!(status, Some(2), "the flag");
        }
        if deleted_on.is_none()
            && emulator
                .user("example.com", "bob.ray@example.com")
                .is_none()
        {
            deleted_on = Some(day);
        }
    }
    // Flagged on the 3rd: 7 days and 3 runs later, the 10th.
    assert_eq!(deleted_on, Some(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exit_code_of_the_table() {
    let emulator = emulator().await;
    let org = Org::new(
        "review-codes",
        &emulator,
        "threshold = { count = 0, percent = 100 }\non_flag = \"deactivate\"\n",
    );
    org.staff("Anne,Lee,ann.lee@example.com,,\nBob,Ray,bob.ray@example.com,,\n");
    // 2: changes to make; 0: applied, then nothing to do.
    assert_eq!(
        code(&org.plan(&["--detailed-exitcode"], &[]).await),
        Some(2)
    );
    assert_eq!(code(&org.apply(&[]).await), Some(0));
    assert_eq!(
        code(&org.plan(&["--detailed-exitcode"], &[]).await),
        Some(0)
    );

    // 1: a wrong password on apply: one line, nothing written.
    org.plan(&[], &[]).await;
    let plan = org.path("plan.json");
    let wrong = muster_with_env(
        args(&[
            "apply",
            "--config",
            org.config.to_str().unwrap(),
            "--plan",
            plan.to_str().unwrap(),
        ]),
        vec![("MUSTER_PASSWORD".into(), "not-the-password".into())],
    )
    .await;
    assert_eq!(code(&wrong), Some(1), "{}", text(&wrong.stdout));
    assert_eq!(
        text(&wrong.stderr).lines().count(),
        1,
        "{}",
        text(&wrong.stderr)
    );
    assert!(
        text(&wrong.stderr).contains("refused the login"),
        "{}",
        text(&wrong.stderr)
    );
    assert!(!text(&wrong.stderr).contains("not-the-password"));
    assert!(text(&wrong.stdout).is_empty(), "{}", text(&wrong.stdout));

    // 4: over the threshold (Bob leaves: a deactivation, none allowed).
    org.staff("Anne,Lee,ann.lee@example.com,,\n");
    assert_eq!(code(&org.plan(&[], &[]).await), Some(4));
    assert_eq!(code(&org.apply(&[]).await), Some(4));

    // 3: a change overtaken on the gateway is stale (Cy created in the
    // console after the plan was made).
    org.staff("Anne,Lee,ann.lee@example.com,,\nBob,Ray,bob.ray@example.com,,\nCy,Sun,cy.sun@example.com,,\n");
    org.plan(&[], &[]).await;
    emulator
        .insert_user(
            "example.com",
            json!({"primary_email": "cy.sun@example.com", "firstname": "Cyrus"}),
        )
        .unwrap();
    let stale = org.apply(&[]).await;
    assert_eq!(code(&stale), Some(3), "{}", text(&stale.stdout));

    // 5: the source returned nothing (a wrong file, a wrong base): said, and 5.
    org.staff("");
    let empty = org.plan(&[], &[]).await;
    assert_eq!(code(&empty), Some(5), "{}", text(&empty.stdout));
    assert!(
        text(&empty.stderr).contains("returned no entries"),
        "{}",
        text(&empty.stderr)
    );

    // 6: another run holds the organisation's lease.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(org.path("state.json.lock"))
        .unwrap();
    lock.lock().unwrap();
    let leased = org.plan(&[], &[]).await;
    assert_stops(&leased, 6, "another run holds this organisation's lease");
    drop(lock);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_ends_a_run_with_130_and_a_termination_with_143() {
    use std::io::BufRead;
    for (signal, expected) in [("-INT", 130), ("-TERM", 143)] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_muster"))
            .args(["emulator"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until it serves (it prints its URL), then signal it.
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("http://"), "{line}");
        let status = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(expected), "{signal}");
        assert!(
            text(&out.stderr).contains("interrupted by"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn the_exit_code_table_is_one_table_in_help_readme_and_docs() {
    let table = include_str!("../src/exit_codes.txt");
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_muster"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(text(&help.stdout).contains(table), "{}", text(&help.stdout));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for doc in ["README.md", "docs/operating.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        assert!(
            text.contains(table),
            "{doc} lacks the exit-code table as --help prints it"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_plan_key_only_a_signed_approval_counts() {
    let emulator = alias_move_emulator().await;
    let org = Org::new("review-signed", &emulator, "");
    org.dir.file(
        "plan.key",
        "a-key-of-at-least-thirty-two-bytes-for-approvals\n",
    );
    let config = std::fs::read_to_string(&org.config).unwrap();
    std::fs::write(
        &org.config,
        format!("{config}\n[signing]\nkey_file = \"plan.key\"\n"),
    )
    .unwrap();
    org.staff(MOVED);
    let planned = org.plan(&[], &[]).await;
    assert_eq!(code(&planned), Some(0), "{}", text(&planned.stderr));
    let plan = org.path("plan.json");
    // An approval file anyone could write is refused where a key is configured.
    let handmade = org.dir.file(
        "handmade.txt",
        &format!(
            "plan: {}\ncy.sun@example.com\n",
            org.saved()["fingerprint"].as_str().unwrap()
        ),
    );
    let out = org
        .apply(&["--exclude-from", handmade.to_str().unwrap()])
        .await;
    assert_stops(&out, 1, "the approval is not signed");
    // The key holder signs the reviewer's choice…
    let approval = org.path("approval.txt");
    let signed = muster_with_env(
        args(&[
            "approve",
            plan.to_str().unwrap(),
            "--config",
            org.config.to_str().unwrap(),
            "--exclude",
            "cy.sun@example.com",
            "--out",
            approval.to_str().unwrap(),
        ]),
        vec![],
    )
    .await;
    assert!(signed.status.success(), "{}", text(&signed.stderr));
    let text_of = std::fs::read_to_string(&approval).unwrap();
    assert!(text_of.contains("signature: "), "{text_of}");
    // …an edit to it breaks the signature…
    let tampered = org.dir.file("tampered.txt", &text_of.replace("#", "#1"));
    let out = org
        .apply(&["--exclude-from", tampered.to_str().unwrap()])
        .await;
    assert_eq!(code(&out), Some(1), "{}", text(&out.stderr));
    assert_eq!(writes(&emulator), 0);
    // …and the signed one applies, without Cy.
    let out = org
        .apply(&["--exclude-from", approval.to_str().unwrap()])
        .await;
    assert_eq!(
        code(&out),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(emulator.user("example.com", "cy.sun@example.com").is_none());
    assert_eq!(
        aliases_of(&emulator, "bob.ray@example.com"),
        json!(["sales@example.com"])
    );
}
