//! Who is calling: the bearer token of a request ([`Caller`]: sessions only) or the
//! credentials of a request that only reads ([`Reader`]: feed tokens too, and HTTP Basic),
//! checked by the accounts service (which also throttles each token), and the address a
//! request came from.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use terrain_services::accounts::Authenticated;

use super::error::ApiError;
use crate::http::{AppState, ClientAddr, blocking};

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub struct Caller(pub Authenticated);

/// The bearer token of a request.
fn bearer(parts: &Parts) -> Result<String, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("log in first: send `Authorization: Bearer <token>`"))?;
    Ok(header
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?
        .trim()
        .to_owned())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        Ok(Caller(authenticate(state, bearer(parts)?).await?))
    }
}

/// A request's bearer token as sent, for the one route that checks it itself: the refresh,
/// which takes a device's refresh token that every other route refuses.
#[derive(Debug, Clone)]
pub struct Bearer(pub String);

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Bearer, ApiError> {
        Ok(Bearer(bearer(parts)?))
    }
}

/// The caller of the password change and of logging out: also a user whose password an
/// administrator reset, whom [`Caller`] refuses until they choose their own.
#[derive(Debug, Clone)]
pub struct PasswordCaller(pub Authenticated);

impl FromRequestParts<AppState> for PasswordCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<PasswordCaller, ApiError> {
        Ok(PasswordCaller(authenticate_to_change_password(state, bearer(parts)?).await?))
    }
}

/// A refused reader: an API error, with a Basic challenge when it is about signing in.
#[derive(Debug)]
pub struct ReaderError(ApiError);

impl<E: Into<ApiError>> From<E> for ReaderError {
    fn from(e: E) -> Self {
        ReaderError(e.into())
    }
}

impl IntoResponse for ReaderError {
    fn into_response(self) -> Response {
        let challenge = self.0.status == StatusCode::UNAUTHORIZED;
        let mut response = self.0.into_response();
        if challenge {
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Terrain feeds\""));
        }
        response
    }
}

/// The caller of a request that only reads (feeds, exports, the lists of projects and
/// forms): a feed token or a session token, as a bearer or as the password of HTTP Basic
/// (with the user's name), as Excel and Power BI send it. A request without either is
/// answered with a Basic challenge, so that those tools ask for it.
#[derive(Debug, Clone)]
pub struct Reader(pub Authenticated);

impl FromRequestParts<AppState> for Reader {
    type Rejection = ReaderError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Reader, ReaderError> {
        let (username, token) = credentials(&parts.headers)?.ok_or_else(|| {
            ApiError::unauthorized("sign in with your user name and a feed token (Basic), or send a bearer token")
        })?;
        let services = state.services.clone();
        let auth = blocking(move || services.authenticate_feed(&token, username.as_deref())).await?;
        Ok(Reader(auth))
    }
}

/// The token in a request's Authorization header, `Bearer` or `Basic` (with its user
/// name); `None` without the header.
pub fn credentials(headers: &HeaderMap) -> Result<Option<(Option<String>, String)>, ApiError> {
    let Some(header) = headers.get(AUTHORIZATION) else { return Ok(None) };
    let header = header.to_str().map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
    if let Some(token) = header.strip_prefix("Bearer ") {
        return Ok(Some((None, token.trim().to_owned())));
    }
    let Some(encoded) = header.strip_prefix("Basic ") else {
        return Err(ApiError::unauthorized("the Authorization header must be `Basic …` or `Bearer …`"));
    };
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::unauthorized("the Basic credentials are not base64 of `user:token`"))?;
    let (user, token) =
        decoded.split_once(':').ok_or_else(|| ApiError::unauthorized("the Basic credentials must be `user:token`"))?;
    Ok(Some((Some(user.to_owned()), token.to_owned())))
}

/// Checks a token; bearer headers (devices, scripts) and the dashboard's cookie both come here.
pub async fn authenticate(state: &AppState, token: String) -> Result<Authenticated, ApiError> {
    let services = state.services.clone();
    Ok(blocking(move || services.authenticate(&token)).await?)
}

/// [`authenticate`] for the password change and logging out, which also admit a user whose
/// password an administrator reset.
pub async fn authenticate_to_change_password(state: &AppState, token: String) -> Result<Authenticated, ApiError> {
    let services = state.services.clone();
    Ok(blocking(move || services.authenticate_to_change_password(&token)).await?)
}

/// The address of the client, when the listener recorded it.
pub fn client_ip(parts: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    parts.get::<ClientAddr>().map(|a| a.0.ip())
}
