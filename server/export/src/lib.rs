//! Analysts' exports: one merged dataset per form, built from the merged documents as they
//! are now, in the formats analysts' tools read (CSV in a zip, XLSX, JSON, NDJSON,
//! GeoJSON) with a data dictionary.
//!
//! An export reads the form's surveys from the store's change feed in pages of
//! [`BATCH`] (keyset paging on `change_seq`), keeps those the request's filters and the
//! caller's rights let through, reads them from the store's projection (metadata, review
//! and the answers to relevant questions, kept as plain rows beside the documents, so that
//! no document is loaded), and hands each survey to a format writer that writes its rows at
//! once: memory stays constant however many surveys there are. The feed order also gives
//! incremental exports: the cursor returned is the last change number read, and `since`
//! starts after it.
//!
//! A survey changed while an export runs moves to the end of the feed, so it may appear
//! twice in that export (the later copy is the newer); the next incremental export starting
//! from the returned cursor contains it again.

mod csv;
mod dictionary;
pub mod entities;
mod geojson;
mod json;
pub mod odata;
mod rows;
pub mod table;
mod xlsx;

use std::collections::BTreeSet;
use std::io::{Seek, Write};
use std::ops::ControlFlow;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use terrain_core::form::Form;
use terrain_core::store::{EntityLink, FeedEntry, Survey, SurveySummary, Visibility};
use terrain_core::survey::{ReviewStatus, UnknownReviewStatus};

pub use table::Layout;
use terrain_backend::{Backend, BackendError};

/// Surveys read from the store per page.
pub const BATCH: u32 = 512;

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A zip of CSV files: the main table, one per repeat, and the data dictionary.
    Csv,
    /// One workbook, one sheet per table, and a dictionary sheet.
    Xlsx,
    /// One JSON array of surveys, nested as the documents are.
    Json,
    /// One survey per line, nested as the documents are.
    Ndjson,
    /// The geopoints, geotraces and geoshapes as a GeoJSON FeatureCollection.
    GeoJson,
    /// The data dictionary alone, as CSV.
    Dictionary,
}

impl Format {
    /// The format named in a request (`csv`, `xlsx`, `json`, `ndjson`, `geojson`, `dictionary`).
    pub fn parse(name: &str) -> Result<Format, ExportError> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "csv" | "zip" => Format::Csv,
            "xlsx" => Format::Xlsx,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            "geojson" => Format::GeoJson,
            "dictionary" => Format::Dictionary,
            other => {
                return Err(ExportError::Invalid(format!(
                    "unknown export format `{other}`: use csv, xlsx, json, ndjson, geojson or dictionary"
                )));
            }
        })
    }

    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "application/zip",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::GeoJson => "application/geo+json",
            Format::Dictionary => "text/csv; charset=utf-8",
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "zip",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::GeoJson => "geojson",
            Format::Dictionary => "dictionary.csv",
        }
    }
}

/// Which review statuses to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewFilter {
    /// Every survey, whatever its review.
    Any,
    /// Only surveys in one of these statuses.
    Only(BTreeSet<ReviewStatus>),
}

impl ReviewFilter {
    /// Parses `any` or a comma-separated list of statuses (`approved,received`).
    pub fn parse(text: &str) -> Result<ReviewFilter, ExportError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("any") || text == "*" {
            return Ok(ReviewFilter::Any);
        }
        let mut set = BTreeSet::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let status: ReviewStatus = part
                .to_ascii_lowercase()
                .parse()
                .map_err(|e: UnknownReviewStatus| ExportError::Invalid(format!("{e}, or `any` for every survey")))?;
            set.insert(status);
        }
        if set.is_empty() {
            return Err(ExportError::Invalid("give at least one review status, or `any`".into()));
        }
        Ok(ReviewFilter::Only(set))
    }

    /// Only approved surveys: what analysts get unless they ask otherwise.
    pub fn approved() -> ReviewFilter {
        ReviewFilter::Only(BTreeSet::from([ReviewStatus::Approved]))
    }

    fn accepts(&self, status: ReviewStatus) -> bool {
        match self {
            ReviewFilter::Any => true,
            ReviewFilter::Only(set) => set.contains(&status),
        }
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// The form.
    pub form_id: String,
    /// The output format.
    pub format: Format,
    /// Review statuses to keep.
    pub review: ReviewFilter,
    /// Only surveys started at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only surveys started before this time.
    pub to: Option<DateTime<Utc>>,
    /// Only surveys started by these users (a team's or zone's members).
    pub creators: Option<BTreeSet<String>>,
    /// Only surveys of this form version.
    pub version: Option<String>,
    /// Only surveys changed after this change-feed cursor (0: all).
    pub since: u64,
    /// Choice labels in this language instead of codes (a form language, its code or name).
    pub labels: Option<String>,
    /// Start CSV files with a UTF-8 byte order mark (for Excel).
    pub bom: bool,
    /// Put the attached files in the CSV zip, under `media/` (ODK Central's layout).
    pub media: bool,
    /// Stop (with [`ExportError::TimedOut`]) once this time has passed.
    pub deadline: Option<std::time::Instant>,
}

impl ExportRequest {
    /// Every survey of `form_id` in `format`, codes, no BOM.
    pub fn new(form_id: impl Into<String>, format: Format) -> ExportRequest {
        ExportRequest {
            form_id: form_id.into(),
            format,
            review: ReviewFilter::Any,
            from: None,
            to: None,
            creators: None,
            version: None,
            since: 0,
            labels: None,
            bom: false,
            media: false,
            deadline: None,
        }
    }

    /// Whether a survey is of the request's form and passes its filters.
    fn wants(&self, summary: &SurveySummary) -> bool {
        summary.form_id == self.form_id
            && self.review.accepts(summary.review_status)
            && self.from.is_none_or(|from| summary.created_at >= from)
            && self.to.is_none_or(|to| summary.created_at < to)
            && self.version.as_ref().is_none_or(|v| &summary.form_version == v)
            && self.creators.as_ref().is_none_or(|c| c.contains(&summary.created_by))
    }
}

/// Parses a date bound: `2026-11-01` (midnight UTC) or an RFC 3339 time.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, ExportError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| ExportError::Invalid(format!("`{text}` is not a date: use 2026-11-01 or 2026-11-01T08:00:00Z")))
}

/// What an export did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOutcome {
    /// Surveys written.
    pub surveys: u64,
    /// The change-feed cursor to pass as `since` next time to get only what changed after.
    pub cursor: u64,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The request is not understood.
    #[error("{0}")]
    Invalid(String),
    /// The form is not published.
    #[error("form `{0}` is not published on this server: check the form id (`terrain` lists forms at /api/v1/forms)")]
    UnknownForm(String),
    /// Storage failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Writing the output failed.
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
    /// The spreadsheet writer refused.
    #[error("writing the spreadsheet failed: {0}; for datasets larger than a sheet allows, export CSV")]
    Xlsx(String),
    /// The export ran past its deadline.
    #[error(
        "the export took longer than a request may: export with `since` (only what changed), or with the `terrain export` command"
    )]
    TimedOut,
}

impl From<::csv::Error> for ExportError {
    fn from(e: ::csv::Error) -> Self {
        ExportError::Io(std::io::Error::other(e.to_string()))
    }
}

impl From<zip::result::ZipError> for ExportError {
    fn from(e: zip::result::ZipError) -> Self {
        ExportError::Io(std::io::Error::other(e.to_string()))
    }
}

/// One survey to write: its metadata row, and the survey with non-relevant answers removed.
#[derive(Debug, Clone)]
pub struct Record {
    /// Its place in the change feed: a scan resumed after it starts with the next survey.
    pub change_seq: u64,
    /// The store's metadata row (review status, times).
    pub summary: SurveySummary,
    /// The merged survey, with answers to non-relevant questions left out.
    pub survey: Survey,
    /// The entities it created or updated.
    pub entities: Vec<EntityLink>,
}

/// Writes an export of `request` into `out`. `visible` says which surveys the caller may
/// read (everything for the CLI).
///
/// `unreadable` hears of every survey that cannot be read; it is left out and the export
/// goes on with the others.
pub fn export<W: Write + Seek + Send>(
    backend: &dyn Backend,
    request: &ExportRequest,
    visible: &dyn Fn(&SurveySummary) -> bool,
    unreadable: &(dyn Fn(&str, &BackendError) + Sync),
    out: W,
) -> Result<ExportOutcome, ExportError> {
    let forms = form_versions(backend, &request.form_id)?;
    let layout = Layout::new(&forms, request.labels.as_deref())?;
    let scan = Scan { backend, request, visible, unreadable, entities: declares_entities(&forms) };
    match request.format {
        Format::Csv => csv::write(&layout, request.bom, request.media.then_some(backend), scan, out),
        Format::Xlsx => xlsx::write(&layout, scan, out),
        Format::Json => json::write(scan, out, false),
        Format::Ndjson => json::write(scan, out, true),
        Format::GeoJson => geojson::write(&layout, scan, out),
        Format::Dictionary => {
            let mut out = std::io::BufWriter::new(out);
            if request.bom {
                out.write_all(csv::BOM)?;
            }
            dictionary::write_csv(&layout, &mut out)?;
            out.flush()?;
            Ok(ExportOutcome { surveys: 0, cursor: request.since })
        }
    }
}

/// Every published version of a form, newest first.
pub fn form_versions(backend: &dyn Backend, form_id: &str) -> Result<Vec<Arc<Form>>, ExportError> {
    let mut versions: Vec<String> =
        backend.forms()?.into_iter().filter(|f| f.form_id == form_id).map(|f| f.version).collect();
    if versions.is_empty() {
        return Err(ExportError::UnknownForm(form_id.to_owned()));
    }
    // XLSForm versions are usually numbers (`2026110101`): compare by length, then text.
    versions.sort_by(|a, b| (b.len(), b).cmp(&(a.len(), a)));
    versions.iter().map(|v| Ok(backend.form(form_id, v)?)).collect()
}

/// The surveys of an export, read page by page.
pub(crate) struct Scan<'a> {
    backend: &'a dyn Backend,
    request: &'a ExportRequest,
    visible: &'a dyn Fn(&SurveySummary) -> bool,
    unreadable: &'a (dyn Fn(&str, &BackendError) + Sync),
    /// Whether some version of the form declares entities: only then are records' entity
    /// links looked up.
    entities: bool,
}

/// Whether some version of a form creates or updates entities.
fn declares_entities(forms: &[Arc<Form>]) -> bool {
    forms.iter().any(|f| !f.entities.is_empty())
}

/// Surveys loaded at once within a page: a scan that stops early (a feed page of a few
/// rows) loads at most this many it does not use.
const LOAD_CHUNK: usize = 64;

/// Calls `each` with every survey of `request` that `visible` lets through, in change
/// order from `request.since`, until it says to stop; returns how many it was given and the
/// cursor of the last page read. Feeds (OData) page with it; exports are built on it.
pub fn scan(
    backend: &dyn Backend,
    request: &ExportRequest,
    visible: &dyn Fn(&SurveySummary) -> bool,
    unreadable: &(dyn Fn(&str, &BackendError) + Sync),
    each: impl FnMut(&Record) -> Result<ControlFlow<()>, ExportError>,
) -> Result<ExportOutcome, ExportError> {
    // Refuses a form that is not published, as an export does.
    let forms = form_versions(backend, &request.form_id)?;
    Scan { backend, request, visible, unreadable, entities: declares_entities(&forms) }.run_until(each, LOAD_CHUNK)
}

/// How many surveys of `request` `visible` lets through, read from the feed's metadata rows
/// without loading a document.
pub fn count(
    backend: &dyn Backend,
    request: &ExportRequest,
    visible: &dyn Fn(&SurveySummary) -> bool,
) -> Result<u64, ExportError> {
    let filter = Visibility::default();
    let (mut cursor, mut counted) = (request.since, 0u64);
    loop {
        if request.deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Err(ExportError::TimedOut);
        }
        let page = backend.feed(cursor, BATCH, &filter)?;
        let Some(last) = page.last() else { return Ok(counted) };
        cursor = last.change_seq;
        counted += page.iter().filter(|e| request.wants(&e.summary) && visible(&e.summary)).count() as u64;
    }
}

impl Scan<'_> {
    /// Calls `each` with every survey to export, in change order; returns the outcome.
    pub(crate) fn run(
        self,
        mut each: impl FnMut(&Record) -> Result<(), ExportError>,
    ) -> Result<ExportOutcome, ExportError> {
        // An export reads every page whole: loading each whole keeps both threads busy.
        self.run_until(|record| each(record).map(|()| ControlFlow::Continue(())), BATCH as usize)
    }

    /// [`Scan::run`], stopping as soon as `each` says so, loading `chunk` surveys at a time.
    fn run_until(
        self,
        mut each: impl FnMut(&Record) -> Result<ControlFlow<()>, ExportError>,
        chunk: usize,
    ) -> Result<ExportOutcome, ExportError> {
        // The whole feed, filtered here by form: narrowed to a form in SQL, SQLite picks the
        // form index and sorts every remaining survey for each page (quadratic in the
        // dataset); the change index alone keeps each page a short range scan.
        let filter = Visibility::default();
        let mut cursor = self.request.since;
        let mut written = 0u64;
        loop {
            if self.request.deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Err(ExportError::TimedOut);
            }
            let page = self.backend.feed(cursor, BATCH, &filter)?;
            let Some(last) = page.last() else { break };
            cursor = last.change_seq;
            let wanted: Vec<FeedEntry> =
                page.into_iter().filter(|e| self.request.wants(&e.summary) && (self.visible)(&e.summary)).collect();
            for chunk in wanted.chunks(chunk) {
                for record in self.load(chunk.to_vec())? {
                    written += 1;
                    if each(&record)?.is_break() {
                        return Ok(ExportOutcome { surveys: written, cursor: record.change_seq });
                    }
                }
            }
        }
        Ok(ExportOutcome { surveys: written, cursor })
    }

    /// Reads a page of surveys as exports show them, from the store's projection, keeping
    /// their order. A survey whose row is behind its document is read from the document;
    /// the page is split over two threads so that such pages keep both cores busy.
    fn load(&self, wanted: Vec<FeedEntry>) -> Result<Vec<Record>, ExportError> {
        let entities = self.entities;
        let read = |entries: Vec<FeedEntry>| -> Result<Vec<Record>, ExportError> {
            let ids: Vec<String> = entries.iter().map(|e| e.summary.survey_id.clone()).collect();
            let surveys = self.backend.projected(&ids)?;
            let links = if entities { self.backend.entity_links(&ids)? } else { vec![Vec::new(); ids.len()] };
            let mut records = Vec::with_capacity(entries.len());
            for ((FeedEntry { change_seq, summary }, survey), entities) in entries.into_iter().zip(surveys).zip(links) {
                match survey {
                    Ok(survey) => records.push(Record { change_seq, summary, survey, entities }),
                    // Removed since the page was read.
                    Err(BackendError::Store(terrain_core::StoreError::UnknownSurvey(_))) => {}
                    Err(e) if e.is_unreadable() => (self.unreadable)(&summary.survey_id, &e),
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(records)
        };
        let half = wanted.len().div_ceil(2);
        let mut second = wanted;
        let first: Vec<FeedEntry> = second.drain(..half).collect();
        let (a, b) = std::thread::scope(|scope| {
            let worker = scope.spawn(|| read(second));
            (read(first), worker.join())
        });
        let b = b.map_err(|_| ExportError::Io(std::io::Error::other("an export worker thread failed")))?;
        let mut records = a?;
        records.extend(b?);
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_filters_parse_and_read_null_as_received() {
        assert_eq!(ReviewFilter::parse("any").ok(), Some(ReviewFilter::Any));
        let f = ReviewFilter::parse("approved, Received").ok();
        assert_eq!(f, Some(ReviewFilter::Only(BTreeSet::from([ReviewStatus::Approved, ReviewStatus::Received]))));
        let f = f.unwrap_or(ReviewFilter::Any);
        let unreviewed = ReviewStatus::from_stored(None);
        assert!(f.accepts(unreviewed) && f.accepts(ReviewStatus::Approved) && !f.accepts(ReviewStatus::Rejected));
        assert!(ReviewFilter::parse("pending").is_err());
        assert!(ReviewFilter::parse(" , ").is_err());
        assert!(!ReviewFilter::approved().accepts(unreviewed));
        assert!(!ReviewFilter::approved().accepts(ReviewStatus::ChangedAfterApproval));
    }

    #[test]
    fn time_bounds_take_dates_or_rfc3339() {
        assert_eq!(parse_time("2026-11-01").ok().map(|t| t.to_rfc3339()).as_deref(), Some("2026-11-01T00:00:00+00:00"));
        assert_eq!(
            parse_time("2026-11-01T08:00:00+01:00").ok().map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-01T07:00:00+00:00")
        );
        assert!(parse_time("01/11/2026").is_err());
    }
}
