//! PostgreSQL: everything budgie says to a PostgreSQL server, as argv for
//! `exec` in the database container — `psql`, `pg_restore`, the quoting of
//! names in SQL, the side databases a restore works with, and the checked,
//! one-transaction swap of a restored copy for the current database.
//!
//! Passwords travel as `-e PGPASSWORD` with the value in the child's
//! environment, never on a command line (DESIGN.md invariant 6); every
//! session budgie opens for a restore carries the application name
//! [`RESTORE_APP`], so that a later budgie can find and end the sessions an
//! interrupted restore left running.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::backup::verify::Format;
use crate::compose::{Database, DumpFormat, Secret};
use crate::engine::{Cmd, Engine};
use crate::error::{Error, Result};

/// The application name of budgie's restore sessions, so that a later
/// budgie can find and end the ones an interrupted restore left running.
pub const RESTORE_APP: &str = "budgie-restore";

/// The longest PostgreSQL identifier (NAMEDATALEN - 1).
const MAX_IDENT: usize = 63;

/// `pg_isready` in a running database container, quiet: exit 0 when the
/// server accepts connections.
///
/// Over TCP on purpose: the official image's entrypoint runs a temporary
/// server on the Unix socket only while it initializes the database, so a
/// socket probe can answer "ready" just before that server stops.
pub fn isready_command(engine: &Engine, container: &str, user: &str, database: &str) -> Cmd {
    engine.exec(
        container,
        false,
        false,
        &[],
        &[
            "pg_isready",
            "-q",
            "-h",
            "127.0.0.1",
            "-U",
            user,
            "-d",
            database,
        ],
    )
}

/// `pg_dump` of the database inside its container on stdout: plain SQL,
/// or the custom format (`-Fc`) when `format` says so (the directory
/// format is `pg_directory`'s). The password, when there is one, travels
/// as `-e PGPASSWORD` with the value in the child's environment — never on
/// a command line.
pub fn dump_command(engine: &Engine, container: &str, db: &Database, format: DumpFormat) -> Cmd {
    let env: Vec<(String, Secret)> = db
        .password
        .iter()
        .map(|p| ("PGPASSWORD".to_string(), p.clone()))
        .collect();
    let mut argv = vec!["pg_dump", "--no-password"];
    if format == DumpFormat::Custom {
        argv.push("-Fc");
    }
    argv.extend(["-U", &db.user, "-d", &db.name]);
    engine.exec(container, false, false, &env, &argv)
}

/// `"name"` with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with embedded quotes doubled.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `<db>_budgie_<kind>_<YYYYMMDDHHMMSS>`, shortened to fit an identifier.
pub fn side_name(db: &str, kind: &str, stamp: &str) -> String {
    crate::fsutil::fit_with_suffix(db, &format!("_budgie_{kind}_{stamp}"), MAX_IDENT)
}

/// Runs SQL through psql in the database container, as the database user,
/// connected to `dbname`. Returns psql's unaligned, tuples-only output.
pub fn psql(
    engine: &Engine,
    container: &str,
    db: &Database,
    dbname: &str,
    sql: &str,
) -> Result<String> {
    psql_cmd(engine, container, db, dbname, &["-c", sql]).read()
}

/// The password (never on a command line: `-e PGPASSWORD`, value in the
/// environment) and the application name that lets a later budgie find
/// the sessions of an interrupted restore (`crate::recover`).
pub fn secret_env(db: &Database) -> Vec<(String, Secret)> {
    session_env(db, RESTORE_APP)
}

pub fn session_env(db: &Database, app: &str) -> Vec<(String, Secret)> {
    let mut env: Vec<(String, Secret)> = db
        .password
        .iter()
        .map(|p| ("PGPASSWORD".to_string(), p.clone()))
        .collect();
    env.push(("PGAPPNAME".to_string(), Secret::new(app)));
    env
}

/// psql running `statements` in order, each its own `-c`, stopping at the
/// first that fails (ON_ERROR_STOP), connected to `dbname`.
pub fn psql_statements(
    engine: &Engine,
    container: &str,
    db: &Database,
    dbname: &str,
    statements: &[String],
) -> Cmd {
    let mut args: Vec<&str> = Vec::new();
    for statement in statements {
        args.extend(["-c", statement.as_str()]);
    }
    psql_cmd(engine, container, db, dbname, &args)
}

/// psql running `statements` on the maintenance database in a session
/// the engine starts detached (`exec -d`: the engine's client returns
/// once psql has started in the container). Its application name is not a
/// restore's: a later budgie's repair does not end it.
fn detached_psql(engine: &Engine, container: &str, db: &Database, statements: &[String]) -> Cmd {
    let mut cmd = psql_statements(engine, container, db, maintenance_db(db), statements);
    cmd.env = session_env(db, "budgie-drop");
    if let Some(pos) = cmd.argv.iter().position(|a| a == "exec") {
        cmd.argv.insert(pos + 1, "-d".into());
    }
    cmd
}

pub fn psql_cmd(
    engine: &Engine,
    container: &str,
    db: &Database,
    dbname: &str,
    extra: &[&str],
) -> Cmd {
    psql_cmd_stdin(engine, container, db, dbname, extra, !extra.contains(&"-c"))
}

pub fn psql_cmd_stdin(
    engine: &Engine,
    container: &str,
    db: &Database,
    dbname: &str,
    extra: &[&str],
    stdin: bool,
) -> Cmd {
    let mut args = vec![
        "psql",
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "--no-password",
        "-U",
        &db.user,
        "-d",
        dbname,
    ];
    args.extend_from_slice(extra);
    engine.exec(container, stdin, false, &secret_env(db), &args)
}

/// The command that loads a dump of `format` from stdin into `target`.
pub fn load_command(
    engine: &Engine,
    container: &str,
    db: &Database,
    target: &str,
    format: Format,
) -> Cmd {
    match format {
        Format::Custom | Format::Tar => engine.exec(
            container,
            true,
            false,
            &secret_env(db),
            &[
                "pg_restore",
                "--exit-on-error",
                "--single-transaction",
                "--no-password",
                "-U",
                &db.user,
                "-d",
                target,
            ],
        ),
        // The dump's quoting is read (by psql and by budgie's scan) with
        // standard_conforming_strings on, whatever the server's default.
        _ => psql_cmd_stdin(
            engine,
            container,
            db,
            target,
            &[
                "--single-transaction",
                "-c",
                "SET standard_conforming_strings = on",
                "-f",
                "-",
            ],
            true,
        ),
    }
}

/// `17.2 (Debian 17.2-1)` or `9.6.24` as PostgreSQL numbers them
/// (`server_version_num`: 170002, 90624).
pub fn version_num(text: &str) -> Option<u32> {
    let digits = text.split_whitespace().next()?;
    let mut parts = digits.split('.').map(|p| {
        let n: String = p.chars().take_while(char::is_ascii_digit).collect();
        n.parse::<u32>().ok()
    });
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    // No release numbers beyond these: anything else is not a version
    // (and must not overflow).
    if major > 1000 || minor > 9999 {
        return None;
    }
    Some(if major >= 10 {
        major * 10000 + minor
    } else {
        let patch = parts.next().flatten().unwrap_or(0);
        if minor > 99 || patch > 99 {
            return None;
        }
        major * 10000 + minor * 100 + patch
    })
}

/// A version number's major release, as users say it (`17`, `9.6`).
pub fn major_label(num: u32) -> String {
    if num >= 100000 {
        (num / 10000).to_string()
    } else {
        format!("{}.{}", num / 10000, num / 100 % 100)
    }
}

/// Whether a psql of this version (`VERSION_NUM`) knows `\restrict` (18,
/// and the releases of August 2025 on: 17.6, 16.10, 15.14, 14.19, 13.22).
pub fn knows_restrict(num: u32) -> bool {
    let (major, minor) = (num / 10000, num % 10000);
    match major {
        18.. => true,
        17 => minor >= 6,
        16 => minor >= 10,
        15 => minor >= 14,
        14 => minor >= 19,
        13 => minor >= 22,
        _ => false,
    }
}

/// The container's psql version and its server's (`VERSION_NUM`,
/// `SERVER_VERSION_NUM`), asked in one read-only psql call; None for what
/// it did not say.
pub fn versions(engine: &Engine, container: &str, db: &Database) -> (Option<u32>, Option<u32>) {
    let out = psql(
        engine,
        container,
        db,
        maintenance_db(db),
        "\\echo :VERSION_NUM :SERVER_VERSION_NUM",
    )
    .unwrap_or_default();
    let mut nums = out.split_whitespace().map(|n| n.parse::<u32>().ok());
    (nums.next().flatten(), nums.next().flatten())
}

/// What the current database holds: size in bytes and number of tables.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Current {
    pub bytes: u64,
    pub tables: u64,
}

pub fn describe_current(engine: &Engine, container: &str, db: &Database) -> Result<Current> {
    let out = psql(
        engine,
        container,
        db,
        &db.name,
        "select pg_database_size(current_database()), (select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema'))",
    )?;
    let mut parts = out.trim().split('|');
    let bytes = parts
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let tables = parts
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    Ok(Current { bytes, tables })
}

/// A scratch database that is dropped when this goes out of scope, unless
/// it was swapped in.
pub struct Scratch<'a> {
    engine: &'a Engine,
    container: String,
    db: &'a Database,
    pub name: String,
    armed: bool,
}

impl<'a> Scratch<'a> {
    /// Creates an empty database owned by the database user.
    pub fn create(
        engine: &'a Engine,
        container: &str,
        db: &'a Database,
        stamp: &str,
    ) -> Result<Scratch<'a>> {
        let name = side_name(&db.name, "restore", stamp);
        psql(
            engine,
            container,
            db,
            "postgres",
            &format!(
                "CREATE DATABASE {} OWNER {}",
                quote_ident(&name),
                quote_ident(&db.user)
            ),
        )
        .or_else(|_| {
            psql(
                engine,
                container,
                db,
                "template1",
                &format!(
                    "CREATE DATABASE {} OWNER {}",
                    quote_ident(&name),
                    quote_ident(&db.user)
                ),
            )
        })
        .map_err(|e| e.context("could not create the scratch database"))?;
        Ok(Scratch {
            engine,
            container: container.to_string(),
            db,
            name,
            armed: true,
        })
    }

    /// A new database copied from `template` by the server (`CREATE
    /// DATABASE ... TEMPLATE`, the files copied on PostgreSQL 15+), owned by
    /// the database user. Nobody may be connected to `template`.
    pub fn copy_of(
        engine: &'a Engine,
        container: &str,
        db: &'a Database,
        stamp: &str,
        template: &str,
    ) -> Result<Scratch<'a>> {
        let name = side_name(&db.name, "restore", stamp);
        let create = |strategy: &str| {
            psql(
                engine,
                container,
                db,
                maintenance_db(db),
                &format!(
                    "CREATE DATABASE {} TEMPLATE {}{strategy} OWNER {}",
                    quote_ident(&name),
                    quote_ident(template),
                    quote_ident(&db.user)
                ),
            )
        };
        // STRATEGY is PostgreSQL 15's; before, the files are always copied.
        create(" STRATEGY FILE_COPY")
            .or_else(|e| match e.message.contains("strategy") {
                true => create(""),
                false => Err(e),
            })
            .map_err(|e| e.context(format!("could not copy {template} into a scratch database")))?;
        Ok(Scratch {
            engine,
            container: container.to_string(),
            db,
            name,
            armed: true,
        })
    }

    /// Leaves the database alone from now on (it was swapped in).
    pub fn disarm(&mut self) {
        self.armed = false;
    }

    pub fn drop_now(&mut self) -> Result<()> {
        if !self.armed {
            return Ok(());
        }
        self.armed = false;
        drop_database(self.engine, &self.container, self.db, &self.name)
    }
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        let _ = self.drop_now();
    }
}

/// `DROP DATABASE ... WITH (FORCE)`, from the maintenance database.
pub fn drop_database(engine: &Engine, container: &str, db: &Database, name: &str) -> Result<()> {
    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name));
    psql(engine, container, db, maintenance_db(db), &sql)
        .or_else(|_| {
            // Before PostgreSQL 13 there is no FORCE.
            let sql = format!("DROP DATABASE IF EXISTS {}", quote_ident(name));
            psql(engine, container, db, maintenance_db(db), &sql)
        })
        .map(|_| ())
}

/// The database to connect to while renaming or dropping others.
pub fn maintenance_db(db: &Database) -> &'static str {
    if db.name == "postgres" {
        "template1"
    } else {
        "postgres"
    }
}

/// Drops the set-aside database without waiting: PostgreSQL's DROP
/// DATABASE forces a checkpoint that writes out the whole freshly restored
/// database, which costs as long as a good part of the load. The restore is
/// complete and committed before this runs; a drop that does not finish
/// leaves a `<db>_budgie_old_*` database, which is only the old data.
pub fn drop_in_background(
    engine: &Engine,
    container: &str,
    db: &Database,
    name: &str,
) -> Result<()> {
    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name));
    detached_psql(engine, container, db, &[sql])
        .read()
        .map(|_| ())
}

/// Runs `statements` in a detached psql ([`detached_psql`]) and does not
/// wait even for the engine's client: work the command's user need not
/// wait for (making a snapshot's ready copy). Nothing reports how it
/// ends; what reads its result checks it (`snapshot::list` counts a copy
/// only once it is complete and recorded).
pub fn in_background(engine: &Engine, container: &str, db: &Database, statements: &[String]) {
    // The client ends on its own moments later (budgie's SSH connection,
    // if any, persists after budgie: `engine::ssh`).
    let _ = detached_psql(engine, container, db, statements)
        .expression()
        .stdin_null()
        .stdout_null()
        .stderr_null()
        .unchecked()
        .start();
}

/// The SQL that follows a plain dump in the same psql session: commit the
/// load, check it, count its tables, and swap it in.
pub fn swap_trailer(db: &Database, scratch: &str, old: &str, expected: &[String]) -> String {
    let mut sql = String::from("\nCOMMIT;\n");
    for statement in check_and_swap_sql(db, scratch, old, expected) {
        sql.push_str(&statement);
        // psql meta-commands end at the line's end, SQL at the semicolon.
        sql.push_str(if statement.starts_with('\\') {
            "\n"
        } else {
            ";\n"
        });
    }
    sql
}

/// SQL that fails unless every table in `expected` exists.
pub fn check_tables_sql(expected: &[String]) -> String {
    let list = expected
        .iter()
        .map(|t| quote_literal(t))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "DO $budgie$ DECLARE missing text; BEGIN \
         SELECT string_agg(t, ', ') INTO missing FROM unnest(ARRAY[{list}]::text[]) AS t WHERE to_regclass(t) IS NULL; \
         IF missing IS NOT NULL THEN RAISE EXCEPTION 'the restored copy lacks tables the dump creates: %', missing; END IF; \
         END $budgie$"
    )
}

/// Prints `budgie-tables:<n>`, found again by [`table_count`] among
/// whatever else psql printed (a dump's `setval` calls print numbers too).
pub const COUNT_TABLES: &str = "select 'budgie-tables:' || count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')";

/// Checks a loaded scratch database on its own (for `--restore-test`):
/// every expected table exists. Returns the number of tables.
pub fn check_tables(
    engine: &Engine,
    container: &str,
    db: &Database,
    scratch: &str,
    expected: &[String],
) -> Result<u64> {
    let out = psql_cmd(
        engine,
        container,
        db,
        scratch,
        &["-c", &check_tables_sql(expected), "-c", COUNT_TABLES],
    )
    .read()?;
    Ok(table_count(&out))
}

/// In one psql session: checks the scratch copy (every table the dump
/// creates exists), then shuts the current database's sessions out and, in
/// one transaction, renames it aside and the scratch one into its place.
/// Returns the number of tables restored.
pub fn check_and_swap(
    engine: &Engine,
    container: &str,
    db: &Database,
    scratch: &str,
    old: &str,
    expected: &[String],
) -> Result<u64> {
    let statements = check_and_swap_sql(db, scratch, old, expected);
    let swapped = psql_statements(engine, container, db, scratch, &statements).read();
    match swapped {
        Ok(out) => Ok(table_count(&out)),
        Err(e) => {
            reopen(engine, container, db);
            Err(e
                .context("the restored copy was not swapped in; the current database is unchanged"))
        }
    }
}

/// Swaps in `copy`, a complete copy nobody may connect to (a snapshot's
/// ready copy), in one session on the maintenance database: the current
/// database closed, its sessions ended, the renames and the opening in one
/// transaction (as [`check_and_swap_sql`]); then the new database's
/// tables counted. Returns the count (0 when only the count failed: the
/// swap is done then).
pub fn swap_in_ready(
    engine: &Engine,
    container: &str,
    db: &Database,
    copy: &str,
    old: &str,
) -> Result<u64> {
    let mut statements = check_and_swap_sql(db, copy, old, &[]);
    // Not the check and count in the copy, nor the move to maintenance.
    statements.drain(..3);
    statements.push("SELECT 'budgie-swapped'".to_string());
    statements.push(format!("\\c {}", quote_ident(&db.name)));
    statements.push(COUNT_TABLES.to_string());
    let cmd = psql_statements(engine, container, db, maintenance_db(db), &statements);
    let out = cmd.output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() || stdout.lines().any(|l| l.trim() == "budgie-swapped") {
        return Ok(table_count(&stdout));
    }
    // The renames commit together, and they did not.
    reopen(engine, container, db);
    Err(cmd
        .failure(&out)
        .context("the copy was not swapped in; the current database is unchanged"))
}

/// In order, stopping at the first error (ON_ERROR_STOP), in a session
/// connected to the scratch copy:
/// 1. the check (every table the dump creates exists) and the table count;
/// 2. over to the maintenance database; no new sessions on the current
///    database (a pooled app would slip back in), committed;
/// 3. end the existing ones;
/// 4. both renames or neither, and connections back on.
pub fn check_and_swap_sql(
    db: &Database,
    scratch: &str,
    old: &str,
    expected: &[String],
) -> Vec<String> {
    let current = quote_ident(&db.name);
    vec![
        check_tables_sql(expected),
        COUNT_TABLES.to_string(),
        format!("\\c {}", maintenance_db(db)),
        format!("ALTER DATABASE {current} ALLOW_CONNECTIONS false"),
        format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname IN ({}, {}) AND pid <> pg_backend_pid()",
            quote_literal(&db.name),
            quote_literal(scratch)
        ),
        format!(
            "BEGIN; ALTER DATABASE {current} RENAME TO {}; ALTER DATABASE {} RENAME TO {current}; ALTER DATABASE {current} ALLOW_CONNECTIONS true; COMMIT",
            quote_ident(old),
            quote_ident(scratch)
        ),
    ]
}

/// The table count [`COUNT_TABLES`] printed, found among psql's output.
pub fn table_count(out: &str) -> u64 {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("budgie-tables:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Opens the current database to connections again after a failed swap:
/// whatever step failed, it is still in place under its name (the renames
/// are one transaction).
pub fn reopen(engine: &Engine, container: &str, db: &Database) {
    let sql = format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS true",
        quote_ident(&db.name)
    );
    let _ = psql(engine, container, db, maintenance_db(db), &sql);
}

/// Ends the sessions of earlier budgie restores and waits until they are
/// gone (at most 30 s).
pub fn end_restore_sessions(
    engine: &Engine,
    container: &str,
    db: &crate::compose::Database,
) -> Result<()> {
    let maint = maintenance_db(db);
    let app = quote_literal(RESTORE_APP);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = psql(
            engine,
            container,
            db,
            maint,
            &format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = {app} AND pid <> pg_backend_pid()"
            ),
        )?;
        if left.trim() == "0" {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::new(
                "sessions of an interrupted budgie restore do not end; try again in a minute",
            ));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A PostgreSQL database of service `db`, user `app`, for unit tests.
#[cfg(test)]
pub fn sample_db(name: &str) -> Database {
    Database {
        service: "db".into(),
        kind: crate::compose::DbKind::Postgres,
        detected_by: crate::compose::DetectedBy::Image,
        user: "app".into(),
        name: name.into(),
        password_var: None,
        admin_password: None,
        password: None,
        volume: None,
        data_dir: "/var/lib/postgresql/data".into(),
        storage: crate::compose::Storage::Container,
        problem: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("app"), "\"app\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }

    #[test]
    fn side_names_fit_an_identifier() {
        assert_eq!(
            side_name("app", "restore", "20260101120000"),
            "app_budgie_restore_20260101120000"
        );
        let long = "x".repeat(80);
        let n = side_name(&long, "old", "20260101120000");
        assert!(n.len() <= 63, "{n}");
        assert!(n.ends_with("_budgie_old_20260101120000"));
        let n = side_name(&"é".repeat(40), "old", "1");
        assert!(n.len() <= 63);
    }

    #[test]
    fn the_swap_after_a_dump_is_the_same_sql_as_on_its_own() {
        let db = sample_db("appdb");
        let statements = check_and_swap_sql(&db, "s", "o", &["public.t".into()]);
        let trailer = swap_trailer(&db, "s", "o", &["public.t".into()]);
        assert!(trailer.starts_with("\nCOMMIT;\n"));
        for st in &statements {
            assert!(trailer.contains(st.as_str()), "{st}");
        }
        assert!(trailer.contains("\n\\c postgres\n"), "{trailer}");
        assert!(trailer.ends_with("COMMIT;\n"), "{trailer}");
        assert_eq!(table_count("\n42\nbudgie-tables:7\n3\n"), 7);
    }

    #[test]
    fn the_table_check_quotes_what_the_dump_says() {
        let sql = check_tables_sql(&["public.a".into(), "\"Odd\".\"it's\"".into()]);
        assert!(
            sql.contains("ARRAY['public.a', '\"Odd\".\"it''s\"']"),
            "{sql}"
        );
    }

    #[test]
    fn versions_are_numbered_as_postgresql_numbers_them() {
        assert_eq!(version_num("17.2 (Debian 17.2-1.pgdg120+1)"), Some(170002));
        assert_eq!(version_num("15.18"), Some(150018));
        assert_eq!(version_num("9.6.24"), Some(90624));
        assert_eq!(version_num("18beta1"), Some(180000));
        assert_eq!(version_num("x"), None);
        // Found by the fuzzer: numbers no release has must not overflow.
        assert_eq!(version_num("44444444"), None);
        assert_eq!(version_num("9.444.1"), None);
        assert_eq!(version_num("9.6.4294967295"), None);
        assert_eq!(major_label(170002), "17");
        assert_eq!(major_label(90624), "9.6");
    }

    #[test]
    fn restrict_is_known_from_the_august_2025_releases_on() {
        for (version, knows) in [
            ("psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", true),
            ("psql (PostgreSQL) 15.13", false),
            ("psql (PostgreSQL) 17.6", true),
            ("psql (PostgreSQL) 17.5", false),
            ("psql (PostgreSQL) 16.10", true),
            ("psql (PostgreSQL) 16.9", false),
            ("psql (PostgreSQL) 18.0", true),
            ("psql (PostgreSQL) 13.22", true),
            ("psql (PostgreSQL) 12.22", false),
            ("not psql", false),
        ] {
            let num = version
                .strip_prefix("psql (PostgreSQL) ")
                .and_then(version_num)
                .unwrap_or(0);
            assert_eq!(knows_restrict(num), knows, "{version}");
        }
    }
}
