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
//!
//! Here: the [`Engine`] and the argv of each call. Beside it: `cmd` (running
//! a command, and its errors), `detect` (which engine and compose tool),
//! `inspect` (what the engines say of containers and volumes) and `sizes`
//! (how big a volume is).

mod cmd;
mod detect;
pub mod endpoint;
mod inspect;
pub mod lock_container;
mod sizes;
pub mod ssh;
mod volume_io;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

pub use cmd::{Cmd, shell_quote};
use detect::Compose;
pub use detect::{ComposeFlavor, EngineKind, which};
pub use endpoint::Endpoint;
pub use inspect::{Container, VolumeInfo};
use inspect::{PROJECT_LABEL, SERVICE_LABEL, parse_containers, parse_volumes};
pub use sizes::dir_size;
use sizes::{parse_df_table, parse_df_volumes};
pub use volume_io::VolumeIo;

use crate::compose::Secret;
use crate::error::{Error, Result};

/// A container engine found on this machine.
#[derive(Debug, Clone)]
pub struct Engine {
    pub kind: EngineKind,
    /// The program to run (`podman`, `docker`, or a path).
    pub program: String,
    /// Where its calls go (see `endpoint`): this machine's default engine
    /// until [`Engine::at`] says otherwise.
    pub endpoint: Box<Endpoint>,
    /// The SSH connection an `ssh://` endpoint is reached through, once
    /// [`Engine::connect`] reached it (its master outlives budgie: see
    /// `ssh`).
    tunnel: Option<ssh::Tunnel>,
    /// `BUDGIE_COMPOSE`, when the user forces the compose command.
    forced_compose: Option<Vec<String>>,
    compose: OnceLock<std::result::Result<Compose, Error>>,
    /// The running containers found during this command, by project and
    /// service ([`Engine::known_running_id`]); forgotten at the first call
    /// that may change containers. Shared by the engine's clones (a plan's
    /// steps hold clones).
    running: Arc<Mutex<BTreeMap<(String, String), String>>>,
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
        let forced = detect::forced_compose(forced_compose);
        let kind = detect::choose_engine(choice, forced.as_deref(), env)?;
        Ok(Engine {
            kind,
            program: kind.program().to_string(),
            endpoint: Box::new(Endpoint::local()),
            tunnel: None,
            forced_compose: forced,
            compose: OnceLock::new(),
            running: Arc::default(),
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
        let mut engine = Engine::detect(Some(kind), None, &env).expect("the stub is on PATH");
        // Run by its path: budgie's own PATH may have the real engine.
        engine.program = program.display().to_string();
        (engine, dir)
    }

    /// The same engine reached at `endpoint`.
    pub fn at(mut self, endpoint: Endpoint) -> Engine {
        self.endpoint = Box::new(endpoint);
        self
    }

    /// Opens what the endpoint needs before the first call: for `ssh://`,
    /// the one SSH connection every call goes through (see `ssh`);
    /// `ssh_command` is `BUDGIE_SSH_COMMAND`. Nothing for other endpoints.
    pub fn connect(mut self, ssh_command: Option<&str>) -> Result<Engine> {
        if let Some(url) = self
            .endpoint
            .url
            .as_deref()
            .filter(|u| u.starts_with("ssh://"))
        {
            let argv = ssh::ssh_command(ssh_command);
            let t = ssh::Tunnel::open(url, self.kind, &argv, self.endpoint.ssh_key())?;
            self.tunnel = Some(t);
        }
        Ok(self)
    }

    /// `cmd` sent to this engine's endpoint (for the compose tool's calls):
    /// the endpoint's variables, shown as the user named it, and routed
    /// through the SSH connection when there is one.
    pub fn reach(&self, cmd: Cmd) -> Cmd {
        if !self.reads_only(&cmd.argv) {
            self.forget_running();
        }
        let mut cmd = self.endpoint.apply(self.kind, cmd);
        if let Some(t) = &self.tunnel {
            cmd.route.push((self.kind.host_var().to_string(), t.url()));
        }
        cmd
    }

    fn cmd<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.reach(Cmd::of(&self.program, args))
    }

    /// The compose tool, found once: `BUDGIE_COMPOSE`, else for podman
    /// `podman compose` then `podman-compose`, for docker `docker compose`
    /// then `docker-compose`. Asks each candidate for its version (read-only).
    pub fn compose(&self) -> Result<&Compose> {
        self.compose
            .get_or_init(|| {
                detect::find_compose(self.kind, &self.program, self.forced_compose.as_deref())
            })
            .as_ref()
            .map_err(Clone::clone)
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

    /// Every container of the project, without the last healthcheck's
    /// output: what `status` shows. One engine call on podman (`ps
    /// --format json`), [`Engine::containers`] on docker (whose calls are
    /// cheap).
    pub fn container_list(&self, project: &str) -> Result<Vec<Container>> {
        match self.kind {
            EngineKind::Podman => self.listing(|| {
                let json = self
                    .cmd([
                        "ps".to_string(),
                        "-a".into(),
                        "--format".into(),
                        "json".into(),
                        "--filter".into(),
                        format!("label={PROJECT_LABEL}={project}"),
                    ])
                    .read()?;
                inspect::parse_podman_ps(&json)
            }),
            EngineKind::Docker => self.containers(project),
        }
    }

    /// Whether `argv` is an engine call that changes no container: a
    /// listing, an inspection, an `exec` (budgie's run database tools).
    /// Anything else, the compose tool's calls included, may.
    fn reads_only(&self, argv: &[String]) -> bool {
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        match words.as_slice() {
            [program, verb, ..] if *program == self.program => matches!(
                (*verb, words.get(2).copied()),
                ("ps" | "exec" | "version" | "info", _)
                    | ("container" | "volume" | "image", Some("inspect" | "ls"))
            ),
            _ => false,
        }
    }

    fn forget_running(&self) {
        if let Ok(mut known) = self.running.lock() {
            known.clear();
        }
    }

    /// The running container of `service` found earlier in this command,
    /// with no call since that may have changed containers; else found now
    /// ([`Engine::running_container_id`]). For the steps of one command
    /// that each need the container the command started from (a restore's
    /// summary, then its swap): one `ps`, not three.
    pub fn known_running_id(&self, project: &str, service: &str) -> Result<Option<String>> {
        let key = (project.to_string(), service.to_string());
        if let Some(id) = self.running.lock().ok().and_then(|k| k.get(&key).cloned()) {
            return Ok(Some(id));
        }
        self.running_container_id(project, service)
    }

    fn remember_running(&self, project: &str, service: &str, id: &str) {
        if let Ok(mut known) = self.running.lock() {
            known.insert((project.to_string(), service.to_string()), id.to_string());
        }
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
        let id = out.split_whitespace().next().map(str::to_string);
        if let Some(id) = &id {
            self.remember_running(project, service, id);
        }
        Ok(id)
    }

    /// Whether the container is running now (false when it is gone or the
    /// engine cannot tell).
    pub fn is_running(&self, container: &str) -> bool {
        self.cmd([
            "container",
            "inspect",
            "--format",
            "{{.State.Running}}",
            container,
        ])
        .read()
        .is_ok_and(|out| out.trim() == "true")
    }

    /// The running container of one service, if there is one.
    pub fn running_container(&self, project: &str, service: &str) -> Result<Option<Container>> {
        let found = self
            .containers(project)?
            .into_iter()
            .filter(|c| c.service == service && c.running)
            .max_by(|a, b| a.number.cmp(&b.number));
        if let Some(c) = &found {
            self.remember_running(project, service, &c.id);
        }
        Ok(found)
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
        if self.kind == EngineKind::Podman {
            // One call: podman's `volume ls` JSON is its `volume inspect`'s.
            let json = self.cmd(["volume", "ls", "--format", "json"]).read()?;
            let mut all = parse_volumes(&json)?;
            all.retain(|v| names.contains(&v.name.as_str()));
            return Ok(all);
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

    /// `<engine> cp FROM CONTAINER:TO`: a file or a directory into a running
    /// container (through the engine's API, so over a remote connection too).
    /// `<engine> cp CONTAINER:FROM -`: `from` (a file or directory in the
    /// container) as a tar stream on stdout.
    pub fn copy_out(&self, container: &str, from: &str) -> Cmd {
        self.cmd([
            "cp".to_string(),
            format!("{container}:{from}"),
            "-".to_string(),
        ])
    }

    /// `<engine> cp - CONTAINER:DIR`: a tar stream on stdin unpacked into
    /// the directory `dir` of the container.
    pub fn copy_tar_into(&self, container: &str, dir: &str) -> Cmd {
        self.cmd([
            "cp".to_string(),
            "-".to_string(),
            format!("{container}:{dir}"),
        ])
    }

    pub fn copy_into(&self, from: &std::path::Path, container: &str, to: &str) -> Cmd {
        self.cmd([
            "cp".to_string(),
            from.display().to_string(),
            format!("{container}:{to}"),
        ])
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

    /// How `volume`'s files are read and written as tar, needing nothing
    /// inside any image (see `VolumeIo`); docker needs a local `image` for
    /// its holder container.
    pub fn volume_io(&self, volume: &str, image: Option<&str>) -> Result<VolumeIo, String> {
        VolumeIo::new(
            self.kind,
            !self.endpoint.is_default(),
            &self.reach(Cmd::of(&self.program, Vec::<String>::new())),
            volume,
            image,
        )
    }

    /// Removes the holder containers (see `volume_io`; docker and podman's
    /// remote client make
    /// them) an interrupted budgie left on `volumes`: created, never
    /// started, but holding the volume, so that the engine would refuse to
    /// remove it. Returns how many.
    pub fn remove_holders(&self, volumes: &[String]) -> Result<usize> {
        if volumes.is_empty() {
            return Ok(0);
        }
        let mut args = vec![
            "ps".to_string(),
            "-a".into(),
            "-q".into(),
            "--filter".into(),
            "label=budgie.holder=1".into(),
        ];
        for v in volumes {
            args.push("--filter".into());
            args.push(format!("volume={v}"));
        }
        let out = self.cmd(args).read()?;
        let ids: Vec<String> = out.split_whitespace().map(str::to_string).collect();
        if !ids.is_empty() {
            let mut rm = vec!["rm".to_string(), "-f".into()];
            rm.extend(ids.iter().cloned());
            self.cmd(rm).read()?;
        }
        Ok(ids.len())
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

    /// `pause`, `unpause`, `stop` or `start` of these containers (ids).
    pub fn containers_cmd(&self, verb: &str, ids: &[String]) -> Cmd {
        let mut args = vec![verb.to_string()];
        args.extend(ids.iter().cloned());
        self.cmd(args)
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_container_found_is_known_until_a_call_may_change_containers() {
        let (engine, _dir) = Engine::stub(EngineKind::Podman);
        let known = |e: &Engine| {
            e.running
                .lock()
                .unwrap()
                .get(&("p".into(), "db".into()))
                .cloned()
        };
        engine.remember_running("p", "db", "c1");
        let clone = engine.clone();
        // Building read-only calls leaves it known, to the clones too (a
        // plan's steps hold clones).
        let _ = engine.exec("c1", false, false, &[], &["psql"]);
        let _ = engine.cmd(["volume", "ls", "--format", "json"]);
        let _ = engine.cmd(["container", "inspect", "c1"]);
        let _ = engine.cmd(["ps", "-q"]);
        assert_eq!(known(&clone), Some("c1".into()));
        assert_eq!(clone.known_running_id("p", "db"), Ok(Some("c1".into())));
        for changing in [
            vec!["volume", "rm", "v"],
            vec!["rm", "-f", "c1"],
            vec!["stop", "c1"],
            vec!["run", "--rm", "x"],
            vec!["container", "rm", "c1"],
        ] {
            engine.remember_running("p", "db", "c1");
            let _ = engine.cmd(changing.clone());
            assert_eq!(known(&clone), None, "{changing:?} left it known");
        }
        // The compose tool's calls go through `reach`: forgotten too.
        engine.remember_running("p", "db", "c1");
        let _ = engine.reach(Cmd::of("podman-compose", ["up", "-d"]));
        assert_eq!(known(&clone), None);
    }
}
