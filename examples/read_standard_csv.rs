//! Reads a Proofpoint Standard CSV and prints its entries and issues.
//!
//! ```text
//! cargo run --example read_standard_csv -- users.csv
//! ```
//!
//! The source is used the way muster uses every source: as a
//! `Box<dyn DirectorySource>` chosen at run time. Bad rows are printed as
//! issues (file:line, field, value, what was expected) and the good rows
//! around them still come through; a file that cannot be read at all is an
//! error and the exit status is 1.

use std::error::Error as _;
use std::process::ExitCode;

use muster::directory::{DirectorySource, StandardCsv};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: read_standard_csv <file.csv>");
        return ExitCode::from(2);
    };
    let source: Box<dyn DirectorySource> = Box::new(StandardCsv::new(&path));
    let snapshot = match source.fetch().await {
        Ok(s) => s,
        Err(e) => {
            eprint!("error: {e}");
            let mut cause = e.source();
            while let Some(c) = cause {
                eprint!(": {c}");
                cause = c.source();
            }
            eprintln!();
            return ExitCode::FAILURE;
        }
    };
    let provided: Vec<&str> = snapshot.provided.iter().map(|f| f.as_str()).collect();
    println!("source: {}", snapshot.source);
    println!("provided: {}", provided.join(", "));
    for e in &snapshot.entries {
        let at = e
            .location
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let aliases: Vec<&str> = e.aliases.iter().map(|a| a.as_str()).collect();
        println!(
            "entry {at}: {} first={} last={} mobile={} aliases=[{}]",
            e.primary_email,
            e.first_name.as_deref().unwrap_or("-"),
            e.last_name.as_deref().unwrap_or("-"),
            e.mobile.as_deref().unwrap_or("-"),
            aliases.join(" ")
        );
    }
    for issue in &snapshot.issues {
        println!("issue {issue}");
    }
    println!(
        "{} entries, {} issues",
        snapshot.entries.len(),
        snapshot.issues.len()
    );
    ExitCode::SUCCESS
}
