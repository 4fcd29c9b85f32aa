//! `pg_dumpall` files: every database of a server (and its roles) in one
//! plain SQL file. budgie restores one database's section of it into the
//! project's database (`restore FILE --from-database NAME`) and leaves the
//! roles and the other databases alone.
//!
//! A section begins at the line `-- Database "NAME" dump` that pg_dumpall
//! writes before each database and ends where the next one begins (or at
//! `-- PostgreSQL database cluster dump complete`). Such a line counts
//! only where it is a line of SQL: a lenient [`Scanner`] follows quotes,
//! comments and COPY data, so a row of data that reads like one is data.

use std::io::{self, BufRead, BufReader, Read};

use super::sqlscan::Scanner;
use crate::backup::format::{CLUSTER_COMPLETE_MARKER, Tail, dump_is_complete};

/// The database whose section `line` begins, if it is such a line.
fn section_name(line: &[u8]) -> Option<String> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let name = line
        .strip_prefix(b"-- Database \"")?
        .strip_suffix(b"\" dump")?;
    Some(String::from_utf8_lossy(name).into_owned())
}

/// Whether `line` ends the last section.
fn is_cluster_end(line: &[u8]) -> bool {
    line.trim_ascii_end() == CLUSTER_COMPLETE_MARKER.as_bytes()
}

/// Lines of SQL text: a lenient scanner says which begin outside quotes,
/// comments and COPY data.
struct Lines<R> {
    input: BufReader<R>,
    scanner: Scanner,
    line: Vec<u8>,
    sink: Vec<u8>,
}

impl<R: Read> Lines<R> {
    fn new(r: R) -> Lines<R> {
        Lines {
            input: BufReader::with_capacity(256 * 1024, r),
            scanner: Scanner::lenient(),
            line: Vec::new(),
            sink: Vec::new(),
        }
    }

    /// The next line (in `self.line`, with its line feed) and whether it
    /// is a line of SQL; None at the end.
    fn next(&mut self) -> io::Result<Option<bool>> {
        self.line.clear();
        if self.input.read_until(b'\n', &mut self.line)? == 0 {
            return Ok(None);
        }
        let sql = self.scanner.at_line_start();
        // Lenient: it refuses nothing.
        let _ = self.scanner.scan(&self.line, &mut self.sink);
        self.sink.clear();
        Ok(Some(sql))
    }
}

/// The databases a pg_dumpall file holds sections for, in its order.
pub fn databases_in(r: impl Read) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    let mut lines = Lines::new(r);
    while let Some(sql) = lines.next()? {
        if sql && let Some(name) = section_name(&lines.line) {
            names.push(name);
        }
    }
    Ok(names)
}

/// A reader of one database's section of a pg_dumpall file. It fails
/// (`InvalidData`) at the end when the section is not there or does not end
/// with pg_dump's end marker (a file cut short, or a section cut by a line
/// that only looked like the next one's start).
pub struct Section<R> {
    lines: Lines<R>,
    database: String,
    out: Vec<u8>,
    at: usize,
    inside: bool,
    found: bool,
    ended: bool,
    tail: Tail,
}

impl<R: Read> Section<R> {
    pub fn new(inner: R, database: &str) -> Section<R> {
        Section {
            lines: Lines::new(inner),
            database: database.to_string(),
            out: Vec::new(),
            at: 0,
            inside: false,
            found: false,
            ended: false,
            tail: Tail::default(),
        }
    }

    /// Reads on until some of the section is in `out`, or its end.
    fn fill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.at = 0;
        while self.out.len() < 256 * 1024 {
            let Some(sql) = self.lines.next()? else {
                return self.end();
            };
            let line = &self.lines.line;
            if sql && (section_name(line).is_some() || is_cluster_end(line)) {
                if self.inside {
                    return self.end();
                }
                self.inside = section_name(line).as_deref() == Some(self.database.as_str());
                self.found |= self.inside;
            }
            if self.inside {
                self.out.extend_from_slice(line);
                self.tail.push(line);
            }
        }
        Ok(())
    }

    /// The section ended: it must have been there, and whole.
    fn end(&mut self) -> io::Result<()> {
        self.ended = true;
        let database = &self.database;
        if !self.found {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the file holds no section for database {database}"),
            ));
        }
        if !dump_is_complete(self.tail.bytes()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the section of database {database} does not end with pg_dump's end marker: the file is cut short or damaged"
                ),
            ));
        }
        Ok(())
    }
}

impl<R: Read> Read for Section<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.out.len() {
            if self.ended {
                return Ok(0);
            }
            if let Err(e) = self.fill() {
                self.out.clear();
                self.at = 0;
                return Err(e);
            }
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
    use crate::backup::format::CLUSTER_HEADER;

    fn dumpall(app_rows: &str) -> String {
        format!(
            "--\n{CLUSTER_HEADER}\n--\n\n\\restrict k0\nCREATE ROLE app;\n\\unrestrict k0\n\n\
--\n-- Database \"template1\" dump\n--\n\n\\connect template1\n\
--\n-- PostgreSQL database dump\n--\nSET x = 1;\n--\n-- PostgreSQL database dump complete\n--\n\n\
--\n-- Database \"app\" dump\n--\n\n--\n-- PostgreSQL database dump\n--\n\
CREATE DATABASE app;\n\\connect app\nCOPY public.t (s) FROM stdin;\n{app_rows}\\.\n\
--\n-- PostgreSQL database dump complete\n--\n\n\
--\n-- Database \"other db\" dump\n--\n\n--\n-- PostgreSQL database dump\n--\nSELECT 1;\n\
--\n-- PostgreSQL database dump complete\n--\n\n--\n{CLUSTER_COMPLETE_MARKER}\n--\n\n"
        )
    }

    fn section(text: &str, name: &str) -> io::Result<String> {
        let mut out = String::new();
        Section::new(text.as_bytes(), name).read_to_string(&mut out)?;
        Ok(out)
    }

    #[test]
    fn sections_are_found_by_their_lines_of_sql_only() {
        // A row of data that reads like a section's start is data.
        let text = dumpall("-- Database \"evil\" dump\n-- PostgreSQL database dump complete\n");
        assert_eq!(
            databases_in(text.as_bytes()).unwrap(),
            ["template1", "app", "other db"]
        );
        let app = section(&text, "app").unwrap();
        assert!(app.starts_with("-- Database \"app\" dump\n"), "{app}");
        assert!(app.contains("-- Database \"evil\" dump\n-- PostgreSQL"));
        assert!(
            app.ends_with("-- PostgreSQL database dump complete\n--\n\n--\n"),
            "{app}"
        );
        assert!(!app.contains("CREATE ROLE") && !app.contains("SELECT 1"));
        let other = section(&text, "other db").unwrap();
        assert!(other.contains("SELECT 1;") && !other.contains("CLUSTER"));
    }

    #[test]
    fn a_missing_or_cut_section_fails_the_read() {
        let text = dumpall("x\n");
        let e = section(&text, "nope").unwrap_err();
        assert!(
            e.to_string().contains("no section for database nope"),
            "{e}"
        );
        let cut = &text[..text.find("-- Database \"other db\"").unwrap() - 80];
        let e = section(cut, "app").unwrap_err();
        assert!(e.to_string().contains("end marker"), "{e}");
    }
}
