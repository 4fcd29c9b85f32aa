//! Where the engine is: this machine's own engine, or one reached through a
//! socket, TCP or SSH — chosen once, the way the engine's own CLI chooses
//! it, and then passed to every engine and compose-tool call.
//!
//! The compose tools do not all follow the engines' rules: docker-compose 1
//! ignores `DOCKER_CONTEXT` and cannot read the CLI's contexts, and
//! podman-compose ignores podman's `--remote`/`--connection`. What every one
//! of them honors is the plain variables, `DOCKER_HOST` (with
//! `DOCKER_CERT_PATH`/`DOCKER_TLS_VERIFY`) and `CONTAINER_HOST` (with
//! `CONTAINER_SSHKEY`). So a context or connection is resolved here to its
//! URL once, and every call gets the same variables, with the ones that
//! could point elsewhere (`DOCKER_CONTEXT`, `CONTAINER_CONNECTION`) removed.
//!
//! The order is the engines' own:
//! - docker: `--engine-host`, `--context`, `DOCKER_HOST`, `DOCKER_CONTEXT`,
//!   the current context of the CLI's config (`docker context use`);
//! - podman: `--engine-host`, `--connection`, `CONTAINER_HOST`,
//!   `CONTAINER_CONNECTION`; else the local engine (podman on Linux uses a
//!   default connection only with `--remote`, and budgie follows it).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::cmd::Cmd;
use super::detect::EngineKind;
use crate::error::{Error, Result};

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct Choice {
    /// `--engine-host URL`.
    pub host: Option<String>,
    /// `--context NAME` (docker).
    pub context: Option<String>,
    /// `--connection NAME` (podman).
    pub connection: Option<String>,
}

/// The engine's endpoint, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// `unix:///...`, `tcp://host:port`, `ssh://user@host[:port][/path]`;
    /// none: the engine's own default on this machine.
    pub url: Option<String>,
    /// The docker context or podman connection that named it.
    pub name: Option<String>,
    /// What chose it: a flag, a variable, "current context", "default".
    pub source: String,
    /// docker: the context's TLS files (`DOCKER_CERT_PATH`) and whether
    /// to verify the server with them.
    #[serde(skip)]
    tls: Option<(PathBuf, bool)>,
    /// podman: the connection's SSH key (`CONTAINER_SSHKEY`).
    #[serde(skip)]
    ssh_key: Option<String>,
}

impl Endpoint {
    /// This machine's default engine.
    pub fn local() -> Endpoint {
        Endpoint {
            url: None,
            name: None,
            source: "default".into(),
            tls: None,
            ssh_key: None,
        }
    }

    fn at(url: &str, source: &str) -> Endpoint {
        Endpoint {
            url: Some(url.to_string()),
            source: source.to_string(),
            ..Endpoint::local()
        }
    }

    /// Chosen by nothing: the engine's default socket on this machine.
    pub fn is_default(&self) -> bool {
        self.url.is_none()
    }

    /// The engine runs on this machine (its default, or a unix socket):
    /// paths the engine reports (volume mountpoints, bind mounts) are paths
    /// here too.
    pub fn on_this_machine(&self) -> bool {
        self.url.as_deref().is_none_or(|u| u.starts_with("unix://"))
    }

    /// podman: the connection's SSH key.
    pub fn ssh_key(&self) -> Option<&str> {
        self.ssh_key.as_deref()
    }

    /// " on ssh://deploy@prod" (or " on context prod (ssh://...)") when the
    /// engine is not this machine's default; empty when it is. Said where
    /// data is at stake.
    pub fn on(&self) -> String {
        if self.is_default() {
            String::new()
        } else {
            format!(" on {self}")
        }
    }

    /// The variables every call gets, and the ones removed from its
    /// environment.
    pub fn call_env(&self, kind: EngineKind) -> (Vec<(String, String)>, Vec<String>) {
        let Some(url) = &self.url else {
            return (Vec::new(), Vec::new());
        };
        let mut set = vec![(kind.host_var().to_string(), url.clone())];
        let unset = match kind {
            EngineKind::Docker => {
                if let Some((dir, verify)) = &self.tls {
                    set.push(("DOCKER_CERT_PATH".into(), dir.display().to_string()));
                    if *verify {
                        set.push(("DOCKER_TLS_VERIFY".into(), "1".into()));
                    }
                }
                vec!["DOCKER_CONTEXT".to_string()]
            }
            EngineKind::Podman => {
                if let Some(key) = &self.ssh_key {
                    set.push(("CONTAINER_SSHKEY".into(), key.clone()));
                }
                vec!["CONTAINER_CONNECTION".to_string()]
            }
        };
        (set, unset)
    }

    /// `cmd` sent to this endpoint.
    pub fn apply(&self, kind: EngineKind, cmd: Cmd) -> Cmd {
        let (set, unset) = self.call_env(kind);
        cmd.endpoint(set, unset)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.name, &self.url) {
            (Some(n), Some(u)) => write!(f, "{n} ({u})"),
            (None, Some(u)) => f.write_str(u),
            _ => f.write_str("this machine's default engine"),
        }
    }
}

/// Resolves the endpoint of `kind` from the flags and `env`. Reads the
/// engine's configuration (a docker context, a podman connection) when one
/// is named; talks to no engine.
pub fn resolve(
    kind: EngineKind,
    program: &str,
    choice: &Choice,
    env: &BTreeMap<String, String>,
) -> Result<Endpoint> {
    let get = |k: &str| env.get(k).filter(|v| !v.trim().is_empty()).cloned();
    if let Some(h) = &choice.host {
        if choice.context.is_some() || choice.connection.is_some() {
            return Err(Error::usage(
                "--engine-host and --context/--connection both name an endpoint: give one",
            ));
        }
        check_url(h, "--engine-host")?;
        return Ok(Endpoint::at(h, "--engine-host"));
    }
    match kind {
        EngineKind::Docker => {
            if choice.connection.is_some() {
                return Err(Error::usage(
                    "--connection names a podman connection; docker has contexts: --context NAME",
                ));
            }
            if let Some(c) = &choice.context {
                return docker_context(program, c, "--context");
            }
            if let Some(h) = get("DOCKER_HOST") {
                check_url(&h, "DOCKER_HOST")?;
                return Ok(Endpoint::at(&h, "DOCKER_HOST"));
            }
            if let Some(c) = get("DOCKER_CONTEXT") {
                return docker_context(program, &c, "DOCKER_CONTEXT");
            }
            match current_context(env) {
                Some(c) => docker_context(program, &c, "current context"),
                None => Ok(Endpoint::local()),
            }
        }
        EngineKind::Podman => {
            if choice.context.is_some() {
                return Err(Error::usage(
                    "--context names a docker context; podman has connections: --connection NAME",
                ));
            }
            if let Some(c) = &choice.connection {
                return podman_connection(program, c, "--connection");
            }
            if let Some(h) = get("CONTAINER_HOST") {
                check_url(&h, "CONTAINER_HOST")?;
                let mut e = Endpoint::at(&h, "CONTAINER_HOST");
                e.ssh_key = get("CONTAINER_SSHKEY");
                return Ok(e);
            }
            match get("CONTAINER_CONNECTION") {
                Some(c) => podman_connection(program, &c, "CONTAINER_CONNECTION"),
                None => Ok(Endpoint::local()),
            }
        }
    }
}

/// An endpoint URL budgie and the engines understand.
fn check_url(url: &str, from: &str) -> Result<()> {
    let ok = match url.split_once("://") {
        Some(("unix", rest)) => rest.starts_with('/'),
        Some(("tcp" | "ssh", rest)) => !rest.is_empty() && !rest.starts_with('/'),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{from}={url}: expected unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT][/PATH]"
        )))
    }
}

/// The CLI's current context (`docker context use`), unless it is the
/// default one: `currentContext` in `$DOCKER_CONFIG/config.json` or
/// `~/.docker/config.json`.
fn current_context(env: &BTreeMap<String, String>) -> Option<String> {
    let dir = match env.get("DOCKER_CONFIG").filter(|s| !s.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => Path::new(env.get("HOME")?).join(".docker"),
    };
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
    doc["currentContext"]
        .as_str()
        .filter(|c| !c.is_empty() && *c != "default")
        .map(str::to_string)
}

/// A docker context's endpoint, as `docker context inspect` says.
fn docker_context(program: &str, name: &str, source: &str) -> Result<Endpoint> {
    if name == "default" {
        return Ok(Endpoint {
            source: source.to_string(),
            ..Endpoint::local()
        });
    }
    let mut cmd = Cmd::of(program, ["context", "inspect", name]);
    cmd.unset = vec!["DOCKER_HOST".into(), "DOCKER_CONTEXT".into()];
    let out = cmd.read().map_err(|e| {
        Error::usage(format!(
            "{source} {name}: no such docker context ({})",
            e.message
        ))
        .hint("docker context ls lists them")
    })?;
    parse_context(&out, name, source)
}

/// The endpoint of the context `docker context inspect` printed.
fn parse_context(json: &str, name: &str, source: &str) -> Result<Endpoint> {
    let doc: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::new(format!("docker context inspect {name}: {e}")))?;
    let ctx = doc.get(0).unwrap_or(&doc);
    let docker = &ctx["Endpoints"]["docker"];
    let Some(host) = docker["Host"].as_str() else {
        return Err(Error::new(format!(
            "docker context {name} has no docker endpoint"
        )));
    };
    check_url(host, &format!("context {name}"))?;
    let mut e = Endpoint::at(host, source);
    e.name = Some(name.to_string());
    let tls = ctx["Storage"]["TLSPath"]
        .as_str()
        .map(|p| Path::new(p).join("docker"))
        .filter(|p| p.join("ca.pem").is_file() || p.join("cert.pem").is_file());
    if let Some(dir) = tls {
        let verify = !docker["SkipTLSVerify"].as_bool().unwrap_or(false);
        e.tls = Some((dir, verify));
    }
    Ok(e)
}

/// A podman connection's endpoint, as `podman system connection list`
/// says.
fn podman_connection(program: &str, name: &str, source: &str) -> Result<Endpoint> {
    let mut cmd = Cmd::of(
        program,
        ["system", "connection", "list", "--format", "json"],
    );
    cmd.unset = vec!["CONTAINER_HOST".into(), "CONTAINER_CONNECTION".into()];
    let out = cmd.read()?;
    parse_connection(&out, name, source)
}

/// The endpoint of connection `name` in `podman system connection list`'s
/// JSON.
fn parse_connection(json: &str, name: &str, source: &str) -> Result<Endpoint> {
    let doc: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::new(format!("podman system connection list: {e}")))?;
    let found = doc
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["Name"].as_str() == Some(name));
    let Some(c) = found else {
        return Err(
            Error::usage(format!("{source} {name}: no such podman connection"))
                .hint("podman system connection list lists them"),
        );
    };
    let uri = c["URI"].as_str().unwrap_or_default();
    check_url(uri, &format!("connection {name}"))?;
    let mut e = Endpoint::at(uri, source);
    e.name = Some(name.to_string());
    e.ssh_key = c["Identity"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok(e)
}

#[cfg(test)]
mod tests;
