//! The survey store: forms and survey documents in one SQLite file, safe across crashes.
//!
//! One writer connection (behind a mutex) and a pool of readers. Every write is one SQLite
//! transaction that appends the Automerge change, updates the indexed metadata columns and
//! the sync bookkeeping together, and compacts the document when its chunks have grown; so
//! once a call returns `Ok`, the data survives a killed process or a power cut, and a failed
//! call leaves nothing half-written.

mod cache;
mod connection;
mod documents;
mod error;
mod query;
pub mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use automerge::ActorId;
use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use self::cache::DocCache;
use self::connection::ReaderPool;
pub use self::error::StoreError;
pub use self::query::{SurveyQuery, SurveySummary};
use crate::form::{Form, FormIndex};
use crate::identity::{Author, Role, new_actor};
use crate::survey::{
    AnswerPath, Answers, Conflict, DocumentError, FieldEdit, Meta, Review, Status, SurveyDoc,
};
use crate::value::Value;

/// A form as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormSummary {
    /// The form id.
    pub form_id: String,
    /// The version.
    pub version: String,
    /// The title.
    pub title: String,
}

/// A survey read in full.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Survey {
    /// Its metadata.
    pub meta: Meta,
    /// Its answers, typed by its form.
    pub answers: Answers,
    /// Its review status and comments.
    pub review: Review,
}

/// What a merge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeOutcome {
    /// Whether the survey was new to this store.
    pub created: bool,
    /// How many changes were new.
    pub new_changes: usize,
}

/// A store of forms and surveys, opened by one user on one device.
///
/// `Store` is `Send + Sync`: share it between threads. Calls block; run them off the UI thread.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    author: Author,
    actor: ActorId,
    writer: Mutex<Writer>,
    readers: ReaderPool,
    forms: RwLock<HashMap<(String, String), Arc<Form>>>,
}

/// Where the change being written comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// An edit made through this store.
    Local,
    /// Changes from another replica.
    Merge,
}

#[derive(Debug)]
struct Writer {
    conn: Connection,
    docs: DocCache,
}

impl Store {
    /// Opens the store at `path` (creating it if needed) for `author`.
    ///
    /// The store's schema is brought up to date; a database from a newer Terrain is refused
    /// untouched. This session writes under a fresh Automerge actor, recorded in the store.
    pub fn open(path: impl AsRef<Path>, author: Author) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = connection::open_writer(&path)?;
        schema::migrate(&mut conn)?;
        let actor = new_actor();
        conn.execute(
            "INSERT INTO actors (actor, user_id, device_id, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![actor.to_hex_string(), author.user, author.device, author.role.as_str(), now_ms()],
        )?;
        Ok(Store {
            readers: ReaderPool::new(path.clone()),
            path,
            author,
            actor,
            writer: Mutex::new(Writer {
                conn,
                docs: DocCache::default(),
            }),
            forms: RwLock::new(HashMap::new()),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Who writes through this store.
    pub fn author(&self) -> &Author {
        &self.author
    }

    /// The Automerge actor id (hex) this session writes under.
    pub fn actor(&self) -> String {
        self.actor.to_hex_string()
    }

    /// Records that `actor` (hex) is `author`, so histories can name them. An actor is bound
    /// once: binding it to someone else is refused.
    pub fn register_actor(&self, actor: &str, author: &Author) -> Result<(), StoreError> {
        let writer = self.lock_writer();
        let known = known_author(&writer.conn, actor)?;
        match known {
            Some(known) if &known == author => Ok(()),
            Some(_) => Err(StoreError::ActorMismatch {
                actor: actor.to_owned(),
            }),
            None => {
                writer.conn.execute(
                    "INSERT INTO actors (actor, user_id, device_id, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![actor, author.user, author.device, author.role.as_str(), now_ms()],
                )?;
                Ok(())
            }
        }
    }

    /// Stores a form version. Storing the same definition again is harmless; a different
    /// definition under the same id and version is refused.
    pub fn save_form(&self, form: &Form) -> Result<(), StoreError> {
        let definition = form.to_json();
        let writer = self.lock_writer();
        let existing: Option<String> = writer
            .conn
            .query_row(
                "SELECT definition FROM forms WHERE form_id = ?1 AND version = ?2",
                [&form.id, &form.version],
                |r| r.get(0),
            )
            .optional()?;
        match existing {
            Some(stored) if stored == definition => Ok(()),
            Some(_) => Err(StoreError::FormVersionConflict {
                form_id: form.id.clone(),
                version: form.version.clone(),
            }),
            None => {
                writer.conn.execute(
                    "INSERT INTO forms (form_id, version, title, definition, saved_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![form.id, form.version, form.title, definition, now_ms()],
                )?;
                Ok(())
            }
        }
    }

    /// A stored form version.
    pub fn form(&self, form_id: &str, version: &str) -> Result<Arc<Form>, StoreError> {
        self.readers
            .with(|conn| self.cached_form(conn, form_id, version))
    }

    /// Every stored form version, by id then version.
    pub fn forms(&self) -> Result<Vec<FormSummary>, StoreError> {
        self.readers.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT form_id, version, title FROM forms ORDER BY form_id, version",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(FormSummary {
                    form_id: r.get(0)?,
                    version: r.get(1)?,
                    title: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Starts a survey of a stored form version and returns its id.
    pub fn create_survey(&self, form_id: &str, version: &str) -> Result<String, StoreError> {
        self.create_survey_with(form_id, version, &Answers::default())
    }

    /// Starts a survey with answers already filled in (prefilled or imported), written as
    /// one change, and returns its id.
    pub fn create_survey_with(
        &self,
        form_id: &str,
        version: &str,
        answers: &Answers,
    ) -> Result<String, StoreError> {
        let survey_id = uuid::Uuid::new_v4().to_string();
        let mut writer = self.lock_writer();
        let Writer { conn, docs } = &mut *writer;
        let form = self.cached_form(conn, form_id, version)?;
        let now = Utc::now();
        let mut doc = SurveyDoc::create(
            &form,
            &survey_id,
            &self.author,
            self.actor.clone(),
            now,
            answers,
        )
        .map_err(|source| StoreError::Document {
            survey_id: survey_id.clone(),
            source,
        })?;
        let meta = doc.meta().map_err(|source| StoreError::Document {
            survey_id: survey_id.clone(),
            source,
        })?;
        insert_survey(conn, &meta, &mut doc, now.timestamp_millis())?;
        docs.put(&survey_id, doc);
        Ok(survey_id)
    }

    /// Sets an answer. Returns whether anything changed (setting the value already there
    /// writes nothing).
    pub fn set_answer(
        &self,
        survey_id: &str,
        path: &AnswerPath,
        value: Value,
    ) -> Result<bool, StoreError> {
        Ok(self
            .write(survey_id, Origin::Local, |doc, form| {
                doc.set_answer(form, path, value)
            })?
            .1)
    }

    /// Clears an answer. Returns whether there was one.
    pub fn clear_answer(&self, survey_id: &str, path: &AnswerPath) -> Result<bool, StoreError> {
        Ok(self
            .write(survey_id, Origin::Local, |doc, form| {
                doc.clear_answer(form, path)
            })?
            .1)
    }

    /// Adds an instance to the repeat at `path` (at `index`, or at the end); returns its index.
    pub fn add_repeat_instance(
        &self,
        survey_id: &str,
        path: &AnswerPath,
        index: Option<usize>,
    ) -> Result<usize, StoreError> {
        Ok(self
            .write(survey_id, Origin::Local, |doc, form| {
                doc.add_repeat_instance(form, path, index)
            })?
            .0)
    }

    /// Removes instance `index` of the repeat at `path`.
    pub fn remove_repeat_instance(
        &self,
        survey_id: &str,
        path: &AnswerPath,
        index: usize,
    ) -> Result<(), StoreError> {
        self.write(survey_id, Origin::Local, |doc, form| {
            doc.remove_repeat_instance(form, path, index)
        })?;
        Ok(())
    }

    /// Moves instance `from` of the repeat at `path` to position `to`.
    pub fn move_repeat_instance(
        &self,
        survey_id: &str,
        path: &AnswerPath,
        from: usize,
        to: usize,
    ) -> Result<(), StoreError> {
        self.write(survey_id, Origin::Local, |doc, form| {
            doc.move_repeat_instance(form, path, from, to)
        })?;
        Ok(())
    }

    /// Marks a survey finalized: complete and ready to send.
    pub fn finalize(&self, survey_id: &str) -> Result<(), StoreError> {
        self.write(survey_id, Origin::Local, |doc, _| {
            doc.set_status(Status::Finalized)
        })?;
        Ok(())
    }

    /// Makes a finalized survey a draft again, to edit it.
    pub fn reopen(&self, survey_id: &str) -> Result<(), StoreError> {
        self.write(survey_id, Origin::Local, |doc, _| {
            doc.set_status(Status::Draft)
        })?;
        Ok(())
    }

    /// Reads a survey in full.
    pub fn survey(&self, survey_id: &str) -> Result<Survey, StoreError> {
        self.read(survey_id, |doc, form| {
            Ok(Survey {
                meta: doc.meta()?,
                answers: doc.answers(form)?,
                review: doc.review()?,
            })
        })
    }

    /// Reads a survey as JSON (`meta`, `answers`, `review`).
    pub fn survey_json(&self, survey_id: &str) -> Result<serde_json::Value, StoreError> {
        self.read(survey_id, |doc, form| doc.to_json(form))
    }

    /// Lists surveys from their metadata, without loading documents.
    pub fn list(&self, query: &SurveyQuery) -> Result<Vec<SurveySummary>, StoreError> {
        self.readers.with(|conn| query::list(conn, query))
    }

    /// Every edit of the answer at `path`, oldest first, with who made it when known.
    pub fn history(
        &self,
        survey_id: &str,
        path: &AnswerPath,
    ) -> Result<Vec<FieldEdit>, StoreError> {
        let mut edits = self.read(survey_id, |doc, form| doc.clone().history(form, path))?;
        self.readers.with(|conn| {
            for edit in &mut edits {
                edit.author = known_author(conn, &edit.actor)?;
            }
            Ok(())
        })?;
        Ok(edits)
    }

    /// The answers of a survey that have competing values, with who wrote each when known.
    pub fn conflicts(&self, survey_id: &str) -> Result<Vec<Conflict>, StoreError> {
        let mut conflicts = self.read(survey_id, |doc, form| doc.conflicts(form))?;
        self.readers.with(|conn| {
            for value in conflicts.iter_mut().flat_map(|c| c.values.iter_mut()) {
                value.author = known_author(conn, &value.actor)?;
            }
            Ok(())
        })?;
        Ok(conflicts)
    }

    /// The whole document of a survey, compressed: what another replica needs to catch up.
    pub fn document_bytes(&self, survey_id: &str) -> Result<Vec<u8>, StoreError> {
        self.read(survey_id, |doc, _| Ok(doc.clone().save()))
    }

    /// Merges bytes from another replica of a survey: change chunks for a survey this store
    /// has, or a whole document for one it does not have yet (its form must be stored).
    ///
    /// All or nothing: bytes that are malformed, belong to another survey, or build on
    /// changes this store lacks are refused and nothing is written.
    pub fn merge(&self, survey_id: &str, bytes: &[u8]) -> Result<MergeOutcome, StoreError> {
        let doc_err = |source| StoreError::Document {
            survey_id: survey_id.to_owned(),
            source,
        };
        let exists =
            self.lock_writer_conn(|conn| Ok(documents::row(conn, survey_id)?.is_some()))?;
        if exists {
            let (new_changes, _) =
                self.write(survey_id, Origin::Merge, |doc, _| doc.merge_bytes(bytes))?;
            return Ok(MergeOutcome {
                created: false,
                new_changes,
            });
        }
        let mut doc = SurveyDoc::load(bytes).map_err(doc_err)?;
        let meta = doc.meta().map_err(doc_err)?;
        if meta.survey_id != survey_id {
            return Err(doc_err(DocumentError::WrongSurvey));
        }
        let new_changes = doc.automerge_mut().get_changes(&[]).len();
        let mut writer = self.lock_writer();
        let Writer { conn, docs } = &mut *writer;
        let form = self.cached_form(conn, &meta.form_id, &meta.form_version)?;
        let index = FormIndex::new(&form);
        let has_conflicts = !doc.conflicts(&index).map_err(doc_err)?.is_empty();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if documents::row(&tx, survey_id)?.is_some() {
            // Another thread created it meanwhile: fall back to a merge into that one.
            drop(tx);
            drop(writer);
            return self.merge(survey_id, bytes);
        }
        insert_survey(&tx, &meta, &mut doc, now_ms())?;
        update_derived(&tx, survey_id, &mut doc, has_conflicts)?;
        tx.commit()?;
        docs.put(survey_id, doc);
        Ok(MergeOutcome {
            created: true,
            new_changes,
        })
    }

    /// Runs one edit of a survey as one transaction: load, edit, commit the Automerge change,
    /// append it, update the metadata, compact if due. On any error nothing is written.
    fn write<T>(
        &self,
        survey_id: &str,
        origin: Origin,
        edit: impl FnOnce(&mut SurveyDoc, &FormIndex<'_>) -> Result<T, DocumentError>,
    ) -> Result<(T, bool), StoreError> {
        let doc_err = |source| StoreError::Document {
            survey_id: survey_id.to_owned(),
            source,
        };
        let mut writer = self.lock_writer();
        let Writer { conn, docs } = &mut *writer;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row = documents::row(&tx, survey_id)?
            .ok_or_else(|| StoreError::UnknownSurvey(survey_id.to_owned()))?;
        let form = self.cached_form(&tx, &row.form_id, &row.form_version)?;
        let index = FormIndex::new(&form);
        let mut doc = checkout(&tx, docs, survey_id, &row)?;
        doc.set_actor(self.actor.clone());
        let before = doc.heads();
        let output = match edit(&mut doc, &index) {
            Ok(output) => output,
            Err(source) => {
                doc.rollback();
                docs.put(survey_id, doc);
                return Err(doc_err(source));
            }
        };
        doc.commit(Utc::now());
        let after = doc.heads();
        if after == before {
            docs.put(survey_id, doc);
            return Ok((output, false));
        }
        documents::append_chunk(&tx, survey_id, &doc.save_after(&before))?;
        // Local edits can only resolve conflicts, never create them; merges can do both.
        let has_conflicts = match origin {
            Origin::Local if !row.has_conflicts => false,
            _ => !doc.conflicts(&index).map_err(doc_err)?.is_empty(),
        };
        update_derived(&tx, survey_id, &mut doc, has_conflicts)?;
        let row = documents::row(&tx, survey_id)?
            .ok_or_else(|| StoreError::UnknownSurvey(survey_id.to_owned()))?;
        if documents::needs_compaction(&row) {
            documents::compact(&tx, survey_id, &mut doc)?;
        }
        tx.commit()?;
        docs.put(survey_id, doc);
        Ok((output, true))
    }

    /// Runs a read of one survey on a reader connection.
    fn read<T>(
        &self,
        survey_id: &str,
        read: impl FnOnce(&SurveyDoc, &FormIndex<'_>) -> Result<T, DocumentError>,
    ) -> Result<T, StoreError> {
        self.readers.with(|conn| {
            let row = documents::row(conn, survey_id)?
                .ok_or_else(|| StoreError::UnknownSurvey(survey_id.to_owned()))?;
            let form = self.cached_form(conn, &row.form_id, &row.form_version)?;
            let doc = documents::load(conn, survey_id)?;
            read(&doc, &FormIndex::new(&form)).map_err(|source| StoreError::Document {
                survey_id: survey_id.to_owned(),
                source,
            })
        })
    }

    fn cached_form(
        &self,
        conn: &Connection,
        form_id: &str,
        version: &str,
    ) -> Result<Arc<Form>, StoreError> {
        let key = (form_id.to_owned(), version.to_owned());
        if let Some(form) = self
            .forms
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(form.clone());
        }
        let definition: String = conn
            .query_row(
                "SELECT definition FROM forms WHERE form_id = ?1 AND version = ?2",
                [form_id, version],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::UnknownForm {
                form_id: form_id.to_owned(),
                version: version.to_owned(),
            })?;
        let form = Arc::new(
            Form::from_json(&definition).map_err(|e| StoreError::CorruptForm {
                form_id: form_id.to_owned(),
                version: version.to_owned(),
                reason: e.to_string(),
            })?,
        );
        // Stored forms never change (a changed form is a new version), so caching is safe.
        self.forms
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, form.clone());
        Ok(form)
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        // A panic while holding the lock cannot leave SQLite half-written (the transaction
        // rolls back on drop), and the cache is re-validated against disk on every use.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_writer_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(&self.lock_writer().conn)
    }
}

/// The document of a survey for writing: the cached one if it is exactly what is on disk
/// (another process may have written the file since), else loaded from disk.
fn checkout(
    conn: &Connection,
    docs: &mut DocCache,
    survey_id: &str,
    row: &documents::DocRow,
) -> Result<SurveyDoc, StoreError> {
    let cached = docs
        .take(survey_id)
        .and_then(|mut doc| (documents::encode_heads(&doc.heads()) == row.heads).then_some(doc));
    match cached {
        Some(doc) => Ok(doc),
        None => documents::load(conn, survey_id),
    }
}

fn insert_survey(
    conn: &Connection,
    meta: &Meta,
    doc: &mut SurveyDoc,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO surveys (survey_id, form_id, form_version, status, created_by, created_on, created_at,
                              updated_at, heads, snapshot, dirty)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1)",
    )?
    .execute(params![
        meta.survey_id,
        meta.form_id,
        meta.form_version,
        meta.status.as_str(),
        meta.created_by,
        meta.created_on,
        meta.created_at.timestamp_millis(),
        now,
        documents::encode_heads(&doc.heads()),
        doc.save(),
    ])?;
    Ok(())
}

/// Writes the columns derived from a survey's document, in the caller's transaction.
fn update_derived(
    conn: &Connection,
    survey_id: &str,
    doc: &mut SurveyDoc,
    has_conflicts: bool,
) -> Result<(), StoreError> {
    let doc_err = |source| StoreError::Document {
        survey_id: survey_id.to_owned(),
        source,
    };
    let meta = doc.meta().map_err(doc_err)?;
    let review = doc.review().map_err(doc_err)?;
    conn.prepare_cached(
        "UPDATE surveys SET status = ?2, updated_at = ?3, heads = ?4, review_status = ?5, has_conflicts = ?6,
                            dirty = 1
         WHERE survey_id = ?1",
    )?
    .execute(params![
        survey_id,
        meta.status.as_str(),
        now_ms(),
        documents::encode_heads(&doc.heads()),
        review.status,
        has_conflicts,
    ])?;
    Ok(())
}

fn known_author(conn: &Connection, actor: &str) -> Result<Option<Author>, StoreError> {
    let row: Option<(String, String, String)> = conn
        .query_row(
            "SELECT user_id, device_id, role FROM actors WHERE actor = ?1",
            [actor],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(row.and_then(|(user, device, role)| {
        Some(Author {
            user,
            device,
            role: role.parse::<Role>().ok()?,
        })
    }))
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}
