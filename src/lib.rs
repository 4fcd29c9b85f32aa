//! budgie as a library: the modules of the `budgie` binary, compiled once.
//!
//! The binary calls [`main`]; the fuzz targets in `fuzz/` and the
//! integration test that replays their corpus call [`fuzzing`]. Nothing
//! else is public, so that the dead-code lint sees what nothing uses.
//! Nothing here is a stable API.
//!
//! The modules, from the top down (a module imports only modules below it;
//! `tests/architecture.rs` fails when an import loop comes back):
//!
//! - `app`: parse, build the context, call one command, map errors to exit codes;
//! - `commands`: one file per command family; each builds a plan or reads;
//! - `gate`: the safety gate — what a plan loses, the safety steps it needs,
//!   the confirmation, the ticket every deletion is checked against;
//! - `steps`: the steps every plan is made of (compose calls, dumps, archives);
//! - `recover`, `execute`, `wait`: crash repairs, the executor, the waits;
//! - `plan`: steps and plans, as data;
//! - `context`, `lock`, `engine_lock`, `journal`, `restore`, `backup`, `databases`,
//!   `inventory`: the domain;
//! - `cli`, `schedule`, `engine`, `compose`: the command line, timers, the
//!   engines' argv, the compose model;
//! - `ui`, `fsutil`, `interrupt`, `crash`, `error`: leaves.

mod app;
mod backup;
mod cli;
mod commands;
mod compose;
mod context;
mod crash;
mod databases;
mod engine;
mod engine_lock;
mod error;
mod execute;
mod fsutil;
pub mod fuzzing;
mod gate;
mod interrupt;
mod inventory;
mod journal;
mod lock;
mod notify;
mod plan;
mod recover;
mod restore;
mod schedule;
mod snapshots;
mod steps;
mod storage;
mod ui;
mod wait;

pub use app::main;
