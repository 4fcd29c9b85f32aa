//! The model's values: the [`Project`] that `load` returns,
//! its services, mounts, volumes and database, the options it is loaded
//! with, and [`Secret`] for the values that must never be printed.
//!
//! They live here rather than in `mod.rs` so that the files which build them
//! (`load.rs`, `database.rs`, `name.rs`...) import them without importing
//! `mod.rs`, which re-exports those files' items: that would be an import
//! loop.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use super::config::{BudgieConfig, Quiesce};

/// What the user told budigie about where the project is.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The project directory (`-C`, else the current directory).
    pub directory: PathBuf,
    /// `-f/--file`, in order. Empty: `COMPOSE_FILE`, else discovery.
    pub files: Vec<PathBuf>,
    /// `-p/--project-name`.
    pub project_name: Option<String>,
    /// The process environment. Passed in (not read from `std::env`) so tests
    /// and fuzzing control it. It wins over the project's `.env`.
    pub env: BTreeMap<String, String>,
}

/// Where the project name came from, in compose's order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NameSource {
    /// `-p/--project-name`
    Flag,
    /// `COMPOSE_PROJECT_NAME` (process environment or `.env`)
    Environment,
    /// top-level `name:`
    ComposeFile,
    /// the project directory's name, normalized
    Directory,
}

/// A resolved compose project.
#[derive(Debug, Clone, Serialize)]
pub struct Project {
    /// The project name as the compose tools will use it (labels, volume prefixes).
    pub name: String,
    pub name_source: NameSource,
    /// The project directory: relative paths and `.env` are resolved against it.
    pub dir: PathBuf,
    /// The compose files, in merge order (absolute paths).
    pub files: Vec<PathBuf>,
    /// Services by name (sorted).
    pub services: BTreeMap<String, Service>,
    /// Named volumes (not anonymous, not bind mounts), sorted by key.
    pub volumes: Vec<Volume>,
    /// The primary database service (the only one in most stacks), as
    /// far as it could be determined.
    pub database: DatabaseStatus,
    /// Every database service, the primary first (empty when none is
    /// found, or it is ambiguous).
    pub databases: Vec<Database>,
    /// The top-level `x-budgie:` configuration.
    pub config: BudgieConfig,
    /// The interpolation environment: the project's `.env` overlaid by the
    /// process environment. `BUDGIE_*` settings are read from here.
    #[serde(skip)]
    pub env: BTreeMap<String, String>,
    /// What compose would warn about: unset variables used without a
    /// default, several compose files found, `include:` ignored.
    pub warnings: Vec<String>,
}

/// One service of the merged model.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Service {
    pub name: String,
    /// `image:` after interpolation, if any.
    pub image: Option<String>,
    /// Whether the service has a `build:` section.
    pub build: bool,
    pub container_name: Option<String>,
    /// `env_file` entries overlaid by `environment` (map and list forms
    /// both count). Values may be secrets: print them only through
    /// [`Service::display_environment`].
    #[serde(skip)]
    pub environment: BTreeMap<String, String>,
    /// Every mount of the service, as parsed from short or long syntax.
    pub mounts: Vec<Mount>,
    /// Services this one depends on (`depends_on`, list or map form).
    pub depends_on: Vec<String>,
    /// Whether the service declares a healthcheck (and does not disable it).
    pub healthcheck: bool,
    pub profiles: Vec<String>,
}

/// A service mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub kind: MountKind,
    /// Path inside the container.
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum MountKind {
    /// A named volume: the key in the top-level `volumes:`.
    Volume { key: String },
    /// A bind mount of a host path (resolved against the project directory);
    /// `relative`: written relative (`./data`, `~/x`), so resolved here.
    Bind { source: String, relative: bool },
    /// An anonymous volume (`- /data`, or `type: volume` without a source).
    Anonymous,
    /// tmpfs, npipe, or anything that holds no data across restarts.
    Other { kind: String },
}

/// A named volume of the project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Volume {
    /// The key in the top-level `volumes:` section.
    pub key: String,
    /// The engine's name for it: `name:` if set, else `<project>_<key>`
    /// (for an external volume without `name:`, the key itself).
    pub name: String,
    /// `external: true`: created outside the project, never deleted by budgie.
    pub external: bool,
    /// `x-budgie.volumes.<key>.disposable: true`: no safety backup is taken
    /// before it is deleted (a cache, node_modules...).
    pub disposable: bool,
    /// The services that mount it (sorted).
    pub services: Vec<String>,
    /// Those of them that mount it read-write: what must be still while it
    /// is archived.
    pub writers: Vec<String>,
    /// `x-budgie.volumes.<key>.quiesce`: how the writers are kept still
    /// while a running stack's volume is archived.
    pub quiesce: Quiesce,
    /// Whether it holds the database's data directory.
    pub database: bool,
}

/// The result of looking for the PostgreSQL service.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum DatabaseStatus {
    Found(Box<Database>),
    /// No service looks like PostgreSQL.
    None,
    /// Several services could be the database and `x-budgie.database.service`
    /// does not say which.
    Ambiguous {
        candidates: Vec<String>,
    },
}

/// How the database service was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DetectedBy {
    /// `x-budgie.database.service`
    Config,
    /// the image is a PostgreSQL server of the family (postgres, postgis,
    /// timescaledb, pgvector...)
    Image,
    /// `POSTGRES_*` variables in its environment
    Environment,
}

/// The kind of database server a service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbKind {
    Postgres,
    /// MariaDB or MySQL (one client protocol, one dump format).
    Mariadb,
}

impl Database {
    /// Names the database across the stack's servers (two services may
    /// both hold a database `postgres`): `service/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.service, self.name)
    }
}

impl DbKind {
    /// The server's name, as users know it.
    pub fn label(self) -> &'static str {
        match self {
            DbKind::Postgres => "PostgreSQL",
            DbKind::Mariadb => "MariaDB/MySQL",
        }
    }
}

/// A database service of the project.
#[derive(Debug, Clone, Serialize)]
pub struct Database {
    pub service: String,
    pub kind: DbKind,
    pub detected_by: DetectedBy,
    /// `POSTGRES_USER` (or `x-budgie.database.user`), default `postgres`.
    pub user: String,
    /// `POSTGRES_DB` (or `x-budgie.database.name`), default the user.
    pub name: String,
    /// The name of the variable holding the password (`POSTGRES_PASSWORD`,
    /// or `POSTGRES_PASSWORD_FILE`), if any.
    pub password_var: Option<String>,
    /// The password, when the compose files or `.env` give it.
    pub password: Option<Secret>,
    /// MariaDB/MySQL: root's password (`MARIADB_ROOT_PASSWORD`), which a
    /// restore needs to create the scratch database and its loader
    /// account. Never printed.
    #[serde(skip)]
    pub admin_password: Option<Secret>,
    /// The key of the named volume holding the data directory, if any.
    pub volume: Option<String>,
    /// The data directory inside the container (`PGDATA`, else the
    /// image's: `/var/lib/postgresql/data` up to PostgreSQL 17,
    /// `/var/lib/postgresql/18/docker` from 18).
    pub data_dir: String,
    /// Where the data directory really lives.
    pub storage: Storage,
    /// What keeps the server from keeping its data (no volume holds it, or
    /// a PostgreSQL 18 volume at the old path), with the fix.
    pub problem: Option<String>,
}

impl Database {
    /// A MariaDB/MySQL service that names no database (no
    /// `MARIADB_DATABASE`, no `x-budgie` name): every database its account
    /// owns is backed up, in one dump, and restored one by one.
    pub fn all_databases(&self) -> bool {
        self.kind == DbKind::Mariadb && self.name.is_empty()
    }

    /// The name for messages: the database's, or for
    /// [`Database::all_databases`] what it stands for.
    pub fn shown_name(&self) -> String {
        if self.all_databases() {
            format!("(every database of {})", self.user)
        } else {
            self.name.clone()
        }
    }
}

/// Where a database's data directory lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Storage {
    /// A named volume (its key).
    Volume { key: String },
    /// A host directory (bind mount).
    Bind { path: String },
    /// Neither: an anonymous volume of the container, not given back to
    /// the next container.
    Container,
}

/// A value that must never be printed: Debug, Display and Serialize all show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The real value: only for passing to a child process's environment.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// `value` with the password of every `scheme://user:password@` in it
/// replaced by `***`.
fn mask_url_password(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..=colon]);
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Whether an environment variable's name says its value is a secret:
/// it contains PASSWORD, PASSWD, SECRET, TOKEN, API_KEY, PRIVATE_KEY or
/// CREDENTIAL, or one of its `_`-separated words is PASS or PASSPHRASE.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if upper.split('_').any(|w| matches!(w, "PASS" | "PASSPHRASE")) {
        return true;
    }
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

impl Service {
    /// The environment as it may be shown: the values of secret-bearing
    /// variables as `***`, and in other values the password of a URL
    /// (`scheme://user:PASSWORD@host`) and any of `secrets` (the project's)
    /// found inside a longer value (`host=db password=...`) as `***`. A
    /// value that merely equals a secret is this variable's own (a user
    /// name that happens to be the password too) and is shown.
    pub fn display_environment(&self, secrets: &[String]) -> BTreeMap<String, String> {
        self.environment
            .iter()
            .map(|(k, v)| {
                let shown = if is_secret_name(k) && !v.is_empty() {
                    "***".to_string()
                } else {
                    let mut shown = mask_url_password(v);
                    for s in secrets.iter().filter(|s| s.as_str() != v) {
                        shown = shown.replace(s.as_str(), "***");
                    }
                    shown
                };
                (k.clone(), shown)
            })
            .collect()
    }

    /// The named volumes this service mounts (keys).
    pub fn volume_keys(&self) -> impl Iterator<Item = &str> {
        self.mounts.iter().filter_map(|m| match &m.kind {
            MountKind::Volume { key } => Some(key.as_str()),
            _ => None,
        })
    }
}

impl Project {
    /// The database, or an error that says why there is none.
    pub fn database(&self) -> crate::error::Result<&Database> {
        match &self.database {
            DatabaseStatus::Found(db) => Ok(db),
            DatabaseStatus::None => Err(crate::error::Error::new(format!(
                "no PostgreSQL service found in {}",
                self.files_display()
            ))
            .hint("name it in the compose file: x-budgie:\n  database:\n    service: <name>")),
            DatabaseStatus::Ambiguous { candidates } => Err(crate::error::Error::new(format!(
                "several services could be the database: {}",
                candidates.join(", ")
            ))
            .hint(format!(
                "say which one in the compose file: x-budgie:\n  database:\n    service: {}",
                candidates[0]
            ))),
        }
    }

    /// The named volume with this key.
    pub fn volume(&self, key: &str) -> Option<&Volume> {
        self.volumes.iter().find(|v| v.key == key)
    }

    /// The named volume with this key — or, failing that, this engine name
    /// (`shop_uploads`, as `status` and the engines show it) — or a usage
    /// error listing the keys.
    pub fn volume_or_usage(&self, key: &str) -> crate::error::Result<&Volume> {
        let by_name = || self.volumes.iter().find(|v| v.name == key);
        self.volume(key).or_else(by_name).ok_or_else(|| {
            let known: Vec<&str> = self.volumes.iter().map(|v| v.key.as_str()).collect();
            crate::error::Error::usage(format!(
                "unknown volume '{key}' (named volumes: {})",
                known.join(", ")
            ))
        })
    }

    /// An image to create docker's holder container from when reading or
    /// writing the volume (it never runs, so any local image will do): a
    /// service's that mounts the volume, else any service's.
    pub fn image_for_volume(&self, v: &Volume) -> Option<String> {
        v.services
            .iter()
            .filter_map(|s| self.services.get(s))
            .chain(self.services.values())
            .find_map(|s| s.image.clone())
    }

    /// Checks that every name is a service of the project (exit 2 otherwise).
    pub fn check_services(&self, names: &[String]) -> crate::error::Result<()> {
        for n in names {
            if !self.services.contains_key(n) {
                let known: Vec<&str> = self.services.keys().map(String::as_str).collect();
                return Err(crate::error::Error::usage(format!(
                    "unknown service '{n}' (services of project {}: {})",
                    self.name,
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The compose files as one human string.
    pub fn files_display(&self) -> String {
        self.files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Every secret value the project knows (passwords and the like from
    /// service environments and `.env`), longest first.
    pub fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, v) in self.secret_pairs() {
            if v.len() >= 3 && !out.contains(&v) {
                out.push(v);
            }
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.len()));
        out
    }

    /// The secret-bearing variables and their values: from the services'
    /// environments, `.env`, and the database's password.
    fn secret_pairs(&self) -> Vec<(String, String)> {
        let from_services = self.services.values().flat_map(|s| s.environment.iter());
        let mut out: Vec<(String, String)> = from_services
            .chain(self.env.iter())
            .filter(|(k, v)| is_secret_name(k) && !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for db in &self.databases {
            if let (Some(var), Some(p)) = (&db.password_var, &db.password) {
                out.push((var.clone(), p.expose().to_string()));
            }
        }
        out
    }

    /// The host paths services mount writable (bind mounts, not `:ro`),
    /// each with the services that mount it, sorted by path. Whether a path
    /// is a directory (and not a socket or a single file) is for the caller
    /// to look.
    pub fn bind_mounts(&self) -> Vec<(String, Vec<String>)> {
        self.bind_mounts_where(|m| !m.read_only)
    }

    /// The bind mounts `keep` keeps, grouped as [`Project::bind_mounts`]
    /// groups them: each host path with the services that mount it.
    pub fn bind_mounts_where(&self, keep: impl Fn(&Mount) -> bool) -> Vec<(String, Vec<String>)> {
        let mut by_path: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in self.services.values() {
            for m in &s.mounts {
                if let MountKind::Bind { source, .. } = &m.kind
                    && keep(m)
                {
                    let users = by_path.entry(source.clone()).or_default();
                    if !users.contains(&s.name) {
                        users.push(s.name.clone());
                    }
                }
            }
        }
        by_path.into_iter().collect()
    }

    /// Every database service, the primary first.
    pub fn databases(&self) -> &[Database] {
        &self.databases
    }

    /// The database of service `service`, or — none named — the only one;
    /// else a usage error that lists them.
    pub fn database_of(&self, service: Option<&str>) -> crate::error::Result<&Database> {
        let names = || {
            self.databases
                .iter()
                .map(|d| d.service.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.databases.is_empty() {
            return self.database();
        }
        match service {
            Some(s) => self
                .databases
                .iter()
                .find(|d| d.service == s)
                .ok_or_else(|| {
                    crate::error::Error::usage(format!(
                        "service {s} is not a database of project {} (databases: {})",
                        self.name,
                        names()
                    ))
                }),
            None if self.databases.len() > 1 => Err(crate::error::Error::usage(format!(
                "project {} has {} databases ({}): say which with --service",
                self.name,
                self.databases.len(),
                names()
            ))
            .hint(format!(
                "for example: --service {}",
                self.databases[0].service
            ))),
            None => self.database(),
        }
    }

    /// The database whose data the named volume `key` holds.
    pub fn database_in_volume(&self, key: &str) -> Option<&Database> {
        self.databases
            .iter()
            .find(|d| d.volume.as_deref() == Some(key))
    }

    /// Whether backup file names carry the service (more than one database).
    pub fn names_services(&self) -> bool {
        self.databases.len() > 1
    }

    /// The names budgie prints exactly: the project's, the services', the
    /// containers', the volumes' keys and engine names.
    pub fn names(&self) -> Vec<String> {
        let mut out = vec![self.name.clone()];
        for s in self.services.values() {
            out.push(s.name.clone());
            out.extend(s.container_name.clone());
        }
        for v in &self.volumes {
            out.push(v.key.clone());
            out.push(v.name.clone());
        }
        out.retain(|n| !n.is_empty());
        out
    }

    /// A tool's output (a compose tool may echo `-e POSTGRES_PASSWORD=...`)
    /// with the secrets hidden by what they are: `KEY=value` and `KEY: value`
    /// of a secret-bearing key, and a secret value standing on its own — but
    /// never inside a name of the project, which prints exactly whatever a
    /// password happens to equal.
    pub fn redact_output(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (k, v) in self.secret_pairs() {
            for sep in ["=", ": ", ":", "=\"", "='"] {
                out = out.replace(&format!("{k}{sep}{v}"), &format!("{k}{sep}***"));
            }
        }
        let secrets = self.secrets();
        if secrets.is_empty() {
            return out;
        }
        // Bytes inside a name are kept; a secret elsewhere is masked.
        let mut kept = vec![false; out.len()];
        for name in self.names() {
            for (i, _) in out.match_indices(name.as_str()) {
                kept[i..i + name.len()].iter_mut().for_each(|k| *k = true);
            }
        }
        let mut masked = vec![false; out.len()];
        for s in &secrets {
            for (i, _) in out.match_indices(s.as_str()) {
                if !kept[i..i + s.len()].iter().any(|k| *k) {
                    masked[i..i + s.len()].iter_mut().for_each(|m| *m = true);
                }
            }
        }
        let mut result = String::with_capacity(out.len());
        let mut in_mask = false;
        for (i, c) in out.char_indices() {
            if masked[i] {
                if !in_mask {
                    result.push_str("***");
                }
                in_mask = true;
            } else {
                in_mask = false;
                result.push(c);
            }
        }
        result
    }
}
