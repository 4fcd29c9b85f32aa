//! Dumps of several databases (`mariadb-dump --databases` or
//! `--all-databases`): each database's part begins with ``USE `name`;``,
//! after a ``CREATE DATABASE ... `name` ...;`` line. budgie writes such a
//! dump for a service that names no database (every database its account
//! owns), and restores it one database at a time: each part goes to its
//! own scratch database through the confined loader and is swapped in
//! like a one-database dump.
//!
//! [`databases_in`] lists the parts; [`Section`] passes the file's head
//! (the session settings before the first part) and one part, without the
//! `CREATE DATABASE`, `DROP DATABASE` and `USE` lines, which the loader may
//! not run. mariadb-dump writes every statement head at a line start and
//! escapes newlines inside strings (`\n`), so no row of data starts a line
//! with `USE` (a row line starts with `(`); a crafted file that does can
//! only put rows in another part of the same file, since the loader can
//! reach its scratch database only.

use std::io::Read;

/// What a line start says about the parts of the dump.
#[derive(Debug, PartialEq, Eq)]
enum LineKind {
    /// ``USE `name`;``: the part of `name` begins.
    Use(String),
    /// `CREATE DATABASE`, `DROP DATABASE` (plain or in a `/*!40000 ...*/`
    /// comment): dropped.
    Database,
    /// Anything else.
    Other,
}

/// The longest line start [`classify`] needs (a `USE` of a 64-character
/// name with every character a doubled backtick, and some).
const HEAD: usize = 160;

fn classify(head: &[u8]) -> LineKind {
    if let Some(rest) = head.strip_prefix(b"USE ")
        && let Some((name, tail)) = super::client::backtick_ident(rest)
        && tail.trim_ascii() == b";"
        && !name.is_empty()
    {
        return LineKind::Use(String::from_utf8_lossy(&name).into_owned());
    }
    let database_lines: [&[u8]; 3] = [
        b"CREATE DATABASE ",
        b"DROP DATABASE ",
        b"/*!40000 DROP DATABASE ",
    ];
    if database_lines.iter().any(|p| head.starts_with(p)) {
        return LineKind::Database;
    }
    LineKind::Other
}

/// Splits a stream into lines and classifies each by its start, keeping
/// no more than [`HEAD`] bytes of any line.
#[derive(Default)]
struct Lines {
    head: Vec<u8>,
    /// The current line's kind, once known (its head complete).
    kind: Option<LineKind>,
}

impl Lines {
    /// Feeds `data`; calls `line(kind, bytes, ends)` for each piece of a
    /// line once its kind is known (the held head first).
    fn feed(&mut self, mut data: &[u8], line: &mut dyn FnMut(&LineKind, &[u8])) {
        while !data.is_empty() {
            let (part, ends) = match data.iter().position(|&b| b == b'\n') {
                Some(i) => (&data[..=i], true),
                None => (data, false),
            };
            data = &data[part.len()..];
            match &self.kind {
                Some(kind) => line(kind, part),
                None => {
                    self.head.extend_from_slice(part);
                    if ends || self.head.len() >= HEAD {
                        let kind = classify(self.head.trim_ascii_end());
                        line(&kind, &std::mem::take(&mut self.head));
                        self.kind = Some(kind);
                    }
                }
            }
            if ends {
                self.kind = None;
            }
        }
    }

    /// At the end of the stream: the last line, if it had no newline.
    fn finish(&mut self, line: &mut dyn FnMut(&LineKind, &[u8])) {
        if self.kind.is_none() && !self.head.is_empty() {
            let kind = classify(self.head.trim_ascii_end());
            line(&kind, &std::mem::take(&mut self.head));
        }
    }
}

/// The databases a dump holds parts of, in order (each once). Empty for a
/// dump of one database made without `--databases`.
pub fn databases_in(mut input: impl Read) -> std::io::Result<Vec<String>> {
    let mut lines = Lines::default();
    let mut found: Vec<String> = Vec::new();
    let mut note = |kind: &LineKind, _: &[u8]| {
        if let LineKind::Use(name) = kind
            && !found.contains(name)
        {
            found.push(name.clone());
        }
    };
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        lines.feed(&buf[..n], &mut note);
    }
    lines.finish(&mut note);
    Ok(found)
}

/// Passes the head of a dump (before its first `USE`) and the part of
/// one database, without the lines that create, drop or choose databases.
pub struct Section<R> {
    inner: R,
    target: String,
    lines: Lines,
    /// Which part the lines being read belong to (None: the head).
    current: Option<String>,
    out: Vec<u8>,
    at: usize,
    chunk: Vec<u8>,
    ended: bool,
}

impl<R: Read> Section<R> {
    pub fn new(inner: R, target: &str) -> Section<R> {
        Section {
            inner,
            target: target.to_string(),
            lines: Lines::default(),
            current: None,
            out: Vec::new(),
            at: 0,
            chunk: vec![0u8; 256 * 1024],
            ended: false,
        }
    }

    fn take(&mut self, data: &[u8], end: bool) {
        let (target, current, out) = (&self.target, &mut self.current, &mut self.out);
        let mut keep = |kind: &LineKind, bytes: &[u8]| match kind {
            LineKind::Use(name) => *current = Some(name.clone()),
            LineKind::Database => {}
            LineKind::Other => {
                if current.as_ref().is_none_or(|c| c == target) {
                    out.extend_from_slice(bytes);
                }
            }
        };
        self.lines.feed(data, &mut keep);
        if end {
            self.lines.finish(&mut keep);
        }
    }
}

impl<R: Read> Read for Section<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.out.len() {
            if self.ended {
                return Ok(0);
            }
            self.out.clear();
            self.at = 0;
            let mut chunk = std::mem::take(&mut self.chunk);
            let read = self.inner.read(&mut chunk);
            let n = match read {
                Ok(n) => n,
                Err(e) => {
                    self.chunk = chunk;
                    return Err(e);
                }
            };
            self.ended = n == 0;
            self.take(&chunk[..n], n == 0);
            self.chunk = chunk;
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "/*M!999999\\- enable the sandbox mode */ \n\
-- MariaDB dump\n\
/*!40101 SET NAMES utf8mb4 */;\n\
\n\
--\n\
-- Current Database: `a`\n\
--\n\
\n\
/*!40000 DROP DATABASE IF EXISTS `a`*/;\n\
CREATE DATABASE /*!32312 IF NOT EXISTS*/ `a` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\n\
\n\
USE `a`;\n\
CREATE TABLE `t` (\n  `x` int\n);\n\
INSERT INTO `t` VALUES\n(1);\n\
\n\
-- Current Database: `we``ird`\n\
CREATE DATABASE /*!32312 IF NOT EXISTS*/ `we``ird`;\n\
USE `we``ird`;\n\
CREATE TABLE `u` (`y` text);\n\
INSERT INTO `u` VALUES ('USE `a`;\\n');\n\
/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n\
-- Dump completed\n";

    fn section(target: &str, chunk: usize) -> String {
        let mut s = Section::new(DUMP.as_bytes(), target);
        let mut out = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lists_every_database_in_order() {
        assert_eq!(databases_in(DUMP.as_bytes()).unwrap(), ["a", "we`ird"]);
        let one = "-- MariaDB dump\nCREATE TABLE `t` (`x` int);\nUSE is not a line start here;\n";
        assert!(databases_in(one.as_bytes()).unwrap().is_empty());
    }

    #[test]
    fn a_section_is_the_head_and_one_part_without_database_lines() {
        for chunk in [1, 7, 64 * 1024] {
            let a = section("a", chunk);
            assert!(a.starts_with("/*M!999999"), "{a}");
            assert!(a.contains("SET NAMES utf8mb4"), "{a}");
            assert!(
                a.contains("CREATE TABLE `t`") && a.contains("\n(1);\n"),
                "{a}"
            );
            assert!(!a.contains("`u`") && !a.contains("Dump completed"), "{a}");
            for banned in ["USE `", "CREATE DATABASE", "DROP DATABASE"] {
                assert!(!a.contains(banned), "{banned} in {a}");
            }
            let w = section("we`ird", chunk);
            assert!(w.contains("CREATE TABLE `u`") && !w.contains("`t`"), "{w}");
            assert!(w.contains("VALUES ('USE `a`;\\n')"), "data stays: {w}");
            assert!(w.ends_with("-- Dump completed\n"), "{w}");
            assert!(
                !w.contains("\nUSE ") && !w.contains("CREATE DATABASE"),
                "{w}"
            );
        }
        assert!(!section("nothing", 5).contains("CREATE TABLE"));
    }

    #[test]
    fn use_lines_need_a_whole_quoted_name() {
        assert_eq!(classify(b"USE `a`;"), LineKind::Use("a".into()));
        assert_eq!(classify(b"USE `a``b` ;"), LineKind::Use("a`b".into()));
        assert_eq!(classify(b"USE `a`; DROP TABLE x;"), LineKind::Other);
        assert_eq!(classify(b"USE ``;"), LineKind::Other);
        assert_eq!(classify(b"USE `unclosed;"), LineKind::Other);
        assert_eq!(classify(b"USE a;"), LineKind::Other);
        assert_eq!(classify(b"CREATE DATABASE x;"), LineKind::Database);
        assert_eq!(classify(b"CREATE TABLE x;"), LineKind::Other);
    }

    #[test]
    fn a_long_line_passes_whole() {
        let long = format!(
            "USE `a`;\nINSERT INTO t VALUES ({});\nUSE `b`;\nx\n",
            "9,".repeat(100_000)
        );
        let mut s = Section::new(long.as_bytes(), "a");
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert_eq!(
            out,
            format!("INSERT INTO t VALUES ({});\n", "9,".repeat(100_000))
        );
    }
}
