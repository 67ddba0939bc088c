//! Security headers on every dashboard response: the browser runs only the scripts and
//! stylesheet Terrain serves itself, never shows a page inside another site's frame, never
//! guesses a type, and sends no page address to other sites. Over HTTPS (here or at a
//! trusted proxy), the browser is also told to come back over HTTPS only (HSTS), and every
//! cookie is `Secure`, so a session never crosses a network in clear.
//!
//! The dashboard has no inline script or style to allow: its one stylesheet and two scripts
//! are files under `/assets/`, and `fill.js` reads its form from a JSON data block, which a
//! browser does not run. The JSON API does not get these headers: its answers are not pages,
//! and a sync's answer crosses 2G links where every header is paid for.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, SET_COOKIE, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::Response;

use crate::http::Scheme;

/// Only Terrain's own files; no plugins, no `<base>`, forms posted back to Terrain only, and
/// no framing (`frame-ancestors`; `X-Frame-Options` for older browsers).
pub(crate) const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// A year, without `includeSubDomains`: the relay's name may share a domain with sites
/// Terrain does not know of.
const HSTS: &str = "max-age=31536000";

/// Adds the headers to a dashboard response.
pub(crate) async fn add(request: Request, next: Next) -> Response {
    let scheme = request.extensions().get::<Scheme>().copied().unwrap_or_default();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if scheme == Scheme::Https {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
        let cookies: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
        headers.remove(SET_COOKIE);
        for cookie in cookies {
            let secure = [cookie.as_bytes(), b"; Secure"].concat();
            headers.append(SET_COOKIE, HeaderValue::from_bytes(&secure).unwrap_or(cookie));
        }
    }
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}
