//! The database servers budgie knows: what it says to each to dump, load,
//! check and swap a database. One module per kind; this one dispatches on
//! the kind of a project's database.

pub mod mariadb;
pub mod postgres;

use crate::compose::{Database, DbKind};
use crate::engine::{Cmd, Engine};

/// The dump of `db` in `container`, on stdout.
pub fn dump_command(engine: &Engine, container: &str, db: &Database) -> Cmd {
    match db.kind {
        DbKind::Postgres => postgres::dump_command(engine, container, db),
        DbKind::Mariadb => mariadb::dump_command(engine, container, db),
    }
}

/// A quiet probe that exits 0 once the server of `db` accepts
/// connections.
pub fn isready_command(engine: &Engine, container: &str, db: &Database) -> Cmd {
    match db.kind {
        DbKind::Postgres => postgres::isready_command(engine, container, &db.user, &db.name),
        DbKind::Mariadb => mariadb::isready_command(engine, container, db),
    }
}

/// The name of the probe, for messages (`pg_isready said: ...`).
pub fn isready_name(db: &Database) -> &'static str {
    match db.kind {
        DbKind::Postgres => "pg_isready",
        DbKind::Mariadb => "mariadb-admin ping",
    }
}
