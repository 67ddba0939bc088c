//! Encryption at rest: a store's SQLite files under SQLCipher, opened with a 256-bit key the
//! app keeps in the platform's keystore (the Android Keystore, the iOS Keychain; see
//! `docs/mobile.md`), and that key's rotation.
//!
//! Raw keys, not passphrases: the app's key is random already, so SQLCipher's key
//! derivation (PBKDF2, 256,000 rounds at every connection) would buy nothing and cost each
//! reader a fraction of a second on a phone.
//!
//! Whether a file is encrypted is read from its first 16 bytes before SQLite opens it: a
//! plain database starts with `SQLite format 3\0`, an encrypted one with its random salt.
//! So a missing key, a key for a plain store and a wrong key each get their own error, and
//! nothing is written to the file before the key is known to open it.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rand::TryRngCore;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use zeroize::Zeroizing;

use super::StoreError;

/// The first bytes of every plain SQLite database.
const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// How long a key change waits for another connection to let go of the store.
const CHANGE_BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// A store's encryption key: 32 random bytes, wiped from memory when dropped and never
/// printed.
#[derive(Clone)]
pub struct StoreKey(Zeroizing<[u8; StoreKey::LEN]>);

impl StoreKey {
    /// A key's length in bytes.
    pub const LEN: usize = 32;

    /// A new random key from the operating system's random source.
    pub fn generate() -> Result<StoreKey, StoreError> {
        let mut key = Zeroizing::new([0u8; StoreKey::LEN]);
        rand::rngs::OsRng
            .try_fill_bytes(key.as_mut())
            .map_err(|e| StoreError::Unsupported(format!("the system's random source failed: {e}")))?;
        Ok(StoreKey(key))
    }

    /// The key made of these 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<StoreKey, StoreError> {
        let key: [u8; StoreKey::LEN] = bytes.try_into().map_err(|_| StoreError::InvalidKey {
            why: format!("it is {} bytes long, and a store key is {}", bytes.len(), StoreKey::LEN),
        })?;
        Ok(StoreKey(Zeroizing::new(key)))
    }

    /// The key written as 64 hexadecimal digits, as in a key file (surrounding whitespace,
    /// such as a file's last newline, is ignored).
    pub fn from_hex(text: &str) -> Result<StoreKey, StoreError> {
        let text = text.trim();
        let invalid = || StoreError::InvalidKey {
            why: format!(
                "a store key is {} hexadecimal digits (make one with `terrain admin store-key`)",
                2 * StoreKey::LEN
            ),
        };
        let mut key = Zeroizing::new([0u8; StoreKey::LEN]);
        crate::hex::decode_into(text.as_bytes(), key.as_mut()).ok_or_else(invalid)?;
        Ok(StoreKey(key))
    }

    /// The key's 32 bytes, for the app to keep.
    pub fn to_bytes(&self) -> Zeroizing<[u8; StoreKey::LEN]> {
        self.0.clone()
    }

    /// The key as 64 lowercase hexadecimal digits, for a key file.
    pub fn to_hex(&self) -> Zeroizing<String> {
        // Sized first, so that appending never moves the digits and leaves a copy behind.
        let mut text = Zeroizing::new(String::with_capacity(2 * StoreKey::LEN));
        crate::hex::encode_into(self.0.as_ref(), &mut text);
        text
    }

    /// SQLCipher's spelling of a raw key, `x'…'`, which skips its key derivation.
    fn sqlcipher_literal(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("x'{}'", self.to_hex().as_str()))
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

/// Whether the file at a path is a store, and an encrypted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// No file, or an empty one: a store opened there is created, encrypted if given a key.
    Absent,
    /// A plain SQLite database.
    Plain,
    /// Not a plain SQLite database: encrypted (or not a database at all, which the key's
    /// check then says).
    Encrypted,
}

/// Reads the first bytes of the file at `path` to tell whether it is encrypted.
pub fn protection(path: &Path) -> Result<Protection, StoreError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Protection::Absent),
        Err(source) => return Err(StoreError::Io { what: format!("reading {}", path.display()), source }),
    };
    let mut header = Vec::with_capacity(PLAIN_HEADER.len());
    file.take(PLAIN_HEADER.len() as u64)
        .read_to_end(&mut header)
        .map_err(|source| StoreError::Io { what: format!("reading {}", path.display()), source })?;
    Ok(if header.is_empty() {
        Protection::Absent
    } else if header == PLAIN_HEADER {
        Protection::Plain
    } else {
        Protection::Encrypted
    })
}

/// Gives a freshly opened connection to the database at `path` the key it needs (`None`:
/// plain), and checks that it opens the file, before anything reads or writes it. The
/// store's connections go through it, and so do those of other databases kept under the
/// same key (the server's accounts).
pub fn unlock(conn: &Connection, path: &Path, key: Option<&StoreKey>) -> Result<(), StoreError> {
    match (protection(path)?, key) {
        (Protection::Encrypted, None) => Err(StoreError::KeyRequired { path: path.to_owned() }),
        (Protection::Plain, Some(_)) => Err(StoreError::NotEncrypted { path: path.to_owned() }),
        (Protection::Absent | Protection::Plain, None) => Ok(()),
        (Protection::Absent | Protection::Encrypted, Some(key)) => {
            let _one_at_a_time = KEYING.lock().unwrap_or_else(PoisonError::into_inner);
            // A wrong key is an error returned to the caller, not a line on stderr (or in
            // Android's log) from SQLCipher as well.
            conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
            conn.execute_batch(&format!("PRAGMA key = \"{}\";", key.sqlcipher_literal().as_str()))?;
            check_key(conn, path)
        }
    }
}

/// Held while a connection is given its key. SQLCipher builds its cipher context there (the
/// crypto provider's lookups and, for a new file, a random salt), and once in CI, with three
/// tests keying connections at the same moment in one process, `PRAGMA key` failed on a fresh
/// directory; it did not reproduce on its own, so the race is inferred. Connections are
/// opened seldom (a pool's few, at start), so giving keys one at a time costs nothing
/// measurable.
static KEYING: Mutex<()> = Mutex::new(());

/// SQLCipher takes any key; the first read of the file tells whether it was the right one.
fn check_key(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    match conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0)) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::NotADatabase => {
            Err(StoreError::WrongKey { path: path.to_owned() })
        }
        Err(e) => Err(e.into()),
    }
}

/// Re-encrypts the closed store at `path` from `current` (`None`: plain) to `new` (`None`:
/// plain), all or nothing.
///
/// The store is copied under the new key into a file beside it, which is synced and then
/// renamed over the old one: a crash at any point leaves the store whole under one key or
/// the other. Every connection to the store must be closed first (a store open elsewhere
/// is refused, untouched), because its log would still be under the old key.
pub fn change_key(path: &Path, current: Option<&StoreKey>, new: Option<&StoreKey>) -> Result<(), StoreError> {
    if protection(path)? == Protection::Absent {
        return Err(StoreError::Unsupported(format!("there is no store at {} to change the key of", path.display())));
    }
    // CREATE, for the copy attached beside it; the store itself was found above.
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)?;
    conn.busy_timeout(CHANGE_BUSY_TIMEOUT)?;
    unlock(&conn, path, current)?;
    if current.is_none() && new.is_none() {
        return Ok(());
    }
    // Out of WAL mode, the log is copied into the file and removed; SQLite refuses while
    // another connection has the store open, which is what tells that it is in use.
    let in_use = || StoreError::InUse { path: path.to_owned() };
    let mode: String = conn
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(|e| if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) { in_use() } else { e.into() })?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(in_use());
    }
    let copy = sibling(path, ".rekey");
    remove_if_present(&copy)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let new_literal = new.map(StoreKey::sqlcipher_literal);
    conn.execute(
        "ATTACH DATABASE ?1 AS rekeyed KEY ?2",
        rusqlite::params![copy.to_string_lossy(), new_literal.as_deref().map_or("", String::as_str)],
    )?;
    let exported = conn
        .query_row("SELECT sqlcipher_export('rekeyed')", [], |_| Ok(()))
        .and_then(|()| conn.execute_batch(&format!("PRAGMA rekeyed.user_version = {version};")))
        .and_then(|()| conn.execute_batch("DETACH DATABASE rekeyed;"));
    drop(conn);
    if let Err(e) = exported {
        let _ = std::fs::remove_file(&copy);
        return Err(e.into());
    }
    let io = |what: String| move |source| StoreError::Io { what, source };
    File::open(&copy).and_then(|f| f.sync_all()).map_err(io(format!("syncing {}", copy.display())))?;
    std::fs::rename(&copy, path).map_err(io(format!("moving {} over {}", copy.display(), path.display())))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(format!("syncing {}", dir.display())))?;
    }
    Ok(())
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Io { what: format!("removing {}", path.display()), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_and_write_as_hex_and_never_print() {
        let key = StoreKey::from_bytes(&[0xab; 32]).unwrap();
        assert_eq!(key.to_hex().as_str(), "ab".repeat(32));
        let back = StoreKey::from_hex(&format!("{}\n", "AB".repeat(32))).unwrap();
        assert_eq!(back.to_hex().as_str(), key.to_hex().as_str());
        assert_eq!(format!("{key:?}"), "StoreKey(..)");
        for bad in ["", "ab", &"zz".repeat(32), &"é".repeat(32), &"ab".repeat(33)] {
            assert!(matches!(StoreKey::from_hex(bad), Err(StoreError::InvalidKey { .. })), "{bad}");
        }
        assert!(matches!(StoreKey::from_bytes(&[1; 31]), Err(StoreError::InvalidKey { .. })));
        assert_ne!(StoreKey::generate().unwrap().to_hex(), StoreKey::generate().unwrap().to_hex());
    }

    #[test]
    fn the_header_tells_plain_from_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        assert_eq!(protection(&path).unwrap(), Protection::Absent);
        let plain = Connection::open(&path).unwrap();
        plain.execute_batch("CREATE TABLE t (x)").unwrap();
        drop(plain);
        assert_eq!(protection(&path).unwrap(), Protection::Plain);

        let secret = dir.path().join("e.db");
        let key = StoreKey::generate().unwrap();
        let conn = Connection::open(&secret).unwrap();
        unlock(&conn, &secret, Some(&key)).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES ('a secret answer')").unwrap();
        drop(conn);
        assert_eq!(protection(&secret).unwrap(), Protection::Encrypted);
        let bytes = std::fs::read(&secret).unwrap();
        assert!(!bytes.windows(6).any(|w| w == b"secret"));

        let again = Connection::open(&secret).unwrap();
        assert!(matches!(unlock(&again, &secret, None), Err(StoreError::KeyRequired { .. })));
        let wrong = StoreKey::generate().unwrap();
        assert!(matches!(unlock(&again, &secret, Some(&wrong)), Err(StoreError::WrongKey { .. })));
        let plain = Connection::open(&path).unwrap();
        assert!(matches!(unlock(&plain, &path, Some(&key)), Err(StoreError::NotEncrypted { .. })));
    }
}
