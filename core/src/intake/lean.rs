//! Entity changes in lean form, for the wire: what both sides can derive is left out.
//!
//! An entity is small (a label and a few properties), so most of its change chunks' bytes
//! are what every replica can compute: the genesis change (the same bytes everywhere,
//! `EntityDoc::genesis`), the 32-byte hash of the genesis that the entity's first change
//! depends on, and each chunk's magic and checksum. Those are random-looking, so
//! compression cannot shrink them, and they made a first sync of 10,000 plots 8.5× their
//! gzip'd JSON. The lean form drops them:
//!
//! ```text
//! lean  := entry*
//! entry := 0x00                          the genesis chunk
//!        | 0x01 len type deps rest       a change chunk, its magic and checksum dropped;
//!                                         len = the bytes of type, deps and rest
//! deps  := count dep*                    count: ULEB128
//! dep   := 0x00                          the genesis's hash
//!        | 0x01 hash[32]                 any other
//! rest  := the chunk's body after its dependencies, unchanged
//! ```
//!
//! [`expand`] rebuilds the exact chunks (so their hashes, and the heads, are the same), and
//! is bounded: it never writes more than the limit it is given. What it returns goes
//! through the front door like any other chunks.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use super::IntakeError;
use super::framing::{self, ChunkKind};
use super::leb::{Reader, write_uleb};

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const GENESIS: u8 = 0;
const CHANGE: u8 = 1;
const GENESIS_DEP: u8 = 0;
const OTHER_DEP: u8 = 1;

/// `changes` (change chunks of one entity, as `save_after` writes them) in lean form, given
/// the entity's `genesis` chunk. `None` if they are not all change chunks.
pub fn shrink(genesis: &[u8], changes: &[u8]) -> Option<Vec<u8>> {
    let genesis_hash = hash_of(genesis)?;
    let mut out = Vec::with_capacity(changes.len() / 2);
    for chunk in framing::split(changes).ok()? {
        if chunk.bytes == genesis {
            out.push(GENESIS);
            continue;
        }
        if chunk.kind != ChunkKind::Change {
            return None;
        }
        let mut r = Reader::new(chunk.body);
        let count = r.uleb("dependencies").ok()?;
        let mut lean = vec![1u8];
        write_uleb(&mut lean, count);
        for _ in 0..count {
            let dep = r.take(32, "a dependency").ok()?;
            if dep == genesis_hash {
                lean.push(GENESIS_DEP);
            } else {
                lean.push(OTHER_DEP);
                lean.extend_from_slice(dep);
            }
        }
        lean.extend_from_slice(r.rest());
        out.push(CHANGE);
        write_uleb(&mut out, lean.len() as u64);
        out.extend_from_slice(&lean);
    }
    Some(out)
}

/// The chunks `lean` stands for, given the entity's `genesis` chunk, and their heads (the
/// changes no other of them depends on). Refused, before anything past it is written, if
/// they would exceed `limit` bytes.
pub fn expand(genesis: &[u8], lean: &[u8], limit: usize) -> Result<(Vec<u8>, Vec<[u8; 32]>), IntakeError> {
    let genesis_hash =
        hash_of(genesis).ok_or_else(|| IntakeError::malformed("the entity's genesis is not a change chunk"))?;
    let too_large = || IntakeError::over("decoded bytes", None, limit as u64, "the entity's changes");
    let mut out = Vec::new();
    let mut hashes: Vec<[u8; 32]> = Vec::new();
    let mut depended: HashSet<[u8; 32]> = HashSet::new();
    let mut r = Reader::new(lean);
    while !r.is_empty() {
        match r.byte("an entry")? {
            GENESIS => {
                if out.len() + genesis.len() > limit {
                    return Err(too_large());
                }
                out.extend_from_slice(genesis);
                hashes.push(genesis_hash);
            }
            CHANGE => {
                let mut entry = Reader::new(r.prefixed("a change")?);
                let kind = entry.byte("a chunk type")?;
                if kind != 1 {
                    return Err(IntakeError::malformed("a lean entry is not a change chunk"));
                }
                // Each dependency takes at least one byte of the entry.
                let count = entry.count("dependencies", 1)?;
                let mut body = Vec::new();
                write_uleb(&mut body, count as u64);
                for _ in 0..count {
                    let dep: [u8; 32] = match entry.byte("a dependency")? {
                        GENESIS_DEP => genesis_hash,
                        OTHER_DEP => entry
                            .take(32, "a dependency")?
                            .try_into()
                            .map_err(|_| IntakeError::malformed("a dependency is not 32 bytes"))?,
                        _ => return Err(IntakeError::malformed("a dependency is neither the genesis nor a hash")),
                    };
                    body.extend_from_slice(&dep);
                    depended.insert(dep);
                }
                body.extend_from_slice(entry.rest());
                let mut header = vec![kind];
                write_uleb(&mut header, body.len() as u64);
                let digest = Sha256::new().chain_update(&header).chain_update(&body).finalize();
                if out.len() + MAGIC.len() + 4 + header.len() + body.len() > limit {
                    return Err(too_large());
                }
                out.extend_from_slice(&MAGIC);
                out.extend_from_slice(&digest[..4]);
                out.extend_from_slice(&header);
                out.extend_from_slice(&body);
                hashes.push(digest.into());
            }
            _ => return Err(IntakeError::malformed("a lean entry is neither the genesis nor a change")),
        }
    }
    let heads = hashes.into_iter().filter(|h| !depended.contains(h)).collect();
    Ok((out, heads))
}

/// The hash of one change chunk: SHA-256 of what follows its checksum.
fn hash_of(chunk: &[u8]) -> Option<[u8; 32]> {
    let after_checksum = chunk.get(8..)?;
    Some(Sha256::digest(after_checksum).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::EntityDoc;
    use crate::form::EntityAction;
    use automerge::ActorId;

    fn plot() -> (Vec<u8>, EntityDoc) {
        let mut genesis = EntityDoc::genesis("plots", "BGD-0412").unwrap();
        let genesis_chunk = genesis.changes_after(&[]);
        let mut doc = genesis.clone();
        let create = EntityAction::Create {
            list: "plots".into(),
            id: "BGD-0412".into(),
            label: "BGD-0412".into(),
            properties: vec![("village".into(), "Béguédo".into())],
        };
        doc.apply(&create, "s1", true, ActorId::from(&[7u8; 16][..]), chrono::Utc::now()).unwrap();
        (genesis_chunk, doc)
    }

    #[test]
    fn the_lean_form_rebuilds_the_same_chunks_and_heads_and_is_smaller() {
        let (genesis, mut doc) = plot();
        let changes = doc.changes_after(&[]);
        let lean = shrink(&genesis, &changes).unwrap();
        assert!(lean.len() + genesis.len() + 32 < changes.len(), "{} of {}", lean.len(), changes.len());
        let (back, heads) = expand(&genesis, &lean, 1 << 20).unwrap();
        assert_eq!(back, changes);
        let expected: Vec<[u8; 32]> = doc.heads().iter().map(|h| h.0).collect();
        assert_eq!(heads, expected);
        // Changes after the genesis only, as a device that had it receives them.
        let tail = doc.changes_after(&EntityDoc::genesis("plots", "BGD-0412").unwrap().heads());
        let (back, _) = expand(&genesis, &shrink(&genesis, &tail).unwrap(), 1 << 20).unwrap();
        assert_eq!(back, tail);
    }

    #[test]
    fn hostile_lean_bytes_are_refused_within_the_limit() {
        let (genesis, mut doc) = plot();
        let lean = shrink(&genesis, &doc.changes_after(&[])).unwrap();
        assert!(expand(&genesis, &lean, 64).is_err(), "past the limit");
        for cut in 0..lean.len() {
            let _ = expand(&genesis, &lean[..cut], 1 << 20);
        }
        // A change claiming a billion dependencies in a few bytes.
        let mut claim = vec![CHANGE];
        let mut entry = vec![1u8];
        write_uleb(&mut entry, 1 << 30);
        write_uleb(&mut claim, entry.len() as u64);
        claim.extend(entry);
        assert!(expand(&genesis, &claim, 1 << 20).is_err());
        // Many genesis entries: bounded by the limit.
        assert!(expand(&genesis, &vec![GENESIS; 100_000], 1 << 16).is_err());
        assert!(expand(&genesis, &[9], 1 << 20).is_err());
    }
}
