//! MariaDB (and, for backups, MySQL): everything budgie says to the server,
//! as argv for `exec` in the database container and as SQL scripts fed to
//! the `mariadb` client's stdin.
//!
//! Passwords travel as `-e MYSQL_PWD` with the value in the child's
//! environment, never on a command line (DESIGN.md invariant 6). SQL goes
//! to the client on stdin, not in `-e` (no argv length limit, no secret in
//! argv).
//!
//! # Backups
//!
//! [`dump_command`]: the container's own dump tool, one database, no
//! `--databases` (so the dump holds no `CREATE DATABASE`/`USE` and loads
//! into any database), consistent (`--single-transaction`), complete
//! (`--routines --triggers --events`), text-safe (`--hex-blob`),
//! deterministic (`--skip-dump-date`). A dump is complete when the tool
//! exited 0 *and* the file ends with its trailer
//! (`backup::format::mariadb_dump_is_complete`).
//!
//! # Restores: load aside, then one atomic rename
//!
//! MariaDB has no `RENAME DATABASE`, and DDL is not transactional; what it
//! does have is a multi-table `RENAME TABLE`, which is all-or-nothing on
//! error and, since 10.6 (atomic DDL), across a crash of the server too
//! (tried: a 2000-table rename killed with SIGKILL half-way came back with
//! every table where it started). That one statement is the commit point;
//! what comes before only touches side databases, what comes after is an
//! idempotent roll-forward that a later budgie can finish.
//!
//! Names, for the current database `C` and a stamp (see [`Swap`]):
//! `S` = `<C>_budgie_restore_<stamp>` (scratch), `O` = `<C>_budgie_old_<stamp>`
//! (previous), the loader account `'budgie_restore_<stamp>'@'localhost'`, and
//! the marker table `budgie_swap_<stamp>`, which also holds the swap's
//! record (definitions to re-create, accounts locked, hidden names).
//!
//! 1. [`prepare`] (admin account): create `S` and `O` with `C`'s character
//!    set and collation; grant every account that has database-level
//!    privileges on `C` the same on `S` and `O` (without this a dump whose
//!    view uses another view fails: the view's DEFINER must have rights on
//!    the database it is created in — tried); create the loader account
//!    with privileges on `S` only, plus `SET USER` so that the dump's
//!    `DEFINER=` clauses load.
//! 2. [`load_command`]: the dump, from stdin, by the loader account into
//!    `S`, with `--binary-mode` (no client commands but `DELIMITER`: no
//!    `system`, `source`, `connect`...). The loader cannot reach `C` or any
//!    other database, nor the server's files (`USE shop`, `CREATE DATABASE`,
//!    `INTO OUTFILE` are refused — tried), so a dump made with `--databases`
//!    fails instead of overwriting the current database.
//! 3. [`inspect`] (admin): the tables `S` holds (checked against those the
//!    dump creates) and the text of every trigger, view, routine and event
//!    of `S` (the new ones) and of `C` (the previous ones).
//! 4. [`commit`] (admin, one session): write the record into the marker
//!    table in `S`; lock the accounts that have privileges on `C`
//!    (`ALTER USER ... ACCOUNT LOCK`, MariaDB's nearest thing to
//!    PostgreSQL's `ALLOW_CONNECTIONS false`: new connections are refused,
//!    existing ones go on) and kill their sessions and every session using
//!    `C`; drop `S`'s triggers (a table with triggers cannot move to another
//!    database: "Trigger in wrong schema"); then the commit point, ONE
//!    statement:
//!    `RENAME TABLE C.t1 TO C.budgie_old_<stamp>_1, ..., S.u1 TO C.u1, ...,
//!    S.budgie_swap_<stamp> TO O.budgie_swap_<stamp>` — `C`'s tables,
//!    sequences and views step aside inside `C` (a view cannot change
//!    database, a table with triggers neither, but both can be renamed
//!    within their own), `S`'s tables and sequences take their names, and
//!    the marker moves to `O`: where the marker is tells whether the swap
//!    happened.
//! 5. the roll-forward ([`roll_forward_sql`], run right after the rename in
//!    the same session, and again by recovery until it completes): drop
//!    the old triggers, move the stepped-aside tables to `O` under their
//!    names, re-create the previous triggers, views, routines and events
//!    in `O` (best effort, events disabled), drop them from `C`; create the
//!    new triggers, views (in rounds, until each one's dependencies exist),
//!    routines and events in `C` (these must succeed); unlock the
//!    accounts; drop `S`, the loader and the grants on `S` and `O`; drop
//!    the marker. `O` is then the previous database, dropped or kept by the
//!    caller like PostgreSQL's `<db>_budgie_old_*`.
//!
//! Any failure before the rename leaves `C` exactly as it was: [`rollback`]
//! unlocks what was locked and drops `S`, the loader, the grants and `O`
//! (only while `O` holds nothing). Crash recovery: [`find_swaps`] lists the
//! leftovers of interrupted restores of a database and [`SwapState`] says,
//! from the server alone, whether to roll back or forward ([`recover`]).
//!
//! # Limits
//!
//! - MariaDB 10.6 or later for restores ([`restore_support`]): the rename is
//!   crash-safe from 10.6, `SET USER` exists from 10.5.2. MySQL and Percona
//!   servers are backed up but not restored by this scheme (no `EXECUTE
//!   IMMEDIATE`, no `CREATE OR REPLACE TRIGGER`, no `SET USER`).
//! - Restores need an account that can create databases, users and grants
//!   (root: `MARIADB_ROOT_PASSWORD`); the image's `MARIADB_USER` only has
//!   rights on its own database.
//! - Triggers, views, routines and events are re-created from their
//!   `SHOW CREATE` text, after the commit point: for a moment the new tables
//!   exist without them (the app's accounts are locked out meanwhile). They
//!   keep their definer, `sql_mode` and `collation_connection`; their
//!   `character_set_client` becomes utf8mb4 (the text's encoding in transit).
//! - The loader holds `SET USER`: a crafted file can define a trigger or
//!   routine as a more powerful account and fire it during the load (tried:
//!   `CREATE DEFINER=root@localhost PROCEDURE p() DROP TABLE shop.t; CALL p();`
//!   drops `shop.t`). A dump written by mariadb-dump never invokes what it
//!   defines (a table's triggers come after its data). Without `SET USER`,
//!   every dump with a view, trigger, routine or event written by another
//!   account would fail to load.
//! - Accounts with global privileges (root) are not locked, and the admin
//!   account never: an app that connects as root can slip in between the
//!   rename and the end of the roll-forward.
//! - Table- and column-level grants stay with the names in `C` (they are
//!   keyed by name); they are not mirrored onto `S` and `O`.
//! - Events in `S` run during the load if the event scheduler is on.
//! - The rename takes about 5 ms per table here (2000 tables: 8-10 s), and
//!   waits at most [`SWAP_LOCK_WAIT_SECS`] for transactions on `C`'s tables.

mod client;
mod commit;
mod recover;
mod sections;
mod swap;

pub use client::*;
pub use recover::*;
pub use sections::{Section, databases_in};
pub use swap::*;

#[cfg(test)]
mod tests;
