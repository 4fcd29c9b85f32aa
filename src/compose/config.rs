//! The `x-budgie:` section: configuration that compose itself ignores.
//!
//! ```yaml
//! x-budgie:
//!   database:            # all optional; detected when absent
//!     service: db
//!     user: app
//!     name: app
//!     volume: pgdata
//!   backup:
//!     dir: backups        # relative to the project directory
//!     compress: zstd      # none | gzip | zstd
//!     retention: { daily: 7, weekly: 4, monthly: 6 }
//!   volumes:
//!     node_modules: { disposable: true }
//! ```
//!
//! Flags and `BUDGIE_*` variables override these values; that overlay happens
//! where the command's settings are built, not here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

/// The parsed `x-budgie:` section (all fields optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BudgieConfig {
    pub database: DatabaseConfig,
    pub backup: BackupConfig,
    /// Per-volume settings by volume key.
    pub volumes: BTreeMap<String, VolumeConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DatabaseConfig {
    pub service: Option<String>,
    pub user: Option<String>,
    pub name: Option<String>,
    pub volume: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BackupConfig {
    /// As written (relative paths are against the project directory).
    pub dir: Option<PathBuf>,
    pub compress: Option<Compression>,
    pub retention: Retention,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Retention {
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            daily: 7,
            weekly: 4,
            monthly: 6,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VolumeConfig {
    pub disposable: bool,
}

/// How a database dump is compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The file name suffix after `.sql`.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Zstd => ".zst",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "off" | "false" | "" => Some(Compression::None),
            "gzip" | "gz" => Some(Compression::Gzip),
            "zstd" | "zst" => Some(Compression::Zstd),
            _ => None,
        }
    }
}
