//! Webhook outbox benchmark: 10,000 finalized surveys pushed to a relay in batches of 500,
//! each a `submission.received` event for a receiver on 127.0.0.1. Reported: the delay from
//! the push that stored a survey to its event reaching the receiver (p50, p99, max), how
//! long after the last push the last delivery came, and the push time against a baseline
//! measured in the same run: the same pushes with no webhook registered.
//!
//! Run: `cargo bench -p terrain-server --bench webhooks` (TERRAIN_BENCH_EVENTS=N to resize).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../tests/common/received.rs"]
mod received;

#[path = "support/percentile.rs"]
mod percentile;

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use terrain_core::survey::{Status, SurveyDoc};
use terrain_core::{Author, Form, Role};

use percentile::percentile;

/// Arrival times by survey id.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// A receiver that accepts everything and notes when each survey's event arrived.
fn receiver() -> (String, Arrivals) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let arrivals: Arrivals = Arc::default();
    let shared = arrivals.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let arrivals = shared.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                while let Some((_, body)) = received::next_request(&mut reader) {
                    let now = Instant::now();
                    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let id = json["survey"]["id"].as_str().unwrap_or("baseline").to_owned();
                    arrivals.lock().unwrap().entry(id).or_insert(now);
                    stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").unwrap();
                }
            });
        }
    });
    (url, arrivals)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let n: usize = std::env::var("TERRAIN_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let state = terrain_server::AppState::open(dir.path(), terrain_server::Settings::default()).unwrap();
    let services = state.services.clone();
    let backend = services.backend().clone();
    let project = backend.create_project("beguedo").unwrap().id;
    let form = Form::from_json(include_str!("../../core/tests/fixtures/household.json")).unwrap();
    backend.publish_form(project, &form).unwrap();
    let (url, arrivals) = receiver();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    runtime.spawn(terrain_server::serve(listener, state, std::future::pending()));

    let author = Author::new("enum", "phone", Role::Enumerator);
    let actor = terrain_core::identity::new_actor_for(None);
    let mut rng = StdRng::seed_from_u64(2026);
    // Pushes n finalized surveys in batches of 500; returns the time taken and when each
    // survey's batch was stored.
    let mut push = |n: usize| -> (f64, HashMap<String, Instant>) {
        let mut stored = HashMap::new();
        let started = Instant::now();
        let mut batch = Vec::new();
        for i in 0..n {
            let answers = terrain_demo::sample::answers(&form, &mut rng);
            let id = uuid::Uuid::new_v4().to_string();
            let mut doc = SurveyDoc::create(&form, &id, &author, actor.clone(), chrono::Utc::now(), &answers).unwrap();
            doc.set_status(Status::Finalized).unwrap();
            batch.push((id, doc.save()));
            if batch.len() == 500 || i + 1 == n {
                for outcome in backend.push(&batch, &mut |_| Ok(())).unwrap() {
                    outcome.unwrap();
                }
                let now = Instant::now();
                for (id, _) in batch.drain(..) {
                    stored.insert(id, now);
                }
            }
        }
        (started.elapsed().as_secs_f64(), stored)
    };

    // The baseline: the same pushes with no webhook registered.
    let (without, _) = push(n);
    // Registered once the dispatcher has seen those: only the next pushes are events.
    let all = terrain_core::store::Visibility::All;
    while backend.webhook_cursor().unwrap().is_none_or(|c| !backend.feed(c, 1, &all).unwrap().is_empty()) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let operator = services.operator().unwrap();
    services.create_webhook(&operator, project, &url, &["submission.received".to_owned()]).unwrap();
    let (with, stored) = push(n);
    let last_push = stored.values().max().copied().unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    while stored.keys().any(|id| !arrivals.lock().unwrap().contains_key(id)) {
        assert!(Instant::now() < deadline, "only {} of {n} events arrived", arrivals.lock().unwrap().len());
        std::thread::sleep(Duration::from_millis(10));
    }
    let arrived = arrivals.lock().unwrap().clone();
    assert_eq!(arrived.len(), n, "one event per survey pushed after the webhook was registered");
    let mut delays: Vec<Duration> = stored.iter().map(|(id, at)| arrived[id].saturating_duration_since(*at)).collect();
    let drained = arrived.values().max().unwrap().saturating_duration_since(last_push);

    let rows = [
        format!(
            "| delay from the push that stored a survey to its event at the receiver: p50 | {} | |",
            ms(percentile(&mut delays, 0.5))
        ),
        format!("| same: p99, max | {}, {} | |", ms(percentile(&mut delays, 0.99)), ms(*delays.last().unwrap())),
        format!("| last delivery after the last push | {} | the outbox keeps up with ingest |", ms(drained)),
        format!(
            "| {n} surveys pushed (batches of 500) with the webhook registered | {with:.1} s | {:.0} surveys/s, each an event |",
            n as f64 / with
        ),
        format!(
            "| baseline: {n} surveys pushed with no webhook | {without:.1} s | {:.0} surveys/s |",
            n as f64 / without
        ),
        format!("| push time with ÷ without webhooks | {:.2}× | deliveries run on their own thread |", with / without),
    ];
    let mut table =
        format!("| webhook outbox benchmark ({n} events, loopback receiver) | result | notes |\n|---|---|---|\n");
    for row in rows {
        table.push_str(&row);
        table.push('\n');
    }
    print!("{table}");
    if let Ok(path) = std::env::var("TERRAIN_BENCH_TABLE") {
        std::fs::write(Path::new(&path), table).unwrap();
    }
}
