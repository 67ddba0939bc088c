//! A catalogue of hostile pushes, each written from the storage format: what the attack
//! test, the hostile-load benchmark and the fuzzers' corpus throw at the relay. Every entry
//! passes framing (valid magic, checksum and lengths) and claims a cost far beyond any budget
//! in a few kilobytes or megabytes.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};

use crate::{Change, Column, Document, col, deflated_zeros, delta_run, run, string_run};

/// One hostile push: what it attacks, and the bytes.
#[derive(Debug, Clone)]
pub struct Attack {
    /// What it attacks, in words.
    pub name: &'static str,
    /// The chunk bytes, as a device would push them.
    pub bytes: Vec<u8>,
}

/// A plausible survey-shaped document of `answers` text answers, to take apart.
pub fn sample(answers: usize) -> AutoCommit {
    let mut doc = AutoCommit::new();
    for i in 0..answers {
        // Writing into a fresh document cannot fail.
        let _ = doc.put(ROOT, format!("q{i}"), format!("an answer long enough to be compressed {i}"));
    }
    doc.commit();
    doc
}

/// Every attack of the catalogue. Returns `None` only if Automerge's own output could not be
/// taken apart, which would be a bug in this crate.
pub fn catalogue() -> Option<Vec<Attack>> {
    let mut out = Vec::new();
    let mut push = |name, bytes| out.push(Attack { name, bytes });
    // A document whose raw value column is a DEFLATE bomb of 1 GiB.
    let mut parts = Document::parse(&sample(50).save())?.inflated();
    let value = parts.op_columns.iter_mut().find(|c| c.spec & 0b111 == col::VALUE)?;
    *value = Column { spec: value.spec | col::DEFLATE, data: deflated_zeros(1 << 30) };
    push("a document's compressed column inflating to 1 GiB", parts.encode());
    // A document whose change table claims 2^40 changes by one actor.
    let mut parts = Document::parse(&sample(10).save())?.inflated();
    let actor = parts.change_columns.iter_mut().find(|c| c.spec == col::spec(0, col::ACTOR))?;
    actor.data = run(1 << 40, 0);
    push("run-length amplification of a document's changes", parts.encode());
    // A document whose only change claims 2^31 ops through its max_op.
    let mut parts = Document::parse(&sample(1).save())?.inflated();
    let max_op = parts.change_columns.iter_mut().find(|c| c.spec == col::spec(1, col::DELTA))?;
    max_op.data = delta_run(1, 1 << 31);
    push("a max_op claiming 2^31 ops", parts.encode());
    // A change chunk whose action column claims 2^50 ops.
    let first = sample(5).save_after(&[]);
    let mut change = Change::parse(&first)?;
    change.op_columns.iter_mut().find(|c| c.spec & 0b111 == col::ULEB)?.data = run(1 << 50, 1);
    push("run-length amplification of a change's ops", change.encode());
    // A change chunk whose key strings repeat a 1 kB string 2^30 times.
    let mut change = Change::parse(&first)?;
    let key = change.op_columns.iter_mut().find(|c| c.spec & 0b111 == col::STRING)?;
    key.data = string_run(1 << 30, &[b'k'; 1000]);
    push("a repeated string claiming 1 TB", change.encode());
    // A compressed change chunk (type 2) inflating to 1 GiB.
    push("a compressed change chunk", crate::chunk(crate::kind::COMPRESSED_CHANGE, &deflated_zeros(1 << 30)));
    // A change with a compressed column.
    let mut change = Change::parse(&first)?;
    let column = change.op_columns.first_mut()?;
    *column = Column { spec: column.spec | col::DEFLATE, data: deflated_zeros(1 << 30) };
    push("a change with a compressed column", change.encode());
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_attack_is_small_on_the_wire() {
        let attacks = super::catalogue().unwrap_or_default();
        assert_eq!(attacks.len(), 7);
        for a in attacks {
            assert!(a.bytes.len() < 2 << 20, "{}: {} bytes", a.name, a.bytes.len());
        }
    }
}
