//! Forms filled in the browser: the preview's evaluation after each input, and surveys
//! entered by office staff (paper questionnaires) or a supervisor (a missed household).
//!
//! An entered survey is a real survey document, authored by the person who entered it
//! under an actor of their own, with the phone's finalize rules; it syncs, is reviewed and
//! exported like any other. A half-filled one is a draft only its author continues.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value as Json, json};
use terrain_backend::{BackendError, Entry, FormInfo};
use terrain_core::StoreError;
use terrain_core::form::{Form, FormIndex};
use terrain_core::survey::{Answers, apply_defaults};

use crate::Services;
use crate::audit::Action;
use crate::error::{Error, Result};
use crate::form_eval::{self, Report};
use crate::scope::Scope;

/// What saving an entry did.
#[derive(Debug, Clone, Serialize)]
pub struct EntrySaved {
    /// The survey, new or continued.
    pub survey_id: String,
    /// Whether it was finalized.
    pub finalized: bool,
    /// When finalizing was asked and refused: what is missing or wrong (`path: message`).
    /// The answers were saved all the same, as a draft.
    pub issues: Vec<String>,
}

/// A draft to continue in the browser.
#[derive(Debug, Clone)]
pub struct Draft {
    /// Its form version.
    pub form: Arc<Form>,
    /// Its answers, as the page holds them (`Answers::to_json`).
    pub answers: Json,
}

impl Services {
    /// The evaluation the preview shows after each input: `answers` (the page's, JSON)
    /// against a form version the principal may use, messages in `language`.
    pub fn preview(
        &self,
        scope: &Scope,
        form_id: &str,
        version: &str,
        answers: &Json,
        language: Option<&str>,
    ) -> Result<Report> {
        let form = self.form(scope, form_id, version)?;
        let answers = read_answers(&form, answers)?;
        Ok(form_eval::report(&form, &answers, language, chrono::Local::now().fixed_offset()))
    }

    /// The form versions the principal may use, each with whether they may enter surveys
    /// of it in the browser.
    pub fn fillable_forms(&self, scope: &Scope) -> Result<Vec<(FormInfo, bool)>> {
        let forms = self.forms(scope)?;
        Ok(forms
            .into_iter()
            .map(|f| {
                let may_enter = scope.may_enter_surveys_of(&f.form_id).is_ok();
                (f, may_enter)
            })
            .collect())
    }

    /// A form version to preview: a new survey's answers (its static defaults), and whether
    /// the principal may also enter surveys of it.
    pub fn preview_form(&self, scope: &Scope, form_id: &str, version: &str) -> Result<(Draft, bool)> {
        let form = self.form(scope, form_id, version)?;
        let may_enter = scope.may_enter_surveys_of(form_id).is_ok();
        Ok((blank(form), may_enter))
    }

    /// A new survey to enter in the browser, for those who may.
    pub fn new_entry(&self, scope: &Scope, form_id: &str, version: &str) -> Result<Draft> {
        let form = self.form(scope, form_id, version)?;
        scope.may_enter_surveys_of(form_id)?;
        Ok(blank(form))
    }

    /// A draft its author continues in the browser.
    pub fn draft(&self, scope: &Scope, survey_id: &str) -> Result<Draft> {
        let summary = self.open_survey(scope, survey_id)?;
        scope.may_continue_entry(&summary)?;
        let form = self.backend.form(&summary.form_id, &summary.form_version)?;
        let survey = self.backend.survey(survey_id)?;
        Ok(Draft { answers: survey.answers.to_json(), form })
    }

    /// Saves a survey entered in the browser: a new one (`survey_id` `None`) or the
    /// principal's own draft, its answers made exactly `answers`; then finalized if asked.
    /// A refused finalize leaves the answers saved as a draft and lists what to fix.
    pub fn save_entry(
        &self,
        scope: &Scope,
        form_id: &str,
        version: &str,
        survey_id: Option<&str>,
        answers: &Json,
        finalize: bool,
    ) -> Result<EntrySaved> {
        let form = self.form(scope, form_id, version)?;
        scope.may_enter_surveys_of(form_id)?;
        let editor = scope.user().ok_or_else(|| Error::forbidden("surveys are entered by a person: log in"))?;
        if let Some(id) = survey_id {
            let summary = self.open_survey(scope, id)?;
            scope.may_continue_entry(&summary)?;
            if summary.form_id != form_id || summary.form_version != version {
                return Err(Error::invalid(format!("survey `{id}` is not of form `{form_id}` version `{version}`")));
            }
        }
        let answers = read_answers(&form, answers)?;
        let entry = Entry { survey_id, form_id, version, answers: &answers };
        let saved = self.backend.enter(editor, &entry)?;
        let detail = json!({ "form": form_id, "version": version, "new": survey_id.is_none() });
        self.audit(scope, Action::SurveyEnter, Some(&saved), detail)?;
        let mut outcome = EntrySaved { survey_id: saved, finalized: false, issues: Vec::new() };
        if finalize {
            match self.backend.finalize(editor, &outcome.survey_id) {
                Ok(()) => {
                    outcome.finalized = true;
                    self.audit(scope, Action::SurveyFinalize, Some(&outcome.survey_id), json!({}))?;
                }
                Err(BackendError::Store(StoreError::Incomplete { issues, .. })) => outcome.issues = issues,
                Err(other) => return Err(other.into()),
            }
        }
        Ok(outcome)
    }
}

/// A new survey's answers: the form's static defaults.
fn blank(form: Arc<Form>) -> Draft {
    let mut answers = Answers::default();
    apply_defaults(&form.children, &mut answers);
    Draft { answers: answers.to_json(), form }
}

/// The page's answers, typed by the form: every answer, defaults included, as sent.
fn read_answers(form: &Form, answers: &Json) -> Result<Answers> {
    Answers::from_json(&FormIndex::new(form), answers).map_err(|e| Error::invalid(e.to_string()))
}
