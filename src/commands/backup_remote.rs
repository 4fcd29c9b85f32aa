//! The remote side of `budgie backup`: the remote a backup is copied to,
//! `backup list --remote`, and `backup prune` of the remote copies (the
//! same retention rule as the local ones). The transfers are
//! `storage::copies`'.

use crate::backup::{retention, store};
use crate::cli::BackupCommand;
use crate::compose::Retention;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::ui::{human_bytes, table};

/// The remote a backup is copied to (`--to`, else the configured one,
/// unless `--local-only`), connected and its bucket checked.
pub fn remote_of(ctx: &Context, b: &BackupCommand) -> Result<Option<crate::storage::s3::Client>> {
    if b.local_only {
        return Ok(None);
    }
    match crate::storage::copies::target(ctx, b.to.as_deref())? {
        Some(t) => Ok(Some(crate::storage::copies::connect(ctx, &t)?)),
        None => Ok(None),
    }
}

/// `backup list --remote`.
pub fn list(ctx: &Context, to: Option<&str>) -> Result<i32> {
    let Some(target) = crate::storage::copies::target(ctx, to)? else {
        return Err(Error::usage(
            "no remote: pass --to s3://BUCKET[/PREFIX], or set x-budgie.backup.remote",
        ));
    };
    let client = crate::storage::copies::connect(ctx, &target)?;
    let found = crate::storage::copies::list(&client, &ctx.project.name)?;
    if ctx.global.json {
        crate::commands::print_json(&found)?;
        return Ok(0);
    }
    if found.is_empty() {
        ctx.ui.info(&format!(
            "No backups of project {} in {}",
            ctx.project.name,
            target.shown(None)
        ));
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.modified.clone(),
                human_bytes(r.bytes),
                match r.complete {
                    true => "yes".into(),
                    false => "NO (no .meta.json)".into(),
                },
            ]
        })
        .collect();
    for line in table(&["FILE", "UPLOADED", "SIZE", "COMPLETE"], &rows) {
        ctx.ui.print(&line);
    }
    ctx.ui.info(&format!(
        "{} in {}; restore one with: budgie restore {}",
        crate::ui::count(found.len() as u64, "backup", "backups"),
        target.shown(None),
        found.last().map(|r| r.url.as_str()).unwrap_or_default()
    ));
    Ok(0)
}

/// `backup prune` of the remote copies: the retention rule on the
/// project's remote dumps (each database its own history; safety backups
/// kept 7 days; always the newest complete one), each deleted object's
/// sidecar with it. Without a remote: nothing, unless `required`
/// (`--remote-only`).
pub fn prune(ctx: &Context, r: Retention, required: bool) -> Result<()> {
    let Some(target) = crate::storage::copies::target(ctx, None)? else {
        if required {
            return Err(Error::usage(
                "--remote-only: no remote is configured (x-budgie.backup.remote: s3://BUCKET/PREFIX)",
            ));
        }
        return Ok(());
    };
    let _lock = match ctx.global.dry_run {
        true => None,
        false => Some(crate::recover::lock(ctx, "backup prune")?),
    };
    let client = crate::storage::copies::connect(ctx, &target)?;
    let found = crate::storage::copies::list(&client, &ctx.project.name)?;
    let primary = ctx.project.databases().first().map(|d| d.service.as_str());
    let dumps: Vec<(&crate::storage::copies::RemoteBackup, retention::Candidate)> = found
        .iter()
        .filter_map(|b| {
            let parsed = store::parse_dump_name(&ctx.project.name, &b.name)?;
            let group = format!(
                "db:{}",
                parsed.service.as_deref().or(primary).unwrap_or_default()
            );
            Some((
                b,
                retention::Candidate {
                    created: parsed.created,
                    safety: parsed.reason.is_some(),
                    complete: b.complete,
                    group,
                },
            ))
        })
        .collect();
    let cands: Vec<retention::Candidate> = dumps.iter().map(|(_, c)| c.clone()).collect();
    let decisions = retention::plan(&cands, chrono::Local::now().naive_local(), r);
    let (mut deleted, mut freed) = (0usize, 0u64);
    for ((b, _), keep) in dumps.iter().zip(decisions) {
        if keep.is_some() {
            continue;
        }
        if ctx.global.dry_run {
            ctx.ui.print(&format!(
                "would delete {} ({})",
                b.url,
                human_bytes(b.bytes)
            ));
        } else {
            client.delete(&target.key(&b.name))?;
            client.delete(&target.key(&format!("{}.meta.json", b.name)))?;
            ctx.ui
                .print(&format!("deleted {} ({})", b.url, human_bytes(b.bytes)));
        }
        deleted += 1;
        freed += b.bytes;
    }
    ctx.ui.success(&format!(
        "remote prune {} {}, {} in {}; kept {}",
        if ctx.global.dry_run {
            "would delete"
        } else {
            "deleted"
        },
        crate::ui::count(deleted as u64, "copy", "copies"),
        human_bytes(freed),
        target.shown(None),
        dumps.len() - deleted
    ));
    Ok(())
}
