//! Automerge's column encodings, walked without expanding them: how many rows a column
//! holds, what its values add up to, and how many bytes it decodes to.
//!
//! A column is a sequence of runs. In the run-length encodings (every type but booleans and
//! raw values) a run starts with a signed count: `n > 0` is one value repeated `n` times,
//! `n < 0` is `-n` literal values, `0` is followed by an unsigned count of nulls. Boolean
//! columns are unsigned run lengths, alternating false and true, starting with false. The
//! walk costs one step per run, so a run that claims 2^60 rows is measured (and refused) in
//! one step, where expanding it would never end.

use super::IntakeError;
use super::leb::Reader;

/// The type bits of a column specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Unsigned RLE: how many rows of the columns sharing its id belong to each row.
    Group,
    /// Unsigned RLE of actor indices.
    Actor,
    /// Unsigned RLE.
    Uleb,
    /// Signed RLE of differences from the previous value.
    Delta,
    /// Alternating run lengths.
    Bool,
    /// RLE of length-prefixed UTF-8 strings.
    Str,
    /// Unsigned RLE of `length << 4 | type` for the raw value column of the same id.
    ValueMeta,
    /// Raw bytes, cut into values by the value metadata column.
    Value,
}

/// A column specification: `id << 4 | deflate << 3 | type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spec(pub(crate) u32);

impl Spec {
    pub(crate) fn id(self) -> u32 {
        self.0 >> 4
    }

    pub(crate) fn deflate(self) -> bool {
        self.0 & 0b1000 != 0
    }

    pub(crate) fn kind(self) -> Kind {
        match self.0 & 0b111 {
            0 => Kind::Group,
            1 => Kind::Actor,
            2 => Kind::Uleb,
            3 => Kind::Delta,
            4 => Kind::Bool,
            5 => Kind::Str,
            6 => Kind::ValueMeta,
            _ => Kind::Value,
        }
    }

    /// The same specification without the deflate bit.
    pub(crate) fn inflated(self) -> Spec {
        Spec(self.0 & !0b1000)
    }
}

/// What a column holds, measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Rows, nulls included.
    pub(crate) rows: u64,
    /// Group columns: the rows they give the grouped columns. Value metadata: the raw
    /// value bytes they describe. Otherwise 0.
    pub(crate) sum: u64,
    /// The bytes the column takes once decoded: 8 per integer row, 1 per boolean, a
    /// string's length plus 8, a raw value's bytes.
    pub(crate) decoded: u64,
}

/// Bytes counted per decoded integer or string header.
pub(crate) const WORD: u64 = 8;

/// What one column may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Rows.
    pub(crate) rows: u64,
    /// Decoded bytes.
    pub(crate) decoded: u64,
    /// Actor columns: every index must be below this (the chunk's actor table).
    pub(crate) actors: u64,
}

/// Measures a column of `kind`, refusing it as soon as it passes a limit.
pub(crate) fn measure(kind: Kind, data: &[u8], limits: Limits, what: &str) -> Result<Shape, IntakeError> {
    let mut shape = Shape::default();
    let add = |shape: &mut Shape, rows: u64, row_bytes: u64, sum_per_row: u64| -> Result<(), IntakeError> {
        shape.rows = shape.rows.saturating_add(rows);
        shape.decoded = shape.decoded.saturating_add(rows.saturating_mul(row_bytes));
        shape.sum = shape.sum.saturating_add(rows.saturating_mul(sum_per_row));
        if shape.rows > limits.rows {
            return Err(IntakeError::over("rows", Some(shape.rows), limits.rows, what));
        }
        if shape.decoded > limits.decoded {
            return Err(IntakeError::over("decoded bytes", Some(shape.decoded), limits.decoded, what));
        }
        Ok(())
    };
    let mut r = Reader::new(data);
    match kind {
        Kind::Value => {
            shape.decoded = data.len() as u64;
            if shape.decoded > limits.decoded {
                return Err(IntakeError::over("decoded bytes", Some(shape.decoded), limits.decoded, what));
            }
        }
        Kind::Bool => {
            while !r.is_empty() {
                let run = r.uleb(what)?;
                add(&mut shape, run, 1, 0)?;
            }
        }
        _ => {
            while !r.is_empty() {
                let count = r.sleb(what)?;
                if count == 0 {
                    let nulls = r.uleb(what)?;
                    add(&mut shape, nulls, WORD, 0)?;
                } else {
                    // A repeated run is one value `count` times; a literal run `-count`
                    // values once each.
                    let (times, literals) = if count > 0 { (count as u64, 1) } else { (1, count.unsigned_abs()) };
                    for _ in 0..literals {
                        let (bytes, sum) = value(kind, &mut r, limits.actors, what)?;
                        add(&mut shape, times, bytes, sum)?;
                    }
                }
            }
        }
    }
    Ok(shape)
}

/// Reads one value of a run: its decoded size and what it adds to the column's sum.
fn value(kind: Kind, r: &mut Reader<'_>, actors: u64, what: &str) -> Result<(u64, u64), IntakeError> {
    Ok(match kind {
        Kind::Actor => {
            let actor = r.uleb(what)?;
            if actor >= actors {
                // Automerge would size a table by the index before it fails on it.
                return Err(IntakeError::malformed(format!("{what}: an op names actor {actor} of {actors}")));
            }
            (WORD, 0)
        }
        Kind::Str => {
            let s = r.prefixed(what)?;
            (WORD + s.len() as u64, 0)
        }
        Kind::Delta => {
            r.sleb(what)?;
            (WORD, 0)
        }
        Kind::Group => (WORD, r.uleb(what)?),
        Kind::ValueMeta => (WORD, r.uleb(what)? >> 4),
        _ => {
            r.uleb(what)?;
            (WORD, 0)
        }
    })
}

/// The values of an unsigned or delta column, nulls as `None`, runs expanded, refused past
/// `max_rows` (callers [`measure`] first, so this only guards against misuse).
pub(crate) fn values(kind: Kind, data: &[u8], max_rows: u64, what: &str) -> Result<Vec<Option<u64>>, IntakeError> {
    let mut out: Vec<Option<u64>> = Vec::new();
    let mut r = Reader::new(data);
    let mut last: i64 = 0;
    let push = |out: &mut Vec<Option<u64>>, v: Option<u64>, times: u64| -> Result<(), IntakeError> {
        if (out.len() as u64).saturating_add(times) > max_rows {
            return Err(IntakeError::over("rows", None, max_rows, what));
        }
        out.extend(std::iter::repeat_n(v, times as usize));
        Ok(())
    };
    while !r.is_empty() {
        let count = r.sleb(what)?;
        if count == 0 {
            let nulls = r.uleb(what)?;
            push(&mut out, None, nulls)?;
            continue;
        }
        // A repeated run is one value `count` times; a literal run `-count` values once each.
        let (times, literals) = if count > 0 { (count as u64, 1) } else { (1, count.unsigned_abs()) };
        for _ in 0..literals {
            if kind == Kind::Delta {
                let delta = r.sleb(what)?;
                if times > max_rows {
                    return Err(IntakeError::over("rows", Some(times), max_rows, what));
                }
                for _ in 0..times {
                    last = last
                        .checked_add(delta)
                        .ok_or_else(|| IntakeError::malformed(format!("{what}: a delta overflows")))?;
                    let v = u64::try_from(last)
                        .map_err(|_| IntakeError::malformed(format!("{what}: a value falls below zero")))?;
                    push(&mut out, Some(v), 1)?;
                }
            } else {
                let v = r.uleb(what)?;
                push(&mut out, Some(v), times)?;
            }
        }
    }
    Ok(out)
}

/// A chunk's column metadata: how many columns, and each one's specification and length.
pub(crate) fn read_metadata(r: &mut Reader<'_>, what: &str) -> Result<Vec<(Spec, usize)>, IntakeError> {
    // Each entry takes at least two bytes, so the count can never claim more than the input.
    let n = r.count(what, 2)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let spec = u32::try_from(r.uleb(what)?)
            .map_err(|_| IntakeError::malformed(format!("{what}: a column specification overflows 32 bits")))?;
        let len = r.uleb(what)?;
        let len =
            usize::try_from(len).map_err(|_| IntakeError::malformed(format!("{what}: a column of {len} bytes")))?;
        out.push((Spec(spec), len));
    }
    Ok(out)
}

/// Cuts the column data that follows the metadata into one slice per column.
pub(crate) fn split_data<'a>(
    r: &mut Reader<'a>,
    metadata: &[(Spec, usize)],
    what: &str,
) -> Result<Vec<(Spec, &'a [u8])>, IntakeError> {
    let total = metadata
        .iter()
        .try_fold(0usize, |sum, (_, len)| sum.checked_add(*len))
        .ok_or_else(|| IntakeError::malformed(format!("{what}: column lengths overflow")))?;
    let mut data = Reader::new(r.take(total, what)?);
    metadata.iter().map(|(spec, len)| Ok((*spec, data.take(*len, what)?))).collect()
}

/// The measures of a table of columns (a chunk's changes or its ops).
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    /// Rows of the table: the most rows of any column that is neither grouped nor raw.
    pub(crate) rows: u64,
    /// Rows given to grouped columns, over every group column.
    pub(crate) grouped: u64,
    /// Decoded bytes of every column.
    pub(crate) decoded: u64,
}

/// Measures every column of a table, refusing it once any column passes the row limit, or
/// all of them together the decoded-bytes limit.
pub(crate) fn measure_table(columns: &[(Spec, &[u8])], limits: Limits, what: &str) -> Result<Table, IntakeError> {
    let group_ids: Vec<u32> = columns.iter().filter(|(s, _)| s.kind() == Kind::Group).map(|(s, _)| s.id()).collect();
    let mut table = Table::default();
    for (spec, data) in columns {
        let grouped = spec.kind() != Kind::Group && group_ids.contains(&spec.id());
        // Grouped columns hold several rows per table row; their size is bounded by the
        // decoded-bytes budget alone.
        if spec.id() >= 16 {
            // Automerge keeps only four bits of a column id in places; such a column would
            // be read as another.
            return Err(IntakeError::malformed(format!("{what}: unknown column {}", spec.0)));
        }
        let column_limits = Limits {
            rows: if grouped { u64::MAX } else { limits.rows },
            decoded: limits.decoded.saturating_sub(table.decoded),
            actors: limits.actors,
        };
        let shape = measure(spec.kind(), data, column_limits, what)?;
        table.decoded = table.decoded.saturating_add(shape.decoded);
        match spec.kind() {
            Kind::Group => table.grouped = table.grouped.saturating_add(shape.sum),
            Kind::ValueMeta => {
                let raw = columns
                    .iter()
                    .find(|(s, _)| s.kind() == Kind::Value && s.id() == spec.id())
                    .map_or(0, |(_, d)| d.len() as u64);
                if shape.sum > raw {
                    return Err(IntakeError::malformed(format!(
                        "{what}: values claim {} bytes where the value column holds {raw}",
                        shape.sum
                    )));
                }
            }
            _ => {}
        }
        if !grouped && spec.kind() != Kind::Value {
            table.rows = table.rows.max(shape.rows);
        }
    }
    // Automerge builds a list per row from the group counts before it reads the grouped
    // columns, so the counts alone must fit the budget.
    if table.grouped.saturating_mul(WORD) > limits.decoded.saturating_sub(table.decoded) {
        return Err(IntakeError::over("decoded bytes", None, limits.decoded, what));
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(rows: u64, decoded: u64) -> Limits {
        Limits { rows, decoded, actors: 4 }
    }

    #[test]
    fn actor_indices_must_name_an_actor_of_the_table() {
        let mut col = Vec::new();
        sleb(1, &mut col);
        uleb(4, &mut col);
        assert!(matches!(measure(Kind::Actor, &col, lim(10, 1000), "t"), Err(IntakeError::Malformed(_))));
        col[1] = 3;
        assert_eq!(measure(Kind::Actor, &col, lim(10, 1000), "t").unwrap().rows, 1);
    }

    fn uleb(v: u64, out: &mut Vec<u8>) {
        crate::intake::leb::write_uleb(out, v);
    }

    fn sleb(mut v: i64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            let done = (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0);
            out.push(if done { b } else { b | 0x80 });
            if done {
                return;
            }
        }
    }

    #[test]
    fn runs_literals_and_nulls_count_their_rows() {
        // 3 × 7, then literals 1 2, then 4 nulls.
        let mut col = Vec::new();
        sleb(3, &mut col);
        uleb(7, &mut col);
        sleb(-2, &mut col);
        uleb(1, &mut col);
        uleb(2, &mut col);
        sleb(0, &mut col);
        uleb(4, &mut col);
        let shape = measure(Kind::Uleb, &col, lim(100, 1000), "t").unwrap();
        assert_eq!(shape.rows, 9);
        assert_eq!(shape.decoded, 9 * WORD);
        assert_eq!(
            values(Kind::Uleb, &col, 100, "t").unwrap(),
            [Some(7), Some(7), Some(7), Some(1), Some(2), None, None, None, None]
        );
    }

    #[test]
    fn a_huge_run_is_refused_in_one_step() {
        let mut col = Vec::new();
        sleb(i64::MAX, &mut col);
        uleb(1, &mut col);
        let err = measure(Kind::Uleb, &col, lim(1_000_000, u64::MAX), "t").unwrap_err();
        assert!(matches!(err, IntakeError::OverBudget { what: "rows", .. }), "{err}");
        let mut nulls = Vec::new();
        sleb(0, &mut nulls);
        uleb(u64::MAX, &mut nulls);
        assert!(measure(Kind::Delta, &nulls, lim(1_000_000, u64::MAX), "t").is_err());
        assert!(values(Kind::Delta, &nulls, 1_000_000, "t").is_err());
        let mut bools = Vec::new();
        uleb(u64::MAX, &mut bools);
        assert!(measure(Kind::Bool, &bools, lim(1_000_000, u64::MAX), "t").is_err());
    }

    #[test]
    fn repeated_strings_count_their_expanded_bytes() {
        let mut col = Vec::new();
        sleb(1000, &mut col);
        uleb(100, &mut col);
        col.extend([b'x'; 100]);
        let shape = measure(Kind::Str, &col, lim(10_000, u64::MAX), "t").unwrap();
        assert_eq!(shape.decoded, 1000 * (WORD + 100));
        assert!(measure(Kind::Str, &col, lim(10_000, 50_000), "t").is_err());
    }

    #[test]
    fn deltas_accumulate() {
        let mut col = Vec::new();
        sleb(3, &mut col);
        sleb(2, &mut col);
        sleb(-2, &mut col);
        sleb(10, &mut col);
        sleb(-1, &mut col);
        assert_eq!(values(Kind::Delta, &col, 100, "t").unwrap(), [Some(2), Some(4), Some(6), Some(16), Some(15)]);
        let mut negative = Vec::new();
        sleb(1, &mut negative);
        sleb(-5, &mut negative);
        assert!(values(Kind::Delta, &negative, 100, "t").is_err());
    }

    #[test]
    fn value_metadata_cannot_claim_more_than_the_value_column() {
        let mut meta = Vec::new();
        sleb(1_000, &mut meta);
        uleb((1000 << 4) | 6, &mut meta);
        let raw = vec![0u8; 10];
        let columns = [(Spec((1 << 4) | 6), meta.as_slice()), (Spec((1 << 4) | 7), raw.as_slice())];
        assert!(matches!(measure_table(&columns, lim(10_000, u64::MAX), "t"), Err(IntakeError::Malformed(_))));
    }
}
