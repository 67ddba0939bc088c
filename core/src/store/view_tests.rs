//! The answers view kept beside a cached document (`cache::AnswersView`) against a fresh
//! read of the document, after seeded sequences of every kind of edit: a patched view that
//! drifted from the document would make the form screen evaluate answers that are not the
//! survey's.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Store;
use crate::form::Form;
use crate::identity::{Author, Role};
use crate::survey::{AnswerPath, NewComment};
use crate::value::Value;

fn form() -> Form {
    Form::from_json(include_str!("../../tests/fixtures/household.json")).unwrap()
}

/// The view of `survey_id`, if the store holds one at the document's heads.
fn view_of(store: &Store, survey_id: &str) -> Option<crate::survey::Answers> {
    let mut writer = store.lock_writer();
    let mut loaded = writer.docs.take(survey_id)?;
    let mut doc_heads = loaded.doc.heads();
    let view = loaded.view.as_ref().filter(|v| {
        let mut heads = v.heads.clone();
        heads.sort();
        doc_heads.sort();
        heads == doc_heads
    });
    let answers = view.map(|v| v.answers.clone());
    writer.docs.put(survey_id, loaded);
    answers
}

#[test]
fn the_answers_view_always_equals_a_fresh_read() {
    let form = form();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("phone.db"), Author::new("awa", "phone-1", Role::Enumerator)).unwrap();
    store.save_form(&form).unwrap();
    let id = store.create_survey("household", "2026110101").unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let mut patched = 0;
    for step in 0..400 {
        let members = store.survey(&id).unwrap().answers.repeat("member").len();
        let member = |rng: &mut StdRng| rng.random_range(0..members.max(1));
        let p = |s: String| s.parse::<AnswerPath>().unwrap();
        let result = match rng.random_range(0..10) {
            0..=2 => store.set_answer(&id, &p("village".into()), Value::Text(format!("v{}", rng.random_range(0..5)))),
            3 => store.clear_answer(&id, &p("village".into())),
            4 => store.set_answer(&id, &p("hh_size".into()), Value::Integer(rng.random_range(0..20))),
            5 if members > 0 => {
                let path = p(format!("member[{}]/age", member(&mut rng)));
                store.set_answer(&id, &path, Value::Integer(rng.random_range(0..90)))
            }
            6 if members > 0 => store.clear_answer(&id, &p(format!("member[{}]/age", member(&mut rng)))),
            7 => store.add_repeat_instance(&id, &p("member".into()), None).map(|_| true),
            8 if members > 0 => store.remove_repeat_instance(&id, &p("member".into()), member(&mut rng)).map(|_| true),
            _ => {
                let comment = NewComment { text: format!("step {step}"), question: None };
                store.set_review(&id, None, Some(&comment))
            }
        };
        result.unwrap();
        let fresh = store.survey(&id).unwrap().answers;
        // An answer set or cleared patched the view; other edits left it to be read again.
        if let Some(view) = view_of(&store, &id) {
            patched += 1;
            assert_eq!(view, fresh, "step {step}: the patched view drifted from the document");
        }
        // The form screen evaluates after each edit, reading the view again if it must.
        store.evaluate(&id, None).unwrap();
        assert_eq!(view_of(&store, &id), Some(fresh), "step {step}: the view read after the edit");
    }
    assert!(patched > 150, "the view was patched at only {patched} of 400 steps");
}
