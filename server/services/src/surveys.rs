//! Reading one survey, for those who may: its JSON, an answer's history, its conflicts,
//! and the whole view a reviewer's page shows (answers laid out by the form, validation,
//! every answer's history, what changed since approval).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use terrain_core::form::{EvalOptions, Evaluation, Form, Node};
use terrain_core::store::{EntityLink, Survey, SurveySummary};
use terrain_core::survey::{AnswerPath, Answers, Conflict, FieldEdit, ReviewStatus};

use crate::Services;
use crate::error::{Error, Result};
use crate::scope::Scope;

/// Everything a reviewer's page of one survey shows, read in one go.
#[derive(Debug, Clone)]
pub struct SurveyView {
    /// The survey's metadata.
    pub summary: SurveySummary,
    /// The survey, typed by its form.
    pub survey: Survey,
    /// Its form version.
    pub form: Arc<Form>,
    /// Its evaluation (relevance, validation) in the page's language.
    pub evaluation: Evaluation,
    /// Answers with competing values.
    pub conflicts: Vec<Conflict>,
    /// Each answered question's history, by path.
    pub history: HashMap<String, Vec<FieldEdit>>,
    /// When it changed after approval: the answers that changed since.
    pub changed_since_approval: Option<Vec<String>>,
    /// Whether the principal may review it (the page shows the actions).
    pub reviewable: bool,
    /// Its attached files the server holds whole (the others are still on their device).
    pub media_held: std::collections::BTreeSet<terrain_core::media::Digest>,
    /// The entities it created or updated that the principal sees.
    pub entities: Vec<EntityLink>,
}

/// Every answered question's path, depth first.
fn answered(nodes: &[Node], answers: &Answers, at: &dyn Fn(&str) -> AnswerPath, out: &mut Vec<AnswerPath>) {
    for node in nodes {
        match node {
            Node::Question(q) => {
                if answers.get(&q.name).is_some() {
                    out.push(at(&q.name));
                }
            }
            Node::Group(g) => answered(&g.children, answers, at, out),
            Node::Repeat(g) => {
                let repeat = at(&g.name);
                for (i, instance) in answers.repeat(&g.name).iter().enumerate() {
                    answered(&g.children, instance, &|name| repeat.child(i, name), out);
                }
            }
        }
    }
}

impl Services {
    /// The survey's metadata, if the principal may read it. A survey they may not read is
    /// answered as not found, so that survey ids are not disclosed.
    pub fn open_survey(&self, scope: &Scope, survey_id: &str) -> Result<SurveySummary> {
        let not_found = || Error::not_found(format!("no survey `{survey_id}`"));
        let summary = self.backend.survey_summary(survey_id)?.ok_or_else(not_found)?;
        let assignees = self.backend.assignees(survey_id)?;
        if !scope.can_read(&scope.facts(&summary, &assignees)) {
            return Err(not_found());
        }
        Ok(summary)
    }

    /// A survey as JSON (`meta`, `answers`, `review`).
    pub fn survey_json(&self, scope: &Scope, survey_id: &str) -> Result<serde_json::Value> {
        self.open_survey(scope, survey_id)?;
        self.readable(survey_id, self.backend.survey_json(survey_id))
    }

    /// Every edit of one answer.
    pub fn history(&self, scope: &Scope, survey_id: &str, path: &AnswerPath) -> Result<Vec<FieldEdit>> {
        self.open_survey(scope, survey_id)?;
        self.readable(survey_id, self.backend.history(survey_id, path))
    }

    /// The answers with competing values.
    pub fn conflicts(&self, scope: &Scope, survey_id: &str) -> Result<Vec<Conflict>> {
        self.open_survey(scope, survey_id)?;
        self.readable(survey_id, self.backend.conflicts(survey_id))
    }

    /// The reviewer's view of a survey; `language` picks the form language of messages
    /// from the form (the page's language, when the form has it).
    pub fn survey_view(
        &self,
        scope: &Scope,
        survey_id: &str,
        language: &dyn Fn(&Form) -> Option<String>,
    ) -> Result<SurveyView> {
        let summary = self.open_survey(scope, survey_id)?;
        let survey = self.readable(survey_id, self.backend.survey(survey_id))?;
        let form = self.backend.form(&summary.form_id, &summary.form_version)?;
        let options = EvalOptions {
            language: language(&form),
            now: Utc::now().fixed_offset(),
            seed: terrain_core::survey::evaluation_seed(survey_id),
        };
        let evaluation = terrain_core::form::Evaluator::new(&form).evaluate(&survey.answers, &options);
        let conflicts = self.readable(survey_id, self.backend.conflicts(survey_id))?;
        let mut paths = Vec::new();
        answered(&form.children, &survey.answers, &|name: &str| AnswerPath::top(name), &mut paths);
        let histories = self.readable(survey_id, self.backend.histories(survey_id, &paths))?;
        let history = paths.iter().map(ToString::to_string).zip(histories).collect();
        let changed_since_approval = if summary.review_status == ReviewStatus::ChangedAfterApproval {
            self.readable(survey_id, self.backend.changed_since_approval(survey_id))?
        } else {
            None
        };
        let assignees = self.backend.assignees(survey_id)?;
        let reviewable = scope.reviews() && scope.can_read(&scope.facts(&summary, &assignees));
        let attached: Vec<_> = survey.answers.media().into_iter().map(|m| m.digest).collect();
        let media_held = self.media_held(&attached)?;
        let mut entities = self.backend.entity_links(&[survey_id.to_owned()])?.pop().unwrap_or_default();
        entities.retain(|link| self.readable_entity(scope, &link.list, &link.id).is_ok());
        Ok(SurveyView {
            summary,
            survey,
            form,
            evaluation,
            conflicts,
            history,
            changed_since_approval,
            reviewable,
            media_held,
            entities,
        })
    }

    /// A read of one survey that cannot be read is recorded as needing attention, and the
    /// caller told so plainly.
    fn readable<T>(&self, survey_id: &str, result: terrain_backend::BackendResult<T>) -> Result<T> {
        self.unless_unreadable(survey_id, result)?.ok_or_else(|| {
            Error::unprocessable(
                "unreadable",
                format!(
                    "survey `{survey_id}` cannot be read on the server; it is listed for administrators as needing attention"
                ),
            )
        })
    }
}
