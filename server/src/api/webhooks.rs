//! A project's webhook targets (administrators): register one (its signing key is in that
//! answer only), list them, remove one, and read a target's delivery log.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use terrain_services::webhooks::CreatedWebhook;
use terrain_services::{DeliveryLog, Webhook};
use utoipa::{IntoParams, ToSchema};

use super::caller::Caller;
use super::error::ApiError;
use crate::http::{AppState, blocking};

/// A target to register.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewWebhook {
    /// Where to post deliveries: `https://`, or `http://` to this machine.
    pub url: String,
    /// The events to receive: `submission.received`, `submission.approved`,
    /// `submission.sent_back`, `conflict.raised`.
    pub events: Vec<String>,
}

/// How much of a delivery log to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// The most deliveries to return, newest first (default 100).
    pub limit: Option<u32>,
}

/// Registers a webhook target for some of the project's events.
#[utoipa::path(post, path = "/api/v1/projects/{project}/webhooks", params(("project" = i64, Path)),
    request_body = NewWebhook,
    responses((status = 201, body = CreatedWebhook), (status = 400, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(project): Path<i64>,
    Json(req): Json<NewWebhook>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    let services = state.services.clone();
    let created = blocking(move || services.create_webhook(&auth.scope, project, &req.url, &req.events)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The project's webhook targets.
#[utoipa::path(get, path = "/api/v1/projects/{project}/webhooks", params(("project" = i64, Path)),
    responses((status = 200, body = Vec<Webhook>), (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(project): Path<i64>,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.webhooks(&auth.scope, project)).await?))
}

/// Removes a webhook target; what it had not received yet is not sent.
#[utoipa::path(delete, path = "/api/v1/projects/{project}/webhooks/{id}",
    params(("project" = i64, Path), ("id" = i64, Path)),
    responses((status = 204), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((project, id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    let services = state.services.clone();
    blocking(move || services.delete_webhook(&auth.scope, project, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A target's deliveries, newest first: attempts, the last status, delivered or given up.
#[utoipa::path(get, path = "/api/v1/projects/{project}/webhooks/{id}/deliveries",
    params(("project" = i64, Path), ("id" = i64, Path), LogQuery),
    responses((status = 200, body = Vec<DeliveryLog>), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((project, id)): Path<(i64, i64)>,
    Query(q): Query<LogQuery>,
) -> Result<Json<Vec<DeliveryLog>>, ApiError> {
    let services = state.services.clone();
    let limit = q.limit.unwrap_or(100);
    Ok(Json(blocking(move || services.webhook_deliveries(&auth.scope, project, id, limit)).await?))
}
