//! Checkpoints of a phone's store, off the answer path.
//!
//! In WAL mode a commit appends to the log, and a checkpoint copies the log back into the
//! database and syncs both. SQLite's own checkpoint runs inside the commit that crosses 1,000
//! pages, so one answer in a hundred or so would wait for the flash to sync several
//! megabytes. With [`Durability::ProcessCrash`](super::Durability::ProcessCrash) nothing else
//! syncs, so a store opened that way checkpoints on a thread of its own instead, on a
//! connection of its own: after a burst of commits or a second without any, and once more
//! when the store closes. A passive checkpoint never blocks the writer, and what a power cut
//! may lose is bounded by the time since the last one.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::wal::CheckpointMode;

use super::connection::BUSY_TIMEOUT;
use super::{StoreError, StoreKey, encryption};

/// Checkpoint at once when the log holds this many pages (1 MiB of 4 KiB pages).
const PAGES_PER_CHECKPOINT: i32 = 256;

/// Checkpoint once the store has been idle this long after a commit.
const IDLE: Duration = Duration::from_secs(1);

/// Past this many pages (16 MiB) the writer checkpoints in its own commit, as SQLite would
/// at 1,000: under commits without pause (an import, a large pull) the thread's checkpoints
/// never find the log still, and the writer only starts it over once one has copied it all.
/// The writer's checkpoint waits for one the thread is making (SQLite refuses a second
/// checkpoint at once rather than wait, and the log would grow on past the backstop), then
/// leaves the log to start over.
const PAGES_BACKSTOP: i32 = 4096;

/// What the thread hears.
enum Signal {
    /// A commit left the log this many pages long.
    Committed(i32),
    /// The store is closing.
    Stop,
}

/// The thread that checkpoints one store; dropping this stops it.
#[derive(Debug)]
pub struct Checkpointer {
    stop: Sender<Signal>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the store at `path` whose writer is `writer`: the writer reports
    /// each commit through its WAL hook, which replaces SQLite's in-commit checkpoints.
    pub fn start(path: &Path, writer: &mut Connection, key: Option<&StoreKey>) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        encryption::unlock(&conn, path, key)?;
        let (signals, received) = mpsc::channel::<Signal>();
        let commits = signals.clone();
        // One checkpoint at a time: the thread's and the writer's backstop take turns.
        let turn = Arc::new(Mutex::new(()));
        let thread_turn = Arc::clone(&turn);
        writer.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: i32| {
            if pages >= PAGES_BACKSTOP {
                let _turn = turn.lock().unwrap_or_else(PoisonError::into_inner);
                // An error returned here would fail the statement whose commit already took
                // place; a checkpoint that fails is tried again at the next commit.
                let _ = wal.checkpoint_v2(CheckpointMode::RESTART);
                return Ok(());
            }
            // Sending fails only once the thread has stopped; then nothing is left to do.
            let _ = commits.send(Signal::Committed(pages));
            Ok(())
        }))?;
        let thread = std::thread::Builder::new()
            .name("terrain-checkpoint".into())
            .spawn(move || run(&conn, &received, &thread_turn))
            .map_err(|e| StoreError::Unsupported(format!("cannot start the store's checkpoint thread: {e}")))?;
        Ok(Checkpointer { stop: signals, thread: Some(thread) })
    }
}

fn run(conn: &Connection, signals: &Receiver<Signal>, turn: &Mutex<()>) {
    let checkpoint = || {
        let _turn = turn.lock().unwrap_or_else(PoisonError::into_inner);
        checkpoint(conn)
    };
    let mut dirty = false;
    loop {
        // Idle and clean, the thread sleeps until the next commit: no wake-ups on a phone
        // that is not being used.
        let signal = if dirty { signals.recv_timeout(IDLE) } else { signals.recv().map_err(RecvTimeoutError::from) };
        match signal {
            Ok(Signal::Committed(pages)) if pages < PAGES_PER_CHECKPOINT => {
                dirty = true;
                continue;
            }
            Ok(Signal::Committed(_)) | Err(RecvTimeoutError::Timeout) => {}
            Ok(Signal::Stop) | Err(RecvTimeoutError::Disconnected) => {
                checkpoint();
                return;
            }
        }
        // A failed checkpoint (the file busy for seconds) leaves the log as it is, and the
        // next commit or idle second asks again.
        dirty = !checkpoint();
    }
}

/// Copies the log into the database and syncs it; whether every frame was copied.
fn checkpoint(conn: &Connection) -> bool {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    })
    .is_ok_and(|(busy, log, copied)| busy == 0 && log == copied)
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Told to stop, the thread makes its last checkpoint and ends, whether or not the
        // writer's connection (holding the hook's end of the channel) is still open.
        let _ = self.stop.send(Signal::Stop);
        if let Some(thread) = self.thread.take() {
            // A panic there cannot have harmed the store, whose log SQLite recovers on the
            // next open.
            let _ = thread.join();
        }
    }
}
