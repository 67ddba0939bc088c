//! Automerge chunks built byte by byte, from the storage format itself, for the tests and
//! fuzzers that attack Terrain's front door (`terrain_core::intake`).
//!
//! A real chunk can be taken apart ([`Document::parse`], [`Change::parse`]), any part
//! changed (a column re-encoded with a run that claims 2^40 rows, a column deflated into a
//! bomb, a `max_op` pushed to 2^32), and put back together with a valid checksum, so the
//! hostile bytes pass the framing checks and reach the structure they attack. Mutating a
//! few bytes of a real chunk cannot do that: its checksum or its column lengths break first.

pub mod attacks;

use std::io::Write;

use sha2::{Digest, Sha256};

/// The magic bytes that start every chunk.
pub const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// Chunk type bytes.
pub mod kind {
    /// A whole document.
    pub const DOCUMENT: u8 = 0;
    /// One change.
    pub const CHANGE: u8 = 1;
    /// A DEFLATE-compressed change.
    pub const COMPRESSED_CHANGE: u8 = 2;
    /// A bundle of changes.
    pub const BUNDLE: u8 = 3;
}

/// Column type bits of a specification.
pub mod col {
    /// Group cardinality (unsigned RLE).
    pub const GROUP: u32 = 0;
    /// Actor index (unsigned RLE).
    pub const ACTOR: u32 = 1;
    /// Unsigned RLE.
    pub const ULEB: u32 = 2;
    /// Delta (signed RLE of differences).
    pub const DELTA: u32 = 3;
    /// Boolean run lengths.
    pub const BOOL: u32 = 4;
    /// String RLE.
    pub const STRING: u32 = 5;
    /// Value metadata (unsigned RLE of `len << 4 | type`).
    pub const VALUE_META: u32 = 6;
    /// Raw values.
    pub const VALUE: u32 = 7;
    /// The deflate bit.
    pub const DEFLATE: u32 = 0b1000;

    /// The specification of column `id` of type `ty`.
    pub const fn spec(id: u32, ty: u32) -> u32 {
        (id << 4) | ty
    }
}

/// Appends `v` as unsigned LEB128.
pub fn uleb(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends `v` as signed LEB128.
pub fn sleb(mut v: i64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
        out.push(if done { byte } else { byte | 0x80 });
        if done {
            return;
        }
    }
}

/// A run of `count` copies of the unsigned `value`.
pub fn run(count: i64, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(count, &mut out);
    uleb(value, &mut out);
    out
}

/// A run of `count` copies of the signed `delta`.
pub fn delta_run(count: i64, delta: i64) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(count, &mut out);
    sleb(delta, &mut out);
    out
}

/// A run of `count` nulls.
pub fn null_run(count: u64) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(0, &mut out);
    uleb(count, &mut out);
    out
}

/// A run of `count` copies of `text` in a string column.
pub fn string_run(count: i64, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(count, &mut out);
    uleb(text.len() as u64, &mut out);
    out.extend_from_slice(text);
    out
}

/// Raw DEFLATE of `bytes` (the compression of document columns).
pub fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

/// Zeros of `len` bytes, deflated, streamed so that the bomb never exists uncompressed.
pub fn deflated_zeros(len: u64) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    write_repeated(&mut e, &[0u8; 1 << 16], len);
    e.finish().unwrap_or_default()
}

/// Writes `block` (not empty) to `out` over and over until `len` bytes: a bomb streamed into
/// its encoder, so that it never exists uncompressed. Errors are ignored: the encoders this
/// feeds write to a `Vec`, which cannot fail.
pub fn write_repeated(out: &mut impl Write, block: &[u8], len: u64) {
    let mut left = len;
    while left > 0 && !block.is_empty() {
        let n = left.min(block.len() as u64) as usize;
        let _ = out.write_all(&block[..n]);
        left -= n as u64;
    }
}

/// A chunk of type `ty` around `body`, with the checksum Automerge computes.
pub fn chunk(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut hashed = vec![ty];
    uleb(body.len() as u64, &mut hashed);
    let mut hasher = Sha256::new();
    hasher.update(&hashed);
    hasher.update(body);
    let hash = hasher.finalize();
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&hash[..4]);
    out.extend_from_slice(&hashed);
    out.extend_from_slice(body);
    out
}

/// A chunk's type and body, if `bytes` is exactly one well-framed chunk.
pub fn unframe(bytes: &[u8]) -> Option<(u8, &[u8])> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(4)? != MAGIC {
        return None;
    }
    r.take(4)?;
    let ty = r.take(1)?[0];
    let len = usize::try_from(r.uleb()?).ok()?;
    let body = r.take(len)?;
    (r.at == bytes.len()).then_some((ty, body))
}

/// The chunks of a concatenation of chunks.
pub fn split(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let mut r = Reader { bytes, at: 8 };
        r.take(1)?;
        let len = usize::try_from(r.uleb()?).ok()?;
        let end = r.at.checked_add(len)?;
        out.push(bytes.get(..end)?);
        bytes = bytes.get(end..)?;
    }
    Some(out)
}

/// One column: its specification and its (possibly compressed) bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// `id << 4 | deflate << 3 | type`.
    pub spec: u32,
    /// The bytes.
    pub data: Vec<u8>,
}

impl Column {
    /// A column.
    pub fn new(spec: u32, data: Vec<u8>) -> Column {
        Column { spec, data }
    }

    /// This column with its data deflated and the deflate bit set.
    pub fn deflated(&self) -> Column {
        Column { spec: self.spec | col::DEFLATE, data: deflate(&self.data) }
    }
}

fn write_columns(columns: &[Column], meta: &mut Vec<u8>, data: &mut Vec<u8>) {
    uleb(columns.len() as u64, meta);
    for c in columns {
        uleb(u64::from(c.spec), meta);
        uleb(c.data.len() as u64, meta);
        data.extend_from_slice(&c.data);
    }
}

/// A document chunk taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The actor table.
    pub actors: Vec<Vec<u8>>,
    /// The heads.
    pub heads: Vec<[u8; 32]>,
    /// The change table's columns.
    pub change_columns: Vec<Column>,
    /// The op table's columns.
    pub op_columns: Vec<Column>,
    /// The bytes after the column data (head indices).
    pub suffix: Vec<u8>,
}

impl Document {
    /// Takes apart a document chunk (as `save()` writes it, compressed columns left as
    /// they are).
    pub fn parse(bytes: &[u8]) -> Option<Document> {
        let (ty, body) = unframe(bytes)?;
        if ty != kind::DOCUMENT {
            return None;
        }
        let mut r = Reader { bytes: body, at: 0 };
        let actors = (0..r.uleb()?).map(|_| r.prefixed().map(<[u8]>::to_vec)).collect::<Option<Vec<_>>>()?;
        let heads = (0..r.uleb()?).map(|_| r.take(32).and_then(|h| h.try_into().ok())).collect::<Option<Vec<_>>>()?;
        let change_meta = r.metadata()?;
        let op_meta = r.metadata()?;
        let change_columns = r.columns(&change_meta)?;
        let op_columns = r.columns(&op_meta)?;
        let suffix = body.get(r.at..)?.to_vec();
        Some(Document { actors, heads, change_columns, op_columns, suffix })
    }

    /// The chunk, with a valid checksum.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        uleb(self.actors.len() as u64, &mut body);
        for a in &self.actors {
            uleb(a.len() as u64, &mut body);
            body.extend_from_slice(a);
        }
        uleb(self.heads.len() as u64, &mut body);
        for h in &self.heads {
            body.extend_from_slice(h);
        }
        let mut data = Vec::new();
        write_columns(&self.change_columns, &mut body, &mut data);
        write_columns(&self.op_columns, &mut body, &mut data);
        body.extend(data);
        body.extend_from_slice(&self.suffix);
        chunk(kind::DOCUMENT, &body)
    }

    /// Every compressed column inflated, so that its runs can be rewritten.
    pub fn inflated(&self) -> Document {
        let inflate = |c: &Column| {
            if c.spec & col::DEFLATE == 0 {
                return c.clone();
            }
            let mut out = Vec::new();
            let _ = std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(c.data.as_slice()), &mut out);
            Column { spec: c.spec & !col::DEFLATE, data: out }
        };
        Document {
            change_columns: self.change_columns.iter().map(inflate).collect(),
            op_columns: self.op_columns.iter().map(inflate).collect(),
            ..self.clone()
        }
    }
}

/// A change chunk taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The hashes it depends on.
    pub deps: Vec<[u8; 32]>,
    /// Its actor.
    pub actor: Vec<u8>,
    /// Its sequence number.
    pub seq: u64,
    /// Its first op counter.
    pub start_op: u64,
    /// Its time (ms).
    pub time: i64,
    /// Its message.
    pub message: Vec<u8>,
    /// Other actors its ops name.
    pub other_actors: Vec<Vec<u8>>,
    /// Its op columns.
    pub op_columns: Vec<Column>,
    /// Bytes after the columns.
    pub extra: Vec<u8>,
}

impl Change {
    /// Takes apart a change chunk.
    pub fn parse(bytes: &[u8]) -> Option<Change> {
        let (ty, body) = unframe(bytes)?;
        if ty != kind::CHANGE {
            return None;
        }
        let mut r = Reader { bytes: body, at: 0 };
        let deps = (0..r.uleb()?).map(|_| r.take(32).and_then(|h| h.try_into().ok())).collect::<Option<Vec<_>>>()?;
        let actor = r.prefixed()?.to_vec();
        let seq = r.uleb()?;
        let start_op = r.uleb()?;
        let time = r.sleb()?;
        let message = r.prefixed()?.to_vec();
        let other_actors = (0..r.uleb()?).map(|_| r.prefixed().map(<[u8]>::to_vec)).collect::<Option<Vec<_>>>()?;
        let meta = r.metadata()?;
        let op_columns = r.columns(&meta)?;
        let extra = body.get(r.at..)?.to_vec();
        Some(Change { deps, actor, seq, start_op, time, message, other_actors, op_columns, extra })
    }

    /// The chunk, with a valid checksum.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        uleb(self.deps.len() as u64, &mut body);
        for d in &self.deps {
            body.extend_from_slice(d);
        }
        uleb(self.actor.len() as u64, &mut body);
        body.extend_from_slice(&self.actor);
        uleb(self.seq, &mut body);
        uleb(self.start_op, &mut body);
        sleb(self.time, &mut body);
        uleb(self.message.len() as u64, &mut body);
        body.extend_from_slice(&self.message);
        uleb(self.other_actors.len() as u64, &mut body);
        for a in &self.other_actors {
            uleb(a.len() as u64, &mut body);
            body.extend_from_slice(a);
        }
        let mut data = Vec::new();
        write_columns(&self.op_columns, &mut body, &mut data);
        body.extend(data);
        body.extend_from_slice(&self.extra);
        chunk(kind::CHANGE, &body)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(out)
    }

    fn uleb(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f).checked_shl(7 * i)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn sleb(&mut self) -> Option<i64> {
        let mut v = 0i64;
        let mut shift = 0;
        loop {
            let b = self.take(1)?[0];
            v |= i64::from(b & 0x7f).checked_shl(shift)?;
            shift += 7;
            if b & 0x80 == 0 {
                if shift < 64 && b & 0x40 != 0 {
                    v |= -1i64 << shift;
                }
                return Some(v);
            }
            if shift >= 70 {
                return None;
            }
        }
    }

    fn prefixed(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.uleb()?).ok()?;
        self.take(n)
    }

    fn metadata(&mut self) -> Option<Vec<(u32, usize)>> {
        (0..self.uleb()?)
            .map(|_| Some((u32::try_from(self.uleb()?).ok()?, usize::try_from(self.uleb()?).ok()?)))
            .collect()
    }

    fn columns(&mut self, meta: &[(u32, usize)]) -> Option<Vec<Column>> {
        meta.iter().map(|(spec, len)| Some(Column { spec: *spec, data: self.take(*len)?.to_vec() })).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT, ReadDoc};

    fn sample() -> AutoCommit {
        let mut doc = AutoCommit::new();
        for i in 0..200 {
            doc.put(ROOT, format!("question_{i}"), format!("a long enough answer {i}")).unwrap();
        }
        doc.commit();
        doc
    }

    #[test]
    fn a_document_parses_and_encodes_back_to_the_same_bytes() {
        let bytes = sample().save();
        let parts = Document::parse(&bytes).unwrap();
        assert!(parts.op_columns.iter().any(|c| c.spec & col::DEFLATE != 0), "save() compresses big columns");
        assert_eq!(parts.encode(), bytes);
        let inflated = parts.inflated().encode();
        let loaded = AutoCommit::load(&inflated).unwrap();
        assert_eq!(loaded.get(ROOT, "question_7").unwrap().unwrap().0.to_string(), "\"a long enough answer 7\"");
    }

    #[test]
    fn a_change_parses_and_encodes_back_to_the_same_bytes() {
        let bytes = sample().save_after(&[]);
        let parts = Change::parse(&bytes).unwrap();
        assert_eq!(parts.encode(), bytes);
        assert_eq!(split(&[bytes.clone(), bytes.clone()].concat()).unwrap().len(), 2);
    }
}
