//! Hexadecimal text for binary values: device keys, certificate pins, store keys, digests.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` to `out` as lower-case hexadecimal, two digits a byte. Appending, rather
/// than returning a new string, lets a secret's text live in a buffer its owner wipes.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    out.reserve(2 * bytes.len());
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
}

/// `bytes` as lower-case hexadecimal.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    encode_into(bytes, &mut out);
    out
}

/// Fills `out` from `digits`, two hexadecimal digits (either case) a byte; `None` unless
/// `digits` is exactly that long and holds nothing but hexadecimal digits (no sign: text
/// from outside names files and rows with this, so there is one spelling of each value).
pub fn decode_into(digits: &[u8], out: &mut [u8]) -> Option<()> {
    if digits.len() != 2 * out.len() {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(())
}

fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_go_to_hex_and_back() {
        let bytes = [0x00, 0x0f, 0xa5, 0xff];
        assert_eq!(encode(&bytes), "000fa5ff");
        let mut back = [0u8; 4];
        assert_eq!(decode_into(b"000FA5ff", &mut back), Some(()));
        assert_eq!(back, bytes);
        for bad in [&b"000fa5f"[..], b"000fa5fff0", b"000fa5fg", b"000fa5+f", b"000fa5-f", "000fa5é".as_bytes()] {
            assert_eq!(decode_into(bad, &mut back), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
