//! Plans: every command that changes anything becomes an ordered list of
//! steps first. `--dry-run` prints the plan (the exact argv of every engine
//! call) and stops; otherwise the executor runs the steps in order and stops
//! at the first failure.
//!
//! Safety is a property of the plan: [`Plan::deletes`] tells which steps
//! delete or replace data, and the gate (a later layer) stands between such
//! a plan and its execution. No command decides that by itself.

use std::sync::atomic::{AtomicBool, Ordering};

use std::time::{Duration, Instant};

use crate::engine::{Cmd, Container, Engine, EngineKind};
use crate::error::{Error, Result};
use crate::ui::Ui;

/// Set by the Ctrl-C handler; the executor checks it between steps.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// One step of a plan.
#[derive(Debug, Clone)]
pub struct Step {
    /// What the step does, in the user's words ("Start services db, app").
    pub what: String,
    pub action: Action,
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
    /// Wait until the database service's container answers `pg_isready`.
    WaitForDatabase(WaitForDatabase),
    /// Wait until services' containers are healthy (or running, without a
    /// healthcheck); on failure show the last lines of their logs.
    WaitForServices(WaitForServices),
    /// Delete these volumes (exact engine names). Runs only with a ticket
    /// from the gate that covers every name.
    RemoveVolumes { engine: Engine, names: Vec<String> },
    /// Remove these image references, each only if no container uses it
    /// (the engine refuses otherwise, and budgie keeps it).
    RemoveImages {
        engine: Engine,
        references: Vec<String>,
    },
    /// Load a dump into a scratch database, check it, swap it in for the
    /// current one. Runs only with a ticket that covers the database.
    ReplaceDatabase(Box<ReplaceDatabase>),
    /// Replace a volume's contents with an archive's. Runs only with a
    /// ticket that covers the volume.
    RestoreVolume(Box<RestoreVolume>),
}

/// See [`Action::ReplaceDatabase`].
#[derive(Debug, Clone)]
pub struct ReplaceDatabase {
    pub engine: Engine,
    /// The database's running container (found by labels when planned).
    pub container: String,
    pub db: crate::compose::Database,
    pub source: crate::restore::Source,
    pub keep_previous: bool,
    /// Names the side databases (`restore::side_name`): chosen when
    /// planned, so that the journal can name them before they exist.
    pub stamp: String,
    /// Filled in when the step has run.
    pub result: std::sync::Arc<std::sync::Mutex<Option<crate::restore::Restored>>>,
}

impl ReplaceDatabase {
    /// What the restore creates besides the database, for the journal.
    pub fn sides(&self) -> crate::recover::Sides {
        crate::recover::Sides::restore(
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
    pub engine: Engine,
    pub volume: String,
    pub image: String,
    pub archive: crate::restore::Source,
}

/// Waits for PostgreSQL inside the service's running container (found by
/// labels each time: the container may be recreated meanwhile).
#[derive(Debug, Clone)]
pub struct WaitForDatabase {
    pub engine: Engine,
    pub project: String,
    pub service: String,
    pub user: String,
    pub database: String,
    pub timeout: Duration,
}

impl WaitForDatabase {
    /// The probe, as shown by `--dry-run` (the container is found when it
    /// runs): `pg_isready` over TCP (see [`Engine::pg_isready`]).
    pub fn probe(&self, container: &str) -> Cmd {
        self.engine
            .pg_isready(container, &self.user, &self.database)
    }

    fn run(&self) -> Result<()> {
        let started = Instant::now();
        let mut last = String::from("its container is not running");
        loop {
            if interrupted() {
                return Err(Error::interrupted());
            }
            if let Some(c) = self
                .engine
                .running_container(&self.project, &self.service)?
            {
                let out = self.probe(&c.id).output()?;
                if out.status.success() {
                    return Ok(());
                }
                last = format!(
                    "pg_isready said: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                if last.ends_with(": ") {
                    last = "pg_isready: not accepting connections yet".into();
                }
            }
            if started.elapsed() >= self.timeout {
                return Err(Error::new(format!(
                    "the database (service {}) did not accept connections within {}s; {last}",
                    self.service,
                    self.timeout.as_secs()
                ))
                .hint(format!("see what it says: budgie logs {}", self.service)));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// Waits until every container of some services is ready: healthy when it
/// has a healthcheck, else running (or finished with exit 0). Containers
/// are found by labels on every round, so a container recreated meanwhile
/// is the one looked at.
///
/// Whether a container has a healthcheck is read from the container (an
/// image's own `HEALTHCHECK` counts too). Docker's daemon runs the checks
/// and budgie reads `State.Health.Status`. Podman 4.x runs them from
/// systemd timers, so without systemd (containers, CI) the health stays
/// `starting` forever: on podman budgie runs each check itself with
/// `podman healthcheck run`, which also records the result in the
/// container's health state.
#[derive(Debug, Clone)]
pub struct WaitForServices {
    pub engine: Engine,
    pub project: String,
    pub services: Vec<WaitService>,
    pub timeout: Duration,
    /// How many log lines of a service that failed to show.
    pub log_lines: u32,
}

/// A service to wait for.
#[derive(Debug, Clone)]
pub struct WaitService {
    pub name: String,
    /// The compose file declares a healthcheck (shown by `--dry-run`; the
    /// container decides when it runs).
    pub healthcheck: bool,
}

/// Where one container stands.
enum Readiness {
    Ready,
    Waiting(String),
    Failed(String),
}

impl WaitForServices {
    /// The engine calls each round makes, as `--dry-run` shows them.
    pub fn probes(&self) -> Vec<Cmd> {
        let name = |s: &WaitService| format!("<{} container>", s.name);
        let mut inspect = vec![
            self.engine.program.clone(),
            "container".into(),
            "inspect".into(),
        ];
        inspect.extend(self.services.iter().map(name));
        let mut out = vec![Cmd::new(inspect)];
        if self.engine.kind == EngineKind::Podman {
            out.extend(
                self.services
                    .iter()
                    .filter(|s| s.healthcheck)
                    .map(|s| self.engine.healthcheck_run(&name(s))),
            );
        }
        out
    }

    /// Waits; `progress` hears what is still awaited.
    fn run(&self, progress: &dyn Fn(&str)) -> Result<()> {
        let started = Instant::now();
        loop {
            if interrupted() {
                return Err(Error::interrupted());
            }
            let containers = self.engine.containers(&self.project)?;
            let mut waiting = Vec::new();
            for s in &self.services {
                let mine: Vec<&Container> =
                    containers.iter().filter(|c| c.service == s.name).collect();
                if mine.is_empty() {
                    waiting.push((s, None, "no container yet".to_string()));
                }
                for c in mine {
                    match self.readiness(c)? {
                        Readiness::Ready => {}
                        Readiness::Waiting(why) => waiting.push((s, Some(c), why)),
                        Readiness::Failed(why) => return Err(self.failed(&s.name, c, &why)),
                    }
                }
            }
            let Some((s, c, why)) = waiting.first() else {
                return Ok(());
            };
            if started.elapsed() >= self.timeout {
                let why = format!("not ready within {}s ({why})", self.timeout.as_secs());
                return Err(match c {
                    Some(c) => self.failed(&s.name, c, &why),
                    None => Error::new(format!("service {}: {why}", s.name)),
                });
            }
            let names: Vec<&str> = waiting.iter().map(|(s, _, _)| s.name.as_str()).collect();
            progress(&format!("waiting for {}: {why}", names.join(", ")));
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn readiness(&self, c: &Container) -> Result<Readiness> {
        if !c.running {
            return Ok(match c.state.as_str() {
                "exited" | "dead" | "stopped" => match (&c.health, c.exit_code) {
                    (None, Some(0)) => Readiness::Ready,
                    (_, code) => Readiness::Failed(format!(
                        "its container exited{}",
                        code.map(|n| format!(" with code {n}")).unwrap_or_default()
                    )),
                },
                other => Readiness::Waiting(format!("container {other}")),
            });
        }
        let Some(health) = c.health.as_deref() else {
            return Ok(Readiness::Ready);
        };
        let failing = |c: &Container| {
            Readiness::Failed(match &c.health_output {
                Some(o) => format!("its healthcheck fails (unhealthy): {o}"),
                None => "its healthcheck fails (unhealthy)".to_string(),
            })
        };
        if health == "unhealthy" {
            return Ok(failing(c));
        }
        if health == "healthy" {
            return Ok(Readiness::Ready);
        }
        if self.engine.kind == EngineKind::Podman {
            let out = self.engine.healthcheck_run(&c.id).output()?;
            if out.status.success() {
                return Ok(Readiness::Ready);
            }
            // The next round's inspect shows whether the failures used up
            // the retries (unhealthy) or the check may still pass.
            return Ok(Readiness::Waiting("healthcheck not passing yet".into()));
        }
        Ok(Readiness::Waiting(format!("health {health}")))
    }

    /// The error for a service that failed, with the last lines of its log.
    fn failed(&self, service: &str, c: &Container, why: &str) -> Error {
        let cmd = self.engine.logs(&c.id, self.log_lines);
        let log = cmd
            .expression()
            .stdin_null()
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked()
            .run();
        let log = match log {
            Ok(out) => {
                let text = String::from_utf8_lossy(&out.stdout);
                let lines: Vec<&str> = text.lines().collect();
                if lines.is_empty() {
                    "  (its log is empty)".to_string()
                } else {
                    lines
                        .iter()
                        .map(|l| format!("  | {l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            }
            Err(e) => format!("  (could not read its log: {})", cmd.spawn_error(e).message),
        };
        Error::new(format!(
            "service {service} did not become ready: {why}\nthe end of its log ({}, last {} lines):\n{log}",
            c.name, self.log_lines
        ))
        .hint(format!("see more: budgie logs {service}"))
    }
}

impl Action {
    /// The command as the plan shows it.
    pub fn cmd(&self) -> Cmd {
        match self {
            Action::Run(c) | Action::Interactive(c) => c.clone(),
            Action::WaitForDatabase(w) => w.probe(&format!("<{} container>", w.service)),
            Action::WaitForServices(w) => w.probes().swap_remove(0),
            Action::RemoveVolumes { engine, names } => engine.volume_rm(names),
            Action::RemoveImages { engine, references } => {
                let mut c = engine.image_rm(references.first().map(String::as_str).unwrap_or(""));
                c.argv.truncate(c.argv.len().saturating_sub(1));
                c.argv.extend(references.iter().cloned());
                c
            }
            Action::ReplaceDatabase(r) => crate::restore::load_command(
                &r.engine,
                &format!("<{} container>", r.db.service),
                &r.db,
                &format!(
                    "<{}>",
                    crate::restore::side_name(&r.db.name, "restore", "<stamp>")
                ),
                r.source.format,
            ),
            Action::RestoreVolume(r) => {
                crate::restore::volume_restore_command(&r.engine, &r.volume, &r.image)
            }
        }
    }

    /// Every command the plan shows for this action (a wait polls several).
    pub fn cmds(&self) -> Vec<Cmd> {
        match self {
            Action::WaitForServices(w) => w.probes(),
            _ => vec![self.cmd()],
        }
    }

    /// The database this action replaces.
    pub fn replaced_database(&self) -> Option<&str> {
        match self {
            Action::ReplaceDatabase(r) => Some(&r.db.name),
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

    /// Whether this action deletes a volume or replaces a database. Compose
    /// commands are checked by their argv: `down` with `-v`/`--volumes`, and
    /// `volume rm`/`volume prune`/`system prune`.
    pub fn deletes_data(&self) -> bool {
        match self {
            Action::RemoveVolumes { .. }
            | Action::ReplaceDatabase(_)
            | Action::RestoreVolume(_) => true,
            Action::RemoveImages { .. } => false,
            _ => argv_deletes_data(&self.cmd().argv),
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

/// An ordered list of steps.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn new() -> Plan {
        Plan::default()
    }

    pub fn run(&mut self, what: impl Into<String>, cmd: Cmd) -> &mut Self {
        self.steps.push(Step {
            what: what.into(),
            action: Action::Run(cmd),
        });
        self
    }

    pub fn wait(&mut self, what: impl Into<String>, wait: WaitForDatabase) -> &mut Self {
        self.steps.push(Step {
            what: what.into(),
            action: Action::WaitForDatabase(wait),
        });
        self
    }

    pub fn wait_for_services(
        &mut self,
        what: impl Into<String>,
        wait: WaitForServices,
    ) -> &mut Self {
        self.steps.push(Step {
            what: what.into(),
            action: Action::WaitForServices(wait),
        });
        self
    }

    pub fn interactive(&mut self, what: impl Into<String>, cmd: Cmd) -> &mut Self {
        self.steps.push(Step {
            what: what.into(),
            action: Action::Interactive(cmd),
        });
        self
    }

    pub fn remove_volumes(
        &mut self,
        what: impl Into<String>,
        engine: &Engine,
        names: Vec<String>,
    ) -> &mut Self {
        self.steps.push(Step {
            what: what.into(),
            action: Action::RemoveVolumes {
                engine: engine.clone(),
                names,
            },
        });
        self
    }

    pub fn remove_images(
        &mut self,
        what: impl Into<String>,
        engine: &Engine,
        references: Vec<String>,
    ) -> &mut Self {
        self.steps.push(Step {
            what: what.into(),
            action: Action::RemoveImages {
                engine: engine.clone(),
                references,
            },
        });
        self
    }

    /// Every volume the plan deletes, in order, without duplicates.
    pub fn removed_volumes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.steps {
            for n in s.action.removed_volumes() {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
        }
        out
    }

    /// The steps that delete or replace data.
    pub fn deletes(&self) -> Vec<&Step> {
        self.steps
            .iter()
            .filter(|s| s.action.deletes_data())
            .collect()
    }

    /// The plan as lines: `N. what` then `   $ argv`, secrets redacted by `redact`.
    pub fn describe(&self, redact: &dyn Fn(&str) -> String) -> Vec<String> {
        let mut out = Vec::new();
        for (i, s) in self.steps.iter().enumerate() {
            out.push(format!("{}. {}", i + 1, s.what));
            for cmd in s.action.cmds() {
                let mut line = format!("   $ {}", redact(&cmd.to_string()));
                if !cmd.env.is_empty() {
                    let names: Vec<&str> = cmd.env.iter().map(|(k, _)| k.as_str()).collect();
                    line.push_str(&format!("   (env: {}=***)", names.join("=***, ")));
                }
                out.push(line);
            }
        }
        out
    }
}

/// Runs a plan's steps in order. The plan must not delete data: such plans
/// go through the gate and run with [`execute_gated`].
pub fn execute(plan: &Plan, ui: &Ui, redact: &dyn Fn(&str) -> String) -> Result<i32> {
    if let Some(step) = plan.deletes().first() {
        return Err(Error::new(format!(
            "internal safety check: step \"{}\" deletes data and did not go through the safety gate; nothing was run",
            step.what
        )));
    }
    run_steps(plan, ui, redact)
}

/// Runs a plan that deletes data, with the gate's ticket. Every volume a
/// step removes must be covered by the ticket (the gate showed it, backed it
/// up or was told not to, and the user confirmed); a compose or engine
/// command that would delete volumes by itself (`down -v`, `volume prune`)
/// is never run, ticket or not.
pub fn execute_gated(
    plan: &Plan,
    ticket: &crate::gate::Ticket,
    ui: &Ui,
    redact: &dyn Fn(&str) -> String,
) -> Result<i32> {
    for step in &plan.steps {
        let uncovered: Vec<&String> = step
            .action
            .removed_volumes()
            .iter()
            .filter(|n| !ticket.covers(n))
            .collect();
        let uncovered_db = step
            .action
            .replaced_database()
            .filter(|d| !ticket.covers_database(d));
        let sneaky = !matches!(
            step.action,
            Action::RemoveVolumes { .. } | Action::ReplaceDatabase(_) | Action::RestoreVolume(_)
        ) && step.action.deletes_data();
        if let Some(d) = uncovered_db {
            return Err(Error::new(format!(
                "internal safety check: step \"{}\" would replace database {d}, which the safety gate did not cover; nothing was run",
                step.what
            )));
        }
        if !uncovered.is_empty() || sneaky {
            return Err(Error::new(format!(
                "internal safety check: step \"{}\" would delete data the safety gate did not cover{}; nothing was run",
                step.what,
                if uncovered.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({})",
                        uncovered
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            )));
        }
    }
    run_steps(plan, ui, redact)
}

/// Runs the steps in order. Returns the exit status of the last interactive
/// step (0 otherwise).
fn run_steps(plan: &Plan, ui: &Ui, redact: &dyn Fn(&str) -> String) -> Result<i32> {
    let mut status = 0;
    for step in &plan.steps {
        if interrupted() {
            return Err(Error::interrupted());
        }
        let cmd = step.action.cmd();
        ui.debug(&format!("$ {}", redact(&cmd.to_string())));
        match &step.action {
            Action::Run(cmd) => run_step(step, cmd, ui, redact)?,
            Action::RemoveVolumes { .. } => run_step(step, &cmd, ui, redact)?,
            Action::ReplaceDatabase(r) => {
                let bar = ui.progress_bytes(&format!(
                    "Loading {} into a scratch database",
                    r.source.path.display()
                ));
                bar.set_length(r.source.bytes);
                let done = crate::restore::restore(
                    &r.engine,
                    &r.container,
                    &r.db,
                    &r.source,
                    r.keep_previous,
                    &r.stamp,
                    &|n| bar.set(n),
                );
                bar.clear();
                let done = done?;
                ui.success(&format!(
                    "Restored database {} from {}: {} ({:.1}s)",
                    done.database,
                    done.file,
                    crate::ui::count(done.tables, "table", "tables"),
                    done.seconds
                ));
                if let Ok(mut slot) = r.result.lock() {
                    *slot = Some(done);
                }
            }
            Action::RestoreVolume(r) => {
                let bar = ui.progress_bytes(&format!("Restoring volume {}", r.volume));
                bar.set_length(r.archive.bytes);
                let done = crate::restore::restore_volume(
                    &r.engine,
                    &r.volume,
                    &r.image,
                    &r.archive,
                    &|n| bar.set(n),
                );
                bar.clear();
                done.map_err(|e| e.context(format!("restoring volume {}", r.volume)))?;
                ui.success(&format!(
                    "Restored volume {} from {}",
                    r.volume,
                    r.archive.path.display()
                ));
            }
            Action::RemoveImages { engine, references } => {
                for r in references {
                    let c = engine.image_rm(r);
                    let out = c.output()?;
                    if out.status.success() {
                        ui.success(&format!("Removed image {r}"));
                    } else {
                        let why = String::from_utf8_lossy(&out.stderr);
                        let why = why.trim().lines().last().unwrap_or("").to_string();
                        ui.info(&format!("Kept image {r}: {why}"));
                    }
                }
            }
            Action::WaitForDatabase(w) => {
                let started = Instant::now();
                let spinner = ui.spinner(&step.what);
                let result = w.run();
                spinner.clear();
                result?;
                ui.success(&format!(
                    "{} {}",
                    step.what,
                    ui.dim(&format!("({:.1}s)", started.elapsed().as_secs_f64()))
                ));
            }
            Action::WaitForServices(w) => {
                let started = Instant::now();
                let spinner = ui.spinner(&step.what);
                let result = w.run(&|now| spinner.set_message(&format!("{}: {now}", step.what)));
                spinner.clear();
                result?;
                ui.success(&format!(
                    "{} {}",
                    step.what,
                    ui.dim(&format!("({:.1}s)", started.elapsed().as_secs_f64()))
                ));
            }
            Action::Interactive(cmd) => {
                let out = cmd
                    .expression()
                    .unchecked()
                    .run()
                    .map_err(|e| cmd.spawn_error(e))?;
                status = exit_status(&out.status);
                if interrupted() || status == 130 {
                    return Ok(130);
                }
            }
        }
    }
    Ok(status)
}

fn run_step(step: &Step, cmd: &Cmd, ui: &Ui, redact: &dyn Fn(&str) -> String) -> Result<()> {
    let started = std::time::Instant::now();
    let spinner = ui.spinner(&step.what);
    let expr = cmd.expression().stdin_null().unchecked();
    let out = if ui.verbose > 0 {
        stream_redacted(&expr, ui, redact)
    } else {
        expr.stdout_capture().stderr_capture().run()
    }
    .map_err(|e| {
        spinner.clear();
        let e = cmd.spawn_error(e);
        Error {
            message: redact(&format!("{}: {}", step.what, e.message)),
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
            message: redact(&format!("{}: {}", step.what, e.message)),
            hint,
            ..e
        });
    }
    ui.success(&format!(
        "{} {}",
        step.what,
        ui.dim(&format!("({:.1}s)", started.elapsed().as_secs_f64()))
    ));
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
    fn execute_refuses_a_plan_that_deletes_data() {
        let mut plan = Plan::new();
        plan.run(
            "Remove everything",
            Cmd::new(["definitely-not-run", "down", "-v"]),
        );
        let err = execute(&plan, &quiet_ui(), &|s| s.to_string()).unwrap_err();
        assert!(
            err.message.contains("did not go through the safety gate"),
            "{}",
            err.message
        );
    }

    #[test]
    fn describe_shows_argv_and_hides_secret_values() {
        let mut plan = Plan::new();
        let mut cmd = Cmd::new([
            "podman",
            "exec",
            "-e",
            "PGPASSWORD",
            "ctr",
            "pg_dump",
            "--host=s3cret",
        ]);
        cmd.env
            .push(("PGPASSWORD".into(), crate::compose::Secret::new("s3cret")));
        plan.run("Dump", cmd);
        let lines = plan.describe(&|s: &str| s.replace("s3cret", "***"));
        assert_eq!(lines[0], "1. Dump");
        assert!(lines[1].starts_with("   $ podman exec -e PGPASSWORD ctr pg_dump --host=***"));
        assert!(lines[1].contains("PGPASSWORD=***"));
        assert!(!lines.join("\n").contains("s3cret"));
    }

    fn quiet_ui() -> Ui {
        Ui {
            quiet: true,
            verbose: 0,
            stderr_tty: false,
            stdin_tty: false,
            color: false,
        }
    }

    #[test]
    fn a_ticket_must_cover_every_volume_removed() {
        let (engine, _dir) = Engine::stub(crate::engine::EngineKind::Podman);
        let mut plan = Plan::new();
        plan.remove_volumes("Delete", &engine, vec!["p_a".into(), "p_b".into()]);
        let ticket = crate::gate::Ticket::for_test(&["p_a"]);
        let err = execute_gated(&plan, &ticket, &quiet_ui(), &|s| s.to_string()).unwrap_err();
        assert!(
            err.message.contains("did not cover (p_b)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn compose_deletions_never_run_even_with_a_ticket() {
        let mut plan = Plan::new();
        plan.run("Down", Cmd::new(["definitely-not-run", "down", "-v"]));
        let ticket = crate::gate::Ticket::for_test(&["p_a"]);
        let err = execute_gated(&plan, &ticket, &quiet_ui(), &|s| s.to_string()).unwrap_err();
        assert!(
            err.message.contains("internal safety check"),
            "{}",
            err.message
        );
    }
}
