//! Every quirk fixture, read and checked for its exact entries, provided
//! fields and issues (with line numbers).

use muster_core::{
    DirectoryEntry, DirectorySnapshot, ExternalId, Field, FieldSet, HrStatus, Location,
    RecipientKind,
};
use muster_directory::{
    CsvFormat, CsvMapping, Encoding, HeaderRow, HrColumns, HrCsv, MappedCsv, PostiniAliases,
    StandardCsv, StandardLayout,
};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("fixtures/", $name)).as_slice()
    };
}

fn user(file: &str, line: u64, primary: &str, first: &str, last: &str) -> DirectoryEntry {
    DirectoryEntry::new(primary.parse().unwrap())
        .with_names(first, last)
        .with_location(Location::line(file, line))
}

fn with_mobile(mut e: DirectoryEntry, mobile: &str) -> DirectoryEntry {
    e.mobile = Some(mobile.to_owned());
    e
}

fn with_aliases(e: DirectoryEntry, aliases: &[&str]) -> DirectoryEntry {
    e.with_aliases(aliases.iter().map(|a| a.parse().unwrap()))
}

fn with_withheld(mut e: DirectoryEntry, field: Field) -> DirectoryEntry {
    e.withheld.insert(field);
    e
}

fn fields(list: &[Field]) -> FieldSet {
    list.iter().copied().collect()
}

fn issues(s: &DirectorySnapshot) -> Vec<String> {
    s.issues.iter().map(ToString::to_string).collect()
}

fn standard(name: &str, bytes: &[u8]) -> DirectorySnapshot {
    StandardCsv::new(name).read_from(bytes).unwrap()
}

const MOBILE: &str =
    "expected an international phone number like +447700900123 (a `+` and 7 to 15 digits)";

#[test]
fn current_layout_with_header_spaces_in_mobiles_trailing_columns_and_blank_lines() {
    let f = "standard_current.csv";
    let s = standard(f, fixture!("standard_current.csv"));
    assert_eq!(
        s.entries,
        vec![
            with_mobile(
                user(f, 2, "john.smith@example.com", "John", "Smith"),
                "+447123456789"
            ),
            with_aliases(
                with_mobile(
                    user(f, 3, "tom.smith@example.com", "Tom", "Smith"),
                    "+14512345678"
                ),
                &["tom.smith.alias@example.com"]
            ),
            // An unreadable mobile leaves the gateway's number as it is.
            with_withheld(
                user(f, 5, "ann.lee@example.com", "Ann", "Lee"),
                Field::Mobile
            ),
            with_withheld(user(f, 6, "bob@example.com", "Bob", ""), Field::Mobile),
            user(f, 7, "noname@example.com", "", ""),
        ]
    );
    assert_eq!(
        s.provided,
        fields(&[
            Field::FirstName,
            Field::LastName,
            Field::Aliases,
            Field::Mobile
        ])
    );
    assert_eq!(
        issues(&s),
        [
            format!("{f}:5: mobile `07700 900123`: {MOBILE}"),
            format!(
                "{f}:6: mobile `bob.r@example.com`: {MOBILE}; an address here means a pre-2021 file: set the layout to legacy"
            ),
        ]
    );
    assert!(s.is_complete());
}

#[test]
fn legacy_layout_is_detected_from_an_address_in_the_fourth_column() {
    let f = "standard_legacy.csv";
    let s = standard(f, fixture!("standard_legacy.csv"));
    assert_eq!(
        s.entries,
        vec![
            user(f, 1, "ann@example.com", "Ann", "Lee"),
            with_aliases(
                user(f, 2, "bob@example.com", "Bob", "Ray"),
                &["bob.ray@example.com", "b.ray@example.com"]
            ),
            with_aliases(
                user(f, 3, "cy@example.com", "Cy", "Oh"),
                &["cy.oh@example.com"]
            ),
        ]
    );
    assert_eq!(
        s.provided,
        fields(&[Field::FirstName, Field::LastName, Field::Aliases])
    );
    assert!(s.issues.is_empty());
}

#[test]
fn a_configured_current_layout_reads_the_same_file_as_bad_mobiles() {
    let f = "standard_legacy.csv";
    let s = StandardCsv::new(f)
        .layout(StandardLayout::Current)
        .read_from(fixture!("standard_legacy.csv"))
        .unwrap();
    assert_eq!(
        s.entries[1],
        with_withheld(
            with_aliases(
                user(f, 2, "bob@example.com", "Bob", "Ray"),
                &["b.ray@example.com"]
            ),
            Field::Mobile
        )
    );
    assert_eq!(
        s.provided,
        fields(&[
            Field::FirstName,
            Field::LastName,
            Field::Aliases,
            Field::Mobile
        ])
    );
    assert_eq!(issues(&s).len(), 1);
    assert!(issues(&s)[0].starts_with(&format!("{f}:2: mobile `bob.ray@example.com`")));
}

#[test]
fn bom_crlf_semicolons_quoted_delimiters_and_newlines() {
    let f = "standard_bom_crlf_semicolon.csv";
    let s = standard(f, fixture!("standard_bom_crlf_semicolon.csv"));
    assert_eq!(
        s.entries,
        vec![
            with_mobile(
                user(f, 2, "lee@example.com", "Lee; Jr.", "O'Neil"),
                "+33612345678"
            ),
            // A line break is no part of a name: a field issue, and the
            // record (its address, its alias) is still read.
            with_withheld(
                with_aliases(
                    user(f, 3, "multi@example.com", "", "Name"),
                    &["m@example.com"]
                ),
                Field::FirstName
            ),
            // The quoted newline makes the record two lines long and a blank line follows.
            user(f, 6, "zoe@example.com", "Zoë", "Müller"),
        ]
    );
    assert_eq!(
        s.provided,
        fields(&[
            Field::FirstName,
            Field::LastName,
            Field::Aliases,
            Field::Mobile
        ])
    );
    assert_eq!(
        issues(&s),
        [format!(
            "{f}:3: first_name `Multi\\r\\nLine`: expected text without a control character (U+000D); this field is left as it is on the gateway"
        )]
    );
    assert!(s.is_complete());
}

#[test]
fn windows_1252_tab_separated_without_header() {
    let f = "standard_windows1252_tab.csv";
    let s = standard(f, fixture!("standard_windows1252_tab.csv"));
    assert_eq!(
        s.entries,
        vec![
            with_mobile(
                user(f, 1, "jose@example.com", "José", "García"),
                "+34600111222"
            ),
            with_aliases(
                user(f, 2, "juergen@example.com", "Jürgen", "Müller"),
                &["j.mueller@example.com"]
            ),
        ]
    );
    assert_eq!(
        s.provided,
        fields(&[
            Field::FirstName,
            Field::LastName,
            Field::Aliases,
            Field::Mobile
        ])
    );
    assert!(s.issues.is_empty());
}

#[test]
fn duplicates_and_primary_alias_conflicts_name_both_lines() {
    let f = "standard_duplicates.csv";
    let s = standard(f, fixture!("standard_duplicates.csv"));
    assert_eq!(
        s.entries,
        vec![
            user(f, 1, "ann@example.com", "Ann", "Lee"),
            user(f, 2, "bob@example.com", "Bob", "Ray"),
            user(f, 4, "sales@example.com", "Sal", "Es"),
            // One alias that is no address: Cy's aliases stay as the gateway has them.
            with_withheld(
                with_aliases(
                    user(f, 5, "cy@example.com", "Cy", "Oh"),
                    &["cy2@example.com"]
                ),
                Field::Aliases
            ),
            user(f, 6, "di@example.com", "Di", "Al"),
        ]
    );
    // No mobile column value anywhere: the layout stays undecided and mobile is not provided.
    assert_eq!(
        s.provided,
        fields(&[Field::FirstName, Field::LastName, Field::Aliases])
    );
    assert_eq!(
        issues(&s),
        [
            format!(
                "{f}:1: alias `sales@example.com`: expected an alias that is not another user's primary address (see also {f}:4)"
            ),
            format!(
                "{f}:3: primary_email `ANN@example.com`: expected a primary address that no earlier line uses (see also {f}:1)"
            ),
            format!(
                "{f}:5: alias `not an address`: expected an email address like ann@example.com (it contains whitespace); the aliases are left as they are on the gateway"
            ),
            format!(
                "{f}:5: alias `bob@example.com`: expected an alias that is not another user's primary address (see also {f}:2)"
            ),
            format!(
                "{f}:6: alias `cy2@example.com`: expected an alias that no other user has (see also {f}:5)"
            ),
            format!(
                "{f}:7: primary_email `ed.example.com`: expected an email address like ann@example.com (it has no `@`)"
            ),
        ]
    );
}

#[test]
fn three_columns_provide_names_only() {
    let f = "standard_three_columns.csv";
    let s = standard(f, fixture!("standard_three_columns.csv"));
    assert_eq!(
        s.entries,
        vec![
            user(f, 1, "ann@example.com", "Ann", "Lee"),
            user(f, 2, "bob@example.com", "Bob", "Ray"),
        ]
    );
    assert_eq!(s.provided, fields(&[Field::FirstName, Field::LastName]));
    assert!(s.issues.is_empty());
}

#[test]
fn a_utf8_file_with_a_line_that_is_not_utf8_is_refused_whole_unless_the_encoding_is_set() {
    let f = "standard_invalid_utf8.csv";
    let err = StandardCsv::new(f)
        .read_from(fixture!("standard_invalid_utf8.csv"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`standard_invalid_utf8.csv` mixes encodings: a UTF-8 byte-order mark is UTF-8 but line 2 is not; \
         save it again as CSV UTF-8, or set the source's encoding (\"utf-8\": the other bytes become field issues; \
         \"windows-1252\": the UTF-8 is read as Windows-1252)"
    );
    // Set to UTF-8: the record is read, the name it cannot decode is a field
    // issue and left as the gateway has it.
    let s = StandardCsv::new(f)
        .format(CsvFormat::default().encoding(Encoding::Utf8))
        .read_from(fixture!("standard_invalid_utf8.csv"))
        .unwrap();
    let jose = with_withheld(user(f, 2, "jose@example.com", "", "Bad"), Field::FirstName);
    assert_eq!(
        s.entries,
        vec![
            user(f, 1, "zoe@example.com", "Zoë", "Lee"),
            jose,
            user(f, 3, "ann@example.com", "Ann", "Lee"),
        ]
    );
    assert_eq!(s.provided, fields(&[Field::FirstName, Field::LastName]));
    assert_eq!(
        issues(&s),
        [format!(
            "{f}:2: first_name `Jos\u{FFFD}`: expected text without bytes that are not text in the file's encoding; this field is left as it is on the gateway"
        )]
    );
    // Told it is Windows-1252, the same file reads completely (and the BOM'd first line as 1252).
    let s = StandardCsv::new(f)
        .format(CsvFormat::default().encoding(Encoding::Windows1252))
        .read_from(fixture!("standard_invalid_utf8.csv"))
        .unwrap();
    assert_eq!(s.entries.len(), 3);
    assert_eq!(s.entries[1].first_name.as_deref(), Some("José"));
}

#[test]
fn quoted_commas_and_quotes_with_a_formula_kept_as_text() {
    let f = "standard_quoted.csv";
    let s = standard(f, fixture!("standard_quoted.csv"));
    assert_eq!(
        s.entries,
        vec![
            user(
                f,
                2,
                "smith@example.com",
                "Smith, Jr.",
                "=HYPERLINK(\"http://x\")"
            ),
            with_mobile(
                user(f, 3, "hi@example.com", "He said \"hi\"", "Lee"),
                "+447700900123"
            ),
        ]
    );
    assert_eq!(
        s.provided,
        fields(&[Field::FirstName, Field::LastName, Field::Mobile])
    );
    assert!(s.issues.is_empty());
}

#[test]
fn header_absent_reads_a_header_like_first_row_as_data() {
    let s = StandardCsv::new("h.csv")
        .header(HeaderRow::Absent)
        .read_from(fixture!("standard_quoted.csv"))
        .unwrap();
    assert_eq!(s.entries.len(), 2);
    assert_eq!(
        issues(&s),
        [
            "h.csv:1: primary_email `Primary Email`: expected an email address like ann@example.com (it contains whitespace)"
        ]
    );
}

fn people_mapping() -> CsvMapping {
    CsvMapping::new("Mail")
        .column(Field::FirstName, "Given")
        .column(Field::LastName, "Family")
        .column(Field::Aliases, "Other Addresses")
        .separator(Field::Aliases, ';')
        .column(Field::Mobile, "Cell")
        .column(Field::Phone, "Office Phone")
        .column(Field::Company, "Org")
        .column(Field::Department, "Dept")
        .column(Field::Notes, "Info")
        .column(Field::Enabled, "Active")
        .column(Field::Kind, "Type")
        .column(Field::ExternalId, "Employee ID")
}

#[test]
fn mapped_csv_reads_every_mapped_field_and_reports_bad_values() {
    let f = "mapped_people.csv";
    let s = MappedCsv::new(f, people_mapping())
        .read_from(fixture!("mapped_people.csv"))
        .unwrap();
    let mut ann = with_mobile(
        with_aliases(
            user(f, 2, "ann@example.com", "Ann", "Lee"),
            &["a.lee@example.com", "ann.l@example.com"],
        ),
        "+447700900123",
    );
    ann.phone = Some("020 7946 0000".into());
    ann.company = Some("Acme".into());
    ann.department = Some("Ops".into());
    ann.notes = Some("VIP".into());
    ann.external_id = Some(ExternalId::new("E1").unwrap());
    let mut room = user(f, 3, "rooms@example.com", "Board", "Room")
        .with_kind(RecipientKind::RoomMailbox)
        .with_enabled(false);
    room.external_id = Some(ExternalId::new("E2").unwrap());
    // Bad values leave the fields at their harmless defaults: enabled, a user mailbox.
    // ... and are left as the gateway has them.
    let mut bob = user(f, 4, "bob@example.com", "Bob", "Ray");
    bob.withheld = fields(&[Field::Aliases, Field::Mobile, Field::Enabled, Field::Kind]);
    assert_eq!(s.entries, vec![ann, room, bob]);
    assert_eq!(
        s.provided,
        fields(&[
            Field::FirstName,
            Field::LastName,
            Field::Aliases,
            Field::Mobile,
            Field::Phone,
            Field::Company,
            Field::Department,
            Field::Notes,
            Field::Enabled,
            Field::Kind,
            Field::ExternalId,
        ])
    );
    assert_eq!(
        issues(&s),
        [
            format!(
                "{f}:4: Other Addresses `bad alias`: expected an email address like ann@example.com (it contains whitespace); the aliases are left as they are on the gateway"
            ),
            format!("{f}:4: Cell `07700`: {MOBILE}"),
            format!(
                "{f}:4: Active `maybe`: expected yes/no, true/false, 1/0 or enabled/disabled (kept enabled)"
            ),
            format!(
                "{f}:4: Type `robot`: expected one of user_mailbox, shared_mailbox, room_mailbox, distribution_group, security_group, contact, public_folder"
            ),
        ]
    );
}

#[test]
fn mapped_csv_provides_only_columns_that_exist() {
    let mapping = CsvMapping::new("mail").optional_column(Field::Mobile, "cell");
    let s = MappedCsv::new("m.csv", mapping)
        .read_from("mail\nann@example.com\n".as_bytes())
        .unwrap();
    assert_eq!(s.provided, FieldSet::empty());
    let err = MappedCsv::new("m.csv", CsvMapping::new("mail"))
        .read_from("".as_bytes())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`m.csv`: no header row; a mapped CSV must name its columns"
    );
}

#[test]
fn postini_users_join_aliases_by_user_id_and_by_address() {
    let (u, a) = ("postini_users.csv", "postini_aliases.csv");
    let s = MappedCsv::postini_users(u)
        .aliases(PostiniAliases::new(a))
        .read_joined(
            fixture!("postini_users.csv"),
            fixture!("postini_aliases.csv"),
        )
        .unwrap();
    let mut ann = with_aliases(
        user(u, 2, "ann@example.com", "Ann", "Lee"),
        &["a.lee@example.com"],
    );
    ann.external_id = Some(ExternalId::new("101").unwrap());
    ann.allow_senders = ["partner.com", "boss@example.org"].map(String::from).into();
    ann.block_senders = ["spam.example".to_owned()].into();
    let mut bob = with_aliases(
        user(u, 3, "bob@example.com", "Bob", "Ray"),
        &["bobby@example.com"],
    );
    bob.external_id = Some(ExternalId::new("102").unwrap());
    assert_eq!(s.entries, vec![ann, bob]);
    assert_eq!(
        s.provided,
        fields(&[
            Field::FirstName,
            Field::LastName,
            Field::Aliases,
            Field::AllowSenders,
            Field::BlockSenders,
            Field::ExternalId,
        ])
    );
    assert_eq!(
        issues(&s),
        [
            format!(
                "{a}:4: user_id `999`: expected the owner of alias ghost@example.com among the users (by user id or address)"
            ),
            format!(
                "{a}:5: alias `ann@example.com`: expected an alias that is not another user's primary address (see also {u}:2)"
            ),
        ]
    );
}

/// A record as (email, status, attributes, location).
type HrRow = (String, HrStatus, Vec<(String, String)>, Option<Location>);

#[test]
fn hr_csv_maps_statuses_keeps_attributes_and_reports_conflicts_and_unknown_statuses() {
    let f = "hr.csv";
    let columns = HrColumns::default().map_status("Garden Leave", HrStatus::Leave);
    let hr = HrCsv::new(f)
        .columns(columns)
        .read_from(fixture!("hr.csv"))
        .unwrap();
    let got: Vec<HrRow> = hr
        .records
        .iter()
        .map(|r| {
            (
                r.email.to_string(),
                r.status.clone(),
                r.attributes.clone().into_iter().collect(),
                r.location.clone(),
            )
        })
        .collect();
    let attrs = |d: &str, m: &str| {
        vec![
            ("Department".to_owned(), d.to_owned()),
            ("Manager".to_owned(), m.to_owned()),
        ]
    };
    assert_eq!(
        got,
        vec![
            (
                "ann@example.com".into(),
                HrStatus::Active,
                attrs("Ops", "bob@example.com"),
                Some(Location::line(f, 2))
            ),
            (
                "bob@example.com".into(),
                HrStatus::Leave,
                attrs("Ops", ""),
                Some(Location::line(f, 3))
            ),
            // Terminated on line 4, active on line 6: the reading that changes less wins.
            (
                "cy@example.com".into(),
                HrStatus::Active,
                attrs("Sales", ""),
                Some(Location::line(f, 4))
            ),
            // A blank status (line 8) and an unknown one (line 9) are
            // issues, and the person is kept with a status the HR rule never
            // acts on: held, not "absent from HR".
            (
                "dee@example.com".into(),
                HrStatus::Other(String::new()),
                attrs("Ops", ""),
                Some(Location::line(f, 8))
            ),
            (
                "eve@example.com".into(),
                HrStatus::Other("Contractor".into()),
                attrs("IT", ""),
                Some(Location::line(f, 9))
            ),
        ]
    );
    let found: Vec<String> = hr.issues.iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        [
            format!(
                "{f}:6: status `Active`: expected one status per person; an earlier record says `terminated`, `active` is kept (see also {f}:4)"
            ),
            format!(
                "{f}:7: email `not-an-address`: expected an email address like ann@example.com (it has no `@`)"
            ),
            format!(
                "{f}:8: status: expected an employment status (active, terminated, leave, or a value mapped in the HR settings); this person is held: no change"
            ),
            format!(
                "{f}:9: status `Contractor`: expected an employment status (active, terminated, leave, or a value mapped in the HR settings); this person is held: no change"
            ),
        ]
    );
    assert!(hr.is_complete());
}

#[test]
fn windows_1252_then_utf8_is_refused_whole_rather_than_renamed_to_mojibake() {
    let f = "standard_mojibake.csv";
    let err = standard_error(f, fixture!("standard_mojibake.csv"));
    assert_eq!(
        err,
        "`standard_mojibake.csv` mixes encodings: line 3 is UTF-8 but line 2 is not; save it again \
         as CSV UTF-8, or set the source's encoding (\"utf-8\": the other bytes become field issues; \
         \"windows-1252\": the UTF-8 is read as Windows-1252)"
    );
    // Set to UTF-8: José is read, the names it cannot decode are left as the gateway has them.
    let s = StandardCsv::new(f)
        .format(CsvFormat::default().encoding(Encoding::Utf8))
        .read_from(fixture!("standard_mojibake.csv"))
        .unwrap();
    assert_eq!(
        s.entries,
        vec![
            with_withheld(
                with_withheld(user(f, 2, "jose@example.com", "", ""), Field::FirstName),
                Field::LastName
            ),
            user(f, 3, "zoe@example.com", "Zoë", "Müller"),
            user(f, 4, "ann@example.com", "Ann", "Lee"),
        ]
    );
    let undecodable = "expected text without bytes that are not text in the file's encoding; \
                       this field is left as it is on the gateway";
    assert_eq!(
        issues(&s),
        [
            format!("{f}:2: first_name `Jos\u{fffd}`: {undecodable}"),
            format!("{f}:2: last_name `Garc\u{fffd}a`: {undecodable}"),
        ]
    );
    // Set to Windows-1252, it is read as asked: the mojibake is the caller's choice.
    let s = StandardCsv::new(f)
        .format(CsvFormat::default().encoding(Encoding::Windows1252))
        .read_from(fixture!("standard_mojibake.csv"))
        .unwrap();
    let names: Vec<_> = s.entries.iter().map(|e| e.first_name.as_deref()).collect();
    assert_eq!(names, [Some("José"), Some("ZoÃ«"), Some("Ann")]);
}

fn standard_error(name: &str, bytes: &[u8]) -> String {
    StandardCsv::new(name)
        .read_from(bytes)
        .unwrap_err()
        .to_string()
}

#[test]
fn cr_only_lines_are_counted_for_every_entry_and_issue() {
    // Excel's "CSV (Macintosh)": every line ends in CR alone, a blank line
    // at 3, a quoted CR inside a name at 5.
    let f = "standard_cr_only.csv";
    let s = standard(f, fixture!("standard_cr_only.csv"));
    assert_eq!(
        s.entries,
        vec![
            with_mobile(user(f, 2, "ann@example.com", "Ann", "Lee"), "+447700900123"),
            with_withheld(user(f, 4, "bob@example.com", "Bob", "Ray"), Field::Mobile),
            with_withheld(user(f, 5, "cy@example.com", "", "Oh"), Field::FirstName),
            user(f, 8, "di@example.com", "Di", "Ng"),
        ]
    );
    assert_eq!(
        issues(&s),
        [
            format!("{f}:4: mobile `07700 900123`: {MOBILE}"),
            format!(
                "{f}:5: first_name `Cy\\rJr`: expected text without a control character (U+000D); \
                 this field is left as it is on the gateway"
            ),
            format!(
                "{f}:7: primary_email `ann@example.com`: expected a primary address that no earlier \
                 line uses (see also {f}:2)"
            ),
        ]
    );
    assert!(s.is_complete());
}

#[test]
fn a_macintosh_csv_with_mac_roman_text_is_refused_not_read_as_windows_1252() {
    let err = standard_error(
        "standard_mac_roman_cr.csv",
        fixture!("standard_mac_roman_cr.csv"),
    );
    assert_eq!(
        err,
        "`standard_mac_roman_cr.csv` is most likely Mac Roman (Excel's \"CSV (Macintosh)\": its \
         lines end in CR alone and hold bytes that are not UTF-8); save it as CSV UTF-8 or \
         Windows-1252"
    );
}

#[test]
fn utf16_without_a_bom_is_refused_with_advice_not_read_as_control_characters() {
    let err = standard_error(
        "standard_utf16le_no_bom.csv",
        fixture!("standard_utf16le_no_bom.csv"),
    );
    assert_eq!(
        err,
        "`standard_utf16le_no_bom.csv` is UTF-16LE without a byte-order mark (a NUL byte after \
         every letter); save it as CSV UTF-8 or Windows-1252"
    );
    // Every reader refuses it alike.
    let mapped = MappedCsv::new("m.csv", CsvMapping::new("Primary Email"))
        .read_from(fixture!("standard_utf16le_no_bom.csv"))
        .unwrap_err();
    assert!(mapped.to_string().contains("UTF-16LE"), "{mapped}");
    let hr = HrCsv::new("h.csv")
        .read_from(fixture!("standard_utf16le_no_bom.csv"))
        .unwrap_err();
    assert!(hr.to_string().contains("UTF-16LE"), "{hr}");
}

#[test]
fn an_hr_file_whose_quote_swallows_rows_is_incomplete_and_names_the_quote() {
    // Ann's two-line note is a value; Bob's opens a quote that swallows Cy's
    // row (and with it her termination) until Di's note closes it.
    let f = "hr_swallowed_rows.csv";
    let s = HrCsv::new(f)
        .read_from(fixture!("hr_swallowed_rows.csv"))
        .unwrap();
    let records: Vec<(&str, u64)> = s
        .records
        .iter()
        .map(|r| {
            let Some(Location::Line { line, .. }) = r.location else {
                panic!("{r:?}")
            };
            (r.email.as_str(), line)
        })
        .collect();
    assert_eq!(records, [("ann@example.com", 2), ("ed@example.com", 7)]);
    assert_eq!(
        s.completeness,
        muster_core::Completeness::Partial {
            reason: "the quote opened at line 4 takes 3 lines that hold rows".to_owned()
        }
    );
    let issues: Vec<String> = s.issues.iter().map(ToString::to_string).collect();
    assert_eq!(
        issues,
        [format!(
            "{f}:4: column 3: expected a quoted value without rows in it: the quote that opens here \
             takes 3 lines, 2 of which look like rows of their own; the file is read as incomplete: \
             nothing is flagged, deactivated or deleted"
        )]
    );
}
