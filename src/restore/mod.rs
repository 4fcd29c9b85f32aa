//! Restoring a database: the file checked, loaded beside the current
//! database, checked again, and swapped in atomically.
//!
//! The scripts budgie replaces dropped the database and then loaded the
//! file, so a bad file destroyed the data it was meant to protect. Here the
//! current database is never touched until the replacement is complete:
//!
//! 1. the file is checked by content (format, header, end marker) before
//!    anything else — see `backup::verify`;
//! 2. it is loaded into a fresh scratch database on the same server, in one
//!    transaction that stops at the first error;
//! 3. the scratch database is checked (the tables the dump creates exist);
//! 4. only then: connections to the current database are switched off and
//!    its sessions terminated, and in ONE transaction the current database is
//!    renamed aside and the scratch one renamed into its place;
//! 5. the old one is dropped (or kept with `--keep-previous`).
//!
//! Any failure or interrupt before step 4 drops the scratch database and
//! leaves the current one exactly as it was (DESIGN.md invariant 4).

pub mod cluster;
pub mod dir;
pub mod feed;
pub mod mariadb;
pub mod source;
pub mod sqlguard;
pub mod sqlscan;
pub mod staged;
pub mod tables;
pub mod unwrap;
pub mod volume;

use std::time::Instant;

use serde::Serialize;

use crate::backup::verify::Format;
use crate::compose::Database;
use crate::databases::postgres::{
    Scratch, check_and_swap, drop_database, drop_in_background, load_command, maintenance_db, psql,
    psql_cmd_stdin, quote_ident, reopen, side_name, swap_in_ready, swap_trailer, table_count,
};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::interrupt::interrupted;
use feed::{feed, feed_with_trailer};
use source::Source;
use tables::tables_in_custom;

/// What becomes of the current database, as a restore's plan step says it.
pub fn after_swap(keep_previous: bool) -> &'static str {
    if keep_previous {
        " (the current one is kept under a new name)"
    } else {
        " (the current one is dropped after the swap)"
    }
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub database: String,
    pub file: String,
    pub tables: u64,
    pub seconds: f64,
    /// The previous database's name when `--keep-previous` kept it.
    pub previous: Option<String>,
    /// What the scan of the file left out (statements about the database
    /// itself, `--clean` drops), a line each.
    pub notes: Vec<String>,
}

/// Loads `source` into a scratch database and checks it, then swaps it in
/// for the current database. See the module documentation for the order.
/// PostgreSQL; MariaDB's is [`mariadb::restore`].
pub fn restore(
    engine: &Engine,
    container: &str,
    db: &Database,
    source: &Source,
    keep_previous: bool,
    stamp: &str,
    progress: &dyn Fn(u64),
) -> Result<Restored> {
    let started = Instant::now();
    let old = side_name(&db.name, "old", stamp);
    let mut notes = Vec::new();
    let ready = source
        .ready
        .as_ref()
        .and_then(|s| Some((s, s.ready_copy.clone()?)));
    let tables = if let Some((_, copy)) = &ready {
        // A snapshot's ready copy: complete already, swapped in as it is.
        crate::crash::point("restore:loaded");
        swap_in_ready(engine, container, db, copy, &old)?
    } else if !source.format.is_sql_text() {
        let (mut scratch, expected) = load_scratch(engine, container, db, source, stamp, progress)?;
        if interrupted() {
            return Err(Error::interrupted());
        }
        crate::crash::point("restore:loaded");
        let swapped = check_and_swap(engine, container, db, &scratch.name, &old, &expected);
        staged::wait_for_removals();
        let tables = swapped?;
        scratch.disarm();
        tables
    } else {
        let scratch = side_name(&db.name, "restore", stamp);
        let (tables, said) = one_session(engine, container, db, source, &scratch, &old, progress)?;
        notes = said;
        tables
    };
    crate::crash::point("restore:swapped");
    let previous = if keep_previous {
        let _ = psql(
            engine,
            container,
            db,
            maintenance_db(db),
            &format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS true",
                quote_ident(&old)
            ),
        );
        Some(old)
    } else if let Some((snapshot, _)) = ready
        && crate::databases::snapshot::make_ready_copy(
            engine,
            container,
            db,
            snapshot,
            std::slice::from_ref(&old),
        )
    {
        // The set-aside database goes, then the next ready copy is made in
        // the room it leaves, both after budgie is done.
        None
    } else {
        drop_in_background(engine, container, db, &old).map_err(|e| {
            e.context(format!(
                "the restore is done, but the previous database could not be dropped; it is kept as {old}"
            ))
        })?;
        None
    };
    Ok(Restored {
        database: db.name.clone(),
        file: source.shown(),
        tables,
        seconds: started.elapsed().as_secs_f64(),
        previous,
        notes,
    })
}

/// Plain SQL (compressed or not) in ONE psql session: create the scratch
/// database, load the dump in a transaction, commit, check, swap — the
/// check and swap follow the dump on the same stdin, so they run only if
/// every statement of the dump succeeded (ON_ERROR_STOP). Returns the
/// number of tables and the scan's notes. On any failure the scratch database is dropped and the
/// current one opened again; it was never renamed unless all succeeded.
fn one_session(
    engine: &Engine,
    container: &str,
    db: &Database,
    source: &Source,
    scratch: &str,
    old: &str,
    progress: &dyn Fn(u64),
) -> Result<(u64, Vec<String>)> {
    let create = format!(
        "CREATE DATABASE {} OWNER {}",
        quote_ident(scratch),
        quote_ident(&db.user)
    );
    let connect = format!("\\c {}", quote_ident(scratch));
    let source = &restricted(engine, container, db, source)?;
    let cmd = psql_cmd_stdin(
        engine,
        container,
        db,
        maintenance_db(db),
        &[
            "-c",
            &create,
            "-c",
            &connect,
            // Session-wide, before the transaction: see `sqlscan`.
            "-c",
            "SET standard_conforming_strings = on",
            "-c",
            "BEGIN",
            "-f",
            "-",
        ],
        true,
    );
    let (db2, scratch2, old2) = (db.clone(), scratch.to_string(), old.to_string());
    let fed = feed_with_trailer(
        &cmd,
        source,
        Box::new(move |tables: &[String]| swap_trailer(&db2, &scratch2, &old2, tables)),
        progress,
    );
    let result = fed.and_then(|fed| {
        if let (Some(expected), Some(found)) = (&source.expected_sha256, &fed.sha256)
            && !expected.eq_ignore_ascii_case(found)
        {
            return Err(Error::new(format!(
                "refusing to restore {}: it does not match the checksum recorded when it was written (sha256 {expected} expected, {found} found)",
                source.path.display()
            )));
        }
        Ok(fed)
    });
    match result {
        Ok(fed) => Ok((table_count(&fed.stdout), fed.notes)),
        Err(e) => {
            // Nothing was renamed unless the last transaction committed, and
            // then psql succeeded. Open the current database again and drop
            // the scratch copy.
            reopen(engine, container, db);
            let dropped = drop_database(engine, container, db, scratch).is_ok();
            let mut e = e.context(format!(
                "loading {} failed, nothing was changed",
                source.path.display()
            ));
            if let Some(newer) = source::newer_than_server(source) {
                e.message.push_str(&format!(
                    "\n  {newer}: what failed may be SQL the older server does not know"
                ));
                if e.hint.is_none() {
                    e = e.hint("restore it into a server of that release or newer, or dump it again with the pg_dump of this server's release");
                }
            }
            // psql may notice the lost server before the engine tells it
            // was killed: say what happened to the container itself.
            if !dropped && !engine.is_running(container) {
                e.message.push_str(
                    "\n  the database container was stopped or killed while it loaded the file",
                );
            }
            Err(if dropped {
                e
            } else {
                e.hint(format!(
                    "the scratch copy {scratch} could not be dropped now; the next budgie command that finds the database running drops it"
                ))
            })
        }
    }
}

/// `source` with a random key of budgie's own for `\restrict` when it is
/// plain SQL that psql reads and the container's psql knows `\restrict`:
/// then psql itself refuses every meta-command of the file, even one the
/// scan missed. The same psql call gives the server's version (settings a
/// newer pg_dump writes that it does not know are left out).
fn restricted(engine: &Engine, container: &str, db: &Database, source: &Source) -> Result<Source> {
    let mut source = source.clone();
    if source.format.is_sql_text() && !source.allow_meta_commands {
        let (client, server) = crate::databases::postgres::versions(engine, container, db);
        if client.is_some_and(crate::databases::postgres::knows_restrict) {
            source.restrict_key = Some(crate::fsutil::random_hex(24)?);
        }
        source.server_version = server;
    }
    Ok(source)
}

/// Loads `source` into a new scratch database (the returned guard drops it
/// unless it is swapped in). Returns the tables the dump creates, for the
/// check. A recorded checksum that the bytes do not match fails it.
pub fn load_scratch<'a>(
    engine: &'a Engine,
    container: &str,
    db: &'a Database,
    source: &Source,
    stamp: &str,
    progress: &dyn Fn(u64),
) -> Result<(Scratch<'a>, Vec<String>)> {
    if let Some(template) = &source.snapshot {
        // A snapshot: the server copies it; nothing to load or to list.
        let scratch = Scratch::copy_of(engine, container, db, stamp, template)?;
        crate::crash::point("restore:loaded");
        return Ok((scratch, Vec::new()));
    }
    let jobs = match source.format {
        Format::Custom | Format::Directory | Format::DirectoryTar => staged::jobs(source.jobs),
        _ => 1,
    };
    if matches!(source.format, Format::Directory | Format::DirectoryTar)
        || (source.format == Format::Custom && jobs > 1)
    {
        return load_staged(engine, container, db, source, stamp, jobs, progress);
    }
    // An archive lists its tables (read here, no pass through pg_restore);
    // plain SQL is scanned as it loads.
    let listed = match source.format {
        Format::Custom | Format::Tar => Some(archive_tables(engine, container, source)?),
        _ => None,
    };
    let restricted = restricted(engine, container, db, source)?;
    let source = &restricted;
    let scratch = Scratch::create(engine, container, db, stamp)?;
    let cmd = load_command(engine, container, db, &scratch.name, source.format);
    let fed = feed(
        &cmd,
        source,
        !source.format.is_sql_text(),
        source.expected_sha256.is_some(),
        progress,
    )
    .map_err(|e| {
        source::newer_archive_or(source, e).context(format!(
            "loading {} failed, nothing was changed",
            source.path.display()
        ))
    })?;
    if let (Some(expected), Some(found)) = (&source.expected_sha256, &fed.sha256)
        && !expected.eq_ignore_ascii_case(found)
    {
        return Err(Error::new(format!(
            "refusing to restore {}: it does not match the checksum recorded when it was written (sha256 {expected} expected, {found} found); nothing was changed",
            source.path.display()
        )));
    }
    Ok((scratch, listed.unwrap_or(fed.tables)))
}

/// The tables a custom- or tar-format archive creates: from its table of
/// contents, read here; for an archive version newer than budgie reads,
/// from `pg_restore -l` in the container (which refuses what it cannot
/// read, before anything changed).
fn archive_tables(engine: &Engine, container: &str, source: &Source) -> Result<Vec<String>> {
    let toc = source::archive_toc(source)?;
    if toc.header.toc_known() {
        return Ok(toc.tables());
    }
    let fed = feed(
        &engine.exec(container, true, false, &[], &["pg_restore", "-l"]),
        source,
        true,
        false,
        &|_| {},
    )
    .map_err(|e| source::newer_archive_or(source, e))?;
    Ok(tables_in_custom(&fed.stdout))
}

/// [`load_scratch`] for an archive pg_restore must seek in: copied into the
/// container (`staged`), listed, and restored with `-j jobs` into the new
/// scratch database. The copy is removed however it ends.
fn load_staged<'a>(
    engine: &'a Engine,
    container: &str,
    db: &'a Database,
    source: &Source,
    stamp: &str,
    jobs: u32,
    progress: &dyn Fn(u64),
) -> Result<(Scratch<'a>, Vec<String>)> {
    let name = side_name(&db.name, "restore", stamp);
    let staged = if source.format == Format::DirectoryTar {
        staged::Staged::unpack(engine, container, source, &name)?
    } else {
        staged::Staged::copy(engine, container, &source.path, &name)?
    };
    // The archive's list and the new scratch database, at the same time.
    let lister = engine.exec(
        container,
        false,
        false,
        &[],
        &["pg_restore", "-l", &staged.path],
    );
    let listing = lister
        .expression()
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .map_err(|e| lister.spawn_error(e))?;
    let scratch = Scratch::create(engine, container, db, stamp);
    let out = listing
        .wait()
        .map_err(|e| Error::new(format!("waiting for `{lister}` failed: {e}")))?;
    let scratch = scratch?;
    if !out.status.success() {
        let e = lister.failure(out).context(format!(
            "refusing to restore {}: pg_restore cannot read it; nothing was changed",
            source.path.display()
        ));
        return Err(source::newer_archive_or(source, e));
    }
    let list = String::from_utf8_lossy(&out.stdout).into_owned();
    let toc = source::archive_toc(source)?;
    let (total, tables) = if toc.header.toc_known() {
        (toc.items(), toc.tables())
    } else {
        let total = list
            .lines()
            .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
            .count() as u64;
        (total, tables_in_custom(&list))
    };
    if interrupted() {
        return Err(Error::interrupted());
    }
    // The bar counts the file's bytes: items done, as a share of them.
    let items = |done: u64| progress(source.bytes.saturating_mul(done) / total.max(1));
    staged::pg_restore(
        engine,
        container,
        db,
        &staged,
        &scratch.name,
        jobs,
        total,
        &items,
    )
    .map_err(|e| {
        e.context(format!(
            "loading {} failed, nothing was changed",
            source.path.display()
        ))
    })?;
    staged.remove_meanwhile();
    Ok((scratch, tables))
}
