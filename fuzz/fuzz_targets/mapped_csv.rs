//! Any bytes as a header-mapped CSV with every field mapped: issues or a
//! documented error, never a panic; the field rules hold.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use muster_core::Field;
use muster_directory::{CsvMapping, MappedCsv};

fuzz_target!(|data: &[u8]| {
    let mapping = [
        (Field::FirstName, "first"),
        (Field::LastName, "last"),
        (Field::Aliases, "alias"),
        (Field::Mobile, "mobile"),
        (Field::Phone, "phone"),
        (Field::Company, "company"),
        (Field::Department, "dept"),
        (Field::Notes, "notes"),
        (Field::Enabled, "enabled"),
        (Field::Groups, "groups"),
        (Field::Kind, "kind"),
        (Field::AllowSenders, "allow"),
        (Field::BlockSenders, "block"),
        (Field::ExternalId, "id"),
    ]
    .into_iter()
    .fold(CsvMapping::new("email"), |m, (field, header)| {
        m.optional_column(field, header)
    })
    .separator(Field::Aliases, ';');
    if let Ok(snapshot) = MappedCsv::new("fuzz.csv", mapping).read_from(data) {
        common::check(&snapshot);
    }
});
