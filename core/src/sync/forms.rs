//! Downloading the forms a device needs: every version published to the user's projects
//! that the store does not hold yet, each file it reads downloaded only when the device
//! holds no file with the same digest (a new version's unchanged list is not sent again).

use std::collections::{BTreeMap, HashSet};

use super::client::SyncError;
use super::transport::{PublishedForm, Transport};
use crate::form::{Form, attachments};
use crate::media::Digest;
use crate::store::{FormFile, FormSummary, Store};

/// Downloads and stores every form version published to the user's projects that `store`
/// lacks; returns the summaries of the versions it stored. Versions already held are not
/// downloaded again, so calling it at every start-up is cheap. A version and its files are
/// stored together or not at all: one that fails to download is fetched whole next time.
pub fn download_forms(store: &Store, transport: &dyn Transport) -> Result<Vec<FormSummary>, SyncError> {
    let have: HashSet<(String, String)> = store.forms()?.into_iter().map(|f| (f.form_id, f.version)).collect();
    let mut stored = Vec::new();
    for published in transport.published_forms()? {
        if have.contains(&(published.form_id.clone(), published.version.clone())) {
            continue;
        }
        let form = match &published.files {
            Some(files) => download_with_files(store, transport, &published, files)?,
            None => {
                let json = transport.form(&published.form_id, &published.version)?;
                let form = parse(&published, &json)?;
                store.save_form(&form)?;
                form
            }
        };
        stored.push(FormSummary { form_id: form.id.clone(), version: form.version.clone(), title: form.title.clone() });
    }
    Ok(stored)
}

/// The definition, then each file from the store when it holds one with that digest, else
/// from the server; each checked against the digest listed before it is kept.
fn download_with_files(
    store: &Store,
    transport: &dyn Transport,
    published: &PublishedForm,
    files: &[FormFile],
) -> Result<Form, SyncError> {
    let json = transport.form_definition(&published.form_id, &published.version)?;
    let form = parse(published, &json)?;
    if form.id != published.form_id || form.version != published.version {
        return Err(SyncError::Protocol(format!(
            "the server sent form `{}` version `{}` when asked for `{}` version `{}`",
            form.id, form.version, published.form_id, published.version
        )));
    }
    let mut contents = BTreeMap::new();
    for file in files {
        let digest = parse_digest(published, file)?;
        let bytes = match store.form_file_with_digest(&digest.0)? {
            Some(bytes) => bytes,
            None => {
                if file.bytes > attachments::MAX_FILE_BYTES as u64 {
                    return Err(SyncError::Protocol(format!(
                        "the file `{}` of form `{}` is {} bytes; a form's file may be at most {} bytes",
                        file.name,
                        published.form_id,
                        file.bytes,
                        attachments::MAX_FILE_BYTES
                    )));
                }
                let bytes = transport.form_file(&published.form_id, &published.version, &file.name, file.bytes)?;
                if Digest::of(&bytes) != digest {
                    return Err(SyncError::Protocol(format!(
                        "the file `{}` of form `{}` arrived different from what the server listed: sync again",
                        file.name, published.form_id
                    )));
                }
                bytes
            }
        };
        contents.insert(file.name.clone(), bytes);
    }
    store.save_form_with_files(&form, &contents)?;
    Ok(form)
}

fn parse(published: &PublishedForm, json: &str) -> Result<Form, SyncError> {
    Form::from_json(json).map_err(|e| SyncError::Protocol(format!("form `{}` does not parse: {e}", published.form_id)))
}

fn parse_digest(published: &PublishedForm, file: &FormFile) -> Result<Digest, SyncError> {
    file.sha256.parse().map_err(|_| {
        SyncError::Protocol(format!(
            "the server listed the file `{}` of form `{}` with a digest that is not SHA-256",
            file.name, published.form_id
        ))
    })
}
