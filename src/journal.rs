//! The journal: what a destructive operation is about to do, written
//! before it starts and removed when it finishes, so that the budgie after
//! one that was killed can tell what was left half done (`crate::recover`
//! reads it and repairs). Also the other things an interrupted budgie can
//! leave in the backup directory: hidden temporaries of unfinished writes.
//!
//! The journal is `<backup dir>/.budgie-<project>.journal.json`, written
//! atomically, read only by a budgie holding the project lock.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::databases::postgres::side_name;
use crate::error::{Error, Result};
use crate::fsutil::safe_name_part;

/// What a destructive operation is about to do; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub pid: u32,
    /// The budgie command (`clean`, `restore`...).
    pub command: String,
    /// When it began (RFC 3339, local time).
    pub started: String,
    /// Complete safety backups taken before anything was deleted.
    #[serde(default)]
    pub safety_backups: Vec<PathBuf>,
    /// Volumes about to be deleted (engine names).
    #[serde(default)]
    pub volumes: Vec<String>,
    /// The side databases of a restore or restore test.
    #[serde(default)]
    pub restore: Option<Sides>,
    /// `restore --volume`: the volume being written, and from which archive.
    #[serde(default)]
    pub volume_restore: Option<(String, PathBuf)>,
    /// `restore --set`: the other databases' sides, after `restore`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_restores: Vec<Sides>,
    /// `restore --set`: the other volumes written, after `volume_restore`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_volume_restores: Vec<(String, PathBuf)>,
    /// `restore --set`: the host directories replaced, each with the stamp
    /// that names the directories beside it (`restore::dir::side_paths`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dir_restores: Vec<(String, String)>,
}

impl Entry {
    /// Every restore's sides.
    pub fn restores(&self) -> impl Iterator<Item = &Sides> {
        self.restore.iter().chain(&self.more_restores)
    }

    /// Every volume restore: (volume, archive).
    pub fn volume_restores(&self) -> impl Iterator<Item = &(String, PathBuf)> {
        self.volume_restore.iter().chain(&self.more_volume_restores)
    }
}

/// The databases a restore works with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sides {
    /// The database being replaced.
    pub database: String,
    /// Its service (None in journals from before budgie knew several
    /// databases: then the project's only one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Where the file is loaded first.
    pub scratch: String,
    /// Where the current database is renamed to by the swap; None for a
    /// restore test, which never swaps.
    pub old: Option<String>,
    /// `--keep-previous`: the set-aside database is meant to stay.
    #[serde(default)]
    pub keep_previous: bool,
    /// The file being restored.
    pub file: PathBuf,
}

impl Sides {
    /// The databases of a restore of `file` into `database`, named by
    /// `stamp` (`restore::side_name`).
    pub fn restore(
        service: &str,
        database: &str,
        stamp: &str,
        file: &Path,
        keep_previous: bool,
    ) -> Sides {
        Sides {
            old: Some(side_name(database, "old", stamp)),
            keep_previous,
            ..Sides::restore_test(service, database, stamp, file)
        }
    }

    /// A restore test's: a scratch database only, never swapped in.
    pub fn restore_test(service: &str, database: &str, stamp: &str, file: &Path) -> Sides {
        Sides {
            database: database.to_string(),
            service: Some(service.to_string()),
            scratch: side_name(database, "restore", stamp),
            old: None,
            keep_previous: false,
            file: file.to_path_buf(),
        }
    }
}

impl Entry {
    pub fn new(command: &str) -> Entry {
        Entry {
            pid: std::process::id(),
            command: command.to_string(),
            started: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            safety_backups: Vec::new(),
            volumes: Vec::new(),
            restore: None,
            volume_restore: None,
            more_restores: Vec::new(),
            more_volume_restores: Vec::new(),
            dir_restores: Vec::new(),
        }
    }
}

/// The journal file of `project` in the backup directory `dir`.
pub fn journal_path(dir: &Path, project: &str) -> PathBuf {
    dir.join(format!(".budgie-{}.journal.json", safe_name_part(project)))
}

/// An open journal: removed by [`Journal::finish`], kept otherwise — a
/// failed operation has already tried to undo its own work, and the next
/// budgie checks that it succeeded.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    /// Writes `entry` (to a temporary name, synced, renamed).
    pub fn begin(dir: &Path, project: &str, entry: &Entry) -> Result<Journal> {
        let path = journal_path(dir, project);
        write(&path, entry)?;
        Ok(Journal { path })
    }

    /// The operation finished: nothing to recover.
    pub fn finish(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn write(path: &Path, entry: &Entry) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let fail = |e: &dyn std::fmt::Display| {
        Error::new(format!(
            "cannot write budgie's journal {}: {e}; nothing was changed",
            path.display()
        ))
    };
    crate::backup::store::ensure_backup_dir(dir)?;
    let mut json = serde_json::to_vec_pretty(entry).map_err(|e| fail(&e))?;
    json.push(b'\n');
    crate::fsutil::write_atomically(path, &json, ".budgie-journal.", ".partial")
        .map_err(|e| fail(&e))
}

/// Reads the journal; Ok(None) when there is none.
pub fn read_journal(path: &Path) -> Result<Option<Entry>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::new(format!(
                "budgie's journal {} cannot be read: {e}",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::new(format!(
            "budgie's journal {} cannot be read: {e}",
            path.display()
        ))),
    }
}

/// Whether `name` (in the backup directory) is a temporary file of a backup
/// of `project` — `.<project>_<YYYYMMDD_HHMMSS>....partial`, or a journal's
/// temporary — and so never anything but an unfinished write.
pub fn is_leftover_temp(project: &str, name: &str) -> bool {
    if !name.ends_with(".partial") {
        return false;
    }
    if [
        ".budgie-journal.",
        crate::restore::unwrap::PREFIX,
        crate::fsutil::DOWNLOAD_PREFIX,
        crate::fsutil::DECRYPTED_PREFIX,
    ]
    .iter()
    .any(|p| name.starts_with(p))
    {
        return true;
    }
    let Some(rest) = name
        .strip_prefix('.')
        .and_then(|n| n.strip_prefix(safe_name_part(project).as_str()))
        .and_then(|n| n.strip_prefix('_'))
    else {
        return false;
    };
    // The stamp must follow at once, so that project `app` never takes
    // project `app_x`'s files.
    let b = rest.as_bytes();
    b.len() > 15
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'_'
        && b[9..15].iter().all(u8::is_ascii_digit)
}

/// Leftover temporary files of `project` in `dir`, sorted.
pub fn leftover_temps(dir: &Path, project: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| is_leftover_temp(project, &e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Whether anything may need recovering: a journal or a leftover temporary.
/// Reads the directory only; creates nothing.
pub fn anything_left(dir: &Path, project: &str) -> bool {
    journal_path(dir, project).exists() || !leftover_temps(dir, project).is_empty()
}

/// For `doctor`, which only reads: what an interrupted budgie left, in
/// words; None when nothing.
pub fn pending(dir: &Path, project: &str) -> Option<String> {
    let mut parts = Vec::new();
    match read_journal(&journal_path(dir, project)) {
        Ok(Some(e)) => parts.push(format!(
            "an interrupted `budgie {}` (pid {}, started {})",
            e.command, e.pid, e.started
        )),
        Ok(None) => {}
        Err(e) => parts.push(e.message),
    }
    let temps = leftover_temps(dir, project);
    if !temps.is_empty() {
        parts.push(format!(
            "{} unfinished temporary file{}",
            temps.len(),
            if temps.len() == 1 { "" } else { "s" }
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The sides of a restore of `x.sql` into database `app`, for tests.
#[cfg(test)]
pub fn test_sides(keep_previous: bool) -> Sides {
    Sides {
        database: "app".into(),
        service: Some("db".into()),
        scratch: "app_budgie_restore_1".into(),
        old: Some("app_budgie_old_1".into()),
        keep_previous,
        file: "x.sql".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_of_this_project_only() {
        assert!(is_leftover_temp(
            "app",
            ".app_20260101_120000.sql.zst.a1B2c3.partial"
        ));
        assert!(is_leftover_temp(
            "app",
            ".app_20260101_120000_pre-clean.sql.AbCdEf.partial"
        ));
        assert!(is_leftover_temp(
            "app",
            ".app_20260101_120000.sql.meta.json.x.meta.partial"
        ));
        assert!(is_leftover_temp("app", ".budgie-journal.abc.partial"));
        // Another project whose name starts with this one's.
        assert!(!is_leftover_temp(
            "app",
            ".app_x_20260101_120000.sql.a1B2c3.partial"
        ));
        // Finished files, the lock, the journal.
        assert!(!is_leftover_temp("app", "app_20260101_120000.sql"));
        assert!(!is_leftover_temp("app", ".budgie-app.lock"));
        assert!(!is_leftover_temp("app", ".budgie-app.journal.json"));
        assert!(!is_leftover_temp("app", ".app_2026.partial"));
    }

    #[test]
    fn the_journal_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = Entry::new("restore");
        e.restore = Some(test_sides(false));
        e.safety_backups.push("b.sql".into());
        let j = Journal::begin(dir.path(), "app", &e).unwrap();
        let read = read_journal(&journal_path(dir.path(), "app")).unwrap();
        assert_eq!(read, Some(e));
        j.finish();
        assert_eq!(
            read_journal(&journal_path(dir.path(), "app")).unwrap(),
            None
        );
    }
}
