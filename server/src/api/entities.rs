//! Entity lists: the lists of the caller's projects, their entities (filtered, paged), one
//! entity with its sources and conflicts; seeding a list from CSV, filing entities under a
//! team, assigning one to a single enumerator, settling a conflict, deleting and restoring.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use terrain_core::store::EntityQuery;
use terrain_services::entities::{Entity, EntityDetail, EntityFormat, EntityImport, EntityList};
use utoipa::{IntoParams, ToSchema};

use super::caller::{Caller, Reader};
use super::error::ApiError;
use super::exports::attachment;
use crate::http::{AppState, blocking};

/// Which entities of a list to return.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct EntityParams {
    /// Only entities whose label contains this text.
    pub q: Option<String>,
    /// Deleted entities too.
    #[serde(default)]
    pub deleted: bool,
    /// Only entities with competing values to settle.
    #[serde(default)]
    pub conflicted: bool,
    /// At most this many (500 if not given, 1,000 at most).
    pub limit: Option<u32>,
    /// Skipping this many, in label order.
    #[serde(default)]
    pub offset: u32,
}

/// Entities to file under a team.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Filing {
    /// The entities' ids.
    pub ids: Vec<String>,
    /// The team whose devices receive them, or `null`: every device of the project.
    pub team: Option<i64>,
}

/// Whom an entity is assigned to.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Assignment {
    /// The enumerator (user name) who alone, of the enumerators who see the entity, sees it
    /// and receives it on their devices; `null`: nobody in particular.
    pub username: Option<String>,
}

/// A value that settles a property.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Settlement {
    /// The property, or `label`.
    pub property: String,
    /// Its value from now on.
    pub value: String,
}

/// The entity lists of the caller's projects.
#[utoipa::path(get, path = "/api/v1/entity-lists",
    responses((status = 200, body = Vec<EntityList>)), security(("bearer" = [])))]
pub async fn lists(State(state): State<AppState>, Caller(auth): Caller) -> Result<Json<Vec<EntityList>>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.entity_list_index(&auth.scope)).await?))
}

/// The entities of a list the caller sees, in label order.
#[utoipa::path(get, path = "/api/v1/entity-lists/{list}/entities", params(("list" = String, Path), EntityParams),
    responses((status = 200, body = Vec<Entity>), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(list): Path<String>,
    Query(params): Query<EntityParams>,
) -> Result<Json<Vec<Entity>>, ApiError> {
    let services = state.services.clone();
    let query = EntityQuery {
        search: params.q,
        include_deleted: params.deleted,
        conflicted_only: params.conflicted,
        limit: params.limit.unwrap_or(500),
        offset: params.offset,
        ..EntityQuery::default()
    };
    Ok(Json(blocking(move || services.entities(&auth.scope, &list, query)).await?))
}

/// One entity, with the surveys that made it and its conflicts.
#[utoipa::path(get, path = "/api/v1/entity-lists/{list}/entities/{id}",
    params(("list" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = EntityDetail), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((list, id)): Path<(String, String)>,
) -> Result<Json<EntityDetail>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.entity(&auth.scope, &list, &id)).await?))
}

/// The export's format.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportParams {
    /// `csv` (the default), `xlsx` or `geojson`.
    pub format: Option<String>,
}

/// The list's entities the caller sees as a file (deleted ones left out), each under its
/// stable id: CSV, XLSX, or GeoJSON for QGIS. Analysts, supervisors and administrators;
/// feed tokens too, as Excel and Power BI sign in.
#[utoipa::path(get, path = "/api/v1/entity-lists/{list}/export", params(("list" = String, Path), ExportParams),
    responses((status = 200, description = "the file"), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<AppState>,
    Reader(auth): Reader,
    Path(list): Path<String>,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let services = state.services.clone();
    let name = list.clone();
    let format = params.format.unwrap_or_else(|| "csv".to_owned());
    let (format, bytes) = blocking(move || services.export_entities(&auth.scope, &list, &format)).await?;
    Ok(download(&name, format, bytes))
}

/// An entity list's export as a download named after the list: what the API and the
/// dashboard answer.
pub fn download(list: &str, format: EntityFormat, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, attachment(list, format.extension())),
        ],
        bytes,
    )
        .into_response()
}

/// Seeds or updates a list from a CSV body (`name`, `label`, one column per property),
/// idempotently; bad rows are reported by line and the rest imports. Administrators only.
#[utoipa::path(post, path = "/api/v1/entity-lists/{list}/import", params(("list" = String, Path)),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = EntityImport), (status = 403, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn import(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(list): Path<String>,
    body: Bytes,
) -> Result<Json<EntityImport>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.import_entities(&auth.scope, &list, &body)).await?))
}

/// Files entities under a team (whose devices receive them) or under none. Administrators
/// only.
#[utoipa::path(put, path = "/api/v1/entity-lists/{list}/team", params(("list" = String, Path)),
    request_body = Filing,
    responses((status = 204), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn file(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(list): Path<String>,
    Json(filing): Json<Filing>,
) -> Result<axum::http::StatusCode, ApiError> {
    let services = state.services.clone();
    blocking(move || services.file_entities(&auth.scope, &list, &filing.ids, filing.team)).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Assigns an entity to one enumerator of its team, or to nobody. Supervisors and
/// administrators.
#[utoipa::path(put, path = "/api/v1/entity-lists/{list}/entities/{id}/assignee",
    params(("list" = String, Path), ("id" = String, Path)), request_body = Assignment,
    responses((status = 200, body = EntityDetail), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn assign(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((list, id)): Path<(String, String)>,
    Json(assignment): Json<Assignment>,
) -> Result<Json<EntityDetail>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.assign_entity(&auth.scope, &list, &id, assignment.username.as_deref())).await?))
}

/// Sets a property, settling its conflict. Supervisors and administrators.
#[utoipa::path(post, path = "/api/v1/entity-lists/{list}/entities/{id}/settle",
    params(("list" = String, Path), ("id" = String, Path)), request_body = Settlement,
    responses((status = 200, body = Entity), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn settle(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((list, id)): Path<(String, String)>,
    Json(settlement): Json<Settlement>,
) -> Result<Json<Entity>, ApiError> {
    let services = state.services.clone();
    Ok(Json(
        blocking(move || services.settle_entity(&auth.scope, &list, &id, &settlement.property, &settlement.value))
            .await?,
    ))
}

/// Deletes an entity (it keeps its history). Supervisors and administrators.
#[utoipa::path(post, path = "/api/v1/entity-lists/{list}/entities/{id}/delete",
    params(("list" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Entity), (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((list, id)): Path<(String, String)>,
) -> Result<Json<Entity>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.set_entity_deleted(&auth.scope, &list, &id, true)).await?))
}

/// Restores a deleted entity. Supervisors and administrators.
#[utoipa::path(post, path = "/api/v1/entity-lists/{list}/entities/{id}/restore",
    params(("list" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Entity), (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn restore(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((list, id)): Path<(String, String)>,
) -> Result<Json<Entity>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.set_entity_deleted(&auth.scope, &list, &id, false)).await?))
}
