//! pg_dump's archives read without pg_restore: the header and table of
//! contents that the custom (`-Fc`), directory (`-Fd`, its `toc.dat`) and
//! tar (`-Ft`, its `toc.dat`) formats share, and the data blocks of a
//! custom-format file walked to its end.
//!
//! This is what tells whether a custom-format backup is complete before it
//! gets its final name (pg_dump writes no end marker: the file is complete
//! when every entry of the table of contents that has data has its whole
//! data block), what `verify` checks, and what a restore counts its
//! progress in. The layout is the one pg_dump's `pg_backup_archiver.c`
//! (`WriteHead`, `WriteToc`) and `pg_backup_custom.c` (`_StartData`,
//! `_EndData`, large objects) write, archive versions 1.10 (PostgreSQL 8.4)
//! to 1.16 (PostgreSQL 17 and 18). A newer version's table of contents is
//! not read: its header is, and the caller says what it can.
//!
//! Memory stays small whatever the file: strings budgie does not keep are
//! skipped, data is skipped chunk by chunk, and sizes are bounded.

use std::collections::BTreeSet;
use std::io::{self, Read};

/// The archive versions whose table of contents this reads.
const OLDEST: (u8, u8) = (1, 10);
const NEWEST: (u8, u8) = (1, 16);

/// Longest string budgie reads (a function body, a view): 1 GiB is what
/// PostgreSQL allows for a text value.
const MAX_STRING: i64 = 1 << 30;
/// Most entries a table of contents may claim.
const MAX_ENTRIES: i64 = 50_000_000;

/// The format byte of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `-Fc`: one file, data blocks after the table of contents.
    Custom,
    /// `-Fd` and `-Ft`: a `toc.dat` naming a data file per entry.
    Files,
}

/// What an archive's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Archive version (major, minor, revision): 1.14 for PostgreSQL 12 to
    /// 15, 1.15 for 16, 1.16 for 17 and 18.
    pub version: (u8, u8, u8),
    pub layout: Layout,
    pub int_size: u8,
    pub off_size: u8,
    /// The database dumped.
    pub database: Option<String>,
    /// The server's version (`15.18 (Debian 15.18-0+deb12u1)`).
    pub server_version: Option<String>,
    /// pg_dump's version.
    pub dumped_by: Option<String>,
}

impl Header {
    /// Whether budgie reads this version's table of contents.
    pub fn toc_known(&self) -> bool {
        let v = (self.version.0, self.version.1);
        (OLDEST..=NEWEST).contains(&v)
    }

    fn at_least(&self, minor: u8) -> bool {
        self.version.0 > 1 || (self.version.0 == 1 && self.version.1 >= minor)
    }
}

/// One entry of the table of contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    /// `TABLE`, `TABLE DATA`, `INDEX`, `BLOBS`...
    pub desc: String,
    /// The object's name (`t`, `t_pkey`).
    pub tag: String,
    /// Its schema.
    pub namespace: Option<String>,
    /// Custom format: the entry has a data block. Files: the name of its
    /// data file.
    pub data: Data,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    None,
    /// A custom-format data block follows the table of contents.
    Block,
    /// A data file of a directory or tar archive (`3344.dat`; `3344.dat.gz` on disk when compressed).
    File(String),
}

/// The header and table of contents.
#[derive(Debug, Clone)]
pub struct Toc {
    pub header: Header,
    pub entries: Vec<Entry>,
}

impl Toc {
    /// The tables it creates, as `schema.table` with the names quoted as
    /// needed (the form the restore's check compares).
    pub fn tables(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.desc == "TABLE")
            .map(|e| match &e.namespace {
                Some(ns) if !ns.is_empty() => format!("{}.{}", quote(ns), quote(&e.tag)),
                _ => quote(&e.tag),
            })
            .collect()
    }

    /// The entries pg_restore works through (it lists them with `-l`):
    /// all but the encoding, string and search-path settings and the
    /// database itself, which it handles apart.
    pub fn items(&self) -> u64 {
        const APART: &[&str] = &[
            "ENCODING",
            "STDSTRINGS",
            "SEARCHPATH",
            "DATABASE",
            "DATABASE PROPERTIES",
        ];
        self.entries
            .iter()
            .filter(|e| !APART.contains(&e.desc.as_str()))
            .count() as u64
    }
}

/// A name as `pg_restore -l` and `\dt` show it: quoted unless it is a
/// plain lower-case identifier.
fn quote(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// What is wrong with an archive, in words for `verify` and the writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem(pub String);

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads an archive's parts, counting bytes for the messages.
struct In<R> {
    r: R,
    at: u64,
    int_size: u8,
    off_size: u8,
    /// What is being read, for "cut off in ...".
    part: &'static str,
}

type Got<T> = Result<T, Failed>;

/// Why reading stopped.
#[derive(Debug)]
enum Failed {
    /// The file ended: where, in which part.
    Cut(u64, &'static str),
    Bad(String),
    Io(io::Error),
}

impl<R: Read> In<R> {
    fn fill(&mut self, buf: &mut [u8]) -> Got<()> {
        let mut done = 0;
        while done < buf.len() {
            match self.r.read(&mut buf[done..]) {
                Ok(0) => return Err(Failed::Cut(self.at + done as u64, self.part)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failed::Io(e)),
            }
        }
        self.at += buf.len() as u64;
        Ok(())
    }

    fn byte(&mut self) -> Got<u8> {
        let mut b = [0u8];
        self.fill(&mut b)?;
        Ok(b[0])
    }

    /// A byte, or None at the end of the file.
    fn byte_or_end(&mut self) -> Got<Option<u8>> {
        let mut b = [0u8];
        loop {
            match self.r.read(&mut b) {
                Ok(0) => return Ok(None),
                Ok(_) => {
                    self.at += 1;
                    return Ok(Some(b[0]));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failed::Io(e)),
            }
        }
    }

    /// pg_dump's integer: a sign byte, then `int_size` bytes, least
    /// significant first.
    fn int(&mut self) -> Got<i64> {
        let negative = self.byte()? != 0;
        let mut value: i64 = 0;
        for i in 0..self.int_size {
            let b = i64::from(self.byte()?);
            if i < 7 {
                value |= b << (8 * i);
            } else if b != 0 {
                return Err(Failed::Bad(format!(
                    "an integer at byte {} is too large",
                    self.at - 1
                )));
            }
        }
        Ok(if negative { -value } else { value })
    }

    fn length(&mut self) -> Got<Option<u64>> {
        let len = self.int()?;
        if len < 0 {
            return Ok(None);
        }
        if len > MAX_STRING {
            return Err(Failed::Bad(format!(
                "a string at byte {} claims {len} bytes",
                self.at
            )));
        }
        Ok(Some(len as u64))
    }

    /// A string (None for pg_dump's NULL).
    fn string(&mut self) -> Got<Option<String>> {
        let Some(len) = self.length()? else {
            return Ok(None);
        };
        let mut buf = Vec::with_capacity(len.min(64 * 1024) as usize);
        let start = self.at;
        let got = (&mut self.r)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(Failed::Io)? as u64;
        self.at += got;
        if got < len {
            return Err(Failed::Cut(start + got, self.part));
        }
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }

    fn skip(&mut self, len: u64) -> Got<()> {
        let got = io::copy(&mut (&mut self.r).take(len), &mut io::sink()).map_err(Failed::Io)?;
        self.at += got;
        if got < len {
            return Err(Failed::Cut(self.at, self.part));
        }
        Ok(())
    }

    fn skip_string(&mut self) -> Got<()> {
        match self.length()? {
            Some(len) => self.skip(len),
            None => Ok(()),
        }
    }

    /// The offset of a custom-format entry's data: a flag byte, then
    /// `off_size` bytes. Returns the flag.
    fn offset_flag(&mut self) -> Got<u8> {
        let flag = self.byte()?;
        if !(1..=3).contains(&flag) {
            return Err(Failed::Bad(format!(
                "unexpected data offset flag {flag} at byte {}",
                self.at - 1
            )));
        }
        for _ in 0..self.off_size {
            self.byte()?;
        }
        Ok(flag)
    }
}

/// The data offset flag of an entry without data.
const NO_DATA: u8 = 3;
/// Block types of the custom format's data.
const BLK_DATA: u8 = 1;
const BLK_BLOBS: u8 = 3;

fn problem(f: Failed) -> io::Result<Problem> {
    match f {
        Failed::Cut(at, part) => Ok(Problem(format!(
            "the archive is cut off at byte {at}, in its {part}"
        ))),
        Failed::Bad(what) => Ok(Problem(format!("the archive is damaged: {what}"))),
        Failed::Io(e) => Err(e),
    }
}

/// Reads the header from `r` (which begins with `PGDMP`).
fn header<R: Read>(input: &mut In<R>) -> Got<Header> {
    input.part = "header";
    let mut magic = [0u8; 5];
    input.fill(&mut magic)?;
    if &magic != b"PGDMP" {
        return Err(Failed::Bad("it does not begin with PGDMP".into()));
    }
    let major = input.byte()?;
    let minor = input.byte()?;
    let revision = if major > 1 || (major == 1 && minor > 0) {
        input.byte()?
    } else {
        0
    };
    let int_size = input.byte()?;
    let off_size = if (major, minor) >= (1, 7) {
        input.byte()?
    } else {
        int_size
    };
    if !(1..=16).contains(&int_size) || !(1..=16).contains(&off_size) {
        return Err(Failed::Bad(format!(
            "integer size {int_size} and offset size {off_size} are not plausible"
        )));
    }
    input.int_size = int_size;
    input.off_size = off_size;
    let layout = match input.byte()? {
        1 => Layout::Custom,
        3 | 5 => Layout::Files,
        other => return Err(Failed::Bad(format!("unknown archive format {other}"))),
    };
    let mut h = Header {
        version: (major, minor, revision),
        layout,
        int_size,
        off_size,
        database: None,
        server_version: None,
        dumped_by: None,
    };
    if !h.toc_known() {
        return Ok(h);
    }
    if h.at_least(15) {
        input.byte()?; // compression algorithm
    } else {
        input.int()?; // compression level
    }
    for _ in 0..7 {
        input.int()?; // the time it was made
    }
    h.database = input.string()?;
    h.server_version = input.string()?;
    h.dumped_by = input.string()?;
    Ok(h)
}

/// Reads the table of contents after `header`.
fn entries<R: Read>(input: &mut In<R>, h: &Header) -> Got<Vec<Entry>> {
    input.part = "table of contents";
    let count = input.int()?;
    if !(0..=MAX_ENTRIES).contains(&count) {
        return Err(Failed::Bad(format!(
            "the table of contents claims {count} entries"
        )));
    }
    let mut out = Vec::with_capacity(count.min(100_000) as usize);
    for _ in 0..count {
        let id = input.int()?;
        if id <= 0 {
            return Err(Failed::Bad(format!("entry id {id} out of range")));
        }
        let _had_dumper = input.int()?;
        input.skip_string()?; // table oid
        input.skip_string()?; // oid
        let tag = input.string()?.unwrap_or_default();
        let desc = input.string()?.unwrap_or_default();
        if h.at_least(11) {
            input.int()?; // section
        }
        input.skip_string()?; // definition
        input.skip_string()?; // drop statement
        input.skip_string()?; // copy statement (1.3)
        let namespace = input.string()?; // (1.6)
        input.skip_string()?; // tablespace (1.10)
        if h.at_least(14) {
            input.skip_string()?; // table access method
        }
        if h.at_least(16) {
            input.int()?; // relkind
        }
        input.skip_string()?; // owner
        input.skip_string()?; // "false": with oids
        // The dependencies, a list that ends with a NULL.
        while let Some(len) = input.length()? {
            input.skip(len)?;
        }
        let data = match h.layout {
            Layout::Custom => {
                if input.offset_flag()? == NO_DATA {
                    Data::None
                } else {
                    Data::Block
                }
            }
            Layout::Files => match input.string()? {
                Some(name) if !name.is_empty() => Data::File(name),
                _ => Data::None,
            },
        };
        out.push(Entry {
            id,
            desc,
            tag,
            namespace,
            data,
        });
    }
    Ok(out)
}

/// Reads the header and, for a known version, the table of contents of the
/// archive `r` begins with. Errors only for I/O; a damaged or cut archive
/// is a [`Problem`].
pub fn read_toc(r: impl Read) -> io::Result<Result<Toc, Problem>> {
    let mut input = In {
        r,
        at: 0,
        int_size: 4,
        off_size: 8,
        part: "header",
    };
    read_toc_from(&mut input)
}

fn read_toc_from<R: Read>(input: &mut In<R>) -> io::Result<Result<Toc, Problem>> {
    let header = match header(input) {
        Ok(h) => h,
        Err(f) => return problem(f).map(Err),
    };
    if !header.toc_known() {
        return Ok(Ok(Toc {
            header,
            entries: Vec::new(),
        }));
    }
    match entries(input, &header) {
        Ok(entries) => Ok(Ok(Toc { header, entries })),
        Err(f) => problem(f).map(Err),
    }
}

/// Reads a whole custom-format archive: the header, the table of contents,
/// then every data block to the end of the file. It is complete when each
/// entry that has data has its block, each block ends (pg_dump's
/// zero-length chunk), and nothing follows the last one.
pub fn check_custom(r: impl Read) -> io::Result<Result<Toc, Problem>> {
    let mut input = In {
        r,
        at: 0,
        int_size: 4,
        off_size: 8,
        part: "header",
    };
    let toc = match read_toc_from(&mut input)? {
        Ok(toc) => toc,
        Err(p) => return Ok(Err(p)),
    };
    if toc.header.layout != Layout::Custom {
        return Ok(Err(Problem(
            "its header is that of a directory or tar archive's toc.dat".into(),
        )));
    }
    if !toc.header.toc_known() {
        return Ok(Ok(toc));
    }
    match blocks(&mut input, &toc) {
        Ok(()) => Ok(Ok(toc)),
        Err(f) => problem(f).map(Err),
    }
}

/// Walks the data blocks after the table of contents.
fn blocks<R: Read>(input: &mut In<R>, toc: &Toc) -> Got<()> {
    let mut wanted: BTreeSet<i64> = toc
        .entries
        .iter()
        .filter(|e| e.data == Data::Block)
        .map(|e| e.id)
        .collect();
    input.part = "data";
    while let Some(kind) = input.byte_or_end()? {
        let id = input.int()?;
        if !wanted.remove(&id) {
            return Err(Failed::Bad(format!(
                "a data block at byte {} belongs to entry {id}, which has no data or had its block already",
                input.at
            )));
        }
        match kind {
            BLK_DATA => chunks(input)?,
            BLK_BLOBS => loop {
                if input.int()? == 0 {
                    break;
                }
                chunks(input)?;
            },
            other => {
                return Err(Failed::Bad(format!(
                    "unknown data block type {other} at byte {}",
                    input.at
                )));
            }
        }
    }
    match wanted.iter().next() {
        None => Ok(()),
        Some(id) => {
            let entry = toc.entries.iter().find(|e| e.id == *id);
            Err(Failed::Cut(
                input.at,
                match entry.map(|e| e.desc.as_str()) {
                    Some("BLOBS") => "data (the large objects are missing)",
                    _ => "data (some tables' data is missing)",
                },
            ))
        }
    }
}

/// One entry's data: chunks (a length, then bytes) up to a zero length.
fn chunks<R: Read>(input: &mut In<R>) -> Got<()> {
    loop {
        let len = input.int()?;
        if len == 0 {
            return Ok(());
        }
        if len < 0 {
            return Err(Failed::Bad(format!(
                "a data chunk at byte {} has length {len}",
                input.at
            )));
        }
        input.skip(len as u64)?;
    }
}

/// A reader whose bytes go through the tar end check as they pass.
struct Followed<R> {
    r: R,
    check: super::tar::TarCheck,
}

impl<R: Read> Read for Followed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        self.check.feed(&buf[..n]);
        Ok(n)
    }
}

/// Reads a tar stream holding one directory-format archive (`pg_dump -Fd`
/// kept as one file): every member under one top directory, its `toc.dat`
/// readable, and every data file the table of contents names present
/// (`3344.dat`, or compressed: `.gz`, `.lz4`, `.zst`). Returns the table of
/// contents and the top directory's name. A damaged tar is a [`Problem`].
pub fn check_directory_tar(r: impl Read) -> Result<(Toc, String), Problem> {
    let damaged = |e: io::Error| Problem(format!("the tar stream is damaged: {e}"));
    let mut archive = tar::Archive::new(Followed {
        r,
        check: super::tar::TarCheck::new(),
    });
    let mut top: Option<String> = None;
    let mut files = BTreeSet::new();
    let mut toc = None;
    let mut lists = std::collections::BTreeMap::new();
    for entry in archive.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        let path = entry.path().map_err(damaged)?.into_owned();
        let mut parts = Vec::new();
        for c in path.components() {
            match c {
                std::path::Component::Normal(name) => parts.push(name.to_string_lossy()),
                std::path::Component::CurDir => {}
                _ => {
                    return Err(Problem(format!(
                        "member {} leaves its directory",
                        path.display()
                    )));
                }
            }
        }
        let Some((first, rest)) = parts.split_first() else {
            continue;
        };
        let (first, rest) = (first.to_string(), rest.join("/"));
        if rest.is_empty() && !entry.header().entry_type().is_dir() {
            return Err(Problem(format!(
                "member {} is outside a directory",
                path.display()
            )));
        }
        match &top {
            Some(t) if *t != first => {
                return Err(Problem(format!(
                    "it holds more than one directory ({t} and {first})"
                )));
            }
            Some(_) => {}
            None => top = Some(first),
        }
        if entry.header().entry_type().is_dir() {
            continue;
        }
        if rest == "toc.dat" {
            toc = Some(match read_toc(&mut entry) {
                Ok(Ok(t)) => t,
                Ok(Err(p)) => return Err(Problem(format!("its toc.dat: {p}"))),
                Err(e) => return Err(damaged(e)),
            });
        } else {
            if rest.ends_with(".toc") && entry.size() <= 64 << 20 {
                // A large objects' list (`blobs.toc`): `OID FILE` lines.
                let mut list = String::new();
                entry.read_to_string(&mut list).map_err(damaged)?;
                lists.insert(rest.clone(), list);
            }
            files.insert(rest);
        }
    }
    // The tar crate stops at a member's end; the stream must go on to the
    // end-of-archive blocks.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(damaged)?;
    if let Some(p) = rest.check.problem() {
        return Err(Problem(format!("the tar stream is not complete: {p}")));
    }
    let top = top.ok_or_else(|| Problem("the tar stream holds no directory".into()))?;
    let toc = toc.ok_or_else(|| {
        Problem(format!(
            "{top}/ has no toc.dat: not a pg_dump directory-format archive"
        ))
    })?;
    if toc.header.layout != Layout::Files {
        return Err(Problem(
            "its toc.dat is that of a custom-format archive".into(),
        ));
    }
    for entry in &toc.entries {
        let Data::File(name) = &entry.data else {
            continue;
        };
        let present = ["", ".gz", ".lz4", ".zst"]
            .iter()
            .any(|ext| files.contains(&format!("{name}{ext}")));
        if !present {
            return Err(Problem(format!(
                "the data file {name} of {} {} is missing",
                entry.desc.to_lowercase(),
                entry.tag
            )));
        }
        for line in lists.get(name).map(|l| l.lines()).into_iter().flatten() {
            let file = line.split_once(' ').map_or("", |(_, f)| f.trim());
            let present = ["", ".gz", ".lz4", ".zst"]
                .iter()
                .any(|ext| files.contains(&format!("{file}{ext}")));
            if !present {
                return Err(Problem(format!(
                    "the data file {file} of a large object listed in {name} is missing"
                )));
            }
        }
    }
    Ok((toc, top))
}

#[cfg(test)]
mod tests;
