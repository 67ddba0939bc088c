//! Supervisors' work on surveys, shared by the JSON API and the dashboard: who may open a
//! survey, review actions (approve, reject, flag, send back, comment), corrections and
//! conflict resolution, each written as an Automerge change under the reviewer's own actor
//! and recorded in the audit log.

use serde::{Deserialize, Serialize};
use terrain_core::survey::{AnswerPath, NewComment, ReviewStatus};
use terrain_core::{Role, Value};
use utoipa::ToSchema;

use crate::backend::{Backend, BackendError};
use crate::error::ApiError;
use crate::rules::{Principal, SurveyFacts};

/// What a reviewer does to a survey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    /// Accept it.
    Approve,
    /// Refuse it (kept, but out of datasets).
    Reject,
    /// Flag problems without sending it back yet.
    HasIssues,
    /// Send it back to the enumerator's device with a comment.
    SendBack,
    /// Only add a comment.
    Comment,
}

impl ReviewAction {
    /// The review status the action sets, if any.
    pub fn status(self) -> Option<ReviewStatus> {
        match self {
            ReviewAction::Approve => Some(ReviewStatus::Approved),
            ReviewAction::Reject => Some(ReviewStatus::Rejected),
            ReviewAction::HasIssues => Some(ReviewStatus::HasIssues),
            ReviewAction::SendBack => Some(ReviewStatus::SentBack),
            ReviewAction::Comment => None,
        }
    }

    /// The name used in the audit log (`review.send_back`).
    pub fn audit_name(self) -> &'static str {
        match self {
            ReviewAction::Approve => "review.approve",
            ReviewAction::Reject => "review.reject",
            ReviewAction::HasIssues => "review.has_issues",
            ReviewAction::SendBack => "review.send_back",
            ReviewAction::Comment => "review.comment",
        }
    }
}

/// A review action with its optional comment.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ReviewRequest {
    /// What to do.
    pub action: ReviewAction,
    /// A comment (required to send back or to comment).
    #[serde(default)]
    pub comment: Option<String>,
    /// The question the comment is about.
    #[serde(default)]
    pub question: Option<String>,
}

/// Loads the caller's principal and checks they may read the survey. A survey they may not
/// read is answered as not found, so that survey ids are not disclosed.
pub fn open_survey(backend: &dyn Backend, principal: &Principal, survey_id: &str) -> Result<(), ApiError> {
    let not_found = || ApiError::not_found(format!("no survey `{survey_id}`"));
    let summary = backend.survey_summary(survey_id)?.ok_or_else(not_found)?;
    let project = backend.form_project(&summary.form_id)?;
    let assignees = backend.assignees(survey_id)?;
    let facts = SurveyFacts { created_by: &summary.created_by, project, assignees: &assignees };
    if !principal.can_read(&facts) {
        return Err(not_found());
    }
    Ok(())
}

fn require_reviewer(principal: &Principal, what: &str) -> Result<(), ApiError> {
    if matches!(principal.user.role, Role::Supervisor | Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("only supervisors and administrators {what}")))
    }
}

/// Applies a review action to one survey and records it in the audit log.
pub fn review(
    backend: &dyn Backend,
    principal: &Principal,
    survey_id: &str,
    request: &ReviewRequest,
) -> Result<(), ApiError> {
    open_survey(backend, principal, survey_id)?;
    require_reviewer(principal, "review surveys")?;
    let text = request.comment.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if text.is_none() && matches!(request.action, ReviewAction::SendBack | ReviewAction::Comment) {
        return Err(ApiError::invalid("write a comment: the enumerator needs to know what to fix"));
    }
    let comment = text.map(|t| NewComment { text: t.to_owned(), question: request.question.clone() });
    backend.review(&principal.user, survey_id, request.action.status(), comment.as_ref()).map_err(edit_error)?;
    let detail = serde_json::json!({ "comment": text, "question": request.question }).to_string();
    backend.audit(Some(principal.user.id), request.action.audit_name(), Some(survey_id), Some(&detail))?;
    Ok(())
}

/// Corrects an answer (or settles a conflict by choosing or entering its value) and records
/// it in the audit log.
pub fn correct(
    backend: &dyn Backend,
    principal: &Principal,
    survey_id: &str,
    path: &AnswerPath,
    value: Value,
) -> Result<(), ApiError> {
    open_survey(backend, principal, survey_id)?;
    require_reviewer(principal, "correct answers")?;
    let had_conflict = backend.conflicts(survey_id)?.iter().any(|c| c.path == *path);
    let detail = serde_json::json!({ "path": path.to_string(), "value": value }).to_string();
    backend.correct(&principal.user, survey_id, path, value).map_err(edit_error)?;
    let action = if had_conflict { "survey.resolve_conflict" } else { "survey.correct" };
    backend.audit(Some(principal.user.id), action, Some(survey_id), Some(&detail))?;
    Ok(())
}

/// A refused edit (wrong type for the question, unknown path…) is the caller's to fix.
pub fn edit_error(e: BackendError) -> ApiError {
    match e {
        BackendError::Store(terrain_core::StoreError::Document { source, .. }) => {
            ApiError::unprocessable("invalid", source.to_string())
        }
        other => other.into(),
    }
}
