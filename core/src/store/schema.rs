//! The store's schema: numbered migrations applied in one transaction, tracked by
//! `PRAGMA user_version`.
//!
//! A migration is an `.sql` file under `migrations/`, appended to [`MIGRATIONS`]; never edit
//! one that has shipped. A database whose version is newer than the code is refused before
//! anything writes to it.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// Every migration, in order; the schema version is the number applied.
pub const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_documents.sql"),
    include_str!("migrations/002_sync_state.sql"),
    include_str!("migrations/003_change_feed.sql"),
    include_str!("migrations/004_settings.sql"),
    include_str!("migrations/005_review_lists.sql"),
    include_str!("migrations/006_fragments.sql"),
    include_str!("migrations/007_listing_counts.sql"),
    include_str!("migrations/008_projections.sql"),
    include_str!("migrations/009_sync_epochs.sql"),
    include_str!("migrations/010_media.sql"),
    include_str!("migrations/011_form_files.sql"),
    include_str!("migrations/012_entities.sql"),
    include_str!("migrations/013_entity_sync.sql"),
    include_str!("migrations/014_entity_sources.sql"),
    include_str!("migrations/015_entity_assignee.sql"),
];

/// The schema version this code writes.
pub const LATEST: u32 = MIGRATIONS.len() as u32;

/// The database's schema version.
pub fn version(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |row| row.get(0))?)
}

/// Brings the database up to [`LATEST`], all in one transaction, or refuses a newer one.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_to(conn, LATEST)
}

/// Applies the migrations up to `target`: for tests that build every earlier version.
pub fn migrate_to(conn: &mut Connection, target: u32) -> Result<(), StoreError> {
    apply(conn, MIGRATIONS, target)
}

/// Applies `migrations` (the schema of some database) up to `target`, in one transaction,
/// refusing a database newer than `migrations`. Terrain's other databases (the server's
/// accounts) use the same scheme.
pub fn apply(conn: &mut Connection, migrations: &[&str], target: u32) -> Result<(), StoreError> {
    let latest = migrations.len() as u32;
    // IMMEDIATE takes the write lock first, so two processes opening a new file cannot
    // both run the same migration.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = version(&tx)?;
    if found > latest {
        return Err(StoreError::NewerDatabase { found, supported: latest });
    }
    for (number, sql) in migrations.iter().enumerate().take(target as usize).skip(found as usize) {
        tx.execute_batch(sql).map_err(|source| StoreError::Migration { to: number as u32 + 1, source })?;
        tx.pragma_update(None, "user_version", number as u32 + 1)?;
    }
    tx.commit()?;
    Ok(())
}
