//! A folder of files named by their SHA-256: where a device keeps what its surveys attach.
//!
//! A file enters through a temporary name in the same folder, is synced, then renamed to
//! its digest and the folder synced: after a crash at any point a digest's file is either
//! absent or whole, so an answer written after [`BlobDir::put_file`] returns never points
//! at nothing. Leftover temporary files (an hour old) are removed when the folder is opened.
//! Pieces of a file being received (`<digest>.part`) are kept in the clear until the file
//! is whole, then sealed with the folder's key if it has one.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use super::{Digest, FileKey, MediaError, sealed};

const TEMPORARY: &str = ".partial-";
/// What ends the name of a file being received in pieces: `<digest>.part`, kept across
/// restarts so a cut transfer resumes where it stopped.
const PART: &str = ".part";

/// A file in a [`BlobDir`], or the pieces of one being received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobEntry {
    /// Its digest.
    pub digest: Digest,
    /// Whether it is the whole file (else the pieces received so far).
    pub complete: bool,
    /// Its length.
    pub size: u64,
    /// When it was last written.
    pub modified: std::time::SystemTime,
}

/// A content-addressed folder of files, sealed under a [`FileKey`] when it has one
/// (an encrypted store's): the digests and sizes it speaks of are always the plaintext's.
#[derive(Debug, Clone)]
pub struct BlobDir {
    root: PathBuf,
    key: Option<FileKey>,
}

impl BlobDir {
    /// The folder a store at `store_path` keeps its files in: `<store file>.media` beside it.
    pub fn beside(store_path: &Path) -> PathBuf {
        let mut name = store_path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".media");
        store_path.with_file_name(name)
    }

    /// Opens (creating it if needed) the folder at `root`, removing what an interrupted
    /// write left.
    pub fn open(root: impl Into<PathBuf>) -> Result<BlobDir, MediaError> {
        BlobDir::open_sealed(root, None)
    }

    /// [`BlobDir::open`], its files sealed under `key` if given.
    pub fn open_sealed(root: impl Into<PathBuf>, key: Option<FileKey>) -> Result<BlobDir, MediaError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(MediaError::io("create", &root))?;
        for entry in fs::read_dir(&root).map_err(MediaError::io("list", &root))? {
            let entry = entry.map_err(MediaError::io("list", &root))?;
            // Only those an hour old: another process (the `terrain` command beside a
            // running server) may be writing the recent ones.
            let stale = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
            if entry.file_name().to_string_lossy().starts_with(TEMPORARY)
                && stale.is_some_and(|age| age > std::time::Duration::from_secs(3600))
            {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(BlobDir { root, key })
    }

    /// Whether the files are sealed.
    pub fn is_sealed(&self) -> bool {
        self.key.is_some()
    }

    /// Seals every plain file under `key` (`to_sealed`), or opens every sealed one (not),
    /// a file at a time through a temporary file and a rename: after a crash the files are
    /// some of each, and running it again finishes. Returns how many it changed.
    pub fn convert(&self, key: &FileKey, to_sealed: bool) -> Result<u64, MediaError> {
        let mut changed = 0;
        for digest in self.digests()? {
            let path = self.path(&digest);
            let mut file = File::open(&path).map_err(MediaError::io("read", &path))?;
            if sealed::is_sealed(key, &mut file) == to_sealed {
                continue;
            }
            file.seek(SeekFrom::Start(0)).map_err(MediaError::io("read", &path))?;
            let (mut out, temporary) = self.temporary()?;
            let converted = if to_sealed {
                sealed::seal(key, &mut file, &mut out).map_err(MediaError::io("seal", &path))
            } else {
                let plain = sealed::open_range(key, &mut file, 0, usize::MAX)?;
                out.write_all(&plain).map_err(MediaError::io("write", &temporary)).map(|()| (Digest::of(&plain), 0))
            };
            match converted {
                Ok((got, _)) if got == digest => self.settle(Ok(out), &temporary, &digest)?,
                Ok((got, _)) => {
                    let _ = fs::remove_file(&temporary);
                    return Err(MediaError::Corrupt { expected: digest, got });
                }
                Err(e) => {
                    let _ = fs::remove_file(&temporary);
                    return Err(e);
                }
            }
            changed += 1;
        }
        Ok(changed)
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the file with `digest` is (or would be).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root.join(digest.to_hex())
    }

    /// The size of the file with `digest`, if it is here.
    pub fn size(&self, digest: &Digest) -> Option<u64> {
        let stored = fs::metadata(self.path(digest)).ok().filter(|m| m.is_file())?.len();
        match self.key {
            Some(_) => sealed::plain_len(stored),
            None => Some(stored),
        }
    }

    /// Stores `bytes`; returns their digest. Storing bytes already here costs a hash.
    pub fn put(&self, bytes: &[u8]) -> Result<Digest, MediaError> {
        let digest = Digest::of(bytes);
        if self.size(&digest) == Some(bytes.len() as u64) {
            return Ok(digest);
        }
        let (mut file, temporary) = self.temporary()?;
        let written = match &self.key {
            Some(key) => sealed::seal(key, &mut &bytes[..], &mut file).map(|_| ()),
            None => file.write_all(bytes),
        };
        self.settle(written.map_err(MediaError::io("write", &temporary)).map(|()| file), &temporary, &digest)?;
        Ok(digest)
    }

    /// Copies the file at `source` in, reading at most `limit` bytes (a larger file is
    /// refused as [`MediaError::TooLarge`] and nothing is kept); returns its digest and size.
    pub fn put_file(&self, source: &Path, limit: u64) -> Result<(Digest, u64), MediaError> {
        let input = File::open(source).map_err(MediaError::io("read", source))?;
        let (mut file, temporary) = self.temporary()?;
        let mut limited = input.take(limit.saturating_add(1));
        let copied = match &self.key {
            Some(key) => sealed::seal(key, &mut limited, &mut file),
            None => copy_hashing(&mut limited, &mut file),
        }
        .map_err(MediaError::io("copy", source));
        let (digest, size) = match copied {
            Ok(done) if done.1 <= limit => done,
            Ok((_, size)) => {
                let _ = fs::remove_file(&temporary);
                return Err(MediaError::TooLarge { size, limit });
            }
            Err(e) => {
                let _ = fs::remove_file(&temporary);
                return Err(e);
            }
        };
        self.settle(Ok(file), &temporary, &digest)?;
        Ok((digest, size))
    }

    /// Up to `max` bytes of the file with `digest`, from `offset`.
    pub fn read_at(&self, digest: &Digest, offset: u64, max: usize) -> Result<Vec<u8>, MediaError> {
        let path = self.path(digest);
        let mut file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => MediaError::Missing(*digest),
            _ => MediaError::Io { action: "read", path: path.clone(), source: e },
        })?;
        if let Some(key) = &self.key {
            return sealed::open_range(key, &mut file, offset, max);
        }
        file.seek(SeekFrom::Start(offset)).map_err(MediaError::io("read", &path))?;
        let mut out = Vec::with_capacity(max.min(1 << 20));
        file.take(max as u64).read_to_end(&mut out).map_err(MediaError::io("read", &path))?;
        Ok(out)
    }

    /// How many bytes of the file with `digest` have been received in pieces so far.
    pub fn part_len(&self, digest: &Digest) -> u64 {
        fs::metadata(self.part_path(digest)).map_or(0, |m| m.len())
    }

    /// Appends `bytes` at `offset` to the file with `digest` being received, synced before
    /// it returns the new length (what the sender is told it may resume from). An `offset`
    /// other than the length received so far changes nothing and returns
    /// `Err(length)`: the sender resumes from there. One writer per digest at a time.
    pub fn append_part(&self, digest: &Digest, offset: u64, bytes: &[u8]) -> Result<Result<u64, u64>, MediaError> {
        let path = self.part_path(digest);
        let mut file = File::options().create(true).append(true).open(&path).map_err(MediaError::io("open", &path))?;
        let length = file.metadata().map_err(MediaError::io("read", &path))?.len();
        if length != offset {
            return Ok(Err(length));
        }
        if length == 0 {
            sync_dir(&self.root)?;
        }
        file.write_all(bytes).map_err(MediaError::io("write", &path))?;
        file.sync_data().map_err(MediaError::io("sync", &path))?;
        Ok(Ok(length + bytes.len() as u64))
    }

    /// Turns the received pieces of `digest` into its file, once their bytes hash to it;
    /// pieces that do not are removed (the sender starts again) and refused as
    /// [`MediaError::Corrupt`]. Never leaves a file under a digest its bytes do not have.
    pub fn complete_part(&self, digest: &Digest) -> Result<u64, MediaError> {
        let part = self.part_path(digest);
        let mut file = File::open(&part).map_err(MediaError::io("read", &part))?;
        let (got, size) = copy_hashing(&mut file, &mut io::sink()).map_err(MediaError::io("read", &part))?;
        drop(file);
        if got != *digest {
            let _ = fs::remove_file(&part);
            return Err(MediaError::Corrupt { expected: *digest, got });
        }
        if let Some(key) = &self.key {
            // Pieces arrive in the clear (a download in progress); the file is sealed whole.
            let mut plain = File::open(&part).map_err(MediaError::io("read", &part))?;
            let (mut out, temporary) = self.temporary()?;
            // Hashed again as it is sealed: what is sealed is what was checked.
            let sealed = match sealed::seal(key, &mut plain, &mut out) {
                Ok((again, _)) if again == *digest => Ok(out),
                Ok((again, _)) => Err(MediaError::Corrupt { expected: *digest, got: again }),
                Err(e) => Err(MediaError::Io { action: "seal", path: part.clone(), source: e }),
            };
            self.settle(sealed, &temporary, digest)?;
            let _ = fs::remove_file(&part);
            return Ok(size);
        }
        let path = self.path(digest);
        fs::rename(&part, &path).map_err(MediaError::io("rename into", &path))?;
        sync_dir(&self.root)?;
        Ok(size)
    }

    /// Drops what was received of `digest` so far.
    pub fn remove_part(&self, digest: &Digest) -> Result<(), MediaError> {
        let path = self.part_path(digest);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(MediaError::Io { action: "remove", path, source: e }),
            _ => Ok(()),
        }
    }

    fn part_path(&self, digest: &Digest) -> PathBuf {
        self.root.join(format!("{}{PART}", digest.to_hex()))
    }

    /// Removes the file with `digest`, if it is here.
    pub fn remove(&self, digest: &Digest) -> Result<(), MediaError> {
        let path = self.path(digest);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(MediaError::Io { action: "remove", path, source: e }),
            _ => Ok(()),
        }
    }

    /// Every file here and every piece being received, with when each was last written:
    /// what a collector of unreferenced files looks at.
    pub fn entries(&self) -> Result<Vec<BlobEntry>, MediaError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(MediaError::io("list", &self.root))? {
            let entry = entry.map_err(MediaError::io("list", &self.root))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let (digest, complete) = match name.strip_suffix(PART) {
                Some(stem) => (stem, false),
                None => (name, true),
            };
            let Some(digest) = own_name(digest) else { continue };
            let metadata = entry.metadata().map_err(MediaError::io("read", entry.path()))?;
            let modified = metadata.modified().map_err(MediaError::io("read", entry.path()))?;
            let size = match (&self.key, complete) {
                (Some(_), true) => sealed::plain_len(metadata.len()).unwrap_or(0),
                _ => metadata.len(),
            };
            out.push(BlobEntry { digest, complete, size, modified });
        }
        out.sort_by_key(|e| (e.digest, e.complete));
        Ok(out)
    }

    /// The digests of every file here.
    pub fn digests(&self) -> Result<Vec<Digest>, MediaError> {
        digests_in(&self.root)
    }

    fn temporary(&self) -> Result<(File, PathBuf), MediaError> {
        let path = self.root.join(format!("{TEMPORARY}{}", uuid::Uuid::new_v4()));
        let file = File::options().write(true).create_new(true).open(&path).map_err(MediaError::io("create", &path))?;
        Ok((file, path))
    }

    /// Syncs a written temporary file and renames it to `digest`, then syncs the folder so
    /// the rename survives a power cut; on any failure the temporary file goes.
    fn settle(&self, written: Result<File, MediaError>, temporary: &Path, digest: &Digest) -> Result<(), MediaError> {
        let settled = written.and_then(|file| {
            file.sync_all().map_err(MediaError::io("sync", temporary))?;
            drop(file);
            let path = self.path(digest);
            fs::rename(temporary, &path).map_err(MediaError::io("rename into", &path))?;
            sync_dir(&self.root)
        });
        if settled.is_err() {
            let _ = fs::remove_file(temporary);
        }
        settled
    }
}

/// The digests of the files in the folder at `root` (none if there is no such folder),
/// without opening it as a [`BlobDir`]: what a backup of a data directory reads.
pub fn digests_in(root: &Path) -> Result<Vec<Digest>, MediaError> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(MediaError::Io { action: "list", path: root.to_owned(), source: e }),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(MediaError::io("list", root))?;
        if let Some(digest) = entry.file_name().to_str().and_then(own_name) {
            out.push(digest);
        }
    }
    out.sort();
    Ok(out)
}

/// The digest a file of this folder is named for: its name exactly as [`BlobDir::path`]
/// writes it (lower-case), so each file has one name.
fn own_name(name: &str) -> Option<Digest> {
    name.parse::<Digest>().ok().filter(|digest| digest.to_hex() == name)
}

/// Copies `from` into `to`, hashing as it goes; returns the digest and the byte count.
pub fn copy_hashing(from: &mut dyn Read, to: &mut dyn Write) -> io::Result<(Digest, u64)> {
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 64 << 10];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buffer[..n]);
        to.write_all(&buffer[..n])?;
        total += n as u64;
    }
    Ok((Digest(hasher.finalize().into()), total))
}

/// Syncs a folder, so that a rename into it survives a power cut (a no-op where folders
/// cannot be opened, as on Windows).
pub fn sync_dir(dir: &Path) -> Result<(), MediaError> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(MediaError::io("sync", dir))?;
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_by_their_digest_and_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path().join("store.db.media")).unwrap();
        let digest = blobs.put(b"photo").unwrap();
        assert_eq!(digest, Digest::of(b"photo"));
        assert_eq!(blobs.put(b"photo").unwrap(), digest);
        assert_eq!(blobs.digests().unwrap(), vec![digest]);
        assert_eq!(blobs.read_at(&digest, 2, 10).unwrap(), b"oto");
        blobs.remove(&digest).unwrap();
        assert!(matches!(blobs.read_at(&digest, 0, 1), Err(MediaError::Missing(_))));
    }

    #[test]
    fn a_sealed_folder_speaks_of_plaintext_and_holds_none() {
        let dir = tempfile::tempdir().unwrap();
        let key = FileKey::generate().unwrap();
        let blobs = BlobDir::open_sealed(dir.path().join("media"), Some(key.clone())).unwrap();
        let photo: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
        let digest = blobs.put(&photo).unwrap();
        assert_eq!(digest, Digest::of(&photo));
        assert_eq!(blobs.size(&digest), Some(photo.len() as u64));
        assert_eq!(blobs.read_at(&digest, 70_000, 100).unwrap(), &photo[70_000..70_100]);
        let on_disk = fs::read(blobs.path(&digest)).unwrap();
        assert!(!on_disk.windows(64).any(|w| w == &photo[1000..1064]), "plaintext on disk");
        // Pieces received are sealed when they complete.
        let other = Digest::of(&photo[..5000]);
        blobs.append_part(&other, 0, &photo[..5000]).unwrap().unwrap();
        assert_eq!(blobs.complete_part(&other).unwrap(), 5000);
        assert_eq!(blobs.read_at(&other, 0, 10_000).unwrap(), &photo[..5000]);
        // Opened back to plain, and sealed again: the same files.
        let plain = BlobDir::open(dir.path().join("media")).unwrap();
        assert_eq!(plain.convert(&key, false).unwrap(), 2);
        assert_eq!(fs::read(plain.path(&digest)).unwrap(), photo);
        assert_eq!(plain.convert(&key, false).unwrap(), 0);
        assert_eq!(blobs.convert(&key, true).unwrap(), 2);
        assert_eq!(blobs.read_at(&digest, 0, usize::MAX).unwrap(), photo);
    }

    #[test]
    fn a_sealed_folder_copies_files_in() {
        let dir = tempfile::tempdir().unwrap();
        let key = FileKey::generate().unwrap();
        let blobs = BlobDir::open_sealed(dir.path().join("media"), Some(key)).unwrap();
        let source = dir.path().join("consent.pdf");
        let bytes: Vec<u8> = (0..150_000u32).map(|i| (i % 13) as u8).collect();
        fs::write(&source, &bytes).unwrap();
        let (digest, size) = blobs.put_file(&source, 1 << 20).unwrap();
        assert_eq!((digest, size), (Digest::of(&bytes), 150_000));
        assert_eq!(blobs.size(&digest), Some(150_000));
    }

    #[test]
    fn a_file_over_the_limit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("clip.mp4");
        fs::write(&source, vec![7u8; 1000]).unwrap();
        let blobs = BlobDir::open(dir.path().join("media")).unwrap();
        assert!(matches!(blobs.put_file(&source, 999), Err(MediaError::TooLarge { size: 1000, limit: 999 })));
        assert_eq!(fs::read_dir(blobs.root()).unwrap().count(), 0);
        assert_eq!(blobs.put_file(&source, 1000).unwrap(), (Digest::of(&[7u8; 1000]), 1000));
    }

    #[test]
    fn pieces_resume_at_their_length_and_complete_only_when_whole() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path().join("media")).unwrap();
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let digest = Digest::of(&bytes);
        assert_eq!(blobs.append_part(&digest, 0, &bytes[..4000]).unwrap(), Ok(4000));
        // A sender that lost the answer sends the same piece again: told where to resume.
        assert_eq!(blobs.append_part(&digest, 0, &bytes[..4000]).unwrap(), Err(4000));
        assert_eq!(blobs.append_part(&digest, 5000, &bytes[5000..]).unwrap(), Err(4000));
        // The pieces survive the folder being opened again (a restart).
        let blobs = BlobDir::open(dir.path().join("media")).unwrap();
        assert_eq!(blobs.part_len(&digest), 4000);
        assert_eq!(blobs.append_part(&digest, 4000, &bytes[4000..]).unwrap(), Ok(10_000));
        assert_eq!(blobs.digests().unwrap(), vec![]);
        assert_eq!(blobs.complete_part(&digest).unwrap(), 10_000);
        assert_eq!(fs::read(blobs.path(&digest)).unwrap(), bytes);
        assert_eq!(blobs.part_len(&digest), 0);
    }

    #[test]
    fn pieces_that_do_not_hash_to_their_name_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path().join("media")).unwrap();
        let digest = Digest::of(b"the real photo");
        blobs.append_part(&digest, 0, b"something else").unwrap().unwrap();
        assert!(matches!(blobs.complete_part(&digest), Err(MediaError::Corrupt { .. })));
        assert_eq!(blobs.size(&digest), None);
        assert_eq!(blobs.part_len(&digest), 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 128,
            rng_seed: proptest::test_runner::RngSeed::Fixed(17),
            ..proptest::prelude::ProptestConfig::default()
        })]
        /// Whatever pieces a sender sends, however each is cut short and whatever stale
        /// offsets it repeats, resuming from what is held rebuilds the file exactly.
        #[test]
        fn any_cuts_and_repeats_rebuild_the_file(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..20_000),
            sends in proptest::collection::vec((1usize..6_000, 0usize..6_001, proptest::prelude::any::<bool>()), 1..40),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let blobs = BlobDir::open(dir.path().join("media")).unwrap();
            let digest = Digest::of(&bytes);
            let mut offset = 0usize;
            for (piece, arrived, stale) in sends {
                // A stale sender repeats an offset already passed: told where to resume.
                if stale && offset > 0 {
                    let told = blobs.append_part(&digest, 0, &bytes[..1]).unwrap();
                    proptest::prop_assert_eq!(told, Err(offset as u64));
                }
                let end = (offset + piece).min(bytes.len());
                let kept = (offset + arrived).min(end);
                if kept > offset {
                    blobs.append_part(&digest, offset as u64, &bytes[offset..kept]).unwrap().unwrap();
                }
                offset = blobs.part_len(&digest) as usize;
                if offset == bytes.len() {
                    break;
                }
            }
            if offset < bytes.len() {
                blobs.append_part(&digest, offset as u64, &bytes[offset..]).unwrap().unwrap();
            }
            proptest::prop_assert_eq!(blobs.complete_part(&digest).unwrap(), bytes.len() as u64);
            proptest::prop_assert_eq!(fs::read(blobs.path(&digest)).unwrap(), bytes);
        }
    }

    #[test]
    fn an_interrupted_write_is_swept_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("media");
        let blobs = BlobDir::open(&root).unwrap();
        let (file, temporary) = blobs.temporary().unwrap();
        assert!(temporary.exists());
        BlobDir::open(&root).unwrap();
        assert!(temporary.exists(), "a recent one may be another process's");
        file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200)).unwrap();
        BlobDir::open(&root).unwrap();
        assert!(!temporary.exists());
        assert_eq!(BlobDir::beside(Path::new("/data/terrain.db")), Path::new("/data/terrain.db.media"));
    }
}
