//! start, stop, restart, build, logs, shell, psql: the commands that keep
//! every volume. They become plans of compose (or engine) commands.

use crate::context::Context;
use crate::engine::{ComposeFlavor, Container};
use crate::error::{Error, Result};
use crate::plan::{Plan, WaitForDatabase};
use std::time::Duration;

fn list(services: &[String]) -> String {
    if services.is_empty() {
        "all services".to_string()
    } else {
        format!(
            "service{} {}",
            if services.len() == 1 { "" } else { "s" },
            services.join(", ")
        )
    }
}

fn add_start(ctx: &Context, plan: &mut Plan, build: bool, services: &[String]) -> Result<()> {
    let mut args: Vec<String> = vec!["up".into(), "-d".into()];
    if build {
        args.push("--build".into());
    }
    args.extend(services.iter().cloned());
    plan.run(format!("Start {}", list(services)), ctx.compose_cmd(&args)?);
    // Started means usable: wait for the database when it was (re)started.
    if let Ok(db) = ctx.project.database()
        && (services.is_empty() || services.contains(&db.service))
    {
        plan.wait(
            format!(
                "Wait for the database ({}) to accept connections",
                db.service
            ),
            wait_for_database(ctx)?,
        );
    }
    Ok(())
}

/// A plan that starts only the database service and waits until it
/// accepts connections (for a backup or restore of a stopped stack).
pub fn start_database_plan(ctx: &Context) -> Result<Plan> {
    let db = ctx.project.database()?;
    let mut plan = Plan::new();
    plan.run(
        format!("Start the database service {} only", db.service),
        ctx.compose_cmd(&["up", "-d", "--no-deps", &db.service])?,
    );
    plan.wait(
        format!(
            "Wait for the database ({}) to accept connections",
            db.service
        ),
        wait_for_database(ctx)?,
    );
    Ok(plan)
}

/// How long `start` waits for the database: `BUDGIE_WAIT_SECONDS`, default 120.
pub fn wait_for_database(ctx: &Context) -> Result<WaitForDatabase> {
    let db = ctx.project.database()?;
    let secs = match ctx.project.env.get("BUDGIE_WAIT_SECONDS") {
        Some(s) => s.trim().parse::<u64>().map_err(|_| {
            Error::usage(format!(
                "BUDGIE_WAIT_SECONDS={s}: expected a number of seconds"
            ))
        })?,
        None => 120,
    };
    Ok(WaitForDatabase {
        engine: ctx.engine()?.clone(),
        project: ctx.project.name.clone(),
        service: db.service.clone(),
        user: db.user.clone(),
        database: db.name.clone(),
        timeout: Duration::from_secs(secs),
    })
}

/// Stopping removes containers and keeps volumes (`down`, never `-v`). For
/// single services: podman-compose takes `down SERVICE...`; the docker tools
/// take `rm --stop --force SERVICE...` (docker-compose 1.x `down` takes no
/// services).
pub fn add_stop(ctx: &Context, plan: &mut Plan, services: &[String]) -> Result<()> {
    let what = format!("Stop {} (containers removed, volumes kept)", list(services));
    if services.is_empty() {
        plan.run(what, ctx.compose_cmd(&["down"])?);
        return Ok(());
    }
    let flavor = ctx.engine()?.compose()?.flavor;
    let mut args: Vec<String> = match flavor {
        ComposeFlavor::PodmanCompose => vec!["down".into()],
        ComposeFlavor::DockerComposeV1 | ComposeFlavor::DockerComposeV2 => {
            vec!["rm".into(), "--stop".into(), "--force".into()]
        }
    };
    args.extend(services.iter().cloned());
    plan.run(what, ctx.compose_cmd(&args)?);
    Ok(())
}

/// The engine must answer before anything is planned against it.
fn ready(ctx: &Context) -> Result<()> {
    if !ctx.global.dry_run {
        ctx.engine()?.ping()?;
    }
    Ok(())
}

pub fn start(ctx: &Context, build: bool, services: &[String]) -> Result<i32> {
    ctx.project.check_services(services)?;
    ready(ctx)?;
    let mut plan = Plan::new();
    add_start(ctx, &mut plan, build, services)?;
    let status = ctx.run_plan("start", &plan)?;
    after_start(ctx)?;
    Ok(status)
}

/// A repair that waited for the database to run (`crate::recover`) can
/// happen now.
fn after_start(ctx: &Context) -> Result<()> {
    if ctx.global.dry_run {
        return Ok(());
    }
    crate::recover::check(ctx)
}

pub fn stop(ctx: &Context, services: &[String]) -> Result<i32> {
    ctx.project.check_services(services)?;
    ready(ctx)?;
    let mut plan = Plan::new();
    add_stop(ctx, &mut plan, services)?;
    ctx.run_plan("stop", &plan)
}

pub fn restart(ctx: &Context, build: bool, services: &[String]) -> Result<i32> {
    ctx.project.check_services(services)?;
    ready(ctx)?;
    let mut plan = Plan::new();
    add_stop(ctx, &mut plan, services)?;
    add_start(ctx, &mut plan, build, services)?;
    let status = ctx.run_plan("restart", &plan)?;
    after_start(ctx)?;
    Ok(status)
}

pub fn build(ctx: &Context, services: &[String]) -> Result<i32> {
    ctx.project.check_services(services)?;
    let buildable: Vec<String> = ctx
        .project
        .services
        .values()
        .filter(|s| s.build && (services.is_empty() || services.contains(&s.name)))
        .map(|s| s.name.clone())
        .collect();
    if buildable.is_empty() {
        ctx.ui.info(&format!(
            "nothing to build: {} no build section (images are pulled or local)",
            if services.is_empty() {
                "no service has".to_string()
            } else {
                format!(
                    "{} {}",
                    list(services),
                    if services.len() == 1 { "has" } else { "have" }
                )
            }
        ));
        return Ok(0);
    }
    ready(ctx)?;
    let mut args: Vec<String> = vec!["build".into()];
    args.extend(buildable.iter().cloned());
    let mut plan = Plan::new();
    plan.run(
        format!("Build {}", list(&buildable)),
        ctx.compose_cmd(&args)?,
    );
    ctx.run_plan("build", &plan)
}

pub fn logs(ctx: &Context, follow: bool, tail: Option<u32>, services: &[String]) -> Result<i32> {
    ctx.project.check_services(services)?;
    ready(ctx)?;
    let mut args: Vec<String> = vec!["logs".into()];
    if follow {
        args.push("-f".into());
    }
    if let Some(n) = tail {
        args.push("--tail".into());
        args.push(n.to_string());
    }
    args.extend(services.iter().cloned());
    let mut plan = Plan::new();
    plan.interactive(
        format!("Show the logs of {}", list(services)),
        ctx.compose_cmd(&args)?,
    );
    ctx.run_plan("logs", &plan)
}

/// The running container of a service, or an error that says how to start it.
pub fn running(ctx: &Context, service: &str) -> Result<Container> {
    let engine = ctx.engine()?;
    engine
        .running_container(&ctx.project.name, service)?
        .ok_or_else(|| {
            Error::new(format!(
                "service {service} of project {} is not running",
                ctx.project.name
            ))
            .hint(format!("start it: budgie start {service}"))
        })
}

pub fn shell(ctx: &Context, service: &str) -> Result<i32> {
    ctx.project.check_services(&[service.to_string()])?;
    let container = running(ctx, service)?;
    let engine = ctx.engine()?;
    let tty = ctx.ui.stdin_tty;
    let cmd = engine.exec(
        &container.id,
        true,
        tty,
        &[],
        &[
            "sh",
            "-c",
            "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi",
        ],
    );
    let mut plan = Plan::new();
    plan.interactive(
        format!("Open a shell in {} ({})", service, container.name),
        cmd,
    );
    ctx.run_plan("shell", &plan)
}

pub fn psql(ctx: &Context, extra: &[String]) -> Result<i32> {
    let db = ctx.project.database()?;
    let container = running(ctx, &db.service)?;
    let engine = ctx.engine()?;
    let env: Vec<(String, crate::compose::Secret)> = db
        .password
        .iter()
        .map(|p| ("PGPASSWORD".to_string(), p.clone()))
        .collect();
    let mut command: Vec<&str> = vec!["psql", "-U", &db.user, "-d", &db.name];
    command.extend(extra.iter().map(String::as_str));
    let cmd = engine.exec(&container.id, true, ctx.ui.stdin_tty, &env, &command);
    let mut plan = Plan::new();
    plan.interactive(
        format!(
            "Open psql on database {} as {} ({})",
            db.name, db.user, container.name
        ),
        cmd,
    );
    ctx.run_plan("psql", &plan)
}
