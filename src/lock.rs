//! One budgie at a time per project.
//!
//! Two budgies working on the same project at once can destroy data: a
//! cron `budgie backup` pruning while `budgie restore` swaps the database,
//! or two `clean`s racing their safety backups. Every command that changes
//! something takes the project lock first.
//!
//! The lock is an advisory `flock` (through fs4) on
//! `<backup dir>/.budgie-<project>.lock`. The kernel releases it when the
//! holder's file is closed — on drop, on exit, and when the process dies,
//! even by `kill -9` — so a lock is never stale. The file's content only
//! says who holds it (`{"pid", "command", "started"}`, written by the
//! holder once it has the lock) so that a waiting budgie can tell the user.
//! The file itself is never removed: removing it would let a second budgie
//! lock a fresh file while the first still holds the old one.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt as _, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Local, SecondsFormat};
use fs4::TryLockError;
use serde::{Deserialize, Serialize};

use crate::backup::store::ensure_backup_dir;
use crate::error::{Error, Result};
use crate::fsutil::safe_name_part;

/// How often a waiting budgie tries again.
const POLL: Duration = Duration::from_millis(200);

/// How long to wait for a just-started holder to write its record before
/// telling the user about an unknown holder.
const RECORD_GRACE: Duration = Duration::from_millis(200);

/// The project lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct ProjectLock {
    file: File,
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        // Forget the record while still holding the lock; closing the file
        // (after this) releases the lock.
        let _ = self.file.set_len(0);
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

/// Who holds a project lock, as its record says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    /// The budgie subcommand (`clean`, `backup`...).
    pub command: String,
    /// When it took the lock (RFC 3339, local time).
    pub started: String,
}

impl Holder {
    /// A holder whose record could not be read (it is being written, or
    /// another program holds the lock).
    fn unknown() -> Holder {
        Holder {
            pid: 0,
            command: String::new(),
            started: String::new(),
        }
    }

    pub fn is_unknown(&self) -> bool {
        self.pid == 0
    }

    /// `started` as `HH:MM:SS` (as written when it is not RFC 3339).
    pub fn started_clock(&self) -> String {
        DateTime::parse_from_rfc3339(&self.started)
            .map(|t| t.format("%H:%M:%S").to_string())
            .unwrap_or_else(|_| self.started.clone())
    }

    /// `pid 123, `budgie clean`, started 09:27:04`.
    pub fn describe(&self) -> String {
        let command = if self.command.starts_with("budgie") {
            self.command.clone()
        } else {
            format!("budgie {}", self.command)
        };
        format!(
            "pid {}, `{}`, started {}",
            self.pid,
            command,
            self.started_clock()
        )
    }
}

/// The lock file of `project` in `dir`.
pub fn lock_path(dir: &Path, project: &str) -> PathBuf {
    dir.join(format!(".budgie-{}.lock", safe_name_part(project)))
}

/// Takes the lock of `project`, whose lock file lives in `dir` (the backup
/// directory, created private if missing).
///
/// When another budgie holds it, calls `waiting` once with what its record
/// says (pid 0 and empty strings when it cannot be read), then tries again
/// every 200 ms until `timeout`, then fails naming the holder, with a hint.
/// With a zero `timeout` it tries once and does not call `waiting`.
/// `command` is recorded for others to see.
pub fn acquire(
    dir: &Path,
    project: &str,
    command: &str,
    timeout: Duration,
    mut waiting: impl FnMut(&Holder),
) -> Result<ProjectLock> {
    ensure_backup_dir(dir)?;
    let path = lock_path(dir, project);
    let start = Instant::now();
    let mut told = false;
    let mut holder: Option<Holder> = None;
    loop {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                Error::new(format!("cannot open the lock file {}: {e}", path.display()))
            })?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {
                // Locked a file that was replaced meanwhile? Then the lock
                // means nothing: start over on the file now in place.
                if is_current(&file, &path) {
                    write_record(&file, command).map_err(|e| {
                        Error::new(format!(
                            "cannot write the lock file {}: {e}",
                            path.display()
                        ))
                    })?;
                    return Ok(ProjectLock { file });
                }
            }
            Err(TryLockError::WouldBlock) => {
                if let Some(h) = read_record(&path) {
                    holder = Some(h);
                }
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::new(format!("cannot lock {}: {e}", path.display())));
            }
        }
        drop(file);
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(busy(project, holder.as_ref(), timeout));
        }
        if !told && (holder.is_some() || elapsed >= RECORD_GRACE) {
            waiting(holder.as_ref().unwrap_or(&Holder::unknown()));
            told = true;
        }
        let pause = if holder.is_none() && !told {
            POLL.min(Duration::from_millis(50))
        } else {
            POLL
        };
        std::thread::sleep(pause.min(timeout.saturating_sub(elapsed)));
    }
}

fn busy(project: &str, holder: Option<&Holder>, timeout: Duration) -> Error {
    let who = match holder {
        Some(h) if !h.is_unknown() => format!("another budgie ({})", h.describe()),
        _ => "another budgie".to_string(),
    };
    Error::new(format!(
        "{who} is still working on project {project}; gave up after {}",
        seconds(timeout)
    ))
    .hint("wait for it, or raise --lock-timeout")
}

/// `30s`, `0.3s`.
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Whether `file` is still the file at `path`.
fn is_current(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Replaces the lock file's content by our record, synced.
fn write_record(file: &File, command: &str) -> std::io::Result<()> {
    let record = Holder {
        pid: std::process::id(),
        command: command.to_string(),
        started: Local::now().to_rfc3339_opts(SecondsFormat::Secs, false),
    };
    let mut json = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
    json.push(b'\n');
    file.set_len(0)?;
    file.write_all_at(&json, 0)?;
    file.sync_all()
}

/// The holder's record; None when it is absent, being written or garbled.
fn read_record(path: &Path) -> Option<Holder> {
    let file = File::open(path).ok()?;
    let mut data = Vec::new();
    file.take(64 * 1024).read_to_end(&mut data).ok()?;
    serde_json::from_slice(&data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const SHORT: Duration = Duration::from_millis(300);

    #[test]
    fn one_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let backups = dir.path().join("backups");
        let mut called = 0;
        let first = acquire(&backups, "app", "clean", SHORT, |_| called += 1).unwrap();
        assert_eq!(called, 0, "a free lock does not wait");
        let lock_file = backups.join(".budgie-app.lock");
        assert_eq!(lock_path(&backups, "app"), lock_file);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&lock_file), 0o600);
        assert_eq!(mode(&backups), 0o700);
        let record: Holder = serde_json::from_slice(&std::fs::read(&lock_file).unwrap()).unwrap();
        assert_eq!(record.pid, std::process::id());
        assert_eq!(record.command, "clean");

        let mut seen = Vec::new();
        let started = Instant::now();
        let err = acquire(&backups, "app", "backup", SHORT, |h| seen.push(h.clone())).unwrap_err();
        assert!(started.elapsed() >= SHORT);
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(seen.len(), 1, "told once");
        assert_eq!(seen[0], record, "with the holder");
        assert_eq!(
            err.message,
            format!(
                "another budgie (pid {}, `budgie clean`, started {}) is still working on project app; gave up after 0.3s",
                std::process::id(),
                record.started_clock()
            )
        );
        assert_eq!(
            err.hint.as_deref(),
            Some("wait for it, or raise --lock-timeout")
        );
        // The holder's record survived the contender.
        let again: Holder = serde_json::from_slice(&std::fs::read(&lock_file).unwrap()).unwrap();
        assert_eq!(again, record);

        // Another project is another lock.
        let other = acquire(&backups, "other", "backup", SHORT, |_| {}).unwrap();
        drop(other);

        // No waiting at all with a zero timeout.
        let mut called = false;
        assert!(acquire(&backups, "app", "backup", Duration::ZERO, |_| called = true).is_err());
        assert!(!called);

        drop(first);
        let _second = acquire(&backups, "app", "backup", SHORT, |_| panic!("free")).unwrap();
        let record: Holder = serde_json::from_slice(&std::fs::read(&lock_file).unwrap()).unwrap();
        assert_eq!(record.command, "backup");
    }

    #[test]
    fn a_waiting_budgie_gets_the_lock_when_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "app", "restore", SHORT, |_| {}).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(first);
        });
        let mut waited = 0;
        let second = acquire(dir.path(), "app", "clean", Duration::from_secs(10), |h| {
            assert_eq!(h.command, "restore");
            waited += 1;
        });
        releaser.join().unwrap();
        assert!(second.is_ok());
        assert_eq!(waited, 1);
    }

    #[test]
    fn an_unreadable_record_still_waits_and_fails_plainly() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path(), "app");
        let first = acquire(dir.path(), "app", "clean", SHORT, |_| {}).unwrap();
        std::fs::write(&path, "garbage").unwrap();
        let mut seen = Vec::new();
        let err =
            acquire(dir.path(), "app", "backup", SHORT, |h| seen.push(h.clone())).unwrap_err();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].pid, 0);
        assert_eq!(
            err.message,
            "another budgie is still working on project app; gave up after 0.3s"
        );
        drop(first);
    }

    #[test]
    fn a_strange_project_name_stays_in_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let _lock = acquire(dir.path(), "../../x y", "clean", SHORT, |_| {}).unwrap();
        let path = lock_path(dir.path(), "../../x y");
        assert_eq!(path.parent().unwrap(), dir.path());
        assert_eq!(path.file_name().unwrap(), ".budgie-.._.._x_y.lock");
        assert!(path.exists());
    }

    #[test]
    fn a_killed_holder_leaves_the_lock_free() {
        if std::process::Command::new("flock")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("no flock on PATH: skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path(), "app");
        drop(acquire(dir.path(), "app", "clean", SHORT, |_| {}).unwrap());
        // One process that holds the lock (flock(1) would fork a child that
        // keeps it): the shell locks fd 9 and becomes `sleep`.
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("exec 9>>\"$1\" && flock 9 && exec sleep 30")
            .arg("sh")
            .arg(&path)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let f = File::open(&path).unwrap();
            match fs4::FileExt::try_lock(&f) {
                Err(TryLockError::WouldBlock) => break,
                _ => {
                    drop(f);
                    assert!(Instant::now() < deadline, "the child never took the lock");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        assert!(
            acquire(
                dir.path(),
                "app",
                "backup",
                Duration::from_millis(100),
                |_| {}
            )
            .is_err()
        );
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let lock = acquire(dir.path(), "app", "backup", Duration::from_secs(2), |_| {});
        assert!(lock.is_ok(), "{:?}", lock.err());
    }

    #[test]
    fn a_replaced_lock_file_is_told_apart() {
        // Deleting a held lock file defeats the lock (the limit of every
        // lock file; budgie never deletes it). `is_current` makes sure a
        // budgie that opened the old file just before it was replaced does
        // not take a lock nobody else will see.
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "app", "clean", SHORT, |_| {}).unwrap();
        let path = lock_path(dir.path(), "app");
        std::fs::remove_file(&path).unwrap();
        let second = acquire(dir.path(), "app", "backup", SHORT, |_| {}).unwrap();
        assert!(is_current(&second.file, &path));
        assert!(!is_current(&first.file, &path));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(seconds(Duration::from_secs(30)), "30s");
        assert_eq!(seconds(Duration::from_millis(300)), "0.3s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5s");
        let h = Holder {
            pid: 7,
            command: "budgie nuke".into(),
            started: "not a time".into(),
        };
        assert_eq!(h.describe(), "pid 7, `budgie nuke`, started not a time");
    }
}
