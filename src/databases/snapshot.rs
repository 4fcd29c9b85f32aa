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
//!   the half-made copy (`crate::recover`).
//! - The snapshot's record (name, created, size, source database, server
//!   version) is the snapshot database's comment: it lives and dies with
//!   the cluster, so it survives a lost backup directory, and the volume's
//!   deletion takes it along.
//! - A snapshot is closed to connections: nobody works in it by mistake.
//! - Snapshots live in the database's volume: they are not backups.

use serde::{Deserialize, Serialize};

use crate::compose::Database;
use crate::databases::postgres::{
    maintenance_db, psql, psql_cmd, quote_ident, quote_literal, reopen,
};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// What a snapshot database's name holds between the database's name and
/// the snapshot's.
pub const MARK: &str = "_budgie_snap_";
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
}

/// The record kept as the snapshot database's comment.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    budgie_snapshot: u32,
    name: String,
    created: String,
    bytes: u64,
    source: String,
    server_version: String,
}

/// The database that holds snapshot `name` of `db`.
pub fn database_of(db: &str, name: &str) -> String {
    format!("{db}{MARK}{name}")
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

/// The snapshots of `db`, oldest first.
pub fn list(engine: &Engine, container: &str, db: &Database) -> Result<Vec<Snapshot>> {
    Ok(survey(engine, container, db, false)?.0)
}

/// The snapshots of `db` and, with `before`, what a copy needs to know
/// ([`Before`]): one psql call (each engine call costs a fraction of a
/// second, a snapshot should not).
fn survey(
    engine: &Engine,
    container: &str,
    db: &Database,
    with_before: bool,
) -> Result<(Vec<Snapshot>, Option<Before>)> {
    let prefix = format!("{}{MARK}", db.name);
    let like = prefix
        .replace('\\', "\\\\")
        .replace('_', "\\_")
        .replace('%', "\\%");
    // Rows: `s|datname|size||comment` per snapshot, and with `before`
    // `b|size|version_num|data_directory|version` (data_directory empty
    // when the user may not see it: pg_settings hides the row).
    let mut sql = format!(
        "SELECT 's', datname, pg_database_size(oid)::text, '', coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname LIKE {}",
        quote_literal(&format!("{like}%"))
    );
    if with_before {
        sql = format!(
            "SELECT 'b', pg_database_size({})::text, current_setting('server_version_num'), coalesce((SELECT setting FROM pg_settings WHERE name = 'data_directory'), ''), current_setting('server_version') UNION ALL {sql}",
            quote_literal(&db.name)
        );
    }
    let out = psql(engine, container, db, maintenance_db(db), &sql)?;
    let mut found = Vec::new();
    let mut before = None;
    for line in out.lines() {
        let mut parts = line.splitn(5, '|');
        let (Some(tag), Some(a), Some(b), Some(c), Some(d)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            continue;
        };
        match tag {
            "b" => {
                before = Some(Before {
                    bytes: a.trim().parse().unwrap_or(0),
                    version_num: b.trim().parse().unwrap_or(0),
                    data_directory: Some(c.trim().to_string()).filter(|d| !d.is_empty()),
                    version: d.to_string(),
                });
            }
            "s" => {
                let Some(name) = a.strip_prefix(&prefix) else {
                    continue;
                };
                let record: Option<Record> = serde_json::from_str(d).ok();
                found.push(Snapshot {
                    name: name.to_string(),
                    bytes: b.trim().parse().unwrap_or(0),
                    created: record.as_ref().map(|r| r.created.clone()),
                    source: record
                        .as_ref()
                        .map_or_else(|| db.name.clone(), |r| r.source.clone()),
                    server_version: record.map(|r| r.server_version),
                    database: a.to_string(),
                });
            }
            _ => {}
        }
    }
    found.sort_by(|a, b| a.created.cmp(&b.created));
    if with_before && before.is_none() {
        return Err(Error::new(format!(
            "database {}: the server did not say its size and version",
            db.name
        )));
    }
    Ok((found, before))
}

/// What the server says before a copy: the database's size, the server's
/// version number and text, and its data directory (None when the user
/// may not see it).
struct Before {
    bytes: u64,
    version_num: u32,
    version: String,
    data_directory: Option<String>,
}

/// Free bytes where `dir` lives in the container (`df -Pk`), None when the
/// image has no `df` or it says something else.
fn free_bytes(engine: &Engine, container: &str, dir: &str) -> Option<u64> {
    let out = engine
        .exec(container, false, false, &[], &["df", "-Pk", dir])
        .read()
        .ok()?;
    let line = out.lines().nth(1)?;
    let available: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(available * 1024)
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
    /// Free space could not be measured (no `df` in the image).
    pub space_unchecked: bool,
}

/// Takes snapshot `name` of `db`. Refuses, with nothing changed, when the
/// name is taken or the volume has less free space than the database's
/// size and a margin. The caller holds the project lock and keeps a
/// journal naming [`database_of`] as the scratch database, so that a
/// budgie killed here is repaired by the next.
pub fn create(engine: &Engine, container: &str, db: &Database, name: &str) -> Result<Taken> {
    check_name(&db.name, name)?;
    let target = database_of(&db.name, name);
    // The free space where the compose file says the data directory is,
    // read while the server is asked where it really is (one engine call
    // less in a row, 0.2 s with podman); asked again only if they differ.
    let (surveyed, free_guess) = std::thread::scope(|s| {
        let guess = s.spawn(|| free_bytes(engine, container, &db.data_dir));
        let surveyed = survey(engine, container, db, true);
        (surveyed, guess.join().ok().flatten())
    });
    let (found, b) = surveyed?;
    let Some(b) = b else {
        return Err(Error::new("internal error: no survey of the database"));
    };
    if found.iter().any(|s| s.name == name) {
        return Err(Error::usage(format!(
            "snapshot {name} of database {} exists already; nothing was changed",
            db.name
        ))
        .hint(format!(
            "choose another name, or remove it first: budgie snapshot rm {name}"
        )));
    }
    let free = match b.data_directory.as_deref() {
        Some(d) if d.trim_end_matches('/') != db.data_dir.trim_end_matches('/') => {
            free_bytes(engine, container, d)
        }
        // The same directory, or one the user may not see: the compose
        // file's is the best knowledge there is.
        _ => free_guess,
    };
    if let Some(free) = free
        && free < b.bytes + margin(b.bytes)
    {
        return Err(Error::new(format!(
            "not enough free space for snapshot {name}: database {} takes {}, and its volume has {} free (a copy needs its size and {} more); nothing was changed",
            db.name,
            crate::ui::human_bytes(b.bytes),
            crate::ui::human_bytes(free),
            crate::ui::human_bytes(margin(b.bytes)),
        ))
        .hint("free space in the volume (budgie snapshot rm an old snapshot), or take a backup instead: budgie backup"));
    }
    let record = Record {
        budgie_snapshot: 1,
        name: name.to_string(),
        created: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        bytes: b.bytes,
        source: db.name.clone(),
        server_version: b.version.clone(),
    };
    let record_json = serde_json::to_string(&record)
        .map_err(|e| Error::new(format!("internal error: the snapshot record: {e}")))?;
    let ended = copy(
        engine,
        container,
        db,
        &db.name,
        &target,
        b.version_num,
        &record_json,
    )?;
    Ok(Taken {
        snapshot: Snapshot {
            name: name.to_string(),
            database: target,
            created: Some(record.created),
            bytes: b.bytes,
            source: db.name.clone(),
            server_version: Some(b.version),
        },
        ended_sessions: ended,
        space_unchecked: free.is_none(),
    })
}

/// `CREATE DATABASE target TEMPLATE source`, the source closed to
/// connections meanwhile and opened again whatever happens; `comment`
/// becomes the copy's comment, and the copy is closed to connections.
/// Returns how many sessions of the source were ended.
pub fn copy(
    engine: &Engine,
    container: &str,
    db: &Database,
    source: &str,
    target: &str,
    version_num: u32,
    comment: &str,
) -> Result<u64> {
    let (src, dst) = (quote_ident(source), quote_ident(target));
    // FILE_COPY (15+) copies the files, WAL_LOG reads every block: the
    // first is the fast one for a whole database.
    let strategy = if version_num >= 150000 {
        " STRATEGY FILE_COPY"
    } else {
        ""
    };
    let statements = [
        format!("ALTER DATABASE {src} ALLOW_CONNECTIONS false"),
        format!(
            "SELECT 'budgie-ended:' || count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = {} AND pid <> pg_backend_pid()",
            quote_literal(source)
        ),
        format!(
            "CREATE DATABASE {dst} TEMPLATE {src}{strategy} OWNER {}",
            quote_ident(&db.user)
        ),
        format!("ALTER DATABASE {src} ALLOW_CONNECTIONS true"),
        format!("ALTER DATABASE {dst} ALLOW_CONNECTIONS false"),
        format!("COMMENT ON DATABASE {dst} IS {}", quote_literal(comment)),
    ];
    let mut args: Vec<&str> = Vec::new();
    for s in &statements {
        args.push("-c");
        args.push(s);
    }
    let out = psql_cmd(engine, container, db, maintenance_db(db), &args).read();
    match out {
        Ok(out) => Ok(out
            .lines()
            .find_map(|l| l.trim().strip_prefix("budgie-ended:"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)),
        Err(e) => {
            // Whatever step failed: the source opens again, and a copy
            // made before the failure goes.
            let mut source_db = db.clone();
            source_db.name = source.to_string();
            reopen(engine, container, &source_db);
            let _ = crate::databases::postgres::drop_database(engine, container, db, target);
            Err(e.context(format!(
                "the copy of database {source} failed; it is open again, nothing was changed"
            )))
        }
    }
}

/// Removes snapshot `name` of `db`.
pub fn remove(engine: &Engine, container: &str, db: &Database, name: &str) -> Result<()> {
    crate::databases::postgres::drop_database(engine, container, db, &database_of(&db.name, name))
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
    fn the_margin_is_a_tenth_and_at_least_64_mib() {
        assert_eq!(margin(0), 64 << 20);
        assert_eq!(margin(10 << 30), 1 << 30);
    }
}
