//! Supervisors' work on surveys: review actions (approve, reject, flag, send back,
//! comment), single or in bulk, corrections and conflict settling, and assignments. Each is
//! a change under the reviewer's own actor, and each is in the audit log.

use serde::{Deserialize, Serialize};
use serde_json::json;
use terrain_backend::{ReviewItem, User, UserId};
use terrain_core::Value;
use terrain_core::form::FormIndex;
use terrain_core::survey::{AnswerPath, NewComment, ReviewStatus};
use utoipa::ToSchema;

use crate::Services;
use crate::audit::{Action, Entry};
use crate::error::{Error, Result};
use crate::scope::Scope;

/// The most surveys one bulk review may name.
pub const MAX_BULK: usize = 1000;

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

    fn audited_as(self) -> Action {
        match self {
            ReviewAction::Approve => Action::ReviewApprove,
            ReviewAction::Reject => Action::ReviewReject,
            ReviewAction::HasIssues => Action::ReviewHasIssues,
            ReviewAction::SendBack => Action::ReviewSendBack,
            ReviewAction::Comment => Action::ReviewComment,
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

/// What a bulk review did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkOutcome {
    /// The surveys reviewed.
    pub done: Vec<String>,
    /// The surveys not reviewed, each with why.
    pub failed: Vec<BulkFailure>,
}

/// A survey a bulk review could not act on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkFailure {
    /// The survey.
    pub survey_id: String,
    /// The error code.
    pub code: String,
    /// Why.
    pub message: String,
}

fn reviewer(scope: &Scope) -> Result<&User> {
    scope.user().ok_or_else(|| Error::forbidden("reviews are made by a person: log in with an account"))
}

impl ReviewRequest {
    fn comment(&self) -> Result<Option<NewComment>> {
        let text = self.comment.as_deref().map(str::trim).filter(|t| !t.is_empty());
        if text.is_none() && matches!(self.action, ReviewAction::SendBack | ReviewAction::Comment) {
            return Err(Error::invalid("write a comment: the enumerator needs to know what to fix"));
        }
        Ok(text.map(|t| NewComment { text: t.to_owned(), question: self.question.clone() }))
    }

    fn audit_detail(&self) -> serde_json::Value {
        json!({ "comment": self.comment.as_deref().map(str::trim), "question": self.question })
    }
}

impl Services {
    /// Applies a review action to one survey.
    pub fn review(&self, scope: &Scope, survey_id: &str, request: &ReviewRequest) -> Result<()> {
        let (_, mut failed) = self.review_each(scope, std::slice::from_ref(&survey_id.to_owned()), request)?;
        match failed.pop() {
            None => Ok(()),
            Some((_, e)) => Err(e),
        }
    }

    /// The same review action on several surveys: each is checked on its own (may the
    /// principal read it, review at all, is the comment there), so one refusal does not
    /// stop the others, and all are written in one transaction.
    pub fn review_all(&self, scope: &Scope, surveys: &[String], request: &ReviewRequest) -> Result<BulkOutcome> {
        let (done, failed) = self.review_each(scope, surveys, request)?;
        let failed = failed
            .into_iter()
            .map(|(survey_id, e)| BulkFailure { survey_id, code: e.code().to_owned(), message: e.to_string() })
            .collect();
        Ok(BulkOutcome { done, failed })
    }

    #[allow(clippy::type_complexity)]
    fn review_each(
        &self,
        scope: &Scope,
        surveys: &[String],
        request: &ReviewRequest,
    ) -> Result<(Vec<String>, Vec<(String, Error)>)> {
        if surveys.len() > MAX_BULK {
            return Err(Error::TooLarge(format!("review at most {MAX_BULK} surveys at once")));
        }
        let comment = request.comment();
        let mut failed = Vec::new();
        let mut allowed: Vec<&str> = Vec::new();
        for survey in surveys {
            let checked = self
                .open_survey(scope, survey)
                .and_then(|_| scope.may_review("review surveys"))
                .and_then(|()| comment.as_ref().map(|_| ()).map_err(Clone::clone));
            match checked {
                Ok(()) => allowed.push(survey),
                Err(e) => failed.push((survey.clone(), e)),
            }
        }
        if allowed.is_empty() {
            return Ok((Vec::new(), failed));
        }
        let editor = reviewer(scope)?;
        let comment = comment?;
        let items: Vec<ReviewItem<'_>> = allowed
            .iter()
            .map(|id| ReviewItem { survey_id: id, status: request.action.status(), comment: comment.as_ref() })
            .collect();
        let outcomes = self.backend.review(editor, &items)?;
        let mut done = Vec::new();
        for (id, outcome) in allowed.iter().zip(outcomes) {
            match outcome {
                Ok(_) => done.push((*id).to_owned()),
                Err(e) => failed.push(((*id).to_owned(), Error::from(e))),
            }
        }
        let detail = request.audit_detail();
        let entries: Vec<Entry<'_>> = done
            .iter()
            .map(|id| Entry::by(scope, request.action.audited_as(), Some(id.as_str()), detail.clone()))
            .collect();
        self.audit_all(&entries)?;
        Ok((done, failed))
    }

    /// Corrects an answer, or settles a conflict by choosing or entering its value, as a
    /// change under the corrector's own actor, so history shows the original and the
    /// correction.
    pub fn correct(&self, scope: &Scope, survey_id: &str, path: &AnswerPath, value: Value) -> Result<()> {
        self.open_survey(scope, survey_id)?;
        scope.may_review("correct answers")?;
        let editor = reviewer(scope)?;
        let had_conflict = self.backend.conflicts(survey_id)?.iter().any(|c| c.path == *path);
        let detail = json!({ "path": path.to_string(), "value": value });
        self.backend.correct(editor, survey_id, path, value)?;
        let action = if had_conflict { Action::SurveyResolveConflict } else { Action::SurveyCorrect };
        self.audit(scope, action, Some(survey_id), detail)
    }

    /// [`Services::correct`] with the value as a person types it (the dashboard's form),
    /// read by the question's type.
    pub fn correct_text(&self, scope: &Scope, survey_id: &str, path: &AnswerPath, text: &str) -> Result<()> {
        let summary = self.open_survey(scope, survey_id)?;
        if text.trim().is_empty() {
            return Err(Error::invalid("enter or choose a value"));
        }
        let form = self.backend.form(&summary.form_id, &summary.form_version)?;
        let question = FormIndex::new(&form)
            .question(&path.name)
            .cloned()
            .ok_or_else(|| Error::invalid(format!("the form has no question `{}`", path.name)))?;
        let value = Value::parse_odk(text, &question.kind).map_err(|e| Error::invalid(e.to_string()))?;
        self.correct(scope, survey_id, path, value)
    }

    /// Assigns a survey to a user, which opens it to them: only to someone the caller
    /// supervises in the survey's project.
    pub fn assign(&self, scope: &Scope, survey_id: &str, user: UserId) -> Result<()> {
        let summary = self.open_survey(scope, survey_id)?;
        scope.may_review("assign surveys")?;
        let assignee =
            self.backend.user(user)?.ok_or_else(|| Error::not_found(format!("user {user} does not exist")))?;
        let project = self.backend.form_project(&summary.form_id)?;
        if !scope.supervises(project, &assignee.username) {
            return Err(Error::forbidden(format!(
                "{} is not in a team you supervise in this survey's project",
                assignee.username
            )));
        }
        self.backend.assign(survey_id, user)?;
        self.audit(scope, Action::SurveyAssign, Some(survey_id), json!({ "user": user }))
    }
}
