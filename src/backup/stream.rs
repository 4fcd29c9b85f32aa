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
use crate::interrupt::interrupted;

/// How much of the start of a stream [`copy_command_output`] keeps.
pub const HEAD_BYTES: usize = 4096;

/// Copies `cmd`'s stdout into `writer`, calling `progress` with the bytes
/// copied so far. Errors carry the command's own stderr.
/// The first bytes of the stream are kept in `head` (up to its capacity
/// limit of [`HEAD_BYTES`]), for reading the dump's header.
pub fn copy_command_output(
    cmd: &Cmd,
    writer: &mut BackupWriter,
    head: &mut Vec<u8>,
    progress: &dyn Fn(u64),
) -> Result<()> {
    // Our own pipe, enlarged to 1 MiB (the default 64 KiB makes the engine
    // client and budgie wake each other for every few pages of the dump).
    let (reader, pipe_writer) =
        std::io::pipe().map_err(|e| Error::new(format!("cannot create a pipe: {e}")))?;
    enlarge_pipe(&reader);
    let handle = cmd
        .expression()
        .stdin_null()
        .stdout_file(pipe_writer)
        .stderr_capture()
        .unchecked()
        .start()
        .map_err(|e| cmd.spawn_error(e))?;
    // `start` consumed the expression's copy of the write end: when the child
    // exits, reading hits EOF.
    let mut reader = reader;
    let mut buf = vec![0u8; 256 * 1024];
    let mut total: u64 = 0;
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
        if head.len() < HEAD_BYTES {
            let room = HEAD_BYTES - head.len();
            head.extend_from_slice(&buf[..n.min(room)]);
        }
        total += n as u64;
        progress(total);
    }
    let output = handle
        .wait()
        .map_err(|e| Error::new(format!("waiting for `{cmd}` failed: {e}")))?;
    if interrupted() {
        return Err(Error::interrupted());
    }
    if !output.status.success() {
        return Err(cmd.failure(output));
    }
    Ok(())
}

/// Asks for a 1 MiB pipe buffer (Linux `F_SETPIPE_SZ`); the default stays
/// when the system refuses.
pub fn enlarge_pipe(pipe: &impl std::os::fd::AsRawFd) {
    // SAFETY: fcntl on a valid, open pipe descriptor with an integer argument.
    unsafe {
        libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1024 * 1024);
    }
}
