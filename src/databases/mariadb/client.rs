//! Talking to the server: the client programs, accounts, the dump and
//! readiness commands, quoting, and SQL scripts run through the client.

use serde::Serialize;

use crate::compose::{Database, Secret};
use crate::engine::{Cmd, Engine};
use crate::error::Result;

/// The longest MariaDB/MySQL identifier (database, table, routine...).
pub const MAX_IDENT: usize = 64;

/// How long the swap's `RENAME TABLE` waits for other sessions' locks on
/// the tables (`lock_wait_timeout`) before the restore gives up, unchanged.
pub const SWAP_LOCK_WAIT_SECS: u32 = 30;

/// The client's and the dump tool's packet limit: the largest allowed
/// (1 GiB), so that the client is never what refuses a big row.
const MAX_PACKET: &str = "1073741824";

/// Which client programs the container has, and which server dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tools {
    pub client: &'static str,
    pub dump: &'static str,
    pub admin: &'static str,
    /// MySQL or Percona rather than MariaDB: the dump needs
    /// `--set-gtid-purged=OFF`, and restores are not supported.
    pub mysql: bool,
}

impl Tools {
    /// MariaDB 10.5 and later (the official `mariadb` image; 11.x has only these names).
    pub const MARIADB: Tools = Tools {
        client: "mariadb",
        dump: "mariadb-dump",
        admin: "mariadb-admin",
        mysql: false,
    };
    /// MariaDB images older than 10.5, which have only the `mysql*` names.
    pub const MARIADB_MYSQL_NAMES: Tools = Tools {
        client: "mysql",
        dump: "mysqldump",
        admin: "mysqladmin",
        mysql: false,
    };
    /// MySQL and Percona (`mysql`, `percona`, bitnami's mysql).
    pub const MYSQL: Tools = Tools {
        client: "mysql",
        dump: "mysqldump",
        admin: "mysqladmin",
        mysql: true,
    };

    /// The tools, from what `mysqldump --version` printed (when
    /// `mariadb-dump` is missing): MariaDB's says `MariaDB`.
    pub fn from_mysqldump_version(out: &str) -> Tools {
        if out.contains("MariaDB") {
            Tools::MARIADB_MYSQL_NAMES
        } else {
            Tools::MYSQL
        }
    }
}

/// Which dump tool the container has: `mariadb-dump`, else `mysqldump`
/// (MySQL, Percona, MariaDB before 10.5). Runs `--version`, read-only.
/// Asked once per container and budgie run (each ask is an `exec`).
pub fn detect_tools(engine: &Engine, container: &str) -> Result<Tools> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static SEEN: OnceLock<Mutex<HashMap<String, Tools>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    if let Some(t) = seen.lock().ok().and_then(|m| m.get(container).copied()) {
        return Ok(t);
    }
    let tools = ask_tools(engine, container)?;
    if let Ok(mut m) = seen.lock() {
        m.insert(container.to_string(), tools);
    }
    Ok(tools)
}

fn ask_tools(engine: &Engine, container: &str) -> Result<Tools> {
    let mariadb = engine.exec(container, false, false, &[], &["mariadb-dump", "--version"]);
    if mariadb.read().is_ok() {
        return Ok(Tools::MARIADB);
    }
    let mysql = engine.exec(container, false, false, &[], &["mysqldump", "--version"]);
    match mysql.read() {
        Ok(out) => Ok(Tools::from_mysqldump_version(&out)),
        Err(e) => Err(e.context(format!(
            "the database container {container} has neither mariadb-dump nor mysqldump"
        ))),
    }
}

/// An account and its password.
#[derive(Debug, Clone)]
pub struct Login {
    pub user: String,
    pub password: Option<Secret>,
}

impl Login {
    /// The database's own account (`MARIADB_USER`, or root).
    pub fn of(db: &Database) -> Login {
        Login {
            user: db.user.clone(),
            password: db.password.clone(),
        }
    }

    /// `MYSQL_PWD` for the exec's environment (the clients read it; the
    /// value never appears in argv).
    pub fn env(&self) -> Vec<(String, Secret)> {
        self.password
            .iter()
            .map(|p| ("MYSQL_PWD".to_string(), p.clone()))
            .collect()
    }
}

/// `mariadb-admin ping` in a running database container, quiet: exit 0 when
/// the server answers (also when it refuses the login: it is up).
///
/// Over TCP on purpose: the official image (and the test image) initialise
/// the database with a temporary server started with `--skip-networking`,
/// which answers on the socket only; a socket probe would call it ready
/// just before it stops. Port 3306, the images' only port.
pub fn isready_command(engine: &Engine, container: &str, tools: Tools, db: &Database) -> Cmd {
    let user = format!("--user={}", db.user);
    engine.exec(
        container,
        false,
        false,
        &Login::of(db).env(),
        &[
            tools.admin,
            "--protocol=TCP",
            "--host=127.0.0.1",
            "--port=3306",
            "--connect-timeout=2",
            "--silent",
            &user,
            "ping",
        ],
    )
}

/// The dump tool's arguments for the one database `db.name` (see the module
/// documentation), without the program name; for a service that names no
/// database, every database its account owns (`--all-databases`, one part
/// per database: `sections`).
///
/// - `--single-transaction`: one consistent InnoDB snapshot, no locks
///   (MyISAM/Aria tables are not transactional: not consistent);
/// - `--routines --triggers --events`: every object of the database;
/// - no `--databases`: no `CREATE DATABASE`/`USE`, loadable under any name;
/// - `--hex-blob`: binary columns as hex literals, so the file is valid
///   text (no NUL bytes or invalid UTF-8) — and dumps faster (tried);
/// - `--default-character-set=utf8mb4`: the default of MariaDB's tool, but
///   MySQL 5.7's is utf8mb3, which loses 4-byte characters;
/// - `--skip-dump-date`: the same data gives the same file (the trailer is
///   then `-- Dump completed`; the file's name and metadata keep the date);
/// - `--no-tablespaces`: MySQL 8 refuses a dump without the PROCESS
///   privilege otherwise; NDB tablespaces are nothing budgie restores;
/// - `--max-allowed-packet=1G`: a big row must not fail the dump;
/// - MySQL only: `--set-gtid-purged=OFF`, else a GTID server's dump sets
///   `GTID_PURGED`, which fails to load elsewhere.
///
/// Not `--skip-comments` or `--compact`: they drop the trailer.
pub fn dump_args(tools: Tools, db: &Database) -> Vec<String> {
    let mut args: Vec<String> = [
        "--single-transaction",
        "--routines",
        "--triggers",
        "--events",
        "--hex-blob",
        "--default-character-set=utf8mb4",
        "--skip-dump-date",
        "--no-tablespaces",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--max-allowed-packet={MAX_PACKET}"));
    if tools.mysql {
        args.push("--set-gtid-purged=OFF".into());
    }
    args.push(format!("--user={}", db.user));
    if db.all_databases() {
        // Every database the account can see, each in its own part
        // (`USE`), the server's own schemas left out; MySQL's tool has no
        // `--ignore-database` and also dumps `mysql` (accounts, grants).
        args.push("--all-databases".into());
        if !tools.mysql {
            args.push("--ignore-database=mysql".into());
        }
        return args;
    }
    args.push("--".into());
    args.push(db.name.clone());
    args
}

/// The dump of `db.name` inside its container, SQL on stdout, the password
/// as `-e MYSQL_PWD` with its value in the environment.
pub fn dump_command(engine: &Engine, container: &str, tools: Tools, db: &Database) -> Cmd {
    let args = dump_args(tools, db);
    let mut argv: Vec<&str> = vec![tools.dump];
    argv.extend(args.iter().map(String::as_str));
    engine.exec(container, false, false, &Login::of(db).env(), &argv)
}

/// `` `name` `` with embedded backticks doubled.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `'text'` for the SQL budgie writes (the session's `sql_mode` has no
/// `NO_BACKSLASH_ESCAPES`: budgie's scripts set it): quotes doubled,
/// backslashes and NUL escaped.
pub fn quote_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Text as a hex literal converted to utf8mb4: arbitrary text (a routine's
/// body) passes through the client and any `sql_mode` unchanged.
pub fn hex_string(text: &str) -> String {
    if text.is_empty() {
        return "''".to_string();
    }
    let mut hex = String::with_capacity(text.len() * 2);
    for b in text.as_bytes() {
        hex.push_str(&format!("{b:02X}"));
    }
    format!("CONVERT(X'{hex}' USING utf8mb4)")
}

/// A database name as it must be written in `GRANT ... ON db.*`, where `_`
/// and `%` are wildcards: escaped, so that the grant is for this one name.
pub fn grant_db(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        match c {
            '\\' | '_' | '%' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    quote_ident(&out)
}

/// `text` as a LIKE pattern that matches only itself.
pub fn like_exact(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '\\' | '_' | '%') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `<db>_budgie_<kind>_<stamp>`, shortened to fit an identifier (64
/// characters; MariaDB counts characters, but budgie keeps to 64 bytes so
/// that the on-disk name fits too).
pub fn side_name(db: &str, kind: &str, stamp: &str) -> String {
    crate::fsutil::fit_with_suffix(db, &format!("_budgie_{kind}_{stamp}"), MAX_IDENT)
}

/// The table (or sequence) a dump line creates: mariadb-dump writes
/// ``CREATE TABLE `name` (`` and ``CREATE SEQUENCE `name` ...`` at the
/// start of a line (a view's stand-in is ``/*!50001 CREATE VIEW``, not
/// matched). The name comes back unquoted. For the check that the scratch
/// copy holds every table the dump creates.
pub fn table_in_create_line(line: &[u8]) -> Option<String> {
    let rest = [
        &b"CREATE TABLE "[..],
        b"CREATE TABLE IF NOT EXISTS ",
        b"CREATE SEQUENCE ",
        b"CREATE SEQUENCE IF NOT EXISTS ",
    ]
    .iter()
    .filter_map(|lead| line.strip_prefix(*lead))
    .min_by_key(|rest| rest.len())?;
    let (name, _) = backtick_ident(rest)?;
    String::from_utf8(name).ok()
}

/// A `` `quoted` `` identifier at the start of `text` (backticks doubled
/// inside): its name, and what follows the closing backtick. None without
/// one, or when it does not close.
pub fn backtick_ident(text: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let rest = text.strip_prefix(b"`")?;
    let mut name = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        if rest[i] == b'`' {
            if rest.get(i + 1) == Some(&b'`') {
                name.push(b'`');
                i += 2;
                continue;
            }
            return Some((name, &rest[i + 1..]));
        }
        name.push(rest[i]);
        i += 1;
    }
    None
}

/// One field of the client's `--batch` output, unescaped (`\n`, `\t`,
/// `\0`, `\\`).
pub fn unescape_batch(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The client reading an SQL script on stdin, as `login`, tab-separated
/// output without headers. `--binary-mode`: no client commands but
/// `DELIMITER` (no `system`, `source`...), no `\r\n` translation; the
/// failing statement is not echoed (a dump's can be megabytes; `--loose-`:
/// clients that lack the option ignore it).
pub fn client_command(
    engine: &Engine,
    container: &str,
    tools: Tools,
    login: &Login,
    database: Option<&str>,
) -> Cmd {
    let user = format!("--user={}", login.user);
    let packet = format!("--max-allowed-packet={MAX_PACKET}");
    let mut args: Vec<&str> = vec![
        tools.client,
        "--binary-mode",
        "--batch",
        "--skip-column-names",
        "--default-character-set=utf8mb4",
        "--loose-skip-print-query-on-error",
        &packet,
        &user,
    ];
    let db_arg = database.map(|d| format!("--database={d}"));
    if let Some(d) = &db_arg {
        args.push(d);
    }
    engine.exec(container, true, false, &login.env(), &args)
}

/// Runs an SQL script through the client in the database container (on
/// stdin) and returns its output. The first error stops it.
pub fn run_sql(
    engine: &Engine,
    container: &str,
    tools: Tools,
    login: &Login,
    database: Option<&str>,
    script: &str,
) -> Result<String> {
    client_command(engine, container, tools, login, database).read_input(script.as_bytes().to_vec())
}

/// The lines of `run_sql` output whose first field is `tag`, split into
/// unescaped fields (the tag removed).
pub(super) fn tagged<'a>(out: &'a str, tag: &'a str) -> impl Iterator<Item = Vec<String>> + 'a {
    out.lines().filter_map(move |l| {
        let mut fields = l.split('\t');
        (fields.next() == Some(tag)).then(|| fields.map(unescape_batch).collect())
    })
}

/// The server's own schemas, never a user's data (an SQL list).
pub const SYSTEM_SCHEMAS: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

/// Size in bytes (data and indexes) and number of tables of `db.name` (of
/// every database the account sees, for a service that names none), as
/// the database's own account.
pub fn describe_current(
    engine: &Engine,
    container: &str,
    tools: Tools,
    db: &Database,
) -> Result<(u64, u64)> {
    let schema = if db.all_databases() {
        let list: Vec<String> = SYSTEM_SCHEMAS.iter().map(|s| quote_string(s)).collect();
        format!("NOT IN ({})", list.join(", "))
    } else {
        format!("= {}", quote_string(&db.name))
    };
    let sql = format!(
        "SELECT 'budgie-current', COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0), COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA {schema} AND TABLE_TYPE <> 'VIEW';\n"
    );
    let out = run_sql(engine, container, tools, &Login::of(db), None, &sql)?;
    let row = tagged(&out, "budgie-current").next().unwrap_or_default();
    let field = |i: usize| row.get(i).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    Ok((field(0), field(1)))
}

/// `DROP DATABASE IF EXISTS`.
pub fn drop_database_sql(name: &str) -> String {
    format!("DROP DATABASE IF EXISTS {};\n", quote_ident(name))
}

/// The server's version, e.g. `10.11.19-MariaDB-0+deb12u1`; in the same
/// call, `db.name` is created empty if it does not exist (a restore copies
/// its character set; a fresh server may not have it yet).
pub fn server_version(
    engine: &Engine,
    container: &str,
    tools: Tools,
    login: &Login,
    db: &Database,
) -> Result<String> {
    let out = run_sql(
        engine,
        container,
        tools,
        login,
        None,
        &format!(
            "SELECT 'budgie-version', VERSION();\nCREATE DATABASE IF NOT EXISTS {};\n",
            quote_ident(&db.name)
        ),
    )?;
    Ok(tagged(&out, "budgie-version")
        .next()
        .and_then(|r| r.into_iter().next())
        .unwrap_or_default())
}

/// Whether budgie can restore into a server of this version: MariaDB 10.6
/// or later (crash-safe multi-table RENAME TABLE). The error says why not.
pub fn restore_support(version: &str) -> std::result::Result<(), String> {
    if !version.contains("MariaDB") {
        return Err(format!(
            "budgie restores MariaDB databases only; this server is MySQL or Percona ({version}): load the dump yourself with `mysql`"
        ));
    }
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    if (major, minor) < (10, 6) {
        return Err(format!(
            "budgie restores into MariaDB 10.6 or later (atomic RENAME TABLE); this server is {version}"
        ));
    }
    Ok(())
}
