//! Where an interrupted swap stands, from the server alone, and finishing
//! or undoing it.

use serde::Serialize;

use crate::compose::Database;
use crate::engine::Engine;
use crate::error::Result;

use super::client::*;
use super::commit::*;
use super::swap::*;

/// Where an interrupted or running swap stands, from the server alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SwapState {
    /// Nothing of it on the server.
    Absent,
    /// `S` (or the loader, or grants on `S`) exists without a marker, or
    /// the marker is still in `S`: not swapped. Roll back.
    NotSwapped,
    /// The marker is in `O`: swapped, roll forward.
    Swapped,
    /// Only `O` is left: the swap completed; `O` is the previous database.
    Done,
}

/// The SQL of [`state`]: one `budgie-state` row with, for `S`, the marker
/// in `S`, the marker in `O`, `O`, the loader account and grants left on
/// `S`/`O`: 1 or 0 each.
pub fn state_sql(swap: &Swap) -> String {
    let s = quote_string(&swap.scratch);
    let o = quote_string(&swap.old);
    let mk = quote_string(&swap.marker);
    format!(
        "SELECT 'budgie-state',\n  \
         EXISTS (SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {s}),\n  \
         EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {s} AND TABLE_NAME = {mk}),\n  \
         EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {o} AND TABLE_NAME = {mk}),\n  \
         EXISTS (SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {o}),\n  \
         EXISTS (SELECT 1 FROM mysql.global_priv WHERE User = {l} AND Host = 'localhost'),\n  \
         EXISTS (SELECT 1 FROM information_schema.SCHEMA_PRIVILEGES WHERE TABLE_SCHEMA IN ({s}, {se}, {o}, {oe}));\n",
        l = quote_string(&swap.loader),
        se = quote_string(&like_exact(&swap.scratch)),
        oe = quote_string(&like_exact(&swap.old)),
    )
}

/// The state, from [`state_sql`]'s six flags.
pub fn state_of(flags: &[bool]) -> SwapState {
    let f = |i: usize| flags.get(i).copied().unwrap_or(false);
    let (scratch, in_s, in_o, old, loader, grants) = (f(0), f(1), f(2), f(3), f(4), f(5));
    if in_o {
        SwapState::Swapped
    } else if scratch || in_s || loader || grants {
        SwapState::NotSwapped
    } else if old {
        SwapState::Done
    } else {
        SwapState::Absent
    }
}

pub fn state(
    engine: &Engine,
    container: &str,
    tools: Tools,
    admin: &Login,
    swap: &Swap,
) -> Result<SwapState> {
    let out = run_sql(engine, container, tools, admin, None, &state_sql(swap))?;
    let flags: Vec<bool> = tagged(&out, "budgie-state")
        .next()
        .unwrap_or_default()
        .iter()
        .map(|v| v.trim() == "1")
        .collect();
    Ok(state_of(&flags))
}

/// What a completed swap did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Swapped {
    /// Tables (and sequences) now in the current database.
    pub tables: u64,
    /// Previous triggers, views, routines or events that could not be
    /// re-created in `O` (they are gone from `C` all the same).
    pub skipped: u64,
}

pub(super) fn parse_swapped(out: &str) -> Swapped {
    let find = |tag: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(tag))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    Swapped {
        tables: find("budgie-tables:"),
        skipped: find("budgie-skipped:"),
    }
}

/// Step 4, run: the commit and the roll-forward. On failure, reads where
/// the marker is: not swapped → rolls back (the current database is as it
/// was); swapped → tries the roll-forward once more, and if that fails too
/// says so (the next budgie finishes it: [`recover`]).
pub fn commit(
    engine: &Engine,
    container: &str,
    tools: Tools,
    admin: &Login,
    swap: &Swap,
    loaded: &Loaded,
) -> Result<Swapped> {
    let run = run_sql(
        engine,
        container,
        tools,
        admin,
        None,
        &commit_sql(swap, loaded),
    );
    let err = match run {
        Ok(out) => return Ok(parse_swapped(&out)),
        Err(e) => e,
    };
    match state(engine, container, tools, admin, swap) {
        Ok(SwapState::Swapped) => roll_forward(engine, container, tools, admin, swap).map_err(|again| {
            again.context(format!(
                "the restored tables are in place, but finishing the swap failed ({}); the next budgie command finishes it",
                err.message
            ))
        }),
        Ok(SwapState::Done) => Err(err.context("the swap completed, but budgie could not read its result")),
        Ok(_) => {
            let rolled = rollback(engine, container, tools, admin, swap);
            let e = err.context("the restored copy was not swapped in; the current database is unchanged");
            Err(match rolled {
                Ok(()) => e,
                Err(r) => e.hint(format!(
                    "cleaning up the scratch copy failed too ({}); the next budgie command cleans it up",
                    r.message
                )),
            })
        }
        Err(e2) => Err(err.context(format!(
            "the swap failed and budgie cannot tell how far it got ({}); the next budgie command finds out and finishes or undoes it",
            e2.message
        ))),
    }
}

/// The roll-forward, run.
pub fn roll_forward(
    engine: &Engine,
    container: &str,
    tools: Tools,
    admin: &Login,
    swap: &Swap,
) -> Result<Swapped> {
    run_sql(
        engine,
        container,
        tools,
        admin,
        None,
        &roll_forward_sql(swap),
    )
    .map(|out| parse_swapped(&out))
}

/// The rollback, run.
pub fn rollback(
    engine: &Engine,
    container: &str,
    tools: Tools,
    admin: &Login,
    swap: &Swap,
) -> Result<()> {
    run_sql(engine, container, tools, admin, None, &rollback_sql(swap)).map(|_| ())
}

/// The SQL of [`find_swaps`]: the stamps of every swap of `current` that
/// left a scratch or previous database. (Every step drops the loader
/// account and the grants before the databases, so a swap that left
/// anything left one of these.)
pub fn find_swaps_sql(current: &str) -> String {
    // The stamp is the last 14 characters of a side name.
    let pattern = |kind: &str| {
        let sample = side_name(current, kind, "00000000000000");
        let head = &sample[..sample.len() - 14];
        quote_string(&format!("{}%", like_exact(head)))
    };
    format!(
        "SELECT 'budgie-swap', RIGHT(SCHEMA_NAME, 14) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE {r} OR SCHEMA_NAME LIKE {o};\n",
        r = pattern("restore"),
        o = pattern("old"),
    )
}

/// Every swap of `db.name` with something left on the server, and its
/// state (`Done` ones are previous databases kept or not yet dropped).
pub fn find_swaps(
    engine: &Engine,
    container: &str,
    tools: Tools,
    admin: &Login,
    db: &Database,
) -> Result<Vec<(Swap, SwapState)>> {
    let out = run_sql(
        engine,
        container,
        tools,
        admin,
        None,
        &find_swaps_sql(&db.name),
    )?;
    let mut stamps: Vec<String> = tagged(&out, "budgie-swap")
        .filter_map(|r| r.into_iter().next())
        .filter(|s| s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    stamps.sort();
    stamps.dedup();
    let mut found = Vec::new();
    for stamp in stamps {
        let swap = Swap::new(&db.name, &stamp);
        let st = state(engine, container, tools, admin, &swap)?;
        found.push((swap, st));
    }
    Ok(found)
}

/// Crash recovery for one database: every interrupted swap is rolled back
/// (not swapped: the current database was never touched) or forward
/// (swapped). Returns what it did, one line each. `Done` swaps are left
/// alone: their `O` is the previous database, which the caller drops or keeps.
pub fn recover(
    engine: &Engine,
    container: &str,
    tools: Tools,
    admin: &Login,
    db: &Database,
) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for (swap, st) in find_swaps(engine, container, tools, admin, db)? {
        match st {
            SwapState::NotSwapped => {
                rollback(engine, container, tools, admin, &swap)?;
                done.push(format!(
                    "dropped the scratch copy {} of an interrupted restore; {} was not changed",
                    swap.scratch, swap.current
                ));
            }
            SwapState::Swapped => {
                roll_forward(engine, container, tools, admin, &swap)?;
                done.push(format!(
                    "finished an interrupted restore of {}: the restored copy is in place, the previous one is {}",
                    swap.current, swap.old
                ));
            }
            SwapState::Absent | SwapState::Done => {}
        }
    }
    Ok(done)
}
