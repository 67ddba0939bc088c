//! Terrain's shared core: survey documents, forms, the SQLite store and sync.
//!
//! The same crate runs on enumerators' phones (through `terrain-ffi`), in the relay server
//! and in the `terrain` command. It knows neither HTTP routing nor FFI; see ARCHITECTURE.md.

pub mod entity;
pub mod form;
pub mod hex;
pub mod identity;
pub mod intake;
pub mod media;
pub mod store;
pub mod survey;
pub mod sync;
pub mod value;

pub use automerge::ChangeHash;
pub use form::Form;
pub use identity::{Author, Role};
pub use store::{Store, StoreError, StoreKey, SurveyQuery};
pub use survey::{AnswerPath, SurveyDoc};
pub use value::{GeoPoint, Value};
