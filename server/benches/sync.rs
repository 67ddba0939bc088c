//! Sync benchmark on the Guinea questionnaire, against the real server on loopback. Prints
//! a table of bytes on the wire (counted by a TCP proxy: headers included), round trips and
//! times, each with its baseline from the same run:
//! - first sync of N surveys ÷ the same answers as compact JSON gzip'd as one stream;
//! - no-op sync;
//! - re-sync after one edited answer in 1% of the surveys ÷ those surveys' new changes;
//! - server ingest, 50 devices × 100 new surveys at once ÷ the same answers POSTed one by
//!   one as plain JSON and inserted into SQLite by the same server (as ODK uploads);
//! - the front door's structure walk of the same pushes, and its whole cost (decoding and
//!   checking, less Automerge's bare load of the same bytes), ÷ that ingest's wall time.
//!
//! Run: `cargo bench -p terrain-server --bench sync` (TERRAIN_BENCH_SURVEYS=N to resize;
//! TERRAIN_BENCH_TABLE=FILE also writes the table to FILE, for `bench/report.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "support/loopback.rs"]
mod loopback;
#[path = "support/proxy.rs"]
mod proxy;
#[path = "support/table.rs"]
mod table;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use rand::SeedableRng;
use rand::rngs::StdRng;
use terrain_core::form::Form;
use terrain_core::sync::{self, CancelToken, HttpTransport, SyncOptions, SyncReport, wire};
use terrain_core::{AnswerPath, Author, Role, Store, Value};
use terrain_services::accounts::CreateUser;
use terrain_services::backend::Backend;
use terrain_xlsform as xlsform;

const PASSWORD: &str = "benchmark password";

struct Bench {
    url: String,
    backend: Arc<dyn Backend>,
    services: Arc<terrain_services::Services>,
    project: i64,
    team: i64,
    _runtime: tokio::runtime::Runtime,
}

fn start(dir: &Path, form: &Form) -> Bench {
    let state = terrain_server::AppState::open(&dir.join("server"), terrain_server::Settings::default()).unwrap();
    let backend = state.services.backend().clone();
    let services = state.services.clone();
    // The baseline: plain JSON submissions, one SQLite transaction each, as ODK uploads.
    let json_db = Arc::new(Mutex::new({
        let c = rusqlite::Connection::open(dir.join("json-baseline.db")).unwrap();
        c.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())).unwrap();
        c.execute_batch(
            "PRAGMA synchronous = FULL; CREATE TABLE submissions (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        )
        .unwrap();
        c
    }));
    let baseline = axum::Router::new().route(
        "/baseline/submissions",
        post(move |body: String| {
            let db = json_db.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
                    db.lock()
                        .unwrap()
                        .execute("INSERT INTO submissions (body) VALUES (?1)", [value.to_string()])
                        .unwrap();
                })
                .await
                .unwrap();
                axum::http::StatusCode::CREATED
            }
        }),
    );
    let app = terrain_server::app(state).merge(baseline);
    let (runtime, addr) = loopback::serve(app);
    let project = backend.create_project("pilot").unwrap().id;
    let team = backend.create_team(project, "kindia").unwrap().id;
    backend.publish_form(project, form).unwrap();
    Bench { url: format!("http://{addr}"), backend, services, project, team, _runtime: runtime }
}

impl Bench {
    fn enumerator(&self, name: &str) {
        let request = CreateUser {
            username: name.into(),
            password: PASSWORD.into(),
            role: "enumerator".into(),
            display_name: None,
        };
        let user = self.services.create_user(&self.services.operator().unwrap(), &request).unwrap();
        self.backend.add_team_member(self.team, user.id).unwrap();
        let _ = self.project;
    }
}

fn device(dir: &Path, url: &str, name: &str, form: &Form) -> (Store, String) {
    let store = Store::open(dir.join(format!("{name}.db")), Author::new(name, name, Role::Enumerator)).unwrap();
    let session = sync::Session::login(url, name, PASSWORD, name).unwrap();
    store.set_device_key(&session.login_info().unwrap().device_key).unwrap();
    store.save_form(form).unwrap();
    (store, session.token().to_owned())
}

fn sync_via(store: &Store, url: &str, token: &str) -> SyncReport {
    let transport = HttpTransport::new(url, token).unwrap();
    sync::sync(store, &transport, &SyncOptions::default(), &|_| {}, &CancelToken::default()).unwrap()
}

fn p99(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * 0.99).round() as usize]
}

fn main() {
    let n: usize = std::env::var("TERRAIN_BENCH_SURVEYS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let form =
        xlsform::import_path(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../forms/guinea_needs.xlsx"))).unwrap();
    let bench = start(dir.path(), &form);
    let (proxy, wire) = proxy::counting_proxy(bench.url.trim_start_matches("http://").parse().unwrap());
    let mut rng = StdRng::seed_from_u64(2026);
    let mut rows: Vec<(String, String, String)> = Vec::new();

    // A phone with N surveys filled offline.
    bench.enumerator("phone");
    let (phone, token) = device(dir.path(), &proxy, "phone", &form);
    let mut json_stream = Vec::new();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let answers = terrain_demo::sample::answers(&form, &mut rng);
        json_stream.extend(serde_json::to_vec(&answers.to_json()).unwrap());
        json_stream.push(b'\n');
        ids.push(phone.create_survey_with(&form.id, &form.version, &answers).unwrap());
    }
    let json_gzip = terrain_demo::gzipped_len(&json_stream).unwrap();
    rows.push((
        format!("baseline: {n} surveys' answers, compact JSON gzip'd as one stream"),
        format!("{:.0} KiB", json_gzip as f64 / 1024.0),
        format!("{:.0} KiB of JSON uncompressed", json_stream.len() as f64 / 1024.0),
    ));

    // First sync.
    wire.store(0, Ordering::SeqCst);
    let started = Instant::now();
    let first = sync_via(&phone, &proxy, &token);
    let elapsed = started.elapsed();
    std::thread::sleep(Duration::from_millis(100));
    let first_bytes = wire.load(Ordering::SeqCst);
    rows.push((
        format!("first sync of {n} surveys: bytes on the wire"),
        format!("{:.0} KiB", first_bytes as f64 / 1024.0),
        format!("{:.2}× gzip'd JSON (target ≤ 1.5)", first_bytes as f64 / json_gzip as f64),
    ));
    rows.push((
        "first sync: round trips, wall time".into(),
        format!("{} round trips", first.progress.rounds),
        format!("{:.1} s ({:.0} surveys/s)", elapsed.as_secs_f64(), n as f64 / elapsed.as_secs_f64()),
    ));

    // No-op sync.
    wire.store(0, Ordering::SeqCst);
    let noop = sync_via(&phone, &proxy, &token);
    std::thread::sleep(Duration::from_millis(50));
    rows.push((
        format!("no-op sync of a store with {n} surveys"),
        format!("{} B", wire.load(Ordering::SeqCst)),
        format!("{} round trip(s); target 1 and < 2 KB", noop.progress.rounds),
    ));

    // Re-sync after one edited answer in 1% of the surveys.
    let edited: Vec<&String> = ids.iter().step_by(100).collect();
    for (i, id) in edited.iter().enumerate() {
        phone.set_answer(id, &AnswerPath::top("respondent_name"), Value::Text(format!("Corrigé {i}"))).unwrap();
    }
    let change_bytes: usize = phone.pending_pushes(100_000).unwrap().iter().map(|p| p.changes.len()).sum();
    let count = phone.pending_count().unwrap();
    wire.store(0, Ordering::SeqCst);
    let resync = sync_via(&phone, &proxy, &token);
    std::thread::sleep(Duration::from_millis(50));
    let resync_bytes = wire.load(Ordering::SeqCst);
    rows.push((
        format!("re-sync after editing one answer in {count} surveys (1%)"),
        format!("{resync_bytes} B"),
        format!(
            "{:.2}× their new Automerge changes ({change_bytes} B; target ≤ 2); {} round trip(s)",
            resync_bytes as f64 / change_bytes.max(1) as f64,
            resync.progress.rounds
        ),
    ));

    // Ingest: 50 devices × 100 new surveys, all at once. Request bodies are built before
    // the clock starts, as the baseline's JSON bodies are: this measures the server.
    let devices: Vec<(Vec<u8>, String, Vec<String>)> = (0..50)
        .map(|d| {
            let name = format!("ingest{d}");
            bench.enumerator(&name);
            let (store, token) = device(dir.path(), &bench.url, &name, &form);
            let mut bodies = Vec::new();
            for _ in 0..100 {
                let answers = terrain_demo::sample::answers(&form, &mut rng);
                bodies.push(answers.to_json().to_string());
                store.create_survey_with(&form.id, &form.version, &answers).unwrap();
            }
            let push = store
                .pending_pushes(1000)
                .unwrap()
                .into_iter()
                .map(|p| wire::PushedSurvey {
                    survey: wire::survey_id_bytes(&p.survey_id).unwrap(),
                    base: wire::hashes(&p.acked),
                    heads: wire::hashes(&p.heads),
                    changes: p.changes,
                })
                .collect();
            let request = wire::SyncRequest {
                protocol: wire::PROTOCOL_VERSION,
                cursor: 0,
                push,
                want: vec![],
                max_pull_bytes: 1 << 20,
                epoch: 0,
                push_entities: Vec::new(),
                want_entities: Vec::new(),
            };
            (wire::encode(&request).unwrap(), token, bodies)
        })
        .collect();
    let client = reqwest::blocking::Client::new();
    let latencies = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for (body, token, _) in &devices {
            let latencies = &latencies;
            let client = &client;
            let url = &bench.url;
            s.spawn(move || {
                let t = Instant::now();
                let r = client.post(format!("{url}/api/v1/sync")).bearer_auth(token).body(body.clone()).send().unwrap();
                assert_eq!(r.status(), 200);
                let response: wire::SyncResponse = wire::decode(&r.bytes().unwrap()).unwrap();
                assert!(response.acks.iter().all(|a| matches!(a, wire::Ack::Stored)) && response.acks.len() == 100);
                latencies.lock().unwrap().push(t.elapsed());
            });
        }
    });
    let ours = started.elapsed();
    let mut ours_lat = latencies.into_inner().unwrap();
    let latencies = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for (_, _, bodies) in &devices {
            let latencies = &latencies;
            let client = &client;
            let url = &bench.url;
            s.spawn(move || {
                for body in bodies {
                    let t = Instant::now();
                    let r = client.post(format!("{url}/baseline/submissions")).body(body.clone()).send().unwrap();
                    assert_eq!(r.status(), 201);
                    latencies.lock().unwrap().push(t.elapsed());
                }
            });
        }
    });
    let baseline = started.elapsed();
    let mut base_lat = latencies.into_inner().unwrap();
    let ours_rate = 5000.0 / ours.as_secs_f64();
    let base_rate = 5000.0 / baseline.as_secs_f64();
    rows.push((
        "ingest: 50 devices × 100 new surveys, one sync each".into(),
        format!("{ours_rate:.0} surveys/s"),
        format!("p99 {:.0} ms per sync request", p99(&mut ours_lat).as_secs_f64() * 1e3),
    ));
    rows.push((
        "baseline: the same answers POSTed one by one as JSON into SQLite".into(),
        format!("{base_rate:.0} surveys/s"),
        format!("p99 {:.1} ms per request", p99(&mut base_lat).as_secs_f64() * 1e3),
    ));
    rows.push(("ingest, ours ÷ baseline".into(), format!("{:.2}×", ours_rate / base_rate), "target ≥ 0.5".into()));

    // The front door's share of that ingest: the structure walk (`intake::check`) of every
    // pushed survey, on one thread, against the wall time of the whole ingest above (which
    // used both cores), so the share is if anything overstated.
    let pushes: Vec<Vec<u8>> = devices
        .iter()
        .flat_map(|(body, _, _)| wire::decode::<wire::SyncRequest>(body).unwrap().push)
        .map(|p| p.changes)
        .collect();
    let started = Instant::now();
    for changes in &pushes {
        terrain_core::intake::check(changes, &terrain_core::intake::Budget::WRITE).unwrap();
    }
    let walk = started.elapsed();
    rows.push((
        "front door: walking the same 5,000 pushed surveys' bytes before Automerge sees them".into(),
        format!("{:.1} ms", walk.as_secs_f64() * 1e3),
        format!(
            "{:.1}% of the ingest's wall time (target ≤ 5%); {:.0} MB/s",
            walk.as_secs_f64() / ours.as_secs_f64() * 100.0,
            pushes.iter().map(Vec::len).sum::<usize>() as f64 / walk.as_secs_f64() / 1e6
        ),
    ));

    // The whole front door, not only its walk: the same pushes decoded as the relay decodes a
    // new survey (`SurveyDoc::from_untrusted`: the walk, the canonical reading of each change
    // and the proof that the survey holds them exactly, or failing that the encode-back and
    // the save-and-load round trip; the survey's layout), less Automerge's own load of the
    // same bytes, which any relay would pay. The difference is what checking costs. Both run
    // on two threads, as the ingest above used both cores; on one thread the share would be
    // overstated up to twofold.
    let on_two_threads = |work: &(dyn Fn(&[u8]) + Sync)| {
        let started = Instant::now();
        std::thread::scope(|s| {
            for half in pushes.chunks(pushes.len().div_ceil(2)) {
                s.spawn(move || half.iter().for_each(|changes| work(changes)));
            }
        });
        started.elapsed()
    };
    let checked = on_two_threads(&|changes| {
        std::hint::black_box(
            terrain_core::SurveyDoc::from_untrusted(changes, &terrain_core::intake::Budget::WRITE).unwrap(),
        );
    });
    let bare = on_two_threads(&|changes| {
        let mut doc = automerge::AutoCommit::load(changes).unwrap();
        assert!(doc.get_missing_deps(&[]).is_empty());
    });
    let overhead = checked.saturating_sub(bare);
    rows.push((
        "front door, whole: the same pushes decoded and checked, less Automerge's bare load".into(),
        format!("{:.1} ms", overhead.as_secs_f64() * 1e3),
        format!(
            "{:.1}% of the ingest's wall time (target ≤ 5%); checked {:.0} ms, bare load {:.0} ms, both on two threads",
            overhead.as_secs_f64() / ours.as_secs_f64() * 100.0,
            checked.as_secs_f64() * 1e3,
            bare.as_secs_f64() * 1e3
        ),
    ));

    table::report(&format!("sync benchmark (Guinea questionnaire, {n} surveys)"), rows);
}
