//! `budgie restore --set STAMP`: a whole-stack set (`backup --all`, or the
//! safety set `clean` and `nuke` leave) put back behind one gate — every
//! database it holds swapped in as `restore FILE` does, every volume
//! replaced as `restore --volume` does, every host directory's contents
//! replaced (`restore::dir`).
//!
//! Before anything is touched, every member is checked against the
//! manifest (size and SHA-256) and validated as a dump or an archive, and
//! each must have a place in this stack (a database service, a volume);
//! any problem refuses the whole set, nothing changed.

use crate::backup::set::{self, SetFile};
use crate::cli::RestoreCommand;
use crate::compose::Volume;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::gate::{self, GateOptions};
use crate::inventory::HostDir;
use crate::plan::{Action, Plan, Reason, ReplaceDatabase, RestoreDir, RestoreVolume};
use crate::recover::lock;
use crate::restore::source::{self, Source};
use crate::steps;

/// What a set puts back, each member checked and placed.
struct Placed<'a> {
    dumps: Vec<(&'a crate::compose::Database, Source)>,
    volumes: Vec<(&'a Volume, Source)>,
    dirs: Vec<(HostDir, Source)>,
    /// Encrypted members decrypted into the backup directory (removed
    /// when this drops, after the plan ran).
    decrypted: Vec<crate::restore::unwrap::Unpacked>,
}

pub fn run(ctx: &Context, r: &RestoreCommand, which: &str) -> Result<i32> {
    let dir = ctx.backup_dir();
    let found = set::find(&dir, &ctx.project.name, which)?;
    let spinner = ctx.ui.spinner(&format!(
        "Checking the {} files of set {}",
        found.manifest.members.len(),
        found.id
    ));
    let problems = set::check(&found);
    spinner.clear();
    let problems = problems?;
    if !problems.is_empty() {
        return Err(Error::new(format!(
            "set {} cannot be restored; nothing was changed:\n  {}",
            found.id,
            problems.join("\n  ")
        ))
        .hint("budgie backup list shows the sets and their files"));
    }
    // Locked before encrypted members are decrypted into the backup
    // directory (the lock's crash recovery would take them for leftovers).
    let _lock = if ctx.global.dry_run {
        None
    } else {
        Some(lock(ctx, "restore --set")?)
    };
    let placed = place(ctx, &found)?;
    let engine = ctx.engine()?;
    if !ctx.global.dry_run {
        engine.ping()?;
    }
    let plan = build_plan(ctx, r, &placed)?;
    let ran = gate::run(
        ctx,
        plan,
        Reason::Restore,
        GateOptions {
            no_backup: r.no_backup,
            ..Default::default()
        },
    )?;
    if ctx.global.dry_run {
        return Ok(ran.status);
    }
    report(ctx, &found, &placed, &ran)?;
    Ok(ran.status)
}

/// Databases started, volume users stopped, volumes replaced, databases
/// swapped, users started again: the plan the gate gets.
fn build_plan(ctx: &Context, r: &RestoreCommand, placed: &Placed) -> Result<Plan> {
    let engine = ctx.engine()?;
    let mut plan = Plan::new();
    for (db, _) in &placed.dumps {
        steps::prepare_database(ctx, &mut plan, db)?;
    }
    // The services that use a restored volume stop first and start again
    // last — except the databases, which the restores need running.
    let mut users: Vec<String> = Vec::new();
    let services = placed
        .volumes
        .iter()
        .flat_map(|(v, _)| &v.services)
        .chain(placed.dirs.iter().flat_map(|(d, _)| &d.services));
    for s in services {
        if !users.contains(s) && !placed.dumps.iter().any(|(d, _)| &d.service == s) {
            users.push(s.clone());
        }
    }
    if !users.is_empty() {
        steps::stop(ctx, &mut plan, &users)?;
    }
    for (v, archive) in &placed.volumes {
        let io = engine
            .volume_io(&v.name, ctx.project.image_for_volume(v).as_deref())
            .map_err(Error::new)?;
        plan.push(
            format!(
                "Replace the contents of volume {} with {}",
                v.name,
                archive.shown()
            ),
            Action::RestoreVolume(Box::new(RestoreVolume {
                volume: v.name.clone(),
                io,
                archive: archive.clone(),
            })),
        );
    }
    let stamp = chrono::Local::now().format("%Y%m%d%H%M%S").to_string();
    for (d, archive) in &placed.dirs {
        plan.push(
            format!(
                "Replace the contents of host directory {} with {}",
                d.path,
                archive.shown()
            ),
            Action::RestoreDir(Box::new(RestoreDir {
                path: d.path.clone().into(),
                archive: archive.clone(),
                stamp: stamp.clone(),
            })),
        );
    }
    let parts = placed
        .dumps
        .iter()
        .map(|(db, source)| crate::restore::mariadb::parts(db, source))
        .collect::<Result<Vec<_>>>()?;
    for (db, source) in parts.iter().flatten() {
        plan.push(
            format!(
                "Load {} into a scratch database, check it, then swap it in for database {} (service {})",
                source.shown(),
                db.name,
                db.service
            ),
            Action::ReplaceDatabase(Box::new(ReplaceDatabase {
                engine: engine.clone(),
                project: ctx.project.name.clone(),
                db: db.clone(),
                source: source.clone(),
                keep_previous: r.keep_previous,
                stamp: stamp.clone(),
            })),
        );
    }
    if !users.is_empty() {
        let mut args = vec!["up".to_string(), "-d".to_string()];
        args.extend(users.iter().cloned());
        plan.run(
            format!("Start {} again", users.join(", ")),
            ctx.compose_cmd(&args)?,
        );
    }
    Ok(plan)
}

/// What came back, and (`--json`) where the data from before is.
fn report(
    ctx: &Context,
    found: &SetFile,
    placed: &Placed,
    ran: &crate::execute::Ran,
) -> Result<()> {
    let databases = crate::ui::count(ran.restored.len() as u64, "database", "databases");
    let volumes = crate::ui::count(placed.volumes.len() as u64, "volume", "volumes");
    let what = if placed.dirs.is_empty() {
        format!("{databases} and {volumes}")
    } else {
        let dirs = placed.dirs.len() as u64;
        format!(
            "{databases}, {volumes} and {}",
            crate::ui::count(dirs, "host directory", "host directories")
        )
    };
    ctx.ui
        .success(&format!("Set {} restored: {what}", found.id));
    if ctx.global.json {
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            set: &'a str,
            databases: Vec<&'a str>,
            volumes: Vec<&'a str>,
            directories: Vec<&'a str>,
            safety_backups: Vec<String>,
        }
        crate::commands::print_json(&Doc {
            set: &found.id,
            databases: ran.restored.iter().map(|d| d.database.as_str()).collect(),
            volumes: placed.volumes.iter().map(|(v, _)| v.key.as_str()).collect(),
            directories: placed.dirs.iter().map(|(d, _)| d.path.as_str()).collect(),
            safety_backups: ran
                .backups
                .iter()
                .map(|t| t.path.display().to_string())
                .collect(),
        })?;
    }
    Ok(())
}

/// Each member validated, with its place in this stack.
fn place<'a>(ctx: &'a Context, found: &SetFile) -> Result<Placed<'a>> {
    let dir = found.path.parent().unwrap_or(std::path::Path::new("."));
    let mut placed = Placed {
        dumps: Vec::new(),
        volumes: Vec::new(),
        dirs: Vec::new(),
        decrypted: Vec::new(),
    };
    let identity = identity_for_set(ctx, found)?;
    let host_dirs = crate::inventory::host_dirs(&ctx.project, ctx.engine_here());
    for m in &found.manifest.members {
        let named = dir.join(&m.file);
        let mut decrypted = None;
        if let Some(id) = identity.as_ref().filter(|_| is_encrypted(&named)) {
            decrypted = Some(crate::commands::restore_input::checking(
                ctx,
                &named,
                || crate::restore::unwrap::decrypt(&named, &ctx.backup_dir(), id),
            )?);
        }
        let path = decrypted.as_ref().map_or(named.clone(), |d| d.path.clone());
        let origin = decrypted.as_ref().map(|d| d.origin.clone());
        placed.decrypted.extend(decrypted);
        let validated = |check: fn(&std::path::Path) -> Result<Source>| {
            check(&path).map(|mut s| {
                s.origin = origin.clone();
                s
            })
        };
        let refuse = |why: String| {
            Error::new(format!(
                "set {}: {}: {why}; nothing was changed",
                found.id, m.file
            ))
        };
        match (m.kind.as_str(), &m.volume) {
            ("archive", Some(key)) => {
                let v = ctx
                    .project
                    .volumes
                    .iter()
                    .find(|v| &v.key == key)
                    .ok_or_else(|| refuse(format!("this stack has no volume {key}")))?;
                if v.external {
                    return Err(refuse(format!(
                        "volume {key} is external: budgie does not write into it"
                    )));
                }
                placed
                    .volumes
                    .push((v, validated(source::validate_archive)?));
            }
            ("archive", None) if m.directory.is_some() => {
                let host = m.directory.as_deref().unwrap_or_default();
                let d = host_dirs.iter().find(|d| d.path == host).ok_or_else(|| {
                    refuse(format!(
                        "no service of this stack mounts the host directory {host} writable"
                    ))
                })?;
                placed
                    .dirs
                    .push((d.clone(), validated(source::validate_archive)?));
            }
            ("dump", _) => {
                let db = ctx
                    .project
                    .database_of(m.service.as_deref())
                    .map_err(|e| refuse(e.message))?;
                if placed.dumps.iter().any(|(d, _)| d.service == db.service) {
                    return Err(refuse(format!("a second dump of service {}", db.service)));
                }
                let source = validated(source::validate)?;
                source::check_fits(&source, db)?;
                placed.dumps.push((db, source));
            }
            (kind, _) => return Err(refuse(format!("a member of unknown kind {kind:?}"))),
        }
    }
    if placed.dumps.is_empty() && placed.volumes.is_empty() && placed.dirs.is_empty() {
        return Err(Error::new(format!("set {} is empty", found.id)));
    }
    Ok(placed)
}

fn is_encrypted(path: &std::path::Path) -> bool {
    crate::storage::crypt::file_is_encrypted(path).unwrap_or(false)
}

/// The identity that reads the set's encrypted members (refused without
/// one, naming the first); None when no member is encrypted.
fn identity_for_set(
    ctx: &Context,
    found: &SetFile,
) -> Result<Option<crate::storage::crypt::Identity>> {
    let dir = found.path.parent().unwrap_or(std::path::Path::new("."));
    let Some(first) = found
        .manifest
        .members
        .iter()
        .map(|m| dir.join(&m.file))
        .find(|p| is_encrypted(p))
    else {
        return Ok(None);
    };
    crate::commands::restore_input::identity_for(ctx, &first).map(Some)
}
