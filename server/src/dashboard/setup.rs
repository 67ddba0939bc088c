//! The first administrator of a new server, created in the browser from the one-time link
//! `terrain serve` prints while the server has no account (as self-hosted tools do): the
//! newcomer is never locked out, and nobody else can use the link.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::Lang;
use super::layout;
use crate::http::{AppState, blocking};

/// The link's secret.
#[derive(Debug, Deserialize)]
pub struct Secret {
    token: Option<String>,
}

fn setup_page(lang: Lang, token: &str, error: Option<&str>) -> Markup {
    layout::bare(
        lang,
        lang.t("Create the first administrator"),
        html! {
            div.login {
                h1 { "Terrain" }
                p.muted { (lang.t("Create the first administrator")) }
                @if let Some(error) = error { p.error role="alert" { (error) } }
                form method="post" action="/setup" {
                    input type="hidden" name="token" value=(token);
                    label { (lang.t("User name")) input #username name="username" autocomplete="username" required autofocus; }
                    label { (lang.t("Password")) input #password type="password" name="password" autocomplete="new-password" minlength="10" required; }
                    button #create type="submit" { (lang.t("Create")) }
                }
            }
        },
    )
}

/// The setup page.
pub async fn page(headers: HeaderMap, Query(secret): Query<Secret>) -> Markup {
    setup_page(Lang::of(&headers), secret.token.as_deref().unwrap_or_default(), None)
}

/// What the setup form posts.
#[derive(Debug, Deserialize)]
pub struct SetupForm {
    token: String,
    username: String,
    password: String,
}

/// Creates the first administrator, then goes to the log-in page.
pub async fn submit(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<SetupForm>) -> Response {
    let lang = Lang::of(&headers);
    let services = state.services.clone();
    let token = form.token.clone();
    let created = blocking(move || services.setup(Some(&form.token), &form.username, &form.password)).await;
    match created {
        Ok(_) => Redirect::to("/login").into_response(),
        Err(e) => {
            let status = crate::api::error::ApiError::from(e.clone()).status;
            (
                if status.is_server_error() { StatusCode::INTERNAL_SERVER_ERROR } else { status },
                setup_page(lang, &token, Some(&e.to_string())),
            )
                .into_response()
        }
    }
}
