//! Files attached to answers on a device: copied into the folder beside the store
//! ([`BlobDir`]) before the answer that references them is written, listed for upload
//! once the answers are synced, and received from the server when a survey is opened.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, documents, now_ms, writes};
use crate::media::{self, BlobDir, Digest, FileKey, MediaError, MediaRef, pixels, reference};
use crate::survey::AnswerPath;
use crate::value::Value;

/// A file the server does not have yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMedia {
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
}

/// The most of a file's head read to tell its type.
const HEAD_BYTES: u64 = 8 << 10;

impl Store {
    /// The folder this store keeps attached files in (created on first use). In an
    /// encrypted store its files are sealed under a key kept in the store's database
    /// ([`crate::media::sealed`]).
    pub fn blobs(&self) -> Result<&BlobDir, StoreError> {
        if let Some(blobs) = self.blobs.get() {
            return Ok(blobs);
        }
        // Under the writer's lock: the key is made once, and files are sealed or opened
        // by one thread.
        let mut writer = self.lock_writer();
        if let Some(blobs) = self.blobs.get() {
            return Ok(blobs);
        }
        let root = BlobDir::beside(&self.path);
        // Synced: a key lost in a power cut would leave files sealed under nothing.
        let keyed = self.keyed;
        let key = writer.synced(|writer| media_key(&writer.conn, &root, keyed))?;
        let blobs = BlobDir::open_sealed(root, key)?;
        drop(writer);
        Ok(self.blobs.get_or_init(|| blobs))
    }

    /// The key the files of the folder at `root` are sealed under, for a store encrypted
    /// like this one; `None` for a plain store. A server keeps its files in a folder of its
    /// own and seals them with its survey store's key, as a phone does with
    /// [`Store::blobs`]: the folder's files are sealed (or opened) to match the store first.
    pub fn file_key_for(&self, root: &Path) -> Result<Option<FileKey>, StoreError> {
        let mut writer = self.lock_writer();
        let keyed = self.keyed;
        writer.synced(|writer| media_key(&writer.conn, root, keyed))
    }

    /// The bytes of the attached file `digest` (opened, in an encrypted store): how an app
    /// shows a photo without its bytes ever lying in the clear on the phone.
    pub fn read_media(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let blobs = self.blobs()?;
        let size = blobs.size(digest).ok_or(MediaError::Missing(*digest))?;
        Ok(blobs.read_at(digest, 0, usize::try_from(size).unwrap_or(usize::MAX))?)
    }

    /// Attaches the file at `file` (which the app has written: a photo, a recording) as the
    /// answer to the media question at `path`, and returns the reference now in the survey.
    ///
    /// The file's type is read from its bytes and must suit the question (an image question
    /// takes an image); a photo larger than the question's `max-pixels` is downscaled. The
    /// bytes are copied into the store's folder and synced before the answer is written, so
    /// a crash at any point leaves the old answer or the new one, never an answer whose file
    /// is missing. Attaching again replaces the answer; [`Store::clear_answer`] removes it.
    pub fn attach_media(&self, survey_id: &str, path: &AnswerPath, file: &Path) -> Result<MediaRef, StoreError> {
        let question = self.readers.with(|conn| {
            let row =
                documents::row(conn, survey_id)?.ok_or_else(|| StoreError::UnknownSurvey(survey_id.to_owned()))?;
            let form = self.forms.get(conn, &row.form_id, &row.form_version)?;
            form.index()
                .question(&path.name)
                .cloned()
                .ok_or_else(|| StoreError::Media(MediaError::NotAMediaQuestion(path.name.clone())))
        })?;
        let mut head = Vec::new();
        File::open(file)
            .and_then(|f| f.take(HEAD_BYTES).read_to_end(&mut head))
            .map_err(MediaError::io("read", file))?;
        let media_type = media::sniff(&head);
        media::accept(&question.name, &question.kind, media_type)?;
        let max_pixels = question.parameters.get("max-pixels").and_then(|v| v.trim().parse().ok());
        let blobs = self.blobs()?;
        let limit = media::DEFAULT_MAX_FILE_BYTES;
        let (digest, size, dimensions) = if matches!(media_type, "image/jpeg" | "image/png") {
            let mut bytes = Vec::new();
            File::open(file)
                .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
                .map_err(MediaError::io("read", file))?;
            if bytes.len() as u64 > limit {
                return Err(MediaError::TooLarge { size: bytes.len() as u64, limit }.into());
            }
            let fitted = pixels::fit(&bytes, max_pixels)?;
            let bytes = fitted.bytes.unwrap_or(bytes);
            (blobs.put(&bytes)?, bytes.len() as u64, fitted.dimensions)
        } else {
            let (digest, size) = blobs.put_file(file, limit)?;
            (digest, size, None)
        };
        let reference = MediaRef {
            digest,
            size,
            media_type: media_type.to_owned(),
            file_name: reference::file_name(&file.to_string_lossy()),
            dimensions,
        };
        let value = Value::Media(reference.clone());
        self.transaction(|tx, ctx| {
            // Under the writer's lock, as `forget_attachment` removes files: the file is
            // checked here, where no removal can come between the check and the answer.
            if blobs.size(&digest) != Some(size) {
                return Err(MediaError::Missing(digest).into());
            }
            tx.prepare_cached(
                "INSERT INTO media_blobs (digest, size, media_type, added_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (digest) DO NOTHING",
            )?
            .execute(params![&digest.0[..], size as i64, media_type, now_ms()])?;
            tx.prepare_cached("INSERT OR IGNORE INTO media_attachments (digest, survey_id) VALUES (?1, ?2)")?
                .execute(params![&digest.0[..], survey_id])?;
            writes::edit(tx, ctx, survey_id, &writes::Origin::Local, Some(path), |doc, form| {
                doc.set_answer(form, path, value)
            })
        })?;
        Ok(reference)
    }

    /// Where the file with `digest` is on this device, for a plain store (an encrypted
    /// store's files are sealed: [`Store::read_media`]); [`MediaError::Missing`] when it is
    /// not here (attached on another device and not downloaded yet).
    pub fn media_file(&self, digest: &Digest) -> Result<PathBuf, StoreError> {
        let blobs = self.blobs()?;
        if blobs.is_sealed() {
            return Err(MediaError::Sealed(
                "this store's attached files are encrypted: read them with read_media, which never writes them out \
                 in the clear"
                    .into(),
            )
            .into());
        }
        match blobs.size(digest) {
            Some(_) => Ok(blobs.path(digest)),
            None => Err(MediaError::Missing(*digest).into()),
        }
    }

    /// The files attached here that the server does not have yet, smallest first (so a
    /// short window of signal sends the most of them). A file that no survey it was
    /// attached to still references (replaced or removed before it was sent) is forgotten
    /// here and its bytes removed, rather than sent.
    pub fn pending_media(&self) -> Result<Vec<PendingMedia>, StoreError> {
        let candidates: Vec<(Vec<u8>, i64, String, String)> = self.readers.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT b.digest, b.size, b.media_type, a.survey_id FROM media_blobs b
                 JOIN media_attachments a ON a.digest = b.digest
                 WHERE b.uploaded_at IS NULL ORDER BY b.size, b.digest",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        let mut pending: Vec<PendingMedia> = Vec::new();
        let mut dropped: Vec<(Digest, String)> = Vec::new();
        for (digest, size, media_type, survey_id) in candidates {
            let Some(digest) = digest.try_into().ok().map(Digest) else { continue };
            if pending.last().is_some_and(|p| p.digest == digest) {
                continue;
            }
            let references = self.references(&survey_id, &digest)?;
            if references {
                dropped.retain(|(d, _)| *d != digest);
                pending.push(PendingMedia { digest, size: size.max(0) as u64, media_type });
            } else {
                dropped.push((digest, survey_id));
            }
        }
        for (digest, survey_id) in dropped {
            if pending.iter().any(|p| p.digest == digest) {
                continue;
            }
            self.forget_attachment(&digest, &survey_id)?;
        }
        Ok(pending)
    }

    /// The surveys whose answers reference the file `digest` (kept by stores that
    /// keep projections: the relay), in id order after `after`, at most `limit`.
    pub fn surveys_with_media(&self, digest: &Digest, after: &str, limit: u32) -> Result<Vec<String>, StoreError> {
        self.readers.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT survey_id FROM survey_media WHERE digest = ?1 AND survey_id > ?2 ORDER BY survey_id LIMIT ?3",
            )?;
            let ids = stmt.query_map(params![&digest.0[..], after, limit], |r| r.get(0))?;
            Ok(ids.collect::<Result<_, _>>()?)
        })
    }

    /// The files each of `survey_ids`' answers reference (the relay's index, as
    /// [`Store::surveys_with_media`]); surveys with none are left out.
    pub fn media_of(&self, survey_ids: &[String]) -> Result<HashMap<String, Vec<Digest>>, StoreError> {
        self.readers.with(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT digest FROM survey_media WHERE survey_id = ?1 ORDER BY digest")?;
            let mut out = HashMap::new();
            for id in survey_ids {
                let digests: Vec<Vec<u8>> = stmt.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
                let digests: Vec<Digest> = digests.into_iter().filter_map(|d| d.try_into().ok().map(Digest)).collect();
                if !digests.is_empty() {
                    out.insert(id.clone(), digests);
                }
            }
            Ok(out)
        })
    }

    /// Records that the server now holds the file with `digest`.
    pub fn mark_media_uploaded(&self, digest: &Digest) -> Result<(), StoreError> {
        self.lock_writer().conn.execute(
            "UPDATE media_blobs SET uploaded_at = ?2 WHERE digest = ?1 AND uploaded_at IS NULL",
            params![&digest.0[..], now_ms()],
        )?;
        Ok(())
    }

    /// Records a file received whole from the server into [`Store::blobs`] (for a survey
    /// attached on another device), typed from its own bytes, and returns where it is.
    pub fn record_received_media(&self, digest: &Digest) -> Result<PathBuf, StoreError> {
        let blobs = self.blobs()?;
        let size = blobs.size(digest).ok_or(MediaError::Missing(*digest))?;
        let head = blobs.read_at(digest, 0, 64)?;
        let now = now_ms();
        self.lock_writer().conn.execute(
            "INSERT INTO media_blobs (digest, size, media_type, added_at, uploaded_at) VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (digest) DO NOTHING",
            params![&digest.0[..], size as i64, media::sniff(&head), now],
        )?;
        Ok(blobs.path(digest))
    }

    /// Held while a file is downloaded: one at a time on a device.
    pub(crate) fn downloading(&self) -> std::sync::MutexGuard<'_, ()> {
        self.downloading.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `survey_id` still holds the file `digest`: as an answer, or as a value that
    /// lost a conflict (it stays the survey's until a person settles it). One load of the
    /// survey for both.
    fn references(&self, survey_id: &str, digest: &Digest) -> Result<bool, StoreError> {
        let held = self.read(survey_id, |doc, form| {
            Ok(doc.answers(form)?.media().iter().any(|m| m.digest == *digest)
                || doc.contested_media(form)?.contains(digest))
        });
        match held {
            Err(StoreError::UnknownSurvey(_)) => Ok(false),
            other => other,
        }
    }

    /// Forgets that `digest` was attached to `survey_id`; a file left attached to no
    /// survey goes, row and bytes.
    fn forget_attachment(&self, digest: &Digest, survey_id: &str) -> Result<(), StoreError> {
        let blobs = self.blobs()?;
        let writer = self.lock_writer();
        // Asked again under the writer's lock: an attachment of the same file committed
        // since the caller looked is seen here, and one that comes after finds its file
        // gone and fails (`attach_media` checks for it in its transaction).
        if self.references(survey_id, digest)? {
            return Ok(());
        }
        writer.conn.execute(
            "DELETE FROM media_attachments WHERE digest = ?1 AND survey_id = ?2",
            params![&digest.0[..], survey_id],
        )?;
        let left: Option<i64> = writer
            .conn
            .query_row("SELECT 1 FROM media_attachments WHERE digest = ?1", [&digest.0[..]], |r| r.get(0))
            .optional()?;
        if left.is_none() {
            writer.conn.execute("DELETE FROM media_blobs WHERE digest = ?1", [&digest.0[..]])?;
            // Still under the writer's lock: an attachment of the same bytes in progress
            // checks for its file there (`attach_media`) and is refused, not left dangling.
            blobs.remove(digest)?;
        }
        Ok(())
    }
}

/// The settings keys of the media key, and of the mark that every file is sealed under it.
const MEDIA_KEY: &str = "media_key";
const MEDIA_SEALED: &str = "media_sealed";

/// The key this store's attached files are sealed under, if it is encrypted. An encrypted
/// store gets one the first time it needs it, and seals the files it held in the clear (a
/// plain store encrypted with `Store::change_key`); a store decrypted the same way opens
/// its files and forgets the key. The key is committed before any file is sealed, and the
/// mark after the last one is: a crash in between is finished at the next open.
fn media_key(conn: &rusqlite::Connection, root: &Path, keyed: bool) -> Result<Option<FileKey>, StoreError> {
    let setting = |key: &str| -> Result<Option<String>, StoreError> {
        Ok(conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    };
    let set = |key: &str, value: &str| -> Result<(), StoreError> {
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    };
    let stored = match setting(MEDIA_KEY)? {
        Some(text) => {
            let mut bytes = [0u8; 32];
            crate::hex::decode_into(text.trim().as_bytes(), &mut bytes)
                .ok_or_else(|| StoreError::Unsupported("the store's media key is damaged".into()))?;
            FileKey::from_bytes(&bytes)
        }
        None => None,
    };
    let sealed_all = setting(MEDIA_SEALED)?.is_some();
    match (keyed, stored) {
        (true, Some(key)) if sealed_all => Ok(Some(key)),
        (true, stored) => {
            let key = match stored {
                Some(key) => key,
                None => {
                    let key = FileKey::generate()?;
                    set(MEDIA_KEY, &crate::hex::encode(key.as_bytes()))?;
                    key
                }
            };
            BlobDir::open(root)?.convert(&key, true)?;
            set(MEDIA_SEALED, "1")?;
            Ok(Some(key))
        }
        (false, Some(key)) => {
            BlobDir::open(root)?.convert(&key, false)?;
            conn.execute("DELETE FROM settings WHERE key IN (?1, ?2)", params![MEDIA_KEY, MEDIA_SEALED])?;
            Ok(None)
        }
        (false, None) => Ok(None),
    }
}
