//! The soak (issue 5, item 3): many cycles of write rows → `budgie backup`
//! → `budgie clean --yes` → `budgie start` → `budgie restore <that backup>
//! --yes` → the checksums equal those taken before the backup, alternating
//! engines (even cycles on podman, odd ones on docker), failing on the
//! first difference with the cycle number.
//!
//! `BUDGIE_SOAK_CYCLES` sets the number of cycles: 4 by default (two per
//! engine, what `cargo test` and CI run), 30 from `scripts/soak`. Each
//! cycle prints its duration.

use std::time::Instant;

use crate::support::*;

const DEFAULT_CYCLES: u32 = 4;

fn cycles() -> u32 {
    match std::env::var("BUDGIE_SOAK_CYCLES") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("BUDGIE_SOAK_CYCLES={v:?}: expected a number")),
        Err(_) => DEFAULT_CYCLES,
    }
}

/// The rows cycle `i` writes: new rows, changed rows, deleted rows, a
/// sequence moved on — different every cycle, so a restore of the wrong
/// file, or of nothing, shows.
fn write_rows(p: &Fixture, i: u32) {
    p.sql(&format!(
        "create table if not exists ledger(id bigserial primary key, cycle int not null, note text, amount numeric(12,2)); \
         create sequence if not exists receipt_no; \
         insert into ledger(cycle, note, amount) \
             select {i}, E'cycle {i} row ' || g || E'\\n\\t''quoted'' \"dq\"', g * 1.5 + {i} \
             from generate_series(1, 300) g; \
         update ledger set amount = amount + 1 where id % 7 = {m}; \
         delete from ledger where id % 53 = {d}; \
         select nextval('receipt_no') from generate_series(1, {n});",
        m = i % 7,
        d = i % 53,
        n = i + 1,
    ));
}

#[test]
#[cfg_attr(
    budgie_e2e_skip,
    ignore = "BUDGIE_E2E=skip: end-to-end on both engines"
)]
fn soak_backup_clean_start_restore_alternating_engines() {
    Engine::Podman.require();
    Engine::Docker.require();
    let projects = [
        Fixture::new(Engine::Podman).compose(STACK),
        Fixture::new(Engine::Docker).compose(STACK),
    ];
    for p in &projects {
        p.budgie().arg("start").run().success();
    }
    let n = cycles();
    let all = Instant::now();
    for i in 0..n {
        let started = Instant::now();
        let p = &projects[(i % 2) as usize];
        let engine = p.engine.unwrap();
        write_rows(p, i);
        let before = p.checksums("appdb");
        let doc = p.budgie().args(["backup", "--json"]).run().success().json();
        let file = doc["path"].as_str().unwrap().to_string();
        p.budgie().args(["clean", "--yes"]).run().success();
        assert!(
            !p.volume_exists(&format!("{}_pgdata", p.name)),
            "cycle {i} ({engine:?}): clean left the database volume"
        );
        p.budgie().arg("start").run().success();
        p.budgie().args(["restore", &file, "--yes"]).run().success();
        let after = p.checksums("appdb");
        if after != before {
            let differ: Vec<&String> = before
                .keys()
                .chain(after.keys())
                .filter(|k| before.get(*k) != after.get(*k))
                .collect();
            panic!(
                "cycle {i} ({engine:?}): the restored database differs from before the backup in {differ:?}\n before: {before:?}\n after: {after:?}"
            );
        }
        eprintln!(
            "soak cycle {i:>2} ({engine:?}): {:.1}s, {} rows",
            started.elapsed().as_secs_f64(),
            before.get("table ledger").map(|r| r.0).unwrap_or(0)
        );
    }
    eprintln!("soak: {n} cycles in {:.1}s", all.elapsed().as_secs_f64());
}
