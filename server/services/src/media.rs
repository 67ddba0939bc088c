//! Attached files: uploads in pieces from the devices that hold them, downloads for whoever
//! may read a survey that references them.
//!
//! A file is accepted only once a survey the device may read references it, so the
//! answers travel first and nothing arrives that no survey wants; each piece is bounded
//! ([`MediaLimits`](crate::MediaLimits)), appended where the store says it holds, and
//! counted against the device's minute. A file is served only whole and checked.

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::json;
use terrain_backend::{Appended, BlobState, DeviceKey};
use terrain_core::media::{self, Digest, pixels};

use crate::audit::Action;
use crate::{Error, Result, Scope, Services};

/// The surveys that reference a file read at a time, to find one the caller may read.
const REFERENCES_PAGE: u32 = 200;

/// The largest piece of a file one read returns: a ranged download's most, and what a
/// streamed download holds per piece (a few at a time).
pub const MAX_READ_BYTES: u64 = 1 << 20;

/// The longest side of a thumbnail, in pixels: two columns of them on a laptop's page.
pub const THUMBNAIL_SIDE: u32 = 320;

/// The largest file a thumbnail is made from (read whole to decode).
const MAX_THUMBNAIL_SOURCE: u64 = 32 << 20;

fn waiting(digest: &Digest) -> Error {
    Error::not_found(format!("file {digest} is still on the device that took it: it arrives when that device syncs"))
}

/// What a collection of unreferenced files did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Collected {
    /// Files and abandoned uploads removed (or that would be, on a dry run).
    pub removed: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files and uploads kept: referenced, or written within the grace period.
    pub kept: u64,
}

/// Bytes of a file, as a download asked for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaBytes {
    /// The bytes, from `offset`.
    pub bytes: Vec<u8>,
    /// Where they start.
    pub offset: u64,
    /// The file's whole size.
    pub size: u64,
}

impl Services {
    /// How many bytes of file `digest` (of `size` bytes) the server holds: where `scope`'s
    /// device resumes its upload, or `size` when there is nothing left to send.
    pub fn media_offset(&self, scope: &Scope, digest: &Digest, size: u64) -> Result<u64> {
        self.may_upload(scope, digest, size)?;
        Ok(match self.backend.blobs().state(digest, size)? {
            BlobState::Absent => 0,
            // Not this device's to drop: another, declaring the file's real size, may be
            // sending it.
            BlobState::Partial(held) if held > size => {
                return Err(Error::Invalid(format!(
                    "the server holds {held} bytes of this file, more than the {size} declared: the size is wrong"
                )));
            }
            BlobState::Partial(held) | BlobState::Complete(held) => held,
        })
    }

    /// Appends `bytes` at `offset` to the upload of file `digest` (of `size` bytes) and
    /// returns the offset now held. The piece that completes the file is checked against
    /// its digest (a mismatch drops the upload: `hash_mismatch`), and audited.
    pub fn media_append(&self, scope: &Scope, digest: &Digest, size: u64, offset: u64, bytes: &[u8]) -> Result<u64> {
        let (device, survey) = self.may_upload(scope, digest, size)?;
        let limits = &self.settings.media;
        let length = bytes.len() as u64;
        if length > limits.piece_bytes {
            return Err(Error::TooLarge(format!(
                "a piece of an upload holds at most {} bytes; this one has {length}",
                limits.piece_bytes
            )));
        }
        if offset.checked_add(length).is_none_or(|end| end > size) || length == 0 {
            return Err(Error::Invalid(format!(
                "{length} bytes at offset {offset} do not fit in a file of {size} bytes"
            )));
        }
        self.guards.media_bytes.spend(&device, length, Instant::now()).map_err(|wait| Error::TooMany {
            retry_after: wait,
            message: "this device has sent many files in the last minute: the upload resumes shortly".into(),
        })?;
        let now = chrono::Utc::now();
        let today = self.backend.add_media_bytes(&device, now.date_naive(), length)?;
        if today > limits.device_bytes_per_day {
            let tomorrow = (now.date_naive() + chrono::Days::new(1)).and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
            return Err(Error::TooMany {
                retry_after: (tomorrow - now).to_std().unwrap_or_default(),
                message: format!(
                    "this device has sent {} MB of files today, the most a day allows: the rest goes tomorrow",
                    limits.device_bytes_per_day >> 20
                ),
            });
        }
        match self.backend.blobs().append(digest, size, offset, bytes)? {
            Appended::At(held) | Appended::Held(held) => Ok(held),
            Appended::Complete(held) => {
                self.audit(
                    scope,
                    Action::MediaUpload,
                    Some(&survey),
                    json!({"sha256": digest.to_hex(), "size": held}),
                )?;
                Ok(held)
            }
            Appended::Elsewhere(held) => Err(Error::Conflict(format!(
                "the server holds {held} bytes of this file, not {offset}: resume from there"
            ))),
            Appended::Corrupt(got) => Err(Error::unprocessable(
                "hash_mismatch",
                format!("the bytes sent hash to {got}, not to {digest}: the upload was dropped; send the file again"),
            )),
        }
    }

    /// Up to `max` bytes of file `digest` from `offset`, for anyone who may read a survey
    /// that references it. A file no readable survey references is not found, whether or
    /// not it exists; one still on its device is not found either, saying so.
    pub fn media_read(&self, scope: &Scope, digest: &Digest, offset: u64, max: u64) -> Result<MediaBytes> {
        self.readable_reference(scope, digest)?;
        let (bytes, size) =
            self.backend.blobs().read(digest, offset, max.clamp(1, MAX_READ_BYTES))?.ok_or_else(|| {
                Error::not_found(format!(
                    "file {digest} is still on the device that took it: it arrives when that device syncs"
                ))
            })?;
        Ok(MediaBytes { bytes, offset, size })
    }

    /// A thumbnail of image `digest` (a JPEG, its longest side [`THUMBNAIL_SIDE`]), made
    /// once and kept; for whoever may read a survey that references it.
    pub fn media_thumbnail(&self, scope: &Scope, digest: &Digest) -> Result<Vec<u8>> {
        self.readable_reference(scope, digest)?;
        let name = format!("{digest}-{THUMBNAIL_SIDE}.jpg");
        let failed = format!("{digest}-{THUMBNAIL_SIDE}.failed");
        let blobs = self.backend.blobs();
        if let Some(kept) = blobs.derived(&name)? {
            return Ok(kept);
        }
        let none = || Error::not_found(format!("file {digest} is not a photo a thumbnail can be made of"));
        // A file that failed once is not decoded again: a hostile one costs one decode.
        if blobs.derived(&failed)?.is_some() {
            return Err(none());
        }
        let (bytes, size) = blobs.read(digest, 0, MAX_THUMBNAIL_SOURCE)?.ok_or_else(|| waiting(digest))?;
        if size > MAX_THUMBNAIL_SOURCE {
            return Err(Error::not_found(format!("file {digest} is too large to show a thumbnail of")));
        }
        let _slot = self.guards.thumbnails.acquire(std::time::Duration::from_secs(10)).ok_or_else(|| Error::Busy {
            retry_after: std::time::Duration::from_secs(5),
            message: "the server is making other thumbnails: this one comes shortly".into(),
        })?;
        match pixels::thumbnail(&bytes, THUMBNAIL_SIDE) {
            Ok(Some(thumbnail)) => {
                blobs.keep_derived(&name, &thumbnail)?;
                Ok(thumbnail)
            }
            Ok(None) | Err(_) => {
                blobs.keep_derived(&failed, b"")?;
                Err(none())
            }
        }
    }

    /// What file `digest` is (`image/jpeg`…), read from its first bytes, for whoever may
    /// read a survey that references it: what a page may show it as.
    pub fn media_type(&self, scope: &Scope, digest: &Digest) -> Result<&'static str> {
        self.readable_reference(scope, digest)?;
        let (head, _) = self.backend.blobs().read(digest, 0, 8192)?.ok_or_else(|| waiting(digest))?;
        Ok(media::sniff(&head))
    }

    /// Which of `digests` the server holds whole; the others are still on their devices.
    pub fn media_held(&self, digests: &[Digest]) -> Result<BTreeSet<Digest>> {
        let blobs = self.backend.blobs();
        let mut held = BTreeSet::new();
        for digest in digests {
            // No size is declared here: a partial upload is never dropped for it.
            if let BlobState::Complete(_) = blobs.state(digest, u64::MAX)? {
                held.insert(*digest);
            }
        }
        Ok(held)
    }

    /// The first of `held` whose bytes are a photo a thumbnail can be made of (JPEG, PNG).
    pub(crate) fn first_photo(&self, held: &BTreeSet<Digest>) -> Result<Option<Digest>> {
        for digest in held {
            if let Some((head, _)) = self.backend.blobs().read(digest, 0, 64)?
                && matches!(media::sniff(&head), "image/jpeg" | "image/png")
            {
                return Ok(Some(*digest));
            }
        }
        Ok(None)
    }

    /// Removes the files no survey references any more (replaced or removed photos,
    /// surveys deleted, uploads of files no answer kept) and uploads abandoned midway, once
    /// untouched for `grace`: a file uploaded before the answer that references it is
    /// synced is not lost. Administrators; audited. With `dry_run`, only counts.
    pub fn collect_media(&self, scope: &Scope, grace: std::time::Duration, dry_run: bool) -> Result<Collected> {
        scope.may_administer()?;
        let blobs = self.backend.blobs();
        let now = std::time::SystemTime::now();
        let mut collected = Collected::default();
        for entry in blobs.entries()? {
            let idle = now.duration_since(entry.modified).unwrap_or_default();
            let referenced = !self.backend.surveys_with_media(&entry.digest, "", 1)?.is_empty();
            if referenced || idle < grace {
                collected.kept += 1;
                continue;
            }
            collected.removed += 1;
            collected.bytes += entry.size;
            if !dry_run {
                blobs.remove(&entry.digest)?;
            }
        }
        if !dry_run {
            self.audit(
                scope,
                Action::MediaCollect,
                None,
                json!({"removed": collected.removed, "bytes": collected.bytes, "grace_s": grace.as_secs()}),
            )?;
        }
        Ok(collected)
    }

    /// Checks that `scope` is a device that may send file `digest` of `size` bytes; returns
    /// the device, and a survey of the device's that references the file.
    fn may_upload(&self, scope: &Scope, digest: &Digest, size: u64) -> Result<(DeviceKey, String)> {
        let device = scope
            .device()
            .ok_or_else(|| Error::forbidden("only a device uploads attached files: log in from the device"))?;
        let limit = self.settings.media.max_file_bytes;
        if size > limit {
            return Err(Error::TooLarge(format!(
                "the file is {size} bytes; the server takes files of at most {limit} bytes: attach a smaller one"
            )));
        }
        let survey = self.readable_reference(scope, digest)?;
        Ok((device, survey))
    }

    /// A survey that references file `digest` and that `scope` may read, looked for a page
    /// of surveys at a time (a file shared by many surveys, a consent form say, is found in
    /// whichever the caller may read).
    fn readable_reference(&self, scope: &Scope, digest: &Digest) -> Result<String> {
        let mut after = String::new();
        loop {
            let surveys = self.backend.surveys_with_media(digest, &after, REFERENCES_PAGE)?;
            if let Some(id) = surveys.iter().find(|id| self.open_survey(scope, id).is_ok()) {
                return Ok(id.clone());
            }
            match surveys.last() {
                Some(last) if surveys.len() == REFERENCES_PAGE as usize => after = last.clone(),
                _ => {
                    return Err(Error::not_found(format!(
                        "no survey you may read references file {digest}: sync the survey's answers first"
                    )));
                }
            }
        }
    }
}
