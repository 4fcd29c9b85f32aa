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

/// What `pg_dump --create --clean` (PostgreSQL 15.18) writes around the
/// objects, shortened.
const CREATE_CLEAN: &str = "--\n-- PostgreSQL database dump\n--\n\n\\restrict k1\n\
SET statement_timeout = 0;\nSET standard_conforming_strings = on;\n\
DROP DATABASE app;\n\
--\n-- Name: app; Type: DATABASE; Schema: -; Owner: app\n--\n\n\
CREATE DATABASE app WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C';\n\n\n\
ALTER DATABASE app OWNER TO app;\n\n\\unrestrict k1\n\\connect app\n\\restrict k1\n\n\
SET statement_timeout = 0;\n\
COMMENT ON DATABASE app IS 'hi';\n\
ALTER DATABASE app SET work_mem TO '8MB';\n\
\\unrestrict k1\n\\connect app\n\\restrict k1\n\
CREATE TABLE public.t (id integer NOT NULL);\n\
COPY public.t (id) FROM stdin;\n1\n\\.\n\n\
REVOKE CONNECT,TEMPORARY ON DATABASE app FROM PUBLIC;\n\
\\unrestrict k1\n--\n-- PostgreSQL database dump complete\n--\n\n";

fn notes_of(text: &str, scanner: Scanner) -> (String, Vec<String>) {
    let mut s = scanner;
    let mut out = Vec::new();
    for c in text.as_bytes().chunks(5) {
        s.scan(c, &mut out).unwrap();
    }
    s.finish().unwrap();
    (String::from_utf8(out).unwrap(), s.notes().lines())
}

#[test]
fn a_create_dump_loads_into_the_scratch_database_and_says_what_it_left_out() {
    let out = scan(CREATE_CLEAN).unwrap();
    for gone in [
        "DROP DATABASE",
        "CREATE DATABASE",
        "ALTER DATABASE",
        "COMMENT ON DATABASE",
        "REVOKE",
        "\\connect",
    ] {
        assert!(!out.contains(gone), "{gone} in {out}");
    }
    assert!(out.contains("CREATE TABLE public.t (id integer NOT NULL);\n"));
    assert!(out.contains("COPY public.t (id) FROM stdin;\n1\n\\.\n"));
    // The comments and settings around them stay.
    assert!(out.contains("-- Name: app; Type: DATABASE"));
    assert_eq!(out.matches("SET statement_timeout = 0;").count(), 2);
    let (_, notes) = notes_of(CREATE_CLEAN, Scanner::default());
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(
        notes[0].starts_with("left out 6 statements about the database itself")
            && notes[0].contains("DROP DATABASE app (line 8)")
            && notes[0].contains("ALTER DATABASE app SET work_mem TO '8MB' (line 24)"),
        "{notes:?}"
    );
    assert!(notes[1].contains("\\connect"), "{notes:?}");
    assert!(
        notes[2].contains("not restored") && notes[2].contains("work_mem TO '8MB'"),
        "{notes:?}"
    );
    // CRLF too, and one byte at a time through the guarded reader.
    scan(&CREATE_CLEAN.replace('\n', "\r\n")).unwrap();
    let mut g = Guarded::new(OneByte(CREATE_CLEAN.as_bytes()));
    let mut bytewise = String::new();
    g.read_to_string(&mut bytewise).unwrap();
    assert_eq!(bytewise, out);
}

#[test]
fn only_the_connect_to_the_database_the_file_created_is_understood() {
    // Without a CREATE DATABASE, or to another database: refused.
    refused(
        "\\connect app\nCREATE TABLE t (i int);\n",
        "line 1: a psql meta-command (\\connect app)",
    );
    refused(
        "CREATE DATABASE app;\n\\connect postgres\nDROP TABLE t;\n",
        "line 2: a psql meta-command (\\connect postgres)",
    );
    refused("CREATE DATABASE app;\n\\connect app otheruser\n", "line 2");
    refused(
        "CREATE DATABASE app;\n\\connect -reuse-previous=on \"dbname='app' host=x\"\n",
        "line 2",
    );
    refused("CREATE DATABASE app;\nSELECT 1; \\connect app\n", "line 2");
    // A name that needs quoting, as pg_dump writes its \connect.
    let text = "CREATE DATABASE \"my \"\"db\";\n\\connect -reuse-previous=on \"dbname='my \"\"db'\"\nCREATE TABLE t (i int);\n";
    assert_eq!(scan(text).unwrap(), "\n\nCREATE TABLE t (i int);\n");
    // A pg_dumpall section knows its database before any CREATE DATABASE.
    let section = "\\connect template1\nCREATE TABLE t (i int);\n";
    refused(section, "line 1");
    let (out, _) = notes_of(section, Scanner::for_section("template1"));
    assert_eq!(out, "\nCREATE TABLE t (i int);\n");
}

#[test]
fn the_leading_drops_of_a_clean_dump_are_left_out_and_later_ones_kept() {
    let text = "SET x = 1;\nSELECT pg_catalog.set_config('search_path', '', false);\n\
ALTER TABLE ONLY public.t DROP CONSTRAINT t_pkey;\nDROP VIEW public.v;\nDROP TABLE public.t;\n\
CREATE TABLE public.t (i int);\nALTER TABLE public.t DROP COLUMN i;\nDROP TABLE public.t;\n";
    let (out, notes) = notes_of(text, Scanner::default());
    assert_eq!(
        out,
        "SET x = 1;\nSELECT pg_catalog.set_config('search_path', '', false);\n\n\n\n\
CREATE TABLE public.t (i int);\nALTER TABLE public.t DROP COLUMN i;\nDROP TABLE public.t;\n"
    );
    assert_eq!(
        notes,
        [
            "left out the file's 3 leading DROP statements (a --clean dump): the copy it is loaded into starts empty"
        ]
    );
}

#[test]
fn writes_to_the_shared_catalogs_are_refused() {
    refused(
        "UPDATE pg_catalog.pg_authid SET rolsuper = true;\n",
        "line 1: a write to pg_authid",
    );
    refused(
        "insert into pg_db_role_setting values (1, 2, '{}');\n",
        "pg_db_role_setting",
    );
    refused(
        "DELETE FROM pg_catalog.pg_database WHERE datname = 'app';\n",
        "pg_database",
    );
    // pg_dumpall --clean's own line before it makes template1 again is
    // about the database: left out.
    assert_eq!(
        scan(
            "UPDATE pg_catalog.pg_database SET datistemplate = false WHERE datname = 'template1';\n"
        )
        .unwrap(),
        "\n"
    );
    // Reading them is not writing.
    scan("SELECT rolname FROM pg_catalog.pg_authid;\n").unwrap();
}

#[test]
fn connect_lines_are_read_as_pg_dump_writes_them() {
    use super::database::connect_target;
    assert_eq!(connect_target(" app").as_deref(), Some("app"));
    assert_eq!(connect_target("App_1").as_deref(), Some("App_1"));
    assert_eq!(
        connect_target("-reuse-previous=on \"dbname='a b'\"").as_deref(),
        Some("a b")
    );
    assert_eq!(
        connect_target("-reuse-previous=on \"dbname='it\\'s \\\\'\"").as_deref(),
        Some("it's \\")
    );
    assert_eq!(
        connect_target("-reuse-previous=on \"dbname=plain-name\"").as_deref(),
        Some("plain-name")
    );
    for bad in [
        "",
        "app other",
        "-reuse-previous=on \"dbname='a' host=x\"",
        "-reuse-previous=on \"dbname='a'\" x",
        "\"app\"",
        "-reuse-previous=off \"dbname=a\"",
        "-reuse-previous=on \"host=x dbname=a\"",
    ] {
        assert_eq!(connect_target(bad), None, "{bad}");
    }
}

#[test]
fn settings_an_older_server_does_not_know_are_left_out_for_it_only() {
    let text =
        "SET statement_timeout = 0;\nSET transaction_timeout = 0;\nCREATE TABLE t (i int);\n";
    let (out, notes) = notes_of(text, Scanner::default().for_server(Some(150018)));
    assert_eq!(
        out,
        "SET statement_timeout = 0;\n\nCREATE TABLE t (i int);\n"
    );
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with(
            "left out `SET transaction_timeout = 0` (line 2): a setting of PostgreSQL 17 and later"
        ),
        "{notes:?}"
    );
    for server in [Some(170000), Some(180001), None] {
        let (out, notes) = notes_of(text, Scanner::default().for_server(server));
        assert_eq!(out, text, "{server:?}");
        assert!(notes.is_empty(), "{notes:?}");
    }
}
