//! Backups: database dumps and volume archives, where they live and what
//! they are called.
//!
//! - `store`: the backup directory, file names, listing;
//! - `writer`: the streamed, checked, atomically committed file (invariant 3);
//! - `stream`: an engine command's stdout into a writer;
//! - `meta`: the `.meta.json` sidecar (checksum, database, reason);
//! - `verify`: is a file a complete dump;
//! - `retention`: which backups `prune` keeps;
//! - `set`: whole-stack sets and their manifests.
//!
//! This module writes a backup from a command's output (`pg_dump`, a volume
//! export); which command, and starting the database when it is not
//! running, are the executor's business.

pub mod dirs;
pub mod format;
pub mod meta;
pub mod packing;
pub mod pgarchive;
pub mod retention;
pub mod set;
pub mod store;
pub mod stream;
pub mod streamcheck;
pub mod tar;
#[cfg(test)]
pub(crate) mod testdata;
pub mod verify;
pub mod writer;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Local, NaiveDateTime};
use serde::Serialize;

use crate::compose::Compression;
use crate::engine::Cmd;
use crate::error::Result;
use format::Content;
use store::DumpKind;
use writer::BackupWriter;

/// A backup that was written, checked and published under its final name.
#[derive(Debug, Clone, Serialize)]
pub struct Taken {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    pub seconds: f64,
    /// The database dumped (dumps only).
    pub database: Option<String>,
    /// The service of the database dumped (dumps only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The volume key archived (archives only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// The host directory archived (directory archives only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    /// What the volume's writers did meanwhile (archives only): "app
    /// paused", "app stopped", "copied live: app kept running".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writers: Option<String>,
}

/// The name of a volume archive:
/// `<project>_<YYYYMMDD_HHMMSS>[-N][_<reason>].<volume key>.tar.zst`.
pub fn archive_name(
    project: &str,
    at: NaiveDateTime,
    sequence: u32,
    reason: Option<&str>,
    key: &str,
) -> String {
    let dump = store::dump_name(project, at, sequence, reason, Compression::None);
    let stem = dump.strip_suffix(".sql").unwrap_or(&dump);
    format!("{stem}.{key}.tar.zst")
}

/// A volume archive found in the backup directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveFile {
    pub path: PathBuf,
    pub file_name: String,
    pub created: NaiveDateTime,
    pub sequence: u32,
    pub reason: Option<String>,
    /// The volume key.
    pub key: String,
    pub bytes: u64,
}

/// Parses an archive's file name for `project`: (created, sequence, reason, key).
pub fn parse_archive_name(
    project: &str,
    file_name: &str,
) -> Option<(NaiveDateTime, u32, Option<String>, String)> {
    let name = file_name
        .strip_suffix(crate::storage::crypt::SUFFIX)
        .unwrap_or(file_name);
    let stem = name.strip_suffix(".tar.zst")?;
    let rest = stem.strip_prefix(project)?.strip_prefix('_')?;
    // <stamp>[-N][_reason].<key>: the stamp and reason hold no dot.
    let dot = rest.find('.')?;
    let (head, key) = (rest.get(..dot)?, rest.get(dot + 1..)?);
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return None;
    }
    let parsed = store::parse_dump_name(project, &format!("{project}_{head}.sql"))?;
    Some((
        parsed.created,
        parsed.sequence,
        parsed.reason,
        key.to_string(),
    ))
}

/// The project's volume archives in `dir`, newest first.
pub fn list_archives(dir: &Path, project: &str) -> Result<Vec<ArchiveFile>> {
    let mut out = Vec::new();
    for entry in store::backup_dir_entries(dir)? {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some((created, sequence, reason, key)) = parse_archive_name(project, &file_name) else {
            continue;
        };
        let Ok(m) = entry.metadata() else { continue };
        if !m.is_file() {
            continue;
        }
        out.push(ArchiveFile {
            path: entry.path(),
            file_name,
            created,
            sequence,
            reason,
            key,
            bytes: m.len(),
        });
    }
    out.sort_by(|a, b| {
        (b.created, b.sequence, &b.file_name).cmp(&(a.created, a.sequence, &a.file_name))
    });
    Ok(out)
}

/// The server version a plain dump's header names
/// (`-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)`).
pub fn server_version(head: &[u8]) -> Option<String> {
    String::from_utf8_lossy(head)
        .lines()
        .find_map(|l| l.strip_prefix("-- Dumped from database version "))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Where a backup goes and what it is called: the directory, the project,
/// the moment it was planned (its stamp) and, for a safety backup, the
/// reason. Fixed when the plan is made, so that `--dry-run` shows the file
/// names the real run writes.
#[derive(Debug, Clone)]
pub struct Target {
    pub dir: PathBuf,
    pub project: String,
    pub at: DateTime<Local>,
    /// `pre-clean`, `pre-restore`...; None for a backup asked for.
    pub reason: Option<String>,
    /// The age recipients dumps and archives are encrypted to (none: not encrypted).
    pub encrypt: Vec<String>,
}

impl Target {
    /// The name of a dump: `<project>_<stamp>[-N][_<reason>][.<service>].sql[.gz|.zst]`
    /// (the service named in a stack with several databases).
    pub fn dump_name(
        &self,
        sequence: u32,
        service: Option<&str>,
        kind: impl Into<DumpKind>,
    ) -> String {
        let name = store::service_dump_name(
            &self.project,
            self.at.naive_local(),
            sequence,
            self.reason.as_deref(),
            service,
            kind,
        );
        match self.encrypt.is_empty() {
            true => name,
            false => name + crate::storage::crypt::SUFFIX,
        }
    }

    /// A new archive of `key` (zstd, encrypted to the recipients, if any).
    pub fn archive_writer(&self, key: &str) -> Result<BackupWriter> {
        BackupWriter::create_encrypted(
            &self.dir,
            &self.archive_name(0, key),
            Content::TarArchive,
            Compression::Zstd,
            &self.encrypt,
        )
    }

    /// The name of a volume archive: `<project>_<stamp>[-N][_<reason>].<key>.tar.zst`;
    /// `.age` follows when the archive is encrypted.
    pub fn archive_name(&self, sequence: u32, key: &str) -> String {
        let name = archive_name(
            &self.project,
            self.at.naive_local(),
            sequence,
            self.reason.as_deref(),
            key,
        );
        match self.encrypt.is_empty() {
            true => name,
            false => name + crate::storage::crypt::SUFFIX,
        }
    }
}

/// Runs `cmd` (a `pg_dump` writing plain SQL on stdout) into a dump of
/// database `database` at `target`: streamed, compressed as asked, checked
/// (exit 0 and the end marker), fsync'd, then published under
/// [`Target::dump_name`] (the next free `-N` when that is taken) with a
/// `.meta.json` sidecar. On any failure no file has a final name.
/// What a dump holds: which database, of which service (named in the file
/// name in a stack with several databases), in which dump format.
pub struct DumpOf<'a> {
    pub database: &'a str,
    pub service: &'a str,
    /// The service goes into the file name.
    pub named: bool,
    pub content: Content,
}

impl DumpOf<'_> {
    fn name_service(&self) -> Option<&str> {
        self.named.then_some(self.service)
    }
}

pub fn dump_database(
    cmd: &Cmd,
    of: &DumpOf,
    target: &Target,
    kind: DumpKind,
    progress: &dyn Fn(u64),
) -> Result<Taken> {
    let started = Instant::now();
    let database = of.database;
    let service = of.name_service();
    let stem = target.dump_name(0, service, kind);
    let compression = kind.compression();
    let mut w = BackupWriter::create_encrypted(
        &target.dir,
        &stem,
        of.content,
        compression,
        &target.encrypt,
    )?;
    let mut head = Vec::new();
    stream::copy_command_output(cmd, &mut w, &mut head, progress).map_err(|e| {
        e.context(format!(
            "dump of database {database} (service {})",
            of.service
        ))
    })?;
    // Same stamp, other compression: still a new sequence number, so the
    // newest backup is never ambiguous. (Returning the sibling's name makes
    // the no-clobber publish move on to the next number.)
    let committed = w.commit(|seq| {
        for k in DumpKind::ALL {
            let sibling = target.dump_name(seq, service, k);
            if k != kind && target.dir.join(&sibling).exists() {
                return sibling;
            }
        }
        target.dump_name(seq, service, kind)
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let m = meta::Meta {
        database: Some(database.to_string()),
        service: Some(of.service.to_string()),
        reason: target.reason.clone(),
        server_version: committed
            .server_version
            .clone()
            .or_else(|| server_version(&head)),
        ..meta::Meta::for_committed(
            &committed,
            &target.project,
            compression,
            of.content,
            target.at.fixed_offset(),
            seconds,
        )
    };
    record(committed.path, m)
}

/// Runs `cmd` (a tar stream of volume `key` on stdout) into a `.tar.zst`
/// archive at `target` (`.tar.zst.age`, encrypted as it streams, when the
/// target has recipients). Same guarantees as a dump, with the tar
/// end-of-archive in place of the dump marker.
pub fn archive_volume(
    cmd: &Cmd,
    key: &str,
    target: &Target,
    progress: &dyn Fn(u64),
) -> Result<Taken> {
    let started = Instant::now();
    let mut w = target.archive_writer(key)?;
    stream::copy_command_output(cmd, &mut w, &mut Vec::new(), progress)
        .map_err(|e| e.context(format!("archive of volume {key}")))?;
    let committed = w.commit(|seq| target.archive_name(seq, key))?;
    let seconds = started.elapsed().as_secs_f64();
    let m = meta::Meta {
        reason: target.reason.clone(),
        volume: Some(key.to_string()),
        ..meta::Meta::for_committed(
            &committed,
            &target.project,
            Compression::Zstd,
            Content::TarArchive,
            target.at.fixed_offset(),
            seconds,
        )
    };
    record(committed.path, m)
}

/// Writes the sidecar of a committed backup and says what was taken.
pub(crate) fn record(path: PathBuf, m: meta::Meta) -> Result<Taken> {
    meta::write_meta(&path, &m)?;
    Ok(Taken {
        path,
        bytes: m.bytes,
        sha256: m.sha256,
        seconds: m.seconds,
        database: m.database,
        service: m.service,
        volume: m.volume,
        directory: m.directory,
        writers: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn reads_the_server_version_from_the_dump_header() {
        let head = b"--\n-- PostgreSQL database dump\n--\n\n-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)\n-- Dumped by pg_dump version 15.18\n";
        assert_eq!(
            server_version(head).as_deref(),
            Some("15.18 (Debian 15.18-0+deb12u1)")
        );
        assert_eq!(server_version(b"SET x = 1;"), None);
    }

    #[test]
    fn archive_names_parse_back() {
        let at = NaiveDate::from_ymd_opt(2025, 11, 25)
            .unwrap()
            .and_hms_opt(9, 27, 4)
            .unwrap();
        let n = archive_name("shop", at, 0, Some("pre-clean"), "node_modules.cache");
        assert_eq!(
            n,
            "shop_20251125_092704_pre-clean.node_modules.cache.tar.zst"
        );
        assert_eq!(
            parse_archive_name("shop", &n),
            Some((at, 0, Some("pre-clean".into()), "node_modules.cache".into()))
        );
        let n = archive_name("shop", at, 2, None, "uploads");
        assert_eq!(n, "shop_20251125_092704-2.uploads.tar.zst");
        assert_eq!(
            parse_archive_name("shop", &n),
            Some((at, 2, None, "uploads".into()))
        );
        assert_eq!(parse_archive_name("shop", "shop_20251125_092704.sql"), None);
        assert_eq!(
            parse_archive_name("shop", "shop_20251125_092704..tar.zst"),
            None
        );
        assert_eq!(parse_archive_name("other", &n), None);
    }
}
