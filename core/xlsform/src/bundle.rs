//! A form published with its files as one zip: the XLSForm (`.xlsx`) or the form's JSON,
//! and the CSV lists it reads (`select_one_from_file`, `pulldata()`), as ODK users keep
//! them side by side in a folder.
//!
//! The zip comes from outside, so reading it is bounded before anything inflates: how many
//! entries, what each declares and what each really inflates to (read through a `take`),
//! and what the files come to together ([`MAX_FILES_BYTES`]).

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use terrain_core::form::attachments::MAX_FILE_BYTES;

use crate::ImportError;

/// The most files a form may read, and what they may come to together, unpacked: the
/// limits devices hold a server's list of a form's files to as well.
pub use terrain_core::form::attachments::{MAX_FILES, MAX_FILES_BYTES};

/// A bundle's parts: the form, its file name, and the files by name.
#[derive(Debug)]
pub struct Bundle {
    /// The form's file name (its extension says how it is written).
    pub form_name: String,
    /// The form's bytes.
    pub form: Vec<u8>,
    /// The attached files, by name.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Reads a bundle: one `.xlsx` or `.json` form, and files named as the form names them
/// (`.csv`, `.xml`, `.geojson`; folders inside the zip are ignored, so `media/villages.csv`
/// is `villages.csv`). `max_form_bytes` bounds the form, [`MAX_FILE_BYTES`] each file.
pub fn read(bytes: &[u8], max_form_bytes: u64) -> Result<Bundle, ImportError> {
    let bad = |reason: String| ImportError::Read { file: "the zip".into(), reason };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| bad(format!("the upload is not a readable zip ({e}); zip the form with its files")))?;
    if zip.len() > MAX_FILES + 1 {
        return Err(bad(format!("{} entries; a form reads at most {MAX_FILES} files", zip.len())));
    }
    let (mut form, mut files) = (None, BTreeMap::new());
    let mut files_bytes = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(format!("entry {i} cannot be read ({e})")))?;
        if entry.is_dir() {
            continue;
        }
        let path =
            entry.name().map_err(|e| bad(format!("entry {i} has a name that cannot be read ({e})")))?.into_owned();
        let name = path.rsplit(['/', '\\']).next().unwrap_or_default().to_owned();
        let lower = name.to_ascii_lowercase();
        let is_form = lower.ends_with(".xlsx") || lower.ends_with(".json");
        let limit = if is_form { max_form_bytes } else { (MAX_FILE_BYTES as u64).min(MAX_FILES_BYTES - files_bytes) };
        if entry.size() > limit {
            return Err(bad(format!("`{path}` unpacks to {} bytes; at most {limit} are read", entry.size())));
        }
        let mut data = Vec::new();
        (&mut entry)
            .take(limit + 1)
            .read_to_end(&mut data)
            .map_err(|e| bad(format!("`{path}` cannot be unpacked ({e})")))?;
        // The declared size can lie; what inflated is what counts.
        if data.len() as u64 > limit {
            return Err(bad(format!("`{path}` unpacks to more than {limit} bytes")));
        }
        if !is_form {
            files_bytes += data.len() as u64;
        }
        if is_form {
            if form.is_some() {
                return Err(bad("two forms in one zip: publish them one at a time".into()));
            }
            form = Some((name, data));
        } else if [".csv", ".xml", ".geojson"].iter().any(|ext| lower.ends_with(ext)) {
            if files.insert(name.clone(), data).is_some() {
                return Err(bad(format!("two files named `{name}`")));
            }
        } else if !name.starts_with('.') {
            return Err(bad(format!(
                "`{path}` is neither a form (.xlsx, .json) nor a file a form reads (.csv, .xml, .geojson)"
            )));
        }
    }
    let (form_name, form) = form.ok_or_else(|| bad("no form in the zip: add the XLSForm (.xlsx)".into()))?;
    Ok(Bundle { form_name, form, files })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            out.start_file(*name, options).unwrap();
            out.write_all(data).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn a_bundle_holds_one_form_and_its_files() {
        let bundle = read(&zip_of(&[("needs.json", b"{}"), ("media/villages.csv", b"name\na\n")]), 1024).unwrap();
        assert_eq!(bundle.form_name, "needs.json");
        assert_eq!(bundle.files.keys().collect::<Vec<_>>(), ["villages.csv"]);
    }

    #[test]
    fn bad_bundles_say_what_to_do() {
        let err = |bytes: &[u8]| read(bytes, 1024).unwrap_err().to_string();
        assert!(err(b"not a zip").contains("not a readable zip"));
        assert!(err(&zip_of(&[("villages.csv", b"name\n")])).contains("no form"));
        assert!(err(&zip_of(&[("a.json", b"{}"), ("b.xlsx", b"x")])).contains("two forms"));
        assert!(err(&zip_of(&[("a.json", b"{}"), ("run.exe", b"x")])).contains("neither a form"));
        assert!(err(&zip_of(&[("a.json", b"{}"), ("x/v.csv", b"a"), ("y/v.csv", b"b")])).contains("two files"));
        // A form that inflates past its limit: refused without holding more than the limit.
        let big = vec![b' '; 4096];
        assert!(err(&zip_of(&[("a.json", &big)])).contains("unpacks to"));
        // Files within their own limit, past the whole's.
        let three_mib = vec![b'a'; 3 << 20];
        let heavy: Vec<(String, &[u8])> = (0..6).map(|i| (format!("{i}.csv"), &three_mib[..])).collect();
        let heavy: Vec<(&str, &[u8])> = heavy.iter().map(|(n, d)| (n.as_str(), *d)).collect();
        assert!(err(&zip_of(&heavy)).contains("unpacks to"));
        let many: Vec<(String, &[u8])> = (0..=MAX_FILES + 1).map(|i| (format!("{i}.csv"), &b"name\n"[..])).collect();
        let many: Vec<(&str, &[u8])> = many.iter().map(|(n, d)| (n.as_str(), *d)).collect();
        assert!(err(&zip_of(&many)).contains("entries"));
    }
}
