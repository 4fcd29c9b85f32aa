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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::backup::{store, verify};
use crate::cli::Global;
use crate::compose::{self, Compression, DatabaseStatus, Project};
use crate::context::{self, Context};
use crate::engine::{Cmd, Container, Engine};
use crate::error::{Error, Result};
use crate::ui::{Ui, human_age, human_bytes};

/// How old the newest complete backup may be, in hours, without a failed
/// check: `BUDGIE_BACKUP_MAX_AGE_HOURS`, default 24.
const MAX_AGE_VAR: &str = "BUDGIE_BACKUP_MAX_AGE_HOURS";
const DEFAULT_MAX_AGE_HOURS: u64 = 24;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// ✓
    Pass,
    /// i — nothing wrong, worth knowing (volumes not created yet).
    Info,
    /// ✗ — makes doctor exit 1.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone)]
struct Check {
    name: &'static str,
    verdict: Verdict,
    detail: String,
    /// What to do, for a failed check.
    hint: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            verdict: Verdict::Pass,
            detail: detail.into(),
            hint: None,
        }
    }

    fn info(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            verdict: Verdict::Info,
            ..Check::pass(name, detail)
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, hint: Option<String>) -> Check {
        Check {
            name,
            verdict: Verdict::Fail,
            detail: detail.into(),
            hint,
        }
    }

    /// A failed check carrying an error's message and hint.
    fn error(name: &'static str, e: Error) -> Check {
        Check::fail(name, e.message, e.hint)
    }
}

/// The check names, in report order (also the JSON `name`s).
const ENGINE: &str = "engine";
const COMPOSE_TOOL: &str = "compose-tool";
const COMPOSE_FILES: &str = "compose-files";
const DATABASE_SERVICE: &str = "database-service";
const DATABASE_ANSWERING: &str = "database-answering";
const BACKUP_DIR_WRITABLE: &str = "backup-dir-writable";
const BACKUPS_IGNORED: &str = "backups-ignored-by-git";
const NEWEST_BACKUP: &str = "newest-backup";
const DISK_SPACE: &str = "disk-space";
const MISSING_VOLUMES: &str = "missing-volumes";
const ORPHAN_VOLUMES: &str = "orphan-volumes";
const INTERRUPTED: &str = "nothing-interrupted";

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
        Err(_) => context::choose_engine(&global, &opts.env),
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
                checks.extend(project_checks(ctx, answering, &mut skip));
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

/// The engine check, and whether the engine answered.
fn check_engine(engine: &Result<Engine>) -> (Check, bool) {
    let e = match engine {
        Ok(e) => e,
        Err(err) => {
            let hint = err.hint.clone().unwrap_or_else(|| {
                "choose podman or docker: --engine, or BUDGIE_ENGINE".to_string()
            });
            return (Check::fail(ENGINE, err.message.clone(), Some(hint)), false);
        }
    };
    match e.server_version() {
        Ok(v) if v.is_empty() => (Check::pass(ENGINE, format!("{} answers", e.kind)), true),
        Ok(v) => (Check::pass(ENGINE, format!("{} {v} answers", e.kind)), true),
        Err(err) => {
            let hint = err
                .hint
                .clone()
                .unwrap_or_else(|| format!("`{} info` says what is wrong", e.program));
            (Check::fail(ENGINE, err.message, Some(hint)), false)
        }
    }
}

fn check_compose_tool(engine: &Engine) -> Check {
    match engine.compose() {
        Ok(c) => {
            let version = if c.version.is_empty() {
                "answers".to_string()
            } else {
                c.version.clone()
            };
            Check::pass(COMPOSE_TOOL, format!("{version} (`{}`)", c.argv.join(" ")))
        }
        Err(e) => Check::error(COMPOSE_TOOL, e),
    }
}

fn files_check(project: &Project) -> Check {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut detail = format!(
        "{} ({}, {})",
        project.files_display(),
        plural(project.services.len(), "service"),
        plural(project.volumes.len(), "named volume")
    );
    if !project.warnings.is_empty() {
        detail.push_str(&format!("; warnings: {}", project.warnings.join("; ")));
    }
    Check::pass(COMPOSE_FILES, detail)
}

/// The checks that need the compose model.
fn project_checks(
    ctx: &Context,
    engine: Option<&Engine>,
    skip: &mut impl FnMut(&[&'static str], &str),
) -> Vec<Check> {
    let project = &ctx.project;
    let mut checks = vec![database_service(project)];
    let dir = ctx.backup_dir();

    // The engine's view (containers, volumes) is read in parallel with the
    // files' (backup directory, git, backups, disk).
    let (engine_view, files) = std::thread::scope(|s| {
        let view = engine.map(|e| s.spawn(move || EngineView::read(e, project)));
        let files = backup_checks(project, &dir);
        let view = view.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(Error::new("internal error reading the engine")))
        });
        (view, files)
    });

    let db = match &project.database {
        DatabaseStatus::Found(db) => Some(db),
        _ => {
            skip(&[DATABASE_ANSWERING], "no database service");
            None
        }
    };
    match (engine, engine_view) {
        (Some(e), Some(Ok(view))) => {
            checks.extend(db.map(|db| database_answering(e, &view, db)));
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

fn database_service(project: &Project) -> Check {
    match &project.database {
        DatabaseStatus::Found(db) => Check::pass(
            DATABASE_SERVICE,
            format!(
                "{} (database {}, user {}, data in {})",
                db.service,
                db.name,
                db.user,
                db.volume
                    .as_deref()
                    .map(|v| format!("volume {v}"))
                    .unwrap_or_else(|| "no named volume".into())
            ),
        ),
        _ => match project.database() {
            Err(e) => Check::error(DATABASE_SERVICE, e),
            Ok(_) => unreachable!("database() agrees with DatabaseStatus"),
        },
    }
}

/// What the engine says of the project: its containers, which declared
/// volumes exist, and the volumes labelled as the project's.
struct EngineView {
    containers: Vec<Container>,
    existing: BTreeSet<String>,
    labelled: Vec<String>,
}

impl EngineView {
    fn read(engine: &Engine, project: &Project) -> Result<EngineView> {
        let names: Vec<&str> = project.volumes.iter().map(|v| v.name.as_str()).collect();
        let containers = engine.containers(&project.name)?;
        let existing = engine
            .volumes(&names)?
            .into_iter()
            .map(|v| v.name)
            .collect();
        let labelled = engine.project_volume_names(&project.name)?;
        Ok(EngineView {
            containers,
            existing,
            labelled,
        })
    }
}

fn database_answering(engine: &Engine, view: &EngineView, db: &compose::Database) -> Check {
    let Some(c) = view
        .containers
        .iter()
        .filter(|c| c.service == db.service && c.running)
        .max_by_key(|c| c.number)
    else {
        return Check::fail(
            DATABASE_ANSWERING,
            format!("the {} container is not running", db.service),
            Some("start it: budgie start".into()),
        );
    };
    let probe = crate::databases::postgres::isready_command(engine, &c.id, &db.user, &db.name);
    let out = match probe.output() {
        Ok(o) => o,
        Err(e) => return Check::error(DATABASE_ANSWERING, e),
    };
    if out.status.success() {
        return Check::pass(
            DATABASE_ANSWERING,
            format!(
                "{} accepts connections (pg_isready in {})",
                db.service, c.name
            ),
        );
    }
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let what = match out.status.code() {
        Some(1) => "rejects connections (still starting?)".to_string(),
        Some(2) => "does not respond".to_string(),
        Some(126) | Some(127) => format!("cannot be asked: no pg_isready in {}", c.name),
        _ if !said.is_empty() => format!("does not answer: {said}"),
        _ => "does not answer pg_isready".to_string(),
    };
    Check::fail(
        DATABASE_ANSWERING,
        format!("{} is running but {what}", db.service),
        Some(format!("see what it says: budgie logs {}", db.service)),
    )
}

fn missing_volumes(engine: &Engine, project: &Project, view: &EngineView) -> Check {
    let missing: Vec<&compose::Volume> = project
        .volumes
        .iter()
        .filter(|v| !view.existing.contains(&v.name))
        .collect();
    if project.volumes.is_empty() {
        return Check::pass(MISSING_VOLUMES, "no named volumes declared");
    }
    if missing.is_empty() {
        return Check::pass(
            MISSING_VOLUMES,
            format!("all {} declared volumes exist", project.volumes.len()),
        );
    }
    let show = |vs: &[&compose::Volume]| {
        vs.iter()
            .map(|v| format!("{} ({})", v.key, v.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (external, own): (Vec<&compose::Volume>, Vec<&compose::Volume>) =
        missing.iter().partition(|v| v.external);
    if !external.is_empty() {
        let first = &external[0].name;
        return Check::fail(
            MISSING_VOLUMES,
            format!("external volumes missing: {}", show(&external)),
            Some(format!(
                "compose does not create external volumes: {} volume create {first}",
                engine.program
            )),
        );
    }
    if view.containers.is_empty() {
        return Check::info(
            MISSING_VOLUMES,
            format!(
                "not created yet: {} (budgie start creates them)",
                show(&own)
            ),
        );
    }
    Check::fail(
        MISSING_VOLUMES,
        format!(
            "declared but missing although the project has containers: {}",
            show(&own)
        ),
        Some(
            "budgie restart creates them empty; if one held data, restore it \
             (budgie restore --latest, or budgie restore ARCHIVE --volume KEY)"
                .into(),
        ),
    )
}

fn orphan_volumes(engine: &Engine, project: &Project, view: &EngineView) -> Check {
    let declared: BTreeSet<&str> = project.volumes.iter().map(|v| v.name.as_str()).collect();
    let orphans: Vec<&str> = view
        .labelled
        .iter()
        .map(String::as_str)
        .filter(|n| !declared.contains(n))
        .collect();
    if orphans.is_empty() {
        return Check::pass(
            ORPHAN_VOLUMES,
            format!("no volume of project {} left undeclared", project.name),
        );
    }
    Check::fail(
        ORPHAN_VOLUMES,
        format!(
            "volumes of project {} no longer declared: {}",
            project.name,
            orphans.join(", ")
        ),
        Some(format!(
            "they may still hold data: declare them again under volumes: to keep them, \
             or look inside ({} volume inspect {}) before removing them yourself",
            engine.program, orphans[0]
        )),
    )
}

/// The checks of the backup directory, its backups and its disk.
fn backup_checks(project: &Project, dir: &Path) -> Vec<Check> {
    let (newest, last_size) = newest_backup(project, dir);
    vec![
        backup_dir_writable(dir),
        backups_ignored(dir),
        newest,
        disk_space(dir, last_size),
        nothing_interrupted(project, dir),
    ]
}

/// Whether an interrupted budgie left a repair to do (`crate::recover`);
/// doctor only reads, so it says which command does it.
fn nothing_interrupted(project: &Project, dir: &Path) -> Check {
    match crate::journal::pending(dir, &project.name) {
        None => Check::pass(INTERRUPTED, "no interrupted budgie left anything behind"),
        Some(what) => Check::fail(
            INTERRUPTED,
            format!("left behind: {what}"),
            Some(
                "any budgie command on the project repairs it (budgie status); see Crash recovery in the README"
                    .to_string(),
            ),
        ),
    }
}

/// The directory itself, or its nearest ancestor that exists.
fn existing_ancestor(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find(|a| a.is_dir()).map(Path::to_path_buf)
}

fn backup_dir_writable(dir: &Path) -> Check {
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

fn backups_ignored(dir: &Path) -> Check {
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

/// How old the newest backup may be, and why that much.
struct AgeLimit {
    minutes: i64,
    /// `BUDGIE_BACKUP_MAX_AGE_HOURS`, the installed schedule, or the default.
    from: String,
    /// The command showing the scheduled backups' log, when a schedule is installed.
    journal: Option<String>,
}

/// `BUDGIE_BACKUP_MAX_AGE_HOURS` when set; else what the installed
/// schedule allows (its longest gap between runs and a margin: 2h hourly,
/// 26h daily); else 24 hours.
fn age_limit(project: &Project) -> Result<AgeLimit, Check> {
    let schedule = super::schedule::installed(project);
    let journal = schedule.as_ref().map(|(_, j)| j.clone());
    match project.env.get(MAX_AGE_VAR).map(|s| s.trim()) {
        None | Some("") => {}
        Some(s) => {
            return match s.parse::<i64>() {
                Ok(n) if n > 0 && n < i64::MAX / 60 => Ok(AgeLimit {
                    minutes: n * 60,
                    from: MAX_AGE_VAR.into(),
                    journal,
                }),
                _ => Err(Check::fail(
                    NEWEST_BACKUP,
                    format!("{MAX_AGE_VAR}={s}: expected a whole number of hours"),
                    Some(format!(
                        "unset it for the default (the installed schedule's interval, else {DEFAULT_MAX_AGE_HOURS})"
                    )),
                )),
            };
        }
    }
    if let Some((every, _)) = &schedule
        && let Some(minutes) = every.stale_after_minutes()
    {
        return Ok(AgeLimit {
            minutes,
            from: format!("the schedule `{}`", every.spec()),
            journal,
        });
    }
    Ok(AgeLimit {
        minutes: i64::try_from(DEFAULT_MAX_AGE_HOURS * 60).unwrap_or(i64::MAX),
        from: "default".into(),
        journal,
    })
}

/// `26h`, `1h30m`, `45m`.
fn human_limit(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// The newest-backup check, and the size of the newest complete backup.
fn newest_backup(project: &Project, dir: &Path) -> (Check, Option<u64>) {
    let limit = match age_limit(project) {
        Ok(l) => l,
        Err(check) => return (check, None),
    };
    let limit_text = human_limit(limit.minutes);
    let dumps = match store::list_dumps(dir, &project.name) {
        Ok(d) => d,
        Err(e) => return (Check::error(NEWEST_BACKUP, e), None),
    };
    // Only cheap checks (the sidecar, or a plain dump's ends): doctor must
    // stay quick, so a compressed file without its sidecar counts, marked
    // as not verified, rather than being decompressed here.
    let mut incomplete = 0;
    let mut unverified = false;
    let newest = dumps.iter().find(|d| {
        let complete = match verify::quick_complete(&d.path) {
            Some(c) => c,
            None if d.compression == Compression::None => false,
            None => {
                unverified = true;
                true
            }
        };
        if !complete {
            incomplete += 1;
        }
        complete
    });
    let Some(newest) = newest else {
        let mut detail = format!(
            "no complete backup of project {} in {}",
            project.name,
            dir.display()
        );
        if incomplete > 0 {
            detail.push_str(&format!(" ({incomplete} incomplete)"));
        }
        let check = Check::fail(
            NEWEST_BACKUP,
            detail,
            Some("take one: budgie backup".into()),
        );
        return (check, None);
    };
    let now = chrono::Local::now().naive_local();
    let age = (now - newest.created).num_seconds();
    let from = match limit.from.as_str() {
        "default" => String::new(),
        f => format!(", from {f}"),
    };
    let check = if age > limit.minutes.saturating_mul(60) {
        let hint = match &limit.journal {
            Some(journal) => format!(
                "the scheduled backup did not run or failed: see `budgie schedule show` and its log ({journal}); take one now: budgie backup"
            ),
            None => format!(
                "take one: budgie backup (and schedule them: budgie schedule install --every daily; {MAX_AGE_VAR} sets the limit)"
            ),
        };
        Check::fail(
            NEWEST_BACKUP,
            format!(
                "the newest complete backup is {} old (more than {limit_text}{from}): {}",
                human_age(age),
                newest.file_name
            ),
            Some(hint),
        )
    } else {
        let mut detail = format!(
            "{}, {} old, {} (limit {limit_text}{from})",
            newest.file_name,
            human_age(age),
            human_bytes(newest.bytes)
        );
        if unverified {
            detail.push_str(&format!(
                "; no sidecar, not verified: budgie backup verify {}",
                crate::engine::shell_quote(&newest.path.display().to_string())
            ));
        }
        Check::pass(NEWEST_BACKUP, detail)
    };
    (check, Some(newest.bytes))
}

fn disk_space(dir: &Path, last_backup: Option<u64>) -> Check {
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
