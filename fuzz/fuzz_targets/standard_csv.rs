//! Any bytes through the Standard CSV reader, in every layout and encoding:
//! issues or a documented error, never a panic; the field rules hold; and
//! what it accepts survives a preview round trip.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use muster_directory::{CsvFormat, Encoding, StandardCsv, StandardLayout, write_standard_csv};

fuzz_target!(|data: &[u8]| {
    for layout in [StandardLayout::Auto, StandardLayout::Current, StandardLayout::Legacy] {
        for encoding in [Encoding::Auto, Encoding::Utf8, Encoding::Windows1252] {
            let Ok(snapshot) = StandardCsv::new("fuzz.csv")
                .layout(layout)
                .format(CsvFormat::default().encoding(encoding))
                .read_from(data)
            else {
                continue;
            };
            common::check(&snapshot);
            let mut preview = Vec::new();
            write_standard_csv(&snapshot.entries, &mut preview).expect("writing to memory");
            let back = StandardCsv::new("preview.csv")
                .read_from(preview.as_slice())
                .expect("a preview reads back");
            assert_eq!(back.entries.len(), snapshot.entries.len());
            assert!(back.is_complete(), "{:?}", back.completeness);
        }
    }
});
