//! One config file per organisation's sync: `muster.toml`.
//!
//! The file names the gateway organisation and its login, every directory
//! source (exactly one authoritative), the HR records, every policy setting
//! and where muster keeps its files. It is what `muster plan --config`
//! reads, and what the Python package reads too; flags only override it.
//!
//! ```
//! use muster::config::Config;
//! let config = Config::from_toml(r#"
//!     [gateway]
//!     stack = "us1"
//!     org = "example.com"
//!     login = "muster-sync@example.com"
//!     password_env = "MUSTER_PASSWORD"
//!
//!     [[source]]
//!     name = "staff"
//!     role = "authoritative"
//!     kind = "csv"
//!     path = "staff.csv"
//!
//!     [policy]
//!     new_user_role = "silent_user"
//!     delete_delay = "14d"
//! "#, "/etc/muster/example.com.toml")?;
//! config.check()?;
//! assert_eq!(config.policy()?.delete_delay().keyword(), "14d");
//!
//! // An unknown key names its file, line and key, and lists the valid ones:
//! let err = Config::from_toml("[policy]\ndelete_dealy = \"7d\"\n", "muster.toml").unwrap_err();
//! assert!(err.to_string().starts_with("muster.toml:2: policy.delete_dealy: unknown field"));
//! # Ok::<(), muster::config::ConfigError>(())
//! ```
//!
//! Secrets are never in the file: each is named by `password_env` (an
//! environment variable) or `password_file`; a key such as `password = …`
//! is refused. Relative paths are resolved against the file's folder, and a
//! source's `name`, never its path, is its identity in muster's state, so a
//! config can move without turning anybody into a conflict.

mod error;
mod file;
mod load;
mod read;
mod resolve;

use std::path::{Path, PathBuf};

pub use error::ConfigError;
pub use file::{
    AdditionConfig, Config, CsvConfig, DiscoveryConfig, FilesConfig, GatewayConfig, GraphConfig,
    Headers, HrConfig, KindRule, LdapConfig, MappedCsvConfig, NewUserRole, PolicyConfig,
    PostiniConfig, SharedRateLimitConfig, SigningConfig, SourceConfig, SourceSettings, StatusWord,
    ThresholdConfig,
};
pub use read::{Directory, GraphRound, ReadError, load_ledger};
pub use resolve::{
    DEFAULT_REQUESTS_PER_MINUTE, GATEWAY_PASSWORD_ENV, GRAPH_SECRET_ENV, LDAP_PASSWORD_ENV,
    PLAN_KEY_ENV, REDIS_URL_ENV,
};

impl Config {
    /// The journal an apply of the plan with `fingerprint` writes: `given`
    /// (`--journal`, `journal=`) when there is one, else
    /// `<files.journals>/<fingerprint>.journal`, else none. The folder it
    /// is in is created, owner-only ([`create_private_folder`](crate::create_private_folder)),
    /// so a first run on a fresh volume is not refused for a missing folder.
    ///
    /// # Errors
    /// When the folder cannot be created: the error and the folder.
    pub fn journal_for(
        &self,
        fingerprint: &str,
        given: Option<PathBuf>,
    ) -> Result<Option<PathBuf>, crate::FolderError> {
        let journal = match (given, &self.files.journals) {
            (Some(path), _) => path,
            (None, Some(folder)) => folder.join(format!("{fingerprint}.journal")),
            (None, None) => return Ok(None),
        };
        if let Some(folder) = journal.parent().filter(|f| !f.as_os_str().is_empty()) {
            crate::create_private_folder(folder).map_err(|source| crate::FolderError {
                folder: folder.to_owned(),
                source,
            })?;
        }
        Ok(Some(journal))
    }

    /// Reads the config file at `path`.
    ///
    /// # Errors
    /// The file cannot be read, or a key or value is wrong (the error names
    /// the file, the line and the key).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = load::parse(&text, path)?;
        // `parse` resolved the relative paths against the file's folder as
        // given (`orgs/` for `orgs/a.toml`), which is relative to the
        // working directory: made absolute now, they stay right whatever
        // directory runs the sync. (Joining them to the file's absolute
        // folder instead would name that folder twice: `orgs/orgs/…`.)
        let here = std::env::current_dir().map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        config.rebase(&here);
        Ok(config)
    }

    /// Reads a config from `text`, as if from the file `path` (which names
    /// it in errors, and whose folder relative paths are resolved against).
    ///
    /// # Errors
    /// As [`Config::from_file`].
    pub fn from_toml(text: &str, path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        load::parse(text, path.as_ref())
    }

    /// The config as TOML (what `muster config check` prints after
    /// [`Config::with_defaults`]).
    ///
    /// # Errors
    /// Never for a config read from a file; a hand-built one whose values
    /// TOML cannot hold.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|e| load::unlocated("(config)", e.to_string()))
    }
}
