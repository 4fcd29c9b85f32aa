//! Running a program: its argv, working directory and the secrets it
//! needs, run through duct (never a shell), and the error a user reads when
//! it cannot start or fails — the program's own last words, or "installed
//! but not running" when an engine's daemon is down.
//!
//! Secrets never go on a command line: a command carries the *names* of
//! variables to pass (`-e PGPASSWORD`) and their values travel in the child's
//! environment only. Shown to the user (`--dry-run`, errors), a command is
//! quoted so it can be pasted into a shell.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::compose::Secret;
use crate::error::{Error, Result};

/// A command to run: argv, working directory, environment additions, and
/// whether the user's terminal is handed to it.
#[derive(Clone, PartialEq, Eq)]
pub struct Cmd {
    pub argv: Vec<String>,
    pub dir: Option<PathBuf>,
    /// Values for variables the argv names (`-e NAME`): never on the command line.
    pub env: Vec<(String, Secret)>,
    /// Variables that are no secret and change what the command does (the
    /// engine's endpoint, `DOCKER_HOST=...`): shown before the command.
    pub shown_env: Vec<(String, String)>,
    /// Variables removed from the child's environment.
    pub unset: Vec<String>,
    /// How the call really reaches the endpoint shown in `shown_env` (the
    /// local end of budgie's SSH connection): set last, not shown.
    pub route: Vec<(String, String)>,
}

impl Cmd {
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            argv: argv.into_iter().map(Into::into).collect(),
            dir: None,
            env: Vec::new(),
            shown_env: Vec::new(),
            unset: Vec::new(),
            route: Vec::new(),
        }
    }

    /// The command sent to an engine endpoint: `set` added to its
    /// environment (and shown), `unset` removed.
    pub fn endpoint(mut self, set: Vec<(String, String)>, unset: Vec<String>) -> Self {
        self.shown_env.extend(set);
        self.unset.extend(unset);
        self
    }

    /// `program` followed by `args`: an engine call.
    pub fn of<I, S>(program: &str, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut argv = vec![program.to_string()];
        argv.extend(args.into_iter().map(Into::into));
        Cmd::new(argv)
    }

    pub fn dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// The duct expression for this command (argv only, no shell).
    pub fn expression(&self) -> duct::Expression {
        let mut e = duct::cmd(&self.argv[0], &self.argv[1..]);
        if let Some(d) = &self.dir {
            e = e.dir(d);
        }
        // duct applies the innermost `env` last: the first call wins. The
        // route (the SSH connection's local socket) must win over the
        // endpoint the user named.
        for k in &self.unset {
            e = e.env_remove(k);
        }
        for (k, v) in &self.route {
            e = e.env(k, v);
        }
        for (k, v) in &self.env {
            e = e.env(k, v.expose());
        }
        for (k, v) in &self.shown_env {
            e = e.env(k, v);
        }
        e
    }

    /// Runs it, capturing stdout and stderr, and fails with the engine's own
    /// message when it exits non-zero.
    pub fn read(&self) -> Result<String> {
        let out = self.output()?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(self.failure(&out))
        }
    }

    /// Runs it with `input` on its stdin, capturing stdout and stderr, and
    /// fails with the program's own message when it exits non-zero.
    pub fn read_input(&self, input: Vec<u8>) -> Result<String> {
        let out = self
            .expression()
            .stdin_bytes(input)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| self.spawn_error(e))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(self.failure(&out))
        }
    }

    /// Starts it with its stdin a pipe this side writes (`prepare` sees
    /// the pipe's reading end first), capturing stdout and stderr; the
    /// handle's `wait` gives the output, whatever the exit status.
    pub fn start_fed(
        &self,
        prepare: impl FnOnce(&std::io::PipeReader),
    ) -> Result<(duct::Handle, std::io::PipeWriter)> {
        let (reader, writer) = std::io::pipe()
            .map_err(|e| Error::new(format!("cannot create a pipe for {}: {e}", self.argv[0])))?;
        prepare(&reader);
        let handle = self
            .expression()
            .stdin_file(reader)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .start()
            .map_err(|e| self.spawn_error(e))?;
        Ok((handle, writer))
    }

    /// Runs it and returns the raw output, whatever the exit status.
    pub fn output(&self) -> Result<Output> {
        self.expression()
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| self.spawn_error(e))
    }

    /// The error for a command that could not be started.
    pub fn spawn_error(&self, e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::new(format!(
                "{} is not installed (not found on PATH)",
                self.argv[0]
            ))
        } else {
            Error::new(format!("could not run {}: {e}", self.argv[0]))
        }
    }

    /// The error for a command that ran and failed, with the engine's words.
    pub fn failure(&self, out: &Output) -> Error {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said = stderr.trim();
        let at = self
            .shown_env
            .iter()
            .find(|(k, _)| k == "DOCKER_HOST" || k == "CONTAINER_HOST")
            .map(|(_, v)| v.as_str());
        if let Some(e) = daemon_down(&self.argv[0], said, at) {
            return e;
        }
        let status = match out.status.code() {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal".to_string(),
        };
        let last: Vec<&str> = said.lines().rev().take(8).collect();
        let tail: Vec<&str> = last.into_iter().rev().collect();
        let mut msg = format!("`{}` failed ({status})", self);
        let psql = self.argv.iter().any(|a| a == "psql");
        // podman 4.3's exec client may exit before it has passed on the
        // process's last stderr: psql's `ERROR:` line is then missing or
        // cut (`psql:<stdin>:`), and its exit status 3 says the rest.
        if psql && out.status.code() == Some(3) && !said.contains("ERROR") {
            msg.push_str(if tail.is_empty() {
                ": psql stopped at an SQL error in its input (the engine passed on no message)"
            } else {
                ": psql stopped at an SQL error in its input (the engine passed on only part of its message)"
            });
        }
        // `exec` passes on the exit status of the process in the
        // container; 137 is SIGKILL, which a kill or stop of the container
        // (or the kernel's OOM killer) sends.
        let exec = self.argv.get(1).is_some_and(|a| a == "exec");
        if tail.is_empty() && exec && out.status.code() == Some(137) {
            msg.push_str(
                ": it was killed — the container was stopped or killed (or ran out of memory) while it ran",
            );
        }
        if !tail.is_empty() {
            msg.push_str(":\n  ");
            msg.push_str(&tail.join("\n  "));
        }
        Error::new(msg)
    }
}

/// A docker client that cannot reach its daemon says so in a few known ways.
/// `at`: the endpoint the call went to, when not this machine's default.
fn daemon_down(program: &str, stderr: &str, at: Option<&str>) -> Option<Error> {
    let known = [
        "Cannot connect to the Docker daemon",
        "Is the docker daemon running",
        "error during connect",
        "Cannot connect to Podman",
        "unable to connect to Podman socket",
    ];
    if known.iter().any(|k| stderr.contains(k)) {
        let first = stderr.lines().next().unwrap_or_default();
        let engine = if program.contains("podman") {
            "podman"
        } else {
            "docker"
        };
        if let Some(at) = at {
            return Some(
                Error::new(format!(
                    "the {engine} engine at {at} does not answer: {}",
                    first.trim()
                ))
                .hint("is it running there, and can this machine reach it? `budgie doctor` shows the endpoint and where it was chosen"),
            );
        }
        let hint = if engine == "podman" {
            "start the podman service (systemctl --user start podman.socket), or choose another engine with --engine docker"
        } else {
            "start it (sudo systemctl start docker, or run dockerd), or choose another engine with --engine podman"
        };
        return Some(
            Error::new(format!(
                "{engine} is installed but not running: {}",
                first.trim()
            ))
            .hint(hint),
        );
    }
    None
}

impl fmt::Display for Cmd {
    /// The argv as a copy-pasteable command line (for `--dry-run`, errors).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.shown_env {
            write!(f, "{k}={} ", shell_quote(v))?;
        }
        let quoted: Vec<String> = self.argv.iter().map(|a| shell_quote(a)).collect();
        f.write_str(&quoted.join(" "))
    }
}

impl fmt::Debug for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cmd({self})")
    }
}

/// Quotes an argument for display so a user can paste it into a POSIX shell.
/// Display only: budgie itself never runs anything through a shell.
pub fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c));
    if safe {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exec_killed_with_its_container_says_so() {
        use std::os::unix::process::ExitStatusExt;
        let out = |code: i32| Output {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        let exec = Cmd::new(["podman", "exec", "c1", "pg_dump"]);
        let e = exec.failure(&out(137));
        assert!(e.message.contains("exit status 137"), "{}", e.message);
        assert!(
            e.message.contains("the container was stopped or killed"),
            "{}",
            e.message
        );
        assert!(!exec.failure(&out(1)).message.contains("killed"));
        let rm = Cmd::new(["podman", "volume", "rm", "v"]);
        assert!(
            !rm.failure(&out(137))
                .message
                .contains("container was stopped")
        );
    }

    #[test]
    fn psql_stopped_by_an_sql_error_is_said_when_its_message_is_lost_or_cut() {
        use std::os::unix::process::ExitStatusExt;
        let out = |stderr: &str| Output {
            status: std::process::ExitStatus::from_raw(3 << 8),
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
        };
        let psql = Cmd::new(["podman", "exec", "-i", "c1", "psql", "-f", "-"]);
        let none = psql.failure(&out("")).message;
        assert!(none.contains("no message"), "{none}");
        let cut = psql.failure(&out("psql:<stdin>:")).message;
        assert!(
            cut.contains("psql stopped at an SQL error") && cut.contains("only part"),
            "{cut}"
        );
        let whole = psql
            .failure(&out(
                "psql:<stdin>:9: ERROR:  relation \"x\" does not exist",
            ))
            .message;
        assert!(!whole.contains("psql stopped"), "{whole}");
        assert!(whole.contains("does not exist"), "{whole}");
    }

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("up"), "up");
        assert_eq!(
            shell_quote("label=com.docker.compose.project=x"),
            "label=com.docker.compose.project=x"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn recognises_a_stopped_daemon() {
        let said = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?";
        let e = daemon_down("docker", said, None).unwrap();
        assert!(
            e.message.contains("docker is installed but not running"),
            "{}",
            e.message
        );
        assert!(daemon_down("docker", "no such container", None).is_none());
        // An engine elsewhere is named, not called "not running" here.
        let e = daemon_down("podman", "Cannot connect to Podman.", Some("ssh://d@h")).unwrap();
        assert!(
            e.message
                .starts_with("the podman engine at ssh://d@h does not answer"),
            "{}",
            e.message
        );
    }

    #[test]
    fn an_endpoint_is_shown_before_the_command_and_set_for_it() {
        let c = Cmd::of("docker", ["ps"]).endpoint(
            vec![("DOCKER_HOST".into(), "ssh://d@h".into())],
            vec!["DOCKER_CONTEXT".into()],
        );
        assert_eq!(c.to_string(), "DOCKER_HOST=ssh://d@h docker ps");
        assert_eq!(c.unset, ["DOCKER_CONTEXT"]);
    }
}
