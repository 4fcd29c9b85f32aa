//! The streamed, checked, atomically committed backup file.
//!
//! This module exists for data-safety invariant 3 of DESIGN.md: a backup
//! file under its final name is always complete. It owns the whole life of
//! one backup file:
//!
//! 1. [`ensure_backup_dir`] makes the directory private (0700) and ignored by
//!    git (invariant 6);
//! 2. [`BackupWriter::create_encrypted`] opens a hidden temporary file
//!    `.<stem>.XXXXXX.partial` (0600) in that directory — a name that is
//!    never parsed as a backup;
//! 3. bytes written to the [`BackupWriter`] are counted, their tail is kept
//!    for the completeness check, they are compressed, hashed (SHA-256 of
//!    the bytes that land in the file) and buffered to the file;
//! 4. [`BackupWriter::commit`] finishes the compressor, fsyncs, checks that
//!    the content is complete (pg_dump's end marker, or the tar end blocks),
//!    then publishes the file under its final name without ever replacing an
//!    existing file, and fsyncs the directory.
//!
//! A writer that is dropped without a successful commit removes its
//! temporary file (the `TempPath` it holds does that), so an error, a panic
//! elsewhere or Ctrl-C never leaves a partial file under a backup's name.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use tempfile::TempPath;

use super::format::{
    Content, DUMP_COMPLETE_MARKER, MARIADB_COMPLETE_MARKER, Tail, dump_is_complete,
    mariadb_dump_is_complete,
};
use super::store::ensure_backup_dir;
use super::streamcheck::StreamCheck;
use super::tar::TarCheck;
use crate::compose::Compression;
use crate::error::{Error, Result};
use crate::fsutil::{hex, safe_name_part, sync_dir};

/// Buffer size between the compressor and the file.
const FILE_BUFFER: usize = 256 * 1024;

/// gzip level: flate2's default (same as `gzip` and `pg_dump | gzip`).
const GZIP_LEVEL: u32 = 6;

/// zstd level 1: on SQL text it compresses about 2.5x faster than the
/// command's default level 3 for a few percent larger files, which keeps a
/// compressed backup about as fast as an uncompressed `pg_dump > file`
/// (scripts/bench-backup measures it).
const ZSTD_LEVEL: i32 = 1;

/// How many same-second names `commit` tries before giving up.
const MAX_SEQUENCE: u32 = 1000;

/// A backup published under its final name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub path: PathBuf,
    pub file_name: String,
    /// Size of the file on disk.
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the file's bytes (compressed, as written).
    pub sha256: String,
    /// Bytes given to `write()` before compression.
    pub uncompressed_bytes: u64,
    /// A pg_dump archive's server version, from its header.
    pub server_version: Option<String>,
}

/// The file end of the pipeline: hashes and counts the bytes that go to the
/// file.
struct HashingFile {
    file: BufWriter<File>,
    hasher: Sha256,
    bytes: u64,
    /// Bytes handed to the kernel's writeback so far (see [`WRITEBACK_CHUNK`]).
    writeback_started: u64,
    /// The range started last time: waited for at the next chunk.
    writeback_previous: Option<(u64, u64)>,
}

/// Every this many bytes the file's new pages are sent to disk in the
/// background, and the chunk before is waited for — so the final fsync has
/// little left to do and a large dump is not slowed by one long flush at
/// the end (the way PostgreSQL's own checkpointer and dd's oflag do it).
const WRITEBACK_CHUNK: u64 = 16 * 1024 * 1024;

impl HashingFile {
    fn writeback(&mut self) -> io::Result<()> {
        if self.bytes - self.writeback_started < WRITEBACK_CHUNK {
            return Ok(());
        }
        self.file.flush()?;
        let fd = std::os::unix::io::AsRawFd::as_raw_fd(self.file.get_ref());
        let start = self.writeback_started;
        let len = self.bytes - start;
        // SAFETY: sync_file_range only reads its integer arguments; the fd
        // is open for the lifetime of this call. Errors are advisory here:
        // the final fsync in commit() is what the guarantee rests on.
        unsafe {
            if let Some((prev, prev_len)) = self.writeback_previous {
                libc::sync_file_range(
                    fd,
                    prev as libc::off64_t,
                    prev_len as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WAIT_BEFORE
                        | libc::SYNC_FILE_RANGE_WRITE
                        | libc::SYNC_FILE_RANGE_WAIT_AFTER,
                );
            }
            libc::sync_file_range(
                fd,
                start as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
        self.writeback_previous = Some((start, len));
        self.writeback_started = self.bytes;
        Ok(())
    }
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        let written = buf.get(..n).unwrap_or(buf);
        self.hasher.update(written);
        self.bytes += written.len() as u64;
        self.writeback()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The file, or the age encryption in front of it (the bytes are
/// encrypted before they touch the disk; the hash is of what lands there).
enum FileEnd {
    Plain(HashingFile),
    Age(age::stream::StreamWriter<HashingFile>),
}

impl Write for FileEnd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            FileEnd::Plain(h) => h.write(buf),
            FileEnd::Age(a) => a.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            FileEnd::Plain(h) => h.flush(),
            FileEnd::Age(a) => a.flush(),
        }
    }
}

impl FileEnd {
    fn finish(self) -> io::Result<HashingFile> {
        match self {
            FileEnd::Plain(h) => Ok(h),
            FileEnd::Age(a) => a.finish(),
        }
    }
}

/// The compressor (or none) in front of the file.
enum Sink {
    Plain(FileEnd),
    Gzip(GzEncoder<FileEnd>),
    Zstd(zstd::stream::write::Encoder<'static, FileEnd>),
}

impl Sink {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Plain(h) => h.write_all(buf),
            Sink::Gzip(e) => e.write_all(buf),
            Sink::Zstd(e) => e.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(h) => h.flush(),
            Sink::Gzip(e) => e.flush(),
            Sink::Zstd(e) => e.flush(),
        }
    }

    /// Ends the compressed stream and the encryption; returns the file
    /// end, not yet flushed.
    fn finish(self) -> io::Result<HashingFile> {
        match self {
            Sink::Plain(h) => h.finish(),
            Sink::Gzip(e) => e.finish()?.finish(),
            Sink::Zstd(e) => e.finish()?.finish(),
        }
    }
}

/// A backup file being written under a hidden temporary name.
///
/// Write the backup's bytes to it (it is an [`io::Write`]), then
/// [`commit`](BackupWriter::commit) it. Dropping it without a successful
/// commit removes the temporary file.
pub struct BackupWriter {
    /// The temporary file's name; removes the file when dropped.
    temp: TempPath,
    dir: PathBuf,
    content: Content,
    sink: Sink,
    uncompressed: u64,
    tail: Tail,
    tar: TarCheck,
    /// An encrypted pg_dump archive's check, fed as the bytes go by.
    stream_check: Option<StreamCheck>,
    /// The first write error: the stream is broken from there on.
    failed: Option<(io::ErrorKind, String)>,
}

impl BackupWriter {
    /// Starts a backup in `dir`.
    ///
    /// Runs [`ensure_backup_dir`], then creates the temporary file
    /// `.<stem_hint>.XXXXXX.partial` (mode 0600) in `dir`; `stem_hint` is
    /// only used for that name (characters other than letters, digits, `-`,
    /// `_`, `.` become `_`). gzip uses level 6, zstd level 3 with a content
    /// checksum, single-threaded. Errors name the directory.
    #[cfg(test)]
    pub fn create(
        dir: &Path,
        stem_hint: &str,
        content: Content,
        compression: Compression,
    ) -> Result<BackupWriter> {
        Self::create_encrypted(dir, stem_hint, content, compression, &[])
    }

    /// [`BackupWriter::create`], the file encrypted to age `recipients`
    /// (none: not encrypted). The completeness checks read the plaintext
    /// as it streams by (for pg_dump's custom and directory formats, which
    /// unencrypted are read back from the disk, on a checker thread: see
    /// [`StreamCheck`]).
    pub fn create_encrypted(
        dir: &Path,
        stem_hint: &str,
        content: Content,
        compression: Compression,
        recipients: &[String],
    ) -> Result<BackupWriter> {
        // An encrypted pg_dump archive cannot be read back without the
        // identity: it is checked as it streams by instead.
        let stream_check = match !recipients.is_empty()
            && matches!(content, Content::PgCustom | Content::PgDirectory)
        {
            true => Some(StreamCheck::start(content).map_err(|e| {
                Error::new(format!("cannot start checking the pg_dump archive: {e}"))
            })?),
            false => None,
        };
        ensure_backup_dir(dir)?;
        let prefix = format!(".{}.", safe_name_part(stem_hint));
        let named = crate::fsutil::private_temp_in(dir, &prefix, ".partial").map_err(|e| {
            Error::new(format!(
                "cannot create a temporary file in the backup directory {}: {e}",
                dir.display()
            ))
        })?;
        let (file, temp) = named.into_parts();
        let end = HashingFile {
            file: BufWriter::with_capacity(FILE_BUFFER, file),
            hasher: Sha256::new(),
            bytes: 0,
            writeback_started: 0,
            writeback_previous: None,
        };
        let end = match recipients.is_empty() {
            true => FileEnd::Plain(end),
            false => FileEnd::Age(crate::storage::crypt::encrypt(recipients, end)?),
        };
        let sink = match compression {
            Compression::None => Sink::Plain(end),
            Compression::Gzip => {
                Sink::Gzip(GzEncoder::new(end, flate2::Compression::new(GZIP_LEVEL)))
            }
            Compression::Zstd => Sink::Zstd(
                zstd::stream::write::Encoder::new(end, ZSTD_LEVEL)
                    .and_then(|mut e| e.include_checksum(true).map(|()| e))
                    .map_err(|e| Error::new(format!("cannot start the zstd compressor: {e}")))?,
            ),
        };
        Ok(BackupWriter {
            temp,
            dir: dir.to_path_buf(),
            content,
            sink,
            uncompressed: 0,
            tail: Tail::default(),
            tar: TarCheck::new(),
            stream_check,
            failed: None,
        })
    }

    /// Bytes given to `write()` so far (before compression).
    #[cfg(test)]
    pub fn uncompressed_bytes(&self) -> u64 {
        self.uncompressed
    }

    /// The temporary file's path (hidden, removed unless committed).
    #[cfg(test)]
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    fn io_error(&self, e: &io::Error) -> String {
        format!("cannot write the backup file {}: {e}", self.temp.display())
    }

    /// Finishes the file and publishes it under a final name.
    ///
    /// 1. Ends the compressed stream, flushes and fsyncs the file.
    /// 2. Checks completeness: a [`Content::SqlDump`] must end per
    ///    [`dump_is_complete`]; a [`Content::TarArchive`] must end with the
    ///    tar end-of-archive blocks.
    /// 3. Publishes it as `name_for(0)`, or `name_for(1)`... when that name
    ///    exists (an existing file is never replaced; gives up after 1000
    ///    names). A name must be a plain file name (no `/`).
    /// 4. Fsyncs the directory.
    ///
    /// Any error leaves no file under a final name and removes the
    /// temporary file — except a failed directory fsync, reported after the
    /// complete file was published.
    pub fn commit(self, name_for: impl Fn(u32) -> String) -> Result<Committed> {
        let BackupWriter {
            temp,
            dir,
            content,
            sink,
            uncompressed,
            tail,
            tar,
            stream_check,
            failed,
        } = self;
        if let Some((_, message)) = failed {
            return Err(Error::new(message));
        }
        let wrap = |e: io::Error| {
            Error::new(format!(
                "cannot write the backup file {}: {e}",
                temp.display()
            ))
        };
        let HashingFile {
            file,
            hasher,
            bytes,
            ..
        } = sink.finish().map_err(wrap)?;
        let file = file.into_inner().map_err(|e| wrap(e.into_error()))?;
        file.sync_all().map_err(wrap)?;
        let server_version = check_content(content, &tail, &tar, stream_check, &temp)?;

        let mut temp = temp;
        let mut published = None;
        let mut last = String::new();
        for seq in 0..MAX_SEQUENCE {
            let name = name_for(seq);
            if !is_plain_file_name(&name) {
                return Err(Error::new(format!(
                    "invalid backup file name {name:?}: it must be a plain file name"
                )));
            }
            let target = dir.join(&name);
            match temp.persist_noclobber(&target) {
                Ok(()) => {
                    published = Some((target, name));
                    break;
                }
                Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                    temp = e.path;
                    last = name;
                }
                Err(e) => {
                    return Err(Error::new(format!(
                        "cannot publish the backup as {}: {}",
                        target.display(),
                        e.error
                    )));
                }
            }
        }
        let Some((path, file_name)) = published else {
            return Err(Error::new(format!(
                "cannot find a free name for the backup in {} ({MAX_SEQUENCE} names taken, the last {last})",
                dir.display()
            )));
        };
        sync_dir(&dir).map_err(|e| {
            Error::new(format!(
                "the backup {} is complete, but its directory could not be synced to disk: {e}",
                path.display()
            ))
        })?;
        Ok(Committed {
            path,
            file_name,
            bytes,
            sha256: hex(&hasher.finalize()),
            uncompressed_bytes: uncompressed,
            server_version,
        })
    }
}

impl Write for BackupWriter {
    /// Takes all of `buf` or fails; after a failure every call fails with
    /// the first error (which names the file).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some((kind, message)) = &self.failed {
            return Err(io::Error::new(*kind, message.clone()));
        }
        if let Err(e) = self.sink.write_all(buf) {
            let message = self.io_error(&e);
            self.failed = Some((e.kind(), message.clone()));
            return Err(io::Error::new(e.kind(), message));
        }
        self.uncompressed += buf.len() as u64;
        self.tail.push(buf);
        if let Some(c) = &self.stream_check {
            c.feed(buf);
        }
        if matches!(self.content, Content::TarArchive | Content::PgDirectory) {
            self.tar.feed(buf);
        }
        Ok(buf.len())
    }

    /// Pushes buffered data to the file (a sync flush for gzip/zstd, which
    /// costs compression: callers need not call it; `commit` does all).
    fn flush(&mut self) -> io::Result<()> {
        if let Some((kind, message)) = &self.failed {
            return Err(io::Error::new(*kind, message.clone()));
        }
        if let Err(e) = self.sink.flush() {
            let message = self.io_error(&e);
            self.failed = Some((e.kind(), message.clone()));
            return Err(io::Error::new(e.kind(), message));
        }
        Ok(())
    }
}

/// The completeness check of what was written (step 2 of `commit`);
/// returns a pg_dump archive's server version.
fn check_content(
    content: Content,
    tail: &Tail,
    tar: &TarCheck,
    stream_check: Option<StreamCheck>,
    temp: &Path,
) -> Result<Option<String>> {
    match content {
        Content::SqlDump => {
            if !dump_is_complete(tail.bytes()) {
                return Err(Error::new(format!(
                    "the dump is incomplete: pg_dump's end marker `{DUMP_COMPLETE_MARKER}` is missing"
                )));
            }
        }
        Content::MariadbDump => {
            if !mariadb_dump_is_complete(tail.bytes()) {
                return Err(Error::new(format!(
                    "the dump is incomplete: its last line `{MARIADB_COMPLETE_MARKER} ...` is missing"
                )));
            }
        }
        Content::TarArchive => {
            if let Some(problem) = tar.problem() {
                return Err(Error::new(format!(
                    "the volume archive is not complete: {problem}"
                )));
            }
        }
        Content::PgCustom | Content::PgDirectory => {
            return match stream_check {
                Some(c) => c
                    .finish()
                    .map_err(|p| Error::new(format!("the pg_dump archive is not complete: {p}"))),
                None => check_archive(temp, content),
            };
        }
    }
    Ok(None)
}

/// Reads the archive just written back from the disk (pg_dump writes no
/// end marker: the archive is complete when its table of contents and all
/// its data are there). Returns the server version its header names.
fn check_archive(temp: &Path, content: Content) -> Result<Option<String>> {
    let file = std::fs::File::open(temp).map_err(|e| {
        Error::new(format!(
            "cannot read back the backup file {}: {e}",
            temp.display()
        ))
    })?;
    let reader = std::io::BufReader::with_capacity(FILE_BUFFER, file);
    let checked = if content == Content::PgCustom {
        super::pgarchive::check_custom(reader)
            .map_err(|e| {
                Error::new(format!(
                    "cannot read back the backup file {}: {e}",
                    temp.display()
                ))
            })?
            .map(|toc| toc.header.server_version)
    } else {
        super::pgarchive::check_directory_tar(reader).map(|(toc, _)| toc.header.server_version)
    };
    checked.map_err(|p| Error::new(format!("the pg_dump archive is not complete: {p}")))
}

/// A single path component that is not `.` or `..`.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::store::{dump_name, parse_dump_name};
    use crate::backup::testdata::{dump_text, tar_of};
    use chrono::{NaiveDate, NaiveDateTime};
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;

    fn at() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2025, 11, 25)
            .unwrap()
            .and_hms_opt(9, 27, 4)
            .unwrap()
    }

    fn name(seq: u32) -> String {
        dump_name("app", at(), seq, None, Compression::None)
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn sha256_of(data: &[u8]) -> String {
        hex(&Sha256::digest(data))
    }

    #[test]
    fn a_plain_dump_is_committed_complete_and_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("backups");
        let text = dump_text(&"42\tsome name\n".repeat(5000), true);
        let mut w = BackupWriter::create(
            &dir,
            "app_20251125_092704",
            Content::SqlDump,
            Compression::None,
        )
        .unwrap();
        let temp = w.temp_path().to_path_buf();
        let temp_name = temp.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(temp.parent().unwrap(), dir);
        assert!(
            temp_name.starts_with(".app_20251125_092704."),
            "{temp_name}"
        );
        assert!(temp_name.ends_with(".partial"), "{temp_name}");
        assert!(parse_dump_name("app", &temp_name).is_none());
        assert_eq!(mode(&temp), 0o600);
        for chunk in text.as_bytes().chunks(7777) {
            w.write_all(chunk).unwrap();
        }
        assert_eq!(w.uncompressed_bytes(), text.len() as u64);
        let c = w.commit(name).unwrap();

        assert_eq!(c.file_name, "app_20251125_092704.sql");
        assert_eq!(c.path, dir.join(&c.file_name));
        let on_disk = std::fs::read(&c.path).unwrap();
        assert_eq!(on_disk, text.as_bytes());
        assert_eq!(c.bytes, on_disk.len() as u64);
        assert_eq!(c.uncompressed_bytes, text.len() as u64);
        assert_eq!(c.sha256, sha256_of(&on_disk));
        assert_eq!(mode(&c.path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert!(!temp.exists());
        assert_eq!(listing(&dir), [".gitignore", "app_20251125_092704.sql"]);
    }

    #[test]
    fn compressed_dumps_round_trip() {
        let root = tempfile::tempdir().unwrap();
        let text = dump_text(&"7\tthe same line again and again\n".repeat(20_000), true);
        for compression in [Compression::Gzip, Compression::Zstd] {
            let mut w =
                BackupWriter::create(root.path(), "app", Content::SqlDump, compression).unwrap();
            for chunk in text.as_bytes().chunks(65536) {
                w.write_all(chunk).unwrap();
            }
            let c = w
                .commit(|seq| dump_name("app", at(), seq, None, compression))
                .unwrap();
            let on_disk = std::fs::read(&c.path).unwrap();
            assert!(
                on_disk.len() < text.len() / 10,
                "{compression:?} compresses"
            );
            assert_eq!(c.bytes, on_disk.len() as u64);
            assert_eq!(c.sha256, sha256_of(&on_disk));
            assert_eq!(c.uncompressed_bytes, text.len() as u64);
            let mut back = Vec::new();
            match compression {
                Compression::Gzip => {
                    flate2::read::GzDecoder::new(&on_disk[..])
                        .read_to_end(&mut back)
                        .unwrap();
                }
                _ => back = zstd::decode_all(&on_disk[..]).unwrap(),
            }
            assert_eq!(back, text.as_bytes(), "{compression:?}");
            assert!(
                c.file_name
                    .ends_with(crate::backup::store::DumpKind::Sql(compression).suffix())
            );
        }
    }

    #[test]
    fn an_incomplete_dump_is_never_published() {
        let root = tempfile::tempdir().unwrap();
        let text = dump_text("1\ta\n", true);
        let cut = &text.as_bytes()[..text.len() / 2];
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let mut w =
                BackupWriter::create(root.path(), "app", Content::SqlDump, compression).unwrap();
            w.write_all(cut).unwrap();
            let err = w.commit(name).unwrap_err();
            assert_eq!(
                err.message,
                "the dump is incomplete: pg_dump's end marker `-- PostgreSQL database dump complete` is missing"
            );
            assert_eq!(listing(root.path()), [".gitignore"], "{compression:?}");
        }
        // Nothing written at all.
        let w =
            BackupWriter::create(root.path(), "app", Content::SqlDump, Compression::None).unwrap();
        assert!(w.commit(name).is_err());
        assert_eq!(listing(root.path()), [".gitignore"]);
    }

    #[test]
    fn a_dropped_writer_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let mut w = BackupWriter::create(
            root.path(),
            "../../evil/name",
            Content::SqlDump,
            Compression::Zstd,
        )
        .unwrap();
        assert_eq!(w.temp_path().parent().unwrap(), root.path());
        w.write_all(dump_text("1\n", true).as_bytes()).unwrap();
        assert_eq!(listing(root.path()).len(), 2);
        drop(w);
        assert_eq!(listing(root.path()), [".gitignore"]);
    }

    #[test]
    fn an_existing_backup_is_never_replaced() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        std::fs::write(dir.join(name(0)), "old 0").unwrap();
        std::fs::write(dir.join(name(1)), "old 1").unwrap();
        let mut w = BackupWriter::create(dir, "app", Content::SqlDump, Compression::None).unwrap();
        w.write_all(dump_text("1\n", true).as_bytes()).unwrap();
        let c = w.commit(name).unwrap();
        assert_eq!(c.file_name, "app_20251125_092704-2.sql");
        assert_eq!(std::fs::read_to_string(dir.join(name(0))).unwrap(), "old 0");
        assert_eq!(std::fs::read_to_string(dir.join(name(1))).unwrap(), "old 1");

        // Every name taken: give up, replace nothing, leave no temp file.
        let mut w = BackupWriter::create(dir, "app", Content::SqlDump, Compression::None).unwrap();
        w.write_all(dump_text("1\n", true).as_bytes()).unwrap();
        let err = w.commit(|_| name(0)).unwrap_err();
        assert!(err.message.contains("cannot find a free name"), "{err}");
        assert_eq!(std::fs::read_to_string(dir.join(name(0))).unwrap(), "old 0");
        assert_eq!(listing(dir).len(), 4);
    }

    #[test]
    fn a_name_must_stay_in_the_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("backups");
        for bad in ["", ".", "..", "../escaped.sql", "sub/x.sql", "nul\0.sql"] {
            let mut w =
                BackupWriter::create(&dir, "app", Content::SqlDump, Compression::None).unwrap();
            w.write_all(dump_text("1\n", true).as_bytes()).unwrap();
            let err = w.commit(|_| bad.to_string()).unwrap_err();
            assert!(err.message.contains("invalid backup file name"), "{err}");
            assert_eq!(listing(&dir), [".gitignore"]);
        }
        assert_eq!(listing(root.path()), ["backups"]);
    }

    #[test]
    fn archives_must_end_like_a_tar() {
        let root = tempfile::tempdir().unwrap();
        let big = vec![7u8; 3000];
        let tar = tar_of(&[("PG_VERSION", b"15\n"), ("base/1/1259", &big)]);
        let mut w =
            BackupWriter::create(root.path(), "vol", Content::TarArchive, Compression::Zstd)
                .unwrap();
        for chunk in tar.chunks(1000) {
            w.write_all(chunk).unwrap();
        }
        let c = w.commit(|_| "app_pgdata.tar.zst".to_string()).unwrap();
        assert_eq!(
            zstd::decode_all(&std::fs::read(&c.path).unwrap()[..]).unwrap(),
            tar
        );

        // Members end at 4608; then two zero blocks and record padding.
        assert_eq!(tar.len(), 10240);
        for cut in [0, 100, 512, 1500, 2048, 4608, 4608 + 512, 4608 + 1023] {
            let mut w =
                BackupWriter::create(root.path(), "vol", Content::TarArchive, Compression::Zstd)
                    .unwrap();
            w.write_all(&tar[..cut]).unwrap();
            let err = w.commit(|_| "cut.tar.zst".to_string()).unwrap_err();
            assert!(err.message.contains("archive is truncated"), "{cut}: {err}");
        }
        assert_eq!(listing(root.path()), [".gitignore", "app_pgdata.tar.zst"]);
    }

    /// Under a small file size limit (`ulimit -f`, in a child process: the
    /// test runs itself again), a write fails naming the file, the stream
    /// stays broken, and commit leaves nothing.
    #[test]
    fn write_errors_name_the_file_and_leave_nothing() {
        if let Some(dir) = std::env::var_os("BUDGIE_TEST_WRITE_ERROR_DIR") {
            return hit_the_size_limit(&PathBuf::from(dir));
        }
        let root = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("ulimit -f 200 && trap '' XFSZ && exec \"$@\"")
            .arg("sh")
            .arg(exe)
            .args([
                "--exact",
                "backup::writer::tests::write_errors_name_the_file_and_leave_nothing",
                "--test-threads=1",
            ])
            .env("BUDGIE_TEST_WRITE_ERROR_DIR", root.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "the child test failed: {}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(listing(root.path()), [".gitignore"]);
    }

    /// The child's part: write until the size limit stops it.
    fn hit_the_size_limit(dir: &Path) {
        let mut w = BackupWriter::create(dir, "app", Content::SqlDump, Compression::None).unwrap();
        let temp = w.temp_path().display().to_string();
        let chunk = vec![b'x'; 65536];
        let mut error = None;
        for _ in 0..64 {
            if let Err(e) = w.write_all(&chunk) {
                error = Some(e);
                break;
            }
        }
        let e = error.expect("the size limit stops the writes");
        let message = e.to_string();
        assert!(message.contains(&temp), "{message}");
        assert!(message.contains("os error"), "{message}");
        // The stream stays broken; commit reports the first error.
        assert!(w.write_all(b"more").is_err());
        let err = w.commit(name).unwrap_err();
        assert_eq!(err.message, message);
        assert_eq!(listing(dir), [".gitignore"]);
    }

    /// Writes `total` bytes of `block` (repeated) in `chunk`-sized writes.
    fn feed(w: &mut impl Write, block: &[u8], total: usize, chunk: usize) {
        let mut left = total;
        while left > 0 {
            for c in block.chunks(chunk) {
                let c = &c[..c.len().min(left)];
                w.write_all(c).unwrap();
                left -= c.len();
                if left == 0 {
                    break;
                }
            }
        }
    }

    /// Many writes of a large stream, in every compression: the file holds
    /// exactly the bytes written (decompressed), its recorded size and
    /// checksum are the file's, and the uncompressed count is right. (How
    /// fast it is, `scripts/bench` measures, against `pg_dump > file`.)
    #[test]
    fn a_large_stream_comes_back_byte_for_byte() {
        let total: usize = 6 << 20;
        let block = sample_copy_data(1 << 20);
        let root = tempfile::tempdir().unwrap();
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let mut w =
                BackupWriter::create(root.path(), "big", Content::SqlDump, compression).unwrap();
            feed(&mut w, &block, total, 64 * 1024);
            let marker = b"\n-- PostgreSQL database dump complete\n";
            w.write_all(marker).unwrap();
            let c = w
                .commit(|seq| format!("big-{compression:?}-{seq}"))
                .unwrap();
            let file = std::fs::read(&c.path).unwrap();
            assert_eq!(c.bytes, file.len() as u64, "{compression:?}");
            assert_eq!(c.sha256, sha256_of(&file), "{compression:?}");
            assert_eq!(c.uncompressed_bytes, (total + marker.len()) as u64);
            let plain = match compression {
                Compression::None => file,
                Compression::Gzip => {
                    let mut out = Vec::new();
                    flate2::read::MultiGzDecoder::new(&file[..])
                        .read_to_end(&mut out)
                        .unwrap();
                    out
                }
                Compression::Zstd => zstd::decode_all(&file[..]).unwrap(),
            };
            let mut expected = Vec::with_capacity(total + marker.len());
            feed(&mut expected, &block, total, 64 * 1024);
            expected.extend_from_slice(marker);
            assert!(plain == expected, "{compression:?}: content differs");
        }
    }

    /// COPY lines that look like a ledger: ids, amounts, timestamps, text.
    fn sample_copy_data(len: usize) -> Vec<u8> {
        let words = [
            "invoice",
            "refund",
            "transfer",
            "salary",
            "rent",
            "groceries",
            "fee",
            "interest",
            "Müller GmbH",
            "ACME Corp",
            "N/A",
            "\\N",
        ];
        let mut out = Vec::with_capacity(len + 256);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut id = 1u64;
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let w1 = words[(x % words.len() as u64) as usize];
            let w2 = words[((x >> 8) % words.len() as u64) as usize];
            let line = format!(
                "{id}\t{}.{:02}\t2025-{:02}-{:02} {:02}:{:02}:{:02}+01\t{w1} {w2} #{}\t{}\n",
                (x >> 16) % 100_000,
                (x >> 40) % 100,
                1 + (x >> 3) % 12,
                1 + (x >> 5) % 28,
                (x >> 9) % 24,
                (x >> 11) % 60,
                (x >> 13) % 60,
                x % 1_000_000_007,
                if x & 1 == 0 { "t" } else { "f" },
            );
            out.extend_from_slice(line.as_bytes());
            id += 1;
        }
        out.truncate(len);
        out
    }
}
