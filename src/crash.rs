//! Test-only fault injection: named points where `tests/faults.rs` and
//! `tests/recovery.rs` stop budgie the way `kill -9` would.
//!
//! With `BUDGIE_CRASH_AT=<point>` in its environment, budgie sends itself
//! SIGKILL when it reaches that point: no destructor runs, no lock is
//! released but by the kernel, nothing is flushed. Without the variable
//! (every real use) a point costs one environment lookup. The points:
//!
//! - `gate:before-execute`: journal written, safety backups taken and
//!   confirmed, nothing deleted yet;
//! - `restore:loaded`: a custom-format file loaded into the scratch
//!   database, not yet swapped;
//! - `restore:swapped`: swapped in, the set-aside database not yet dropped.
//! - `restore:parallel`: a parallel pg_restore has finished its first item
//!   (the archive copied into the container, the scratch database loading).
//!
//! A leaf: it imports nothing of budgie's.

/// Stops budgie as `kill -9` would when `BUDGIE_CRASH_AT` names `point`.
pub fn point(point: &str) {
    if std::env::var("BUDGIE_CRASH_AT").is_ok_and(|v| v == point) {
        // SAFETY: kill(2) on our own pid; SIGKILL cannot be caught.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
