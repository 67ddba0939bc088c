//! The `default` column: the answer a question starts with when its survey or repeat
//! instance is created, until the enumerator changes or clears it (ODK's semantics: a
//! default is applied once, at creation, never again).
//!
//! Only static defaults are applied: a literal in the question's type (`12`, `yes`,
//! `2026-01-01`). A dynamic default (an expression, such as `${village}` or `today()`)
//! depends on answers given after creation; it is left unanswered, as is a literal the
//! question's type cannot read.

use super::{Answer, Answers};
use crate::form::{Node, QuestionType};
use crate::value::Value;

/// Whether a `default` is an expression rather than a literal, by pyxform's rule: it holds
/// brackets of any kind, an arithmetic operator (`-` only outside dates and times), or
/// `div` or `mod`.
pub fn is_dynamic_default(default: &str, kind: &QuestionType) -> bool {
    let dated = matches!(kind, QuestionType::Date | QuestionType::Time | QuestionType::DateTime);
    default.contains(['(', ')', '[', ']', '{', '}', '+', '*'])
        || (!dated && default.trim_start_matches('-').contains('-'))
        || default.split_whitespace().any(|word| word == "div" || word == "mod")
}

/// Fills the static defaults of the questions of one new instance (`nodes`: the form's top
/// level, or a repeat's children) that `answers` leaves unanswered. Groups are walked
/// through; repeats are not, since their instances are created one by one.
pub fn apply_defaults(nodes: &[Node], answers: &mut Answers) {
    for node in nodes {
        match node {
            Node::Question(q) => {
                let Some(default) = q.default.as_deref() else { continue };
                if answers.0.contains_key(&q.name) || !q.kind.takes_answer() || is_dynamic_default(default, &q.kind) {
                    continue;
                }
                if let Ok(value) = Value::parse_odk(default, &q.kind) {
                    answers.0.insert(q.name.clone(), Answer::Value(value));
                }
            }
            Node::Group(g) => apply_defaults(&g.children, answers),
            Node::Repeat(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyxform_tells_expressions_from_literals() {
        assert!(!is_dynamic_default("12", &QuestionType::Integer));
        assert!(!is_dynamic_default("-3", &QuestionType::Integer));
        assert!(!is_dynamic_default("2026-01-01", &QuestionType::Date));
        assert!(!is_dynamic_default("maize rice", &QuestionType::Text));
        assert!(is_dynamic_default("today()", &QuestionType::Date));
        assert!(is_dynamic_default("${village}", &QuestionType::Text));
        assert!(is_dynamic_default("2 * 3", &QuestionType::Integer));
        assert!(is_dynamic_default("10 div 2", &QuestionType::Integer));
        assert!(is_dynamic_default("5-2", &QuestionType::Integer));
    }
}
