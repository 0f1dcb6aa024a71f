//! Runs `examples/read_standard_csv.rs` the way a user would and checks what it prints.

mod support;

fn run_example(file: &str) -> std::process::Output {
    support::run_example("read_standard_csv", &[file], &[])
}

#[test]
fn the_example_prints_entries_and_issues_with_line_numbers() {
    let file = "directory-sources/tests/fixtures/standard_current.csv";
    let out = run_example(file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = format!(
        "source: {file}
provided: first_name, last_name, aliases, mobile
entry {file}:2: john.smith@example.com first=John last=Smith mobile=+447123456789 aliases=[]
entry {file}:3: tom.smith@example.com first=Tom last=Smith mobile=+14512345678 aliases=[tom.smith.alias@example.com]
entry {file}:5: ann.lee@example.com first=Ann last=Lee mobile=- aliases=[]
entry {file}:6: bob@example.com first=Bob last=- mobile=- aliases=[]
entry {file}:7: noname@example.com first=- last=- mobile=- aliases=[]
issue {file}:5: mobile `07700 900123`: expected an international phone number like +447700900123 (a `+` and 7 to 15 digits)
issue {file}:6: mobile `bob.r@example.com`: expected an international phone number like +447700900123 (a `+` and 7 to 15 digits); an address here means a pre-2021 file: set the layout to legacy
5 entries, 2 issues
"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}

#[test]
fn the_example_fails_loudly_on_a_missing_file() {
    let out = run_example("no/such/file.csv");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot read `no/such/file.csv`: "),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
