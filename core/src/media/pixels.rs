//! XLSForm's `max-pixels` for photos: an image whose longest side is over the question's
//! bound is downscaled on the device before it is stored, so a 12-megapixel photo costs
//! the 2G link what the form's author asked for, not what the camera made.
//!
//! JPEG and PNG (what phone cameras and signature pads write) are decoded, with the EXIF
//! orientation applied to the pixels: a downscaled photo is stored upright without its
//! EXIF, which is dropped with the camera's other metadata (its GPS position among them).
//! A photo within `max-pixels`, and other image formats, are kept byte for byte, EXIF
//! included. Decoding is bounded ([`limits`]): a hostile file's header
//! cannot make the device allocate gigabytes.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::MediaError;

/// The JPEG quality of a downscaled photo: indistinguishable from the camera's at the
/// sizes forms ask for, about a third of quality 100's bytes.
const JPEG_QUALITY: u8 = 85;

/// An image as it will be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    /// New bytes, when the image was downscaled; `None` keeps the file as it is.
    pub bytes: Option<Vec<u8>>,
    /// Width and height as the image is shown, when its format is one Terrain decodes.
    pub dimensions: Option<(u32, u32)>,
}

/// What decoding may cost: no side over 12,000 pixels, no more than 256 MiB allocated.
pub fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(12_000);
    limits.max_image_height = Some(12_000);
    limits.max_alloc = Some(256 << 20);
    limits
}

/// Fits the image in `bytes` within `max_pixels` on its longest side (ODK's meaning).
pub fn fit(bytes: &[u8], max_pixels: Option<u32>) -> Result<Fitted, MediaError> {
    let format = match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png)) => format,
        _ => return Ok(Fitted { bytes: None, dimensions: None }),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let (width, height) = shown(decoder.dimensions(), orientation);
    let longest = width.max(height);
    let Some(bound) = max_pixels.filter(|&bound| bound > 0 && longest > bound) else {
        return Ok(Fitted { bytes: None, dimensions: Some((width, height)) });
    };
    let mut image = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    image.apply_orientation(orientation);
    let scale = f64::from(bound) / f64::from(longest);
    let side = |n: u32| ((f64::from(n) * scale).round() as u32).clamp(1, bound);
    let image = image.resize_exact(side(width), side(height), FilterType::Triangle);
    let mut out = Vec::new();
    match format {
        ImageFormat::Jpeg => JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
            .encode_image(&DynamicImage::ImageRgb8(image.to_rgb8()))
            .map_err(image_error)?,
        _ => image.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).map_err(image_error)?,
    }
    Ok(Fitted { dimensions: Some((image.width(), image.height())), bytes: Some(out) })
}

/// A JPEG thumbnail of the image in `bytes`, upright, its longest side at most `side`;
/// `None` for a format Terrain does not decode (the page then shows a link).
pub fn thumbnail(bytes: &[u8], side: u32) -> Result<Option<Vec<u8>>, MediaError> {
    let format = match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png)) => format,
        _ => return Ok(None),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    image.apply_orientation(orientation);
    let small = image.thumbnail(side.max(1), side.max(1));
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, THUMBNAIL_QUALITY)
        .encode_image(&DynamicImage::ImageRgb8(small.to_rgb8()))
        .map_err(image_error)?;
    Ok(Some(out))
}

/// A thumbnail's JPEG quality: a list of photos, not their detail.
const THUMBNAIL_QUALITY: u8 = 75;

/// The size an image is shown at: a quarter turn swaps its sides.
fn shown((width, height): (u32, u32), orientation: Orientation) -> (u32, u32) {
    match orientation {
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH => {
            (height, width)
        }
        _ => (width, height),
    }
}

fn image_error(e: image::ImageError) -> MediaError {
    MediaError::Image(e.to_string())
}

#[cfg(test)]
mod tests {
    use image::{ImageEncoder, Rgb, RgbImage};

    use super::*;

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 90)
            .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    #[test]
    fn a_photo_over_max_pixels_is_downscaled_keeping_its_shape() {
        let photo = jpeg(1200, 800);
        let fitted = fit(&photo, Some(600)).unwrap();
        assert_eq!(fitted.dimensions, Some((600, 400)));
        let bytes = fitted.bytes.unwrap();
        assert!(bytes.len() < photo.len());
        assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 600);
    }

    #[test]
    fn a_photo_within_max_pixels_is_kept_as_it_is() {
        let photo = jpeg(300, 200);
        assert_eq!(fit(&photo, Some(600)).unwrap(), Fitted { bytes: None, dimensions: Some((300, 200)) });
        assert_eq!(fit(&photo, None).unwrap(), Fitted { bytes: None, dimensions: Some((300, 200)) });
    }

    #[test]
    fn an_unknown_format_is_kept_and_a_broken_one_refused() {
        assert_eq!(fit(b"GIF89a....", Some(10)).unwrap(), Fitted { bytes: None, dimensions: None });
        let mut broken = jpeg(64, 64);
        broken.truncate(40);
        assert!(matches!(fit(&broken, Some(10)), Err(MediaError::Image(_))));
    }

    #[test]
    fn thumbnails_are_small_upright_jpegs() {
        let thumb = thumbnail(&jpeg(1200, 600), 256).unwrap().unwrap();
        let image = image::load_from_memory(&thumb).unwrap();
        assert_eq!((image.width(), image.height()), (256, 128));
        assert_eq!(thumbnail(b"GIF89a....", 256).unwrap(), None);
    }

    #[test]
    fn a_huge_declared_size_is_refused_before_decoding() {
        // A PNG header that claims 100,000 × 100,000 pixels: refused by the limits, not allocated.
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&crc32(&png[12..]).to_be_bytes());
        assert!(matches!(fit(&png, Some(100)), Err(MediaError::Image(_))));
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
}
