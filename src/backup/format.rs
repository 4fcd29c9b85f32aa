//! What a backup file holds, and how its end tells whether it is
//! complete: pg_dump's end marker for a plain dump (the tar end-of-archive
//! blocks of a volume archive are followed by [`super::tar`]).
//!
//! Used by the writer (the check before a file gets its final name) and by
//! verification (the check of a file found on disk), which therefore share
//! one rule.

use serde::{Deserialize, Serialize};

/// What a backup file holds; decides the completeness check at commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Content {
    /// A plain-text `pg_dump`: must end with the dump-complete marker.
    SqlDump,
    /// A tar stream of a volume: must end with the tar end-of-archive
    /// blocks.
    TarArchive,
    /// A `mariadb-dump`/`mysqldump`: must end with its `-- Dump completed`
    /// line.
    MariadbDump,
    /// A `pg_dump -Fc` archive: read to its end by `pgarchive`.
    PgCustom,
    /// A `pg_dump -Fd` directory as one tar stream: each data file its
    /// table of contents names must be in it, and the tar must end.
    PgDirectory,
}

/// Which server's SQL a dump is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// `pg_dump`, plain or custom format.
    Postgres,
    /// `mariadb-dump` or `mysqldump`.
    Mariadb,
}

impl Dialect {
    /// The dumps' server, as users know it.
    pub fn label(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::Mariadb => "MariaDB/MySQL",
        }
    }
}

/// The header of a `mariadb-dump`/`mysqldump` (`-- MariaDB dump 10.19
/// Distrib 10.11.11-MariaDB...`), if the first lines of `head` carry one.
/// (MariaDB 10.11.8 and later put a `/*M!999999\- enable the sandbox mode */`
/// line before it.)
pub fn mariadb_header(head: &[u8]) -> Option<String> {
    head.split(|&b| b == b'\n')
        .take(4)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find(|l| l.starts_with(b"-- MariaDB dump") || l.starts_with(b"-- MySQL dump"))
        .map(|l| {
            String::from_utf8_lossy(l.get(3..).unwrap_or(l))
                .trim()
                .to_string()
        })
}

/// How the last line of a complete `mariadb-dump` or `mysqldump` begins
/// (`-- Dump completed on 2026-11-30  8:00:00`, or without the date under
/// `--skip-dump-date`).
pub const MARIADB_COMPLETE_MARKER: &str = "-- Dump completed";

/// Whether the end of an uncompressed `mariadb-dump` shows it completed:
/// the last line that is not empty starts with [`MARIADB_COMPLETE_MARKER`].
/// The dump tools write it only after every table was read without error.
pub fn mariadb_dump_is_complete(tail: &[u8]) -> bool {
    let last = tail
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .rfind(|l| !l.trim_ascii().is_empty());
    let Some(line) = last.map(|l| l.trim_ascii_end()) else {
        return false;
    };
    let marker = MARIADB_COMPLETE_MARKER.as_bytes();
    line == marker
        || line
            .strip_prefix(marker)
            .is_some_and(|rest| rest.starts_with(b" on "))
}

/// The last line of a complete plain pg_dump.
pub const DUMP_COMPLETE_MARKER: &str = "-- PostgreSQL database dump complete";

/// The first line of a `pg_dumpall` file (after `--`): every database of a
/// server, and its roles, in one plain SQL file.
pub const CLUSTER_HEADER: &str = "-- PostgreSQL database cluster dump";

/// The last line of a complete `pg_dumpall` file.
pub const CLUSTER_COMPLETE_MARKER: &str = "-- PostgreSQL database cluster dump complete";

/// Whether the first lines of a plain dump are those of a `pg_dumpall`
/// file.
pub fn is_cluster_dump(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n')
        .take(8)
        .any(|l| l.strip_suffix(b"\r").unwrap_or(l) == CLUSTER_HEADER.as_bytes())
}

/// Whether the end of an uncompressed `pg_dumpall` file shows it
/// completed: its last line that is not empty or `--` is the marker.
pub fn cluster_dump_is_complete(tail: &[u8]) -> bool {
    tail.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .rfind(|l| !l.is_empty() && *l != b"--")
        .is_some_and(|l| l == CLUSTER_COMPLETE_MARKER.as_bytes())
}

/// How much of the end of the uncompressed stream is kept for the marker
/// check.
pub const TAIL_BYTES: usize = 4096;

/// Whether the end of an uncompressed plain dump shows it completed.
///
/// `tail` is the end of the stream (the writer keeps the last 4 KiB). Lines
/// at the end that are empty, `--`, or `\unrestrict <key>` (appended by
/// pg_dump since 15.14/16.10/17.6) are skipped; the last remaining line must
/// be exactly `-- PostgreSQL database dump complete` (a trailing `\r` is
/// allowed).
pub fn dump_is_complete(tail: &[u8]) -> bool {
    for line in tail.split(|&b| b == b'\n').rev() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || line == b"--" || line.starts_with(b"\\unrestrict ") {
            continue;
        }
        return line == DUMP_COMPLETE_MARKER.as_bytes();
    }
    false
}

/// The last bytes of a stream, kept in amortized O(1) per byte.
#[derive(Debug, Default)]
pub struct Tail {
    buf: Vec<u8>,
}

impl Tail {
    pub fn push(&mut self, data: &[u8]) {
        if data.len() >= TAIL_BYTES {
            self.buf.clear();
            self.buf
                .extend_from_slice(data.get(data.len() - TAIL_BYTES..).unwrap_or(data));
            return;
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() > 2 * TAIL_BYTES {
            let cut = self.buf.len() - TAIL_BYTES;
            self.buf.drain(..cut);
        }
    }

    /// At most the last [`TAIL_BYTES`] bytes pushed.
    pub fn bytes(&self) -> &[u8] {
        let start = self.buf.len().saturating_sub(TAIL_BYTES);
        self.buf.get(start..).unwrap_or(&self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::testdata::dump_text;

    #[test]
    fn a_mariadb_dump_is_complete_only_with_its_last_line() {
        let body = "-- MariaDB dump 10.19  Distrib 10.11.11-MariaDB\nINSERT INTO `t` VALUES (1);\n";
        assert!(!mariadb_dump_is_complete(body.as_bytes()));
        for end in [
            "-- Dump completed on 2026-11-30  8:00:01\n",
            "-- Dump completed on 2026-11-30  8:00:01\r\n\n\n",
            "-- Dump completed\n",
        ] {
            assert!(
                mariadb_dump_is_complete(format!("{body}{end}").as_bytes()),
                "{end:?}"
            );
        }
        // The marker in the middle, something after it: cut or tampered.
        assert!(!mariadb_dump_is_complete(
            format!("{body}-- Dump completed on x\nINSERT INTO `t` VALUES (2);\n").as_bytes()
        ));
        // A PostgreSQL marker is not a MariaDB one, nor the other way round.
        assert!(!mariadb_dump_is_complete(
            b"-- PostgreSQL database dump complete\n"
        ));
        assert!(!dump_is_complete(b"-- Dump completed on 2026-11-30\n"));
        assert!(!mariadb_dump_is_complete(b""));
    }

    #[test]
    fn the_marker_rule() {
        let body = "1\ta\n2\tb\n";
        assert!(dump_is_complete(dump_text(body, true).as_bytes()));
        assert!(dump_is_complete(dump_text(body, false).as_bytes()));
        let crlf = dump_text(body, true).replace('\n', "\r\n");
        assert!(dump_is_complete(crlf.as_bytes()));
        // pg_dump < 15.14 ended like this, without a trailing blank line too.
        assert!(dump_is_complete(
            b"SET x;\n--\n-- PostgreSQL database dump complete\n--"
        ));
        assert!(dump_is_complete(b"-- PostgreSQL database dump complete"));

        let full = dump_text(body, true);
        let cut = full.find("\\.").unwrap();
        assert!(
            !dump_is_complete(&full.as_bytes()[..cut]),
            "truncated in COPY"
        );
        let cut = full.find("complete").unwrap();
        assert!(
            !dump_is_complete(&full.as_bytes()[..cut]),
            "truncated in the marker"
        );
        let more = format!("{full}CREATE TABLE late (x int);\n");
        assert!(!dump_is_complete(more.as_bytes()), "marker followed by SQL");
        assert!(!dump_is_complete(b""));
        assert!(!dump_is_complete(b"\n\n--\n\n"));
        assert!(!dump_is_complete(
            b"-- PostgreSQL database dump complete \n"
        ));
        assert!(!dump_is_complete(
            b"-- PostgreSQL database dump complete\n\\unrestrictX\n"
        ));
        assert!(!dump_is_complete(b"-- PostgreSQL database dump\n"));
        // Any bytes at all: no panic.
        assert!(!dump_is_complete(&[0xff, b'\n', b'\r', 0, b'\n']));
    }

    #[test]
    fn the_tail_keeps_the_last_bytes() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in [1, 7, 1000, 4096, 5000, 20_000] {
            let mut t = Tail::default();
            for c in data.chunks(chunk) {
                t.push(c);
            }
            assert_eq!(t.bytes(), &data[data.len() - TAIL_BYTES..], "chunk {chunk}");
        }
        let mut t = Tail::default();
        t.push(b"abc");
        assert_eq!(t.bytes(), b"abc");
    }
}
