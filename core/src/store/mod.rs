//! The survey store: forms and survey documents in one SQLite file, safe across crashes.
//!
//! One writer connection (behind a mutex) and a pool of readers. Every write is one SQLite
//! transaction that appends the Automerge change, updates the indexed metadata columns, the
//! change feed and the sync bookkeeping together, and marks or compacts the document when
//! its chunks have grown (see [`writes`]); so once a call returns `Ok`, the data survives a
//! killed process (and a power cut, as [`Durability`] says), and a failed call leaves
//! nothing half-written.

mod cache;
mod checkpoint;
mod connection;
mod documents;
pub mod encryption;
mod entities;
mod entity_import;
mod entity_sources;
mod entity_sync;
mod error;
mod forms;
mod media;
pub mod projection;
mod query;
pub mod schema;
mod statistics;
mod sync_state;
#[cfg(test)]
mod view_tests;
mod writes;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use automerge::{ActorId, ChangeHash};
use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;

use self::cache::DocCache;
use self::checkpoint::Checkpointer;
pub use self::connection::Durability;
use self::connection::ReaderPool;
pub use self::documents::{decode_heads, encode_heads};
pub use self::encryption::StoreKey;
pub use self::entities::{EntityQuery, EntityRecord, MAX_PAGE as MAX_ENTITY_PAGE};
pub use self::entity_import::ImportReport as EntityImportReport;
pub use self::entity_sources::EntityLink;
pub use self::entity_sync::{
    EntityArea, EntityCandidate, EntityCheck, EntityFeedEntry, EntityHeads, EntityPlace, EntityVisibility,
    PendingEntity, PulledRound, ReceivedEntity, RemoteEntity,
};
pub use self::error::StoreError;
use self::forms::FormCache;
pub use self::forms::{FormFile, FormSummary};
pub use self::media::PendingMedia;
pub use self::query::{Area, DailyCount, FeedEntry, PageKey, SortKey, SurveyQuery, SurveySummary, Visibility};
pub use self::sync_state::{PendingPush, RemoteChanges};
pub use self::writes::{Check, MergeCandidate};
use self::writes::{Origin, WriteCtx};
use crate::form::{CompiledForm, EvalOptions, Evaluation, Form, FormIndex};
use crate::identity::{Author, DEVICE_KEY_LEN, Role, device_key_hex, new_actor_for, parse_device_key};
use crate::intake::Budget;
use crate::survey::{
    AnswerPath, Answers, Conflict, DocumentError, FieldEdit, Meta, NewComment, Review, ReviewStatus, Status, SurveyDoc,
};
use crate::value::Value;

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

/// What [`Store::rebuild_projections`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// Surveys whose rows were written again.
    pub surveys: u64,
    /// How many of their rows were missing, stale, or said something else.
    pub differed: u64,
}

/// What [`Store::verify_documents`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// Surveys checked.
    pub surveys: u64,
    /// Surveys whose document does not load or is not at the heads its row records, with
    /// why.
    pub failed: Vec<(String, String)>,
}

/// What a merge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeOutcome {
    /// Whether the survey was new to this store.
    pub created: bool,
    /// How many changes were new.
    pub new_changes: usize,
}

/// From how many changes a survey goes whole, in Automerge's document encoding, to a replica
/// that has none of it (a first push, a tablet's first pull, a bundle).
///
/// A chunk per change repeats a 32-byte dependency hash and the actor in every change, which
/// no compression removes; the document encoding keeps the changes' metadata in columns and
/// their dependencies as indices, and is left uncompressed for the sync stream's zstd. A
/// survey filled answer by answer (about 60 changes) is 14× smaller that way (the store
/// bench: 214 against 2,983 bytes zstd'd) for 1.2× the receiver's time. A survey of one or
/// two changes (imported, prefilled) gains nothing, and a document costs the receiver's
/// front door a slower proof than canonical change chunks do (`intake::Intake`).
pub const WHOLE_DOCUMENT_FROM_CHANGES: u64 = 8;

/// A store of forms and surveys, opened by one user on one device.
///
/// `Store` is `Send + Sync`: share it between threads. Calls block; run them off the UI thread.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    author: Author,
    writer: Mutex<Writer>,
    readers: ReaderPool,
    forms: FormCache,
    /// The folder of attached files, opened on first use (`media`).
    blobs: OnceLock<crate::media::BlobDir>,
    /// Whether the store is encrypted (its attached files are then sealed too).
    keyed: bool,
    /// Held by a download of an attached file (`sync::download_media`).
    downloading: Mutex<()>,
    /// Declared after `writer`, so dropped after it: its last checkpoint sees every commit.
    _checkpointer: Option<Checkpointer>,
}

#[derive(Debug)]
struct Writer {
    conn: Connection,
    docs: DocCache,
    /// The actor this session writes under; replaced when the device gets its key.
    actor: ActorId,
    /// Actors of other authors this session writes for (see `set_answer_as`).
    delegates: HashMap<(Author, [u8; DEVICE_KEY_LEN]), ActorId>,
    /// The most a survey may grow to through this store.
    budget: Budget,
    /// What an Ok survives by default; some writes always survive power loss.
    durability: Durability,
    /// Whether every write also writes the survey's projection row (`projection`).
    project: bool,
    /// Whether some rows may be missing or stale: set when the store starts keeping rows
    /// or is opened, cleared once `refresh_projections` finds none left.
    projection_behind: bool,
}

impl Writer {
    /// Runs `f` with every commit it makes waiting for the disk, whatever the store's
    /// durability: writes whose loss the server would not know of (an acknowledgement, a
    /// pulled survey and the feed cursor, the device key, an import) must survive a power
    /// cut, or the server would go on counting on changes the phone no longer has.
    fn synced<T>(&mut self, f: impl FnOnce(&mut Writer) -> Result<T, StoreError>) -> Result<T, StoreError> {
        if self.durability == Durability::PowerLoss {
            return f(self);
        }
        self.conn.execute_batch("PRAGMA synchronous = FULL")?;
        let result = f(self);
        // A commit in FULL mode also synced every commit before it, which shared its log.
        // Should going back fail, later commits only wait for the disk needlessly.
        let _ = self.conn.execute_batch("PRAGMA synchronous = NORMAL");
        result
    }
}

impl Store {
    /// Opens the store at `path` (creating it if needed) for `author`, every write
    /// surviving power loss ([`Durability::PowerLoss`]).
    ///
    /// The store's schema is brought up to date; a database from a newer Terrain is refused
    /// untouched. This session writes under a fresh Automerge actor, recorded in the store.
    pub fn open(path: impl AsRef<Path>, author: Author) -> Result<Store, StoreError> {
        Store::open_with(path, author, Durability::PowerLoss)
    }

    /// [`Store::open`] with writes as durable as `durability` says: phones open their
    /// store with [`Durability::ProcessCrash`].
    pub fn open_with(path: impl AsRef<Path>, author: Author, durability: Durability) -> Result<Store, StoreError> {
        Store::open_keyed(path.as_ref(), author, durability, None)
    }

    /// [`Store::open_with`] for a store encrypted under `key` (created encrypted if it does
    /// not exist yet). A missing key, a wrong one, or a key for a plain store is refused
    /// with its own error before anything reads or writes the file.
    pub fn open_encrypted(
        path: impl AsRef<Path>,
        author: Author,
        durability: Durability,
        key: &StoreKey,
    ) -> Result<Store, StoreError> {
        Store::open_keyed(path.as_ref(), author, durability, Some(key))
    }

    /// Re-encrypts the closed store at `path` from `current` to `new` (`None`: plain), all or
    /// nothing: how a key is rotated, and how a plain store becomes an encrypted one. Every
    /// handle on the store must be closed first; see [`encryption::change_key`].
    pub fn change_key(
        path: impl AsRef<Path>,
        current: Option<&StoreKey>,
        new: Option<&StoreKey>,
    ) -> Result<(), StoreError> {
        encryption::change_key(path.as_ref(), current, new)
    }

    fn open_keyed(
        path: &Path,
        author: Author,
        durability: Durability,
        key: Option<&StoreKey>,
    ) -> Result<Store, StoreError> {
        let path = path.to_path_buf();
        let mut conn = connection::open_writer(&path, durability, key)?;
        schema::migrate(&mut conn)?;
        entity_sources::index_pending(&mut conn)?;
        let checkpointer = match durability {
            Durability::PowerLoss => None,
            Durability::ProcessCrash => Some(Checkpointer::start(&path, &mut conn, key)?),
        };
        let device_key: Option<String> =
            conn.query_row("SELECT value FROM settings WHERE key = 'device_key'", [], |r| r.get(0)).optional()?;
        let actor = new_actor_for(device_key.as_deref().and_then(parse_device_key));
        insert_actor(&conn, &actor.to_hex_string(), &author)?;
        let project = projection::enabled(&conn)?;
        Ok(Store {
            readers: ReaderPool::new(path.clone(), key.cloned()),
            path,
            author,
            writer: Mutex::new(Writer {
                conn,
                docs: DocCache::default(),
                actor,
                delegates: HashMap::new(),
                budget: Budget::WRITE,
                durability,
                project,
                // Another process may have written without keeping rows.
                projection_behind: project,
            }),
            forms: FormCache::default(),
            blobs: OnceLock::new(),
            keyed: key.is_some(),
            downloading: Mutex::new(()),
            _checkpointer: checkpointer,
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

    /// The most any survey may grow to through this store: [`Budget::WRITE`] unless lowered.
    pub fn write_budget(&self) -> Budget {
        self.lock_writer().budget
    }

    /// Lowers the most a survey may grow to (a relay's operator may want less than
    /// [`Budget::WRITE`]); limits above it are brought down to it, so that every stored
    /// survey stays within [`Budget::LOAD`].
    pub fn set_write_budget(&self, budget: Budget) {
        self.lock_writer().budget = budget.min(&Budget::WRITE);
    }

    /// The Automerge actor id (hex) this session writes under.
    pub fn actor(&self) -> String {
        self.lock_writer().actor.to_hex_string()
    }

    /// The device key the server assigned at login (hex), if any.
    pub fn device_key(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock_writer()
            .conn
            .query_row("SELECT value FROM settings WHERE key = 'device_key'", [], |r| r.get(0))
            .optional()?)
    }

    /// Records the device key the server assigned at login, and from now on writes under a
    /// fresh actor that starts with it, so the server can tell who wrote each change.
    pub fn set_device_key(&self, key_hex: &str) -> Result<(), StoreError> {
        let key = parse_device_key(key_hex)
            .ok_or_else(|| StoreError::Unsupported(format!("`{key_hex}` is not a device key (16 hex digits)")))?;
        let actor = new_actor_for(Some(key));
        self.lock_writer().synced(|writer| {
            let tx = writer.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO settings (key, value) VALUES ('device_key', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [device_key_hex(&key)],
            )?;
            insert_actor(&tx, &actor.to_hex_string(), &self.author)?;
            tx.commit()?;
            writer.actor = actor;
            Ok(())
        })
    }

    /// Every actor this store has written under, oldest first (all sessions of its owner).
    pub fn own_actors(&self) -> Result<Vec<String>, StoreError> {
        self.readers.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT actor FROM actors WHERE user_id = ?1 AND device_id = ?2 ORDER BY created_at, actor",
            )?;
            let rows = stmt.query_map([&self.author.user, &self.author.device], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Records that `actor` (hex) is `author`, so histories can name them. An actor is bound
    /// once: binding it to someone else is refused.
    pub fn register_actor(&self, actor: &str, author: &Author) -> Result<(), StoreError> {
        let writer = self.lock_writer();
        match known_author(&writer.conn, actor)? {
            Some(known) if &known == author => Ok(()),
            Some(_) => Err(StoreError::ActorMismatch { actor: actor.to_owned() }),
            None => insert_actor(&writer.conn, actor, author),
        }
    }

    /// Who an actor (hex) is, when this store knows it.
    pub fn actor_author(&self, actor: &str) -> Result<Option<Author>, StoreError> {
        self.readers.with(|conn| known_author(conn, actor))
    }

    /// Stores a form version. Storing the same definition again is harmless; a different
    /// definition under the same id and version is refused.
    pub fn save_form(&self, form: &Form) -> Result<(), StoreError> {
        forms::save(&self.lock_writer().conn, form, now_ms())
    }

    /// Stores the files attached to a stored form version (the CSV lists its
    /// `select_one_from_file` questions and `pulldata()` read), all or none, in one
    /// transaction; returns whether anything new was stored. Evaluations, the form the app
    /// shows and the exports then read the form with them (`form::attachments`).
    pub fn save_form_files(
        &self,
        form_id: &str,
        version: &str,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> Result<bool, StoreError> {
        self.save_form_then_files(None, form_id, version, files)
    }

    /// [`Store::save_form`] and [`Store::save_form_files`] in one transaction: the form
    /// version and its files are stored together or not at all.
    pub fn save_form_with_files(&self, form: &Form, files: &BTreeMap<String, Vec<u8>>) -> Result<bool, StoreError> {
        self.save_form_then_files(Some(form), &form.id, &form.version, files)
    }

    fn save_form_then_files(
        &self,
        form: Option<&Form>,
        form_id: &str,
        version: &str,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> Result<bool, StoreError> {
        let mut writer = self.lock_writer();
        let tx = writer.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(form) = form {
            forms::save(&tx, form, now_ms())?;
        }
        let stored = forms::save_files(&tx, form_id, version, files)?;
        tx.commit()?;
        if stored {
            self.forms.forget(form_id, version);
        }
        Ok(stored)
    }

    /// A stored form version, with its attached files.
    pub fn form(&self, form_id: &str, version: &str) -> Result<Arc<Form>, StoreError> {
        self.readers.with(|conn| Ok(self.forms.get(conn, form_id, version)?.form().clone()))
    }

    /// A stored form version as it was saved, without its files or entity lists: what a
    /// relay sends a device, which attaches them itself ([`Store::save_form_with_files`]).
    pub fn form_definition(&self, form_id: &str, version: &str) -> Result<Form, StoreError> {
        self.readers.with(|conn| forms::definition(conn, form_id, version))
    }

    /// The files stored with each form version (name, digest, size), by (id, version).
    pub fn form_file_index(&self) -> Result<BTreeMap<(String, String), Vec<FormFile>>, StoreError> {
        self.readers.with(forms::file_index)
    }

    /// The file `name` stored with a form version, if it has one.
    pub fn form_file(&self, form_id: &str, version: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.readers.with(|conn| forms::file(conn, form_id, version, name))
    }

    /// The contents of a file with SHA-256 `sha256`, if any form version holds one: a list a
    /// new version reads unchanged is then not downloaded again.
    pub fn form_file_with_digest(&self, sha256: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        self.readers.with(|conn| forms::file_with_digest(conn, sha256))
    }

    /// A stored form version, compiled: its index and evaluator built once for this store.
    pub fn compiled_form(&self, form_id: &str, version: &str) -> Result<Arc<CompiledForm>, StoreError> {
        self.readers.with(|conn| self.forms.get(conn, form_id, version))
    }

    /// Every stored form version, by id then version.
    pub fn forms(&self) -> Result<Vec<FormSummary>, StoreError> {
        self.readers.with(forms::list)
    }

    /// Starts a survey of a stored form version and returns its id. Its questions start with
    /// their static defaults, as in ODK Collect ([`crate::survey::apply_defaults`]).
    pub fn create_survey(&self, form_id: &str, version: &str) -> Result<String, StoreError> {
        self.create(None, form_id, version, &Answers::default(), true)
    }

    /// Starts a survey with answers already filled in (prefilled or imported), written as
    /// one change, and returns its id. No defaults are added: an imported survey keeps the
    /// answers it was given, blanks included.
    pub fn create_survey_with(&self, form_id: &str, version: &str, answers: &Answers) -> Result<String, StoreError> {
        self.create(None, form_id, version, answers, false)
    }

    /// Creates a survey as this store's user, or as `delegate` (an author and the actor
    /// this session writes under for them), with `answers` and, if asked, the defaults.
    fn create(
        &self,
        delegate: Option<(&Author, ActorId)>,
        form_id: &str,
        version: &str,
        answers: &Answers,
        defaults: bool,
    ) -> Result<String, StoreError> {
        let survey_id = uuid::Uuid::new_v4().to_string();
        self.transaction(|tx, ctx| {
            let form = ctx.forms.get(tx, form_id, version)?;
            let mut initial = std::borrow::Cow::Borrowed(answers);
            if defaults {
                crate::survey::apply_defaults(&form.form().children, initial.to_mut());
            }
            let (author, actor, origin) = match &delegate {
                Some((author, actor)) => (*author, actor.clone(), Origin::Delegated(actor.clone())),
                None => (&self.author, ctx.actor.clone(), Origin::Local),
            };
            let doc = SurveyDoc::create(form.form(), &survey_id, author, actor, Utc::now(), &initial)
                .map_err(|source| StoreError::Document { survey_id: survey_id.clone(), source })?;
            let prepared = writes::prepare(tx, ctx.forms, doc, None, ctx.budget)?;
            writes::insert(tx, ctx, prepared, &origin)
        })?;
        Ok(survey_id)
    }

    /// Sets an answer. Returns whether anything changed (setting the value already there
    /// writes nothing).
    pub fn set_answer(&self, survey_id: &str, path: &AnswerPath, value: Value) -> Result<bool, StoreError> {
        Ok(self.edit(survey_id, Some(path), |doc, form| doc.set_answer(form, path, value))?.1)
    }

    /// Clears an answer. Returns whether there was one.
    pub fn clear_answer(&self, survey_id: &str, path: &AnswerPath) -> Result<bool, StoreError> {
        Ok(self.edit(survey_id, Some(path), |doc, form| doc.clear_answer(form, path))?.1)
    }

    /// Adds an instance to the repeat at `path` (at `index`, or at the end); returns its index.
    pub fn add_repeat_instance(
        &self,
        survey_id: &str,
        path: &AnswerPath,
        index: Option<usize>,
    ) -> Result<usize, StoreError> {
        Ok(self.edit(survey_id, None, |doc, form| doc.add_repeat_instance(form, path, index))?.0)
    }

    /// Removes instance `index` of the repeat at `path`.
    pub fn remove_repeat_instance(&self, survey_id: &str, path: &AnswerPath, index: usize) -> Result<(), StoreError> {
        self.edit(survey_id, None, |doc, form| doc.remove_repeat_instance(form, path, index))?;
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
        self.edit(survey_id, None, |doc, form| doc.move_repeat_instance(form, path, from, to))?;
        Ok(())
    }

    /// Evaluates a survey against its form, as the form screen does after every answer:
    /// relevance, missing required answers, violations with their messages in `language`,
    /// calculations, filtered choices and repeat counts.
    ///
    /// The survey being filled in stays warm: its document is the one the last answer left
    /// in the writer's cache (checked against the heads on disk, so a sync that merged into
    /// it meanwhile is never missed), and its form's index and evaluation plan are built
    /// once per form version.
    pub fn evaluate(&self, survey_id: &str, language: Option<&str>) -> Result<Evaluation, StoreError> {
        let seed = crate::survey::evaluation_seed(survey_id);
        let mut writer = self.lock_writer();
        let Writer { conn, docs, .. } = &mut *writer;
        let row = documents::row(conn, survey_id)?.ok_or_else(|| StoreError::UnknownSurvey(survey_id.to_owned()))?;
        let form = self.forms.get(conn, &row.form_id, &row.form_version)?;
        let mut loaded = writes::checkout(conn, docs, survey_id, &row)?;
        let heads = loaded.doc.heads();
        let view = match loaded.view.take() {
            Some(view) if view.heads == heads => view,
            _ => match loaded.doc.answers(form.index()) {
                Ok(answers) => cache::AnswersView { heads, answers },
                Err(source) => {
                    docs.put(survey_id, loaded);
                    return Err(StoreError::Document { survey_id: survey_id.to_owned(), source });
                }
            },
        };
        let options =
            EvalOptions { language: language.map(str::to_owned), now: chrono::Local::now().fixed_offset(), seed };
        let evaluation = form.evaluator().evaluate(&view.answers, &options);
        loaded.view = Some(view);
        docs.put(survey_id, loaded);
        Ok(evaluation)
    }

    /// Marks a survey finalized: complete and ready to send. A survey with required answers
    /// missing or constraints violated is refused, with every issue listed.
    ///
    /// A finalized survey rarely changes again, so its document is compacted in the same
    /// transaction.
    pub fn finalize(&self, survey_id: &str) -> Result<(), StoreError> {
        self.finalize_under(survey_id, &Origin::Local)
    }

    fn finalize_under(&self, survey_id: &str, origin: &Origin) -> Result<(), StoreError> {
        let evaluation = self.evaluate(survey_id, None)?;
        if !evaluation.is_complete() {
            let issues = evaluation
                .missing_required
                .iter()
                .chain(&evaluation.violations)
                .map(|i| format!("{}: {}", i.path, i.message))
                .collect();
            return Err(StoreError::Incomplete { survey_id: survey_id.to_owned(), issues });
        }
        let applied = self.transaction(|tx, ctx| {
            writes::edit(tx, ctx, survey_id, origin, None, |doc, _| doc.set_status(Status::Finalized))?;
            // What the survey does to its form's entity list is part of finalizing it: both
            // happen, or neither.
            let actor = match origin {
                Origin::Delegated(actor) => actor.clone(),
                _ => ctx.actor.clone(),
            };
            let applied = entities::apply_survey(tx, ctx, survey_id, &actor)?;
            compact_in(tx, ctx, survey_id)?;
            Ok(applied)
        })?;
        if let Some(entity) = &applied {
            // Follow-up forms read the list this changed.
            self.forms.forget_readers_of([entity.list.as_str()]);
        }
        Ok(())
    }

    /// Sets an answer on behalf of `author`, under an actor of theirs that starts with
    /// `device_key` (created once per author and store session). The server uses this for
    /// corrections made in the dashboard, so history shows who made them.
    pub fn set_answer_as(
        &self,
        author: &Author,
        device_key: [u8; DEVICE_KEY_LEN],
        survey_id: &str,
        path: &AnswerPath,
        value: Value,
    ) -> Result<bool, StoreError> {
        self.edit_as(author, device_key, survey_id, |doc, form| doc.set_answer(form, path, value))
    }

    /// Starts a survey on behalf of `author` (a survey entered in the dashboard), under an
    /// actor of theirs as in [`Store::set_answer_as`], with `answers` as given (defaults
    /// included by whoever entered them). Returns its id.
    pub fn create_survey_as(
        &self,
        author: &Author,
        device_key: [u8; DEVICE_KEY_LEN],
        form_id: &str,
        version: &str,
        answers: &Answers,
    ) -> Result<String, StoreError> {
        let actor = self.delegate(author, device_key)?;
        self.create(Some((author, actor)), form_id, version, answers, false)
    }

    /// Makes a survey's answers exactly `answers` on behalf of `author`, as one change
    /// ([`SurveyDoc::replace_answers`]). Returns whether anything changed.
    pub fn replace_answers_as(
        &self,
        author: &Author,
        device_key: [u8; DEVICE_KEY_LEN],
        survey_id: &str,
        answers: &Answers,
    ) -> Result<bool, StoreError> {
        self.edit_as(author, device_key, survey_id, |doc, form| doc.replace_answers(form, answers))
    }

    /// [`Store::finalize`] on behalf of `author`.
    pub fn finalize_as(
        &self,
        author: &Author,
        device_key: [u8; DEVICE_KEY_LEN],
        survey_id: &str,
    ) -> Result<(), StoreError> {
        let actor = self.delegate(author, device_key)?;
        self.finalize_under(survey_id, &Origin::Delegated(actor))
    }

    /// Reviews a survey from this store: sets its review status and/or adds a comment
    /// signed by this store's user, as one change. A supervisor's device uses it; the
    /// comment reaches the enumerator with the next sync.
    pub fn set_review(
        &self,
        survey_id: &str,
        status: Option<ReviewStatus>,
        comment: Option<&NewComment>,
    ) -> Result<bool, StoreError> {
        let user = self.author.user.clone();
        Ok(self.edit(survey_id, None, |doc, _| review_edit(doc, &user, status, comment))?.1)
    }

    /// [`Store::set_review`] on behalf of `author` (the server, for reviews made in the
    /// dashboard), under an actor of theirs as in [`Store::set_answer_as`].
    pub fn set_review_as(
        &self,
        author: &Author,
        device_key: [u8; DEVICE_KEY_LEN],
        survey_id: &str,
        status: Option<ReviewStatus>,
        comment: Option<&NewComment>,
    ) -> Result<bool, StoreError> {
        self.edit_as(author, device_key, survey_id, |doc, _| review_edit(doc, &author.user, status, comment))
    }

    /// [`Store::set_review_as`] on many surveys in one transaction (one disk sync for a
    /// bulk approval): each item succeeds or fails on its own, and a failed one leaves no
    /// trace. Returns, for each, whether anything changed.
    #[allow(clippy::type_complexity)]
    pub fn set_reviews_as(
        &self,
        author: &Author,
        device_key: [u8; DEVICE_KEY_LEN],
        items: &[(&str, Option<ReviewStatus>, Option<&NewComment>)],
    ) -> Result<Vec<Result<bool, StoreError>>, StoreError> {
        let actor = self.delegate(author, device_key)?;
        let origin = Origin::Delegated(actor);
        self.transaction(|tx, ctx| {
            let mut outcomes = Vec::with_capacity(items.len());
            for (survey_id, status, comment) in items {
                let edit = |doc: &mut SurveyDoc, _: &FormIndex<'_>| review_edit(doc, &author.user, *status, *comment);
                let outcome = in_savepoint(tx, |sp| writes::edit(sp, ctx, survey_id, &origin, None, edit))?;
                outcomes.push(outcome.map(|(_, changed)| changed));
            }
            Ok(outcomes)
        })
    }

    /// A survey's review status and comments.
    pub fn review(&self, survey_id: &str) -> Result<Review, StoreError> {
        Ok(self.survey(survey_id)?.review)
    }

    fn edit_as(
        &self,
        author: &Author,
        device_key: [u8; DEVICE_KEY_LEN],
        survey_id: &str,
        edit: impl FnOnce(&mut SurveyDoc, &FormIndex<'_>) -> Result<(), DocumentError>,
    ) -> Result<bool, StoreError> {
        let actor = self.delegate(author, device_key)?;
        let origin = Origin::Delegated(actor);
        Ok(self.transaction(|tx, ctx| writes::edit(tx, ctx, survey_id, &origin, None, edit))?.1)
    }

    /// The actor this session writes under for `author`.
    fn delegate(&self, author: &Author, device_key: [u8; DEVICE_KEY_LEN]) -> Result<ActorId, StoreError> {
        let mut writer = self.lock_writer();
        if let Some(actor) = writer.delegates.get(&(author.clone(), device_key)) {
            return Ok(actor.clone());
        }
        let actor = new_actor_for(Some(device_key));
        insert_actor(&writer.conn, &actor.to_hex_string(), author)?;
        writer.delegates.insert((author.clone(), device_key), actor.clone());
        Ok(actor)
    }

    /// A survey's metadata row, if the store has it.
    pub fn summary(&self, survey_id: &str) -> Result<Option<SurveySummary>, StoreError> {
        self.readers.with(|conn| query::summary_of(conn, survey_id))
    }

    /// Makes a finalized survey a draft again, to edit it.
    pub fn reopen(&self, survey_id: &str) -> Result<(), StoreError> {
        self.edit(survey_id, None, |doc, _| doc.set_status(Status::Draft))?;
        Ok(())
    }

    /// Compacts up to `limit` surveys whose compaction is due (stored as received, or
    /// edited since their last compaction: answers leave it for here), one transaction each
    /// so that other writers are not held up; returns how many it compacted. Servers run it
    /// when idle, devices after a sync or a bundle import and when the app goes to the
    /// background.
    ///
    /// A survey that fails to compact stays as it is (it still loads: its chunks are what
    /// was stored) and does not stop the others; only a failure to read the list is an
    /// error.
    pub fn compact_pending(&self, limit: u32) -> Result<usize, StoreError> {
        let ids: Vec<String> = self.readers.with(|conn| {
            let mut stmt = conn.prepare_cached("SELECT survey_id FROM surveys WHERE compacted = 0 LIMIT ?1")?;
            let rows = stmt.query_map([limit], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        Ok(ids.iter().filter(|id| self.compact(id).is_ok()).count())
    }

    /// Idle-time upkeep: [`Store::compact_pending`] with `limit`, then
    /// [`Store::refresh_statistics`]; returns how many surveys it compacted. Servers run it
    /// every few seconds, devices when the app goes to the background.
    pub fn upkeep(&self, limit: u32) -> Result<usize, StoreError> {
        let compacted = self.compact_pending(limit)?;
        self.refresh_statistics()?;
        self.refresh_projections(limit)?;
        Ok(compacted)
    }

    /// Keeps a projection from now on: every write also writes the survey's metadata, review
    /// and relevant answers as a row that exports and the map read without loading the
    /// document (`store::projection`). Surveys written before get their rows from
    /// [`Store::refresh_projections`]; until then they are read from their documents.
    /// The choice is recorded in the store, so every later session keeps it too.
    pub fn keep_projections(&self) -> Result<(), StoreError> {
        let mut writer = self.lock_writer();
        if !writer.project {
            projection::enable(&writer.conn)?;
            writer.project = true;
            writer.projection_behind = true;
        }
        Ok(())
    }

    /// Writes the rows of up to `limit` surveys whose row is missing or behind their
    /// document, in one transaction; returns how many. Part of [`Store::upkeep`].
    pub fn refresh_projections(&self, limit: u32) -> Result<usize, StoreError> {
        {
            let writer = self.lock_writer();
            if !(writer.project && writer.projection_behind) {
                return Ok(0);
            }
        }
        let stale = self.readers.with(|conn| projection::stale(conn, limit))?;
        self.transaction(|tx, _| projection::rewrite_all(tx, &self.forms, &stale))?;
        if stale.len() < limit as usize {
            self.lock_writer().projection_behind = false;
        }
        Ok(stale.len())
    }

    /// Rewrites every survey's projection row from its document, a page of surveys per
    /// transaction, whatever the rows say now. For the operator's `terrain admin
    /// rebuild-projections`, after a fix to how surveys are projected or a restore from a
    /// backup.
    pub fn rebuild_projections(&self) -> Result<Rebuilt, StoreError> {
        self.keep_projections()?;
        let mut rebuilt = Rebuilt::default();
        self.each_page_of_ids(|ids| {
            rebuilt.surveys += ids.len() as u64;
            rebuilt.differed += self.transaction(|tx, _| projection::rewrite_all(tx, &self.forms, &ids))?;
            Ok(())
        })?;
        Ok(rebuilt)
    }

    /// Loads every survey's document as stored, one at a time, and checks it against its
    /// row: it must pass the front door and load (Automerge checks every change's hash as
    /// it loads), at the heads the row records. For checking a backup before it is trusted.
    pub fn verify_documents(&self) -> Result<Verified, StoreError> {
        let mut verified = Verified::default();
        self.each_page_of_ids(|ids| {
            for id in ids {
                verified.surveys += 1;
                let checked = self.readers.with(|conn| {
                    let row = documents::row(conn, &id)?.ok_or_else(|| StoreError::UnknownSurvey(id.clone()))?;
                    Ok(documents::encode_heads(&documents::load(conn, &id)?.heads()) == row.heads)
                });
                match checked {
                    Ok(true) => {}
                    Ok(false) => verified.failed.push((id, "the document is not at the heads its row records".into())),
                    Err(e) => verified.failed.push((id, e.to_string())),
                }
            }
            Ok(())
        })?;
        Ok(verified)
    }

    /// Every survey's id, in order, a page at a time: a whole-store pass that never holds
    /// more than a page of ids nor a reader between pages.
    fn each_page_of_ids(&self, mut each: impl FnMut(Vec<String>) -> Result<(), StoreError>) -> Result<(), StoreError> {
        const PAGE: u32 = 256;
        let mut after = String::new();
        loop {
            let ids = self.readers.with(|conn| projection::ids_after(conn, &after, PAGE))?;
            let Some(last) = ids.last() else { return Ok(()) };
            after = last.clone();
            each(ids)?;
        }
    }

    /// Surveys as exports show them (metadata, review, and the answers to relevant
    /// questions only), in the order of `survey_ids`: from the projection's rows where they
    /// are current, else from the documents. A survey that cannot be read is an error in
    /// its own place; the others are read.
    pub fn projected(&self, survey_ids: &[String]) -> Result<Vec<Result<Survey, StoreError>>, StoreError> {
        self.readers.with(|conn| {
            survey_ids
                .iter()
                .map(|id| match projection::read(conn, &self.forms, id) {
                    Err(StoreError::Sqlite(e)) => Err(StoreError::Sqlite(e)),
                    other => Ok(other),
                })
                .collect()
        })
    }

    /// A survey as exports show it, projected from its document now, whatever its row
    /// says: what every row must equal.
    pub fn projected_from_document(&self, survey_id: &str) -> Result<Survey, StoreError> {
        self.readers.with(|conn| projection::from_document(conn, &self.forms, survey_id))
    }

    /// Gathers the query planner's statistics again if the number of surveys has doubled
    /// or halved since they were last gathered (or never were, past a thousand surveys);
    /// returns whether it did. Lists pick their index from these statistics: without them,
    /// a supervisor's list over 100,000 surveys is 30–100× slower.
    pub fn refresh_statistics(&self) -> Result<bool, StoreError> {
        if !self.readers.with(statistics::stale)? {
            return Ok(false);
        }
        statistics::gather(&mut self.lock_writer().conn)?;
        self.readers.renew();
        Ok(true)
    }

    /// Folds a survey's change chunks into its snapshot, in one transaction.
    pub fn compact(&self, survey_id: &str) -> Result<(), StoreError> {
        self.transaction(|tx, ctx| compact_in(tx, ctx, survey_id))
    }

    /// Reads a survey in full.
    pub fn survey(&self, survey_id: &str) -> Result<Survey, StoreError> {
        self.read(survey_id, |doc, form| {
            Ok(Survey { meta: doc.meta()?, answers: doc.answers(form)?, review: doc.review()? })
        })
    }

    /// Surveys matching `query`'s filters, counted per enumerator and day started.
    pub fn daily_counts(&self, query: &SurveyQuery) -> Result<Vec<DailyCount>, StoreError> {
        self.readers.with(|conn| query::daily_counts(conn, query))
    }

    /// How many surveys match `query`'s filters.
    pub fn count(&self, query: &SurveyQuery) -> Result<u64, StoreError> {
        self.readers.with(|conn| query::count(conn, query))
    }

    /// Reads a survey as JSON (`meta`, `answers`, `review`).
    pub fn survey_json(&self, survey_id: &str) -> Result<serde_json::Value, StoreError> {
        self.read(survey_id, |doc, form| doc.to_json(form))
    }

    /// Lists surveys from their metadata, without loading documents.
    pub fn list(&self, query: &SurveyQuery) -> Result<Vec<SurveySummary>, StoreError> {
        self.readers.with(|conn| query::list(conn, query))
    }

    /// The surveys written since change number `cursor`, oldest change first, at most
    /// `limit`. Each survey appears once, at its latest change number.
    pub fn feed(&self, cursor: u64, limit: u32) -> Result<Vec<FeedEntry>, StoreError> {
        self.readers.with(|conn| query::feed(conn, cursor, limit, &Visibility::All))
    }

    /// The part of the feed after `cursor` that one reader may see.
    pub fn feed_visible(&self, cursor: u64, limit: u32, visible: &Visibility) -> Result<Vec<FeedEntry>, StoreError> {
        self.readers.with(|conn| query::feed(conn, cursor, limit, visible))
    }

    /// Every edit of the answer at `path`, oldest first, with who made it and when this
    /// store received it, when known.
    pub fn history(&self, survey_id: &str, path: &AnswerPath) -> Result<Vec<FieldEdit>, StoreError> {
        let mut all = self.histories(survey_id, std::slice::from_ref(path))?;
        Ok(all.pop().unwrap_or_default())
    }

    /// The histories of several answers of one survey, loading it once (a review page shows
    /// every answer's history).
    pub fn histories(&self, survey_id: &str, paths: &[AnswerPath]) -> Result<Vec<Vec<FieldEdit>>, StoreError> {
        let mut all = self.read(survey_id, |doc, form| {
            let mut doc = doc.clone();
            paths.iter().map(|path| doc.history(form, path)).collect::<Result<Vec<_>, _>>()
        })?;
        self.readers.with(|conn| {
            for edit in all.iter_mut().flatten() {
                edit.author = known_author(conn, &edit.actor)?;
                edit.received_at = received_at(conn, survey_id, &edit.change)?;
            }
            Ok(())
        })?;
        Ok(all)
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

    /// The answers changed since the survey was last approved, or `None` if it never was
    /// (see [`SurveyDoc::changed_since_approval`]).
    pub fn changed_since_approval(&self, survey_id: &str) -> Result<Option<Vec<String>>, StoreError> {
        self.read(survey_id, |doc, form| doc.clone().changed_since_approval(form))
    }

    /// The whole document of a survey, compressed: what another replica needs to catch up.
    pub fn document_bytes(&self, survey_id: &str) -> Result<Vec<u8>, StoreError> {
        self.read(survey_id, |doc, _| Ok(doc.clone().save()))
    }

    /// What a replica at `heads` lacks of a survey: the changes that are not ancestors of
    /// `heads`, as change chunks. To a replica that has nothing of it (`heads` empty), a
    /// survey of [`WHOLE_DOCUMENT_FROM_CHANGES`] changes or more goes in Automerge's
    /// document encoding instead, as far as the receiver's front door admits
    /// ([`SurveyDoc::save_for_new_replica`]). Either way the receiver takes them in through
    /// the front door.
    pub fn changes_after(&self, survey_id: &str, heads: &[ChangeHash]) -> Result<Vec<u8>, StoreError> {
        self.read(survey_id, |doc, _| {
            let mut doc = doc.clone();
            Ok(if heads.is_empty() && doc.size().1 >= WHOLE_DOCUMENT_FROM_CHANGES {
                doc.save_for_new_replica(Budget::WRITE.fragments)
            } else {
                doc.save_after(heads)
            })
        })
    }

    /// The actors (hex) that wrote a survey's changes.
    pub fn change_actors(&self, survey_id: &str) -> Result<Vec<String>, StoreError> {
        self.read(survey_id, |doc, _| {
            let mut actors: Vec<String> =
                doc.clone().automerge_mut().get_changes(&[]).iter().map(|c| c.actor_id().to_hex_string()).collect();
            actors.sort();
            actors.dedup();
            Ok(actors)
        })
    }

    /// A survey's current heads.
    pub fn heads(&self, survey_id: &str) -> Result<Vec<ChangeHash>, StoreError> {
        self.readers.with(|conn| {
            let row =
                documents::row(conn, survey_id)?.ok_or_else(|| StoreError::UnknownSurvey(survey_id.to_owned()))?;
            Ok(documents::decode_heads(&row.heads))
        })
    }

    /// Whether this store holds every change in `hashes` of the survey (false for a survey
    /// it does not have). A server answers a push with this rather than trusting the
    /// device's word: after a restore it may lack what the device was told it had.
    pub fn holds(&self, survey_id: &str, hashes: &[ChangeHash]) -> Result<bool, StoreError> {
        self.readers.with(|conn| {
            let Some(row) = documents::row(conn, survey_id)? else { return Ok(false) };
            let current = documents::decode_heads(&row.heads);
            let mut missing: Vec<&ChangeHash> = hashes.iter().filter(|h| !current.contains(h)).collect();
            if missing.is_empty() {
                return Ok(true);
            }
            let mut receipt =
                conn.prepare_cached("SELECT 1 FROM change_receipts WHERE survey_id = ?1 AND hash = ?2")?;
            let mut unreceipted = Vec::new();
            for hash in missing.drain(..) {
                if !receipt.exists(params![survey_id, hash.0.as_slice()])? {
                    unreceipted.push(hash);
                }
            }
            if unreceipted.is_empty() {
                return Ok(true);
            }
            // Changes stored before receipts were kept (migration 3) are only in the document.
            let mut doc = documents::load(conn, survey_id)?;
            Ok(unreceipted.iter().all(|h| doc.automerge_mut().get_change_by_hash(h).is_some()))
        })
    }

    /// Merges bytes from another replica of a survey: change chunks for a survey this store
    /// has, or a whole document for one it does not have yet (its form must be stored).
    ///
    /// All or nothing: bytes that are malformed, belong to another survey, or build on
    /// changes this store lacks are refused and nothing is written.
    pub fn merge(&self, survey_id: &str, bytes: &[u8]) -> Result<MergeOutcome, StoreError> {
        self.transaction(|tx, ctx| writes::merge(tx, ctx, survey_id, bytes, &Origin::Replica, None))
    }

    /// Merges many surveys' bytes in one transaction (one disk sync for all). Each item
    /// succeeds or fails on its own; a failed item leaves no trace.
    pub fn merge_batch(
        &self,
        items: &[(String, Vec<u8>)],
    ) -> Result<Vec<Result<MergeOutcome, StoreError>>, StoreError> {
        self.synced_transaction(|tx, ctx| {
            let mut outcomes = Vec::with_capacity(items.len());
            for (survey_id, bytes) in items {
                outcomes.push(in_savepoint(tx, |sp| writes::merge(sp, ctx, survey_id, bytes, &Origin::Replica, None))?);
            }
            Ok(outcomes)
        })
    }

    /// Merges many surveys' bytes in one transaction, letting `check` judge each survey's
    /// new changes first: a refused survey keeps none of them, the others are merged.
    ///
    /// Surveys new to the store are parsed, judged and encoded before the write lock is
    /// taken, so that concurrent batches use every core; only their insert is serialized.
    pub fn merge_batch_checked(
        &self,
        items: &[(String, Vec<u8>)],
        check: Check<'_>,
    ) -> Result<Vec<Result<MergeOutcome, StoreError>>, StoreError> {
        let (budget, project) = {
            let writer = self.lock_writer();
            (writer.budget, writer.project)
        };
        let known: Vec<bool> = self.readers.with(|conn| {
            items.iter().map(|(id, _)| Ok(documents::row(conn, id)?.is_some())).collect::<Result<_, StoreError>>()
        })?;
        let mut prepared: Vec<Option<Result<writes::Prepared, StoreError>>> = self.readers.with(|conn| {
            Ok(items
                .iter()
                .zip(&known)
                .map(|((id, bytes), known)| {
                    (!known).then(|| {
                        writes::prepare_received(conn, &self.forms, id, bytes, Some(&mut *check), &budget, project)
                    })
                })
                .collect())
        })?;
        self.transaction(|tx, ctx| {
            let mut outcomes = Vec::with_capacity(items.len());
            for ((survey_id, bytes), prepared) in items.iter().zip(prepared.iter_mut()) {
                let origin = Origin::Replica;
                let outcome = match prepared.take() {
                    Some(Err(e)) => Ok(Err(e)),
                    // Still new: insert what was prepared. Created meanwhile: merge as usual.
                    Some(Ok(p)) if documents::row(tx, survey_id)?.is_none() => {
                        in_savepoint(tx, |sp| writes::insert(sp, ctx, p, &origin))
                    }
                    _ => in_savepoint(tx, |sp| writes::merge(sp, ctx, survey_id, bytes, &origin, Some(&mut *check))),
                };
                outcomes.push(outcome?);
            }
            Ok(outcomes)
        })
    }

    /// Applies one edit as its own transaction, under this store's actor. `touched` is the
    /// one answer it sets or clears, if that is all it does (the answers view is then
    /// patched rather than read again).
    fn edit<T>(
        &self,
        survey_id: &str,
        touched: Option<&AnswerPath>,
        edit: impl FnOnce(&mut SurveyDoc, &FormIndex<'_>) -> Result<T, DocumentError>,
    ) -> Result<(T, bool), StoreError> {
        self.transaction(|tx, ctx| writes::edit(tx, ctx, survey_id, &Origin::Local, touched, edit))
    }

    /// Runs `f` in one immediate transaction on the writer connection; commits if it
    /// returns `Ok`, rolls back otherwise.
    fn transaction<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &mut WriteCtx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.in_transaction(&mut self.lock_writer(), f)
    }

    /// [`Store::transaction`] whose commit survives power loss whatever the store's
    /// durability (see `Writer::synced`).
    fn synced_transaction<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &mut WriteCtx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.lock_writer().synced(|writer| self.in_transaction(writer, f))
    }

    fn in_transaction<T>(
        &self,
        writer: &mut Writer,
        f: impl FnOnce(&Transaction<'_>, &mut WriteCtx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Writer { conn, docs, actor, budget, project, .. } = writer;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ctx = WriteCtx { docs, forms: &self.forms, actor, budget, project: *project };
        let output = f(&tx, &mut ctx)?;
        tx.commit()?;
        Ok(output)
    }

    /// Runs a read of one survey on a reader connection.
    fn read<T>(
        &self,
        survey_id: &str,
        read: impl FnOnce(&SurveyDoc, &FormIndex<'_>) -> Result<T, DocumentError>,
    ) -> Result<T, StoreError> {
        self.readers.with(|conn| {
            let row =
                documents::row(conn, survey_id)?.ok_or_else(|| StoreError::UnknownSurvey(survey_id.to_owned()))?;
            let form = self.forms.get(conn, &row.form_id, &row.form_version)?;
            let doc = documents::load(conn, survey_id)?;
            read(&doc, form.index()).map_err(|source| StoreError::Document { survey_id: survey_id.to_owned(), source })
        })
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        // A panic while holding the lock cannot leave SQLite half-written (the transaction
        // rolls back on drop), and the cache is re-validated against disk on every use.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs `f` in a savepoint: its writes are kept if it succeeds and undone if it fails. The
/// item's error is returned as a value; only a failure of the savepoint itself is an `Err`.
fn in_savepoint<T>(
    tx: &Transaction<'_>,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<Result<T, StoreError>, StoreError> {
    tx.execute_batch("SAVEPOINT item")?;
    match f(tx) {
        Ok(value) => {
            tx.execute_batch("RELEASE item")?;
            Ok(Ok(value))
        }
        Err(e) => {
            tx.execute_batch("ROLLBACK TO item; RELEASE item")?;
            Ok(Err(e))
        }
    }
}

fn compact_in(tx: &Connection, ctx: &mut WriteCtx<'_>, survey_id: &str) -> Result<(), StoreError> {
    let row = documents::row(tx, survey_id)?.ok_or_else(|| StoreError::UnknownSurvey(survey_id.to_owned()))?;
    if row.chunk_count == 0 && row.compacted {
        return Ok(());
    }
    let mut loaded = writes::checkout(tx, ctx.docs, survey_id, &row)?;
    loaded.stored = documents::compact(tx, survey_id, &mut loaded.doc)?;
    ctx.docs.put(survey_id, loaded);
    Ok(())
}

fn insert_actor(conn: &Connection, actor: &str, author: &Author) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO actors (actor, user_id, device_id, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![actor, author.user, author.device, author.role.as_str(), now_ms()],
    )?;
    Ok(())
}

fn known_author(conn: &Connection, actor: &str) -> Result<Option<Author>, StoreError> {
    let row: Option<(String, String, String)> = conn
        .query_row("SELECT user_id, device_id, role FROM actors WHERE actor = ?1", [actor], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    Ok(row.and_then(|(user, device, role)| Some(Author { user, device, role: role.parse::<Role>().ok()? })))
}

fn received_at(conn: &Connection, survey_id: &str, change: &str) -> Result<Option<chrono::DateTime<Utc>>, StoreError> {
    let Ok(hash) = change.parse::<ChangeHash>() else {
        return Ok(None);
    };
    let ms: Option<i64> = conn
        .query_row(
            "SELECT received_at FROM change_receipts WHERE survey_id = ?1 AND hash = ?2",
            params![survey_id, hash.0.as_slice()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(ms.and_then(chrono::DateTime::from_timestamp_millis))
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// One review action on a document: a status and/or a comment, in one change.
fn review_edit(
    doc: &mut SurveyDoc,
    user: &str,
    status: Option<ReviewStatus>,
    comment: Option<&NewComment>,
) -> Result<(), DocumentError> {
    if let Some(status) = status {
        doc.set_review_status(status)?;
    }
    if let Some(comment) = comment {
        doc.add_comment(user, chrono::Utc::now(), comment)?;
    }
    Ok(())
}
