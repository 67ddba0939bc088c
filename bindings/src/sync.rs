//! Sync plumbing for apps: the progress callback they implement and the cancel handle.

use std::sync::Arc;

use terrain_core::sync::{CancelToken, MediaProgress, Progress};

use crate::records::SyncProgress;

/// Implemented by the app to follow a sync or an upload of attached files (a progress bar).
/// Called on the thread that called `sync` or `upload_media`, after every round trip or
/// piece of a file; keep it short and do not call the store from it.
#[uniffi::export(with_foreign)]
pub trait SyncListener: Send + Sync {
    /// Where the sync is now.
    fn on_progress(&self, progress: SyncProgress);
}

/// Cancels a running sync from any thread: it stops before its next round trip and fails
/// with `TerrainError::Cancelled`. What was synced before stays synced; the next sync
/// resumes. A handle stays cancelled: make a new one for the next sync.
#[derive(Debug, Default, uniffi::Object)]
pub struct CancelHandle {
    token: CancelToken,
}

#[uniffi::export]
impl CancelHandle {
    /// A handle that is not cancelled.
    #[uniffi::constructor]
    pub fn new() -> Arc<CancelHandle> {
        Arc::new(CancelHandle::default())
    }

    /// Asks the sync holding this handle to stop.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether cancellation was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

impl CancelHandle {
    /// The core token this handle sets.
    pub(crate) fn token(&self) -> &CancelToken {
        &self.token
    }
}

impl From<&Progress> for SyncProgress {
    fn from(p: &Progress) -> SyncProgress {
        SyncProgress {
            pushed: p.pushed,
            to_push: p.to_push,
            pulled: p.pulled,
            entities_pushed: p.entities_pushed,
            entities_pulled: p.entities_pulled,
            bytes_sent: p.bytes_sent,
            bytes_received: p.bytes_received,
            rounds: p.rounds,
            media_files_done: 0,
            media_files: 0,
            media_bytes_done: 0,
            media_bytes: 0,
        }
    }
}

impl From<&MediaProgress> for SyncProgress {
    fn from(p: &MediaProgress) -> SyncProgress {
        SyncProgress {
            pushed: 0,
            to_push: 0,
            pulled: 0,
            entities_pushed: 0,
            entities_pulled: 0,
            bytes_sent: p.bytes_sent,
            bytes_received: 0,
            rounds: 0,
            media_files_done: p.files_done,
            media_files: p.files,
            media_bytes_done: p.bytes_done,
            media_bytes: p.bytes,
        }
    }
}
