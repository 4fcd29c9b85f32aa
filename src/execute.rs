//! The executor: runs a plan's steps in order, stops at the first failure,
//! and says what each step did.
//!
//! It decides nothing about data safety. Before every step it asks a
//! [`Guard`] — the gate's ticket for a plan that deletes data, or
//! [`NoDeletions`] for any other plan — and after every completed step it
//! tells the guard, which is how the gate checks off the safety backups
//! before it lets a deletion run. A failed safety backup ends the plan
//! with exit 4; Ctrl-C ends it between steps (or inside a long stream) with
//! exit 130.

use std::time::Instant;

use crate::backup::store::DumpKind;
use crate::backup::{self, Taken};
use crate::compose::DbKind;
use crate::context::Context;
use crate::engine::Cmd;
use crate::error::{Error, Exit, Result};
use crate::interrupt::interrupted;
use crate::plan::{
    Action, Archive, ArchiveDir, Confirm, Dump, Plan, Quiet, ReplaceDatabase, RestoreDir,
    RestoreVolume, StartDatabase, Step, WriteSet,
};
use crate::restore::{self, Restored};
use crate::ui::{Ui, human_bytes};

/// Stands before every step of a plan.
pub trait Guard {
    /// Before a step runs: an error stops the plan, the step not run.
    fn allow(&mut self, step: &Step) -> Result<()>;
    /// After a step completed; an error stops the plan there.
    fn done(&mut self, step: &Step, done: &Done) -> Result<()>;
    /// When the plan fails: whether the containers it paused or stopped
    /// come back (the gate's answer is no once the deletion was
    /// confirmed: they are about to go anyway).
    fn resume_on_failure(&self) -> bool {
        true
    }
}

/// The guard of every plan that did not go through the gate: it lets no
/// step that deletes data run.
pub struct NoDeletions;

impl Guard for NoDeletions {
    fn allow(&mut self, step: &Step) -> Result<()> {
        if step.action.deletes_data() {
            return Err(Error::new(format!(
                "internal safety check: step \"{}\" deletes data and did not go through the safety gate; nothing was run",
                step.what
            )));
        }
        Ok(())
    }

    fn done(&mut self, _: &Step, _: &Done) -> Result<()> {
        Ok(())
    }
}

/// What a completed step produced.
pub enum Done {
    Nothing,
    /// An interactive command's exit status.
    Status(i32),
    Backup(Taken),
    Restored(Restored),
    /// A set's manifest was written.
    Set(std::path::PathBuf),
}

/// What a plan's run produced.
#[derive(Default)]
pub struct Ran {
    /// The exit status to end with (an interactive command's).
    pub status: i32,
    /// The backups written, in order.
    pub backups: Vec<Taken>,
    /// The databases restored, in order.
    pub restored: Vec<Restored>,
    /// The manifest of the set the backups make, if the plan wrote one.
    pub set: Option<std::path::PathBuf>,
}

/// With `--dry-run`, prints the plan and stops; otherwise runs it (it must
/// not delete data: such plans go through the gate). Returns the exit
/// status to end with.
pub fn run_plan(ctx: &Context, title: &str, plan: &Plan) -> Result<i32> {
    if ctx.global.dry_run {
        print_plan(ctx, title, plan);
        return Ok(0);
    }
    let mut ran = run(ctx, &plan.prepare, &mut NoDeletions)?;
    if ran.status == 0 {
        ran = run(ctx, &plan.steps, &mut NoDeletions)?;
    }
    Ok(ran.status)
}

/// The plan as `--dry-run` shows it: a heading, then every step.
pub fn print_plan(ctx: &Context, title: &str, plan: &Plan) {
    print_heading(ctx, title);
    for line in plan.describe() {
        ctx.ui.print(&line);
    }
}

/// The first line of a dry run.
pub fn print_heading(ctx: &Context, title: &str) {
    ctx.ui.heading(&format!(
        "Plan for `budgie {title}` on project {} (dry run: nothing will be run)",
        ctx.project.name
    ));
}

/// Runs `steps` in order, each only when `guard` allows it. When a step
/// fails (or Ctrl-C stops it) after the plan paused or stopped containers,
/// they come back — unless the guard says no — and the error says so.
pub fn run(ctx: &Context, steps: &[Step], guard: &mut dyn Guard) -> Result<Ran> {
    let mut still: Vec<&Quiet> = Vec::new();
    let result = run_steps(ctx, steps, guard, &mut still);
    match result {
        Err(e) if !still.is_empty() && guard.resume_on_failure() => Err(bring_back(ctx, &still, e)),
        other => other,
    }
}

/// Unpauses or starts again what a failed plan left still, newest first;
/// the error's hint says what came back, or the command that brings it.
fn bring_back(ctx: &Context, still: &[&Quiet], e: Error) -> Error {
    let mut said = Vec::new();
    for q in still.iter().rev() {
        let cmd = q.resume_command();
        ctx.ui.debug(&format!("$ {cmd}"));
        let names = q.services.join(", ");
        match cmd.output() {
            Ok(out) if out.status.success() => said.push(format!(
                "{names} {} for the backup: running again",
                q.done_word()
            )),
            Ok(out) => said.push(format!(
                "{names} {} for the backup could not be brought back ({}): run {cmd}",
                q.done_word(),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(err) => said.push(format!(
                "{names} {} for the backup could not be brought back ({}): run {cmd}",
                q.done_word(),
                err.message
            )),
        }
    }
    let hint = match &e.hint {
        Some(h) => format!("{h}\n{}", said.join("\n")),
        None => said.join("\n"),
    };
    e.hint(hint)
}

fn run_steps<'a>(
    ctx: &Context,
    steps: &'a [Step],
    guard: &mut dyn Guard,
    still: &mut Vec<&'a Quiet>,
) -> Result<Ran> {
    let mut ran = Ran::default();
    let mut deleted = false;
    for step in steps {
        if interrupted() {
            let e = Error::interrupted();
            return Err(if deleted {
                e
            } else {
                e.context("stopped before deleting anything")
            });
        }
        guard.allow(step)?;
        deleted |= step.action.deletes_data();
        ctx.ui.debug(&format!("step: {}", step.what));
        let done = match &step.action {
            // The one step that needs what the steps before it wrote.
            Action::WriteSet(w) => write_set(ctx, w, &ran.backups),
            _ => run_step(ctx, step),
        }
        .map_err(|e| {
            if step.action.is_safety_backup() {
                safety_backup_failed(step, e)
            } else {
                already_restored(&ran.restored, e)
            }
        })?;
        match &step.action {
            Action::Quiet(q) => still.push(q),
            Action::Resume(q) => still.retain(|s| s.containers != q.containers),
            _ => {}
        }
        guard.done(step, &done)?;
        match done {
            Done::Nothing => {}
            Done::Status(status) => {
                ran.status = status;
                if interrupted() || status == 130 {
                    ran.status = 130;
                    return Ok(ran);
                }
            }
            Done::Backup(t) => ran.backups.push(t),
            Done::Restored(r) => ran.restored.push(r),
            Done::Set(p) => ran.set = Some(p),
        }
    }
    Ok(ran)
}

fn run_step(ctx: &Context, step: &Step) -> Result<Done> {
    let ui = &ctx.ui;
    match &step.action {
        Action::Run(cmd) => run_cmd(ctx, &step.what, cmd).map(|()| Done::Nothing),
        Action::RemoveVolumes { engine, names } => {
            run_cmd(ctx, &step.what, &engine.volume_rm(names)).map(|()| Done::Nothing)
        }
        Action::RemoveImages { engine, references } => {
            for r in references {
                let c = engine.image_rm(r);
                ui.debug(&format!("$ {c}"));
                let out = c.output()?;
                if out.status.success() {
                    ui.success(&format!("Removed image {r}"));
                } else {
                    let why = String::from_utf8_lossy(&out.stderr);
                    let why = why.trim().lines().last().unwrap_or("").to_string();
                    ui.info(&format!("Kept image {r}: {why}"));
                }
            }
            Ok(Done::Nothing)
        }
        Action::StartDatabase(s) => start_database(ctx, &step.what, s).map(|_| Done::Nothing),
        Action::WaitForDatabase(w) => timed(ui, &step.what, |_| w.run()).map(|()| Done::Nothing),
        Action::WaitForServices(w) => timed(ui, &step.what, |spinner| {
            w.run(&|now| spinner.set_message(&format!("{}: {now}", step.what)))
        })
        .map(|()| Done::Nothing),
        Action::Dump(d) => dump(ctx, d).map(Done::Backup),
        Action::Archive(a) => archive(ctx, a).map(Done::Backup),
        Action::Snapshot(t) => crate::snapshots::safety_snapshot(ctx, t).map(|()| Done::Nothing),
        Action::Confirm(c) => confirm(ui, c).map(|()| Done::Nothing),
        Action::WriteSet(_) => Err(Error::new(
            "internal error: a set's manifest is written by the plan's run",
        )),
        Action::Quiet(q) => run_cmd(ctx, &step.what, &q.command()).map(|()| Done::Nothing),
        Action::Resume(q) => run_cmd(ctx, &step.what, &q.resume_command()).map(|()| Done::Nothing),
        Action::ReplaceDatabase(r) => replace_database(ctx, r).map(Done::Restored),
        Action::RestoreVolume(r) => restore_volume(ui, r).map(|()| Done::Nothing),
        Action::ArchiveDir(a) => archive_dir(ui, a).map(Done::Backup),
        Action::RestoreDir(r) => restore_dir(ui, r).map(|()| Done::Nothing),
        Action::Interactive(cmd) => {
            ui.debug(&format!("$ {cmd}"));
            let out = cmd
                .expression()
                .unchecked()
                .run()
                .map_err(|e| cmd.spawn_error(e))?;
            Ok(Done::Status(exit_status(&out.status)))
        }
    }
}

/// Writes the manifest of the set `taken` makes.
fn write_set(ctx: &Context, w: &WriteSet, taken: &[Taken]) -> Result<Done> {
    let path = backup::set::write(&w.target, taken)?;
    ctx.ui.success(&format!(
        "Backup set of {}: {}",
        crate::ui::count(taken.len() as u64, "file", "files"),
        path.display()
    ));
    Ok(Done::Set(path))
}

/// Runs `wait` under a spinner; says how long it took.
fn timed(ui: &Ui, what: &str, wait: impl FnOnce(&crate::ui::Spinner) -> Result<()>) -> Result<()> {
    let started = Instant::now();
    let spinner = ui.spinner(what);
    let result = wait(&spinner);
    spinner.clear();
    result?;
    ui.success(&format!("{what} {}", seconds(ui, started)));
    Ok(())
}

fn seconds(ui: &Ui, since: Instant) -> String {
    ui.dim(&format!("({:.1}s)", since.elapsed().as_secs_f64()))
}

/// Starts the database service unless it runs, and waits until it answers.
/// Returns whether it started it.
fn start_database(ctx: &Context, what: &str, s: &StartDatabase) -> Result<bool> {
    let engine = ctx.engine()?;
    if engine
        .running_container_id(&ctx.project.name, &s.service)?
        .is_some()
    {
        ctx.ui
            .debug(&format!("service {} is running already", s.service));
        return Ok(false);
    }
    run_cmd(ctx, what, &s.up)?;
    timed(
        &ctx.ui,
        &format!(
            "Wait for the database ({}) to accept connections",
            s.service
        ),
        |_| s.wait.run(),
    )?;
    Ok(true)
}

/// Stops a service budgie started only for a backup, whatever happened.
struct StopAgain<'a> {
    ctx: &'a Context,
    start: &'a StartDatabase,
}

impl Drop for StopAgain<'_> {
    fn drop(&mut self) {
        let what = format!(
            "Stop service {} again (containers removed, volumes kept)",
            self.start.service
        );
        if let Err(e) = run_cmd(self.ctx, &what, &self.start.stop) {
            self.ctx.ui.warn(&format!(
                "could not stop {} again: {}",
                self.start.service, e.message
            ));
        }
    }
}

/// Dumps a database — in the container the plan found, or, when the
/// service was not running, after starting it for the dump (stopped again
/// after, whatever happened).
fn dump(ctx: &Context, d: &Dump) -> Result<Taken> {
    if d.db.name.is_empty() && !d.db.all_databases() {
        return Err(Error::new(format!(
            "service {} names no database to dump",
            d.db.service
        ))
        .hint(format!(
            "set POSTGRES_DB in its environment, or x-budgie.databases.{}.name",
            d.db.service
        )));
    }
    let mut _stop_again = None;
    let container = match (&d.container, &d.start) {
        (Some(id), _) => id.clone(),
        (None, Some(start)) => {
            ctx.ui.info(&format!(
                "The database service {} is not running: starting it for the backup",
                d.db.service
            ));
            // Set before starting, so a failed start is stopped again too.
            _stop_again = Some(StopAgain { ctx, start });
            start_database(
                ctx,
                &format!("Start the database service {} only", d.db.service),
                start,
            )?;
            d.engine
                .running_container_id(&d.project, &d.db.service)?
                .ok_or_else(|| {
                    Error::new(format!(
                        "service {} of project {} is not running",
                        d.db.service, d.project
                    ))
                })?
        }
        (None, None) => {
            return Err(Error::new(format!(
                "internal error: no container and no way to start service {}",
                d.db.service
            )));
        }
    };
    let kind = d.kind();
    // The directory format: pg_dump writes in the container first, then
    // the directory streams out as one tar (removed when `_dumped` drops).
    let _dumped = if kind == DumpKind::DirectoryTar {
        Some(dump_directory(ctx, d, &container)?)
    } else {
        None
    };
    let bar = ctx
        .ui
        .progress_bytes(&format!("Dumping database {}", d.db.shown_name()));
    let cmd = match &_dumped {
        Some(dumped) => dumped.copy_out(),
        None => d.command(&container),
    };
    ctx.ui.debug(&format!("$ {cmd}"));
    let of = backup::DumpOf {
        database: &d.db.name,
        service: &d.db.service,
        named: d.named,
        content: d.content(),
    };
    let mut taken = backup::dump_database(&cmd, &of, &d.target, kind, &|n| bar.set(n));
    if let Err(e) = &taken
        && let Some(again) =
            crate::databases::dump_command_again(&d.engine, &container, &d.db, &e.message)
    {
        ctx.ui.debug(&format!("$ {again}"));
        taken = backup::dump_database(&again, &of, &d.target, kind, &|n| bar.set(n));
    }
    bar.clear();
    // The dump tool may notice the server's death before the engine kills
    // it too, and then exits 1 with its own words: say what happened.
    let taken = taken.map_err(|e| {
        if !e.message.contains("stopped or killed") && !d.engine.is_running(&container) {
            let mut e = e;
            e.message
                .push_str("\n  the container was stopped or killed while the dump ran");
            e
        } else {
            e
        }
    })?;
    if d.safety {
        ctx.ui.success(&format!(
            "Safety backup of database {}: {} ({})",
            d.db.shown_name(),
            taken.path.display(),
            human_bytes(taken.bytes)
        ));
    } else {
        backup_complete(&ctx.ui, &taken);
    }
    Ok(taken)
}

/// `pg_dump -Fd -j N` into a directory in the database container, for
/// [`dump`] to stream out.
fn dump_directory<'a>(
    ctx: &Context,
    d: &'a Dump,
    container: &str,
) -> Result<crate::databases::pg_directory::Dumped<'a>> {
    let jobs = crate::restore::staged::jobs(None);
    let stem = d.file_name();
    let stem = stem.strip_suffix(".dir.tar").unwrap_or(&stem);
    let spinner = ctx.ui.spinner(&format!(
        "Dumping database {} (pg_dump -Fd -j {jobs})",
        d.db.shown_name()
    ));
    ctx.ui.debug(&format!(
        "$ {}",
        crate::databases::pg_directory::dump_command(&d.engine, container, &d.db, stem, jobs)
    ));
    let dumped =
        crate::databases::pg_directory::Dumped::make(&d.engine, container, &d.db, stem, jobs);
    spinner.clear();
    dumped
}

/// Archives a volume's files.
fn archive(ctx: &Context, a: &Archive) -> Result<Taken> {
    let io = a.io.as_ref().map_err(|why| Error::new(why.clone()))?;
    let bar = ctx
        .ui
        .progress_bytes(&format!("Archiving volume {}", a.volume));
    let taken = io.reading(|cmd| {
        ctx.ui.debug(&format!("$ {cmd}"));
        backup::archive_volume(cmd, &a.key, &a.target, &|n| bar.set(n))
    });
    bar.clear();
    let mut taken = taken.map_err(|e| e.context(format!("archive of volume {}", a.volume)))?;
    taken.writers = a.writers.clone();
    let meanwhile = a
        .writers
        .as_deref()
        .map(|w| format!("; {w}"))
        .unwrap_or_default();
    if a.safety {
        ctx.ui.success(&format!(
            "Safety archive of volume {}: {} ({}{meanwhile})",
            a.volume,
            taken.path.display(),
            human_bytes(taken.bytes)
        ));
    } else {
        ctx.ui.success(&format!(
            "Backup complete: {} ({}, {:.1}s{meanwhile})",
            taken.path.display(),
            human_bytes(taken.bytes),
            taken.seconds
        ));
    }
    Ok(taken)
}

/// Archives a host directory's files.
fn archive_dir(ui: &Ui, a: &ArchiveDir) -> Result<Taken> {
    let bar = ui.progress_bytes(&format!("Archiving {}", a.path.display()));
    let taken = backup::dirs::archive_dir(&a.path, &a.key, &a.target, &|n| bar.set(n));
    bar.clear();
    let mut taken = taken?;
    taken.writers = a.writers.clone();
    let meanwhile = a
        .writers
        .as_deref()
        .map(|w| format!("; {w}"))
        .unwrap_or_default();
    if a.safety {
        ui.success(&format!(
            "Safety archive of host directory {}: {} ({}{meanwhile})",
            a.path.display(),
            taken.path.display(),
            human_bytes(taken.bytes)
        ));
    } else {
        ui.success(&format!(
            "Backup complete: {} ({}, {:.1}s{meanwhile})",
            taken.path.display(),
            human_bytes(taken.bytes),
            taken.seconds
        ));
    }
    Ok(taken)
}

fn restore_dir(ui: &Ui, r: &RestoreDir) -> Result<()> {
    let bar = ui.progress_bytes(&format!("Restoring {}", r.path.display()));
    bar.set_length(r.archive.bytes);
    let done = restore::dir::restore_dir(&r.path, &r.archive, &r.stamp, &|n| bar.set(n));
    bar.clear();
    done.map_err(|e| e.context(format!("restoring host directory {}", r.path.display())))?;
    ui.success(&format!(
        "Restored host directory {} from {}",
        r.path.display(),
        r.archive.shown()
    ));
    Ok(())
}

fn backup_complete(ui: &Ui, t: &Taken) {
    ui.success(&format!(
        "Backup complete: {} ({}, {:.1}s)",
        t.path.display(),
        human_bytes(t.bytes),
        t.seconds
    ));
}

/// The gate's question: the typed answer must be exactly the expected one.
fn confirm(ui: &Ui, c: &Confirm) -> Result<()> {
    if c.yes {
        ui.info("--yes given: not asking.");
        return Ok(());
    }
    if !ui.confirm_typed(&c.question, &c.expected)? {
        return Err(Error::refused("not confirmed: nothing was deleted").hint(c.hint.clone()));
    }
    Ok(())
}

fn replace_database(ctx: &Context, r: &ReplaceDatabase) -> Result<Restored> {
    let container = r
        .engine
        .known_running_id(&r.project, &r.db.service)?
        .ok_or_else(|| {
            Error::new(format!(
                "the database container (service {}) is not running; nothing was changed",
                r.db.service
            ))
            .hint(format!("start it: budgie start {}", r.db.service))
        })?;
    let bar = ctx.ui.progress_bytes(&format!(
        "Loading {} into a scratch database",
        r.source.shown()
    ));
    bar.set_length(r.source.bytes);
    let restore = match r.db.kind {
        DbKind::Postgres => restore::restore,
        DbKind::Mariadb => restore::mariadb::restore,
    };
    let done = restore(
        &r.engine,
        &container,
        &r.db,
        &r.source,
        r.keep_previous,
        &r.stamp,
        &|n| bar.set(n),
    );
    bar.clear();
    let done = done?;
    ctx.ui.success(&format!(
        "Restored database {} from {}: {} ({:.1}s)",
        done.database,
        done.file,
        crate::ui::count(done.tables, "table", "tables"),
        done.seconds
    ));
    Ok(done)
}

fn restore_volume(ui: &Ui, r: &RestoreVolume) -> Result<()> {
    let bar = ui.progress_bytes(&format!("Restoring volume {}", r.volume));
    bar.set_length(r.archive.bytes);
    let done = restore::volume::restore_volume(&r.io, &r.archive, &|n| bar.set(n));
    bar.clear();
    done.map_err(|e| e.context(format!("restoring volume {}", r.volume)))?;
    ui.success(&format!(
        "Restored volume {} from {}",
        r.volume,
        r.archive.shown()
    ));
    Ok(())
}

/// A step failed after other databases of the plan were restored (a set,
/// a dump of several databases): its "nothing was changed" is about its
/// own database only, so the error says which ones were replaced.
fn already_restored(restored: &[Restored], mut e: Error) -> Error {
    if restored.is_empty() {
        return e;
    }
    let names: Vec<&str> = restored.iter().map(|r| r.database.as_str()).collect();
    e.message.push_str(&format!(
        "\n  restored before this failed, and kept: database {}",
        names.join(", ")
    ));
    e
}

/// A failed safety backup: exit 4, and nothing was changed (it runs before
/// anything that changes data).
fn safety_backup_failed(step: &Step, e: Error) -> Error {
    if e.exit == Exit::Interrupted {
        return e.context("stopped before changing anything");
    }
    let what = match &step.action {
        Action::Dump(d) => format!("database {}", d.db.shown_name()),
        Action::Archive(a) => format!("volume {}", a.volume),
        _ => step.what.clone(),
    };
    Error {
        exit: Exit::BackupFailed,
        message: format!(
            "safety backup of {what} failed, so nothing was deleted or changed: {}",
            e.message
        ),
        hint: e.hint.or_else(|| {
            Some(
                "fix the cause and try again, or pass --no-backup to go ahead without a backup"
                    .into(),
            )
        }),
    }
}

/// Runs one engine command under a spinner; its output is shown with -v
/// (secrets redacted) or, its last lines, when it fails.
fn run_cmd(ctx: &Context, what: &str, cmd: &Cmd) -> Result<()> {
    // The tool's own output may echo a secret: it is shown redacted.
    let (ui, redact) = (&ctx.ui, |s: &str| ctx.redact(s));
    ui.debug(&format!("$ {cmd}"));
    let started = Instant::now();
    let spinner = ui.spinner(what);
    let expr = cmd.expression().stdin_null().unchecked();
    let out = if ui.verbose > 0 {
        stream_redacted(&expr, ui, &redact)
    } else {
        expr.stdout_capture().stderr_capture().run()
    }
    .map_err(|e| {
        spinner.clear();
        let e = cmd.spawn_error(e);
        Error {
            message: redact(&format!("{what}: {}", e.message)),
            ..e
        }
    })?;
    spinner.clear();
    if interrupted() {
        return Err(Error::interrupted());
    }
    if !out.status.success() {
        let e = cmd.failure(&out);
        // Only the tool's last lines are in the message; -v shows it all.
        let hint = match (&e.hint, ui.verbose) {
            (Some(h), _) => Some(h.clone()),
            (None, 0) => Some("see the tool's whole output: run the same command with -v".into()),
            (None, _) => None,
        };
        return Err(Error {
            message: redact(&format!("{what}: {}", e.message)),
            hint,
            ..e
        });
    }
    ui.success(&format!("{what} {}", seconds(ui, started)));
    Ok(())
}

/// Runs `expr` showing the tool's own output (stdout and stderr, to stderr:
/// human messages only go there) a line at a time, secrets redacted: some
/// compose tools echo the container command lines they run, environment
/// values included (podman-compose 1.0 prints `podman create -e
/// POSTGRES_PASSWORD=...`). The output returned holds only the status.
fn stream_redacted(
    expr: &duct::Expression,
    ui: &Ui,
    redact: &dyn Fn(&str) -> String,
) -> std::io::Result<std::process::Output> {
    use std::io::BufRead;
    let handle = expr.stderr_to_stdout().reader()?;
    let mut reader = std::io::BufReader::new(&handle);
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line)? > 0 {
        let text = String::from_utf8_lossy(&line);
        ui.print(&redact(text.trim_end_matches(['\n', '\r'])));
        line.clear();
    }
    let status = match handle.try_wait()? {
        Some(out) => out.status,
        None => return Err(std::io::Error::other("the command did not finish")),
    };
    Ok(std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: Vec::new(),
    })
}

/// A child's exit status as a shell would report it (128+signal when killed).
pub fn exit_status(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        _ => 1,
    }
}
