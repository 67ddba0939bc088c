//! Authentication: argon2id password hashes, random bearer tokens stored hashed, and the
//! extractor that turns a request's token into the user behind it.

pub mod password;
pub mod token;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::Utc;

use crate::app::AppState;
use crate::backend::{DeviceKey, User};
use crate::error::{ApiError, blocking};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub user: User,
    /// The device the token was issued to, if any.
    pub device: Option<DeviceKey>,
    /// The token's hash (to revoke it at logout).
    pub token_hash: [u8; 32],
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthorized("log in first: send `Authorization: Bearer <token>`"))?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?
            .trim()
            .to_owned();
        caller_for_token(state, &token).await
    }
}

/// The caller a token stands for, if it is known, unexpired, unrevoked and its user enabled.
/// Bearer headers (devices, scripts) and the dashboard's session cookie both come here.
pub async fn caller_for_token(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let hash = token::hash(token);
    let backend = state.backend.clone();
    let record = blocking(move || Ok(backend.token(&hash)?)).await?;
    let record = record.ok_or_else(|| ApiError::unauthorized("unknown token: log in again"))?;
    if record.revoked {
        return Err(ApiError::unauthorized("this token was revoked: log in again"));
    }
    if record.expires_at <= Utc::now() {
        return Err(ApiError::unauthorized("this token has expired: log in again"));
    }
    if record.user.disabled {
        return Err(ApiError::unauthorized("this account is disabled: ask an administrator"));
    }
    Ok(Caller { user: record.user, device: record.device_key, token_hash: hash })
}
