//! A committed backup copied to its remote, and a remote backup brought
//! back into the backup directory.
//!
//! Upload: each backup file, then its sidecar (`.meta.json`), each an
//! object only once whole and checked (see `s3`). The sidecar goes last: a
//! backup whose sidecar is missing remotely is shown as incomplete, and an
//! upload whose sidecar fails deletes the backup's object again. The local
//! copy is kept whatever happens.
//!
//! Download: into a private temporary file in the backup directory, its
//! length checked against the server's and its SHA-256 against the
//! object's, fsync'd, then renamed to the backup's own name; the sidecar
//! the same way. A file of that name already there is used only when its
//! SHA-256 is the remote one's.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::remote::{self, Target};
use super::s3::{Client, Object};
use crate::backup::{Taken, meta};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::ui::human_bytes;

/// The remote to copy backups to: `--to`, else `x-budgie.backup.remote`.
pub fn target(ctx: &Context, to: Option<&str>) -> Result<Option<Target>> {
    match to.or(ctx.project.config.backup.remote.as_deref()) {
        Some(url) => Ok(Some(Target::parse(url)?)),
        None => Ok(None),
    }
}

/// A client for `target` whose bucket answered.
pub fn connect(ctx: &Context, target: &Target) -> Result<Client> {
    let settings = remote::settings(&ctx.project.config.backup.s3, &remote::process_env)?;
    if ctx.global.verbose > 0 {
        ctx.ui.info(&format!(
            "S3: {} at {} (region {}), credentials from {}",
            target.shown(None),
            settings.endpoint,
            settings.region,
            settings.credentials.from
        ));
    }
    let client = Client::new(&settings, target)?.with_notes(&ctx.backup_dir());
    client.check()?;
    for key in client.abort_left() {
        ctx.ui.info(&format!(
            "Aborted the upload of {} that an interrupted budgie left open (no object was made)",
            client.shown(&key)
        ));
    }
    Ok(client)
}

fn file_name(path: &Path) -> Result<&str> {
    path.file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::new(format!("{}: no file name", path.display())))
}

/// The SHA-256 of a file, streamed.
fn sha256_of(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| Error::new(format!("cannot read {}: {e}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match std::io::Read::read(&mut file, &mut buf)? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    Ok(crate::fsutil::hex(&hasher.finalize()))
}

/// Copies each backup, then its sidecar, to the remote. The first failure
/// ends it, naming what failed and the local copy that is kept.
pub fn upload(ctx: &Context, client: &Client, taken: &[Taken]) -> Result<()> {
    for t in taken {
        let name = file_name(&t.path)?;
        let key = client.target.key(name);
        let started = Instant::now();
        let bar = ctx
            .ui
            .progress_bytes(&format!("Copying {name} to {}", client.target.shown(None)));
        bar.set_length(t.bytes);
        let kept = |e: Error| {
            let message = format!(
                "{}; the local backup is kept: {}",
                e.message,
                t.path.display()
            );
            Error { message, ..e }
        };
        client
            .upload(&t.path, &key, &t.sha256, &mut |n| bar.set(n))
            .map_err(kept)?;
        let sidecar = meta::meta_path(&t.path);
        if sidecar.exists() {
            let sha = sha256_of(&sidecar)?;
            let sidecar_key = client.target.key(file_name(&sidecar)?);
            if let Err(e) = client.upload(&sidecar, &sidecar_key, &sha, &mut |_| {}) {
                let _ = client.delete(&key);
                return Err(kept(e));
            }
        }
        bar.clear();
        ctx.ui.success(&format!(
            "Copied {name} to {} ({}, {:.1}s)",
            client.target.shown(None),
            human_bytes(t.bytes),
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(())
}

/// Copies one file (a set's manifest) to the remote, whole or not at all.
pub fn upload_file(ctx: &Context, client: &Client, path: &Path) -> Result<()> {
    let name = file_name(path)?;
    let sha = sha256_of(path)?;
    client
        .upload(path, &client.target.key(name), &sha, &mut |_| {})
        .map_err(|e| Error {
            message: format!("{}; the local file is kept: {}", e.message, path.display()),
            ..e
        })?;
    ctx.ui
        .success(&format!("Copied {name} to {}", client.target.shown(None)));
    Ok(())
}

/// A remote backup: its object, and whether its sidecar is there.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemoteBackup {
    pub name: String,
    pub url: String,
    pub bytes: u64,
    pub modified: String,
    /// Its `.meta.json` is there too (uploaded last: a copy without it did
    /// not finish).
    pub complete: bool,
    /// A database dump (not a volume archive or a set's manifest).
    pub dump: bool,
    /// The dump's database service, in a stack with several.
    pub service: Option<String>,
    /// When the dump was taken (local time, from its name).
    #[serde(skip)]
    pub created: Option<chrono::NaiveDateTime>,
}

/// The newest complete remote dump (of `service`'s database when given).
pub fn newest_complete<'a>(
    found: &'a [RemoteBackup],
    service: Option<&str>,
) -> Option<&'a RemoteBackup> {
    found
        .iter()
        .rev()
        .find(|b| b.complete && b.dump && (service.is_none() || b.service.as_deref() == service))
}

/// The project's backups under the target's prefix, oldest first.
pub fn list(client: &Client, project: &str) -> Result<Vec<RemoteBackup>> {
    let objects = client.list()?;
    let prefix = client.target.list_prefix();
    let names: Vec<(&str, &Object)> = objects
        .iter()
        .filter_map(|o| o.key.strip_prefix(&prefix).map(|n| (n, o)))
        .filter(|(n, _)| !n.contains('/'))
        .collect();
    let mut out: Vec<RemoteBackup> = names
        .iter()
        .filter(|(n, _)| n.starts_with(&format!("{project}_")) && !n.ends_with(".meta.json"))
        .map(|(n, o)| {
            let parsed = crate::backup::store::parse_dump_name(project, n);
            RemoteBackup {
                dump: parsed.is_some(),
                created: parsed.as_ref().map(|p| p.created),
                service: parsed.and_then(|p| p.service),
                name: n.to_string(),
                url: client.target.shown(Some(n)),
                bytes: o.size,
                modified: o.last_modified.clone(),
                complete: names.iter().any(|(m, _)| *m == format!("{n}.meta.json")),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// `restore s3://bucket/prefix/NAME`: NAME (and its sidecar) brought into
/// the backup directory, whole and checked; its local path.
pub fn fetch(ctx: &Context, url: &str) -> Result<PathBuf> {
    let (target, name) = remote::split_file(url)?;
    if name.starts_with('.') || name.contains(['/', '\\']) || name.chars().any(char::is_control) {
        return Err(Error::usage(format!(
            "{url}: {name:?} is not a backup file name"
        )));
    }
    let client = connect(ctx, &target)?;
    let dir = ctx.backup_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
    let dest = dir.join(&name);
    let key = target.key(&name);
    let (_, remote_sha) = client.stat(&key)?;
    if dest.exists() {
        let local = sha256_of(&dest)?;
        if remote_sha.as_deref() == Some(local.as_str()) {
            ctx.ui.info(&format!(
                "{name} is in {} already: using that copy",
                dir.display()
            ));
            return Ok(dest);
        }
        return Err(Error::new(format!(
            "{} exists and is not the same file as {url}; nothing was changed",
            dest.display()
        ))
        .hint("move the local file away, or restore it by its path"));
    }
    let sidecar = format!("{name}.meta.json");
    let has_sidecar = client.stat(&target.key(&sidecar)).is_ok();
    if has_sidecar {
        // A sidecar here whose backup is not (the file was deleted, the
        // sidecar kept) describes nothing: the remote one replaces it.
        let _ = std::fs::remove_file(dir.join(&sidecar));
        download_to(
            ctx,
            &client,
            &target.key(&sidecar),
            &dir.join(&sidecar),
            None,
        )?;
    }
    let got = download_to(ctx, &client, &key, &dest, remote_sha.as_deref());
    if got.is_err() && has_sidecar {
        let _ = std::fs::remove_file(dir.join(&sidecar));
    }
    got?;
    Ok(dest)
}

/// Streams `key` into a temporary file beside `dest`, checks it, and
/// renames it to `dest`.
fn download_to(
    ctx: &Context,
    client: &Client,
    key: &str,
    dest: &Path,
    sha256: Option<&str>,
) -> Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let name = file_name(dest)?;
    let mut temp = crate::fsutil::private_temp_in(
        dir,
        crate::fsutil::DOWNLOAD_PREFIX,
        &format!(".{name}.partial"),
    )
    .map_err(|e| Error::new(format!("cannot write in {}: {e}", dir.display())))?;
    let started = Instant::now();
    let bar = ctx
        .ui
        .progress_bytes(&format!("Downloading {}", client.shown(key)));
    let mut hasher = HashingWriter {
        out: temp.as_file_mut(),
        hasher: Sha256::new(),
    };
    let bytes = client.download(key, &mut hasher, &mut |n| bar.set(n))?;
    bar.clear();
    let got = crate::fsutil::hex(&hasher.hasher.finalize());
    if let Some(want) = sha256.filter(|w| *w != got) {
        return Err(Error::new(format!(
            "{}: its SHA-256 is {got}, the upload recorded {want}; nothing was kept",
            client.shown(key)
        )));
    }
    temp.as_file().sync_all()?;
    temp.persist_noclobber(dest)
        .map_err(|e| Error::new(format!("cannot create {}: {}", dest.display(), e.error)))?;
    crate::fsutil::sync_dir(dir)?;
    ctx.ui.success(&format!(
        "Downloaded {} to {} ({}, {:.1}s)",
        client.shown(key),
        dest.display(),
        human_bytes(bytes),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

struct HashingWriter<'a> {
    out: &'a mut std::fs::File,
    hasher: Sha256,
}

impl std::io::Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
