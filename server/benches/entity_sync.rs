//! Entity sync benchmark, against the real server on loopback: a relay holding N plots
//! (100,000 by default) filed under 10 teams, and a phone of one team. Prints a table of
//! bytes on the wire (counted by a TCP proxy: headers included), round trips and times,
//! each with its baseline from the same run:
//! - the first sync ÷ that team's plots as compact JSON gzip'd as one stream, and whether it
//!   sent the team's share only;
//! - a re-sync after 1% of the team's plots changed on the relay ÷ those plots' new changes
//!   (the Automerge change bytes), and ÷ the changed values as gzip'd JSON;
//! - a no-op sync: round trips and bytes.
//!
//! Run: `cargo bench -p terrain-server --bench entity_sync` (TERRAIN_BENCH_ENTITIES=N to
//! resize; TERRAIN_BENCH_TABLE=FILE also writes the table to FILE, for `bench/report.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "support/loopback.rs"]
mod loopback;
#[path = "support/proxy.rs"]
mod proxy;
#[path = "support/table.rs"]
mod table;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use terrain_core::form::Form;
use terrain_core::store::EntityQuery;
use terrain_core::sync::{self, CancelToken, HttpTransport, SyncOptions, SyncReport};
use terrain_core::{Author, Role, Store};
use terrain_services::accounts::CreateUser;

const PASSWORD: &str = "benchmark password";
const TEAMS: usize = 10;

fn registration() -> Form {
    Form::from_json(
        &serde_json::json!({
            "id": "plot_registration", "version": "1", "title": "Plot registration",
            "children": [
                {"node": "question", "name": "code", "type": {"kind": "text"}},
                {"node": "question", "name": "village", "type": {"kind": "text"}},
                {"node": "question", "name": "owner", "type": {"kind": "text"}},
                {"node": "question", "name": "area_ha", "type": {"kind": "decimal"}},
                {"node": "question", "name": "techniques", "type": {"kind": "text"}},
                {"node": "question", "name": "yield_kg", "type": {"kind": "decimal"}},
            ],
            "entities": [{
                "list": "plots", "label": "${code}",
                "properties": [
                    {"property": "village", "question": "village"},
                    {"property": "owner", "question": "owner"},
                    {"property": "area_ha", "question": "area_ha"},
                    {"property": "techniques", "question": "techniques"},
                    {"property": "yield_kg", "question": "yield_kg"},
                ],
            }],
        })
        .to_string(),
    )
    .unwrap()
}

const VILLAGES: [&str; 8] = ["Béguédo", "Niaogho", "Garango", "Boussouma", "Tenkodogo", "Kiembara", "Zabré", "Bittou"];
const NAMES: [&str; 8] = ["Ouédraogo", "Bambara", "Zongo", "Sawadogo", "Compaoré", "Kaboré", "Bance", "Tapsoba"];
const TECHNIQUES: [&str; 4] = ["zai", "half_moons", "stone_bunds", "zai stone_bunds"];

/// One plot as a CSV row and as the JSON a form tool would send.
fn plot(rng: &mut StdRng, n: usize) -> (String, serde_json::Value) {
    let village = VILLAGES[rng.random_range(0..VILLAGES.len())];
    let owner =
        format!("{} {}", ["Salif", "Awa", "Issa", "Mariam"][rng.random_range(0..4)], NAMES[rng.random_range(0..8)]);
    let area = format!("{:.2}", rng.random_range(0.2..4.0));
    let technique = TECHNIQUES[rng.random_range(0..TECHNIQUES.len())];
    let yield_kg = rng.random_range(80..900).to_string();
    let id = format!("plot-{n:06}");
    let code = format!("BGD-{n:05}");
    let row = format!("{id},{code},{village},{owner},{area},{technique},{yield_kg}\n");
    let json = serde_json::json!({"name": id, "label": code, "village": village, "owner": owner,
        "area_ha": area, "techniques": technique, "yield_kg": yield_kg});
    (row, json)
}

fn sync_via(store: &Store, url: &str, token: &str) -> SyncReport {
    let transport = HttpTransport::new(url, token).unwrap();
    sync::sync(store, &transport, &SyncOptions::default(), &|_| {}, &CancelToken::default()).unwrap()
}

fn main() {
    let n: usize = std::env::var("TERRAIN_BENCH_ENTITIES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let state =
        terrain_server::AppState::open(&dir.path().join("server"), terrain_server::Settings::default()).unwrap();
    let services = state.services.clone();
    let op = services.operator().unwrap();
    let (_runtime, addr) = loopback::serve(terrain_server::app(state));
    let url = format!("http://{addr}");
    let (proxy, wire) = proxy::counting_proxy(addr);

    let project = services.create_project(&op, "Béguédo").unwrap().id;
    services.publish(&op, project, &registration()).unwrap();
    let teams: Vec<i64> =
        (0..TEAMS).map(|t| services.create_team(&op, project, &format!("secteur {t}")).unwrap().id).collect();
    let request =
        CreateUser { username: "awa".into(), password: PASSWORD.into(), role: "enumerator".into(), display_name: None };
    let awa = services.create_user(&op, &request).unwrap();
    services.add_team_member(&op, teams[0], awa.id).unwrap();

    // The relay's plots: seeded from CSV, then filed under the teams in turn.
    let mut rng = StdRng::seed_from_u64(2026);
    let mut csv = String::from("name,label,village,owner,area_ha,techniques,yield_kg\n");
    let mut team_json = Vec::new();
    let mut team_ids: Vec<Vec<String>> = vec![Vec::new(); TEAMS];
    for i in 0..n {
        let (row, json) = plot(&mut rng, i);
        csv.push_str(&row);
        if i % TEAMS == 0 {
            team_json.extend(serde_json::to_vec(&json).unwrap());
            team_json.push(b'\n');
        }
        team_ids[i % TEAMS].push(json["name"].as_str().unwrap().to_owned());
    }
    let started = Instant::now();
    let report = services.import_entities(&op, "plots", csv.as_bytes()).unwrap();
    assert_eq!(report.created as usize, n, "{:?}", report.refused.first());
    for (team, ids) in teams.iter().zip(&team_ids) {
        for chunk in ids.chunks(terrain_services::entities::MAX_FILED) {
            services.file_entities(&op, "plots", chunk, Some(*team)).unwrap();
        }
    }
    let seeding = started.elapsed();
    let share = team_ids[0].len();
    let json_gzip = terrain_demo::gzipped_len(&team_json).unwrap();
    let mut rows: Vec<(String, String, String)> = vec![(
        format!("baseline: the team's {share} plots, compact JSON gzip'd as one stream"),
        format!("{:.0} KiB", json_gzip as f64 / 1024.0),
        format!(
            "{:.0} KiB uncompressed; the relay holds {n} plots in {TEAMS} teams, seeded in {:.1} s",
            team_json.len() as f64 / 1024.0,
            seeding.as_secs_f64()
        ),
    )];

    // The team's phone, first sync.
    let phone = Store::open(dir.path().join("awa.db"), Author::new("awa", "awa-phone", Role::Enumerator)).unwrap();
    let session = sync::Session::login(&url, "awa", PASSWORD, "awa-phone").unwrap();
    phone.set_device_key(&session.login_info().unwrap().device_key).unwrap();
    let token = session.token().to_owned();
    wire.store(0, Ordering::SeqCst);
    let started = Instant::now();
    let first = sync_via(&phone, &proxy, &token);
    let elapsed = started.elapsed();
    std::thread::sleep(Duration::from_millis(100));
    let first_bytes = wire.load(Ordering::SeqCst);
    let held = phone.entities("plots", &EntityQuery { limit: 1, ..EntityQuery::default() }).unwrap();
    assert!(!held.is_empty());
    let count = first.progress.entities_pulled as usize;
    rows.push((
        "first sync of the team's plots: bytes on the wire".to_string(),
        format!("{:.0} KiB", first_bytes as f64 / 1024.0),
        format!("{:.2}× gzip'd JSON (target ≤ 1.5)", first_bytes as f64 / json_gzip as f64),
    ));
    rows.push((
        "first sync: plots received, round trips, wall time".into(),
        format!("{count} of {n} ({})", if count == share { "the team's share only" } else { "NOT the team's share" }),
        format!("{} round trips, {:.1} s", first.progress.rounds, elapsed.as_secs_f64()),
    ));

    // 1% of the team's plots change on the relay: a new yield each, set by the supervisor's
    // desk (settled values, as after a season's review).
    let changed: Vec<&String> = team_ids[0].iter().step_by(100).collect();
    let backend = services.backend().clone();
    let mut change_bytes = 0usize;
    let mut changed_json = Vec::new();
    for id in &changed {
        let before = backend.entity_heads("plots", id).unwrap().unwrap().0;
        let value = rng.random_range(80..900).to_string();
        services.settle_entity(&op, "plots", id, "yield_kg", &value).unwrap();
        change_bytes += backend.entity_changes_after("plots", id, &before).unwrap().len();
        changed_json.extend(serde_json::to_vec(&serde_json::json!({"name": id, "yield_kg": value})).unwrap());
        changed_json.push(b'\n');
    }
    let changed_gzip = terrain_demo::gzipped_len(&changed_json).unwrap();
    wire.store(0, Ordering::SeqCst);
    let again = sync_via(&phone, &proxy, &token);
    std::thread::sleep(Duration::from_millis(100));
    let again_bytes = wire.load(Ordering::SeqCst);
    rows.push((
        format!("re-sync after 1% changed ({} plots): bytes on the wire", changed.len()),
        format!("{:.1} KiB", again_bytes as f64 / 1024.0),
        format!(
            "{:.2}× the changes' {:.1} KiB (target ≤ 2); {:.2}× the changed values as gzip'd JSON; {} plots, {} round trip(s)",
            again_bytes as f64 / change_bytes as f64,
            change_bytes as f64 / 1024.0,
            again_bytes as f64 / changed_gzip as f64,
            again.progress.entities_pulled,
            again.progress.rounds
        ),
    ));

    // Nothing new.
    wire.store(0, Ordering::SeqCst);
    let noop = sync_via(&phone, &proxy, &token);
    std::thread::sleep(Duration::from_millis(100));
    rows.push((
        "no-op sync".into(),
        format!("{} B", wire.load(Ordering::SeqCst)),
        format!(
            "{} round trip (target: no extra round trip), {} plots pulled",
            noop.progress.rounds, noop.progress.entities_pulled
        ),
    ));

    table::report(&format!("entity sync benchmark ({n} plots, {TEAMS} teams)"), rows);
}
