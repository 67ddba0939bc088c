//! A small cache of recently written documents, so that an enumerator answering question
//! after question does not reload the survey from SQLite at every answer.
//!
//! Loaded documents take about ten times their saved size in memory, so only a few are kept.

use crate::survey::SurveyDoc;

/// How many documents stay loaded.
const CAPACITY: usize = 8;

/// Recently used documents, most recent last.
#[derive(Debug, Default)]
pub struct DocCache {
    entries: Vec<(String, SurveyDoc)>,
}

impl DocCache {
    /// Removes and returns the document of `survey_id`, if cached.
    pub fn take(&mut self, survey_id: &str) -> Option<SurveyDoc> {
        let at = self.entries.iter().position(|(id, _)| id == survey_id)?;
        Some(self.entries.remove(at).1)
    }

    /// Caches `doc` as the most recently used, evicting the least recently used if full.
    pub fn put(&mut self, survey_id: &str, doc: SurveyDoc) {
        self.entries.retain(|(id, _)| id != survey_id);
        if self.entries.len() == CAPACITY {
            self.entries.remove(0);
        }
        self.entries.push((survey_id.to_owned(), doc));
    }
}
