//! Restoring a MariaDB database: the same promise as PostgreSQL's — the
//! current database is untouched until the replacement is complete — kept
//! by another scheme, because MariaDB can neither rename a database nor
//! run DDL in a transaction (see `databases::mariadb` for every step):
//!
//! 1. a scratch and an "old" database are made beside the current one,
//!    and a loader account that can reach the scratch database only;
//! 2. the file is streamed into the scratch database by that account
//!    (`--binary-mode`: no client commands), stopping at the first error;
//! 3. the scratch database is checked (every table the dump creates);
//! 4. only then, ONE `RENAME TABLE` moves the current tables aside and the
//!    restored ones in — the commit point, atomic on MariaDB 10.6+ even
//!    across a crash — and an idempotent roll-forward re-creates triggers,
//!    views, routines and events and moves the previous tables to the
//!    "old" database;
//! 5. the old database is dropped (or kept with `--keep-previous`).
//!
//! Any failure before step 4 drops the side databases and the loader and
//! leaves the current database as it was. An interrupted swap is finished
//! or undone by the next budgie from what the server holds (`recover`).

use std::time::Instant;

use super::Restored;
use super::feed::feed;
use super::source::Source;
use crate::compose::Database;
use crate::databases::mariadb::{self, Login, Swap, Tools};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::interrupt::interrupted;

/// The account a restore (and its recovery) works as: root, whose
/// password the service's `MARIADB_ROOT_PASSWORD` gives. The image's own
/// user has rights on its database only and cannot create another.
pub fn admin(db: &Database) -> Result<Login> {
    if db.user == "root" || db.admin_password.is_some() {
        return Ok(Login {
            user: "root".into(),
            password: db.admin_password.clone().or_else(|| db.password.clone()),
        });
    }
    Err(Error::new(format!(
        "restoring a MariaDB/MySQL database needs the server's root account (to make a scratch database and an account that can load only into it), and service {} does not give root's password",
        db.service
    ))
    .hint(
        "set MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD) in the service's environment, e.g. from .env",
    ))
}

/// The client tools of the container, refusing servers this scheme does
/// not restore into (MySQL and Percona, MariaDB before 10.6).
/// The server is asked its version, and `db.name` created empty if it does
/// not exist yet.
pub fn tools_for_restore(
    engine: &Engine,
    container: &str,
    admin: &Login,
    db: &Database,
) -> Result<Tools> {
    // MariaDB 10.6+ has the `mariadb` client (older ones and MySQL, which
    // are refused anyway, may not): no `exec` spent asking.
    let tools = Tools::MARIADB;
    let version = mariadb::server_version(engine, container, tools, admin, db).map_err(|e| {
        if e.message.contains("exit status 126") || e.message.contains("not found") {
            Error::new(format!(
                "the database container has no `mariadb` client: budgie restores into MariaDB 10.6 or later only (MySQL and Percona servers are backed up, not restored into); nothing was changed ({})",
                e.message
            ))
        } else {
            e
        }
    })?;
    if version.contains("MySQL") || !version.contains("MariaDB") {
        return Err(Error::new(format!(
            "budgie backs up MySQL and Percona servers but does not restore into them (the swap needs MariaDB 10.6 or later; this server is {version}); nothing was changed"
        )));
    }
    mariadb::restore_support(&version)
        .map_err(|why| Error::new(format!("{why}; nothing was changed")))?;
    Ok(tools)
}

/// Drops the previous copy without waiting (`exec -d`): dropping a large
/// database's tables takes a while, and the restore is complete and
/// committed before this runs. A drop that does not finish leaves
/// `<db>_budgie_old_<stamp>`, only the old data, which the next restore's
/// recovery finds.
fn drop_in_background(
    engine: &Engine,
    container: &str,
    tools: Tools,
    admin: &Login,
    name: &str,
) -> Result<()> {
    let sql = mariadb::drop_database_sql(name);
    let execute = format!("--execute={}", sql.trim_end());
    let user = format!("--user={}", admin.user);
    let mut cmd = engine.exec(
        container,
        false,
        false,
        &admin.env(),
        &[tools.client, "--batch", &user, &execute],
    );
    if let Some(pos) = cmd.argv.iter().position(|a| a == "exec") {
        cmd.argv.insert(pos + 1, "-d".into());
    }
    cmd.read().map(|_| ())
}

/// Loads `source` beside the current database, checks it, and swaps it in.
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
    let admin = admin(db)?;
    let tools = tools_for_restore(engine, container, &admin, db)?;
    let swap = Swap::new(&db.name, stamp);
    let password = mariadb::prepare(engine, container, tools, &admin, &swap)?;
    let loaded = load_and_check(
        engine, container, tools, &swap, &password, &admin, source, progress,
    );
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            let rolled = mariadb::rollback(engine, container, tools, &admin, &swap);
            let mut e = e.context(format!(
                "loading {} failed, nothing was changed",
                source.path.display()
            ));
            if !engine.is_running(container) {
                e.message.push_str(
                    "\n  the database container was stopped or killed while it loaded the file",
                );
            }
            return Err(match rolled {
                Ok(()) => e,
                Err(_) => e.hint(format!(
                    "the scratch copy {} could not be dropped now; the next budgie command that finds the database running drops it",
                    swap.scratch
                )),
            });
        }
    };
    crate::crash::point("restore:loaded");
    let swapped = mariadb::commit(engine, container, tools, &admin, &swap, &loaded)?;
    crate::crash::point("restore:swapped");
    let previous = if keep_previous {
        Some(swap.old.clone())
    } else {
        drop_in_background(engine, container, tools, &admin, &swap.old).map_err(|e| {
            e.context(format!(
                "the restore is done, but the previous database could not be dropped; it is kept as {}",
                swap.old
            ))
        })?;
        None
    };
    Ok(Restored {
        database: db.name.clone(),
        file: source.shown(),
        tables: swapped.tables,
        seconds: started.elapsed().as_secs_f64(),
        previous,
        notes: Vec::new(),
    })
}

/// Steps 2 and 3: the load by the confined account, the recorded
/// checksum, and the check that every table the dump creates is there.
#[allow(clippy::too_many_arguments)]
fn load_and_check(
    engine: &Engine,
    container: &str,
    tools: Tools,
    swap: &Swap,
    password: &crate::compose::Secret,
    admin: &Login,
    source: &Source,
    progress: &dyn Fn(u64),
) -> Result<mariadb::Loaded> {
    let cmd = mariadb::load_command(engine, container, tools, swap, password);
    let fed = feed(
        &cmd,
        source,
        false,
        source.expected_sha256.is_some(),
        progress,
    )?;
    if let (Some(expected), Some(found)) = (&source.expected_sha256, &fed.sha256)
        && !expected.eq_ignore_ascii_case(found)
    {
        return Err(Error::new(format!(
            "refusing to restore {}: it does not match the checksum recorded when it was written (sha256 {expected} expected, {found} found)",
            source.path.display()
        )));
    }
    if interrupted() {
        return Err(Error::interrupted());
    }
    let loaded = mariadb::inspect(engine, container, tools, admin, swap)?;
    loaded.check(&fed.tables)?;
    Ok(loaded)
}

/// Puts right what interrupted restores of `db` left on its server: swaps
/// not yet at their commit point are undone, swapped ones finished. A
/// finished swap's previous database (`<db>_budgie_old_<stamp>`) is
/// dropped when `drop_old(name)` says a backup holds its data, else kept.
/// Returns what it did, one line each.
pub fn recover(
    engine: &Engine,
    container: &str,
    db: &Database,
    drop_old: &dyn Fn(&str) -> bool,
) -> Result<Vec<String>> {
    let admin = admin(db)?;
    let tools = Tools::MARIADB;
    let mut done = mariadb::recover(engine, container, tools, &admin, db)?;
    for (swap, state) in mariadb::find_swaps(engine, container, tools, &admin, db)? {
        if state == mariadb::SwapState::Done && drop_old(&swap.old) {
            mariadb::run_sql(
                engine,
                container,
                tools,
                &admin,
                None,
                &mariadb::drop_database_sql(&swap.old),
            )?;
            done.push(format!(
                "dropped {}, the previous copy set aside by an interrupted restore (a backup holds its data)",
                swap.old
            ));
        }
    }
    Ok(done)
}

/// `backup verify --restore-test`: loads `source` into a scratch database
/// as a restore would, checks it, counts its tables and rows exactly, and
/// drops every side object again. The current database is never touched.
pub fn restore_test(
    engine: &Engine,
    container: &str,
    db: &Database,
    source: &Source,
    stamp: &str,
    progress: &dyn Fn(u64),
) -> Result<(u64, u64)> {
    let admin = admin(db)?;
    let tools = tools_for_restore(engine, container, &admin, db)?;
    let swap = Swap::new(&db.name, stamp);
    let password = mariadb::prepare(engine, container, tools, &admin, &swap)?;
    let counted = load_and_check(
        engine, container, tools, &swap, &password, &admin, source, progress,
    )
    .and_then(|loaded| {
        let tables = loaded.tables.len() as u64;
        let counts: Vec<String> = loaded
            .tables
            .iter()
            .map(|t| {
                format!(
                    "SELECT COUNT(*) AS n FROM {}.{}",
                    mariadb::quote_ident(&swap.scratch),
                    mariadb::quote_ident(t)
                )
            })
            .collect();
        if counts.is_empty() {
            return Ok((0, 0));
        }
        let out = mariadb::run_sql(
            engine,
            container,
            tools,
            &admin,
            None,
            &format!(
                "SELECT 'budgie-rows', SUM(n) FROM ({}) c;\n",
                counts.join(" UNION ALL ")
            ),
        )?;
        let rows = out
            .lines()
            .find_map(|l| l.strip_prefix("budgie-rows\t"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        Ok((tables, rows))
    });
    let rolled = mariadb::rollback(engine, container, tools, &admin, &swap);
    let counted = counted.map_err(|e| {
        e.context(format!(
            "loading {} failed, nothing was changed",
            source.path.display()
        ))
    })?;
    rolled.map_err(|e| {
        e.context("the restore test passed, but its scratch copy could not be dropped")
    })?;
    Ok(counted)
}

/// What a restore of `source` replaces: the database `db`, or, for a
/// MariaDB service that names no database (it backs up every database of
/// its account in one dump), each database the dump holds a part of, with
/// the file cut to that part. A part for one of the server's own schemas
/// refuses the whole restore.
pub fn parts(db: &Database, source: &Source) -> Result<Vec<(Database, Source)>> {
    if !db.all_databases() {
        return Ok(vec![(db.clone(), source.clone())]);
    }
    let path = &source.path;
    let names = super::feed::mariadb_parts(source)?;
    if names.is_empty() {
        return Err(Error::new(format!(
            "refusing to restore {}: it is the dump of one database and does not say which (no `USE` line: made without --databases), and service {} names no database (budgie backs up every database of {} there); nothing was changed",
            path.display(),
            db.service,
            db.user
        ))
        .hint(format!(
            "name the database it goes into: MARIADB_DATABASE in the service's environment, or x-budgie.databases.{}.name",
            db.service
        )));
    }
    if let Some(system) = names
        .iter()
        .find(|n| mariadb::SYSTEM_SCHEMAS.contains(&n.to_ascii_lowercase().as_str()))
    {
        return Err(Error::new(format!(
            "refusing to restore {}: it holds a part for `{system}`, the server's own schema, which budgie never replaces (its databases: {}); nothing was changed",
            path.display(),
            names.join(", ")
        )));
    }
    Ok(names
        .into_iter()
        .map(|name| {
            let mut part = db.clone();
            part.name = name.clone();
            let mut cut = source.clone();
            cut.section = Some(name);
            (part, cut)
        })
        .collect())
}
