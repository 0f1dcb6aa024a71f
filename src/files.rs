//! Writing files that hold directory data: plans, previews, exports,
//! state, ledgers, cursors.

use std::io::Write;
use std::path::Path;

/// Writes `contents` to `path` so that it is readable by its owner only
/// (0600 on Unix) and never half-written: a unique temporary file beside
/// `path` (two overlapping runs never share one), synced to disk, then
/// renamed over `path`, and the folder synced after the rename. A crash
/// leaves the old file or the new one.
///
/// These files hold names, addresses and who owns which account: a plan or
/// an export left world-readable on a shared jump host is a leak.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("state.json");
/// # let state = muster::reconcile::SyncState::new("us1", "example.com");
/// muster::write_private(&path, state.to_json().as_bytes())?;
/// # #[cfg(unix)] {
/// use std::os::unix::fs::PermissionsExt;
/// assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// Any error creating, writing, syncing or renaming the file.
pub fn write_private(path: impl AsRef<Path>, contents: &[u8]) -> std::io::Result<()> {
    let path = path.as_ref();
    let folder = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // tempfile creates the file 0600 on Unix, under a random name.
    let mut file = tempfile::NamedTempFile::new_in(folder)?;
    file.write_all(contents)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    std::fs::File::open(folder)?.sync_all()?;
    Ok(())
}

/// Creates `folder` and its parents, readable by its owner only (0700 on
/// Unix): for journals and the before-images beside them, which list the
/// accounts changed and how.
///
/// # Errors
/// Any error creating the folders.
pub fn create_private_folder(folder: impl AsRef<Path>) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(folder)
}

/// A folder [`Config::journal_for`](crate::config::Config::journal_for)
/// could not create.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the folder `{}`", folder.display())]
#[non_exhaustive]
pub struct FolderError {
    /// The folder.
    pub folder: std::path::PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}
