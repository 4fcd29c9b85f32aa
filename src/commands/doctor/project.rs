//! The checks of the project as compose and the engine see it: the compose
//! files load, the database service is found and accepts connections, the
//! declared volumes exist, and no volume of the project was left
//! undeclared (it may still hold data).

use std::collections::BTreeSet;

use super::check::{
    COMPOSE_FILES, Check, DATABASE_ANSWERING, DATABASE_SERVICE, MISSING_VOLUMES, ORPHAN_VOLUMES,
    SNAPSHOTS,
};
use crate::compose::{self, DatabaseStatus, Project, Storage};
use crate::engine::{Container, Engine};
use crate::error::Result;

pub(super) fn files_check(project: &Project) -> Check {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut detail = format!(
        "{} ({}, {})",
        project.files_display(),
        plural(project.services.len(), "service"),
        plural(project.volumes.len(), "named volume")
    );
    if !project.warnings.is_empty() {
        detail.push_str(&format!("; warnings: {}", project.warnings.join("; ")));
    }
    Check::pass(COMPOSE_FILES, detail)
}

pub(super) fn database_service(project: &Project) -> Check {
    match &project.database {
        DatabaseStatus::Found(_) => Check::all(
            DATABASE_SERVICE,
            project.databases().iter().map(one_database).collect(),
        ),
        _ => match project.database() {
            Err(e) => Check::error(DATABASE_SERVICE, e),
            Ok(_) => unreachable!("database() agrees with DatabaseStatus"),
        },
    }
}

/// The database-service check of one database.
fn one_database(db: &compose::Database) -> Check {
    match &db.problem {
        Some(problem) => Check::fail(
            DATABASE_SERVICE,
            format!("{} (database {}): {problem}", db.service, db.shown_name()),
            Some(format!(
                "fix the compose file, then check again: budgie doctor (the data directory is {})",
                db.data_dir
            )),
        ),
        None => Check::pass(
            DATABASE_SERVICE,
            format!(
                "{} ({} database {}, user {}, data in {})",
                db.service,
                db.kind.label(),
                db.shown_name(),
                db.user,
                match &db.storage {
                    Storage::Volume { key } => format!("volume {key}"),
                    Storage::Bind { path } => format!("host directory {path}"),
                    Storage::Container => "the container".into(),
                }
            ),
        ),
    }
}

/// What the engine says of the project: its containers, which declared
/// volumes exist, and the volumes labelled as the project's.
pub(super) struct EngineView {
    containers: Vec<Container>,
    existing: BTreeSet<String>,
    labelled: Vec<String>,
}

impl EngineView {
    pub(super) fn read(engine: &Engine, project: &Project) -> Result<EngineView> {
        let names: Vec<&str> = project.volumes.iter().map(|v| v.name.as_str()).collect();
        let containers = engine.containers(&project.name)?;
        let existing = engine
            .volumes(&names)?
            .into_iter()
            .map(|v| v.name)
            .collect();
        let labelled = engine.project_volume_names(&project.name)?;
        Ok(EngineView {
            containers,
            existing,
            labelled,
        })
    }
}

pub(super) fn database_answering(
    engine: &Engine,
    view: &EngineView,
    db: &compose::Database,
) -> Check {
    let Some(c) = view
        .containers
        .iter()
        .filter(|c| c.service == db.service && c.running)
        .max_by_key(|c| c.number)
    else {
        return Check::fail(
            DATABASE_ANSWERING,
            format!("the {} container is not running", db.service),
            Some("start it: budgie start".into()),
        );
    };
    let probe = crate::databases::isready_command(engine, &c.id, db);
    let tool = crate::databases::isready_name(db);
    let out = match probe.output() {
        Ok(o) => o,
        Err(e) => return Check::error(DATABASE_ANSWERING, e),
    };
    if out.status.success() {
        return Check::pass(
            DATABASE_ANSWERING,
            format!("{} accepts connections ({tool} in {})", db.service, c.name),
        );
    }
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let what = match out.status.code() {
        Some(1) => "rejects connections (still starting?)".to_string(),
        Some(2) => "does not respond".to_string(),
        Some(126) | Some(127) => format!("cannot be asked: no {tool} in {}", c.name),
        _ if !said.is_empty() => format!("does not answer: {said}"),
        _ => format!("does not answer {tool}"),
    };
    Check::fail(
        DATABASE_ANSWERING,
        format!("{} is running but {what}", db.service),
        Some(format!("see what it says: budgie logs {}", db.service)),
    )
}

pub(super) fn missing_volumes(engine: &Engine, project: &Project, view: &EngineView) -> Check {
    let missing: Vec<&compose::Volume> = project
        .volumes
        .iter()
        .filter(|v| !view.existing.contains(&v.name))
        .collect();
    if project.volumes.is_empty() {
        return Check::pass(MISSING_VOLUMES, "no named volumes declared");
    }
    if missing.is_empty() {
        return Check::pass(
            MISSING_VOLUMES,
            format!("all {} declared volumes exist", project.volumes.len()),
        );
    }
    let show = |vs: &[&compose::Volume]| {
        vs.iter()
            .map(|v| format!("{} ({})", v.key, v.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (external, own): (Vec<&compose::Volume>, Vec<&compose::Volume>) =
        missing.iter().partition(|v| v.external);
    if !external.is_empty() {
        let first = &external[0].name;
        return Check::fail(
            MISSING_VOLUMES,
            format!("external volumes missing: {}", show(&external)),
            Some(format!(
                "compose does not create external volumes: {} volume create {first}",
                engine.program
            )),
        );
    }
    if view.containers.is_empty() {
        return Check::info(
            MISSING_VOLUMES,
            format!(
                "not created yet: {} (budgie start creates them)",
                show(&own)
            ),
        );
    }
    Check::fail(
        MISSING_VOLUMES,
        format!(
            "declared but missing although the project has containers: {}",
            show(&own)
        ),
        Some(
            "budgie restart creates them empty; if one held data, restore it \
             (budgie restore --latest, or budgie restore ARCHIVE --volume KEY)"
                .into(),
        ),
    )
}

pub(super) fn orphan_volumes(engine: &Engine, project: &Project, view: &EngineView) -> Check {
    let declared: BTreeSet<&str> = project.volumes.iter().map(|v| v.name.as_str()).collect();
    let orphans: Vec<&str> = view
        .labelled
        .iter()
        .map(String::as_str)
        .filter(|n| !declared.contains(n))
        .collect();
    if orphans.is_empty() {
        return Check::pass(
            ORPHAN_VOLUMES,
            format!("no volume of project {} left undeclared", project.name),
        );
    }
    Check::fail(
        ORPHAN_VOLUMES,
        format!(
            "volumes of project {} no longer declared: {}",
            project.name,
            orphans.join(", ")
        ),
        Some(format!(
            "they may still hold data: declare them again under volumes: to keep them, \
             or look inside ({} volume inspect {}) before removing them yourself",
            engine.program, orphans[0]
        )),
    )
}

/// The snapshots of each running PostgreSQL database, with the space they
/// take: worth knowing, not a failure (they are no backups and go with the
/// volume). None when there are none.
pub(super) fn snapshots(ctx: &crate::context::Context) -> Option<Check> {
    let parts: Vec<String> = ctx
        .project
        .databases()
        .iter()
        .filter_map(|db| {
            let (n, bytes) = crate::snapshots::summary(ctx, db)?;
            (n > 0).then(|| {
                format!(
                    "{}: {} ({})",
                    db.name,
                    crate::ui::count(n, "snapshot", "snapshots"),
                    crate::ui::human_bytes(bytes)
                )
            })
        })
        .collect();
    (!parts.is_empty()).then(|| {
        Check::info(
            SNAPSHOTS,
            format!(
                "{} in the databases' volumes; not backups: a deleted volume takes them along (budgie snapshot list)",
                parts.join("; ")
            ),
        )
    })
}
