//! The secrets and file-mode promises (DESIGN.md invariant 6), end to end
//! on both engines: no password on any process's command line while
//! budgie backs up and restores, backup files 0600 in a 0700 directory
//! whatever the umask, and a `.env` password never in what budgie prints.

use std::os::unix::fs::PermissionsExt;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::e2e;
use crate::support::*;

/// A password no other test uses (the other engine's variant of a test
/// runs at the same time), long and odd enough not to occur by chance.
fn secret(engine: Engine) -> String {
    format!("Pw-{}-{engine:?}-q7Zx3", std::process::id())
}

/// The stack with its password in `.env`, started, with enough data
/// (about 70 MB) that a backup and a restore last long enough to sample
/// the process table many times.
fn started_with_data(engine: Engine, secret: &str) -> Fixture {
    let p = Fixture::new(engine)
        .compose(STACK)
        .file(".env", &format!("DB_PASSWORD={secret}\n"));
    p.budgie().arg("start").run().success();
    p.sql(
        "create table big as select g as id, repeat(md5(g::text), 20) as pad \
         from generate_series(1, 100000) g",
    );
    p
}

/// What the process table showed while one budgie command ran.
struct Watched {
    /// Command lines that held the secret.
    leaks: Vec<String>,
    /// Command lines of budgie's own children.
    children: Vec<String>,
    /// How many times every process was looked at.
    sweeps: u32,
    status: std::process::ExitStatus,
}

/// Reads every process's command line (`/proc/*/cmdline`: the engine, its
/// daemon, conmon, the container's pg_dump and psql — all are visible from
/// the host) again and again until `child` exits.
fn watch(mut child: Child, secret: &str) -> Watched {
    let pid = child.id().to_string();
    let mut w = Watched {
        leaks: Vec::new(),
        children: Vec::new(),
        sweeps: 0,
        status: std::process::ExitStatus::default(),
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Some(status) = child.try_wait().expect("budgie runs") {
            w.status = status;
            return w;
        }
        assert!(Instant::now() < deadline, "budgie ran for 10 minutes");
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
            if cmdline.contains(secret) && !w.leaks.contains(&cmdline) {
                w.leaks.push(cmdline.clone());
            }
            // The parent's pid is the 4th field of stat, after `(comm)`.
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1));
            if ppid == Some(pid.as_str()) && !w.children.contains(&cmdline) {
                w.children.push(cmdline);
            }
        }
        w.sweeps += 1;
    }
}

impl Watched {
    /// The command succeeded, ran a child whose command line names
    /// `program`, was sampled often, and no command line held the secret.
    fn assert_clean(&self, what: &str, program: &str) {
        assert!(self.status.success(), "{what} failed: {:?}", self.status);
        assert!(
            self.sweeps >= 20,
            "{what}: the process table was read only {} times",
            self.sweeps
        );
        assert!(
            self.children.iter().any(|c| c.contains(program)),
            "{what}: never saw budgie run {program}; its children: {:#?}",
            self.children
        );
        assert!(
            self.leaks.is_empty(),
            "{what}: the password on a command line: {:#?}",
            self.leaks
        );
    }
}

e2e!(
    no_password_on_any_command_line_during_backup_and_restore,
    |engine| {
        let secret = secret(engine);
        let p = started_with_data(engine, &secret);
        let backup = watch(p.budgie().args(["backup"]).spawn(), &secret);
        backup.assert_clean("backup", "pg_dump");

        let file = p.backups_ending(".sql").pop().expect("the backup");
        p.sql("insert into big values (0, 'changed')");
        let restore = watch(
            p.budgie().arg("restore").arg(&file).arg("--yes").spawn(),
            &secret,
        );
        restore.assert_clean("restore", "psql");
        assert_eq!(p.sql("select count(*) from big where id = 0"), "0");
    }
);

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

e2e!(backups_are_private_whatever_the_umask, |engine| {
    // tests/backup.rs checks one plain backup under the default umask;
    // here every kind of file budgie writes there, under umask 000, in a
    // directory that already existed open to everyone.
    let p = Fixture::new(engine).compose(STACK);
    p.budgie().arg("start").run().success();
    p.sql("create table t as select 1 as x");
    let dir = p.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    for args in [
        vec!["backup"],
        vec!["backup", "--compress", "gzip"],
        vec!["backup", "--compress", "zstd"],
        vec!["backup", "--volume", "uploads"],
        vec!["clean", "--yes"],
    ] {
        p.budgie().umask(0).args(&args).run().success();
    }
    assert_eq!(mode(&dir), 0o700, "the backup directory");
    let names = p.backup_dir_entries();
    for kind in [
        ".sql",
        ".sql.gz",
        ".sql.zst",
        ".tar.zst",
        "_pre-clean.sql",
        ".meta.json",
    ] {
        assert!(
            names.iter().any(|n| n.ends_with(kind)),
            "no {kind} file in {names:?}"
        );
    }
    for n in names.iter().filter(|n| n.as_str() != ".gitignore") {
        assert_eq!(mode(&dir.join(n)), 0o600, "{n} (all: {names:?})");
    }
});

e2e!(a_dot_env_password_is_never_printed, |engine| {
    let secret = secret(engine);
    let p = Fixture::new(engine)
        .compose(STACK)
        .file(".env", &format!("DB_PASSWORD={secret}\n"));
    // Verbose: the compose tool's own output is shown, and podman-compose
    // echoes the `podman create ... -e POSTGRES_PASSWORD=...` it runs.
    p.budgie()
        .args(["-v", "start"])
        .run()
        .success()
        .lacks(&secret);
    p.budgie().arg("backup").run().success().lacks(&secret);
    let file = p.backups_ending(".sql").pop().expect("the backup");
    let file = file.to_str().unwrap();

    let config = p.budgie().arg("config").run().success().lacks(&secret);
    assert!(
        config.stderr.contains("POSTGRES_PASSWORD=***"),
        "{}",
        config.stderr
    );
    let json = p.budgie().args(["config", "--json"]).run().success();
    assert_eq!(json.lacks(&secret).json()["database"]["password"], "***");
    for args in [
        vec!["--dry-run", "backup"],
        vec!["--dry-run", "clean"],
        vec!["--dry-run", "nuke"],
        vec!["--dry-run", "restore", file],
        vec!["--dry-run", "psql"],
    ] {
        p.budgie().args(&args).run().success().lacks(&secret);
    }
    for args in [
        vec!["logs", "--tail", "200"],
        vec!["-v", "backup"],
        vec!["-v", "restart"],
        vec!["-v", "restore", file, "--yes"],
    ] {
        p.budgie().args(&args).run().success().lacks(&secret);
    }
    // A failing command whose engine output holds the command line: an
    // app image that does not exist, so `up` fails after creating the
    // database container (podman-compose prints each podman command).
    let broken = STACK.replace("${BUDGIE_APP_IMAGE}", "localhost/budgie-no-such-image:0");
    std::fs::write(p.path().join("compose.yml"), broken).unwrap();
    p.budgie()
        .args(["-v", "restart"])
        .run()
        .failure()
        .lacks(&secret);
    p.budgie().arg("restart").run().failure().lacks(&secret);
});

/// A compose tool that echoes the container command line it runs, password
/// included, as podman-compose 1.0 does on stdout and some tools do in
/// their error messages: budgie shows what it prints only with the
/// password replaced by `***`, in `-v` output and in a failure's message.
#[test]
fn an_engine_that_echoes_the_password_is_redacted() {
    let secret = "Echoed-pw-81Qz";
    let fake = FakeEngine::new(false);
    let tool = fake.bin.path().join("podman-compose");
    let echo = format!("podman create --name db_1 -e POSTGRES_PASSWORD={secret} postgres");
    std::fs::write(
        &tool,
        format!(
            "#!/bin/sh\ncase \"$*\" in\n  version) echo 'podman-compose version 1.0.6';;\n  \
             *down*|*up*) echo '{echo}'; [ -e \"$0.fail\" ] && {{ echo 'Error: {echo}' >&2; exit 1; }};;\n\
             esac\nexit 0\n"
        ),
    )
    .unwrap();
    let p = Fixture::bare()
        .compose(STACK)
        .file(".env", &format!("DB_PASSWORD={secret}\n"));
    let run = |args: &[&str]| {
        p.budgie()
            .env("PATH", fake.path())
            .env("BUDGIE_ENGINE", "podman")
            .env("BUDGIE_COMPOSE", "podman-compose")
            .args(args)
            .run()
    };
    // The tool's output is shown, with POSTGRES_PASSWORD=***.
    let shown = run(&["-v", "stop"]).success().lacks(secret);
    snapshot(&p, "security_echoed_password_verbose_stop", &shown.stderr);
    // A failure says what the tool said, redacted too.
    std::fs::write(fake.bin.path().join("podman-compose.fail"), "").unwrap();
    for (args, name) in [
        (&["stop"][..], "security_echoed_password_stop_failed"),
        (
            &["-v", "stop"],
            "security_echoed_password_verbose_stop_failed",
        ),
    ] {
        let failed = run(args).failure().lacks(secret);
        snapshot(&p, name, &failed.stderr);
    }
}
