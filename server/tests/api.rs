//! The server's plain API on loopback: health, OpenAPI, login, tokens, forms, errors.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Device, PASSWORD, TestServer};
use terrain_core::sync::{PublishedForm, Transport, TransportError};
use terrain_core::{AnswerPath, Role, Value};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

#[test]
fn health_openapi_and_login_work() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let health: serde_json::Value = client().get(format!("{}/healthz", server.url)).send().unwrap().json().unwrap();
    assert_eq!(health["status"], "ok");
    let doc: serde_json::Value =
        client().get(format!("{}/api/openapi.json", server.url)).send().unwrap().json().unwrap();
    assert!(doc["paths"]["/api/v1/sync"]["post"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let wrong = client()
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&serde_json::json!({"username": "admin", "password": "nope", "device_id": "d"}))
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body: serde_json::Value = wrong.json().unwrap();
    assert_eq!(body["code"], "unauthorized");

    let token = server.token("admin", "laptop");
    let me: serde_json::Value =
        client().get(format!("{}/api/v1/me", server.url)).bearer_auth(&token).send().unwrap().json().unwrap();
    assert_eq!(me["username"], "admin");
    let out = client().post(format!("{}/api/v1/auth/logout", server.url)).bearer_auth(&token).send().unwrap();
    assert_eq!(out.status(), 204);
    let revoked = client().get(format!("{}/api/v1/me", server.url)).bearer_auth(&token).send().unwrap();
    assert_eq!(revoked.status(), 401);
}

#[test]
fn an_expired_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::TestServer::settings();
    settings.services.access_ttl = chrono::Duration::milliseconds(1);
    settings.services.token_ttl = chrono::Duration::milliseconds(1);
    let server = TestServer::start_with(dir.path(), settings);
    let session = terrain_core::sync::Session::login(&server.url, "admin", common::PASSWORD, "laptop").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let response = client().get(format!("{}/api/v1/me", server.url)).bearer_auth(session.token()).send().unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["code"], "token_expired", "{body}");
    // The refresh token has expired too: the device logs in again.
    let refresh = session.refresh_token().unwrap();
    let response = client().post(format!("{}/api/v1/auth/refresh", server.url)).bearer_auth(&refresh).send().unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().unwrap();
    assert!(body["message"].as_str().unwrap().contains("log in again"), "{body}");
}

#[test]
fn a_device_creates_a_survey_and_the_server_gets_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("awa", Role::Enumerator, Some(0));
    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone-awa");
    // The phone downloads the form list and the form.
    let forms: Vec<serde_json::Value> =
        client().get(format!("{}/api/v1/forms", server.url)).bearer_auth(&phone.token).send().unwrap().json().unwrap();
    assert_eq!(forms.len(), 1);
    let form: terrain_core::Form = serde_json::from_value(
        client()
            .get(format!("{}/api/v1/forms/household/2026110101", server.url))
            .bearer_auth(&phone.token)
            .send()
            .unwrap()
            .json()
            .unwrap(),
    )
    .unwrap();
    phone.store.save_form(&form).unwrap();
    let id = phone.store.create_survey("household", "2026110101").unwrap();
    phone.store.set_answer(&id, &"village".parse::<AnswerPath>().unwrap(), Value::Text("Kindia".into())).unwrap();
    let report = phone.sync();
    assert_eq!(report.progress.pushed, 1);
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(phone.store.pending_count().unwrap(), 0);
    let survey: serde_json::Value = client()
        .get(format!("{}/api/v1/surveys/{id}", server.url))
        .bearer_auth(server.token("admin", "laptop"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(survey["answers"]["village"], "Kindia");
    // A second sync with nothing new is one small round trip.
    let noop = phone.sync();
    assert_eq!(noop.progress.rounds, 1);
    assert!(noop.progress.bytes_sent + noop.progress.bytes_received < 200, "{:?}", noop.progress);
    let _ = PASSWORD;
}

#[test]
fn an_admin_publishes_an_xlsform_and_devices_see_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let admin = server.token("admin", "laptop");
    let xlsx = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../forms/beguedo_slm.xlsx")).unwrap();
    let published = client()
        .post(format!("{}/api/v1/projects/{}/forms", server.url, server.project))
        .bearer_auth(&admin)
        .header("content-type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .body(xlsx)
        .send()
        .unwrap();
    assert_eq!(published.status(), 201);
    let legacy = client()
        .post(format!("{}/api/v1/projects/{}/forms", server.url, server.project))
        .bearer_auth(&admin)
        .header("content-type", "application/vnd.ms-excel")
        .body(vec![0u8; 10])
        .send()
        .unwrap();
    assert_eq!(legacy.status(), 422);
    server.user("awa", Role::Enumerator, Some(0));
    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone");
    phone.fetch_forms();
    assert!(phone.store.forms().unwrap().iter().any(|f| f.form_id == "beguedo_slm"));
}

/// A zip of the given entries, as an author zips a form with its lists.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        out.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        out.write_all(data).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// Publishes a form (`body` of `content_type`: JSON, XLSX or a zip with its lists) to the
/// server's project as the administrator whose token is `admin`; the status and the body.
fn publish(server: &TestServer, admin: &str, content_type: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let response = client()
        .post(format!("{}/api/v1/projects/{}/forms", server.url, server.project))
        .bearer_auth(admin)
        .header("content-type", content_type)
        .body(body)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json::<serde_json::Value>().unwrap())
}

/// Awa's phone, with every form published downloaded as the app downloads them.
fn phone_with_forms(server: &TestServer, dir: &std::path::Path) -> Device {
    server.user("awa", Role::Enumerator, Some(0));
    let phone = Device::login(&server.url, dir, "awa", Role::Enumerator, "phone");
    let transport = terrain_core::sync::HttpTransport::new(&phone.url, &phone.token).unwrap();
    terrain_core::sync::download_forms(&phone.store, &transport).unwrap();
    phone
}

#[test]
fn a_form_is_published_with_the_lists_it_reads_and_devices_get_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let admin = server.token("admin", "laptop");
    let form = br#"{"id": "needs", "version": "1", "title": "Needs", "children": [
        {"node": "question", "name": "village", "type": {"kind": "select_one_from_file", "file": "villages.csv"},
         "required": "true()"},
        {"node": "question", "name": "population", "type": {"kind": "calculate"},
         "calculation": "pulldata('villages', 'population', 'name', ${village})"}
    ]}"#;
    let villages = b"name,label,population\nsoumb,Soumbouyah,2300\nfria1,Fria centre,5100\n";
    let publish = |content_type: &str, body: Vec<u8>| publish(&server, &admin, content_type, body);

    // Without its list, with a file it does not read, with a list that does not read: each
    // refused, saying what to do, and nothing published.
    let (status, body) = publish("application/json", form.to_vec());
    assert_eq!((status, body["code"].as_str()), (422, Some("missing_files")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("`villages.csv` (question `village`)"), "{body}");
    let (status, body) =
        publish("application/zip", zip_of(&[("needs.json", form), ("villages.csv", villages), ("old.csv", b"a\n")]));
    assert_eq!((status, body["code"].as_str()), (422, Some("unexpected_file")), "{body}");
    let (status, body) = publish("application/zip", zip_of(&[("needs.json", form), ("villages.csv", b"label\nx\n")]));
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_file")), "{body}");
    assert!(server.backend().forms().unwrap().iter().all(|f| f.form_id != "needs"));

    // The form and its list in one zip (folders inside are ignored).
    let (status, body) =
        publish("application/zip", zip_of(&[("needs/needs.json", form), ("needs/media/villages.csv", villages)]));
    assert_eq!(status, 201, "{body}");
    // The same again is harmless; another list under the same version is refused.
    let (status, _) = publish("application/zip", zip_of(&[("needs.json", form), ("villages.csv", villages)]));
    assert_eq!(status, 201);
    let changed = b"name,label,population\nsoumb,Soumbouyah,9\n";
    let (status, body) = publish("application/zip", zip_of(&[("needs.json", form), ("villages.csv", changed)]));
    assert_eq!(status, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("new form version"), "{body}");

    // A phone downloads the form as it always does, and its lists come with it.
    let phone = phone_with_forms(&server, dir.path());
    let id = phone.store.create_survey("needs", "1").unwrap();
    phone.store.set_answer(&id, &AnswerPath::top("village"), Value::Choice("fria1".into())).unwrap();
    let evaluation = phone.store.evaluate(&id, Some("fr")).unwrap();
    assert_eq!(evaluation.calculated[&AnswerPath::top("population")], "5100");
    assert!(evaluation.is_complete(), "{:?}", evaluation.violations);
    phone.store.set_answer(&id, &AnswerPath::top("village"), Value::Choice("conakry9".into())).unwrap();
    let evaluation = phone.store.evaluate(&id, None).unwrap();
    assert_eq!(evaluation.violations.len(), 1, "a code the list does not have");
    // The audit says which files went with the version.
    let audit = server.backend().audit_log(50).unwrap();
    let published = audit.iter().find(|e| e.action == "form.publish").unwrap();
    assert!(published.detail.as_deref().unwrap_or_default().contains("villages.csv"), "{published:?}");

    // A new version with the same list: the phone downloads its definition, not the list
    // again. A version with a changed list: the list too.
    let transport = FilesFetched::new(&phone);
    let version = |v: &str| {
        String::from_utf8(form.to_vec()).unwrap().replace(r#""version": "1""#, &format!(r#""version": "{v}""#))
    };
    let (status, body) =
        publish("application/zip", zip_of(&[("needs.json", version("2").as_bytes()), ("villages.csv", villages)]));
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["files"][0]["bytes"], villages.len());
    assert_eq!(terrain_core::sync::download_forms(&phone.store, &transport).unwrap().len(), 1);
    assert!(transport.fetched().is_empty(), "an unchanged list is not sent again");
    let (status, _) =
        publish("application/zip", zip_of(&[("needs.json", version("3").as_bytes()), ("villages.csv", changed)]));
    assert_eq!(status, 201);
    assert_eq!(terrain_core::sync::download_forms(&phone.store, &transport).unwrap().len(), 1);
    assert_eq!(transport.fetched(), ["villages.csv"]);
    let id = phone.store.create_survey("needs", "3").unwrap();
    phone.store.set_answer(&id, &AnswerPath::top("village"), Value::Choice("soumb".into())).unwrap();
    assert_eq!(phone.store.evaluate(&id, None).unwrap().calculated[&AnswerPath::top("population")], "9");
    let id = phone.store.create_survey("needs", "2").unwrap();
    phone.store.set_answer(&id, &AnswerPath::top("village"), Value::Choice("fria1".into())).unwrap();
    assert_eq!(phone.store.evaluate(&id, None).unwrap().calculated[&AnswerPath::top("population")], "5100");
    // The file as published to those of the project; someone outside it learns nothing.
    let file = format!("{}/api/v1/forms/needs/3/files/villages.csv", server.url);
    let response = client().get(&file).bearer_auth(&phone.token).send().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.bytes().unwrap().as_ref(), changed);
    // gzip'd for a client that asks, as lists are fetched over 2G.
    let raw = reqwest::blocking::Client::builder().no_gzip().build().unwrap();
    let response = raw.get(&file).bearer_auth(&phone.token).header("accept-encoding", "gzip").send().unwrap();
    assert_eq!(response.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
    server.user("stranger", Role::Enumerator, None);
    let stranger = server.token("stranger", "phone");
    assert_eq!(client().get(&file).bearer_auth(&stranger).send().unwrap().status().as_u16(), 404);
}

/// A transport to the test server that records the form files it downloads.
struct FilesFetched {
    inner: terrain_core::sync::HttpTransport,
    fetched: std::sync::Mutex<Vec<String>>,
}

impl FilesFetched {
    fn new(device: &Device) -> FilesFetched {
        let inner = terrain_core::sync::HttpTransport::new(&device.url, &device.token).unwrap();
        FilesFetched { inner, fetched: Default::default() }
    }

    /// The files downloaded since the last call.
    fn fetched(&self) -> Vec<String> {
        std::mem::take(&mut *self.fetched.lock().unwrap())
    }
}

impl Transport for FilesFetched {
    fn server(&self) -> &str {
        self.inner.server()
    }
    fn sync(&self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        self.inner.sync(body)
    }
    fn form(&self, form_id: &str, version: &str) -> Result<String, TransportError> {
        self.inner.form(form_id, version)
    }
    fn form_definition(&self, form_id: &str, version: &str) -> Result<String, TransportError> {
        self.inner.form_definition(form_id, version)
    }
    fn form_file(&self, form_id: &str, version: &str, name: &str, max_bytes: u64) -> Result<Vec<u8>, TransportError> {
        self.fetched.lock().unwrap().push(name.to_owned());
        self.inner.form_file(form_id, version, name, max_bytes)
    }
    fn published_forms(&self) -> Result<Vec<PublishedForm>, TransportError> {
        self.inner.published_forms()
    }
}

/// ODK's other list formats: health facilities from an XML file and farm plots from a
/// GeoJSON layer (exported from QGIS), published with the form and read on the phone.
#[test]
fn xml_and_geojson_lists_are_published_with_the_form_and_read_on_the_phone() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let admin = server.token("admin", "laptop");
    let form = br#"{"id": "visits", "version": "1", "title": "Visits", "children": [
        {"node": "question", "name": "facility", "type": {"kind": "select_one_from_file", "file": "facilities.xml"},
         "required": "true()"},
        {"node": "question", "name": "secteur", "type": {"kind": "text"}},
        {"node": "question", "name": "plot", "type": {"kind": "select_one_from_file", "file": "plots.geojson"},
         "choice_filter": "secteur=${secteur}"}
    ]}"#;
    let facilities = r#"<?xml version="1.0" encoding="UTF-8"?>
        <root>
          <item><name>cs_fria</name><label>Centre de santé de Fria</label><kind>health_centre</kind></item>
          <item><name>hp_kindia</name><label>Hôpital préfectoral &amp; maternité</label><kind>hospital</kind></item>
        </root>"#
        .as_bytes();
    let plots = serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "BGD-0412", "geometry": {"type": "Point", "coordinates": [-0.73, 11.78]},
         "properties": {"title": "Plot 412", "secteur": "secteur_3"}},
        {"type": "Feature", "id": "BGD-0500", "geometry": {"type": "Point", "coordinates": [-0.70, 11.80]},
         "properties": {"title": "Plot 500", "secteur": "secteur_5"}},
    ]})
    .to_string();
    let publish = |lists: &[(&str, &[u8])]| {
        let mut entries = vec![("visits.json", &form[..])];
        entries.extend_from_slice(lists);
        publish(&server, &admin, "application/zip", zip_of(&entries))
    };
    // A layer ODK cannot read is refused at publishing, naming the feature.
    let multi = br#"{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
        "geometry": {"type": "MultiPolygon", "coordinates": []}}]}"#;
    let (status, body) = publish(&[("facilities.xml", facilities), ("plots.geojson", multi)]);
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_file")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("feature 1: a MultiPolygon geometry"), "{body}");
    let (status, body) = publish(&[("facilities.xml", facilities), ("plots.geojson", plots.as_bytes())]);
    assert_eq!(status, 201, "{body}");

    let phone = phone_with_forms(&server, dir.path());
    let id = phone.store.create_survey("visits", "1").unwrap();
    phone.store.set_answer(&id, &AnswerPath::top("facility"), Value::Choice("hp_kindia".into())).unwrap();
    phone.store.set_answer(&id, &AnswerPath::top("secteur"), Value::Text("secteur_3".into())).unwrap();
    phone.store.set_answer(&id, &AnswerPath::top("plot"), Value::Choice("BGD-0412".into())).unwrap();
    let evaluation = phone.store.evaluate(&id, None).unwrap();
    assert!(evaluation.is_complete(), "{:?}", evaluation.violations);
    // The other sector's plot is filtered out, as a choice_filter on a CSV list would.
    phone.store.set_answer(&id, &AnswerPath::top("plot"), Value::Choice("BGD-0500".into())).unwrap();
    assert_eq!(phone.store.evaluate(&id, None).unwrap().violations.len(), 1);
}

#[test]
fn a_follow_up_form_reads_an_entity_list_its_project_declares_without_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let admin = server.token("admin", "laptop");
    let publish = |form: &str| publish(&server, &admin, "application/json", form.as_bytes().to_vec());
    // A form that only reads the list, and one that updates its entities (which, as in
    // ODK Central, declares the list).
    let lookup = r#"{"id": "lookup", "version": "1", "title": "Lookup", "children": [
        {"node": "question", "name": "plot", "type": {"kind": "select_one_from_file", "file": "plots.csv"}}
    ]}"#;
    let visit = r#"{"id": "visit", "version": "1", "title": "Visit", "children": [
        {"node": "question", "name": "plot", "type": {"kind": "select_one_from_file", "file": "plots.csv"}}
    ], "entities": [{"list": "plots", "entity_id": "${plot}"}]}"#;
    // Before any form of the project declares plots, plots.csv is a file like any other.
    let (status, body) = publish(lookup);
    assert_eq!((status, body["code"].as_str()), (422, Some("missing_files")), "{body}");
    // Once a form declares the list, devices build plots.csv from their entities.
    assert_eq!(publish(visit).0, 201);
    let (status, body) = publish(lookup);
    assert_eq!(status, 201, "{body}");
}
