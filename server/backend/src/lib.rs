//! The server's storage, behind one narrow trait.
//!
//! Everything above this module (HTTP handlers, the sync service, the access rules) talks
//! to [`Backend`] only, so a PostgreSQL backend can replace the embedded SQLite one
//! ([`sqlite::SqliteBackend`]) without touching them. Methods are blocking: handlers call
//! them from `spawn_blocking`.

pub mod backup;
pub mod blobs;
pub mod rekey;
pub mod sqlite;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use terrain_core::ChangeHash;
use terrain_core::entity::EntityConflict;
use terrain_core::form::Form;
pub use terrain_core::store::Rebuilt;
use terrain_core::store::{
    Check, DailyCount, EntityCheck, EntityFeedEntry, EntityHeads, EntityImportReport, EntityLink, EntityQuery,
    EntityRecord, EntityVisibility, FeedEntry, MergeOutcome, ReceivedEntity, StoreError, Survey, SurveyQuery,
    SurveySummary, Visibility,
};
use terrain_core::survey::{AnswerPath, Conflict, FieldEdit, NewComment, ReviewStatus};
use terrain_core::{Role, Value};
use utoipa::ToSchema;

pub use self::blobs::{Appended, BlobEntry, BlobState, BlobStore, FolderBlobs};
use terrain_core::media::Digest;

/// A user's row id.
pub type UserId = i64;

/// A device key: the 8-byte prefix of the device's actor ids.
pub type DeviceKey = [u8; 8];

/// What a device last pulled entities under, and what is left to send it since that
/// changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEntityScope {
    /// A fingerprint of the entities its user could read (`Scope::entity_visibility`).
    pub fingerprint: String,
    /// The part of the entity feed (after `.0`, up to and including `.1`) to walk again for
    /// entities the device may now read; `None` when nothing is left.
    pub backfill: Option<(u64, u64)>,
}

/// A person who can log in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct User {
    /// Row id.
    pub id: UserId,
    /// Login name.
    pub username: String,
    /// What they may do.
    #[schema(value_type = String)]
    pub role: Role,
    /// Name to show.
    pub display_name: Option<String>,
    /// Disabled users cannot log in or sync.
    pub disabled: bool,
    /// Set by an administrator's reset: their sessions open nothing but the password change.
    pub must_change_password: bool,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// The argon2id hash of the password (PHC string).
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// Name to show.
    pub display_name: Option<String>,
}

/// A stored token, looked up by its hash.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// Whose token it is.
    pub user: User,
    /// The device it was issued to, if any.
    pub device_key: Option<DeviceKey>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Whether it was revoked.
    pub revoked: bool,
    /// What it opens.
    pub purpose: TokenPurpose,
    /// Whether the device it was issued to was revoked (its tokens were revoked with it).
    pub device_revoked: bool,
}

/// A device of a user's, as the devices page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Device {
    /// The device key (hex): the prefix of every actor id it writes with.
    #[serde(serialize_with = "hex_key")]
    #[schema(value_type = String)]
    pub key: DeviceKey,
    /// The id the device gave at its first login (an installation id).
    pub device_id: String,
    /// Its first login.
    pub registered_at: DateTime<Utc>,
    /// Its last sync, if it synced.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// The client it last synced with (its User-Agent: the app and its version).
    pub client: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A one-time code that enrols a device for a user (shown as a QR code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Enrolment {
    /// Its id, to revoke it by.
    pub id: i64,
    /// The user the device is enrolled for.
    pub user: UserId,
    /// What it is for (`Awa's new phone`).
    pub label: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When the code stops working.
    pub expires_at: DateTime<Utc>,
    /// When a device redeemed it, if one did (a code works once).
    pub redeemed_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

fn hex_key<S: serde::Serializer>(key: &DeviceKey, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&terrain_core::identity::device_key_hex(key))
}

/// What a token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    /// Everything its user may do: a device's or the dashboard's session.
    Session,
    /// Nothing but a new session token for its device (`POST /api/v1/auth/refresh`): a
    /// device's long-lived credential, sent nowhere else.
    Refresh,
    /// Reading feeds (OData) only: the token an analyst gives a spreadsheet or a script.
    Feed,
}

/// A feed token as its owner sees it; the token itself was shown once, when created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FeedToken {
    /// Its id, to revoke it by.
    pub id: i64,
    /// What its owner called it (`Power BI, Conakry office`).
    pub label: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// A project: forms and teams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Project {
    /// Row id.
    pub id: i64,
    /// Name.
    pub name: String,
}

/// A team (a zone): enumerators under supervisors, within a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Team {
    /// Row id.
    pub id: i64,
    /// Its project.
    pub project_id: i64,
    /// Name.
    pub name: String,
}

/// A published form version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FormInfo {
    /// Form id.
    pub form_id: String,
    /// Version.
    pub version: String,
    /// Title.
    pub title: String,
    /// The project it belongs to.
    pub project_id: i64,
}

/// One file published with a form version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FormFileInfo {
    /// The name the form reads it by (`villages.csv`).
    pub name: String,
    /// Its SHA-256, as 64 lower-case hexadecimal digits.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
}

impl From<terrain_core::store::FormFile> for FormFileInfo {
    fn from(file: terrain_core::store::FormFile) -> FormFileInfo {
        FormFileInfo { name: file.name, sha256: file.sha256, bytes: file.bytes }
    }
}

/// What a user is attached to: the base of every access decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    /// Projects the user belongs to (directly or through a team).
    pub projects: BTreeSet<i64>,
    /// Teams the user belongs to.
    pub teams: BTreeSet<i64>,
    /// For each project, the usernames of the members of the user's teams in it.
    pub teammates: HashMap<i64, BTreeSet<String>>,
    /// The project of each of the user's teams.
    pub team_projects: BTreeMap<i64, i64>,
}

/// An entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AuditEntry {
    /// When (server clock).
    pub at: DateTime<Utc>,
    /// Who (username), if a person.
    pub user: Option<String>,
    /// What was done (`review.approve`, `user.create`, …).
    pub action: String,
    /// On which survey, if any.
    pub survey_id: Option<String>,
    /// Details (JSON text).
    pub detail: Option<String>,
}

/// An audit entry to append.
#[derive(Debug, Clone)]
pub struct AuditRow<'a> {
    /// Who, if someone with an account.
    pub user: Option<UserId>,
    /// The action's name.
    pub action: &'a str,
    /// On which survey.
    pub survey_id: Option<&'a str>,
    /// Details (JSON text).
    pub detail: String,
}

/// A stored survey that could not be read: skipped by pulls, exports and pages, and shown
/// to administrators until it is fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Fault {
    /// The survey.
    pub survey_id: String,
    /// When it first failed.
    pub first_at: DateTime<Utc>,
    /// When it last failed.
    pub last_at: DateTime<Utc>,
    /// How many times it failed.
    pub occurrences: u64,
    /// Why.
    pub error: String,
}

/// A survey entered in the browser, to save ([`Backend::enter`]).
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The survey to replace the answers of, or `None` for a new one.
    pub survey_id: Option<&'a str>,
    /// The form and version of a new survey.
    pub form_id: &'a str,
    /// The form version.
    pub version: &'a str,
    /// Every answer, as the page holds them.
    pub answers: &'a terrain_core::survey::Answers,
}

/// A project's webhook target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Webhook {
    /// Its id.
    pub id: i64,
    /// The project whose events it receives.
    pub project_id: i64,
    /// Where deliveries are posted.
    pub url: String,
    /// The events it receives (`submission.approved`…).
    pub events: Vec<String>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// What the webhook dispatcher last saw of a survey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenState {
    /// Draft or finalized.
    pub status: String,
    /// The review status.
    pub review_status: String,
    /// Whether it had conflicts.
    pub conflicts: bool,
}

/// A delivery to enqueue.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// The target.
    pub webhook_id: i64,
    /// The event's id, the same for each of its targets.
    pub event_id: String,
    /// The event's name.
    pub event: String,
    /// The JSON body.
    pub body: String,
}

/// A delivery due, with where to send it and the key to sign it with.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// Its id.
    pub id: i64,
    /// The event's id.
    pub event_id: String,
    /// The event's name.
    pub event: String,
    /// The JSON body.
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// The target's URL.
    pub url: String,
    /// The target's signing key.
    pub secret: String,
}

/// What became of one delivery, as its log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryLog {
    /// The event's id.
    pub event_id: String,
    /// The event's name.
    pub event: String,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// Attempts made.
    pub attempts: u32,
    /// When the target accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was given up on.
    pub failed_at: Option<DateTime<Utc>>,
    /// The target's last HTTP status.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    /// The delivery.
    pub id: i64,
    /// The target's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<&'a str>,
    /// Whether the target accepted it.
    pub delivered: bool,
    /// When to try again (`None`: give up, unless delivered).
    pub retry_at: Option<DateTime<Utc>>,
}

/// A saved export: a form's export under a stable URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SavedExport {
    /// Its id, in its URL.
    pub id: i64,
    /// The project of its form.
    pub project_id: i64,
    /// What it is for (`Béguédo yields for the Brussels office`).
    pub name: String,
    /// The form exported.
    pub form_id: String,
    /// The export's options (format, filters), as JSON.
    #[schema(value_type = Object)]
    pub query: serde_json::Value,
    /// Whether each download holds only what changed since the previous one.
    pub incremental: bool,
    /// Where the next incremental download starts.
    pub cursor: u64,
    /// Whose rights it runs with.
    #[serde(skip)]
    pub created_by: UserId,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A saved export to create.
#[derive(Debug, Clone)]
pub struct NewSavedExport<'a> {
    /// The project of its form.
    pub project_id: i64,
    /// Its name.
    pub name: &'a str,
    /// The form.
    pub form_id: &'a str,
    /// The export's options, as JSON.
    pub query: &'a serde_json::Value,
    /// Incremental or full.
    pub incremental: bool,
    /// The hash of its token.
    pub token_hash: &'a [u8; 32],
    /// Its creator.
    pub created_by: UserId,
}

/// One review to write: a status and/or a comment on one survey.
#[derive(Debug, Clone, Copy)]
pub struct ReviewItem<'a> {
    /// The survey.
    pub survey_id: &'a str,
    /// The status to set.
    pub status: Option<ReviewStatus>,
    /// The comment to add.
    pub comment: Option<&'a NewComment>,
}

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The database failed.
    #[error("the server's database failed: {0}")]
    Database(String),
    /// The survey store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A name is already taken.
    #[error("{0} already exists")]
    Duplicate(String),
    /// A referenced record does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
}

impl BackendError {
    /// Whether this means that one survey cannot be read (damaged on disk, from an older
    /// version), rather than that storage failed: callers reading many surveys skip it.
    pub fn is_unreadable(&self) -> bool {
        matches!(
            self,
            BackendError::Store(
                StoreError::Corrupt { .. } | StoreError::Document { .. } | StoreError::CorruptForm { .. }
            )
        )
    }
}

impl From<rusqlite::Error> for BackendError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && f.code == rusqlite::ErrorCode::ConstraintViolation
        {
            // A foreign key names a record that is not there; a unique key one that is.
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY {
                return BackendError::NotFound("the project, team or user given".into());
            }
            return BackendError::Duplicate("a record with that name".into());
        }
        BackendError::Database(e.to_string())
    }
}

/// Who this server is and which epoch of it runs: a restore from a backup starts a new
/// epoch, so that devices offer again what the restored data may lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// Made with the data directory; a backup carries it.
    pub server_id: [u8; 16],
    /// Random; a new one at every restore.
    pub epoch: u64,
    /// The change feed's position when the epoch started.
    pub epoch_start: u64,
    /// When the epoch started.
    pub started_at: DateTime<Utc>,
}

/// The result type of backend calls.
pub type BackendResult<T> = Result<T, BackendError>;

/// The server's storage.
pub trait Backend: Send + Sync + 'static {
    // --- people and devices
    /// Creates a user.
    fn create_user(&self, user: &NewUser) -> BackendResult<User>;
    /// A user and their password hash, by login name.
    fn user_by_name(&self, username: &str) -> BackendResult<Option<(User, String)>>;
    /// Every user.
    fn users(&self) -> BackendResult<Vec<User>>;
    /// A user by row id.
    fn user(&self, id: UserId) -> BackendResult<Option<User>>;
    /// Enables or disables a user (disabling also revokes their tokens).
    fn set_disabled(&self, user: UserId, disabled: bool) -> BackendResult<()>;
    /// The device key of a user's device, created on first login from it.
    fn register_device(&self, user: UserId, device_id: &str) -> BackendResult<DeviceKey>;
    /// Who a device key belongs to.
    fn device_owner(&self, key: &DeviceKey) -> BackendResult<Option<User>>;
    /// A device by its key.
    fn device(&self, key: &DeviceKey) -> BackendResult<Option<Device>>;
    /// A user's devices, the last to sync first.
    fn devices(&self, user: UserId) -> BackendResult<Vec<Device>>;
    /// Revokes a device of `user`'s and every token issued to it, in one transaction;
    /// returns how many session tokens ended, or `None` when it is not theirs or already revoked.
    fn revoke_device(&self, user: UserId, key: &DeviceKey) -> BackendResult<Option<u64>>;
    /// Records that a device synced now, with `client` (its User-Agent) when it sent one.
    fn device_synced(&self, key: &DeviceKey, client: Option<&str>) -> BackendResult<()>;
    /// Stores an enrolment's code hash.
    fn insert_enrolment(
        &self,
        code_hash: &[u8; 32],
        user: UserId,
        label: &str,
        expires_at: DateTime<Utc>,
    ) -> BackendResult<Enrolment>;
    /// A user's enrolments, newest first.
    fn enrolments(&self, user: UserId) -> BackendResult<Vec<Enrolment>>;
    /// The enrolment of `code_hash`, whatever its state.
    fn enrolment(&self, code_hash: &[u8; 32]) -> BackendResult<Option<Enrolment>>;
    /// Marks the enrolment of `code_hash` redeemed and returns it, if it is unexpired,
    /// unrevoked and not redeemed yet, in one statement: a code works once.
    fn redeem_enrolment(&self, code_hash: &[u8; 32]) -> BackendResult<Option<Enrolment>>;
    /// Revokes one of a user's enrolments not yet redeemed; returns whether it did.
    fn revoke_enrolment(&self, user: UserId, id: i64) -> BackendResult<bool>;

    // --- tokens
    /// Stores a token's hash.
    fn insert_token(
        &self,
        hash: &[u8; 32],
        user: UserId,
        device: Option<&DeviceKey>,
        expires_at: DateTime<Utc>,
    ) -> BackendResult<()>;
    /// Stores a refresh token's hash for `device`.
    fn insert_refresh_token(
        &self,
        hash: &[u8; 32],
        user: UserId,
        device: &DeviceKey,
        expires_at: DateTime<Utc>,
    ) -> BackendResult<()>;
    /// Revokes the refresh tokens of `device` (its logout); returns how many.
    fn revoke_refresh_tokens(&self, device: &DeviceKey) -> BackendResult<u64>;
    /// A token by its hash.
    fn token(&self, hash: &[u8; 32]) -> BackendResult<Option<TokenRecord>>;
    /// Revokes a token; returns whether it existed.
    fn revoke_token(&self, hash: &[u8; 32]) -> BackendResult<bool>;
    /// Sets a user's password hash, and whether they must choose another at their next
    /// login, and ends every session of theirs but `keep_session` and its device's refresh
    /// token (feed tokens stay), in one transaction: a new password never leaves the old
    /// one's sessions open. Returns how many session tokens ended.
    fn set_password(
        &self,
        user: UserId,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&[u8; 32]>,
    ) -> BackendResult<u64>;
    /// Stores a feed token's hash; returns its id.
    fn insert_feed_token(
        &self,
        hash: &[u8; 32],
        user: UserId,
        label: &str,
        expires_at: DateTime<Utc>,
    ) -> BackendResult<i64>;
    /// A user's feed tokens, newest first.
    fn feed_tokens(&self, user: UserId) -> BackendResult<Vec<FeedToken>>;
    /// Revokes one of a user's feed tokens; returns whether it was theirs and not revoked yet.
    fn revoke_feed_token(&self, user: UserId, id: i64) -> BackendResult<bool>;

    // --- projects and teams
    /// Creates a project.
    fn create_project(&self, name: &str) -> BackendResult<Project>;
    /// Every project.
    fn projects(&self) -> BackendResult<Vec<Project>>;
    /// Adds a user to a project directly (analysts, admins).
    fn add_project_member(&self, project: i64, user: UserId) -> BackendResult<()>;
    /// Creates a team in a project.
    fn create_team(&self, project: i64, name: &str) -> BackendResult<Team>;
    /// Every team.
    fn teams(&self) -> BackendResult<Vec<Team>>;
    /// Adds a user to a team.
    fn add_team_member(&self, team: i64, user: UserId) -> BackendResult<()>;
    /// A team's members.
    fn team_members(&self, team: i64) -> BackendResult<Vec<User>>;
    /// What a user is attached to.
    fn membership(&self, user: UserId) -> BackendResult<Membership>;

    // --- forms
    /// Publishes a form version in a project (a form id belongs to one project).
    fn publish_form(&self, project: i64, form: &Form) -> BackendResult<()> {
        self.publish_form_with_files(project, form, &BTreeMap::new())
    }
    /// Publishes a form version with the files it reads (`form::attachments`), the form and
    /// its files stored together or not at all. A form version's files never change.
    fn publish_form_with_files(
        &self,
        project: i64,
        form: &Form,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> BackendResult<()>;
    /// Every published form version.
    fn forms(&self) -> BackendResult<Vec<FormInfo>>;
    /// One form version, compiled as the relay reads it: with its files and the relay's
    /// entity lists attached.
    fn form(&self, form_id: &str, version: &str) -> BackendResult<Arc<Form>>;
    /// The files published with each form version (name, digest, size), by (id, version).
    /// Apart from `forms`, which every request's `Scope` reads.
    fn form_files(&self) -> BackendResult<BTreeMap<(String, String), Vec<FormFileInfo>>>;
    /// One form version as it was published, without its files.
    fn form_definition(&self, form_id: &str, version: &str) -> BackendResult<Form>;
    /// The file `name` published with a form version, if there is one.
    fn form_file(&self, form_id: &str, version: &str, name: &str) -> BackendResult<Option<Vec<u8>>>;
    /// The project a form id belongs to.
    fn form_project(&self, form_id: &str) -> BackendResult<Option<i64>>;

    // --- assignments
    /// Assigns a survey to a user.
    fn assign(&self, survey_id: &str, user: UserId) -> BackendResult<()>;
    /// The usernames a survey is assigned to.
    fn assignees(&self, survey_id: &str) -> BackendResult<Vec<String>>;
    /// The surveys assigned to a user.
    fn assigned_to(&self, user: UserId) -> BackendResult<Vec<String>>;

    // --- survey documents
    /// Merges pushed surveys in one durable transaction, each judged by `check`.
    fn push(
        &self,
        items: &[(String, Vec<u8>)],
        check: Check<'_>,
    ) -> BackendResult<Vec<Result<MergeOutcome, StoreError>>>;
    /// A survey's heads, if the server has it.
    fn heads(&self, survey_id: &str) -> BackendResult<Option<Vec<ChangeHash>>>;
    /// A survey's changes that are not ancestors of `heads`.
    fn changes_after(&self, survey_id: &str, heads: &[ChangeHash]) -> BackendResult<Vec<u8>>;
    /// The change feed after `cursor`, narrowed by `filter`.
    fn feed(&self, cursor: u64, limit: u32, visible: &Visibility) -> BackendResult<Vec<FeedEntry>>;
    // --- entities
    /// Merges pushed entities in one durable transaction, each judged by `check`; each
    /// outcome says whether the server now holds the heads the device claimed.
    fn push_entities(
        &self,
        items: &[ReceivedEntity],
        check: EntityCheck<'_>,
    ) -> BackendResult<Vec<Result<bool, StoreError>>>;
    /// The entity feed after `cursor` (the surveys' feed positions), narrowed by `visible`.
    fn entity_feed(&self, cursor: u64, limit: u32, visible: &EntityVisibility) -> BackendResult<Vec<EntityFeedEntry>>;
    /// An entity's heads and the team it is filed under, if the server has it.
    fn entity_heads(&self, list: &str, id: &str) -> BackendResult<Option<EntityHeads>>;
    /// An entity's changes that are not ancestors of `heads`.
    fn entity_changes_after(&self, list: &str, id: &str, heads: &[ChangeHash]) -> BackendResult<Vec<u8>>;
    /// The entities of `list` that `query` asks for, in label order.
    fn entities(&self, list: &str, query: &EntityQuery) -> BackendResult<Vec<EntityRecord>>;
    /// One entity, if the server has it.
    fn entity(&self, list: &str, id: &str) -> BackendResult<Option<EntityRecord>>;
    /// The surveys and imports that created or updated an entity.
    fn entity_sources(&self, list: &str, id: &str) -> BackendResult<BTreeMap<String, String>>;
    /// The entities each survey created or updated, in the order of `survey_ids`.
    fn entity_links(&self, survey_ids: &[String]) -> BackendResult<Vec<Vec<EntityLink>>>;
    /// An entity's properties with competing values.
    fn entity_conflicts(&self, list: &str, id: &str) -> BackendResult<Vec<EntityConflict>>;
    /// Seeds or updates a list from CSV, in one transaction.
    fn import_entities(&self, list: &str, csv: &[u8]) -> BackendResult<EntityImportReport>;
    /// Files entities under a team (or none), in one transaction.
    fn file_entities(&self, list: &str, ids: &[String], team: Option<i64>) -> BackendResult<()>;
    /// Assigns entities to one user (or to nobody), in one transaction.
    fn assign_entities(&self, list: &str, ids: &[String], assignee: Option<UserId>) -> BackendResult<()>;
    /// Sets an entity's property, settling any conflict on it.
    fn settle_entity(&self, list: &str, id: &str, property: &str, value: &str) -> BackendResult<EntityRecord>;
    /// Deletes or restores an entity.
    fn set_entity_deleted(&self, list: &str, id: &str, deleted: bool) -> BackendResult<EntityRecord>;

    /// A survey's metadata row.
    fn survey_summary(&self, survey_id: &str) -> BackendResult<Option<SurveySummary>>;
    /// A survey as JSON.
    fn survey_json(&self, survey_id: &str) -> BackendResult<serde_json::Value>;
    /// A field's history.
    fn history(&self, survey_id: &str, path: &AnswerPath) -> BackendResult<Vec<FieldEdit>>;
    /// The histories of several fields of one survey.
    fn histories(&self, survey_id: &str, paths: &[AnswerPath]) -> BackendResult<Vec<Vec<FieldEdit>>>;
    /// A survey's conflicts.
    fn conflicts(&self, survey_id: &str) -> BackendResult<Vec<Conflict>>;
    /// The answers changed since the survey was last approved, if it ever was.
    fn changed_since_approval(&self, survey_id: &str) -> BackendResult<Option<Vec<String>>>;
    /// Holds every survey to `budget` (at most `Budget::WRITE`) on every write.
    fn set_survey_budget(&self, budget: terrain_core::intake::Budget);
    /// Sets an answer as `editor` (a correction made on the server).
    fn correct(&self, editor: &User, survey_id: &str, path: &AnswerPath, value: Value) -> BackendResult<bool>;
    /// Saves a survey entered in the browser as `editor`: a new one of `form`
    /// (`survey_id` `None`), or the answers of an existing one replaced. Returns the
    /// survey's id.
    fn enter(&self, editor: &User, entry: &Entry<'_>) -> BackendResult<String>;
    /// Finalizes a survey as `editor`; refused with the issues if it is incomplete.
    fn finalize(&self, editor: &User, survey_id: &str) -> BackendResult<()>;
    /// Sets each survey's review status and/or adds a comment, as `editor`, one change per
    /// survey, all in one durable transaction; each item succeeds or fails on its own.
    fn review(&self, editor: &User, items: &[ReviewItem<'_>]) -> BackendResult<Vec<Result<bool, StoreError>>>;
    /// Sets a survey's review status as the server itself (no person behind it).
    fn mark(&self, survey_id: &str, status: ReviewStatus) -> BackendResult<bool>;
    /// Surveys' metadata rows matching `query`.
    fn list_surveys(&self, query: &SurveyQuery) -> BackendResult<Vec<SurveySummary>>;
    /// How many surveys match `query`'s filters.
    fn count_surveys(&self, query: &SurveyQuery) -> BackendResult<u64>;
    /// Surveys matching `query`'s filters, per enumerator and day started.
    fn daily_counts(&self, query: &SurveyQuery) -> BackendResult<Vec<DailyCount>>;
    /// A survey, typed by its form.
    fn survey(&self, survey_id: &str) -> BackendResult<Survey>;
    /// Surveys as exports show them (only the answers to relevant questions), in the order
    /// of `survey_ids`, read from the projection without loading documents where it is
    /// current. A survey that cannot be read is an error in its place.
    fn projected(&self, survey_ids: &[String]) -> BackendResult<Vec<BackendResult<Survey>>>;
    /// Rewrites every survey's projection row from its document.
    fn rebuild_projections(&self) -> BackendResult<Rebuilt>;

    // --- attached files
    /// Where the bytes of attached files are kept.
    fn blobs(&self) -> &dyn BlobStore;
    /// The surveys whose answers reference the file `digest`, in id order after `after`
    /// (empty: from the first), at most `limit`.
    fn surveys_with_media(&self, digest: &Digest, after: &str, limit: u32) -> BackendResult<Vec<String>>;
    /// Counts `bytes` of attached files sent by `device` on `day` (UTC); returns the day's
    /// total so far, these included.
    fn add_media_bytes(&self, device: &DeviceKey, day: chrono::NaiveDate, bytes: u64) -> BackendResult<u64>;
    /// The files each of `survey_ids`' answers reference, by survey.
    fn media_of(&self, survey_ids: &[String]) -> BackendResult<HashMap<String, Vec<Digest>>>;
    /// What `device` last pulled entities under, if it has pulled any.
    fn device_entity_scope(&self, device: &DeviceKey) -> BackendResult<Option<DeviceEntityScope>>;
    /// Records what `device` pulls entities under now.
    fn set_device_entity_scope(&self, device: &DeviceKey, scope: &DeviceEntityScope) -> BackendResult<()>;

    // --- what devices hold
    /// The heads each listed survey is known to be at on a device whose feed cursor is
    /// `cursor` (pending heads count once the cursor has passed them).
    fn device_heads(
        &self,
        device: &DeviceKey,
        surveys: &[String],
        cursor: u64,
    ) -> BackendResult<HashMap<String, Vec<ChangeHash>>>;
    /// Records heads a device certainly holds (it pushed them, or asked from them).
    fn confirm_device_heads(&self, device: &DeviceKey, items: &[(String, Vec<ChangeHash>)]) -> BackendResult<()>;
    /// Records heads sent to a device in a response that moves its cursor to `cursor`, the
    /// device having confirmed everything sent up to `confirmed` (the cursor it sent).
    fn sent_device_heads(
        &self,
        device: &DeviceKey,
        items: &[(String, Vec<ChangeHash>)],
        cursor: u64,
        confirmed: u64,
    ) -> BackendResult<()>;

    /// Whether the server holds every change in `heads` of the survey (false for a survey it
    /// does not have).
    fn holds(&self, survey_id: &str, heads: &[ChangeHash]) -> BackendResult<bool>;

    // --- identity
    /// Who this server is and its current epoch.
    fn identity(&self) -> BackendResult<Identity>;
    /// Starts a new epoch at the change feed's current position (after a restore).
    fn begin_epoch(&self) -> BackendResult<Identity>;
    /// Writes a consistent backup of everything to `out`, sealed by `seal`, while devices
    /// keep syncing.
    fn backup(&self, out: &std::path::Path, seal: &backup::Seal) -> Result<backup::Created, backup::BackupError>;

    // --- upkeep
    /// Idle-time upkeep (compacting surveys stored as received, refreshing the query
    /// planner's statistics as the store grows, bringing projection rows up to date);
    /// returns the work done.
    fn maintain(&self) -> BackendResult<usize>;

    // --- project settings
    /// Sets whether a project's approved surveys are frozen.
    fn set_freeze_approved(&self, project: i64, frozen: bool) -> BackendResult<()>;
    /// Whether a project's approved surveys are frozen.
    fn freeze_approved(&self, project: i64) -> BackendResult<bool>;

    // --- surveys that need attention
    /// Records that a survey could not be read; returns whether it is new to the list.
    fn record_fault(&self, survey_id: &str, error: &str) -> BackendResult<bool>;
    /// The surveys that could not be read, most recent first.
    fn faults(&self) -> BackendResult<Vec<Fault>>;
    /// Takes a survey off the list (it reads again).
    fn clear_fault(&self, survey_id: &str) -> BackendResult<()>;

    // --- webhooks
    /// Registers a webhook target of a project.
    fn create_webhook(&self, project: i64, url: &str, secret: &str, events: &[String]) -> BackendResult<Webhook>;
    /// A project's webhook targets (every project's with `None`).
    fn webhooks(&self, project: Option<i64>) -> BackendResult<Vec<Webhook>>;
    /// Removes a project's webhook target (its deliveries stay, as its log); returns
    /// whether it was there.
    fn delete_webhook(&self, project: i64, id: i64) -> BackendResult<bool>;
    /// The dispatcher's place in the change feed, if it has started.
    fn webhook_cursor(&self) -> BackendResult<Option<u64>>;
    /// What the dispatcher last saw of each of `surveys` it has seen.
    fn seen_states(&self, surveys: &[&str]) -> BackendResult<HashMap<String, SeenState>>;
    /// Records, in one durable transaction, the states seen up to `cursor` and the
    /// deliveries they make (an event already enqueued for a target is not again).
    fn record_seen(&self, cursor: u64, seen: &[(&str, SeenState)], deliveries: &[NewDelivery]) -> BackendResult<()>;
    /// Deliveries due at `now` to targets still registered, oldest first.
    fn due_deliveries(&self, now: DateTime<Utc>, limit: u32) -> BackendResult<Vec<DueDelivery>>;
    /// Records an attempt.
    fn record_attempt(&self, attempt: &Attempt<'_>) -> BackendResult<()>;
    /// A webhook target's deliveries, newest first.
    fn deliveries(&self, webhook: i64, limit: u32) -> BackendResult<Vec<DeliveryLog>>;

    // --- saved exports
    /// Creates a saved export.
    fn create_saved_export(&self, export: &NewSavedExport<'_>) -> BackendResult<SavedExport>;
    /// A project's saved exports.
    fn saved_exports(&self, project: i64) -> BackendResult<Vec<SavedExport>>;
    /// The saved export `id`, if `token_hash` is its token's.
    fn saved_export(&self, id: i64, token_hash: &[u8; 32]) -> BackendResult<Option<SavedExport>>;
    /// Moves an incremental saved export's cursor on.
    fn set_saved_export_cursor(&self, id: i64, cursor: u64) -> BackendResult<()>;
    /// Removes a project's saved export (its URL stops working); returns whether it was there.
    fn delete_saved_export(&self, project: i64, id: i64) -> BackendResult<bool>;

    // --- audit
    /// Appends entries to the audit log, in one transaction.
    fn audit_many(&self, rows: &[AuditRow<'_>]) -> BackendResult<()>;
    /// The audit log, newest first.
    fn audit_log(&self, limit: u32) -> BackendResult<Vec<AuditEntry>>;
}
