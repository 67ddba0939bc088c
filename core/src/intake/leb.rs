//! A cursor over untrusted bytes that reads the LEB128 integers, hashes and length-prefixed
//! fields of Automerge's storage format, and never reads past its end.

use super::IntakeError;

/// A position in a byte slice. Every read either returns what was asked for or an error;
/// none panics, whatever the bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    /// Bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.at..).unwrap_or_default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }

    pub(crate) fn position(&self) -> usize {
        self.at
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], IntakeError> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len()).ok_or_else(|| truncated(what))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    pub(crate) fn byte(&mut self, what: &str) -> Result<u8, IntakeError> {
        Ok(self.take(1, what)?[0])
    }

    /// An unsigned LEB128 integer of at most 64 bits, in its shortest or any longer form
    /// (Automerge's own parser accepts both).
    pub(crate) fn uleb(&mut self, what: &str) -> Result<u64, IntakeError> {
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let byte = self.byte(what)?;
            let low = u64::from(byte & 0x7f);
            if i == 9 && low > 1 {
                return Err(IntakeError::malformed(format!("{what}: an integer overflows 64 bits")));
            }
            value |= low << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(IntakeError::malformed(format!("{what}: an integer overflows 64 bits")))
    }

    /// A signed LEB128 integer of at most 64 bits.
    pub(crate) fn sleb(&mut self, what: &str) -> Result<i64, IntakeError> {
        let mut value: i64 = 0;
        let mut shift = 0u32;
        loop {
            let byte = self.byte(what)?;
            if shift == 63 && byte & 0x7f != 0 && byte & 0x7f != 0x7f {
                return Err(IntakeError::malformed(format!("{what}: an integer overflows 64 bits")));
            }
            value |= i64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 {
                    value |= -1i64 << shift;
                }
                return Ok(value);
            }
            if shift >= 64 {
                return Err(IntakeError::malformed(format!("{what}: an integer overflows 64 bits")));
            }
        }
    }

    /// A length as a `usize`, refused if it claims more bytes than remain: lengths that
    /// precede data can never exceed the data.
    pub(crate) fn length(&mut self, what: &str) -> Result<usize, IntakeError> {
        let n = self.uleb(what)?;
        usize::try_from(n).ok().filter(|n| *n <= self.bytes.len() - self.at.min(self.bytes.len())).ok_or_else(|| {
            IntakeError::malformed(format!("{what}: a length of {n} is longer than the bytes that follow"))
        })
    }

    /// A count of items that each take at least `min_item_bytes`, refused if the remaining
    /// bytes could not hold that many; so a count can never make a caller allocate more than
    /// the input's size.
    pub(crate) fn count(&mut self, what: &str, min_item_bytes: usize) -> Result<usize, IntakeError> {
        let n = self.uleb(what)?;
        let room = self.rest().len() / min_item_bytes.max(1);
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= room)
            .ok_or_else(|| IntakeError::malformed(format!("{what}: a count of {n} is more than the bytes can hold")))
    }

    /// A length-prefixed byte string.
    pub(crate) fn prefixed(&mut self, what: &str) -> Result<&'a [u8], IntakeError> {
        let n = self.length(what)?;
        self.take(n, what)
    }

    /// An unsigned integer in its shortest form, the only form Automerge writes; `None` for
    /// any other form or a read error.
    pub(crate) fn uleb_shortest(&mut self) -> Option<u64> {
        let start = self.at;
        let v = self.uleb("").ok()?;
        (self.at - start == uleb_len(v)).then_some(v)
    }

    /// A signed integer in its shortest form; `None` otherwise.
    pub(crate) fn sleb_shortest(&mut self) -> Option<i64> {
        let start = self.at;
        let v = self.sleb("").ok()?;
        (self.at - start == sleb_len(v)).then_some(v)
    }

    /// A length-prefixed byte string whose length is in its shortest form.
    pub(crate) fn prefixed_shortest(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.uleb_shortest()?).ok()?;
        self.take(n, "").ok()
    }
}

/// Appends `v` as an unsigned LEB128 integer in its shortest form.
pub(crate) fn write_uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Bytes in the shortest unsigned LEB128 form of `v`.
pub(crate) fn uleb_len(v: u64) -> usize {
    (64 - v.leading_zeros() as usize).div_ceil(7).max(1)
}

/// Bytes in the shortest signed LEB128 form of `v`: enough 7-bit groups for its magnitude
/// and a sign bit.
pub(crate) fn sleb_len(v: i64) -> usize {
    let significant = if v < 0 { 64 - v.leading_ones() } else { 64 - v.leading_zeros() } as usize;
    (significant + 1).div_ceil(7)
}

fn truncated(what: &str) -> IntakeError {
    IntakeError::malformed(format!("{what}: the bytes end too soon (truncated input)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use terrain_forge::{sleb, uleb};

    #[test]
    fn lengths_and_counts_never_exceed_the_bytes() {
        let mut bytes = Vec::new();
        uleb(1 << 40, &mut bytes);
        assert!(Reader::new(&bytes).length("x").is_err());
        assert!(Reader::new(&bytes).count("x", 1).is_err());
        let mut ok = vec![3, 1, 2, 3];
        assert_eq!(Reader::new(&ok).prefixed("x").unwrap(), &[1, 2, 3]);
        ok.truncate(3);
        assert!(Reader::new(&ok).prefixed("x").is_err());
    }

    #[test]
    fn overlong_integers_are_refused() {
        assert!(Reader::new(&[0xff; 11]).uleb("x").is_err());
        assert!(Reader::new(&[0xff; 11]).sleb("x").is_err());
        assert!(Reader::new(&[0x80]).uleb("x").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, rng_seed: proptest::test_runner::RngSeed::Fixed(3), ..ProptestConfig::default() })]

        #[test]
        fn integers_round_trip(u in any::<u64>(), s in any::<i64>()) {
            let mut bytes = Vec::new();
            uleb(u, &mut bytes);
            sleb(s, &mut bytes);
            let mut r = Reader::new(&bytes);
            prop_assert_eq!(r.uleb("u").unwrap(), u);
            prop_assert_eq!(r.sleb("s").unwrap(), s);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn shortest_forms_are_what_the_encoder_writes(u in any::<u64>(), s in any::<i64>()) {
            let mut bytes = Vec::new();
            uleb(u, &mut bytes);
            prop_assert_eq!(bytes.len(), uleb_len(u));
            sleb(s, &mut bytes);
            prop_assert_eq!(bytes.len(), uleb_len(u) + sleb_len(s));
            let mut r = Reader::new(&bytes);
            prop_assert_eq!(r.uleb_shortest(), Some(u));
            prop_assert_eq!(r.sleb_shortest(), Some(s));
            // The same values padded with a redundant group are read, but are not shortest.
            let mut padded = Vec::new();
            uleb(u, &mut padded);
            if let Some(last) = padded.last_mut() { *last |= 0x80; }
            padded.push(0);
            prop_assert_eq!(Reader::new(&padded).uleb("u").ok(), (u < 1 << 63).then_some(u));
            prop_assert_eq!(Reader::new(&padded).uleb_shortest(), None);
            let mut padded = Vec::new();
            sleb(s, &mut padded);
            if let Some(last) = padded.last_mut() { *last |= 0x80; }
            padded.push(if s < 0 { 0x7f } else { 0 });
            prop_assert_eq!(Reader::new(&padded).sleb_shortest(), None);
        }

        #[test]
        fn any_bytes_read_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = Reader::new(&bytes);
            let _ = r.uleb("u");
            let _ = r.sleb("s");
            let _ = r.prefixed("p");
            let _ = r.count("c", 3);
        }
    }
}
