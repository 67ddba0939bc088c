//! Who is calling: the bearer token of a request, checked by the accounts service (which
//! also throttles each token), and the address a request came from.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use terrain_services::accounts::Authenticated;

use super::error::ApiError;
use crate::http::{AppState, ClientAddr, blocking};

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub struct Caller(pub Authenticated);

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
        Ok(Caller(authenticate(state, token).await?))
    }
}

/// Checks a token; bearer headers (devices, scripts) and the dashboard's cookie both come here.
pub async fn authenticate(state: &AppState, token: String) -> Result<Authenticated, ApiError> {
    let services = state.services.clone();
    Ok(blocking(move || services.authenticate(&token)).await?)
}

/// The address of the client, when the listener recorded it.
pub fn client_ip(parts: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    parts.get::<ClientAddr>().map(|a| a.0.ip())
}
