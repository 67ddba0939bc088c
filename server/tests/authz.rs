//! Who may do what on the relay server: the authorization matrix, and the access rules of
//! sync exercised with real devices and hand-crafted Automerge changes.
//!
//! The matrix is one table of rows (credentials, request, expected status, and for lists the
//! exact names the caller may see), run by one loop that reports every row answering
//! otherwise. It covers every route of the API (checked against the OpenAPI document, so a
//! new route without rows fails the test), for every role: admin; the supervisor of the
//! survey's team and of another team; the enumerator who started the survey, a teammate and
//! one of another team; analysts of the project and of another project; and for a missing,
//! malformed, unknown, revoked, expired or disabled user's token. Data comes from the caller's
//! own team, another team of the same project, and a second project created through the
//! admin API with its own team, people and form. After the matrix, nothing a refused request
//! asked for exists (users, projects, teams, memberships, assignments, corrections, audit).
//!
//! The sync tests prove that an enumerator's own surveys are stored but their edits to
//! anyone else's are refused with nothing stored; that nobody but supervisors and admins
//! touches the review, and nobody rewrites the metadata or the document root; that analysts
//! push nothing and pull only their project; that each role pulls exactly what it may read;
//! that supervisors correct only their teams' surveys; that only the author's own supervisor
//! may relay a bundle; and that one refused survey does not block the others of a push.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, ROOT, ReadDoc};
use common::{Device, PASSWORD, TestServer, craft, household_form, http, pending, push_request, root_map, sync_round};
use reqwest::Method;
use serde_json::{Value as Json, json};
use terrain_core::sync::bundle;
use terrain_core::sync::wire::{self, Ack, PushedSurvey, SyncRequest};
use terrain_core::{AnswerPath, Author, Form, Role, Store, SurveyDoc, Value};

const VERSION: &str = "2026110101";

// ---------------------------------------------------------------------------------------
// The world: two projects, three teams, ten people, a survey in each team.
// ---------------------------------------------------------------------------------------

/// The people. Project "pilot" has teams kindia and labe (seeded); project "coastal", made
/// through the admin API, has team boke and its own form `household_q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Who {
    Admin,
    SupK,
    SupL,
    EnumK,
    EnumK2,
    EnumL,
    AnalystP,
    SupQ,
    EnumQ,
    AnalystQ,
}

const PEOPLE: [Who; 10] = [
    Who::Admin,
    Who::SupK,
    Who::SupL,
    Who::EnumK,
    Who::EnumK2,
    Who::EnumL,
    Who::AnalystP,
    Who::SupQ,
    Who::EnumQ,
    Who::AnalystQ,
];

/// A user who is disabled after logging in once.
const GONE: &str = "enum-gone";

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::Admin => "admin",
            Who::SupK => "sup-kindia",
            Who::SupL => "sup-labe",
            Who::EnumK => "enum-kindia",
            Who::EnumK2 => "enum-kindia-2",
            Who::EnumL => "enum-labe",
            Who::AnalystP => "analyst-pilot",
            Who::SupQ => "sup-boke",
            Who::EnumQ => "enum-boke",
            Who::AnalystQ => "analyst-coastal",
        }
    }

    fn role(self) -> Role {
        match self {
            Who::Admin => Role::Admin,
            Who::SupK | Who::SupL | Who::SupQ => Role::Supervisor,
            Who::EnumK | Who::EnumK2 | Who::EnumL | Who::EnumQ => Role::Enumerator,
            Who::AnalystP | Who::AnalystQ => Role::Analyst,
        }
    }

    /// Whether they belong to project pilot (P) or coastal (Q); admins belong to none.
    fn in_pilot(self) -> bool {
        matches!(self, Who::SupK | Who::SupL | Who::EnumK | Who::EnumK2 | Who::EnumL | Who::AnalystP)
    }

    fn in_coastal(self) -> bool {
        matches!(self, Who::SupQ | Who::EnumQ | Who::AnalystQ)
    }

    /// The names of the teams they are in.
    fn teams(self) -> Vec<&'static str> {
        match self {
            Who::SupK | Who::EnumK | Who::EnumK2 => vec!["kindia"],
            Who::SupL | Who::EnumL => vec!["labe"],
            Who::SupQ | Who::EnumQ => vec!["boke"],
            Who::Admin | Who::AnalystP | Who::AnalystQ => vec![],
        }
    }
}

/// The three surveys of the matrix: started by an enumerator of kindia (the "own team" of
/// sup-kindia and enum-kindia), of labe (another team, same project), of boke (another project).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum S {
    K,
    L,
    Q,
}

impl S {
    fn author(self) -> Who {
        match self {
            S::K => Who::EnumK,
            S::L => Who::EnumL,
            S::Q => Who::EnumQ,
        }
    }
}

/// The rules, written out independently of the server's: who reads which survey.
fn may_read(who: Who, s: S) -> bool {
    matches!(
        (who, s),
        (Who::Admin, _)
            | (Who::SupK | Who::EnumK, S::K)
            | (Who::SupL | Who::EnumL, S::L)
            | (Who::AnalystP, S::K | S::L)
            | (Who::SupQ | Who::EnumQ | Who::AnalystQ, S::Q)
    )
}

/// Who corrects and assigns which survey: those who read it and supervise (or administer).
fn may_supervise(who: Who, s: S) -> bool {
    may_read(who, s) && matches!(who.role(), Role::Admin | Role::Supervisor)
}

fn form_q() -> Form {
    let mut json: Json = serde_json::from_str(&household_form().to_json()).unwrap();
    json["id"] = json!("household_q");
    json["title"] = json!("Household form of the coastal project");
    Form::from_json(&json.to_string()).unwrap()
}

struct World {
    dir: tempfile::TempDir,
    server: TestServer,
    url: String,
    pilot: i64,
    coastal: i64,
    kindia: i64,
    boke: i64,
    ids: HashMap<Who, i64>,
    gone: i64,
    tokens: HashMap<Who, String>,
    bad: HashMap<Cred, String>,
    surveys: HashMap<S, String>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(dir.path());
        let url = server.url.clone();
        let (pilot, kindia) = (server.project, server.teams[0]);
        let mut ids = HashMap::new();
        for (who, team) in [
            (Who::Admin, None),
            (Who::SupK, Some(0)),
            (Who::SupL, Some(1)),
            (Who::EnumK, Some(0)),
            (Who::EnumK2, Some(0)),
            (Who::EnumL, Some(1)),
            (Who::AnalystP, None),
        ] {
            ids.insert(who, server.user(who.name(), who.role(), team).id);
        }
        let gone = server.user(GONE, Role::Enumerator, Some(0)).id;

        // The second project, entirely through the admin API.
        let admin = server.token("admin", "admin-laptop");
        let call = |method: Method, path: &str, body: Json, expect: u16| -> Json {
            let response =
                http().request(method.clone(), format!("{url}{path}")).bearer_auth(&admin).json(&body).send().unwrap();
            let status = response.status().as_u16();
            let text = response.text().unwrap();
            assert_eq!(status, expect, "{method} {path}: {text}");
            serde_json::from_str(&text).unwrap_or(Json::Null)
        };
        let coastal = call(Method::POST, "/api/v1/projects", json!({"name": "coastal"}), 201)["id"].as_i64().unwrap();
        let boke = call(Method::POST, &format!("/api/v1/projects/{coastal}/teams"), json!({"name": "boke"}), 201)["id"]
            .as_i64()
            .unwrap();
        for who in [Who::SupQ, Who::EnumQ, Who::AnalystQ] {
            let body = json!({"username": who.name(), "password": PASSWORD, "role": who.role().to_string()});
            let id = call(Method::POST, "/api/v1/users", body, 201)["id"].as_i64().unwrap();
            ids.insert(who, id);
            if who == Who::AnalystQ {
                call(Method::POST, &format!("/api/v1/projects/{coastal}/members"), json!({"user_id": id}), 204);
            } else {
                call(Method::POST, &format!("/api/v1/teams/{boke}/members"), json!({"user_id": id}), 204);
            }
        }
        let form: Json = serde_json::from_str(&form_q().to_json()).unwrap();
        call(Method::POST, &format!("/api/v1/projects/{coastal}/forms"), form, 201);

        let tokens: HashMap<Who, String> =
            PEOPLE.iter().map(|&who| (who, server.token(who.name(), &format!("matrix-{}", who.name())))).collect();

        // Tokens that must not work.
        let backend = server.backend();
        let mint = |user: i64, device: Option<[u8; 8]>, expires: chrono::DateTime<chrono::Utc>| {
            let (token, hash) = terrain_services::accounts::token::generate().unwrap();
            backend.insert_token(&hash, user, device.as_ref(), expires).unwrap();
            token
        };
        let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
        let mut bad = HashMap::new();
        bad.insert(Cred::Garbage, "not-a-token-at-all".to_owned());
        let revoked = server.token(Who::SupK.name(), "revoked-phone");
        let logout = http().post(format!("{url}/api/v1/auth/logout")).bearer_auth(&revoked).send().unwrap();
        assert_eq!(logout.status(), 204);
        bad.insert(Cred::Revoked, revoked);
        let gone_token = server.token(GONE, "gone-phone");
        let disable = http()
            .put(format!("{url}/api/v1/users/{gone}/disabled"))
            .bearer_auth(&admin)
            .json(&json!({"disabled": true}))
            .send()
            .unwrap();
        assert_eq!(disable.status(), 204);
        let me = http().get(format!("{url}/api/v1/me")).bearer_auth(&gone_token).send().unwrap();
        assert_eq!(me.status(), 401, "disabling a user revokes their tokens");
        // A token of a disabled user that was not revoked (as if issued in a race with the
        // disabling): refused because the user is disabled.
        let gone_device = backend.register_device(gone, "gone-phone").unwrap();
        bad.insert(Cred::Disabled, mint(gone, Some(gone_device), in_an_hour));
        let k_device = backend.register_device(ids[&Who::EnumK], "matrix-enum-kindia").unwrap();
        bad.insert(
            Cred::Expired,
            mint(ids[&Who::EnumK], Some(k_device), chrono::Utc::now() - chrono::Duration::hours(1)),
        );
        bad.insert(Cred::Deviceless, mint(ids[&Who::EnumK], None, in_an_hour));
        let lost = backend.register_device(ids[&Who::EnumK], "matrix-lost-phone").unwrap();
        assert_eq!(backend.revoke_device(ids[&Who::EnumK], &lost).unwrap(), Some(0));
        bad.insert(Cred::RevokedDevice, mint(ids[&Who::EnumK], Some(lost), in_an_hour));
        let login: Json = http()
            .post(format!("{url}/api/v1/auth/login"))
            .json(&json!({"username": Who::EnumK.name(), "password": PASSWORD, "device_id": "matrix-refresh"}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        bad.insert(Cred::Refresh, login["refresh_token"].as_str().unwrap().to_owned());

        let mut world =
            World { dir, server, url, pilot, coastal, kindia, boke, ids, gone, tokens, bad, surveys: HashMap::new() };
        // Each team's enumerator starts a survey on their phone and syncs it.
        for s in [S::K, S::L, S::Q] {
            let phone = world.device(s.author(), &format!("phone-{}", s.author().name()));
            let id = new_survey(&phone, s.author(), "Village of the matrix");
            let report = phone.sync();
            assert!(report.refused.is_empty(), "{:?}", report.refused);
            world.surveys.insert(s, id);
        }
        world
    }

    fn id(&self, who: Who) -> i64 {
        self.ids[&who]
    }

    fn token(&self, who: Who) -> &str {
        &self.tokens[&who]
    }

    fn survey(&self, s: S) -> &str {
        &self.surveys[&s]
    }

    /// A device of `who` that has logged in, with both projects' forms stored.
    fn device(&self, who: Who, name: &str) -> Device {
        let device = Device::login(&self.url, self.dir.path(), who.name(), who.role(), name);
        device.store.save_form(&household_form()).unwrap();
        device.store.save_form(&form_q()).unwrap();
        device
    }

    fn get(&self, who: Who, path: &str) -> (u16, Json) {
        let response = http().get(format!("{}{path}", self.url)).bearer_auth(self.token(who)).send().unwrap();
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Json::Null))
    }

    fn send(&self, who: Who, method: Method, path: &str, body: Json) -> u16 {
        let response = http()
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(self.token(who))
            .json(&body)
            .send()
            .unwrap();
        response.status().as_u16()
    }

    /// The survey as the admin reads it.
    fn survey_json(&self, id: &str) -> Json {
        let (status, body) = self.get(Who::Admin, &format!("/api/v1/surveys/{id}"));
        assert_eq!(status, 200);
        body
    }

    fn heads(&self, id: &str) -> Option<Vec<terrain_core::ChangeHash>> {
        self.server.backend().heads(id).unwrap()
    }

    /// A survey's whole history as the server holds it.
    fn history(&self, id: &str) -> Vec<u8> {
        self.server.backend().changes_after(id, &[]).unwrap()
    }
}

/// Starts a survey of the form of `who`'s project on `device`, with a village, and returns
/// its id. The form is the coastal one for coastal people.
fn new_survey(device: &Device, who: Who, village: &str) -> String {
    let form = if who.in_coastal() { "household_q" } else { "household" };
    let id = device.store.create_survey(form, VERSION).unwrap();
    device.store.set_answer(&id, &path("village"), Value::Text(village.into())).unwrap();
    id
}

fn path(p: &str) -> AnswerPath {
    p.parse().unwrap()
}

fn device_key(device: &Device) -> String {
    device.store.device_key().unwrap().unwrap()
}

fn refused(ack: &Ack, status: u16) -> bool {
    matches!(ack, Ack::Refused { status: s, .. } if *s == status)
}

fn refusal_code(ack: &Ack) -> &str {
    match ack {
        Ack::Refused { code, .. } => code,
        _ => "",
    }
}

// ---------------------------------------------------------------------------------------
// The matrix.
// ---------------------------------------------------------------------------------------

/// What a request authenticates with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Cred {
    /// The person's token.
    As(Who),
    /// A token the person gets by logging in just for this row (to log out).
    Fresh(Who),
    /// No `Authorization` header.
    NoToken,
    /// `Bearer` and a token the server never issued.
    Garbage,
    /// A scheme other than `Bearer`.
    NotBearer,
    /// A token that was logged out.
    Revoked,
    /// A token past its expiry.
    Expired,
    /// An unrevoked token of a disabled user.
    Disabled,
    /// A valid token of enum-kindia not issued to a device.
    Deviceless,
    /// An unrevoked token of a device that was revoked (issued in a race with revoking).
    RevokedDevice,
    /// enum-kindia's device refresh token: it opens `POST /api/v1/auth/refresh` only.
    Refresh,
}

const REFUSED_CREDS: [Cred; 8] = [
    Cred::NoToken,
    Cred::Garbage,
    Cred::NotBearer,
    Cred::Revoked,
    Cred::Expired,
    Cred::Disabled,
    Cred::RevokedDevice,
    Cred::Refresh,
];

#[derive(Debug, Clone)]
enum Body {
    None,
    Json(Json),
    Sync(Vec<u8>),
}

/// What to check in a successful answer besides the status.
#[derive(Debug, Clone)]
enum Check {
    Nothing,
    /// `GET /me`: the caller's user name.
    Username(&'static str),
    /// A JSON list whose items' `field` are exactly these.
    Exactly(&'static str, BTreeSet<String>),
    /// A JSON list whose items' `field` include these.
    Includes(&'static str, BTreeSet<String>),
    /// A sync response that decodes.
    Sync,
}

struct Row {
    cred: Cred,
    method: Method,
    /// The route as in the router (`/api/v1/surveys/{survey}`), for the coverage check.
    route: &'static str,
    path: String,
    body: Body,
    expect: u16,
    check: Check,
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = match &self.body {
            Body::None => String::new(),
            Body::Json(j) => {
                let text = j.to_string();
                let short: String = text.chars().take(80).collect();
                format!(" {}", if short.len() < text.len() { format!("{short}…") } else { text })
            }
            Body::Sync(b) => format!(" <sync body, {} bytes>", b.len()),
        };
        write!(f, "{:?} {} {}{body} → expected {}", self.cred, self.method, self.path, self.expect)
    }
}

fn row(cred: Cred, method: Method, route: &'static str, path: String, body: Body, expect: u16) -> Row {
    Row { cred, method, route, path, body, expect, check: Check::Nothing }
}

fn names<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

fn unknown_media() -> String {
    format!("/api/v1/media/{}", "0".repeat(64))
}

fn empty_sync() -> Vec<u8> {
    wire::encode(&SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor: 0,
        push: Vec::new(),
        want: Vec::new(),
        max_pull_bytes: 1 << 20,
        epoch: 0,
        push_entities: Vec::new(),
        want_entities: Vec::new(),
    })
    .unwrap()
}

fn form_json(form: &Form) -> Json {
    serde_json::from_str(&form.to_json()).unwrap()
}

/// One request per authenticated route: what every refused credential is tried on.
fn authenticated_requests(w: &World) -> Vec<(Method, &'static str, String, Body)> {
    let (pilot, kindia, s) = (w.pilot, w.kindia, w.survey(S::K));
    let stranger = "made-by-a-stranger";
    let victim = w.id(Who::EnumQ);
    vec![
        (Method::POST, "/api/v1/auth/logout", "/api/v1/auth/logout".into(), Body::None),
        (Method::POST, "/api/v1/auth/refresh", "/api/v1/auth/refresh".into(), Body::None),
        (Method::GET, "/api/v1/attention", "/api/v1/attention".into(), Body::None),
        (Method::GET, "/api/v1/projects/{project}/settings", format!("/api/v1/projects/{pilot}/settings"), Body::None),
        (
            Method::PUT,
            "/api/v1/projects/{project}/settings",
            format!("/api/v1/projects/{pilot}/settings"),
            Body::Json(json!({"freeze_approved": true})),
        ),
        (Method::GET, "/api/v1/me", "/api/v1/me".into(), Body::None),
        (Method::GET, "/api/v1/me/feed-tokens", "/api/v1/me/feed-tokens".into(), Body::None),
        (
            Method::POST,
            "/api/v1/me/feed-tokens",
            "/api/v1/me/feed-tokens".into(),
            Body::Json(json!({"label": "matrix"})),
        ),
        (Method::DELETE, "/api/v1/me/feed-tokens/{id}", "/api/v1/me/feed-tokens/1".into(), Body::None),
        (Method::GET, "/api/v1/projects/{project}/webhooks", format!("/api/v1/projects/{pilot}/webhooks"), Body::None),
        (
            Method::GET,
            "/api/v1/projects/{project}/saved-exports",
            format!("/api/v1/projects/{pilot}/saved-exports"),
            Body::None,
        ),
        (
            Method::POST,
            "/api/v1/projects/{project}/saved-exports",
            format!("/api/v1/projects/{pilot}/saved-exports"),
            Body::Json(json!({"name": "matrix", "form_id": "household"})),
        ),
        (
            Method::DELETE,
            "/api/v1/projects/{project}/saved-exports/{id}",
            format!("/api/v1/projects/{pilot}/saved-exports/999999"),
            Body::None,
        ),
        (Method::GET, "/api/v1/saved-exports/{id}/download", "/api/v1/saved-exports/1/download".into(), Body::None),
        (
            Method::POST,
            "/api/v1/projects/{project}/webhooks",
            format!("/api/v1/projects/{pilot}/webhooks"),
            Body::Json(json!({"url": "https://example.org/hook", "events": ["submission.received"]})),
        ),
        (
            Method::DELETE,
            "/api/v1/projects/{project}/webhooks/{id}",
            format!("/api/v1/projects/{pilot}/webhooks/999999"),
            Body::None,
        ),
        (
            Method::GET,
            "/api/v1/projects/{project}/webhooks/{id}/deliveries",
            format!("/api/v1/projects/{pilot}/webhooks/999999/deliveries"),
            Body::None,
        ),
        (Method::POST, "/api/v1/sync", "/api/v1/sync".into(), Body::Sync(empty_sync())),
        (Method::HEAD, "/api/v1/media/{sha256}", unknown_media(), Body::None),
        (Method::PATCH, "/api/v1/media/{sha256}", unknown_media(), Body::None),
        (Method::POST, "/api/v1/media/{sha256}", unknown_media(), Body::None),
        (Method::GET, "/api/v1/media/{sha256}", unknown_media(), Body::None),
        (Method::GET, "/api/v1/forms", "/api/v1/forms".into(), Body::None),
        (Method::GET, "/api/v1/forms/{form_id}/{version}", format!("/api/v1/forms/household/{VERSION}"), Body::None),
        (
            Method::GET,
            "/api/v1/forms/{form_id}/{version}/definition",
            format!("/api/v1/forms/household/{VERSION}/definition"),
            Body::None,
        ),
        (
            Method::GET,
            "/api/v1/forms/{form_id}/{version}/files/{name}",
            format!("/api/v1/forms/household/{VERSION}/files/villages.csv"),
            Body::None,
        ),
        (Method::GET, "/api/v1/forms/{form_id}/export", "/api/v1/forms/household/export?review=any".into(), Body::None),
        (
            Method::POST,
            "/api/v1/projects/{project}/forms",
            format!("/api/v1/projects/{pilot}/forms"),
            Body::Json(form_json(&household_form())),
        ),
        (Method::GET, "/api/v1/users", "/api/v1/users".into(), Body::None),
        (
            Method::POST,
            "/api/v1/users",
            "/api/v1/users".into(),
            Body::Json(json!({"username": stranger, "password": PASSWORD, "role": "admin"})),
        ),
        (
            Method::PUT,
            "/api/v1/users/{user}/disabled",
            format!("/api/v1/users/{}/disabled", w.id(Who::Admin)),
            Body::Json(json!({"disabled": true})),
        ),
        (
            Method::PUT,
            "/api/v1/users/{user}/password",
            format!("/api/v1/users/{}/password", w.id(Who::Admin)),
            Body::Json(json!({"password": "a temporary password"})),
        ),
        (
            Method::PUT,
            "/api/v1/me/password",
            "/api/v1/me/password".into(),
            Body::Json(json!({"current_password": PASSWORD, "new_password": "a new password!"})),
        ),
        (
            Method::GET,
            "/api/v1/users/{user}/devices",
            format!("/api/v1/users/{}/devices", w.id(Who::EnumK)),
            Body::None,
        ),
        (
            Method::DELETE,
            "/api/v1/users/{user}/devices/{device}",
            format!("/api/v1/users/{}/devices/0000000000000000", w.id(Who::EnumK)),
            Body::None,
        ),
        (
            Method::GET,
            "/api/v1/users/{user}/enrolments",
            format!("/api/v1/users/{}/enrolments", w.id(Who::EnumK)),
            Body::None,
        ),
        (
            Method::POST,
            "/api/v1/users/{user}/enrolments",
            format!("/api/v1/users/{}/enrolments", w.id(Who::EnumK)),
            Body::Json(json!({"label": "matrix"})),
        ),
        (
            Method::DELETE,
            "/api/v1/users/{user}/enrolments/{id}",
            format!("/api/v1/users/{}/enrolments/999999", w.id(Who::EnumK)),
            Body::None,
        ),
        (Method::GET, "/api/v1/projects", "/api/v1/projects".into(), Body::None),
        (Method::POST, "/api/v1/projects", "/api/v1/projects".into(), Body::Json(json!({"name": stranger}))),
        (
            Method::POST,
            "/api/v1/projects/{project}/members",
            format!("/api/v1/projects/{pilot}/members"),
            Body::Json(json!({"user_id": victim})),
        ),
        (
            Method::POST,
            "/api/v1/projects/{project}/teams",
            format!("/api/v1/projects/{pilot}/teams"),
            Body::Json(json!({"name": stranger})),
        ),
        (Method::GET, "/api/v1/teams", "/api/v1/teams".into(), Body::None),
        (Method::GET, "/api/v1/teams/{team}/members", format!("/api/v1/teams/{kindia}/members"), Body::None),
        (
            Method::POST,
            "/api/v1/teams/{team}/members",
            format!("/api/v1/teams/{kindia}/members"),
            Body::Json(json!({"user_id": victim})),
        ),
        (Method::GET, "/api/v1/audit", "/api/v1/audit".into(), Body::None),
        (Method::GET, "/api/v1/entity-lists", "/api/v1/entity-lists".into(), Body::None),
        (Method::GET, "/api/v1/entity-lists/{list}/entities", "/api/v1/entity-lists/plots/entities".into(), Body::None),
        (
            Method::GET,
            "/api/v1/entity-lists/{list}/entities/{id}",
            "/api/v1/entity-lists/plots/entities/e1".into(),
            Body::None,
        ),
        (Method::POST, "/api/v1/entity-lists/{list}/import", "/api/v1/entity-lists/plots/import".into(), Body::None),
        (Method::GET, "/api/v1/entity-lists/{list}/export", "/api/v1/entity-lists/plots/export".into(), Body::None),
        (
            Method::PUT,
            "/api/v1/entity-lists/{list}/team",
            "/api/v1/entity-lists/plots/team".into(),
            Body::Json(json!({"ids": ["e1"], "team": null})),
        ),
        (
            Method::POST,
            "/api/v1/entity-lists/{list}/entities/{id}/settle",
            "/api/v1/entity-lists/plots/entities/e1/settle".into(),
            Body::Json(json!({"property": "label", "value": "x"})),
        ),
        (
            Method::PUT,
            "/api/v1/entity-lists/{list}/entities/{id}/assignee",
            "/api/v1/entity-lists/plots/entities/e1/assignee".into(),
            Body::Json(json!({"username": null})),
        ),
        (
            Method::POST,
            "/api/v1/entity-lists/{list}/entities/{id}/delete",
            "/api/v1/entity-lists/plots/entities/e1/delete".into(),
            Body::None,
        ),
        (
            Method::POST,
            "/api/v1/entity-lists/{list}/entities/{id}/restore",
            "/api/v1/entity-lists/plots/entities/e1/restore".into(),
            Body::None,
        ),
        (Method::GET, "/api/v1/surveys/{survey}", format!("/api/v1/surveys/{s}"), Body::None),
        (
            Method::GET,
            "/api/v1/surveys/{survey}/history",
            format!("/api/v1/surveys/{s}/history?path=village"),
            Body::None,
        ),
        (Method::GET, "/api/v1/surveys/{survey}/conflicts", format!("/api/v1/surveys/{s}/conflicts"), Body::None),
        (
            Method::PUT,
            "/api/v1/surveys/{survey}/answers",
            format!("/api/v1/surveys/{s}/answers"),
            Body::Json(json!({"path": "head_name", "value": {"type": "text", "value": stranger}})),
        ),
        (
            Method::POST,
            "/api/v1/surveys/{survey}/assignees",
            format!("/api/v1/surveys/{s}/assignees"),
            Body::Json(json!({"user_id": victim})),
        ),
        (Method::GET, "/api/v1/surveys", "/api/v1/surveys?review=received".into(), Body::None),
        (
            Method::POST,
            "/api/v1/surveys/{survey}/review",
            format!("/api/v1/surveys/{s}/review"),
            Body::Json(json!({"action": "approve"})),
        ),
        (
            Method::POST,
            "/api/v1/reviews",
            "/api/v1/reviews".into(),
            Body::Json(json!({"surveys": [s], "action": "reject"})),
        ),
    ]
}

/// Every row of the matrix.
fn matrix(w: &World) -> Vec<Row> {
    use Method as M;
    let mut rows = Vec::new();
    let (pilot, coastal, kindia, boke) = (w.pilot, w.coastal, w.kindia, w.boke);

    // Public routes answer everyone, whatever token they send.
    let everyone: Vec<Cred> = PEOPLE.iter().map(|&p| Cred::As(p)).chain(REFUSED_CREDS).collect();
    for &cred in &everyone {
        rows.push(row(cred, M::GET, "/healthz", "/healthz".into(), Body::None, 200));
        rows.push(row(cred, M::GET, "/api/openapi.json", "/api/openapi.json".into(), Body::None, 200));
    }

    // Logging in: the password of an enabled user, nothing else.
    let login = |user: &str, password: &str, device: &str| {
        Body::Json(json!({"username": user, "password": password, "device_id": device}))
    };
    let k = Who::EnumK.name();
    for (body, expect) in [
        (login(k, PASSWORD, "matrix-login"), 200),
        (login(k, "a wrong password!", "matrix-login"), 401),
        (login("nobody-at-all", PASSWORD, "matrix-login"), 401),
        (login(GONE, PASSWORD, "matrix-login"), 401),
        (login(k, PASSWORD, "  "), 400),
    ] {
        rows.push(row(Cred::NoToken, M::POST, "/api/v1/auth/login", "/api/v1/auth/login".into(), body, expect));
    }
    // Enrolling: a valid code, nothing else (valid codes are enrolment.rs's).
    for (body, expect) in [
        (json!({"code": "not-a-code", "device_id": "matrix-enrol"}), 401),
        (json!({"code": "not-a-code", "device_id": " "}), 400),
    ] {
        rows.push(row(Cred::NoToken, M::POST, "/api/v1/enrol", "/api/v1/enrol".into(), Body::Json(body), expect));
    }

    // Every other route refuses a request without a valid token of an enabled user.
    for (method, route, path, body) in authenticated_requests(w) {
        for cred in REFUSED_CREDS {
            // The one route a refresh token opens.
            let expect = if cred == Cred::Refresh && route == "/api/v1/auth/refresh" { 200 } else { 401 };
            rows.push(row(cred, method.clone(), route, path.clone(), body.clone(), expect));
        }
    }
    // Sync needs a token issued to a device: that is how changes are attributed.
    rows.push(row(Cred::Deviceless, M::POST, "/api/v1/sync", "/api/v1/sync".into(), Body::Sync(empty_sync()), 403));
    // A file no survey one may read references is not found, for everyone (who may read
    // which file is tests/tests/media.rs's journey).
    for cred in PEOPLE.iter().map(|&p| Cred::As(p)).chain([Cred::Deviceless]) {
        rows.push(row(cred, M::GET, "/api/v1/media/{sha256}", unknown_media(), Body::None, 404));
    }
    // The same token works where no device is needed.
    rows.push(Row {
        check: Check::Username(Who::EnumK.name()),
        ..row(Cred::Deviceless, M::GET, "/api/v1/me", "/api/v1/me".into(), Body::None, 200)
    });

    for who in PEOPLE {
        let me = Cred::As(who);
        let admin = who == Who::Admin;
        let admin_only = |ok: u16| if admin { ok } else { 403 };
        let made = format!("made-by-{}", who.name());

        rows.push(Row {
            check: Check::Username(who.name()),
            ..row(me, M::GET, "/api/v1/me", "/api/v1/me".into(), Body::None, 200)
        });
        rows.push(row(Cred::Fresh(who), M::POST, "/api/v1/auth/logout", "/api/v1/auth/logout".into(), Body::None, 204));
        // Saved exports are the administrators'; a session token downloads none (only an
        // export's own token does).
        rows.push(row(
            me,
            M::GET,
            "/api/v1/projects/{project}/saved-exports",
            format!("/api/v1/projects/{pilot}/saved-exports"),
            Body::None,
            admin_only(200),
        ));
        rows.push(row(
            me,
            M::POST,
            "/api/v1/projects/{project}/saved-exports",
            format!("/api/v1/projects/{pilot}/saved-exports"),
            Body::Json(json!({"name": made.clone(), "form_id": "household"})),
            admin_only(201),
        ));
        rows.push(row(
            me,
            M::DELETE,
            "/api/v1/projects/{project}/saved-exports/{id}",
            format!("/api/v1/projects/{pilot}/saved-exports/999999"),
            Body::None,
            admin_only(404),
        ));
        rows.push(row(
            me,
            M::GET,
            "/api/v1/saved-exports/{id}/download",
            "/api/v1/saved-exports/1/download".into(),
            Body::None,
            401,
        ));
        // Webhooks are the administrators'; a target that is not there is not found.
        rows.push(row(
            me,
            M::GET,
            "/api/v1/projects/{project}/webhooks",
            format!("/api/v1/projects/{pilot}/webhooks"),
            Body::None,
            admin_only(200),
        ));
        rows.push(row(
            me,
            M::POST,
            "/api/v1/projects/{project}/webhooks",
            format!("/api/v1/projects/{pilot}/webhooks"),
            Body::Json(json!({"url": "https://example.org/hook", "events": ["submission.approved"]})),
            admin_only(201),
        ));
        rows.push(row(
            me,
            M::DELETE,
            "/api/v1/projects/{project}/webhooks/{id}",
            format!("/api/v1/projects/{pilot}/webhooks/999999"),
            Body::None,
            admin_only(404),
        ));
        rows.push(row(
            me,
            M::GET,
            "/api/v1/projects/{project}/webhooks/{id}/deliveries",
            format!("/api/v1/projects/{pilot}/webhooks/999999/deliveries"),
            Body::None,
            admin_only(404),
        ));
        // Feed tokens: everyone who may export holds their own; enumerators none. Nobody
        // revokes a token that is not theirs (the matrix never made token 999999).
        let exports = if who.role() == Role::Enumerator { 403 } else { 200 };
        rows.push(row(me, M::GET, "/api/v1/me/feed-tokens", "/api/v1/me/feed-tokens".into(), Body::None, exports));
        rows.push(row(
            me,
            M::POST,
            "/api/v1/me/feed-tokens",
            "/api/v1/me/feed-tokens".into(),
            Body::Json(json!({"label": made.clone()})),
            if exports == 200 { 201 } else { 403 },
        ));
        rows.push(row(
            me,
            M::DELETE,
            "/api/v1/me/feed-tokens/{id}",
            "/api/v1/me/feed-tokens/999999".into(),
            Body::None,
            if exports == 200 { 404 } else { 403 },
        ));
        // A session token is not refreshed: only a device's refresh token gets a new one
        // (else an hour's token could be made to last for ever).
        rows.push(row(me, M::POST, "/api/v1/auth/refresh", "/api/v1/auth/refresh".into(), Body::None, 403));
        rows.push(row(me, M::GET, "/api/v1/attention", "/api/v1/attention".into(), Body::None, admin_only(200)));
        let settings = format!("/api/v1/projects/{pilot}/settings");
        let member = if admin || who.in_pilot() { 200 } else { 404 };
        rows.push(row(me, M::GET, "/api/v1/projects/{project}/settings", settings.clone(), Body::None, member));
        rows.push(row(
            me,
            M::PUT,
            "/api/v1/projects/{project}/settings",
            settings,
            Body::Json(json!({"freeze_approved": false})),
            admin_only(204),
        ));
        rows.push(Row {
            check: Check::Sync,
            ..row(me, M::POST, "/api/v1/sync", "/api/v1/sync".into(), Body::Sync(empty_sync()), 200)
        });

        // Forms: each sees and downloads their project's, admins all.
        let visible_forms = match (admin, who.in_pilot()) {
            (true, _) => names(["household", "household_q"]),
            (false, true) => names(["household"]),
            (false, false) => names(["household_q"]),
        };
        rows.push(Row {
            check: Check::Exactly("form_id", visible_forms),
            ..row(me, M::GET, "/api/v1/forms", "/api/v1/forms".into(), Body::None, 200)
        });
        for (form, mine) in [("household", who.in_pilot()), ("household_q", who.in_coastal())] {
            let expect = if admin || mine { 200 } else { 404 };
            let p = format!("/api/v1/forms/{form}/{VERSION}");
            rows.push(row(me, M::GET, "/api/v1/forms/{form_id}/{version}", p, Body::None, expect));
            let p = format!("/api/v1/forms/{form}/{VERSION}/definition");
            rows.push(row(me, M::GET, "/api/v1/forms/{form_id}/{version}/definition", p, Body::None, expect));
            // The form reads no file: found or not, nobody learns more than a 404.
            let p = format!("/api/v1/forms/{form}/{VERSION}/files/villages.csv");
            rows.push(row(me, M::GET, "/api/v1/forms/{form_id}/{version}/files/{name}", p, Body::None, 404));
            // Exports: never enumerators; others of the form's project (supervisors get their
            // teams' surveys only, checked in exports.rs); a form of another project is not found.
            let expect = match who.role() {
                Role::Enumerator => 403,
                _ if admin || mine => 200,
                _ => 404,
            };
            let p = format!("/api/v1/forms/{form}/export?format=ndjson&review=any");
            rows.push(row(me, M::GET, "/api/v1/forms/{form_id}/export", p, Body::None, expect));
        }
        rows.push(row(
            me,
            M::POST,
            "/api/v1/projects/{project}/forms",
            format!("/api/v1/projects/{pilot}/forms"),
            Body::Json(form_json(&household_form())),
            admin_only(201),
        ));

        // Users.
        rows.push(Row {
            check: Check::Includes("username", PEOPLE.iter().map(|p| p.name().to_owned()).collect()),
            ..row(me, M::GET, "/api/v1/users", "/api/v1/users".into(), Body::None, admin_only(200))
        });
        let role = if admin { "enumerator" } else { "admin" };
        rows.push(row(
            me,
            M::POST,
            "/api/v1/users",
            "/api/v1/users".into(),
            Body::Json(json!({"username": made, "password": PASSWORD, "role": role})),
            admin_only(201),
        ));
        // Non-admins try to disable the admin; the admin harmlessly re-enables a teammate.
        let (target, disabled) = if admin { (w.id(Who::EnumK2), false) } else { (w.id(Who::Admin), true) };
        rows.push(row(
            me,
            M::PUT,
            "/api/v1/users/{user}/disabled",
            format!("/api/v1/users/{target}/disabled"),
            Body::Json(json!({"disabled": disabled})),
            admin_only(204),
        ));
        // Nobody but the admin resets a password (here the admin's own, which is refused: one
        // changes one's own with the current one). A new password too short is refused before
        // the current one is checked, so no row counts as a failed login.
        rows.push(row(
            me,
            M::PUT,
            "/api/v1/users/{user}/password",
            format!("/api/v1/users/{}/password", w.id(Who::Admin)),
            Body::Json(json!({"password": "a temporary password"})),
            if admin { 400 } else { 403 },
        ));
        rows.push(row(
            me,
            M::PUT,
            "/api/v1/me/password",
            "/api/v1/me/password".into(),
            Body::Json(json!({"current_password": PASSWORD, "new_password": "short"})),
            400,
        ));
        // Devices: the owner, their supervisor (kindia's) and administrators; revoking a
        // device they do not have is then not found.
        let manages = matches!(who, Who::Admin | Who::SupK | Who::EnumK);
        rows.push(row(
            me,
            M::GET,
            "/api/v1/users/{user}/devices",
            format!("/api/v1/users/{}/devices", w.id(Who::EnumK)),
            Body::None,
            if manages { 200 } else { 403 },
        ));
        rows.push(row(
            me,
            M::DELETE,
            "/api/v1/users/{user}/devices/{device}",
            format!("/api/v1/users/{}/devices/0000000000000000", w.id(Who::EnumK)),
            Body::None,
            if manages { 404 } else { 403 },
        ));
        // Enrolment codes: the same people see and revoke them; only an administrator or
        // the enumerator's supervisor makes one (never a phone for itself).
        let enrolments = format!("/api/v1/users/{}/enrolments", w.id(Who::EnumK));
        let route = "/api/v1/users/{user}/enrolments";
        rows.push(row(me, M::GET, route, enrolments.clone(), Body::None, if manages { 200 } else { 403 }));
        let label = Body::Json(json!({"label": "matrix"}));
        let enrols = matches!(who, Who::Admin | Who::SupK);
        rows.push(row(me, M::POST, route, enrolments.clone(), label, if enrols { 201 } else { 403 }));
        rows.push(row(
            me,
            M::DELETE,
            "/api/v1/users/{user}/enrolments/{id}",
            format!("{enrolments}/999999"),
            Body::None,
            if manages { 404 } else { 403 },
        ));

        // Projects: each sees their own.
        let (visible, check) = match (admin, who.in_pilot()) {
            (true, _) => (names(["pilot", "coastal"]), true),
            (false, true) => (names(["pilot"]), false),
            (false, false) => (names(["coastal"]), false),
        };
        let check = if check { Check::Includes("name", visible) } else { Check::Exactly("name", visible) };
        rows.push(Row { check, ..row(me, M::GET, "/api/v1/projects", "/api/v1/projects".into(), Body::None, 200) });
        rows.push(row(
            me,
            M::POST,
            "/api/v1/projects",
            "/api/v1/projects".into(),
            Body::Json(json!({"name": made})),
            admin_only(201),
        ));
        // Non-admins try to join the other project; the admin re-adds pilot's analyst.
        let (project, user) = match (admin, who.in_pilot()) {
            (true, _) => (pilot, w.id(Who::AnalystP)),
            (false, true) => (coastal, w.id(who)),
            (false, false) => (pilot, w.id(who)),
        };
        rows.push(row(
            me,
            M::POST,
            "/api/v1/projects/{project}/members",
            format!("/api/v1/projects/{project}/members"),
            Body::Json(json!({"user_id": user})),
            admin_only(204),
        ));
        rows.push(row(
            me,
            M::POST,
            "/api/v1/projects/{project}/teams",
            format!("/api/v1/projects/{pilot}/teams"),
            Body::Json(json!({"name": made})),
            admin_only(201),
        ));

        // Teams: each sees their own; members see their team's members.
        let check = if admin {
            Check::Includes("name", names(["kindia", "labe", "boke"]))
        } else {
            Check::Exactly("name", names(who.teams()))
        };
        rows.push(Row { check, ..row(me, M::GET, "/api/v1/teams", "/api/v1/teams".into(), Body::None, 200) });
        for (team, team_name, members) in [
            (kindia, "kindia", names([Who::SupK.name(), Who::EnumK.name(), Who::EnumK2.name(), GONE])),
            (boke, "boke", names([Who::SupQ.name(), Who::EnumQ.name()])),
        ] {
            let member = admin || who.teams().contains(&team_name);
            let expect = if member { 200 } else { 403 };
            let check = if member { Check::Exactly("username", members) } else { Check::Nothing };
            let p = format!("/api/v1/teams/{team}/members");
            rows.push(Row { check, ..row(me, M::GET, "/api/v1/teams/{team}/members", p, Body::None, expect) });
        }
        // Non-admins try to join kindia (its members too: joining is the admin's call).
        let user = if admin { w.id(Who::EnumK) } else { w.id(who) };
        rows.push(row(
            me,
            M::POST,
            "/api/v1/teams/{team}/members",
            format!("/api/v1/teams/{kindia}/members"),
            Body::Json(json!({"user_id": user})),
            admin_only(204),
        ));
        rows.push(row(me, M::GET, "/api/v1/audit", "/api/v1/audit".into(), Body::None, admin_only(200)));
        // Entity lists: the index answers everyone; a list no form declares does not exist,
        // once the caller may do what they ask at all (seeding and filing are the
        // administrators', settling the reviewers').
        rows.push(row(me, M::GET, "/api/v1/entity-lists", "/api/v1/entity-lists".into(), Body::None, 200));
        let ghost_list = "/api/v1/entity-lists/ghost-list";
        rows.push(row(
            me,
            M::GET,
            "/api/v1/entity-lists/{list}/entities",
            format!("{ghost_list}/entities"),
            Body::None,
            404,
        ));
        for (method, route, tail, body, expect) in [
            (M::GET, "/api/v1/entity-lists/{list}/entities/{id}", "/entities/e1", Body::None, 404),
            (M::POST, "/api/v1/entity-lists/{list}/import", "/import", Body::None, admin_only(404)),
            (
                M::GET,
                "/api/v1/entity-lists/{list}/export",
                "/export",
                Body::None,
                if who.role() == Role::Enumerator { 403 } else { 404 },
            ),
            (
                M::PUT,
                "/api/v1/entity-lists/{list}/team",
                "/team",
                Body::Json(json!({"ids": ["e1"], "team": null})),
                admin_only(404),
            ),
            (
                M::POST,
                "/api/v1/entity-lists/{list}/entities/{id}/settle",
                "/entities/e1/settle",
                Body::Json(json!({"property": "label", "value": "x"})),
                if matches!(who.role(), Role::Supervisor | Role::Admin) { 404 } else { 403 },
            ),
            (
                M::PUT,
                "/api/v1/entity-lists/{list}/entities/{id}/assignee",
                "/entities/e1/assignee",
                Body::Json(json!({"username": null})),
                404,
            ),
            (M::POST, "/api/v1/entity-lists/{list}/entities/{id}/delete", "/entities/e1/delete", Body::None, 404),
            (M::POST, "/api/v1/entity-lists/{list}/entities/{id}/restore", "/entities/e1/restore", Body::None, 404),
        ] {
            rows.push(row(me, method, route, format!("{ghost_list}{tail}"), body, expect));
        }
        // Lists are narrowed to what one may read (checked in tests/review.rs); bulk reviews
        // report refusals per survey.
        rows.push(row(me, M::GET, "/api/v1/surveys", "/api/v1/surveys".into(), Body::None, 200));
        rows.push(row(
            me,
            M::POST,
            "/api/v1/reviews",
            "/api/v1/reviews".into(),
            Body::Json(json!({"surveys": [], "action": "approve"})),
            200,
        ));

        // Surveys of the own team, another team and another project. A survey one may not
        // read answers 404, as if it did not exist.
        for s in [S::K, S::L, S::Q] {
            let id = w.survey(s);
            let read = if may_read(who, s) { 200 } else { 404 };
            let change = match (may_read(who, s), may_supervise(who, s)) {
                (false, _) => 404,
                (true, true) => 204,
                (true, false) => 403,
            };
            rows.push(row(me, M::GET, "/api/v1/surveys/{survey}", format!("/api/v1/surveys/{id}"), Body::None, read));
            rows.push(row(
                me,
                M::GET,
                "/api/v1/surveys/{survey}/history",
                format!("/api/v1/surveys/{id}/history?path=village"),
                Body::None,
                read,
            ));
            rows.push(row(
                me,
                M::GET,
                "/api/v1/surveys/{survey}/conflicts",
                format!("/api/v1/surveys/{id}/conflicts"),
                Body::None,
                read,
            ));
            rows.push(row(
                me,
                M::PUT,
                "/api/v1/surveys/{survey}/answers",
                format!("/api/v1/surveys/{id}/answers"),
                Body::Json(
                    json!({"path": "head_name", "value": {"type": "text", "value": format!("set by {}", who.name())}}),
                ),
                change,
            ));
            rows.push(row(
                me,
                M::POST,
                "/api/v1/surveys/{survey}/review",
                format!("/api/v1/surveys/{id}/review"),
                Body::Json(json!({"action": "comment", "comment": format!("seen by {}", who.name())})),
                change,
            ));
            // Assigning to the survey's own author changes nobody's access.
            rows.push(row(
                me,
                M::POST,
                "/api/v1/surveys/{survey}/assignees",
                format!("/api/v1/surveys/{id}/assignees"),
                Body::Json(json!({"user_id": w.id(s.author())})),
                change,
            ));
        }
    }

    // Things that do not exist, even for the admin.
    let ghost = "00000000-0000-4000-8000-000000000000";
    let admin = Cred::As(Who::Admin);
    rows.push(row(admin, M::GET, "/api/v1/surveys/{survey}", format!("/api/v1/surveys/{ghost}"), Body::None, 404));
    rows.push(row(admin, M::GET, "/api/v1/forms/{form_id}/{version}", "/api/v1/forms/ghost/1".into(), Body::None, 404));
    rows.push(row(
        admin,
        M::PUT,
        "/api/v1/users/{user}/disabled",
        "/api/v1/users/987654/disabled".into(),
        Body::Json(json!({"disabled": true})),
        404,
    ));
    rows.push(row(
        admin,
        M::PUT,
        "/api/v1/users/{user}/password",
        "/api/v1/users/987654/password".into(),
        Body::Json(json!({"password": "a temporary password"})),
        404,
    ));
    rows.push(row(
        admin,
        M::GET,
        "/api/v1/users/{user}/devices",
        "/api/v1/users/987654/devices".into(),
        Body::None,
        404,
    ));
    // A form id belongs to one project.
    rows.push(row(
        admin,
        M::POST,
        "/api/v1/projects/{project}/forms",
        format!("/api/v1/projects/{pilot}/forms"),
        Body::Json(form_json(&form_q())),
        409,
    ));
    rows
}

/// The stable error code the API uses with each status, for `row`.
fn code_for(status: u16, row: &Row) -> Option<&'static str> {
    match status {
        400 => Some("invalid"),
        // The app tells a person whose device was revoked apart from one whose login ended
        // (a saved export's link takes its own token, never a session's).
        401 if row.cred == Cred::RevokedDevice && row.route != "/api/v1/saved-exports/{id}/download" => {
            Some("device_revoked")
        }
        // A device renews an expired session token rather than log in again.
        401 if row.cred == Cred::Expired && row.route != "/api/v1/saved-exports/{id}/download" => Some("token_expired"),
        401 => Some("unauthorized"),
        403 => Some("forbidden"),
        404 => Some("not_found"),
        409 => Some("conflict"),
        _ => None,
    }
}

fn list_field(body: &Json, field: &str) -> Option<BTreeSet<String>> {
    body.as_array()?.iter().map(|item| item[field].as_str().map(str::to_owned)).collect()
}

/// Runs one row; returns why it failed, if it did.
fn run(w: &World, row: &Row, fresh: &mut u32) -> Option<String> {
    let mut request = http().request(row.method.clone(), format!("{}{}", w.url, row.path));
    let mut fresh_token = None;
    request = match row.cred {
        Cred::As(who) => request.bearer_auth(w.token(who)),
        Cred::Fresh(who) => {
            *fresh += 1;
            let token = w.server.token(who.name(), &format!("fresh-{fresh}"));
            fresh_token = Some(token.clone());
            request.bearer_auth(token)
        }
        Cred::NoToken => request,
        Cred::NotBearer => request.header("authorization", format!("Basic {}", w.token(Who::Admin))),
        other => request.bearer_auth(&w.bad[&other]),
    };
    request = match &row.body {
        Body::None => request,
        Body::Json(j) => request.json(j),
        Body::Sync(bytes) => request.header("content-type", wire::CONTENT_TYPE).body(bytes.clone()),
    };
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().unwrap();
    let text = || String::from_utf8_lossy(&bytes).chars().take(300).collect::<String>();
    if status != row.expect {
        return Some(format!("answered {status}: {}", text()));
    }
    // A HEAD answer has no body to check.
    if status >= 400 && row.method != Method::HEAD {
        let body: Json = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
        let message_ok = body["message"].as_str().is_some_and(|m| !m.is_empty());
        let code = code_for(status, row);
        if code.is_some_and(|c| body["code"] != c) || !message_ok {
            return Some(format!("error body is not {{code: {code:?}, message}}: {}", text()));
        }
        return None;
    }
    let json = || serde_json::from_slice::<Json>(&bytes).unwrap_or(Json::Null);
    match &row.check {
        Check::Nothing => {}
        Check::Username(name) => {
            if json()["username"] != *name {
                return Some(format!("is someone else: {}", text()));
            }
        }
        Check::Exactly(field, expected) => {
            let got = list_field(&json(), field);
            if got.as_ref() != Some(expected) {
                return Some(format!("lists {got:?}, expected exactly {expected:?}"));
            }
        }
        Check::Includes(field, expected) => {
            let got = list_field(&json(), field).unwrap_or_default();
            if !expected.is_subset(&got) {
                return Some(format!("lists {got:?}, expected at least {expected:?}"));
            }
        }
        Check::Sync => {
            if wire::decode::<wire::SyncResponse>(&bytes).is_err() {
                return Some("the sync response does not decode".into());
            }
        }
    }
    if let Some(token) = fresh_token {
        let after = http().get(format!("{}/api/v1/me", w.url)).bearer_auth(token).send().unwrap();
        if after.status() != 401 {
            return Some(format!("the logged-out token still works ({})", after.status()));
        }
    }
    None
}

#[test]
fn the_authorization_matrix_holds() {
    let w = World::new();
    let rows = matrix(&w);

    // Every route of the API has rows.
    let (status, doc) = w.get(Who::Admin, "/api/openapi.json");
    assert_eq!(status, 200);
    let mut documented: BTreeSet<(String, String)> = BTreeSet::new();
    for (route, methods) in doc["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), route.clone()));
        }
    }
    documented.insert(("GET".into(), "/api/openapi.json".into()));
    let covered: BTreeSet<(String, String)> = rows.iter().map(|r| (r.method.to_string(), r.route.to_owned())).collect();
    assert_eq!(documented, covered, "every route of the API needs rows in the matrix");

    let mut fresh = 0;
    let failures: Vec<String> =
        rows.iter().filter_map(|row| run(&w, row, &mut fresh).map(|why| format!("  {row}\n      {why}"))).collect();
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), rows.len(), failures.join("\n"));
    println!("{} rows passed", rows.len());

    // Nothing a refused request asked for exists.
    let usernames = |who| list_field(&w.get(who, "/api/v1/users").1, "username").unwrap();
    let mut expected_users: BTreeSet<String> = PEOPLE.iter().map(|p| p.name().to_owned()).collect();
    expected_users.extend(names([GONE, "made-by-admin"]));
    assert_eq!(usernames(Who::Admin), expected_users);
    let projects = list_field(&w.get(Who::Admin, "/api/v1/projects").1, "name").unwrap();
    assert_eq!(projects, names(["pilot", "coastal", "made-by-admin"]));
    let teams = list_field(&w.get(Who::Admin, "/api/v1/teams").1, "name").unwrap();
    assert_eq!(teams, names(["kindia", "labe", "boke", "made-by-admin"]));
    let users = w.get(Who::Admin, "/api/v1/users").1;
    let disabled: BTreeSet<String> = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["disabled"] == true)
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(disabled, names([GONE]));
    // Memberships and assignments are as before: everyone reads exactly what they did.
    for who in PEOPLE {
        let projects = list_field(&w.get(who, "/api/v1/projects").1, "name").unwrap();
        let teams = list_field(&w.get(who, "/api/v1/teams").1, "name").unwrap();
        if who != Who::Admin {
            let project = if who.in_pilot() { "pilot" } else { "coastal" };
            assert_eq!(projects, names([project]), "{who:?}");
            assert_eq!(teams, names(who.teams()), "{who:?}");
        }
        for s in [S::K, S::L, S::Q] {
            let (status, _) = w.get(who, &format!("/api/v1/surveys/{}", w.survey(s)));
            assert_eq!(status == 200, may_read(who, s), "{who:?} reading {s:?} after the matrix: {status}");
        }
    }
    // Only allowed people corrected answers, and history says who.
    for s in [S::K, S::L, S::Q] {
        let (status, history) = w.get(Who::Admin, &format!("/api/v1/surveys/{}/history?path=head_name", w.survey(s)));
        assert_eq!(status, 200);
        let authors: BTreeSet<String> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["author"]["user"].as_str().unwrap_or("(unknown)").to_owned())
            .collect();
        let allowed: BTreeSet<String> =
            PEOPLE.iter().filter(|&&p| may_supervise(p, s)).map(|p| p.name().to_owned()).collect();
        assert_eq!(authors, allowed, "corrections of {s:?}");
        let value = &w.survey_json(w.survey(s))["answers"]["head_name"];
        assert!(value.as_str().unwrap().starts_with("set by "), "{value}");
    }
    // The audit log names only admins for administration.
    let (_, audit) = w.get(Who::Admin, "/api/v1/audit?limit=10000");
    for entry in audit.as_array().unwrap() {
        let action = entry["action"].as_str().unwrap();
        let user = entry["user"].as_str().unwrap_or("");
        let admin_action = ["user.", "project.", "team.", "form."].iter().any(|p| action.starts_with(p));
        if admin_action {
            assert_eq!(user, "admin", "{entry}");
        }
        if action.starts_with("survey.") {
            assert!(["admin", "sup-kindia", "sup-labe", "sup-boke"].contains(&user), "{entry}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Sync: what a device's push may change.
// ---------------------------------------------------------------------------------------

#[test]
fn an_enumerator_stores_their_own_surveys_but_not_edits_to_anyone_elses() {
    let w = World::new();
    let phone = w.device(Who::EnumK, "phone-k-own");
    let id = new_survey(&phone, Who::EnumK, "Kindia");
    let response = sync_round(&w.url, &phone.token, &push_request(pending(&phone.store)));
    assert_eq!(response.acks, vec![Ack::Stored]);
    assert_eq!(w.heads(&id), Some(phone.store.heads(&id).unwrap()));
    // Later edits of the author are stored too.
    phone.store.set_answer(&id, &path("hh_size"), Value::Integer(5)).unwrap();
    assert_eq!(sync_round(&w.url, &phone.token, &push_request(pending(&phone.store))).acks, vec![Ack::Stored]);
    assert_eq!(w.survey_json(&id)["answers"]["hh_size"], 5);

    // A teammate, an enumerator of another team and one of another project get the
    // survey's bytes, edit them in their own store and push: refused, nothing stored.
    for intruder in [Who::EnumK2, Who::EnumL, Who::EnumQ] {
        let device = w.device(intruder, &format!("intruder-{}", intruder.name()));
        device.store.merge(&id, &w.history(&id)).unwrap();
        device.store.set_answer(&id, &path("village"), Value::Text(format!("moved by {}", intruder.name()))).unwrap();
        let before = w.heads(&id);
        let response = sync_round(&w.url, &device.token, &push_request(pending(&device.store)));
        assert_eq!(response.acks.len(), 1);
        assert!(refused(&response.acks[0], 403), "{intruder:?}: {:?}", response.acks);
        assert_eq!(w.heads(&id), before, "{intruder:?}'s push changed the survey");
        assert_eq!(w.survey_json(&id)["answers"]["village"], "Kindia");
        // Nor does it reach them in a pull: they may not read it.
        assert!(response.pull.iter().all(|p| wire::survey_id_string(&p.survey) != id), "{intruder:?} pulled it");
    }

    // Once the team's supervisor assigns the survey to the teammate, their edit is stored.
    let assign = w.send(
        Who::SupK,
        Method::POST,
        &format!("/api/v1/surveys/{id}/assignees"),
        json!({"user_id": w.id(Who::EnumK2)}),
    );
    assert_eq!(assign, 204);
    let teammate = w.device(Who::EnumK2, "assigned-phone");
    teammate.store.merge(&id, &w.history(&id)).unwrap();
    teammate.store.set_answer(&id, &path("head_name"), Value::Text("Mariama".into())).unwrap();
    let response = sync_round(&w.url, &teammate.token, &push_request(pending(&teammate.store)));
    assert_eq!(response.acks, vec![Ack::Stored]);
    assert_eq!(w.survey_json(&id)["answers"]["head_name"], "Mariama");
}

#[test]
fn only_supervisors_and_admins_touch_the_review() {
    let w = World::new();
    let phone = w.device(Who::EnumK, "phone-k-review");
    let id = new_survey(&phone, Who::EnumK, "Kindia");
    assert_eq!(sync_round(&w.url, &phone.token, &push_request(pending(&phone.store))).acks, vec![Ack::Stored]);

    let approve = |doc: &mut AutoCommit| {
        let review = root_map(doc, "review");
        doc.put(&review, "status", "approved").unwrap();
    };
    let comment = |doc: &mut AutoCommit| {
        let review = root_map(doc, "review");
        let comments = match doc.get(&review, "comments").unwrap() {
            Some((_, id)) => id,
            None => panic!("no comments list"),
        };
        let c = doc.insert_object(&comments, 0, automerge::ObjType::Map).unwrap();
        doc.put(&c, "author", Who::EnumK.name()).unwrap();
        doc.put(&c, "text", "all good, trust me").unwrap();
    };
    // The author approving their own survey, or commenting the review: refused whole.
    for (what, edit) in [("approve", &approve as &dyn Fn(&mut AutoCommit)), ("comment", &comment)] {
        let before = w.heads(&id);
        let push = craft(&id, &w.history(&id), &device_key(&phone), edit);
        let response = sync_round(&w.url, &phone.token, &push_request(vec![push]));
        assert!(refused(&response.acks[0], 403), "{what}: {:?}", response.acks);
        assert_eq!(w.heads(&id), before, "{what}");
    }
    let review = &w.survey_json(&id)["review"];
    assert!(review["status"].is_null() && review["comments"].as_array().unwrap().is_empty(), "{review}");

    // The same crafted changes from the team's supervisor, then an admin, are stored.
    for (who, status) in [(Who::SupK, "approved"), (Who::Admin, "returned")] {
        let device = w.device(who, &format!("review-{}", who.name()));
        let push = craft(&id, &w.history(&id), &device_key(&device), |doc| {
            let review = root_map(doc, "review");
            doc.put(&review, "status", status).unwrap();
        });
        let response = sync_round(&w.url, &device.token, &push_request(vec![push]));
        assert_eq!(response.acks, vec![Ack::Stored], "{who:?}");
        assert_eq!(w.survey_json(&id)["review"]["status"], status);
        let push = craft(&id, &w.history(&id), &device_key(&device), comment);
        assert_eq!(sync_round(&w.url, &device.token, &push_request(vec![push])).acks, vec![Ack::Stored], "{who:?}");
    }
    assert_eq!(w.survey_json(&id)["review"]["comments"].as_array().unwrap().len(), 2);
}

#[test]
fn an_enumerator_cannot_create_a_survey_already_reviewed() {
    let w = World::new();
    let phone = w.device(Who::EnumK, "phone-k-self-approve");
    let id = uuid_like(7);
    // A legitimate creation change, plus `review.status` in the same change.
    let author = Author::new(Who::EnumK.name(), "phone-k-self-approve", Role::Enumerator);
    let key = terrain_core::identity::parse_device_key(&device_key(&phone)).unwrap();
    let legit = SurveyDoc::create(
        &household_form(),
        &id,
        &author,
        terrain_core::identity::new_actor_for(Some(key)),
        chrono::Utc::now(),
        &Default::default(),
    )
    .unwrap();
    let root = match legit.automerge().hydrate(ROOT, None).unwrap() {
        automerge::hydrate::Value::Map(m) => m,
        other => panic!("{other:?}"),
    };
    let mut doc = AutoCommit::new().with_actor(terrain_core::identity::new_actor_for(Some(key)));
    doc.init_root_from_hydrate(&root).unwrap();
    let review = root_map(&doc, "review");
    doc.put(&review, "status", "approved").unwrap();
    doc.commit_with(CommitOptions::default().with_time(chrono::Utc::now().timestamp()));
    let push = PushedSurvey {
        survey: wire::survey_id_bytes(&id).unwrap(),
        base: Vec::new(),
        heads: wire::hashes(&doc.get_heads()),
        changes: doc.save_after(&[]),
    };
    let response = sync_round(&w.url, &phone.token, &push_request(vec![push]));
    assert!(refused(&response.acks[0], 403), "an enumerator self-approved a new survey: {:?}", response.acks);
    assert_eq!(w.heads(&id), None);
}

/// A deterministic survey id (a valid UUID) for crafted surveys.
fn uuid_like(n: u8) -> String {
    format!("7e57{n:04x}-0000-4000-8000-{:012x}", u64::from(n) * 7919)
}

#[test]
fn nobody_rewrites_the_metadata_or_the_root() {
    let w = World::new();
    let phone = w.device(Who::EnumK, "phone-k-meta");
    let id = new_survey(&phone, Who::EnumK, "Kindia");
    assert_eq!(sync_round(&w.url, &phone.token, &push_request(pending(&phone.store))).acks, vec![Ack::Stored]);

    // Each is refused whole: 403 for touching a forbidden area, 422 where the result is
    // not even a survey any more.
    type Edit = fn(&mut AutoCommit);
    let edits: [(&str, u16, Edit); 6] = [
        ("meta.created_by", 403, |doc| {
            let meta = root_map(doc, "meta");
            doc.put(&meta, "created_by", "enum-kindia-2").unwrap();
        }),
        ("meta.form_id", 403, |doc| {
            let meta = root_map(doc, "meta");
            doc.put(&meta, "form_id", "household_q").unwrap();
        }),
        ("meta.created_at", 403, |doc| {
            let meta = root_map(doc, "meta");
            doc.put(&meta, "created_at", automerge::ScalarValue::Timestamp(0)).unwrap();
        }),
        ("a new root key", 403, |doc| doc.put(ROOT, "extra", 1_i64).unwrap()),
        ("root.review replaced", 403, |doc| {
            doc.put_object(ROOT, "review", automerge::ObjType::Map).unwrap();
        }),
        ("root.answers deleted", 422, |doc| doc.delete(ROOT, "answers").unwrap()),
    ];
    for who in [Who::EnumK, Who::SupK, Who::Admin] {
        let device = if who == Who::EnumK { None } else { Some(w.device(who, &format!("meta-{}", who.name()))) };
        let device = device.as_ref().unwrap_or(&phone);
        for (what, status, edit) in edits {
            let before = w.heads(&id);
            let push = craft(&id, &w.history(&id), &device_key(device), edit);
            let response = sync_round(&w.url, &device.token, &push_request(vec![push]));
            assert!(refused(&response.acks[0], status), "{who:?} rewrote {what}: {:?}", response.acks);
            assert_eq!(w.heads(&id), before, "{who:?} {what}");
        }
    }
    let meta = &w.survey_json(&id)["meta"];
    assert_eq!(meta["created_by"], Who::EnumK.name());
    assert_eq!(meta["form_id"], "household");

    // Control: the same way of crafting, on `meta.status`, is a permitted finalize.
    let finalize = craft(&id, &w.history(&id), &device_key(&phone), |doc| {
        let meta = root_map(doc, "meta");
        doc.put(&meta, "status", "finalized").unwrap();
    });
    assert_eq!(sync_round(&w.url, &phone.token, &push_request(vec![finalize])).acks, vec![Ack::Stored]);
    assert_eq!(w.survey_json(&id)["meta"]["status"], "finalized");

    // Starting a survey in someone else's name: a store of enum-kindia's device that claims
    // to be enum-kindia-2.
    let impostor = Store::open(
        w.dir.path().join("impostor.db"),
        Author::new(Who::EnumK2.name(), "phone-k-meta", Role::Enumerator),
    )
    .unwrap();
    impostor.set_device_key(&device_key(&phone)).unwrap();
    impostor.save_form(&household_form()).unwrap();
    let forged = impostor.create_survey("household", VERSION).unwrap();
    let response = sync_round(&w.url, &phone.token, &push_request(pending(&impostor)));
    assert!(refused(&response.acks[0], 403), "{:?}", response.acks);
    assert_eq!(w.heads(&forged), None);
    // Nor a survey of another project's form.
    let foreign = phone.store.create_survey("household_q", VERSION).unwrap();
    let push: Vec<_> =
        pending(&phone.store).into_iter().filter(|p| wire::survey_id_string(&p.survey) == foreign).collect();
    let response = sync_round(&w.url, &phone.token, &push_request(push));
    assert!(refused(&response.acks[0], 403), "{:?}", response.acks);
    assert_eq!(w.heads(&foreign), None);
}

#[test]
fn analysts_push_nothing_and_each_role_pulls_what_it_may_read() {
    let w = World::new();
    // An analyst's new survey, and an analyst's edit of a survey of their project.
    let analyst = w.device(Who::AnalystP, "analyst-tablet");
    let bare = analyst.store.create_survey("household", VERSION).unwrap();
    let filled = new_survey(&analyst, Who::AnalystP, "Analyst village");
    let response = sync_round(&w.url, &analyst.token, &push_request(pending(&analyst.store)));
    assert_eq!(response.acks.len(), 2);
    for (ack, id) in response.acks.iter().zip([&bare, &filled]) {
        assert!(refused(ack, 403), "{:?}", response.acks);
        assert_eq!(w.heads(id), None);
    }
    let s = w.survey(S::K);
    let before = w.heads(s);
    let edit = craft(s, &w.history(s), &device_key(&analyst), |doc| {
        let answers = root_map(doc, "answers");
        doc.put(&answers, "village", "Edited by an analyst").unwrap();
    });
    let response = sync_round(&w.url, &analyst.token, &push_request(vec![edit]));
    assert!(refused(&response.acks[0], 403), "{:?}", response.acks);
    assert_eq!(w.heads(s), before);

    // Asking for a survey by id does not get around the rules either.
    for who in [Who::EnumQ, Who::EnumK2, Who::AnalystQ, Who::SupL] {
        let device = w.device(who, &format!("want-{}", who.name()));
        let request = SyncRequest {
            want: vec![wire::WantedSurvey { survey: wire::survey_id_bytes(s).unwrap(), heads: Vec::new() }],
            ..push_request(Vec::new())
        };
        let response = sync_round(&w.url, &device.token, &request);
        assert!(response.pull.iter().all(|p| wire::survey_id_string(&p.survey) != s), "{who:?} got {s} by asking");
    }

    // Each role's fresh device pulls exactly the surveys it may read.
    for who in PEOPLE {
        let device = w.device(who, &format!("pull-{}", who.name()));
        let report = device.sync();
        assert!(report.failed.is_empty(), "{who:?}: {:?}", report.failed);
        let held: BTreeSet<String> = device
            .store
            .list(&terrain_core::SurveyQuery { limit: Some(1000), ..Default::default() })
            .unwrap()
            .into_iter()
            .map(|s| s.survey_id)
            .collect();
        let expected: BTreeSet<String> =
            [S::K, S::L, S::Q].into_iter().filter(|&s| may_read(who, s)).map(|s| w.survey(s).to_owned()).collect();
        assert_eq!(held, expected, "{who:?} pulled");
    }
}

#[test]
fn supervisors_correct_their_teams_surveys_only() {
    let w = World::new();
    let id = w.survey(S::K).to_owned();
    let correct = |who: Who, value: &str| {
        w.send(
            who,
            Method::PUT,
            &format!("/api/v1/surveys/{id}/answers"),
            json!({"path": "village", "value": {"type": "text", "value": value}}),
        )
    };
    for (who, expect) in [
        (Who::SupL, 404),
        (Who::SupQ, 404),
        (Who::EnumK2, 404),
        (Who::EnumK, 403),
        (Who::AnalystP, 403),
        (Who::AnalystQ, 404),
    ] {
        let before = w.heads(&id);
        assert_eq!(correct(who, "wrong"), expect, "{who:?}");
        assert_eq!(w.heads(&id), before, "{who:?}");
    }
    assert_eq!(correct(Who::SupK, "Kindia centre"), 204);
    assert_eq!(w.survey_json(&id)["answers"]["village"], "Kindia centre");
    let (_, history) = w.get(Who::Admin, &format!("/api/v1/surveys/{id}/history?path=village"));
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(last["author"]["user"], Who::SupK.name(), "{history}");
    // The correction reaches the author's phone.
    let phone = w.device(Who::EnumK, "phone-enum-kindia");
    phone.sync();
    let survey = phone.store.survey(&id).unwrap();
    assert_eq!(survey.answers.value("village"), Some(&Value::Text("Kindia centre".into())));
}

// ---------------------------------------------------------------------------------------
// Sync: relaying bundles.
// ---------------------------------------------------------------------------------------

/// An enumerator's offline work as a bundle: two surveys written after logging in once.
fn offline_bundle(w: &World, who: Who, device: &str) -> (Vec<String>, Vec<u8>) {
    let phone = w.device(who, device);
    let a = new_survey(&phone, who, "Written offline");
    let b = new_survey(&phone, who, "Also offline");
    phone.store.set_answer(&b, &path("hh_size"), Value::Integer(3)).unwrap();
    (vec![a, b], bundle::export(&phone.store, None).unwrap())
}

/// Imports `bundle` on a device of `who` and pushes what it now holds.
fn relay(w: &World, who: Who, bundle: &[u8]) -> Vec<Ack> {
    static RELAYS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = RELAYS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let device = w.device(who, &format!("relay-{}-{n}", who.name()));
    let report = bundle::import(&device.store, bundle).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    sync_round(&w.url, &device.token, &push_request(pending(&device.store))).acks
}

#[test]
fn only_the_authors_supervisor_relays_their_bundle() {
    let w = World::new();
    let (ids, bundle) = offline_bundle(&w, Who::EnumK, "offline-phone");

    // Another team's supervisor, another project's, a teammate and an analyst: refused, and
    // nothing stored.
    for who in [Who::SupL, Who::SupQ, Who::EnumK2, Who::AnalystP] {
        let acks = relay(&w, who, &bundle);
        assert_eq!(acks.len(), 2);
        for ack in &acks {
            assert!(refused(ack, 403) && refusal_code(ack) == "relay_forbidden", "{who:?}: {ack:?}");
        }
        for id in &ids {
            assert_eq!(w.heads(id), None, "{who:?} relayed {id}");
        }
    }
    // The author's supervisor: stored.
    assert_eq!(relay(&w, Who::SupK, &bundle), vec![Ack::Stored, Ack::Stored]);
    assert_eq!(w.survey_json(&ids[1])["answers"]["hh_size"], 3);
    assert_eq!(w.survey_json(&ids[0])["meta"]["created_by"], Who::EnumK.name());
    // An admin relays anything.
    let (others, bundle) = offline_bundle(&w, Who::EnumL, "offline-phone-labe");
    assert_eq!(relay(&w, Who::Admin, &bundle), vec![Ack::Stored, Ack::Stored]);
    assert!(w.heads(&others[0]).is_some());

    // Relayed changes are judged by their author's rights, not the relayer's: a teammate's
    // edit of a survey not assigned to them, or the author's own edit of the review, is
    // refused even when their supervisor (who could make it) relays it.
    let k = w.survey(S::K).to_owned();
    let teammate = w.device(Who::EnumK2, "offline-teammate");
    teammate.store.merge(&k, &w.history(&k)).unwrap();
    teammate.store.set_answer(&k, &path("village"), Value::Text("Not theirs".into())).unwrap();
    let author = w.device(Who::EnumK, "offline-author");
    author.store.merge(&k, &w.history(&k)).unwrap();
    let review = craft(&k, &w.history(&k), &device_key(&author), |doc| {
        let review = root_map(doc, "review");
        doc.put(&review, "status", "approved").unwrap();
    });
    author.store.merge(&k, &review.changes).unwrap();
    for (what, device) in [("a teammate's edit", &teammate), ("the author's review", &author)] {
        let before = w.heads(&k);
        let acks = relay(&w, Who::SupK, &bundle::export(&device.store, Some(std::slice::from_ref(&k))).unwrap());
        assert!(refused(&acks[0], 403) && refusal_code(&acks[0]) == "forbidden", "{what}: {acks:?}");
        assert_eq!(w.heads(&k), before, "{what}");
    }

    // The work of a user who was disabled since is not relayed, even by their supervisor.
    let gone = Store::open(w.dir.path().join("gone.db"), Author::new(GONE, "gone-phone", Role::Enumerator)).unwrap();
    let key = w.server.backend().register_device(w.gone, "gone-phone").unwrap();
    gone.set_device_key(&terrain_core::identity::device_key_hex(&key)).unwrap();
    gone.save_form(&household_form()).unwrap();
    let lost = gone.create_survey("household", VERSION).unwrap();
    let acks = relay(&w, Who::SupK, &bundle::export(&gone, None).unwrap());
    assert!(refused(&acks[0], 403) && refusal_code(&acks[0]) == "disabled", "{acks:?}");
    assert_eq!(w.heads(&lost), None);

    // Changes made on a device that never logged in are refused.
    let stray =
        Store::open(w.dir.path().join("stray.db"), Author::new(Who::EnumK.name(), "stray", Role::Enumerator)).unwrap();
    stray.save_form(&household_form()).unwrap();
    let orphan = stray.create_survey("household", VERSION).unwrap();
    let acks = relay(&w, Who::SupK, &bundle::export(&stray, None).unwrap());
    assert!(refused(&acks[0], 403) && refusal_code(&acks[0]) == "unknown_actor", "{acks:?}");
    assert_eq!(w.heads(&orphan), None);
}

#[test]
fn history_attributes_relayed_changes_to_their_author() {
    let w = World::new();
    let (ids, bundle) = offline_bundle(&w, Who::EnumK, "offline-phone-history");
    assert_eq!(relay(&w, Who::SupK, &bundle), vec![Ack::Stored, Ack::Stored]);
    let (status, history) = w.get(Who::Admin, &format!("/api/v1/surveys/{}/history?path=hh_size", ids[1]));
    assert_eq!(status, 200);
    let edits = history.as_array().unwrap();
    assert_eq!(edits.len(), 1, "{history}");
    assert_eq!(
        edits[0]["author"]["user"],
        Who::EnumK.name(),
        "relayed by sup-kindia, written by enum-kindia: {history}"
    );
    // The same holds for changes the author pushed themselves.
    let (_, history) = w.get(Who::Admin, &format!("/api/v1/surveys/{}/history?path=village", w.survey(S::K)));
    assert_eq!(history[0]["author"]["user"], Who::EnumK.name(), "{history}");
}

#[test]
fn a_supervisor_cannot_open_a_survey_to_another_project() {
    let w = World::new();
    let id = w.survey(S::K);
    let status = w.send(
        Who::SupK,
        Method::POST,
        &format!("/api/v1/surveys/{id}/assignees"),
        json!({"user_id": w.id(Who::EnumQ)}),
    );
    assert!(matches!(status, 403 | 404 | 422), "assigning a survey to another project's enumerator answered {status}");
    let (status, _) = w.get(Who::EnumQ, &format!("/api/v1/surveys/{id}"));
    assert_eq!(status, 404, "an enumerator of another project reads the survey");
    // Nor may they change it.
    let device = w.device(Who::EnumQ, "outsider-phone");
    let before = w.heads(id);
    let push = craft(id, &w.history(id), &device_key(&device), |doc| {
        let answers = root_map(doc, "answers");
        doc.put(&answers, "village", "Changed from another project").unwrap();
    });
    let response = sync_round(&w.url, &device.token, &push_request(vec![push]));
    assert!(refused(&response.acks[0], 403), "{:?}", response.acks);
    assert_eq!(w.heads(id), before);
}

#[test]
fn a_refused_survey_does_not_stop_the_others_of_the_push() {
    let w = World::new();
    let phone = w.device(Who::EnumK, "phone-k-mixed");
    let reviewed = new_survey(&phone, Who::EnumK, "Synced first");
    assert_eq!(sync_round(&w.url, &phone.token, &push_request(pending(&phone.store))).acks, vec![Ack::Stored]);
    phone.store.mark_acked(&[(reviewed.clone(), phone.store.heads(&reviewed).unwrap())]).unwrap();

    let first = new_survey(&phone, Who::EnumK, "First");
    let third = new_survey(&phone, Who::EnumK, "Third");
    let mut push = pending(&phone.store);
    assert_eq!(push.len(), 2);
    let before = w.heads(&reviewed);
    let forbidden = craft(&reviewed, &w.history(&reviewed), &device_key(&phone), |doc| {
        let review = root_map(doc, "review");
        doc.put(&review, "status", "approved").unwrap();
    });
    push.insert(1, forbidden);
    let response = sync_round(&w.url, &phone.token, &push_request(push));
    assert_eq!(response.acks.len(), 3);
    assert_eq!(response.acks[0], Ack::Stored);
    assert!(refused(&response.acks[1], 403), "{:?}", response.acks);
    assert_eq!(response.acks[2], Ack::Stored);
    assert_eq!(w.heads(&reviewed), before);
    assert_eq!(w.survey_json(&first)["answers"]["village"], "First");
    assert_eq!(w.survey_json(&third)["answers"]["village"], "Third");
}
