//! Any bytes through the Standard CSV reader, in every layout: issues or a
//! documented error, never a panic; and what it accepts survives a preview round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster_directory::{StandardCsv, StandardLayout, write_standard_csv};

fuzz_target!(|data: &[u8]| {
    for layout in [StandardLayout::Auto, StandardLayout::Current, StandardLayout::Legacy] {
        let Ok(snapshot) = StandardCsv::new("fuzz.csv").layout(layout).read_from(data) else {
            continue;
        };
        let mut preview = Vec::new();
        write_standard_csv(&snapshot.entries, &mut preview).expect("writing to memory");
        let back = StandardCsv::new("preview.csv")
            .read_from(preview.as_slice())
            .expect("a preview reads back");
        assert_eq!(back.entries.len(), snapshot.entries.len());
    }
});
