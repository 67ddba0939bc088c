//! Surveys that cannot be read. The write budget keeps every survey stored through Terrain
//! loadable, but a file damaged on disk, or written by an older version, must not break the
//! pulls, exports, lists and pages of all the others: such a survey is skipped where many
//! are read, logged, audited the first time, and listed to administrators as needing
//! attention until it reads again.

use serde_json::json;
use terrain_backend::{BackendResult, Fault};

use crate::Services;
use crate::audit::Action;
use crate::error::Result;
use crate::scope::Scope;

impl Services {
    /// The value, or `None` after recording that `survey_id` cannot be read: the caller
    /// skips it and goes on with the others. Other failures are errors.
    pub(crate) fn unless_unreadable<T>(&self, survey_id: &str, result: BackendResult<T>) -> Result<Option<T>> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.is_unreadable() => {
                self.unreadable(survey_id, &e);
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Records that `survey_id` cannot be read.
    pub(crate) fn unreadable(&self, survey_id: &str, error: &dyn std::fmt::Display) {
        tracing::error!(survey = survey_id, %error, "a stored survey cannot be read: skipped, listed as needing attention");
        match self.backend.record_fault(survey_id, &error.to_string()) {
            Ok(true) => {
                let detail = json!({ "error": error.to_string() });
                if let Err(e) = self.audit_all(&[crate::audit::Entry {
                    user: None,
                    action: Action::SurveyUnreadable,
                    survey: Some(survey_id),
                    detail,
                }]) {
                    tracing::error!(error = %e, "could not audit an unreadable survey");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "could not record an unreadable survey"),
        }
    }

    /// The surveys that need attention (administrators). Each is read again first: one that
    /// reads now (restored from a backup, say) leaves the list.
    pub fn faults(&self, scope: &Scope) -> Result<Vec<Fault>> {
        scope.may_administer()?;
        let mut still = Vec::new();
        for fault in self.backend.faults()? {
            match self.backend.survey_json(&fault.survey_id) {
                Ok(_) => self.backend.clear_fault(&fault.survey_id)?,
                Err(_) => still.push(fault),
            }
        }
        Ok(still)
    }
}
