//! Finding the PostgreSQL service, its user, database, password and data volume.
//!
//! 1. `x-budgie.database.service`, if set (it must name a service).
//! 2. Services whose image names postgres, postgis or timescaledb. Several:
//!    those with `POSTGRES_*` variables or a named volume at or above the
//!    data directory; still several: ambiguous.
//! 3. No such image: services with `POSTGRES_*` variables.

use std::collections::BTreeMap;

use super::config::DatabaseConfig;
use super::model::{Database, DatabaseStatus, DetectedBy, MountKind, Secret, Service, Volume};
use crate::error::{Error, Result};

/// The data directory of the official images.
pub(crate) const DEFAULT_DATA_DIR: &str = "/var/lib/postgresql/data";

const IMAGE_WORDS: [&str; 3] = ["postgres", "postgis", "timescaledb"];

fn is_postgres_image(image: &str) -> bool {
    let lower = image.to_ascii_lowercase();
    IMAGE_WORDS.iter().any(|w| lower.contains(w))
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

fn data_dir(s: &Service) -> String {
    non_empty(s, "PGDATA")
        .unwrap_or(DEFAULT_DATA_DIR)
        .to_string()
}

/// Whether a mount at `target` holds `path` (the same directory or a parent).
pub(crate) fn at_or_above(target: &str, path: &str) -> bool {
    let t = target.trim_end_matches('/');
    let p = path.trim_end_matches('/');
    t.is_empty() || t == p || p.strip_prefix(t).is_some_and(|rest| rest.starts_with('/'))
}

/// The deepest named volume of `s` mounted at or above its data directory.
fn data_volume(s: &Service, dir: &str) -> Option<String> {
    s.mounts
        .iter()
        .filter_map(|m| match &m.kind {
            MountKind::Volume { key } if at_or_above(&m.target, dir) => Some((m.target.len(), key)),
            _ => None,
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, key)| key.clone())
}

/// Looks for the database service. `files` names the compose files in messages.
pub(crate) fn detect(
    services: &BTreeMap<String, Service>,
    volumes: &[Volume],
    config: &DatabaseConfig,
    files: &str,
) -> Result<DatabaseStatus> {
    let (service, detected_by) = if let Some(name) = &config.service {
        let Some(s) = services.get(name) else {
            let known: Vec<&str> = services.keys().map(String::as_str).collect();
            return Err(Error::new(format!(
                "{files}: x-budgie.database.service: no service {name:?} (services: {})",
                known.join(", ")
            )));
        };
        (s, DetectedBy::Config)
    } else {
        let by_image: Vec<&Service> = services
            .values()
            .filter(|s| s.image.as_deref().is_some_and(is_postgres_image))
            .collect();
        match by_image.as_slice() {
            [one] => (*one, DetectedBy::Image),
            [] => {
                let by_env: Vec<&Service> =
                    services.values().filter(|s| has_postgres_env(s)).collect();
                match by_env.as_slice() {
                    [] => return Ok(DatabaseStatus::None),
                    [one] => (*one, DetectedBy::Environment),
                    several => return Ok(ambiguous(several)),
                }
            }
            several => {
                let narrowed: Vec<&Service> = several
                    .iter()
                    .copied()
                    .filter(|s| has_postgres_env(s) || data_volume(s, &data_dir(s)).is_some())
                    .collect();
                match narrowed.as_slice() {
                    [one] => (*one, DetectedBy::Image),
                    [] => return Ok(ambiguous(several)),
                    more => return Ok(ambiguous(more)),
                }
            }
        }
    };
    settings(service, detected_by, volumes, config, files).map(DatabaseStatus::Found)
}

/// The chosen service's user, database name, password and data volume
/// (`x-budgie.database` first, then its environment, then the defaults).
/// A configured volume must be declared.
fn settings(
    service: &Service,
    detected_by: DetectedBy,
    volumes: &[Volume],
    config: &DatabaseConfig,
    files: &str,
) -> Result<Database> {
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
    let password = non_empty(service, "POSTGRES_PASSWORD").map(Secret::new);
    let data_dir = data_dir(service);
    let volume = match &config.volume {
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
            Some(key.clone())
        }
        None => data_volume(service, &data_dir),
    };
    Ok(Database {
        service: service.name.clone(),
        detected_by,
        user,
        name,
        password_var,
        password,
        volume,
        data_dir,
    })
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
    fn images() {
        assert!(is_postgres_image("postgres:16"));
        assert!(is_postgres_image("docker.io/PostGIS/postgis:15-3.4"));
        assert!(is_postgres_image("timescale/timescaledb:latest-pg16"));
        assert!(!is_postgres_image("redis"));
    }
}
