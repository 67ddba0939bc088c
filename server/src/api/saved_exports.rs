//! Saved exports: administrators create, list and remove them per project; a spreadsheet
//! or a script downloads one at its stable URL with its own token (`?token=`, a bearer, or
//! the password of HTTP Basic).

use std::io::{Seek, SeekFrom};
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use terrain_services::saved_exports::{CreatedSavedExport, SaveExport};
use terrain_services::{Error, SavedExport};
use utoipa::IntoParams;

use super::caller::{Caller, credentials};
use super::error::ApiError;
use super::exports::file_response;
use crate::http::{AppState, Scheme, blocking, origin};

/// The download's options.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// The export's token, when it is not sent in the Authorization header.
    pub token: Option<String>,
    /// Only what changed after this cursor, instead of an incremental export's own.
    pub since: Option<u64>,
}

fn path(id: i64) -> String {
    format!("/api/v1/saved-exports/{id}/download")
}

/// Creates a saved export; the answer holds its URL and its token (shown only here).
#[utoipa::path(post, path = "/api/v1/projects/{project}/saved-exports", params(("project" = i64, Path)),
    request_body = SaveExport,
    responses((status = 201, body = CreatedSavedExport), (status = 400, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(project): Path<i64>,
    headers: HeaderMap,
    scheme: Scheme,
    Json(req): Json<SaveExport>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let services = state.services.clone();
    let created = blocking(move || services.create_saved_export(&auth.scope, project, req)).await?;
    let url = format!("{}{}", origin(&headers, scheme), path(created.export.id));
    let mut body = serde_json::to_value(&created).map_err(|e| ApiError::from(Error::internal(e)))?;
    body["url"] = json!(url);
    Ok((StatusCode::CREATED, Json(body)))
}

/// A project's saved exports.
#[utoipa::path(get, path = "/api/v1/projects/{project}/saved-exports", params(("project" = i64, Path)),
    responses((status = 200, body = Vec<SavedExport>), (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(project): Path<i64>,
) -> Result<Json<Vec<SavedExport>>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.saved_exports(&auth.scope, project)).await?))
}

/// Removes a saved export: its URL stops working.
#[utoipa::path(delete, path = "/api/v1/projects/{project}/saved-exports/{id}",
    params(("project" = i64, Path), ("id" = i64, Path)),
    responses((status = 204), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((project, id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    let services = state.services.clone();
    blocking(move || services.delete_saved_export(&auth.scope, project, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The token of a download: `?token=`, a bearer, or the password of Basic.
fn token(headers: &HeaderMap, query: Option<String>) -> Result<String, ApiError> {
    if let Some(token) = query {
        return Ok(token);
    }
    credentials(headers)?.map(|(_, token)| token).ok_or_else(|| {
        ApiError::unauthorized("send the export's token: ?token=…, a bearer token, or as the Basic password")
    })
}

/// Downloads a saved export: all of it, or for an incremental one what changed since its
/// last download (the `Terrain-Cursor` header says where the next one starts).
#[utoipa::path(get, path = "/api/v1/saved-exports/{id}/download", params(("id" = i64, Path), DownloadQuery),
    responses((status = 200, description = "the export, in its format"),
        (status = 401, body = super::error::ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = token(&headers, q.token)?;
    let services = state.services.clone();
    let deadline = Instant::now() + state.settings.request_timeout.mul_f32(0.9);
    let since = q.since;
    let (file, outcome, format, form_id) = blocking(move || {
        let (scope, export, request) = services.open_saved_export(id, &token, since)?;
        let format = request.format;
        let mut file = tempfile::tempfile().map_err(Error::internal)?;
        let outcome = services.download_saved_export(&scope, &export, request, Some(deadline), &mut file)?;
        file.seek(SeekFrom::Start(0)).map_err(Error::internal)?;
        Ok((file, outcome, format, export.form_id))
    })
    .await?;
    Ok(file_response(file, outcome, format, &form_id))
}
