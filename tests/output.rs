//! What the user sees: snapshot tests (insta) of the human output of
//! `status`, `volumes`, `backup list`, `doctor` and the gate's summary, and
//! the output rules — colors only on a terminal and never with `NO_COLOR`,
//! spinners only on a terminal and never with `-q`, `-q` prints only errors,
//! errors end with a hint of the next command.
//!
//! Snapshots live in `tests/snapshots/` (`support::snapshot`, which every
//! module uses). The volatile parts of the output (the temp dir, the project
//! name, time stamps, sizes, ages, durations, and on a real engine its name
//! and versions) are replaced by placeholders such as `[PROJECT]` and
//! `[SIZE]`, so one snapshot holds for podman and docker alike. Since the
//! placeholders are not as wide as what they replace, the spaces between
//! table columns are shown as two spaces; the alignment itself is a unit
//! test of `ui::table`.
//!
//! A changed output fails the test; `cargo insta review` (or
//! `INSTA_UPDATE=always cargo test ...`) accepts the new one. Under CI
//! (`CI` set) insta never writes a snapshot: a missing one fails too.

use crate::e2e;
use crate::support::*;

/// The test stack without healthchecks: docker's health would be `starting`
/// or `healthy` depending on timing, podman's stays `starting` without
/// systemd; the snapshots must not depend on either.
const STACK_NO_HEALTH: &str = r#"
services:
  db:
    image: ${BUDGIE_PG_IMAGE}
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: ${DB_PASSWORD:-s3cret-pw}
      POSTGRES_DB: appdb
    volumes:
      - pgdata:/var/lib/postgresql/data
  app:
    image: ${BUDGIE_APP_IMAGE}
    command: ["sh", "-c", "while true; do sleep 3600; done"]
    depends_on:
      - db
    volumes:
      - uploads:/uploads
volumes:
  pgdata:
  uploads:
"#;

/// A project for the fake engine (no engine runs anything).
const SIMPLE: &str = "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: hunter2-secret\n    volumes:\n      - pgdata:/var/lib/postgresql/data\n  app:\n    image: busybox\n    depends_on: [db]\nvolumes:\n  pgdata:\n";

/// The lines of `stderr` up to and including the first that contains
/// `last` (what a gated command shows before it would ask).
fn until<'a>(stderr: &'a str, last: &str) -> &'a str {
    match stderr.find(last) {
        Some(i) => {
            let end = stderr[i..]
                .find('\n')
                .map(|n| i + n + 1)
                .unwrap_or(stderr.len());
            &stderr[..end]
        }
        None => panic!("{last:?} not in:\n{stderr}"),
    }
}

e2e!(human_output_of_a_running_stack, |engine| {
    let p = Fixture::new(engine).compose(STACK_NO_HEALTH);

    // -q prints only errors: nothing at all on success.
    let out = p.budgie().args(["-q", "start"]).run().success();
    assert_eq!(out.stderr, "", "start -q printed something");
    p.sql("create table ledger(id int primary key, amount numeric); insert into ledger values (1, 2.5)");
    let out = p.budgie().args(["backup", "--quiet"]).run().success();
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));

    let out = p.budgie().arg("status").run().success();
    assert_eq!(out.stdout, "", "human output goes to stderr");
    snapshot(&p, "status", &out.stderr);
    let out = p.budgie().arg("volumes").run().success();
    snapshot(&p, "volumes", &out.stderr);
    let out = p.budgie().args(["backup", "list"]).run().success();
    snapshot(&p, "backup_list", &out.stderr);
    let out = p.budgie().arg("doctor").run().success();
    snapshot(&p, "doctor_healthy", &out.stderr);

    // The gate: what it shows, then the refusal without a terminal.
    let out = p.budgie().arg("nuke").run().code(3);
    snapshot(&p, "gate_nuke_refused", &out.stderr);
    let out = p
        .budgie()
        .args(["restore", "--latest", "--yes"])
        .run()
        .success();
    snapshot(
        &p,
        "gate_restore",
        until(&out.stderr, "--yes given: not asking."),
    );
    let out = p.budgie().args(["clean", "--yes"]).run().success();
    snapshot(
        &p,
        "gate_clean",
        until(&out.stderr, "--yes given: not asking."),
    );
    // What it says after the deletion: where the data is.
    assert!(
        out.stderr
            .contains("To bring it back: budgie start && budgie restore"),
        "{}",
        out.stderr
    );
});

#[test]
fn doctor_with_the_engine_stopped() {
    let p = Fixture::bare()
        .compose(SIMPLE)
        .env("COMPOSE_PROJECT_NAME", "shop");
    let fake = FakeEngine::new(true);
    let out = p
        .budgie()
        .env("PATH", fake.path())
        .arg("doctor")
        .run()
        .code(1);
    snapshot(&p, "doctor_engine_stopped", &out.stderr);
}

/// SGR color sequences (`ESC [ ... m`) in `s`.
fn has_color(s: &str) -> bool {
    let mut rest = s;
    while let Some(i) = rest.find("\u{1b}[") {
        let tail = &rest[i + 2..];
        let code: String = tail
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ';')
            .collect();
        if tail[code.len()..].starts_with('m') {
            return true;
        }
        rest = tail;
    }
    false
}

/// A frame of indicatif's default spinner (braille patterns).
fn has_spinner(s: &str) -> bool {
    s.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c))
}

/// A project whose fake compose tool takes a while to `down`, so that a
/// spinner has time to turn.
fn slow_project() -> (Fixture, FakeEngine) {
    let p = Fixture::bare()
        .compose(SIMPLE)
        .env("COMPOSE_PROJECT_NAME", "shop");
    let fake = FakeEngine::new(false);
    for tool in ["podman-compose", "docker-compose"] {
        let path = fake.bin.path().join(tool);
        let script = std::fs::read_to_string(&path).unwrap();
        let script = script.replacen(
            "case \"$1\" in",
            "for a in \"$@\"; do [ \"$a\" = down ] && sleep 1.5; done\ncase \"$1\" in",
            1,
        );
        std::fs::write(&path, script).unwrap();
    }
    (p, fake)
}

/// Runs budgie in a real terminal and returns all it printed and its exit.
fn in_pty(b: Budgie) -> (String, i32) {
    let mut s = b.pty(60_000);
    // rexpect hands each byte over as one char: make it UTF-8 again.
    let bytes: Vec<u8> = s
        .exp_eof()
        .expect("budgie ends")
        .chars()
        .map(|c| c as u32 as u8)
        .collect();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let code = match s.process().wait().expect("exit status") {
        rexpect::process::WaitStatus::Exited(_, c) => c,
        other => panic!("budgie did not exit normally: {other:?}"),
    };
    (text, code)
}

#[test]
fn colors_and_spinners_only_on_a_terminal() {
    let (p, fake) = slow_project();
    let stop = || p.budgie().env("PATH", fake.path()).arg("stop");

    // A terminal: colored symbols and a spinner while compose works.
    let (text, code) = in_pty(stop().env_remove("NO_COLOR"));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("✓ ") || has_color(&text), "{text:?}");
    assert!(has_color(&text), "no colors on a terminal: {text:?}");
    assert!(has_spinner(&text), "no spinner on a terminal: {text:?}");

    // NO_COLOR (any non-empty value) and --no-color: a spinner, no colors.
    for b in [
        stop().env("NO_COLOR", "1"),
        stop().env_remove("NO_COLOR").arg("--no-color"),
    ] {
        let (text, code) = in_pty(b);
        assert_eq!(code, 0, "{text}");
        assert!(!has_color(&text), "colors despite NO_COLOR: {text:?}");
        assert!(text.contains("✓ Stop"), "{text:?}");
        assert!(has_spinner(&text), "{text:?}");
    }

    // -q at a terminal: no spinner, nothing at all.
    let (text, code) = in_pty(stop().env_remove("NO_COLOR").arg("-q"));
    assert_eq!(code, 0, "{text}");
    assert_eq!(text.trim(), "", "-q printed: {text:?}");

    // Piped: no colors, no spinner, no escape sequences at all.
    let out = stop().env_remove("NO_COLOR").run().success();
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
    assert!(!has_spinner(&out.stderr), "{:?}", out.stderr);
    snapshot(&p, "output_stop_piped", &out.stderr);
}

#[test]
fn quiet_prints_errors_and_their_hints_only() {
    let (p, fake) = slow_project();
    let q = || p.budgie().env("PATH", fake.path()).arg("-q");
    for args in [
        vec!["stop"],
        vec!["status"],
        vec!["volumes"],
        vec!["backup", "list"],
    ] {
        let out = q().args(&args).run().success();
        assert_eq!(out.stderr, "", "budgie -q {args:?} printed something");
    }
    // An error still shows, with its hint, and nothing else.
    let out = q().args(["restore", "--latest"]).run().code(1);
    snapshot(&p, "output_quiet_restore_latest", &out.stderr);
}

#[test]
fn errors_end_with_the_next_command_to_run() {
    let (p, fake) = slow_project();
    let run = |args: &[&str]| p.budgie().env("PATH", fake.path()).args(args).run();

    // An unknown service names the services there are.
    let out = run(&["stop", "nope"]).code(2);
    snapshot(&p, "output_error_unknown_service", &out.stderr);
    // No backups: how to make one.
    let out = run(&["restore"]).code(2);
    snapshot(&p, "output_error_no_backup", &out.stderr);
    // A volume that is not there: where to look.
    let out = run(&["volumes", "rm", "pgdata", "--yes"]).code(1);
    snapshot(&p, "output_error_no_such_volume", &out.stderr);
    // The engine not running: how to start it.
    let down = FakeEngine::new(true);
    let out = p
        .budgie()
        .env("PATH", down.path())
        .arg("status")
        .run()
        .code(1);
    snapshot(&p, "output_error_engine_not_running", &out.stderr);
}

e2e!(
    a_held_lock_names_the_pid_and_a_refusal_names_yes,
    |engine| {
        let p = Fixture::new(engine).compose(STACK_NO_HEALTH);
        p.budgie().args(["-q", "start"]).run().success();
        let out = p.budgie().arg("clean").run().code(3);
        assert!(
            out.stderr
                .contains("hint: run it at a terminal, or pass --yes"),
            "{}",
            out.stderr
        );

        // -q at a terminal still shows what the answer would delete.
        let mut s = p.budgie().args(["-q", "clean"]).pty(120_000);
        s.exp_string("This deletes 2 volumes of project").unwrap();
        s.exp_string(&format!("{}_pgdata (", p.name)).unwrap();
        s.exp_string("Type the project name").unwrap();
        let out = p
            .budgie()
            .args(["backup", "--lock-timeout", "1"])
            .run()
            .code(1);
        assert!(
            out.stderr.contains("waiting for another budgie (pid ")
                && out.stderr.contains("is still working on project")
                && out
                    .stderr
                    .contains("hint: wait for it, or raise --lock-timeout"),
            "{}",
            out.stderr
        );
        s.send_line("no").unwrap();
        let said = s.exp_eof().unwrap();
        assert!(
            said.contains("not confirmed: nothing was deleted")
                && said.contains(&format!("type {} exactly, or pass --yes", p.name)),
            "{said}"
        );
    }
);

/// Issue 11, item 7: `budgie ... | head -1` never panics: every command
/// that writes to stdout ends quietly when the reader has gone.
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    use std::process::Stdio;
    let p = Fixture::bare()
        .compose(SIMPLE)
        .env("COMPOSE_PROJECT_NAME", "shop");
    let fake = FakeEngine::new(false);
    for args in [
        &["config", "--json"][..],
        &["config"],
        &["volumes", "--json"],
        &["status", "--json"],
        &["backup", "list", "--json"],
        &["doctor", "--json"],
        &["completions", "bash"],
        &["man"],
        &["--help"],
        &["--dry-run", "clean"],
    ] {
        let mut child = p
            .budgie()
            .env("PATH", fake.path())
            .env("BUDGIE_ENGINE", "podman")
            .args(args)
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before budgie writes a byte.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && out.status.code() != Some(101),
            "budgie {args:?} panicked on a closed pipe ({:?}):\n{stderr}",
            out.status
        );
        assert!(
            out.status.code().is_some(),
            "budgie {args:?} was killed ({:?})",
            out.status
        );
    }
}
