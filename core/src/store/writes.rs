//! The one path every change to a survey takes: inside a transaction, check out the
//! document, apply the edit or merge, append the change chunk, and update the metadata
//! columns, the change feed, the receipts and the sync bookkeeping together.

use automerge::{ActorId, Change, ChangeHash, ReadDoc};
use chrono::Utc;
use rusqlite::{Connection, params};

use super::cache::{AnswersView, DocCache, Loaded};
use super::documents::{self, Compaction, DocRow};
use super::forms::FormCache;
use super::{MergeOutcome, StoreError, projection};
use crate::form::FormIndex;
use crate::intake::{Budget, Cost};
use crate::survey::footprint::{Footprint, footprints};
use crate::survey::{AnswerPath, DocumentError, Meta, Refusal, Review, SurveyDoc};

/// Where the change being written comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An edit made through this store, under its actor.
    Local,
    /// An edit made through this store on behalf of someone else (a supervisor correcting
    /// on the server), under their actor.
    Delegated(ActorId),
    /// Changes from another replica (a bundle, another device).
    Replica,
    /// Changes from the server, which holds `heads` once they are applied: the store
    /// records them as acknowledged.
    Server {
        /// The server's heads for the survey.
        heads: Vec<ChangeHash>,
    },
}

/// What a write needs from the store besides the transaction.
pub struct WriteCtx<'a> {
    /// The document cache of the writer connection.
    pub docs: &'a mut DocCache,
    /// The parsed forms.
    pub forms: &'a FormCache,
    /// The actor of this store session.
    pub actor: &'a ActorId,
    /// The most any survey may grow to (at most [`Budget::WRITE`]).
    pub budget: &'a Budget,
    /// Whether the store keeps a projection row per survey (`store::projection`).
    pub project: bool,
}

fn doc_err(survey_id: &str) -> impl Fn(DocumentError) -> StoreError + '_ {
    move |source| StoreError::Document { survey_id: survey_id.to_owned(), source }
}

/// Applies `edit` to an existing survey. Returns the edit's output and whether anything
/// changed. On error the document and the database are as before.
pub fn edit<T>(
    tx: &Connection,
    ctx: &mut WriteCtx<'_>,
    survey_id: &str,
    origin: &Origin,
    touched: Option<&AnswerPath>,
    edit: impl FnOnce(&mut SurveyDoc, &FormIndex<'_>) -> Result<T, DocumentError>,
) -> Result<(T, bool), StoreError> {
    let row = documents::row(tx, survey_id)?.ok_or_else(|| StoreError::UnknownSurvey(survey_id.to_owned()))?;
    let form = ctx.forms.get(tx, &row.form_id, &row.form_version)?;
    let index = form.index();
    let Loaded { mut doc, stored, view } = checkout(tx, ctx.docs, survey_id, &row)?;
    match origin {
        Origin::Local => doc.set_actor(ctx.actor.clone()),
        Origin::Delegated(actor) => doc.set_actor(actor.clone()),
        Origin::Replica | Origin::Server { .. } => {}
    }
    let before = doc.heads();
    // On error the document is dropped, not cached: an edit may have merged changes that
    // the transaction will not keep.
    let output = edit(&mut doc, index).map_err(doc_err(survey_id))?;
    doc.commit(Utc::now());
    if doc.heads() == before {
        if let Origin::Server { heads } = origin {
            set_acked(tx, survey_id, heads)?;
        }
        ctx.docs.put(survey_id, Loaded { doc, stored, view });
        return Ok((output, false));
    }
    // Automerge re-encodes changes on every `get_changes`: collect the new ones once.
    let new = doc.automerge_mut().get_changes(&before);
    let chunk: Vec<u8> = new.iter().flat_map(|c| c.raw_bytes().iter().copied()).collect();
    let hashes: Vec<ChangeHash> = new.iter().map(|c| c.hash()).collect();
    let mut stored = stored.plus(&documents::measure(survey_id, &chunk)?);
    let fragments = row.fragments + documents::fragments(&hashes);
    within_budget(&doc, &stored, fragments, ctx.budget).map_err(doc_err(survey_id))?;
    documents::append_chunk(tx, survey_id, &chunk)?;
    // Local edits can only resolve conflicts, never create them; merges can do both. The
    // answers are read once, for both the conflicts and the projection.
    let needs_conflicts = !matches!(origin, Origin::Local | Origin::Delegated(_)) || row.has_conflicts;
    let (read, has_conflicts) = if ctx.project {
        match doc.answers_and_conflicted(index) {
            Ok((answers, conflicted)) => (Some(answers), conflicted),
            Err(e) if needs_conflicts => return Err(doc_err(survey_id)(e)),
            Err(_) => (None, false),
        }
    } else if needs_conflicts {
        (None, doc.has_conflicts().map_err(doc_err(survey_id))?)
    } else {
        (None, false)
    };
    // Setting or clearing one answer leaves the metadata and the review as they were: the
    // form screen's write does not read them (a projection does, to write its row).
    let (meta, review) = if touched.is_none() || ctx.project {
        (Some(doc.meta().map_err(doc_err(survey_id))?), Some(doc.review().map_err(doc_err(survey_id))?))
    } else {
        (None, None)
    };
    let state = RowState {
        heads: doc.heads(),
        meta: meta.as_ref(),
        review: review.as_ref(),
        has_conflicts,
        chunk_bytes: chunk.len(),
    };
    let heads = record(tx, survey_id, &state, &hashes, origin)?;
    if let (true, Some(meta), Some(review)) = (ctx.project, meta, review) {
        let projected = match read {
            Some(answers) => Ok(projection::assemble(&form, meta, review, answers)),
            // Unreadable answers: the projection says why, and the row goes.
            None => projection::project(&doc, &form),
        };
        let projected = if has_conflicts { projection::with_conflicts(&doc, &form, projected) } else { projected };
        projection::write(tx, survey_id, &heads, projected)?;
    }
    // The row as `append_chunk` and `record` left it, without reading it back.
    let row = DocRow { chunk_count: row.chunk_count + 1, chunk_bytes: row.chunk_bytes + chunk.len() as i64, ..row };
    // An answer (a local or delegated edit) never waits for a due compaction; merges from
    // other replicas, already the costly writes, compact as soon as it is due.
    let answer = matches!(origin, Origin::Local | Origin::Delegated(_));
    match documents::compaction(&row) {
        Compaction::NotDue => {}
        Compaction::Due if answer => {
            if row.compacted {
                documents::mark_due(tx, survey_id)?;
            }
        }
        Compaction::Due | Compaction::Overdue => stored = documents::compact(tx, survey_id, &mut doc)?,
    }
    // An edit of one answer patches the answers view; any other leaves it to be read again.
    let view = match (view, touched) {
        (Some(view), Some(path)) if view.heads == before => patch_view(view, &mut doc, index, path),
        _ => None,
    };
    ctx.docs.put(survey_id, Loaded { doc, stored, view });
    Ok((output, true))
}

/// `view` with the answer at `path` read again from `doc`, at `doc`'s heads; `None` when
/// the answer cannot be placed (read everything again then).
fn patch_view(
    mut view: AnswersView,
    doc: &mut SurveyDoc,
    form: &FormIndex<'_>,
    path: &AnswerPath,
) -> Option<AnswersView> {
    let answer = doc.answer(form, path).ok()?;
    view.answers.set_at(path, answer).then(|| AnswersView { heads: doc.heads(), answers: view.answers })
}

/// Refuses a document that has grown past `budget`: every write path comes through here,
/// so no stored survey can pass it, and [`Budget::LOAD`], strictly larger, always loads it.
/// `stored` is what the survey's bytes on disk cost to decode (ops there count deletions,
/// which a loaded document does not).
pub fn within_budget(doc: &SurveyDoc, stored: &Cost, fragments: u64, budget: &Budget) -> Result<(), DocumentError> {
    let (ops, changes) = doc.size();
    let actors = doc.automerge().stats().num_actors;
    let cost = Cost { decoded_bytes: stored.decoded_bytes, ops: ops.max(stored.ops), changes, actors, fragments };
    Ok(budget.admits(&cost)?)
}

/// Records that the server holds `heads` of a survey; it stays dirty if it has more.
pub fn set_acked(tx: &Connection, survey_id: &str, heads: &[ChangeHash]) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE surveys SET acked_heads = ?2, dirty = (heads != ?2) WHERE survey_id = ?1")?
        .execute(params![survey_id, documents::encode_heads(heads)])?;
    Ok(())
}

/// A new survey, parsed, judged and encoded: the expensive part of an insert, which needs
/// no write lock and so runs in parallel with other requests.
pub struct Prepared {
    doc: SurveyDoc,
    meta: Meta,
    review: Review,
    snapshot: Vec<u8>,
    /// Whether `snapshot` is a compacted `save()` rather than the changes as received.
    compacted: bool,
    has_conflicts: bool,
    hashes: Vec<ChangeHash>,
    /// What `snapshot` costs to decode.
    stored: Cost,
    /// The survey as the projection holds it, when the store keeps one.
    projected: Option<Result<projection::Projected, DocumentError>>,
}

/// Prepares the insert of a survey: `changes` are all of its changes when the caller has
/// them already (they were just parsed), else they are collected from the document.
pub fn prepare(
    conn: &Connection,
    forms: &FormCache,
    mut doc: SurveyDoc,
    changes: Option<&[Change]>,
    budget: &Budget,
) -> Result<Prepared, StoreError> {
    let meta = doc.meta().map_err(doc_err("(new survey)"))?;
    // A survey of a form this store lacks is refused before its costly `save()`.
    forms.get(conn, &meta.form_id, &meta.form_version)?;
    let has_conflicts = doc.has_conflicts().map_err(doc_err(&meta.survey_id))?;
    let review = doc.review().map_err(doc_err(&meta.survey_id))?;
    let hashes: Vec<ChangeHash> = match changes {
        Some(changes) => changes.iter().map(Change::hash).collect(),
        None => doc.automerge_mut().get_changes(&[]).iter().map(Change::hash).collect(),
    };
    let snapshot = doc.save();
    let stored = documents::measure(&meta.survey_id, &snapshot)?;
    within_budget(&doc, &stored, documents::fragments(&hashes), budget).map_err(doc_err(&meta.survey_id))?;
    Ok(Prepared { doc, meta, review, snapshot, compacted: true, has_conflicts, hashes, stored, projected: None })
}

/// Prepares the insert of a survey received as `bytes`, judged by `check`; with `project`,
/// its projection row too (outside the write lock, like the rest).
pub fn prepare_received(
    conn: &Connection,
    forms: &FormCache,
    survey_id: &str,
    bytes: &[u8],
    check: Option<Check<'_>>,
    budget: &Budget,
    project: bool,
) -> Result<Prepared, StoreError> {
    let (mut doc, changes, _) = SurveyDoc::from_untrusted_changes(bytes, budget).map_err(doc_err(survey_id))?;
    let meta = doc.meta().map_err(doc_err(survey_id))?;
    if meta.survey_id != survey_id {
        return Err(doc_err(survey_id)(DocumentError::WrongSurvey));
    }
    if let Some(mut check) = check {
        judge(&mut doc, survey_id, &changes, &changes, None, &mut check).map_err(doc_err(survey_id))?;
    }
    let form = forms.get(conn, &meta.form_id, &meta.form_version)?;
    let (answers, has_conflicts) = doc.answers_and_conflicted(form.index()).map_err(doc_err(survey_id))?;
    let review = doc.review().map_err(doc_err(survey_id))?;
    // Stored as received (already parsed strictly, so loadable): encoding a `save()` is the
    // costliest step of an insert, and can wait for `Store::compact_pending`.
    let raw: Vec<u8> = changes.iter().flat_map(|c| c.raw_bytes().iter().copied()).collect();
    // The bytes as stored, not as received: a saved document arrives as one chunk but is
    // kept as its changes.
    let stored = documents::measure(survey_id, &raw)?;
    let hashes: Vec<ChangeHash> = changes.iter().map(Change::hash).collect();
    within_budget(&doc, &stored, documents::fragments(&hashes), budget).map_err(doc_err(survey_id))?;
    let projected = project.then(|| Ok(projection::assemble(&form, meta.clone(), review.clone(), answers)));
    Ok(Prepared { doc, meta, review, snapshot: raw, compacted: false, has_conflicts, hashes, stored, projected })
}

/// Inserts a prepared survey this store does not have yet.
pub fn insert(
    tx: &Connection,
    ctx: &mut WriteCtx<'_>,
    prepared: Prepared,
    origin: &Origin,
) -> Result<MergeOutcome, StoreError> {
    let Prepared { mut doc, meta, review, snapshot, compacted, has_conflicts, hashes, stored, projected } = prepared;
    let id = meta.survey_id.clone();
    // Forms are checked here too: a prepared survey may name a form that was never stored.
    let form = ctx.forms.get(tx, &meta.form_id, &meta.form_version)?;
    let heads = documents::encode_heads(&doc.heads());
    let now = Utc::now().timestamp_millis();
    // The whole row in one statement: an insert followed by an update would write the
    // snapshot twice, and every index of the table twice.
    let (acked, dirty) = match origin {
        Origin::Server { heads: server } => {
            let acked = documents::encode_heads(server);
            let dirty = acked != heads;
            (Some(acked), dirty)
        }
        _ => (None, true),
    };
    tx.prepare_cached(
        "INSERT INTO surveys (survey_id, form_id, form_version, status, created_by, created_on, created_at,
                              updated_at, heads, snapshot, compacted, review_status, has_conflicts, change_seq,
                              acked_heads, dirty, fragments)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?
    .execute(params![
        id,
        meta.form_id,
        meta.form_version,
        meta.status.as_str(),
        meta.created_by,
        meta.created_on,
        meta.created_at.timestamp_millis(),
        now,
        heads,
        snapshot,
        compacted,
        review.status.to_stored(),
        has_conflicts,
        next_change_seq(tx)?,
        acked,
        dirty,
        documents::fragments(&hashes) as i64,
    ])?;
    receipts(tx, &id, &hashes, now)?;
    if ctx.project {
        let projected = projected.unwrap_or_else(|| projection::project(&doc, &form));
        let projected = if has_conflicts { projection::with_conflicts(&doc, &form, projected) } else { projected };
        projection::write(tx, &id, &heads, projected)?;
    }
    ctx.docs.put(&id, Loaded { doc, stored, view: None });
    Ok(MergeOutcome { created: true, new_changes: hashes.len() })
}

/// A survey about to take changes from outside, for a policy to judge before they are kept.
#[derive(Debug)]
pub struct MergeCandidate<'a> {
    /// The survey.
    pub survey_id: &'a str,
    /// Its metadata once the changes are applied.
    pub meta: &'a Meta,
    /// Its review once the changes are applied.
    pub review: &'a Review,
    /// Its review before them (`None` for a survey new to the store).
    pub previous_review: Option<&'a Review>,
    /// Whether the store had the survey before.
    pub existed: bool,
    /// What each new change touches.
    pub footprints: &'a [Footprint],
}

/// A policy over incoming changes: `Ok` keeps them, a refusal drops them all.
pub type Check<'c> = &'c mut dyn FnMut(&MergeCandidate<'_>) -> Result<(), Refusal>;

/// Merges another replica's bytes into a survey, creating it if this store lacks it. With
/// `check`, the new changes are judged before anything is kept.
pub fn merge(
    tx: &Connection,
    ctx: &mut WriteCtx<'_>,
    survey_id: &str,
    bytes: &[u8],
    origin: &Origin,
    mut check: Option<Check<'_>>,
) -> Result<MergeOutcome, StoreError> {
    if documents::row(tx, survey_id)?.is_some() {
        let budget = *ctx.budget;
        let (new_changes, _) = edit(tx, ctx, survey_id, origin, None, |doc, _| {
            let before = doc.heads();
            let previous = if check.is_some() { Some(doc.review()?) } else { None };
            let (new_changes, _) = doc.merge_bytes(bytes, &budget)?;
            if let Some(check) = check.as_mut() {
                let all = doc.automerge_mut().get_changes(&[]);
                let new = doc.automerge_mut().get_changes(&before);
                judge(doc, survey_id, &all, &new, previous.as_ref(), check)?;
            }
            Ok(new_changes)
        })?;
        return Ok(MergeOutcome { created: false, new_changes });
    }
    let prepared = prepare_received(tx, ctx.forms, survey_id, bytes, check, ctx.budget, ctx.project)?;
    insert(tx, ctx, prepared, origin)
}

fn judge(
    doc: &mut SurveyDoc,
    survey_id: &str,
    all: &[Change],
    new: &[Change],
    previous_review: Option<&Review>,
    check: &mut Check<'_>,
) -> Result<(), DocumentError> {
    let footprints = footprints(all, new);
    let meta = doc.meta()?;
    let review = doc.review()?;
    let existed = previous_review.is_some();
    check(&MergeCandidate {
        survey_id,
        meta: &meta,
        review: &review,
        previous_review,
        existed,
        footprints: &footprints,
    })
    .map_err(DocumentError::Refused)
}

/// The document of a survey for writing: the cached one if it is exactly what is on disk
/// (another process may have written the file since), else loaded from disk.
pub fn checkout(conn: &Connection, docs: &mut DocCache, survey_id: &str, row: &DocRow) -> Result<Loaded, StoreError> {
    let cached = docs
        .take(survey_id)
        .and_then(|mut loaded| (documents::encode_heads(&loaded.doc.heads()) == row.heads).then_some(loaded));
    match cached {
        Some(loaded) => Ok(loaded),
        None => documents::load_measured(conn, survey_id),
    }
}

/// What a write leaves in a survey's row besides its bytes, read from the document once
/// for the row and the projection.
struct RowState<'a> {
    heads: Vec<ChangeHash>,
    /// The metadata, `None` when the write cannot have changed it (the column keeps its value).
    meta: Option<&'a Meta>,
    /// The review, `None` when the write cannot have changed it.
    review: Option<&'a Review>,
    has_conflicts: bool,
    /// The size of the change chunk the write appended.
    chunk_bytes: usize,
}

/// The next number of the change feed (surveys' and entities' writes share it).
pub(super) fn next_change_seq(tx: &Connection) -> Result<i64, StoreError> {
    Ok(tx
        .prepare_cached("UPDATE counters SET value = value + 1 WHERE name = 'change_seq' RETURNING value")?
        .query_row([], |r| r.get(0))?)
}

/// Records when each of `new` was received (the first time only).
fn receipts(tx: &Connection, survey_id: &str, new: &[ChangeHash], now: i64) -> Result<(), StoreError> {
    let mut receipt =
        tx.prepare_cached("INSERT OR IGNORE INTO change_receipts (survey_id, hash, received_at) VALUES (?1, ?2, ?3)")?;
    for hash in new {
        receipt.execute(params![survey_id, hash.0.as_slice(), now])?;
    }
    Ok(())
}

/// Writes everything derived from a changed document into its existing row: metadata
/// columns, the chunk just appended, the next change feed number, when each new change was
/// received, and the sync state. Returns the heads as written.
fn record(
    tx: &Connection,
    survey_id: &str,
    state: &RowState<'_>,
    new: &[ChangeHash],
    origin: &Origin,
) -> Result<Vec<u8>, StoreError> {
    let now = Utc::now().timestamp_millis();
    let heads = documents::encode_heads(&state.heads);
    let seq = next_change_seq(tx)?;
    if let Origin::Server { heads: server } = origin {
        set_acked(tx, survey_id, server)?;
    }
    // One statement: SQLite rewrites the whole row, snapshot included, at every UPDATE.
    tx.prepare_cached(
        "UPDATE surveys SET status = coalesce(?2, status), updated_at = ?3, heads = ?4,
                            review_status = CASE WHEN ?9 THEN ?5 ELSE review_status END, has_conflicts = ?6,
                            change_seq = ?7, dirty = (acked_heads IS NULL OR acked_heads != ?4),
                            fragments = fragments + ?8, chunk_count = chunk_count + 1, chunk_bytes = chunk_bytes + ?10
         WHERE survey_id = ?1",
    )?
    .execute(params![
        survey_id,
        state.meta.map(|m| m.status.as_str()),
        now,
        heads,
        state.review.and_then(|r| r.status.to_stored()),
        state.has_conflicts,
        seq,
        documents::fragments(new) as i64,
        state.review.is_some(),
        state.chunk_bytes as i64,
    ])?;
    receipts(tx, survey_id, new, now)?;
    Ok(heads)
}
