//! Backups: where they live, what they are called, and which exist.
//!
//! `store` owns the file names and the listing; dumping and archiving build
//! on it.

pub mod meta;
pub mod retention;
pub mod store;
pub mod verify;
pub mod writer;
