//! Outbound webhooks against a receiver on 127.0.0.1 that fails the first deliveries, then
//! accepts: every event arrives, signed, with its id; the delivery log shows the retries;
//! and across a `kill -9` of the relay process every event still arrives, exactly once by
//! its id (a delivery in flight when the relay died comes again with the same id).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/received.rs"]
mod received;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Device, TestServer, http};
use serde_json::{Value as Json, json};
use terrain_core::{AnswerPath, Role, Value};
use terrain_server::{AppState, Settings};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
    accepted: bool,
}

/// A webhook receiver on loopback that answers 500 to its first `fail_first` requests,
/// and takes `pause` over each one it accepts.
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(fail_first: usize, pause: Duration) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let shared = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let got = shared.clone();
                std::thread::spawn(move || serve(stream, &got, fail_first, pause));
            }
        });
        Receiver { addr, got }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/terrain", self.addr)
    }

    fn accepted(&self) -> Vec<Received> {
        self.got.lock().unwrap().iter().filter(|r| r.accepted).cloned().collect()
    }

    /// Waits until `done` holds of what was accepted.
    fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let accepted = self.accepted();
            if done(&accepted) {
                return accepted;
            }
            assert!(Instant::now() < deadline, "waited 60 s for {what}; accepted {}", accepted.len());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Serves one keep-alive connection.
fn serve(stream: TcpStream, got: &Mutex<Vec<Received>>, fail_first: usize, pause: Duration) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    while let Some((headers, body)) = received::next_request(&mut reader) {
        let mut all = got.lock().unwrap();
        let accepted = all.len() >= fail_first;
        all.push(Received { headers, body: String::from_utf8(body).unwrap(), accepted });
        drop(all);
        let status = if accepted {
            std::thread::sleep(pause);
            "200 OK"
        } else {
            "500 Internal Server Error"
        };
        let _ = write!(stream, "HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
    }
}

fn settings() -> Settings {
    let mut settings = TestServer::settings();
    settings.services.webhooks.first_retry = Duration::from_millis(50);
    settings
}

fn body(r: &Received) -> Json {
    serde_json::from_str(&r.body).unwrap()
}

fn register(url: &str, admin: &str, project: i64, target: &str, events: &[&str]) -> Json {
    let resp = http()
        .post(format!("{url}/api/v1/projects/{project}/webhooks"))
        .bearer_auth(admin)
        .json(&json!({ "url": target, "events": events }))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    resp.json().unwrap()
}

/// A finalized household survey on `device`.
fn survey(device: &Device, village: &str) -> String {
    let form = common::household_form();
    let id = device.store.create_survey(&form.id, &form.version).unwrap();
    device.store.set_answer(&id, &AnswerPath::top("village"), Value::Text(village.into())).unwrap();
    device.store.finalize(&id).unwrap();
    id
}

#[test]
fn events_arrive_signed_after_failed_deliveries_and_the_log_shows_the_retries() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), settings());
    server.user("awa", Role::Enumerator, Some(0));
    server.user("moussa", Role::Supervisor, Some(0));
    let admin = server.token("admin", "laptop");
    let receiver = Receiver::start(3, Duration::ZERO);

    // Targets must be https, or on this machine; events must be known ones.
    for (target, events, says) in [
        ("http://example.org/hook", vec!["submission.received"], "use https://"),
        (receiver.url().as_str(), vec!["submission.lost"], "unknown event"),
    ] {
        let resp = http()
            .post(format!("{}/api/v1/projects/{}/webhooks", server.url, server.project))
            .bearer_auth(&admin)
            .json(&json!({ "url": target, "events": events }))
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        assert!(resp.text().unwrap().contains(says));
    }
    let all = ["submission.received", "submission.approved", "submission.sent_back", "conflict.raised"];
    let hook = register(&server.url, &admin, server.project, &receiver.url(), &all);
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let id = hook["id"].as_i64().unwrap();

    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone-awa");
    phone.fetch_forms();
    let tablet = Device::login(&server.url, dir.path(), "moussa", Role::Supervisor, "tablet-moussa");
    let (a, b) = (survey(&phone, "Kindia"), survey(&phone, "Labé"));
    // A draft is not a submission yet.
    let form = common::household_form();
    let draft = phone.store.create_survey(&form.id, &form.version).unwrap();
    phone.sync();
    let sup = server.token("moussa", "desk");
    for (survey, action) in [(&a, "approve"), (&b, "send_back")] {
        let resp = http()
            .post(format!("{}/api/v1/surveys/{survey}/review", server.url))
            .bearer_auth(&sup)
            .json(&json!({ "action": action, "comment": "seen" }))
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 204, "{}", resp.text().unwrap());
    }
    // Two devices change one answer while apart: a conflict.
    tablet.sync();
    phone.store.set_answer(&b, &AnswerPath::top("hh_size"), Value::Integer(5)).unwrap();
    tablet.store.set_answer(&b, &AnswerPath::top("hh_size"), Value::Integer(9)).unwrap();
    phone.sync();
    tablet.sync();

    let want: BTreeSet<(String, String)> = [
        (a.clone(), "submission.received"),
        (b.clone(), "submission.received"),
        (a.clone(), "submission.approved"),
        (b.clone(), "submission.sent_back"),
        (b.clone(), "conflict.raised"),
    ]
    .into_iter()
    .map(|(s, e)| (s, e.to_owned()))
    .collect();
    let seen = |got: &[Received]| -> BTreeSet<(String, String)> {
        got.iter()
            .map(body)
            .map(|j| (j["survey"]["id"].as_str().unwrap().to_owned(), j["event"].as_str().unwrap().to_owned()))
            .collect()
    };
    let accepted = receiver.wait_for("every event", |got| seen(got).is_superset(&want));
    assert_eq!(seen(&accepted), want, "nothing else, and nothing about the draft {draft}");
    for r in &accepted {
        let json = body(r);
        assert_eq!(r.headers["terrain-event"], json["event"].as_str().unwrap());
        assert_eq!(r.headers["terrain-event-id"], json["id"].as_str().unwrap());
        assert_eq!(r.headers["content-type"], "application/json");
        let signature = terrain_services::webhooks::delivery::signature(&secret, r.body.as_bytes());
        assert_eq!(r.headers["terrain-signature"], signature, "signed with the target's key");
        assert_eq!(json["project_id"], server.project);
    }
    // The three refused attempts were retried with the same body; the log says so.
    let got = receiver.got.lock().unwrap().clone();
    let refused: Vec<&Received> = got.iter().filter(|r| !r.accepted).collect();
    assert_eq!(refused.len(), 3);
    for r in refused {
        assert!(accepted.iter().any(|a| a.body == r.body), "a refused delivery came again, unchanged");
    }
    // The relay records a delivery once the receiver has answered: a moment after.
    let deadline = Instant::now() + Duration::from_secs(30);
    let log = loop {
        let log: Vec<Json> = http()
            .get(format!("{}/api/v1/projects/{}/webhooks/{id}/deliveries", server.url, server.project))
            .bearer_auth(&admin)
            .send()
            .unwrap()
            .json()
            .unwrap();
        if log.iter().all(|d| d["delivered_at"].is_string()) || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(log.len(), want.len());
    assert!(log.iter().all(|d| d["delivered_at"].is_string() && d["failed_at"].is_null()), "{log:?}");
    assert_eq!(log.iter().map(|d| d["attempts"].as_u64().unwrap()).sum::<u64>(), want.len() as u64 + 3);
    assert!(log.iter().any(|d| d["last_status"] == 200));

    // A removed target gets nothing more.
    let resp = http()
        .delete(format!("{}/api/v1/projects/{}/webhooks/{id}", server.url, server.project))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let before = receiver.got.lock().unwrap().len();
    survey(&phone, "Boké");
    phone.sync();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(receiver.got.lock().unwrap().len(), before);
    let actions: Vec<String> = server.backend().audit_log(1000).unwrap().into_iter().map(|e| e.action).collect();
    assert!(actions.iter().any(|a| a == "webhook.create") && actions.iter().any(|a| a == "webhook.delete"));
}

/// Not a test on its own: the relay the crash test runs, and kills, as a child process.
/// It serves the data directory in `TERRAIN_WEBHOOK_RELAY` and prints its address.
#[test]
fn relay_child() {
    let Ok(data) = std::env::var("TERRAIN_WEBHOOK_RELAY") else { return };
    let state = AppState::open(Path::new(&data), settings()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        let _ = terrain_server::serve(listener, state, std::future::pending()).await;
    });
}

fn start_relay(data: &Path) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "relay_child", "--nocapture", "--test-threads=1"])
        .env("TERRAIN_WEBHOOK_RELAY", data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The harness prints the test's name first, on the same line.
    let addr = lines
        .find_map(|l| l.ok().and_then(|l| l.split_whitespace().last().and_then(|w| w.parse::<SocketAddr>().ok())))
        .unwrap();
    (child, format!("http://{addr}"))
}

#[test]
fn every_event_arrives_exactly_once_by_id_across_a_kill_9_of_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    // Slow to accept, so that the relay dies with deliveries still to make.
    let receiver = Receiver::start(4, Duration::from_millis(50));
    // Seeded in the relay's own data directory before it starts: accounts, the form, the
    // target.
    {
        let seed = TestServer::start_with(&data, settings());
        seed.user("awa", Role::Enumerator, Some(0));
        let admin = seed.token("admin", "laptop");
        register(&seed.url, &admin, seed.project, &receiver.url(), &["submission.received"]);
        seed.stop();
    }
    let (mut relay, url) = start_relay(&data);
    let phone = Device::login(&url, dir.path(), "awa", Role::Enumerator, "phone-awa");
    phone.fetch_forms();
    let mut ids: Vec<String> = (0..20).map(|i| survey(&phone, &format!("village {i}"))).collect();
    phone.sync();
    // Killed while the deliveries are under way.
    receiver.wait_for("the first deliveries", |got| !got.is_empty());
    relay.kill().unwrap(); // SIGKILL
    relay.wait().unwrap();
    let delivered_before = receiver.accepted().len();

    let (mut relay, url) = start_relay(&data);
    let phone = Device { url, ..phone };
    ids.extend((20..30).map(|i| survey(&phone, &format!("village {i}"))));
    phone.sync();
    let accepted = receiver.wait_for("an event per survey", |got| {
        got.iter().map(|r| body(r)["survey"]["id"].as_str().unwrap().to_owned()).collect::<BTreeSet<_>>().len() >= 30
    });
    relay.kill().unwrap();
    relay.wait().unwrap();

    let mut by_id: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    for r in &accepted {
        let json = body(r);
        by_id.entry(json["id"].as_str().unwrap().to_owned()).or_default().push(json);
    }
    // One event id per survey, and every copy of an id the same event.
    let surveys: BTreeSet<String> =
        by_id.values().map(|copies| copies[0]["survey"]["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(surveys, ids.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(by_id.len(), 30, "exactly one event id per survey");
    for copies in by_id.values() {
        assert!(copies.iter().all(|c| c == &copies[0]), "a repeated id carries the same event");
    }
    assert!(delivered_before < 20, "the relay died with deliveries still to make");
}
