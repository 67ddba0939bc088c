//! Backups and restores that lose nothing: the operator's `terrain admin backup`, `restore`
//! and `verify-backup`.
//!
//! A backup is taken while devices sync, and audited. A restore checks the backup whole
//! before trusting it, then, on the checked copy and before it replaces anything, starts
//! the server's new epoch and writes its audit entry: devices that see the new epoch offer
//! again everything the server had acknowledged to them, so what the backup lacks comes
//! back at their next sync. The files it replaces are set aside, never deleted.

use std::path::{Path, PathBuf};

use serde_json::json;
use terrain_backend::Identity;
use terrain_backend::backup::{self, BackupError, Created, Manifest};
pub use terrain_backend::backup::{Key, Seal, SecretString};
pub use terrain_backend::rekey::Rekeyed;
use terrain_core::StoreKey;
use terrain_core::store::Verified;

use crate::audit::Action;
use crate::error::{Error, Result};
use crate::scope::Scope;
use crate::{Services, Settings};

impl From<BackupError> for Error {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::Damaged { .. } | BackupError::Key(_) => Error::Invalid(e.to_string()),
            BackupError::InUse(_) | BackupError::Interrupted(_) => Error::Conflict(e.to_string()),
            BackupError::Io { .. } => Error::unprocessable("storage", e.to_string()),
            BackupError::Backend(e) => e.into(),
        }
    }
}

impl Services {
    /// Writes a backup of all the server's data to `out`, sealed by `seal` (administrators
    /// and the operator), while devices keep syncing.
    pub fn backup(&self, scope: &Scope, out: &Path, seal: &Seal) -> Result<Created> {
        scope.may_administer()?;
        let created = self.backend.backup(out, seal)?;
        self.audit(
            scope,
            Action::Backup,
            None,
            json!({
                "file": out.display().to_string(),
                "bytes": created.bytes,
                "surveys": created.manifest.counts.surveys,
                "epoch": created.manifest.epoch,
                "sealed": match seal { Seal::Passphrase(_) => "passphrase", Seal::Recipients(_) => "recipients" },
            }),
        )?;
        Ok(created)
    }
}

/// What a backup holds, checked whole.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Its manifest.
    pub manifest: Manifest,
    /// Its surveys, each loaded.
    pub verified: Verified,
}

/// Opens a backup with `key` and checks it whole, in a scratch directory under `scratch`
/// that is removed after: hashes, SQLite's integrity, the counts, every survey's document.
/// `db_key` opens the databases of a backup of an encrypted server.
pub fn verify(file: &Path, key: &Key, scratch: &Path, db_key: Option<&StoreKey>) -> Result<Checked> {
    let staged = backup::stage(file, key, scratch, db_key)?;
    Ok(Checked { manifest: staged.manifest.clone(), verified: staged.verified.clone() })
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// The restored server's identity, in its new epoch.
    pub identity: Identity,
    /// Where the data directory's previous files are now.
    pub set_aside: Option<PathBuf>,
}

/// Restores `file`, opened with `key`, into the data directory `data`, which no server may
/// have open. `db_key` is the server's data key: it opens the databases of a backup of an
/// encrypted server, and encrypts those of a plain one, so the restored server opens with
/// it either way.
pub fn restore(file: &Path, key: &Key, data: &Path, db_key: Option<&StoreKey>, settings: Settings) -> Result<Restored> {
    // Refused early, before a long check, when a server runs on it; checked again at the swap.
    drop(backup::DataLock::exclusive(data)?);
    let staged = backup::stage(file, key, data, db_key)?;
    let identity = {
        let services = Services::open_sqlite_keyed(staged.dir(), db_key, settings)?;
        let identity = services.backend.begin_epoch()?;
        let operator = services.operator()?;
        services.audit(
            &operator,
            Action::Restore,
            None,
            json!({
                "file": file.display().to_string(),
                "backup_created_at": staged.manifest.created_at,
                "backup_epoch": staged.manifest.epoch,
                "epoch": identity.epoch,
                "surveys": staged.verified.surveys,
            }),
        )?;
        identity
    };
    let manifest = staged.manifest.clone();
    let swapped = backup::swap_in(staged, data)?;
    Ok(Restored { manifest, identity, set_aside: swapped.set_aside })
}

/// Encrypts the databases of the data directory `data` (no server may have it open) under
/// `new`, or rotates them to it from `current`, and audits it. A run interrupted between the
/// two databases is finished by running it again.
pub fn rekey(data: &Path, current: Option<&StoreKey>, new: &StoreKey, settings: Settings) -> Result<Rekeyed> {
    let rekeyed = terrain_backend::rekey::change_key(data, current, new)?;
    let services = Services::open_sqlite_keyed(data, Some(new), settings)?;
    let operator = services.operator()?;
    services.audit(
        &operator,
        Action::Rekey,
        None,
        json!({ "changed": rekeyed.changed, "already": rekeyed.already, "was_encrypted": current.is_some() }),
    )?;
    Ok(rekeyed)
}
