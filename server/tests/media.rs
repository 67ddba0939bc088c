//! The media routes against hostile and mistaken uploads: a file no survey references, a
//! wrong hash, a file over the limit, an offset the server does not hold, bytes past the
//! declared size, the wrong content type. Each gets its own answer, and nothing partial
//! is ever served.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Device, TestServer};
use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, Rgb, RgbImage};
use terrain_core::media::{Digest, MediaRef};
use terrain_core::{AnswerPath, Form, Role, Value};

fn beguedo() -> Form {
    Form::from_json(include_str!("../../core/tests/fixtures/beguedo_slm.json")).unwrap()
}

fn p(text: &str) -> AnswerPath {
    text.parse().unwrap()
}

/// A server with the Béguédo form, and an enumerator's phone that attached a photo to a
/// survey and synced its answers (not the photo).
fn field(dir: &std::path::Path, settings: terrain_server::Settings) -> (TestServer, Device, MediaRef, Vec<u8>) {
    let server = TestServer::start_with(&dir.join("server"), settings);
    server.backend().publish_form(server.project, &beguedo()).unwrap();
    server.user("awa", Role::Enumerator, Some(0));
    let phone = Device::login(&server.url, dir, "awa", Role::Enumerator, "phone");
    phone.store.save_form(&beguedo()).unwrap();
    let id = phone.store.create_survey("beguedo_slm", "2026110101").unwrap();
    phone.store.set_answer(&id, &p("distance_river_m"), Value::Integer(20)).unwrap();
    phone.store.set_answer(&id, &p("bank_erosion"), Value::Choice("yes".into())).unwrap();
    let image = RgbImage::from_fn(300, 200, |x, y| Rgb([x as u8, y as u8, 7]));
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, 85)
        .write_image(image.as_raw(), 300, 200, image::ExtendedColorType::Rgb8)
        .unwrap();
    let file = dir.join("bank.jpg");
    std::fs::write(&file, &bytes).unwrap();
    let attached = phone.store.attach_media(&id, &p("erosion_photo"), &file).unwrap();
    phone.sync();
    (server, phone, attached, bytes)
}

struct Answer {
    status: u16,
    offset: Option<u64>,
    body: String,
}

fn send(
    server: &TestServer,
    token: &str,
    method: &str,
    digest: &Digest,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Answer {
    let client = reqwest::blocking::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client.request(method, format!("{}/api/v1/media/{digest}", server.url)).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.body(body).send().unwrap();
    let status = response.status().as_u16();
    let offset = response.headers().get("upload-offset").map(|v| v.to_str().unwrap().parse().unwrap());
    Answer { status, offset, body: response.text().unwrap() }
}

fn patch(server: &TestServer, token: &str, digest: &Digest, size: u64, offset: u64, bytes: &[u8]) -> Answer {
    let headers = [
        ("content-type", "application/offset+octet-stream".to_owned()),
        ("upload-offset", offset.to_string()),
        ("upload-length", size.to_string()),
    ];
    send(server, token, "PATCH", digest, &headers, bytes.to_vec())
}

fn head(server: &TestServer, token: &str, digest: &Digest, size: u64) -> Answer {
    send(server, token, "HEAD", digest, &[("upload-length", size.to_string())], Vec::new())
}

#[test]
fn an_upload_resumes_at_the_server_s_offset_and_completes_once() {
    let dir = tempfile::tempdir().unwrap();
    let (server, phone, photo, bytes) = field(dir.path(), TestServer::settings());
    let size = photo.size;
    assert_eq!(head(&server, &phone.token, &photo.digest, size).offset, Some(0));
    let first = patch(&server, &phone.token, &photo.digest, size, 0, &bytes[..1000]);
    assert_eq!((first.status, first.offset), (204, Some(1000)));
    // An offset the server does not hold: told so, nothing written.
    let stale = patch(&server, &phone.token, &photo.digest, size, 0, &bytes[..1000]);
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert!(stale.body.contains("resume from there"));
    assert_eq!(head(&server, &phone.token, &photo.digest, size).offset, Some(1000));
    // Nothing partial is served.
    let partial = send(&server, &phone.token, "GET", &photo.digest, &[], Vec::new());
    assert_eq!(partial.status, 404);
    let rest = patch(&server, &phone.token, &photo.digest, size, 1000, &bytes[1000..]);
    assert_eq!((rest.status, rest.offset), (204, Some(size)));
    let whole = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/media/{}", server.url, photo.digest))
        .bearer_auth(&phone.token)
        .send()
        .unwrap();
    assert_eq!(whole.bytes().unwrap().to_vec(), bytes);
    let audit = server.backend().audit_log(100).unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "media.upload").count(), 1);
}

#[test]
fn bytes_that_are_not_the_named_file_are_refused_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (server, phone, photo, bytes) = field(dir.path(), TestServer::settings());
    let mut forged = bytes.clone();
    forged[500] ^= 0xff;
    let refused = patch(&server, &phone.token, &photo.digest, photo.size, 0, &forged);
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("hash_mismatch"), "{}", refused.body);
    assert_eq!(head(&server, &phone.token, &photo.digest, photo.size).offset, Some(0), "nothing was kept");
    assert_eq!(send(&server, &phone.token, "GET", &photo.digest, &[], Vec::new()).status, 404);
    assert_eq!(patch(&server, &phone.token, &photo.digest, photo.size, 0, &bytes).status, 204);
}

#[test]
fn mistaken_and_hostile_uploads_each_get_their_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = TestServer::settings();
    settings.services.media.max_file_bytes = 100_000;
    let (server, phone, photo, bytes) = field(dir.path(), settings);
    let token = &phone.token;
    // A file no survey of the device's references.
    let stranger = Digest::of(b"a file nobody attached");
    let unknown = head(&server, token, &stranger, 10);
    assert_eq!(unknown.status, 404);
    let unknown = patch(&server, token, &stranger, 10, 0, b"0123456789");
    assert!(unknown.body.contains("sync the survey's answers first"), "{}", unknown.body);
    // A file over the server's limit, refused before a byte is read.
    assert_eq!(head(&server, token, &photo.digest, 200_000).status, 413);
    // More bytes than the declared size.
    let long = patch(&server, token, &photo.digest, 10, 0, &bytes[..20]);
    assert_eq!(long.status, 400, "{}", long.body);
    // Not an upload's content type.
    let headers = [("upload-offset", "0".to_owned()), ("upload-length", photo.size.to_string())];
    assert_eq!(send(&server, token, "PATCH", &photo.digest, &headers, bytes.clone()).status, 415);
    // Missing or unreadable headers, and a digest that is not one.
    assert_eq!(send(&server, token, "HEAD", &photo.digest, &[], Vec::new()).status, 400);
    let bad = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/media/not-a-digest", server.url))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let range = [("range", "bytes=-100".to_owned())];
    assert_eq!(send(&server, token, "GET", &photo.digest, &range, Vec::new()).status, 400);
    // Another enumerator may neither send nor read the photo.
    server.user("binta", Role::Enumerator, Some(1));
    let other = server.token("binta", "binta-phone");
    assert_eq!(head(&server, &other, &photo.digest, photo.size).status, 404);
    // After all that, the real upload still goes through.
    assert_eq!(head(&server, token, &photo.digest, photo.size).offset, Some(0));
    assert_eq!(patch(&server, token, &photo.digest, photo.size, 0, &bytes).offset, Some(photo.size));
    assert_eq!(send(&server, &other, "GET", &photo.digest, &[], Vec::new()).status, 404);
}

#[test]
fn the_csv_export_can_carry_the_files_in_odk_s_layout() {
    let dir = tempfile::tempdir().unwrap();
    let (server, phone, photo, bytes) = field(dir.path(), TestServer::settings());
    // A second survey whose photo is still on the phone.
    let id = phone.store.create_survey("beguedo_slm", "2026110101").unwrap();
    phone.store.set_answer(&id, &p("distance_river_m"), Value::Integer(10)).unwrap();
    phone.store.set_answer(&id, &p("bank_erosion"), Value::Choice("yes".into())).unwrap();
    let later = dir.path().join("later.png");
    std::fs::write(&later, {
        let mut png = Vec::new();
        RgbImage::from_pixel(20, 10, Rgb([1, 2, 3]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        png
    })
    .unwrap();
    let waiting = phone.store.attach_media(&id, &p("erosion_photo"), &later).unwrap();
    phone.sync();
    assert_eq!(patch(&server, &phone.token, &photo.digest, photo.size, 0, &bytes).offset, Some(photo.size));

    server.user("ana", Role::Analyst, None);
    let analyst = server.token("ana", "ana-laptop");
    let export = |query: &str| {
        let response = reqwest::blocking::Client::new()
            .get(format!("{}/api/v1/forms/beguedo_slm/export?review=any{query}", server.url))
            .bearer_auth(&analyst)
            .send()
            .unwrap();
        (response.status().as_u16(), response.bytes().unwrap().to_vec())
    };
    let (status, zipped) = export("&format=csv&media=true");
    assert_eq!(status, 200);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped)).unwrap();
    let mut held = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name(&format!("media/{}", photo.export_name())).unwrap(), &mut held)
        .unwrap();
    assert_eq!(held, bytes);
    let mut table = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("beguedo_slm.csv").unwrap(), &mut table).unwrap();
    assert!(table.contains(&photo.export_name()), "the CSV cell holds the file's name");
    let mut listed = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("media-waiting.csv").unwrap(), &mut listed).unwrap();
    assert!(listed.contains(&waiting.digest.to_hex()) && listed.contains(&id), "{listed}");
    assert!(archive.by_name(&format!("media/{}", waiting.export_name())).is_err());
    // JSON carries where the relay serves each file.
    let (status, json) = export("&format=json");
    assert_eq!(status, 200);
    let json = String::from_utf8(json).unwrap();
    assert!(json.contains(&format!("\"url\":\"/api/v1/media/{}\"", photo.digest)), "{json}");
    // Files go in the zip only.
    assert_eq!(export("&format=xlsx&media=true").0, 400);
}

#[test]
fn files_no_survey_references_are_collected_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let (server, phone, photo, bytes) = field(dir.path(), TestServer::settings());
    assert_eq!(patch(&server, &phone.token, &photo.digest, photo.size, 0, &bytes).offset, Some(photo.size));
    // A second photo, half uploaded, then replaced on the phone.
    let id = phone.store.list(&Default::default()).unwrap()[0].survey_id.clone();
    let other = dir.path().join("other.jpg");
    let mut second = bytes.clone();
    second[300] ^= 1;
    std::fs::write(&other, &second).unwrap();
    let replaced = phone.store.attach_media(&id, &p("erosion_photo"), &other).unwrap();
    phone.sync();
    assert_eq!(patch(&server, &phone.token, &replaced.digest, replaced.size, 0, &second[..700]).offset, Some(700));
    phone.store.attach_media(&id, &p("erosion_photo"), &dir.path().join("bank.jpg")).unwrap();
    phone.sync();

    let services = &server.state.services;
    let admin = services.operator().unwrap();
    let week = std::time::Duration::from_secs(7 * 86_400);
    // Within the grace period everything stays.
    let counted = services.collect_media(&admin, week, false).unwrap();
    assert_eq!((counted.removed, counted.kept), (0, 2));
    // Past it, the abandoned upload of the photo no answer holds goes; the photo stays.
    let dry = services.collect_media(&admin, std::time::Duration::ZERO, true).unwrap();
    assert_eq!((dry.removed, dry.bytes, dry.kept), (1, 700, 1));
    let done = services.collect_media(&admin, std::time::Duration::ZERO, false).unwrap();
    assert_eq!(done, dry);
    assert_eq!(head(&server, &phone.token, &photo.digest, photo.size).offset, Some(photo.size));
    let audit = server.backend().audit_log(100).unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "media.collect").count(), 2, "two runs; a dry run is not audited");
    // An enumerator may not collect.
    let scope = services.authenticate(&phone.token).unwrap().scope;
    assert!(services.collect_media(&scope, std::time::Duration::ZERO, true).is_err());
}

#[test]
fn a_device_s_day_of_files_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = TestServer::settings();
    settings.services.media.device_bytes_per_day = 1500;
    let (server, phone, photo, bytes) = field(dir.path(), settings);
    assert_eq!(patch(&server, &phone.token, &photo.digest, photo.size, 0, &bytes[..1000]).offset, Some(1000));
    let refused = patch(&server, &phone.token, &photo.digest, photo.size, 1000, &bytes[1000..2000]);
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body.contains("the rest goes tomorrow"), "{}", refused.body);
    assert_eq!(head(&server, &phone.token, &photo.digest, photo.size).offset, Some(1000), "nothing of it was kept");
}
