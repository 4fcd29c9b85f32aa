//! `budgie deploy [SERVICE...]`: update the app without touching the
//! database.
//!
//! In order: a `_pre-deploy` safety backup of the database — the same dump
//! step `backup` and the gate use (a failure stops everything with exit 4,
//! nothing deployed; `--no-backup` skips it and says so); then one compose call that builds and recreates the app
//! services and nothing else; then a wait until their new containers are
//! healthy (or running, without a healthcheck); then a report, which checks
//! that the database container is the same one, started at the same time,
//! as before the deploy.
//!
//! The compose call is `up -d --no-deps --build --force-recreate SERVICE...`
//! on both tools. `--no-deps` keeps compose from starting or recreating the
//! services they depend on (the database). `--force-recreate` because
//! podman-compose 1.6 recreates a container only when the service's compose
//! configuration changed: after `--build` gives a service a new image, it
//! leaves the old container running on the old image (docker-compose 1.29
//! recreates it; tried here). A deploy that reports success while the old
//! code runs would be worse than one that always recreates.
//!
//! One more podman-compose behaviour decides which services a deploy may
//! touch: when it recreates a service it also recreates every *running*
//! service that depends on it, `--no-deps` or not. So a service the database
//! depends on (directly or not) is never deployed — naming it is a usage
//! error, and a plain `budgie deploy` leaves it out and says why — and on
//! podman-compose the running services that depend on a deployed one are
//! waited for and reported too, because they get recreated as well.
//!
//! Nothing here deletes data, so there is no confirmation.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::compose::Project;
use crate::context::Context;
use crate::engine::{ComposeFlavor, Container};
use crate::error::{Error, Result};
use crate::execute::{self, NoDeletions};
use crate::interrupt::interrupted;
use crate::plan::{Action, Plan, Reason};
use crate::recover;
use crate::steps;
use crate::wait::{WaitForServices, WaitService};

/// How many log lines of a service that failed to become ready to show.
const LOG_LINES: u32 = 30;

/// What is saved before a deploy.
#[derive(Debug, Clone, Copy)]
pub struct Safety {
    /// `--no-backup`: no `_pre-deploy` dump.
    pub no_backup: bool,
    /// `--no-snapshot`: no `pre-deploy-<stamp>` snapshot.
    pub no_snapshot: bool,
}

/// `budgie deploy`: see the module documentation.
pub fn run(ctx: &Context, services: &[String], safe: Safety, timeout: u64) -> Result<i32> {
    let no_backup = safe.no_backup;
    let dbs = database_services(ctx)?;
    let targets = targets(ctx, services, &dbs)?;
    if targets.is_empty() {
        ctx.ui.info(&format!(
            "nothing to deploy: project {} has no service besides its {} ({})",
            ctx.project.name,
            if dbs.len() == 1 {
                "database"
            } else {
                "databases"
            },
            dbs.join(", ")
        ));
        return Ok(0);
    }
    let engine = ctx.engine()?;
    crate::inventory::warn_misplaced(&ctx.ui, &ctx.project, &engine.endpoint);
    // podman-compose recreates the running services that depend on a
    // recreated one: wait for those too (when they run).
    let dependents: Vec<String> = if engine.compose()?.flavor == ComposeFlavor::PodmanCompose {
        dependents_of(&ctx.project, &targets)
            .into_iter()
            .filter(|s| !targets.contains(s))
            .collect()
    } else {
        Vec::new()
    };

    // 1. The safety backups (one per database, one stamp), steps of the
    // plan like every other.
    let mut safety = Plan::new();
    if !no_backup {
        let compression = ctx.dump_style(None, None)?;
        let at = chrono::Local::now();
        for service in &dbs {
            let db = ctx.project.database_of(Some(service))?;
            safety.steps.push(steps::dump(
                ctx,
                db,
                at,
                Some(Reason::Deploy),
                compression,
                Vec::new(),
            )?);
        }
    }
    // Then a snapshot of each running PostgreSQL database: the way back
    // in seconds (`snapshot restore --latest-deploy`).
    let snapshots = if safe.no_snapshot {
        Vec::new()
    } else {
        deploy_snapshots(ctx, &dbs)?
    };
    if ctx.global.dry_run {
        let mut shown = safety;
        shown.steps.extend(snapshots);
        let waited = waited(ctx, &targets, &dependents);
        add_steps(ctx, &mut shown, &targets, &dependents, waited, timeout)?;
        execute::print_plan(ctx, "deploy", &shown);
        if no_backup {
            ctx.ui.print("No safety backup (--no-backup).");
        }
        return Ok(0);
    }

    engine.ping()?;
    let _lock = recover::lock(ctx, "deploy")?;
    if no_backup {
        ctx.ui
            .warn("--no-backup: no safety backup of the database is taken before this deploy.");
    }
    execute::run(ctx, &safety.steps, &mut NoDeletions)?;
    let snapshot_names = take_snapshots(ctx, &snapshots);
    if interrupted() {
        return Err(Error::interrupted().context("stopped before deploying anything"));
    }
    let status = deploy(ctx, &dbs, &targets, dependents, timeout)?;
    if let Some(name) = snapshot_names.first() {
        ctx.ui.info(&format!(
            "To put the database back as it was before this deploy: budgie snapshot restore {name} (or --latest-deploy)"
        ));
    }
    Ok(status)
}

/// Takes the deploy's snapshots. A snapshot is the quick way back, not the
/// safety backup (the dump is): one that fails (a database user that may
/// not copy its database, a full volume) is said, and the deploy goes on.
/// Returns the names of those taken.
fn take_snapshots(ctx: &Context, steps: &[crate::plan::Step]) -> Vec<String> {
    let mut taken = Vec::new();
    for step in steps {
        let Action::Snapshot(t) = &step.action else {
            continue;
        };
        ctx.ui.debug(&format!("step: {}", step.what));
        match crate::snapshots::safety_snapshot(ctx, t) {
            Ok(()) => taken.push(t.name.clone()),
            Err(e) => ctx.ui.warn(&format!(
                "no pre-deploy snapshot of database {}: {}; the deploy goes on (--no-snapshot leaves it out)",
                t.db.name,
                e.message.lines().last().unwrap_or_default().trim()
            )),
        }
    }
    taken
}

/// The `pre-deploy-<stamp>` snapshot steps: one per running PostgreSQL
/// database (a stopped one, or MariaDB, is said and left out).
fn deploy_snapshots(ctx: &Context, dbs: &[String]) -> Result<Vec<crate::plan::Step>> {
    let at = chrono::Local::now();
    let engine = ctx.engine()?;
    let mut out = Vec::new();
    for service in dbs {
        let db = ctx.project.database_of(Some(service))?;
        if db.kind != crate::compose::DbKind::Postgres || db.all_databases() || db.name.is_empty() {
            continue;
        }
        if !ctx.global.dry_run
            && engine
                .running_container_id(&ctx.project.name, service)?
                .is_none()
        {
            ctx.ui.info(&format!(
                "No pre-deploy snapshot of {}: its service {service} is not running",
                db.name
            ));
            continue;
        }
        out.push(steps::snapshot(ctx, db, at, Reason::Deploy)?);
    }
    Ok(out)
}

/// The services of the stack's databases (the one found, or every one).
fn database_services(ctx: &Context) -> Result<Vec<String>> {
    if ctx.project.databases().is_empty() {
        return Ok(vec![ctx.project.database()?.service.clone()]);
    }
    Ok(ctx
        .project
        .databases()
        .iter()
        .map(|d| d.service.clone())
        .collect())
}

/// The services to deploy: those named (never the database, nor what it
/// depends on), or by default every other service that may go.
fn targets(ctx: &Context, services: &[String], dbs: &[String]) -> Result<Vec<String>> {
    ctx.project.check_services(services)?;
    if let Some(db) = services.iter().find(|s| dbs.contains(*s)) {
        let which = if dbs.len() == 1 { "the" } else { "a" };
        return Err(Error::usage(format!(
            "deploy never restarts {which} database; use budgie restart {db}"
        )));
    }
    // What each database depends on, directly or not.
    let held: Vec<(String, BTreeSet<String>)> = dbs
        .iter()
        .map(|db| (db.clone(), dependencies_of(&ctx.project, db)))
        .collect();
    for s in services {
        if let Some((db, _)) = held.iter().find(|(_, deps)| deps.contains(s)) {
            return Err(Error::usage(format!(
                "deploy never recreates {s}: the database service {db} depends on it, and podman-compose recreates the running services that depend on a recreated one, the database included"
            ))
            .hint(format!("restart both on purpose: budgie restart {s} {db}")));
        }
    }
    Ok(if services.is_empty() {
        default_targets(ctx, dbs, &held)
    } else {
        services.to_vec()
    })
}

/// After the safety backup: builds and recreates `targets`, waits for them
/// (and for the running `dependents` podman-compose recreates too), then
/// checks that the database container is the one from before.
fn deploy(
    ctx: &Context,
    dbs: &[String],
    targets: &[String],
    dependents: Vec<String>,
    timeout: u64,
) -> Result<i32> {
    // What the database containers are now (after the backup, which may
    // have started and stopped them): the deploy must leave them exactly so.
    let now = ctx.engine()?.containers(&ctx.project.name)?;
    let mut before: Vec<(&str, Option<Container>)> = Vec::new();
    for db_service in dbs {
        let c = now
            .iter()
            .filter(|c| &c.service == db_service && c.running)
            .max_by_key(|c| c.number)
            .cloned();
        if c.is_none() {
            ctx.ui.info(&format!(
                "The database service {db_service} is not running; deploy leaves it so (start it: budgie start {db_service})"
            ));
        }
        before.push((db_service, c));
    }
    let running: BTreeSet<&str> = now
        .iter()
        .filter(|c| c.running)
        .map(|c| c.service.as_str())
        .collect();
    let dependents: Vec<String> = dependents
        .into_iter()
        .filter(|s| running.contains(s.as_str()))
        .collect();

    // 2 and 3. Build and recreate, then wait.
    let mut plan = Plan::new();
    let waited = waited(ctx, targets, &dependents);
    add_steps(ctx, &mut plan, targets, &dependents, waited, timeout)?;
    let result = execute::run_plan(ctx, "deploy", &plan);

    // 4. The database containers must be the ones from before, whatever
    // happened.
    let untouched = check_databases(ctx, &before);
    let status = match result {
        Ok(status) => status,
        // A failed deploy still says whether the database was touched.
        Err(e) => {
            let said = match untouched {
                Ok(Some(line)) => line,
                Ok(None) => return Err(e),
                Err(d) => format!("! {}", d.message),
            };
            let hint = match &e.hint {
                Some(h) => format!("{h}\n{said}"),
                None => said,
            };
            return Err(e.hint(hint));
        }
    };
    let untouched = untouched?;
    report(ctx, targets, &dependents)?;
    if let Some(lines) = untouched {
        for line in lines.lines() {
            ctx.ui.success(line);
        }
    }
    Ok(status)
}

/// The services to wait for: the deployed ones, then (podman-compose) the
/// running ones that depend on them.
fn waited(ctx: &Context, targets: &[String], dependents: &[String]) -> Vec<WaitService> {
    targets
        .iter()
        .chain(dependents)
        .map(|name| WaitService {
            name: name.clone(),
            healthcheck: ctx
                .project
                .services
                .get(name)
                .is_some_and(|s| s.healthcheck),
        })
        .collect()
}

fn add_steps(
    ctx: &Context,
    plan: &mut Plan,
    targets: &[String],
    dependents: &[String],
    waited: Vec<WaitService>,
    timeout: u64,
) -> Result<()> {
    let mut args: Vec<String> = ["up", "-d", "--no-deps", "--build", "--force-recreate"]
        .map(String::from)
        .to_vec();
    args.extend(targets.iter().cloned());
    let also = if dependents.is_empty() {
        String::new()
    } else {
        format!(
            "; podman-compose also recreates what depends on {} and runs: {}",
            if targets.len() == 1 { "it" } else { "them" },
            dependents.join(", ")
        )
    };
    plan.run(
        format!(
            "Build and recreate {} (the database is left alone{also})",
            targets.join(", ")
        ),
        ctx.compose_cmd(&args)?,
    );
    let names: Vec<&str> = waited.iter().map(|w| w.name.as_str()).collect();
    plan.push(
        format!(
            "Wait until {} {} healthy (or running, without a healthcheck; at most {timeout}s)",
            names.join(", "),
            if names.len() == 1 { "is" } else { "are" }
        ),
        Action::WaitForServices(WaitForServices {
            engine: ctx.engine()?.clone(),
            project: ctx.project.name.clone(),
            services: waited,
            timeout: Duration::from_secs(timeout),
            log_lines: LOG_LINES,
        }),
    );
    Ok(())
}

/// Every service except the database, those the database depends on (said
/// so), and those whose profiles are not active (`COMPOSE_PROFILES`).
fn default_targets(
    ctx: &Context,
    dbs: &[String],
    held: &[(String, BTreeSet<String>)],
) -> Vec<String> {
    let active: Vec<&str> = ctx
        .project
        .env
        .get("COMPOSE_PROFILES")
        .map(|p| p.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for s in ctx.project.services.values() {
        if dbs.contains(&s.name) {
            continue;
        }
        if let Some((db, _)) = held.iter().find(|(_, deps)| deps.contains(&s.name)) {
            ctx.ui.info(&format!(
                "Not deploying {}: the database service {db} depends on it, and recreating it would restart the database",
                s.name
            ));
            continue;
        }
        if !s.profiles.is_empty() && !s.profiles.iter().any(|p| active.contains(&p.as_str())) {
            continue;
        }
        out.push(s.name.clone());
    }
    out
}

/// The services `service` depends on, directly or not.
fn dependencies_of(project: &Project, service: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![service.to_string()];
    while let Some(s) = todo.pop() {
        for d in project
            .services
            .get(&s)
            .map(|s| s.depends_on.as_slice())
            .unwrap_or_default()
        {
            if out.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    out.remove(service);
    out
}

/// The services that depend on any of `services`, directly or not.
fn dependents_of(project: &Project, services: &[String]) -> Vec<String> {
    project
        .services
        .keys()
        .filter(|s| {
            let deps = dependencies_of(project, s);
            services.iter().any(|t| deps.contains(t))
        })
        .cloned()
        .collect()
}

/// Checks every database container as [`check_database`] does; the lines
/// that say so, one per database that ran (None when none ran).
fn check_databases(ctx: &Context, before: &[(&str, Option<Container>)]) -> Result<Option<String>> {
    let mut lines = Vec::new();
    for (service, c) in before {
        lines.extend(check_database(ctx, service, c.as_ref())?);
    }
    Ok((!lines.is_empty()).then(|| lines.join("\n")))
}

/// Checks that the database container is the one that ran before the
/// deploy, started at the same time. Returns the line that says so (None
/// when it was not running before), or an error when it was restarted.
fn check_database(
    ctx: &Context,
    service: &str,
    before: Option<&Container>,
) -> Result<Option<String>> {
    let Some(before) = before else {
        return Ok(None);
    };
    let after = ctx
        .engine()?
        .running_container(&ctx.project.name, service)?;
    match after {
        Some(a) if a.id == before.id && a.started_at == before.started_at => Ok(Some(format!(
            "The database was not touched: {} ({}) running since {}",
            a.name,
            short(&a.id),
            a.started_at.as_deref().unwrap_or("?")
        ))),
        _ => Err(Error::new(format!(
            "the database container of service {service} was restarted or replaced during the deploy (it was {} ({}), started {}); its data is kept in its volume",
            before.name,
            short(&before.id),
            before.started_at.as_deref().unwrap_or("?")
        ))
        .hint(format!(
            "this should never happen: check it answers with budgie status, and report how the compose file ties {service} to the deployed services"
        ))),
    }
}

/// Says what runs now, per deployed service.
fn report(ctx: &Context, targets: &[String], dependents: &[String]) -> Result<()> {
    let containers = ctx.engine()?.containers(&ctx.project.name)?;
    for name in targets.iter().chain(dependents) {
        let verb = if targets.contains(name) {
            "Deployed"
        } else {
            "Recreated (it depends on a deployed service)"
        };
        for c in containers.iter().filter(|c| &c.service == name) {
            let state = match (&c.health, c.running) {
                (Some(h), _) => h.clone(),
                (None, true) => "running".into(),
                (None, false) => format!("finished (exit {})", c.exit_code.unwrap_or(0)),
            };
            ctx.ui.success(&format!(
                "{verb} {name}: {} ({}, image {}), {}",
                c.name,
                short(&c.id),
                c.image,
                ctx.ui.state(&state)
            ));
        }
    }
    Ok(())
}

/// The first 12 characters of a container id, as the engines show it.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(yaml: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yml"), yaml).unwrap();
        crate::compose::load(&crate::compose::LoadOptions {
            directory: dir.path().to_path_buf(),
            files: Vec::new(),
            project_name: Some("p".into()),
            env: Default::default(),
        })
        .unwrap()
    }

    #[test]
    fn what_the_database_depends_on_is_never_deployed() {
        let p = project(
            "services:\n  vault: {image: v}\n  cfg: {image: c, depends_on: [vault]}\n  db: {image: postgres, depends_on: [cfg]}\n  app: {image: a, depends_on: [db]}\n  worker: {image: w, depends_on: [app]}\n",
        );
        let held = dependencies_of(&p, "db");
        assert_eq!(
            held,
            BTreeSet::from(["cfg".to_string(), "vault".to_string()])
        );
        assert_eq!(dependents_of(&p, &["app".to_string()]), ["worker"]);
        assert!(dependents_of(&p, &["cfg".to_string()]).contains(&"db".to_string()));
    }
}
