//! The CSV export: one CSV file per table and the data dictionary, in one zip.
//!
//! A zip holds one entry open at a time while the rows of all tables arrive interleaved, so
//! each table is written to its own temporary file first and copied into the zip at the end.

use std::collections::BTreeMap;
use std::io::{BufWriter, Seek, SeekFrom, Write};

use terrain_backend::Backend;
use terrain_core::media::Digest;

use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use super::rows::{Cell, RowWriter, Sink};
use super::table::Layout;
use super::{ExportError, ExportOutcome, Scan, dictionary};

/// The UTF-8 byte order mark, which makes Excel read a CSV file as UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Writes one CSV table: cells as ODK writes them, numbers in Rust's shortest round-trip form.
pub struct CsvTables<W: Write> {
    writers: Vec<csv::Writer<W>>,
    number: String,
}

impl<W: Write> CsvTables<W> {
    /// One CSV writer per table, each starting with the BOM if asked and the header row.
    pub fn new(layout: &Layout, mut outputs: Vec<W>, bom: bool) -> Result<Self, ExportError> {
        let mut writers = Vec::with_capacity(outputs.len());
        for (table, mut out) in layout.tables.iter().zip(outputs.drain(..)) {
            if bom {
                out.write_all(BOM)?;
            }
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(table.columns.iter().map(|c| c.name.as_str()))?;
            writers.push(writer);
        }
        Ok(CsvTables { writers, number: String::new() })
    }

    /// Flushes and returns the outputs.
    pub fn into_inner(self) -> Result<Vec<W>, ExportError> {
        self.writers.into_iter().map(|w| w.into_inner().map_err(|e| ExportError::Io(e.into_error()))).collect()
    }
}

impl<W: Write> Sink for CsvTables<W> {
    fn row(&mut self, table: usize, cells: &[Cell<'_>]) -> Result<(), ExportError> {
        use std::fmt::Write as _;
        let writer = &mut self.writers[table];
        for cell in cells {
            match cell {
                Cell::Empty => writer.write_field("")?,
                Cell::Text(t) => writer.write_field(t.as_bytes())?,
                Cell::Integer(i) => {
                    self.number.clear();
                    let _ = write!(self.number, "{i}");
                    writer.write_field(self.number.as_bytes())?;
                }
                Cell::Decimal(d) => {
                    self.number.clear();
                    let _ = write!(self.number, "{d}");
                    writer.write_field(self.number.as_bytes())?;
                }
            }
        }
        writer.write_record(None::<&[u8]>)?;
        Ok(())
    }
}

/// The file name of a table inside the zip.
pub fn entry_name(layout: &Layout, table: usize) -> String {
    format!("{}.csv", layout.tables[table].name)
}

/// Writes the zip; with `media`, the attached files too, from that backend's blob store.
pub(crate) fn write<W: Write + Seek>(
    layout: &Layout,
    bom: bool,
    media: Option<&dyn Backend>,
    scan: Scan<'_>,
    out: W,
) -> Result<ExportOutcome, ExportError> {
    let temps = layout.tables.iter().map(|_| tempfile::tempfile().map(BufWriter::new)).collect::<Result<_, _>>()?;
    let mut tables = CsvTables::new(layout, temps, bom)?;
    let mut rows = RowWriter::new(layout);
    // Each file once, under the name its CSV cells hold, with a survey that holds it.
    let mut attached: BTreeMap<String, (Digest, String)> = BTreeMap::new();
    let outcome = scan.run(|record| {
        if media.is_some() {
            for m in record.survey.answers.media() {
                attached.entry(m.export_name()).or_insert_with(|| (m.digest, record.summary.survey_id.clone()));
            }
        }
        rows.write(record, &mut tables)
    })?;
    let files = tables.into_inner()?;
    // Fast deflate: CSV compresses well at any level, and the export's time matters more.
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    let mut zip = ZipWriter::new(out);
    for (i, file) in files.into_iter().enumerate() {
        let mut file = file.into_inner().map_err(|e| ExportError::Io(e.into_error()))?;
        file.seek(SeekFrom::Start(0))?;
        zip.start_file(entry_name(layout, i), options)?;
        std::io::copy(&mut file, &mut zip)?;
    }
    zip.start_file("dictionary.csv", options)?;
    if bom {
        zip.write_all(BOM)?;
    }
    dictionary::write_csv(layout, &mut zip)?;
    if let Some(backend) = media {
        write_media(backend, &attached, &mut zip)?;
    }
    zip.finish()?.flush()?;
    Ok(outcome)
}

/// The bytes read from the blob store at a time.
const MEDIA_PIECE: u64 = 1 << 20;

/// Writes each file under `media/` (stored: photos and recordings are compressed already),
/// and lists in `media-waiting.csv` those still on the devices that took them.
fn write_media<W: Write + Seek>(
    backend: &dyn Backend,
    files: &BTreeMap<String, (Digest, String)>,
    zip: &mut ZipWriter<W>,
) -> Result<(), ExportError> {
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored).large_file(true);
    let mut waiting = Vec::new();
    for (name, (digest, survey)) in files {
        let blobs = backend.blobs();
        let Some((first, size)) = blobs.read(digest, 0, MEDIA_PIECE)? else {
            waiting.push((name, digest, survey));
            continue;
        };
        zip.start_file(format!("media/{name}"), stored)?;
        zip.write_all(&first)?;
        let mut at = first.len() as u64;
        while at < size {
            // A file removed or shortened while the export ran fails it, rather than leave
            // a truncated copy under its name.
            let piece = match blobs.read(digest, at, MEDIA_PIECE)? {
                Some((piece, _)) if !piece.is_empty() => piece,
                _ => {
                    return Err(ExportError::Io(std::io::Error::other(format!(
                        "attached file {digest} changed while the export ran: export again"
                    ))));
                }
            };
            zip.write_all(&piece)?;
            at += piece.len() as u64;
        }
    }
    if !waiting.is_empty() {
        let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        zip.start_file("media-waiting.csv", options)?;
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record(["file", "sha256", "survey_id"])?;
        for (name, digest, survey) in waiting {
            out.write_record([name.as_str(), &digest.to_hex(), survey.as_str()])?;
        }
        zip.write_all(&out.into_inner().map_err(|e| ExportError::Io(e.into_error()))?)?;
    }
    Ok(())
}
