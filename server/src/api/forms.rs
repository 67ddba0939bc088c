//! Forms: devices download the definitions of their projects' forms; admins publish.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use terrain_services::forms::{PublishedForm, Upload};

use super::caller::{Caller, Reader};
use super::error::ApiError;
use crate::http::{AppState, blocking};

/// The form versions the caller may use, each with its files' digests.
#[utoipa::path(get, path = "/api/v1/forms", responses((status = 200, body = Vec<PublishedForm>)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, Reader(auth): Reader) -> Result<Json<Vec<PublishedForm>>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.published_forms(&auth.scope)).await?))
}

/// One form version as JSON, with the files it reads attached as choice lists (but never the
/// relay's entity lists): for devices that do not fetch a form's files one by one.
#[utoipa::path(get, path = "/api/v1/forms/{form_id}/{version}",
    params(("form_id" = String, Path), ("version" = String, Path)),
    responses((status = 200, description = "the Form as JSON"), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((form_id, version)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let services = state.services.clone();
    let form = blocking(move || services.form_with_files(&auth.scope, &form_id, &version)).await?;
    Ok(Json(serde_json::to_value(&form).map_err(terrain_services::Error::internal)?))
}

/// One form version's definition as JSON, without its files: a device attaches the files
/// it downloads (`…/files/{name}`) or already holds (same digest in `/api/v1/forms`).
#[utoipa::path(get, path = "/api/v1/forms/{form_id}/{version}/definition",
    params(("form_id" = String, Path), ("version" = String, Path)),
    responses((status = 200, description = "the Form as JSON"), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn definition(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((form_id, version)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let services = state.services.clone();
    let form = blocking(move || services.form_definition(&auth.scope, &form_id, &version)).await?;
    Ok(Json(serde_json::to_value(&form).map_err(terrain_services::Error::internal)?))
}

/// One file published with a form version (a CSV, XML or GeoJSON list), as it was uploaded.
#[utoipa::path(get, path = "/api/v1/forms/{form_id}/{version}/files/{name}",
    params(("form_id" = String, Path), ("version" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "the file's bytes"), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn file(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((form_id, version, name)): Path<(String, String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let services = state.services.clone();
    let content_type = file_type(&name);
    let bytes = blocking(move || services.form_file(&auth.scope, &form_id, &version, &name)).await?;
    // A version's files never change: a cache may keep them.
    Ok(([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "private, max-age=31536000, immutable")], bytes))
}

/// The media type of a form's file, by its extension (the ones `form::attachments` reads).
fn file_type(name: &str) -> &'static str {
    match name.rsplit('.').next().map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => "text/csv; charset=utf-8",
        Some("xml") => "application/xml",
        Some("geojson") => "application/geo+json",
        _ => "application/octet-stream",
    }
}

/// Publishes a form version in a project (admins). The body is the form as JSON, an
/// XLSForm spreadsheet (`.xlsx` or CSV content types), or `application/zip`: the form with
/// the CSV lists it reads (`select_one_from_file`, `pulldata()`), which a form that reads
/// any must come with (422 `missing_files` names them).
#[utoipa::path(post, path = "/api/v1/projects/{project}/forms", params(("project" = i64, Path)),
    request_body(content = String, description = "Form JSON, an XLSForm file, or a zip of the form and its lists"),
    responses((status = 201, body = PublishedForm), (status = 403, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 413, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn publish(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(project): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<PublishedForm>), ApiError> {
    // The role first: a non-administrator's upload is refused before it is read.
    auth.scope.may_administer()?;
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let upload = Upload::from_media_type(content_type)?;
    let services = state.services.clone();
    let info = blocking(move || services.publish_form(&auth.scope, project, upload, &body)).await?;
    Ok((StatusCode::CREATED, Json(info)))
}
