//! Any text as a config file: an error naming where, or a config; a config
//! read can be printed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::from_toml(text, "/fuzz/muster.toml") {
        let _ = config.to_toml();
    }
});
