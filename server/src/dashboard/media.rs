//! Attached files in the browser: a photo, recording or video shown in the page that
//! holds it, and photos' thumbnails for the survey page. Who may see a file is the media
//! service's to decide (a survey that references it and that the session may read).

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::error::PageError;
use super::run;
use super::session::Session;
use crate::api::media::{parse_digest, serve_file};
use crate::http::AppState;

/// The types a page shows inline: photos, sound and video a browser plays itself. Anything
/// else (a PDF, a file of unknown kind) is downloaded, never rendered under Terrain's origin.
fn shown_inline(media_type: &str) -> bool {
    matches!(media_type, "image/jpeg" | "image/png" | "image/gif" | "image/webp")
        || media_type.starts_with("audio/")
        || media_type.starts_with("video/")
}

/// A file, whole or by range (players seek with ranges), typed from its own bytes.
pub async fn file(
    State(state): State<AppState>,
    session: Session,
    Path(digest): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let lang = session.lang;
    let digest = parse_digest(&digest).map_err(|e| PageError::from_api(lang, e))?;
    let (services, scope) = (state.services.clone(), session.scope().clone());
    let media_type = run(lang, move || services.media_type(&scope, &digest)).await?;
    let (content_type, disposition) = if shown_inline(media_type) {
        (media_type, None)
    } else {
        ("application/octet-stream", Some(format!("attachment; filename=\"{digest}\"")))
    };
    serve_file(&state, session.scope(), digest, &headers, content_type, disposition)
        .await
        .map_err(|e| PageError::from_api(lang, e))
}

/// A photo's thumbnail (JPEG), made on the server once.
pub async fn thumbnail(
    State(state): State<AppState>,
    session: Session,
    Path(digest): Path<String>,
) -> Result<Response, PageError> {
    let lang = session.lang;
    let digest = parse_digest(&digest).map_err(|e| PageError::from_api(lang, e))?;
    let (services, scope) = (state.services.clone(), session.scope().clone());
    let jpeg = run(lang, move || services.media_thumbnail(&scope, &digest)).await?;
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
        (CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable")),
    ];
    Ok((headers, jpeg).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_browsers_play_is_shown_inline() {
        for shown in ["image/jpeg", "image/png", "audio/mpeg", "video/mp4"] {
            assert!(shown_inline(shown), "{shown}");
        }
        for downloaded in ["application/pdf", "image/svg+xml", "text/html", "application/octet-stream"] {
            assert!(!shown_inline(downloaded), "{downloaded}");
        }
    }
}
