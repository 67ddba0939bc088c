//! The one form Automerge writes a change in, read strictly: a change chunk whose every byte
//! is what Automerge's own encoder would write for its ops comes back as those ops; any other
//! chunk (a longer integer form, two runs that would be one, a column that disagrees with the
//! others, kinds of ops Terrain never writes) comes back as `None`.
//!
//! Why: a document re-encodes the changes it holds from its ops when it saves, so a change
//! survives a save and load only if re-encoding its ops gives back its bytes, and its hash.
//! Proving that by re-encoding each change through Automerge cost more than Automerge's load
//! itself (`docs/benchmarks.md`, the front door's share of ingest). Reading the canonical form
//! here costs one pass over bytes the walk has bounded already. `None` is no refusal: the
//! caller falls back to proving the round trip the slow way.
//!
//! The canonical form, as Automerge's run-length encoder writes it:
//! - every integer in its shortest LEB128 form;
//! - a repeated run repeats at least twice; a literal run holds no two equal neighbours, and
//!   never follows another literal run; a run never repeats the value just before it; null
//!   runs are never empty nor adjacent; a column of nulls alone is left out;
//! - boolean columns alternate non-empty runs, the first (false) run alone may be empty;
//! - columns appear in ascending order of specification, empty ones left out;
//! - the other actors are sorted, and are exactly those the ops name.
//!
//! The ops are limited to what a survey holds: maps, lists, scalar values and deletions.

use super::leb::Reader;

/// Column specifications (`id << 4 | type`) of a change's ops, in the order Automerge writes
/// them. Expansion and mark columns, and counter values, are not among them: a survey never
/// holds text marks or counters.
mod spec {
    pub(super) const OBJ_ACTOR: u32 = 1;
    pub(super) const OBJ_CTR: u32 = 2;
    pub(super) const KEY_ACTOR: u32 = 17;
    pub(super) const KEY_CTR: u32 = 19;
    pub(super) const KEY_STR: u32 = 21;
    pub(super) const INSERT: u32 = 52;
    pub(super) const ACTION: u32 = 66;
    pub(super) const VAL_META: u32 = 86;
    pub(super) const VAL_RAW: u32 = 87;
    pub(super) const PRED_GROUP: u32 = 112;
    pub(super) const PRED_ACTOR: u32 = 113;
    pub(super) const PRED_CTR: u32 = 115;
    pub(super) const ALL: [u32; 12] = [
        OBJ_ACTOR, OBJ_CTR, KEY_ACTOR, KEY_CTR, KEY_STR, INSERT, ACTION, VAL_META, VAL_RAW, PRED_GROUP, PRED_ACTOR,
        PRED_CTR,
    ];
}

/// An op id as a change names it: an index into the change's actors, and a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct LocalId {
    pub(crate) actor: usize,
    pub(crate) counter: u64,
}

/// Where an op applies within its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key<'a> {
    /// A map's key.
    Map(&'a str),
    /// The start of a list (only inserts name it).
    Head,
    /// A list element, named by the op that inserted it.
    Elem(LocalId),
}

/// What an op does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    MakeMap,
    Set,
    MakeList,
    Delete,
}

/// One op of a change, read in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Op<'a> {
    /// The object it applies to; `None` is the document's root.
    pub(crate) obj: Option<LocalId>,
    pub(crate) key: Key<'a>,
    pub(crate) insert: bool,
    pub(crate) action: Action,
    /// The ops it overwrites ([`ChangeOps::pred`]): in ascending order of counter, then actor.
    pred: std::ops::Range<usize>,
}

/// A change read in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChangeOps<'a> {
    /// The hashes of the changes it depends on, 32 bytes each, in ascending order.
    pub(crate) deps: &'a [u8],
    /// The change's actors: its author first, then the others in ascending order.
    pub(crate) actors: Vec<&'a [u8]>,
    /// The counter of its first op; op `i` is `(0, start_op + i)`.
    pub(crate) start_op: u64,
    pub(crate) ops: Vec<Op<'a>>,
    /// Every op's predecessors, one after the other.
    preds: Vec<LocalId>,
}

impl ChangeOps<'_> {
    /// The counter of its last op (of the op before its first, if it has none).
    pub(crate) fn max_op(&self) -> u64 {
        self.start_op.saturating_add(self.ops.len() as u64).saturating_sub(1)
    }

    /// The ops `op` overwrites.
    pub(crate) fn pred(&self, op: &Op<'_>) -> &[LocalId] {
        self.preds.get(op.pred.clone()).unwrap_or_default()
    }
}

/// Reads the body of a change chunk (after magic, checksum, type and length) that the walk
/// has already bounded, or `None` if it is not in the canonical form of a survey's change.
pub(crate) fn read(body: &[u8]) -> Option<ChangeOps<'_>> {
    let mut r = Reader::new(body);
    let count = usize::try_from(r.uleb_shortest()?).ok()?;
    let deps = r.take(count.checked_mul(32)?, "").ok()?;
    if deps.chunks_exact(32).zip(deps.chunks_exact(32).skip(1)).any(|(a, b)| a >= b) {
        return None;
    }
    let author = r.prefixed_shortest()?;
    let seq = r.uleb_shortest()?;
    let start_op = r.uleb_shortest()?;
    r.sleb_shortest()?; // time
    let message = r.prefixed_shortest()?;
    if seq == 0 || start_op == 0 || std::str::from_utf8(message).is_err() {
        return None;
    }
    let others = usize::try_from(r.uleb_shortest()?).ok()?;
    let mut actors = vec![author];
    for _ in 0..others {
        let actor = r.prefixed_shortest()?;
        if actor == author || (actors.len() > 1 && actors.last().is_some_and(|last| *last >= actor)) {
            return None;
        }
        actors.push(actor);
    }
    let columns = read_columns(&mut r)?;
    // Automerge writes no bytes after the columns of a change it makes.
    if !r.is_empty() {
        return None;
    }
    let (ops, preds) = read_ops(&columns, &actors, start_op)?;
    Some(ChangeOps { deps, actors, start_op, ops, preds })
}

/// The columns of the op table, each slice empty where the column was left out.
struct Columns<'a> {
    data: [&'a [u8]; spec::ALL.len()],
}

impl<'a> Columns<'a> {
    fn get(&self, spec: u32) -> &'a [u8] {
        spec::ALL.iter().position(|s| *s == spec).and_then(|i| self.data.get(i)).copied().unwrap_or_default()
    }
}

fn read_columns<'a>(r: &mut Reader<'a>) -> Option<Columns<'a>> {
    let n = usize::try_from(r.uleb_shortest()?).ok()?;
    let mut layout = Vec::with_capacity(n.min(spec::ALL.len()));
    let mut last: Option<usize> = None;
    for _ in 0..n {
        let spec = u32::try_from(r.uleb_shortest()?).ok()?;
        let len = usize::try_from(r.uleb_shortest()?).ok()?;
        // Known, in order, and not empty (Automerge leaves empty columns out).
        let index = spec::ALL.iter().position(|s| *s == spec)?;
        if last.is_some_and(|l| l >= index) || len == 0 {
            return None;
        }
        last = Some(index);
        layout.push((index, len));
    }
    let mut data: [&[u8]; spec::ALL.len()] = Default::default();
    for (index, len) in layout {
        *data.get_mut(index)? = r.take(len, "").ok()?;
    }
    Some(Columns { data })
}

#[allow(clippy::type_complexity)]
fn read_ops<'a>(columns: &Columns<'a>, actor_names: &[&[u8]], start_op: u64) -> Option<(Vec<Op<'a>>, Vec<LocalId>)> {
    let actors = actor_names.len();
    let action = rle(columns.get(spec::ACTION), |r| r.uleb_shortest())?;
    let rows = action.len();
    let column = |spec: u32| -> &'a [u8] { columns.get(spec) };
    // A column left out is all nulls; one present holds a value for every row.
    let nullable = |data: Vec<Option<u64>>| -> Option<Vec<Option<u64>>> {
        if data.is_empty() { Some(vec![None; rows]) } else { (data.len() == rows).then_some(data) }
    };
    let actor_index = |r: &mut Reader<'_>| r.uleb_shortest().filter(|a| usize::try_from(*a).is_ok_and(|a| a < actors));
    let obj_actor = nullable(rle(column(spec::OBJ_ACTOR), actor_index)?)?;
    let obj_ctr = nullable(rle(column(spec::OBJ_CTR), |r| r.uleb_shortest())?)?;
    let key_actor = nullable(rle(column(spec::KEY_ACTOR), actor_index)?)?;
    let key_ctr = nullable(deltas(column(spec::KEY_CTR))?)?;
    let key_str = rle(column(spec::KEY_STR), |r| r.prefixed_shortest().and_then(|s| std::str::from_utf8(s).ok()))?;
    let key_str = if key_str.is_empty() { vec![None; rows] } else { key_str };
    let insert = booleans(column(spec::INSERT))?;
    let meta = rle(column(spec::VAL_META), |r| r.uleb_shortest())?;
    let groups = rle(column(spec::PRED_GROUP), |r| r.uleb_shortest())?;
    if [key_str.len(), insert.len(), meta.len(), groups.len()].iter().any(|n| *n != rows) {
        return None;
    }
    let pred_actor = rle(column(spec::PRED_ACTOR), actor_index)?;
    let pred_ctr = deltas(column(spec::PRED_CTR))?;
    let pred_rows = groups.iter().try_fold(0u64, |sum, g| sum.checked_add((*g)?))?;
    if pred_actor.len() as u64 != pred_rows || pred_ctr.len() as u64 != pred_rows {
        return None;
    }
    let mut raw = Reader::new(column(spec::VAL_RAW));
    let mut preds = pred_actor.into_iter().zip(pred_ctr);
    let mut referenced = vec![false; actors];
    let mut name = |actor: Option<u64>, counter: Option<u64>| -> Option<LocalId> {
        let actor = usize::try_from(actor?).ok()?;
        *referenced.get_mut(actor)? = true;
        Some(LocalId { actor, counter: counter.filter(|c| *c > 0)? })
    };
    let mut ops = Vec::with_capacity(rows);
    let mut all_preds = Vec::with_capacity(pred_rows as usize);
    for i in 0..rows {
        let own = start_op.checked_add(i as u64)?;
        let obj = match (obj_actor[i], obj_ctr[i]) {
            (None, None) => None,
            (actor, counter) => Some(name(actor, counter)?),
        };
        let key = match (key_str[i], key_actor[i], key_ctr[i]) {
            (Some(k), None, None) if !k.is_empty() => Key::Map(k),
            (None, None, Some(0)) => Key::Head,
            (None, actor, counter) => Key::Elem(name(actor, counter)?),
            _ => return None,
        };
        let action = match action[i]? {
            0 => Action::MakeMap,
            1 => Action::Set,
            2 => Action::MakeList,
            3 => Action::Delete,
            _ => return None,
        };
        value(meta[i]?, action, &mut raw)?;
        let first = all_preds.len();
        for _ in 0..groups[i]? {
            let (actor, counter) = preds.next()?;
            let id = name(actor, counter)?;
            // In the document's order: by counter, then by actor (its bytes, not its index
            // here, where the author comes first).
            let order = |id: &LocalId| (id.counter, actor_names.get(id.actor).copied());
            let previous = all_preds.get(first..).and_then(<[LocalId]>::last);
            if id.counter >= own || previous.is_some_and(|p| order(p) >= order(&id)) {
                return None;
            }
            all_preds.push(id);
        }
        let pred = first..all_preds.len();
        let insert = insert[i];
        match (insert, key, action) {
            (true, Key::Map(_), _) | (true, _, Action::Delete) | (false, Key::Head, _) => return None,
            (true, _, _) if !pred.is_empty() => return None,
            (false, _, Action::Delete) if pred.is_empty() => return None,
            _ => {}
        }
        ops.push(Op { obj, key, insert, action, pred });
    }
    // Every value byte belongs to a value, and every other actor is named by an op.
    if !raw.is_empty() || referenced.iter().skip(1).any(|r| !r) {
        return None;
    }
    Some((ops, all_preds))
}

/// Checks one op's value against its metadata (`length << 4 | type`) and consumes its bytes.
fn value(meta: u64, action: Action, raw: &mut Reader<'_>) -> Option<()> {
    let len = usize::try_from(meta >> 4).ok()?;
    let bytes = raw.take(len, "").ok()?;
    match (action, meta & 0xf) {
        // Objects and deletions carry no value.
        (Action::MakeMap | Action::MakeList | Action::Delete, _) => (meta == 0).then_some(()),
        // Null, false, true.
        (Action::Set, 0..=2) => (len == 0).then_some(()),
        // Unsigned, signed, timestamp: one integer in its shortest form.
        (Action::Set, 3) => whole(bytes, |r| r.uleb_shortest().map(drop)),
        (Action::Set, 4 | 9) => whole(bytes, |r| r.sleb_shortest().map(drop)),
        (Action::Set, 5) => (len == 8).then_some(()),
        (Action::Set, 6) => std::str::from_utf8(bytes).ok().map(drop),
        (Action::Set, 7) => Some(()),
        // Counters and types Automerge does not know.
        _ => None,
    }
}

fn whole(bytes: &[u8], read: impl FnOnce(&mut Reader<'_>) -> Option<()>) -> Option<()> {
    let mut r = Reader::new(bytes);
    read(&mut r)?;
    r.is_empty().then_some(())
}

/// What ended the runs read so far, to tell whether the next run is in canonical form.
#[derive(Clone, Copy)]
enum Last<T> {
    Start,
    Repeated(T),
    Literal(T),
    Nulls,
}

/// A run-length encoded column, read row by row in the canonical form only.
fn rle<'a, T: PartialEq + Copy>(
    data: &'a [u8],
    mut value: impl FnMut(&mut Reader<'a>) -> Option<T>,
) -> Option<Vec<Option<T>>> {
    let mut r = Reader::new(data);
    let mut out = Vec::new();
    let mut last = Last::Start;
    while !r.is_empty() {
        let count = r.sleb_shortest()?;
        if count > 0 {
            let v = value(&mut r)?;
            if count < 2 || matches!(last, Last::Repeated(p) | Last::Literal(p) if p == v) {
                return None;
            }
            // The walk bounded every column's rows before this reading.
            out.extend(std::iter::repeat_n(Some(v), usize::try_from(count).ok()?));
            last = Last::Repeated(v);
        } else if count < 0 {
            if matches!(last, Last::Literal(_)) {
                return None;
            }
            let mut previous = match last {
                Last::Repeated(p) => Some(p),
                _ => None,
            };
            for _ in 0..count.unsigned_abs() {
                let v = value(&mut r)?;
                if previous == Some(v) {
                    return None;
                }
                previous = Some(v);
                out.push(Some(v));
            }
            last = Last::Literal(previous?);
        } else {
            let nulls = r.uleb_shortest()?;
            if nulls == 0 || matches!(last, Last::Nulls) {
                return None;
            }
            out.extend(std::iter::repeat_n(None, usize::try_from(nulls).ok()?));
            last = Last::Nulls;
        }
    }
    // A column of nulls alone is left out.
    if !out.is_empty() && out.iter().all(Option::is_none) {
        return None;
    }
    Some(out)
}

/// A delta column: the run-length encoded differences between successive values, which
/// must stay within `0..2^63`.
fn deltas(data: &[u8]) -> Option<Vec<Option<u64>>> {
    let mut absolute: i64 = 0;
    rle(data, |r| r.sleb_shortest())?
        .into_iter()
        .map(|delta| match delta {
            None => Some(None),
            Some(d) => {
                absolute = absolute.checked_add(d).filter(|v| *v >= 0)?;
                Some(Some(absolute as u64))
            }
        })
        .collect()
}

/// A boolean column: alternating run lengths, false first; only that first run may be empty.
fn booleans(data: &[u8]) -> Option<Vec<bool>> {
    let mut r = Reader::new(data);
    let mut out = Vec::new();
    let mut value = false;
    let mut first = true;
    while !r.is_empty() {
        let run = usize::try_from(r.uleb_shortest()?).ok()?;
        if run == 0 && (!first || r.is_empty()) {
            return None;
        }
        out.extend(std::iter::repeat_n(value, run));
        value = !value;
        first = false;
    }
    Some(out)
}

#[cfg(test)]
#[path = "canonical_tests.rs"]
mod tests;
