//! Seeding or bulk-updating an entity list from a CSV file, as ODK Central's entity upload
//! does: a `label` column, a `name` column with each entity's id (optional), and one column
//! per property.
//!
//! The import is idempotent: an entity is named by its `name`, or else by its label (a
//! UUID made from the list and the label), so the same file again changes nothing, and a
//! corrected file updates the entities it names. A row with a bad value is reported with
//! its line number and the other rows import; a header that cannot be read refuses the
//! whole file. Everything imported is written in one transaction.

use std::collections::HashMap;

use automerge::ActorId;
use chrono::Utc;
use rusqlite::Connection;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::StoreError;
use super::entities;
use crate::form::entities::created_id;
use crate::form::{EntityAction, attachments};

/// The largest file an import reads.
pub const MAX_IMPORT_BYTES: usize = 32 << 20;
/// The most rows one import reads.
pub const MAX_IMPORT_ROWS: usize = 200_000;
/// The most columns one import reads.
pub const MAX_IMPORT_COLUMNS: usize = 64;
/// The longest id or label taken.
const MAX_TEXT_CHARS: usize = 1_000;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Entities the file created.
    pub created: u64,
    /// Entities it changed.
    pub updated: u64,
    /// Rows that changed nothing (the same values again).
    pub unchanged: u64,
    /// Rows refused, each with its line in the file (the header is line 1) and why.
    pub refused: Vec<(u64, String)>,
}

/// Imports `csv` into `list`, under `actor`, in the caller's transaction.
pub fn import(tx: &Connection, list: &str, csv: &[u8], actor: &ActorId) -> Result<ImportReport, StoreError> {
    let refused = |reason: String| StoreError::EntityImport { list: list.to_owned(), reason };
    if list.is_empty() || list.starts_with("__") || list.contains(['.', '/']) || list.chars().any(char::is_control) {
        return Err(refused("not a list name: no `.`, `/` or leading `__`".into()));
    }
    if csv.len() > MAX_IMPORT_BYTES {
        return Err(refused(format!("{} bytes; an import reads at most {} MiB", csv.len(), MAX_IMPORT_BYTES >> 20)));
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(csv);
    let header = attachments::csv_header(&mut reader, MAX_IMPORT_COLUMNS).map_err(refused)?;
    let columns = Columns::read(&header).map_err(refused)?;
    // Named by the hash of the file: which import wrote a value shows in the entity's sources.
    let source = format!("import:{}", crate::hex::encode(&Sha256::digest(csv)[..8]));
    let now = Utc::now();
    let mut report = ImportReport::default();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut line = 1;
    for (i, record) in reader.records().enumerate() {
        // The line the row starts on: a quoted cell may span lines.
        line = match &record {
            Ok(record) => record.position().map_or(line + 1, |p| p.line()),
            Err(e) => e.position().map_or(line + 1, |p| p.line()),
        };
        if i == MAX_IMPORT_ROWS {
            report.refused.push((line, format!("past the {MAX_IMPORT_ROWS} rows one import reads; split the file")));
            break;
        }
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                report.refused.push((line, format!("this line cannot be read: {e}")));
                continue;
            }
        };
        let row = match columns.row(list, &record) {
            Ok(row) => row,
            Err(reason) => {
                report.refused.push((line, reason));
                continue;
            }
        };
        if let Some(first) = seen.insert(row.id.clone(), line) {
            report.refused.push((line, format!("names the same entity as line {first}; keep one of the two")));
            continue;
        }
        let (mut doc, exists) = entities::load_or_genesis(tx, list, &row.id)?;
        let action = if exists {
            EntityAction::Update {
                list: list.to_owned(),
                id: row.id.clone(),
                label: Some(row.label).filter(|l| !l.is_empty()),
                properties: row.properties,
                create_if_missing: false,
            }
        } else if row.label.is_empty() {
            report.refused.push((line, "a new entity needs a label".to_owned()));
            continue;
        } else {
            EntityAction::Create {
                list: list.to_owned(),
                id: row.id.clone(),
                label: row.label,
                properties: row.properties,
            }
        };
        let changed = doc.apply(&action, &source, false, actor.clone(), now).map_err(|e| refused(e.to_string()))?;
        match (exists, changed) {
            (_, false) => report.unchanged += 1,
            (false, true) => report.created += 1,
            (true, true) => report.updated += 1,
        }
        if changed {
            entities::write(tx, list, &row.id, &mut doc)?;
        }
    }
    Ok(report)
}

/// What each column of the file holds.
struct Columns {
    id: Option<usize>,
    label: usize,
    properties: Vec<(usize, String)>,
}

/// One row, read.
struct Row {
    id: String,
    label: String,
    properties: Vec<(String, String)>,
}

impl Columns {
    fn read(header: &[String]) -> Result<Columns, String> {
        let label = header.iter().position(|h| h == "label").ok_or("no `label` column; name one column `label`")?;
        // `__id` is how ODK Central writes an entity's id in its CSV downloads.
        let id = header.iter().position(|h| h == "name" || h == "__id");
        let mut properties = Vec::new();
        for (i, name) in header.iter().enumerate() {
            if Some(i) == id || i == label || name == "__version" {
                continue;
            }
            if name.starts_with("__") || !is_property_name(name) {
                return Err(format!(
                    "`{name}` is not a property name: start with a letter or `_` (not `__`), then letters, \
                     digits, `-`, `.` or `_`"
                ));
            }
            properties.push((i, name.clone()));
        }
        Ok(Columns { id, label, properties })
    }

    fn row(&self, list: &str, record: &csv::StringRecord) -> Result<Row, String> {
        let cell = |i: usize| record.get(i).unwrap_or("").trim().to_owned();
        let label = cell(self.label);
        let id = match self.id.map(cell).filter(|id| !id.is_empty()) {
            Some(id) => id,
            None if label.is_empty() => return Err("no `name` and no `label`: nothing names the entity".into()),
            None => created_id(&format!("label:{label}"), list),
        };
        for (what, text) in [("id", &id), ("label", &label)] {
            if text.chars().count() > MAX_TEXT_CHARS || text.chars().any(char::is_control) {
                return Err(format!(
                    "the {what} is longer than {MAX_TEXT_CHARS} characters or holds control characters"
                ));
            }
        }
        let properties = self.properties.iter().map(|(i, name)| (name.clone(), cell(*i))).collect();
        Ok(Row { id, label, properties })
    }
}

/// ODK Central's rule for a property name, without its `__` and reserved names (handled
/// by the caller).
fn is_property_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
}
