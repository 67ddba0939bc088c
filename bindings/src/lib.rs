//! Terrain's FFI surface for the Android and iOS apps, generated with uniffi.
//!
//! This crate wraps `terrain-core` and adds no logic of its own: it converts core types to
//! records a foreign language can hold, and core errors to one [`TerrainError`] enum.
//!
//! # Threading contract
//!
//! - Every exported object ([`TerrainStore`], [`CancelHandle`]) is `Send + Sync`: share one
//!   instance between threads. Writes are serialized inside the store (one SQLite writer);
//!   reads run in parallel on a pool of reader connections.
//! - Every call blocks until it is done. Call nothing from the UI thread: use a background
//!   thread (Android: a coroutine on `Dispatchers.IO` or WorkManager; iOS: a `Task.detached`
//!   or a `BGTask`). Edits and evaluations take about a millisecond; `sync`, `login` and
//!   `download_forms` wait on the network.
//! - `sync` reports progress through the [`SyncListener`] the app implements, called on the
//!   thread that called `sync`; it stops between two round trips when the [`CancelHandle`]
//!   passed to it is cancelled (from any thread) and fails with [`TerrainError::Cancelled`].
//!   Everything synced before the cancellation stays synced.
//! - The store's requests to the server go through the [`HttpClient`] the app passes to
//!   [`TerrainStore::open`] (the platform's HTTP stack: this library has none), called on
//!   the thread that called the store.
//! - There are no async exports: uniffi's async bindings need newer Kotlin coroutines than
//!   the ones this project can test against.
//!
//! # Error contract
//!
//! Every fallible call returns [`TerrainError`], an exception in Kotlin
//! (`TerrainException.NotFound`, …) and Swift. Its variants are what an app branches on;
//! its `detail` is a sentence a person can act on. No panic crosses the FFI: every call body
//! runs under `catch_unwind`, and a panic becomes [`TerrainError::Internal`].

// The uniffi scaffolding macros generate the `extern "C"` functions of the FFI.
#![allow(unsafe_code)]

mod convert;
mod entities;
mod error;
mod form_tree;
mod http;
mod records;
mod store;
mod sync;

pub use entities::{EntityConflictInfo, EntityInfo, EntitySourceInfo, EntityValueInfo};
pub use error::TerrainError;
pub use form_tree::{ChoiceItem, FormNode, FormTree, NodeKind};
pub use http::{HttpClient, HttpHeader, HttpRequest, HttpResponse};
pub use records::{
    AnswerEntry, AnswerValue, CalculatedValue, CommentInfo, ConflictInfo, ConflictValueInfo, Enrolled, Evaluation,
    FieldEditInfo, FilteredChoices, FormInfo, GeoPoint, ImportSummary, IssueInfo, LoginInfo, MediaInfo, MediaProblem,
    MediaUploadSummary, RepeatCount, RepeatInstance, ReviewInfo, Role, SurveyDetail, SurveyFilter, SurveyProblem,
    SurveyStatus, SurveySummary, SyncProgress, SyncSummary,
};
pub use store::{TerrainStore, change_store_key, enrolment_user, generate_store_key};
pub use sync::{CancelHandle, SyncListener};

uniffi::setup_scaffolding!();
