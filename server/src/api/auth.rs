//! Log in (password → token bound to a device), refresh the token, log out (revoke), and
//! who am I.

use axum::Json;
use axum::extract::State;
use axum::http::{Extensions, StatusCode};
use serde::{Deserialize, Serialize};
use terrain_services::User;
use terrain_services::accounts::{Issued, LoginKind};
use utoipa::ToSchema;

use super::caller::{Bearer, Caller, PasswordCaller, client_ip};
use super::error::ApiError;
use crate::http::{AppState, blocking};

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
    /// How many seconds from now it expires: what a client with a wrong clock counts by.
    pub expires_in: u64,
    /// The device key (hex): the prefix of the device's Automerge actor ids.
    pub device_key: String,
    /// The user's role.
    pub role: String,
    /// Whose token it is (an enrolment names the user only in its QR code).
    pub username: String,
    /// An administrator reset the password: this token opens nothing but
    /// `PUT /api/v1/me/password` (and logging out) until the user chooses their own.
    pub must_change_password: bool,
    /// A device's login or enrolment only: its long-lived refresh token, which the device
    /// keeps (in secure storage) and sends only to `POST /api/v1/auth/refresh` for a new
    /// `token` once that one expires (`token_expired`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the refresh token expires (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_expires_at: Option<String>,
}

impl From<Issued> for LoginResponse {
    fn from(issued: Issued) -> Self {
        LoginResponse {
            token: issued.token,
            expires_at: issued.expires_at.to_rfc3339(),
            expires_in: (issued.expires_at - chrono::Utc::now()).num_seconds().max(0) as u64,
            device_key: terrain_core::identity::device_key_hex(&issued.device_key),
            role: issued.user.role.to_string(),
            username: issued.user.username.clone(),
            must_change_password: issued.user.must_change_password,
            refresh_expires_at: issued.refresh.as_ref().map(|(_, at)| at.to_rfc3339()),
            refresh_token: issued.refresh.map(|(token, _)| token),
        }
    }
}

/// Logs in. Failed attempts are throttled per account (a growing wait) and per address
/// (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = super::error::ErrorBody),
        (status = 429, body = super::error::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    extensions: Extensions,
    Json(req): Json<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let services = state.services.clone();
    let source = client_ip(&extensions);
    let issued =
        blocking(move || services.login(&req.username, &req.password, &req.device_id, source, LoginKind::Device))
            .await?;
    Ok(Json(issued.into()))
}

/// A new session token (of an hour) for the device whose refresh token (`refresh_token` of
/// its login or enrolment) this request carries; the refresh token stays as it is. A
/// session token is refused (403).
#[utoipa::path(post, path = "/api/v1/auth/refresh",
    responses((status = 200, body = LoginResponse), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn refresh(State(state): State<AppState>, Bearer(token): Bearer) -> Result<Json<LoginResponse>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.refresh(&token)).await?.into()))
}

/// Revokes the token of this request.
#[utoipa::path(post, path = "/api/v1/auth/logout", responses((status = 204)), security(("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    PasswordCaller(auth): PasswordCaller,
) -> Result<StatusCode, ApiError> {
    let services = state.services.clone();
    blocking(move || services.logout(&auth)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The user behind the token.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = User)), security(("bearer" = [])))]
pub async fn me(Caller(auth): Caller) -> Result<Json<User>, ApiError> {
    let user = auth.scope.user().cloned().ok_or_else(|| ApiError::unauthorized("this token stands for no user"))?;
    Ok(Json(user))
}

/// A new password for oneself.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePassword {
    /// The password now.
    pub current_password: String,
    /// The new one (at least 12 characters).
    pub new_password: String,
}

/// What a password change or reset ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsEnded {
    /// Sessions of the user that stopped working (this one excepted).
    pub ended_sessions: u64,
}

/// Changes one's own password, given the current one; the user's other sessions end (feed
/// tokens stay). Open to a user whose password an administrator reset. Wrong current
/// passwords are throttled as failed logins.
#[utoipa::path(put, path = "/api/v1/me/password", request_body = ChangePassword,
    responses((status = 200, body = SessionsEnded), (status = 400, body = super::error::ErrorBody),
        (status = 429, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn change_password(
    State(state): State<AppState>,
    PasswordCaller(auth): PasswordCaller,
    Json(req): Json<ChangePassword>,
) -> Result<Json<SessionsEnded>, ApiError> {
    let services = state.services.clone();
    let ended_sessions =
        blocking(move || services.change_password(&auth, &req.current_password, &req.new_password)).await?;
    Ok(Json(SessionsEnded { ended_sessions }))
}
