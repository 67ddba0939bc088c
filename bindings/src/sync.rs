//! Sync plumbing for apps: the progress callback they implement and the cancel handle.

use std::sync::Arc;

use terrain_core::sync::{CancelToken, MediaProgress, Progress};

use crate::records::{MediaProgressInfo, SyncProgress};

/// Implemented by the app to follow a sync (a progress bar). Called on the thread that
/// called `sync`, after every round trip; keep it short and do not call the store from it.
#[uniffi::export(with_foreign)]
pub trait SyncListener: Send + Sync {
    /// Where the sync is now.
    fn on_progress(&self, progress: SyncProgress);
}

/// Implemented by the app to follow an upload of attached files, in bytes. Called on the
/// thread that called `upload_media`, after every piece; keep it short.
#[uniffi::export(with_foreign)]
pub trait MediaListener: Send + Sync {
    /// Where the upload is now.
    fn on_progress(&self, progress: MediaProgressInfo);
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
            bytes_sent: p.bytes_sent,
            bytes_received: p.bytes_received,
            rounds: p.rounds,
        }
    }
}

impl From<&MediaProgress> for MediaProgressInfo {
    fn from(p: &MediaProgress) -> MediaProgressInfo {
        MediaProgressInfo {
            files_done: p.files_done,
            files: p.files,
            bytes_done: p.bytes_done,
            bytes: p.bytes,
            bytes_sent: p.bytes_sent,
        }
    }
}
