//! Stored form versions with their attached files, and the in-memory cache of compiled forms.
//!
//! A stored form never changes (a changed form is a new version), nor do its files, so a
//! form can be parsed, given its files (`form::attachments`), indexed and planned once for
//! the life of the store; storing a file drops the version's compiled form, which is built
//! again with it. A list the form reads with no file for it (`plots.csv`) is the store's
//! entity list of that name, when it has one; a change to any entity drops every compiled
//! form.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StoreError;
use crate::form::{CompiledForm, Form, attachments};

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

/// One file stored with a form version, as a list of them shows it: what a device needs to
/// know whether it already holds the file (under this version or an earlier one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormFile {
    /// The name the form reads it by (`villages.csv`).
    pub name: String,
    /// Its SHA-256, as 64 lower-case hexadecimal digits.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Compiled forms by (id, version).
#[derive(Debug, Default)]
pub struct FormCache {
    forms: RwLock<Compiled>,
}

#[derive(Debug, Default)]
struct Compiled {
    by_version: HashMap<(String, String), Arc<CompiledForm>>,
    /// The entity lists each compiled form reads (`plots.csv` with no file of that name),
    /// whether or not the store held any of their entities when it compiled.
    reads: HashMap<(String, String), BTreeSet<String>>,
    /// Counts [`FormCache::forget`]s: a form compiled from what was read before one is
    /// used but not kept, since its files may have changed meanwhile.
    generation: u64,
}

impl FormCache {
    /// The form `form_id` at `version`, compiled once.
    pub fn get(&self, conn: &Connection, form_id: &str, version: &str) -> Result<Arc<CompiledForm>, StoreError> {
        let key = (form_id.to_owned(), version.to_owned());
        let generation = {
            let compiled = self.forms.read().unwrap_or_else(|e| e.into_inner());
            if let Some(form) = compiled.by_version.get(&key) {
                return Ok(form.clone());
            }
            compiled.generation
        };
        let form = stored(conn, form_id, version)?;
        let files = files(conn, form_id, version)?;
        // A list the form reads that came with no file may be an entity list of this store.
        let mut entity_lists = BTreeMap::new();
        let mut reads = BTreeSet::new();
        for needed in attachments::missing_files(&form, &files) {
            if let Some(list) = needed.name.strip_suffix(".csv") {
                reads.insert(list.to_owned());
                if let Some(table) = super::entities::table(conn, list)? {
                    entity_lists.insert(needed.name, table);
                }
            }
        }
        // The files were read when stored; one that no longer reads is damage on disk.
        let form = if files.is_empty() && entity_lists.is_empty() {
            form
        } else {
            attachments::attach_with(&form, &files, entity_lists).map_err(|e| StoreError::CorruptForm {
                form_id: form_id.to_owned(),
                version: version.to_owned(),
                reason: e.to_string(),
            })?
        };
        let compiled = Arc::new(CompiledForm::new(Arc::new(form)));
        let mut cache = self.forms.write().unwrap_or_else(|e| e.into_inner());
        if cache.generation == generation {
            cache.by_version.insert(key.clone(), compiled.clone());
            cache.reads.insert(key, reads);
        }
        Ok(compiled)
    }

    /// Drops the compiled forms that read any of `lists`: entities of those lists changed.
    /// The others stay compiled (a relay takes entity changes at every sync round).
    pub fn forget_readers_of<'a>(&self, lists: impl IntoIterator<Item = &'a str>) {
        let lists: BTreeSet<&str> = lists.into_iter().collect();
        if lists.is_empty() {
            return;
        }
        let mut cache = self.forms.write().unwrap_or_else(|e| e.into_inner());
        cache.generation += 1;
        let stale: Vec<(String, String)> = cache
            .reads
            .iter()
            .filter(|(_, read)| read.iter().any(|list| lists.contains(list.as_str())))
            .map(|(key, _)| key.clone())
            .collect();
        for key in stale {
            cache.by_version.remove(&key);
            cache.reads.remove(&key);
        }
    }

    /// Drops the compiled form of `form_id` at `version`: its files changed.
    pub fn forget(&self, form_id: &str, version: &str) {
        let mut cache = self.forms.write().unwrap_or_else(|e| e.into_inner());
        cache.generation += 1;
        let key = (form_id.to_owned(), version.to_owned());
        cache.by_version.remove(&key);
        cache.reads.remove(&key);
    }
}

/// A stored form version as it was saved (without its files).
fn stored(conn: &Connection, form_id: &str, version: &str) -> Result<Form, StoreError> {
    let definition: String = conn
        .query_row("SELECT definition FROM forms WHERE form_id = ?1 AND version = ?2", [form_id, version], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::UnknownForm { form_id: form_id.to_owned(), version: version.to_owned() })?;
    Form::from_json(&definition).map_err(|e| StoreError::CorruptForm {
        form_id: form_id.to_owned(),
        version: version.to_owned(),
        reason: e.to_string(),
    })
}

/// A stored form version as it was saved, without its files: what a device attaches them
/// to (and its own entity lists), so that it is sent once whatever its files.
pub fn definition(conn: &Connection, form_id: &str, version: &str) -> Result<Form, StoreError> {
    stored(conn, form_id, version)
}

/// The files stored with every form version, by (id, version), each list by name.
pub fn file_index(conn: &Connection) -> Result<BTreeMap<(String, String), Vec<FormFile>>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT form_id, version, name, sha256, length(bytes) FROM form_files ORDER BY form_id, version, name",
    )?;
    let mut rows = stmt.query([])?;
    let mut index: BTreeMap<(String, String), Vec<FormFile>> = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let sha256: Vec<u8> = row.get(3)?;
        let bytes: i64 = row.get(4)?;
        let file = FormFile { name: row.get(2)?, sha256: crate::hex::encode(&sha256), bytes: bytes.max(0) as u64 };
        index.entry((row.get(0)?, row.get(1)?)).or_default().push(file);
    }
    Ok(index)
}

/// One file of a form version, if it has one by that name.
pub fn file(conn: &Connection, form_id: &str, version: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT bytes FROM form_files WHERE form_id = ?1 AND version = ?2 AND name = ?3",
            [form_id, version, name],
            |r| r.get(0),
        )
        .optional()?)
}

/// A file with these contents stored with any form version: a new version's unchanged
/// list, which a device then need not download again.
pub fn file_with_digest(conn: &Connection, sha256: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .query_row("SELECT bytes FROM form_files WHERE sha256 = ?1 LIMIT 1", [sha256.as_slice()], |r| r.get(0))
        .optional()?)
}

/// The files stored with a form version, by name.
fn files(conn: &Connection, form_id: &str, version: &str) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT name, bytes FROM form_files WHERE form_id = ?1 AND version = ?2")?;
    let rows = stmt.query_map([form_id, version], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Stores files attached to a stored form version, all or none: each must read as the
/// form reads it (`form::attachments`). The same file again is harmless; a different one
/// under a stored name is refused, since a form version never changes. Returns whether
/// anything was stored.
pub fn save_files(
    conn: &Connection,
    form_id: &str,
    version: &str,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<bool, StoreError> {
    let refused =
        |reason: String| StoreError::FormFile { form_id: form_id.to_owned(), version: version.to_owned(), reason };
    let form = stored(conn, form_id, version)?;
    let mut all = self::files(conn, form_id, version)?;
    let mut new = Vec::new();
    for (name, bytes) in files {
        match all.get(name) {
            Some(stored) if stored == bytes => {}
            Some(_) => {
                return Err(refused(format!(
                    "`{name}` is already stored with other contents; a changed file needs a new form version"
                )));
            }
            None => {
                all.insert(name.clone(), bytes.clone());
                new.push(name);
            }
        }
    }
    if new.is_empty() {
        return Ok(false);
    }
    // Read with every file the version has, as the compiled form will be.
    attachments::attach(&form, &all).map_err(|e| refused(e.to_string()))?;
    let mut insert = conn
        .prepare_cached("INSERT INTO form_files (form_id, version, name, sha256, bytes) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for name in new {
        let bytes = &files[name];
        insert.execute(params![form_id, version, name, Sha256::digest(bytes).as_slice(), bytes])?;
    }
    Ok(true)
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
