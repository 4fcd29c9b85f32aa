//! The checks of the tools budgie drives: does the container engine answer
//! (and which version), and which compose tool budgie would run. The engine
//! check also tells the command whether the checks that read the engine's
//! containers and volumes can run.

use super::check::{COMPOSE_TOOL, Check, ENGINE};
use crate::engine::Engine;
use crate::error::Result;

/// The engine check, and whether the engine answered.
pub(super) fn check_engine(engine: &Result<Engine>) -> (Check, bool) {
    let e = match engine {
        Ok(e) => e,
        Err(err) => {
            let hint = err.hint.clone().unwrap_or_else(|| {
                "choose podman or docker: --engine, or BUDGIE_ENGINE".to_string()
            });
            return (Check::fail(ENGINE, err.message.clone(), Some(hint)), false);
        }
    };
    // Where it is, and what chose it, when it is not this machine's own.
    let at = if e.endpoint.is_default() {
        String::new()
    } else {
        format!(" at {} (from {})", e.endpoint, e.endpoint.source)
    };
    match e.server_version() {
        Ok(v) if v.is_empty() => (Check::pass(ENGINE, format!("{}{at} answers", e.kind)), true),
        Ok(v) => (
            Check::pass(ENGINE, format!("{} {v}{at} answers", e.kind)),
            true,
        ),
        Err(err) => {
            let hint = err
                .hint
                .clone()
                .unwrap_or_else(|| format!("`{} info` says what is wrong", e.program));
            (Check::fail(ENGINE, err.message, Some(hint)), false)
        }
    }
}

pub(super) fn check_compose_tool(engine: &Engine) -> Check {
    match engine.compose() {
        Ok(c) => {
            let version = if c.version.is_empty() {
                "answers".to_string()
            } else {
                c.version.clone()
            };
            Check::pass(COMPOSE_TOOL, format!("{version} (`{}`)", c.argv.join(" ")))
        }
        Err(e) => Check::error(COMPOSE_TOOL, e),
    }
}
