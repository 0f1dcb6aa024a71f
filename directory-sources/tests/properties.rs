//! Laws that must hold for any input: a preview reads back as the entries it
//! was written from, and no byte sequence makes a parser panic.

use std::collections::HashSet;

use muster_core::{DirectoryEntry, EmailAddress, Location};
use muster_directory::{
    CsvMapping, Error, HrCsv, MappedCsv, PostiniAliases, StandardCsv, StandardLayout,
    write_standard_csv,
};
use proptest::prelude::*;

/// Names with everything a spreadsheet or CSV writer trips over: delimiters,
/// quotes, formula starters, a leading `'`, non-ASCII. No control
/// characters: no reader lets one into a name (a field issue instead).
fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z ,;'\"=+@\\-éü]{0,12}"
}

fn mobile() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("\\+[0-9]{7,15}")
}

/// Entries with distinct addresses (uniqueness is tested elsewhere).
fn entries() -> impl Strategy<Value = Vec<DirectoryEntry>> {
    prop::collection::vec((name(), name(), mobile(), 0usize..4, any::<bool>()), 0..20).prop_map(
        |rows| {
            rows.into_iter()
                .enumerate()
                .map(|(i, (first, last, mobile, aliases, upper))| {
                    let local = if upper {
                        format!("User.{i}")
                    } else {
                        format!("user.{i}")
                    };
                    let mut e = DirectoryEntry::new(
                        EmailAddress::parse(&format!("{local}@example.com")).unwrap(),
                    )
                    .with_names(&first, &last)
                    .with_aliases((0..aliases).map(|j| {
                        EmailAddress::parse(&format!("alias.{i}.{j}@example.org")).unwrap()
                    }));
                    e.mobile = mobile;
                    e
                })
                .collect()
        },
    )
}

fn without_locations(mut entries: Vec<DirectoryEntry>) -> Vec<DirectoryEntry> {
    for e in &mut entries {
        e.location = None;
    }
    entries
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_preview_reads_back_as_the_entries_it_was_written_from(entries in entries()) {
        let mut csv = Vec::new();
        write_standard_csv(&entries, &mut csv).unwrap();
        let back = StandardCsv::new("preview.csv").read_from(csv.as_slice()).unwrap();
        prop_assert!(back.issues.is_empty(), "{:?}", back.issues);
        prop_assert_eq!(without_locations(back.entries), entries);
    }

    #[test]
    fn no_cell_of_a_preview_starts_a_formula(entries in entries()) {
        let mut csv = Vec::new();
        write_standard_csv(&entries, &mut csv).unwrap();
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(csv.as_slice());
        for record in reader.records() {
            for cell in record.unwrap().iter() {
                prop_assert!(!cell.starts_with(muster_core::DANGEROUS_LEADING.as_slice()), "{cell:?}");
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_standard_reader(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        for layout in [StandardLayout::Auto, StandardLayout::Current, StandardLayout::Legacy] {
            match StandardCsv::new("x.csv").layout(layout).read_from(bytes.as_slice()) {
                Ok(s) => check_snapshot_invariants(&s)?,
                Err(e) => prop_assert!(
                    matches!(e, Error::UnsupportedEncoding { .. } | Error::MixedEncoding { .. }),
                    "{e:?}"
                ),
            }
        }
    }

    #[test]
    fn csv_like_text_never_panics_any_reader(text in "[a-c@.,;\t\"'\r\n+0-9 =é]{0,400}") {
        let bytes = text.as_bytes();
        let standard = StandardCsv::new("x.csv").read_from(bytes).unwrap();
        check_snapshot_invariants(&standard)?;
        all_header_readers(bytes, bytes)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_header_readers(
        users in prop::collection::vec(any::<u8>(), 0..1024),
        aliases in prop::collection::vec(any::<u8>(), 0..1024),
    ) {
        all_header_readers(&users, &aliases)?;
    }
}

/// Mapped, Postini (joined) and HR readers: only the documented errors, never a panic.
fn all_header_readers(users: &[u8], aliases: &[u8]) -> Result<(), TestCaseError> {
    let expected = |e: &Error| {
        matches!(
            e,
            Error::MissingHeader { .. }
                | Error::MissingColumn { .. }
                | Error::UnsupportedEncoding { .. }
                | Error::MixedEncoding { .. }
        )
    };
    let results = [
        MappedCsv::new("u.csv", CsvMapping::new("a")).read_from(users),
        MappedCsv::postini_users("u.csv")
            .aliases(PostiniAliases::new("a.csv"))
            .read_joined(users, aliases),
    ];
    for result in results {
        match result {
            Ok(s) => check_snapshot_invariants(&s)?,
            Err(e) => prop_assert!(expected(&e), "{e:?}"),
        }
    }
    if let Err(e) = HrCsv::new("h.csv").read_from(users) {
        prop_assert!(expected(&e), "{e:?}");
    }
    Ok(())
}

/// Every address belongs to one entry, and every entry says where it came from.
fn check_snapshot_invariants(s: &muster_core::DirectorySnapshot) -> Result<(), TestCaseError> {
    let mut seen = HashSet::new();
    for e in &s.entries {
        let located = matches!(e.location, Some(Location::Line { .. }));
        prop_assert!(located, "{:?} has no line", e.primary_email);
        for a in e.addresses() {
            prop_assert!(seen.insert(a.normalized().to_owned()), "{a} twice");
        }
        // The field rules held: nothing hidden, undecodable or over-long got through.
        for value in [
            &e.first_name,
            &e.last_name,
            &e.phone,
            &e.company,
            &e.department,
        ] {
            let value = value.as_deref().unwrap_or("");
            prop_assert!(value.chars().count() <= muster_directory::TEXT_MAX_CHARS);
            prop_assert!(
                !value.chars().any(|c| c == '\u{fffd}'
                    || (muster_core::is_hidden(c) && c != '\u{200c}' && c != '\u{200d}')),
                "{value:?}"
            );
        }
    }
    Ok(())
}
