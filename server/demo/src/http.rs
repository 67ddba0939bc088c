//! The demo's people at desks (supervisors reviewing, the analyst downloading exports) log
//! in as any API user does, with the core's [`Session`], on a device of their own.

pub use terrain_core::sync::Session;

use super::DemoError;
use super::pilot::PASSWORD;

/// Logs `user` in at `base` (`http://127.0.0.1:port`) from their desk.
pub fn desk(base: &str, user: &str) -> Result<Session, DemoError> {
    Session::login(base, user, PASSWORD, &format!("{user}-desk"))
        .map_err(|e| DemoError::Http(format!("{user} could not log in: {e}")))
}
