//! Where the server keeps the bytes of attached files, behind a small trait so that an
//! S3-compatible store (or PostgreSQL's large objects) can replace the folder without the
//! services noticing.
//!
//! An upload arrives in pieces, each appended at the offset the store says it holds
//! ([`BlobStore::append`]), synced before it is acknowledged; the file becomes visible
//! under its digest only once its bytes hash to it, so a partial or forged upload is never
//! served as complete.

use std::sync::{Mutex, PoisonError};

pub use terrain_core::media::BlobEntry;
use terrain_core::media::{BlobDir, Digest, FileKey, MediaError, sealed};

use crate::{BackendError, BackendResult};

/// The folder, inside the files' folder, of what is derived from them (thumbnails).
const DERIVED: &str = "derived";

/// What the store holds of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobState {
    /// Nothing.
    Absent,
    /// The first bytes, this many, of an upload in progress.
    Partial(u64),
    /// The whole file, of this size.
    Complete(u64),
}

/// What came of appending a piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Kept; the upload now holds this many bytes.
    At(u64),
    /// Kept, and the file is now whole and checked: this many bytes.
    Complete(u64),
    /// Not kept: the whole file, this many bytes, was already held.
    Held(u64),
    /// Not kept: the upload holds this many bytes, not the piece's offset.
    Elsewhere(u64),
    /// The last piece made a file whose bytes have this other digest: everything received
    /// was dropped.
    Corrupt(Digest),
}

/// The bytes of attached files, by digest.
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// What is held of `digest`, an upload of `size` bytes. An upload in progress that has
    /// reached `size` is completed (or dropped, if its bytes are not the file); one longer
    /// than `size` is reported as it is, for the caller to refuse the size.
    fn state(&self, digest: &Digest, size: u64) -> BackendResult<BlobState>;
    /// Appends `bytes` at `offset` to the upload of `digest` (`size` bytes in all); the
    /// piece that reaches `size` completes it, if the bytes hash to `digest`.
    fn append(&self, digest: &Digest, size: u64, offset: u64, bytes: &[u8]) -> BackendResult<Appended>;
    /// Up to `max` bytes of the complete file `digest` from `offset`, and its size; `None`
    /// when it is not (completely) held.
    fn read(&self, digest: &Digest, offset: u64, max: u64) -> BackendResult<Option<(Vec<u8>, u64)>>;
    /// Removes the file and any upload of it.
    fn remove(&self, digest: &Digest) -> BackendResult<()>;
    /// Every file and every upload in progress, with its size and last write.
    fn entries(&self) -> BackendResult<Vec<BlobEntry>>;
    /// What was derived from the files and kept under `name` (a thumbnail), if it was.
    fn derived(&self, name: &str) -> BackendResult<Option<Vec<u8>>>;
    /// Keeps `bytes` derived from a file under `name` (letters, digits, `-` and `.`), so
    /// that they are made once.
    fn keep_derived(&self, name: &str, bytes: &[u8]) -> BackendResult<()>;
}

/// Files in a folder of the data directory (`blobs/`), one per digest.
#[derive(Debug)]
pub struct FolderBlobs {
    dir: BlobDir,
    /// The key of `dir`'s files, for what is derived from them too.
    key: Option<FileKey>,
    /// One upload of a digest at a time (two phones may send the same photo): a piece is
    /// appended under the lock of its digest's stripe.
    stripes: [Mutex<()>; 16],
}

impl FolderBlobs {
    /// Opens (creating it if needed) the folder at `root`.
    pub fn open(root: impl Into<std::path::PathBuf>) -> BackendResult<FolderBlobs> {
        FolderBlobs::open_sealed(root, None)
    }

    /// [`FolderBlobs::open`], its files (and what is derived from them) sealed under `key`
    /// if given: an encrypted server's.
    pub fn open_sealed(root: impl Into<std::path::PathBuf>, key: Option<FileKey>) -> BackendResult<FolderBlobs> {
        let dir = BlobDir::open_sealed(root, key.clone()).map_err(media_error)?;
        Ok(FolderBlobs { dir, key, stripes: Default::default() })
    }

    fn stripe(&self, digest: &Digest) -> std::sync::MutexGuard<'_, ()> {
        let index = usize::from(digest.0[0]) % self.stripes.len();
        self.stripes[index].lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BlobStore for FolderBlobs {
    fn state(&self, digest: &Digest, size: u64) -> BackendResult<BlobState> {
        let _held = self.stripe(digest);
        if let Some(size) = self.dir.size(digest) {
            return Ok(BlobState::Complete(size));
        }
        match self.dir.part_len(digest) {
            0 => Ok(BlobState::Absent),
            // Whole but not completed (the server stopped between the last piece and the
            // check): completed now, or dropped if its bytes are not the file.
            part if part == size => match self.dir.complete_part(digest) {
                Ok(size) => Ok(BlobState::Complete(size)),
                Err(MediaError::Corrupt { .. }) => Ok(BlobState::Absent),
                Err(e) => Err(media_error(e)),
            },
            part => Ok(BlobState::Partial(part)),
        }
    }

    fn append(&self, digest: &Digest, size: u64, offset: u64, bytes: &[u8]) -> BackendResult<Appended> {
        let _held = self.stripe(digest);
        if let Some(size) = self.dir.size(digest) {
            return Ok(Appended::Held(size));
        }
        let at = match self.dir.append_part(digest, offset, bytes).map_err(media_error)? {
            Ok(at) => at,
            Err(held) => return Ok(Appended::Elsewhere(held)),
        };
        if at < size {
            return Ok(Appended::At(at));
        }
        match self.dir.complete_part(digest) {
            Ok(size) => Ok(Appended::Complete(size)),
            Err(MediaError::Corrupt { got, .. }) => Ok(Appended::Corrupt(got)),
            Err(e) => Err(media_error(e)),
        }
    }

    fn read(&self, digest: &Digest, offset: u64, max: u64) -> BackendResult<Option<(Vec<u8>, u64)>> {
        let Some(size) = self.dir.size(digest) else { return Ok(None) };
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        match self.dir.read_at(digest, offset, max) {
            Ok(bytes) => Ok(Some((bytes, size))),
            Err(MediaError::Missing(_)) => Ok(None),
            Err(e) => Err(media_error(e)),
        }
    }

    fn remove(&self, digest: &Digest) -> BackendResult<()> {
        let _held = self.stripe(digest);
        self.dir.remove(digest).map_err(media_error)?;
        self.dir.remove_part(digest).map_err(media_error)?;
        // What was derived from it (thumbnails) goes with it.
        let derived = self.dir.root().join(DERIVED);
        if let Ok(entries) = std::fs::read_dir(&derived) {
            let prefix = digest.to_hex();
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

    fn entries(&self) -> BackendResult<Vec<BlobEntry>> {
        self.dir.entries().map_err(media_error)
    }

    fn derived(&self, name: &str) -> BackendResult<Option<Vec<u8>>> {
        // Read without making the folder: only `keep_derived` writes there.
        let path = self.dir.root().join(DERIVED).join(checked_name(name)?);
        let mut file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(BackendError::Database(format!("reading a thumbnail failed: {e}"))),
        };
        match &self.key {
            // One that does not open (made before the server was encrypted) is made again.
            Some(key) => Ok(sealed::open_range(key, &mut file, 0, usize::MAX).ok()),
            None => {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut file, &mut bytes)
                    .map_err(|e| BackendError::Database(format!("reading a thumbnail failed: {e}")))?;
                Ok(Some(bytes))
            }
        }
    }

    fn keep_derived(&self, name: &str, bytes: &[u8]) -> BackendResult<()> {
        let dir = self.derived_dir()?;
        let path = dir.join(checked_name(name)?);
        // Through a temporary file, so a reader never sees half a thumbnail; not synced:
        // one lost in a power cut is made again.
        let mut temporary = tempfile::NamedTempFile::new_in(&dir)
            .map_err(|e| BackendError::Database(format!("writing a thumbnail failed: {e}")))?;
        match &self.key {
            Some(key) => sealed::seal(key, &mut &bytes[..], &mut temporary).map(|_| ()),
            None => std::io::Write::write_all(&mut temporary, bytes),
        }
        .map_err(|e| BackendError::Database(format!("writing a thumbnail failed: {e}")))?;
        temporary.persist(&path).map_err(|e| BackendError::Database(format!("writing a thumbnail failed: {e}")))?;
        Ok(())
    }
}

impl FolderBlobs {
    /// `derived/` inside the folder: made again from the files whenever lost.
    fn derived_dir(&self) -> BackendResult<std::path::PathBuf> {
        let dir = self.dir.root().join(DERIVED);
        std::fs::create_dir_all(&dir).map_err(|e| BackendError::Database(format!("{}: {e}", dir.display())))?;
        Ok(dir)
    }
}

fn checked_name(name: &str) -> BackendResult<&str> {
    let fine = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if fine { Ok(name) } else { Err(BackendError::Database(format!("`{name}` cannot name a derived file"))) }
}

fn media_error(e: MediaError) -> BackendError {
    BackendError::Database(format!("the attached files' folder failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_in_pieces_completes_once_its_bytes_hash_to_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FolderBlobs::open(dir.path().join("blobs")).unwrap();
        let photo: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
        let digest = Digest::of(&photo);
        let size = photo.len() as u64;
        assert_eq!(blobs.state(&digest, size).unwrap(), BlobState::Absent);
        assert_eq!(blobs.append(&digest, size, 0, &photo[..2000]).unwrap(), Appended::At(2000));
        assert_eq!(blobs.append(&digest, size, 1000, &photo[1000..3000]).unwrap(), Appended::Elsewhere(2000));
        assert_eq!(blobs.state(&digest, size).unwrap(), BlobState::Partial(2000));
        assert_eq!(blobs.read(&digest, 0, 10).unwrap(), None, "a partial file is never served");
        assert_eq!(blobs.append(&digest, size, 2000, &photo[2000..]).unwrap(), Appended::Complete(size));
        assert_eq!(blobs.read(&digest, 4990, 100).unwrap(), Some((photo[4990..].to_vec(), size)));
        assert_eq!(blobs.append(&digest, size, 0, b"again").unwrap(), Appended::Held(size));
        let listed: Vec<(Digest, bool)> = blobs.entries().unwrap().iter().map(|e| (e.digest, e.complete)).collect();
        assert_eq!(listed, vec![(digest, true)]);
    }

    #[test]
    fn bytes_that_are_not_the_named_file_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FolderBlobs::open(dir.path().join("blobs")).unwrap();
        let digest = Digest::of(b"the real photo");
        assert!(matches!(blobs.append(&digest, 5, 0, b"forge").unwrap(), Appended::Corrupt(_)));
        assert_eq!(blobs.state(&digest, 5).unwrap(), BlobState::Absent);
        // An upload under way is not dropped for a smaller size declared: that is refused.
        assert_eq!(blobs.append(&digest, 14, 0, b"the real").unwrap(), Appended::At(8));
        assert_eq!(blobs.state(&digest, 4).unwrap(), BlobState::Partial(8));
        assert_eq!(blobs.state(&digest, 14).unwrap(), BlobState::Partial(8));
    }

    #[test]
    fn a_whole_upload_left_uncompleted_is_completed_when_asked_about() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("blobs");
        let photo = b"a whole photo".to_vec();
        let digest = Digest::of(&photo);
        // The server stopped between the last piece and its check.
        BlobDir::open(&root).unwrap().append_part(&digest, 0, &photo).unwrap().unwrap();
        let blobs = FolderBlobs::open(&root).unwrap();
        assert_eq!(blobs.state(&digest, photo.len() as u64).unwrap(), BlobState::Complete(photo.len() as u64));
        assert_eq!(blobs.read(&digest, 0, 100).unwrap().unwrap().0, photo);
    }
}
