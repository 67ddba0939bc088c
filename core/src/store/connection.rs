//! Opening SQLite connections with the store's settings, and the pool of read connections.
//!
//! One connection writes (behind the store's mutex); readers each have their own
//! connection, so in WAL mode they never block the writer nor each other.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{StoreError, StoreKey, encryption, schema};

/// How long a connection waits for another process's lock before giving up.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle read connections kept open for reuse.
const MAX_IDLE_READERS: usize = 4;

/// What a write that returned `Ok` survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The process being killed and the machine losing power: every commit waits for the
    /// storage to confirm it (`synchronous = FULL`). A relay acknowledges pushes, so it
    /// runs this way.
    #[default]
    PowerLoss,
    /// The process being killed (`kill -9`, the app swiped away, a crash), not a power cut
    /// or a kernel crash, which may lose the last commits but never corrupts the store
    /// (`synchronous = NORMAL`; the log is synced at each checkpoint). This is Android's own
    /// default for WAL databases: a phone's flash takes milliseconds to sync, which every
    /// answer would otherwise wait for.
    ProcessCrash,
}

/// Opens the read-write connection, creating the file if needed (encrypted, given a key).
pub fn open_writer(path: &Path, durability: Durability, key: Option<&StoreKey>) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    encryption::unlock(&conn, path, key)?;
    // Refuse a newer database before anything (even the journal mode) writes to it.
    let found = schema::version(&conn)?;
    if found > schema::LATEST {
        return Err(StoreError::NewerDatabase { found, supported: schema::LATEST });
    }
    // WAL lets readers work while the writer writes; `synchronous` is what `durability` asks.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unsupported(format!(
            "the database at {} cannot use WAL journaling (got `{mode}`)",
            path.display()
        )));
    }
    conn.execute_batch(match durability {
        Durability::PowerLoss => "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        Durability::ProcessCrash => "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    })?;
    Ok(conn)
}

fn open_reader(path: &Path, key: Option<&StoreKey>) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    encryption::unlock(&conn, path, key)?;
    conn.execute_batch("PRAGMA foreign_keys = ON;")?;
    Ok(conn)
}

/// Read-only connections, opened on demand and reused.
#[derive(Debug)]
pub struct ReaderPool {
    path: PathBuf,
    key: Option<StoreKey>,
    /// Idle connections, each with the generation it was opened in.
    idle: Mutex<Vec<(u64, Connection)>>,
    /// Bumped by [`ReaderPool::renew`]; connections of an older generation are closed
    /// instead of reused.
    generation: AtomicU64,
}

impl ReaderPool {
    /// A pool of readers of the database at `path`, encrypted under `key` if given.
    pub fn new(path: PathBuf, key: Option<StoreKey>) -> Self {
        ReaderPool { path, key, idle: Mutex::new(Vec::new()), generation: AtomicU64::new(0) }
    }

    /// Runs `f` with a read connection.
    pub fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let generation = self.generation.load(Ordering::Acquire);
        let reused = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let (opened_in, conn) = match reused {
            Some((opened_in, conn)) if opened_in == generation => (opened_in, conn),
            _ => (generation, open_reader(&self.path, self.key.as_ref())?),
        };
        let result = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_READERS && opened_in == self.generation.load(Ordering::Acquire) {
            idle.push((opened_in, conn));
        }
        result
    }

    /// Retires every connection open now, once it is idle: SQLite reads the planner's
    /// statistics when a connection opens, so readers opened before an `ANALYZE` would go
    /// on planning without it.
    pub fn renew(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
