//! Analysts' exports of a form's merged dataset, narrowed to what the principal may see:
//! analysts and administrators of the form's project export every survey (approved ones
//! unless they ask otherwise), supervisors their teams', enumerators nothing. The dataset
//! engine is `terrain-export`; this service decides who gets what and audits it.

use std::collections::BTreeSet;
use std::io::{Seek, Write};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::json;
use terrain_export::{ExportError, ReviewFilter, parse_time};
pub use terrain_export::{ExportOutcome, ExportRequest, Format};
use utoipa::ToSchema;

use crate::Services;
use crate::audit::Action;
use crate::error::{Error, Result};
use crate::scope::Scope;

/// What an analyst asks for, as text from a query string or a command line (and as a saved
/// export keeps it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportQuery {
    /// `csv` (a zip), `xlsx`, `json`, `ndjson`, `geojson` or `dictionary`; default `csv`.
    pub format: Option<String>,
    /// Review statuses, comma-separated, or `any`.
    pub review: Option<String>,
    /// Surveys started at or after this date or time.
    pub from: Option<String>,
    /// Surveys started before this date or time.
    pub to: Option<String>,
    /// Only the surveys of this team's members, by id.
    pub team: Option<i64>,
    /// Only the surveys of this team's members, by name (the command line's `--team`).
    pub team_name: Option<String>,
    /// Only surveys of this form version.
    pub version: Option<String>,
    /// Only surveys changed after this cursor.
    pub since: Option<u64>,
    /// Choice labels in this language instead of codes.
    pub labels: Option<String>,
    /// Start CSV files with a UTF-8 BOM, for Excel.
    pub bom: Option<bool>,
    /// Put the attached files in the CSV zip, under `media/`.
    #[serde(default)]
    pub media: Option<bool>,
}

/// An export error as a service error.
pub fn export_error(e: ExportError) -> Error {
    match e {
        ExportError::Invalid(m) => Error::Invalid(m),
        ExportError::UnknownForm(id) => Error::not_found(format!("form `{id}` is not published")),
        ExportError::Backend(b) => b.into(),
        e @ ExportError::Xlsx(_) => Error::unprocessable("too_large", e.to_string()),
        e @ ExportError::TimedOut => {
            Error::Busy { retry_after: std::time::Duration::from_secs(60), message: e.to_string() }
        }
        ExportError::Io(e) => Error::internal(e),
    }
}

impl Services {
    /// The export request for `query`, checked, with the form's project; the principal
    /// must belong to it.
    pub fn export_request(&self, scope: &Scope, form_id: &str, query: ExportQuery) -> Result<(ExportRequest, i64)> {
        scope.may_export()?;
        let not_found = || Error::not_found(format!("form `{form_id}` is not published"));
        let project = scope.form_project(form_id).ok_or_else(not_found)?;
        let format = Format::parse(query.format.as_deref().unwrap_or("csv")).map_err(export_error)?;
        let mut req = ExportRequest::new(form_id, format);
        req.review = match query.review.as_deref() {
            Some(text) => ReviewFilter::parse(text).map_err(export_error)?,
            None if scope.exports_approved_by_default() => ReviewFilter::approved(),
            None => ReviewFilter::Any,
        };
        req.from = query.from.as_deref().map(parse_time).transpose().map_err(export_error)?;
        req.to = query.to.as_deref().map(parse_time).transpose().map_err(export_error)?;
        let team = match (query.team, query.team_name.as_deref()) {
            (Some(id), _) => Some(self.backend.teams()?.into_iter().find(|t| t.id == id && t.project_id == project)),
            (None, Some(name)) => {
                Some(self.backend.teams()?.into_iter().find(|t| t.name == name && t.project_id == project))
            }
            (None, None) => None,
        };
        if let Some(team) = team {
            let team = team.ok_or_else(|| Error::not_found("no such team in this form's project"))?;
            let members: BTreeSet<String> =
                self.backend.team_members(team.id)?.into_iter().map(|u| u.username).collect();
            req.creators = Some(members);
        }
        req.version = query.version;
        req.since = query.since.unwrap_or(0);
        req.labels = query.labels;
        req.bom = query.bom.unwrap_or(false);
        req.media = query.media.unwrap_or(false);
        if req.media && req.format != Format::Csv {
            return Err(Error::Invalid("attached files go in the csv export's zip: ask for format=csv".into()));
        }
        Ok((req, project))
    }

    /// Writes the export to `out`, only surveys the principal may read, and audits it.
    /// Surveys that cannot be read are left out (and listed for administrators).
    pub fn export<W: Write + Seek + Send>(
        &self,
        scope: &Scope,
        mut request: ExportRequest,
        deadline: Option<Instant>,
        out: W,
    ) -> Result<ExportOutcome> {
        scope.may_export()?;
        let project = scope.form_project(&request.form_id);
        if project.is_none() {
            return Err(Error::not_found(format!("form `{}` is not published", request.form_id)));
        }
        request.deadline = deadline;
        let visible = |s: &terrain_core::store::SurveySummary| scope.can_read(&scope.facts(s, &[]));
        let unreadable = |id: &str, e: &terrain_backend::BackendError| self.unreadable(id, e);
        let outcome = terrain_export::export(self.backend.as_ref(), &request, &visible, &unreadable, out)
            .map_err(export_error)?;
        self.audit(
            scope,
            Action::Export,
            None,
            json!({ "form": request.form_id, "format": request.format.extension(), "surveys": outcome.surveys }),
        )?;
        Ok(outcome)
    }
}

impl Services {
    /// Rewrites every survey's row of the store's projection (what exports and the map
    /// read) from its document: administrators, after a restore from a backup or a fix to
    /// how surveys are projected. Returns how many surveys were projected, and how many rows
    /// were missing, stale or wrong.
    pub fn rebuild_projections(&self, scope: &Scope) -> Result<terrain_backend::Rebuilt> {
        scope.may_administer()?;
        let rebuilt = self.backend.rebuild_projections()?;
        self.audit(
            scope,
            Action::ProjectionRebuild,
            None,
            json!({ "surveys": rebuilt.surveys, "differed": rebuilt.differed }),
        )?;
        Ok(rebuilt)
    }
}
