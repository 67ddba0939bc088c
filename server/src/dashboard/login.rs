//! Logging in and out of the dashboard, and choosing its language.
//!
//! A dashboard session is a token like a device's, issued for the device `web-dashboard`
//! with a shorter life (a browser on a shared office laptop), and kept in a cookie that
//! scripts cannot read and other sites cannot send.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::header::{REFERER, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::error::PageError;
use super::i18n::{LANG_COOKIE, Lang};
use super::layout;
use super::session::{SESSION_COOKIE, Session};
use crate::app::AppState;
use crate::error::blocking;
use crate::routes::auth::issue_token;

/// How long a dashboard session lasts.
const SESSION_HOURS: i64 = 12;

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
pub async fn submit(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<Credentials>) -> Response {
    let lang = Lang::of(&headers);
    let backend = state.backend.clone();
    let issued = blocking(move || {
        issue_token(
            backend.as_ref(),
            form.username.trim(),
            &form.password,
            "web-dashboard",
            chrono::Duration::hours(SESSION_HOURS),
        )
    })
    .await;
    match issued {
        Ok((_, _, token, _)) => {
            let cookie = format!(
                "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
                SESSION_HOURS * 3600
            );
            ([(SET_COOKIE, cookie)], Redirect::to("/surveys")).into_response()
        }
        Err(e) => {
            let message = if e.status == StatusCode::UNAUTHORIZED {
                match lang {
                    Lang::En => e.message,
                    Lang::Fr => "Nom d'utilisateur ou mot de passe incorrect, ou compte désactivé.".to_owned(),
                }
            } else {
                e.message
            };
            (StatusCode::UNAUTHORIZED, login_page(lang, Some(&message))).into_response()
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
    session: Session,
    Form(form): Form<Csrf>,
) -> Result<Response, PageError> {
    session.check_csrf(&form.csrf)?;
    let backend = state.backend.clone();
    let hash = session.token_hash;
    let user = session.principal.user.id;
    blocking(move || {
        backend.revoke_token(&hash)?;
        backend.audit(Some(user), "auth.logout", None, None)?;
        Ok(())
    })
    .await
    .map_err(|e| PageError::from_api(session.lang, e))?;
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
