//! `budgie completions` and `budgie man` as a user installs them: in a
//! directory with no compose project, each script is loaded by the real
//! shell and the man page rendered by `man`. The tests that run a shell or
//! `man` need them installed (`scripts/setup-engines` does); under
//! `BUDGIE_E2E=skip` they are compiled as ignored.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::*;

const SHELLS: [&str; 3] = ["bash", "zsh", "fish"];

/// The commands `budgie --help` lists (without `help`): every one of them
/// must be completed and have a man page.
fn commands() -> Vec<String> {
    let help = Fixture::bare()
        .budgie()
        .arg("--help")
        .run()
        .success()
        .stdout;
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// Runs `program` in `dir` with the budgie under test first on PATH and no
/// user configuration; a program that is not installed fails the test.
fn run_tool(program: &str, args: &[&str], dir: &Path, stdin: Option<&Path>) -> Output {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_budgie"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env("PATH", path)
        .env("HOME", dir)
        .env("LC_ALL", "C")
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .env_remove("BASH_ENV")
        .env_remove("ENV")
        .env_remove("ZDOTDIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match stdin {
        Some(file) => cmd.stdin(std::fs::File::open(file).unwrap()),
        None => cmd.stdin(Stdio::null()),
    };
    match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            require(program, Some(format!("it could not run: {e}")));
            unreachable!()
        }
    }
}

/// `run_tool` that must succeed; returns its stdout.
fn tool_ok(program: &str, args: &[&str], dir: &Path) -> String {
    let out = run_tool(program, args, dir, None);
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({:?})\n  stdout:\n{}\n  stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `budgie completions SHELL` in a directory without a project, saved
/// there as `budgie.SHELL`.
fn script(f: &Fixture, shell: &str) -> String {
    let out = f
        .budgie()
        .args(["completions", shell])
        .run()
        .success()
        .stdout_has("budgie");
    std::fs::write(f.path().join(format!("budgie.{shell}")), &out.stdout).unwrap();
    out.stdout
}

#[test]
#[cfg_attr(budgie_e2e_skip, ignore = "BUDGIE_E2E=skip: runs a real shell or man")]
fn bash_completion_loads_and_completes_in_a_directory_without_a_project() {
    let f = Fixture::bare();
    script(&f, "bash");
    let dir = f.path();
    tool_ok("bash", &["-n", "budgie.bash"], dir);
    let loaded = tool_ok(
        "bash",
        &[
            "-c",
            "source <(budgie completions bash); complete -p budgie",
        ],
        dir,
    );
    assert!(
        loaded.starts_with("complete ")
            && loaded.contains("-F _budgie")
            && loaded.contains(" budgie"),
        "no completion registered for budgie: {loaded:?}"
    );
    // What <Tab> offers: the function the script registered, called as bash would.
    let tab = |line: &[&str]| {
        let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
        let n = line.len() - 1;
        let body = format!(
            "source <(budgie completions bash); COMP_WORDS=({}); COMP_CWORD={n}; _budgie budgie '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words.join(" "),
            line[n],
            line[n - 1]
        );
        tool_ok("bash", &["-c", &body], dir)
    };
    assert_eq!(tab(&["budgie", "resto"]).trim(), "restore");
    assert_eq!(tab(&["budgie", "restore", "--la"]).trim(), "--latest");
    let shells = tab(&["budgie", "completions", ""]);
    for shell in SHELLS {
        assert!(
            shells.lines().any(|l| l == shell),
            "{shell} not offered: {shells}"
        );
    }
}

#[test]
#[cfg_attr(budgie_e2e_skip, ignore = "BUDGIE_E2E=skip: runs a real shell or man")]
fn zsh_completion_is_valid_and_loads_in_a_directory_without_a_project() {
    let f = Fixture::bare();
    script(&f, "zsh");
    let dir = f.path();
    tool_ok("zsh", &["-n", "budgie.zsh"], dir);
    let loaded = tool_ok(
        "zsh",
        &[
            "-fc",
            "autoload -Uz compinit && compinit -u -D && source <(budgie completions zsh) && print -r -- $_comps[budgie]",
        ],
        dir,
    );
    assert_eq!(loaded.trim(), "_budgie", "zsh did not register _budgie");
}

#[test]
#[cfg_attr(budgie_e2e_skip, ignore = "BUDGIE_E2E=skip: runs a real shell or man")]
fn fish_completion_is_valid_and_completes_in_a_directory_without_a_project() {
    let f = Fixture::bare();
    script(&f, "fish");
    let dir = f.path();
    tool_ok("fish", &["--no-config", "--no-execute", "budgie.fish"], dir);
    let offered = tool_ok(
        "fish",
        &[
            "--no-config",
            "-c",
            "budgie completions fish | source; complete -C 'budgie resto'",
        ],
        dir,
    );
    assert!(
        offered.starts_with("restore\tREPLACES DATA"),
        "fish offers: {offered:?}"
    );
}

#[test]
fn every_script_names_budgie_and_all_its_commands() {
    let f = Fixture::bare();
    let commands = commands();
    assert!(commands.len() > 10, "commands from --help: {commands:?}");
    for shell in SHELLS {
        let text = script(&f, shell);
        for cmd in &commands {
            assert!(text.contains(cmd.as_str()), "{shell} script lacks {cmd}");
        }
        for option in ["dry-run", "no-backup", "latest", "keep-previous"] {
            assert!(text.contains(option), "{shell} script lacks --{option}");
        }
    }
}

#[test]
#[cfg_attr(budgie_e2e_skip, ignore = "BUDGIE_E2E=skip: runs a real shell or man")]
fn after_logs_dash_f_completes_as_follow_and_elsewhere_as_file() {
    // budgie reads `logs -f` as --follow (as `docker compose logs -f`),
    // and the completions describe it that way.
    let f = Fixture::bare();
    let fish = script(&f, "fish");
    let line = |sub: &str, short: &str| {
        fish.lines()
            .find(|l| l.contains(&format!("using_subcommand {sub}\"")) && l.contains(short))
            .unwrap_or_else(|| panic!("no `{short}` for {sub} in:\n{fish}"))
            .to_string()
    };
    assert!(line("logs", "-s f ").contains("-l follow"));
    assert!(line("status", "-s f ").contains("-l file"));
    let offered = tool_ok(
        "fish",
        &[
            "--no-config",
            "-c",
            "budgie completions fish | source; complete -C 'budgie logs -'",
        ],
        f.path(),
    );
    assert!(
        offered
            .lines()
            .any(|l| l.starts_with("-f\tFollow the logs")),
        "fish offers after `logs`: {offered}"
    );
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let f = Fixture::bare();
    let out = f
        .budgie()
        .args(["completions", "tcsh"])
        .run()
        .code(2)
        .stderr_has("tcsh")
        .stderr_has("bash, zsh, fish");
    assert!(out.stdout.is_empty(), "stdout: {}", out.stdout);
    f.budgie().arg("completions").run().code(2);
}

#[test]
#[cfg_attr(budgie_e2e_skip, ignore = "BUDGIE_E2E=skip: runs a real shell or man")]
fn the_man_page_renders_in_a_directory_without_a_project() {
    let f = Fixture::bare();
    let page = f.budgie().arg("man").run().success().stdout;
    let start = page
        .lines()
        .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"))
        .unwrap_or_default();
    assert!(start.starts_with(".TH budgie 1"), "first macro: {start:?}");
    for text in ["restore", "clean", r"\-\-dry\-run", ".SH \"EXIT STATUS\""] {
        assert!(page.contains(text), "man page lacks {text:?}");
    }
    let file = f.path().join("budgie.1");
    std::fs::write(&file, &page).unwrap();

    let out = run_tool("man", &["-l", "-"], f.path(), Some(&file));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "rendering failed ({:?}): {stderr}",
        out.status
    );
    for text in [
        "budgie-restore(1)",
        "--dry-run",
        "EXIT STATUS",
        "interrupted",
    ] {
        assert!(
            stdout.contains(text),
            "rendered page lacks {text:?}:\n{stdout}"
        );
    }
}

#[test]
fn the_man_page_has_a_page_for_every_command() {
    let page = Fixture::bare().budgie().arg("man").run().success().stdout;
    let titles: Vec<&str> = page
        .lines()
        .filter_map(|l| l.strip_prefix(".TH "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for cmd in commands() {
        let title = format!("budgie-{cmd}");
        assert!(
            titles.contains(&title.as_str()),
            "no page {title}: {titles:?}"
        );
    }
    for sub in ["budgie-backup-verify", "budgie-volumes-rm"] {
        assert!(titles.contains(&sub), "no page {sub}: {titles:?}");
    }
    // A command's page shows its own options, and `logs -f` as --follow.
    let logs = page
        .split(".TH ")
        .find(|p| p.starts_with("budgie-logs "))
        .unwrap();
    assert!(logs.contains(r"\fB\-f\fR, \fB\-\-follow\fR"), "{logs}");
    assert_eq!(titles[0], "budgie", "budgie(1) comes first");
}
