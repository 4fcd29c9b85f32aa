//! End-to-end, both engines: a MariaDB service that names no database
//! (root only, as many stacks run it). budgie backs up every database of
//! the account in one dump, one part per database, and restores each part
//! into its own database through the scratch-and-swap; the gate's safety
//! dump before `clean` is such a dump, and everything comes back from it
//! into a new, empty server.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::e2e;
use crate::support::*;

const ROOT_ONLY: &str = r#"
services:
  maria:
    image: ${BUDGIE_MARIADB_IMAGE}
    environment:
      MARIADB_ROOT_PASSWORD: root-pw
    volumes: [mariadata:/var/lib/mysql]
volumes:
  mariadata:
"#;

/// The two databases the test keeps (one with a name that needs quoting).
const DATABASES: [&str; 2] = ["blog", "shop-2"];

fn root(f: &Fixture, sql: &str) -> String {
    f.maria_sql("maria", ("root", "root-pw"), None, sql)
}

/// Every table of the two databases with its rows and checksum, and the
/// databases that are not the server's own or budgie's.
fn state(f: &Fixture) -> (BTreeMap<String, String>, String) {
    let mut sums = BTreeMap::new();
    for db in DATABASES {
        let tables = root(
            f,
            &format!(
                "select table_name from information_schema.tables where table_schema = '{db}' order by 1"
            ),
        );
        for t in tables.lines() {
            let sum = root(f, &format!("checksum table `{db}`.`{t}` extended"));
            let rows = root(f, &format!("select count(*) from `{db}`.`{t}`"));
            let sum = sum.split_whitespace().last().unwrap_or("").to_string();
            sums.insert(format!("{db}.{t}"), format!("{rows} rows, checksum {sum}"));
        }
    }
    let dbs = root(
        f,
        "select group_concat(schema_name order by 1) from information_schema.schemata \
         where schema_name not in ('mysql', 'information_schema', 'performance_schema', 'sys')",
    );
    (sums, dbs)
}

fn leftovers(f: &Fixture) -> String {
    root(
        f,
        "select schema_name from information_schema.schemata where schema_name like '%budgie%' \
         union all select concat('user ', user) from mysql.global_priv where user like 'budgie%'",
    )
}

fn text_of(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let plain = if path.to_string_lossy().ends_with(".zst") {
        zstd::decode_all(&bytes[..]).unwrap()
    } else {
        bytes
    };
    String::from_utf8_lossy(&plain).into_owned()
}

e2e!(every_database_of_a_service_that_names_none, |engine| {
    let f = Fixture::new(engine).compose(ROOT_ONLY);
    f.budgie().arg("start").run().success();
    root(
        &f,
        "create database blog; use blog; create table posts(id int primary key, title text); \
         insert into posts select seq, concat('post ', seq) from seq_1_to_500; \
         create view recent as select * from posts where id > 490; \
         create database `shop-2`; use `shop-2`; create table items(sku varchar(20) primary key, price int); \
         insert into items values ('a', 1), ('b', 2)",
    );
    let before = state(&f);
    assert_eq!(before.1, "blog,shop-2");

    // Every command says what the service's database is.
    let status = f.budgie().args(["status", "--json"]).run().success().json();
    assert_eq!(
        status["databases"][0]["database"], "(every database of root)",
        "{status}"
    );
    let doc = f.budgie().args(["backup", "--json"]).run().success().json();
    let dump = PathBuf::from(doc["path"].as_str().unwrap());
    let text = text_of(&dump);
    assert!(
        text.contains("USE `blog`;") && text.contains("USE `shop-2`;"),
        "one part per database"
    );
    assert!(
        !text.contains("USE `mysql`;"),
        "not the server's own schema"
    );
    f.budgie()
        .args(["backup", "verify", dump.to_str().unwrap(), "--restore-test"])
        .run()
        .success()
        .stderr_has("2 tables, 502 rows");
    assert_eq!(leftovers(&f), "");
    assert_eq!(state(&f), before, "a restore test changes nothing");

    // Changed since: both databases come back, each by its own swap.
    root(
        &f,
        "delete from blog.posts where id < 100; drop table `shop-2`.items",
    );
    assert_ne!(state(&f), before);
    let out = f
        .budgie()
        .args(["restore", dump.to_str().unwrap(), "--yes", "--json"])
        .run()
        .success();
    let docs = out.json();
    let restored: Vec<&str> = docs
        .as_array()
        .expect("a list, one per database")
        .iter()
        .map(|d| d["database"].as_str().unwrap())
        .collect();
    assert_eq!(restored, DATABASES);
    assert_eq!(state(&f), before);
    assert_eq!(leftovers(&f), "");

    // A one-database dump does not say where it goes: refused, unchanged.
    let c = f.container("maria").unwrap();
    let one = f.engine_out(&[
        "exec",
        "-e",
        "MYSQL_PWD=root-pw",
        &c,
        "mariadb-dump",
        "-u",
        "root",
        "blog",
    ]);
    let one_file = f.path().join("blog-only.sql");
    std::fs::write(&one_file, one).unwrap();
    f.budgie()
        .args(["restore", one_file.to_str().unwrap(), "--yes"])
        .run()
        .failure()
        .stderr_has("does not say which")
        .stderr_has("x-budgie.databases.maria.name");
    assert_eq!(state(&f), before);

    // `clean` takes one safety dump of every database first; from it, a
    // new empty server gets them all back.
    f.budgie().args(["clean", "--yes"]).run().success();
    let safety = f
        .backups()
        .into_iter()
        .find(|n| n.contains("_pre-clean") && n.contains(".sql") && !n.ends_with(".meta.json"))
        .expect("a safety dump before clean");
    let safety = f.path().join("backups").join(safety);
    let text = text_of(&safety);
    assert!(text.contains("USE `blog`;") && text.contains("USE `shop-2`;"));
    f.budgie().arg("start").run().success();
    assert_eq!(state(&f).1, "NULL", "a new server holds no database");
    f.budgie()
        .args(["restore", safety.to_str().unwrap(), "--yes"])
        .run()
        .success()
        .stderr_has("blog")
        .stderr_has("shop-2");
    assert_eq!(state(&f), before);
    assert_eq!(leftovers(&f), "");
});
