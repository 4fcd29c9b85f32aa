//! The dry run is the plan that runs. For every command that backs up,
//! deletes or replaces data — `backup`, `deploy`, `restore`, `volumes rm`,
//! `clean`, `nuke` — and every compression setting, the steps `--dry-run`
//! prints are compared with the steps the real run took (`-v` names each
//! as it starts), and the backup files the dry run names with the files the
//! real run wrote. Only the time stamps may differ.

use std::collections::BTreeSet;

use crate::e2e;
use crate::support::*;

/// `text` with every time stamp in a name replaced by `<stamp>`:
/// `YYYYMMDD_HHMMSS[-N]` (backup files) and `YYYYMMDDHHMMSS` (a restore's
/// side databases).
fn unstamped(text: &str) -> String {
    let b = text.as_bytes();
    let digits = |from: usize, n: usize| {
        b.len() >= from + n && b[from..from + n].iter().all(u8::is_ascii_digit)
    };
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if digits(i, 8) && b.get(i + 8) == Some(&b'_') && digits(i + 9, 6) {
            i += 15;
            if b.get(i) == Some(&b'-') && digits(i + 1, 1) {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            out.push_str("<stamp>");
        } else if digits(i, 14) && !digits(i + 14, 1) {
            i += 14;
            out.push_str("<stamp>");
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The step titles a dry run prints (`N. what`).
fn planned(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| {
            let (n, what) = l.split_once(". ")?;
            (!n.is_empty() && n.bytes().all(|c| c.is_ascii_digit())).then(|| unstamped(what))
        })
        .collect()
}

/// The step titles a real run with `-v` announced (`step: what`).
fn taken(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("step: "))
        .map(unstamped)
        .collect()
}

/// The backup files the planned steps name (`... -> /dir/backups/NAME ...`).
fn named_files(steps: &[String]) -> BTreeSet<String> {
    steps
        .iter()
        .filter_map(|s| s.split_once(" -> ").map(|(_, rest)| rest))
        .map(|rest| {
            let path = rest.split(" (").next().unwrap_or(rest);
            path.rsplit('/').next().unwrap_or(path).to_string()
        })
        .collect()
}

/// The backups in the project's directory now, sidecars left out.
fn files(p: &Fixture) -> BTreeSet<String> {
    p.backups()
        .into_iter()
        .filter(|n| !n.ends_with(".meta.json"))
        .collect()
}

/// Runs `args` with `--dry-run`, then for real with `-v`; the steps and
/// the files written must be the ones planned. Returns the real run.
fn same_plan(p: &Fixture, compression: &str, args: &[&str]) -> Outcome {
    let dry = p
        .budgie()
        .env("BUDGIE_COMPRESS", compression)
        .arg("--dry-run")
        .args(args)
        .run()
        .success();
    let steps = planned(&dry.stderr);
    assert!(!steps.is_empty(), "no plan{}", dry.explain());
    let before = files(p);
    let real = p
        .budgie()
        .env("BUDGIE_COMPRESS", compression)
        .arg("-v")
        .args(args)
        .run()
        .success();
    assert_eq!(
        steps,
        taken(&real.stderr),
        "`budgie {}` (compression {compression}) did not run the plan its dry run showed\n  dry run:{}\n  real run:{}",
        args.join(" "),
        dry.explain(),
        real.explain()
    );
    let written: BTreeSet<String> = files(p).difference(&before).map(|n| unstamped(n)).collect();
    let named: BTreeSet<String> = named_files(&steps);
    assert_eq!(
        written,
        named,
        "`budgie {}` (compression {compression}) wrote other files than its dry run named",
        args.join(" ")
    );
    let ext = match compression {
        "gzip" => ".sql.gz",
        "zstd" => ".sql.zst",
        _ => ".sql",
    };
    for n in named.iter().filter(|n| n.contains(".sql")) {
        assert!(n.ends_with(ext), "{n} is not a {compression} dump");
    }
    real
}

#[test]
fn stamps_are_the_only_difference_allowed() {
    assert_eq!(
        unstamped("/d/backups/p_20261130_101010-2_pre-clean.sql.zst (x)"),
        "/d/backups/p_<stamp>_pre-clean.sql.zst (x)"
    );
    assert_eq!(
        unstamped("app_budgie_restore_20261130101010"),
        "app_budgie_restore_<stamp>"
    );
    assert_eq!(unstamped("port 5432, 2026"), "port 5432, 2026");
    assert_eq!(
        planned("Plan for x\n1. Do a\n   $ cmd\n12. Do b\nThe end. Done"),
        ["Do a", "Do b"]
    );
    assert_eq!(
        named_files(&[
            "Backup of database a -> /x/backups/p_<stamp>.sql (temporary name first)".into()
        ]),
        BTreeSet::from(["p_<stamp>.sql".to_string()])
    );
}

e2e!(
    every_destructive_command_runs_the_plan_its_dry_run_shows,
    |engine| {
        let p = Fixture::new(engine).compose(STACK).own_images();
        p.budgie().arg("start").run().success();
        for compression in ["none", "gzip", "zstd"] {
            p.sql("create table if not exists t(x int); insert into t values (1)");
            let app = p.container("app").unwrap();
            p.engine_out(&["exec", &app, "sh", "-c", "echo kept > /uploads/f.txt"]);

            let backup = same_plan(&p, compression, &["backup", "--json"]).json();
            let file = backup["path"].as_str().unwrap().to_string();
            same_plan(&p, compression, &["deploy"]);
            same_plan(&p, compression, &["restore", &file, "--yes"]);
            same_plan(&p, compression, &["volumes", "rm", "uploads", "--yes"]);
            same_plan(&p, compression, &["clean", "--yes"]);
            p.budgie().arg("start").run().success();
        }
        same_plan(&p, "zstd", &["nuke", "--yes"]);
    }
);
