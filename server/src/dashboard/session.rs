//! Who is looking at a page: the session cookie (a login token like a device's, kept in an
//! `HttpOnly`, `SameSite=Strict` cookie), the language, and the token that every form posts
//! back so that another site cannot make a logged-in browser act (CSRF).

use axum::extract::FromRequestParts;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use terrain_core::Role;

use super::error::PageError;
use super::i18n::Lang;
use crate::app::AppState;
use crate::auth::caller_for_token;
use crate::error::blocking;
use crate::rules::Principal;

/// The cookie holding the session's token.
pub const SESSION_COOKIE: &str = "terrain_session";

/// A logged-in supervisor, admin or analyst looking at the dashboard.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who, with their teams and projects.
    pub principal: Principal,
    /// The page language.
    pub lang: Lang,
    /// The anti-forgery token the session's forms carry.
    pub csrf: String,
    /// The token's hash, to end the session.
    pub token_hash: [u8; 32],
}

impl Session {
    /// Whether the user administers the server.
    pub fn is_admin(&self) -> bool {
        self.principal.user.role == Role::Admin
    }

    /// Checks a posted anti-forgery token.
    pub fn check_csrf(&self, posted: &str) -> Result<(), PageError> {
        if posted == self.csrf {
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
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

impl FromRequestParts<AppState> for Session {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Session, PageError> {
        let lang = Lang::of(&parts.headers);
        let token = cookie(parts, SESSION_COOKIE).ok_or(PageError::Login)?.to_owned();
        let caller = caller_for_token(state, &token).await.map_err(|_| PageError::Login)?;
        if caller.user.role == Role::Enumerator {
            return Err(PageError::forbidden(
                lang,
                "the dashboard is for supervisors, analysts and administrators: enumerators use the phone app",
            ));
        }
        let backend = state.backend.clone();
        let principal = blocking(move || Ok(Principal::load(backend.as_ref(), caller.user)?))
            .await
            .map_err(|e| PageError::from_api(lang, e))?;
        Ok(Session { principal, lang, csrf: csrf_for(&token), token_hash: caller.token_hash })
    }
}
