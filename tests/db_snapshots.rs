//! End-to-end, both engines: `budgie snapshot` and `snapshot restore` on a
//! real PostgreSQL. A snapshot taken while a session holds the database
//! ends it and the database answers at once; restore gives back identical
//! checksums through the gate (a safety snapshot first); a budgie killed
//! while taking one or restoring one leaves the database open, its data as
//! before or as the snapshot's, and no stray copy after the next command;
//! a volume too full for a copy refuses with nothing changed.

use std::process::{Command, Stdio};

use crate::e2e;
use crate::support::*;

/// An app holding database appdb, as an app's pool does, and connecting
/// again when its session ends: in the database container, a psql that
/// sleeps in a query (held until a snapshot ends it), then a loop of new
/// connections noting each query that returned in /tmp/app-ok, until
/// /tmp/app-stop exists. (A loop of short sleeps was a flaky holder: a
/// snapshot could fall between two of its sessions.)
fn reconnecting_app(p: &Fixture) -> std::process::Child {
    let c = p.container("db").expect("db running");
    let child = Command::new(p.engine().program())
        .args([
            "exec",
            &c,
            "sh",
            "-c",
            "rm -f /tmp/app-ok /tmp/app-stop; \
             psql -U app -d appdb -Atc 'select pg_sleep(600)' >/dev/null 2>&1; \
             while [ ! -e /tmp/app-stop ]; do \
               psql -U app -d appdb -Atc 'select 1' >/dev/null 2>&1 && echo ok >> /tmp/app-ok; \
               sleep 0.2; \
             done",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("app loop");
    // Until the server sees it.
    for _ in 0..50 {
        let n = p.sql_in(
            "postgres",
            "select count(*) from pg_stat_activity where datname = 'appdb' and query like '%pg_sleep%' and pid <> pg_backend_pid()",
        );
        if n != "0" {
            return child;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    panic!("the app's session never showed up");
}

/// The queries the app loop finished.
fn app_queries(p: &Fixture) -> usize {
    p.exec_in("db", &["sh", "-c", "cat /tmp/app-ok 2>/dev/null | wc -l"])
        .trim()
        .parse()
        .expect("a count")
}

/// Scratch, set-aside and half-taken snapshot databases.
fn side_databases(p: &Fixture) -> Vec<String> {
    p.databases()
        .into_iter()
        .filter(|d| {
            ["_budgie_restore_", "_budgie_old_", "_budgie_taking_"]
                .iter()
                .any(|m| d.contains(m))
        })
        .collect()
}

/// Snapshot `name`'s ready copy as `snapshot list --json` says it, once
/// the background work has made it (at most 60 s).
fn ready_copy(p: &Fixture, name: &str) -> String {
    for _ in 0..300 {
        let found = p
            .snapshots(&[])
            .into_iter()
            .find(|s| s["name"] == name)
            .and_then(|s| s["ready_copy"].as_str().map(str::to_string));
        if let Some(copy) = found {
            return copy;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("snapshot {name} got no ready copy within 60 s");
}

fn snapshot_names(p: &Fixture) -> Vec<String> {
    p.snapshots(&[])
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

/// `budgie ARGS` killed at crash point `point`, then the next command
/// (`status`), which repairs what it left.
fn killed_at(p: &Fixture, point: &str, args: &[&str]) {
    let out = p.budgie().env("BUDGIE_CRASH_AT", point).args(args).run();
    assert_eq!(out.signal, Some(9), "{}", out.explain());
    p.budgie().arg("status").run().success();
}

e2e!(snapshots_save_and_put_back_the_database, |engine| {
    let p = Fixture::new(engine).compose(STACK);
    p.budgie().arg("start").run().success();
    p.sql(
        "create table items(id int primary key, name text); \
         insert into items select g, 'item ' || g from generate_series(1, 20000) g; \
         create sequence counter; select nextval('counter');",
    );
    let before = p.checksums("appdb");

    // Taken while an app holds the database: its session is ended, the
    // database answers right after, and the app's next query succeeds.
    let mut app = reconnecting_app(&p);
    p.budgie()
        .args(["--dry-run", "snapshot", "before-change"])
        .run()
        .success()
        .stderr_has("its ready copy appdb_budgie_copy_before-change in the background");
    let doc = p
        .budgie()
        .args(["snapshot", "before-change", "--json"])
        .run()
        .success()
        .json();
    // No query returned before the snapshot ended the held one: any
    // query noted now came from a new connection.
    let mut reconnected = false;
    for _ in 0..200 {
        if app_queries(&p) > 0 {
            reconnected = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    p.exec_in("db", &["touch", "/tmp/app-stop"]);
    let _ = app.wait();
    assert!(reconnected, "the app made no query after the snapshot");
    assert_eq!(doc["name"], "before-change");
    assert!(doc["ended_sessions"].as_u64().unwrap() >= 1, "{doc}");
    assert!(doc["bytes"].as_u64().unwrap() > 1_000_000, "{doc}");
    assert_eq!(p.sql("select count(*) from items"), "20000");
    assert!(
        p.databases()
            .contains(&"appdb_budgie_snap_before-change".to_string()),
        "{:?}",
        p.databases()
    );
    // Its record is in the cluster; nobody may connect to it.
    assert_eq!(
        p.sql_in(
            "postgres",
            "select datallowconn from pg_database where datname = 'appdb_budgie_snap_before-change'"
        ),
        "f"
    );
    // Its ready copy is made in the background, closed too.
    let copy = ready_copy(&p, "before-change");
    assert_eq!(copy, "appdb_budgie_copy_before-change");
    assert_eq!(
        p.sql_in(
            "postgres",
            "select datallowconn from pg_database where datname = 'appdb_budgie_copy_before-change'"
        ),
        "f"
    );
    // The same name again is refused.
    p.budgie()
        .args(["snapshot", "before-change"])
        .run()
        .failure()
        .stderr_has("exists already");
    // Killed once its journal is written, before it learns the name is
    // taken: the repair drops nothing of the snapshot of that name.
    let listed = || {
        p.snapshots(&[])
            .into_iter()
            .find(|s| s["name"] == "before-change")
    };
    let was = listed().expect("before-change listed");
    killed_at(&p, "snapshot:begun", &["snapshot", "before-change"]);
    assert_eq!(listed(), Some(was));
    assert!(side_databases(&p).is_empty(), "{:?}", side_databases(&p));

    // Change and delete rows, then put the snapshot back.
    p.sql("delete from items where id > 100; update items set name = 'changed'; select nextval('counter');");
    assert_ne!(p.checksums("appdb"), before);
    p.budgie()
        .args(["--dry-run", "snapshot", "restore", "before-change"])
        .run()
        .success()
        .stderr_has("Swap in snapshot before-change's ready copy appdb_budgie_copy_before-change")
        .stderr_has("then its next ready copy is made in the background");
    p.budgie()
        .args(["snapshot", "restore", "before-change", "--yes"])
        .run()
        .success()
        .stderr_has("Safety snapshot of database appdb")
        .stderr_has("Restored database appdb from snapshot before-change (taken ")
        .stderr_has(", its ready copy)");
    assert_eq!(p.checksums("appdb"), before);
    assert!(side_databases(&p).is_empty(), "{:?}", side_databases(&p));
    // The next ready copy is made; put back again, it gives the same.
    ready_copy(&p, "before-change");
    p.sql("delete from items where id > 500; select nextval('counter');");
    p.budgie()
        .args([
            "snapshot",
            "restore",
            "before-change",
            "--yes",
            "--no-backup",
        ])
        .run()
        .success()
        .stderr_has("its ready copy");
    assert_eq!(p.checksums("appdb"), before);
    ready_copy(&p, "before-change");
    assert!(side_databases(&p).is_empty(), "{:?}", side_databases(&p));
    // The safety snapshot holds what was replaced.
    let names = snapshot_names(&p);
    assert_eq!(names.len(), 2, "{names:?}");
    let safety = names
        .iter()
        .find(|n| n.starts_with("pre-restore-"))
        .unwrap();

    // Killed after the copy was made, before the swap: the database is as
    // it was and open; the next command drops the copy.
    p.sql("delete from items where id > 10");
    let changed = p.checksums("appdb");
    killed_at(
        &p,
        "restore:loaded",
        &[
            "snapshot",
            "restore",
            "before-change",
            "--yes",
            "--no-backup",
        ],
    );
    assert_eq!(p.checksums("appdb"), changed);
    assert!(side_databases(&p).is_empty(), "{:?}", side_databases(&p));
    assert_eq!(ready_copy(&p, "before-change"), copy);

    // Killed once the snapshot is taken and recorded, before it says so:
    // the snapshot is whole and kept, the database open.
    killed_at(&p, "snapshot:taken", &["snapshot", "killed"]);
    assert!(snapshot_names(&p).contains(&"killed".to_string()));
    assert_eq!(p.sql("select count(*) from items"), "10");
    assert!(side_databases(&p).is_empty(), "{:?}", side_databases(&p));
    p.budgie()
        .args(["snapshot", "rm", "killed", "--yes"])
        .run()
        .success();

    // --dump: the safety copy is a file; --latest takes the newest.
    p.budgie()
        .args(["snapshot", "restore", safety, "--yes", "--dump"])
        .run()
        .success()
        .stderr_has("Safety backup of database appdb");
    assert_eq!(p.backups_ending("_pre-restore.sql").len(), 1);
    // What the first restore replaced: 100 rows, renamed.
    assert_eq!(
        p.sql("select count(*), min(name) from items"),
        "100|changed"
    );

    // The gate counts them with the volume they live in.
    p.budgie()
        .args(["--dry-run", "clean"])
        .run()
        .success()
        .stderr_has("also deletes 2 snapshots");
    p.budgie()
        .arg("status")
        .run()
        .success()
        .stderr_has("Snapshots of appdb: 2");

    // rm, and it is gone; without a terminal and --yes it asks nobody.
    p.budgie()
        .args(["snapshot", "rm", "before-change"])
        .run()
        .failure()
        .stderr_has("without confirmation");
    p.budgie()
        .args(["snapshot", "rm", "before-change", "--yes"])
        .run()
        .success();
    assert!(!snapshot_names(&p).contains(&"before-change".to_string()));
    // Its ready copy went with it.
    assert!(!p.databases().contains(&copy), "{:?}", p.databases());
    p.budgie()
        .args(["snapshot", "restore", "before-change", "--yes"])
        .run()
        .failure()
        .stderr_has("has no snapshot before-change");
});

/// A stack with two PostgreSQL databases: `archive`'s, and `db`'s in a
/// small tmpfs volume.
const SMALL: &str = r#"
services:
  archive:
    image: ${BUDGIE_PG_IMAGE}
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: s3cret-pw
      POSTGRES_DB: archivedb
    volumes:
      - archive:/var/lib/postgresql/data
  db:
    image: ${BUDGIE_PG_IMAGE}
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: s3cret-pw
      POSTGRES_DB: appdb
    volumes:
      - pgdata:/var/lib/postgresql/data
volumes:
  archive:
  pgdata:
    driver_opts:
      type: tmpfs
      device: tmpfs
      o: nr_blocks=40960  # 160 MiB (podman 4.3 takes size= for a quota)
"#;

fn archive_sql(p: &Fixture, sql: &str) -> String {
    p.sql_at("archive", "app", "archivedb", sql)
}

fn archive_snapshots(p: &Fixture) -> Vec<String> {
    p.snapshots(&["--service", "archive"])
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

e2e!(
    several_databases_are_one_set_and_a_full_volume_refuses,
    |engine| {
        let p = Fixture::new(engine).compose(SMALL);
        p.budgie().arg("start").run().success();
        p.sql("create table t(id int primary key, v text); insert into t select g, 'db ' || g from generate_series(1, 500) g");
        archive_sql(
            &p,
            "create table a(id int primary key, v text); insert into a select g, 'archive ' || g from generate_series(1, 700) g",
        );
        let (db_before, archive_before) = (
            p.checksums("appdb"),
            p.checksums_at("archive", "app", "archivedb"),
        );

        // Without --service: every PostgreSQL database, one name.
        let doc = p
            .budgie()
            .args(["snapshot", "set1", "--json"])
            .run()
            .success()
            .json();
        let sources: Vec<&str> = doc
            .as_array()
            .expect("one record per database")
            .iter()
            .map(|s| s["source"].as_str().unwrap())
            .collect();
        assert_eq!(sources, ["archivedb", "appdb"], "{doc}");
        p.budgie()
            .args(["snapshot", "list"])
            .run()
            .success()
            .stderr_has("archivedb")
            .stderr_has("appdb");
        // doctor shows them (it fails here on other grounds: no backup yet).
        p.budgie()
            .arg("doctor")
            .run()
            .stderr_has("snapshots")
            .stderr_has("appdb: 1 snapshot");

        // Both changed, both put back by one restore through one gate.
        p.sql("delete from t where id > 10");
        archive_sql(&p, "update a set v = 'changed'");
        p.budgie()
            .args(["snapshot", "restore", "set1", "--yes"])
            .run()
            .success()
            .stderr_has("Safety snapshot of database archivedb")
            .stderr_has("Safety snapshot of database appdb")
            .stderr_has("Restored database archivedb from snapshot set1")
            .stderr_has("Restored database appdb from snapshot set1");
        assert_eq!(p.checksums("appdb"), db_before);
        assert_eq!(
            p.checksums_at("archive", "app", "archivedb"),
            archive_before
        );

        // A name only one database has is no set: refused, nothing changed.
        p.budgie()
            .args(["snapshot", "only-archive", "--service", "archive"])
            .run()
            .success();
        p.sql("delete from t where id > 20");
        let changed = p.checksums("appdb");
        p.budgie()
            .args(["snapshot", "restore", "only-archive", "--yes"])
            .run()
            .failure()
            .stderr_has("not in every database of the set: appdb has none");
        assert_eq!(p.checksums("appdb"), changed);
        // One database's, with --service.
        p.budgie()
            .args([
                "snapshot",
                "restore",
                "only-archive",
                "--service",
                "archive",
                "--yes",
                "--no-backup",
            ])
            .run()
            .success();
        p.budgie()
            .args(["snapshot", "rm", "set1", "--yes"])
            .run()
            .success()
            .stderr_has("Removed snapshot set1 of archivedb, appdb");

        // db's volume too full for a copy: refused before anything is
        // copied there, and archive's copy of the set taken just before is
        // removed again.
        p.sql("create table big as select g as id, repeat('x', 200) as pad from generate_series(1, 100000) g");
        let before = p.checksums("appdb");
        let databases = p.databases();
        let archive_had = archive_snapshots(&p);
        p.budgie()
            .args(["snapshot", "full"])
            .run()
            .failure()
            .stderr_has("not enough free space for snapshot full")
            .stderr_has("nothing was changed")
            .stderr_has("removed again");
        assert_eq!(p.checksums("appdb"), before);
        assert_eq!(p.databases(), databases);
        assert_eq!(archive_snapshots(&p), archive_had);
    }
);

/// A server whose data directory is not where the compose file says: the
/// entrypoint is told `PGDATA` behind budgie's back, onto a 100 MiB tmpfs,
/// while the volume at the usual place has the host's free space.
const ELSEWHERE: &str = r#"
services:
  db:
    image: ${BUDGIE_PG_IMAGE}
    entrypoint: ["env", "PGDATA=/srv/pg/data", "/usr/local/bin/docker-entrypoint.sh"]
    command: ["postgres"]
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: s3cret-pw
      POSTGRES_DB: appdb
    volumes:
      - pgdata:/var/lib/postgresql/data
      - small:/srv/pg
volumes:
  pgdata:
  small:
    driver_opts:
      type: tmpfs
      device: tmpfs
      o: nr_blocks=25600  # 100 MiB
"#;

e2e!(
    free_space_is_measured_where_the_server_keeps_its_data,
    |engine| {
        // The compose file's data directory has the host's free space; the
        // server's own (asked in the snapshot's session) has less than a copy
        // and its margin (64 MiB at least) need: measured there, refused.
        let p = Fixture::new(engine).compose(ELSEWHERE);
        p.budgie().arg("start").run().success();
        let where_ = p.sql("show data_directory");
        assert_eq!(where_.trim(), "/srv/pg/data");
        p.sql("create table t(id int primary key); insert into t select generate_series(1, 100)");
        let before = p.checksums("appdb");
        let databases = p.databases();
        p.budgie()
            .args(["snapshot", "elsewhere"])
            .run()
            .failure()
            .stderr_has("not enough free space for snapshot elsewhere")
            .stderr_has("nothing was changed");
        assert_eq!(p.checksums("appdb"), before);
        assert_eq!(p.databases(), databases);
        // Open to connections again: a new session works.
        assert_eq!(p.sql("select count(*) from t").trim(), "100");
    }
);
