//! The container engines (podman, docker) and their compose tools.
//!
//! This is the one module that builds engine argv. Every call is an argv
//! vector run through duct — never a shell — and every container or volume is
//! found through the engine by the compose labels
//! (`com.docker.compose.project`, `com.docker.compose.service`), never by a
//! guessed name (podman-compose says `proj_db_1`, docker compose `proj-db-1`).
//!
//! Secrets never go on a command line: a command carries the *names* of
//! variables to pass (`-e PGPASSWORD`) and their values travel in the child's
//! environment only.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use serde::Serialize;

use crate::compose::Secret;
use crate::error::{Error, Result};

/// The two engines budgie drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Podman,
    Docker,
}

impl EngineKind {
    pub fn program(self) -> &'static str {
        match self {
            EngineKind::Podman => "podman",
            EngineKind::Docker => "docker",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "podman" => Some(EngineKind::Podman),
            "docker" => Some(EngineKind::Docker),
            _ => None,
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program())
    }
}

/// Which compose implementation a compose command is: their command lines
/// differ in a few places (removing single services, for one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComposeFlavor {
    /// podman-compose (Python), also behind `podman compose`.
    PodmanCompose,
    /// docker-compose 1.x (Python).
    DockerComposeV1,
    /// docker compose 2.x (Go), as plugin or standalone binary.
    DockerComposeV2,
}

/// A command to run: argv, working directory, environment additions, and
/// whether the user's terminal is handed to it.
#[derive(Clone, PartialEq, Eq)]
pub struct Cmd {
    pub argv: Vec<String>,
    pub dir: Option<PathBuf>,
    /// Values for variables the argv names (`-e NAME`): never on the command line.
    pub env: Vec<(String, Secret)>,
}

impl Cmd {
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            argv: argv.into_iter().map(Into::into).collect(),
            dir: None,
            env: Vec::new(),
        }
    }

    pub fn dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// The duct expression for this command (argv only, no shell).
    pub fn expression(&self) -> duct::Expression {
        let mut e = duct::cmd(&self.argv[0], &self.argv[1..]);
        if let Some(d) = &self.dir {
            e = e.dir(d);
        }
        for (k, v) in &self.env {
            e = e.env(k, v.expose());
        }
        e
    }

    /// Runs it, capturing stdout and stderr, and fails with the engine's own
    /// message when it exits non-zero.
    pub fn read(&self) -> Result<String> {
        let out = self.output()?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(self.failure(&out))
        }
    }

    /// Runs it and returns the raw output, whatever the exit status.
    pub fn output(&self) -> Result<Output> {
        self.expression()
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| self.spawn_error(e))
    }

    /// The error for a command that could not be started.
    pub fn spawn_error(&self, e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::new(format!(
                "{} is not installed (not found on PATH)",
                self.argv[0]
            ))
        } else {
            Error::new(format!("could not run {}: {e}", self.argv[0]))
        }
    }

    /// The error for a command that ran and failed, with the engine's words.
    pub fn failure(&self, out: &Output) -> Error {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said = stderr.trim();
        if let Some(e) = daemon_down(&self.argv[0], said) {
            return e;
        }
        let status = match out.status.code() {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal".to_string(),
        };
        let last: Vec<&str> = said.lines().rev().take(8).collect();
        let tail: Vec<&str> = last.into_iter().rev().collect();
        let mut msg = format!("`{}` failed ({status})", self);
        let psql = self.argv.iter().any(|a| a == "psql");
        if tail.is_empty() && psql && out.status.code() == Some(3) {
            msg.push_str(
                ": psql stopped at an SQL error in its input (the engine passed on no message)",
            );
        }
        // `exec` passes on the exit status of the process in the
        // container; 137 is SIGKILL, which a kill or stop of the container
        // (or the kernel's OOM killer) sends.
        let exec = self.argv.get(1).is_some_and(|a| a == "exec");
        if tail.is_empty() && exec && out.status.code() == Some(137) {
            msg.push_str(
                ": it was killed — the container was stopped or killed (or ran out of memory) while it ran",
            );
        }
        if !tail.is_empty() {
            msg.push_str(":\n  ");
            msg.push_str(&tail.join("\n  "));
        }
        Error::new(msg)
    }
}

/// A docker client that cannot reach its daemon says so in a few known ways.
fn daemon_down(program: &str, stderr: &str) -> Option<Error> {
    let known = [
        "Cannot connect to the Docker daemon",
        "Is the docker daemon running",
        "error during connect",
        "Cannot connect to Podman",
        "unable to connect to Podman socket",
    ];
    if known.iter().any(|k| stderr.contains(k)) {
        let first = stderr.lines().next().unwrap_or_default();
        let hint = if program.contains("podman") {
            "start the podman service (systemctl --user start podman.socket), or choose another engine with --engine docker"
        } else {
            "start it (sudo systemctl start docker, or run dockerd), or choose another engine with --engine podman"
        };
        let engine = if program.contains("podman") {
            "podman"
        } else {
            "docker"
        };
        return Some(
            Error::new(format!(
                "{engine} is installed but not running: {}",
                first.trim()
            ))
            .hint(hint),
        );
    }
    None
}

impl fmt::Display for Cmd {
    /// The argv as a copy-pasteable command line (for `--dry-run`, errors).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted: Vec<String> = self.argv.iter().map(|a| shell_quote(a)).collect();
        f.write_str(&quoted.join(" "))
    }
}

impl fmt::Debug for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cmd({self})")
    }
}

/// Quotes an argument for display so a user can paste it into a POSIX shell.
/// Display only: budgie itself never runs anything through a shell.
pub fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c));
    if safe {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// A container engine found on this machine.
#[derive(Debug, Clone)]
pub struct Engine {
    pub kind: EngineKind,
    /// The program to run (`podman`, `docker`, or a path).
    pub program: String,
    /// `BUDGIE_COMPOSE`, when the user forces the compose command.
    forced_compose: Option<Vec<String>>,
    compose: OnceLock<std::result::Result<Compose, Error>>,
}

/// The compose tool: its argv prefix and its flavor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compose {
    pub argv: Vec<String>,
    pub flavor: ComposeFlavor,
    /// What its `version` said (the line naming the compose tool).
    pub version: String,
}

/// Looks a program up on PATH (as `PATH` in `env` says), without running it.
pub fn which(program: &str, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_executable(&p).then_some(p);
    }
    let path = env
        .get("PATH")
        .map(String::as_str)
        .unwrap_or("/usr/bin:/bin");
    std::env::split_paths(&OsString::from(path))
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

impl Engine {
    /// Chooses the engine: `choice` (`--engine`/`BUDGIE_ENGINE`), else the
    /// first of podman, docker on PATH — unless `BUDGIE_COMPOSE` names a
    /// compose command that implies one. Runs nothing.
    pub fn detect(
        choice: Option<EngineKind>,
        forced_compose: Option<&str>,
        env: &BTreeMap<String, String>,
    ) -> Result<Engine> {
        let forced: Option<Vec<String>> = forced_compose
            .map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .filter(|v| !v.is_empty());
        let implied = forced.as_ref().and_then(|argv| {
            let first = Path::new(&argv[0])
                .file_name()?
                .to_string_lossy()
                .into_owned();
            if first.starts_with("podman") {
                Some(EngineKind::Podman)
            } else if first.starts_with("docker") {
                Some(EngineKind::Docker)
            } else {
                None
            }
        });
        let kind = match choice.or(implied) {
            Some(k) => {
                if which(k.program(), env).is_none() {
                    return Err(Error::new(format!(
                        "{k} is not installed (not found on PATH)"
                    ))
                    .hint(match k {
                        EngineKind::Podman => {
                            "install podman and podman-compose, or choose docker with --engine docker"
                        }
                        EngineKind::Docker => {
                            "install docker and docker compose, or choose podman with --engine podman"
                        }
                    }));
                }
                k
            }
            None => [EngineKind::Podman, EngineKind::Docker]
                .into_iter()
                .find(|k| which(k.program(), env).is_some())
                .ok_or_else(|| {
                    Error::new("no container engine found: neither podman nor docker is on PATH")
                        .hint(
                            "install podman (with podman-compose) or docker (with docker compose)",
                        )
                })?,
        };
        Ok(Engine {
            kind,
            program: kind.program().to_string(),
            forced_compose: forced,
            compose: OnceLock::new(),
        })
    }

    /// An engine whose program is a stub that fails if run, for unit tests
    /// that need an `Engine` value but must not touch a real engine. Keep
    /// the directory alive as long as the engine.
    #[cfg(test)]
    pub fn stub(kind: EngineKind) -> (Engine, tempfile::TempDir) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let program = dir.path().join(kind.program());
        std::fs::write(&program, "#!/bin/sh\nexit 99\n").expect("stub");
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let env = BTreeMap::from([("PATH".to_string(), dir.path().display().to_string())]);
        let engine = Engine::detect(Some(kind), None, &env).expect("the stub is on PATH");
        (engine, dir)
    }

    fn cmd<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut argv = vec![self.program.clone()];
        argv.extend(args.into_iter().map(Into::into));
        Cmd::new(argv)
    }

    /// The compose tool, found once: `BUDGIE_COMPOSE`, else for podman
    /// `podman compose` then `podman-compose`, for docker `docker compose`
    /// then `docker-compose`. Asks each candidate for its version (read-only).
    pub fn compose(&self) -> Result<&Compose> {
        self.compose
            .get_or_init(|| self.find_compose())
            .as_ref()
            .map_err(Clone::clone)
    }

    fn find_compose(&self) -> Result<Compose> {
        if let Some(argv) = &self.forced_compose {
            let (flavor, version) = probe_compose(argv).ok_or_else(|| {
                Error::new(format!(
                    "BUDGIE_COMPOSE={} does not answer `{} version`",
                    argv.join(" "),
                    argv.join(" ")
                ))
            })?;
            return Ok(Compose {
                argv: argv.clone(),
                flavor,
                version,
            });
        }
        let candidates: Vec<Vec<String>> = match self.kind {
            EngineKind::Podman => vec![
                vec![self.program.clone(), "compose".into()],
                vec!["podman-compose".into()],
            ],
            EngineKind::Docker => vec![
                vec![self.program.clone(), "compose".into()],
                vec!["docker-compose".into()],
            ],
        };
        for argv in &candidates {
            if let Some((flavor, version)) = probe_compose(argv) {
                return Ok(Compose {
                    argv: argv.clone(),
                    flavor,
                    version,
                });
            }
        }
        let tried: Vec<String> = candidates.iter().map(|c| c.join(" ")).collect();
        Err(Error::new(format!(
            "no compose tool for {} found (tried: {})",
            self.kind,
            tried.join(", ")
        ))
        .hint(match self.kind {
            EngineKind::Podman => {
                "install podman-compose (pip install podman-compose), or set BUDGIE_COMPOSE"
            }
            EngineKind::Docker => "install docker compose or docker-compose, or set BUDGIE_COMPOSE",
        }))
    }

    /// A read-only call that fails with a clear message when the engine
    /// cannot be reached (docker's daemon down, podman's storage broken).
    pub fn ping(&self) -> Result<()> {
        self.server_version().map(|_| ())
    }

    /// The engine's server version (`version --format {{.Server.Version}}`),
    /// read-only; fails as [`Engine::ping`] does when the engine is down.
    pub fn server_version(&self) -> Result<String> {
        let out = self
            .cmd(["version", "--format", "{{.Server.Version}}"])
            .read()?;
        Ok(out.trim().to_string())
    }

    /// The names of the volumes labelled as this compose project's.
    pub fn project_volume_names(&self, project: &str) -> Result<Vec<String>> {
        let out = self
            .cmd([
                "volume".to_string(),
                "ls".into(),
                "-q".into(),
                "--filter".into(),
                format!("label={PROJECT_LABEL}={project}"),
            ])
            .read()?;
        Ok(out.split_whitespace().map(str::to_string).collect())
    }

    /// Runs a read-only listing again when it failed because another
    /// process removed a container or volume while the engine was listing
    /// (podman's `volume ls` fails outright with "no such volume" then).
    fn listing<T>(&self, f: impl Fn() -> Result<T>) -> Result<T> {
        let mut attempt = 0;
        loop {
            match f() {
                Err(e) if attempt < 4 && e.message.to_ascii_lowercase().contains("no such") => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100 * attempt));
                }
                other => return other,
            }
        }
    }

    /// Every container of the project, found by the compose project label.
    pub fn containers(&self, project: &str) -> Result<Vec<Container>> {
        self.listing(|| self.containers_once(project))
    }

    fn containers_once(&self, project: &str) -> Result<Vec<Container>> {
        let ids = self
            .cmd([
                "ps".to_string(),
                "-a".into(),
                "-q".into(),
                "--no-trunc".into(),
                "--filter".into(),
                format!("label={PROJECT_LABEL}={project}"),
            ])
            .read()?;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["container", "inspect"];
        args.extend(ids.iter().copied());
        let json = self.cmd(args).read()?;
        parse_containers(&json)
    }

    /// The id of a running container of one service, in one engine call
    /// (`ps` with label and status filters): the fast path before a dump.
    pub fn running_container_id(&self, project: &str, service: &str) -> Result<Option<String>> {
        let out = self
            .cmd([
                "ps".to_string(),
                "-q".into(),
                "--no-trunc".into(),
                "--filter".into(),
                format!("label={PROJECT_LABEL}={project}"),
                "--filter".into(),
                format!("label={SERVICE_LABEL}={service}"),
                "--filter".into(),
                "status=running".into(),
            ])
            .read()?;
        Ok(out.split_whitespace().next().map(str::to_string))
    }

    /// The running container of one service, if there is one.
    pub fn running_container(&self, project: &str, service: &str) -> Result<Option<Container>> {
        Ok(self
            .containers(project)?
            .into_iter()
            .filter(|c| c.service == service && c.running)
            .max_by(|a, b| a.number.cmp(&b.number)))
    }

    /// Inspects volumes by their real names; missing ones are simply absent
    /// from the result. (`volume inspect a b` fails as a whole on podman when
    /// one is missing, so existing names are listed first.)
    pub fn volumes(&self, names: &[&str]) -> Result<Vec<VolumeInfo>> {
        self.listing(|| self.volumes_once(names))
    }

    fn volumes_once(&self, names: &[&str]) -> Result<Vec<VolumeInfo>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let listed = self.cmd(["volume", "ls", "-q"]).read()?;
        let existing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| listed.lines().any(|l| l.trim() == *n))
            .collect();
        if existing.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["volume", "inspect"];
        args.extend(existing.iter().copied());
        parse_volumes(&self.cmd(args).read()?)
    }

    /// Volume sizes in bytes by name, from `system df -v` (works for rootless
    /// podman too, whose volume files belong to sub-uids).
    pub fn volume_sizes(&self) -> Result<BTreeMap<String, u64>> {
        match self.kind {
            EngineKind::Docker => {
                let out = self
                    .cmd(["system", "df", "-v", "--format", "{{json .}}"])
                    .read()?;
                Ok(parse_df_volumes(&out))
            }
            EngineKind::Podman => {
                let out = self.cmd(["system", "df", "-v"]).read()?;
                Ok(parse_df_table(&out))
            }
        }
    }

    /// `<engine> exec` in a running container; `tty` hands over the terminal.
    pub fn exec(
        &self,
        container: &str,
        interactive: bool,
        tty: bool,
        env: &[(String, Secret)],
        command: &[&str],
    ) -> Cmd {
        let mut args: Vec<String> = vec!["exec".into()];
        if interactive {
            args.push("-i".into());
        }
        if tty {
            args.push("-t".into());
        }
        for (name, _) in env {
            args.push("-e".into());
            args.push(name.clone());
        }
        args.push(container.to_string());
        args.extend(command.iter().map(|s| s.to_string()));
        let mut cmd = self.cmd(args);
        cmd.env = env.to_vec();
        cmd
    }

    /// A tar stream of a volume's contents on stdout, without needing the
    /// service to run: `podman volume export`, or for docker (which has no
    /// export) a throwaway container of `image` that mounts the volume
    /// read-only, with no network, and runs `tar`.
    pub fn volume_export(&self, volume: &str, image: Option<&str>) -> Result<Cmd> {
        match self.kind {
            EngineKind::Podman => Ok(self.cmd(["volume", "export", volume])),
            EngineKind::Docker => {
                let image = image.ok_or_else(|| {
                    Error::new(format!(
                        "cannot archive volume {volume}: docker has no `volume export`, and no service image with `tar` is known to read it"
                    ))
                })?;
                Ok(self.cmd([
                    "run".to_string(),
                    "--rm".into(),
                    "--network".into(),
                    "none".into(),
                    "--label".into(),
                    "budgie.archive=1".into(),
                    "-v".into(),
                    format!("{volume}:/volume:ro"),
                    "--entrypoint".into(),
                    "tar".into(),
                    image.to_string(),
                    "-cf".into(),
                    "-".into(),
                    "-C".into(),
                    "/volume".into(),
                    ".".into(),
                ]))
            }
        }
    }

    /// A throwaway container of `image` with `volume` mounted read-write at
    /// `/volume`, no network, stdin open, running `command` (argv).
    pub fn run_with_volume(&self, volume: &str, image: &str, command: &[&str]) -> Cmd {
        let mut args: Vec<String> = vec![
            "run".into(),
            "--rm".into(),
            "-i".into(),
            "--network".into(),
            "none".into(),
            "--label".into(),
            "budgie.restore=1".into(),
            "-v".into(),
            format!("{volume}:/volume"),
            "--entrypoint".into(),
            command.first().copied().unwrap_or("sh").to_string(),
            image.to_string(),
        ];
        args.extend(command.iter().skip(1).map(|s| s.to_string()));
        self.cmd(args)
    }

    /// Removes volumes by exact name. No `--force`: the engine refuses to
    /// remove a volume a container still uses.
    pub fn volume_rm(&self, names: &[String]) -> Cmd {
        let mut args = vec!["volume".to_string(), "rm".into()];
        args.extend(names.iter().cloned());
        self.cmd(args)
    }

    /// Removes one image reference. No `--force`: the engine refuses while
    /// a container uses it; with several tags only this tag goes.
    pub fn image_rm(&self, reference: &str) -> Cmd {
        self.cmd(["image", "rm", reference])
    }

    /// The last `tail` lines of a container's log (its stdout and stderr).
    pub fn logs(&self, container: &str, tail: u32) -> Cmd {
        self.cmd(["logs", "--tail", &tail.to_string(), container])
    }

    /// Runs a container's healthcheck once, now: `podman healthcheck run`
    /// (exit 0 healthy, 1 unhealthy; podman records the result in the
    /// container's health state). Podman only: podman 4.x schedules
    /// healthchecks through systemd timers, so without systemd nobody else
    /// runs them and the health stays `starting`. Docker's daemon runs its
    /// own and has no such command.
    pub fn healthcheck_run(&self, container: &str) -> Cmd {
        self.cmd(["healthcheck", "run", container])
    }
}

/// Asks a compose command for its version; its flavor and version line.
fn probe_compose(argv: &[String]) -> Option<(ComposeFlavor, String)> {
    let mut full = argv.to_vec();
    full.push("version".into());
    let out = Cmd::new(full).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((flavor_from_version(argv, &text), version_line(&text)))
}

/// The line of a compose tool's `version` output that names it
/// (`podman compose` prints a line about its provider first, podman-compose
/// adds podman's own version after it).
pub fn version_line(text: &str) -> String {
    let lines = || text.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find(|l| {
            let lower = l.to_ascii_lowercase();
            lower.contains("compose") && lower.contains("version") && !l.starts_with(">>>>")
        })
        .or_else(|| lines().next())
        .unwrap_or("")
        .to_string()
}

/// Tells the compose flavor from its argv and what `version` printed.
pub fn flavor_from_version(argv: &[String], text: &str) -> ComposeFlavor {
    let lower = text.to_ascii_lowercase();
    let name = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if lower.contains("podman-compose") || name == "podman-compose" {
        ComposeFlavor::PodmanCompose
    } else if lower.contains("docker-compose version 1.") {
        ComposeFlavor::DockerComposeV1
    } else {
        ComposeFlavor::DockerComposeV2
    }
}

pub const PROJECT_LABEL: &str = "com.docker.compose.project";
pub const SERVICE_LABEL: &str = "com.docker.compose.service";
pub const NUMBER_LABEL: &str = "com.docker.compose.container-number";

/// What budgie needs to know of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u32,
    pub image: String,
    /// `running`, `exited`, `created`...
    pub state: String,
    pub running: bool,
    /// `healthy`, `unhealthy`, `starting`, or None without a healthcheck.
    pub health: Option<String>,
    pub started_at: Option<String>,
    /// The exit code of its last run (meaningful once it has exited).
    pub exit_code: Option<i64>,
    /// What its last healthcheck printed, if anything.
    pub health_output: Option<String>,
}

/// Parses `container inspect` JSON (podman's and docker's agree on these fields).
pub fn parse_containers(json: &str) -> Result<Vec<Container>> {
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::new(format!("could not read the engine's container list: {e}")))?;
    let mut out = Vec::new();
    for c in v.as_array().into_iter().flatten() {
        let labels = &c["Config"]["Labels"];
        let label = |k: &str| labels[k].as_str().unwrap_or_default().to_string();
        let state = &c["State"];
        let health = state["Health"]["Status"]
            .as_str()
            .or_else(|| state["Healthcheck"]["Status"].as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let health_log = state["Health"]["Log"]
            .as_array()
            .or_else(|| state["Healthcheck"]["Log"].as_array())
            .and_then(|l| l.last());
        out.push(Container {
            id: c["Id"].as_str().unwrap_or_default().to_string(),
            name: c["Name"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            service: label(SERVICE_LABEL),
            number: label(NUMBER_LABEL).parse().unwrap_or(1),
            image: c["Config"]["Image"]
                .as_str()
                .or_else(|| c["ImageName"].as_str())
                .unwrap_or_default()
                .to_string(),
            state: state["Status"].as_str().unwrap_or("unknown").to_string(),
            running: state["Running"].as_bool().unwrap_or(false),
            health,
            started_at: state["StartedAt"].as_str().map(str::to_string),
            exit_code: state["ExitCode"].as_i64(),
            health_output: health_log
                .and_then(|l| l["Output"].as_str())
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty()),
        });
    }
    out.sort_by(|a, b| a.service.cmp(&b.service).then(a.number.cmp(&b.number)));
    Ok(out)
}

/// What budgie needs to know of an existing volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeInfo {
    pub name: String,
    pub mountpoint: Option<String>,
    pub labels: BTreeMap<String, String>,
}

impl VolumeInfo {
    /// The compose project that created it, if any.
    pub fn project(&self) -> Option<&str> {
        self.labels.get(PROJECT_LABEL).map(String::as_str)
    }
}

pub fn parse_volumes(json: &str) -> Result<Vec<VolumeInfo>> {
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::new(format!("could not read the engine's volume list: {e}")))?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .map(|vol| VolumeInfo {
            name: vol["Name"].as_str().unwrap_or_default().to_string(),
            mountpoint: vol["Mountpoint"].as_str().map(str::to_string),
            labels: vol["Labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect())
}

/// Reads volume sizes from `system df -v --format '{{json .}}'`: docker
/// prints one JSON object with a `Volumes` array; podman prints an object
/// with `Volumes` too (sizes as numbers or as "1.2MB" strings).
pub fn parse_df_volumes(text: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        for vol in v["Volumes"].as_array().into_iter().flatten() {
            let name = vol["Name"]
                .as_str()
                .or_else(|| vol["VolumeName"].as_str())
                .unwrap_or_default();
            let size = vol["UsageData"]["Size"]
                .as_u64()
                .or_else(|| vol["Size"].as_u64())
                .or_else(|| vol["Size"].as_str().and_then(parse_human_size));
            if let (false, Some(size)) = (name.is_empty(), size) {
                out.insert(name.to_string(), size);
            }
        }
    }
    out
}

/// Reads the "Local Volumes space usage" table of podman's `system df -v`
/// (podman 4 ignores `--format` there): `NAME  LINKS  SIZE`.
pub fn parse_df_table(text: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut in_volumes = false;
    for line in text.lines() {
        if line.starts_with("Local Volumes") {
            in_volumes = true;
            continue;
        }
        if !in_volumes || line.starts_with("VOLUME NAME") {
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if line.ends_with(':') {
            break;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        if let [name, _links, size] = cols.as_slice()
            && let Some(n) = parse_human_size(size)
        {
            out.insert((*name).to_string(), n);
        }
    }
    out
}

/// Parses sizes as the engines print them: `1.5kB`, `12MB`, `3.2GiB`, `0B`.
pub fn parse_human_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0f64.powi(4),
        _ => return None,
    };
    Some((n * mult).round() as u64)
}

/// The size of a directory tree in bytes, or None when it cannot be read
/// (rootless podman's volumes belong to sub-uids). Hard links count once.
pub fn dir_size(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0u64;
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()? {
            let entry = entry.ok()?;
            let meta = entry.path().symlink_metadata().ok()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.nlink() <= 1 || seen.insert((meta.dev(), meta.ino())) {
                total += meta.len();
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exec_killed_with_its_container_says_so() {
        use std::os::unix::process::ExitStatusExt;
        let out = |code: i32| Output {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        let exec = Cmd::new(["podman", "exec", "c1", "pg_dump"]);
        let e = exec.failure(&out(137));
        assert!(e.message.contains("exit status 137"), "{}", e.message);
        assert!(
            e.message.contains("the container was stopped or killed"),
            "{}",
            e.message
        );
        assert!(!exec.failure(&out(1)).message.contains("killed"));
        let rm = Cmd::new(["podman", "volume", "rm", "v"]);
        assert!(
            !rm.failure(&out(137))
                .message
                .contains("container was stopped")
        );
    }

    #[test]
    fn listings_are_retried_when_something_vanished_meanwhile() {
        let (engine, _dir) = Engine::stub(EngineKind::Podman);
        let calls = std::cell::Cell::new(0);
        let got = engine.listing(|| {
            calls.set(calls.get() + 1);
            if calls.get() < 3 {
                Err(Error::new(
                    "Error: no volume with name x found in database: no such volume",
                ))
            } else {
                Ok(7)
            }
        });
        assert_eq!(got, Ok(7));
        assert_eq!(calls.get(), 3);
        let other: Result<i32> = engine.listing(|| Err(Error::new("permission denied")));
        assert!(other.is_err());
    }

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("up"), "up");
        assert_eq!(
            shell_quote("label=com.docker.compose.project=x"),
            "label=com.docker.compose.project=x"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn tells_flavors_apart() {
        let pc = vec!["podman-compose".to_string()];
        assert_eq!(
            flavor_from_version(&pc, "podman-compose version 1.6.0\npodman version 4.3.1"),
            ComposeFlavor::PodmanCompose
        );
        let v1 = vec!["docker-compose".to_string()];
        assert_eq!(
            flavor_from_version(&v1, "docker-compose version 1.29.2, build unknown"),
            ComposeFlavor::DockerComposeV1
        );
        assert_eq!(
            flavor_from_version(&v1, "Docker Compose version v2.24.0"),
            ComposeFlavor::DockerComposeV2
        );
        let pcw = vec!["podman".to_string(), "compose".to_string()];
        assert_eq!(
            flavor_from_version(
                &pcw,
                ">>>> Executing external compose provider \"/usr/bin/podman-compose\".\npodman-compose version 1.2.0"
            ),
            ComposeFlavor::PodmanCompose
        );
    }

    #[test]
    fn names_the_compose_tool_version() {
        assert_eq!(
            version_line("podman-compose version 1.6.0\npodman version 4.3.1\n"),
            "podman-compose version 1.6.0"
        );
        assert_eq!(
            version_line(
                ">>>> Executing external compose provider \"/usr/bin/podman-compose\".\npodman-compose version 1.2.0"
            ),
            "podman-compose version 1.2.0"
        );
        assert_eq!(
            version_line("docker-compose version 1.29.2, build unknown\ndocker-py version: 5.0.3"),
            "docker-compose version 1.29.2, build unknown"
        );
        assert_eq!(version_line("v2.24.0\n"), "v2.24.0");
    }

    #[test]
    fn parses_engine_sizes() {
        assert_eq!(parse_human_size("0B"), Some(0));
        assert_eq!(parse_human_size("1.5kB"), Some(1500));
        assert_eq!(parse_human_size("41.2MB"), Some(41_200_000));
        assert_eq!(parse_human_size("2GiB"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_human_size("lots"), None);
        let docker = r#"{"Images":[],"Containers":[],"Volumes":[{"Name":"p_pgdata","UsageData":{"Size":123,"RefCount":1}}]}"#;
        assert_eq!(parse_df_volumes(docker).get("p_pgdata"), Some(&123));
        let docker_str = r#"{"Volumes":[{"Name":"p_x","Size":"1.5kB"}]}"#;
        assert_eq!(parse_df_volumes(docker_str).get("p_x"), Some(&1500));
        let podman = "Images space usage:\n\nREPOSITORY TAG\n\nLocal Volumes space usage:\n\nVOLUME NAME  LINKS       SIZE\npt1_pgdata   1           47.25MB\n";
        assert_eq!(parse_df_table(podman).get("pt1_pgdata"), Some(&47_250_000));
    }

    #[test]
    fn reads_container_inspect() {
        let json = r#"[{"Id":"abc","Name":"/p-db-1","Config":{"Image":"pg","Labels":{"com.docker.compose.service":"db","com.docker.compose.container-number":"1"}},"State":{"Status":"running","Running":true,"Health":{"Status":"healthy"},"StartedAt":"2026-01-01T00:00:00Z"}}]"#;
        let c = parse_containers(json).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].name, "p-db-1");
        assert_eq!(c[0].service, "db");
        assert!(c[0].running);
        assert_eq!(c[0].health.as_deref(), Some("healthy"));
        assert!(parse_containers("not json").is_err());
    }

    #[test]
    fn reads_exit_codes_and_the_last_healthcheck_output() {
        let json = r#"[{"Id":"a","Name":"p_app_1","Config":{"Labels":{"com.docker.compose.service":"app"}},"State":{"Status":"running","Running":true,"ExitCode":0,"Health":{"Status":"unhealthy","Log":[{"ExitCode":1,"Output":"old"},{"ExitCode":1,"Output":"curl: connection refused\n"}]}}},
            {"Id":"b","Name":"p_job_1","Config":{"Labels":{"com.docker.compose.service":"job"}},"State":{"Status":"exited","Running":false,"ExitCode":3,"Health":{"Status":"","Log":null}}}]"#;
        let c = parse_containers(json).unwrap();
        assert_eq!(c[0].health.as_deref(), Some("unhealthy"));
        assert_eq!(
            c[0].health_output.as_deref(),
            Some("curl: connection refused")
        );
        assert_eq!(c[1].health, None, "podman says \"\" without a healthcheck");
        assert_eq!(c[1].exit_code, Some(3));
        assert_eq!(c[1].health_output, None);
    }

    #[test]
    fn recognises_a_stopped_daemon() {
        let e = daemon_down("docker", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?").unwrap();
        assert!(
            e.message.contains("docker is installed but not running"),
            "{}",
            e.message
        );
        assert!(daemon_down("docker", "no such container").is_none());
    }
}
