//! What exists now: the project's named volumes as the engine sees them —
//! existence, which project's label they carry, size — next to what the
//! compose files say of them. Read-only: it asks the engine (inspect, `system
//! df`) and walks readable mountpoints; it never changes anything.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::compose::Project;
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

/// The size of each volume: its mountpoint walked where budgie can read
/// it, else what the engine's `system df -v` says.
fn volume_sizes(engine: &Engine, infos: &[VolumeInfo], ui: &Ui) -> BTreeMap<String, u64> {
    // Walking a large volume, or `system df -v`, takes a while.
    let spinner = ui.spinner("Measuring volume sizes");
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    let mut need_engine_sizes = false;
    for info in infos {
        match info.mountpoint.as_deref().map(Path::new).and_then(dir_size) {
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
