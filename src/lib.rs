//! budgie as a library: the modules of the `budgie` binary (src/main.rs is
//! its only user), compiled once.
//!
//! The split exists so that code outside the binary can call budgie's own
//! functions on untrusted input: the fuzz targets in `fuzz/` and the
//! integration test that replays their corpus both go through [`fuzzing`].
//! Nothing here is a stable API.

pub mod backup;
pub mod cli;
pub mod commands;
pub mod compose;
pub mod context;
pub mod crash;
pub mod databases;
pub mod engine;
pub mod error;
pub mod execute;
pub mod fsutil;
pub mod fuzzing;
pub mod gate;
pub mod interrupt;
pub mod inventory;
pub mod journal;
pub mod lock;
pub mod plan;
pub mod recover;
pub mod restore;
pub mod schedule;
pub mod steps;
pub mod ui;
pub mod wait;
