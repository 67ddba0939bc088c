//! Entities' side of sync. On a device: what it owes the server for its entities, what the
//! server acknowledged, and the entities pulled in a round, applied with its surveys and
//! the cursor in one transaction. On the relay: entities pushed by devices, judged and then
//! merged, and the entity feed a device reads, narrowed to what its user may see.
//!
//! Entities share the surveys' change feed (`writes::next_change_seq`), so one cursor says
//! how far a device has read both, and a round's pull stops at one position for both.

use std::collections::HashSet;

use automerge::ChangeHash;
use rusqlite::{Connection, OptionalExtension, params};

use super::entities::{self, EntityRecord, entity_error, load_or_genesis};
use super::writes::Origin;
use super::{MergeOutcome, RemoteChanges, Store, StoreError, documents, in_savepoint};
use crate::entity::{EntityDoc, Merged};
use crate::intake::Budget;
use crate::survey::{DocumentError, Refusal};

/// The changes of one entity that the server has not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntity {
    /// Its list.
    pub list: String,
    /// Its id.
    pub id: String,
    /// The heads the server acknowledged last (empty if it never saw the entity).
    pub acked: Vec<ChangeHash>,
    /// The heads after these changes.
    pub heads: Vec<ChangeHash>,
    /// The changes after `acked`, as change chunks.
    pub changes: Vec<u8>,
}

/// Changes of one entity received from the server, which holds them durably.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEntity {
    /// Its list.
    pub list: String,
    /// Its id.
    pub id: String,
    /// The changes (or a saved document).
    pub changes: Vec<u8>,
    /// The server's heads for the entity.
    pub server_heads: Vec<ChangeHash>,
}

/// What became of each survey and entity of a round's pull, in the order given.
#[derive(Debug)]
pub struct PulledRound {
    /// One outcome per survey.
    pub surveys: Vec<Result<MergeOutcome, StoreError>>,
    /// One outcome per entity: the entity as now listed.
    pub entities: Vec<Result<EntityRecord, StoreError>>,
}

/// Changes of one entity a device pushed to the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedEntity {
    /// Its list.
    pub list: String,
    /// Its id.
    pub id: String,
    /// The changes.
    pub changes: Vec<u8>,
    /// The device's heads once they are applied: the relay acknowledges them only if it
    /// holds every one.
    pub heads: Vec<ChangeHash>,
}

/// What a pushed entity's new changes would do, for the relay to judge before they are
/// kept.
#[derive(Debug)]
pub struct EntityCandidate<'a> {
    /// Its list.
    pub list: &'a str,
    /// Its id.
    pub id: &'a str,
    /// Whether the relay had the entity already.
    pub existed: bool,
    /// Where it is filed, if it existed.
    pub place: EntityPlace,
    /// What the merge did: its authors and whether it deleted or restored the entity.
    pub merged: &'a Merged,
}

/// Judges a pushed entity: `Err` refuses all its changes; `Ok(Some(team))` files an entity
/// new to the relay under `team`.
pub type EntityCheck<'a> = &'a mut dyn FnMut(&EntityCandidate<'_>) -> Result<Option<i64>, Refusal>;

/// An entity's heads, and where it is filed.
pub type EntityHeads = (Vec<ChangeHash>, EntityPlace);

/// Where the relay files an entity: which devices receive it. Devices file nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct EntityPlace {
    /// The team whose devices receive it; `None`: every device that may read the list.
    pub team: Option<i64>,
    /// The one enumerator (a relay user id) it is assigned to, if any: among the
    /// enumerators who would see it, only they do.
    pub assignee: Option<i64>,
}

/// An entry of the entity feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityFeedEntry {
    /// Its list.
    pub list: String,
    /// Its id.
    pub id: String,
    /// Its position in the change feed.
    pub change_seq: u64,
    /// Where it is filed.
    pub place: EntityPlace,
}

/// Which entities a principal sees, as the storage applies it to the entity feed. Decided
/// by the server's access rules; the store only applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityVisibility {
    /// Every entity.
    All,
    /// The entities of these lists, each narrowed to some teams.
    Lists(Vec<EntityArea>),
}

/// One list a principal sees entities of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityArea {
    /// The list.
    pub list: String,
    /// Only the entities filed under one of these teams or under none; `None`: all.
    pub teams: Option<Vec<i64>>,
    /// Only the entities assigned to nobody or to this user; `None`: whoever they are
    /// assigned to.
    pub assignee: Option<i64>,
}

impl EntityArea {
    /// Whether an entity of this area's list filed at `place` is visible.
    pub fn admits(&self, place: &EntityPlace) -> bool {
        let team = match (&self.teams, place.team) {
            (None, _) | (Some(_), None) => true,
            (Some(teams), Some(team)) => teams.contains(&team),
        };
        let assignee = match (self.assignee, place.assignee) {
            (None, _) | (Some(_), None) => true,
            (Some(me), Some(assignee)) => me == assignee,
        };
        team && assignee
    }
}

impl EntityVisibility {
    /// Whether an entity of `list` filed at `place` is visible.
    pub fn admits(&self, list: &str, place: &EntityPlace) -> bool {
        match self {
            EntityVisibility::All => true,
            EntityVisibility::Lists(areas) => areas.iter().any(|area| area.list == list && area.admits(place)),
        }
    }
}

/// Rows of the raw entity feed read per query while looking for visible ones.
const FEED_SCAN: u32 = 2_000;

impl Store {
    /// Up to `limit` entities with changes the server has not acknowledged, oldest first,
    /// stopping once the changes reach `max_bytes` (always at least one), skipping those in
    /// `skip` (refused in this sync).
    pub fn pending_entity_pushes_within(
        &self,
        limit: u32,
        max_bytes: usize,
        skip: &HashSet<(String, String)>,
    ) -> Result<Vec<PendingEntity>, StoreError> {
        self.readers.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT list, entity_id, acked_heads, document FROM entities WHERE dirty = 1
                 ORDER BY change_seq LIMIT ?1",
            )?;
            let fetch = (u64::from(limit) + skip.len() as u64).min(i64::MAX as u64) as i64;
            let rows = stmt.query_map([fetch], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<Vec<u8>>>(2)?, r.get(3)?))
            })?;
            let mut pending = Vec::new();
            let mut bytes = 0usize;
            for row in rows {
                let (list, id, acked, document): (String, String, Option<Vec<u8>>, Vec<u8>) = row?;
                if skip.contains(&(list.clone(), id.clone())) {
                    continue;
                }
                let mut doc = EntityDoc::load(&document).map_err(entity_error(&list, &id))?;
                let acked = acked.map(|a| documents::decode_heads(&a)).unwrap_or_default();
                let changes = doc.changes_after(&acked);
                bytes = bytes.saturating_add(changes.len());
                pending.push(PendingEntity { heads: doc.heads(), list, id, acked, changes });
                if pending.len() >= limit as usize || bytes >= max_bytes {
                    break;
                }
            }
            Ok(pending)
        })
    }

    /// How many entities have changes the server has not acknowledged.
    pub fn pending_entity_count(&self) -> Result<u64, StoreError> {
        self.readers.with(|conn| {
            let count: i64 = conn.query_row("SELECT count(*) FROM entities WHERE dirty = 1", [], |r| r.get(0))?;
            Ok(count.max(0) as u64)
        })
    }

    /// Records that the server durably holds each entity `(list, id)` at the given heads
    /// (empty: it holds nothing of it, so everything is pushed again).
    pub fn mark_entities_acked(&self, acks: &[(String, String, Vec<ChangeHash>)]) -> Result<(), StoreError> {
        self.synced_transaction(|tx, _| {
            let mut stmt = tx.prepare_cached(
                "UPDATE entities SET acked_heads = ?3, dirty = (heads != ?3) WHERE list = ?1 AND entity_id = ?2",
            )?;
            for (list, id, heads) in acks {
                stmt.execute(params![list, id, documents::encode_heads(heads)])?;
            }
            Ok(())
        })
    }

    /// Applies a round's pulled surveys and entities and, in the same transaction, moves
    /// this device's cursor in the server's feed to `cursor`. Each survey and entity
    /// succeeds or fails on its own; the cursor moves only if all succeeded, so a failed
    /// one is pulled again.
    pub fn apply_pulled_round(
        &self,
        server: &str,
        surveys: &[RemoteChanges],
        pulled_entities: &[RemoteEntity],
        cursor: Option<u64>,
    ) -> Result<PulledRound, StoreError> {
        let outcomes = self.synced_transaction(|tx, ctx| {
            let mut outcomes = Vec::with_capacity(surveys.len());
            for item in surveys {
                let origin = Origin::Server { heads: item.server_heads.clone() };
                outcomes.push(in_savepoint(tx, |sp| {
                    super::writes::merge(sp, ctx, &item.survey_id, &item.changes, &origin, None)
                })?);
            }
            let mut merged = Vec::with_capacity(pulled_entities.len());
            for item in pulled_entities {
                merged.push(in_savepoint(tx, |sp| {
                    let (record, _) =
                        merge(sp, &item.list, &item.id, &item.changes, ctx.budget, Some(&item.server_heads), None)?;
                    Ok(record)
                })?);
            }
            if let Some(cursor) = cursor
                && outcomes.iter().all(Result::is_ok)
                && merged.iter().all(Result::is_ok)
            {
                tx.execute(
                    "INSERT INTO sync_cursors (server, cursor) VALUES (?1, ?2)
                     ON CONFLICT (server) DO UPDATE SET cursor = excluded.cursor",
                    params![server, cursor as i64],
                )?;
            }
            Ok(PulledRound { surveys: outcomes, entities: merged })
        })?;
        self.forms.forget_readers_of(pulled_entities.iter().map(|e| e.list.as_str()));
        Ok(outcomes)
    }

    /// Merges entities pushed by devices in one transaction, letting `check` judge each
    /// one's new changes first: a refused entity keeps none of them. Each outcome says
    /// whether the store now holds every head the device claimed.
    pub fn merge_entities_checked(
        &self,
        items: &[ReceivedEntity],
        check: EntityCheck<'_>,
    ) -> Result<Vec<Result<bool, StoreError>>, StoreError> {
        let outcomes = self.transaction(|tx, ctx| {
            let mut outcomes = Vec::with_capacity(items.len());
            for item in items {
                outcomes.push(in_savepoint(tx, |sp| {
                    let (_, mut doc) =
                        merge(sp, &item.list, &item.id, &item.changes, ctx.budget, None, Some(&mut *check))?;
                    Ok(doc.holds(&item.heads))
                })?);
            }
            Ok(outcomes)
        })?;
        self.forms.forget_readers_of(items.iter().map(|e| e.list.as_str()));
        Ok(outcomes)
    }

    /// Up to `limit` entries of the entity feed after `cursor` that `visible` admits, in
    /// feed order.
    pub fn entity_feed(
        &self,
        cursor: u64,
        limit: u32,
        visible: &EntityVisibility,
    ) -> Result<Vec<EntityFeedEntry>, StoreError> {
        self.readers.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT list, entity_id, change_seq, team, assignee FROM entities WHERE change_seq > ?1
                 ORDER BY change_seq LIMIT ?2",
            )?;
            let mut out = Vec::new();
            let mut after = cursor.min(i64::MAX as u64) as i64;
            // The rows another team's devices see are read and passed over here; the
            // `change_seq` index keeps each query to the rows it returns.
            loop {
                let rows: Vec<(String, String, i64, EntityPlace)> = stmt
                    .query_map(params![after, FEED_SCAN], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, EntityPlace { team: r.get(3)?, assignee: r.get(4)? }))
                    })?
                    .collect::<Result<_, _>>()?;
                let scanned = rows.len();
                for (list, id, seq, place) in rows {
                    after = seq;
                    if visible.admits(&list, &place) {
                        out.push(EntityFeedEntry { list, id, change_seq: seq.max(0) as u64, place });
                        if out.len() >= limit as usize {
                            return Ok(out);
                        }
                    }
                }
                if scanned < FEED_SCAN as usize {
                    return Ok(out);
                }
            }
        })
    }

    /// What a replica at `heads` lacks of an entity, as change chunks.
    pub fn entity_changes_after(&self, list: &str, id: &str, heads: &[ChangeHash]) -> Result<Vec<u8>, StoreError> {
        let mut doc = self.readers.with(|conn| {
            entities::load(conn, list, id)?
                .ok_or_else(|| StoreError::UnknownEntity { list: list.to_owned(), id: id.to_owned() })
        })?;
        Ok(doc.changes_after(heads))
    }

    /// An entity's heads and where it is filed, if this store has it.
    pub fn entity_heads(&self, list: &str, id: &str) -> Result<Option<EntityHeads>, StoreError> {
        self.readers.with(|conn| {
            Ok(conn
                .prepare_cached("SELECT heads, team, assignee FROM entities WHERE list = ?1 AND entity_id = ?2")?
                .query_row(params![list, id], |r| {
                    let place = EntityPlace { team: r.get(1)?, assignee: r.get(2)? };
                    Ok((documents::decode_heads(&r.get::<_, Vec<u8>>(0)?), place))
                })
                .optional()?)
        })
    }

    /// Assigns entities of `list` to one user (a relay user id), or to nobody: among the
    /// enumerators who see them, only that user does. One transaction; each moves in the
    /// feed, so the assignee's devices get it at their next sync.
    pub fn assign_entities(&self, list: &str, ids: &[String], assignee: Option<i64>) -> Result<(), StoreError> {
        self.refile(
            "UPDATE entities SET assignee = ?3, change_seq = ?4 WHERE list = ?1 AND entity_id = ?2",
            list,
            ids,
            assignee,
        )
    }

    /// Files entities of `list` under `team` (or under none): which team's devices receive
    /// them. One transaction; each moves in the feed, so the devices that now see it get it.
    pub fn file_entities(&self, list: &str, ids: &[String], team: Option<i64>) -> Result<(), StoreError> {
        self.refile(
            "UPDATE entities SET team = ?3, change_seq = ?4 WHERE list = ?1 AND entity_id = ?2",
            list,
            ids,
            team,
        )
    }

    /// Runs `update` (which sets a column of the entity's place to `?3` and its feed number
    /// to `?4`) on each of `ids`, in one transaction, each taking the next feed number; an
    /// unknown id undoes them all.
    fn refile(&self, update: &str, list: &str, ids: &[String], value: Option<i64>) -> Result<(), StoreError> {
        self.transaction(|tx, _| {
            let mut stmt = tx.prepare_cached(update)?;
            for id in ids {
                if stmt.execute(params![list, id, value, super::writes::next_change_seq(tx)?])? == 0 {
                    return Err(StoreError::UnknownEntity { list: list.to_owned(), id: id.clone() });
                }
            }
            Ok(())
        })
    }
}

/// Merges another replica's changes into the entity `id` of `list` (starting from the
/// shared genesis if this store lacks it), judged by `check` when given, and writes it,
/// recording `server_heads` when they come from the server. Nothing is written when the
/// changes are all known and no heads are to be recorded.
fn merge(
    conn: &Connection,
    list: &str,
    id: &str,
    bytes: &[u8],
    budget: &Budget,
    server_heads: Option<&[ChangeHash]>,
    check: Option<EntityCheck<'_>>,
) -> Result<(EntityRecord, EntityDoc), StoreError> {
    let (mut doc, existed) = load_or_genesis(conn, list, id)?;
    let place = if existed {
        conn.prepare_cached("SELECT team, assignee FROM entities WHERE list = ?1 AND entity_id = ?2")?
            .query_row(params![list, id], |r| Ok(EntityPlace { team: r.get(0)?, assignee: r.get(1)? }))
            .optional()?
            .unwrap_or_default()
    } else {
        EntityPlace::default()
    };
    let merged = doc.merge_bytes(bytes, budget).map_err(entity_error(list, id))?;
    if !existed && merged.authors.is_empty() {
        return Err(entity_error(list, id)(DocumentError::Malformed(
            "the entity arrived with nothing but its genesis".into(),
        )));
    }
    let file_under = match check {
        Some(check) => check(&EntityCandidate { list, id, existed, place, merged: &merged })
            .map_err(|refusal| entity_error(list, id)(DocumentError::Refused(refusal)))?,
        None => None,
    };
    if existed && merged.new_changes == 0 && server_heads.is_none() {
        let record = entities::get(conn, list, id)?
            .ok_or_else(|| StoreError::UnknownEntity { list: list.to_owned(), id: id.to_owned() })?;
        return Ok((record, doc));
    }
    let record = entities::write_synced(conn, list, id, &mut doc, server_heads)?;
    if !existed && let Some(team) = file_under {
        conn.prepare_cached("UPDATE entities SET team = ?3 WHERE list = ?1 AND entity_id = ?2")?
            .execute(params![list, id, team])?;
    }
    Ok((record, doc))
}
