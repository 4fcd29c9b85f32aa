//! YAML helpers: parsing with file positions, merge keys (`<<`), and small
//! accessors for `serde_yaml_ng::Value` that never panic.

use std::fmt::Display;
use std::path::Path;

use serde_yaml_ng::{Mapping, Value};

use crate::error::{Error, Result};

/// Parses one compose file. Errors read `<file>:<line>:<column>: <message>`.
pub(crate) fn parse(text: &str, file: &Path) -> Result<Value> {
    serde_yaml_ng::from_str::<Value>(text).map_err(|e| parse_error(&e, file))
}

fn parse_error(e: &serde_yaml_ng::Error, file: &Path) -> Error {
    let message = e.to_string();
    match e.location() {
        Some(loc) => {
            // The message repeats the position; say it once, in front.
            let at = format!(" at line {} column {}", loc.line(), loc.column());
            let message = message.replacen(&at, "", 1);
            Error::new(format!(
                "{}:{}:{}: {message}",
                file.display(),
                loc.line(),
                loc.column()
            ))
        }
        None => Error::new(format!("{}: {message}", file.display())),
    }
}

/// An error about the value at `path` (`services.db.volumes`) of `file`.
pub(crate) fn error_at(file: &Path, path: &str, message: impl Display) -> Error {
    if path.is_empty() {
        Error::new(format!("{}: {message}", file.display()))
    } else {
        Error::new(format!("{}: {path}: {message}", file.display()))
    }
}

/// `path.key`
pub(crate) fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `path[i]`
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// The value under any tags (`!reset`, `!override`, `!!str`...).
pub(crate) fn untag(mut v: &Value) -> &Value {
    while let Value::Tagged(t) = v {
        v = &t.value;
    }
    v
}

/// Whether `v` carries the tag `!name`.
pub(crate) fn has_tag(v: &Value, name: &str) -> bool {
    matches!(v, Value::Tagged(t) if t.tag == name)
}

/// What kind of value this is, for "expected X, found Y" messages.
pub(crate) fn describe(v: &Value) -> String {
    match untag(v) {
        Value::Null => "nothing (null)".to_string(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("{s:?}"),
        Value::Sequence(_) => "a list".to_string(),
        Value::Mapping(_) => "a mapping".to_string(),
        Value::Tagged(_) => "a tagged value".to_string(),
    }
}

/// A scalar as a string: strings as they are, numbers and booleans written out.
pub(crate) fn scalar_string(v: &Value) -> Option<String> {
    match untag(v) {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A mapping key as a string (keys may be numbers or booleans in YAML).
pub(crate) fn key_string(k: &Value) -> Option<String> {
    scalar_string(k)
}

/// A mapping key for messages, whatever it is.
pub(crate) fn key_display(k: &Value) -> String {
    key_string(k).unwrap_or_else(|| format!("<{}>", describe(k)))
}

/// A boolean the way compose reads one: YAML booleans, or (after
/// interpolation) `true/false`, `yes/no`, `y/n`, `on/off` in any case.
pub(crate) fn as_bool(v: &Value) -> Option<bool> {
    match untag(v) {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" => Some(true),
            "false" | "no" | "n" | "off" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Resolves YAML merge keys (`<<: *anchor`, `<<: [*a, *b]`) everywhere in
/// the document, including in anchors that themselves use `<<` (chained
/// merges). Explicit keys win over merged ones; in a list of sources the
/// earlier ones win (yaml.org/type/merge.html). `path` is only for messages.
pub(crate) fn resolve_merge_keys(v: Value, path: &str) -> Result<Value, (String, String)> {
    match v {
        Value::Mapping(m) => {
            let mut out = Mapping::with_capacity(m.len());
            let mut sources = Vec::new();
            for (k, v) in m {
                if matches!(&k, Value::String(s) if s == "<<") {
                    sources.push(v);
                    continue;
                }
                let child_path = child(path, &key_display(&k));
                let v = resolve_merge_keys(v, &child_path)?;
                out.insert(k, v);
            }
            let merge_path = child(path, "<<");
            for source in sources {
                match resolve_merge_keys(source, &merge_path)? {
                    Value::Mapping(src) => merge_into(&mut out, src),
                    Value::Sequence(items) => {
                        for (i, item) in items.into_iter().enumerate() {
                            match item {
                                Value::Mapping(src) => merge_into(&mut out, src),
                                other => {
                                    return Err((
                                        index(&merge_path, i),
                                        format!(
                                            "a merge key (<<) takes mappings, found {}",
                                            describe(&other)
                                        ),
                                    ));
                                }
                            }
                        }
                    }
                    other => {
                        return Err((
                            merge_path,
                            format!(
                                "a merge key (<<) takes a mapping or a list of mappings, found {}",
                                describe(&other)
                            ),
                        ));
                    }
                }
            }
            Ok(Value::Mapping(out))
        }
        Value::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                out.push(resolve_merge_keys(item, &index(path, i))?);
            }
            Ok(Value::Sequence(out))
        }
        Value::Tagged(mut t) => {
            t.value = resolve_merge_keys(t.value, path)?;
            Ok(Value::Tagged(t))
        }
        other => Ok(other),
    }
}

/// Adds the keys of `src` that `out` does not have yet.
fn merge_into(out: &mut Mapping, src: Mapping) {
    for (k, v) in src {
        if !out.contains_key(&k) {
            out.insert(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Value {
        resolve_merge_keys(parse(text, Path::new("t.yaml")).unwrap(), "").unwrap()
    }

    #[test]
    fn merge_key_simple_and_explicit_wins() {
        let v = load("a: &a {x: 1, y: 2}\nb:\n  <<: *a\n  y: 3\n");
        assert_eq!(v["b"]["x"], Value::from(1));
        assert_eq!(v["b"]["y"], Value::from(3));
        assert!(v["b"].get("<<").is_none());
    }

    #[test]
    fn merge_key_list_earlier_wins() {
        let v = load("a: &a {x: 1}\nb: &b {x: 2, z: 5}\nc:\n  <<: [*a, *b]\n");
        assert_eq!(v["c"]["x"], Value::from(1));
        assert_eq!(v["c"]["z"], Value::from(5));
    }

    #[test]
    fn merge_key_chained() {
        let v = load(
            "x-base: &base {restart: always, env: {A: '1'}}\n\
             x-mid: &mid\n  <<: *base\n  image: pg\n\
             svc:\n  <<: *mid\n  ports: [1]\n",
        );
        assert_eq!(v["svc"]["restart"], Value::from("always"));
        assert_eq!(v["svc"]["image"], Value::from("pg"));
        assert_eq!(v["svc"]["env"]["A"], Value::from("1"));
        assert!(v["x-mid"].get("<<").is_none());
    }

    #[test]
    fn merge_key_errors() {
        let v = parse("a:\n  <<: 5\n", Path::new("t")).unwrap();
        let (path, msg) = resolve_merge_keys(v, "").unwrap_err();
        assert_eq!(path, "a.<<");
        assert!(msg.contains("found a number (5)"), "{msg}");
        let v = parse("a:\n  <<: [[1]]\n", Path::new("t")).unwrap();
        assert_eq!(resolve_merge_keys(v, "").unwrap_err().0, "a.<<[0]");
    }

    #[test]
    fn parse_error_position() {
        let e = parse(
            "services:\n  db:\n    image: x\n   bad: [\n",
            Path::new("/p/c.yaml"),
        )
        .unwrap_err();
        // The position is said once, in front; libyaml's context stays.
        assert_eq!(
            e.message,
            "/p/c.yaml:4:4: did not find expected key, while parsing a block mapping at line 2 column 3"
        );
    }

    #[test]
    fn bools() {
        assert_eq!(as_bool(&Value::from("Yes")), Some(true));
        assert_eq!(as_bool(&Value::from("off")), Some(false));
        assert_eq!(as_bool(&Value::from(true)), Some(true));
        assert_eq!(as_bool(&Value::from("maybe")), None);
        assert_eq!(as_bool(&Value::from(1)), None);
    }
}
