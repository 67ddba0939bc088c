//! Files attached to a form version in a real store: the CSV lists that
//! `select_one_from_file` and `pulldata()` read, stored all or none, kept across sessions,
//! and read by every evaluation once stored.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::enumerator;
use terrain_core::{AnswerPath, Form, Store, StoreError, Value};

/// A needs-study form: the village from the prefecture's list, its population looked up.
fn form() -> Form {
    Form::from_json(
        &serde_json::json!({
            "id": "needs", "version": "1", "title": "Needs",
            "children": [
                {"node": "question", "name": "prefecture", "type": {"kind": "text"}},
                {"node": "question", "name": "village", "type": {"kind": "select_one_from_file", "file": "villages.csv"},
                 "choice_filter": "prefecture=${prefecture}"},
                {"node": "question", "name": "population", "type": {"kind": "calculate"},
                 "calculation": "pulldata('villages', 'population', 'name', ${village})"},
            ],
        })
        .to_string(),
    )
    .unwrap()
}

const VILLAGES: &str = "name,label,prefecture,population\nsoumb,Soumbouyah,kindia,2300\nfria1,Fria centre,fria,5100\n";

fn files(list: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    list.iter().map(|(n, b)| (n.to_string(), b.as_bytes().to_vec())).collect()
}

fn p(text: &str) -> AnswerPath {
    text.parse().unwrap()
}

#[test]
fn a_forms_files_are_read_by_every_evaluation_once_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let id = {
        let store = Store::open(&path, enumerator()).unwrap();
        store.save_form(&form()).unwrap();
        let id = store.create_survey("needs", "1").unwrap();
        store.set_answer(&id, &p("prefecture"), Value::Text("kindia".into())).unwrap();
        store.set_answer(&id, &p("village"), Value::Choice("soumb".into())).unwrap();
        // Compiled without its file: nothing offered, nothing looked up.
        let before = store.evaluate(&id, None).unwrap();
        assert!(!before.choices.contains_key(&p("village")));
        assert_eq!(before.calculated[&p("population")], "");

        assert!(store.save_form_files("needs", "1", &files(&[("villages.csv", VILLAGES)])).unwrap());
        let after = store.evaluate(&id, None).unwrap();
        assert_eq!(after.choices[&p("village")], ["soumb"]);
        assert_eq!(after.calculated[&p("population")], "2300");
        // The form the app shows has the list, labels included.
        let shown = store.form("needs", "1").unwrap();
        assert_eq!(shown.choice_lists["villages.csv"][1].label.0[""], "Fria centre");
        // The same file again stores nothing.
        assert!(!store.save_form_files("needs", "1", &files(&[("villages.csv", VILLAGES)])).unwrap());
        id
    };
    // Kept across sessions.
    let store = Store::open(&path, enumerator()).unwrap();
    assert_eq!(store.evaluate(&id, None).unwrap().calculated[&p("population")], "2300");
}

#[test]
fn a_bad_or_changed_file_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("phone.db"), enumerator()).unwrap();
    let unknown = store.save_form_files("needs", "1", &files(&[("villages.csv", VILLAGES)])).unwrap_err();
    assert!(matches!(unknown, StoreError::UnknownForm { .. }), "{unknown}");
    store.save_form(&form()).unwrap();

    // One good file and one that does not read: neither is stored.
    let both = files(&[("villages.csv", VILLAGES), ("census.csv", "name,name\na,b\n")]);
    let mut with_census = form();
    with_census.id = "census".into();
    if let terrain_core::form::Node::Question(q) = &mut with_census.children[2] {
        q.calculation = Some(
            terrain_core::form::expr::Expression::parse("pulldata('census', 'population', 'name', ${village})")
                .unwrap(),
        );
    }
    store.save_form(&with_census).unwrap();
    let err = store.save_form_files("census", "1", &both).unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
    let id = store.create_survey("census", "1").unwrap();
    assert!(!store.evaluate(&id, None).unwrap().choices.contains_key(&p("village")), "nothing was stored");

    // A file never changes under a stored form version.
    store.save_form_files("needs", "1", &files(&[("villages.csv", VILLAGES)])).unwrap();
    let changed = files(&[("villages.csv", "name,label,prefecture,population\nx,X,kindia,1\n")]);
    let err = store.save_form_files("needs", "1", &changed).unwrap_err();
    assert!(matches!(err, StoreError::FormFile { .. }) && err.to_string().contains("new form version"), "{err}");
}
