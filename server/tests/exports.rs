//! Analysts' exports against the real server on loopback and a real SQLite store, on the
//! Guinea questionnaire filled with seeded plausible answers.
//!
//! - Round trip: the exported CSV read back equals, value by value, the merged documents
//!   with the answers to non-relevant questions left out (computed here independently, with
//!   `Evaluation::is_relevant`).
//! - Differential: repeat tables (row counts, parent keys) and select_multiple 0/1 columns
//!   checked against the form and the documents.
//! - Edge cases: French accents, N'Ko text, commas, quotes and newlines in answers, empty
//!   repeats; two form versions merged into one table; incremental cursors; permissions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read};
use std::path::Path;

use common::{PASSWORD, TestServer, http, unzip};
use rand::SeedableRng;
use rand::rngs::StdRng;
use terrain_core::form::{EvalOptions, Evaluator, Form, Node, Question, QuestionType, Translations};
use terrain_core::store::Survey;
use terrain_core::survey::{Answer, Answers};
use terrain_core::{AnswerPath, Author, Role, Store, Value};
use terrain_xlsform as xlsform;

fn guinea() -> Form {
    xlsform::import_path(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../forms/guinea_needs.xlsx"))).unwrap()
}

/// The tricky texts every export must carry unchanged.
const TRICKY: [&str; 4] = [
    "Aïssatou Condé, «Kindia» — élève",
    "ߒߞߏ ߞߊ߲ ߦߋ ߞߎߡߊ߲ ߠߊ߫",
    "comma, \"quoted\"\nsecond line\r\nthird",
    "=1+1; leading formula-like text",
];

struct World {
    server: TestServer,
    form: Form,
    _dir: tempfile::TempDir,
    /// Survey ids by the enumerator who started them.
    by_user: BTreeMap<String, Vec<String>>,
    stores: HashMap<String, Store>,
}

fn top_text_questions(form: &Form) -> Vec<String> {
    form.children
        .iter()
        .flat_map(|n| match n {
            Node::Question(q) => vec![q],
            Node::Group(g) => {
                g.children.iter().filter_map(|c| if let Node::Question(q) = c { Some(q) } else { None }).collect()
            }
            _ => vec![],
        })
        .filter(|q| q.kind == QuestionType::Text && q.relevant.is_none())
        .map(|q| q.name.clone())
        .collect()
}

fn repeats(nodes: &[Node], out: &mut Vec<String>) {
    for node in nodes {
        match node {
            Node::Group(g) => repeats(&g.children, out),
            Node::Repeat(g) => {
                out.push(g.name.clone());
                repeats(&g.children, out);
            }
            Node::Question(_) => {}
        }
    }
}

/// A server with the Guinea form, enumerators in two teams, and `n` surveys per enumerator.
fn world(n: usize) -> World {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server"));
    let form = guinea();
    server.backend().publish_form(server.project, &form).unwrap();
    server.user("analyst", Role::Analyst, None);
    server.user("sup-k", Role::Supervisor, Some(0));
    let mut world = World { server, form, _dir: dir, by_user: BTreeMap::new(), stores: HashMap::new() };
    let mut rng = StdRng::seed_from_u64(7);
    for (user, team) in [("enum-k", 0), ("enum-l", 1)] {
        world.server.user(user, Role::Enumerator, Some(team));
        let store = Store::open(
            world._dir.path().join(format!("{user}.db")),
            Author::new(user, format!("{user}-phone"), Role::Enumerator),
        )
        .unwrap();
        store.save_form(&world.form).unwrap();
        let texts = top_text_questions(&world.form);
        let mut reps = Vec::new();
        repeats(&world.form.children, &mut reps);
        let mut ids = Vec::new();
        for i in 0..n {
            let mut answers = terrain_demo::sample::answers(&world.form, &mut rng);
            for (j, q) in texts.iter().enumerate() {
                answers.0.insert(q.clone(), Answer::Value(Value::Text(TRICKY[(i + j) % TRICKY.len()].to_owned())));
            }
            if i == 1 {
                // Empty repeats.
                for r in &reps {
                    answers.0.insert(r.clone(), Answer::Repeat(Vec::new()));
                }
            }
            ids.push(store.create_survey_with(&world.form.id, &world.form.version, &answers).unwrap());
        }
        push(&world.server, &store, &ids);
        // A survey of another form, which no export of this one may contain.
        let household = common::household_form();
        store.save_form(&household).unwrap();
        let other = store.create_survey(&household.id, &household.version).unwrap();
        push(&world.server, &store, &[other]);
        world.by_user.insert(user.to_owned(), ids);
        world.stores.insert(user.to_owned(), store);
    }
    world
}

fn push(server: &TestServer, store: &Store, ids: &[String]) {
    let items: Vec<(String, Vec<u8>)> = ids.iter().map(|id| (id.clone(), store.document_bytes(id).unwrap())).collect();
    for outcome in server.backend().push(&items, &mut |_| Ok(())).unwrap() {
        outcome.unwrap();
    }
}

struct Reply {
    status: u16,
    cursor: Option<u64>,
    body: Vec<u8>,
}

fn export(world: &World, user: &str, query: &str) -> Reply {
    let token = world.server.token(user, &format!("{user}-laptop"));
    let resp = http()
        .get(format!("{}/api/v1/forms/{}/export?{query}", world.server.url, world.form.id))
        .bearer_auth(token)
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    let cursor = resp.headers().get("terrain-cursor").map(|v| v.to_str().unwrap().parse().unwrap());
    Reply { status, cursor, body: resp.bytes().unwrap().to_vec() }
}

/// The merged survey with the answers to non-relevant questions removed, computed with
/// `Evaluation::is_relevant` on every path.
fn expected(world: &World, id: &str) -> Survey {
    let mut survey = world.server.backend().survey(id).unwrap();
    let form = world.server.backend().form(&survey.meta.form_id, &survey.meta.form_version).unwrap();
    let seed = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let options = EvalOptions { language: None, now: survey.meta.created_at.fixed_offset(), seed };
    let evaluation = Evaluator::new(&form).evaluate(&survey.answers, &options);
    fn keep(answers: &mut Answers, at: &[(String, usize)], ok: &dyn Fn(&AnswerPath) -> bool) {
        answers.0.retain(|name, answer| {
            if !ok(&AnswerPath { instances: at.to_vec(), name: name.clone() }) {
                return false;
            }
            if let Answer::Repeat(list) = answer {
                for (i, inst) in list.iter_mut().enumerate() {
                    let mut inner = at.to_vec();
                    inner.push((name.clone(), i));
                    keep(inst, &inner, ok);
                }
            }
            true
        });
    }
    keep(&mut survey.answers, &[], &|p| evaluation.is_relevant(p));
    survey
}

fn odk(answer: Option<&Answer>) -> String {
    match answer {
        Some(Answer::Value(v)) => v.to_odk_string(),
        Some(Answer::Unreadable(t)) => t.clone(),
        _ => String::new(),
    }
}

/// Checks one row against one level of answers: every question column equal, every 0/1
/// column matching the select_multiple answer. Returns the number of cells compared.
fn check_row(form: &Form, headers: &[String], row: &HashMap<String, String>, answers: &Answers, what: &str) -> usize {
    let questions: HashMap<&str, &Question> = form.questions().into_iter().map(|(q, _)| (q.name.as_str(), q)).collect();
    let mut compared = 0;
    for h in headers {
        if h.starts_with('_') {
            continue;
        }
        let cell = &row[h];
        if let Some((q, code)) = h.split_once('/') {
            let want = match answers.get(q) {
                Some(Answer::Value(Value::Choices(cs))) => {
                    if cs.iter().any(|c| c == code) {
                        "1"
                    } else {
                        "0"
                    }
                }
                _ => "",
            };
            assert_eq!(cell, want, "{what}: column {h}");
        } else {
            assert!(questions.contains_key(h.as_str()), "{what}: column {h} is no question of the form");
            assert_eq!(cell, &odk(answers.get(h)), "{what}: column {h}");
        }
        compared += 1;
    }
    // Nothing answered is missing from the row.
    for (name, answer) in &answers.0 {
        if let Answer::Value(_) = answer {
            assert!(headers.contains(name), "{what}: answer {name} has no column");
        }
    }
    compared
}

#[test]
fn csv_round_trip_equals_the_merged_documents_with_repeat_and_choice_columns() {
    let world = world(6);
    let reply = export(&world, "admin", "format=csv&bom=true");
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let tables = unzip(&reply.body);
    let (main_headers, main_rows) = &tables[&world.form.id];
    assert!(tables.contains_key("dictionary"));
    let ids: Vec<&String> = world.by_user.values().flatten().collect();
    assert_eq!(main_rows.len(), ids.len());
    let mut reps = Vec::new();
    repeats(&world.form.children, &mut reps);
    assert!(!reps.is_empty(), "the Guinea form has a repeat");
    let mut compared = 0;
    let mut repeat_rows_seen: HashMap<&str, usize> = HashMap::new();
    let mut non_relevant_dropped = 0;
    for row in main_rows {
        let id = &row["_uuid"];
        let survey = expected(&world, id);
        let stored = world.server.backend().survey(id).unwrap();
        non_relevant_dropped += stored.answers.0.len() - survey.answers.0.len();
        compared += check_row(&world.form, main_headers, row, &survey.answers, id);
        assert_eq!(row["_submitted_by"], survey.meta.created_by);
        assert_eq!(row["_review_status"], "received");
        assert_eq!(row["_version"], survey.meta.form_version);
        for r in &reps {
            // Only top-level repeats are checked here (the Guinea form nests none).
            let instances = survey.answers.repeat(r);
            let (headers, rows) = &tables[r.as_str()];
            let mine: Vec<&HashMap<String, String>> = rows.iter().filter(|x| &x["_submission__uuid"] == id).collect();
            assert_eq!(mine.len(), instances.len(), "{id}: rows of {r}");
            for (inst, x) in instances.iter().zip(&mine) {
                assert_eq!(x["_parent_index"], row["_index"]);
                assert_eq!(x["_parent_table_name"], world.form.id);
                compared += check_row(&world.form, headers, x, inst, &format!("{id} {r}"));
            }
            *repeat_rows_seen.entry(r).or_default() += mine.len();
        }
    }
    for r in &reps {
        assert_eq!(repeat_rows_seen[r.as_str()], tables[r.as_str()].1.len(), "every {r} row belongs to a survey");
    }
    assert!(compared > 500, "compared {compared} cells");
    assert!(non_relevant_dropped > 0, "the sample answers non-relevant questions, which the export leaves out");
    // The tricky texts came back exactly (checked above), and are really in the data.
    let all: String = main_rows.iter().flat_map(|r| r.values().cloned()).collect();
    for t in TRICKY {
        assert!(all.contains(t), "{t}");
    }
    // The BOM was asked for.
    let mut zip = zip::ZipArchive::new(Cursor::new(&reply.body)).unwrap();
    let mut head = [0u8; 3];
    zip.by_name(&format!("{}.csv", world.form.id)).unwrap().read_exact(&mut head).unwrap();
    assert_eq!(&head, b"\xEF\xBB\xBF");
}

#[test]
fn select_multiple_columns_cover_every_choice_of_the_form() {
    let world = world(3);
    let reply = export(&world, "admin", "format=csv");
    let tables = unzip(&reply.body);
    let (headers, _) = &tables[&world.form.id];
    let mut checked = 0;
    for (q, repeats) in world.form.questions() {
        if let QuestionType::SelectMultiple { list, .. } = &q.kind {
            let table = repeats.last().map_or(world.form.id.clone(), |r| (*r).to_owned());
            let headers = if repeats.is_empty() { headers } else { &tables[&table].0 };
            let expected: Vec<String> =
                world.form.choice_lists[list].iter().map(|c| format!("{}/{}", q.name, c.name)).collect();
            let got: Vec<String> = headers.iter().filter(|h| h.starts_with(&format!("{}/", q.name))).cloned().collect();
            assert_eq!(got, expected);
            checked += 1;
        }
    }
    assert!(checked > 0, "the Guinea form has select_multiple questions");
}

#[test]
fn two_versions_merge_into_one_table() {
    let world = world(2);
    let mut v2 = world.form.clone();
    v2.version = "2026121501".into();
    // v2 drops the first top-level text question and adds one.
    let dropped = top_text_questions(&world.form)[0].clone();
    fn drop_q(nodes: &mut Vec<Node>, name: &str) {
        nodes.retain(|n| n.name() != name);
        for n in nodes {
            if let Node::Group(g) | Node::Repeat(g) = n {
                drop_q(&mut g.children, name);
            }
        }
    }
    drop_q(&mut v2.children, &dropped);
    let mut added = world
        .form
        .questions()
        .into_iter()
        .find(|(q, r)| q.kind == QuestionType::Text && r.is_empty())
        .unwrap()
        .0
        .clone();
    added.name = "follow_up_note".into();
    added.label = Translations::plain("Follow-up");
    added.relevant = None;
    added.required = None;
    added.constraint = None;
    v2.children.push(Node::Question(added));
    world.server.backend().publish_form(world.server.project, &v2).unwrap();
    let store = &world.stores["enum-k"];
    store.save_form(&v2).unwrap();
    let mut answers = Answers::default();
    answers.0.insert("follow_up_note".into(), Answer::Value(Value::Text("vu le chef de village".into())));
    let id = store.create_survey_with(&v2.id, &v2.version, &answers).unwrap();
    push(&world.server, store, std::slice::from_ref(&id));

    let tables = unzip(&export(&world, "admin", "format=csv").body);
    let (headers, rows) = &tables[&world.form.id];
    assert!(headers.contains(&dropped) && headers.contains(&"follow_up_note".to_owned()));
    // The newest version's columns first; the dropped question after them.
    let pos = |n: &str| headers.iter().position(|h| h == n).unwrap();
    assert!(pos("follow_up_note") < pos(&dropped));
    for row in rows {
        if row["_uuid"] == id {
            assert_eq!(row["follow_up_note"], "vu le chef de village");
            assert_eq!(row[&dropped], "");
            assert_eq!(row["_version"], "2026121501");
        } else {
            assert_eq!(row["follow_up_note"], "");
            assert_ne!(row[&dropped], "");
        }
    }
    assert_eq!(rows.len(), 5);
    // The version filter.
    let only = unzip(&export(&world, "admin", "format=csv&version=2026121501").body);
    assert_eq!(only[&world.form.id].1.len(), 1);
}

#[test]
fn incremental_exports_return_what_changed_after_the_cursor() {
    let world = world(3);
    let first = export(&world, "admin", "format=ndjson");
    assert_eq!(first.status, 200);
    let cursor = first.cursor.unwrap();
    assert_eq!(String::from_utf8(first.body).unwrap().lines().count(), 6);
    let nothing = export(&world, "admin", &format!("format=ndjson&since={cursor}"));
    assert_eq!(nothing.body.len(), 0);
    assert_eq!(nothing.cursor, Some(cursor));
    // One survey edited on the phone and pushed again.
    let id = world.by_user["enum-l"][2].clone();
    let store = &world.stores["enum-l"];
    let q = top_text_questions(&world.form)[0].clone();
    store.set_answer(&id, &AnswerPath::top(q.clone()), Value::Text("corrigé".into())).unwrap();
    push(&world.server, store, std::slice::from_ref(&id));
    let next = export(&world, "admin", &format!("format=ndjson&since={cursor}"));
    let text = String::from_utf8(next.body).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["meta"]["survey_id"], id.as_str());
    assert_eq!(lines[0]["answers"][&q], "corrigé");
    assert!(next.cursor.unwrap() > cursor);
}

#[test]
fn json_matches_the_documents_and_geojson_has_a_feature_per_location() {
    let world = world(2);
    let json: Vec<serde_json::Value> = serde_json::from_slice(&export(&world, "admin", "format=json").body).unwrap();
    assert_eq!(json.len(), 4);
    let mut geo_answers = 0;
    for s in &json {
        let id = s["meta"]["survey_id"].as_str().unwrap();
        let survey = expected(&world, id);
        assert_eq!(s["answers"], survey.answers.to_json(), "{id}");
        fn count(a: &Answers) -> usize {
            a.0.values()
                .map(|x| match x {
                    Answer::Value(Value::GeoPoint(_) | Value::GeoTrace(_) | Value::GeoShape(_)) => 1,
                    Answer::Repeat(list) => list.iter().map(count).sum(),
                    _ => 0,
                })
                .sum()
        }
        geo_answers += count(&survey.answers);
    }
    let geo: serde_json::Value = serde_json::from_slice(&export(&world, "admin", "format=geojson").body).unwrap();
    assert_eq!(geo["type"], "FeatureCollection");
    let features = geo["features"].as_array().unwrap();
    assert_eq!(features.len(), geo_answers);
    assert!(geo_answers > 0, "the Guinea form asks for a location");
    let point = &features[0]["geometry"];
    assert_eq!(point["type"], "Point");
    assert!(features[0]["properties"]["_uuid"].is_string());
}

#[test]
fn xlsx_has_a_sheet_per_table_and_the_dictionary() {
    use calamine::{Reader, Xlsx};
    let world = world(2);
    let reply = export(&world, "admin", "format=xlsx&labels=fr");
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(reply.body)).unwrap();
    let names = book.sheet_names();
    let mut reps = Vec::new();
    repeats(&world.form.children, &mut reps);
    assert_eq!(names.len(), 2 + reps.len(), "{names:?}");
    let main = book.worksheet_range(&world.form.id).unwrap();
    assert_eq!(main.height(), 5);
    let dict = book.worksheet_range("dictionary").unwrap();
    assert!(dict.height() > 10);
}

#[test]
fn labels_are_written_in_the_chosen_language() {
    let world = world(2);
    let codes = unzip(&export(&world, "admin", "format=csv").body);
    let labels = unzip(&export(&world, "admin", "format=csv&labels=fr").body);
    let (q, list) = world
        .form
        .questions()
        .into_iter()
        .find_map(|(q, r)| match &q.kind {
            QuestionType::SelectOne { list, .. } if r.is_empty() => Some((q.name.clone(), list.clone())),
            _ => None,
        })
        .unwrap();
    let fr = world.form.languages.iter().find(|l| l.contains("(fr)")).unwrap();
    for (a, b) in codes[&world.form.id].1.iter().zip(&labels[&world.form.id].1) {
        if a[&q].is_empty() {
            continue;
        }
        let choice = world.form.choice_lists[&list].iter().find(|c| c.name == a[&q]).unwrap();
        assert_eq!(&b[&q], choice.label.0.get(fr).unwrap());
    }
    assert_eq!(export(&world, "admin", "format=csv&labels=de").status, 400);
}

#[test]
fn dictionary_lists_every_column_with_labels_and_choices() {
    let world = world(1);
    let reply = export(&world, "admin", "format=dictionary");
    assert_eq!(reply.status, 200);
    let mut reader = csv::Reader::from_reader(reply.body.as_slice());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert!(headers.contains(&"label::Français (fr)".to_owned()), "{headers:?}");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let tables = unzip(&export(&world, "admin", "format=csv").body);
    let columns: usize = tables.iter().filter(|(n, _)| *n != "dictionary").map(|(_, (h, _))| h.len()).sum();
    assert_eq!(rows.len(), columns);
    let select = rows.iter().find(|r| &r[3] == "select_one").unwrap();
    assert!(select[headers.len() - 1].contains('='), "choices listed: {select:?}");
}

#[test]
fn who_may_export_what() {
    let world = world(2);
    // Enumerators never.
    assert_eq!(export(&world, "enum-k", "format=csv").status, 403);
    // Analysts get approved surveys by default: none is approved yet.
    let analyst = export(&world, "analyst", "format=ndjson");
    assert_eq!(analyst.status, 200);
    assert_eq!(analyst.body.len(), 0);
    let any = export(&world, "analyst", "format=ndjson&review=any");
    assert_eq!(String::from_utf8(any.body).unwrap().lines().count(), 4);
    let received = export(&world, "analyst", "format=ndjson&review=received,approved");
    assert_eq!(String::from_utf8(received.body).unwrap().lines().count(), 4);
    assert_eq!(export(&world, "analyst", "review=pending").status, 400);
    // Supervisors: their teams' surveys only.
    let sup = export(&world, "sup-k", "format=ndjson");
    let lines: Vec<serde_json::Value> =
        String::from_utf8(sup.body).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["meta"]["created_by"] == "enum-k"));
    // Team filter.
    let team = world.server.teams[1];
    let by_team = export(&world, "admin", &format!("format=ndjson&team={team}"));
    let text = String::from_utf8(by_team.body).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.contains("enum-l"));
    // Date range: everything was started today.
    let future = export(&world, "admin", "format=ndjson&from=2100-01-01");
    assert_eq!(future.body.len(), 0);
    let past = export(&world, "admin", "format=ndjson&from=2000-01-01&to=2100-01-01");
    assert_eq!(String::from_utf8(past.body).unwrap().lines().count(), 4);
    // An analyst of another project does not learn the form exists.
    let other = world.server.backend().create_project("coastal").unwrap();
    let stranger = world.server.user("analyst-coastal", Role::Analyst, None);
    let _ = PASSWORD;
    world.server.backend().add_project_member(other.id, stranger.id).unwrap();
    // (`user` adds analysts to the first project too; take them out by making a new one.)
    let services = &world.server.state.services;
    let outsider = services
        .create_user(
            &services.operator().unwrap(),
            &terrain_services::accounts::CreateUser {
                username: "outsider".into(),
                password: PASSWORD.into(),
                role: "analyst".into(),
                display_name: None,
            },
        )
        .unwrap();
    world.server.backend().add_project_member(other.id, outsider.id).unwrap();
    assert_eq!(export(&world, "outsider", "format=csv").status, 404);
}

#[test]
fn analysts_get_approved_surveys_by_default() {
    let world = world(3);
    let admin = world.server.token("admin", "admin-laptop");
    let approved = [&world.by_user["enum-k"][0], &world.by_user["enum-l"][2]];
    for id in approved {
        let resp = http()
            .post(format!("{}/api/v1/surveys/{id}/review", world.server.url))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"action": "approve"}))
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 204, "{}", resp.text().unwrap());
    }
    let rejected = &world.by_user["enum-k"][1];
    let resp = http()
        .post(format!("{}/api/v1/surveys/{rejected}/review", world.server.url))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"action": "reject", "comment": "doublon"}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204, "{}", resp.text().unwrap());
    let ids = |reply: Reply| -> Vec<String> {
        let rows = &unzip(&reply.body)[&world.form.id].1;
        let mut ids: Vec<String> = rows.iter().map(|r| r["_uuid"].clone()).collect();
        ids.sort();
        ids
    };
    let mut want: Vec<String> = approved.iter().map(|s| (*s).clone()).collect();
    want.sort();
    let tables = unzip(&export(&world, "analyst", "format=csv").body);
    assert!(tables[&world.form.id].1.iter().all(|r| r["_review_status"] == "approved"));
    assert_eq!(ids(export(&world, "analyst", "format=csv")), want);
    assert_eq!(ids(export(&world, "analyst", "format=csv&review=rejected")), vec![rejected.clone()]);
    assert_eq!(ids(export(&world, "analyst", "format=csv&review=received")).len(), 3);
    assert_eq!(ids(export(&world, "analyst", "format=csv&review=any")).len(), 6);
    assert_eq!(ids(export(&world, "admin", "format=csv")).len(), 6, "admins get every survey by default");
}
