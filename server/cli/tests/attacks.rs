//! Attacks on the real `terrain serve`, run under an address-space limit (`ulimit -v`), from
//! an enrolled device: hostile Automerge bytes written from the storage format
//! (`terrain_forge::attacks`: compressed-column bombs in documents, compressed and run-length
//! bombs in changes, `max_op` claims, string runs), oversized lists, many surveys per request,
//! slowloris connections and a login flood. Each is answered with a 4xx or a per-survey
//! refusal, the server stays up, an honest device syncs right after, and the server's peak
//! resident memory over the whole suite stays under 160 MB (it measured 92 MB).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Device, PASSWORD, household_form, http, post_sync, push_request};
use serde_json::json;
use terrain_core::sync::wire::{self, Ack, PushedSurvey, SyncRequest, WantedSurvey};
use terrain_core::{AnswerPath, Role, Value};

const TERRAIN: &str = env!("CARGO_BIN_EXE_terrain");
/// The address space the server may use: far below what the attacks claim.
const ADDRESS_SPACE_KB: u64 = 2 * 1024 * 1024;
/// The most resident memory the server may reach during the whole suite.
const MAX_RSS_KB: u64 = 160 * 1024;

struct Server {
    child: Child,
    url: String,
    port: u16,
}

impl Server {
    fn start(data: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = format!("ulimit -v {ADDRESS_SPACE_KB} && exec \"$0\" serve --data \"$1\" --addr 127.0.0.1:{port}");
        let child = Command::new("sh")
            .args(["-c", &script, TERRAIN, data.to_str().unwrap()])
            .env("TERRAIN_ADMIN_PASSWORD", PASSWORD)
            .env("RUST_LOG", std::env::var("TERRAIN_ATTACK_LOG").unwrap_or_else(|_| "error".into()))
            .stdout(Stdio::null())
            .stderr(if std::env::var_os("TERRAIN_ATTACK_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .unwrap();
        // Owned before waiting, so that `Drop` reaps it if it never starts.
        let server = Server { child, url: format!("http://127.0.0.1:{port}"), port };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if reqwest::blocking::get(format!("{}/healthz", server.url)).is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the server did not start");
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The peak resident memory of the server so far, in kB.
    fn peak_rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn api(url: &str, token: &str, method: reqwest::Method, path: &str, body: serde_json::Value) -> serde_json::Value {
    let response = http().request(method, format!("{url}{path}")).bearer_auth(token).json(&body).send().unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().unwrap_or(serde_json::Value::Null)
}

/// One attack's outcome: a 4xx for the whole request, or per-survey refusals.
fn assert_refused(what: &str, status: u16, body: &[u8]) {
    if status == 200 {
        let response: wire::SyncResponse = wire::decode(body).unwrap();
        assert!(
            !response.acks.is_empty()
                && response.acks.iter().all(|a| matches!(a, Ack::Refused { status: 400..=499, .. })),
            "{what}: {:?}",
            response.acks
        );
    } else {
        assert!((400..500).contains(&status), "{what}: answered {status}: {}", String::from_utf8_lossy(body));
    }
}

/// A connection to the server on `port` from the loopback address `from`.
fn connect_from(from: [u8; 4], port: u16) -> Option<TcpStream> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().ok()?;
    runtime
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().ok()?;
            socket.bind(std::net::SocketAddr::from((from, 0))).ok()?;
            let stream = socket.connect(std::net::SocketAddr::from(([127, 0, 0, 1], port))).await.ok()?;
            stream.into_std().ok()
        })
        .and_then(|s| s.set_nonblocking(false).ok().map(|()| s))
}

fn pushed(survey: &str, changes: Vec<u8>) -> PushedSurvey {
    PushedSurvey { survey: wire::survey_id_bytes(survey).unwrap(), base: Vec::new(), heads: Vec::new(), changes }
}

#[test]
fn the_relay_survives_hostile_clients_within_its_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("server"));
    let url = server.url.clone();
    let admin = terrain_core::sync::Session::login(&url, "admin", PASSWORD, "laptop").unwrap().token().to_owned();
    let project =
        api(&url, &admin, reqwest::Method::POST, "/api/v1/projects", json!({"name": "pilot"}))["id"].as_i64().unwrap();
    let team = api(
        &url,
        &admin,
        reqwest::Method::POST,
        &format!("/api/v1/projects/{project}/teams"),
        json!({"name": "kindia"}),
    );
    for name in ["mallory", "awa"] {
        let user = api(
            &url,
            &admin,
            reqwest::Method::POST,
            "/api/v1/users",
            json!({"username": name, "password": PASSWORD, "role": "enumerator"}),
        );
        api(
            &url,
            &admin,
            reqwest::Method::POST,
            &format!("/api/v1/teams/{}/members", team["id"]),
            json!({"user_id": user["id"]}),
        );
    }
    let form: serde_json::Value = serde_json::from_str(&household_form().to_json()).unwrap();
    api(&url, &admin, reqwest::Method::POST, &format!("/api/v1/projects/{project}/forms"), form);

    let mallory = Device::login(&url, dir.path(), "mallory", Role::Enumerator, "stolen-phone");
    let honest = Device::login(&url, dir.path(), "awa", Role::Enumerator, "phone");
    honest.store.save_form(&household_form()).unwrap();
    let mut answered = 0;
    let mut honest_sync = |what: &str, server: &mut Server| {
        eprintln!("after {what}: peak {} MB", server.peak_rss_kb() / 1024);
        assert!(server.alive(), "the server died after {what}");
        let id = honest.store.create_survey("household", "2026110101").unwrap();
        answered += 1;
        honest
            .store
            .set_answer(&id, &"village".parse::<AnswerPath>().unwrap(), Value::Text(format!("V{answered}")))
            .unwrap();
        let report = honest.sync();
        assert!(report.refused.is_empty() && report.progress.pushed >= 1, "after {what}: {report:?}");
    };
    honest_sync("the start", &mut server);

    // Hostile bytes, each as the one survey of a push.
    for (i, attack) in terrain_forge::attacks::catalogue().unwrap().into_iter().enumerate() {
        let survey = format!("00000000-0000-4000-8000-{:012}", i + 1);
        let request = push_request(vec![pushed(&survey, attack.bytes)]);
        let (status, body) = post_sync(&url, &mallory.token, wire::encode(&request).unwrap());
        assert_refused(attack.name, status, &body);
        honest_sync(attack.name, &mut server);
    }

    // An oversized want list, and more surveys than a request may carry.
    let want: Vec<WantedSurvey> =
        (0..6_000u32).map(|i| WantedSurvey { survey: [(i % 250) as u8; 16], heads: Vec::new() }).collect();
    let request = SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor: 0,
        push: Vec::new(),
        want,
        max_pull_bytes: 1 << 20,
        epoch: 0,
        push_entities: Vec::new(),
        want_entities: Vec::new(),
    };
    let (status, body) = post_sync(&url, &mallory.token, wire::encode(&request).unwrap());
    assert_refused("an oversized want list", status, &body);
    honest_sync("an oversized want list", &mut server);
    let many: Vec<PushedSurvey> =
        (0..5_001).map(|i| pushed(&format!("00000000-0000-4000-8000-{:012}", 100_000 + i), vec![])).collect();
    let (status, body) = post_sync(&url, &mallory.token, wire::encode(&push_request(many)).unwrap());
    assert_refused("5,001 surveys in one request", status, &body);
    honest_sync("5,001 surveys", &mut server);
    // Many surveys near their budget in one request: refused whole by the request budget.
    let heavy = terrain_forge::attacks::sample(1_500).save_after(&[]);
    let near: Vec<PushedSurvey> =
        (0..300).map(|i| pushed(&format!("00000000-0000-4000-8000-{:012}", 200_000 + i), heavy.clone())).collect();
    let (status, body) = post_sync(&url, &mallory.token, wire::encode(&push_request(near)).unwrap());
    assert_refused("many heavy surveys in one request", status, &body);
    honest_sync("many heavy surveys", &mut server);

    // Slowloris: connections that send headers a line at a time, never finishing, from
    // another address than the honest phone's (all of 127.0.0.0/8 is this machine).
    let mut slow: Vec<TcpStream> = (0..200).filter_map(|_| connect_from([127, 0, 0, 2], server.port)).collect();
    assert!(slow.len() >= 60, "only {} attacking connections opened", slow.len());
    for s in &mut slow {
        let _ = s.write_all(b"POST /api/v1/sync HTTP/1.1\r\nHost: x\r\n");
    }
    honest_sync("200 slowloris connections", &mut server);
    let started = Instant::now();
    let mut open = slow.len();
    while open > 0 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(500));
        open = 0;
        for s in &mut slow {
            s.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 64];
            // Closed: the end of the stream, an answer (a timeout's), or a reset.
            let still = match std::io::Read::read(s, &mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => s.write_all(b"X-Slow: 1\r\n").is_ok(),
                _ => false,
            };
            open += usize::from(still);
        }
    }
    assert_eq!(open, 0, "slowloris connections still open after {:?}", started.elapsed());
    drop(slow);

    // A login flood: wrong passwords from many threads at once.
    let flood: Vec<_> = (0..8)
        .map(|t| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut codes = Vec::new();
                for i in 0..40 {
                    let r = http()
                        .post(format!("{url}/api/v1/auth/login"))
                        .json(&json!({"username": if i % 2 == 0 { "awa" } else { "nobody" }, "password": format!("guess {t} {i}"), "device_id": "flood"}))
                        .send();
                    codes.push(r.map(|r| r.status().as_u16()).unwrap_or(0));
                }
                codes
            })
        })
        .collect();
    let codes: Vec<u16> = flood.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert!(codes.iter().all(|c| [401, 429, 503].contains(c)), "login flood answered {codes:?}");
    assert!(codes.contains(&429), "the flood was throttled");
    honest_sync("a login flood", &mut server);

    let peak = server.peak_rss_kb();
    assert!(peak < MAX_RSS_KB, "the relay's peak resident memory was {} MB", peak / 1024);
    eprintln!("peak resident memory of the relay over every attack: {} MB", peak / 1024);
}
