//! What the CLI test files share: the emulator, scratch folders, running
//! `muster` as a process, the test directory server.
// Each test file uses some of these, never all.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use muster_emulator::{Emulator, Seed};

pub(crate) const SEED: &str = include_str!("../../../examples/data/demo_gateway.json");
pub(crate) const PASSWORD: &str = "demo-password";

pub(crate) async fn emulator() -> Emulator {
    Emulator::builder()
        .seed(Seed::from_json(SEED).unwrap())
        .start()
        .await
        .unwrap()
}

/// A scratch directory removed when the test ends.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("muster-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub(crate) fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `muster` off the async runtime (the emulator answers on it meanwhile).
pub(crate) async fn muster(args: Vec<String>, password: Option<&str>) -> Output {
    let env: Vec<(String, String)> = password
        .map(|p| ("MUSTER_PASSWORD".to_owned(), p.to_owned()))
        .into_iter()
        .collect();
    muster_with_env(args, env).await
}

/// Runs `muster` with exactly these `MUSTER_*PASSWORD` (and `MUSTER_LOG`) variables set.
pub(crate) async fn muster_with_env(args: Vec<String>, env: Vec<(String, String)>) -> Output {
    muster_in(None, args, env).await
}

/// Runs `muster` in the working directory `cwd` (the test's own when
/// `None`), with exactly these `MUSTER_*` secrets and settings set.
pub(crate) async fn muster_in(
    cwd: Option<PathBuf>,
    args: Vec<String>,
    env: Vec<(String, String)>,
) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_muster"));
        command
            .args(&args)
            .env_remove("MUSTER_PASSWORD")
            .env_remove("MUSTER_LDAP_PASSWORD")
            .env_remove("MUSTER_GRAPH_SECRET")
            .env_remove("MUSTER_LOG")
            .env_remove("MUSTER_TEST_NOW")
            .envs(env);
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        command.output().unwrap()
    })
    .await
    .unwrap()
}

/// `muster <command>` against `emulator` as its admin, then `rest`.
pub(crate) fn command(emulator: &Emulator, command: &str, rest: &[&str]) -> Vec<String> {
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

/// The command stopped with `code`, and its stderr says `says`.
pub(crate) fn assert_stops(out: &Output, code: i32, says: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(says), "{stderr}");
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) fn writes(emulator: &Emulator) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count()
}

/// The test LDAP server `scripts/ldap-up.sh` started (scripts/test.sh runs it first).
pub(crate) fn ldap_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run `eval \"$(scripts/ldap-up.sh)\"` first (scripts/test.sh does)"
        )
    })
}

/// A connection to the test directory, bound as its admin.
pub(crate) async fn ldap_admin() -> ldap3::Ldap {
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
    ldap
}

/// An attribute's values as ldap3 takes them.
pub(crate) fn set(values: &[&str]) -> std::collections::HashSet<Vec<u8>> {
    values.iter().map(|v| v.as_bytes().to_vec()).collect()
}

/// Writes `ou=<unit>` with Ann and Bob as AD user objects, as the directory's admin.
pub(crate) async fn ldap_people(unit: &str) -> String {
    let mut ldap = ldap_admin().await;
    let ou = format!("ou={unit},{}", ldap_env("MUSTER_LDAP_BASE"));
    // Sales: the group a test may have added (`ldap_group`) in an earlier run.
    for cn in ["Ann Lee", "Bob Ray", "Sales"] {
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
