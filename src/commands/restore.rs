//! `budgie restore`: pick and validate the file, then hand a plan with a
//! `ReplaceDatabase` (or `RestoreVolume`) step to the gate. The swap itself
//! lives in `crate::restore`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::backup::{store, verify};
use crate::cli::RestoreCommand;
use crate::commands::restore_input::{checking, decrypted};
use crate::compose::{Database, DbKind};
use crate::context::Context;
use crate::databases::postgres;
use crate::error::{Error, Result};
use crate::execute::{self, NoDeletions};
use crate::gate::{self, GateOptions};
use crate::journal::{Entry, Journal, Sides};
use crate::plan::{Action, Plan, Reason, ReplaceDatabase, RestoreVolume};
use crate::recover::lock;
use crate::restore::{self, source};
use crate::steps;
use crate::ui::{count, human_age, human_bytes};

#[derive(Serialize)]
struct RestoredDoc<'a> {
    database: &'a str,
    file: &'a str,
    tables: u64,
    seconds: f64,
    safety_backup: Option<String>,
    previous: Option<&'a str>,
    /// What the scan of the file left out, a line each.
    notes: &'a [String],
}

pub fn run(ctx: &Context, r: &RestoreCommand) -> Result<i32> {
    if let Some(which) = &r.set {
        return crate::commands::restore_set::run(ctx, r, which);
    }
    if let Some(key) = &r.volume {
        return restore_volume(ctx, r, key);
    }
    let named = match (&r.file, r.remote) {
        (Some(f), _) => local_copy(ctx, f)?,
        (None, true) => latest_remote(ctx, r.service.as_deref())?,
        (None, false) => choose_file(ctx, r)?,
    };
    let (mut _lock, unpacked) = unpacked(ctx, &named, "restore")?;
    let path = unpacked.as_ref().map_or(named.clone(), |u| u.path.clone());
    let db = target_database(ctx, r.service.as_deref(), &path)?.clone();
    // Validate before touching anything.
    let mut source = checking(ctx, &path, || source::validate(&path))?;
    source.origin = unpacked.as_ref().map(|u| u.origin.clone());
    source::check_fits(&source, &db)?;
    choose_section(ctx, &mut source, r.from_database.as_deref())?;
    source.jobs = r.jobs;
    if r.unsafe_allow_meta_commands {
        ctx.ui.unquiet().warn(&format!(
            "--unsafe-allow-meta-commands: psql runs whatever {} holds — shell commands (\\!), connections to other databases (\\connect), COPY ... PROGRAM — with the database server's rights, and nothing is scanned",
            path.display()
        ));
        source.allow_meta_commands = true;
    }
    let engine = ctx.engine()?;
    if _lock.is_none() && !ctx.global.dry_run {
        _lock = Some(lock(ctx, "restore")?);
    }
    let parts = checking(ctx, &path, || restore::mariadb::parts(&db, &source))?;
    let stamp = chrono::Local::now().format("%Y%m%d%H%M%S").to_string();
    let mut plan = Plan::new();
    steps::prepare_database(ctx, &mut plan, &db)?;
    for (part, source) in parts {
        plan.push(
            format!(
                "Load {}{} into a scratch database, check it, then swap it in for database {}{}",
                source.shown(),
                match &source.section {
                    Some(name) => format!(" (its part for database {name})"),
                    None => String::new(),
                },
                part.name,
                restore::after_swap(r.keep_previous)
            ),
            Action::ReplaceDatabase(Box::new(ReplaceDatabase {
                engine: engine.clone(),
                project: ctx.project.name.clone(),
                db: part,
                source,
                keep_previous: r.keep_previous,
                stamp: stamp.clone(),
            })),
        );
    }
    let ran = gate::run(
        ctx,
        plan,
        Reason::Restore,
        GateOptions {
            no_backup: r.no_backup,
            ..Default::default()
        },
    )?;
    if ctx.global.dry_run {
        return Ok(ran.status);
    }
    if ran.restored.is_empty() {
        return Err(Error::new(
            "internal error: the restore step did not report",
        ));
    }
    for done in &ran.restored {
        for note in &done.notes {
            ctx.ui.info(&format!("note: {note}"));
        }
        if let Some(prev) = &done.previous {
            ctx.ui.info(&format!(
                "The previous database is kept as {prev}; look at it with: budgie psql -- -d {prev}"
            ));
        }
    }
    after_restore(ctx, &db, r.restart)?;
    if ctx.global.json {
        let docs: Vec<RestoredDoc> = ran
            .restored
            .iter()
            .map(|done| RestoredDoc {
                database: &done.database,
                file: &done.file,
                tables: done.tables,
                seconds: done.seconds,
                safety_backup: ran.backups.first().map(|t| t.path.display().to_string()),
                previous: done.previous.as_deref(),
                notes: &done.notes,
            })
            .collect();
        // One document for one database (as always); a list for a dump
        // of several.
        match docs.as_slice() {
            [one] => crate::commands::print_json(one)?,
            many => crate::commands::print_json(&many)?,
        }
    }
    Ok(ran.status)
}

/// The database a dump goes into: `--service`'s; else, in a stack with
/// several, the one the file says it came from (its name or its sidecar);
/// else the only one.
fn target_database<'a>(
    ctx: &'a Context,
    service: Option<&str>,
    path: &Path,
) -> Result<&'a crate::compose::Database> {
    if service.is_some() || !ctx.project.names_services() {
        return ctx.project.database_of(service);
    }
    let from_name = path
        .file_name()
        .and_then(|n| store::parse_dump_name(&ctx.project.name, &n.to_string_lossy()))
        .and_then(|p| p.service);
    let from_meta = || crate::backup::meta::read_meta(path).and_then(|m| m.service);
    match from_name.or_else(from_meta) {
        Some(s) if ctx.project.databases().iter().any(|d| d.service == s) => {
            ctx.project.database_of(Some(&s))
        }
        _ => ctx.project.database_of(None).map_err(|e| {
            e.context(format!(
                "{} does not say which database it is a dump of",
                path.display()
            ))
        }),
    }
}

/// For a `pg_dumpall` file, the section `--from-database` names (the file
/// is read through once for the databases it holds); without it, the
/// databases are listed and nothing else happens. Refuses the option for
/// any other file.
fn choose_section(ctx: &Context, source: &mut source::Source, wanted: Option<&str>) -> Result<()> {
    let path = source.path.display().to_string();
    if !source.cluster {
        return match wanted {
            Some(name) => Err(Error::new(format!(
                "--from-database {name}: {path} is not a pg_dumpall file but the dump of one database, which is restored whole; nothing was changed"
            ))
            .hint("leave --from-database out")),
            None => Ok(()),
        };
    }
    let names = checking(ctx, &source.path, || {
        restore::feed::cluster_databases(source)
    })?;
    let listed = names.join(", ");
    match wanted {
        Some(name) if names.iter().any(|n| n == name) => {
            source.section = Some(name.to_string());
            Ok(())
        }
        Some(name) => Err(Error::new(format!(
            "{path} is a pg_dumpall file without database {name}; it holds: {listed}; nothing was changed"
        ))),
        None => Err(Error::new(format!(
            "{path} is a pg_dumpall file: the roles of a server and {} database{} ({listed}); budgie restores one database of it into this project's, and nothing was changed",
            names.len(),
            if names.len() == 1 { "" } else { "s" }
        ))
        .hint(format!("say which: budgie restore {path} --from-database NAME"))),
    }
}

/// The file to restore: FILE, `--latest`, or a pick list at a terminal.
fn choose_file(ctx: &Context, r: &RestoreCommand) -> Result<PathBuf> {
    if let Some(f) = &r.file {
        return Ok(ctx.resolve(f));
    }
    let dir = ctx.backup_dir();
    let dumps = store::list_dumps(&dir, &ctx.project.name)?;
    if r.latest {
        for d in &dumps {
            let complete = checking(ctx, &d.path, || Ok(verify::is_complete(&d.path)))?;
            if complete {
                ctx.ui.info(&format!(
                    "Newest complete backup: {} ({})",
                    d.path.display(),
                    human_bytes(d.bytes)
                ));
                return Ok(d.path.clone());
            }
            ctx.ui
                .warn(&format!("Skipping {}: it is not complete", d.file_name));
        }
        return Err(Error::new(format!(
            "no complete backup of project {} in {}",
            ctx.project.name,
            dir.display()
        ))
        .hint("take one with: budgie backup"));
    }
    if dumps.is_empty() {
        return Err(Error::usage(format!(
            "no FILE given and no backups of project {} in {}",
            ctx.project.name,
            dir.display()
        ))
        .hint("take one with: budgie backup, or name a dump file: budgie restore FILE"));
    }
    let now = chrono::Local::now().naive_local();
    let items: Vec<String> = dumps
        .iter()
        .map(|d| {
            format!(
                "{}  {}  {} ago  {}",
                d.file_name,
                human_bytes(d.bytes),
                human_age((now - d.created).num_seconds()),
                d.reason.as_deref().unwrap_or("manual")
            )
        })
        .collect();
    if !ctx.ui.stdin_tty {
        ctx.ui
            .print(&format!("Backups in {} (newest first):", dir.display()));
        for i in &items {
            ctx.ui.print(&format!("  {i}"));
        }
        return Err(Error::usage("no FILE given: name one, or use --latest")
            .hint("budgie restore --latest, or budgie restore backups/<file>"));
    }
    let pick = ctx
        .ui
        .pick("Which backup do you want to restore?", &items)?;
    Ok(dumps[pick].path.clone())
}

/// Starts the database service unless it runs (it stays running).
/// Returns its container's id.
fn ensure_database_running(ctx: &Context, db: &crate::compose::Database) -> Result<String> {
    let mut plan = Plan::new();
    steps::prepare_database(ctx, &mut plan, db)?;
    execute::run(ctx, &plan.prepare, &mut NoDeletions)?;
    Ok(steps::running(ctx, &db.service)?.id)
}

/// The services that depend on the database: they hold stale connections
/// after a swap. With `--restart` restart them; at a terminal offer to;
/// otherwise say how.
fn after_restore(ctx: &Context, db: &crate::compose::Database, restart: bool) -> Result<()> {
    let dependents: Vec<String> = ctx
        .project
        .services
        .values()
        .filter(|s| s.depends_on.contains(&db.service))
        .map(|s| s.name.clone())
        .collect();
    if dependents.is_empty() {
        return Ok(());
    }
    let running: Vec<String> = {
        let containers = ctx.engine()?.containers(&ctx.project.name)?;
        dependents
            .into_iter()
            .filter(|s| containers.iter().any(|c| &c.service == s && c.running))
            .collect()
    };
    if running.is_empty() {
        return Ok(());
    }
    let go = restart
        || (ctx.ui.stdin_tty
            && !ctx.global.yes
            && ctx.ui.confirm(&format!(
                "{} still hold{} connections to the old database. Restart {} now?",
                running.join(", "),
                if running.len() == 1 { "s" } else { "" },
                if running.len() == 1 { "it" } else { "them" }
            ))?);
    if !go {
        ctx.ui.info(&format!(
            "{} may hold stale connections: budgie restart {}",
            running.join(", "),
            running.join(" ")
        ));
        return Ok(());
    }
    let mut args = vec!["restart".to_string()];
    args.extend(running.iter().cloned());
    let mut plan = Plan::new();
    plan.run(
        format!("Restart {}", running.join(", ")),
        ctx.compose_cmd(&args)?,
    );
    execute::run_plan(ctx, "restore", &plan).map(|_| ())
}

/// A zip or tar holding one dump: that dump, copied out into the backup
/// directory (removed when the `Unpacked` drops) under the project lock,
/// taken first for `command` (the lock's crash recovery would take the
/// copy for a leftover). None for a dump itself.
fn unpacked(
    ctx: &Context,
    named: &Path,
    command: &str,
) -> Result<(
    Option<crate::recover::Held>,
    Option<restore::unwrap::Unpacked>,
)> {
    if let Some((taken, decrypted)) = decrypted(ctx, named, command)? {
        return Ok((taken, Some(decrypted)));
    }
    let Some(wrapper) = restore::unwrap::wrapper(named)? else {
        return Ok((None, None));
    };
    let taken = match ctx.global.dry_run {
        true => None,
        false => Some(lock(ctx, command)?),
    };
    let unpacked = checking(ctx, named, || {
        restore::unwrap::unpack_as(named, &ctx.backup_dir(), wrapper)
    })?;
    Ok((taken, unpacked))
}

/// `file` on this machine: a remote one (`s3://...`) downloaded into the
/// backup directory first, under the project lock (its crash recovery
/// would take the download for a leftover; the lock is let go once the
/// file has its name), else the path as given.
pub fn local_copy(ctx: &Context, file: &Path) -> Result<PathBuf> {
    match file.to_str().filter(|f| f.starts_with("s3://")) {
        Some(url) if ctx.global.dry_run => Err(Error::usage(format!(
            "--dry-run with {url}: download it first (budgie backup verify {url}), then ask for the restore's plan of the local copy"
        ))),
        Some(url) => {
            let _held = lock(ctx, "download")?;
            crate::storage::copies::fetch(ctx, url)
        }
        None => Ok(ctx.resolve(file)),
    }
}

/// `restore --latest --remote`: the newest complete copy on the
/// configured remote, downloaded.
fn latest_remote(ctx: &Context, service: Option<&str>) -> Result<PathBuf> {
    let Some(target) = crate::storage::copies::target(ctx, None)? else {
        return Err(Error::usage(
            "--remote: no remote is configured (x-budgie.backup.remote: s3://BUCKET/PREFIX)",
        ));
    };
    let client = crate::storage::copies::connect(ctx, &target)?;
    let found = crate::storage::copies::list(&client, &ctx.project.name)?;
    let newest = crate::storage::copies::newest_complete(&found, service).ok_or_else(|| {
        Error::new(format!(
            "no complete backup of project {} in {}",
            ctx.project.name,
            target.shown(None)
        ))
        .hint("budgie backup list --remote shows what is there")
    })?;
    ctx.ui.info(&format!(
        "Newest complete remote backup: {} ({})",
        newest.url,
        human_bytes(newest.bytes)
    ));
    local_copy(ctx, Path::new(&newest.url))
}

#[derive(Serialize)]
struct RestoreTestDoc {
    file: String,
    tables: u64,
    rows: u64,
    seconds: f64,
}

/// `backup verify FILE --restore-test`: load into a scratch database, count
/// tables and rows, drop it. The current database is never touched.
pub fn restore_test(ctx: &Context, file: &Path) -> Result<i32> {
    let named = local_copy(ctx, file)?;
    let (mut _lock, unpacked) = unpacked(ctx, &named, "backup verify --restore-test")?;
    let path = unpacked.as_ref().map_or(named.clone(), |u| u.path.clone());
    let mut source = checking(ctx, &path, || source::validate(&path))?;
    source.origin = unpacked.as_ref().map(|u| u.origin.clone());
    let db = target_database(ctx, None, &path)?;
    source::check_fits(&source, db)?;
    if source.cluster {
        return Err(Error::new(format!(
            "{} is a pg_dumpall file: a restore test loads the dump of one database",
            path.display()
        ))
        .hint("restore one database of it: budgie restore FILE --from-database NAME (the current database is replaced only after the load succeeds)"));
    }
    let engine = ctx.engine()?;
    let parts = checking(ctx, &path, || restore::mariadb::parts(db, &source))?;
    if ctx.global.dry_run {
        let stamp = "<stamp>t";
        let mut plan = Plan::new();
        steps::prepare_database(ctx, &mut plan, db)?;
        for (part, _) in &parts {
            plan.run(
                format!(
                    "Load {} into the scratch database {}, count its tables and rows, drop it (database {} is not touched)",
                    path.display(),
                    postgres::side_name(&part.name, "restore", stamp),
                    part.name
                ),
                crate::databases::load_command_shown(
                    engine,
                    &format!("<{} container>", db.service),
                    part,
                    source.format,
                ),
            );
        }
        execute::print_plan(ctx, "backup verify --restore-test", &plan);
        return Ok(0);
    }
    let container = ensure_database_running(ctx, db)?;
    if _lock.is_none() {
        _lock = Some(lock(ctx, "backup verify --restore-test")?);
    }
    let started = std::time::Instant::now();
    // MariaDB's recovery finds side databases by a 14-digit stamp.
    let now = chrono::Local::now().format("%Y%m%d%H%M%S");
    let stamp = match db.kind {
        DbKind::Postgres => format!("{now}t"),
        DbKind::Mariadb => now.to_string(),
    };
    let mut entry = Entry::new("backup verify --restore-test");
    let mut sides = parts
        .iter()
        .map(|(part, _)| Sides::restore_test(&part.service, &part.name, &stamp, &path));
    entry.restore = sides.next();
    entry.more_restores = sides.collect();
    let journal = Journal::begin(&ctx.backup_dir(), &ctx.project.name, &entry)?;
    let (mut tables, mut rows) = (0, 0);
    for (part, source) in &parts {
        let bar = ctx.ui.progress_bytes(&match &source.section {
            Some(name) => format!("Loading the part of {name} into a scratch database"),
            None => "Loading into a scratch database".to_string(),
        });
        bar.set_length(source.bytes);
        let progress = |n| bar.set(n);
        let counted = match db.kind {
            DbKind::Postgres => {
                postgres_restore_test(engine, &container, part, source, &stamp, &progress)
            }
            DbKind::Mariadb => {
                restore::mariadb::restore_test(engine, &container, part, source, &stamp, &progress)
            }
        };
        bar.clear();
        let (t, r) = counted?;
        tables += t;
        rows += r;
    }
    journal.finish();
    let doc = RestoreTestDoc {
        file: source.shown(),
        tables,
        rows,
        seconds: started.elapsed().as_secs_f64(),
    };
    if ctx.global.json {
        crate::commands::print_json(&doc)?;
    } else {
        ctx.ui.success(&format!(
            "restore test: {} loads into a scratch database: {}, {} ({:.1}s); the scratch copy is dropped",
            source.shown(),
            count(tables, "table", "tables"),
            count(rows, "row", "rows"),
            doc.seconds
        ));
    }
    Ok(0)
}

/// A PostgreSQL restore test: the tables and rows of the loaded copy,
/// which is dropped again.
fn postgres_restore_test(
    engine: &crate::engine::Engine,
    container: &str,
    db: &Database,
    source: &source::Source,
    stamp: &str,
    progress: &dyn Fn(u64),
) -> Result<(u64, u64)> {
    let (mut scratch, expected) =
        restore::load_scratch(engine, container, db, source, stamp, progress)?;
    let tables = postgres::check_tables(engine, container, db, &scratch.name, &expected)?;
    let rows = postgres::psql(
        engine,
        container,
        db,
        &scratch.name,
        "select coalesce(sum((xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I.%I', schemaname, tablename), false, true, '')))[1]::text::bigint), 0) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')",
    )?;
    let rows: u64 = rows.trim().parse().unwrap_or(0);
    scratch.drop_now()?;
    restore::staged::wait_for_removals();
    Ok((tables, rows))
}

/// `budgie restore ARCHIVE --volume KEY`: the services using the volume
/// stop, the current contents are archived by the gate, the archive's
/// contents replace them, the services start again.
fn restore_volume(ctx: &Context, r: &RestoreCommand, key: &str) -> Result<i32> {
    let file = r
        .file
        .as_ref()
        .ok_or_else(|| Error::usage("restore --volume KEY needs the ARCHIVE file"))?;
    let v = ctx.project.volume_or_usage(key)?;
    if v.external {
        return Err(Error::new(format!(
            "volume {key} is external: budgie does not write into it"
        )));
    }
    if v.database {
        return Err(Error::usage(format!(
            "volume {key} holds the database: restore a dump with `budgie restore FILE` instead"
        )));
    }
    let named = ctx.resolve(file);
    let (taken, decrypted) = match decrypted(ctx, &named, "restore --volume")? {
        Some((taken, d)) => (taken, Some(d)),
        None => (None, None),
    };
    let path = decrypted.as_ref().map_or(named.clone(), |d| d.path.clone());
    let mut archive = checking(ctx, &path, || source::validate_archive(&path))?;
    archive.origin = decrypted.as_ref().map(|d| d.origin.clone());
    let engine = ctx.engine()?;
    let image = ctx.project.image_for_volume(v);
    let io = engine
        .volume_io(&v.name, image.as_deref())
        .map_err(Error::new)?;
    if !ctx.global.dry_run {
        engine.ping()?;
        if engine.volumes(&[v.name.as_str()])?.is_empty() {
            return Err(
                Error::new(format!("volume {key} ({}) does not exist", v.name))
                    .hint("create it first: budgie start"),
            );
        }
    }
    let _lock = match taken {
        Some(t) => Some(t),
        None if ctx.global.dry_run => None,
        None => Some(lock(ctx, "restore --volume")?),
    };
    let mut plan = Plan::new();
    if !v.services.is_empty() {
        steps::stop(ctx, &mut plan, &v.services)?;
    }
    plan.push(
        format!(
            "Replace the contents of volume {} with {}",
            v.name,
            archive.shown()
        ),
        Action::RestoreVolume(Box::new(RestoreVolume {
            volume: v.name.clone(),
            io,
            archive,
        })),
    );
    if !v.services.is_empty() {
        let mut args = vec!["up".to_string(), "-d".to_string()];
        args.extend(v.services.iter().cloned());
        plan.run(
            format!("Start {} again", v.services.join(", ")),
            ctx.compose_cmd(&args)?,
        );
    }
    gate::run(
        ctx,
        plan,
        Reason::Restore,
        GateOptions {
            no_backup: r.no_backup,
            ..Default::default()
        },
    )
    .map(|r| r.status)
}
