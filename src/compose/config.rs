//! The `x-budgie:` section: configuration that compose itself ignores.
//!
//! ```yaml
//! x-budgie:
//!   database:            # all optional; detected when absent
//!     service: db
//!     user: app
//!     name: app
//!     volume: pgdata
//!   databases:           # several database services: a list of names, or
//!     db: {}             # a mapping with settings for each (user, name,
//!     auth-db:           # volume, password) where the environment does
//!       user: auth       # not say
//!       password: ${AUTH_DB_PASSWORD}
//!   backup:
//!     dir: backups        # relative to the project directory
//!     compress: zstd      # none | gzip | zstd
//!     format: custom      # plain | custom | directory (PostgreSQL)
//!     retention: { daily: 7, weekly: 4, monthly: 6 }
//!     remote: s3://bucket/prefix   # a copy of every backup there
//!     s3: { endpoint: http://127.0.0.1:9000, region: eu-west-1, path_style: true }
//!   volumes:
//!     node_modules: { disposable: true }
//! ```
//!
//! Flags and `BUDGIE_*` variables override these values; that overlay happens
//! where the command's settings are built, not here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_yaml_ng::{Mapping, Value};

use super::yaml::{as_bool, describe, key_display, untag};

/// The parsed `x-budgie:` section (all fields optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BudgieConfig {
    pub database: DatabaseConfig,
    /// `databases:`: the database services, each with its settings.
    pub databases: BTreeMap<String, DatabaseConfig>,
    pub backup: BackupConfig,
    /// Per-volume settings by volume key.
    pub volumes: BTreeMap<String, VolumeConfig>,
    pub notify: NotifyConfig,
    pub remote: RemoteConfig,
}

/// `x-budgie.remote`: the stack driven on an engine on another machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RemoteConfig {
    /// `bind_mounts: server`: the bind mounts' paths exist on the engine's
    /// machine too (a checkout at the same path), so budgie does not warn.
    pub bind_mounts: BindMounts,
}

/// Where the paths of the bind mounts are meant to be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BindMounts {
    /// As written: relative ones are this machine's paths (the default).
    #[default]
    Client,
    /// They exist on the engine's machine as well.
    Server,
}

/// `x-budgie.notify`: URLs pinged after each `budgie backup`
/// (healthchecks.io-style). Shown without their path: a ping URL's path is
/// its secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NotifyConfig {
    #[serde(serialize_with = "url_host_only")]
    pub on_success: Option<String>,
    #[serde(serialize_with = "url_host_only")]
    pub on_failure: Option<String>,
}

/// `https://hc-ping.com/***` for a URL (null when unset).
fn url_host_only<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(url) => {
            let head = url
                .split_once("://")
                .map(|(scheme, rest)| {
                    format!("{scheme}://{}", rest.split('/').next().unwrap_or(""))
                })
                .unwrap_or_default();
            s.serialize_str(&format!("{head}/***"))
        }
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DatabaseConfig {
    pub service: Option<String>,
    pub user: Option<String>,
    pub name: Option<String>,
    pub volume: Option<String>,
    /// The password, for a service whose environment does not give it
    /// (usually `${VAR}`, from `.env`). Never printed.
    #[serde(serialize_with = "masked")]
    pub password: Option<String>,
}

/// A secret as `***` (or null when unset).
fn masked<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("***"),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BackupConfig {
    /// As written (relative paths are against the project directory).
    pub dir: Option<PathBuf>,
    pub compress: Option<Compression>,
    pub format: Option<DumpFormat>,
    pub retention: Retention,
    /// `remote: s3://bucket/prefix`, checked when read.
    pub remote: Option<String>,
    /// `encrypt: [age1..., ssh-ed25519 ...]`: age recipients every dump and archive is
    /// encrypted to (checked when read).
    pub encrypt: Vec<String>,
    pub s3: S3Config,
}

pub use crate::storage::remote::S3Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Retention {
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            daily: 7,
            weekly: 4,
            monthly: 6,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VolumeConfig {
    pub disposable: bool,
    /// How its writers are kept still while a running stack's volume is
    /// archived (`backup --volume`, `--all`).
    pub quiesce: Quiesce,
}

/// How the services that write to a volume are kept still while it is
/// archived on a running stack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quiesce {
    /// `pause`/`unpause` their containers: a short freeze, no restart; the
    /// copy is what a sudden power cut would leave (crash-consistent).
    #[default]
    Pause,
    /// Stop their containers and start them again after: a clean copy, a
    /// short downtime.
    Stop,
    /// Copy while they run: the archive may mix moments (for volumes whose
    /// writers can live with that, or that nobody writes in practice).
    None,
}

/// The format of a PostgreSQL dump: pg_dump's `--format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DumpFormat {
    /// SQL text (`.sql`, compressed as `compress` says): a file people
    /// read.
    #[default]
    Plain,
    /// pg_dump's custom format (`.dump`, compressed by pg_dump): restored
    /// with `pg_restore -j N`.
    Custom,
    /// pg_dump's directory format, dumped with `-j N`, kept as one tar
    /// file (`.dir.tar`).
    Directory,
}

impl DumpFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "plain" | "p" | "sql" => Some(DumpFormat::Plain),
            "custom" | "c" => Some(DumpFormat::Custom),
            "directory" | "d" => Some(DumpFormat::Directory),
            _ => None,
        }
    }
}

/// How a database dump is compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "off" | "false" | "" => Some(Compression::None),
            "gzip" | "gz" => Some(Compression::Gzip),
            "zstd" | "zst" => Some(Compression::Zstd),
            _ => None,
        }
    }
}

/// Parses the top-level `x-budgie:` value (absent or null: all defaults).
/// Errors name the key (`x-budgie.backup.compress: ...`) and what was expected.
pub(crate) fn parse(value: Option<&Value>) -> Result<BudgieConfig, String> {
    let mut config = BudgieConfig::default();
    let Some(root) = mapping(value, "x-budgie")? else {
        return Ok(config);
    };
    for (k, v) in root {
        let key = key_display(k);
        let path = format!("x-budgie.{key}");
        match key.as_str() {
            "database" => config.database = database(v, &path, true)?,
            "databases" => config.databases = databases(v, &path)?,
            "backup" => config.backup = backup(v, &path)?,
            "notify" => config.notify = notify(v, &path)?,
            "remote" => config.remote = remote(v, &path)?,
            "volumes" => {
                if let Some(volumes) = mapping(Some(v), &path)? {
                    for (vk, vv) in volumes {
                        let name = key_display(vk);
                        let vpath = format!("{path}.{name}");
                        config.volumes.insert(name, volume(vv, &vpath)?);
                    }
                }
            }
            _ => {
                return Err(unknown(
                    &path,
                    &[
                        "database",
                        "databases",
                        "backup",
                        "volumes",
                        "notify",
                        "remote",
                    ],
                ));
            }
        }
    }
    Ok(config)
}

/// One database's settings; `service:` only in the single `database:`
/// section (in `databases:` the key names the service).
fn database(v: &Value, path: &str, with_service: bool) -> Result<DatabaseConfig, String> {
    let mut out = DatabaseConfig::default();
    let Some(m) = mapping(Some(v), path)? else {
        return Ok(out);
    };
    let keys: &[&str] = if with_service {
        &["service", "user", "name", "volume", "password"]
    } else {
        &["user", "name", "volume", "password"]
    };
    for (k, v) in m {
        let key = key_display(k);
        let p = format!("{path}.{key}");
        let slot = match key.as_str() {
            "service" if with_service => &mut out.service,
            "user" => &mut out.user,
            "name" => &mut out.name,
            "volume" => &mut out.volume,
            "password" => &mut out.password,
            _ => return Err(unknown(&p, keys)),
        };
        *slot = non_empty_string(v, &p)?;
    }
    Ok(out)
}

/// `databases:`: a list of service names, or a mapping from service name
/// to its settings.
fn databases(v: &Value, path: &str) -> Result<BTreeMap<String, DatabaseConfig>, String> {
    let mut out = BTreeMap::new();
    match untag(v) {
        Value::Null => {}
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let name = non_empty_string(item, &p)?
                    .ok_or_else(|| expected(&p, "a service name", item))?;
                out.insert(name, DatabaseConfig::default());
            }
        }
        Value::Mapping(m) => {
            for (k, item) in m {
                let name = key_display(k);
                let p = format!("{path}.{name}");
                out.insert(name, database(item, &p, false)?);
            }
        }
        other => {
            return Err(expected(
                path,
                "a list of services or a mapping of their settings",
                other,
            ));
        }
    }
    Ok(out)
}

fn backup(v: &Value, path: &str) -> Result<BackupConfig, String> {
    let mut out = BackupConfig::default();
    let Some(m) = mapping(Some(v), path)? else {
        return Ok(out);
    };
    for (k, v) in m {
        let key = key_display(k);
        let p = format!("{path}.{key}");
        match key.as_str() {
            "dir" => out.dir = non_empty_string(v, &p)?.map(PathBuf::from),
            "compress" => {
                out.compress = match untag(v) {
                    Value::Null => None,
                    Value::Bool(false) => Some(Compression::None),
                    Value::String(s) if !s.is_empty() => Some(
                        Compression::parse(s)
                            .ok_or_else(|| expected(&p, "none, gzip or zstd", v))?,
                    ),
                    _ => return Err(expected(&p, "none, gzip or zstd", v)),
                }
            }
            "format" => {
                out.format = match untag(v) {
                    Value::Null => None,
                    Value::String(s) if !s.is_empty() => Some(
                        DumpFormat::parse(s)
                            .ok_or_else(|| expected(&p, "plain, custom or directory", v))?,
                    ),
                    _ => return Err(expected(&p, "plain, custom or directory", v)),
                }
            }
            "retention" => {
                let Some(r) = mapping(Some(v), &p)? else {
                    continue;
                };
                for (rk, rv) in r {
                    let rkey = key_display(rk);
                    let rp = format!("{p}.{rkey}");
                    let slot = match rkey.as_str() {
                        "daily" => &mut out.retention.daily,
                        "weekly" => &mut out.retention.weekly,
                        "monthly" => &mut out.retention.monthly,
                        _ => return Err(unknown(&rp, &["daily", "weekly", "monthly"])),
                    };
                    if let Some(n) = count(rv, &rp)? {
                        *slot = n;
                    }
                }
            }
            "remote" => {
                out.remote = non_empty_string(v, &p)?;
                if let Some(url) = &out.remote {
                    crate::storage::remote::Target::parse(url)
                        .map_err(|e| format!("{p}: {}", e.message))?;
                }
            }
            "s3" => out.s3 = s3(v, &p)?,
            "encrypt" => {
                out.encrypt = match untag(v) {
                    Value::Null => Vec::new(),
                    Value::Sequence(items) => items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| {
                            non_empty_string(item, &format!("{p}[{i}]"))?
                                .ok_or_else(|| expected(&format!("{p}[{i}]"), "a recipient", item))
                        })
                        .collect::<Result<Vec<_>, String>>()?,
                    _ => vec![
                        non_empty_string(v, &p)?
                            .ok_or_else(|| expected(&p, "a recipient or a list of them", v))?,
                    ],
                };
                for r in &out.encrypt {
                    crate::storage::crypt::recipient(r).map_err(|e| format!("{p}: {e}"))?;
                }
            }
            _ => {
                return Err(unknown(
                    &p,
                    &[
                        "dir",
                        "compress",
                        "format",
                        "retention",
                        "remote",
                        "s3",
                        "encrypt",
                    ],
                ));
            }
        }
    }
    Ok(out)
}

fn notify(v: &Value, path: &str) -> Result<NotifyConfig, String> {
    let mut out = NotifyConfig::default();
    let Some(m) = mapping(Some(v), path)? else {
        return Ok(out);
    };
    for (k, v) in m {
        let key = key_display(k);
        let p = format!("{path}.{key}");
        let slot = match key.as_str() {
            "on_success" => &mut out.on_success,
            "on_failure" => &mut out.on_failure,
            _ => return Err(unknown(&p, &["on_success", "on_failure"])),
        };
        *slot = non_empty_string(v, &p)?;
        if let Some(url) = slot.as_deref()
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!("{p}: expected an http:// or https:// URL"));
        }
    }
    Ok(out)
}

fn remote(v: &Value, path: &str) -> Result<RemoteConfig, String> {
    let mut out = RemoteConfig::default();
    for (k, v) in mapping(Some(v), path)?.into_iter().flatten() {
        let p = format!("{path}.{}", key_display(k));
        match key_display(k).as_str() {
            "bind_mounts" => {
                out.bind_mounts = match untag(v) {
                    Value::Null => BindMounts::Client,
                    Value::String(s) if s == "client" => BindMounts::Client,
                    Value::String(s) if s == "server" => BindMounts::Server,
                    _ => return Err(expected(&p, "server or client", v)),
                }
            }
            _ => return Err(unknown(&p, &["bind_mounts"])),
        }
    }
    Ok(out)
}

fn s3(v: &Value, path: &str) -> Result<S3Config, String> {
    let mut out = S3Config::default();
    let Some(m) = mapping(Some(v), path)? else {
        return Ok(out);
    };
    for (k, v) in m {
        let key = key_display(k);
        let p = format!("{path}.{key}");
        match key.as_str() {
            "endpoint" => out.endpoint = non_empty_string(v, &p)?,
            "region" => out.region = non_empty_string(v, &p)?,
            "path_style" => {
                out.path_style = match untag(v) {
                    Value::Null => None,
                    _ => Some(as_bool(v).ok_or_else(|| expected(&p, "true or false", v))?),
                }
            }
            k if k.contains("key")
                || k.contains("secret")
                || k.contains("token")
                || k.contains("password") =>
            {
                return Err(format!(
                    "{p}: budgie never reads S3 credentials from the compose file; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, or a profile in ~/.aws/credentials (AWS_PROFILE)"
                ));
            }
            _ => return Err(unknown(&p, &["endpoint", "region", "path_style"])),
        }
    }
    Ok(out)
}

fn volume(v: &Value, path: &str) -> Result<VolumeConfig, String> {
    let mut out = VolumeConfig::default();
    let Some(m) = mapping(Some(v), path)? else {
        return Ok(out);
    };
    for (k, v) in m {
        let key = key_display(k);
        let p = format!("{path}.{key}");
        match key.as_str() {
            "disposable" => {
                out.disposable = match untag(v) {
                    Value::Null => false,
                    _ => as_bool(v).ok_or_else(|| expected(&p, "true or false", v))?,
                }
            }
            "quiesce" => {
                out.quiesce = match untag(v) {
                    Value::Null => Quiesce::Pause,
                    Value::String(s) if s == "pause" => Quiesce::Pause,
                    Value::String(s) if s == "stop" => Quiesce::Stop,
                    Value::String(s) if s == "none" => Quiesce::None,
                    _ => return Err(expected(&p, "pause, stop or none", v)),
                }
            }
            _ => return Err(unknown(&p, &["disposable", "quiesce"])),
        }
    }
    Ok(out)
}

/// A mapping, or `None` for null/absent.
fn mapping<'a>(v: Option<&'a Value>, path: &str) -> Result<Option<&'a Mapping>, String> {
    match v.map(untag) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Mapping(m)) => Ok(Some(m)),
        Some(other) => Err(expected(path, "a mapping", other)),
    }
}

fn non_empty_string(v: &Value, path: &str) -> Result<Option<String>, String> {
    match untag(v) {
        Value::Null => Ok(None),
        Value::String(s) if !s.is_empty() => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(expected(path, "a non-empty string", other)),
    }
}

fn count(v: &Value, path: &str) -> Result<Option<u32>, String> {
    let what = "a whole number (0 or more)";
    match untag(v) {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| expected(path, what, v)),
        // Interpolated values are strings: `daily: ${KEEP_DAILY:-7}`.
        Value::String(s) => s
            .trim()
            .parse::<u32>()
            .map(Some)
            .map_err(|_| expected(path, what, v)),
        _ => Err(expected(path, what, v)),
    }
}

fn expected(path: &str, what: &str, found: &Value) -> String {
    format!("{path}: expected {what}, found {}", describe(found))
}

fn unknown(path: &str, known: &[&str]) -> String {
    format!("{path}: unknown key (known keys: {})", known.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(yaml: &str) -> Result<BudgieConfig, String> {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        parse(v.get("x-budgie"))
    }

    #[test]
    fn full() {
        let c = p("x-budgie:
  database: {service: db, user: app, name: appdb, volume: pgdata}
  backup:
    dir: backups
    compress: zstd
    format: Custom
    retention: {daily: 3, weekly: '2', monthly: 0}
  volumes:
    cache: {disposable: true}
    other: {disposable: 'no', quiesce: stop}
    empty:
")
        .unwrap();
        assert_eq!(c.database.service.as_deref(), Some("db"));
        assert_eq!(c.database.user.as_deref(), Some("app"));
        assert_eq!(c.database.name.as_deref(), Some("appdb"));
        assert_eq!(c.database.volume.as_deref(), Some("pgdata"));
        assert_eq!(c.backup.dir, Some(PathBuf::from("backups")));
        assert_eq!(c.backup.compress, Some(Compression::Zstd));
        assert_eq!(c.backup.format, Some(DumpFormat::Custom));
        assert_eq!(
            c.backup.retention,
            Retention {
                daily: 3,
                weekly: 2,
                monthly: 0
            }
        );
        assert!(c.volumes["cache"].disposable);
        assert!(!c.volumes["other"].disposable);
        assert!(!c.volumes["empty"].disposable);
        assert_eq!(c.volumes["other"].quiesce, Quiesce::Stop);
        assert_eq!(c.volumes["empty"].quiesce, Quiesce::Pause);
    }

    #[test]
    fn defaults() {
        assert_eq!(p("a: 1").unwrap(), BudgieConfig::default());
        assert_eq!(p("x-budgie:").unwrap(), BudgieConfig::default());
        let c = p("x-budgie: {backup: {retention: {daily: 1}}}").unwrap();
        assert_eq!(c.backup.retention.weekly, 4);
        assert_eq!(c.backup.retention.daily, 1);
    }

    #[test]
    fn errors() {
        assert_eq!(
            p("x-budgie: {backup: {format: tar}}").unwrap_err(),
            "x-budgie.backup.format: expected plain, custom or directory, found \"tar\""
        );
        assert_eq!(
            p("x-budgie: {backup: {compress: lz4}}").unwrap_err(),
            "x-budgie.backup.compress: expected none, gzip or zstd, found \"lz4\""
        );
        assert_eq!(
            p("x-budgie: {backup: {compresss: gzip}}").unwrap_err(),
            "x-budgie.backup.compresss: unknown key (known keys: dir, compress, format, retention, remote, s3, encrypt)"
        );
        assert!(
            p("x-budgie: {backup: {remote: 'https://bucket/x'}}")
                .unwrap_err()
                .starts_with("x-budgie.backup.remote: https://bucket/x: not an s3:// URL")
        );
        assert!(
            p("x-budgie: {backup: {s3: {aws_secret_access_key: x}}}")
                .unwrap_err()
                .contains("never reads S3 credentials from the compose file")
        );
        let c = p("x-budgie: {backup: {remote: 's3://bucket/p', s3: {endpoint: 'http://127.0.0.1:9000', path_style: true}}}").unwrap();
        assert_eq!(c.backup.remote.as_deref(), Some("s3://bucket/p"));
        assert_eq!(
            c.backup.s3.endpoint.as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(c.backup.s3.path_style, Some(true));
        assert!(
            p("x-budgie: 5")
                .unwrap_err()
                .starts_with("x-budgie: expected a mapping")
        );
        assert!(
            p("x-budgie: {backup: {retention: {daily: -1}}}")
                .unwrap_err()
                .starts_with("x-budgie.backup.retention.daily: expected a whole number")
        );
        assert!(
            p("x-budgie: {database: {service: [a]}}")
                .unwrap_err()
                .starts_with(
                    "x-budgie.database.service: expected a non-empty string, found a list"
                )
        );
        assert!(
            p("x-budgie: {volumes: {a: {disposable: maybe}}}")
                .unwrap_err()
                .starts_with("x-budgie.volumes.a.disposable: expected true or false")
        );
        assert!(
            p("x-budgie: {volumes: {a: {quiesce: freeze}}}")
                .unwrap_err()
                .starts_with("x-budgie.volumes.a.quiesce: expected pause, stop or none")
        );
        assert!(
            p("x-budgie: {foo: 1}")
                .unwrap_err()
                .starts_with("x-budgie.foo: unknown key")
        );
    }
}
