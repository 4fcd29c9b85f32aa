//! Pings after a backup (`x-budgie.notify.on_success`, `on_failure`), in
//! the style of healthchecks.io: a POST with a one-line JSON body, so that
//! a backup that did not happen (it failed, or was refused because
//! another budgie held the project) is noticed by a service that expects
//! the ping, not found out on the day it is needed. A ping that fails is
//! warned about and changes nothing else.

use std::time::Duration;

use serde::Serialize;

use crate::context::Context;

#[derive(Serialize)]
struct Body<'a> {
    project: &'a str,
    command: &'a str,
    status: &'a str,
    message: &'a str,
    host: String,
}

/// Pings `on_success` or `on_failure` (when configured) about `command`.
pub fn ping(ctx: &Context, command: &str, ok: bool, message: &str) {
    let notify = &ctx.project.config.notify;
    let Some(url) = (match ok {
        true => notify.on_success.as_deref(),
        false => notify.on_failure.as_deref(),
    }) else {
        return;
    };
    let body = Body {
        project: &ctx.project.name,
        command,
        status: if ok { "success" } else { "failure" },
        message,
        host: crate::fsutil::hostname().unwrap_or_default(),
    };
    let Ok(json) = serde_json::to_string(&body) else {
        return;
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let shown = url.split('/').take(3).collect::<Vec<_>>().join("/");
    match agent
        .post(url)
        .header("content-type", "application/json")
        .send(json.as_bytes())
    {
        Ok(resp) if resp.status().is_success() => {
            ctx.ui
                .debug(&format!("pinged {shown}/... ({})", body.status));
        }
        Ok(resp) => ctx.ui.warn(&format!(
            "the {} ping to {shown}/... was answered {}",
            body.status,
            resp.status().as_u16()
        )),
        Err(e) => ctx.ui.warn(&format!(
            "the {} ping to {shown}/... failed: {e}",
            body.status
        )),
    }
}
