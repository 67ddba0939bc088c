//! Stored form versions, and the in-memory cache of compiled forms.
//!
//! A stored form never changes (a changed form is a new version), so a form can be parsed,
//! indexed and planned once for the life of the store.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::StoreError;
use crate::form::{CompiledForm, Form};

/// A form as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormSummary {
    /// The form id.
    pub form_id: String,
    /// The version.
    pub version: String,
    /// The title.
    pub title: String,
}

/// Compiled forms by (id, version).
#[derive(Debug, Default)]
pub struct FormCache {
    forms: RwLock<HashMap<(String, String), Arc<CompiledForm>>>,
}

impl FormCache {
    /// The form `form_id` at `version`, compiled once.
    pub fn get(&self, conn: &Connection, form_id: &str, version: &str) -> Result<Arc<CompiledForm>, StoreError> {
        let key = (form_id.to_owned(), version.to_owned());
        if let Some(form) = self.forms.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(form.clone());
        }
        let definition: String = conn
            .query_row("SELECT definition FROM forms WHERE form_id = ?1 AND version = ?2", [form_id, version], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::UnknownForm { form_id: form_id.to_owned(), version: version.to_owned() })?;
        let form = Form::from_json(&definition).map_err(|e| StoreError::CorruptForm {
            form_id: form_id.to_owned(),
            version: version.to_owned(),
            reason: e.to_string(),
        })?;
        let compiled = Arc::new(CompiledForm::new(Arc::new(form)));
        self.forms.write().unwrap_or_else(|e| e.into_inner()).insert(key, compiled.clone());
        Ok(compiled)
    }
}

/// Stores a form version: the same definition again is harmless, a different one refused.
pub fn save(conn: &Connection, form: &Form, now_ms: i64) -> Result<(), StoreError> {
    let definition = form.to_json();
    let existing: Option<String> = conn
        .query_row("SELECT definition FROM forms WHERE form_id = ?1 AND version = ?2", [&form.id, &form.version], |r| {
            r.get(0)
        })
        .optional()?;
    match existing {
        Some(stored) if stored == definition => Ok(()),
        Some(_) => Err(StoreError::FormVersionConflict { form_id: form.id.clone(), version: form.version.clone() }),
        None => {
            conn.execute(
                "INSERT INTO forms (form_id, version, title, definition, saved_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![form.id, form.version, form.title, definition, now_ms],
            )?;
            Ok(())
        }
    }
}

/// Every stored form version, by id then version.
pub fn list(conn: &Connection) -> Result<Vec<FormSummary>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT form_id, version, title FROM forms ORDER BY form_id, version")?;
    let rows = stmt.query_map([], |r| Ok(FormSummary { form_id: r.get(0)?, version: r.get(1)?, title: r.get(2)? }))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
