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
}

/// Checks a file before anything is touched: it exists, is readable, is a
/// plain, gzip, zstd or custom-format dump by content, and (for plain dumps,
/// compressed or not) carries the pg_dump header and end marker.
pub fn validate(path: &Path) -> Result<Source> {
    // A plain dump: header and end marker are at its ends; the checksum is
    // checked as the load reads every byte. Everything else: a full read.
    if let Some(q) = verify::quick_plain(path)? {
        if !q.problems.is_empty() {
            return Err(refuse(path, &q.problems, ""));
        }
        return Ok(Source {
            cluster: q.dialect == Dialect::Postgres && starts_a_cluster_dump(path, Format::Plain),
            path: path.to_path_buf(),
            format: Format::Plain,
            dialect: Some(q.dialect),
            bytes: q.bytes,
            header: q.header,
            expected_sha256: q.recorded_sha256,
            section: None,
            allow_meta_commands: false,
            restrict_key: None,
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
    Ok(Source {
        cluster: dialect == Dialect::Postgres && starts_a_cluster_dump(path, report.format),
        path: path.to_path_buf(),
        format: report.format,
        dialect: Some(dialect),
        bytes: report.bytes,
        header: report.header,
        expected_sha256: None,
        section: None,
        allow_meta_commands: false,
        restrict_key: None,
    })
}

/// Whether the file (plain SQL, compressed or not) begins as a `pg_dumpall` file
/// does; its first 4 KiB are decompressed to tell.
fn starts_a_cluster_dump(path: &Path, format: Format) -> bool {
    use std::io::Read;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let reader: Box<dyn Read> = match format.packing() {
        _ if format == Format::Custom => return false,
        Some(packing) => match packing.reader(std::io::BufReader::new(file)) {
            Ok(d) => d,
            Err(_) => return false,
        },
        None => Box::new(file),
    };
    let mut head = Vec::new();
    let _ = reader.take(4096).read_to_end(&mut head);
    crate::backup::format::is_cluster_dump(&head)
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
    Ok(Source {
        path: path.to_path_buf(),
        format: report.format,
        dialect: None,
        bytes: report.bytes,
        header: None,
        expected_sha256: None,
        section: None,
        allow_meta_commands: false,
        restrict_key: None,
        cluster: false,
    })
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
