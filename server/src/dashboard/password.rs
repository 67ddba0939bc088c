//! Changing one's own password, and the page an administrator's reset sends a user to
//! before anything else.

use axum::Form as PostForm;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::error::PageError;
use super::layout::{self, Section};
use super::session::{PasswordSession, Session};
use crate::http::{AppState, blocking};

fn password_page(session: &Session, error: Option<&str>) -> Markup {
    let lang = session.lang;
    let reset = session.auth.scope.user().is_some_and(|u| u.must_change_password);
    let body = html! {
        h1 { (lang.t("Change your password")) }
        @if reset { p.flash role="status" { (lang.t("An administrator reset your password: choose your own to go on.")) } }
        @if let Some(error) = error { p.error role="alert" { (error) } }
        form.stack #change-password method="post" action="/password" {
            input type="hidden" name="csrf" value=(session.csrf);
            label { (lang.t("Current password")) input #current type="password" name="current" required autocomplete="current-password"; }
            label { (lang.t("New password")) input #new type="password" name="new" required minlength="12" autocomplete="new-password"; }
            label { (lang.t("New password, again")) input #again type="password" name="again" required minlength="12" autocomplete="new-password"; }
            p.muted { (lang.t("Your other sessions end: log in again on your other devices.")) }
            button #save type="submit" { (lang.t("Change password")) }
        }
        @if let (false, Some(me)) = (reset, session.auth.scope.user_id()) {
            p { a href={ "/users/" (me) "/devices" } { (lang.t("Your devices")) } }
        }
        @if reset {
            form.inline method="post" action="/logout" {
                input type="hidden" name="csrf" value=(session.csrf);
                button.link type="submit" { (lang.t("Log out")) }
            }
        }
    };
    if reset {
        layout::bare(lang, lang.t("Change your password"), body)
    } else {
        layout::page(session, Section::Account, lang.t("Change your password"), body)
    }
}

/// The password page.
pub async fn page(PasswordSession(session): PasswordSession) -> Markup {
    password_page(&session, None)
}

/// What the password form posts.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
    again: String,
}

/// Changes the password; the form again, with what is wrong, if it cannot.
pub async fn submit(
    State(state): State<AppState>,
    PasswordSession(session): PasswordSession,
    PostForm(form): PostForm<PasswordForm>,
) -> Result<Response, PageError> {
    session.check_csrf(&form.csrf)?;
    let lang = session.lang;
    if form.new != form.again {
        let page = password_page(&session, Some(lang.t("The two new passwords differ: type the same one twice.")));
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let services = state.services.clone();
    let auth = session.auth.clone();
    match blocking(move || services.change_password(&auth, &form.current, &form.new)).await {
        Ok(_) => Ok(Redirect::to("/surveys").into_response()),
        Err(e @ (terrain_services::Error::Invalid(_) | terrain_services::Error::TooMany { .. })) => {
            let status = if matches!(e, terrain_services::Error::TooMany { .. }) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::BAD_REQUEST
            };
            Ok((status, password_page(&session, Some(&e.to_string()))).into_response())
        }
        Err(e) => Err(PageError::from_service(lang, e)),
    }
}
