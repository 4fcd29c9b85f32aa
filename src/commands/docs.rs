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
const DESCRIPTION: &str = "budgie runs a compose stack that holds a PostgreSQL database, under podman or docker, and never loses the database's data. It reads compose.yml, knows which named volumes hold data, and asks the engine directly what is running.

Every command is a plan first: --dry-run prints the exact engine commands and runs nothing. The commands that delete or replace data (clean, nuke, volumes rm, restore) go through one safety gate: they show what will be lost, take a checked pg_dump of the database (and an archive of every other volume), and ask for the project name, or --yes, before anything is deleted.

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

/// Prints one roff document on stdout: budgie's page (what budgie is, the
/// global options, the list of commands, the exit codes), then a page for
/// each command and sub-command (`budgie-restore(1)`,
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
