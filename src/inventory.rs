//! What exists now: the project's named volumes as the engine sees them —
//! existence, which project's label they carry, size — next to what the
//! compose files say of them. Read-only: it asks the engine (inspect, `system
//! df`) and walks readable mountpoints; it never changes anything.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::compose::{MountKind, Project};
use crate::engine::{Engine, VolumeInfo, dir_size};
use crate::error::Result;
use crate::ui::Ui;

/// What the engine says of one named volume.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeState {
    pub key: String,
    pub name: String,
    pub external: bool,
    pub database: bool,
    pub disposable: bool,
    pub services: Vec<String>,
    pub exists: bool,
    /// Another compose project's label on a volume of this name.
    pub other_project: Option<String>,
    /// Labelled by compose as this project's: the only volumes budgie deletes.
    pub owned: bool,
    pub size_bytes: Option<u64>,
}

/// A host directory the project's services write to (a bind mount): data
/// that `clean` and `nuke` keep.
#[derive(Debug, Clone, Serialize)]
pub struct HostDir {
    pub path: String,
    pub services: Vec<String>,
    /// It exists (as a directory); the engine creates a missing one.
    pub exists: bool,
    /// Its size, counted up to [`HOST_DIR_FILES`] files.
    pub size_bytes: Option<u64>,
    /// The size is a lower bound: there were more files than were counted.
    pub at_least: bool,
}

/// How many files of a host directory `status` counts before it stops (a
/// photo library can hold millions).
pub const HOST_DIR_FILES: usize = 50_000;

/// The host directories the project's services write to: writable bind
/// mounts that are directories or do not exist yet — not sockets, not
/// single files. None when the engine is on another machine
/// (`engine_here` false): its bind mounts are that machine's paths, which
/// budgie cannot read or write without an agent there.
pub fn host_dirs(project: &Project, engine_here: bool) -> Vec<HostDir> {
    if !engine_here {
        return Vec::new();
    }
    project
        .bind_mounts()
        .into_iter()
        .filter_map(|(path, services)| {
            let meta = std::fs::metadata(&path);
            let exists = match &meta {
                Ok(m) if m.is_dir() => true,
                Ok(_) => return None,
                Err(_) => false,
            };
            let (size_bytes, at_least) = if exists {
                match bounded_dir_size(Path::new(&path), HOST_DIR_FILES) {
                    Some((n, complete)) => (Some(n), !complete),
                    None => (None, false),
                }
            } else {
                (None, false)
            };
            Some(HostDir {
                path,
                services,
                exists,
                size_bytes,
                at_least,
            })
        })
        .collect()
}

/// The bind mounts written relative (`./data`, `~/x`), each with the
/// services that mount it, when the engine is on another machine: resolved
/// here, they name this machine's paths, and the engine mounts that path
/// of its own disk (an empty directory it creates, or something else).
/// None when the engine is here, or `x-budgie.remote.bind_mounts: server`
/// says the paths exist there too.
pub fn misplaced_bind_mounts(
    project: &Project,
    endpoint: &crate::engine::Endpoint,
) -> Vec<(String, Vec<String>)> {
    if endpoint.on_this_machine()
        || project.config.remote.bind_mounts == crate::compose::BindMounts::Server
    {
        return Vec::new();
    }
    project.bind_mounts_where(|m| matches!(m.kind, MountKind::Bind { relative: true, .. }))
}

/// What [`misplaced_bind_mounts`] found, said in one line; none when there
/// are none.
pub fn misplaced_warning(project: &Project, endpoint: &crate::engine::Endpoint) -> Option<String> {
    let found = misplaced_bind_mounts(project, endpoint);
    if found.is_empty() {
        return None;
    }
    let list: Vec<String> = found
        .iter()
        .map(|(path, services)| format!("{path} ({})", services.join(", ")))
        .collect();
    Some(format!(
        "the engine is on {endpoint}: bind mounts written relative name this machine's paths, and the engine mounts the same paths of its own disk: {}",
        list.join(", ")
    ))
}

/// Says [`misplaced_warning`] with its hint, even with `-q` (`start`,
/// `restart`, `deploy`).
pub fn warn_misplaced(ui: &Ui, project: &Project, endpoint: &crate::engine::Endpoint) {
    if let Some(w) = misplaced_warning(project, endpoint) {
        ui.unquiet().warn(&format!("{w}\n  {MISPLACED_HINT}"));
    }
}

/// What to do about [`misplaced_warning`].
pub const MISPLACED_HINT: &str = "use named volumes (budgie backs them up on the engine's machine) or absolute paths of that machine; if the same paths exist there, say so with x-budgie.remote.bind_mounts: server";

/// Prints the host directories' table (`status`, `volumes`), or, with the
/// engine on another machine, why there is none.
pub fn print_host_dirs(
    ui: &Ui,
    dirs: &[HostDir],
    project: &Project,
    endpoint: &crate::engine::Endpoint,
) {
    if !dirs.is_empty() {
        ui.print("");
        for line in host_dir_lines(ui, dirs) {
            ui.print(&line);
        }
    }
    if let Some(line) = host_dirs_elsewhere(project, endpoint) {
        ui.print("");
        ui.info(&line);
    }
}

/// With the engine on another machine, the line that says why no host
/// directory is listed (none when the engine is here, or nothing is
/// bind-mounted).
fn host_dirs_elsewhere(project: &Project, endpoint: &crate::engine::Endpoint) -> Option<String> {
    let n = project.bind_mounts().len();
    (!endpoint.on_this_machine() && n > 0).then(|| {
        format!(
            "{n} bind-mounted director{} of the services: paths on {endpoint}, not read from here",
            if n == 1 { "y" } else { "ies" }
        )
    })
}

/// The host directories as table lines, for `status` and `volumes`.
pub fn host_dir_lines(ui: &Ui, dirs: &[HostDir]) -> Vec<String> {
    let rows: Vec<Vec<String>> = dirs
        .iter()
        .map(|d| {
            let size = match (d.size_bytes, d.at_least) {
                (Some(n), false) => crate::ui::human_bytes(n),
                (Some(n), true) => format!("> {}", crate::ui::human_bytes(n)),
                (None, _) => "-".into(),
            };
            vec![
                d.path.clone(),
                ui.state(if d.exists { "exists" } else { "missing" }),
                size,
                d.services.join(","),
                "kept by clean and nuke".into(),
            ]
        })
        .collect();
    crate::ui::table(
        &["HOST DIRECTORY", "STATE", "SIZE", "USED BY", "NOTE"],
        &rows,
    )
}

/// The size of the files under `dir`, stopping after `max_files` files
/// (then the second value is false: the size is a lower bound). None when
/// the directory cannot be read.
fn bounded_dir_size(dir: &Path, max_files: usize) -> Option<(u64, bool)> {
    let mut total = 0u64;
    let mut files = 0usize;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).ok()?.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
                continue;
            }
            total += meta.len();
            files += 1;
            if files >= max_files {
                return Some((total, false));
            }
        }
    }
    Some((total, true))
}

/// The size of each volume: its mountpoint walked where budgie can read
/// it, else what the engine's `system df -v` says.
fn volume_sizes(engine: &Engine, infos: &[VolumeInfo], ui: &Ui) -> BTreeMap<String, u64> {
    // Walking a large volume, or `system df -v`, takes a while.
    let spinner = ui.spinner("Measuring volume sizes");
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    let mut need_engine_sizes = false;
    for info in infos {
        // A mountpoint of an engine on another machine is that machine's
        // path: the same path here is another volume, or nothing.
        let here = info
            .mountpoint
            .as_deref()
            .filter(|_| engine.endpoint.on_this_machine());
        match here.map(Path::new).and_then(dir_size) {
            Some(n) => {
                sizes.insert(info.name.clone(), n);
            }
            None => need_engine_sizes = true,
        }
    }
    if need_engine_sizes {
        for (name, n) in engine.volume_sizes().unwrap_or_default() {
            sizes.entry(name).or_insert(n);
        }
    }
    spinner.clear();
    sizes
}

/// Looks up every named volume of the project: existence, owner and size.
pub fn volume_states(engine: &Engine, project: &Project, ui: &Ui) -> Result<Vec<VolumeState>> {
    states(engine, project, Some(ui))
}

/// [`volume_states`] without the sizes (which walk every volume's files):
/// for choosing what to delete; the gate reads the states again, sizes
/// included, to show them.
pub fn volume_presence(engine: &Engine, project: &Project) -> Result<Vec<VolumeState>> {
    states(engine, project, None)
}

/// The states, sized (with a spinner on `ui`) when `sized` is given.
fn states(engine: &Engine, project: &Project, sized: Option<&Ui>) -> Result<Vec<VolumeState>> {
    let names: Vec<&str> = project.volumes.iter().map(|v| v.name.as_str()).collect();
    let infos: Vec<VolumeInfo> = engine.volumes(&names)?;
    let by_name: BTreeMap<&str, &VolumeInfo> = infos.iter().map(|i| (i.name.as_str(), i)).collect();
    let sizes = match sized {
        Some(ui) => volume_sizes(engine, &infos, ui),
        None => BTreeMap::new(),
    };
    Ok(project
        .volumes
        .iter()
        .map(|v| {
            let info = by_name.get(v.name.as_str());
            VolumeState {
                key: v.key.clone(),
                name: v.name.clone(),
                external: v.external,
                database: v.database,
                disposable: v.disposable,
                services: v.services.clone(),
                exists: info.is_some(),
                other_project: info
                    .and_then(|i| i.project())
                    .filter(|p| *p != project.name)
                    .map(str::to_string),
                owned: info.and_then(|i| i.project()) == Some(project.name.as_str()),
                size_bytes: sizes.get(&v.name).copied(),
            }
        })
        .collect())
}
