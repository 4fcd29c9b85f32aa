//! End-to-end, both engines: budgie driving an engine that is not this
//! machine's default one — the second dockerd and the second podman
//! service that scripts/setup-remote starts, reached through their unix
//! sockets (`DOCKER_HOST`/`CONTAINER_HOST`, `--engine-host`, a docker
//! context, a podman connection) and over `ssh://` through an sshd on
//! 127.0.0.1 that the test starts with keys it makes. On each: the
//! lifecycle, backup, the gate naming the machine, restore, a second
//! budgie (another machine: its own backup directory) kept out by the lock
//! on the engine, a stale lock broken by `budgie unlock`, a relative bind
//! mount warned about, one SSH login for many commands, and the local
//! engine's containers and volumes untouched throughout.

use std::process::{Command, Stdio};

use crate::e2e;
use crate::support::remote::{Sshd, require_second_engine, second_engine};
use crate::support::*;

/// Containers and volumes of project `name` on this machine's default
/// engine (the one the tests must leave alone).
fn local_things(engine: Engine, name: &str) -> usize {
    let label = format!("label=com.docker.compose.project={name}");
    let count = |args: &[&str]| {
        let out = Command::new(engine.program())
            .args(args)
            .env_remove("DOCKER_HOST")
            .env_remove("CONTAINER_HOST")
            .stderr(Stdio::null())
            .output()
            .expect("the local engine answers");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .count()
    };
    count(&["ps", "-aq", "--filter", &label])
        + count(&["volume", "ls", "-q", "--filter", &label])
        + count(&["ps", "-aq", "--filter", &format!("name=budgie-lock-{name}")])
}

/// The lock containers of the fixture's project on its (second) engine.
fn locks_on_engine(p: &Fixture) -> usize {
    p.engine_out(&[
        "ps",
        "-aq",
        "--filter",
        &format!("name=budgie-lock-{}", p.name),
    ])
    .split_whitespace()
    .count()
}

/// `budgie [host...] restore DUMP` in a terminal: its question names the
/// machine at `url`; while it waits there, another laptop (its own backup
/// directory, so no shared file lock) is kept out by the lock on the
/// engine, told who holds it; then the database name is typed, the app
/// is not restarted, and the restore ends well.
fn restore_keeping_another_laptop_out(p: &Fixture, host: &[&str], dump: &str, url: &str) {
    let mut args = host.to_vec();
    args.extend(["restore", dump]);
    let mut s = p.budgie_pty(&args);
    s.exp_string(&format!("to replace it on {url}"))
        .expect("the question names the machine");
    let other = tempfile::tempdir().unwrap();
    p.budgie()
        .arg("--backup-dir")
        .arg(other.path())
        .args(host)
        .args(["--lock-timeout", "1", "backup"])
        .run()
        .failure()
        .stderr_has(&format!("is locked on {url} by `budgie restore` (pid"))
        .stderr_has("gave up after 1s");
    assert_eq!(locks_on_engine(p), 1);
    s.send_line("appdb").unwrap();
    // The app depends on the database: restart it or not (not).
    s.exp_string("Restart it now?").unwrap();
    s.send_line("n").unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(s.process().wait().unwrap()), 0);
}

fn rows(p: &Fixture) -> String {
    p.sql("select count(*) from notes")
}

e2e!(a_second_engine_through_its_socket, |engine| {
    require_second_engine(engine);
    let url = second_engine(engine);
    // The engine's own variable chooses it, as for `docker`/`podman`.
    let p = Fixture::new(engine)
        .engine_at(url)
        .env(engine.host_var(), url)
        .compose(STACK);
    p.budgie().arg("start").run().success();
    p.budgie()
        .arg("status")
        .run()
        .success()
        .stderr_has(&format!("({} on {url})", engine.program()));
    p.budgie()
        .args(["doctor", "--json"])
        .run()
        .stdout_has(&format!("\"url\": \"{url}\""))
        .stdout_has(&format!("\"source\": \"{}\"", engine.host_var()));
    p.sql(
        "create table notes(id int primary key, body text); \
         insert into notes select g, md5(g::text) from generate_series(1, 2000) g;",
    );
    let before = p.checksums("appdb");
    p.budgie().arg("backup").run().success();
    let dump = p.backups_ending(".sql").pop().expect("a dump");
    let dump = dump.display().to_string();
    p.sql("delete from notes where id > 10");

    // The gate names the machine; while this budgie waits at its question,
    // another one (another laptop: its own backup directory, so no shared
    // file lock) is kept out by the lock on the engine, told who holds it.
    restore_keeping_another_laptop_out(&p, &[], &dump, url);
    assert_eq!(p.checksums("appdb"), before);
    assert_eq!(locks_on_engine(&p), 0, "the lock goes with its holder");

    // A budgie killed while holding the lock leaves it: the next one is
    // refused at once, naming the dead holder; `unlock` breaks it.
    let mut s = p.budgie_pty(&["restore", &dump]);
    s.exp_string("Type the database name").unwrap();
    s.process_mut()
        .signal(rexpect::process::Signal::SIGKILL)
        .unwrap();
    let _ = s.process().wait();
    assert_eq!(locks_on_engine(&p), 1);
    p.budgie()
        .arg("backup")
        .run()
        .failure()
        .stderr_has("the lock is stale")
        .stderr_has("budgie unlock");
    p.budgie().arg("unlock").run().code(3);
    assert_eq!(locks_on_engine(&p), 1, "no --yes, no terminal: kept");
    p.budgie()
        .args(["unlock", "--yes"])
        .run()
        .success()
        .stderr_has("broken");
    p.budgie().arg("backup").run().success();
    assert_eq!(rows(&p), "2000");

    // A volume's files out and back in through the engine's API (podman's
    // remote client has no volume export/import: a holder and cp).
    let app = p.container("app").unwrap();
    p.engine_out(&["exec", &app, "sh", "-c", "echo invoice-42 > /uploads/a.txt"]);
    let archive = p.backup_volume("uploads");
    p.engine_out(&[
        "exec",
        &app,
        "sh",
        "-c",
        "echo overwritten > /uploads/a.txt; touch /uploads/b",
    ]);
    p.budgie()
        .args(["restore", &archive, "--volume", "uploads", "--yes"])
        .run()
        .success()
        .stderr_has(&format!("on {url}"));
    assert_eq!(
        p.in_volume("uploads", "ls /v; cat /v/a.txt").trim(),
        "a.txt\ninvoice-42"
    );

    // clean deletes there, and only there; the flag names the same engine.
    p.budgie()
        .env_remove(engine.host_var())
        .args(["--engine-host", url, "clean", "--yes"])
        .run()
        .success();
    assert!(!p.volume_exists(&format!("{}_pgdata", p.name)));
    assert_eq!(local_things(engine, &p.name), 0);
});

e2e!(a_second_engine_over_ssh, |engine| {
    require_second_engine(engine);
    let sshd = Sshd::start();
    let url = sshd.url(engine);
    let site = "      - uploads:/uploads\n      - ./site:/site";
    let p = Fixture::new(engine)
        .engine_at(second_engine(engine))
        .env("BUDGIE_SSH_COMMAND", &sshd.ssh_command())
        .env("XDG_RUNTIME_DIR", &sshd.runtime_dir().display().to_string())
        .compose(&STACK.replace("      - uploads:/uploads", site));
    let on = |args: &[&str]| {
        let mut b = p.budgie().args(["--engine-host", &url]);
        b = b.args(args);
        b.run()
    };
    // ./site resolves on this machine: said at start, and by doctor.
    on(&["start"])
        .success()
        .stderr_has(&format!(
            "the engine is on {url}: bind mounts written relative"
        ))
        .stderr_has("/site (app)");
    on(&["doctor"]).code(1).stderr_has("✗ bind mounts");
    on(&["status"])
        .success()
        .stderr_has(&format!("({} on {url})", engine.program()))
        .stderr_has(&format!(
            "1 bind-mounted directory of the services: paths on {url}, not read from here"
        ));
    p.sql(
        "create table notes(id int primary key, body text); \
         insert into notes select g, md5(g::text) from generate_series(1, 3000) g;",
    );
    let before = p.checksums("appdb");
    on(&["backup"]).success();
    let dump = p.backups_ending(".sql").pop().expect("a dump");
    p.sql("truncate notes");
    // The gate, in a terminal, names the server; another laptop is kept
    // out meanwhile by the lock on the engine, over the same SSH master.
    restore_keeping_another_laptop_out(
        &p,
        &["--engine-host", &url],
        &dump.display().to_string(),
        &url,
    );
    assert_eq!(p.checksums("appdb"), before);
    // The rest of the lifecycle through the same connection.
    on(&["restart"]).success();
    assert_eq!(rows(&p), "3000");

    // All of that through one SSH connection, still up for the next
    // command.
    assert_eq!(sshd.logins(), 1, "one login for every command");
    assert_eq!(sshd.masters(), 1);

    // Saying the paths exist on the server ends the warning.
    std::fs::write(
        p.path().join("compose.yml"),
        format!(
            "{}\nx-budgie:\n  remote:\n    bind_mounts: server\n",
            STACK.replace("      - uploads:/uploads", site)
        ),
    )
    .unwrap();
    let doctor = on(&["doctor"]);
    assert!(
        !doctor.stderr.contains("bind mounts"),
        "{}",
        doctor.explain()
    );

    on(&["clean", "--yes"]).success();
    assert!(!p.volume_exists(&format!("{}_pgdata", p.name)));
    assert_eq!(local_things(engine, &p.name), 0);
});

e2e!(contexts_and_connections_name_the_endpoint, |engine| {
    require_second_engine(engine);
    let url = second_engine(engine);
    let conf = tempfile::tempdir().unwrap();
    let conf_dir = conf.path().display().to_string();
    // The engine's own configuration, in a directory of the test's.
    let (var, flag, made) = match engine {
        Engine::Docker => (
            "DOCKER_CONFIG",
            "--context",
            Command::new("docker")
                .env("DOCKER_CONFIG", &conf_dir)
                .args(["context", "create", "second", "--docker"])
                .arg(format!("host={url}"))
                .output(),
        ),
        Engine::Podman => (
            "XDG_CONFIG_HOME",
            "--connection",
            Command::new("podman")
                .env("XDG_CONFIG_HOME", &conf_dir)
                .args(["system", "connection", "add", "second", url])
                .output(),
        ),
    };
    let made = made.expect("the engine's CLI runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let p = Fixture::new(engine)
        .engine_at(url)
        .env(var, &conf_dir)
        .compose(STACK);
    p.budgie()
        .args([flag, "second", "config", "--json"])
        .run()
        .success()
        .stdout_has(&format!("\"url\": \"{url}\""))
        .stdout_has("\"name\": \"second\"");
    // The same through the engine's variable, and the status of the
    // (empty) project is read there.
    let env = match engine {
        Engine::Docker => "DOCKER_CONTEXT",
        Engine::Podman => "CONTAINER_CONNECTION",
    };
    p.budgie()
        .env(env, "second")
        .arg("status")
        .run()
        .success()
        .stderr_has(&format!("on second ({url})"));
    p.budgie()
        .args([flag, "nope", "status"])
        .run()
        .code(2)
        .stderr_has(&format!("{flag} nope: no such"));
});

e2e!(
    an_endpoint_that_does_not_answer_is_named_and_nothing_runs,
    |engine| {
        let p = Fixture::new(engine).compose(STACK);
        // A socket nobody listens on.
        p.budgie()
            .args(["--engine-host", "unix:///nonexistent/engine.sock", "backup"])
            .run()
            .code(1)
            .stderr_has(&format!(
                "the {} engine at unix:///nonexistent/engine.sock does not answer",
                engine.program()
            ));
        // SSH to a port nobody listens on: BatchMode, so no prompt, and the
        // reason is ssh's own.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let runtime = tempfile::tempdir().unwrap();
        p.budgie()
            .env("XDG_RUNTIME_DIR", runtime.path())
            .args([
                "--engine-host",
                &format!("ssh://root@127.0.0.1:{port}/run/engine.sock"),
                "clean",
                "--yes",
            ])
            .run()
            .code(1)
            .stderr_has("over SSH")
            .stderr_has("Connection refused");
        // A bad URL is a usage error, before anything.
        p.budgie()
            .args(["--engine-host", "prod.example:2375", "status"])
            .run()
            .code(2)
            .stderr_has("--engine-host=prod.example:2375: expected unix:///PATH");
        assert!(p.backups().is_empty());
        assert_eq!(local_things(engine, &p.name), 0);
    }
);
