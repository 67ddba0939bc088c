//! Surveys: list them, read one, its field history and conflicts; supervisors review,
//! correct answers, settle conflicts and assign surveys.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use terrain_core::survey::{AnswerPath, Conflict, FieldEdit};
use terrain_core::{Role, Value};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Caller;
use crate::backend::Backend;
use crate::error::{ApiError, blocking};
use crate::listing::{self, ListParams, SurveyPage};
use crate::review::{self, ReviewRequest};
use crate::rules::Principal;

/// Loads the caller and checks they may read the survey.
fn readable(backend: &dyn Backend, caller: Caller, survey_id: &str) -> Result<Principal, ApiError> {
    let principal = Principal::load(backend, caller.user)?;
    review::open_survey(backend, &principal, survey_id)?;
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
        Ok(Json(backend.history(&survey, &path).map_err(review::edit_error)?))
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

/// Corrects an answer, or settles a conflict by choosing or entering its value (supervisors
/// of the survey's team, admins), as a change under the corrector's own actor, so history
/// shows the original and the correction.
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
        let principal = Principal::load(backend.as_ref(), caller.user)?;
        review::correct(backend.as_ref(), &principal, &survey, &path, req.value)?;
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

/// Lists the surveys the caller may see, filtered, sorted and paged by key.
#[utoipa::path(get, path = "/api/v1/surveys", params(ListParams),
    responses((status = 200, body = SurveyPage), (status = 400, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<Json<SurveyPage>, ApiError> {
    let backend = state.backend.clone();
    blocking(move || {
        let principal = Principal::load(backend.as_ref(), caller.user)?;
        Ok(Json(listing::page(backend.as_ref(), &principal, &params)?))
    })
    .await
}

/// Reviews a survey: approve, reject, flag issues, send back to the enumerator with a
/// comment, or comment. The status and comments live in the survey's `review` map, so a
/// send-back reaches the enumerator's device at its next sync.
#[utoipa::path(post, path = "/api/v1/surveys/{survey}/review", params(("survey" = String, Path)), request_body = ReviewRequest,
    responses((status = 204), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn review(
    State(state): State<AppState>,
    caller: Caller,
    Path(survey): Path<String>,
    Json(req): Json<ReviewRequest>,
) -> Result<StatusCode, ApiError> {
    let backend = state.backend.clone();
    blocking(move || {
        let principal = Principal::load(backend.as_ref(), caller.user)?;
        review::review(backend.as_ref(), &principal, &survey, &req)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// The same review action on several surveys.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkReview {
    /// The surveys.
    pub surveys: Vec<String>,
    /// The action and its comment.
    #[serde(flatten)]
    pub request: ReviewRequest,
}

/// What a bulk review did.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkOutcome {
    /// The surveys reviewed.
    pub done: Vec<String>,
    /// The surveys not reviewed, each with why.
    pub failed: Vec<BulkFailure>,
}

/// A survey a bulk review could not act on.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkFailure {
    /// The survey.
    pub survey_id: String,
    /// The error code.
    pub code: String,
    /// Why.
    pub message: String,
}

/// The most surveys one bulk review may name.
const MAX_BULK: usize = 1000;

/// Approves or rejects (or any review action) several surveys at once; each survey is
/// checked and written on its own, so one refusal does not stop the others.
#[utoipa::path(post, path = "/api/v1/reviews", request_body = BulkReview,
    responses((status = 200, body = BulkOutcome), (status = 400, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn bulk_review(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<BulkReview>,
) -> Result<Json<BulkOutcome>, ApiError> {
    if req.surveys.len() > MAX_BULK {
        return Err(ApiError::invalid(format!("review at most {MAX_BULK} surveys at once")));
    }
    let backend = state.backend.clone();
    blocking(move || {
        let principal = Principal::load(backend.as_ref(), caller.user)?;
        Ok(Json(bulk(backend.as_ref(), &principal, &req.surveys, &req.request)))
    })
    .await
}

/// Applies one review action to each survey, collecting failures.
pub fn bulk(backend: &dyn Backend, principal: &Principal, surveys: &[String], request: &ReviewRequest) -> BulkOutcome {
    let mut outcome = BulkOutcome { done: Vec::new(), failed: Vec::new() };
    for survey in surveys {
        match review::review(backend, principal, survey, request) {
            Ok(()) => outcome.done.push(survey.clone()),
            Err(e) => outcome.failed.push(BulkFailure {
                survey_id: survey.clone(),
                code: e.code.to_owned(),
                message: e.message,
            }),
        }
    }
    outcome
}
