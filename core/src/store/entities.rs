//! Entities on disk (`crate::entity`): one row per entity, its document beside the columns
//! that list, search and look it up; the `Store` calls that read and change them; and what
//! a finalized survey does to the entity list its form declares, applied in the finalizing
//! transaction.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{ActorId, ChangeHash};
use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::documents::encode_heads;
use super::writes::{self, WriteCtx};
use super::{Store, StoreError, documents};
use crate::entity::{EntityConflict, EntityDoc};
use crate::form::attachments::ListTable;
use crate::form::{EntityAction, EvalOptions};
use crate::intake::{self, Budget};
use crate::survey::{Answer, Answers, DocumentError};
use crate::value::Value;

/// The most entities one listing returns.
pub const MAX_PAGE: u32 = 1000;

/// An entity as lists and lookups show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityRecord {
    /// The entity list.
    pub list: String,
    /// The entity's id (ODK's `name`).
    pub id: String,
    /// Its label; empty for an entity this store knows only from updates made before the
    /// entity itself arrived.
    pub label: String,
    /// Its properties, as readers see them.
    pub properties: BTreeMap<String, String>,
    /// Whether some property has competing values.
    pub has_conflicts: bool,
    /// Whether it is deleted.
    pub deleted: bool,
}

/// Which entities of a list to return, and how many.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityQuery {
    /// Only entities whose label contains this text (case-insensitively, for ASCII).
    pub search: Option<String>,
    /// Deleted entities too.
    pub include_deleted: bool,
    /// Only entities with competing values.
    pub conflicted_only: bool,
    /// At most this many (capped at [`MAX_PAGE`]).
    pub limit: u32,
    /// Skipping this many, in label order.
    pub offset: u32,
    /// Only entities after this one in label order (its label and id): how a caller reads
    /// a whole list page by page at the same cost per page, where `offset` walks every
    /// entity before the page.
    pub after: Option<(String, String)>,
    /// Only entities filed under one of these teams or under none (`None`: all). The
    /// relay's narrowing to what a principal sees.
    pub teams: Option<Vec<i64>>,
    /// Only entities assigned to nobody or to this user (`None`: whoever they are assigned
    /// to). The relay's narrowing for an enumerator.
    pub assignee: Option<i64>,
}

/// Entities, as a device and the relay read and change them.
impl Store {
    /// Starts a survey of a follow-up form on the entity `entity_id`: the question its
    /// entity declaration reads the entity from (`${plot}`) is answered with it, the others
    /// start with their defaults. Returns the survey's id.
    pub fn start_follow_up(&self, form_id: &str, version: &str, entity_id: &str) -> Result<String, StoreError> {
        let form = self.form(form_id, version)?;
        let not_a_follow_up = || StoreError::NotAFollowUp { form_id: form_id.to_owned(), version: version.to_owned() };
        let name = form.entities.first().and_then(|d| d.entity_question()).ok_or_else(not_a_follow_up)?;
        let (question, _) = form.questions().into_iter().find(|(q, _)| q.name == name).ok_or_else(not_a_follow_up)?;
        let value = match question.kind.choice_list() {
            Some(_) => Value::Choice(entity_id.to_owned()),
            None => Value::Text(entity_id.to_owned()),
        };
        let answers = Answers(BTreeMap::from([(name.to_owned(), Answer::Value(value))]));
        self.create(None, form_id, version, &answers, true)
    }

    /// The entity `id` of `list`, if this store has it.
    pub fn entity(&self, list: &str, id: &str) -> Result<Option<EntityRecord>, StoreError> {
        self.readers.with(|conn| self::get(conn, list, id))
    }

    /// The entities of `list` that `query` asks for, in label order.
    pub fn entities(&self, list: &str, query: &EntityQuery) -> Result<Vec<EntityRecord>, StoreError> {
        self.readers.with(|conn| self::list(conn, list, query))
    }

    /// The properties (and label) of an entity that have competing values, each value with
    /// the actor that wrote it (`Store::actor_author` says who that is).
    pub fn entity_conflicts(&self, list: &str, id: &str) -> Result<Vec<EntityConflict>, StoreError> {
        let doc = self.readers.with(|conn| existing(conn, list, id))?;
        doc.conflicts().map_err(entity_error(list, id))
    }

    /// The surveys that created or updated an entity, with what each did (`create`,
    /// `update`).
    pub fn entity_sources(&self, list: &str, id: &str) -> Result<BTreeMap<String, String>, StoreError> {
        Ok(self.readers.with(|conn| existing(conn, list, id))?.sources())
    }

    /// Seeds or updates the entity list `list` from a CSV file (`label`, an optional `name`
    /// with each entity's id, one column per property), in one transaction: idempotent, and
    /// a bad row is reported with its line while the others import
    /// (`store::entity_import`).
    pub fn import_entities(&self, list: &str, csv: &[u8]) -> Result<super::EntityImportReport, StoreError> {
        let report = self.transaction(|tx, ctx| super::entity_import::import(tx, list, csv, ctx.actor))?;
        self.forms.forget_readers_of([list]);
        Ok(report)
    }

    /// Sets an entity's property (or its `label`) on behalf of this store's user, settling
    /// any conflict on it.
    pub fn settle_entity(&self, list: &str, id: &str, property: &str, value: &str) -> Result<EntityRecord, StoreError> {
        self.edit_entity(list, id, |doc, actor| doc.settle(property, value, actor, Utc::now()))
    }

    /// Marks an entity deleted (or restores it): it leaves lists and choices, and keeps its
    /// history.
    pub fn set_entity_deleted(&self, list: &str, id: &str, deleted: bool) -> Result<EntityRecord, StoreError> {
        self.edit_entity(list, id, |doc, actor| doc.set_deleted(deleted, actor, Utc::now()))
    }

    fn edit_entity(
        &self,
        list: &str,
        id: &str,
        edit: impl FnOnce(&mut EntityDoc, ActorId) -> Result<(), DocumentError>,
    ) -> Result<EntityRecord, StoreError> {
        let record = self.transaction(|tx, ctx| {
            let mut doc = existing(tx, list, id)?;
            edit(&mut doc, ctx.actor.clone()).map_err(entity_error(list, id))?;
            self::write(tx, list, id, &mut doc)
        })?;
        self.forms.forget_readers_of([list]);
        Ok(record)
    }
}

/// Applies what the finalized survey `survey_id` does to its form's entity list, under
/// `actor`, inside the finalizing transaction. Returns the entity it created or updated.
pub fn apply_survey(
    tx: &Connection,
    ctx: &mut WriteCtx<'_>,
    survey_id: &str,
    actor: &ActorId,
) -> Result<Option<EntityRecord>, StoreError> {
    let row = documents::row(tx, survey_id)?.ok_or_else(|| StoreError::UnknownSurvey(survey_id.to_owned()))?;
    let form = ctx.forms.get(tx, &row.form_id, &row.form_version)?;
    let Some(declaration) = form.form().entities.first() else { return Ok(None) };
    let loaded = writes::checkout(tx, ctx.docs, survey_id, &row)?;
    let answers = match &loaded.view {
        Some(view) => Ok(view.answers.clone()),
        None => loaded.doc.answers(form.index()),
    };
    ctx.docs.put(survey_id, loaded);
    let answers = answers.map_err(|source| StoreError::Document { survey_id: survey_id.to_owned(), source })?;
    let now = Utc::now();
    let options = EvalOptions {
        language: None,
        now: now.with_timezone(&chrono::Local).fixed_offset(),
        seed: crate::survey::evaluation_seed(survey_id),
    };
    let action = declaration
        .action(form.evaluator(), &answers, &options, survey_id)
        .map_err(|source| StoreError::Entity { survey_id: survey_id.to_owned(), source })?;
    let Some(action) = action else { return Ok(None) };
    let (list, id) = match &action {
        EntityAction::Create { list, id, .. } | EntityAction::Update { list, id, .. } => (list.clone(), id.clone()),
    };
    let (mut doc, exists) = load_or_genesis(tx, &list, &id)?;
    let action = match (action, exists) {
        // An upsert of an entity this store does not have creates it.
        (EntityAction::Update { list, id, label: Some(label), properties, create_if_missing: true }, false) => {
            EntityAction::Create { list, id, label, properties }
        }
        (action, _) => action,
    };
    doc.apply(&action, survey_id, true, actor.clone(), now).map_err(entity_error(&list, &id))?;
    Ok(Some(write(tx, &list, &id, &mut doc)?))
}

/// The entity `id` of `list`, if this store has it.
pub fn load(conn: &Connection, list: &str, id: &str) -> Result<Option<EntityDoc>, StoreError> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT document FROM entities WHERE list = ?1 AND entity_id = ?2")?
        .query_row(params![list, id], |r| r.get(0))
        .optional()?;
    bytes.map(|bytes| EntityDoc::load(&bytes).map_err(entity_error(list, id))).transpose()
}

/// The entity `id` of `list`, and whether this store had it: one not here yet starts from
/// the genesis every replica shares, so what is written to it merges with the entity when
/// it arrives.
pub(super) fn load_or_genesis(conn: &Connection, list: &str, id: &str) -> Result<(EntityDoc, bool), StoreError> {
    match load(conn, list, id)? {
        Some(doc) => Ok((doc, true)),
        None => Ok((EntityDoc::genesis(list, id).map_err(entity_error(list, id))?, false)),
    }
}

/// The entity `id` of `list`, which must be in this store.
fn existing(conn: &Connection, list: &str, id: &str) -> Result<EntityDoc, StoreError> {
    load(conn, list, id)?.ok_or_else(|| StoreError::UnknownEntity { list: list.to_owned(), id: id.to_owned() })
}

/// Writes an entity's document and the columns derived from it; returns it as listed.
pub fn write(tx: &Connection, list: &str, id: &str, doc: &mut EntityDoc) -> Result<EntityRecord, StoreError> {
    write_synced(tx, list, id, doc, None)
}

/// [`write`], also recording `server_heads` as what the server holds when they are known
/// (changes pulled from it). Every write takes the next number of the change feed, and the
/// entity is pending a push while its heads differ from what the server acknowledged.
pub(super) fn write_synced(
    tx: &Connection,
    list: &str,
    id: &str,
    doc: &mut EntityDoc,
    server_heads: Option<&[ChangeHash]>,
) -> Result<EntityRecord, StoreError> {
    let bytes = doc.save();
    // Every write is held to the budget a survey is held to, so a stored entity always loads.
    intake::check(&bytes, &Budget::WRITE).map_err(|e| entity_error(list, id)(e.into()))?;
    let record = record(list, id, doc)?;
    let properties = serde_json::to_string(&record.properties).unwrap_or_else(|_| "{}".to_owned());
    let seq = writes::next_change_seq(tx)?;
    tx.prepare_cached(
        "INSERT INTO entities (list, entity_id, label, properties, has_conflicts, deleted, heads, document, updated_at,
                               change_seq, acked_heads, dirty)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11 IS NULL OR ?11 != ?7)
         ON CONFLICT (list, entity_id) DO UPDATE SET label = excluded.label, properties = excluded.properties,
             has_conflicts = excluded.has_conflicts, deleted = excluded.deleted, heads = excluded.heads,
             document = excluded.document, updated_at = excluded.updated_at, change_seq = excluded.change_seq,
             acked_heads = coalesce(excluded.acked_heads, acked_heads),
             dirty = coalesce(excluded.acked_heads, acked_heads) IS NULL
                     OR coalesce(excluded.acked_heads, acked_heads) != excluded.heads",
    )?
    .execute(params![
        list,
        id,
        record.label,
        properties,
        record.has_conflicts,
        record.deleted,
        encode_heads(&doc.heads()),
        bytes,
        Utc::now().timestamp_millis(),
        seq,
        server_heads.map(encode_heads),
    ])?;
    super::entity_sources::index(tx, list, id, &doc.sources())?;
    Ok(record)
}

/// The entity `id` of `list` as listed, if this store has it.
pub fn get(conn: &Connection, list: &str, id: &str) -> Result<Option<EntityRecord>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT label, properties, has_conflicts, deleted FROM entities WHERE list = ?1 AND entity_id = ?2",
        )?
        .query_row(params![list, id], |r| row_record(list, id.to_owned(), r, 0))
        .optional()?)
}

/// The entities of `list` that are not deleted as a list a form reads (`plots.csv`): `name`
/// (the id), `label`, then every property any of them has, by name; in label order. `None`
/// when the store has no entity of `list`.
pub fn table(conn: &Connection, list: &str) -> Result<Option<ListTable>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT entity_id, label, properties FROM entities WHERE list = ?1 AND deleted = 0 ORDER BY label, entity_id",
    )?;
    let rows = stmt.query_map([list], |r| {
        let properties: String = r.get(2)?;
        let properties: BTreeMap<String, String> = serde_json::from_str(&properties).unwrap_or_default();
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, properties))
    })?;
    let entities: Vec<(String, String, BTreeMap<String, String>)> = rows.collect::<Result<_, _>>()?;
    if entities.is_empty() {
        return Ok(None);
    }
    let names: BTreeSet<&String> =
        entities.iter().flat_map(|(_, _, p)| p.keys()).filter(|k| *k != "name" && *k != "label").collect();
    let mut header = vec!["name".to_owned(), "label".to_owned()];
    header.extend(names.iter().map(|n| (*n).clone()));
    let rows = entities
        .iter()
        .map(|(id, label, properties)| {
            let mut row = vec![id.clone(), label.clone()];
            row.extend(names.iter().map(|n| properties.get(*n).cloned().unwrap_or_default()));
            row
        })
        .collect();
    Ok(Some(ListTable { header, rows }))
}

/// The entities of `list` that `query` asks for, in label order.
pub fn list(conn: &Connection, list: &str, query: &EntityQuery) -> Result<Vec<EntityRecord>, StoreError> {
    let search = query.search.as_deref().map(|s| format!("%{}%", escape_like(s)));
    let mut stmt = conn.prepare_cached(
        "SELECT entity_id, label, properties, has_conflicts, deleted FROM entities
         WHERE list = ?1 AND (?2 OR deleted = 0) AND (NOT ?3 OR has_conflicts = 1)
           AND (?4 IS NULL OR label LIKE ?4 ESCAPE '\\')
           AND (?7 IS NULL OR team IS NULL OR team IN (SELECT value FROM json_each(?7)))
           AND (?8 IS NULL OR (label, entity_id) > (?8, ?9))
           AND (?10 IS NULL OR assignee IS NULL OR assignee = ?10)
         ORDER BY label, entity_id LIMIT ?5 OFFSET ?6",
    )?;
    let (after_label, after_id) = query.after.clone().unzip();
    let teams = query.teams.as_ref().map(|teams| serde_json::to_string(teams).unwrap_or_else(|_| "[]".to_owned()));
    let rows = stmt.query_map(
        params![
            list,
            query.include_deleted,
            query.conflicted_only,
            search,
            query.limit.min(MAX_PAGE),
            query.offset,
            teams,
            after_label,
            after_id,
            query.assignee
        ],
        |r| row_record(list, r.get(0)?, r, 1),
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The entity columns of a row (label, properties, has_conflicts, deleted), from column
/// `first` on.
fn row_record(list: &str, id: String, r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<EntityRecord> {
    let properties: String = r.get(first + 1)?;
    Ok(EntityRecord {
        list: list.to_owned(),
        id,
        label: r.get(first)?,
        // Written by `write` from a map of strings; anything else reads as no properties.
        properties: serde_json::from_str(&properties).unwrap_or_default(),
        has_conflicts: r.get(first + 2)?,
        deleted: r.get(first + 3)?,
    })
}

/// An entity as listed, from its document.
fn record(list: &str, id: &str, doc: &EntityDoc) -> Result<EntityRecord, StoreError> {
    Ok(EntityRecord {
        list: list.to_owned(),
        id: id.to_owned(),
        label: doc.label(),
        properties: doc.properties(),
        has_conflicts: !doc.conflicts().map_err(entity_error(list, id))?.is_empty(),
        deleted: doc.deleted(),
    })
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub(super) fn entity_error<'a>(list: &'a str, id: &'a str) -> impl Fn(crate::survey::DocumentError) -> StoreError + 'a {
    move |source| StoreError::EntityDocument { list: list.to_owned(), id: id.to_owned(), source }
}
