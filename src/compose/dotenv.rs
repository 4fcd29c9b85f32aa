//! `.env` files, and the `env_file:` entries of services, in compose's format.
//!
//! ```text
//! # a comment
//! export KEY=value          # `export ` is allowed and ignored
//! PLAIN=  trimmed value  # inline comment after whitespace
//! SINGLE='literal $NOT_EXPANDED'
//! DOUBLE="escapes \n \" \\ and ${INTERPOLATION}"
//! INHERITED                 # a bare name takes the value from the environment
//! ```
//!
//! Quoted values may span lines. Variables in unquoted and double-quoted
//! values are looked up first in the environment given by the caller, then
//! among the keys defined earlier in the same file (compose-go's order).

use std::collections::BTreeMap;
use std::path::Path;

use super::interpolate::interpolate;
use crate::error::{Error, Result};

/// Reads a dotenv file. `Ok(None)` when it does not exist.
pub(crate) fn read(
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<BTreeMap<String, String>>> {
    let cannot = |e: std::io::Error| Error::new(format!("cannot read {}: {e}", path.display()));
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    // A device or a pipe (`/dev/zero`, `/dev/stdin`) could be read forever.
    if !file.metadata().map_err(cannot)?.is_file() {
        return Err(Error::new(format!(
            "cannot read {}: not a regular file",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(cannot)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::new(format!("{}: not valid UTF-8", path.display())))?;
    parse(&text, path, lookup).map(Some)
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-')
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Moves `i` past spaces and tabs.
fn skip_blanks(b: &[u8], i: &mut usize) {
    while *i < b.len() && is_blank(b[*i]) {
        *i += 1;
    }
}

/// Moves `i` to the end of the line (its `\n`, or the end of the text).
fn skip_to_end_of_line(b: &[u8], i: &mut usize) {
    while *i < b.len() && b[*i] != b'\n' {
        *i += 1;
    }
}

/// Parses dotenv text. `file` is only for messages (`<file>:<line>: ...`).
pub(crate) fn parse(
    text: &str,
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.replace("\r\n", "\n");
    let s = text.as_str();
    let b = s.as_bytes();
    let err = |line: usize, msg: String| Error::new(format!("{}:{line}: {msg}", file.display()));

    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut i = 0;
    let mut line = 1;
    // Every index below moves over ASCII bytes or stops at an ASCII byte (or
    // the end), so slicing `s` with them never splits a character.
    while i < b.len() {
        skip_blanks(b, &mut i);
        if i >= b.len() {
            break;
        }
        if b[i] == b'\n' {
            i += 1;
            line += 1;
            continue;
        }
        if b[i] == b'#' {
            skip_to_end_of_line(b, &mut i);
            continue;
        }
        if s[i..].starts_with("export") && b.get(i + 6).is_some_and(|&c| is_blank(c)) {
            i += 6;
            skip_blanks(b, &mut i);
        }
        let key = read_key(s, &mut i).map_err(|msg| err(line, msg))?;
        skip_blanks(b, &mut i);
        if i >= b.len() || b[i] == b'\n' {
            // A bare name: inherit the value, if there is one.
            if let Some(v) = lookup(key).or_else(|| vars.get(key).cloned()) {
                vars.insert(key.to_string(), v);
            }
            continue;
        }
        if b[i] != b'=' {
            return Err(err(
                line,
                format!("expected \"=\" after variable name {key:?}"),
            ));
        }
        i += 1;
        let after_eq = i;
        skip_blanks(b, &mut i);
        let start_line = line;
        let expand = |raw: &str, vars: &BTreeMap<String, String>| {
            interpolate(raw, |k| lookup(k).or_else(|| vars.get(k).cloned()))
                .map_err(|e| err(start_line, format!("{key}: {e}")))
        };
        let value = match b.get(i) {
            Some(&quote @ (b'\'' | b'"')) => {
                let Some(raw) = quoted(s, quote, &mut i, &mut line) else {
                    let which = if quote == b'\'' { "single" } else { "double" };
                    return Err(err(
                        start_line,
                        format!("{key}: unterminated {which} quote"),
                    ));
                };
                check_rest_of_line(b, &mut i).map_err(|()| {
                    err(
                        line,
                        format!("{key}: unexpected text after the closing quote"),
                    )
                })?;
                if quote == b'\'' {
                    raw.to_string()
                } else {
                    expand(&unescape(raw), &vars)?
                }
            }
            _ => expand(unquoted(s, &mut i, after_eq), &vars)?,
        };
        vars.insert(key.to_string(), value);
    }
    Ok(vars)
}

/// The variable name that starts at `i`, checked, with `i` moved past it.
/// The error is the message, without the file and line.
fn read_key<'a>(s: &'a str, i: &mut usize) -> Result<&'a str, String> {
    let b = s.as_bytes();
    let key_start = *i;
    while *i < b.len() && !matches!(b[*i], b'=' | b' ' | b'\t' | b'\n') {
        *i += 1;
    }
    let key = &s[key_start..*i];
    if key.is_empty() {
        return Err("a line starts with \"=\": the variable name is missing".into());
    }
    if let Some(bad) = key
        .chars()
        .find(|c| !c.is_ascii() || !is_key_char(*c as u8))
    {
        return Err(format!(
            "unexpected character {bad:?} in variable name {key:?}"
        ));
    }
    Ok(key)
}

/// The text between the `quote` (`'` or `"`) at `i` and its closing quote,
/// with `i` moved past the closing quote and `line` past the newlines
/// inside. In double quotes a backslash escapes the next byte (the escapes
/// are read by [`unescape`]). `None` when the quote is never closed.
fn quoted<'a>(s: &'a str, quote: u8, i: &mut usize, line: &mut usize) -> Option<&'a str> {
    let b = s.as_bytes();
    let open = *i;
    *i += 1;
    while *i < b.len() && b[*i] != quote {
        if quote == b'"' && b[*i] == b'\\' && *i + 1 < b.len() {
            *i += 1;
        }
        if b[*i] == b'\n' {
            *line += 1;
        }
        *i += 1;
    }
    if *i >= b.len() {
        return None;
    }
    let raw = &s[open + 1..*i];
    *i += 1;
    Some(raw)
}

/// The unquoted value from `i` to the end of the line, without its inline
/// comment and trailing blanks, with `i` moved to the end of the line.
/// `after_eq` is the index just after the `=`: a `#` right there is part of
/// the value, a `#` after blanks starts a comment.
fn unquoted<'a>(s: &'a str, i: &mut usize, after_eq: usize) -> &'a str {
    let b = s.as_bytes();
    let start = *i;
    skip_to_end_of_line(b, i);
    let raw = &s[start..*i];
    // An inline comment starts at a `#` that follows whitespace.
    let cut = if start > after_eq && raw.starts_with('#') {
        0
    } else {
        raw.as_bytes()
            .windows(2)
            .position(|w| is_blank(w[0]) && w[1] == b'#')
            .unwrap_or(raw.len())
    };
    raw[..cut].trim_end_matches([' ', '\t'])
}

/// After a closing quote: only blanks and an optional comment may follow.
fn check_rest_of_line(b: &[u8], i: &mut usize) -> Result<(), ()> {
    skip_blanks(b, i);
    match b.get(*i) {
        None | Some(b'\n') => Ok(()),
        Some(b'#') => {
            skip_to_end_of_line(b, i);
            Ok(())
        }
        Some(_) => Err(()),
    }
}

/// Escapes of double-quoted values. `\$` stays a literal dollar (written
/// `$$` for the interpolation that follows); unknown escapes are kept.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('$') => out.push_str("$$"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<BTreeMap<String, String>> {
        parse(text, Path::new("/p/.env"), &|k| {
            (k == "HOME").then(|| "/home/u".to_string())
        })
    }

    fn get(m: &BTreeMap<String, String>, k: &str) -> String {
        m.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("no {k} in {m:?}"))
    }

    #[test]
    fn basics() {
        let m = p("# comment\n\nA=1\nexport B=two\n  C = spaced value  \nD=\nE=x#notcomment\nF=x # comment\nG= # only comment\n")
            .unwrap();
        assert_eq!(get(&m, "A"), "1");
        assert_eq!(get(&m, "B"), "two");
        assert_eq!(get(&m, "C"), "spaced value");
        assert_eq!(get(&m, "D"), "");
        assert_eq!(get(&m, "E"), "x#notcomment");
        assert_eq!(get(&m, "F"), "x");
        assert_eq!(get(&m, "G"), "");
        assert_eq!(m.len(), 7);
    }

    #[test]
    fn quotes() {
        let m = p(concat!(
            "S='lit $HOME \\n # not a comment'\n",
            "D=\"a\\nb \\\"q\\\" back\\\\slash $HOME \\$HOME\"\n",
            "M=\"line1\nline2\"\n",
            "N='x' # trailing comment\n",
            "E=\"\"\n",
        ))
        .unwrap();
        assert_eq!(get(&m, "S"), "lit $HOME \\n # not a comment");
        assert_eq!(get(&m, "D"), "a\nb \"q\" back\\slash /home/u $HOME");
        assert_eq!(get(&m, "M"), "line1\nline2");
        assert_eq!(get(&m, "N"), "x");
        assert_eq!(get(&m, "E"), "");
    }

    #[test]
    fn interpolation_from_env_and_earlier_keys() {
        let m = p("A=one\nB=${A}-$HOME\nC=\"${MISSING:-def}\"\nD=${A:+set}\n").unwrap();
        assert_eq!(get(&m, "B"), "one-/home/u");
        assert_eq!(get(&m, "C"), "def");
        assert_eq!(get(&m, "D"), "set");
    }

    #[test]
    fn process_env_wins_in_lookup() {
        // HOME is in the lookup env, so a redefinition earlier in the file
        // does not change what ${HOME} expands to (compose-go's order).
        let m = p("HOME=/other\nX=$HOME\n").unwrap();
        assert_eq!(get(&m, "X"), "/home/u");
    }

    #[test]
    fn bare_names_inherit() {
        let m = p("HOME\nNOTSET\n").unwrap();
        assert_eq!(get(&m, "HOME"), "/home/u");
        assert!(!m.contains_key("NOTSET"));
    }

    #[test]
    fn crlf_and_bom() {
        let m = p("\u{feff}A=1\r\nB='2'\r\n").unwrap();
        assert_eq!(get(&m, "A"), "1");
        assert_eq!(get(&m, "B"), "2");
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = p("A=1\n\nBAD KEY=2\n").unwrap_err();
        assert!(e.message.starts_with("/p/.env:3: "), "{}", e.message);
        let e = p("A=1\n=2\n").unwrap_err();
        assert!(e.message.starts_with("/p/.env:2: "), "{}", e.message);
        let e = p("A=1\nB='open\nC=3\n").unwrap_err();
        assert!(
            e.message.starts_with("/p/.env:2: B: unterminated"),
            "{}",
            e.message
        );
        let e = p("A=\"x\" y\n").unwrap_err();
        assert!(e.message.starts_with("/p/.env:1: "), "{}", e.message);
        let e = p("A=1\nB=${X\n").unwrap_err();
        assert!(
            e.message.starts_with("/p/.env:2: B: unterminated"),
            "{}",
            e.message
        );
        let e = p("A=1\nB=${X:?needed}\n").unwrap_err();
        assert!(e.message.contains("required variable X"), "{}", e.message);
        let e = p("ké=1\n").unwrap_err();
        assert!(e.message.starts_with("/p/.env:1: "), "{}", e.message);
    }

    #[test]
    fn line_numbers_after_multiline_values() {
        let e = p("A=\"1\n2\n3\"\nB C\n").unwrap_err();
        assert!(e.message.starts_with("/p/.env:4: "), "{}", e.message);
    }

    #[test]
    fn never_panics() {
        for s in [
            "=",
            "'",
            "\"",
            "A='",
            "A=\"\\",
            "A=\"\\\"",
            "export",
            "export ",
            "export A",
            "é=é",
            "A=é #é",
            "A=\"é\\é\"",
            "\\",
            "A=$",
            "A= #",
            "#",
            "A\tB",
        ] {
            let _ = p(s);
        }
    }
}
