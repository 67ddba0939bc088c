//! Attached files over the network, after the answers: uploads in pieces that resume at
//! the server's offset after any cut, and downloads that resume at what the device holds.
//!
//! A file is never sent inside the sync request: a photo is 50 to 100 times a survey's
//! answers, and the answers must reach the supervisor first. The app calls
//! [`upload_media`] once [`super::sync`] has returned (in the background, on its own
//! schedule); a cut link costs at most the piece in flight.

use super::client::{CancelToken, SyncError};
use super::transport::{Transport, TransportError};
use crate::media::{Digest, MediaError};
use crate::store::{PendingMedia, Store, StoreError};

/// Tuning of file transfers.
#[derive(Debug, Clone)]
pub struct MediaOptions {
    /// The bytes sent or asked for per request: what a cut costs at most, against a request's
    /// own overhead (about 300 bytes of headers). The server keeps what arrived of a cut
    /// request, so a larger piece loses nothing more; 256 KiB is under a minute on 2G.
    pub chunk_bytes: u64,
}

impl Default for MediaOptions {
    fn default() -> Self {
        MediaOptions { chunk_bytes: 256 << 10 }
    }
}

/// Where an upload is, for a progress bar, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaProgress {
    /// Files the server now holds, of those waiting when the upload started.
    pub files_done: u64,
    /// Files waiting when the upload started.
    pub files: u64,
    /// Bytes the server holds of those files (counting what it had before a cut).
    pub bytes_done: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Bytes sent by this upload (file bytes only, not headers).
    pub bytes_sent: u64,
}

/// What a finished upload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaReport {
    /// Progress at the end.
    pub progress: MediaProgress,
    /// Files the server refused, with its reason (too large, over the day's quota…): they
    /// stay on the device and are offered again next time.
    pub refused: Vec<(Digest, String)>,
}

/// Sends the files attached on this device that the server lacks, smallest first, each
/// resuming where the server's copy stopped.
pub fn upload_media(
    store: &Store,
    transport: &dyn Transport,
    options: &MediaOptions,
    progress: &dyn Fn(&MediaProgress),
    cancel: &CancelToken,
) -> Result<MediaReport, SyncError> {
    let pending = store.pending_media()?;
    let mut report = MediaReport::default();
    report.progress.files = pending.len() as u64;
    report.progress.bytes = pending.iter().map(|p| p.size).sum();
    progress(&report.progress);
    for file in pending {
        if cancel.is_cancelled() {
            return Err(SyncError::Cancelled);
        }
        match upload_one(store, transport, options, &file, &mut report.progress, progress, cancel) {
            Ok(()) => {
                store.mark_media_uploaded(&file.digest)?;
                report.progress.files_done += 1;
                progress(&report.progress);
            }
            Err(SyncError::Transport(TransportError::Refused { message, .. })) => {
                report.refused.push((file.digest, message));
            }
            // This device's copy is gone or unreadable: the others still go.
            Err(SyncError::Store(StoreError::Media(e))) => report.refused.push((file.digest, e.to_string())),
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

fn upload_one(
    store: &Store,
    transport: &dyn Transport,
    options: &MediaOptions,
    file: &PendingMedia,
    progress: &mut MediaProgress,
    report: &dyn Fn(&MediaProgress),
    cancel: &CancelToken,
) -> Result<(), SyncError> {
    let blobs = store.blobs()?;
    let mut offset = transport.media_offset(&file.digest, file.size)?;
    progress.bytes_done += offset.min(file.size);
    while offset < file.size {
        if cancel.is_cancelled() {
            return Err(SyncError::Cancelled);
        }
        let chunk =
            blobs.read_at(&file.digest, offset, options.chunk_bytes.max(1) as usize).map_err(StoreError::from)?;
        if chunk.is_empty() {
            // The file on the device is shorter than its row says: damaged, not sendable.
            return Err(StoreError::Media(MediaError::Missing(file.digest)).into());
        }
        let sent = chunk.len() as u64;
        let next = match transport.media_append(&file.digest, file.size, offset, chunk) {
            Ok(next) => next,
            // Another device sent the same bytes meanwhile, or an answer was lost: ask.
            Err(TransportError::Refused { status: 409, .. }) => transport.media_offset(&file.digest, file.size)?,
            Err(e) => return Err(e.into()),
        };
        progress.bytes_sent += sent;
        progress.bytes_done = progress.bytes_done.saturating_sub(offset.min(file.size)) + next.min(file.size);
        offset = next;
        report(progress);
    }
    Ok(())
}

/// Fetches the file `digest` of `size` bytes (as its answer's reference says) from the
/// server into the store (a survey attached on another device, opened on a supervisor's
/// tablet), resuming what an earlier cut left; returns where it is (sealed, in an encrypted
/// store: read it with [`Store::read_media`]). A file already here is not fetched again;
/// one the server says is of another size, or sends from elsewhere than asked, is refused.
pub fn download_media(
    store: &Store,
    transport: &dyn Transport,
    options: &MediaOptions,
    digest: &Digest,
    size: u64,
    cancel: &CancelToken,
) -> Result<std::path::PathBuf, SyncError> {
    let blobs = store.blobs()?;
    // One download at a time on a device: two of one file would append to one `.part`.
    let _one = store.downloading();
    if blobs.size(digest).is_some() {
        return Ok(blobs.path(digest));
    }
    let mut offset = blobs.part_len(digest);
    while offset < size {
        if cancel.is_cancelled() {
            return Err(SyncError::Cancelled);
        }
        let (bytes, total) = transport.media_read(digest, offset, options.chunk_bytes.max(1))?;
        if total != size {
            return Err(SyncError::Protocol(format!(
                "the server holds file {digest} as {total} bytes, not the {size} its answer says"
            )));
        }
        if bytes.is_empty() {
            return Err(SyncError::Protocol(format!("the server sent nothing of file {digest} at byte {offset}")));
        }
        let room = (size - offset).min(bytes.len() as u64) as usize;
        offset = match blobs.append_part(digest, offset, &bytes[..room]).map_err(StoreError::from)? {
            Ok(next) | Err(next) => next,
        };
    }
    blobs.complete_part(digest).map_err(StoreError::from)?;
    Ok(store.record_received_media(digest)?)
}
