//! Panics while fuzzing: recorded quietly instead of printed, so that a finding can say
//! where it panicked, and so that panics the code under test contains itself (the front door
//! runs Automerge under `catch_unwind`) are counted rather than flooding the terminal.
//!
//! The hook is quiet only inside [`watch`]; elsewhere (a failing assertion in a test) it
//! prints as usual.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
    static SEEN: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn install() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if WATCHING.with(Cell::get) {
                let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".to_owned());
                SEEN.with(|seen| seen.borrow_mut().push(format!("{message}{location}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// What happened while `f` ran.
#[derive(Debug)]
pub struct Watched<T> {
    /// What `f` returned, or the message of the panic that escaped it.
    pub result: Result<T, String>,
    /// Panics raised and caught inside `f` (not counting one that escaped).
    pub contained: Vec<String>,
}

/// Runs `f`, catching a panic that escapes it and recording every panic raised inside it.
pub fn watch<T>(f: impl FnOnce() -> T) -> Watched<T> {
    install();
    SEEN.with(|seen| seen.borrow_mut().clear());
    WATCHING.with(|w| w.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    WATCHING.with(|w| w.set(false));
    let mut seen = SEEN.with(|seen| std::mem::take(&mut *seen.borrow_mut()));
    match result {
        Ok(value) => Watched { result: Ok(value), contained: seen },
        Err(_) => {
            // The last panic recorded is the one that escaped.
            let escaped = seen.pop().unwrap_or_else(|| "(no message)".to_owned());
            Watched { result: Err(escaped), contained: seen }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    #[test]
    fn escaped_and_contained_panics_are_told_apart() {
        let watched = watch(|| {
            let _ = catch_unwind(|| panic!("inner"));
            panic!("outer");
        });
        let escaped: Result<(), String> = watched.result;
        assert!(escaped.unwrap_err().starts_with("outer at "));
        assert_eq!(watched.contained.len(), 1);
        assert!(watched.contained[0].starts_with("inner"));
        assert_eq!(watch(|| 3).result, Ok(3));
    }
}
