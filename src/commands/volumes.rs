//! `budgie volumes`: the named volumes, which are external, which holds the
//! database, and what deleting each would lose.

use serde::Serialize;

use crate::context::Context;
use crate::error::Result;
use crate::inventory::{HostDir, VolumeState, host_dirs, print_host_dirs, volume_states};
use crate::ui::{human_bytes, table};

#[derive(Debug, Serialize)]
struct VolumeRow {
    #[serde(flatten)]
    state: VolumeState,
    /// What deleting it would lose, in words.
    loses: String,
    /// Whether budgie would ever delete it (never external or foreign volumes).
    deletable: bool,
}

/// What deleting a volume would lose, in the user's words.
pub fn loses(ctx: &Context, v: &VolumeState) -> String {
    let size = v
        .size_bytes
        .map(|n| format!(" ({})", human_bytes(n)))
        .unwrap_or_default();
    if v.external {
        return "nothing: external volumes are never deleted by budgie".into();
    }
    if let Some(p) = &v.other_project {
        return format!("nothing: it belongs to project {p}, budgie never deletes it");
    }
    if !v.exists {
        return "nothing: it does not exist yet".into();
    }
    if v.database {
        if let Some(db) = ctx.project.database_in_volume(&v.key) {
            return format!(
                "the {} database \"{}\" of service {}{size}; a dump is taken first",
                db.kind.label(),
                db.shown_name(),
                db.service
            );
        }
        return format!("a database's data directory{size}");
    }
    if v.disposable {
        return format!("only disposable files{size} (x-budgie: disposable, no backup taken)");
    }
    let users = if v.services.is_empty() {
        "no service".to_string()
    } else {
        v.services.join(", ")
    };
    format!("the files of {users}{size}; an archive is taken first")
}

pub fn run(ctx: &Context) -> Result<i32> {
    let engine = ctx.engine()?;
    let states = volume_states(engine, &ctx.project, &ctx.ui)?;
    let rows: Vec<VolumeRow> = states
        .into_iter()
        .map(|s| VolumeRow {
            loses: loses(ctx, &s),
            deletable: !s.external && s.other_project.is_none(),
            state: s,
        })
        .collect();
    let host_dirs = host_dirs(&ctx.project, ctx.engine_here());
    let problems: Vec<String> = ctx
        .project
        .databases()
        .iter()
        .filter_map(|db| db.problem.clone())
        .collect();
    let problem = problems.first().cloned();
    if ctx.global.json {
        #[derive(Serialize)]
        struct Doc<'a> {
            project: &'a str,
            volumes: Vec<VolumeRow>,
            host_directories: Vec<HostDir>,
            database_problem: Option<String>,
        }
        crate::commands::print_json(&Doc {
            project: &ctx.project.name,
            volumes: rows,
            host_directories: host_dirs,
            database_problem: problem,
        })?;
        return Ok(0);
    }
    let ui = &ctx.ui;
    for p in &problems {
        ui.warn(p);
    }
    if rows.is_empty() {
        ui.print(&format!(
            "Project {} has no named volumes.",
            ctx.project.name
        ));
    }
    print_table(ui, &rows);
    let engine = ctx.engine()?;
    print_host_dirs(ui, &host_dirs, &ctx.project, &engine.endpoint);
    Ok(0)
}

/// The volumes table.
fn print_table(ui: &crate::ui::Ui, rows: &[VolumeRow]) {
    if rows.is_empty() {
        return;
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let v = &r.state;
            let mut kind = Vec::new();
            if v.database {
                kind.push("database");
            }
            if v.external {
                kind.push("external");
            }
            if v.disposable {
                kind.push("disposable");
            }
            vec![
                v.key.clone(),
                v.name.clone(),
                if kind.is_empty() {
                    "-".into()
                } else {
                    kind.join(",")
                },
                ui.state(if v.exists { "exists" } else { "missing" }),
                v.size_bytes.map(human_bytes).unwrap_or_else(|| "-".into()),
                if v.services.is_empty() {
                    "-".into()
                } else {
                    v.services.join(",")
                },
                r.loses.clone(),
            ]
        })
        .collect();
    for line in table(
        &[
            "VOLUME",
            "NAME",
            "KIND",
            "STATE",
            "SIZE",
            "USED BY",
            "DELETING IT LOSES",
        ],
        &cells,
    ) {
        ui.print(&line);
    }
}
