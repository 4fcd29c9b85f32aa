//! What psql would do with a plain SQL file, found before it does: a
//! lexer that follows psql's own (`psqlscan.l`) through quotes, `E''`
//! strings, dollar quoting, nested comments, identifiers, `--` comments
//! (which end at a CR as well as an LF) and COPY data (lines up to `\.`),
//! and refuses what would reach outside the scratch database:
//!
//! - a psql meta-command anywhere (an unquoted backslash, at a line start
//!   or not), except pg_dump's own `\restrict KEY` / `\unrestrict KEY`
//!   lines (same key, letters and digits only), which are checked and
//!   left out of the stream (budgie wraps the load in its own pair);
//! - `COPY ... PROGRAM`, `COPY` to or from a server file, `ALTER SYSTEM`,
//!   roles made or altered with `SUPERUSER`, and calls of the server's
//!   file, large-object file and connection functions (`pg_read_file`,
//!   `lo_import`, `dblink`...) — none of which pg_dump writes;
//! - `standard_conforming_strings` set to anything but on, reset, or
//!   changed by `set_config` (psql lexes `'...'` differently with it off;
//!   budgie sets it on for the session before the file, and this scanner
//!   reads `'...'` that way), and `RESET ALL`/`DISCARD ALL`, which would
//!   bring back a server default that may be off;
//! - a file that ends inside a string, comment or statement (psql would
//!   run a last statement it never saw end).
//!
//! [`super::sqlguard::Guarded`] is the reader that puts it between the
//! file and psql. Function bodies (dollar-quoted) are data to this
//! scanner: what they do when called is not seen.

/// The words kept of each statement's head: enough to say what it is.
const HEAD_WORDS: usize = 6;

/// Functions that read or write the server's files, or reach other hosts.
const DANGEROUS_FUNCTIONS: [&str; 19] = [
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_ls_logdir",
    "pg_ls_waldir",
    "pg_ls_tmpdir",
    "pg_ls_archive_statusdir",
    "pg_file_write",
    "pg_file_rename",
    "pg_file_unlink",
    "pg_logdir_ls",
    "lo_import",
    "lo_export",
    "dblink",
    "dblink_exec",
    "dblink_connect",
    "dblink_connect_u",
    "pg_reload_conf",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Normal,
    /// `--` to the end of the line (LF or CR).
    LineComment,
    /// `/* */`, nested.
    Block(u32),
    /// `'...'`; `escapes` for `E'...'`.
    Single {
        escapes: bool,
    },
    /// A quote inside `'...'`: doubled, or the end.
    SingleQuote {
        escapes: bool,
    },
    /// The character after a backslash in an escaping string.
    SingleEscape,
    /// `"..."`: the name so far.
    Double(Vec<u8>),
    DoubleQuote(Vec<u8>),
    /// After a `$` that may open a dollar quote: the tag so far.
    DollarOpen(Vec<u8>),
    /// Inside `$tag$ ... $tag$`: the tag, and how much of `$tag$` matched.
    Dollar {
        tag: Vec<u8>,
        matched: usize,
    },
    /// A meta-command: its text up to the line's end.
    Meta(Vec<u8>),
    /// After `COPY ... FROM stdin;`, the rest of that line (still SQL).
    CopyPending,
    /// COPY data: the current line's first bytes (to find `\.`) and how
    /// many there were (4: more than `\.\r`).
    CopyData([u8; 3], u8),
}

/// A statement being read: its first words, and what the rest says that
/// matters. Its buffers are reused from one statement to the next (a dump
/// of `INSERT`s has millions).
#[derive(Debug, Default)]
struct Statement {
    /// The first [`HEAD_WORDS`] words, lowercased (`words[..heads]`).
    words: Vec<String>,
    heads: usize,
    program: bool,
    superuser: bool,
    from_stdin: bool,
    names_scs: bool,
    /// The last word was `FROM` (for `FROM stdin`).
    after_from: bool,
    /// The last token was the word `TO` or `FROM` (a file name may follow).
    after_to_from: bool,
    /// A string literal right after `TO`/`FROM`: in a COPY, a server file.
    file_string: bool,
    /// The name just read (a word, lowercased, or a quoted name), valid
    /// while `has_last_word`: `name (` is a call.
    last_word: String,
    has_last_word: bool,
    /// Any SQL text (not whitespace or comments) since the last `;`.
    started: bool,
    /// The first short string literals, lowercased (`strings[..nstrings]`).
    strings: Vec<String>,
    nstrings: usize,
    string: Vec<u8>,
}

impl Statement {
    fn reset(&mut self) {
        (self.heads, self.nstrings) = (0, 0);
        self.program = false;
        self.superuser = false;
        self.from_stdin = false;
        self.names_scs = false;
        self.after_from = false;
        self.after_to_from = false;
        self.file_string = false;
        self.has_last_word = false;
        self.started = false;
        self.string.clear();
    }

    fn head(&self) -> Vec<&str> {
        self.words[..self.heads]
            .iter()
            .map(String::as_str)
            .collect()
    }

    /// Copies `text` into the reused slot `i` of `list`.
    fn keep(list: &mut Vec<String>, i: usize, text: &str) {
        if i < list.len() {
            list[i].clear();
            list[i].push_str(text);
        } else {
            list.push(text.to_string());
        }
    }
}

/// The scanner's findings so far; see the module documentation.
#[derive(Debug)]
pub struct Scanner {
    state: State,
    statement: Statement,
    word: Vec<u8>,
    /// A word ended at this very byte (for `E'`, which needs no space).
    word_just_ended: bool,
    line: u64,
    /// The key of pg_dump's `\restrict`, until its `\unrestrict`.
    restrict_key: Option<String>,
    /// The previous byte of the file (line starts).
    previous: u8,
    /// The previous byte read as SQL (0 after a string or comment), for
    /// `--` and `/*`.
    prev_sql: u8,
    /// The previous byte inside a block comment, for `/*` and `*/`.
    prev_block: u8,
    /// The meta-command being read began its line.
    meta_at_line_start: bool,
    /// See [`Scanner::take_safe_len`].
    safe_len: Option<usize>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            state: State::Normal,
            statement: Statement::default(),
            word: Vec::new(),
            word_just_ended: false,
            line: 1,
            restrict_key: None,
            previous: b'\n',
            prev_sql: 0,
            prev_block: 0,
            meta_at_line_start: false,
            safe_len: None,
        }
    }
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_word_char(b: u8) -> bool {
    is_word_start(b) || b.is_ascii_digit() || b == b'$'
}

fn is_tag_char(b: u8) -> bool {
    is_word_start(b) || b.is_ascii_digit()
}

impl Scanner {
    /// Scans `data`, appending to `out` what psql may read: everything
    /// but meta-command lines (pg_dump's `\restrict` pair, the only ones
    /// let through, is left out; any other refuses the file). An error
    /// names the line. Afterwards [`Scanner::safe_len`] says how much of
    /// `out` holds only whole, checked statements.
    pub fn scan(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let mut i = 0;
        while i < data.len() {
            // COPY data past its line's start: nothing to read but the line
            // feed (most of a dump's bytes; taken whole).
            if let State::CopyData(_, len) = &mut self.state {
                // A line that does not start with a backslash is not `\.`.
                if *len == 0 && data[i] != b'\\' {
                    *len = 4;
                }
                if *len == 4 {
                    let rest = &data[i..];
                    let n = rest.iter().position(|&b| b == b'\n');
                    let take = n.map_or(rest.len(), |n| n + 1);
                    out.extend_from_slice(&rest[..take]);
                    i += take;
                    self.previous = rest[take - 1];
                    if n.is_some() {
                        *len = 0;
                        self.line += 1;
                    }
                    self.safe_len = Some(out.len());
                    continue;
                }
            }
            // Inside a string, a $$ body or a comment: nothing matters but
            // the byte that may end it (taken whole too).
            let stop: Option<fn(u8) -> bool> = match &self.state {
                State::Single { escapes: false } => Some(|b| b == b'\''),
                State::Dollar { matched: 0, .. } => Some(|b| b == b'$'),
                State::LineComment => Some(|b| b == b'\n' || b == b'\r'),
                _ => None,
            };
            if let Some(stop) = stop {
                let rest = &data[i..];
                let n = rest.iter().position(|&b| stop(b)).unwrap_or(rest.len());
                if n > 0 {
                    let taken = &rest[..n];
                    if matches!(self.state, State::Single { .. }) {
                        let room = 64usize.saturating_sub(self.statement.string.len());
                        self.statement
                            .string
                            .extend_from_slice(&taken[..n.min(room)]);
                    }
                    self.line += taken.iter().filter(|&&b| b == b'\n').count() as u64;
                    out.extend_from_slice(taken);
                    self.previous = taken[n - 1];
                    i += n;
                    if self.between_statements() {
                        self.safe_len = Some(out.len());
                    }
                    continue;
                }
            }
            let b = data[i];
            i += 1;
            self.byte(b)?;
            if !matches!(self.state, State::Meta(_)) {
                out.push(b);
            }
            if b == b'\n' {
                self.line += 1;
            }
            self.previous = b;
            if self.between_statements() {
                self.safe_len = Some(out.len());
            }
        }
        Ok(())
    }

    /// The line being read (1 for the first).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Where `out` last ended between statements (None: not since the
    /// last call); psql runs an unfinished statement at the end of its
    /// input, so nothing after this may reach it before it is checked.
    pub fn take_safe_len(&mut self) -> Option<usize> {
        self.safe_len.take()
    }

    fn between_statements(&self) -> bool {
        match self.state {
            State::CopyPending | State::CopyData(..) => true,
            State::Normal | State::LineComment | State::Block(_) => {
                !self.statement.started && self.word.is_empty()
            }
            _ => false,
        }
    }

    /// At the end of the file: it must not end inside anything.
    pub fn finish(&mut self) -> Result<(), String> {
        self.byte(b'\n')?;
        let inside = match &self.state {
            State::Normal | State::LineComment | State::CopyData(..) => None,
            State::Block(_) => Some("a /* comment */"),
            State::Single { .. } | State::SingleEscape => Some("a quoted string"),
            State::Double(_) => Some("a quoted name"),
            State::Dollar { .. } => Some("a $$-quoted string"),
            _ => Some("a statement"),
        };
        if let Some(what) = inside {
            return Err(format!("the file ends inside {what} (line {})", self.line));
        }
        if self.statement.started {
            return Err(format!(
                "the file ends in the middle of a statement (line {}): psql would run it as it is",
                self.line
            ));
        }
        if let Some(key) = &self.restrict_key {
            return Err(format!(
                "the file ends at line {} without the `\\unrestrict {key}` of its `\\restrict {key}`: it is cut short",
                self.line
            ));
        }
        Ok(())
    }

    fn refuse(&self, what: impl std::fmt::Display) -> Result<(), String> {
        Err(format!("line {}: {what}", self.line))
    }

    fn byte(&mut self, b: u8) -> Result<(), String> {
        let state = std::mem::replace(&mut self.state, State::Normal);
        self.state = match state {
            State::Normal => return self.normal(b),
            State::LineComment => {
                if b == b'\n' || b == b'\r' {
                    State::Normal
                } else {
                    State::LineComment
                }
            }
            State::Block(depth) => self.block(depth, b),
            State::Single { escapes } => match b {
                b'\'' => State::SingleQuote { escapes },
                b'\\' if escapes => State::SingleEscape,
                _ => {
                    self.string_byte(b);
                    State::Single { escapes }
                }
            },
            State::SingleEscape => State::Single { escapes: true },
            State::SingleQuote { escapes } => {
                if b == b'\'' {
                    State::Single { escapes }
                } else {
                    self.string_done();
                    return self.normal(b);
                }
            }
            State::Double(mut name) => {
                if b == b'"' {
                    State::DoubleQuote(name)
                } else {
                    if name.len() < 128 {
                        name.push(b);
                    }
                    State::Double(name)
                }
            }
            State::DoubleQuote(mut name) => {
                if b == b'"' {
                    name.push(b'"');
                    State::Double(name)
                } else {
                    let name = String::from_utf8_lossy(&name).into_owned();
                    self.name_done(name);
                    return self.normal(b);
                }
            }
            State::DollarOpen(mut tag) => {
                if b == b'$' {
                    State::Dollar { tag, matched: 0 }
                } else if is_tag_char(b) && !(tag.is_empty() && b.is_ascii_digit()) {
                    tag.push(b);
                    State::DollarOpen(tag)
                } else {
                    // `$1` or a stray `$`: not a quote.
                    return self.normal(b);
                }
            }
            State::Dollar { tag, matched } => dollar(tag, matched, b),
            State::Meta(mut text) => {
                if b == b'\n' || b == b'\r' {
                    self.meta_done(&text)?;
                    State::Normal
                } else {
                    text.push(b);
                    if text.len() > 256 {
                        return self.refuse(format!(
                            "a psql meta-command (\\{}...); a dump file may not run psql commands",
                            String::from_utf8_lossy(&text[..16])
                        ));
                    }
                    State::Meta(text)
                }
            }
            State::CopyPending => match b {
                b'\n' => State::CopyData([0; 3], 0),
                b' ' | b'\t' | b'\r' => State::CopyPending,
                _ => {
                    return self.refuse(
                        "text after `COPY ... FROM stdin;` on its line (psql would run it after the data)",
                    );
                }
            },
            State::CopyData(mut head, len) => {
                if b == b'\n' {
                    let line = &head[..usize::from(len.min(3))];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if len <= 3 && line == b"\\." {
                        self.prev_sql = 0;
                        State::Normal
                    } else {
                        State::CopyData([0; 3], 0)
                    }
                } else {
                    if len < 3 {
                        head[usize::from(len)] = b;
                    }
                    State::CopyData(head, (len + 1).min(4))
                }
            }
        };
        Ok(())
    }

    fn block(&mut self, depth: u32, b: u8) -> State {
        let prev = std::mem::replace(&mut self.prev_block, b);
        match (prev, b) {
            (b'/', b'*') => {
                self.prev_block = 0;
                State::Block(depth + 1)
            }
            (b'*', b'/') if depth == 1 => State::Normal,
            (b'*', b'/') => {
                self.prev_block = 0;
                State::Block(depth - 1)
            }
            _ => State::Block(depth),
        }
    }

    fn normal(&mut self, b: u8) -> Result<(), String> {
        if is_word_char(b) && (!self.word.is_empty() || is_word_start(b)) {
            if self.word.len() < 128 {
                self.word.push(b);
            }
            self.statement.started = true;
            return Ok(());
        }
        self.word_done();
        let just_ended = std::mem::replace(&mut self.word_just_ended, false);
        let prev = std::mem::replace(&mut self.prev_sql, b);
        match b {
            b'-' if prev == b'-' => {
                self.prev_sql = 0;
                self.state = State::LineComment;
            }
            b'*' if prev == b'/' => {
                self.prev_sql = 0;
                self.prev_block = 0;
                self.state = State::Block(1);
            }
            b'\'' => {
                let e =
                    just_ended && self.statement.has_last_word && self.statement.last_word == "e";
                self.prev_sql = 0;
                self.statement.string.clear();
                self.statement.started = true;
                self.statement.has_last_word = false;
                self.state = State::Single { escapes: e };
            }
            b'"' => {
                self.prev_sql = 0;
                self.statement.started = true;
                self.state = State::Double(Vec::new());
            }
            b'$' => {
                self.prev_sql = 0;
                self.statement.started = true;
                self.statement.has_last_word = false;
                self.state = State::DollarOpen(Vec::new());
            }
            b'\\' => {
                self.meta_at_line_start = self.previous == b'\n' && !self.statement.started;
                self.state = State::Meta(Vec::new());
            }
            b'(' => {
                self.statement.started = true;
                self.check_call()?;
                self.statement.has_last_word = false;
            }
            b';' => self.statement_done()?,
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {}
            // Perhaps the start of `--` or `/*`: nothing yet.
            b'-' | b'/' => self.statement.has_last_word = false,
            _ => {
                let st = &mut self.statement;
                st.started = true;
                st.has_last_word = false;
                st.after_from = false;
                st.after_to_from = false;
            }
        }
        Ok(())
    }

    fn word_done(&mut self) {
        if self.word.is_empty() {
            return;
        }
        let st = &mut self.statement;
        st.last_word.clear();
        st.last_word.extend(
            String::from_utf8_lossy(&self.word)
                .chars()
                .map(|c| c.to_ascii_lowercase()),
        );
        st.has_last_word = true;
        self.word.clear();
        self.word_just_ended = true;
        let w = st.last_word.as_str();
        if st.heads < HEAD_WORDS {
            Statement::keep(&mut st.words, st.heads, w);
            st.heads += 1;
        }
        st.program |= w == "program";
        st.superuser |= w == "superuser";
        st.names_scs |= w == "standard_conforming_strings";
        st.from_stdin |= st.after_from && w == "stdin";
        st.after_from = w == "from";
        st.after_to_from = w == "to" || w == "from";
    }

    /// A quoted name (as written) was read: never a keyword.
    fn name_done(&mut self, name: String) {
        let st = &mut self.statement;
        if st.heads < HEAD_WORDS {
            Statement::keep(&mut st.words, st.heads, &name);
            st.heads += 1;
        }
        st.last_word = name;
        st.has_last_word = true;
        st.after_from = false;
        st.after_to_from = false;
    }

    fn string_byte(&mut self, b: u8) {
        if self.statement.string.len() < 64 {
            self.statement.string.push(b);
        }
    }

    fn string_done(&mut self) {
        let st = &mut self.statement;
        st.file_string |= st.after_to_from;
        st.after_from = false;
        st.after_to_from = false;
        // Only a statement's first strings matter (a setting's value); a
        // long INSERT's are data.
        if st.nstrings < 8 {
            let s = String::from_utf8_lossy(&st.string).to_ascii_lowercase();
            st.names_scs |= s == "standard_conforming_strings";
            Statement::keep(&mut st.strings, st.nstrings, &s);
            st.nstrings += 1;
        }
        st.string.clear();
    }

    /// `name(` in SQL: refused for the dangerous functions.
    fn check_call(&self) -> Result<(), String> {
        if !self.statement.has_last_word {
            return Ok(());
        }
        let name = self.statement.last_word.as_str();
        if DANGEROUS_FUNCTIONS.contains(&name) {
            return self.refuse(format!(
                "a call of {name}(), which reads or writes the server's files or reaches other hosts; pg_dump never writes one"
            ));
        }
        Ok(())
    }

    fn statement_done(&mut self) -> Result<(), String> {
        let verdict = self.judge();
        self.statement.reset();
        verdict
    }

    /// What the statement just ended (at its `;`) may not do.
    fn judge(&mut self) -> Result<(), String> {
        let st = &self.statement;
        let w = st.head();
        if w.first() == Some(&"copy") {
            if st.program {
                return self.refuse("COPY ... PROGRAM runs a command on the server");
            }
            if st.file_string {
                return self.refuse("COPY to or from a file on the server");
            }
            if st.from_stdin {
                self.state = State::CopyPending;
            }
        }
        if w.starts_with(&["reset", "all"]) || w.starts_with(&["discard", "all"]) {
            return self.refuse(
                "RESET ALL / DISCARD ALL (they would bring back settings budgie set for the load)",
            );
        }
        if w.starts_with(&["alter", "system"]) {
            return self.refuse("ALTER SYSTEM changes the server's configuration");
        }
        let role = w.starts_with(&["create", "role"])
            || w.starts_with(&["create", "user"])
            || w.starts_with(&["alter", "role"])
            || w.starts_with(&["alter", "user"]);
        if role && st.superuser {
            return self.refuse("a role made or altered with SUPERUSER");
        }
        if !st.names_scs {
            return Ok(());
        }
        let rest = match w.as_slice() {
            ["set", "standard_conforming_strings", rest @ ..] => rest,
            ["set", "session", "standard_conforming_strings", rest @ ..] => rest,
            _ => &[],
        };
        let value: Vec<&str> = rest
            .iter()
            .filter(|x| **x != "to")
            .copied()
            .chain(st.strings[..st.nstrings].iter().map(String::as_str))
            .collect();
        match value.as_slice() {
            ["on"] | ["true"] => Ok(()),
            _ => self.refuse(
                "standard_conforming_strings set to anything but on, reset or changed by a function (pg_dump writes `SET standard_conforming_strings = on`)",
            ),
        }
    }

    /// A meta-command's line: only pg_dump's `\restrict`/`\unrestrict`.
    fn meta_done(&mut self, text: &[u8]) -> Result<(), String> {
        let text = String::from_utf8_lossy(text);
        let mut parts = text.split_ascii_whitespace();
        let (command, key, extra) = (parts.next(), parts.next(), parts.next());
        let at_line_start = self.meta_at_line_start;
        let valid_key = key.is_some_and(|k| {
            !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        match (command, key, extra) {
            (Some("restrict"), Some(k), None)
                if at_line_start && valid_key && self.restrict_key.is_none() =>
            {
                self.restrict_key = Some(k.to_string());
                Ok(())
            }
            (Some("unrestrict"), Some(k), None)
                if at_line_start && self.restrict_key.as_deref() == Some(k) =>
            {
                self.restrict_key = None;
                Ok(())
            }
            _ => self.refuse(format!(
                "a psql meta-command (\\{}); a dump file may not run psql commands",
                text.trim().chars().take(40).collect::<String>()
            )),
        }
    }
}

fn dollar(tag: Vec<u8>, matched: usize, b: u8) -> State {
    // `$tag$`: matched counts the bytes of it seen so far.
    let want = |i: usize| {
        if i == 0 || i == tag.len() + 1 {
            b'$'
        } else {
            tag[i - 1]
        }
    };
    if b == want(matched) {
        if matched == tag.len() + 1 {
            return State::Normal;
        }
        return State::Dollar {
            tag,
            matched: matched + 1,
        };
    }
    let matched = usize::from(b == b'$');
    State::Dollar { tag, matched }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::restore::sqlguard::Guarded;

    /// A reader that gives one byte per read.
    struct OneByte<'a>(&'a [u8]);

    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.split_first() {
                Some((b, rest)) if !buf.is_empty() => {
                    buf[0] = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    /// Scans `text` whole and byte by byte (every chunk boundary): both
    /// must agree. Returns what psql would read, or the refusal.
    fn scan(text: &str) -> Result<String, String> {
        let whole = run(text.as_bytes(), text.len().max(1));
        let bytewise = run(text.as_bytes(), 1);
        assert_eq!(whole, bytewise, "chunking changed the outcome of {text:?}");
        whole
    }

    fn run(bytes: &[u8], chunk: usize) -> Result<String, String> {
        let mut s = Scanner::default();
        let mut out = Vec::new();
        for c in bytes.chunks(chunk) {
            s.scan(c, &mut out)?;
        }
        s.finish()?;
        Ok(String::from_utf8(out).unwrap())
    }

    const HONEST: &str = "--\n-- PostgreSQL database dump\n--\n\n\\restrict abcDEF123\n\
SET statement_timeout = 0;\nSET standard_conforming_strings = on;\n\
SELECT pg_catalog.set_config('search_path', '', false);\n\
CREATE TABLE public.t (id integer, note text, \"odd\"\"name\" text);\n\
CREATE FUNCTION public.f() RETURNS trigger LANGUAGE plpgsql AS $_$ BEGIN RAISE NOTICE '\\! not psql %', $1; RETURN NEW; END $_$;\n\
COPY public.t (id, note) FROM stdin;\n1\tback\\\\slash \\\\! and \\\\connect\n2\t\\\\.x looks like an end\n3\tPROGRAM 'quote\n\\.\n\
COMMENT ON TABLE public.t IS 'a \\ backslash, PROGRAM and \\connect in a string';\n\
SELECT E'it\\'s \\\\ fine';\n/* nested /* comment */ still \\! comment */\n\
SELECT $$ a $ b $$, $tag$ $$ \\! $tag$;\n\
SELECT pg_catalog.setval('public.s', 3, true);\n\n\\unrestrict abcDEF123\n\n--\n-- PostgreSQL database dump complete\n--\n\n";

    #[test]
    fn an_honest_dump_passes_without_its_restrict_pair() {
        let out = scan(HONEST).unwrap();
        assert!(
            !out.contains("\\restrict") && !out.contains("\\unrestrict"),
            "{out}"
        );
        // Each line of the pair becomes an empty line.
        let without: String = HONEST
            .lines()
            .map(
                |l| match l.starts_with("\\restrict") || l.starts_with("\\unrestrict") {
                    true => "\n".to_string(),
                    false => format!("{l}\n"),
                },
            )
            .collect();
        assert_eq!(out, without);
        // CRLF line endings too.
        scan(&HONEST.replace('\n', "\r\n")).unwrap();
    }

    fn refused(text: &str, why: &str) {
        let e = scan(text).expect_err(text);
        assert!(e.contains(why), "{text:?}: {e}");
    }

    #[test]
    fn meta_commands_anywhere_are_refused_with_their_line() {
        refused(
            "SELECT 1;\n\\! id\n",
            "line 2: a psql meta-command (\\! id)",
        );
        refused("SELECT 1; \\! id\n", "line 1: a psql meta-command");
        refused("SELECT 1 \\g\n", "meta-command");
        refused("-- comment\r\\! id\n", "line 1: a psql meta-command");
        refused("SELECT 1;\r\\! id\r", "meta-command");
        refused(
            "\\connect appdb\nDROP TABLE t;\n",
            "line 1: a psql meta-command (\\connect appdb)",
        );
        refused("SELECT 'a' \\gexec\n", "meta-command");
        refused("/* a */\\! id\n", "meta-command");
        refused("COPY t FROM stdin;\n1\n\\.\n\\! id\n", "line 4");
        refused("\\! id", "meta-command");
        // pg_dump's pair must match, stand alone and use a plain key.
        refused("\\restrict a`id`\n", "meta-command");
        refused("\\restrict abc\n\\unrestrict abd\n", "meta-command");
        refused(
            "\\restrict abc\nSELECT 1;\n",
            "without the `\\unrestrict abc`",
        );
        refused(
            "SELECT 1; \\restrict abc\n\\unrestrict abc\n",
            "meta-command",
        );
        refused("\\restrict abc\n\\restrict abc\n", "meta-command");
    }

    #[test]
    fn a_comment_ends_at_a_bare_cr_as_psql_ends_it() {
        refused("-- harmless\r\\! id\n", "meta-command");
        scan("-- \\! in a comment is nothing\nSELECT 1;\n").unwrap();
    }

    #[test]
    fn statements_that_reach_outside_the_database_are_refused() {
        refused("COPY t TO PROGRAM 'id';\n", "PROGRAM");
        refused("COPY t FROM PROGRAM 'id';\n", "PROGRAM");
        refused("copy t from program\n'id';\n", "PROGRAM");
        refused("COPY t TO '/tmp/x';\n", "a file on the server");
        refused("COPY t FROM '/etc/passwd';\n", "a file on the server");
        refused("ALTER SYSTEM SET work_mem = '1GB';\n", "ALTER SYSTEM");
        refused("CREATE ROLE x SUPERUSER;\n", "SUPERUSER");
        refused("ALTER USER app WITH SUPERUSER;\n", "SUPERUSER");
        refused("SELECT pg_read_file('/etc/passwd');\n", "pg_read_file()");
        refused(
            "SELECT pg_catalog.lo_import ('/etc/passwd');\n",
            "lo_import()",
        );
        refused(
            "SELECT \"pg_read_file\"('/etc/passwd');\n",
            "pg_read_file()",
        );
        refused("SELECT dblink_exec('host=x', 'x');\n", "dblink_exec()");
        refused(
            "SET standard_conforming_strings = off;\n",
            "standard_conforming_strings",
        );
        refused(
            "SELECT set_config('standard_conforming_strings', 'off', false);\n",
            "standard_conforming_strings",
        );
        refused("RESET ALL;\n", "RESET ALL");
        refused(
            "COPY t FROM stdin; SELECT 1;\n1\n\\.\n",
            "after `COPY ... FROM stdin;`",
        );
        // The same words in strings, names and data are nothing.
        scan("SELECT 'COPY t TO PROGRAM ''id''', 'pg_read_file(1)';\n").unwrap();
        scan("CREATE TABLE program (superuser int);\n").unwrap();
        scan("COPY t TO stdout;\n").unwrap();
        scan("SET standard_conforming_strings TO 'on';\n").unwrap();
    }

    #[test]
    fn a_file_that_ends_inside_something_is_refused() {
        refused("SELECT 'open;\n", "inside a quoted string");
        refused("SELECT $$ open;\n", "inside a $$-quoted string");
        refused("/* open\n", "inside a /* comment */");
        refused("SELECT 1\n", "in the middle of a statement");
        scan("SELECT 1; -- done\n").unwrap();
        scan("COPY t FROM stdin;\n1\n2\n").unwrap();
    }

    #[test]
    fn quoting_is_read_the_way_psql_reads_it() {
        // A standard string ends at its quote; the backslash is data.
        refused("SELECT 'a\\'; \\! id\n", "meta-command");
        // An E'' string's \' does not end it.
        scan("SELECT E'a\\'; \\\\! still a string';\n").unwrap();
        // `E '...'` (a space) is an identifier and a standard string.
        refused("SELECT e 'a\\'; \\! id\n", "meta-command");
        scan("SELECT \"a\"\"\\! b\";\n").unwrap();
        refused("SELECT $a$ x $a$ \\! id\n", "meta-command");
        scan("SELECT $1, $a$ $b$ \\! $a$;\n").unwrap();
        refused(
            "/* /* nested */ \\! still comment */ \\! id\n",
            "line 1: a psql",
        );
        refused("SELECT 1 /* x */* 2; \\! id\n", "meta-command");
        scan("SELECT 1 /* x */* 2;\n").unwrap();
    }

    #[test]
    fn the_guarded_reader_passes_nothing_of_a_refused_chunk() {
        let text = "SELECT 1;\nCOPY t TO PROGRAM 'id';\n";
        let mut g = Guarded::new(text.as_bytes());
        let mut out = Vec::new();
        let e = g.read_to_end(&mut out).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(out.is_empty(), "{:?}", String::from_utf8_lossy(&out));
        let mut ok = String::new();
        Guarded::new(HONEST.as_bytes())
            .read_to_string(&mut ok)
            .unwrap();
        assert!(ok.contains("COPY public.t"));

        // A statement is passed on only once its `;` is checked: the
        // reader that gets a byte at a time never sees `CREATE ROLE x
        // SUPERUSER` without its refusal.
        let text = "SELECT 1;\nCREATE ROLE x SUPERUSER;\n";
        let mut g = Guarded::new(OneByte(text.as_bytes()));
        let mut seen = Vec::new();
        let mut b = [0u8; 1];
        let e = loop {
            match g.read(&mut b) {
                Ok(0) => panic!("not refused"),
                Ok(_) => seen.push(b[0]),
                Err(e) => break e,
            }
        };
        assert!(e.to_string().contains("SUPERUSER"), "{e}");
        assert_eq!(String::from_utf8_lossy(&seen), "SELECT 1;\n");
    }
}
