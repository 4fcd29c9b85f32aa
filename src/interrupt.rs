//! Ctrl-C and termination, as two flags that anyone may read.
//!
//! The handler (installed by `app`) sets [`INTERRUPTED`]; long operations —
//! the executor between steps, the streams between chunks, the waits
//! between polls — read it and stop with exit 130 instead of dying half-way.
//! [`PROMPTING`] tells the handler that budgie is only waiting for an answer,
//! so it may exit at once. A leaf: it imports nothing of budgie's, so the
//! lowest I/O code can read it without importing the planner.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the Ctrl-C handler.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Set while a prompt waits for an answer: nothing is being changed then.
pub static PROMPTING: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C (or a termination signal) arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Notes that a prompt is waiting (`true`) or answered (`false`).
pub fn prompting(on: bool) {
    PROMPTING.store(on, Ordering::SeqCst);
}
