//! The review part of a survey: its review status and the supervisors' comments.

use automerge::{ReadDoc, ScalarValue, hydrate};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{DocumentError, SurveyDoc};

/// The review state of a survey, as supervisors left it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Review {
    /// The review status, once a supervisor or the server has set one.
    pub status: Option<String>,
    /// The comments, oldest first.
    pub comments: Vec<Comment>,
}

/// A supervisor's comment on a survey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    /// Who wrote it.
    pub author: String,
    /// When, by the writer's clock.
    pub at: Option<DateTime<Utc>>,
    /// What it says.
    pub text: String,
    /// The question it is about, if any.
    pub question: Option<String>,
}

impl SurveyDoc {
    /// The survey's review status and comments.
    pub fn review(&self) -> Result<Review, DocumentError> {
        let review = match self.automerge().get(automerge::ROOT, "review")? {
            Some((_, id)) => self.automerge().hydrate(&id, None)?,
            None => {
                return Err(DocumentError::Malformed("the document has no `review` map".into()));
            }
        };
        let hydrate::Value::Map(review) = review else {
            return Err(DocumentError::Malformed("`review` is not a map".into()));
        };
        let comments = match review.get("comments") {
            Some(hydrate::Value::List(list)) => list
                .iter()
                .filter_map(|item| match &item.value {
                    hydrate::Value::Map(m) => Some(Comment {
                        author: text(m, "author").unwrap_or_default(),
                        at: match m.get("at") {
                            Some(hydrate::Value::Scalar(ScalarValue::Timestamp(ms))) => {
                                DateTime::from_timestamp_millis(*ms)
                            }
                            _ => None,
                        },
                        text: text(m, "text").unwrap_or_default(),
                        question: text(m, "question"),
                    }),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Review { status: text(&review, "status"), comments })
    }
}

fn text(map: &hydrate::Map, key: &str) -> Option<String> {
    match map.get(key) {
        Some(hydrate::Value::Scalar(ScalarValue::Str(s))) => Some(s.to_string()),
        _ => None,
    }
}
