//! Survey responses: the Automerge document of one response, and how it is read, edited,
//! merged, and explained (history and conflicts).

mod answers;
mod answers_json;
mod conflicts;
mod defaults;
mod document;
pub mod footprint;
mod history;
mod path;
mod review;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use answers::{Answer, Answers};
pub use answers_json::{AnswersJsonError, value_from_json};
pub(crate) use conflicts::actor_of;
pub use conflicts::{Conflict, ConflictValue};
pub use defaults::{apply_defaults, is_dynamic_default};
pub(crate) use document::merged_copy;
pub use document::{LAYOUT_VERSION, MAX_DOCUMENT_BYTES, SurveyDoc};
pub use history::FieldEdit;
pub use path::{AnswerPath, PathSyntaxError};
pub use review::{Comment, MAX_COMMENT_CHARS, NewComment, Review, ReviewStatus, UnknownReviewStatus};

/// The seed `random()` draws from when a survey's expressions are evaluated: stable per
/// survey, so that evaluating again, on any device or on the server, never redraws.
pub fn evaluation_seed(survey_id: &str) -> u64 {
    // FNV-1a: stable across releases and platforms, unlike `DefaultHasher`.
    survey_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Where a survey is in the enumerator's hands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Being filled in.
    Draft,
    /// Complete and ready to send; reopening makes it a draft again.
    Finalized,
}

impl Status {
    /// The status as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Finalized => "finalized",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = DocumentError;
    fn from_str(s: &str) -> Result<Status, DocumentError> {
        match s {
            "draft" => Ok(Status::Draft),
            "finalized" => Ok(Status::Finalized),
            other => Err(DocumentError::Malformed(format!("unknown survey status `{other}`"))),
        }
    }
}

/// A survey's metadata, fixed at creation except for the status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The survey's id (a UUID), the same on every replica.
    pub survey_id: String,
    /// The form it answers.
    pub form_id: String,
    /// The form version it was started with, and keeps.
    pub form_version: String,
    /// The user who started it.
    pub created_by: String,
    /// The device it was started on.
    pub created_on: String,
    /// When it was started, by the device's clock.
    pub created_at: DateTime<Utc>,
    /// Draft or finalized.
    pub status: Status,
}

/// Why a policy refused changes: a status, a stable code and a message saying what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// An HTTP-like status: 403 forbidden, 422 invalid.
    pub status: u16,
    /// A stable, machine-readable code.
    pub code: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl Refusal {
    /// A 403 refusal.
    pub fn forbidden(code: &str, message: impl Into<String>) -> Refusal {
        Refusal { status: 403, code: code.to_owned(), message: message.into() }
    }
}

/// What can go wrong reading or editing a survey document.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The path names no question of the form.
    #[error("the form has no question named `{0}`")]
    UnknownQuestion(String),
    /// The path names a group, repeat or note where an answer was expected.
    #[error("`{0}` takes no answer: it is a group, a repeat or a note")]
    NotAQuestion(String),
    /// The path names something that is not a repeat where a repeat was expected.
    #[error("`{0}` is not a repeat")]
    NotARepeat(String),
    /// The path does not go through the repeats that enclose the question.
    #[error("`{path}` does not match the form: the question sits inside the repeats `{expected}`")]
    WrongPlace {
        /// The path given.
        path: String,
        /// The repeats that enclose the question, outermost first.
        expected: String,
    },
    /// The path points at a repeat instance that does not exist.
    #[error("`{path}` has {len} instance(s): there is no instance {index}")]
    NoSuchInstance {
        /// The repeat's path.
        path: String,
        /// The index asked for.
        index: usize,
        /// How many instances there are.
        len: usize,
    },
    /// The value does not fit the question.
    #[error("`{path}`: {reason}")]
    InvalidValue {
        /// The answer's path.
        path: String,
        /// Why the value does not fit.
        reason: String,
    },
    /// The repeat instance holds conflicts that must be resolved before it can move.
    #[error("resolve the conflicts in `{0}` before moving it")]
    ConflictsPending(String),
    /// The bytes are not a survey document in Terrain's layout.
    #[error("not a valid survey document: {0}")]
    Malformed(String),
    /// The document was written by a newer Terrain.
    #[error("this survey uses document layout {0}, newer than this app understands: update Terrain")]
    NewerLayout(i64),
    /// The bytes are larger than any survey could be.
    #[error("{bytes} bytes is larger than any survey document; refusing to parse it")]
    TooLarge {
        /// The size given.
        bytes: usize,
    },
    /// The changes build on changes this replica does not have yet.
    #[error("{0} change(s) these build on are missing: sync the earlier changes first")]
    MissingDependencies(usize),
    /// The changes belong to another survey.
    #[error("these changes belong to another survey")]
    WrongSurvey,
    /// A policy (the server's access rules) refused the changes.
    #[error("{0}")]
    Refused(Refusal),
    /// Automerge refused an operation or the bytes.
    #[error("the survey document could not be processed: {0}")]
    Automerge(Box<automerge::AutomergeError>),
    /// Decoding the bytes, or keeping the result, would cost more than a survey may.
    #[error(transparent)]
    OverBudget(crate::intake::IntakeError),
}

impl From<crate::intake::IntakeError> for DocumentError {
    fn from(e: crate::intake::IntakeError) -> Self {
        use crate::intake::IntakeError;
        match e {
            IntakeError::Malformed(m) => DocumentError::Malformed(m),
            IntakeError::Automerge(m) => DocumentError::Malformed(m),
            over @ IntakeError::OverBudget { .. } => DocumentError::OverBudget(over),
        }
    }
}

impl From<automerge::AutomergeError> for DocumentError {
    fn from(e: automerge::AutomergeError) -> Self {
        // Boxed: Automerge's error is large, and every Result in the store would carry it.
        DocumentError::Automerge(Box::new(e))
    }
}
