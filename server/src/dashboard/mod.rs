//! The supervisors' web dashboard, served by `terrain serve` beside the API.
//!
//! Pages are HTML rendered on the server ([`maud`]), in French or English, with one small
//! stylesheet and script served from the binary itself: no CDN, no internet, light enough
//! for a cheap laptop on a slow link. Every page goes through the same access checks as the
//! JSON API: every page calls the same services, and decides nothing of its own.
//!
//! - `login`: sessions and the language switch. `session`: the cookie, CSRF tokens.
//! - `surveys`: the filtered, sorted, paged list and bulk actions; `survey`: one survey.
//! - `progress`: surveys per enumerator per day (SVG); `map`: points and plots (SVG).
//! - `fill`: form versions, each one's preview, and surveys entered in the browser.
//! - `entities`: entity lists, one list's entities, one entity (settle, assign, delete, restore),
//!   and seeding a list from CSV.
//! - `feeds`: the OData address of each project, and the user's feed tokens.
//! - `admin`: users, teams, forms, project settings, the audit log, surveys that need
//!   attention. `setup`: the first administrator, from the link the server prints.
//!   `devices`: a user's devices, and revoking one. `password`: one's own password.
//!   `layout`, `error`, `i18n`, `assets`; `headers`: the security headers of every page.

mod admin;
mod assets;
mod devices;
mod entities;
mod error;
mod feeds;
mod fill;
mod headers;
mod i18n;
mod layout;
mod login;
mod map;
mod media;
mod password;
mod progress;
mod session;
mod setup;
mod survey;
mod surveys;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::Redirect;
use axum::routing::{get, post};

use crate::http::{AppState, blocking};

pub use error::PageError;
pub use i18n::Lang;

/// Runs a blocking service call for a page, its error shown as a page.
pub(crate) async fn run<T: Send + 'static>(
    lang: Lang,
    f: impl FnOnce() -> terrain_services::Result<T> + Send + 'static,
) -> Result<T, PageError> {
    blocking(f).await.map_err(|e| PageError::from_service(lang, e))
}

/// The largest form post a page sends (XLSForm uploads excepted).
const MAX_POST_BYTES: usize = 256 << 10;

/// Every page of the dashboard.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/surveys") }))
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/password", get(password::page).post(password::submit))
        .route("/users/{user}/devices", get(devices::page))
        .route("/users/{user}/devices/{device}/revoke", post(devices::revoke))
        .route("/users/{user}/enrolments", post(devices::enrol))
        .route("/enrol", get(devices::landing))
        .route("/users/{user}/enrolments/{id}/revoke", post(devices::revoke_enrolment))
        .route("/lang/{code}", get(login::set_language))
        .route("/surveys", get(surveys::page))
        .route("/surveys/bulk", post(surveys::bulk_action))
        .route("/surveys/{survey}", get(survey::page))
        .route("/surveys/{survey}/review", post(survey::review))
        .route("/surveys/{survey}/correct", post(survey::correct))
        .route("/surveys/{survey}/edit", get(fill::edit))
        .route("/media/{digest}", get(media::file))
        .route("/media/{digest}/thumbnail", get(media::thumbnail))
        .route("/forms", get(fill::list))
        .route("/forms/{form}/{version}/preview", get(fill::preview))
        .route("/forms/{form}/{version}/new", get(fill::new_entry))
        .route("/forms/{form}/{version}/evaluate", post(fill::evaluate))
        .route("/forms/{form}/{version}/entries", post(fill::save))
        .route("/entities", get(entities::page))
        .route("/entities/{list}/export", get(entities::export))
        .route("/entities/{list}/{id}", get(entities::entity))
        .route("/entities/{list}/{id}/settle", post(entities::settle))
        .route("/entities/{list}/{id}/deleted", post(entities::set_deleted))
        .route("/entities/{list}/{id}/assignee", post(entities::assign))
        .route("/progress", get(progress::page))
        .route("/feeds", get(feeds::page))
        .route("/feeds/tokens", post(feeds::create))
        .route("/feeds/tokens/{id}/revoke", post(feeds::revoke))
        .route("/map", get(map::page))
        .route("/admin", get(admin::page))
        .route("/admin/users", post(admin::create_user))
        .route("/admin/users/{user}/disabled", post(admin::set_disabled))
        .route("/admin/users/{user}/password", post(admin::reset_password))
        .route("/admin/projects", post(admin::create_project))
        .route("/admin/teams", post(admin::create_team))
        .route("/admin/teams/members", post(admin::add_member))
        .route("/admin/projects/{project}/settings", post(admin::set_project_settings))
        .route("/admin/audit.csv", get(admin::audit))
        .route("/setup", get(setup::page).post(setup::submit))
        .route("/assets/{file}", get(assets::serve))
        .layer(DefaultBodyLimit::max(MAX_POST_BYTES))
        // Registered after the small limit, so that only uploads get the large one.
        .route("/admin/forms", post(admin::publish))
        .route("/entities/{list}/import", post(entities::import))
        .layer(axum::middleware::from_fn(headers::add))
}
