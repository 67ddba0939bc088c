//! The OpenAPI document, served at `/api/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    admin, auth, enrolments, entities, exports, feed_tokens, forms, health, media, saved_exports, surveys, sync,
    webhooks,
};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Terrain relay API", description = "Offline-first field surveys: sync, forms, review and administration."),
    paths(
        health::healthz,
        auth::login, auth::refresh, auth::logout, auth::me, auth::change_password,
        feed_tokens::create, feed_tokens::list, feed_tokens::revoke,
        sync::sync,
        media::offset, media::append, media::append_post, media::download,
        forms::list, forms::get, forms::definition, forms::file, forms::publish,
        entities::lists, entities::list, entities::get, entities::import, entities::export, entities::file, entities::settle,
        entities::delete, entities::restore, entities::assign,
        exports::export,
        admin::create_user, admin::users, admin::set_disabled, admin::reset_password, admin::devices, admin::revoke_device,
        enrolments::create, enrolments::list, enrolments::revoke, enrolments::redeem, admin::create_project, admin::projects,
        admin::add_project_member, admin::create_team, admin::teams, admin::team_members, admin::add_team_member,
        admin::audit, admin::project_settings, admin::set_project_settings, admin::attention,
        surveys::list, surveys::get, surveys::history, surveys::conflicts, surveys::correct, surveys::assign,
        surveys::review, surveys::bulk_review,
        webhooks::create, webhooks::list, webhooks::delete, webhooks::deliveries,
        saved_exports::create, saved_exports::list, saved_exports::delete, saved_exports::download,
    ),
    components(schemas(crate::http::errors::ErrorBody)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Serves the document.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
