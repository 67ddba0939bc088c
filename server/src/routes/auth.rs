//! Log in (password → token bound to a device), log out (revoke), and who am I.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::{Caller, password, token};
use crate::backend::{Backend, DeviceKey, User};
use crate::error::{ApiError, blocking};

/// Credentials, and the device being set up.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
    /// A stable identifier of the device (the app generates one at install).
    pub device_id: String,
}

/// A token and the device's key.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for `Authorization: Bearer …`.
    pub token: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
    /// The device key (hex): the prefix of the device's Automerge actor ids.
    pub device_key: String,
    /// The user's role.
    pub role: String,
}

/// Logs in.
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    if req.device_id.trim().is_empty() || req.device_id.len() > 200 {
        return Err(ApiError::invalid("device_id must be 1 to 200 characters"));
    }
    let backend = state.backend.clone();
    let ttl = state.settings.token_ttl;
    blocking(move || {
        let (user, device, token, expires_at) =
            issue_token(backend.as_ref(), &req.username, &req.password, req.device_id.trim(), ttl)?;
        Ok(Json(LoginResponse {
            token,
            expires_at: expires_at.to_rfc3339(),
            device_key: terrain_core::identity::device_key_hex(&device),
            role: user.role.to_string(),
        }))
    })
    .await
}

/// Checks a password and issues a token for `device_id`, valid for `ttl`; the dashboard's
/// login uses it too. Wrong names and wrong passwords get the same answer.
pub fn issue_token(
    backend: &dyn Backend,
    username: &str,
    password_given: &str,
    device_id: &str,
    ttl: chrono::Duration,
) -> Result<(User, DeviceKey, String, DateTime<Utc>), ApiError> {
    let refused = || ApiError::unauthorized("wrong user name or password");
    let (user, hash) = backend.user_by_name(username)?.ok_or_else(refused)?;
    if !password::verify(&hash, password_given) {
        return Err(refused());
    }
    if user.disabled {
        return Err(ApiError::unauthorized("this account is disabled: ask an administrator"));
    }
    let device = backend.register_device(user.id, device_id)?;
    let (token, token_hash) = token::generate().map_err(ApiError::internal)?;
    let expires_at = Utc::now() + ttl;
    backend.insert_token(&token_hash, user.id, Some(&device), expires_at)?;
    backend.audit(Some(user.id), "auth.login", None, Some(device_id))?;
    Ok((user, device, token, expires_at))
}

/// Revokes the token of this request.
#[utoipa::path(post, path = "/api/v1/auth/logout", responses((status = 204)), security(("bearer" = [])))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    let backend = state.backend.clone();
    blocking(move || {
        backend.revoke_token(&caller.token_hash)?;
        backend.audit(Some(caller.user.id), "auth.logout", None, None)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// The user behind the token.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = User)), security(("bearer" = [])))]
pub async fn me(caller: Caller) -> Json<User> {
    Json(caller.user)
}
