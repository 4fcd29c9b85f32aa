//! The test harness: a project in a temp dir, a compose file, an engine,
//! args, and assertions on exit code, output and what happened to the
//! containers, volumes and data. Tests read like a user at a terminal:
//!
//! ```ignore
//! let p = Fixture::new(Engine::Podman).compose(STACK);
//! p.budgie().arg("start").run().success();
//! assert_eq!(p.sql("select 1"), "1");
//! ```

#![allow(dead_code)]

pub mod remote;
pub mod s3;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const PG_IMAGE: &str = "localhost/budgie-postgres:15";
pub const APP_IMAGE: &str = "localhost/budgie-app:1";
/// MariaDB from the machine's Debian packages (scripts/build-test-images).
pub const MARIADB_IMAGE: &str = "localhost/budgie-mariadb:10";
/// One static binary and nothing else: no shell, no tar (a distroless
/// stand-in, from scripts/build-test-images).
pub const BARE_IMAGE: &str = "localhost/budgie-bare:1";

/// A stack like the ones budgie is for: PostgreSQL with a named volume and
/// a healthcheck, and a small app that depends on it.
pub const STACK: &str = r#"
services:
  db:
    image: ${BUDGIE_PG_IMAGE}
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: ${DB_PASSWORD:-s3cret-pw}
      POSTGRES_DB: appdb
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U app -d appdb"]
      interval: 2s
      timeout: 5s
      retries: 30
  app:
    image: ${BUDGIE_APP_IMAGE}
    command: ["sh", "-c", "while true; do sleep 3600; done"]
    depends_on:
      - db
    volumes:
      - uploads:/uploads
volumes:
  pgdata:
  uploads:
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Podman,
    Docker,
}

impl Engine {
    pub fn program(self) -> &'static str {
        match self {
            Engine::Podman => "podman",
            Engine::Docker => "docker",
        }
    }

    /// The variable its CLI reads its endpoint from.
    pub fn host_var(self) -> &'static str {
        match self {
            Engine::Podman => "CONTAINER_HOST",
            Engine::Docker => "DOCKER_HOST",
        }
    }

    pub fn compose(self) -> &'static str {
        match self {
            Engine::Podman => "podman-compose",
            Engine::Docker => "docker-compose",
        }
    }

    /// Why this engine cannot run end-to-end tests here, if it cannot.
    fn unavailable(self) -> Option<String> {
        static PODMAN: OnceLock<Option<String>> = OnceLock::new();
        static DOCKER: OnceLock<Option<String>> = OnceLock::new();
        let cell = match self {
            Engine::Podman => &PODMAN,
            Engine::Docker => &DOCKER,
        };
        cell.get_or_init(|| {
            let ok = |argv: &[&str]| {
                Command::new(argv[0])
                    .args(&argv[1..])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false)
            };
            if !ok(&[self.program(), "info"]) {
                return Some(format!("`{} info` fails", self.program()));
            }
            if !ok(&[self.compose(), "version"]) {
                return Some(format!("`{} version` fails", self.compose()));
            }
            for image in [PG_IMAGE, APP_IMAGE, BARE_IMAGE] {
                if !ok(&[self.program(), "image", "inspect", image]) {
                    return Some(format!(
                        "image {image} missing (run scripts/build-test-images)"
                    ));
                }
            }
            None
        })
        .clone()
    }

    /// Fails the test when this engine cannot run it.
    pub fn require(self) {
        require(self.program(), self.unavailable());
    }
}

/// Fails the test, naming `what` and why, when something it needs is
/// missing (`missing` is the reason). Nothing skips: a test that needs a
/// real engine or tool is compiled as ignored under `BUDGIE_E2E=skip`
/// (see build.rs), and otherwise what it needs must be there.
pub fn require(what: &str, missing: Option<String>) {
    if let Some(why) = missing {
        panic!(
            "this test needs {what}, which is unavailable: {why}\n\
             (scripts/setup-engines installs everything; BUDGIE_E2E=skip cargo test leaves the end-to-end tests out, counted as ignored)"
        );
    }
}

/// Fails the test unless `program` runs (`program ARGS` exits 0).
pub fn require_program(program: &str, args: &[&str]) {
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    require(
        program,
        (!ok).then(|| format!("`{program} {}` does not run", args.join(" "))),
    );
}

/// Runs one end-to-end test body on podman and on docker, as two tests.
#[macro_export]
macro_rules! e2e {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            #[cfg_attr(budgie_e2e_skip, ignore = "BUDGIE_E2E=skip: end-to-end on podman")]
            fn podman() {
                $crate::support::Engine::Podman.require();
                ($body)($crate::support::Engine::Podman)
            }
            #[test]
            #[cfg_attr(budgie_e2e_skip, ignore = "BUDGIE_E2E=skip: end-to-end on docker")]
            fn docker() {
                $crate::support::Engine::Docker.require();
                ($body)($crate::support::Engine::Docker)
            }
        }
    };
}

/// The exit code of a budgie run in a pseudo-terminal.
pub fn exit_code(s: rexpect::process::WaitStatus) -> i32 {
    match s {
        rexpect::process::WaitStatus::Exited(_, c) => c,
        other => panic!("budgie did not exit normally: {other:?}"),
    }
}

/// A project directory with compose files, and an engine to run it on.
pub struct Fixture {
    dir: tempfile::TempDir,
    pub name: String,
    pub engine: Option<Engine>,
    /// Extra environment for every budgie run.
    env: Vec<(String, String)>,
    /// The engine's endpoint for the test's own engine calls (a second
    /// engine: `DOCKER_HOST`/`CONTAINER_HOST`); empty for the local one.
    engine_env: Vec<(String, String)>,
}

fn unique_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 100_000)
        .unwrap_or(0);
    format!("bt{}x{n}x{t}", std::process::id())
}

impl Fixture {
    /// A project on a real engine, with a unique project name (set through
    /// COMPOSE_PROJECT_NAME, as a user of the compose tools would).
    pub fn new(engine: Engine) -> Fixture {
        let mut f = Fixture::bare();
        f.engine = Some(engine);
        f.env.push(("COMPOSE_PROJECT_NAME".into(), f.name.clone()));
        f
    }

    /// A project with no engine set up (for bad input and fake engines).
    pub fn bare() -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("budgie-test-")
            .tempdir()
            .expect("temp dir");
        Fixture {
            dir,
            name: unique_name(),
            engine: None,
            env: Vec::new(),
            engine_env: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file in the project directory.
    pub fn file(self, rel: &str, contents: &str) -> Self {
        let p = self.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, contents).unwrap();
        self
    }

    /// Writes `compose.yml`.
    pub fn compose(self, yaml: &str) -> Self {
        self.file("compose.yml", yaml)
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Runs the stack from image tags of this fixture's own (removed with
    /// it), so that `nuke`, which removes the images its project uses,
    /// never removes the images every other test runs on.
    pub fn own_images(mut self) -> Self {
        let e = self.engine();
        for (var, shared, tag) in [
            ("BUDGIE_PG_IMAGE", PG_IMAGE, "pg"),
            ("BUDGIE_APP_IMAGE", APP_IMAGE, "app"),
        ] {
            let own = format!("localhost/budgie-own-{}:{tag}", self.name);
            let ok = self
                .engine_cmd()
                .args(["tag", shared, &own])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "{} tag {shared} {own}", e.program());
            self.env.push((var.into(), own));
        }
        self
    }

    /// A budgie command in this project (`-C <dir>`), with the engine chosen
    /// through BUDGIE_ENGINE / BUDGIE_COMPOSE and the local test images.
    pub fn budgie(&self) -> Budgie {
        let mut b = Budgie::in_dir(self.path());
        if let Some(e) = self.engine {
            b.cmd.env("BUDGIE_ENGINE", e.program());
            b.cmd.env("BUDGIE_COMPOSE", e.compose());
        }
        for (k, v) in &self.env {
            b.cmd.env(k, v);
        }
        b
    }

    pub fn engine(&self) -> Engine {
        self.engine.expect("this fixture has no engine")
    }

    /// The test's own engine calls (and cleanup) go to the engine at
    /// `url` (`unix:///...`): the second engine budgie is pointed at.
    pub fn engine_at(mut self, url: &str) -> Self {
        self.engine_env = vec![(self.engine().host_var().to_string(), url.to_string())];
        self
    }

    /// An engine command of the test's own, at the fixture's engine.
    pub fn engine_cmd(&self) -> Command {
        let mut c = Command::new(self.engine().program());
        c.envs(self.engine_env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// SQL through the `mariadb` client in the container of `service`, as
    /// `user` with `password` (in the environment, as budgie passes it), on
    /// `db` if given; batch output, trimmed.
    pub fn maria_sql(
        &self,
        service: &str,
        (user, password): (&str, &str),
        db: Option<&str>,
        sql: &str,
    ) -> String {
        let c = self
            .container(service)
            .unwrap_or_else(|| panic!("{service} container running"));
        let pwd = format!("MYSQL_PWD={password}");
        let mut args = vec!["exec", "-e", &pwd, &c, "mariadb", "-N", "-B", "-u", user];
        args.extend(db);
        args.extend(["-e", sql]);
        self.engine_out(&args).trim().to_string()
    }

    /// Runs an engine command directly (test side), returning stdout.
    pub fn engine_out(&self, args: &[&str]) -> String {
        let out = self
            .engine_cmd()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("engine runs");
        assert!(
            out.status.success(),
            "{} {:?} failed: {}",
            self.engine().program(),
            args,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `script` under `sh` in a throwaway container (the busybox test
    /// image, no network) with this project's volume `key` at `/v`;
    /// returns stdout. Works whether or not the project's services run.
    pub fn in_volume(&self, key: &str, script: &str) -> String {
        let mount = format!("{}_{key}:/v", self.name);
        self.engine_out(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            &mount,
            APP_IMAGE,
            "sh",
            "-c",
            script,
        ])
    }

    /// Ids of this project's containers (all states), found by label.
    pub fn containers(&self, running_only: bool) -> Vec<String> {
        let label = format!("label=com.docker.compose.project={}", self.name);
        let mut args = vec!["ps", "-q", "--filter", &label];
        if !running_only {
            args.insert(1, "-a");
        }
        self.engine_out(&args)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// The running container of a service, by labels.
    pub fn container(&self, service: &str) -> Option<String> {
        let p = format!("label=com.docker.compose.project={}", self.name);
        let s = format!("label=com.docker.compose.service={service}");
        self.engine_out(&["ps", "-q", "--filter", &p, "--filter", &s])
            .split_whitespace()
            .next()
            .map(str::to_string)
    }

    pub fn volume_exists(&self, name: &str) -> bool {
        self.engine_out(&["volume", "ls", "-q"])
            .lines()
            .any(|l| l.trim() == name)
    }

    /// Runs `args` in the running container of `service` (test side),
    /// returning stdout; fails the test on a non-zero exit.
    pub fn exec_in(&self, service: &str, args: &[&str]) -> String {
        let c = self
            .container(service)
            .unwrap_or_else(|| panic!("{service} container running"));
        let mut all = vec!["exec", c.as_str()];
        all.extend_from_slice(args);
        self.engine_out(&all)
    }

    /// Runs SQL in the database container as `app` on `appdb`; returns the
    /// unaligned, tuples-only output, trimmed.
    pub fn sql(&self, sql: &str) -> String {
        self.sql_in("appdb", sql)
    }

    pub fn sql_in(&self, db: &str, sql: &str) -> String {
        self.sql_at("db", "app", db, sql)
    }

    /// Runs SQL with psql in the container of `service` as `user` on `db`.
    pub fn sql_at(&self, service: &str, user: &str, db: &str, sql: &str) -> String {
        let c = self
            .container(service)
            .unwrap_or_else(|| panic!("{service} container running"));
        let out = self
            .engine_cmd()
            .args([
                "exec",
                &c,
                "psql",
                "-U",
                user,
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ])
            .stdin(Stdio::null())
            .output()
            .expect("exec psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// What a database holds, comparable before and after a restore: each
    /// table in `public` → (row count, md5 of its rows as text in text
    /// order); each sequence in `public` (`sequence NAME`) → (0, last value);
    /// and `constraints` → (how many, md5 of their definitions).
    pub fn checksums(&self, db: &str) -> std::collections::BTreeMap<String, (u64, String)> {
        self.checksums_at("db", "app", db)
    }

    /// [`Fixture::checksums`] of database `db` in service `service`, as `user`.
    pub fn checksums_at(
        &self,
        service: &str,
        user: &str,
        db: &str,
    ) -> std::collections::BTreeMap<String, (u64, String)> {
        let out = self.sql_at(
            service,
            user,
            db,
            r#"
            select 'table ' || c.relname,
                   (xpath('/row/n/text()', x.x))[1]::text,
                   coalesce((xpath('/row/h/text()', x.x))[1]::text, '-')
              from pg_class c
              join pg_namespace s on s.oid = c.relnamespace
             cross join lateral query_to_xml(format(
                   'select count(*) as n, md5(string_agg(t::text, ''|'' order by t::text)) as h from %I.%I t',
                   s.nspname, c.relname), false, true, '') as x(x)
             where s.nspname = 'public' and c.relkind in ('r', 'p')
            union all
            select 'sequence ' || sequencename, '0', coalesce(last_value::text, 'unused')
              from pg_sequences where schemaname = 'public'
            union all
            select 'constraints', count(*)::text,
                   coalesce(md5(string_agg(conrelid::regclass::text || ' ' || conname || ' '
                       || pg_get_constraintdef(oid), '|' order by conrelid::regclass::text, conname)), '-')
              from pg_constraint where connamespace = 'public'::regnamespace
            order by 1"#,
        );
        out.lines()
            .map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                assert_eq!(f.len(), 3, "unexpected checksum row {l:?}");
                (
                    f[0].to_string(),
                    (f[1].parse().expect("a row count"), f[2].to_string()),
                )
            })
            .collect()
    }

    /// `budgie snapshot list --json` with `extra` arguments: a record each.
    pub fn snapshots(&self, extra: &[&str]) -> Vec<serde_json::Value> {
        let doc = self
            .budgie()
            .args(["snapshot", "list", "--json"])
            .args(extra)
            .run()
            .success()
            .json();
        doc.as_array().expect("a list of snapshots").clone()
    }

    /// The names of the databases on the server.
    pub fn databases(&self) -> Vec<String> {
        self.sql_in("postgres", "select datname from pg_database order by 1")
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Files in the project's `backups/` directory (names, sorted), hidden
    /// ones (`.gitignore`, the lock, temporaries) left out.
    pub fn backups(&self) -> Vec<String> {
        self.backup_dir_entries()
            .into_iter()
            .filter(|n| !n.starts_with('.'))
            .collect()
    }

    /// Every name in `backups/`, hidden ones included, sorted.
    pub fn backup_dir_entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path().join("backups"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Temporary files left in `backups/` (there must never be any after a
    /// command ends, except after kill -9).
    pub fn temporaries(&self) -> Vec<String> {
        self.backup_dir_entries()
            .into_iter()
            .filter(|n| n.ends_with(".partial") || n.contains(".tmp"))
            .collect()
    }

    /// The backups whose name ends with `suffix` (e.g. "_pre-clean.sql").
    pub fn backups_ending(&self, suffix: &str) -> Vec<PathBuf> {
        self.backups()
            .into_iter()
            .filter(|n| n.ends_with(suffix))
            .map(|n| self.path().join("backups").join(n))
            .collect()
    }

    /// Creates database `db` and loads a plain SQL dump into it with psql
    /// (ON_ERROR_STOP), the way a user would check a backup by hand.
    pub fn load_dump(&self, file: &Path, db: &str) {
        self.sql_in("postgres", &format!("create database {db}"));
        let c = self.container("db").expect("db container running");
        let input = std::fs::File::open(file).expect("dump file");
        let out = self
            .engine_cmd()
            .args([
                "exec",
                "-i",
                &c,
                "psql",
                "-U",
                "app",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
            ])
            .stdin(input)
            .output()
            .expect("exec psql");
        assert!(
            out.status.success(),
            "loading {} failed: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A budgie command in a real pseudo-terminal (for prompts).
    pub fn budgie_pty(&self, args: &[&str]) -> rexpect::session::PtySession {
        let mut cmd = self.budgie().cmd;
        cmd.args(args);
        rexpect::session::spawn_command(cmd, Some(120_000)).expect("spawn budgie in a pty")
    }

    /// `budgie backup --volume KEY --json`, which must succeed: the path of
    /// the archive it wrote.
    pub fn backup_volume(&self, key: &str) -> String {
        let doc = self
            .budgie()
            .args(["backup", "--volume", key, "--json"])
            .run()
            .success()
            .json();
        doc[0]["path"]
            .as_str()
            .expect("the archive's path")
            .to_string()
    }

    /// Waits until the database answers (budgie start already does; this is
    /// for stacks started by other means).
    pub fn wait_db(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Some(c) = self.container("db") {
                let ok = self
                    .engine_cmd()
                    .args([
                        "exec",
                        &c,
                        "pg_isready",
                        "-q",
                        "-h",
                        "127.0.0.1",
                        "-U",
                        "app",
                        "-d",
                        "appdb",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
                if ok {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!("database of {} never became ready", self.name);
    }

    /// Removes everything of this project from the engine: containers,
    /// volumes and networks labelled with its name, and volumes named after it.
    fn cleanup(&self) {
        let Some(e) = self.engine else { return };
        let run = |args: &[&str]| -> String {
            let mut c = Command::new(e.program());
            c.envs(self.engine_env.iter().map(|(k, v)| (k, v)));
            c.args(args)
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        let label = format!("label=com.docker.compose.project={}", self.name);
        // A lock on the engine a test left (tests/remote_engines.rs).
        run(&["rm", "-f", &format!("budgie-lock-{}", self.name)]);
        let ids: Vec<String> = run(&["ps", "-aq", "--filter", &label])
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids.iter().map(String::as_str));
            run(&args);
        }
        let prefix = format!("{}_", self.name);
        let vols: Vec<String> = run(&["volume", "ls", "-q"])
            .lines()
            .map(str::trim)
            .filter(|v| v.starts_with(&prefix))
            .map(str::to_string)
            .collect();
        let labelled: Vec<String> = run(&["volume", "ls", "-q", "--filter", &label])
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let all: Vec<&str> = vols
            .iter()
            .chain(labelled.iter())
            .map(String::as_str)
            .collect();
        // A holder container (docker) an interrupted archive left keeps
        // its volume from being removed.
        let mut holders = vec!["ps", "-aq", "--filter", "label=budgie.holder=1"];
        let filters: Vec<String> = all.iter().map(|v| format!("volume={v}")).collect();
        for f in &filters {
            holders.extend(["--filter", f.as_str()]);
        }
        let held: Vec<String> = if all.is_empty() {
            Vec::new()
        } else {
            run(&holders)
                .split_whitespace()
                .map(str::to_string)
                .collect()
        };
        if !held.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(held.iter().map(String::as_str));
            run(&args);
        }
        if !all.is_empty() {
            let mut args = vec!["volume", "rm", "-f"];
            args.extend(all);
            run(&args);
        }
        let nets: Vec<String> = run(&["network", "ls", "-q", "--filter", &label])
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let default_net = format!("{}_default", self.name);
        let mut args = vec!["network", "rm"];
        args.extend(nets.iter().map(String::as_str));
        args.push(&default_net);
        run(&args);
        let own: Vec<&str> = self
            .env
            .iter()
            .filter(|(_, v)| v.starts_with("localhost/budgie-own-"))
            .map(|(_, v)| v.as_str())
            .collect();
        if !own.is_empty() {
            let mut args = vec!["rmi"];
            args.extend(own);
            run(&args);
        }
        if e == Engine::Podman {
            // podman-compose puts the containers in a pod of their own,
            // which removing the containers leaves behind.
            run(&["pod", "rm", "-f", &format!("pod_{}", self.name)]);
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// `s` with every regex metacharacter escaped.
/// The set a command's output says to restore (`budgie restore --set ID`).
pub fn set_named(stderr: &str) -> String {
    stderr
        .split("budgie restore --set ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no set named: {stderr}"))
        .to_string()
}

pub fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `path` as it was given and as the file system resolves it (symlinks
/// followed), the longer first: both may appear in budgie's output.
fn both_spellings(path: &Path) -> Vec<String> {
    let mut v = vec![path.display().to_string()];
    if let Ok(c) = path.canonicalize() {
        v.push(c.display().to_string());
    }
    v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    v.dedup();
    v
}

/// The filters that turn a run's output into its stable shape, in order.
///
/// On every fixture: the project's temp dir is `[DIR]` (its name alone,
/// a project name when nothing else names one, `[DIRNAME]`), the
/// fixture's generated name `[PROJECT]`, the budgie binary `[BUDGIE]`, any
/// other temp dir of the harness (a `FakeEngine`'s bin dir, a
/// `tempfile::tempdir()`) `[TMP]`; the umask's mode of a directory, and
/// whether a timer's log is the user's or the system's (root), do not show;
/// time stamps, sizes, ages, durations and hashes get placeholders, and
/// table columns are two spaces apart.
///
/// On a fixture with a real engine (`Fixture::new`), where one body runs on
/// podman and on docker, the engine and compose tool names and their
/// versions are placeholders too (`[ENGINE]`, `[COMPOSE]`, `[VERSION]`).
/// A fake engine (`Fixture::bare`) answers the same everywhere, so its
/// snapshots keep the names: which tool budgie chose is part of what they
/// show.
pub fn filters(p: &Fixture) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = Vec::new();
    for dir in both_spellings(p.path()) {
        f.push((escape(&dir), "[DIR]".into()));
    }
    for exe in both_spellings(Path::new(env!("CARGO_BIN_EXE_budgie"))) {
        f.push((escape(&exe), "[BUDGIE]".into()));
    }
    for tmp in both_spellings(&std::env::temp_dir()) {
        f.push((
            format!(r"{}/\.tmp[A-Za-z0-9]+", escape(tmp.trim_end_matches('/'))),
            "[TMP]".into(),
        ));
    }
    // The directory's own name, which is the project's name where nothing
    // else names it (lower-cased by compose).
    if let Some(base) = p.path().file_name() {
        let base = base.to_string_lossy();
        f.push((format!("(?i){}", escape(&base)), "[DIRNAME]".into()));
    }
    f.push((escape(&p.name), "[PROJECT]".into()));
    // The mode of a directory the test made (the umask's, 755 or 775).
    f.push((r"\(mode [0-7]{3}: ".into(), "(mode [MODE]: ".into()));
    // A user timer's log (`--user`) or a system timer's (when root).
    f.push((
        r"journalctl (--user )?-u ".into(),
        "journalctl [--user] -u ".into(),
    ));
    if p.engine.is_some() {
        for (regex, to) in [
            // Before the engine names: they contain them.
            (r"\b(podman-compose|docker-compose)\b", "[COMPOSE]"),
            (r"\b(podman|docker)\b", "[ENGINE]"),
            (r"\[ENGINE\] \S+ answers", "[ENGINE] [VERSION] answers"),
            (
                r"\[COMPOSE\] version [^(]*\(",
                "[COMPOSE] version [VERSION] (",
            ),
        ] {
            f.push((regex.into(), to.into()));
        }
    }
    for (regex, to) in [
        (
            r"database version \d[\w.]*( \([^)]*\))?",
            "database version [VERSION]",
        ),
        (r"\d{8}_\d{6}", "[STAMP]"),
        (r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\b", "[TIME]"),
        (r"\b\d+(\.\d+)? (B|kB|MB|GB|TB)\b", "[SIZE]"),
        (r"\b\d+\.\ds\b", "[DURATION]"),
        (r"\b\d+[smhd] (ago|old)\b", "[AGE] $1"),
        (r"\b[0-9a-f]{64}\b", "[SHA256]"),
        // Column gaps: two spaces (placeholders change the widths).
        (r"(\S) {2,}", "$1  "),
    ] {
        f.push((regex.into(), to.into()));
    }
    f
}

/// Compares `text` (a whole output of budgie) with the snapshot `name` in
/// `tests/snapshots/`, after the filters of `p`. Name snapshots
/// `<module>_<test or command>`; `cargo insta review` (or
/// `INSTA_UPDATE=always cargo test ...`) accepts a changed one.
pub fn snapshot(p: &Fixture, name: &str, text: &str) {
    let filters = filters(p);
    let mut settings = insta::Settings::clone_current();
    settings.set_filters(
        filters
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect::<Vec<_>>(),
    );
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// A budgie invocation being built: run it, then assert on the outcome.
#[must_use = "a budgie command that is built but not run tests nothing"]
pub struct Budgie {
    cmd: Command,
    stdin: Option<String>,
}

impl Budgie {
    /// budgie in `dir` (`-C DIR`), with none of the caller's compose or
    /// budgie settings, no colors, and the local test images.
    pub fn in_dir(dir: &Path) -> Budgie {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_budgie"));
        cmd.arg("-C").arg(dir);
        for k in [
            "COMPOSE_FILE",
            "COMPOSE_PROJECT_NAME",
            "COMPOSE_PROFILES",
            "BUDGIE_ENGINE",
            "BUDGIE_COMPOSE",
            "BUDGIE_BACKUP_DIR",
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "CONTAINER_HOST",
            "CONTAINER_CONNECTION",
        ] {
            cmd.env_remove(k);
        }
        cmd.env("NO_COLOR", "1");
        cmd.env("BUDGIE_PG_IMAGE", PG_IMAGE);
        cmd.env("BUDGIE_APP_IMAGE", APP_IMAGE);
        cmd.env("BUDGIE_MARIADB_IMAGE", MARIADB_IMAGE);
        Budgie { cmd, stdin: None }
    }

    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }

    /// Runs budgie with this umask (set in the child only, between fork
    /// and exec: the test process's own umask is shared by every test).
    pub fn umask(mut self, mask: u32) -> Self {
        use std::os::unix::process::CommandExt;
        // SAFETY: umask(2) is async-signal-safe and touches nothing else.
        unsafe {
            self.cmd.pre_exec(move || {
                libc::umask(mask as libc::mode_t);
                Ok(())
            });
        }
        self
    }

    pub fn stdin(mut self, s: &str) -> Self {
        self.stdin = Some(s.to_string());
        self
    }

    /// Runs it in a real pseudo-terminal (stdin, stdout and stderr), with
    /// `timeout_ms` for each expectation.
    /// The command itself, for a test that needs to wire it by hand.
    pub fn command(self) -> Command {
        self.cmd
    }

    pub fn pty(self, timeout_ms: u64) -> rexpect::session::PtySession {
        rexpect::session::spawn_command(self.cmd, Some(timeout_ms)).expect("spawn budgie in a pty")
    }

    /// Starts it without waiting (stdout and stderr discarded).
    pub fn spawn(mut self) -> std::process::Child {
        self.cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.cmd.spawn().expect("budgie runs")
    }

    /// Starts it without waiting, stderr captured (for `wait_with_output`),
    /// stdin and stdout discarded.
    pub fn spawn_capturing_stderr(mut self) -> std::process::Child {
        self.cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        self.cmd.spawn().expect("budgie runs")
    }

    #[must_use = "a budgie run whose outcome is not checked tests nothing"]
    pub fn run(mut self) -> Outcome {
        use std::io::Write;
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        self.cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let shown = format!("{:?}", self.cmd);
        let mut child = self.cmd.spawn().expect("budgie runs");
        if let Some(input) = self.stdin.take() {
            let mut si = child.stdin.take().unwrap();
            si.write_all(input.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().expect("budgie finishes");
        Outcome {
            shown,
            code: out.status.code(),
            signal: std::os::unix::process::ExitStatusExt::signal(&out.status),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// What a budgie run did: assert on it (`success`, `code`, `stderr_has`...).
#[derive(Debug)]
pub struct Outcome {
    shown: String,
    pub code: Option<i32>,
    /// The signal that ended it (`kill -9`: 9).
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn explain(&self) -> String {
        format!(
            "\n  command: {}\n  exit: {:?}\n  stdout:\n{}\n  stderr:\n{}",
            self.shown, self.code, self.stdout, self.stderr
        )
    }

    pub fn success(self) -> Self {
        assert_eq!(self.code, Some(0), "expected success{}", self.explain());
        self
    }

    pub fn code(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit {code}{}",
            self.explain()
        );
        self
    }

    pub fn failure(self) -> Self {
        assert!(
            matches!(self.code, Some(c) if c != 0),
            "expected failure{}",
            self.explain()
        );
        self
    }

    pub fn stderr_has(self, needle: &str) -> Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}{}",
            self.explain()
        );
        self
    }

    pub fn stdout_has(self, needle: &str) -> Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}{}",
            self.explain()
        );
        self
    }

    pub fn lacks(self, needle: &str) -> Self {
        assert!(
            !self.stdout.contains(needle) && !self.stderr.contains(needle),
            "output contains {needle:?}{}",
            self.explain()
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}{}", self.explain()))
    }
}

/// A fake engine and compose tool on a private PATH: each records its argv
/// (one line per call, written in one piece: budgie runs some calls at
/// once) in `calls.log`, answers `version` (the engine's
/// `version --format ...` with the bare version, as the real ones do), and
/// does nothing else — or fails like an engine that cannot be reached, with
/// the message of the real one (docker's daemon down, podman's socket).
pub struct FakeEngine {
    pub bin: tempfile::TempDir,
}

impl FakeEngine {
    pub fn new(daemon_down: bool) -> FakeEngine {
        let bin = tempfile::tempdir().unwrap();
        let log = bin.path().join("calls.log");
        let body = |name: &str| {
            let fail = match name {
                _ if !daemon_down || name.ends_with("-compose") => "",
                "docker" => {
                    "case \"$1\" in version|info|ps|volume|system) echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2; exit 1;; esac\n"
                }
                _ => {
                    "case \"$1\" in version|info|ps|volume|system) echo 'Cannot connect to Podman. Please verify your connection to the Linux system using `podman system connection list`, or try `podman machine init` and `podman machine start` to manage a new Linux VM' >&2; echo 'Error: unable to connect to Podman socket: failed to connect: dial unix /run/podman/podman.sock: connect: no such file or directory' >&2; exit 125;; esac\n"
                }
            };
            format!(
                "#!/bin/sh\nline='{name}'\nfor a in \"$@\"; do line=\"$line $a\"; done\nprintf '%s\\n' \"$line\" >> '{log}'\n{fail}case \"$1\" in\n  version) if [ \"$2\" = --format ]; then echo 1.0.0; else echo '{name} version 1.0.0'; fi;;\n  compose) echo 'unrecognized command' >&2; exit 125;;\n  *) ;;\nesac\nexit 0\n",
                log = log.display()
            )
        };
        for name in ["podman", "docker", "podman-compose", "docker-compose"] {
            let p = bin.path().join(name);
            std::fs::write(&p, body(name)).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        FakeEngine { bin }
    }

    /// A PATH with only the fakes and the basic tools a shell script needs.
    pub fn path(&self) -> String {
        format!("{}:/usr/bin:/bin", self.bin.path().display())
    }

    /// Every recorded call, one per line.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.bin.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// A directory holding no engine at all, for "not installed" cases.
pub fn empty_path() -> PathBuf {
    let d = std::env::temp_dir().join("budgie-test-empty-path");
    std::fs::create_dir_all(&d).unwrap();
    d
}
