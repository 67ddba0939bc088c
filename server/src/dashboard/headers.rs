//! Security headers on every dashboard response: the browser runs only the scripts and
//! stylesheet Terrain serves itself, never shows a page inside another site's frame, never
//! guesses a type, and sends no page address to other sites.
//!
//! The dashboard has no inline script or style to allow: its one stylesheet and two scripts
//! are files under `/assets/`, and `fill.js` reads its form from a JSON data block, which a
//! browser does not run. The JSON API does not get these headers: its answers are not pages,
//! and a sync's answer crosses 2G links where every header is paid for.

use axum::http::HeaderValue;
use axum::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::response::Response;

/// Only Terrain's own files; no plugins, no `<base>`, forms posted back to Terrain only, and
/// no framing (`frame-ancestors`; `X-Frame-Options` for older browsers).
pub(crate) const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Adds the headers to a dashboard response.
pub(crate) async fn add(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}
