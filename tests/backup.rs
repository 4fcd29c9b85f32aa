//! End-to-end: `budgie backup` and its subcommands on both engines, with a
//! real PostgreSQL. The data-safety invariants each have a test here or in
//! `gate.rs` that fails if the invariant breaks.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::e2e;
use crate::support::*;

fn started(engine: Engine) -> Fixture {
    let p = Fixture::new(engine).compose(STACK);
    p.budgie().arg("start").run().success();
    p
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

e2e!(a_backup_is_complete_private_and_loads_back, |engine| {
    let p = started(engine);
    p.sql("create table ledger(id int primary key, note text); insert into ledger select g, 'entry ' || g from generate_series(1, 1000) g");
    let doc = p.budgie().args(["backup", "--json"]).run().success().json();
    let path = std::path::PathBuf::from(doc["path"].as_str().unwrap());
    assert_eq!(doc["database"], "appdb");
    assert!(doc["bytes"].as_u64().unwrap() > 10_000);
    assert_eq!(doc["sha256"].as_str().unwrap().len(), 64);
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("{}_", p.name)) && name.ends_with(".sql"),
        "{name}"
    );

    // Invariant 6: 0600 files in a 0700 directory that git ignores.
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&p.path().join("backups")), 0o700);
    let ignore = std::fs::read_to_string(p.path().join("backups/.gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "*"), "{ignore}");
    // Invariant 3: no temporary file is left, the final one is complete.
    assert!(
        p.backups()
            .iter()
            .all(|n| !n.starts_with('.') || n == ".gitignore"),
        "{:?}",
        p.backups()
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("-- PostgreSQL database dump complete"));
    p.budgie()
        .args(["backup", "verify"])
        .arg(&path)
        .run()
        .success()
        .stderr_has("complete");

    p.load_dump(&path, "copy");
    assert_eq!(
        p.sql_in(
            "copy",
            "select count(*), md5(string_agg(note, ',' order by id)) from ledger"
        ),
        p.sql("select count(*), md5(string_agg(note, ',' order by id)) from ledger")
    );
});

e2e!(compressed_backups_verify_and_list, |engine| {
    let p = started(engine);
    p.sql("create table t as select g as id from generate_series(1, 5000) g");
    let gz = p
        .budgie()
        .args(["backup", "--compress", "gzip", "--json"])
        .run()
        .success()
        .json();
    let zst = p
        .budgie()
        .args(["backup", "--compress", "zstd", "--json"])
        .run()
        .success()
        .json();
    let gz = gz["path"].as_str().unwrap().to_string();
    let zst = zst["path"].as_str().unwrap().to_string();
    assert!(
        gz.ends_with(".sql.gz") && zst.ends_with(".sql.zst"),
        "{gz} {zst}"
    );
    assert_ne!(
        gz.replace(".gz", ""),
        zst.replace(".zst", ""),
        "distinct names"
    );
    for f in [&gz, &zst] {
        p.budgie().args(["backup", "verify", f]).run().success();
    }
    // A truncated copy is refused by verify.
    let bytes = std::fs::read(&zst).unwrap();
    let cut = p.path().join("cut.sql.zst");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    p.budgie()
        .args(["backup", "verify"])
        .arg(&cut)
        .run()
        .failure();

    let list = p
        .budgie()
        .args(["backup", "list", "--json"])
        .run()
        .success()
        .json();
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{list}");
    assert!(
        rows.iter()
            .all(|r| r["kind"] == "manual" && r["database"] == "appdb" && r["complete"] == true),
        "{list}"
    );
    p.budgie()
        .args(["backup", "list"])
        .run()
        .success()
        .stderr_has("COMPLETE");
});

e2e!(
    a_backup_of_a_stopped_database_starts_and_stops_it,
    |engine| {
        let p = started(engine);
        p.sql("create table t(x int); insert into t values (1), (2)");
        p.budgie().arg("stop").run().success();
        let doc = p.budgie().args(["backup", "--json"]).run().success().json();
        let path = std::path::PathBuf::from(doc["path"].as_str().unwrap());
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("COPY public.t")
        );
        assert!(p.container("db").is_none(), "the database is stopped again");
    }
);

e2e!(
    concurrent_backups_both_complete_with_distinct_names,
    |engine| {
        let p = started(engine);
        p.sql(
            "create table t as select g as id, md5(g::text) as h from generate_series(1, 20000) g",
        );
        let a = p.budgie().args(["backup", "--json"]);
        let b = p.budgie().args(["backup", "--json"]);
        let (ra, rb) = std::thread::scope(|s| {
            let ha = s.spawn(move || a.run());
            let hb = s.spawn(move || b.run());
            (ha.join().unwrap(), hb.join().unwrap())
        });
        let (ra, rb) = (ra.success(), rb.success());
        let (pa, pb) = (
            ra.json()["path"].as_str().unwrap().to_string(),
            rb.json()["path"].as_str().unwrap().to_string(),
        );
        assert_ne!(pa, pb);
        for f in [&pa, &pb] {
            p.budgie().args(["backup", "verify", f]).run().success();
        }
    }
);

e2e!(
    ctrl_c_during_a_backup_leaves_no_file_under_a_final_name,
    |engine| {
        let p = started(engine);
        p.sql("create table big as select g as id, repeat(md5(g::text), 30) as pad from generate_series(1, 150000) g");
        let mut child = {
            let b = p.budgie().arg("backup");
            b.spawn()
        };
        // Wait for the temporary file, then interrupt.
        let dir = p.path().join("backups");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let partial = std::fs::read_dir(&dir)
                .map(|rd| {
                    rd.flatten()
                        .any(|e| e.file_name().to_string_lossy().ends_with(".partial"))
                })
                .unwrap_or(false);
            if partial {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no temporary file appeared"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let pid = child.id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = child.wait().unwrap();
        let leftover = p.backups();
        if status.code() == Some(0) {
            // The dump won the race: then the file must be complete.
            let f = leftover
                .iter()
                .find(|n| n.ends_with(".sql"))
                .expect("a final file");
            let text = std::fs::read_to_string(p.path().join("backups").join(f)).unwrap();
            assert!(text.contains("-- PostgreSQL database dump complete"));
        } else {
            assert_eq!(status.code(), Some(130), "interrupted backups exit 130");
            assert!(leftover.is_empty(), "files left: {leftover:?}");
            assert!(
                p.temporaries().is_empty(),
                "temporaries left: {:?}",
                p.backup_dir_entries()
            );
        }
    }
);

e2e!(
    volume_archives_are_taken_without_the_service_running,
    |engine| {
        let p = started(engine);
        let app = p.container("app").unwrap();
        p.engine_out(&["exec", &app, "sh", "-c", "echo invoice-42 > /uploads/a.txt"]);
        p.budgie().args(["stop", "app"]).run().success();
        let path = p.backup_volume("uploads");
        assert!(path.ends_with(".uploads.tar.zst"), "{path}");
        let into = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("sh")
            .args([
                "-c",
                &format!(
                    "zstd -dc '{path}' | tar -xf - -C '{}'",
                    into.path().display()
                ),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(into.path().join("a.txt"))
                .unwrap()
                .trim(),
            "invoice-42"
        );
        p.budgie()
            .args(["backup", "--volume", "pgdata"])
            .run()
            .code(2)
            .stderr_has("holds the database");
        p.budgie()
            .args(["backup", "--volume", "nope"])
            .run()
            .code(2)
            .stderr_has("unknown volume");
    }
);
