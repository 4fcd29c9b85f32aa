//! budgie's integration tests: one test binary (compiled once), one module
//! per feature. Tests drive the built `budgie` binary.
//!
//! - `cli`: bad input, dry runs, config — against fake engines that record
//!   every call, so "nothing was run" is checked, not assumed.
//! - `lifecycle`: end-to-end against real podman (podman-compose) and real
//!   docker (docker-compose), each starting a real PostgreSQL container.
//!   They skip only when an engine is missing and `BUDGIE_E2E_REQUIRED` is
//!   not set; CI sets it, so there a missing engine fails.
//! - `completions`: `budgie completions` and `budgie man` outside any
//!   project, checked by the real bash, zsh, fish and man.

mod support;

mod architecture;
mod backup;
mod backups_offline;
mod cli;
mod completions;
mod deploy;
mod doctor;
mod faults;
mod fuzz_corpus;
mod gate;
mod lifecycle;
mod output;
mod plans;
mod recovery;
mod restore;
mod schedule;
mod security;
mod soak;
