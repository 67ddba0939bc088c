//! The review part of a survey: its review status and the supervisors' comments.
//!
//! Both live in the document's `review` map, so a send-back travels to the enumerator's
//! device with the next sync, and the enumerator's fix merges with any correction a
//! supervisor made meanwhile. Comments are a list that only grows: concurrent comments
//! from two supervisors are both kept.

use std::fmt;
use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ScalarValue, hydrate};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DocumentError, SurveyDoc};

/// Where a survey stands in review.
///
/// `Received` is the one default: the status of a survey nobody has reviewed yet. It is
/// never written into the document (which saves every first sync a round of review
/// changes) nor into the store's index column, so "no status" and "received" are the same
/// thing everywhere; [`ReviewStatus::from_stored`] and [`ReviewStatus::to_stored`] are the
/// one place that says so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// On the server, not reviewed yet.
    #[default]
    Received,
    /// A supervisor found problems but has not sent it back yet.
    HasIssues,
    /// Sent back to the enumerator, with comments, to fix.
    SentBack,
    /// Accepted: goes into the analysts' datasets.
    Approved,
    /// Refused: kept, but left out of datasets.
    Rejected,
    /// Approved, then changed by a later edit: out of datasets until approved again.
    ChangedAfterApproval,
}

impl ReviewStatus {
    /// Every status, in workflow order.
    pub const ALL: [ReviewStatus; 6] = [
        ReviewStatus::Received,
        ReviewStatus::HasIssues,
        ReviewStatus::SentBack,
        ReviewStatus::Approved,
        ReviewStatus::Rejected,
        ReviewStatus::ChangedAfterApproval,
    ];

    /// The status a stored value (a document's `review.status`, the index column) stands
    /// for: nothing, or a name this version does not know, is `Received`.
    pub fn from_stored(stored: Option<&str>) -> ReviewStatus {
        stored.and_then(|s| s.parse().ok()).unwrap_or_default()
    }

    /// The value stored for this status: `None` for `Received`, which is never written.
    pub fn to_stored(self) -> Option<&'static str> {
        (self != ReviewStatus::Received).then(|| self.as_str())
    }

    /// The status as stored in documents and indexes.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Received => "received",
            ReviewStatus::HasIssues => "has_issues",
            ReviewStatus::SentBack => "sent_back",
            ReviewStatus::Approved => "approved",
            ReviewStatus::Rejected => "rejected",
            ReviewStatus::ChangedAfterApproval => "changed_after_approval",
        }
    }
}

impl fmt::Display for ReviewStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A review status name that is not one of [`ReviewStatus::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a review status; use received, has_issues, sent_back, approved, rejected or changed_after_approval"
)]
pub struct UnknownReviewStatus(pub String);

impl FromStr for ReviewStatus {
    type Err = UnknownReviewStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReviewStatus::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownReviewStatus(s.to_owned()))
    }
}

/// A comment to add to a survey's review.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct NewComment {
    /// What it says.
    pub text: String,
    /// The question it is about, if any (a question name or answer path).
    pub question: Option<String>,
}

/// The review state of a survey, as supervisors left it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Review {
    /// The review status (`Received` until someone sets one).
    #[serde(skip)]
    pub status: ReviewStatus,
    /// The status as the document holds it, `None` until someone sets one: what the
    /// survey's JSON shows, so that a status written by a newer Terrain is not disguised.
    #[serde(rename = "status")]
    pub stored_status: Option<String>,
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

/// The longest review comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 2_000;

impl SurveyDoc {
    /// Sets the review status.
    pub fn set_review_status(&mut self, status: ReviewStatus) -> Result<(), DocumentError> {
        let review = self.review_obj()?;
        self.automerge_mut().put(&review, "status", status.as_str())?;
        Ok(())
    }

    /// Appends a comment by `author`, written at `at`.
    pub fn add_comment(&mut self, author: &str, at: DateTime<Utc>, comment: &NewComment) -> Result<(), DocumentError> {
        if comment.text.trim().is_empty() {
            return Err(DocumentError::Malformed("a comment needs some text".into()));
        }
        let chars = comment.text.chars().count();
        if chars > MAX_COMMENT_CHARS {
            return Err(DocumentError::InvalidValue {
                path: "review/comments".into(),
                reason: format!("a comment holds at most {MAX_COMMENT_CHARS} characters; this one has {chars}"),
            });
        }
        if comment.question.as_ref().is_some_and(|q| q.len() > 512) {
            return Err(DocumentError::InvalidValue {
                path: "review/comments".into(),
                reason: "a comment's question path holds at most 512 bytes".into(),
            });
        }
        let review = self.review_obj()?;
        let doc = self.automerge_mut();
        let comments = match doc.get(&review, "comments")? {
            Some((automerge::Value::Object(ObjType::List), id)) => id,
            _ => doc.put_object(&review, "comments", ObjType::List)?,
        };
        let end = doc.length(&comments);
        let entry = doc.insert_object(&comments, end, ObjType::Map)?;
        doc.put(&entry, "author", author)?;
        doc.put(&entry, "at", ScalarValue::Timestamp(at.timestamp_millis()))?;
        doc.put(&entry, "text", comment.text.as_str())?;
        if let Some(question) = &comment.question {
            doc.put(&entry, "question", question.as_str())?;
        }
        Ok(())
    }

    /// The answers that changed since the survey was last approved (their paths, like
    /// `member[1]/age`), or `None` if it never was: what a reviewer looks at when a survey
    /// comes back as changed after approval.
    pub fn changed_since_approval(
        &mut self,
        form: &crate::form::FormIndex<'_>,
    ) -> Result<Option<Vec<String>>, DocumentError> {
        let review = self.review_obj()?;
        let doc = self.automerge_mut();
        let changes: Vec<(automerge::ChangeHash, Vec<automerge::ChangeHash>)> =
            doc.get_changes(&[]).iter().map(|c| (c.hash(), c.deps().to_vec())).collect();
        let status_at = |doc: &automerge::AutoCommit, heads: &[automerge::ChangeHash]| -> Option<String> {
            match doc.get_at(&review, "status", heads) {
                Ok(Some((automerge::Value::Scalar(s), _))) => match s.as_ref() {
                    ScalarValue::Str(t) => Some(t.to_string()),
                    _ => None,
                },
                _ => None,
            }
        };
        // The last change, in causal order, after which the status reads "approved" and
        // before which it did not: that is when the survey was approved.
        let approved = ReviewStatus::Approved.as_str();
        let mut approval = None;
        for (hash, deps) in &changes {
            let after = status_at(doc, &[*hash]);
            if after.as_deref() == Some(approved) && status_at(doc, deps).as_deref() != Some(approved) {
                approval = Some(*hash);
            }
        }
        let Some(approval) = approval else { return Ok(None) };
        let then = self.answers_at(form, Some(&[approval]))?;
        let now = self.answers(form)?;
        Ok(Some(then.differences(&now)))
    }

    fn review_obj(&self) -> Result<automerge::ObjId, DocumentError> {
        match self.automerge().get(automerge::ROOT, "review")? {
            Some((automerge::Value::Object(ObjType::Map), id)) => Ok(id),
            _ => Err(DocumentError::Malformed("the document has no `review` map".into())),
        }
    }

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
        let stored_status = text(&review, "status");
        Ok(Review { status: ReviewStatus::from_stored(stored_status.as_deref()), stored_status, comments })
    }
}

fn text(map: &hydrate::Map, key: &str) -> Option<String> {
    match map.get(key) {
        Some(hydrate::Value::Scalar(ScalarValue::Str(s))) => Some(s.to_string()),
        _ => None,
    }
}
