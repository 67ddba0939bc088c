//! Encrypting a data directory's databases, and rotating their key, while no server has it
//! open: `terrain admin rekey`.
//!
//! The two databases are re-encrypted one after the other, each all or nothing
//! ([`Store::change_key`]). A crash between them leaves one under each key; running the
//! command again finishes the job, because a database the new key already opens is left
//! as it is.

use std::path::Path;

use terrain_core::store::encryption::{self, Protection};
use terrain_core::{Store, StoreError, StoreKey};

use crate::backup::{BackupError, DATABASES, DataLock};

/// What [`change_key`] did to each database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rekeyed {
    /// The databases re-encrypted now.
    pub changed: Vec<&'static str>,
    /// Those already under the new key (an earlier run was interrupted).
    pub already: Vec<&'static str>,
}

/// Re-encrypts both databases in `dir` from `current` (`None`: plain) to `new`.
pub fn change_key(dir: &Path, current: Option<&StoreKey>, new: &StoreKey) -> Result<Rekeyed, BackupError> {
    let _lock = DataLock::exclusive(dir)?;
    let mut done = Rekeyed { changed: Vec::new(), already: Vec::new() };
    for name in DATABASES {
        let path = dir.join(name);
        if opens_with(&path, new)? {
            done.already.push(name);
            continue;
        }
        Store::change_key(&path, current, Some(new))?;
        done.changed.push(name);
    }
    Ok(done)
}

/// Whether `key` opens the database at `path` (which must exist).
fn opens_with(path: &Path, key: &StoreKey) -> Result<bool, BackupError> {
    match encryption::protection(path)? {
        Protection::Absent => Err(StoreError::Unsupported(format!(
            "there is no database at {}: is this a Terrain data directory?",
            path.display()
        ))
        .into()),
        Protection::Plain => Ok(false),
        Protection::Encrypted => {
            let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            match encryption::unlock(&conn, path, Some(key)) {
                Ok(()) => Ok(true),
                Err(StoreError::WrongKey { .. }) => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
    }
}
