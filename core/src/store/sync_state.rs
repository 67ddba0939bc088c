//! What a device owes the server and what the server has acknowledged: the store side of
//! sync. The bookkeeping lives in the `surveys` rows (`acked_heads`, `dirty`) and in
//! `sync_cursors`, so it changes in the same transactions as the documents.

use std::collections::HashSet;

use automerge::ChangeHash;
use rusqlite::{OptionalExtension, params};

use super::writes;
use super::{MergeOutcome, Store, StoreError, documents};

/// The changes of one survey that the server has not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPush {
    /// The survey.
    pub survey_id: String,
    /// Its form.
    pub form_id: String,
    /// Its form version.
    pub form_version: String,
    /// The heads the server acknowledged last (empty if it never saw the survey).
    pub acked: Vec<ChangeHash>,
    /// The heads after these changes.
    pub heads: Vec<ChangeHash>,
    /// The changes after `acked`, as change chunks.
    pub changes: Vec<u8>,
}

/// Changes of one survey received from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteChanges {
    /// The survey.
    pub survey_id: String,
    /// The changes, as change chunks.
    pub changes: Vec<u8>,
    /// The server's heads for the survey, which it holds durably.
    pub server_heads: Vec<ChangeHash>,
}

impl Store {
    /// Up to `limit` surveys with changes the server has not acknowledged, oldest first,
    /// each with exactly the changes after its acknowledged heads.
    pub fn pending_pushes(&self, limit: u32) -> Result<Vec<PendingPush>, StoreError> {
        self.pending_pushes_within(limit, usize::MAX, &HashSet::new())
    }

    /// Like [`Store::pending_pushes`], but stops loading once the changes reach `max_bytes`
    /// (always at least one survey), and skips the surveys in `skip`: a sync round loads
    /// only the documents it will send.
    pub fn pending_pushes_within(
        &self,
        limit: u32,
        max_bytes: usize,
        skip: &HashSet<String>,
    ) -> Result<Vec<PendingPush>, StoreError> {
        let candidates: Vec<PendingPush> = self.readers.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT survey_id, form_id, form_version, acked_heads, heads FROM surveys
                 WHERE dirty = 1 ORDER BY change_seq LIMIT ?1",
            )?;
            // Skipped surveys are filtered below, so fetch enough to still fill `limit`.
            let fetch = u64::from(limit) + skip.len() as u64;
            let rows = stmt.query_map([fetch.min(i64::MAX as u64) as i64], |r| {
                Ok(PendingPush {
                    survey_id: r.get(0)?,
                    form_id: r.get(1)?,
                    form_version: r.get(2)?,
                    acked: r.get::<_, Option<Vec<u8>>>(3)?.map(|a| documents::decode_heads(&a)).unwrap_or_default(),
                    heads: documents::decode_heads(&r.get::<_, Vec<u8>>(4)?),
                    changes: Vec::new(),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        let mut pushes = Vec::new();
        let mut bytes = 0usize;
        for mut push in candidates.into_iter().filter(|p| !skip.contains(&p.survey_id)).take(limit as usize) {
            push.changes = self.changes_after(&push.survey_id, &push.acked)?;
            bytes = bytes.saturating_add(push.changes.len());
            pushes.push(push);
            if bytes >= max_bytes {
                break;
            }
        }
        Ok(pushes)
    }

    /// How many surveys have changes the server has not acknowledged.
    pub fn pending_count(&self) -> Result<u64, StoreError> {
        self.readers.with(|conn| {
            let count: i64 = conn.query_row("SELECT count(*) FROM surveys WHERE dirty = 1", [], |r| r.get(0))?;
            Ok(count.max(0) as u64)
        })
    }

    /// Records that the server durably holds each survey at the given heads.
    pub fn mark_acked(&self, acks: &[(String, Vec<ChangeHash>)]) -> Result<(), StoreError> {
        self.synced_transaction(|tx, _| {
            for (survey_id, heads) in acks {
                writes::set_acked(tx, survey_id, heads)?;
            }
            Ok(())
        })
    }

    /// Applies changes pulled from `server` and, in the same transaction, moves this
    /// device's cursor in the server's feed to `cursor`. Each survey succeeds or fails on
    /// its own (for example missing dependencies); the cursor moves only if all succeeded,
    /// so a failed survey is pulled again. A round with entities too is
    /// [`Store::apply_pulled_round`].
    pub fn apply_pulled(
        &self,
        server: &str,
        items: &[RemoteChanges],
        cursor: Option<u64>,
    ) -> Result<Vec<Result<MergeOutcome, StoreError>>, StoreError> {
        Ok(self.apply_pulled_round(server, items, &[], cursor)?.surveys)
    }

    /// The epoch of `server` that this device's cursor and acknowledgements are from (0
    /// before a sync that named one).
    pub fn sync_epoch(&self, server: &str) -> Result<u64, StoreError> {
        self.readers.with(|conn| {
            let epoch: Option<Option<i64>> = conn
                .query_row("SELECT epoch FROM sync_cursors WHERE server = ?1", [server], |r| r.get(0))
                .optional()?;
            // Stored as the same 64 bits in SQLite's signed integer.
            Ok(epoch.flatten().map_or(0, |e| e as u64))
        })
    }

    /// Moves this device to a new epoch of `server` (its id `server_id`), which may have lost
    /// what it acknowledged: every survey it acknowledged is offered again at the next push
    /// (with no changes when nothing is new, so a survey the server still holds costs a few
    /// bytes), and the cursor goes back to `start` if it was past it. One transaction, so a
    /// device killed halfway re-offers everything or nothing. Returns how many surveys are
    /// offered again.
    pub fn begin_epoch(&self, server: &str, server_id: &[u8], epoch: u64, start: u64) -> Result<u64, StoreError> {
        self.synced_transaction(|tx, _| {
            let offered = tx.execute("UPDATE surveys SET dirty = 1 WHERE acked_heads IS NOT NULL AND dirty = 0", [])?;
            // Entities too, the same way.
            tx.execute("UPDATE entities SET dirty = 1 WHERE acked_heads IS NOT NULL AND dirty = 0", [])?;
            // And the files: each is asked after again (a `HEAD` each, nothing resent for
            // those the restored server has).
            tx.execute("UPDATE media_blobs SET uploaded_at = NULL WHERE uploaded_at IS NOT NULL", [])?;
            let start = start.min(i64::MAX as u64) as i64;
            tx.execute(
                "INSERT INTO sync_cursors (server, cursor, server_id, epoch) VALUES (?1, 0, ?2, ?3)
                 ON CONFLICT (server) DO UPDATE
                 SET cursor = min(cursor, ?4), server_id = excluded.server_id, epoch = excluded.epoch",
                params![server, server_id, epoch as i64, start],
            )?;
            Ok(offered as u64)
        })
    }

    /// The change feed's position: the number of the latest write to any survey (0 for an
    /// empty store).
    pub fn feed_position(&self) -> Result<u64, StoreError> {
        self.readers.with(|conn| {
            let value: Option<i64> =
                conn.query_row("SELECT value FROM counters WHERE name = 'change_seq'", [], |r| r.get(0)).optional()?;
            Ok(value.unwrap_or(0).max(0) as u64)
        })
    }

    /// This device's position in `server`'s change feed (0 before the first sync).
    pub fn sync_cursor(&self, server: &str) -> Result<u64, StoreError> {
        self.readers.with(|conn| {
            let cursor: Option<i64> = conn
                .query_row("SELECT cursor FROM sync_cursors WHERE server = ?1", [server], |r| r.get(0))
                .optional()?;
            Ok(cursor.unwrap_or(0).max(0) as u64)
        })
    }
}
