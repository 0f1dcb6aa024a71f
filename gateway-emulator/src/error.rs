//! The one error type of this crate: what can go wrong while setting up or starting an emulator.

use std::path::PathBuf;

/// Why an emulator could not be configured or started.
///
/// Requests the emulator *answers* never produce this type: they become HTTP
/// responses (400, 401, 409, …) because that is what a client under test
/// must see.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The seed file could not be read.
    #[error("cannot read seed file {path}")]
    SeedFile {
        /// The file that was asked for.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The seed is not valid JSON or does not have the expected shape.
    #[error("seed {origin} is not a valid emulator seed")]
    SeedJson {
        /// Where the seed came from (a file path or `<string>`).
        origin: String,
        /// The parser's message, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The seed is well-formed JSON but describes something the gateway would not accept.
    #[error("invalid seed: {0}")]
    InvalidSeed(String),
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}
