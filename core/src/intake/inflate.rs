//! Bounded inflation of DEFLATE-compressed columns: the output grows only as far as the
//! budget allows, so a few bytes that claim gigabytes cost at most the budget, never an
//! allocation sized by the claim.

use std::io::Read;

use flate2::bufread::DeflateDecoder;

use super::IntakeError;

/// Inflates raw DEFLATE `input`, refusing (without producing more) once the output would
/// pass `limit` bytes.
pub(crate) fn inflate(input: &[u8], limit: u64, what: &str) -> Result<Vec<u8>, IntakeError> {
    let mut out = Vec::new();
    // One byte more than allowed tells "exactly at the limit" from "over it".
    let read = DeflateDecoder::new(input).take(limit.saturating_add(1)).read_to_end(&mut out);
    match read {
        Err(e) => Err(IntakeError::malformed(format!("{what}: a compressed column does not inflate ({e})"))),
        Ok(n) if n as u64 > limit => {
            Err(IntakeError::OverBudget { what: "decoded bytes", claimed: None, limit, context: what.to_owned() })
        }
        Ok(_) => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn deflate(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn inflates_within_the_limit_and_refuses_past_it() {
        let bomb = deflate(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 20_000, "10 MiB of zeros compress to {} bytes", bomb.len());
        assert_eq!(inflate(&bomb, 10 << 20, "t").unwrap().len(), 10 << 20);
        assert!(matches!(inflate(&bomb, 1 << 20, "t"), Err(IntakeError::OverBudget { .. })));
        assert!(matches!(inflate(b"\xff\xff not deflate", 100, "t"), Err(IntakeError::Malformed(_))));
    }
}
