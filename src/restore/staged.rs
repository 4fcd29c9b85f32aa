//! A dump archive copied into the database container, for the pg_restore
//! runs that need a file they can seek in or a directory: a parallel
//! restore (`pg_restore -j N`) of a custom-format archive, and any
//! directory-format archive (`pg_dump -Fd`). The copy goes through the
//! engine (`cp`), lives at `/tmp/<scratch database>` in the container, and
//! is removed when the load ends, however it ends; after a crash, crash
//! recovery removes it with the scratch database it belongs to
//! ([`path_for`]).
//!
//! Parallel restore gives up `--single-transaction` (pg_restore refuses
//! both); it stays all-or-nothing because the load goes into the scratch
//! database and only the swap makes it live.

use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::compose::Database;
use crate::databases::postgres::secret_env;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::interrupt::interrupted;

/// Where the copy for the scratch database `scratch` lives in the
/// container.
pub fn path_for(scratch: &str) -> String {
    format!("/tmp/{scratch}")
}

/// The copy in the container; removed when dropped.
pub struct Staged<'a> {
    engine: &'a Engine,
    container: String,
    pub path: String,
}

impl<'a> Staged<'a> {
    /// Copies `from` (a file or a directory) into the container, for the
    /// scratch database `scratch`.
    pub fn copy(
        engine: &'a Engine,
        container: &str,
        from: &Path,
        scratch: &str,
    ) -> Result<Staged<'a>> {
        let staged = Staged {
            engine,
            container: container.to_string(),
            path: path_for(scratch),
        };
        staged.remove();
        engine
            .copy_into(from, container, &staged.path)
            .read()
            .map_err(|e| {
                e.context(format!(
                    "copying {} into the database container failed, nothing was changed",
                    from.display()
                ))
            })?;
        Ok(staged)
    }

    fn remove(&self) {
        let _ = self
            .engine
            .exec(
                &self.container,
                false,
                false,
                &[],
                &["rm", "-rf", &self.path],
            )
            .output();
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        self.remove();
    }
}

/// How many parallel jobs a restore in `container` gets: `asked`, else
/// the CPUs the container sees (`nproc`), at most 8; at least 1.
pub fn jobs(engine: &Engine, container: &str, asked: Option<u32>) -> u32 {
    asked
        .or_else(|| {
            engine
                .exec(container, false, false, &[], &["nproc"])
                .read()
                .ok()
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(1)
        .clamp(1, 8)
}

/// `pg_restore -j JOBS` of the staged archive into `target`, stopping at
/// the first error. `progress(items)` follows the items pg_restore reports
/// done (`--verbose`), up to `total`.
#[allow(clippy::too_many_arguments)]
pub fn pg_restore(
    engine: &Engine,
    container: &str,
    db: &Database,
    staged: &Staged,
    target: &str,
    jobs: u32,
    total: u64,
    progress: &dyn Fn(u64),
) -> Result<()> {
    let jobs = jobs.to_string();
    let cmd = engine.exec(
        container,
        false,
        false,
        &secret_env(db),
        &[
            "pg_restore",
            "--exit-on-error",
            "--verbose",
            "--no-password",
            "-j",
            &jobs,
            "-U",
            &db.user,
            "-d",
            target,
            &staged.path,
        ],
    );
    let reader = cmd
        .expression()
        .stdin_null()
        .stderr_to_stdout()
        .unchecked()
        .reader()
        .map_err(|e| cmd.spawn_error(e))?;
    let mut said = Vec::new();
    let mut done = 0u64;
    for line in BufReader::new(&reader).lines() {
        if interrupted() {
            let _ = reader.kill();
            return Err(Error::interrupted());
        }
        let line = line.map_err(|e| Error::new(format!("reading pg_restore's output: {e}")))?;
        if line.contains(": finished item ") || line.contains(": processing item ") {
            done += 1;
            progress(done.min(total));
            if done == 1 {
                crate::crash::point("restore:parallel");
            }
        } else if !line.contains(": launching item ")
            && !line.starts_with("pg_restore: creating ")
            && !line.starts_with("pg_restore: executing ")
            && !line.contains("processing data for table")
        {
            said.push(line);
        }
    }
    let out = reader
        .try_wait()
        .map_err(|e| Error::new(format!("waiting for pg_restore failed: {e}")))?;
    match out {
        Some(out) if out.status.success() => Ok(()),
        _ => {
            let tail: Vec<&str> = said.iter().rev().take(8).map(String::as_str).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Err(Error::new(format!(
                "pg_restore -j {jobs} failed: {}",
                tail.join("\n  ")
            )))
        }
    }
}
