//! Enrolling devices by QR code: an administrator, or an enumerator's supervisor, makes a
//! one-time code for the user's new device (answered with the URL the QR code carries: this server's
//! address for phones, its certificate pin, the user and the code), lists and revokes
//! them; the device redeems the code for a token of its own, with no password.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use terrain_core::sync::{EnrolmentPayload, ServerAddress};
use terrain_services::accounts::Enrolment;
use terrain_services::accounts::IssuedEnrolment;
use utoipa::ToSchema;

use super::auth::LoginResponse;
use super::caller::{Caller, client_ip};
use super::error::ApiError;
use crate::http::{AppState, Scheme, blocking, origin};

/// What a new enrolment is for.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewEnrolment {
    /// A label (`Awa's new phone`), at most 100 characters.
    #[serde(default)]
    pub label: String,
}

/// A new enrolment: its code, shown once, and the QR code's content.
#[derive(Serialize, ToSchema)]
pub struct CreatedEnrolment {
    /// The enrolment, its code and user.
    #[serde(flatten)]
    pub issued: IssuedEnrolment,
    /// What the QR code holds: this server's address, its pin, the user and the code.
    pub payload: String,
}

/// The address phones reach this server by (`--public-url`, else the address this request
/// used) and, when it serves a self-signed certificate itself (`--pin-certificate`), that
/// certificate's pin.
pub(crate) fn server_address(state: &AppState, headers: &HeaderMap, scheme: Scheme) -> Result<ServerAddress, ApiError> {
    let base = state.settings.public_url.clone().unwrap_or_else(|| origin(headers, scheme));
    let pin = state.tls.as_ref().filter(|_| state.settings.pin_certificate).map(crate::Tls::pin);
    let address = match pin {
        Some(pin) => ServerAddress::pinned(&base, pin),
        None => ServerAddress::new(&base),
    };
    address.map_err(|e| {
        ApiError::invalid(format!(
            "phones could not reach this server at `{base}` ({e}): start it with --public-url https://… (the address \
             phones use)"
        ))
    })
}

/// The QR code's content for `issued`.
pub(crate) fn payload(server: ServerAddress, issued: &IssuedEnrolment) -> String {
    EnrolmentPayload { server, user: issued.username.clone(), code: issued.code.clone() }.to_url()
}

/// Makes a one-time code that enrols a device for the user (valid 24 hours, once).
#[utoipa::path(post, path = "/api/v1/users/{user}/enrolments", params(("user" = i64, Path)),
    request_body = NewEnrolment, responses((status = 201, body = CreatedEnrolment),
        (status = 403, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(user): Path<i64>,
    headers: HeaderMap,
    scheme: Scheme,
    Json(req): Json<NewEnrolment>,
) -> Result<(StatusCode, Json<CreatedEnrolment>), ApiError> {
    let server = server_address(&state, &headers, scheme)?;
    let services = state.services.clone();
    let issued = blocking(move || services.create_enrolment(&auth.scope, user, &req.label)).await?;
    let payload = payload(server, &issued);
    Ok((StatusCode::CREATED, Json(CreatedEnrolment { issued, payload })))
}

/// The user's enrolments, newest first (their codes are never shown again).
#[utoipa::path(get, path = "/api/v1/users/{user}/enrolments", params(("user" = i64, Path)),
    responses((status = 200, body = Vec<Enrolment>), (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(user): Path<i64>,
) -> Result<Json<Vec<Enrolment>>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.enrolments(&auth.scope, user)).await?))
}

/// Revokes an enrolment no device used yet.
#[utoipa::path(delete, path = "/api/v1/users/{user}/enrolments/{id}", params(("user" = i64, Path), ("id" = i64, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((user, id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    let services = state.services.clone();
    blocking(move || services.revoke_enrolment(&auth.scope, user, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A device redeeming a code (no `Debug`: it would print the code).
#[derive(Deserialize, ToSchema)]
pub struct Redeem {
    /// The code from the QR code.
    pub code: String,
    /// A stable identifier of the device (the app generates one at install).
    pub device_id: String,
}

/// Redeems an enrolment code for a device token, as a login gives (throttled per address).
#[utoipa::path(post, path = "/api/v1/enrol", request_body = Redeem,
    responses((status = 200, body = LoginResponse), (status = 401, body = super::error::ErrorBody),
        (status = 429, body = super::error::ErrorBody)))]
pub async fn redeem(
    State(state): State<AppState>,
    extensions: Extensions,
    Json(req): Json<Redeem>,
) -> Result<Json<LoginResponse>, ApiError> {
    let services = state.services.clone();
    let source = client_ip(&extensions);
    let issued = blocking(move || services.redeem_enrolment(&req.code, &req.device_id, source)).await?;
    Ok(Json(issued.into()))
}
