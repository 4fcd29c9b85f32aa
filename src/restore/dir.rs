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
    let fail = |e: std::io::Error| Error::new(format!("{}: {e}", file.display()));
    // As the tar crate's own unpack: directories last (deepest first), so
    // that their modes and times are what the archive says. FIFOs and
    // device nodes, which it would unpack as empty files, are made here.
    let mut directories = Vec::new();
    for entry in tar.entries().map_err(fail)? {
        let mut entry = entry.map_err(fail)?;
        let kind = entry.header().entry_type();
        if kind == ::tar::EntryType::Directory {
            directories.push(entry);
        } else if kind.is_fifo() || kind.is_character_special() || kind.is_block_special() {
            make_special(&entry, into).map_err(fail)?;
        } else {
            unpack_in(&mut entry, into).map_err(fail)?;
        }
    }
    directories.sort_by(|a, b| b.path_bytes().cmp(&a.path_bytes()));
    for mut dir in directories {
        unpack_in(&mut dir, into).map_err(fail)?;
    }
    Ok(())
}

/// `Entry::unpack_in`, refusing (rather than skipping) an entry whose path
/// would leave the directory.
fn unpack_in<R: Read>(entry: &mut ::tar::Entry<R>, into: &Path) -> std::io::Result<()> {
    if entry.unpack_in(into)? {
        return Ok(());
    }
    Err(std::io::Error::other(format!(
        "refusing the entry {}: it leaves the directory",
        String::from_utf8_lossy(&entry.path_bytes())
    )))
}

/// A FIFO or device node of the archive, made under `into` with its mode
/// and owner. Its name must stay inside `into` (no `..`, not absolute).
fn make_special<R: Read>(entry: &::tar::Entry<R>, into: &Path) -> std::io::Result<()> {
    use std::path::Component;
    let name = entry.path()?;
    if name
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(std::io::Error::other(format!(
            "refusing the entry {}: it leaves the directory",
            name.display()
        )));
    }
    let dst = into.join(&name);
    let h = entry.header();
    let mode = h.mode()? & 0o7777;
    let kind = h.entry_type();
    let (type_bits, dev) = if kind.is_fifo() {
        (libc::S_IFIFO, 0)
    } else {
        let major = h.device_major()?.unwrap_or(0);
        let minor = h.device_minor()?.unwrap_or(0);
        let bits = if kind.is_character_special() {
            libc::S_IFCHR
        } else {
            libc::S_IFBLK
        };
        (bits, libc::makedev(major, minor))
    };
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let c = std::ffi::CString::new(dst.as_os_str().as_encoded_bytes())
        .map_err(std::io::Error::other)?;
    // SAFETY: a valid C string; mknod(2) and lchown(2) touch only `dst`.
    unsafe {
        if libc::mknod(c.as_ptr(), type_bits | mode as libc::mode_t, dev) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let (uid, gid) = (h.uid()? as libc::uid_t, h.gid()? as libc::gid_t);
        if libc::lchown(c.as_ptr(), uid, gid) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    std::fs::set_permissions(&dst, std::os::unix::fs::PermissionsExt::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::os::unix::fs::{PermissionsExt, symlink};

    /// A directory with a file, a nested file with its own mode, a
    /// symlink, a FIFO and a socket.
    fn sample(dir: &Path) {
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.txt"), "alpha\n").unwrap();
        std::fs::write(dir.join("sub/b.bin"), [0u8, 1, 2, 255]).unwrap();
        std::fs::set_permissions(
            dir.join("sub/b.bin"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        symlink("a.txt", dir.join("link")).unwrap();
        let fifo = std::ffi::CString::new(dir.join("pipe").to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        std::os::unix::net::UnixListener::bind(dir.join("sock")).unwrap();
    }

    fn archive(dir: &Path, backups: &Path) -> Source {
        let target = crate::backup::Target {
            dir: backups.to_path_buf(),
            project: "shop".into(),
            at: chrono::Local::now(),
            reason: None,
            encrypt: Vec::new(),
        };
        let taken = crate::backup::dirs::archive_dir(dir, "dir-files", &target, &|_| {}).unwrap();
        assert_eq!(taken.directory.as_deref(), dir.to_str());
        super::super::source::validate_archive(&taken.path).unwrap()
    }

    #[test]
    fn a_directory_goes_out_and_comes_back_whole() {
        let t = tempfile::tempdir().unwrap();
        let files = t.path().join("files");
        sample(&files);
        let source = archive(&files, &t.path().join("backups"));
        // Changed, then restored: exactly what was archived, no socket.
        std::fs::write(files.join("a.txt"), "changed").unwrap();
        std::fs::write(files.join("new.txt"), "not in the archive").unwrap();
        restore_dir(&files, &source, "20261130120000", &|_| {}).unwrap();
        assert_eq!(
            std::fs::read_to_string(files.join("a.txt")).unwrap(),
            "alpha\n"
        );
        assert_eq!(
            std::fs::read(files.join("sub/b.bin")).unwrap(),
            [0u8, 1, 2, 255]
        );
        let mode = std::fs::metadata(files.join("sub/b.bin"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(
            std::fs::read_link(files.join("link")).unwrap(),
            Path::new("a.txt")
        );
        use std::os::unix::fs::FileTypeExt;
        let pipe = std::fs::symlink_metadata(files.join("pipe")).unwrap();
        assert!(pipe.file_type().is_fifo());
        assert!(!files.join("new.txt").exists());
        assert!(!files.join("sock").exists());
        let beside: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("budgie"))
            .collect();
        assert!(beside.is_empty(), "{beside:?}");
    }

    /// With recipients, a directory's archive is ciphertext (`.age`), and
    /// comes back whole once decrypted with the identity.
    #[test]
    fn an_encrypted_directory_archive_comes_back_with_the_identity() {
        use age::secrecy::ExposeSecret;
        let t = tempfile::tempdir().unwrap();
        let files = t.path().join("files");
        sample(&files);
        let key = age::x25519::Identity::generate();
        let backups = t.path().join("backups");
        let target = crate::backup::Target {
            dir: backups.clone(),
            project: "shop".into(),
            at: chrono::Local::now(),
            reason: None,
            encrypt: vec![key.to_public().to_string()],
        };
        let taken =
            crate::backup::dirs::archive_dir(&files, "dir-files", &target, &|_| {}).unwrap();
        let name = taken
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(name.ends_with(".dir-files.tar.zst.age"), "{name}");
        let bytes = std::fs::read(&taken.path).unwrap();
        assert!(crate::storage::crypt::is_encrypted(&bytes));
        assert!(crate::backup::parse_archive_name("shop", &name).is_some());
        let secret = key.to_string().expose_secret().to_string();
        let id = crate::storage::crypt::identity(None, Some(&secret))
            .unwrap()
            .unwrap();
        let plain = crate::restore::unwrap::decrypt(&taken.path, &backups, &id).unwrap();
        let source = super::super::source::validate_archive(&plain.path).unwrap();
        std::fs::write(files.join("a.txt"), "changed").unwrap();
        restore_dir(&files, &source, "20261130120000", &|_| {}).unwrap();
        assert_eq!(
            std::fs::read_to_string(files.join("a.txt")).unwrap(),
            "alpha\n"
        );
    }

    #[test]
    fn a_bad_archive_leaves_the_directory_as_it_was() {
        let t = tempfile::tempdir().unwrap();
        let files = t.path().join("files");
        sample(&files);
        let mut source = archive(&files, &t.path().join("backups"));
        let cut = t.path().join("cut.tar.zst");
        let bytes = std::fs::read(&source.path).unwrap();
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        source.path = cut;
        std::fs::write(files.join("a.txt"), "current").unwrap();
        let e = restore_dir(&files, &source, "20261130120001", &|_| {}).unwrap_err();
        assert!(e.message.contains("was not changed"), "{}", e.message);
        assert_eq!(
            std::fs::read_to_string(files.join("a.txt")).unwrap(),
            "current"
        );
        assert_eq!(
            std::fs::read_dir(t.path()).unwrap().count(),
            3,
            "files, backups, cut"
        );
    }

    #[test]
    fn an_entry_that_leaves_the_directory_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let files = t.path().join("files");
        std::fs::create_dir(&files).unwrap();
        std::fs::write(files.join("keep"), "current").unwrap();
        // A hand-made archive whose entry climbs out.
        let mut raw = Vec::new();
        {
            let mut b = ::tar::Builder::new(&mut raw);
            let mut h = ::tar::Header::new_gnu();
            h.set_size(4);
            h.set_mode(0o644);
            h.set_entry_type(::tar::EntryType::Regular);
            let name = b"../escaped";
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
            h.set_cksum();
            b.append(&h, &b"evil"[..]).unwrap();
            b.finish().unwrap();
        }
        let path = t.path().join("hostile.tar.zst");
        std::fs::write(&path, zstd::encode_all(&raw[..], 1).unwrap()).unwrap();
        let source = Source::bare(&path, crate::backup::verify::Format::TarZstd, None, 0);
        let e = restore_dir(&files, &source, "20261130120003", &|_| {}).unwrap_err();
        assert!(e.message.contains("leaves the directory"), "{}", e.message);
        assert!(!t.path().join("escaped").exists());
        assert_eq!(
            std::fs::read_to_string(files.join("keep")).unwrap(),
            "current"
        );
    }

    #[test]
    fn repair_puts_back_or_removes_only_what_is_safe() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("files");
        let stamp = "20261130120002";
        let (new, old) = side_paths(&path, stamp);
        // Killed between the two renames: the directory is put back.
        std::fs::create_dir(&old).unwrap();
        std::fs::write(old.join("x"), "previous").unwrap();
        std::fs::create_dir(&new).unwrap();
        let said = repair(&path, stamp, true);
        assert_eq!(said.len(), 2, "{said:?}");
        assert_eq!(std::fs::read_to_string(path.join("x")).unwrap(), "previous");
        assert!(!new.exists() && !old.exists());
        // Replaced, previous contents beside it: kept without a backup...
        std::fs::create_dir(&old).unwrap();
        let said = repair(&path, stamp, false);
        assert!(said[0].contains("kept"), "{said:?}");
        assert!(old.exists());
        // ...removed with one.
        let said = repair(&path, stamp, true);
        assert!(
            said[0].contains("removed its previous contents"),
            "{said:?}"
        );
        assert!(!old.exists() && path.exists());
        assert!(repair(&path, stamp, true).is_empty());
    }

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
