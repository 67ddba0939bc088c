//! Form versions: publishing them (from an XLSForm spreadsheet or the form's JSON, every
//! upload bounded in size, unpacked size and cells), with the files they read
//! (`select_one_from_file`, `pulldata()`), and reading the ones a principal may use.
//!
//! A form is published with every file it reads, or not at all: a missing file is named
//! at publish time rather than found empty on a phone. Devices download a version's
//! definition and then each file they do not already hold (the list of forms gives each
//! file's digest), and attach them themselves (`form::attachments`), with their own entity
//! lists: a form is never sent with the relay's entities inside.
//!
//! Only `.xlsx` and CSV spreadsheets are accepted from outside: the legacy `.xls` reader can
//! be made to allocate without bound by a damaged file. Authors convert `.xls` files, or
//! check them offline with `terrain form check`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use terrain_backend::{FormFileInfo, FormInfo};
use terrain_core::form::{Form, attachments};
use terrain_core::media::Digest;
use utoipa::ToSchema;

use crate::Services;
use crate::audit::Action;
use crate::error::{Error, Result};
use crate::scope::Scope;

/// A published form version with the files it reads (its CSV, XML and GeoJSON lists), each
/// with its digest: a device downloads only those it does not hold already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PublishedForm {
    /// The version.
    #[serde(flatten)]
    pub form: FormInfo,
    /// Its files.
    pub files: Vec<FormFileInfo>,
}

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
    /// A zip of the form (`.xlsx` or `.json`) and the files it reads (`terrain_xlsform::bundle`).
    Bundle,
}

impl Upload {
    /// The kind of upload a media type names, if it is one.
    pub fn from_media_type(content_type: &str) -> Result<Upload> {
        match content_type.split(';').next().unwrap_or("").trim() {
            XLSX => Ok(Upload::Xlsx),
            "text/csv" => Ok(Upload::Csv),
            "application/vnd.ms-excel" => Ok(Upload::Xls),
            "application/json" => Ok(Upload::Json),
            "application/zip" => Ok(Upload::Bundle),
            other => Err(Error::unprocessable(
                "unsupported_media_type",
                format!(
                    "publish a form as {XLSX}, text/csv, application/json, or application/zip with the files \
                     it reads (got `{other}`)"
                ),
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
            Some("zip") => Ok(Upload::Bundle),
            _ => Err(Error::unprocessable(
                "unsupported_media_type",
                "choose an XLSForm file (.xlsx or .csv), or a zip of the form and the files it reads",
            )),
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
            Upload::Bundle => Ok(self.parse_bundle(bytes)?.0),
        }
    }

    /// A zip's form, parsed, and its files.
    fn parse_bundle(&self, bytes: &[u8]) -> Result<(Form, BTreeMap<String, Vec<u8>>)> {
        if bytes.len() as u64 > self.settings.max_form_bytes {
            return Err(Error::TooLarge(format!(
                "a form upload holds at most {} MiB; this one has {} bytes",
                self.settings.max_form_bytes >> 20,
                bytes.len()
            )));
        }
        let bundle = terrain_xlsform::bundle::read(bytes, self.settings.max_form_bytes)
            .map_err(|e| Error::unprocessable("invalid_bundle", e.to_string()))?;
        let upload = Upload::from_file_name(&bundle.form_name)?;
        Ok((self.parse_form(upload, &bundle.form)?, bundle.files))
    }

    /// Publishes a form version in a project (administrators). A zip brings the files the
    /// form reads with it.
    pub fn publish_form(&self, scope: &Scope, project: i64, upload: Upload, bytes: &[u8]) -> Result<PublishedForm> {
        self.publish_form_with_files(scope, project, upload, bytes, BTreeMap::new())
    }

    /// Publishes a form version with the files uploaded beside it (the dashboard's upload);
    /// a zip's own files join them.
    pub fn publish_form_with_files(
        &self,
        scope: &Scope,
        project: i64,
        upload: Upload,
        bytes: &[u8],
        mut files: BTreeMap<String, Vec<u8>>,
    ) -> Result<PublishedForm> {
        scope.may_administer()?;
        let form = if upload == Upload::Bundle {
            let (form, inside) = self.parse_bundle(bytes)?;
            for (name, data) in inside {
                if files.insert(name.clone(), data).is_some() {
                    return Err(Error::unprocessable("invalid_bundle", format!("`{name}` was given twice")));
                }
            }
            form
        } else {
            self.parse_form(upload, bytes)?
        };
        self.publish_with_files(scope, project, &form, &files)
    }

    /// Publishes a form already parsed (the demo, the operator's tools).
    pub fn publish(&self, scope: &Scope, project: i64, form: &Form) -> Result<PublishedForm> {
        self.publish_with_files(scope, project, form, &BTreeMap::new())
    }

    /// Publishes a form already parsed, with the files it reads: refused, naming them, when
    /// one is missing, does not read, or is not one the form reads.
    pub fn publish_with_files(
        &self,
        scope: &Scope,
        project: i64,
        form: &Form,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> Result<PublishedForm> {
        scope.may_administer()?;
        check_files(form, files, &self.entity_lists(project, form)?)?;
        self.backend.publish_form_with_files(project, form, files)?;
        let files: Vec<FormFileInfo> = files
            .iter()
            .map(|(name, data)| FormFileInfo {
                name: name.clone(),
                sha256: Digest::of(data).to_hex(),
                bytes: data.len() as u64,
            })
            .collect();
        self.audit(
            scope,
            Action::FormPublish,
            None,
            json!({ "form": form.id, "version": form.version, "project": project, "files": files }),
        )?;
        let form = FormInfo {
            form_id: form.id.clone(),
            version: form.version.clone(),
            title: form.title.clone(),
            project_id: project,
        };
        Ok(PublishedForm { form, files })
    }

    /// The entity lists that `form` and the forms published in `project` declare: a
    /// follow-up form reads one as `plots.csv`, and devices build it from their entities. A
    /// list belongs to one project: a form declaring another project's list is refused.
    fn entity_lists(&self, project: i64, form: &Form) -> Result<BTreeSet<String>> {
        let published = self.entity_list_projects()?;
        if let Some((list, other)) =
            form.entities.iter().find_map(|e| published.get(&e.list).filter(|p| **p != project).map(|p| (&e.list, p)))
        {
            return Err(Error::unprocessable(
                "list_taken",
                format!(
                    "the entity list `{list}` belongs to project {other}: give this form's list another name \
                     (entities are shared within a project, never across projects)"
                ),
            ));
        }
        let mut lists: BTreeSet<String> = form.entities.iter().map(|e| e.list.clone()).collect();
        lists.extend(published.into_iter().filter(|(_, p)| *p == project).map(|(list, _)| list));
        Ok(lists)
    }

    /// The entity lists the published forms declare, each with its project.
    pub(crate) fn entity_list_projects(&self) -> Result<BTreeMap<String, i64>> {
        let mut lists = BTreeMap::new();
        for published in self.backend.forms()? {
            // Parsed forms are cached by the store: this reads no JSON after the first call.
            let form = self.backend.form(&published.form_id, &published.version)?;
            for declaration in &form.entities {
                lists.entry(declaration.list.clone()).or_insert(published.project_id);
            }
        }
        Ok(lists)
    }

    /// The form versions the principal may use.
    pub fn forms(&self, scope: &Scope) -> Result<Vec<FormInfo>> {
        Ok(self.backend.forms()?.into_iter().filter(|f| scope.form_project(&f.form_id).is_some()).collect())
    }

    /// The form versions the principal may use, each with its files: what devices list to
    /// download the versions and the files they lack.
    pub fn published_forms(&self, scope: &Scope) -> Result<Vec<PublishedForm>> {
        let mut files = self.backend.form_files()?;
        Ok(self
            .forms(scope)?
            .into_iter()
            .map(|form| {
                let files = files.remove(&(form.form_id.clone(), form.version.clone())).unwrap_or_default();
                PublishedForm { form, files }
            })
            .collect())
    }

    /// One form version's definition, if the principal may use it. A form of another
    /// project is answered as not published, so that ids are not disclosed.
    pub fn form(&self, scope: &Scope, form_id: &str, version: &str) -> Result<Arc<Form>> {
        self.may_use_form(scope, form_id, version)?;
        Ok(self.backend.form(form_id, version)?)
    }

    /// One form version as it was published, without its files, if the principal may use
    /// it: what devices download, attaching the files they fetch (or hold) and their own
    /// entity lists. The relay's entity lists are never sent inside a form, since a device
    /// sees only the entities its `Scope` allows.
    pub fn form_definition(&self, scope: &Scope, form_id: &str, version: &str) -> Result<Form> {
        self.may_use_form(scope, form_id, version)?;
        Ok(self.backend.form_definition(form_id, version)?)
    }

    /// One form version with its files attached but not the relay's entity lists: what a
    /// device that does not fetch files one by one downloads.
    pub fn form_with_files(&self, scope: &Scope, form_id: &str, version: &str) -> Result<Form> {
        let form = self.form_definition(scope, form_id, version)?;
        let mut files = BTreeMap::new();
        for needed in attachments::needed_files(&form) {
            if let Some(bytes) = self.backend.form_file(form_id, version, &needed.name)? {
                files.insert(needed.name, bytes);
            }
        }
        if files.is_empty() {
            return Ok(form);
        }
        // The files were read when published: one that no longer reads is damage on disk.
        attachments::attach(&form, &files).map_err(Error::internal)
    }

    /// The file `name` published with a form version, if the principal may use the form.
    pub fn form_file(&self, scope: &Scope, form_id: &str, version: &str, name: &str) -> Result<Vec<u8>> {
        self.may_use_form(scope, form_id, version)?;
        self.backend
            .form_file(form_id, version, name)?
            .ok_or_else(|| Error::not_found(format!("form `{form_id}` version `{version}` has no file `{name}`")))
    }

    /// A form of another project is answered as not published, so that ids are not disclosed.
    fn may_use_form(&self, scope: &Scope, form_id: &str, version: &str) -> Result<()> {
        match scope.form_project(form_id) {
            Some(_) => Ok(()),
            None => Err(Error::not_found(format!("form `{form_id}` version `{version}` is not published"))),
        }
    }
}

/// Whether `files` are exactly what `form` reads, each readable; a list the form reads that
/// is one of `entity_lists` (`plots.csv` for the list `plots`) comes with no file.
fn check_files(form: &Form, files: &BTreeMap<String, Vec<u8>>, entity_lists: &BTreeSet<String>) -> Result<()> {
    if files.len() > terrain_xlsform::bundle::MAX_FILES {
        return Err(Error::unprocessable(
            "too_many_files",
            format!("{} files; a form reads at most {}", files.len(), terrain_xlsform::bundle::MAX_FILES),
        ));
    }
    let is_entity_list = |name: &str| name.strip_suffix(".csv").is_some_and(|list| entity_lists.contains(list));
    let missing: Vec<_> =
        attachments::missing_files(form, files).into_iter().filter(|m| !is_entity_list(&m.name)).collect();
    if !missing.is_empty() {
        let named: Vec<String> = missing.iter().map(|m| format!("`{}` (question `{}`)", m.name, m.question)).collect();
        return Err(Error::unprocessable(
            "missing_files",
            format!(
                "the form reads {}: publish it with them (in one zip with the form, or beside it in the dashboard)",
                named.join(", ")
            ),
        ));
    }
    let needed: Vec<String> = attachments::needed_files(form).into_iter().map(|f| f.name).collect();
    if let Some(extra) = files.keys().find(|name| !needed.contains(name)) {
        return Err(Error::unprocessable(
            "unexpected_file",
            format!("the form does not read `{extra}`: leave it out, or check the file name the form uses"),
        ));
    }
    attachments::attach(form, files).map_err(|e| Error::unprocessable("invalid_file", e.to_string()))?;
    Ok(())
}
