//! The one error type of the FFI, and the guard that keeps panics from crossing it.

use std::panic::{AssertUnwindSafe, catch_unwind};

use terrain_core::StoreError;
use terrain_core::media::MediaError;
use terrain_core::survey::DocumentError;
use terrain_core::sync::bundle::BundleError;
use terrain_core::sync::{SyncError, TransportError};

/// What went wrong, in kinds an app can branch on. `detail` says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum TerrainError {
    /// The call's arguments were refused (a bad path, a value of the wrong type, an answer
    /// the question does not take, an unreadable bundle). Fix the input and call again.
    #[error("{detail}")]
    Invalid {
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// The survey, form, question or repeat instance does not exist on this device.
    #[error("{detail}")]
    NotFound {
        /// What was not found.
        detail: String,
    },
    /// The survey cannot be finalized: answers are missing or break their constraints.
    #[error("{detail}")]
    Incomplete {
        /// Every missing answer and violated constraint, as `path: message`.
        issues: Vec<String>,
        /// A sentence summing them up.
        detail: String,
    },
    /// The server could not be reached or answered something unreadable: try again later.
    #[error("{detail}")]
    Network {
        /// What failed.
        detail: String,
    },
    /// Not logged in, wrong credentials, or the login expired: log in again.
    #[error("{detail}")]
    Auth {
        /// Why.
        detail: String,
    },
    /// This device was revoked (reported lost, stolen or replaced): it can no longer sync or
    /// log in. Tell the person; the surveys it holds stay on it (export them as a bundle
    /// for a supervisor).
    #[error("{detail}")]
    DeviceRevoked {
        /// The server's explanation.
        detail: String,
    },
    /// The server refused the request (permissions, an unsupported client).
    #[error("{detail}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's stable error code.
        code: String,
        /// The server's message.
        detail: String,
    },
    /// The call was cancelled through its [`crate::CancelHandle`]; what was done stays done.
    #[error("{detail}")]
    Cancelled {
        /// What was interrupted.
        detail: String,
    },
    /// The store's key is missing or is not the one it was encrypted with (or a key was
    /// given for a plain store). Nothing was read or written: open it with the key the app
    /// keeps in the Keystore or Keychain.
    #[error("{detail}")]
    WrongKey {
        /// Which of these, and what to do.
        detail: String,
    },
    /// The database on the device failed or is damaged (disk full, a newer app's file).
    #[error("{detail}")]
    Storage {
        /// What failed and what to do.
        detail: String,
    },
    /// A bug in Terrain (a panic caught at the FFI boundary). Report it with the detail.
    #[error("{detail}")]
    Internal {
        /// What happened.
        detail: String,
    },
}

impl TerrainError {
    /// An [`TerrainError::Invalid`] with this detail.
    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        TerrainError::Invalid { detail: detail.into() }
    }
}

/// Runs one exported call's body, turning a panic into [`TerrainError::Internal`] so that
/// no unwinding ever reaches foreign code.
pub(crate) fn guard<T>(body: impl FnOnce() -> Result<T, TerrainError>) -> Result<T, TerrainError> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(TerrainError::Internal { detail: format!("internal error in Terrain ({what}); please report it") })
        }
    }
}

impl From<StoreError> for TerrainError {
    fn from(e: StoreError) -> Self {
        let detail = e.to_string();
        match e {
            StoreError::UnknownSurvey(_) | StoreError::UnknownForm { .. } | StoreError::UnknownEntity { .. } => {
                TerrainError::NotFound { detail }
            }
            StoreError::Incomplete { issues, .. } => TerrainError::Incomplete { issues, detail },
            StoreError::FormVersionConflict { .. }
            | StoreError::FormFile { .. }
            | StoreError::Entity { .. }
            | StoreError::NotAFollowUp { .. }
            | StoreError::EntityImport { .. }
            | StoreError::InvalidQuery(_)
            | StoreError::InvalidKey { .. } => TerrainError::Invalid { detail },
            StoreError::KeyRequired { .. } | StoreError::WrongKey { .. } | StoreError::NotEncrypted { .. } => {
                TerrainError::WrongKey { detail }
            }
            StoreError::Media(media) => match media {
                MediaError::Io { .. } => TerrainError::Storage { detail },
                MediaError::Missing(_) => TerrainError::NotFound { detail },
                MediaError::Sealed(_) => TerrainError::WrongKey { detail },
                _ => TerrainError::Invalid { detail },
            },
            StoreError::Document { source, .. } => match source {
                DocumentError::NoSuchInstance { .. } => TerrainError::NotFound { detail },
                DocumentError::UnknownQuestion(_)
                | DocumentError::NotAQuestion(_)
                | DocumentError::NotARepeat(_)
                | DocumentError::WrongPlace { .. }
                | DocumentError::InvalidValue { .. }
                | DocumentError::ConflictsPending(_)
                | DocumentError::WrongSurvey
                | DocumentError::TooLarge { .. }
                | DocumentError::Refused(_) => TerrainError::Invalid { detail },
                _ => TerrainError::Storage { detail },
            },
            _ => TerrainError::Storage { detail },
        }
    }
}

impl From<TransportError> for TerrainError {
    fn from(e: TransportError) -> Self {
        let detail = e.to_string();
        match e {
            TransportError::Network(_) => TerrainError::Network { detail },
            TransportError::Unauthorized(_) => TerrainError::Auth { detail },
            TransportError::DeviceRevoked(message) => TerrainError::DeviceRevoked { detail: message },
            TransportError::Refused { status, code, message } => {
                TerrainError::Refused { status, code, detail: format!("the server refused the request: {message}") }
            }
        }
    }
}

impl From<SyncError> for TerrainError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Transport(e) => e.into(),
            SyncError::Store(e) => e.into(),
            SyncError::Cancelled => TerrainError::Cancelled { detail: SyncError::Cancelled.to_string() },
            e @ (SyncError::Protocol(_) | SyncError::TooManyRounds(_)) => {
                TerrainError::Network { detail: e.to_string() }
            }
        }
    }
}

impl From<BundleError> for TerrainError {
    fn from(e: BundleError) -> Self {
        match e {
            BundleError::Store(e) => e.into(),
            e => TerrainError::Invalid { detail: e.to_string() },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let result: Result<(), TerrainError> = guard(|| panic!("boom"));
        match result {
            Err(TerrainError::Internal { detail }) => assert!(detail.contains("boom"), "{detail}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_keep_their_kind() {
        let e: TerrainError = StoreError::UnknownSurvey("x".into()).into();
        assert!(matches!(e, TerrainError::NotFound { .. }));
        let e: TerrainError = TransportError::Unauthorized("expired".into()).into();
        assert!(matches!(e, TerrainError::Auth { .. }));
        let e: TerrainError = SyncError::Transport(TransportError::DeviceRevoked("lost".into())).into();
        assert_eq!(e, TerrainError::DeviceRevoked { detail: "lost".into() });
        let e: TerrainError = SyncError::Cancelled.into();
        assert!(matches!(e, TerrainError::Cancelled { .. }));
        let e: TerrainError = StoreError::Incomplete { survey_id: "s".into(), issues: vec!["a: b".into()] }.into();
        assert!(matches!(e, TerrainError::Incomplete { issues, .. } if issues == ["a: b"]));
    }
}
