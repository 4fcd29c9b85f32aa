//! The safety gate: the one place that knows about data safety.
//!
//! Every plan that deletes a volume or replaces a database passes through
//! here. The gate:
//!
//! 1. finds what the plan puts at stake — each volume's real name, size and
//!    users, the database a restore replaces — and refuses outright to
//!    delete an external volume or another project's;
//! 2. puts its own steps at the head of the plan: a safety dump of the
//!    database (for its volume, or for the database a restore replaces), a
//!    tar archive of every other volume except disposable ones, and the
//!    confirmation — so that `--dry-run` shows them with the exact file
//!    names they write;
//! 3. shows what will be lost, and refuses at once (exit 3) when nobody can
//!    confirm: no terminal, no `--yes`;
//! 4. runs the plan with a [`Ticket`] that checks off each safety backup as
//!    it completes and lets a deleting step run only when every volume and
//!    database it touches was shown, saved (or waived by `--no-backup` or
//!    `disposable`) and confirmed; a failed safety backup stops the plan
//!    with exit 4 before anything is deleted;
//! 5. writes the journal once confirmed, so that a budgie killed from there
//!    on leaves a record for the next one (`crate::recover`).
//!
//! Commands do not decide any of this: they build a plan with deleting
//! steps and call [`run`].

use std::collections::BTreeSet;

use crate::backup::Taken;
use crate::compose::{Database, Volume};
use crate::context::Context;
use crate::databases::postgres;
use crate::error::{Error, Exit, Result};
use crate::execute::{self, Done, Guard, NoDeletions, Ran};
use crate::inventory::{self, HostDir, VolumeState};
use crate::journal::{Entry, Journal};
use crate::plan::{Action, Confirm, Plan, Reason, Step, Stillness};
use crate::steps;
use crate::ui::{count, human_bytes};

mod dry_run;
mod encrypted;
use dry_run::print_dry_run;

/// Options of a gated command.
#[derive(Debug, Clone, Copy, Default)]
pub struct GateOptions {
    /// `--no-backup`: skip the backups, never the confirmation.
    pub no_backup: bool,
    /// The database a restore replaces is saved as a snapshot in the
    /// cluster (`snapshot restore`), not dumped to a file.
    pub safety_snapshot: bool,
}

/// What the gate backs up before a volume goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Safety {
    /// A dump of the project's database (the volume holds its data).
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
    db: Database,
    name: String,
    current: Option<postgres::Current>,
    with: String,
}

/// A host directory whose contents are replaced (`restore --set`).
struct DirLoss {
    dir: HostDir,
}

/// What a plan puts at stake.
struct AtStake {
    losses: Vec<Loss>,
    replaced: Vec<Replaced>,
    dirs: Vec<DirLoss>,
}

impl AtStake {
    fn is_empty(&self) -> bool {
        self.losses.is_empty() && self.replaced.is_empty() && self.dirs.is_empty()
    }
}

/// Takes `plan` through the gate and runs it (with `--dry-run`, shows it).
pub fn run(ctx: &Context, plan: Plan, reason: Reason, opts: GateOptions) -> Result<Ran> {
    if !ctx.global.dry_run {
        execute::run(ctx, &plan.prepare, &mut NoDeletions)?;
    }
    let stake = at_stake(ctx, &plan)?;
    let gated = protect(ctx, plan, &stake, reason, opts)?;
    if ctx.global.dry_run {
        print_dry_run(ctx, reason, &gated, &stake, opts);
        return Ok(Ran::default());
    }
    let mut ticket = Ticket::new(ctx, reason, &gated, &stake, opts);
    if stake.is_empty() {
        // Nothing that holds data goes: no backup, no question.
        return execute::run(ctx, &gated.steps, &mut ticket);
    }
    show(ctx, &stake);
    encrypted::readable_safety_backup(ctx, opts)?;
    // Nobody to ask and no --yes: refuse before touching anything.
    if !ctx.global.yes && !ctx.ui.stdin_tty {
        return Err(Error::refused(
            "refusing to delete data without confirmation: no terminal to ask at, and no --yes; nothing was changed",
        )
        .hint("run it at a terminal, or pass --yes (the safety backup is still taken)"));
    }
    if opts.no_backup {
        // Part of what the question is about: shown even with -q when asking.
        let ui = if ctx.global.yes {
            ctx.ui.clone()
        } else {
            ctx.ui.unquiet()
        };
        ui.warn(
            "--no-backup: NO SAFETY BACKUP WILL BE TAKEN. What is deleted now is gone for good.",
        );
    }
    let ran = execute::run(ctx, &gated.steps, &mut ticket)
        .map_err(|e| failed_midway(e, reason, &ticket.taken))?;
    ticket.finish();
    say_where_the_data_is(ctx, reason, &ran);
    Ok(ran)
}

/// The volumes and databases `plan` deletes or replaces, as they are now.
fn at_stake(ctx: &Context, plan: &Plan) -> Result<AtStake> {
    let names = plan.removed_volumes();
    let states = if names.is_empty() {
        Vec::new()
    } else {
        inventory::volume_states(ctx.engine()?, &ctx.project, &ctx.ui)?
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
    Ok(AtStake {
        losses,
        replaced: replaced_databases(plan)?,
        dirs: replaced_dirs(ctx, plan)?,
    })
}

/// The host directories the plan replaces, as they are now.
fn replaced_dirs(ctx: &Context, plan: &Plan) -> Result<Vec<DirLoss>> {
    let names: Vec<String> = plan.all().filter_map(|s| s.action.replaced_dir()).collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let known = inventory::host_dirs(&ctx.project, ctx.engine_here());
    names
        .iter()
        .map(|name| {
            let dir = known.iter().find(|d| &d.path == name).cloned();
            dir.map(|dir| DirLoss { dir }).ok_or_else(|| {
                Error::new(format!(
                    "internal safety check: {name} is not a host directory the services of project {} write to; nothing was changed",
                    ctx.project.name
                ))
            })
        })
        .collect()
}

/// The databases the plan replaces, with what they hold now.
fn replaced_databases(plan: &Plan) -> Result<Vec<Replaced>> {
    let mut out = Vec::new();
    for step in plan.all() {
        let Action::ReplaceDatabase(r) = &step.action else {
            continue;
        };
        let current = r
            .engine
            .known_running_id(&r.project, &r.db.service)?
            .and_then(|c| crate::databases::describe_current(&r.engine, &c, &r.db));
        let with = format!(
            "{} ({}{})",
            r.source.shown(),
            human_bytes(r.source.bytes),
            r.source
                .header
                .as_deref()
                .map(|h| format!(", {h}"))
                .unwrap_or_default()
        );
        out.push(Replaced {
            db: r.db.clone(),
            name: r.db.name.clone(),
            current,
            with,
        });
    }
    Ok(out)
}

/// `plan` with the gate's steps at the head of its steps: the safety
/// backups (unless `--no-backup`), all stamped alike, then the
/// confirmation.
fn protect(
    ctx: &Context,
    mut plan: Plan,
    stake: &AtStake,
    reason: Reason,
    opts: GateOptions,
) -> Result<Plan> {
    if stake.is_empty() {
        return Ok(plan);
    }
    let mut head = Vec::new();
    if !opts.no_backup {
        let at = chrono::Local::now();
        let compression = ctx.dump_style(None, None)?;
        for (db, volumes) in dumps_needed(ctx, stake)? {
            // A snapshot saves only what a restore replaces, never a
            // volume that goes (it would go with the volume).
            if opts.safety_snapshot && volumes.is_empty() {
                head.push(steps::snapshot(ctx, &db, at, reason)?);
                continue;
            }
            head.push(steps::dump(
                ctx,
                &db,
                at,
                Some(reason),
                compression,
                volumes,
            )?);
        }
        // The services that write to an archived volume stop first (they
        // are about to go anyway): a copy of files being written is not a
        // backup. Declined or failed before the deletion: they start again.
        let mut archived = Vec::new();
        for l in stake.losses.iter().filter(|l| l.safety == Safety::Archive) {
            archived.push((
                ctx.project.volume_or_usage(&l.state.key)?,
                Some(Stillness::Stop),
            ));
        }
        let dirs: Vec<(&HostDir, Volume)> = stake
            .dirs
            .iter()
            .map(|l| (&l.dir, steps::dir_as_volume(ctx, &l.dir)))
            .collect();
        let mut stilled_ones = archived.clone();
        stilled_ones.extend(dirs.iter().map(|(_, v)| (v, Some(Stillness::Stop))));
        let stilled = steps::quiet(ctx, &stilled_ones)?;
        head.extend(stilled.before);
        for (volume, _) in archived {
            let mut step = steps::archive(ctx, volume, at, Some(reason))?;
            step.set_writers(&stilled.said);
            head.push(step);
        }
        for (dir, _) in &dirs {
            let mut step = steps::archive_dir(ctx, dir, at, Some(reason));
            step.set_writers(&stilled.said);
            head.push(step);
        }
        // What `clean` and `nuke` keep of the whole stack is one set, as
        // `backup --all` makes: `restore --set` puts all of it back.
        if matches!(reason, Reason::Clean | Reason::Nuke) && !head.is_empty() {
            head.push(steps::write_set(ctx, at, Some(reason)));
        }
    }
    head.push(confirmation(ctx, stake, !head.is_empty()));
    head.append(&mut plan.steps);
    plan.steps = head;
    Ok(plan)
}

/// The databases to dump before the plan runs, each with the volumes (by
/// engine name) its dump saves: every database whose volume goes, and every
/// database a restore replaces.
fn dumps_needed(ctx: &Context, stake: &AtStake) -> Result<Vec<(Database, Vec<String>)>> {
    let mut out: Vec<(Database, Vec<String>)> = Vec::new();
    let mut add = |db: &Database, volume: Option<&str>| {
        let i = match out.iter().position(|(d, _)| d.service == db.service) {
            Some(i) => i,
            None => {
                out.push((db.clone(), Vec::new()));
                out.len() - 1
            }
        };
        out[i].1.extend(volume.map(str::to_string));
    };
    for l in stake.losses.iter().filter(|l| l.safety == Safety::Dump) {
        let db = ctx.project.database_in_volume(&l.state.key).ok_or_else(|| {
            Error::new(format!(
                "internal safety check: volume {} holds a database, but no database service uses it; nothing was deleted",
                l.state.key
            ))
        })?;
        add(db, Some(&l.state.name));
    }
    for r in &stake.replaced {
        // The service's database as the project has it: for a service that
        // names none, the dump of every database, not of the one part.
        let db = ctx
            .project
            .databases()
            .iter()
            .find(|d| d.service == r.db.service)
            .unwrap_or(&r.db);
        add(db, None);
    }
    Ok(out)
}

/// The confirmation step: type the database name for a restore, else the
/// project name; `--yes` answers it.
fn confirmation(ctx: &Context, stake: &AtStake, backups: bool) -> Step {
    let on = ctx.machine();
    let several = stake.replaced.len() > 1 || !stake.losses.is_empty() || !stake.dirs.is_empty();
    let (question, expected) = match stake.replaced.first() {
        // Several things at once (a set): the project's name confirms.
        _ if several && (!stake.replaced.is_empty() || !stake.dirs.is_empty()) => (
            format!(
                "Type the project name ({}) to replace {}{on}",
                ctx.project.name,
                replaced_things(stake)
            ),
            ctx.project.name.clone(),
        ),
        Some(r) => (
            format!("Type the database name ({}) to replace it{on}", r.name),
            r.name.clone(),
        ),
        None => (
            format!(
                "Type the project name ({}) to delete {} volume{}{on}",
                ctx.project.name,
                stake.losses.len(),
                if stake.losses.len() == 1 { "" } else { "s" }
            ),
            ctx.project.name.clone(),
        ),
    };
    let mut hint = format!("to go ahead, type {expected} exactly, or pass --yes");
    if backups {
        hint.push_str(&format!(
            "\nthe safety backups just taken are kept in {}",
            ctx.backup_dir().display()
        ));
    }
    let yes = ctx.global.yes;
    Step {
        what: if yes {
            "Confirmation: --yes given, not asking".to_string()
        } else {
            format!("Confirmation: {}", question.to_lowercase())
        },
        action: Action::Confirm(Confirm {
            question,
            expected,
            yes,
            hint,
        }),
    }
}

/// "2 databases, 1 volume and 1 host directory" (only the parts there are,
/// databases and volumes always).
fn replaced_things(stake: &AtStake) -> String {
    let databases = count(stake.replaced.len() as u64, "database", "databases");
    let volumes = count(stake.losses.len() as u64, "volume", "volumes");
    if stake.dirs.is_empty() {
        return format!("{databases} and {volumes}");
    }
    let dirs = count(
        stake.dirs.len() as u64,
        "host directory",
        "host directories",
    );
    format!("{databases}, {volumes} and {dirs}")
}

/// Permission to delete exactly what the gate showed, once it is saved and
/// confirmed. The executor asks it before every step.
struct Ticket<'a> {
    ctx: &'a Context,
    /// The journal to write once confirmed.
    entry: Entry,
    shown_volumes: BTreeSet<String>,
    shown_databases: BTreeSet<String>,
    shown_dirs: BTreeSet<String>,
    /// Disposable volumes: deleted without a backup.
    waived: BTreeSet<String>,
    /// `--no-backup`: everything is deleted without a backup.
    waive_all: bool,
    saved_volumes: BTreeSet<String>,
    saved_databases: BTreeSet<String>,
    saved_dirs: BTreeSet<String>,
    confirmed: bool,
    taken: Vec<Taken>,
    journal: Option<Journal>,
}

impl<'a> Ticket<'a> {
    fn new(
        ctx: &'a Context,
        reason: Reason,
        plan: &Plan,
        stake: &AtStake,
        opts: GateOptions,
    ) -> Ticket<'a> {
        let mut entry = Entry::new(reason.command());
        entry.volumes = stake.losses.iter().map(|l| l.state.name.clone()).collect();
        let mut restores = plan.all().filter_map(|s| match &s.action {
            Action::ReplaceDatabase(r) => Some(r.sides()),
            _ => None,
        });
        entry.restore = restores.next();
        entry.more_restores = restores.collect();
        let mut volume_restores = plan.all().filter_map(|s| match &s.action {
            Action::RestoreVolume(r) => Some((r.volume.clone(), r.archive.path.clone())),
            _ => None,
        });
        entry.volume_restore = volume_restores.next();
        entry.more_volume_restores = volume_restores.collect();
        entry.dir_restores = plan
            .all()
            .filter_map(|s| match &s.action {
                Action::RestoreDir(r) => Some((r.name(), r.stamp.clone())),
                _ => None,
            })
            .collect();
        Ticket {
            ctx,
            entry,
            shown_volumes: stake.losses.iter().map(|l| l.state.name.clone()).collect(),
            shown_databases: stake.replaced.iter().map(|r| r.db.key()).collect(),
            shown_dirs: stake.dirs.iter().map(|d| d.dir.path.clone()).collect(),
            waived: stake
                .losses
                .iter()
                .filter(|l| l.safety == Safety::Disposable)
                .map(|l| l.state.name.clone())
                .collect(),
            waive_all: opts.no_backup,
            saved_volumes: BTreeSet::new(),
            saved_databases: BTreeSet::new(),
            saved_dirs: BTreeSet::new(),
            confirmed: false,
            taken: Vec::new(),
            journal: None,
        }
    }

    /// Why `step` may not run yet, if it may not.
    fn refusal(&self, step: &Step) -> Option<String> {
        let action = &step.action;
        if matches!(action, Action::Run(_) | Action::Interactive(_)) {
            // `down -v`, `volume prune`: reach decided by the engine, never run.
            return Some("would delete data the safety gate did not cover".into());
        }
        let unsaved = |saved: &BTreeSet<String>, n: &String| {
            !(self.waive_all || self.waived.contains(n) || saved.contains(n))
        };
        let volumes: Vec<&String> = action
            .removed_volumes()
            .iter()
            .filter(|n| !self.shown_volumes.contains(*n) || unsaved(&self.saved_volumes, n))
            .collect();
        if !volumes.is_empty() {
            let names: Vec<&str> = volumes.iter().map(|s| s.as_str()).collect();
            return Some(format!(
                "would delete data the safety gate did not cover ({})",
                names.join(", ")
            ));
        }
        // A dump of every database of a service (`<service>/*`) saves each.
        let every = |d: &String| {
            d.split_once('/')
                .is_some_and(|(service, _)| self.saved_databases.contains(&format!("{service}/*")))
        };
        if let Some(d) = action.replaced_database()
            && (!self.shown_databases.contains(&d)
                || (unsaved(&self.saved_databases, &d) && !every(&d)))
        {
            return Some(format!(
                "would replace database {d}, which the safety gate did not cover"
            ));
        }
        if let Some(d) = action.replaced_dir()
            && (!self.shown_dirs.contains(&d) || unsaved(&self.saved_dirs, &d))
        {
            return Some(format!(
                "would replace host directory {d}, which the safety gate did not cover"
            ));
        }
        if !self.confirmed {
            return Some("would delete data before it was confirmed".into());
        }
        None
    }

    /// The operation finished: nothing for the next budgie to recover.
    fn finish(self) {
        if let Some(j) = self.journal {
            j.finish();
        }
    }
}

impl Guard for Ticket<'_> {
    fn allow(&mut self, step: &Step) -> Result<()> {
        if !step.action.deletes_data() {
            return Ok(());
        }
        match self.refusal(step) {
            None => Ok(()),
            Some(why) => Err(Error::new(format!(
                "internal safety check: step \"{}\" {why}; nothing was run",
                step.what
            ))),
        }
    }

    fn resume_on_failure(&self) -> bool {
        // Once confirmed, the plan's own steps remove those containers.
        !self.confirmed
    }

    fn done(&mut self, step: &Step, done: &Done) -> Result<()> {
        if let Done::Backup(t) = done {
            self.taken.push(t.clone());
        }
        match &step.action {
            Action::Dump(d) => {
                self.saved_volumes.extend(d.protects.iter().cloned());
                self.saved_databases.insert(if d.db.all_databases() {
                    format!("{}/*", d.db.service)
                } else {
                    d.db.key()
                });
            }
            Action::Snapshot(s) => {
                self.saved_databases.insert(s.db.key());
            }
            Action::Archive(a) => {
                self.saved_volumes.insert(a.volume.clone());
            }
            Action::ArchiveDir(a) => {
                self.saved_dirs.insert(a.path.display().to_string());
            }
            Action::Confirm(_) => {
                self.confirmed = true;
                // The journal: what a budgie killed from here on leaves is
                // found and put right by the next one (crate::recover).
                self.entry.safety_backups = self.taken.iter().map(|t| t.path.clone()).collect();
                self.journal = Some(Journal::begin(
                    &self.ctx.backup_dir(),
                    &self.ctx.project.name,
                    &self.entry,
                )?);
                crate::crash::point("gate:before-execute");
            }
            _ => {}
        }
        Ok(())
    }
}

/// A step failed after the safety backups: some containers or volumes may
/// be gone. Says where the data is and what brings the stack back (the
/// hint a step's own error may carry comes first).
fn failed_midway(e: Error, reason: Reason, taken: &[Taken]) -> Error {
    if reason == Reason::Restore
        || matches!(
            e.exit,
            Exit::Interrupted | Exit::BackupFailed | Exit::Refused
        )
    {
        return e;
    }
    let mut hint = e.hint.clone().map(|h| format!("{h}\n")).unwrap_or_default();
    hint.push_str("containers removed before the failure come back with: budgie start");
    for db in taken.iter().filter(|t| t.database.is_some()) {
        hint.push_str(&format!(
            "\nif the volume of database {} is gone, its data is in {}: {}",
            db.database.as_deref().unwrap_or("?"),
            db.path.display(),
            crate::recover::bring_back(&db.path)
        ));
    }
    e.hint(hint)
}

/// After the plan ran: where the saved data is, and the command that
/// brings it back.
fn say_where_the_data_is(ctx: &Context, reason: Reason, ran: &Ran) {
    let taken = &ran.backups;
    if let Some(id) = ran.set.as_ref().and_then(|p| {
        let name = p.file_name()?.to_string_lossy().into_owned();
        crate::backup::set::set_id(&ctx.project.name, &name)
    }) {
        ctx.ui.info(&format!(
            "All of it is saved as the set {id}. To bring everything back: budgie start && budgie restore --set {id}"
        ));
    }
    if reason == Reason::Restore {
        match taken.as_slice() {
            [] => {}
            [t] => ctx.ui.info(&format!(
                "The data from before the restore is saved in {}",
                t.path.display()
            )),
            more => {
                ctx.ui.info("The data from before the restore is saved in:");
                for t in more {
                    ctx.ui.info(&format!("  {}", t.path.display()));
                }
            }
        }
    } else {
        for db in taken.iter().filter(|t| t.database.is_some()) {
            ctx.ui.info(&format!(
                "{} is saved in {}. To bring it back: {}",
                if ctx.project.names_services() {
                    format!("Database {}", db.database.as_deref().unwrap_or("?"))
                } else {
                    "The database".to_string()
                },
                db.path.display(),
                crate::recover::bring_back(&db.path)
            ));
        }
    }
}

fn show(ctx: &Context, stake: &AtStake) {
    // About to ask at a terminal: what is lost is shown even with -q.
    let asking = !ctx.global.yes && !ctx.global.dry_run && ctx.ui.stdin_tty;
    let loud = ctx.ui.unquiet();
    let ui = if asking { &loud } else { &ctx.ui };
    // "project app on ssh://deploy@prod": which machine, when it is not
    // this machine's default engine.
    let project = format!("{}{}", ctx.project.name, ctx.machine());
    for r in &stake.replaced {
        let now = match &r.current {
            Some(c) => format!(
                "{}, {}",
                human_bytes(c.bytes),
                count(c.tables, "table", "tables")
            ),
            None => "size unknown".into(),
        };
        ui.heading(&format!(
            "This replaces database {} ({now}) of project {project} with {}",
            r.name, r.with
        ));
    }
    if !stake.dirs.is_empty() {
        ui.heading(&format!(
            "This replaces the contents of {} of project {project}:",
            count(
                stake.dirs.len() as u64,
                "host directory",
                "host directories"
            ),
        ));
        for l in &stake.dirs {
            let size = l
                .dir
                .size_bytes
                .map(human_bytes)
                .unwrap_or_else(|| "size unknown".into());
            ui.print(&format!(
                "  - {} ({size}, used by {})",
                l.dir.path,
                l.dir.services.join(", ")
            ));
        }
    }
    if stake.losses.is_empty() {
        return;
    }
    ui.heading(&format!(
        "This deletes {} volume{} of project {project}:",
        stake.losses.len(),
        if stake.losses.len() == 1 { "" } else { "s" },
    ));
    for l in &stake.losses {
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
            Safety::Dump => match ctx.project.database_in_volume(&v.key) {
                Some(db) => format!(
                    "{} database \"{}\" of service {}",
                    db.kind.label(),
                    db.shown_name(),
                    db.service
                ),
                None => "database files".into(),
            },
            Safety::Archive => "files".into(),
            Safety::Disposable => "disposable files".into(),
        };
        ui.print(&format!("  - {} ({size}, used by {users}): {what}", v.name));
        if l.safety == Safety::Dump
            && let Some(also) = crate::snapshots::snapshots_in(ctx, &v.key)
        {
            ui.print(&format!(
                "    also deletes {also} (snapshots live in the volume)"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Cmd, Engine, EngineKind};
    use crate::plan::Dump;

    /// A project in a temp dir with a database volume and a files volume.
    fn context(dir: &std::path::Path) -> Context {
        std::fs::write(
            dir.join("compose.yml"),
            "services:\n  db:\n    image: postgres:16\n    volumes: [pgdata:/var/lib/postgresql/data]\n  app:\n    image: busybox\n    volumes: [files:/files]\nvolumes:\n  pgdata:\n  files:\n",
        )
        .unwrap();
        let project = crate::compose::load(&crate::compose::LoadOptions {
            directory: dir.to_path_buf(),
            files: Vec::new(),
            project_name: Some("p".into()),
            env: Default::default(),
        })
        .unwrap();
        let cli = <crate::cli::Cli as clap::Parser>::parse_from(["budgie", "--yes", "clean"]);
        let ui = crate::ui::Ui::new(true, true, 0, true);
        Context::new(cli.global, ui, project)
    }

    fn loss(name: &str, database: bool, safety: Safety) -> Loss {
        Loss {
            state: VolumeState {
                key: name.trim_start_matches("p_").into(),
                name: name.into(),
                external: false,
                database,
                disposable: safety == Safety::Disposable,
                services: Vec::new(),
                exists: true,
                other_project: None,
                owned: true,
                size_bytes: None,
            },
            safety,
        }
    }

    fn step(what: &str, action: Action) -> Step {
        Step {
            what: what.into(),
            action,
        }
    }

    fn remove(engine: &Engine, names: &[&str]) -> Step {
        step(
            "Delete volumes",
            Action::RemoveVolumes {
                engine: engine.clone(),
                names: names.iter().map(|s| s.to_string()).collect(),
            },
        )
    }

    fn dump_of(ctx: &Context, engine: &Engine, protects: &[&str]) -> Step {
        let db = ctx.project.database().unwrap().clone();
        step(
            "Safety backup",
            Action::Dump(Box::new(Dump {
                engine: engine.clone(),
                project: "p".into(),
                db,
                target: steps::target(ctx, chrono::Local::now(), Some(Reason::Clean)),
                format: crate::compose::DumpFormat::Plain,
                compression: crate::compose::Compression::None,
                container: Some("c".into()),
                start: None,
                protects: protects.iter().map(|s| s.to_string()).collect(),
                named: false,
                safety: true,
            })),
        )
    }

    fn archive_of(ctx: &Context, volume: &str) -> Step {
        step(
            "Safety archive",
            Action::Archive(Box::new(crate::plan::Archive {
                volume: volume.into(),
                key: volume.trim_start_matches("p_").into(),
                io: Err("not in a unit test".into()),
                target: steps::target(ctx, chrono::Local::now(), Some(Reason::Clean)),
                safety: true,
                writers: None,
            })),
        )
    }

    fn confirm() -> Step {
        step(
            "Confirmation",
            Action::Confirm(Confirm {
                question: "q".into(),
                expected: "p".into(),
                yes: true,
                hint: String::new(),
            }),
        )
    }

    fn taken() -> Done {
        Done::Backup(Taken {
            path: "/nowhere/p_x.sql".into(),
            bytes: 1,
            sha256: "0".into(),
            seconds: 0.0,
            database: Some("postgres".into()),
            service: None,
            volume: None,
            directory: None,
            writers: None,
        })
    }

    /// A ticket for `clean` putting `losses` at stake.
    fn ticket(ctx: &Context, losses: Vec<Loss>, no_backup: bool) -> Ticket<'_> {
        let stake = AtStake {
            losses,
            replaced: Vec::new(),
            dirs: Vec::new(),
        };
        Ticket::new(
            ctx,
            Reason::Clean,
            &Plan::new(),
            &stake,
            GateOptions {
                no_backup,
                ..Default::default()
            },
        )
    }

    #[test]
    fn a_deletion_waits_for_every_safety_backup_and_the_confirmation() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path());
        let (engine, _bin) = Engine::stub(EngineKind::Podman);
        let mut t = ticket(
            &ctx,
            vec![
                loss("p_pgdata", true, Safety::Dump),
                loss("p_files", false, Safety::Archive),
            ],
            false,
        );
        let rm = remove(&engine, &["p_pgdata", "p_files"]);
        let refused = |t: &mut Ticket| t.allow(&rm).unwrap_err().message;
        assert!(refused(&mut t).contains("did not cover (p_pgdata, p_files)"));
        t.done(&dump_of(&ctx, &engine, &["p_pgdata"]), &taken())
            .unwrap();
        assert!(refused(&mut t).contains("did not cover (p_files)"));
        t.done(&archive_of(&ctx, "p_files"), &taken()).unwrap();
        assert!(refused(&mut t).contains("before it was confirmed"));
        t.done(&confirm(), &Done::Nothing).unwrap();
        assert!(t.allow(&rm).is_ok());
        // Confirmed, the journal is written, naming the safety backups.
        let journal = crate::journal::journal_path(&ctx.backup_dir(), "p");
        let entry = crate::journal::read_journal(&journal).unwrap().unwrap();
        assert_eq!(entry.volumes, ["p_pgdata", "p_files"]);
        assert_eq!(entry.safety_backups.len(), 2);
        t.finish();
        assert!(!journal.exists(), "a finished plan leaves no journal");
    }

    #[test]
    fn only_what_was_shown_goes_even_when_confirmed() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path());
        let (engine, _bin) = Engine::stub(EngineKind::Podman);
        let mut t = ticket(
            &ctx,
            vec![loss("p_files", false, Safety::Disposable)],
            false,
        );
        t.done(&confirm(), &Done::Nothing).unwrap();
        // Disposable: confirmed is enough.
        assert!(t.allow(&remove(&engine, &["p_files"])).is_ok());
        // Never shown: never deleted.
        let e = t.allow(&remove(&engine, &["p_pgdata"])).unwrap_err();
        assert!(e.message.contains("did not cover (p_pgdata)"), "{e}");
        // A compose or engine command that deletes by itself: never.
        for argv in [["x-compose", "down", "-v"], ["podman", "volume", "prune"]] {
            let e = t
                .allow(&step("Down", Action::Run(Cmd::new(argv))))
                .unwrap_err();
            assert!(e.message.contains("internal safety check"), "{e}");
        }
        // Steps that delete nothing need no ticket.
        assert!(
            t.allow(&step("Up", Action::Run(Cmd::new(["x", "up"]))))
                .is_ok()
        );
        t.finish();
    }

    #[test]
    fn no_backup_waives_the_backups_never_the_confirmation() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path());
        let (engine, _bin) = Engine::stub(EngineKind::Podman);
        let mut t = ticket(&ctx, vec![loss("p_pgdata", true, Safety::Dump)], true);
        let rm = remove(&engine, &["p_pgdata"]);
        assert!(t.allow(&rm).unwrap_err().message.contains("confirmed"));
        t.done(&confirm(), &Done::Nothing).unwrap();
        assert!(t.allow(&rm).is_ok());
        t.finish();
    }

    #[test]
    fn a_plan_outside_the_gate_deletes_nothing() {
        let (engine, _bin) = Engine::stub(EngineKind::Podman);
        let e = NoDeletions
            .allow(&remove(&engine, &["p_pgdata"]))
            .unwrap_err();
        assert!(
            e.message.contains("did not go through the safety gate"),
            "{e}"
        );
        assert!(
            NoDeletions
                .allow(&step("Up", Action::Run(Cmd::new(["x", "up", "-d"]))))
                .is_ok()
        );
    }
}
