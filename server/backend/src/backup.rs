//! Backups of a data directory: one zip file holding a consistent copy of each database and
//! a manifest of what they hold, always encrypted with age (a passphrase, or recipients'
//! public keys), and checked end to end before a restore trusts it.
//!
//! age rather than a format of our own: it is the maintained tool for encrypting files, and
//! an operator can open a backup with the `age` command alone, years later.
//!
//! [`create`] copies `server.db` and then `surveys.db` with `VACUUM INTO`, each a consistent
//! snapshot taken while the server keeps syncing. The order matters: the feed positions
//! `server.db` records (webhook and export cursors, what was sent to which device) then never
//! point past the copied feed. [`stage`] unpacks a backup next to the data directory, no
//! further than the sizes its manifest declares, and checks the hashes, SQLite's integrity
//! check, the counts, and that every survey's document loads at the heads its row records.
//! [`swap_in`] sets the current files aside (it never deletes them) and moves the staged
//! copies in, while no server has the directory open ([`DataLock`]).
//!
//! What starts the restored server's new epoch, and audits the restore, is the service
//! layer's (`terrain_services::backup`): it runs on the staged copy before the swap, so a
//! restore interrupted at any point leaves either the old data or the new epoch.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

pub use age::secrecy::SecretString;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use terrain_core::store::{Durability, Verified, encryption};
use terrain_core::{Author, Role, Store, StoreKey, hex};

use crate::BackendError;

/// The version of the backup layout written by this code.
pub const FORMAT: u32 = 1;
/// The databases of a data directory, in the order they are copied.
pub const DATABASES: [&str; 2] = ["server.db", "surveys.db"];
const MANIFEST: &str = "manifest.json";
const MAX_MANIFEST_BYTES: u64 = 64 << 10;
/// Present while files are being swapped: a server refuses to open the directory then.
pub const SWAP_MARKER: &str = "RESTORE-IN-PROGRESS";
const LOCK_FILE: &str = "terrain.lock";

/// What a backup holds, written beside the databases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// When the copy was taken.
    pub created_at: DateTime<Utc>,
    /// The server's id (hex).
    pub server_id: String,
    /// Its epoch when the copy was taken.
    pub epoch: u64,
    /// Its change feed's position in the copy.
    pub feed_position: u64,
    /// Each database, with its size and SHA-256.
    pub files: Vec<FileEntry>,
    /// What the copy holds.
    pub counts: Counts,
    /// Whether the databases are encrypted under the server's data key (`--db-key-file`),
    /// as they were at rest: a restore or a check then needs that key too.
    #[serde(default)]
    pub encrypted: bool,
    /// The attached files it holds (`blobs/<sha256>`, each its own checksum): how many, and
    /// their bytes.
    #[serde(default)]
    pub media: MediaCount,
}

/// The attached files of a backup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaCount {
    /// Files.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Where attached files live in a data directory, and in a backup's zip.
const BLOBS: &str = "blobs";

/// One database in a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its name in the data directory.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// What a backup holds, counted when it was taken and again when it is checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Surveys.
    pub surveys: u64,
    /// Form versions.
    pub forms: u64,
    /// User accounts.
    pub users: u64,
    /// Audit log entries.
    pub audit: u64,
}

/// How a backup is encrypted: always, to a passphrase or to recipients.
pub enum Seal {
    /// A passphrase, for people (age's scrypt recipient). Read it from a file or the
    /// environment, never from the command line.
    Passphrase(SecretString),
    /// age recipients (`age1…` public keys): only their identities open the backup, and
    /// the server that writes it never holds one.
    Recipients(Vec<age::x25519::Recipient>),
}

impl Seal {
    /// Recipients from their `age1…` strings.
    pub fn recipients<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<Seal, BackupError> {
        let recipients = keys
            .into_iter()
            .map(|k| {
                k.trim().parse().map_err(|e: &str| BackupError::Key(format!("`{k}` is not an age recipient: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if recipients.is_empty() {
            return Err(BackupError::Key("give at least one recipient".into()));
        }
        Ok(Seal::Recipients(recipients))
    }

    fn encryptor(&self) -> Result<age::Encryptor, BackupError> {
        match self {
            Seal::Passphrase(passphrase) => Ok(age::Encryptor::with_user_passphrase(passphrase.clone())),
            Seal::Recipients(recipients) => {
                age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                    .map_err(|e| BackupError::Key(e.to_string()))
            }
        }
    }
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Seal::Passphrase(_) => f.write_str("Seal::Passphrase(..)"),
            Seal::Recipients(r) => write!(f, "Seal::Recipients({} keys)", r.len()),
        }
    }
}

/// What opens a backup: its passphrase, or an identity of one of its recipients.
pub enum Key {
    /// The passphrase it was sealed with.
    Passphrase(SecretString),
    /// Identities (`AGE-SECRET-KEY-1…`), as an age identity file holds them.
    Identities(Vec<Box<dyn age::Identity>>),
}

impl Key {
    /// The identities of an age identity file (`age-keygen`'s output).
    pub fn identity_file(path: &Path) -> Result<Key, BackupError> {
        let file = File::open(path).map_err(io(format!("opening the identity file {}", path.display())))?;
        let identities = age::IdentityFile::from_buffer(BufReader::new(file))
            .map_err(|e| BackupError::Key(format!("{} is not an age identity file: {e}", path.display())))?
            .into_identities()
            .map_err(|e| BackupError::Key(format!("{}: {e}", path.display())))?;
        if identities.is_empty() {
            return Err(BackupError::Key(format!("{} holds no identity", path.display())));
        }
        Ok(Key::Identities(identities))
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Passphrase(_) => f.write_str("Key::Passphrase(..)"),
            Key::Identities(i) => write!(f, "Key::Identities({} keys)", i.len()),
        }
    }
}

/// Why a backup could not be made, checked or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Reading or writing a file failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The failure.
        source: std::io::Error,
    },
    /// The file is not a backup this Terrain can read, or it is damaged.
    #[error("{path} is not a usable Terrain backup: {why}")]
    Damaged {
        /// The backup.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The passphrase, recipient or identity is wrong or unusable.
    #[error("{0}")]
    Key(String),
    /// A server (or another `terrain` command) has the data directory open.
    #[error("{0} is in use by a running server or another terrain command: stop it first")]
    InUse(PathBuf),
    /// A restore was interrupted while swapping files.
    #[error(
        "a restore into {0} was interrupted: its files are in `replaced-*` and the directory; run the restore again"
    )]
    Interrupted(PathBuf),
    /// A database failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

impl From<rusqlite::Error> for BackupError {
    fn from(e: rusqlite::Error) -> Self {
        BackupError::Backend(e.into())
    }
}

impl From<terrain_core::StoreError> for BackupError {
    fn from(e: terrain_core::StoreError) -> Self {
        BackupError::Backend(e.into())
    }
}

/// An advisory lock on a data directory: shared by every process that opens it (the
/// server, `terrain admin` commands), exclusive while a restore swaps its files.
#[derive(Debug)]
pub struct DataLock {
    _file: File,
}

impl DataLock {
    fn open(dir: &Path) -> Result<File, BackupError> {
        let path = dir.join(LOCK_FILE);
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(format!("opening {}", path.display())))
    }

    /// Takes the shared lock, refusing a directory whose restore was interrupted.
    pub fn shared(dir: &Path) -> Result<DataLock, BackupError> {
        let file = DataLock::open(dir)?;
        file.try_lock_shared().map_err(|_| BackupError::InUse(dir.to_owned()))?;
        if dir.join(SWAP_MARKER).exists() {
            return Err(BackupError::Interrupted(dir.to_owned()));
        }
        Ok(DataLock { _file: file })
    }

    /// Takes the exclusive lock: nothing else has the directory open.
    pub fn exclusive(dir: &Path) -> Result<DataLock, BackupError> {
        let file = DataLock::open(dir)?;
        file.try_lock().map_err(|_| BackupError::InUse(dir.to_owned()))?;
        Ok(DataLock { _file: file })
    }
}

/// What [`create`] wrote.
#[derive(Debug, Clone)]
pub struct Created {
    /// The backup file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// What it holds.
    pub manifest: Manifest,
}

/// Writes a backup of the data directory `data` to `out`, sealed by `seal`, while a server
/// may be running on it. The file appears whole or not at all.
///
/// The copies are encrypted under `db_key` when the databases are (SQLCipher's `VACUUM
/// INTO` keeps the source's key), so no plain copy is ever written, even to scratch.
pub fn create(
    data: &Path,
    out: &Path,
    seal: &Seal,
    server_id: [u8; 16],
    epoch: u64,
    db_key: Option<&StoreKey>,
) -> Result<Created, BackupError> {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let scratch = tempfile::Builder::new()
        .prefix(".terrain-backup-")
        .tempdir_in(parent)
        .map_err(io(format!("making a scratch directory in {}", parent.display())))?;
    for name in DATABASES {
        let source = data.join(name);
        if !source.exists() {
            return Err(BackupError::Io {
                what: format!("reading {}", source.display()),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "is this a Terrain data directory?"),
            });
        }
        let conn = open(&source, db_key)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let copy = scratch.path().join(name);
        conn.execute("VACUUM INTO ?1", [copy.to_string_lossy()])?;
    }
    let counts = count(scratch.path(), db_key)?;
    let feed_position = feed_position(&scratch.path().join("surveys.db"), db_key)?;
    let mut files = Vec::new();
    let zipped = scratch.path().join("backup.zip");
    let file = File::create(&zipped).map_err(io(format!("creating {}", zipped.display())))?;
    let mut zip = zip::ZipWriter::new(file);
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    let zip_err = |e: zip::result::ZipError| BackupError::Io { what: "writing the backup".into(), source: e.into() };
    for name in DATABASES {
        let path = scratch.path().join(name);
        zip.start_file(name, options).map_err(zip_err)?;
        let mut reader = File::open(&path).map_err(io(format!("reading {}", path.display())))?;
        let mut hashing = Hashing { inner: &mut zip, hasher: Sha256::new(), bytes: 0 };
        std::io::copy(&mut reader, &mut hashing).map_err(io("writing the backup"))?;
        let (bytes, sha256) = (hashing.bytes, hex::encode(&hashing.hasher.finalize()));
        files.push(FileEntry { name: name.into(), bytes, sha256 });
    }
    // The attached files as they are: named by their hash, so each is its own checksum.
    // Stored, not deflated: photos and recordings are compressed already.
    let mut media = MediaCount::default();
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored).large_file(true);
    for (digest, path) in blob_files(&data.join(BLOBS))? {
        let mut reader = File::open(&path).map_err(io(format!("reading {}", path.display())))?;
        zip.start_file(format!("{BLOBS}/{digest}"), stored).map_err(zip_err)?;
        media.bytes += std::io::copy(&mut reader, &mut zip).map_err(io("writing the backup"))?;
        media.files += 1;
    }
    let manifest = Manifest {
        format: FORMAT,
        created_at: Utc::now(),
        server_id: hex::encode(&server_id),
        epoch,
        feed_position,
        files,
        counts,
        encrypted: db_key.is_some(),
        media,
    };
    zip.start_file(MANIFEST, options).map_err(zip_err)?;
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| BackupError::Io { what: "writing the manifest".into(), source: std::io::Error::other(e) })?;
    zip.write_all(&json).map_err(io("writing the backup"))?;
    zip.finish().map_err(zip_err)?;
    let sealed = scratch.path().join("backup.age");
    let mut writer = seal
        .encryptor()?
        .wrap_output(File::create(&sealed).map_err(io(format!("creating {}", sealed.display())))?)
        .map_err(io("encrypting the backup"))?;
    let mut plain = File::open(&zipped).map_err(io(format!("reading {}", zipped.display())))?;
    std::io::copy(&mut plain, &mut writer).map_err(io("encrypting the backup"))?;
    let file = writer.finish().map_err(io("encrypting the backup"))?;
    file.sync_all().map_err(io("syncing the backup"))?;
    let bytes = file.metadata().map_err(io("reading the backup's size"))?.len();
    drop(file);
    std::fs::rename(&sealed, out).map_err(io(format!("moving the backup to {}", out.display())))?;
    sync_dir(parent)?;
    Ok(Created { path: out.to_owned(), bytes, manifest })
}

/// A backup unpacked and checked beside a data directory, ready to be swapped in.
#[derive(Debug)]
pub struct Staged {
    dir: tempfile::TempDir,
    /// The backup's manifest.
    pub manifest: Manifest,
    /// What checking every survey found (nothing failed, or it would not be staged).
    pub verified: Verified,
}

impl Staged {
    /// Where the checked copies are: open it as a data directory to prepare it.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Decrypts `backup` with `key` and unpacks it into a scratch directory under `beside`, then
/// checks it whole: sizes and hashes against the manifest, SQLite's integrity check, the
/// counts, and every survey's document. Nothing outside the scratch directory is touched,
/// and it goes away on error.
///
/// `db_key` is the server's data key: it opens the databases of a backup taken encrypted,
/// and encrypts those of one taken plain, so that the staged copy is under the key the
/// server will open it with.
pub fn stage(backup: &Path, key: &Key, beside: &Path, db_key: Option<&StoreKey>) -> Result<Staged, BackupError> {
    std::fs::create_dir_all(beside).map_err(io(format!("creating {}", beside.display())))?;
    let dir = tempfile::Builder::new()
        .prefix(".terrain-restore-")
        .tempdir_in(beside)
        .map_err(io(format!("making a scratch directory in {}", beside.display())))?;
    let damaged = |why: String| BackupError::Damaged { path: backup.to_owned(), why };
    let plain = dir.path().join("backup.zip");
    decrypt(backup, key, &plain)?;
    let manifest = unpack(backup, &plain, dir.path())?;
    std::fs::remove_file(&plain).map_err(io(format!("removing {}", plain.display())))?;
    if manifest.encrypted && db_key.is_none() {
        return Err(BackupError::Key(format!(
            "the databases in {} are encrypted with the server's data key: give it with --db-key-file or \
             TERRAIN_DB_KEY",
            backup.display()
        )));
    }
    if !manifest.encrypted && db_key.is_some() {
        for name in DATABASES {
            Store::change_key(dir.path().join(name), None, db_key)?;
        }
    }
    for name in DATABASES {
        let conn = open(&dir.path().join(name), db_key)?;
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(damaged(format!("{name} fails SQLite's integrity check: {check}")));
        }
    }
    let counts = count(dir.path(), db_key)?;
    if counts != manifest.counts {
        return Err(damaged(format!("it holds {counts:?}, but its manifest says {:?}", manifest.counts)));
    }
    // A scratch copy: opening it as a store may bring its schema up to date, which the swap
    // then keeps.
    let author = Author::new("terrain-restore", "restore", Role::Admin);
    let surveys = dir.path().join("surveys.db");
    let store = match db_key {
        Some(db_key) => Store::open_encrypted(surveys, author, Durability::PowerLoss, db_key)?,
        None => Store::open(surveys, author)?,
    };
    let verified = store.verify_documents()?;
    // The attached files, opened with the key the staged store keeps, each against its name.
    let blobs = dir.path().join(BLOBS);
    if let Some(file_key) = store.file_key_for(&blobs)? {
        let sealed = terrain_core::media::BlobDir::open_sealed(&blobs, Some(file_key))
            .map_err(|e| damaged(format!("its attached files cannot be read ({e})")))?;
        for (digest, _) in blob_files(&blobs)? {
            let size = sealed.size(&digest).ok_or_else(|| damaged(format!("attached file {digest} is damaged")))?;
            let bytes = sealed
                .read_at(&digest, 0, usize::try_from(size).unwrap_or(usize::MAX))
                .map_err(|e| damaged(format!("attached file {digest} does not open ({e})")))?;
            if terrain_core::media::Digest::of(&bytes) != digest {
                return Err(damaged(format!("attached file {digest} does not have the bytes its name says")));
            }
        }
    }
    drop(store);
    if let Some((survey, why)) = verified.failed.first() {
        return Err(damaged(format!("{} surveys do not load, among them {survey}: {why}", verified.failed.len())));
    }
    Ok(Staged { dir, manifest, verified })
}

/// Decrypts `backup` into `plain`. An age stream is never shorter than what it holds, so the
/// backup's own size bounds what is written.
fn decrypt(backup: &Path, key: &Key, plain: &Path) -> Result<(), BackupError> {
    let damaged = |why: String| BackupError::Damaged { path: backup.to_owned(), why };
    let file = File::open(backup).map_err(io(format!("opening {}", backup.display())))?;
    let size = file.metadata().map_err(io(format!("reading {}", backup.display())))?.len();
    let decryptor = age::Decryptor::new_buffered(BufReader::new(file))
        .map_err(|e| damaged(format!("not an age-encrypted Terrain backup ({e})")))?;
    let wrong_key = || {
        BackupError::Key(format!(
            "this passphrase or identity does not open {}: use the one it was made with",
            backup.display()
        ))
    };
    let mut reader = match key {
        Key::Passphrase(passphrase) => {
            if !decryptor.is_scrypt() {
                return Err(BackupError::Key(format!(
                    "{} was sealed to recipients: open it with one of their identity files",
                    backup.display()
                )));
            }
            let identity = age::scrypt::Identity::new(passphrase.clone());
            decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))
        }
        Key::Identities(identities) => decryptor.decrypt(identities.iter().map(|i| i.as_ref())),
    }
    .map_err(|e| match e {
        // A passphrase that does not unwrap the file key fails its stanza's decryption.
        age::DecryptError::NoMatchingKeys
        | age::DecryptError::KeyDecryptionFailed
        | age::DecryptError::DecryptionFailed => wrong_key(),
        other => damaged(other.to_string()),
    })?;
    let mut out = File::create(plain).map_err(io(format!("creating {}", plain.display())))?;
    std::io::copy(&mut (&mut reader).take(size), &mut out)
        .map_err(|e| damaged(format!("it does not decrypt whole ({e})")))?;
    Ok(())
}

/// Unpacks the databases of the zip `plain` (decrypted from `backup`) into `into`, each no
/// larger than its manifest says and with the hash it gives. Returns the manifest.
fn unpack(backup: &Path, plain: &Path, into: &Path) -> Result<Manifest, BackupError> {
    let damaged = |why: String| BackupError::Damaged { path: backup.to_owned(), why };
    let file = File::open(plain).map_err(io(format!("opening {}", plain.display())))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| damaged(format!("not a zip file ({e})")))?;
    let mut json = Vec::new();
    zip.by_name(MANIFEST)
        .map_err(|e| damaged(format!("no manifest ({e})")))?
        .take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|e| damaged(format!("the manifest cannot be read ({e})")))?;
    if json.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(damaged("its manifest is too large".into()));
    }
    let manifest: Manifest =
        serde_json::from_slice(&json).map_err(|e| damaged(format!("its manifest cannot be read ({e})")))?;
    if manifest.format != FORMAT {
        return Err(damaged(format!(
            "it is in backup format {}, and this Terrain reads format {FORMAT}: use the Terrain that made it",
            manifest.format
        )));
    }
    for name in DATABASES {
        let entry = manifest
            .files
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| damaged(format!("its manifest does not list {name}")))?;
        let mut reader = zip.by_name(name).map_err(|e| damaged(format!("{name} is missing ({e})")))?;
        let path = into.join(name);
        let mut out = File::create(&path).map_err(io(format!("creating {}", path.display())))?;
        let mut hashing = Hashing { inner: &mut out, hasher: Sha256::new(), bytes: 0 };
        // Never more than declared: a damaged or hostile entry cannot fill the disk.
        std::io::copy(&mut (&mut reader).take(entry.bytes + 1), &mut hashing)
            .map_err(|e| damaged(format!("{name} cannot be unpacked ({e})")))?;
        let (bytes, sha256) = (hashing.bytes, hex::encode(&hashing.hasher.finalize()));
        if bytes != entry.bytes || sha256 != entry.sha256 {
            return Err(damaged(format!("{name} is not the file its manifest describes (size or SHA-256 differ)")));
        }
        out.sync_all().map_err(io(format!("syncing {}", path.display())))?;
    }
    let blobs = into.join(BLOBS);
    std::fs::create_dir_all(&blobs).map_err(io(format!("creating {}", blobs.display())))?;
    let mut found = MediaCount::default();
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(|e| damaged(format!("an entry cannot be read ({e})")))?;
        let entry_name =
            entry.name().map_err(|e| damaged(format!("an entry's name cannot be read ({e})")))?.into_owned();
        let Some(name) = entry_name.strip_prefix(&format!("{BLOBS}/")) else { continue };
        let digest: terrain_core::media::Digest =
            name.parse().map_err(|_| damaged(format!("`{entry_name}` is not an attached file's name")))?;
        let path = blobs.join(digest.to_hex());
        let mut out = File::create(&path).map_err(io(format!("creating {}", path.display())))?;
        let mut hashing = Hashing { inner: &mut out, hasher: Sha256::new(), bytes: 0 };
        // Never more than the manifest declares in all.
        let room = manifest.media.bytes.saturating_sub(found.bytes) + 1;
        std::io::copy(&mut (&mut entry).take(room), &mut hashing)
            .map_err(|e| damaged(format!("attached file {digest} cannot be unpacked ({e})")))?;
        let (bytes, sha256) = (hashing.bytes, hashing.hasher.finalize());
        // An encrypted server's files are sealed: `stage` checks them once it has the key.
        if !manifest.encrypted && sha256.as_slice() != digest.0 {
            return Err(damaged(format!("attached file {digest} does not have the bytes its name says")));
        }
        found.files += 1;
        found.bytes += bytes;
        if found.bytes > manifest.media.bytes {
            return Err(damaged("it holds more attached files' bytes than its manifest says".into()));
        }
        out.sync_all().map_err(io(format!("syncing {}", path.display())))?;
    }
    if found != manifest.media {
        return Err(damaged(format!(
            "it holds {found:?} of attached files, but its manifest says {:?}",
            manifest.media
        )));
    }
    Ok(manifest)
}

/// The complete attached files in `dir` (a data directory's `blobs/`), by digest, named
/// as the folder names them (`BlobDir`'s listing).
fn blob_files(dir: &Path) -> Result<Vec<(terrain_core::media::Digest, PathBuf)>, BackupError> {
    let digests = terrain_core::media::blobs::digests_in(dir).map_err(|e| BackupError::Io {
        what: format!("listing {}", dir.display()),
        source: std::io::Error::other(e),
    })?;
    Ok(digests.into_iter().map(|digest| (digest, dir.join(digest.to_hex()))).collect())
}

/// What [`swap_in`] did.
#[derive(Debug, Clone)]
pub struct Swapped {
    /// Where the data directory's previous files now are (none if it had none).
    pub set_aside: Option<PathBuf>,
}

/// Moves the staged databases into `data`, setting its current ones aside in a
/// `replaced-<time>` directory beside them. Refused while anything has `data` open.
pub fn swap_in(staged: Staged, data: &Path) -> Result<Swapped, BackupError> {
    let _lock = DataLock::exclusive(data)?;
    let marker = data.join(SWAP_MARKER);
    File::create(&marker).map_err(io(format!("creating {}", marker.display())))?.sync_all().map_err(io("syncing"))?;
    sync_dir(data)?;
    let aside = data.join(format!("replaced-{}", Utc::now().format("%Y%m%dT%H%M%S%.3fZ")));
    let mut moved = false;
    for name in DATABASES {
        for suffix in ["", "-wal", "-shm"] {
            let current = data.join(format!("{name}{suffix}"));
            if current.exists() {
                std::fs::create_dir_all(&aside).map_err(io(format!("creating {}", aside.display())))?;
                std::fs::rename(&current, aside.join(format!("{name}{suffix}")))
                    .map_err(io(format!("moving {} aside", current.display())))?;
                moved = true;
            }
        }
    }
    for name in DATABASES {
        // A log the staged copy's last writer left behind holds part of it.
        for suffix in ["", "-wal"] {
            let file = format!("{name}{suffix}");
            let staged_file = staged.dir().join(&file);
            if suffix.is_empty() || staged_file.exists() {
                std::fs::rename(&staged_file, data.join(&file))
                    .map_err(io(format!("moving the restored {file} into {}", data.display())))?;
            }
        }
    }
    // The attached files are the backup's, as the databases are (an encrypted server's are
    // sealed under the key its restored store keeps); the current ones are set aside with
    // the databases. Devices offer the files uploaded since the backup again when they see
    // the new epoch.
    let (staged_blobs, blobs) = (staged.dir().join(BLOBS), data.join(BLOBS));
    if blobs.exists() {
        std::fs::create_dir_all(&aside).map_err(io(format!("creating {}", aside.display())))?;
        std::fs::rename(&blobs, aside.join(BLOBS)).map_err(io(format!("moving {} aside", blobs.display())))?;
        moved = true;
    }
    if staged_blobs.exists() {
        std::fs::rename(&staged_blobs, &blobs)
            .map_err(io(format!("moving the restored files into {}", data.display())))?;
    }
    sync_dir(data)?;
    std::fs::remove_file(&marker).map_err(io(format!("removing {}", marker.display())))?;
    sync_dir(data)?;
    Ok(Swapped { set_aside: moved.then_some(aside) })
}

/// A connection to one of a data directory's databases, under `db_key` if encrypted.
fn open(path: &Path, db_key: Option<&StoreKey>) -> Result<Connection, BackupError> {
    let conn = Connection::open(path)?;
    encryption::unlock(&conn, path, db_key)?;
    Ok(conn)
}

/// What the databases in `dir` hold.
fn count(dir: &Path, db_key: Option<&StoreKey>) -> Result<Counts, BackupError> {
    let server = open(&dir.join("server.db"), db_key)?;
    let surveys = open(&dir.join("surveys.db"), db_key)?;
    let n = |conn: &Connection, table: &str| -> Result<u64, BackupError> {
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    };
    Ok(Counts {
        surveys: n(&surveys, "surveys")?,
        forms: n(&surveys, "forms")?,
        users: n(&server, "users")?,
        audit: n(&server, "audit")?,
    })
}

fn feed_position(surveys: &Path, db_key: Option<&StoreKey>) -> Result<u64, BackupError> {
    let conn = open(surveys, db_key)?;
    let value: i64 =
        conn.query_row("SELECT coalesce(max(value), 0) FROM counters WHERE name = 'change_seq'", [], |r| r.get(0))?;
    Ok(value.max(0) as u64)
}

/// Makes renames in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(format!("syncing {}", dir.display())))
}

/// Counts and hashes what passes through to `inner`.
struct Hashing<'a, W: Write> {
    inner: &'a mut W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
