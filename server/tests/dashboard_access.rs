//! The dashboard's access rules over plain HTTP (the browser journey is in `dashboard.rs`):
//! pages need a session, enumerators are turned away, forms without the session's CSRF
//! token are refused, supervisors cannot open other teams' surveys, and only admins reach
//! administration.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Device, TestServer, browser as client, page, session};
use terrain_core::Role;

/// The CSRF token in a page's forms.
fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[at..at + 32].to_owned()
}

#[test]
fn pages_check_who_is_asking() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("moussa", Role::Supervisor, Some(0));
    server.user("awa", Role::Enumerator, Some(0));
    server.user("binta", Role::Enumerator, Some(1));
    let binta = Device::login(&server.url, dir.path(), "binta", Role::Enumerator, "phone-binta");
    binta.fetch_forms();
    let other_team = binta.store.create_survey("household", "2026110101").unwrap();
    binta.sync();

    // No session: every page sends to the log-in page, every action too.
    for path in ["/surveys", "/progress", "/map", "/admin", &format!("/surveys/{other_team}")] {
        let r = client().get(format!("{}{path}", server.url)).send().unwrap();
        assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "/login"), "{path}");
    }
    let r = client()
        .post(format!("{}/surveys/{other_team}/review", server.url))
        .form(&[("csrf", "x"), ("action", "approve")])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let (status, _) = page(&server, "terrain_session=forged", "/surveys");
    assert_eq!(status, 303, "an unknown token is no session");

    // Enumerators use the phone, not the dashboard.
    let awa = session(&server, "awa");
    let (status, body) = page(&server, &awa, "/surveys");
    assert_eq!(status, 403);
    assert!(body.contains("phone app"), "{body}");

    // A supervisor does not see another team's survey, and is not an admin.
    let moussa = session(&server, "moussa");
    let (status, list) = page(&server, &moussa, "/surveys");
    assert_eq!(status, 200);
    assert!(!list.contains(&other_team));
    assert_eq!(page(&server, &moussa, &format!("/surveys/{other_team}")).0, 404);
    assert_eq!(page(&server, &moussa, "/admin").0, 403);
    assert_eq!(page(&server, &moussa, "/admin/audit.csv").0, 403);

    // A form posted without the session's CSRF token is refused, with it accepted.
    let admin = session(&server, "admin");
    let (_, survey_page) = page(&server, &admin, &format!("/surveys/{other_team}"));
    let token = csrf(&survey_page);
    let post = |fields: &[(&str, &str)]| {
        client()
            .post(format!("{}/surveys/{other_team}/review", server.url))
            .header("cookie", &admin)
            .form(fields)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post(&[("csrf", "0123456789abcdef0123456789abcdef"), ("action", "approve")]), 403);
    assert_eq!(server.backend().survey_summary(&other_team).unwrap().unwrap().review_status.to_stored(), None);
    assert_eq!(post(&[("csrf", &token), ("action", "send_back"), ("comment", "")]), 400, "a send-back needs a comment");
    assert_eq!(post(&[("csrf", &token), ("action", "approve")]), 303);
    assert_eq!(
        server.backend().survey_summary(&other_team).unwrap().unwrap().review_status.to_stored(),
        Some("approved")
    );
    // Another session's token is not this session's.
    assert_ne!(csrf(&page(&server, &moussa, "/surveys").1), token);

    // Bad input gets a page that says what to do, never a crash.
    let (status, body) = page(&server, &admin, "/surveys?from=yesterday");
    assert_eq!(status, 400);
    assert!(body.contains("2026-11-28"), "{body}");
    assert_eq!(page(&server, &admin, "/surveys/not-a-survey").0, 404);
    let r = client()
        .post(format!("{}/surveys/{other_team}/correct", server.url))
        .header("cookie", &admin)
        .form(&[("csrf", token.as_str()), ("path", "hh_size"), ("other", "douze")])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().unwrap().contains("douze"));
    let (status, css) = page(&server, &admin, "/assets/terrain.css");
    assert_eq!(status, 200);
    assert!(css.len() < 16_000, "the stylesheet stays light");
    assert_eq!(page(&server, &admin, "/assets/../Cargo.toml").0, 404);
    // Bulk actions report what they did, and go back to the same (re-encoded) filters.
    let r = client()
        .post(format!("{}/surveys/bulk", server.url))
        .header("cookie", &admin)
        .form(&[
            ("csrf", token.as_str()),
            ("action", "reject"),
            ("survey", &other_team),
            ("back", "form=household\r\nX"),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/surveys?form=household%0D%0AX") && location.ends_with("done=1&failed=0"),
        "{location}"
    );
    assert_eq!(
        server.backend().survey_summary(&other_team).unwrap().unwrap().review_status.to_stored(),
        Some("rejected")
    );
    let audit = page(&server, &admin, "/admin/audit.csv").1;
    assert!(audit.contains("review.approve") && audit.contains("review.reject"));
}
