//! Administration: users, projects, teams and the audit log. Admins only, except reading
//! the projects and teams one belongs to.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use terrain_core::Role;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::{Caller, password};
use crate::backend::{AuditEntry, NewUser, Project, Team, User};
use crate::error::{ApiError, blocking};
use crate::rules::Principal;

fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.user.role == Role::Admin { Ok(()) } else { Err(ApiError::forbidden("only administrators may do this")) }
}

/// A user to create.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUser {
    /// Login name (letters, digits, `.`, `_`, `-`).
    pub username: String,
    /// Password (at least 10 characters).
    pub password: String,
    /// enumerator, supervisor, analyst or admin.
    pub role: String,
    /// Name to show.
    pub display_name: Option<String>,
}

/// Validates and creates a user: shared by the API and `terrain admin create-user`.
pub fn create_user_checked(backend: &dyn crate::backend::Backend, req: &CreateUser) -> Result<User, ApiError> {
    let valid_name = !req.username.is_empty()
        && req.username.len() <= 64
        && req.username.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !valid_name {
        return Err(ApiError::invalid("a user name is 1 to 64 letters, digits, `.`, `_` or `-`"));
    }
    let role: Role =
        req.role.parse().map_err(|e: terrain_core::identity::UnknownRole| ApiError::invalid(e.to_string()))?;
    password::check_strength(&req.password).map_err(ApiError::invalid)?;
    let password_hash = password::hash(&req.password).map_err(ApiError::internal)?;
    Ok(backend.create_user(&NewUser {
        username: req.username.clone(),
        password_hash,
        role,
        display_name: req.display_name.clone(),
    })?)
}

/// Creates a user.
#[utoipa::path(post, path = "/api/v1/users", request_body = CreateUser,
    responses((status = 201, body = User), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    require_admin(&caller)?;
    let backend = state.backend.clone();
    blocking(move || {
        let user = create_user_checked(backend.as_ref(), &req)?;
        backend.audit(Some(caller.user.id), "user.create", None, Some(&user.username))?;
        Ok((StatusCode::CREATED, Json(user)))
    })
    .await
}

/// Every user.
#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, body = Vec<User>)), security(("bearer" = [])))]
pub async fn users(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<User>>, ApiError> {
    require_admin(&caller)?;
    let backend = state.backend.clone();
    blocking(move || Ok(Json(backend.users()?))).await
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
    caller: Caller,
    Path(user): Path<i64>,
    Json(req): Json<Disabled>,
) -> Result<StatusCode, ApiError> {
    require_admin(&caller)?;
    let backend = state.backend.clone();
    blocking(move || {
        backend.set_disabled(user, req.disabled)?;
        backend.audit(Some(caller.user.id), "user.disable", None, Some(&format!("{user} {}", req.disabled)))?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
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
    caller: Caller,
    Json(req): Json<Named>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    require_admin(&caller)?;
    let backend = state.backend.clone();
    blocking(move || {
        let project = backend.create_project(req.name.trim())?;
        backend.audit(Some(caller.user.id), "project.create", None, Some(&project.name))?;
        Ok((StatusCode::CREATED, Json(project)))
    })
    .await
}

/// The projects the caller belongs to (all, for admins).
#[utoipa::path(get, path = "/api/v1/projects", responses((status = 200, body = Vec<Project>)), security(("bearer" = [])))]
pub async fn projects(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<Project>>, ApiError> {
    let backend = state.backend.clone();
    blocking(move || {
        let principal = Principal::load(backend.as_ref(), caller.user)?;
        let all = backend.projects()?;
        Ok(Json(
            all.into_iter()
                .filter(|p| principal.user.role == Role::Admin || principal.membership.projects.contains(&p.id))
                .collect(),
        ))
    })
    .await
}

/// Adds a user (an analyst, say) to a project.
#[utoipa::path(post, path = "/api/v1/projects/{project}/members", params(("project" = i64, Path)), request_body = UserRef,
    responses((status = 204)), security(("bearer" = [])))]
pub async fn add_project_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<i64>,
    Json(req): Json<UserRef>,
) -> Result<StatusCode, ApiError> {
    require_admin(&caller)?;
    let backend = state.backend.clone();
    blocking(move || {
        backend.add_project_member(project, req.user_id)?;
        backend.audit(Some(caller.user.id), "project.member", None, Some(&format!("{project} {}", req.user_id)))?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Creates a team (a zone) in a project.
#[utoipa::path(post, path = "/api/v1/projects/{project}/teams", params(("project" = i64, Path)), request_body = Named,
    responses((status = 201, body = Team)), security(("bearer" = [])))]
pub async fn create_team(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<i64>,
    Json(req): Json<Named>,
) -> Result<(StatusCode, Json<Team>), ApiError> {
    require_admin(&caller)?;
    let backend = state.backend.clone();
    blocking(move || {
        let team = backend.create_team(project, req.name.trim())?;
        backend.audit(Some(caller.user.id), "team.create", None, Some(&team.name))?;
        Ok((StatusCode::CREATED, Json(team)))
    })
    .await
}

/// The teams the caller belongs to (all, for admins).
#[utoipa::path(get, path = "/api/v1/teams", responses((status = 200, body = Vec<Team>)), security(("bearer" = [])))]
pub async fn teams(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<Team>>, ApiError> {
    let backend = state.backend.clone();
    blocking(move || {
        let principal = Principal::load(backend.as_ref(), caller.user)?;
        let all = backend.teams()?;
        Ok(Json(
            all.into_iter()
                .filter(|t| principal.user.role == Role::Admin || principal.membership.teams.contains(&t.id))
                .collect(),
        ))
    })
    .await
}

/// A team's members (admins, and the team's own members).
#[utoipa::path(get, path = "/api/v1/teams/{team}/members", params(("team" = i64, Path)), responses((status = 200, body = Vec<User>)), security(("bearer" = [])))]
pub async fn team_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(team): Path<i64>,
) -> Result<Json<Vec<User>>, ApiError> {
    let backend = state.backend.clone();
    blocking(move || {
        let principal = Principal::load(backend.as_ref(), caller.user)?;
        if principal.user.role != Role::Admin && !principal.membership.teams.contains(&team) {
            return Err(ApiError::forbidden("you are not a member of this team"));
        }
        Ok(Json(backend.team_members(team)?))
    })
    .await
}

/// Adds a user to a team.
#[utoipa::path(post, path = "/api/v1/teams/{team}/members", params(("team" = i64, Path)), request_body = UserRef,
    responses((status = 204)), security(("bearer" = [])))]
pub async fn add_team_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(team): Path<i64>,
    Json(req): Json<UserRef>,
) -> Result<StatusCode, ApiError> {
    require_admin(&caller)?;
    let backend = state.backend.clone();
    blocking(move || {
        backend.add_team_member(team, req.user_id)?;
        backend.audit(Some(caller.user.id), "team.member", None, Some(&format!("{team} {}", req.user_id)))?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
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
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    let backend = state.backend.clone();
    let limit = q.limit.unwrap_or(500).min(100_000);
    let entries = blocking(move || Ok(backend.audit_log(limit)?)).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(entries).into_response()),
        Some("csv") => {
            let body = audit_csv(&entries).map_err(ApiError::internal)?;
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

/// The audit log as CSV: one row per entry, times in RFC 3339 (UTC).
pub fn audit_csv(entries: &[AuditEntry]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["at", "user", "action", "survey_id", "detail"])?;
    for e in entries {
        out.write_record([
            e.at.to_rfc3339().as_str(),
            e.user.as_deref().unwrap_or(""),
            e.action.as_str(),
            e.survey_id.as_deref().unwrap_or(""),
            e.detail.as_deref().unwrap_or(""),
        ])?;
    }
    out.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}
