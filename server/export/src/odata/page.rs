//! One page of an entity set: the query options (`$top`, `$skip`, `$count`, `$select`,
//! `$filter`, `$skiptoken`), and the rows read from the change feed.
//!
//! Pages follow the change feed, so a page costs the same wherever it starts: the
//! `$skiptoken` of the next page is the feed cursor before the first survey not yet fully
//! sent, that survey's id, and how many of its rows were sent. A survey changed between two
//! pages moves to the end of the feed and comes again there, newer; no row is skipped.
//! Memory is bounded by the page: at most [`PAGE_ROWS`] rows.

use std::ops::ControlFlow;
use std::time::Instant;

use serde_json::{Map, Value as Json};
use terrain_backend::{Backend, BackendError};
use terrain_core::store::SurveySummary;

use super::EntitySet;
use super::filter::Filter;
use crate::{ExportError, ExportRequest, Format, Record, count, scan};

/// The most rows a page holds; a client that wants more follows `@odata.nextLink`.
pub const PAGE_ROWS: u64 = 1000;

/// The longest `$select` accepted.
const MAX_SELECT: usize = 4096;

/// Where a page resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipToken {
    /// The feed cursor to resume after.
    pub cursor: u64,
    /// The survey whose rows the previous page stopped within.
    pub survey_id: String,
    /// How many of its rows were sent.
    pub sent: u64,
}

impl SkipToken {
    fn parse(text: &str) -> Result<SkipToken, ExportError> {
        let bad =
            || ExportError::Invalid("$skiptoken is not one this server gave: follow @odata.nextLink as it is".into());
        let mut parts = text.splitn(3, '-');
        let cursor = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let sent = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let survey_id = parts.next().ok_or_else(bad)?.to_owned();
        Ok(SkipToken { cursor, survey_id, sent })
    }

    fn text(&self) -> String {
        format!("{}-{}-{}", self.cursor, self.sent, self.survey_id)
    }
}

/// A request's query options, checked.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// At most this many rows in all (`$top`).
    pub top: Option<u64>,
    /// Rows to pass over first (`$skip`).
    pub skip: u64,
    /// Whether to say how many rows match (`$count=true`); answered on the page asked, not
    /// carried into the next link.
    pub count: bool,
    /// The properties to send (`$select`), as given.
    pub select: Option<String>,
    /// The filter (`$filter`), as given.
    pub filter: Option<String>,
    /// Where to resume (`$skiptoken`).
    pub skiptoken: Option<SkipToken>,
    /// The most rows the client wants in a page (`Prefer: odata.maxpagesize`), if fewer
    /// than [`PAGE_ROWS`].
    pub page_rows: Option<u64>,
}

impl Options {
    /// The options in a query string's pairs; other parameters are ignored, and an option
    /// this feed does not support is refused.
    pub fn parse(pairs: &[(String, String)]) -> Result<Options, ExportError> {
        let mut options = Options::default();
        let number = |name: &str, v: &str| {
            v.parse::<u64>().map_err(|_| ExportError::Invalid(format!("{name} must be a whole number, not `{v}`")))
        };
        for (key, value) in pairs {
            match key.as_str() {
                "$top" => options.top = Some(number(key, value)?),
                "$skip" => options.skip = number(key, value)?,
                "$count" => {
                    options.count = match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(ExportError::Invalid("$count must be true or false".into())),
                    }
                }
                "$select" => {
                    if value.len() > MAX_SELECT {
                        return Err(ExportError::Invalid(format!("$select is longer than {MAX_SELECT} characters")));
                    }
                    options.select = Some(value.clone());
                }
                "$filter" => {
                    Filter::parse(value).map_err(|e| ExportError::Invalid(e.to_string()))?;
                    options.filter = Some(value.clone());
                }
                "$skiptoken" => options.skiptoken = Some(SkipToken::parse(value)?),
                // Formats other than JSON are not offered; asking for JSON is fine.
                "$format" if value.eq_ignore_ascii_case("json") => {}
                other if other.starts_with('$') => {
                    return Err(ExportError::Invalid(format!(
                        "{other} is not supported: this feed takes $top, $skip, $count, $select, $filter and $skiptoken"
                    )));
                }
                _ => {}
            }
        }
        Ok(options)
    }

    /// Takes a `Prefer` header's `odata.maxpagesize`; returns the page size applied, if
    /// one was asked for.
    pub fn prefer(&mut self, header: &str) -> Option<u64> {
        let asked = header.split(',').find_map(|p| p.trim().strip_prefix("odata.maxpagesize="))?;
        let rows = asked.trim().parse::<u64>().ok().filter(|n| *n > 0)?.min(PAGE_ROWS);
        self.page_rows = Some(rows);
        Some(rows)
    }

    fn parsed_filter(&self) -> Result<Option<Filter>, ExportError> {
        self.filter.as_deref().map(Filter::parse).transpose().map_err(|e| ExportError::Invalid(e.to_string()))
    }

    /// The properties `$select` names, checked against `set`; `None` for all.
    fn selected(&self, set: &EntitySet) -> Result<Option<Vec<String>>, ExportError> {
        let Some(select) = self.select.as_deref() else { return Ok(None) };
        let names: Vec<String> = select.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        if names.iter().any(|n| n == "*") {
            return Ok(None);
        }
        for name in &names {
            if set.property(name).is_none() {
                return Err(ExportError::Invalid(format!(
                    "$select: `{}` has no property `{name}` (its $metadata lists them)",
                    set.name
                )));
            }
        }
        Ok(Some(names))
    }
}

/// One page of a set.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Its rows.
    pub rows: Vec<Map<String, Json>>,
    /// How many rows match in all, if `$count=true` was asked.
    pub count: Option<u64>,
    /// The query of the next page, if there is one.
    pub next: Option<Vec<(String, String)>>,
}

/// Reads one page of `set` as `options` ask, only surveys `visible` lets through.
/// `unreadable` hears of each survey that cannot be read; it is left out.
pub fn read(
    backend: &dyn Backend,
    set: &EntitySet,
    options: &Options,
    visible: &dyn Fn(&SurveySummary) -> bool,
    unreadable: &(dyn Fn(&str, &BackendError) + Sync),
    deadline: Option<Instant>,
) -> Result<Page, ExportError> {
    let filter = options.parsed_filter()?;
    let selected = options.selected(set)?;
    let mut request = ExportRequest::new(&set.form_id, Format::Json);
    request.version = Some(set.version.clone());
    request.since = options.skiptoken.as_ref().map_or(0, |t| t.cursor);
    request.deadline = deadline;
    let passes = |s: &SurveySummary| filter.as_ref().is_none_or(|f| f.matches(s)) && visible(s);

    let count = if options.count {
        let mut all = request.clone();
        all.since = 0;
        Some(if set.is_repeat() {
            let mut rows = 0u64;
            scan(backend, &all, &passes, unreadable, |record| {
                rows += set.rows(record).len() as u64;
                Ok(ControlFlow::Continue(()))
            })?;
            rows
        } else {
            count(backend, &all, &passes)?
        })
    } else {
        None
    };

    let wanted = options.top.unwrap_or(u64::MAX);
    let limit = wanted.min(options.page_rows.unwrap_or(PAGE_ROWS));
    let mut to_skip = options.skip;
    let mut rows = Vec::new();
    let mut resume: Option<SkipToken> = None;
    // The cursor before the survey being sent: where the next page resumes.
    let mut before = request.since;
    let mut first = true;
    scan(backend, &request, &passes, unreadable, |record: &Record| {
        let already = match &options.skiptoken {
            Some(t) if first && t.survey_id == record.survey.meta.survey_id => t.sent,
            _ => 0,
        };
        first = false;
        for (i, row) in set.rows(record).into_iter().enumerate().skip(already as usize) {
            if to_skip > 0 {
                to_skip -= 1;
                continue;
            }
            if rows.len() as u64 == limit {
                resume =
                    Some(SkipToken { cursor: before, survey_id: record.survey.meta.survey_id.clone(), sent: i as u64 });
                return Ok(ControlFlow::Break(()));
            }
            rows.push(match &selected {
                None => row,
                Some(names) => names.iter().filter_map(|n| row.get(n).map(|v| (n.clone(), v.clone()))).collect(),
            });
        }
        before = record.change_seq;
        Ok(ControlFlow::Continue(()))
    })?;

    // A client that asked for fewer rows than a page has what it asked for.
    let next = resume.filter(|_| wanted > limit).map(|token| {
        let mut query = vec![("$skiptoken".to_owned(), token.text())];
        if wanted != u64::MAX {
            query.push(("$top".into(), (wanted - limit).to_string()));
        }
        for (key, value) in [("$select", &options.select), ("$filter", &options.filter)] {
            if let Some(v) = value {
                query.push((key.into(), v.clone()));
            }
        }
        // The count comes with the first page only: counting a repeat set reads every
        // survey, which each page would do again.
        query
    });
    Ok(Page { rows, count, next })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn options_are_checked_and_unsupported_ones_named() {
        let o = Options::parse(&pairs(&[("$top", "10"), ("$skip", "5"), ("$count", "true"), ("other", "x")])).unwrap();
        assert_eq!((o.top, o.skip, o.count), (Some(10), 5, true));
        for (bad, says) in [
            (("$top", "-1"), "whole number"),
            (("$orderby", "x"), "$orderby is not supported"),
            (("$expand", "x"), "not supported"),
            (("$count", "yes"), "true or false"),
            (("$filter", "x eq 1"), "cannot filter"),
            (("$skiptoken", "abc"), "follow @odata.nextLink"),
        ] {
            let e = Options::parse(&pairs(&[bad])).unwrap_err().to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_preferred_page_size_is_taken_up_to_the_servers() {
        let mut o = Options::default();
        assert_eq!(o.prefer("return=minimal, odata.maxpagesize=50"), Some(50));
        assert_eq!(o.page_rows, Some(50));
        assert_eq!(o.prefer("odata.maxpagesize=1000000"), Some(PAGE_ROWS));
        assert_eq!(Options::default().prefer("odata.maxpagesize=0"), None);
        assert_eq!(Options::default().prefer("respond-async"), None);
    }

    #[test]
    fn skip_tokens_round_trip_whatever_the_survey_id() {
        let t = SkipToken { cursor: 42, survey_id: "uuid-with-dashes".into(), sent: 3 };
        assert_eq!(SkipToken::parse(&t.text()).unwrap(), t);
    }
}
