//! The projection: each survey's metadata, review and relevant answers as plain rows, kept
//! beside its document so that exports and the map never load Automerge.
//!
//! Loading a document and reading its answers costs about 0.3 ms, relevance another 0.05 ms;
//! a row of the projection decodes in microseconds. A store that serves exports (the
//! relay) keeps one ([`enabled`], the `settings` key `projections`): every write that
//! changes a survey's heads writes its row in the same transaction (`store::writes`).
//!
//! A row is used only while its `heads` equal the survey's. Anything else (a row missing
//! because the store started keeping rows after the survey was written, a write by a
//! process that does not keep them, a row that does not decode) reads the document instead
//! and gives the same answer, more slowly; `Store::refresh_projections` brings such rows up
//! to date at idle time, and `Store::rebuild_projections` rewrites every row from the
//! documents.

pub mod codec;

use rusqlite::{Connection, OptionalExtension, params};

use super::documents;
use super::forms::FormCache;
use super::{StoreError, Survey};
use crate::form::{CompiledForm, EvalOptions};
use crate::media::Digest;
use crate::survey::{Answers, DocumentError, Meta, Review, SurveyDoc, evaluation_seed};

/// The `settings` key that says the store keeps a projection.
const KEY: &str = "projections";

/// Whether this store keeps a projection.
pub fn enabled(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn.query_row("SELECT value FROM settings WHERE key = ?1", [KEY], |r| r.get::<_, String>(0)).optional()?
        == Some("kept".to_owned()))
}

/// Records that this store keeps a projection from now on.
pub fn enable(conn: &Connection) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, 'kept') ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [KEY],
    )?;
    Ok(())
}

/// A survey as exports show it, from its document: the answers to questions that are not
/// relevant are left out. Relevance is evaluated as of the survey's start, with the
/// survey's own `random()` seed, so it never changes with the day the export runs.
pub fn project(doc: &SurveyDoc, form: &CompiledForm) -> Result<Projected, DocumentError> {
    Ok(assemble(form, doc.meta()?, doc.review()?, doc.answers(form.index())?))
}

/// A survey as exports show it, and the files all its answers reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Projected {
    /// The survey, its answers to questions that are not relevant left out.
    pub survey: Survey,
    /// The files its answers reference, relevant or not: a photo under a question that is
    /// not relevant now is still the survey's, and comes back if the question does.
    pub media: Vec<Digest>,
}

/// Adds to `projected` the files of the competing values of `doc`'s conflicts: a photo
/// that lost to another attached concurrently is still the survey's until a person settles
/// the conflict, and must reach the server for them to see it.
pub fn with_conflicts(
    doc: &SurveyDoc,
    form: &CompiledForm,
    projected: Result<Projected, DocumentError>,
) -> Result<Projected, DocumentError> {
    let mut projected = projected?;
    // Conflicts that cannot be read leave the files as the answers name them: the row is
    // still right about everything else.
    for digest in doc.contested_media(form.index()).unwrap_or_default() {
        if !projected.media.contains(&digest) {
            projected.media.push(digest);
        }
    }
    Ok(projected)
}

/// [`project`], from the parts of a survey already read from its document.
pub fn assemble(form: &CompiledForm, meta: Meta, review: Review, mut answers: Answers) -> Projected {
    let options =
        EvalOptions { language: None, now: meta.created_at.fixed_offset(), seed: evaluation_seed(&meta.survey_id) };
    let evaluation = form.evaluator().evaluate(&answers, &options);
    let media = answers.media().into_iter().map(|m| m.digest).collect();
    answers.prune(&evaluation.non_relevant);
    Projected { survey: Survey { meta, review, answers }, media }
}

/// Writes the row of a survey now at `heads` (as `documents::encode_heads` writes them),
/// and the files its answers reference (`survey_media`). A document whose survey cannot be
/// projected loses its row instead (readers then take the document, and report what is
/// wrong with it) and keeps the files it referenced last: none is refused or collected
/// for a survey that cannot be read for now.
pub fn write(
    tx: &Connection,
    survey_id: &str,
    heads: &[u8],
    projected: Result<Projected, DocumentError>,
) -> Result<(), StoreError> {
    let encoded = projected.ok().and_then(|p| codec::encode(&p.survey).ok().map(|data| (p.media, data)));
    match encoded {
        Some((media, data)) => {
            tx.prepare_cached("DELETE FROM survey_media WHERE survey_id = ?1")?.execute([survey_id])?;
            tx.prepare_cached(
                "INSERT INTO survey_projections (survey_id, heads, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (survey_id) DO UPDATE SET heads = excluded.heads, data = excluded.data",
            )?
            .execute(params![survey_id, heads, data])?;
            let mut insert = tx.prepare_cached("INSERT INTO survey_media (survey_id, digest) VALUES (?1, ?2)")?;
            for digest in media {
                insert.execute(params![survey_id, &digest.0[..]])?;
            }
        }
        None => {
            tx.prepare_cached("DELETE FROM survey_projections WHERE survey_id = ?1")?.execute([survey_id])?;
        }
    }
    Ok(())
}

/// A survey as exports show it: from its row when the row is current, else from its
/// document.
pub fn read(conn: &Connection, forms: &FormCache, survey_id: &str) -> Result<Survey, StoreError> {
    if let Some(survey) = current(conn, survey_id)? {
        return Ok(survey);
    }
    from_document(conn, forms, survey_id)
}

/// The survey's row, if it is current and decodes.
fn current(conn: &Connection, survey_id: &str) -> Result<Option<Survey>, StoreError> {
    let data: Option<Vec<u8>> = conn
        .prepare_cached(
            "SELECT p.data FROM survey_projections p JOIN surveys s ON s.survey_id = p.survey_id
             WHERE p.survey_id = ?1 AND p.heads = s.heads",
        )?
        .query_row([survey_id], |r| r.get(0))
        .optional()?;
    Ok(data.and_then(|data| codec::decode(&data).ok()))
}

/// The survey as exports show it, from its document, whatever its row says.
pub fn from_document(conn: &Connection, forms: &FormCache, survey_id: &str) -> Result<Survey, StoreError> {
    let row = documents::row(conn, survey_id)?.ok_or_else(|| StoreError::UnknownSurvey(survey_id.to_owned()))?;
    let form = forms.get(conn, &row.form_id, &row.form_version)?;
    let doc = documents::load(conn, survey_id)?;
    project(&doc, &form)
        .map(|p| p.survey)
        .map_err(|source| StoreError::Document { survey_id: survey_id.to_owned(), source })
}

/// Up to `limit` surveys whose row is missing or behind their document.
pub fn stale(conn: &Connection, limit: u32) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.survey_id FROM surveys s LEFT JOIN survey_projections p ON p.survey_id = s.survey_id
         WHERE p.heads IS NOT s.heads LIMIT ?1",
    )?;
    let ids = stmt.query_map([limit], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(ids)
}

/// Up to `limit` survey ids after `after`, in id order: the pages a rebuild walks.
pub fn ids_after(conn: &Connection, after: &str, limit: u32) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT survey_id FROM surveys WHERE survey_id > ?1 ORDER BY survey_id LIMIT ?2")?;
    let ids = stmt.query_map(params![after, limit], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(ids)
}

/// Rewrites the rows of `survey_ids` from their documents; returns how many said something
/// else. A survey removed meanwhile is skipped, and so is one whose stored form no longer
/// parses (its reads report that, in its own place).
pub fn rewrite_all(tx: &Connection, forms: &FormCache, survey_ids: &[String]) -> Result<u64, StoreError> {
    let mut differed = 0;
    for id in survey_ids {
        match rewrite(tx, forms, id) {
            Ok(differs) => differed += u64::from(differs),
            Err(StoreError::UnknownSurvey(_) | StoreError::CorruptForm { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(differed)
}

/// Rewrites the row of `survey_id` from its document; returns whether the current row
/// said something else (a missing or stale row counts as saying nothing).
fn rewrite(tx: &Connection, forms: &FormCache, survey_id: &str) -> Result<bool, StoreError> {
    let row = documents::row(tx, survey_id)?.ok_or_else(|| StoreError::UnknownSurvey(survey_id.to_owned()))?;
    let form = forms.get(tx, &row.form_id, &row.form_version)?;
    let before = current(tx, survey_id)?;
    let projected = match documents::load(tx, survey_id) {
        Ok(doc) => with_conflicts(&doc, &form, project(&doc, &form)),
        Err(StoreError::Corrupt { source, .. }) => Err(source),
        Err(other) => return Err(other),
    };
    let differs = before.as_ref() != projected.as_ref().ok().map(|p| &p.survey);
    write(tx, survey_id, &row.heads, projected)?;
    Ok(differs)
}
