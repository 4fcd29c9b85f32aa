//! End-to-end: crash recovery (issue 5). budgie is killed as `kill -9`
//! would kill it — for real with SIGKILL at a moment the test waits for, or
//! at a named point (`BUDGIE_CRASH_AT`, where budgie sends itself SIGKILL)
//! — and the next budgie command on the project finds what was left, says
//! what it is, and puts it right without losing anything: no file under a
//! backup's name is incomplete, the database is the old one or the new one
//! (never a mix, never missing, always open to connections), a set-aside
//! database that is the only copy of its data is kept.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::e2e;
use crate::restore::{Snapshot, backup, custom_dump, leftovers, mutate, seed, started};
use crate::support::*;

/// Waits (at most 120 s) until `cond` holds while budgie (`child`, its
/// stderr piped) runs; one that ended first fails the test with what it
/// said.
fn wait_for(what: &str, child: &mut std::process::Child, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !cond() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut said = String::new();
            if let Some(mut err) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut err, &mut said);
            }
            panic!("budgie ended ({status}) before {what}:\n{said}");
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A table big enough that a dump or a load takes seconds.
fn bulk(p: &Fixture) {
    p.sql("create table bulk as select g as id, repeat(md5(g::text), 30) as pad from generate_series(1, 150000) g");
}

fn scratch_dbs(p: &Fixture) -> Vec<String> {
    p.databases()
        .into_iter()
        .filter(|d| d.contains("_budgie_restore_"))
        .collect()
}

fn old_dbs(p: &Fixture) -> Vec<String> {
    p.databases()
        .into_iter()
        .filter(|d| d.contains("_budgie_old_"))
        .collect()
}

fn journal(p: &Fixture) -> bool {
    p.backup_dir_entries()
        .iter()
        .any(|n| n.ends_with(".journal.json"))
}

/// Whether `db` accepts connections (`ALTER DATABASE .. ALLOW_CONNECTIONS`).
fn open_to_connections(p: &Fixture, db: &str) -> bool {
    p.sql_in(
        "postgres",
        &format!("select datallowconn from pg_database where datname = '{db}'"),
    )
    .trim()
        == "t"
}

fn assert_one_or_other(now: &Snapshot, before: &Snapshot, restored: &Snapshot) {
    assert!(
        now == before || now == restored,
        "the database is neither the one from before the restore nor the restored one: {now:?}"
    );
}

e2e!(
    kill_9_mid_backup_leaves_a_temporary_that_the_next_command_removes,
    |engine| {
        let p = started(engine);
        bulk(&p);
        let mut child = p.budgie().arg("backup").spawn_capturing_stderr();
        wait_for("the backup's temporary file", &mut child, || {
            !p.temporaries().is_empty()
        });
        child.kill().unwrap();
        let status = child.wait().unwrap();
        if status.signal() == Some(9) {
            assert!(
                !p.temporaries().is_empty(),
                "a killed backup leaves its temporary"
            );
            assert!(
                p.backups().is_empty(),
                "no file under a backup's name: {:?}",
                p.backups()
            );
            // What a volume archive killed on docker leaves too: its
            // holder container, which would keep the volume from going.
            let uploads = format!("{}_uploads", p.name);
            p.engine_out(&[
                "create",
                "--label",
                "budgie.holder=1",
                "-v",
                &format!("{uploads}:/volume:ro"),
                "--entrypoint",
                "/budgie-holder-never-runs",
                APP_IMAGE,
            ]);
            let holders = || {
                p.engine_out(&[
                    "ps",
                    "-aq",
                    "--filter",
                    "label=budgie.holder=1",
                    "--filter",
                    &format!("volume={uploads}"),
                ])
            };
            assert!(!holders().trim().is_empty());
            // The dead budgie's lock does not block: no waiting allowed.
            p.budgie()
                .args(["--lock-timeout", "0", "backup"])
                .run()
                .success()
                .stderr_has("unfinished temporary file")
                .stderr_has("Removed 1 holder container");
            assert_eq!(holders().trim(), "", "the holder is gone");
        } else {
            // The dump won the race; the file must then be complete.
            p.budgie()
                .args(["--lock-timeout", "0", "backup"])
                .run()
                .success();
        }
        assert!(p.temporaries().is_empty(), "{:?}", p.backup_dir_entries());
        let dumps: Vec<String> = p
            .backups()
            .into_iter()
            .filter(|f| f.ends_with(".sql"))
            .collect();
        assert!(!dumps.is_empty(), "{:?}", p.backups());
        for f in dumps {
            let text = std::fs::read_to_string(p.path().join("backups").join(&f)).unwrap();
            assert!(
                text.contains("-- PostgreSQL database dump complete"),
                "{f} is incomplete"
            );
        }
    }
);

e2e!(
    kill_9_mid_restore_leaves_the_old_or_the_new_database_and_no_scratch_copy,
    |engine| {
        let p = started(engine);
        seed(&p);
        bulk(&p);
        let restored = p.checksums("appdb");
        let file = backup(&p, &[]);
        mutate(&p);
        let before = p.checksums("appdb");
        let mut child = p
            .budgie()
            .args(["restore", file.to_str().unwrap(), "--yes"])
            .spawn_capturing_stderr();
        wait_for("the scratch database", &mut child, || {
            !scratch_dbs(&p).is_empty()
        });
        std::thread::sleep(Duration::from_millis(500));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(journal(&p), "the killed restore left its journal");
        p.budgie()
            .arg("status")
            .run()
            .success()
            .stderr_has("did not finish");
        assert!(!journal(&p), "the journal is gone once repaired");
        assert!(scratch_dbs(&p).is_empty(), "{:?}", p.databases());
        assert!(open_to_connections(&p, "appdb"));
        assert_one_or_other(&p.checksums("appdb"), &before, &restored);
        // A set-aside copy, if the swap had committed, is covered by the
        // pre-restore backup and so dropped.
        assert!(leftovers(&p).is_empty(), "{:?}", p.databases());
        assert_eq!(p.backups_ending("_pre-restore.sql").len(), 1);
    }
);

/// Restores `file` with budgie stopped by SIGKILL at `point`.
fn crash_restore(p: &Fixture, file: &Path, point: &str, extra: &[&str]) {
    let out = p
        .budgie()
        .env("BUDGIE_CRASH_AT", point)
        .args(["restore", file.to_str().unwrap(), "--yes"])
        .args(extra)
        .run();
    assert_eq!(
        out.signal,
        Some(9),
        "budgie stopped at {point}: {}",
        out.explain()
    );
}

e2e!(
    killed_after_the_swap_the_set_aside_copy_goes_only_because_a_backup_holds_it,
    |engine| {
        let p = started(engine);
        seed(&p);
        let restored = p.checksums("appdb");
        let file = backup(&p, &[]);
        mutate(&p);
        crash_restore(&p, &file, "restore:swapped", &[]);
        assert_eq!(
            old_dbs(&p).len(),
            1,
            "the swap committed: {:?}",
            p.databases()
        );
        p.budgie()
            .arg("status")
            .run()
            .success()
            .stderr_has("Dropped")
            .stderr_has("_pre-restore.sql");
        assert!(old_dbs(&p).is_empty());
        assert!(!journal(&p));
        assert_eq!(p.checksums("appdb"), restored);
        assert!(open_to_connections(&p, "appdb"));
    }
);

e2e!(
    killed_after_a_no_backup_swap_the_only_copy_is_kept_and_explained,
    |engine| {
        let p = started(engine);
        seed(&p);
        let restored = p.checksums("appdb");
        let file = backup(&p, &[]);
        mutate(&p);
        let before = p.checksums("appdb");
        crash_restore(&p, &file, "restore:swapped", &["--no-backup"]);
        let out = p.budgie().arg("status").run().success();
        out.stderr_has("no safety backup does")
            .stderr_has("ALTER DATABASE");
        let old = old_dbs(&p);
        assert_eq!(old.len(), 1, "the only copy is kept: {:?}", p.databases());
        assert_eq!(
            p.checksums(&old[0]),
            before,
            "the kept copy is the data from before"
        );
        assert!(open_to_connections(&p, &old[0]));
        assert_eq!(p.checksums("appdb"), restored);
        assert!(!journal(&p));
        // Said once: the next command is quiet about it, and keeps it.
        p.budgie()
            .arg("status")
            .run()
            .success()
            .lacks("did not finish");
        assert_eq!(old_dbs(&p), old);
    }
);

e2e!(
    killed_before_the_swap_of_a_custom_archive_the_database_is_unchanged,
    |engine| {
        let p = started(engine);
        seed(&p);
        let file = custom_dump(&p, "ledger.dump");
        mutate(&p);
        let before = p.checksums("appdb");
        crash_restore(&p, &file, "restore:loaded", &[]);
        assert_eq!(scratch_dbs(&p).len(), 1, "{:?}", p.databases());
        // With the database stopped the repair waits, and says so.
        let db = p.container("db").unwrap();
        p.engine_out(&["stop", &db]);
        p.budgie().arg("status").run().stderr_has("is not running");
        assert!(journal(&p), "the repair is still to do");
        // `start` finishes it once the database answers.
        p.budgie()
            .arg("start")
            .run()
            .success()
            .stderr_has("Dropped the scratch database");
        assert!(scratch_dbs(&p).is_empty(), "{:?}", p.databases());
        assert!(old_dbs(&p).is_empty(), "{:?}", p.databases());
        assert!(!journal(&p));
        assert_eq!(p.checksums("appdb"), before);
        assert!(open_to_connections(&p, "appdb"));
    }
);

e2e!(
    a_database_shut_out_by_an_interrupted_swap_is_opened_again,
    |engine| {
        // The swap shuts connections out, ends the sessions, then renames
        // in one transaction. The database container dying between the
        // first two leaves the database closed: made here by stopping
        // budgie after the load and shutting the database as the swap does.
        let p = started(engine);
        seed(&p);
        let file = custom_dump(&p, "ledger.dump");
        let before = p.checksums("appdb");
        crash_restore(&p, &file, "restore:loaded", &[]);
        p.sql_in("postgres", "alter database appdb allow_connections false");
        assert!(!open_to_connections(&p, "appdb"));
        p.budgie()
            .arg("status")
            .run()
            .success()
            .stderr_has("accepts connections again");
        assert!(open_to_connections(&p, "appdb"));
        assert!(scratch_dbs(&p).is_empty());
        assert_eq!(p.checksums("appdb"), before);
    }
);

e2e!(
    killed_between_the_safety_backup_and_the_deletion_nothing_is_lost,
    |engine| {
        for command in ["clean", "nuke"] {
            // nuke removes the project's images: its own tags, not the
            // shared ones every other test runs on.
            let p = Fixture::new(engine).own_images().compose(STACK);
            p.budgie().arg("start").run().success();
            seed(&p);
            let before = p.checksums("appdb");
            let out = p
                .budgie()
                .env("BUDGIE_CRASH_AT", "gate:before-execute")
                .args([command, "--yes"])
                .run();
            assert_eq!(out.signal, Some(9), "{}", out.explain());
            let safety = p.backups_ending(&format!("_pre-{command}.sql"));
            assert_eq!(safety.len(), 1, "{:?}", p.backups());
            assert_eq!(p.checksums("appdb"), before, "nothing was deleted yet");
            let next = p
                .budgie()
                .args(["--lock-timeout", "0", "status"])
                .run()
                .success();
            next.stderr_has(&format!("`budgie {command}`"))
                .stderr_has("did not finish")
                .stderr_has(&safety[0].display().to_string());
            assert!(!journal(&p));
            // The command can be run again at once, and completes.
            p.budgie().args([command, "--yes"]).run().success();
        }
    }
);

e2e!(
    killed_during_the_safety_backup_of_each_destructive_command_nothing_is_lost,
    |engine| {
        for command in [&["clean"][..], &["nuke"], &["volumes", "rm", "pgdata"]] {
            let p = Fixture::new(engine).own_images().compose(STACK);
            p.budgie().arg("start").run().success();
            seed(&p);
            bulk(&p);
            let before = p.checksums("appdb");
            let mut child = p
                .budgie()
                .args(command)
                .arg("--yes")
                .spawn_capturing_stderr();
            wait_for("the safety backup's temporary file", &mut child, || {
                !p.temporaries().is_empty()
            });
            child.kill().unwrap();
            let status = child.wait().unwrap();
            assert_eq!(status.signal(), Some(9), "{command:?} was still backing up");
            let pgdata = format!("{}_pgdata", p.name);
            assert!(p.volume_exists(&pgdata), "{command:?}: nothing is deleted");
            assert_eq!(p.checksums("appdb"), before, "{command:?}");
            assert!(
                p.backups().iter().all(|f| !f.contains("_pre-")),
                "{command:?}: no safety backup under a final name: {:?}",
                p.backups()
            );
            p.budgie()
                .args(["--lock-timeout", "0", "status"])
                .run()
                .success()
                .stderr_has("unfinished temporary file");
            assert!(p.temporaries().is_empty(), "{:?}", p.backup_dir_entries());
            assert!(
                !journal(&p),
                "no journal before the safety backups complete"
            );
        }
    }
);
