//! What a page answers when something goes wrong: the login page for a missing or expired
//! session, otherwise an HTML page that says what happened and what to do, with the status
//! the API would have given (and its `Retry-After`).

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::i18n::Lang;
use super::layout;
use crate::api::error::ApiError;

/// A page that could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// No valid session: go and log in.
    Login,
    /// An administrator reset the password: choose one before anything else.
    PasswordChange,
    /// Anything else, shown as a page.
    Page {
        /// Status.
        status: StatusCode,
        /// Language of the page.
        lang: Lang,
        /// What happened and what to do.
        message: String,
        /// When to try again, for 429 and 503.
        retry_after: Option<std::time::Duration>,
    },
}

impl PageError {
    /// 403 with a message.
    pub fn forbidden(lang: Lang, message: impl Into<String>) -> Self {
        PageError::Page { status: StatusCode::FORBIDDEN, lang, message: message.into(), retry_after: None }
    }

    /// 400 with a message.
    pub fn invalid(lang: Lang, message: impl Into<String>) -> Self {
        PageError::Page { status: StatusCode::BAD_REQUEST, lang, message: message.into(), retry_after: None }
    }

    /// An API error shown as a page.
    pub fn from_api(lang: Lang, e: ApiError) -> Self {
        if e.status == StatusCode::UNAUTHORIZED {
            return PageError::Login;
        }
        if e.code == "password_change_required" {
            return PageError::PasswordChange;
        }
        PageError::Page { status: e.status, lang, message: e.message, retry_after: e.retry_after }
    }

    /// A service error shown as a page, with the status the API would give it.
    pub fn from_service(lang: Lang, e: terrain_services::Error) -> Self {
        Self::from_api(lang, e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Login => Redirect::to("/login").into_response(),
            PageError::PasswordChange => Redirect::to("/password").into_response(),
            PageError::Page { status, lang, message, retry_after } => {
                let body = layout::bare(
                    lang,
                    lang.t("Something went wrong"),
                    html! {
                        h1 { (lang.t("Something went wrong")) }
                        p.error { (message) }
                        p { a href="/surveys" { (lang.t("Back to the list")) } }
                    },
                );
                let mut response = (status, body).into_response();
                if let Some(wait) = retry_after
                    && let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
                {
                    response.headers_mut().insert(RETRY_AFTER, value);
                }
                response
            }
        }
    }
}
