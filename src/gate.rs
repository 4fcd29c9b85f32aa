//! The safety gate: the one place that knows about data safety.
//!
//! Every plan that deletes a volume passes through here, in this order:
//!
//! 1. show what will be lost: each volume's real name, size, and the
//!    services using it;
//! 2. refuse at once (exit 3) when nobody can confirm: no terminal, no `--yes`;
//! 3. take the safety backups: a `pg_dump` for the database volume, a tar
//!    archive for every other volume except disposable ones — a failure
//!    aborts with exit 4 before anything is deleted;
//! 4. confirm: type the project name at a terminal, or `--yes`;
//! 5. hand the executor a [`Ticket`] naming exactly the volumes shown.
//!
//! External volumes and volumes of other projects never get a ticket.
//! Commands do not decide any of this: they build a plan with
//! `RemoveVolumes` steps and call [`run`].

use std::collections::BTreeSet;

use crate::backup::{self, Taken};
use crate::commands::status::{VolumeState, volume_states};
use crate::context::Context;
use crate::error::{Error, Exit, Result};
use crate::plan::{self, Plan, interrupted};
use crate::recover::{Entry, Journal};
use crate::restore;
use crate::ui::{count, human_bytes};

/// Why the data is being deleted: names the safety backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Clean,
    Nuke,
    VolumeRm,
    Restore,
}

impl Reason {
    pub fn tag(self) -> &'static str {
        match self {
            Reason::Clean => "pre-clean",
            Reason::Nuke => "pre-nuke",
            Reason::VolumeRm => "pre-volume-rm",
            Reason::Restore => "pre-restore",
        }
    }

    /// The command that deletes for this reason.
    pub fn command(self) -> &'static str {
        match self {
            Reason::Clean => "clean",
            Reason::Nuke => "nuke",
            Reason::VolumeRm => "volumes rm",
            Reason::Restore => "restore",
        }
    }
}

/// Permission to delete exactly these volumes. Only [`run`] makes one.
#[derive(Debug)]
pub struct Ticket {
    volumes: BTreeSet<String>,
    databases: BTreeSet<String>,
}

impl Ticket {
    pub fn covers(&self, volume: &str) -> bool {
        self.volumes.contains(volume)
    }

    pub fn covers_database(&self, name: &str) -> bool {
        self.databases.contains(name)
    }

    #[cfg(test)]
    pub fn for_test(names: &[&str]) -> Ticket {
        Ticket {
            volumes: names.iter().map(|s| s.to_string()).collect(),
            databases: BTreeSet::new(),
        }
    }
}

/// What the gate will back up before a volume goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Safety {
    /// `pg_dump` of the project's database (the volume holds its data).
    Dump,
    /// A tar archive of the volume's files.
    Archive,
    /// Declared disposable: nothing to keep.
    Disposable,
}

/// A volume whose contents go.
struct Loss {
    state: VolumeState,
    safety: Safety,
}

/// A database that gets replaced (restore).
struct Replaced {
    name: String,
    current: Option<restore::Current>,
    with: String,
}

/// The journal of a gated plan: its command, safety backups, the volumes
/// it may delete and the databases a restore creates.
fn journal_entry(reason: Reason, plan: &Plan, ticket: &Ticket, taken: &[Taken]) -> Entry {
    let mut entry = Entry::new(reason.command());
    entry.safety_backups = taken.iter().map(|t| t.path.clone()).collect();
    entry.volumes = ticket.volumes.iter().cloned().collect();
    entry.restore = plan.steps.iter().find_map(|s| match &s.action {
        plan::Action::ReplaceDatabase(r) => Some(r.sides()),
        _ => None,
    });
    entry.volume_restore = plan.steps.iter().find_map(|s| match &s.action {
        plan::Action::RestoreVolume(r) => Some((r.volume.clone(), r.archive.path.clone())),
        _ => None,
    });
    entry
}

/// The one command that brings a deleted database back from its safety
/// backup `dump`.
pub fn bring_back(dump: &std::path::Path) -> String {
    format!("budgie start && budgie restore {}", dump.display())
}

/// A step failed after the safety backups: some containers or volumes may
/// be gone. Says where the data is and what brings the stack back (the
/// hint a step's own error may carry comes first).
fn failed_midway(e: Error, reason: Reason, taken: &[Taken]) -> Error {
    if reason == Reason::Restore || e.exit == Exit::Interrupted {
        return e;
    }
    let mut hint = e.hint.clone().map(|h| format!("{h}\n")).unwrap_or_default();
    hint.push_str("containers removed before the failure come back with: budgie start");
    if let Some(db) = taken.iter().find(|t| t.database.is_some()) {
        hint.push_str(&format!(
            "\nif the database volume is gone, its data is in {}: {}",
            db.path.display(),
            bring_back(&db.path)
        ));
    }
    e.hint(hint)
}

/// Options of a gated command.
#[derive(Debug, Clone, Copy)]
pub struct GateOptions {
    /// `--no-backup`: skip the backups, never the confirmation.
    pub no_backup: bool,
}

/// What the gate did: the exit status of the plan, and the safety backups
/// it took.
pub struct Passed {
    pub status: i32,
    pub backups: Vec<Taken>,
}

/// Takes `plan` through the gate and runs it.
pub fn run(ctx: &Context, plan: &Plan, reason: Reason, opts: GateOptions) -> Result<Passed> {
    let engine = ctx.engine()?;
    let names = plan.removed_volumes();
    let states = if names.is_empty() {
        Vec::new()
    } else {
        volume_states(ctx, engine)?
    };
    let mut losses = Vec::new();
    for name in &names {
        let state = states
            .iter()
            .find(|s| &s.name == name)
            .cloned()
            .ok_or_else(|| {
                Error::new(format!(
                    "internal safety check: volume {name} is not a named volume of project {}; nothing was deleted",
                    ctx.project.name
                ))
            })?;
        if state.external {
            return Err(Error::new(format!(
                "volume {} ({}) is external: budgie never deletes it; nothing was deleted",
                state.key, state.name
            )));
        }
        if let Some(p) = &state.other_project {
            return Err(Error::new(format!(
                "volume {} belongs to project {p}: budgie never deletes another project's volume; nothing was deleted",
                state.name
            )));
        }
        let safety = if state.database {
            Safety::Dump
        } else if state.disposable {
            Safety::Disposable
        } else {
            Safety::Archive
        };
        losses.push(Loss { state, safety });
    }

    let replaced = replaced_databases(ctx, plan)?;

    if ctx.global.dry_run {
        print_dry_run(ctx, plan, &losses, &replaced, reason, opts)?;
        return Ok(Passed {
            status: 0,
            backups: Vec::new(),
        });
    }
    if losses.is_empty() && replaced.is_empty() {
        // Nothing that holds data goes: no backup, no question.
        let status = plan::execute_gated(
            plan,
            &Ticket {
                volumes: BTreeSet::new(),
                databases: BTreeSet::new(),
            },
            &ctx.ui,
            &|s| ctx.redact(s),
        )?;
        return Ok(Passed {
            status,
            backups: Vec::new(),
        });
    }

    // 1. Show what will be lost.
    show(ctx, &losses, &replaced);

    // 2. Nobody to ask and no --yes: refuse before touching anything.
    if !ctx.global.yes && !ctx.ui.stdin_tty {
        return Err(Error::refused(
            "refusing to delete data without confirmation: no terminal to ask at, and no --yes; nothing was changed",
        )
        .hint("run it at a terminal, or pass --yes (the safety backup is still taken)"));
    }

    // 3. Safety backups.
    let taken = if opts.no_backup {
        // Part of what the question is about: shown even with -q when asking.
        let ui = if ctx.global.yes {
            ctx.ui.clone()
        } else {
            ctx.ui.unquiet()
        };
        ui.warn(
            "--no-backup: NO SAFETY BACKUP WILL BE TAKEN. What is deleted now is gone for good.",
        );
        Vec::new()
    } else {
        let mut taken = take_database_backups(ctx, &replaced, reason)?;
        taken.extend(take_backups(ctx, &losses, reason)?);
        taken
    };
    if interrupted() {
        return Err(Error::interrupted().context("stopped before deleting anything"));
    }

    // 4. Confirm.
    if !ctx.global.yes {
        let (question, expected) = match replaced.first() {
            Some(r) => (
                format!("Type the database name ({}) to replace it", r.name),
                r.name.clone(),
            ),
            None => (
                format!(
                    "Type the project name ({}) to delete {} volume{}",
                    ctx.project.name,
                    losses.len(),
                    if losses.len() == 1 { "" } else { "s" }
                ),
                ctx.project.name.clone(),
            ),
        };
        let ok = ctx.ui.confirm_typed(&question, &expected)?;
        if !ok {
            let mut hint = format!("to go ahead, type {expected} exactly, or pass --yes");
            if !taken.is_empty() {
                hint.push_str(&format!(
                    "\nthe safety backups just taken are kept in {}",
                    ctx.backup_dir().display()
                ));
            }
            return Err(Error::refused("not confirmed: nothing was deleted").hint(hint));
        }
    } else {
        ctx.ui.info("--yes given: not asking.");
    }
    if interrupted() {
        return Err(Error::interrupted().context("stopped before deleting anything"));
    }

    // 5. Execute with a ticket for exactly what was shown.
    let ticket = Ticket {
        volumes: losses.iter().map(|l| l.state.name.clone()).collect(),
        databases: replaced.iter().map(|r| r.name.clone()).collect(),
    };
    // The journal: what a budgie killed from here on leaves is found and
    // put right by the next one (crate::recover).
    let journal = Journal::begin(
        &ctx.backup_dir(),
        &ctx.project.name,
        &journal_entry(reason, plan, &ticket, &taken),
    )?;
    crate::recover::crash_point("gate:before-execute");
    let status = plan::execute_gated(plan, &ticket, &ctx.ui, &|s| ctx.redact(s))
        .map_err(|e| failed_midway(e, reason, &taken))?;
    journal.finish();
    if reason == Reason::Restore {
        if let Some(t) = taken.first() {
            ctx.ui.info(&format!(
                "The data from before the restore is saved in {}",
                t.path.display()
            ));
        }
    } else if let Some(db) = taken.iter().find(|t| t.database.is_some()) {
        ctx.ui.info(&format!(
            "The database is saved in {}. To bring it back: {}",
            db.path.display(),
            bring_back(&db.path)
        ));
    }
    Ok(Passed {
        status,
        backups: taken,
    })
}

/// The databases the plan replaces, with what they hold now.
fn replaced_databases(ctx: &Context, plan: &Plan) -> Result<Vec<Replaced>> {
    let engine = ctx.engine()?;
    let mut out = Vec::new();
    for step in &plan.steps {
        let crate::plan::Action::ReplaceDatabase(r) = &step.action else {
            continue;
        };
        let current = restore::describe_current(engine, &r.container, &r.db).ok();
        let with = format!(
            "{} ({}{})",
            r.source.path.display(),
            human_bytes(r.source.bytes),
            r.source
                .header
                .as_deref()
                .map(|h| format!(", {h}"))
                .unwrap_or_default()
        );
        out.push(Replaced {
            name: r.db.name.clone(),
            current,
            with,
        });
    }
    Ok(out)
}

fn show(ctx: &Context, losses: &[Loss], replaced: &[Replaced]) {
    // About to ask at a terminal: what is lost is shown even with -q.
    let asking = !ctx.global.yes && !ctx.global.dry_run && ctx.ui.stdin_tty;
    let loud = ctx.ui.unquiet();
    let ui = if asking { &loud } else { &ctx.ui };
    for r in replaced {
        let now = match &r.current {
            Some(c) => format!(
                "{}, {}",
                human_bytes(c.bytes),
                count(c.tables, "table", "tables")
            ),
            None => "size unknown".into(),
        };
        ui.heading(&format!(
            "This replaces database {} ({now}) of project {} with {}",
            r.name, ctx.project.name, r.with
        ));
    }
    if losses.is_empty() {
        return;
    }
    ui.heading(&format!(
        "This deletes {} volume{} of project {}:",
        losses.len(),
        if losses.len() == 1 { "" } else { "s" },
        ctx.project.name
    ));
    for l in losses {
        let v = &l.state;
        let size = v
            .size_bytes
            .map(human_bytes)
            .unwrap_or_else(|| "size unknown".into());
        let users = if v.services.is_empty() {
            "no service".to_string()
        } else {
            v.services.join(", ")
        };
        let what = match l.safety {
            Safety::Dump => match ctx.project.database() {
                Ok(db) => format!("PostgreSQL database \"{}\"", db.name),
                Err(_) => "PostgreSQL data".into(),
            },
            Safety::Archive => "files".into(),
            Safety::Disposable => "disposable files".into(),
        };
        ui.print(&format!("  - {} ({size}, used by {users}): {what}", v.name));
    }
}

/// The image to read a volume with on docker: a service that mounts it.
fn reader_image(ctx: &Context, v: &VolumeState) -> Option<String> {
    ctx.project
        .volume(&v.key)
        .and_then(|vol| ctx.project.image_for_volume(vol))
}

/// The error for a failed safety backup: exit 4, nothing changed (also
/// used by `deploy`, whose safety backup comes before anything is deployed).
pub fn backup_failed(what: &str, e: Error) -> Error {
    if e.exit == Exit::Interrupted {
        return e.context("stopped before changing anything");
    }
    Error {
        exit: Exit::BackupFailed,
        message: format!(
            "safety backup of {what} failed, so nothing was changed: {}",
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

fn take_database_backups(
    ctx: &Context,
    replaced: &[Replaced],
    reason: Reason,
) -> Result<Vec<Taken>> {
    let mut taken = Vec::new();
    for r in replaced {
        let t = crate::commands::backup::database_backup(ctx, Some(reason.tag()), None)
            .map_err(|e| backup_failed(&format!("database {}", r.name), e))?;
        ctx.ui.success(&format!(
            "Safety backup of database {}: {} ({})",
            r.name,
            t.path.display(),
            human_bytes(t.bytes)
        ));
        taken.push(t);
    }
    Ok(taken)
}

fn take_backups(ctx: &Context, losses: &[Loss], reason: Reason) -> Result<Vec<Taken>> {
    let engine = ctx.engine()?;
    let dir = ctx.backup_dir();
    let mut taken = Vec::new();
    for l in losses {
        if interrupted() {
            return Err(Error::interrupted().context("stopped before deleting anything"));
        }
        let fail = |e: Error| -> Error {
            if e.exit == Exit::Interrupted {
                return e.context("stopped before deleting anything");
            }
            Error {
                exit: Exit::BackupFailed,
                message: format!(
                    "safety backup of volume {} failed, so nothing was deleted: {}",
                    l.state.name, e.message
                ),
                hint: e.hint.or_else(|| {
                    Some("fix the cause and try again, or pass --no-backup to delete without a backup".into())
                }),
            }
        };
        match l.safety {
            Safety::Dump => {
                let t = crate::commands::backup::database_backup(ctx, Some(reason.tag()), None)
                    .map_err(fail)?;
                ctx.ui.success(&format!(
                    "Safety backup of database {}: {} ({})",
                    t.database.as_deref().unwrap_or("?"),
                    t.path.display(),
                    human_bytes(t.bytes)
                ));
                taken.push(t);
            }
            Safety::Archive => {
                let image = reader_image(ctx, &l.state);
                let bar = ctx
                    .ui
                    .progress_bytes(&format!("Archiving volume {}", l.state.name));
                let t = backup::archive_volume(
                    engine,
                    &l.state.name,
                    &l.state.key,
                    image.as_deref(),
                    &ctx.project.name,
                    &dir,
                    Some(reason.tag()),
                    &|n| bar.set(n),
                )
                .map_err(fail)?;
                bar.clear();
                ctx.ui.success(&format!(
                    "Safety archive of volume {}: {} ({})",
                    l.state.name,
                    t.path.display(),
                    human_bytes(t.bytes)
                ));
                taken.push(t);
            }
            Safety::Disposable => {
                ctx.ui.info(&format!(
                    "No backup of {}: marked disposable in x-budgie",
                    l.state.name
                ));
            }
        }
    }
    Ok(taken)
}

fn print_dry_run(
    ctx: &Context,
    plan: &Plan,
    losses: &[Loss],
    replaced: &[Replaced],
    reason: Reason,
    opts: GateOptions,
) -> Result<()> {
    let ui = &ctx.ui;
    ctx.print_plan(reason_command(reason), &Plan::new());
    if losses.is_empty() && replaced.is_empty() {
        ui.print("Nothing that holds data would be deleted.");
    } else {
        show(ctx, losses, replaced);
        ui.print("");
        if opts.no_backup {
            ui.print("Safety backups: NONE (--no-backup)");
        } else {
            ui.print("Safety backups, taken first (a failure stops everything, exit 4):");
            let engine = ctx.engine()?;
            for _ in replaced {
                print_dump(ctx, engine, reason)?;
            }
            for l in losses {
                match l.safety {
                    Safety::Dump => print_dump(ctx, engine, reason)?,
                    Safety::Archive => {
                        let image = reader_image(ctx, &l.state);
                        ui.print(&format!(
                            "  - archive of volume {} -> {}/{}_<timestamp>_{}.{}.tar.zst",
                            l.state.name,
                            ctx.backup_dir().display(),
                            ctx.project.name,
                            reason.tag(),
                            l.state.key
                        ));
                        match engine.volume_export(&l.state.name, image.as_deref()) {
                            Ok(cmd) => ui.print(&format!("    $ {}", ctx.redact(&cmd.to_string()))),
                            Err(e) => ui.print(&format!("    (cannot: {e})")),
                        }
                    }
                    Safety::Disposable => {
                        ui.print(&format!("  - none for {} (disposable)", l.state.name))
                    }
                }
            }
        }
        ui.print(if replaced.is_empty() {
            "Then a confirmation: type the project name, or --yes."
        } else {
            "Then a confirmation: type the database name, or --yes."
        });
    }
    ui.print("");
    ui.print("Then:");
    for line in plan.describe(&|s| ctx.redact(s)) {
        ui.print(&line);
    }
    Ok(())
}

/// The safety dump a dry run would take, with its command.
fn print_dump(ctx: &Context, engine: &crate::engine::Engine, reason: Reason) -> Result<()> {
    let db = ctx.project.database()?;
    let cmd = backup::dump_command(engine, &format!("<{} container>", db.service), db);
    ctx.ui.print(&format!(
        "  - pg_dump of database {} -> {}/{}_<timestamp>_{}.sql",
        db.name,
        ctx.backup_dir().display(),
        ctx.project.name,
        reason.tag()
    ));
    ctx.ui
        .print(&format!("    $ {}", ctx.redact(&cmd.to_string())));
    Ok(())
}

fn reason_command(reason: Reason) -> &'static str {
    match reason {
        Reason::Clean => "clean",
        Reason::Nuke => "nuke",
        Reason::VolumeRm => "volumes rm",
        Reason::Restore => "restore",
    }
}
