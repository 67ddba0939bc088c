//! The front door against honest bytes (every chunk Automerge writes passes, measured
//! exactly) and against attacks written from the storage format with `terrain-forge`.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc};
use proptest::prelude::*;
use terrain_forge::{Change as ForgedChange, Column, Document as ForgedDocument, col, delta_run, null_run, run};

use super::*;

fn sample(answers: usize) -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(&[1u8; 16][..]));
    let answers_obj = doc.put_object(ROOT, "answers", ObjType::Map).unwrap();
    doc.commit();
    for i in 0..answers {
        doc.put(&answers_obj, format!("q{i}"), format!("an answer long enough to compress {i}")).unwrap();
        if i % 7 == 0 {
            doc.commit();
        }
    }
    doc.commit();
    doc
}

fn stats(doc: &AutoCommit) -> (u64, u64) {
    let s = doc.stats();
    (s.num_ops, s.num_changes)
}

#[test]
fn a_change_whose_columns_disagree_is_never_proved_to_load() {
    let mut doc = sample(3);
    let honest = doc.save_after(&[]);
    assert!(super::read(&honest, &Budget::WRITE).unwrap().in_canonical_form());
    let chunks = terrain_forge::split(&honest).unwrap();
    let mut last = ForgedChange::parse(chunks[chunks.len() - 1]).unwrap();
    // One column claims more rows than the others: within every budget, and Automerge
    // applies it, but the document it joins saves under other hashes and does not load.
    let column = last.op_columns.iter_mut().find(|c| c.spec == col::spec(0, col::ULEB)).unwrap();
    column.data.extend(run(4001, 1));
    let forged = [chunks[..chunks.len() - 1].concat(), last.encode()].concat();
    assert!(check(&forged, &Budget::WRITE).is_ok());
    let intake = super::read(&forged, &Budget::WRITE).unwrap();
    assert!(!intake.in_canonical_form());
    let mut applied = AutoCommit::new();
    applied.apply_changes(intake.changes.clone()).unwrap();
    assert!(!intake.held_exactly(&mut applied, None));
    // So the slow proof runs, and refuses it (`SurveyDoc::from_untrusted`'s round trip).
    let heads = applied.get_heads();
    let loaded = AutoCommit::load(&applied.save()).map(|mut again| again.get_heads());
    assert!(loaded.map_or(true, |loaded| loaded != heads));
}

#[test]
fn documents_and_changes_that_automerge_writes_are_measured_exactly() {
    let mut doc = sample(300);
    let (ops, changes) = stats(&doc);
    let saved = doc.save();
    let cost = check(&saved, &Budget::LOAD).unwrap();
    assert_eq!((cost.ops, cost.changes), (ops, changes));
    let log = doc.save_after(&[]);
    let cost = check(&log, &Budget::LOAD).unwrap();
    assert_eq!((cost.ops, cost.changes), (ops, changes), "no deletions here, so the ops agree");
    let decoded = super::read(&saved, &Budget::LOAD).unwrap().changes;
    assert_eq!(decoded.len() as u64, changes);
    let (mut loaded, _) = document(&[saved, log].concat(), &Budget::LOAD).unwrap();
    assert_eq!(loaded.get_heads(), doc.get_heads());
}

#[test]
fn a_budget_refuses_what_it_cannot_hold() {
    let mut doc = sample(300);
    let small = Budget { ops: 100, ..Budget::WRITE };
    let err = check(&doc.save(), &small).unwrap_err();
    assert!(matches!(err, IntakeError::OverBudget { what: "operations" | "rows", .. }), "{err}");
    let tiny = Budget { decoded_bytes: 1_000, ..Budget::WRITE };
    assert!(matches!(check(&doc.save_after(&[]), &tiny), Err(IntakeError::OverBudget { .. })));
    assert!(err.to_string().contains("refused"), "{err}");
}

/// The document of `doc` with the change column `spec` replaced.
fn with_change_column(doc: &mut AutoCommit, spec: u32, data: Vec<u8>) -> Vec<u8> {
    let mut parts = ForgedDocument::parse(&doc.save()).unwrap().inflated();
    parts.change_columns.retain(|c| c.spec != spec);
    parts.change_columns.push(Column::new(spec, data));
    parts.change_columns.sort_by_key(|c| c.spec);
    parts.encode()
}

#[test]
fn a_compressed_column_that_inflates_past_the_budget_is_refused() {
    let mut doc = sample(50);
    let mut parts = ForgedDocument::parse(&doc.save()).unwrap().inflated();
    // The raw value column, inflating to 64 MiB of zeros from about 64 kB.
    let bomb = terrain_forge::deflated_zeros(64 << 20);
    assert!(bomb.len() < 100_000);
    let target = parts.op_columns.iter_mut().find(|c| c.spec & 0b111 == col::VALUE).unwrap();
    *target = Column { spec: target.spec | col::DEFLATE, data: bomb };
    let err = check(&parts.encode(), &Budget::LOAD).unwrap_err();
    assert!(matches!(err, IntakeError::OverBudget { what: "decoded bytes", .. }), "{err}");
    assert!(super::read(&parts.encode(), &Budget::LOAD).is_err());
}

#[test]
fn run_length_counts_cannot_claim_rows_the_budget_lacks() {
    let mut doc = sample(20);
    // The change table's actor column: one run of 2^40 changes by actor 0.
    let forged = with_change_column(&mut doc, col::spec(0, col::ACTOR), run(1 << 40, 0));
    let err = check(&forged, &Budget::LOAD).unwrap_err();
    assert!(matches!(err, IntakeError::OverBudget { what: "changes", .. }), "{err}");
    // A null run in the op table's key string column.
    let mut parts = ForgedDocument::parse(&doc.save()).unwrap().inflated();
    parts.op_columns.iter_mut().find(|c| c.spec & 0b111 == col::STRING).unwrap().data = null_run(u64::MAX >> 1);
    assert!(matches!(check(&parts.encode(), &Budget::LOAD), Err(IntakeError::OverBudget { .. })));
}

#[test]
fn a_max_op_that_claims_billions_of_ops_is_refused() {
    let mut doc = sample(0);
    let changes = doc.get_changes(&[]).len() as i64;
    assert_eq!(changes, 1);
    // One change, no deps, max_op 2^31: Automerge would reserve 2^31 op slots for it.
    let forged = with_change_column(&mut doc, col::spec(1, col::DELTA), delta_run(1, 1 << 31));
    let err = check(&forged, &Budget::LOAD).unwrap_err();
    assert!(matches!(err, IntakeError::OverBudget { what: "operations", .. }), "{err}");
    let overflow = with_change_column(&mut doc, col::spec(1, col::DELTA), delta_run(1, 1 << 40));
    assert!(matches!(check(&overflow, &Budget::LOAD), Err(IntakeError::Malformed(_))));
}

#[test]
fn a_change_chunk_cannot_claim_ops_or_carry_compressed_columns() {
    let mut doc = sample(5);
    let bytes = doc.save_after(&[]);
    let first = terrain_forge::split(&bytes).unwrap()[0].to_vec();
    let mut parts = ForgedChange::parse(&first).unwrap();
    let action = parts.op_columns.iter_mut().find(|c| c.spec & 0b111 == col::ULEB).unwrap();
    action.data = run(1 << 50, 1);
    let err = check(&parts.encode(), &Budget::LOAD).unwrap_err();
    assert!(matches!(err, IntakeError::OverBudget { what: "operations", .. }), "{err}");
    let mut parts = ForgedChange::parse(&first).unwrap();
    parts.op_columns[0] = parts.op_columns[0].deflated();
    assert!(matches!(check(&parts.encode(), &Budget::LOAD), Err(IntakeError::Malformed(_))));
}

#[test]
fn compressed_and_bundle_chunks_are_refused() {
    let bytes = sample(5).save_after(&[]);
    let (_, body) = terrain_forge::unframe(terrain_forge::split(&bytes).unwrap()[0]).unwrap();
    for kind in [terrain_forge::kind::COMPRESSED_CHANGE, terrain_forge::kind::BUNDLE] {
        let chunk = terrain_forge::chunk(kind, &terrain_forge::deflate(body));
        assert!(matches!(check(&chunk, &Budget::LOAD), Err(IntakeError::Malformed(_))));
    }
}

#[test]
fn framing_refuses_truncation_padding_and_garbage() {
    let bytes = sample(3).save();
    assert!(check(&bytes[..bytes.len() - 1], &Budget::LOAD).is_err());
    let mut padded = bytes.clone();
    padded.push(0);
    assert!(check(&padded, &Budget::LOAD).is_err());
    assert!(check(b"hello world, not automerge", &Budget::LOAD).is_err());
    assert_eq!(check(&[], &Budget::LOAD).unwrap(), Cost::default());
}

#[test]
fn a_change_whose_checksum_does_not_match_is_refused() {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "a", 1).unwrap();
    doc.commit();
    let mut bytes = doc.save_after(&[]);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    assert!(super::read(&bytes, &Budget::LOAD).is_err());
}

/// A random document shaped like surveys: maps, lists of maps, scalars, several actors
/// editing concurrently and merging.
fn random_doc(seed: u64, edits: usize) -> AutoCommit {
    let mut rng = seed;
    let mut next = move |n: u64| {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (rng >> 33) % n.max(1)
    };
    let mut base = AutoCommit::new().with_actor(ActorId::from(&[9u8; 16][..]));
    let answers = base.put_object(ROOT, "answers", ObjType::Map).unwrap();
    let members = base.put_object(&answers, "members", ObjType::List).unwrap();
    base.commit();
    let mut replicas: Vec<AutoCommit> =
        (0..3u8).map(|i| base.fork().with_actor(ActorId::from(&[i + 1; 16][..]))).collect();
    for _ in 0..edits {
        let r = next(3) as usize;
        let doc = &mut replicas[r];
        match next(6) {
            0 => {
                let len = doc.length(&members);
                let m = doc.insert_object(&members, len, ObjType::Map).unwrap();
                doc.put(&m, "age", next(90) as i64).unwrap();
            }
            1 => doc.put(&answers, format!("q{}", next(40)), next(1000) as i64).unwrap(),
            2 => doc.put(&answers, format!("t{}", next(40)), "x".repeat(next(300) as usize)).unwrap(),
            3 => doc.put(&answers, "flag", next(2) == 0).unwrap(),
            4 => {
                let _ = doc.delete(&answers, format!("q{}", next(40)));
            }
            _ => {
                // Pending edits are committed first: a clone would commit them again under
                // the same sequence number.
                let other = (r + 1) % 3;
                replicas[other].commit();
                replicas[r].commit();
                let mut theirs = replicas[other].clone();
                replicas[r].merge(&mut theirs).unwrap();
            }
        }
        if next(3) == 0 {
            replicas[r].commit();
        }
    }
    let mut all = replicas.remove(0);
    all.commit();
    for mut other in replicas {
        other.commit();
        all.merge(&mut other).unwrap();
    }
    all.commit();
    all
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, rng_seed: proptest::test_runner::RngSeed::Fixed(11), ..ProptestConfig::default() })]

    /// Honest bytes always pass, measured to Automerge's own counts, and a document's
    /// encoding never measures more than twice its changes': the margin between
    /// `Budget::WRITE` and `Budget::LOAD`.
    #[test]
    fn intake_costs_nest(seed in any::<u64>(), edits in 0usize..200) {
        let mut doc = random_doc(seed, edits);
        let (ops, changes) = stats(&doc);
        let saved = check(&doc.save(), &Budget::LOAD).unwrap();
        let log = check(&doc.save_after(&[]), &Budget::LOAD).unwrap();
        prop_assert_eq!((saved.ops, saved.changes), (ops, changes));
        // Changes carry deletions as ops; a document keeps them as successors only.
        prop_assert!(log.ops >= ops);
        prop_assert_eq!(log.changes, changes);
        prop_assert!(saved.decoded_bytes <= 2 * log.decoded_bytes,
            "document {} decoded bytes, its changes {}", saved.decoded_bytes, log.decoded_bytes);
    }

    #[test]
    fn mutated_real_chunks_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut doc = sample(40);
        for mut bytes in [doc.save(), doc.save_after(&[])] {
            let len = bytes.len();
            for (at, value) in &flips {
                bytes[at % len] = *value;
            }
            let _ = super::read(&bytes, &Budget::LOAD);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = super::read(&bytes, &Budget::LOAD);
    }
}

#[test]
fn actor_ids_past_the_limit_are_refused_before_anything_decodes_them() {
    // Found by the fuzzer: Automerge copies the actor id into every op id it decodes, so
    // 40,000 ops under a 1 MiB actor id cost 40 GB, though each budget admitted the bytes.
    for (len, admitted) in [(16, true), (MAX_ACTOR_BYTES, true), (MAX_ACTOR_BYTES + 1, false), (1 << 20, false)] {
        let mut doc = AutoCommit::new().with_actor(ActorId::from(vec![7u8; len]));
        doc.put(ROOT, "a", 1).unwrap();
        doc.commit();
        for bytes in [doc.save_after(&[]), doc.save()] {
            let checked = check(&bytes, &Budget::WRITE);
            assert_eq!(checked.is_ok(), admitted, "{len}: {checked:?}");
            if !admitted {
                assert!(matches!(checked, Err(IntakeError::OverBudget { what: "actor id bytes", .. })));
            }
        }
    }
}
