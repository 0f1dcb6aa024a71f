//! Operating a sync (issue 17): exempting accounts, acting on conflicts,
//! interrupting an apply and undoing one — `muster` as a process against
//! the gateway emulator.

mod support;

use std::path::Path;
use std::process::Output;

use muster_emulator::Emulator;
use support::*;

const ANN_AND_BOB: &str = "First Name,Last Name,Primary Email,Mobile,Alias 1\n\
                           Ann,Lee,ann.lee@example.com,,\n\
                           Bob,Ray,bob.ray@example.com,,\n";
const ANN_ONLY: &str = "First Name,Last Name,Primary Email,Mobile,Alias 1\n\
                        Ann,Lee,ann.lee@example.com,,\n";

/// `muster <words…>` against `emulator` as its admin, then `rest`.
fn args(emulator: &Emulator, words: &[&str], rest: &[&str]) -> Vec<String> {
    let url = emulator.api_v1_url();
    let mut out: Vec<String> = words.iter().map(|s| (*s).to_owned()).collect();
    for s in [
        "--stack",
        &url,
        "--org",
        "example.com",
        "--login",
        "admin@example.com",
    ] {
        out.push(s.to_owned());
    }
    out.extend(rest.iter().map(|s| (*s).to_owned()));
    out
}

/// The flags that read `csv` as the authoritative directory, with `state`.
fn inputs<'a>(csv: &'a Path, state: &'a Path) -> Vec<&'a str> {
    vec![
        "--managed-domain",
        "example.com",
        "--csv",
        csv.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]
}

async fn run(emulator: &Emulator, words: &[&str], rest: &[&str]) -> Output {
    muster(args(emulator, words, rest), Some(PASSWORD)).await
}

fn ok(out: &Output) -> String {
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    stdout
}

/// Plans `csv` with `state`, saves the plan in `dir`, applies it; returns the apply's stdout.
async fn sync(emulator: &Emulator, dir: &Scratch, csv: &Path, state: &Path) -> String {
    let plan = dir.path("sync-plan.json");
    let mut rest = inputs(csv, state);
    rest.extend(["--save", plan.to_str().unwrap()]);
    ok(&run(emulator, &["plan"], &rest).await);
    apply(emulator, &plan, state).await
}

async fn apply(emulator: &Emulator, plan: &Path, state: &Path) -> String {
    ok(&run(
        emulator,
        &["apply"],
        &[
            "--plan",
            plan.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
    )
    .await)
}

/// ann.lee and bob.ray owned by the CSV, bob then absent and flagged;
/// sam.old and helpdesk existed before muster (unowned conflicts).
async fn bob_flagged(
    emulator: &Emulator,
    dir: &Scratch,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let state = dir.path("state.json");
    let both = dir.file("both.csv", ANN_AND_BOB);
    sync(emulator, dir, &both, &state).await;
    let ann = dir.file("ann.csv", ANN_ONLY);
    sync(emulator, dir, &ann, &state).await;
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(
        saved.contains("\"flags\": {\n    \"bob.ray@example.com\""),
        "{saved}"
    );
    (ann, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exempt_account_is_skipped_in_the_next_plan_with_its_reason_until_unexempted() {
    let emulator = emulator().await;
    let dir = Scratch::new("exempt");
    let state = dir.path("state.json");
    let csv = dir.file("users.csv", ANN_AND_BOB);
    let said = run(
        &emulator,
        &["exempt", "bob.ray@example.com"],
        &[
            "--reason",
            "contractor, managed by hand",
            "--state",
            state.to_str().unwrap(),
        ],
    )
    .await;
    ok(&said);
    assert!(text(&said.stderr).contains("bob.ray@example.com is exempt"));
    // The exemption is in muster's state.
    assert!(
        std::fs::read_to_string(&state)
            .unwrap()
            .contains("\"exempt\"")
    );

    let plan = ok(&run(&emulator, &["plan"], &inputs(&csv, &state)).await);
    let today = muster::chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        plan.contains(&format!(
            "x bob.ray@example.com (muster exempt): exempted from sync on {today}: contractor, managed by hand"
        )),
        "{plan}"
    );
    assert!(!plan.contains("bob.ray@example.com: in"), "{plan}");

    // An exempt account on the gateway is no conflict either.
    ok(&run(
        &emulator,
        &["exempt", "sam.old@example.com"],
        &["--state", state.to_str().unwrap()],
    )
    .await);
    let listed = ok(&run(&emulator, &["conflicts", "list"], &inputs(&csv, &state)).await);
    assert!(!listed.contains("sam.old@example.com"), "{listed}");
    assert!(listed.contains("helpdesk@example.com"), "{listed}");

    ok(&run(
        &emulator,
        &["unexempt", "bob.ray@example.com"],
        &["--state", state.to_str().unwrap()],
    )
    .await);
    let plan = ok(&run(&emulator, &["plan"], &inputs(&csv, &state)).await);
    assert!(plan.contains("+ #0 bob.ray@example.com"), "{plan}");
    assert!(!plan.contains("x bob.ray@example.com"), "{plan}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_ignore_and_unignore_change_the_state_and_the_list_says_so() {
    let emulator = emulator().await;
    let dir = Scratch::new("ignore");
    let (csv, state) = bob_flagged(&emulator, &dir).await;
    let st = state.to_str().unwrap();
    let ignored = run(
        &emulator,
        &["conflicts", "ignore", "bob.ray@example.com"],
        &["--state", st],
    )
    .await;
    ok(&ignored);
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(
        saved.contains("\"ignored\": [\n    \"bob.ray@example.com\""),
        "{saved}"
    );
    let listed = ok(&run(&emulator, &["conflicts", "list"], &inputs(&csv, &state)).await);
    assert!(
        listed.contains("ignored by an administrator, kept [delete now | export]"),
        "{listed}"
    );
    let json = ok(&run(
        &emulator,
        &["conflicts", "list", "--format", "json"],
        &inputs(&csv, &state),
    )
    .await);
    let conflicts: serde_json::Value = serde_json::from_str(&json).unwrap();
    let bob = conflicts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == "bob.ray@example.com")
        .unwrap();
    assert_eq!(bob["ignored"], true);

    ok(&run(
        &emulator,
        &["conflicts", "unignore", "bob.ray@example.com"],
        &["--state", st],
    )
    .await);
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(saved.contains("\"ignored\": []"), "{saved}");
    let export = dir.path("conflicts.csv");
    let mut rest = inputs(&csv, &state);
    rest.insert(0, export.to_str().unwrap());
    ok(&run(&emulator, &["conflicts", "export"], &rest).await);
    let exported = std::fs::read_to_string(&export).unwrap();
    let bob_row = exported
        .lines()
        .find(|l| l.starts_with("bob.ray@example.com,"))
        .unwrap_or_else(|| panic!("{exported}"));
    assert!(bob_row.contains(",absent,"), "{bob_row}");
    assert!(bob_row.contains(",false,"), "{bob_row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_now_of_a_flagged_account_makes_a_plan_that_deletes_it_when_applied() {
    let emulator = emulator().await;
    let dir = Scratch::new("delete-now");
    let (csv, state) = bob_flagged(&emulator, &dir).await;
    let plan = dir.path("delete-now.json");
    let mut rest = inputs(&csv, &state);
    rest.extend(["--save", plan.to_str().unwrap()]);
    let preview = ok(&run(
        &emulator,
        &["conflicts", "delete-now", "bob.ray@example.com"],
        &rest,
    )
    .await);
    assert!(preview.contains("bob.ray@example.com"), "{preview}");
    assert!(
        preview.contains("deleted now by an administrator"),
        "{preview}"
    );
    // Nothing is sent before apply; show renders the saved plan.
    assert!(
        emulator
            .user("example.com", "bob.ray@example.com")
            .is_some()
    );
    let shown = muster(vec!["show".into(), plan.display().to_string()], None).await;
    assert_eq!(shown.status.code(), Some(2), "{}", text(&shown.stderr));
    assert!(
        text(&shown.stdout).contains("1 to delete"),
        "{}",
        text(&shown.stdout)
    );

    let applied = apply(&emulator, &plan, &state).await;
    assert!(
        applied.contains("bob.ray@example.com (delete): applied"),
        "{applied}"
    );
    assert!(
        emulator
            .user("example.com", "bob.ray@example.com")
            .is_none()
    );
    // Only bob went: ann, and the unowned accounts, are untouched.
    assert!(
        emulator
            .user("example.com", "ann.lee@example.com")
            .is_some()
    );
    assert!(
        emulator
            .user("example.com", "sam.old@example.com")
            .is_some()
    );
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(!saved.contains("bob.ray@example.com"), "{saved}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_now_refuses_an_account_back_in_the_directory_a_protected_one_and_an_unowned_one() {
    let emulator = emulator().await;
    let dir = Scratch::new("delete-now-refused");
    let (_, state) = bob_flagged(&emulator, &dir).await;
    let writes_before = writes(&emulator);
    // Bob is back in the directory: no conflict any more.
    let both = dir.file("back.csv", ANN_AND_BOB);
    let plan = dir.path("refused.json");
    let mut rest = inputs(&both, &state);
    rest.extend(["--save", plan.to_str().unwrap()]);
    let back = run(
        &emulator,
        &["conflicts", "delete-now", "bob.ray@example.com"],
        &rest,
    )
    .await;
    assert_stops(
        &back,
        1,
        "cannot delete now bob.ray@example.com: a source lists it",
    );
    assert!(!plan.exists());

    let protected = run(
        &emulator,
        &["conflicts", "delete-now", "admin@example.com"],
        &rest,
    )
    .await;
    assert_stops(&protected, 1, "it is protected");

    let unowned = run(
        &emulator,
        &["conflicts", "delete-now", "sam.old@example.com"],
        &rest,
    )
    .await;
    assert_stops(&unowned, 1, "muster does not own it");
    assert!(text(&unowned.stderr).contains("--include-unowned"));
    assert!(!plan.exists());
    assert_eq!(writes(&emulator), writes_before, "a refusal sends nothing");

    // With --include-unowned it is planned, and the protected one still not.
    let mut with = rest.clone();
    with.push("--include-unowned");
    ok(&run(
        &emulator,
        &["conflicts", "delete-now", "sam.old@example.com"],
        &with,
    )
    .await);
    assert!(plan.exists());
    let protected = run(
        &emulator,
        &["conflicts", "delete-now", "admin@example.com"],
        &with,
    )
    .await;
    assert_stops(&protected, 1, "it is protected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_plans_a_deactivation_that_apply_carries_out() {
    let emulator = emulator().await;
    let dir = Scratch::new("deactivate");
    let (csv, state) = bob_flagged(&emulator, &dir).await;
    let plan = dir.path("deactivate.json");
    let mut rest = inputs(&csv, &state);
    rest.extend(["--save", plan.to_str().unwrap()]);
    let preview = ok(&run(
        &emulator,
        &["conflicts", "deactivate", "bob.ray@example.com"],
        &rest,
    )
    .await);
    assert!(
        preview.contains("deactivated by an administrator"),
        "{preview}"
    );
    let applied = apply(&emulator, &plan, &state).await;
    assert!(
        applied.contains("bob.ray@example.com (update): applied"),
        "{applied}"
    );
    let bob = emulator.user("example.com", "bob.ray@example.com").unwrap();
    assert_eq!(bob["is_active"], false, "{bob}");
    // muster deactivated it, so the state says so; the flag stays.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(
        saved["accounts"]["bob.ray@example.com"]["deactivated_by_muster"],
        true
    );
    assert!(saved["flags"]["bob.ray@example.com"].is_object());
    // Deactivating it again is refused: it is inactive already.
    let again = run(
        &emulator,
        &["conflicts", "deactivate", "bob.ray@example.com"],
        &rest,
    )
    .await;
    assert_stops(&again, 1, "inactive already");
}

/// Waits until the emulator's request log holds `n` requests (answered
/// ones: the log records a request when it is answered), for at most 30 s.
async fn wait_for_requests(emulator: &Emulator, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while emulator.requests().len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "the emulator saw {:?}",
            emulator.requests()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// The six people of [`six_renamed`].
const SIX: [&str; 6] = ["ava", "ben", "cat", "dan", "eli", "fay"];

/// Six accounts on the gateway with the surname "Old", a CSV that renames
/// them all "New", and the saved plan of those six updates; returns the
/// plan's, the state's and a journal's paths in `dir`.
async fn six_renamed(
    emulator: &Emulator,
    dir: &Scratch,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let mut csv = String::from("First Name,Last Name,Primary Email,Mobile,Alias 1\n");
    for who in SIX {
        emulator
            .insert_user(
                "example.com",
                serde_json::json!({"primary_email": format!("{who}@example.com"), "firstname": who, "surname": "Old"}),
            )
            .unwrap();
        csv.push_str(&format!("{who},New,{who}@example.com,,\n"));
    }
    let csv = dir.file("people.csv", &csv);
    let state = dir.path("state.json");
    let plan = dir.path("plan.json");
    let mut rest = inputs(&csv, &state);
    rest.extend(["--save", plan.to_str().unwrap(), "--format", "json"]);
    ok(&run(emulator, &["plan"], &rest).await);
    (plan, state, dir.path("journal.jsonl"))
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_during_apply_writes_journal_and_state_and_the_resume_sends_nothing_twice() {
    let emulator = emulator().await;
    let dir = Scratch::new("sigint");
    let (plan, state, journal) = six_renamed(&emulator, &dir).await;
    emulator.clear_observations();

    // The apply's fourth request is held for 3 s: /me, then the first
    // change's read and write, then the second change's read.
    for _ in 0..3 {
        emulator.push_fault(muster_emulator::Fault::Slow(std::time::Duration::ZERO));
    }
    emulator.push_fault(muster_emulator::Fault::Slow(
        std::time::Duration::from_secs(3),
    ));
    let apply = args(
        &emulator,
        &["apply"],
        &[
            "--plan",
            plan.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
            "--concurrency",
            "1",
        ],
    );
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(&apply)
        .env("MUSTER_PASSWORD", PASSWORD)
        .env_remove("MUSTER_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_requests(&emulator, 3).await;
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{stderr}\n{}",
        text(&out.stdout)
    );
    // The change in flight finished; nothing after it was sent.
    assert!(
        stderr.contains("interrupted by SIGINT: 2 of 6 changes done, 4 left"),
        "{stderr}"
    );
    assert!(stderr.contains("resume with: muster apply"), "{stderr}");
    let first_run = emulator.requests();
    let puts: Vec<String> = first_run
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.uri.clone())
        .collect();
    assert_eq!(puts.len(), 2, "{first_run:?}");
    // Journal and state are written: the state owns the two changed accounts.
    let journal_text = std::fs::read_to_string(&journal).unwrap();
    assert!(journal_text.contains("\"applied\""), "{journal_text}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let owned: Vec<&String> = saved["accounts"].as_object().unwrap().keys().collect();
    assert_eq!(owned.len(), 2, "{saved}");

    // The resume: the same command finishes the rest, and no request
    // (a write above all) is sent twice.
    emulator.clear_observations();
    let resumed = muster(apply, Some(PASSWORD)).await;
    let stdout = ok(&resumed);
    assert!(stdout.contains("2 already applied"), "{stdout}");
    let mut all_puts = puts;
    all_puts.extend(
        emulator
            .requests()
            .iter()
            .filter(|r| r.method == "PUT")
            .map(|r| r.uri.clone()),
    );
    all_puts.sort();
    let before = all_puts.len();
    all_puts.dedup();
    assert_eq!(before, all_puts.len(), "a write sent twice: {all_puts:?}");
    assert_eq!(all_puts.len(), 6);
    for who in SIX {
        let user = emulator
            .user("example.com", &format!("{who}@example.com"))
            .unwrap();
        assert_eq!(user["surname"], "New", "{user}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_is_restored_with_every_field_and_no_welcome_letter() {
    let emulator = emulator().await;
    let dir = Scratch::new("restore");
    emulator
        .insert_user(
            "example.com",
            serde_json::json!({
                "primary_email": "sal@example.com",
                "firstname": "Sal",
                "surname": "Ng",
                "alias_emails": ["sales@example.com"],
                "white_list_senders": ["partner.example", "*@supplier.example"],
                "black_list_senders": ["spam.example"],
                "odin_settings": {"can_impersonate": true, "is_imitable": true},
                "mobile_number": "+44 7700 900999",
            }),
        )
        .unwrap();
    let before = emulator.user("example.com", "sal@example.com").unwrap();
    // Not the gateway's defaults: a restore that dropped them would show.
    assert_eq!(
        before["odin_settings"]["can_impersonate"], true,
        "{before:#}"
    );
    let csv = dir.file("ann.csv", ANN_ONLY);
    let state = dir.path("state.json");
    let journal = dir.path("delete.journal");
    let plan = dir.path("delete.json");
    let mut rest = inputs(&csv, &state);
    rest.extend(["--save", plan.to_str().unwrap(), "--include-unowned"]);
    ok(&run(
        &emulator,
        &["conflicts", "delete-now", "sal@example.com"],
        &rest,
    )
    .await);
    ok(&run(
        &emulator,
        &["apply"],
        &[
            "--plan",
            plan.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
        ],
    )
    .await);
    assert!(emulator.user("example.com", "sal@example.com").is_none());
    // The before-image is next to the journal, readable by its owner only.
    let folder = muster::before_images_folder(&journal);
    let image = folder.join("sal@example.com.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&image), 0o600);
        assert_eq!(mode(&folder), 0o700);
    }

    let restore = dir.path("restore.json");
    let preview = ok(&run(
        &emulator,
        &["restore"],
        &[
            "--journal",
            journal.to_str().unwrap(),
            "--save",
            restore.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
    )
    .await);
    assert!(preview.contains("sal@example.com"), "{preview}");
    assert!(preview.contains("Welcome letters: 0"), "{preview}");
    // Nothing is sent before apply; show renders it.
    assert!(emulator.user("example.com", "sal@example.com").is_none());
    let shown = muster(vec!["show".into(), restore.display().to_string()], None).await;
    assert!(
        text(&shown.stdout).contains("1 to add"),
        "{}",
        text(&shown.stdout)
    );
    apply(&emulator, &restore, &state).await;

    let after = emulator.user("example.com", "sal@example.com").unwrap();
    let record = ["uid", "id", "created_at", "updated_at"];
    for (key, value) in before.as_object().unwrap() {
        if record.contains(&key.as_str()) {
            continue;
        }
        // Lists are sets on the gateway: their order is not a field.
        let sorted = |v: &serde_json::Value| match v.as_array() {
            Some(items) => {
                let mut items: Vec<String> = items.iter().map(ToString::to_string).collect();
                items.sort();
                serde_json::json!(items)
            }
            None => v.clone(),
        };
        assert_eq!(
            sorted(&after[key]),
            sorted(value),
            "{key}: {before:#} then {after:#}"
        );
    }
    for key in [
        "white_list_senders",
        "black_list_senders",
        "odin_settings",
        "alias_emails",
    ] {
        assert!(before.get(key).is_some(), "{key} in {before:#}");
    }
    assert_eq!(emulator.welcome_letters("sal@example.com"), 0);
}

/// A gateway that answers every write with a 503 trips the breaker: the
/// apply stops sending, exits 3 and says why on stderr; the same command
/// then resumes and finishes once the gateway is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_gateway_halts_the_apply_with_its_reason_and_the_same_command_resumes() {
    let emulator = emulator().await;
    let dir = Scratch::new("breaker");
    let (plan, state, journal) = six_renamed(&emulator, &dir).await;

    // The login check passes; every request after it fails, more of them
    // than the breaker lets through.
    emulator.push_fault(muster_emulator::Fault::Slow(std::time::Duration::ZERO));
    for _ in 0..40 {
        emulator.push_fault(muster_emulator::Fault::Status(503));
    }
    let apply = [
        "--plan",
        plan.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--concurrency",
        "1",
    ];
    let halted = run(&emulator, &["apply"], &apply).await;
    let stderr = text(&halted.stderr);
    assert_eq!(halted.status.code(), Some(3), "{stderr}");
    let said = stderr
        .lines()
        .find(|l| l.starts_with("muster: apply halted: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(said.contains("the same command resumes"), "{said}");
    assert!(!stderr.contains(PASSWORD));
    let sent = emulator.requests().len();
    assert!(
        sent < 1 + 40,
        "the breaker stopped sending: {sent} requests"
    );
    let people = |e: &Emulator| {
        e.users("example.com")
            .into_iter()
            .filter(|u| {
                let email = u["primary_email"].as_str().unwrap_or_default();
                SIX.iter().any(|who| email == format!("{who}@example.com"))
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(people(&emulator).len(), 6);
    assert!(
        people(&emulator).iter().all(|u| u["surname"] == "Old"),
        "nothing landed: {:?}",
        people(&emulator)
    );

    // The gateway is back: the same command finishes the apply.
    assert!(
        emulator.clear_faults() > 0,
        "the faults outlasted the apply"
    );
    ok(&run(&emulator, &["apply"], &apply).await);
    assert!(
        people(&emulator).iter().all(|u| u["surname"] == "New"),
        "{:?}",
        people(&emulator)
    );
}
