//! What a page answers when something goes wrong: the login page for a missing or expired
//! session, otherwise an HTML page that says what happened and what to do, with the status
//! the API would have given.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::i18n::Lang;
use super::layout;
use crate::error::ApiError;

/// A page that could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// No valid session: go and log in.
    Login,
    /// Anything else, shown as a page.
    Page {
        /// Status.
        status: StatusCode,
        /// Language of the page.
        lang: Lang,
        /// What happened and what to do.
        message: String,
    },
}

impl PageError {
    /// 403 with a message.
    pub fn forbidden(lang: Lang, message: impl Into<String>) -> Self {
        PageError::Page { status: StatusCode::FORBIDDEN, lang, message: message.into() }
    }

    /// 400 with a message.
    pub fn invalid(lang: Lang, message: impl Into<String>) -> Self {
        PageError::Page { status: StatusCode::BAD_REQUEST, lang, message: message.into() }
    }

    /// An API error shown as a page.
    pub fn from_api(lang: Lang, e: ApiError) -> Self {
        if e.status == StatusCode::UNAUTHORIZED {
            return PageError::Login;
        }
        PageError::Page { status: e.status, lang, message: e.message }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Login => Redirect::to("/login").into_response(),
            PageError::Page { status, lang, message } => {
                let body = layout::bare(
                    lang,
                    lang.t("Something went wrong"),
                    html! {
                        h1 { (lang.t("Something went wrong")) }
                        p.error { (message) }
                        p { a href="/surveys" { (lang.t("Back to the list")) } }
                    },
                );
                (status, body).into_response()
            }
        }
    }
}
