//! The walk of a document chunk (`save()`): actors, heads, the change and op column tables,
//! compressed columns inflated within the budget, and the change table checked the way
//! Automerge will use it.
//!
//! Automerge expands the change table's actor, `seq`, `max_op` and dependency columns into
//! vectors, indexes them by values read from them, and rewrites the whole document once per
//! actor that wrote no change. So besides the rows and decoded bytes of every column, the
//! walk requires: equal row counts, actor indices within the actor table and every actor
//! writing some change, `seq` counting 1, 2, 3… per actor, dependencies on earlier changes
//! only, and `max_op` within 32 bits and not below its dependencies'. The ops each change
//! claims (`max_op` less its dependencies' largest) are held to the op budget.
//!
//! A document does not carry its changes' hashes, so every change counts as a possible
//! fragment (see [`super::Budget::fragments`]).

use std::borrow::Cow;

use super::columns::{self, Kind, Limits, Spec};
use super::inflate::inflate;
use super::leb::Reader;
use super::{Cost, IntakeError, Meter};

/// The change table's columns that Automerge expands (ids and types from its source).
const ACTOR: Spec = Spec(1);
const SEQ: Spec = Spec(3);
const MAX_OP: Spec = Spec((1 << 4) | 3);
const DEPS_COUNT: Spec = Spec(4 << 4);
const DEPS_INDEX: Spec = Spec((4 << 4) | 3);

/// Walks the contents of a document chunk (after its header).
pub(crate) fn walk(body: &[u8], meter: &mut Meter<'_>) -> Result<Cost, IntakeError> {
    let what = "a document chunk";
    let mut r = Reader::new(body);
    let mut cost = Cost::default();

    let actors = r.count(what, 1)?;
    meter.check_actors(actors as u64)?;
    for _ in 0..actors {
        let actor = r.prefixed(what)?;
        meter.check_actor_id(actor, what)?;
        cost.decoded_bytes += columns::WORD + actor.len() as u64;
    }
    cost.actors = actors as u64;
    let heads = r.count(what, 32)?;
    r.take(heads * 32, what)?;
    cost.decoded_bytes += heads as u64 * 32;

    let change_meta = columns::read_metadata(&mut r, what)?;
    let op_meta = columns::read_metadata(&mut r, what)?;
    let change_data = columns::split_data(&mut r, &change_meta, what)?;
    let op_data = columns::split_data(&mut r, &op_meta, what)?;
    // What follows is one head index per head.
    let mut suffix = Reader::new(r.rest());
    for _ in 0..heads {
        if suffix.is_empty() {
            break;
        }
        suffix.uleb(what)?;
    }
    meter.spend_decoded(cost.decoded_bytes, what)?;

    let change_cols = inflate_all(&change_data, meter, what)?;
    let op_cols = inflate_all(&op_data, meter, what)?;
    let change_view: Vec<(Spec, &[u8])> = change_cols.iter().map(|(s, d)| (*s, d.as_ref())).collect();
    let op_view: Vec<(Spec, &[u8])> = op_cols.iter().map(|(s, d)| (*s, d.as_ref())).collect();

    let limits = |rows: u64, meter: &Meter<'_>| Limits { rows, decoded: meter.decoded_left(), actors: actors as u64 };
    let changes = columns::measure_table(&change_view, limits(meter.changes_left(), meter), what)
        .map_err(|e| meter.rows_as(e, "changes"))?;
    meter.spend_decoded(changes.decoded, what)?;
    meter.spend_changes(changes.rows, what)?;
    meter.spend_fragments(changes.rows, what)?;
    let ops = columns::measure_table(&op_view, limits(meter.ops_left(), meter), what)
        .map_err(|e| meter.rows_as(e, "operations"))?;
    meter.spend_decoded(ops.decoded, what)?;
    meter.spend_ops(ops.rows, what)?;

    let claimed = check_changes(&change_view, changes.rows, actors as u64, what)?;
    if claimed > meter.op_limit() {
        return Err(IntakeError::over("operations", Some(claimed), meter.op_limit(), what));
    }

    cost.decoded_bytes += changes.decoded + ops.decoded;
    cost.changes = changes.rows;
    cost.ops = ops.rows;
    cost.fragments = changes.rows;
    Ok(cost)
}

/// A table's columns once inflated: borrowed where they were stored plain.
type Inflated<'a> = Vec<(Spec, Cow<'a, [u8]>)>;

/// Inflates the compressed columns of a table, each within what is left of the budget.
fn inflate_all<'a>(columns: &[(Spec, &'a [u8])], meter: &Meter<'_>, what: &str) -> Result<Inflated<'a>, IntakeError> {
    let mut out = Vec::with_capacity(columns.len());
    for (spec, data) in columns {
        if spec.deflate() {
            // No column may inflate past what is left of the budget; what it inflates to is
            // then measured (and spent) like any uncompressed column.
            let inflated = inflate(data, meter.decoded_left(), what)?;
            out.push((spec.inflated(), Cow::Owned(inflated)));
        } else {
            out.push((*spec, Cow::Borrowed(*data)));
        }
    }
    Ok(out)
}

/// Checks the change table as Automerge will use it, and returns the ops it will set aside
/// for the changes: for each, its `max_op` less the largest `max_op` of its dependencies.
fn check_changes(columns: &[(Spec, &[u8])], rows: u64, actors: u64, what: &str) -> Result<u64, IntakeError> {
    let bad = |m: &str| IntakeError::malformed(format!("{what}: {m}"));
    let column = |spec: Spec| columns.iter().find(|(s, _)| *s == spec).map_or(&[][..], |(_, d)| *d);
    let who = columns::values(Kind::Actor, column(ACTOR), rows, what)?;
    let seqs = columns::values(Kind::Delta, column(SEQ), rows, what)?;
    let max_ops = columns::values(Kind::Delta, column(MAX_OP), rows, what)?;
    let counts = columns::values(Kind::Group, column(DEPS_COUNT), rows, what)?;
    if [seqs.len(), max_ops.len(), counts.len()].iter().any(|n| *n != who.len()) {
        return Err(bad("its change columns have different lengths"));
    }
    let total_deps: u64 = counts.iter().map(|c| c.unwrap_or(0)).fold(0, u64::saturating_add);
    let indices = columns::values(Kind::Delta, column(DEPS_INDEX), total_deps, what)?;
    let mut indices = indices.into_iter();
    let mut next_seq = vec![1u64; usize::try_from(actors).unwrap_or(0)];
    let mut claimed: u64 = 0;
    for (i, ((actor, seq), (max_op, count))) in who.iter().zip(&seqs).zip(max_ops.iter().zip(&counts)).enumerate() {
        let (Some(actor), Some(seq), Some(max_op)) = (*actor, *seq, *max_op) else {
            return Err(bad("a change lacks its actor, seq or max_op"));
        };
        let expected = usize::try_from(actor)
            .ok()
            .and_then(|a| next_seq.get_mut(a))
            .ok_or_else(|| bad("a change names no actor"))?;
        if seq != *expected {
            return Err(bad("its changes are out of order"));
        }
        *expected += 1;
        if max_op > u64::from(u32::MAX) {
            return Err(bad("an op counter overflows 32 bits"));
        }
        let mut deps_max = 0;
        for _ in 0..count.unwrap_or(0) {
            let dep = indices
                .next()
                .flatten()
                .and_then(|d| usize::try_from(d).ok())
                .filter(|d| *d < i)
                .ok_or_else(|| bad("a change depends on a change that does not come before it"))?;
            deps_max = deps_max.max(max_ops[dep].unwrap_or(0));
        }
        let own = max_op.checked_sub(deps_max).ok_or_else(|| bad("a change's max_op is below its dependencies'"))?;
        claimed = claimed.saturating_add(own);
    }
    // Automerge rewrites the document once for every actor that wrote no change.
    if next_seq.contains(&1) {
        return Err(bad("its actor table names an actor that wrote no change"));
    }
    Ok(claimed)
}
