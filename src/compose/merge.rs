//! Normalizing each compose file, then merging the files (later files win).
//!
//! Normalization turns the forms compose allows into one form, so that the
//! files merge by key: `environment`/`labels` (list or map) become maps of
//! strings, `depends_on` a map, `volumes` a map from target path to the long
//! syntax, `env_file` a list of `{path, required}`. Type errors found here
//! name the file and the YAML path.
//!
//! Merge rules (compose-spec): mappings merge deeply; scalars are replaced;
//! service `volumes` entries are replaced per target; `command`,
//! `entrypoint` and `healthcheck.test` are replaced; other sequences are
//! concatenated without duplicates. `!reset` removes a value and
//! `!override` replaces it instead of merging. A null never erases a value.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use super::discover::host_path;
use super::yaml::{
    as_bool, child, describe, error_at, has_tag, index, key_display, key_string, scalar_string,
    untag,
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
            "volumes" => *v = mounts(v, &fpath, name, ctx, origins)?,
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
    let one = |item: &Value, ipath: &str| -> Result<Value> {
        match untag(item) {
            Value::String(s) => Ok(entry(s.clone(), true)),
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
                Ok(entry(p, required))
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

/// A service mount in its normalized form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawMount {
    /// `volume`, `bind`, `tmpfs`, `npipe`, `cluster`, `image`.
    pub kind: String,
    /// Volume key, resolved host path, or (other kinds) as written.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
}

impl RawMount {
    fn to_value(&self) -> Value {
        let mut m = Mapping::new();
        m.insert("type".into(), Value::String(self.kind.clone()));
        if let Some(s) = &self.source {
            m.insert("source".into(), Value::String(s.clone()));
        }
        m.insert("target".into(), Value::String(self.target.clone()));
        m.insert("read_only".into(), Value::Bool(self.read_only));
        Value::Mapping(m)
    }

    /// Reads back what [`RawMount::to_value`] wrote (after merging).
    pub(crate) fn from_value(v: &Value) -> Option<RawMount> {
        let m = untag(v).as_mapping()?;
        Some(RawMount {
            kind: m.get("type")?.as_str()?.to_string(),
            source: m.get("source").and_then(Value::as_str).map(str::to_string),
            target: m.get("target")?.as_str()?.to_string(),
            read_only: m.get("read_only").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// Whether a short-syntax source is a host path rather than a volume name.
fn is_host_path(source: &str) -> bool {
    source.starts_with(['/', '.', '~', '\\']) || source.contains('/') || is_windows_drive(source)
}

/// `C:\...` or `C:/...`
fn is_windows_drive(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/')
}

/// `/data/` and `/data` are the same mount point.
fn normalize_target(t: &str) -> String {
    let trimmed = t.trim_end_matches('/');
    if trimmed.is_empty() && t.starts_with('/') {
        "/".to_string()
    } else {
        trimmed.to_string()
    }
}

/// The short syntax `[SOURCE:]TARGET[:MODE]`.
pub(crate) fn parse_short_mount(
    spec: &str,
    dir: &Path,
    home: Option<&str>,
) -> Result<RawMount, String> {
    if spec.is_empty() {
        return Err("empty volume".to_string());
    }
    let mut parts: Vec<String> = spec.split(':').map(str::to_string).collect();
    // A Windows drive letter (`C:\data:/data`) is not a separator.
    if parts.len() > 2 && parts[0].len() == 1 && is_windows_drive(spec) {
        let drive = parts.remove(0);
        parts[0] = format!("{drive}:{}", parts[0]);
    }
    if parts.iter().any(String::is_empty) {
        return Err(format!("empty section between colons in {spec:?}"));
    }
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, t.clone(), None),
        [s, t] => (Some(s.clone()), t.clone(), None),
        [s, t, m] => (Some(s.clone()), t.clone(), Some(m.clone())),
        _ => return Err(format!("too many colons in {spec:?}")),
    };
    let read_only = mode
        .as_deref()
        .is_some_and(|m| m.split(',').any(|o| o == "ro"));
    let target = normalize_target(&target);
    Ok(match source {
        None => RawMount {
            kind: "volume".into(),
            source: None,
            target,
            read_only,
        },
        Some(s) if is_host_path(&s) => RawMount {
            kind: "bind".into(),
            source: Some(host_path(dir, &s, home).display().to_string()),
            target,
            read_only,
        },
        Some(s) => RawMount {
            kind: "volume".into(),
            source: Some(s),
            target,
            read_only,
        },
    })
}

const MOUNT_TYPES: [&str; 6] = ["volume", "bind", "tmpfs", "npipe", "cluster", "image"];

/// The long syntax `{type, source, target, read_only, ...}`.
fn parse_long_mount(m: &Mapping, path: &str, ctx: &Ctx) -> Result<RawMount> {
    let string = |key: &str| -> Result<Option<String>> {
        match m.get(key).map(untag) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => scalar_string(v).map(Some).ok_or_else(|| {
                error_at(
                    ctx.file,
                    &child(path, key),
                    format!("expected a string, found {}", describe(v)),
                )
            }),
        }
    };
    let target = string("target")?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| error_at(ctx.file, path, "a mount needs a target"))?;
    let source = string("source")?.filter(|s| !s.is_empty());
    let kind = match string("type")? {
        Some(t) => {
            if !MOUNT_TYPES.contains(&t.as_str()) {
                return Err(error_at(
                    ctx.file,
                    &child(path, "type"),
                    format!("expected one of {}, found {t:?}", MOUNT_TYPES.join(", ")),
                ));
            }
            t
        }
        None => match &source {
            Some(s) if is_host_path(s) => "bind".to_string(),
            _ => "volume".to_string(),
        },
    };
    let read_only = match m.get("read_only").map(untag) {
        None | Some(Value::Null) => false,
        Some(v) => as_bool(v).ok_or_else(|| {
            error_at(
                ctx.file,
                &child(path, "read_only"),
                format!("expected true or false, found {}", describe(v)),
            )
        })?,
    };
    let source = match kind.as_str() {
        "bind" => {
            let s =
                source.ok_or_else(|| error_at(ctx.file, path, "a bind mount needs a source"))?;
            let home = ctx.env.get("HOME").map(String::as_str);
            Some(host_path(ctx.dir, &s, home).display().to_string())
        }
        _ => source,
    };
    Ok(RawMount {
        kind,
        source,
        target: normalize_target(&target),
        read_only,
    })
}

/// A service's `volumes:` as a map from target to the normalized mount.
fn mounts(
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
            Value::Mapping(m) => parse_long_mount(m, &ipath, ctx)?,
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

/// Whether sequences under `path` are replaced rather than concatenated,
/// and mappings replaced rather than merged.
fn replaces(path: &[String]) -> bool {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    matches!(
        p.as_slice(),
        ["services", _, "command" | "entrypoint"]
            | ["services", _, "healthcheck", "test"]
            | ["services", _, "volumes", _]
    )
}

/// Merges a later file's value over an earlier one. `None` in, nothing was
/// there; `None` out, the value is removed (`!reset`).
pub(crate) fn merge(base: Option<Value>, over: Value, path: &mut Vec<String>) -> Option<Value> {
    let over = match over {
        Value::Tagged(t) => {
            if t.tag == "reset" {
                return None;
            }
            if t.tag == "override" {
                return clean(t.value);
            }
            return merge(base, t.value, path);
        }
        v => v,
    };
    let Some(base) = base else {
        return clean(over);
    };
    if over.is_null() {
        return Some(base);
    }
    if replaces(path) {
        return clean(over);
    }
    match (base, over) {
        (Value::Mapping(mut b), Value::Mapping(o)) => {
            for (k, ov) in o {
                path.push(key_display(&k));
                let existing = b.get_mut(&k).map(std::mem::take);
                match merge(existing, ov, path) {
                    Some(v) => {
                        b.insert(k, v);
                    }
                    None => {
                        b.shift_remove(&k);
                    }
                }
                path.pop();
            }
            Some(Value::Mapping(b))
        }
        (Value::Sequence(mut b), Value::Sequence(o)) => {
            let mut seen: HashSet<Value> = b.iter().cloned().collect();
            for item in o.into_iter().filter_map(clean) {
                if seen.insert(item.clone()) {
                    b.push(item);
                }
            }
            Some(Value::Sequence(b))
        }
        (_, o) => clean(o),
    }
}

/// The value with `!reset` entries removed and every tag dropped.
fn clean(v: Value) -> Option<Value> {
    match v {
        Value::Tagged(t) => {
            if t.tag == "reset" {
                None
            } else {
                clean(t.value)
            }
        }
        Value::Mapping(m) => Some(Value::Mapping(
            m.into_iter()
                .filter_map(|(k, v)| clean(v).map(|v| (k, v)))
                .collect(),
        )),
        Value::Sequence(s) => Some(Value::Sequence(s.into_iter().filter_map(clean).collect())),
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    fn m(base: &str, over: &str) -> Value {
        merge(Some(y(base)), y(over), &mut Vec::new()).unwrap()
    }

    #[test]
    fn deep_merge_and_scalars() {
        let v = m("a: {b: 1, c: 2}\nd: x", "a: {c: 3, e: 4}\nd: y");
        assert_eq!(v, y("a: {b: 1, c: 3, e: 4}\nd: y"));
    }

    #[test]
    fn sequences_concatenated_without_duplicates() {
        let v = m(
            "services: {a: {ports: [1, 2]}}",
            "services: {a: {ports: [2, 3]}}",
        );
        assert_eq!(v, y("services: {a: {ports: [1, 2, 3]}}"));
    }

    #[test]
    fn command_replaced() {
        let v = m(
            "services: {a: {command: [x, y], entrypoint: [e], healthcheck: {test: [CMD, a], interval: 5s}}}",
            "services: {a: {command: [z], entrypoint: f, healthcheck: {test: [CMD, b]}}}",
        );
        assert_eq!(
            v,
            y(
                "services: {a: {command: [z], entrypoint: f, healthcheck: {test: [CMD, b], interval: 5s}}}"
            )
        );
    }

    #[test]
    fn null_keeps_base() {
        assert_eq!(m("a: {b: 1}", "a:"), y("a: {b: 1}"));
    }

    #[test]
    fn reset_and_override() {
        let v = m(
            "services: {a: {ports: [1], environment: {A: '1', B: '2'}, image: x}}",
            "services: {a: {ports: !reset [], environment: !override {C: '3'}, image: !reset null}}",
        );
        assert_eq!(v, y("services: {a: {environment: {C: '3'}}}"));
        // Tags in the first file are dropped too.
        let v = merge(
            Some(y("{}")),
            y("a: !override {b: !reset 1, c: 2}"),
            &mut Vec::new(),
        );
        assert_eq!(v, Some(y("a: {c: 2}")));
    }

    #[test]
    fn short_mounts() {
        let d = Path::new("/p");
        let mnt = |s| parse_short_mount(s, d, Some("/home/u")).unwrap();
        assert_eq!(
            mnt("data:/var/lib/x:ro"),
            RawMount {
                kind: "volume".into(),
                source: Some("data".into()),
                target: "/var/lib/x".into(),
                read_only: true
            }
        );
        assert_eq!(mnt("/anon/").source, None);
        assert_eq!(mnt("/anon/").target, "/anon");
        assert_eq!(mnt("./d:/x:rw,z").source.as_deref(), Some("/p/d"));
        assert!(!mnt("./d:/x:rw,z").read_only);
        assert_eq!(mnt("~/d:/x").source.as_deref(), Some("/home/u/d"));
        assert_eq!(mnt("sub/dir:/x").kind, "bind");
        assert_eq!(mnt("C:\\data:/x").kind, "bind");
        assert!(parse_short_mount("a::b", d, None).is_err());
        assert!(parse_short_mount("a:b:c:d", d, None).is_err());
        assert!(parse_short_mount("", d, None).is_err());
        assert!(parse_short_mount(":", d, None).is_err());
        let _ = parse_short_mount("é:é:é", d, None);
    }
}
