//! What TLS costs a sync over 2G, in bytes: one server listening both in plain HTTP and in
//! HTTPS (a self-signed certificate made for the run, pinned by the device), a TCP proxy
//! counting every byte between device and server, and each sync on a new connection, as a
//! phone's sync after hours offline is. Two syncs:
//! - no-op: nothing to push or pull;
//! - a day's work: a device's first sync after filling 15 Guinea household surveys;
//!
//! each in plain HTTP (the baseline), over TLS with a whole handshake, and over TLS resuming
//! the session of an earlier connection (what the device does from its second sync on).
//!
//! Run: `cargo bench -p terrain-server --bench tls` (TERRAIN_BENCH_TABLE=FILE also writes
//! the table to FILE, for `bench/report.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use terrain_core::form::Form;
use terrain_core::sync::{
    self, CancelToken, HttpClient, HttpRequest, HttpTransport, ReqwestClient, Session, SyncOptions,
};
use terrain_core::{Author, Role, Store};
use terrain_demo::proxy::{Link, Proxy};
use terrain_server::http::tls::self_signed;
use terrain_server::{AppState, Settings, Tls, TlsFiles};
use terrain_services::accounts::CreateUser;
use terrain_xlsform as xlsform;

const PASSWORD: &str = "benchmark password";
const DAY: usize = 15;

/// How the device reaches the server for one measured sync.
#[derive(Clone, Copy, PartialEq)]
enum Over {
    Plain,
    Full,
    Resumed,
}

struct Relay {
    plain: Proxy,
    tls: Proxy,
    pin: terrain_core::sync::CertificatePin,
    _runtime: tokio::runtime::Runtime,
}

fn start(dir: &Path, form: &Form) -> Relay {
    let made = self_signed(&["127.0.0.1".into()], 30).unwrap();
    let files = TlsFiles { cert: dir.join("relay.crt"), key: dir.join("relay.key") };
    std::fs::write(&files.cert, &made.cert_pem).unwrap();
    std::fs::write(&files.key, &made.key_pem).unwrap();
    let tls = Tls::load(files).unwrap();
    let state = AppState::open(&dir.join("server"), Settings::default()).unwrap();
    let services = state.services.clone();
    let backend = services.backend().clone();
    let project = backend.create_project("pilot").unwrap().id;
    let team = backend.create_team(project, "kindia").unwrap().id;
    backend.publish_form(project, form).unwrap();
    let request =
        CreateUser { username: "awa".into(), password: PASSWORD.into(), role: "enumerator".into(), display_name: None };
    let user = services.create_user(&services.operator().unwrap(), &request).unwrap();
    backend.add_team_member(team, user.id).unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (plain, secure) = runtime.block_on(async {
        let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let secure = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        (plain, secure)
    });
    let (plain_addr, secure_addr) = (plain.local_addr().unwrap(), secure.local_addr().unwrap());
    runtime.spawn(terrain_server::serve(plain, state.clone(), std::future::pending()));
    runtime.spawn(terrain_server::serve_tls(secure, state, tls, std::future::pending()));
    Relay {
        plain: Proxy::start(plain_addr, Link::default()).unwrap(),
        tls: Proxy::start(secure_addr, Link::default()).unwrap(),
        pin: made.pin,
        _runtime: runtime,
    }
}

impl Relay {
    fn url(&self, link: Over) -> String {
        match link {
            Over::Plain => self.plain.url().to_owned(),
            Over::Full | Over::Resumed => self.tls.url().replace("http://", "https://"),
        }
    }

    fn proxy(&self, link: Over) -> &Proxy {
        if link == Over::Plain { &self.plain } else { &self.tls }
    }
}

/// A reqwest client with a connection pool of its own; over TLS, pinned, with `tls`'s
/// session cache.
fn client(tls: Option<&rustls::ClientConfig>) -> ReqwestClient {
    let builder = reqwest::blocking::Client::builder();
    let builder = match tls {
        Some(config) => builder.use_preconfigured_tls(config.clone()),
        None => builder,
    };
    ReqwestClient::from(builder.build().unwrap())
}

/// Bytes of one sync of `store` over `link`, on a new connection (closing included).
fn measure(relay: &Relay, link: Over, store: &Store, token: &str) -> u64 {
    let tls = match link {
        Over::Plain => None,
        Over::Full => Some(ReqwestClient::pinned_tls(relay.pin).unwrap()),
        Over::Resumed => {
            // An earlier connection (the last sync) left a session to resume.
            let config = ReqwestClient::pinned_tls(relay.pin).unwrap();
            let health = HttpRequest::new("GET", format!("{}/healthz", relay.url(link)));
            assert!(client(Some(&config)).send(health).unwrap().is_success());
            Some(config)
        }
    };
    std::thread::sleep(Duration::from_millis(50));
    let proxy = relay.proxy(link);
    let before = proxy.bytes();
    {
        let transport = HttpTransport::with_client(&relay.url(link), token, Arc::new(client(tls.as_ref())));
        let report = sync::sync(store, &transport, &SyncOptions::default(), &|_| {}, &CancelToken::default()).unwrap();
        assert!(report.failed.is_empty() && report.refused.is_empty(), "{report:?}");
    }
    std::thread::sleep(Duration::from_millis(100));
    proxy.bytes() - before
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let form =
        xlsform::import_path(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../forms/guinea_needs.xlsx"))).unwrap();
    let relay = start(dir.path(), &form);
    let store = Store::open(dir.path().join("awa.db"), Author::new("awa", "awa-phone", Role::Enumerator)).unwrap();
    let session = Session::login(&relay.url(Over::Plain), "awa", PASSWORD, "awa-phone").unwrap();
    store.set_device_key(&session.login_info().unwrap().device_key).unwrap();
    store.save_form(&form).unwrap();
    let token = session.token().to_owned();

    let links = [(Over::Plain, "plain HTTP"), (Over::Full, "TLS, whole handshake"), (Over::Resumed, "TLS, resumed")];
    let mut rows: Vec<(String, u64, u64)> = Vec::new();
    // No-op: the store has synced everything.
    measure(&relay, Over::Plain, &store, &token);
    let noop: Vec<u64> = links.iter().map(|(link, _)| measure(&relay, *link, &store, &token)).collect();
    for ((_, name), bytes) in links.iter().zip(&noop) {
        rows.push((format!("no-op sync, {name}"), *bytes, noop[0]));
    }
    // A day's work: the same 15 surveys' answers before each sync (the same seed).
    let mut day = Vec::new();
    for (link, _) in links {
        let mut rng = StdRng::seed_from_u64(2026);
        for _ in 0..DAY {
            let answers = terrain_demo::sample::answers(&form, &mut rng);
            store.create_survey_with(&form.id, &form.version, &answers).unwrap();
        }
        day.push(measure(&relay, link, &store, &token));
    }
    for ((_, name), bytes) in links.iter().zip(&day) {
        rows.push((format!("first sync of a day's {DAY} surveys, {name}"), *bytes, day[0]));
    }

    let mut table =
        "| TLS on a sync (Guinea questionnaire; each sync on a new connection) | bytes on the wire | ÷ plain HTTP | TLS's own bytes |\n|---|---|---|---|\n"
            .to_owned();
    for (what, bytes, plain) in rows {
        table.push_str(&format!(
            "| {what} | {bytes} B | {:.2}× | {} B |\n",
            bytes as f64 / plain as f64,
            bytes.saturating_sub(plain)
        ));
    }
    println!("\n{table}");
    if let Ok(path) = std::env::var("TERRAIN_BENCH_TABLE") {
        std::fs::write(&path, &table).unwrap();
    }
}
