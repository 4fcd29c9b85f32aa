//! Which compose files make up the project.
//!
//! `-f` files in order; else `COMPOSE_FILE` (split on `COMPOSE_PATH_SEPARATOR`,
//! default `:`); else the first of [`NAMES`] in the project directory, plus
//! its override file (`compose.override.yaml|yml` next to `compose.*`,
//! `docker-compose.override.yaml|yml` next to `docker-compose.*`), as
//! docker compose v2 does. Relative paths are against the project directory.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// The file names looked for, in order of preference.
pub(crate) const NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// The project directory, absolute and canonical.
pub(crate) fn project_dir(dir: &Path) -> Result<PathBuf> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let canonical = dir.canonicalize().map_err(|e| {
        Error::new(format!("project directory {}: {e}", dir.display()))
            .hint("name an existing directory with -C DIR")
    })?;
    if !canonical.is_dir() {
        return Err(Error::new(format!(
            "project directory {} is not a directory",
            dir.display()
        )));
    }
    Ok(canonical)
}

/// The compose files, absolute, in merge order. `env` is the process
/// environment overlaid on the project's `.env` (for `COMPOSE_FILE`).
pub(crate) fn compose_files(
    dir: &Path,
    files: &[PathBuf],
    env: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<Vec<PathBuf>> {
    if !files.is_empty() {
        return files.iter().map(|f| existing(dir, f, "-f")).collect();
    }
    if let Some(list) = env.get("COMPOSE_FILE").filter(|v| !v.is_empty()) {
        let sep = env
            .get("COMPOSE_PATH_SEPARATOR")
            .filter(|s| !s.is_empty())
            .map(String::as_str)
            .unwrap_or(":");
        let out: Vec<PathBuf> = list
            .split(sep)
            .filter(|p| !p.is_empty())
            .map(|p| existing(dir, Path::new(p), "COMPOSE_FILE"))
            .collect::<Result<_>>()?;
        if !out.is_empty() {
            return Ok(out);
        }
    }
    let found: Vec<&str> = NAMES
        .iter()
        .copied()
        .filter(|n| dir.join(n).is_file())
        .collect();
    let Some(base) = found.first() else {
        return Err(Error::new(format!(
            "no compose file in {} (looked for {})",
            dir.display(),
            NAMES.join(", ")
        ))
        .hint("name the file with -f FILE, or the project directory with -C DIR"));
    };
    if found.len() > 1 {
        warnings.push(format!(
            "found several compose files ({}); using {base}",
            found.join(", ")
        ));
    }
    let mut out = vec![dir.join(base)];
    let overrides: [&str; 2] = if base.starts_with("docker-") {
        [
            "docker-compose.override.yaml",
            "docker-compose.override.yml",
        ]
    } else {
        ["compose.override.yaml", "compose.override.yml"]
    };
    if let Some(o) = overrides.iter().find(|o| dir.join(o).is_file()) {
        out.push(dir.join(o));
    }
    Ok(out)
}

/// `path` resolved against `dir`; an error if it is not a file.
fn existing(dir: &Path, path: &Path, from: &str) -> Result<PathBuf> {
    let full = normalize(&dir.join(path));
    if full.is_file() {
        Ok(full)
    } else if full.exists() {
        Err(Error::new(format!(
            "compose file {} (from {from}) is not a file",
            full.display()
        )))
    } else {
        Err(Error::new(format!(
            "compose file not found: {} (from {from})",
            full.display()
        )))
    }
}

/// `.` and `..` removed without touching the file system.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() && !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// A host path of the compose file (bind source, env file): `~` is `$HOME`,
/// relative paths are against the project directory.
pub(crate) fn host_path(dir: &Path, path: &str, home: Option<&str>) -> PathBuf {
    let expanded = match (path.strip_prefix('~'), home) {
        (Some(""), Some(h)) => PathBuf::from(h),
        (Some(rest), Some(h)) if rest.starts_with('/') => {
            Path::new(h).join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(path),
    };
    normalize(&dir.join(expanded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), Path::new("/a/c"));
        assert_eq!(normalize(Path::new("/../a")), Path::new("/a"));
        assert_eq!(normalize(Path::new("a/../..")), Path::new(".."));
    }

    #[test]
    fn host_paths() {
        let d = Path::new("/proj");
        assert_eq!(host_path(d, "./data", None), Path::new("/proj/data"));
        assert_eq!(host_path(d, "../x", None), Path::new("/x"));
        assert_eq!(host_path(d, "/abs", None), Path::new("/abs"));
        assert_eq!(
            host_path(d, "~/pg", Some("/home/u")),
            Path::new("/home/u/pg")
        );
        assert_eq!(host_path(d, "~", Some("/home/u")), Path::new("/home/u"));
        assert_eq!(host_path(d, "sub/dir", None), Path::new("/proj/sub/dir"));
    }
}
