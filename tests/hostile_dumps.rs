//! End-to-end, both engines, on one stack: plain PostgreSQL files that
//! would make psql reach outside the scratch database are refused before
//! psql reads the construct — nothing runs in the container, the live
//! database is as it was — while honest data that merely looks like such
//! text restores exactly; and files made by `pg_dump --create --clean`,
//! `--clean` and `pg_dumpall` (by the container's own tools) restore into
//! the project's database, their statements about the database itself
//! left out and said. (The scanner's own cases are unit tests in
//! `restore::sqlscan`.)

use std::path::{Path, PathBuf};

use crate::e2e;
use crate::support::*;

/// `text` with `insert` put before pg_dump's closing comment, where a
/// hand-edited file would carry it (the header and end marker stay).
fn with_inserted(text: &str, insert: &str) -> String {
    let end = text
        .rfind("--\n-- PostgreSQL database dump complete")
        .expect("a pg_dump end marker");
    format!("{}{insert}{}", &text[..end], &text[end..])
}

/// What `/tmp` of the database container holds (a refused file must not
/// have made anything there).
fn tmp_of(p: &Fixture) -> String {
    let c = p.container("db").expect("db running");
    p.engine_out(&["exec", &c, "ls", "-a", "/tmp"])
}

fn write(p: &Fixture, name: &str, text: &str) -> PathBuf {
    let path = p.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn restore(p: &Fixture, file: &Path) -> Outcome {
    p.budgie()
        .args(["restore", file.to_str().unwrap(), "--yes", "--no-backup"])
        .run()
}

e2e!(hostile_plain_dumps_are_refused_and_run_nothing, |engine| {
    let p = Fixture::new(engine).compose(STACK);
    p.budgie().arg("start").run().success();
    // Honest data that looks like what the scan refuses.
    p.sql(
        "create table ledger(id int primary key, note text); \
         insert into ledger values (1, E'back\\\\slash \\\\! and \\\\connect appdb'), \
         (2, E'\\\\.'), (3, 'COPY t TO PROGRAM ''id'''), (4, E'line\\rcarriage'), \
         (5, '$$ dollar $q$'), (6, '-- not a comment /* nor this'); \
         comment on table ledger is 'a \\ backslash, PROGRAM and \\connect in a comment'",
    );
    let honest = p
        .budgie()
        .args(["backup", "--compress", "none", "--json"])
        .run()
        .success()
        .json();
    let honest = PathBuf::from(honest["path"].as_str().unwrap());
    let before = p.checksums("appdb");
    let tmp_before = tmp_of(&p);
    let text = std::fs::read_to_string(&honest).unwrap();

    let hostile = [
        ("line-start", "\\! touch /tmp/pwned-1\n"),
        ("mid-line", "SELECT 1; \\! touch /tmp/pwned-2\n"),
        ("bare-cr", "-- a comment\r\\! touch /tmp/pwned-3\n"),
        ("connect", "\\connect appdb\nDROP TABLE ledger;\n"),
        (
            "program",
            "COPY (SELECT 1) TO PROGRAM 'touch /tmp/pwned-5';\n",
        ),
        ("unrestrict", "\\unrestrict `touch /tmp/pwned-6`\n"),
        (
            "copy-tail",
            "COPY public.ledger (id, note) FROM stdin; \\! touch /tmp/pwned-7\n9\tx\n\\.\n",
        ),
        ("file", "SELECT pg_read_file('/etc/passwd');\n"),
    ];
    for (name, insert) in hostile {
        let file = write(&p, &format!("{name}.sql"), &with_inserted(&text, insert));
        let out = restore(&p, &file).failure();
        out.stderr_has("budgie refused the file at line ")
            .stderr_has("nothing was changed")
            .stderr_has("--unsafe-allow-meta-commands");
        assert_eq!(p.checksums("appdb"), before, "{name}: the live database");
        assert_eq!(
            tmp_of(&p),
            tmp_before,
            "{name}: nothing ran in the container"
        );
        assert!(
            !p.databases().iter().any(|d| d.contains("budgie")),
            "{name}: no scratch database left: {:?}",
            p.databases()
        );
    }

    // The honest file restores exactly, after the live data changed.
    p.sql("delete from ledger where id > 2");
    restore(&p, &honest).success();
    assert_eq!(p.checksums("appdb"), before);

    // Only the loud flag lets a meta-command through (into a throwaway
    // container here) — before the file's own `\restrict`: inside
    // pg_dump's pair, a patched psql refuses it whatever budgie allows.
    assert!(
        text.contains("\n\\restrict "),
        "this pg_dump writes \\restrict"
    );
    let allowed = text.replacen("\n\\restrict ", "\n\\! touch /tmp/allowed\n\\restrict ", 1);
    let file = write(&p, "allowed.sql", &allowed);
    p.budgie()
        .args([
            "restore",
            file.to_str().unwrap(),
            "--yes",
            "--no-backup",
            "--unsafe-allow-meta-commands",
        ])
        .run()
        .success()
        .stderr_has("--unsafe-allow-meta-commands: psql runs whatever");
    assert!(tmp_of(&p).contains("allowed"), "{}", tmp_of(&p));
    assert_eq!(p.checksums("appdb"), before);

    foreign_plain_files(&p);
});

/// What `tool args...` (pg_dump, pg_dumpall) writes in the database
/// container, as a file of the project.
fn made_by(p: &Fixture, name: &str, tool: &[&str]) -> PathBuf {
    let c = p.container("db").expect("db running");
    let mut args = vec!["exec", c.as_str()];
    args.extend_from_slice(tool);
    write(p, name, &p.engine_out(&args))
}

fn foreign_plain_files(p: &Fixture) {
    // A second database on the server, and a setting of the project's own.
    p.sql_in("postgres", "create database otherdb owner app");
    p.sql_in(
        "otherdb",
        "create table other_rows(id int primary key, v text);          insert into other_rows select g, md5(g::text) from generate_series(1, 50) g",
    );
    p.sql("alter database appdb set work_mem = '8MB'");
    let before = p.checksums("appdb");
    let other = p.checksums("otherdb");
    let create_clean = made_by(
        p,
        "create-clean.sql",
        &["pg_dump", "-U", "app", "--create", "--clean", "appdb"],
    );
    let clean = made_by(
        p,
        "clean.sql",
        &["pg_dump", "-U", "app", "--clean", "appdb"],
    );
    let all = made_by(p, "all.sql", &["pg_dumpall", "-U", "app", "--clean"]);
    let databases = p.databases();

    // --create --clean: loaded into budgie's copy; DROP/CREATE DATABASE,
    // the database's own settings and \connect understood, not run.
    p.sql("delete from ledger where id > 1");
    restore(p, &create_clean)
        .success()
        .stderr_has("note: left out")
        .stderr_has("statements about the database itself")
        .stderr_has("CREATE DATABASE appdb")
        .stderr_has("settings of the database itself are not restored")
        .stderr_has("ALTER DATABASE appdb SET work_mem TO '8MB'");
    assert_eq!(p.checksums("appdb"), before);
    assert_eq!(p.checksums("otherdb"), other);

    // The same file as others hand it over: xz and bzip2 (made by the
    // real tools); cut short, it is refused with nothing changed.
    for (tool, ext) in [("xz", "xz"), ("bzip2", "bz2")] {
        let packed = p.path().join(format!("create-clean.sql.{ext}"));
        let out = std::process::Command::new(tool)
            .args(["-c", create_clean.to_str().unwrap()])
            .output()
            .unwrap_or_else(|e| panic!("{tool} runs: {e}"));
        assert!(out.status.success(), "{tool}: {out:?}");
        std::fs::write(&packed, &out.stdout).unwrap();
        p.sql("delete from ledger where id > 1");
        let changed = p.checksums("appdb");
        let cut = p.path().join(format!("cut.sql.{ext}"));
        std::fs::write(&cut, &out.stdout[..out.stdout.len() / 2]).unwrap();
        restore(p, &cut)
            .failure()
            .stderr_has("truncated or corrupt")
            .stderr_has("nothing was changed");
        assert_eq!(p.checksums("appdb"), changed, "{tool}");
        restore(p, &packed).success();
        assert_eq!(p.checksums("appdb"), before, "{tool}");
    }

    // --clean: its leading drops left out (the copy starts empty).
    p.sql("delete from ledger where id > 1");
    restore(p, &clean)
        .success()
        .stderr_has("leading DROP statements (a --clean dump)");
    assert_eq!(p.checksums("appdb"), before);

    // pg_dumpall: without --from-database, its databases are listed and
    // nothing else happens; with it, that one section is restored.
    p.sql("delete from ledger where id > 1");
    let changed = p.checksums("appdb");
    restore(p, &all)
        .failure()
        .stderr_has("is a pg_dumpall file")
        .stderr_has("appdb, otherdb")
        .stderr_has("--from-database NAME")
        .stderr_has("nothing was changed");
    p.budgie()
        .args([
            "restore",
            all.to_str().unwrap(),
            "--from-database",
            "nope",
            "--yes",
            "--no-backup",
        ])
        .run()
        .failure()
        .stderr_has("without database nope");
    assert_eq!(p.checksums("appdb"), changed);
    let from = |name: &str| {
        p.budgie()
            .args([
                "restore",
                all.to_str().unwrap(),
                "--from-database",
                name,
                "--yes",
                "--no-backup",
            ])
            .run()
            .success()
    };
    // Another database's section, into the project's database.
    from("otherdb").stderr_has("CREATE DATABASE otherdb");
    assert_eq!(p.checksums("appdb"), other);
    from("appdb");
    assert_eq!(p.checksums("appdb"), before);
    // The other databases and the server's roles were left alone.
    assert_eq!(p.checksums("otherdb"), other);
    assert_eq!(p.databases(), databases);
    assert_eq!(
        p.sql_in(
            "postgres",
            "select count(*) from pg_roles where rolname = 'app'"
        ),
        "1"
    );
    newer_dumps(p, &create_clean, &before);
    archives(p);
    budgie_formats(p);

    // --from-database on the dump of one database is a mistake, said.
    p.budgie()
        .args([
            "restore",
            clean.to_str().unwrap(),
            "--from-database",
            "appdb",
            "--yes",
        ])
        .run()
        .failure()
        .stderr_has("is not a pg_dumpall file");
}

/// Files from a newer PostgreSQL than the server (15 here): a plain file
/// whose only difference is pg_dump 17's `SET transaction_timeout` loads,
/// the setting left out and said; one with SQL the server does not know
/// fails with what happened; a custom-format archive of a newer format is
/// refused before anything. The live database is never touched.
fn newer_dumps(
    p: &Fixture,
    dump: &Path,
    before: &std::collections::BTreeMap<String, (u64, String)>,
) {
    let text = std::fs::read_to_string(dump).unwrap();
    let by = text
        .lines()
        .find(|l| l.starts_with("-- Dumped by pg_dump version 15."))
        .expect("pg_dump 15 wrote it");
    let as_17 = text
        .replace(by, "-- Dumped by pg_dump version 17.2 (Debian 17.2-1.pgdg120+1)")
        .replacen(
            "SET lock_timeout = 0;\n",
            "SET lock_timeout = 0;\nSET idle_in_transaction_session_timeout = 0;\nSET transaction_timeout = 0;\n",
            1,
        );
    assert!(as_17.contains("SET transaction_timeout = 0;"));
    let file = write(p, "from-17.sql", &as_17);
    p.sql("delete from ledger where id > 1");
    restore(p, &file)
        .success()
        .stderr_has("left out `SET transaction_timeout = 0`")
        .stderr_has("a setting of PostgreSQL 17 and later");
    assert_eq!(&p.checksums("appdb"), before);

    // SQL of a newer release (18's virtual generated columns): the load
    // fails in the scratch copy, and budgie says why it may have.
    let as_18 = with_inserted(
        &as_17.replace("pg_dump version 17.2", "pg_dump version 18.1"),
        "CREATE TABLE public.doubled (a int, b int GENERATED ALWAYS AS (a * 2) VIRTUAL);\n",
    );
    let file = write(p, "from-18.sql", &as_18);
    p.sql("delete from ledger where id > 1");
    let changed = p.checksums("appdb");
    restore(p, &file)
        .failure()
        .stderr_has("nothing was changed")
        .stderr_has("was written by pg_dump 18 for a newer server than this one (PostgreSQL 15)");
    assert_eq!(p.checksums("appdb"), changed);

    // A custom-format archive of a format newer than the container's
    // pg_restore reads (1.17: newer than budgie reads too, so pg_restore
    // is asked): refused before a scratch database exists.
    let c = p.container("db").expect("db running");
    let out = std::process::Command::new(p.engine().program())
        .args(["exec", &c, "pg_dump", "-U", "app", "-Fc", "appdb"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut archive = out.stdout;
    assert_eq!(&archive[..5], b"PGDMP");
    archive[6] = 17;
    let file = p.path().join("from-future.dump");
    std::fs::write(&file, &archive).unwrap();
    restore(p, &file)
        .failure()
        .stderr_has("custom-format archive (archive format 1.17) made by a newer pg_dump")
        .stderr_has("unsupported version (1.17)")
        .stderr_has("nothing was changed");
    assert_eq!(p.checksums("appdb"), changed);
    assert!(
        !p.databases().iter().any(|d| d.contains("budgie")),
        "no scratch database: {:?}",
        p.databases()
    );
}

/// The raw output of `tool args...` in the database container.
fn bytes_from(p: &Fixture, tool: &[&str]) -> Vec<u8> {
    let c = p.container("db").expect("db running");
    let out = std::process::Command::new(p.engine().program())
        .args(["exec", &c])
        .args(tool)
        .output()
        .unwrap();
    assert!(out.status.success(), "{tool:?}: {out:?}");
    out.stdout
}

/// pg_dump's archive formats, made by the container's pg_dump: custom
/// (parallel `pg_restore -j` from a copy in the container, and streamed
/// with `--jobs 1`), directory (`-Fd`, a directory on the host) and tar
/// (`-Ft`). Each restores exactly; the copy in the container is gone
/// afterwards; a parallel restore killed mid-way leaves the current
/// database, and the next command clears what it left.
fn archives(p: &Fixture) {
    let before = p.checksums("appdb");
    let custom = p.path().join("db.dump");
    std::fs::write(
        &custom,
        bytes_from(p, &["pg_dump", "-U", "app", "-Fc", "appdb"]),
    )
    .unwrap();
    let tar = p.path().join("db.tar");
    std::fs::write(
        &tar,
        bytes_from(p, &["pg_dump", "-U", "app", "-Ft", "appdb"]),
    )
    .unwrap();
    let c = p.container("db").expect("db running");
    p.engine_out(&[
        "exec",
        &c,
        "pg_dump",
        "-U",
        "app",
        "-Fd",
        "-f",
        "/tmp/db.dir",
        "appdb",
    ]);
    let dir = p.path().join("db.dir");
    p.engine_out(&["cp", &format!("{c}:/tmp/db.dir"), dir.to_str().unwrap()]);
    p.engine_out(&["exec", &c, "rm", "-rf", "/tmp/db.dir"]);
    assert!(
        dir.join("toc.dat").is_file(),
        "the directory archive came over"
    );
    let tmp_before = tmp_of(p);

    for (file, extra) in [
        (&custom, vec!["--jobs", "2"]),
        (&custom, vec!["--jobs", "1"]),
        (&dir, vec![]),
        (&tar, vec![]),
    ] {
        p.sql("delete from ledger");
        p.budgie()
            .args(["restore", file.to_str().unwrap(), "--yes", "--no-backup"])
            .args(&extra)
            .run()
            .success()
            .stderr_has("Restored database appdb");
        assert_eq!(p.checksums("appdb"), before, "{} {extra:?}", file.display());
        assert_eq!(tmp_of(p), tmp_before, "no copy left in the container");
    }

    // Killed while pg_restore -j loads: the live database is as it was, and
    // the next command drops the scratch copy and removes the staged file.
    p.sql("delete from ledger");
    let changed = p.checksums("appdb");
    let out = p
        .budgie()
        .env("BUDGIE_CRASH_AT", "restore:parallel")
        .args([
            "restore",
            dir.to_str().unwrap(),
            "--yes",
            "--no-backup",
            "--jobs",
            "2",
        ])
        .run();
    assert_eq!(out.signal, Some(9), "{}", out.explain());
    p.budgie()
        .arg("status")
        .run()
        .success()
        .stderr_has("did not finish");
    assert_eq!(p.checksums("appdb"), changed);
    assert!(
        !p.databases().iter().any(|d| d.contains("budgie")),
        "no scratch database: {:?}",
        p.databases()
    );
    assert_eq!(tmp_of(p), tmp_before, "the staged copy was removed");

    // A directory that is not an archive is refused before anything.
    let empty = p.path().join("not-an-archive");
    std::fs::create_dir_all(&empty).unwrap();
    restore(p, &empty)
        .failure()
        .stderr_has("without toc.dat")
        .stderr_has("nothing was changed");
    assert_eq!(p.checksums("appdb"), changed);
}

/// The backup `--format custom|directory` writes, restored exactly, read
/// to its end by `verify` (a cut copy refused with nothing changed), and
/// the same dumps in a zip or a tar.gz; a directory dump killed mid-way
/// leaves no backup and its leftover in the container goes with the next.
fn budgie_formats(p: &Fixture) {
    p.sql("insert into ledger values (100, 'kept'), (101, E'tab\there')");
    let before = p.checksums("appdb");
    let tmp_before = tmp_of(p);
    let taken = |args: &[&str], env: Option<(&str, &str)>| -> PathBuf {
        let mut cmd = p.budgie().args(["backup", "--json"]).args(args);
        if let Some((k, v)) = env {
            cmd = cmd.env(k, v);
        }
        let doc = cmd.run().success().json();
        PathBuf::from(doc["path"].as_str().unwrap())
    };
    let custom = taken(&["--format", "custom"], None);
    let directory = taken(&["--format", "directory"], None);
    let from_env = taken(&[], Some(("BUDGIE_FORMAT", "custom")));
    assert!(custom.to_string_lossy().ends_with(".dump"), "{custom:?}");
    assert!(
        from_env.to_string_lossy().ends_with(".dump"),
        "{from_env:?}"
    );
    assert!(
        directory.to_string_lossy().ends_with(".dir.tar"),
        "{directory:?}"
    );
    assert_eq!(tmp_of(p), tmp_before, "pg_dump -Fd's directory was removed");
    // A user's own tar tools read the directory backup.
    let listed = std::process::Command::new("tar")
        .args(["-tf", directory.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("/toc.dat"));

    // The dry run shows pg_dump -Fd and the copy out.
    p.budgie()
        .args(["--dry-run", "backup", "--format", "directory"])
        .run()
        .success()
        .stderr_has("pg_dump --no-password -Fd -j")
        .stderr_has("/tmp/budgie-dump");

    // verify reads each to its end; a cut copy is refused by verify and
    // by restore, nothing changed.
    for file in [&custom, &directory] {
        p.budgie()
            .args(["backup", "verify", file.to_str().unwrap()])
            .run()
            .success()
            .stderr_has("complete: this is a complete dump");
        let bytes = std::fs::read(file).unwrap();
        let cut = p.path().join(format!(
            "cut-{}",
            file.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
        p.budgie()
            .args(["backup", "verify", cut.to_str().unwrap()])
            .run()
            .failure();
        restore(p, &cut).failure().stderr_has("nothing was changed");
        assert_eq!(p.checksums("appdb"), before);
    }

    // Each restores exactly (the custom one in parallel and streamed).
    let plain = taken(&["--format", "plain", "--compress", "none"], None);
    let zip = p.path().join("export.zip");
    let zipped = std::process::Command::new("zip")
        .args(["-j", "-q", zip.to_str().unwrap(), plain.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(zipped.success());
    let unpacked = p.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let untar = std::process::Command::new("tar")
        .args([
            "-xf",
            directory.to_str().unwrap(),
            "-C",
            unpacked.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(untar.success());
    let tgz = p.path().join("export.tar.gz");
    let tarred = std::process::Command::new("tar")
        .args([
            "-czf",
            tgz.to_str().unwrap(),
            "-C",
            unpacked.to_str().unwrap(),
            ".",
        ])
        .status()
        .unwrap();
    assert!(tarred.success());
    for (file, extra, said) in [
        (&custom, vec!["--jobs", "2"], String::new()),
        (&custom, vec!["--jobs", "1"], String::new()),
        (&directory, vec![], String::new()),
        (&zip, vec![], "in export.zip".to_string()),
        (&tgz, vec![], "the dump in export.tar.gz".to_string()),
    ] {
        p.sql("delete from ledger where id >= 100");
        p.budgie()
            .args(["restore", file.to_str().unwrap(), "--yes", "--no-backup"])
            .args(&extra)
            .run()
            .success()
            .stderr_has("Restored database appdb")
            .stderr_has(&said);
        assert_eq!(p.checksums("appdb"), before, "{} {extra:?}", file.display());
        assert_eq!(tmp_of(p), tmp_before, "no copy left in the container");
        assert!(p.temporaries().is_empty(), "{:?}", p.temporaries());
    }
    p.budgie()
        .args(["backup", "verify", "--restore-test", zip.to_str().unwrap()])
        .run()
        .success()
        .stderr_has("holds:    ");

    // A zip of two files is refused, naming them; nothing changed.
    let two = p.path().join("two.zip");
    let zipped = std::process::Command::new("zip")
        .args([
            "-j",
            "-q",
            two.to_str().unwrap(),
            plain.to_str().unwrap(),
            custom.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(zipped.success());
    p.sql("delete from ledger where id >= 100");
    let changed = p.checksums("appdb");
    restore(p, &two)
        .failure()
        .stderr_has("holds 2 files")
        .stderr_has("nothing was changed");
    assert_eq!(p.checksums("appdb"), changed);

    // Killed after pg_dump -Fd wrote its directory: no backup under a
    // final name; the next directory backup clears the leftover.
    let backups = p.backups();
    let out = p
        .budgie()
        .env("BUDGIE_CRASH_AT", "backup:directory")
        .args(["backup", "--format", "directory"])
        .run();
    assert_eq!(out.signal, Some(9), "{}", out.explain());
    assert_eq!(p.backups(), backups, "no backup from the killed run");
    assert!(tmp_of(p).contains("budgie-dump"), "{}", tmp_of(p));
    taken(&["--format", "directory"], None);
    assert_eq!(
        tmp_of(p),
        tmp_before,
        "the leftover went with the next dump"
    );
}
