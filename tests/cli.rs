//! Bad input, dry runs and the compose model as the user sees it — with fake
//! engines that record every call, so "no engine command ran" is checked.
//! What budgie prints is compared whole with a snapshot
//! (`tests/snapshots/cli_*.snap`, see `support::snapshot`).

use crate::support::*;

const SIMPLE: &str = "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: hunter2-secret\n    volumes:\n      - pgdata:/var/lib/postgresql/data\n  app:\n    image: busybox\n    depends_on: [db]\nvolumes:\n  pgdata:\n";

fn fake_project(daemon_down: bool) -> (Fixture, FakeEngine) {
    let f = Fixture::bare()
        .compose(SIMPLE)
        .env("COMPOSE_PROJECT_NAME", "shop");
    (f, FakeEngine::new(daemon_down))
}

/// Calls other than the read-only version probes.
fn actions(fake: &FakeEngine) -> Vec<String> {
    fake.calls()
        .into_iter()
        .filter(|c| !c.ends_with(" version") && !c.contains(" version --format"))
        .collect()
}

#[test]
fn malformed_yaml_names_file_line_and_column_and_runs_nothing() {
    let (f, fake) = fake_project(false);
    let f = f.compose("services:\n  db:\n    image: [unclosed\n  app: {}\n");
    let out = f
        .budgie()
        .env("PATH", fake.path())
        .arg("start")
        .run()
        .code(1);
    // The message names the file, the line and the column.
    snapshot(&f, "cli_malformed_yaml", &out.stderr);
    assert!(
        fake.calls().is_empty(),
        "engine was called: {:?}",
        fake.calls()
    );
}

#[test]
fn a_missing_compose_file_is_named() {
    let (f, fake) = fake_project(false);
    let out = f
        .budgie()
        .env("PATH", fake.path())
        .args(["-f", "nope.yml", "status"])
        .run()
        .failure();
    snapshot(&f, "cli_missing_compose_file", &out.stderr);
    assert!(fake.calls().is_empty());
}

#[test]
fn a_directory_without_compose_file_says_what_was_looked_for() {
    let f = Fixture::bare();
    let out = f.budgie().arg("status").run().failure();
    snapshot(&f, "cli_no_compose_file", &out.stderr);
}

#[test]
fn an_unknown_service_is_a_usage_error_and_runs_nothing() {
    let (f, fake) = fake_project(false);
    for cmd in ["start", "stop", "restart", "build", "logs"] {
        let out = f
            .budgie()
            .env("PATH", fake.path())
            .args([cmd, "nope"])
            .run()
            .code(2);
        snapshot(&f, &format!("cli_unknown_service_{cmd}"), &out.stderr);
    }
    assert!(
        fake.calls().is_empty(),
        "engine was called: {:?}",
        fake.calls()
    );
}

#[test]
fn no_engine_installed_is_one_clear_message() {
    let (f, _) = fake_project(false);
    let out = f
        .budgie()
        .env("PATH", empty_path())
        .arg("status")
        .run()
        .code(1);
    snapshot(&f, "cli_no_engine_installed_status", &out.stderr);
    let out = f
        .budgie()
        .env("PATH", empty_path())
        .args(["--engine", "docker", "start"])
        .run()
        .code(1);
    snapshot(&f, "cli_no_engine_installed_docker_start", &out.stderr);
}

#[test]
fn an_engine_that_is_not_running_is_reported_before_anything_runs() {
    let (f, fake) = fake_project(true);
    let out = f
        .budgie()
        .env("PATH", fake.path())
        .env("BUDGIE_ENGINE", "docker")
        .arg("start")
        .run()
        .code(1);
    snapshot(&f, "cli_engine_not_running_start", &out.stderr);
    assert!(
        !fake.calls().iter().any(|c| c.contains(" up")),
        "compose up ran: {:?}",
        fake.calls()
    );
    let out = f
        .budgie()
        .env("PATH", fake.path())
        .env("BUDGIE_ENGINE", "docker")
        .arg("status")
        .run()
        .code(1);
    snapshot(&f, "cli_engine_not_running_status", &out.stderr);
}

#[test]
fn dry_run_prints_the_exact_argv_and_runs_nothing() {
    let (f, fake) = fake_project(false);
    for (args, name) in [
        (vec!["--dry-run", "start"], "cli_dry_run_start"),
        (vec!["stop", "--dry-run"], "cli_dry_run_stop"),
        (
            vec!["--dry-run", "restart", "--build", "app"],
            "cli_dry_run_restart_build_app",
        ),
        (vec!["--dry-run", "stop", "app"], "cli_dry_run_stop_app"),
    ] {
        let out = f
            .budgie()
            .env("PATH", fake.path())
            .env("BUDGIE_ENGINE", "podman")
            .args(&args)
            .run()
            .success();
        // The exact argv, e.g. `podman-compose -p shop -f [DIR]/compose.yml up -d`.
        snapshot(&f, name, &out.stderr);
    }
    assert!(
        actions(&fake).is_empty(),
        "dry run ran: {:?}",
        actions(&fake)
    );
}

#[test]
fn dry_run_uses_the_docker_tools_way_to_stop_one_service() {
    let (f, fake) = fake_project(false);
    let out = f
        .budgie()
        .env("PATH", fake.path())
        .env("BUDGIE_ENGINE", "docker")
        .env("BUDGIE_COMPOSE", "docker-compose")
        .args(["--dry-run", "stop", "db"])
        .run()
        .success();
    // `docker-compose ... rm --stop --force db`
    snapshot(&f, "cli_dry_run_docker_stop_db", &out.stderr);
    assert!(actions(&fake).is_empty());
}

#[test]
fn dry_run_shows_the_database_wait() {
    let (f, fake) = fake_project(false);
    let out = f
        .budgie()
        .env("PATH", fake.path())
        .args(["--dry-run", "start"])
        .run()
        .success();
    // ... pg_isready -q -h 127.0.0.1 -U postgres -d postgres
    snapshot(&f, "cli_dry_run_database_wait", &out.stderr);
    assert!(actions(&fake).is_empty());
}

#[test]
fn config_shows_the_model_and_never_the_password() {
    let (f, _) = fake_project(false);
    let out = f.budgie().arg("config").run().success();
    // The project and where its name comes from, each volume's full name,
    // POSTGRES_PASSWORD=***.
    snapshot(&f, "cli_config", &out.stderr);
    let out = out.lacks("hunter2-secret");
    assert!(out.stdout.is_empty(), "human output goes to stderr");

    let out = f
        .budgie()
        .args(["config", "--json"])
        .run()
        .success()
        .lacks("hunter2-secret");
    let doc = out.json();
    assert_eq!(doc["project"], "shop");
    assert_eq!(doc["volumes"][0]["name"], "shop_pgdata");
    assert_eq!(doc["volumes"][0]["database"], true);
    assert_eq!(doc["database"]["service"], "db");
    assert_eq!(doc["database"]["user"], "postgres");
    assert_eq!(doc["database"]["password"], "***");
}

#[test]
fn dot_env_passwords_are_never_printed() {
    let f = Fixture::bare()
        .compose("services:\n  db:\n    image: postgres\n    environment:\n      POSTGRES_PASSWORD: ${PW}\n")
        .file(".env", "PW=from-dotenv-Secret9\n");
    let fake = FakeEngine::new(false);
    for (args, name) in [
        (vec!["config"], Some("cli_dot_env_config")),
        (vec!["config", "--json"], None),
        (
            vec!["--dry-run", "start"],
            Some("cli_dot_env_dry_run_start"),
        ),
        (vec!["--dry-run", "psql"], Some("cli_dot_env_dry_run_psql")),
    ] {
        let out = f
            .budgie()
            .env("PATH", fake.path())
            .args(&args)
            .run()
            .lacks("from-dotenv-Secret9");
        if let Some(name) = name {
            snapshot(&f, name, &out.stderr);
        }
    }
}

#[test]
fn several_databases_ask_which() {
    let f = Fixture::bare().compose(
        "services:\n  a:\n    image: postgres:16\n    environment: {POSTGRES_PASSWORD: x}\n  b:\n    image: postgis/postgis\n    environment: {POSTGRES_PASSWORD: y}\n",
    );
    let out = f.budgie().arg("psql").run().code(2);
    // Names the databases and the option that says which.
    snapshot(&f, "cli_several_databases", &out.stderr);
    let out = f.budgie().args(["psql", "--service", "c"]).run().code(2);
    assert!(
        out.stderr
            .contains("service c is not a database of project")
            && out.stderr.contains("a, b"),
        "{}",
        out.stderr
    );
}

#[test]
fn json_only_where_it_is_supported() {
    let (f, _) = fake_project(false);
    let out = f.budgie().args(["start", "--json"]).run().code(2);
    snapshot(&f, "cli_json_where_unsupported", &out.stderr);
}

#[test]
fn usage_errors_exit_2() {
    let (f, _) = fake_project(false);
    let out = f.budgie().arg("frobnicate").run().code(2);
    snapshot(&f, "cli_usage_unknown_command", &out.stderr);
    let out = f.budgie().args(["--engine", "lxc", "status"]).run().code(2);
    snapshot(&f, "cli_usage_unknown_engine_option", &out.stderr);
    let out = f
        .budgie()
        .env("BUDGIE_ENGINE", "lxc")
        .arg("status")
        .run()
        .code(2);
    // Names the variable and its value.
    snapshot(&f, "cli_usage_unknown_engine_variable", &out.stderr);
}

#[test]
fn global_options_work_after_the_subcommand() {
    let (f, fake) = fake_project(false);
    let before = f
        .budgie()
        .env("PATH", fake.path())
        .args(["--dry-run", "-p", "other", "start"])
        .run()
        .success();
    let after = f
        .budgie()
        .env("PATH", fake.path())
        .args(["start", "--dry-run", "-p", "other"])
        .run()
        .success();
    snapshot(&f, "cli_global_options_dry_run_start", &before.stderr);
    assert_eq!(before.stderr, after.stderr);
}

// Invariant 7: values from compose files and .env reach engines as single
// argv elements, never through a shell.
#[test]
fn hostile_values_are_passed_literally_and_never_executed() {
    let f = Fixture::bare();
    let pwned = f.path().join("pwned");
    let evil = format!("$(touch {p}); `touch {p}`; touch {p}", p = pwned.display());
    let compose = format!(
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: \"u;{evil}\"\n      POSTGRES_DB: \"${{EVIL_DB}}\"\n    volumes: [pgdata:/var/lib/postgresql/data]\n  app:\n    image: \"busybox\"\nvolumes:\n  pgdata:\n"
    )
    .replace("$(", "$$(");
    let f = f
        .compose(&compose)
        .file(
            ".env",
            &format!("EVIL_DB='db`touch {}`'\n", pwned.display()),
        )
        .env("COMPOSE_PROJECT_NAME", "shop");
    let fake = FakeEngine::new(false);
    for args in [
        vec!["--dry-run", "start"],
        vec!["--dry-run", "clean"],
        vec!["config"],
        vec!["status"],
        vec!["volumes"],
        vec!["--dry-run", "backup"],
    ] {
        let out = f.budgie().env("PATH", fake.path()).args(&args).run();
        // Whatever the fake engine makes of it, budgie ends with an answer
        // (no panic, no signal).
        assert!(
            matches!(out.code, Some(0..=4)),
            "unexpected end{}",
            out.explain()
        );
    }
    f.budgie()
        .env("PATH", fake.path())
        .args(["stop", "app"])
        .run()
        .success();
    assert!(!pwned.exists(), "a hostile value was executed");
    // The fake engine records each argv element after a space: the whole
    // hostile value arrived as one element, unexpanded.
    let calls = fake.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.contains("down app") || c.contains("stop")),
        "{calls:?}"
    );
    // Shown quoted as one argument, so a user can paste it safely.
    let out = f
        .budgie()
        .env("PATH", fake.path())
        .args(["--dry-run", "backup"])
        .run()
        .success();
    snapshot(&f, "cli_hostile_values_dry_run_backup", &out.stderr);
    // The model keeps the value literally.
    let doc = f.budgie().args(["config", "--json"]).run().success().json();
    assert_eq!(
        doc["database"]["name"],
        format!("db`touch {}`", pwned.display()).as_str()
    );
    assert!(!pwned.exists());

    // A name compose would refuse (here a volume's) is refused before any
    // engine call, naming the file, the key and the value.
    let f = f.compose(&compose.replace(
        "  pgdata:\n",
        &format!("  pgdata:\n    name: \"vol{}\"\n", evil.replace('$', "$$")),
    ));
    let fake = FakeEngine::new(false);
    for (args, name) in [
        (vec!["config"], "config"),
        (vec!["--dry-run", "clean"], "dry_run_clean"),
        (vec!["backup"], "backup"),
        (vec!["status"], "status"),
    ] {
        let out = f
            .budgie()
            .env("PATH", fake.path())
            .args(&args)
            .run()
            .code(1);
        snapshot(&f, &format!("cli_hostile_volume_name_{name}"), &out.stderr);
    }
    assert!(
        fake.calls()
            .iter()
            .all(|c| c.ends_with(" version") || c.contains("version")),
        "{:?}",
        fake.calls()
    );
    assert!(!pwned.exists());
}

/// The journal an interrupted restore of project `shop` leaves in `dir`.
fn restore_journal(dir: &std::path::Path) -> std::path::PathBuf {
    let journal = dir.join(".budgie-shop.journal.json");
    std::fs::write(
        &journal,
        r#"{"pid": 1, "command": "restore", "started": "2026-01-01T12:00:00+00:00",
            "restore": {"database": "shop", "scratch": "shop_budgie_restore_1",
                        "old": "shop_budgie_old_1", "file": "/x.sql"}}"#,
    )
    .unwrap();
    journal
}

/// What an interrupted budgie left: a journal of a restore and a backup's
/// temporary file. `--dry-run` describes the repair and changes nothing
/// (no engine call, both files still there).
#[test]
fn dry_run_describes_the_crash_repair_and_changes_nothing() {
    let (f, fake) = fake_project(false);
    let dir = f.path().join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    let temp = dir.join(".shop_20260101_120000.sql.AbCdEf.partial");
    std::fs::write(&temp, "-- half a dump").unwrap();
    let journal = restore_journal(&dir);
    let out = f
        .budgie()
        .env("PATH", fake.path())
        .args(["--dry-run", "stop"])
        .run()
        .success();
    snapshot(&f, "cli_crash_repair_dry_run_stop", &out.stderr);
    assert!(temp.exists() && journal.exists());
    assert!(
        actions(&fake).iter().all(|c| !c.contains("exec")),
        "{:?}",
        fake.calls()
    );
}

/// Without --dry-run the temporary goes at once; the restore's repair needs
/// the database, which is not running: the journal stays, and budgie says so.
#[test]
fn the_next_command_removes_temporaries_and_keeps_a_repair_it_cannot_do_yet() {
    let (f, fake) = fake_project(false);
    let dir = f.path().join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    let temp = dir.join(".shop_20260101_120000_pre-clean.sql.zst.AbCdEf.partial");
    let other = dir.join(".shop2_20260101_120000.sql.AbCdEf.partial");
    std::fs::write(&temp, "x").unwrap();
    std::fs::write(&other, "another project's").unwrap();
    let journal = restore_journal(&dir);
    let out = f.budgie().env("PATH", fake.path()).arg("status").run();
    snapshot(&f, "cli_crash_repair_status", &out.stderr);
    assert!(!temp.exists(), "the temporary is gone");
    assert!(other.exists(), "another project's temporary is not touched");
    assert!(journal.exists(), "the repair is still to do");
}

/// An interrupted `restore --volume` and an interrupted `clean` need no
/// database to report: the next command says what happened and where the
/// data is, once, and removes the journal.
#[test]
fn interrupted_volume_restore_and_clean_are_reported_once() {
    let (f, fake) = fake_project(false);
    let dir = f.path().join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join(".budgie-shop.journal.json");
    let safety = dir.join("shop_20260101_120000_pre-clean.sql");
    std::fs::write(&safety, "-- x\n-- PostgreSQL database dump complete\n").unwrap();
    for (body, name) in [
        (
            r#"{"pid": 1, "command": "restore", "started": "t",
                "volume_restore": ["shop_uploads", "/b/shop.uploads.tar.zst"]}"#
                .to_string(),
            "volume_restore",
        ),
        (
            format!(
                r#"{{"pid": 1, "command": "clean", "started": "t",
                    "volumes": ["shop_pgdata"], "safety_backups": ["{}"]}}"#,
                safety.display()
            ),
            "clean",
        ),
    ] {
        std::fs::write(&journal, body).unwrap();
        // What did not finish, and where the data is.
        let out = f.budgie().env("PATH", fake.path()).arg("status").run();
        snapshot(&f, &format!("cli_interrupted_{name}_status"), &out.stderr);
        assert!(!journal.exists());
        // Once: the next command says nothing of it.
        let out = f
            .budgie()
            .env("PATH", fake.path())
            .arg("status")
            .run()
            .lacks("did not finish");
        snapshot(
            &f,
            &format!("cli_interrupted_{name}_status_again"),
            &out.stderr,
        );
    }
}

/// Issue 11: a password that equals a name (gitea's sample: project
/// `gitea-postgres`, service `gitea`, POSTGRES_PASSWORD=gitea) hides the
/// password and never the names, in `config` as in the dry run.
#[test]
fn a_password_equal_to_a_name_never_masks_the_name() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/compose-corpus/06-ac-gitea-postgres/compose.yaml");
    let f = Fixture::bare()
        .file("compose.yaml", &std::fs::read_to_string(corpus).unwrap())
        .env("COMPOSE_PROJECT_NAME", "gitea-postgres");
    let fake = FakeEngine::new(false);
    let run = |args: &[&str]| {
        f.budgie()
            .env("PATH", fake.path())
            .env("BUDGIE_ENGINE", "podman")
            .args(args)
            .run()
            .success()
    };
    let human = run(&["config"]);
    for name in [
        "gitea-postgres",
        "gitea-postgres_db_data",
        "gitea-postgres_git_data",
        "  gitea:",
    ] {
        assert!(
            human.stderr.contains(name),
            "config lacks {name:?}:\n{}",
            human.stderr
        );
    }
    assert!(human.stderr.contains("env: POSTGRES_PASSWORD=***"));
    assert!(human.stderr.contains("env: DB_PASSWD=***"));
    assert!(!human.stderr.contains("***-postgres"), "{}", human.stderr);
    snapshot(&f, "cli_password_equal_to_a_name_config", &human.stderr);
    let doc = run(&["config", "--json"]).json();
    assert_eq!(doc["project"], "gitea-postgres");
    assert_eq!(doc["volumes"][0]["name"], "gitea-postgres_db_data");
    assert!(doc["services"]["gitea"].is_object());
    assert_eq!(
        doc["services"]["db"]["environment"]["POSTGRES_PASSWORD"],
        "***"
    );
    assert_eq!(
        doc["services"]["db"]["environment"]["POSTGRES_USER"],
        "gitea"
    );
    let dry = run(&["--dry-run", "backup"]);
    assert!(dry.stderr.contains("gitea-postgres_"), "{}", dry.stderr);
    assert!(!dry.stderr.contains("***-postgres"), "{}", dry.stderr);
    snapshot(
        &f,
        "cli_password_equal_to_a_name_dry_run_backup",
        &dry.stderr,
    );
}
