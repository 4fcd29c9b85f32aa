//! `backup list`, `backup prune` and `backup verify` on files alone: no
//! engine is needed, so these run everywhere. What budgie prints is
//! compared whole with a snapshot (`tests/snapshots/backups_offline_*.snap`).

use chrono::{Duration, Local, NaiveDateTime};

use crate::support::*;

const PROJECT: &str = "services:\n  db:\n    image: postgres:16\n    volumes: [pgdata:/var/lib/postgresql/data]\nvolumes:\n  pgdata:\n";

fn dump_text(complete: bool) -> String {
    let mut s = String::from(
        "--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\nCREATE TABLE public.t (x integer);\n",
    );
    if complete {
        s.push_str("\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc123\n\n");
    }
    s
}

fn name(at: NaiveDateTime, reason: Option<&str>) -> String {
    let mut n = format!("shop_{}", at.format("%Y%m%d_%H%M%S"));
    if let Some(r) = reason {
        n.push('_');
        n.push_str(r);
    }
    n + ".sql"
}

fn project() -> Fixture {
    Fixture::bare()
        .compose(PROJECT)
        .env("COMPOSE_PROJECT_NAME", "shop")
}

#[test]
fn prune_keeps_recent_days_safety_backups_and_incomplete_files() {
    let today3am = Local::now().date_naive().and_hms_opt(3, 0, 0).unwrap();
    let mut p = project();
    let mut all = Vec::new();
    for day in 0..40 {
        let n = name(today3am - Duration::days(day), None);
        all.push(n.clone());
        p = p.file(&format!("backups/{n}"), &dump_text(true));
    }
    let safety = name(
        today3am - Duration::days(2) + Duration::hours(9),
        Some("pre-clean"),
    );
    let incomplete = name(today3am - Duration::days(30) + Duration::hours(1), None);
    let p = p
        .file(&format!("backups/{safety}"), &dump_text(true))
        .file(&format!("backups/{incomplete}"), &dump_text(false));
    let before = p.backups();

    let args = [
        "backup",
        "prune",
        "--keep-daily",
        "3",
        "--keep-weekly",
        "0",
        "--keep-monthly",
        "0",
    ];
    let out = p.budgie().arg("--dry-run").args(args).run().success();
    snapshot(&p, "backups_offline_prune_dry_run", &out.stderr);
    assert_eq!(p.backups(), before, "--dry-run deletes nothing");

    let out = p.budgie().args(args).run().success();
    snapshot(&p, "backups_offline_prune", &out.stderr);
    let mut expected = vec![
        all[0].clone(),
        all[1].clone(),
        safety.clone(),
        incomplete.clone(),
    ];
    expected.sort();
    assert_eq!(p.backups(), expected);
}

#[test]
fn prune_never_deletes_the_newest_complete_backup() {
    let old = Local::now().naive_local() - Duration::days(400);
    let n = name(old, None);
    let p = project().file(&format!("backups/{n}"), &dump_text(true));
    p.budgie()
        .args([
            "backup",
            "prune",
            "--keep-daily",
            "0",
            "--keep-weekly",
            "0",
            "--keep-monthly",
            "0",
        ])
        .run()
        .success();
    assert_eq!(p.backups(), [n]);
}

#[test]
fn list_tells_complete_from_incomplete() {
    let now = Local::now().naive_local();
    let good = name(now - Duration::hours(1), None);
    let bad = name(now - Duration::hours(2), Some("pre-nuke"));
    let p = project()
        .file(&format!("backups/{good}"), &dump_text(true))
        .file(&format!("backups/{bad}"), &dump_text(false))
        .file("backups/notes.txt", "not a backup");
    let out = p
        .budgie()
        .args(["backup", "list", "--json"])
        .run()
        .success();
    let rows = out.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["file"], good.as_str());
    assert_eq!(rows[0]["complete"], true);
    assert_eq!(rows[0]["kind"], "manual");
    assert_eq!(rows[1]["complete"], false);
    assert_eq!(rows[1]["kind"], "pre-nuke");
    let out = p.budgie().args(["backup", "list"]).run().success();
    snapshot(&p, "backups_offline_list", &out.stderr);
}

#[test]
fn verify_refuses_what_is_not_a_complete_dump() {
    let p = project()
        .file("ok.sql", &dump_text(true))
        .file("truncated.sql", &dump_text(false))
        .file("empty.sql", "")
        .file(
            "random.sql",
            "\u{7}\u{1}garbage that is not SQL at all \u{3}\u{5}",
        );
    let out = p
        .budgie()
        .args(["backup", "verify", "ok.sql"])
        .run()
        .success();
    snapshot(&p, "backups_offline_verify_ok", &out.stderr);
    // Relative paths are relative to where budgie was started; -C moves that.
    for (file, name) in [
        ("truncated.sql", "truncated"),
        ("empty.sql", "empty"),
        ("random.sql", "random"),
        ("missing.sql", "missing"),
    ] {
        let out = p
            .budgie()
            .args(["backup", "verify"])
            .arg(p.path().join(file))
            .run()
            .code(1);
        snapshot(&p, &format!("backups_offline_verify_{name}"), &out.stderr);
    }
}
