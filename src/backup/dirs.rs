//! Host directories (bind mounts the services write to) as tar archives:
//! budgie runs on the machine that holds them, so it reads them itself —
//! no engine, no container — into `<project>_<stamp>[_<reason>].dir-<slug>.tar.zst`,
//! with the same guarantees as a volume archive (a hidden temporary file,
//! checked, fsync'd, published under its final name only when complete).
//!
//! Directories, files, symlinks (never followed), FIFOs and device nodes
//! go in with their modes, owners and times; sockets are skipped (they hold
//! no data and cannot be archived).

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::format::Content;
use super::{Taken, Target, meta};
use crate::compose::Compression;
use crate::error::{Error, Result};

/// The name part of a directory's archive: `dir-` and its path relative to
/// the project directory (or its absolute path, outside it), with every
/// character other than letters, digits, `.` and `_` as `-`.
pub fn dir_key(project_dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(project_dir).unwrap_or(path);
    let text = rel.to_string_lossy();
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        "dir-project".to_string()
    } else {
        format!("dir-{slug}")
    }
}

/// Archives the files under `path` (as `./...`) into a new backup named
/// by `key` at `target`. `progress` gets the bytes read so far.
pub fn archive_dir(
    path: &Path,
    key: &str,
    target: &Target,
    progress: &dyn Fn(u64),
) -> Result<Taken> {
    let started = Instant::now();
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| Error::new(format!("cannot read directory {}: {e}", path.display())))?;
    if !meta.is_dir() {
        return Err(Error::new(format!("{} is not a directory", path.display())));
    }
    let mut w = target.archive_writer(key)?;
    {
        let mut builder = ::tar::Builder::new(&mut w);
        builder.follow_symlinks(false);
        builder.mode(::tar::HeaderMode::Complete);
        let mut read = 0u64;
        append_tree(&mut builder, path, Path::new("."), &mut read, progress)
            .map_err(|e| e.context(format!("archive of directory {}", path.display())))?;
        builder
            .finish()
            .map_err(|e| Error::new(format!("archive of directory {}: {e}", path.display())))?;
    }
    let committed = w.commit(|seq| target.archive_name(seq, key))?;
    let m = meta::Meta {
        reason: target.reason.clone(),
        directory: Some(path.display().to_string()),
        ..meta::Meta::for_committed(
            &committed,
            &target.project,
            Compression::Zstd,
            Content::TarArchive,
            target.at.fixed_offset(),
            started.elapsed().as_secs_f64(),
        )
    };
    super::record(committed.path, m)
}

/// Appends `dir` (as `name`) and everything under it, in name order.
fn append_tree<W: std::io::Write>(
    builder: &mut ::tar::Builder<W>,
    dir: &Path,
    name: &Path,
    read: &mut u64,
    progress: &dyn Fn(u64),
) -> Result<()> {
    let fail = |p: &Path, e: std::io::Error| Error::new(format!("{}: {e}", p.display()));
    builder
        .append_path_with_name(dir, name)
        .map_err(|e| fail(dir, e))?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| fail(dir, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| fail(dir, e))?;
    entries.sort();
    for path in entries {
        if crate::interrupt::interrupted() {
            return Err(Error::interrupted());
        }
        let stat = std::fs::symlink_metadata(&path).map_err(|e| fail(&path, e))?;
        let inner = name.join(path.file_name().unwrap_or_default());
        let kind = stat.file_type();
        if kind.is_socket() {
            continue;
        }
        if kind.is_dir() {
            append_tree(builder, &path, &inner, read, progress)?;
            continue;
        }
        if kind.is_fifo() || kind.is_char_device() || kind.is_block_device() {
            append_special(builder, &stat, &inner).map_err(|e| fail(&path, e))?;
            continue;
        }
        builder
            .append_path_with_name(&path, &inner)
            .map_err(|e| fail(&path, e))?;
        if kind.is_file() {
            *read += stat.len();
            progress(*read);
        }
    }
    Ok(())
}

/// A FIFO or device node, as a header only (the tar crate's own path for
/// these takes the file's path, not the name it is given).
fn append_special<W: std::io::Write>(
    builder: &mut ::tar::Builder<W>,
    stat: &std::fs::Metadata,
    name: &Path,
) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let kind = stat.file_type();
    let mut header = ::tar::Header::new_gnu();
    header.set_metadata_in_mode(stat, ::tar::HeaderMode::Complete);
    header.set_size(0);
    if kind.is_fifo() {
        header.set_entry_type(::tar::EntryType::Fifo);
    } else {
        header.set_entry_type(if kind.is_char_device() {
            ::tar::EntryType::Char
        } else {
            ::tar::EntryType::Block
        });
        let dev = stat.rdev();
        header.set_device_major(libc::major(dev))?;
        header.set_device_minor(libc::minor(dev))?;
    }
    builder.append_data(&mut header, name, std::io::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_directory_in_the_project() {
        let p = Path::new("/srv/shop");
        assert_eq!(
            dir_key(p, Path::new("/srv/shop/data/files")),
            "dir-data-files"
        );
        assert_eq!(dir_key(p, Path::new("/srv/shop")), "dir-project");
        assert_eq!(
            dir_key(p, Path::new("/var/lib/my app")),
            "dir-var-lib-my-app"
        );
        assert_eq!(dir_key(p, Path::new("/srv/shop/ü/x")), "dir-x");
    }
}
