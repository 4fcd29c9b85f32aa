//! The commands that delete data: `clean`, `nuke`, `volumes rm`.
//!
//! Each builds a plan whose deletions are explicit `RemoveVolumes` steps
//! naming exact volumes (never `down -v`, whose reach depends on what the
//! compose file says at the moment it runs), then hands the plan to the gate.
//! Only volumes of this project — labelled by compose with its name — are
//! ever listed; external volumes and other projects' volumes are kept and
//! the user is told why.

use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::gate::{self, GateOptions};
use crate::inventory::{VolumeState, volume_presence};
use crate::plan::{Action, Plan, Reason};
use crate::recover::lock;
use crate::steps;

/// Splits the project's volumes into those budgie may delete and those it
/// keeps (with the reason), among `states`.
fn deletable(ctx: &Context, states: &[VolumeState]) -> Vec<String> {
    let mut names = Vec::new();
    for v in states {
        if !v.exists {
            continue;
        }
        if v.external {
            ctx.ui.info(&format!(
                "Keeping {}: external volumes are never deleted",
                v.name
            ));
        } else if let Some(p) = &v.other_project {
            ctx.ui
                .info(&format!("Keeping {}: it belongs to project {p}", v.name));
        } else if !v.owned {
            ctx.ui.info(&format!(
                "Keeping {}: it was not created by this project (no compose label for {}); remove it yourself if you are sure",
                v.name, ctx.project.name
            ));
        } else {
            names.push(v.name.clone());
        }
    }
    names
}

fn prepare(ctx: &Context) -> Result<Vec<VolumeState>> {
    let engine = ctx.engine()?;
    if !ctx.global.dry_run {
        engine.ping()?;
    }
    // Without sizes: the gate reads the states again, sizes and all, to
    // show what will be lost.
    volume_presence(engine, &ctx.project)
}

/// `budgie clean`: containers removed (`down`), then the project's named
/// volumes — after the gate.
pub fn clean(ctx: &Context, no_backup: bool) -> Result<i32> {
    let states = prepare(ctx)?;
    let _lock = if ctx.global.dry_run {
        None
    } else {
        Some(lock(ctx, "clean")?)
    };
    let names = deletable(ctx, &states);
    let engine = ctx.engine()?;
    let mut plan = Plan::new();
    plan.run(
        "Stop and remove all containers (compose down)",
        ctx.compose_cmd(&["down"])?,
    );
    if !names.is_empty() {
        remove_volumes(&mut plan, engine, names);
    }
    gate::run(
        ctx,
        plan,
        Reason::Clean,
        GateOptions {
            no_backup,
            ..Default::default()
        },
    )
    .map(|r| r.status)
}

/// `budgie nuke`: this project's containers (and orphans), networks, named
/// volumes, and the images its services use or built that no other
/// container uses. Never `system prune`.
pub fn nuke(ctx: &Context, no_backup: bool) -> Result<i32> {
    let states = prepare(ctx)?;
    let _lock = if ctx.global.dry_run {
        None
    } else {
        Some(lock(ctx, "nuke")?)
    };
    let names = deletable(ctx, &states);
    let engine = ctx.engine()?;
    let mut images: Vec<String> = Vec::new();
    for c in engine.containers(&ctx.project.name)? {
        if !c.image.is_empty() && !images.contains(&c.image) {
            images.push(c.image.clone());
        }
    }
    for s in ctx.project.services.values() {
        if let Some(i) = &s.image
            && !images.contains(i)
        {
            images.push(i.clone());
        }
    }
    let mut plan = Plan::new();
    plan.run(
        "Stop and remove all containers, orphans included, and the project's networks (compose down --remove-orphans)",
        ctx.compose_cmd(&["down", "--remove-orphans"])?,
    );
    if !names.is_empty() {
        remove_volumes(&mut plan, engine, names);
    }
    if !images.is_empty() {
        plan.push(
            "Remove the project's images that no container uses any more",
            Action::RemoveImages {
                engine: engine.clone(),
                references: images,
            },
        );
    }
    gate::run(
        ctx,
        plan,
        Reason::Nuke,
        GateOptions {
            no_backup,
            ..Default::default()
        },
    )
    .map(|r| r.status)
}

/// `budgie volumes rm KEY...`: stops the services that mount them, then
/// deletes exactly those volumes — after the gate.
pub fn volumes_rm(ctx: &Context, keys: &[String], no_backup: bool) -> Result<i32> {
    let mut chosen = Vec::new();
    for k in keys {
        let v = ctx.project.volume_or_usage(k)?;
        if v.external {
            return Err(Error::new(format!(
                "volume {k} ({}) is external: budgie never deletes it",
                v.name
            )));
        }
        chosen.push(v.clone());
    }
    let states = prepare(ctx)?;
    let _lock = if ctx.global.dry_run {
        None
    } else {
        Some(lock(ctx, "volumes rm")?)
    };
    let mine: Vec<VolumeState> = states
        .into_iter()
        .filter(|s| chosen.iter().any(|c| c.name == s.name))
        .collect();
    for s in &mine {
        if !s.exists {
            return Err(Error::new(format!(
                "volume {} ({}) does not exist; nothing was deleted",
                s.key, s.name
            ))
            .hint("see which volumes exist: budgie volumes"));
        }
    }
    let names = deletable(ctx, &mine);
    if names.len() != mine.len() {
        return Err(Error::new(
            "nothing was deleted: budgie does not delete the volumes named above",
        ));
    }
    let mut users: Vec<String> = Vec::new();
    for v in &chosen {
        for s in &v.services {
            if !users.contains(s) {
                users.push(s.clone());
            }
        }
    }
    let mut plan = Plan::new();
    if !users.is_empty() {
        steps::stop(ctx, &mut plan, &users)?;
    }
    remove_volumes(&mut plan, ctx.engine()?, names);
    gate::run(
        ctx,
        plan,
        Reason::VolumeRm,
        GateOptions {
            no_backup,
            ..Default::default()
        },
    )
    .map(|r| r.status)
}

/// The step that deletes exactly `names`.
fn remove_volumes(plan: &mut Plan, engine: &Engine, names: Vec<String>) {
    plan.push(
        format!(
            "Delete volume{} {}",
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        ),
        Action::RemoveVolumes {
            engine: engine.clone(),
            names,
        },
    );
}
