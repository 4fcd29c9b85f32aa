//! `budgie backup` and its subcommands: take a backup (database dump or
//! volume archives), list, prune and verify them.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::backup::{self, Taken, meta, retention, store, verify};
use crate::cli::{BackupAction, BackupCommand};
use crate::commands::lifecycle;
use crate::compose::{Compression, Retention};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::ui::{human_age, human_bytes, table};

pub fn run(ctx: &Context, b: &BackupCommand) -> Result<i32> {
    match &b.action {
        Some(BackupAction::List) => list(ctx),
        Some(BackupAction::Prune {
            keep_daily,
            keep_weekly,
            keep_monthly,
        }) => {
            let base = ctx.project.config.backup.retention;
            prune(
                ctx,
                Retention {
                    daily: keep_daily.unwrap_or(base.daily),
                    weekly: keep_weekly.unwrap_or(base.weekly),
                    monthly: keep_monthly.unwrap_or(base.monthly),
                },
            )
        }
        Some(BackupAction::Verify { file, restore_test }) => {
            verify_file(ctx, file, !*restore_test)?;
            if *restore_test {
                crate::commands::restore::restore_test(ctx, file)
            } else {
                Ok(0)
            }
        }
        None if !b.volumes.is_empty() || b.all_volumes => take_volumes(ctx, b),
        None => take(ctx, b),
    }
}

/// The compression to use: `--compress`, else `BUDGIE_COMPRESS`, else
/// `x-budgie.backup.compress`, else none.
pub fn compression(ctx: &Context, flag: Option<Compression>) -> Result<Compression> {
    if let Some(c) = flag {
        return Ok(c);
    }
    if let Some(s) = ctx
        .project
        .env
        .get("BUDGIE_COMPRESS")
        .filter(|s| !s.is_empty())
    {
        return Compression::parse(s).ok_or_else(|| {
            Error::usage(format!("BUDGIE_COMPRESS={s}: expected none, gzip or zstd"))
        });
    }
    Ok(ctx.project.config.backup.compress.unwrap_or_default())
}

/// Holds the project lock for the rest of the command. Whatever an
/// interrupted budgie left is put right first (`crate::recover`): a
/// waiting budgie may have waited for one that was then killed.
pub fn lock(ctx: &Context, command: &str) -> Result<crate::lock::ProjectLock> {
    let ui = &ctx.ui;
    // A spinner while waiting, from the first time the holder is told.
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
    let held = held?;
    crate::recover::run_locked(ctx)?;
    Ok(held)
}

/// Dumps the project's database into the backup directory. When its
/// container is not running, starts only the database service, waits until
/// it answers, dumps, and stops it again.
pub fn database_backup(
    ctx: &Context,
    reason: Option<&str>,
    compress: Option<Compression>,
) -> Result<Taken> {
    let compression = compression(ctx, compress)?;
    let db = ctx.project.database()?;
    let engine = ctx.engine()?;
    let dir = ctx.backup_dir();
    // Set before starting, so a failed start is stopped again too.
    let mut guard = None;
    let container = match engine.running_container_id(&ctx.project.name, &db.service)? {
        Some(id) => id,
        None => {
            ctx.ui.info(&format!(
                "The database service {} is not running: starting it for the backup",
                db.service
            ));
            let plan = lifecycle::start_database_plan(ctx)?;
            guard = Some(StopAgain {
                ctx,
                service: db.service.clone(),
            });
            crate::plan::execute(&plan, &ctx.ui, &|s| ctx.redact(s))?;
            lifecycle::running(ctx, &db.service)?.id
        }
    };
    let bar = ctx
        .ui
        .progress_bytes(&format!("Dumping database {}", db.name));
    let result = backup::dump_database(
        engine,
        &container,
        &ctx.project.name,
        db,
        &dir,
        reason,
        compression,
        &|n| bar.set(n),
    );
    bar.clear();
    drop(guard);
    result
}

/// Stops a service budgie started only for a backup, whatever happened.
struct StopAgain<'a> {
    ctx: &'a Context,
    service: String,
}

impl Drop for StopAgain<'_> {
    fn drop(&mut self) {
        let mut plan = Plan::new();
        if lifecycle::add_stop(self.ctx, &mut plan, std::slice::from_ref(&self.service)).is_ok()
            && let Err(e) = crate::plan::execute(&plan, &self.ctx.ui, &|s| self.ctx.redact(s))
        {
            self.ctx.ui.warn(&format!(
                "could not stop {} again: {}",
                self.service, e.message
            ));
        }
    }
}

#[derive(Serialize)]
struct TakenDoc<'a> {
    path: String,
    bytes: u64,
    sha256: &'a str,
    seconds: f64,
    database: Option<&'a str>,
}

fn take(ctx: &Context, b: &BackupCommand) -> Result<i32> {
    let db = ctx.project.database()?;
    if ctx.global.dry_run {
        let engine = ctx.engine()?;
        let c = compression(ctx, b.compress)?;
        ctx.ui.heading(&format!(
            "Plan for `budgie backup` on project {} (dry run: nothing will be run)",
            ctx.project.name
        ));
        ctx.ui.print(&format!(
            "1. Dump database {} -> {}/{}_<timestamp>.sql{} (temporary name first, checked, then renamed)",
            db.name,
            ctx.backup_dir().display(),
            ctx.project.name,
            c.extension()
        ));
        let cmd = backup::dump_command(engine, &format!("<{} container>", db.service), db);
        ctx.ui
            .print(&format!("   $ {}", ctx.redact(&cmd.to_string())));
        return Ok(0);
    }
    // No separate ping: the first engine call says clearly when the engine
    // is not running, and every call costs time (the benchmark counts them).
    let _lock = lock(ctx, "backup")?;
    let t = database_backup(ctx, None, b.compress)?;
    if ctx.global.json {
        crate::commands::print_json(&TakenDoc {
            path: t.path.display().to_string(),
            bytes: t.bytes,
            sha256: &t.sha256,
            seconds: t.seconds,
            database: t.database.as_deref(),
        })?;
        return Ok(0);
    }
    if b.log {
        log_line(ctx, std::slice::from_ref(&t));
    }
    report(ctx, &t)?;
    Ok(0)
}

/// `--log`: the one line a scheduled backup leaves in the journal or
/// cron's mail, on stdout and also with -q: when, which project, what.
fn log_line(ctx: &Context, taken: &[Taken]) {
    let files: Vec<String> = taken
        .iter()
        .map(|t| {
            format!(
                "{} ({}, {:.1}s)",
                t.path.display(),
                human_bytes(t.bytes),
                t.seconds
            )
        })
        .collect();
    ctx.ui.output(&format!(
        "{} budgie backup of project {} complete: {}",
        chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%:z"),
        ctx.project.name,
        files.join(", ")
    ));
}

fn report(ctx: &Context, t: &Taken) -> Result<()> {
    ctx.ui.success(&format!(
        "Backup complete: {} ({}, {:.1}s)",
        t.path.display(),
        human_bytes(t.bytes),
        t.seconds
    ));
    ctx.ui.print(&format!("  sha256 {}", t.sha256));
    let dir = ctx.backup_dir();
    let dumps = store::list_dumps(&dir, &ctx.project.name)?;
    let archives = backup::list_archives(&dir, &ctx.project.name)?;
    let total: u64 =
        dumps.iter().map(|d| d.bytes).sum::<u64>() + archives.iter().map(|a| a.bytes).sum::<u64>();
    ctx.ui.print(&format!(
        "  {}: {} backup{}, {} in total",
        dir.display(),
        dumps.len() + archives.len(),
        if dumps.len() + archives.len() == 1 {
            ""
        } else {
            "s"
        },
        human_bytes(total)
    ));
    Ok(())
}

fn take_volumes(ctx: &Context, b: &BackupCommand) -> Result<i32> {
    let mut keys: Vec<String> = b.volumes.clone();
    if b.all_volumes {
        for v in &ctx.project.volumes {
            if !v.database && !v.external && !v.disposable && !keys.contains(&v.key) {
                keys.push(v.key.clone());
            }
        }
    }
    let mut chosen = Vec::new();
    for k in &keys {
        let v = ctx.project.volume_or_usage(k)?;
        if v.database {
            return Err(Error::usage(format!(
                "volume {k} holds the database: back it up with `budgie backup` (a consistent pg_dump), not as files"
            )));
        }
        chosen.push(v.clone());
    }
    if chosen.is_empty() {
        ctx.ui.info("No volumes to archive.");
        return Ok(0);
    }
    let engine = ctx.engine()?;
    let image_for = |v: &crate::compose::Volume| ctx.project.image_for_volume(v);
    if ctx.global.dry_run {
        ctx.ui.heading(&format!(
            "Plan for `budgie backup --volume` on project {} (dry run: nothing will be run)",
            ctx.project.name
        ));
        for (i, v) in chosen.iter().enumerate() {
            ctx.ui.print(&format!(
                "{}. Archive volume {} -> {}/{}_<timestamp>.{}.tar.zst",
                i + 1,
                v.name,
                ctx.backup_dir().display(),
                ctx.project.name,
                v.key
            ));
            match engine.volume_export(&v.name, image_for(v).as_deref()) {
                Ok(cmd) => ctx
                    .ui
                    .print(&format!("   $ {}", ctx.redact(&cmd.to_string()))),
                Err(e) => ctx.ui.print(&format!("   (cannot: {e})")),
            }
        }
        return Ok(0);
    }
    engine.ping()?;
    let existing = engine.volumes(&chosen.iter().map(|v| v.name.as_str()).collect::<Vec<_>>())?;
    let _lock = lock(ctx, "backup --volume")?;
    let mut docs = Vec::new();
    for v in &chosen {
        if !existing.iter().any(|e| e.name == v.name) {
            return Err(
                Error::new(format!("volume {} ({}) does not exist", v.key, v.name))
                    .hint("the engine creates it when a service using it starts: budgie start"),
            );
        }
        let bar = ctx
            .ui
            .progress_bytes(&format!("Archiving volume {}", v.name));
        let t = backup::archive_volume(
            engine,
            &v.name,
            &v.key,
            image_for(v).as_deref(),
            &ctx.project.name,
            &ctx.backup_dir(),
            None,
            &|n| bar.set(n),
        )?;
        bar.clear();
        if !ctx.global.json {
            report(ctx, &t)?;
        }
        docs.push(t);
    }
    if ctx.global.json {
        crate::commands::print_json(&docs)?;
    } else if b.log {
        log_line(ctx, &docs);
    }
    Ok(0)
}

/// One row of `backup list`.
#[derive(Debug, Serialize)]
struct Row {
    file: String,
    path: String,
    /// `manual`, or the safety reason (`pre-clean`...)
    kind: String,
    /// `dump` or `archive`
    content: &'static str,
    database: Option<String>,
    volume: Option<String>,
    created: String,
    bytes: u64,
    /// true, false, or null when it needs `budgie backup verify` to tell.
    complete: Option<bool>,
}

fn rows(ctx: &Context) -> Result<Vec<Row>> {
    let dir = ctx.backup_dir();
    let mut rows = Vec::new();
    for d in store::list_dumps(&dir, &ctx.project.name)? {
        let m = meta::read_meta(&d.path);
        rows.push(Row {
            file: d.file_name.clone(),
            path: d.path.display().to_string(),
            kind: d.reason.clone().unwrap_or_else(|| "manual".into()),
            content: "dump",
            database: m.and_then(|m| m.database),
            volume: None,
            created: d.created.format("%Y-%m-%d %H:%M:%S").to_string(),
            bytes: d.bytes,
            complete: verify::quick_complete(&d.path),
        });
    }
    for a in backup::list_archives(&dir, &ctx.project.name)? {
        rows.push(Row {
            file: a.file_name.clone(),
            path: a.path.display().to_string(),
            kind: a.reason.clone().unwrap_or_else(|| "manual".into()),
            content: "archive",
            database: None,
            volume: Some(a.key.clone()),
            created: a.created.format("%Y-%m-%d %H:%M:%S").to_string(),
            bytes: a.bytes,
            complete: verify::quick_complete(&a.path),
        });
    }
    rows.sort_by(|a, b| b.created.cmp(&a.created).then(b.file.cmp(&a.file)));
    Ok(rows)
}

fn list(ctx: &Context) -> Result<i32> {
    let rows = rows(ctx)?;
    if ctx.global.json {
        crate::commands::print_json(&rows)?;
        return Ok(0);
    }
    let ui = &ctx.ui;
    if rows.is_empty() {
        ui.print(&format!(
            "No backups of project {} in {} (budgie backup makes one)",
            ctx.project.name,
            ctx.backup_dir().display()
        ));
        return Ok(0);
    }
    let now = chrono::Local::now().naive_local();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let created = chrono::NaiveDateTime::parse_from_str(&r.created, "%Y-%m-%d %H:%M:%S")
                .map(|c| format!("{} ({} ago)", r.created, human_age((now - c).num_seconds())))
                .unwrap_or_else(|_| r.created.clone());
            vec![
                r.file.clone(),
                r.kind.clone(),
                r.database
                    .clone()
                    .or_else(|| r.volume.as_ref().map(|v| format!("volume {v}")))
                    .unwrap_or_else(|| "-".into()),
                created,
                human_bytes(r.bytes),
                match r.complete {
                    Some(true) => ui.state("yes"),
                    Some(false) => ui.state("NO"),
                    None => "unverified".into(),
                },
            ]
        })
        .collect();
    for line in table(
        &["FILE", "KIND", "OF", "CREATED", "SIZE", "COMPLETE"],
        &cells,
    ) {
        ui.print(&line);
    }
    ui.print(&format!(
        "{} in {}",
        crate::ui::count(rows.len() as u64, "backup", "backups"),
        ctx.backup_dir().display()
    ));
    Ok(0)
}

fn prune(ctx: &Context, r: Retention) -> Result<i32> {
    let _lock = if ctx.global.dry_run {
        None
    } else {
        Some(lock(ctx, "backup prune")?)
    };
    let rows = rows(ctx)?;
    let cands: Vec<retention::Candidate> = rows
        .iter()
        .filter_map(|row| {
            let created =
                chrono::NaiveDateTime::parse_from_str(&row.created, "%Y-%m-%d %H:%M:%S").ok()?;
            Some(retention::Candidate {
                created,
                safety: row.kind != "manual",
                complete: row.complete == Some(true),
                group: row.volume.clone().unwrap_or_else(|| "db".into()),
            })
        })
        .collect();
    let now = chrono::Local::now().naive_local();
    let decisions = retention::plan(&cands, now, r);
    let mut deleted = 0;
    let mut freed = 0;
    for (row, keep) in rows.iter().zip(decisions) {
        match keep {
            Some(k) => ctx.ui.debug(&format!("keep {} ({k:?})", row.file)),
            None => {
                if ctx.global.dry_run {
                    ctx.ui.print(&format!(
                        "would delete {} ({})",
                        row.file,
                        human_bytes(row.bytes)
                    ));
                } else {
                    remove_backup(Path::new(&row.path))?;
                    ctx.ui.print(&format!(
                        "deleted {} ({})",
                        row.file,
                        human_bytes(row.bytes)
                    ));
                }
                deleted += 1;
                freed += row.bytes;
            }
        }
    }
    let verb = if ctx.global.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    ctx.ui.success(&format!(
        "prune {verb} {deleted} backup{}, {}; kept {} (keep {} daily, {} weekly, {} monthly; safety backups for 7 days; always the newest complete one)",
        if deleted == 1 { "" } else { "s" },
        human_bytes(freed),
        rows.len() - deleted,
        r.daily,
        r.weekly,
        r.monthly
    ));
    Ok(0)
}

/// Removes a backup file and its sidecar.
fn remove_backup(path: &Path) -> Result<()> {
    std::fs::remove_file(path)
        .map_err(|e| Error::new(format!("cannot delete {}: {e}", path.display())))?;
    let m = meta::meta_path(path);
    if m.exists() {
        let _ = std::fs::remove_file(m);
    }
    Ok(())
}

fn verify_file(ctx: &Context, file: &Path, json: bool) -> Result<i32> {
    let path = ctx.resolve(file);
    let spinner = ctx.ui.spinner(&format!("Checking {}", path.display()));
    let report = verify::verify(&path);
    spinner.clear();
    let report = report?;
    let checksum_ok = !matches!(report.checksum, verify::Checksum::Mismatch { .. });
    let ok = report.complete && checksum_ok;
    if ctx.global.json && json {
        crate::commands::print_json(&report)?;
    } else if !ctx.global.json {
        let ui = &ctx.ui;
        ui.print(&format!("file:     {}", path.display()));
        ui.print(&format!("format:   {:?}", report.format));
        ui.print(&format!("size:     {}", human_bytes(report.bytes)));
        if let Some(u) = report.uncompressed_bytes {
            ui.print(&format!("content:  {}", human_bytes(u)));
        }
        if let Some(h) = &report.header {
            ui.print(&format!("header:   {h}"));
        }
        ui.print(&format!("sha256:   {}", report.sha256));
        ui.print(&format!(
            "checksum: {}",
            match &report.checksum {
                verify::Checksum::Matches => "matches the one recorded at backup time".to_string(),
                verify::Checksum::Mismatch { expected } =>
                    format!("DIFFERS from the recorded {expected}"),
                verify::Checksum::NotRecorded => "none recorded".to_string(),
            }
        ));
        for p in &report.problems {
            ui.warn(p);
        }
        if ok {
            ui.success("complete: this is a complete dump");
        }
    }
    if ok {
        Ok(0)
    } else {
        Err(Error::new(format!(
            "{} is not a complete, intact backup",
            path.display()
        )))
    }
}
