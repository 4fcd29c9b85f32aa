//! Directory-format dumps (`pg_dump -Fd -j N`, one connection per job):
//! pg_dump writes a directory inside the database container, under
//! [`PARENT`], which the engine then streams out as one tar
//! (`cp CONTAINER:DIR -`) into the backup writer. The directory is removed
//! however the backup ends; one left by a crash is removed before the next
//! directory-format dump (the project lock keeps one budgie per project, so
//! nobody else's dump lives there).
//!
//! The container needs `rm` and `mkdir` besides pg_dump (every PostgreSQL
//! image has them); the plain and custom formats need only pg_dump.

use crate::compose::Database;
use crate::databases::postgres::session_env;
use crate::engine::{Cmd, Engine};
use crate::error::{Error, Result};

/// Where pg_dump writes in the container.
pub const PARENT: &str = "/tmp/budgie-dump";

/// pg_dump's application name, for `pg_stat_activity`.
const APP: &str = "budgie-backup";

/// The directory of the dump named `stem` in the container.
pub fn path_for(stem: &str) -> String {
    format!("{PARENT}/{stem}")
}

/// Removes [`PARENT`] (a leftover from an interrupted dump, or the dump
/// just copied out).
pub fn removal(engine: &Engine, container: &str) -> Cmd {
    engine.exec(container, false, false, &[], &["rm", "-rf", PARENT])
}

fn making(engine: &Engine, container: &str) -> Cmd {
    engine.exec(container, false, false, &[], &["mkdir", "-p", PARENT])
}

/// `pg_dump -Fd -j JOBS` of `db` into the directory for `stem`.
pub fn dump_command(engine: &Engine, container: &str, db: &Database, stem: &str, jobs: u32) -> Cmd {
    engine.exec(
        container,
        false,
        false,
        &session_env(db, APP),
        &[
            "pg_dump",
            "--no-password",
            "-Fd",
            "-j",
            &jobs.to_string(),
            "-f",
            &path_for(stem),
            "-U",
            &db.user,
            "-d",
            &db.name,
        ],
    )
}

/// The tar stream of the dump's directory on stdout.
pub fn copy_out(engine: &Engine, container: &str, stem: &str) -> Cmd {
    engine.copy_out(container, &path_for(stem))
}

/// The commands, in order, as a dry run shows them.
pub fn shown(engine: &Engine, container: &str, db: &Database, stem: &str, jobs: u32) -> Vec<Cmd> {
    vec![
        removal(engine, container),
        making(engine, container),
        dump_command(engine, container, db, stem, jobs),
        copy_out(engine, container, stem),
        removal(engine, container),
    ]
}

/// The dump's directory in the container; removed when dropped.
pub struct Dumped<'a> {
    engine: &'a Engine,
    container: String,
    stem: String,
}

impl<'a> Dumped<'a> {
    /// Runs pg_dump into a fresh directory for `stem`.
    pub fn make(
        engine: &'a Engine,
        container: &str,
        db: &Database,
        stem: &str,
        jobs: u32,
    ) -> Result<Dumped<'a>> {
        removal(engine, container).read().map_err(|e| {
            e.context(
                "cannot clear the place for a directory-format dump in the database container",
            )
        })?;
        let dumped = Dumped {
            engine,
            container: container.to_string(),
            stem: stem.to_string(),
        };
        making(engine, container).read().map_err(|e| {
            e.context(format!(
                "cannot make {PARENT} in the database container for a directory-format dump"
            ))
        })?;
        let cmd = dump_command(engine, container, db, stem, jobs);
        cmd.read().map_err(|e| {
            Error::new(format!(
                "pg_dump -Fd of database {} failed: {}",
                db.name, e.message
            ))
        })?;
        crate::crash::point("backup:directory");
        Ok(dumped)
    }

    /// The tar stream of the directory on stdout.
    pub fn copy_out(&self) -> Cmd {
        copy_out(self.engine, &self.container, &self.stem)
    }
}

impl Drop for Dumped<'_> {
    fn drop(&mut self) {
        let _ = removal(self.engine, &self.container).output();
    }
}
