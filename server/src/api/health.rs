//! `/healthz`: whether the server is up and its storage answers.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::error::ApiError;
use crate::http::{AppState, blocking};

/// Health check.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "up")))]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let services = state.services.clone();
    blocking(move || services.health()).await?;
    Ok(Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})))
}
