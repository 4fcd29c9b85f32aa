//! A host directory's contents replaced by an archive's (`restore --set`):
//! the archive is unpacked into a new directory beside it
//! (`.<name>.budgie-restore-<stamp>`), owners, modes and times kept; only
//! when that is complete does it take the directory's place, by two
//! renames (the current directory to `.<name>.budgie-old-<stamp>`, the new
//! one to its name), and the previous contents are removed after. A
//! failure before the renames leaves the directory as it was; the gate
//! archived it before this ran.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::source::Source;
use crate::error::{Error, Result};
use crate::interrupt::interrupted;

/// The new and the set-aside directory of a restore of `path`.
pub fn side_paths(path: &Path, stamp: &str) -> (PathBuf, PathBuf) {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (
        parent.join(format!(".{name}.budgie-restore-{stamp}")),
        parent.join(format!(".{name}.budgie-old-{stamp}")),
    )
}

/// Counts the bytes read from the archive file, for the progress bar.
struct Counting<'a, R> {
    inner: R,
    read: u64,
    progress: &'a dyn Fn(u64),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if interrupted() {
            return Err(std::io::Error::other("interrupted"));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.progress)(self.read);
        Ok(n)
    }
}

/// Replaces the contents of `path` with the archive's (see the module
/// documentation).
pub fn restore_dir(
    path: &Path,
    archive: &Source,
    stamp: &str,
    progress: &dyn Fn(u64),
) -> Result<()> {
    let (new, old) = side_paths(path, stamp);
    let unpacked = unpack(&archive.path, &new, progress);
    if let Err(e) = unpacked {
        let _ = std::fs::remove_dir_all(&new);
        if interrupted() {
            return Err(Error::interrupted());
        }
        return Err(e.context(format!(
            "unpacking {} failed; {} was not changed",
            archive.path.display(),
            path.display()
        )));
    }
    crate::crash::point("restore-dir:unpacked");
    let had = path.exists();
    if had && let Err(e) = std::fs::rename(path, &old) {
        let _ = std::fs::remove_dir_all(&new);
        return Err(Error::new(format!(
            "cannot set {} aside ({e}); it was not changed",
            path.display()
        )));
    }
    if let Err(e) = std::fs::rename(&new, path) {
        let back = if had {
            std::fs::rename(&old, path)
        } else {
            Ok(())
        };
        let _ = std::fs::remove_dir_all(&new);
        return Err(match back {
            Ok(()) => Error::new(format!(
                "cannot put the restored files in place at {} ({e}); it was not changed",
                path.display()
            )),
            Err(b) => Error::new(format!(
                "cannot put the restored files in place at {} ({e}), nor the previous ones back ({b}): they are in {}",
                path.display(),
                old.display()
            )),
        });
    }
    crate::crash::point("restore-dir:swapped");
    if had {
        std::fs::remove_dir_all(&old).map_err(|e| {
            Error::new(format!(
                "{} is restored, but its previous contents could not be removed ({e}): they are in {}",
                path.display(),
                old.display()
            ))
        })?;
    }
    Ok(())
}

/// What an interrupted restore of `path` left, put right: an unfinished
/// copy is removed; a directory set aside and not replaced is put back;
/// one set aside and replaced (the restore got that far) is removed only
/// when `backed_up` (a complete safety archive holds it), else kept. Returns
/// what it did or found, one line each.
pub fn repair(path: &Path, stamp: &str, backed_up: bool) -> Vec<String> {
    let (new, old) = side_paths(path, stamp);
    let mut said = Vec::new();
    if new.exists() {
        said.push(match std::fs::remove_dir_all(&new) {
            Ok(()) => format!("removed {}, an unfinished restore's copy", new.display()),
            Err(e) => format!("could not remove {} ({e})", new.display()),
        });
    }
    if !old.exists() {
        return said;
    }
    if !path.exists() {
        said.push(match std::fs::rename(&old, path) {
            Ok(()) => format!("put the previous contents of {} back", path.display()),
            Err(e) => format!(
                "{} is missing and its previous contents are in {} ({e})",
                path.display(),
                old.display()
            ),
        });
    } else if backed_up {
        said.push(match std::fs::remove_dir_all(&old) {
            Ok(()) => format!(
                "{} was restored; removed its previous contents (a safety archive holds them)",
                path.display()
            ),
            Err(e) => format!("could not remove {} ({e})", old.display()),
        });
    } else {
        said.push(format!(
            "{} was restored; its previous contents are kept in {} (no safety archive holds them)",
            path.display(),
            old.display()
        ));
    }
    said
}

/// Unpacks the `.tar.zst` at `file` into the new directory `into`.
fn unpack(file: &Path, into: &Path, progress: &dyn Fn(u64)) -> Result<()> {
    if into.exists() {
        std::fs::remove_dir_all(into)
            .map_err(|e| Error::new(format!("cannot remove {}: {e}", into.display())))?;
    }
    std::fs::create_dir(into)
        .map_err(|e| Error::new(format!("cannot create {}: {e}", into.display())))?;
    let f = std::fs::File::open(file)
        .map_err(|e| Error::new(format!("cannot read {}: {e}", file.display())))?;
    let counting = Counting {
        inner: f,
        read: 0,
        progress,
    };
    let decoder = zstd::stream::read::Decoder::new(counting)
        .map_err(|e| Error::new(format!("cannot read {}: {e}", file.display())))?;
    let mut tar = ::tar::Archive::new(decoder);
    tar.set_preserve_permissions(true);
    tar.set_preserve_ownerships(true);
    tar.set_preserve_mtime(true);
    tar.set_overwrite(true);
    tar.unpack(into)
        .map_err(|e| Error::new(format!("{}: {e}", file.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_directories_sit_beside_the_directory() {
        let (new, old) = side_paths(Path::new("/srv/shop/files"), "20261130120000");
        assert_eq!(
            new,
            Path::new("/srv/shop/.files.budgie-restore-20261130120000")
        );
        assert_eq!(old, Path::new("/srv/shop/.files.budgie-old-20261130120000"));
    }
}
