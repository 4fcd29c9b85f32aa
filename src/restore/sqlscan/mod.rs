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
//!   run a last statement it never saw end);
//! - writes to the server's shared catalogs.
//!
//! Statements about the database itself (a `pg_dump --create` file's, a
//! `pg_dumpall` section's) and the one `\connect` to it, and the leading
//! drops of a `--clean` dump, are left out of the stream and reported: see
//! [`database`].
//!
//! [`super::sqlguard::Guarded`] is the reader that puts it between the
//! file and psql. Function bodies (dollar-quoted) are data to this
//! scanner: what they do when called is not seen.

pub mod database;
mod statement;

use database::{Kind, Notes};
use statement::{DANGEROUS_FUNCTIONS, Statement};

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

/// Why a statement is left out of the stream.
#[derive(Debug, Clone, Copy)]
enum LeftOut {
    Database {
        setting: bool,
    },
    CleanDrop,
    /// A setting the server does not know: since which version.
    UnknownSetting(u32),
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
    /// The database the file's one `\connect` may go to: the one its
    /// `CREATE DATABASE` made, or a pg_dumpall section's.
    connect_to: Option<String>,
    /// A statement other than settings was read (no more `--clean` drops).
    content_seen: bool,
    /// Bytes appended to `out` so far, and where the statement being read
    /// began (in the same count): a statement left out is cut from `out`.
    emitted: u64,
    statement_start: u64,
    /// The server's `server_version_num`: settings it does not know are
    /// left out (see `database::NEWER_SETTINGS`).
    server_version: Option<u32>,
    /// Only follows the text (quotes, comments, COPY data), refusing
    /// nothing: to find where a pg_dumpall file's sections begin.
    lenient: bool,
    /// The statement just ended is to be cut from `out`, and why.
    leave_out: Option<LeftOut>,
    notes: Notes,
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
            connect_to: None,
            content_seen: false,
            emitted: 0,
            statement_start: 0,
            server_version: None,
            lenient: false,
            leave_out: None,
            notes: Notes::default(),
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
    /// A scanner for a `pg_dumpall` file's section of `database`: its
    /// `\connect` to that database is understood.
    pub fn for_section(database: &str) -> Scanner {
        Scanner {
            connect_to: Some(database.to_string()),
            ..Scanner::default()
        }
    }

    /// For a server of this `server_version_num` (None: unknown).
    pub fn for_server(mut self, version: Option<u32>) -> Scanner {
        self.server_version = version;
        self
    }

    /// A scanner that refuses nothing and only follows the text, so that
    /// [`Scanner::at_line_start`] can tell real lines from quoted text and
    /// COPY data (`restore::cluster`).
    pub fn lenient() -> Scanner {
        Scanner {
            lenient: true,
            ..Scanner::default()
        }
    }

    /// At the start of a line that is SQL: not inside a string, comment,
    /// statement or COPY data.
    pub fn at_line_start(&self) -> bool {
        self.state == State::Normal
            && (self.previous == b'\n' || self.previous == b'\r')
            && !self.statement.started
            && self.word.is_empty()
    }

    /// What was left out so far (see [`database`]).
    pub fn notes(&self) -> &Notes {
        &self.notes
    }

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
                    self.emitted += take as u64;
                    i += take;
                    self.previous = rest[take - 1];
                    if n.is_some() {
                        *len = 0;
                        self.line += 1;
                    }
                    self.between(out.len());
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
                    self.emitted += n as u64;
                    self.previous = taken[n - 1];
                    i += n;
                    if self.between_statements() {
                        self.between(out.len());
                    }
                    continue;
                }
            }
            let b = data[i];
            i += 1;
            self.byte(b)?;
            if !matches!(self.state, State::Meta(_)) {
                out.push(b);
                self.emitted += 1;
            }
            if let Some(why) = self.leave_out.take() {
                self.cut(out, why);
            }
            if b == b'\n' {
                self.line += 1;
            }
            self.previous = b;
            if self.between_statements() {
                self.between(out.len());
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

    /// `out` (now `len` bytes) ends between statements.
    fn between(&mut self, len: usize) {
        self.safe_len = Some(len);
        self.statement_start = self.emitted;
    }

    /// Cuts the statement just ended (up to its `;`) from the end of `out`,
    /// noting what it was.
    fn cut(&mut self, out: &mut Vec<u8>, why: LeftOut) {
        let len = usize::try_from(self.emitted - self.statement_start).unwrap_or(out.len());
        let keep = out.len().saturating_sub(len);
        let text = database::shorten(&out[keep..]);
        out.truncate(keep);
        self.emitted = self.statement_start;
        match why {
            LeftOut::CleanDrop => self.notes.clean_drops += 1,
            LeftOut::UnknownSetting(since) => {
                self.notes.unknown_settings.push((self.line, text, since));
            }
            LeftOut::Database { setting } => {
                if setting {
                    self.notes.settings.push(text.clone());
                }
                self.notes.database.push((self.line, text));
            }
        }
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
        if self.lenient {
            return Ok(());
        }
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
        self.statement.word(&self.word);
        self.word.clear();
        self.word_just_ended = true;
    }

    /// A quoted name (as written) was read: never a keyword.
    fn name_done(&mut self, name: String) {
        self.statement.name(name);
    }

    fn string_byte(&mut self, b: u8) {
        if self.statement.string.len() < 64 {
            self.statement.string.push(b);
        }
    }

    fn string_done(&mut self) {
        self.statement.string_done();
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
        match database::classify(&w, st.on_database, st.drop_word, self.content_seen) {
            Kind::Database { created, setting } => {
                if let Some(name) = created
                    && self.connect_to.is_none()
                {
                    self.connect_to = Some(name);
                }
                self.leave_out = Some(LeftOut::Database { setting });
                return Ok(());
            }
            Kind::CleanDrop => {
                self.leave_out = Some(LeftOut::CleanDrop);
                return Ok(());
            }
            Kind::SharedCatalog(name) => {
                return self.refuse(format!(
                    "a write to {name}, a catalog every database of the server shares; pg_dump never writes one"
                ));
            }
            Kind::Other => {}
        }
        if let Some((_, since)) = database::unknown_setting(&w, self.server_version) {
            self.leave_out = Some(LeftOut::UnknownSetting(since));
            return Ok(());
        }
        if !database::is_preamble(&w) {
            self.content_seen = true;
        }
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
            (Some(c @ ("connect" | "c")), Some(_), _)
                if at_line_start
                    && self.connect_to.is_some()
                    && database::connect_target(
                        text.trim_start().strip_prefix(c).unwrap_or_default(),
                    )
                    .as_deref()
                        == self.connect_to.as_deref() =>
            {
                self.notes.connects += 1;
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
mod tests;
