//! The project lock on the engine, for an engine that is not this
//! machine's default one.
//!
//! The file lock (`crate::lock`) keeps two budgies of one machine apart.
//! Two laptops driving the same server's engine share no file, so with an
//! engine elsewhere the lock lives on the engine too: a container named
//! `budgie-lock-<project>`, created (never started) by whoever takes the
//! lock and removed when it is done, with the holder's host, pid, command
//! and start in its labels. Creating a container of a taken name fails on
//! both engines, atomically.
//!
//! Unlike a file lock the kernel cannot release it when its holder dies:
//! a budgie killed by `kill -9`, or a laptop that lost its network, leaves
//! it. Then the next budgie waits `--lock-timeout` and fails naming the
//! holder (and, when the holder was this machine, that its process is
//! gone); `budgie unlock` breaks it, explicitly.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local, SecondsFormat};

use crate::context::Context;
use crate::engine::Engine;
use crate::engine::lock_container::{Created, LOCK_LABEL};
use crate::error::{Error, Result};

/// How often a waiting budgie tries again (each try is an engine call,
/// over the network).
const POLL: Duration = Duration::from_millis(500);

/// The lock on the engine; removed when dropped.
#[derive(Debug)]
pub struct EngineLock {
    engine: Engine,
    id: String,
}

impl Drop for EngineLock {
    fn drop(&mut self) {
        let _ = self.engine.remove_lock(&self.id);
    }
}

/// Who holds it, as its labels say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
    pub started: String,
}

impl LockHolder {
    fn from_labels(id: String, labels: &BTreeMap<String, String>) -> LockHolder {
        let get = |k: &str| labels.get(&format!("{LOCK_LABEL}.{k}")).cloned();
        LockHolder {
            id,
            host: get("host").unwrap_or_else(|| "an unknown host".into()),
            pid: get("pid").and_then(|p| p.parse().ok()).unwrap_or(0),
            command: get("command").unwrap_or_default(),
            started: get("started").unwrap_or_default(),
        }
    }

    /// `budgie backup` (pid 123 on laptop-a, since 2026-12-01 09:27:04)`,
    /// and, for a holder on this machine whose process is gone, so.
    pub fn describe(&self) -> String {
        let since = DateTime::parse_from_rfc3339(&self.started)
            .map(|t| {
                t.with_timezone(&Local)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_else(|_| self.started.clone());
        let mut s = format!(
            "`budgie {}` (pid {} on {}, since {since})",
            self.command, self.pid, self.host
        );
        if self.is_gone() {
            s.push_str("; that process no longer runs on this machine: the lock is stale");
        }
        s
    }

    /// The holder was this machine and its process is gone.
    pub fn is_gone(&self) -> bool {
        self.host == hostname()
            && self.pid != 0
            && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// This machine's name, as the holder's label says it.
fn hostname() -> String {
    crate::fsutil::hostname().unwrap_or_else(|| "unknown".into())
}

/// The lock container's name for `project`.
pub fn lock_name(project: &str) -> String {
    format!("budgie-lock-{project}")
}

/// Takes the engine's lock of the project, when the engine is not this
/// machine's default (else none is needed: the file lock holds). Waits up
/// to `--lock-timeout`, telling the user once.
pub fn acquire(ctx: &Context, command: &str) -> Result<Option<EngineLock>> {
    let engine = ctx.engine()?;
    if engine.endpoint.is_default() {
        return Ok(None);
    }
    let project = &ctx.project.name;
    let name = lock_name(project);
    let labels = vec![
        (LOCK_LABEL.to_string(), project.clone()),
        (format!("{LOCK_LABEL}.host"), hostname()),
        (format!("{LOCK_LABEL}.pid"), std::process::id().to_string()),
        (format!("{LOCK_LABEL}.command"), command.to_string()),
        (
            format!("{LOCK_LABEL}.started"),
            Local::now().to_rfc3339_opts(SecondsFormat::Secs, false),
        ),
    ];
    let timeout = Duration::from_secs(ctx.global.lock_timeout);
    let start = Instant::now();
    let mut told = false;
    loop {
        let holder = match engine.create_lock(&name, &labels)? {
            Created::Made(id) => {
                return Ok(Some(EngineLock {
                    engine: engine.clone(),
                    id,
                }));
            }
            // Removed between the two calls: try again at once.
            Created::Taken => match engine.lock_holder(&name)? {
                Some((id, labels)) => LockHolder::from_labels(id, &labels),
                None => continue,
            },
        };
        if start.elapsed() >= timeout || holder.is_gone() {
            return Err(busy(ctx, &holder, &engine.endpoint.to_string()));
        }
        if !told {
            ctx.ui.warn(&format!(
                "waiting for {} working on project {project} on {}...",
                holder.describe(),
                engine.endpoint
            ));
            told = true;
        }
        std::thread::sleep(POLL.min(timeout.saturating_sub(start.elapsed())));
        if crate::interrupt::interrupted() {
            return Err(Error::interrupted());
        }
    }
}

fn busy(ctx: &Context, holder: &LockHolder, at: &str) -> Error {
    let waited = if holder.is_gone() {
        String::new()
    } else {
        format!("; gave up after {}s", ctx.global.lock_timeout)
    };
    Error::new(format!(
        "project {} is locked on {at} by {}{waited}",
        ctx.project.name,
        holder.describe(),
    ))
    .hint(if holder.is_gone() {
        "break the stale lock with `budgie unlock`".to_string()
    } else {
        "wait for it (or raise --lock-timeout); if that budgie is gone for good, `budgie unlock` breaks the lock".to_string()
    })
}

/// `budgie unlock`: shows who holds the engine's lock of the project and
/// removes it, after a confirmation (`--yes` answers it).
pub fn unlock(ctx: &Context) -> Result<i32> {
    let engine = ctx.engine()?;
    let name = lock_name(&ctx.project.name);
    let Some((id, labels)) = engine.lock_holder(&name)? else {
        ctx.ui.info(&format!(
            "project {} is not locked on {}",
            ctx.project.name, engine.endpoint
        ));
        return Ok(0);
    };
    let holder = LockHolder::from_labels(id, &labels);
    ctx.ui.unquiet().warn(&format!(
        "project {} is locked on {} by {}",
        ctx.project.name,
        engine.endpoint,
        holder.describe()
    ));
    if ctx.global.dry_run {
        return Ok(0);
    }
    if !ctx.global.yes {
        if !ctx.ui.stdin_tty {
            return Err(Error::refused(
                "refusing to break the lock without confirmation: no terminal to ask at, and no --yes; nothing was changed",
            ));
        }
        let question = format!(
            "Type the project name ({}) to break the lock: a budgie still at work would then run beside the next one",
            ctx.project.name
        );
        if !ctx.ui.confirm_typed(&question, &ctx.project.name)? {
            return Err(Error::refused("not confirmed; the lock is kept"));
        }
    }
    engine.remove_lock(&holder.id)?;
    ctx.ui.success(&format!(
        "lock of project {} on {} broken",
        ctx.project.name, engine.endpoint
    ));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_is_read_from_its_labels_and_a_dead_local_one_is_stale() {
        let labels: BTreeMap<String, String> = [
            ("io.budgie.lock", "app"),
            ("io.budgie.lock.host", "laptop-a"),
            ("io.budgie.lock.pid", "123"),
            ("io.budgie.lock.command", "backup"),
            ("io.budgie.lock.started", "2026-12-01T09:27:04+00:00"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let h = LockHolder::from_labels("abc".into(), &labels);
        assert_eq!((h.pid, h.host.as_str()), (123, "laptop-a"));
        assert!(
            h.describe()
                .starts_with("`budgie backup` (pid 123 on laptop-a, since 2026-12-01")
        );
        assert!(
            !h.is_gone(),
            "another machine's process is never judged here"
        );
        let mine = LockHolder {
            host: hostname(),
            pid: u32::MAX - 1,
            ..h.clone()
        };
        assert!(mine.is_gone());
        assert!(mine.describe().contains("the lock is stale"));
        let alive = LockHolder {
            host: hostname(),
            pid: std::process::id(),
            ..h
        };
        assert!(!alive.is_gone());
    }
}
