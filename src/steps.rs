//! The steps plans are made of, built in one place for every command and
//! for the gate: compose up and down, starting the database alone, waiting
//! for it, dumping it, archiving a volume. A dump step is the same whether
//! `backup`, `deploy` or the gate asks for it, so what `--dry-run` shows is
//! what runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Local};

use crate::backup::Target;
use crate::compose::{Compression, Database, DumpFormat, Volume};
use crate::context::Context;
use crate::engine::{ComposeFlavor, Container};
use crate::error::{Error, Result};
use crate::inventory::HostDir;
use crate::plan::{
    Action, Archive, ArchiveDir, Dump, Plan, Quiet, Reason, StartDatabase, Step, Stillness,
    WriteSet,
};
use crate::wait::WaitForDatabase;

/// "all services", "service db", "services db, app".
pub fn list(services: &[String]) -> String {
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

/// `up -d [--build] [SERVICE...]`, then — when the database is among them —
/// a wait until it accepts connections: started means usable.
pub fn start(ctx: &Context, plan: &mut Plan, build: bool, services: &[String]) -> Result<()> {
    let mut args: Vec<String> = vec!["up".into(), "-d".into()];
    if build {
        args.push("--build".into());
    }
    args.extend(services.iter().cloned());
    plan.run(format!("Start {}", list(services)), ctx.compose_cmd(&args)?);
    for db in ctx.project.databases() {
        if services.is_empty() || services.contains(&db.service) {
            plan.push(
                format!(
                    "Wait for the database ({}) to accept connections",
                    db.service
                ),
                Action::WaitForDatabase(Box::new(wait_for_database(ctx, db)?)),
            );
        }
    }
    Ok(())
}

/// Stopping removes containers and keeps volumes (`down`, never `-v`).
pub fn stop(ctx: &Context, plan: &mut Plan, services: &[String]) -> Result<()> {
    plan.run(
        format!("Stop {} (containers removed, volumes kept)", list(services)),
        stop_cmd(ctx, services)?,
    );
    Ok(())
}

/// The compose call that stops services. For single services podman-compose
/// takes `down SERVICE...`; the docker tools take `rm --stop --force
/// SERVICE...` (docker-compose 1.x `down` takes no services).
fn stop_cmd(ctx: &Context, services: &[String]) -> Result<crate::engine::Cmd> {
    if services.is_empty() {
        return ctx.compose_cmd(&["down"]);
    }
    let mut args: Vec<String> = match ctx.engine()?.compose()?.flavor {
        ComposeFlavor::PodmanCompose => vec!["down".into()],
        ComposeFlavor::DockerComposeV1 | ComposeFlavor::DockerComposeV2 => {
            vec!["rm".into(), "--stop".into(), "--force".into()]
        }
    };
    args.extend(services.iter().cloned());
    ctx.compose_cmd(&args)
}

/// How long to wait for the database `db`: `BUDGIE_WAIT_SECONDS`, default 120.
pub fn wait_for_database(ctx: &Context, db: &Database) -> Result<WaitForDatabase> {
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
        db: db.clone(),
        timeout: Duration::from_secs(secs),
    })
}

/// Starting the database service of `db` alone (`up -d --no-deps`),
/// waiting for it, and stopping it again.
pub fn start_database(ctx: &Context, db: &Database) -> Result<StartDatabase> {
    Ok(StartDatabase {
        service: db.service.clone(),
        up: ctx.compose_cmd(&["up", "-d", "--no-deps", &db.service])?,
        wait: wait_for_database(ctx, db)?,
        stop: stop_cmd(ctx, std::slice::from_ref(&db.service))?,
    })
}

/// Prepares a plan that needs the database `db` running (a restore loads
/// into it): starts its service unless it runs; it stays running. One
/// engine call, made when planning, like [`dump`]'s: a service running now
/// needs no step (and no compose tool, whose `version` takes most of a
/// second to answer); one that stops before the load fails the load,
/// nothing changed.
pub fn prepare_database(ctx: &Context, plan: &mut Plan, db: &Database) -> Result<()> {
    let engine = ctx.engine()?;
    if engine
        .running_container_id(&ctx.project.name, &db.service)?
        .is_some()
    {
        return Ok(());
    }
    let start = start_database(ctx, db)?;
    plan.prepare.push(Step {
        what: format!(
            "Start the database service {} unless it runs, and wait until it accepts connections",
            start.service
        ),
        action: Action::StartDatabase(Box::new(start)),
    });
    Ok(())
}

/// Where a backup of this project goes, stamped `at`.
pub fn target(ctx: &Context, at: DateTime<Local>, reason: Option<Reason>) -> Target {
    Target {
        dir: ctx.backup_dir(),
        project: ctx.project.name.clone(),
        at,
        reason: reason.map(|r| r.tag().to_string()),
        encrypt: ctx.project.config.backup.encrypt.clone(),
    }
}

/// A dump of the database `db`. A safety dump (`reason` given) saves the
/// volumes in `protects` for the gate, and its failure is exit 4.
pub fn dump(
    ctx: &Context,
    db: &Database,
    at: DateTime<Local>,
    reason: Option<Reason>,
    (format, compression): (DumpFormat, Compression),
    protects: Vec<String>,
) -> Result<Step> {
    let engine = ctx.engine()?;
    // One engine call, made when planning: the dump runs in the container
    // found now, or starts the service for itself when there is none.
    let container = engine.running_container_id(&ctx.project.name, &db.service)?;
    let start = match container {
        Some(_) => None,
        None => Some(start_database(ctx, db)?),
    };
    let d = Dump {
        engine: engine.clone(),
        project: ctx.project.name.clone(),
        db: db.clone(),
        target: target(ctx, at, reason),
        format,
        compression,
        container,
        start,
        protects,
        named: ctx.project.names_services(),
        safety: reason.is_some(),
    };
    Ok(Step {
        what: format!(
            "{} of database {}{} -> {} (temporary name first, checked, then renamed)",
            if d.safety { "Safety backup" } else { "Backup" },
            db.shown_name(),
            if d.named {
                format!(" (service {})", db.service)
            } else {
                String::new()
            },
            d.path().display()
        ),
        action: Action::Dump(Box::new(d)),
    })
}

/// The gate's safety snapshot of database `db` before `reason`
/// (`pre-restore-<stamp>`), in its own cluster.
pub fn snapshot(ctx: &Context, db: &Database, at: DateTime<Local>, reason: Reason) -> Result<Step> {
    let name = format!("{}-{}", reason.tag(), at.format("%Y%m%d_%H%M%S"));
    crate::databases::snapshot::check_name(&db.name, &name)?;
    let _ = ctx;
    Ok(Step {
        what: format!(
            "Safety snapshot {name} of database {} (in the database's cluster)",
            db.shown_name()
        ),
        action: Action::Snapshot(Box::new(crate::plan::TakeSnapshot {
            db: db.clone(),
            name,
            safety: true,
        })),
    })
}

/// The step that writes the manifest of the set the backups before it make.
pub fn write_set(ctx: &Context, at: DateTime<Local>, reason: Option<Reason>) -> Step {
    let w = WriteSet {
        target: target(ctx, at, reason),
    };
    Step {
        what: format!(
            "Write the {}set's manifest -> {}",
            if reason.is_some() { "safety " } else { "" },
            w.path().display()
        ),
        action: Action::WriteSet(Box::new(w)),
    }
}

/// An archive of a named volume's files (a safety one when `reason` is
/// given).
pub fn archive(
    ctx: &Context,
    volume: &Volume,
    at: DateTime<Local>,
    reason: Option<Reason>,
) -> Result<Step> {
    let engine = ctx.engine()?;
    let image = ctx.project.image_for_volume(volume);
    let a = Archive {
        volume: volume.name.clone(),
        key: volume.key.clone(),
        io: engine.volume_io(&volume.name, image.as_deref()),
        target: target(ctx, at, reason),
        safety: reason.is_some(),
        writers: None,
    };
    Ok(Step {
        what: format!(
            "{} of volume {} -> {}",
            if a.safety {
                "Safety archive"
            } else {
                "Archive"
            },
            volume.name,
            a.path().display()
        ),
        action: Action::Archive(Box::new(a)),
    })
}

/// The archive of host directory `dir` (a bind mount its services write).
pub fn archive_dir(
    ctx: &Context,
    dir: &HostDir,
    at: DateTime<Local>,
    reason: Option<Reason>,
) -> Step {
    let path = PathBuf::from(&dir.path);
    let a = ArchiveDir {
        key: crate::backup::dirs::dir_key(&ctx.project.dir, &path),
        path,
        target: target(ctx, at, reason),
        safety: reason.is_some(),
        writers: None,
    };
    Step {
        what: format!(
            "{} of host directory {} -> {}",
            if a.safety {
                "Safety archive"
            } else {
                "Archive"
            },
            dir.path,
            a.path().display()
        ),
        action: Action::ArchiveDir(Box::new(a)),
    }
}

/// The host directories a set archives: those that exist and are not a
/// database's data directory (databases are dumped) nor hold the backups
/// directory (an archive of itself). Each as the stand-in volume that
/// [`quiet`] takes (keyed like its archive, its services as writers).
pub fn set_dirs(ctx: &Context) -> Vec<(HostDir, Volume)> {
    let backups = ctx.backup_dir();
    crate::inventory::host_dirs(&ctx.project, ctx.engine_here())
        .into_iter()
        .filter(|d| d.exists)
        .filter(|d| {
            !ctx.project.databases().iter().any(|db| {
                matches!(&db.storage, crate::compose::Storage::Bind { path } if path == &d.path)
            })
        })
        .filter(|d| !backups.starts_with(&d.path))
        .map(|d| {
            let v = dir_as_volume(ctx, &d);
            (d, v)
        })
        .collect()
}

/// A host directory as the stand-in volume that [`quiet`] takes: keyed
/// like its archive, its services as writers.
pub fn dir_as_volume(ctx: &Context, d: &HostDir) -> Volume {
    Volume {
        key: crate::backup::dirs::dir_key(&ctx.project.dir, Path::new(&d.path)),
        name: d.path.clone(),
        external: false,
        disposable: false,
        services: d.services.clone(),
        writers: d.services.clone(),
        quiesce: Default::default(),
        database: false,
    }
}

/// What [`quiet`] plans.
pub struct Stilled {
    /// Pause or stop the writers (empty when none runs).
    pub before: Vec<Step>,
    /// Let them go on again.
    pub after: Vec<Step>,
    /// Per volume key, what its writers do meanwhile (for the report).
    pub said: Vec<(String, String)>,
}

/// The steps that keep still the running containers that write to
/// `volumes` while they are archived, and let them go on after: `how` of
/// each volume decides (None: copied live); a container that writes to
/// several is stopped if any says stop.
pub fn quiet(ctx: &Context, volumes: &[(&Volume, Option<Stillness>)]) -> Result<Stilled> {
    let wanted: Vec<&String> = volumes.iter().flat_map(|(v, _)| &v.writers).collect();
    if wanted.is_empty() {
        let said = volumes
            .iter()
            .map(|(v, _)| (v.key.clone(), "no service writes to it".to_string()))
            .collect();
        return Ok(Stilled {
            before: Vec::new(),
            after: Vec::new(),
            said,
        });
    }
    let engine = ctx.engine()?;
    let running: Vec<Container> = engine
        .containers(&ctx.project.name)?
        .into_iter()
        .filter(|c| c.running && wanted.contains(&&c.service))
        .collect();
    // Each running writer, kept still the strongest way any of its
    // volumes asks.
    let mut how_of: Vec<(&Container, Option<Stillness>)> = Vec::new();
    for c in &running {
        let mut how = None;
        for (v, h) in volumes {
            if v.writers.contains(&c.service) {
                how = match (how, h) {
                    (Some(Stillness::Stop), _) | (_, Some(Stillness::Stop)) => {
                        Some(Stillness::Stop)
                    }
                    (Some(Stillness::Pause), _) | (_, Some(Stillness::Pause)) => {
                        Some(Stillness::Pause)
                    }
                    _ => None,
                };
            }
        }
        how_of.push((c, how));
    }
    let mut before = Vec::new();
    let mut after = Vec::new();
    for how in [Stillness::Stop, Stillness::Pause] {
        let these: Vec<&Container> = how_of
            .iter()
            .filter(|(_, h)| *h == Some(how))
            .map(|(c, _)| *c)
            .collect();
        if these.is_empty() {
            continue;
        }
        let mut services: Vec<String> = these.iter().map(|c| c.service.clone()).collect();
        services.dedup();
        let q = Quiet {
            engine: engine.clone(),
            how,
            services: services.clone(),
            containers: these.iter().map(|c| c.name.clone()).collect(),
        };
        let (verb, back) = match how {
            Stillness::Stop => ("Stop", "Start"),
            Stillness::Pause => ("Pause", "Unpause"),
        };
        before.push(Step {
            what: format!(
                "{verb} {} (writes to the volumes archived next), so that the copy is still",
                services.join(", ")
            ),
            action: Action::Quiet(Box::new(q.clone())),
        });
        after.insert(
            0,
            Step {
                what: format!("{back} {} again", services.join(", ")),
                action: Action::Resume(Box::new(q)),
            },
        );
    }
    let said = said_of(volumes, &running, &how_of);
    Ok(Stilled {
        before,
        after,
        said,
    })
}

/// Per volume key, what its writers do while it is archived.
fn said_of(
    volumes: &[(&Volume, Option<Stillness>)],
    running: &[Container],
    how_of: &[(&Container, Option<Stillness>)],
) -> Vec<(String, String)> {
    volumes
        .iter()
        .map(|(v, h)| {
            let live: Vec<&str> = running
                .iter()
                .filter(|c| v.writers.contains(&c.service))
                .map(|c| c.service.as_str())
                .collect();
            let text = match (live.is_empty(), h) {
                (true, _) => "none of its writers runs".to_string(),
                (false, None) => format!(
                    "copied live: {} kept running (quiesce: none)",
                    live.join(", ")
                ),
                (false, Some(_)) => {
                    let word = |s: &str| {
                        how_of
                            .iter()
                            .find(|(c, _)| c.service == s)
                            .and_then(|(_, h)| *h)
                            .map(|h| {
                                if h == Stillness::Stop {
                                    "stopped"
                                } else {
                                    "paused"
                                }
                            })
                            .unwrap_or("running")
                    };
                    live.iter()
                        .map(|s| format!("{s} {}", word(s)))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            (v.key.clone(), text)
        })
        .collect()
}

/// The running container of a service, or an error that says how to start it.
pub fn running(ctx: &Context, service: &str) -> Result<Container> {
    ctx.engine()?
        .running_container(&ctx.project.name, service)?
        .ok_or_else(|| {
            Error::new(format!(
                "service {service} of project {} is not running",
                ctx.project.name
            ))
            .hint(format!("start it: budgie start {service}"))
        })
}
