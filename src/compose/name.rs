//! The project name, in compose's order: `-p`, `COMPOSE_PROJECT_NAME`
//! (process environment, then `.env`), the top-level `name:` of the compose
//! files (the last file that sets it), the project directory's name.
//!
//! An explicit name must already be valid; only the directory name is
//! normalized.

use std::collections::BTreeMap;
use std::path::Path;

use super::model::NameSource;
use crate::error::{Error, Result};

/// The directory name as compose turns it into a project name: lower case,
/// only `a-z0-9_-`, starting with a letter or digit. May be empty.
pub fn normalize_project_name(s: &str) -> String {
    let lowered: String = s
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    lowered.trim_start_matches(['_', '-']).to_string()
}

/// `^[a-z0-9][a-z0-9_-]*$`
pub(crate) fn is_valid_project_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit() => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Picks the project name. `from_file` is the top-level `name:` after
/// interpolation, with the file that set it.
pub(crate) fn resolve(
    flag: Option<&str>,
    env: &BTreeMap<String, String>,
    from_file: Option<(&str, &Path)>,
    dir: &Path,
) -> Result<(String, NameSource)> {
    if let Some(name) = flag {
        return explicit(name, "-p/--project-name").map(|n| (n, NameSource::Flag));
    }
    if let Some(name) = env.get("COMPOSE_PROJECT_NAME").filter(|n| !n.is_empty()) {
        return explicit(name, "COMPOSE_PROJECT_NAME").map(|n| (n, NameSource::Environment));
    }
    if let Some((name, file)) = from_file.filter(|(n, _)| !n.is_empty()) {
        let origin = format!("name: in {}", file.display());
        return explicit(name, &origin).map(|n| (n, NameSource::ComposeFile));
    }
    let base = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = normalize_project_name(&base);
    if name.is_empty() {
        return Err(Error::new(format!(
            "cannot make a project name from the directory name {:?} ({})",
            base,
            dir.display()
        ))
        .hint("name the project with -p NAME"));
    }
    Ok((name, NameSource::Directory))
}

fn explicit(name: &str, origin: &str) -> Result<String> {
    if is_valid_project_name(name) {
        return Ok(name.to_string());
    }
    let suggestion = normalize_project_name(name);
    let err = Error::new(format!(
        "invalid project name {name:?} (from {origin}): a project name has only lower-case \
         letters, digits, '_' and '-', and starts with a letter or digit"
    ));
    Err(if suggestion.is_empty() {
        err
    } else {
        err.hint(format!("for example: {suggestion}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize_project_name("My Project.v2"), "myprojectv2");
        assert_eq!(normalize_project_name("_-web_app-1"), "web_app-1");
        assert_eq!(normalize_project_name("Ünïcode"), "ncode");
        assert_eq!(normalize_project_name("..."), "");
        assert_eq!(normalize_project_name(""), "");
    }

    #[test]
    fn validity() {
        assert!(is_valid_project_name("a"));
        assert!(is_valid_project_name("0a_b-c"));
        assert!(!is_valid_project_name(""));
        assert!(!is_valid_project_name("_a"));
        assert!(!is_valid_project_name("A"));
        assert!(!is_valid_project_name("a.b"));
    }

    #[test]
    fn precedence() {
        let dir = Path::new("/x/My Dir");
        let file = Path::new("/x/compose.yaml");
        let mut env = BTreeMap::new();
        assert_eq!(
            resolve(None, &env, None, dir).unwrap(),
            ("mydir".to_string(), NameSource::Directory)
        );
        assert_eq!(
            resolve(None, &env, Some(("fromfile", file)), dir).unwrap(),
            ("fromfile".to_string(), NameSource::ComposeFile)
        );
        env.insert("COMPOSE_PROJECT_NAME".to_string(), "fromenv".to_string());
        assert_eq!(
            resolve(None, &env, Some(("fromfile", file)), dir).unwrap(),
            ("fromenv".to_string(), NameSource::Environment)
        );
        assert_eq!(
            resolve(Some("flag"), &env, Some(("fromfile", file)), dir).unwrap(),
            ("flag".to_string(), NameSource::Flag)
        );
    }

    #[test]
    fn explicit_names_must_be_valid() {
        let env = BTreeMap::new();
        let dir = Path::new("/x/d");
        let e = resolve(Some("Bad!"), &env, None, dir).unwrap_err();
        assert!(e.message.contains("\"Bad!\""), "{}", e.message);
        assert!(e.message.contains("-p/--project-name"), "{}", e.message);
        assert_eq!(e.hint.as_deref(), Some("for example: bad"));
        let e = resolve(None, &env, Some(("Up", Path::new("/x/c.yml"))), dir).unwrap_err();
        assert!(e.message.contains("name: in /x/c.yml"), "{}", e.message);
    }

    #[test]
    fn empty_directory_name() {
        let e = resolve(None, &BTreeMap::new(), None, Path::new("/x/...")).unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("name the project with -p NAME"));
        let e = resolve(None, &BTreeMap::new(), None, Path::new("/")).unwrap_err();
        assert!(e.hint.is_some());
    }
}
