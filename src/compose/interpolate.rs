//! Variable interpolation as docker compose v2 does it.
//!
//! docker compose v2 loads files with compose-go, whose `template` package
//! defines what a compose file's `$` means; budgie gives the same value, or
//! the same refusal, for every string:
//!
//! - `$$` is a literal `$`;
//! - `$NAME` and `${NAME}`: a name is a letter or `_`, then letters, digits
//!   and `_` (ASCII, plus the two characters Go's case-insensitive `[a-z]`
//!   also matches: `ſ` U+017F and `K` U+212A). Unset, it is the empty string
//!   (the caller warns about it);
//! - `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}`,
//!   `${NAME?message}`, `${NAME:+alt}`, `${NAME+alt}`: the colon forms treat
//!   an empty value as unset. The default, alternative or message is itself
//!   interpolated, and only when it is used;
//! - a `$` followed by anything else (a space, a digit, `}`, `ü`, the end of
//!   the string) is kept as it is: `^REGEX$`, `echo $1`, `a $ string`;
//! - a `${` that does not start one of the forms above (`${`, `${}`,
//!   `${ foo}`, `${foo!}`, `${A:x}`...) refuses the whole string.
//!
//! Where an operator's word ends is compose-go's rule, not a shell's: the
//! word runs to the last `}` on the same line, then is cut at the first `}`
//! that closes every `{` counted from the `${` (any `{`, not only those of a
//! nested `${`, and the character after a `{` is not looked at); the text
//! after the cut is read on as ordinary text. So a default may hold braces
//! (`${JSON:-{"a":1}}`), and a word never crosses a line break.
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
    /// A `${` with no `}` after it on its line.
    Unterminated,
    /// A `${` that starts no valid form (`${}`, `${ A}`, `${A B}`, `${A:x}`...).
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
                f.write_str("unterminated \"${\" (no closing \"}\" on its line)")
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

/// The byte length of the name character at `s[i..]`, if there is one
/// (`first`: the name's first character, which may not be a digit).
/// Go's `(?i)[_a-z]` is `_`, the ASCII letters, and the two non-ASCII
/// characters that fold to one of them: `ſ` (to `s`) and `K` (to `k`).
fn name_char(s: &str, i: usize, first: bool) -> Option<usize> {
    let c = s.get(i..)?.chars().next()?;
    let ok = c.is_ascii_alphabetic()
        || c == '_'
        || c == '\u{17f}'
        || c == '\u{212a}'
        || (!first && c.is_ascii_digit());
    ok.then(|| c.len_utf8())
}

/// The end of the name that starts at `s[i]`, if one does.
fn name_end(s: &str, i: usize) -> Option<usize> {
    let mut end = i + name_char(s, i, true)?;
    while let Some(n) = name_char(s, end, false) {
        end += n;
    }
    Some(end)
}

/// The line being read: where it ends and its last `}`, found once per line.
#[derive(Default)]
struct Line {
    end: usize,
    last_close: Option<usize>,
}

impl Line {
    /// The last `}` at or after `i` on the line of `s` that holds `i`.
    fn last_close(&mut self, s: &[u8], i: usize) -> Option<usize> {
        if i >= self.end {
            self.end = s[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(s.len(), |n| i + n);
            self.last_close = s[i..self.end]
                .iter()
                .rposition(|&c| c == b'}')
                .map(|n| i + n);
        }
        self.last_close.filter(|&c| c >= i)
    }
}

/// compose-go's closing brace for the `${` at `s[open]`, looking no further
/// than `last`: the first `}` that brings the count of `{` back to zero,
/// where every `{` counts and the character after it is skipped.
fn closing_brace(s: &[u8], open: usize, last: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i <= last {
        match s[i] {
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            b'{' => {
                depth += 1;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

impl Interpolator<'_> {
    fn run(&mut self, s: &str, depth: usize) -> Result<String, InterpolationError> {
        if depth > MAX_DEPTH {
            return Err(InterpolationError::TooDeep);
        }
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut line = Line::default();
        let mut literal_start = 0;
        let mut i = 0;
        while let Some(n) = b[i..].iter().position(|&c| c == b'$') {
            // `$` is ASCII, so every index used for slicing below sits on a
            // character boundary.
            i += n;
            let (value, next) = match b.get(i + 1) {
                Some(b'$') => ("$".to_string(), i + 2),
                Some(b'{') => self.braced(s, i, &mut line, depth)?,
                _ => match name_end(s, i + 1) {
                    Some(end) => (self.plain(&s[i + 1..end]), end),
                    None => {
                        // A lone `$` is text.
                        i += 1;
                        continue;
                    }
                },
            };
            out.push_str(&s[literal_start..i]);
            out.push_str(&value);
            i = next;
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

    /// The `${` at `s[open]`: its value, and where the text after it starts.
    fn braced(
        &mut self,
        s: &str,
        open: usize,
        line: &mut Line,
        depth: usize,
    ) -> Result<(String, usize), InterpolationError> {
        let b = s.as_bytes();
        let refused = |line: &mut Line| match line.last_close(b, open) {
            None => InterpolationError::Unterminated,
            Some(_) => InterpolationError::Invalid,
        };
        let Some(after_name) = name_end(s, open + 2) else {
            return Err(refused(line));
        };
        let name = &s[open + 2..after_name];
        let (colon, op, word_start) = match (b.get(after_name), b.get(after_name + 1)) {
            (Some(b'}'), _) => return Ok((self.plain(name), after_name + 1)),
            (Some(b':'), Some(&op @ (b'-' | b'?' | b'+'))) => (true, op, after_name + 2),
            (Some(&op @ (b'-' | b'?' | b'+')), _) => (false, op, after_name + 1),
            _ => return Err(refused(line)),
        };
        // The word runs to the line's last `}`, cut where the braces balance.
        let Some(last) = line.last_close(b, word_start) else {
            return Err(InterpolationError::Unterminated);
        };
        let close = closing_brace(b, open, last).unwrap_or(last);
        let word = &s[word_start..close];

        let value = (self.lookup)(name);
        // With a colon, an empty value counts as unset.
        let set = match &value {
            Some(v) => !(colon && v.is_empty()),
            None => false,
        };
        let result = match op {
            b'-' if !set => self.run(word, depth + 1)?,
            b'+' if set => self.run(word, depth + 1)?,
            b'+' => String::new(),
            b'?' if !set => {
                return Err(InterpolationError::Required {
                    var: name.to_string(),
                    message: self.run(word, depth + 1)?,
                });
            }
            _ => value.unwrap_or_default(),
        };
        Ok((result, close + 1))
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
    fn lone_dollar_is_text() {
        assert_eq!(run("$").unwrap(), "$");
        assert_eq!(run("a $ string").unwrap(), "a $ string");
        assert_eq!(run("^REGEX$").unwrap(), "^REGEX$");
        assert_eq!(run("$}").unwrap(), "$}");
        assert_eq!(run("echo $1 $@ $*").unwrap(), "echo $1 $@ $*");
        assert_eq!(run("$é $ü").unwrap(), "$é $ü");
        assert_eq!(run("$$$").unwrap(), "$$");
        assert_eq!(run("$$$A").unwrap(), "$a");
        assert_eq!(run("$-$A$").unwrap(), "$-a$");
    }

    #[test]
    fn braces_in_words() {
        assert_eq!(run(r#"${A:-{"json":1}}"#).unwrap(), "a");
        assert_eq!(run(r#"${UNSET:-{"json":1}}"#).unwrap(), r#"{"json":1}"#);
        assert_eq!(run("${UNSET:-{a}{b}} ${B}").unwrap(), "{a}{b} b");
        assert_eq!(run("${A:-x} }").unwrap(), "a }");
        // compose-go's rule: the word runs to the line's last `}`, cut where
        // every `{` is closed; an unbalanced word keeps all of it...
        assert_eq!(run("${UNSET:-{}").unwrap(), "{");
        assert_eq!(run("${UNSET:-a{b}").unwrap(), "a{b");
        // ...the character after a `{` is not counted...
        assert_eq!(run("${A:-{{x}}}").unwrap(), "a}");
        // ...and a word never crosses a line break.
        assert_eq!(run("${UNSET:-x}\n}").unwrap(), "x\n}");
        assert_eq!(
            run("${UNSET:-x\ny}").unwrap_err(),
            InterpolationError::Unterminated
        );
    }

    #[test]
    fn errors() {
        assert_eq!(run("${A").unwrap_err(), InterpolationError::Unterminated);
        assert_eq!(
            run("x ${UNSET:-${A}").unwrap_err(),
            InterpolationError::Unterminated
        );
        assert_eq!(run("${").unwrap_err(), InterpolationError::Unterminated);
        assert_eq!(run("${}").unwrap_err(), InterpolationError::Invalid);
        assert_eq!(run("${ A}").unwrap_err(), InterpolationError::Invalid);
        assert_eq!(run("${A }").unwrap_err(), InterpolationError::Invalid);
        assert_eq!(run("${A!}").unwrap_err(), InterpolationError::Invalid);
        assert_eq!(run("${1A}").unwrap_err(), InterpolationError::Invalid);
        assert_eq!(run("${A B}").unwrap_err(), InterpolationError::Invalid);
        assert_eq!(run("${A:x}").unwrap_err(), InterpolationError::Invalid);
        assert_eq!(run("${é}").unwrap_err(), InterpolationError::Invalid);
        // A default is interpolated only when used, and then its errors count.
        assert_eq!(run("${A:-${}}").unwrap(), "a");
        assert_eq!(
            run("${UNSET:-${}}").unwrap_err(),
            InterpolationError::Invalid
        );
        // A message that cannot be interpolated is the error.
        assert_eq!(
            run("${UNSET:?${UNSET2:?inner}}").unwrap_err(),
            InterpolationError::Required {
                var: "UNSET2".into(),
                message: "inner".into()
            }
        );
        let deep = "${A:-".repeat(1000) + &"}".repeat(1000);
        assert_eq!(run(&deep).unwrap(), "a");
        let deep = "${U:-".repeat(1000) + &"}".repeat(1000);
        assert_eq!(run(&deep).unwrap_err(), InterpolationError::TooDeep);
    }

    /// One case of `tests/data/interpolation-cases.json`: what budgie gives
    /// against what compose-go gives, `None` when they agree.
    fn disagreement(case: &serde_json::Value, defaults: &serde_json::Value) -> Option<String> {
        let template = case["template"].as_str().expect("a template");
        let vars: BTreeMap<String, String> =
            serde_json::from_value(case.get("variables").unwrap_or(defaults).clone())
                .expect("variables: names to strings");
        let lookup = |k: &str| vars.get(k).cloned();
        let mut missing = Vec::new();
        let got = interpolate_tracking(template, &lookup, &mut missing);
        let agrees = match (&got, case["value"].as_str(), case["refused"].as_str()) {
            (Ok(v), Some(want), None) => {
                v == want
                    && case.get("warns").is_none_or(|w| {
                        serde_json::from_value::<Vec<String>>(w.clone()).unwrap() == missing
                    })
            }
            (
                Err(InterpolationError::Invalid | InterpolationError::Unterminated),
                None,
                Some("invalid template"),
            ) => true,
            (Err(e @ InterpolationError::Required { .. }), None, Some(want)) => {
                e.to_string() == want
            }
            _ => false,
        };
        (!agrees).then(|| {
            format!("{template:?}: budgie {got:?}, missing {missing:?}; compose-go {case}")
        })
    }

    /// compose-go's own test table (`template/template_test.go`, at the
    /// commit the data file names) and budgie's unicode cases.
    #[test]
    fn compose_go_table() {
        let table: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/data/interpolation-cases.json"))
                .expect("the cases are JSON");
        let defaults = &table["variables"];
        let cases = table["cases"].as_array().unwrap();
        let unicode = table["unicode"].as_array().unwrap();
        assert_eq!(cases.len(), 82, "compose-go's cases");
        assert!(unicode.len() >= 15, "the unicode cases");
        let wrong: Vec<String> = cases
            .iter()
            .chain(unicode)
            .filter_map(|c| disagreement(c, defaults))
            .collect();
        assert!(
            wrong.is_empty(),
            "{} cases differ:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
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
