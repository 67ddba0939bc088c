//! Form delivery benchmark, against the real server on loopback. A Guinea needs form reads two
//! lists, 5,000 villages and 800 health facilities; three versions are published one after
//! the other (the first; a second whose facilities list gained a row; a third that changes a
//! label only) and a phone downloads each as the app does (`download_forms`: the list of
//! forms, the definition, and each file it does not hold under the same SHA-256). Bytes on
//! the wire (counted by a TCP proxy, both ways, headers included; the phone asks for gzip,
//! as reqwest, OkHttp and URLSession do) against the baseline of the same run: the same
//! version downloaded with its lists inside the form's JSON, gzip'd too
//! (`GET /api/v1/forms/{id}/{version}`, how Terrain sent forms before), after the same list.
//!
//! Only bytes are measured, so the build profile does not change the figures.
//!
//! Run: `cargo bench -p terrain-server --bench form_delivery` (TERRAIN_BENCH_TABLE=FILE also
//! writes the table to FILE, for `bench/report.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "support/loopback.rs"]
mod loopback;
#[path = "support/proxy.rs"]
mod proxy;
#[path = "support/table.rs"]
mod table;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use terrain_core::form::Form;
use terrain_core::sync::{self, HttpTransport, Transport};
use terrain_core::{Author, Role, Store};
use terrain_services::accounts::CreateUser;

const PASSWORD: &str = "benchmark password";

fn villages(rng: &mut StdRng) -> Vec<u8> {
    let mut csv = String::from("name,label,prefecture,population\n");
    for i in 0..5_000 {
        let prefecture = ["kindia", "fria", "boke", "mamou", "labe"][i % 5];
        writeln!(csv, "v{i:05},Village {i} ({prefecture}),{prefecture},{}", rng.random_range(150..9_000)).unwrap();
    }
    csv.into_bytes()
}

fn facilities(rng: &mut StdRng, rows: usize) -> Vec<u8> {
    let mut csv = String::from("name,label,village,kind\n");
    for i in 0..rows {
        let kind = ["poste", "centre", "hopital"][i % 3];
        writeln!(csv, "f{i:04},Structure de santé {i},v{:05},{kind}", rng.random_range(0..5_000)).unwrap();
    }
    csv.into_bytes()
}

fn form(version: &str, title: &str) -> Form {
    Form::from_json(
        &serde_json::json!({"id": "needs", "version": version, "title": title, "children": [
            {"node": "question", "name": "village", "type": {"kind": "select_one_from_file", "file": "villages.csv"},
             "label": {"fr": "Village"}},
            {"node": "question", "name": "population", "type": {"kind": "calculate"},
             "calculation": "pulldata('villages', 'population', 'name', ${village})"},
            {"node": "question", "name": "facility", "type": {"kind": "select_one_from_file", "file": "facilities.csv"},
             "label": {"fr": "Structure de santé la plus proche"}, "choice_filter": "village = ${village}"},
        ]})
        .to_string(),
    )
    .unwrap()
}

/// The bytes that crossed the proxy while `f` ran.
fn counted(wire: &AtomicU64, f: impl FnOnce()) -> u64 {
    let before = wire.load(Ordering::Relaxed);
    f();
    wire.load(Ordering::Relaxed) - before
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let state =
        terrain_server::AppState::open(&dir.path().join("server"), terrain_server::Settings::default()).unwrap();
    let services = state.services.clone();
    let backend = services.backend().clone();
    let (_runtime, addr) = loopback::serve(terrain_server::app(state));
    let (url, wire) = proxy::counting_proxy(addr);

    let operator = services.operator().unwrap();
    let project = backend.create_project("guinea").unwrap().id;
    let team = backend.create_team(project, "kindia").unwrap().id;
    let request =
        CreateUser { username: "awa".into(), password: PASSWORD.into(), role: "enumerator".into(), display_name: None };
    let awa = services.create_user(&operator, &request).unwrap();
    backend.add_team_member(team, awa.id).unwrap();
    let session = sync::Session::login(&url, "awa", PASSWORD, "awa-phone").unwrap();
    let transport = HttpTransport::new(&url, &session.token()).unwrap();
    let phone = Store::open(dir.path().join("phone.db"), Author::new("awa", "awa-phone", Role::Enumerator)).unwrap();

    let mut rng = StdRng::seed_from_u64(2026);
    let villages = villages(&mut rng);
    let first = facilities(&mut rng, 800);
    let mut grown = first.clone();
    grown.extend_from_slice("f0800,Structure de santé 800,v00042,poste\n".as_bytes());
    let versions = [
        ("1", "Besoins prioritaires", &first, "first download: definition and both lists"),
        ("2", "Besoins prioritaires", &grown, "a facility added: that list alone"),
        ("3", "Besoins prioritaires (2e passage)", &grown, "the title changed: no list"),
    ];
    let mut rows = Vec::new();
    let (mut total, mut baseline_total) = (0, 0);
    for (version, title, facilities, what) in versions {
        let files = BTreeMap::from([
            ("villages.csv".to_owned(), villages.clone()),
            ("facilities.csv".to_owned(), facilities.clone()),
        ]);
        services.publish_with_files(&operator, project, &form(version, title), &files).unwrap();
        let baseline = counted(&wire, || {
            transport.published_forms().unwrap();
            transport.form("needs", version).unwrap();
        });
        let bytes = counted(&wire, || {
            assert_eq!(sync::download_forms(&phone, &transport).unwrap().len(), 1);
        });
        baseline_total += baseline;
        total += bytes;
        rows.push((
            format!("version {version}: {what}"),
            format!("{:.1} KiB", bytes as f64 / 1024.0),
            format!(
                "{:.2}× the form with its lists inside, gzip'd ({:.1} KiB)",
                bytes as f64 / baseline as f64,
                baseline as f64 / 1024.0
            ),
        ));
    }
    rows.push((
        "three versions together".into(),
        format!("{:.1} KiB", total as f64 / 1024.0),
        format!("{:.2}× ({:.1} KiB)", total as f64 / baseline_total as f64, baseline_total as f64 / 1024.0),
    ));
    let noop = counted(&wire, || assert!(sync::download_forms(&phone, &transport).unwrap().is_empty()));
    rows.push(("nothing new: the list of forms alone".into(), format!("{noop} B"), String::new()));
    table::report("form delivery (5,000 villages, 800 facilities)", rows);
}
