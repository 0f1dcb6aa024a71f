//! Before-images: the whole gateway object of an account, saved before a
//! destructive step changes it, so `muster restore` can put it back.

use std::path::{Path, PathBuf};

use muster_core::Account;
use muster_gateway::RemoteUser;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ApplyError;

/// Keys of a user object that identify the stored record, not the person:
/// not copied onto an account that replaces or restores it.
pub(crate) const RECORD_KEYS: [&str; 6] = [
    "uid",
    "id",
    "created_at",
    "createdAt",
    "updated_at",
    "updatedAt",
];

/// One account as the gateway held it just before a destructive step of a
/// plan (delete, deactivation, type downgrade, alias or membership
/// removal): the typed account and the whole JSON object, fields muster
/// does not own included (sender lists, `odin_settings`, whatever the
/// gateway adds next). Never a password: the gateway does not return one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BeforeImage {
    /// The plan whose change was about to run.
    pub plan: String,
    /// The change's id in that plan.
    pub change: u32,
    /// The account, typed.
    pub account: Account,
    /// The object as the gateway returned it.
    pub object: Map<String, Value>,
}

impl BeforeImage {
    /// The object's fields to send again when the account is re-created:
    /// everything but the keys of the stored record (`uid`, timestamps).
    #[must_use]
    pub fn unowned_fields(&self) -> Map<String, Value> {
        self.object
            .iter()
            .filter(|(k, _)| !RECORD_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The folder of a journal's before-images: `<journal>.before`, beside it.
#[must_use]
pub fn before_images_folder(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".before");
    PathBuf::from(name)
}

/// Reads every before-image saved next to `journal`, in address order. No
/// folder is no image.
///
/// # Errors
/// [`ApplyError::BeforeImages`] when the folder or an image cannot be read.
pub fn read_before_images(journal: &Path) -> Result<Vec<BeforeImage>, ApplyError> {
    let folder = before_images_folder(journal);
    let failed = |path: &Path, source: std::io::Error| ApplyError::BeforeImages {
        path: path.to_owned(),
        source,
    };
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(failed(&folder, e)),
    };
    let mut images = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| failed(&folder, e))?.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| failed(&path, e))?;
        let image: BeforeImage = serde_json::from_str(&text).map_err(|e| {
            failed(
                &path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        images.push(image);
    }
    images.sort_by(|a, b| {
        a.account
            .primary_email
            .normalized()
            .cmp(b.account.primary_email.normalized())
    });
    Ok(images)
}

/// Where one apply saves its before-images.
#[derive(Debug, Clone)]
pub(crate) struct Saver {
    pub(crate) folder: PathBuf,
    pub(crate) plan: String,
}

impl Saver {
    /// Saves `user` before change `change` alters it: atomically and
    /// readable by its owner only ([`crate::write_private`]), in a folder
    /// only its owner can enter. An image already saved is kept: after a
    /// resume, the first one is the account as it was before the plan.
    pub(crate) fn save(&self, change: u32, user: &RemoteUser) -> std::io::Result<()> {
        let mut folder = std::fs::DirBuilder::new();
        folder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
        folder.create(&self.folder)?;
        let path = self.folder.join(format!(
            "{}.json",
            file_name(user.account().primary_email.normalized())
        ));
        if path.exists() {
            return Ok(());
        }
        let image = BeforeImage {
            plan: self.plan.clone(),
            change,
            account: user.account().clone(),
            object: user.raw().clone(),
        };
        let text = serde_json::to_string_pretty(&image)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        crate::write_private(&path, text.as_bytes())
    }
}

/// An address as a file name, one to one: anything but ASCII letters,
/// digits, `.`, `@`, `+`, `-` and `_` written as `%XX` bytes.
fn file_name(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    for b in address.bytes() {
        if b.is_ascii_alphanumeric() || b"._@+-".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn file_names_keep_plain_addresses_and_escape_the_rest_one_to_one() {
        assert_eq!(file_name("ann.lee@example.com"), "ann.lee@example.com");
        assert_eq!(file_name("a/b@x"), "a%2Fb@x");
        assert_eq!(file_name("a%2Fb@x"), "a%252Fb@x");
        assert_ne!(file_name("../x@y"), "../x@y");
    }
}
