//! Loading a project: discovery, `.env`, each file parsed, merge keys
//! resolved, interpolated and normalized, the files merged, and the model
//! built from the result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use super::config;
use super::database;
use super::discover;
use super::dotenv;
use super::file;
use super::merge;
use super::model::{LoadOptions, Mount, MountKind, Project, Service, Volume};
use super::mounts::RawMount;
use super::name;
use super::normalize::MountOrigins;
use super::yaml;
use crate::error::{Error, Result};

/// Loads the project the options describe.
pub fn load(opts: &LoadOptions) -> Result<Project> {
    let dir = discover::project_dir(&opts.directory)?;
    let mut warnings = Vec::new();

    let process = |k: &str| opts.env.get(k).cloned();
    let mut env = dotenv::read(&dir.join(".env"), &process)?.unwrap_or_default();
    env.extend(opts.env.iter().map(|(k, v)| (k.clone(), v.clone())));

    let files = discover::compose_files(&dir, &opts.files, &env, &mut warnings)?;
    let files_display = files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");

    let Merged {
        root,
        origins,
        name_file,
    } = read_and_merge(&files, &dir, &env, &mut warnings)?;

    let config =
        config::parse(root.get("x-budgie")).map_err(|e| Error::new(e).context(&files_display))?;

    let file_name = root
        .get("name")
        .and_then(Value::as_str)
        .zip(name_file.or(files.last().map(PathBuf::as_path)));
    let (project_name, name_source) =
        name::resolve(opts.project_name.as_deref(), &env, file_name, &dir)?;

    // Services.
    let services_value = root
        .get("services")
        .and_then(Value::as_mapping)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Error::new(format!("no services in {files_display}")))?;
    let declared = declared_volumes(&root);
    let mut services = BTreeMap::new();
    for (k, v) in services_value {
        let Some(svc_name) = k.as_str() else { continue };
        let service = build_service(svc_name, v, &dir, &env, &declared, &origins, &files_display)?;
        services.insert(svc_name.to_string(), service);
    }
    inherit_volumes_from(&mut services, services_value);

    let mut volumes = named_volumes(&declared, &services, &config, &project_name, &files_display)?;

    let found = database::detect(&services, &volumes, &config, &files_display)?;
    for db in &found.all {
        if let Some(key) = &db.volume {
            for v in volumes.iter_mut().filter(|v| &v.key == key) {
                v.database = true;
            }
        }
    }

    Ok(Project {
        name: project_name,
        name_source,
        dir,
        files,
        services,
        volumes,
        database: found.primary,
        databases: found.all,
        config,
        env,
        warnings,
    })
}

/// The compose files read and merged, with what the model needs to know
/// about where things came from.
struct Merged<'a> {
    /// The merged top level.
    root: Mapping,
    /// The file that last declared each service mount.
    origins: MountOrigins,
    /// The last file that sets `name:`.
    name_file: Option<&'a Path>,
}

/// Reads each file (see [`file::Reader`]: includes imported, extends
/// resolved), checks its `x-budgie:`, and merges it over the ones before.
/// Warns, once per variable, about variables used without a value, and
/// passes on what the reader warned about.
fn read_and_merge<'a>(
    files: &'a [PathBuf],
    dir: &Path,
    env: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<Merged<'a>> {
    let mut merged = Value::Mapping(Mapping::new());
    let mut reader = file::Reader::new();
    let mut name_file: Option<&Path> = None;
    for f in files {
        let root = reader.read(f, dir, env)?;
        if root.get("name").is_some_and(|n| !n.is_null()) {
            name_file = Some(f);
        }
        config::parse(root.get("x-budgie")).map_err(|e| Error::new(e).context(f.display()))?;
        merged = merge::merge(Some(merged), Value::Mapping(root), &mut Vec::new())
            .unwrap_or_else(|| Value::Mapping(Mapping::new()));
    }
    warnings.append(&mut reader.warnings);
    for (name, f) in &reader.missing {
        warnings.push(format!(
            "{}: the {name:?} variable is not set; defaulting to a blank string",
            f.display()
        ));
    }
    let root = match merged {
        Value::Mapping(m) => m,
        _ => Mapping::new(),
    };
    Ok(Merged {
        root,
        origins: reader.origins,
        name_file,
    })
}

/// `volumes_from: [SERVICE[:ro|:rw]]`: a service mounts the named volumes
/// of the services it names (and of those they name), so it counts among
/// their users. `container:NAME` entries are outside the project and are
/// left alone.
fn inherit_volumes_from(services: &mut BTreeMap<String, Service>, raw: &Mapping) {
    let from = |name: &str| -> Vec<(String, bool)> {
        match raw.get(name).and_then(|s| s.get("volumes_from")) {
            Some(Value::Sequence(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .filter(|s| !s.starts_with("container:"))
                .map(|s| {
                    let s = s.strip_prefix("service:").unwrap_or(s);
                    match s.rsplit_once(':') {
                        Some((svc, "ro")) => (svc.to_string(), true),
                        Some((svc, "rw")) => (svc.to_string(), false),
                        _ => (s.to_string(), false),
                    }
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let names: Vec<String> = services.keys().cloned().collect();
    for name in names {
        let mut todo = from(&name);
        let mut seen = vec![name.clone()];
        let mut inherited = Vec::new();
        while let Some((other, read_only)) = todo.pop() {
            if seen.contains(&other) {
                continue;
            }
            seen.push(other.clone());
            if let Some(s) = services.get(&other) {
                for m in s
                    .mounts
                    .iter()
                    .filter(|m| matches!(m.kind, MountKind::Volume { .. }))
                {
                    inherited.push(Mount {
                        read_only: read_only || m.read_only,
                        ..m.clone()
                    });
                }
            }
            todo.extend(from(&other));
        }
        if let Some(s) = services.get_mut(&name) {
            for m in inherited {
                if !s.mounts.iter().any(|own| own.target == m.target) {
                    s.mounts.push(m);
                }
            }
        }
    }
}

/// The top-level `volumes:` declarations by key (a null declaration is an
/// empty mapping).
fn declared_volumes(root: &Mapping) -> BTreeMap<String, Mapping> {
    match root.get("volumes") {
        Some(Value::Mapping(m)) => m
            .iter()
            .filter_map(|(k, v)| {
                let decl = v.as_mapping().cloned().unwrap_or_default();
                k.as_str().map(|k| (k.to_string(), decl))
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The model's named volumes: every declared volume, with its engine name,
/// its `x-budgie.volumes` settings and the services that mount it. Each
/// `x-budgie.volumes` key must be declared.
fn named_volumes(
    declared: &BTreeMap<String, Mapping>,
    services: &BTreeMap<String, Service>,
    config: &config::BudgieConfig,
    project_name: &str,
    files_display: &str,
) -> Result<Vec<Volume>> {
    for key in config.volumes.keys() {
        if !declared.contains_key(key) {
            return Err(Error::new(format!(
                "{files_display}: x-budgie.volumes.{key}: no volume {key:?} in the top-level \
                 volumes: section"
            )));
        }
    }
    Ok(declared
        .iter()
        .map(|(key, decl)| {
            let (real_name, external) = volume_name(key, decl, project_name);
            let mut users: Vec<String> = services
                .values()
                .filter(|s| s.volume_keys().any(|k| k == key))
                .map(|s| s.name.clone())
                .collect();
            users.sort();
            let writers: Vec<String> = users
                .iter()
                .filter(|u| {
                    services[u.as_str()].mounts.iter().any(|m| {
                        !m.read_only && matches!(&m.kind, MountKind::Volume { key: k } if k == key)
                    })
                })
                .cloned()
                .collect();
            let settings = config.volumes.get(key);
            Volume {
                key: key.clone(),
                name: real_name,
                external,
                disposable: settings.is_some_and(|c| c.disposable),
                services: users,
                writers,
                quiesce: settings.map(|c| c.quiesce).unwrap_or_default(),
                database: false,
            }
        })
        .collect())
}

/// The engine's name for a volume, and whether it is external.
fn volume_name(key: &str, decl: &Mapping, project: &str) -> (String, bool) {
    let explicit = decl
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty());
    let (external, legacy) = match decl.get("external") {
        Some(Value::Bool(b)) => (*b, None),
        Some(Value::Mapping(e)) => (
            true,
            e.get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty()),
        ),
        _ => (false, None),
    };
    let name = match (explicit, legacy) {
        (Some(n), _) | (None, Some(n)) => n.to_string(),
        (None, None) if external => key.to_string(),
        (None, None) => format!("{project}_{key}"),
    };
    (name, external)
}

/// A merged service as the model's [`Service`].
fn build_service(
    name: &str,
    v: &Value,
    dir: &Path,
    env: &BTreeMap<String, String>,
    declared: &BTreeMap<String, Mapping>,
    origins: &MountOrigins,
    files_display: &str,
) -> Result<Service> {
    let empty = Mapping::new();
    let m = v.as_mapping().unwrap_or(&empty);
    let string = |key: &str| m.get(key).and_then(Value::as_str).map(str::to_string);

    let mounts = service_mounts(name, m, declared, origins, files_display)?;
    let environment = service_environment(name, m, dir, env)?;

    let mut depends_on: Vec<String> = match m.get("depends_on") {
        Some(Value::Mapping(d)) => d
            .keys()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    depends_on.sort();
    depends_on.dedup();

    let profiles = match m.get("profiles") {
        Some(Value::Sequence(p)) => p
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };

    Ok(Service {
        name: name.to_string(),
        image: string("image"),
        build: m.get("build").is_some_and(|b| !b.is_null()),
        container_name: string("container_name"),
        environment,
        mounts,
        depends_on,
        healthcheck: has_healthcheck(m),
        profiles,
    })
}

/// The service's mounts as the model's [`Mount`]s. A volume mount must name
/// a declared volume; the error names the file that declared the mount.
fn service_mounts(
    name: &str,
    m: &Mapping,
    declared: &BTreeMap<String, Mapping>,
    origins: &MountOrigins,
    files_display: &str,
) -> Result<Vec<Mount>> {
    let mut mounts = Vec::new();
    if let Some(Value::Mapping(vols)) = m.get("volumes") {
        for raw in vols.values().filter_map(RawMount::from_value) {
            let kind = match (raw.kind.as_str(), raw.source) {
                ("volume", Some(key)) => {
                    if !declared.contains_key(&key) {
                        let origin = origins
                            .get(&(name.to_string(), raw.target.clone()))
                            .map(|f| f.display().to_string())
                            .unwrap_or_else(|| files_display.to_string());
                        return Err(Error::new(format!(
                            "{origin}: service {name:?} refers to undefined volume {key:?}"
                        ))
                        .hint(format!(
                            "declare it in the top-level volumes: section, or write ./{key} \
                             for a bind mount"
                        )));
                    }
                    MountKind::Volume { key }
                }
                ("volume", None) => MountKind::Anonymous,
                ("bind", Some(source)) => MountKind::Bind {
                    source,
                    relative: raw.relative,
                },
                (other, _) => MountKind::Other {
                    kind: other.to_string(),
                },
            };
            mounts.push(Mount {
                kind,
                target: raw.target,
                read_only: raw.read_only,
            });
        }
    }
    Ok(mounts)
}

/// The service's environment: its `env_file` entries, in order, then
/// `environment` over them. A required env file must exist.
fn service_environment(
    name: &str,
    m: &Mapping,
    dir: &Path,
    env: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut environment = BTreeMap::new();
    if let Some(Value::Sequence(entries)) = m.get("env_file") {
        let lookup = |k: &str| env.get(k).cloned();
        for entry in entries {
            let Some(path) = entry.get("path").and_then(Value::as_str) else {
                continue;
            };
            let required = entry
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let full = discover::host_path(dir, path, env.get("HOME").map(String::as_str));
            match dotenv::read(&full, &lookup)? {
                Some(vars) => environment.extend(vars),
                None if required => {
                    return Err(Error::new(format!(
                        "env file {} not found (env_file of service {name:?})",
                        full.display()
                    ))
                    .hint(
                        "create it, or mark it optional: env_file: [{path: ..., required: false}]",
                    ));
                }
                None => {}
            }
        }
    }
    if let Some(Value::Mapping(vars)) = m.get("environment") {
        for (k, v) in vars {
            if let (Some(k), Some(v)) = (k.as_str(), v.as_str()) {
                environment.insert(k.to_string(), v.to_string());
            }
        }
    }
    Ok(environment)
}

/// Whether the service declares a healthcheck that is neither disabled nor
/// `NONE`.
fn has_healthcheck(m: &Mapping) -> bool {
    match m.get("healthcheck") {
        Some(Value::Mapping(h)) => {
            let disabled = h.get("disable").and_then(yaml::as_bool).unwrap_or(false);
            let none = match h.get("test") {
                Some(Value::Sequence(t)) => t.first().and_then(Value::as_str) == Some("NONE"),
                Some(Value::String(t)) => t == "NONE",
                _ => false,
            };
            !disabled && !none
        }
        _ => false,
    }
}
