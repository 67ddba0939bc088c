//! What can go wrong in the store, in words that say what to do.

use std::path::PathBuf;

use crate::survey::DocumentError;

/// An error from the survey store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (disk full, file locked by another program, I/O error…).
    #[error("the survey database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer Terrain; it is left untouched.
    #[error(
        "this database has schema version {found}, but this Terrain supports up to {supported}: \
         update Terrain to open it (the file was not modified)"
    )]
    NewerDatabase {
        /// The database's schema version.
        found: u32,
        /// The newest version this code knows.
        supported: u32,
    },
    /// A migration failed; the transaction was rolled back and the file is unchanged.
    #[error("upgrading the database to schema version {to} failed (nothing was changed): {source}")]
    Migration {
        /// The version being applied.
        to: u32,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The database cannot be used in the way the store needs.
    #[error("{0}")]
    Unsupported(String),
    /// The store is encrypted and was opened without its key; nothing was read or written.
    #[error(
        "the store at {} is encrypted: open it with its key (the app keeps it in the phone's \
         keystore; a server reads it from --db-key-file or TERRAIN_DB_KEY)",
        path.display()
    )]
    KeyRequired {
        /// The store's file.
        path: PathBuf,
    },
    /// The key given does not open the encrypted store; nothing was read or written.
    #[error("this key does not open the store at {}: use the key it was encrypted with (nothing was changed)", path.display())]
    WrongKey {
        /// The store's file.
        path: PathBuf,
    },
    /// A key was given for a store that is not encrypted; nothing was read or written.
    #[error(
        "the store at {} is not encrypted, so it opens without a key: encrypt it first \
         (`Store::change_key` or `change_store_key`; a server's with `terrain admin rekey`)",
        path.display()
    )]
    NotEncrypted {
        /// The store's file.
        path: PathBuf,
    },
    /// A key is not 32 bytes (64 hexadecimal digits).
    #[error("this is not a store key: {why}")]
    InvalidKey {
        /// What is wrong with it.
        why: String,
    },
    /// The store's key cannot change while it is open.
    #[error("the store at {} is open elsewhere: close every handle on it (and stop the server) before changing its key", path.display())]
    InUse {
        /// The store's file.
        path: PathBuf,
    },
    /// Reading or writing a file beside the database failed.
    #[error("{what} failed: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// An attachment could not be made or read; nothing was attached.
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    /// A list query cannot be run as given.
    #[error("{0}")]
    InvalidQuery(String),
    /// No survey has this id.
    #[error("no survey with id `{0}` in this store")]
    UnknownSurvey(String),
    /// The form version is not in the store.
    #[error("form `{form_id}` version `{version}` is not on this device: download the project's forms first")]
    UnknownForm {
        /// The form id.
        form_id: String,
        /// The version.
        version: String,
    },
    /// A different form is already stored under this id and version.
    #[error(
        "form `{form_id}` version `{version}` is already stored with different content: \
         publish the changed form under a new version"
    )]
    FormVersionConflict {
        /// The form id.
        form_id: String,
        /// The version.
        version: String,
    },
    /// An actor id is already registered to someone else.
    #[error("actor {actor} is already registered to another user or device")]
    ActorMismatch {
        /// The actor id, hex.
        actor: String,
    },
    /// The edit or merge was refused; nothing was written.
    #[error("survey `{survey_id}`: {source}")]
    Document {
        /// The survey concerned.
        survey_id: String,
        /// Why.
        source: DocumentError,
    },
    /// The survey cannot be finalized yet.
    #[error("survey `{survey_id}` cannot be finalized: {}", issues.join("; "))]
    Incomplete {
        /// The survey.
        survey_id: String,
        /// Each missing answer and violated constraint, with its message.
        issues: Vec<String>,
    },
    /// A survey's stored bytes cannot be read. The rest of the store is unaffected.
    #[error("survey `{survey_id}` is damaged on disk and cannot be read ({source}); the other surveys are fine")]
    Corrupt {
        /// The survey concerned.
        survey_id: String,
        /// What the decoder said.
        source: DocumentError,
    },
    /// A finalized survey's entity declaration could not be applied (an update that names
    /// no entity, a creation without a label, a failing expression).
    #[error("survey `{survey_id}`: {source}")]
    Entity {
        /// The survey.
        survey_id: String,
        /// Why.
        source: crate::form::EntityError,
    },
    /// An entity's document could not be read or changed.
    #[error("entity `{id}` of `{list}`: {source}")]
    EntityDocument {
        /// The entity list.
        list: String,
        /// The entity.
        id: String,
        /// Why.
        source: crate::survey::DocumentError,
    },
    /// A follow-up was asked of a form that names no entity question.
    #[error(
        "form `{form_id}` version `{version}` updates no entity chosen in a question (its entities sheet's \
         entity_id is not a ${{question}}); start a survey of it and answer it instead"
    )]
    NotAFollowUp {
        /// The form id.
        form_id: String,
        /// The version.
        version: String,
    },
    /// An entity list's CSV file cannot be imported at all (its rows' own problems are in
    /// the import's report).
    #[error("importing into the entity list `{list}`: {reason}")]
    EntityImport {
        /// The entity list.
        list: String,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// The store has no such entity.
    #[error("no entity `{id}` in the list `{list}`; sync to receive it, or check the id")]
    UnknownEntity {
        /// The entity list.
        list: String,
        /// The id asked for.
        id: String,
    },
    /// A file attached to a form cannot be read, or differs from the one stored.
    #[error("form `{form_id}` version `{version}`: {reason}")]
    FormFile {
        /// The form id.
        form_id: String,
        /// The version.
        version: String,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A stored form definition cannot be read.
    #[error("form `{form_id}` version `{version}` is damaged on disk: {reason}")]
    CorruptForm {
        /// The form id.
        form_id: String,
        /// The version.
        version: String,
        /// What the decoder said.
        reason: String,
    },
}
