//! The command line: clap definitions and nothing else.
//!
//! Global options are `global = true`, so `budgie clean --yes` and
//! `budgie --yes clean` mean the same (DESIGN.md contract).

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::engine::EngineKind;

/// budgie: run a compose stack with a PostgreSQL database, without ever
/// losing its data.
#[derive(Debug, Parser)]
#[command(name = "budgie", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands, before or after the subcommand.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Compose file to use (repeatable; later files override earlier ones)
    #[arg(short = 'f', long = "file", value_name = "FILE", global = true)]
    pub files: Vec<PathBuf>,

    /// Project name (default: COMPOSE_PROJECT_NAME, `name:`, or the directory's name)
    #[arg(short = 'p', long = "project-name", value_name = "NAME", global = true)]
    pub project_name: Option<String>,

    /// Run as if budgie was started in DIR
    #[arg(short = 'C', long = "directory", value_name = "DIR", global = true)]
    pub directory: Option<PathBuf>,

    /// Container engine to use [env: BUDGIE_ENGINE] (default: podman if installed, else docker)
    #[arg(long, value_enum, global = true)]
    pub engine: Option<EngineKind>,

    /// The engine's endpoint: unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[/PATH] [env: DOCKER_HOST, CONTAINER_HOST]
    #[arg(long, value_name = "URL", global = true)]
    pub engine_host: Option<String>,

    /// docker: the context to use [env: DOCKER_CONTEXT] (default: the current context)
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,

    /// podman: the system connection to use [env: CONTAINER_CONNECTION]
    #[arg(long, value_name = "NAME", global = true)]
    pub connection: Option<String>,

    /// Print the plan (the exact engine commands) and run nothing
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// Answer yes to confirmations (never skips a safety backup)
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,

    /// Print one JSON document on stdout (status, volumes, config, backup, restore, doctor, schedule show)
    #[arg(long, global = true)]
    pub json: bool,

    /// Print only errors
    #[arg(short = 'q', long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more: each step as it starts, the engine commands as they run, and their output
    #[arg(short = 'v', long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Never use colors (also: NO_COLOR)
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Backup directory [env: BUDGIE_BACKUP_DIR] (default: x-budgie.backup.dir, else <project>/backups)
    #[arg(long, value_name = "DIR", global = true)]
    pub backup_dir: Option<PathBuf>,

    /// The age identity that reads encrypted backups [env: BUDGIE_AGE_IDENTITY, a file or the key itself]
    #[arg(long, value_name = "FILE", global = true)]
    pub identity: Option<PathBuf>,

    /// Let the gate write an encrypted safety backup with no identity at hand to read it back
    #[arg(long, global = true)]
    pub without_identity: bool,

    /// How long to wait for another budgie working on the same project
    #[arg(long, value_name = "SECONDS", default_value_t = 120, global = true)]
    pub lock_timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum VolumesAction {
    /// DELETES DATA: remove named volumes (by key), after a safety backup
    Rm {
        /// Volume keys (as in the compose file's `volumes:`)
        #[arg(value_name = "KEY", required = true)]
        keys: Vec<String>,
        /// Do not take the safety backup (the confirmation is still required)
        #[arg(long)]
        no_backup: bool,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SnapshotCommand {
    #[command(subcommand)]
    pub action: Option<SnapshotAction>,

    /// The snapshot's name: letters, digits, _ and - [default: the moment, YYYYMMDD_HHMMSS]
    #[arg(value_name = "NAME")]
    pub name: Option<String>,

    /// Only this database service's (default: every PostgreSQL database, as one set under one name)
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotAction {
    /// List the snapshots: name, database, age, size
    List {
        /// Only this database service's
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
    },
    /// Remove a snapshot (asks for its name unless --yes)
    Rm {
        #[arg(value_name = "NAME")]
        name: String,
        /// Only this database service's (default: every PostgreSQL database's snapshot of that name)
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
    },
    /// REPLACES DATA: put the database back as a snapshot holds it, after a safety snapshot
    Restore {
        #[arg(value_name = "NAME")]
        name: Option<String>,
        /// The newest snapshot
        #[arg(long, conflicts_with = "name")]
        latest: bool,
        /// The snapshot the newest deploy took (pre-deploy-...)
        #[arg(long, conflicts_with_all = ["name", "latest"])]
        latest_deploy: bool,
        /// Only this database service's (default: every PostgreSQL database's snapshot of that name)
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
        /// Take a safety dump (a file in backups/) instead of a safety snapshot
        #[arg(long)]
        dump: bool,
        /// Take no safety copy at all (the confirmation is still required)
        #[arg(long, conflicts_with = "dump")]
        no_backup: bool,
        /// Keep the replaced database under a new name instead of dropping it
        #[arg(long)]
        keep_previous: bool,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupCommand {
    #[command(subcommand)]
    pub action: Option<BackupAction>,

    /// Compress the dump [default: x-budgie.backup.compress, else none]
    #[arg(long, value_enum)]
    pub compress: Option<crate::compose::Compression>,

    /// pg_dump's format: plain SQL (.sql), custom (.dump, restored with pg_restore -j) or directory (.dir.tar, dumped with pg_dump -j) [default: x-budgie.backup.format, else plain]
    #[arg(long, value_enum)]
    pub format: Option<crate::compose::DumpFormat>,

    /// Archive this named volume (by key) instead of dumping the database (repeatable)
    #[arg(long = "volume", value_name = "KEY")]
    pub volumes: Vec<String>,

    /// Archive every named volume that is not the database's, external or disposable
    #[arg(long)]
    pub all_volumes: bool,

    /// Print one timestamped line on stdout when the backup is done, also with -q (for schedules)
    #[arg(long)]
    pub log: bool,

    /// Dump only the database of this service [default: every database of the stack]
    #[arg(long, value_name = "SERVICE", conflicts_with_all = ["volumes", "all_volumes"])]
    pub service: Option<String>,

    /// The whole stack as one set: every database dump, every volume and host directory
    /// archive, one stamp, one manifest
    #[arg(long, conflicts_with_all = ["volumes", "all_volumes", "service"])]
    pub all: bool,

    /// Also copy the backup to this S3-compatible remote, s3://BUCKET[/PREFIX] [default: x-budgie.backup.remote]
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,

    /// Keep the backup local only, even when x-budgie.backup.remote names a remote
    #[arg(long, conflicts_with = "to")]
    pub local_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleAction {
    /// Write and enable a systemd timer (user timer; system timer as root) that runs `backup`, then `backup prune`
    Install {
        /// When: daily, hourly, or a cron expression ("15 3 * * *": minute hour day-of-month month day-of-week)
        #[arg(long, value_name = "WHEN")]
        every: String,
        /// Print the equivalent crontab line instead, and write nothing
        #[arg(long)]
        cron: bool,
    },
    /// Show the installed schedule: unit files, when, what it runs, the next run
    Show,
    /// Disable the timer and delete its unit files
    Remove,
}

#[derive(Debug, Args)]
pub struct RestoreCommand {
    /// The dump to restore: plain SQL (.gz, .zst, .xz or .bz2 too) or pg_dump custom format, told by content;
    /// or s3://BUCKET/PREFIX/FILE, downloaded into the backup directory first.
    /// Without it: a pick list at a terminal
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Restore the newest complete backup of this project
    #[arg(long, conflicts_with = "file")]
    pub latest: bool,

    /// With --latest: the newest complete copy on the remote (x-budgie.backup.remote), downloaded first
    #[arg(long, requires = "latest")]
    pub remote: bool,

    /// Restore a volume archive (from `budgie backup --volume KEY`) into this named volume
    #[arg(long, value_name = "KEY")]
    pub volume: Option<String>,

    /// Keep the replaced database under a printed name instead of dropping it
    #[arg(long)]
    pub keep_previous: bool,

    /// Restart the services that depend on the database afterwards (they hold stale connections)
    #[arg(long)]
    pub restart: bool,

    /// Do not take the safety backup first (the confirmation is still required)
    #[arg(long)]
    pub no_backup: bool,

    /// Restore into the database of this service (needed when the stack has several
    /// and the file does not say which)
    #[arg(long, value_name = "SERVICE", conflicts_with = "volume")]
    pub service: Option<String>,

    /// DANGEROUS: let psql run the meta-commands (`\!`, `\connect`...) and
    /// server-side statements (`COPY ... PROGRAM`...) a plain PostgreSQL dump
    /// holds, which budgie otherwise refuses. Only for a file you wrote yourself
    #[arg(long, conflicts_with_all = ["volume", "set"])]
    pub unsafe_allow_meta_commands: bool,

    /// Parallel pg_restore jobs for a custom- or directory-format archive
    /// [default: the database container's CPUs, at most 8]; 1 restores a
    /// custom archive in one transaction, streamed
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: Option<u32>,

    /// From a pg_dumpall file: restore the section of this database into the
    /// service's database (the file's roles and other databases are left alone)
    #[arg(long, value_name = "NAME")]
    pub from_database: Option<String>,

    /// Restore a whole set (`backup --all`, or what clean/nuke saved): every database,
    /// volume and host directory in it, behind one confirmation. STAMP as `backup list` shows it, `latest`,
    /// or the manifest's path
    #[arg(long, value_name = "STAMP", conflicts_with_all = ["file", "latest", "volume", "service"])]
    pub set: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum BackupAction {
    /// List the backups: file, kind, database, created, size, complete
    List {
        /// The remote copies instead (x-budgie.backup.remote, or --to)
        #[arg(long)]
        remote: bool,
        /// The remote to list, s3://BUCKET[/PREFIX] (implies --remote)
        #[arg(long, value_name = "URL")]
        to: Option<String>,
    },
    /// Delete old backups, keeping daily, weekly and monthly ones
    Prune {
        /// Days to keep one backup of [default: x-budgie.backup.retention.daily, else 7]
        #[arg(long, value_name = "N")]
        keep_daily: Option<u32>,
        /// Weeks to keep one backup of [default: 4]
        #[arg(long, value_name = "N")]
        keep_weekly: Option<u32>,
        /// Months to keep one backup of [default: 6]
        #[arg(long, value_name = "N")]
        keep_monthly: Option<u32>,
        /// Only the remote copies (x-budgie.backup.remote) [default: local ones, and remote ones when a remote is configured]
        #[arg(long)]
        remote_only: bool,
        /// Only the local backups
        #[arg(long, conflicts_with = "remote_only")]
        local_only: bool,
    },
    /// Check that a file is a complete dump (marker, decompression, checksum)
    Verify {
        /// A backup file, or s3://BUCKET/PREFIX/FILE (downloaded into the backup directory first)
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Also load it into a scratch database, count tables and rows, and drop it
        #[arg(long)]
        restore_test: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the stack, or the given services (compose up -d); keeps all data
    Start {
        /// Build images before starting
        #[arg(long)]
        build: bool,
        /// Services to start (default: all)
        #[arg(value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Stop and remove the containers (compose down); keeps all volumes and data
    Stop {
        /// Services to stop (default: all)
        #[arg(value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Stop, then start again; keeps all data
    Restart {
        /// Build images before starting again
        #[arg(long)]
        build: bool,
        /// Services to restart (default: all)
        #[arg(value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Build the images of services that have a build section; keeps all data
    Build {
        /// Services to build (default: all)
        #[arg(value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Build and recreate the app services, never the database (after a safety backup), and wait until they are healthy; keeps all data
    Deploy {
        /// Do not take the `_pre-deploy` safety backup of the database first
        #[arg(long)]
        no_backup: bool,
        /// Do not take the `pre-deploy-<stamp>` snapshot of the database first
        #[arg(long)]
        no_snapshot: bool,
        /// How long to wait for the services to become healthy (or running, without a healthcheck)
        #[arg(long, value_name = "SECONDS", default_value_t = 120)]
        timeout: u64,
        /// Services to deploy (default: every service except the database)
        #[arg(value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Show the services' logs
    Logs {
        /// Follow the logs (`-f` after `logs` means this, as in compose)
        #[arg(long)]
        follow: bool,
        /// Number of lines to show from the end of each log
        #[arg(long, value_name = "N")]
        tail: Option<u32>,
        /// Services (default: all)
        #[arg(value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Open an interactive shell in a service's running container
    Shell {
        #[arg(value_name = "SERVICE")]
        service: String,
    },
    /// Open psql in the database container, as the database user (the `mariadb` client for MariaDB/MySQL)
    Psql {
        /// The database's service, when the stack has several
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
        /// Extra arguments for psql (after --)
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Show services, volumes and the newest backup
    Status,
    /// List the named volumes and what deleting each would lose; `volumes rm` deletes some
    Volumes {
        #[command(subcommand)]
        action: Option<VolumesAction>,
    },
    /// Back up the database (pg_dump), or volumes; list, prune and verify backups
    Backup(BackupCommand),
    /// Instant copies of the PostgreSQL database kept by the server: take one (NAME), list, rm, restore
    Snapshot(SnapshotCommand),
    /// DELETES DATA: remove containers and the project's named volumes, after a safety backup
    Clean {
        /// Do not take the safety backup (the confirmation is still required)
        #[arg(long)]
        no_backup: bool,
    },
    /// Back up on a schedule: install, show or remove a systemd timer (or print a crontab line)
    Schedule {
        #[command(subcommand)]
        action: ScheduleAction,
    },
    /// REPLACES DATA: restore the database from a dump (or a volume from an archive), after a safety backup
    Restore(RestoreCommand),
    /// DELETES DATA: remove this project's containers, volumes, networks and unused images, after a safety backup
    Nuke {
        /// Do not take the safety backup (the confirmation is still required)
        #[arg(long)]
        no_backup: bool,
    },
    /// Show the project as budgie understands it (files, services, volumes, database)
    Config,
    /// Break the project's lock on a remote engine, left by a budgie that died (shows its holder, asks first)
    Unlock,
    /// Check that everything is in place to keep the data safe; exit 1 when a check fails
    Doctor,
    /// Print the shell completion script for bash, zsh or fish on stdout (needs no project)
    Completions {
        #[arg(value_enum, value_name = "SHELL")]
        shell: Shell,
    },
    /// Print budgie's man page (roff) on stdout (needs no project)
    Man,
}

/// The shells `budgie completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Command {
    /// Whether the command supports `--json`.
    pub fn supports_json(&self) -> bool {
        matches!(
            self,
            Command::Status
                | Command::Volumes { action: None }
                | Command::Config
                | Command::Backup(_)
                | Command::Snapshot(_)
                | Command::Restore(_)
                | Command::Doctor
                | Command::Schedule {
                    action: ScheduleAction::Show
                }
        )
    }

    pub fn name(&self) -> &'static str {
        match self {
            Command::Start { .. } => "start",
            Command::Stop { .. } => "stop",
            Command::Restart { .. } => "restart",
            Command::Build { .. } => "build",
            Command::Deploy { .. } => "deploy",
            Command::Logs { .. } => "logs",
            Command::Shell { .. } => "shell",
            Command::Psql { .. } => "psql",
            Command::Status => "status",
            Command::Volumes { action: None } => "volumes",
            Command::Volumes { action: Some(_) } => "volumes rm",
            Command::Backup(_) => "backup",
            Command::Snapshot(s) => match &s.action {
                None => "snapshot",
                Some(SnapshotAction::List { .. }) => "snapshot list",
                Some(SnapshotAction::Rm { .. }) => "snapshot rm",
                Some(SnapshotAction::Restore { .. }) => "snapshot restore",
            },
            Command::Schedule { action } => match action {
                ScheduleAction::Install { .. } => "schedule install",
                ScheduleAction::Show => "schedule show",
                ScheduleAction::Remove => "schedule remove",
            },
            Command::Clean { .. } => "clean",
            Command::Restore(_) => "restore",
            Command::Nuke { .. } => "nuke",
            Command::Config => "config",
            Command::Unlock => "unlock",
            Command::Doctor => "doctor",
            Command::Completions { .. } => "completions",
            Command::Man => "man",
        }
    }
}

/// The command line as a user types it, for completions and the man page:
/// the clap definitions, with `-f` after `logs` meaning `--follow` as
/// [`normalize_args`] makes it (clap cannot parse one short flag with two
/// meanings, but it can describe it: within `logs`, `--file` keeps only its
/// long form and `-f` belongs to `--follow`).
pub fn documented_command() -> clap::Command {
    let cmd = Cli::command();
    let file = cmd
        .get_arguments()
        .find(|a| a.get_id() == "files")
        .cloned()
        .expect("the global --file option");
    let file = file
        .short(None)
        .global(false)
        .help("Compose file to use (here only as --file: -f is --follow)");
    cmd.mut_subcommand("logs", |logs| {
        logs.arg(file).mut_arg("follow", |follow| follow.short('f'))
    })
}

/// Global options that take a value (so the token after them is not the subcommand).
const VALUE_OPTIONS: [&str; 7] = [
    "-f",
    "--file",
    "-p",
    "--project-name",
    "-C",
    "--directory",
    "--engine",
];

/// `-f` is the global `--file`, except after `logs`, where it means
/// `--follow` as it does for `docker compose logs -f`. clap cannot express
/// one short flag with two meanings, so the argv is rewritten first.
pub fn normalize_args(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut i = 1;
    let mut sub = None;
    while i < args.len() {
        let tok = args[i].to_string_lossy();
        if tok == "--" {
            break;
        }
        if VALUE_OPTIONS.contains(&tok.as_ref()) {
            i += 2;
        } else if tok.starts_with('-') {
            i += 1;
        } else {
            sub = Some(i);
            break;
        }
    }
    let Some(sub) = sub else { return args };
    if args[sub] != "logs" {
        return args;
    }
    let mut out = args;
    for tok in out.iter_mut().skip(sub + 1) {
        if tok == "--" {
            break;
        }
        if tok == "-f" {
            *tok = "--follow".into();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_work_on_both_sides() {
        let a = Cli::try_parse_from(["budgie", "--yes", "--dry-run", "stop"]).unwrap();
        let b = Cli::try_parse_from(["budgie", "stop", "--yes", "--dry-run"]).unwrap();
        assert!(a.global.yes && b.global.yes);
        assert!(a.global.dry_run && b.global.dry_run);
        let c = Cli::try_parse_from(["budgie", "status", "-f", "a.yml", "-f", "b.yml", "-p", "x"])
            .unwrap();
        assert_eq!(c.global.files.len(), 2);
        assert_eq!(c.global.project_name.as_deref(), Some("x"));
    }

    fn parse(args: &[&str]) -> Cli {
        let argv = args.iter().map(std::ffi::OsString::from).collect();
        Cli::try_parse_from(normalize_args(argv)).unwrap()
    }

    #[test]
    fn dash_f_follows_after_logs_and_names_a_file_elsewhere() {
        let c = parse(&["budgie", "-f", "a.yml", "logs", "-f", "db"]);
        assert_eq!(c.global.files, [PathBuf::from("a.yml")]);
        match c.command {
            Command::Logs {
                follow, services, ..
            } => {
                assert!(follow);
                assert_eq!(services, ["db"]);
            }
            other => panic!("{other:?}"),
        }
        let c = parse(&["budgie", "logs", "--file", "b.yml"]);
        assert_eq!(c.global.files, [PathBuf::from("b.yml")]);
        let c = parse(&["budgie", "-f", "logs", "status"]);
        assert_eq!(c.global.files, [PathBuf::from("logs")]);
        assert!(matches!(c.command, Command::Status));
    }

    #[test]
    fn documented_logs_dash_f_is_follow_as_the_parser_reads_it() {
        documented_command().debug_assert();
        let mut cmd = documented_command();
        cmd.build();
        let logs = cmd.find_subcommand("logs").unwrap();
        let arg = |id: &str| logs.get_arguments().find(|a| a.get_id() == id).unwrap();
        assert_eq!(arg("follow").get_short(), Some('f'));
        assert_eq!(arg("files").get_short(), None);
        assert_eq!(arg("files").get_long(), Some("file"));
        let status = cmd.find_subcommand("status").unwrap();
        let file = status.get_arguments().find(|a| a.get_id() == "files");
        assert_eq!(file.and_then(|a| a.get_short()), Some('f'));
        // and the parser agrees
        match parse(&["budgie", "logs", "-f"]).command {
            Command::Logs { follow, .. } => assert!(follow),
            other => panic!("{other:?}"),
        }
    }
}
