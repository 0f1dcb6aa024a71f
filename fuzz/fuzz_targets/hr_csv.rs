//! Any bytes through the HR CSV reader: issues or a documented error, never
//! a panic; a person is never listed twice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster_directory::HrCsv;

fuzz_target!(|data: &[u8]| {
    let Ok(hr) = HrCsv::new("hr.csv").read_from(data) else {
        return;
    };
    let mut seen = std::collections::HashSet::new();
    for record in &hr.records {
        assert!(seen.insert(record.email.normalized().to_owned()), "{}", record.email);
    }
    for issue in &hr.issues {
        assert!(!issue.to_string().contains(['\n', '\r', '\x1b']), "{issue:?}");
    }
});
