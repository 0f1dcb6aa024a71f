//! Sources as the rest of muster uses them: behind `Box<dyn DirectorySource>`,
//! from files on disk, and HR rows handed over in memory.

use muster_core::{HrStatus, Location};
use muster_directory::{
    CsvMapping, DirectorySource, Error, HrColumns, HrCsv, MappedCsv, PostiniAliases, StandardCsv,
    hr_from_rows,
};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn sources_chosen_at_run_time_fetch_from_disk() {
    let sources: Vec<Box<dyn DirectorySource>> = vec![
        Box::new(StandardCsv::new(fixture("standard_current.csv")).named("users")),
        Box::new(
            MappedCsv::new(fixture("postini_users.csv"), CsvMapping::postini_users())
                .named("postini")
                .aliases(PostiniAliases::new(fixture("postini_aliases.csv"))),
        ),
    ];
    let users = sources[0].fetch().await.unwrap();
    assert_eq!(sources[0].name(), "users");
    assert_eq!(users.source, "users");
    assert_eq!(users.entries.len(), 5);
    assert_eq!(users.issues[0].location, Location::line("users", 5));
    let postini = sources[1].fetch().await.unwrap();
    assert_eq!(postini.entries.len(), 2);
    assert_eq!(postini.entries[0].aliases.len(), 1);
}

#[tokio::test]
async fn a_missing_file_is_an_error_naming_it_never_an_empty_directory() {
    let source: Box<dyn DirectorySource> = Box::new(StandardCsv::new("/nonexistent/users.csv"));
    let err = source.fetch().await.unwrap_err();
    assert!(matches!(err, Error::Read { .. }), "{err:?}");
    assert_eq!(err.to_string(), "cannot read `/nonexistent/users.csv`");
    let alias_missing = MappedCsv::postini_users(fixture("postini_users.csv"))
        .aliases(PostiniAliases::new("/nonexistent/aliases.csv"))
        .read()
        .unwrap_err();
    assert_eq!(
        alias_missing.to_string(),
        "cannot read `/nonexistent/aliases.csv`"
    );
}

#[test]
fn an_empty_alias_export_is_refused_rather_than_removing_every_alias() {
    let err = MappedCsv::postini_users("u.csv")
        .aliases(PostiniAliases::new("a.csv"))
        .read_joined("address\nann@example.com\n".as_bytes(), "".as_bytes())
        .unwrap_err();
    assert!(
        matches!(err, Error::MissingHeader { ref file } if file == "a.csv"),
        "{err:?}"
    );
}

#[test]
fn a_mapping_that_does_not_fit_the_header_is_an_error() {
    let err = MappedCsv::new("u.csv", CsvMapping::new("mail"))
        .read_from("address,name\nann@example.com,Ann\n".as_bytes())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`u.csv`: the header has no column `mail` (needed for primary_email)"
    );
}

#[test]
fn utf16_files_are_refused_with_advice() {
    let err = StandardCsv::new("u.csv")
        .read_from(&b"\xff\xfeA\x00,\x00"[..])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`u.csv` is UTF-16 (Excel's \"Unicode Text\"); save it as CSV UTF-8 or Windows-1252"
    );
}

#[tokio::test]
async fn hr_from_disk_and_from_memory_agree() {
    let columns = HrColumns::default().map_status("garden leave", HrStatus::Leave);
    let disk = HrCsv::new(fixture("hr.csv"))
        .columns(columns.clone())
        .fetch()
        .await
        .unwrap();
    let rows = vec![
        vec![
            ("Email", "ann@example.com"),
            ("Status", "Active"),
            ("Department", "Ops"),
        ],
        vec![("email", "bob@example.com"), ("STATUS", "Garden Leave")],
        vec![("email", "cy@example.com"), ("status", "terminated")],
        vec![("email", "cy@example.com"), ("status", "Active")],
        vec![("email", "dee@example.com"), ("status", " ")],
        vec![("email", "eve@example.com"), ("status", "Contractor")],
        vec![("status", "Active")],
    ];
    let memory = hr_from_rows("workday", &columns, rows);
    let statuses = |s: &muster_core::HrSnapshot| {
        s.records
            .iter()
            .map(|r| (r.email.to_string(), r.status.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(&memory), statuses(&disk));
    assert_eq!(memory.records[0].attributes["Department"], "Ops");
    let found: Vec<String> = memory.issues.iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        [
            "record #3: status `Active`: expected one status per person; an earlier record says `terminated`, `active` is kept (see also record #2)",
            "record #4: status: expected an employment status (active, terminated, leave, or a value mapped in the HR settings); this person is held: no change",
            "record #5: status `Contractor`: expected an employment status (active, terminated, leave, or a value mapped in the HR settings); this person is held: no change",
            "record #6: email ``: expected an email address like ann@example.com (it is empty)",
        ]
    );
}

/// Produces `rows` Standard CSV rows on demand, cycling through five addresses.
struct Repeating {
    rows: usize,
    next: usize,
    pending: Vec<u8>,
}

impl std::io::Read for Repeating {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.len() < buf.len() && self.next < self.rows {
            let i = self.next % 5;
            self.pending
                .extend_from_slice(format!("First,Last,user{i}@example.com,,\r\n").as_bytes());
            self.next += 1;
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

#[test]
fn a_long_stream_of_repeats_keeps_one_entry_per_address_and_a_bounded_issue_list() {
    let rows = muster_directory::MAX_ISSUES + 2_000;
    let input = Repeating {
        rows,
        next: 0,
        pending: Vec::new(),
    };
    let s = StandardCsv::new("big.csv").read_from(input).unwrap();
    assert_eq!(s.entries.len(), 5);
    assert_eq!(s.issues.len(), muster_directory::MAX_ISSUES + 1);
    let last = s.issues.last().unwrap();
    assert_eq!(last.location, Location::line("big.csv", 10_006));
    assert_eq!(
        last.to_string(),
        "big.csv:10006: expected fewer problems: 1995 more issues from here on are not listed (at most 10000 are kept)"
    );
    // The kept ones are the first, in order, each naming the line that came first.
    assert_eq!(s.issues[0].location, Location::line("big.csv", 6));
    assert_eq!(s.issues[0].related, Some(Location::line("big.csv", 1)));
}

/// Yields some good rows, then fails like a network share that went away.
struct FailsAfter(Vec<u8>);

impl std::io::Read for FailsAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() {
            return Err(std::io::Error::other("connection reset"));
        }
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0.drain(..n);
        Ok(n)
    }
}

#[test]
fn a_read_failure_half_way_is_an_error_never_a_shorter_directory() {
    let rows: String = (0..5_000)
        .map(|i| format!("F,L,user{i}@example.com\n"))
        .collect();
    let err = StandardCsv::new("share.csv")
        .read_from(FailsAfter(rows.into_bytes()))
        .unwrap_err();
    assert!(
        matches!(err, Error::Read { ref file, .. } if file == "share.csv"),
        "{err:?}"
    );
    let source = std::error::Error::source(&err).unwrap();
    assert_eq!(source.to_string(), "connection reset");
    let hr = HrCsv::new("hr.csv")
        .read_from(FailsAfter(b"email,status\na@example.com,active\n".to_vec()));
    assert!(matches!(hr, Err(Error::Read { .. })));
}
