//! End-to-end: `budgie restore` on both engines, with a real PostgreSQL.
//! Invariant 4 lives here: a failed or refused restore leaves the current
//! database exactly as it was, and leaves no scratch database behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::e2e;
use crate::support::*;

pub(crate) type Snapshot = BTreeMap<String, (u64, String)>;

/// The tables `seed` creates (what a restore of its dump reports).
const SEEDED_TABLES: u64 = 4;

pub(crate) fn started(engine: Engine) -> Fixture {
    let p = Fixture::new(engine).compose(STACK);
    p.budgie().arg("start").run().success();
    p
}

/// A small ledger: a foreign key, serials and a sequence of its own,
/// NULLs, text with newlines, quotes, tabs and backslashes, an empty table.
pub(crate) fn seed(p: &Fixture) {
    p.sql(
        r#"
        create table customers(id serial primary key, name text not null, note text);
        create table invoices(id bigserial primary key,
            customer_id int not null references customers(id),
            amount numeric(12,2), memo text, issued date);
        create sequence receipt_no start 1000;
        create table receipts(no int primary key default nextval('receipt_no'),
            invoice_id bigint references invoices(id), body text);
        create table empty_table(x int);
        insert into customers(name, note)
            select 'customer ' || g,
                   case when g % 3 = 0 then null
                        else E'line one\nline "two", it''s ' || g end
            from generate_series(1, 300) g;
        insert into invoices(customer_id, amount, memo, issued)
            select 1 + g % 300, g * 1.25,
                   case when g % 5 = 0 then null
                        else E'tab\there, back\\slash, quote '' and "dq" #' || g end,
                   date '2024-01-01' + g % 365
            from generate_series(1, 2000) g;
        insert into receipts(invoice_id, body)
            select g, 'receipt ' || g from generate_series(1, 500) g;
        "#,
    );
}

/// Rows changed and deleted, a table dropped (with the foreign key that
/// pointed at it), a table added, the sequences moved on.
pub(crate) fn mutate(p: &Fixture) {
    p.sql(
        r#"
        update customers set name = 'changed', note = null where id <= 10;
        delete from receipts where no % 2 = 0;
        insert into customers(name) values ('newcomer');
        insert into receipts(body) values ('after the backup');
        drop table invoices cascade;
        create table intruder(x int);
        insert into intruder values (1);
        "#,
    );
}

/// `budgie backup [ARGS] --json`: the new file's path.
pub(crate) fn backup(p: &Fixture, args: &[&str]) -> PathBuf {
    let doc = p
        .budgie()
        .arg("backup")
        .args(args)
        .arg("--json")
        .run()
        .success()
        .json();
    PathBuf::from(doc["path"].as_str().expect("backup --json has a path"))
}

/// A custom-format dump (`pg_dump -Fc`) made by hand, as `rel` in the
/// project directory.
pub(crate) fn custom_dump(p: &Fixture, rel: &str) -> PathBuf {
    let engine = p.engine.unwrap();
    let db = p.container("db").unwrap();
    let path = p.path().join(rel);
    let out = Command::new(engine.program())
        .args(["exec", &db, "pg_dump", "-Fc", "-U", "app", "-d", "appdb"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&path).unwrap())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_dump -Fc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// A real plain dump with a failing statement inserted halfway (before the
/// second table's data), its end marker kept: valid to look at, fails to load.
fn with_sql_error(dump: &str) -> String {
    let copies: Vec<usize> = dump.match_indices("\nCOPY ").map(|(i, _)| i + 1).collect();
    assert!(copies.len() >= 2, "a dump with several tables' data");
    let at = copies[1];
    let bad = format!(
        "{}INSERT INTO public.no_such_table_budgie VALUES (1);\n\n{}",
        &dump[..at],
        &dump[at..]
    );
    assert!(bad.contains("-- PostgreSQL database dump complete"));
    bad
}

/// Scratch (`_budgie_restore_`) and set-aside (`_budgie_old_`) databases.
/// Scratch and set-aside databases left on the server. Scratch copies must
/// be gone at once; the set-aside old database is dropped in the background
/// after a restore, so it gets a few seconds.
pub(crate) fn leftovers(p: &Fixture) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left: Vec<String> = p
            .databases()
            .into_iter()
            .filter(|d| d.contains("_budgie_restore_") || d.contains("_budgie_old_"))
            .collect();
        let only_old = left.iter().all(|d| d.contains("_budgie_old_"));
        if left.is_empty() || !only_old || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Safety backups taken before a restore (database or volumes).
fn pre_restore(p: &Fixture) -> Vec<String> {
    p.backups()
        .into_iter()
        .filter(|n| n.contains("_pre-restore"))
        .collect()
}

/// Whether some line on stderr mentions `n` (as a number of its own) and `word`.
fn mentions(out: &Outcome, n: u64, word: &str) -> bool {
    let n = n.to_string();
    out.stderr.lines().any(|l| {
        l.to_lowercase().contains(word) && l.split(|c: char| !c.is_ascii_digit()).any(|t| t == n)
    })
}

fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// seed → dump (made by `make`, which returns the FILE argument) → mutate
/// → `restore FILE --yes` → every table as it was. Returns the fixture, the
/// restore's outcome, and the contents before and after the mutation.
fn round_trip(
    engine: Engine,
    extra: &[&str],
    make: impl Fn(&Fixture) -> String,
) -> (Fixture, Outcome, Snapshot, Snapshot) {
    let p = started(engine);
    seed(&p);
    let dumped = p.checksums("appdb");
    assert_eq!(
        dumped.len(),
        4 + 3 + 1,
        "tables, sequences, constraints: {dumped:?}"
    );
    let file = make(&p);
    mutate(&p);
    let replaced = p.checksums("appdb");
    assert_ne!(replaced, dumped);

    let out = p
        .budgie()
        .args(["restore", &file, "--yes"])
        .args(extra)
        .run()
        .success();
    assert_eq!(p.checksums("appdb"), dumped, "every table as it was dumped");
    assert!(leftovers(&p).is_empty(), "{:?}", p.databases());
    assert!(
        mentions(&out, SEEDED_TABLES, "table"),
        "reports {SEEDED_TABLES} tables restored: {out:?}"
    );
    (p, out, dumped, replaced)
}

fn path_arg(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

// Plain SQL, by absolute path; the safety backup holds what was replaced.
e2e!(a_plain_dump_restores_every_table, |engine| {
    let (p, out, _, replaced) = round_trip(engine, &["--json"], |p| path_arg(&backup(p, &[])));
    let out = out.stderr_has("appdb");
    let doc = out.json();
    assert_eq!(doc["database"], "appdb", "{doc}");
    assert_eq!(doc["tables"], SEEDED_TABLES, "{doc}");
    assert!(doc["seconds"].is_number(), "{doc}");
    assert!(doc["file"].as_str().unwrap().ends_with(".sql"), "{doc}");
    let safety = PathBuf::from(doc["safety_backup"].as_str().expect("a safety backup path"));
    assert!(
        safety.to_string_lossy().ends_with("_pre-restore.sql"),
        "{doc}"
    );
    assert_eq!(
        p.backups_ending("_pre-restore.sql"),
        std::slice::from_ref(&safety),
        "{:?}",
        p.backups()
    );
    p.load_dump(&safety, "replaced");
    assert_eq!(
        p.checksums("replaced"),
        replaced,
        "the safety backup holds the replaced data"
    );
});

// gzip, and --no-backup: no safety backup, and --json says so.
e2e!(a_gzip_dump_restores_every_table, |engine| {
    let (p, out, _, _) = round_trip(engine, &["--no-backup", "--json"], |p| {
        path_arg(&backup(p, &["--compress", "gzip"]))
    });
    assert!(out.json()["safety_backup"].is_null(), "{}", out.stdout);
    assert!(pre_restore(&p).is_empty(), "{:?}", p.backups());
});

e2e!(a_zstd_dump_restores_every_table, |engine| {
    let (p, _, _, _) = round_trip(engine, &[], |p| {
        path_arg(&backup(p, &["--compress", "zstd"]))
    });
    assert_eq!(
        p.backups_ending("_pre-restore.sql").len(),
        1,
        "{:?}",
        p.backups()
    );
});

// pg_dump custom format (restored with pg_restore), by a path relative to
// the project directory, with a name that says nothing about its format.
e2e!(a_custom_format_dump_restores_every_table, |engine| {
    round_trip(engine, &[], |p| {
        custom_dump(p, "ledger.dump");
        "ledger.dump".to_string()
    });
});

// Invariant 4: files that are not complete dumps are refused before
// anything happens; a dump that fails halfway leaves the database as it was.
e2e!(bad_files_change_nothing, |engine| {
    let p = started(engine);
    seed(&p);
    let plain = backup(&p, &[]);
    let gz = backup(&p, &["--compress", "gzip"]);
    let text = std::fs::read(&plain).unwrap();
    let gz_bytes = std::fs::read(&gz).unwrap();
    let marker = b"-- PostgreSQL database dump complete";
    let cut = |b: &[u8]| b[..b.len() / 2].to_vec();
    assert!(!cut(&text).windows(marker.len()).any(|w| w == marker));
    let mut random = Vec::with_capacity(100_000);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        random.push((x >> 24) as u8);
    }
    let files: [(&str, Vec<u8>); 6] = [
        ("empty.sql", Vec::new()),
        ("truncated.sql", cut(&text)),
        ("truncated.sql.gz", cut(&gz_bytes)),
        (
            "truncated-inside.sql.zst",
            zstd::encode_all(&cut(&text)[..], 3).unwrap(),
        ),
        ("random.dump", random),
        (
            "notes.sql",
            b"-- my notes\ndrop table customers cascade;\n--\n-- PostgreSQL database dump complete\n--\n"
                .to_vec(),
        ),
    ];
    let before = p.checksums("appdb");
    let mut names = vec!["missing.sql".to_string()];
    for (name, bytes) in files {
        std::fs::write(p.path().join(name), bytes).unwrap();
        names.push(name.to_string());
    }
    for name in &names {
        p.budgie()
            .args(["restore", name, "--yes"])
            .run()
            .code(1)
            .stderr_has(name);
        assert_eq!(
            p.checksums("appdb"),
            before,
            "{name}: the database is unchanged"
        );
        assert!(leftovers(&p).is_empty(), "{name}: {:?}", p.databases());
        assert!(pre_restore(&p).is_empty(), "{name}: {:?}", p.backups());
    }

    // Valid to look at, fails halfway through loading (after the gate).
    let bad = with_sql_error(&String::from_utf8(text).unwrap());
    std::fs::write(p.path().join("sql-error.sql"), bad).unwrap();
    let out = p
        .budgie()
        .args(["restore", "sql-error.sql", "--yes"])
        .run()
        .code(1);
    // PostgreSQL's own message. podman 4.3's exec client sometimes exits
    // before it has passed on the process's last stderr; then budgie still
    // names psql's exit status 3 (an SQL error in the input).
    assert!(
        out.stderr.contains("no_such_table_budgie")
            || (engine == Engine::Podman && out.stderr.contains("psql stopped at an SQL error")),
        "{}",
        out.stderr
    );
    assert_eq!(p.checksums("appdb"), before, "the database is unchanged");
    assert!(leftovers(&p).is_empty(), "{:?}", p.databases());
    // The failed restore undid its own work: the next command's check of
    // its journal finds nothing to repair, says nothing, removes it.
    p.budgie()
        .arg("status")
        .run()
        .success()
        .lacks("did not finish");
    assert!(
        !p.backup_dir_entries().iter().any(|n| n.contains("journal")),
        "{:?}",
        p.backup_dir_entries()
    );
});

/// The STACK's app is busybox; this one holds a connection to the database
/// all the time, reconnecting a second after it loses it.
const CONNECTED_STACK: &str = r#"
services:
  db:
    image: ${BUDGIE_PG_IMAGE}
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: s3cret-pw
      POSTGRES_DB: appdb
    volumes:
      - pgdata:/var/lib/postgresql/data
  app:
    image: ${BUDGIE_PG_IMAGE}
    entrypoint: ["sh", "-c", "while true; do psql -h db -U app -d appdb -c 'select pg_sleep(3600)'; sleep 1; done"]
    environment:
      PGPASSWORD: s3cret-pw
      PGAPPNAME: budgie-test-app
    depends_on:
      - db
volumes:
  pgdata:
x-budgie:
  database:
    service: db
"#;

/// Backend pids of the app's sessions on appdb.
fn app_sessions(p: &Fixture) -> Vec<String> {
    p.sql_in(
        "postgres",
        "select pid from pg_stat_activity where datname = 'appdb' and application_name = 'budgie-test-app'",
    )
    .lines()
    .map(str::to_string)
    .collect()
}

/// The app's container and when it started (both change on a restart).
fn app_started(p: &Fixture) -> (String, String) {
    let c = p.container("app").expect("app running");
    let at = p.engine_out(&["inspect", "-f", "{{.State.StartedAt}}", &c]);
    (c, at.trim().to_string())
}

e2e!(
    a_restore_ends_the_apps_sessions_and_restart_reconnects_it,
    |engine| {
        let p = Fixture::new(engine).compose(CONNECTED_STACK);
        p.budgie().arg("start").run().success();
        seed(&p);
        let dumped = p.checksums("appdb");
        let file = backup(&p, &[]);
        mutate(&p);
        wait_until("the app connects", 30, || !app_sessions(&p).is_empty());
        let held = app_sessions(&p);
        let app_before = app_started(&p);

        p.budgie()
            .args(["restore", "--yes", "--restart"])
            .arg(&file)
            .run()
            .success();
        assert_eq!(p.checksums("appdb"), dumped, "the swap happened");
        assert!(leftovers(&p).is_empty(), "{:?}", p.databases());
        assert_ne!(app_started(&p), app_before, "--restart restarted the app");
        wait_until("the app reconnects", 30, || {
            app_sessions(&p).iter().any(|pid| !held.contains(pid))
        });
        assert!(
            app_sessions(&p).iter().all(|pid| !held.contains(pid)),
            "the old sessions are gone"
        );
    }
);

// Invariant 2 for restore: no terminal, no --yes: refuse, change nothing.
e2e!(a_restore_without_terminal_or_yes_refuses, |engine| {
    let p = started(engine);
    seed(&p);
    let file = backup(&p, &[]);
    mutate(&p);
    let before = p.checksums("appdb");
    for extra in [&[][..], &["--no-backup"][..]] {
        p.budgie()
            .arg("restore")
            .arg(&file)
            .args(extra)
            .run()
            .code(3)
            .stderr_has("--yes");
        assert_eq!(p.checksums("appdb"), before);
        assert!(
            pre_restore(&p).is_empty(),
            "no backup taken: {:?}",
            p.backups()
        );
        assert!(leftovers(&p).is_empty(), "{:?}", p.databases());
    }
});

// At a terminal the typed database name confirms (the project name does not).
e2e!(the_restore_prompt_wants_the_database_name, |engine| {
    let p = started(engine);
    seed(&p);
    let dumped = p.checksums("appdb");
    let file = path_arg(&backup(&p, &[]));
    mutate(&p);
    let replaced = p.checksums("appdb");

    let mut s = p.budgie_pty(&["restore", &file]);
    s.exp_string("Type the database name").unwrap();
    s.send_line(&p.name).unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(s.process().wait().unwrap()), 3);
    assert_eq!(
        p.checksums("appdb"),
        replaced,
        "a wrong answer changes nothing"
    );
    assert!(leftovers(&p).is_empty(), "{:?}", p.databases());

    let mut s = p.budgie_pty(&["restore", &file]);
    s.exp_string("Type the database name").unwrap();
    s.send_line("appdb").unwrap();
    // Then it offers to restart the app that holds stale connections.
    s.exp_string("[y/N]").unwrap();
    s.send_line("n").unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(s.process().wait().unwrap()), 0);
    assert_eq!(p.checksums("appdb"), dumped, "the right answer restores");
});

e2e!(latest_restores_the_newest_complete_backup, |engine| {
    let p = started(engine);
    seed(&p);
    let older = backup(&p, &[]);
    std::thread::sleep(Duration::from_millis(1100));
    p.sql(
        "delete from receipts where no < 1100; update customers set note = 'second' where id = 1",
    );
    let newest_state = p.checksums("appdb");
    let newest = backup(&p, &[]);
    std::thread::sleep(Duration::from_millis(1100));
    // Newer still, under a valid name, but cut before the end marker.
    let text = std::fs::read_to_string(&newest).unwrap();
    let cut = &text[..text.find("-- PostgreSQL database dump complete").unwrap()];
    let planted = format!(
        "{}_{}.sql",
        p.name,
        chrono::Local::now().format("%Y%m%d_%H%M%S")
    );
    std::fs::write(p.path().join("backups").join(&planted), cut).unwrap();
    mutate(&p);

    let name = |f: &Path| f.file_name().unwrap().to_string_lossy().into_owned();
    p.budgie()
        .arg("restore")
        .run()
        .code(2)
        .stderr_has(&name(&older))
        .stderr_has(&name(&newest));

    p.budgie()
        .args(["restore", "--latest", "--yes"])
        .run()
        .success()
        .stderr_has(&name(&newest));
    assert_eq!(p.checksums("appdb"), newest_state);
    assert!(leftovers(&p).is_empty(), "{:?}", p.databases());
});

e2e!(keep_previous_keeps_the_replaced_database, |engine| {
    let p = started(engine);
    seed(&p);
    let dumped = p.checksums("appdb");
    let file = backup(&p, &[]);
    mutate(&p);
    let replaced = p.checksums("appdb");

    let out = p
        .budgie()
        .args(["restore", "--yes", "--keep-previous"])
        .arg(&file)
        .run()
        .success();
    let at = out
        .stderr
        .find("appdb_budgie_old_")
        .unwrap_or_else(|| panic!("the kept database is named: {out:?}"));
    let kept: String = out.stderr[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    assert!(
        p.databases().contains(&kept),
        "{kept} in {:?}",
        p.databases()
    );
    assert_eq!(p.checksums(&kept), replaced, "the old contents, kept");
    assert_eq!(p.checksums("appdb"), dumped);
    assert!(
        p.databases()
            .iter()
            .all(|d| !d.contains("_budgie_restore_")),
        "{:?}",
        p.databases()
    );
});

e2e!(
    verify_restore_test_loads_then_drops_the_scratch_database,
    |engine| {
        let p = started(engine);
        seed(&p);
        let file = backup(&p, &[]);
        let bad = p.path().join("sql-error.sql");
        std::fs::write(
            &bad,
            with_sql_error(&std::fs::read_to_string(&file).unwrap()),
        )
        .unwrap();
        let before = p.checksums("appdb");

        let out = p
            .budgie()
            .args(["backup", "verify", "--restore-test"])
            .arg(&file)
            .run()
            .success();
        assert!(
            mentions(&out, SEEDED_TABLES, "table"),
            "reports the tables: {out:?}"
        );
        assert!(leftovers(&p).is_empty(), "{:?}", p.databases());

        p.budgie()
            .args(["backup", "verify", "--restore-test"])
            .arg(&bad)
            .run()
            .code(1);
        assert!(leftovers(&p).is_empty(), "{:?}", p.databases());
        assert_eq!(p.checksums("appdb"), before, "the database is untouched");
        assert!(pre_restore(&p).is_empty(), "{:?}", p.backups());
    }
);

/// Every file in a named volume → its contents, read by a throwaway
/// container (works whether or not the app runs).
fn volume_files(p: &Fixture, key: &str) -> BTreeMap<String, String> {
    let out = p.in_volume(
        key,
        "cd /v && find . -type f | sort | while read f; do echo \"== $f\"; cat \"$f\"; done",
    );
    let mut files = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in out.lines() {
        if let Some(f) = line.strip_prefix("== ./") {
            current = Some(f.to_string());
            files.insert(f.to_string(), String::new());
        } else if let Some(f) = &current {
            files.get_mut(f).unwrap().push_str(line);
        }
    }
    files
}

e2e!(a_volume_restore_brings_the_files_back, |engine| {
    let p = started(engine);
    let app = p.container("app").unwrap();
    let sh = |cmd: &str| p.engine_out(&["exec", &app, "sh", "-c", cmd]);
    sh(
        "echo invoice-42 > /uploads/a.txt && mkdir -p /uploads/sub && echo nested > /uploads/sub/b.txt",
    );
    let saved = volume_files(&p, "uploads");
    let archive = p.backup_volume("uploads");
    sh("echo changed > /uploads/a.txt && rm /uploads/sub/b.txt && echo stray > /uploads/extra.txt");

    p.budgie()
        .args(["restore", &archive, "--volume", "uploads", "--yes"])
        .run()
        .success();
    let files = volume_files(&p, "uploads");
    assert_eq!(files.get("a.txt").map(String::as_str), Some("invoice-42"));
    assert_eq!(files.get("sub/b.txt").map(String::as_str), Some("nested"));
    assert_eq!(
        files, saved,
        "the volume holds exactly the archive (extra.txt gone)"
    );

    let safety = p.backups_ending("_pre-restore.uploads.tar.zst");
    assert_eq!(safety.len(), 1, "{:?}", p.backups());
    let into = tempfile::tempdir().unwrap();
    let out = Command::new("sh")
        .args([
            "-c",
            &format!(
                "zstd -dc '{}' | tar -xf - -C '{}'",
                safety[0].display(),
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
    let read = |f: &str| std::fs::read_to_string(into.path().join(f)).unwrap();
    assert_eq!(
        read("a.txt").trim(),
        "changed",
        "the safety archive holds the replaced files"
    );
    assert_eq!(read("extra.txt").trim(), "stray");
});

// With no FILE at a terminal: a pick list, newest first.
e2e!(the_pick_list_offers_the_newest_backup_first, |engine| {
    let p = started(engine);
    seed(&p);
    let _older = backup(&p, &[]);
    std::thread::sleep(Duration::from_millis(1100));
    p.sql("update customers set note = 'newest' where id = 1");
    let newest_state = p.checksums("appdb");
    let newest = backup(&p, &[]);
    mutate(&p);
    let mut s = p.budgie_pty(&["restore"]);
    s.exp_string("Which backup").unwrap();
    let name = newest.file_name().unwrap().to_string_lossy().into_owned();
    s.exp_string(&format!(" 1) {name}")).unwrap();
    s.exp_string("Number").unwrap();
    s.send_line("").unwrap();
    s.exp_string("Type the database name").unwrap();
    s.send_line("appdb").unwrap();
    s.exp_string("[y/N]").unwrap();
    s.send_line("n").unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(s.process().wait().unwrap()), 0);
    assert_eq!(p.checksums("appdb"), newest_state);
});

// A plain dump is checked by its ends before the gate, and by its recorded
// checksum as it loads: a changed byte in the middle is refused before the
// swap.
e2e!(a_dump_changed_since_it_was_written_is_refused, |engine| {
    let p = started(engine);
    seed(&p);
    let file = backup(&p, &[]);
    mutate(&p);
    let before = p.checksums("appdb");
    let mut bytes = std::fs::read(&file).unwrap();
    let copy = bytes.windows(5).position(|w| w == b"COPY ").unwrap();
    let at = copy + (bytes.len() - copy) / 2;
    let i = (at..bytes.len())
        .find(|&i| bytes[i].is_ascii_digit())
        .unwrap();
    bytes[i] = if bytes[i] == b'1' { b'2' } else { b'1' };
    std::fs::write(&file, &bytes).unwrap();
    p.budgie()
        .args(["restore", "--yes", "--no-backup"])
        .arg(&file)
        .run()
        .code(1)
        .stderr_has("checksum");
    assert_eq!(p.checksums("appdb"), before, "the database is unchanged");
    assert!(leftovers(&p).is_empty(), "{:?}", p.databases());
});
