//! The [`DirectorySource`] trait, and the glue that runs blocking file readers from async code.

use std::fs::File;
use std::path::Path;

use async_trait::async_trait;
use muster_core::DirectorySnapshot;

use crate::error::Error;

/// Anything that can say who is in a directory: a CSV file, LDAP, Entra ID, a list in memory.
///
/// Object-safe so that the source can be chosen from configuration at run
/// time (`Box<dyn DirectorySource>`).
///
/// The contract every implementation keeps, because the planner deletes
/// users on the strength of it:
/// - a bad record is a [`muster_core::SourceIssue`] in the snapshot, and the
///   good records around it still come through;
/// - a source that could not be read *fully* returns `Err`, never a shorter
///   snapshot (a half-read directory looks like a directory whose users left);
/// - `provided` names exactly the fields the input carries, so a file
///   without a mobile column never clears anybody's mobile number;
/// - a source that knowingly returns part of the directory marks the
///   snapshot [`muster_core::Completeness::Partial`].
///
/// A source that merely *adds* users (SMTP discovery, a one-off import),
/// where absence from the list means nothing, marks its snapshots
/// [`muster_core::Completeness::Partial`] and is given to the planner as a
/// supplemental snapshot, so it can add users but never be a reason to
/// remove one ([`DiscoverySource`](crate::DiscoverySource) does both).
///
/// ```
/// use muster_directory::{DirectorySource, InMemorySource, StandardCsv};
/// use muster_core::{DirectorySnapshot, FieldSet};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let sources: Vec<Box<dyn DirectorySource>> = vec![
///     Box::new(StandardCsv::new("users.csv")),
///     Box::new(InMemorySource::new(DirectorySnapshot::new("fixed", FieldSet::empty()))),
/// ];
/// assert_eq!(sources[0].name(), "users.csv");
/// let snapshot = sources[1].fetch().await?;
/// assert!(snapshot.entries.is_empty());
/// # Ok::<(), muster_directory::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait DirectorySource: Send + Sync {
    /// The source's name: recorded as the owner of the accounts it brings.
    fn name(&self) -> &str;

    /// Reads the whole directory.
    ///
    /// # Errors
    /// When the directory could not be read completely.
    async fn fetch(&self) -> Result<DirectorySnapshot, Error>;
}

/// A snapshot handed over by the caller (tests, Python, another system).
#[derive(Debug, Clone)]
pub struct InMemorySource {
    snapshot: DirectorySnapshot,
}

impl InMemorySource {
    /// A source that always returns `snapshot`.
    #[must_use]
    pub fn new(snapshot: DirectorySnapshot) -> Self {
        InMemorySource { snapshot }
    }
}

#[async_trait]
impl DirectorySource for InMemorySource {
    fn name(&self) -> &str {
        &self.snapshot.source
    }

    async fn fetch(&self) -> Result<DirectorySnapshot, Error> {
        Ok(self.snapshot.clone())
    }
}

/// Opens a file, naming it in the error.
pub(crate) fn open_file(path: &Path, name: &str) -> Result<File, Error> {
    File::open(path).map_err(|e| Error::read(name, e))
}

/// Runs a blocking read on tokio's blocking pool, so a big file does not stall the runtime.
pub(crate) async fn off_runtime<T, F>(name: &str, read: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Error> + Send + 'static,
{
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|source| Error::Task {
            source_name: name.to_owned(),
            source,
        })?
}

/// Implements [`DirectorySource`] for a cloneable file source with a blocking `read()`.
macro_rules! file_source {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::DirectorySource for $ty {
            fn name(&self) -> &str {
                self.label()
            }

            async fn fetch(&self) -> Result<muster_core::DirectorySnapshot, $crate::Error> {
                let source = self.clone();
                $crate::source::off_runtime(self.label(), move || source.read()).await
            }
        }
    };
}
pub(crate) use file_source;

/// Implements [`DirectorySource`] for a source that reads over the network
/// with `async fn read(&self)` and keeps its name in a `name` field. Invoke
/// it in the source's own module.
macro_rules! network_source {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::DirectorySource for $ty {
            fn name(&self) -> &str {
                &self.name
            }

            async fn fetch(&self) -> Result<muster_core::DirectorySnapshot, $crate::Error> {
                self.read().await
            }
        }
    };
}
pub(crate) use network_source;
