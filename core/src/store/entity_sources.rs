//! Which surveys created or updated which entities: an index of every entity document's
//! `sources`, kept in the transaction that writes the entity, so that a survey's export row
//! and its page lead to its entities without loading a document.
//!
//! The documents stay the truth: the index is rebuilt from them for entities written before
//! migration 014 ([`index_pending`]), and is only ever added to, as sources are.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use super::entities::load;
use super::{Store, StoreError};

/// An entity a survey created or updated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityLink {
    /// The entity list.
    pub list: String,
    /// The entity's id.
    pub id: String,
    /// What the survey did: `create` or `update`.
    pub action: String,
}

/// The settings key that says entities written before the index existed are still to index.
const PENDING: &str = "entity_sources";

/// Records `sources` (survey id → action, from the entity's document) for entity `id` of
/// `list`. Imports (`import:…`) are sources too, but no survey: they are left out.
pub(super) fn index(
    tx: &Connection,
    list: &str,
    id: &str,
    sources: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO entity_sources (survey_id, list, entity_id, action) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (survey_id, list, entity_id) DO UPDATE SET action = excluded.action
         WHERE action != excluded.action",
    )?;
    for (source, action) in sources.iter().filter(|(source, _)| !source.starts_with("import:")) {
        stmt.execute(params![source, list, id, action])?;
    }
    Ok(())
}

/// Indexes the sources of every entity written before the index existed, once, in one
/// transaction. An entity whose document does not load is left out rather than keeping
/// the store from opening: its page still reads its sources from the document.
pub(super) fn index_pending(conn: &mut Connection) -> Result<(), StoreError> {
    let pending: Option<String> =
        conn.query_row("SELECT value FROM settings WHERE key = ?1", [PENDING], |r| r.get(0)).optional()?;
    if pending.is_none() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let keys: Vec<(String, String)> = tx
        .prepare("SELECT list, entity_id FROM entities")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (list, id) in keys {
        if let Ok(Some(doc)) = load(&tx, &list, &id) {
            index(&tx, &list, &id, &doc.sources())?;
        }
    }
    tx.execute("DELETE FROM settings WHERE key = ?1", [PENDING])?;
    tx.commit()?;
    Ok(())
}

impl Store {
    /// The entities each of `survey_ids` created or updated, in the same order, each in
    /// list and id order.
    pub fn entity_links(&self, survey_ids: &[String]) -> Result<Vec<Vec<EntityLink>>, StoreError> {
        let mut found: HashMap<String, Vec<EntityLink>> = HashMap::new();
        self.readers.with(|conn| {
            // One query for the whole page of an export, not one per survey.
            let ids = serde_json::to_string(survey_ids).unwrap_or_else(|_| "[]".to_owned());
            let mut stmt = conn.prepare_cached(
                "SELECT survey_id, list, entity_id, action FROM entity_sources
                 WHERE survey_id IN (SELECT value FROM json_each(?1)) ORDER BY survey_id, list, entity_id",
            )?;
            let rows = stmt.query_map([ids], |r| {
                Ok((r.get::<_, String>(0)?, EntityLink { list: r.get(1)?, id: r.get(2)?, action: r.get(3)? }))
            })?;
            for row in rows {
                let (survey, link) = row?;
                found.entry(survey).or_default().push(link);
            }
            Ok::<_, StoreError>(())
        })?;
        Ok(survey_ids.iter().map(|id| found.get(id).cloned().unwrap_or_default()).collect())
    }
}
