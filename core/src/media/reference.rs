//! What a survey holds of an attached file: a [`MediaRef`], written as one Automerge
//! scalar so that two people attaching different photos to one question make a conflict,
//! never a reference stitched from both.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hex;

/// The SHA-256 of a file's bytes: its name in every blob store.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest(sha2::Sha256::digest(bytes).into())
    }

    /// The digest as 64 lower-case hexadecimal digits.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

/// Text that is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a SHA-256 digest: it must be 64 hexadecimal digits")]
pub struct NotADigest(pub String);

impl FromStr for Digest {
    type Err = NotADigest;

    fn from_str(s: &str) -> Result<Digest, NotADigest> {
        let mut bytes = [0u8; 32];
        hex::decode_into(s.as_bytes(), &mut bytes).ok_or_else(|| NotADigest(s.chars().take(80).collect()))?;
        Ok(Digest(bytes))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The longest original file name kept, in bytes (longer ones are cut at a character).
pub const MAX_NAME_BYTES: usize = 120;
/// The longest media type kept, in bytes.
pub const MAX_TYPE_BYTES: usize = 100;

/// An attached file, as its answer holds it: the bytes are elsewhere, under `digest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    /// The SHA-256 of the bytes.
    pub digest: Digest,
    /// Their length.
    pub size: u64,
    /// What they are (`image/jpeg`, `audio/mp4`…), read from the bytes where they say.
    pub media_type: String,
    /// The file's name on the device that attached it, for people to recognise it.
    pub file_name: String,
    /// Width and height in pixels, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<(u32, u32)>,
}

/// What starts the text of a reference in a document; the number is the encoding's version.
const PREFIX: &str = "terrain-media:1 ";

impl MediaRef {
    /// The reference as one scalar of a document:
    /// `terrain-media:1 <digest> <size> <type> <w>x<h>|- <name>`, the name last because it
    /// alone may hold spaces.
    pub fn encode(&self) -> String {
        let dimensions = match self.dimensions {
            Some((w, h)) => format!("{w}x{h}"),
            None => "-".to_owned(),
        };
        format!("{PREFIX}{} {} {} {dimensions} {}", self.digest, self.size, self.media_type, self.file_name)
    }

    /// Reads [`MediaRef::encode`]'s text back; `None` for any other text (an answer written
    /// by ODK or imported holds a bare file name).
    pub fn decode(text: &str) -> Option<MediaRef> {
        let mut fields = text.strip_prefix(PREFIX)?.splitn(5, ' ');
        let digest = fields.next()?.parse().ok()?;
        let size = fields.next()?.parse().ok()?;
        let media_type = fields.next()?;
        let dimensions = match fields.next()? {
            "-" => None,
            wh => {
                let (w, h) = wh.split_once('x')?;
                Some((w.parse().ok()?, h.parse().ok()?))
            }
        };
        let file_name = fields.next()?;
        (is_media_type(media_type) && is_file_name(file_name)).then(|| MediaRef {
            digest,
            size,
            media_type: media_type.to_owned(),
            file_name: file_name.to_owned(),
            dimensions,
        })
    }

    /// The file's name in exports and downloads, unique to its bytes and still readable:
    /// the digest's first 16 digits, then the original name (ODK's `media/` folder layout
    /// puts files side by side, and two phones both name photos `IMG_0001.jpg`).
    pub fn export_name(&self) -> String {
        format!("{}-{}", &self.digest.to_hex()[..16], self.file_name)
    }

    /// Where the relay serves the file, relative to its address: stable for as long as the
    /// bytes exist, whichever survey refers to them.
    pub fn api_path(&self) -> String {
        api_path(&self.digest)
    }

    /// The kind of file, the part of the media type before the `/` (`image`, `audio`…).
    pub fn kind(&self) -> &str {
        self.media_type.split('/').next().unwrap_or_default()
    }
}

/// Where the relay serves the file `digest` and takes its upload (`/api/v1/media/<hex>`).
pub fn api_path(digest: &Digest) -> String {
    format!("/api/v1/media/{digest}")
}

/// Whether `text` is a media type as references keep them: `type/subtype`, no spaces.
pub fn is_media_type(text: &str) -> bool {
    text.len() <= MAX_TYPE_BYTES
        && text.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"/+-.".contains(&b))
}

/// Whether `text` is a file name as references keep them (see [`file_name`]).
pub fn is_file_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_NAME_BYTES
        && text != "."
        && text != ".."
        && !text.chars().any(|c| c.is_control() || c == '/' || c == '\\')
}

/// The last part of `path` as a name a reference may keep: separators and control
/// characters go, and a long name is cut (keeping its extension). Empty names become
/// `file`.
pub fn file_name(path: &str) -> String {
    let last = path.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        return "file".to_owned();
    }
    if clean.len() <= MAX_NAME_BYTES {
        return clean.to_owned();
    }
    let extension = clean.rsplit_once('.').map(|(_, e)| e).filter(|e| e.len() <= 10).unwrap_or_default();
    let keep = MAX_NAME_BYTES - extension.len() - 1;
    let mut stem: String = String::new();
    for c in clean.chars() {
        if stem.len() + c.len_utf8() > keep {
            break;
        }
        stem.push(c);
    }
    if extension.is_empty() { stem } else { format!("{stem}.{extension}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo() -> MediaRef {
        MediaRef {
            digest: Digest::of(b"bank of the Nakmabe"),
            size: 123_456,
            media_type: "image/jpeg".into(),
            file_name: "berge nord 2026.jpg".into(),
            dimensions: Some((1600, 1200)),
        }
    }

    #[test]
    fn a_reference_reads_back_from_its_text() {
        let text = photo().encode();
        assert!(text.starts_with("terrain-media:1 "), "{text}");
        assert_eq!(MediaRef::decode(&text), Some(photo()));
        let audio = MediaRef { dimensions: None, media_type: "audio/mp4".into(), ..photo() };
        assert_eq!(MediaRef::decode(&audio.encode()), Some(audio));
    }

    #[test]
    fn other_text_is_not_a_reference() {
        let good = photo().encode();
        for bad in [
            "1700000000000.jpg".to_owned(),
            good.replace("terrain-media:1", "terrain-media:2"),
            good.replace("123456", "-1"),
            good.replace("image/jpeg", "imagejpeg"),
            good.replace("1600x1200", "1600*1200"),
            good.replace("berge nord 2026.jpg", "../etc/passwd"),
            good.replace("berge nord 2026.jpg", ""),
            good[..good.len() - 30].to_owned(),
        ] {
            assert_eq!(MediaRef::decode(&bad), None, "{bad}");
        }
    }

    #[test]
    fn digests_are_64_hex_digits() {
        let d = Digest::of(b"");
        assert_eq!(d.to_hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(d.to_hex().parse::<Digest>(), Ok(d));
        assert_eq!(d.to_hex().to_uppercase().parse::<Digest>(), Ok(d));
        for bad in ["", "e3b0", &format!("{}0", d), &d.to_hex().replace('e', "+")] {
            assert!(bad.parse::<Digest>().is_err(), "{bad}");
        }
    }

    #[test]
    fn names_keep_only_their_last_part() {
        assert_eq!(file_name("/storage/emulated/0/DCIM/IMG_0001.jpg"), "IMG_0001.jpg");
        assert_eq!(file_name("C:\\photos\\berge.png"), "berge.png");
        assert_eq!(file_name("../.."), "file");
        assert_eq!(file_name("a\u{0}b\n.jpg"), "ab.jpg");
        let long = format!("{}.jpeg", "é".repeat(200));
        let cut = file_name(&long);
        assert!(cut.len() <= MAX_NAME_BYTES && cut.ends_with(".jpeg") && is_file_name(&cut), "{cut}");
        assert_eq!(photo().export_name(), format!("{}-berge nord 2026.jpg", &photo().digest.to_hex()[..16]));
    }
}
