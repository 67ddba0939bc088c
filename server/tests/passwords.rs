//! Changing a password ends the user's other sessions; an administrator's reset ends them
//! all, and the next login opens nothing but the password change, in the API and in the
//! dashboard alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{PASSWORD, TestServer, browser, page};
use serde_json::{Value as Json, json};
use terrain_core::Role;

fn call(server: &TestServer, method: reqwest::Method, path: &str, token: &str, body: Option<Json>) -> (u16, Json) {
    let mut request = common::http().request(method, format!("{}{path}", server.url)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Json::Null))
}

fn login(server: &TestServer, user: &str, password: &str, device: &str) -> (u16, Json) {
    let response = common::http()
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&json!({"username": user, "password": password, "device_id": device}))
        .send()
        .unwrap();
    (response.status().as_u16(), response.json().unwrap())
}

#[test]
fn a_change_ends_the_other_sessions_and_a_reset_forces_a_new_password() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let awa = server.user("awa", Role::Supervisor, Some(0));
    let (phone, laptop) = (server.token("awa", "phone"), server.token("awa", "laptop"));

    // The current password is required, and a wrong one is refused without a change.
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let (status, _) =
        call(&server, Method::PUT, "/api/v1/me/password", &phone, Some(change("not it at all", "Kindia 2026 !")));
    assert_eq!(status, 400);
    let (status, body) =
        call(&server, Method::PUT, "/api/v1/me/password", &phone, Some(change(PASSWORD, "Kindia 2026 !")));
    assert_eq!((status, &body["ended_sessions"]), (200, &json!(1)), "{body}");
    assert_eq!(call(&server, Method::GET, "/api/v1/me", &phone, None).0, 200, "this session goes on");
    assert_eq!(call(&server, Method::GET, "/api/v1/me", &laptop, None).0, 401, "the other one ended");
    assert_eq!(login(&server, "awa", PASSWORD, "phone").0, 401, "the old password is gone");

    // The administrator resets it: every session ends, and the temporary password opens
    // nothing but the change.
    let admin = server.token("admin", "desk");
    let reset = json!({"password": "provisoire 4321"});
    let (status, body) = call(&server, Method::PUT, &format!("/api/v1/users/{}/password", awa.id), &admin, Some(reset));
    assert_eq!((status, &body["ended_sessions"]), (200, &json!(1)), "{body}");
    assert_eq!(call(&server, Method::GET, "/api/v1/me", &phone, None).0, 401);
    let (status, issued) = login(&server, "awa", "provisoire 4321", "phone");
    assert_eq!((status, &issued["must_change_password"]), (200, &json!(true)), "{issued}");
    let temporary = issued["token"].as_str().unwrap().to_owned();
    let (status, body) = call(&server, Method::GET, "/api/v1/surveys", &temporary, None);
    assert_eq!((status, body["code"].as_str()), (403, Some("password_change_required")), "{body}");

    // The dashboard sends her to the password page, and nowhere else.
    let cookie = {
        let r = browser()
            .post(format!("{}/login", server.url))
            .form(&[("username", "awa"), ("password", "provisoire 4321")])
            .send()
            .unwrap();
        assert_eq!(r.headers()["location"], "/password");
        r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned()
    };
    let (status, _) = page(&server, &cookie, "/surveys");
    assert_eq!(status, 303, "the list redirects to the password page");
    let (status, html) = page(&server, &cookie, "/password");
    assert_eq!(status, 200);
    assert!(html.contains("change-password"), "{html}");

    let (status, _) = call(
        &server,
        Method::PUT,
        "/api/v1/me/password",
        &temporary,
        Some(change("provisoire 4321", "Labé, le 7 déc.")),
    );
    assert_eq!(status, 200);
    assert_eq!(call(&server, Method::GET, "/api/v1/surveys", &temporary, None).0, 200, "now everything opens");
    let (status, issued) = login(&server, "awa", "Labé, le 7 déc.", "phone");
    assert_eq!((status, &issued["must_change_password"]), (200, &json!(false)));

    // The phones' own session type changes it too, and keeps working.
    let mut tablet = terrain_core::sync::Session::login(&server.url, "awa", "Labé, le 7 déc.", "tablet").unwrap();
    assert!(!tablet.login_info().unwrap().must_change_password);
    assert_eq!(tablet.change_password("Labé, le 7 déc.", "Béguédo, saison 2027").unwrap(), 2);
    assert_eq!(tablet.request("GET", "/api/v1/me", None).unwrap().0, 200);
    assert_eq!(login(&server, "awa", "Béguédo, saison 2027", "phone").0, 200);

    // Both are in the audit log, under one vocabulary.
    let log = server.backend().audit_log(50).unwrap();
    assert!(log.iter().any(|e| e.action == "user.password_reset"));
    assert_eq!(log.iter().filter(|e| e.action == "user.password_change").count(), 3);

    // Only an administrator resets, and not their own.
    assert_eq!(call(&server, Method::GET, "/api/v1/me", &temporary, None).0, 401, "the tablet's change ended it");
    let reset = Some(json!({"password": "provisoire 9876"}));
    let (status, _) = call(&server, Method::PUT, "/api/v1/users/1/password", &tablet.token(), reset);
    assert_eq!(status, 403);
    let admin_id = server.backend().user_by_name("admin").unwrap().unwrap().0.id;
    let (status, _) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/users/{admin_id}/password"),
        &admin,
        Some(json!({"password": "provisoire 9876"})),
    );
    assert_eq!(status, 400);
}
