//! `POST /api/v1/sync`: one sync round, with a compressed binary body both ways.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_TYPE, USER_AGENT};
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
pub async fn sync(
    State(state): State<AppState>,
    Caller(auth): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let services = state.services.clone();
    let client = headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    // A device told to wait is told before its body is decoded: a refused megabyte costs
    // reading it, not decompressing and walking it. (It is read, in the background, so that
    // the device finishes sending and sees the answer.)
    if let Err(e) = services.admit_sync(&auth.scope) {
        tokio::spawn(crate::http::body::drain(body, state.settings.max_body_bytes as u64));
        return Err(e.into());
    }
    let body = axum::body::to_bytes(body, state.settings.max_body_bytes).await.map_err(ApiError::unreadable_body)?;
    // The round's own deadline, a little before the request's, so that it stops its work
    // and answers rather than being cut off.
    let deadline = Instant::now() + state.settings.request_timeout.mul_f32(0.9);
    let answer = blocking(move || services.sync_round(&auth.scope, &body, client.as_deref(), deadline)).await?;
    Ok(([(CONTENT_TYPE, wire::CONTENT_TYPE)], answer).into_response())
}
