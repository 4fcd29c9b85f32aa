//! The reader that stands between a plain PostgreSQL dump and psql: every
//! byte goes through [`Scanner`] first, and psql only ever gets whole
//! statements the scanner checked (and COPY data) — never a byte of a
//! refused one, not even as the unfinished last statement psql would run
//! at the end of its input. Tested with the scanner (`sqlscan`'s tests).

use std::io::Read;
use std::sync::{Arc, Mutex};

use super::sqlscan::Scanner;

/// How a refusal's `InvalidData` error begins (the feed tells it from a
/// failed read by this).
pub const REFUSED: &str = "refused: ";

/// The most a single statement may hold before it is checked and passed
/// on (psql holds a statement whole too).
const MAX_STATEMENT: usize = 256 * 1024 * 1024;

/// A reader of plain SQL that passes on only whole statements the scanner
/// checked (and COPY data), so that psql never reads a byte of a refused
/// one — not even as the unfinished last statement it would run at the
/// end of its input. A refusal is an `InvalidData` error naming the line.
pub struct Guarded<R> {
    inner: R,
    scanner: Scanner,
    chunk: Vec<u8>,
    /// Scanned bytes: `out[at..safe]` may be read, the rest waits.
    out: Vec<u8>,
    at: usize,
    safe: usize,
    ended: bool,
    /// Where the scan's notes go once the file was read to its end.
    notes: Option<Arc<Mutex<Vec<String>>>>,
}

impl<R: Read> Guarded<R> {
    #[cfg(test)]
    pub fn new(inner: R) -> Guarded<R> {
        Guarded::with(inner, Scanner::default(), None)
    }

    /// With `scanner` (see [`Scanner::for_section`]); what it left out is
    /// put in `notes` (see `sqlscan::database::Notes::lines`) at the end.
    pub fn with(inner: R, scanner: Scanner, notes: Option<Arc<Mutex<Vec<String>>>>) -> Guarded<R> {
        Guarded {
            inner,
            scanner,
            chunk: vec![0u8; 256 * 1024],
            out: Vec::new(),
            at: 0,
            safe: 0,
            ended: false,
            notes,
        }
    }

    fn refused(&mut self, why: String) -> std::io::Error {
        self.out.clear();
        (self.at, self.safe, self.ended) = (0, 0, true);
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{REFUSED}{why}"))
    }
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.safe {
            if self.ended {
                return Ok(0);
            }
            self.out.drain(..self.at);
            self.safe -= self.at;
            self.at = 0;
            let n = self.inner.read(&mut self.chunk)?;
            if n == 0 {
                if let Err(why) = self.scanner.finish() {
                    return Err(self.refused(why));
                }
                self.ended = true;
                self.safe = self.out.len();
                if let Some(notes) = &self.notes
                    && let Ok(mut notes) = notes.lock()
                {
                    *notes = self.scanner.notes().lines();
                }
                continue;
            }
            if let Err(why) = self.scanner.scan(&self.chunk[..n], &mut self.out) {
                return Err(self.refused(why));
            }
            if let Some(len) = self.scanner.take_safe_len() {
                self.safe = len;
            }
            if self.out.len() - self.safe > MAX_STATEMENT {
                let why = format!(
                    "line {}: a statement of more than {} MiB",
                    self.scanner.line(),
                    MAX_STATEMENT >> 20
                );
                return Err(self.refused(why));
            }
        }
        let n = buf.len().min(self.safe - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
