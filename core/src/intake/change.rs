//! The walk of a change chunk: dependencies, actors, sequence and op counters, message,
//! and the op column table. Change chunks never carry compressed columns (Automerge
//! compresses whole changes instead, which Terrain refuses at the framing), and their
//! checksum is checked here, since Automerge's own change parser does not.

use sha2::{Digest, Sha256};

use super::columns::{self, Limits};
use super::framing::RawChunk;
use super::leb::Reader;
use super::{Cost, IntakeError, Meter};

/// Walks a change chunk.
pub(crate) fn walk(chunk: &RawChunk<'_>, meter: &mut Meter<'_>) -> Result<Cost, IntakeError> {
    let what = "a change chunk";
    // A change's hash is the SHA-256 of its type, length and contents: the chunk after the
    // magic and checksum.
    let hash: [u8; 32] = Sha256::digest(chunk.bytes.get(8..).unwrap_or_default()).into();
    if chunk.bytes.get(4..8) != hash.get(..4) {
        return Err(IntakeError::malformed("a change's checksum does not match its contents"));
    }
    let mut r = Reader::new(chunk.body);
    let mut cost = Cost { changes: 1, fragments: u64::from(hash[0] == 0), ..Cost::default() };

    let deps = r.count(what, 32)?;
    r.take(deps * 32, what)?;
    meter.check_deps(deps as u64)?;
    let actor = r.prefixed(what)?;
    meter.check_actor_id(actor, what)?;
    r.uleb(what)?; // seq
    let start_op = r.uleb(what)?;
    if start_op == 0 || start_op > u64::from(u32::MAX) {
        return Err(IntakeError::malformed(format!("{what}: its first op counter is {start_op}")));
    }
    r.sleb(what)?; // time
    let message = r.prefixed(what)?;
    let others = r.count(what, 1)?;
    let actors = others as u64 + 1;
    meter.check_actors(actors)?;
    let mut actor_bytes = actor.len() as u64;
    for _ in 0..others {
        let other = r.prefixed(what)?;
        meter.check_actor_id(other, what)?;
        actor_bytes += other.len() as u64;
    }
    let metadata = columns::read_metadata(&mut r, what)?;
    if metadata.iter().any(|(spec, _)| spec.deflate()) {
        return Err(IntakeError::malformed(format!("{what}: compressed columns are not allowed in a change")));
    }
    let data = columns::split_data(&mut r, &metadata, what)?;
    let extra = r.rest().len() as u64;

    cost.decoded_bytes = deps as u64 * 32 + actor_bytes + actors * columns::WORD + message.len() as u64 + extra;
    meter.spend_decoded(cost.decoded_bytes, what)?;
    meter.spend_changes(1, what)?;
    meter.spend_fragments(cost.fragments, what)?;
    let limits = Limits { rows: meter.ops_left(), decoded: meter.decoded_left(), actors };
    let ops = columns::measure_table(&data, limits, what).map_err(|e| meter.rows_as(e, "operations"))?;
    meter.spend_decoded(ops.decoded, what)?;
    meter.spend_ops(ops.rows, what)?;
    if start_op.saturating_add(ops.rows) > u64::from(u32::MAX) {
        return Err(IntakeError::malformed(format!("{what}: its op counters overflow 32 bits")));
    }
    cost.decoded_bytes += ops.decoded;
    cost.ops = ops.rows;
    cost.actors = actors;
    Ok(cost)
}
