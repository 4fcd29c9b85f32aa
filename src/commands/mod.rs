//! One file per command family. Each builds a plan or reads the engine, and
//! returns the exit status; printing goes through `ui`.

pub mod backup;
pub mod backup_remote;
pub mod backup_verify;
pub mod config;
pub mod deploy;
pub mod destroy;
pub mod docs;
pub mod doctor;
pub mod lifecycle;
pub mod restore;
pub mod restore_input;
pub mod restore_set;
pub mod schedule;
pub mod snapshot;
pub mod status;
pub mod volumes;

use serde::Serialize;

use crate::error::{Error, Result};

/// Prints one JSON document on stdout. A reader that went away (`| head`)
/// ends the output quietly: no panic, no error.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    use std::io::Write;
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::new(format!("could not write JSON: {e}")))?;
    text.push('\n');
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::new(format!("could not write to stdout: {e}"))),
    }
}
