//! Conflicts: answers that two people changed concurrently.
//!
//! Automerge settles such a race by operation id, not by time or role, and `get` shows only
//! the winner. Terrain never lets the other value vanish: `get_all` lists every competing
//! value, and the survey stays flagged until someone writes the answer again.

use automerge::{AutoCommit, ObjId, ObjType, ReadDoc};
use serde::Serialize;

use super::{Answer, AnswerPath, DocumentError, SurveyDoc};
use crate::form::{Entry, FormIndex};
use crate::identity::Author;
use crate::value::Value;

/// An answer with competing values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    /// Where the answer is.
    pub path: AnswerPath,
    /// The competing values; exactly one is the current winner.
    pub values: Vec<ConflictValue>,
}

/// One of the values competing for an answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictValue {
    /// The value.
    pub value: Answer,
    /// The Automerge actor (hex) that wrote it; the store maps it to a person and device.
    pub actor: String,
    /// Whether this is the value readers currently see.
    pub winner: bool,
    /// Who the actor is, when the store knows it.
    pub author: Option<Author>,
}

impl SurveyDoc {
    /// Every answer that currently has competing values, in a stable order.
    pub fn conflicts(&self, form: &FormIndex<'_>) -> Result<Vec<Conflict>, DocumentError> {
        let mut out = Vec::new();
        walk(self.automerge(), form, self.answers_obj(), &[], &mut out)?;
        Ok(out)
    }

    /// The attached files among the competing values of its conflicts: a photo that lost to
    /// another attached concurrently stays the survey's until a person settles the conflict.
    pub fn contested_media(&self, form: &FormIndex<'_>) -> Result<Vec<crate::media::Digest>, DocumentError> {
        let mut out = Vec::new();
        for value in self.conflicts(form)?.into_iter().flat_map(|c| c.values) {
            if let Answer::Value(Value::Media(m)) = value.value
                && !out.contains(&m.digest)
            {
                out.push(m.digest);
            }
        }
        Ok(out)
    }
}

fn walk(
    doc: &AutoCommit,
    form: &FormIndex<'_>,
    map: &ObjId,
    instances: &[(String, usize)],
    out: &mut Vec<Conflict>,
) -> Result<(), DocumentError> {
    for key in doc.keys(map) {
        let path = AnswerPath { instances: instances.to_vec(), name: key.clone() };
        let all = doc.get_all(map, key.as_str())?;
        if all.len() > 1 {
            let winner = doc.get(map, key.as_str())?.map(|(_, id)| id);
            let values = all
                .iter()
                .map(|(value, id)| ConflictValue {
                    value: typed(form, &key, value),
                    actor: actor_of(id),
                    winner: Some(id) == winner.as_ref(),
                    author: None,
                })
                .collect();
            out.push(Conflict { path, values });
            continue;
        }
        if let Some((automerge::Value::Object(ObjType::List), list)) = all.into_iter().next() {
            for index in 0..doc.length(&list) {
                if let Some((automerge::Value::Object(ObjType::Map), instance)) = doc.get(&list, index)? {
                    let mut inner = instances.to_vec();
                    inner.push((key.clone(), index));
                    walk(doc, form, &instance, &inner, out)?;
                }
            }
        }
    }
    Ok(())
}

/// Whether anything inside `obj` (a map or list) has competing values.
pub(crate) fn has_conflicts(doc: &AutoCommit, obj: &ObjId) -> Result<bool, DocumentError> {
    let props: Vec<automerge::Prop> = match doc.object_type(obj)? {
        ObjType::Map | ObjType::Table => doc.keys(obj).map(automerge::Prop::from).collect(),
        ObjType::List | ObjType::Text => (0..doc.length(obj)).map(automerge::Prop::from).collect(),
    };
    for prop in props {
        let all = doc.get_all(obj, prop)?;
        if all.len() > 1 {
            return Ok(true);
        }
        if let Some((automerge::Value::Object(_), child)) = all.into_iter().next()
            && has_conflicts(doc, &child)?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

fn typed(form: &FormIndex<'_>, name: &str, value: &automerge::Value<'_>) -> Answer {
    match (form.get(name).map(|l| l.entry), value) {
        (Some(Entry::Question(q)), automerge::Value::Scalar(s)) => {
            Value::from_scalar(s, &q.kind).map_or_else(|| Answer::Unreadable(s.to_string()), Answer::Value)
        }
        (_, automerge::Value::Scalar(s)) => Answer::Unreadable(s.to_string()),
        (_, automerge::Value::Object(t)) => Answer::Unreadable(format!("({t:?})")),
    }
}

/// The actor that wrote an operation, as hex.
pub(crate) fn actor_of(id: &ObjId) -> String {
    match id {
        ObjId::Id(_, actor, _) => actor.to_hex_string(),
        ObjId::Root => String::new(),
    }
}
