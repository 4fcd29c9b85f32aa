//! Snapshots as steps of budgie's commands: one taken under the project
//! lock with a journal (for `budgie snapshot` and the gate's safety
//! snapshot), and the count the gate and `status` show. The SQL is
//! `databases::snapshot`'s.

use std::path::PathBuf;
use std::time::Instant;

use crate::compose::Database;
use crate::context::Context;
use crate::databases::snapshot::{self, Snapshot};
use crate::error::Result;
use crate::journal::{Entry, Journal, Sides};
use crate::plan::TakeSnapshot;
use crate::ui::{count, human_bytes};

/// Takes a snapshot under the lock the caller holds, with a journal that
/// lets the next budgie repair a kill midway (the database opened again,
/// this run's half-made copy dropped).
pub fn take_locked(
    ctx: &Context,
    db: &Database,
    container: &str,
    name: &str,
) -> Result<snapshot::Taken> {
    let mut entry = Entry::new("snapshot");
    let taking = snapshot::taking_name(
        &db.name,
        &chrono::Local::now().format("%Y%m%d%H%M%S").to_string(),
    );
    entry.restore = Some(Sides {
        database: db.name.clone(),
        service: Some(db.service.clone()),
        scratch: taking.clone(),
        old: None,
        keep_previous: false,
        file: PathBuf::from(format!("snapshot {name}")),
    });
    let journal = Journal::begin(&ctx.backup_dir(), &ctx.project.name, &entry)?;
    crate::crash::point("snapshot:begun");
    let spinner = ctx
        .ui
        .spinner(&format!("Snapshot {name} of database {}", db.name));
    let engine = ctx.engine()?;
    let taken = snapshot::create(engine, container, db, name, &taking);
    spinner.clear();
    crate::crash::point("snapshot:taken");
    // Done or failed, nothing is left to repair (a failure opened the
    // database again and dropped the copy).
    journal.finish();
    taken
}

/// Starts the ready copy of a snapshot `budgie snapshot` took, when the
/// volume has room for it beside the snapshot, replacing the database's
/// other ready copies: what the user took is put back by a rename.
pub fn start_ready_copy(
    ctx: &Context,
    db: &Database,
    container: &str,
    taken: &mut snapshot::Taken,
) -> Result<()> {
    if snapshot::room_for_copy(taken.snapshot.bytes, taken.free) {
        taken.copy_started = snapshot::make_ready_copy(
            ctx.engine()?,
            container,
            db,
            &taken.snapshot,
            &taken.other_copies,
        );
    }
    Ok(())
}

pub fn say_taken(ctx: &Context, taken: &snapshot::Taken, seconds: f64) {
    let s = &taken.snapshot;
    ctx.ui.success(&format!(
        "Snapshot {} of database {}: {} ({seconds:.1}s)",
        s.name,
        s.source,
        human_bytes(s.bytes)
    ));
    if taken.ended_sessions > 0 {
        ctx.ui.info(&format!(
            "{} of database {} ended for the copy: the app reconnects",
            count(taken.ended_sessions, "session", "sessions"),
            s.source
        ));
    }
    if taken.free.is_none() {
        ctx.ui.warn(
            "the free space of the database's volume could not be measured (no df in the image)",
        );
    }
    if taken.copy_started {
        ctx.ui.info(&format!(
            "Its ready copy is being made in the background ({} more in the volume), so that putting it back is a rename",
            human_bytes(s.bytes)
        ));
    }
    ctx.ui.info(&format!(
        "A snapshot lives in the database's volume: it is no backup. Put it back with: budgie snapshot restore {}",
        s.name
    ));
}

/// Takes a snapshot in the database's cluster (the project lock is held:
/// the plan runs under it).
pub fn safety_snapshot(ctx: &Context, t: &TakeSnapshot) -> Result<()> {
    let container = crate::steps::running(ctx, &t.db.service)?.id;
    let started = Instant::now();
    let taken = take_locked(ctx, &t.db, &container, &t.name)?;
    ctx.ui.success(&format!(
        "Safety snapshot of database {}: {} ({}, {:.1}s)",
        t.db.name,
        taken.snapshot.name,
        human_bytes(taken.snapshot.bytes),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// How many snapshots a running PostgreSQL database has and the bytes
/// they take (one psql call); None for another kind of database, or when
/// its server does not answer.
pub fn summary(ctx: &Context, db: &Database) -> Option<(u64, u64)> {
    if db.kind != crate::compose::DbKind::Postgres || db.name.is_empty() || db.all_databases() {
        return None;
    }
    let engine = ctx.engine().ok()?;
    let container = engine
        .running_container_id(&ctx.project.name, &db.service)
        .ok()??;
    let found = snapshot::list(engine, &container, db).ok()?;
    Some((
        found.len() as u64,
        found.iter().map(Snapshot::disk_bytes).sum(),
    ))
}

/// "2 snapshots (1.2 GB)" when the PostgreSQL database in volume `key` has
/// snapshots (`budgie snapshot`), which go with the volume.
pub fn snapshots_in(ctx: &Context, key: &str) -> Option<String> {
    let (n, bytes) = summary(ctx, ctx.project.database_in_volume(key)?)?;
    (n > 0).then(|| {
        format!(
            "{} ({})",
            count(n, "snapshot", "snapshots"),
            human_bytes(bytes)
        )
    })
}
