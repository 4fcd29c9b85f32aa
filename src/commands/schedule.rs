//! `budgie schedule install|show|remove`: scheduled backups as a systemd
//! timer (a user timer, or a system one as root), or a crontab line.
//!
//! The timer runs `budgie backup --quiet --log` (one line on success, an
//! error and a non-zero exit on failure, so systemd marks the run failed),
//! then `budgie backup prune --quiet`, with this project's options pinned:
//! budgie's absolute path, `-C DIR`, `-p NAME`, and `-f`, `--backup-dir`,
//! `--engine` when given. Environment settings budgie reads that a timer
//! would not have (`BUDGIE_ENGINE`, `BUDGIE_COMPOSE`...) go into the unit.
//!
//! Enabling needs a running systemd. Without one (a container, a machine
//! without systemctl) the files are still written and budgie exits 1
//! naming the commands to run, so the schedule is never silently inactive.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::ScheduleAction;
use crate::compose::Project;
use crate::context::Context;
use crate::engine::{self, Cmd};
use crate::error::{Error, Result};
use crate::schedule::{self, Every, Job};

/// Settings from the environment that change what a scheduled backup
/// does, and that a timer or cron does not inherit.
const CAPTURED_ENV: [&str; 11] = [
    "BUDGIE_ENGINE",
    "BUDGIE_COMPOSE",
    "BUDGIE_BACKUP_DIR",
    "BUDGIE_COMPRESS",
    "COMPOSE_FILE",
    // Where the engine is (see `engine::endpoint`), and how SSH gets there.
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "CONTAINER_HOST",
    "CONTAINER_CONNECTION",
    "CONTAINER_SSHKEY",
    "BUDGIE_SSH_COMMAND",
];

pub fn run(ctx: &Context, action: &ScheduleAction, env: &BTreeMap<String, String>) -> Result<i32> {
    match action {
        ScheduleAction::Install { every, cron } => install(ctx, every, *cron, env),
        ScheduleAction::Show => show(ctx),
        ScheduleAction::Remove => remove(ctx),
    }
}

/// Where this project's units are, or would be written.
struct Units {
    dir: PathBuf,
    /// `budgie-backup-<project>`
    name: String,
    /// A user timer (`systemctl --user`), else a system one.
    user: bool,
}

impl Units {
    fn of(project: &Project) -> Result<Units> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let env = |k: &str| project.env.get(k).cloned();
        let dir = schedule::unit_dir(root, &env).ok_or_else(|| {
            Error::new("cannot tell where systemd user units go: HOME is not set")
                .hint("set BUDGIE_SYSTEMD_DIR to the directory for the unit files")
        })?;
        Ok(Units {
            dir,
            name: schedule::unit_name(&project.name),
            user: !root,
        })
    }

    fn timer(&self) -> PathBuf {
        self.dir.join(format!("{}.timer", self.name))
    }

    fn service(&self) -> PathBuf {
        self.dir.join(format!("{}.service", self.name))
    }

    fn systemctl(&self, args: &[&str]) -> Cmd {
        let mut argv = vec!["systemctl"];
        if self.user {
            argv.push("--user");
        }
        argv.extend_from_slice(args);
        Cmd::new(argv)
    }

    fn timer_unit(&self) -> String {
        format!("{}.timer", self.name)
    }
}

/// The schedule installed for a project, as `doctor` reads it: the
/// `--every` recorded in its timer file, and the command that shows the
/// service's log.
pub fn installed(project: &Project) -> Option<(Every, String)> {
    let units = Units::of(project).ok()?;
    let text = std::fs::read_to_string(units.timer()).ok()?;
    let every = Every::parse(&schedule::recorded_every(&text)?).ok()?;
    let user = if units.user { "--user " } else { "" };
    Some((every, format!("journalctl {user}-u {}.service", units.name)))
}

/// What the timer runs, for this project as it was loaded.
fn job(ctx: &Context, env: &BTreeMap<String, String>) -> Result<Job> {
    let program = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| Error::new(format!("cannot tell where budgie itself is: {e}")))?;
    let project = &ctx.project;
    let mut options: Vec<String> = vec![
        "-C".into(),
        project.dir.display().to_string(),
        "-p".into(),
        project.name.clone(),
    ];
    if !ctx.global.files.is_empty() {
        for f in &project.files {
            options.push("-f".into());
            options.push(project.dir.join(f).display().to_string());
        }
    }
    if ctx.global.backup_dir.is_some() {
        options.push("--backup-dir".into());
        options.push(ctx.backup_dir().display().to_string());
    }
    if let Some(kind) = ctx.global.engine {
        options.push("--engine".into());
        options.push(kind.to_string());
    }
    let g = &ctx.global;
    for (flag, value) in [
        ("--engine-host", &g.engine_host),
        ("--context", &g.context),
        ("--connection", &g.connection),
    ] {
        if let Some(v) = value {
            options.extend([flag.to_string(), v.clone()]);
        }
    }
    let env = CAPTURED_ENV
        .iter()
        .filter_map(|k| {
            env.get(*k)
                .filter(|v| !v.is_empty())
                .map(|v| (k.to_string(), v.clone()))
        })
        .collect();
    let job = Job {
        project: project.name.clone(),
        project_dir: project.dir.clone(),
        program,
        options,
        env,
    };
    if let Some(bad) = job.unwritable() {
        return Err(Error::usage(format!(
            "cannot schedule a command holding a control character (a newline?) in {bad:?}: a unit file or crontab line cannot hold it"
        )));
    }
    Ok(job)
}

fn install(ctx: &Context, every: &str, cron: bool, env: &BTreeMap<String, String>) -> Result<i32> {
    let every = Every::parse(every).map_err(Error::usage)?;
    let job = job(ctx, env)?;
    let ui = &ctx.ui;
    if cron {
        ui.output(&schedule::cron_line(&job, &every));
        ui.info("add it to your crontab (crontab -e); this wrote nothing");
        return Ok(0);
    }
    let units = Units::of(&ctx.project)?;
    let files = [
        (units.service(), schedule::service_text(&job)),
        (units.timer(), schedule::timer_text(&job, &every)),
    ];
    let reload = units.systemctl(&["daemon-reload"]);
    let enable = units.systemctl(&["enable", "--now", &units.timer_unit()]);
    if ctx.global.dry_run {
        ui.heading(&format!(
            "Plan for `budgie schedule install` on project {} (dry run: nothing will be written)",
            ctx.project.name
        ));
        for (i, (path, text)) in files.iter().enumerate() {
            ui.print(&format!("{}. Write {}:", i + 1, path.display()));
            for line in text.lines() {
                ui.print(&format!("     {line}"));
            }
        }
        ui.print(&format!("3. $ {reload}"));
        ui.print(&format!("4. $ {enable}"));
        return Ok(0);
    }
    if let Ok(text) = std::fs::read_to_string(units.service())
        && let Some(other) = schedule::recorded_dir(&text)
        && other != ctx.project.dir
    {
        return Err(Error::new(format!(
            "{} already schedules backups of another project named {}, in {}",
            units.service().display(),
            ctx.project.name,
            other.display()
        ))
        .hint(format!(
            "remove that schedule first (budgie -C {} schedule remove), or give this project another name with -p",
            engine::shell_quote(&other.display().to_string())
        )));
    }
    std::fs::create_dir_all(&units.dir)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", units.dir.display())))?;
    for (path, text) in &files {
        write_unit(path, text)?;
    }
    ui.success(&format!(
        "wrote {} and {}",
        units.service().display(),
        units.timer().display()
    ));
    let on = every.on_calendar().join(", ");
    for cmd in [&reload, &enable] {
        if let Err(why) = systemctl(cmd, &ctx.project.env) {
            return Err(Error::new(format!(
                "the timer is written but NOT enabled, so no backup will run yet: `{cmd}` {why}"
            ))
            .hint(format!(
                "run where systemd is running: {reload} && {enable}\n\
                 or use cron instead: budgie schedule install --every {} --cron",
                engine::shell_quote(&every.spec())
            )));
        }
    }
    ui.success(&format!(
        "backups of project {} run {} (OnCalendar={on}), then `backup prune`; `budgie schedule show` tells the next run",
        ctx.project.name,
        every.spec()
    ));
    if units.user {
        ui.info(
            "a user timer runs while you are logged in; to run it also when you are not: loginctl enable-linger",
        );
    }
    Ok(0)
}

/// Writes a unit file whole or not at all (a temporary file renamed), 0644.
fn write_unit(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let fail = |e: std::io::Error| Error::new(format!("cannot write {}: {e}", path.display()));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Runs a systemctl command; the error says why it did not work.
fn systemctl(cmd: &Cmd, env: &BTreeMap<String, String>) -> std::result::Result<(), String> {
    if engine::which("systemctl", env).is_none() {
        return Err("cannot run: systemctl is not installed".into());
    }
    let out = cmd.output().map_err(|e| e.message)?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let said: Vec<&str> = said
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    Err(format!(
        "failed (exit status {}): {}",
        out.status.code().unwrap_or(-1),
        said.join("; ")
    ))
}

/// Whether systemctl's words say no systemd is running here (so no timer
/// of ours can be active either).
fn no_systemd(why: &str) -> bool {
    why.contains("not been booted with systemd")
        || why.contains("Failed to connect to bus")
        || why.contains("systemctl is not installed")
}

#[derive(Serialize)]
struct ShowDoc {
    project: String,
    installed: bool,
    unit_dir: String,
    timer: Option<String>,
    service: Option<String>,
    every: Option<String>,
    on_calendar: Vec<String>,
    exec_start: Vec<String>,
    /// systemd's `ActiveState` of the timer, when systemctl can tell.
    active: Option<String>,
    /// systemd's next elapse time, when systemctl can tell.
    next_run: Option<String>,
}

fn show(ctx: &Context) -> Result<i32> {
    let units = Units::of(&ctx.project)?;
    let ui = &ctx.ui;
    let mut doc = ShowDoc {
        project: ctx.project.name.clone(),
        installed: false,
        unit_dir: units.dir.display().to_string(),
        timer: None,
        service: None,
        every: None,
        on_calendar: Vec::new(),
        exec_start: Vec::new(),
        active: None,
        next_run: None,
    };
    let timer = read_if_exists(&units.timer())?;
    let service = read_if_exists(&units.service())?;
    let mut systemctl_said = None;
    if let Some(text) = &timer {
        doc.installed = true;
        doc.timer = Some(units.timer().display().to_string());
        doc.every = schedule::recorded_every(text);
        doc.on_calendar = schedule::values(text, "OnCalendar")
            .into_iter()
            .map(String::from)
            .collect();
        let cmd = units.systemctl(&[
            "show",
            &units.timer_unit(),
            "--property=ActiveState,NextElapseUSecRealtime",
        ]);
        match systemctl_read(&cmd, &ctx.project.env) {
            Ok(text) => {
                for line in text.lines() {
                    let value = |p: &str| {
                        line.strip_prefix(p)
                            .map(str::trim)
                            .filter(|v| !v.is_empty() && *v != "n/a")
                            .map(String::from)
                    };
                    doc.active = doc.active.take().or_else(|| value("ActiveState="));
                    doc.next_run = doc
                        .next_run
                        .take()
                        .or_else(|| value("NextElapseUSecRealtime="));
                }
            }
            Err(why) => systemctl_said = Some(format!("`{cmd}` {why}")),
        }
    }
    if let Some(text) = &service {
        doc.installed = true;
        doc.service = Some(units.service().display().to_string());
        doc.exec_start = schedule::values(text, "ExecStart")
            .into_iter()
            .map(String::from)
            .collect();
    }
    if ctx.global.json {
        crate::commands::print_json(&doc)?;
        return Ok(0);
    }
    if !doc.installed {
        ui.info(&format!(
            "no backup schedule is installed for project {} (looked in {})",
            ctx.project.name,
            units.dir.display()
        ));
        ui.print("  install one: budgie schedule install --every daily");
        return Ok(0);
    }
    ui.heading(&format!("Backup schedule of project {}", ctx.project.name));
    let none = || "(missing)".to_string();
    ui.print(&format!(
        "  timer     {}",
        doc.timer.clone().unwrap_or_else(none)
    ));
    ui.print(&format!(
        "  service   {}",
        doc.service.clone().unwrap_or_else(none)
    ));
    if let Some(e) = &doc.every {
        ui.print(&format!("  every     {e}"));
    }
    ui.print(&format!("  calendar  {}", doc.on_calendar.join(", ")));
    for c in &doc.exec_start {
        ui.print(&format!("  runs      {c}"));
    }
    match (&doc.active, &doc.next_run) {
        (_, Some(next)) => ui.print(&format!("  next run  {next}")),
        (Some(active), None) => ui.print(&format!("  next run  unknown (the timer is {active})")),
        (None, None) => ui.print(&format!(
            "  next run  unknown: {}",
            systemctl_said.unwrap_or_else(|| "systemctl does not say".into())
        )),
    }
    Ok(0)
}

fn systemctl_read(
    cmd: &Cmd,
    env: &BTreeMap<String, String>,
) -> std::result::Result<String, String> {
    if engine::which("systemctl", env).is_none() {
        return Err("cannot run: systemctl is not installed".into());
    }
    let out = cmd.output().map_err(|e| e.message)?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let said: Vec<&str> = said
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        return Err(format!("failed: {}", said.join("; ")));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn read_if_exists(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::new(format!("cannot read {}: {e}", path.display()))),
    }
}

fn remove(ctx: &Context) -> Result<i32> {
    let units = Units::of(&ctx.project)?;
    let ui = &ctx.ui;
    let present: Vec<PathBuf> = [units.timer(), units.service()]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
    if present.is_empty() {
        ui.info(&format!(
            "no backup schedule is installed for project {} (looked in {}): nothing to remove",
            ctx.project.name,
            units.dir.display()
        ));
        return Ok(0);
    }
    let disable = units.systemctl(&["disable", "--now", &units.timer_unit()]);
    let reload = units.systemctl(&["daemon-reload"]);
    if ctx.global.dry_run {
        ui.heading(&format!(
            "Plan for `budgie schedule remove` on project {} (dry run: nothing will be changed)",
            ctx.project.name
        ));
        ui.print(&format!("1. $ {disable}"));
        for (i, p) in present.iter().enumerate() {
            ui.print(&format!("{}. Delete {}", i + 2, p.display()));
        }
        ui.print(&format!("{}. $ {reload}", present.len() + 2));
        return Ok(0);
    }
    let disabled = systemctl(&disable, &ctx.project.env);
    for p in &present {
        std::fs::remove_file(p)
            .map_err(|e| Error::new(format!("cannot delete {}: {e}", p.display())))?;
    }
    let shown: Vec<String> = present.iter().map(|p| p.display().to_string()).collect();
    match disabled {
        Ok(()) => {
            if let Err(why) = systemctl(&reload, &ctx.project.env) {
                ui.warn(&format!("`{reload}` {why}"));
            }
        }
        Err(why) if no_systemd(&why) => {
            ui.info(&format!(
                "systemd is not running here, so no timer was active (`{disable}` {why})"
            ));
        }
        Err(why) => {
            return Err(Error::new(format!(
                "deleted {}, but `{disable}` {why}",
                shown.join(" and ")
            ))
            .hint(format!(
                "if systemd still runs the timer: {} && {reload}",
                units.systemctl(&["stop", &units.timer_unit()])
            )));
        }
    }
    ui.success(&format!(
        "removed the backup schedule of project {}: deleted {}",
        ctx.project.name,
        shown.join(" and ")
    ));
    Ok(0)
}
