//! Entities: records that live across visits (a farm plot, a household, a village), created
//! and updated by finalized surveys whose form declares an entity list
//! (`crate::form::entities`), each kept as an Automerge document so that updates made on
//! different devices merge property by property and real conflicts stay visible.

pub mod document;

pub use document::{EntityConflict, EntityDoc, Merged};
