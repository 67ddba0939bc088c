//! The history of one answer: each value it had, who set it, and when.
//!
//! The history is derived from the document itself, so it travels with every replica: for
//! each change, the answer's values just after that change are compared with the values at
//! the change's dependencies; a difference can only come from that change.

use automerge::{ChangeHash, ReadDoc};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::conflicts::actor_of;
use super::{Answer, AnswerPath, DocumentError, SurveyDoc};
use crate::form::FormIndex;
use crate::identity::Author;
use crate::value::Value;

/// One edit of an answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldEdit {
    /// The Automerge change that made the edit (hex hash).
    pub change: String,
    /// The Automerge actor (hex) that made it; the store maps it to a person and device.
    pub actor: String,
    /// When, by the editing device's clock (often wrong in the field).
    pub at: Option<DateTime<Utc>>,
    /// When this store received the change, by its own clock; `None` until a store fills it.
    pub received_at: Option<DateTime<Utc>>,
    /// The value written, or `None` when the answer was cleared.
    pub value: Option<Answer>,
    /// Who the actor is, when the store knows it.
    pub author: Option<Author>,
}

impl SurveyDoc {
    /// Every edit of the answer at `path`, in causal order.
    pub fn history(&mut self, form: &FormIndex<'_>, path: &AnswerPath) -> Result<Vec<FieldEdit>, DocumentError> {
        let kind = form.question(&path.name).map(|q| q.kind.clone());
        let slot = self.slot(form, path)?;
        let doc = self.automerge_mut();
        let changes: Vec<(ChangeHash, Vec<ChangeHash>, i64)> =
            doc.get_changes(&[]).iter().map(|c| (c.hash(), c.deps().to_vec(), c.timestamp())).collect();
        let mut edits = Vec::new();
        for (hash, deps, time) in changes {
            // Before the map existed these lookups fail; that simply means "no value yet".
            let after = doc.get_all_at(&slot.map, slot.key.as_str(), &[hash]).unwrap_or_default();
            let before = doc.get_all_at(&slot.map, slot.key.as_str(), &deps).unwrap_or_default();
            let written = after.iter().find(|(_, id)| !before.iter().any(|(_, b)| b == id));
            if written.is_none() && after.len() == before.len() {
                continue;
            }
            // A change that settles a conflict by keeping one of the competing values writes
            // nothing new: it removes the others. It shows as setting the value it kept; only
            // a change that leaves no value at all is a clear.
            let shown = written.or_else(|| after.last());
            let value = shown.map(|(value, _)| match (value, &kind) {
                (automerge::Value::Scalar(s), Some(kind)) => {
                    Value::from_scalar(s, kind).map_or_else(|| Answer::Unreadable(s.to_string()), Answer::Value)
                }
                (other, _) => Answer::Unreadable(other.to_string()),
            });
            let actor = written.map(|(_, id)| actor_of(id)).unwrap_or_default();
            edits.push(FieldEdit {
                change: hash.to_string(),
                actor: if actor.is_empty() { change_actor(doc, &hash) } else { actor },
                at: DateTime::from_timestamp(time, 0),
                value,
                author: None,
                received_at: None,
            });
        }
        Ok(edits)
    }
}

fn change_actor(doc: &mut automerge::AutoCommit, hash: &ChangeHash) -> String {
    doc.get_change_by_hash(hash).map(|c| c.actor_id().to_hex_string()).unwrap_or_default()
}
