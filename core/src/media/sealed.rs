//! Attached files at rest in an encrypted store: each file sealed with XChaCha20-Poly1305
//! under the store's media key, in segments, so that an upload can read any range without
//! decrypting the whole file; a read that reaches where a file was cut, or a segment
//! swapped, changed or taken from another file, fails.
//!
//! A sealed file is `MAGIC`, a random 16-byte file nonce, then the plaintext in segments of
//! [`SEGMENT`] bytes (the last shorter, possibly empty), each followed by its 16-byte tag.
//! Segment `i`'s nonce is the file nonce, `i` (32 bits, big-endian), and a byte that is 1 on
//! the last segment only: dropping trailing segments, reordering them, or splicing in a
//! segment of another file fails authentication. The media key is random, kept in the
//! store's own (encrypted) database: changing the store's key does not touch the files.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::TryRngCore;
use sha2::Digest as _;
use zeroize::Zeroizing;

use super::{Digest, MediaError};

/// What starts a sealed file (and is bound into every segment's tag).
const MAGIC: &[u8; 4] = b"TMF1";
/// The plaintext bytes of a segment but the last.
pub const SEGMENT: usize = 64 << 10;
const NONCE: usize = 16;
const HEADER: u64 = (MAGIC.len() + NONCE) as u64;
const TAG: u64 = 16;
const SEALED_SEGMENT: u64 = SEGMENT as u64 + TAG;

/// The key attached files are sealed under: 32 random bytes, wiped when dropped.
#[derive(Clone)]
pub struct FileKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(…)")
    }
}

impl FileKey {
    /// A new random key from the operating system's random source.
    pub fn generate() -> Result<FileKey, MediaError> {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.try_fill_bytes(key.as_mut()).map_err(|e| MediaError::Sealed(e.to_string()))?;
        Ok(FileKey(key))
    }

    /// The key made of these 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<FileKey> {
        let key: [u8; 32] = bytes.try_into().ok()?;
        Some(FileKey(Zeroizing::new(key)))
    }

    /// The key's bytes, for the store to keep.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }
}

fn nonce(file: &[u8; NONCE], index: u64, last: bool) -> Option<XNonce> {
    let index = u32::try_from(index).ok()?;
    let mut nonce = [0u8; 24];
    nonce[..NONCE].copy_from_slice(file);
    nonce[NONCE..NONCE + 4].copy_from_slice(&index.to_be_bytes());
    nonce[NONCE + 4] = u8::from(last);
    Some(nonce.into())
}

/// Seals what `from` yields into `to`; returns the plaintext's digest and length.
pub fn seal(key: &FileKey, from: &mut dyn Read, to: &mut dyn Write) -> io::Result<(Digest, u64)> {
    let mut file_nonce = [0u8; NONCE];
    rand::rngs::OsRng.try_fill_bytes(&mut file_nonce).map_err(io::Error::other)?;
    to.write_all(MAGIC)?;
    to.write_all(&file_nonce)?;
    let cipher = key.cipher();
    let mut hasher = sha2::Sha256::new();
    let (mut total, mut index) = (0u64, 0u64);
    let mut current = read_segment(from)?;
    loop {
        // One segment ahead: a segment is the last when nothing follows it.
        let next = if current.len() == SEGMENT { read_segment(from)? } else { Vec::new() };
        let last = next.is_empty();
        hasher.update(&current);
        total += current.len() as u64;
        let nonce = nonce(&file_nonce, index, last).ok_or_else(|| io::Error::other("a file of over 256 TiB"))?;
        let sealed = cipher
            .encrypt(&nonce, Payload { msg: &current, aad: MAGIC })
            .map_err(|_| io::Error::other("sealing a segment failed"))?;
        to.write_all(&sealed)?;
        if last {
            break;
        }
        current = next;
        index += 1;
    }
    Ok((Digest(hasher.finalize().into()), total))
}

fn read_segment(from: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut segment = Vec::with_capacity(SEGMENT);
    from.take(SEGMENT as u64).read_to_end(&mut segment)?;
    Ok(segment)
}

/// The plaintext length of a sealed file of `sealed` bytes; `None` if no sealed file has
/// that length.
pub fn plain_len(sealed: u64) -> Option<u64> {
    let body = sealed.checked_sub(HEADER)?;
    let (full, rest) = (body / SEALED_SEGMENT, body % SEALED_SEGMENT);
    match rest {
        0 if full > 0 => Some(full * SEGMENT as u64),
        rest if rest >= TAG => Some(full * SEGMENT as u64 + rest - TAG),
        _ => None,
    }
}

/// Up to `max` plaintext bytes of the sealed `file` from `offset`, each segment read checked.
pub fn open_range(key: &FileKey, file: &mut File, offset: u64, max: usize) -> Result<Vec<u8>, MediaError> {
    let damaged = || MediaError::Sealed("an attached file does not open with this store's key".into());
    let sealed = file.metadata().map_err(|e| MediaError::Sealed(e.to_string()))?.len();
    let size = plain_len(sealed).ok_or_else(damaged)?;
    let mut header = [0u8; HEADER as usize];
    file.seek(SeekFrom::Start(0)).and_then(|_| file.read_exact(&mut header)).map_err(|_| damaged())?;
    if &header[..MAGIC.len()] != MAGIC {
        return Err(damaged());
    }
    let mut file_nonce = [0u8; NONCE];
    file_nonce.copy_from_slice(&header[MAGIC.len()..]);
    let segments = (sealed - HEADER).div_ceil(SEALED_SEGMENT);
    let segment = SEGMENT as u64;
    let end = size.min(offset.saturating_add(max as u64));
    // At least the segment holding `offset` is opened, so even a read of nothing proves the
    // file opens under the key.
    let first = (offset.min(size) / segment).min(segments - 1);
    let last = if end > offset { (end - 1) / segment } else { first };
    let cipher = key.cipher();
    let mut out = Vec::with_capacity(end.saturating_sub(offset) as usize);
    for index in first..=last {
        let start = HEADER + index * SEALED_SEGMENT;
        let mut chunk = vec![0u8; SEALED_SEGMENT.min(sealed - start) as usize];
        file.seek(SeekFrom::Start(start)).and_then(|_| file.read_exact(&mut chunk)).map_err(|_| damaged())?;
        let nonce = nonce(&file_nonce, index, index + 1 == segments).ok_or_else(damaged)?;
        let plain = cipher.decrypt(&nonce, Payload { msg: &chunk, aad: MAGIC }).map_err(|_| damaged())?;
        let base = index * segment;
        let (lo, hi) = (offset.max(base) - base, end.min(base + plain.len() as u64).saturating_sub(base));
        if hi > lo {
            out.extend_from_slice(&plain[lo as usize..hi as usize]);
        }
    }
    Ok(out)
}

/// Whether `file` is a file sealed under `key` (its first segment opens).
pub fn is_sealed(key: &FileKey, file: &mut File) -> bool {
    open_range(key, file, 0, 1).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(key: &FileKey, plain: &[u8]) -> (tempfile::NamedTempFile, Digest) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let (digest, length) = seal(key, &mut &plain[..], file.as_file_mut()).unwrap();
        assert_eq!(length, plain.len() as u64);
        assert_eq!(plain_len(file.as_file().metadata().unwrap().len()), Some(length));
        (file, digest)
    }

    #[test]
    fn any_range_of_a_sealed_file_reads_back() {
        let key = FileKey::generate().unwrap();
        for size in [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 17] {
            let plain: Vec<u8> = (0..size).map(|i| (i * 13 % 251) as u8).collect();
            let (mut file, digest) = sealed(&key, &plain);
            assert_eq!(digest, Digest::of(&plain));
            assert_eq!(open_range(&key, file.as_file_mut(), 0, usize::MAX).unwrap(), plain, "{size}");
            for (offset, max) in [(0, 10), (SEGMENT - 3, 7), (size / 2, SEGMENT + 5), (size, 4)] {
                let want = &plain[offset.min(size)..(offset + max).min(size)];
                assert_eq!(open_range(&key, file.as_file_mut(), offset as u64, max).unwrap(), want, "{size} {offset}");
            }
        }
    }

    #[test]
    fn a_sealed_file_cut_changed_or_under_another_key_does_not_open() {
        let key = FileKey::generate().unwrap();
        let plain = vec![7u8; 2 * SEGMENT + 100];
        let (file, _) = sealed(&key, &plain);
        let bytes = std::fs::read(file.path()).unwrap();
        let mut other = file.reopen().unwrap();
        assert!(open_range(&FileKey::generate().unwrap(), &mut other, 0, 10).is_err());
        // The last segment dropped: the one before it was not sealed as the last.
        let cut = &bytes[..(HEADER + 2 * SEALED_SEGMENT) as usize];
        let mut truncated = tempfile::tempfile().unwrap();
        truncated.write_all(cut).unwrap();
        assert!(open_range(&key, &mut truncated, SEGMENT as u64, 10).is_err());
        let mut flipped = bytes.clone();
        flipped[HEADER as usize + 5] ^= 1;
        let mut changed = tempfile::tempfile().unwrap();
        changed.write_all(&flipped).unwrap();
        assert!(open_range(&key, &mut changed, 0, 10).is_err());
        let mut plain_file = tempfile::tempfile().unwrap();
        plain_file.write_all(&plain).unwrap();
        assert!(!is_sealed(&key, &mut plain_file));
    }
}
