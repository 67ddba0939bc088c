//! Surveys: read one, its field history and conflicts; supervisors correct answers and
//! assign surveys.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use terrain_core::survey::{AnswerPath, Conflict, FieldEdit};
use terrain_core::{Role, Value};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Caller;
use crate::backend::Backend;
use crate::error::{ApiError, blocking};
use crate::rules::{Principal, SurveyFacts};

/// Loads the caller and checks they may read the survey; a survey they may not read is
/// answered as not found, so that ids are not disclosed.
fn readable(backend: &dyn Backend, caller: Caller, survey_id: &str) -> Result<Principal, ApiError> {
    let principal = Principal::load(backend, caller.user)?;
    let not_found = || ApiError::not_found(format!("no survey `{survey_id}`"));
    let summary = backend.survey_summary(survey_id)?.ok_or_else(not_found)?;
    let project = backend.form_project(&summary.form_id)?;
    let assignees = backend.assignees(survey_id)?;
    let facts = SurveyFacts { created_by: &summary.created_by, project, assignees: &assignees };
    if !principal.can_read(&facts) {
        return Err(not_found());
    }
    Ok(principal)
}

/// A survey as JSON (`meta`, `answers`, `review`).
#[utoipa::path(get, path = "/api/v1/surveys/{survey}", params(("survey" = String, Path)),
    responses((status = 200, description = "the survey"), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(survey): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let backend = state.backend.clone();
    blocking(move || {
        readable(backend.as_ref(), caller, &survey)?;
        Ok(Json(backend.survey_json(&survey)?))
    })
    .await
}

/// Which answer.
#[derive(Debug, Deserialize)]
pub struct PathQuery {
    path: String,
}

/// Every edit of one answer: value, who, the device's time and the server's receipt time.
#[utoipa::path(get, path = "/api/v1/surveys/{survey}/history", params(("survey" = String, Path), ("path" = String, Query)),
    responses((status = 200, description = "the edits, oldest first")), security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(survey): Path<String>,
    Query(q): Query<PathQuery>,
) -> Result<Json<Vec<FieldEdit>>, ApiError> {
    let path: AnswerPath =
        q.path.parse().map_err(|e: terrain_core::survey::PathSyntaxError| ApiError::invalid(e.to_string()))?;
    let backend = state.backend.clone();
    blocking(move || {
        readable(backend.as_ref(), caller, &survey)?;
        Ok(Json(backend.history(&survey, &path).map_err(document_error)?))
    })
    .await
}

/// The answers with competing values.
#[utoipa::path(get, path = "/api/v1/surveys/{survey}/conflicts", params(("survey" = String, Path)),
    responses((status = 200, description = "the conflicts")), security(("bearer" = [])))]
pub async fn conflicts(
    State(state): State<AppState>,
    caller: Caller,
    Path(survey): Path<String>,
) -> Result<Json<Vec<Conflict>>, ApiError> {
    let backend = state.backend.clone();
    blocking(move || {
        readable(backend.as_ref(), caller, &survey)?;
        Ok(Json(backend.conflicts(&survey)?))
    })
    .await
}

/// A correction.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Correction {
    /// The answer's path (`member[0]/age`).
    pub path: String,
    /// The typed value (`{"type": "integer", "value": 41}`).
    #[schema(value_type = Object)]
    pub value: Value,
}

/// Corrects an answer (supervisors of the survey's team, admins), as a change under the
/// corrector's own actor, so history shows the original and the correction.
#[utoipa::path(put, path = "/api/v1/surveys/{survey}/answers", params(("survey" = String, Path)), request_body = Correction,
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn correct(
    State(state): State<AppState>,
    caller: Caller,
    Path(survey): Path<String>,
    Json(req): Json<Correction>,
) -> Result<StatusCode, ApiError> {
    let path: AnswerPath =
        req.path.parse().map_err(|e: terrain_core::survey::PathSyntaxError| ApiError::invalid(e.to_string()))?;
    let backend = state.backend.clone();
    blocking(move || {
        let principal = readable(backend.as_ref(), caller, &survey)?;
        if !matches!(principal.user.role, Role::Supervisor | Role::Admin) {
            return Err(ApiError::forbidden("only supervisors and administrators correct answers"));
        }
        backend.correct(&principal.user, &survey, &path, req.value).map_err(document_error)?;
        backend.audit(Some(principal.user.id), "survey.correct", Some(&survey), Some(&path.to_string()))?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Assigns a survey to a user (supervisors of the survey's team, admins).
#[utoipa::path(post, path = "/api/v1/surveys/{survey}/assignees", params(("survey" = String, Path)),
    request_body = crate::routes::admin::UserRef, responses((status = 204)), security(("bearer" = [])))]
pub async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Path(survey): Path<String>,
    Json(req): Json<crate::routes::admin::UserRef>,
) -> Result<StatusCode, ApiError> {
    let backend = state.backend.clone();
    blocking(move || {
        let principal = readable(backend.as_ref(), caller, &survey)?;
        if !matches!(principal.user.role, Role::Supervisor | Role::Admin) {
            return Err(ApiError::forbidden("only supervisors and administrators assign surveys"));
        }
        let assignee = backend
            .users()?
            .into_iter()
            .find(|u| u.id == req.user_id)
            .ok_or_else(|| ApiError::not_found(format!("user {} does not exist", req.user_id)))?;
        let form_id = backend.survey_summary(&survey)?.map(|s| s.form_id).unwrap_or_default();
        let project = backend.form_project(&form_id)?;
        // Assigning opens the survey to the assignee: only to someone the caller supervises
        // in the survey's project.
        if !principal.supervises(project, &assignee.username) {
            return Err(ApiError::forbidden(format!(
                "{} is not in a team you supervise in this survey's project",
                assignee.username
            )));
        }
        backend.assign(&survey, req.user_id)?;
        backend.audit(Some(principal.user.id), "survey.assign", Some(&survey), Some(&req.user_id.to_string()))?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

fn document_error(e: crate::backend::BackendError) -> ApiError {
    match e {
        crate::backend::BackendError::Store(terrain_core::StoreError::Document { source, .. }) => {
            ApiError::unprocessable("invalid", source.to_string())
        }
        other => other.into(),
    }
}
