//! `budgie doctor`: one line per check, ✗ with what to do, exit 1 when a
//! check fails. Against fake engines for each failure it must catch (engine
//! stopped, compose file broken, backups not ignored by git, no recent
//! backup), and end-to-end on both engines. Against fake engines, the
//! whole report is compared with a snapshot (`tests/snapshots/doctor_*.snap`).

use std::process::Command;

use crate::e2e;
use crate::support::*;

const SIMPLE: &str = "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: hunter2-secret\n    volumes:\n      - pgdata:/var/lib/postgresql/data\n  app:\n    image: busybox\n    depends_on: [db]\nvolumes:\n  pgdata:\n";

/// A complete plain dump, as far as budgie's quick check can tell.
const DUMP: &str = "--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\n\n--\n-- PostgreSQL database dump complete\n--\n\n";

fn project() -> Fixture {
    Fixture::bare()
        .compose(SIMPLE)
        .env("COMPOSE_PROJECT_NAME", "shop")
}

fn doctor(f: &Fixture, fake: &FakeEngine) -> Budgie {
    f.budgie().env("PATH", fake.path()).arg("doctor")
}

/// The line of one check (`✓ newest backup ...`), with the symbol it has.
fn check_line(out: &Outcome, label: &str) -> String {
    out.stderr
        .lines()
        .find(|l| {
            let rest = l.trim_start_matches(['✓', '✗', 'i']).trim_start();
            l.len() > rest.len() && rest.starts_with(&format!("{label}  "))
        })
        .unwrap_or_else(|| panic!("no line for check {label:?}:\n{}", out.stderr))
        .to_string()
}

/// The hint printed under a check's line.
fn hint_after(out: &Outcome, label: &str) -> String {
    let line = check_line(out, label);
    let mut lines = out.stderr.lines().skip_while(|l| *l != line).skip(1);
    lines
        .next()
        .filter(|l| l.trim_start().starts_with("hint:"))
        .unwrap_or_else(|| panic!("no hint under {label:?}:\n{}", out.stderr))
        .to_string()
}

#[test]
fn a_stopped_engine_fails_the_engine_check_with_a_hint() {
    let f = project();
    let fake = FakeEngine::new(true);
    let out = doctor(&f, &fake).run().code(1);
    // ✗ engine, with a hint to start it; the checks that need no engine
    // still ran; those that need it are listed as skipped.
    snapshot(&f, "doctor_a_stopped_engine", &out.stderr);
}

#[test]
fn a_broken_compose_file_is_reported_with_file_and_line() {
    let f = project().compose("services:\n  db:\n    image: [unclosed\n  app: {}\n");
    let fake = FakeEngine::new(false);
    let out = doctor(&f, &fake).run().code(1);
    // ✗ compose files, naming file and line; doctor did not stop at the
    // bad file: the engine was still checked.
    snapshot(&f, "doctor_a_broken_compose_file", &out.stderr);
}

#[test]
fn a_backup_dir_git_does_not_ignore_fails() {
    let f = project();
    let fake = FakeEngine::new(false);
    let git = Command::new("git")
        .args(["init", "-q"])
        .current_dir(f.path())
        .status()
        .expect("git runs");
    assert!(git.success());
    std::fs::create_dir(f.path().join("backups")).unwrap();
    let out = doctor(&f, &fake).run().code(1);
    snapshot(&f, "doctor_backup_dir_not_ignored_by_git", &out.stderr);

    // budgie's own .gitignore (`*`) makes it ignored.
    let f = f.file("backups/.gitignore", "# budgie\n*\n");
    let out = doctor(&f, &fake).run();
    snapshot(&f, "doctor_backup_dir_ignored_by_git", &out.stderr);
}

#[test]
fn outside_a_git_repository_there_is_nothing_to_ignore() {
    let f = project();
    std::fs::create_dir(f.path().join("backups")).unwrap();
    let fake = FakeEngine::new(false);
    let out = doctor(&f, &fake).run();
    snapshot(&f, "doctor_outside_a_git_repository", &out.stderr);
}

#[test]
fn no_recent_backup_fails_and_the_limit_is_configurable() {
    let f = project();
    let fake = FakeEngine::new(false);
    let out = doctor(&f, &fake).run().code(1);
    snapshot(&f, "doctor_no_backup", &out.stderr);

    // A complete backup from 2020 is too old; a truncated newer one does not count.
    let f = f.file("backups/shop_20200101_000000.sql", DUMP).file(
        "backups/shop_20990101_000000.sql",
        "--\n-- PostgreSQL database dump\n--\nSET x;\n",
    );
    let out = doctor(&f, &fake).run().code(1);
    snapshot(&f, "doctor_backup_too_old", &out.stderr);

    let out = doctor(&f, &fake)
        .env("BUDGIE_BACKUP_MAX_AGE_HOURS", "10000000")
        .run();
    snapshot(&f, "doctor_backup_age_limit_raised", &out.stderr);
}

#[test]
fn too_little_space_for_the_next_backup_fails() {
    let f = project();
    std::fs::create_dir(f.path().join("backups")).unwrap();
    // A complete dump larger than the free space, sparse so it takes none:
    // its header at the start, its end marker at the end, a hole between.
    let free = fs4::available_space(f.path()).unwrap();
    let size = free + 1_000_000_000;
    let path = f.path().join("backups/shop_20200101_000000.sql");
    let (head, tail) = DUMP.split_at(
        DUMP.find("--\n-- PostgreSQL database dump complete")
            .unwrap(),
    );
    // Text for the whole first 4 KiB, which is where budgie looks for the header.
    let head = format!("{head}{}", "-- padding\n".repeat(500));
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(head.as_bytes()).unwrap();
        file.seek(SeekFrom::Start(size - tail.len() as u64))
            .unwrap();
        file.write_all(tail.as_bytes()).unwrap();
    }
    let fake = FakeEngine::new(false);
    let out = doctor(&f, &fake).run().code(1);
    snapshot(&f, "doctor_too_little_space", &out.stderr);
}

#[test]
fn json_is_one_document_naming_the_failed_checks() {
    let f = project();
    let fake = FakeEngine::new(true);
    let out = f
        .budgie()
        .env("PATH", fake.path())
        .args(["doctor", "--json"])
        .run()
        .code(1);
    let doc = out.json();
    assert_eq!(doc["ok"], false);
    let checks = doc["checks"].as_array().unwrap();
    for c in checks {
        assert!(c["name"].is_string() && c["ok"].is_boolean() && c["detail"].is_string());
        assert!(c.get("hint").is_some(), "{c}");
    }
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(failed.contains(&"engine"), "{failed:?}");
    assert!(failed.contains(&"newest-backup"), "{failed:?}");
    let engine = checks.iter().find(|c| c["name"] == "engine").unwrap();
    assert!(engine["hint"].is_string(), "{engine}");
    let skipped: Vec<&str> = doc["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(skipped.contains(&"database-answering"), "{skipped:?}");
}

#[test]
fn doctor_only_reads() {
    let f = project();
    let fake = FakeEngine::new(false);
    doctor(&f, &fake).run().code(1);
    let calls = fake.calls();
    assert!(!calls.is_empty());
    for c in &calls {
        let words: Vec<&str> = c.split(' ').collect();
        let read_only = matches!(
            words.get(1..3),
            Some(["version", _]) | Some(["ps", _]) | Some(["volume", "ls"])
        ) || c.ends_with(" version")
            || c.contains(" inspect ");
        assert!(read_only, "doctor ran {c:?}; all calls: {calls:?}");
    }
    assert!(
        !f.path().join("backups").exists(),
        "doctor created backups/"
    );
}

e2e!(
    doctor_passes_on_a_healthy_stack_and_sees_a_stopped_database,
    |engine| {
        let p = Fixture::new(engine).compose(STACK);
        p.budgie().arg("start").run().success();
        p.budgie().arg("backup").run().success();
        let out = p.budgie().arg("doctor").run().success();
        for line in out.stderr.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                line.starts_with('✓') || line.starts_with("All "),
                "not every check passed: {line}\n{}",
                out.stderr
            );
        }
        out.stderr_has("All 12 checks passed");
        let doc = p.budgie().args(["doctor", "--json"]).run().success().json();
        assert_eq!(doc["ok"], true);

        p.budgie().arg("stop").run().success();
        let out = p.budgie().arg("doctor").run().code(1);
        let line = check_line(&out, "database answering");
        assert!(
            line.starts_with('✗') && line.contains("not running"),
            "{line}"
        );
        assert!(hint_after(&out, "database answering").contains("budgie start"));
        // Stopping keeps the volumes: none is missing.
        assert!(check_line(&out, "missing volumes").starts_with('✓'));
    }
);

e2e!(doctor_finds_volumes_no_longer_declared, |engine| {
    let p = Fixture::new(engine).compose(STACK);
    let old = format!("{}_olddata", p.name);
    let label = format!("com.docker.compose.project={}", p.name);
    p.engine_out(&["volume", "create", "--label", &label, &old]);
    let out = p.budgie().arg("doctor").run().code(1);
    let line = check_line(&out, "orphan volumes");
    assert!(line.starts_with('✗') && line.contains(&old), "{line}");
    // Never started: the declared volumes are simply not created yet.
    let line = check_line(&out, "missing volumes");
    assert!(
        line.starts_with('i') && line.contains("not created yet"),
        "{line}"
    );
    assert!(p.volume_exists(&old), "doctor must not remove anything");
});

/// What an interrupted budgie left fails a check (doctor only reads: the
/// files stay for the next command to repair).
#[test]
fn an_interrupted_budgie_left_behind_fails_and_nothing_is_repaired() {
    let f = project();
    let fake = FakeEngine::new(false);
    let out = doctor(&f, &fake).run();
    snapshot(&f, "doctor_nothing_interrupted", &out.stderr);
    let dir = f.path().join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    let name = "shop";
    let temp = dir.join(format!(".{name}_20260101_120000.sql.AbCdEf.partial"));
    std::fs::write(&temp, "x").unwrap();
    let journal = dir.join(format!(".budgie-{name}.journal.json"));
    std::fs::write(
        &journal,
        r#"{"pid": 77, "command": "clean", "started": "2026-01-01T12:00:00+00:00"}"#,
    )
    .unwrap();
    let out = doctor(&f, &fake).run().code(1);
    snapshot(&f, "doctor_interrupted_budgie_left_behind", &out.stderr);
    assert!(temp.exists() && journal.exists(), "doctor only reads");
}
