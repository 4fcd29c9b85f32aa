//! `budgie backup` and its subcommands: take a backup (database dump or
//! volume archives), list, prune and verify them.

use std::path::Path;

use serde::Serialize;

use crate::backup::{self, Taken, meta, retention, set, store, verify};
use crate::cli::{BackupAction, BackupCommand};
use crate::commands::backup_verify::file_name;
use crate::compose::{Database, Quiesce, Retention, Volume};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::execute::{self, NoDeletions};
use crate::inventory::HostDir;
use crate::plan::{Plan, Stillness};
use crate::recover;
use crate::steps;
use crate::ui::{human_age, human_bytes, table};

pub fn run(ctx: &Context, b: &BackupCommand) -> Result<i32> {
    match &b.action {
        Some(BackupAction::List { remote, to }) if *remote || to.is_some() => {
            crate::commands::backup_remote::list(ctx, to.as_deref())
        }
        Some(BackupAction::List { .. }) => list(ctx),
        Some(BackupAction::Prune {
            keep_daily,
            keep_weekly,
            keep_monthly,
            remote_only,
            local_only,
        }) => {
            let base = ctx.project.config.backup.retention;
            let r = Retention {
                daily: keep_daily.unwrap_or(base.daily),
                weekly: keep_weekly.unwrap_or(base.weekly),
                monthly: keep_monthly.unwrap_or(base.monthly),
            };
            if !remote_only {
                prune(ctx, r)?;
            }
            if !local_only {
                crate::commands::backup_remote::prune(ctx, r, *remote_only)?;
            }
            Ok(0)
        }
        Some(BackupAction::Verify { file, restore_test }) => {
            let file = &crate::commands::restore::local_copy(ctx, file)?;
            crate::commands::backup_verify::verify_file(ctx, file, !*restore_test)?;
            if *restore_test {
                crate::commands::restore::restore_test(ctx, file)
            } else {
                Ok(0)
            }
        }
        None => {
            let taken = if b.all {
                take_all(ctx, b)
            } else if !b.volumes.is_empty() || b.all_volumes {
                take_volumes(ctx, b)
            } else {
                take(ctx, b)
            };
            if !ctx.global.dry_run {
                match &taken {
                    Ok(_) => crate::notify::ping(ctx, "backup", true, "backup done"),
                    Err(e) => crate::notify::ping(ctx, "backup", false, &e.message),
                }
            }
            taken
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
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'a str>,
}

/// `budgie backup`: a plan of one dump step per database (all of them
/// share one stamp), or of the one `--service` names.
fn take(ctx: &Context, b: &BackupCommand) -> Result<i32> {
    let compression = ctx.dump_style(b.format, b.compress)?;
    let dbs: Vec<&Database> = match &b.service {
        Some(s) => vec![ctx.project.database_of(Some(s))?],
        None if ctx.project.databases().is_empty() => vec![ctx.project.database()?],
        None => ctx.project.databases().iter().collect(),
    };
    let at = chrono::Local::now();
    let mut plan = Plan::new();
    for db in dbs {
        plan.steps
            .push(steps::dump(ctx, db, at, None, compression, Vec::new())?);
    }
    if ctx.global.dry_run {
        execute::print_plan(ctx, "backup", &plan);
        return Ok(0);
    }
    // The remote answers before anything is dumped.
    let remote = crate::commands::backup_remote::remote_of(ctx, b)?;
    // No separate ping: the first engine call says clearly when the engine
    // is not running, and every call costs time (the benchmark counts them).
    let _lock = recover::lock(ctx, "backup")?;
    let ran = execute::run(ctx, &plan.steps, &mut NoDeletions)?;
    if ran.backups.is_empty() {
        return Err(Error::new("internal error: the dump step did not report"));
    }
    if let Some(client) = &remote {
        crate::storage::copies::upload(ctx, client, &ran.backups)?;
    }
    if ctx.global.json {
        let docs: Vec<TakenDoc> = ran
            .backups
            .iter()
            .map(|t| TakenDoc {
                path: t.path.display().to_string(),
                bytes: t.bytes,
                sha256: &t.sha256,
                seconds: t.seconds,
                database: t.database.as_deref(),
                service: t.service.as_deref(),
            })
            .collect();
        // One database: one object, as always; several: a list.
        if docs.len() == 1 {
            crate::commands::print_json(&docs[0])?;
        } else {
            crate::commands::print_json(&docs)?;
        }
        return Ok(0);
    }
    if b.log {
        log_line(ctx, &ran.backups);
    }
    report(ctx, &ran.backups)?;
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

/// After a backup: each file's checksum, and what the directory holds now.
fn report(ctx: &Context, taken: &[Taken]) -> Result<()> {
    for t in taken {
        if taken.len() == 1 {
            ctx.ui.print(&format!("  sha256 {}", t.sha256));
        } else {
            ctx.ui
                .print(&format!("  sha256 {} {}", t.sha256, file_name(&t.path)));
        }
    }
    let dir = ctx.backup_dir();
    let dumps = store::list_dumps(&dir, &ctx.project.name)?;
    let archives = backup::list_archives(&dir, &ctx.project.name)?;
    let total: u64 =
        dumps.iter().map(|d| d.bytes).sum::<u64>() + archives.iter().map(|a| a.bytes).sum::<u64>();
    ctx.ui.print(&format!(
        "  {}: {}, {} in total",
        dir.display(),
        crate::ui::count((dumps.len() + archives.len()) as u64, "backup", "backups"),
        human_bytes(total)
    ));
    Ok(())
}

/// The archives of `volumes` on a running stack: their writers paused (or
/// stopped, or left running, as each volume's `quiesce` says) around the
/// copies, and each archive's report saying which.
fn archive_steps(
    ctx: &Context,
    plan: &mut Plan,
    volumes: &[&Volume],
    dirs: &[(HostDir, Volume)],
    at: chrono::DateTime<chrono::Local>,
) -> Result<()> {
    let with_how: Vec<(&Volume, Option<Stillness>)> = volumes
        .iter()
        .copied()
        .chain(dirs.iter().map(|(_, v)| v))
        .map(|v| {
            let how = match v.quiesce {
                Quiesce::Pause => Some(Stillness::Pause),
                Quiesce::Stop => Some(Stillness::Stop),
                Quiesce::None => None,
            };
            (v, how)
        })
        .collect();
    let stilled = steps::quiet(ctx, &with_how)?;
    plan.steps.extend(stilled.before);
    for v in volumes {
        let mut step = steps::archive(ctx, v, at, None)?;
        step.set_writers(&stilled.said);
        plan.steps.push(step);
    }
    for (d, _) in dirs {
        let mut step = steps::archive_dir(ctx, d, at, None);
        step.set_writers(&stilled.said);
        plan.steps.push(step);
    }
    plan.steps.extend(stilled.after);
    Ok(())
}

/// The volumes a whole-stack set archives: every named volume that is not
/// a database's (those are dumped), external or disposable.
fn set_volumes(ctx: &Context) -> Vec<&Volume> {
    ctx.project
        .volumes
        .iter()
        .filter(|v| !v.database && !v.external && !v.disposable)
        .collect()
}

/// `budgie backup --all`: every database dumped, every volume archived
/// (writers paused), all under one stamp, then the set's manifest.
fn take_all(ctx: &Context, b: &BackupCommand) -> Result<i32> {
    let compression = ctx.dump_style(b.format, b.compress)?;
    let engine = ctx.engine()?;
    let mut volumes = set_volumes(ctx);
    if !ctx.global.dry_run {
        engine.ping()?;
        let names: Vec<&str> = volumes.iter().map(|v| v.name.as_str()).collect();
        let existing = engine.volumes(&names)?;
        volumes.retain(|v| {
            let there = existing.iter().any(|e| e.name == v.name);
            if !there {
                ctx.ui.info(&format!(
                    "Volume {} ({}) does not exist yet: nothing of it to archive",
                    v.key, v.name
                ));
            }
            there
        });
    }
    let at = chrono::Local::now();
    let mut plan = Plan::new();
    for db in ctx.project.databases() {
        plan.steps
            .push(steps::dump(ctx, db, at, None, compression, Vec::new())?);
    }
    // Bind-mounted data directories too, their writers kept still alike.
    let dirs = steps::set_dirs(ctx);
    if !volumes.is_empty() || !dirs.is_empty() {
        archive_steps(ctx, &mut plan, &volumes, &dirs, at)?;
    }
    if plan.steps.is_empty() {
        return Err(Error::new(format!(
            "project {} has no database, no volume and no host directory to back up",
            ctx.project.name
        )));
    }
    plan.steps.push(steps::write_set(ctx, at, None));
    if ctx.global.dry_run {
        execute::print_plan(ctx, "backup --all", &plan);
        return Ok(0);
    }
    let remote = crate::commands::backup_remote::remote_of(ctx, b)?;
    let _lock = recover::lock(ctx, "backup --all")?;
    let ran = execute::run(ctx, &plan.steps, &mut NoDeletions)?;
    if let Some(client) = &remote {
        // The set's files, then its manifest: a set whose manifest is
        // there remotely has all its files there.
        crate::storage::copies::upload(ctx, client, &ran.backups)?;
        if let Some(manifest) = &ran.set {
            crate::storage::copies::upload_file(ctx, client, manifest)?;
        }
    }
    if ctx.global.json {
        #[derive(Serialize)]
        struct SetDoc<'a> {
            set: Option<String>,
            files: &'a [Taken],
        }
        crate::commands::print_json(&SetDoc {
            set: ran.set.as_ref().map(|p| p.display().to_string()),
            files: &ran.backups,
        })?;
        return Ok(0);
    }
    if b.log {
        log_line(ctx, &ran.backups);
    }
    report(ctx, &ran.backups)?;
    Ok(0)
}

/// `budgie backup --volume KEY...` / `--all-volumes`: a plan of archive
/// steps.
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
        chosen.push(v);
    }
    if chosen.is_empty() {
        ctx.ui.info("No volumes to archive.");
        return Ok(0);
    }
    let at = chrono::Local::now();
    let mut plan = Plan::new();
    archive_steps(ctx, &mut plan, &chosen, &[], at)?;
    if ctx.global.dry_run {
        execute::print_plan(ctx, "backup --volume", &plan);
        return Ok(0);
    }
    let engine = ctx.engine()?;
    engine.ping()?;
    let existing = engine.volumes(&chosen.iter().map(|v| v.name.as_str()).collect::<Vec<_>>())?;
    if let Some(v) = chosen
        .iter()
        .find(|v| !existing.iter().any(|e| e.name == v.name))
    {
        return Err(
            Error::new(format!("volume {} ({}) does not exist", v.key, v.name))
                .hint("the engine creates it when a service using it starts: budgie start"),
        );
    }
    let remote = crate::commands::backup_remote::remote_of(ctx, b)?;
    let _lock = recover::lock(ctx, "backup --volume")?;
    let ran = execute::run(ctx, &plan.steps, &mut NoDeletions)?;
    if let Some(client) = &remote {
        crate::storage::copies::upload(ctx, client, &ran.backups)?;
    }
    if ctx.global.json {
        crate::commands::print_json(&ran.backups)?;
    } else {
        if b.log {
            log_line(ctx, &ran.backups);
        }
        report(ctx, &ran.backups)?;
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
    /// The database's service (dumps only; from the name, else the sidecar).
    service: Option<String>,
    volume: Option<String>,
    /// The host directory a directory archive holds (from its sidecar).
    #[serde(skip_serializing_if = "Option::is_none")]
    directory: Option<String>,
    created: String,
    bytes: u64,
    /// true, false, or null when it needs `budgie backup verify` to tell.
    complete: Option<bool>,
    /// The set it belongs to (`backup --all`, `clean`, `nuke`), by id.
    #[serde(skip_serializing_if = "Option::is_none")]
    set: Option<String>,
}

fn rows(ctx: &Context) -> Result<Vec<Row>> {
    let dir = ctx.backup_dir();
    let mut rows = Vec::new();
    for d in store::list_dumps(&dir, &ctx.project.name)? {
        let m = meta::read_meta(&d.path);
        let (database, from_meta) = match m {
            Some(m) => (m.database, m.service),
            None => (None, None),
        };
        rows.push(Row {
            file: d.file_name.clone(),
            path: d.path.display().to_string(),
            kind: d.reason.clone().unwrap_or_else(|| "manual".into()),
            content: "dump",
            database,
            service: d.service.clone().or(from_meta),
            volume: None,
            directory: None,
            created: d.created.format("%Y-%m-%d %H:%M:%S").to_string(),
            bytes: d.bytes,
            complete: verify::quick_complete(&d.path),
            set: None,
        });
    }
    for a in backup::list_archives(&dir, &ctx.project.name)? {
        rows.push(Row {
            file: a.file_name.clone(),
            path: a.path.display().to_string(),
            kind: a.reason.clone().unwrap_or_else(|| "manual".into()),
            content: "archive",
            database: None,
            service: None,
            volume: Some(a.key.clone()),
            directory: meta::read_meta(&a.path).and_then(|m| m.directory),
            created: a.created.format("%Y-%m-%d %H:%M:%S").to_string(),
            bytes: a.bytes,
            complete: verify::quick_complete(&a.path),
            set: None,
        });
    }
    for s in set::list_sets(&dir, &ctx.project.name)? {
        for r in rows.iter_mut() {
            if s.manifest.members.iter().any(|m| m.file == r.file) {
                r.set = Some(s.id.clone());
            }
        }
    }
    // Newest first; a set's files together.
    rows.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then(b.set.cmp(&a.set))
            .then(b.file.cmp(&a.file))
    });
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
    let sets: Vec<&str> = {
        let mut s: Vec<&str> = rows.iter().filter_map(|r| r.set.as_deref()).collect();
        s.dedup();
        s
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let created = chrono::NaiveDateTime::parse_from_str(&r.created, "%Y-%m-%d %H:%M:%S")
                .map(|c| format!("{} ({} ago)", r.created, human_age((now - c).num_seconds())))
                .unwrap_or_else(|_| r.created.clone());
            vec![
                r.file.clone(),
                r.kind.clone(),
                match (&r.database, &r.service, &r.volume) {
                    _ if r.directory.is_some() => {
                        format!("directory {}", r.directory.as_deref().unwrap_or_default())
                    }
                    // A dump of every database of a service that names none.
                    (Some(d), Some(s), _) if d.is_empty() => format!("(every database) ({s})"),
                    (Some(d), Some(s), _) if ctx.project.names_services() => format!("{d} ({s})"),
                    (Some(d), _, _) => d.clone(),
                    (None, _, Some(v)) => format!("volume {v}"),
                    (None, _, None) => "-".into(),
                },
                created,
                human_bytes(r.bytes),
                match r.complete {
                    Some(true) => ui.state("yes"),
                    Some(false) => ui.state("NO"),
                    None => "unverified".into(),
                },
            ]
            .into_iter()
            .chain((!sets.is_empty()).then(|| r.set.clone().unwrap_or_else(|| "-".into())))
            .collect()
        })
        .collect();
    let mut headers = vec!["FILE", "KIND", "OF", "CREATED", "SIZE", "COMPLETE"];
    if !sets.is_empty() {
        headers.push("SET");
    }
    for line in table(&headers, &cells) {
        ui.print(&line);
    }
    if let Some(newest) = sets.first() {
        ui.print(&format!(
            "{}; the newest restores with: budgie restore --set {newest}",
            crate::ui::count(sets.len() as u64, "set", "sets")
        ));
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
        Some(recover::lock(ctx, "backup prune")?)
    };
    let rows = rows(ctx)?;
    let primary = ctx.project.databases().first().map(|d| d.service.as_str());
    let cands: Vec<retention::Candidate> = rows
        .iter()
        .filter_map(|row| {
            let created =
                chrono::NaiveDateTime::parse_from_str(&row.created, "%Y-%m-%d %H:%M:%S").ok()?;
            Some(retention::Candidate {
                created,
                safety: row.kind != "manual",
                complete: row.complete == Some(true),
                // Each database and each volume keeps its own history.
                // A dump that names no service (written before budgie knew
                // several databases) is the primary database's.
                group: match (&row.volume, &row.service) {
                    (Some(v), _) => format!("volume:{v}"),
                    (None, Some(s)) => format!("db:{s}"),
                    (None, None) => format!("db:{}", primary.unwrap_or_default()),
                },
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
    if !ctx.global.dry_run {
        drop_empty_sets(ctx)?;
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

/// Deletes the manifests of sets none of whose files are left.
fn drop_empty_sets(ctx: &Context) -> Result<()> {
    let dir = ctx.backup_dir();
    for s in set::list_sets(&dir, &ctx.project.name)? {
        if s.manifest
            .members
            .iter()
            .all(|m| !dir.join(&m.file).exists())
        {
            std::fs::remove_file(&s.path)
                .map_err(|e| Error::new(format!("cannot delete {}: {e}", s.path.display())))?;
            ctx.ui.print(&format!("deleted the empty set {}", s.id));
        }
    }
    Ok(())
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
