//! Variable interpolation as the compose tools do it.
//!
//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`,
//! `${VAR?message}`, `${VAR:+alt}`, `${VAR+alt}`, and `$$` for a literal `$`.
//! Defaults, alternatives and messages may themselves hold `${...}`; they are
//! only evaluated when used. An unset variable without a default becomes the
//! empty string (the caller warns about it).
//!
//! [`interpolate`] is a pure function over one string; [`interpolate_tree`]
//! applies it to every string value of a YAML document.

use std::fmt;
use std::path::Path;

use serde_yaml_ng::Value;

use super::yaml;
use crate::error::{Error, Result};

/// Nested `${...}` deeper than this is refused (no input may overflow the stack).
const MAX_DEPTH: usize = 32;

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolationError {
    /// `${VAR:?message}` with VAR unset or empty, or `${VAR?message}` with VAR unset.
    Required { var: String, message: String },
    /// A `${` without its closing `}`.
    Unterminated,
    /// A `$` that starts nothing valid (`$1`, `${}`, `${A B}`, `${A:x}`...).
    Invalid,
    /// `${...}` nested deeper than budgie follows.
    TooDeep,
}

impl fmt::Display for InterpolationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterpolationError::Required { var, message } => {
                write!(f, "required variable {var} is missing a value")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            InterpolationError::Unterminated => {
                f.write_str("unterminated \"${\" (no closing \"}\")")
            }
            InterpolationError::Invalid => f.write_str("invalid interpolation format"),
            InterpolationError::TooDeep => f.write_str("\"${...}\" nested too deeply"),
        }
    }
}

impl std::error::Error for InterpolationError {}

/// Interpolates one string. `lookup` answers a variable's value (`None`: unset).
pub fn interpolate(
    s: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    let mut missing = Vec::new();
    interpolate_tracking(s, &lookup, &mut missing)
}

/// Like [`interpolate`], and pushes to `missing` the names of unset variables
/// that were used without a default (compose warns about those).
pub fn interpolate_tracking(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    missing: &mut Vec<String>,
) -> Result<String, InterpolationError> {
    Interpolator { lookup, missing }.run(s, 0)
}

struct Interpolator<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    missing: &'a mut Vec<String>,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The index of the `}` that closes a `${` whose body starts at `start`.
fn find_close(s: &str, start: usize) -> Result<usize, InterpolationError> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'$') => i += 2,
            b'$' if b.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 2;
            }
            b'}' => {
                if depth == 0 {
                    return Ok(i);
                }
                depth -= 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    Err(InterpolationError::Unterminated)
}

impl Interpolator<'_> {
    fn run(&mut self, s: &str, depth: usize) -> Result<String, InterpolationError> {
        if depth > MAX_DEPTH {
            return Err(InterpolationError::TooDeep);
        }
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut literal_start = 0;
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'$' {
                i += 1;
                continue;
            }
            // `$` is ASCII, so every index used for slicing below sits on a
            // character boundary.
            out.push_str(&s[literal_start..i]);
            match b.get(i + 1) {
                Some(b'$') => {
                    out.push('$');
                    i += 2;
                }
                Some(b'{') => {
                    let close = find_close(s, i + 2)?;
                    let value = self.braced(&s[i + 2..close], depth)?;
                    out.push_str(&value);
                    i = close + 1;
                }
                Some(&c) if is_name_start(c) => {
                    let mut j = i + 1;
                    while j < b.len() && is_name_char(b[j]) {
                        j += 1;
                    }
                    let name = &s[i + 1..j];
                    out.push_str(&self.plain(name));
                    i = j;
                }
                _ => return Err(InterpolationError::Invalid),
            }
            literal_start = i;
        }
        out.push_str(&s[literal_start..]);
        Ok(out)
    }

    fn plain(&mut self, name: &str) -> String {
        match (self.lookup)(name) {
            Some(v) => v,
            None => {
                if !self.missing.iter().any(|m| m == name) {
                    self.missing.push(name.to_string());
                }
                String::new()
            }
        }
    }

    /// The body of `${...}`.
    fn braced(&mut self, body: &str, depth: usize) -> Result<String, InterpolationError> {
        let b = body.as_bytes();
        if b.is_empty() || !is_name_start(b[0]) {
            return Err(InterpolationError::Invalid);
        }
        let mut n = 1;
        while n < b.len() && is_name_char(b[n]) {
            n += 1;
        }
        let name = &body[..n];
        let rest = &body[n..];
        if rest.is_empty() {
            return Ok(self.plain(name));
        }
        let (colon, op, word) = match rest.as_bytes() {
            [b':', op @ (b'-' | b'?' | b'+'), ..] => (true, *op, &rest[2..]),
            [op @ (b'-' | b'?' | b'+'), ..] => (false, *op, &rest[1..]),
            _ => return Err(InterpolationError::Invalid),
        };
        let value = (self.lookup)(name);
        // With a colon, an empty value counts as unset.
        let set = match &value {
            Some(v) => !(colon && v.is_empty()),
            None => false,
        };
        match op {
            b'-' => {
                if set {
                    Ok(value.unwrap_or_default())
                } else {
                    self.run(word, depth + 1)
                }
            }
            b'+' => {
                if set {
                    self.run(word, depth + 1)
                } else {
                    Ok(String::new())
                }
            }
            _ => {
                if set {
                    Ok(value.unwrap_or_default())
                } else {
                    let message = self
                        .run(word, depth + 1)
                        .unwrap_or_else(|_| word.to_string());
                    Err(InterpolationError::Required {
                        var: name.to_string(),
                        message,
                    })
                }
            }
        }
    }
}

/// Interpolates every string value (not key) of a YAML document in place.
/// Errors name `file` and the YAML path of the value. Unset variables used
/// without a default are pushed to `missing`.
pub(crate) fn interpolate_tree(
    value: &mut Value,
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    missing: &mut Vec<String>,
) -> Result<()> {
    walk(value, "", file, lookup, missing)
}

fn walk(
    value: &mut Value,
    path: &str,
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    missing: &mut Vec<String>,
) -> Result<()> {
    match value {
        Value::String(s) => {
            *s = interpolate_tracking(s, lookup, missing)
                .map_err(|e| value_error(e, s, path, file))?;
        }
        Value::Sequence(items) => {
            // `environment:` and `labels:` in list form: name the variable, not the index.
            let keyed = path.ends_with(".environment") || path.ends_with(".labels");
            for (i, item) in items.iter_mut().enumerate() {
                let item_path = match item.as_str() {
                    Some(s) if keyed && !s.is_empty() => {
                        yaml::child(path, s.split('=').next().unwrap_or(s))
                    }
                    _ => yaml::index(path, i),
                };
                walk(item, &item_path, file, lookup, missing)?;
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let child = yaml::child(path, &yaml::key_display(k));
                walk(v, &child, file, lookup, missing)?;
            }
        }
        Value::Tagged(tagged) => walk(&mut tagged.value, path, file, lookup, missing)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

fn value_error(e: InterpolationError, raw: &str, path: &str, file: &Path) -> Error {
    let place = if path.is_empty() {
        file.display().to_string()
    } else {
        format!("{}: {path}", file.display())
    };
    match e {
        InterpolationError::Required { .. } => Error::new(format!("{place}: {e}")),
        InterpolationError::Unterminated
        | InterpolationError::Invalid
        | InterpolationError::TooDeep => {
            // The value may be a password: quote it only when its name is not a secret's.
            let last = path.rsplit(['.', '[']).next().unwrap_or(path);
            let message = if super::model::is_secret_name(last) {
                format!("{place}: {e}")
            } else {
                format!("{place}: {e} in {raw:?}")
            };
            Error::new(message).hint("a literal \"$\" is written \"$$\" in compose files")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env() -> BTreeMap<String, String> {
        [("A", "a"), ("EMPTY", ""), ("B", "b"), ("NUM", "42")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run(s: &str) -> Result<String, InterpolationError> {
        let env = env();
        interpolate(s, |k| env.get(k).cloned())
    }

    #[test]
    fn plain_forms() {
        assert_eq!(run("x$A-y").unwrap(), "xa-y");
        assert_eq!(run("$A$B").unwrap(), "ab");
        assert_eq!(run("${A}${B}").unwrap(), "ab");
        assert_eq!(run("${NUM}0").unwrap(), "420");
        assert_eq!(run("$UNSET.").unwrap(), ".");
        assert_eq!(run("${UNSET}").unwrap(), "");
        assert_eq!(run("no vars: é ü 日本").unwrap(), "no vars: é ü 日本");
        assert_eq!(run("").unwrap(), "");
    }

    #[test]
    fn dollar_dollar() {
        assert_eq!(run("$$").unwrap(), "$");
        assert_eq!(run("$$A").unwrap(), "$A");
        assert_eq!(run("pa$$word$$").unwrap(), "pa$word$");
        assert_eq!(run("$${A}").unwrap(), "${A}");
    }

    #[test]
    fn defaults() {
        assert_eq!(run("${A:-d}").unwrap(), "a");
        assert_eq!(run("${UNSET:-d}").unwrap(), "d");
        assert_eq!(run("${EMPTY:-d}").unwrap(), "d");
        assert_eq!(run("${A-d}").unwrap(), "a");
        assert_eq!(run("${UNSET-d}").unwrap(), "d");
        assert_eq!(run("${EMPTY-d}").unwrap(), "");
        assert_eq!(run("${UNSET:-}").unwrap(), "");
        assert_eq!(
            run("${UNSET:-with spaces and : colons}").unwrap(),
            "with spaces and : colons"
        );
    }

    #[test]
    fn alternatives() {
        assert_eq!(run("${A:+alt}").unwrap(), "alt");
        assert_eq!(run("${EMPTY:+alt}").unwrap(), "");
        assert_eq!(run("${UNSET:+alt}").unwrap(), "");
        assert_eq!(run("${A+alt}").unwrap(), "alt");
        assert_eq!(run("${EMPTY+alt}").unwrap(), "alt");
        assert_eq!(run("${UNSET+alt}").unwrap(), "");
        assert_eq!(run("${A:+${B}}").unwrap(), "b");
    }

    #[test]
    fn required() {
        assert_eq!(run("${A:?need A}").unwrap(), "a");
        assert_eq!(run("${A?need A}").unwrap(), "a");
        assert_eq!(run("${EMPTY?need}").unwrap(), "");
        assert_eq!(
            run("${UNSET:?set it in .env}").unwrap_err(),
            InterpolationError::Required {
                var: "UNSET".into(),
                message: "set it in .env".into()
            }
        );
        assert_eq!(
            run("${EMPTY:?}").unwrap_err().to_string(),
            "required variable EMPTY is missing a value"
        );
        assert_eq!(
            run("${UNSET?msg $A}").unwrap_err().to_string(),
            "required variable UNSET is missing a value: msg a"
        );
    }

    #[test]
    fn nested_defaults() {
        assert_eq!(run("${UNSET:-${B:-x}}").unwrap(), "b");
        assert_eq!(run("${UNSET:-${UNSET2:-x}}").unwrap(), "x");
        assert_eq!(run("${UNSET:-${UNSET2:-${A}}}!").unwrap(), "a!");
        assert_eq!(run("${UNSET:-pre-${A}-post}").unwrap(), "pre-a-post");
        assert_eq!(run("${UNSET:-$$}").unwrap(), "$");
        // Defaults are evaluated only when used.
        assert_eq!(run("${A:-${UNSET:?never}}").unwrap(), "a");
        assert!(run("${UNSET:-${UNSET2:?inner}}").is_err());
    }

    #[test]
    fn errors() {
        assert_eq!(run("${A").unwrap_err(), InterpolationError::Unterminated);
        assert_eq!(
            run("x ${UNSET:-${A}").unwrap_err(),
            InterpolationError::Unterminated
        );
        assert_eq!(run("${").unwrap_err(), InterpolationError::Unterminated);
        assert_eq!(run("$").unwrap_err(), InterpolationError::Invalid);
        assert_eq!(run("echo $1").unwrap_err(), InterpolationError::Invalid);
        assert_eq!(run("${}").unwrap_err(), InterpolationError::Invalid);
        assert_eq!(run("${1A}").unwrap_err(), InterpolationError::Invalid);
        assert_eq!(run("${A B}").unwrap_err(), InterpolationError::Invalid);
        assert_eq!(run("${A:x}").unwrap_err(), InterpolationError::Invalid);
        assert_eq!(run("$é").unwrap_err(), InterpolationError::Invalid);
        let deep = "${A:-".repeat(1000) + &"}".repeat(1000);
        assert_eq!(run(&deep).unwrap(), "a");
        let deep = "${U:-".repeat(1000) + &"}".repeat(1000);
        assert_eq!(run(&deep).unwrap_err(), InterpolationError::TooDeep);
    }

    #[test]
    fn tracks_missing() {
        let env = env();
        let lookup = |k: &str| env.get(k).cloned();
        let mut missing = Vec::new();
        interpolate_tracking("$X ${Y} ${Z:-d} ${W-d} ${V:+a} $X", &lookup, &mut missing).unwrap();
        assert_eq!(missing, ["X", "Y"]);
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "$",
            "$$$",
            "${",
            "}",
            "${:-}",
            "${A:-",
            "${A:-}}",
            "$\u{0}",
            "${A:-é}",
            "é$",
            "${é}",
            "$${",
            "${A:?",
            "${A+${",
            "\u{feff}${A}",
        ] {
            let _ = run(s);
        }
    }
}
