//! A dump archive copied into the database container, for the pg_restore
//! runs that need a file they can seek in or a directory: a parallel
//! restore (`pg_restore -j N`) of a custom-format archive, and any
//! directory-format archive (`pg_dump -Fd`). The copy goes through the
//! engine (`cp`), lives at `/tmp/<scratch database>` in the container, and
//! is removed when the load ends, however it ends; after a crash, crash
//! recovery removes it with the scratch database it belongs to
//! ([`removal`]).
//!
//! Parallel restore gives up `--single-transaction` (pg_restore refuses
//! both); it stays all-or-nothing because the load goes into the scratch
//! database and only the swap makes it live.

use std::io::{BufRead, BufReader};
use std::path::Path;

use super::source::Source;
use crate::compose::Database;
use crate::databases::postgres::secret_env;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::interrupt::interrupted;

/// Where the copy for the scratch database `scratch` lives in the
/// container.
fn path_for(scratch: &str) -> String {
    format!("/tmp/{scratch}")
}

/// The command that removes the copy for the scratch database `scratch`
/// (crash recovery runs it for every interrupted restore: no copy, no
/// harm).
pub fn removal(engine: &Engine, container: &str, scratch: &str) -> crate::engine::Cmd {
    engine.exec(
        container,
        false,
        false,
        &[],
        &["rm", "-rf", &path_for(scratch)],
    )
}

/// The copy in the container; removed when dropped.
pub struct Staged<'a> {
    engine: &'a Engine,
    container: String,
    scratch: String,
    pub path: String,
    /// Its removal was started already ([`Staged::remove_meanwhile`]).
    removing: bool,
}

/// Removals started by [`Staged::remove_meanwhile`], waited for by
/// [`wait_for_removals`].
static REMOVALS: std::sync::Mutex<Vec<duct::Handle>> = std::sync::Mutex::new(Vec::new());

/// Waits until every removal started meanwhile has ended (before budgie
/// reports the restore done).
pub fn wait_for_removals() {
    let pending = REMOVALS
        .lock()
        .map(|mut r| std::mem::take(&mut *r))
        .unwrap_or_default();
    for handle in pending {
        let _ = handle.wait();
    }
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
            scratch: scratch.to_string(),
            path: path_for(scratch),
            removing: false,
        };
        // The path is new (the scratch database's name holds the stamp).
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

    /// Unpacks a directory-format archive kept as one tar (`source`, which
    /// was checked) into the container, for the scratch database
    /// `scratch`: the tar streams into `/tmp/<scratch>` (made first), and
    /// the archive is the directory it holds.
    pub fn unpack(
        engine: &'a Engine,
        container: &str,
        source: &Source,
        scratch: &str,
    ) -> Result<Staged<'a>> {
        let top = top_directory(&source.path)?;
        let parent = path_for(scratch);
        let staged = Staged {
            engine,
            container: container.to_string(),
            scratch: scratch.to_string(),
            path: format!("{parent}/{top}"),
            removing: false,
        };
        let failed = |e: Error| {
            e.context(format!(
                "copying {} into the database container failed, nothing was changed",
                source.path.display()
            ))
        };
        engine
            .exec(container, false, false, &[], &["mkdir", "-p", &parent])
            .read()
            .map_err(failed)?;
        super::feed::feed(
            &engine.copy_tar_into(container, &parent),
            source,
            true,
            false,
            &|_| {},
        )
        .map_err(failed)?;
        Ok(staged)
    }

    /// Starts the removal and returns at once: it runs while the restore
    /// checks and swaps (an engine call saved from the wall time);
    /// [`wait_for_removals`] waits for it.
    pub fn remove_meanwhile(mut self) {
        if let Ok(handle) = removal(self.engine, &self.container, &self.scratch)
            .expression()
            .stdin_null()
            .stdout_null()
            .stderr_null()
            .unchecked()
            .start()
            && let Ok(mut pending) = REMOVALS.lock()
        {
            pending.push(handle);
            self.removing = true;
        }
    }

    fn remove(&self) {
        let _ = removal(self.engine, &self.container, &self.scratch).output();
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        if !self.removing {
            self.remove();
        }
    }
}

/// The directory a tar holds (the first component of its first member
/// that names one; `./` is skipped).
fn top_directory(path: &Path) -> Result<String> {
    let cannot = |e: std::io::Error| Error::new(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut archive = tar::Archive::new(file);
    for member in archive.entries().map_err(cannot)? {
        let member = member.map_err(cannot)?;
        let name = member.path().map_err(cannot)?;
        let top = name.components().find_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        });
        if let Some(top) = top {
            return Ok(top);
        }
    }
    Err(Error::new(format!("{} holds no directory", path.display())))
}

/// How many parallel jobs a restore gets: `asked`, else the CPUs of this
/// machine, which runs the engine and so the container (asking the
/// container, `nproc`, costs an engine call), at most 8; at least 1.
pub fn jobs(asked: Option<u32>) -> u32 {
    asked
        .or_else(|| {
            std::thread::available_parallelism()
                .ok()
                .and_then(|n| u32::try_from(n.get()).ok())
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
            crate::ui::progress_detail(&format!("{}/{total} items", done.min(total)));
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
