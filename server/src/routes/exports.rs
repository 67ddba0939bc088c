//! Exports of a form's merged dataset for analysts (and admins, and supervisors for their
//! teams' surveys). The export is written to a temporary file off the async runtime, then
//! streamed; the change-feed cursor to resume from comes back in `Terrain-Cursor`.

use std::collections::BTreeSet;
use std::io::{Seek, SeekFrom};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use terrain_core::Role;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Caller;
use crate::backend::Backend;
use crate::error::{ApiError, blocking};
use crate::export::{self, ExportError, ExportRequest, Format, ReviewFilter, parse_time};
use crate::rules::{Principal, SurveyFacts};

/// The filters and options of an export.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (a zip), `xlsx`, `json`, `ndjson`, `geojson` or `dictionary`; default `csv`.
    pub format: Option<String>,
    /// Review statuses, comma-separated (`approved,received`), or `any`. Analysts get
    /// `approved` unless they ask otherwise; others get `any`.
    pub review: Option<String>,
    /// Surveys started at or after this date (`2026-11-01`) or time (RFC 3339).
    pub from: Option<String>,
    /// Surveys started before this date or time.
    pub to: Option<String>,
    /// Only the surveys started by the members of this team (zone), by id.
    pub team: Option<i64>,
    /// Only surveys of this form version.
    pub version: Option<String>,
    /// Only surveys changed after this cursor (a previous export's `Terrain-Cursor`).
    pub since: Option<u64>,
    /// Choice labels in this language (`fr`) instead of codes.
    pub labels: Option<String>,
    /// Start CSV files with a UTF-8 BOM, for Excel.
    pub bom: Option<bool>,
}

/// Turns an export error into the API's.
pub fn api_error(e: ExportError) -> ApiError {
    match e {
        ExportError::Invalid(m) => ApiError::invalid(m),
        ExportError::UnknownForm(id) => ApiError::not_found(format!("form `{id}` is not published")),
        ExportError::Backend(b) => b.into(),
        e @ ExportError::Xlsx(_) => ApiError::unprocessable("too_large", e.to_string()),
        ExportError::Io(e) => ApiError::internal(e),
    }
}

/// Builds the request from the query, checking every value.
pub fn request(
    backend: &dyn Backend,
    principal: &Principal,
    project: i64,
    form_id: String,
    q: ExportQuery,
) -> Result<ExportRequest, ApiError> {
    let format = Format::parse(q.format.as_deref().unwrap_or("csv")).map_err(api_error)?;
    let mut req = ExportRequest::new(form_id, format);
    req.review = match q.review.as_deref() {
        Some(text) => ReviewFilter::parse(text).map_err(api_error)?,
        None if principal.user.role == Role::Analyst => ReviewFilter::approved(),
        None => ReviewFilter::Any,
    };
    req.from = q.from.as_deref().map(parse_time).transpose().map_err(api_error)?;
    req.to = q.to.as_deref().map(parse_time).transpose().map_err(api_error)?;
    if let Some(team) = q.team {
        let found = backend.teams()?.into_iter().find(|t| t.id == team && t.project_id == project);
        if found.is_none() {
            return Err(ApiError::not_found(format!("team {team} is not a team of this form's project")));
        }
        let members: BTreeSet<String> = backend.team_members(team)?.into_iter().map(|u| u.username).collect();
        req.creators = Some(members);
    }
    req.version = q.version;
    req.since = q.since.unwrap_or(0);
    req.labels = q.labels;
    req.bom = q.bom.unwrap_or(false);
    Ok(req)
}

/// The form's merged dataset, filtered, in the format asked. Analysts and admins of the
/// form's project export every survey; supervisors their teams'; enumerators nothing.
#[utoipa::path(get, path = "/api/v1/forms/{form_id}/export", params(("form_id" = String, Path), ExportQuery),
    responses((status = 200, description = "the export; header Terrain-Cursor holds the cursor to pass as `since` next time"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(form_id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let backend = state.backend.clone();
    let (file, outcome, format, form_id) = blocking(move || {
        let principal = Principal::load(backend.as_ref(), caller.user)?;
        if principal.user.role == Role::Enumerator {
            return Err(ApiError::forbidden("enumerators do not export data: ask an analyst or your supervisor"));
        }
        let not_found = || ApiError::not_found(format!("form `{form_id}` is not published"));
        let project = backend.form_project(&form_id)?.ok_or_else(not_found)?;
        if principal.user.role != Role::Admin && !principal.membership.projects.contains(&project) {
            return Err(not_found());
        }
        let req = request(backend.as_ref(), &principal, project, form_id.clone(), q)?;
        let visible = |s: &terrain_core::store::SurveySummary| {
            principal.can_read(&SurveyFacts { created_by: &s.created_by, project: Some(project), assignees: &[] })
        };
        let mut file = tempfile::tempfile().map_err(ApiError::internal)?;
        let outcome = export::export(backend.as_ref(), &req, &visible, &mut file).map_err(api_error)?;
        file.seek(SeekFrom::Start(0)).map_err(ApiError::internal)?;
        backend.audit(Some(principal.user.id), "export", None, Some(&format!("{form_id} {}", outcome.surveys)))?;
        Ok((file, outcome, req.format, form_id))
    })
    .await?;
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let filename: String =
        form_id.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}.{}\"", format.extension())),
            (header::HeaderName::from_static("terrain-cursor"), outcome.cursor.to_string()),
            (header::HeaderName::from_static("terrain-surveys"), outcome.surveys.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
