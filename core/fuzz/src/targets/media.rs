//! Attached files, `terrain_core::media`: the relay makes thumbnails of files devices
//! upload, a phone downscales what it attaches, and every store reads answers' references.
//! Properties: decoding never panics and stays within `pixels::limits` (the worker's
//! address-space cap makes a breach a crash); refusals are `MediaError::Image`; a thumbnail
//! made is a JPEG within its side; a downscaled image is within `max-pixels`; a reference
//! that decodes encodes back to the same text.

use terrain_core::media::{MediaError, MediaRef, pixels};

use crate::{Finding, Outcome};

const SIDE: u32 = 320;
const MAX_PIXELS: u32 = 1280;

/// Runs one input: as an image, and as an answer's text.
pub fn run(input: &[u8]) -> Result<Outcome, Finding> {
    if let Ok(text) = std::str::from_utf8(input)
        && text.starts_with("terrain-media:")
    {
        return Ok(match MediaRef::decode(text) {
            Some(reference) if reference.encode() != text => {
                return Err(Finding::violation("a reference decodes but does not encode back to its text"));
            }
            Some(_) => Outcome::Accepted,
            None => Outcome::Refused("not a reference".to_owned()),
        });
    }
    let thumbnail = match pixels::thumbnail(input, SIDE) {
        Ok(Some(jpeg)) => jpeg,
        Ok(None) => return Ok(Outcome::Refused("not a JPEG or PNG".to_owned())),
        Err(MediaError::Image(_)) => return Ok(Outcome::Refused("undecodable".to_owned())),
        Err(other) => return Err(Finding::violation(format!("an image is refused as {other}"))),
    };
    match image::load_from_memory(&thumbnail) {
        Ok(small) if small.width().max(small.height()) <= SIDE => {}
        Ok(small) => return Err(Finding::violation(format!("a thumbnail of {}×{}", small.width(), small.height()))),
        Err(e) => return Err(Finding::violation(format!("a thumbnail does not decode: {e}"))),
    }
    match pixels::fit(input, Some(MAX_PIXELS)) {
        Ok(fitted) => {
            if let Some((w, h)) = fitted.dimensions
                && fitted.bytes.is_some()
                && w.max(h) > MAX_PIXELS
            {
                return Err(Finding::violation(format!("downscaled to {w}×{h}, over max-pixels")));
            }
        }
        Err(MediaError::Image(_)) => {}
        Err(other) => return Err(Finding::violation(format!("an image is refused as {other}"))),
    }
    Ok(Outcome::Accepted)
}
