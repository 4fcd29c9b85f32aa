//! Streams an engine command's stdout into a backup file — never through
//! memory — and fails unless the command exits 0.
//!
//! Used by database dumps and volume archives alike. Ctrl-C (the interrupt
//! flag) kills the child and returns exit 130; the unfinished file is only
//! ever a hidden temporary, removed when the writer is dropped.

use std::io::{Read, Write};

use crate::backup::writer::BackupWriter;
use crate::engine::Cmd;
use crate::error::{Error, Result};
use crate::plan::interrupted;

/// Copies `cmd`'s stdout into `writer`, calling `progress` with the bytes
/// copied so far. Errors carry the command's own stderr.
pub fn copy_command_output(
    cmd: &Cmd,
    writer: &mut BackupWriter,
    progress: &dyn Fn(u64),
) -> Result<()> {
    let handle = cmd
        .expression()
        .stdin_null()
        .stderr_capture()
        .unchecked()
        .reader()
        .map_err(|e| cmd.spawn_error(e))?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut total: u64 = 0;
    let mut reader = &handle;
    loop {
        if interrupted() {
            let _ = handle.kill();
            return Err(Error::interrupted());
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = handle.kill();
                return Err(Error::new(format!("reading from `{cmd}` failed: {e}")));
            }
        };
        if let Err(e) = writer.write_all(&buf[..n]) {
            let _ = handle.kill();
            return Err(Error::new(format!("writing the backup failed: {e}")));
        }
        total += n as u64;
        progress(total);
    }
    let output = handle
        .try_wait()
        .map_err(|e| Error::new(format!("waiting for `{cmd}` failed: {e}")))?
        .ok_or_else(|| Error::new(format!("`{cmd}` closed its output but did not exit")))?;
    if interrupted() {
        return Err(Error::interrupted());
    }
    if !output.status.success() {
        return Err(cmd.failure(output));
    }
    Ok(())
}
