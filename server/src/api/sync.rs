//! `POST /api/v1/sync`: one sync round, with a compressed binary body both ways.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use terrain_core::sync::wire;

use super::caller::Caller;
use super::error::ApiError;
use crate::http::{AppState, blocking};

/// One sync round: push unacknowledged changes, pull what the device lacks.
#[utoipa::path(post, path = "/api/v1/sync",
    request_body(content = Vec<u8>, content_type = "application/vnd.terrain.sync+zstd",
        description = "zstd-compressed postcard `SyncRequest` (see terrain_core::sync::wire)"),
    responses((status = 200, content_type = "application/vnd.terrain.sync+zstd", description = "`SyncResponse`"),
        (status = 400, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody),
        (status = 503, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn sync(State(state): State<AppState>, Caller(auth): Caller, body: Bytes) -> Result<Response, ApiError> {
    let services = state.services.clone();
    // The round's own deadline, a little before the request's, so that it stops its work
    // and answers rather than being cut off.
    let deadline = Instant::now() + state.settings.request_timeout.mul_f32(0.9);
    let answer = blocking(move || services.sync_round(&auth.scope, &body, deadline)).await?;
    Ok(([(CONTENT_TYPE, wire::CONTENT_TYPE)], answer).into_response())
}
