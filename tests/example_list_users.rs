//! Runs `examples/list_users.rs` against the gateway emulator, the way a
//! user would, and checks what it prints.

use std::process::Output;

use muster_emulator::{Emulator, Login, Org};
use serde_json::json;

mod support;

async fn run(gateway: &str, password: &str) -> Output {
    let (gateway, password) = (gateway.to_owned(), password.to_owned());
    tokio::task::spawn_blocking(move || {
        support::run_example(
            "list_users",
            &[],
            &[
                ("MUSTER_GATEWAY", &gateway),
                ("MUSTER_ORG", "example.com"),
                ("MUSTER_USER", "admin@example.com"),
                ("MUSTER_PASSWORD", &password),
            ],
        )
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
