//! Logging in and out of the dashboard, and choosing its language.
//!
//! A dashboard session is a token like a device's, issued for the device `web-dashboard`
//! with a shorter life (a browser on a shared office laptop), and kept in a cookie that
//! scripts cannot read and other sites cannot send.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::header::{REFERER, SET_COOKIE};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::error::PageError;
use super::i18n::{LANG_COOKIE, Lang};
use super::layout;
use super::session::{PasswordSession, SESSION_COOKIE};
use crate::api::caller::client_ip;
use crate::api::error::ApiError;
use crate::http::{AppState, blocking};
use terrain_services::accounts::{DASHBOARD_DEVICE, LoginKind};

fn login_page(lang: Lang, error: Option<&str>) -> Markup {
    layout::bare(
        lang,
        lang.t("Log in"),
        html! {
            div.login {
                h1 { "Terrain" }
                p.muted { (lang.t("Supervisors' dashboard")) }
                @if let Some(error) = error { p.error role="alert" { (error) } }
                form method="post" action="/login" {
                    label { (lang.t("User name")) input #username name="username" autocomplete="username" required autofocus; }
                    label { (lang.t("Password")) input #password type="password" name="password" autocomplete="current-password" required; }
                    button #login type="submit" { (lang.t("Log in")) }
                }
                p.lang { a href="/lang/fr" { "Français" } " · " a href="/lang/en" { "English" } }
            }
        },
    )
}

/// The log-in page.
pub async fn page(headers: HeaderMap) -> Markup {
    login_page(Lang::of(&headers), None)
}

/// What the log-in form posts.
#[derive(Debug, Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

/// Checks the credentials and opens a session.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<Credentials>,
) -> Response {
    let lang = Lang::of(&headers);
    let services = state.services.clone();
    let source = client_ip(&extensions);
    let ttl = state.settings.services.session_ttl;
    let issued = blocking(move || {
        services.login(form.username.trim(), &form.password, DASHBOARD_DEVICE, source, LoginKind::Dashboard)
    })
    .await;
    match issued {
        Ok(issued) => {
            let cookie = format!(
                "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
                issued.token,
                ttl.num_seconds()
            );
            let next = if issued.user.must_change_password { "/password" } else { "/surveys" };
            ([(SET_COOKIE, cookie)], Redirect::to(next)).into_response()
        }
        Err(e) => {
            let e = ApiError::from(e);
            let message = if e.status == StatusCode::UNAUTHORIZED {
                match lang {
                    Lang::En => e.message.clone(),
                    Lang::Fr => "Nom d'utilisateur ou mot de passe incorrect, ou compte désactivé.".to_owned(),
                }
            } else {
                e.message.clone()
            };
            let status = if e.status == StatusCode::TOO_MANY_REQUESTS { e.status } else { StatusCode::UNAUTHORIZED };
            let mut response = (status, login_page(lang, Some(&message))).into_response();
            if let Some(wait) = e.retry_after
                && let Ok(value) = axum::http::HeaderValue::from_str(&wait.as_secs().max(1).to_string())
            {
                response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
            }
            response
        }
    }
}

/// What the log-out form posts.
#[derive(Debug, Deserialize)]
pub struct Csrf {
    csrf: String,
}

/// Ends the session: revokes its token and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    PasswordSession(session): PasswordSession,
    Form(form): Form<Csrf>,
) -> Result<Response, PageError> {
    session.check_csrf(&form.csrf)?;
    let services = state.services.clone();
    let auth = session.auth.clone();
    blocking(move || services.logout(&auth)).await.map_err(|e| PageError::from_service(session.lang, e))?;
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok(([(SET_COOKIE, clear)], Redirect::to("/login")).into_response())
}

/// Sets the language and goes back to the page the link was on.
pub async fn set_language(Path(code): Path<String>, headers: HeaderMap) -> Response {
    let lang = Lang::from_code(&code).unwrap_or(Lang::Fr);
    // Only ever back to a path of this site.
    let back = headers
        .get(REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned()))
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/surveys".to_owned());
    let cookie = format!("{LANG_COOKIE}={}; SameSite=Lax; Path=/; Max-Age=31536000", lang.code());
    ([(SET_COOKIE, cookie)], Redirect::to(&back)).into_response()
}
