//! MariaDB and MySQL (placeholder until the full module lands): the dump
//! and the readiness probe, as argv for `exec` in the database container.
//! The password travels as `-e MYSQL_PWD` with the value in the child's
//! environment, never on a command line.

use crate::compose::{Database, Secret};
use crate::engine::{Cmd, Engine};

fn env(db: &Database) -> Vec<(String, Secret)> {
    db.password
        .iter()
        .map(|p| ("MYSQL_PWD".to_string(), p.clone()))
        .collect()
}

/// `mariadb-dump` of the database, plain SQL on stdout.
pub fn dump_command(engine: &Engine, container: &str, db: &Database) -> Cmd {
    engine.exec(
        container,
        false,
        false,
        &env(db),
        &[
            "mariadb-dump",
            "--single-transaction",
            "--routines",
            "--triggers",
            "--events",
            "-u",
            &db.user,
            &db.name,
        ],
    )
}

/// `mariadb-admin ping` over TCP, quiet: exit 0 once the server accepts
/// connections.
pub fn isready_command(engine: &Engine, container: &str, db: &Database) -> Cmd {
    engine.exec(
        container,
        false,
        false,
        &env(db),
        &[
            "mariadb-admin",
            "--protocol=tcp",
            "-h",
            "127.0.0.1",
            "-u",
            &db.user,
            "--silent",
            "ping",
        ],
    )
}
