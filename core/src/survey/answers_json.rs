//! Answers written as JSON by people and scripts (`terrain form eval`, scenario files, the
//! dashboard's preview and entry), read back as typed [`Answers`]: the inverse of
//! [`Answers::to_json`], and as forgiving as a person typing would expect (`"12"` for an
//! integer, `"maize rice"` or `["maize", "rice"]` for a `select_multiple`).
//!
//! Questions are named as in the form; a repeat is an array of objects, one per instance.
//! Groups are not part of names.

use serde_json::Value as Json;
use thiserror::Error;

use super::{Answer, AnswerPath, Answers, apply_defaults};
use crate::form::{Entry, Form, FormIndex, Node, QuestionType};
use crate::value::{GeoPoint, Value};

/// The most repeat instances a JSON answers file may hold in all: far more than any survey,
/// few enough that a mistaken file cannot exhaust memory.
const MAX_INSTANCES: usize = 10_000;

/// An answers file that does not fit its form.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("answer `{path}`: {reason}")]
pub struct AnswersJsonError {
    /// Where in the answers, as [`AnswerPath`] spells it.
    pub path: String,
    /// What is wrong, and what to write instead.
    pub reason: String,
}

impl Answers {
    /// Reads answers from a JSON object of question names to values (see the module
    /// documentation), typed and checked by `form`. `null` means unanswered.
    pub fn from_json(form: &FormIndex<'_>, json: &Json) -> Result<Answers, AnswersJsonError> {
        read_level(form, json, &[], &mut 0, None)
    }

    /// The answers of a new survey given these answers: the form's static defaults (see
    /// [`apply_defaults`]) in every instance, then `json` as [`Answers::from_json`] reads
    /// it, where `null` clears a default.
    pub fn new_from_json(form: &Form, json: &Json) -> Result<Answers, AnswersJsonError> {
        read_level(&FormIndex::new(form), json, &[], &mut 0, Some(&form.children))
    }
}

fn read_level(
    form: &FormIndex<'_>,
    json: &Json,
    instances: &[(String, usize)],
    instance_count: &mut usize,
    defaults: Option<&[Node]>,
) -> Result<Answers, AnswersJsonError> {
    let at = |name: &str| AnswerPath { instances: instances.to_vec(), name: name.to_owned() }.to_string();
    let Json::Object(entries) = json else {
        let path = instances.last().map(|(r, i)| format!("{r}[{i}]")).unwrap_or_else(|| "(top)".into());
        return Err(AnswersJsonError { path, reason: "expected an object of question names to answers".into() });
    };
    let mut answers = Answers::default();
    for (name, value) in entries {
        if value.is_null() {
            continue;
        }
        let fail = |reason: String| AnswersJsonError { path: at(name), reason };
        let located = form.get(name).ok_or_else(|| fail("the form has no question of that name".into()))?;
        if !located.is_in(instances) {
            let expected = match located.repeats.last() {
                Some(repeat) => format!("it belongs inside the repeat `{repeat}`"),
                None => "it belongs at the top of the answers, outside any repeat".into(),
            };
            return Err(fail(expected));
        }
        let answer = match located.entry {
            Entry::Question(q) if q.kind.takes_answer() => {
                Answer::Value(value_from_json(value, &q.kind).map_err(fail)?)
            }
            Entry::Question(_) => return Err(fail("this question takes no answer".into())),
            Entry::Group(_) => return Err(fail("a group is not answered: name the questions inside it".into())),
            Entry::Repeat(g) => {
                let Json::Array(items) = value else {
                    return Err(fail("a repeat is an array of objects, one per instance".into()));
                };
                *instance_count += items.len();
                if *instance_count > MAX_INSTANCES {
                    return Err(fail(format!("more than {MAX_INSTANCES} repeat instances in all")));
                }
                let mut list = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let mut inner = instances.to_vec();
                    inner.push((name.clone(), i));
                    let children = defaults.map(|_| &g.children[..]);
                    list.push(read_level(form, item, &inner, instance_count, children)?);
                }
                Answer::Repeat(list)
            }
        };
        answers.0.insert(name.clone(), answer);
    }
    if let Some(children) = defaults {
        let mut initial = Answers::default();
        apply_defaults(children, &mut initial);
        for (name, answer) in initial.0 {
            if !entries.contains_key(&name) {
                answers.0.insert(name, answer);
            }
        }
    }
    Ok(answers)
}

/// One answer, from JSON as [`Value::to_json`] writes it or as its ODK text.
pub fn value_from_json(json: &Json, kind: &QuestionType) -> Result<Value, String> {
    use QuestionType as Q;
    let wrong = || format!("`{json}` is not a {} answer", kind.xlsform_name());
    let value = match (kind, json) {
        (_, Json::String(text)) => return Value::parse_odk(text, kind).map_err(|e| e.reason),
        (Q::Integer, Json::Number(n)) => Value::Integer(n.as_i64().ok_or_else(wrong)?),
        (Q::Decimal | Q::Range, Json::Number(n)) => Value::Decimal(n.as_f64().ok_or_else(wrong)?),
        (Q::Acknowledge, Json::Bool(b)) => Value::Boolean(*b),
        (Q::SelectMultiple { .. } | Q::SelectMultipleFromFile { .. } | Q::Rank { .. }, Json::Array(items)) => {
            let codes = items.iter().map(|c| c.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>();
            Value::Choices(codes.ok_or_else(wrong)?)
        }
        (Q::GeoPoint, Json::Object(_)) => Value::GeoPoint(point_from_json(json).ok_or_else(wrong)?),
        (Q::GeoTrace | Q::GeoShape, Json::Array(points)) => {
            let points = points.iter().map(point_from_json).collect::<Option<Vec<_>>>().ok_or_else(wrong)?;
            if matches!(kind, Q::GeoTrace) { Value::GeoTrace(points) } else { Value::GeoShape(points) }
        }
        _ => return Err(wrong()),
    };
    value.conform(kind).map_err(|e| e.reason)
}

fn point_from_json(json: &Json) -> Option<GeoPoint> {
    let number = |key: &str| json.get(key).and_then(Json::as_f64);
    Some(GeoPoint {
        lat: number("lat")?,
        lon: number("lon")?,
        altitude: number("altitude").unwrap_or(0.0),
        accuracy: number("accuracy").unwrap_or(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::Form;
    use serde_json::json;

    fn form() -> Form {
        Form::from_json(include_str!("../../tests/fixtures/household.json")).unwrap()
    }

    #[test]
    fn answers_read_back_what_to_json_writes() {
        let form = form();
        let index = FormIndex::new(&form);
        let written = json!({"village": "Dabola", "member": [{"member_name": "Awa", "age": 34}]});
        let answers = Answers::from_json(&index, &written).unwrap();
        assert_eq!(answers.to_json(), written);
        // Text is read as a person types it.
        let typed = Answers::from_json(&index, &json!({"member": [{"age": "34"}]})).unwrap();
        assert_eq!(typed.repeat("member")[0].value("age"), Some(&Value::Integer(34)));
    }

    #[test]
    fn answers_that_do_not_fit_the_form_name_the_answer_and_the_fix() {
        let form = form();
        let index = FormIndex::new(&form);
        let err = Answers::from_json(&index, &json!({"nope": 1})).unwrap_err();
        assert_eq!(err.path, "nope");
        let err = Answers::from_json(&index, &json!({"age": 3})).unwrap_err();
        assert!(err.reason.contains("inside the repeat `member`"), "{err}");
        let err = Answers::from_json(&index, &json!({"member": [{"age": "old"}]})).unwrap_err();
        assert_eq!(err.path, "member[0]/age");
        let err = Answers::from_json(&index, &json!({"member": {"age": 3}})).unwrap_err();
        assert!(err.reason.contains("array of objects"), "{err}");
    }

    #[test]
    fn repeat_instances_are_bounded_over_the_whole_file() {
        let form = form();
        let index = FormIndex::new(&form);
        // 6,000 members of one illness each: 12,000 instances, though no one list is long.
        let members: Vec<serde_json::Value> = (0..6_000).map(|_| json!({"illness": [{}]})).collect();
        let err = Answers::from_json(&index, &json!({ "member": members })).unwrap_err();
        assert!(err.reason.contains("in all"), "{err}");
        let members: Vec<serde_json::Value> = (0..4_000).map(|_| json!({"illness": [{}]})).collect();
        assert!(Answers::from_json(&index, &json!({ "member": members })).is_ok());
    }
}
