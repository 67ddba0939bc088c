//! What reading one XLSForm may cost, so that an upload from outside is bounded however it
//! was built: an `.xlsx` is a zip, and a few kilobytes of zip can unpack to gigabytes, or
//! hold millions of tiny cells. A real questionnaire is a few hundred kilobytes, a few
//! dozen entries and some thousands of cells, far below every default.

use std::io::{Cursor, Read};

/// Bounds on one workbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes the workbook's files may unpack to, all together.
    pub max_unpacked_bytes: u64,
    /// The most files in the workbook's zip.
    pub max_entries: usize,
    /// The most non-empty cells over every sheet.
    pub max_cells: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_unpacked_bytes: 64 << 20, max_entries: 256, max_cells: 500_000 }
    }
}

/// Unpacks every file of an `.xlsx` once, within the limits, before the reader opens it:
/// the reader holds some of them (the shared strings) whole in memory, and trusts the
/// sizes the zip declares.
pub(crate) fn check_zip(bytes: &[u8], limits: &Limits) -> Result<(), String> {
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("it is not a readable .xlsx workbook ({e})"))?;
    if zip.len() > limits.max_entries {
        return Err(format!(
            "it holds {} files where a workbook holds a few dozen (at most {}): it is refused",
            zip.len(),
            limits.max_entries
        ));
    }
    let mut left = limits.max_unpacked_bytes;
    let too_big = || {
        format!(
            "it unpacks to more than {} MiB, where a real XLSForm takes a few hundred kB: it is refused",
            limits.max_unpacked_bytes >> 20
        )
    };
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| format!("the workbook is damaged ({e})"))?;
        if entry.size() > left {
            return Err(too_big());
        }
        let shared_strings = is_shared_strings(entry.name_raw());
        // The declared size can lie: count what really comes out, and stop past the budget.
        let mut taken = (&mut entry).take(left + 1);
        let read = if shared_strings {
            let mut xml = Vec::new();
            let read = taken.read_to_end(&mut xml).map_err(|e| format!("the workbook is damaged ({e})"))?;
            check_shared_strings(&xml, limits)?;
            read as u64
        } else {
            std::io::copy(&mut taken, &mut std::io::sink()).map_err(|e| format!("the workbook is damaged ({e})"))?
        };
        if read > left {
            return Err(too_big());
        }
        left -= read;
    }
    Ok(())
}

/// Whether the reader may take this entry for the shared-string table (it looks the table up
/// beside the workbook part, wherever that is, and forgivingly as to case and slashes).
fn is_shared_strings(name: &[u8]) -> bool {
    let name: Vec<u8> = name.iter().map(|b| if *b == b'\\' { b'/' } else { b.to_ascii_lowercase() }).collect();
    name.ends_with(b"sharedstrings.xml")
}

/// The reader reserves room for as many strings as the table's `uniqueCount` claims, before
/// it reads one: `uniqueCount="1000000000000"` in a file of a hundred bytes asks for 24 TB,
/// and the failed allocation aborts the process. A workbook cannot use more distinct
/// strings than it has cells, so a claim past the cell limit is refused. Every occurrence
/// is checked, wherever it is: the reader skips comments and declarations before the table,
/// and a check of only the first could be shown a decoy.
fn check_shared_strings(xml: &[u8], limits: &Limits) -> Result<(), String> {
    const ATTRIBUTE: &[u8] = b"uniqueCount";
    let mut rest = xml;
    while let Some(at) = rest.windows(ATTRIBUTE.len()).position(|w| w == ATTRIBUTE) {
        rest = &rest[at + ATTRIBUTE.len()..];
        let value = attribute_value(rest).unwrap_or_default();
        // The reader parses the raw value as digits (an optional `+` and leading zeros
        // allowed); anything else it ignores, and reserves nothing.
        let digits = value.strip_prefix(b"+").unwrap_or(value);
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            continue;
        }
        let claimed = digits.iter().fold(0u64, |n, d| n.saturating_mul(10).saturating_add(u64::from(d - b'0')));
        if claimed > limits.max_cells as u64 {
            return Err(format!(
                "its shared strings claim {claimed} distinct strings, more than its at most {} cells can use: it is refused",
                limits.max_cells
            ));
        }
    }
    Ok(())
}

/// The raw value of an attribute from just after its name: `  = "value"` or `='value'`.
fn attribute_value(after_name: &[u8]) -> Option<&[u8]> {
    let trimmed = |b: &[u8]| -> usize { b.iter().take_while(|c| c.is_ascii_whitespace()).count() };
    let mut rest = &after_name[trimmed(after_name)..];
    rest = rest.strip_prefix(b"=")?;
    rest = &rest[trimmed(rest)..];
    let quote = *rest.first().filter(|q| **q == b'"' || **q == b'\'')?;
    let rest = &rest[1..];
    rest.iter().position(|c| *c == quote).map(|end| &rest[..end])
}

/// The rows × columns a workbook's sheets may lay out, per cell allowed: a sheet is laid out
/// as one slot per header column on every data row, and each row is then walked column by
/// column, so a few cells (a wide header, and one cell on each of many rows) could ask for
/// a grid of billions of slots. Real forms (a few dozen columns, a few thousand rows; a
/// choices sheet of 50,000 villages in 10 columns) stay far below.
const GRID_PER_CELL: usize = 10;

/// Counts cells as a reader takes them, refusing past the limit.
#[derive(Debug)]
pub(crate) struct CellCount {
    left: usize,
    limit: usize,
    /// Slots the laid-out rows may still take (see [`GRID_PER_CELL`]).
    grid_left: usize,
    grid_limit: usize,
}

impl CellCount {
    pub(crate) fn new(limits: &Limits) -> Self {
        let grid = limits.max_cells.saturating_mul(GRID_PER_CELL);
        CellCount { left: limits.max_cells, limit: limits.max_cells, grid_left: grid, grid_limit: grid }
    }

    /// Takes the slots of one laid-out row of `width` columns.
    pub(crate) fn lay_out(&mut self, width: usize) -> Result<(), String> {
        self.grid_left = self.grid_left.checked_sub(width).ok_or_else(|| {
            format!(
                "its sheets lay out more than {} cells (as many columns as the header on every row), \
                 where a real XLSForm has some thousands: it is refused",
                self.grid_limit
            )
        })?;
        Ok(())
    }

    pub(crate) fn take(&mut self) -> Result<(), String> {
        if self.left == 0 {
            return Err(format!(
                "it has more than {} non-empty cells, where a real XLSForm has some thousands: it is refused",
                self.limit
            ));
        }
        self.left -= 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in files {
            out.start_file(*name, options).unwrap();
            out.write_all(bytes).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn a_zip_bomb_is_refused_before_it_unpacks() {
        let bomb = zip_of(&[("xl/sharedStrings.xml", &vec![b'a'; 80 << 20])]);
        assert!(bomb.len() < 200_000, "80 MiB of one letter packs to {} bytes", bomb.len());
        let err = check_zip(&bomb, &Limits::default()).unwrap_err();
        assert!(err.contains("64 MiB"), "{err}");
        let many: Vec<(String, Vec<u8>)> = (0..300).map(|i| (format!("f{i}"), vec![])).collect();
        let many: Vec<(&str, &[u8])> = many.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
        assert!(check_zip(&zip_of(&many), &Limits::default()).unwrap_err().contains("300 files"));
        assert!(check_zip(&zip_of(&[("a", b"small")]), &Limits::default()).is_ok());
    }

    #[test]
    fn a_shared_string_table_claiming_more_strings_than_cells_is_refused() {
        let table = |head: &str| format!(r#"<?xml version="1.0"?>{head}<si><t>type</t></si></sst>"#);
        let claim = |count: &str| table(&format!(r#"<sst xmlns="x" count="1" uniqueCount="{count}">"#));
        let limits = Limits::default();
        for huge in ["1000000000000", "+0001000000000000", "99999999999999999999999"] {
            let zip = zip_of(&[("xl/sharedStrings.xml", claim(huge).as_bytes())]);
            assert!(check_zip(&zip, &limits).unwrap_err().contains("distinct strings"), "{huge}");
        }
        // A decoy in a comment does not hide the real claim; single quotes and spaces count.
        let decoy = table(r#"<!-- uniqueCount="1" --><x:sst uniqueCount = '5000000000'>"#);
        assert!(check_zip(&zip_of(&[("XL/SHAREDSTRINGS.XML", decoy.as_bytes())]), &limits).is_err());
        for fine in ["1", "500000", "not a number", ""] {
            assert!(check_zip(&zip_of(&[("xl/sharedStrings.xml", claim(fine).as_bytes())]), &limits).is_ok(), "{fine}");
        }
    }

    #[test]
    fn rows_laid_out_past_the_grid_budget_are_refused() {
        let limits = Limits { max_cells: 100, ..Limits::default() };
        let mut count = CellCount::new(&limits);
        assert!(count.lay_out(990).is_ok());
        assert!(count.lay_out(10).is_ok());
        assert!(count.lay_out(1).unwrap_err().contains("lay out more than 1000 cells"));
    }
}
