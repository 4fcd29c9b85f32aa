//! Is this file a complete backup?
//!
//! Backups are checked when they are written (see `writer`), but a file can
//! be copied from another server, cut by a full disk before budgie existed,
//! or edited. Before a restore trusts a file, and when `budgie backups`
//! lists them, this module reads the file once, in constant memory:
//!
//! - it recognizes the format by content (magic bytes), not by name;
//! - it decompresses gzip and zstd streams to their end (a truncated or
//!   corrupt stream is a problem);
//! - a plain dump needs pg_dump's header line near the start and its
//!   dump-complete marker at the end ([`dump_is_complete`]);
//! - a zstd-compressed tar archive (a volume backup) must end with the tar
//!   end-of-archive blocks ([`TarCheck`]);
//! - it computes the SHA-256 of the file in the same pass and compares it
//!   with the one recorded in the `.meta.json` sidecar, if any.
//!
//! It never prints and never fails on content: content problems are listed
//! in the [`Report`]; only I/O problems are errors.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::format::{
    CLUSTER_COMPLETE_MARKER, DUMP_COMPLETE_MARKER, Dialect, MARIADB_COMPLETE_MARKER, TAIL_BYTES,
    Tail, cluster_dump_is_complete, dump_is_complete, is_cluster_dump, mariadb_dump_is_complete,
    mariadb_header,
};
use super::meta::{meta_path, read_meta};
use super::packing::Packing;
use super::pgarchive;
use super::tar::TarCheck;
use crate::error::{Error, Result};
use crate::fsutil::hex;

/// How much of the start of the (uncompressed) content is inspected.
const HEAD_BYTES: usize = 64 * 1024;

/// Read buffer size.
const CHUNK: usize = 256 * 1024;

/// The header line every plain pg_dump starts with.
const DUMP_HEADER: &str = "-- PostgreSQL database dump";

/// What a file holds, told by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A plain-text SQL dump.
    Plain,
    /// A gzip-compressed plain dump.
    Gzip,
    /// A zstd-compressed plain dump.
    Zstd,
    /// An xz-compressed plain dump.
    Xz,
    /// A bzip2-compressed plain dump.
    Bzip2,
    /// A `pg_dump -Fc` archive.
    Custom,
    /// A `pg_dump -Ft` archive (a tar of `toc.dat` and the tables' data).
    Tar,
    /// A `pg_dump -Fd` archive: a directory holding `toc.dat` and the
    /// tables' data files.
    Directory,
    /// A `pg_dump -Fd` directory kept as one tar (`budgie backup --format
    /// directory` writes `.dir.tar`).
    DirectoryTar,
    /// Not a file: a snapshot in the database's cluster (`budgie snapshot
    /// restore`).
    Snapshot,
    /// A zstd-compressed tar archive (a volume backup).
    TarZstd,
    /// Encrypted to age recipients: its content is checked once decrypted
    /// (with the identity); without it, only its checksum.
    Age,
    /// Empty, or not something budgie knows.
    Unknown,
}

impl Format {
    /// The compression of the file itself, if any.
    pub fn packing(self) -> Option<Packing> {
        match self {
            Format::Gzip => Some(Packing::Gzip),
            Format::Zstd | Format::TarZstd => Some(Packing::Zstd),
            Format::Xz => Some(Packing::Xz),
            Format::Bzip2 => Some(Packing::Bzip2),
            Format::Plain
            | Format::Custom
            | Format::Tar
            | Format::Directory
            | Format::DirectoryTar
            | Format::Snapshot
            | Format::Age
            | Format::Unknown => None,
        }
    }

    /// SQL text, compressed or not (what psql reads).
    pub fn is_sql_text(self) -> bool {
        matches!(
            self,
            Format::Plain | Format::Gzip | Format::Zstd | Format::Xz | Format::Bzip2
        )
    }

    /// What the file is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Plain => "plain SQL dump",
            Format::Gzip => "gzip-compressed SQL dump",
            Format::Zstd => "zstd-compressed SQL dump",
            Format::Xz => "xz-compressed SQL dump",
            Format::Bzip2 => "bzip2-compressed SQL dump",
            Format::Custom => "pg_dump custom-format archive",
            Format::Tar => "pg_dump tar-format archive",
            Format::Directory => "pg_dump directory-format archive",
            Format::DirectoryTar => "pg_dump directory-format archive in a tar",
            Format::Snapshot => "snapshot in the database's cluster",
            Format::TarZstd => "volume archive (tar, zstd-compressed)",
            Format::Age => "age-encrypted backup",
            Format::Unknown => "unknown",
        }
    }
}

/// The file's SHA-256 against the one recorded when it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum Checksum {
    Matches,
    Mismatch {
        expected: String,
    },
    /// No readable `.meta.json` next to the file.
    NotRecorded,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub format: Format,
    /// Size of the file.
    pub bytes: u64,
    /// Size of the decompressed content; None when it could not be read to
    /// its end, or for custom-format archives (compressed inside).
    pub uncompressed_bytes: Option<u64>,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
    pub checksum: Checksum,
    /// No problem found. A custom-format archive is read to its end: its
    /// table of contents and every data block (`pgarchive`).
    pub complete: bool,
    /// What is wrong, one sentence each; empty when complete.
    pub problems: Vec<String>,
    /// For a plain dump, e.g. `Dumped from database version 15.18`.
    pub header: Option<String>,
    /// Whose dump it is (None for an archive or an unknown file).
    pub dialect: Option<Dialect>,
}

/// Reads `path` to its end and reports whether it is a complete dump or
/// volume archive.
///
/// Errors only for I/O problems (a missing or unreadable file; the message
/// names the path). Content problems go into [`Report::problems`] with
/// `complete: false`. Memory use is constant whatever the file's size.
pub fn verify(path: &Path) -> Result<Report> {
    let io_err = |e: io::Error| cannot_read(path, &e);
    if path.is_dir() {
        return verify_directory(path);
    }
    let file = File::open(path).map_err(io_err)?;
    let mut reader = HashingReader::new(file);
    let mut head = Vec::with_capacity(HEAD_BYTES);
    (&mut reader)
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io_err)?;

    let mut problems = Vec::new();
    let mut header = None;
    let mut dialect = None;
    let mut uncompressed_bytes = None;
    let format = match detect(&head) {
        Detected::Empty => {
            problems.push("the file is empty".to_string());
            Format::Unknown
        }
        Detected::Unknown => {
            problems.push("not a PostgreSQL dump (unrecognized content)".to_string());
            Format::Unknown
        }
        Detected::Age => age_checks(path, &mut problems),
        Detected::Custom => {
            dialect = Some(Dialect::Postgres);
            match custom_header_problem(&head) {
                Some(p) => problems.push(p),
                None => {
                    let whole = Cursor::new(&head).chain(&mut reader);
                    match pgarchive::check_custom(whole).map_err(io_err)? {
                        Ok(toc) => {
                            header = toc
                                .header
                                .server_version
                                .map(|v| format!("Dumped from database version {v}"));
                        }
                        Err(p) => problems.push(p.0),
                    }
                }
            }
            Format::Custom
        }
        Detected::PgTar => {
            let mut scan = Scan::default();
            scan.feed(&head);
            read_all(&mut reader, &mut scan).map_err(io_err)?;
            problems.extend(scan.tar.problem());
            dialect = Some(Dialect::Postgres);
            Format::Tar
        }
        Detected::OtherTar => {
            let whole = Cursor::new(&head).chain(&mut reader);
            match pgarchive::check_directory_tar(whole) {
                Ok((toc, _)) => {
                    dialect = Some(Dialect::Postgres);
                    header = toc
                        .header
                        .server_version
                        .map(|v| format!("Dumped from database version {v}"));
                    Format::DirectoryTar
                }
                Err(p) => {
                    problems.push(format!(
                        "a tar archive, but not a pg_dump directory-format archive: {p}"
                    ));
                    Format::Unknown
                }
            }
        }
        Detected::Plain => {
            let mut scan = Scan::default();
            scan.feed(&head);
            read_all(&mut reader, &mut scan).map_err(io_err)?;
            uncompressed_bytes = Some(scan.bytes);
            (header, dialect) = plain_checks(&scan, &mut problems);
            Format::Plain
        }
        Detected::Packed(packing) => {
            let read =
                read_compressed(&head, &mut reader, packing, &mut problems).map_err(io_err)?;
            uncompressed_bytes = read.bytes;
            header = read.header;
            dialect = read.dialect;
            read.format
        }
    };
    // Whatever was read so far, hash the file to its end.
    io::copy(&mut reader, &mut io::sink()).map_err(io_err)?;

    let sha256 = hex(&reader.hasher.finalize());
    let checksum = compare_checksum(path, &sha256, &mut problems);
    Ok(Report {
        format,
        bytes: reader.bytes,
        uncompressed_bytes,
        sha256,
        checksum,
        complete: problems.is_empty(),
        problems,
        header,
        dialect,
    })
}

/// An encrypted file: its checksum says whether it is the file budgie
/// wrote; without a record there is nothing to check it against.
fn age_checks(path: &Path, problems: &mut Vec<String>) -> Format {
    if read_meta(path).is_none() {
        problems.push(
            "encrypted, and no .meta.json records its checksum: check its content with the identity (--identity FILE or BUDGIE_AGE_IDENTITY)".to_string(),
        );
    }
    Format::Age
}

/// What reading a compressed file to its end found.
struct Decoded {
    dialect: Option<Dialect>,
    format: Format,
    /// The decompressed size, when the stream could be read to its end.
    bytes: Option<u64>,
    header: Option<String>,
}

/// Reads a gzip or zstd stream (`head`, then the rest of `reader`) to its
/// end: a dump gets the plain checks, a zstd tar the tar check. Problems go
/// into `problems`; only I/O errors of the file itself are errors.
fn read_compressed(
    head: &[u8],
    reader: &mut HashingReader<File>,
    packing: Packing,
    problems: &mut Vec<String>,
) -> io::Result<Decoded> {
    let mut scan = Scan::default();
    let outcome = {
        let input = BufReader::with_capacity(CHUNK, Cursor::new(head).chain(&mut *reader));
        packing
            .reader(input)
            .and_then(|mut d| read_all(&mut d, &mut scan))
    };
    if let Some(e) = reader.io_error.take() {
        return Err(e);
    }
    let decoded = match outcome {
        Ok(()) => true,
        Err(e) => {
            problems.push(format!("compressed stream is truncated or corrupt: {e}"));
            false
        }
    };
    let bytes = decoded.then_some(scan.bytes);
    // A tar: a member header first (its magic at 257), or — the archive of
    // an empty volume — nothing but the end-of-archive zero blocks.
    let empty_tar = decoded
        && scan.bytes >= 1024
        && scan.bytes % 512 == 0
        && scan.bytes == scan.head.len() as u64
        && scan.head.iter().all(|&b| b == 0);
    let is_tar = packing == Packing::Zstd
        && (scan.head.get(257..262) == Some(b"ustar".as_slice()) || empty_tar);
    if is_tar {
        if decoded && let Some(p) = scan.tar.problem() {
            problems.push(p);
        }
        return Ok(Decoded {
            format: Format::TarZstd,
            bytes,
            header: None,
            dialect: None,
        });
    }
    let (header, dialect) = if decoded {
        plain_checks(&scan, problems)
    } else {
        (dumped_from(&scan.head), Some(dialect_of(&scan.head)))
    };
    Ok(Decoded {
        dialect,
        format: match packing {
            Packing::Gzip => Format::Gzip,
            Packing::Zstd => Format::Zstd,
            Packing::Xz => Format::Xz,
            Packing::Bzip2 => Format::Bzip2,
        },
        bytes,
        header,
    })
}

/// The file's SHA-256 against the one its sidecar recorded; a mismatch is
/// also a problem.
fn compare_checksum(path: &Path, sha256: &str, problems: &mut Vec<String>) -> Checksum {
    match read_meta(path) {
        None => Checksum::NotRecorded,
        Some(meta) if meta.sha256.eq_ignore_ascii_case(sha256) => Checksum::Matches,
        Some(meta) => {
            problems.push(format!(
                "the file does not match the checksum recorded in {} (sha256 {} expected, {} found)",
                meta_path(path).display(),
                meta.sha256,
                sha256
            ));
            Checksum::Mismatch {
                expected: meta.sha256,
            }
        }
    }
}

/// The error for a file that cannot be read, with the next step when it
/// is not there.
fn cannot_read(path: &Path, e: &io::Error) -> Error {
    let err = Error::new(format!(
        "cannot read {}: {}",
        path.display(),
        crate::fsutil::io_reason(e)
    ));
    if e.kind() == io::ErrorKind::NotFound {
        err.hint("check the path; budgie backup list shows the backups budgie knows")
    } else {
        err
    }
}

/// What [`quick_plain`] found.
#[derive(Debug, Clone)]
pub struct QuickPlain {
    pub bytes: u64,
    pub header: Option<String>,
    pub dialect: Dialect,
    /// Empty when the head and tail are those of a complete dump.
    pub problems: Vec<String>,
    /// The sha256 recorded at backup time, to compare with the bytes as
    /// they are read later.
    pub recorded_sha256: Option<String>,
}

/// For a plain (uncompressed) dump, the checks [`verify`] makes — the
/// pg_dump header in the first 64 KiB, the end marker in the last 4 KiB —
/// without reading the middle; the checksum is left to the caller, who
/// reads every byte anyway. None when the file is not plain SQL (then use
/// [`verify`]).
pub fn quick_plain(path: &Path) -> Result<Option<QuickPlain>> {
    let io_err = |e: io::Error| cannot_read(path, &e);
    let mut file = File::open(path).map_err(io_err)?;
    let bytes = file.metadata().map_err(io_err)?.len();
    let mut head = Vec::with_capacity(HEAD_BYTES);
    (&mut file)
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    if detect(&head) != Detected::Plain {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(bytes.saturating_sub(TAIL_BYTES as u64)))
        .map_err(io_err)?;
    let mut tail = Vec::with_capacity(TAIL_BYTES);
    file.take(TAIL_BYTES as u64)
        .read_to_end(&mut tail)
        .map_err(io_err)?;
    let mut scan = Scan::default();
    scan.feed(&head);
    scan.bytes = bytes;
    scan.tail = Tail::default();
    scan.tail.push(&tail);
    let mut problems = Vec::new();
    let (header, dialect) = plain_checks(&scan, &mut problems);
    Ok(Some(QuickPlain {
        bytes,
        header,
        dialect: dialect.unwrap_or(Dialect::Postgres),
        problems,
        recorded_sha256: read_meta(path).map(|m| m.sha256),
    }))
}

/// Whether `path` is a complete backup: [`quick_complete`] when it can
/// tell, else a full [`verify`] (which reads the whole file); an unreadable
/// file is not complete.
pub fn is_complete(path: &Path) -> bool {
    quick_complete(path)
        .or_else(|| verify(path).ok().map(|v| v.complete))
        .unwrap_or(false)
}

/// A cheap guess at completeness, without reading the whole file.
///
/// - a readable `.meta.json` whose `bytes` equals the file's size: `Some(true)`
///   (budgie checked the file when it wrote it);
/// - an empty file: `Some(false)`;
/// - a plain dump: the marker check on its last 4 KiB;
/// - anything else (compressed, custom, unreadable): `None`, unknown
///   without a full read ([`verify`]).
pub fn quick_complete(path: &Path) -> Option<bool> {
    let len = std::fs::metadata(path).ok()?.len();
    if read_meta(path).is_some_and(|m| m.bytes == len) {
        return Some(true);
    }
    if len == 0 {
        return Some(false);
    }
    let mut file = File::open(path).ok()?;
    let mut head = Vec::with_capacity(TAIL_BYTES);
    (&mut file)
        .take(TAIL_BYTES as u64)
        .read_to_end(&mut head)
        .ok()?;
    if detect(&head) != Detected::Plain {
        return None;
    }
    let start = len.saturating_sub(TAIL_BYTES as u64);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut tail = Vec::with_capacity(TAIL_BYTES);
    file.take(TAIL_BYTES as u64).read_to_end(&mut tail).ok()?;
    Some(dump_is_complete(&tail) || (is_cluster_dump(&head) && cluster_dump_is_complete(&tail)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detected {
    Empty,
    Age,
    Plain,
    Packed(Packing),
    Custom,
    /// A tar whose first member is pg_dump's `toc.dat`.
    PgTar,
    /// Another tar: a directory-format archive in one, or not a dump.
    OtherTar,
    Unknown,
}

/// Tells the format from the first bytes of a file.
fn detect(head: &[u8]) -> Detected {
    if head.is_empty() {
        Detected::Empty
    } else if crate::storage::crypt::is_encrypted(head) {
        Detected::Age
    } else if let Some(packing) = Packing::detect(head) {
        Detected::Packed(packing)
    } else if head.starts_with(b"PGDMP") {
        Detected::Custom
    } else if head.get(257..262) == Some(b"ustar".as_slice()) {
        if head.get(..8) == Some(b"toc.dat\0".as_slice()) {
            Detected::PgTar
        } else {
            Detected::OtherTar
        }
    } else if looks_like_sql(head) {
        Detected::Plain
    } else {
        Detected::Unknown
    }
}

/// Text that starts (after an optional BOM and blank space) the way SQL
/// scripts and pg_dump output do.
fn looks_like_sql(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let text = text.get(start..).unwrap_or_default();
    if text.is_empty() {
        // Only blank space: text, but no dump; the checks will say so.
        return true;
    }
    if text.starts_with(b"--") || text.starts_with(b"\\") || text.starts_with(b"/*") {
        return true;
    }
    const KEYWORDS: &[&str] = &[
        "SET", "SELECT", "CREATE", "ALTER", "COPY", "INSERT", "BEGIN", "COMMENT", "DROP", "GRANT",
        "REVOKE", "START", "COMMIT",
    ];
    let word_len = text
        .iter()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let word = text.get(..word_len).unwrap_or_default();
    KEYWORDS
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k.as_bytes()))
}

/// A `pg_dump -Fd` directory: its `toc.dat` must be there with the
/// archive header (`pg_restore -l` in the container is the real test, as
/// for a custom-format archive). The checksum is that of `toc.dat`.
fn verify_directory(path: &Path) -> Result<Report> {
    let toc = path.join("toc.dat");
    let mut problems = Vec::new();
    let data = match std::fs::read(&toc) {
        Ok(data) => data,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            problems.push(format!(
                "{} is a directory without toc.dat: not a pg_dump directory-format archive",
                path.display()
            ));
            Vec::new()
        }
        Err(e) => return Err(cannot_read(&toc, &e)),
    };
    if !data.is_empty() {
        if !data.starts_with(b"PGDMP") {
            problems.push("its toc.dat does not begin as pg_dump's archives do".to_string());
        } else if let Some(p) = directory_header_problem(&data) {
            problems.push(p);
        }
    }
    let bytes = std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    Ok(Report {
        format: Format::Directory,
        bytes,
        uncompressed_bytes: None,
        sha256: hex(&Sha256::digest(&data)),
        checksum: Checksum::NotRecorded,
        complete: problems.is_empty(),
        problems,
        header: None,
        dialect: Some(Dialect::Postgres),
    })
}

/// The archive header of a directory's `toc.dat`: as a custom one's, with
/// format 3 (directory) in place of 1.
fn directory_header_problem(head: &[u8]) -> Option<String> {
    let mut as_custom = head[..head.len().min(16)].to_vec();
    if as_custom.get(10) != Some(&3) {
        return Some(format!(
            "its toc.dat is not a directory-format table of contents (format {})",
            as_custom.get(10).copied().unwrap_or(0)
        ));
    }
    as_custom[10] = 1;
    custom_header_problem(&as_custom)
}

/// The problem with a custom-format header, if any: the magic `PGDMP`, a
/// supported archive version, plausible integer sizes, format "custom".
fn custom_header_problem(head: &[u8]) -> Option<String> {
    let [
        _,
        _,
        _,
        _,
        _,
        vmaj,
        vmin,
        _vrev,
        int_size,
        off_size,
        format,
        ..,
    ] = head
    else {
        return Some("custom-format header is truncated".to_string());
    };
    let plausible =
        *vmaj == 1 && (1..=16).contains(int_size) && (1..=16).contains(off_size) && *format == 1;
    (!plausible).then(|| {
        format!(
            "custom-format header is not plausible (archive version {vmaj}.{vmin}, \
             int size {int_size}, offset size {off_size}, format {format})"
        )
    })
}

/// The plain-dump checks on a scanned stream: header line near the start,
/// end marker at the end. Returns the `Dumped from database version` line.
fn plain_checks(scan: &Scan, problems: &mut Vec<String>) -> (Option<String>, Option<Dialect>) {
    if scan.bytes == 0 {
        problems.push("the dump is empty".to_string());
        return (None, None);
    }
    if let Some(header) = mariadb_header(&scan.head) {
        if !mariadb_dump_is_complete(scan.tail.bytes()) {
            problems.push(format!(
                "the dump is incomplete: its last line `{MARIADB_COMPLETE_MARKER} ...` is missing (the dump tool writes it only after the last table)"
            ));
        }
        return (Some(header), Some(Dialect::Mariadb));
    }
    if is_cluster_dump(&scan.head) {
        if !cluster_dump_is_complete(scan.tail.bytes()) {
            problems.push(format!(
                "the pg_dumpall file is incomplete: its end marker `{CLUSTER_COMPLETE_MARKER}` is missing"
            ));
        }
        return (dumped_from(&scan.head), Some(Dialect::Postgres));
    }
    if !lines(&scan.head).any(|l| l == DUMP_HEADER.as_bytes()) {
        problems.push(format!(
            "the pg_dump header line `{DUMP_HEADER}` is not in the first 64 KiB: \
             not a pg_dump plain-text dump"
        ));
    }
    if !dump_is_complete(scan.tail.bytes()) {
        problems.push(format!(
            "the dump is incomplete: pg_dump's end marker `{DUMP_COMPLETE_MARKER}` is missing"
        ));
    }
    (dumped_from(&scan.head), Some(Dialect::Postgres))
}

/// Whose plain dump `head` starts, by its header (PostgreSQL unless a
/// MariaDB/MySQL header says otherwise).
fn dialect_of(head: &[u8]) -> Dialect {
    if mariadb_header(head).is_some() {
        Dialect::Mariadb
    } else {
        Dialect::Postgres
    }
}

/// `Dumped from database version 15.18`, from the start of a plain dump.
fn dumped_from(head: &[u8]) -> Option<String> {
    lines(head)
        .find_map(|l| l.strip_prefix(b"-- Dumped from database version "))
        .map(|v| {
            format!(
                "Dumped from database version {}",
                String::from_utf8_lossy(v).trim()
            )
        })
}

/// Lines without their `\n` or `\r\n`.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// Reads `r` to its end into `scan`.
fn read_all(r: &mut impl Read, scan: &mut Scan) -> io::Result<()> {
    let mut buf = vec![0; CHUNK];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => scan.feed(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// What is kept of the uncompressed content while it streams by.
#[derive(Default)]
struct Scan {
    bytes: u64,
    head: Vec<u8>,
    tail: Tail,
    tar: TarCheck,
}

impl Scan {
    fn feed(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        let room = HEAD_BYTES.saturating_sub(self.head.len());
        self.head
            .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        self.tail.push(data);
        self.tar.feed(data);
    }
}

/// Hashes and counts the file's bytes as they are read; remembers an I/O
/// error so that it is not mistaken for a corrupt compressed stream.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    io_error: Option<io::Error>,
}

impl<R> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
            io_error: None,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                let data = buf.get(..n).unwrap_or_default();
                self.hasher.update(data);
                self.bytes += data.len() as u64;
                Ok(n)
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.io_error = Some(io::Error::new(e.kind(), e.to_string()));
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::format::Content;
    use crate::backup::meta::{Meta, write_meta};
    use crate::backup::testdata::{dump_text, gzip, noise, tar_of, zstd_of};
    use crate::backup::writer::BackupWriter;
    use crate::compose::Compression;
    use std::io::Write;

    fn write(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        p
    }

    fn body() -> String {
        (0..30_000)
            .map(|i| format!("{i}\tname {}\n", i * 7))
            .collect()
    }

    #[test]
    fn a_complete_plain_dump() {
        let dir = tempfile::tempdir().unwrap();
        let text = dump_text(&body(), true);
        let p = write(dir.path(), "a.sql", text.as_bytes());
        let r = verify(&p).unwrap();
        assert_eq!(r.format, Format::Plain);
        assert!(r.complete, "{:?}", r.problems);
        assert!(r.problems.is_empty());
        assert_eq!(r.bytes, text.len() as u64);
        assert_eq!(r.uncompressed_bytes, Some(text.len() as u64));
        assert_eq!(r.sha256, hex(&Sha256::digest(text.as_bytes())));
        assert_eq!(r.checksum, Checksum::NotRecorded);
        assert_eq!(
            r.header.as_deref(),
            Some("Dumped from database version 15.18")
        );
        // Older pg_dump, Windows line ends, a BOM.
        let old = format!("\u{feff}{}", dump_text("1\n", false).replace('\n', "\r\n"));
        let r = verify(&write(dir.path(), "b.sql", old.as_bytes())).unwrap();
        assert_eq!(r.format, Format::Plain);
        assert!(r.complete, "{:?}", r.problems);
    }

    #[test]
    fn a_truncated_plain_dump() {
        let dir = tempfile::tempdir().unwrap();
        let text = dump_text(&body(), true);
        let p = write(dir.path(), "a.sql", &text.as_bytes()[..text.len() - 80]);
        let r = verify(&p).unwrap();
        assert_eq!(r.format, Format::Plain);
        assert!(!r.complete);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].contains("end marker"), "{:?}", r.problems);
        assert_eq!(quick_complete(&p), Some(false));
        assert_eq!(
            quick_complete(&write(dir.path(), "b.sql", text.as_bytes())),
            Some(true)
        );
    }

    #[test]
    fn a_marker_without_a_header_is_not_a_dump() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "a.sql",
            b"SET x = 1;\nCREATE TABLE t ();\n--\n-- PostgreSQL database dump complete\n--\n",
        );
        let r = verify(&p).unwrap();
        assert_eq!(r.format, Format::Plain);
        assert!(!r.complete);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].contains("header"), "{:?}", r.problems);
        assert_eq!(r.header, None);
    }

    #[test]
    fn compressed_dumps_complete_and_cut() {
        let dir = tempfile::tempdir().unwrap();
        let text = dump_text(&body(), true);
        let pack = |format: Format, bytes: &[u8]| -> Vec<u8> {
            use std::io::Write;
            match format {
                Format::Gzip => gzip(bytes),
                Format::Zstd => zstd_of(bytes),
                Format::Xz => {
                    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                    e.write_all(bytes).unwrap();
                    e.finish().unwrap()
                }
                _ => {
                    let mut e =
                        bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                    e.write_all(bytes).unwrap();
                    e.finish().unwrap()
                }
            }
        };
        for (name, format) in [
            ("a.sql.gz", Format::Gzip),
            ("a.sql.zst", Format::Zstd),
            ("a.sql.xz", Format::Xz),
            ("a.sql.bz2", Format::Bzip2),
        ] {
            let packed = pack(format, text.as_bytes());
            let r = verify(&write(dir.path(), name, &packed)).unwrap();
            assert_eq!(r.format, format);
            assert!(r.complete, "{name}: {:?}", r.problems);
            assert_eq!(r.bytes, packed.len() as u64);
            assert_eq!(r.uncompressed_bytes, Some(text.len() as u64));
            assert_eq!(r.sha256, hex(&Sha256::digest(&packed)));
            assert!(r.header.is_some());
            assert_eq!(quick_complete(&dir.path().join(name)), None);

            for cut in [1, 4, 8, 100, packed.len() / 2, packed.len() - 20] {
                let p = write(dir.path(), "cut", &packed[..packed.len() - cut]);
                let r = verify(&p).unwrap();
                assert_eq!(r.format, format);
                assert!(!r.complete, "{name} cut {cut}");
                assert_eq!(r.uncompressed_bytes, None);
                assert!(
                    r.problems[0].starts_with("compressed stream is truncated or corrupt: "),
                    "{name} cut {cut}: {:?}",
                    r.problems
                );
                assert_eq!(r.bytes, (packed.len() - cut) as u64);
            }
            let mut bad = packed.clone();
            let mid = bad.len() / 2;
            bad[mid] ^= 0x55;
            let r = verify(&write(dir.path(), "bad", &bad)).unwrap();
            assert!(!r.complete, "{name} corrupt");
            assert!(
                r.problems[0].starts_with("compressed stream"),
                "{:?}",
                r.problems
            );

            // A complete stream of an incomplete dump.
            let half = &text.as_bytes()[..text.len() / 2];
            let packed_half = pack(format, half);
            let r = verify(&write(dir.path(), "half", &packed_half)).unwrap();
            assert!(!r.complete);
            assert_eq!(r.uncompressed_bytes, Some(half.len() as u64));
            assert!(r.problems[0].contains("end marker"), "{:?}", r.problems);
        }
    }

    #[test]
    fn empty_random_and_custom_files() {
        let dir = tempfile::tempdir().unwrap();
        let r = verify(&write(dir.path(), "empty", b"")).unwrap();
        assert_eq!(r.problems, ["the file is empty"]);
        assert!(!r.complete);
        assert_eq!(r.bytes, 0);
        assert_eq!(quick_complete(&dir.path().join("empty")), Some(false));

        for seed in 1..20 {
            let r = verify(&write(dir.path(), "random", &noise(100_000, seed))).unwrap();
            assert!(!r.complete);
            assert_eq!(r.format, Format::Unknown);
            assert_eq!(r.problems, ["not a PostgreSQL dump (unrecognized content)"]);
            assert_eq!(r.bytes, 100_000);
        }
        let r = verify(&write(dir.path(), "text", b"hello world\n")).unwrap();
        assert_eq!(r.format, Format::Unknown);

        let mut custom = b"PGDMP\x01\x10\x00\x04\x08\x01".to_vec();
        custom.extend(noise(5000, 3));
        let p = write(dir.path(), "a.dump", &custom);
        let r = verify(&p).unwrap();
        assert_eq!(r.format, Format::Custom);
        assert!(!r.complete, "a header then noise passed");
        assert_eq!(quick_complete(&p), None);

        // A real pg_dump -Fc through a pipe: complete; cut: not.
        let real = include_bytes!("../../tests/data/pgdump/small-pipe.dump");
        let r = verify(&write(dir.path(), "real.dump", real)).unwrap();
        assert!(r.complete, "{:?}", r.problems);
        assert_eq!(r.uncompressed_bytes, None);
        assert!(
            r.header
                .as_deref()
                .is_some_and(|h| h.starts_with("Dumped from database version 15.")),
            "{:?}",
            r.header
        );
        let r = verify(&write(dir.path(), "cut.dump", &real[..real.len() - 10])).unwrap();
        assert!(!r.complete);
        assert!(
            r.problems[0].contains("cut off at byte"),
            "{:?}",
            r.problems
        );

        let r = verify(&write(dir.path(), "short.dump", b"PGDMP\x01")).unwrap();
        assert_eq!(r.format, Format::Custom);
        assert!(!r.complete);
        assert!(r.problems[0].contains("truncated"), "{:?}", r.problems);
        let r = verify(&write(
            dir.path(),
            "odd.dump",
            b"PGDMP\x07\x10\x00\x04\x08\x05xx",
        ))
        .unwrap();
        assert!(!r.complete);
        assert!(r.problems[0].contains("not plausible"), "{:?}", r.problems);
    }

    #[test]
    fn io_problems_are_errors_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.sql");
        let err = verify(&missing).unwrap_err();
        assert!(err.message.contains(&*missing.to_string_lossy()), "{err}");
        // A directory is read as a pg_dump -Fd archive: this one is none.
        let r = verify(dir.path()).unwrap();
        assert_eq!(r.format, Format::Directory);
        assert!(!r.complete);
        assert!(
            r.problems[0].contains(&*dir.path().to_string_lossy())
                && r.problems[0].contains("without toc.dat"),
            "{:?}",
            r.problems
        );
        std::fs::write(
            dir.path().join("toc.dat"),
            b"PGDMP\x01\x0e\x00\x04\x08\x03\x01\x01",
        )
        .unwrap();
        let r = verify(dir.path()).unwrap();
        assert!(r.complete, "{:?}", r.problems);
        std::fs::write(
            dir.path().join("toc.dat"),
            b"PGDMP\x01\x0e\x00\x04\x08\x01\x01\x01",
        )
        .unwrap();
        assert!(
            !verify(dir.path()).unwrap().complete,
            "a custom header in toc.dat"
        );
        assert_eq!(quick_complete(&missing), None);
    }

    #[test]
    fn the_recorded_checksum_is_compared() {
        let dir = tempfile::tempdir().unwrap();
        let mut w =
            BackupWriter::create(dir.path(), "app", Content::SqlDump, Compression::Gzip).unwrap();
        w.write_all(dump_text(&body(), true).as_bytes()).unwrap();
        let c = w.commit(|_| "app_20251125_092704.sql.gz".into()).unwrap();
        let created = chrono::DateTime::parse_from_rfc3339("2025-11-25T09:27:04+01:00").unwrap();
        let mut meta =
            Meta::for_committed(&c, "app", Compression::Gzip, Content::SqlDump, created, 1.5);
        write_meta(&c.path, &meta).unwrap();
        let r = verify(&c.path).unwrap();
        assert_eq!(r.checksum, Checksum::Matches);
        assert!(r.complete);
        assert_eq!(quick_complete(&c.path), Some(true));

        meta.sha256 = "00".repeat(32);
        write_meta(&c.path, &meta).unwrap();
        let r = verify(&c.path).unwrap();
        assert_eq!(
            r.checksum,
            Checksum::Mismatch {
                expected: "00".repeat(32)
            }
        );
        assert!(!r.complete);
        assert!(r.problems[0].contains("checksum"), "{:?}", r.problems);

        // The file changed after it was written (same size): the meta
        // still vouches for the size, verify finds the change.
        meta.sha256 = c.sha256.clone();
        write_meta(&c.path, &meta).unwrap();
        let mut data = std::fs::read(&c.path).unwrap();
        let last = data.len() - 1;
        data[last] ^= 1;
        std::fs::write(&c.path, &data).unwrap();
        let r = verify(&c.path).unwrap();
        assert!(matches!(r.checksum, Checksum::Mismatch { .. }));
        assert!(!r.complete);
    }

    #[test]
    fn the_archive_of_an_empty_volume_is_a_complete_archive() {
        let dir = tempfile::tempdir().unwrap();
        for blocks in [2, 20] {
            let p = write(
                dir.path(),
                "empty.tar.zst",
                &zstd_of(&vec![0u8; 512 * blocks]),
            );
            let r = verify(&p).unwrap();
            assert_eq!(r.format, Format::TarZstd, "{blocks} blocks");
            assert!(r.complete, "{blocks} blocks: {:?}", r.problems);
        }
        // One zero block is not an archive's end.
        let p = write(dir.path(), "cut.tar.zst", &zstd_of(&[0u8; 512]));
        assert!(!verify(&p).unwrap().complete);
    }

    #[test]
    fn volume_archives() {
        let dir = tempfile::tempdir().unwrap();
        let data = noise(70_000, 9);
        let tar = tar_of(&[("PG_VERSION", b"15\n"), ("base/1/1259", &data)]);
        let r = verify(&write(dir.path(), "v.tar.zst", &zstd_of(&tar))).unwrap();
        assert_eq!(r.format, Format::TarZstd);
        assert!(r.complete, "{:?}", r.problems);
        assert_eq!(r.uncompressed_bytes, Some(tar.len() as u64));

        // Cut inside the tar, compressed properly: the tar check finds it.
        let cut = &tar[..tar.len() - 10240 + 512];
        let r = verify(&write(dir.path(), "v.tar.zst", &zstd_of(cut))).unwrap();
        assert_eq!(r.format, Format::TarZstd);
        assert_eq!(r.problems, [TarCheck::new().problem().unwrap()]);
        assert!(r.problems[0].starts_with("archive is truncated"));

        // Cut compressed stream: still told a tar when its start decodes.
        let big = noise(1 << 20, 11);
        let packed = zstd_of(&tar_of(&[("base/1/2", &big)]));
        let r = verify(&write(
            dir.path(),
            "v.tar.zst",
            &packed[..packed.len() - 30],
        ))
        .unwrap();
        assert_eq!(r.format, Format::TarZstd);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].starts_with("compressed stream"));
        // When nothing decodes, it is only known to be zstd.
        let packed = zstd_of(&tar);
        let r = verify(&write(
            dir.path(),
            "v.tar.zst",
            &packed[..packed.len() - 30],
        ))
        .unwrap();
        assert_eq!(r.format, Format::Zstd);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].starts_with("compressed stream"));
    }

    #[test]
    fn no_input_makes_verify_panic() {
        let dir = tempfile::tempdir().unwrap();
        let text = dump_text("1\n", true);
        let mut samples = vec![
            text.as_bytes().to_vec(),
            gzip(text.as_bytes()),
            zstd_of(text.as_bytes()),
            zstd_of(&tar_of(&[("a", b"b")])),
            b"PGDMP".to_vec(),
        ];
        for seed in 0..5 {
            let mut s = vec![0x28, 0xb5, 0x2f, 0xfd];
            s.extend(noise(300, seed + 100));
            samples.push(s);
            let mut s = vec![0x1f, 0x8b];
            s.extend(noise(300, seed + 200));
            samples.push(s);
        }
        let p = dir.path().join("f");
        for s in &samples {
            for cut in 0..s.len().min(400) {
                std::fs::write(&p, &s[..cut]).unwrap();
                let r = verify(&p).unwrap();
                assert_eq!(r.bytes, cut as u64);
                let _ = quick_complete(&p);
            }
        }
        let mut t = TarCheck::new();
        for seed in 1..50 {
            t.feed(&noise(1024, seed));
        }
        assert!(t.problem().is_some());
    }
}
