//! A column's bytes as the runs they are made of, so that an attack can rewrite a run's
//! count (multiply it, make it claim 2^40 rows, turn a literal run into a lie) and leave
//! everything around it valid.
//!
//! Values are kept as their encoded bytes: an attack changes how many times a value
//! repeats, never needs what it means.

use terrain_forge::{col, sleb, uleb};

/// One run of a run-length encoded column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run {
    /// One value, `count` times.
    Repeat {
        /// How many times.
        count: u64,
        /// The value, encoded.
        value: Vec<u8>,
    },
    /// Values once each.
    Literal(Vec<Vec<u8>>),
    /// `count` nulls.
    Nulls(u64),
}

/// A column's data, decoded as far as its type allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runs {
    /// The run-length encodings (every type but booleans and raw values).
    Rle(Vec<Run>),
    /// Alternating false/true run lengths, starting with false.
    Bools(Vec<u64>),
    /// Raw bytes (the value column).
    Raw(Vec<u8>),
}

/// The runs of a column of specification `spec`, or `None` if its bytes are not well formed
/// (or compressed).
pub fn decode(spec: u32, data: &[u8]) -> Option<Runs> {
    if spec & col::DEFLATE != 0 {
        return None;
    }
    let ty = spec & 0b111;
    let mut r = Bytes { data, at: 0 };
    match ty {
        col::VALUE => Some(Runs::Raw(data.to_vec())),
        col::BOOL => {
            let mut out = Vec::new();
            while !r.done() {
                out.push(r.uleb()?);
            }
            Some(Runs::Bools(out))
        }
        _ => {
            let mut out = Vec::new();
            while !r.done() {
                let count = r.sleb()?;
                if count == 0 {
                    out.push(Run::Nulls(r.uleb()?));
                } else if count > 0 {
                    out.push(Run::Repeat { count: count as u64, value: r.value(ty)? });
                } else {
                    let values = (0..count.unsigned_abs()).map(|_| r.value(ty)).collect::<Option<Vec<_>>>()?;
                    out.push(Run::Literal(values));
                }
            }
            Some(Runs::Rle(out))
        }
    }
}

/// The bytes of `runs`. Counts past `i64::MAX` are written as they are, wrapped: the
/// reader then sees a negative (literal) count, one more lie.
pub fn encode(runs: &Runs) -> Vec<u8> {
    let mut out = Vec::new();
    match runs {
        Runs::Raw(bytes) => out.extend_from_slice(bytes),
        Runs::Bools(lengths) => lengths.iter().for_each(|l| uleb(*l, &mut out)),
        Runs::Rle(runs) => {
            for run in runs {
                match run {
                    Run::Repeat { count, value } => {
                        sleb(*count as i64, &mut out);
                        out.extend_from_slice(value);
                    }
                    Run::Literal(values) => {
                        sleb(-(values.len() as i64), &mut out);
                        values.iter().for_each(|v| out.extend_from_slice(v));
                    }
                    Run::Nulls(count) => {
                        sleb(0, &mut out);
                        uleb(*count, &mut out);
                    }
                }
            }
        }
    }
    out
}

/// Every run `factor` times longer: a literal run becomes each of its values repeated, raw
/// bytes are repeated. Scaling every column of a table alike keeps it consistent (the same
/// rows, `factor` times over), which is what lets such a chunk pass the walk and reach
/// Automerge with many rows.
pub fn scale(runs: &Runs, factor: u64) -> Runs {
    match runs {
        // Raw bytes are repeated for real: to at most 8 MiB, whatever the factor.
        Runs::Raw(bytes) => Runs::Raw(bytes.repeat(factor.min((8 << 20) / bytes.len().max(1) as u64) as usize)),
        Runs::Bools(lengths) => Runs::Bools(lengths.iter().map(|l| l.saturating_mul(factor)).collect()),
        Runs::Rle(runs) => Runs::Rle(
            runs.iter()
                .flat_map(|run| match run {
                    Run::Repeat { count, value } => {
                        vec![Run::Repeat { count: count.saturating_mul(factor), value: value.clone() }]
                    }
                    Run::Nulls(count) => vec![Run::Nulls(count.saturating_mul(factor))],
                    Run::Literal(values) => {
                        values.iter().map(|v| Run::Repeat { count: factor, value: v.clone() }).collect()
                    }
                })
                .collect(),
        ),
    }
}

/// How many rows the runs hold (saturating).
pub fn rows(runs: &Runs) -> u64 {
    match runs {
        Runs::Raw(_) => 0,
        Runs::Bools(lengths) => lengths.iter().fold(0, |a, l| a.saturating_add(*l)),
        Runs::Rle(runs) => runs.iter().fold(0u64, |a, run| {
            a.saturating_add(match run {
                Run::Repeat { count, .. } | Run::Nulls(count) => *count,
                Run::Literal(values) => values.len() as u64,
            })
        }),
    }
}

struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bytes<'_> {
    fn done(&self) -> bool {
        self.at >= self.data.len()
    }

    /// The bytes of one LEB128 number, as they are.
    fn leb(&mut self) -> Option<&[u8]> {
        let start = self.at;
        loop {
            let b = *self.data.get(self.at)?;
            self.at += 1;
            if b & 0x80 == 0 || self.at - start > 10 {
                return self.data.get(start..self.at);
            }
        }
    }

    fn uleb(&mut self) -> Option<u64> {
        let bytes = self.leb()?;
        let mut v = 0u64;
        for (i, b) in bytes.iter().enumerate() {
            v |= u64::from(b & 0x7f).checked_shl(7 * i as u32)?;
        }
        Some(v)
    }

    fn sleb(&mut self) -> Option<i64> {
        let bytes = self.leb()?;
        let mut v = 0i64;
        let mut shift = 0u32;
        for b in bytes {
            v |= i64::from(b & 0x7f).checked_shl(shift)?;
            shift += 7;
        }
        if shift < 64 && bytes.last().is_some_and(|b| b & 0x40 != 0) {
            v |= -1i64 << shift;
        }
        Some(v)
    }

    fn value(&mut self, ty: u32) -> Option<Vec<u8>> {
        let start = self.at;
        if ty == col::STRING {
            let len = usize::try_from(self.uleb()?).ok()?;
            let end = self.at.checked_add(len)?;
            self.data.get(self.at..end)?;
            self.at = end;
        } else {
            self.leb()?;
        }
        self.data.get(start..self.at).map(<[u8]>::to_vec)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use terrain_forge::{delta_run, null_run, run, string_run};

    #[test]
    fn runs_decode_and_encode_back() {
        let mut data = run(3, 7);
        data.extend(null_run(4));
        let mut literal = Vec::new();
        sleb(-2, &mut literal);
        uleb(1, &mut literal);
        uleb(300, &mut literal);
        data.extend(literal);
        let runs = decode(col::ULEB, &data).unwrap();
        assert_eq!(rows(&runs), 9);
        assert_eq!(encode(&runs), data);
        assert_eq!(rows(&scale(&runs, 10)), 90);
        let strings = string_run(5, b"abc");
        assert_eq!(encode(&decode(col::STRING, &strings).unwrap()), strings);
        let deltas = delta_run(2, -5);
        assert_eq!(encode(&decode(col::DELTA, &deltas).unwrap()), deltas);
        assert!(decode(col::STRING, &string_run(5, b"abc")[..3]).is_none());
    }
}
