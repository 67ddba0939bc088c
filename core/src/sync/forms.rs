//! Downloading the forms a device needs: every version published to the user's projects
//! that the store does not hold yet.

use std::collections::HashSet;

use super::client::SyncError;
use super::transport::Transport;
use crate::form::Form;
use crate::store::{FormSummary, Store};

/// Downloads and stores every form version published to the user's projects that `store`
/// lacks; returns the summaries of the versions it stored. Versions already held are not
/// downloaded again, so calling it at every start-up is cheap.
pub fn download_forms(store: &Store, transport: &dyn Transport) -> Result<Vec<FormSummary>, SyncError> {
    let have: HashSet<(String, String)> = store.forms()?.into_iter().map(|f| (f.form_id, f.version)).collect();
    let mut stored = Vec::new();
    for published in transport.published_forms()? {
        if have.contains(&(published.form_id.clone(), published.version.clone())) {
            continue;
        }
        let json = transport.form(&published.form_id, &published.version)?;
        let form = Form::from_json(&json)
            .map_err(|e| SyncError::Protocol(format!("form `{}` does not parse: {e}", published.form_id)))?;
        store.save_form(&form)?;
        stored.push(FormSummary { form_id: form.id.clone(), version: form.version.clone(), title: form.title.clone() });
    }
    Ok(stored)
}
