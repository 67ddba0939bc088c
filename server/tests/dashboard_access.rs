//! The dashboard's access rules over plain HTTP (the browser journey is in `dashboard.rs`):
//! pages need a session, enumerators are turned away, forms without the session's CSRF
//! token are refused, supervisors cannot open other teams' surveys, and only admins reach
//! administration.
// Tests may unwrap and panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Device, TestServer, browser as client, http, page, session};
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

/// The preview and entry of forms in the browser: who may preview, who may enter, whose
/// draft may be continued, and the anti-forgery token on every JSON call.
#[test]
fn previews_and_entries_check_who_is_asking() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("moussa", Role::Supervisor, Some(0));
    server.user("ali", Role::Supervisor, Some(1));
    server.user("kadi", Role::Analyst, None);
    server.backend().add_project_member(server.project, server.user("kadi", Role::Analyst, None).id).unwrap();
    // A form of another project, which no one here belongs to but the admin.
    let other = server.backend().create_project("elsewhere").unwrap();
    let mut hidden_form = common::household_form();
    hidden_form.id = "elsewhere_household".into();
    server.backend().publish_form(other.id, &hidden_form).unwrap();
    // A form whose text tries to end the page's data block and run a script.
    let mut hostile = common::household_form();
    hostile.id = "hostile".into();
    hostile.title = "Ménages </script><script>alert(1)</script> <!--".into();
    server.backend().publish_form(server.project, &hostile).unwrap();

    let moussa = session(&server, "moussa");
    let base = "/forms/household/2026110101";
    let (status, forms) = page(&server, &moussa, "/forms");
    assert_eq!(status, 200);
    assert!(forms.contains(&format!("{base}/preview")) && forms.contains(&format!("{base}/new")), "{forms}");
    assert!(!forms.contains("elsewhere_household"));
    let (status, preview) = page(&server, &moussa, &format!("{base}/preview"));
    assert_eq!(status, 200);
    assert_eq!(page(&server, &moussa, "/forms/elsewhere_household/2026110101/preview").0, 404);
    let (status, hostile_page) = page(&server, &moussa, "/forms/hostile/2026110101/preview");
    assert_eq!(status, 200);
    assert!(!hostile_page.contains("<script>alert") && !hostile_page.contains("</script><script>"), "{hostile_page}");
    assert!(hostile_page.contains("\\u003c/script>"), "the title is in the data block, escaped");
    let token = {
        let at = preview.find("data-csrf=\"").unwrap() + "data-csrf=\"".len();
        preview[at..at + 32].to_owned()
    };
    let post = |cookie: &str, token: &str, path: &str, body: serde_json::Value| {
        let r = client()
            .post(format!("{}{path}", server.url))
            .header("cookie", cookie)
            .header("x-csrf-token", token)
            .json(&body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<serde_json::Value>().unwrap_or_default())
    };

    // The evaluation, with and without the token; answers that do not fit are a 400.
    let answers = serde_json::json!({"village": "Kindia", "hh_size": 4});
    let (status, report) = post(&moussa, &token, &format!("{base}/evaluate"), serde_json::json!({"answers": answers}));
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["schema"], "terrain/form-eval/1");
    let forged = post(
        &moussa,
        "0123456789abcdef0123456789abcdef",
        &format!("{base}/evaluate"),
        serde_json::json!({"answers": {}}),
    );
    assert_eq!(forged.0, 403);
    let (status, error) =
        post(&moussa, &token, &format!("{base}/evaluate"), serde_json::json!({"answers": {"hh_size": "many"}}));
    assert_eq!(status, 400);
    assert!(error["message"].as_str().unwrap().contains("hh_size"), "{error}");

    // An analyst previews, but does not enter surveys.
    let kadi = session(&server, "kadi");
    assert_eq!(page(&server, &kadi, &format!("{base}/preview")).0, 200);
    assert!(!page(&server, &kadi, "/forms").1.contains(&format!("{base}/new")));
    assert_eq!(page(&server, &kadi, &format!("{base}/new")).0, 403);
    let kadi_token = {
        let p = page(&server, &kadi, &format!("{base}/preview")).1;
        let at = p.find("data-csrf=\"").unwrap() + "data-csrf=\"".len();
        p[at..at + 32].to_owned()
    };
    let (status, _) = post(&kadi, &kadi_token, &format!("{base}/entries"), serde_json::json!({"answers": answers}));
    assert_eq!(status, 403);

    // A supervisor enters a draft; it is theirs, and only they continue it.
    let (status, saved) = post(&moussa, &token, &format!("{base}/entries"), serde_json::json!({"answers": answers}));
    assert_eq!(status, 200, "{saved}");
    let id = saved["survey_id"].as_str().unwrap().to_owned();
    assert_eq!(saved["finalized"], false);
    assert_eq!(saved["url"], format!("/surveys/{id}/edit"));
    assert_eq!(page(&server, &moussa, &format!("/surveys/{id}/edit")).0, 200);
    let admin = session(&server, "admin");
    assert_eq!(page(&server, &admin, &format!("/surveys/{id}/edit")).0, 403, "not the admin's draft");
    let ali = session(&server, "ali");
    assert_eq!(page(&server, &ali, &format!("/surveys/{id}/edit")).0, 404, "another team's survey");
    // Finalizing an incomplete survey keeps it a draft and says why; then it finalizes.
    let (status, refused) = post(
        &moussa,
        &token,
        &format!("{base}/entries"),
        serde_json::json!({"survey_id": id, "answers": {"hh_size": 4}, "finalize": true}),
    );
    assert_eq!(status, 200);
    assert_eq!(refused["finalized"], false);
    assert!(refused["issues"][0].as_str().unwrap().starts_with("village"), "{refused}");
    let (status, done) = post(
        &moussa,
        &token,
        &format!("{base}/entries"),
        serde_json::json!({"survey_id": id, "answers": answers, "finalize": true}),
    );
    assert_eq!((status, &done["finalized"]), (200, &serde_json::Value::Bool(true)), "{done}");
    let summary = server.backend().survey_summary(&id).unwrap().unwrap();
    assert_eq!((summary.created_by.as_str(), summary.status.as_str()), ("moussa", "finalized"));
    // A finalized survey is reviewed, not entered.
    assert_eq!(page(&server, &moussa, &format!("/surveys/{id}/edit")).0, 409);
    let (status, _) = post(
        &moussa,
        &token,
        &format!("{base}/entries"),
        serde_json::json!({"survey_id": id, "answers": {}, "finalize": false}),
    );
    assert_eq!(status, 409);
    let audit = page(&server, &admin, "/admin/audit.csv").1;
    assert!(audit.contains("survey.enter") && audit.contains("survey.finalize"), "{audit}");
}

#[test]
fn the_feeds_page_makes_shows_once_and_revokes_feed_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("fanta", Role::Analyst, None);
    let cookie = session(&server, "fanta");
    let (status, html) = page(&server, &cookie, "/feeds");
    assert_eq!(status, 200);
    let feed = format!("{}/api/v1/projects/{}/odata/", server.url, server.project);
    assert!(html.contains(&feed), "the project's OData address: {html}");
    let token_form = csrf(&html);

    // Made, and shown once: the next view of the page lists it without the token.
    let r = client()
        .post(format!("{}/feeds/tokens", server.url))
        .header("cookie", &cookie)
        .form(&[("csrf", token_form.as_str()), ("label", "Power BI, Ouagadougou")])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let shown = r.text().unwrap();
    let at = shown.find("<code class=\"token\">").unwrap() + "<code class=\"token\">".len();
    let token = shown[at..].split('<').next().unwrap().to_owned();
    assert_eq!(token.len(), 43);
    let (_, again) = page(&server, &cookie, "/feeds");
    assert!(again.contains("Power BI, Ouagadougou") && !again.contains(&token));
    let read = http().get(&feed).basic_auth("fanta", Some(&token)).send().unwrap();
    assert_eq!(read.status().as_u16(), 200);

    // A forged form is refused; the real one revokes the token at once.
    let id = server.backend().feed_tokens(server.backend().user_by_name("fanta").unwrap().unwrap().0.id).unwrap()[0].id;
    let revoke = format!("{}/feeds/tokens/{id}/revoke", server.url);
    let forged = client().post(&revoke).header("cookie", &cookie).form(&[("csrf", "forged")]).send().unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    let r = client().post(&revoke).header("cookie", &cookie).form(&[("csrf", token_form.as_str())]).send().unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(http().get(&feed).basic_auth("fanta", Some(&token)).send().unwrap().status().as_u16(), 401);
}

#[test]
fn pages_carry_security_headers_and_the_api_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    server.user("moussa", Role::Supervisor, Some(0));
    let moussa = session(&server, "moussa");
    for path in ["/login", "/surveys", "/map", "/forms", "/assets/terrain.js"] {
        let mut request = client().get(format!("{}{path}", server.url));
        if path != "/login" {
            request = request.header("cookie", moussa.as_str());
        }
        let r = request.send().unwrap();
        let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let policy = header("content-security-policy");
        assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"), "{path}: {policy}");
        assert!(!policy.contains("unsafe"), "{path}: {policy}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
    }
    // The JSON API, and the sync answers that cross 2G links, stay without them.
    for path in ["/healthz", "/api/v1/me"] {
        let r = http().get(format!("{}{path}", server.url)).send().unwrap();
        assert!(r.headers().get("content-security-policy").is_none(), "{path}");
    }
}

/// A `multipart/form-data` body as a browser sends the publish form: text fields, then
/// files (name, file name, bytes).
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "terrain-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    for (name, file, bytes) in files {
        body.extend(
            format!(
                "--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                 content-type: application/octet-stream\r\n\r\n"
            )
            .bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn an_admin_publishes_a_form_with_its_lists_from_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let admin = session(&server, "admin");
    let token = csrf(&page(&server, &admin, "/admin").1);
    let form = br#"{"id": "needs", "version": "1", "title": "Needs", "children": [
        {"node": "question", "name": "village", "type": {"kind": "select_one_from_file", "file": "villages.csv"}}
    ]}"#;
    let project = server.project.to_string();
    let publish = |files: &[(&str, &str, &[u8])]| {
        let (content_type, body) = multipart(&[("csrf", &token), ("project", &project)], files);
        let r = client()
            .post(format!("{}/admin/forms", server.url))
            .header("cookie", &admin)
            .header("content-type", content_type)
            .body(body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    // The form alone: refused, the list named. An empty file input sends an empty part.
    let (status, html) = publish(&[("file", "needs.json", form), ("files", "", b"")]);
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("villages.csv"), "{html}");
    // With the list chosen beside it.
    let (status, html) =
        publish(&[("file", "needs.json", form), ("files", "villages.csv", b"name,label\nsoumb,Soumbouyah\n")]);
    assert_eq!(status, 303, "{html}");
    let shown = server.backend().form("needs", "1").unwrap();
    assert_eq!(shown.choice_lists["villages.csv"][0].name, "soumb");
}
