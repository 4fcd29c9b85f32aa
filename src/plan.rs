//! Plans: every command that changes anything becomes an ordered list of
//! steps first — compose calls, waits, dumps, archives, the confirmation,
//! deletions, swaps. `--dry-run` prints the plan (the exact argv of every
//! engine call and the exact names of the files it writes) and stops;
//! otherwise `execute` runs the steps in order and stops at the first
//! failure.
//!
//! Safety is a property of the plan: [`Action::deletes_data`] tells which
//! steps delete or replace data, and the gate stands between such a plan
//! and its execution, inserting the safety backups and the confirmation as
//! steps of their own. No command decides that by itself. This module only
//! describes; it runs nothing.

use std::path::PathBuf;

use crate::backup::Target;
use crate::backup::format::Content;
use crate::backup::store::DumpKind;
use crate::compose::{Compression, Database, DbKind, DumpFormat};
use crate::engine::{Cmd, Engine, VolumeIo};
use crate::journal::Sides;
use crate::restore::source::Source;
use crate::wait::{WaitForDatabase, WaitForServices};

/// Why a plan backs data up first: names its safety backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Clean,
    Nuke,
    VolumeRm,
    Restore,
    Deploy,
}

impl Reason {
    /// The part of a safety backup's file name: `pre-clean`...
    pub fn tag(self) -> &'static str {
        match self {
            Reason::Clean => "pre-clean",
            Reason::Nuke => "pre-nuke",
            Reason::VolumeRm => "pre-volume-rm",
            Reason::Restore => "pre-restore",
            Reason::Deploy => "pre-deploy",
        }
    }

    /// The budgie command that plans for this reason.
    pub fn command(self) -> &'static str {
        match self {
            Reason::Clean => "clean",
            Reason::Nuke => "nuke",
            Reason::VolumeRm => "volumes rm",
            Reason::Restore => "restore",
            Reason::Deploy => "deploy",
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone)]
pub struct Step {
    /// What the step does, in the user's words ("Start services db, app").
    pub what: String,
    pub action: Action,
}

impl Step {
    /// For an archive step: what its volume's writers do meanwhile, from
    /// `said` (volume key, what).
    pub fn set_writers(&mut self, said: &[(String, String)]) {
        let (key, writers) = match &mut self.action {
            Action::Archive(a) => (&a.key, &mut a.writers),
            Action::ArchiveDir(a) => (&a.key, &mut a.writers),
            _ => return,
        };
        if let Some((_, what)) = said.iter().find(|(k, _)| k == key) {
            *writers = Some(what.clone());
            self.what = format!("{} ({what})", self.what);
        }
    }
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Run an engine or compose command; its output is shown with -v, or
    /// when it fails.
    Run(Cmd),
    /// Hand the terminal to a command (logs, shell, psql); its exit status
    /// becomes budgie's.
    Interactive(Cmd),
    /// Start the database service alone unless it runs, and wait until it
    /// accepts connections; it stays running.
    StartDatabase(Box<StartDatabase>),
    /// Wait until the database service's container answers `pg_isready`.
    WaitForDatabase(Box<WaitForDatabase>),
    /// Wait until services' containers are healthy (or running, without a
    /// healthcheck); on failure show the last lines of their logs.
    WaitForServices(WaitForServices),
    /// Dump a database into a backup file (written under a temporary name,
    /// checked, then renamed).
    Dump(Box<Dump>),
    /// Archive a volume's files into a backup file, the same way.
    Archive(Box<Archive>),
    /// Copy a PostgreSQL database into a snapshot in its own cluster (the
    /// gate's safety copy before `snapshot restore`).
    Snapshot(Box<TakeSnapshot>),
    /// Keep the running containers that write to volumes about to be
    /// archived still: pause or stop them.
    Quiet(Box<Quiet>),
    /// Let them go on again: unpause or start them.
    Resume(Box<Quiet>),
    /// Write the manifest that ties the backups written before it in the
    /// plan into one set.
    WriteSet(Box<WriteSet>),
    /// Ask the user to confirm (or note `--yes`). Only the gate adds one.
    Confirm(Confirm),
    /// Delete these volumes (exact engine names). Runs only when the gate's
    /// ticket covers every name.
    RemoveVolumes { engine: Engine, names: Vec<String> },
    /// Remove these image references, each only if no container uses it
    /// (the engine refuses otherwise, and budgie keeps it).
    RemoveImages {
        engine: Engine,
        references: Vec<String>,
    },
    /// Load a dump into a scratch database, check it, swap it in for the
    /// current one. Runs only when the gate's ticket covers the database.
    ReplaceDatabase(Box<ReplaceDatabase>),
    /// Replace a volume's contents with an archive's. Runs only when the
    /// gate's ticket covers the volume.
    RestoreVolume(Box<RestoreVolume>),
    /// Archive a host directory's files (read by budgie on this machine).
    ArchiveDir(Box<ArchiveDir>),
    /// Replace a host directory's contents with an archive's. Runs only
    /// when the gate's ticket covers the directory.
    RestoreDir(Box<RestoreDir>),
}

/// How to start the database service alone and tell when it is up (and
/// how to stop it again, for a dump that started it).
#[derive(Debug, Clone)]
pub struct StartDatabase {
    pub service: String,
    /// `compose up -d --no-deps <service>`.
    pub up: Cmd,
    pub wait: WaitForDatabase,
    /// Stops the service again (containers removed, volumes kept).
    pub stop: Cmd,
}

/// See [`Action::Dump`].
#[derive(Debug, Clone)]
pub struct Dump {
    pub engine: Engine,
    pub project: String,
    pub db: Database,
    pub target: Target,
    /// pg_dump's format (PostgreSQL; MariaDB dumps are SQL text).
    pub format: DumpFormat,
    /// budgie's compression of SQL text.
    pub compression: Compression,
    /// The database's running container when the plan was made; None
    /// when the service was not running.
    pub container: Option<String>,
    /// When the service was not running: how it is started for the dump
    /// (and stopped again after). The dry run shows it.
    pub start: Option<StartDatabase>,
    /// The volumes whose data this dump saves (the database's volume), for
    /// the gate's ticket.
    pub protects: Vec<String>,
    /// The file name carries the service (the stack has several databases).
    pub named: bool,
    /// A safety backup: its failure stops the plan with exit 4.
    pub safety: bool,
}

impl Dump {
    /// The file name it is written under (unless a backup of the same
    /// second took it: then the next `-N`).
    pub fn file_name(&self) -> String {
        self.target.dump_name(
            0,
            self.named.then_some(self.db.service.as_str()),
            self.kind(),
        )
    }

    /// The file it writes: SQL text compressed as asked, or pg_dump's
    /// archive in the format asked (PostgreSQL only).
    pub fn kind(&self) -> DumpKind {
        match self.db.kind {
            DbKind::Postgres => DumpKind::new(self.format, self.compression),
            DbKind::Mariadb => DumpKind::Sql(self.compression),
        }
    }

    /// The commands it runs, as the plan shows them.
    pub fn shown_commands(&self, container: &str) -> Vec<Cmd> {
        if self.kind() == DumpKind::DirectoryTar {
            let stem = self.file_name();
            crate::databases::pg_directory::shown(
                &self.engine,
                container,
                &self.db,
                stem.strip_suffix(".dir.tar").unwrap_or(&stem),
                crate::restore::staged::jobs(None),
            )
        } else {
            vec![self.command(container)]
        }
    }

    pub fn path(&self) -> PathBuf {
        self.target.dir.join(self.file_name())
    }

    /// The dump tool it runs in `container` (`pg_dump`, `mariadb-dump`),
    /// writing on stdout (not for the directory format).
    pub fn command(&self, container: &str) -> Cmd {
        crate::databases::dump_command(&self.engine, container, &self.db, self.kind().format())
    }

    /// What the dump file holds, by the kind of database and format.
    pub fn content(&self) -> Content {
        match (self.db.kind, self.kind()) {
            (DbKind::Mariadb, _) => Content::MariadbDump,
            (DbKind::Postgres, DumpKind::Custom) => Content::PgCustom,
            (DbKind::Postgres, DumpKind::DirectoryTar) => Content::PgDirectory,
            (DbKind::Postgres, DumpKind::Sql(_)) => Content::SqlDump,
        }
    }
}

/// See [`Action::Snapshot`].
#[derive(Debug, Clone)]
pub struct TakeSnapshot {
    pub db: Database,
    /// The snapshot's name (`pre-restore-<stamp>`).
    pub name: String,
    /// A safety copy: its failure stops the plan with exit 4.
    pub safety: bool,
}

/// See [`Action::Archive`].
#[derive(Debug, Clone)]
pub struct Archive {
    /// The volume's engine name.
    pub volume: String,
    /// Its key in the compose file (names the archive).
    pub key: String,
    /// How its files are read as tar, or why they cannot be.
    pub io: Result<VolumeIo, String>,
    pub target: Target,
    /// A safety backup: its failure stops the plan with exit 4.
    pub safety: bool,
    /// What its writers do meanwhile ("app paused", "copied live: ..."),
    /// for the report.
    pub writers: Option<String>,
}

impl Archive {
    pub fn file_name(&self) -> String {
        self.target.archive_name(0, &self.key)
    }

    pub fn path(&self) -> PathBuf {
        self.target.dir.join(self.file_name())
    }
}

/// See [`Action::WriteSet`].
#[derive(Debug, Clone)]
pub struct WriteSet {
    pub target: Target,
}

impl WriteSet {
    pub fn path(&self) -> PathBuf {
        self.target
            .dir
            .join(crate::backup::set::set_name(&self.target, 0))
    }
}

/// How writers are kept still while their volume is archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stillness {
    /// `pause`/`unpause`: frozen in place, a short freeze.
    Pause,
    /// `stop`/`start`: shut down cleanly, started again after.
    Stop,
}

/// See [`Action::Quiet`] and [`Action::Resume`].
#[derive(Debug, Clone)]
pub struct Quiet {
    pub engine: Engine,
    pub how: Stillness,
    /// The services whose containers these are.
    pub services: Vec<String>,
    /// Their running containers (names), found when planned.
    pub containers: Vec<String>,
}

impl Quiet {
    /// `pause ID...` or `stop ID...`.
    pub fn command(&self) -> Cmd {
        let verb = match self.how {
            Stillness::Pause => "pause",
            Stillness::Stop => "stop",
        };
        self.engine.containers_cmd(verb, &self.containers)
    }

    /// `unpause ID...` or `start ID...`.
    pub fn resume_command(&self) -> Cmd {
        let verb = match self.how {
            Stillness::Pause => "unpause",
            Stillness::Stop => "start",
        };
        self.engine.containers_cmd(verb, &self.containers)
    }

    /// "paused" or "stopped".
    pub fn done_word(&self) -> &'static str {
        match self.how {
            Stillness::Pause => "paused",
            Stillness::Stop => "stopped",
        }
    }
}

/// See [`Action::Confirm`].
#[derive(Debug, Clone)]
pub struct Confirm {
    /// The question asked at a terminal.
    pub question: String,
    /// The answer that confirms (the project or database name).
    pub expected: String,
    /// `--yes`: confirmed without asking.
    pub yes: bool,
    /// What the refusal says to do next.
    pub hint: String,
}

/// See [`Action::ReplaceDatabase`].
#[derive(Debug, Clone)]
pub struct ReplaceDatabase {
    pub engine: Engine,
    pub project: String,
    pub db: Database,
    pub source: Source,
    pub keep_previous: bool,
    /// Names the side databases (`postgres::side_name`): chosen when
    /// planned, so that the journal can name them before they exist.
    pub stamp: String,
}

impl ReplaceDatabase {
    /// What the restore creates besides the database, for the journal.
    pub fn sides(&self) -> Sides {
        Sides::restore(
            &self.db.service,
            &self.db.name,
            &self.stamp,
            &self.source.path,
            self.keep_previous,
        )
    }
}

/// See [`Action::RestoreVolume`].
#[derive(Debug, Clone)]
pub struct RestoreVolume {
    pub volume: String,
    /// How its contents are replaced.
    pub io: VolumeIo,
    pub archive: Source,
}

/// See [`Action::ArchiveDir`].
#[derive(Debug, Clone)]
pub struct ArchiveDir {
    /// The host directory (absolute).
    pub path: PathBuf,
    /// Names the archive (`dir-...`, see `backup::dirs::dir_key`).
    pub key: String,
    pub target: Target,
    /// A safety backup: its failure stops the plan with exit 4.
    pub safety: bool,
    /// What its writers do meanwhile, for the report.
    pub writers: Option<String>,
}

impl ArchiveDir {
    pub fn path(&self) -> PathBuf {
        self.target.dir.join(self.target.archive_name(0, &self.key))
    }
}

/// See [`Action::RestoreDir`].
#[derive(Debug, Clone)]
pub struct RestoreDir {
    /// The host directory (absolute).
    pub path: PathBuf,
    pub archive: Source,
    /// Names the directories beside it while it is replaced.
    pub stamp: String,
}

impl RestoreDir {
    /// The directory as the gate and the journal name it.
    pub fn name(&self) -> String {
        self.path.display().to_string()
    }
}

/// A line of a step as the plan shows it: an engine call, or a note.
pub enum Shown {
    Cmd(Cmd),
    Note(String),
}

impl Action {
    /// The engine calls (and notes) of this action, as the plan shows them.
    pub fn shown(&self) -> Vec<Shown> {
        let ctr = |service: &str| format!("<{service} container>");
        match self {
            Action::Run(c) | Action::Interactive(c) => vec![Shown::Cmd(c.clone())],
            Action::StartDatabase(s) => vec![
                Shown::Note(format!("only when service {} is not running:", s.service)),
                Shown::Cmd(s.up.clone()),
                Shown::Cmd(s.wait.probe(&ctr(&s.service))),
            ],
            Action::WaitForDatabase(w) => vec![Shown::Cmd(w.probe(&ctr(&w.service)))],
            Action::WaitForServices(w) => w.probes().into_iter().map(Shown::Cmd).collect(),
            Action::Dump(d) => {
                let mut out: Vec<Shown> = d
                    .shown_commands(&ctr(&d.db.service))
                    .into_iter()
                    .map(Shown::Cmd)
                    .collect();
                if let Some(start) = &d.start {
                    out.push(Shown::Note(format!(
                        "service {} is not running: started for the dump, stopped again after",
                        d.db.service
                    )));
                    out.push(Shown::Cmd(start.up.clone()));
                    out.push(Shown::Cmd(start.stop.clone()));
                }
                out
            }
            Action::Snapshot(t) => vec![Shown::Note(format!(
                "database {} closed to new connections, its sessions ended, CREATE DATABASE {} TEMPLATE {}, opened again",
                t.db.name,
                crate::databases::snapshot::database_of(&t.db.name, &t.name),
                t.db.name
            ))],
            Action::Archive(a) => match &a.io {
                Ok(io) => io.read_cmds().into_iter().map(Shown::Cmd).collect(),
                Err(why) => vec![Shown::Note(format!("cannot: {why}"))],
            },
            Action::Confirm(_) => Vec::new(),
            Action::Quiet(q) => vec![Shown::Cmd(q.command())],
            Action::Resume(q) => vec![Shown::Cmd(q.resume_command())],
            Action::WriteSet(_) => vec![Shown::Note(
                "each file above with its size and SHA-256; written last, so it exists only for a complete set".into(),
            )],
            Action::RemoveVolumes { engine, names } => vec![Shown::Cmd(engine.volume_rm(names))],
            Action::RemoveImages { engine, references } => references
                .iter()
                .map(|r| Shown::Cmd(engine.image_rm(r)))
                .collect(),
            Action::ReplaceDatabase(r) => vec![Shown::Cmd(crate::databases::load_command_shown(
                &r.engine,
                &ctr(&r.db.service),
                &r.db,
                r.source.format,
            ))],
            Action::RestoreVolume(r) => r.io.replace_cmds().into_iter().map(Shown::Cmd).collect(),
            Action::ArchiveDir(a) => vec![Shown::Note(format!(
                "budgie reads {} on this machine as tar (zstd), sockets left out",
                a.path.display()
            ))],
            Action::RestoreDir(r) => vec![Shown::Note(format!(
                "budgie unpacks the archive beside {} (owners, modes and times kept), then puts it in the directory's place; the previous contents go only after that",
                r.path.display()
            ))],
        }
    }

    /// The host directory whose contents this action replaces.
    pub fn replaced_dir(&self) -> Option<String> {
        match self {
            Action::RestoreDir(r) => Some(r.name()),
            _ => None,
        }
    }

    /// The database this action replaces.
    pub fn replaced_database(&self) -> Option<String> {
        match self {
            Action::ReplaceDatabase(r) => Some(r.db.key()),
            _ => None,
        }
    }

    /// The volumes this action deletes (exact engine names).
    pub fn removed_volumes(&self) -> &[String] {
        match self {
            Action::RemoveVolumes { names, .. } => names,
            Action::RestoreVolume(r) => std::slice::from_ref(&r.volume),
            _ => &[],
        }
    }

    /// Whether this action deletes a volume or replaces a database. Commands
    /// are checked by their argv: `down` with `-v`/`--volumes`, and
    /// `volume rm`/`volume prune`/`system prune`.
    pub fn deletes_data(&self) -> bool {
        match self {
            Action::RemoveVolumes { .. }
            | Action::ReplaceDatabase(_)
            | Action::RestoreVolume(_)
            | Action::RestoreDir(_) => true,
            Action::Run(c) | Action::Interactive(c) => argv_deletes_data(&c.argv),
            _ => false,
        }
    }

    /// Whether this is a safety backup (its failure means exit 4).
    pub fn is_safety_backup(&self) -> bool {
        match self {
            Action::Dump(d) => d.safety,
            Action::Snapshot(t) => t.safety,
            Action::Archive(a) => a.safety,
            Action::ArchiveDir(a) => a.safety,
            _ => false,
        }
    }
}

/// Whether an engine or compose argv deletes volumes.
pub fn argv_deletes_data(argv: &[String]) -> bool {
    let has = |s: &str| argv.iter().any(|a| a == s);
    let has_pair = |a: &str, b: &str| argv.windows(2).any(|w| w[0] == a && w[1] == b);
    (has("down") && (has("-v") || has("--volumes")))
        || has_pair("volume", "rm")
        || has_pair("volume", "prune")
        || has_pair("system", "prune")
        || (has("rm") && (has("-v") || has("--volumes")))
}

/// An ordered list of steps, in two parts: `prepare` only makes the stack
/// ready (it starts the database a restore loads into) and runs before the
/// gate shows what will be lost; `steps` are the rest. The gate puts its
/// safety backups and confirmation at the head of `steps`.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub prepare: Vec<Step>,
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn new() -> Plan {
        Plan::default()
    }

    pub fn push(&mut self, what: impl Into<String>, action: Action) -> &mut Self {
        self.steps.push(Step {
            what: what.into(),
            action,
        });
        self
    }

    pub fn run(&mut self, what: impl Into<String>, cmd: Cmd) -> &mut Self {
        self.push(what, Action::Run(cmd))
    }

    pub fn interactive(&mut self, what: impl Into<String>, cmd: Cmd) -> &mut Self {
        self.push(what, Action::Interactive(cmd))
    }

    /// Every step, in the order they run.
    pub fn all(&self) -> impl Iterator<Item = &Step> {
        self.prepare.iter().chain(&self.steps)
    }

    /// Every volume the plan deletes, in order, without duplicates.
    pub fn removed_volumes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.all() {
            for n in s.action.removed_volumes() {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
        }
        out
    }

    /// The plan as lines: `N. what` then `   $ argv` (or a note). No secret
    /// is in an argv (passwords travel in the environment, shown by name
    /// only), so nothing is masked: names print exactly.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, s) in self.all().enumerate() {
            out.push(format!("{}. {}", i + 1, s.what));
            for shown in s.action.shown() {
                match shown {
                    Shown::Cmd(cmd) => {
                        let mut line = format!("   $ {cmd}");
                        if !cmd.env.is_empty() {
                            let names: Vec<&str> =
                                cmd.env.iter().map(|(k, _)| k.as_str()).collect();
                            line.push_str(&format!("   (env: {}=***)", names.join("=***, ")));
                        }
                        out.push(line);
                    }
                    Shown::Note(note) => out.push(format!("   ({note})")),
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn recognises_commands_that_delete_volumes() {
        assert!(argv_deletes_data(&argv("podman-compose -p x down -v")));
        assert!(argv_deletes_data(&argv(
            "docker compose -p x down --volumes --remove-orphans"
        )));
        assert!(argv_deletes_data(&argv("docker volume rm x_pgdata")));
        assert!(argv_deletes_data(&argv("podman system prune -a --volumes")));
        assert!(!argv_deletes_data(&argv("podman-compose -p x down")));
        assert!(!argv_deletes_data(&argv("docker-compose -p x up -d")));
        assert!(!argv_deletes_data(&argv(
            "docker-compose -p x rm --stop --force db"
        )));
    }

    #[test]
    fn describe_shows_argv_and_the_environment_by_name_only() {
        let mut plan = Plan::new();
        let mut cmd = Cmd::new(["podman", "exec", "-e", "PGPASSWORD", "ctr", "pg_dump"]);
        cmd.env
            .push(("PGPASSWORD".into(), crate::compose::Secret::new("s3cret")));
        plan.run("Dump", cmd);
        let lines = plan.describe();
        assert_eq!(lines[0], "1. Dump");
        assert_eq!(
            lines[1],
            "   $ podman exec -e PGPASSWORD ctr pg_dump   (env: PGPASSWORD=***)"
        );
        assert!(!lines.join("\n").contains("s3cret"));
    }

    #[test]
    fn prepared_steps_come_first() {
        let mut plan = Plan::new();
        plan.run("Second", Cmd::new(["b"]));
        plan.prepare.push(Step {
            what: "First".into(),
            action: Action::Run(Cmd::new(["a"])),
        });
        let lines = plan.describe();
        assert_eq!(lines, ["1. First", "   $ a", "2. Second", "   $ b"]);
    }
}
