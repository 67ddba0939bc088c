//! The chunk front door, `terrain_core::intake`: every Automerge byte from outside passes
//! it. Properties:
//!
//! - `check`, `read` and `document` return `Ok` or an [`IntakeError`], never panic (a
//!   panic inside Automerge that intake contains is counted, not a finding);
//! - they agree: what `check` refuses, `read` and `document` refuse too;
//! - what they accept costs no more than the budget;
//! - accepted changes apply to a fresh document (a panic there is contained, as the core
//!   contains it, and counted), and the result saves without a panic (the core's compaction
//!   does not contain one); accepted documents save too;
//! - budgets nest: what [`Budget::WRITE`] admits (the changes' walk, then the op counters
//!   of the document they make, [`intake::op_counters`], as the core checks them), once
//!   applied and saved, [`Budget::LOAD`] admits, so a survey that was stored always loads
//!   (a store compacts what it stored into exactly such a `save()`);
//! - the cheap proofs are never wrong: changes [`intake::read`] reads in canonical form
//!   encode back to the same bytes (checked where ops × bytes is small: Automerge's own
//!   decoding costs about that product, gigabytes for 40,000 ops and a 1 MiB message, which
//!   is why the front door no longer runs it), and when [`intake::Intake::held_exactly`] says the document holds the changes
//!   exactly, it saves and loads back to the same heads.

use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::AutoCommit;
use terrain_core::intake::{self, Budget, Cost, IntakeError};

use crate::{Finding, Outcome};

/// Runs one input through the front door.
pub fn run(input: &[u8]) -> Result<Outcome, Finding> {
    let budget = Budget::WRITE;
    let checked = intake::check(input, &budget);
    if let Ok(cost) = &checked {
        within(&budget, cost, "check")?;
    }
    let read = intake::read(input, &budget);
    if let Ok(read) = &read {
        canonical_encodes_back(read)?;
    }
    let document = intake::document(input, &budget);
    if let Err(refused) = &checked {
        if read.is_ok() || document.is_ok() {
            return Err(Finding::violation(format!(
                "check refused the bytes ({refused}) but changes or document accepted them"
            )));
        }
        return Ok(Outcome::Refused(kind(refused)));
    }

    let mut accepted = false;
    if let Ok(read) = &read {
        within(&budget, &read.cost, "changes")?;
        let mut doc = AutoCommit::new();
        // The core applies changes under `catch_unwind` (`SurveyDoc::from_untrusted_changes`,
        // `merge_bytes`) and drops the document if Automerge panics, so a panic here is
        // contained, as it is there: counted, and the bytes count as refused. Missing
        // dependencies are no error: Automerge queues such changes.
        match catch_unwind(AssertUnwindSafe(|| doc.apply_changes(read.changes.iter().cloned()))) {
            Err(_) => return Ok(Outcome::Refused("automerge panicked applying (contained)".to_owned())),
            Ok(Err(_)) => {}
            // The core then holds the document's op counters to the budget (the walk of a
            // change cannot see them), and refuses it past; what it keeps must load again.
            // Saving is not contained in the core (compaction saves under the write lock), so a
            // panic while saving escapes, and is a finding.
            Ok(Ok(())) => match intake::op_counters(&mut doc, &budget) {
                Ok(_) => {
                    let saved = loads_again(&mut doc, "the changes")?;
                    proof_holds(read, &mut doc, &saved)?;
                }
                Err(e) => return Ok(Outcome::Refused(kind(&e))),
            },
        }
        accepted = true;
    }
    if let Ok((mut doc, cost)) = document {
        within(&budget, &cost, "document")?;
        // As for changes: a document is kept only with its op counters within the budget.
        match intake::op_counters(&mut doc, &budget) {
            Ok(_) => {
                loads_again(&mut doc, "the document")?;
            }
            Err(e) if !accepted => return Ok(Outcome::Refused(kind(&e))),
            Err(_) => {}
        }
        accepted = true;
    }
    if accepted {
        return Ok(Outcome::Accepted);
    }
    // Both refused: say why `changes` did (the two share the walk, so one reason does).
    Ok(Outcome::Refused(read.err().map_or_else(|| "refused".to_owned(), |e| kind(&e))))
}

fn within(budget: &Budget, cost: &Cost, what: &str) -> Result<(), Finding> {
    budget.admits(cost).map_err(|e| Finding::violation(format!("{what} accepted bytes over the budget: {e}")))
}

/// Changes read in canonical form are what Automerge writes: decoded and encoded again by
/// Automerge, each gives back its own bytes.
fn canonical_encodes_back(read: &intake::Intake<'_>) -> Result<(), Finding> {
    if !read.in_canonical_form() {
        return Ok(());
    }
    for change in read.changes.iter().filter(|c| c.len().saturating_mul(c.raw_bytes().len()) <= 1 << 26) {
        let again = catch_unwind(AssertUnwindSafe(|| automerge::Change::from(change.decode()).raw_bytes().to_vec()));
        if again.as_deref().ok() != Some(change.raw_bytes()) {
            return Err(Finding::violation("a change read in canonical form does not encode back to its own bytes"));
        }
    }
    Ok(())
}

/// When the cheap proof says a document holds its changes exactly, it must load back from
/// its `saved` bytes to the same heads.
fn proof_holds(read: &intake::Intake<'_>, doc: &mut AutoCommit, saved: &[u8]) -> Result<(), Finding> {
    if !read.held_exactly(doc, None) {
        return Ok(());
    }
    let mut heads = doc.get_heads();
    heads.sort();
    let loaded = catch_unwind(AssertUnwindSafe(|| {
        AutoCommit::load(saved).map(|mut again| {
            let mut loaded = again.get_heads();
            loaded.sort();
            loaded
        })
    }));
    match loaded {
        Ok(Ok(loaded)) if loaded == heads => Ok(()),
        _ => Err(Finding::violation(
            "held_exactly proved the changes held exactly, but the document does not save and load back to its heads",
        )),
    }
}

/// What WRITE admitted, saved, must pass LOAD. Returns the saved bytes.
fn loads_again(doc: &mut AutoCommit, what: &str) -> Result<Vec<u8>, Finding> {
    let saved = doc.save();
    match intake::check(&saved, &Budget::LOAD) {
        Ok(_) => Ok(saved),
        Err(e) => Err(Finding::violation(format!(
            "{what} passed the write budget, but once applied and saved they are refused under the load budget: {e}"
        ))),
    }
}

/// The kind of a refusal, for counting: the framing, other malformed structure, a budget
/// (and which), or Automerge itself.
pub fn kind(e: &IntakeError) -> String {
    match e {
        IntakeError::OverBudget { what, .. } => format!("over budget: {what}"),
        IntakeError::Malformed(message) => {
            const FRAMING: &[&str] = &[
                "bytes are not Automerge chunks",
                "compressed change chunks are not accepted",
                "bundle chunks are not accepted",
                "unknown chunk type",
                "a chunk is longer than",
                "checksum does not match",
                "a chunk header",
            ];
            if FRAMING.iter().any(|f| message.contains(f)) { "framing".to_owned() } else { "malformed".to_owned() }
        }
        IntakeError::Automerge(message) if message.contains("Automerge failed") => "automerge panicked".to_owned(),
        IntakeError::Automerge(_) => "automerge refused".to_owned(),
    }
}
