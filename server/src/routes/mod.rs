//! HTTP routes, one module per resource, and the OpenAPI document that describes them.

pub mod admin;
pub mod auth;
pub mod exports;
mod forms;
mod health;
pub mod openapi;
pub mod surveys;
mod sync;

use axum::Router;
use axum::routing::{get, post, put};

use crate::app::AppState;

pub use admin::{CreateUser, UserRef, create_user_checked};

/// Every route of the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/sync", post(sync::sync))
        .route("/api/v1/forms", get(forms::list))
        .route("/api/v1/forms/{form_id}/{version}", get(forms::get))
        .route("/api/v1/forms/{form_id}/export", get(exports::export))
        .route("/api/v1/projects/{project}/forms", post(forms::publish))
        .route("/api/v1/users", get(admin::users).post(admin::create_user))
        .route("/api/v1/users/{user}/disabled", put(admin::set_disabled))
        .route("/api/v1/projects", get(admin::projects).post(admin::create_project))
        .route("/api/v1/projects/{project}/members", post(admin::add_project_member))
        .route("/api/v1/projects/{project}/teams", post(admin::create_team))
        .route("/api/v1/teams", get(admin::teams))
        .route("/api/v1/teams/{team}/members", get(admin::team_members).post(admin::add_team_member))
        .route("/api/v1/audit", get(admin::audit))
        .route("/api/v1/surveys", get(surveys::list))
        .route("/api/v1/reviews", post(surveys::bulk_review))
        .route("/api/v1/surveys/{survey}", get(surveys::get))
        .route("/api/v1/surveys/{survey}/review", post(surveys::review))
        .route("/api/v1/surveys/{survey}/history", get(surveys::history))
        .route("/api/v1/surveys/{survey}/conflicts", get(surveys::conflicts))
        .route("/api/v1/surveys/{survey}/answers", put(surveys::correct))
        .route("/api/v1/surveys/{survey}/assignees", post(surveys::assign))
}
