//! The dashboard in a real browser: headless Chromium driven through chromedriver
//! (WebDriver) against the real server on loopback. A supervisor logs in, filters the list,
//! opens a survey, corrects an answer, sends another back with a comment and approves a
//! third; then the enumerator's real device store syncs, receives the correction and the
//! comment, fixes the answer, and the fix shows on the page.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`;
//! `.ci/run` installs them). With `TERRAIN_SCREENSHOTS=1` the main pages are saved under
//! `docs/screenshots/` for the README.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Device, PASSWORD, TestServer};
use fantoccini::{Client, ClientBuilder, Locator};
use rand::SeedableRng;
use rand::rngs::StdRng;
use terrain_core::survey::ReviewStatus;
use terrain_core::{AnswerPath, GeoPoint, Role, Value};
use terrain_xlsform as xlsform;

fn p(s: &str) -> AnswerPath {
    s.parse().unwrap()
}

/// chromedriver on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run chromedriver ({e}): install chromium and chromium-driver (apt-get install chromium chromium-driver)")
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--lang=en-GB", "--no-first-run"],
        }),
    );
    // chromedriver is on loopback: plain HTTP, no TLS stack needed.
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector).capabilities(caps).connect(&driver.url).await.unwrap()
}

/// The text of the element matching `css`, once the page that has it is loaded (a click
/// that submits a form returns before the next page is there).
async fn text(c: &Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = match c.find(Locator::Css(css)).await {
            Ok(element) => element.text().await,
            Err(e) => Err(e),
        };
        match found {
            Ok(text) => return text,
            Err(e) if Instant::now() > deadline => panic!("{css}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Waits until the element matching `css` reads `expected`.
async fn wait_text(c: &Client, css: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = text(c, css).await;
        if now == expected {
            return;
        }
        assert!(Instant::now() < deadline, "{css}: expected `{expected}`, found `{now}`");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the page is at `path`.
async fn wait_path(c: &Client, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.current_url().await.unwrap().path() != path {
        assert!(Instant::now() < deadline, "never reached {path}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Logs `user` in on the log-in page the browser is on, and waits for the survey list.
async fn log_in(c: &Client, user: &str) {
    c.find(Locator::Id("username")).await.unwrap().send_keys(user).await.unwrap();
    c.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    c.find(Locator::Id("login")).await.unwrap().click().await.unwrap();
    wait_path(c, "/surveys").await;
}

/// Where screenshots go: the docs when asked for, else a scratch directory.
fn shots() -> PathBuf {
    if std::env::var_os("TERRAIN_SCREENSHOTS").is_some() {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots")
    } else {
        std::env::temp_dir().join(format!("terrain-shots-{}", std::process::id()))
    }
}

async fn shoot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let dir = shots();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[test]
fn a_supervisor_reviews_in_the_browser_and_the_phone_gets_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("moussa", Role::Supervisor, Some(0));
    let awa = server.user("awa", Role::Enumerator, Some(0)).id;
    server.user("binta", Role::Enumerator, Some(1));
    let backend = server.backend();
    let beguedo =
        xlsform::import_path(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../forms/beguedo_slm.xlsx")))
            .unwrap();
    backend.publish_form(server.project, &beguedo).unwrap();

    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone-awa");
    phone.fetch_forms();
    let mut ids = Vec::new();
    for (i, village) in ["Kindia", "Friguiagbé", "Mambia", "Samaya"].iter().enumerate() {
        let id = phone.store.create_survey("household", "2026110101").unwrap();
        phone.store.set_answer(&id, &p("village"), Value::Text((*village).into())).unwrap();
        phone.store.set_answer(&id, &p("hh_size"), Value::Integer(3 + i as i64)).unwrap();
        // Homesteads along the Nakambé near Béguédo, each with its field's outline.
        let (lat, lon) = (11.768 + i as f64 * 0.0041, -0.748 + i as f64 * 0.0037);
        let at = |dlat: f64, dlon: f64| GeoPoint { lat: lat + dlat, lon: lon + dlon, altitude: 270.0, accuracy: 4.0 };
        phone.store.set_answer(&id, &p("gps"), Value::GeoPoint(at(0.0, 0.0))).unwrap();
        let outline =
            vec![at(0.0004, 0.0003), at(0.0019, 0.0006), at(0.0021, 0.0021), at(0.0006, 0.0024), at(0.0004, 0.0003)];
        phone.store.set_answer(&id, &p("plot"), Value::GeoShape(outline)).unwrap();
        ids.push(id);
    }
    // Plot surveys with outlines and a point, for the map and the screenshots.
    let mut rng = StdRng::seed_from_u64(6);
    for _ in 0..6 {
        let answers = terrain_demo::sample::answers(&beguedo, &mut rng);
        phone.store.create_survey_with(&beguedo.id, &beguedo.version, &answers).unwrap();
    }
    phone.sync();
    let other = Device::login(&server.url, dir.path(), "binta", Role::Enumerator, "phone-binta");
    other.fetch_forms();
    let hidden = other.store.create_survey("household", "2026110101").unwrap();
    other.sync();
    let (corrected, sent_back, approved) = (ids[0].clone(), ids[1].clone(), ids[2].clone());

    let driver = Driver::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = server.url.clone();
    let c = rt.block_on(async {
        let c = browser(&driver).await;
        // Pages need a session.
        c.goto(&format!("{url}/surveys")).await.unwrap();
        assert!(c.current_url().await.unwrap().path().ends_with("/login"));
        c.goto(&format!("{url}/lang/en")).await.unwrap();
        c.find(Locator::Id("username")).await.unwrap().send_keys("moussa").await.unwrap();
        c.find(Locator::Id("password")).await.unwrap().send_keys("wrong password!").await.unwrap();
        c.find(Locator::Id("login")).await.unwrap().click().await.unwrap();
        assert!(text(&c, ".error").await.contains("wrong user name or password"));
        // 1. Log in.
        log_in(&c, "moussa").await;
        // awa's 10 surveys; binta's team is not moussa's.
        wait_text(&c, "#total strong", "10").await;
        shoot(&c, "surveys").await;

        // 2. Filter the list: the household form only.
        c.find(Locator::Css("select[name=form] option[value=household]")).await.unwrap().click().await.unwrap();
        c.find(Locator::Id("apply-filters")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#total strong", "4").await;
        let rows = c.find_all(Locator::Css("#surveys tbody tr")).await.unwrap();
        assert_eq!(rows.len(), 4);
        assert!(c.find(Locator::Css(&format!("a[href='/surveys/{hidden}']"))).await.is_err());

        // 3. Open a survey; 4. correct an answer.
        c.find(Locator::Css(&format!("a[href='/surveys/{corrected}']"))).await.unwrap().click().await.unwrap();
        assert_eq!(text(&c, "div[data-path=village] .value").await, "Kindia");
        c.find(Locator::Css("div[data-path=village] details summary")).await.unwrap().click().await.unwrap();
        let input = c.find(Locator::Css("div[data-path=village] input[name=other]")).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys("Kindia-Centre").await.unwrap();
        c.find(Locator::Css("div[data-path=village] form.correct button")).await.unwrap().click().await.unwrap();
        wait_text(&c, "div[data-path=village] .value", "Kindia-Centre").await;
        c.find(Locator::Css("div[data-path=village] details summary")).await.unwrap().click().await.unwrap();
        let history = text(&c, "div[data-path=village] ol.history").await;
        assert!(history.contains("awa") && history.contains("moussa"), "{history}");
        shoot(&c, "survey").await;

        // 5. Send another back with a comment.
        c.goto(&format!("{url}/surveys/{sent_back}")).await.unwrap();
        c.find(Locator::Id("comment"))
            .await
            .unwrap()
            .send_keys("Only 4 people? Count the children too.")
            .await
            .unwrap();
        c.find(Locator::Css("#question option[value=hh_size]")).await.unwrap().click().await.unwrap();
        c.find(Locator::Id("send-back")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#review-status", "sent back").await;
        assert!(text(&c, "#comments").await.contains("Count the children too."));

        // 6. Approve a third.
        c.goto(&format!("{url}/surveys/{approved}")).await.unwrap();
        c.find(Locator::Id("approve")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#review-status", "approved").await;
        c
    });

    // The enumerator's phone syncs: the correction and the comment arrive; she fixes it.
    phone.sync();
    let survey = phone.store.survey(&corrected).unwrap();
    assert_eq!(survey.answers.value("village"), Some(&Value::Text("Kindia-Centre".into())));
    let review = phone.store.review(&sent_back).unwrap();
    assert_eq!(review.status, ReviewStatus::SentBack);
    assert_eq!(review.comments[0].text, "Only 4 people? Count the children too.");
    assert_eq!(review.comments[0].question.as_deref(), Some("hh_size"));
    phone.store.set_answer(&sent_back, &p("hh_size"), Value::Integer(7)).unwrap();
    phone.sync();

    rt.block_on(async {
        c.goto(&format!("{url}/surveys/{sent_back}")).await.unwrap();
        assert_eq!(text(&c, "div[data-path=hh_size] .value").await, "7", "the enumerator's fix shows");
        c.find(Locator::Css("div[data-path=hh_size] details summary")).await.unwrap().click().await.unwrap();
        assert!(text(&c, "div[data-path=hh_size] ol.history").await.contains('7'));

        // The other pages render, in both languages, and stay light.
        c.goto(&format!("{url}/progress")).await.unwrap();
        assert!(c.find(Locator::Css("svg.grid rect.cell")).await.is_ok());
        shoot(&c, "progress").await;
        c.goto(&format!("{url}/map?form=household")).await.unwrap();
        let points = c.find_all(Locator::Css("svg.map a.feature")).await.unwrap();
        assert_eq!(points.len(), 4, "a feature per located survey");
        assert_eq!(c.find_all(Locator::Css("svg.map polygon.plot")).await.unwrap().len(), 4, "each plot's outline");
        assert!(text(&c, "svg.map g.scale text").await.ends_with('m'));
        shoot(&c, "map").await;
        // The last drawn point is on top of any it overlaps.
        let dots = c.find_all(Locator::Css("svg.map circle.pt")).await.unwrap();
        dots.last().unwrap().click().await.unwrap();
        assert!(c.current_url().await.unwrap().path().starts_with("/surveys/"), "a point opens its survey");
        c.goto(&format!("{url}/lang/fr")).await.unwrap();
        c.goto(&format!("{url}/progress")).await.unwrap();
        wait_text(&c, "main h1", "Avancement").await;
        c.goto(&format!("{url}/admin")).await.unwrap();
        assert!(text(&c, "main").await.contains("réservé") || text(&c, "main").await.contains("only administrators"));
        // Log out: the session is gone.
        c.goto(&format!("{url}/surveys")).await.unwrap();
        c.find(Locator::Css("header form button")).await.unwrap().click().await.unwrap();
        wait_path(&c, "/login").await;
        c.goto(&format!("{url}/surveys")).await.unwrap();
        assert!(c.current_url().await.unwrap().path().ends_with("/login"));

        // The admin's page.
        c.goto(&format!("{url}/lang/en")).await.unwrap();
        log_in(&c, "admin").await;
        c.goto(&format!("{url}/admin")).await.unwrap();
        c.find(Locator::Css("#create-user input[name=username]")).await.unwrap().send_keys("salif").await.unwrap();
        c.find(Locator::Css("#create-user input[name=password]"))
            .await
            .unwrap()
            .send_keys("a long enough password")
            .await
            .unwrap();
        c.find(Locator::Css("#create-user button")).await.unwrap().click().await.unwrap();
        // The click returns before the next page is there: wait for it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !text(&c, "#users").await.contains("salif") {
            assert!(Instant::now() < deadline, "the new user is never listed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shoot(&c, "admin").await;

        // Enrolling awa's new phone: the devices page draws the QR code, inline, under the
        // page's Content-Security-Policy.
        c.find(Locator::Css(&format!("#users a[href='/users/{awa}/devices']"))).await.unwrap().click().await.unwrap();
        wait_path(&c, &format!("/users/{awa}/devices")).await;
        c.find(Locator::Css("#enrol input[name=label]")).await.unwrap().send_keys("nouveau téléphone").await.unwrap();
        c.find(Locator::Css("#enrol button")).await.unwrap().click().await.unwrap();
        wait_until(&c, "document.querySelector('#enrolment-code svg') !== null").await;
        let size = c
            .execute("const r = document.querySelector('#enrolment-code svg').getBoundingClientRect(); return [r.width, r.height];", vec![])
            .await
            .unwrap();
        let size: Vec<f64> = serde_json::from_value(size).unwrap();
        assert!(size.iter().all(|&side| side >= 200.0), "a QR code a phone can scan from the screen: {size:?}");
        assert!(text(&c, "#enrolment-payload").await.contains("/enrol#user=awa&code="));
        shoot(&c, "enrol").await;
        c.close().await.unwrap();
    });
    let approved_now = server.backend().survey_summary(&approved).unwrap().unwrap();
    assert_eq!(approved_now.review_status.to_stored(), Some("approved"));
}

/// Waits until `script` (a JavaScript expression) is true on the page.
async fn wait_until(c: &Client, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = c.execute(&format!("return !!({script});"), vec![]).await.unwrap();
        if value == serde_json::Value::Bool(true) {
            return;
        }
        assert!(Instant::now() < deadline, "never true: {script}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A supervisor previews the Guinea form in the browser, enters a survey from the same
/// page: a constraint message shows, refusing consent hides the household section, the
/// survey finalizes and is in the list, with an audit trail and its author.
#[test]
fn a_supervisor_previews_a_mission_form_and_enters_a_survey_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("moussa", Role::Supervisor, Some(0));
    let guinea =
        xlsform::import_path(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../forms/guinea_needs.xlsx")))
            .unwrap();
    server.backend().publish_form(server.project, &guinea).unwrap();

    let driver = Driver::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = server.url.clone();
    let entered = rt.block_on(async {
        let c = browser(&driver).await;
        c.goto(&format!("{url}/lang/en")).await.unwrap();
        log_in(&c, "moussa").await;

        // The forms page lists the version with its preview.
        c.goto(&format!("{url}/forms")).await.unwrap();
        c.find(Locator::LinkText("Preview")).await.unwrap().click().await.unwrap();
        wait_path(&c, "/forms/guinea_needs/2026120801/preview").await;
        // Live evaluation: consent is required until answered; labels tied to inputs; the
        // note for a refused consent is not shown.
        wait_until(&c, "document.getElementById('f-consent-msg').textContent.length > 0").await;
        wait_until(&c, "document.querySelector('[data-path=no_consent_note]').offsetParent === null").await;
        let label = c.find(Locator::Css("label[for=f-consent]")).await.unwrap().text().await.unwrap();
        assert!(label.contains("required"), "{label}");
        // The language switch relabels the form and translates messages.
        c.find(Locator::Css("#fill-lang option[value='Français (fr)']")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#f-consent-msg", "Cette question est obligatoire.").await;
        c.find(Locator::Css("#fill-lang option[value='English (en)']")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#f-consent-msg", "This question is required.").await;
        shoot(&c, "preview").await;
        // Repeats: an instance added by keyboard-reachable button, its questions evaluated.
        c.find(Locator::Css("#f-consent option[value=yes]")).await.unwrap().click().await.unwrap();
        wait_until(&c, "document.querySelector('[data-path=member] > button.add').offsetParent !== null").await;
        c.find(Locator::Css("[data-path=member] > button.add")).await.unwrap().click().await.unwrap();
        c.find(Locator::Id("f-member_0__member_name")).await.unwrap().send_keys("Awa").await.unwrap();
        wait_until(&c, "document.getElementById('fill-status').textContent.includes('member[0]/member_age')").await;
        c.find(Locator::Css("[data-path='member'] section.instance button.link")).await.unwrap().click().await.unwrap();
        wait_until(&c, "document.getElementById('f-member_0__member_name') === null").await;

        // "New survey" from the same page.
        c.find(Locator::LinkText("New survey")).await.unwrap().click().await.unwrap();
        wait_path(&c, "/forms/guinea_needs/2026120801/new").await;
        c.find(Locator::Id("f-enumerator_name")).await.unwrap().send_keys("Moussa Camara").await.unwrap();
        c.find(Locator::Css("#f-consent option[value=yes]")).await.unwrap().click().await.unwrap();
        wait_until(&c, "document.querySelector('[data-path=household]').offsetParent !== null").await;
        wait_until(&c, "document.querySelector('[data-path=no_consent_note]').offsetParent === null").await;
        // A constraint fires as the value is typed.
        c.find(Locator::Id("f-hh_number")).await.unwrap().send_keys("1000").await.unwrap();
        wait_text(&c, "#f-hh_number-msg", "Enter a number between 1 and 999.").await;
        wait_until(&c, "document.getElementById('f-hh_number').getAttribute('aria-invalid') === 'true'").await;
        // Not finalizable: the status lists what blocks, and a refused finalize keeps a draft.
        c.find(Locator::Id("fill-finalize")).await.unwrap().click().await.unwrap();
        wait_until(&c, "document.getElementById('fill-status').textContent.includes('Saved as a draft')").await;
        wait_until(&c, "location.pathname.endsWith('/edit')").await;
        // Refusing consent hides the household section: now it can be finalized.
        c.find(Locator::Css("#f-consent option[value=no]")).await.unwrap().click().await.unwrap();
        wait_until(&c, "document.querySelector('[data-path=household]').offsetParent === null").await;
        wait_until(&c, "document.querySelector('[data-path=no_consent_note]').offsetParent !== null").await;
        wait_text(&c, "#fill-status", "Ready to finalize.").await;
        c.find(Locator::Id("fill-finalize")).await.unwrap().click().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let survey = loop {
            let path = c.current_url().await.unwrap().path().to_owned();
            if let Some(id) = path.strip_prefix("/surveys/").filter(|id| !id.contains('/')) {
                break id.to_owned();
            }
            assert!(Instant::now() < deadline, "finalizing never opened the survey ({path})");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // It is in the list like any other.
        c.goto(&format!("{url}/surveys")).await.unwrap();
        assert!(c.find(Locator::Css(&format!("a[href='/surveys/{survey}']"))).await.is_ok(), "listed");
        // On a phone-sized screen the page still works.
        c.set_window_size(390, 844).await.unwrap();
        c.goto(&format!("{url}/forms/guinea_needs/2026120801/preview")).await.unwrap();
        wait_until(&c, "document.getElementById('f-consent') !== null").await;
        let width = c.execute("return document.documentElement.scrollWidth;", vec![]).await.unwrap();
        assert!(width.as_u64().unwrap() <= 420, "no horizontal scrolling: {width}");
        c.close().await.unwrap();
        survey
    });
    let backend = server.backend();
    let summary = backend.survey_summary(&entered).unwrap().unwrap();
    assert_eq!(summary.created_by, "moussa");
    assert_eq!(summary.status.as_str(), "finalized");
    let survey = backend.survey(&entered).unwrap();
    assert_eq!(survey.answers.value("consent"), Some(&Value::Choice("no".into())));
    // As on a phone, an answer in a section hidden since is kept (exports leave it out).
    assert_eq!(survey.answers.value("hh_number"), Some(&Value::Integer(1000)));
    let actions: Vec<String> = backend.audit_log(50).unwrap().into_iter().map(|e| e.action).collect();
    assert!(
        actions.iter().any(|a| a == "survey.enter") && actions.iter().any(|a| a == "survey.finalize"),
        "{actions:?}"
    );
}

/// A supervisor sees an erosion photo in the survey page (a thumbnail made on the server,
/// linking to the photo), and in the list which surveys' files are still on the phone.
#[test]
fn a_supervisor_sees_the_photos_the_phone_sent_and_those_still_on_it() {
    use image::{ImageEncoder, Rgb, RgbImage};
    use terrain_core::sync::{self, CancelToken, HttpTransport, MediaOptions};

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&dir.path().join("server"));
    server.user("moussa", Role::Supervisor, Some(0));
    server.user("awa", Role::Enumerator, Some(0));
    let beguedo =
        xlsform::import_path(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../forms/beguedo_slm.xlsx")))
            .unwrap();
    server.backend().publish_form(server.project, &beguedo).unwrap();
    let phone = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone-awa");
    phone.fetch_forms();
    let mut surveys = Vec::new();
    for shade in [40u8, 200] {
        let id = phone.store.create_survey(&beguedo.id, &beguedo.version).unwrap();
        phone.store.set_answer(&id, &p("distance_river_m"), Value::Integer(25)).unwrap();
        phone.store.set_answer(&id, &p("bank_erosion"), Value::Choice("yes".into())).unwrap();
        let image = RgbImage::from_fn(1600, 1200, |x, y| Rgb([(x / 9) as u8, (y / 7) as u8, shade]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
            .write_image(image.as_raw(), 1600, 1200, image::ExtendedColorType::Rgb8)
            .unwrap();
        let file = dir.path().join(format!("bank-{shade}.jpg"));
        std::fs::write(&file, jpeg).unwrap();
        phone.store.attach_media(&id, &p("erosion_photo"), &file).unwrap();
        surveys.push(id);
    }
    phone.sync();
    // Only the first photo goes up before the supervisor looks.
    let sent = phone.store.survey(&surveys[0]).unwrap().answers.media()[0].digest;
    let kept = phone.store.survey(&surveys[1]).unwrap().answers.media()[0].digest;
    phone.store.mark_media_uploaded(&kept).unwrap();
    let transport = HttpTransport::new(&server.url, &phone.token).unwrap();
    sync::upload_media(&phone.store, &transport, &MediaOptions::default(), &|_| {}, &CancelToken::default()).unwrap();

    let driver = Driver::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = server.url.clone();
    rt.block_on(async {
        let c = browser(&driver).await;
        c.goto(&format!("{url}/lang/en")).await.unwrap();
        c.goto(&format!("{url}/login")).await.unwrap();
        log_in(&c, "moussa").await;
        wait_text(&c, "#total strong", "2").await;
        let cell = |id: &str| format!("document.querySelector('a[href=\"/surveys/{id}\"]').closest('tr').querySelector('td.media').textContent");
        wait_until(&c, &format!("{}.includes('📷 1')", cell(&surveys[0]))).await;
        wait_until(&c, &format!("{}.includes('⏳ 0/1')", cell(&surveys[1]))).await;
        // The list shows the photo it has, small; the survey whose photo is not here has none.
        let thumbnail = |id: &str| format!("document.querySelector('a[href=\"/surveys/{id}\"]').closest('tr').querySelector('img.list-thumbnail')");
        wait_until(&c, &format!("{}.getAttribute('src') == '/media/{sent}/thumbnail'", thumbnail(&surveys[0]))).await;
        wait_until(&c, &format!("{} === null", thumbnail(&surveys[1]))).await;

        // The photo sent: its thumbnail, made on the server, within 320 pixels.
        c.goto(&format!("{url}/surveys/{}", surveys[0])).await.unwrap();
        // Thumbnails load lazily: bring it into view, as the supervisor scrolls to it.
        wait_until(&c, "document.querySelector('img.thumbnail') !== null").await;
        c.execute("document.querySelector('img.thumbnail').scrollIntoView();", vec![]).await.unwrap();
        wait_until(&c, "document.querySelector('img.thumbnail') && document.querySelector('img.thumbnail').complete && document.querySelector('img.thumbnail').naturalWidth > 0").await;
        let width = c.execute("return document.querySelector('img.thumbnail').naturalWidth;", vec![]).await.unwrap();
        assert_eq!(width, serde_json::json!(320));
        let link = c.execute("return document.querySelector('a.photo').getAttribute('href');", vec![]).await.unwrap();
        assert_eq!(link, serde_json::json!(format!("/media/{sent}")));
        shoot(&c, "survey-photo").await;
        // The photo itself opens in the browser, as the image it is.
        c.goto(&format!("{url}/media/{sent}")).await.unwrap();
        wait_until(&c, "document.images.length == 1 && document.images[0].naturalWidth == 1280").await;

        // The photo not sent yet: said so, no broken image.
        c.goto(&format!("{url}/surveys/{}", surveys[1])).await.unwrap();
        wait_until(&c, "document.querySelector('.flag.waiting') !== null").await;
        assert!(c.find(Locator::Css("img.thumbnail")).await.is_err());
        c.close().await.unwrap();
    });
}

/// Two phones of a Béguédo team register a plot together and record two yields for it
/// concurrently; the supervisor finds the plot among the list's conflicts in the browser and
/// on the list's map, keeps one yield, and both phones receive the settled value; she
/// assigns the plot to one enumerator; the registration's page links to the plot it made.
#[test]
fn a_supervisor_settles_an_entity_conflict_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("moussa", Role::Supervisor, Some(0));
    server.user("awa", Role::Enumerator, Some(0));
    server.user("issa", Role::Enumerator, Some(0));
    let form = |file: &str| {
        xlsform::import_path(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../forms").join(file)).unwrap()
    };
    server.backend().publish_form(server.project, &form("beguedo_plot_registration.xlsx")).unwrap();
    server.backend().publish_form(server.project, &form("beguedo_plot_monitoring.xlsx")).unwrap();
    let awa = Device::login(&server.url, dir.path(), "awa", Role::Enumerator, "phone-awa");
    let issa = Device::login(&server.url, dir.path(), "issa", Role::Enumerator, "phone-issa");
    for phone in [&awa, &issa] {
        phone.fetch_forms();
    }
    let registration = awa.store.create_survey("beguedo_plot_registration", "2026120701").unwrap();
    let point = GeoPoint { lat: 11.78, lon: -0.73, altitude: 260.0, accuracy: 4.0 };
    for (question, value) in [
        ("secteur", Value::Choice("secteur_3".into())),
        ("plot_code", Value::Text("BGD-0412".into())),
        ("owner_name", Value::Text("Salif Ouédraogo".into())),
        ("household_size", Value::Integer(9)),
        ("tenure", Value::Choice("owned".into())),
        ("area_ha", Value::Decimal(1.5)),
        ("location", Value::GeoPoint(point)),
        ("techniques", Value::Choices(vec!["zai".into()])),
        ("on_river", Value::Choice("no".into())),
    ] {
        awa.store.set_answer(&registration, &p(question), value).unwrap();
    }
    awa.store.finalize(&registration).unwrap();
    awa.sync();
    issa.sync();
    let plot = issa
        .store
        .entities("plots", &terrain_core::store::EntityQuery { limit: 1, ..Default::default() })
        .unwrap()
        .pop()
        .expect("issa's phone has the plot");
    for (phone, kg) in [(&awa, 420.0), (&issa, 380.0)] {
        let visit = phone.store.start_follow_up("beguedo_plot_monitoring", "2026120701", &plot.id).unwrap();
        for (question, value) in [
            ("season", Value::Choice("rainy_2026".into())),
            ("secteur", Value::Choice("secteur_3".into())),
            ("crop", Value::Choice("sorghum".into())),
            ("yield_kg", Value::Decimal(kg)),
            ("techniques", Value::Choices(vec!["half_moons".into()])),
        ] {
            phone.store.set_answer(&visit, &p(question), value).unwrap();
        }
        phone.store.finalize(&visit).unwrap();
    }
    awa.sync();
    issa.sync();

    let driver = Driver::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = server.url.clone();
    rt.block_on(async {
        let c = browser(&driver).await;
        c.goto(&format!("{url}/lang/en")).await.unwrap();
        log_in(&c, "moussa").await;
        c.goto(&format!("{url}/entities?list=plots&conflicted=on")).await.unwrap();
        assert_eq!(text(&c, "table.list tbody tr td a").await, plot.label);
        shoot(&c, "entities").await;
        // The list's map marks the plot in conflict, and leads to it.
        c.find(Locator::LinkText("Show on the map")).await.unwrap().click().await.unwrap();
        wait_path(&c, "/map").await;
        let mark = format!("svg a[href='/entities/plots/{}'] circle.pt.entity.conflict", plot.id);
        c.find(Locator::Css(&mark)).await.expect("the plot is on the map, marked as in conflict");
        assert!(text(&c, "#map-summary").await.contains("Entities (plots): 1"));
        shoot(&c, "entities-map").await;
        c.find(Locator::Css(&mark)).await.unwrap().click().await.unwrap();
        wait_path(&c, &format!("/entities/plots/{}", plot.id)).await;
        assert!(text(&c, "div.conflict").await.contains("yield_kg"));
        shoot(&c, "entity").await;
        // Keep 420: the form whose value is 420.
        let keep = c.find(Locator::Css("div.conflict form:has(input[name=value][value='420']) button")).await.unwrap();
        keep.click().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.find(Locator::Css("div.conflict")).await.is_ok() {
            assert!(Instant::now() < deadline, "the conflict is never settled");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The plot is Issa's to revisit: of the team's enumerators, only he will see it.
        assert!(text(&c, "p.assignee").await.contains("nobody in particular"));
        let choice = c.find(Locator::Css("form.assign select option[value='issa']")).await.unwrap();
        choice.click().await.unwrap();
        c.find(Locator::Css("form.assign button")).await.unwrap().click().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !text(&c, "p.assignee").await.contains("issa") {
            assert!(Instant::now() < deadline, "the plot is never assigned");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The registration that made the plot leads back to it.
        let registration_link = format!("a[href='/surveys/{registration}']");
        c.find(Locator::Css(&registration_link)).await.unwrap().click().await.unwrap();
        wait_path(&c, &format!("/surveys/{registration}")).await;
        assert!(text(&c, "dd.entity").await.contains("(created)"));
        let back = format!("dd.entity a[href='/entities/plots/{}']", plot.id);
        c.find(Locator::Css(&back)).await.expect("the survey page links to its plot");
        c.close().await.unwrap();
    });
    for phone in [&awa, &issa] {
        phone.sync();
        let settled = phone.store.entity("plots", &plot.id).unwrap().unwrap();
        assert_eq!((settled.properties["yield_kg"].as_str(), settled.has_conflicts), ("420", false));
    }
    let (_, place) = server.backend().entity_heads("plots", &plot.id).unwrap().unwrap();
    let issa_id = server.backend().user_by_name("issa").unwrap().unwrap().0.id;
    assert_eq!(place.assignee, Some(issa_id));
}
