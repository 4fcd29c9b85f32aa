//! start, stop, restart, build, logs, shell, psql: the commands that keep
//! every volume. They become plans of compose (or engine) commands.

use crate::compose::DbKind;
use crate::context::Context;
use crate::error::Result;
use crate::execute::run_plan;
use crate::plan::Plan;
use crate::steps::{self, list, running};

/// The engine must answer before anything is planned against it.
fn ready(ctx: &Context) -> Result<()> {
    if !ctx.global.dry_run {
        ctx.engine()?.ping()?;
    }
    Ok(())
}

pub fn start(ctx: &Context, build: bool, services: &[String]) -> Result<i32> {
    ctx.project.check_services(services)?;
    warn_about_the_data(ctx);
    ready(ctx)?;
    let mut plan = Plan::new();
    steps::start(ctx, &mut plan, build, services)?;
    let status = run_plan(ctx, "start", &plan)?;
    after_start(ctx)?;
    Ok(status)
}

/// Before anything starts: a database whose data would not survive (no
/// volume holds it) or whose server would not start (PostgreSQL 18 with
/// its volume at the old path) is said loudly, with the fix, even with -q.
/// So is a relative bind mount when the engine is on another machine.
fn warn_about_the_data(ctx: &Context) {
    for problem in ctx
        .project
        .databases()
        .iter()
        .filter_map(|d| d.problem.as_ref())
    {
        ctx.ui.unquiet().warn(problem);
    }
    if let Ok(e) = ctx.engine() {
        crate::inventory::warn_misplaced(&ctx.ui, &ctx.project, &e.endpoint);
    }
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
    steps::stop(ctx, &mut plan, services)?;
    run_plan(ctx, "stop", &plan)
}

pub fn restart(ctx: &Context, build: bool, services: &[String]) -> Result<i32> {
    ctx.project.check_services(services)?;
    warn_about_the_data(ctx);
    ready(ctx)?;
    let mut plan = Plan::new();
    steps::stop(ctx, &mut plan, services)?;
    steps::start(ctx, &mut plan, build, services)?;
    let status = run_plan(ctx, "restart", &plan)?;
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
    run_plan(ctx, "build", &plan)
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
    run_plan(ctx, "logs", &plan)
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
    run_plan(ctx, "shell", &plan)
}

pub fn psql(ctx: &Context, service: Option<&str>, extra: &[String]) -> Result<i32> {
    let db = ctx.project.database_of(service)?;
    let container = running(ctx, &db.service)?;
    let engine = ctx.engine()?;
    let (var, client): (&str, Vec<&str>) = match db.kind {
        DbKind::Postgres => ("PGPASSWORD", vec!["psql", "-U", &db.user, "-d", &db.name]),
        DbKind::Mariadb => ("MYSQL_PWD", vec!["mariadb", "-u", &db.user, &db.name]),
    };
    let env: Vec<(String, crate::compose::Secret)> = db
        .password
        .iter()
        .map(|p| (var.to_string(), p.clone()))
        .collect();
    let mut command = client;
    // A service that names no database: the client opens none.
    command.retain(|a| !a.is_empty());
    command.extend(extra.iter().map(String::as_str));
    let cmd = engine.exec(&container.id, true, ctx.ui.stdin_tty, &env, &command);
    let mut plan = Plan::new();
    plan.interactive(
        format!(
            "Open {} on database {} as {} ({})",
            command[0],
            db.shown_name(),
            db.user,
            container.name
        ),
        cmd,
    );
    run_plan(ctx, "psql", &plan)
}
