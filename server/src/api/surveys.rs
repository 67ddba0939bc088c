//! Surveys: list them, read one, its field history and conflicts; supervisors review,
//! correct answers, settle conflicts and assign surveys.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use terrain_core::Value;
use terrain_core::survey::{AnswerPath, Conflict, FieldEdit};
use terrain_services::listing::{ListParams, SurveyPage};
use terrain_services::review::{BulkOutcome, ReviewRequest};
use utoipa::ToSchema;

use super::admin::UserRef;
use super::caller::Caller;
use super::error::ApiError;
use crate::http::{AppState, blocking};

fn parse_path(text: &str) -> Result<AnswerPath, ApiError> {
    text.parse().map_err(|e: terrain_core::survey::PathSyntaxError| ApiError::invalid(e.to_string()))
}

/// A survey as JSON (`meta`, `answers`, `review`).
#[utoipa::path(get, path = "/api/v1/surveys/{survey}", params(("survey" = String, Path)),
    responses((status = 200, description = "the survey"), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(survey): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.survey_json(&auth.scope, &survey)).await?))
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
    Caller(auth): Caller,
    Path(survey): Path<String>,
    Query(q): Query<PathQuery>,
) -> Result<Json<Vec<FieldEdit>>, ApiError> {
    let path = parse_path(&q.path)?;
    let services = state.services.clone();
    Ok(Json(blocking(move || services.history(&auth.scope, &survey, &path)).await?))
}

/// The answers with competing values.
#[utoipa::path(get, path = "/api/v1/surveys/{survey}/conflicts", params(("survey" = String, Path)),
    responses((status = 200, description = "the conflicts")), security(("bearer" = [])))]
pub async fn conflicts(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(survey): Path<String>,
) -> Result<Json<Vec<Conflict>>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.conflicts(&auth.scope, &survey)).await?))
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
    responses((status = 204), (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn correct(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(survey): Path<String>,
    Json(req): Json<Correction>,
) -> Result<StatusCode, ApiError> {
    let path = parse_path(&req.path)?;
    let services = state.services.clone();
    blocking(move || services.correct(&auth.scope, &survey, &path, req.value)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Assigns a survey to a user (supervisors of the survey's team, admins).
#[utoipa::path(post, path = "/api/v1/surveys/{survey}/assignees", params(("survey" = String, Path)),
    request_body = UserRef, responses((status = 204)), security(("bearer" = [])))]
pub async fn assign(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(survey): Path<String>,
    Json(req): Json<UserRef>,
) -> Result<StatusCode, ApiError> {
    let services = state.services.clone();
    blocking(move || services.assign(&auth.scope, &survey, req.user_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists the surveys the caller may see, filtered, sorted and paged by key.
#[utoipa::path(get, path = "/api/v1/surveys", params(ListParams),
    responses((status = 200, body = SurveyPage), (status = 400, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Query(params): Query<ListParams>,
) -> Result<Json<SurveyPage>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.list_surveys(&auth.scope, &params)).await?))
}

/// Reviews a survey: approve, reject, flag issues, send back to the enumerator with a
/// comment, or comment. The status and comments live in the survey's `review` map, so a
/// send-back reaches the enumerator's device at its next sync.
#[utoipa::path(post, path = "/api/v1/surveys/{survey}/review", params(("survey" = String, Path)), request_body = ReviewRequest,
    responses((status = 204), (status = 400, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn review(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(survey): Path<String>,
    Json(req): Json<ReviewRequest>,
) -> Result<StatusCode, ApiError> {
    let services = state.services.clone();
    blocking(move || services.review(&auth.scope, &survey, &req)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The same review action on several surveys.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkReview {
    /// The surveys (at most 1,000).
    pub surveys: Vec<String>,
    /// The action and its comment.
    #[serde(flatten)]
    pub request: ReviewRequest,
}

/// Approves or rejects (or any review action) several surveys at once; each survey is
/// checked on its own, so one refusal does not stop the others, and all are written in one
/// transaction.
#[utoipa::path(post, path = "/api/v1/reviews", request_body = BulkReview,
    responses((status = 200, body = BulkOutcome), (status = 400, body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn bulk_review(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Json(req): Json<BulkReview>,
) -> Result<Json<BulkOutcome>, ApiError> {
    let services = state.services.clone();
    Ok(Json(blocking(move || services.review_all(&auth.scope, &req.surveys, &req.request)).await?))
}
