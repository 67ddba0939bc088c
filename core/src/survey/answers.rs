//! Reading a survey's answers as typed values and as JSON.
//!
//! Reads walk the answers map once with Automerge's range iterators, typing each value by
//! the form as it comes: no intermediate tree (what `hydrate` builds, then a conversion
//! walked again), and several times faster than `AutoSerde`.

use std::collections::BTreeMap;

use automerge::{ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, ValueRef};
use serde::Serialize;

use super::{DocumentError, SurveyDoc};
use crate::form::{Entry, FormIndex};
use crate::value::Value;

/// One answer, or the instances of a repeat.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// The answer to a question.
    Value(Value),
    /// The instances of a repeat, in order.
    Repeat(Vec<Answers>),
    /// A stored value that the form cannot type (for example a question removed from the
    /// form). It is kept, as text, rather than dropped.
    Unreadable(String),
}

/// The answers of a survey, or of one repeat instance, by question name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Answers(pub BTreeMap<String, Answer>);

impl Answers {
    /// The answer named `name` at this level.
    pub fn get(&self, name: &str) -> Option<&Answer> {
        self.0.get(name)
    }

    /// The value of the question `name` at this level, if it is answered.
    pub fn value(&self, name: &str) -> Option<&Value> {
        match self.0.get(name) {
            Some(Answer::Value(v)) => Some(v),
            _ => None,
        }
    }

    /// The instances of the repeat `name` at this level (empty if it has none).
    pub fn repeat(&self, name: &str) -> &[Answers] {
        match self.0.get(name) {
            Some(Answer::Repeat(instances)) => instances,
            _ => &[],
        }
    }

    /// The files these answers attach, repeats included, each once, in digest order.
    pub fn media(&self) -> Vec<&crate::media::MediaRef> {
        fn walk<'a>(answers: &'a Answers, out: &mut Vec<&'a crate::media::MediaRef>) {
            for answer in answers.0.values() {
                match answer {
                    Answer::Value(Value::Media(m)) => out.push(m),
                    Answer::Repeat(instances) => instances.iter().for_each(|i| walk(i, out)),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out.sort_by_key(|m| m.digest);
        out.dedup_by_key(|m| m.digest);
        out
    }

    /// The answers as plain JSON: numbers as numbers, select_multiple as arrays, geopoints as
    /// objects, repeats as arrays of objects.
    pub fn to_json(&self) -> serde_json::Value {
        let map = self
            .0
            .iter()
            .map(|(name, answer)| {
                let value = match answer {
                    Answer::Value(v) => v.to_json(),
                    Answer::Repeat(instances) => {
                        serde_json::Value::Array(instances.iter().map(Answers::to_json).collect())
                    }
                    Answer::Unreadable(text) => serde_json::Value::from(text.as_str()),
                };
                (name.clone(), value)
            })
            .collect();
        serde_json::Value::Object(map)
    }
}

impl Answers {
    /// Every answer flattened to its path (`member[1]/age`), repeats expanded.
    pub fn flatten(&self) -> BTreeMap<String, &Answer> {
        fn walk<'a>(answers: &'a Answers, prefix: &str, out: &mut BTreeMap<String, &'a Answer>) {
            for (name, answer) in &answers.0 {
                let path = format!("{prefix}{name}");
                match answer {
                    Answer::Repeat(instances) => {
                        for (i, instance) in instances.iter().enumerate() {
                            walk(instance, &format!("{path}[{i}]/"), out);
                        }
                    }
                    other => {
                        out.insert(path, other);
                    }
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self, "", &mut out);
        out
    }

    /// Puts `answer` at `path` (removes it for `None`). Returns false, changing nothing,
    /// when a repeat instance on the way is missing.
    pub(crate) fn set_at(&mut self, path: &super::AnswerPath, answer: Option<Answer>) -> bool {
        let mut level = self;
        for (repeat, index) in &path.instances {
            match level.0.get_mut(repeat) {
                Some(Answer::Repeat(items)) => match items.get_mut(*index) {
                    Some(item) => level = item,
                    None => return false,
                },
                _ => return false,
            }
        }
        match answer {
            Some(answer) => level.0.insert(path.name.clone(), answer),
            None => level.0.remove(&path.name),
        };
        true
    }

    /// Removes the answer (or repeat) at each of `paths`: the answers to questions that are
    /// not relevant, which exports leave out. A path through a removed repeat or a missing
    /// instance finds nothing to remove.
    pub fn prune<'p>(&mut self, paths: impl IntoIterator<Item = &'p super::AnswerPath>) {
        for path in paths {
            self.remove_at(&path.instances, &path.name);
        }
    }

    fn remove_at(&mut self, instances: &[(String, usize)], name: &str) {
        match instances.split_first() {
            None => {
                self.0.remove(name);
            }
            Some(((repeat, index), rest)) => {
                if let Some(Answer::Repeat(list)) = self.0.get_mut(repeat)
                    && let Some(instance) = list.get_mut(*index)
                {
                    instance.remove_at(rest, name);
                }
            }
        }
    }

    /// The paths whose answers differ between `self` and `other`, in path order.
    pub fn differences(&self, other: &Answers) -> Vec<String> {
        let (a, b) = (self.flatten(), other.flatten());
        let mut paths: Vec<String> = a.keys().chain(b.keys()).filter(|k| a.get(*k) != b.get(*k)).cloned().collect();
        paths.sort();
        paths.dedup();
        paths
    }
}

impl SurveyDoc {
    /// The survey's answers, typed by `form`.
    pub fn answers(&self, form: &FormIndex<'_>) -> Result<Answers, DocumentError> {
        self.answers_at(form, None)
    }

    /// The survey's answers as they were at `heads` (now, if `None`).
    pub fn answers_at(&self, form: &FormIndex<'_>, heads: Option<&[ChangeHash]>) -> Result<Answers, DocumentError> {
        Ok(self.read_answers(self.answers_obj(), heads, form)?.0)
    }

    /// The survey's answers, and whether any answer has competing values (what
    /// [`SurveyDoc::conflicts`] lists): one read of the document where the two would make
    /// two. The relay takes both for every survey it receives, and listing conflicts asks
    /// Automerge for every value of every key, which costs more than reading the answers.
    pub fn answers_and_conflicted(&self, form: &FormIndex<'_>) -> Result<(Answers, bool), DocumentError> {
        self.read_answers(self.answers_obj(), None, form)
    }

    /// Whether any answer has competing values: [`SurveyDoc::answers_and_conflicted`]
    /// without typing the answers, for a write that needs only the flag.
    pub fn has_conflicts(&self) -> Result<bool, DocumentError> {
        Ok(self.conflicted_in(self.answers_obj()))
    }

    /// One pass over the answers map `obj` at `heads` (now, if `None`): its answers typed by
    /// the form, and whether a key of it, or of a map in one of its lists, holds competing
    /// values, which is where `conflicts::walk` looks (Automerge flags an entry as a
    /// conflict exactly when its key has more than one visible value).
    fn read_answers(
        &self,
        obj: &ObjId,
        heads: Option<&[ChangeHash]>,
        form: &FormIndex<'_>,
    ) -> Result<(Answers, bool), DocumentError> {
        let doc = self.automerge();
        let entries = match heads {
            Some(heads) => doc.map_range_at(obj, .., heads),
            None => doc.map_range(obj, ..),
        };
        let mut conflicted = false;
        let mut answers = BTreeMap::new();
        for entry in entries {
            conflicted |= entry.conflict;
            let located = form.get(&entry.key).map(|l| l.entry);
            let answer = match (located, &entry.value) {
                (_, ValueRef::Scalar(s)) => scalar_answer(&ScalarValue::from(s.clone()), located),
                (Some(Entry::Repeat(_)), ValueRef::Object(ObjType::List)) => {
                    let list = entry.id();
                    let items = match heads {
                        Some(heads) => doc.list_range_at(&list, .., heads),
                        None => doc.list_range(&list, ..),
                    };
                    let mut instances = Vec::new();
                    for item in items {
                        if let ValueRef::Object(ObjType::Map) = item.value {
                            let (instance, inner) = self.read_answers(&item.id(), heads, form)?;
                            conflicted |= inner;
                            instances.push(instance);
                        }
                    }
                    Answer::Repeat(instances)
                }
                // Kept as text, in the words Automerge shows it in.
                (_, ValueRef::Object(kind)) => {
                    if *kind == ObjType::List && heads.is_none() {
                        conflicted |= self.list_conflicted(&entry.id());
                    }
                    Answer::Unreadable(format!("{:?}", doc.hydrate(entry.id(), heads)?))
                }
            };
            answers.insert(entry.key.into_owned(), answer);
        }
        Ok((Answers(answers), conflicted))
    }

    /// [`SurveyDoc::read_answers`]'s conflicts flag alone (now), without typing any value.
    fn conflicted_in(&self, map: &ObjId) -> bool {
        for entry in self.automerge().map_range(map, ..) {
            if entry.conflict
                || (matches!(entry.value, ValueRef::Object(ObjType::List)) && self.list_conflicted(&entry.id()))
            {
                return true;
            }
        }
        false
    }

    /// Whether a map in `list` holds competing values (now).
    fn list_conflicted(&self, list: &ObjId) -> bool {
        for item in self.automerge().list_range(list, ..) {
            if matches!(item.value, ValueRef::Object(ObjType::Map)) && self.conflicted_in(&item.id()) {
                return true;
            }
        }
        false
    }

    /// The answer at `path` exactly as [`SurveyDoc::answers`] reads it (`None`: unanswered),
    /// without reading the others. A value that is not a scalar is an error here.
    pub fn answer(&self, form: &FormIndex<'_>, path: &super::AnswerPath) -> Result<Option<Answer>, DocumentError> {
        let slot = self.slot(form, path)?;
        match self.automerge().get(&slot.map, slot.key.as_str())? {
            None => Ok(None),
            Some((automerge::Value::Scalar(s), _)) => {
                Ok(Some(scalar_answer(&s, form.get(&path.name).map(|l| l.entry))))
            }
            Some((automerge::Value::Object(_), _)) => {
                Err(DocumentError::Malformed(format!("`{path}` holds an object, not an answer")))
            }
        }
    }

    /// The whole survey as JSON: `meta`, `answers` and `review`.
    pub fn to_json(&self, form: &FormIndex<'_>) -> Result<serde_json::Value, DocumentError> {
        let meta = serde_json::to_value(self.meta()?).map_err(|e| DocumentError::Malformed(e.to_string()))?;
        let review = serde_json::to_value(self.review()?).map_err(|e| DocumentError::Malformed(e.to_string()))?;
        Ok(serde_json::json!({
            "meta": meta,
            "answers": self.answers(form)?.to_json(),
            "review": review,
        }))
    }
}

/// A stored scalar as the answer to the form's `entry` of that name: typed when the entry is
/// a question whose type reads it, else kept as its text.
fn scalar_answer(s: &ScalarValue, entry: Option<Entry<'_>>) -> Answer {
    let typed = match entry {
        Some(Entry::Question(q)) => Value::from_scalar(s, &q.kind),
        _ => None,
    };
    typed.map_or_else(|| Answer::Unreadable(s.to_string()), Answer::Value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AnswerPath;

    #[test]
    fn pruning_removes_answers_and_repeats_at_their_paths() {
        let text = |s: &str| Answer::Value(Value::Text(s.into()));
        let mut member = Answers::default();
        member.0.insert("age".into(), text("41"));
        member.0.insert("job".into(), text("farmer"));
        let mut answers = Answers::default();
        answers.0.insert("village".into(), text("Kindia"));
        answers.0.insert("phone".into(), text("622"));
        answers.0.insert("member".into(), Answer::Repeat(vec![member.clone(), member]));
        let paths = [
            AnswerPath::top("phone"),
            AnswerPath::top("member").child(1, "job"),
            // Nothing there: ignored.
            AnswerPath::top("member").child(5, "job"),
            AnswerPath::top("plot").child(0, "area"),
        ];
        answers.prune(&paths);
        assert!(answers.get("phone").is_none() && answers.get("village").is_some());
        let members = answers.repeat("member");
        assert!(members[0].get("job").is_some() && members[1].get("job").is_none());
        assert!(members[1].get("age").is_some());
        answers.prune(&[AnswerPath::top("member")]);
        assert!(answers.get("member").is_none());
    }
}
