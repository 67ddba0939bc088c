//! The supervisors' web dashboard, served by `terrain serve` beside the API.
//!
//! Pages are HTML rendered on the server ([`maud`]), in French or English, with one small
//! stylesheet and script served from the binary itself: no CDN, no internet, light enough
//! for a cheap laptop on a slow link. Every page goes through the same access checks as the
//! JSON API (`listing`, `review`, `rules`); a page is only another way to call them.
//!
//! - `login`: sessions and the language switch. `session`: the cookie, CSRF tokens.
//! - `surveys`: the filtered, sorted, paged list and bulk actions; `survey`: one survey.
//! - `progress`: surveys per enumerator per day (SVG); `map`: points and plots (SVG).
//! - `admin`: users, teams, forms, the audit log. `layout`, `error`, `i18n`, `assets`.

mod admin;
mod assets;
mod error;
mod i18n;
mod layout;
mod login;
mod map;
mod progress;
mod session;
mod survey;
mod surveys;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};
use terrain_core::survey::ReviewStatus;

use crate::app::AppState;

pub use i18n::Lang;

/// Every page of the dashboard.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/surveys") }))
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/lang/{code}", get(login::set_language))
        .route("/surveys", get(surveys::page))
        .route("/surveys/bulk", post(surveys::bulk_action))
        .route("/surveys/{survey}", get(survey::page))
        .route("/surveys/{survey}/review", post(survey::review))
        .route("/surveys/{survey}/correct", post(survey::correct))
        .route("/progress", get(progress::page))
        .route("/map", get(map::page))
        .route("/admin", get(admin::page))
        .route("/admin/users", post(admin::create_user))
        .route("/admin/users/{user}/disabled", post(admin::set_disabled))
        .route("/admin/projects", post(admin::create_project))
        .route("/admin/teams", post(admin::create_team))
        .route("/admin/teams/members", post(admin::add_member))
        .route("/admin/forms", post(admin::publish))
        .route("/admin/audit.csv", get(admin::audit))
        .route("/assets/{file}", get(assets::serve))
}

/// A review status from its stored name, `received` for anything unknown.
pub(crate) fn status_of(status: &str) -> ReviewStatus {
    status.parse().unwrap_or(ReviewStatus::Received)
}
