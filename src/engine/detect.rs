//! Which engine and which compose tool budgie drives: the engine named by
//! `--engine`/`BUDGIE_ENGINE`, else implied by `BUDGIE_COMPOSE`, else the
//! first of podman and docker on PATH; and its compose tool, found by
//! asking each candidate for its version. The compose tools' command lines
//! differ in a few places, so the flavor found (podman-compose,
//! docker-compose 1, docker compose 2) is kept with it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::cmd::Cmd;
use crate::error::{Error, Result};

/// The two engines budgie drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Podman,
    Docker,
}

impl EngineKind {
    pub fn program(self) -> &'static str {
        match self {
            EngineKind::Podman => "podman",
            EngineKind::Docker => "docker",
        }
    }

    /// The variable the engine's CLI (and every compose tool) reads its
    /// endpoint from.
    pub fn host_var(self) -> &'static str {
        match self {
            EngineKind::Podman => "CONTAINER_HOST",
            EngineKind::Docker => "DOCKER_HOST",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "podman" => Some(EngineKind::Podman),
            "docker" => Some(EngineKind::Docker),
            _ => None,
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program())
    }
}

/// Which compose implementation a compose command is: their command lines
/// differ in a few places (removing single services, for one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComposeFlavor {
    /// podman-compose (Python), also behind `podman compose`.
    PodmanCompose,
    /// docker-compose 1.x (Python).
    DockerComposeV1,
    /// docker compose 2.x (Go), as plugin or standalone binary.
    DockerComposeV2,
}

/// The compose tool: its argv prefix and its flavor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compose {
    pub argv: Vec<String>,
    pub flavor: ComposeFlavor,
    /// What its `version` said (the line naming the compose tool).
    pub version: String,
}

/// Looks a program up on PATH (as `PATH` in `env` says), without running it.
pub fn which(program: &str, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_executable(&p).then_some(p);
    }
    let path = env
        .get("PATH")
        .map(String::as_str)
        .unwrap_or("/usr/bin:/bin");
    std::env::split_paths(&OsString::from(path))
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `BUDGIE_COMPOSE` as an argv, when it names a command.
pub(super) fn forced_compose(forced_compose: Option<&str>) -> Option<Vec<String>> {
    forced_compose
        .map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
}

/// Chooses the engine: `choice` (`--engine`/`BUDGIE_ENGINE`), else the
/// first of podman, docker on PATH — unless the forced compose command
/// (`BUDGIE_COMPOSE`) implies one. Runs nothing.
pub(super) fn choose_engine(
    choice: Option<EngineKind>,
    forced: Option<&[String]>,
    env: &BTreeMap<String, String>,
) -> Result<EngineKind> {
    let implied = forced.and_then(|argv| {
        let first = Path::new(&argv[0])
            .file_name()?
            .to_string_lossy()
            .into_owned();
        if first.starts_with("podman") {
            Some(EngineKind::Podman)
        } else if first.starts_with("docker") {
            Some(EngineKind::Docker)
        } else {
            None
        }
    });
    let kind = match choice.or(implied) {
        Some(k) => {
            if which(k.program(), env).is_none() {
                return Err(Error::new(format!(
                    "{k} is not installed (not found on PATH)"
                ))
                .hint(match k {
                    EngineKind::Podman => {
                        "install podman and podman-compose, or choose docker with --engine docker"
                    }
                    EngineKind::Docker => {
                        "install docker and docker compose, or choose podman with --engine podman"
                    }
                }));
            }
            k
        }
        None => [EngineKind::Podman, EngineKind::Docker]
            .into_iter()
            .find(|k| which(k.program(), env).is_some())
            .ok_or_else(|| {
                Error::new("no container engine found: neither podman nor docker is on PATH")
                    .hint("install podman (with podman-compose) or docker (with docker compose)")
            })?,
    };
    Ok(kind)
}

/// Finds the compose tool: the forced command (`BUDGIE_COMPOSE`), else for
/// podman `podman compose` then `podman-compose`, for docker `docker
/// compose` then `docker-compose`. Asks each candidate for its version
/// (read-only).
pub(super) fn find_compose(
    kind: EngineKind,
    program: &str,
    forced: Option<&[String]>,
) -> Result<Compose> {
    if let Some(argv) = forced {
        let (flavor, version) = probe_compose(argv).ok_or_else(|| {
            Error::new(format!(
                "BUDGIE_COMPOSE={} does not answer `{} version`",
                argv.join(" "),
                argv.join(" ")
            ))
        })?;
        return Ok(Compose {
            argv: argv.to_vec(),
            flavor,
            version,
        });
    }
    let candidates: Vec<Vec<String>> = match kind {
        EngineKind::Podman => vec![
            vec![program.to_string(), "compose".into()],
            vec!["podman-compose".into()],
        ],
        EngineKind::Docker => vec![
            vec![program.to_string(), "compose".into()],
            vec!["docker-compose".into()],
        ],
    };
    for argv in &candidates {
        if let Some((flavor, version)) = probe_compose(argv) {
            return Ok(Compose {
                argv: argv.clone(),
                flavor,
                version,
            });
        }
    }
    let tried: Vec<String> = candidates.iter().map(|c| c.join(" ")).collect();
    Err(Error::new(format!(
        "no compose tool for {} found (tried: {})",
        kind,
        tried.join(", ")
    ))
    .hint(match kind {
        EngineKind::Podman => {
            "install podman-compose (pip install podman-compose), or set BUDGIE_COMPOSE"
        }
        EngineKind::Docker => "install docker compose or docker-compose, or set BUDGIE_COMPOSE",
    }))
}

/// Asks a compose command for its version; its flavor and version line.
fn probe_compose(argv: &[String]) -> Option<(ComposeFlavor, String)> {
    let mut full = argv.to_vec();
    full.push("version".into());
    let out = Cmd::new(full).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((flavor_from_version(argv, &text), version_line(&text)))
}

/// The line of a compose tool's `version` output that names it
/// (`podman compose` prints a line about its provider first, podman-compose
/// adds podman's own version after it).
pub fn version_line(text: &str) -> String {
    let lines = || text.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find(|l| {
            let lower = l.to_ascii_lowercase();
            lower.contains("compose") && lower.contains("version") && !l.starts_with(">>>>")
        })
        .or_else(|| lines().next())
        .unwrap_or("")
        .to_string()
}

/// Tells the compose flavor from its argv and what `version` printed.
pub fn flavor_from_version(argv: &[String], text: &str) -> ComposeFlavor {
    let lower = text.to_ascii_lowercase();
    let name = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if lower.contains("podman-compose") || name == "podman-compose" {
        ComposeFlavor::PodmanCompose
    } else if lower.contains("docker-compose version 1.") {
        ComposeFlavor::DockerComposeV1
    } else {
        ComposeFlavor::DockerComposeV2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_flavors_apart() {
        let pc = vec!["podman-compose".to_string()];
        assert_eq!(
            flavor_from_version(&pc, "podman-compose version 1.6.0\npodman version 4.3.1"),
            ComposeFlavor::PodmanCompose
        );
        let v1 = vec!["docker-compose".to_string()];
        assert_eq!(
            flavor_from_version(&v1, "docker-compose version 1.29.2, build unknown"),
            ComposeFlavor::DockerComposeV1
        );
        assert_eq!(
            flavor_from_version(&v1, "Docker Compose version v2.24.0"),
            ComposeFlavor::DockerComposeV2
        );
        let pcw = vec!["podman".to_string(), "compose".to_string()];
        assert_eq!(
            flavor_from_version(
                &pcw,
                ">>>> Executing external compose provider \"/usr/bin/podman-compose\".\npodman-compose version 1.2.0"
            ),
            ComposeFlavor::PodmanCompose
        );
    }

    #[test]
    fn names_the_compose_tool_version() {
        assert_eq!(
            version_line("podman-compose version 1.6.0\npodman version 4.3.1\n"),
            "podman-compose version 1.6.0"
        );
        assert_eq!(
            version_line(
                ">>>> Executing external compose provider \"/usr/bin/podman-compose\".\npodman-compose version 1.2.0"
            ),
            "podman-compose version 1.2.0"
        );
        assert_eq!(
            version_line("docker-compose version 1.29.2, build unknown\ndocker-py version: 5.0.3"),
            "docker-compose version 1.29.2, build unknown"
        );
        assert_eq!(version_line("v2.24.0\n"), "v2.24.0");
    }
}
