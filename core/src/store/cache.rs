//! A small cache of recently written documents, so that an enumerator answering question
//! after question does not reload the survey from SQLite at every answer.
//!
//! Loaded documents take about ten times their saved size in memory, so only a few are kept.

use automerge::ChangeHash;

use crate::survey::{Answers, SurveyDoc};

/// How many documents stay loaded.
const CAPACITY: usize = 8;

/// A document checked out for writing.
#[derive(Debug)]
pub struct Loaded {
    /// The document.
    pub doc: SurveyDoc,
    /// What its stored bytes (snapshot and chunks) cost to decode, as the front door
    /// measures them: what the write budget holds, so that the load budget always admits it.
    pub stored: crate::intake::Cost,
    /// Its answers as the form types them, when read since: the form screen evaluates
    /// after every answer, and reading every answer out of Automerge again would cost more
    /// than the evaluation.
    pub view: Option<AnswersView>,
}

/// A document's answers, valid while the document is at `heads`. An answer set or cleared
/// through the store patches it (`writes::edit`); any other change leaves it behind the
/// document's heads, and it is read again.
#[derive(Debug)]
pub struct AnswersView {
    /// The heads the answers were read at.
    pub heads: Vec<ChangeHash>,
    /// The answers.
    pub answers: Answers,
}

/// Recently used documents, most recent last.
#[derive(Debug, Default)]
pub struct DocCache {
    entries: Vec<(String, Loaded)>,
}

impl DocCache {
    /// Removes and returns the document of `survey_id`, if cached.
    pub fn take(&mut self, survey_id: &str) -> Option<Loaded> {
        let at = self.entries.iter().position(|(id, _)| id == survey_id)?;
        Some(self.entries.remove(at).1)
    }

    /// Caches a document as the most recently used, evicting the least recently used if full.
    pub fn put(&mut self, survey_id: &str, loaded: Loaded) {
        self.entries.retain(|(id, _)| id != survey_id);
        if self.entries.len() == CAPACITY {
            self.entries.remove(0);
        }
        self.entries.push((survey_id.to_owned(), loaded));
    }
}
