//! Any bytes through the HR CSV reader: issues or a documented error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster_directory::HrCsv;

fuzz_target!(|data: &[u8]| {
    let _ = HrCsv::new("hr.csv").read_from(data);
});
