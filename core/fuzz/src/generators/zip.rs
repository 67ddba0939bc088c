//! A zip writer that can lie: every entry's declared sizes, checksum and method are set by
//! the caller, so a generator can declare 4 GiB for ten bytes, ten bytes for a bomb, or a
//! checksum that never matches. A zip library's writer cannot: it computes them honestly.
//!
//! Sizes at or past 2^32 - 1 are written as zip64 extra fields, as real writers do; archives
//! stay below 65,535 entries (no zip64 end record).

/// Stored (no compression).
pub const STORED: u16 = 0;
/// Raw DEFLATE.
pub const DEFLATED: u16 = 8;

/// One entry, as it will be written.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file name.
    pub name: Vec<u8>,
    /// The bytes as stored (compressed if `method` says so).
    pub data: Vec<u8>,
    /// [`STORED`] or [`DEFLATED`] (or anything, to lie).
    pub method: u16,
    /// The CRC-32 claimed for the uncompressed bytes.
    pub crc: u32,
    /// The uncompressed size claimed.
    pub size: u64,
}

impl Entry {
    /// An honest entry of `bytes`, deflated.
    pub fn deflated(name: &str, bytes: &[u8]) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            data: terrain_forge::deflate(bytes),
            method: DEFLATED,
            crc: crc32(bytes),
            size: bytes.len() as u64,
        }
    }

    /// An honest entry of `bytes`, stored.
    pub fn stored(name: &str, bytes: &[u8]) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            data: bytes.to_vec(),
            method: STORED,
            crc: crc32(bytes),
            size: bytes.len() as u64,
        }
    }

    /// An entry of already-deflated bytes that claims `size` and `crc` (a bomb).
    pub fn raw(name: &str, deflated: Vec<u8>, size: u64, crc: u32) -> Entry {
        Entry { name: name.as_bytes().to_vec(), data: deflated, method: DEFLATED, crc, size }
    }
}

fn u16le(v: u16, out: &mut Vec<u8>) {
    out.extend(v.to_le_bytes());
}

fn u32le(v: u32, out: &mut Vec<u8>) {
    out.extend(v.to_le_bytes());
}

/// The size as a 32-bit field (`0xFFFFFFFF` meaning "see the zip64 field").
fn field(v: u64) -> u32 {
    u32::try_from(v).ok().filter(|v| *v != u32::MAX).unwrap_or(u32::MAX)
}

/// The zip64 extra field for the sizes (and offset) that do not fit 32 bits.
fn zip64(values: &[u64]) -> Vec<u8> {
    let wide: Vec<u64> = values.iter().copied().filter(|v| field(*v) == u32::MAX).collect();
    if wide.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    u16le(1, &mut out);
    u16le((wide.len() * 8) as u16, &mut out);
    wide.iter().for_each(|v| out.extend(v.to_le_bytes()));
    out
}

/// The archive: local headers and data, the central directory, the end record.
pub fn write(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u64;
        let compressed = e.data.len() as u64;
        // Local header.
        let extra = zip64(&[e.size, compressed]);
        u32le(0x0403_4b50, &mut out);
        u16le(45, &mut out);
        u16le(0, &mut out);
        u16le(e.method, &mut out);
        u32le(0, &mut out); // time, date
        u32le(e.crc, &mut out);
        // The zip64 field lists the uncompressed size first, then the compressed.
        u32le(if extra.is_empty() { field(compressed) } else { u32::MAX }, &mut out);
        u32le(if extra.is_empty() { field(e.size) } else { u32::MAX }, &mut out);
        u16le(e.name.len() as u16, &mut out);
        u16le(extra.len() as u16, &mut out);
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&extra);
        out.extend_from_slice(&e.data);
        // Central directory header.
        let extra = zip64(&[e.size, compressed, offset]);
        u32le(0x0201_4b50, &mut central);
        u16le(45, &mut central);
        u16le(45, &mut central);
        u16le(0, &mut central);
        u16le(e.method, &mut central);
        u32le(0, &mut central);
        u32le(e.crc, &mut central);
        u32le(field(compressed), &mut central);
        u32le(field(e.size), &mut central);
        u16le(e.name.len() as u16, &mut central);
        u16le(extra.len() as u16, &mut central);
        u16le(0, &mut central); // comment
        u16le(0, &mut central); // disk
        u16le(0, &mut central); // internal attributes
        u32le(0, &mut central); // external attributes
        u32le(field(offset), &mut central);
        central.extend_from_slice(&e.name);
        central.extend_from_slice(&extra);
    }
    let start = out.len() as u32;
    let size = central.len() as u32;
    out.extend(central);
    let count = entries.len().min(0xffff) as u16;
    u32le(0x0605_4b50, &mut out);
    u32le(0, &mut out); // disks
    u16le(count, &mut out);
    u16le(count, &mut out);
    u32le(size, &mut out);
    u32le(start, &mut out);
    u16le(0, &mut out);
    out
}

/// CRC-32 (IEEE), as zip uses it.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |c, b| TABLE[((c ^ u32::from(*b)) & 0xff) as usize] ^ (c >> 8))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Read;

    #[test]
    fn honest_archives_read_back() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let bytes = write(&[Entry::deflated("a.xml", b"<a>hello</a>"), Entry::stored("b", b"bee")]);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut text = String::new();
        zip.by_name("a.xml").unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "<a>hello</a>");
        assert_eq!(zip.len(), 2);
    }

    #[test]
    fn declared_sizes_past_32_bits_use_zip64() {
        let entry = Entry::raw("big", terrain_forge::deflate(b"x"), 5 << 32, 0);
        let zip = zip::ZipArchive::new(std::io::Cursor::new(write(&[entry]))).unwrap();
        assert_eq!(zip.len(), 1);
    }
}
