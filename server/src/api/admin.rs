//! Administration: users, projects (and their settings), teams, the audit log, and the
//! surveys that need attention. Admins only, except reading the projects and teams one
//! belongs to.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use terrain_services::accounts::{CreateUser, ProjectSettings};
use terrain_services::{AuditEntry, Fault, Project, Team, User};
use utoipa::ToSchema;

use super::caller::{Caller, Reader};
use super::error::ApiError;
use crate::http::{AppState, blocking};

/// Creates a user.
#[utoipa::path(post, path = "/api/v1/users", request_body = CreateUser,
    responses((status = 201, body = User), (status = 403, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Json(req): Json<CreateUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let services = state.services.clone();
    let user = blocking(move || services.create_user(&auth.scope, &req)).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Every user.
#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, body = Vec<User>)), security(("bearer" = [])))]
pub async fn users(State(state): State<AppState>, Caller(auth): Caller) -> Result<Json<Vec<User>>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.users(&auth.scope)).await?))
}

/// Whether to disable.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Disabled {
    /// true disables the user and revokes their tokens.
    pub disabled: bool,
}

/// Enables or disables a user.
#[utoipa::path(put, path = "/api/v1/users/{user}/disabled", params(("user" = i64, Path)), request_body = Disabled,
    responses((status = 204)), security(("bearer" = [])))]
pub async fn set_disabled(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(user): Path<i64>,
    Json(req): Json<Disabled>,
) -> Result<StatusCode, ApiError> {
    let services = state.services.clone();
    blocking(move || services.set_disabled(&auth.scope, user, req.disabled)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's devices (phones, tablets, tools), the last to sync first: the owner, their
/// supervisor or an administrator.
#[utoipa::path(get, path = "/api/v1/users/{user}/devices", params(("user" = i64, Path)),
    responses((status = 200, body = terrain_services::accounts::Devices), (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn devices(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(user): Path<i64>,
) -> Result<Json<terrain_services::accounts::Devices>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.devices(&auth.scope, user)).await?))
}

/// Revokes one of a user's devices (lost, stolen, replaced): its sessions end at once, its
/// next request is refused with `device_revoked`, and it may not log in again.
#[utoipa::path(delete, path = "/api/v1/users/{user}/devices/{device}", params(("user" = i64, Path),
    ("device" = String, Path, description = "the device key, 16 hexadecimal digits")),
    responses((status = 200, body = super::auth::SessionsEnded), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_device(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((user, device)): Path<(i64, String)>,
) -> Result<Json<super::auth::SessionsEnded>, ApiError> {
    let services = state.services.clone();
    let ended_sessions = blocking(move || services.revoke_device(&auth.scope, user, &device)).await?;
    Ok(Json(super::auth::SessionsEnded { ended_sessions }))
}

/// A temporary password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetPassword {
    /// At least 12 characters; the user must replace it at their next login.
    pub password: String,
}

/// Sets a temporary password for a user (administrators): their sessions end at once, and
/// their next login opens nothing but the password change until they choose their own.
#[utoipa::path(put, path = "/api/v1/users/{user}/password", params(("user" = i64, Path)),
    request_body = ResetPassword, responses((status = 200, body = super::auth::SessionsEnded)),
    security(("bearer" = [])))]
pub async fn reset_password(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(user): Path<i64>,
    Json(req): Json<ResetPassword>,
) -> Result<Json<super::auth::SessionsEnded>, ApiError> {
    let services = state.services.clone();
    let ended_sessions = blocking(move || services.reset_password(&auth.scope, user, &req.password)).await?;
    Ok(Json(super::auth::SessionsEnded { ended_sessions }))
}

/// A name.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Named {
    /// The name.
    pub name: String,
}

/// A user id.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserRef {
    /// The user's id.
    pub user_id: i64,
}

/// Creates a project.
#[utoipa::path(post, path = "/api/v1/projects", request_body = Named, responses((status = 201, body = Project)), security(("bearer" = [])))]
pub async fn create_project(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Json(req): Json<Named>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    let services = state.services.clone();
    let project = blocking(move || services.create_project(&auth.scope, &req.name)).await?;
    Ok((StatusCode::CREATED, Json(project)))
}

/// The projects the caller belongs to (all, for admins).
#[utoipa::path(get, path = "/api/v1/projects", responses((status = 200, body = Vec<Project>)), security(("bearer" = [])))]
pub async fn projects(State(state): State<AppState>, Reader(auth): Reader) -> Result<Json<Vec<Project>>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.projects(&auth.scope)).await?))
}

/// A project's settings.
#[utoipa::path(get, path = "/api/v1/projects/{project}/settings", params(("project" = i64, Path)),
    responses((status = 200, body = ProjectSettings)), security(("bearer" = [])))]
pub async fn project_settings(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(project): Path<i64>,
) -> Result<Json<ProjectSettings>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.project_settings(&auth.scope, project)).await?))
}

/// Changes a project's settings (admins): whether approved surveys are frozen.
#[utoipa::path(put, path = "/api/v1/projects/{project}/settings", params(("project" = i64, Path)),
    request_body = ProjectSettings, responses((status = 204)), security(("bearer" = [])))]
pub async fn set_project_settings(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(project): Path<i64>,
    Json(req): Json<ProjectSettings>,
) -> Result<StatusCode, ApiError> {
    let services = state.services.clone();
    blocking(move || services.set_project_settings(&auth.scope, project, req)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a user (an analyst, say) to a project.
#[utoipa::path(post, path = "/api/v1/projects/{project}/members", params(("project" = i64, Path)), request_body = UserRef,
    responses((status = 204)), security(("bearer" = [])))]
pub async fn add_project_member(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(project): Path<i64>,
    Json(req): Json<UserRef>,
) -> Result<StatusCode, ApiError> {
    let services = state.services.clone();
    blocking(move || services.add_project_member(&auth.scope, project, req.user_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates a team (a zone) in a project.
#[utoipa::path(post, path = "/api/v1/projects/{project}/teams", params(("project" = i64, Path)), request_body = Named,
    responses((status = 201, body = Team)), security(("bearer" = [])))]
pub async fn create_team(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(project): Path<i64>,
    Json(req): Json<Named>,
) -> Result<(StatusCode, Json<Team>), ApiError> {
    let services = state.services.clone();
    let team = blocking(move || services.create_team(&auth.scope, project, &req.name)).await?;
    Ok((StatusCode::CREATED, Json(team)))
}

/// The teams the caller belongs to (all, for admins).
#[utoipa::path(get, path = "/api/v1/teams", responses((status = 200, body = Vec<Team>)), security(("bearer" = [])))]
pub async fn teams(State(state): State<AppState>, Caller(auth): Caller) -> Result<Json<Vec<Team>>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.teams(&auth.scope)).await?))
}

/// A team's members (admins, and the team's own members).
#[utoipa::path(get, path = "/api/v1/teams/{team}/members", params(("team" = i64, Path)), responses((status = 200, body = Vec<User>)), security(("bearer" = [])))]
pub async fn team_members(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(team): Path<i64>,
) -> Result<Json<Vec<User>>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.team_members(&auth.scope, team)).await?))
}

/// Adds a user to a team.
#[utoipa::path(post, path = "/api/v1/teams/{team}/members", params(("team" = i64, Path)), request_body = UserRef,
    responses((status = 204)), security(("bearer" = [])))]
pub async fn add_team_member(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(team): Path<i64>,
    Json(req): Json<UserRef>,
) -> Result<StatusCode, ApiError> {
    let services = state.services.clone();
    blocking(move || services.add_team_member(&auth.scope, team, req.user_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which audit entries, and how.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    limit: Option<u32>,
    format: Option<String>,
}

/// The audit log, newest first, as JSON or (`format=csv`) as a CSV file to keep.
#[utoipa::path(get, path = "/api/v1/audit", params(("limit" = Option<u32>, Query), ("format" = Option<String>, Query)),
    responses((status = 200, body = Vec<AuditEntry>)), security(("bearer" = [])))]
pub async fn audit(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    auth.scope.may_administer()?;
    let services = state.services.clone();
    let limit = q.limit.unwrap_or(500);
    match q.format.as_deref() {
        None | Some("json") => {
            Ok(Json(blocking(move || services.audit_log(&auth.scope, limit)).await?).into_response())
        }
        Some("csv") => {
            let body = blocking(move || services.audit_csv(&auth.scope, limit)).await?;
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (header::CONTENT_DISPOSITION, "attachment; filename=\"terrain-audit.csv\""),
                ],
                body,
            )
                .into_response())
        }
        Some(other) => Err(ApiError::invalid(format!("`format` is json or csv, not `{other}`"))),
    }
}

/// The surveys that could not be read and need an administrator's attention.
#[utoipa::path(get, path = "/api/v1/attention", responses((status = 200, body = Vec<Fault>)), security(("bearer" = [])))]
pub async fn attention(State(state): State<AppState>, Caller(auth): Caller) -> Result<Json<Vec<Fault>>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.faults(&auth.scope)).await?))
}
