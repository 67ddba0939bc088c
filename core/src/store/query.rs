//! Listing surveys from their indexed metadata columns, without loading any document.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Row, ToSql};
use serde::Serialize;

use super::StoreError;
use crate::survey::Status;

/// Which surveys to list. Every field left `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct SurveyQuery {
    /// Only surveys of this form.
    pub form_id: Option<String>,
    /// Only surveys of this form version.
    pub form_version: Option<String>,
    /// Only surveys in this status.
    pub status: Option<Status>,
    /// Only surveys started by this user.
    pub enumerator: Option<String>,
    /// Only surveys written to at or after this time (local clock).
    pub updated_since: Option<DateTime<Utc>>,
    /// Only surveys with (or without) unresolved conflicts.
    pub has_conflicts: Option<bool>,
    /// At most this many, newest first (default 1000).
    pub limit: Option<u32>,
    /// Skip this many first.
    pub offset: Option<u32>,
}

/// A survey's metadata, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SurveySummary {
    /// The survey id.
    pub survey_id: String,
    /// The form it answers.
    pub form_id: String,
    /// The form version it answers.
    pub form_version: String,
    /// Draft or finalized.
    pub status: Status,
    /// The user who started it.
    pub created_by: String,
    /// The device it was started on.
    pub created_on: String,
    /// When it was started (device clock).
    pub created_at: DateTime<Utc>,
    /// When this store last wrote it (local clock).
    pub updated_at: DateTime<Utc>,
    /// The review status, once set.
    pub review_status: Option<String>,
    /// Whether some answer has competing values.
    pub has_conflicts: bool,
    /// Whether it has changes the server has not acknowledged.
    pub dirty: bool,
}

pub(crate) const SUMMARY_COLUMNS: &str = "survey_id, form_id, form_version, status, created_by, created_on, \
     created_at, updated_at, review_status, has_conflicts, dirty";

pub(crate) fn summary(row: &Row<'_>) -> rusqlite::Result<SurveySummary> {
    let status: String = row.get(3)?;
    let ms =
        |i| -> rusqlite::Result<DateTime<Utc>> { Ok(DateTime::from_timestamp_millis(row.get(i)?).unwrap_or_default()) };
    Ok(SurveySummary {
        survey_id: row.get(0)?,
        form_id: row.get(1)?,
        form_version: row.get(2)?,
        status: status.parse().unwrap_or(Status::Draft),
        created_by: row.get(4)?,
        created_on: row.get(5)?,
        created_at: ms(6)?,
        updated_at: ms(7)?,
        review_status: row.get(8)?,
        has_conflicts: row.get(9)?,
        dirty: row.get(10)?,
    })
}

/// One survey's metadata row.
pub fn summary_of(conn: &Connection, survey_id: &str) -> Result<Option<SurveySummary>, StoreError> {
    use rusqlite::OptionalExtension;
    let mut stmt = conn.prepare_cached(&format!("SELECT {SUMMARY_COLUMNS} FROM surveys WHERE survey_id = ?1"))?;
    Ok(stmt.query_row([survey_id], summary).optional()?)
}

/// A survey in the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedEntry {
    /// The survey's latest change number.
    pub change_seq: u64,
    /// Its metadata.
    pub summary: SurveySummary,
}

/// Which part of the feed to read: surveys started by one of `creators`, or of one of
/// `forms`, or listed in `surveys`. `None` in both `creators` and `forms` means every survey.
#[derive(Debug, Clone, Default)]
pub struct FeedFilter {
    /// Surveys started by these users.
    pub creators: Option<Vec<String>>,
    /// Surveys of these forms.
    pub forms: Option<Vec<String>>,
    /// These surveys, whoever started them (assignments).
    pub surveys: Vec<String>,
}

/// The surveys written since change number `cursor`, in change order.
pub fn feed(conn: &Connection, cursor: u64, limit: u32, filter: &FeedFilter) -> Result<Vec<FeedEntry>, StoreError> {
    let mut args: Vec<&dyn ToSql> = Vec::new();
    let cursor = cursor as i64;
    args.push(&cursor);
    args.push(&limit);
    let mut alternatives = Vec::new();
    let placeholders = |n: usize, from: usize| (from..from + n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
    if let Some(creators) = &filter.creators {
        alternatives.push(format!("created_by IN ({})", placeholders(creators.len(), args.len() + 1)));
        args.extend(creators.iter().map(|c| c as &dyn ToSql));
    }
    if let Some(forms) = &filter.forms {
        alternatives.push(format!("form_id IN ({})", placeholders(forms.len(), args.len() + 1)));
        args.extend(forms.iter().map(|f| f as &dyn ToSql));
    }
    if !filter.surveys.is_empty() {
        alternatives.push(format!("survey_id IN ({})", placeholders(filter.surveys.len(), args.len() + 1)));
        args.extend(filter.surveys.iter().map(|s| s as &dyn ToSql));
    }
    let restrict = if filter.creators.is_none() && filter.forms.is_none() {
        String::new()
    } else if alternatives.is_empty() {
        " AND 0".to_owned()
    } else {
        format!(" AND ({})", alternatives.join(" OR "))
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT {SUMMARY_COLUMNS}, change_seq FROM surveys WHERE change_seq > ?1{restrict} ORDER BY change_seq LIMIT ?2"
    ))?;
    let rows = stmt.query_map(args.as_slice(), |row| {
        Ok(FeedEntry { summary: summary(row)?, change_seq: row.get::<_, i64>(11)? as u64 })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Runs `query` against the metadata columns.
pub fn list(conn: &Connection, query: &SurveyQuery) -> Result<Vec<SurveySummary>, StoreError> {
    let mut clauses: Vec<&str> = Vec::new();
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    let mut filter = |clause: &'static str, arg: Box<dyn ToSql>| {
        clauses.push(clause);
        args.push(arg);
    };
    if let Some(form) = &query.form_id {
        filter("form_id = ?", Box::new(form.clone()));
    }
    if let Some(version) = &query.form_version {
        filter("form_version = ?", Box::new(version.clone()));
    }
    if let Some(status) = query.status {
        filter("status = ?", Box::new(status.as_str()));
    }
    if let Some(user) = &query.enumerator {
        filter("created_by = ?", Box::new(user.clone()));
    }
    if let Some(since) = query.updated_since {
        filter("updated_at >= ?", Box::new(since.timestamp_millis()));
    }
    // A literal, not a parameter, so that SQLite can use the partial index on conflicts.
    match query.has_conflicts {
        Some(true) => clauses.push("has_conflicts = 1"),
        Some(false) => clauses.push("has_conflicts = 0"),
        None => {}
    }
    let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM surveys {filter} ORDER BY updated_at DESC, survey_id LIMIT {} OFFSET {}",
        query.limit.unwrap_or(1000),
        query.offset.unwrap_or(0)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let rows = stmt.query_map(params.as_slice(), summary)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
