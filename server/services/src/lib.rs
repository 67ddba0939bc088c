//! Terrain's server rules, independent of HTTP: one service per concern, each taking the
//! caller's [`Scope`] and typed arguments and returning domain results or an [`Error`].
//!
//! The faces (the JSON API and the dashboard in `terrain-server`, the `terrain` command)
//! parse their input, call one service and map its error to their own form. Below the
//! services sits storage (`terrain-backend`), and below that `terrain-core`:
//!
//! ```text
//! faces (api, dashboard, cli) ──► services ──► backend ──► core
//! ```
//!
//! - [`scope`]: who may see and do what; the one place that looks at roles.
//! - [`accounts`]: logins (throttled), tokens, the first administrator, users, projects, teams.
//! - [`password`]: argon2id hashing in memory each hashing slot owns.
//! - [`forms`]: publishing form versions (XLSForm or JSON, size-bounded) and reading them.
//! - [`form_eval`]: a form's logic run against answers, node by node (`terrain form eval`).
//! - [`entry`]: forms filled in the browser: the preview's evaluation, surveys entered.
//! - [`surveys`]: reading one survey: JSON, history, conflicts, the review page's view.
//! - [`review`]: review actions, single and bulk, corrections, assignments.
//! - [`listing`]: survey lists, progress counts, the map, the filters' choices.
//! - [`sync`]: one sync round, every byte from outside within budget.
//! - [`exports`]: analysts' exports.
//! - [`saved_exports`]: exports under a stable URL with a token of their own.
//! - [`feeds`]: the OData feed analysts' tools refresh by themselves, and its tokens.
//! - [`faults`]: surveys that cannot be read, skipped and shown as needing attention.
//! - [`webhooks`]: events posted to a project's targets, signed, retried, from an outbox.
//! - [`audit`]: the audit log and its vocabulary of actions.
//! - [`backup`]: backups taken while devices sync; restores that start a new epoch.
//! - [`guards`]: throttles and slots that keep one client from taking the server.

pub mod accounts;
pub mod audit;
pub mod backup;
pub mod entities;
pub mod entry;
pub mod error;
pub mod exports;
pub mod faults;
pub mod feeds;
pub mod form_eval;
pub mod forms;
pub mod guards;
pub mod listing;
pub mod media;
pub mod password;
pub mod review;
pub mod saved_exports;
pub mod scope;
pub mod settings;
pub mod surveys;
pub mod sync;
pub mod webhooks;

use std::path::Path;
use std::sync::Arc;

use terrain_backend::Backend;
use terrain_backend::sqlite::SqliteBackend;
use terrain_core::StoreKey;

pub use error::{Error, Result};
pub use scope::{Principal, Scope, SurveyFacts};
pub use settings::{LoginLimits, MediaLimits, Rate, Settings, SyncLimits, WebhookLimits};
pub use terrain_backend::{
    AuditEntry, DeliveryLog, DeviceKey, Fault, FeedToken, FormInfo, Project, SavedExport, Team, User, UserId, Webhook,
};

/// The storage layer, for tools, tests and benchmarks that seed or check it directly.
pub use terrain_backend as backend;

/// Every service of one server, over one storage backend.
pub struct Services {
    backend: Arc<dyn Backend>,
    settings: Settings,
    guards: guards::Guards,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Services {
    /// The services over `backend`, with `settings`.
    pub fn new(backend: Arc<dyn Backend>, settings: Settings) -> Services {
        let guards = guards::Guards::new(&settings);
        backend.set_survey_budget(settings.sync.survey);
        Services { backend, settings, guards }
    }

    /// The services over the embedded SQLite backend in `dir` (created if needed).
    pub fn open_sqlite(dir: &Path, settings: Settings) -> Result<Services> {
        Services::open_sqlite_keyed(dir, None, settings)
    }

    /// [`Services::open_sqlite`] with its databases encrypted under `key` (`None`: plain).
    pub fn open_sqlite_keyed(dir: &Path, key: Option<&StoreKey>, settings: Settings) -> Result<Services> {
        Ok(Services::new(Arc::new(SqliteBackend::open_keyed(dir, key)?), settings))
    }

    /// The limits these services apply.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The storage underneath, for tests, benchmarks and tools that seed or inspect it.
    /// Faces never call it (`terrain-server`'s tests check): they go through a service.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The scope of the operator (whoever runs the `terrain` command on the server's own
    /// machine): an administrator's, over every form published now.
    pub fn operator(&self) -> Result<Scope> {
        Ok(Scope::operator(self.backend.as_ref())?)
    }

    /// Whether storage answers.
    pub fn health(&self) -> Result<()> {
        self.backend.projects()?;
        Ok(())
    }

    /// Idle-time upkeep (compacting surveys stored as received, the planner's statistics,
    /// missing projection rows); returns the work done.
    pub fn maintain(&self) -> Result<usize> {
        Ok(self.backend.maintain()?)
    }
}
