//! The erosion photos' journey: a Béguédo enumerator photographs eroded banks offline (one
//! photo larger than the form's `max-pixels`), syncs over a slow link that is cut three
//! times while the photos go up, and every photo reaches the server byte for byte, after
//! the answers; the analyst's CSV export carries them under `media/`. A supervisor's tablet
//! then fetches one, resuming a cut download too. (The supervisor's thumbnails in Chromium
//! are `server/tests/dashboard.rs`'s, which has the browser.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, Rgb, RgbImage};
use terrain_core::media::Digest;
use terrain_core::store::Durability;
use terrain_core::sync::{self, CancelToken, HttpTransport, MediaOptions, SyncError, TransportError};
use terrain_core::{AnswerPath, Author, Role, Store, Value};
use terrain_demo::field::Device;
use terrain_demo::http::desk;
use terrain_demo::pilot::Pilot;
use terrain_demo::proxy::{Link, Proxy};

/// A photo as a phone camera leaves it: `width` × `height`, textured enough that JPEG
/// cannot make it tiny.
fn photo(dir: &Path, name: &str, width: u32, height: u32, seed: u32) -> PathBuf {
    let image = RgbImage::from_fn(width, height, |x, y| {
        let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503) ^ seed.wrapping_mul(97)) >> 7;
        Rgb([(x / 3 + n % 31) as u8, (y / 3 + n % 17) as u8, (seed * 40 + n % 23) as u8])
    });
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, 80)
        .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn p(text: &str) -> AnswerPath {
    text.parse().unwrap()
}

fn get(url: &str, token: &str, range: Option<&str>) -> (u16, Vec<u8>) {
    let mut request = reqwest::blocking::Client::new().get(url).bearer_auth(token);
    if let Some(range) = range {
        request = request.header("range", range);
    }
    let response = request.send().unwrap();
    (response.status().as_u16(), response.bytes().unwrap().to_vec())
}

#[test]
fn photos_taken_offline_arrive_whole_after_the_answers_through_a_cut_link() {
    let dir = tempfile::tempdir().unwrap();
    let pilot = Pilot::start(&dir.path().join("server"), 2).unwrap();
    let team = pilot.teams.iter().find(|t| t.form.id == "beguedo_slm").unwrap();
    let phone = Device::login(dir.path(), pilot.addr, &team.enumerators[0], Role::Enumerator, &[&team.form]).unwrap();
    // EDGE at its best: 384 kbit/s each way, 150 ms one way.
    let mut phone = Device { proxy: Proxy::start(pilot.addr, Link::throttled(384, 150)).unwrap(), ..phone };

    // Five eroded banks, one photo each; the first camera's photo is over max-pixels.
    let mut surveys = Vec::new();
    let mut attached = Vec::new();
    for i in 0..5u32 {
        let id = phone.store.create_survey(&team.form.id, &team.form.version).unwrap();
        phone.store.set_answer(&id, &p("distance_river_m"), Value::Integer(30 + i64::from(i))).unwrap();
        phone.store.set_answer(&id, &p("bank_erosion"), Value::Choice("yes".into())).unwrap();
        let (width, height) = if i == 0 { (2000, 1500) } else { (1024, 768) };
        let taken = photo(dir.path(), &format!("berge-{i}.jpg"), width, height, i);
        attached.push(phone.store.attach_media(&id, &p("erosion_photo"), &taken).unwrap());
        surveys.push(id);
    }
    assert_eq!(attached[0].dimensions, Some((1280, 960)), "downscaled to the form's max-pixels");
    let total: u64 = phone.store.pending_media().unwrap().iter().map(|m| m.size).sum();
    assert_eq!(phone.store.pending_media().unwrap().len(), 5);

    // The answers go first, in the ordinary sync: on the server before any photo is.
    phone.sync_until_done().unwrap();
    let backend = pilot.backend();
    let supervisor = desk(&pilot.url, &team.supervisor).unwrap();
    for (id, media) in surveys.iter().zip(&attached) {
        assert_eq!(backend.heads(id).unwrap().unwrap(), phone.store.heads(id).unwrap());
        let (status, body) = get(&format!("{}/api/v1/media/{}", pilot.url, media.digest), &supervisor.token(), None);
        assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("still on the device"));
    }

    // The photos, over a link cut three times mid-upload; each attempt resumes.
    let sent_before = phone.proxy.uploaded();
    let options = MediaOptions::default();
    for cut in 1..=3 {
        phone.proxy.cut_next_after((total / 4) as usize);
        let transport = HttpTransport::new(phone.proxy.url(), &phone.token).unwrap();
        match sync::upload_media(&phone.store, &transport, &options, &|_| {}, &CancelToken::default()) {
            Err(SyncError::Transport(TransportError::Network(_))) => {}
            other => panic!("cut {cut}: {other:?}"),
        }
        assert_eq!(phone.proxy.cuts(), cut);
    }
    let transport = HttpTransport::new(phone.proxy.url(), &phone.token).unwrap();
    let last = std::cell::Cell::new(None);
    let report =
        sync::upload_media(&phone.store, &transport, &options, &|p| last.set(Some(*p)), &CancelToken::default())
            .unwrap();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    let progress = last.get().unwrap();
    assert_eq!((progress.bytes_done, progress.bytes), (progress.bytes, report.progress.bytes));
    assert!(phone.store.pending_media().unwrap().is_empty());
    let on_wire = phone.proxy.uploaded() - sent_before;
    let ratio = on_wire as f64 / total as f64;
    println!("photos: {total} bytes; sent with three cuts: {on_wire} bytes ({ratio:.3}×)");
    assert!(ratio <= 1.05, "{on_wire} bytes on the wire for {total} bytes of photos: {ratio:.3}×");

    // Every photo is on the server, byte for byte, for the supervisor.
    for media in &attached {
        let mine = std::fs::read(phone.store.media_file(&media.digest).unwrap()).unwrap();
        let url = format!("{}/api/v1/media/{}", pilot.url, media.digest);
        let (status, theirs) = get(&url, &supervisor.token(), None);
        assert_eq!(status, 200);
        assert_eq!(Digest::of(&theirs), media.digest);
        assert_eq!(theirs, mine);
        let (status, tail) = get(&url, &supervisor.token(), Some("bytes=100-"));
        assert_eq!((status, &tail[..]), (206, &mine[100..]));
    }
    // An analyst of the project reads them too; another team's enumerator does not.
    let outsider = desk(&pilot.url, &pilot.teams[0].enumerators[0]).unwrap();
    let (status, _) = get(&format!("{}/api/v1/media/{}", pilot.url, attached[1].digest), &outsider.token(), None);
    assert_eq!(status, 404);
    let analyst = desk(&pilot.url, &pilot.analyst).unwrap();
    let (status, _) = get(&format!("{}/api/v1/media/{}", pilot.url, attached[1].digest), &analyst.token(), None);
    assert_eq!(status, 200);
    // The analyst's CSV export carries the photos, in ODK's layout.
    let zipped = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/forms/beguedo_slm/export?format=csv&media=true&review=any", pilot.url))
        .bearer_auth(analyst.token())
        .send()
        .unwrap();
    assert_eq!(zipped.status().as_u16(), 200);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped.bytes().unwrap().to_vec())).unwrap();
    for media in &attached {
        let mut held = Vec::new();
        std::io::Read::read_to_end(&mut archive.by_name(&format!("media/{}", media.export_name())).unwrap(), &mut held)
            .unwrap();
        assert_eq!(Digest::of(&held), media.digest);
    }
    let audit = backend.audit_log(1000).unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "media.upload").count(), 5, "each photo audited once");

    // The supervisor's tablet fetches the large photo, its first download cut midway.
    let tablet = Store::open_with(
        dir.path().join("tablet.db"),
        Author::new(&team.supervisor, "tablet", Role::Supervisor),
        Durability::ProcessCrash,
    )
    .unwrap();
    let link = Proxy::start(pilot.addr, Link::default()).unwrap();
    let small = MediaOptions { chunk_bytes: 16 << 10 };
    link.cut_next_after((attached[0].size / 2) as usize);
    let through = HttpTransport::new(link.url(), &supervisor.token()).unwrap();
    let big = &attached[0];
    match sync::download_media(&tablet, &through, &small, &big.digest, big.size, &CancelToken::default()) {
        Err(SyncError::Transport(TransportError::Network(_))) => {}
        other => panic!("{other:?}"),
    }
    let kept_before = link.bytes();
    let through = HttpTransport::new(link.url(), &supervisor.token()).unwrap();
    let path = sync::download_media(&tablet, &through, &small, &big.digest, big.size, &CancelToken::default()).unwrap();
    assert_eq!(Digest::of(&std::fs::read(path).unwrap()), big.digest);
    assert!(link.bytes() - kept_before < big.size, "the download resumed, not restarted");
}
