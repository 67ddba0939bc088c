//! Sync against the real server on loopback with real SQLite stores: convergence under
//! seeded random offline edits, sync orders and bundles; concurrent edits of different and
//! of the same fields; and faults (dropped responses, a client that crashes before the
//! acknowledgement, a server killed with SIGKILL mid-sync).
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{Device, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use terrain_core::store::SurveyQuery;
use terrain_core::survey::Answer;
use terrain_core::sync::bundle;
use terrain_core::sync::{self, CancelToken, HttpTransport, SyncOptions, Transport, TransportError};
use terrain_core::{AnswerPath, Role, Value};

fn p(s: &str) -> AnswerPath {
    s.parse().unwrap()
}

/// Every write a device made: (survey, path) → values written, for the "nothing lost" check.
type Writes = HashMap<(String, String), Vec<Value>>;

fn write(device: &Device, writes: &mut Writes, survey: &str, path: &str, value: Value) {
    if device.store.set_answer(survey, &p(path), value.clone()).unwrap() {
        writes.entry((survey.to_owned(), path.to_owned())).or_default().push(value);
    }
}

#[test]
fn seeded_random_offline_work_converges_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let mut enumerators = Vec::new();
    for i in 0..5 {
        let name = format!("enum{i}");
        server.user(&name, Role::Enumerator, Some(if i < 3 { 0 } else { 1 }));
        let device = Device::login(&server.url, dir.path(), &name, Role::Enumerator, &format!("phone-{name}"));
        device.fetch_forms();
        enumerators.push(device);
    }
    let mut supervisors = Vec::new();
    for i in 0..2 {
        let name = format!("sup{i}");
        server.user(&name, Role::Supervisor, Some(i));
        let device = Device::login(&server.url, dir.path(), &name, Role::Supervisor, &format!("tablet-{name}"));
        device.fetch_forms();
        supervisors.push(device);
    }
    let team_of = |enumerator: usize| if enumerator < 3 { 0 } else { 1 };

    let mut rng = StdRng::seed_from_u64(0x5eed_0004);
    let mut writes: Writes = HashMap::new();
    let villages = ["Kindia", "Labé", "Mamou", "Boké", "Siguiri"];
    for _step in 0..160 {
        match rng.random_range(0..10) {
            0..=1 => {
                let e = rng.random_range(0..enumerators.len());
                let device = &enumerators[e];
                let id = device.store.create_survey("household", "2026110101").unwrap();
                write(device, &mut writes, &id, "village", Value::Text(villages[rng.random_range(0..5)].into()));
            }
            2..=4 => {
                let e = rng.random_range(0..enumerators.len());
                let device = &enumerators[e];
                let mine = device.store.list(&SurveyQuery::default()).unwrap();
                if mine.is_empty() {
                    continue;
                }
                let id = mine[rng.random_range(0..mine.len())].survey_id.clone();
                match rng.random_range(0..3) {
                    0 => write(device, &mut writes, &id, "hh_size", Value::Integer(rng.random_range(1..20))),
                    1 => write(
                        device,
                        &mut writes,
                        &id,
                        "head_name",
                        Value::Text(format!("Chef {}", rng.random::<u16>())),
                    ),
                    _ => {
                        let i = device.store.add_repeat_instance(&id, &p("member"), None).unwrap();
                        let path = format!("member[{i}]/age");
                        write(device, &mut writes, &id, &path, Value::Integer(rng.random_range(0..90)));
                    }
                }
            }
            5 => {
                let s = rng.random_range(0..supervisors.len());
                let device = &supervisors[s];
                let seen = device.store.list(&SurveyQuery::default()).unwrap();
                if seen.is_empty() {
                    continue;
                }
                let id = seen[rng.random_range(0..seen.len())].survey_id.clone();
                write(device, &mut writes, &id, "hh_size", Value::Integer(rng.random_range(1..20)));
            }
            6 => {
                // An enumerator out of range hands surveys to their supervisor by bundle.
                let e = rng.random_range(0..enumerators.len());
                let bytes = bundle::export(&enumerators[e].store, None).unwrap();
                let report = bundle::import(&supervisors[team_of(e)].store, &bytes).unwrap();
                assert!(report.failed.is_empty(), "{:?}", report.failed);
            }
            _ => {
                let all: Vec<&Device> = enumerators.iter().chain(supervisors.iter()).collect();
                let device = all[rng.random_range(0..all.len())];
                let report = device.sync();
                assert!(report.refused.is_empty(), "refused: {:?}", report.refused);
                assert!(report.failed.is_empty(), "failed: {:?}", report.failed);
            }
        }
    }

    // Connectivity returns for everyone: two full rounds.
    for _ in 0..2 {
        for device in enumerators.iter().chain(supervisors.iter()) {
            let report = device.sync();
            assert!(report.refused.is_empty() && report.failed.is_empty(), "{report:?}");
        }
    }

    let backend = server.backend();
    let server_surveys: BTreeMap<String, _> = backend
        .feed(0, u32::MAX, &Default::default())
        .unwrap()
        .into_iter()
        .map(|e| (e.summary.survey_id.clone(), backend.heads(&e.summary.survey_id).unwrap().unwrap()))
        .collect();
    assert!(server_surveys.len() >= 10, "the scenario should create surveys, got {}", server_surveys.len());
    for (i, device) in enumerators.iter().enumerate() {
        let name = format!("enum{i}");
        for summary in device.store.list(&SurveyQuery { limit: Some(u32::MAX), ..Default::default() }).unwrap() {
            assert_eq!(
                device.store.heads(&summary.survey_id).unwrap(),
                server_surveys[&summary.survey_id],
                "{name} diverged on {}",
                summary.survey_id
            );
        }
        // Every survey the enumerator started is on their phone.
        let own = server_surveys.keys().filter(|id| backend.survey_summary(id).unwrap().unwrap().created_by == name);
        for id in own {
            assert!(device.store.heads(id).is_ok(), "{name} lacks their survey {id}");
        }
    }
    for (s, device) in supervisors.iter().enumerate() {
        let team: Vec<String> = (0..5).filter(|e| team_of(*e) == s).map(|e| format!("enum{e}")).collect();
        for (id, heads) in &server_surveys {
            let creator = backend.survey_summary(id).unwrap().unwrap().created_by;
            if team.contains(&creator) {
                assert_eq!(&device.store.heads(id).unwrap(), heads, "sup{s} diverged on {id}");
            }
        }
    }
    // Nothing acknowledged is lost: every value ever written is in the server's history.
    for ((survey, path), values) in &writes {
        let history = backend.history(survey, &p(path)).unwrap();
        for value in values {
            assert!(
                history.iter().any(|e| e.value == Some(Answer::Value(value.clone()))),
                "{survey} {path}: {value:?} missing from history"
            );
        }
    }
}

#[test]
fn concurrent_edits_of_different_fields_survive_and_same_field_edits_are_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("awa", Role::Enumerator, Some(0));
    server.user("moussa", Role::Supervisor, Some(0));
    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone");
    phone.fetch_forms();
    let tablet = Device::login(&server.url, dir.path(), "moussa", Role::Supervisor, "tablet");
    let id = phone.store.create_survey("household", "2026110101").unwrap();
    phone.store.set_answer(&id, &p("hh_size"), Value::Integer(5)).unwrap();
    phone.sync();
    tablet.sync();

    // Offline, both edit: different fields, and one field in common.
    phone.store.set_answer(&id, &p("village"), Value::Text("Kindia".into())).unwrap();
    phone.store.set_answer(&id, &p("hh_size"), Value::Integer(6)).unwrap();
    tablet.store.set_answer(&id, &p("head_name"), Value::Text("Mariama".into())).unwrap();
    tablet.store.set_answer(&id, &p("hh_size"), Value::Integer(7)).unwrap();
    phone.sync();
    tablet.sync();
    phone.sync();

    for device in [&phone, &tablet] {
        let survey = device.store.survey(&id).unwrap();
        assert_eq!(survey.answers.value("village"), Some(&Value::Text("Kindia".into())));
        assert_eq!(survey.answers.value("head_name"), Some(&Value::Text("Mariama".into())));
        let conflicts = device.store.conflicts(&id).unwrap();
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].path, p("hh_size"));
    }
    let on_server = server.backend().conflicts(&id).unwrap();
    assert_eq!(on_server.len(), 1);
    let mut values: Vec<String> = on_server[0].values.iter().map(|v| format!("{:?}", v.value)).collect();
    values.sort();
    assert_eq!(values, vec!["Value(Integer(6))", "Value(Integer(7))"]);
    assert_eq!(phone.store.heads(&id).unwrap(), tablet.store.heads(&id).unwrap());
}

/// A transport that delivers the request but loses the answer, as a phone killed between
/// sending and receiving the acknowledgement would.
struct LoseAnswers {
    inner: HttpTransport,
}

impl Transport for LoseAnswers {
    fn server(&self) -> &str {
        self.inner.server()
    }
    fn sync(&self, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        self.inner.sync(body)?;
        Err(TransportError::Network("the app was killed".into()))
    }
    fn form(&self, form_id: &str, version: &str) -> Result<String, TransportError> {
        self.inner.form(form_id, version)
    }
}

#[test]
fn a_client_that_crashes_before_the_acknowledgement_resends_harmlessly() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("awa", Role::Enumerator, Some(0));
    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone");
    phone.fetch_forms();
    let mut ids = Vec::new();
    for i in 0..20 {
        let id = phone.store.create_survey("household", "2026110101").unwrap();
        phone.store.set_answer(&id, &p("hh_size"), Value::Integer(i + 1)).unwrap();
        ids.push(id);
    }
    let lossy = LoseAnswers { inner: HttpTransport::new(&server.url, &phone.token).unwrap() };
    let err = sync::sync(&phone.store, &lossy, &SyncOptions::default(), &|_| {}, &CancelToken::default());
    assert!(err.is_err());
    assert_eq!(phone.store.pending_count().unwrap(), 20, "nothing is marked uploaded without an answer");
    assert_eq!(server.backend().feed(0, 1000, &Default::default()).unwrap().len(), 20, "the server stored them");

    let report = phone.sync();
    assert_eq!(report.progress.pushed, 20);
    assert_eq!(phone.store.pending_count().unwrap(), 0);
    assert_eq!(server.backend().feed(0, 1000, &Default::default()).unwrap().len(), 20, "nothing duplicated");
    for id in &ids {
        assert_eq!(phone.store.heads(id).unwrap(), server.backend().heads(id).unwrap().unwrap());
    }
}

/// A TCP proxy that cuts the first `cuts` responses after `after` bytes, then passes
/// everything through.
fn cutting_proxy(target: std::net::SocketAddr, cuts: usize, after: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let cut = Arc::new(AtomicUsize::new(0));
    let counter = cut.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { break };
            let Ok(mut upstream) = TcpStream::connect(target) else { break };
            let cut_this = counter.load(Ordering::SeqCst) < cuts;
            let mut client_read = client.try_clone().unwrap();
            let mut upstream_write = upstream.try_clone().unwrap();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_read, &mut upstream_write);
            });
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut sent = 0usize;
                loop {
                    let n = match upstream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if cut_this && sent + n > after {
                        let _ = client.write_all(&buf[..after.saturating_sub(sent)]);
                        counter.fetch_add(1, Ordering::SeqCst);
                        let _ = client.shutdown(std::net::Shutdown::Both);
                        break;
                    }
                    if client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n;
                }
            });
        }
    });
    (url, cut)
}

#[test]
fn a_connection_dropped_mid_response_resumes_without_loss_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("awa", Role::Enumerator, Some(0));
    server.user("moussa", Role::Supervisor, Some(0));
    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone");
    phone.fetch_forms();
    for i in 0..30 {
        let id = phone.store.create_survey("household", "2026110101").unwrap();
        phone.store.set_answer(&id, &p("hh_size"), Value::Integer(i + 1)).unwrap();
    }
    phone.sync();

    // The supervisor pulls 30 surveys through a link that drops the first two answers
    // half-way through.
    let (proxy, cuts) = cutting_proxy(server.addr, 2, 600);
    let tablet = Device::login(&proxy, dir.path(), "moussa", Role::Supervisor, "tablet");
    let mut failures = 0;
    let report = loop {
        match tablet.try_sync() {
            Ok(report) => break report,
            Err(sync::SyncError::Transport(TransportError::Network(_))) => failures += 1,
            Err(other) => panic!("unexpected error: {other}"),
        }
        assert!(failures < 10, "never recovered");
    };
    assert!(cuts.load(Ordering::SeqCst) >= 2, "the proxy cut responses");
    assert!(failures >= 1);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let surveys = tablet.store.list(&SurveyQuery::default()).unwrap();
    assert_eq!(surveys.len(), 30);
    for s in surveys {
        assert_eq!(tablet.store.heads(&s.survey_id).unwrap(), phone.store.heads(&s.survey_id).unwrap());
    }
    let _ = AtomicBool::new(false);
}
