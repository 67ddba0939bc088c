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
        // The declared size can lie: count what really comes out, and stop past the budget.
        let read = std::io::copy(&mut (&mut entry).take(left + 1), &mut std::io::sink())
            .map_err(|e| format!("the workbook is damaged ({e})"))?;
        if read > left {
            return Err(too_big());
        }
        left -= read;
    }
    Ok(())
}

/// Counts cells as a reader takes them, refusing past the limit.
#[derive(Debug)]
pub(crate) struct CellCount {
    left: usize,
    limit: usize,
}

impl CellCount {
    pub(crate) fn new(limits: &Limits) -> Self {
        CellCount { left: limits.max_cells, limit: limits.max_cells }
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
}
