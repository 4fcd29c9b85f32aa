//! `budgie config`: the resolved project as budgie understands it. Secret
//! values are shown as `***`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::compose::{
    BudgieConfig, Database, DatabaseStatus, MountKind, NameSource, Service, Storage, Volume,
};
use crate::context::Context;
use crate::error::Result;

#[derive(Serialize)]
struct ServiceDoc<'a> {
    image: Option<&'a str>,
    build: bool,
    container_name: Option<&'a str>,
    depends_on: &'a [String],
    healthcheck: bool,
    mounts: &'a [crate::compose::Mount],
    /// Secret values are `***`.
    environment: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct ConfigDoc<'a> {
    project: &'a str,
    name_source: NameSource,
    directory: String,
    files: Vec<String>,
    services: BTreeMap<&'a str, ServiceDoc<'a>>,
    volumes: &'a [Volume],
    /// The primary database (the one `psql` opens), as before.
    database: &'a DatabaseStatus,
    /// Every database service of the stack, the primary first.
    databases: &'a [Database],
    backup_dir: String,
    /// The engine and where it is, as budgie would use them (null when no
    /// engine is installed).
    engine: Option<EngineDoc<'a>>,
    x_budgie: &'a BudgieConfig,
}

#[derive(Serialize)]
struct EngineDoc<'a> {
    kind: crate::engine::EngineKind,
    program: &'a str,
    endpoint: &'a crate::engine::Endpoint,
}

pub fn run(ctx: &Context) -> Result<i32> {
    let p = &ctx.project;
    // A bad endpoint (`--engine-host`, `DOCKER_HOST`...) is an error here
    // too; an engine that is not installed is only shown as none.
    // Chosen, not connected: config talks to no engine.
    let chosen = crate::context::choose_engine(&ctx.global, &p.env);
    let engine = match &chosen {
        Ok(e) => Some(e),
        Err(e) if e.exit == crate::error::Exit::Usage => return Err(e.clone()),
        Err(_) => None,
    };
    let secrets = p.secrets();
    let doc = ConfigDoc {
        project: &p.name,
        name_source: p.name_source,
        directory: p.dir.display().to_string(),
        files: p.files.iter().map(|f| f.display().to_string()).collect(),
        services: p
            .services
            .iter()
            .map(|(name, s)| {
                (
                    name.as_str(),
                    ServiceDoc {
                        image: s.image.as_deref(),
                        build: s.build,
                        container_name: s.container_name.as_deref(),
                        depends_on: &s.depends_on,
                        healthcheck: s.healthcheck,
                        mounts: &s.mounts,
                        environment: s.display_environment(&secrets),
                    },
                )
            })
            .collect(),
        volumes: &p.volumes,
        database: &p.database,
        databases: p.databases(),
        backup_dir: ctx.backup_dir().display().to_string(),
        engine: engine.map(|e| EngineDoc {
            kind: e.kind,
            program: &e.program,
            endpoint: &e.endpoint,
        }),
        x_budgie: &p.config,
    };
    if ctx.global.json {
        // Secrets are masked where they are (environment values, the
        // password); names print exactly.
        crate::commands::print_json(&doc)?;
        return Ok(0);
    }
    print_human(ctx, &secrets, engine);
    Ok(0)
}

/// The project as a person reads it, section by section.
fn print_human(ctx: &Context, secrets: &[String], engine: Option<&crate::engine::Engine>) {
    let p = &ctx.project;
    let say = |s: String| ctx.ui.print(&s);
    say(format!(
        "project:   {} (from {})",
        p.name,
        source(p.name_source)
    ));
    say(format!("directory: {}", p.dir.display()));
    say(format!("files:     {}", p.files_display()));
    say(format!("backups:   {}", ctx.backup_dir().display()));
    // The engine's endpoint, when it is not this machine's default one.
    if let Some(e) = engine.filter(|e| !e.endpoint.is_default()) {
        say(format!(
            "engine:    {} at {} (from {})",
            e.kind, e.endpoint, e.endpoint.source
        ));
    }
    say(String::new());
    say("services:".into());
    for (name, s) in &p.services {
        for line in service_lines(name, s, secrets) {
            say(line);
        }
    }
    say(String::new());
    if p.volumes.is_empty() {
        say("volumes:   none".into());
    } else {
        say("volumes:".into());
        for v in &p.volumes {
            say(volume_line(v));
        }
    }
    say(String::new());
    match &p.database {
        DatabaseStatus::Found(_) => {
            for db in p.databases() {
                for line in database_lines(db) {
                    say(line);
                }
            }
        }
        DatabaseStatus::None => say("database:  none found".into()),
        DatabaseStatus::Ambiguous { candidates } => {
            ctx.ui.warn(&format!(
                "several services could be the database: {}; say which in x-budgie.database.service",
                candidates.join(", ")
            ));
        }
    }
}

fn service_lines(name: &str, s: &Service, secrets: &[String]) -> Vec<String> {
    let what = match (&s.image, s.build) {
        (Some(i), true) => format!("{i} (built)"),
        (Some(i), false) => i.clone(),
        (None, true) => "(built)".into(),
        (None, false) => "(no image)".into(),
    };
    let mut out = vec![format!("  {name}: {what}")];
    if let Some(c) = &s.container_name {
        out.push(format!("    container_name: {c}"));
    }
    if !s.depends_on.is_empty() {
        out.push(format!("    depends on: {}", s.depends_on.join(", ")));
    }
    for m in &s.mounts {
        let src = match &m.kind {
            MountKind::Volume { key } => format!("volume {key}"),
            MountKind::Bind { source, .. } => format!("bind {source}"),
            MountKind::Anonymous => "anonymous volume".into(),
            MountKind::Other { kind } => kind.clone(),
        };
        let ro = if m.read_only { " (read-only)" } else { "" };
        out.push(format!("    mount: {src} -> {}{ro}", m.target));
    }
    for (k, v) in s.display_environment(secrets) {
        out.push(format!("    env: {k}={v}"));
    }
    out
}

fn volume_line(v: &Volume) -> String {
    let mut notes = Vec::new();
    if v.database {
        notes.push("database".to_string());
    }
    if v.external {
        notes.push("external, never deleted".to_string());
    }
    if v.disposable {
        notes.push("disposable".to_string());
    }
    if !v.services.is_empty() {
        notes.push(format!("used by {}", v.services.join(", ")));
    }
    format!("  {} -> {} ({})", v.key, v.name, notes.join("; "))
}

fn database_lines(db: &Database) -> Vec<String> {
    let pw = match (&db.password_var, &db.password) {
        (Some(var), Some(_)) => format!("{var}=***"),
        (Some(var), None) => format!("{var} (no value)"),
        (None, _) => "none".into(),
    };
    vec![
        format!(
            "database:  service {} ({}, found by {})",
            db.service,
            db.kind.label(),
            format!("{:?}", db.detected_by).to_lowercase()
        ),
        format!("  user: {}", db.user),
        format!("  name: {}", db.shown_name()),
        format!("  password: {pw}"),
        format!(
            "  data: {} in {}",
            db.data_dir,
            match &db.storage {
                Storage::Volume { key } => format!("volume {key}"),
                Storage::Bind { path } => format!("host directory {path}"),
                Storage::Container =>
                    "the container's anonymous volume (lost when it is recreated!)".into(),
            }
        ),
    ]
    .into_iter()
    .chain(db.problem.iter().map(|p| format!("  PROBLEM: {p}")))
    .collect()
}

fn source(s: NameSource) -> &'static str {
    match s {
        NameSource::Flag => "-p",
        NameSource::Environment => "COMPOSE_PROJECT_NAME",
        NameSource::ComposeFile => "name: in the compose file",
        NameSource::Directory => "the directory name",
    }
}
