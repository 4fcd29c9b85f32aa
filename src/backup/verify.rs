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

// used by the backup command (being wired up)
#![allow(dead_code)]

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::meta::{meta_path, read_meta};
use super::writer::{DUMP_COMPLETE_MARKER, TAIL_BYTES, Tail, dump_is_complete, hex};
use crate::error::{Error, Result};

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
    /// A `pg_dump -Fc` archive.
    Custom,
    /// A zstd-compressed tar archive (a volume backup).
    TarZstd,
    /// Empty, or not something budgie knows.
    Unknown,
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
    /// No problem found. For a custom-format archive only the header is
    /// checked here; `pg_restore -l` is the real test.
    pub complete: bool,
    /// What is wrong, one sentence each; empty when complete.
    pub problems: Vec<String>,
    /// For a plain dump, e.g. `Dumped from database version 15.18`.
    pub header: Option<String>,
}

/// Reads `path` to its end and reports whether it is a complete dump or
/// volume archive.
///
/// Errors only for I/O problems (a missing or unreadable file; the message
/// names the path). Content problems go into [`Report::problems`] with
/// `complete: false`. Memory use is constant whatever the file's size.
pub fn verify(path: &Path) -> Result<Report> {
    let io_err = |e: io::Error| Error::new(format!("cannot read {}: {e}", path.display()));
    let file = File::open(path).map_err(io_err)?;
    let mut reader = HashingReader::new(file);
    let mut head = Vec::with_capacity(HEAD_BYTES);
    (&mut reader)
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io_err)?;

    let mut problems = Vec::new();
    let mut header = None;
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
        Detected::Custom => {
            problems.extend(custom_header_problem(&head));
            Format::Custom
        }
        Detected::Plain => {
            let mut scan = Scan::default();
            scan.feed(&head);
            read_all(&mut reader, &mut scan).map_err(io_err)?;
            uncompressed_bytes = Some(scan.bytes);
            header = plain_checks(&scan, &mut problems);
            Format::Plain
        }
        compressed @ (Detected::Gzip | Detected::Zstd) => {
            let gzip = compressed == Detected::Gzip;
            let mut scan = Scan::default();
            let outcome = {
                let input = BufReader::with_capacity(CHUNK, Cursor::new(&head).chain(&mut reader));
                if gzip {
                    read_all(&mut flate2::bufread::MultiGzDecoder::new(input), &mut scan)
                } else {
                    zstd::stream::read::Decoder::with_buffer(input)
                        .and_then(|mut d| read_all(&mut d, &mut scan))
                }
            };
            if let Some(e) = reader.io_error.take() {
                return Err(io_err(e));
            }
            let decoded = match outcome {
                Ok(()) => {
                    uncompressed_bytes = Some(scan.bytes);
                    true
                }
                Err(e) => {
                    problems.push(format!("compressed stream is truncated or corrupt: {e}"));
                    false
                }
            };
            let is_tar = !gzip && scan.head.get(257..262) == Some(b"ustar".as_slice());
            if is_tar {
                if decoded && let Some(p) = scan.tar.problem() {
                    problems.push(p);
                }
                Format::TarZstd
            } else {
                header = if decoded {
                    plain_checks(&scan, &mut problems)
                } else {
                    dumped_from(&scan.head)
                };
                if gzip { Format::Gzip } else { Format::Zstd }
            }
        }
    };
    // Whatever was read so far, hash the file to its end.
    io::copy(&mut reader, &mut io::sink()).map_err(io_err)?;

    let sha256 = hex(&reader.hasher.finalize());
    let checksum = match read_meta(path) {
        None => Checksum::NotRecorded,
        Some(meta) if meta.sha256.eq_ignore_ascii_case(&sha256) => Checksum::Matches,
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
    };
    Ok(Report {
        format,
        bytes: reader.bytes,
        uncompressed_bytes,
        sha256,
        checksum,
        complete: problems.is_empty(),
        problems,
        header,
    })
}

/// What [`quick_plain`] found.
#[derive(Debug, Clone)]
pub struct QuickPlain {
    pub bytes: u64,
    pub header: Option<String>,
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
    let io_err = |e: io::Error| Error::new(format!("cannot read {}: {e}", path.display()));
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
    let header = plain_checks(&scan, &mut problems);
    Ok(Some(QuickPlain {
        bytes,
        header,
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
    Some(dump_is_complete(&tail))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detected {
    Empty,
    Plain,
    Gzip,
    Zstd,
    Custom,
    Unknown,
}

/// Tells the format from the first bytes of a file.
fn detect(head: &[u8]) -> Detected {
    if head.is_empty() {
        Detected::Empty
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Detected::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Detected::Zstd
    } else if head.starts_with(b"PGDMP") {
        Detected::Custom
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
fn plain_checks(scan: &Scan, problems: &mut Vec<String>) -> Option<String> {
    if scan.bytes == 0 {
        problems.push("the dump is empty".to_string());
        return None;
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
    dumped_from(&scan.head)
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

/// Follows a tar stream block by block, in constant memory, to tell whether
/// it ends properly: with two zero blocks after the last member.
///
/// Understands ustar, GNU (base-256 sizes, long names, sparse extension
/// headers) and pax (`size` records) headers; checks each header's
/// checksum. Anything after the end-of-archive blocks (record padding) is
/// ignored.
#[derive(Debug, Clone)]
pub struct TarCheck {
    state: TarState,
    block: [u8; 512],
    fill: usize,
    /// Bytes fed so far.
    offset: u64,
    /// Consecutive all-zero header blocks.
    zero_blocks: u8,
    /// The data of a pax extended header being collected.
    pax: Option<Vec<u8>>,
    /// The `size` of a pax header, for the next member.
    pax_size: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TarState {
    /// Expecting a header block.
    Header,
    /// GNU sparse extension blocks, then `data` bytes.
    SparseExt {
        data: u64,
    },
    /// Member data (padded to 512), the first `collect` bytes of which go
    /// to the pax buffer.
    Data {
        remaining: u64,
        collect: u64,
    },
    Ended,
    /// A bad header at this offset.
    Corrupt(u64),
}

/// The most of a pax header kept to find its `size` record.
const PAX_MAX: u64 = 64 * 1024;

impl Default for TarCheck {
    fn default() -> Self {
        TarCheck::new()
    }
}

impl TarCheck {
    pub fn new() -> TarCheck {
        TarCheck {
            state: TarState::Header,
            block: [0; 512],
            fill: 0,
            offset: 0,
            zero_blocks: 0,
            pax: None,
            pax_size: None,
        }
    }

    /// Follows the next bytes of the stream.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.state {
                TarState::Ended | TarState::Corrupt(_) => {
                    self.offset += data.len() as u64;
                    return;
                }
                TarState::Data { remaining, collect } => {
                    let take = remaining.min(data.len() as u64);
                    let n = usize::try_from(take).unwrap_or(data.len());
                    let Some((chunk, rest)) = data.split_at_checked(n) else {
                        return;
                    };
                    let kept = usize::try_from(collect.min(take)).unwrap_or(0);
                    if let Some(pax) = &mut self.pax {
                        pax.extend_from_slice(chunk.get(..kept).unwrap_or_default());
                    }
                    self.offset += take;
                    data = rest;
                    let remaining = remaining - take;
                    if remaining == 0 {
                        if let Some(pax) = self.pax.take() {
                            self.pax_size = pax_size(&pax);
                        }
                        self.state = TarState::Header;
                    } else {
                        self.state = TarState::Data {
                            remaining,
                            collect: collect - kept as u64,
                        };
                    }
                }
                TarState::Header | TarState::SparseExt { .. } => {
                    let n = (512 - self.fill).min(data.len());
                    let Some((chunk, rest)) = data.split_at_checked(n) else {
                        return;
                    };
                    if let Some(dst) = self.block.get_mut(self.fill..self.fill + n) {
                        dst.copy_from_slice(chunk);
                    }
                    self.fill += n;
                    self.offset += n as u64;
                    data = rest;
                    if self.fill == 512 {
                        self.fill = 0;
                        self.block_done();
                    }
                }
            }
        }
    }

    /// None when the stream ended properly, else what is wrong.
    pub fn problem(&self) -> Option<String> {
        match self.state {
            TarState::Ended => None,
            TarState::Corrupt(at) => {
                Some(format!("archive is corrupt (bad tar header at byte {at})"))
            }
            _ => Some(
                "archive is truncated (the tar stream stops before its end-of-archive blocks)"
                    .to_string(),
            ),
        }
    }

    fn block_done(&mut self) {
        let start = self.offset.saturating_sub(512);
        if let TarState::SparseExt { data } = self.state {
            // Byte 504 of a sparse extension block: another one follows.
            self.state = if self.block.get(504).is_some_and(|&b| b != 0) {
                TarState::SparseExt { data }
            } else {
                data_state(data, 0)
            };
            return;
        }
        if self.block.iter().all(|&b| b == 0) {
            self.zero_blocks += 1;
            if self.zero_blocks >= 2 {
                self.state = TarState::Ended;
            }
            return;
        }
        if self.zero_blocks > 0 || !checksum_ok(&self.block) {
            self.state = TarState::Corrupt(start);
            return;
        }
        let Some(mut size) = self.block.get(124..136).and_then(tar_number) else {
            self.state = TarState::Corrupt(start);
            return;
        };
        let kind = self.block.get(156).copied().unwrap_or(0);
        match kind {
            b'x' | b'g' | b'L' | b'K' => {}
            _ => {
                if let Some(s) = self.pax_size.take() {
                    size = s;
                }
            }
        }
        // Types that never carry data, whatever their size field says.
        if matches!(kind, b'1'..=b'6') {
            size = 0;
        }
        let Some(padded) = size.checked_add(511).map(|s| s / 512 * 512) else {
            self.state = TarState::Corrupt(start);
            return;
        };
        let collect = if kind == b'x' {
            self.pax = Some(Vec::new());
            size.min(PAX_MAX)
        } else {
            0
        };
        self.state = if kind == b'S' && self.block.get(482).is_some_and(|&b| b != 0) {
            TarState::SparseExt { data: padded }
        } else {
            data_state(padded, collect)
        };
    }
}

fn data_state(padded: u64, collect: u64) -> TarState {
    if padded == 0 {
        TarState::Header
    } else {
        TarState::Data {
            remaining: padded,
            collect,
        }
    }
}

/// The header checksum: the sum of its bytes with the checksum field read
/// as spaces (unsigned, or signed as some old tars computed it).
fn checksum_ok(block: &[u8; 512]) -> bool {
    let Some(stored) = block.get(148..156).and_then(tar_number) else {
        return false;
    };
    let mut unsigned: i64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    i64::try_from(stored).is_ok_and(|s| s == unsigned || s == signed)
}

/// A numeric header field: octal digits (leading spaces or NULs, ended by a
/// space or NUL), or GNU base-256 when the high bit of the first byte is
/// set. None when malformed, negative or too large.
fn tar_number(field: &[u8]) -> Option<u64> {
    if let Some((&first, rest)) = field.split_first()
        && first & 0x80 != 0
    {
        if first & 0x40 != 0 {
            return None;
        }
        let mut v = u64::from(first & 0x3f);
        for &b in rest {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let mut v: u64 = 0;
    let digits = field.iter().skip_while(|&&b| b == b' ' || b == 0);
    for &b in digits {
        match b {
            b'0'..=b'7' => v = v.checked_mul(8)?.checked_add(u64::from(b - b'0'))?,
            b' ' | 0 => break,
            _ => return None,
        }
    }
    Some(v)
}

/// The `size` record of a pax extended header (`"<len> size=<n>\n"`).
fn pax_size(data: &[u8]) -> Option<u64> {
    let mut rest = data;
    let mut size = None;
    while !rest.is_empty() {
        let space = rest.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(rest.get(..space)?).ok()?.parse().ok()?;
        let record = rest.get(space + 1..len)?;
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(v) = record.strip_prefix(b"size=") {
            size = std::str::from_utf8(v).ok()?.parse().ok();
        }
        rest = rest.get(len..)?;
        if len == 0 {
            return None;
        }
    }
    size
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::backup::meta::{Meta, write_meta};
    use crate::backup::writer::tests::dump_text;
    use crate::backup::writer::{BackupWriter, Content};
    use crate::compose::Compression;
    use std::io::Write;

    fn set_checksum(h: &mut [u8; 512]) {
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    }

    pub(crate) fn tar_header(name: &str, size: u64, kind: u8) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0001750\0");
        h[116..124].copy_from_slice(b"0001750\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[136..148].copy_from_slice(b"15107654321\0");
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        set_checksum(&mut h);
        h
    }

    fn pad(out: &mut Vec<u8>, to: usize) {
        out.resize(out.len().div_ceil(to) * to, 0);
    }

    /// A ustar archive of regular files, ended and padded to 10240 bytes
    /// like GNU tar does.
    pub(crate) fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in entries {
            out.extend_from_slice(&tar_header(name, data.len() as u64, b'0'));
            out.extend_from_slice(data);
            pad(&mut out, 512);
        }
        out.extend_from_slice(&[0; 1024]);
        pad(&mut out, 10240);
        out
    }

    fn tar_ends(data: &[u8], chunk: usize) -> Option<String> {
        let mut t = TarCheck::new();
        for c in data.chunks(chunk.max(1)) {
            t.feed(c);
        }
        t.problem()
    }

    fn write(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        p
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zstd_of(data: &[u8]) -> Vec<u8> {
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        e.include_checksum(true).unwrap();
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Pseudo-random bytes (xorshift).
    fn noise(len: usize, mut x: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
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
        for (name, packed, format) in [
            ("a.sql.gz", gzip(text.as_bytes()), Format::Gzip),
            ("a.sql.zst", zstd_of(text.as_bytes()), Format::Zstd),
        ] {
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
            let packed_half = if format == Format::Gzip {
                gzip(half)
            } else {
                zstd_of(half)
            };
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
        assert!(r.complete, "{:?}", r.problems);
        assert_eq!(r.uncompressed_bytes, None);
        assert_eq!(quick_complete(&p), None);

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
        let err = verify(dir.path()).unwrap_err();
        assert!(
            err.message.contains(&*dir.path().to_string_lossy()),
            "{err}"
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
    fn the_tar_check_follows_headers() {
        let data = noise(5000, 1);
        let tar = tar_of(&[("a", b""), ("b", &data), ("c", b"x")]);
        for chunk in [1, 3, 511, 512, 513, 4096, 1 << 20] {
            assert_eq!(tar_ends(&tar, chunk), None, "chunk {chunk}");
        }
        let members_end = 512 + 512 + 5120 + 512 + 512;
        for cut in [0, 1, 511, 512, 1000, 6000, members_end, members_end + 512] {
            assert!(tar_ends(&tar[..cut], 7).is_some(), "cut {cut}");
        }
        // Data that happens to be zero blocks is data, not the end.
        let zeros = vec![0u8; 4096];
        let tar = tar_of(&[("z", &zeros)]);
        assert!(tar_ends(&tar[..512 + 2048], 100).is_some());
        assert_eq!(tar_ends(&tar, 100), None);

        // A bad checksum.
        let mut bad = tar_of(&[("a", b"1")]);
        bad[0] = b'b';
        assert!(tar_ends(&bad, 512).unwrap().contains("corrupt"));

        // Header-only types ignore their size; base-256 sizes; pax sizes.
        let mut out = Vec::new();
        out.extend_from_slice(&tar_header("dir/", 999, b'5'));
        let mut h = tar_header("big", 0, b'0');
        h[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8]);
        set_checksum(&mut h);
        out.extend_from_slice(&h);
        out.extend(vec![1u8; 1024]); // 1000 bytes + padding
        let pax = b"13 size=1025\n";
        out.extend_from_slice(&tar_header("PaxHeaders/f", pax.len() as u64, b'x'));
        out.extend_from_slice(pax);
        pad(&mut out, 512);
        out.extend_from_slice(&tar_header("f", 0, b'0'));
        out.extend(vec![2u8; 1536]); // 1025 bytes + padding
        out.extend_from_slice(&[0; 1024]);
        assert_eq!(tar_ends(&out, 100), None);
        // Without the pax size the member would have no data: the data
        // blocks would be read as (bad) headers.
        let mut wrong = out.clone();
        let x = 512 + 512 + 1024;
        wrong[x + 156] = b'0';
        let mut h: [u8; 512] = wrong[x..x + 512].try_into().unwrap();
        set_checksum(&mut h);
        wrong[x..x + 512].copy_from_slice(&h);
        assert!(tar_ends(&wrong, 100).is_some());
    }

    #[test]
    fn tar_fields_parse_safely() {
        assert_eq!(tar_number(b"00000001750\0"), Some(0o1750));
        assert_eq!(tar_number(b"   17 \0\0"), Some(0o17));
        assert_eq!(tar_number(b"\0\0\0\0"), Some(0));
        assert_eq!(tar_number(b"12345678"), None);
        assert_eq!(tar_number(b"\x80\x00\x01\x00"), Some(256));
        assert_eq!(tar_number(b"\xff\xff"), None);
        assert_eq!(
            tar_number(&[0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            None
        );
        assert_eq!(tar_number(b"7777777777777777777777777"), None);
        assert_eq!(pax_size(b"13 size=1025\n"), Some(1025));
        assert_eq!(pax_size(b"20 path=a/b/c/d/e/f\n13 size=1025\n"), Some(1025));
        for garbage in [
            &b""[..],
            b"x",
            b"0 size=1\n",
            b"99 size=1\n",
            b"3 \n",
            b"-1 size=2\n",
            b"18446744073709551616 size=1\n",
        ] {
            let _ = pax_size(garbage);
        }
    }

    #[test]
    fn real_tar_archives() {
        let Ok(out) = std::process::Command::new("tar").arg("--version").output() else {
            eprintln!("no tar on PATH: skipped");
            return;
        };
        if !out.status.success() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("vol");
        let deep = src.join("a".repeat(90)).join("b".repeat(90));
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("c".repeat(120)), noise(3000, 5)).unwrap();
        std::fs::write(src.join("PG_VERSION"), "15\n").unwrap();
        std::fs::write(src.join("empty"), "").unwrap();
        std::os::unix::fs::symlink("PG_VERSION", src.join("link")).unwrap();
        for format in ["gnu", "pax", "ustar-ish"] {
            let mut cmd = std::process::Command::new("tar");
            cmd.arg("-cf").arg("-").arg("-C").arg(&src).arg(".");
            if format != "ustar-ish" {
                cmd.arg(format!("--format={format}"));
            }
            let out = cmd.output().unwrap();
            if !out.status.success() {
                eprintln!("tar --format={format} failed: skipped");
                continue;
            }
            let tar = out.stdout;
            assert_eq!(tar_ends(&tar, 777), None, "{format}");
            let end = tar.len() - tar.iter().rev().take_while(|&&b| b == 0).count();
            for cut in [512, end / 2, end, end + 100] {
                assert!(tar_ends(&tar[..cut], 777).is_some(), "{format} cut {cut}");
            }
        }
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
