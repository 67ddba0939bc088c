//! Saved exports: an administrator names a form's export (format, filters, full or
//! incremental) and gets a stable URL and a token that opens that export and nothing else,
//! for a spreadsheet or a script to refresh from. A download runs with the rights of the
//! export's creator, checked anew each time by their [`Scope`]; an incremental export holds
//! what changed since its previous download.

use std::io::{Seek, Write};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::json;
use terrain_backend::{NewSavedExport, SavedExport};
use terrain_export::{ExportOutcome, ExportRequest};
use utoipa::ToSchema;

use crate::Services;
use crate::accounts::token;
use crate::audit::Action;
use crate::error::{Error, Result};
use crate::exports::ExportQuery;
use crate::scope::Scope;

/// The longest name of a saved export.
const MAX_NAME: usize = 100;

/// A saved export to create.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SaveExport {
    /// What it is for (`Béguédo yields, Brussels office`).
    pub name: String,
    /// The form.
    pub form_id: String,
    /// Whether each download holds only what changed since the previous one.
    #[serde(default)]
    pub incremental: bool,
    /// The export's format and filters, as the export API takes them (`since` excepted).
    #[serde(flatten)]
    pub query: ExportQuery,
}

/// A saved export just created: its token is shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedSavedExport {
    /// The token that opens this export only (`?token=`, or the password of Basic).
    pub token: String,
    /// The export.
    #[serde(flatten)]
    pub export: SavedExport,
}

impl Services {
    /// Saves an export of one of a project's forms (administrators).
    pub fn create_saved_export(&self, scope: &Scope, project: i64, req: SaveExport) -> Result<CreatedSavedExport> {
        scope.may_administer()?;
        let name = req.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(Error::invalid(format!("name the export in 1 to {MAX_NAME} characters")));
        }
        if scope.form_project(&req.form_id) != Some(project) {
            return Err(Error::not_found(format!("project {project} has no form `{}`", req.form_id)));
        }
        let mut query = req.query;
        query.since = None;
        // Checked now, as a download would check it, so a bad filter is refused here.
        self.export_request(scope, &req.form_id, query.clone())?;
        let user = scope.user_id().ok_or_else(|| Error::invalid("saved exports belong to a person"))?;
        let (secret, hash) = token::generate().map_err(Error::internal)?;
        let stored = serde_json::to_value(&query).map_err(Error::internal)?;
        let export = self.backend.create_saved_export(&NewSavedExport {
            project_id: project,
            name,
            form_id: &req.form_id,
            query: &stored,
            incremental: req.incremental,
            token_hash: &hash,
            created_by: user,
        })?;
        self.audit(
            scope,
            Action::SavedExportCreate,
            None,
            json!({ "project": project, "export": export.id, "form": export.form_id, "incremental": export.incremental }),
        )?;
        Ok(CreatedSavedExport { token: secret, export })
    }

    /// A project's saved exports (administrators).
    pub fn saved_exports(&self, scope: &Scope, project: i64) -> Result<Vec<SavedExport>> {
        scope.may_administer()?;
        Ok(self.backend.saved_exports(project)?)
    }

    /// Removes a saved export: its URL stops working (administrators).
    pub fn delete_saved_export(&self, scope: &Scope, project: i64, id: i64) -> Result<()> {
        scope.may_administer()?;
        if !self.backend.delete_saved_export(project, id)? {
            return Err(Error::not_found(format!("project {project} has no saved export {id}")));
        }
        self.audit(scope, Action::SavedExportDelete, None, json!({ "project": project, "export": id }))
    }

    /// Opens saved export `id` with its token: the export to write and the rights to
    /// write it with. `since` overrides an incremental export's own cursor.
    pub fn open_saved_export(
        &self,
        id: i64,
        token: &str,
        since: Option<u64>,
    ) -> Result<(Scope, SavedExport, ExportRequest)> {
        let hash = token::hash(token);
        self.guards.requests.take(&hash, Instant::now()).map_err(|wait| Error::TooMany {
            retry_after: wait,
            message: "this export is refreshed too often: slow down".into(),
        })?;
        let refused = || Error::Unauthenticated("no saved export has this id and token: ask its administrator".into());
        let export = self.backend.saved_export(id, &hash)?.ok_or_else(refused)?;
        let creator = self.backend.user(export.created_by)?.ok_or_else(refused)?;
        if creator.disabled {
            return Err(Error::Unauthenticated(
                "the account that made this export is disabled: ask an administrator to make it again".into(),
            ));
        }
        let scope = Scope::load(self.backend.as_ref(), creator, None)?;
        let mut query: ExportQuery = serde_json::from_value(export.query.clone()).map_err(Error::internal)?;
        query.since = since.or(export.incremental.then_some(export.cursor));
        let (request, _) = self.export_request(&scope, &export.form_id, query)?;
        Ok((scope, export, request))
    }

    /// Writes an opened saved export to `out`; an incremental one then starts after what
    /// it wrote next time.
    pub fn download_saved_export<W: Write + Seek + Send>(
        &self,
        scope: &Scope,
        export: &SavedExport,
        request: ExportRequest,
        deadline: Option<Instant>,
        out: W,
    ) -> Result<ExportOutcome> {
        let outcome = self.export(scope, request, deadline, out)?;
        if export.incremental {
            self.backend.set_saved_export_cursor(export.id, outcome.cursor)?;
        }
        self.audit(
            scope,
            Action::SavedExportDownload,
            None,
            json!({ "export": export.id, "surveys": outcome.surveys, "cursor": outcome.cursor }),
        )?;
        Ok(outcome)
    }
}
