//! Chunk framing: 4 magic bytes, a 4-byte checksum, a type byte, a LEB128 length, then that
//! many bytes. Truncated or padded input, unknown chunk types and lengths longer than the
//! input are refused before anything else is read.

use super::IntakeError;
use super::leb::Reader;

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
pub(crate) struct RawChunk<'a> {
    pub(crate) kind: ChunkKind,
    /// The whole chunk, header included, as Automerge expects it.
    pub(crate) bytes: &'a [u8],
    /// The chunk's contents after the header.
    pub(crate) body: &'a [u8],
}

/// Splits `input` into chunks, refusing anything that is not well framed.
///
/// Compressed change chunks (type 2) and bundle chunks (type 3) are refused: Terrain never
/// produces them (changes travel uncompressed inside a compressed transfer, where inflation
/// is capped), so accepting them would only widen what hostile bytes can reach.
pub(crate) fn split(input: &[u8]) -> Result<Vec<RawChunk<'_>>, IntakeError> {
    let mut chunks = Vec::new();
    let mut r = Reader::new(input);
    while !r.is_empty() {
        if chunks.len() == MAX_CHUNKS {
            return Err(IntakeError::over("chunks", None, MAX_CHUNKS as u64, "the bytes"));
        }
        let start = r.position();
        let header = "a chunk header";
        if r.take(4, header).ok() != Some(&MAGIC[..]) {
            return Err(IntakeError::malformed("bytes are not Automerge chunks (bad magic or truncated header)"));
        }
        r.take(4, header)?;
        let kind = match r.byte(header)? {
            0 => ChunkKind::Document,
            1 => ChunkKind::Change,
            2 => return Err(IntakeError::malformed("compressed change chunks are not accepted")),
            3 => return Err(IntakeError::malformed("bundle chunks are not accepted")),
            other => return Err(IntakeError::malformed(format!("unknown chunk type {other}"))),
        };
        let len = r
            .length("a chunk length")
            .map_err(|_| IntakeError::malformed("a chunk is longer than the bytes given (truncated input)"))?;
        let body = r.take(len, header)?;
        let bytes = &input[start..r.position()];
        chunks.push(RawChunk { kind, bytes, body });
    }
    Ok(chunks)
}
