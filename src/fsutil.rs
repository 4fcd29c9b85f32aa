//! Small file utilities that backups, their sidecars, the journal and the
//! lock all need: hex digests, safe name parts, atomic writes, directory
//! fsync. A leaf: it imports nothing of budgie's.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// This machine's name (`/proc/sys/kernel/hostname`), if it can be read.
pub fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
}

/// `n` random bytes from the kernel, as lowercase hex (one-off keys and
/// passwords).
pub fn random_hex(n: usize) -> crate::error::Result<String> {
    use std::io::Read;
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| crate::error::Error::new(format!("cannot read /dev/urandom: {e}")))?;
    Ok(hex(&bytes))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// `head` cut to whole characters so that `head` + `suffix` fits in `max`
/// bytes, followed by `suffix` (a database's side names).
pub fn fit_with_suffix(head: &str, suffix: &str, max: usize) -> String {
    let room = max.saturating_sub(suffix.len());
    let mut out = String::new();
    for c in head.chars() {
        if out.len() + c.len_utf8() > room {
            break;
        }
        out.push(c);
    }
    out.push_str(suffix);
    out
}

/// Replaces anything but ASCII letters, digits, `-`, `_` and `.` by `_` and
/// keeps at most 100 characters, so that a caller's hint can never leave the
/// directory or make the name too long.
pub fn safe_name_part(s: &str) -> String {
    s.chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// An I/O error as a person reads it: "No such file or directory", without
/// the "(os error 2)" Rust adds.
pub fn io_reason(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// Fsyncs a directory so that a new entry in it survives a crash.
/// Filesystems that cannot sync a directory are taken as done.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Writes `bytes` to `target` so that `target` is always either its old
/// contents or all of the new: a hidden temporary `<prefix>XXXXXX<suffix>`
/// (mode 0600) in the same directory, written, fsync'd, renamed over
/// `target`, then the directory fsync'd. The temporary is removed on any
/// failure before the rename.
pub fn write_atomically(target: &Path, bytes: &[u8], prefix: &str, suffix: &str) -> io::Result<()> {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(suffix)
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(target).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// The temporary file a remote backup is downloaded into (in the backup
/// directory, under the project lock: a leftover is removed by the next
/// command's recovery).
pub const DOWNLOAD_PREFIX: &str = ".budgie-download.";
/// The temporary plaintext of an encrypted backup being restored or
/// checked (the same rules).
pub const DECRYPTED_PREFIX: &str = ".budgie-decrypted.";

/// A new private (0600) temporary file in `dir`, named
/// `<prefix>XXXXXX<suffix>`, removed when dropped unless kept.
pub fn private_temp_in(
    dir: &Path,
    prefix: &str,
    suffix: &str,
) -> io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(prefix)
        .suffix(suffix)
        .rand_bytes(6)
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_safe_names() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(safe_name_part("a/b c..d"), "a_b_c..d");
        assert_eq!(safe_name_part(&"x".repeat(300)).len(), 100);
        let missing = std::fs::File::open("/nonexistent/budgie").unwrap_err();
        assert_eq!(io_reason(&missing), "No such file or directory");
    }

    #[test]
    fn an_atomic_write_replaces_the_whole_file_and_leaves_no_temporary() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("j.json");
        std::fs::write(&target, b"old").unwrap();
        write_atomically(&target, b"new contents", ".j.", ".partial").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new contents");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["j.json"]);
    }
}
