//! The checks of the backup directory: budgie can write there, git will
//! not commit its backups (database contents), the disk has room for the
//! next one, and no interrupted budgie left a repair to do (its journal
//! lives there).

use std::path::{Path, PathBuf};

use super::check::{BACKUP_DIR_WRITABLE, BACKUPS_IGNORED, Check, DISK_SPACE, INTERRUPTED};
use crate::compose::Project;
use crate::engine::Cmd;
use crate::ui::human_bytes;

/// Whether an interrupted budgie left a repair to do (`crate::recover`);
/// doctor only reads, so it says which command does it.
pub(super) fn nothing_interrupted(project: &Project, dir: &Path) -> Check {
    match crate::journal::pending(dir, &project.name) {
        None => Check::pass(INTERRUPTED, "no interrupted budgie left anything behind"),
        Some(what) => Check::fail(
            INTERRUPTED,
            format!("left behind: {what}"),
            Some(
                "any budgie command on the project repairs it (budgie status); see docs/crash-recovery.md"
                    .to_string(),
            ),
        ),
    }
}

/// The directory itself, or its nearest ancestor that exists.
fn existing_ancestor(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find(|a| a.is_dir()).map(Path::to_path_buf)
}

pub(super) fn backup_dir_writable(dir: &Path) -> Check {
    let where_hint =
        "or choose another directory: --backup-dir, BUDGIE_BACKUP_DIR or x-budgie.backup.dir";
    let probe = |d: &Path| {
        tempfile::Builder::new()
            .prefix(".budgie-doctor-")
            .tempfile_in(d)
            .map(drop)
    };
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Check::fail(
            BACKUP_DIR_WRITABLE,
            format!("{} exists but is not a directory", dir.display()),
            Some(format!("move it away, {where_hint}")),
        ),
        Ok(m) => match probe(dir) {
            Ok(()) => {
                use std::os::unix::fs::PermissionsExt;
                let mode = m.permissions().mode() & 0o777;
                let mut detail = format!("{} is writable", dir.display());
                if mode & 0o077 != 0 {
                    detail.push_str(&format!(
                        " (mode {mode:o}: the next backup makes it private, 700)"
                    ));
                }
                Check::pass(BACKUP_DIR_WRITABLE, detail)
            }
            Err(e) => Check::fail(
                BACKUP_DIR_WRITABLE,
                format!("cannot write in {}: {e}", dir.display()),
                Some(format!("fix its owner or permissions, {where_hint}")),
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let Some(base) = existing_ancestor(dir) else {
                return Check::fail(
                    BACKUP_DIR_WRITABLE,
                    format!("{} cannot be created: no parent exists", dir.display()),
                    Some(where_hint.into()),
                );
            };
            match probe(&base) {
                Ok(()) => Check::pass(
                    BACKUP_DIR_WRITABLE,
                    format!(
                        "{} does not exist yet; budgie backup creates it (private, 700)",
                        dir.display()
                    ),
                ),
                Err(e) => Check::fail(
                    BACKUP_DIR_WRITABLE,
                    format!(
                        "{} cannot be created: cannot write in {}: {e}",
                        dir.display(),
                        base.display()
                    ),
                    Some(format!(
                        "fix the permissions of {}, {where_hint}",
                        base.display()
                    )),
                ),
            }
        }
        Err(e) => Check::fail(
            BACKUP_DIR_WRITABLE,
            format!("cannot use {}: {e}", dir.display()),
            Some(where_hint.into()),
        ),
    }
}

/// Whether the directory holds budgie's own `.gitignore` (a line `*`).
fn has_ignore_all(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(".gitignore"))
        .is_ok_and(|text| text.lines().any(|l| l.trim() == "*"))
}

pub(super) fn backups_ignored(dir: &Path) -> Check {
    if !dir.is_dir() {
        return Check::pass(
            BACKUPS_IGNORED,
            "budgie backup creates the directory with a .gitignore that ignores everything",
        );
    }
    if has_ignore_all(dir) {
        return Check::pass(
            BACKUPS_IGNORED,
            format!("{} has a .gitignore that ignores everything", dir.display()),
        );
    }
    let git = |args: &[&str]| {
        let mut argv = vec!["git"];
        argv.extend_from_slice(args);
        Cmd::new(argv).dir(dir).output()
    };
    let inside = match git(&["rev-parse", "--is-inside-work-tree"]) {
        Ok(o) => o,
        Err(_) => {
            return Check::pass(
                BACKUPS_IGNORED,
                "git is not installed: nothing to commit with",
            );
        }
    };
    let said = String::from_utf8_lossy(&inside.stderr).trim().to_string();
    if !inside.status.success() {
        if said.to_ascii_lowercase().contains("not a git repository") {
            return Check::pass(BACKUPS_IGNORED, "not in a git repository");
        }
        return Check::fail(
            BACKUPS_IGNORED,
            format!(
                "git cannot tell whether {} is ignored: {said}",
                dir.display()
            ),
            Some(ignore_hint(dir)),
        );
    }
    if String::from_utf8_lossy(&inside.stdout).trim() != "true" {
        return Check::pass(BACKUPS_IGNORED, "not in a git work tree");
    }
    let probe = dir.join("x");
    let probe = probe.to_string_lossy();
    match git(&["check-ignore", "-q", &probe]) {
        Ok(o) if o.status.success() => Check::pass(
            BACKUPS_IGNORED,
            format!("{} is ignored by git", dir.display()),
        ),
        Ok(o) if o.status.code() == Some(1) => Check::fail(
            BACKUPS_IGNORED,
            format!(
                "{} is not ignored by git: a `git add .` would commit database contents",
                dir.display()
            ),
            Some(ignore_hint(dir)),
        ),
        Ok(o) => Check::fail(
            BACKUPS_IGNORED,
            format!(
                "git cannot tell whether {} is ignored: {}",
                dir.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Some(ignore_hint(dir)),
        ),
        Err(e) => Check::error(BACKUPS_IGNORED, e),
    }
}

fn ignore_hint(dir: &Path) -> String {
    format!(
        "put budgie's .gitignore there: printf '*\\n' > {}",
        crate::engine::shell_quote(&dir.join(".gitignore").display().to_string())
    )
}

pub(super) fn disk_space(dir: &Path, last_backup: Option<u64>) -> Check {
    let Some(base) = existing_ancestor(dir) else {
        return Check::fail(
            DISK_SPACE,
            format!("no part of {} exists to measure", dir.display()),
            None,
        );
    };
    let free = match fs4::available_space(&base) {
        Ok(n) => n,
        Err(e) => {
            return Check::fail(
                DISK_SPACE,
                format!("cannot read the free space of {}: {e}", base.display()),
                None,
            );
        }
    };
    match last_backup {
        None => Check::pass(
            DISK_SPACE,
            format!(
                "{} free for {} (no backup yet to compare with)",
                human_bytes(free),
                dir.display()
            ),
        ),
        Some(size) if free < size.saturating_mul(2) => Check::fail(
            DISK_SPACE,
            format!(
                "only {} free for {}, less than twice the last backup ({})",
                human_bytes(free),
                dir.display(),
                human_bytes(size)
            ),
            Some(
                "free some space (budgie backup prune deletes old backups), \
                 or move the backups: --backup-dir or BUDGIE_BACKUP_DIR"
                    .into(),
            ),
        ),
        Some(size) => Check::pass(
            DISK_SPACE,
            format!(
                "{} free for {} (the last backup is {})",
                human_bytes(free),
                dir.display(),
                human_bytes(size)
            ),
        ),
    }
}
