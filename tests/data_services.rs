//! End-to-end: every data service of a stack, on both engines — two
//! PostgreSQL services, a MariaDB service and an app appending lines to an
//! uploads volume (so a copy taken while it writes would differ from one
//! taken while it is still). One stack per engine serves the whole story,
//! step by step, to keep the suite's time down.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::e2e;
use crate::support::*;

/// Two PostgreSQL services, one MariaDB, and an app writing numbered lines
/// to `uploads/lines` (a volume) and `files/lines` (a host directory) every
/// 50 ms, going on from the last line the volume's file holds (it stops at
/// once on SIGTERM).
pub const MULTI: &str = r#"
services:
  db:
    image: ${BUDGIE_PG_IMAGE}
    environment: {POSTGRES_USER: app, POSTGRES_PASSWORD: app-pw, POSTGRES_DB: appdb}
    volumes: [pgdata:/var/lib/postgresql/data]
  auth:
    image: ${BUDGIE_PG_IMAGE}
    environment: {POSTGRES_USER: auth, POSTGRES_PASSWORD: auth-pw, POSTGRES_DB: authdb}
    volumes: [authdata:/var/lib/postgresql/data]
  shop:
    image: ${BUDGIE_MARIADB_IMAGE}
    environment:
      MARIADB_USER: shop
      MARIADB_PASSWORD: shop-pw
      MARIADB_DATABASE: shopdb
      MARIADB_ROOT_PASSWORD: root-pw
    volumes: [shopdata:/var/lib/mysql]
  app:
    image: ${BUDGIE_APP_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; i=$$(cat /uploads/lines 2>/dev/null | wc -l); while true; do i=$$((i+1)); echo $$i >> /uploads/lines; echo $$i >> /files/lines; sleep 0.05; done"]
    volumes: [uploads:/uploads, ./files:/files]
volumes:
  pgdata:
  authdata:
  shopdata:
  uploads:
"#;

fn started(engine: Engine) -> Fixture {
    let f = Fixture::new(engine).compose(MULTI);
    std::fs::create_dir_all(f.path().join("files")).unwrap();
    f.budgie().arg("start").run().success();
    f
}

/// SQL through the `mariadb` client in the shop container, as `shop`
/// on shopdb.
fn maria(f: &Fixture, sql: &str) -> String {
    f.maria_sql("shop", ("shop", "shop-pw"), Some("shopdb"), sql)
}

/// SQL as MariaDB's root (what the server holds beyond shopdb).
fn maria_root(f: &Fixture, sql: &str) -> String {
    f.maria_sql("shop", ("root", "root-pw"), None, sql)
}

/// What restores may leave on the MariaDB server: side databases, the
/// loader account, locked accounts.
fn maria_leftovers(f: &Fixture) -> String {
    maria_root(
        f,
        "select schema_name from information_schema.schemata where schema_name like '%budgie%' \
         union all select concat('user ', user) from mysql.global_priv where user like 'budgie%' \
         union all select concat('locked ', user) from mysql.global_priv where json_value(priv, '$.account_locked') in ('1', 'true') and user <> 'mariadb.sys'",
    )
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Each table of shopdb with its row count and `CHECKSUM TABLE`.
fn maria_checksums(f: &Fixture) -> BTreeMap<String, String> {
    let tables = maria(
        f,
        "select table_name from information_schema.tables where table_schema = database() and table_type = 'BASE TABLE' order by 1",
    );
    tables
        .lines()
        .map(|t| {
            let sum = maria(f, &format!("checksum table `{t}` extended"));
            let rows = maria(f, &format!("select count(*) from `{t}`"));
            let sum = sum.split_whitespace().last().unwrap_or("").to_string();
            (t.to_string(), format!("{rows} rows, checksum {sum}"))
        })
        .collect()
}

/// Fills the three databases with something worth checking.
fn fill(f: &Fixture) {
    f.sql_at(
        "db",
        "app",
        "appdb",
        "create table orders(id int primary key, note text); insert into orders select g, md5(g::text) from generate_series(1, 2000) g",
    );
    f.sql_at(
        "auth",
        "auth",
        "authdb",
        "create table users(id serial primary key, name text unique); insert into users(name) select 'user' || g from generate_series(1, 300) g",
    );
    maria(
        f,
        "create table items(id int primary key auto_increment, sku varchar(40) unique, price decimal(10,2)) engine=innodb; \
         insert into items(sku, price) select concat('sku-', seq), seq * 1.5 from seq_1_to_1500",
    );
}

/// Row count and checksum per table of a PostgreSQL database.
type PgSums = BTreeMap<String, (u64, String)>;

/// What the three databases hold.
fn all_checksums(f: &Fixture) -> (PgSums, PgSums, BTreeMap<String, String>) {
    (
        f.checksums_at("db", "app", "appdb"),
        f.checksums_at("auth", "auth", "authdb"),
        maria_checksums(f),
    )
}

/// The `lines` file of an uploads archive (`.tar.zst`), read from the tar.
fn lines_in_archive(path: &Path) -> String {
    let data = zstd::stream::decode_all(std::fs::File::open(path).unwrap()).unwrap();
    let mut at = 0;
    while at + 512 <= data.len() {
        let header = &data[at..at + 512];
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let name = String::from_utf8_lossy(&header[..100])
            .trim_end_matches('\0')
            .to_string();
        let size_field = String::from_utf8_lossy(&header[124..136])
            .trim_matches(|c: char| c == '\0' || c == ' ')
            .to_string();
        let size = usize::from_str_radix(&size_field, 8).unwrap_or(0);
        let body = at + 512;
        if name.trim_start_matches("./") == "lines" {
            return String::from_utf8_lossy(&data[body..body + size]).into_owned();
        }
        at = body + size.div_ceil(512) * 512;
    }
    panic!("no lines file in {}", path.display());
}

/// The numbered lines are whole and consecutive from 1: what the app wrote
/// up to some moment, no torn last line. Returns how many.
fn consecutive(lines: &str) -> usize {
    assert!(
        lines.ends_with('\n'),
        "a torn last line: {:?}",
        lines.lines().last()
    );
    for (i, l) in lines.lines().enumerate() {
        assert_eq!(l, (i + 1).to_string(), "line {} of the archive", i + 1);
    }
    lines.lines().count()
}

fn set_file(dir: &Path, suffix: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no *{suffix} in {}", dir.display()))
}

fn is_running(f: &Fixture, service: &str) -> bool {
    f.container(service).is_some()
}

e2e!(every_database_and_volume_of_the_stack, |engine| {
    let f = started(engine);
    fill(&f);
    let backups = f.path().join("backups");

    // Found: three databases, each shown.
    let status = f.budgie().args(["status", "--json"]).run().success().json();
    let dbs: Vec<&str> = status["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["service"].as_str().unwrap())
        .collect();
    assert_eq!(dbs, ["auth", "db", "shop"]);
    assert_eq!(status["databases"][2]["kind"], "mariadb");

    // `backup`: every database, one stamp, the service in each name;
    // `--service`: one.
    let doc = f.budgie().args(["backup", "--json"]).run().success().json();
    let files: Vec<String> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t["path"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    let stamp = &files[0][..f.name.len() + 16];
    for (file, service) in files.iter().zip(["auth", "db", "shop"]) {
        assert!(file.starts_with(stamp), "{file} vs {stamp}");
        assert!(file.ends_with(&format!(".{service}.sql")), "{file}");
    }
    let maria_dump = std::fs::read_to_string(backups.join(&files[2])).unwrap();
    assert!(maria_dump.contains("CREATE TABLE `items`"));
    assert!(
        maria_dump
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("-- Dump completed")
    );
    let one = f
        .budgie()
        .args(["backup", "--service", "auth", "--json"])
        .run()
        .success()
        .json();
    assert_eq!(one["service"], "auth");
    assert_eq!(one["database"], "authdb");

    // `backup --all`: a set, the app paused for the copy and running after.
    let before = all_checksums(&f);
    let set = f
        .budgie()
        .args(["backup", "--all", "--json"])
        .run()
        .success()
        .json();
    let members = set["files"].as_array().unwrap();
    assert_eq!(members.len(), 5, "{set}");
    let uploads = members.iter().find(|m| m["volume"] == "uploads").unwrap();
    assert_eq!(uploads["writers"], "app paused");
    let archived = lines_in_archive(Path::new(uploads["path"].as_str().unwrap()));
    let n = consecutive(&archived);
    assert!(n > 0);
    // The host directory: archived by budgie itself, in the same pause.
    let files_dir = f.path().join("files");
    let files = members
        .iter()
        .find(|m| m["directory"] == files_dir.display().to_string())
        .unwrap_or_else(|| panic!("no archive of {} in {set}", files_dir.display()));
    assert_eq!(files["writers"], "app paused");
    let files_archived = lines_in_archive(Path::new(files["path"].as_str().unwrap()));
    assert_eq!(
        consecutive(&files_archived),
        n,
        "both copies are of one moment"
    );
    assert!(is_running(&f, "app"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(set["set"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(manifest["members"].as_array().unwrap().len(), 5);
    f.budgie()
        .args(["backup", "list"])
        .run()
        .success()
        .stderr_has(&format!("directory {}", files_dir.display()));
    f.budgie()
        .args(["backup", "list"])
        .run()
        .success()
        .stderr_has("1 set; the newest restores with: budgie restore --set");

    // Changed afterwards, then the set restored: everything as it was.
    f.sql_at("db", "app", "appdb", "delete from orders where id > 10");
    f.sql_at("auth", "auth", "authdb", "drop table users");
    maria(&f, "update items set price = 0");
    std::thread::sleep(Duration::from_millis(300));
    f.budgie()
        .args(["restore", "--set", "latest", "--yes"])
        .run()
        .success()
        .stderr_has("restored: 3 databases, 1 volume and 1 host directory");
    assert_eq!(all_checksums(&f), before);
    let now_files = std::fs::read_to_string(files_dir.join("lines")).unwrap();
    assert!(
        now_files.starts_with(&files_archived),
        "the restored directory starts with the archive"
    );
    let aside: Vec<String> = std::fs::read_dir(f.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("budgie-"))
        .collect();
    assert!(aside.is_empty(), "left beside the directory: {aside:?}");
    // The app started again and appends to what the archive held.
    std::thread::sleep(Duration::from_millis(500));
    let now = f.in_volume("uploads", "cat /v/lines");
    assert!(
        now.starts_with(&archived),
        "the restored volume starts with the archive"
    );
    assert!(is_running(&f, "app"));

    // `clean` at a terminal: the app is stopped before its volume is
    // archived, the archive is exactly what the volume holds then, and
    // declining starts it again and deletes nothing.
    let mut pty = f.budgie_pty(&["clean"]);
    pty.exp_string("Type the project name").unwrap();
    let at_prompt = f.in_volume("uploads", "cat /v/lines");
    assert!(!is_running(&f, "app"), "the app is stopped at the prompt");
    let safety = set_file(&backups, "_pre-clean.uploads.tar.zst");
    assert_eq!(lines_in_archive(&safety), at_prompt);
    consecutive(&at_prompt);
    pty.send_line("no").unwrap();
    pty.exp_string("app stopped for the backup: running again")
        .unwrap();
    assert_eq!(exit_code(pty.process().wait().unwrap()), 3);
    assert!(is_running(&f, "app"));
    assert!(f.volume_exists(&format!("{}_uploads", f.name)));

    // `clean --yes`: a safety set from which everything comes back.
    let before = all_checksums(&f);
    let out = f.budgie().args(["clean", "--yes"]).run().success();
    let id = set_named(&out.stderr);
    assert!(id.ends_with("_pre-clean"), "{id}");
    let safety = set_file(&backups, "_pre-clean.uploads.tar.zst");
    let kept = lines_in_archive(&safety);
    consecutive(&kept);
    assert!(!f.volume_exists(&format!("{}_uploads", f.name)));
    f.budgie().arg("start").run().success();
    f.budgie()
        .args(["restore", "--set", &id, "--yes"])
        .run()
        .success();
    assert_eq!(all_checksums(&f), before);
    std::thread::sleep(Duration::from_millis(300));
    assert!(f.in_volume("uploads", "cat /v/lines").starts_with(&kept));
});

e2e!(a_set_with_a_changed_file_is_refused_whole, |engine| {
    let f = started(engine);
    fill(&f);
    let set = f
        .budgie()
        .args(["backup", "--all", "--json"])
        .run()
        .success()
        .json();
    let dump = set["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["service"] == "auth")
        .unwrap()["path"]
        .as_str()
        .unwrap()
        .to_string();
    // One byte changed in one member: the whole set is refused, nothing runs.
    let mut bytes = std::fs::read(&dump).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 1;
    std::fs::write(&dump, bytes).unwrap();
    f.sql_at("db", "app", "appdb", "create table marker(x int)");
    f.budgie()
        .args(["restore", "--set", "latest", "--yes"])
        .run()
        .failure()
        .stderr_has("is not the file the set recorded")
        .stderr_has("nothing was changed");
    assert_eq!(
        f.sql_at(
            "db",
            "app",
            "appdb",
            "select count(*) from pg_tables where tablename = 'marker'"
        ),
        "1"
    );
    // A MariaDB dump restored into a PostgreSQL database: refused by name.
    let maria_dump = set["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["service"] == "shop")
        .unwrap()["path"]
        .as_str()
        .unwrap()
        .to_string();
    f.budgie()
        .args(["restore", &maria_dump, "--service", "db", "--yes"])
        .run()
        .failure()
        .stderr_has("it is a MariaDB/MySQL dump, and database appdb of service db is PostgreSQL");
});

e2e!(
    a_mariadb_restore_cut_short_or_killed_leaves_the_current_database,
    |engine| {
        let f = started(engine);
        fill(&f);
        // Big enough that the load takes a while.
        maria(
            &f,
            "create table big(id int primary key, pad varchar(300)) engine=innodb; \
         insert into big select seq, repeat(md5(seq), 8) from seq_1_to_200000",
        );
        let restored = maria_checksums(&f);
        let doc = f
            .budgie()
            .args(["backup", "--service", "shop", "--json"])
            .run()
            .success()
            .json();
        let dump = PathBuf::from(doc["path"].as_str().unwrap());

        // The restore test loads it aside and counts every row.
        f.budgie()
            .args(["backup", "verify", dump.to_str().unwrap(), "--restore-test"])
            .run()
            .success()
            .stderr_has("2 tables, 201500 rows");
        assert_eq!(maria_leftovers(&f), "");

        maria(
            &f,
            "insert into items(sku, price) values ('after-backup', 1)",
        );
        let current = maria_checksums(&f);
        assert_ne!(current, restored);

        // Cut short: refused before anything is loaded.
        let bytes = std::fs::read(&dump).unwrap();
        let cut = f.path().join("cut.sql");
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
        f.budgie()
            .args([
                "restore",
                cut.to_str().unwrap(),
                "--service",
                "shop",
                "--yes",
            ])
            .run()
            .failure()
            .stderr_has("cut.sql");
        assert_eq!(maria_checksums(&f), current);
        assert_eq!(maria_leftovers(&f), "");

        // Killed mid-load: the current database as it was, and the next budgie
        // clears what the load left.
        let mut child = f
            .budgie()
            .args([
                "restore",
                dump.to_str().unwrap(),
                "--service",
                "shop",
                "--yes",
            ])
            .spawn();
        wait_for("the load into the scratch database", || {
            maria_root(
                &f,
                "select count(*) from information_schema.tables where table_schema like 'shopdb\\_budgie\\_restore\\_%' and table_name = 'big'",
            ) == "1"
        });
        std::thread::sleep(Duration::from_millis(300));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(maria_checksums(&f), current);
        f.budgie()
            .arg("status")
            .run()
            .success()
            .stderr_has("did not finish");
        assert_eq!(maria_leftovers(&f), "");
        assert_eq!(maria_checksums(&f), current);

        // Killed right after the swap: the restored tables stay, and the
        // set-aside copy goes because the pre-restore backup holds it.
        let out = f
            .budgie()
            .env("BUDGIE_CRASH_AT", "restore:swapped")
            .args([
                "restore",
                dump.to_str().unwrap(),
                "--service",
                "shop",
                "--yes",
            ])
            .run();
        assert_eq!(out.signal, Some(9), "{}", out.explain());
        assert_eq!(maria_checksums(&f), restored);
        assert!(maria_leftovers(&f).contains("shopdb_budgie_old_"));
        f.budgie()
            .arg("status")
            .run()
            .success()
            .stderr_has("did not finish");
        assert_eq!(maria_leftovers(&f), "");

        // And a restore that runs to its end.
        maria(&f, "drop table big");
        f.budgie()
            .args([
                "restore",
                dump.to_str().unwrap(),
                "--service",
                "shop",
                "--yes",
            ])
            .run()
            .success()
            .stderr_has("Restored database shopdb");
        assert_eq!(maria_checksums(&f), restored);
        assert_eq!(maria_leftovers(&f), "");

        // An image with only the mysql* names (MySQL, Percona, MariaDB
        // before 10.5): the dump goes through mysqldump.
        let c = f.container("shop").unwrap();
        f.engine_out(&[
            "exec",
            &c,
            "sh",
            "-c",
            "rm /usr/bin/mysqldump && mv /usr/bin/mariadb-dump /usr/bin/mysqldump",
        ]);
        let doc = f
            .budgie()
            .args(["backup", "--service", "shop", "--json"])
            .run()
            .success()
            .json();
        let text = std::fs::read_to_string(doc["path"].as_str().unwrap()).unwrap();
        assert!(text.contains("CREATE TABLE `big`"));
        assert!(text.trim_end().ends_with("-- Dump completed"));
    }
);
