//! A volume's files in and out as a tar stream, needing nothing inside any
//! image — no `tar`, no shell — so that distroless and scratch images are
//! no obstacle to a backup or a restore.
//!
//! podman has its own `volume export` and `volume import`, but not for its
//! remote client (an engine at `CONTAINER_HOST`: "cannot use command with
//! the remote podman client"). docker has neither. So with docker, and
//! with podman's remote client, budgie creates a container with the volume
//! mounted and never starts it (so nothing runs, and the image's contents
//! do not matter), and `cp` copies the mounted path out as a tar stream, or
//! a tar stream in, through the engine's API; the container is removed
//! after, whatever happened.
//!
//! Replacing a volume's contents starts from an empty volume: the volume is
//! removed and created again with the same driver, options and labels (the
//! compose labels included, so the compose tools still take it as theirs),
//! then filled. `volume import` and `docker cp` only add files.

use super::cmd::Cmd;
use super::detect::EngineKind;
use crate::error::{Error, Result};

/// Where a holder container mounts the volume.
const MOUNT: &str = "/volume";

/// Stands in for the holder container's id in what the dry run shows.
const HOLDER: &str = "<holder container>";

/// How a volume's files are read or written; see the module docs.
#[derive(Debug, Clone)]
pub struct VolumeIo {
    /// Through a holder container and `cp` (docker; podman's remote
    /// client), not `volume export`/`import`.
    holder: bool,
    /// The engine's program (`podman`, `docker`, a path) sent to its
    /// endpoint, with no arguments yet.
    base: Cmd,
    volume: String,
    /// With a holder: an image on the engine to create the holder
    /// container from (any will do: it never runs).
    image: Option<String>,
}

impl VolumeIo {
    /// The way to read and write `volume` with the engine `program` of
    /// `kind` (`remote`: podman's remote client); with a holder it needs an
    /// `image` (a service's), or it says why there is none.
    /// `Engine::volume_io` is the way in.
    pub(super) fn new(
        kind: EngineKind,
        remote: bool,
        base: &Cmd,
        volume: &str,
        image: Option<&str>,
    ) -> Result<VolumeIo, String> {
        let holder = kind == EngineKind::Docker || remote;
        if holder && image.is_none() {
            return Err(format!(
                "cannot read or write volume {volume} on {kind}{} without an image to create a holder container from (no service with an `image:` mounts it)",
                if remote { " at a remote endpoint" } else { "" }
            ));
        }
        Ok(VolumeIo {
            holder,
            base: base.clone(),
            volume: volume.to_string(),
            image: image.map(str::to_string),
        })
    }

    fn cmd<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut c = self.base.clone();
        c.argv.extend(args.into_iter().map(Into::into));
        c
    }

    /// `volume rm` without `--force`: the engine refuses while a container
    /// uses the volume.
    fn volume_rm(&self) -> Cmd {
        self.cmd(["volume", "rm", &self.volume])
    }

    /// `docker create` of the holder container (prints its id).
    fn create_holder(&self, read_only: bool) -> Cmd {
        let ro = if read_only { ":ro" } else { "" };
        self.cmd([
            "create".to_string(),
            "--pull".into(),
            "never".into(),
            "--network".into(),
            "none".into(),
            "--label".into(),
            "budgie.holder=1".into(),
            "-v".into(),
            format!("{}:{MOUNT}{ro}", self.volume),
            "--entrypoint".into(),
            "/budgie-holder-never-runs".into(),
            self.image.clone().unwrap_or_default(),
        ])
    }

    fn remove_holder(&self, id: &str) -> Cmd {
        self.cmd(["rm", "-f", id])
    }

    /// The command whose stdout is the tar stream, given the holder's id.
    fn read_cmd(&self, holder: &str) -> Cmd {
        if self.holder {
            self.cmd(["cp".to_string(), format!("{holder}:{MOUNT}/."), "-".into()])
        } else {
            self.cmd(["volume", "export", &self.volume])
        }
    }

    /// The command whose stdin takes the tar stream, given the holder's id.
    fn write_cmd(&self, holder: &str) -> Cmd {
        if self.holder {
            self.cmd(["cp".to_string(), "-".into(), format!("{holder}:{MOUNT}")])
        } else {
            self.cmd(["volume", "import", &self.volume, "-"])
        }
    }

    /// Reading, as the dry run shows it.
    pub fn read_cmds(&self) -> Vec<Cmd> {
        if self.holder {
            vec![
                self.create_holder(true),
                self.read_cmd(HOLDER),
                self.remove_holder(HOLDER),
            ]
        } else {
            vec![self.read_cmd(HOLDER)]
        }
    }

    /// Replacing the contents, as the dry run shows it.
    pub fn replace_cmds(&self) -> Vec<Cmd> {
        let mut out = vec![
            self.cmd(["volume", "inspect", &self.volume]),
            self.volume_rm(),
            self.cmd([
                "volume",
                "create",
                "<same driver, options, labels>",
                &self.volume,
            ]),
        ];
        if self.holder {
            out.extend([
                self.create_holder(false),
                self.write_cmd(HOLDER),
                self.remove_holder(HOLDER),
            ]);
        } else {
            out.push(self.write_cmd(HOLDER));
        }
        out
    }

    /// Runs `f` with the command whose stdout is the volume as tar.
    pub fn reading<T>(&self, f: impl FnOnce(&Cmd) -> Result<T>) -> Result<T> {
        self.with_holder(true, |holder| f(&self.read_cmd(holder)))
    }

    /// Empties the volume (removed and created again alike), then runs `f`
    /// with the command whose stdin fills it from a tar stream.
    pub fn replacing<T>(&self, f: impl FnOnce(&Cmd) -> Result<T>) -> Result<T> {
        self.recreate()?;
        self.with_holder(false, |holder| f(&self.write_cmd(holder)))
    }

    /// With a holder, a holder container around `f` (removed whatever
    /// happened); else `f` alone.
    fn with_holder<T>(&self, read_only: bool, f: impl FnOnce(&str) -> Result<T>) -> Result<T> {
        if !self.holder {
            return f(HOLDER);
        }
        let id = self.create_holder(read_only).read().map_err(|e| {
            e.context(format!(
                "creating a holder container for volume {}",
                self.volume
            ))
        })?;
        let id = id.trim().to_string();
        let result = f(&id);
        let _ = self.remove_holder(&id).output();
        result
    }

    /// Removes the volume and creates it again, empty, with the same
    /// driver, options and labels.
    fn recreate(&self) -> Result<()> {
        let json = self.cmd(["volume", "inspect", &self.volume]).read()?;
        let v: serde_json::Value = serde_json::from_str(&json).map_err(|e| {
            Error::new(format!(
                "could not read what the engine says of volume {}: {e}",
                self.volume
            ))
        })?;
        let spec = &v[0];
        let mut args: Vec<String> = vec!["volume".into(), "create".into()];
        if let Some(d) = spec["Driver"].as_str().filter(|d| !d.is_empty()) {
            args.extend(["--driver".into(), d.to_string()]);
        }
        for (key, flag) in [("Labels", "--label"), ("Options", "--opt")] {
            for (k, val) in spec[key].as_object().into_iter().flatten() {
                args.extend([
                    flag.to_string(),
                    format!("{k}={}", val.as_str().unwrap_or("")),
                ]);
            }
        }
        args.push(self.volume.clone());
        self.volume_rm()
            .read()
            .map_err(|e| e.context(format!("emptying volume {}", self.volume)))?;
        self.cmd(args).read().map_err(|e| {
            e.context(format!(
                "volume {} was removed but could not be created again",
                self.volume
            ))
        })?;
        Ok(())
    }
}
