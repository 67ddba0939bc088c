//! terrain-ffi called from Rust, as the generated bindings call it: threads, typed errors,
//! the form tree and bundles, on real SQLite files. (The journeys against a real server
//! run from Kotlin and Python: bindings/test.sh.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use terrain_core::sync::HttpClient as _;
use terrain_ffi::{
    AnswerValue, CancelHandle, HttpClient, HttpHeader, HttpRequest, HttpResponse, NodeKind, Role, SurveyFilter,
    TerrainError, TerrainStore,
};

/// The app's HTTP client, as a Rust app would write it: reqwest, through the core's adapter.
#[derive(Debug)]
struct Reqwest(terrain_core::sync::ReqwestClient);

impl HttpClient for Reqwest {
    fn send(&self, r: HttpRequest) -> Result<HttpResponse, TerrainError> {
        let request = terrain_core::sync::HttpRequest {
            method: r.method,
            url: r.url,
            headers: r.headers.into_iter().map(|h| (h.name, h.value)).collect(),
            body: r.body,
            timeout: std::time::Duration::from_millis(r.timeout_ms),
            max_response_bytes: r.max_response_bytes,
            pinned_certificate: r
                .pinned_certificate_sha256
                .map(|pin| pin.parse())
                .transpose()
                .map_err(|e: terrain_core::sync::InvalidPin| TerrainError::Network { detail: e.to_string() })?,
        };
        let response = self.0.send(request).map_err(|e| TerrainError::Network { detail: e.to_string() })?;
        let headers = response.headers.into_iter().map(|(name, value)| HttpHeader { name, value }).collect();
        Ok(HttpResponse { status: response.status, headers, body: response.body })
    }
}

/// The Guinea form compiled, as devices download it (kept in step with
/// `forms/guinea_needs.xlsx` by terrain-xlsform's tests).
fn guinea_json() -> String {
    include_str!("../../core/tests/fixtures/guinea_needs.json").to_owned()
}

fn open(dir: &tempfile::TempDir, name: &str) -> Arc<TerrainStore> {
    let path = dir.path().join(name).display().to_string();
    let http = Arc::new(Reqwest(terrain_core::sync::ReqwestClient::new().unwrap()));
    TerrainStore::open(path, "awa".into(), "phone-1".into(), Role::Enumerator, http, None).unwrap()
}

#[test]
fn an_encrypted_store_opens_only_with_its_key_which_can_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db").display().to_string();
    let http = || -> Arc<dyn HttpClient> { Arc::new(Reqwest(terrain_core::sync::ReqwestClient::new().unwrap())) };
    let open = |key: Option<Vec<u8>>| {
        TerrainStore::open(path.clone(), "awa".into(), "phone-1".into(), Role::Enumerator, http(), key)
    };
    let key = terrain_ffi::generate_store_key().unwrap();
    assert_eq!(key.len(), 32);
    let store = open(Some(key.clone())).unwrap();
    let form = store.import_form_json(guinea_json()).unwrap();
    let id = store.create_survey(form.form_id, form.version).unwrap();
    store.set_answer(id.clone(), "enumerator_name".into(), text("Mariama Diallo"), None).unwrap();
    let e = terrain_ffi::change_store_key(path.clone(), Some(key.clone()), None).unwrap_err();
    assert!(matches!(e, TerrainError::Storage { ref detail } if detail.contains("close")), "{e:?}");
    drop(store);

    let e = open(None).map(|_| ()).unwrap_err();
    assert!(matches!(e, TerrainError::WrongKey { ref detail } if detail.contains("encrypted")), "{e:?}");
    let other = terrain_ffi::generate_store_key().unwrap();
    let e = open(Some(other.clone())).map(|_| ()).unwrap_err();
    assert!(matches!(e, TerrainError::WrongKey { .. }), "{e:?}");
    let e = open(Some(vec![1; 16])).map(|_| ()).unwrap_err();
    assert!(matches!(e, TerrainError::Invalid { .. }), "{e:?}");

    terrain_ffi::change_store_key(path.clone(), Some(key), Some(other.clone())).unwrap();
    let store = open(Some(other)).unwrap();
    let survey = store.survey(id).unwrap();
    assert!(survey.answers.iter().any(|a| a.value == Some(text("Mariama Diallo"))));
}

fn text(value: &str) -> AnswerValue {
    AnswerValue::Text { value: value.into() }
}

#[test]
fn objects_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TerrainStore>();
    assert_send_sync::<CancelHandle>();
}

#[test]
fn one_store_serves_several_threads() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, "phone.db");
    let form = store.import_form_json(guinea_json()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            let form = form.clone();
            std::thread::spawn(move || {
                let id = store.create_survey(form.form_id.clone(), form.version.clone()).unwrap();
                for i in 0..10 {
                    let e = store.set_answer(id.clone(), "enumerator_name".into(), text(&format!("t{t} {i}")), None);
                    assert!(e.unwrap().missing_required.iter().any(|m| m.path == "consent"));
                }
                id
            })
        })
        .collect();
    let mut ids: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    ids.sort();
    let mut listed: Vec<String> =
        store.list_surveys(SurveyFilter::default()).unwrap().into_iter().map(|s| s.survey_id).collect();
    listed.sort();
    assert_eq!(listed, ids);
}

#[test]
fn errors_arrive_typed_with_actionable_details() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, "phone.db");
    let form = store.import_form_json(guinea_json()).unwrap();
    let id = store.create_survey(form.form_id.clone(), form.version.clone()).unwrap();

    let e = store.set_answer("nope".into(), "consent".into(), text("yes"), None).unwrap_err();
    assert!(matches!(e, TerrainError::NotFound { .. }), "{e:?}");
    let e = store.set_answer(id.clone(), "member[x]/member_age".into(), AnswerValue::Integer { value: 3 }, None);
    assert!(matches!(e, Err(TerrainError::Invalid { ref detail }) if detail.contains("member[0]/age")), "{e:?}");
    let e = store.set_answer(id.clone(), "hh_number".into(), text("twelve"), None).unwrap_err();
    assert!(matches!(e, TerrainError::Invalid { .. }), "{e:?}");
    let e =
        store.set_answer(id.clone(), "last_remit_date".into(), AnswerValue::Date { iso: "28/11/2026".into() }, None);
    assert!(matches!(e, Err(TerrainError::Invalid { .. })), "{e:?}");
    let e = store.create_survey("missing_form".into(), "1".into()).unwrap_err();
    assert!(matches!(e, TerrainError::NotFound { ref detail } if detail.contains("download")), "{e:?}");
    match store.finalize(id.clone()).unwrap_err() {
        TerrainError::Incomplete { issues, .. } => {
            assert!(issues.iter().any(|i| i.starts_with("consent")), "{issues:?}")
        }
        other => panic!("{other:?}"),
    }
    let e = store.sync(None, None).unwrap_err();
    assert!(matches!(e, TerrainError::Auth { .. }), "{e:?}");
    // Nothing listens on port 1 of loopback: the connection is refused at once.
    let e = store.login("http://127.0.0.1:1".into(), "password".into(), None).unwrap_err();
    assert!(matches!(e, TerrainError::Network { .. }), "{e:?}");
    // Plain HTTP beyond this machine, and a pin that is no fingerprint, never leave the
    // phone.
    let e = store.login("http://10.0.0.5:8080".into(), "password".into(), None).unwrap_err();
    assert!(matches!(e, TerrainError::Invalid { ref detail } if detail.contains("https://10.0.0.5:8080")), "{e:?}");
    let e = store.login("https://10.0.0.5".into(), "password".into(), Some("AB:CD".into())).unwrap_err();
    assert!(matches!(e, TerrainError::Invalid { ref detail } if detail.contains("fingerprint")), "{e:?}");
    let e = store.import_form_json("{}".into()).unwrap_err();
    assert!(matches!(e, TerrainError::Invalid { .. }), "{e:?}");
    let e = store.import_bundle(b"not a bundle".to_vec()).unwrap_err();
    assert!(matches!(e, TerrainError::Invalid { .. }), "{e:?}");
}

#[test]
fn a_form_that_comes_by_file_brings_its_lists() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, "phone.db");
    let form = r#"{"id": "needs", "version": "1", "title": "Needs", "children": [
        {"node": "question", "name": "village", "type": {"kind": "select_one_from_file", "file": "villages.csv"}}
    ]}"#;
    store.import_form_json(form.into()).unwrap();
    let choices =
        |store: &TerrainStore| store.form_tree("needs".into(), "1".into(), None).unwrap().children[0].choices.clone();
    assert!(choices(&store).is_empty(), "no list before the file");
    let csv = b"name,label\nsoumb,Soumbouyah\nfria1,Fria centre\n".to_vec();
    assert!(store.import_form_file("needs".into(), "1".into(), "villages.csv".into(), csv.clone()).unwrap());
    let shown = choices(&store);
    assert_eq!(
        shown.iter().map(|c| (c.code.as_str(), c.label.as_deref())).collect::<Vec<_>>(),
        [("soumb", Some("Soumbouyah")), ("fria1", Some("Fria centre"))]
    );
    assert!(!store.import_form_file("needs".into(), "1".into(), "villages.csv".into(), csv).unwrap());
    let e =
        store.import_form_file("needs".into(), "1".into(), "villages.csv".into(), b"name\nx\n".to_vec()).unwrap_err();
    assert!(matches!(e, TerrainError::Invalid { ref detail } if detail.contains("new form version")), "{e:?}");
}

#[test]
fn answers_leave_compaction_to_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, "phone.db");
    let form = store.import_form_json(guinea_json()).unwrap();
    let id = store.create_survey(form.form_id.clone(), form.version.clone()).unwrap();
    for i in 0..20 {
        store.set_answer(id.clone(), "hh_number".into(), AnswerValue::Integer { value: i + 1 }, None).unwrap();
    }
    assert_eq!(store.compact().unwrap(), 1);
    assert_eq!(store.compact().unwrap(), 0);
    let answers = store.survey(id).unwrap().answers;
    assert!(answers.iter().any(|a| a.path == "hh_number" && a.value == Some(AnswerValue::Integer { value: 20 })));
}

#[test]
fn the_form_tree_is_in_the_chosen_language() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, "phone.db");
    let form = store.import_form_json(guinea_json()).unwrap();
    let fr = store.form_tree(form.form_id.clone(), form.version.clone(), Some("fr".into())).unwrap();
    let en = store.form_tree(form.form_id.clone(), form.version.clone(), None).unwrap();
    assert_eq!(fr.language.as_deref(), Some("Français (fr)"));
    assert_eq!(en.language.as_deref(), Some("English (en)"));
    let find = |tree: &terrain_ffi::FormTree, name: &str| {
        fn walk<'a>(nodes: &'a [terrain_ffi::FormNode], name: &str) -> Option<&'a terrain_ffi::FormNode> {
            nodes.iter().find_map(|n| if n.name == name { Some(n) } else { walk(&n.children, name) })
        }
        walk(&tree.children, name).cloned().unwrap()
    };
    let consent = find(&fr, "consent");
    assert_eq!(consent.choices.iter().map(|c| c.label.clone().unwrap()).collect::<Vec<_>>(), ["Oui", "Non"]);
    assert!(consent.required);
    assert_ne!(find(&en, "consent").label, consent.label);
    let member = find(&fr, "member");
    assert_eq!(member.kind, NodeKind::Repeat);
    assert!(member.children.iter().any(|c| c.name == "member_age" && c.question_type == "integer"));
    assert_eq!(find(&fr, "household").kind, NodeKind::Group);
    assert!(find(&fr, "hh_id").read_only);
}

#[test]
fn a_bundle_moves_surveys_between_stores() {
    let dir = tempfile::tempdir().unwrap();
    let phone = open(&dir, "phone.db");
    let form = phone.import_form_json(guinea_json()).unwrap();
    let id = phone.create_survey(form.form_id, form.version).unwrap();
    phone.set_answer(id.clone(), "enumerator_name".into(), text("Awa"), None).unwrap();
    phone.add_repeat_instance(id.clone(), "member".into(), None).unwrap();
    phone.set_answer(id.clone(), "member[0]/member_age".into(), AnswerValue::Integer { value: 30 }, None).unwrap();
    let bundle = phone.export_bundle(None).unwrap();
    let tablet = open(&dir, "tablet.db");
    let report = tablet.import_bundle(bundle.clone()).unwrap();
    assert_eq!((report.created, report.failed.len()), (1, 0));
    assert_eq!(tablet.import_bundle(bundle).unwrap().unchanged, 1);
    assert_eq!(tablet.survey(id.clone()).unwrap().answers, phone.survey(id).unwrap().answers);
}
