//! Streaming a file into a loader's stdin (psql, pg_restore, tar in a
//! throwaway container): decompressed as needed, counted for the progress
//! bar, hashed when a recorded checksum is to be compared, scanned for the
//! tables it creates, and — for a plain dump — followed by the SQL that
//! checks and swaps the loaded copy, in the same session.

use std::io::{BufReader, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::source::Source;
use super::tables::TableScanner;
use crate::backup::format::Dialect;
use crate::backup::verify::Format;
use crate::engine::Cmd;
use crate::error::{Error, Result};
use crate::interrupt::interrupted;

/// A reader that counts the bytes read from the file itself (compressed
/// bytes for a compressed file) for the progress bar, and hashes them when
/// a recorded checksum is to be compared.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
    hasher: Option<Arc<Mutex<Sha256>>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(h) = &self.hasher
            && let Ok(mut h) = h.lock()
        {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Passes decompressed SQL through while a [`TableScanner`] reads it.
struct Scanning<R> {
    inner: R,
    scanner: Arc<Mutex<TableScanner>>,
}

impl<R: Read> Read for Scanning<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut s) = self.scanner.lock() {
            s.feed(&buf[..n]);
        }
        Ok(n)
    }
}

/// What streaming a file into a loader saw on the way.
#[derive(Debug, Default)]
pub struct Fed {
    /// The loader's stdout.
    pub stdout: String,
    /// The tables the SQL creates (plain SQL only).
    pub tables: Vec<String>,
    /// The file's sha256, when it was computed.
    pub sha256: Option<String>,
    /// What the scan of a plain PostgreSQL dump left out (`sqlscan`), a
    /// line each.
    pub notes: Vec<String>,
}

/// Streams `source` into `cmd`'s stdin: the raw bytes when `raw`, else
/// decompressed. For SQL it notes the tables created, and it hashes the
/// file when `hash` (to compare with a recorded checksum).
pub fn feed(
    cmd: &Cmd,
    source: &Source,
    raw: bool,
    hash: bool,
    progress: &dyn Fn(u64),
) -> Result<Fed> {
    feed_inner(cmd, source, raw, hash, None, progress)
}

/// [`feed`] for plain SQL, with `trailer(tables)` sent after the dump.
pub fn feed_with_trailer(
    cmd: &Cmd,
    source: &Source,
    trailer: TrailerFn,
    progress: &dyn Fn(u64),
) -> Result<Fed> {
    feed_inner(
        cmd,
        source,
        false,
        source.expected_sha256.is_some(),
        Some(trailer),
        progress,
    )
}

fn feed_inner(
    cmd: &Cmd,
    source: &Source,
    raw: bool,
    hash: bool,
    trailer: Option<TrailerFn>,
    progress: &dyn Fn(u64),
) -> Result<Fed> {
    let counter = Arc::new(AtomicU64::new(0));
    let hasher = hash.then(|| Arc::new(Mutex::new(Sha256::new())));
    let scanner = Arc::new(Mutex::new(TableScanner::default()));
    let notes = Arc::new(Mutex::new(Vec::new()));
    let path = &source.path;
    let file = std::fs::File::open(path)
        .map_err(|e| Error::new(format!("cannot read {}: {e}", path.display())))?;
    let counting = Counting {
        inner: file,
        count: counter.clone(),
        hasher: hasher.clone(),
    };
    let mut input: Box<dyn Read + Send> = if raw {
        Box::new(counting)
    } else {
        let decoded = decoder(source, counting)?;
        let decoded: Box<dyn Read + Send> = match (&source.section, source.dialect) {
            (Some(name), Some(Dialect::Postgres)) => {
                Box::new(super::cluster::Section::new(decoded, name))
            }
            (Some(name), _) => Box::new(crate::databases::mariadb::Section::new(decoded, name)),
            (None, _) => decoded,
        };
        let decoded = guarded(source, decoded, notes.clone());
        if source.format == Format::TarZstd {
            decoded
        } else {
            Box::new(Scanning {
                inner: decoded,
                scanner: scanner.clone(),
            })
        }
    };
    if let Some(make) = trailer {
        // The recorded checksum is compared at the dump's end, before the
        // swap that follows it is sent.
        let verify: Option<VerifyFn> = match (&source.expected_sha256, &hasher) {
            (Some(expected), Some(h)) => {
                let (expected, h, path) = (expected.clone(), h.clone(), source.path.clone());
                Some(Box::new(move || {
                    let found = h
                        .lock()
                        .map(|h| crate::fsutil::hex(&h.clone().finalize()))
                        .unwrap_or_default();
                    if found.eq_ignore_ascii_case(&expected) {
                        Ok(())
                    } else {
                        Err(format!(
                            "{} does not match the checksum recorded when it was written (sha256 {expected} expected, {found} found)",
                            path.display()
                        ))
                    }
                }))
            }
            _ => None,
        };
        input = Box::new(Trailer {
            inner: input,
            scanner: scanner.clone(),
            make,
            verify,
            tail: None,
        });
    }
    let stdout = feed_reader(cmd, &mut input, &counter, progress)?;
    drop(input);
    let sha256 = hasher.and_then(|h| {
        let h = Arc::try_unwrap(h).ok()?.into_inner().ok()?;
        Some(crate::fsutil::hex(&h.finalize()))
    });
    let tables = Arc::try_unwrap(scanner)
        .ok()
        .and_then(|m| m.into_inner().ok())
        .map(|s| s.tables)
        .unwrap_or_default();
    let notes = notes.lock().map(|n| n.clone()).unwrap_or_default();
    Ok(Fed {
        stdout,
        tables,
        sha256,
        notes,
    })
}

/// `inner` (the file's bytes) decompressed as `source`'s format says.
fn decoder(source: &Source, inner: impl Read + Send + 'static) -> Result<Box<dyn Read + Send>> {
    Ok(match source.format.packing() {
        Some(packing) => packing
            .reader(BufReader::with_capacity(256 * 1024, inner))
            .map_err(|e| Error::new(format!("cannot read {}: {e}", source.path.display())))?,
        None => Box::new(inner),
    })
}

/// A plain PostgreSQL dump as psql may read it: scanned (`sqlscan`: a
/// refused construct fails the read before psql sees it) and, when the
/// container's psql knows `\restrict`, between budgie's own
/// `\restrict KEY` / `\unrestrict KEY`, which the file cannot know.
fn guarded(
    source: &Source,
    sql: Box<dyn Read + Send>,
    notes: Arc<Mutex<Vec<String>>>,
) -> Box<dyn Read + Send> {
    let postgres_sql = source.dialect == Some(Dialect::Postgres) && source.format.is_sql_text();
    if !postgres_sql || source.allow_meta_commands {
        return sql;
    }
    // A pg_dumpall section's `\connect` to its own database is understood.
    let scanner = match &source.section {
        Some(name) => super::sqlscan::Scanner::for_section(name),
        None => super::sqlscan::Scanner::default(),
    }
    .for_server(source.server_version);
    let sql = super::sqlguard::Guarded::with(sql, scanner, Some(notes));
    match &source.restrict_key {
        Some(key) => Box::new(
            std::io::Cursor::new(format!("\\restrict {key}\n"))
                .chain(sql)
                .chain(std::io::Cursor::new(format!("\n\\unrestrict {key}\n"))),
        ),
        None => Box::new(sql),
    }
}

/// The databases a MariaDB dump holds parts of (`--databases` or
/// `--all-databases`), read through once; empty for a one-database dump.
pub fn mariadb_parts(source: &Source) -> Result<Vec<String>> {
    read_through(source, crate::databases::mariadb::databases_in)
}

/// The databases a `pg_dumpall` file holds sections for, read through
/// once (`restore::cluster`).
pub fn cluster_databases(source: &Source) -> Result<Vec<String>> {
    read_through(source, super::cluster::databases_in)
}

/// `read` of the file decompressed, its I/O errors naming the file.
fn read_through<T>(
    source: &Source,
    read: impl FnOnce(Box<dyn Read + Send>) -> std::io::Result<T>,
) -> Result<T> {
    let path = &source.path;
    let cannot = |e: std::io::Error| Error::new(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(cannot)?;
    read(decoder(source, file)?).map_err(cannot)
}

/// Streams `input` into `cmd`'s stdin. Returns the command's stdout when it
/// exits 0; otherwise fails with its stderr. Ctrl-C kills it (exit 130).
fn feed_reader(
    cmd: &Cmd,
    input: &mut dyn Read,
    counter: &AtomicU64,
    progress: &dyn Fn(u64),
) -> Result<String> {
    let (handle, mut writer) = cmd.start_fed(crate::backup::stream::enlarge_pipe)?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut feed_error = None;
    loop {
        if interrupted() {
            let _ = handle.kill();
            return Err(Error::interrupted());
        }
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = handle.kill();
                let text = e.to_string();
                if let Some(why) = text.strip_prefix(super::sqlguard::REFUSED) {
                    return Err(Error::new(format!(
                        "budgie refused the file at {why}; psql never read it"
                    ))
                    .hint(
                        "a dump written by pg_dump holds none of this: look at the file. Only if you wrote it yourself and trust every line: budgie restore FILE --unsafe-allow-meta-commands",
                    ));
                }
                return Err(Error::new(format!("reading the input failed: {e}")));
            }
        };
        if let Err(e) = writer.write_all(&buf[..n]) {
            // The loader stopped reading (it failed): its own message says why.
            feed_error = Some(e);
            break;
        }
        progress(counter.load(Ordering::Relaxed));
    }
    drop(writer);
    let out = handle
        .wait()
        .map_err(|e| Error::new(format!("waiting for `{cmd}` failed: {e}")))?;
    if interrupted() {
        return Err(Error::interrupted());
    }
    if !out.status.success() {
        return Err(cmd.failure(out));
    }
    if let Some(e) = feed_error {
        return Err(Error::new(format!("writing to `{cmd}` failed: {e}")));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Builds the SQL sent after a dump from the tables it creates.
pub type TrailerFn = Box<dyn Fn(&[String]) -> String + Send>;

/// A last check at the dump's end; its error stops the session before the
/// trailer (the swap) is sent.
pub type VerifyFn = Box<dyn Fn() -> std::result::Result<(), String> + Send>;

/// After the dump's last byte, yields [`swap_trailer`] (built then, from
/// the tables the scanner saw).
struct Trailer<R> {
    inner: R,
    scanner: Arc<Mutex<TableScanner>>,
    make: TrailerFn,
    /// Checked at the dump's end, before the trailer goes out.
    verify: Option<VerifyFn>,
    tail: Option<std::io::Cursor<Vec<u8>>>,
}

impl<R: Read> Read for Trailer<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.tail.is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            if let Some(verify) = &self.verify {
                verify().map_err(std::io::Error::other)?;
            }
            let tables = self
                .scanner
                .lock()
                .map(|s| s.tables.clone())
                .unwrap_or_default();
            self.tail = Some(std::io::Cursor::new((self.make)(&tables).into_bytes()));
        }
        match &mut self.tail {
            Some(t) => t.read(buf),
            None => Ok(0),
        }
    }
}
