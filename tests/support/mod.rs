//! Helpers shared by the workspace-level tests.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Mutex;

/// The path of an example binary, built once per test process by the same
/// cargo that runs the tests (`cargo test --test x` alone does not build
/// examples).
pub(crate) fn example_binary(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built
        .get_or_insert_with(HashSet::new)
        .insert(name.to_owned())
    {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the example `{name}` failed");
    }
    let mut path = std::env::current_exe().expect("test executable path");
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Runs an example with arguments and extra environment variables, from the
/// workspace root, and returns what it did.
pub(crate) fn run_example(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(example_binary(name))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the example runs")
}
