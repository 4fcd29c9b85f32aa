//! The application: parse the command line, build one [`Context`]
//! (except for `completions`, `man` and `doctor`, which load the project
//! themselves or need none), call one command, and map the result to an
//! exit code (DESIGN.md): 0 done, 1 error, 2 usage, 3 refused, 4 safety
//! backup failed, 130 interrupted.

use crate::{cli, commands, interrupt, recover};

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::ui::Ui;

/// budgie's `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse_from(cli::normalize_args(std::env::args_os().collect()));
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let no_color_env = env.get("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ui = Ui::new(
        cli.global.no_color,
        cli.global.quiet,
        cli.global.verbose,
        no_color_env,
    );
    // Ctrl-C: children in our process group get it too; budgie notes it and
    // stops between steps with exit 130 instead of dying half-way.
    let _ = ctrlc::set_handler(|| {
        interrupt::INTERRUPTED.store(true, Ordering::SeqCst);
        if interrupt::PROMPTING.load(Ordering::SeqCst) {
            // Waiting for an answer: nothing is being deleted, stop now.
            let _ = console_reset();
            eprintln!("\ninterrupted: nothing was deleted");
            std::process::exit(130);
        }
    });
    let code = match run(cli, ui.clone(), env) {
        Ok(code) => code,
        Err(e) => {
            ui.error(&e);
            e.exit as i32
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Shows the cursor again after an interrupted prompt.
fn console_reset() -> std::io::Result<()> {
    use std::io::Write;
    let mut e = std::io::stderr();
    e.write_all(b"\x1b[?25h")?;
    e.flush()
}

fn run(cli: Cli, ui: Ui, env: BTreeMap<String, String>) -> Result<i32> {
    if cli.global.json && !cli.command.supports_json() {
        return Err(Error::usage(format!(
            "--json is not supported by `budgie {}` (only status, volumes, config, backup, restore, doctor and schedule show)",
            cli.command.name()
        )));
    }
    // These describe budgie, not a project: they run before any compose
    // file is looked for, so they work in any directory.
    match cli.command {
        Command::Completions { shell } => return commands::docs::completions(shell),
        Command::Man => return commands::docs::man(),
        Command::Doctor => {
            // Doctor loads the project itself: a bad compose file is one of
            // the things it reports, not a reason to stop.
            return commands::doctor::run(cli.global, ui, env);
        }
        _ => {}
    }
    // `schedule install` copies a few settings from the process environment
    // into the unit it writes (a timer does not inherit them).
    let process_env = env.clone();
    let ctx = Context::load(cli.global, ui, env)?;
    // What compose would warn about (a variable used without a value, an
    // include or key budgie ignores), as compose does: on every command.
    for w in &ctx.project.warnings {
        ctx.ui.warn(w);
    }
    // Before anything else: what an interrupted budgie left behind.
    if !matches!(cli.command, Command::Config) {
        recover::check(&ctx)?;
    }
    use commands::{backup, config, destroy, lifecycle, status, volumes};
    match &cli.command {
        Command::Start { build, services } => lifecycle::start(&ctx, *build, services),
        Command::Stop { services } => lifecycle::stop(&ctx, services),
        Command::Restart { build, services } => lifecycle::restart(&ctx, *build, services),
        Command::Build { services } => lifecycle::build(&ctx, services),
        Command::Deploy {
            no_backup,
            no_snapshot,
            timeout,
            services,
        } => commands::deploy::run(
            &ctx,
            services,
            commands::deploy::Safety {
                no_backup: *no_backup,
                no_snapshot: *no_snapshot,
            },
            *timeout,
        ),
        Command::Logs {
            follow,
            tail,
            services,
        } => lifecycle::logs(&ctx, *follow, *tail, services),
        Command::Shell { service } => lifecycle::shell(&ctx, service),
        Command::Psql { service, args } => lifecycle::psql(&ctx, service.as_deref(), args),
        Command::Status => status::run(&ctx),
        Command::Volumes { action: None } => volumes::run(&ctx),
        Command::Volumes {
            action: Some(cli::VolumesAction::Rm { keys, no_backup }),
        } => destroy::volumes_rm(&ctx, keys, *no_backup),
        Command::Backup(b) => backup::run(&ctx, b),
        Command::Snapshot(s) => commands::snapshot::run(&ctx, s),
        Command::Clean { no_backup } => destroy::clean(&ctx, *no_backup),
        Command::Nuke { no_backup } => destroy::nuke(&ctx, *no_backup),
        Command::Restore(r) => commands::restore::run(&ctx, r),
        Command::Schedule { action } => commands::schedule::run(&ctx, action, &process_env),
        Command::Config => config::run(&ctx),
        Command::Unlock => crate::engine_lock::unlock(&ctx),
        Command::Completions { .. } | Command::Man | Command::Doctor => {
            unreachable!("run above, before the project is loaded")
        }
    }
}
