//! Normalizing each compose file before the merge, so that the files merge
//! by key.
//!
//! Normalization turns the forms compose allows into one form:
//! `environment`/`labels` (list or map) become maps of strings, `depends_on`
//! a map, `volumes` a map from target path to the long syntax (read by
//! `mounts.rs`), `env_file` a list of `{path, required}`; the top-level
//! `volumes:` get string `name`s and a boolean (or legacy `{name: ...}`)
//! `external`. Names compose or the engines would refuse are refused here.
//! Type errors found here name the file and the YAML path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use super::mounts::{parse_long_mount, parse_short_mount};
use super::yaml::{
    as_bool, child, describe, error_at, has_tag, index, key_string, scalar_string, untag,
};
use crate::error::Result;

/// What normalization needs to know about the file being read.
pub(crate) struct Ctx<'a> {
    pub file: &'a Path,
    pub dir: &'a Path,
    /// The interpolation environment (for `environment: [KEY]` without a value).
    pub env: &'a BTreeMap<String, String>,
}

/// The file that last declared each (service, mount target), for messages.
pub(crate) type MountOrigins = BTreeMap<(String, String), PathBuf>;

fn untag_mut(mut v: &mut Value) -> &mut Value {
    while let Value::Tagged(t) = v {
        v = &mut t.value;
    }
    v
}

/// Normalizes one interpolated file (the top level already checked to be a mapping).
pub(crate) fn normalize_file(
    root: &mut Mapping,
    ctx: &Ctx,
    origins: &mut MountOrigins,
) -> Result<()> {
    if let Some(v) = root.get_mut("services")
        && !has_tag(v, "reset")
    {
        match untag_mut(v) {
            Value::Null => {}
            Value::Mapping(services) => normalize_services(services, ctx, origins)?,
            other => {
                return Err(error_at(
                    ctx.file,
                    "services",
                    format!("expected a mapping of services, found {}", describe(other)),
                ));
            }
        }
    }
    if let Some(v) = root.get_mut("volumes")
        && !has_tag(v, "reset")
    {
        match untag_mut(v) {
            Value::Null => {}
            Value::Mapping(volumes) => normalize_volumes(volumes, ctx)?,
            other => {
                return Err(error_at(
                    ctx.file,
                    "volumes",
                    format!("expected a mapping of volumes, found {}", describe(other)),
                ));
            }
        }
    }
    if let Some(v) = root.get_mut("name") {
        let v = untag_mut(v);
        if !v.is_null() {
            let s = scalar_string(v).ok_or_else(|| {
                error_at(
                    ctx.file,
                    "name",
                    format!("expected a string, found {}", describe(v)),
                )
            })?;
            *v = Value::String(s);
        }
    }
    Ok(())
}

fn normalize_services(services: &mut Mapping, ctx: &Ctx, origins: &mut MountOrigins) -> Result<()> {
    let old = std::mem::take(services);
    for (k, mut v) in old {
        let name = key_string(&k).ok_or_else(|| {
            error_at(
                ctx.file,
                "services",
                format!("a service name must be a string, found {}", describe(&k)),
            )
        })?;
        check_name(ctx, "services", "service name", &name, false)?;
        let path = child("services", &name);
        if !has_tag(&v, "reset") {
            match untag_mut(&mut v) {
                Value::Mapping(svc) => normalize_service(svc, &name, &path, ctx, origins)?,
                other => {
                    return Err(error_at(
                        ctx.file,
                        &path,
                        format!("a service must be a mapping, found {}", describe(other)),
                    ));
                }
            }
        }
        services.insert(Value::String(name), v);
    }
    Ok(())
}

fn normalize_service(
    svc: &mut Mapping,
    name: &str,
    path: &str,
    ctx: &Ctx,
    origins: &mut MountOrigins,
) -> Result<()> {
    for (k, v) in svc.iter_mut() {
        let Some(key) = k.as_str() else { continue };
        if has_tag(v, "reset") {
            continue;
        }
        let fpath = child(path, key);
        let v = untag_mut(v);
        match key {
            "environment" => *v = string_map(v, &fpath, ctx, true)?,
            "labels" => *v = string_map(v, &fpath, ctx, false)?,
            "depends_on" => *v = depends_on(v, &fpath, ctx)?,
            "volumes" => *v = service_mounts(v, &fpath, name, ctx, origins)?,
            "env_file" => *v = env_files(v, &fpath, ctx)?,
            "image" | "container_name" if !v.is_null() => {
                let s = scalar_string(v).ok_or_else(|| {
                    error_at(
                        ctx.file,
                        &fpath,
                        format!("expected a string, found {}", describe(v)),
                    )
                })?;
                if key == "container_name" {
                    check_name(ctx, &fpath, "container name", &s, true)?;
                }
                *v = Value::String(s);
            }
            "profiles" => *v = string_list(v, &fpath, ctx)?,
            "healthcheck" => match v {
                Value::Null | Value::Mapping(_) => {}
                other => {
                    return Err(error_at(
                        ctx.file,
                        &fpath,
                        format!("expected a mapping, found {}", describe(other)),
                    ));
                }
            },
            _ => {}
        }
    }
    Ok(())
}

/// `environment` (unset names come from `ctx.env`, or are dropped) and
/// `labels` (a name alone is an empty label), list or map form.
fn string_map(v: &Value, path: &str, ctx: &Ctx, environment: bool) -> Result<Value> {
    let bare = |key: &str| -> Option<String> {
        if environment {
            ctx.env.get(key).cloned()
        } else {
            Some(String::new())
        }
    };
    let mut out = Mapping::new();
    match v {
        Value::Null => {}
        Value::Mapping(m) => {
            for (k, val) in m {
                let key = key_string(k).ok_or_else(|| {
                    error_at(
                        ctx.file,
                        path,
                        format!("a name must be a string, found {}", describe(k)),
                    )
                })?;
                if has_tag(val, "reset") {
                    out.insert(Value::String(key), val.clone());
                    continue;
                }
                let value = match untag(val) {
                    Value::Null => bare(&key),
                    other => Some(scalar_string(other).ok_or_else(|| {
                        error_at(
                            ctx.file,
                            &child(path, &key),
                            format!(
                                "expected a string, number or boolean, found {}",
                                describe(other)
                            ),
                        )
                    })?),
                };
                if let Some(value) = value {
                    out.insert(Value::String(key), Value::String(value));
                }
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                let entry = scalar_string(item).ok_or_else(|| {
                    error_at(
                        ctx.file,
                        &index(path, i),
                        format!("expected a string NAME=VALUE, found {}", describe(item)),
                    )
                })?;
                let (key, value) = match entry.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => {
                        let value = bare(&entry);
                        (entry, value)
                    }
                };
                if key.is_empty() {
                    return Err(error_at(
                        ctx.file,
                        &index(path, i),
                        format!(
                            "the name is missing in {:?}",
                            scalar_string(item).unwrap_or_default()
                        ),
                    ));
                }
                if let Some(value) = value {
                    out.insert(Value::String(key), Value::String(value));
                }
            }
        }
        other => {
            return Err(error_at(
                ctx.file,
                path,
                format!("expected a mapping or a list, found {}", describe(other)),
            ));
        }
    }
    Ok(Value::Mapping(out))
}

fn depends_on(v: &Value, path: &str, ctx: &Ctx) -> Result<Value> {
    let mut out = Mapping::new();
    match v {
        Value::Null => {}
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                let name = scalar_string(item).ok_or_else(|| {
                    error_at(
                        ctx.file,
                        &index(path, i),
                        format!("expected a service name, found {}", describe(item)),
                    )
                })?;
                let mut cond = Mapping::new();
                cond.insert("condition".into(), "service_started".into());
                out.insert(Value::String(name), Value::Mapping(cond));
            }
        }
        Value::Mapping(m) => {
            for (k, val) in m {
                let name = key_string(k).ok_or_else(|| {
                    error_at(
                        ctx.file,
                        path,
                        format!("expected a service name, found {}", describe(k)),
                    )
                })?;
                let val = if val.is_null() {
                    Value::Mapping(Mapping::new())
                } else {
                    val.clone()
                };
                out.insert(Value::String(name), val);
            }
        }
        other => {
            return Err(error_at(
                ctx.file,
                path,
                format!("expected a list or a mapping, found {}", describe(other)),
            ));
        }
    }
    Ok(Value::Mapping(out))
}

fn string_list(v: &Value, path: &str, ctx: &Ctx) -> Result<Value> {
    match v {
        Value::Null => Ok(Value::Sequence(Vec::new())),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                scalar_string(item).map(Value::String).ok_or_else(|| {
                    error_at(
                        ctx.file,
                        &index(path, i),
                        format!("expected a string, found {}", describe(item)),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Value::Sequence),
        other => Err(error_at(
            ctx.file,
            path,
            format!("expected a list, found {}", describe(other)),
        )),
    }
}

/// `env_file`: a path, or a list of paths and `{path, required}` mappings.
fn env_files(v: &Value, path: &str, ctx: &Ctx) -> Result<Value> {
    fn entry(p: String, required: bool) -> Value {
        let mut m = Mapping::new();
        m.insert("path".into(), Value::String(p));
        m.insert("required".into(), Value::Bool(required));
        Value::Mapping(m)
    }
    // Relative to the directory of the project the file belongs to (an
    // included or extended file's own), made absolute here so that the
    // merge keeps its meaning.
    let home = ctx.env.get("HOME").map(String::as_str);
    let absolute = |p: &str| {
        super::discover::host_path(ctx.dir, p, home)
            .display()
            .to_string()
    };
    let one = |item: &Value, ipath: &str| -> Result<Value> {
        match untag(item) {
            Value::String(s) => Ok(entry(absolute(s), true)),
            Value::Mapping(m) => {
                let p = m.get("path").and_then(scalar_string).ok_or_else(|| {
                    error_at(
                        ctx.file,
                        &child(ipath, "path"),
                        "expected the env file's path",
                    )
                })?;
                let required = match m.get("required").map(untag) {
                    None | Some(Value::Null) => true,
                    Some(r) => as_bool(r).ok_or_else(|| {
                        error_at(
                            ctx.file,
                            &child(ipath, "required"),
                            format!("expected true or false, found {}", describe(r)),
                        )
                    })?,
                };
                Ok(entry(absolute(&p), required))
            }
            other => Err(error_at(
                ctx.file,
                ipath,
                format!("expected a path or a mapping, found {}", describe(other)),
            )),
        }
    };
    match v {
        Value::Null => Ok(Value::Sequence(Vec::new())),
        Value::String(_) => Ok(Value::Sequence(vec![one(v, path)?])),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| one(item, &index(path, i)))
            .collect::<Result<Vec<_>>>()
            .map(Value::Sequence),
        other => Err(error_at(
            ctx.file,
            path,
            format!("expected a path or a list, found {}", describe(other)),
        )),
    }
}

/// A service's `volumes:` as a map from target to the normalized mount.
fn service_mounts(
    v: &Value,
    path: &str,
    service: &str,
    ctx: &Ctx,
    origins: &mut MountOrigins,
) -> Result<Value> {
    let items = match v {
        Value::Null => return Ok(Value::Mapping(Mapping::new())),
        Value::Sequence(items) => items,
        other => {
            return Err(error_at(
                ctx.file,
                path,
                format!("expected a list, found {}", describe(other)),
            ));
        }
    };
    let home = ctx.env.get("HOME").map(String::as_str);
    let mut out = Mapping::new();
    for (i, item) in items.iter().enumerate() {
        let ipath = index(path, i);
        let mount = match untag(item) {
            Value::String(s) => {
                parse_short_mount(s, ctx.dir, home).map_err(|e| error_at(ctx.file, &ipath, e))?
            }
            Value::Mapping(m) => parse_long_mount(m, &ipath, ctx.file, ctx.dir, home)?,
            other => {
                return Err(error_at(
                    ctx.file,
                    &ipath,
                    format!("expected a string or a mapping, found {}", describe(other)),
                ));
            }
        };
        origins.insert(
            (service.to_string(), mount.target.clone()),
            ctx.file.to_path_buf(),
        );
        out.insert(Value::String(mount.target.clone()), mount.to_value());
    }
    Ok(Value::Mapping(out))
}

/// Refuses a name that compose or the engine would refuse anyway, before
/// budgie passes it anywhere: service names and volume keys are
/// `[a-zA-Z0-9._-]+` (compose's schema), container and volume names
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*` (the engines' rule). None of them can then
/// hold a shell metacharacter, a newline or a `/`.
fn check_name(ctx: &Ctx, path: &str, what: &str, name: &str, engine_rule: bool) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    // An empty container or volume name is left to what budgie did before
    // (compose reads it as unset); an empty key is another error.
    if name.is_empty() {
        return Ok(());
    }
    let first_ok = !engine_rule || name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if first_ok && name.chars().all(allowed) {
        return Ok(());
    }
    let rule = if engine_rule {
        "it must start with a letter or digit and hold only letters, digits, '.', '_' and '-'"
    } else {
        "it may hold only letters, digits, '.', '_' and '-'"
    };
    Err(error_at(
        ctx.file,
        path,
        format!("invalid {what} {name:?}: {rule} (compose and the engines refuse it too)"),
    ))
}

/// Top-level `volumes:`: string keys, each a mapping (or null), `name` a
/// string, `external` a boolean or the legacy `{name: ...}`.
fn normalize_volumes(volumes: &mut Mapping, ctx: &Ctx) -> Result<()> {
    let old = std::mem::take(volumes);
    for (k, mut v) in old {
        let key = key_string(&k).ok_or_else(|| {
            error_at(
                ctx.file,
                "volumes",
                format!("a volume name must be a string, found {}", describe(&k)),
            )
        })?;
        check_name(ctx, "volumes", "volume key", &key, false)?;
        let path = child("volumes", &key);
        if !has_tag(&v, "reset") {
            match untag_mut(&mut v) {
                Value::Null => {}
                Value::Mapping(m) => normalize_volume(m, &path, ctx)?,
                other => {
                    return Err(error_at(
                        ctx.file,
                        &path,
                        format!("expected a mapping, found {}", describe(other)),
                    ));
                }
            }
        }
        volumes.insert(Value::String(key), v);
    }
    Ok(())
}

fn normalize_volume(m: &mut Mapping, path: &str, ctx: &Ctx) -> Result<()> {
    if let Some(v) = m.get_mut("name") {
        let v = untag_mut(v);
        if !v.is_null() {
            let s = scalar_string(v).ok_or_else(|| {
                error_at(
                    ctx.file,
                    &child(path, "name"),
                    format!("expected a string, found {}", describe(v)),
                )
            })?;
            check_name(ctx, &child(path, "name"), "volume name", &s, true)?;
            *v = Value::String(s);
        }
    }
    if let Some(v) = m.get_mut("external") {
        let v = untag_mut(v);
        let epath = child(path, "external");
        match v {
            Value::Null => {}
            Value::Mapping(e) => match e.get("name").map(untag) {
                None | Some(Value::Null) => {}
                Some(n) => {
                    let s = scalar_string(n).ok_or_else(|| {
                        error_at(
                            ctx.file,
                            &child(&epath, "name"),
                            format!("expected a string, found {}", describe(n)),
                        )
                    })?;
                    check_name(ctx, &child(&epath, "name"), "volume name", &s, true)?;
                    e.insert("name".into(), Value::String(s));
                }
            },
            other => {
                let b = as_bool(other).ok_or_else(|| {
                    error_at(
                        ctx.file,
                        &epath,
                        format!("expected true or false, found {}", describe(other)),
                    )
                })?;
                *other = Value::Bool(b);
            }
        }
    }
    Ok(())
}
