//! Entities in a real store: a plot registration form creates plots when its surveys are
//! finalized, a seasonal monitoring form updates the plot it names, both in the finalizing
//! transaction; lists, lookups, settling and deletion read and write the stored documents.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::enumerator;
use terrain_core::store::{EntityLink, EntityQuery};
use terrain_core::survey::DocumentError;
use terrain_core::{AnswerPath, Author, Form, Role, Store, StoreError, Value};

fn form(json: serde_json::Value) -> Form {
    Form::from_json(&json.to_string()).unwrap()
}

/// Béguédo's plot registration: creates a plot, labelled by its code and village.
fn registration() -> Form {
    form(serde_json::json!({
        "id": "plot_registration", "version": "1", "title": "Plot registration",
        "children": [
            {"node": "question", "name": "code", "type": {"kind": "text"}, "required": "true()"},
            {"node": "question", "name": "village", "type": {"kind": "text"}},
            {"node": "question", "name": "bunds_m", "type": {"kind": "integer"}},
        ],
        "entities": [{
            "list": "plots", "label": "concat(${code}, ' — ', ${village})",
            "properties": [
                {"property": "village", "question": "village"},
                {"property": "bunds_m", "question": "bunds_m"},
            ],
        }],
    }))
}

/// The seasonal visit: updates the plot chosen, with this season's yield.
fn monitoring() -> Form {
    form(serde_json::json!({
        "id": "plot_monitoring", "version": "1", "title": "Plot monitoring",
        "children": [
            {"node": "question", "name": "plot", "type": {"kind": "text"}},
            {"node": "question", "name": "yield_kg", "type": {"kind": "decimal"}},
        ],
        "entities": [{
            "list": "plots", "entity_id": "${plot}",
            "properties": [{"property": "yield_kg", "question": "yield_kg"}],
        }],
    }))
}

fn p(text: &str) -> AnswerPath {
    text.parse().unwrap()
}

fn store(dir: &tempfile::TempDir) -> Store {
    let store = Store::open(dir.path().join("phone.db"), enumerator()).unwrap();
    store.save_form(&registration()).unwrap();
    store.save_form(&monitoring()).unwrap();
    store
}

fn register(store: &Store, code: &str, village: &str, bunds: i64) -> String {
    let id = store.create_survey("plot_registration", "1").unwrap();
    store.set_answer(&id, &p("code"), Value::Text(code.into())).unwrap();
    store.set_answer(&id, &p("village"), Value::Text(village.into())).unwrap();
    store.set_answer(&id, &p("bunds_m"), Value::Integer(bunds)).unwrap();
    store.finalize(&id).unwrap();
    id
}

fn all(store: &Store) -> Vec<terrain_core::store::EntityRecord> {
    store.entities("plots", &EntityQuery { limit: 100, ..EntityQuery::default() }).unwrap()
}

#[test]
fn a_season_registers_plots_then_updates_them_and_it_all_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let plot = {
        let store = store(&dir);
        let survey = register(&store, "BGD-0412", "Béguédo", 40);
        register(&store, "BGD-0413", "Niaogho", 25);
        let plots = all(&store);
        assert_eq!(plots.len(), 2);
        let plot = plots.iter().find(|e| e.label == "BGD-0412 — Béguédo").expect("the first plot, by its label");
        assert_eq!(plot.properties["bunds_m"], "40");
        assert!(!plot.has_conflicts && !plot.deleted);
        assert_eq!(store.entity_sources("plots", &plot.id).unwrap()[&survey], "create");

        // The next season: the monitoring survey names the plot and adds its yield.
        let visit = store.create_survey("plot_monitoring", "1").unwrap();
        store.set_answer(&visit, &p("plot"), Value::Text(plot.id.clone())).unwrap();
        store.set_answer(&visit, &p("yield_kg"), Value::Decimal(350.5)).unwrap();
        store.finalize(&visit).unwrap();
        plot.id.clone()
    };
    let store = Store::open(dir.path().join("phone.db"), enumerator()).unwrap();
    let plot = store.entity("plots", &plot).unwrap().unwrap();
    assert_eq!(plot.label, "BGD-0412 — Béguédo", "an update without a label keeps it");
    assert_eq!((plot.properties["bunds_m"].as_str(), plot.properties["yield_kg"].as_str()), ("40", "350.5"));
    assert_eq!(store.entity_sources("plots", &plot.id).unwrap().len(), 2);
}

#[test]
fn each_survey_leads_to_the_entities_it_made_even_in_a_store_from_before_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let (registration, visit, plot) = {
        let store = store(&dir);
        let registration = register(&store, "BGD-0412", "Béguédo", 40);
        let plot = all(&store).pop().unwrap().id;
        let visit = store.create_survey("plot_monitoring", "1").unwrap();
        store.set_answer(&visit, &p("plot"), Value::Text(plot.clone())).unwrap();
        store.finalize(&visit).unwrap();
        store
            .import_entities("plots", format!("name,label,bunds_m\n{plot},BGD-0412 — Béguédo,45\n").as_bytes())
            .unwrap();
        let link = |action: &str| vec![EntityLink { list: "plots".into(), id: plot.clone(), action: action.into() }];
        let ids = [registration.clone(), visit.clone(), "not-a-survey".to_owned()];
        assert_eq!(store.entity_links(&ids).unwrap(), [link("create"), link("update"), vec![]]);
        (registration, visit, plot)
    };
    // A store written before migration 014 has entities and no index: opening it indexes them.
    let db = dir.path().join("phone.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("DELETE FROM entity_sources; INSERT INTO settings VALUES ('entity_sources', 'to_index');")
        .unwrap();
    drop(conn);
    let store = Store::open(&db, enumerator()).unwrap();
    let links = store.entity_links(&[registration, visit]).unwrap();
    let actions: Vec<(&str, &str)> = links.iter().flatten().map(|l| (l.id.as_str(), l.action.as_str())).collect();
    assert_eq!(actions, [(plot.as_str(), "create"), (plot.as_str(), "update")], "imports are no survey");
}

#[test]
fn a_survey_finalized_again_updates_the_entity_it_created() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let survey = register(&store, "BGD-0412", "Béguédo", 40);
    store.reopen(&survey).unwrap();
    store.set_answer(&survey, &p("bunds_m"), Value::Integer(55)).unwrap();
    store.finalize(&survey).unwrap();
    let plots = all(&store);
    assert_eq!(plots.len(), 1, "one plot, corrected: {plots:?}");
    assert_eq!(plots[0].properties["bunds_m"], "55");
}

#[test]
fn a_follow_up_that_names_no_plot_is_not_finalized_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let visit = store.create_survey("plot_monitoring", "1").unwrap();
    store.set_answer(&visit, &p("yield_kg"), Value::Decimal(12.0)).unwrap();
    let error = store.finalize(&visit).unwrap_err();
    assert!(matches!(error, StoreError::Entity { .. }), "{error}");
    assert!(error.to_string().contains("choose the entity"), "{error}");
    assert_eq!(store.summary(&visit).unwrap().unwrap().status.as_str(), "draft", "finalizing is all or nothing");
    assert!(all(&store).is_empty());
}

#[test]
fn an_update_of_a_plot_not_received_yet_is_kept_to_merge_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let visit = store.create_survey("plot_monitoring", "1").unwrap();
    store.set_answer(&visit, &p("plot"), Value::Text("6a1b-not-here".into())).unwrap();
    store.set_answer(&visit, &p("yield_kg"), Value::Decimal(80.0)).unwrap();
    store.finalize(&visit).unwrap();
    let stub = store.entity("plots", "6a1b-not-here").unwrap().unwrap();
    assert_eq!((stub.label.as_str(), stub.properties["yield_kg"].as_str()), ("", "80"));
}

#[test]
fn lists_search_labels_and_leave_deleted_plots_out_until_restored() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    for (i, village) in ["Béguédo", "Niaogho", "Béguédo"].iter().enumerate() {
        register(&store, &format!("BGD-{i:04}"), village, 10);
    }
    let query = |search: &str, include_deleted: bool| {
        let query = EntityQuery { search: Some(search.into()), include_deleted, limit: 10, ..EntityQuery::default() };
        store.entities("plots", &query).unwrap()
    };
    assert_eq!(query("Béguédo", false).len(), 2);
    assert_eq!(query("niaogho", false).len(), 1, "ASCII case does not matter");
    // A LIKE wildcard in the search is text, not a pattern.
    assert!(query("%", false).is_empty());
    let gone = query("Niaogho", false).remove(0);
    assert!(store.set_entity_deleted("plots", &gone.id, true).unwrap().deleted);
    assert!(query("Niaogho", false).is_empty());
    assert_eq!(query("Niaogho", true).len(), 1);
    store.set_entity_deleted("plots", &gone.id, false).unwrap();
    assert_eq!(query("Niaogho", false).len(), 1);
    // Pages, in label order.
    let page = store.entities("plots", &EntityQuery { limit: 2, offset: 1, ..EntityQuery::default() }).unwrap();
    let labels: Vec<&str> = page.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["BGD-0001 — Niaogho", "BGD-0002 — Béguédo"]);
}

#[test]
fn a_list_reads_page_after_page_by_its_last_entity_as_by_offset() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    // Labels repeat, so that ties are broken by id.
    let mut csv = String::from("name,label\n");
    for i in 0..2_500 {
        csv.push_str(&format!("p{i:05},Plot {}\n", i % 7));
    }
    store.import_entities("plots", csv.as_bytes()).unwrap();
    let page = |query: EntityQuery| store.entities("plots", &EntityQuery { limit: 1000, ..query }).unwrap();
    let (mut by_offset, mut by_key) = (Vec::new(), Vec::new());
    let mut after = None;
    for offset in [0, 1000, 2000] {
        by_offset.extend(page(EntityQuery { offset, ..EntityQuery::default() }));
        let next = page(EntityQuery { after: after.clone(), ..EntityQuery::default() });
        after = next.last().map(|e| (e.label.clone(), e.id.clone()));
        by_key.extend(next);
    }
    assert_eq!(by_key.len(), 2_500);
    assert_eq!(by_key, by_offset);
    assert!(page(EntityQuery { after, ..EntityQuery::default() }).is_empty());
}

#[test]
fn a_settled_property_is_the_supervisors_value_and_unknown_entities_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    register(&store, "BGD-0412", "Béguédo", 40);
    let plot = all(&store).remove(0);
    let settled = store.settle_entity("plots", &plot.id, "bunds_m", "45").unwrap();
    assert_eq!(settled.properties["bunds_m"], "45");
    assert!(store.entity_conflicts("plots", &plot.id).unwrap().is_empty());
    let missing = store.settle_entity("plots", "nowhere", "bunds_m", "1").unwrap_err();
    assert!(matches!(missing, StoreError::UnknownEntity { .. }), "{missing}");
}

/// A follow-up form as ODK users write it: the plot chosen from the entity list
/// (`select_one_from_file plots.csv`), last season's bunds read from it.
fn visit() -> Form {
    form(serde_json::json!({
        "id": "plot_visit", "version": "1", "title": "Plot visit",
        "children": [
            {"node": "question", "name": "plot", "type": {"kind": "select_one_from_file", "file": "plots.csv"},
             "choice_filter": "village = 'Béguédo'"},
            {"node": "question", "name": "last_bunds", "type": {"kind": "calculate"},
             "calculation": "pulldata('plots', 'bunds_m', 'name', ${plot})"},
            {"node": "question", "name": "bunds_m", "type": {"kind": "integer"}},
        ],
        "entities": [{
            "list": "plots", "entity_id": "${plot}",
            "properties": [{"property": "bunds_m", "question": "bunds_m"}],
        }],
    }))
}

#[test]
fn a_follow_up_form_offers_the_plots_of_the_list_and_reads_their_last_values() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    store.save_form(&visit()).unwrap();
    register(&store, "BGD-0412", "Béguédo", 40);
    register(&store, "NGH-0001", "Niaogho", 15);
    let id = |label: &str| all(&store).into_iter().find(|e| e.label.starts_with(label)).unwrap().id;
    let (bgd, ngh) = (id("BGD-0412"), id("NGH-0001"));

    let survey = store.create_survey("plot_visit", "1").unwrap();
    let offered = store.evaluate(&survey, None).unwrap();
    assert_eq!(
        offered.choices[&p("plot")],
        std::slice::from_ref(&bgd),
        "only Béguédo's plots, by the filter on the property"
    );
    store.set_answer(&survey, &p("plot"), Value::Choice(bgd.clone())).unwrap();
    assert_eq!(store.evaluate(&survey, None).unwrap().calculated[&p("last_bunds")], "40");

    // A plot registered meanwhile is offered at once; a deleted one no longer is.
    register(&store, "BGD-0413", "Béguédo", 5);
    let new = id("BGD-0413");
    assert_eq!(store.evaluate(&survey, None).unwrap().choices[&p("plot")], [bgd.clone(), new.clone()]);
    store.set_entity_deleted("plots", &new, true).unwrap();
    assert_eq!(store.evaluate(&survey, None).unwrap().choices[&p("plot")], std::slice::from_ref(&bgd));

    // The visit updates the plot it chose; the other plots are as they were.
    store.set_answer(&survey, &p("bunds_m"), Value::Integer(60)).unwrap();
    store.finalize(&survey).unwrap();
    assert_eq!(store.entity("plots", &bgd).unwrap().unwrap().properties["bunds_m"], "60");
    assert_eq!(store.entity("plots", &ngh).unwrap().unwrap().properties["bunds_m"], "15");
}

#[test]
fn a_follow_up_started_on_a_plot_has_it_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    store.save_form(&visit()).unwrap();
    register(&store, "BGD-0412", "Béguédo", 40);
    let plot = all(&store).remove(0).id;
    let survey = store.start_follow_up("plot_visit", "1", &plot).unwrap();
    let evaluation = store.evaluate(&survey, None).unwrap();
    assert_eq!(evaluation.calculated[&p("last_bunds")], "40");
    // With a text question for the entity, the id is the text.
    let text = store.start_follow_up("plot_monitoring", "1", &plot).unwrap();
    assert_eq!(store.survey(&text).unwrap().answers.value("plot"), Some(&Value::Text(plot.clone())));
    // A form that only creates has no entity to start on.
    let error = store.start_follow_up("plot_registration", "1", &plot).unwrap_err();
    assert!(matches!(error, StoreError::NotAFollowUp { .. }), "{error}");
}

#[test]
fn a_list_is_seeded_from_csv_idempotently_and_bad_rows_are_named_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    store.save_form(&visit()).unwrap();
    let csv = "name,label,village,bunds_m\np1,BGD-0001 — Kaboré,Béguédo,30\np2,BGD-0002 — Sawadogo,Béguédo,12\n";
    let report = store.import_entities("plots", csv.as_bytes()).unwrap();
    assert_eq!((report.created, report.updated, report.unchanged), (2, 0, 0), "{report:?}");
    // The same file again changes nothing.
    let again = store.import_entities("plots", csv.as_bytes()).unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 2));
    // A corrected file updates the entity it names; bad rows are named, the rest imports.
    let corrected = "name,label,village,bunds_m\n\
        p1,BGD-0001 — Kaboré,Béguédo,35\n\
        p1,BGD-0001 again,Béguédo,1\n\
        p3,,Niaogho,4\n\
        ,BGD-0004 — Zongo,Niaogho,8\n";
    let report = store.import_entities("plots", corrected.as_bytes()).unwrap();
    assert_eq!((report.created, report.updated), (1, 1), "{report:?}");
    let lines: Vec<u64> = report.refused.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [3, 4], "{:?}", report.refused);
    assert!(report.refused[0].1.contains("same entity as line 2"), "{:?}", report.refused);
    assert!(report.refused[1].1.contains("needs a label"), "{:?}", report.refused);
    assert_eq!(store.entity("plots", "p1").unwrap().unwrap().properties["bunds_m"], "35");
    // A row without an id is named by its label, so importing it again finds it.
    let by_label =
        store.entities("plots", &EntityQuery { search: Some("Zongo".into()), limit: 5, ..Default::default() });
    assert_eq!(by_label.unwrap().len(), 1);
    let again =
        store.import_entities("plots", b"label,village,bunds_m\nBGD-0004 \xe2\x80\x94 Zongo,Niaogho,8\n").unwrap();
    assert_eq!((again.created, again.unchanged), (0, 1), "{again:?}");
    // The imported plots are offered by the follow-up form at once.
    let survey = store.create_survey("plot_visit", "1").unwrap();
    assert_eq!(store.evaluate(&survey, None).unwrap().choices[&p("plot")], ["p1", "p2"]);
    assert_eq!(store.entity_sources("plots", "p1").unwrap().len(), 2, "the two imports that wrote it");

    // A quoted cell over two lines: the next row's problem is named by the line it is on.
    let multiline = "name,label,village\np9,BGD-0009,\"Béguédo\nnord\"\np9,dup,Béguédo\n";
    let report = store.import_entities("plots", multiline.as_bytes()).unwrap();
    assert_eq!(report.refused.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [4], "{report:?}");
    assert!(store.import_entities("__x", b"label\nA\n").is_err(), "a reserved list name");

    // A file whose header cannot be read is refused whole.
    for (header, says) in [
        ("name,village\n", "no `label` column"),
        ("label,__x\n", "not a property name"),
        ("label,a b\n", "not a property name"),
        ("label,x,x\n", "appears twice"),
    ] {
        let error = store.import_entities("plots", header.as_bytes()).unwrap_err();
        assert!(matches!(error, StoreError::EntityImport { .. }) && error.to_string().contains(says), "{error}");
    }
}

/// What a device pushes, as the relay receives it.
fn pushed(device: &Store) -> Vec<terrain_core::store::ReceivedEntity> {
    device
        .pending_entity_pushes_within(100, usize::MAX, &Default::default())
        .unwrap()
        .into_iter()
        .map(|p| terrain_core::store::ReceivedEntity { list: p.list, id: p.id, changes: p.changes, heads: p.heads })
        .collect()
}

#[test]
fn entities_travel_device_to_relay_to_device_filed_under_a_team() {
    use terrain_core::store::{EntityArea, EntityVisibility, RemoteEntity};
    let dir = tempfile::tempdir().unwrap();
    let phone = store(&dir);
    let relay = Store::open(dir.path().join("relay.db"), common::supervisor()).unwrap();
    let other = Store::open(dir.path().join("other.db"), Author::new("issa", "phone-2", Role::Enumerator)).unwrap();
    other.save_form(&registration()).unwrap();
    other.save_form(&visit()).unwrap();
    // A follow-up form evaluated before the pull, so compiled with no plot to offer.
    let follow_up = other.create_survey("plot_visit", "1").unwrap();
    assert_eq!(other.evaluate(&follow_up, None).unwrap().choices.get(&p("plot")).map(Vec::len).unwrap_or(0), 0);

    register(&phone, "BGD-0412", "Béguédo", 40);
    register(&phone, "BGD-0413", "Béguédo", 10);
    assert_eq!(phone.pending_entity_count().unwrap(), 2);

    // The relay judges each entity: it sees who wrote it and files a new one under a team.
    let items = pushed(&phone);
    let mut judged = Vec::new();
    let outcomes = relay
        .merge_entities_checked(&items, &mut |c| {
            judged.push((c.existed, c.merged.authors.len(), c.merged.deleted_changed));
            Ok(Some(7))
        })
        .unwrap();
    assert!(outcomes.iter().all(|o| matches!(o, Ok(true))), "{outcomes:?}");
    assert_eq!(judged, vec![(false, 1, false); 2]);
    let acked: Vec<_> = items.iter().map(|i| (i.list.clone(), i.id.clone(), i.heads.clone())).collect();
    phone.mark_entities_acked(&acked).unwrap();
    assert_eq!(phone.pending_entity_count().unwrap(), 0);

    // A refusal keeps nothing of the entity.
    register(&phone, "BGD-0501", "Kiembara", 5);
    let refused = relay
        .merge_entities_checked(&pushed(&phone), &mut |_| {
            Err(terrain_core::survey::Refusal { status: 403, code: "forbidden".into(), message: "no".into() })
        })
        .unwrap();
    assert!(matches!(&refused[0], Err(StoreError::EntityDocument { .. })), "{refused:?}");
    assert_eq!(relay.entities("plots", &EntityQuery { limit: 10, ..EntityQuery::default() }).unwrap().len(), 2);

    // The feed shows team 7's entities to team 7 only.
    let team = |teams: Vec<i64>| {
        EntityVisibility::Lists(vec![EntityArea { list: "plots".into(), teams: Some(teams), assignee: None }])
    };
    assert_eq!(relay.entity_feed(0, 100, &team(vec![7])).unwrap().len(), 2);
    assert!(relay.entity_feed(0, 100, &team(vec![8])).unwrap().is_empty());
    // One assigned to user 5: of team 7's enumerators, only user 5 sees it.
    let assigned_to = |user: i64| {
        EntityVisibility::Lists(vec![EntityArea { list: "plots".into(), teams: Some(vec![7]), assignee: Some(user) }])
    };
    let first = relay.entity_feed(0, 1, &EntityVisibility::All).unwrap().remove(0);
    relay.assign_entities("plots", std::slice::from_ref(&first.id), Some(5)).unwrap();
    assert_eq!(relay.entity_feed(0, 100, &assigned_to(5)).unwrap().len(), 2);
    let others = relay.entity_feed(0, 100, &assigned_to(6)).unwrap();
    assert!(others.len() == 1 && others[0].id != first.id, "{others:?}");
    let listed = |user| EntityQuery { limit: 10, teams: Some(vec![7]), assignee: Some(user), ..EntityQuery::default() };
    assert_eq!(relay.entities("plots", &listed(5)).unwrap().len(), 2);
    assert_eq!(relay.entities("plots", &listed(6)).unwrap().len(), 1);
    assert!(relay.assign_entities("plots", &["nobody".to_owned()], Some(5)).is_err(), "an unknown entity");
    assert!(relay.entity_feed(0, 100, &EntityVisibility::Lists(Vec::new())).unwrap().is_empty());
    let feed = relay.entity_feed(0, 100, &EntityVisibility::All).unwrap();
    assert_eq!(feed.len(), 2);
    assert!(relay.entity_feed(feed[1].change_seq, 100, &EntityVisibility::All).unwrap().is_empty());

    // Another device pulls them with its cursor, in one transaction; they are not pending
    // there, and follow-up choices see them.
    let pulled: Vec<RemoteEntity> = feed
        .iter()
        .map(|entry| {
            let (heads, place) = relay.entity_heads(&entry.list, &entry.id).unwrap().unwrap();
            assert_eq!(place.team, Some(7));
            RemoteEntity {
                list: entry.list.clone(),
                id: entry.id.clone(),
                changes: relay.entity_changes_after(&entry.list, &entry.id, &[]).unwrap(),
                server_heads: heads,
            }
        })
        .collect();
    let outcomes = other.apply_pulled_round("https://relay", &[], &pulled, Some(feed[1].change_seq)).unwrap().entities;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(other.sync_cursor("https://relay").unwrap(), feed[1].change_seq);
    assert_eq!(other.pending_entity_count().unwrap(), 0);
    let mut labels: Vec<String> = all(&other).into_iter().map(|e| e.label).collect();
    labels.sort();
    assert_eq!(labels, ["BGD-0412 — Béguédo", "BGD-0413 — Béguédo"]);
    // The pull dropped the compiled follow-up form: it offers the plots now.
    assert_eq!(other.evaluate(&follow_up, None).unwrap().choices[&p("plot")].len(), 2);

    // Pulled changes that lack what they build on are refused alone, and the cursor stays.
    let plot = &pulled[0];
    let visit = phone.create_survey("plot_monitoring", "1").unwrap();
    phone.set_answer(&visit, &p("plot"), Value::Text(plot.id.clone())).unwrap();
    phone.set_answer(&visit, &p("yield_kg"), Value::Decimal(420.0)).unwrap();
    phone.finalize(&visit).unwrap();
    let update = pushed(&phone).into_iter().find(|e| e.id == plot.id).unwrap();
    assert!(relay.merge_entities_checked(&[update], &mut |_| Ok(None)).unwrap()[0].is_ok());
    let tail = RemoteEntity {
        changes: relay.entity_changes_after(&plot.list, &plot.id, &plot.server_heads).unwrap(),
        server_heads: relay.entity_heads(&plot.list, &plot.id).unwrap().unwrap().0,
        ..plot.clone()
    };
    let fresh = Store::open(dir.path().join("fresh.db"), enumerator()).unwrap();
    let outcomes =
        fresh.apply_pulled_round("https://relay", &[], std::slice::from_ref(&tail), Some(999)).unwrap().entities;
    assert!(
        matches!(&outcomes[0], Err(StoreError::EntityDocument { source: DocumentError::MissingDependencies(_), .. })),
        "{outcomes:?}"
    );
    assert_eq!(fresh.sync_cursor("https://relay").unwrap(), 0);
    assert!(fresh.entity(&plot.list, &plot.id).unwrap().is_none(), "nothing half-written");
    // The device that had the plot takes the tail.
    let outcomes = other.apply_pulled_round("https://relay", &[], &[tail], Some(999)).unwrap().entities;
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    assert_eq!(other.entity(&plot.list, &plot.id).unwrap().unwrap().properties["yield_kg"], "420");
}

#[test]
fn an_entity_change_recompiles_only_the_forms_that_read_its_list() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    store.save_form(&visit()).unwrap();
    let registration = store.compiled_form("plot_registration", "1").unwrap();
    let follow_up = store.compiled_form("plot_visit", "1").unwrap();
    register(&store, "BGD-0412", "Béguédo", 40);
    assert!(std::sync::Arc::ptr_eq(&registration, &store.compiled_form("plot_registration", "1").unwrap()));
    let again = store.compiled_form("plot_visit", "1").unwrap();
    assert!(!std::sync::Arc::ptr_eq(&follow_up, &again), "the follow-up reads plots.csv");
    // Another list's change leaves it compiled.
    store.import_entities("villages", b"name,label\nv1,Beguedo\n").unwrap();
    assert!(std::sync::Arc::ptr_eq(&again, &store.compiled_form("plot_visit", "1").unwrap()));
}
