//! Entity lists on the relay, through the real server on loopback: devices push the plots
//! their surveys create and pull their team's share; the API lists and shows entities within
//! each caller's scope, seeds a list from CSV, files entities under a team (whose devices
//! then receive them), settles conflicts and deletes, each audited; and the sync's entity
//! lists are bounded like its surveys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Device, TestServer, push_request, sync_round};
use serde_json::{Value as Json, json};
use terrain_core::store::{EntityQuery, EntityRecord};
use terrain_core::sync::wire::{self, Ack, PushedEntity, SyncRequest};
use terrain_core::{AnswerPath, Form, Role, Value};

fn registration() -> Form {
    Form::from_json(
        &json!({
            "id": "plot_registration", "version": "1", "title": "Plot registration",
            "children": [
                {"node": "question", "name": "code", "type": {"kind": "text"}, "required": "true()"},
                {"node": "question", "name": "village", "type": {"kind": "text"}},
            ],
            "entities": [{
                "list": "plots", "label": "${code}",
                "properties": [{"property": "village", "question": "village"}],
            }],
        })
        .to_string(),
    )
    .unwrap()
}

fn register(device: &Device, code: &str) {
    let id = device.store.create_survey("plot_registration", "1").unwrap();
    device.store.set_answer(&id, &AnswerPath::top("code"), Value::Text(code.into())).unwrap();
    device.store.set_answer(&id, &AnswerPath::top("village"), Value::Text("Béguédo".into())).unwrap();
    device.store.finalize(&id).unwrap();
}

/// Awa's phone (team 0), which registers `codes` and syncs; with the first plot, by label.
fn awa_registers(server: &TestServer, dir: &std::path::Path, codes: &[&str]) -> (Device, EntityRecord) {
    server.user("awa", Role::Enumerator, Some(0));
    let awa = Device::login(&server.url, dir, "awa", Role::Enumerator, "awa-phone");
    awa.fetch_forms();
    for code in codes {
        register(&awa, code);
    }
    awa.sync();
    let first = awa.store.entities("plots", &EntityQuery { limit: 1, ..EntityQuery::default() }).unwrap().remove(0);
    (awa, first)
}

fn labels(device: &Device) -> Vec<String> {
    let mut labels: Vec<String> = device
        .store
        .entities("plots", &EntityQuery { limit: 100, ..EntityQuery::default() })
        .unwrap()
        .into_iter()
        .map(|e| e.label)
        .collect();
    labels.sort();
    labels
}

fn call(server: &TestServer, token: &str, method: &str, path: &str, body: Option<Json>) -> (u16, Json) {
    let client = reqwest::blocking::Client::new();
    let url = format!("{}{path}", server.url);
    let request = match method {
        "GET" => client.get(url),
        "PUT" => client.put(url),
        _ => client.post(url),
    };
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.bearer_auth(token).send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Json::Null))
}

fn ids(body: &Json) -> Vec<String> {
    body.as_array().unwrap().iter().map(|e| e["label"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn the_api_manages_entity_lists_within_each_callers_scope_and_devices_follow() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.backend().publish_form(server.project, &registration()).unwrap();
    server.user("awa", Role::Enumerator, Some(0));
    server.user("sekou", Role::Enumerator, Some(1));
    server.user("moussa", Role::Supervisor, Some(0));
    server.user("fanta", Role::Analyst, None);
    let awa = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "awa-phone");
    let sekou = Device::login(&server.url, dir.path(), "sekou", Role::Enumerator, "sekou-phone");
    for device in [&awa, &sekou] {
        device.fetch_forms();
    }
    register(&awa, "BGD-0412");
    register(&awa, "BGD-0413");
    assert_eq!(awa.sync().progress.entities_pushed, 2);
    sekou.sync();
    assert!(labels(&sekou).is_empty(), "another team's plots stay with it");

    let admin = server.token("admin", "laptop");
    let moussa = server.token("moussa", "laptop");
    let fanta = server.token("fanta", "laptop");
    let sekou_desk = server.token("sekou", "laptop");
    let (status, lists) = call(&server, &fanta, "GET", "/api/v1/entity-lists", None);
    assert_eq!((status, lists), (200, json!([{"list": "plots", "project_id": server.project}])));
    for (token, expected) in [(&moussa, 2), (&fanta, 2), (&sekou_desk, 0)] {
        let (status, body) = call(&server, token, "GET", "/api/v1/entity-lists/plots/entities", None);
        assert_eq!((status, ids(&body).len()), (200, expected), "{body}");
    }
    let (status, _) = call(&server, &admin, "GET", "/api/v1/entity-lists/parcels/entities", None);
    assert_eq!(status, 404);

    // One plot in detail: its source survey, no conflict; the other team cannot open it.
    let plot = awa.store.entities("plots", &EntityQuery { limit: 1, ..EntityQuery::default() }).unwrap().remove(0);
    let path = format!("/api/v1/entity-lists/plots/entities/{}", plot.id);
    let (status, detail) = call(&server, &moussa, "GET", &path, None);
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["label"], plot.label.as_str());
    assert_eq!(detail["team"], server.teams[0]);
    assert_eq!(detail["sources"].as_object().unwrap().len(), 1);
    assert_eq!(call(&server, &sekou_desk, "GET", &path, None).0, 404);

    // Settling and deleting are the supervisor's; each reaches the devices at their next sync.
    let settle = json!({"property": "village", "value": "Béguédo centre"});
    assert_eq!(call(&server, &sekou_desk, "POST", &format!("{path}/settle"), Some(settle.clone())).0, 403);
    let (status, settled) = call(&server, &moussa, "POST", &format!("{path}/settle"), Some(settle));
    assert_eq!((status, settled["properties"]["village"].as_str()), (200, Some("Béguédo centre")), "{settled}");
    let (status, deleted) = call(&server, &moussa, "POST", &format!("{path}/delete"), None);
    assert_eq!((status, deleted["deleted"].as_bool()), (200, Some(true)));
    awa.sync();
    let on_phone = awa.store.entity("plots", &plot.id).unwrap().unwrap();
    assert!(on_phone.deleted);
    assert_eq!(on_phone.properties["village"], "Béguédo centre");
    assert_eq!(call(&server, &moussa, "POST", &format!("{path}/restore"), None).0, 200);

    // The administrator seeds plots from CSV (a bad row named by its line), then files one
    // under the other team, whose phone receives it at its next sync.
    let csv = "name,label,village\np-seed-1,BGD-0900,Kiembara\np-seed-2,,Tenkodogo\n";
    let client = reqwest::blocking::Client::new();
    let response = client
        .post(format!("{}/api/v1/entity-lists/plots/import", server.url))
        .bearer_auth(&moussa)
        .body(csv)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 403, "only administrators seed lists");
    let report: Json = client
        .post(format!("{}/api/v1/entity-lists/plots/import", server.url))
        .bearer_auth(&admin)
        .body(csv)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(report["refused"][0]["line"], 3, "{report}");
    sekou.sync();
    assert_eq!(labels(&sekou), ["BGD-0900"], "a seeded plot filed under no team goes to every team");
    let filing = json!({"ids": [plot.id], "team": server.teams[1]});
    assert_eq!(call(&server, &moussa, "PUT", "/api/v1/entity-lists/plots/team", Some(filing.clone())).0, 403);
    assert_eq!(call(&server, &admin, "PUT", "/api/v1/entity-lists/plots/team", Some(filing)).0, 204);
    sekou.sync();
    let mut expected = vec!["BGD-0900".to_owned(), plot.label.clone()];
    expected.sort();
    assert_eq!(labels(&sekou), expected, "a plot filed under their team reaches them");
    let unknown_team = json!({"ids": [plot.id], "team": 9999});
    assert_eq!(call(&server, &admin, "PUT", "/api/v1/entity-lists/plots/team", Some(unknown_team)).0, 422);

    // Exports: stable ids and every property; GeoJSON only where a plot has a position.
    let download = |token: &str, format: &str| {
        let response = client
            .get(format!("{}/api/v1/entity-lists/plots/export?format={format}", server.url))
            .bearer_auth(token)
            .send()
            .unwrap();
        (response.status().as_u16(), response.bytes().unwrap().to_vec())
    };
    let (status, csv) = download(&fanta, "csv");
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(status, 200, "{csv}");
    assert_eq!(csv.lines().next(), Some("name,label,__conflicts,village"));
    assert_eq!(csv.lines().count(), 4, "three plots and the header: {csv}");
    assert!(csv.contains(&format!("{},{},false,Béguédo centre", plot.id, plot.label)), "{csv}");
    let (status, geojson) = download(&fanta, "geojson");
    let geojson: Json = serde_json::from_slice(&geojson).unwrap();
    assert_eq!((status, geojson["features"].as_array().map(Vec::len)), (200, Some(0)), "no plot has a position");
    let (status, xlsx) = download(&admin, "xlsx");
    assert!(status == 200 && xlsx.starts_with(b"PK"));
    assert_eq!(download(&sekou_desk, "csv").0, 403, "enumerators do not export");
    assert_eq!(download(&fanta, "shapefile").0, 400);

    // Each registration's row in the form's export leads to the plot it created: in
    // spreadsheets by the `_entity_plots` column, in JSON and OData by the same id.
    let surveys = |format: &str| {
        let response = client
            .get(format!("{}/api/v1/forms/plot_registration/export?format={format}&review=any", server.url))
            .bearer_auth(&fanta)
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.bytes().unwrap().to_vec()
    };
    let rows: Vec<Json> =
        String::from_utf8(surveys("ndjson")).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let linked: Vec<&Json> = rows.iter().map(|row| &row["entities"][0]).collect();
    assert_eq!(linked.len(), 2);
    assert!(linked.iter().all(|link| link["list"] == "plots" && link["action"] == "create"), "{rows:?}");
    assert!(linked.iter().any(|link| link["id"] == plot.id.as_str()), "{rows:?}");
    let dictionary = String::from_utf8(surveys("dictionary")).unwrap();
    assert!(dictionary.lines().any(|l| l.starts_with("plot_registration,_entity_plots,")), "{dictionary}");
    let (status, feed) = call(&server, &fanta, "POST", "/api/v1/me/feed-tokens", Some(json!({"label": "QGIS"})));
    assert_eq!(status, 201, "{feed}");
    let odata: Json = client
        .get(format!("{}/api/v1/projects/{}/odata/plot_registration_v1", server.url, server.project))
        .basic_auth("fanta", feed["token"].as_str())
        .send()
        .unwrap()
        .json()
        .unwrap();
    let values = odata["value"].as_array().expect("an OData page");
    assert!(values.iter().any(|row| row["_entity_plots"] == plot.id.as_str()), "{odata}");

    // Every write is audited.
    let (_, audit) = call(&server, &admin, "GET", "/api/v1/audit?limit=200", None);
    let actions: Vec<&str> = audit.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for action in
        ["sync.push_entities", "entity.settle", "entity.delete", "entity.restore", "entity.import", "entity.file"]
    {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
}

#[test]
fn pushed_entities_are_bounded_and_judged_alone() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.backend().publish_form(server.project, &registration()).unwrap();
    server.user("awa", Role::Enumerator, Some(0));
    let awa = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "awa-phone");
    awa.fetch_forms();
    register(&awa, "BGD-0412");
    let pending = awa.store.pending_entity_pushes_within(10, usize::MAX, &Default::default()).unwrap();
    let good = PushedEntity {
        list: pending[0].list.clone(),
        id: pending[0].id.clone(),
        base: Vec::new(),
        heads: wire::hashes(&pending[0].heads),
        changes: pending[0].changes.clone(),
    };
    // An undeclared list, junk bytes, and another entity's changes are refused one by one;
    // the good entity beside them is stored.
    let request = SyncRequest {
        push_entities: vec![
            PushedEntity { list: "parcels".into(), ..good.clone() },
            PushedEntity { changes: vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3], ..good.clone() },
            PushedEntity { id: "someone-else".into(), ..good.clone() },
            good.clone(),
        ],
        ..push_request(Vec::new())
    };
    let response = sync_round(&server.url, &awa.token, &request);
    let codes: Vec<String> = response
        .entity_acks
        .iter()
        .map(|a| match a {
            Ack::Refused { code, .. } => code.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(codes, ["unknown_list", "invalid", "invalid", "Stored"]);
    assert!(server.backend().entity_heads(&good.list, "someone-else").unwrap().is_none());

    // Names past their bound, and too many heads, are refused whole before any decoding.
    for bad in [
        PushedEntity { id: "x".repeat(300), ..good.clone() },
        PushedEntity { heads: vec![[7; 32]; 65], ..good.clone() },
    ] {
        let body = wire::encode(&SyncRequest { push_entities: vec![bad], ..push_request(Vec::new()) }).unwrap();
        let (status, _) = common::post_sync(&server.url, &awa.token, body);
        assert_eq!(status, 413);
    }
    // A request of the previous protocol is told to update.
    let old = wire::encode(&SyncRequest { protocol: 2, ..push_request(Vec::new()) }).unwrap();
    let (status, body) = common::post_sync(&server.url, &awa.token, old);
    assert_eq!(status, 422);
    assert!(String::from_utf8_lossy(&body).contains("update the app"));
}

#[test]
fn a_changed_entity_comes_back_as_its_new_changes_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.backend().publish_form(server.project, &registration()).unwrap();
    server.user("issa", Role::Enumerator, Some(0));
    let (_awa, plot) = awa_registers(&server, dir.path(), &["BGD-0412"]);

    // Issa's phone pulls the plot whole: its genesis left for the phone to rebuild, and no
    // heads, which the phone works out.
    let issa = Device::login(&server.url, dir.path(), "issa", Role::Enumerator, "issa-phone");
    let first = sync_round(&server.url, &issa.token, &push_request(Vec::new()));
    let whole = &first.pull_entities[0];
    assert_eq!((whole.changes.first(), whole.heads.len()), (Some(&0), 0), "{whole:?}");

    // Once its cursor has passed that answer, a change comes back alone, with the heads.
    let admin = server.token("admin", "laptop");
    let path = format!("/api/v1/entity-lists/plots/entities/{}/settle", plot.id);
    let settle = json!({"property": "village", "value": "Niaogho"});
    assert_eq!(call(&server, &admin, "POST", &path, Some(settle)).0, 200);
    let epoch = first.epoch.map_or(0, |e| e.epoch);
    let request = SyncRequest { cursor: first.cursor, epoch, ..push_request(Vec::new()) };
    let next = sync_round(&server.url, &issa.token, &request);
    let tail = &next.pull_entities[0];
    assert_eq!(tail.heads.len(), 1, "{tail:?}");
    assert_ne!(tail.changes.first(), Some(&0), "no genesis");
    assert!(tail.changes.len() < whole.changes.len(), "{} ≥ {}", tail.changes.len(), whole.changes.len());
}

/// A phone whose user joins a team is sent the team's plots that changed before its cursor,
/// a round's budget at a time, and no plot twice.
#[test]
fn a_phone_whose_user_joins_a_team_receives_the_teams_older_plots() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.backend().publish_form(server.project, &registration()).unwrap();
    server.user("awa", Role::Enumerator, Some(0));
    let sekou = server.user("sekou", Role::Enumerator, Some(1));
    let awa = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "awa-phone");
    awa.fetch_forms();
    for code in ["BGD-0412", "BGD-0413", "BGD-0414"] {
        register(&awa, code);
    }
    awa.sync();
    // Sekou registers a plot of his own after them: his phone's cursor passes theirs.
    let phone = Device::login(&server.url, dir.path(), "sekou", Role::Enumerator, "sekou-phone");
    phone.fetch_forms();
    register(&phone, "BGD-0900");
    phone.sync();
    phone.sync();
    assert_eq!(labels(&phone), ["BGD-0900"], "another team's plots stay with it");
    let tablet = server.token("sekou", "sekou-tablet");
    let first = sync_round(&server.url, &tablet, &push_request(Vec::new()));
    assert_eq!(first.pull_entities.len(), 1, "his own plot");

    server.backend().add_team_member(server.teams[0], sekou.id).unwrap();
    phone.sync();
    assert_eq!(labels(&phone), ["BGD-0412", "BGD-0413", "BGD-0414", "BGD-0900"]);

    // With room for one plot a round, the tablet gets them one by one, each once.
    let epoch = first.epoch.map_or(0, |e| e.epoch);
    let mut cursor = first.cursor;
    let mut received = Vec::new();
    for _ in 0..6 {
        let request = SyncRequest { cursor, epoch, max_pull_bytes: 1, ..push_request(Vec::new()) };
        let round = sync_round(&server.url, &tablet, &request);
        received.extend(round.pull_entities.iter().map(|e| e.id.clone()));
        cursor = round.cursor;
        if !round.more {
            break;
        }
    }
    received.sort();
    received.dedup();
    assert_eq!(received.len(), 3, "{received:?}");
    let again = sync_round(&server.url, &tablet, &SyncRequest { cursor, epoch, ..push_request(Vec::new()) });
    assert!(again.pull_entities.is_empty() && !again.more, "{again:?}");
}

/// A follow-up form published after one team's plots reached the relay is sent without
/// them: each phone attaches its own share of the list, so another team's plots are neither
/// downloaded nor offered, and the phone's own plots are.
#[test]
fn a_follow_up_form_carries_no_plots_and_each_phone_offers_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.backend().publish_form(server.project, &registration()).unwrap();
    server.user("sekou", Role::Enumerator, Some(1));
    let (awa, awa_plot) = awa_registers(&server, dir.path(), &["BGD-0412"]);

    let visit = Form::from_json(
        &json!({"id": "visit", "version": "1", "title": "Visit", "children": [
            {"node": "question", "name": "plot", "type": {"kind": "select_one_from_file", "file": "plots.csv"}}
        ]})
        .to_string(),
    )
    .unwrap();
    server.backend().publish_form(server.project, &visit).unwrap();
    let sekou = Device::login(&server.url, dir.path(), "sekou", Role::Enumerator, "sekou-phone");
    for path in ["/api/v1/forms/visit/1", "/api/v1/forms/visit/1/definition"] {
        let (status, body) = call(&server, &sekou.token, "GET", path, None);
        assert_eq!(status, 200, "{body}");
        let text = body.to_string();
        assert!(!text.contains("BGD-0412") && !text.contains(&awa_plot.id), "{path}: {text}");
    }
    sekou.fetch_forms();
    register(&sekou, "BGD-0900");
    let own = sekou.store.entities("plots", &EntityQuery { limit: 1, ..EntityQuery::default() }).unwrap().remove(0);
    let answer = |device: &Device, plot: &str| {
        let id = device.store.create_survey("visit", "1").unwrap();
        device.store.set_answer(&id, &AnswerPath::top("plot"), Value::Choice(plot.into())).unwrap();
        device.store.evaluate(&id, None).unwrap().violations.len()
    };
    assert_eq!(answer(&sekou, &own.id), 0, "his own plot is offered");
    assert_eq!(answer(&sekou, &awa_plot.id), 1, "another team's plot is not");
    awa.fetch_forms();
    assert_eq!(answer(&awa, &awa_plot.id), 0);
}

/// A supervisor assigns one of the team's plots to one enumerator: of the team's
/// enumerators only she sees it and her phone receives it, until it is assigned to nobody.
#[test]
fn a_plot_assigned_to_one_enumerator_reaches_her_phone_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.backend().publish_form(server.project, &registration()).unwrap();
    server.user("binta", Role::Enumerator, Some(0));
    server.user("issa", Role::Enumerator, Some(0));
    server.user("sekou", Role::Enumerator, Some(1));
    server.user("moussa", Role::Supervisor, Some(0));
    let (_, plot) = awa_registers(&server, dir.path(), &["BGD-0412", "BGD-0413"]);
    assert_eq!(plot.label, "BGD-0412");
    let path = format!("/api/v1/entity-lists/plots/entities/{}/assignee", plot.id);
    let moussa = server.token("moussa", "laptop");
    let issa_desk = server.token("issa", "laptop");

    // Only a reviewer assigns, and only to an enumerator who would see the plot.
    let to = |name: Option<&str>| Some(json!({ "username": name }));
    assert_eq!(call(&server, &issa_desk, "PUT", &path, to(Some("issa"))).0, 403);
    for name in ["sekou", "moussa", "ghost"] {
        let (status, body) = call(&server, &moussa, "PUT", &path, to(Some(name)));
        assert_eq!((status, body["code"].as_str()), (422, Some("unknown_assignee")), "{name}: {body}");
    }
    let (status, detail) = call(&server, &moussa, "PUT", &path, to(Some("binta")));
    assert_eq!((status, detail["assignee"].as_str()), (200, Some("binta")), "{detail}");

    let binta = Device::login(&server.url, dir.path(), "binta", Role::Enumerator, "binta-phone");
    let issa = Device::login(&server.url, dir.path(), "issa", Role::Enumerator, "issa-phone");
    for device in [&binta, &issa] {
        device.fetch_forms();
        device.sync();
    }
    assert_eq!(labels(&binta), ["BGD-0412", "BGD-0413"]);
    assert_eq!(labels(&issa), ["BGD-0413"], "a plot assigned to another enumerator stays off his phone");
    let (status, listed) = call(&server, &issa_desk, "GET", "/api/v1/entity-lists/plots/entities", None);
    assert_eq!((status, ids(&listed)), (200, vec!["BGD-0413".to_owned()]));
    let one = format!("/api/v1/entity-lists/plots/entities/{}", plot.id);
    assert_eq!(call(&server, &issa_desk, "GET", &one, None).0, 404);
    assert_eq!(call(&server, &moussa, "GET", &one, None).1["assignee"], "binta", "the supervisor sees it");

    // Assigned to nobody: the team's phones receive it at their next sync.
    let (status, detail) = call(&server, &moussa, "PUT", &path, to(None));
    assert_eq!((status, detail["assignee"].clone()), (200, Json::Null));
    issa.sync();
    assert_eq!(labels(&issa), ["BGD-0412", "BGD-0413"]);
    let audit = server.backend().audit_log(100).unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "entity.assign").count(), 2);
}
