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
use crate::snapshots::{say_taken, start_ready_copy, take_locked};
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
    // Running already (the usual case): one engine call.
    if let Some(id) = ctx
        .engine()?
        .running_container_id(&ctx.project.name, &db.service)?
    {
        return Ok(id);
    }
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
    /// Its ready copy is being made in the background.
    ready_copy_started: bool,
}

/// `budgie snapshot [NAME]`: in each database of the set, all or none (a
/// failure removes the ones this run took).
fn take(ctx: &Context, name: Option<&str>, service: Option<&str>) -> Result<i32> {
    let dbs = databases(ctx, service)?;
    let name = name.map_or_else(snapshot::default_name, str::to_string);
    for db in &dbs {
        snapshot::check_name(&db.name, &name)?;
    }
    if ctx.global.dry_run {
        ctx.ui.heading(&format!(
            "Plan for `budgie snapshot` on project {} (dry run: nothing will be run)",
            ctx.project.name
        ));
        for (i, db) in dbs.iter().enumerate() {
            ctx.ui.print(&format!(
                "{}. Snapshot {name} of database {} ({}): close it to new connections, end its sessions, CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY, open it again; then, if the volume has room, its ready copy {} in the background (replacing the database's other ready copies)",
                i + 1,
                db.name,
                db.service,
                snapshot::database_of(&db.name, &name),
                db.name,
                snapshot::copy_of(&db.name, &name)
            ));
        }
        return Ok(0);
    }
    let set = with_containers(ctx, dbs)?;
    let _lock = lock(ctx, "snapshot")?;
    let engine = ctx.engine()?;
    let mut taken = Vec::new();
    for (db, container) in &set {
        let started = Instant::now();
        match take_locked(ctx, db, container, &name) {
            Ok(t) => taken.push((t, started.elapsed().as_secs_f64(), *db, container)),
            Err(mut e) => {
                let undone: Vec<String> = taken
                    .iter()
                    .filter(|(_, _, db, c)| snapshot::remove(engine, c, db, &name).is_ok())
                    .map(|(_, _, db, _)| format!("{} ({})", db.name, db.service))
                    .collect();
                if !undone.is_empty() {
                    e.message = format!(
                        "{} (snapshot {name} of {} removed again: a set is taken whole or not at all)",
                        e.message,
                        undone.join(", ")
                    );
                }
                return Err(e);
            }
        }
    }
    // Only once the whole set is taken (a set undone keeps the copies
    // there are).
    for (t, _, db, container) in &mut taken {
        start_ready_copy(ctx, db, container, t)?;
    }
    if ctx.global.json {
        let docs: Vec<TakenDoc> = taken
            .iter()
            .map(|(t, seconds, _, _)| TakenDoc {
                snapshot: &t.snapshot,
                seconds: *seconds,
                ended_sessions: t.ended_sessions,
                ready_copy_started: t.copy_started,
            })
            .collect();
        match docs.as_slice() {
            [one] => crate::commands::print_json(one)?,
            _ => crate::commands::print_json(&docs)?,
        }
    } else {
        for (t, seconds, _, _) in &taken {
            say_taken(ctx, t, *seconds);
        }
    }
    Ok(0)
}

/// The PostgreSQL databases a command works on: `--service`'s, else every
/// PostgreSQL database of the project, as one set (one snapshot name in
/// each). MariaDB databases have no snapshots and are left out.
fn databases<'a>(ctx: &'a Context, service: Option<&str>) -> Result<Vec<&'a Database>> {
    if service.is_some() || ctx.project.databases().len() <= 1 {
        return Ok(vec![database(ctx, service)?]);
    }
    let set: Vec<&Database> = ctx
        .project
        .databases()
        .iter()
        .filter(|d| d.kind == DbKind::Postgres && !d.all_databases() && !d.name.is_empty())
        .collect();
    if set.is_empty() {
        return Err(Error::usage(format!(
            "project {} has no PostgreSQL database naming one database to snapshot",
            ctx.project.name
        ))
        .hint("snapshots are PostgreSQL's; take a backup instead: budgie backup"));
    }
    Ok(set)
}

/// Each database of the set with its running container.
fn with_containers<'a>(
    ctx: &Context,
    dbs: Vec<&'a Database>,
) -> Result<Vec<(&'a Database, String)>> {
    dbs.into_iter()
        .map(|db| Ok((db, running(ctx, db)?)))
        .collect()
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
            let ready = match s.copy_bytes {
                0 => "-".to_string(),
                n => human_bytes(n),
            };
            vec![
                s.name.clone(),
                s.source.clone(),
                age,
                human_bytes(s.bytes),
                ready,
            ]
        })
        .collect();
    for line in table(&["NAME", "OF", "AGE", "SIZE", "READY COPY"], &rows) {
        ctx.ui.print(&line);
    }
    let total: u64 = all.iter().map(Snapshot::disk_bytes).sum();
    ctx.ui.info(&format!(
        "{}, {} in the database's volume (not backups)",
        count(all.len() as u64, "snapshot", "snapshots"),
        human_bytes(total)
    ));
    Ok(0)
}

/// `budgie snapshot rm NAME`: from each database of the set that has it;
/// asks (type the name) unless `--yes`.
fn remove(ctx: &Context, name: &str, service: Option<&str>) -> Result<i32> {
    let engine = ctx.engine()?;
    let mut found = Vec::new();
    for (db, container) in with_containers(ctx, databases(ctx, service)?)? {
        if let Some(s) = snapshot::list(engine, &container, db)?
            .into_iter()
            .find(|s| s.name == name)
        {
            found.push((db, container, s));
        }
    }
    if found.is_empty() {
        return Err(Error::new(format!("no database has a snapshot {name}"))
            .hint("budgie snapshot list shows them"));
    }
    let bytes: u64 = found.iter().map(|(_, _, s)| s.disk_bytes()).sum();
    let of = found
        .iter()
        .map(|(db, _, _)| db.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if ctx.global.dry_run {
        for (_, _, s) in &found {
            ctx.ui.print(&format!(
                "Would remove snapshot {name} of {} ({}): DROP DATABASE {}",
                s.source,
                human_bytes(s.bytes),
                s.database
            ));
        }
        return Ok(0);
    }
    if !ctx.global.yes {
        if !ctx.ui.stdin_tty {
            return Err(Error::refused(format!(
                "refusing to remove snapshot {name} without confirmation: no terminal to ask at, and no --yes; nothing was changed"
            )));
        }
        let on = ctx.machine();
        ctx.ui.unquiet().heading(&format!(
            "This removes snapshot {name} of {of}{on} ({})",
            human_bytes(bytes)
        ));
        if !ctx.ui.confirm_typed(
            &format!("Type the snapshot name ({name}) to remove it{on}"),
            name,
        )? {
            return Err(Error::refused("not confirmed; nothing was changed"));
        }
    }
    let _lock = lock(ctx, "snapshot rm")?;
    for (db, container, _) in &found {
        snapshot::remove(engine, container, db, name)?;
    }
    ctx.ui.success(&format!(
        "Removed snapshot {name} of {of} ({} freed)",
        human_bytes(bytes)
    ));
    Ok(0)
}

#[derive(Debug, Clone, Copy)]
struct RestoreOptions {
    dump: bool,
    no_backup: bool,
    keep_previous: bool,
}

/// How the snapshots a deploy takes are named: `pre-deploy-<stamp>`.
pub const DEPLOY_PREFIX: &str = "pre-deploy-";

/// `budgie snapshot restore NAME`: the gate (a safety snapshot of each
/// database as it is, or with `--dump` a safety dump; then the
/// confirmation), then the restore's swap with a copy of the snapshot, in
/// each database of the set. `latest`: the newest snapshot whose name
/// starts so (`""`: any).
fn restore(
    ctx: &Context,
    name: Option<&str>,
    latest: Option<&str>,
    service: Option<&str>,
    o: RestoreOptions,
) -> Result<i32> {
    let engine = ctx.engine()?;
    let mut set = Vec::new();
    for (db, container) in with_containers(ctx, databases(ctx, service)?)? {
        set.push((db.clone(), snapshot::list(engine, &container, db)?));
    }
    let chosen = choose(&set, name, latest)?;
    let _lock = match ctx.global.dry_run {
        true => None,
        false => Some(lock(ctx, "snapshot restore")?),
    };
    let stamp = chrono::Local::now().format("%Y%m%d%H%M%S").to_string();
    let mut plan = Plan::new();
    for (db, found) in set {
        let Some(s) = found.into_iter().find(|s| s.name == chosen) else {
            continue; // choose() found it in every database
        };
        let what = match &s.ready_copy {
            Some(copy) => format!("Swap in snapshot {}'s ready copy {copy}", s.name),
            None => format!(
                "Copy snapshot {} into a scratch database, then swap it in",
                s.name
            ),
        };
        let next = match (&s.ready_copy, o.keep_previous) {
            (Some(_), false) => ", then its next ready copy is made in the background",
            _ => "",
        };
        plan.push(
            format!(
                "{what} for database {}{}{next}",
                db.name,
                crate::restore::after_swap(o.keep_previous)
            ),
            Action::ReplaceDatabase(Box::new(ReplaceDatabase {
                engine: engine.clone(),
                project: ctx.project.name.clone(),
                db,
                source: source_of(&s),
                keep_previous: o.keep_previous,
                stamp: stamp.clone(),
            })),
        );
    }
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

/// The snapshot name to put back: NAME, or the newest (its name starting
/// with `latest`) that every database of the set has.
fn choose(
    set: &[(Database, Vec<Snapshot>)],
    name: Option<&str>,
    latest: Option<&str>,
) -> Result<String> {
    let has = |found: &[Snapshot], n: &str| found.iter().any(|s| s.name == n);
    let names = |dbs: Vec<&Database>| {
        dbs.iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = match (name, latest) {
        (Some(n), _) => {
            let lacking: Vec<&Database> = set
                .iter()
                .filter(|(_, f)| !has(f, n))
                .map(|(db, _)| db)
                .collect();
            if lacking.is_empty() {
                return Ok(n.to_string());
            }
            if lacking.len() < set.len() {
                return Err(Error::new(format!(
                    "snapshot {n} is not in every database of the set: {} has none; nothing was changed",
                    names(lacking)
                ))
                .hint("put back one database's with --service SERVICE"));
            }
            None
        }
        (None, Some(prefix)) => set.split_first().and_then(|((_, first), rest)| {
            first
                .iter()
                .rev()
                .filter(|s| s.name.starts_with(prefix))
                .find(|s| rest.iter().all(|(_, f)| has(f, &s.name)))
                .map(|s| s.name.clone())
        }),
        (None, None) => {
            return Err(
                Error::usage("name the snapshot, or pass --latest (or --latest-deploy)")
                    .hint("budgie snapshot list shows them"),
            );
        }
    };
    chosen.ok_or_else(|| {
        Error::new(format!(
            "database {} has no snapshot{}; nothing was changed",
            names(set.iter().map(|(db, _)| db).collect()),
            name.map(|n| format!(" {n}")).unwrap_or_default()
        ))
        .hint("budgie snapshot list shows them")
    })
}

/// What the restore's swap copies from: the snapshot database.
fn source_of(s: &Snapshot) -> Source {
    let mut source = Source::bare(
        &PathBuf::from(format!("snapshot {}", s.name)),
        crate::backup::verify::Format::Snapshot,
        Some(crate::backup::format::Dialect::Postgres),
        s.bytes,
    );
    source.snapshot = Some(s.database.clone());
    source.ready = s.ready_copy.is_some().then(|| s.clone());
    let taken = s.created.as_deref().map(|c| format!("taken {c}"));
    let ready = s.ready_copy.as_ref().map(|_| "its ready copy".to_string());
    let about: Vec<String> = taken.into_iter().chain(ready).collect();
    source.origin = Some(match about.is_empty() {
        true => format!("snapshot {}", s.name),
        false => format!("snapshot {} ({})", s.name, about.join(", ")),
    });
    source
}
