//! Bundles: surveys written to a file, to move them between devices where there is no
//! network (Bluetooth share, SD card). A supervisor's tablet imports an enumerator's bundle
//! and later syncs those surveys to the server like its own.
//!
//! Format: the magic `TERRAIN-BUNDLE` and a version byte, then one zstd stream of a
//! postcard [`BundleFile`]. Surveys travel as their uncompressed change chunks, like sync,
//! so the import path is the same strict, bounded one. Importing is idempotent.

use serde::{Deserialize, Serialize};

use super::wire;
use crate::form::Form;
use crate::identity::Author;
use crate::intake::{self, Budget};
use crate::store::{MergeOutcome, Store, StoreError};

const MAGIC: &[u8] = b"TERRAIN-BUNDLE";
const VERSION: u8 = 1;

/// What all the surveys of one bundle may decode to together, as a sync request has its
/// own total. A bundle is a deliberate transfer and may be large (a tablet relaying a
/// team's fortnight: 2,000 surveys of some 100 kB decoded each), but walking each survey's
/// bytes is work, and a file of many small bombs, each within a survey's budget, must not
/// buy a phone hours of inflating.
pub const BUNDLE_DECODED_BYTES: u64 = 1 << 30;

/// The contents of a bundle file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleFile {
    /// Who made the bundle.
    pub author: Author,
    /// The actors (hex) whose changes are inside, and who they are, so the receiving device
    /// can show who changed what.
    pub actors: Vec<(String, Author)>,
    /// The form versions the surveys need (JSON), so a device that lacks one can still
    /// import.
    pub forms: Vec<String>,
    /// Each survey's id and its full history as change chunks.
    pub surveys: Vec<(String, Vec<u8>)>,
}

/// What importing a bundle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Surveys new to this store.
    pub created: usize,
    /// Surveys that gained changes.
    pub updated: usize,
    /// Surveys that were already up to date.
    pub unchanged: usize,
    /// Surveys refused, with the reason; the others were imported.
    pub failed: Vec<(String, String)>,
}

/// Why a bundle could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The file is not a Terrain bundle.
    #[error("this file is not a Terrain bundle")]
    NotABundle,
    /// The bundle is from a newer Terrain.
    #[error("this bundle was made by a newer Terrain (format {0}): update Terrain to import it")]
    NewerFormat(u8),
    /// The bundle is damaged.
    #[error("the bundle is damaged: {0}")]
    Damaged(String),
    /// The bundle's surveys together would cost more to decode than one import may.
    #[error(
        "this bundle's surveys would decode to more than one import may take ({} MiB): export them in smaller bundles",
        BUNDLE_DECODED_BYTES >> 20
    )]
    TooLarge,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes the given surveys (all of them if `None`) to bundle bytes.
pub fn export(store: &Store, survey_ids: Option<&[String]>) -> Result<Vec<u8>, BundleError> {
    let ids: Vec<String> = match survey_ids {
        Some(ids) => ids.to_vec(),
        None => store
            .list(&crate::store::SurveyQuery { limit: Some(u32::MAX), ..Default::default() })?
            .into_iter()
            .map(|s| s.survey_id)
            .collect(),
    };
    let mut surveys = Vec::with_capacity(ids.len());
    let mut forms = std::collections::BTreeSet::new();
    let mut actors = std::collections::BTreeSet::new();
    for id in ids {
        let survey = store.survey(&id)?;
        forms.insert((survey.meta.form_id, survey.meta.form_version));
        let changes = store.changes_after(&id, &[])?;
        actors.extend(store.change_actors(&id)?);
        surveys.push((id, changes));
    }
    let forms = forms
        .into_iter()
        .map(|(id, version)| Ok(store.form(&id, &version)?.to_json()))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let actors = actors
        .into_iter()
        .filter_map(|actor| match store.actor_author(&actor) {
            Ok(Some(author)) => Some(Ok((actor, author))),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let file = BundleFile { author: store.author().clone(), actors, forms, surveys };
    let mut out = MAGIC.to_vec();
    out.push(VERSION);
    out.extend(wire::encode(&file).map_err(|e| BundleError::Damaged(e.to_string()))?);
    Ok(out)
}

/// Reads bundle bytes without importing them.
pub fn read(bytes: &[u8]) -> Result<BundleFile, BundleError> {
    let rest = bytes.strip_prefix(MAGIC).ok_or(BundleError::NotABundle)?;
    let (&version, body) = rest.split_first().ok_or(BundleError::NotABundle)?;
    if version > VERSION {
        return Err(BundleError::NewerFormat(version));
    }
    wire::decode(body).map_err(|e| BundleError::Damaged(e.to_string()))
}

/// Imports bundle bytes into `store`, in one transaction. Surveys already present gain
/// only the changes they lack; importing the same bundle twice changes nothing.
pub fn import(store: &Store, bytes: &[u8]) -> Result<ImportReport, BundleError> {
    let file = read(bytes)?;
    let mut report = ImportReport::default();
    let surveys = front_door(file.surveys, BUNDLE_DECODED_BYTES, &mut report)?;
    // Every form parses before any is saved: a damaged form refuses the bundle whole, and
    // must not leave the forms before it in the store.
    let forms = file
        .forms
        .iter()
        .map(|json| Form::from_json(json).map_err(|e| BundleError::Damaged(format!("a form does not parse: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    for form in &forms {
        // A form already stored with other content under the same version is the store's
        // to keep; the surveys will report it if they do not fit.
        match store.save_form(form) {
            Ok(()) | Err(StoreError::FormVersionConflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for (actor, author) in &file.actors {
        // Names for history only; a conflicting claim leaves the store's own record.
        match store.register_actor(actor, author) {
            Ok(()) | Err(StoreError::ActorMismatch { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for ((id, _), outcome) in surveys.iter().zip(store.merge_batch(&surveys)?) {
        match outcome {
            Ok(MergeOutcome { created: true, .. }) => report.created += 1,
            Ok(MergeOutcome { new_changes: 0, .. }) => report.unchanged += 1,
            Ok(_) => report.updated += 1,
            Err(e) => report.failed.push((id.clone(), e.to_string())),
        }
    }
    store.compact_pending(u32::MAX)?;
    Ok(report)
}

/// Walks every survey's bytes before anything is written, each walk drawing on the bundle's
/// one budget of `total` decoded bytes ([`BUNDLE_DECODED_BYTES`]), so an import's work is
/// bounded however many surveys the file holds. A survey refused here goes to the report's
/// `failed` and is charged its whole budget (its walk may have run to the end of it); a
/// bundle over its total is refused whole, before any of it is saved.
fn front_door(
    surveys: Vec<(String, Vec<u8>)>,
    total: u64,
    report: &mut ImportReport,
) -> Result<Vec<(String, Vec<u8>)>, BundleError> {
    let (costs, _) = intake::check_each(surveys.iter().map(|(_, bytes)| bytes.as_slice()), &Budget::WRITE, total)
        .map_err(|intake::OverTotal| BundleError::TooLarge)?;
    let mut admitted = Vec::with_capacity(surveys.len());
    for ((id, bytes), cost) in surveys.into_iter().zip(costs) {
        match cost {
            Ok(_) => admitted.push((id, bytes)),
            Err(e) => report.failed.push((id, e.to_string())),
        }
    }
    Ok(admitted)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::identity::Role;

    #[test]
    fn every_survey_is_walked_against_one_budget_for_the_whole_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store.db"), Author::new("awa", "phone-1", Role::Enumerator)).unwrap();
        store.save_form(&form()).unwrap();
        for _ in 0..3 {
            let id = store.create_survey("f", "1").unwrap();
            store.set_answer(&id, &crate::AnswerPath::top("q"), crate::Value::Text("Kindia".into())).unwrap();
        }
        let surveys = read(&export(&store, None).unwrap()).unwrap().surveys;
        let cost = |bytes: &[u8]| intake::check(bytes, &Budget::WRITE).unwrap().decoded_bytes;
        let all: u64 = surveys.iter().map(|(_, b)| cost(b)).sum();

        let mut report = ImportReport::default();
        assert_eq!(front_door(surveys.clone(), all, &mut report).unwrap().len(), 3);
        assert!(report.failed.is_empty());
        // One byte short of the three: the bundle is refused whole.
        let short = front_door(surveys.clone(), all - 1, &mut ImportReport::default());
        assert!(matches!(short, Err(BundleError::TooLarge)), "{short:?}");

        // A damaged survey is refused alone, and charged a whole survey's budget: the
        // surveys after it no longer fit in what is left.
        let mut damaged = surveys.clone();
        damaged[0].1 = b"\x85\x6f\x4a\x83 not a chunk".to_vec();
        let mut report = ImportReport::default();
        let admitted = front_door(damaged.clone(), Budget::WRITE.decoded_bytes + all, &mut report).unwrap();
        assert_eq!((admitted.len(), report.failed.len()), (2, 1));
        assert_eq!(report.failed[0].0, surveys[0].0);
        let over = front_door(damaged, Budget::WRITE.decoded_bytes + 1, &mut ImportReport::default());
        assert!(matches!(over, Err(BundleError::TooLarge)), "{over:?}");
    }

    fn form() -> Form {
        Form::from_json(
            r#"{"id": "f", "version": "1", "title": "F",
                "children": [{"node": "question", "name": "q", "type": {"kind": "text"}}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_bundle_with_a_damaged_form_leaves_none_of_its_forms() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open(dir.path().join("store.db"), Author::new("moussa", "tablet-1", Role::Supervisor)).unwrap();
        let good = form();
        let file = BundleFile {
            author: store.author().clone(),
            actors: Vec::new(),
            forms: vec![good.to_json(), "{ not a form".to_owned()],
            surveys: Vec::new(),
        };
        let mut bytes = MAGIC.to_vec();
        bytes.push(VERSION);
        bytes.extend(wire::encode(&file).unwrap());
        assert!(matches!(import(&store, &bytes), Err(BundleError::Damaged(_))));
        assert!(store.forms().unwrap().is_empty(), "the good form was saved from a refused bundle");
    }
}
