//! Any bytes as a Postini user export joined with an alias export (split at
//! the first NUL byte): issues or a documented error, never a panic; the
//! field rules hold.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use muster_directory::{MappedCsv, PostiniAliases};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (users, aliases) = (&data[..split], data.get(split + 1..).unwrap_or(&[]));
    if let Ok(snapshot) = MappedCsv::postini_users("users.csv")
        .aliases(PostiniAliases::new("aliases.csv"))
        .read_joined(users, aliases)
    {
        common::check(&snapshot);
    }
});
