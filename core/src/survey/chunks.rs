//! Structural checks on Automerge bytes from outside, before Automerge parses them.
//!
//! Automerge storage is a sequence of chunks: 4 magic bytes, a 4-byte checksum, a type
//! byte, a LEB128 length, then that many bytes. Checking the framing first means truncated
//! or padded input, unknown chunk types and absurd lengths are refused with a clear error,
//! and Automerge only ever sees well-framed chunks of a bounded size.

use automerge::{AutoCommit, Change};

use super::DocumentError;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// At most this many chunks in one input: far more than any survey's history.
pub const MAX_CHUNKS: usize = 100_000;

/// What one chunk holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkKind {
    /// A whole document (`save()`).
    Document,
    /// One change (`save_after`, `save_incremental`).
    Change,
}

/// One framed chunk of the input.
#[derive(Debug, Clone, Copy)]
pub struct RawChunk<'a> {
    /// Its kind.
    pub kind: ChunkKind,
    /// The whole chunk, header included, as Automerge expects it.
    pub bytes: &'a [u8],
}

/// Splits `input` into chunks, refusing anything that is not well framed.
///
/// Compressed change chunks are refused: Terrain never produces them (changes travel
/// uncompressed inside a compressed transfer, where inflation is capped), and inflating
/// them would let a few bytes from outside claim unbounded memory.
pub fn split(input: &[u8]) -> Result<Vec<RawChunk<'_>>, DocumentError> {
    let bad = |what: &str| DocumentError::Malformed(what.to_owned());
    let mut chunks = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        if chunks.len() == MAX_CHUNKS {
            return Err(bad("more chunks than any survey could have"));
        }
        if rest.len() < 10 || rest[..4] != MAGIC {
            return Err(bad("bytes are not Automerge chunks (bad magic or truncated header)"));
        }
        let kind = match rest[8] {
            0 => ChunkKind::Document,
            1 => ChunkKind::Change,
            2 => return Err(bad("compressed change chunks are not accepted")),
            other => {
                return Err(DocumentError::Malformed(format!("unknown chunk type {other}")));
            }
        };
        let (len, leb_len) = read_uleb(&rest[9..]).ok_or_else(|| bad("bad chunk length"))?;
        let header = 9 + leb_len;
        let total = usize::try_from(len)
            .ok()
            .and_then(|len| len.checked_add(header))
            .filter(|total| *total <= rest.len())
            .ok_or_else(|| bad("a chunk is longer than the bytes given (truncated input)"))?;
        chunks.push(RawChunk { kind, bytes: &rest[..total] });
        rest = &rest[total..];
    }
    Ok(chunks)
}

/// Every change carried by `input`, each chunk parsed strictly: a partial parse is an
/// error, never silently dropped data.
pub fn changes(input: &[u8]) -> Result<Vec<Change>, DocumentError> {
    let mut out = Vec::new();
    for chunk in split(input)? {
        match chunk.kind {
            ChunkKind::Change => {
                let change = Change::try_from(chunk.bytes)
                    .map_err(|e| DocumentError::Malformed(format!("a change does not decode: {e}")))?;
                // Automerge does not compare a change chunk's checksum with its contents; a
                // damaged change would be stored under a hash its bytes do not have.
                if chunk.bytes[4..8] != change.hash().0[..4] {
                    return Err(DocumentError::Malformed("a change's checksum does not match its contents".into()));
                }
                out.push(change);
            }
            ChunkKind::Document => {
                let mut doc = AutoCommit::load(chunk.bytes)?;
                out.extend(doc.get_changes(&[]));
            }
        }
    }
    Ok(out)
}

fn read_uleb(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, byte) in bytes.iter().take(10).enumerate() {
        let low = u64::from(byte & 0x7f);
        value |= low.checked_shl(7 * i as u32)?;
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    use proptest::prelude::*;

    fn sample() -> Vec<u8> {
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, "a", 1).unwrap();
        doc.commit();
        let heads = doc.get_heads();
        doc.put(automerge::ROOT, "b", "two").unwrap();
        doc.commit();
        let mut bytes = doc.save();
        bytes.extend(doc.save_after(&heads));
        bytes
    }

    #[test]
    fn a_document_followed_by_changes_splits_and_decodes() {
        let bytes = sample();
        let kinds: Vec<_> = split(&bytes).unwrap().iter().map(|c| c.kind).collect();
        assert_eq!(kinds, vec![ChunkKind::Document, ChunkKind::Change]);
        assert_eq!(changes(&bytes).unwrap().len(), 3);
        let mut doc = AutoCommit::new();
        doc.apply_changes(changes(&bytes).unwrap()).unwrap();
        assert!(doc.get(automerge::ROOT, "b").unwrap().is_some());
    }

    #[test]
    fn a_change_whose_checksum_does_not_match_is_refused() {
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, "a", 1).unwrap();
        doc.commit();
        let mut bytes = doc.save_after(&[]);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        assert!(changes(&bytes).is_err());
    }

    #[test]
    fn truncation_padding_and_garbage_are_refused() {
        let bytes = sample();
        assert!(split(&bytes[..bytes.len() - 1]).is_err());
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(split(&padded).is_err());
        assert!(split(b"hello world, not automerge").is_err());
        assert!(split(&[]).unwrap().is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = changes(&bytes);
        }

        #[test]
        fn mutated_valid_bytes_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
            let mut bytes = sample();
            let len = bytes.len();
            for (at, value) in flips {
                bytes[at % len] = value;
            }
            let _ = changes(&bytes);
        }
    }
}
