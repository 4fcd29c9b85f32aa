//! The one configuration value a command runs with: the global options, the
//! resolved compose project, the terminal, and (found on first use) the
//! engine. Built once in `app`; there is no global state besides the
//! interrupt flags.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::cli::Global;
use crate::compose::{self, Compression, DumpFormat, LoadOptions, Project};
use crate::engine::{Cmd, Engine, EngineKind, endpoint};
use crate::error::{Error, Result};
use crate::ui::Ui;

pub struct Context {
    pub global: Global,
    pub ui: Ui,
    pub project: Project,
    engine: OnceLock<Result<Engine>>,
}

impl Context {
    /// Reads the compose files. Talks to no engine.
    pub fn load(global: Global, ui: Ui, env: BTreeMap<String, String>) -> Result<Context> {
        let opts = load_options(&global, env)?;
        let project = compose::load(&opts)?;
        Ok(Context::new(global, ui, project))
    }

    /// A context for a project already loaded (`doctor` loads it itself,
    /// to report a bad compose file instead of stopping at it).
    pub fn new(global: Global, ui: Ui, project: Project) -> Context {
        Context {
            global,
            ui,
            project,
            engine: OnceLock::new(),
        }
    }

    /// The engine: `--engine`, else `BUDGIE_ENGINE`, else the first of podman
    /// and docker installed, at its endpoint ([`connected_engine`]; a dry
    /// run connects to nothing).
    pub fn engine(&self) -> Result<&Engine> {
        self.engine
            .get_or_init(|| match self.global.dry_run {
                true => choose_engine(&self.global, &self.project.env),
                false => connected_engine(&self.global, &self.project.env),
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The engine runs on this machine: the paths it reports (volume
    /// mountpoints, bind mounts) are paths here. True when no engine can be
    /// chosen (nothing then reads a path of the engine's).
    pub fn engine_here(&self) -> bool {
        self.engine()
            .map(|e| e.endpoint.on_this_machine())
            .unwrap_or(true)
    }

    /// " on ssh://deploy@prod" (or the context's name) when the engine is
    /// not this machine's default; empty when it is. Said where data is at
    /// stake.
    pub fn machine(&self) -> String {
        self.engine().map(|e| e.endpoint.on()).unwrap_or_default()
    }

    /// A compose command for this project: the compose tool, `-p NAME`,
    /// every `-f FILE`, then `args`; run in the project directory.
    pub fn compose_cmd<S: AsRef<str>>(&self, args: &[S]) -> Result<Cmd> {
        let engine = self.engine()?;
        let compose = engine.compose()?;
        let mut argv = compose.argv.clone();
        argv.push("-p".into());
        argv.push(self.project.name.clone());
        for f in &self.project.files {
            argv.push("-f".into());
            argv.push(f.display().to_string());
        }
        argv.extend(args.iter().map(|a| a.as_ref().to_string()));
        Ok(engine.reach(Cmd::new(argv).dir(&self.project.dir)))
    }

    /// A tool's output with the project's secrets hidden (see
    /// `Project::redact_output`); names are never masked.
    pub fn redact(&self, text: &str) -> String {
        self.project.redact_output(text)
    }

    /// A path the user typed, made absolute: relative to `-C DIR` when given
    /// ("as if started in DIR"), else to the current directory.
    pub fn resolve(&self, path: &std::path::Path) -> PathBuf {
        let cwd = std::env::current_dir().unwrap_or_default();
        let base = match &self.global.directory {
            Some(d) => cwd.join(d),
            None => cwd,
        };
        base.join(path)
    }

    /// The backup directory (see `backup::store::backup_dir`).
    pub fn backup_dir(&self) -> PathBuf {
        crate::backup::store::backup_dir(&self.project, self.global.backup_dir.as_deref())
    }

    /// The compression of new dumps: `flag` (`--compress`), else
    /// `BUDGIE_COMPRESS`, else `x-budgie.backup.compress`, else none.
    pub fn compression(&self, flag: Option<Compression>) -> Result<Compression> {
        if let Some(c) = flag {
            return Ok(c);
        }
        if let Some(s) = self
            .project
            .env
            .get("BUDGIE_COMPRESS")
            .filter(|s| !s.is_empty())
        {
            return Compression::parse(s).ok_or_else(|| {
                Error::usage(format!("BUDGIE_COMPRESS={s}: expected none, gzip or zstd"))
            });
        }
        Ok(self.project.config.backup.compress.unwrap_or_default())
    }

    /// How new dumps are written: the format (`flag`, `--format`, else
    /// `BUDGIE_FORMAT`, else `x-budgie.backup.format`, else plain) and the
    /// compression of SQL text ([`Context::compression`]).
    pub fn dump_style(
        &self,
        format: Option<DumpFormat>,
        compress: Option<Compression>,
    ) -> Result<(DumpFormat, Compression)> {
        let compression = self.compression(compress)?;
        if let Some(f) = format {
            return Ok((f, compression));
        }
        if let Some(s) = self
            .project
            .env
            .get("BUDGIE_FORMAT")
            .filter(|s| !s.is_empty())
        {
            let f = DumpFormat::parse(s).ok_or_else(|| {
                Error::usage(format!(
                    "BUDGIE_FORMAT={s}: expected plain, custom or directory"
                ))
            })?;
            return Ok((f, compression));
        }
        Ok((
            self.project.config.backup.format.unwrap_or_default(),
            compression,
        ))
    }
}

/// The engine [`choose_engine`] chooses, reached: for an `ssh://`
/// endpoint its SSH connection is up (`BUDGIE_SSH_COMMAND` from `env`).
pub fn connected_engine(global: &Global, env: &BTreeMap<String, String>) -> Result<Engine> {
    let ssh = env.get("BUDGIE_SSH_COMMAND").map(String::as_str);
    choose_engine(global, env)?.connect(ssh)
}

/// Where to read the project from: `-C DIR` (which must exist), `-f`, `-p`
/// and the environment.
pub fn load_options(global: &Global, env: BTreeMap<String, String>) -> Result<LoadOptions> {
    let directory = match &global.directory {
        Some(d) => {
            let cwd = std::env::current_dir()?;
            let d = cwd.join(d);
            if !d.is_dir() {
                return Err(Error::usage(format!(
                    "-C {}: no such directory",
                    d.display()
                )));
            }
            d
        }
        None => std::env::current_dir()?,
    };
    Ok(LoadOptions {
        directory,
        files: global.files.clone(),
        project_name: global.project_name.clone(),
        env,
    })
}

/// The engine as `--engine`, `BUDGIE_ENGINE` and `BUDGIE_COMPOSE` (read from
/// `env`) choose it, at the endpoint `--engine-host`, `--context`,
/// `--connection` and the engines' own variables choose (see
/// `engine::endpoint`). Looks at PATH and the engine's configuration; talks
/// to no engine.
pub fn choose_engine(global: &Global, env: &BTreeMap<String, String>) -> Result<Engine> {
    let choice = match global.engine {
        Some(k) => Some(k),
        None => match env.get("BUDGIE_ENGINE").filter(|s| !s.is_empty()) {
            Some(s) => Some(EngineKind::parse(s).ok_or_else(|| {
                Error::usage(format!("BUDGIE_ENGINE={s}: expected podman or docker"))
            })?),
            None => None,
        },
    };
    let forced = env
        .get("BUDGIE_COMPOSE")
        .filter(|s| !s.trim().is_empty())
        .map(String::as_str);
    let engine = Engine::detect(choice, forced, env)?;
    let choice = endpoint::Choice {
        host: global.engine_host.clone(),
        context: global.context.clone(),
        connection: global.connection.clone(),
    };
    let at = endpoint::resolve(engine.kind, &engine.program, &choice, env)?;
    Ok(engine.at(at))
}
