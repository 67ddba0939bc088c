//! The JSON API: one module per resource, the OpenAPI document that describes them, the
//! caller extractor, and the one mapping from service errors to HTTP answers. Handlers parse
//! their input, call one service, and map its error; they make no decision of their own.

pub mod admin;
pub mod auth;
pub mod caller;
pub mod enrolments;
pub mod entities;
pub mod error;
pub mod exports;
pub mod feed_tokens;
mod forms;
mod health;
pub mod media;
pub mod odata;
pub mod openapi;
pub mod saved_exports;
pub mod surveys;
mod sync;
pub mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use tower_http::compression::CompressionLayer;

use crate::http::{AppState, Settings};

/// Every route of the API. JSON bodies are small: only sync rounds and form uploads may
/// carry the larger body limit.
pub fn router(settings: &Settings) -> Router<AppState> {
    let json = DefaultBodyLimit::max(settings.max_json_bytes);
    let large = DefaultBodyLimit::max(settings.max_body_bytes);
    // Forms and their lists are text that a phone may fetch over 2G, so they are gzip'd for
    // clients that ask. Sync bodies are compressed by the protocol itself, and attached
    // files are served in ranges, so neither goes through it.
    let gzip = CompressionLayer::new();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/v1/auth/login", post(auth::login).layer(json))
        .route("/api/v1/enrol", post(enrolments::redeem).layer(json))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/me/password", put(auth::change_password).layer(json))
        .route("/api/v1/me/feed-tokens", get(feed_tokens::list).post(feed_tokens::create).layer(json))
        .route("/api/v1/me/feed-tokens/{id}", delete(feed_tokens::revoke))
        .route("/api/v1/sync", post(sync::sync).layer(large))
        .route(
            "/api/v1/media/{digest}",
            get(media::download).head(media::offset).patch(media::append).post(media::append_post),
        )
        .route("/api/v1/entity-lists", get(entities::lists))
        .route("/api/v1/entity-lists/{list}/entities", get(entities::list))
        .route("/api/v1/entity-lists/{list}/entities/{id}", get(entities::get))
        .route("/api/v1/entity-lists/{list}/entities/{id}/settle", post(entities::settle).layer(json))
        .route("/api/v1/entity-lists/{list}/entities/{id}/assignee", put(entities::assign).layer(json))
        .route("/api/v1/entity-lists/{list}/entities/{id}/delete", post(entities::delete))
        .route("/api/v1/entity-lists/{list}/entities/{id}/restore", post(entities::restore))
        .route("/api/v1/entity-lists/{list}/import", post(entities::import).layer(large))
        .route("/api/v1/entity-lists/{list}/export", get(entities::export))
        .route("/api/v1/entity-lists/{list}/team", put(entities::file).layer(json))
        .route("/api/v1/forms", get(forms::list).layer(gzip.clone()))
        .route("/api/v1/forms/{form_id}/{version}", get(forms::get).layer(gzip.clone()))
        .route("/api/v1/forms/{form_id}/{version}/definition", get(forms::definition).layer(gzip.clone()))
        .route("/api/v1/forms/{form_id}/{version}/files/{name}", get(forms::file).layer(gzip))
        .route("/api/v1/forms/{form_id}/export", get(exports::export))
        .route("/api/v1/projects/{project}/forms", post(forms::publish).layer(large))
        .route("/api/v1/projects/{project}/webhooks", get(webhooks::list).post(webhooks::create).layer(json))
        .route("/api/v1/projects/{project}/webhooks/{id}", delete(webhooks::delete))
        .route("/api/v1/projects/{project}/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route(
            "/api/v1/projects/{project}/saved-exports",
            get(saved_exports::list).post(saved_exports::create).layer(json),
        )
        .route("/api/v1/projects/{project}/saved-exports/{id}", delete(saved_exports::delete))
        .route("/api/v1/saved-exports/{id}/download", get(saved_exports::download))
        .route("/api/v1/projects/{project}/odata", get(odata::service))
        .route("/api/v1/projects/{project}/odata/", get(odata::service))
        .route("/api/v1/projects/{project}/odata/$metadata", get(odata::metadata))
        .route("/api/v1/projects/{project}/odata/{set}", get(odata::set))
        .route("/api/v1/users", get(admin::users).post(admin::create_user).layer(json))
        .route("/api/v1/users/{user}/disabled", put(admin::set_disabled).layer(json))
        .route("/api/v1/users/{user}/password", put(admin::reset_password).layer(json))
        .route("/api/v1/users/{user}/devices", get(admin::devices))
        .route("/api/v1/users/{user}/devices/{device}", delete(admin::revoke_device))
        .route("/api/v1/users/{user}/enrolments", get(enrolments::list).post(enrolments::create).layer(json))
        .route("/api/v1/users/{user}/enrolments/{id}", delete(enrolments::revoke))
        .route("/api/v1/projects", get(admin::projects).post(admin::create_project).layer(json))
        .route(
            "/api/v1/projects/{project}/settings",
            get(admin::project_settings).put(admin::set_project_settings).layer(json),
        )
        .route("/api/v1/projects/{project}/members", post(admin::add_project_member).layer(json))
        .route("/api/v1/projects/{project}/teams", post(admin::create_team).layer(json))
        .route("/api/v1/teams", get(admin::teams))
        .route("/api/v1/teams/{team}/members", get(admin::team_members).post(admin::add_team_member).layer(json))
        .route("/api/v1/audit", get(admin::audit))
        .route("/api/v1/attention", get(admin::attention))
        .route("/api/v1/surveys", get(surveys::list))
        .route("/api/v1/reviews", post(surveys::bulk_review).layer(json))
        .route("/api/v1/surveys/{survey}", get(surveys::get))
        .route("/api/v1/surveys/{survey}/review", post(surveys::review).layer(json))
        .route("/api/v1/surveys/{survey}/history", get(surveys::history))
        .route("/api/v1/surveys/{survey}/conflicts", get(surveys::conflicts))
        .route("/api/v1/surveys/{survey}/answers", put(surveys::correct).layer(json))
        .route("/api/v1/surveys/{survey}/assignees", post(surveys::assign).layer(json))
}
