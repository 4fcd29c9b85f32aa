//! budgie's integration tests: one test binary (compiled once), one module
//! per feature. Tests drive the built `budgie` binary.
//!
//! - `cli`, `backups_offline`: bad input, dry runs, config — against fake
//!   engines that record every call, so "nothing was run" is checked, not
//!   assumed.
//! - what budgie prints, against fake engines (and in `output`, on real
//!   ones), is compared whole with a snapshot in `tests/snapshots/`
//!   (`support::snapshot`: insta, with filters for temp dirs, stamps,
//!   sizes...).
//! - end-to-end (`e2e!`): real podman (podman-compose) and real docker
//!   (docker-compose), each running a real PostgreSQL container, as two
//!   tests per body. A missing engine fails them; `BUDGIE_E2E=skip`
//!   compiles them as ignored (build.rs), so cargo's summary counts them.
//! - `interpolation`: compose-go's interpolation test table through
//!   `budgie config --json`.
//! - `plans`: the dry run of every destructive command is the plan that runs.
//! - `architecture`: the import graph has no loops; files and functions
//!   stay small.
//! - `completions`: `budgie completions` and `budgie man` outside any
//!   project, checked by the real bash, zsh, fish and man.

mod support;

mod architecture;
mod backup;
mod backups_offline;
mod cli;
mod completions;
mod corpus;
mod data_services;
mod db_snapshots;
mod deploy;
mod doctor;
mod encryption;
mod faults;
mod fuzz_corpus;
mod gate;
mod hostile_dumps;
mod interpolation;
mod lifecycle;
mod mariadb_all;
mod output;
mod plans;
mod real_stacks;
mod recovery;
mod remote_engines;
mod remote_s3;
mod restore;
mod schedule;
mod security;
mod soak;
