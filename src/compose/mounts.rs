//! Service mounts: the short syntax `[SOURCE:]TARGET[:MODE]` and the long
//! syntax `{type, source, target, read_only, ...}`, both read into one
//! [`RawMount`]. A `RawMount` goes through the merge as YAML (keyed by its
//! target) and is read back to build the model's mounts.
//!
//! A source that looks like a host path (`/d`, `./d`, `~/d`, `sub/d`,
//! `C:\d`) is a bind mount, resolved against the project directory; any
//! other source is a volume key; no source is an anonymous volume.

use std::path::Path;

use serde_yaml_ng::{Mapping, Value};

use super::discover::host_path;
use super::yaml::{as_bool, child, describe, error_at, scalar_string, untag};
use crate::error::Result;

/// A service mount in its normalized form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawMount {
    /// `volume`, `bind`, `tmpfs`, `npipe`, `cluster`, `image`.
    pub kind: String,
    /// Volume key, resolved host path, or (other kinds) as written.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    /// A bind source written relative (`./data`, `../x`, `~/x`): resolved
    /// on this machine, so it names this machine's path.
    pub relative: bool,
}

/// The key that carries [`RawMount::relative`] through the merge.
const RELATIVE: &str = "x-budgie-relative";

impl RawMount {
    pub(crate) fn to_value(&self) -> Value {
        let mut m = Mapping::new();
        m.insert("type".into(), Value::String(self.kind.clone()));
        if let Some(s) = &self.source {
            m.insert("source".into(), Value::String(s.clone()));
        }
        m.insert("target".into(), Value::String(self.target.clone()));
        m.insert("read_only".into(), Value::Bool(self.read_only));
        if self.relative {
            m.insert(RELATIVE.into(), Value::Bool(true));
        }
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
            relative: m.get(RELATIVE).and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// Whether a short-syntax source is a host path rather than a volume name.
fn is_host_path(source: &str) -> bool {
    source.starts_with(['/', '.', '~', '\\']) || source.contains('/') || is_windows_drive(source)
}

/// A host path written relative to this machine: not `/...` nor a drive.
fn is_relative(source: &str) -> bool {
    !source.starts_with('/') && !is_windows_drive(source)
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
            relative: false,
        },
        Some(s) if is_host_path(&s) => RawMount {
            kind: "bind".into(),
            source: Some(host_path(dir, &s, home).display().to_string()),
            target,
            read_only,
            relative: is_relative(&s),
        },
        Some(s) => RawMount {
            kind: "volume".into(),
            source: Some(s),
            target,
            read_only,
            relative: false,
        },
    })
}

const MOUNT_TYPES: [&str; 6] = ["volume", "bind", "tmpfs", "npipe", "cluster", "image"];

/// The long syntax `{type, source, target, read_only, ...}` at `path` of
/// `file`; a bind source is resolved against `dir` (and `~` against `home`).
pub(crate) fn parse_long_mount(
    m: &Mapping,
    path: &str,
    file: &Path,
    dir: &Path,
    home: Option<&str>,
) -> Result<RawMount> {
    let string = |key: &str| -> Result<Option<String>> {
        match m.get(key).map(untag) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => scalar_string(v).map(Some).ok_or_else(|| {
                error_at(
                    file,
                    &child(path, key),
                    format!("expected a string, found {}", describe(v)),
                )
            }),
        }
    };
    let target = string("target")?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| error_at(file, path, "a mount needs a target"))?;
    let source = string("source")?.filter(|s| !s.is_empty());
    let kind = match string("type")? {
        Some(t) => {
            if !MOUNT_TYPES.contains(&t.as_str()) {
                return Err(error_at(
                    file,
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
                file,
                &child(path, "read_only"),
                format!("expected true or false, found {}", describe(v)),
            )
        })?,
    };
    let mut relative = false;
    let source = match kind.as_str() {
        "bind" => {
            let s = source.ok_or_else(|| error_at(file, path, "a bind mount needs a source"))?;
            relative = is_relative(&s);
            Some(host_path(dir, &s, home).display().to_string())
        }
        _ => source,
    };
    Ok(RawMount {
        kind,
        source,
        target: normalize_target(&target),
        read_only,
        relative,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
                read_only: true,
                relative: false,
            }
        );
        assert!(mnt("./d:/x").relative && mnt("~/d:/x").relative && mnt("sub/d:/x").relative);
        assert!(!mnt("/srv/d:/x").relative);
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
