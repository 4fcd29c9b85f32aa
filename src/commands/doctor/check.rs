//! One line of doctor's report — a check passed, failed (with what to do)
//! or worth knowing — and the names of the checks, in report order (also
//! the `name`s of `--json`). Every group of checks makes these lines; the
//! command prints them.

use crate::error::Error;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// ✓
    Pass,
    /// i — nothing wrong, worth knowing (volumes not created yet).
    Info,
    /// ✗ — makes doctor exit 1.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub(super) struct Check {
    pub(super) name: &'static str,
    pub(super) verdict: Verdict,
    pub(super) detail: String,
    /// What to do, for a failed check.
    pub(super) hint: Option<String>,
}

impl Check {
    pub(super) fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            verdict: Verdict::Pass,
            detail: detail.into(),
            hint: None,
        }
    }

    pub(super) fn info(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            verdict: Verdict::Info,
            ..Check::pass(name, detail)
        }
    }

    pub(super) fn fail(
        name: &'static str,
        detail: impl Into<String>,
        hint: Option<String>,
    ) -> Check {
        Check {
            name,
            verdict: Verdict::Fail,
            detail: detail.into(),
            hint,
        }
    }

    /// One line for the same check made on several things (each database):
    /// the worst verdict, every detail, every hint.
    pub(super) fn all(name: &'static str, checks: Vec<Check>) -> Check {
        let verdict = if checks.iter().any(|c| c.verdict == Verdict::Fail) {
            Verdict::Fail
        } else if checks.iter().all(|c| c.verdict == Verdict::Info) {
            Verdict::Info
        } else {
            Verdict::Pass
        };
        let detail = checks
            .iter()
            .map(|c| c.detail.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let hints: Vec<&str> = checks.iter().filter_map(|c| c.hint.as_deref()).collect();
        Check {
            name,
            verdict,
            detail,
            hint: (!hints.is_empty()).then(|| hints.join("\n")),
        }
    }

    /// A failed check carrying an error's message and hint.
    pub(super) fn error(name: &'static str, e: Error) -> Check {
        Check::fail(name, e.message, e.hint)
    }
}

/// The check names, in report order (also the JSON `name`s).
pub(super) const ENGINE: &str = "engine";
pub(super) const COMPOSE_TOOL: &str = "compose-tool";
pub(super) const COMPOSE_FILES: &str = "compose-files";
pub(super) const DATABASE_SERVICE: &str = "database-service";
pub(super) const BIND_MOUNTS: &str = "bind-mounts";
pub(super) const DATABASE_ANSWERING: &str = "database-answering";
pub(super) const SNAPSHOTS: &str = "snapshots";
pub(super) const BACKUP_DIR_WRITABLE: &str = "backup-dir-writable";
pub(super) const BACKUPS_IGNORED: &str = "backups-ignored-by-git";
pub(super) const NEWEST_BACKUP: &str = "newest-backup";
pub(super) const REMOTE: &str = "remote";
pub(super) const DISK_SPACE: &str = "disk-space";
pub(super) const MISSING_VOLUMES: &str = "missing-volumes";
pub(super) const ORPHAN_VOLUMES: &str = "orphan-volumes";
pub(super) const INTERRUPTED: &str = "nothing-interrupted";
