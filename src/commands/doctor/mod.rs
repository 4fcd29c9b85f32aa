//! `budgie doctor`: is everything in place for budgie to keep this
//! project's data safe?
//!
//! A team finds out that backups stopped, that the backup directory is
//! about to be committed, or that the disk is too full for the next dump
//! when they need a backup — too late. Doctor checks each of those in one
//! command, one line per check (✓, ✗ with what to do, or i), and exits 1
//! when any check fails, so a timer or CI job can run it.
//!
//! It must run on the projects that need it most: a bad compose file is one
//! failed check, not the end of the command (the project is loaded here and
//! the error kept), and a stopped engine fails the engine check while the
//! checks that need no engine still run. Checks that cannot run without
//! something that failed are listed as skipped. Doctor only reads: the one
//! thing it writes is a temporary file to prove the backup directory is
//! writable, removed at once.
//!
//! Here: running the checks and the report (text or `--json`). The checks
//! themselves, by subject: `engine` (engine and compose tool), `project`
//! (compose files, database, volumes), `backup_dir` (the backup
//! directory, git, disk space, interrupted runs) and `backup_age` (the
//! newest backup); `check` holds the report line they all make.

mod backup_age;
mod backup_dir;
mod check;
mod engine;
mod project;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::cli::Global;
use crate::compose::{self, DatabaseStatus, Project};
use crate::context::{self, Context};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::ui::Ui;
use backup_age::newest_backup;
use backup_dir::{backup_dir_writable, backups_ignored, disk_space, nothing_interrupted};
use check::{
    BACKUP_DIR_WRITABLE, BACKUPS_IGNORED, BIND_MOUNTS, COMPOSE_FILES, COMPOSE_TOOL, Check,
    DATABASE_ANSWERING, DATABASE_SERVICE, DISK_SPACE, MISSING_VOLUMES, NEWEST_BACKUP,
    ORPHAN_VOLUMES, Verdict,
};
use engine::{check_compose_tool, check_engine};
use project::{
    EngineView, database_answering, database_service, files_check, missing_volumes, orphan_volumes,
    snapshots,
};

/// A check that could not run, and why.
#[derive(Debug, Clone, Serialize)]
struct Skipped {
    name: &'static str,
    reason: String,
}

#[derive(Debug, Serialize)]
struct CheckJson<'a> {
    name: &'a str,
    ok: bool,
    detail: &'a str,
    hint: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    checks: Vec<CheckJson<'a>>,
    ok: bool,
    skipped: &'a [Skipped],
    /// For monitoring: the newest complete local backup's age, and the
    /// newest complete remote copy's (null: none, or no remote).
    newest_backup_age_seconds: Option<i64>,
    newest_remote_backup_age_seconds: Option<i64>,
    /// Where the engine is (null: no engine could be chosen).
    endpoint: Option<&'a crate::engine::Endpoint>,
}

/// The ages `--json` reports.
#[derive(Debug, Default, Clone, Copy)]
struct Ages {
    local: Option<i64>,
    remote: Option<i64>,
}

/// Runs every check; exit 1 when one failed. Loads the project itself so
/// that a compose file that does not load is reported, not fatal.
pub fn run(global: Global, ui: Ui, env: BTreeMap<String, String>) -> Result<i32> {
    let opts = context::load_options(&global, env)?;
    let spinner = ui.spinner("Checking the project");
    let loaded: Result<Context> =
        compose::load(&opts).map(|project| Context::new(global.clone(), ui.clone(), project));
    let engine: Result<Engine> = match &loaded {
        Ok(c) => c.engine().cloned(),
        Err(_) => context::connected_engine(&global, &opts.env),
    };

    let mut skipped: Vec<Skipped> = Vec::new();
    let mut skip = |names: &[&'static str], reason: &str| {
        for &name in names {
            skipped.push(Skipped {
                name,
                reason: reason.to_string(),
            });
        }
    };

    let mut ages = Ages::default();
    let checks = std::thread::scope(|s| {
        // The compose tool answers slowly (podman-compose is Python): ask it
        // while the other checks run.
        let compose_tool = engine
            .as_ref()
            .ok()
            .map(|e| s.spawn(move || check_compose_tool(e)));

        let mut checks = Vec::new();
        let (engine_check, answering) = check_engine(&engine);
        checks.push(engine_check);
        let answering: Option<&Engine> = answering.then(|| engine.as_ref().ok()).flatten();

        match &loaded {
            Ok(ctx) => {
                checks.push(files_check(&ctx.project));
                checks.extend(bind_mounts(ctx, engine.as_ref().ok()));
                checks.extend(project_checks(ctx, answering, &mut skip, &mut ages));
            }
            Err(e) => {
                let hint = e.hint.clone().unwrap_or_else(|| {
                    "fix the file; `budgie config` shows what budgie reads from it".into()
                });
                checks.push(Check::fail(COMPOSE_FILES, e.message.clone(), Some(hint)));
                skip(
                    &[
                        DATABASE_SERVICE,
                        DATABASE_ANSWERING,
                        BACKUP_DIR_WRITABLE,
                        BACKUPS_IGNORED,
                        NEWEST_BACKUP,
                        DISK_SPACE,
                        MISSING_VOLUMES,
                        ORPHAN_VOLUMES,
                    ],
                    "the compose files do not load",
                );
            }
        }

        match compose_tool {
            Some(h) => {
                let c = h.join().unwrap_or_else(|_| {
                    Check::fail(COMPOSE_TOOL, "internal error asking the compose tool", None)
                });
                checks.insert(1, c);
            }
            None => skip(&[COMPOSE_TOOL], "no container engine found"),
        }
        checks
    });
    spinner.clear();
    if crate::interrupt::interrupted() {
        return Err(Error::interrupted());
    }

    let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    if global.json {
        let report = Report {
            checks: checks
                .iter()
                .map(|c| CheckJson {
                    name: c.name,
                    ok: c.verdict != Verdict::Fail,
                    detail: &c.detail,
                    hint: c.hint.as_deref(),
                })
                .collect(),
            ok: failed == 0,
            skipped: &skipped,
            newest_backup_age_seconds: ages.local,
            newest_remote_backup_age_seconds: ages.remote,
            endpoint: engine.as_ref().ok().map(|e| &*e.endpoint),
        };
        crate::commands::print_json(&report)?;
    } else {
        print_human(&ui, &checks, &skipped, failed);
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

fn print_human(ui: &Ui, checks: &[Check], skipped: &[Skipped], failed: usize) {
    let label = |name: &str| name.replace('-', " ");
    let width = checks
        .iter()
        .map(|c| label(c.name).chars().count())
        .max()
        .unwrap_or(0);
    for c in checks {
        let text = format!("{:<width$}  {}", label(c.name), c.detail);
        match c.verdict {
            Verdict::Pass => ui.success(&text),
            Verdict::Info => ui.info(&text),
            Verdict::Fail => ui.failure(&text, c.hint.as_deref()),
        }
    }
    let mut reasons: Vec<&str> = Vec::new();
    for s in skipped {
        if !reasons.contains(&s.reason.as_str()) {
            reasons.push(&s.reason);
        }
    }
    for reason in reasons {
        let names: Vec<String> = skipped
            .iter()
            .filter(|s| s.reason == reason)
            .map(|s| label(s.name))
            .collect();
        ui.info(&format!("skipped ({reason}): {}", names.join(", ")));
    }
    ui.print("");
    if failed == 0 {
        ui.print(&format!("All {} checks passed.", checks.len()));
    } else {
        ui.print(&format!(
            "{failed} of {} checks failed (see the hints above).",
            checks.len()
        ));
    }
}

/// With the engine on another machine: the bind mounts that name this
/// machine's paths (a check only then).
fn bind_mounts(ctx: &Context, engine: Option<&Engine>) -> Option<Check> {
    let w = crate::inventory::misplaced_warning(&ctx.project, &engine?.endpoint)?;
    let hint = crate::inventory::MISPLACED_HINT.to_string();
    Some(Check::fail(BIND_MOUNTS, w, Some(hint)))
}

/// The checks that need the compose model.
fn project_checks(
    ctx: &Context,
    engine: Option<&Engine>,
    skip: &mut impl FnMut(&[&'static str], &str),
    ages: &mut Ages,
) -> Vec<Check> {
    let project = &ctx.project;
    let mut checks = vec![database_service(project)];
    let dir = ctx.backup_dir();

    // The engine's view (containers, volumes) is read in parallel with the
    // files' (backup directory, git, backups, disk).
    let (engine_view, files) = std::thread::scope(|s| {
        let view = engine.map(|e| s.spawn(move || EngineView::read(e, project)));
        let remote = s.spawn(|| backup_age::newest_remote(ctx));
        let files = backup_checks(project, &dir, ages);
        let files = match remote.join() {
            Ok(Some((check, age))) => {
                ages.remote = age;
                let mut files = files;
                // After newest-backup.
                let at = files
                    .iter()
                    .position(|c| c.name == NEWEST_BACKUP)
                    .map_or(files.len(), |i| i + 1);
                files.insert(at, check);
                files
            }
            _ => files,
        };
        let view = view.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(Error::new("internal error reading the engine")))
        });
        (view, files)
    });

    let db = match &project.database {
        DatabaseStatus::Found(_) => Some(project.databases()),
        _ => {
            skip(&[DATABASE_ANSWERING], "no database service");
            None
        }
    };
    match (engine, engine_view) {
        (Some(e), Some(Ok(view))) => {
            checks.extend(db.map(|dbs| {
                Check::all(
                    DATABASE_ANSWERING,
                    dbs.iter()
                        .map(|d| database_answering(e, &view, d))
                        .collect(),
                )
            }));
            checks.extend(snapshots(ctx));
            checks.extend(files);
            checks.push(missing_volumes(e, project, &view));
            checks.push(orphan_volumes(e, project, &view));
        }
        (_, Some(Err(err))) => {
            // The engine answered `version` but not `ps` or `volume ls`:
            // one failure, under the first check that needed them.
            let name = if db.is_some() {
                DATABASE_ANSWERING
            } else {
                MISSING_VOLUMES
            };
            checks.push(Check::error(name, err));
            checks.extend(files);
            let rest: Vec<&'static str> = [DATABASE_ANSWERING, MISSING_VOLUMES, ORPHAN_VOLUMES]
                .into_iter()
                .filter(|n| *n != name && (db.is_some() || *n != DATABASE_ANSWERING))
                .collect();
            skip(
                &rest,
                "the engine's containers and volumes could not be read",
            );
        }
        _ => {
            checks.extend(files);
            let rest: Vec<&'static str> = [DATABASE_ANSWERING, MISSING_VOLUMES, ORPHAN_VOLUMES]
                .into_iter()
                .filter(|n| db.is_some() || *n != DATABASE_ANSWERING)
                .collect();
            skip(&rest, "the engine does not answer");
        }
    }
    checks
}

/// The checks of the backup directory, its backups and its disk.
fn backup_checks(project: &Project, dir: &Path, ages: &mut Ages) -> Vec<Check> {
    let (newest, last) = newest_backup(project, dir);
    ages.local = last.map(|(_, age)| age);
    let last_size = last.map(|(bytes, _)| bytes);
    vec![
        backup_dir_writable(dir),
        backups_ignored(dir),
        newest,
        disk_space(dir, last_size),
        nothing_interrupted(project, dir),
    ]
}
