//! Attached files: what they cost on the wire, what they cost the answers, and what they
//! cost the server's memory. Prints a markdown table; each figure against a baseline of the
//! same run.
//!
//! The relay runs in a child process of this binary (the real `terrain_server::serve` on
//! loopback), so that its peak resident memory (`VmHWM`) is the server's alone. Devices are
//! real stores syncing through the core's client:
//! - **bytes on the wire**: one phone sends 10 photos (JPEG, 1280 × 960, as `max-pixels`
//!   leaves them) through the demo's proxy paced as EDGE at its best (384 kbit/s, 150 ms one
//!   way), once whole and once with the link cut three times; the bytes from the phone,
//!   headers included, against the photos' own bytes;
//! - **the answers' delay**: the time of a sync of 10 surveys whose 10 photos wait to be
//!   sent, against the same sync of 10 surveys without photos (alternated, 5 runs each);
//! - **memory**: 20 devices upload a 50 MB file each, at once, straight to the relay; its
//!   peak resident memory against its resident memory before they started.
//!
//! Run: `cargo bench -p terrain-server --bench media` (TERRAIN_BENCH_TABLE=FILE also writes
//! the table to FILE, for `bench/report.sh`; TERRAIN_BENCH_MEDIA_MB=N resizes the files of
//! the memory run).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "support/memory.rs"]
mod memory;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use image::{ImageEncoder, Rgb, RgbImage};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use terrain_core::form::Form;
use terrain_core::sync::{self, CancelToken, HttpTransport, MediaOptions, Session, SyncOptions};
use terrain_core::{AnswerPath, Author, Role, Store, Value};
use terrain_demo::proxy::{Link, Proxy};
use terrain_services::backend::sqlite::SqliteBackend;
use terrain_services::backend::{Backend, NewUser};

const PASSWORD: &str = "benchmark password";

/// A form of the Béguédo kind with a photo and a document: what the bench attaches to.
fn form() -> Form {
    Form::from_json(
        r#"{"id":"bank_watch","version":"1","title":"Bank watch","children":[
            {"node":"question","name":"site","type":{"kind":"integer"}},
            {"node":"question","name":"photo","type":{"kind":"image"},"parameters":{"max-pixels":"1280"}},
            {"node":"question","name":"document","type":{"kind":"file"}}],
          "choice_lists":{}}"#,
    )
    .unwrap()
}

fn p(text: &str) -> AnswerPath {
    text.parse().unwrap()
}

/// The child: the relay on `data`, on a free loopback port it prints, until stdin closes.
fn child_serve(data: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let state = terrain_server::AppState::open(data, terrain_server::Settings::default()).unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    println!("{}", listener.local_addr().unwrap());
    std::io::stdout().flush().unwrap();
    let shutdown = async {
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await;
    };
    runtime.block_on(terrain_server::serve(listener, state, shutdown)).unwrap();
}

struct Relay {
    child: Child,
    addr: SocketAddr,
}

impl Relay {
    fn start(data: &Path) -> Relay {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("TERRAIN_MEDIA_BENCH_CHILD", "1")
            .arg(data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        Relay { addr: line.trim().parse().unwrap(), child }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn memory(&self) -> (f64, f64) {
        memory::resident(&self.child.id().to_string())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A data directory with the form published and `n` enumerators in one team.
fn seed(data: &Path, n: usize) {
    let backend = SqliteBackend::open(data).unwrap();
    let project = backend.create_project("bench").unwrap().id;
    backend.publish_form(project, &form()).unwrap();
    let team = backend.create_team(project, "bank").unwrap().id;
    let hash = terrain_services::password::hash(PASSWORD, &mut Default::default()).unwrap();
    for i in 0..n {
        let user = backend
            .create_user(&NewUser {
                username: format!("enq-{i:02}"),
                password_hash: hash.clone(),
                role: Role::Enumerator,
                display_name: None,
            })
            .unwrap();
        backend.add_team_member(team, user.id).unwrap();
    }
}

/// A phone of enumerator `i`, logged in.
struct Phone {
    store: Store,
    token: String,
}

fn phone(dir: &Path, url: &str, i: usize) -> Phone {
    let user = format!("enq-{i:02}");
    let store = Store::open(dir.join(format!("{user}.db")), Author::new(&user, "phone", Role::Enumerator)).unwrap();
    let session = Session::login(url, &user, PASSWORD, &format!("{user}-phone")).unwrap();
    let login = session.login_info().unwrap().clone();
    store.set_device_key(&login.device_key).unwrap();
    store.save_form(&form()).unwrap();
    Phone { store, token: login.token }
}

/// A camera's photo: 1280 × 960 with texture, as a downscaled phone photo is.
fn photo(dir: &Path, seed: u32) -> PathBuf {
    let mut rng = StdRng::seed_from_u64(u64::from(seed));
    let noise: Vec<u8> = (0..1280 * 960).map(|_| (rng.next_u32() % 24) as u8).collect();
    let image = RgbImage::from_fn(1280, 960, |x, y| {
        let n = noise[(y * 1280 + x) as usize];
        Rgb([(x / 5) as u8 + n, (y / 4) as u8 + n, (seed * 50) as u8 + n])
    });
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 70)
        .write_image(image.as_raw(), 1280, 960, image::ExtendedColorType::Rgb8)
        .unwrap();
    let path = dir.join(format!("photo-{seed}.jpg"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `n` new surveys on `phone`, each with a photo if `photos`; returns the photos' bytes.
fn surveys(phone: &Phone, dir: &Path, n: u32, photos: bool, seed: u32) -> u64 {
    let mut bytes = 0;
    for i in 0..n {
        let id = phone.store.create_survey("bank_watch", "1").unwrap();
        phone.store.set_answer(&id, &p("site"), Value::Integer(i64::from(i))).unwrap();
        if photos {
            let attached = phone.store.attach_media(&id, &p("photo"), &photo(dir, seed + i)).unwrap();
            bytes += attached.size;
        }
    }
    bytes
}

fn upload(phone: &Phone, url: &str) -> Result<sync::MediaReport, sync::SyncError> {
    let transport = HttpTransport::new(url, &phone.token).unwrap();
    sync::upload_media(&phone.store, &transport, &MediaOptions::default(), &|_| {}, &CancelToken::default())
}

fn answers_sync(phone: &Phone, url: &str) -> Duration {
    let transport = HttpTransport::new(url, &phone.token).unwrap();
    let started = Instant::now();
    let report = sync::sync(&phone.store, &transport, &SyncOptions::default(), &|_| {}, &CancelToken::default());
    let elapsed = started.elapsed();
    assert!(report.unwrap().refused.is_empty());
    elapsed
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if std::env::var_os("TERRAIN_MEDIA_BENCH_CHILD").is_some() {
        child_serve(Path::new(&args[1]));
        return;
    }
    let megabytes: u64 = std::env::var("TERRAIN_BENCH_MEDIA_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let devices = 20;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed(&data, devices + 2);
    let relay = Relay::start(&data);
    let url = relay.url();
    let mut rows = Vec::new();

    // Bytes on the wire: 10 photos, whole, then 10 more with three cuts.
    let edge = Link::throttled(384, 150);
    let one = phone(dir.path(), &url, devices);
    for cuts in [0usize, 3] {
        let total = surveys(&one, dir.path(), 10, true, 100 + cuts as u32 * 10);
        answers_sync(&one, &url);
        let proxy = Proxy::start(relay.addr, edge).unwrap();
        for _ in 0..cuts {
            proxy.cut_next_after((total / 4) as usize);
            assert!(upload(&one, proxy.url()).is_err(), "the cut link fails the upload");
        }
        let report = upload(&one, proxy.url()).unwrap();
        assert!(report.refused.is_empty() && one.store.pending_media().unwrap().is_empty());
        let sent = proxy.uploaded();
        let what = if cuts == 0 { "whole" } else { "the link cut three times" };
        rows.push(format!(
            "| bytes from the phone for 10 photos, {what} (EDGE: 384 kbit/s, 150 ms) | {sent} B | the photos: {total} B | **{:.3}×** (target ≤ {}) |",
            sent as f64 / total as f64,
            if cuts == 0 { "1.02" } else { "1.05" }
        ));
        eprintln!("{}", rows.last().unwrap());
    }

    // The answers' delay: a sync of 10 surveys with 10 photos waiting, against 10 without.
    let other = phone(dir.path(), &url, devices + 1);
    let proxy = Proxy::start(relay.addr, edge).unwrap();
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for run in 0..5u32 {
        surveys(&other, dir.path(), 10, true, 1000 + run * 10);
        with.push(answers_sync(&other, proxy.url()).as_secs_f64());
        surveys(&other, dir.path(), 10, false, 0);
        without.push(answers_sync(&other, proxy.url()).as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (with, without) = (median(&mut with), median(&mut without));
    rows.push(format!(
        "| a sync of 10 surveys' answers with their 10 photos waiting (EDGE), median of 5 | {:.0} ms | the same sync without photos: {:.0} ms | **{:.2}×** (target ≤ 1.1) |",
        with * 1000.0,
        without * 1000.0,
        with / without
    ));
    eprintln!("{}", rows.last().unwrap());

    // Memory: 20 devices upload a large file each, at once.
    let phones: Vec<Phone> = (0..devices).map(|i| phone(dir.path(), &url, i)).collect();
    let mut rng = StdRng::seed_from_u64(7);
    for (i, phone) in phones.iter().enumerate() {
        let mut bytes = vec![0u8; (megabytes << 20) as usize];
        rng.fill_bytes(&mut bytes);
        let file = dir.path().join(format!("clip-{i}.bin"));
        std::fs::write(&file, &bytes).unwrap();
        let id = phone.store.create_survey("bank_watch", "1").unwrap();
        phone.store.attach_media(&id, &p("document"), &file).unwrap();
        std::fs::remove_file(&file).unwrap();
        answers_sync(phone, &url);
    }
    let (_, before) = relay.memory();
    let started = Instant::now();
    std::thread::scope(|s| {
        for phone in &phones {
            let url = url.clone();
            s.spawn(move || {
                let report = upload(phone, &url).unwrap();
                assert!(report.refused.is_empty(), "{:?}", report.refused);
            });
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    let (peak, _) = relay.memory();
    rows.push(format!(
        "| relay's peak memory (VmHWM) while {devices} devices upload {megabytes} MB each at once | {peak:.0} MiB | resident before: {before:.0} MiB | {:.0} MiB more; target < 256 MB peak ({:.0} MB/s in all) |",
        peak - before,
        (devices as u64 * megabytes) as f64 / seconds
    ));
    eprintln!("{}", rows.last().unwrap());

    let mut table = String::from("| measure | result | baseline (same run) | ratio |\n|---|---|---|---|\n");
    for row in rows {
        table.push_str(&row);
        table.push('\n');
    }
    print!("{table}");
    if let Ok(path) = std::env::var("TERRAIN_BENCH_TABLE") {
        std::fs::write(path, &table).unwrap();
    }
}
