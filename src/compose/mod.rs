//! The compose model: what budgie understands of a project's compose files.
//!
//! This module owns file discovery and merging, `.env` and interpolation,
//! the project name, the named volumes with their real engine names, the
//! PostgreSQL service, and the `x-budgie:` configuration. It reads files and
//! returns values; it never talks to an engine and never prints.
//!
//! Parsing follows the compose tools (compose-spec, docker compose v2,
//! docker-compose v1, podman-compose) wherever they agree; where they differ
//! docs/compose.md says which one budgie follows.

mod config;
mod database;
mod discover;
mod dotenv;
mod file;
mod interpolate;
mod load;
mod merge;
mod model;
mod mounts;
mod name;
mod normalize;
#[cfg(test)]
mod tests;
mod yaml;

pub use config::{BindMounts, BudgieConfig, Compression, DumpFormat, Quiesce, Retention};
pub use interpolate::interpolate;
pub use load::load;
// Everything `model.rs` defines, at `compose::` as when it was defined here.
pub use model::*;
