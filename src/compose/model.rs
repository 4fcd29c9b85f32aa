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

use super::config::BudgieConfig;

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
    /// The PostgreSQL service, as far as it could be determined.
    pub database: DatabaseStatus,
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
    /// [`Project::redact`] or [`Service::display_environment`].
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
    /// A bind mount of a host path (resolved against the project directory).
    Bind { source: String },
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
    /// Whether it holds the database's data directory.
    pub database: bool,
}

/// The result of looking for the PostgreSQL service.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum DatabaseStatus {
    Found(Database),
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
    /// the image name contains postgres, postgis or timescaledb
    Image,
    /// `POSTGRES_*` variables in its environment
    Environment,
}

/// The project's PostgreSQL service.
#[derive(Debug, Clone, Serialize)]
pub struct Database {
    pub service: String,
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
    /// The key of the named volume holding the data directory, if any.
    pub volume: Option<String>,
    /// The data directory inside the container (`PGDATA`, default
    /// `/var/lib/postgresql/data`).
    pub data_dir: String,
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

/// Whether an environment variable's name says its value is a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
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
    /// The environment with secret values replaced by `***`.
    pub fn display_environment(&self) -> BTreeMap<String, String> {
        self.environment
            .iter()
            .map(|(k, v)| {
                let shown = if is_secret_name(k) && !v.is_empty() {
                    "***".to_string()
                } else {
                    v.clone()
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

    /// The image of a service that mounts the volume: what budgie reads or
    /// writes the volume with on docker (which has no `volume export`).
    pub fn image_for_volume(&self, v: &Volume) -> Option<String> {
        v.services
            .iter()
            .filter_map(|s| self.services.get(s))
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
        let from_services = self.services.values().flat_map(|s| s.environment.iter());
        for (k, v) in from_services.chain(self.env.iter()) {
            if is_secret_name(k) && v.len() >= 3 && !out.contains(v) {
                out.push(v.clone());
            }
        }
        if let DatabaseStatus::Found(db) = &self.database
            && let Some(p) = &db.password
            && p.expose().len() >= 3
            && !out.iter().any(|s| s == p.expose())
        {
            out.push(p.expose().to_string());
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.len()));
        out
    }

    /// `text` with every known secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets() {
            out = out.replace(&s, "***");
        }
        out
    }
}
