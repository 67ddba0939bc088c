//! The caller's feed tokens: create one for a spreadsheet or a script (shown once), list
//! them, revoke one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use terrain_services::FeedToken;
use terrain_services::feeds::IssuedFeedToken;
use utoipa::ToSchema;

use super::caller::Caller;
use super::error::ApiError;
use crate::http::{AppState, blocking};

/// A feed token to create.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewFeedToken {
    /// Where it will be used (`Power BI, Conakry office`).
    pub label: String,
}

/// Creates a read-only feed token; the token is in this answer only.
#[utoipa::path(post, path = "/api/v1/me/feed-tokens", request_body = NewFeedToken,
    responses((status = 201, body = IssuedFeedToken), (status = 400, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Json(req): Json<NewFeedToken>,
) -> Result<(StatusCode, Json<IssuedFeedToken>), ApiError> {
    let services = state.services.clone();
    let issued = blocking(move || services.create_feed_token(&auth.scope, &req.label)).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// The caller's feed tokens, newest first.
#[utoipa::path(get, path = "/api/v1/me/feed-tokens",
    responses((status = 200, body = Vec<FeedToken>), (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, Caller(auth): Caller) -> Result<Json<Vec<FeedToken>>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.feed_tokens(&auth.scope)).await?))
}

/// Revokes one of the caller's feed tokens.
#[utoipa::path(delete, path = "/api/v1/me/feed-tokens/{id}", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let services = state.services.clone();
    blocking(move || services.revoke_feed_token(&auth.scope, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
