//! Finding the PostgreSQL service, its user, database, password, and where
//! its data really lives.
//!
//! 1. `x-budgie.database.service`, if set (it must name a service).
//! 2. Services whose image is a PostgreSQL server: the official `postgres`
//!    and its family (postgis, timescaledb, pgvector, pgvecto-rs, paradedb,
//!    supabase/postgres, bitnami/postgresql, cloudnative-pg, immich-app's,
//!    spilo, crunchy-postgres...). Several: those with a named volume or bind
//!    mount at their data directory; then those with `POSTGRES_*` variables;
//!    still several: ambiguous.
//! 3. No such image: images that only mention postgres (a backup tool, an
//!    exporter) with a data mount; then services with `POSTGRES_*`
//!    variables.
//!
//! The data directory is `PGDATA` when set, else the image's own: the
//! official image's `/var/lib/postgresql/data` up to PostgreSQL 17 and
//! `/var/lib/postgresql/18/docker` from 18 (with the volume expected at
//! `/var/lib/postgresql`), bitnami's `/bitnami/postgresql`... The deepest
//! named volume or bind mount at or above it holds the data; with neither,
//! the data lives in an anonymous volume that the next recreated container
//! does not get back — a [`Database::problem`], as is a PostgreSQL 18 image
//! with its volume at the old path (the server refuses to start).

use std::collections::BTreeMap;

use super::config::{BudgieConfig, DatabaseConfig};
use super::model::{
    Database, DatabaseStatus, DbKind, DetectedBy, MountKind, Secret, Service, Storage, Volume,
};
use crate::error::{Error, Result};

/// The data directory of the official images up to PostgreSQL 17.
pub(crate) const DEFAULT_DATA_DIR: &str = "/var/lib/postgresql/data";

/// Where the official images keep their data from PostgreSQL 18 on, and
/// where they expect the volume.
const PG18_DATA_DIR: &str = "/var/lib/postgresql/18/docker";
const PG18_MOUNT: &str = "/var/lib/postgresql";

/// The last path component of the PostgreSQL family's server images.
const SERVER_IMAGES: [&str; 13] = [
    "postgres",
    "postgresql",
    "postgis",
    "timescaledb",
    "timescaledb-ha",
    "pgvector",
    "pgvecto-rs",
    "paradedb",
    "spilo",
    "spilo-15",
    "crunchy-postgres",
    "postgresql-repmgr",
    "postgres-gis",
];

/// The last path component of the MariaDB/MySQL family's server images.
const MARIADB_IMAGES: [&str; 7] = [
    "mariadb",
    "mysql",
    "mysql-server",
    "percona",
    "percona-server",
    "mariadb-galera",
    "mariadb-server",
];

/// Images whose own (not the compose file's) `PGDATA` is elsewhere.
const IMAGE_DATA_DIRS: [(&str, &str); 4] = [
    ("bitnami/", "/bitnami/postgresql"),
    ("spilo", "/home/postgres/pgdata"),
    ("crunchy-postgres", "/pgdata"),
    ("postgresql-repmgr", "/bitnami/postgresql"),
];

/// What an image reference says of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImageKind {
    /// A PostgreSQL server of the family.
    Server,
    /// A MariaDB or MySQL server.
    Mariadb,
    /// Mentions postgres without being a server image (a backup tool, an
    /// exporter, PostgREST).
    Mentions,
    /// Mentions mariadb or mysql without being a known server image.
    MentionsMariadb,
    Other,
}

/// The repository of an image reference, lower case: registry host, tag
/// and digest removed (`ghcr.io/immich-app/postgres:14@sha256:...` gives
/// `immich-app/postgres`).
fn repository(image: &str) -> String {
    let lower = image.to_ascii_lowercase();
    let no_digest = lower.split('@').next().unwrap_or("");
    let last_slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    let no_tag = match no_digest[last_slash..].find(':') {
        Some(i) => &no_digest[..last_slash + i],
        None => no_digest,
    };
    match no_tag.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            rest.to_string()
        }
        _ => no_tag.to_string(),
    }
}

/// The image's tag, if any.
fn tag(image: &str) -> Option<&str> {
    let no_digest = image.split('@').next().unwrap_or("");
    let last_slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    no_digest[last_slash..].split_once(':').map(|(_, t)| t)
}

fn image_kind(image: &str) -> ImageKind {
    let repo = repository(image);
    let last = repo.rsplit('/').next().unwrap_or("");
    if SERVER_IMAGES.contains(&last) {
        return ImageKind::Server;
    }
    if MARIADB_IMAGES.contains(&last) {
        return ImageKind::Mariadb;
    }
    if ["postgres", "postgis", "timescale", "pgvector"]
        .iter()
        .any(|w| repo.contains(w))
    {
        return ImageKind::Mentions;
    }
    if ["mariadb", "mysql"].iter().any(|w| repo.contains(w)) {
        return ImageKind::MentionsMariadb;
    }
    ImageKind::Other
}

/// The PostgreSQL major version an image's tag names (`16`, `16-alpine`,
/// `pg16`, `latest-pg17`, `15-3.4`), if it names one.
fn major_version(image: &str) -> Option<u32> {
    let tag = tag(image)?.to_ascii_lowercase();
    let digits = |s: &str| -> Option<u32> {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        d.parse().ok()
    };
    let version = match tag.find("pg") {
        Some(i) => digits(&tag[i + 2..]),
        None => digits(&tag),
    }?;
    (9..=40).contains(&version).then_some(version)
}

fn has_postgres_env(s: &Service) -> bool {
    s.environment.keys().any(|k| k.starts_with("POSTGRES_"))
}

fn non_empty<'a>(s: &'a Service, key: &str) -> Option<&'a str> {
    s.environment
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// The data directory of the service's server, and where the image
/// expects the volume (`PG18_MOUNT` for PostgreSQL 18+).
fn data_dir(s: &Service, kind: DbKind) -> (String, String) {
    let image = s.image.as_deref().unwrap_or("");
    let repo = repository(image);
    if kind == DbKind::Mariadb {
        let dir = if repo.starts_with("bitnami/") {
            format!("/bitnami/{}", repo.rsplit('/').next().unwrap_or("mariadb"))
        } else {
            "/var/lib/mysql".to_string()
        };
        return (dir.clone(), dir);
    }
    if let Some(d) = non_empty(s, "PGDATA") {
        return (d.to_string(), d.to_string());
    }
    if let Some((_, dir)) = IMAGE_DATA_DIRS.iter().find(|(p, _)| repo.contains(p)) {
        return (dir.to_string(), dir.to_string());
    }
    if major_version(image).is_some_and(|v| v >= 18) {
        return (PG18_DATA_DIR.to_string(), PG18_MOUNT.to_string());
    }
    (DEFAULT_DATA_DIR.to_string(), DEFAULT_DATA_DIR.to_string())
}

/// Whether a mount at `target` holds `path` (the same directory or a parent).
pub(crate) fn at_or_above(target: &str, path: &str) -> bool {
    let t = target.trim_end_matches('/');
    let p = path.trim_end_matches('/');
    t.is_empty() || t == p || p.strip_prefix(t).is_some_and(|rest| rest.starts_with('/'))
}

/// The deepest named volume or bind mount of `s` at or above `dir`.
fn data_mount(s: &Service, dir: &str) -> Option<Storage> {
    s.mounts
        .iter()
        .filter(|m| at_or_above(&m.target, dir))
        .filter_map(|m| {
            let storage = match &m.kind {
                MountKind::Volume { key } => Storage::Volume { key: key.clone() },
                MountKind::Bind { source, .. } => Storage::Bind {
                    path: source.clone(),
                },
                _ => return None,
            };
            Some((m.target.len(), storage))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, storage)| storage)
}

/// Whether the service mounts storage where a server of `kind` keeps its
/// data.
fn has_data_mount_of(s: &Service, kind: DbKind) -> bool {
    data_mount(s, &data_dir(s, kind).0).is_some()
}

/// Narrows several candidates of `kind`: those with a data mount, then
/// those with the server's variables (`POSTGRES_*`, `MARIADB_*`/`MYSQL_*`).
fn narrow<'a>(
    several: &[&'a Service],
    kind: DbKind,
) -> std::result::Result<&'a Service, Vec<&'a Service>> {
    let has_env = |s: &Service| env_kind(s) == Some(kind);
    let has_mount = |s: &Service| has_data_mount_of(s, kind);
    for keep in [&has_mount as &dyn Fn(&Service) -> bool, &has_env] {
        let kept: Vec<&Service> = several.iter().copied().filter(|s| keep(s)).collect();
        if let [one] = kept.as_slice() {
            return Ok(one);
        }
        if kept.len() > 1 {
            return Err(kept);
        }
    }
    Err(several.to_vec())
}

/// Which database services a project has, and which is the primary (the
/// one `restore` and `psql` use when no `--service` says).
pub(crate) struct Found {
    pub primary: DatabaseStatus,
    /// Every database service, the primary first.
    pub all: Vec<Database>,
}

/// The kind of server a service's image runs, if it is a server image.
fn server_kind(s: &Service) -> Option<DbKind> {
    match s.image.as_deref().map(image_kind) {
        Some(ImageKind::Server) => Some(DbKind::Postgres),
        Some(ImageKind::Mariadb) => Some(DbKind::Mariadb),
        _ => None,
    }
}

/// The kind a service's environment suggests.
fn env_kind(s: &Service) -> Option<DbKind> {
    if has_postgres_env(s) {
        Some(DbKind::Postgres)
    } else if s
        .environment
        .keys()
        .any(|k| k.starts_with("MARIADB_") || k.starts_with("MYSQL_"))
    {
        Some(DbKind::Mariadb)
    } else {
        None
    }
}

/// A database service found, its kind, and how.
type Candidate<'a> = (&'a Service, DbKind, DetectedBy);

/// The database services the detection rules find, how, and the primary.
fn choose(
    services: &BTreeMap<String, Service>,
) -> std::result::Result<(Vec<Candidate<'_>>, usize), DatabaseStatus> {
    // Server images, and images that mention postgres or mariadb/mysql
    // (`my-postgres`, `budgie-mariadb`) with a volume at that server's
    // data directory.
    let servers: Vec<Candidate> = services
        .values()
        .filter_map(|s| {
            let kind = server_kind(s).or_else(|| {
                let kind = match s.image.as_deref().map(image_kind) {
                    Some(ImageKind::Mentions) => DbKind::Postgres,
                    Some(ImageKind::MentionsMariadb) => DbKind::Mariadb,
                    _ => return None,
                };
                has_data_mount_of(s, kind).then_some(kind)
            })?;
            Some((s, kind, DetectedBy::Image))
        })
        .collect();
    if !servers.is_empty() {
        // Of each kind, the services that run a server: those with their
        // data mounted; else those with the server's variables; else all.
        // (A `postgres` image with neither is usually a client — a
        // `pg_dump` sidecar — and the official images do not start
        // without a password variable.)
        let mut kept: Vec<Candidate> = Vec::new();
        for kind in [DbKind::Postgres, DbKind::Mariadb] {
            let of: Vec<&Service> = servers
                .iter()
                .filter(|(_, k, _)| *k == kind)
                .map(|(s, _, _)| *s)
                .collect();
            let running: Vec<&Service> = match narrow(&of, kind) {
                Ok(one) => vec![one],
                Err(more) => more,
            };
            kept.extend(running.into_iter().map(|s| (s, kind, DetectedBy::Image)));
        }
        // The primary: the first PostgreSQL server, else the first.
        let primary = kept
            .iter()
            .position(|(_, k, _)| *k == DbKind::Postgres)
            .unwrap_or(0);
        return Ok((kept, primary));
    }
    let by_env: Vec<&Service> = services.values().filter(|s| has_postgres_env(s)).collect();
    let one = match by_env.as_slice() {
        [] => return Err(DatabaseStatus::None),
        [one] => *one,
        several => narrow(several, DbKind::Postgres).map_err(|more| ambiguous(&more))?,
    };
    Ok((vec![(one, DbKind::Postgres, DetectedBy::Environment)], 0))
}

/// Looks for the database services. `files` names the compose files in
/// messages.
///
/// `x-budgie.databases` names them (each with its settings); else
/// `x-budgie.database.service` names the one; else the detection rules
/// find them. The single `x-budgie.database` settings apply to the primary.
pub(crate) fn detect(
    services: &BTreeMap<String, Service>,
    volumes: &[Volume],
    config: &BudgieConfig,
    files: &str,
) -> Result<Found> {
    let named = |name: &str, key: &str| -> Result<&Service> {
        services.get(name).ok_or_else(|| {
            let known: Vec<&str> = services.keys().map(String::as_str).collect();
            Error::new(format!(
                "{files}: {key}: no service {name:?} (services: {})",
                known.join(", ")
            ))
        })
    };
    let kind_of = |s: &Service| {
        server_kind(s)
            .or_else(|| env_kind(s))
            .unwrap_or(DbKind::Postgres)
    };
    let single = &config.database;
    let (chosen, primary): (Vec<(&Service, DbKind, DetectedBy, &DatabaseConfig)>, usize) =
        if !config.databases.is_empty() {
            let mut out = Vec::new();
            for (name, cfg) in &config.databases {
                let s = named(name, &format!("x-budgie.databases.{name}"))?;
                out.push((s, kind_of(s), DetectedBy::Config, cfg));
            }
            let primary = single
                .service
                .as_ref()
                .and_then(|p| out.iter().position(|(s, ..)| &s.name == p))
                .unwrap_or(0);
            (out, primary)
        } else if let Some(name) = &single.service {
            let s = named(name, "x-budgie.database.service")?;
            (vec![(s, kind_of(s), DetectedBy::Config, single)], 0)
        } else {
            match choose(services) {
                Ok((found, primary)) => {
                    let none = &DEFAULTS;
                    let out = found
                        .into_iter()
                        .enumerate()
                        .map(|(i, (s, k, by))| (s, k, by, if i == primary { single } else { none }))
                        .collect();
                    (out, primary)
                }
                Err(status) => {
                    return Ok(Found {
                        primary: status,
                        all: Vec::new(),
                    });
                }
            }
        };
    let mut all = Vec::new();
    for (s, kind, by, cfg) in &chosen {
        all.push(settings(s, *kind, *by, volumes, cfg, files)?);
    }
    let first = all.remove(primary);
    all.insert(0, first.clone());
    Ok(Found {
        primary: DatabaseStatus::Found(Box::new(first)),
        all,
    })
}

/// Settings that say nothing.
static DEFAULTS: DatabaseConfig = DatabaseConfig {
    service: None,
    user: None,
    name: None,
    volume: None,
    password: None,
};

/// The first of `keys` the service's environment sets (not empty), and
/// its value.
fn first_env<'a>(s: &'a Service, keys: &[&'static str]) -> Option<(&'static str, &'a str)> {
    keys.iter().find_map(|k| non_empty(s, k).map(|v| (*k, v)))
}

/// User, database, password variable and password (what the environment
/// and `x-budgie` say).
type Credentials = (String, String, Option<String>, Option<String>);

/// [`settings`] for PostgreSQL: `POSTGRES_*`, default user `postgres`.
fn postgres_settings(service: &Service, config: &DatabaseConfig) -> Credentials {
    let user = config
        .user
        .clone()
        .or_else(|| non_empty(service, "POSTGRES_USER").map(str::to_string))
        .unwrap_or_else(|| "postgres".to_string());
    let name = config
        .name
        .clone()
        .or_else(|| non_empty(service, "POSTGRES_DB").map(str::to_string))
        .unwrap_or_else(|| user.clone());
    let password_var = ["POSTGRES_PASSWORD", "POSTGRES_PASSWORD_FILE"]
        .into_iter()
        .find(|k| service.environment.contains_key(*k))
        .map(str::to_string);
    let password = non_empty(service, "POSTGRES_PASSWORD").map(str::to_string);
    (user, name, password_var, password)
}

/// [`settings`] for MariaDB/MySQL: `MARIADB_*`, else `MYSQL_*`, default
/// user root.
fn mariadb_settings(service: &Service, config: &DatabaseConfig) -> Credentials {
    let env_user = first_env(service, &["MARIADB_USER", "MYSQL_USER"]);
    let user = config
        .user
        .clone()
        .or_else(|| env_user.map(|(_, u)| u.to_string()))
        .unwrap_or_else(|| "root".to_string());
    let name = config
        .name
        .clone()
        .or_else(|| {
            first_env(service, &["MARIADB_DATABASE", "MYSQL_DATABASE"]).map(|(_, d)| d.to_string())
        })
        .unwrap_or_default();
    // The user's own password; root's when budgie connects as root.
    let keys: &[&'static str] = if user == "root" {
        &["MARIADB_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD"]
    } else {
        &["MARIADB_PASSWORD", "MYSQL_PASSWORD"]
    };
    let found = first_env(service, keys);
    let password_var = found.map(|(k, _)| k.to_string()).or_else(|| {
        keys.iter()
            .map(|k| format!("{k}_FILE"))
            .find(|k| service.environment.contains_key(k))
    });
    (user, name, password_var, found.map(|(_, v)| v.to_string()))
}

/// The chosen service's user, database name, password and where its data
/// lives (`x-budgie` settings first, then its environment, then the
/// defaults of its kind). A configured volume must be declared.
fn settings(
    service: &Service,
    kind: DbKind,
    detected_by: DetectedBy,
    volumes: &[Volume],
    config: &DatabaseConfig,
    files: &str,
) -> Result<Database> {
    let (user, name, password_var, password) = match kind {
        DbKind::Postgres => postgres_settings(service, config),
        DbKind::Mariadb => mariadb_settings(service, config),
    };
    let admin_password = match kind {
        DbKind::Postgres => None,
        DbKind::Mariadb if user == "root" => config.password.clone().or(password.clone()),
        DbKind::Mariadb => first_env(service, &["MARIADB_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD"])
            .map(|(_, v)| v.to_string()),
    }
    .map(Secret::new);
    let password = config.password.clone().or(password).map(Secret::new);
    let (data_dir, mount_at) = data_dir(service, kind);
    let storage = match &config.volume {
        Some(key) => {
            if !volumes.iter().any(|v| &v.key == key) {
                let known: Vec<&str> = volumes.iter().map(|v| v.key.as_str()).collect();
                return Err(Error::new(format!(
                    "{files}: x-budgie.database.volume: no volume {key:?} in the top-level \
                     volumes: section (volumes: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            }
            Storage::Volume { key: key.clone() }
        }
        None => data_mount(service, &data_dir).unwrap_or(Storage::Container),
    };
    let volume = match &storage {
        Storage::Volume { key } => Some(key.clone()),
        _ => None,
    };
    let problem = storage_problem(service, &storage, &data_dir, &mount_at);
    Ok(Database {
        service: service.name.clone(),
        kind,
        detected_by,
        user,
        name,
        password_var,
        password,
        admin_password,
        volume,
        data_dir,
        storage,
        problem,
    })
}

/// What keeps the server from keeping its data, with the fix; None when
/// nothing does.
fn storage_problem(
    service: &Service,
    storage: &Storage,
    data_dir: &str,
    mount_at: &str,
) -> Option<String> {
    let old = service
        .mounts
        .iter()
        .find(|m| m.target.trim_end_matches('/') == DEFAULT_DATA_DIR);
    if data_dir == PG18_DATA_DIR
        && matches!(storage, Storage::Container)
        && let Some(m) = old
    {
        return Some(format!(
            "service {} runs PostgreSQL 18 or later, which keeps its data in {PG18_DATA_DIR} and refuses to start with a volume at {}: mount it at {mount_at} instead (or set PGDATA={DEFAULT_DATA_DIR})",
            service.name, m.target
        ));
    }
    if matches!(storage, Storage::Container) {
        return Some(format!(
            "no volume holds the data of service {} ({data_dir}): it lives in an anonymous volume that the next recreated container does not get back; mount a named volume at {mount_at}",
            service.name
        ));
    }
    None
}

fn ambiguous(services: &[&Service]) -> DatabaseStatus {
    let mut candidates: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    candidates.sort();
    DatabaseStatus::Ambiguous { candidates }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn above() {
        assert!(at_or_above(
            "/var/lib/postgresql/data",
            "/var/lib/postgresql/data"
        ));
        assert!(at_or_above(
            "/var/lib/postgresql",
            "/var/lib/postgresql/data"
        ));
        assert!(at_or_above(
            "/var/lib/postgresql/",
            "/var/lib/postgresql/data/"
        ));
        assert!(at_or_above("/", "/var"));
        assert!(!at_or_above(
            "/var/lib/postgres",
            "/var/lib/postgresql/data"
        ));
        assert!(!at_or_above(
            "/var/lib/postgresql/data/x",
            "/var/lib/postgresql/data"
        ));
    }

    #[test]
    fn the_postgresql_family_is_known_by_its_images() {
        for server in [
            "postgres:16",
            "postgres",
            "docker.io/library/postgres:18-alpine",
            "docker.io/PostGIS/postgis:15-3.4",
            "timescale/timescaledb:latest-pg16",
            "timescale/timescaledb-ha:pg17",
            "pgvector/pgvector:pg16",
            "tensorchord/pgvecto-rs:pg14-v0.2.0",
            "paradedb/paradedb:latest",
            "supabase/postgres:15.1.0.147",
            "bitnami/postgresql:16",
            "ghcr.io/cloudnative-pg/postgresql:16.2",
            "ghcr.io/immich-app/postgres:14-vectorchord0.3.0@sha256:abc",
            "registry.example.com:5000/team/postgres:15",
            "localhost/budgie-postgres:15",
        ] {
            let kind = image_kind(server);
            // `budgie-postgres` is the test image: it only mentions.
            let want = if server.contains("budgie-postgres") {
                ImageKind::Mentions
            } else {
                ImageKind::Server
            };
            assert_eq!(kind, want, "{server}");
        }
        for other in [
            "eeshugerman/postgres-backup-s3:16",
            "prodrigestivill/postgres-backup-local",
            "prometheuscommunity/postgres-exporter",
            "postgrest/postgrest",
        ] {
            assert_eq!(image_kind(other), ImageKind::Mentions, "{other}");
        }
        assert_eq!(image_kind("redis:7"), ImageKind::Other);
        assert_eq!(image_kind("dpage/pgadmin4"), ImageKind::Other);
    }

    #[test]
    fn versions_come_from_the_tag() {
        assert_eq!(major_version("postgres:16"), Some(16));
        assert_eq!(major_version("postgres:18-alpine3.22"), Some(18));
        assert_eq!(major_version("postgres:17.6"), Some(17));
        assert_eq!(major_version("pgvector/pgvector:pg16"), Some(16));
        assert_eq!(major_version("timescale/timescaledb:2.14.2-pg16"), Some(16));
        assert_eq!(major_version("postgis/postgis:15-3.4"), Some(15));
        assert_eq!(major_version("postgres"), None);
        assert_eq!(major_version("postgres:latest"), None);
        assert_eq!(major_version("localhost:5000/postgres"), None);
        assert_eq!(repository("localhost:5000/x/postgres:16"), "x/postgres");
    }
}
