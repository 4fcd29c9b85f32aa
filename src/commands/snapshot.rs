//! `budgie snapshot [NAME]`, `snapshot list`, `snapshot rm NAME` and
//! `snapshot restore NAME`: instant copies of a PostgreSQL database kept
//! by the server itself (`databases::snapshot`), and putting one back
//! through the gate and the restore's swap.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::cli::{SnapshotAction, SnapshotCommand};
use crate::compose::{Database, DbKind};
use crate::context::Context;
use crate::databases::snapshot::{self, Snapshot};
use crate::error::{Error, Result};
use crate::gate::{self, GateOptions};
use crate::plan::{Action, Plan, Reason, ReplaceDatabase};
use crate::recover::lock;
use crate::restore::source::Source;
use crate::snapshots::{say_taken, take_locked};
use crate::steps;
use crate::ui::{count, human_age, human_bytes, table};

pub fn run(ctx: &Context, s: &SnapshotCommand) -> Result<i32> {
    match &s.action {
        None => take(ctx, s.name.as_deref(), s.service.as_deref()),
        Some(SnapshotAction::List { service }) => list(ctx, service.as_deref()),
        Some(SnapshotAction::Rm { name, service }) => remove(ctx, name, service.as_deref()),
        Some(SnapshotAction::Restore {
            name,
            latest,
            latest_deploy,
            service,
            dump,
            no_backup,
            keep_previous,
        }) => restore(
            ctx,
            name.as_deref(),
            match (*latest, *latest_deploy) {
                (_, true) => Some(DEPLOY_PREFIX),
                (true, false) => Some(""),
                (false, false) => None,
            },
            service.as_deref(),
            RestoreOptions {
                dump: *dump,
                no_backup: *no_backup,
                keep_previous: *keep_previous,
            },
        ),
    }
}

/// The PostgreSQL database a snapshot command works on: `--service`, else
/// the project's only one.
fn database<'a>(ctx: &'a Context, service: Option<&str>) -> Result<&'a Database> {
    let db = ctx.project.database_of(service)?;
    if db.kind != DbKind::Postgres {
        return Err(Error::usage(format!(
            "service {} runs MariaDB/MySQL: snapshots are PostgreSQL's (CREATE DATABASE ... TEMPLATE); take a backup instead: budgie backup",
            db.service
        )));
    }
    if db.all_databases() || db.name.is_empty() {
        return Err(Error::usage(format!(
            "service {} names no one database to snapshot",
            db.service
        ))
        .hint(format!(
            "set POSTGRES_DB in its environment, or x-budgie.databases.{}.name",
            db.service
        )));
    }
    Ok(db)
}

fn running(ctx: &Context, db: &Database) -> Result<String> {
    let mut plan = Plan::new();
    steps::prepare_database(ctx, &mut plan, db)?;
    crate::execute::run(ctx, &plan.prepare, &mut crate::execute::NoDeletions)?;
    Ok(steps::running(ctx, &db.service)?.id)
}

#[derive(Serialize)]
struct TakenDoc<'a> {
    #[serde(flatten)]
    snapshot: &'a Snapshot,
    seconds: f64,
    ended_sessions: u64,
}

/// `budgie snapshot [NAME]`.
fn take(ctx: &Context, name: Option<&str>, service: Option<&str>) -> Result<i32> {
    let db = database(ctx, service)?;
    let name = name.map_or_else(snapshot::default_name, str::to_string);
    snapshot::check_name(&db.name, &name)?;
    if ctx.global.dry_run {
        ctx.ui.heading(&format!(
            "Plan for `budgie snapshot` on project {} (dry run: nothing will be run)",
            ctx.project.name
        ));
        ctx.ui.print(&format!(
            "1. Snapshot {name} of database {}: close it to new connections, end its sessions, CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY, open it again",
            db.name,
            snapshot::database_of(&db.name, &name),
            db.name
        ));
        return Ok(0);
    }
    let container = running(ctx, db)?;
    let _lock = lock(ctx, "snapshot")?;
    let started = Instant::now();
    let taken = take_locked(ctx, db, &container, &name, "snapshot")?;
    let seconds = started.elapsed().as_secs_f64();
    if ctx.global.json {
        crate::commands::print_json(&TakenDoc {
            snapshot: &taken.snapshot,
            seconds,
            ended_sessions: taken.ended_sessions,
        })?;
    } else {
        say_taken(ctx, &taken, seconds);
    }
    Ok(0)
}

/// The PostgreSQL databases a list covers: `--service`, else all.
fn databases<'a>(ctx: &'a Context, service: Option<&str>) -> Result<Vec<&'a Database>> {
    if service.is_some() || ctx.project.databases().len() <= 1 {
        return Ok(vec![database(ctx, service)?]);
    }
    Ok(ctx
        .project
        .databases()
        .iter()
        .filter(|d| d.kind == DbKind::Postgres && !d.all_databases())
        .collect())
}

/// `budgie snapshot list`.
fn list(ctx: &Context, service: Option<&str>) -> Result<i32> {
    let mut all = Vec::new();
    for db in databases(ctx, service)? {
        let container = running(ctx, db)?;
        all.extend(snapshot::list(ctx.engine()?, &container, db)?);
    }
    if ctx.global.json {
        crate::commands::print_json(&all)?;
        return Ok(0);
    }
    if all.is_empty() {
        ctx.ui
            .info("No snapshots. Take one with: budgie snapshot [NAME]");
        return Ok(0);
    }
    let now = chrono::Local::now();
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|s| {
            let age = s
                .created
                .as_deref()
                .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                .map(|c| {
                    format!(
                        "{} ago",
                        human_age((now - c.with_timezone(&chrono::Local)).num_seconds())
                    )
                })
                .unwrap_or_else(|| "?".into());
            vec![s.name.clone(), s.source.clone(), age, human_bytes(s.bytes)]
        })
        .collect();
    for line in table(&["NAME", "OF", "AGE", "SIZE"], &rows) {
        ctx.ui.print(&line);
    }
    let total: u64 = all.iter().map(|s| s.bytes).sum();
    ctx.ui.info(&format!(
        "{}, {} in the database's volume (not backups)",
        count(all.len() as u64, "snapshot", "snapshots"),
        human_bytes(total)
    ));
    Ok(0)
}

/// `budgie snapshot rm NAME`: asks (type the name) unless `--yes`.
fn remove(ctx: &Context, name: &str, service: Option<&str>) -> Result<i32> {
    let db = database(ctx, service)?;
    let container = running(ctx, db)?;
    let found = snapshot::list(ctx.engine()?, &container, db)?;
    let Some(s) = found.iter().find(|s| s.name == name) else {
        return Err(
            Error::new(format!("database {} has no snapshot {name}", db.name))
                .hint("budgie snapshot list shows them"),
        );
    };
    if ctx.global.dry_run {
        ctx.ui.print(&format!(
            "Would remove snapshot {name} ({}): DROP DATABASE {}",
            human_bytes(s.bytes),
            s.database
        ));
        return Ok(0);
    }
    if !ctx.global.yes {
        if !ctx.ui.stdin_tty {
            return Err(Error::refused(format!(
                "refusing to remove snapshot {name} without confirmation: no terminal to ask at, and no --yes; nothing was changed"
            )));
        }
        ctx.ui.unquiet().heading(&format!(
            "This removes snapshot {name} ({})",
            human_bytes(s.bytes)
        ));
        if !ctx.ui.confirm_typed(
            &format!("Type the snapshot name ({name}) to remove it"),
            name,
        )? {
            return Err(Error::refused("not confirmed; nothing was changed"));
        }
    }
    let _lock = lock(ctx, "snapshot rm")?;
    snapshot::remove(ctx.engine()?, &container, db, name)?;
    ctx.ui.success(&format!(
        "Removed snapshot {name} ({} freed)",
        human_bytes(s.bytes)
    ));
    Ok(0)
}

#[derive(Debug, Clone, Copy)]
struct RestoreOptions {
    dump: bool,
    no_backup: bool,
    keep_previous: bool,
}

/// `budgie snapshot restore NAME`: the gate (a safety snapshot of the
/// database as it is, or with `--dump` a safety dump; then the
/// confirmation), then the restore's swap with a copy of the snapshot.
/// How the snapshots a deploy takes are named: `pre-deploy-<stamp>`.
pub const DEPLOY_PREFIX: &str = "pre-deploy-";

/// `latest`: the newest snapshot whose name starts so (`""`: any).
fn restore(
    ctx: &Context,
    name: Option<&str>,
    latest: Option<&str>,
    service: Option<&str>,
    o: RestoreOptions,
) -> Result<i32> {
    let db = database(ctx, service)?.clone();
    let container = running(ctx, &db)?;
    let found = snapshot::list(ctx.engine()?, &container, &db)?;
    let chosen = match (name, latest) {
        (Some(n), _) => found.iter().find(|s| s.name == n),
        (None, Some(prefix)) => found.iter().rev().find(|s| s.name.starts_with(prefix)),
        (None, None) => {
            return Err(
                Error::usage("name the snapshot, or pass --latest (or --latest-deploy)")
                    .hint("budgie snapshot list shows them"),
            );
        }
    };
    let Some(s) = chosen else {
        return Err(Error::new(format!(
            "database {} has no snapshot{}; nothing was changed",
            db.name,
            name.map(|n| format!(" {n}")).unwrap_or_default()
        ))
        .hint("budgie snapshot list shows them"));
    };
    let mut source = Source::bare(
        &PathBuf::from(format!("snapshot {}", s.name)),
        crate::backup::verify::Format::Snapshot,
        Some(crate::backup::format::Dialect::Postgres),
        s.bytes,
    );
    source.snapshot = Some(s.database.clone());
    source.origin = Some(format!(
        "snapshot {}{}",
        s.name,
        s.created
            .as_deref()
            .map(|c| format!(" (taken {c})"))
            .unwrap_or_default()
    ));
    let engine = ctx.engine()?;
    let _lock = match ctx.global.dry_run {
        true => None,
        false => Some(lock(ctx, "snapshot restore")?),
    };
    let stamp = chrono::Local::now().format("%Y%m%d%H%M%S").to_string();
    let mut plan = Plan::new();
    plan.push(
        format!(
            "Copy snapshot {} into a scratch database, then swap it in for database {}{}",
            s.name,
            db.name,
            crate::restore::after_swap(o.keep_previous)
        ),
        Action::ReplaceDatabase(Box::new(ReplaceDatabase {
            engine: engine.clone(),
            project: ctx.project.name.clone(),
            db: db.clone(),
            source,
            keep_previous: o.keep_previous,
            stamp,
        })),
    );
    let ran = gate::run(
        ctx,
        plan,
        Reason::Restore,
        GateOptions {
            no_backup: o.no_backup,
            safety_snapshot: !o.dump,
        },
    )?;
    if ctx.global.dry_run {
        return Ok(ran.status);
    }
    for done in &ran.restored {
        if let Some(prev) = &done.previous {
            ctx.ui.info(&format!(
                "The previous database is kept as {prev}; look at it with: budgie psql -- -d {prev}"
            ));
        }
    }
    Ok(0)
}
