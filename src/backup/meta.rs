//! The sidecar record of a backup: `<file>.meta.json`.
//!
//! A backup file's name tells when and why it was taken; the sidecar keeps
//! what the name cannot: its size and SHA-256 as written (so that a later
//! copy, truncation or edit is detected), the database, the server version,
//! how long it took. It is written next to each committed backup (mode
//! 0600), atomically (temporary name, fsync, rename), after the backup
//! itself — so a sidecar always describes a complete backup, and a backup
//! without one is merely unrecorded, never wrong.
//!
//! Reading is forgiving: a missing, unreadable or garbled sidecar is `None`,
//! never an error; the backup file itself is the truth.

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use super::format::Content;
use super::writer::Committed;
use crate::compose::Compression;
use crate::error::{Error, Result};
use crate::fsutil::{safe_name_part, write_atomically};

/// The sidecar format version written by this budgie.
pub const META_VERSION: u32 = 1;

/// A sidecar larger than this is not one of ours.
const META_MAX_BYTES: u64 = 1024 * 1024;

/// The content of `<file>.meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Always [`META_VERSION`].
    pub version: u32,
    /// The backup's file name (no directory).
    pub file: String,
    /// Size of the backup file.
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the backup file's bytes.
    pub sha256: String,
    /// Size of the content before compression.
    pub uncompressed_bytes: u64,
    /// The dumped database (None for a volume archive).
    pub database: Option<String>,
    /// The database's service (None for a volume archive, and in sidecars
    /// written before budgie knew several databases).
    #[serde(default)]
    pub service: Option<String>,
    pub project: String,
    /// The safety reason (`pre-clean`...), None for a manual backup.
    pub reason: Option<String>,
    /// `none`, `gzip` or `zstd`.
    #[serde(deserialize_with = "compression_from_name")]
    pub compression: Compression,
    /// `sql-dump` or `tar-archive`.
    pub content: Content,
    /// The volume key, for a volume archive.
    pub volume: Option<String>,
    /// The host directory, for a directory archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    /// When the backup started (RFC 3339).
    pub created: DateTime<FixedOffset>,
    /// How long it took.
    pub seconds: f64,
    /// The PostgreSQL server version, when known.
    pub server_version: Option<String>,
}

impl Meta {
    /// The record of a just-committed backup; the optional fields
    /// (`database`, `reason`, `volume`, `server_version`) start as None.
    pub fn for_committed(
        committed: &Committed,
        project: &str,
        compression: Compression,
        content: Content,
        created: DateTime<FixedOffset>,
        seconds: f64,
    ) -> Meta {
        Meta {
            version: META_VERSION,
            file: committed.file_name.clone(),
            bytes: committed.bytes,
            sha256: committed.sha256.clone(),
            uncompressed_bytes: committed.uncompressed_bytes,
            database: None,
            service: None,
            project: project.to_string(),
            reason: None,
            compression,
            content,
            volume: None,
            directory: None,
            created,
            seconds,
            server_version: None,
        }
    }
}

fn compression_from_name<'de, D: Deserializer<'de>>(d: D) -> Result<Compression, D::Error> {
    let name = String::deserialize(d)?;
    match name.as_str() {
        "none" => Ok(Compression::None),
        "gzip" => Ok(Compression::Gzip),
        "zstd" => Ok(Compression::Zstd),
        other => Err(D::Error::custom(format!(
            "unknown compression {other:?} (none, gzip or zstd)"
        ))),
    }
}

/// `<backup>.meta.json`, next to the backup.
pub fn meta_path(backup: &Path) -> PathBuf {
    let mut s = backup.as_os_str().to_owned();
    s.push(".meta.json");
    PathBuf::from(s)
}

/// Writes the sidecar of `backup` atomically, mode 0600, replacing an
/// older one. A non-finite `seconds` is written as 0. Errors name the
/// sidecar's path.
pub fn write_meta(backup: &Path, meta: &Meta) -> Result<()> {
    let target = meta_path(backup);
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        Error::new(format!("cannot {what} {}: {e}", target.display()))
    };
    let name = backup
        .file_name()
        .ok_or_else(|| fail("write", &"the backup path has no file name"))?;
    let mut meta = meta.clone();
    if !meta.seconds.is_finite() {
        meta.seconds = 0.0;
    }
    let mut json = serde_json::to_vec_pretty(&meta).map_err(|e| fail("write", &e))?;
    json.push(b'\n');
    let prefix = format!(".{}.", safe_name_part(&name.to_string_lossy()));
    write_atomically(&target, &json, &prefix, ".meta.partial").map_err(|e| fail("write", &e))
}

/// The sidecar of `backup`: None when it is absent, unreadable, larger
/// than 1 MiB, not valid JSON of this shape, or of another version.
pub fn read_meta(backup: &Path) -> Option<Meta> {
    let file = std::fs::File::open(meta_path(backup)).ok()?;
    let mut data = Vec::new();
    file.take(META_MAX_BYTES + 1).read_to_end(&mut data).ok()?;
    if data.len() as u64 > META_MAX_BYTES {
        return None;
    }
    let meta: Meta = serde_json::from_slice(&data).ok()?;
    (meta.version == META_VERSION).then_some(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::store::parse_dump_name;
    use std::os::unix::fs::PermissionsExt;

    fn sample(file: &str) -> Meta {
        Meta {
            version: META_VERSION,
            file: file.to_string(),
            bytes: 1234,
            sha256: "ab".repeat(32),
            uncompressed_bytes: 5678,
            database: Some("app".into()),
            service: Some("db".into()),
            project: "app".into(),
            reason: Some("pre-clean".into()),
            compression: Compression::Zstd,
            content: Content::SqlDump,
            volume: None,
            directory: None,
            created: DateTime::parse_from_rfc3339("2025-11-25T09:27:04+01:00").unwrap(),
            seconds: 2.5,
            server_version: Some("15.18".into()),
        }
    }

    #[test]
    fn the_sidecar_round_trips_privately() {
        let dir = tempfile::tempdir().unwrap();
        let backup = dir.path().join("app_20251125_092704_pre-clean.sql.zst");
        let meta = sample("app_20251125_092704_pre-clean.sql.zst");
        write_meta(&backup, &meta).unwrap();
        let path = meta_path(&backup);
        assert_eq!(
            path.file_name().unwrap(),
            "app_20251125_092704_pre-clean.sql.zst.meta.json"
        );
        assert!(parse_dump_name("app", &path.file_name().unwrap().to_string_lossy()).is_none());
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read_meta(&backup), Some(meta.clone()));
        // Only the sidecar: no temporary file left.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["compression"], "zstd");
        assert_eq!(json["content"], "sql-dump");
        assert_eq!(json["created"], "2025-11-25T09:27:04+01:00");
        assert_eq!(json["volume"], serde_json::Value::Null);
        assert_eq!(json["seconds"], 2.5);

        // Rewriting replaces it.
        let mut archive = sample("x");
        archive.content = Content::TarArchive;
        archive.compression = Compression::None;
        archive.volume = Some("pgdata".into());
        archive.seconds = f64::NAN;
        write_meta(&backup, &archive).unwrap();
        let back = read_meta(&backup).unwrap();
        assert_eq!(back.content, Content::TarArchive);
        assert_eq!(back.volume.as_deref(), Some("pgdata"));
        assert_eq!(back.seconds, 0.0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_bad_sidecar_is_no_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let backup = dir.path().join("a.sql");
        assert_eq!(read_meta(&backup), None);
        let good = serde_json::to_string(&sample("a.sql")).unwrap();
        for bad in [
            String::new(),
            "{".to_string(),
            "null".to_string(),
            "[1,2]".to_string(),
            good.replace("\"version\":1", "\"version\":2"),
            good.replace("\"zstd\"", "\"lz4\""),
            good.replace("\"sql-dump\"", "\"other\""),
            good.replace("2025-11-25T09:27:04+01:00", "yesterday"),
            good.replace("\"bytes\":1234", "\"bytes\":-1"),
            format!("{good}{}", " ".repeat(2 << 20)),
        ] {
            std::fs::write(meta_path(&backup), &bad).unwrap();
            assert_eq!(read_meta(&backup), None, "{:.80}", bad);
        }
        std::fs::write(meta_path(&backup), &good).unwrap();
        assert!(read_meta(&backup).is_some());
        std::fs::write(meta_path(&backup), [0xff, 0xfe, 0]).unwrap();
        assert_eq!(read_meta(&backup), None);
    }

    #[test]
    fn write_errors_name_the_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let backup = dir.path().join("missing-dir").join("a.sql");
        let err = write_meta(&backup, &sample("a.sql")).unwrap_err();
        assert!(err.message.contains("a.sql.meta.json"), "{err}");
        let err = write_meta(Path::new("/"), &sample("a.sql")).unwrap_err();
        assert!(err.message.contains("meta.json"), "{err}");
    }
}
