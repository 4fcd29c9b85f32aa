//! Files that hold one dump, as DDEV imports them: a `.zip`, or a tar
//! (`.tar`, `.tar.gz`/`.tgz`, `.tar.xz`, `.tar.bz2`, `.tar.zst`) with one
//! dump file in it, or with one pg_dump directory-format dump, or a
//! compressed pg_dump tar-format dump.
//!
//! The dump is copied out into a hidden temporary file in the backup
//! directory (`.budgie-unpacked.*.partial`: removed when the restore ends,
//! and by crash recovery when budgie was killed), and the restore goes on
//! with that file as with any other: the same checks, the same refusals. A
//! directory-format dump becomes a directory in a tar, which the restore
//! unpacks into the database container. Nothing is changed anywhere else
//! before the dump inside passed its checks.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use crate::backup::packing::Packing;
use crate::error::{Error, Result};

/// The prefix of an unpacked dump's temporary file.
pub const PREFIX: &str = ".budgie-unpacked.";

/// A dump copied out of the file that held it; the copy is removed when
/// this drops.
pub struct Unpacked {
    pub path: PathBuf,
    /// What it is, in words: `dump.sql in export.zip`.
    pub origin: String,
    _temp: TempPath,
}

/// An age-encrypted backup decrypted into `dir` (a private temporary
/// file, removed when the `Unpacked` drops) for the checks and the load
/// that follow. age authenticates every chunk and marks the last one: a
/// cut or altered file fails here, naming it.
pub fn decrypt(
    path: &Path,
    dir: &Path,
    identity: &crate::storage::crypt::Identity,
) -> Result<Unpacked> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = name
        .strip_suffix(crate::storage::crypt::SUFFIX)
        .unwrap_or(&name);
    let (mut file, temp) = temp_named(dir, crate::fsutil::DECRYPTED_PREFIX, base)?;
    let input = std::io::BufReader::new(
        File::open(path).map_err(|e| Error::new(format!("cannot read {}: {e}", path.display())))?,
    );
    let mut plain = identity.decrypt(input, &name)?;
    std::io::copy(&mut plain, &mut file).map_err(|e| {
        Error::new(format!(
            "cannot decrypt {name}: {e} (cut off or altered); nothing was changed"
        ))
    })?;
    file.sync_all()?;
    Ok(Unpacked {
        path: temp.to_path_buf(),
        origin: format!("{name}, decrypted"),
        _temp: temp,
    })
}

/// What a file turned out to hold.
#[derive(Debug, PartialEq, Eq)]
enum Held {
    /// One dump file: its name in the archive.
    One(String),
    /// A pg_dump directory-format or tar-format dump: the whole tar is
    /// the dump.
    WholeTar,
}

/// Unpacks `path` into `dir` when it is a zip or a tar holding one dump;
/// None when it is a dump itself (or anything else: the checks that follow
/// say what).
pub fn unpack(path: &Path, dir: &Path) -> Result<Option<Unpacked>> {
    match wrapper(path)? {
        Some(w) => unpack_as(path, dir, w),
        None => Ok(None),
    }
}

/// [`unpack`] for a file [`wrapper`] already told.
pub fn unpack_as(path: &Path, dir: &Path, wrapper: Wrapper) -> Result<Option<Unpacked>> {
    let packing = match wrapper {
        Wrapper::Zip => return from_zip(path, dir).map(Some),
        Wrapper::Tar(packing) => packing,
    };
    let Some(held) = tar_holds(path, packing)? else {
        return Ok(None);
    };
    if held == Held::WholeTar && packing.is_none() {
        // pg_dump -Ft, or a directory in a tar: read as they are.
        return Ok(None);
    }
    let name = match &held {
        Held::One(member) => member.clone(),
        Held::WholeTar => "the dump".to_string(),
    };
    let origin = format!("{name} in {}", file_name(path));
    let (mut out, temp) = temp_in(dir, &name)?;
    let written = (|| -> io::Result<()> {
        let mut tar = tar::Archive::new(decoded(path, packing)?);
        match &held {
            Held::WholeTar => {
                io::copy(&mut tar.into_inner(), &mut out)?;
            }
            Held::One(member) => {
                for entry in tar.entries()? {
                    let mut entry = entry?;
                    if entry.path()?.to_string_lossy() == *member {
                        io::copy(&mut entry, &mut out)?;
                        break;
                    }
                }
            }
        }
        out.flush()?;
        out.sync_all()
    })();
    written.map_err(|e| unpack_failed(path, &temp, &e))?;
    Ok(Some(Unpacked {
        path: temp.to_path_buf(),
        origin,
        _temp: temp,
    }))
}

/// For a check that writes nowhere else (`backup verify`): the dump in
/// `path` unpacked into a new temporary directory, when `path` holds one.
/// Both are removed when the pair drops.
pub fn unpack_for_check(path: &Path) -> Result<Option<(tempfile::TempDir, Unpacked)>> {
    let Some(w) = wrapper(path)? else {
        return Ok(None);
    };
    let holder = tempfile::tempdir()
        .map_err(|e| Error::new(format!("cannot make a temporary directory: {e}")))?;
    Ok(unpack_as(path, holder.path(), w)?.map(|u| (holder, u)))
}

/// A file that may hold a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapper {
    Zip,
    /// A tar, compressed or not.
    Tar(Option<Packing>),
}

/// Whether `path` is a zip or a tar (compressed or not), by its first
/// bytes. A caller takes the project lock before [`unpack`] writes into
/// the backup directory, where the lock's crash recovery would take the
/// unpacked file for a leftover.
pub fn wrapper(path: &Path) -> Result<Option<Wrapper>> {
    if path.is_dir() {
        return Ok(None);
    }
    // budgie's own backups say what they are.
    if crate::backup::meta::read_meta(path).is_some() {
        return Ok(None);
    }
    let cannot = |e: io::Error| Error::new(format!("cannot read {}: {e}", path.display()));
    // A file that cannot be opened is none: the checks that follow say why.
    let Ok(file) = File::open(path) else {
        return Ok(None);
    };
    let mut head = Vec::new();
    file.take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(cannot)?;
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Ok(Some(Wrapper::Zip));
    }
    let packing = Packing::detect(&head);
    let tar = match packing {
        None => is_tar(&head),
        Some(p) => {
            // The first block after decompression tells.
            let mut inner = Vec::new();
            let mut r = p.reader(BufReader::new(&head[..])).map_err(cannot)?;
            let _ = r.by_ref().take(1024).read_to_end(&mut inner);
            is_tar(&inner)
        }
    };
    Ok(tar.then_some(Wrapper::Tar(packing)))
}

fn unpack_failed(path: &Path, temp: &Path, e: &io::Error) -> Error {
    Error::new(format!(
        "cannot unpack the dump in {} into {}: {e}; nothing was changed",
        path.display(),
        temp.display()
    ))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn is_tar(block: &[u8]) -> bool {
    block.get(257..262) == Some(b"ustar".as_slice())
}

/// The file's bytes, decompressed as `packing` says.
fn decoded(path: &Path, packing: Option<Packing>) -> io::Result<Box<dyn Read + Send>> {
    let file = BufReader::with_capacity(256 * 1024, File::open(path)?);
    match packing {
        Some(p) => p.reader(file),
        None => Ok(Box::new(file)),
    }
}

/// Members that are not part of what was packed: macOS's resource forks
/// and `__MACOSX/` folder.
fn is_junk(name: &str) -> bool {
    name.starts_with("__MACOSX/")
        || name
            .rsplit('/')
            .next()
            .is_some_and(|base| base.starts_with("._") || base == ".DS_Store")
}

/// What the tar holds, read through once; None when it holds no file
/// named as dumps are.
fn tar_holds(path: &Path, packing: Option<Packing>) -> Result<Option<Held>> {
    let cannot = |e: io::Error| {
        Error::new(format!(
            "cannot read {} as a tar: {e}; nothing was changed",
            path.display()
        ))
    };
    let mut tar = tar::Archive::new(decoded(path, packing).map_err(cannot)?);
    let mut files = Vec::new();
    for entry in tar.entries().map_err(cannot)? {
        let entry = entry.map_err(cannot)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(cannot)?.to_string_lossy().into_owned();
        if !is_junk(&name) {
            files.push(name);
        }
    }
    if files
        .iter()
        .any(|f| f == "toc.dat" || f.ends_with("/toc.dat"))
    {
        return Ok(Some(Held::WholeTar));
    }
    // A tar of anything else (a volume archive): not a wrapper; the
    // checks that follow say what it is.
    if !files.iter().any(|f| dump_like(f)) {
        return Ok(None);
    }
    one_of(path, files).map(|f| Some(Held::One(f)))
}

/// A file name the way dumps are named.
fn dump_like(name: &str) -> bool {
    const ENDS: &[&str] = &[
        ".sql", ".sql.gz", ".sql.zst", ".sql.xz", ".sql.bz2", ".dump", ".pgdump", ".backup",
        ".psql", ".dir.tar",
    ];
    let lower = name.to_ascii_lowercase();
    ENDS.iter().any(|e| lower.ends_with(e))
}

/// The one file among `files`, or the error that lists them.
fn one_of(path: &Path, mut files: Vec<String>) -> Result<String> {
    match files.len() {
        1 => Ok(files.remove(0)),
        0 => Err(Error::new(format!(
            "{} holds no file; nothing was changed",
            path.display()
        ))),
        n => {
            let shown: Vec<&str> = files.iter().take(5).map(String::as_str).collect();
            Err(Error::new(format!(
                "{} holds {n} files ({}{}): budgie restores a file that holds one dump; nothing was changed",
                path.display(),
                shown.join(", "),
                if n > 5 { ", ..." } else { "" }
            ))
            .hint("unpack it, then restore the dump itself: budgie restore DUMP"))
        }
    }
}

/// A new hidden temporary file in `dir` for the dump named `name`.
fn temp_in(dir: &Path, name: &str) -> Result<(File, TempPath)> {
    temp_named(dir, PREFIX, name)
}

/// A private temporary file `<prefix>XXXXXX.<name's last part>.partial`
/// in the backup directory `dir`.
fn temp_named(dir: &Path, prefix: &str, name: &str) -> Result<(File, TempPath)> {
    crate::backup::store::ensure_backup_dir(dir)?;
    let base: String = name
        .rsplit('/')
        .next()
        .unwrap_or(name)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let named =
        crate::fsutil::private_temp_in(dir, prefix, &format!(".{base}.partial")).map_err(|e| {
            Error::new(format!(
                "cannot create a temporary file in the backup directory {}: {e}",
                dir.display()
            ))
        })?;
    Ok(named.into_parts())
}

/// The dump in a zip: its one file copied out, or its directory-format
/// dump written as a tar.
fn from_zip(path: &Path, dir: &Path) -> Result<Unpacked> {
    let cannot = |e: zip::result::ZipError| {
        Error::new(format!(
            "cannot read {} as a zip: {e}; nothing was changed",
            path.display()
        ))
    };
    let file =
        File::open(path).map_err(|e| Error::new(format!("cannot read {}: {e}", path.display())))?;
    let mut zip = zip::ZipArchive::new(file).map_err(cannot)?;
    let mut files = Vec::new();
    for name in zip.file_names() {
        let name = name.map_err(cannot)?;
        if !name.ends_with('/') && !is_junk(&name) {
            files.push(name.into_owned());
        }
    }
    files.sort();
    let directory = files
        .iter()
        .any(|f| f == "toc.dat" || f.ends_with("/toc.dat"));
    let name = if directory {
        "the dump".to_string()
    } else {
        one_of(path, files.clone())?
    };
    let origin = format!("{name} in {}", file_name(path));
    let (out, temp) = temp_in(dir, &name)?;
    let written = if directory {
        zip_directory_as_tar(&mut zip, &files, out)
    } else {
        copy_member(&mut zip, &name, out)
    };
    written.map_err(|e| unpack_failed(path, &temp, &e))?;
    Ok(Unpacked {
        path: temp.to_path_buf(),
        origin,
        _temp: temp,
    })
}

fn copy_member<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    mut out: File,
) -> io::Result<()> {
    let mut member = zip.by_name(name).map_err(io::Error::other)?;
    io::copy(&mut member, &mut out)?;
    out.sync_all()
}

/// The zip's files as a tar (a directory-format dump: the tar's check
/// then says whether it is one).
fn zip_directory_as_tar<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    files: &[String],
    out: File,
) -> io::Result<()> {
    let mut tar = tar::Builder::new(out);
    for name in files {
        let member = zip.by_name(name).map_err(io::Error::other)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(member.size());
        header.set_mode(0o600);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append_data(&mut header, name, member)?;
    }
    tar.into_inner()?.sync_all()
}

#[cfg(test)]
mod tests;
