//! Compression bombs: a few kilobytes that inflate to tens or hundreds of megabytes, built
//! once per process (compressing 256 MiB takes a moment; every input after the first reuses
//! the bytes) and streamed while built, so the inflated data never exists in memory.
//!
//! Sizes sit just past each budget they attack (the front door's 8 MiB write and 16 MiB load
//! budgets, the wire's and the XLSForm reader's 64 MiB) and far past them.

use std::sync::OnceLock;

use flate2::Compression;
use flate2::write::DeflateEncoder;
use terrain_forge::write_repeated;

/// Raw DEFLATE of `pattern` repeated until `len` bytes.
pub fn deflated_repeat(pattern: &[u8], len: u64) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::new(6));
    write_repeated(&mut e, &repeat_block(pattern), len);
    e.finish().unwrap_or_default()
}

/// A zstd frame of `pattern` repeated until `len` bytes.
pub fn zstd_repeat(pattern: &[u8], len: u64) -> Vec<u8> {
    let Ok(mut e) = zstd::stream::write::Encoder::new(Vec::new(), 3) else { return Vec::new() };
    write_repeated(&mut e, &repeat_block(pattern), len);
    e.finish().unwrap_or_default()
}

/// About 64 KiB of `pattern` over and over (zeros if it is empty).
fn repeat_block(pattern: &[u8]) -> Vec<u8> {
    let pattern = if pattern.is_empty() { &[0u8][..] } else { pattern };
    pattern.repeat((1 << 16) / pattern.len() + 1)
}

macro_rules! cached {
    ($(#[$doc:meta])* $name:ident, $make:expr) => {
        $(#[$doc])*
        pub fn $name() -> &'static [u8] {
            static CELL: OnceLock<Vec<u8>> = OnceLock::new();
            CELL.get_or_init(|| $make)
        }
    };
}

cached!(
    /// 9 MiB of zeros, deflated: just past the front door's write budget.
    zeros_9m,
    deflated_repeat(&[0], 9 << 20)
);
cached!(
    /// 17 MiB of zeros, deflated: just past the load budget.
    zeros_17m,
    deflated_repeat(&[0], 17 << 20)
);
cached!(
    /// 256 MiB of zeros, deflated (about 250 kB).
    zeros_256m,
    deflated_repeat(&[0], 256 << 20)
);
cached!(
    /// 7 MiB of one-row runs (`1 × 0`), deflated: under the decoded-bytes budget, but
    /// 3.5 million rows, far over the op budget, so only counting rows refuses it.
    rows_7m,
    deflated_repeat(&[0x01, 0x00], 7 << 20)
);
cached!(
    /// 65 MiB of zeros in one zstd frame: just past the wire's inflate cap.
    zstd_zeros_65m,
    zstd_repeat(&[0], 65 << 20)
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Read;

    #[test]
    fn bombs_are_small_and_inflate_to_what_they_claim() {
        let bomb = deflated_repeat(b"<c/>", 1 << 20);
        assert!(bomb.len() < 10_000, "{}", bomb.len());
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(bomb.as_slice()).read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 1 << 20);
        assert!(out.starts_with(b"<c/><c/>"));
        assert!(zeros_9m().len() < 20_000);
    }
}
