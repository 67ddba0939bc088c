//! `/api/v1/media/{sha256}`: attached files, sent by their devices in pieces and read back
//! by whoever may read a survey that holds them.
//!
//! Uploads follow tus's core protocol without its handshake (the digest names the upload):
//! `HEAD` answers `Upload-Offset`, what the server holds; `PATCH` (or `POST`, which every
//! HTTP stack can send) carries the bytes from that offset (`Upload-Offset`,
//! `Upload-Length`, `application/offset+octet-stream`) and answers the new offset. A cut link resumes at the offset the next `HEAD` gives.
//! Downloads are `GET`, with `Range` to resume.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use http_body_util::BodyExt;
use terrain_core::media::Digest;
use terrain_core::sync::transport::MEDIA_CHUNK_TYPE;
use terrain_services::media::MAX_READ_BYTES;

use super::caller::Caller;
use super::error::ApiError;
use crate::http::{AppState, blocking};

const UPLOAD_OFFSET: &str = "upload-offset";
const UPLOAD_LENGTH: &str = "upload-length";

/// How much of a file the server holds, for a device about to upload it.
#[utoipa::path(head, path = "/api/v1/media/{sha256}",
    params(("sha256" = String, Path, description = "the file's SHA-256, 64 hex digits"),
        ("Upload-Length" = u64, Header, description = "the file's size")),
    responses((status = 204, description = "`Upload-Offset`: the bytes held (the size when complete)"),
        (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "no survey of the caller's references it"),
        (status = 413, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn offset(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(digest): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let digest = parse_digest(&digest)?;
    let size = number(&headers, UPLOAD_LENGTH)?;
    let services = state.services.clone();
    let held = blocking(move || services.media_offset(&auth.scope, &digest, size)).await?;
    Ok((StatusCode::NO_CONTENT, [(UPLOAD_OFFSET, held.to_string()), (CACHE_CONTROL.as_str(), "no-store".into())])
        .into_response())
}

/// Appends bytes of a file from the offset the server holds. The body may carry the rest
/// of the file: it is written as it arrives, a piece at a time, so a link cut mid-request
/// keeps what arrived, and the device resumes from there.
#[utoipa::path(patch, path = "/api/v1/media/{sha256}",
    params(("sha256" = String, Path, description = "the file's SHA-256, 64 hex digits"),
        ("Upload-Offset" = u64, Header, description = "where the bytes start"),
        ("Upload-Length" = u64, Header, description = "the file's size")),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses((status = 204, description = "`Upload-Offset`: the bytes now held"),
        (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody, description = "the offset is not what the server holds: HEAD, then resume"),
        (status = 413, body = super::error::ErrorBody), (status = 415, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "`hash_mismatch`: the bytes were not the file"),
        (status = 429, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn append(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(digest): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let digest = parse_digest(&digest)?;
    if headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) != Some(MEDIA_CHUNK_TYPE) {
        return Err(ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            message: format!("the bytes of an upload are sent as {MEDIA_CHUNK_TYPE}"),
            retry_after: None,
        });
    }
    let offset = number(&headers, UPLOAD_OFFSET)?;
    let size = number(&headers, UPLOAD_LENGTH)?;
    // Checked before a byte is read: a refused upload costs its headers.
    let services = state.services.clone();
    let scope = auth.scope.clone();
    blocking(move || services.media_offset(&scope, &digest, size)).await?;
    let piece = usize::try_from(state.settings.services.media.piece_bytes).unwrap_or(usize::MAX).max(1);
    let mut body = body;
    let mut pending = Pending {
        state: state.clone(),
        scope: auth.scope.clone(),
        digest,
        size,
        piece,
        held: offset,
        bytes: Vec::new(),
    };
    loop {
        let frame = match body.frame().await {
            None => break,
            Some(Ok(frame)) => frame,
            // The link dropped: what arrived is kept as `pending` goes, and the device
            // resumes after it.
            Some(Err(e)) => return Err(ApiError::unreadable_body(e)),
        };
        let Ok(data) = frame.into_data() else { continue };
        let received = pending.held.checked_add((pending.bytes.len() + data.len()) as u64);
        if received.is_none_or(|received| received > size) {
            pending.bytes.clear();
            return Err(ApiError::invalid(format!("more bytes were sent than the file's {size}")));
        }
        pending.bytes.extend_from_slice(&data);
        while pending.bytes.len() >= piece {
            pending.write().await?;
        }
    }
    while !pending.bytes.is_empty() {
        pending.write().await?;
    }
    Ok((StatusCode::NO_CONTENT, [(UPLOAD_OFFSET, pending.held.to_string())]).into_response())
}

/// [`append`] under `POST`, for HTTP stacks that cannot send `PATCH` (Java's
/// `HttpURLConnection`, some proxies): the phone library sends this one.
#[utoipa::path(post, path = "/api/v1/media/{sha256}",
    params(("sha256" = String, Path, description = "the file's SHA-256, 64 hex digits"),
        ("Upload-Offset" = u64, Header, description = "where the bytes start"),
        ("Upload-Length" = u64, Header, description = "the file's size")),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses((status = 204, description = "`Upload-Offset`: the bytes now held"),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn append_post(
    state: State<AppState>,
    caller: Caller,
    digest: Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    append(state, caller, digest, headers, body).await
}

/// Bytes of an upload received and not yet written. Dropped with bytes still in it (the
/// request failed, or the server dropped the request when the connection died), it writes
/// them in the background, so a cut costs the device only what never arrived.
struct Pending {
    state: AppState,
    scope: terrain_services::Scope,
    digest: Digest,
    size: u64,
    /// The most written at once (`MediaLimits::piece_bytes`).
    piece: usize,
    held: u64,
    bytes: Vec<u8>,
}

impl Pending {
    /// Writes the first piece of what is held. The piece leaves `bytes` only once written:
    /// should this future be dropped while it waits, `Drop` writes from the same offset
    /// (a piece written twice is refused the second time, by its offset). A refused piece
    /// ends the request: the device asks where to resume.
    async fn write(&mut self) -> Result<(), ApiError> {
        let (services, scope, digest, size, held) =
            (self.state.services.clone(), self.scope.clone(), self.digest, self.size, self.held);
        let length = self.bytes.len().min(self.piece);
        let bytes = self.bytes[..length].to_vec();
        match blocking(move || services.media_append(&scope, &digest, size, held, &bytes)).await {
            Ok(next) => {
                self.held = next;
                self.bytes.drain(..length);
                Ok(())
            }
            Err(e) => {
                self.bytes.clear();
                Err(e.into())
            }
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.bytes.is_empty() {
            return;
        }
        let (services, scope, digest, size, held) =
            (self.state.services.clone(), self.scope.clone(), self.digest, self.size, self.held);
        let (bytes, piece) = (std::mem::take(&mut self.bytes), self.piece);
        // Off the runtime's threads, as every service call; nobody waits for it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn_blocking(move || {
                let mut held = held;
                for part in bytes.chunks(piece) {
                    match services.media_append(&scope, &digest, size, held, part) {
                        Ok(next) => held = next,
                        Err(e) => {
                            tracing::debug!("the bytes of a cut upload were not kept: {e}");
                            return;
                        }
                    }
                }
            });
        }
    }
}

/// A file's bytes, whole (`200`) or the `Range` asked for (`206`, one range).
#[utoipa::path(get, path = "/api/v1/media/{sha256}",
    params(("sha256" = String, Path, description = "the file's SHA-256, 64 hex digits"),
        ("Range" = Option<String>, Header, description = "`bytes=FIRST-` or `bytes=FIRST-LAST`")),
    responses((status = 200, description = "the file"), (status = 206, description = "the range asked for"),
        (status = 404, body = super::error::ErrorBody), (status = 416, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn download(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(digest): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let digest = parse_digest(&digest)?;
    serve_file(&state, &auth.scope, digest, &headers, "application/octet-stream", None).await
}

/// File `digest` for `scope`, whole or the one `Range` in `headers`, as `content_type`
/// (with `disposition`, if given): the API's download and the dashboard's view. A whole
/// file is read a piece (`MAX_READ_BYTES`, 1 MiB) at a time as the client takes it, at
/// most a few pieces in memory however large the file; a range gets at most a piece.
pub(crate) async fn serve_file(
    state: &AppState,
    scope: &terrain_services::Scope,
    digest: Digest,
    headers: &HeaderMap,
    content_type: &str,
    disposition: Option<String>,
) -> Result<Response, ApiError> {
    let range = headers.get(RANGE).map(|v| parse_range(v.to_str().unwrap_or_default())).transpose()?;
    let (first, last) = range.unwrap_or((0, None));
    let want = last.map_or(MAX_READ_BYTES, |last| last.saturating_sub(first).saturating_add(1));
    let services = state.services.clone();
    let reader = scope.clone();
    let piece = blocking(move || services.media_read(&reader, &digest, first, want)).await?;
    if first >= piece.size && piece.size > 0 {
        return Err(ApiError {
            status: StatusCode::RANGE_NOT_SATISFIABLE,
            code: "range_not_satisfiable",
            message: format!("the file has {} bytes", piece.size),
            retry_after: None,
        });
    }
    let mut common = HeaderMap::new();
    common.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    common.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    // The bytes never change under their name.
    common.insert(CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable"));
    if let Some(value) = disposition.and_then(|d| HeaderValue::from_str(&d).ok()) {
        common.insert(CONTENT_DISPOSITION, value);
    }
    if range.is_some() {
        let end = piece.offset + piece.bytes.len() as u64;
        let content_range = format!("bytes {}-{}/{}", piece.offset, end.saturating_sub(1), piece.size);
        return Ok((StatusCode::PARTIAL_CONTENT, common, [(CONTENT_RANGE, content_range)], piece.bytes).into_response());
    }
    let size = piece.size;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(2);
    let mut next = piece.bytes.len() as u64;
    let _ = sender.send(Bytes::from(piece.bytes)).await;
    let (services, scope) = (state.services.clone(), scope.clone());
    tokio::spawn(async move {
        while next < size {
            let (services, scope) = (services.clone(), scope.clone());
            let Ok(piece) = blocking(move || services.media_read(&scope, &digest, next, MAX_READ_BYTES)).await else {
                return;
            };
            if piece.bytes.is_empty() {
                return;
            }
            next += piece.bytes.len() as u64;
            if sender.send(Bytes::from(piece.bytes)).await.is_err() {
                return;
            }
        }
    });
    Ok((StatusCode::OK, common, [(CONTENT_LENGTH, size.to_string())], Body::new(Pieces(receiver))).into_response())
}

/// A response body made of the pieces a reading task sends.
struct Pieces(tokio::sync::mpsc::Receiver<Bytes>);

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|piece| piece.map(|bytes| Ok(Frame::data(bytes))))
    }
}

pub(crate) fn parse_digest(text: &str) -> Result<Digest, ApiError> {
    text.parse().map_err(|e: terrain_core::media::NotADigest| ApiError::invalid(e.to_string()))
}

fn number(headers: &HeaderMap, name: &str) -> Result<u64, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| ApiError::invalid(format!("the `{name}` header must give a number of bytes")))
}

/// `bytes=FIRST-` or `bytes=FIRST-LAST`: one range, from a known start (what resuming
/// needs; suffix and multiple ranges are refused).
fn parse_range(text: &str) -> Result<(u64, Option<u64>), ApiError> {
    let bad = || {
        ApiError::invalid(format!("`Range: {text}` is not one range of bytes (`bytes=FIRST-` or `bytes=FIRST-LAST`)"))
    };
    let (first, last) = text.trim().strip_prefix("bytes=").and_then(|r| r.split_once('-')).ok_or_else(bad)?;
    let first: u64 = first.trim().parse().map_err(|_| bad())?;
    let last = match last.trim() {
        "" => None,
        last => Some(last.parse::<u64>().ok().filter(|&l| l >= first).ok_or_else(bad)?),
    };
    Ok((first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_one_range_from_a_known_start() {
        assert_eq!(parse_range("bytes=0-").unwrap(), (0, None));
        assert_eq!(parse_range("bytes=100-199").unwrap(), (100, Some(199)));
        for bad in ["bytes=-500", "bytes=5-1", "bytes=0-1,5-9", "items=0-1", "bytes=a-"] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }
}
