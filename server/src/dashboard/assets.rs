//! The dashboard's stylesheet and scripts (`fill.js` on form pages only), compiled into the binary and served with a
//! validator so browsers on slow links fetch them once.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../../assets/terrain.css");
const JS: &str = include_str!("../../assets/terrain.js");
const FILL_JS: &str = include_str!("../../assets/fill.js");

/// An asset's content type and body.
fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "terrain.css" => Some(("text/css; charset=utf-8", CSS)),
        "terrain.js" => Some(("text/javascript; charset=utf-8", JS)),
        "fill.js" => Some(("text/javascript; charset=utf-8", FILL_JS)),
        _ => None,
    }
}

/// Serves one asset.
pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some((content_type, body)) = asset(&name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    // The binary's version identifies the asset: a new release is a new validator.
    let etag = format!("\"{}-{}\"", env!("CARGO_PKG_VERSION"), body.len());
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, "public, max-age=3600".to_owned()),
        ],
        body,
    )
        .into_response()
}
