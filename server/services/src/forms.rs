//! Form versions: publishing them (from an XLSForm spreadsheet or the form's JSON, every
//! upload bounded in size, unpacked size and cells), and reading the ones a principal may
//! use.
//!
//! Only `.xlsx` and CSV spreadsheets are accepted from outside: the legacy `.xls` reader can
//! be made to allocate without bound by a damaged file. Authors convert `.xls` files, or
//! check them offline with `terrain form check`.

use std::sync::Arc;

use serde_json::json;
use terrain_backend::FormInfo;
use terrain_core::form::Form;

use crate::Services;
use crate::audit::Action;
use crate::error::{Error, Result};
use crate::scope::Scope;

/// The media type of `.xlsx` files.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What kind of file a form arrives as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    /// An `.xlsx` XLSForm.
    Xlsx,
    /// A CSV XLSForm.
    Csv,
    /// A legacy `.xls` XLSForm: refused.
    Xls,
    /// The form's JSON, as devices download it.
    Json,
}

impl Upload {
    /// The kind of upload a media type names, if it is one.
    pub fn from_media_type(content_type: &str) -> Result<Upload> {
        match content_type.split(';').next().unwrap_or("").trim() {
            XLSX => Ok(Upload::Xlsx),
            "text/csv" => Ok(Upload::Csv),
            "application/vnd.ms-excel" => Ok(Upload::Xls),
            "application/json" => Ok(Upload::Json),
            other => Err(Error::unprocessable(
                "unsupported_media_type",
                format!("publish a form as {XLSX}, text/csv or application/json (got `{other}`)"),
            )),
        }
    }

    /// The kind of upload a file name's extension names.
    pub fn from_file_name(name: &str) -> Result<Upload> {
        let lower = name.to_ascii_lowercase();
        match lower.rsplit('.').next() {
            Some("xlsx") => Ok(Upload::Xlsx),
            Some("csv") => Ok(Upload::Csv),
            Some("xls") => Ok(Upload::Xls),
            Some("json") => Ok(Upload::Json),
            _ => Err(Error::unprocessable("unsupported_media_type", "choose an XLSForm file (.xlsx or .csv)")),
        }
    }
}

impl Services {
    /// Parses an uploaded form within the server's limits.
    pub fn parse_form(&self, upload: Upload, bytes: &[u8]) -> Result<Form> {
        if bytes.len() as u64 > self.settings.max_form_bytes {
            return Err(Error::TooLarge(format!(
                "a form upload holds at most {} MiB; this one has {} bytes",
                self.settings.max_form_bytes >> 20,
                bytes.len()
            )));
        }
        let limits = terrain_xlsform::Limits {
            max_unpacked_bytes: self.settings.max_form_bytes * 4,
            ..terrain_xlsform::Limits::default()
        };
        let invalid = |e: terrain_xlsform::ImportError| Error::unprocessable("invalid_form", e.to_string());
        match upload {
            Upload::Json => {
                let text = std::str::from_utf8(bytes).map_err(|_| Error::invalid("the form JSON is not UTF-8"))?;
                Form::from_json(text).map_err(|e| Error::unprocessable("invalid_form", e.to_string()))
            }
            Upload::Xlsx => terrain_xlsform::import_bytes_within("upload.xlsx", bytes, &limits).map_err(invalid),
            Upload::Csv => terrain_xlsform::import_bytes_within("upload.csv", bytes, &limits).map_err(invalid),
            Upload::Xls => Err(Error::unprocessable(
                "unsupported_media_type",
                "legacy .xls files are not accepted over the network: save the form as .xlsx",
            )),
        }
    }

    /// Publishes a form version in a project (administrators).
    pub fn publish_form(&self, scope: &Scope, project: i64, upload: Upload, bytes: &[u8]) -> Result<FormInfo> {
        scope.may_administer()?;
        let form = self.parse_form(upload, bytes)?;
        self.publish(scope, project, &form)
    }

    /// Publishes a form already parsed (the demo, the operator's tools).
    pub fn publish(&self, scope: &Scope, project: i64, form: &Form) -> Result<FormInfo> {
        scope.may_administer()?;
        self.backend.publish_form(project, form)?;
        self.audit(
            scope,
            Action::FormPublish,
            None,
            json!({ "form": form.id, "version": form.version, "project": project }),
        )?;
        Ok(FormInfo {
            form_id: form.id.clone(),
            version: form.version.clone(),
            title: form.title.clone(),
            project_id: project,
        })
    }

    /// The form versions the principal may use.
    pub fn forms(&self, scope: &Scope) -> Result<Vec<FormInfo>> {
        Ok(self.backend.forms()?.into_iter().filter(|f| scope.form_project(&f.form_id).is_some()).collect())
    }

    /// One form version's definition, if the principal may use it. A form of another
    /// project is answered as not published, so that ids are not disclosed.
    pub fn form(&self, scope: &Scope, form_id: &str, version: &str) -> Result<Arc<Form>> {
        if scope.form_project(form_id).is_none() {
            return Err(Error::not_found(format!("form `{form_id}` version `{version}` is not published")));
        }
        Ok(self.backend.form(form_id, version)?)
    }
}
