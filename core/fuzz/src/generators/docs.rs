//! Real Automerge documents built by random small edits (maps, lists, text, counters, several
//! actors editing concurrently and merging), the valid starting point that the chunk attacks
//! take apart.
//!
//! Actor ids and commit times come from the dice rather than Automerge's defaults (random
//! actors, the wall clock), so that the same seed always gives the same bytes.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue};

use crate::dice::Dice;

/// A document of 1–4 actors and up to `max_edits` edits per actor, committed in several
/// changes.
pub fn random_doc(dice: &mut Dice, max_edits: usize) -> AutoCommit {
    let actors = 1 + dice.below(4);
    let mut base = AutoCommit::new().with_actor(actor(dice));
    edit(&mut base, dice, max_edits);
    commit(&mut base, dice);
    // Each further actor forks the document, edits its copy concurrently, and merges back:
    // concurrent writes to the same keys make conflicts, as on phones offline for days.
    for _ in 1..actors {
        let mut other = base.fork().with_actor(actor(dice));
        edit(&mut other, dice, max_edits);
        commit(&mut other, dice);
        if dice.percent(50) {
            edit(&mut base, dice, max_edits / 2);
            commit(&mut base, dice);
        }
        // Merging two replicas of one history cannot fail.
        let _ = base.merge(&mut other);
    }
    base
}

/// A seeded actor id: usually 16 bytes as Terrain makes them, sometimes another length
/// (Automerge allows any).
fn actor(dice: &mut Dice) -> ActorId {
    let len = if dice.percent(80) { 16 } else { dice.below(40) };
    ActorId::from(dice.bytes(len))
}

fn commit(doc: &mut AutoCommit, dice: &mut Dice) {
    // Times are delta-encoded: Automerge's encoder overflows (a panic in debug builds) on
    // steps past i64, so local commits keep to ±2^52; hostile times come from `TimeEdgy`.
    let time = if dice.percent(90) { 1_700_000_000_000 + dice.below(1 << 30) as i64 } else { dice.edgy_i64() >> 11 };
    let mut options = automerge::transaction::CommitOptions::default().with_time(time);
    if dice.percent(20) {
        options = options.with_message(text(dice, 40));
    }
    doc.commit_with(options);
}

/// Up to `max_edits` edits, committed now and then so the history has several changes.
fn edit(doc: &mut AutoCommit, dice: &mut Dice, max_edits: usize) {
    let mut objects: Vec<(ObjId, ObjType)> = vec![(ROOT, ObjType::Map)];
    collect_objects(doc, &mut objects);
    for _ in 0..=dice.below(max_edits) {
        let Some((obj, kind)) = dice.pick(&objects).cloned() else { return };
        // Edits may fail (a deleted index, a counter that is not one): that is fine, the
        // document stays valid and the next edit goes on.
        match kind {
            ObjType::Map | ObjType::Table => {
                let key = format!("k{}", dice.below(12));
                match dice.below(10) {
                    0..=4 => {
                        let _ = doc.put(&obj, key, scalar(dice));
                    }
                    5 => {
                        let kind = *dice.pick(&[ObjType::Map, ObjType::List, ObjType::Text]).unwrap_or(&ObjType::Map);
                        if let Ok(id) = doc.put_object(&obj, key, kind) {
                            objects.push((id, kind));
                        }
                    }
                    6 => {
                        let _ = doc.put(&obj, key.clone(), ScalarValue::counter(dice.edgy_i64() % 1000));
                    }
                    7 => {
                        let _ = doc.increment(&obj, key, dice.edgy_i64() % 1000);
                    }
                    _ => {
                        let _ = doc.delete(&obj, key);
                    }
                }
            }
            ObjType::List => {
                let len = doc.length(&obj);
                let at = dice.below(len + 1);
                match dice.below(6) {
                    0..=2 => {
                        let _ = doc.insert(&obj, at, scalar(dice));
                    }
                    3 => {
                        if let Ok(id) = doc.insert_object(&obj, at, ObjType::Map) {
                            objects.push((id, ObjType::Map));
                        }
                    }
                    4 if len > 0 => {
                        let _ = doc.delete(&obj, dice.below(len));
                    }
                    _ if len > 0 => {
                        let _ = doc.put(&obj, dice.below(len), scalar(dice));
                    }
                    _ => {}
                }
            }
            ObjType::Text => {
                let len = doc.length(&obj);
                let at = dice.below(len + 1);
                let delete = if dice.percent(30) { dice.below(len - at + 1) as isize } else { 0 };
                let _ = doc.splice_text(&obj, at, delete, &text(dice, 30));
            }
        }
        if dice.percent(10) {
            commit(doc, dice);
        }
    }
}

/// The objects reachable from the root, so edits reach nested ones too.
fn collect_objects(doc: &AutoCommit, out: &mut Vec<(ObjId, ObjType)>) {
    let mut at = 0;
    while at < out.len() && out.len() < 64 {
        let (obj, _) = out[at].clone();
        for key in doc.keys(&obj).collect::<Vec<_>>() {
            if let Ok(Some((automerge::Value::Object(kind), id))) = doc.get(&obj, key) {
                out.push((id, kind));
            }
        }
        at += 1;
    }
}

/// A scalar of any of Automerge's types.
fn scalar(dice: &mut Dice) -> ScalarValue {
    match dice.below(9) {
        0 => ScalarValue::Str(text(dice, 20).into()),
        1 => ScalarValue::Int(dice.edgy_i64()),
        2 => ScalarValue::Uint(dice.edgy_u64()),
        3 => ScalarValue::F64(*dice.pick(&[0.0, -0.0, 1.5, f64::MAX, f64::MIN_POSITIVE, 1e-300]).unwrap_or(&0.0)),
        4 => ScalarValue::Boolean(dice.percent(50)),
        5 => ScalarValue::Null,
        6 => ScalarValue::Timestamp(dice.edgy_i64()),
        7 => ScalarValue::Bytes(dice.junk(0, 23)),
        _ => ScalarValue::Str("".into()),
    }
}

/// Up to `max` characters, ASCII mostly, with some multi-byte ones.
pub fn text(dice: &mut Dice, max: usize) -> String {
    const CHARS: &[char] = &['a', 'b', 'z', ' ', '0', 'é', 'ß', '中', '🙂', '\u{0}', '\u{feff}', '\'', '"', '$'];
    (0..dice.below(max + 1)).map(|_| *dice.pick(CHARS).unwrap_or(&'a')).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn documents_are_real_and_repeatable() {
        let mut a = random_doc(&mut Dice::new(5), 30);
        let mut b = random_doc(&mut Dice::new(5), 30);
        assert_eq!(a.save(), b.save());
        assert!(a.get_changes(&[]).len() >= 2);
        let many: usize = (0..20).map(|s| random_doc(&mut Dice::new(s), 30).get_heads().len()).max().unwrap();
        assert!(many >= 1);
    }
}
