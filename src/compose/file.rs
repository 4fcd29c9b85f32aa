//! One compose file, read as compose (compose-go) reads it: parsed, YAML
//! merge keys resolved, interpolated, normalized — relative paths against
//! its project directory — then its `include:` imported and its `extends:`
//! resolved. `load.rs` merges the files this returns, one after the other.
//!
//! `include:` (compose-spec, 2.20): each entry is a path or a list of paths
//! (later ones override the first, like `-f`), with an optional
//! `project_directory` (default: the first file's directory; relative paths
//! in the included files resolve against it) and `env_file` (default: that
//! directory's `.env`). The included model is read on its own — with its
//! own includes and extends — and its services, volumes, networks, secrets
//! and configs are imported; where the including file has one of the same
//! name, it is merged over the imported one. A file that includes itself,
//! directly or not, is an error naming the chain.
//!
//! `extends:` (a service name, or `{service, file}`): the base service —
//! from the same file, or from `file` relative to the extending file's
//! directory, whose relative paths resolve against its own directory — is
//! resolved first (it may extend too), then the extending service is merged
//! over it with compose's merge rules. A missing file or service, or a
//! cycle, is an error naming both ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use super::discover;
use super::dotenv;
use super::interpolate;
use super::merge;
use super::normalize::{self, Ctx, MountOrigins};
use super::yaml::{self, child, describe, error_at, index, scalar_string, untag};
use crate::error::{Error, Result};

/// The top-level keys compose knows; any other is named in a warning.
const TOP_LEVEL: [&str; 10] = [
    "version", "name", "include", "services", "networks", "volumes", "secrets", "configs",
    "models", "x-budgie",
];

/// The sections an `include:` imports.
const IMPORTED: [&str; 5] = ["services", "volumes", "networks", "secrets", "configs"];

/// Reads compose files; collects what they say along the way.
pub(crate) struct Reader {
    /// Variables used without a value, with the file they were used in.
    pub missing: Vec<(String, PathBuf)>,
    /// The file that last declared each service mount, for messages.
    pub origins: MountOrigins,
    pub warnings: Vec<String>,
    /// The files being included, outermost first (to find cycles).
    including: Vec<PathBuf>,
}

impl Reader {
    pub fn new() -> Reader {
        Reader {
            missing: Vec::new(),
            origins: MountOrigins::new(),
            warnings: Vec::new(),
            including: Vec::new(),
        }
    }

    /// Reads `file` of a project whose directory is `dir`, interpolating
    /// from `env`: includes imported, extends resolved.
    pub fn read(
        &mut self,
        file: &Path,
        dir: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<Mapping> {
        let mut root = self.parse(file, dir, env)?;
        for key in root.keys().filter_map(Value::as_str) {
            if !TOP_LEVEL.contains(&key) && !key.starts_with("x-") {
                self.warnings.push(format!(
                    "{}: unknown top-level key {key:?}; budgie ignores it (compose refuses it)",
                    file.display()
                ));
            }
        }
        if let Some(include) = root.remove("include") {
            self.including.push(file.to_path_buf());
            let imported = self.include(&include, file, dir, env);
            self.including.pop();
            import(&mut root, imported?);
        }
        resolve_extends(self, &mut root, file, env)?;
        Ok(root)
    }

    /// One file on its own: parsed, merge keys resolved, interpolated,
    /// normalized (relative paths against `dir`).
    fn parse(
        &mut self,
        file: &Path,
        dir: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<Mapping> {
        let bytes = std::fs::read(file).map_err(|e| {
            Error::new(format!(
                "cannot read {}: {}",
                file.display(),
                crate::fsutil::io_reason(&e)
            ))
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::new(format!("{}: not valid UTF-8", file.display())))?;
        let value = yaml::parse(&text, file)?;
        let mut value =
            yaml::resolve_merge_keys(value, "").map_err(|(p, m)| error_at(file, &p, m))?;
        // A tag on the document itself (`--- !x`) means nothing to compose.
        while let Value::Tagged(t) = value {
            value = t.value;
        }
        let mut value = match value {
            Value::Mapping(m) => Value::Mapping(m),
            Value::Null => return Err(error_at(file, "", "empty compose file")),
            other => {
                return Err(error_at(
                    file,
                    "",
                    format!(
                        "the top level must be a mapping, found {}",
                        describe(&other)
                    ),
                ));
            }
        };
        let lookup = |k: &str| env.get(k).cloned();
        let mut missing = Vec::new();
        interpolate::interpolate_tree(&mut value, file, &lookup, &mut missing)?;
        for name in missing {
            if !self.missing.iter().any(|(n, _)| *n == name) {
                self.missing.push((name, file.to_path_buf()));
            }
        }
        let Value::Mapping(mut root) = value else {
            return Err(error_at(file, "", "the top level must be a mapping"));
        };
        let ctx = Ctx { file, dir, env };
        normalize::normalize_file(&mut root, &ctx, &mut self.origins)?;
        Ok(root)
    }

    /// The resources the `include:` of `file` brings in, each model read on
    /// its own and merged in the order given.
    fn include(
        &mut self,
        include: &Value,
        file: &Path,
        dir: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<Mapping> {
        let mut imported = Mapping::new();
        for (i, entry) in include_entries(include, file)?.into_iter().enumerate() {
            let at = index("include", i);
            let home = env.get("HOME").map(String::as_str);
            let paths: Vec<PathBuf> = entry
                .paths
                .iter()
                .map(|p| discover::host_path(dir, p, home))
                .collect();
            let first = &paths[0];
            if let Some(pos) = self.including.iter().position(|f| f == first) {
                let mut chain: Vec<String> = self.including[pos..]
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect();
                chain.push(first.display().to_string());
                return Err(error_at(
                    file,
                    &at,
                    format!("include cycle: {}", chain.join(" includes ")),
                ));
            }
            let project_dir = match &entry.project_directory {
                Some(d) => discover::host_path(dir, d, home),
                None => first.parent().unwrap_or(dir).to_path_buf(),
            };
            let inc_env = include_env(env, &entry, dir, &project_dir, file, &at)?;
            let mut model = Mapping::new();
            for p in &paths {
                if !p.is_file() {
                    return Err(error_at(
                        file,
                        &at,
                        format!("included file {} not found", p.display()),
                    ));
                }
                let one = self.read(p, &project_dir, &inc_env)?;
                model = merge_roots(model, one);
            }
            // What this include brings, over what the ones before brought.
            for key in IMPORTED {
                if let Some(Value::Mapping(section)) = model.remove(key) {
                    let target = section_mut(&mut imported, key);
                    for (name, v) in section {
                        target.insert(name, v);
                    }
                }
            }
        }
        Ok(imported)
    }
}

/// One `include:` entry.
struct IncludeEntry {
    paths: Vec<String>,
    project_directory: Option<String>,
    env_files: Vec<String>,
}

/// The entries of `include:`: a path, or `{path: PATH | [PATH...],
/// project_directory, env_file: PATH | [PATH...]}`.
fn include_entries(include: &Value, file: &Path) -> Result<Vec<IncludeEntry>> {
    let items = match untag(include) {
        Value::Null => return Ok(Vec::new()),
        Value::Sequence(items) => items,
        other => {
            return Err(error_at(
                file,
                "include",
                format!("expected a list, found {}", describe(other)),
            ));
        }
    };
    let strings = |v: &Value, at: &str| -> Result<Vec<String>> {
        match untag(v) {
            Value::Sequence(s) => s
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    scalar_string(untag(x)).ok_or_else(|| {
                        error_at(
                            file,
                            &index(at, i),
                            format!("expected a path, found {}", describe(x)),
                        )
                    })
                })
                .collect(),
            other => scalar_string(other).map(|s| vec![s]).ok_or_else(|| {
                error_at(
                    file,
                    at,
                    format!("expected a path, found {}", describe(other)),
                )
            }),
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = index("include", i);
        let entry = match untag(item) {
            Value::Mapping(m) => IncludeEntry {
                paths: match m.get("path") {
                    Some(p) => strings(p, &child(&at, "path"))?,
                    None => Vec::new(),
                },
                project_directory: match m.get("project_directory").map(untag) {
                    None | Some(Value::Null) => None,
                    Some(d) => Some(strings(d, &child(&at, "project_directory"))?.remove(0)),
                },
                env_files: match m.get("env_file") {
                    None => Vec::new(),
                    Some(e) => strings(e, &child(&at, "env_file"))?,
                },
            },
            other => IncludeEntry {
                paths: strings(other, &at)?,
                project_directory: None,
                env_files: Vec::new(),
            },
        };
        if entry.paths.is_empty() {
            return Err(error_at(file, &at, "an include names no file (path:)"));
        }
        out.push(entry);
    }
    Ok(out)
}

/// The interpolation environment of an included model: the including
/// project's, and from its env files (default: the included project
/// directory's `.env`) what that does not set.
fn include_env(
    env: &BTreeMap<String, String>,
    entry: &IncludeEntry,
    dir: &Path,
    project_dir: &Path,
    file: &Path,
    at: &str,
) -> Result<BTreeMap<String, String>> {
    let home = env.get("HOME").map(String::as_str);
    let files: Vec<(PathBuf, bool)> = if entry.env_files.is_empty() {
        vec![(project_dir.join(".env"), false)]
    } else {
        entry
            .env_files
            .iter()
            .filter(|f| *f != "/dev/null")
            .map(|f| (discover::host_path(dir, f, home), true))
            .collect()
    };
    let mut out = env.clone();
    let lookup = |k: &str| env.get(k).cloned();
    for (path, required) in files {
        match dotenv::read(&path, &lookup)? {
            Some(vars) => {
                for (k, v) in vars {
                    out.entry(k).or_insert(v);
                }
            }
            None if required => {
                return Err(error_at(
                    file,
                    at,
                    format!("env file {} not found", path.display()),
                ));
            }
            None => {}
        }
    }
    Ok(out)
}

/// The mapping under `key` in `root`, created empty when missing.
fn section_mut<'a>(root: &'a mut Mapping, key: &str) -> &'a mut Mapping {
    let slot = root
        .entry(Value::String(key.to_string()))
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    if !slot.is_mapping() {
        *slot = Value::Mapping(Mapping::new());
    }
    match slot {
        Value::Mapping(m) => m,
        _ => unreachable!("made a mapping above"),
    }
}

/// Imports included resources into `root`: an entry `root` also has is
/// merged over the imported one.
fn import(root: &mut Mapping, imported: Mapping) {
    for (key, section) in imported {
        let (Some(name), Value::Mapping(section)) = (key.as_str().map(str::to_string), section)
        else {
            continue;
        };
        let target = section_mut(root, &name);
        for (item, v) in section {
            let path = &mut vec![name.clone(), yaml::key_display(&item)];
            let merged = match target.remove(&item) {
                Some(local) => merge::merge(Some(v), local, path),
                None => Some(v),
            };
            if let Some(m) = merged {
                target.insert(item, m);
            }
        }
    }
}

/// Two files' top levels merged, the second over the first.
fn merge_roots(base: Mapping, over: Mapping) -> Mapping {
    match merge::merge(
        Some(Value::Mapping(base)),
        Value::Mapping(over),
        &mut Vec::new(),
    ) {
        Some(Value::Mapping(m)) => m,
        _ => Mapping::new(),
    }
}

/// A service being resolved: the file it is in and its name (for cycles).
type Link = (PathBuf, String);

/// Resolves the `extends:` of every service of `root` (read from `file`).
fn resolve_extends(
    reader: &mut Reader,
    root: &mut Mapping,
    file: &Path,
    env: &BTreeMap<String, String>,
) -> Result<()> {
    let Some(Value::Mapping(services)) = root.get_mut("services") else {
        return Ok(());
    };
    let names: Vec<String> = services
        .iter()
        .filter(|(_, v)| v.get("extends").is_some())
        .filter_map(|(k, _)| k.as_str().map(str::to_string))
        .collect();
    for name in names {
        extend(reader, services, &name, file, env, &mut Vec::new())?;
    }
    Ok(())
}

/// Where a service's `extends:` points.
struct Base {
    service: String,
    /// The other file, resolved; None for the same file.
    file: Option<PathBuf>,
}

fn parse_extends(v: &Value, file: &Path, at: &str) -> Result<Base> {
    match untag(v) {
        Value::Mapping(m) => {
            let service = m
                .get("service")
                .and_then(|s| scalar_string(untag(s)))
                .ok_or_else(|| {
                    error_at(file, at, "extends needs the service to extend (service:)")
                })?;
            let other = match m.get("file").map(untag) {
                None | Some(Value::Null) => None,
                Some(f) => {
                    let f = scalar_string(f).ok_or_else(|| {
                        error_at(
                            file,
                            &child(at, "file"),
                            format!("expected a path, found {}", describe(f)),
                        )
                    })?;
                    let dir = file.parent().unwrap_or(Path::new("."));
                    Some(discover::host_path(dir, &f, None))
                }
            };
            Ok(Base {
                service,
                file: other,
            })
        }
        other => scalar_string(other)
            .map(|service| Base {
                service,
                file: None,
            })
            .ok_or_else(|| {
                error_at(
                    file,
                    at,
                    format!(
                        "expected a service name or a mapping, found {}",
                        describe(other)
                    ),
                )
            }),
    }
}

/// Resolves `services[name]` (of `file`): its base first, then the service
/// merged over it, `extends` removed.
fn extend(
    reader: &mut Reader,
    services: &mut Mapping,
    name: &str,
    file: &Path,
    env: &BTreeMap<String, String>,
    chain: &mut Vec<Link>,
) -> Result<()> {
    let at = child(&child("services", name), "extends");
    let Some(spec) = services.get(name).and_then(|s| s.get("extends")).cloned() else {
        return Ok(());
    };
    let link = (file.to_path_buf(), name.to_string());
    if let Some(pos) = chain.iter().position(|l| *l == link) {
        let mut names: Vec<String> = chain[pos..]
            .iter()
            .map(|(f, s)| format!("{s} ({})", f.display()))
            .collect();
        names.push(format!("{name} ({})", file.display()));
        return Err(error_at(
            file,
            &at,
            format!("extends cycle: {}", names.join(" extends ")),
        ));
    }
    let base = parse_extends(&spec, file, &at)?;
    chain.push(link);
    let found = match &base.file {
        None => {
            extend(reader, services, &base.service, file, env, chain)?;
            services.get(&base.service).cloned()
        }
        Some(other) => {
            if !other.is_file() {
                return Err(error_at(
                    file,
                    &child(&at, "file"),
                    format!("{} (extended by service {name}) not found", other.display()),
                ));
            }
            let dir = other.parent().unwrap_or(Path::new("."));
            let mut root = reader.parse(other, dir, env)?;
            match root.get_mut("services") {
                Some(Value::Mapping(theirs)) => {
                    extend(reader, theirs, &base.service, other, env, chain)?;
                    theirs.get(&base.service).cloned()
                }
                _ => None,
            }
        }
    };
    chain.pop();
    let Some(mut base_service) = found else {
        let place = base
            .file
            .as_ref()
            .map(|f| format!(" in {}", f.display()))
            .unwrap_or_default();
        return Err(error_at(
            file,
            &at,
            format!(
                "service {name} extends service {}, which does not exist{place}",
                base.service
            ),
        ));
    };
    if let Value::Mapping(m) = &mut base_service {
        m.remove("extends");
    }
    let Some(Value::Mapping(mut local)) = services.remove(name) else {
        return Ok(());
    };
    local.remove("extends");
    let path = &mut vec!["services".to_string(), name.to_string()];
    if let Some(merged) = merge::merge(Some(base_service), Value::Mapping(local), path) {
        services.insert(Value::String(name.to_string()), merged);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::compose::{LoadOptions, MountKind, Project, load};
    use std::path::PathBuf;

    /// Writes `files` under a temp dir's `proj/` and loads it.
    fn project(
        files: &[(&str, &str)],
    ) -> (tempfile::TempDir, PathBuf, crate::error::Result<Project>) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("proj");
        for (path, text) in files {
            let full = dir.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        let dir = dir.canonicalize().unwrap();
        let loaded = load(&LoadOptions {
            directory: dir.clone(),
            ..LoadOptions::default()
        });
        (tmp, dir, loaded)
    }

    fn binds(p: &Project, service: &str) -> Vec<String> {
        p.services[service]
            .mounts
            .iter()
            .filter_map(|m| match &m.kind {
                MountKind::Bind { source, .. } => Some(format!("{source}:{}", m.target)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn extends_in_the_same_file_merges_the_service_over_its_base() {
        let (_t, _d, p) = project(&[(
            "compose.yml",
            "services:\n  base:\n    image: postgres:16\n    environment: {POSTGRES_DB: a, POSTGRES_USER: u}\n    volumes: [data:/var/lib/postgresql/data]\n  db:\n    extends: base\n    environment: {POSTGRES_DB: b}\n  app:\n    extends: {service: db}\n    image: busybox\nvolumes:\n  data:\n",
        )]);
        let p = p.unwrap();
        let db = &p.services["db"];
        assert_eq!(db.image.as_deref(), Some("postgres:16"));
        assert_eq!(db.environment["POSTGRES_DB"], "b");
        assert_eq!(db.environment["POSTGRES_USER"], "u");
        // app extends db, which extends base: the chain resolves.
        assert_eq!(p.services["app"].image.as_deref(), Some("busybox"));
        assert_eq!(p.services["app"].environment["POSTGRES_DB"], "b");
        let users = &p.volumes.iter().find(|v| v.key == "data").unwrap().services;
        assert_eq!(users, &["app", "base", "db"]);
    }

    #[test]
    fn extends_from_another_file_resolves_its_paths_against_that_file() {
        let (_t, dir, p) = project(&[
            (
                "compose.yml",
                "services:\n  web:\n    extends: {file: common/base.yml, service: web}\n    volumes: [./mine:/mine]\n",
            ),
            (
                "common/base.yml",
                "services:\n  web:\n    extends: core\n    env_file: web.env\n    volumes: [./static:/static]\n  core:\n    image: nginx\n",
            ),
            ("common/web.env", "FROM_ENV_FILE=yes\n"),
        ]);
        let p = p.unwrap();
        let web = &p.services["web"];
        assert_eq!(web.image.as_deref(), Some("nginx"));
        assert_eq!(web.environment["FROM_ENV_FILE"], "yes");
        let mut b = binds(&p, "web");
        b.sort();
        assert_eq!(
            b,
            [
                format!("{}:/static", dir.join("common/static").display()),
                format!("{}:/mine", dir.join("mine").display()),
            ]
        );
    }

    #[test]
    fn extends_cycles_and_missing_bases_name_both_ends() {
        let (_t, _d, p) = project(&[(
            "compose.yml",
            "services:\n  a:\n    image: x\n    extends: b\n  b:\n    extends: a\n",
        )]);
        let e = p.unwrap_err().message;
        assert!(e.contains("extends cycle"), "{e}");
        assert!(e.contains("a (") && e.contains("b ("), "{e}");
        let (_t, _d, p) = project(&[(
            "compose.yml",
            "services:\n  a:\n    image: x\n    extends: nope\n",
        )]);
        let e = p.unwrap_err().message;
        assert!(e.contains("services.a.extends"), "{e}");
        assert!(
            e.contains("service a extends service nope, which does not exist"),
            "{e}"
        );
        let (_t, _d, p) = project(&[(
            "compose.yml",
            "services:\n  a:\n    extends: {file: gone.yml, service: x}\n",
        )]);
        let e = p.unwrap_err().message;
        assert!(
            e.contains("gone.yml") && e.contains("(extended by service a) not found"),
            "{e}"
        );
    }

    #[test]
    fn include_imports_services_and_volumes_from_their_own_project() {
        let (_t, dir, p) = project(&[
            (
                "compose.yml",
                "include:\n  - db/compose.yml\n  - path: [cache/compose.yml, cache/override.yml]\n    env_file: cache.env\nservices:\n  app:\n    image: busybox\n    depends_on: [db]\n  db:\n    environment: {EXTRA: local}\n",
            ),
            (
                "db/compose.yml",
                "services:\n  db:\n    image: postgres:${PG:-15}\n    environment: {POSTGRES_DB: shop}\n    volumes: [pgdata:/var/lib/postgresql/data, ./init:/docker-entrypoint-initdb.d]\nvolumes:\n  pgdata:\n",
            ),
            ("db/.env", "PG=16\n"),
            (
                "cache/compose.yml",
                "services:\n  cache:\n    image: redis:${REDIS_TAG}\n",
            ),
            (
                "cache/override.yml",
                "services:\n  cache:\n    volumes: [cachedata:/data]\nvolumes:\n  cachedata:\n",
            ),
            ("cache.env", "REDIS_TAG=7\n"),
        ]);
        let p = p.unwrap();
        let db = &p.services["db"];
        // The included project's .env interpolated its file; the local
        // definition is merged over the included one.
        assert_eq!(db.image.as_deref(), Some("postgres:16"));
        assert_eq!(db.environment["POSTGRES_DB"], "shop");
        assert_eq!(db.environment["EXTRA"], "local");
        assert_eq!(
            binds(&p, "db"),
            [format!(
                "{}:/docker-entrypoint-initdb.d",
                dir.join("db/init").display()
            )]
        );
        assert_eq!(p.services["cache"].image.as_deref(), Some("redis:7"));
        let keys: Vec<&str> = p.volumes.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(keys, ["cachedata", "pgdata"]);
        assert_eq!(p.volumes[1].name, "proj_pgdata");
        assert_eq!(p.database().unwrap().service, "db");
    }

    #[test]
    fn include_cycles_and_missing_files_are_errors() {
        let (_t, _d, p) = project(&[
            (
                "compose.yml",
                "include: [a/compose.yml]\nservices:\n  x: {image: x}\n",
            ),
            (
                "a/compose.yml",
                "include: [../compose.yml]\nservices:\n  y: {image: y}\n",
            ),
        ]);
        let e = p.unwrap_err().message;
        assert!(e.contains("include cycle"), "{e}");
        let (_t, _d, p) = project(&[(
            "compose.yml",
            "include: [missing.yml]\nservices:\n  x: {image: x}\n",
        )]);
        let e = p.unwrap_err().message;
        assert!(e.contains("include[0]") && e.contains("missing.yml"), "{e}");
    }

    #[test]
    fn volumes_from_makes_a_service_a_user_of_the_other_services_volumes() {
        let (_t, _d, p) = project(&[(
            "compose.yml",
            "services:\n  db:\n    image: postgres:16\n    volumes: [pgdata:/var/lib/postgresql/data]\n  backup:\n    image: x\n    volumes_from: [\"db:ro\"]\n  later:\n    image: y\n    volumes_from: [backup, \"container:other\"]\nvolumes:\n  pgdata:\n",
        )]);
        let p = p.unwrap();
        let users = &p.volumes[0].services;
        assert_eq!(users, &["backup", "db", "later"]);
        let m = &p.services["backup"].mounts[0];
        assert!(m.read_only && m.target == "/var/lib/postgresql/data");
        assert_eq!(p.database().unwrap().service, "db");
    }

    #[test]
    fn unknown_top_level_keys_are_named_in_a_warning() {
        let (_t, _d, p) = project(&[(
            "compose.yml",
            "services:\n  x: {image: x}\nservice:\n  y: {image: y}\n",
        )]);
        let p = p.unwrap();
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("unknown top-level key \"service\"")),
            "{:?}",
            p.warnings
        );
    }
}
