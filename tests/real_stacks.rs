//! Real users' stacks (issue 11), against fake engines: where the
//! database's data really lives and what is wrong with it (said by
//! `start` before it starts anything, `status`, `volumes`, `doctor`), the
//! host directories services write to (shown as data `clean` and `nuke`
//! keep), and compose's warnings for unset variables.

use crate::support::*;

fn run(f: &Fixture, fake: &FakeEngine, args: &[&str]) -> Outcome {
    f.budgie()
        .env("PATH", fake.path())
        .env("BUDGIE_ENGINE", "podman")
        .args(args)
        .run()
}

/// PostgreSQL 18 keeps its data in /var/lib/postgresql/18/docker and
/// refuses to start with a volume at the old /var/lib/postgresql/data.
const PG18_OLD_PATH: &str = "services:\n  db:\n    image: postgres:18\n    environment: {POSTGRES_PASSWORD: pw}\n    volumes: [pgdata:/var/lib/postgresql/data]\nvolumes:\n  pgdata:\n";

/// A database without any volume: its data dies with the container.
const NO_VOLUME: &str =
    "services:\n  db:\n    image: postgres:16\n    environment: {POSTGRES_PASSWORD: pw}\n";

#[test]
fn a_database_that_would_lose_its_data_is_said_everywhere_with_the_fix() {
    for (compose, says) in [
        (
            PG18_OLD_PATH,
            "refuses to start with a volume at /var/lib/postgresql/data: mount it at /var/lib/postgresql",
        ),
        (
            NO_VOLUME,
            "it lives in an anonymous volume that the next recreated container does not get back; mount a named volume at /var/lib/postgresql/data",
        ),
    ] {
        let f = Fixture::bare()
            .compose(compose)
            .env("COMPOSE_PROJECT_NAME", "shop");
        let fake = FakeEngine::new(false);
        // start: before it starts anything (and in a dry run).
        run(&f, &fake, &["--dry-run", "start"])
            .success()
            .stderr_has(says);
        // For real, with -q: said first, before the wait (which fails at
        // once: the fake engine runs no container).
        let out = f
            .budgie()
            .env("PATH", fake.path())
            .env("BUDGIE_ENGINE", "podman")
            .env("BUDGIE_WAIT_SECONDS", "0")
            .args(["-q", "start"])
            .run()
            .code(1);
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("! ") && first.contains(says),
            "{}",
            out.stderr
        );
        assert!(
            fake.calls().iter().any(|c| c.contains(" up -d")),
            "{:?}",
            fake.calls()
        );
        run(&f, &fake, &["status"]).success().stderr_has(says);
        run(&f, &fake, &["volumes"]).success().stderr_has(says);
        let doc = run(&f, &fake, &["volumes", "--json"]).success().json();
        assert!(doc["database_problem"].as_str().unwrap().contains(says));
        let doc = run(&f, &fake, &["status", "--json"]).success().json();
        assert!(doc["database_problem"].as_str().unwrap().contains(says));
        let doctor = run(&f, &fake, &["doctor", "--json"]).code(1).json();
        let check = doctor["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "database-service")
            .unwrap();
        assert_eq!(check["ok"], false, "{check}");
        assert!(check["detail"].as_str().unwrap().contains(says), "{check}");
    }
    // Mounted right, PostgreSQL 18 is fine.
    let f = Fixture::bare()
        .compose(&PG18_OLD_PATH.replace("/var/lib/postgresql/data]", "/var/lib/postgresql]"))
        .env("COMPOSE_PROJECT_NAME", "shop");
    let fake = FakeEngine::new(false);
    let doc = run(&f, &fake, &["config", "--json"]).success().json();
    assert_eq!(doc["database"]["data_dir"], "/var/lib/postgresql/18/docker");
    assert_eq!(doc["database"]["storage"]["kind"], "volume");
    assert_eq!(doc["database"]["problem"], serde_json::Value::Null);
}

#[test]
fn host_directories_services_write_to_are_shown_as_kept() {
    let f = Fixture::bare()
        .compose(
            "services:\n  db:\n    image: postgres:16\n    environment: {POSTGRES_PASSWORD: pw}\n    volumes: [./db:/var/lib/postgresql/data]\n  app:\n    image: busybox\n    volumes:\n      - ./uploads:/uploads\n      - ./config.yml:/etc/app.yml\n      - ./readonly:/ro:ro\n      - ./later:/later\n      - /var/run/docker.sock:/var/run/docker.sock\n",
        )
        .file("db/PG_VERSION", "16\n")
        .file("uploads/receipt.pdf", &"x".repeat(1500))
        .file("config.yml", "a: 1\n")
        .file("readonly/x", "y")
        .env("COMPOSE_PROJECT_NAME", "shop");
    let fake = FakeEngine::new(false);
    let out = run(&f, &fake, &["status"]).success();
    snapshot(&f, "real_stacks_host_directories_status", &out.stderr);
    let doc = run(&f, &fake, &["volumes", "--json"]).success().json();
    let dirs: Vec<(String, bool, Option<u64>)> = doc["host_directories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
                d["exists"].as_bool().unwrap(),
                d["size_bytes"].as_u64(),
            )
        })
        .collect();
    // Not the read-only mount, not the single file, not the socket.
    assert_eq!(
        dirs,
        [
            ("db".to_string(), true, Some(3)),
            ("later".to_string(), false, None),
            ("uploads".to_string(), true, Some(1500)),
        ]
    );
    // The database lives in a host directory: no problem, no named volume.
    let db = &run(&f, &fake, &["config", "--json"]).success().json()["database"];
    assert_eq!(db["storage"]["kind"], "bind");
    assert_eq!(db["volume"], serde_json::Value::Null);
}

#[test]
fn an_unset_variable_is_warned_about_once_naming_the_file() {
    let f = Fixture::bare()
        .compose(
            "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD}\n      ALSO: ${DB_PASSWORD}x\n    volumes: [pgdata:/var/lib/postgresql/data]\nvolumes:\n  pgdata:\n",
        )
        .env("COMPOSE_PROJECT_NAME", "shop");
    let fake = FakeEngine::new(false);
    let out = run(&f, &fake, &["config", "--json"]).success();
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("DB_PASSWORD"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(
        warnings[0].contains(
            "compose.yml: the \"DB_PASSWORD\" variable is not set; defaulting to a blank string"
        ),
        "{}",
        out.stderr
    );
}
