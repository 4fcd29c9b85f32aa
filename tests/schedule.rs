//! `budgie schedule`: the unit files and crontab line it writes, and that
//! what they run really backs up and prunes.
//!
//! Units go to a temporary `BUDGIE_SYSTEMD_DIR`, never to /etc, and
//! systemctl is a fake on PATH that records its calls: one that works, or
//! one that fails as on a machine without a running systemd. The timer's
//! `ExecStart=` lines are read back from the written service file, split
//! as systemd splits them, and run as argv (no shell) with only systemd's
//! default PATH and the unit's `Environment=`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::e2e;
use crate::support::*;

const SIMPLE: &str = "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: hunter2\n    volumes:\n      - pgdata:/var/lib/postgresql/data\nvolumes:\n  pgdata:\n";

/// A complete plain dump, as far as budgie's quick check can tell.
const DUMP: &str = "--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\n\n--\n-- PostgreSQL database dump complete\n--\n\n";

/// systemd's default PATH for services (what a timer's command gets).
const SYSTEMD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A fake `systemctl` on PATH and a unit directory, both temporary.
struct Systemd {
    bin: tempfile::TempDir,
    units: tempfile::TempDir,
}

impl Systemd {
    /// `running`: systemctl works; else it fails as it does without systemd.
    fn new(running: bool) -> Systemd {
        let bin = tempfile::tempdir().unwrap();
        let log = bin.path().join("calls.log");
        let fail = if running {
            // `show` answers as a running systemd does for an active timer
            "case \"$1 $2\" in *show*) echo ActiveState=active; echo 'NextElapseUSecRealtime=Mon 2026-11-30 03:15:00 UTC';; esac\n"
        } else {
            "echo 'System has not been booted with systemd as init system (PID 1). Can'\"'\"'t operate.' >&2\necho 'Failed to connect to bus: Host is down' >&2\nexit 1\n"
        };
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\n{fail}exit 0\n",
            log.display()
        );
        let p = bin.path().join("systemctl");
        std::fs::write(&p, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        Systemd {
            bin,
            units: tempfile::tempdir().unwrap(),
        }
    }

    /// budgie in the fixture, with this systemctl first on PATH and units here.
    fn budgie(&self, f: &Fixture) -> Budgie {
        let path = format!(
            "{}:{}",
            self.bin.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        f.budgie()
            .env("PATH", path)
            .env("BUDGIE_SYSTEMD_DIR", self.units.path())
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.bin.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn unit(&self, name: &str) -> PathBuf {
        self.units.path().join(name)
    }

    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.units.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// Splits a unit file's command line or assignment as systemd does:
/// whitespace between words, double quotes with `\\` and `\"` escapes, and
/// `%%` and `$$` for a literal `%` and `$`.
fn systemd_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return words;
        }
        let mut word = String::new();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match c {
                '"' => quoted = !quoted,
                '\\' if quoted => word.push(chars.next().expect("escaped character")),
                '%' | '$' => {
                    assert_eq!(chars.next(), Some(c), "a lone {c} in {line:?}");
                    word.push(c);
                }
                c if c.is_whitespace() && !quoted => break,
                c => word.push(c),
            }
        }
        assert!(!quoted, "unclosed quote in {line:?}");
        words.push(word);
    }
}

/// Every value of `key=` in a unit file.
fn values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

/// The service's commands, as argv, and its environment.
fn service_commands(text: &str) -> (Vec<Vec<String>>, Vec<(String, String)>) {
    let env = values(text, "Environment")
        .iter()
        .flat_map(|v| systemd_words(v))
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("NAME=value");
            (k.to_string(), v.to_string())
        })
        .collect();
    let commands = values(text, "ExecStart")
        .iter()
        .map(|l| systemd_words(l))
        .collect();
    (commands, env)
}

/// Runs one of the timer's commands as systemd would: argv, no shell,
/// systemd's PATH and the unit's environment only.
fn run_as_timer(argv: &[String], env: &[(String, String)]) -> Ran {
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .env("PATH", SYSTEMD_PATH)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("the timer's command runs");
    outcome(format!("{argv:?}"), out)
}

/// What a command run outside budgie's harness did.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn outcome(shown: String, out: std::process::Output) -> Ran {
    let o = Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!("ran {shown}: {o:?}");
    o
}

fn project() -> Fixture {
    Fixture::bare()
        .compose(SIMPLE)
        .env("COMPOSE_PROJECT_NAME", "shop")
}

fn started(engine: Engine) -> Fixture {
    let p = Fixture::new(engine).compose(STACK);
    p.budgie().arg("start").run().success();
    p
}

/// The `.sql` backups in the fixture's backup directory.
fn dumps(p: &Fixture) -> Vec<String> {
    p.backups()
        .into_iter()
        .filter(|n| n.ends_with(".sql"))
        .collect()
}

/// systemd-analyze, which the test needs (it checks the unit text the
/// way systemd reads it).
fn systemd_analyze() -> Command {
    require_program("systemd-analyze", &["--version"]);
    Command::new("systemd-analyze")
}

/// The OnCalendar values are ones systemd accepts.
fn systemd_accepts(timer: &str) {
    for c in values(timer, "OnCalendar") {
        let out = systemd_analyze().args(["calendar", &c]).output().unwrap();
        assert!(
            out.status.success(),
            "systemd rejects OnCalendar={c}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// systemd's own parser finds nothing wrong with the unit files.
fn systemd_verifies(units: &[PathBuf]) {
    let out = systemd_analyze()
        .arg("verify")
        .args(units)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
}

#[test]
fn a_bad_cron_expression_exits_2_naming_the_field_and_writes_nothing() {
    let f = project();
    let sd = Systemd::new(true);
    sd.budgie(&f)
        .args(["schedule", "install", "--every", "0 3 * 13 *"])
        .run()
        .code(2)
        .stderr_has("the month field (4th) \"13\": 13 is out of range 1-12");
    sd.budgie(&f)
        .args(["schedule", "install", "--every", "0 3 * *"])
        .run()
        .code(2)
        .stderr_has("5 fields");
    sd.budgie(&f)
        .args(["schedule", "install", "--every", "0 3 * * fri", "--cron"])
        .run()
        .code(2)
        .stderr_has("day-of-week field (5th)");
    // A hostile project name never reaches a unit file name or line.
    sd.budgie(&f)
        .args(["-p", "../../etc/x\nExecStart=/bin/sh"])
        .args(["schedule", "install", "--every", "daily"])
        .run()
        .failure()
        .stderr_has("invalid project name");
    assert!(sd.files().is_empty(), "{:?}", sd.files());
    assert!(sd.calls().is_empty(), "{:?}", sd.calls());
}

#[test]
fn without_a_running_systemd_the_units_are_written_and_it_says_what_to_run() {
    let f = project();
    let sd = Systemd::new(false);
    let out = sd
        .budgie(&f)
        .args(["schedule", "install", "--every", "daily"])
        .run()
        .code(1)
        .stderr_has("NOT enabled")
        .stderr_has("System has not been booted with systemd")
        .stderr_has("systemctl daemon-reload && systemctl enable --now budgie-backup-shop.timer");
    assert!(out.stderr.contains("--cron"), "{}", out.stderr);
    assert_eq!(
        sd.files(),
        ["budgie-backup-shop.service", "budgie-backup-shop.timer"]
    );
    let timer = std::fs::read_to_string(sd.unit("budgie-backup-shop.timer")).unwrap();
    assert_eq!(values(&timer, "OnCalendar"), ["daily"]);
    assert_eq!(values(&timer, "Persistent"), ["true"]);
    // Removing it works there too: no systemd, so no timer was active.
    sd.budgie(&f)
        .args(["schedule", "remove"])
        .run()
        .success()
        .stderr_has("systemd is not running here");
    assert!(sd.files().is_empty(), "{:?}", sd.files());
}

#[test]
#[cfg_attr(budgie_e2e_skip, ignore = "BUDGIE_E2E=skip: runs systemd-analyze")]
fn install_show_and_remove_with_systemd() {
    let f = project();
    let sd = Systemd::new(true);
    let doc = sd
        .budgie(&f)
        .args(["schedule", "show", "--json"])
        .run()
        .success()
        .json();
    assert_eq!(doc["installed"], false);

    sd.budgie(&f)
        .args(["schedule", "install", "--every", "*/20 9-17 * * 1-5"])
        .run()
        .success()
        .stderr_has("backups of project shop run */20 9-17 * * 1-5");
    // root (these tests run as root in CI) gets a system timer: no --user
    let user = if sd.calls().iter().any(|c| c.starts_with("--user")) {
        "--user "
    } else {
        ""
    };
    assert_eq!(
        sd.calls(),
        [
            format!("{user}daemon-reload"),
            format!("{user}enable --now budgie-backup-shop.timer")
        ]
    );
    let timer = std::fs::read_to_string(sd.unit("budgie-backup-shop.timer")).unwrap();
    assert_eq!(
        values(&timer, "OnCalendar"),
        ["Mon..Fri *-*-* 09..17:00/20:00"]
    );
    systemd_accepts(&timer);

    let doc = sd
        .budgie(&f)
        .args(["schedule", "show", "--json"])
        .run()
        .success()
        .json();
    assert_eq!(doc["installed"], true);
    assert_eq!(doc["every"], "*/20 9-17 * * 1-5");
    assert_eq!(doc["exec_start"].as_array().unwrap().len(), 2);
    assert_eq!(doc["active"], "active");
    assert_eq!(doc["next_run"], "Mon 2026-11-30 03:15:00 UTC");
    sd.budgie(&f)
        .args(["schedule", "show"])
        .run()
        .success()
        .stderr_has("next run  Mon 2026-11-30 03:15:00 UTC")
        .stderr_has("Mon..Fri *-*-* 09..17:00/20:00")
        .stderr_has("backup prune --quiet");

    // --dry-run of remove changes nothing
    sd.budgie(&f)
        .args(["schedule", "remove", "--dry-run"])
        .run()
        .success()
        .stderr_has("Delete");
    assert_eq!(sd.files().len(), 2);

    sd.budgie(&f)
        .args(["schedule", "remove"])
        .run()
        .success()
        .stderr_has("removed the backup schedule of project shop");
    assert!(sd.files().is_empty(), "{:?}", sd.files());
    // (`show` asked systemctl for the next run in between)
    let calls: Vec<String> = sd
        .calls()
        .into_iter()
        .filter(|c| !c.contains("show "))
        .collect();
    assert_eq!(
        calls[2..],
        [
            format!("{user}disable --now budgie-backup-shop.timer"),
            format!("{user}daemon-reload")
        ]
    );
    sd.budgie(&f)
        .args(["schedule", "remove"])
        .run()
        .success()
        .stderr_has("nothing to remove");
}

#[test]
fn dry_run_prints_the_units_and_writes_nothing() {
    let f = project();
    let sd = Systemd::new(true);
    sd.budgie(&f)
        .args(["schedule", "install", "--every", "hourly", "--dry-run"])
        .run()
        .success()
        .stderr_has("budgie-backup-shop.service:")
        .stderr_has("OnCalendar=hourly")
        .stderr_has("backup --quiet --log")
        .stderr_has("$ systemctl");
    assert!(sd.files().is_empty());
    assert!(sd.calls().is_empty());
}

#[test]
fn the_engines_endpoint_goes_into_the_unit() {
    let f = project();
    let sd = Systemd::new(true);
    sd.budgie(&f)
        .env("BUDGIE_SSH_COMMAND", "ssh -F /etc/budgie/ssh_config")
        .args([
            "--engine-host",
            "ssh://deploy@prod.example",
            "schedule",
            "install",
            "--every",
            "hourly",
            "--dry-run",
        ])
        .run()
        .success()
        .stderr_has("--engine-host ssh://deploy@prod.example backup --quiet --log")
        .stderr_has("BUDGIE_SSH_COMMAND=");
    assert!(sd.files().is_empty());
}

#[test]
#[cfg_attr(budgie_e2e_skip, ignore = "BUDGIE_E2E=skip: runs systemd-analyze")]
fn odd_paths_survive_the_unit_file_exactly() {
    let odd = "dir with 100% $HOME \"quotes\" and \\";
    let f = project().file(&format!("{odd}/compose.yml"), SIMPLE);
    let dir = f.path().canonicalize().unwrap();
    let sd = Systemd::new(true);
    sd.budgie(&f)
        .arg("-f")
        .arg(format!("{odd}/compose.yml"))
        .args(["--backup-dir", &format!("{odd}/my backups")])
        .args(["schedule", "install", "--every", "0 3 * * *"])
        .run()
        .success();
    systemd_verifies(&[
        sd.unit("budgie-backup-shop.service"),
        sd.unit("budgie-backup-shop.timer"),
    ]);
    let service = std::fs::read_to_string(sd.unit("budgie-backup-shop.service")).unwrap();
    let (commands, _) = service_commands(&service);
    let budgie = Path::new(env!("CARGO_BIN_EXE_budgie"))
        .canonicalize()
        .unwrap();
    let expected = |rest: &[&str]| {
        let mut v = vec![
            budgie.display().to_string(),
            "-C".into(),
            dir.display().to_string(),
            "-p".into(),
            "shop".into(),
            "-f".into(),
            dir.join(odd).join("compose.yml").display().to_string(),
            "--backup-dir".into(),
            dir.join(odd).join("my backups").display().to_string(),
        ];
        v.extend(rest.iter().map(|s| s.to_string()));
        v
    };
    assert_eq!(
        commands,
        [
            expected(&["backup", "--quiet", "--log"]),
            expected(&["backup", "prune", "--quiet"])
        ]
    );
    // and the scheduled prune, run from the unit's argv, finds that project
    let out = run_as_timer(&commands[1], &[]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(dir.join(odd).join("my backups").is_dir());
}

#[test]
fn another_projects_schedule_of_the_same_name_is_not_replaced() {
    let a = project();
    let b = project();
    let sd = Systemd::new(true);
    sd.budgie(&a)
        .args(["schedule", "install", "--every", "daily"])
        .run()
        .success();
    sd.budgie(&b)
        .args(["schedule", "install", "--every", "hourly"])
        .run()
        .code(1)
        .stderr_has("another project named shop");
    let timer = std::fs::read_to_string(sd.unit("budgie-backup-shop.timer")).unwrap();
    assert_eq!(values(&timer, "OnCalendar"), ["daily"]);
}

e2e!(the_timer_backs_up_once_logged_then_prunes, |engine| {
    // Keep one daily backup only, so the prune has something to delete.
    let p = Fixture::new(engine).compose(&format!(
        "{STACK}\nx-budgie:\n  backup:\n    retention: {{ daily: 1, weekly: 0, monthly: 0 }}\n"
    ));
    p.budgie().arg("start").run().success();
    p.sql("create table ledger(id int primary key); insert into ledger select generate_series(1, 100)");
    let old = [
        format!("backups/{}_20200101_000000.sql", p.name),
        format!("backups/{}_20200201_000000.sql", p.name),
    ];
    let p = p.file(&old[0], DUMP).file(&old[1], DUMP);
    let sd = Systemd::new(true);
    sd.budgie(&p)
        .args(["schedule", "install", "--every", "hourly"])
        .run()
        .success();
    let unit = format!("budgie-backup-{}", p.name);
    assert!(
        sd.calls()
            .iter()
            .any(|c| c.ends_with(&format!("enable --now {unit}.timer"))),
        "{:?}",
        sd.calls()
    );
    let service = std::fs::read_to_string(sd.unit(&format!("{unit}.service"))).unwrap();
    let timer = std::fs::read_to_string(sd.unit(&format!("{unit}.timer"))).unwrap();
    assert_eq!(values(&timer, "OnCalendar"), ["hourly"]);
    systemd_accepts(&timer);
    let (commands, env) = service_commands(&service);
    assert_eq!(commands.len(), 2, "{service}");
    assert!(
        env.contains(&("BUDGIE_ENGINE".into(), engine.program().into())),
        "{env:?}"
    );

    // The backup: exactly one line, naming the new file; nothing else.
    let out = run_as_timer(&commands[0], &env);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(
        lines[0].contains(&format!("budgie backup of project {} complete", p.name)),
        "{out:?}"
    );
    let new: Vec<String> = dumps(&p)
        .into_iter()
        .filter(|n| !n.contains("2020"))
        .collect();
    assert_eq!(new.len(), 1, "{:?}", p.backups());
    assert!(lines[0].contains(&new[0]), "{out:?}");
    let text = std::fs::read_to_string(p.path().join("backups").join(&new[0])).unwrap();
    assert!(text.contains("CREATE TABLE public.ledger"));
    assert!(text.contains("-- PostgreSQL database dump complete"));

    // The prune: silent, and the 2020 backups are gone.
    let out = run_as_timer(&commands[1], &env);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("", ""),
        "{out:?}"
    );
    assert_eq!(dumps(&p), new);

    // Doctor measures the newest backup against the hourly schedule...
    let doctor = |p: &Fixture| {
        sd.budgie(p)
            .arg("doctor")
            .run()
            .stderr
            .lines()
            .find(|l| l.contains("newest backup"))
            .map(str::to_string)
            .unwrap_or_default()
    };
    let line = doctor(&p);
    assert!(
        line.starts_with('✓') && line.contains("limit 2h, from the schedule `hourly`"),
        "{line}"
    );
    // ...so a backup three hours old is stale there (not under the default 24h).
    let stamp = (chrono::Local::now() - chrono::Duration::hours(3)).format("%Y%m%d_%H%M%S");
    let aged = format!("{}_{stamp}.sql", p.name);
    let dir = p.path().join("backups");
    std::fs::rename(dir.join(&new[0]), dir.join(&aged)).unwrap();
    let meta = |n: &str| dir.join(format!("{n}.meta.json"));
    if meta(&new[0]).exists() {
        std::fs::rename(meta(&new[0]), meta(&aged)).unwrap();
    }
    let out = sd.budgie(&p).arg("doctor").run().code(1);
    let line = doctor(&p);
    assert!(
        line.starts_with('✗')
            && line.contains(&aged)
            && line.contains("more than 2h, from the schedule `hourly`"),
        "{line}"
    );
    out.stderr_has(&format!("journalctl -u {unit}.service"));

    // A scheduled backup that fails says so and exits non-zero.
    let blocker = p.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    sd.budgie(&p)
        .arg("--backup-dir")
        .arg(&blocker)
        .args(["schedule", "install", "--every", "hourly"])
        .run()
        .success();
    let service = std::fs::read_to_string(sd.unit(&format!("{unit}.service"))).unwrap();
    let (commands, env) = service_commands(&service);
    let out = run_as_timer(&commands[0], &env);
    assert!(matches!(out.code, Some(c) if c != 0), "{out:?}");
    assert_eq!(out.stdout, "", "no success line: {out:?}");
    assert!(
        out.stderr.starts_with('✗') && out.stderr.contains("not-a-dir"),
        "{out:?}"
    );

    sd.budgie(&p).args(["schedule", "remove"]).run().success();
    assert!(sd.files().is_empty(), "{:?}", sd.files());
});

e2e!(the_crontab_line_runs_and_nothing_is_written, |engine| {
    let p = started(engine);
    let sd = Systemd::new(true);
    let out = sd
        .budgie(&p)
        .args(["schedule", "install", "--every", "15 3 * * 1-5", "--cron"])
        .run()
        .success();
    assert!(sd.files().is_empty() && sd.calls().is_empty());
    let line = out.stdout.trim_end();
    assert_eq!(line.lines().count(), 1, "{out:?}");
    let command = line
        .strip_prefix("15 3 * * 1-5 ")
        .unwrap_or_else(|| panic!("{line}"));
    assert!(command.contains("backup --quiet --log && "), "{command}");
    // As cron runs it: `\%` is `%`, then /bin/sh, with a bare environment.
    let run = Command::new("/bin/sh")
        .args(["-c", &command.replace("\\%", "%")])
        .env_clear()
        .env("PATH", SYSTEMD_PATH)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = outcome(command.to_string(), run);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    assert!(out.stdout.contains("complete"), "{out:?}");
    assert_eq!(dumps(&p).len(), 1, "{:?}", p.backups());
});

#[test]
fn doctor_measures_the_newest_backup_against_the_installed_schedule() {
    let fake = FakeEngine::new(false);
    let ago = |hours: i64| {
        (chrono::Local::now() - chrono::Duration::hours(hours)).format("%Y%m%d_%H%M%S")
    };
    let f = project().file(&format!("backups/shop_{}.sql", ago(25)), DUMP);
    let sd = Systemd::new(true);
    let doctor = |f: &Fixture, name: &str| {
        let out = sd.budgie(f).env("PATH", fake.path()).arg("doctor").run();
        snapshot(f, &format!("schedule_doctor_{name}"), &out.stderr);
    };
    // No schedule: the default 24h (✗).
    doctor(&f, "no_schedule");
    // Daily: 26h (✓).
    sd.budgie(&f)
        .args(["schedule", "install", "--every", "daily"])
        .run()
        .success();
    doctor(&f, "daily");
    // Weekly on Sundays: 7 days and 14 hours.
    sd.budgie(&f)
        .args(["schedule", "install", "--every", "0 3 * * 0"])
        .run()
        .success();
    doctor(&f, "weekly");
    // Hourly: 2h (✗), and the hint points at the timer's log.
    sd.budgie(&f)
        .args(["schedule", "install", "--every", "hourly"])
        .run()
        .success();
    doctor(&f, "hourly");
    // The variable still wins.
    let out = sd
        .budgie(&f)
        .env("PATH", fake.path())
        .env("BUDGIE_BACKUP_MAX_AGE_HOURS", "48")
        .arg("doctor")
        .run();
    snapshot(&f, "schedule_doctor_max_age_variable", &out.stderr);
}
