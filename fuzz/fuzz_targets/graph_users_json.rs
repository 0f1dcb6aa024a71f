//! Any bytes as a page of Graph's `/users`: not a page, or entries and
//! issues, never a panic; the field rules hold.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use muster_directory::fuzzing::graph_users_page;

fuzz_target!(|data: &[u8]| {
    for snapshot in graph_users_page(data) {
        common::check(&snapshot);
    }
});
