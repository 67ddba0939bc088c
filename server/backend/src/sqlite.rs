//! The embedded backend: the server's records in `server.db` and the survey documents in a
//! `terrain-core` store (`surveys.db`), both SQLite files under the data directory.
//!
//! Keeping survey documents in the same store the phones use means one implementation of
//! snapshots, chunks, compaction, the change feed and the strict merge path.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rand::TryRngCore;
use rusqlite::{Connection, OptionalExtension, params};
use terrain_core::entity::EntityConflict;
use terrain_core::form::Form;
use terrain_core::media::Digest;
use terrain_core::store::{
    Check, DailyCount, Durability, EntityCheck, EntityFeedEntry, EntityHeads, EntityImportReport, EntityLink,
    EntityQuery, EntityRecord, EntityVisibility, FeedEntry, MergeOutcome, Rebuilt, ReceivedEntity, StoreError, Survey,
    SurveyQuery, SurveySummary, Visibility, decode_heads, encode_heads, encryption, schema,
};
use terrain_core::survey::{AnswerPath, Conflict, FieldEdit, NewComment, ReviewStatus};
use terrain_core::{Author, ChangeHash, Role, Store, StoreKey, Value};

use super::backup::{self, BackupError, DataLock};
use super::{
    Attempt, AuditEntry, AuditRow, Backend, BackendError, BackendResult, BlobStore, DeliveryLog, Device,
    DeviceEntityScope, DeviceKey, DueDelivery, Enrolment, Entry, Fault, FeedToken, FolderBlobs, FormFileInfo, FormInfo,
    Identity, Membership, NewDelivery, NewSavedExport, NewUser, Project, ReviewItem, SavedExport, SeenState, Team,
    TokenPurpose, TokenRecord, User, UserId, Webhook,
};

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_accounts.sql"),
    include_str!("../migrations/002_protection.sql"),
    include_str!("../migrations/003_feed_tokens.sql"),
    include_str!("../migrations/004_webhooks.sql"),
    include_str!("../migrations/005_saved_exports.sql"),
    include_str!("../migrations/006_identity.sql"),
    include_str!("../migrations/007_password_change.sql"),
    include_str!("../migrations/008_devices.sql"),
    include_str!("../migrations/009_enrolments.sql"),
    include_str!("../migrations/010_media_quota.sql"),
    include_str!("../migrations/011_device_entity_scopes.sql"),
];

/// The device under which the server writes a user's edits made in the dashboard.
pub const WEB_DEVICE: &str = "web";

/// The embedded SQLite backend.
pub struct SqliteBackend {
    db: Mutex<Connection>,
    surveys: Store,
    /// Read at open; only [`Backend::begin_epoch`] changes it, through this object.
    identity: Mutex<Identity>,
    /// The data directory.
    dir: PathBuf,
    /// The key both databases are encrypted under, if they are: backups copy them as they
    /// are.
    key: Option<StoreKey>,
    /// The bytes of attached files, in `blobs/` under the data directory.
    blobs: FolderBlobs,
    /// Held while open, so that a restore cannot swap the files underneath.
    _lock: DataLock,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend").field("surveys", &self.surveys.path()).finish()
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(2)?;
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        // Roles are written by this code only. An unknown one (a newer Terrain's, or a hand
        // edit) is refused rather than guessed at: no role is harmless everywhere.
        role: role.parse().map_err(|e: terrain_core::identity::UnknownRole| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
        })?,
        display_name: r.get(3)?,
        disabled: r.get(4)?,
        must_change_password: r.get(5)?,
    })
}

const SAVED_EXPORT_COLUMNS: &str = "id, project_id, name, form_id, query, incremental, cursor, created_by, created_at";

fn saved_export_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SavedExport> {
    let query: String = r.get(4)?;
    Ok(SavedExport {
        id: r.get(0)?,
        project_id: r.get(1)?,
        name: r.get(2)?,
        form_id: r.get(3)?,
        query: serde_json::from_str(&query)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e)))?,
        incremental: r.get(5)?,
        cursor: r.get::<_, i64>(6)? as u64,
        created_by: r.get(7)?,
        created_at: DateTime::from_timestamp_millis(r.get(8)?).unwrap_or_default(),
    })
}

/// A `device_heads` row: confirmed heads, pending heads, and the cursor that confirms them.
type HeldRow = (Option<Vec<u8>>, Option<Vec<u8>>, Option<i64>);

const USER_COLUMNS: &str = "id, username, role, display_name, disabled, must_change_password";
/// How many columns [`USER_COLUMNS`] names: the index of the first column after them.
const AFTER_USER: usize = 6;
/// [`USER_COLUMNS`] of the `users` table aliased `u`, for joins.
const U_USER_COLUMNS: &str = "u.id, u.username, u.role, u.display_name, u.disabled, u.must_change_password";

/// The columns [`device_row`] reads.
const DEVICE_COLUMNS: &str = "device_key, device_id, created_at, last_sync_at, client, revoked_at";

/// The columns [`enrolment_row`] reads.
const ENROLMENT_COLUMNS: &str = "id, user_id, label, created_at, expires_at, redeemed_at, revoked_at";

fn enrolment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Enrolment> {
    let time = |ms: Option<i64>| ms.and_then(DateTime::from_timestamp_millis);
    Ok(Enrolment {
        id: r.get(0)?,
        user: r.get(1)?,
        label: r.get(2)?,
        created_at: time(r.get(3)?).unwrap_or_default(),
        expires_at: time(r.get(4)?).unwrap_or_default(),
        redeemed_at: time(r.get(5)?),
        revoked_at: time(r.get(6)?),
    })
}

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Device> {
    let key: Vec<u8> = r.get(0)?;
    let time = |ms: Option<i64>| ms.and_then(DateTime::from_timestamp_millis);
    Ok(Device {
        // Only this code writes keys, always 8 bytes.
        key: <DeviceKey>::try_from(key.as_slice()).unwrap_or_default(),
        device_id: r.get(1)?,
        registered_at: time(r.get(2)?).unwrap_or_default(),
        last_sync_at: time(r.get(3)?),
        client: r.get(4)?,
        revoked_at: time(r.get(5)?),
    })
}

impl SqliteBackend {
    /// Opens (or creates) the backend in `dir`, its databases plain.
    pub fn open(dir: &Path) -> BackendResult<SqliteBackend> {
        SqliteBackend::open_keyed(dir, None)
    }

    /// Opens (or creates) the backend in `dir`, both its databases encrypted under `key`
    /// (`None`: plain). A missing or wrong key is refused before either file is touched.
    pub fn open_keyed(dir: &Path, key: Option<&StoreKey>) -> BackendResult<SqliteBackend> {
        std::fs::create_dir_all(dir)
            .map_err(|e| BackendError::Database(format!("cannot create the data directory {}: {e}", dir.display())))?;
        let lock = DataLock::shared(dir).map_err(|e| BackendError::Database(e.to_string()))?;
        let server_db = dir.join("server.db");
        let mut db = Connection::open(&server_db)?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        encryption::unlock(&db, &server_db, key)?;
        let version: u32 = db.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version as usize > MIGRATIONS.len() {
            return Err(StoreError::NewerDatabase { found: version, supported: MIGRATIONS.len() as u32 }.into());
        }
        db.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        db.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        schema::apply(&mut db, MIGRATIONS, MIGRATIONS.len() as u32)?;
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "server".into());
        let author = Author::new("terrain-server", host, Role::Admin);
        let surveys = match key {
            Some(key) => Store::open_encrypted(dir.join("surveys.db"), author, Durability::PowerLoss, key)?,
            None => Store::open(dir.join("surveys.db"), author)?,
        };
        // Exports and the map read surveys from the projection, not from their documents.
        surveys.keep_projections()?;
        let identity = identity_at_open(&db, &surveys)?;
        // An encrypted server seals its attached files under a key its survey store keeps.
        let blobs = dir.join("blobs");
        let blobs = FolderBlobs::open_sealed(&blobs, surveys.file_key_for(&blobs)?)?;
        Ok(SqliteBackend {
            db: Mutex::new(db),
            surveys,
            identity: Mutex::new(identity),
            dir: dir.to_owned(),
            key: key.cloned(),
            blobs,
            _lock: lock,
        })
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        // A panic under the lock cannot leave a transaction open: rusqlite rolls back on drop.
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `N` bytes from the operating system's random source: device keys, the server's id, epochs.
fn random_bytes<const N: usize>() -> BackendResult<[u8; N]> {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| BackendError::Database(format!("the system's random source failed: {e}")))?;
    Ok(bytes)
}

/// A random epoch, never 0 (which devices send before their first sync).
fn new_epoch() -> BackendResult<u64> {
    Ok(u64::from_le_bytes(random_bytes()?).max(1))
}

/// The server's identity, made on the first open of its data directory: a new server's
/// first epoch starts at the feed's position then (0, or where an older Terrain's data
/// had got to).
fn identity_at_open(db: &Connection, surveys: &Store) -> BackendResult<Identity> {
    let server_id: [u8; 16] = random_bytes()?;
    db.execute(
        "INSERT OR IGNORE INTO identity (id, server_id, epoch, epoch_start, started_at) VALUES (1, ?1, ?2, ?3, ?4)",
        params![server_id.as_slice(), new_epoch()? as i64, surveys.feed_position()? as i64, now_ms()],
    )?;
    read_identity(db)
}

fn read_identity(db: &Connection) -> BackendResult<Identity> {
    let (id, epoch, start, started): (Vec<u8>, i64, i64, i64) =
        db.query_row("SELECT server_id, epoch, epoch_start, started_at FROM identity WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    let server_id = id
        .try_into()
        .map_err(|_| BackendError::Database("the server's id in server.db is not 16 bytes: restore a backup".into()))?;
    Ok(Identity {
        server_id,
        // The same 64 bits, kept in SQLite's signed integer.
        epoch: epoch as u64,
        epoch_start: start.max(0) as u64,
        started_at: DateTime::from_timestamp_millis(started).unwrap_or_default(),
    })
}

impl Backend for SqliteBackend {
    fn create_user(&self, user: &NewUser) -> BackendResult<User> {
        let db = self.db();
        db.execute(
            "INSERT INTO users (username, password_hash, role, display_name, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![user.username, user.password_hash, user.role.as_str(), user.display_name, now_ms()],
        )
        .map_err(|e| match BackendError::from(e) {
            BackendError::Duplicate(_) => BackendError::Duplicate(format!("user `{}`", user.username)),
            other => other,
        })?;
        let id = db.last_insert_rowid();
        drop(db);
        // Registered now rather than at the first edit in the dashboard, so that a backup
        // taken after the account was made knows the device of all its dashboard edits.
        self.register_device(id, WEB_DEVICE)?;
        Ok(User {
            id,
            username: user.username.clone(),
            role: user.role,
            display_name: user.display_name.clone(),
            disabled: false,
            must_change_password: false,
        })
    }

    fn user_by_name(&self, username: &str) -> BackendResult<Option<(User, String)>> {
        Ok(self
            .db()
            .query_row(
                &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = ?1"),
                [username],
                |r| Ok((user_row(r)?, r.get(AFTER_USER)?)),
            )
            .optional()?)
    }

    fn user(&self, id: UserId) -> BackendResult<Option<User>> {
        Ok(self
            .db()
            .query_row(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"), [id], user_row)
            .optional()?)
    }

    fn users(&self) -> BackendResult<Vec<User>> {
        let db = self.db();
        let mut stmt = db.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"))?;
        let rows = stmt.query_map([], user_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn set_disabled(&self, user: UserId, disabled: bool) -> BackendResult<()> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let n = tx.execute("UPDATE users SET disabled = ?2 WHERE id = ?1", params![user, disabled])?;
        if n == 0 {
            return Err(BackendError::NotFound(format!("user {user}")));
        }
        if disabled {
            tx.execute(
                "UPDATE tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
                params![user, now_ms()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn register_device(&self, user: UserId, device_id: &str) -> BackendResult<DeviceKey> {
        let db = self.db();
        let existing: Option<Vec<u8>> = db
            .query_row(
                "SELECT device_key FROM devices WHERE user_id = ?1 AND device_id = ?2",
                params![user, device_id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(key) = existing.and_then(|k| <DeviceKey>::try_from(k.as_slice()).ok()) {
            return Ok(key);
        }
        let key: DeviceKey = random_bytes()?;
        db.execute(
            "INSERT INTO devices (device_key, user_id, device_id, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![key.as_slice(), user, device_id, now_ms()],
        )?;
        Ok(key)
    }

    fn device(&self, key: &DeviceKey) -> BackendResult<Option<Device>> {
        Ok(self
            .db()
            .query_row(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE device_key = ?1"),
                [key.as_slice()],
                device_row,
            )
            .optional()?)
    }

    fn devices(&self, user: UserId) -> BackendResult<Vec<Device>> {
        let db = self.db();
        let mut statement = db.prepare(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = ?1 ORDER BY coalesce(last_sync_at, created_at) DESC"
        ))?;
        let devices = statement.query_map([user], device_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(devices)
    }

    fn revoke_device(&self, user: UserId, key: &DeviceKey) -> BackendResult<Option<u64>> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let now = now_ms();
        let n = tx.execute(
            "UPDATE devices SET revoked_at = ?3 WHERE user_id = ?1 AND device_key = ?2 AND revoked_at IS NULL",
            params![user, key.as_slice(), now],
        )?;
        if n == 0 {
            return Ok(None);
        }
        // Sessions are what the count tells the administrator; the device's refresh token
        // ends with them, uncounted.
        let ended = tx.execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE device_key = ?1 AND revoked_at IS NULL AND purpose = 'session'",
            params![key.as_slice(), now],
        )?;
        tx.execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE device_key = ?1 AND revoked_at IS NULL",
            params![key.as_slice(), now],
        )?;
        tx.commit()?;
        Ok(Some(ended as u64))
    }

    fn device_synced(&self, key: &DeviceKey, client: Option<&str>) -> BackendResult<()> {
        self.db().execute(
            "UPDATE devices SET last_sync_at = ?2, client = coalesce(?3, client) WHERE device_key = ?1",
            params![key.as_slice(), now_ms(), client],
        )?;
        Ok(())
    }

    fn insert_enrolment(
        &self,
        code_hash: &[u8; 32],
        user: UserId,
        label: &str,
        expires_at: DateTime<Utc>,
    ) -> BackendResult<Enrolment> {
        let db = self.db();
        Ok(db.query_row(
            &format!(
                "INSERT INTO enrolments (code_hash, user_id, label, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 RETURNING {ENROLMENT_COLUMNS}"
            ),
            params![code_hash.as_slice(), user, label, now_ms(), expires_at.timestamp_millis()],
            enrolment_row,
        )?)
    }

    fn enrolments(&self, user: UserId) -> BackendResult<Vec<Enrolment>> {
        let db = self.db();
        let mut statement =
            db.prepare(&format!("SELECT {ENROLMENT_COLUMNS} FROM enrolments WHERE user_id = ?1 ORDER BY id DESC"))?;
        let enrolments = statement.query_map([user], enrolment_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(enrolments)
    }

    fn enrolment(&self, code_hash: &[u8; 32]) -> BackendResult<Option<Enrolment>> {
        Ok(self
            .db()
            .query_row(
                &format!("SELECT {ENROLMENT_COLUMNS} FROM enrolments WHERE code_hash = ?1"),
                [code_hash.as_slice()],
                enrolment_row,
            )
            .optional()?)
    }

    fn redeem_enrolment(&self, code_hash: &[u8; 32]) -> BackendResult<Option<Enrolment>> {
        let now = now_ms();
        Ok(self
            .db()
            .query_row(
                &format!(
                    "UPDATE enrolments SET redeemed_at = ?2
                     WHERE code_hash = ?1 AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > ?2
                     RETURNING {ENROLMENT_COLUMNS}"
                ),
                params![code_hash.as_slice(), now],
                enrolment_row,
            )
            .optional()?)
    }

    fn revoke_enrolment(&self, user: UserId, id: i64) -> BackendResult<bool> {
        let n = self.db().execute(
            "UPDATE enrolments SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2
             AND revoked_at IS NULL AND redeemed_at IS NULL",
            params![id, user, now_ms()],
        )?;
        Ok(n > 0)
    }

    fn device_owner(&self, key: &DeviceKey) -> BackendResult<Option<User>> {
        Ok(self
            .db()
            .query_row(
                &format!(
                    "SELECT {U_USER_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id WHERE d.device_key = ?1"
                ),
                [key.as_slice()],
                user_row,
            )
            .optional()?)
    }

    fn insert_token(
        &self,
        hash: &[u8; 32],
        user: UserId,
        device: Option<&DeviceKey>,
        expires_at: DateTime<Utc>,
    ) -> BackendResult<()> {
        self.db().execute(
            "INSERT INTO tokens (hash, user_id, device_key, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![hash.as_slice(), user, device.map(|d| d.as_slice()), now_ms(), expires_at.timestamp_millis()],
        )?;
        Ok(())
    }

    fn insert_refresh_token(
        &self,
        hash: &[u8; 32],
        user: UserId,
        device: &DeviceKey,
        expires_at: DateTime<Utc>,
    ) -> BackendResult<()> {
        self.db().execute(
            "INSERT INTO tokens (hash, user_id, device_key, created_at, expires_at, purpose)
             VALUES (?1, ?2, ?3, ?4, ?5, 'refresh')",
            params![hash.as_slice(), user, device.as_slice(), now_ms(), expires_at.timestamp_millis()],
        )?;
        Ok(())
    }

    fn revoke_refresh_tokens(&self, device: &DeviceKey) -> BackendResult<u64> {
        let n = self.db().execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE device_key = ?1 AND purpose = 'refresh' AND revoked_at IS NULL",
            params![device.as_slice(), now_ms()],
        )?;
        Ok(n as u64)
    }

    fn token(&self, hash: &[u8; 32]) -> BackendResult<Option<TokenRecord>> {
        Ok(self
            .db()
            .query_row(
                &format!(
                    "SELECT {U_USER_COLUMNS}, t.device_key, t.expires_at, t.revoked_at IS NOT NULL, t.purpose,
                            d.revoked_at IS NOT NULL
                     FROM tokens t JOIN users u ON u.id = t.user_id
                     LEFT JOIN devices d ON d.device_key = t.device_key WHERE t.hash = ?1"
                ),
                [hash.as_slice()],
                |r| {
                    let device: Option<Vec<u8>> = r.get(AFTER_USER)?;
                    let purpose: String = r.get(AFTER_USER + 3)?;
                    Ok(TokenRecord {
                        user: user_row(r)?,
                        device_key: device.and_then(|d| <DeviceKey>::try_from(d.as_slice()).ok()),
                        expires_at: DateTime::from_timestamp_millis(r.get(AFTER_USER + 1)?).unwrap_or_default(),
                        revoked: r.get(AFTER_USER + 2)?,
                        // Only this code writes purposes; one it does not know opens nothing
                        // more than a feed.
                        purpose: match purpose.as_str() {
                            "session" => TokenPurpose::Session,
                            "refresh" => TokenPurpose::Refresh,
                            _ => TokenPurpose::Feed,
                        },
                        device_revoked: r.get(AFTER_USER + 4)?,
                    })
                },
            )
            .optional()?)
    }

    fn set_password(
        &self,
        user: UserId,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&[u8; 32]>,
    ) -> BackendResult<u64> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let n = tx.execute(
            "UPDATE users SET password_hash = ?2, must_change_password = ?3 WHERE id = ?1",
            params![user, password_hash, must_change],
        )?;
        if n == 0 {
            return Err(BackendError::NotFound(format!("user {user}")));
        }
        let keep = keep_session.map(|h| h.as_slice());
        // The kept session's device keeps its refresh token, or it would be logged out when
        // its session token next expires.
        tx.execute(
            "UPDATE tokens SET revoked_at = ?2
             WHERE user_id = ?1 AND purpose = 'refresh' AND revoked_at IS NULL
               AND device_key IS NOT (SELECT device_key FROM tokens WHERE hash = ?3)",
            params![user, now_ms(), keep],
        )?;
        let ended = tx.execute(
            "UPDATE tokens SET revoked_at = ?2
             WHERE user_id = ?1 AND purpose = 'session' AND revoked_at IS NULL AND hash IS NOT ?3",
            params![user, now_ms(), keep],
        )?;
        tx.commit()?;
        Ok(ended as u64)
    }

    fn revoke_token(&self, hash: &[u8; 32]) -> BackendResult<bool> {
        let n = self.db().execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE hash = ?1 AND revoked_at IS NULL",
            params![hash.as_slice(), now_ms()],
        )?;
        Ok(n > 0)
    }

    fn insert_feed_token(
        &self,
        hash: &[u8; 32],
        user: UserId,
        label: &str,
        expires_at: DateTime<Utc>,
    ) -> BackendResult<i64> {
        let db = self.db();
        db.execute(
            "INSERT INTO tokens (hash, user_id, created_at, expires_at, purpose, label)
             VALUES (?1, ?2, ?3, ?4, 'feed', ?5)",
            params![hash.as_slice(), user, now_ms(), expires_at.timestamp_millis(), label],
        )?;
        Ok(db.last_insert_rowid())
    }

    fn feed_tokens(&self, user: UserId) -> BackendResult<Vec<FeedToken>> {
        let db = self.db();
        let mut stmt = db.prepare(
            "SELECT rowid, label, created_at, expires_at, revoked_at IS NOT NULL FROM tokens
             WHERE user_id = ?1 AND purpose = 'feed' ORDER BY rowid DESC",
        )?;
        let rows = stmt.query_map([user], |r| {
            Ok(FeedToken {
                id: r.get(0)?,
                label: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                created_at: DateTime::from_timestamp_millis(r.get(2)?).unwrap_or_default(),
                expires_at: DateTime::from_timestamp_millis(r.get(3)?).unwrap_or_default(),
                revoked: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn revoke_feed_token(&self, user: UserId, id: i64) -> BackendResult<bool> {
        let n = self.db().execute(
            "UPDATE tokens SET revoked_at = ?3 WHERE rowid = ?1 AND user_id = ?2 AND purpose = 'feed'
             AND revoked_at IS NULL",
            params![id, user, now_ms()],
        )?;
        Ok(n > 0)
    }

    fn create_project(&self, name: &str) -> BackendResult<Project> {
        let db = self.db();
        db.execute("INSERT INTO projects (name, created_at) VALUES (?1, ?2)", params![name, now_ms()]).map_err(
            |e| match BackendError::from(e) {
                BackendError::Duplicate(_) => BackendError::Duplicate(format!("project `{name}`")),
                other => other,
            },
        )?;
        Ok(Project { id: db.last_insert_rowid(), name: name.to_owned() })
    }

    fn projects(&self) -> BackendResult<Vec<Project>> {
        let db = self.db();
        let mut stmt = db.prepare_cached("SELECT id, name FROM projects ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok(Project { id: r.get(0)?, name: r.get(1)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn add_project_member(&self, project: i64, user: UserId) -> BackendResult<()> {
        self.db().execute(
            "INSERT OR IGNORE INTO project_members (project_id, user_id) VALUES (?1, ?2)",
            params![project, user],
        )?;
        Ok(())
    }

    fn create_team(&self, project: i64, name: &str) -> BackendResult<Team> {
        let db = self.db();
        db.execute("INSERT INTO teams (project_id, name) VALUES (?1, ?2)", params![project, name])?;
        Ok(Team { id: db.last_insert_rowid(), project_id: project, name: name.to_owned() })
    }

    fn teams(&self) -> BackendResult<Vec<Team>> {
        let db = self.db();
        let mut stmt = db.prepare_cached("SELECT id, project_id, name FROM teams ORDER BY project_id, name")?;
        let rows = stmt.query_map([], |r| Ok(Team { id: r.get(0)?, project_id: r.get(1)?, name: r.get(2)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn add_team_member(&self, team: i64, user: UserId) -> BackendResult<()> {
        self.db()
            .execute("INSERT OR IGNORE INTO team_members (team_id, user_id) VALUES (?1, ?2)", params![team, user])?;
        Ok(())
    }

    fn team_members(&self, team: i64) -> BackendResult<Vec<User>> {
        let db = self.db();
        let mut stmt = db.prepare_cached(&format!(
            "SELECT {U_USER_COLUMNS} FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = ?1 ORDER BY u.username"
        ))?;
        let rows = stmt.query_map([team], user_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn membership(&self, user: UserId) -> BackendResult<Membership> {
        let db = self.db();
        let mut membership = Membership::default();
        let mut direct = db.prepare_cached("SELECT project_id FROM project_members WHERE user_id = ?1")?;
        for project in direct.query_map([user], |r| r.get::<_, i64>(0))? {
            membership.projects.insert(project?);
        }
        let mut teams = db.prepare_cached(
            "SELECT t.id, t.project_id, u.username
             FROM team_members mine
             JOIN teams t ON t.id = mine.team_id
             JOIN team_members other ON other.team_id = t.id
             JOIN users u ON u.id = other.user_id
             WHERE mine.user_id = ?1",
        )?;
        for row in
            teams.query_map([user], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?
        {
            let (team, project, username) = row?;
            membership.teams.insert(team);
            membership.team_projects.insert(team, project);
            membership.projects.insert(project);
            membership.teammates.entry(project).or_insert_with(BTreeSet::new).insert(username);
        }
        Ok(membership)
    }

    fn publish_form_with_files(
        &self,
        project: i64,
        form: &Form,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> BackendResult<()> {
        let db = self.db();
        let owner: Option<i64> = db
            .query_row("SELECT project_id FROM project_forms WHERE form_id = ?1", [&form.id], |r| r.get(0))
            .optional()?;
        match owner {
            Some(p) if p != project => {
                return Err(BackendError::Duplicate(format!("form `{}` in another project", form.id)));
            }
            Some(_) => {}
            None => {
                let exists: Option<i64> =
                    db.query_row("SELECT id FROM projects WHERE id = ?1", [project], |r| r.get(0)).optional()?;
                if exists.is_none() {
                    return Err(BackendError::NotFound(format!("project {project}")));
                }
                db.execute(
                    "INSERT INTO project_forms (form_id, project_id) VALUES (?1, ?2)",
                    params![form.id, project],
                )?;
            }
        }
        self.surveys.save_form_with_files(form, files)?;
        Ok(())
    }

    fn forms(&self) -> BackendResult<Vec<FormInfo>> {
        let projects: HashMap<String, i64> = {
            let db = self.db();
            let mut stmt = db.prepare_cached("SELECT form_id, project_id FROM project_forms")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        Ok(self
            .surveys
            .forms()?
            .into_iter()
            .filter_map(|f| {
                let project_id = *projects.get(&f.form_id)?;
                Some(FormInfo { form_id: f.form_id, version: f.version, title: f.title, project_id })
            })
            .collect())
    }

    fn form_files(&self) -> BackendResult<BTreeMap<(String, String), Vec<FormFileInfo>>> {
        Ok(self
            .surveys
            .form_file_index()?
            .into_iter()
            .map(|(version, files)| (version, files.into_iter().map(Into::into).collect()))
            .collect())
    }

    fn form(&self, form_id: &str, version: &str) -> BackendResult<Arc<Form>> {
        Ok(self.surveys.form(form_id, version)?)
    }

    fn form_definition(&self, form_id: &str, version: &str) -> BackendResult<Form> {
        Ok(self.surveys.form_definition(form_id, version)?)
    }

    fn form_file(&self, form_id: &str, version: &str, name: &str) -> BackendResult<Option<Vec<u8>>> {
        Ok(self.surveys.form_file(form_id, version, name)?)
    }

    fn form_project(&self, form_id: &str) -> BackendResult<Option<i64>> {
        Ok(self
            .db()
            .query_row("SELECT project_id FROM project_forms WHERE form_id = ?1", [form_id], |r| r.get(0))
            .optional()?)
    }

    fn assign(&self, survey_id: &str, user: UserId) -> BackendResult<()> {
        self.db().execute(
            "INSERT OR IGNORE INTO assignments (survey_id, user_id) VALUES (?1, ?2)",
            params![survey_id, user],
        )?;
        Ok(())
    }

    fn assignees(&self, survey_id: &str) -> BackendResult<Vec<String>> {
        let db = self.db();
        let mut stmt = db.prepare_cached(
            "SELECT u.username FROM assignments a JOIN users u ON u.id = a.user_id WHERE a.survey_id = ?1",
        )?;
        let rows = stmt.query_map([survey_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn assigned_to(&self, user: UserId) -> BackendResult<Vec<String>> {
        let db = self.db();
        let mut stmt = db.prepare_cached("SELECT survey_id FROM assignments WHERE user_id = ?1")?;
        let rows = stmt.query_map([user], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn push(
        &self,
        items: &[(String, Vec<u8>)],
        check: Check<'_>,
    ) -> BackendResult<Vec<Result<MergeOutcome, StoreError>>> {
        Ok(self.surveys.merge_batch_checked(items, check)?)
    }

    fn heads(&self, survey_id: &str) -> BackendResult<Option<Vec<ChangeHash>>> {
        match self.surveys.heads(survey_id) {
            Ok(heads) => Ok(Some(heads)),
            Err(StoreError::UnknownSurvey(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn changes_after(&self, survey_id: &str, heads: &[ChangeHash]) -> BackendResult<Vec<u8>> {
        Ok(self.surveys.changes_after(survey_id, heads)?)
    }

    fn feed(&self, cursor: u64, limit: u32, visible: &Visibility) -> BackendResult<Vec<FeedEntry>> {
        Ok(self.surveys.feed_visible(cursor, limit, visible)?)
    }

    fn push_entities(
        &self,
        items: &[ReceivedEntity],
        check: EntityCheck<'_>,
    ) -> BackendResult<Vec<Result<bool, StoreError>>> {
        Ok(self.surveys.merge_entities_checked(items, check)?)
    }

    fn entity_feed(&self, cursor: u64, limit: u32, visible: &EntityVisibility) -> BackendResult<Vec<EntityFeedEntry>> {
        Ok(self.surveys.entity_feed(cursor, limit, visible)?)
    }

    fn entity_heads(&self, list: &str, id: &str) -> BackendResult<Option<EntityHeads>> {
        Ok(self.surveys.entity_heads(list, id)?)
    }

    fn entity_changes_after(&self, list: &str, id: &str, heads: &[ChangeHash]) -> BackendResult<Vec<u8>> {
        Ok(self.surveys.entity_changes_after(list, id, heads)?)
    }

    fn entities(&self, list: &str, query: &EntityQuery) -> BackendResult<Vec<EntityRecord>> {
        Ok(self.surveys.entities(list, query)?)
    }

    fn entity(&self, list: &str, id: &str) -> BackendResult<Option<EntityRecord>> {
        Ok(self.surveys.entity(list, id)?)
    }

    fn entity_sources(&self, list: &str, id: &str) -> BackendResult<BTreeMap<String, String>> {
        Ok(self.surveys.entity_sources(list, id)?)
    }

    fn entity_links(&self, survey_ids: &[String]) -> BackendResult<Vec<Vec<EntityLink>>> {
        Ok(self.surveys.entity_links(survey_ids)?)
    }

    fn entity_conflicts(&self, list: &str, id: &str) -> BackendResult<Vec<EntityConflict>> {
        Ok(self.surveys.entity_conflicts(list, id)?)
    }

    fn import_entities(&self, list: &str, csv: &[u8]) -> BackendResult<EntityImportReport> {
        Ok(self.surveys.import_entities(list, csv)?)
    }

    fn file_entities(&self, list: &str, ids: &[String], team: Option<i64>) -> BackendResult<()> {
        Ok(self.surveys.file_entities(list, ids, team)?)
    }

    fn assign_entities(&self, list: &str, ids: &[String], assignee: Option<UserId>) -> BackendResult<()> {
        Ok(self.surveys.assign_entities(list, ids, assignee)?)
    }

    fn settle_entity(&self, list: &str, id: &str, property: &str, value: &str) -> BackendResult<EntityRecord> {
        Ok(self.surveys.settle_entity(list, id, property, value)?)
    }

    fn set_entity_deleted(&self, list: &str, id: &str, deleted: bool) -> BackendResult<EntityRecord> {
        Ok(self.surveys.set_entity_deleted(list, id, deleted)?)
    }

    fn survey_summary(&self, survey_id: &str) -> BackendResult<Option<SurveySummary>> {
        Ok(self.surveys.summary(survey_id)?)
    }

    fn survey_json(&self, survey_id: &str) -> BackendResult<serde_json::Value> {
        Ok(self.surveys.survey_json(survey_id)?)
    }

    fn blobs(&self) -> &dyn BlobStore {
        &self.blobs
    }

    fn surveys_with_media(&self, digest: &Digest, after: &str, limit: u32) -> BackendResult<Vec<String>> {
        Ok(self.surveys.surveys_with_media(digest, after, limit)?)
    }

    fn add_media_bytes(&self, device: &DeviceKey, day: chrono::NaiveDate, bytes: u64) -> BackendResult<u64> {
        let db = self.db();
        // Yesterday's and older rows are of no use any more.
        db.prepare_cached("DELETE FROM media_bytes WHERE day < ?1")?.execute([day.to_string()])?;
        let total: i64 = db
            .prepare_cached(
                "INSERT INTO media_bytes (device_key, day, bytes) VALUES (?1, ?2, ?3)
                 ON CONFLICT (device_key, day) DO UPDATE SET bytes = bytes + excluded.bytes RETURNING bytes",
            )?
            .query_row(params![&device[..], day.to_string(), bytes as i64], |r| r.get(0))?;
        Ok(total.max(0) as u64)
    }

    fn device_entity_scope(&self, device: &DeviceKey) -> BackendResult<Option<DeviceEntityScope>> {
        let db = self.db();
        let row: Option<(String, Option<i64>, Option<i64>)> = db
            .prepare_cached(
                "SELECT fingerprint, backfill_at, backfill_until FROM device_entity_scopes WHERE device_key = ?1",
            )?
            .query_row([&device[..]], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        Ok(row.map(|(fingerprint, at, until)| DeviceEntityScope {
            fingerprint,
            backfill: at.zip(until).map(|(at, until)| (at.max(0) as u64, until.max(0) as u64)),
        }))
    }

    fn set_device_entity_scope(&self, device: &DeviceKey, scope: &DeviceEntityScope) -> BackendResult<()> {
        let (at, until) = scope.backfill.map(|(at, until)| (at as i64, until as i64)).unzip();
        self.db()
            .prepare_cached(
                "INSERT INTO device_entity_scopes (device_key, fingerprint, backfill_at, backfill_until)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (device_key) DO UPDATE SET fingerprint = excluded.fingerprint,
                     backfill_at = excluded.backfill_at, backfill_until = excluded.backfill_until",
            )?
            .execute(params![&device[..], scope.fingerprint, at, until])?;
        Ok(())
    }

    fn media_of(&self, survey_ids: &[String]) -> BackendResult<HashMap<String, Vec<Digest>>> {
        Ok(self.surveys.media_of(survey_ids)?)
    }

    fn history(&self, survey_id: &str, path: &AnswerPath) -> BackendResult<Vec<FieldEdit>> {
        Ok(self.histories(survey_id, std::slice::from_ref(path))?.pop().unwrap_or_default())
    }

    fn histories(&self, survey_id: &str, paths: &[AnswerPath]) -> BackendResult<Vec<Vec<FieldEdit>>> {
        let mut all = self.surveys.histories(survey_id, paths)?;
        for edit in all.iter_mut().flatten() {
            if edit.author.is_none() {
                edit.author = self.author_of(&edit.actor)?;
            }
        }
        Ok(all)
    }

    fn conflicts(&self, survey_id: &str) -> BackendResult<Vec<Conflict>> {
        let mut conflicts = self.surveys.conflicts(survey_id)?;
        for value in conflicts.iter_mut().flat_map(|c| c.values.iter_mut()) {
            if value.author.is_none() {
                value.author = self.author_of(&value.actor)?;
            }
        }
        Ok(conflicts)
    }

    fn changed_since_approval(&self, survey_id: &str) -> BackendResult<Option<Vec<String>>> {
        Ok(self.surveys.changed_since_approval(survey_id)?)
    }

    fn set_survey_budget(&self, budget: terrain_core::intake::Budget) {
        self.surveys.set_write_budget(budget);
    }

    fn correct(&self, editor: &User, survey_id: &str, path: &AnswerPath, value: Value) -> BackendResult<bool> {
        let key = self.register_device(editor.id, WEB_DEVICE)?;
        let author = Author::new(&editor.username, WEB_DEVICE, editor.role);
        Ok(self.surveys.set_answer_as(&author, key, survey_id, path, value)?)
    }

    fn enter(&self, editor: &User, entry: &Entry<'_>) -> BackendResult<String> {
        let key = self.register_device(editor.id, WEB_DEVICE)?;
        let author = Author::new(&editor.username, WEB_DEVICE, editor.role);
        let survey_id = match entry.survey_id {
            Some(id) => {
                self.surveys.replace_answers_as(&author, key, id, entry.answers)?;
                id.to_owned()
            }
            None => self.surveys.create_survey_as(&author, key, entry.form_id, entry.version, entry.answers)?,
        };
        Ok(survey_id)
    }

    fn finalize(&self, editor: &User, survey_id: &str) -> BackendResult<()> {
        let key = self.register_device(editor.id, WEB_DEVICE)?;
        let author = Author::new(&editor.username, WEB_DEVICE, editor.role);
        Ok(self.surveys.finalize_as(&author, key, survey_id)?)
    }

    fn review(&self, editor: &User, items: &[ReviewItem<'_>]) -> BackendResult<Vec<Result<bool, StoreError>>> {
        let key = self.register_device(editor.id, WEB_DEVICE)?;
        let author = Author::new(&editor.username, WEB_DEVICE, editor.role);
        let items: Vec<(&str, Option<ReviewStatus>, Option<&NewComment>)> =
            items.iter().map(|i| (i.survey_id, i.status, i.comment)).collect();
        Ok(self.surveys.set_reviews_as(&author, key, &items)?)
    }

    fn mark(&self, survey_id: &str, status: ReviewStatus) -> BackendResult<bool> {
        Ok(self.surveys.set_review(survey_id, Some(status), None)?)
    }

    fn list_surveys(&self, query: &SurveyQuery) -> BackendResult<Vec<SurveySummary>> {
        Ok(self.surveys.list(query)?)
    }

    fn count_surveys(&self, query: &SurveyQuery) -> BackendResult<u64> {
        Ok(self.surveys.count(query)?)
    }

    fn daily_counts(&self, query: &SurveyQuery) -> BackendResult<Vec<DailyCount>> {
        Ok(self.surveys.daily_counts(query)?)
    }

    fn survey(&self, survey_id: &str) -> BackendResult<Survey> {
        Ok(self.surveys.survey(survey_id)?)
    }

    fn projected(&self, survey_ids: &[String]) -> BackendResult<Vec<BackendResult<Survey>>> {
        Ok(self.surveys.projected(survey_ids)?.into_iter().map(|r| r.map_err(BackendError::from)).collect())
    }

    fn rebuild_projections(&self) -> BackendResult<Rebuilt> {
        Ok(self.surveys.rebuild_projections()?)
    }

    fn holds(&self, survey_id: &str, heads: &[ChangeHash]) -> BackendResult<bool> {
        Ok(self.surveys.holds(survey_id, heads)?)
    }

    fn backup(&self, out: &Path, seal: &backup::Seal) -> Result<backup::Created, BackupError> {
        let identity = self.identity()?;
        backup::create(&self.dir, out, seal, identity.server_id, identity.epoch, self.key.as_ref())
    }

    fn identity(&self) -> BackendResult<Identity> {
        Ok(*self.identity.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn begin_epoch(&self) -> BackendResult<Identity> {
        let mut identity = self.identity.lock().unwrap_or_else(|e| e.into_inner());
        let db = self.db();
        db.execute(
            "UPDATE identity SET epoch = ?1, epoch_start = ?2, started_at = ?3 WHERE id = 1",
            params![new_epoch()? as i64, self.surveys.feed_position()? as i64, now_ms()],
        )?;
        *identity = read_identity(&db)?;
        Ok(*identity)
    }

    fn device_heads(
        &self,
        device: &DeviceKey,
        surveys: &[String],
        cursor: u64,
    ) -> BackendResult<HashMap<String, Vec<ChangeHash>>> {
        let db = self.db();
        let mut stmt = db.prepare_cached(
            "SELECT confirmed, pending, pending_cursor FROM device_heads WHERE device_key = ?1 AND survey_id = ?2",
        )?;
        let mut out = HashMap::new();
        for survey in surveys {
            let row: Option<HeldRow> = stmt
                .query_row(params![device.as_slice(), survey], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let heads = match row {
                Some((_, Some(pending), Some(at))) if at >= 0 && (at as u64) <= cursor => decode_heads(&pending),
                Some((Some(confirmed), _, _)) => decode_heads(&confirmed),
                _ => continue,
            };
            out.insert(survey.clone(), heads);
        }
        Ok(out)
    }

    fn confirm_device_heads(&self, device: &DeviceKey, items: &[(String, Vec<ChangeHash>)]) -> BackendResult<()> {
        let mut db = self.db();
        let tx = db.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO device_heads (device_key, survey_id, confirmed) VALUES (?1, ?2, ?3)
                 ON CONFLICT (device_key, survey_id)
                 DO UPDATE SET confirmed = excluded.confirmed, pending = NULL, pending_cursor = NULL",
            )?;
            for (survey, heads) in items {
                stmt.execute(params![device.as_slice(), survey, encode_heads(heads)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn sent_device_heads(
        &self,
        device: &DeviceKey,
        items: &[(String, Vec<ChangeHash>)],
        cursor: u64,
        confirmed: u64,
    ) -> BackendResult<()> {
        let mut db = self.db();
        let tx = db.transaction()?;
        {
            // A pending value the device has already confirmed (its cursor passed it) is
            // promoted first, so that it is not lost when the new one replaces it.
            let mut stmt = tx.prepare_cached(
                "INSERT INTO device_heads (device_key, survey_id, pending, pending_cursor) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (device_key, survey_id) DO UPDATE SET
                    confirmed = CASE WHEN pending_cursor IS NOT NULL AND pending_cursor <= ?5 THEN pending ELSE confirmed END,
                    pending = excluded.pending, pending_cursor = excluded.pending_cursor",
            )?;
            for (survey, heads) in items {
                stmt.execute(params![device.as_slice(), survey, encode_heads(heads), cursor as i64, confirmed as i64])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn maintain(&self) -> BackendResult<usize> {
        Ok(self.surveys.upkeep(200)?)
    }

    fn create_webhook(&self, project: i64, url: &str, secret: &str, events: &[String]) -> BackendResult<Webhook> {
        let db = self.db();
        let now = Utc::now();
        db.execute(
            "INSERT INTO webhooks (project_id, url, secret, events, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![project, url, secret, events.join(" "), now.timestamp_millis()],
        )?;
        Ok(Webhook {
            id: db.last_insert_rowid(),
            project_id: project,
            url: url.into(),
            events: events.to_vec(),
            created_at: now,
        })
    }

    fn webhooks(&self, project: Option<i64>) -> BackendResult<Vec<Webhook>> {
        let db = self.db();
        let mut stmt = db.prepare_cached(
            "SELECT id, project_id, url, events, created_at FROM webhooks
             WHERE deleted_at IS NULL AND (?1 IS NULL OR project_id = ?1) ORDER BY id",
        )?;
        let rows = stmt.query_map([project], |r| {
            let events: String = r.get(3)?;
            Ok(Webhook {
                id: r.get(0)?,
                project_id: r.get(1)?,
                url: r.get(2)?,
                events: events.split_whitespace().map(str::to_owned).collect(),
                created_at: DateTime::from_timestamp_millis(r.get(4)?).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delete_webhook(&self, project: i64, id: i64) -> BackendResult<bool> {
        let n = self.db().execute(
            "UPDATE webhooks SET deleted_at = ?3 WHERE id = ?1 AND project_id = ?2 AND deleted_at IS NULL",
            params![id, project, now_ms()],
        )?;
        Ok(n > 0)
    }

    fn webhook_cursor(&self) -> BackendResult<Option<u64>> {
        let cursor: Option<i64> =
            self.db().query_row("SELECT cursor FROM webhook_cursor WHERE one = 1", [], |r| r.get(0)).optional()?;
        Ok(cursor.map(|c| c as u64))
    }

    fn seen_states(&self, surveys: &[&str]) -> BackendResult<HashMap<String, SeenState>> {
        let db = self.db();
        let mut stmt =
            db.prepare_cached("SELECT status, review_status, conflicts FROM webhook_seen WHERE survey_id = ?1")?;
        let mut out = HashMap::new();
        for id in surveys {
            let state = stmt
                .query_row([id], |r| {
                    Ok(SeenState { status: r.get(0)?, review_status: r.get(1)?, conflicts: r.get(2)? })
                })
                .optional()?;
            if let Some(state) = state {
                out.insert((*id).to_owned(), state);
            }
        }
        Ok(out)
    }

    fn record_seen(&self, cursor: u64, seen: &[(&str, SeenState)], deliveries: &[NewDelivery]) -> BackendResult<()> {
        let mut db = self.db();
        let tx = db.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO webhook_seen (survey_id, status, review_status, conflicts) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (survey_id) DO UPDATE SET status = ?2, review_status = ?3, conflicts = ?4",
            )?;
            for (id, state) in seen {
                upsert.execute(params![id, state.status, state.review_status, state.conflicts])?;
            }
            let now = now_ms();
            let mut enqueue = tx.prepare_cached(
                "INSERT OR IGNORE INTO webhook_deliveries (webhook_id, event_id, event, body, created_at, next_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?;
            for d in deliveries {
                enqueue.execute(params![d.webhook_id, d.event_id, d.event, d.body, now])?;
            }
            tx.execute(
                "INSERT INTO webhook_cursor (one, cursor) VALUES (1, ?1) ON CONFLICT (one) DO UPDATE SET cursor = ?1",
                [cursor as i64],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn due_deliveries(&self, now: DateTime<Utc>, limit: u32) -> BackendResult<Vec<DueDelivery>> {
        let db = self.db();
        let mut stmt = db.prepare_cached(
            "SELECT d.id, d.event_id, d.event, d.body, d.attempts, d.created_at, w.url, w.secret
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.delivered_at IS NULL AND d.failed_at IS NULL AND d.next_at <= ?1 AND w.deleted_at IS NULL
             ORDER BY d.next_at, d.id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now.timestamp_millis(), limit], |r| {
            Ok(DueDelivery {
                id: r.get(0)?,
                event_id: r.get(1)?,
                event: r.get(2)?,
                body: r.get(3)?,
                attempts: r.get(4)?,
                created_at: DateTime::from_timestamp_millis(r.get(5)?).unwrap_or_default(),
                url: r.get(6)?,
                secret: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn record_attempt(&self, a: &Attempt<'_>) -> BackendResult<()> {
        let now = now_ms();
        let (delivered_at, failed_at, next_at) = match (a.delivered, a.retry_at) {
            (true, _) => (Some(now), None, now),
            (false, Some(at)) => (None, None, at.timestamp_millis()),
            (false, None) => (None, Some(now), now),
        };
        self.db().execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?2, last_error = ?3,
             delivered_at = ?4, failed_at = ?5, next_at = ?6 WHERE id = ?1",
            params![a.id, a.status, a.error, delivered_at, failed_at, next_at],
        )?;
        Ok(())
    }

    fn deliveries(&self, webhook: i64, limit: u32) -> BackendResult<Vec<DeliveryLog>> {
        let db = self.db();
        let mut stmt = db.prepare_cached(
            "SELECT event_id, event, created_at, attempts, delivered_at, failed_at, last_status, last_error
             FROM webhook_deliveries WHERE webhook_id = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let time = |ms: Option<i64>| ms.and_then(DateTime::from_timestamp_millis);
        let rows = stmt.query_map(params![webhook, limit], |r| {
            Ok(DeliveryLog {
                event_id: r.get(0)?,
                event: r.get(1)?,
                created_at: DateTime::from_timestamp_millis(r.get(2)?).unwrap_or_default(),
                attempts: r.get(3)?,
                delivered_at: time(r.get(4)?),
                failed_at: time(r.get(5)?),
                last_status: r.get(6)?,
                last_error: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn create_saved_export(&self, e: &NewSavedExport<'_>) -> BackendResult<SavedExport> {
        let db = self.db();
        let now = Utc::now();
        db.execute(
            "INSERT INTO saved_exports (project_id, name, form_id, query, incremental, token_hash, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                e.project_id,
                e.name,
                e.form_id,
                e.query.to_string(),
                e.incremental,
                e.token_hash.as_slice(),
                e.created_by,
                now.timestamp_millis()
            ],
        )?;
        Ok(SavedExport {
            id: db.last_insert_rowid(),
            project_id: e.project_id,
            name: e.name.to_owned(),
            form_id: e.form_id.to_owned(),
            query: e.query.clone(),
            incremental: e.incremental,
            cursor: 0,
            created_by: e.created_by,
            created_at: now,
        })
    }

    fn saved_exports(&self, project: i64) -> BackendResult<Vec<SavedExport>> {
        let db = self.db();
        let mut stmt = db.prepare_cached(&format!(
            "SELECT {SAVED_EXPORT_COLUMNS} FROM saved_exports WHERE project_id = ?1 AND deleted_at IS NULL ORDER BY id"
        ))?;
        let rows = stmt.query_map([project], saved_export_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn saved_export(&self, id: i64, token_hash: &[u8; 32]) -> BackendResult<Option<SavedExport>> {
        Ok(self
            .db()
            .query_row(
                &format!(
                    "SELECT {SAVED_EXPORT_COLUMNS} FROM saved_exports
                     WHERE id = ?1 AND token_hash = ?2 AND deleted_at IS NULL"
                ),
                params![id, token_hash.as_slice()],
                saved_export_row,
            )
            .optional()?)
    }

    fn set_saved_export_cursor(&self, id: i64, cursor: u64) -> BackendResult<()> {
        self.db().execute("UPDATE saved_exports SET cursor = ?2 WHERE id = ?1", params![id, cursor as i64])?;
        Ok(())
    }

    fn delete_saved_export(&self, project: i64, id: i64) -> BackendResult<bool> {
        let n = self.db().execute(
            "UPDATE saved_exports SET deleted_at = ?3 WHERE id = ?1 AND project_id = ?2 AND deleted_at IS NULL",
            params![id, project, now_ms()],
        )?;
        Ok(n > 0)
    }

    fn audit_many(&self, rows: &[AuditRow<'_>]) -> BackendResult<()> {
        let mut db = self.db();
        let tx = db.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO audit (at, user_id, action, survey_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let at = now_ms();
            for row in rows {
                stmt.execute(params![at, row.user, row.action, row.survey_id, row.detail])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn set_freeze_approved(&self, project: i64, frozen: bool) -> BackendResult<()> {
        let n =
            self.db().execute("UPDATE projects SET freeze_approved = ?2 WHERE id = ?1", params![project, frozen])?;
        if n == 0 {
            return Err(BackendError::NotFound(format!("project {project}")));
        }
        Ok(())
    }

    fn freeze_approved(&self, project: i64) -> BackendResult<bool> {
        self.db()
            .query_row("SELECT freeze_approved FROM projects WHERE id = ?1", [project], |r| r.get(0))
            .optional()?
            .ok_or_else(|| BackendError::NotFound(format!("project {project}")))
    }

    fn record_fault(&self, survey_id: &str, error: &str) -> BackendResult<bool> {
        let db = self.db();
        let now = now_ms();
        let updated = db.execute(
            "UPDATE survey_faults SET last_at = ?2, occurrences = occurrences + 1, error = ?3 WHERE survey_id = ?1",
            params![survey_id, now, error],
        )?;
        if updated > 0 {
            return Ok(false);
        }
        db.execute(
            "INSERT INTO survey_faults (survey_id, first_at, last_at, occurrences, error) VALUES (?1, ?2, ?2, 1, ?3)",
            params![survey_id, now, error],
        )?;
        Ok(true)
    }

    fn faults(&self) -> BackendResult<Vec<Fault>> {
        let db = self.db();
        let mut stmt = db.prepare_cached(
            "SELECT survey_id, first_at, last_at, occurrences, error FROM survey_faults ORDER BY last_at DESC LIMIT 1000",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Fault {
                survey_id: r.get(0)?,
                first_at: DateTime::from_timestamp_millis(r.get(1)?).unwrap_or_default(),
                last_at: DateTime::from_timestamp_millis(r.get(2)?).unwrap_or_default(),
                occurrences: r.get::<_, i64>(3)?.max(0) as u64,
                error: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn clear_fault(&self, survey_id: &str) -> BackendResult<()> {
        self.db().execute("DELETE FROM survey_faults WHERE survey_id = ?1", [survey_id])?;
        Ok(())
    }

    fn audit_log(&self, limit: u32) -> BackendResult<Vec<AuditEntry>> {
        let db = self.db();
        let mut stmt = db.prepare_cached(
            "SELECT a.at, u.username, a.action, a.survey_id, a.detail
             FROM audit a LEFT JOIN users u ON u.id = a.user_id ORDER BY a.id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok(AuditEntry {
                at: DateTime::from_timestamp_millis(r.get(0)?).unwrap_or_default(),
                user: r.get(1)?,
                action: r.get(2)?,
                survey_id: r.get(3)?,
                detail: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl SqliteBackend {
    /// Who wrote under a device's actor: the device key at its start names the user and
    /// the device (the survey store itself only knows the server's own writers).
    fn author_of(&self, actor: &str) -> BackendResult<Option<Author>> {
        let Some(key) = terrain_core::identity::device_key_of(actor) else { return Ok(None) };
        Ok(self
            .db()
            .query_row(
                "SELECT u.username, d.device_id, u.role FROM devices d JOIN users u ON u.id = d.user_id
                 WHERE d.device_key = ?1",
                [key.as_slice()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
            )
            .optional()?
            .and_then(|(user, device, role)| Some(Author::new(user, device, role.parse().ok()?))))
    }

    /// Lists surveys by metadata (for the dashboard and exports).
    pub fn list(&self, query: &SurveyQuery) -> BackendResult<Vec<SurveySummary>> {
        Ok(self.surveys.list(query)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_with_a_role_this_code_does_not_know_is_refused_not_guessed() {
        let dir = tempfile::tempdir().unwrap();
        let backend = SqliteBackend::open(dir.path()).unwrap();
        let new =
            NewUser { username: "awa".into(), password_hash: "x".into(), role: Role::Enumerator, display_name: None };
        backend.create_user(&new).unwrap();
        backend.db().execute("UPDATE users SET role = 'superuser' WHERE username = 'awa'", []).unwrap();
        assert!(backend.user_by_name("awa").is_err());
        assert!(backend.users().is_err());
    }
}
