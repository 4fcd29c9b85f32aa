//! End-to-end: `budgie deploy` recreates the app services and never the
//! database, on podman (podman-compose) and docker (docker-compose).

use crate::e2e;
use crate::support::*;

fn started(engine: Engine, compose: &str) -> Fixture {
    let p = Fixture::new(engine).compose(compose);
    p.budgie().arg("start").run().success();
    p
}

/// A running service's container id and start time, from the engine.
fn identity(p: &Fixture, service: &str) -> (String, String) {
    let id = p
        .container(service)
        .unwrap_or_else(|| panic!("{service} is running"));
    let out = p.engine_out(&["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", &id]);
    let (id, started) = out.trim().split_once(' ').expect("id and start time");
    (id.to_string(), started.to_string())
}

e2e!(deploy_recreates_the_app_and_never_the_database, |engine| {
    let p = started(engine, STACK);
    p.sql("create table ledger(id int primary key, amount numeric); insert into ledger select g, g * 1.5 from generate_series(1, 300) g");
    let rows = p.sql("select count(*), sum(amount) from ledger");
    let db = identity(&p, "db");
    let app = identity(&p, "app");

    // Nothing is deleted, so nothing is asked: no --yes needed.
    p.budgie()
        .arg("deploy")
        .run()
        .success()
        .stderr_has("Safety backup of database appdb")
        .stderr_has("Safety snapshot of database appdb")
        .stderr_has("Deployed app")
        .stderr_has("The database was not touched")
        .stderr_has("budgie snapshot restore pre-deploy-");

    assert_eq!(
        identity(&p, "db"),
        db,
        "the database container is the same, started once"
    );
    assert_eq!(p.sql("select count(*), sum(amount) from ledger"), rows);
    assert_ne!(identity(&p, "app"), app, "the app container was recreated");
    let backups = p.backups_ending("_pre-deploy.sql");
    assert_eq!(backups.len(), 1, "{:?}", p.backups());
    let dump = std::fs::read_to_string(&backups[0]).unwrap();
    assert!(
        dump.contains("CREATE TABLE public.ledger"),
        "the backup holds the data"
    );
    assert!(dump.contains("-- PostgreSQL database dump complete"));

    // The deploy's snapshot puts the database back as it was before it.
    let before = p.checksums("appdb");
    p.sql("delete from ledger where id > 10");
    p.budgie()
        .args(["snapshot", "restore", "--latest-deploy", "--yes"])
        .run()
        .success()
        .stderr_has("Restored database appdb from snapshot pre-deploy-");
    assert_eq!(p.checksums("appdb"), before);
    // --no-snapshot takes none.
    p.budgie()
        .args(["deploy", "--no-snapshot", "--no-backup"])
        .run()
        .success();
    let listed = p.snapshots(&[]);
    let deploys = listed
        .iter()
        .filter(|s| s["name"].as_str().unwrap().starts_with("pre-deploy-"))
        .count();
    assert_eq!(deploys, 1, "{listed:?}");
});

e2e!(
    an_app_that_never_becomes_healthy_fails_with_its_log,
    |engine| {
        let compose = STACK.replace(
        r#"command: ["sh", "-c", "while true; do sleep 3600; done"]"#,
        r#"command: ["sh", "-c", "echo app-log-line-before-failing; while true; do sleep 3600; done"]
    healthcheck: {test: ["CMD", "false"], interval: 1s, retries: 1}"#,
    );
        assert_ne!(compose, STACK);
        let p = started(engine, &compose);
        p.sql("create table t(x int); insert into t values (9)");
        let db = identity(&p, "db");

        p.budgie()
            .args(["deploy", "--timeout", "15"])
            .run()
            .code(1)
            .stderr_has("service app did not become ready")
            .stderr_has("unhealthy")
            .stderr_has("app-log-line-before-failing")
            .stderr_has("The database was not touched");

        assert_eq!(identity(&p, "db"), db);
        assert_eq!(p.sql("select x from t"), "9");
    }
);

e2e!(
    deploy_refuses_the_database_and_dry_run_runs_nothing,
    |engine| {
        let p = started(engine, STACK);
        let db = identity(&p, "db");
        let app = identity(&p, "app");

        p.budgie()
            .args(["deploy", "db"])
            .run()
            .code(2)
            .stderr_has("deploy never restarts the database; use budgie restart db");
        p.budgie().args(["deploy", "app", "nope"]).run().code(2);

        p.budgie()
            .args(["deploy", "--dry-run"])
            .run()
            .success()
            .stderr_has("_pre-deploy.sql")
            .stderr_has("up -d --no-deps --build --force-recreate app")
            .lacks("force-recreate app db");

        assert_eq!(identity(&p, "db"), db);
        assert_eq!(identity(&p, "app"), app, "nothing was recreated");
        assert!(p.backups().is_empty(), "no backup taken: {:?}", p.backups());
    }
);

e2e!(a_failed_safety_backup_deploys_nothing, |engine| {
    let p = started(engine, STACK);
    p.sql("create table secret(x int); insert into secret values (1); create role limited login password 'x'; grant connect on database appdb to limited");
    // The dump runs as a user that cannot read `secret`: pg_dump fails.
    let p = p.compose(&format!(
        "{STACK}\nx-budgie:\n  database:\n    user: limited\n"
    ));
    let db = identity(&p, "db");
    let app = identity(&p, "app");

    p.budgie()
        .arg("deploy")
        .run()
        .code(4)
        .stderr_has("safety backup of database appdb failed");
    assert_eq!(identity(&p, "app"), app, "nothing deployed");
    assert_eq!(identity(&p, "db"), db);
    assert!(
        p.backups().iter().all(|n| !n.contains(".sql")),
        "{:?}",
        p.backups()
    );

    // --no-backup skips it, says so, and deploys.
    p.budgie()
        .args(["deploy", "--no-backup", "app"])
        .run()
        .success()
        .stderr_has("--no-backup: no safety backup")
        // This user may not copy its database: said, and the deploy goes on.
        .stderr_has(
            "no pre-deploy snapshot of database appdb: ERROR:  must be owner of database appdb",
        );
    assert_ne!(identity(&p, "app"), app);
    assert_eq!(identity(&p, "db"), db);
    assert_eq!(p.sql("select x from secret"), "1");
});
