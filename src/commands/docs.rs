//! `budgie completions SHELL` and `budgie man`: what a shell and `man` need
//! to know about budgie, generated from the clap definitions so they can
//! never drift from what budgie actually parses.
//!
//! They describe budgie itself, not a project, so `main` runs them before
//! any compose file is looked for: they work in any directory (a packager
//! or an install step runs them where there is no project).

use std::io::Write;

use crate::cli::{self, Shell};
use crate::error::{Error, Result};

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: Shell) -> Result<i32> {
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(
        generator,
        &mut cli::documented_command(),
        "budgie",
        &mut script,
    );
    print(&script)
}

/// What budgie(1) says before its options: the README's opening, short.
const DESCRIPTION: &str = "budgie runs a compose stack that holds a PostgreSQL database, under podman or docker, and never loses the database's data. It reads the project's compose files, knows which named volumes hold data, and asks the engine directly what is running.

A command that changes the stack or the database is a plan of numbered steps first. --dry-run prints the plan, with the exact engine commands and the exact names of the backup files it would write, and changes nothing (backup prune lists the files it would delete). With -v, a real run names each step as it starts (step: ...).

The commands that delete or replace data (clean, nuke, volumes rm, restore) go through one safety gate. It shows what will be lost, and refuses at once (exit 3) when there is no terminal to ask at and no --yes. Then the plan's first steps are the safety backups: a checked pg_dump of the database and an archive of every other volume, except those marked disposable. If one fails, budgie stops with exit 4 and deletes nothing. Next comes the confirmation: type the project name (the database name when a restore replaces the database), or pass --yes. Only then does anything get deleted. --no-backup skips the safety backups, never the confirmation. deploy takes the same safety dump before it recreates the app services.

Global options work before or after the command.";

/// The exit codes of DESIGN.md, for the EXIT STATUS section.
const EXIT_STATUS: [(&str, &str); 6] = [
    ("0", "done"),
    (
        "1",
        "error (bad compose file, engine not installed or not running, a command failed)",
    ),
    ("2", "usage (unknown option, unknown service, bad value)"),
    ("3", "not confirmed, or refused (no terminal and no --yes)"),
    ("4", "a safety backup failed; nothing was deleted"),
    ("130", "interrupted"),
];

/// The environment variables budgie reads, for the ENVIRONMENT section.
const ENVIRONMENT: [(&str, &str); 19] = [
    (
        "BUDGIE_ENGINE",
        "podman or docker, when --engine is not given.",
    ),
    (
        "BUDGIE_COMPOSE",
        "The exact compose command, such as podman-compose or \"docker compose\" (split on spaces); it must answer version. When no engine is chosen, a command starting with podman or docker chooses that engine.",
    ),
    (
        "BUDGIE_BACKUP_DIR",
        "The backup directory, when --backup-dir is not given. It overrides x-budgie.backup.dir.",
    ),
    (
        "BUDGIE_COMPRESS",
        "none, gzip or zstd: the compression of new dumps, safety backups included, when --compress is not given. It overrides x-budgie.backup.compress.",
    ),
    (
        "BUDGIE_FORMAT",
        "plain, custom or directory: pg_dump's format for new PostgreSQL dumps, safety backups included, when --format is not given. It overrides x-budgie.backup.format.",
    ),
    (
        "BUDGIE_WAIT_SECONDS",
        "How long to wait for the database to accept connections after starting it (start, restart, and a backup or restore that has to start it). Default 120.",
    ),
    (
        "BUDGIE_BACKUP_MAX_AGE_HOURS",
        "How old the newest backup may be, in whole hours, before doctor fails its newest-backup check. Default: what the installed schedule allows, else 24.",
    ),
    (
        "BUDGIE_SYSTEMD_DIR",
        "Where schedule install, show and remove, and doctor, find the systemd unit files. Default: $XDG_CONFIG_HOME/systemd/user (~/.config/systemd/user), or /etc/systemd/system as root.",
    ),
    (
        "DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CONFIG",
        "docker's endpoint, its context, and where the CLI keeps its contexts. budgie resolves them as the docker CLI does (--engine-host, --context, DOCKER_HOST, DOCKER_CONTEXT, the current context) and passes the endpoint to every engine and compose call.",
    ),
    (
        "CONTAINER_HOST, CONTAINER_CONNECTION, CONTAINER_SSHKEY",
        "podman's endpoint, its named connection, and the SSH key of an ssh:// one (--engine-host, --connection, CONTAINER_HOST, CONTAINER_CONNECTION).",
    ),
    (
        "BUDGIE_SSH_COMMAND",
        "The ssh program and its first options for ssh:// engines (split on spaces), like git's GIT_SSH_COMMAND. Default: ssh.",
    ),
    (
        "BUDGIE_CRASH_AT",
        "For budgie's own tests only: budgie kills itself with SIGKILL at the named point. Never set it.",
    ),
    (
        "NO_COLOR",
        "When set and not empty: no colors (as --no-color).",
    ),
    (
        "COMPOSE_FILE",
        "The compose files, when no -f is given, separated by COMPOSE_PATH_SEPARATOR (default :).",
    ),
    (
        "COMPOSE_PATH_SEPARATOR",
        "The separator between the files of COMPOSE_FILE.",
    ),
    (
        "COMPOSE_PROJECT_NAME",
        "The project name, when no -p is given. It overrides the compose file's name:.",
    ),
    (
        "COMPOSE_PROFILES",
        "The active profiles, comma-separated: deploy leaves out the services whose profiles are all inactive.",
    ),
    (
        "PATH",
        "Where budgie looks for podman, docker and the compose tools.",
    ),
    (
        "HOME, XDG_CONFIG_HOME",
        "Where user systemd units go. HOME also expands ~ in paths in compose files.",
    ),
];

/// Prints one roff document on stdout: budgie's page (what budgie is, the
/// global options, the list of commands, the exit codes, the environment),
/// then a page for each command and sub-command (`budgie-restore(1)`,
/// `budgie-backup-verify(1)`...) — the pages that list refers to — each
/// showing only its own options.
pub fn man() -> Result<i32> {
    let mut cmd = cli::documented_command()
        .about("run a compose stack with a PostgreSQL database, without ever losing its data")
        .long_about(DESCRIPTION)
        .disable_help_subcommand(true);
    cmd.build();
    let mut page = Vec::new();
    render(&cmd, true, &mut page)
        .map_err(|e| Error::new(format!("could not render the man page: {e}")))?;
    print(&page)
}

fn render(cmd: &clap::Command, top: bool, out: &mut Vec<u8>) -> std::io::Result<()> {
    use roff::{Roff, bold, roman};
    let mut extra = Roff::new();
    if top {
        man_page(cmd.clone()).render(out)?;
        extra.control("SH", ["EXIT STATUS"]);
        for (code, meaning) in EXIT_STATUS {
            extra
                .control("TP", [])
                .text([bold(code)])
                .text([roman(meaning)]);
        }
        extra.control("PP", []).text([roman(
            "For logs, shell and psql, budgie exits with the status of the command it handed the terminal to.",
        )]);
        extra.control("SH", ["ENVIRONMENT"]);
        for (name, meaning) in ENVIRONMENT {
            extra
                .control("TP", [])
                .text([bold(name)])
                .text([roman(meaning)]);
        }
        extra.control("PP", []).text([roman(
            "A flag beats an environment variable, which beats the compose file's x-budgie: section. The BUDGIE_* and COMPOSE_* variables (except BUDGIE_CRASH_AT) may also be set in the project's .env file; the process environment wins. Every variable is also available to interpolation in the compose files, and the engines and compose tools budgie runs inherit the environment (DOCKER_HOST, CONTAINER_HOST...). schedule install copies BUDGIE_ENGINE, BUDGIE_COMPOSE, BUDGIE_BACKUP_DIR, BUDGIE_COMPRESS, COMPOSE_FILE, DOCKER_HOST and CONTAINER_HOST from the environment into the timer's unit.",
        )]);
    } else {
        // After `build`, every command carries the global options too; on a
        // command's own page they would only repeat budgie(1)'s OPTIONS.
        let page = cmd
            .clone()
            .mut_args(|a| if a.is_global_set() { a.hide(true) } else { a })
            .version(None);
        man_page(page).render(out)?;
        extra.control("SH", ["GLOBAL OPTIONS"]);
        extra.text([
            roman("The global options of "),
            bold("budgie"),
            roman("(1) (--dry-run, --yes, --file, -C and the others) work here too."),
        ]);
    }
    out.extend_from_slice(extra.to_roff().as_bytes());
    let mut subs: Vec<&clap::Command> = cmd.get_subcommands().collect();
    subs.sort_by_key(|s| s.get_display_order());
    for sub in subs {
        render(sub, false, out)?;
    }
    Ok(())
}

/// One page, its footer naming budgie and its version.
fn man_page(cmd: clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(cmd).source(concat!("budgie ", env!("CARGO_PKG_VERSION")))
}

/// Writes `bytes` to stdout; a reader that stops early (`| head`) is not an
/// error.
fn print(bytes: &[u8]) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Error::new(format!("could not write to stdout: {e}"))),
    }
}
