//! Any text as a saved plan: refused with an error, or read; a plan read
//! writes out and reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster_reconcile::render;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(plan) = render::from_json(text) else {
        return;
    };
    let again = render::json(&plan);
    let back = render::from_json(&again).expect("a plan muster wrote reads back");
    assert_eq!(render::json(&back), again);
    let _ = render::text(&plan);
});
