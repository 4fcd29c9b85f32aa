//! `budgie status`: services with their container state and health, named
//! volumes with real name, existence and size, and the newest backup.
//!
//! It asks the engine directly (ps/inspect with label filters), in parallel,
//! instead of going through the compose tool: that is what makes it faster
//! than `podman-compose ps`.

use serde::Serialize;

use crate::backup::store;
use crate::compose::DbKind;
use crate::context::Context;
use crate::engine::Container;
use crate::error::Result;
use crate::inventory::{HostDir, VolumeState, host_dirs, print_host_dirs, volume_states};
use crate::ui::{human_age, human_bytes, table};

#[derive(Debug, Serialize)]
struct ServiceRow {
    service: String,
    container: Option<String>,
    state: String,
    health: Option<String>,
    image: Option<String>,
}

#[derive(Debug, Serialize)]
struct NewestBackup {
    path: String,
    bytes: u64,
    created: String,
    age_seconds: i64,
}

/// A database service of the stack, with its newest dump.
#[derive(Debug, Serialize)]
struct DatabaseRow {
    service: String,
    kind: DbKind,
    database: String,
    /// What keeps it from keeping its data, with the fix.
    problem: Option<String>,
    newest_backup: Option<NewestBackup>,
    /// Its snapshots (`budgie snapshot`), when its server answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshots: Option<Snapshots>,
}

/// How many snapshots a database has, and the space they take in its
/// volume.
#[derive(Debug, Serialize)]
struct Snapshots {
    count: u64,
    bytes: u64,
}

#[derive(Debug, Serialize)]
struct Status {
    project: String,
    engine: String,
    /// Where the engine is (url none: this machine's default engine).
    endpoint: crate::engine::Endpoint,
    services: Vec<ServiceRow>,
    volumes: Vec<VolumeState>,
    /// Host directories the services write to (bind mounts).
    host_directories: Vec<HostDir>,
    /// What keeps the database from keeping its data, with the fix (the
    /// first database with a problem).
    database_problem: Option<String>,
    /// Every database service, the primary first.
    databases: Vec<DatabaseRow>,
    backup_dir: String,
    newest_backup: Option<NewestBackup>,
}

pub fn run(ctx: &Context) -> Result<i32> {
    let engine = ctx.engine()?;
    let project = &ctx.project;
    let dir = ctx.backup_dir();
    let (containers, volumes, backups, host_directories) = std::thread::scope(|s| {
        let c = s.spawn(|| engine.container_list(&project.name));
        let h = s.spawn(|| host_dirs(project, engine.endpoint.on_this_machine()));
        let v = s.spawn(|| volume_states(engine, project, &ctx.ui));
        let b = s.spawn(|| store::list_dumps(&dir, &project.name));
        (
            c.join().unwrap_or_else(|_| {
                Err(crate::error::Error::new(
                    "internal error listing containers",
                ))
            }),
            v.join().unwrap_or_else(|_| {
                Err(crate::error::Error::new("internal error listing volumes"))
            }),
            b.join().unwrap_or_else(|_| {
                Err(crate::error::Error::new("internal error listing backups"))
            }),
            h.join().unwrap_or_default(),
        )
    });
    let containers: Vec<Container> = containers?;
    let volumes = volumes?;
    let backups = backups?;

    let mut services = Vec::new();
    for (name, svc) in &project.services {
        let mine: Vec<&Container> = containers.iter().filter(|c| &c.service == name).collect();
        if mine.is_empty() {
            services.push(ServiceRow {
                service: name.clone(),
                container: None,
                state: "not created".into(),
                health: None,
                image: svc.image.clone(),
            });
        }
        for c in mine {
            services.push(ServiceRow {
                service: name.clone(),
                container: Some(c.name.clone()),
                state: c.state.clone(),
                health: c.health.clone(),
                image: Some(c.image.clone()),
            });
        }
    }
    // Containers of the project whose service is no longer declared.
    for c in containers
        .iter()
        .filter(|c| !project.services.contains_key(&c.service))
    {
        services.push(ServiceRow {
            service: format!("{} (orphan)", c.service),
            container: Some(c.name.clone()),
            state: c.state.clone(),
            health: c.health.clone(),
            image: Some(c.image.clone()),
        });
    }

    let now = chrono::Local::now().naive_local();
    let newest_of = |b: &store::BackupFile| NewestBackup {
        path: b.path.display().to_string(),
        bytes: b.bytes,
        created: b.created.format("%Y-%m-%d %H:%M:%S").to_string(),
        age_seconds: (now - b.created).num_seconds(),
    };
    let newest = backups.first().map(newest_of);
    let databases = database_rows(ctx, &backups, &newest_of);
    let status = Status {
        project: project.name.clone(),
        engine: engine.kind.to_string(),
        endpoint: (*engine.endpoint).clone(),
        services,
        volumes,
        host_directories,
        database_problem: databases.iter().find_map(|d| d.problem.clone()),
        databases,
        backup_dir: dir.display().to_string(),
        newest_backup: newest,
    };
    if ctx.global.json {
        crate::commands::print_json(&status)?;
        return Ok(0);
    }
    print_human(ctx, &status);
    Ok(0)
}

/// With several databases: each one's kind, name and newest dump.
fn print_databases(ui: &crate::ui::Ui, databases: &[DatabaseRow]) {
    let rows: Vec<Vec<String>> = databases
        .iter()
        .map(|d| {
            vec![
                d.service.clone(),
                d.kind.label().to_string(),
                d.database.clone(),
                match &d.newest_backup {
                    Some(b) => format!(
                        "{} ago ({})",
                        human_age(b.age_seconds),
                        human_bytes(b.bytes)
                    ),
                    None => "none yet".into(),
                },
            ]
        })
        .collect();
    for line in table(&["DATABASE", "KIND", "NAME", "NEWEST DUMP"], &rows) {
        ui.print(&line);
    }
    ui.print("");
}

fn print_human(ctx: &Context, st: &Status) {
    let ui = &ctx.ui;
    ui.heading(&format!(
        "Project {} ({}{})",
        st.project,
        st.engine,
        st.endpoint.on()
    ));
    let rows: Vec<Vec<String>> = st
        .services
        .iter()
        .map(|s| {
            vec![
                s.service.clone(),
                s.container.clone().unwrap_or_else(|| "-".into()),
                ui.state(&s.state),
                s.health
                    .as_deref()
                    .map(|h| ui.state(h))
                    .unwrap_or_else(|| "-".into()),
                s.image.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    ui.print("");
    for line in table(&["SERVICE", "CONTAINER", "STATE", "HEALTH", "IMAGE"], &rows) {
        ui.print(&line);
    }
    ui.print("");
    if st.volumes.is_empty() {
        ui.print("No named volumes.");
    } else {
        let rows: Vec<Vec<String>> = st
            .volumes
            .iter()
            .map(|v| {
                let mut note = Vec::new();
                if v.database {
                    note.push("database".to_string());
                }
                if v.external {
                    note.push("external".to_string());
                }
                if v.disposable {
                    note.push("disposable".to_string());
                }
                if let Some(p) = &v.other_project {
                    note.push(format!("belongs to project {p}"));
                }
                vec![
                    v.key.clone(),
                    v.name.clone(),
                    ui.state(if v.exists { "exists" } else { "missing" }),
                    v.size_bytes.map(human_bytes).unwrap_or_else(|| "-".into()),
                    if v.services.is_empty() {
                        "-".into()
                    } else {
                        v.services.join(",")
                    },
                    note.join(", "),
                ]
            })
            .collect();
        for line in table(
            &["VOLUME", "NAME", "STATE", "SIZE", "USED BY", "NOTE"],
            &rows,
        ) {
            ui.print(&line);
        }
    }
    print_host_dirs(ui, &st.host_directories, &ctx.project, &st.endpoint);
    for p in st.databases.iter().filter_map(|d| d.problem.as_ref()) {
        ui.print("");
        ui.warn(p);
    }
    ui.print("");
    if st.databases.len() > 1 {
        print_databases(ui, &st.databases);
    }
    for d in &st.databases {
        if let Some(sn) = d.snapshots.as_ref().filter(|sn| sn.count > 0) {
            ui.print(&format!(
                "Snapshots of {}: {} ({} in its volume; not backups: budgie snapshot list)",
                d.database,
                sn.count,
                human_bytes(sn.bytes)
            ));
        }
    }
    match &st.newest_backup {
        Some(b) => ui.print(&format!(
            "Newest backup: {} ({}, {} ago)",
            b.path,
            human_bytes(b.bytes),
            human_age(b.age_seconds)
        )),
        None => ui.print(&format!(
            "No backups yet in {} (budgie backup makes one)",
            st.backup_dir
        )),
    }
}
/// Each database service with its newest dump and its snapshots.
fn database_rows(
    ctx: &Context,
    backups: &[store::BackupFile],
    newest_of: &dyn Fn(&store::BackupFile) -> NewestBackup,
) -> Vec<DatabaseRow> {
    let project = &ctx.project;
    project
        .databases()
        .iter()
        .enumerate()
        .map(|(i, db)| DatabaseRow {
            service: db.service.clone(),
            kind: db.kind,
            database: db.shown_name(),
            problem: db.problem.clone(),
            // A dump without a service in its name is the primary's (the
            // only database when it was taken).
            newest_backup: backups
                .iter()
                .find(|b| match &b.service {
                    Some(s) => s == &db.service,
                    None => i == 0,
                })
                .map(newest_of),
            snapshots: crate::snapshots::summary(ctx, db)
                .map(|(count, bytes)| Snapshots { count, bytes }),
        })
        .collect()
}
