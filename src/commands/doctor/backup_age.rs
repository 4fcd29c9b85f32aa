//! The newest-backup check: is there a complete backup, and is it recent
//! enough — within `BUDGIE_BACKUP_MAX_AGE_HOURS`, else what the installed
//! schedule allows, else a day. Backups that stopped are found here, not
//! on the day one is needed.

use std::path::Path;

use super::check::{Check, NEWEST_BACKUP, REMOTE};
use crate::backup::{store, verify};
use crate::compose::{Compression, Project};
use crate::error::Result;
use crate::ui::{human_age, human_bytes};

/// How old the newest complete backup may be, in hours, without a failed
/// check: `BUDGIE_BACKUP_MAX_AGE_HOURS`, default 24.
const MAX_AGE_VAR: &str = "BUDGIE_BACKUP_MAX_AGE_HOURS";
const DEFAULT_MAX_AGE_HOURS: u64 = 24;

/// How old the newest backup may be, and why that much.
struct AgeLimit {
    minutes: i64,
    /// `BUDGIE_BACKUP_MAX_AGE_HOURS`, the installed schedule, or the default.
    from: String,
    /// The command showing the scheduled backups' log, when a schedule is installed.
    journal: Option<String>,
}

/// `BUDGIE_BACKUP_MAX_AGE_HOURS` when set; else what the installed
/// schedule allows (its longest gap between runs and a margin: 2h hourly,
/// 26h daily); else 24 hours.
fn age_limit(project: &Project) -> Result<AgeLimit, Check> {
    let schedule = crate::commands::schedule::installed(project);
    let journal = schedule.as_ref().map(|(_, j)| j.clone());
    match project.env.get(MAX_AGE_VAR).map(|s| s.trim()) {
        None | Some("") => {}
        Some(s) => {
            return match s.parse::<i64>() {
                Ok(n) if n > 0 && n < i64::MAX / 60 => Ok(AgeLimit {
                    minutes: n * 60,
                    from: MAX_AGE_VAR.into(),
                    journal,
                }),
                _ => Err(Check::fail(
                    NEWEST_BACKUP,
                    format!("{MAX_AGE_VAR}={s}: expected a whole number of hours"),
                    Some(format!(
                        "unset it for the default (the installed schedule's interval, else {DEFAULT_MAX_AGE_HOURS})"
                    )),
                )),
            };
        }
    }
    if let Some((every, _)) = &schedule
        && let Some(minutes) = every.stale_after_minutes()
    {
        return Ok(AgeLimit {
            minutes,
            from: format!("the schedule `{}`", every.spec()),
            journal,
        });
    }
    Ok(AgeLimit {
        minutes: i64::try_from(DEFAULT_MAX_AGE_HOURS * 60).unwrap_or(i64::MAX),
        from: "default".into(),
        journal,
    })
}

/// `26h`, `1h30m`, `45m`.
fn human_limit(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// The newest-backup check, and the size and age (seconds) of the newest
/// complete backup.
pub(super) fn newest_backup(project: &Project, dir: &Path) -> (Check, Option<(u64, i64)>) {
    let limit = match age_limit(project) {
        Ok(l) => l,
        Err(check) => return (check, None),
    };
    let limit_text = human_limit(limit.minutes);
    let dumps = match store::list_dumps(dir, &project.name) {
        Ok(d) => d,
        Err(e) => return (Check::error(NEWEST_BACKUP, e), None),
    };
    // Only cheap checks (the sidecar, or a plain dump's ends): doctor must
    // stay quick, so a compressed file without its sidecar counts, marked
    // as not verified, rather than being decompressed here.
    let mut incomplete = 0;
    let mut unverified = false;
    let newest = dumps.iter().find(|d| {
        let complete = match verify::quick_complete(&d.path) {
            Some(c) => c,
            None if d.compression == Compression::None => false,
            None => {
                unverified = true;
                true
            }
        };
        if !complete {
            incomplete += 1;
        }
        complete
    });
    let Some(newest) = newest else {
        let mut detail = format!(
            "no complete backup of project {} in {}",
            project.name,
            dir.display()
        );
        if incomplete > 0 {
            detail.push_str(&format!(" ({incomplete} incomplete)"));
        }
        let check = Check::fail(
            NEWEST_BACKUP,
            detail,
            Some("take one: budgie backup".into()),
        );
        return (check, None);
    };
    let now = chrono::Local::now().naive_local();
    let age = (now - newest.created).num_seconds();
    let from = match limit.from.as_str() {
        "default" => String::new(),
        f => format!(", from {f}"),
    };
    let check = if age > limit.minutes.saturating_mul(60) {
        let hint = match &limit.journal {
            Some(journal) => format!(
                "the scheduled backup did not run or failed: see `budgie schedule show` and its log ({journal}); take one now: budgie backup"
            ),
            None => format!(
                "take one: budgie backup (and schedule them: budgie schedule install --every daily; {MAX_AGE_VAR} sets the limit)"
            ),
        };
        Check::fail(
            NEWEST_BACKUP,
            format!(
                "the newest complete backup is {} old (more than {limit_text}{from}): {}",
                human_age(age),
                newest.file_name
            ),
            Some(hint),
        )
    } else {
        let mut detail = format!(
            "{}, {} old, {} (limit {limit_text}{from})",
            newest.file_name,
            human_age(age),
            human_bytes(newest.bytes)
        );
        if unverified {
            detail.push_str(&format!(
                "; no sidecar, not verified: budgie backup verify {}",
                crate::engine::shell_quote(&newest.path.display().to_string())
            ));
        }
        Check::pass(NEWEST_BACKUP, detail)
    };
    (check, Some((newest.bytes, age)))
}

/// The remote check, when a remote is configured: its bucket answers, and
/// its newest complete copy is as recent as the newest-backup check asks
/// of the local one. Also that copy's age in seconds.
pub(super) fn newest_remote(ctx: &crate::context::Context) -> Option<(Check, Option<i64>)> {
    let project = &ctx.project;
    let target = match crate::storage::copies::target(ctx, None) {
        Ok(t) => t?,
        Err(e) => return Some((Check::error(REMOTE, e), None)),
    };
    let shown = target.shown(None);
    let found = crate::storage::copies::connect(ctx, &target)
        .and_then(|client| crate::storage::copies::list(&client, &project.name));
    let found = match found {
        Ok(f) => f,
        Err(e) => return Some((Check::error(REMOTE, e), None)),
    };
    let limit = match age_limit(project) {
        Ok(l) => l,
        Err(check) => return Some((check, None)),
    };
    let newest =
        crate::storage::copies::newest_complete(&found, None).and_then(|b| Some((b, b.created?)));
    let Some((b, created)) = newest else {
        return Some((
            Check::fail(
                REMOTE,
                format!(
                    "no complete copy of a backup of project {} in {shown}",
                    project.name
                ),
                Some("take one: budgie backup (it copies to x-budgie.backup.remote)".into()),
            ),
            None,
        ));
    };
    let age = (chrono::Local::now().naive_local() - created).num_seconds();
    let limit_text = human_limit(limit.minutes);
    let check = if age > limit.minutes.saturating_mul(60) {
        Check::fail(
            REMOTE,
            format!(
                "the newest complete remote copy is {} old (more than {limit_text}): {}",
                human_age(age),
                b.url
            ),
            Some("backups stopped reaching the remote: see budgie backup's messages; take one now: budgie backup".into()),
        )
    } else {
        Check::pass(
            REMOTE,
            format!(
                "{}, {} old, {} (limit {limit_text})",
                b.url,
                human_age(age),
                human_bytes(b.bytes)
            ),
        )
    };
    Some((check, Some(age)))
}
