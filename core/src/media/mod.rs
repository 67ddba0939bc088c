//! Photos, audio, video and files attached to answers.
//!
//! A survey document holds only a [`MediaRef`] (digest, size, type, name, dimensions); the
//! bytes live beside the store in a content-addressed folder ([`BlobDir`]), so the same
//! photo is stored and sent once however many surveys hold it, and the answers sync
//! without waiting for it. What a question accepts ([`accept`]) and the `max-pixels`
//! downscale ([`pixels`]) are decided here, once for the device and the server.

pub mod blobs;
pub mod pixels;
pub mod reference;
pub mod sealed;

use std::path::PathBuf;

pub use blobs::{BlobDir, BlobEntry};
pub use reference::{Digest, MediaRef, NotADigest};
pub use sealed::FileKey;

use crate::form::QuestionType;

/// The largest file attached by default (ODK Central's default is 100 MB; a 2G link moves
/// about 5 MB an hour, so a larger file is a mistake more often than a need).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 50 << 20;

/// What went wrong with an attachment. Nothing was attached.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Reading or writing a file failed.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `write`…).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The file is larger than attachments may be.
    #[error(
        "the file is {size} bytes; attachments hold at most {limit} bytes: record a shorter clip or a smaller photo"
    )]
    TooLarge {
        /// The file's size (or as much as was read before stopping).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The question takes no file.
    #[error("question `{0}` does not take a file: only image, audio, video and file questions do")]
    NotAMediaQuestion(String),
    /// The file is not what the question asks for.
    #[error("question `{question}` takes {wanted}, but the file is {found}: attach the right file")]
    WrongKind {
        /// The question.
        question: String,
        /// What it takes (`an image`…).
        wanted: &'static str,
        /// What the file was read as.
        found: String,
    },
    /// An image could not be decoded for its `max-pixels`.
    #[error("the image could not be read ({0}): take the photo again")]
    Image(String),
    /// Bytes received under a digest are not the ones it names; they were not kept.
    #[error("the file received as {expected} has digest {got}: it was damaged on the way and was not kept; sync again")]
    Corrupt {
        /// The digest asked for.
        expected: Digest,
        /// The digest of what came.
        got: Digest,
    },
    /// An attached file of an encrypted store does not open with its key, or cannot be
    /// handed out as a plain file.
    #[error("{0}")]
    Sealed(String),
    /// No file with this digest is held here.
    #[error("no file {0} is held here: sync to fetch it")]
    Missing(Digest),
}

impl MediaError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> MediaError {
        let path = path.into();
        move |source| MediaError::Io { action, path, source }
    }
}

/// The media type of `head` (a file's first bytes), read from its signature: the type an
/// app declares is not trusted, since it decides what a question accepts.
pub fn sniff(head: &[u8]) -> &'static str {
    infer::get(head).map_or("application/octet-stream", |t| t.mime_type())
}

/// Checks that a file of `media_type` may answer `question` of type `kind`: an image
/// question takes an image, an audio question a sound (or a video container, as some
/// recorders write), a video question a video, a file question anything.
pub fn accept(question: &str, kind: &QuestionType, media_type: &str) -> Result<(), MediaError> {
    let top = media_type.split('/').next().unwrap_or_default();
    let (ok, wanted) = match kind {
        QuestionType::Image => (top == "image", "an image"),
        QuestionType::Audio => (top == "audio" || top == "video", "a sound recording"),
        QuestionType::Video => (top == "video", "a video"),
        QuestionType::File => (true, "a file"),
        _ => return Err(MediaError::NotAMediaQuestion(question.to_owned())),
    };
    if ok {
        Ok(())
    } else {
        Err(MediaError::WrongKind { question: question.to_owned(), wanted, found: describe(media_type) })
    }
}

fn describe(media_type: &str) -> String {
    match media_type {
        "application/octet-stream" => "of a kind Terrain does not recognise".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_take_their_own_kind_of_file() {
        assert!(accept("photo", &QuestionType::Image, "image/jpeg").is_ok());
        assert!(accept("note", &QuestionType::Audio, "audio/mpeg").is_ok());
        assert!(accept("note", &QuestionType::Audio, "video/mp4").is_ok());
        assert!(accept("doc", &QuestionType::File, "application/pdf").is_ok());
        let refused = accept("photo", &QuestionType::Image, "application/pdf").unwrap_err();
        assert!(refused.to_string().contains("takes an image, but the file is application/pdf"), "{refused}");
        assert!(matches!(accept("age", &QuestionType::Integer, "image/png"), Err(MediaError::NotAMediaQuestion(_))));
    }

    #[test]
    fn types_are_read_from_the_bytes() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F']), "image/jpeg");
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff(b"just some text"), "application/octet-stream");
    }
}
