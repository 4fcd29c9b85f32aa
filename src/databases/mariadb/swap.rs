//! The swap's first half: the names, the scratch and old databases and the
//! loader account made, the dump loaded into the scratch database and what
//! it holds read back.

use serde::Serialize;

use crate::compose::Secret;
use crate::engine::{Cmd, Engine};
use crate::error::{Error, Result};

use super::client::*;

/// The names one restore works with (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Swap {
    /// The database being replaced (`C`).
    pub current: String,
    /// Where the dump is loaded (`S`).
    pub scratch: String,
    /// Where the previous tables go (`O`).
    pub old: String,
    /// The account that loads the dump (at `localhost`).
    pub loader: String,
    /// The marker table (in `S` before the commit point, in `O` after).
    pub marker: String,
    /// `YYYYMMDDHHMMSS`.
    pub stamp: String,
}

impl Swap {
    pub fn new(current: &str, stamp: &str) -> Swap {
        Swap {
            current: current.to_string(),
            scratch: side_name(current, "restore", stamp),
            old: side_name(current, "old", stamp),
            loader: format!("budgie_restore_{stamp}"),
            marker: format!("budgie_swap_{stamp}"),
            stamp: stamp.to_string(),
        }
    }

    /// `'budgie_restore_<stamp>'@'localhost'`
    pub fn loader_account(&self) -> String {
        format!("{}@'localhost'", quote_string(&self.loader))
    }

    /// The loader's login (its password comes from [`prepare`]).
    pub fn loader_login(&self, password: &Secret) -> Login {
        Login {
            user: self.loader.clone(),
            password: Some(password.clone()),
        }
    }

    /// The name a table or view of `C` steps aside to at the commit point.
    pub(super) fn hidden_prefix(&self) -> String {
        format!("budgie_old_{}_", self.stamp)
    }
}

/// The SQL expression that backtick-quotes the identifier `expr` evaluates to.
pub(super) fn q_expr(expr: &str) -> String {
    format!("CONCAT('`', REPLACE({expr}, '`', '``'), '`')")
}

/// The session settings of every script budgie runs for a swap.
pub(super) fn session_header() -> String {
    "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';\n\
     SET SESSION group_concat_max_len = 1073741824;\n\
     SET NAMES utf8mb4;\n"
        .to_string()
}

/// The privileges of the loader on `S`: everything a dump needs, no
/// EXECUTE (a dump never calls a routine), no GRANT OPTION.
const LOADER_PRIVILEGES: &str = "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, REFERENCES, INDEX, ALTER, CREATE TEMPORARY TABLES, LOCK TABLES, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER";

/// A password for the loader account: random, and with the upper case,
/// lower case, digit and punctuation that password-check plugins ask for.
pub fn loader_password() -> Result<Secret> {
    let hex = crate::fsutil::random_hex(16)?;
    Ok(Secret::new(format!("Bg7-{hex}")))
}

/// Step 1 (admin): `S` and `O` with `C`'s character set and collation
/// (`C` must exist: create it first, empty, to restore into a new
/// server), `C`'s database-level grants mirrored onto both, and the loader
/// account.
pub fn prepare_sql(swap: &Swap, password: &Secret) -> String {
    let c = quote_string(&swap.current);
    let s_grant = grant_db(&swap.scratch);
    let o_grant = grant_db(&swap.old);
    let mut sql = session_header();
    sql.push_str("DELIMITER $$\nBEGIN NOT ATOMIC\n");
    sql.push_str(&format!(
        "  DECLARE cs, co VARCHAR(64);\n  \
         IF NOT EXISTS (SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {c}) THEN\n    \
         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the database to restore into does not exist';\n  \
         END IF;\n  \
         SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME INTO cs, co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {c};\n  \
         EXECUTE IMMEDIATE CONCAT('CREATE DATABASE {} CHARACTER SET ', cs, ' COLLATE ', co);\n  \
         EXECUTE IMMEDIATE CONCAT('CREATE DATABASE {} CHARACTER SET ', cs, ' COLLATE ', co);\n",
        quote_ident(&swap.scratch).replace('\'', "''"),
        quote_ident(&swap.old).replace('\'', "''"),
    ));
    sql.push_str(&format!(
        "  FOR r IN (SELECT GRANTEE AS g, GROUP_CONCAT(PRIVILEGE_TYPE SEPARATOR ', ') AS p, MAX(IS_GRANTABLE) AS go FROM information_schema.SCHEMA_PRIVILEGES WHERE {c} LIKE TABLE_SCHEMA ESCAPE '\\\\' GROUP BY GRANTEE) DO\n    \
         EXECUTE IMMEDIATE CONCAT('GRANT ', r.p, ' ON {s}.* TO ', r.g, IF(r.go = 'YES', ' WITH GRANT OPTION', ''));\n    \
         EXECUTE IMMEDIATE CONCAT('GRANT ', r.p, ' ON {o}.* TO ', r.g, IF(r.go = 'YES', ' WITH GRANT OPTION', ''));\n  \
         END FOR;\n",
        s = s_grant.replace('\\', "\\\\").replace('\'', "''"),
        o = o_grant.replace('\\', "\\\\").replace('\'', "''"),
    ));
    sql.push_str("END$$\nDELIMITER ;\n");
    // The password reaches CREATE USER through a variable, so that the
    // statement a failure reports does not hold it.
    sql.push_str(&format!(
        "SET @budgie_pw = {};\n\
         EXECUTE IMMEDIATE CONCAT('CREATE USER {} IDENTIFIED BY ', QUOTE(@budgie_pw));\n\
         SET @budgie_pw = NULL;\n\
         GRANT {LOADER_PRIVILEGES} ON {s_grant}.* TO {};\n\
         GRANT SET USER ON *.* TO {};\n",
        quote_string(password.expose()),
        swap.loader_account().replace('\'', "''"),
        swap.loader_account(),
        swap.loader_account(),
    ));
    sql
}

/// Step 1, run: returns the loader's password (for [`load_command`]).
/// Fails, changing nothing that [`rollback`] does not undo, when `S` or `O`
/// exist already.
pub fn prepare(
    engine: &Engine,
    container: &str,
    tools: Tools,
    admin: &Login,
    swap: &Swap,
) -> Result<Secret> {
    let password = loader_password()?;
    run_sql(
        engine,
        container,
        tools,
        admin,
        None,
        &prepare_sql(swap, &password),
    )
    .map_err(|e| e.context("could not prepare the scratch database"))?;
    Ok(password)
}

/// Step 2: the client that loads a dump from stdin into `S`, as the
/// loader account (confined to `S`), `--binary-mode`.
pub fn load_command(
    engine: &Engine,
    container: &str,
    tools: Tools,
    swap: &Swap,
    password: &Secret,
) -> Cmd {
    client_command(
        engine,
        container,
        tools,
        &swap.loader_login(password),
        Some(&swap.scratch),
    )
}

/// Which database an object comes from: `S` (the restored copy) or `C`
/// (the current one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    New,
    Old,
}

impl Side {
    pub(super) fn word(self) -> &'static str {
        match self {
            Side::New => "new",
            Side::Old => "old",
        }
    }
}

/// A trigger, view, routine or event, as `SHOW CREATE` gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Definition {
    pub side: Side,
    /// `TRIGGER`, `VIEW`, `PROCEDURE`, `FUNCTION`, `PACKAGE`, `PACKAGE BODY`, `EVENT`.
    pub kind: String,
    pub name: String,
    pub sql_mode: String,
    pub collation_connection: String,
    /// Events only: the time zone their schedule is in.
    pub time_zone: String,
    /// `CREATE ...`, rewritten to `CREATE OR REPLACE ...` (and, for a
    /// previous event, `DISABLE`d): re-running it is harmless.
    pub statement: String,
}

/// What the scratch copy holds after the load.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Loaded {
    /// Its tables and sequences.
    pub tables: Vec<String>,
    /// The triggers, views, routines and events of both sides, in an order
    /// that re-creates them (triggers of a table in their firing order;
    /// a package before its body).
    pub definitions: Vec<Definition>,
}

impl Loaded {
    /// The check before the swap: every table the dump creates (from
    /// [`table_in_create_line`]) is in the copy. Returns the copy's table count.
    pub fn check(&self, expected: &[String]) -> Result<u64> {
        let missing = self.missing(expected);
        if missing.is_empty() {
            Ok(self.tables.len() as u64)
        } else {
            Err(Error::new(format!(
                "the restored copy lacks tables the dump creates: {}",
                missing.join(", ")
            )))
        }
    }

    /// The tables a dump creates that the copy lacks.
    pub fn missing<'a>(&self, expected: &'a [String]) -> Vec<&'a str> {
        expected
            .iter()
            .filter(|t| !self.tables.iter().any(|have| have == *t))
            .map(String::as_str)
            .collect()
    }
}

/// The capture block for one database: each object's name on a
/// `budgie-def` line, then its `SHOW CREATE` row.
pub(super) fn capture_block(db: &str, side: Side) -> String {
    let d = quote_string(db);
    let w = side.word();
    let show = |kind_expr: &str| {
        format!(
            "EXECUTE IMMEDIATE CONCAT('SHOW CREATE ', {kind_expr}, ' ', {});",
            q_expr("r.n")
        )
    };
    format!(
        "USE {db_q}$$\nBEGIN NOT ATOMIC\n  \
         FOR r IN (SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {d} ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER) DO\n    \
         SELECT 'budgie-def', '{w}', 'TRIGGER', r.n;\n    {t}\n  END FOR;\n  \
         FOR r IN (SELECT TABLE_NAME AS n FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {d} ORDER BY TABLE_NAME) DO\n    \
         SELECT 'budgie-def', '{w}', 'VIEW', r.n;\n    {v}\n  END FOR;\n  \
         FOR r IN (SELECT ROUTINE_NAME AS n, ROUTINE_TYPE AS k FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {d} ORDER BY ROUTINE_TYPE, ROUTINE_NAME) DO\n    \
         SELECT 'budgie-def', '{w}', r.k, r.n;\n    {p}\n  END FOR;\n  \
         FOR r IN (SELECT EVENT_NAME AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {d} ORDER BY EVENT_NAME) DO\n    \
         SELECT 'budgie-def', '{w}', 'EVENT', r.n;\n    {e}\n  END FOR;\n\
         END$$\n",
        db_q = quote_ident(db),
        t = show("'TRIGGER'"),
        v = show("'VIEW'"),
        p = show("r.k"),
        e = show("'EVENT'"),
    )
}

/// Step 3 (admin): the tables of `S`, and the definitions of `S` (new) and
/// `C` (previous). Read-only.
pub fn inspect_sql(swap: &Swap) -> String {
    let mut sql = session_header();
    sql.push_str(&format!(
        "SELECT 'budgie-table', TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_TYPE <> 'VIEW' ORDER BY TABLE_NAME;\n",
        quote_string(&swap.scratch)
    ));
    sql.push_str("DELIMITER $$\n");
    sql.push_str(&capture_block(&swap.scratch, Side::New));
    sql.push_str(&capture_block(&swap.current, Side::Old));
    sql.push_str("DELIMITER ;\n");
    sql
}

/// `CREATE ...` → `CREATE OR REPLACE ...` (every `SHOW CREATE` starts with
/// `CREATE `).
pub fn or_replace(statement: &str) -> String {
    match statement.strip_prefix("CREATE ") {
        Some(rest) if !rest.starts_with("OR REPLACE ") => format!("CREATE OR REPLACE {rest}"),
        _ => statement.to_string(),
    }
}

/// A `SHOW CREATE EVENT` statement with the event disabled (for the
/// previous copy, which must not run it): the status follows `ON
/// COMPLETION [NOT] PRESERVE`, before any comment or body.
pub fn disable_event(statement: &str) -> String {
    for head in [" ON COMPLETION NOT PRESERVE ", " ON COMPLETION PRESERVE "] {
        if let Some(at) = statement.find(head) {
            let after = at + head.len();
            let rest = &statement[after..];
            for status in ["ENABLE", "DISABLE ON SLAVE"] {
                if let Some(tail) = rest.strip_prefix(status)
                    && (tail.is_empty() || tail.starts_with(' '))
                {
                    return format!("{}DISABLE{tail}", &statement[..after]);
                }
            }
            return statement.to_string();
        }
    }
    statement.to_string()
}

/// Parses [`inspect_sql`]'s output.
pub fn parse_inspect(out: &str) -> Result<Loaded> {
    let mut loaded = Loaded::default();
    let mut pending: Option<(Side, String, String)> = None;
    for line in out.lines() {
        let fields: Vec<String> = line.split('\t').map(unescape_batch).collect();
        if let Some((side, kind, name)) = pending.take() {
            // The SHOW CREATE row: which column is what depends on the kind.
            let col = |i: usize| fields.get(i).cloned().unwrap_or_default();
            let (sql_mode, statement, collation, zone) = match kind.as_str() {
                "VIEW" => (String::new(), col(1), col(3), String::new()),
                "TRIGGER" => (col(1), col(2), col(4), String::new()),
                "EVENT" => (col(1), col(3), col(5), col(2)),
                _ => (col(1), col(2), col(4), String::new()),
            };
            if statement.is_empty() || statement == "NULL" {
                return Err(Error::new(format!(
                    "cannot read the definition of {} {name}: SHOW CREATE gave nothing (missing privileges?)",
                    kind.to_lowercase()
                )));
            }
            let mut statement = or_replace(&statement);
            if kind == "EVENT" && side == Side::Old {
                statement = disable_event(&statement);
            }
            loaded.definitions.push(Definition {
                side,
                kind,
                name,
                sql_mode,
                collation_connection: collation,
                time_zone: zone,
                statement,
            });
            continue;
        }
        match fields.first().map(String::as_str) {
            Some("budgie-table") => {
                if let Some(t) = fields.get(1) {
                    loaded.tables.push(t.clone());
                }
            }
            Some("budgie-def") if fields.len() >= 4 => {
                let side = if fields[1] == "old" {
                    Side::Old
                } else {
                    Side::New
                };
                pending = Some((side, fields[2].clone(), fields[3].clone()));
            }
            _ => {}
        }
    }
    if let Some((_, kind, name)) = pending {
        return Err(Error::new(format!(
            "no definition came back for {} {name}",
            kind.to_lowercase()
        )));
    }
    Ok(loaded)
}

/// Step 3, run.
pub fn inspect(
    engine: &Engine,
    container: &str,
    tools: Tools,
    admin: &Login,
    swap: &Swap,
) -> Result<Loaded> {
    let out = run_sql(engine, container, tools, admin, None, &inspect_sql(swap))
        .map_err(|e| e.context("could not inspect the restored copy"))?;
    parse_inspect(&out)
}
