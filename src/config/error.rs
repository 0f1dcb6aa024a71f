//! What can be wrong with a config.

use std::path::PathBuf;

/// A config that cannot be used. Each names the spot: the file and line
/// when the setting came from a file, and the key (`source[1].filter`,
/// `policy.delete_delay`), then what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file (or a file it names) could not be read.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A key or value is wrong: `muster.toml:12: source[1].kind: …`.
    #[error("{}{key}: {problem}", at(file.as_ref(), *line))]
    Invalid {
        /// The config file, when the setting came from one (not from flags).
        file: Option<PathBuf>,
        /// The line of the key (1-based), when known.
        line: Option<usize>,
        /// The key, as a path (`source[1].filter`).
        key: String,
        /// What is wrong and what was expected.
        problem: String,
    },
    /// A secret the config points at could not be read (the variable is
    /// unset, the file unreadable). The secret itself is never shown.
    #[error("{key}: {problem}")]
    Secret {
        /// The key naming the secret (`gateway.password_env`).
        key: String,
        /// What is missing.
        problem: String,
    },
}

/// `muster.toml:12: `, `muster.toml: `, or nothing (settings from flags).
fn at(file: Option<&PathBuf>, line: Option<usize>) -> String {
    match (file, line) {
        (Some(file), Some(line)) => format!("{}:{line}: ", file.display()),
        (Some(file), None) => format!("{}: ", file.display()),
        _ => String::new(),
    }
}
