//! Load with hostility: honest devices syncing at a field team's pace while hostile clients
//! attack the same relay, against the same honest load alone, in one run.
//!
//! The relay is the real one (`terrain_server::serve`, default settings: every throttle and
//! budget on). Each honest device is a real store behind its own loopback address, editing
//! or adding a survey of the Guinea questionnaire and syncing, with a pause between syncs.
//! The hostile clients, each from its own address with an enrolled device's token, and each
//! with a phone's link (a 30 ms round trip per request, 1 MiB/s up per connection, four
//! connections at once, as from a good 4G network):
//! - four push the catalogue of hostile chunks (`terrain_forge::attacks`) as fast as they
//!   are answered;
//! - two send oversized lists (6,000 wanted surveys, 5,001 pushed), garbage and cut bodies;
//! - two hold slowloris connections open (as many as their address may), one header line at
//!   a time;
//! - two flood the login with wrong passwords for the honest users' names.
//!
//! The honest load runs three times: alone, with the hostile clients, and alone again; the
//! baseline is both runs alone together. Reported: the honest devices' p50 and p99 sync
//! latency in each, and the ratio (goal ≤ 1.5×), with what the hostile clients got back.
//!
//! Run: `cargo bench -p terrain-server --bench hostile` (TERRAIN_BENCH_DEVICES=N honest
//! devices, default 100; TERRAIN_BENCH_RUNS=N syncs per device per run, default 5;
//! TERRAIN_BENCH_ATTACKS=bombs,lists,slowloris,logins to run only some attacks;
//! TERRAIN_BENCH_TABLE=FILE also writes the table to FILE, for `bench/report.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "support/percentile.rs"]
mod percentile;
#[path = "support/table.rs"]
mod table;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use terrain_core::form::Form;
use terrain_core::sync::wire::{self, PushedSurvey, SyncRequest, WantedSurvey};
use terrain_core::sync::{self, CancelToken, HttpTransport, SyncOptions};
use terrain_core::{AnswerPath, Author, Role, Store, Value};
use terrain_services::Services;
use terrain_services::accounts::LoginKind;
use terrain_services::backend::NewUser;
use terrain_xlsform as xlsform;

use percentile::percentile;

const PASSWORD: &str = "benchmark password";
const HOSTILE: u8 = 10;

/// The loopback address of honest device `i` (127.0.1.x, 127.0.2.x, …).
fn honest_address(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 1 + (i / 250) as u8, 1 + (i % 250) as u8, 1))
}

/// The loopback address of hostile client `k`.
fn hostile_address(k: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 200, k, 1))
}

fn client_from(address: IpAddr) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().local_address(address).timeout(Duration::from_secs(120)).build().unwrap()
}

struct Relay {
    url: String,
    addr: SocketAddr,
    services: Arc<Services>,
    _runtime: tokio::runtime::Runtime,
}

fn start(dir: &Path, form: &Form) -> Relay {
    let state = terrain_server::AppState::open(&dir.join("server"), terrain_server::Settings::default()).unwrap();
    let services = state.services.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { terrain_server::serve(listener, state, std::future::pending()).await });
    let backend = services.backend().clone();
    let project = backend.create_project("pilot").unwrap().id;
    backend.create_team(project, "kindia").unwrap();
    backend.publish_form(project, form).unwrap();
    Relay { url: format!("http://{addr}"), addr, services, _runtime: runtime }
}

impl Relay {
    /// An enumerator in the team, logged in from `device`: their token and device key.
    fn enrol(&self, name: &str, device: &str, hash: &str) -> (String, String) {
        let backend = self.services.backend();
        let team = backend.teams().unwrap()[0].id;
        let user = backend
            .create_user(&NewUser {
                username: name.into(),
                password_hash: hash.into(),
                role: Role::Enumerator,
                display_name: None,
            })
            .unwrap();
        backend.add_team_member(team, user.id).unwrap();
        let issued = self.services.login(name, PASSWORD, device, None, LoginKind::Device).unwrap();
        (issued.token, terrain_core::identity::device_key_hex(&issued.device_key))
    }
}

struct Phone {
    store: Store,
    transport: HttpTransport,
    form: Form,
    surveys: Vec<String>,
}

impl Phone {
    /// One honest step: edit a survey or start one, then sync. Returns the sync's latency.
    fn step(&mut self, rng: &mut StdRng) -> Result<Duration, String> {
        if self.surveys.is_empty() || rng.random_bool(0.3) {
            let answers = terrain_demo::sample::answers(&self.form, rng);
            self.surveys.push(self.store.create_survey_with(&self.form.id, &self.form.version, &answers).unwrap());
        } else {
            let id = &self.surveys[rng.random_range(0..self.surveys.len())];
            let name = Value::Text(format!("Mariama Diallo {}", rng.random_range(0..1000)));
            self.store.set_answer(id, &AnswerPath::top("respondent_name"), name).unwrap();
        }
        let started = Instant::now();
        let report =
            sync::sync(&self.store, &self.transport, &SyncOptions::default(), &|_| {}, &CancelToken::default())
                .map_err(|e| e.to_string())?;
        if !report.refused.is_empty() {
            return Err(format!("refused: {:?}", report.refused));
        }
        Ok(started.elapsed())
    }
}

/// One run of the honest load: every phone takes `syncs` steps with a pause of 0.5 to 2.5 s
/// before each (about 60 syncs a second across 100 phones). Returns the latencies and the
/// failures.
fn honest_run(phones: &mut [Phone], syncs: usize, seed: u64) -> (Vec<Duration>, Vec<String>) {
    let latencies = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for (i, phone) in phones.iter_mut().enumerate() {
            let (latencies, failures) = (&latencies, &failures);
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(seed ^ i as u64);
                for _ in 0..syncs {
                    std::thread::sleep(Duration::from_millis(rng.random_range(500..2500)));
                    match phone.step(&mut rng) {
                        Ok(d) => latencies.lock().unwrap().push(d),
                        Err(e) => failures.lock().unwrap().push(e),
                    }
                }
            });
        }
    });
    (latencies.into_inner().unwrap(), failures.into_inner().unwrap())
}

/// What the hostile clients got back, by kind of answer.
#[derive(Default)]
struct Answers(Mutex<BTreeMap<String, u64>>);

impl Answers {
    fn count(&self, what: impl Into<String>) {
        *self.0.lock().unwrap().entry(what.into()).or_default() += 1;
    }
}

/// A hostile client's link, as from a phone on a good 4G network: a round trip before each
/// request and an uplink of [`UPLINK_BYTES_PER_SEC`] per connection. (On loopback an
/// attacker would otherwise send at memory speed, on the relay's own two cores: that would
/// measure this machine, not the relay's defences.)
const ROUND_TRIP: Duration = Duration::from_millis(30);
const UPLINK_BYTES_PER_SEC: u64 = 1 << 20;
/// Connections each hostile client keeps busy at once.
const CONNECTIONS: usize = 4;

/// A request body sent no faster than the uplink.
struct Paced {
    data: Arc<Vec<u8>>,
    sent: usize,
    started: Instant,
}

impl std::io::Read for Paced {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let due = Duration::from_secs_f64(self.sent as f64 / UPLINK_BYTES_PER_SEC as f64);
        if let Some(wait) = due.checked_sub(self.started.elapsed()) {
            std::thread::sleep(wait);
        }
        let n = buf.len().min(16 << 10).min(self.data.len() - self.sent);
        buf[..n].copy_from_slice(&self.data[self.sent..self.sent + n]);
        self.sent += n;
        Ok(n)
    }
}

fn post(client: &reqwest::blocking::Client, url: &str, token: &str, body: &Arc<Vec<u8>>) -> String {
    std::thread::sleep(ROUND_TRIP);
    let paced = Paced { data: body.clone(), sent: 0, started: Instant::now() };
    match client
        .post(format!("{url}/api/v1/sync"))
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, wire::CONTENT_TYPE)
        .body(reqwest::blocking::Body::sized(paced, body.len() as u64))
        .send()
    {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.bytes().unwrap_or_default();
            match wire::decode::<wire::SyncResponse>(&body) {
                Ok(response) if status == 200 => {
                    let refused = response.acks.iter().filter(|a| matches!(a, wire::Ack::Refused { .. })).count();
                    if refused == response.acks.len() {
                        "200, every survey refused".into()
                    } else {
                        "200, stored".into()
                    }
                }
                _ => status.to_string(),
            }
        }
        Err(_) => "connection dropped".into(),
    }
}

fn push(surveys: impl IntoIterator<Item = ([u8; 16], Vec<u8>)>) -> Vec<u8> {
    let push = surveys
        .into_iter()
        .map(|(survey, changes)| PushedSurvey { survey, base: Vec::new(), heads: Vec::new(), changes })
        .collect();
    let request = SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor: 0,
        push,
        want: Vec::new(),
        max_pull_bytes: 1 << 20,
        epoch: 0,
        push_entities: Vec::new(),
        want_entities: Vec::new(),
    };
    wire::encode(&request).unwrap()
}

/// The hostile request bodies, built before the clock starts so that the clients spend the
/// machine's cores sending, not building (client and relay share two cores here).
struct Arsenal {
    bombs: Vec<Arc<Vec<u8>>>,
    lists: Vec<Arc<Vec<u8>>>,
}

impl Arsenal {
    fn build(rng: &mut StdRng) -> Arsenal {
        let bombs = terrain_forge::attacks::catalogue()
            .unwrap()
            .into_iter()
            .map(|attack| {
                let mut survey = [0u8; 16];
                rng.fill(&mut survey);
                Arc::new(push([(survey, attack.bytes)]))
            })
            .collect();
        let want = (0..6_000u32).map(|w| WantedSurvey { survey: [(w % 250) as u8; 16], heads: Vec::new() });
        let request = SyncRequest {
            protocol: wire::PROTOCOL_VERSION,
            cursor: 0,
            push: Vec::new(),
            want: want.collect(),
            max_pull_bytes: 1 << 20,
            epoch: 0,
            push_entities: Vec::new(),
            want_entities: Vec::new(),
        };
        let honest = push([([7u8; 16], terrain_forge::attacks::sample(20).save_after(&[]))]);
        let lists = vec![
            wire::encode(&request).unwrap(),
            push((0..5_001u32).map(|s| {
                let mut id = [0u8; 16];
                id[..4].copy_from_slice(&s.to_be_bytes());
                (id, Vec::new())
            })),
            (0..1 << 20).map(|_| rng.random::<u8>()).collect(),
            honest[..honest.len() / 2].to_vec(),
        ];
        Arsenal { bombs, lists: lists.into_iter().map(Arc::new).collect() }
    }
}

/// Hostile client `k` until `stop`: see the module's documentation for who does what.
fn hostile(
    k: u8,
    relay: &Relay,
    token: &str,
    arsenal: &Arsenal,
    stop: &AtomicBool,
    answers: &Answers,
    dropped: &AtomicU64,
) {
    if !attack_enabled(k) {
        return;
    }
    let client = client_from(hostile_address(k));
    let bodies = match k {
        0..=3 => Some(("bombs", &arsenal.bombs)),
        4 | 5 => Some(("lists and garbage", &arsenal.lists)),
        _ => None,
    };
    if let Some((what, bodies)) = bodies {
        std::thread::scope(|s| {
            for c in 0..CONNECTIONS {
                let client = &client;
                s.spawn(move || {
                    for body in bodies.iter().cycle().skip(c) {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        answers.count(format!("{what}: {}", post(client, &relay.url, token, body)));
                    }
                });
            }
        });
        return;
    }
    if k == 6 || k == 7 {
        let mut open: Vec<TcpStream> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            while open.len() < 64 {
                let Some(mut s) = connect_from(hostile_address(k), relay.addr) else { break };
                if s.write_all(b"POST /api/v1/sync HTTP/1.1\r\nHost: relay\r\n").is_err() {
                    break;
                }
                open.push(s);
            }
            std::thread::sleep(Duration::from_millis(1000));
            open.retain_mut(|s| {
                let alive = s.write_all(b"X-Slow: 1\r\n").is_ok();
                if !alive {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
                alive
            });
        }
        return;
    }
    std::thread::scope(|s| {
        for c in 0..CONNECTIONS {
            let client = &client;
            s.spawn(move || {
                for i in 0u64.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(ROUND_TRIP);
                    let body = serde_json::json!({"username": format!("phone{}", i % 100),
                        "password": format!("guess {c} {i}"), "device_id": "flood"});
                    let status = client
                        .post(format!("{}/api/v1/auth/login", relay.url))
                        .json(&body)
                        .send()
                        .map(|r| r.status().as_u16().to_string())
                        .unwrap_or_else(|_| "connection dropped".into());
                    answers.count(format!("login flood: {status}"));
                }
            });
        }
    });
}

/// Whether hostile client `k`'s kind of attack runs: `TERRAIN_BENCH_ATTACKS` names the
/// kinds (`bombs`, `lists`, `slowloris`, `logins`, comma-separated; all by default), to see
/// which one costs the honest devices most.
fn attack_enabled(k: u8) -> bool {
    let kind = match k {
        0..=3 => "bombs",
        4 | 5 => "lists",
        6 | 7 => "slowloris",
        _ => "logins",
    };
    std::env::var("TERRAIN_BENCH_ATTACKS").map_or(true, |kinds| kinds.split(',').any(|k| k.trim() == kind))
}

/// A blocking connection from `from` to `to` (std cannot bind before connecting).
fn connect_from(from: IpAddr, to: SocketAddr) -> Option<TcpStream> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().ok()?;
        socket.bind(SocketAddr::new(from, 0)).ok()?;
        tokio::time::timeout(Duration::from_secs(5), socket.connect(to)).await.ok()?.ok()
    })?;
    let stream = stream.into_std().ok()?;
    stream.set_nonblocking(false).ok()?;
    stream.set_write_timeout(Some(Duration::from_secs(1))).ok()?;
    Some(stream)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let devices: usize = std::env::var("TERRAIN_BENCH_DEVICES").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let syncs: usize = std::env::var("TERRAIN_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let form =
        xlsform::import_path(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../forms/guinea_needs.xlsx"))).unwrap();
    let relay = start(dir.path(), &form);
    let hash = terrain_services::password::hash(PASSWORD, &mut Default::default()).unwrap();

    let mut rng = StdRng::seed_from_u64(2026);
    let mut phones: Vec<Phone> = (0..devices)
        .map(|i| {
            let name = format!("phone{i}");
            let (token, key) = relay.enrol(&name, &name, &hash);
            let store = Store::open(dir.path().join(format!("{name}.db")), Author::new(&name, &name, Role::Enumerator))
                .unwrap();
            store.set_device_key(&key).unwrap();
            store.save_form(&form).unwrap();
            let transport = HttpTransport::with_client(
                &relay.url,
                &token,
                Arc::new(sync::ReqwestClient::from(client_from(honest_address(i)))),
            );
            let mut phone = Phone { store, transport, form: form.clone(), surveys: Vec::new() };
            // A few surveys already on the relay, as after the first days in the field.
            for _ in 0..3 {
                phone.step(&mut rng).unwrap();
            }
            phone
        })
        .collect();
    let hostile_tokens: Vec<String> =
        (0..HOSTILE).map(|k| relay.enrol(&format!("mallory{k}"), &format!("stolen{k}"), &hash).0).collect();

    let arsenal = Arsenal::build(&mut rng);
    let (mut alone, mut failures) = honest_run(&mut phones, syncs, 1);
    let stop = AtomicBool::new(false);
    let answers = Answers::default();
    let dropped = AtomicU64::new(0);
    let (mut attacked, attacked_failures) = std::thread::scope(|s| {
        for (k, token) in hostile_tokens.iter().enumerate() {
            let (relay, arsenal, stop, answers, dropped) = (&relay, &arsenal, &stop, &answers, &dropped);
            s.spawn(move || hostile(k as u8, relay, token, arsenal, stop, answers, dropped));
        }
        // Let the attacks reach full strength before the honest phones start.
        std::thread::sleep(Duration::from_secs(3));
        let result = honest_run(&mut phones, syncs, 2);
        stop.store(true, Ordering::Relaxed);
        result
    });
    let (again, again_failures) = honest_run(&mut phones, syncs, 3);
    alone.extend(again);
    failures.extend(again_failures);

    let (a50, a99) = (percentile(&mut alone, 0.5), percentile(&mut alone, 0.99));
    let (h50, h99) = (percentile(&mut attacked, 0.5), percentile(&mut attacked, 0.99));
    let mut rows: Vec<(String, String, String)> = vec![
        (
            format!("baseline: {devices} honest devices alone, sync latency p50 / p99"),
            format!("{} / {}", ms(a50), ms(a99)),
            format!("{} syncs (two runs), {} failed", alone.len(), failures.len()),
        ),
        (
            format!("the same devices with {HOSTILE} hostile clients, p50 / p99"),
            format!("{} / {}", ms(h50), ms(h99)),
            format!("{} syncs, {} failed", attacked.len(), attacked_failures.len()),
        ),
        (
            "with hostile clients ÷ alone, p50 / p99".into(),
            format!(
                "{:.2}× / {:.2}×",
                h50.as_secs_f64() / a50.as_secs_f64().max(1e-9),
                h99.as_secs_f64() / a99.as_secs_f64().max(1e-9)
            ),
            "goal ≤ 1.5×".into(),
        ),
    ];
    for (what, n) in answers.0.into_inner().unwrap() {
        rows.push((format!("hostile requests answered {what}"), n.to_string(), String::new()));
    }
    rows.push((
        "slowloris connections dropped by the relay".into(),
        dropped.load(Ordering::Relaxed).to_string(),
        "each client holds up to 64 (the per-address limit)".into(),
    ));
    table::report(
        &format!("load with hostility ({devices} honest devices × {syncs} syncs per run, {HOSTILE} hostile clients)"),
        rows,
    );
    if let Some(f) = failures.iter().chain(&attacked_failures).next() {
        eprintln!("an honest sync failed: {f}");
        std::process::exit(1);
    }
}
