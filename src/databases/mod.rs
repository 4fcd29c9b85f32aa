//! The database servers budgie knows: what it says to each to dump, load,
//! check and swap a database. One module per kind; this one dispatches on
//! the kind of a project's database.

pub mod mariadb;
pub mod pg_directory;
pub mod postgres;
pub mod snapshot;

use crate::backup::verify::Format;
use crate::compose::{Database, DbKind, DumpFormat, Secret};
use crate::engine::{Cmd, Engine};

/// The dump of `db` in `container`, on stdout: SQL text, or for
/// PostgreSQL pg_dump's custom format when `format` says so.
pub fn dump_command(engine: &Engine, container: &str, db: &Database, format: DumpFormat) -> Cmd {
    match db.kind {
        DbKind::Postgres => postgres::dump_command(engine, container, db, format),
        // MariaDB's names first, without asking (an `exec` saved on every
        // backup); `dump_command_again` when the container lacks them.
        DbKind::Mariadb => mariadb::dump_command(engine, container, mariadb::Tools::MARIADB, db),
    }
}

/// After a MariaDB/MySQL dump failed with `error`: the dump with the tools
/// the container really has, when the first try's program was missing
/// from it (MySQL, Percona, MariaDB before 10.5 have only `mysqldump`).
pub fn dump_command_again(
    engine: &Engine,
    container: &str,
    db: &Database,
    error: &str,
) -> Option<Cmd> {
    // podman says "not found" (exit 127); docker exits 126 and prints its
    // words on stdout, into the discarded temporary file.
    let missing = error.contains("mariadb-dump")
        && ["not found", "exit status 126", "exit status 127"]
            .iter()
            .any(|w| error.contains(w));
    if db.kind != DbKind::Mariadb || !missing {
        return None;
    }
    let t = tools(engine, container);
    (t != mariadb::Tools::MARIADB).then(|| mariadb::dump_command(engine, container, t, db))
}

/// A quiet probe that exits 0 once the server of `db` accepts
/// connections.
pub fn isready_command(engine: &Engine, container: &str, db: &Database) -> Cmd {
    match db.kind {
        DbKind::Postgres => postgres::isready_command(engine, container, &db.user, &db.name),
        DbKind::Mariadb => {
            mariadb::isready_command(engine, container, tools(engine, container), db)
        }
    }
}

/// The name of the probe, for messages (`pg_isready said: ...`).
pub fn isready_name(db: &Database) -> &'static str {
    match db.kind {
        DbKind::Postgres => "pg_isready",
        DbKind::Mariadb => "mariadb-admin ping",
    }
}

/// What database `db` holds now: size in bytes and tables (for the gate's
/// summary of what a restore replaces).
pub fn describe_current(
    engine: &Engine,
    container: &str,
    db: &Database,
) -> Option<postgres::Current> {
    match db.kind {
        DbKind::Postgres => postgres::describe_current(engine, container, db).ok(),
        DbKind::Mariadb => {
            mariadb::describe_current(engine, container, mariadb::Tools::MARIADB, db)
                .ok()
                .map(|(bytes, tables)| postgres::Current { bytes, tables })
        }
    }
}

/// The MariaDB/MySQL client programs `container` has (`mariadb-*`, else
/// `mysql*`); MariaDB's names when it cannot tell, so that the command
/// that follows fails naming the missing program.
fn tools(engine: &Engine, container: &str) -> mariadb::Tools {
    mariadb::detect_tools(engine, container).unwrap_or(mariadb::Tools::MARIADB)
}

/// The command that loads a restore's file into its scratch database, as a
/// plan shows it (the container and the stamp as placeholders).
pub fn load_command_shown(engine: &Engine, container: &str, db: &Database, format: Format) -> Cmd {
    match db.kind {
        DbKind::Postgres => postgres::load_command(
            engine,
            container,
            db,
            &format!("<{}>", postgres::side_name(&db.name, "restore", "<stamp>")),
            format,
        ),
        DbKind::Mariadb => mariadb::load_command(
            engine,
            container,
            mariadb::Tools::MARIADB,
            &mariadb::Swap::new(&db.name, "<stamp>"),
            &Secret::new("<generated>"),
        ),
    }
}
