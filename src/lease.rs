//! The organisation's lease: two runs of one organisation never write its
//! state at once.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// An exclusive lock on `<state>.lock`, held until it is dropped (or the
/// process ends, which the operating system releases for us, so a crashed
/// run never leaves a stale lease behind).
#[derive(Debug)]
#[must_use = "the lease is released when dropped"]
pub struct Lease {
    _file: File,
}

/// Why a lease could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    /// Another run holds it.
    #[error("another run holds this organisation's lease (`{}`)", path.display())]
    Held {
        /// The lock file.
        path: PathBuf,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot take the lease `{}`", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Lease {
    /// Takes the lease of the organisation whose state lives at `state`,
    /// without waiting: a scheduler's next run must not queue behind a
    /// stuck one, it must say so.
    ///
    /// # Errors
    /// [`LeaseError::Held`] when another run holds it.
    pub fn take(state: &Path) -> Result<Lease, LeaseError> {
        let mut path = state.as_os_str().to_owned();
        path.push(".lock");
        let path = PathBuf::from(path);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| LeaseError::Io {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Lease { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LeaseError::Held { path }),
            Err(TryLockError::Error(source)) => Err(LeaseError::Io { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Lease, LeaseError};

    #[test]
    fn a_second_run_is_refused_until_the_first_drops_its_lease() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let first = Lease::take(&state).unwrap();
        assert!(matches!(Lease::take(&state), Err(LeaseError::Held { .. })));
        drop(first);
        let _again = Lease::take(&state).unwrap();
    }
}
