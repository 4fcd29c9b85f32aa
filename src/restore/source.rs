//! The file a restore reads: checked by content before anything is
//! touched (format, header, end marker), so that a bad file is refused
//! with what is wrong with it and nothing changes.

use std::path::{Path, PathBuf};

use crate::backup::format::Dialect;
use crate::backup::verify::{self, Format};
use crate::error::{Error, Result};

/// A validated dump file, ready to load.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub format: Format,
    /// Whose dump it is: the restore refuses a dump of the other kind
    /// (None for a volume archive).
    pub dialect: Option<Dialect>,
    pub bytes: u64,
    /// "Dumped from database version ..." when the header says.
    pub header: Option<String>,
    /// For a plain dump checked by head and tail only: the checksum recorded
    /// at backup time, compared with the bytes as they are loaded (before
    /// the swap). None when the whole file was already verified.
    pub expected_sha256: Option<String>,
    /// A MariaDB dump of several databases: the one database whose part
    /// is loaded (`databases::mariadb::Section`); None: the whole file.
    pub section: Option<String>,
    /// `restore --unsafe-allow-meta-commands`: a plain PostgreSQL dump goes
    /// to psql unscanned (see `restore::sqlscan`).
    pub allow_meta_commands: bool,
    /// budgie's own `\restrict` key around a plain PostgreSQL dump, when the
    /// container's psql knows `\restrict` (set just before the load).
    pub restrict_key: Option<String>,
    /// A `pg_dumpall` file: only one database's section of it is restored
    /// (`section`, from `restore --from-database`).
    pub cluster: bool,
    /// The version of the pg_dump that wrote a plain file (`-- Dumped by
    /// pg_dump version 17.2`), as `major * 10000 + minor` (170002).
    pub dumped_by: Option<u32>,
    /// The server's `server_version_num` (set just before the load).
    pub server_version: Option<u32>,
    /// `restore --jobs`: parallel pg_restore jobs for a custom- or
    /// directory-format archive (None: the container's CPUs).
    pub jobs: Option<u32>,
    /// A dump unpacked from the file that held it (`unwrap`): what it
    /// is, `dump.sql in export.zip`.
    pub origin: Option<String>,
    /// A snapshot (`Format::Snapshot`): the database that holds it, which
    /// the scratch database is a copy of.
    pub snapshot: Option<String>,
    /// The snapshot, when it has a ready copy: swapped in as it is, and
    /// the next one made after (`databases::snapshot`).
    pub ready: Option<crate::databases::snapshot::Snapshot>,
}

impl Source {
    /// The file as what it is, every load option off (no header, section,
    /// checksum to compare, key or jobs).
    pub fn bare(path: &Path, format: Format, dialect: Option<Dialect>, bytes: u64) -> Source {
        Source {
            path: path.to_path_buf(),
            format,
            dialect,
            bytes,
            header: None,
            expected_sha256: None,
            section: None,
            allow_meta_commands: false,
            restrict_key: None,
            cluster: false,
            dumped_by: None,
            server_version: None,
            jobs: None,
            origin: None,
            snapshot: None,
            ready: None,
        }
    }

    /// The file as the user knows it: the file named, or the dump and the
    /// file that held it.
    pub fn shown(&self) -> String {
        self.origin
            .clone()
            .unwrap_or_else(|| self.path.display().to_string())
    }
}

/// Checks a file before anything is touched: it exists, is readable, is a
/// plain, gzip, zstd or custom-format dump by content, and (for plain dumps,
/// compressed or not) carries the pg_dump header and end marker.
pub fn validate(path: &Path) -> Result<Source> {
    // A plain dump: header and end marker are at its ends; the checksum is
    // checked as the load reads every byte. Everything else: a full read.
    let quick = match path.is_dir() {
        true => None,
        false => verify::quick_plain(path)?,
    };
    if let Some(q) = quick {
        let head = head_of(path, Format::Plain);
        if !q.problems.is_empty() {
            return Err(refuse(path, &q.problems, ""));
        }
        return Ok(Source {
            cluster: q.dialect == Dialect::Postgres && head.cluster,
            dumped_by: head.dumped_by,
            header: q.header,
            expected_sha256: q.recorded_sha256,
            ..Source::bare(path, Format::Plain, Some(q.dialect), q.bytes)
        });
    }
    let report = verify::verify(path)?;
    if matches!(report.format, Format::TarZstd) {
        return Err(Error::new(format!(
            "{} is a volume archive, not a database dump",
            path.display()
        ))
        .hint("restore it into its volume: budgie restore FILE --volume KEY"));
    }
    if !report.complete {
        return Err(refuse(
            path,
            &report.problems,
            "it is not a complete PostgreSQL or MariaDB/MySQL dump",
        ));
    }
    let dialect = report.dialect.unwrap_or(Dialect::Postgres);
    let head = head_of(path, report.format);
    Ok(Source {
        cluster: dialect == Dialect::Postgres && head.cluster,
        dumped_by: head.dumped_by,
        header: report.header,
        ..Source::bare(path, report.format, Some(dialect), report.bytes)
    })
}

/// What the first lines of a plain file (compressed or not) say.
#[derive(Debug, Default)]
struct Head {
    /// It begins as a `pg_dumpall` file does.
    cluster: bool,
    /// `-- Dumped by pg_dump version 17.2`, as 170002.
    dumped_by: Option<u32>,
}

/// Reads (decompresses) the first 8 KiB of a plain file for [`Head`].
fn head_of(path: &Path, format: Format) -> Head {
    use std::io::Read;
    let Ok(file) = std::fs::File::open(path) else {
        return Head::default();
    };
    let reader: Box<dyn Read> = match format.packing() {
        _ if !format.is_sql_text() => return Head::default(),
        Some(packing) => match packing.reader(std::io::BufReader::new(file)) {
            Ok(d) => d,
            Err(_) => return Head::default(),
        },
        None => Box::new(file),
    };
    let mut head = Vec::new();
    let _ = reader.take(8192).read_to_end(&mut head);
    Head {
        cluster: crate::backup::format::is_cluster_dump(&head),
        dumped_by: String::from_utf8_lossy(&head)
            .lines()
            .find_map(|l| l.strip_prefix("-- Dumped by pg_dump version "))
            .and_then(crate::databases::postgres::version_num),
    }
}

/// When a plain file was written by a pg_dump newer than the server (a
/// newer major release): what to say.
pub fn newer_than_server(source: &Source) -> Option<String> {
    use crate::databases::postgres::major_label;
    let (by, server) = (source.dumped_by?, source.server_version?);
    let major = |n: u32| {
        if n >= 100000 {
            n / 10000 * 100
        } else {
            n / 100
        }
    };
    (major(by) > major(server)).then(|| {
        format!(
            "{} was written by pg_dump {} for a newer server than this one (PostgreSQL {})",
            source.path.display(),
            major_label(by),
            major_label(server)
        )
    })
}

/// The error for a file that is not restored: what is wrong with it (or
/// `otherwise` when the checks named nothing), and that nothing changed.
fn refuse(path: &Path, problems: &[String], otherwise: &str) -> Error {
    let why = if problems.is_empty() {
        otherwise.to_string()
    } else {
        problems.join("; ")
    };
    Error::new(format!(
        "refusing to restore {}: {why}; nothing was changed",
        path.display()
    ))
}

/// Checks a volume archive made by `budgie backup --volume` before use.
pub fn validate_archive(path: &Path) -> Result<Source> {
    let report = verify::verify(path)?;
    if !matches!(report.format, Format::TarZstd) || !report.complete {
        return Err(refuse(
            path,
            &report.problems,
            "it is not a volume archive (.tar.zst) made by budgie backup --volume",
        ));
    }
    Ok(Source::bare(path, report.format, None, report.bytes))
}

/// Refuses a dump of one server for a database of the other (a MariaDB
/// dump for a PostgreSQL database, or the reverse), naming both.
pub fn check_fits(source: &Source, db: &crate::compose::Database) -> Result<()> {
    let want = match db.kind {
        crate::compose::DbKind::Postgres => Dialect::Postgres,
        crate::compose::DbKind::Mariadb => Dialect::Mariadb,
    };
    match source.dialect {
        Some(d) if d != want => Err(Error::new(format!(
            "refusing to restore {}: it is a {} dump, and database {} of service {} is {}; nothing was changed",
            source.path.display(),
            d.label(),
            db.name,
            db.service,
            db.kind.label()
        ))
        .hint("name the right database with --service")),
        _ => Ok(()),
    }
}

/// The table of contents of a pg_dump archive (custom, tar, directory,
/// directory in a tar), read here without pg_restore: the tables the
/// restore must find and the items its progress counts.
pub fn archive_toc(source: &Source) -> Result<crate::backup::pgarchive::Toc> {
    use crate::backup::pgarchive::{self, Problem};
    let path = &source.path;
    let cannot = |e: std::io::Error| Error::new(format!("cannot read {}: {e}", path.display()));
    let open = |p: &Path| {
        std::fs::File::open(p)
            .map(|f| std::io::BufReader::with_capacity(64 * 1024, f))
            .map_err(|e| Error::new(format!("cannot read {}: {e}", p.display())))
    };
    let read: std::result::Result<pgarchive::Toc, Problem> = match source.format {
        Format::Custom => pgarchive::read_toc(open(path)?).map_err(cannot)?,
        Format::Directory => pgarchive::read_toc(open(&path.join("toc.dat"))?).map_err(cannot)?,
        Format::Tar | Format::DirectoryTar => {
            // toc.dat: the first member of pg_dump -Ft, in the directory of
            // a directory in a tar (the members before it are skipped).
            let mut archive = tar::Archive::new(open(path)?);
            let mut found = None;
            for member in archive.entries().map_err(cannot)? {
                let member = member.map_err(cannot)?;
                let name = member
                    .path()
                    .map_err(cannot)?
                    .to_string_lossy()
                    .into_owned();
                if name == "toc.dat" || name.ends_with("/toc.dat") {
                    found = Some(pgarchive::read_toc(member).map_err(cannot)?);
                    break;
                }
            }
            found.unwrap_or_else(|| Err(Problem("it holds no toc.dat".into())))
        }
        _ => Err(Problem("not a pg_dump archive".into())),
    };
    read.map_err(|p| {
        Error::new(format!(
            "refusing to restore {}: {p}; nothing was changed",
            path.display()
        ))
    })
}

/// `e`, pg_restore's failure on an archive, unless pg_restore could not
/// read it because a newer pg_dump made it (`unsupported version (1.16)
/// in file header`): then that, said with the archive's version. Nothing
/// was changed: `pg_restore -l` runs first.
pub fn newer_archive_or(source: &Source, e: Error) -> Error {
    if e.message.contains("unsupported version") {
        newer_archive(source, &e.message)
    } else {
        e
    }
}

/// The error for a custom-format archive the container's pg_restore
/// cannot read (`unsupported version (1.16) in file header`): made by a
/// newer pg_dump.
fn newer_archive(source: &Source, said: &str) -> Error {
    use std::io::Read;
    let mut head = [0u8; 8];
    let header = match source.format {
        Format::Directory => source.path.join("toc.dat"),
        _ => source.path.clone(),
    };
    let version = std::fs::File::open(header)
        .and_then(|mut f| f.read_exact(&mut head))
        .ok()
        .map(|()| format!(" (archive format {}.{})", head[5], head[6]))
        .unwrap_or_default();
    Error::new(format!(
        "refusing to restore {}: it is a pg_dump custom-format archive{version} made by a newer pg_dump than the database container's pg_restore can read; nothing was changed\n  pg_restore said: {}",
        source.path.display(),
        said.lines().find(|l| l.contains("unsupported version")).unwrap_or(said).trim()
    ))
    .hint("restore it into a server of that release or newer, or ask for a plain dump (pg_dump -Fp): budgie loads a newer plain dump into an older server, leaving out the settings the server does not know")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_pg_dump_is_told_by_its_major_release() {
        let mut s = validate_archive_like();
        for (by, server, newer) in [
            (170002, 150018, true),
            (150020, 150018, false),
            (150018, 170002, false),
            (100001, 90624, true),
        ] {
            (s.dumped_by, s.server_version) = (Some(by), Some(server));
            assert_eq!(newer_than_server(&s).is_some(), newer, "{by} {server}");
        }
        s.server_version = None;
        assert_eq!(newer_than_server(&s), None);
    }

    fn validate_archive_like() -> Source {
        Source::bare(
            Path::new("dump.sql"),
            Format::Plain,
            Some(Dialect::Postgres),
            0,
        )
    }
}
