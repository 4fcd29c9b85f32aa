//! Crash recovery: what an interrupted budgie leaves behind, found and put
//! right by the next one.
//!
//! A budgie killed with `kill -9`, or whose machine lost power, cannot clean
//! up after itself. What it can leave, and why nothing is lost:
//!
//! - hidden temporary files (`.<project>_<stamp>....partial`) of a backup
//!   that never finished: they were never under a backup's name (DESIGN.md,
//!   invariant 3), so they are only removed;
//! - from a restore, a scratch database `<db>_budgie_restore_<stamp>`, the
//!   current database closed to connections (the swap shuts them out just
//!   before its rename), or a set-aside `<db>_budgie_old_<stamp>` holding the
//!   data from before the restore;
//! - from `clean`, `nuke` or `volumes rm`, volumes half deleted — after their
//!   complete safety backup, which is what the user needs to hear about.
//!
//! Every destructive operation writes a **journal** first
//! (`<backup dir>/.budgie-<project>.journal.json`, written atomically): what
//! it is about to do, its safety backups, and the names of any side
//! databases it creates. A clean finish removes it. The journal is only read
//! by a budgie holding the project lock, so a journal seen then belongs to a
//! budgie that is gone. [`check`] runs before every command on a project
//! (from `main`) and again when a command takes the lock; it plans the
//! repairs from the journal and what the database says now, shows them, and
//! runs them — or, with `--dry-run`, only shows them.
//!
//! The repairs never lose data: a scratch database is only ever a copy of a
//! file; the current database is never dropped; a set-aside database is
//! dropped only when a complete safety backup taken by the same restore
//! holds its data, and otherwise is kept and the user told how to get it
//! back or drop it. When the database container is not running, the
//! journal is kept and the repair waits for the next command that finds it
//! running (`start` checks again once the database answers).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backup::verify;
use crate::context::Context;
use crate::databases::postgres::{self, quote_ident, quote_literal};
use crate::error::Result;
use crate::journal::{Entry, Sides, anything_left, journal_path, leftover_temps, read_journal};
use crate::lock::ProjectLock;

/// Runs before every command on a project: when an earlier budgie left
/// something behind and no other budgie is at work on the project, repairs
/// it (under the lock). Costs one directory read when there is nothing.
pub fn check(ctx: &Context) -> Result<()> {
    let dir = ctx.backup_dir();
    if !anything_left(&dir, &ctx.project.name) {
        return Ok(());
    }
    if ctx.global.dry_run {
        return describe(ctx, &dir);
    }
    // Busy: another budgie is working; what we saw is its, not left over.
    let Ok(_lock) =
        crate::lock::acquire(&dir, &ctx.project.name, "recover", Duration::ZERO, |_| {})
    else {
        return Ok(());
    };
    run_locked(ctx)
}

/// Takes the project lock for the rest of the command (waiting at most
/// `--lock-timeout`, with a spinner once the holder is known). Whatever an
/// interrupted budgie left is put right first: a waiting budgie may have
/// waited for one that was then killed.
///
/// With an engine elsewhere, the lock on the engine is taken next (see
/// `engine_lock`): two machines driving one engine wait for each other too.
pub fn lock(ctx: &Context, command: &str) -> Result<Held> {
    let ui = &ctx.ui;
    let mut spinner = None;
    let held = crate::lock::acquire(
        &ctx.backup_dir(),
        &ctx.project.name,
        command,
        Duration::from_secs(ctx.global.lock_timeout),
        |h| {
            let who = if h.is_unknown() {
                "another budgie".to_string()
            } else {
                format!("another budgie ({})", h.describe())
            };
            ui.warn(&format!(
                "waiting for {who} working on project {}...",
                ctx.project.name
            ));
            spinner = Some(ui.spinner("Waiting for the project lock"));
        },
    );
    drop(spinner);
    let file = held?;
    let engine = crate::engine_lock::acquire(ctx, command)?;
    run_locked(ctx)?;
    Ok(Held {
        _engine: engine,
        _file: file,
    })
}

/// The project's locks, released when dropped: the engine's first (it is
/// declared first), then the file's.
#[derive(Debug)]
pub struct Held {
    _engine: Option<crate::engine_lock::EngineLock>,
    _file: ProjectLock,
}

/// The one command that brings a deleted database back from its safety
/// backup `dump`.
pub fn bring_back(dump: &Path) -> String {
    format!("budgie start && budgie restore {}", dump.display())
}

/// The repairs, for a budgie that holds the project lock.
pub fn run_locked(ctx: &Context) -> Result<()> {
    let dir = ctx.backup_dir();
    let project = &ctx.project.name;
    let temps = leftover_temps(&dir, project);
    if !temps.is_empty() {
        let mut removed = Vec::new();
        for t in &temps {
            if std::fs::remove_file(t).is_ok() {
                removed.push(file_name(t));
            }
        }
        if !removed.is_empty() {
            ctx.ui.warn(&format!(
                "Removed {} unfinished temporary file{} of an interrupted backup (never a complete backup): {}",
                removed.len(),
                if removed.len() == 1 { "" } else { "s" },
                removed.join(", ")
            ));
        }
    }
    // An archive cut short (or whose engine failed) on docker may have left
    // its holder container, which keeps the volume from being removed.
    if !temps.is_empty() || journal_path(&dir, project).exists() {
        let names: Vec<String> = ctx.project.volumes.iter().map(|v| v.name.clone()).collect();
        if let Ok(engine) = ctx.engine()
            && let Ok(n) = engine.remove_holders(&names)
            && n > 0
        {
            ctx.ui.info(&format!(
                "Removed {n} holder container{} an interrupted volume archive left",
                if n == 1 { "" } else { "s" }
            ));
        }
    }
    let path = journal_path(&dir, project);
    let entry = match read_journal(&path) {
        Ok(Some(e)) => e,
        Ok(None) => return Ok(()),
        Err(e) => {
            // Written atomically, so this is not budgie's; keep it aside.
            let aside = path.with_extension("json.unreadable");
            let _ = std::fs::rename(&path, &aside);
            ctx.ui
                .warn(&format!("{}; moved it to {}", e.message, aside.display()));
            return Ok(());
        }
    };
    let announce = || {
        ctx.ui.warn(&format!(
            "An earlier `budgie {}` (pid {}, started {}) did not finish; checking what it left.",
            entry.command, entry.pid, entry.started
        ))
    };
    let restores: Vec<&Sides> = entry.restores().collect();
    let done = if restores.is_empty() {
        if !entry.volumes.is_empty() || entry.volume_restore.is_some() {
            announce();
        }
        report_deletion(ctx, &entry);
        true
    } else {
        // A set's restore: every database, then what its volumes hold.
        let mut all = true;
        for sides in restores {
            all &= repair_restore(ctx, &entry, sides, &announce)?;
        }
        if entry.volume_restore.is_some() {
            report_deletion(ctx, &entry);
        }
        all
    };
    repair_dir_restores(ctx, &entry, &announce);
    if done {
        let _ = std::fs::remove_file(&path);
    }
    Ok(())
}

/// The host directories an interrupted `restore --set` was replacing:
/// see `restore::dir::repair`.
fn repair_dir_restores(ctx: &Context, entry: &Entry, announce: &dyn Fn()) {
    for (path, stamp) in &entry.dir_restores {
        let backed_up = entry.safety_backups.iter().any(|p| {
            verify::is_complete(p)
                && crate::backup::meta::read_meta(p)
                    .and_then(|m| m.directory)
                    .as_ref()
                    == Some(path)
        });
        let said = crate::restore::dir::repair(Path::new(path), stamp, backed_up);
        if !said.is_empty() {
            announce();
        }
        for line in said {
            ctx.ui.warn(&format!("Repaired: {line}."));
        }
    }
}

/// `--dry-run`: what the repair would do, without doing it.
fn describe(ctx: &Context, dir: &Path) -> Result<()> {
    let project = &ctx.project.name;
    for t in leftover_temps(dir, project) {
        ctx.ui.info(&format!(
            "Would remove the unfinished temporary file {} of an interrupted backup",
            file_name(&t)
        ));
    }
    if let Ok(Some(entry)) = read_journal(&journal_path(dir, project)) {
        ctx.ui.info(&format!(
            "Would check what an interrupted `budgie {}` (pid {}, started {}) left{}",
            entry.command,
            entry.pid,
            entry.started,
            match &entry.restore {
                Some(s) => format!(
                    ": database {} open to connections, scratch database {} dropped{}",
                    s.database,
                    s.scratch,
                    s.old
                        .as_ref()
                        .map(|o| format!(", set-aside database {o} dropped only if a complete safety backup holds it"))
                        .unwrap_or_default()
                ),
                None => String::new(),
            }
        ));
    }
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A complete safety backup of the journal, if any (the newest listed).
fn complete_safety_backup(entry: &Entry) -> Option<&PathBuf> {
    entry.safety_backups.iter().find(|p| verify::is_complete(p))
}

/// The complete safety dump of the database a restore replaced: the one
/// of its service (by its name or sidecar); in a journal of one safety
/// backup, that one.
fn safety_dump_of<'a>(ctx: &Context, entry: &'a Entry, sides: &Sides) -> Option<&'a PathBuf> {
    let Some(service) = &sides.service else {
        return complete_safety_backup(entry);
    };
    let of_service = |p: &&PathBuf| {
        let named = p
            .file_name()
            .and_then(|n| {
                crate::backup::store::parse_dump_name(&ctx.project.name, &n.to_string_lossy())
            })
            .and_then(|n| n.service);
        let recorded = || crate::backup::meta::read_meta(p).and_then(|m| m.service);
        named.or_else(recorded).as_ref() == Some(service)
    };
    match entry.safety_backups.iter().find(of_service) {
        Some(p) => verify::is_complete(p).then_some(p),
        None if entry.safety_backups.len() == 1 => complete_safety_backup(entry),
        None => None,
    }
}

/// A volume restore that did not finish: the volume may hold part of the
/// archive; the same restore again finishes it.
fn report_volume_restore(ctx: &Context, entry: &Entry, volume: &str, archive: &Path) {
    ctx.ui.warn(&format!(
        "It was restoring volume {volume} from {}: the volume may hold only part of it.",
        archive.display()
    ));
    let key = ctx
        .project
        .volumes
        .iter()
        .find(|v| v.name == volume)
        .map(|v| v.key.clone())
        .unwrap_or_else(|| volume.to_string());
    let mut again = format!(
        "Run the same restore again to finish it: budgie restore --volume {key} {}",
        archive.display()
    );
    // Its safety archive: the one of its key, else the only backup.
    let archived = entry.safety_backups.iter().find(|p| {
        p.file_name()
            .and_then(|n| {
                crate::backup::parse_archive_name(&ctx.project.name, &n.to_string_lossy())
            })
            .is_some_and(|(_, _, _, k)| k == key)
    });
    let only = (entry.safety_backups.len() == 1)
        .then(|| complete_safety_backup(entry))
        .flatten();
    if let Some(b) = archived.or(only) {
        again.push_str(&format!(
            "; the volume's earlier contents are in {}",
            b.display()
        ));
    }
    ctx.ui.info(&again);
}

/// `clean`, `nuke`, `volumes rm`: nothing to repair (the deletion ran only
/// after the safety backups completed); say where the data is.
fn report_deletion(ctx: &Context, entry: &Entry) {
    if entry.volume_restore.is_some() {
        for (volume, archive) in entry.volume_restores() {
            report_volume_restore(ctx, entry, volume, archive);
        }
        return;
    }
    if entry.volumes.is_empty() {
        return;
    }
    let dumps: Vec<&PathBuf> = entry.safety_backups.iter().filter(|p| p.exists()).collect();
    let vols = format!(
        "volume{} {}",
        if entry.volumes.len() == 1 { "" } else { "s" },
        entry.volumes.join(", ")
    );
    if dumps.is_empty() {
        ctx.ui.warn(&format!(
            "It was deleting {vols} without a safety backup (--no-backup). Some may be gone."
        ));
        return;
    }
    ctx.ui.warn(&format!(
        "It was deleting {vols}, after its safety backups completed: {}",
        dumps
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if let Some(db) = dumps
        .iter()
        .find(|p| crate::backup::store::parse_dump_name(&ctx.project.name, &file_name(p)).is_some())
    {
        ctx.ui.info(&format!(
            "If the database volume is gone, bring the data back with: {}",
            bring_back(db)
        ));
    }
}

/// What the database server holds of a restore's databases.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Seen {
    /// The current database exists; whether it accepts connections.
    pub current: Option<bool>,
    pub scratch: bool,
    pub old: bool,
}

/// A repair of a restore, decided from what is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Open the current database to connections again.
    Reopen,
    /// Drop the scratch database (only ever a copy of a file).
    DropScratch,
    /// Drop the set-aside database: a complete safety backup holds it.
    DropOld,
    /// Keep the set-aside database and tell the user (`only_copy`: no
    /// safety backup holds it).
    KeepOld { only_copy: bool },
    /// The current database is missing but the set-aside one is there:
    /// rename it back, which loses nothing.
    RenameOldBack,
}

/// Decides the repairs. The swap renames both databases in one
/// transaction, so `old` exists exactly when the swap committed.
pub fn decide(seen: &Seen, sides: &Sides, backed_up: bool) -> Vec<Fix> {
    let mut fixes = Vec::new();
    match (seen.current, seen.old) {
        (None, true) => {
            fixes.push(Fix::RenameOldBack);
            // The scratch copy is kept too: nothing is dropped in a state
            // budgie never makes.
            return fixes;
        }
        (None, false) => return fixes,
        (Some(open), old) => {
            if !open {
                fixes.push(Fix::Reopen);
            }
            if seen.scratch {
                fixes.push(Fix::DropScratch);
            }
            if old {
                if sides.keep_previous {
                    fixes.push(Fix::KeepOld { only_copy: false });
                } else if backed_up {
                    fixes.push(Fix::DropOld);
                } else {
                    fixes.push(Fix::KeepOld { only_copy: true });
                }
            }
        }
    }
    fixes
}

/// Repairs what an interrupted restore (or restore test) left. Returns
/// whether it is done (false: the database is not running; try later).
/// A restore that failed and undid its own work leaves its journal too (it
/// cannot know that its clean-up reached the database); then this only
/// checks, and says nothing unless something needed repairing.
fn repair_restore(
    ctx: &Context,
    entry: &Entry,
    sides: &Sides,
    announce: &dyn Fn(),
) -> Result<bool> {
    let engine = ctx.engine()?;
    let mut db = ctx.project.database_of(sides.service.as_deref())?.clone();
    db.name = sides.database.clone();
    let Some(container) = engine.running_container_id(&ctx.project.name, &db.service)? else {
        announce();
        ctx.ui.warn(&format!(
            "It was restoring {} into database {}, and the database container is not running: budgie will finish checking once it is (budgie start).",
            sides.file.display(),
            sides.database
        ));
        return Ok(false);
    };
    if db.kind == crate::compose::DbKind::Mariadb {
        return repair_mariadb_restore(ctx, entry, sides, &db, &container, announce);
    }
    let server = Server {
        engine,
        container: &container,
        db: &db,
    };
    // The interrupted budgie's psql may still be running in the container
    // (its stdin closed, or its last statements on their way): end it, so
    // that what is seen next does not change under us. Its transaction,
    // if any, rolls back; the swap is one transaction, so it either
    // committed or not.
    postgres::end_restore_sessions(engine, &container, &db)?;
    // The archive copied into the container for a parallel restore, if
    // any (`restore::staged`).
    let _ = crate::restore::staged::removal(engine, &container, &sides.scratch).output();
    let seen = server.look(sides)?;
    let backup = safety_dump_of(ctx, entry, sides).cloned();
    let swapped = seen.old && seen.current.is_some();
    let fixes = decide(&seen, sides, backup.is_some());
    if fixes.is_empty() && seen.current.is_some() && !swapped {
        ctx.ui.debug(&format!(
            "the interrupted restore of {} changed nothing and left nothing",
            sides.file.display()
        ));
        return Ok(true);
    }
    announce();
    for fix in &fixes {
        server.apply(ctx, sides, fix, backup.as_deref())?;
    }
    say_how_it_ended(ctx, sides, &seen, swapped);
    Ok(true)
}

/// [`repair_restore`] for MariaDB: the server itself says how far each
/// interrupted swap got (`restore::mariadb::recover`). The previous copy a
/// finished swap set aside goes only when a complete safety dump holds it
/// and `--keep-previous` was not asked.
fn repair_mariadb_restore(
    ctx: &Context,
    entry: &Entry,
    sides: &Sides,
    db: &crate::compose::Database,
    container: &str,
    announce: &dyn Fn(),
) -> Result<bool> {
    let engine = ctx.engine()?;
    let backed_up = safety_dump_of(ctx, entry, sides).is_some();
    let drop_old =
        |name: &str| sides.old.as_deref() == Some(name) && !sides.keep_previous && backed_up;
    let done = crate::restore::mariadb::recover(engine, container, db, &drop_old)?;
    if !done.is_empty() {
        announce();
        for line in &done {
            ctx.ui.warn(&format!("Repaired: {line}."));
        }
    }
    Ok(true)
}

/// The database server a restore worked on, for its repairs.
struct Server<'a> {
    engine: &'a crate::engine::Engine,
    container: &'a str,
    /// The database, named as the restore named it.
    db: &'a crate::compose::Database,
}

impl Server<'_> {
    fn psql(&self, sql: &str) -> Result<String> {
        let maint = postgres::maintenance_db(self.db);
        postgres::psql(self.engine, self.container, self.db, maint, sql)
    }

    /// Which of the restore's databases exist, and whether the current one
    /// accepts connections.
    fn look(&self, sides: &Sides) -> Result<Seen> {
        let mut names = vec![sides.database.clone(), sides.scratch.clone()];
        names.extend(sides.old.clone());
        let list = names
            .iter()
            .map(|n| quote_literal(n))
            .collect::<Vec<_>>()
            .join(", ");
        let out = self.psql(&format!(
            "SELECT datname || '|' || CASE WHEN datallowconn THEN 't' ELSE 'f' END FROM pg_database WHERE datname IN ({list})"
        ))?;
        let mut seen = Seen::default();
        for line in out.lines() {
            let Some((name, allow)) = line.trim().rsplit_once('|') else {
                continue;
            };
            if name == sides.database {
                seen.current = Some(allow == "t");
            } else if name == sides.scratch {
                seen.scratch = true;
            } else if sides.old.as_deref() == Some(name) {
                seen.old = true;
            }
        }
        Ok(seen)
    }

    /// Makes one repair and says what it did.
    fn apply(&self, ctx: &Context, sides: &Sides, fix: &Fix, backup: Option<&Path>) -> Result<()> {
        let cur = quote_ident(&sides.database);
        let old = sides.old.clone().unwrap_or_default();
        let drop = |name: &str| postgres::drop_database(self.engine, self.container, self.db, name);
        match fix {
            Fix::Reopen => {
                self.psql(&format!("ALTER DATABASE {cur} ALLOW_CONNECTIONS true"))?;
                ctx.ui.success(&format!(
                    "Database {} accepts connections again (the interrupted restore had shut them out)",
                    sides.database
                ));
            }
            Fix::DropScratch => {
                drop(&sides.scratch)?;
                ctx.ui.success(&format!(
                    "Dropped the scratch database {} (a partial copy of {})",
                    sides.scratch,
                    sides.file.display()
                ));
            }
            Fix::DropOld => {
                drop(&old)?;
                ctx.ui.success(&format!(
                    "Dropped {old}, the database from before the restore; its data is in the safety backup {}",
                    backup.map(|p| p.display().to_string()).unwrap_or_default()
                ));
            }
            Fix::KeepOld { only_copy } => {
                let _ = self.psql(&format!(
                    "ALTER DATABASE {} ALLOW_CONNECTIONS true",
                    quote_ident(&old)
                ));
                if *only_copy {
                    let maint = postgres::maintenance_db(self.db);
                    ctx.ui.warn(&format!(
                        "Kept {old}: it holds the data from before the restore, and no safety backup does (--no-backup)."
                    ));
                    ctx.ui.info(&format!(
                        "Look at it with: budgie psql -- -d {old}\n  put it back in place (keeping the restored one as {old}_restored):\n    budgie psql -- -d {maint} -c 'ALTER DATABASE {cur} RENAME TO {}' -c 'ALTER DATABASE {} RENAME TO {cur}'\n  drop it once you are sure: budgie psql -- -d {maint} -c 'DROP DATABASE {}'",
                        quote_ident(&format!("{old}_restored")),
                        quote_ident(&old),
                        quote_ident(&old)
                    ));
                } else {
                    ctx.ui.info(&format!(
                        "Kept {old}, the database from before the restore (--keep-previous)"
                    ));
                }
            }
            Fix::RenameOldBack => {
                self.psql(&format!(
                    "ALTER DATABASE {} RENAME TO {cur}",
                    quote_ident(&old)
                ))?;
                self.psql(&format!("ALTER DATABASE {cur} ALLOW_CONNECTIONS true"))?;
                ctx.ui.success(&format!(
                    "Database {} was missing; renamed {old} (its data from before the restore) back to {}",
                    sides.database, sides.database
                ));
            }
        }
        Ok(())
    }
}

/// After the repairs: whether the interrupted restore had completed.
fn say_how_it_ended(ctx: &Context, sides: &Sides, seen: &Seen, swapped: bool) {
    if seen.current.is_none() && !seen.old {
        ctx.ui.warn(&format!(
            "Database {} does not exist, and no set-aside copy of it either; nothing was changed{}",
            sides.database,
            if seen.scratch {
                format!(
                    "; the scratch database {} holds a copy of {} (maybe partial)",
                    sides.scratch,
                    sides.file.display()
                )
            } else {
                String::new()
            }
        ));
    } else if sides.old.is_some() {
        let (had, holds) = if swapped {
            ("had completed", "holds its data")
        } else {
            ("had not completed", "is unchanged")
        };
        ctx.ui.info(&format!(
            "The restore of {} {had}: database {} {holds}.",
            sides.file.display(),
            sides.database
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn killed_before_the_swap_reopens_and_drops_the_scratch_copy() {
        let seen = Seen {
            current: Some(false),
            scratch: true,
            old: false,
        };
        assert_eq!(
            decide(&seen, &crate::journal::test_sides(false), true),
            vec![Fix::Reopen, Fix::DropScratch]
        );
    }

    #[test]
    fn after_the_swap_the_old_copy_goes_only_when_a_backup_holds_it() {
        let seen = Seen {
            current: Some(true),
            scratch: false,
            old: true,
        };
        assert_eq!(
            decide(&seen, &crate::journal::test_sides(false), true),
            vec![Fix::DropOld]
        );
        assert_eq!(
            decide(&seen, &crate::journal::test_sides(false), false),
            vec![Fix::KeepOld { only_copy: true }]
        );
        assert_eq!(
            decide(&seen, &crate::journal::test_sides(true), true),
            vec![Fix::KeepOld { only_copy: false }]
        );
    }

    #[test]
    fn a_missing_database_is_put_back_and_nothing_dropped() {
        let seen = Seen {
            current: None,
            scratch: true,
            old: true,
        };
        assert_eq!(
            decide(&seen, &crate::journal::test_sides(false), true),
            vec![Fix::RenameOldBack]
        );
        let nothing = Seen {
            current: None,
            scratch: true,
            old: false,
        };
        assert!(decide(&nothing, &crate::journal::test_sides(false), true).is_empty());
    }
}
