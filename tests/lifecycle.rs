//! End-to-end: the lifecycle commands against real engines and a real
//! PostgreSQL, on podman (podman-compose) and docker (docker-compose).

use crate::e2e;
use crate::support::*;

fn started(engine: Engine) -> Fixture {
    let p = Fixture::new(engine).compose(STACK);
    p.budgie().arg("start").run().success();
    p
}

e2e!(start_status_stop_start_keeps_the_data, |engine| {
    let p = started(engine);

    let st = p.budgie().args(["status", "--json"]).run().success().json();
    assert_eq!(st["project"], p.name.as_str());
    let services = st["services"].as_array().unwrap();
    for svc in ["db", "app"] {
        let row = services.iter().find(|s| s["service"] == svc).unwrap();
        assert_eq!(row["state"], "running", "{svc}: {row}");
    }
    let pgdata = format!("{}_pgdata", p.name);
    let vol = st["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "pgdata")
        .unwrap()
        .clone();
    assert_eq!(vol["name"], pgdata.as_str());
    assert_eq!(vol["exists"], true);
    assert_eq!(vol["database"], true);
    assert!(vol["size_bytes"].as_u64().unwrap() > 1_000_000, "{vol}");

    p.sql("create table ledger(id int primary key, amount numeric); insert into ledger select g, g * 1.5 from generate_series(1, 500) g");
    let before = p.sql("select count(*), sum(amount) from ledger");

    p.budgie().arg("stop").run().success();
    assert!(
        p.containers(false).is_empty(),
        "stop removes the containers"
    );
    assert!(p.volume_exists(&pgdata), "stop keeps the volume");
    let st = p.budgie().args(["status", "--json"]).run().success().json();
    assert!(
        st["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "not created")
    );

    p.budgie().arg("start").run().success();
    assert_eq!(p.sql("select count(*), sum(amount) from ledger"), before);
});

e2e!(
    restart_keeps_the_data_and_the_human_status_reads_well,
    |engine| {
        let p = started(engine);
        p.sql("create table t(x int); insert into t values (1), (2), (3)");
        p.budgie().arg("restart").run().success();
        assert_eq!(p.sql("select sum(x) from t"), "6");
        let out = p.budgie().arg("status").run().success();
        assert!(out.stdout.is_empty(), "human output goes to stderr");
        assert!(
            out.stderr.contains(&format!("{}_pgdata", p.name)),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("running"));
        assert!(out.stderr.contains("No backups yet"));
    }
);

e2e!(stop_and_start_single_services, |engine| {
    let p = started(engine);
    p.sql("create table t(x int); insert into t values (7)");
    p.budgie().args(["stop", "app"]).run().success();
    assert!(p.container("app").is_none(), "app stopped");
    assert!(p.container("db").is_some(), "db untouched");
    p.budgie().args(["start", "app"]).run().success();
    assert!(p.container("app").is_some());
    p.budgie().args(["restart", "db"]).run().success();
    assert_eq!(p.sql("select x from t"), "7");
});

e2e!(dry_run_runs_nothing_on_a_real_engine, |engine| {
    let p = Fixture::new(engine).compose(STACK);
    let out = p.budgie().args(["--dry-run", "start"]).run().success();
    assert!(out.stderr.contains(engine.compose()), "{}", out.stderr);
    assert!(out.stderr.contains("up -d"), "{}", out.stderr);
    assert!(p.containers(false).is_empty(), "no container was created");
    assert!(
        !p.volume_exists(&format!("{}_pgdata", p.name)),
        "no volume was created"
    );

    let p = started(engine);
    let id = p.container("db").unwrap();
    p.budgie()
        .args(["--dry-run", "stop"])
        .run()
        .success()
        .stderr_has(" down");
    p.budgie().args(["--dry-run", "restart"]).run().success();
    assert_eq!(
        p.container("db"),
        Some(id),
        "dry runs left the container alone"
    );
});

e2e!(bad_input_changes_nothing, |engine| {
    let p = started(engine);
    p.sql("create table t(x int); insert into t values (42)");
    let db = p.container("db").unwrap();
    let app = p.container("app").unwrap();

    p.budgie()
        .args(["stop", "nope"])
        .run()
        .code(2)
        .stderr_has("unknown service");
    p.budgie().args(["restart", "db", "nope"]).run().code(2);
    let broken = p.file(
        "compose.override.yml",
        "services:\n  db:\n    image: [oops\n",
    );
    broken
        .budgie()
        .arg("stop")
        .run()
        .code(1)
        .stderr_has("compose.override.yml:4:1: did not find expected");
    std::fs::remove_file(broken.path().join("compose.override.yml")).unwrap();
    let p = broken;
    p.budgie()
        .args(["-f", "missing.yml", "stop"])
        .run()
        .failure()
        .stderr_has("missing.yml");
    assert_eq!(p.container("db"), Some(db));
    assert_eq!(p.container("app"), Some(app));
    assert_eq!(p.sql("select x from t"), "42");
});

e2e!(volumes_say_what_deleting_each_would_lose, |engine| {
    let p = started(engine);
    let doc = p
        .budgie()
        .args(["volumes", "--json"])
        .run()
        .success()
        .json();
    let vols = doc["volumes"].as_array().unwrap();
    let pg = vols.iter().find(|v| v["key"] == "pgdata").unwrap();
    assert_eq!(pg["database"], true);
    assert_eq!(pg["exists"], true);
    assert!(
        pg["loses"]
            .as_str()
            .unwrap()
            .contains("PostgreSQL database \"appdb\""),
        "{pg}"
    );
    let up = vols.iter().find(|v| v["key"] == "uploads").unwrap();
    assert_eq!(up["services"][0], "app");
    assert!(
        up["loses"].as_str().unwrap().contains("files of app"),
        "{up}"
    );
    p.budgie()
        .arg("volumes")
        .run()
        .success()
        .stderr_has("DELETING IT LOSES");
});

e2e!(psql_shell_and_logs_reach_the_containers, |engine| {
    let p = started(engine);
    p.sql("create table t(x int); insert into t values (5)");
    p.budgie()
        .args(["psql", "--", "-tAc", "select x * 2 from t"])
        .run()
        .success()
        .stdout_has("10");
    p.budgie()
        .args(["shell", "app"])
        .stdin("echo hello-from-$((6*7))\n")
        .run()
        .success()
        .stdout_has("hello-from-42");
    p.budgie()
        .args(["logs", "--tail", "50", "db"])
        .run()
        .success();
    p.budgie().args(["stop", "app"]).run().success();
    p.budgie()
        .args(["shell", "app"])
        .run()
        .code(1)
        .stderr_has("not running")
        .stderr_has("budgie start app");
});
