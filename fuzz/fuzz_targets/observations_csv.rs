//! Any bytes as SMTP-discovery observations: issues or a documented error,
//! never a panic; a display name kept obeys the field rules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster_directory::{ObservationCsv, TEXT_MAX_CHARS};

fuzz_target!(|data: &[u8]| {
    let Ok(read) = ObservationCsv::new("log.csv").read_from(data) else {
        return;
    };
    for o in &read.observations {
        assert!(o.first_seen <= o.last_seen);
        if let Some(name) = &o.display_name {
            assert!(name.chars().count() <= TEXT_MAX_CHARS, "{name:?}");
            assert!(!name.chars().any(|c| c.is_control()), "{name:?}");
        }
    }
});
