//! The one error of every service: what went wrong in the domain's own terms. Faces map each
//! kind to their own form (an HTTP status and JSON body, an HTML page, a CLI message); the
//! message is always written for the person who will read it, and says what to do.

use std::time::Duration;

use terrain_backend::BackendError;
use terrain_core::StoreError;

/// Why a service refused or failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// No valid credentials: log in (again).
    #[error("{0}")]
    Unauthenticated(String),
    /// The session token has expired: a device exchanges its refresh token for a new one
    /// (`POST /api/v1/auth/refresh`) and goes on; anyone else logs in again.
    #[error("{0}")]
    TokenExpired(String),
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// Authenticated, but an administrator reset the password: the session opens nothing
    /// but the password change until the user chooses their own.
    #[error("{0}")]
    PasswordChangeRequired(String),
    /// The device was revoked (lost, stolen, replaced): its tokens are void and it may not
    /// log in again. The app tells the person, and keeps what it holds.
    #[error("{0}")]
    DeviceRevoked(String),
    /// No such thing, or one the caller may not see (the same answer, so ids are not
    /// disclosed).
    #[error("{0}")]
    NotFound(String),
    /// The request itself is malformed.
    #[error("{0}")]
    Invalid(String),
    /// Well formed, but refused by the rules (an unknown form version, a value of the wrong
    /// type for its question), with a stable code.
    #[error("{message}")]
    Unprocessable {
        /// A stable, machine-readable code.
        code: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// It clashes with what exists.
    #[error("{0}")]
    Conflict(String),
    /// Too large, or too many items in one request.
    #[error("{0}")]
    TooLarge(String),
    /// Too many attempts or requests: try again after `retry_after`.
    #[error("{message}")]
    TooMany {
        /// When to try again.
        retry_after: Duration,
        /// What was limited.
        message: String,
    },
    /// The server is busy or ran out of time for this request: try again after `retry_after`.
    #[error("{message}")]
    Busy {
        /// When to try again.
        retry_after: Duration,
        /// What happened.
        message: String,
    },
    /// The server failed. The detail is logged, never shown.
    #[error("the server failed; the request was not applied")]
    Internal(String),
}

/// The result of a service call.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The stable code of this error, for machine readers (`not_found`, `too_many`…).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthenticated(_) => "unauthorized",
            Error::TokenExpired(_) => "token_expired",
            Error::Forbidden(_) => "forbidden",
            Error::PasswordChangeRequired(_) => "password_change_required",
            Error::DeviceRevoked(_) => "device_revoked",
            Error::NotFound(_) => "not_found",
            Error::Invalid(_) => "invalid",
            Error::Unprocessable { code, .. } => code,
            Error::Conflict(_) => "conflict",
            Error::TooLarge(_) => "too_large",
            Error::TooMany { .. } => "too_many",
            Error::Busy { .. } => "busy",
            Error::Internal(_) => "internal",
        }
    }

    /// An internal failure: logged here, with its detail, once.
    pub fn internal(detail: impl std::fmt::Display) -> Error {
        tracing::error!(%detail, "internal error");
        Error::Internal(detail.to_string())
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid(message.into())
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Error {
        Error::Forbidden(message.into())
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Error {
        Error::NotFound(message.into())
    }

    pub(crate) fn unprocessable(code: &'static str, message: impl Into<String>) -> Error {
        Error::Unprocessable { code, message: message.into() }
    }
}

impl From<BackendError> for Error {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Duplicate(what) => Error::Conflict(format!("{what} already exists")),
            BackendError::NotFound(what) => Error::NotFound(format!("{what} does not exist")),
            BackendError::Store(store) => store.into(),
            other => Error::internal(other),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownSurvey(id) => Error::NotFound(format!("no survey `{id}`")),
            unknown @ StoreError::UnknownEntity { .. } => Error::NotFound(unknown.to_string()),
            // The survey's answers do not make the entity its form declares.
            entity
            @ (StoreError::Entity { .. } | StoreError::NotAFollowUp { .. } | StoreError::EntityImport { .. }) => {
                Error::unprocessable("invalid", entity.to_string())
            }
            StoreError::UnknownForm { form_id, version } => {
                Error::NotFound(format!("form `{form_id}` version `{version}` is not published"))
            }
            StoreError::FormVersionConflict { form_id, version } => Error::Conflict(format!(
                "form `{form_id}` version `{version}` is already published with other content: publish a new version"
            )),
            // A form version's files never change: a different one is a new version.
            file @ StoreError::FormFile { .. } => Error::Conflict(file.to_string()),
            // A refused edit (wrong type for the question, unknown path, over a size limit)
            // is the caller's to fix.
            StoreError::Document { source, .. } => Error::unprocessable("invalid", source.to_string()),
            // The operator's to fix, and said at the server's start: the message names the
            // file and what to give.
            key @ (StoreError::KeyRequired { .. }
            | StoreError::WrongKey { .. }
            | StoreError::NotEncrypted { .. }
            | StoreError::InvalidKey { .. }) => Error::Invalid(key.to_string()),
            busy @ StoreError::InUse { .. } => Error::Conflict(busy.to_string()),
            other => Error::internal(other),
        }
    }
}
