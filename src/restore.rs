//! Restoring a database: input validation and the atomic swap.
//!
//! The scripts budgie replaces dropped the database and then loaded the
//! file, so a bad file destroyed the data it was meant to protect. Here the
//! current database is never touched until the replacement is complete:
//!
//! 1. the file is checked by content (format, header, end marker) before
//!    anything else — see `backup::verify`;
//! 2. it is loaded into a fresh scratch database on the same server, in one
//!    transaction that stops at the first error;
//! 3. the scratch database is checked (the tables the dump creates exist);
//! 4. only then: connections to the current database are switched off and
//!    its sessions terminated, and in ONE transaction the current database is
//!    renamed aside and the scratch one renamed into its place;
//! 5. the old one is dropped (or kept with `--keep-previous`).
//!
//! Any failure or interrupt before step 4 drops the scratch database and
//! leaves the current one exactly as it was (DESIGN.md invariant 4).

use std::io::{BufReader, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::backup::verify::{self, Format};
use crate::compose::{Database, Secret};
use crate::engine::{Cmd, Engine};
use crate::error::{Error, Result};
use crate::plan::interrupted;

/// The longest PostgreSQL identifier (NAMEDATALEN - 1).
const MAX_IDENT: usize = 63;

/// A validated dump file, ready to load.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub format: Format,
    pub bytes: u64,
    /// "Dumped from database version ..." when the header says.
    pub header: Option<String>,
    /// For a plain dump checked by head and tail only: the checksum recorded
    /// at backup time, compared with the bytes as they are loaded (before
    /// the swap). None when the whole file was already verified.
    pub expected_sha256: Option<String>,
}

/// Checks a file before anything is touched: it exists, is readable, is a
/// plain, gzip, zstd or custom-format dump by content, and (for plain dumps,
/// compressed or not) carries the pg_dump header and end marker.
pub fn validate(path: &Path) -> Result<Source> {
    // A plain dump: header and end marker are at its ends; the checksum is
    // checked as the load reads every byte. Everything else: a full read.
    if let Some(q) = verify::quick_plain(path)? {
        if !q.problems.is_empty() {
            return Err(refuse(path, &q.problems, ""));
        }
        return Ok(Source {
            path: path.to_path_buf(),
            format: Format::Plain,
            bytes: q.bytes,
            header: q.header,
            expected_sha256: q.recorded_sha256,
        });
    }
    let report = verify::verify(path)?;
    if matches!(report.format, Format::TarZstd) {
        return Err(Error::new(format!(
            "{} is a volume archive, not a database dump",
            path.display()
        ))
        .hint("restore it into its volume: budgie restore FILE --volume KEY"));
    }
    if !report.complete {
        return Err(refuse(
            path,
            &report.problems,
            "it is not a complete PostgreSQL dump",
        ));
    }
    Ok(Source {
        path: path.to_path_buf(),
        format: report.format,
        bytes: report.bytes,
        header: report.header,
        expected_sha256: None,
    })
}

/// The error for a file that is not restored: what is wrong with it (or
/// `otherwise` when the checks named nothing), and that nothing changed.
fn refuse(path: &Path, problems: &[String], otherwise: &str) -> Error {
    let why = if problems.is_empty() {
        otherwise.to_string()
    } else {
        problems.join("; ")
    };
    Error::new(format!(
        "refusing to restore {}: {why}; nothing was changed",
        path.display()
    ))
}

/// `"name"` with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with embedded quotes doubled.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `<db>_budgie_<kind>_<YYYYMMDDHHMMSS>`, shortened to fit an identifier.
pub fn side_name(db: &str, kind: &str, stamp: &str) -> String {
    let suffix = format!("_budgie_{kind}_{stamp}");
    let room = MAX_IDENT.saturating_sub(suffix.len());
    let mut head = String::new();
    for c in db.chars() {
        if head.len() + c.len_utf8() > room {
            break;
        }
        head.push(c);
    }
    format!("{head}{suffix}")
}

/// Runs SQL through psql in the database container, as the database user,
/// connected to `dbname`. Returns psql's unaligned, tuples-only output.
pub fn psql(
    engine: &Engine,
    container: &str,
    db: &Database,
    dbname: &str,
    sql: &str,
) -> Result<String> {
    psql_cmd(engine, container, db, dbname, &["-c", sql]).read()
}

/// The password (never on a command line: `-e PGPASSWORD`, value in the
/// environment) and the application name that lets a later budgie find
/// the sessions of an interrupted restore (`crate::recover`).
fn secret_env(db: &Database) -> Vec<(String, Secret)> {
    session_env(db, crate::recover::RESTORE_APP)
}

fn session_env(db: &Database, app: &str) -> Vec<(String, Secret)> {
    let mut env: Vec<(String, Secret)> = db
        .password
        .iter()
        .map(|p| ("PGPASSWORD".to_string(), p.clone()))
        .collect();
    env.push(("PGAPPNAME".to_string(), Secret::new(app)));
    env
}

fn psql_cmd(engine: &Engine, container: &str, db: &Database, dbname: &str, extra: &[&str]) -> Cmd {
    psql_cmd_stdin(engine, container, db, dbname, extra, !extra.contains(&"-c"))
}

fn psql_cmd_stdin(
    engine: &Engine,
    container: &str,
    db: &Database,
    dbname: &str,
    extra: &[&str],
    stdin: bool,
) -> Cmd {
    let mut args = vec![
        "psql",
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "--no-password",
        "-U",
        &db.user,
        "-d",
        dbname,
    ];
    args.extend_from_slice(extra);
    engine.exec(container, stdin, false, &secret_env(db), &args)
}

/// The command that loads a dump of `format` from stdin into `target`.
pub fn load_command(
    engine: &Engine,
    container: &str,
    db: &Database,
    target: &str,
    format: Format,
) -> Cmd {
    match format {
        Format::Custom => engine.exec(
            container,
            true,
            false,
            &secret_env(db),
            &[
                "pg_restore",
                "--exit-on-error",
                "--single-transaction",
                "--no-password",
                "-U",
                &db.user,
                "-d",
                target,
            ],
        ),
        _ => psql_cmd(engine, container, db, target, &["--single-transaction"]),
    }
}

/// What the current database holds: size in bytes and number of tables.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Current {
    pub bytes: u64,
    pub tables: u64,
}

pub fn describe_current(engine: &Engine, container: &str, db: &Database) -> Result<Current> {
    let out = psql(
        engine,
        container,
        db,
        &db.name,
        "select pg_database_size(current_database()), (select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema'))",
    )?;
    let mut parts = out.trim().split('|');
    let bytes = parts
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let tables = parts
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    Ok(Current { bytes, tables })
}

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

/// Finds the tables a plain dump creates (`schema.name`) in its
/// `CREATE TABLE` statements, fed in pieces as the dump streams past —
/// skipping COPY data, whose rows are one line each up to `\.`.
#[derive(Debug, Default)]
pub struct TableScanner {
    /// The start of the current line (enough for a statement's head).
    prefix: Vec<u8>,
    /// The last bytes of the current line (for `... FROM stdin;`).
    suffix: Vec<u8>,
    in_copy: bool,
    pub tables: Vec<String>,
}

impl TableScanner {
    const PREFIX: usize = 300;
    const SUFFIX: usize = 16;

    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let (part, rest, ends) = match data.iter().position(|&b| b == b'\n') {
                Some(i) => (&data[..i], &data[i + 1..], true),
                None => (data, &data[data.len()..], false),
            };
            let room = Self::PREFIX.saturating_sub(self.prefix.len());
            self.prefix.extend_from_slice(&part[..part.len().min(room)]);
            self.suffix.extend_from_slice(part);
            if self.suffix.len() > Self::SUFFIX {
                let cut = self.suffix.len() - Self::SUFFIX;
                self.suffix.drain(..cut);
            }
            if ends {
                self.line_done();
            }
            data = rest;
        }
    }

    fn line_done(&mut self) {
        let line = std::mem::take(&mut self.prefix);
        let suffix = std::mem::take(&mut self.suffix);
        if self.in_copy {
            if line.starts_with(b"\\.") {
                self.in_copy = false;
            }
            return;
        }
        if line.starts_with(b"COPY ") && suffix.trim_ascii_end().ends_with(b"FROM stdin;") {
            self.in_copy = true;
            return;
        }
        for lead in [&b"CREATE TABLE "[..], &b"CREATE UNLOGGED TABLE "[..]] {
            if let Some(rest) = line.strip_prefix(lead)
                && let Some(end) = rest.iter().position(|&b| b == b' ' || b == b'(')
            {
                self.tables
                    .push(String::from_utf8_lossy(&rest[..end]).into_owned());
            }
        }
    }
}

/// The tables a whole plain dump creates (see [`TableScanner`]).
#[cfg(test)]
pub fn tables_in_sql(mut reader: impl Read) -> Result<Vec<String>> {
    let mut scanner = TableScanner::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| Error::new(format!("reading the dump failed: {e}")))?;
        if n == 0 {
            break;
        }
        scanner.feed(&buf[..n]);
    }
    Ok(scanner.tables)
}

/// The tables a custom-format dump creates, from `pg_restore -l`.
pub fn tables_in_custom(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in list.lines() {
        if l.starts_with(';') {
            continue;
        }
        // `215; 1259 16385 TABLE public t app`
        let cols: Vec<&str> = l.split_whitespace().collect();
        if let Some(i) = cols.iter().position(|c| *c == "TABLE")
            && cols.get(i + 1) != Some(&"DATA")
            && let (Some(schema), Some(name)) = (cols.get(i + 1), cols.get(i + 2))
        {
            out.push(format!("{schema}.{name}"));
        }
    }
    out
}

/// What streaming a file into a loader saw on the way.
#[derive(Debug, Default)]
struct Fed {
    /// The loader's stdout.
    stdout: String,
    /// The tables the SQL creates (plain SQL only).
    tables: Vec<String>,
    /// The file's sha256, when it was computed.
    sha256: Option<String>,
}

/// Streams `source` into `cmd`'s stdin: the raw bytes when `raw`, else
/// decompressed. For SQL it notes the tables created, and it hashes the
/// file when `hash` (to compare with a recorded checksum).
fn feed(cmd: &Cmd, source: &Source, raw: bool, hash: bool, progress: &dyn Fn(u64)) -> Result<Fed> {
    feed_inner(cmd, source, raw, hash, None, progress)
}

/// [`feed`] for plain SQL, with `trailer(tables)` sent after the dump.
fn feed_with_trailer(
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
        let decoded: Box<dyn Read + Send> = match source.format {
            Format::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                256 * 1024,
                counting,
            ))),
            Format::Zstd | Format::TarZstd => Box::new(
                zstd::stream::read::Decoder::new(counting)
                    .map_err(|e| Error::new(format!("cannot read {}: {e}", path.display())))?,
            ),
            _ => Box::new(counting),
        };
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
    Ok(Fed {
        stdout,
        tables,
        sha256,
    })
}

/// Streams `input` into `cmd`'s stdin. Returns the command's stdout when it
/// exits 0; otherwise fails with its stderr. Ctrl-C kills it (exit 130).
fn feed_reader(
    cmd: &Cmd,
    input: &mut dyn Read,
    counter: &AtomicU64,
    progress: &dyn Fn(u64),
) -> Result<String> {
    let (reader, mut writer) =
        std::io::pipe().map_err(|e| Error::new(format!("cannot create a pipe: {e}")))?;
    crate::backup::stream::enlarge_pipe(&reader);
    let handle = cmd
        .expression()
        .stdin_file(reader)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .map_err(|e| cmd.spawn_error(e))?;
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

/// Checks a volume archive made by `budgie backup --volume` before use.
pub fn validate_archive(path: &Path) -> Result<Source> {
    let report = verify::verify(path)?;
    if !matches!(report.format, Format::TarZstd) || !report.complete {
        return Err(refuse(
            path,
            &report.problems,
            "it is not a volume archive (.tar.zst) made by budgie backup --volume",
        ));
    }
    Ok(Source {
        path: path.to_path_buf(),
        format: report.format,
        bytes: report.bytes,
        header: None,
        expected_sha256: None,
    })
}

/// The command that replaces a volume's contents with a tar on stdin: a
/// throwaway container of `image`, no network, the volume mounted.
pub fn volume_restore_command(engine: &Engine, volume: &str, image: &str) -> Cmd {
    engine.run_with_volume(
        volume,
        image,
        &[
            "sh",
            "-c",
            "cd /volume && rm -rf -- * .[!.]* ..?* && tar -xf - -C /volume",
        ],
    )
}

/// Replaces a volume's contents with an archive's.
pub fn restore_volume(
    engine: &Engine,
    volume: &str,
    image: &str,
    archive: &Source,
    progress: &dyn Fn(u64),
) -> Result<()> {
    let cmd = volume_restore_command(engine, volume, image);
    feed(&cmd, archive, false, false, progress).map(|_| ())
}

/// A scratch database that is dropped when this goes out of scope, unless
/// it was swapped in.
pub struct Scratch<'a> {
    engine: &'a Engine,
    container: String,
    db: &'a Database,
    pub name: String,
    armed: bool,
}

impl<'a> Scratch<'a> {
    /// Creates an empty database owned by the database user.
    pub fn create(
        engine: &'a Engine,
        container: &str,
        db: &'a Database,
        stamp: &str,
    ) -> Result<Scratch<'a>> {
        let name = side_name(&db.name, "restore", stamp);
        psql(
            engine,
            container,
            db,
            "postgres",
            &format!(
                "CREATE DATABASE {} OWNER {}",
                quote_ident(&name),
                quote_ident(&db.user)
            ),
        )
        .or_else(|_| {
            psql(
                engine,
                container,
                db,
                "template1",
                &format!(
                    "CREATE DATABASE {} OWNER {}",
                    quote_ident(&name),
                    quote_ident(&db.user)
                ),
            )
        })
        .map_err(|e| e.context("could not create the scratch database"))?;
        Ok(Scratch {
            engine,
            container: container.to_string(),
            db,
            name,
            armed: true,
        })
    }

    /// Leaves the database alone from now on (it was swapped in).
    fn disarm(&mut self) {
        self.armed = false;
    }

    pub fn drop_now(&mut self) -> Result<()> {
        if !self.armed {
            return Ok(());
        }
        self.armed = false;
        drop_database(self.engine, &self.container, self.db, &self.name)
    }
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        let _ = self.drop_now();
    }
}

/// `DROP DATABASE ... WITH (FORCE)`, from the maintenance database.
pub fn drop_database(engine: &Engine, container: &str, db: &Database, name: &str) -> Result<()> {
    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name));
    psql(engine, container, db, maintenance_db(db), &sql)
        .or_else(|_| {
            // Before PostgreSQL 13 there is no FORCE.
            let sql = format!("DROP DATABASE IF EXISTS {}", quote_ident(name));
            psql(engine, container, db, maintenance_db(db), &sql)
        })
        .map(|_| ())
}

/// The database to connect to while renaming or dropping others.
pub fn maintenance_db(db: &Database) -> &'static str {
    if db.name == "postgres" {
        "template1"
    } else {
        "postgres"
    }
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub database: String,
    pub file: String,
    pub tables: u64,
    pub seconds: f64,
    /// The previous database's name when `--keep-previous` kept it.
    pub previous: Option<String>,
}

/// Loads `source` into a scratch database and checks it, then swaps it in
/// for the current database. See the module documentation for the order.
pub fn restore(
    engine: &Engine,
    container: &str,
    db: &Database,
    source: &Source,
    keep_previous: bool,
    stamp: &str,
    progress: &dyn Fn(u64),
) -> Result<Restored> {
    let started = Instant::now();
    let old = side_name(&db.name, "old", stamp);
    let tables = if source.format == Format::Custom {
        let (mut scratch, expected) = load_scratch(engine, container, db, source, stamp, progress)?;
        if interrupted() {
            return Err(Error::interrupted());
        }
        crate::recover::crash_point("restore:loaded");
        let tables = check_and_swap(engine, container, db, &scratch.name, &old, &expected)?;
        scratch.disarm();
        tables
    } else {
        let scratch = side_name(&db.name, "restore", stamp);
        one_session(engine, container, db, source, &scratch, &old, progress)?
    };
    crate::recover::crash_point("restore:swapped");
    let previous = if keep_previous {
        let _ = psql(
            engine,
            container,
            db,
            maintenance_db(db),
            &format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS true",
                quote_ident(&old)
            ),
        );
        Some(old)
    } else {
        drop_in_background(engine, container, db, &old).map_err(|e| {
            e.context(format!(
                "the restore is done, but the previous database could not be dropped; it is kept as {old}"
            ))
        })?;
        None
    };
    Ok(Restored {
        database: db.name.clone(),
        file: source.path.display().to_string(),
        tables,
        seconds: started.elapsed().as_secs_f64(),
        previous,
    })
}

/// Drops the set-aside database without waiting: PostgreSQL's DROP
/// DATABASE forces a checkpoint that writes out the whole freshly restored
/// database, which costs as long as a good part of the load. The restore is
/// complete and committed before this runs; a drop that does not finish
/// leaves a `<db>_budgie_old_*` database, which is only the old data.
fn drop_in_background(engine: &Engine, container: &str, db: &Database, name: &str) -> Result<()> {
    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name));
    let mut cmd = psql_cmd(engine, container, db, maintenance_db(db), &["-c", &sql]);
    // Not a restore session: a later budgie's recovery must not end it.
    cmd.env = session_env(db, "budgie-drop");
    // `exec -d`: the engine returns once psql has started in the container.
    if let Some(pos) = cmd.argv.iter().position(|a| a == "exec") {
        cmd.argv.insert(pos + 1, "-d".into());
    }
    cmd.read().map(|_| ())
}

/// The SQL that follows a plain dump in the same psql session: commit the
/// load, check it, count its tables, and swap it in.
fn swap_trailer(db: &Database, scratch: &str, old: &str, expected: &[String]) -> String {
    let mut sql = String::from("\nCOMMIT;\n");
    for statement in check_and_swap_sql(db, scratch, old, expected) {
        sql.push_str(&statement);
        // psql meta-commands end at the line's end, SQL at the semicolon.
        sql.push_str(if statement.starts_with('\\') {
            "\n"
        } else {
            ";\n"
        });
    }
    sql
}

/// Builds the SQL sent after a dump from the tables it creates.
type TrailerFn = Box<dyn Fn(&[String]) -> String + Send>;

/// A last check at the dump's end; its error stops the session before the
/// trailer (the swap) is sent.
type VerifyFn = Box<dyn Fn() -> std::result::Result<(), String> + Send>;

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

/// Plain SQL (compressed or not) in ONE psql session: create the scratch
/// database, load the dump in a transaction, commit, check, swap — the
/// check and swap follow the dump on the same stdin, so they run only if
/// every statement of the dump succeeded (ON_ERROR_STOP). Returns the
/// number of tables. On any failure the scratch database is dropped and the
/// current one opened again; it was never renamed unless all succeeded.
fn one_session(
    engine: &Engine,
    container: &str,
    db: &Database,
    source: &Source,
    scratch: &str,
    old: &str,
    progress: &dyn Fn(u64),
) -> Result<u64> {
    let create = format!(
        "CREATE DATABASE {} OWNER {}",
        quote_ident(scratch),
        quote_ident(&db.user)
    );
    let connect = format!("\\c {}", quote_ident(scratch));
    let cmd = psql_cmd_stdin(
        engine,
        container,
        db,
        maintenance_db(db),
        &["-c", &create, "-c", &connect, "-c", "BEGIN", "-f", "-"],
        true,
    );
    let (db2, scratch2, old2) = (db.clone(), scratch.to_string(), old.to_string());
    let fed = feed_with_trailer(
        &cmd,
        source,
        Box::new(move |tables: &[String]| swap_trailer(&db2, &scratch2, &old2, tables)),
        progress,
    );
    let result = fed.and_then(|fed| {
        if let (Some(expected), Some(found)) = (&source.expected_sha256, &fed.sha256)
            && !expected.eq_ignore_ascii_case(found)
        {
            return Err(Error::new(format!(
                "refusing to restore {}: it does not match the checksum recorded when it was written (sha256 {expected} expected, {found} found)",
                source.path.display()
            )));
        }
        Ok(fed)
    });
    match result {
        Ok(fed) => Ok(table_count(&fed.stdout)),
        Err(e) => {
            // Nothing was renamed unless the last transaction committed, and
            // then psql succeeded. Open the current database again and drop
            // the scratch copy.
            reopen(engine, container, db);
            let dropped = drop_database(engine, container, db, scratch).is_ok();
            let e = e.context(format!(
                "loading {} failed, nothing was changed",
                source.path.display()
            ));
            Err(if dropped {
                e
            } else {
                e.hint(format!(
                    "the scratch copy {scratch} could not be dropped now; the next budgie command that finds the database running drops it"
                ))
            })
        }
    }
}

/// Loads `source` into a new scratch database (the returned guard drops it
/// unless it is swapped in). Returns the tables the dump creates, for the
/// check. A recorded checksum that the bytes do not match fails it.
pub fn load_scratch<'a>(
    engine: &'a Engine,
    container: &str,
    db: &'a Database,
    source: &Source,
    stamp: &str,
    progress: &dyn Fn(u64),
) -> Result<(Scratch<'a>, Vec<String>)> {
    // A custom-format archive lists its tables; plain SQL is scanned as it loads.
    let listed = match source.format {
        Format::Custom => {
            let fed = feed(
                &engine.exec(container, true, false, &[], &["pg_restore", "-l"]),
                source,
                true,
                false,
                &|_| {},
            )?;
            Some(tables_in_custom(&fed.stdout))
        }
        _ => None,
    };
    let scratch = Scratch::create(engine, container, db, stamp)?;
    let cmd = load_command(engine, container, db, &scratch.name, source.format);
    let fed = feed(
        &cmd,
        source,
        source.format == Format::Custom,
        source.expected_sha256.is_some(),
        progress,
    )
    .map_err(|e| {
        e.context(format!(
            "loading {} failed, nothing was changed",
            source.path.display()
        ))
    })?;
    if let (Some(expected), Some(found)) = (&source.expected_sha256, &fed.sha256)
        && !expected.eq_ignore_ascii_case(found)
    {
        return Err(Error::new(format!(
            "refusing to restore {}: it does not match the checksum recorded when it was written (sha256 {expected} expected, {found} found); nothing was changed",
            source.path.display()
        )));
    }
    Ok((scratch, listed.unwrap_or(fed.tables)))
}

/// SQL that fails unless every table in `expected` exists.
fn check_tables_sql(expected: &[String]) -> String {
    let list = expected
        .iter()
        .map(|t| quote_literal(t))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "DO $budgie$ DECLARE missing text; BEGIN \
         SELECT string_agg(t, ', ') INTO missing FROM unnest(ARRAY[{list}]::text[]) AS t WHERE to_regclass(t) IS NULL; \
         IF missing IS NOT NULL THEN RAISE EXCEPTION 'the restored copy lacks tables the dump creates: %', missing; END IF; \
         END $budgie$"
    )
}

/// Prints `budgie-tables:<n>`, found again by [`table_count`] among
/// whatever else psql printed (a dump's `setval` calls print numbers too).
const COUNT_TABLES: &str = "select 'budgie-tables:' || count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')";

/// Checks a loaded scratch database on its own (for `--restore-test`):
/// every expected table exists. Returns the number of tables.
pub fn check_tables(
    engine: &Engine,
    container: &str,
    db: &Database,
    scratch: &str,
    expected: &[String],
) -> Result<u64> {
    let out = psql_cmd(
        engine,
        container,
        db,
        scratch,
        &["-c", &check_tables_sql(expected), "-c", COUNT_TABLES],
    )
    .read()?;
    Ok(table_count(&out))
}

/// In one psql session: checks the scratch copy (every table the dump
/// creates exists), then shuts the current database's sessions out and, in
/// one transaction, renames it aside and the scratch one into its place.
/// Returns the number of tables restored.
fn check_and_swap(
    engine: &Engine,
    container: &str,
    db: &Database,
    scratch: &str,
    old: &str,
    expected: &[String],
) -> Result<u64> {
    let statements = check_and_swap_sql(db, scratch, old, expected);
    let mut args: Vec<&str> = Vec::new();
    for statement in &statements {
        args.push("-c");
        args.push(statement);
    }
    let swapped = psql_cmd(engine, container, db, scratch, &args).read();
    match swapped {
        Ok(out) => Ok(table_count(&out)),
        Err(e) => {
            reopen(engine, container, db);
            Err(e
                .context("the restored copy was not swapped in; the current database is unchanged"))
        }
    }
}

/// In order, stopping at the first error (ON_ERROR_STOP), in a session
/// connected to the scratch copy:
/// 1. the check (every table the dump creates exists) and the table count;
/// 2. over to the maintenance database; no new sessions on the current
///    database (a pooled app would slip back in), committed;
/// 3. end the existing ones;
/// 4. both renames or neither, and connections back on.
fn check_and_swap_sql(db: &Database, scratch: &str, old: &str, expected: &[String]) -> Vec<String> {
    let current = quote_ident(&db.name);
    vec![
        check_tables_sql(expected),
        COUNT_TABLES.to_string(),
        format!("\\c {}", maintenance_db(db)),
        format!("ALTER DATABASE {current} ALLOW_CONNECTIONS false"),
        format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname IN ({}, {}) AND pid <> pg_backend_pid()",
            quote_literal(&db.name),
            quote_literal(scratch)
        ),
        format!(
            "BEGIN; ALTER DATABASE {current} RENAME TO {}; ALTER DATABASE {} RENAME TO {current}; ALTER DATABASE {current} ALLOW_CONNECTIONS true; COMMIT",
            quote_ident(old),
            quote_ident(scratch)
        ),
    ]
}

/// The table count [`COUNT_TABLES`] printed, found among psql's output.
fn table_count(out: &str) -> u64 {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("budgie-tables:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Opens the current database to connections again after a failed swap:
/// whatever step failed, it is still in place under its name (the renames
/// are one transaction).
fn reopen(engine: &Engine, container: &str, db: &Database) {
    let sql = format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS true",
        quote_ident(&db.name)
    );
    let _ = psql(engine, container, db, maintenance_db(db), &sql);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("app"), "\"app\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }

    #[test]
    fn side_names_fit_an_identifier() {
        assert_eq!(
            side_name("app", "restore", "20260101120000"),
            "app_budgie_restore_20260101120000"
        );
        let long = "x".repeat(80);
        let n = side_name(&long, "old", "20260101120000");
        assert!(n.len() <= 63, "{n}");
        assert!(n.ends_with("_budgie_old_20260101120000"));
        let n = side_name(&"é".repeat(40), "old", "1");
        assert!(n.len() <= 63);
    }

    #[test]
    fn the_scanner_does_not_care_where_pieces_break() {
        let sql = "CREATE TABLE public.a (\n x int\n);\nCOPY public.a (x) FROM stdin;\nCREATE TABLE fake (\n\\.\nCREATE TABLE public.b (y int);\n";
        for size in [1, 2, 3, 7, 64] {
            let mut s = TableScanner::default();
            for piece in sql.as_bytes().chunks(size) {
                s.feed(piece);
            }
            assert_eq!(s.tables, ["public.a", "public.b"], "pieces of {size}");
        }
    }

    #[test]
    fn the_swap_after_a_dump_is_the_same_sql_as_on_its_own() {
        let db = Database {
            service: "db".into(),
            detected_by: crate::compose::DetectedBy::Image,
            user: "app".into(),
            name: "appdb".into(),
            password_var: None,
            password: None,
            volume: None,
            data_dir: "/var/lib/postgresql/data".into(),
        };
        let statements = check_and_swap_sql(&db, "s", "o", &["public.t".into()]);
        let trailer = swap_trailer(&db, "s", "o", &["public.t".into()]);
        assert!(trailer.starts_with("\nCOMMIT;\n"));
        for st in &statements {
            assert!(trailer.contains(st.as_str()), "{st}");
        }
        assert!(trailer.contains("\n\\c postgres\n"), "{trailer}");
        assert!(trailer.ends_with("COMMIT;\n"), "{trailer}");
        assert_eq!(table_count("\n42\nbudgie-tables:7\n3\n"), 7);
    }

    #[test]
    fn the_table_check_quotes_what_the_dump_says() {
        let sql = check_tables_sql(&["public.a".into(), "\"Odd\".\"it's\"".into()]);
        assert!(
            sql.contains("ARRAY['public.a', '\"Odd\".\"it''s\"']"),
            "{sql}"
        );
    }

    #[test]
    fn finds_the_tables_a_dump_creates() {
        let sql = "SET x = 1;\nCREATE TABLE public.ledger (\n    id integer\n);\nCREATE TABLE \"Odd\".\"T\" (x int);\nCREATE UNLOGGED TABLE public.cache (k text);\nCOPY public.ledger (id) FROM stdin;\nCREATE TABLE in data\n\\.\n";
        assert_eq!(
            tables_in_sql(sql.as_bytes()).unwrap(),
            ["public.ledger", "\"Odd\".\"T\"", "public.cache"]
        );
        let list = ";\n; Archive created at ...\n215; 1259 16385 TABLE public ledger app\n3345; 0 16385 TABLE DATA public ledger app\n216; 1259 16390 SEQUENCE public s app\n";
        assert_eq!(tables_in_custom(list), ["public.ledger"]);
    }
}
