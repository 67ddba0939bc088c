//! Terrain's relay server: the HTTP API that devices sync with, administration, and (in
//! later modules) the supervisors' dashboard and analysts' exports.
//!
//! Layers, top to bottom: `routes` (HTTP) → `sync_service` and `rules` (what happens and
//! who may) → `backend` (storage, behind the `Backend` trait) → `terrain-core`.

pub mod app;
pub mod auth;
pub mod backend;
pub mod dashboard;
pub mod demo;
pub mod error;
pub mod export;
pub mod listing;
pub mod review;
pub mod routes;
pub mod rules;
pub mod sample;
pub mod serve;
pub mod sync_service;
pub mod xlsform_upload;

pub use app::{AppState, Settings, app};
