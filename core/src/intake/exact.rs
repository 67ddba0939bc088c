//! Whether a document holds changes from outside exactly: saved, it writes back each of
//! them byte for byte, under the same hash, so it loads again.
//!
//! A document keeps an op's predecessors only as the successors of the ops they name. A
//! change that names a predecessor the document does not hold where the op applies (no such
//! op, a deletion, an op on another key or object) is applied without that link, and saved,
//! it comes back as another change with another hash: the survey no longer loads. Automerge
//! accepts such changes one by one ("a hundred identical overwrites of one answer"), so
//! whoever applies changes from outside must prove they are held exactly.
//!
//! This module proves it for changes read in canonical form ([`super::canonical`]) from what
//! they say: every op id is new, every op applies to an object of its kind at a key of that
//! kind, and every predecessor is an op of the same object and key, in the same changes or
//! visible in the document they were applied to. `false` is no refusal: the caller then
//! proves it the slow way, by saving and loading the document.

use std::collections::HashMap;

use automerge::{AutoCommit, ObjId, ObjType, ReadDoc};

use super::canonical::{Action, ChangeOps, Key, LocalId, Op};

/// An op id: an index into the batch's actors, and a counter.
type Id = (usize, u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Obj {
    Root,
    Made(Id),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At<'a> {
    Map(&'a str),
    Head,
    Elem(Id),
}

/// What an op of the new changes says about itself, its ids in the batch's terms.
#[derive(Debug, Clone, Copy)]
struct Facts<'a> {
    obj: Obj,
    at: At<'a>,
    insert: bool,
    action: Action,
}

/// The new changes, their ops found by id without hashing: each author's changes hold
/// consecutive counters, so an id is a binary search among the changes' ranges.
struct Batch<'c, 'a> {
    changes: &'c [&'c ChangeOps<'a>],
    /// Every actor the changes name, once.
    actors: Vec<&'a [u8]>,
    /// For each change, its actor indices in `actors`.
    local: Vec<Vec<usize>>,
    /// `(author, first counter, end counter, change)`, sorted.
    ranges: Vec<(usize, u64, u64, usize)>,
}

impl<'c, 'a> Batch<'c, 'a> {
    /// The batch, or `None` if two of its ops share an id.
    fn new(changes: &'c [&'c ChangeOps<'a>]) -> Option<Self> {
        let mut actors: Vec<&'a [u8]> = Vec::new();
        let mut local = Vec::with_capacity(changes.len());
        let mut ranges = Vec::with_capacity(changes.len());
        for (c, change) in changes.iter().enumerate() {
            let indices: Vec<usize> = change
                .actors
                .iter()
                .map(|name| {
                    actors.iter().position(|a| a == name).unwrap_or_else(|| {
                        actors.push(name);
                        actors.len() - 1
                    })
                })
                .collect();
            let author = *indices.first()?;
            let end = change.start_op.checked_add(change.ops.len() as u64)?;
            ranges.push((author, change.start_op, end, c));
            local.push(indices);
        }
        ranges.sort_unstable();
        if ranges.windows(2).any(|w| w[0].0 == w[1].0 && w[0].2 > w[1].1) {
            return None;
        }
        Some(Batch { changes, actors, local, ranges })
    }

    fn global(&self, change: usize, id: LocalId) -> Id {
        (self.local.get(change).and_then(|l| l.get(id.actor)).copied().unwrap_or(usize::MAX), id.counter)
    }

    fn facts(&self, change: usize, op: &Op<'a>) -> Facts<'a> {
        Facts {
            obj: op.obj.map_or(Obj::Root, |o| Obj::Made(self.global(change, o))),
            at: match op.key {
                Key::Map(k) => At::Map(k),
                Key::Head => At::Head,
                Key::Elem(e) => At::Elem(self.global(change, e)),
            },
            insert: op.insert,
            action: op.action,
        }
    }

    /// The op of the new changes with id `id`.
    fn find(&self, (actor, counter): Id) -> Option<Facts<'a>> {
        let i = self.ranges.partition_point(|r| (r.0, r.1) <= (actor, counter)).checked_sub(1)?;
        let &(author, start, end, change) = self.ranges.get(i)?;
        if author != actor || counter >= end {
            return None;
        }
        let op = self.changes.get(change)?.ops.get(usize::try_from(counter - start).ok()?)?;
        Some(self.facts(change, op))
    }
}

/// What a document held before new changes were applied to it, as far as the proof needs.
#[derive(Debug, Default)]
pub(crate) struct Earlier {
    /// Each author's last op counter.
    pub(crate) max_ops: Vec<(Vec<u8>, u64)>,
    /// Each change's last op counter, by hash.
    pub(crate) by_hash: HashMap<[u8; 32], u64>,
}

/// Whether a document holds exactly the changes `new` (each with its hash), which were new
/// to it, after they were applied to `before` (`None`: to an empty document, and `earlier`
/// is empty).
pub(crate) fn held_exactly<'a>(
    new: &[(&ChangeOps<'a>, [u8; 32])],
    before: Option<&AutoCommit>,
    earlier: &Earlier,
) -> bool {
    if !counters_follow_deps(new, earlier) {
        return false;
    }
    let new: Vec<&ChangeOps<'a>> = new.iter().map(|(change, _)| *change).collect();
    let new = new.as_slice();
    let Some(batch) = Batch::new(new) else { return false };
    if !ids_are_fresh(&batch, &earlier.max_ops) {
        return false;
    }
    let mut objects: HashMap<Id, Option<(ObjId, ObjType)>> = HashMap::new();
    for (c, change) in new.iter().enumerate() {
        for op in &change.ops {
            let own = batch.facts(c, op);
            // The object's kind, and where it is in `before` if it was made there.
            let (kind, existing) = match own.obj {
                Obj::Root => (ObjType::Map, Some(ObjId::Root)),
                Obj::Made(made) => match batch.find(made) {
                    Some(Facts { action: Action::MakeMap, .. }) => (ObjType::Map, None),
                    Some(Facts { action: Action::MakeList, .. }) => (ObjType::List, None),
                    Some(_) => return false,
                    None => {
                        let found = objects
                            .entry(made)
                            .or_insert_with(|| before.and_then(|doc| object(doc, batch.actors.get(made.0)?, made.1)));
                        match found {
                            Some((id, kind)) => (*kind, Some(id.clone())),
                            None => return false,
                        }
                    }
                },
            };
            let element = match (kind, own.at, own.insert) {
                (ObjType::Map, At::Map(_), false) => None,
                (ObjType::List, At::Head, true) => None,
                (ObjType::List, At::Elem(e), _) => match batch.find(e) {
                    // Elements inserted before these changes take the slow proof.
                    Some(inserted) if inserted.insert && inserted.obj == own.obj => Some(e),
                    _ => return false,
                },
                _ => return false,
            };
            for pred in change.pred(op) {
                let pred = batch.global(c, *pred);
                let held = match batch.find(pred) {
                    Some(p) => {
                        p.action != Action::Delete
                            && p.obj == own.obj
                            && match element {
                                None => !p.insert && p.at == own.at,
                                Some(e) => (p.insert && pred == e) || (!p.insert && p.at == At::Elem(e)),
                            }
                    }
                    None => match (own.at, &existing, before, batch.actors.get(pred.0)) {
                        (At::Map(key), Some(obj), Some(doc), Some(actor)) => visible(doc, obj, key, actor, pred.1),
                        _ => false,
                    },
                };
                if !held {
                    return false;
                }
            }
        }
    }
    true
}

/// Whether each new change's first op counter is one more than the largest of its
/// dependencies', as Automerge numbers the ops of a change it makes. A document orders its
/// ops by counter, so an op numbered at or below one it depends on (from another author:
/// its id is still new) is saved where its change cannot be found again.
fn counters_follow_deps(new: &[(&ChangeOps<'_>, [u8; 32])], earlier: &Earlier) -> bool {
    let batch: HashMap<[u8; 32], u64> = new.iter().map(|(change, hash)| (*hash, change.max_op())).collect();
    new.iter().all(|(change, _)| {
        let deps_max = change.deps.chunks_exact(32).try_fold(0u64, |max, dep| {
            let dep: [u8; 32] = dep.try_into().ok()?;
            let dep_max = batch.get(&dep).or_else(|| earlier.by_hash.get(&dep))?;
            Some(max.max(*dep_max))
        });
        deps_max.is_some_and(|m| m.checked_add(1) == Some(change.start_op))
    })
}

/// Whether the new changes' op counters start above every counter their authors used
/// before, so that no new op shares an id with one the document held.
fn ids_are_fresh(batch: &Batch<'_, '_>, earlier: &[(Vec<u8>, u64)]) -> bool {
    // `ranges` is sorted: each author's first range holds its lowest counter.
    let first = |actor: &[u8]| {
        let index = batch.actors.iter().position(|a| *a == actor)?;
        batch.ranges.iter().find(|r| r.0 == index).map(|r| r.1)
    };
    earlier.iter().all(|(actor, max_op)| first(actor).is_none_or(|start| *max_op < start))
}

/// The object `doc` holds under the id `counter@actor`, and its kind.
fn object(doc: &AutoCommit, actor: &[u8], counter: u64) -> Option<(ObjId, ObjType)> {
    let name = format!("{counter}@{}", automerge::ActorId::from(actor).to_hex_string());
    // `import` turns an object id's text form into the document's id, if it holds it.
    doc.import(&name).ok().filter(|(_, kind)| matches!(kind, ObjType::Map | ObjType::List))
}

/// Whether the op `counter@actor` is one of the values `doc` shows at `key` of `obj`.
fn visible(doc: &AutoCommit, obj: &ObjId, key: &str, actor: &[u8], counter: u64) -> bool {
    doc.get_all(obj, key).is_ok_and(|values| {
        values.iter().any(|(_, at)| matches!(at, ObjId::Id(c, a, _) if *c == counter && a.to_bytes() == actor))
    })
}

#[cfg(test)]
#[path = "exact_tests.rs"]
mod tests;
