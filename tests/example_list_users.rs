//! Runs `examples/list_users.rs` against the gateway emulator, the way a
//! user would, and checks what it prints.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use muster_emulator::{Emulator, Login, Org};
use serde_json::json;

/// The example binary, built once by the same cargo that runs this test
/// (`cargo test --test example_list_users` alone does not build examples).
fn example_binary() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", "list_users"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the example failed");
    });
    let mut path = std::env::current_exe().expect("test executable path");
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.join("examples")
        .join(format!("list_users{}", std::env::consts::EXE_SUFFIX))
}

async fn run(gateway: &str, password: &str) -> Output {
    let (gateway, password) = (gateway.to_owned(), password.to_owned());
    tokio::task::spawn_blocking(move || {
        Command::new(example_binary())
            .env("MUSTER_GATEWAY", gateway)
            .env("MUSTER_ORG", "example.com")
            .env("MUSTER_USER", "admin@example.com")
            .env("MUSTER_PASSWORD", password)
            .output()
            .expect("the example runs")
    })
    .await
    .unwrap()
}

async fn emulator() -> Emulator {
    Emulator::builder()
        .org(
            Org::new("example.com")
                .domain("example.org")
                .user(json!({"primary_email": "zoe@example.com", "type": "functional_account"}))
                .user(json!({"primary_email": "ann@example.com", "alias_emails": ["ann@example.org", "a@example.com"]}))
                .user(json!({"primary_email": "old@example.com", "is_active": false})),
        )
        .login(Login::org_admin("admin@example.com", "pw-not-in-output", "example.com"))
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_users_prints_every_user_sorted() {
    let emu = emulator().await;
    let out = run(emu.base_url(), "pw-not-in-output").await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ann@example.com\tend_user\tactive\ta@example.com,ann@example.org\n\
         old@example.com\tend_user\tinactive\t\n\
         zoe@example.com\tfunctional_account\tactive\t\n\
         3 users\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_loudly_without_echoing_the_password() {
    let emu = emulator().await;
    let out = run(emu.base_url(), "wrong-secret-123").await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: authentication failed"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-secret-123"));
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_a_remote_host_is_refused() {
    let out = run("http://gateway.example.com", "x").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plain http"));
}
