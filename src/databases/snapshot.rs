//! Snapshots of a PostgreSQL database: a copy the server makes itself
//! (`CREATE DATABASE <db>_budgie_snap_<name> TEMPLATE <db> STRATEGY
//! FILE_COPY`, plain `TEMPLATE` before PostgreSQL 15), in the time it takes
//! to copy the files, where a dump and a restore take minutes.
//!
//! - A copy needs the source database to itself: the database is closed to
//!   new connections, its sessions are ended, the copy is made, and it is
//!   opened again whatever happened (the app sees its connections end and
//!   reconnects; budgie says how many it ended). A budgie killed meanwhile
//!   leaves a journal: the next command opens the database again and drops
//!   the half-made copy (`crate::recover`). The copy is made under a name
//!   of its own (`<db>_budgie_taking_<stamp>`) and renamed to the
//!   snapshot's with its record in one transaction, so that repair only
//!   ever drops this run's copy, never a snapshot of the same name.
//! - A ready copy (`<db>_budgie_copy_<name>`) of the newest snapshot is
//!   made in the background when the volume has room for it, so that
//!   `snapshot restore` renames it in instead of copying while the app
//!   waits; the restore makes the next one, in the room the used one left.
//!   One per database at most: a new one replaces the others.
//! - The snapshot's record (name, created, size, source database, server
//!   version) is the snapshot database's comment: it lives and dies with
//!   the cluster, so it survives a lost backup directory, and the volume's
//!   deletion takes it along.
//! - A snapshot is closed to connections: nobody works in it by mistake.
//! - Snapshots live in the database's volume: they are not backups.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::compose::Database;
use crate::databases::postgres::{
    maintenance_db, psql, psql_cmd_stdin, quote_ident, quote_literal, reopen,
};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// What a snapshot database's name holds between the database's name and
/// the snapshot's.
pub const MARK: &str = "_budgie_snap_";
/// What a ready copy's name holds instead (as long as [`MARK`], so that
/// every snapshot name fits both).
pub const COPY_MARK: &str = "_budgie_copy_";
/// PostgreSQL's longest name, in bytes.
const MAX_IDENT: usize = 63;
/// The room kept free beside a new copy: a tenth of its size, at least
/// 64 MiB.
const MARGIN_MIN: u64 = 64 << 20;

/// A snapshot, as `snapshot list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub name: String,
    /// The database that holds it.
    pub database: String,
    /// When it was taken (RFC 3339), from its record.
    pub created: Option<String>,
    pub bytes: u64,
    /// The database it is a copy of.
    pub source: String,
    pub server_version: Option<String>,
    /// The database of its ready copy, when one is made.
    pub ready_copy: Option<String>,
    /// The ready copy's size, 0 when there is none.
    pub copy_bytes: u64,
}

impl Snapshot {
    /// What it takes in the volume, its ready copy included.
    pub fn disk_bytes(&self) -> u64 {
        self.bytes + self.copy_bytes
    }
}

/// What budgie reads of the record kept as the snapshot database's
/// comment: the session's `json_build_object` in [`SCRIPT`] writes
/// `budgie_snapshot`, `name`, `created`, `bytes`, `source` and
/// `server_version`.
#[derive(Debug, Deserialize)]
struct Record {
    created: String,
    source: String,
    server_version: String,
}

/// The database that holds snapshot `name` of `db`.
pub fn database_of(db: &str, name: &str) -> String {
    format!("{db}{MARK}{name}")
}

/// The database of snapshot `name`'s ready copy.
pub fn copy_of(db: &str, name: &str) -> String {
    format!("{db}{COPY_MARK}{name}")
}

/// The name a snapshot's copy has until it is complete and recorded.
pub fn taking_name(db: &str, stamp: &str) -> String {
    crate::databases::postgres::side_name(db, "taking", stamp)
}

/// `prefix` as a LIKE pattern (its `\`, `_` and `%` literal).
fn like_prefix(prefix: &str) -> String {
    prefix
        .replace('\\', "\\\\")
        .replace('_', "\\_")
        .replace('%', "\\%")
}

/// Checks a snapshot name: letters, digits, `_` and `-`, starting with a
/// letter or digit, short enough for PostgreSQL's 63-byte names.
pub fn check_name(db: &str, name: &str) -> Result<()> {
    let room = MAX_IDENT.saturating_sub(db.len() + MARK.len());
    let fine = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !fine {
        return Err(Error::usage(format!(
            "snapshot name {name:?}: use letters, digits, _ and -, starting with a letter or digit"
        )));
    }
    if name.len() > room {
        return Err(Error::usage(format!(
            "snapshot name {name:?} is too long: with database {db} it may have {room} characters (PostgreSQL's names have 63 bytes)"
        )));
    }
    Ok(())
}

/// The default name: the moment, `YYYYMMDD_HHMMSS`.
pub fn default_name() -> String {
    chrono::Local::now().format("%Y%m%d_%H%M%S").to_string()
}

/// The snapshots of `db`, oldest first, with their ready copies: one psql
/// call.
pub fn list(engine: &Engine, container: &str, db: &Database) -> Result<Vec<Snapshot>> {
    let prefix = format!("{}{MARK}", db.name);
    let copies = format!("{}{COPY_MARK}", db.name);
    // Rows: `datname|size|comment` per snapshot and ready copy.
    let sql = format!(
        "SELECT datname, pg_database_size(oid)::text, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname LIKE {} OR datname LIKE {}",
        quote_literal(&format!("{}%", like_prefix(&prefix))),
        quote_literal(&format!("{}%", like_prefix(&copies)))
    );
    let out = psql(engine, container, db, maintenance_db(db), &sql)?;
    Ok(from_rows(&out, &db.name))
}

/// The snapshots in `list`'s rows (`datname|size|comment`), their ready
/// copies paired with them, oldest first.
fn from_rows(out: &str, db: &str) -> Vec<Snapshot> {
    let prefix = format!("{db}{MARK}");
    let copies = format!("{db}{COPY_MARK}");
    let mut found = Vec::new();
    // Each copy's size and the `created` of the snapshot it is a copy of.
    let mut ready = std::collections::HashMap::new();
    for line in out.lines() {
        let mut parts = line.splitn(3, '|');
        let (Some(database), Some(bytes), Some(comment)) =
            (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let bytes = bytes.trim().parse().unwrap_or(0);
        if let Some(name) = database.strip_prefix(&copies) {
            let of: Option<CopyRecord> = serde_json::from_str(comment).ok();
            ready.insert(name.to_string(), (bytes, of.map(|r| r.created)));
            continue;
        }
        let Some(name) = database.strip_prefix(&prefix) else {
            continue;
        };
        let record: Option<Record> = serde_json::from_str(comment).ok();
        found.push(Snapshot {
            name: name.to_string(),
            bytes,
            created: record.as_ref().map(|r| r.created.clone()),
            source: record
                .as_ref()
                .map_or_else(|| db.to_string(), |r| r.source.clone()),
            server_version: record.map(|r| r.server_version),
            database: database.to_string(),
            ready_copy: None,
            copy_bytes: 0,
        });
    }
    // A copy being made is not in pg_database before it is complete, nor
    // recorded before it is. A copy recorded for another snapshot of the
    // same name (one dropped by hand and taken again) is no copy of this
    // one: only the next snapshot's background work drops it.
    for s in &mut found {
        if let Some((bytes, Some(of))) = ready.get(&s.name)
            && s.created.as_ref() == Some(of)
        {
            s.ready_copy = Some(copy_of(db, &s.name));
            s.copy_bytes = *bytes;
        }
    }
    found.sort_by(|a, b| a.created.cmp(&b.created));
    found
}

/// What a ready copy's comment says: the `created` of the snapshot it is a
/// copy of.
#[derive(Debug, Deserialize)]
struct CopyRecord {
    created: String,
}

/// The statements that make snapshot `s`'s ready copy of `db`, after
/// dropping the databases in `drop` (the other ready copies; after a
/// restore, the database it set aside): the copy closed to connections,
/// then its record. None for a snapshot without a record.
pub fn ready_copy_sql(db: &Database, s: &Snapshot, drop: &[String]) -> Option<Vec<String>> {
    let created = s.created.as_deref()?;
    let major: Option<u32> = s
        .server_version
        .as_deref()
        .and_then(|v| v.split(['.', ' ']).next()?.parse().ok());
    let force = if major.is_some_and(|m| m >= 13) {
        " WITH (FORCE)"
    } else {
        ""
    };
    let strategy = if major.is_some_and(|m| m >= 15) {
        " STRATEGY FILE_COPY"
    } else {
        ""
    };
    let copy = copy_of(&db.name, &s.name);
    let mut sql: Vec<String> = drop
        .iter()
        .map(|d| format!("DROP DATABASE IF EXISTS {}{force}", quote_ident(d)))
        .collect();
    sql.push(format!(
        "CREATE DATABASE {} TEMPLATE {}{strategy} OWNER {} ALLOW_CONNECTIONS false",
        quote_ident(&copy),
        quote_ident(&s.database),
        quote_ident(&db.user)
    ));
    let record = serde_json::json!({"budgie_copy": 1, "of": s.name, "created": created});
    sql.push(format!(
        "COMMENT ON DATABASE {} IS {}",
        quote_ident(&copy),
        quote_literal(&record.to_string())
    ));
    Some(sql)
}

/// Starts [`ready_copy_sql`] in the background (see
/// `postgres::in_background`); false when `s` has no record to make one.
pub fn make_ready_copy(
    engine: &Engine,
    container: &str,
    db: &Database,
    s: &Snapshot,
    drop: &[String],
) -> bool {
    match ready_copy_sql(db, s, drop) {
        Some(sql) => {
            crate::databases::postgres::in_background(engine, container, db, &sql);
            true
        }
        None => false,
    }
}

/// Whether a volume with `free` bytes before snapshot of `bytes` was taken
/// has room for its ready copy too (and the margin beside both).
pub fn room_for_copy(bytes: u64, free: Option<u64>) -> bool {
    free.is_some_and(|f| f >= bytes.saturating_mul(2).saturating_add(margin(bytes)))
}

/// The room a copy of `bytes` needs besides itself.
pub fn margin(bytes: u64) -> u64 {
    (bytes / 10).max(MARGIN_MIN)
}

/// What [`create`] did.
#[derive(Debug, Clone)]
pub struct Taken {
    pub snapshot: Snapshot,
    /// The sessions of the database that were ended for the copy.
    pub ended_sessions: u64,
    /// The free space measured before the copy; None when it could not be
    /// (no shell or `df` in the image).
    pub free: Option<u64>,
    /// The ready copies of the database's other snapshots.
    pub other_copies: Vec<String>,
    /// The snapshot's ready copy is being made in the background.
    pub copy_started: bool,
}

/// Takes snapshot `name` of `db`. Refuses, with nothing changed, when the
/// name is taken or the volume has less free space than the database's
/// size and a margin. The copy is made as `taking` ([`taking_name`]) and
/// renamed to the snapshot's name with its record in one transaction. The
/// caller holds the project lock and keeps a journal naming `taking` as
/// the scratch database, so that a budgie killed here is repaired by the
/// next, which can then only drop this run's copy.
///
/// One psql session, one engine call, does it all (each engine call costs
/// a fraction of a second, and a snapshot should cost little more than
/// the copy): it reads what the copy needs, measures the free space where
/// the server keeps its data (`df` through psql's backquotes; an image
/// without a shell or `df` leaves it unmeasured), then checks, copies and
/// records.
pub fn create(
    engine: &Engine,
    container: &str,
    db: &Database,
    name: &str,
    taking: &str,
) -> Result<Taken> {
    check_name(&db.name, name)?;
    let target = database_of(&db.name, name);
    let created = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let names = Names {
        target: &target,
        taking,
        name,
        created: &created,
    };
    let (said, free) = session(engine, container, db, &names)?;
    match said {
        Said::Taken => Err(Error::usage(format!(
            "snapshot {name} of database {} exists already; nothing was changed",
            db.name
        ))
        .hint(format!(
            "choose another name, or remove it first: budgie snapshot rm {name}"
        ))),
        Said::NoRoom { bytes, free } => Err(Error::new(format!(
            "not enough free space for snapshot {name}: database {} takes {}, and its volume has {} free (a copy needs its size and {} more); nothing was changed",
            db.name,
            crate::ui::human_bytes(bytes),
            crate::ui::human_bytes(free),
            crate::ui::human_bytes(margin(bytes)),
        ))
        .hint("free space in the volume (budgie snapshot rm an old snapshot), or take a backup instead: budgie backup")),
        Said::Copied {
            bytes,
            version,
            ended,
            copies,
        } => Ok(Taken {
            snapshot: Snapshot {
                name: name.to_string(),
                database: target,
                created: Some(created),
                bytes,
                source: db.name.clone(),
                server_version: Some(version),
                ready_copy: None,
                copy_bytes: 0,
            },
            ended_sessions: ended,
            free,
            other_copies: copies,
            copy_started: false,
        }),
    }
}

/// The names one snapshot's session works with.
struct Names<'a> {
    /// The snapshot's database.
    target: &'a str,
    /// Its copy's name until the copy is complete.
    taking: &'a str,
    name: &'a str,
    created: &'a str,
}

/// What the snapshot's psql session did.
#[derive(Debug, PartialEq, Eq)]
enum Said {
    /// The name is taken: nothing done.
    Taken,
    /// Too little free space: nothing done.
    NoRoom { bytes: u64, free: u64 },
    /// The copy is made and recorded.
    Copied {
        bytes: u64,
        version: String,
        ended: u64,
        /// The ready copies of other snapshots of the database.
        copies: Vec<String>,
    },
}

/// The session's script. First what the copy needs: the database's size,
/// whether FILE_COPY is there (PostgreSQL 15+), the server's version, its
/// data directory (empty when the user may not see it: then the compose
/// file's, `dir`), whether the name is taken, and the ready copies there
/// are. Then the free space there: `df -Pk` run by psql (its last line's
/// fourth field; -1 when there is no shell or `df`, or it says something
/// else). Then the checks, and the copy: the source closed to connections,
/// its sessions ended, copied as `tmp` closed to connections, the source
/// opened again; then `tmp` renamed to the snapshot's name with its record
/// as its comment, in one transaction.
const SCRIPT: &str = r#"SELECT pg_database_size(:'src') AS bytes, current_setting('server_version_num')::int >= 150000 AS file_copy, current_setting('server_version') AS version, coalesce(nullif((SELECT setting FROM pg_settings WHERE name = 'data_directory'), ''), :'dir') AS datadir, EXISTS (SELECT 1 FROM pg_database WHERE datname = :'dst') AS taken, coalesce((SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE :'copy_like'), '') AS copies \gset
\set dfout `df -Pk :'datadir' 2>/dev/null`
SELECT CASE WHEN f ~ '^[0-9]+$' THEN f::bigint * 1024 ELSE -1 END AS free FROM (SELECT split_part(regexp_replace(regexp_replace(:'dfout', '^.*\n', ''), '\s+', ' ', 'g'), ' ', 4) AS f) AS df \gset
SELECT 'budgie-free|' || :free;
SELECT (:free < 0 OR :bytes + greatest(:bytes / 10, 67108864) <= :free) AS room \gset
\if :taken
SELECT 'budgie-taken';
\quit
\endif
\if :room
\else
SELECT 'budgie-room|' || :'bytes' || '|' || :'free';
\quit
\endif
SELECT 'budgie-closing';
ALTER DATABASE :"src" ALLOW_CONNECTIONS false;
SELECT 'budgie-ended|' || count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :'src' AND pid <> pg_backend_pid();
\if :file_copy
CREATE DATABASE :"tmp" TEMPLATE :"src" STRATEGY FILE_COPY OWNER :"owner" ALLOW_CONNECTIONS false;
\else
CREATE DATABASE :"tmp" TEMPLATE :"src" OWNER :"owner" ALLOW_CONNECTIONS false;
\endif
ALTER DATABASE :"src" ALLOW_CONNECTIONS true;
BEGIN;
ALTER DATABASE :"tmp" RENAME TO :"dst";
SELECT format('COMMENT ON DATABASE %I IS %L', :'dst', json_build_object('budgie_snapshot', 1, 'name', :'name', 'created', :'created', 'bytes', :bytes, 'source', :'src', 'server_version', :'version')::text) \gexec
COMMIT;
SELECT 'budgie-copies|' || :'copies';
SELECT 'budgie-copied|' || :'bytes' || '|' || :'version';
"#;

/// Runs the snapshot's psql session; returns what it did and the free
/// space it measured.
fn session(
    engine: &Engine,
    container: &str,
    db: &Database,
    names: &Names,
) -> Result<(Said, Option<u64>)> {
    let copy_like = format!("{}%", like_prefix(&format!("{}{COPY_MARK}", db.name)));
    let vars = [
        ("src", db.name.as_str()),
        ("dst", names.target),
        ("tmp", names.taking),
        ("owner", db.user.as_str()),
        ("name", names.name),
        ("created", names.created),
        ("dir", db.data_dir.as_str()),
        ("copy_like", &copy_like),
    ]
    .map(|(k, v)| format!("{k}={v}"));
    let mut args: Vec<&str> = Vec::new();
    for v in &vars {
        args.extend(["-v", v.as_str()]);
    }
    // The script on stdin, without `-f -`: psql then says its errors
    // without a `psql:<stdin>:N:` prefix.
    let cmd = psql_cmd_stdin(engine, container, db, maintenance_db(db), &args, true);
    let (handle, mut writer) = cmd.start_fed(|_| {})?;
    // A write that fails means psql ended, which its exit status says.
    let _ = writer.write_all(SCRIPT.as_bytes());
    drop(writer);
    let out = handle
        .wait()
        .map_err(|e| Error::new(format!("psql in {container}: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // Before the checks passed nothing was touched (and a database of
        // the target's name may be an earlier snapshot: never dropped).
        if !closing_began(&stdout) {
            return Err(cmd.failure(out).context(format!(
                "the snapshot of database {} failed; nothing was changed",
                db.name
            )));
        }
        // Whatever step failed after: the source opens again, and this
        // run's copy goes (never the snapshot's name: the rename and the
        // record commit together or not at all).
        reopen(engine, container, db);
        let _ = crate::databases::postgres::drop_database(engine, container, db, names.taking);
        return Err(cmd.failure(out).context(format!(
            "the copy of database {} failed; it is open again, nothing was changed",
            db.name
        )));
    }
    let said = parse_said(&stdout).ok_or_else(|| {
        Error::new(format!(
            "database {}: psql ended without saying what it did; nothing is known to have changed",
            db.name
        ))
    })?;
    Ok((said, free_said(&stdout)))
}

/// The free space the session measured (`budgie-free|N`; None for -1).
fn free_said(out: &str) -> Option<u64> {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("budgie-free|"))
        .and_then(|n| n.parse().ok())
}

/// Whether the session got past its checks to closing the source (psql's
/// output is flushed when it exits, whatever made it exit).
fn closing_began(out: &str) -> bool {
    out.lines().any(|l| l.trim() == "budgie-closing")
}

/// Reads the session's `budgie-...` lines; None when they say no outcome.
fn parse_said(out: &str) -> Option<Said> {
    let mut ended = 0;
    let mut copies = Vec::new();
    for line in out.lines().map(str::trim) {
        let mut parts = line.splitn(3, '|');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("budgie-taken"), _, _) => return Some(Said::Taken),
            (Some("budgie-room"), Some(b), Some(f)) => {
                return Some(Said::NoRoom {
                    bytes: b.parse().unwrap_or(0),
                    free: f.parse().unwrap_or(0),
                });
            }
            (Some("budgie-ended"), Some(n), _) => ended = n.parse().unwrap_or(0),
            (Some("budgie-copies"), Some(list), _) => {
                copies = list
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            (Some("budgie-copied"), Some(b), Some(v)) => {
                return Some(Said::Copied {
                    bytes: b.parse().unwrap_or(0),
                    version: v.to_string(),
                    ended,
                    copies,
                });
            }
            _ => {}
        }
    }
    None
}

/// Removes snapshot `name` of `db`, then its ready copy (after: a copy
/// being made from it holds the snapshot until it is complete).
pub fn remove(engine: &Engine, container: &str, db: &Database, name: &str) -> Result<()> {
    use crate::databases::postgres::drop_database;
    drop_database(engine, container, db, &database_of(&db.name, name))?;
    drop_database(engine, container, db, &copy_of(&db.name, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_postgresql() {
        assert_eq!(database_of("app", "before-x"), "app_budgie_snap_before-x");
        assert!(check_name("app", "20261130_120000").is_ok());
        assert!(check_name("app", "pre-deploy_1").is_ok());
        for bad in ["", "-x", "a b", "a;b", "ü", "a\"b", "_x"] {
            assert!(check_name("app", bad).is_err(), "{bad}");
        }
        let long = "x".repeat(63 - "app".len() - MARK.len());
        assert!(check_name("app", &long).is_ok());
        let e = check_name("app", &format!("{long}y")).unwrap_err();
        assert!(e.message.contains("too long"), "{e}");
    }

    #[test]
    fn the_sessions_words_are_read_back() {
        let copied = "budgie-ended|2\nbudgie-copies|app_budgie_copy_a,app_budgie_copy_b\nbudgie-copied|600000000|15.18 (Debian 15.18-0+deb12u1)\n";
        assert_eq!(
            parse_said(copied),
            Some(Said::Copied {
                bytes: 600000000,
                version: "15.18 (Debian 15.18-0+deb12u1)".into(),
                ended: 2,
                copies: vec!["app_budgie_copy_a".into(), "app_budgie_copy_b".into()],
            })
        );
        let none = "budgie-copies|\nbudgie-copied|1|15\n";
        assert!(matches!(parse_said(none), Some(Said::Copied { copies, .. }) if copies.is_empty()));
        assert_eq!(parse_said("budgie-taken\n"), Some(Said::Taken));
        assert_eq!(
            parse_said("budgie-room|100|5\n"),
            Some(Said::NoRoom {
                bytes: 100,
                free: 5
            })
        );
        assert_eq!(free_said("budgie-free|123\nbudgie-taken\n"), Some(123));
        assert_eq!(free_said("budgie-free|-1\nbudgie-taken\n"), None);
        assert!(closing_began("budgie-closing\nbudgie-ended|0\n"));
        assert!(!closing_began("budgie-taken\n"));
        assert!(!closing_began(""));
        assert_eq!(parse_said(""), None);
        assert_eq!(parse_said("budgie-ended|1\n"), None);
    }

    #[test]
    fn a_ready_copy_counts_only_for_the_snapshot_it_was_made_of() {
        let rec = |created: &str| {
            format!(
                r#"{{"budgie_snapshot":1,"name":"a","created":"{created}","bytes":5,"source":"app","server_version":"15.18"}}"#
            )
        };
        let copy = |created: &str| format!(r#"{{"budgie_copy":1,"of":"a","created":"{created}"}}"#);
        let rows = format!(
            "app_budgie_snap_a|100|{}\napp_budgie_copy_a|90|{}\napp_budgie_snap_b|70|{}\napp_budgie_copy_b|60|{}\napp_budgie_copy_gone|50|{}\napp_budgie_snap_c|40|\n",
            rec("2026-12-01T08:00:00+00:00"),
            copy("2026-12-01T08:00:00+00:00"),
            rec("2026-12-01T09:00:00+00:00"),
            // b's copy was made of an earlier snapshot b: no copy of it.
            copy("2026-11-01T09:00:00+00:00"),
            copy("2026-12-01T07:00:00+00:00"),
        );
        let found = from_rows(&rows, "app");
        let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
        // c has no record (no `created`): first.
        assert_eq!(names, ["c", "a", "b"]);
        let a = &found[1];
        assert_eq!(a.ready_copy.as_deref(), Some("app_budgie_copy_a"));
        assert_eq!((a.bytes, a.copy_bytes, a.disk_bytes()), (100, 90, 190));
        let b = &found[2];
        assert_eq!((b.ready_copy.as_deref(), b.copy_bytes), (None, 0));
        assert_eq!(found[0].ready_copy, None);
    }

    #[test]
    fn a_ready_copy_is_made_closed_after_the_drops_and_recorded() {
        let db = crate::databases::postgres::sample_db("app");
        let mut s = Snapshot {
            name: "a".into(),
            database: "app_budgie_snap_a".into(),
            created: Some("2026-12-01T08:00:00+00:00".into()),
            bytes: 1,
            source: "app".into(),
            server_version: Some("15.18 (Debian 15.18-0+deb12u1)".into()),
            ready_copy: None,
            copy_bytes: 0,
        };
        let sql = ready_copy_sql(&db, &s, &["app_budgie_old_1".into()]).unwrap();
        assert_eq!(
            sql[0],
            r#"DROP DATABASE IF EXISTS "app_budgie_old_1" WITH (FORCE)"#
        );
        assert_eq!(
            sql[1],
            r#"CREATE DATABASE "app_budgie_copy_a" TEMPLATE "app_budgie_snap_a" STRATEGY FILE_COPY OWNER "app" ALLOW_CONNECTIONS false"#
        );
        assert!(
            sql[2].starts_with(r#"COMMENT ON DATABASE "app_budgie_copy_a" IS '{"#),
            "{}",
            sql[2]
        );
        assert!(
            sql[2].contains(r#""created":"2026-12-01T08:00:00+00:00""#),
            "{}",
            sql[2]
        );
        // Before 13 no FORCE, before 15 no STRATEGY.
        s.server_version = Some("12.3".into());
        let old = ready_copy_sql(&db, &s, &["x".into()]).unwrap();
        assert_eq!(old[0], r#"DROP DATABASE IF EXISTS "x""#);
        assert!(!old[1].contains("STRATEGY"), "{}", old[1]);
        // No record, no copy.
        s.created = None;
        assert!(ready_copy_sql(&db, &s, &[]).is_none());
    }

    #[test]
    fn a_ready_copy_needs_room_beside_the_snapshot() {
        let gib = 1u64 << 30;
        assert!(room_for_copy(gib, Some(2 * gib + margin(gib))));
        assert!(!room_for_copy(gib, Some(2 * gib + margin(gib) - 1)));
        assert!(!room_for_copy(gib, None));
    }

    #[test]
    fn the_margin_is_a_tenth_and_at_least_64_mib() {
        assert_eq!(margin(0), 64 << 20);
        assert_eq!(margin(10 << 30), 1 << 30);
    }
}
