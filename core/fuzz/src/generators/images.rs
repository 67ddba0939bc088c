//! Hostile attached files: what a relay makes thumbnails of and a phone downscales. Real
//! JPEGs and PNGs are made first, then attacked where a decoder trusts them: the declared
//! width and height (a header claiming 100,000 × 100,000 pixels over a few bytes of data),
//! chunk and segment lengths, a compressed stream that inflates far beyond the image, an
//! EXIF orientation out of range, the file cut short; and answers' text that claims to be
//! an attachment's reference.

use std::io::Cursor;

use image::{ImageEncoder, Rgb, RgbImage};

use crate::dice::Dice;

attacks! {
    "One way of making an attached file hostile.";
    /// A real JPEG or PNG, small.
    Valid => "valid";
    /// A PNG header declaring enormous dimensions over tiny data.
    DeclaredHuge => "declared-huge";
    /// A PNG whose image data inflates far past what its size declares.
    InflateBomb => "inflate-bomb";
    /// A JPEG with a segment length or a dimension that lies.
    SegmentLie => "segment-lie";
    /// A JPEG carrying an EXIF block with an orientation out of range or cut short.
    BadExif => "bad-exif";
    /// A real image cut short, or with bytes flipped.
    Damaged => "damaged";
    /// Text claiming to be an answer's reference: `terrain-media:1 …` with lying fields.
    Reference => "reference";
}

/// An input of a random attack.
pub fn generate(dice: &mut Dice) -> Vec<u8> {
    let attack = *dice.pick(Attack::ALL).unwrap_or(&Attack::Valid);
    generate_with(dice, attack)
}

/// An input made by one attack.
pub fn generate_with(dice: &mut Dice, attack: Attack) -> Vec<u8> {
    match attack {
        Attack::Valid => {
            if dice.percent(50) {
                jpeg(dice)
            } else {
                png(dice)
            }
        }
        Attack::DeclaredHuge => {
            let (w, h) = (dice.between(20_000, 4_000_000) as u32, dice.between(20_000, 4_000_000) as u32);
            let length = dice.below(64) + 1;
            png_with(w, h, &zlib(&dice.bytes(length)))
        }
        Attack::InflateBomb => {
            // Zeros compress a thousandfold: the declared image is small, the stream is not.
            let zeros = vec![0u8; (dice.between(4, 32) << 20) as usize];
            png_with(16, 16, &zlib(&zeros))
        }
        Attack::SegmentLie => {
            let mut bytes = jpeg(dice);
            // The SOF0 segment's height and width, or any segment's length, made to lie.
            if let Some(sof) = bytes.windows(2).position(|w| w == [0xFF, 0xC0]) {
                let at = sof + 5 + 2 * dice.below(2);
                if at + 1 < bytes.len() {
                    let lie = dice.edgy_u64() as u16;
                    bytes[at..at + 2].copy_from_slice(&lie.to_be_bytes());
                }
            }
            if dice.percent(50) {
                let marks: Vec<usize> = bytes
                    .windows(2)
                    .enumerate()
                    .filter(|(_, w)| w[0] == 0xFF && w[1] >= 0xC0)
                    .map(|(i, _)| i)
                    .collect();
                if let Some(&at) = dice.pick(&marks)
                    && at + 3 < bytes.len()
                {
                    bytes[at + 2..at + 4].copy_from_slice(&(dice.u64() as u16).to_be_bytes());
                }
            }
            bytes
        }
        Attack::BadExif => {
            let image = jpeg(dice);
            let orientation = dice.edgy_u64() as u16;
            let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
            exif.extend_from_slice(&orientation.to_be_bytes());
            exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            if dice.percent(40) {
                exif.truncate(dice.below(exif.len()));
            }
            // APP1 right after SOI, its length lying a third of the time.
            let length = if dice.percent(33) { dice.u64() as u16 } else { (exif.len() + 2) as u16 };
            let mut out = image[..2].to_vec();
            out.extend_from_slice(&[0xFF, 0xE1]);
            out.extend_from_slice(&length.to_be_bytes());
            out.extend_from_slice(&exif);
            out.extend_from_slice(&image[2..]);
            out
        }
        Attack::Damaged => {
            let mut bytes = if dice.percent(50) { jpeg(dice) } else { png(dice) };
            if dice.percent(50) {
                bytes.truncate(dice.below(bytes.len()).max(8));
            } else {
                for _ in 0..dice.between(1, 20) {
                    let at = dice.below(bytes.len());
                    bytes[at] ^= dice.u64() as u8 | 1;
                }
            }
            bytes
        }
        Attack::Reference => {
            let digest: String = dice.bytes(32).iter().map(|b| format!("{b:02x}")).collect();
            let fields = [
                digest,
                dice.edgy_i64().to_string(),
                ["image/jpeg", "", "a/", "/b", "image/jpeg;x", "x/y z"][dice.below(6)].to_owned(),
                ["1280x960", "-", "x", "4294967296x1", "1x"][dice.below(5)].to_owned(),
                ["photo.jpg", "", "../../etc/passwd", "a\nb", "é".repeat(200).as_str()][dice.below(5)].to_owned(),
            ];
            let keep = dice.below(fields.len() + 1);
            format!("terrain-media:1 {}", fields[..keep].join(" ")).into_bytes()
        }
    }
}

fn pixels(dice: &mut Dice) -> RgbImage {
    let (w, h) = (dice.between(1, 300) as u32, dice.between(1, 300) as u32);
    let seed = dice.u64();
    RgbImage::from_fn(w, h, |x, y| Rgb([(x as u64 ^ seed) as u8, (y as u64 ^ seed >> 8) as u8, (seed >> 16) as u8]))
}

fn jpeg(dice: &mut Dice) -> Vec<u8> {
    let image = pixels(dice);
    let mut out = Vec::new();
    let quality = dice.between(30, 95) as u8;
    let _ = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::Rgb8,
    );
    out
}

fn png(dice: &mut Dice) -> Vec<u8> {
    let image = pixels(dice);
    let mut out = Vec::new();
    let _ = image::DynamicImage::ImageRgb8(image).write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png);
    out
}

/// A PNG of `width` × `height` (8-bit RGB) whose image data is `idat`, with valid checksums.
fn png_with(width: u32, height: u32, idat: &[u8]) -> Vec<u8> {
    let mut header = width.to_be_bytes().to_vec();
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &header);
    chunk(&mut out, b"IDAT", idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut hasher = flate2::Crc::new();
    hasher.update(kind);
    hasher.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&hasher.sum().to_be_bytes());
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}
