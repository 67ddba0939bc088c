//! Who is looking at a page: the session cookie (a login token like a device's, kept in an
//! `HttpOnly`, `SameSite=Strict` cookie), the language, and the token that every form posts
//! back so that another site cannot make a logged-in browser act (CSRF).

use axum::extract::FromRequestParts;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use terrain_services::Scope;
use terrain_services::accounts::Authenticated;

use super::error::PageError;
use super::i18n::Lang;
use crate::api::caller::{authenticate, authenticate_to_change_password};
use crate::http::AppState;

/// The cookie holding the session's token.
pub const SESSION_COOKIE: &str = "terrain_session";

/// A logged-in supervisor, admin or analyst looking at the dashboard.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who, with what they may see and do.
    pub auth: Authenticated,
    /// The page language.
    pub lang: Lang,
    /// The anti-forgery token the session's forms carry.
    pub csrf: String,
}

impl Session {
    /// What the user may see and do.
    pub fn scope(&self) -> &Scope {
        &self.auth.scope
    }

    /// Whether the page shows administration.
    pub fn is_admin(&self) -> bool {
        self.scope().may_administer().is_ok()
    }

    /// The name shown in the header.
    pub fn display_name(&self) -> &str {
        self.scope().user().map_or("", |u| u.display_name.as_deref().unwrap_or(&u.username))
    }

    /// Checks a posted anti-forgery token, in constant time.
    pub fn check_csrf(&self, posted: &str) -> Result<(), PageError> {
        if bool::from(posted.as_bytes().ct_eq(self.csrf.as_bytes())) {
            Ok(())
        } else {
            Err(PageError::forbidden(self.lang, "this form has expired: reload the page and try again"))
        }
    }
}

/// The value of cookie `name`.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The anti-forgery token of a session: derived from its secret token, so nothing more is
/// stored, and useless to anyone who cannot read the cookie.
fn csrf_for(token: &str) -> String {
    let digest = Sha256::digest(format!("terrain-csrf:{token}").as_bytes());
    terrain_core::hex::encode(&digest[..16])
}

impl Session {
    /// The session of a request's cookie; `to_change_password` also admits a user whose
    /// password an administrator reset.
    async fn open(parts: &Parts, state: &AppState, to_change_password: bool) -> Result<Session, PageError> {
        let lang = Lang::of(&parts.headers);
        let token = cookie(parts, SESSION_COOKIE).ok_or(PageError::Login)?.to_owned();
        let auth = if to_change_password {
            authenticate_to_change_password(state, token.clone()).await
        } else {
            authenticate(state, token.clone()).await
        }
        .map_err(|e| PageError::from_api(lang, e))?;
        auth.scope.may_use_dashboard().map_err(|e| PageError::from_service(lang, e))?;
        Ok(Session { auth, lang, csrf: csrf_for(&token) })
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Session, PageError> {
        Session::open(parts, state, false).await
    }
}

/// The session of the password page: also one whose password an administrator reset,
/// which [`Session`] sends here.
#[derive(Debug, Clone)]
pub struct PasswordSession(pub Session);

impl FromRequestParts<AppState> for PasswordSession {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<PasswordSession, PageError> {
        Ok(PasswordSession(Session::open(parts, state, true).await?))
    }
}
