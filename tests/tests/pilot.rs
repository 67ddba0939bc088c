//! The `terrain demo` pilot at a small size, with its checks as assertions: every replica
//! converged, nothing acknowledged was lost, every conflict raised was resolved, and the
//! exports exist when the server offers them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use terrain_demo::{self as demo, Options};

#[test]
fn a_small_pilot_converges_loses_nothing_and_settles_its_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        enumerators: 4,
        surveys_per_enumerator: 6,
        seed: 7,
        data: dir.path().join("data"),
        out: dir.path().join("out"),
    };
    let (summary, pilot) = demo::run(&options, &|_| {}).unwrap();
    pilot.stop();

    assert_eq!(summary.surveys, 24);
    assert_eq!(summary.surveys_per_form.values().sum::<usize>(), 24);
    assert!(summary.converged, "diverged: {:?}", summary.divergences);
    assert!(summary.replicas > summary.surveys * 2, "devices hold copies: {}", summary.replicas);
    assert_eq!(summary.lost_answers, 0, "of {} values", summary.values_checked);
    assert!(summary.values_checked > 24 * 20);
    assert_eq!(summary.conflicts_raised, summary.conflicts_resolved);
    assert_eq!(summary.open_conflicts, 0);
    // Each concurrent correction of the very answer being fixed is one conflict.
    assert_eq!(summary.conflicts_raised, summary.review.concurrent_same_answer);
    let review = &summary.review;
    assert_eq!(review.approved + review.corrected + review.sent_back, 24);
    assert!(review.sent_back > 0 && review.approved > 0);
    assert_eq!(review.comments_seen_on_phones, review.sent_back, "every comment reached its phone");
    assert!(summary.bundled_surveys > 0, "the out-of-range enumerator's surveys went by bundle");
    assert!(summary.bytes_on_wire > 0 && summary.json_gzip_bytes > 0);
    // The phones' traffic, by what carried it, adds up to what their proxies counted.
    let t = summary.enumerator_traffic;
    assert_eq!(t.bodies_sent + t.bodies_received + t.framing + t.cut, summary.enumerator_bytes, "{t:?}");
    assert!(t.bodies_sent > 0 && t.framing > 0 && t.rounds >= t.syncs && t.syncs > 0, "{t:?}");
    // Small syncs compress worse than one stream, JSON included: the same pushes as JSON,
    // gzip'd sync by sync, weigh more than the final answers gzip'd at once.
    assert!(t.json_per_sync > summary.json_gzip_bytes, "{t:?}");
    // Exports: every form in every format, each holding every survey (all end approved).
    assert_eq!(summary.export_results.len(), 6);
    for export in &summary.export_results {
        assert!(export.error.is_none(), "{export:?}");
        let path = export.path.as_ref().unwrap();
        assert!(std::fs::metadata(path).unwrap().len() > 0, "{}", path.display());
        assert_eq!(export.surveys, Some(summary.surveys_per_form[&export.form_id] as u64), "{export:?}");
    }
    assert_eq!(summary.exports.len(), 6);
}
