//! Survey documents on disk: a snapshot plus the change chunks appended since, and the
//! compaction that folds the chunks back into the snapshot.
//!
//! Every function here runs inside the caller's transaction, so the bytes, the metadata
//! columns and the sync bookkeeping of a survey always change together.

use automerge::ChangeHash;
use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::cache::Loaded;
use crate::intake::{self, Budget, Cost};
use crate::survey::SurveyDoc;

/// Compaction is due once this many chunks have been appended since the snapshot.
pub const COMPACT_AFTER_CHUNKS: i64 = 16;

/// An edit on the answer path compacts at once only past this many chunks: below it, a due
/// compaction waits for [`Store::compact_pending`](super::Store::compact_pending) (after a
/// sync, a bundle import, or when the app goes to the background), so that an answer costs
/// one small append and never a whole `save()`. The ceiling bounds how long a log a cold
/// load replays.
pub const COMPACT_CEILING_CHUNKS: i64 = 256;

/// An edit compacts at once past this many bytes of chunks, whatever the snapshot's size:
/// the write budget counts the chunks too, and a large survey's log must not reach it
/// before upkeep comes.
pub const COMPACT_CEILING_BYTES: i64 = 1 << 20;

/// The stored state of one survey, besides its bytes.
#[derive(Debug, Clone)]
pub struct DocRow {
    /// The form the survey answers.
    pub form_id: String,
    /// The form version it answers.
    pub form_version: String,
    /// The heads when the row was last written.
    pub heads: Vec<u8>,
    /// Chunks appended since the snapshot.
    pub chunk_count: i64,
    /// Their total size.
    pub chunk_bytes: i64,
    /// The snapshot's size.
    pub snapshot_bytes: i64,
    /// Whether some answer had competing values at the last write.
    pub has_conflicts: bool,
    /// Whether no compaction is due: the snapshot is a compacted `save()` (not the changes
    /// as received) and the chunks after it are few. `compact_pending` folds the others.
    pub compacted: bool,
    /// How many of its changes are fragments (see `intake::Budget::fragments`).
    pub fragments: u64,
}

/// Reads a survey's row, or `None` if the store has no such survey.
pub fn row(conn: &Connection, survey_id: &str) -> Result<Option<DocRow>, StoreError> {
    // Cached: every answer and every evaluation reads the row, and preparing the statement
    // cost more than running it.
    Ok(conn
        .prepare_cached(
            "SELECT form_id, form_version, heads, chunk_count, chunk_bytes, length(snapshot), has_conflicts, compacted,
                    fragments
             FROM surveys WHERE survey_id = ?1",
        )?
        .query_row([survey_id], |r| {
            Ok(DocRow {
                form_id: r.get(0)?,
                form_version: r.get(1)?,
                heads: r.get(2)?,
                chunk_count: r.get(3)?,
                chunk_bytes: r.get(4)?,
                snapshot_bytes: r.get(5)?,
                has_conflicts: r.get(6)?,
                compacted: r.get(7)?,
                fragments: r.get::<_, i64>(8)?.max(0) as u64,
            })
        })
        .optional()?)
}

/// Loads a survey's document: its snapshot followed by its chunks, parsed as one.
pub fn load(conn: &Connection, survey_id: &str) -> Result<SurveyDoc, StoreError> {
    Ok(load_measured(conn, survey_id)?.doc)
}

/// [`load`], with what the stored bytes decode to.
pub fn load_measured(conn: &Connection, survey_id: &str) -> Result<Loaded, StoreError> {
    let mut bytes: Vec<u8> = conn
        .query_row("SELECT snapshot FROM surveys WHERE survey_id = ?1", [survey_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::UnknownSurvey(survey_id.to_owned()))?;
    let mut chunks = conn.prepare_cached("SELECT bytes FROM survey_chunks WHERE survey_id = ?1 ORDER BY seq")?;
    let mut rows = chunks.query([survey_id])?;
    while let Some(row) = rows.next()? {
        bytes.extend_from_slice(row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?);
    }
    let (doc, cost) = SurveyDoc::load_measured(&bytes)
        .map_err(|source| StoreError::Corrupt { survey_id: survey_id.to_owned(), source })?;
    Ok(Loaded { doc, stored: cost, view: None })
}

/// Appends the change chunk `bytes` after the snapshot. The survey's row counts it in
/// `chunk_count` and `chunk_bytes`: the caller updates them (`writes::record` does, in the
/// one `UPDATE` an edit makes of the row, which rewrites the whole row with its snapshot).
pub fn append_chunk(conn: &Connection, survey_id: &str, bytes: &[u8]) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO survey_chunks (survey_id, seq, bytes)
         VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM survey_chunks WHERE survey_id = ?1), ?2)",
    )?
    .execute(params![survey_id, bytes])?;
    Ok(())
}

/// Replaces the snapshot with the whole document and drops the chunks it now contains;
/// returns what the new snapshot costs to decode.
pub fn compact(conn: &Connection, survey_id: &str, doc: &mut SurveyDoc) -> Result<Cost, StoreError> {
    let snapshot = doc.save();
    let cost = measure(survey_id, &snapshot)?;
    conn.prepare_cached("DELETE FROM survey_chunks WHERE survey_id = ?1")?.execute([survey_id])?;
    conn.prepare_cached(
        "UPDATE surveys SET snapshot = ?2, chunk_count = 0, chunk_bytes = 0, compacted = 1 WHERE survey_id = ?1",
    )?
    .execute(params![survey_id, snapshot])?;
    Ok(cost)
}

/// What bytes this store is about to keep cost to decode, as the front door measures them
/// when they are read back.
pub fn measure(survey_id: &str, bytes: &[u8]) -> Result<Cost, StoreError> {
    intake::check(bytes, &Budget::LOAD)
        .map_err(|e| StoreError::Document { survey_id: survey_id.to_owned(), source: e.into() })
}

/// How urgently a survey's chunks should be folded into its snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compaction {
    /// The log is short.
    NotDue,
    /// Worth folding at the next upkeep.
    Due,
    /// Past the ceiling: fold now, whatever the write.
    Overdue,
}

/// How urgently `row`'s chunks should be folded into its snapshot.
pub fn compaction(row: &DocRow) -> Compaction {
    // A log of chunks is several times the size of a save() of the same changes.
    let floor = row.snapshot_bytes.max(4096);
    if row.chunk_count >= COMPACT_CEILING_CHUNKS || row.chunk_bytes > (8 * floor).min(COMPACT_CEILING_BYTES) {
        Compaction::Overdue
    } else if !row.compacted || row.chunk_count >= COMPACT_AFTER_CHUNKS || row.chunk_bytes > floor {
        Compaction::Due
    } else {
        Compaction::NotDue
    }
}

/// Marks a survey for the next [`Store::compact_pending`](super::Store::compact_pending).
pub fn mark_due(conn: &Connection, survey_id: &str) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE surveys SET compacted = 0 WHERE survey_id = ?1")?.execute([survey_id])?;
    Ok(())
}

/// How many of `hashes` are fragments: Automerge's, a hash starting with a zero byte.
pub fn fragments(hashes: &[ChangeHash]) -> u64 {
    hashes.iter().filter(|h| h.0[0] == 0).count() as u64
}

/// Heads as stored: sorted 32-byte hashes, concatenated.
pub fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    let mut sorted: Vec<&ChangeHash> = heads.iter().collect();
    sorted.sort();
    sorted.iter().flat_map(|h| h.0).collect()
}

/// Heads from their stored form.
pub fn decode_heads(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes.chunks_exact(32).filter_map(|c| ChangeHash::try_from(c).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(chunk_count: i64, chunk_bytes: i64, snapshot_bytes: i64, compacted: bool) -> DocRow {
        DocRow {
            form_id: "f".into(),
            form_version: "1".into(),
            heads: Vec::new(),
            chunk_count,
            chunk_bytes,
            snapshot_bytes,
            has_conflicts: false,
            compacted,
            fragments: 0,
        }
    }

    #[test]
    fn answers_leave_compaction_due_until_a_ceiling() {
        assert_eq!(compaction(&row(3, 900, 20_000, true)), Compaction::NotDue);
        assert_eq!(compaction(&row(3, 900, 20_000, false)), Compaction::Due);
        assert_eq!(compaction(&row(COMPACT_AFTER_CHUNKS, 900, 20_000, true)), Compaction::Due);
        assert_eq!(compaction(&row(20, 25_000, 20_000, true)), Compaction::Due);
        assert_eq!(compaction(&row(COMPACT_CEILING_CHUNKS, 25_000, 20_000, true)), Compaction::Overdue);
        // Small surveys: eight times the 4 KiB floor.
        assert_eq!(compaction(&row(40, 33_000, 100, true)), Compaction::Overdue);
        // Large surveys: never more than a mebibyte of chunks, which the write budget counts.
        assert_eq!(compaction(&row(40, 1_500_000, 2_000_000, true)), Compaction::Overdue);
    }
}
