//! The `terrain` command line, run as a real process.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

const TERRAIN: &str = env!("CARGO_BIN_EXE_terrain");

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn form_check_summarises_the_mission_questionnaires() {
    let out = Command::new(TERRAIN)
        .args(["form", "check", &repo("forms/guinea_needs.xlsx"), &repo("forms/beguedo_slm.xlsx")])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("guinea_needs version 2026120801"), "{stdout}");
    assert!(stdout.contains("beguedo_slm version 2026110101"), "{stdout}");
    assert!(stdout.contains("English (en), Français (fr)"), "{stdout}");
}

#[test]
fn form_check_fails_and_explains_a_broken_form() {
    let out = Command::new(TERRAIN)
        .args([
            "form",
            "check",
            &repo("forms/guinea_needs.xlsx"),
            &repo("core/xlsform/tests/fixtures/pyxform-examples/unknown_question_type.xls"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!out.status.success());
    assert!(stdout.contains("survey, row"), "{stdout}");
}

#[test]
fn form_show_prints_the_form_as_json() {
    let out = Command::new(TERRAIN).args(["form", "show", &repo("forms/beguedo_slm.xlsx"), "--json"]).output().unwrap();
    assert!(out.status.success());
    let form: terrain_core::Form = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(form.id, "beguedo_slm");
}

#[test]
fn admin_create_user_refuses_a_missing_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(TERRAIN)
        .args(["admin", "create-user", "--data", dir.path().to_str().unwrap(), "--username", "root"])
        .env_remove("TERRAIN_PASSWORD")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));
}

#[test]
fn export_writes_a_csv_zip_and_prints_the_cursor() {
    use rand::SeedableRng;
    use terrain_services::backend::Backend;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let form = terrain_xlsform::import_path(std::path::Path::new(&repo("forms/guinea_needs.xlsx"))).unwrap();
    {
        let backend = terrain_services::backend::sqlite::SqliteBackend::open(&data).unwrap();
        let project = backend.create_project("pilot").unwrap();
        backend.publish_form(project.id, &form).unwrap();
        let phone = terrain_core::Store::open(
            dir.path().join("phone.db"),
            terrain_core::Author::new("enum", "phone", terrain_core::Role::Enumerator),
        )
        .unwrap();
        phone.save_form(&form).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let items: Vec<(String, Vec<u8>)> = (0..3)
            .map(|_| {
                let answers = terrain_demo::sample::answers(&form, &mut rng);
                let id = phone.create_survey_with(&form.id, &form.version, &answers).unwrap();
                let bytes = phone.document_bytes(&id).unwrap();
                (id, bytes)
            })
            .collect();
        for outcome in backend.push(&items, &mut |_| Ok(())).unwrap() {
            outcome.unwrap();
        }
    }
    let out_file = dir.path().join("guinea.zip");
    let cursor_file = dir.path().join("cursor");
    let out = Command::new(TERRAIN)
        .args(["export", "--data", data.to_str().unwrap(), "--form", &form.id, "--format", "csv"])
        .args(["--out", out_file.to_str().unwrap(), "--cursor-file", cursor_file.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.trim(), "cursor 3");
    assert_eq!(std::fs::read_to_string(&cursor_file).unwrap().trim(), "3");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out_file).unwrap()).unwrap();
    let main = zip.by_name(&format!("{}.csv", form.id)).unwrap();
    assert_eq!(csv::Reader::from_reader(main).records().count(), 3);
    // Nothing changed since: an empty export, the same cursor.
    let out = Command::new(TERRAIN)
        .args(["export", "--data", data.to_str().unwrap(), "--form", &form.id, "--format", "ndjson", "--since", "3"])
        .args(["--out", dir.path().join("none.ndjson").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "cursor 3");
    assert_eq!(std::fs::read(dir.path().join("none.ndjson")).unwrap().len(), 0);
    // An unknown form is an error that says what to do.
    let out = Command::new(TERRAIN)
        .args(["export", "--data", data.to_str().unwrap(), "--form", "nope", "--out"])
        .arg(dir.path().join("x.zip"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not published"));
    assert!(!dir.path().join("x.zip").exists());
}

/// A `terrain serve` child, killed when dropped.
struct Serving(std::process::Child);

impl Serving {
    /// Starts `command` (a `terrain serve`) with its stderr read on a thread, which sends
    /// what `pick` finds in each line: a silent server then fails the test instead of
    /// hanging it.
    fn start<T: Send + 'static>(
        command: &mut Command,
        pick: fn(&str) -> Option<T>,
    ) -> (Serving, std::sync::mpsc::Receiver<T>) {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;
        let mut server =
            Serving(command.env("RUST_LOG", "error").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap());
        let stderr = server.0.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(found) = pick(&line) {
                    let _ = tx.send(found);
                }
            }
        });
        (server, rx)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `terrain serve` on an empty data directory, with no password in the environment, prints
/// a one-time link that creates the first administrator in the browser: a wrong link is
/// refused, the right one works once, and the new administrator can log in.
#[test]
fn serve_on_an_empty_directory_prints_a_setup_link_that_works_once() {
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let (_server, rx) = Serving::start(
        Command::new(TERRAIN)
            .args(["serve", "--data", dir.path().to_str().unwrap(), "--addr", &format!("127.0.0.1:{port}")])
            .env_remove("TERRAIN_ADMIN_PASSWORD"),
        |line| line.find("http://").map(|at| line[at..].trim().to_owned()),
    );
    let link = rx.recv_timeout(Duration::from_secs(60)).expect("the server printed no setup link");
    let (page, secret) = link.split_once("?token=").unwrap();
    assert_eq!(page, format!("{base}/setup"));

    let browser = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let opened = browser.get(&link).send().unwrap();
    assert_eq!(opened.status(), 200);
    assert!(opened.text().unwrap().contains(secret), "the page carries the secret into its form");
    let password = "the first administrator's password";
    let create = |token: &str, username: &str| {
        browser
            .post(format!("{base}/setup"))
            .form(&[("token", token), ("username", username), ("password", password)])
            .send()
            .unwrap()
    };
    assert_eq!(create("not-the-secret", "mallory").status(), 403);
    let created = create(secret, "fatou");
    assert_eq!(created.status(), 303);
    assert_eq!(created.headers()["location"], "/login");
    terrain_core::sync::Session::login(&base, "fatou", password, "desk").unwrap();
    // The link is spent: nobody else becomes an administrator with it.
    assert!(create(secret, "mallory").status().is_client_error());
    assert!(terrain_core::sync::Session::login(&base, "mallory", password, "desk").is_err());
}

#[test]
fn admin_backup_verify_and_restore_through_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (data_arg, file) = (data.to_str().unwrap(), dir.path().join("nightly.age"));
    let terrain = |args: &[&str]| {
        Command::new(TERRAIN)
            .args(args)
            .env("TERRAIN_PASSWORD", "a long enough password")
            .env("TERRAIN_BACKUP_PASSPHRASE", "la nuit à Labé, 02:00")
            .output()
            .unwrap()
    };
    let ok = |out: std::process::Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(terrain(&["admin", "create-user", "--data", data_arg, "--username", "root"]));
    let wrote = ok(terrain(&["admin", "backup", "--data", data_arg, "--out", file.to_str().unwrap()]));
    assert!(wrote.contains("1 users"), "{wrote}");
    let checked = ok(terrain(&["admin", "verify-backup", file.to_str().unwrap()]));
    assert!(checked.contains("is whole"), "{checked}");

    // Never without a key: the command says how to give one.
    let out = Command::new(TERRAIN)
        .args(["admin", "verify-backup", file.to_str().unwrap()])
        .env_remove("TERRAIN_BACKUP_PASSPHRASE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TERRAIN_BACKUP_PASSPHRASE"));

    let restored = ok(terrain(&["admin", "restore", "--data", data_arg, "--from", file.to_str().unwrap()]));
    assert!(restored.contains("starts epoch") && restored.contains("replaced"), "{restored}");
}

/// The fingerprint a `terrain` command printed on `line`, if the line carries one.
fn fingerprint(line: &str) -> Option<terrain_core::sync::CertificatePin> {
    line.split_once("(devices pin this): ").and_then(|(_, pin)| pin.trim().parse().ok())
}

/// Without TLS, `terrain serve` refuses an address beyond loopback and says what to do,
/// before it opens anything.
#[test]
fn serve_refuses_plain_http_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(TERRAIN)
        .args(["serve", "--data", data.to_str().unwrap(), "--addr", "0.0.0.0:0"])
        .env_remove("TERRAIN_ADMIN_PASSWORD")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to serve plain HTTP") && stderr.contains("--tls-cert"), "{stderr}");
    assert!(!data.exists(), "nothing was created");
}

/// `terrain admin tls-certificate` makes a pair for a pilot (the key readable by its owner
/// only, never overwriting a file); `terrain serve` serves it and prints its fingerprint; a
/// renewed pair is served after SIGHUP, and devices pinned to it log in.
#[cfg(unix)]
#[test]
fn serve_over_tls_with_a_self_signed_certificate_reloaded_on_sighup() {
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let make = |cert: &str, key: &str| {
        let out = Command::new(TERRAIN)
            .args(["admin", "tls-certificate", "--cert", &path(cert), "--key", &path(key), "--name", "127.0.0.1"])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, _) = make("relay.crt", "relay.key");
    assert!(ok, "{stdout}");
    let first = stdout.lines().find_map(fingerprint).expect("a fingerprint");
    assert_eq!(std::fs::metadata(path("relay.key")).unwrap().permissions().mode() & 0o777, 0o600);
    let (ok, _, stderr) = make("relay.crt", "other.key");
    assert!(!ok && stderr.contains("never overwritten"), "{stderr}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("https://127.0.0.1:{port}");
    let password = "the administrator's password";
    let (server, rx) = Serving::start(
        Command::new(TERRAIN)
            .args(["serve", "--data", &path("data"), "--addr", &format!("127.0.0.1:{port}")])
            .args(["--tls-cert", &path("relay.crt"), "--tls-key", &path("relay.key")])
            .env("TERRAIN_ADMIN_PASSWORD", password),
        fingerprint,
    );
    assert_eq!(rx.recv_timeout(Duration::from_secs(60)).expect("the server printed no fingerprint"), first);
    let login = |pin| {
        let server = terrain_core::sync::ServerAddress::pinned(&base, pin).unwrap();
        let http = std::sync::Arc::new(terrain_core::sync::ReqwestClient::new().unwrap());
        terrain_core::sync::Session::login_to(http, &server, "admin", password, "desk")
    };
    login(first).unwrap();

    let (ok, stdout, _) = make("renewed.crt", "renewed.key");
    assert!(ok);
    let renewed = stdout.lines().find_map(fingerprint).unwrap();
    std::fs::rename(path("renewed.crt"), path("relay.crt")).unwrap();
    std::fs::rename(path("renewed.key"), path("relay.key")).unwrap();
    let hup = Command::new("kill").args(["-HUP", &server.0.id().to_string()]).status().unwrap();
    assert!(hup.success());
    assert_eq!(rx.recv_timeout(Duration::from_secs(60)).expect("no fingerprint after SIGHUP"), renewed);
    login(renewed).unwrap();
    assert!(login(first).is_err(), "the old certificate is no longer served");
}

/// `terrain admin devices` lists a user's phones while the server runs, and `terrain admin
/// revoke-device` revokes one at once: it may not log in again.
#[test]
fn admin_lists_and_revokes_a_device_while_the_server_runs() {
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let password = "the enumerator's password";
    let made = Command::new(TERRAIN)
        .args(["admin", "create-user", "--data", data, "--username", "awa", "--role", "enumerator"])
        .env("TERRAIN_PASSWORD", password)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    // Up when it answers a login (its logs are quiet).
    let (_server, _) = Serving::start(
        Command::new(TERRAIN).args(["serve", "--data", data, "--addr", &format!("127.0.0.1:{port}")]),
        |_| None::<()>,
    );
    let login = || terrain_core::sync::Session::login(&base, "awa", password, "awa-phone");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let session = loop {
        match login() {
            Ok(session) => break session,
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "the server never answered: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    let key = session.login_info().unwrap().device_key.clone();
    let admin = |args: &[&str]| Command::new(TERRAIN).arg("admin").args(args).args(["--data", data]).output().unwrap();

    let listed = admin(&["devices", "--user", "awa"]);
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success() && stdout.contains(&key) && stdout.contains("awa-phone"), "{stdout}");
    let revoked = admin(&["revoke-device", "--user", "awa", "--device", &key]);
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    assert!(matches!(login(), Err(terrain_core::sync::TransportError::DeviceRevoked(_))));
    let again = admin(&["revoke-device", "--user", "awa", "--device", &key]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already revoked"));
    let unknown = admin(&["devices", "--user", "nobody"]);
    assert!(!unknown.status.success() && String::from_utf8_lossy(&unknown.stderr).contains("no user"));
}

/// `terrain admin store-key` makes a data key, `rekey` encrypts a plain data directory under
/// it, and from then on every command and the server need it: from a file or the
/// environment, never the command line.
#[test]
fn admin_encrypts_a_data_directory_and_the_server_runs_on_it() {
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (data, key_file) = (data.to_str().unwrap(), dir.path().join("data.key"));
    let key_arg = key_file.to_str().unwrap();
    let password = "the administrator's password";
    let terrain = |args: &[&str]| {
        Command::new(TERRAIN)
            .args(args)
            .env("TERRAIN_PASSWORD", password)
            .env("TERRAIN_BACKUP_PASSPHRASE", "la nuit à Labé, 02:00")
            .env_remove("TERRAIN_DB_KEY")
            .output()
            .unwrap()
    };
    let ok = |out: std::process::Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(terrain(&["admin", "create-user", "--data", data, "--username", "fatou-camara"]));
    ok(terrain(&["admin", "store-key", "--out", key_arg]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(!terrain(&["admin", "store-key", "--out", key_arg]).status.success(), "a key is never overwritten");
    let said = ok(terrain(&["admin", "rekey", "--data", data, "--new-key-file", key_arg]));
    assert!(said.contains("server.db and surveys.db re-encrypted"), "{said}");
    for name in ["server.db", "surveys.db"] {
        let bytes = std::fs::read(std::path::Path::new(data).join(name)).unwrap();
        assert!(!bytes.windows(12).any(|w| w == b"fatou-camara") && !bytes.starts_with(b"SQLite format 3"));
    }

    // Without the key, a command says what to give; with it (file or environment) it works.
    let refused = terrain(&["admin", "devices", "--data", data, "--user", "fatou-camara"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("--db-key-file"), "{stderr}");
    ok(terrain(&["admin", "devices", "--data", data, "--db-key-file", key_arg, "--user", "fatou-camara"]));
    let hex = std::fs::read_to_string(&key_file).unwrap();
    let by_env = Command::new(TERRAIN)
        .args(["admin", "devices", "--data", data, "--user", "fatou-camara"])
        .env("TERRAIN_DB_KEY", hex.trim())
        .output()
        .unwrap();
    assert!(by_env.status.success(), "{}", String::from_utf8_lossy(&by_env.stderr));
    let backup = dir.path().join("nightly.age");
    ok(terrain(&["admin", "backup", "--data", data, "--db-key-file", key_arg, "--out", backup.to_str().unwrap()]));
    let checked = ok(terrain(&["admin", "verify-backup", backup.to_str().unwrap(), "--db-key-file", key_arg]));
    assert!(checked.contains("is whole"), "{checked}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let (_server, _) = Serving::start(
        Command::new(TERRAIN).args([
            "serve",
            "--data",
            data,
            "--db-key-file",
            key_arg,
            "--addr",
            &format!("127.0.0.1:{port}"),
        ]),
        |_| None::<()>,
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while let Err(e) = terrain_core::sync::Session::login(&base, "fatou-camara", password, "desk") {
        assert!(std::time::Instant::now() < deadline, "the server on the encrypted directory never answered: {e}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
