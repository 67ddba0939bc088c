//! The query planner's statistics (`ANALYZE`), gathered again when the number of surveys
//! has moved enough to change which index a list should walk.
//!
//! Without statistics SQLite guesses that an equality on any indexed column picks out a
//! handful of rows. On a server holding one project's surveys that guess is wrong in the way
//! that matters: `form_id = ?` matches every survey, and a supervisor's list that walks the
//! form index instead of the team's creators took 165–340 ms over 100,000 surveys, where
//! the right plan takes 2–5 ms (`docs/benchmarks.md`, dashboard). A full `ANALYZE` costs
//! about 2 ms per 1,000 surveys; sampling (`analysis_limit`) is cheaper but saw a single
//! form as a thousand, which brought the bad plan back.

use rusqlite::{Connection, OptionalExtension};

use super::StoreError;

/// Below this many surveys every plan is fast; statistics are not worth gathering.
pub const MIN_SURVEYS: i64 = 1_000;

/// The `settings` key holding how many surveys the statistics were gathered over.
const GATHERED_OVER: &str = "statistics_surveys";

/// Whether statistics gathered over `last` surveys (none: never gathered) are stale now
/// that the store holds `now`: they are gathered again once the count has doubled or
/// halved, so a growing store pays about twice the cost of its last gathering in all.
pub fn due(last: Option<i64>, now: i64) -> bool {
    now >= MIN_SURVEYS
        && match last {
            None => true,
            Some(last) => now >= last.saturating_mul(2) || now.saturating_mul(2) <= last,
        }
}

/// Whether the statistics are stale ([`due`]), read on any connection: checking costs a
/// count of the surveys, which need not hold up the writer.
pub fn stale(conn: &Connection) -> Result<bool, StoreError> {
    let now: i64 = conn.query_row("SELECT count(*) FROM surveys", [], |r| r.get(0))?;
    let last: Option<i64> = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [GATHERED_OVER], |r| r.get::<_, String>(0))
        .optional()?
        .and_then(|v| v.parse().ok());
    Ok(due(last, now))
}

/// Gathers the statistics, in one transaction with the record of how many surveys they
/// were gathered over. Runs on the writer connection: other connections load the new
/// statistics only when they are opened again (`ReaderPool::renew`).
pub fn gather(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute_batch("ANALYZE")?;
    tx.execute(
        "INSERT INTO settings (key, value) VALUES (?1, CAST((SELECT count(*) FROM surveys) AS TEXT))
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [GATHERED_OVER],
    )?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathered_once_past_the_floor_then_on_doubling_or_halving() {
        assert!(!due(None, MIN_SURVEYS - 1));
        assert!(due(None, MIN_SURVEYS));
        assert!(!due(Some(1_500), 2_999));
        assert!(due(Some(1_500), 3_000));
        assert!(due(Some(4_000), 2_000));
        assert!(!due(Some(4_000), 2_001));
        assert!(!due(Some(4_000), 900), "below the floor plans do not matter");
    }
}
