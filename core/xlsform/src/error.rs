//! What can go wrong when importing an XLSForm, in words a form author can act on.
//!
//! A file that cannot be read at all gives [`ImportError::Read`]. A file that can be read
//! but breaks XLSForm rules gives [`ImportError::Invalid`] with *every* problem found, so
//! that an author can fix them all in one pass instead of one upload per mistake.

use std::collections::HashSet;
use std::fmt;

/// Why an XLSForm could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read as an XLSForm: unknown extension, damaged or encrypted
    /// workbook, CSV that is not UTF-8, or no `survey` sheet.
    #[error("cannot read {file}: {reason}")]
    Read {
        /// The file name as given to the importer.
        file: String,
        /// What went wrong, for the form author.
        reason: String,
    },
    /// The file was read but breaks XLSForm rules; no form is returned.
    #[error("{file} is not a valid XLSForm:{}", list(.errors))]
    Invalid {
        /// The file name as given to the importer.
        file: String,
        /// Every problem found, in sheet and row order.
        errors: Vec<FormIssue>,
    },
}

fn list(errors: &[FormIssue]) -> String {
    errors.iter().map(|e| format!("\n  - {e}")).collect()
}

/// One problem in a form, located by sheet, row and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FormIssue {
    /// The sheet as named in the workbook (or the section name in a CSV XLSForm).
    pub sheet: String,
    /// The row number as the spreadsheet shows it (for CSV, the line number in the file).
    pub row: Option<usize>,
    /// The column header as written in the sheet.
    pub column: Option<String>,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl fmt::Display for FormIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sheet)?;
        if let Some(row) = self.row {
            write!(f, ", row {row}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column \"{column}\"")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Where in the workbook a value came from, for locating issues.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At<'a> {
    /// The sheet name as written.
    pub sheet: &'a str,
    /// The row number, if the issue is about a row or cell.
    pub row: Option<usize>,
    /// The column header as written, if the issue is about a cell or column.
    pub column: Option<&'a str>,
}

impl<'a> At<'a> {
    /// A whole sheet.
    pub fn sheet(sheet: &'a str) -> Self {
        At { sheet, row: None, column: None }
    }

    /// A whole row.
    pub fn row(sheet: &'a str, row: usize) -> Self {
        At { sheet, row: Some(row), column: None }
    }

    /// One cell.
    pub fn cell(sheet: &'a str, row: usize, column: &'a str) -> Self {
        At { sheet, row: Some(row), column: Some(column) }
    }
}

/// Collects the issues of one form, then sorts them into reading order.
#[derive(Debug, Default)]
pub(crate) struct Issues {
    /// Sheet names in workbook order, so issues sort the way the author reads the file.
    sheet_order: Vec<String>,
    found: Vec<FormIssue>,
    /// What has been found, to report each problem once: a loop's body is read once per
    /// choice, and its problems would otherwise be listed as many times.
    seen: HashSet<FormIssue>,
}

impl Issues {
    /// A collector whose issues sort by the given sheet order, then by row.
    pub fn new(sheet_order: Vec<String>) -> Self {
        Issues { sheet_order, found: Vec::new(), seen: HashSet::new() }
    }

    /// Records one issue, unless the same issue is already recorded.
    pub fn add(&mut self, at: At<'_>, message: impl Into<String>) {
        let issue = FormIssue {
            sheet: at.sheet.to_owned(),
            row: at.row,
            column: at.column.map(str::to_owned),
            message: message.into(),
        };
        if self.seen.insert(issue.clone()) {
            self.found.push(issue);
        }
    }

    /// Whether nothing has been found so far.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The issues, by sheet (workbook order), then row; issues without a row come first.
    pub fn into_sorted(self) -> Vec<FormIssue> {
        let Issues { sheet_order, mut found, .. } = self;
        let rank = |sheet: &str| sheet_order.iter().position(|s| s == sheet).unwrap_or(sheet_order.len());
        // Stable, so several issues in one row keep the order they were found in.
        found.sort_by_key(|i| (rank(&i.sheet), i.row.unwrap_or(0)));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_display_names_sheet_row_and_column() {
        let issue = FormIssue {
            sheet: "survey".into(),
            row: Some(12),
            column: Some("relevant".into()),
            message: "no question is named \"x\"".into(),
        };
        assert_eq!(issue.to_string(), "survey, row 12, column \"relevant\": no question is named \"x\"");
        let issue = FormIssue { row: None, column: None, ..issue };
        assert_eq!(issue.to_string(), "survey: no question is named \"x\"");
    }

    #[test]
    fn issues_sort_by_sheet_then_row() {
        let mut issues = Issues::new(vec!["survey".into(), "choices".into()]);
        issues.add(At::row("choices", 2), "c");
        issues.add(At::row("survey", 9), "b");
        issues.add(At::row("survey", 3), "a");
        let sorted: Vec<_> = issues.into_sorted().into_iter().map(|i| i.message).collect();
        assert_eq!(sorted, ["a", "b", "c"]);
    }
}
