//! Answers a form accepts: [`crate::sample::answers`] draws plausible values by type, and
//! this module then repairs them against the form's own rules (relevance, constraints,
//! choice filters, repeat counts, required questions) the way an enumerator fixes what the
//! form screen flags, until the evaluation is complete and `Store::finalize` accepts them.

use chrono::{Duration, Local};
use rand::Rng;
use terrain_core::form::{EvalOptions, Evaluation, Evaluator, Form, FormIndex, Question, QuestionType};
use terrain_core::survey::{Answer, Answers};
use terrain_core::{AnswerPath, Value};

/// Repair rounds before giving up on a draw (each round fixes every flagged answer).
const ROUNDS: usize = 80;

/// Complete, valid answers to the evaluator's form, or `None` if a draw could not be
/// repaired (the caller draws again).
pub fn complete(evaluator: &Evaluator<'_>, rng: &mut impl Rng) -> Option<Answers> {
    let form = evaluator.form();
    let index = FormIndex::new(form);
    let options = EvalOptions { language: None, now: Local::now().fixed_offset(), seed: 0 };
    let mut answers = crate::sample::answers(form, rng);
    for round in 0..ROUNDS {
        let evaluation = evaluator.evaluate(&answers, &options);
        let mut changed = false;
        for path in &evaluation.non_relevant {
            changed |= remove(&mut answers, path);
        }
        for (path, &count) in &evaluation.repeat_counts {
            changed |= resize(&mut answers, path, count);
        }
        for (path, offered) in &evaluation.choices {
            changed |= keep_offered(&mut answers, path, offered, rng);
        }
        for issue in evaluation.violations.iter().chain(&evaluation.missing_required) {
            let Some(question) = index.question(&issue.path.name) else { continue };
            let value = draw(form, question, &issue.path, &evaluation, round, rng);
            changed |= set(&mut answers, &issue.path, value);
        }
        if !changed && evaluation.is_complete() {
            return Some(answers);
        }
    }
    None
}

/// A value for `question` at `path`, varied by `round` so that a constraint a first draw
/// failed is met by another kind of value (small counts, years, larger amounts).
fn draw(
    form: &Form,
    question: &Question,
    path: &AnswerPath,
    evaluation: &Evaluation,
    round: usize,
    rng: &mut impl Rng,
) -> Option<Value> {
    if let Some(offered) = evaluation.choices.get(path) {
        let code = offered.get(rng.random_range(0..offered.len().max(1)))?.clone();
        return Some(match question.kind {
            QuestionType::SelectMultiple { .. } => Value::Choices(vec![code]),
            _ => Value::Choice(code),
        });
    }
    if let Some(pattern) = question.constraint.as_ref().and_then(|c| regex_literal(c.source())) {
        return digits_pattern(&pattern, rng);
    }
    match question.kind {
        QuestionType::Integer => Some(Value::Integer(match round % 5 {
            0 => rng.random_range(0..=3),
            1 => rng.random_range(1..=100),
            2 => rng.random_range(1985..=2024),
            3 => rng.random_range(1..=20),
            _ => rng.random_range(100..=5000),
        })),
        QuestionType::Decimal | QuestionType::Range => Some(Value::Decimal(match round % 2 {
            0 => f64::from(rng.random_range(1..=20u8)) / 10.0,
            _ => f64::from(rng.random_range(10..=400u16)) / 10.0,
        })),
        QuestionType::Date => Some(Value::Date(Local::now().date_naive() - Duration::days(rng.random_range(1..60)))),
        QuestionType::Text if round > ROUNDS / 2 => None,
        ref kind => crate::sample::value_for(form, kind, rng),
    }
}

/// The pattern of a constraint `regex(., '^…$')`, if that is what it is.
fn regex_literal(source: &str) -> Option<String> {
    let rest = source.trim().strip_prefix("regex(")?;
    let start = rest.find('\'')? + 1;
    let end = start + rest[start..].find('\'')?;
    Some(rest[start..end].to_owned())
}

/// Text matching a pattern made of literal characters and `[0-9]{n}` runs (phone numbers,
/// plot codes); `None` for anything richer, which leaves the question unanswered.
fn digits_pattern(pattern: &str, rng: &mut impl Rng) -> Option<Value> {
    let mut rest = pattern.strip_prefix('^')?.strip_suffix('$')?;
    let mut out = String::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("[0-9]") {
            let (count, tail) = match after.strip_prefix('{') {
                Some(braced) => {
                    let close = braced.find('}')?;
                    (braced[..close].parse::<usize>().ok()?, &braced[close + 1..])
                }
                None => (1, after),
            };
            out.extend((0..count).map(|_| char::from(b'0' + rng.random_range(0..10u8))));
            rest = tail;
        } else {
            let c = rest.chars().next()?;
            if "[]{}()*+?.|\\".contains(c) {
                return None;
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Some(Value::Text(out))
}

/// The answers of the repeat instance (or top level) that holds `path`'s last name.
fn level_mut<'a>(mut level: &'a mut Answers, path: &AnswerPath) -> Option<&'a mut Answers> {
    for (repeat, i) in &path.instances {
        level = match level.0.get_mut(repeat) {
            Some(Answer::Repeat(list)) => list.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(level)
}

fn remove(answers: &mut Answers, path: &AnswerPath) -> bool {
    level_mut(answers, path).is_some_and(|level| level.0.remove(&path.name).is_some())
}

fn set(answers: &mut Answers, path: &AnswerPath, value: Option<Value>) -> bool {
    let Some(level) = level_mut(answers, path) else { return false };
    match value {
        Some(v) => level.0.insert(path.name.clone(), Answer::Value(v.clone())) != Some(Answer::Value(v)),
        None => level.0.remove(&path.name).is_some(),
    }
}

fn resize(answers: &mut Answers, path: &AnswerPath, count: usize) -> bool {
    let Some(level) = level_mut(answers, path) else { return false };
    let entry = level.0.entry(path.name.clone()).or_insert_with(|| Answer::Repeat(Vec::new()));
    let Answer::Repeat(list) = entry else {
        *entry = Answer::Repeat(vec![Answers::default(); count]);
        return true;
    };
    if list.len() == count {
        return false;
    }
    list.resize_with(count, Answers::default);
    true
}

fn keep_offered(answers: &mut Answers, path: &AnswerPath, offered: &[String], rng: &mut impl Rng) -> bool {
    let Some(level) = level_mut(answers, path) else { return false };
    let pick = |rng: &mut _| offered.get(random_index(rng, offered.len())).cloned();
    match level.0.get_mut(&path.name) {
        Some(Answer::Value(Value::Choice(code))) if !offered.contains(code) => {
            match pick(rng) {
                Some(c) => *code = c,
                None => {
                    level.0.remove(&path.name);
                }
            }
            true
        }
        Some(Answer::Value(Value::Choices(codes))) if codes.iter().any(|c| !offered.contains(c)) => {
            codes.retain(|c| offered.contains(c));
            if codes.is_empty() {
                match pick(rng) {
                    Some(c) => codes.push(c),
                    None => {
                        level.0.remove(&path.name);
                    }
                }
            }
            true
        }
        _ => false,
    }
}

fn random_index(rng: &mut impl Rng, len: usize) -> usize {
    rng.random_range(0..len.max(1))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn patterns_of_digits_are_met() {
        let mut rng = StdRng::seed_from_u64(1);
        let Some(Value::Text(plot)) = digits_pattern("^BGD-[0-9]{4}$", &mut rng) else { panic!() };
        assert!(plot.starts_with("BGD-") && plot.len() == 8 && plot[4..].chars().all(|c| c.is_ascii_digit()));
        assert_eq!(regex_literal("regex(., '^6[0-9]{8}$')").as_deref(), Some("^6[0-9]{8}$"));
        assert!(digits_pattern("^[a-z]+$", &mut rng).is_none());
    }

    #[test]
    fn mission_form_answers_are_complete() {
        for (file, bytes) in crate::FORMS {
            let form = terrain_xlsform::import_bytes(file, bytes).unwrap();
            let evaluator = Evaluator::new(&form);
            let mut rng = StdRng::seed_from_u64(7);
            let options = EvalOptions { language: None, now: Local::now().fixed_offset(), seed: 0 };
            for _ in 0..30 {
                let answers = complete(&evaluator, &mut rng).expect("repairable");
                let evaluation = evaluator.evaluate(&answers, &options);
                assert!(
                    evaluation.is_complete(),
                    "{file}: {:?} {:?}",
                    evaluation.missing_required,
                    evaluation.violations
                );
            }
        }
    }
}
