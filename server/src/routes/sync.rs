//! `POST /api/v1/sync`: one sync round, with a compressed binary body both ways.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use terrain_core::sync::wire::{self, SyncRequest};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, blocking};
use crate::rules::Principal;

/// One sync round: push unacknowledged changes, pull what the device lacks.
#[utoipa::path(post, path = "/api/v1/sync",
    request_body(content = Vec<u8>, content_type = "application/vnd.terrain.sync+zstd",
        description = "zstd-compressed postcard `SyncRequest` (see terrain_core::sync::wire)"),
    responses((status = 200, content_type = "application/vnd.terrain.sync+zstd", description = "`SyncResponse`"),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn sync(State(state): State<AppState>, caller: Caller, body: Bytes) -> Result<Response, ApiError> {
    let device = caller
        .device
        .ok_or_else(|| ApiError::forbidden("this token was not issued to a device: log in from the device"))?;
    let backend = state.backend.clone();
    let limits = state.settings.sync.clone();
    let answer = blocking(move || {
        let request: SyncRequest = wire::decode(&body).map_err(|e| match e {
            wire::WireError::TooLarge => ApiError::too_large(e.to_string()),
            other => ApiError::invalid(other.to_string()),
        })?;
        let principal = Principal::load(backend.as_ref(), caller.user)?;
        let response = crate::sync_service::sync(backend.as_ref(), &principal, &device, request, &limits)?;
        wire::encode(&response).map_err(ApiError::internal)
    })
    .await?;
    Ok(([(CONTENT_TYPE, wire::CONTENT_TYPE)], answer).into_response())
}
