//! A real server on loopback with seeded accounts, and devices with real stores that log in
//! and sync over HTTP.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Cursor, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use automerge::transaction::CommitOptions;
use automerge::{AutoCommit, ObjId, ROOT, ReadDoc};
use terrain_core::sync::wire::{self, PushedSurvey, SyncRequest, SyncResponse};
use terrain_core::sync::{self, CancelToken, HttpTransport, Session, SyncOptions, SyncReport};
use terrain_core::{Author, Form, Role, Store};
use terrain_server::{AppState, Settings};
use terrain_services::backend::{Backend, NewUser, User};

/// The hash of [`PASSWORD`], computed once: argon2 is slow by design.
fn password_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| terrain_services::password::hash(PASSWORD, &mut Default::default()).unwrap()).clone()
}

pub const PASSWORD: &str = "a long test password";

pub fn household_form() -> Form {
    Form::from_json(include_str!("../../../core/tests/fixtures/household.json")).unwrap()
}

/// A running server and the ids of what was seeded.
pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    pub state: AppState,
    pub data: PathBuf,
    pub project: i64,
    pub teams: Vec<i64>,
    runtime: Option<tokio::runtime::Runtime>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    /// Starts a server in `data` on 127.0.0.1 with an admin, a project "pilot" with the
    /// household form, and teams.
    pub fn start(data: &Path) -> TestServer {
        Self::start_with(data, Self::settings())
    }

    /// The default settings, but for the throttles: every test client comes from 127.0.0.1
    /// and many log in at once. Tests of the throttles set their own.
    pub fn settings() -> Settings {
        let mut settings = Settings::default();
        let plenty = terrain_services::Rate { burst: 1_000_000, per_second: 1_000_000.0 };
        settings.services.logins.per_address = plenty;
        settings.services.requests = plenty;
        settings
    }

    pub fn start_with(data: &Path, settings: Settings) -> TestServer {
        Self::start_serving(data, settings, None)
    }

    /// [`TestServer::start_with`] over HTTPS with `tls`; `url` is then `https://…`.
    pub fn start_tls(data: &Path, settings: Settings, tls: terrain_server::Tls) -> TestServer {
        Self::start_serving(data, settings, Some(tls))
    }

    fn start_serving(data: &Path, settings: Settings, tls: Option<terrain_server::Tls>) -> TestServer {
        let state = AppState::open(data, settings).unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        runtime.spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            let _ = match tls {
                Some(tls) => terrain_server::serve_tls(listener, serve_state, tls, shutdown).await,
                None => terrain_server::serve(listener, serve_state, shutdown).await,
            };
        });
        let backend = state.services.backend().clone();
        let project = match backend.projects().unwrap().into_iter().find(|p| p.name == "pilot") {
            Some(p) => p.id,
            None => backend.create_project("pilot").unwrap().id,
        };
        let teams: Vec<i64> = backend.teams().unwrap().into_iter().map(|t| t.id).collect();
        let teams = if teams.is_empty() {
            vec![backend.create_team(project, "kindia").unwrap().id, backend.create_team(project, "labe").unwrap().id]
        } else {
            teams
        };
        if backend.forms().unwrap().is_empty() {
            backend.publish_form(project, &household_form()).unwrap();
        }
        let server = TestServer {
            url: format!("{scheme}://{addr}"),
            addr,
            state,
            data: data.to_path_buf(),
            project,
            teams,
            runtime: Some(runtime),
            shutdown: Some(tx),
        };
        server.user("admin", Role::Admin, None);
        server
    }

    pub fn backend(&self) -> Arc<dyn Backend> {
        self.state.services.backend().clone()
    }

    /// The user `name`, created if needed, in team `team` (index into `teams`) if given.
    pub fn user(&self, name: &str, role: Role, team: Option<usize>) -> User {
        let backend = self.backend();
        let user = match backend.user_by_name(name).unwrap() {
            Some((u, _)) => u,
            // Seeded in storage, as the projects and teams are: the audit log then holds
            // only what the tests' requests did.
            None => backend
                .create_user(&NewUser {
                    username: name.into(),
                    password_hash: password_hash(),
                    role,
                    display_name: None,
                })
                .unwrap(),
        };
        if let Some(t) = team {
            backend.add_team_member(self.teams[t], user.id).unwrap();
        }
        if role == Role::Analyst {
            backend.add_project_member(self.project, user.id).unwrap();
        }
        user
    }

    /// Logs in over HTTP and returns the token.
    pub fn token(&self, name: &str, device: &str) -> String {
        Session::login(&self.url, name, PASSWORD, device).unwrap().token().to_owned()
    }

    /// Stops the server (in-flight requests finish).
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

/// A phone or tablet: a real store that has logged in to the server.
pub struct Device {
    pub store: Store,
    pub token: String,
    pub url: String,
}

impl Device {
    pub fn login(url: &str, dir: &Path, user: &str, role: Role, device: &str) -> Device {
        let store = Store::open(dir.join(format!("{device}.db")), Author::new(user, device, role)).unwrap();
        let session = Session::login(url, user, PASSWORD, device).unwrap();
        let login = session.login_info().unwrap();
        store.set_device_key(&login.device_key).unwrap();
        Device { store, token: login.token.clone(), url: url.to_owned() }
    }

    pub fn sync(&self) -> SyncReport {
        self.try_sync().unwrap()
    }

    pub fn try_sync(&self) -> Result<SyncReport, sync::SyncError> {
        let transport = HttpTransport::new(&self.url, &self.token).unwrap();
        sync::sync(&self.store, &transport, &SyncOptions::default(), &|_| {}, &CancelToken::default())
    }
}

impl Device {
    /// Downloads every form version the user may use, as the app does after login.
    pub fn fetch_forms(&self) {
        let transport = HttpTransport::new(&self.url, &self.token).unwrap();
        sync::download_forms(&self.store, &transport).unwrap();
    }
}

impl Device {
    /// Syncs with explicit options (small batches make a sync long enough to interrupt).
    pub fn try_sync_with(&self, options: &SyncOptions) -> Result<SyncReport, sync::SyncError> {
        let transport = HttpTransport::new(&self.url, &self.token).unwrap();
        sync::sync(&self.store, &transport, options, &|_| {}, &CancelToken::default())
    }
}

// --- The dashboard over plain HTTP, as a browser without JavaScript sees it.

/// A client that does not follow redirects, so a test sees where the dashboard sends it.
pub fn browser() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Logs `user` in through the dashboard's form and returns the session cookie.
pub fn session(server: &TestServer, user: &str) -> String {
    let r = browser()
        .post(format!("{}/login", server.url))
        .form(&[("username", user), ("password", PASSWORD)])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "login of {user}");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

/// A dashboard page with the session `cookie`: its status and HTML.
pub fn page(server: &TestServer, cookie: &str, path: &str) -> (u16, String) {
    let r = browser().get(format!("{}{path}", server.url)).header("cookie", cookie).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

// --- Raw sync requests, for tests that send what a device could send rather than what the
// --- sync client does (authz.rs, bad_input.rs).

/// A plain HTTP client for raw requests.
pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(60)).build().unwrap()
}

/// POSTs `body` to `/api/v1/sync`; returns the status and the response body.
pub fn post_sync(url: &str, token: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let response = http()
        .post(format!("{url}/api/v1/sync"))
        .bearer_auth(token)
        .header("content-type", wire::CONTENT_TYPE)
        .body(body)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().unwrap().to_vec())
}

/// Opens a raw connection to `addr` and sends `head` (headers, possibly unfinished).
pub fn raw(addr: SocketAddr, head: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

/// Announces a sync body of `length` bytes and sends none of it: the relay must refuse it
/// from its headers. (Sending the body too, as [`post_sync`] would, races the refusal: the
/// relay answers and closes while the client still writes, and the client sees a broken
/// pipe, not the answer.) Returns the status and the response body.
pub fn declare_oversized_sync(addr: SocketAddr, token: &str, length: usize) -> (u16, Vec<u8>) {
    let head = format!(
        "POST /api/v1/sync HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {}\r\nContent-Length: {length}\r\n\r\n",
        wire::CONTENT_TYPE
    );
    let mut reader = BufReader::new(raw(addr, &head));
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut body_length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            body_length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; body_length];
    reader.read_exact(&mut body).unwrap();
    (status, body)
}

/// One sync round with `request`; panics unless the server answers 200 with a response.
pub fn sync_round(url: &str, token: &str, request: &SyncRequest) -> SyncResponse {
    let (status, body) = post_sync(url, token, wire::encode(request).unwrap());
    assert_eq!(status, 200, "sync answered {status}: {}", String::from_utf8_lossy(&body));
    wire::decode(&body).unwrap()
}

/// A request that pushes `push` (and pulls from the start of the feed).
pub fn push_request(push: Vec<PushedSurvey>) -> SyncRequest {
    SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor: 0,
        push,
        want: Vec::new(),
        max_pull_bytes: 1 << 20,
        epoch: 0,
        push_entities: Vec::new(),
        want_entities: Vec::new(),
    }
}

/// What `store` would push now: each survey's changes the server has not acknowledged.
pub fn pending(store: &Store) -> Vec<PushedSurvey> {
    store
        .pending_pushes(1000)
        .unwrap()
        .into_iter()
        .map(|p| PushedSurvey {
            survey: wire::survey_id_bytes(&p.survey_id).unwrap(),
            base: wire::hashes(&p.acked),
            heads: wire::hashes(&p.heads),
            changes: p.changes,
        })
        .collect()
}

/// One change made with Automerge directly on top of `history` (a survey's change chunks or
/// saved document), under a fresh actor of the device whose key is `device_key` (hex), as a
/// device would push it: whatever the store's own editing API allows or not.
pub fn craft(survey_id: &str, history: &[u8], device_key: &str, edit: impl FnOnce(&mut AutoCommit)) -> PushedSurvey {
    let mut doc = AutoCommit::load(history).unwrap();
    let key = terrain_core::identity::parse_device_key(device_key).unwrap();
    doc.set_actor(terrain_core::identity::new_actor_for(Some(key)));
    let before = doc.get_heads();
    edit(&mut doc);
    doc.commit_with(CommitOptions::default().with_time(chrono::Utc::now().timestamp()));
    let after = doc.get_heads();
    assert_ne!(before, after, "the crafted edit changed nothing");
    PushedSurvey {
        survey: wire::survey_id_bytes(survey_id).unwrap(),
        base: wire::hashes(&before),
        heads: wire::hashes(&after),
        changes: doc.save_after(&before),
    }
}

/// The map under a root key of a survey document (`meta`, `answers`, `review`).
pub fn root_map(doc: &AutoCommit, key: &str) -> ObjId {
    match doc.get(ROOT, key).unwrap() {
        Some((automerge::Value::Object(automerge::ObjType::Map), id)) => id,
        other => panic!("`{key}` is not a map: {other:?}"),
    }
}

// --- Exports.

pub type Rows = Vec<HashMap<String, String>>;

/// Reads every CSV of an export zip: table name → rows.
pub fn unzip(bytes: &[u8]) -> BTreeMap<String, (Vec<String>, Rows)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).unwrap();
        let name = file.name().unwrap().trim_end_matches(".csv").to_owned();
        let mut text = Vec::new();
        file.read_to_end(&mut text).unwrap();
        let text = text.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(&text).to_vec();
        let mut reader = csv::Reader::from_reader(text.as_slice());
        let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        let rows = reader
            .records()
            .map(|r| headers.iter().cloned().zip(r.unwrap().iter().map(str::to_owned)).collect())
            .collect();
        out.insert(name, (headers, rows));
    }
    out
}
