//! The backup directory and its file names.
//!
//! Names are `<project>_<YYYYMMDD_HHMMSS>[-N][_<reason>][.<service>]` then
//! `.sql[.gz|.zst]` (plain SQL), `.dump` (pg_dump's custom format) or
//! `.dir.tar` (pg_dump's directory format kept as one tar) for database
//! dumps, where `-N` tells apart backups taken in the same second
//! and the reason of a safety backup is `pre-clean`, `pre-nuke`,
//! `pre-restore`, `pre-volume-rm`. Temporary files start with a dot and are
//! never listed as backups.

use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::compose::{Compression, DumpFormat, Project};
use crate::error::{Error, Result};

/// The backup directory: `--backup-dir`, else `BUDGIE_BACKUP_DIR`, else
/// `x-budgie.backup.dir`, else `<project dir>/backups`. Relative paths are
/// against the project directory.
pub fn backup_dir(project: &Project, flag: Option<&Path>) -> PathBuf {
    let chosen = flag
        .map(Path::to_path_buf)
        .or_else(|| {
            project
                .env
                .get("BUDGIE_BACKUP_DIR")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| project.config.backup.dir.clone())
        .unwrap_or_else(|| PathBuf::from("backups"));
    if chosen.is_absolute() {
        chosen
    } else {
        project.dir.join(chosen)
    }
}

/// Makes sure `dir` exists, is private and is ignored by git.
///
/// Creates `dir` and its missing parents with mode 0700. An existing
/// directory keeps its mode unless group or others have any access, then it
/// is set to 0700. Writes a `.gitignore` holding `*` when there is none (an
/// existing one is left alone). Errors name the path.
pub fn ensure_backup_dir(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(Error::new(format!(
                    "the backup directory {} exists but is not a directory",
                    dir.display()
                )));
            }
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(
                    |e| {
                        Error::new(format!(
                            "cannot make the backup directory {} private (chmod 700): {e}",
                            dir.display()
                        ))
                    },
                )?;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| {
                    Error::new(format!(
                        "cannot create the backup directory {}: {e}",
                        dir.display()
                    ))
                })?;
        }
        Err(e) => {
            return Err(Error::new(format!(
                "cannot use the backup directory {}: {e}",
                dir.display()
            )));
        }
    }
    let gitignore = dir.join(".gitignore");
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&gitignore)
    {
        Ok(mut f) => f
            .write_all(b"# budgie backups hold database contents: never commit them.\n*\n")
            .map_err(|e| Error::new(format!("cannot write {}: {e}", gitignore.display())))?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(Error::new(format!(
                "cannot write {}: {e}",
                gitignore.display()
            )));
        }
    }
    Ok(())
}

/// What a dump file is, as the end of its name says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    /// Plain SQL, compressed or not: `.sql`, `.sql.gz`, `.sql.zst`.
    Sql(Compression),
    /// pg_dump's custom format: `.dump`.
    Custom,
    /// pg_dump's directory format in one tar: `.dir.tar`.
    DirectoryTar,
}

impl DumpKind {
    /// Every kind, in the order names are tried.
    pub const ALL: [DumpKind; 5] = [
        DumpKind::Sql(Compression::None),
        DumpKind::Sql(Compression::Gzip),
        DumpKind::Sql(Compression::Zstd),
        DumpKind::Custom,
        DumpKind::DirectoryTar,
    ];

    /// The file a dump in `format` is written as; `compression` applies to
    /// plain SQL (pg_dump compresses its archives itself).
    pub fn new(format: DumpFormat, compression: Compression) -> DumpKind {
        match format {
            DumpFormat::Plain => DumpKind::Sql(compression),
            DumpFormat::Custom => DumpKind::Custom,
            DumpFormat::Directory => DumpKind::DirectoryTar,
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            DumpKind::Sql(Compression::None) => ".sql",
            DumpKind::Sql(Compression::Gzip) => ".sql.gz",
            DumpKind::Sql(Compression::Zstd) => ".sql.zst",
            DumpKind::Custom => ".dump",
            DumpKind::DirectoryTar => ".dir.tar",
        }
    }

    /// budgie's compression of the file (none for pg_dump's archives).
    pub fn compression(self) -> Compression {
        match self {
            DumpKind::Sql(c) => c,
            _ => Compression::None,
        }
    }

    pub fn format(self) -> DumpFormat {
        match self {
            DumpKind::Sql(_) => DumpFormat::Plain,
            DumpKind::Custom => DumpFormat::Custom,
            DumpKind::DirectoryTar => DumpFormat::Directory,
        }
    }
}

impl From<Compression> for DumpKind {
    fn from(c: Compression) -> DumpKind {
        DumpKind::Sql(c)
    }
}

/// A database dump found in the backup directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupFile {
    pub path: PathBuf,
    pub file_name: String,
    /// From the name: when the backup was started (local time).
    pub created: NaiveDateTime,
    /// Same-second counter (`-N`), 0 when absent.
    pub sequence: u32,
    /// The safety reason (`pre-clean`...), None for a manual backup.
    pub reason: Option<String>,
    /// The database service, in a stack with several databases.
    pub service: Option<String>,
    pub compression: Compression,
    /// plain, custom or directory.
    pub format: DumpFormat,
    pub bytes: u64,
}

/// The parts of a dump's file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    pub created: NaiveDateTime,
    pub sequence: u32,
    pub reason: Option<String>,
    pub service: Option<String>,
    pub compression: Compression,
    pub kind: DumpKind,
    /// Encrypted to age recipients (`.age`).
    pub encrypted: bool,
}

/// The file name for a dump of `project` taken at `at`.
pub fn dump_name(
    project: &str,
    at: NaiveDateTime,
    sequence: u32,
    reason: Option<&str>,
    kind: impl Into<DumpKind>,
) -> String {
    service_dump_name(project, at, sequence, reason, None, kind)
}

/// The file name for a dump of database service `service` (named in a
/// stack with several databases): `<project>_<stamp>[-N][_<reason>][.<service>]`
/// and the kind's suffix.
pub fn service_dump_name(
    project: &str,
    at: NaiveDateTime,
    sequence: u32,
    reason: Option<&str>,
    service: Option<&str>,
    kind: impl Into<DumpKind>,
) -> String {
    let mut name = format!("{project}_{}", at.format("%Y%m%d_%H%M%S"));
    if sequence > 0 {
        name.push_str(&format!("-{sequence}"));
    }
    if let Some(r) = reason {
        name.push('_');
        name.push_str(r);
    }
    if let Some(s) = service {
        name.push('.');
        name.push_str(s);
    }
    name.push_str(kind.into().suffix());
    name
}

/// Parses a dump's file name for `project`; None when it is not one.
pub fn parse_dump_name(project: &str, file_name: &str) -> Option<ParsedName> {
    let rest = file_name.strip_prefix(project)?.strip_prefix('_')?;
    let (rest, encrypted) = match rest.strip_suffix(crate::storage::crypt::SUFFIX) {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let (stem, kind) = DumpKind::ALL
        .iter()
        .rev()
        .find_map(|k| Some((rest.strip_suffix(k.suffix())?, *k)))?;
    // `<stamp>[-N][_reason]` holds no dot; a service name follows the first.
    let (stem, service) = match stem.split_once('.') {
        Some((head, svc)) => {
            if svc.is_empty()
                || !svc
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return None;
            }
            (head, Some(svc.to_string()))
        }
        None => (stem, None),
    };
    let stamp = stem.get(..15)?;
    let created = NaiveDateTime::parse_from_str(stamp, "%Y%m%d_%H%M%S").ok()?;
    let mut tail = stem.get(15..)?;
    let mut sequence = 0;
    if let Some(t) = tail.strip_prefix('-') {
        let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        sequence = t.get(..digits)?.parse().ok()?;
        tail = t.get(digits..)?;
    }
    let reason = match tail {
        "" => None,
        t => {
            let r = t.strip_prefix('_')?;
            if r.is_empty() || !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return None;
            }
            Some(r.to_string())
        }
    };
    Some(ParsedName {
        created,
        sequence,
        reason,
        service,
        compression: kind.compression(),
        kind,
        encrypted,
    })
}

/// The entries of the backup directory `dir`; none when it does not exist.
pub fn backup_dir_entries(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    match std::fs::read_dir(dir) {
        Ok(e) => Ok(e.flatten().collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::new(format!(
            "cannot read the backup directory {}: {e}",
            dir.display()
        ))),
    }
}

/// The project's database dumps in `dir`, newest first. A missing directory
/// has none.
pub fn list_dumps(dir: &Path, project: &str) -> Result<Vec<BackupFile>> {
    let mut out = Vec::new();
    for entry in backup_dir_entries(dir)? {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(parsed) = parse_dump_name(project, &file_name) else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        out.push(BackupFile {
            path: entry.path(),
            file_name,
            created: parsed.created,
            sequence: parsed.sequence,
            reason: parsed.reason,
            service: parsed.service,
            compression: parsed.compression,
            format: parsed.kind.format(),
            bytes: meta.len(),
        });
    }
    out.sort_by(|a, b| {
        (b.created, b.sequence, &b.file_name).cmp(&(a.created, a.sequence, &a.file_name))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2025, 11, 25)
            .unwrap()
            .and_hms_opt(h, m, s)
            .unwrap()
    }

    #[test]
    fn names_follow_the_contract() {
        assert_eq!(
            dump_name("app", at(9, 27, 4), 0, None, Compression::None),
            "app_20251125_092704.sql"
        );
        assert_eq!(
            dump_name("app", at(9, 27, 4), 0, Some("pre-clean"), Compression::Gzip),
            "app_20251125_092704_pre-clean.sql.gz"
        );
        assert_eq!(
            dump_name("my-app_2", at(9, 27, 4), 2, None, Compression::Zstd),
            "my-app_2_20251125_092704-2.sql.zst"
        );
        assert_eq!(
            service_dump_name("app", at(9, 27, 4), 0, None, Some("db"), DumpKind::Custom),
            "app_20251125_092704.db.dump"
        );
        assert_eq!(
            dump_name(
                "app",
                at(9, 27, 4),
                1,
                Some("pre-clean"),
                DumpKind::DirectoryTar
            ),
            "app_20251125_092704-1_pre-clean.dir.tar"
        );
    }

    #[test]
    fn names_parse_back() {
        for (seq, reason, c) in [
            (0, None, Compression::None),
            (3, Some("pre-restore"), Compression::Zstd),
            (0, Some("pre-volume-rm"), Compression::Gzip),
        ] {
            let n = dump_name("p", at(23, 59, 59), seq, reason, c);
            let parsed = parse_dump_name("p", &n).unwrap();
            assert_eq!(parsed.created, at(23, 59, 59));
            assert_eq!(parsed.sequence, seq);
            assert_eq!(parsed.reason.as_deref(), reason);
            assert_eq!(parsed.compression, c);
        }
        for kind in DumpKind::ALL {
            for service in [None, Some("db"), Some("auth-db.x")] {
                let n = service_dump_name("p", at(1, 2, 3), 2, Some("pre-nuke"), service, kind);
                let parsed = parse_dump_name("p", &n).unwrap();
                assert_eq!(parsed.kind, kind, "{n}");
                assert_eq!(parsed.service.as_deref(), service, "{n}");
                assert_eq!(parsed.sequence, 2);
                assert!(!parsed.encrypted);
                // Encrypted: the same name and `.age`.
                let parsed = parse_dump_name("p", &format!("{n}.age")).unwrap();
                assert_eq!((parsed.kind, parsed.encrypted), (kind, true), "{n}.age");
            }
        }
    }

    #[test]
    fn other_files_are_not_backups() {
        for name in [
            "other_20251125_092704.sql",
            "p_20251125_092704.sql.tmp",
            ".p_20251125_092704.sql.partial",
            "p_2025112_092704.sql",
            "p_20251125_092704_.sql",
            "p_20251125_092704_a b.sql",
            "p_20251399_092704.sql",
            "p.sql",
            "p_ü.sql",
            "p_20251125_092704.tar",
            "p_20251125_092704.dump.gz",
            "p_20251125_092704.pgdata.tar.zst",
            "p_20251125_092704.age",
            "p_20251125_092704.sql.age.age",
        ] {
            assert!(parse_dump_name("p", name).is_none(), "{name}");
        }
    }

    #[test]
    fn lists_newest_first_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "p_20251125_092704.sql",
            "p_20251125_092704-1.sql",
            "p_20251126_000000_pre-clean.sql.gz",
            "q_20251127_000000.sql",
            ".p_20251128_000000.sql.partial",
            ".gitignore",
        ] {
            std::fs::write(dir.path().join(n), "x").unwrap();
        }
        let names: Vec<String> = list_dumps(dir.path(), "p")
            .unwrap()
            .into_iter()
            .map(|b| b.file_name)
            .collect();
        assert_eq!(
            names,
            [
                "p_20251126_000000_pre-clean.sql.gz",
                "p_20251125_092704-1.sql",
                "p_20251125_092704.sql"
            ]
        );
        assert!(
            list_dumps(&dir.path().join("missing"), "p")
                .unwrap()
                .is_empty()
        );
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_backup_dir_is_private_and_ignored() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b/backups");
        ensure_backup_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("a")), 0o700);
        let gitignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
        assert!(gitignore.starts_with('#'));
        assert!(gitignore.lines().any(|l| l == "*"));

        // Too open: fixed. Private enough: left alone. An existing
        // .gitignore is kept.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join(".gitignore"), "mine\n").unwrap();
        ensure_backup_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(
            std::fs::read_to_string(dir.join(".gitignore")).unwrap(),
            "mine\n"
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o300)).unwrap();
        ensure_backup_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o300);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();

        let file = root.path().join("plain-file");
        std::fs::write(&file, "x").unwrap();
        let err = ensure_backup_dir(&file).unwrap_err();
        assert!(err.message.contains(&*file.to_string_lossy()), "{err}");
        let err = ensure_backup_dir(&file.join("sub")).unwrap_err();
        assert!(err.message.contains(&*file.to_string_lossy()), "{err}");
    }
}
