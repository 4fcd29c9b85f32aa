//! Waiting until the stack is usable: the database accepting connections,
//! services healthy. Containers are found by labels on every poll, so a
//! container recreated meanwhile is the one looked at; Ctrl-C stops a wait.

use std::time::{Duration, Instant};

use crate::compose::Database;
use crate::databases;
use crate::engine::{Cmd, Container, Engine, EngineKind};
use crate::error::{Error, Result};
use crate::interrupt::interrupted;

/// Waits for a database server inside its service's running container
/// (found by labels each time: the container may be recreated meanwhile).
#[derive(Debug, Clone)]
pub struct WaitForDatabase {
    pub engine: Engine,
    pub project: String,
    pub service: String,
    pub db: Database,
    pub timeout: Duration,
}

impl WaitForDatabase {
    /// The probe, as shown by `--dry-run` (the container is found when it
    /// runs): `pg_isready` or `mariadb-admin ping`, over TCP.
    pub fn probe(&self, container: &str) -> Cmd {
        databases::isready_command(&self.engine, container, &self.db)
    }

    pub fn run(&self) -> Result<()> {
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
                let probe = databases::isready_name(&self.db);
                last = format!(
                    "{probe} said: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                if last.ends_with(": ") {
                    last = format!("{probe}: not accepting connections yet");
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
    pub fn run(&self, progress: &dyn Fn(&str)) -> Result<()> {
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
