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
    // What the server lists is held to what a publish accepts before anything is fetched.
    let total = files.iter().fold(0u64, |sum, f| sum.saturating_add(f.bytes));
    if files.len() > attachments::MAX_FILES || total > attachments::MAX_FILES_BYTES {
        return Err(SyncError::Protocol(format!(
            "the server lists {} files of {total} bytes for form `{}`; a form reads at most {} files of {} bytes",
            files.len(),
            published.form_id,
            attachments::MAX_FILES,
            attachments::MAX_FILES_BYTES
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Mutex;

    use super::*;
    use crate::Author;
    use crate::identity::Role;
    use crate::sync::TransportError;

    const VILLAGES: &[u8] = b"name,label\nsoumb,Soumbouyah\n";

    /// A server of one form version (`version`) reading `villages.csv`, as listed
    /// (`listed`) and as sent (`sent`), counting the files it sends.
    struct Server {
        version: &'static str,
        listed: Vec<FormFile>,
        sent: Vec<u8>,
        fetched: Mutex<usize>,
    }

    impl Server {
        fn honest(version: &'static str) -> Server {
            let file = FormFile {
                name: "villages.csv".into(),
                sha256: Digest::of(VILLAGES).to_hex(),
                bytes: VILLAGES.len() as u64,
            };
            Server { version, listed: vec![file], sent: VILLAGES.to_vec(), fetched: Mutex::new(0) }
        }
    }

    fn definition(version: &str) -> String {
        serde_json::json!({"id": "needs", "version": version, "title": "Needs", "children": [
            {"node": "question", "name": "village", "type": {"kind": "select_one_from_file", "file": "villages.csv"}}
        ]})
        .to_string()
    }

    impl Transport for Server {
        fn server(&self) -> &str {
            "test"
        }
        fn sync(&self, _: Vec<u8>) -> Result<Vec<u8>, TransportError> {
            Err(TransportError::Network("no sync here".into()))
        }
        fn form(&self, _: &str, _: &str) -> Result<String, TransportError> {
            Err(TransportError::Network("files one by one".into()))
        }
        fn form_definition(&self, _: &str, version: &str) -> Result<String, TransportError> {
            Ok(definition(version))
        }
        fn form_file(&self, _: &str, _: &str, _: &str, _: u64) -> Result<Vec<u8>, TransportError> {
            *self.fetched.lock().unwrap() += 1;
            Ok(self.sent.clone())
        }
        fn published_forms(&self) -> Result<Vec<PublishedForm>, TransportError> {
            Ok(vec![PublishedForm {
                form_id: "needs".into(),
                version: self.version.into(),
                title: "Needs".into(),
                files: Some(self.listed.clone()),
            }])
        }
    }

    fn store(dir: &tempfile::TempDir) -> Store {
        Store::open(dir.path().join("store.db"), Author::new("awa", "phone-1", Role::Enumerator)).unwrap()
    }

    #[test]
    fn a_file_held_under_its_digest_is_not_fetched_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let first = Server::honest("1");
        assert_eq!(download_forms(&store, &first).unwrap().len(), 1);
        assert_eq!(*first.fetched.lock().unwrap(), 1);
        let second = Server::honest("2");
        assert_eq!(download_forms(&store, &second).unwrap().len(), 1);
        assert_eq!(*second.fetched.lock().unwrap(), 0, "version 2 reads the same list");
        assert_eq!(store.form_file("needs", "2", "villages.csv").unwrap().as_deref(), Some(VILLAGES));
        assert!(download_forms(&store, &second).unwrap().is_empty(), "nothing new");
    }

    #[test]
    fn a_server_listing_too_much_or_sending_other_bytes_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let mut swapped = Server::honest("1");
        swapped.sent = b"name,label\nconakry,Conakry\n".to_vec();
        let mut many = Server::honest("1");
        many.listed = (0..=attachments::MAX_FILES)
            .map(|i| FormFile { name: format!("f{i}.csv"), ..many.listed[0].clone() })
            .collect();
        let mut huge = Server::honest("1");
        huge.listed[0].bytes = attachments::MAX_FILES_BYTES + 1;
        let mut not_a_digest = Server::honest("1");
        not_a_digest.listed[0].sha256 = "z".repeat(64);
        for (server, says) in
            [(swapped, "arrived different"), (many, "at most"), (huge, "at most"), (not_a_digest, "not SHA-256")]
        {
            match download_forms(&store, &server) {
                Err(SyncError::Protocol(message)) => assert!(message.contains(says), "{message}"),
                other => panic!("{other:?}"),
            }
            assert!(store.forms().unwrap().is_empty(), "nothing stored");
        }
    }
}
