//! The canonical reading against what Automerge writes: every change Automerge makes of a
//! survey's kinds of ops reads back, and each way of writing the same ops otherwise does not
//! (each is checked to be a form Automerge would write differently).

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, Change, ObjType, ROOT, ScalarValue};
use terrain_forge::{Column, col};

use super::*;
use crate::intake::framing;

/// A document whose history holds every kind of op and value a survey may hold, two
/// actors, a merge, a message and an empty change.
fn history() -> Vec<u8> {
    let mut a = AutoCommit::new().with_actor(ActorId::from(vec![9u8; 16]));
    a.put(ROOT, "n", 1).unwrap();
    a.commit();
    let m = a.put_object(ROOT, "answers", ObjType::Map).unwrap();
    for (k, v) in [
        ("null", ScalarValue::Null),
        ("no", ScalarValue::Boolean(false)),
        ("yes", ScalarValue::Boolean(true)),
        ("uint", ScalarValue::Uint(300)),
        ("int", ScalarValue::Int(-70)),
        ("float", ScalarValue::F64(2.5)),
        ("text", ScalarValue::Str("Béguédo".into())),
        ("bytes", ScalarValue::Bytes(vec![0, 1, 2])),
        ("when", ScalarValue::Timestamp(1_700_000_000_000)),
    ] {
        a.put(&m, k, v).unwrap();
    }
    let list = a.put_object(&m, "crops", ObjType::List).unwrap();
    for i in 0..5 {
        let item = a.insert_object(&list, i, ObjType::Map).unwrap();
        a.put(&item, "yield", i as i64).unwrap();
        a.put(&item, "crop", "sorghum").unwrap();
    }
    a.commit_with(CommitOptions::default().with_message("registration").with_time(1_700_000_000));
    let mut b = a.fork().with_actor(ActorId::from(vec![3u8; 16]));
    b.delete(&list, 1).unwrap();
    b.put(&m, "text", "Béguédo, Centre-Est").unwrap();
    b.put(ROOT, "n", 2).unwrap();
    b.commit();
    a.put(&m, "text", "Béguédo (Nakmabé)").unwrap();
    a.insert(&list, 0, "first").unwrap();
    a.commit();
    a.merge(&mut b).unwrap();
    a.put(&m, "text", "settled").unwrap();
    a.put(&m, "text", "settled again").unwrap();
    a.commit();
    a.empty_change(CommitOptions::default());
    a.save_after(&[])
}

fn bodies(bytes: &[u8]) -> Vec<&[u8]> {
    framing::split(bytes).unwrap().into_iter().map(|c| c.body).collect()
}

#[test]
fn every_change_automerge_writes_of_a_survey_reads_back_as_its_ops() {
    let bytes = history();
    let chunks = framing::split(&bytes).unwrap();
    assert!(chunks.len() >= 6);
    for chunk in chunks {
        let change = Change::try_from(chunk.bytes).unwrap();
        let read = read(chunk.body).unwrap_or_else(|| panic!("change {} has no canonical reading", change.seq()));
        assert_eq!(read.ops.len(), change.len());
        assert_eq!(read.start_op, change.start_op().get());
        assert_eq!(read.actors[0], change.actor_id().to_bytes());
        assert_eq!(read.actors.len(), change.other_actor_ids().len() + 1);
    }
}

/// The honest change with the most ops, taken apart.
fn sample() -> terrain_forge::Change {
    let bytes = history();
    let best = terrain_forge::split(&bytes).unwrap().into_iter().max_by_key(|c| c.len()).unwrap().to_vec();
    terrain_forge::Change::parse(&best).unwrap()
}

/// Encodes a forged change and checks that it is a form Automerge would not write: either
/// it does not parse, or it does not encode back to itself (bytes after the columns excepted:
/// Automerge keeps them, but a survey's changes never carry any, so they are not read).
fn forged(change: &terrain_forge::Change) -> Vec<u8> {
    let bytes = change.encode();
    if change.extra.is_empty()
        && let Ok(parsed) = Change::try_from(bytes.as_slice())
    {
        let again = std::panic::catch_unwind(|| Change::from(parsed.decode()).raw_bytes().to_vec());
        assert!(again.map_or(true, |again| again != bytes), "the forgery is canonical after all: {change:?}");
    }
    bytes
}

fn column(change: &mut terrain_forge::Change, spec: u32) -> &mut Column {
    change.op_columns.iter_mut().find(|c| c.spec == spec).unwrap()
}

#[test]
fn other_forms_of_the_same_ops_are_not_read() {
    let honest = sample();
    assert!(read(bodies(&honest.encode())[0]).is_some());
    let action = col::spec(4, col::ULEB);
    let mut forgeries: Vec<(&str, terrain_forge::Change)> = Vec::new();

    // The action column, every value a literal run of its own.
    let mut c = honest.clone();
    let values = rle(&column(&mut c, action).data, |r| r.uleb_shortest()).unwrap();
    assert!(values.len() > 2);
    let mut singles = Vec::new();
    for v in values {
        terrain_forge::sleb(-1, &mut singles);
        terrain_forge::uleb(v.unwrap(), &mut singles);
    }
    column(&mut c, action).data = singles;
    forgeries.push(("runs of one", c));

    // The action column's last value in a longer form.
    let mut c = honest.clone();
    let data = &mut column(&mut c, action).data;
    let last = data.pop().unwrap();
    data.extend([last | 0x80, 0]);
    forgeries.push(("long integer", c));

    // A column of nulls alone, written where Automerge leaves it out.
    let mut c = sample_without(col::spec(0, col::ACTOR));
    c.op_columns.insert(0, Column::new(col::spec(0, col::ACTOR), terrain_forge::null_run(1)));
    forgeries.push(("null column", c));

    // Bytes after the columns.
    let mut c = honest.clone();
    c.extra = vec![0];
    forgeries.push(("extra bytes", c));

    // An actor no op names.
    let mut c = honest.clone();
    c.other_actors.push(vec![0xff; 16]);
    forgeries.push(("unnamed actor", c));

    // Columns out of order.
    let mut c = honest.clone();
    c.op_columns.swap(0, 1);
    forgeries.push(("column order", c));

    for (what, change) in &forgeries {
        let bytes = forged(change);
        assert!(read(bodies(&bytes)[0]).is_none(), "{what}: read as canonical");
    }
}

/// A one-op change on the root (so it has no object columns), with `spec` absent.
fn sample_without(spec: u32) -> terrain_forge::Change {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "k", "v").unwrap();
    doc.commit();
    let bytes = doc.save_after(&[]);
    let change = terrain_forge::Change::parse(&bytes).unwrap();
    assert!(change.op_columns.iter().all(|c| c.spec != spec));
    assert!(read(bodies(&bytes)[0]).is_some());
    change
}

#[test]
fn counters_and_text_take_the_slow_proof() {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "c", ScalarValue::counter(1)).unwrap();
    doc.commit();
    let h = doc.get_heads();
    doc.increment(ROOT, "c", 2).unwrap();
    doc.put_object(ROOT, "t", ObjType::Text).unwrap();
    doc.commit();
    let bytes = doc.save_after(&h);
    assert!(bodies(&bytes).iter().all(|b| read(b).is_none()));
}

#[test]
fn runs_are_read_only_in_the_form_the_encoder_writes() {
    let uint = |r: &mut Reader<'_>| r.uleb_shortest();
    // 3 × 7, a literal 1 2, two nulls, a run of 2: canonical.
    assert_eq!(
        rle(&[3, 7, 0x7e, 1, 2, 0, 2, 2, 2], uint),
        Some(vec![Some(7), Some(7), Some(7), Some(1), Some(2), None, None, Some(2), Some(2)])
    );
    for (what, bytes) in [
        ("a run of one", &[1, 7][..]),
        ("a run after a run of the same value", &[2, 7, 2, 7]),
        ("a literal starting with the run before it", &[2, 7, 0x7f, 7]),
        ("a run of the literal's last value", &[0x7e, 1, 2, 2, 2]),
        ("two literals", &[0x7f, 1, 0x7f, 2]),
        ("equal neighbours in a literal", &[0x7e, 1, 1]),
        ("no nulls", &[3, 7, 0, 0]),
        ("two null runs", &[3, 7, 0, 1, 0, 1]),
        ("nulls alone", &[0, 3]),
        ("a long count", &[0x83, 0x00, 7]),
    ] {
        assert_eq!(rle(bytes, uint), None, "{what}");
    }
    assert_eq!(booleans(&[2, 1]), Some(vec![false, false, true]));
    assert_eq!(booleans(&[0, 2]), Some(vec![true, true]));
    assert_eq!(booleans(&[0]), None);
    assert_eq!(booleans(&[2, 0, 1]), None);
    assert_eq!(deltas(&[3, 2]), Some(vec![Some(2), Some(4), Some(6)]));
    assert_eq!(deltas(&[0x7e, 2, 0x7d]), None, "below zero");
}
