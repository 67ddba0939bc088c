//! The one front door for Automerge bytes from outside: sync pushes and pulls, bundles, and
//! survey files read back from disk all come through here, and nothing else hands such bytes
//! to Automerge.
//!
//! Automerge inflates compressed columns and expands run-length counts before it checks
//! anything, and sizes allocations by counts it reads, so a few hundred hostile bytes can
//! make it claim gigabytes. This module first walks each chunk's own structure (framing,
//! actor and dependency tables, column metadata, every column's runs) without expanding it,
//! and holds what decoding would cost to a [`Budget`]: decoded bytes (compressed columns
//! inflated by a bounded streaming inflater, runs counted as the rows they expand to), ops,
//! changes and actors. Only bytes within budget reach Automerge, and then under
//! `catch_unwind`, so a bug in Automerge costs one survey an error, never the process.
//!
//! Budgets nest: a stored survey may grow to [`Budget::WRITE`], and every read from disk
//! allows the strictly larger [`Budget::LOAD`], so a survey that was stored always loads.

mod canonical;
mod change;
mod columns;
mod document;
mod exact;
mod framing;
mod inflate;
pub mod lean;
mod leb;

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::{AutoCommit, Change, ChangeHash};

pub use framing::{ChunkKind, MAX_CHUNKS};

/// The longest actor id accepted. Terrain's own are 16 bytes (`identity::new_actor_for`),
/// as are Automerge's. Automerge copies an op's actor id into every op id it decodes, so a
/// change of 40,000 ops under a 1 MiB actor id (well within the byte and op budgets) cost
/// gigabytes to decode: the fuzzer's `front-door` target found it.
pub const MAX_ACTOR_BYTES: usize = 64;

/// What decoding one survey's bytes may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes once every column is inflated and every run expanded.
    pub decoded_bytes: u64,
    /// Operations.
    pub ops: u64,
    /// Changes.
    pub changes: u64,
    /// Actors named by any one chunk or document, and dependencies of any one change.
    /// Automerge rewrites a document once for each actor new to it.
    pub actors: u64,
    /// Changes whose hash starts with a zero byte ("fragments"). Automerge keeps a clock
    /// and a list of the earlier fragments it covers for each, which is quadratic in their
    /// number: honest changes are fragments one time in 256, but hashes are cheap to grind.
    /// A saved document does not carry its changes' hashes, so each of its changes counts.
    pub fragments: u64,
}

impl Budget {
    /// The most a survey may grow to through any write, and what bytes from outside may
    /// cost for one survey: far above a real survey (a 60-answer household survey with a
    /// season of corrections is under 100 kB decoded, 3,000 ops and 200 changes), low
    /// enough that a relay holds many at once in memory.
    pub const WRITE: Budget =
        Budget { decoded_bytes: 8 << 20, ops: 100_000, changes: 4_000, actors: 256, fragments: 256 };

    /// What a survey read back from disk may cost, strictly more than [`Budget::WRITE`] so
    /// that a stored survey always loads. Decoded bytes get twice the room, because a
    /// document's own encoding can measure more than the changes it was written from
    /// (`intake_costs_nest` checks the margin); a stored document counts every change as a
    /// fragment, so that limit is the change limit.
    pub const LOAD: Budget =
        Budget { decoded_bytes: 16 << 20, ops: 125_000, changes: 5_000, actors: 320, fragments: 5_000 };

    /// Whether `cost` is within this budget.
    pub fn admits(&self, cost: &Cost) -> Result<(), IntakeError> {
        let checks = [
            ("decoded bytes", cost.decoded_bytes, self.decoded_bytes),
            ("operations", cost.ops, self.ops),
            ("changes", cost.changes, self.changes),
            ("actors", cost.actors, self.actors),
            ("fragment changes", cost.fragments, self.fragments),
        ];
        for (what, claimed, limit) in checks {
            if claimed > limit {
                return Err(IntakeError::over(what, Some(claimed), limit, "the survey"));
            }
        }
        Ok(())
    }

    /// The smaller of each limit.
    pub fn min(&self, other: &Budget) -> Budget {
        Budget {
            decoded_bytes: self.decoded_bytes.min(other.decoded_bytes),
            ops: self.ops.min(other.ops),
            changes: self.changes.min(other.changes),
            actors: self.actors.min(other.actors),
            fragments: self.fragments.min(other.fragments),
        }
    }
}

/// What decoding some bytes costs, as measured before Automerge sees them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Bytes once inflated and expanded.
    pub decoded_bytes: u64,
    /// Operations.
    pub ops: u64,
    /// Changes.
    pub changes: u64,
    /// Actors: the most named by any one chunk (for a whole document, the document's).
    pub actors: u64,
    /// Changes that may be fragments (see [`Budget::fragments`]).
    pub fragments: u64,
}

impl Cost {
    /// Both costs together.
    pub fn plus(&self, other: &Cost) -> Cost {
        Cost {
            decoded_bytes: self.decoded_bytes.saturating_add(other.decoded_bytes),
            ops: self.ops.saturating_add(other.ops),
            changes: self.changes.saturating_add(other.changes),
            actors: self.actors.max(other.actors),
            fragments: self.fragments.saturating_add(other.fragments),
        }
    }
}

/// Why bytes from outside were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// Not well-formed Automerge, or a kind of chunk Terrain does not accept.
    #[error("{0}")]
    Malformed(String),
    /// Decoding would cost more than the budget allows.
    #[error(
        "{context} would decode to {} {what}, more than the {limit} a survey may hold: it is refused, and nothing of it was kept",
        claimed.map_or_else(|| "more than".to_owned(), |c| c.to_string())
    )]
    OverBudget {
        /// What ran over: `decoded bytes`, `operations`, `changes`, `actors`, `rows`.
        what: &'static str,
        /// How much the bytes claim, when known (a bounded walk may stop before the end).
        claimed: Option<u64>,
        /// The limit.
        limit: u64,
        /// Which part of the bytes.
        context: String,
    },
    /// The bytes passed every check but Automerge refused them, or failed on them.
    #[error("the changes could not be decoded: {0}")]
    Automerge(String),
}

impl IntakeError {
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        IntakeError::Malformed(message.into())
    }

    pub(crate) fn over(what: &'static str, claimed: Option<u64>, limit: u64, context: &str) -> Self {
        IntakeError::OverBudget { what, claimed, limit, context: context.to_owned() }
    }
}

/// Spends a budget while the chunks of one input are walked.
pub(crate) struct Meter<'b> {
    budget: &'b Budget,
    spent: Cost,
}

impl Meter<'_> {
    fn left(limit: u64, spent: u64) -> u64 {
        limit.saturating_sub(spent)
    }

    pub(crate) fn decoded_left(&self) -> u64 {
        Self::left(self.budget.decoded_bytes, self.spent.decoded_bytes)
    }

    pub(crate) fn ops_left(&self) -> u64 {
        Self::left(self.budget.ops, self.spent.ops)
    }

    pub(crate) fn op_limit(&self) -> u64 {
        self.budget.ops
    }

    pub(crate) fn changes_left(&self) -> u64 {
        Self::left(self.budget.changes, self.spent.changes)
    }

    fn spend(limit: u64, spent: &mut u64, n: u64, what: &'static str, context: &str) -> Result<(), IntakeError> {
        *spent = spent.saturating_add(n);
        if *spent > limit { Err(IntakeError::over(what, Some(*spent), limit, context)) } else { Ok(()) }
    }

    pub(crate) fn spend_decoded(&mut self, n: u64, context: &str) -> Result<(), IntakeError> {
        Self::spend(self.budget.decoded_bytes, &mut self.spent.decoded_bytes, n, "decoded bytes", context)
    }

    pub(crate) fn spend_ops(&mut self, n: u64, context: &str) -> Result<(), IntakeError> {
        Self::spend(self.budget.ops, &mut self.spent.ops, n, "operations", context)
    }

    pub(crate) fn spend_changes(&mut self, n: u64, context: &str) -> Result<(), IntakeError> {
        Self::spend(self.budget.changes, &mut self.spent.changes, n, "changes", context)
    }

    pub(crate) fn spend_fragments(&mut self, n: u64, context: &str) -> Result<(), IntakeError> {
        Self::spend(self.budget.fragments, &mut self.spent.fragments, n, "fragment changes", context)
    }

    /// A table's rows over their limit, said as what they are: the survey's operations (or
    /// changes), counted from the start of the survey, against its whole budget.
    pub(crate) fn rows_as(&self, e: IntakeError, what: &'static str) -> IntakeError {
        match e {
            IntakeError::OverBudget { what: "rows", claimed, context, .. } => {
                let (spent, limit) = match what {
                    "changes" => (self.spent.changes, self.budget.changes),
                    _ => (self.spent.ops, self.budget.ops),
                };
                IntakeError::OverBudget { what, claimed: claimed.map(|c| c.saturating_add(spent)), limit, context }
            }
            other => other,
        }
    }

    pub(crate) fn check_actors(&self, n: u64) -> Result<(), IntakeError> {
        if n > self.budget.actors {
            return Err(IntakeError::over("actors", Some(n), self.budget.actors, "a chunk"));
        }
        Ok(())
    }

    /// An actor id's length against [`MAX_ACTOR_BYTES`].
    pub(crate) fn check_actor_id(&self, actor: &[u8], context: &str) -> Result<(), IntakeError> {
        if actor.len() > MAX_ACTOR_BYTES {
            return Err(IntakeError::over("actor id bytes", Some(actor.len() as u64), MAX_ACTOR_BYTES as u64, context));
        }
        Ok(())
    }

    pub(crate) fn check_deps(&self, n: u64) -> Result<(), IntakeError> {
        if n > self.budget.actors {
            return Err(IntakeError::over("dependencies", Some(n), self.budget.actors, "a change"));
        }
        Ok(())
    }
}

/// Walks every chunk of `bytes` and returns what decoding them would cost, or why they are
/// refused. Nothing is inflated beyond the budget and nothing reaches Automerge.
pub fn check(bytes: &[u8], budget: &Budget) -> Result<Cost, IntakeError> {
    Ok(checked(bytes, budget)?.1)
}

/// Walks many surveys' bytes against one total of decoded bytes, as a sync request or a
/// bundle carries them: each walk is held to `survey`, or to what is left of `total` if
/// that is less, so the work is bounded however many surveys there are. A survey refused
/// is charged its whole budget, since its walk may have run to the end of it.
///
/// Returns each survey's cost or refusal, and the decoded bytes the walks spent; or
/// [`OverTotal`] when the surveys would decode to more than `total` (the walks then spent
/// all of it).
pub fn check_each<'a>(
    surveys: impl IntoIterator<Item = &'a [u8]>,
    survey: &Budget,
    total: u64,
) -> Result<(Vec<Result<Cost, IntakeError>>, u64), OverTotal> {
    let mut left = total;
    let mut costs = Vec::new();
    for bytes in surveys {
        let budget = Budget { decoded_bytes: survey.decoded_bytes.min(left), ..*survey };
        let cost = check(bytes, &budget);
        let spent = match &cost {
            Ok(c) => c.decoded_bytes,
            // Over what is left of the total, not over what a survey may hold: the survey
            // may be fine in a smaller batch.
            Err(IntakeError::OverBudget { what: "decoded bytes", .. })
                if budget.decoded_bytes < survey.decoded_bytes =>
            {
                return Err(OverTotal);
            }
            Err(_) => budget.decoded_bytes,
        };
        left = left.saturating_sub(spent);
        costs.push(cost);
    }
    Ok((costs, total - left))
}

/// Many surveys together would decode to more than their shared total ([`check_each`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverTotal;

fn checked<'a>(bytes: &'a [u8], budget: &Budget) -> Result<(Vec<framing::RawChunk<'a>>, Cost), IntakeError> {
    let chunks = framing::split(bytes)?;
    let mut meter = Meter { budget, spent: Cost::default() };
    let mut cost = Cost::default();
    for chunk in &chunks {
        let chunk_cost = match chunk.kind {
            ChunkKind::Document => document::walk(chunk.body, &mut meter)?,
            ChunkKind::Change => change::walk(chunk, &mut meter)?,
        };
        cost = cost.plus(&chunk_cost);
    }
    Ok((chunks, cost))
}

/// A change chunk the walk has checked, parsed by Automerge.
///
/// Nothing more: Automerge's own decoding of a change into its ops (`Change::decode`, which
/// an earlier front door ran to check that a change encodes back to itself) allocates
/// gigabytes for some changes of a few tens of thousands of ops that the walk admits. A
/// change that does not encode back to itself is caught instead when the survey it joins is
/// proved to load ([`Intake::held_exactly`], or the save-and-load round trip).
fn parse_change(bytes: &[u8]) -> Result<Change, IntakeError> {
    // The walk compared the checksum with the contents, which Automerge's change parser does
    // not: a damaged change would be stored under a wrong hash.
    contain(|| Change::try_from(bytes))?.map_err(|e| IntakeError::Automerge(format!("a change does not decode: {e}")))
}

/// The changes of a saved document the walk has checked.
fn document_changes(bytes: &[u8]) -> Result<Vec<Change>, IntakeError> {
    contain(|| AutoCommit::load(bytes).map(|mut doc| doc.get_changes(&[])))?
        .map_err(|e| IntakeError::Automerge(e.to_string()))
}

/// Changes from outside, checked against a budget and parsed ([`read`]), with what proves
/// cheaply that a document holds them exactly when their bytes allow it.
pub struct Intake<'a> {
    /// Every change the bytes carry, in order.
    pub changes: Vec<Change>,
    /// What decoding the bytes cost.
    pub cost: Cost,
    /// Each change's canonical reading, in the order of `changes`; `None` if any chunk had
    /// none (a saved document, or a change in a form Automerge does not write).
    readings: Option<Vec<canonical::ChangeOps<'a>>>,
}

impl Intake<'_> {
    /// Whether every change was read in canonical form: the form Automerge writes, which
    /// encodes back to the same bytes. For tests and the fuzzer, which check that claim.
    pub fn in_canonical_form(&self) -> bool {
        self.readings.is_some()
    }

    /// Whether `after`, the document these changes were applied to, holds exactly those of
    /// them that were new to it: saved, it writes each back under the same hash, so it
    /// loads again. `before` is the document before they were applied and its heads (`None`:
    /// they were applied to an empty document).
    ///
    /// `false` proves nothing either way: the caller must then save and load the document to
    /// know (a document built from a saved document, a change in a form Automerge does not
    /// write, a deletion of a list element held before, and the like).
    pub fn held_exactly(&self, after: &mut AutoCommit, before: Option<(&AutoCommit, &[ChangeHash])>) -> bool {
        let Some(readings) = &self.readings else { return false };
        let contained = contain(|| {
            let (new, earlier) = match before {
                // Applied to an empty document, every change is new to it.
                None => (self.changes.iter().map(Change::hash).collect(), exact::Earlier::default()),
                Some((_, heads)) => {
                    let new: HashSet<ChangeHash> = after.get_changes_meta(heads).iter().map(|m| m.hash).collect();
                    let mut earlier = exact::Earlier::default();
                    for m in after.get_changes_meta(&[]).iter().filter(|m| !new.contains(&m.hash)) {
                        earlier.max_ops.push((m.actor.to_bytes().to_vec(), m.max_op));
                        earlier.by_hash.insert(m.hash.0, m.max_op);
                    }
                    (new, earlier)
                }
            };
            let mut seen = HashSet::with_capacity(new.len());
            let fresh: Vec<(&canonical::ChangeOps<'_>, [u8; 32])> = self
                .changes
                .iter()
                .zip(readings)
                .filter(|(change, _)| new.contains(&change.hash()) && seen.insert(change.hash()))
                .map(|(change, reading)| (reading, change.hash().0))
                .collect();
            // Every new change must be among these bytes' (it always is: only they were applied).
            fresh.len() == new.len() && exact::held_exactly(&fresh, before.map(|(doc, _)| doc), &earlier)
        });
        contained.unwrap_or(false)
    }
}

/// Every change carried by `bytes` (change chunks or saved documents), checked against
/// `budget` first and then parsed: a partial parse is an error, never silently dropped data.
/// Each change is also read in canonical form where it has one, so that
/// [`Intake::held_exactly`] can prove cheaply that the document they are applied to still
/// loads.
pub fn read<'a>(bytes: &'a [u8], budget: &Budget) -> Result<Intake<'a>, IntakeError> {
    let (chunks, cost) = checked(bytes, budget)?;
    let mut changes = Vec::with_capacity(cost.changes.min(MAX_CHUNKS as u64) as usize);
    let mut readings = Some(Vec::with_capacity(changes.capacity()));
    for chunk in chunks {
        match chunk.kind {
            ChunkKind::Change => {
                let reading = canonical::read(chunk.body);
                let change = parse_change(chunk.bytes)?;
                match (&mut readings, reading) {
                    (Some(all), Some(reading)) => all.push(reading),
                    _ => readings = None,
                }
                changes.push(change);
            }
            ChunkKind::Document => {
                changes.extend(document_changes(chunk.bytes)?);
                readings = None;
            }
        }
    }
    Ok(Intake { changes, cost, readings })
}

/// Loads a whole document (a snapshot and the change chunks after it), checked against
/// `budget` first.
pub fn document(bytes: &[u8], budget: &Budget) -> Result<(AutoCommit, Cost), IntakeError> {
    let (_, cost) = checked(bytes, budget)?;
    let doc = contain(|| AutoCommit::load(bytes))?.map_err(|e| IntakeError::Automerge(e.to_string()))?;
    Ok((doc, cost))
}

/// Holds the op counters of a document that changes from outside were applied to, as
/// [`document`] holds a saved document's: each change claims its `max_op` less the largest
/// of its dependencies', and Automerge sets that many ops aside when it loads the document.
/// Returns the ops claimed.
///
/// The walk of a change cannot see this, since its dependencies are elsewhere: three ops
/// whose counter starts at 2^32 - 4 pass it, and the survey they make would be stored but
/// never compact nor load again. So whoever applies changes from outside checks the result
/// here. A counter below a dependency's is refused as malformed, as [`document`] refuses it.
pub fn op_counters(doc: &mut AutoCommit, budget: &Budget) -> Result<u64, IntakeError> {
    let claimed = contain(|| {
        let metas = doc.get_changes_meta(&[]);
        let max_ops: std::collections::HashMap<_, u64> = metas.iter().map(|m| (m.hash, m.max_op)).collect();
        metas.iter().try_fold(0u64, |claimed, m| {
            let deps_max = m.deps.iter().filter_map(|d| max_ops.get(d)).copied().max().unwrap_or(0);
            m.max_op.checked_sub(deps_max).map(|own| claimed.saturating_add(own))
        })
    })?
    .ok_or_else(|| IntakeError::malformed("a change's op counter is below its dependencies'"))?;
    if claimed > budget.ops {
        return Err(IntakeError::over("operations", Some(claimed), budget.ops, "the survey's op counters"));
    }
    Ok(claimed)
}

/// Runs Automerge on checked bytes, turning a panic into an error for these bytes only.
pub(crate) fn contain<T>(f: impl FnOnce() -> T) -> Result<T, IntakeError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| IntakeError::Automerge("Automerge failed on these bytes".into()))
}

#[cfg(test)]
mod tests;
