//! Listing surveys from their indexed metadata columns, without loading any document.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Row, ToSql};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::survey::{ReviewStatus, Status};

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
    /// Only surveys of one of these forms.
    pub forms: Option<Vec<String>>,
    /// Only surveys started by one of these users (a team's members).
    pub enumerators: Option<Vec<String>>,
    /// Only surveys the reader may see.
    pub visible: Visibility,
    /// Only surveys in one of these review states; `Received` also matches surveys nobody
    /// has reviewed.
    pub review: Option<Vec<ReviewStatus>>,
    /// Only surveys started at or after this time (device clock).
    pub started_from: Option<DateTime<Utc>>,
    /// Only surveys started before this time (device clock).
    pub started_before: Option<DateTime<Utc>>,
    /// The order (newest write first by default).
    pub sort: SortKey,
    /// Smallest first instead of largest first.
    pub ascending: bool,
    /// Keyset paging: only rows after this one in the chosen order (see [`PageKey`]). Stays
    /// fast however deep the page, where `offset` reads and skips every earlier row.
    pub after: Option<PageKey>,
    /// At most this many (default 1000).
    pub limit: Option<u32>,
    /// Skip this many first.
    pub offset: Option<u32>,
}

/// What a survey list is sorted by; ties are broken by survey id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// When the store last wrote the survey.
    #[default]
    Updated,
    /// When the enumerator started it.
    Started,
    /// Who started it.
    Enumerator,
    /// Its form.
    Form,
    /// Its review status.
    Review,
}

impl SortKey {
    fn column(self) -> &'static str {
        match self {
            SortKey::Updated => "updated_at",
            SortKey::Started => "created_at",
            SortKey::Enumerator => "created_by",
            SortKey::Form => "form_id",
            SortKey::Review => "coalesce(review_status, 'received')",
        }
    }

    fn is_time(self) -> bool {
        matches!(self, SortKey::Updated | SortKey::Started)
    }

    /// The sort value of `row`, for the next page's [`PageKey`].
    pub fn page_key(self, row: &SurveySummary) -> PageKey {
        let value = match self {
            SortKey::Updated => row.updated_at.timestamp_millis().to_string(),
            SortKey::Started => row.created_at.timestamp_millis().to_string(),
            SortKey::Enumerator => row.created_by.clone(),
            SortKey::Form => row.form_id.clone(),
            SortKey::Review => row.review_status.to_string(),
        };
        PageKey { value, survey_id: row.survey_id.clone() }
    }
}

/// Where a page of a sorted list ends: the last row's sort value and survey id. Its text
/// form (`value~survey_id`) is what a web page carries to ask for the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageKey {
    /// The sort column's value in the last row.
    pub value: String,
    /// The last row's survey id.
    pub survey_id: String,
}

impl std::fmt::Display for PageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}~{}", self.value, self.survey_id)
    }
}

impl std::str::FromStr for PageKey {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Survey ids never contain `~`; sort values (user names) might.
        let (value, survey_id) = s
            .rsplit_once('~')
            .ok_or_else(|| StoreError::InvalidQuery(format!("`{s}` is not a page key; follow a `next` link")))?;
        Ok(PageKey { value: value.to_owned(), survey_id: survey_id.to_owned() })
    }
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
    /// The review status.
    pub review_status: ReviewStatus,
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
        review_status: ReviewStatus::from_stored(row.get::<_, Option<String>>(8)?.as_deref()),
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

/// A part of what a reader may see: the surveys that match every field given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Area {
    /// Surveys of one of these forms.
    pub forms: Option<Vec<String>>,
    /// Surveys started by one of these users.
    pub creators: Option<Vec<String>>,
    /// These surveys.
    pub surveys: Option<Vec<String>>,
}

/// Which surveys a reader may see, as the storage applies it: every survey, or those in
/// any of some areas (the server's access scope computes it; see `terrain-services`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Visibility {
    /// Every survey.
    #[default]
    All,
    /// The surveys in any of these areas; none if there is no area.
    Areas(Vec<Area>),
}

impl Visibility {
    /// The SQL condition, with its arguments appended to `args`.
    fn clause(&self, args: &mut Args) -> Option<String> {
        let Visibility::Areas(areas) = self else { return None };
        let mut alternatives = Vec::new();
        for area in areas {
            let mut all = Vec::new();
            for (column, values) in
                [("form_id", &area.forms), ("created_by", &area.creators), ("survey_id", &area.surveys)]
            {
                if let Some(values) = values {
                    all.push(format!("{column} IN ({})", vec!["?"; values.len()].join(", ")));
                    args.extend(values.iter().map(|v| Box::new(v.clone()) as Box<dyn ToSql>));
                }
            }
            if all.is_empty() {
                // An area without limits is everything.
                return None;
            }
            alternatives.push(format!("({})", all.join(" AND ")));
        }
        Some(if alternatives.is_empty() { "0".to_owned() } else { format!("({})", alternatives.join(" OR ")) })
    }
}

/// The surveys written since change number `cursor` that `visible` lets through, in change
/// order.
pub fn feed(conn: &Connection, cursor: u64, limit: u32, visible: &Visibility) -> Result<Vec<FeedEntry>, StoreError> {
    // Positional parameters only, in the order they appear: SQLite numbers a `?` after a
    // `?N` from N + 1, which mixing the two gets wrong.
    let mut args: Args = vec![Box::new(cursor as i64)];
    let restrict = visible.clause(&mut args).map(|c| format!(" AND {c}")).unwrap_or_default();
    args.push(Box::new(limit));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUMMARY_COLUMNS}, change_seq FROM surveys WHERE change_seq > ?{restrict} ORDER BY change_seq LIMIT ?"
    ))?;
    let params: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let rows = stmt.query_map(params.as_slice(), |row| {
        Ok(FeedEntry { summary: summary(row)?, change_seq: row.get::<_, i64>(11)? as u64 })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Runs `query` against the metadata columns.
pub fn list(conn: &Connection, query: &SurveyQuery) -> Result<Vec<SurveySummary>, StoreError> {
    let (sql, args) = list_sql(query)?;
    let mut stmt = conn.prepare_cached(&sql)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let rows = stmt.query_map(params.as_slice(), summary)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The statement [`list`] runs, with its arguments.
fn list_sql(query: &SurveyQuery) -> Result<(String, Args), StoreError> {
    let (filter, mut args) = where_clause(query)?;
    let mut clauses = filter;
    let (column, dir, cmp) =
        (query.sort.column(), if query.ascending { "ASC" } else { "DESC" }, if query.ascending { ">" } else { "<" });
    if let Some(after) = &query.after {
        // Spelled out rather than as a row value, so that SQLite ranges over the index on
        // (column, survey_id) instead of filtering every row.
        clauses.push(format!("{column} {cmp}= ? AND ({column} {cmp} ? OR survey_id {cmp} ?)"));
        if query.sort.is_time() {
            let ms: i64 = after
                .value
                .parse()
                .map_err(|_| StoreError::InvalidQuery(format!("`{after}` is not a page key of this sort")))?;
            args.push(Box::new(ms));
            args.push(Box::new(ms));
        } else {
            args.push(Box::new(after.value.clone()));
            args.push(Box::new(after.value.clone()));
        }
        args.push(Box::new(after.survey_id.clone()));
    }
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM {} {} ORDER BY {column} {dir}, survey_id {dir} LIMIT {} OFFSET {}",
        source(query),
        where_sql(&clauses),
        query.limit.unwrap_or(1000),
        query.offset.unwrap_or(0)
    );
    Ok((sql, args))
}

/// How many surveys match `query`'s filters (paging and order ignored).
pub fn count(conn: &Connection, query: &SurveyQuery) -> Result<u64, StoreError> {
    let (sql, args) = count_sql(query)?;
    let mut stmt = conn.prepare_cached(&sql)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let n: i64 = stmt.query_row(params.as_slice(), |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// The statement [`count`] runs, with its arguments.
fn count_sql(query: &SurveyQuery) -> Result<(String, Args), StoreError> {
    let (clauses, args) = where_clause(query)?;
    Ok((format!("SELECT count(*) FROM {} {}", source(query), where_sql(&clauses)), args))
}

/// How many surveys one enumerator started on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyCount {
    /// The enumerator.
    pub enumerator: String,
    /// The day (UTC) the surveys were started, by the device's clock.
    pub day: chrono::NaiveDate,
    /// How many.
    pub surveys: u64,
}

/// Surveys matching `query`'s filters, counted per enumerator and day started.
pub fn daily_counts(conn: &Connection, query: &SurveyQuery) -> Result<Vec<DailyCount>, StoreError> {
    let (clauses, args) = where_clause(query)?;
    let sql = format!(
        "SELECT created_by, date(created_at / 1000, 'unixepoch') AS day, count(*) FROM {} {} \
         GROUP BY created_by, day ORDER BY day, created_by",
        source(query),
        where_sql(&clauses)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let rows = stmt
        .query_map(params.as_slice(), |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (enumerator, day, n) = row?;
        // SQLite's date() of a stored millisecond time is always a valid day.
        let day = day.parse().map_err(|_| StoreError::InvalidQuery(format!("`{day}` is not a day")))?;
        out.push(DailyCount { enumerator, day, surveys: n.max(0) as u64 });
    }
    Ok(out)
}

/// The table `query` reads. Unresolved conflicts are few by nature (people settle them), and
/// their partial index holds exactly those rows, in list order; SQLite, even with
/// statistics, preferred walking a whole form's index for the same order (226 ms against
/// 2 ms over 100,000 surveys), so the list names it.
fn source(query: &SurveyQuery) -> &'static str {
    if query.has_conflicts == Some(true) { "surveys INDEXED BY surveys_conflicted" } else { "surveys" }
}

fn where_sql(clauses: &[String]) -> String {
    if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) }
}

type Args = Vec<Box<dyn ToSql>>;

fn where_clause(query: &SurveyQuery) -> Result<(Vec<String>, Args), StoreError> {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Args = Vec::new();
    let mut filter = |clause: &str, arg: Box<dyn ToSql>| {
        clauses.push(clause.to_owned());
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
    if let Some(from) = query.started_from {
        filter("created_at >= ?", Box::new(from.timestamp_millis()));
    }
    if let Some(before) = query.started_before {
        filter("created_at < ?", Box::new(before.timestamp_millis()));
    }
    if let Some(forms) = &query.forms {
        clauses.push(format!("form_id IN ({})", vec!["?"; forms.len()].join(", ")));
        args.extend(forms.iter().map(|f| Box::new(f.clone()) as Box<dyn ToSql>));
    }
    if let Some(users) = &query.enumerators {
        clauses.push(format!("created_by IN ({})", vec!["?"; users.len()].join(", ")));
        args.extend(users.iter().map(|u| Box::new(u.clone()) as Box<dyn ToSql>));
    }
    if let Some(clause) = query.visible.clause(&mut args) {
        clauses.push(clause);
    }
    if let Some(states) = &query.review {
        let mut alternatives = Vec::new();
        if states.contains(&ReviewStatus::Received) {
            alternatives.push("review_status IS NULL".to_owned());
        }
        if !states.is_empty() {
            alternatives.push(format!("review_status IN ({})", vec!["?"; states.len()].join(", ")));
            args.extend(states.iter().map(|r| Box::new(r.as_str()) as Box<dyn ToSql>));
        }
        clauses.push(if alternatives.is_empty() { "0".to_owned() } else { format!("({})", alternatives.join(" OR ")) });
    }
    // A literal, not a parameter, so that SQLite can use the partial index on conflicts.
    match query.has_conflicts {
        Some(true) => clauses.push("has_conflicts = 1".to_owned()),
        Some(false) => clauses.push("has_conflicts = 0".to_owned()),
        None => {}
    }
    Ok((clauses, args))
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod plan_tests;
