//! What `restore`, `restore --volume` and `restore --set` do with a file
//! before anything is touched: its checks run with a spinner, and an
//! age-encrypted backup is decrypted, with the identity, into the backup
//! directory under the project lock.

use std::path::Path;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::recover::lock;

/// Runs a check that reads a whole file (compressed or custom-format dumps
/// are read to the end) with a spinner.
pub fn checking<T>(ctx: &Context, path: &Path, check: impl FnOnce() -> Result<T>) -> Result<T> {
    let spinner = ctx.ui.spinner(&format!("Checking {}", path.display()));
    let result = check();
    spinner.clear();
    result
}

/// An age-encrypted backup: decrypted into the backup directory (removed
/// when the `Unpacked` drops) under the project lock, taken first for
/// `command` (the lock's crash recovery would take the copy for a
/// leftover). None when `named` is not encrypted.
pub fn decrypted(
    ctx: &Context,
    named: &Path,
    command: &str,
) -> Result<
    Option<(
        Option<crate::recover::Held>,
        crate::restore::unwrap::Unpacked,
    )>,
> {
    if !crate::storage::crypt::file_is_encrypted(named)? {
        return Ok(None);
    }
    let identity = identity_for(ctx, named)?;
    let taken = match ctx.global.dry_run {
        true => None,
        false => Some(lock(ctx, command)?),
    };
    let decrypted = checking(ctx, named, || {
        crate::restore::unwrap::decrypt(named, &ctx.backup_dir(), &identity)
    })?;
    Ok(Some((taken, decrypted)))
}

/// The identity that reads encrypted `file`: `--identity`, else
/// `BUDGIE_AGE_IDENTITY`; refused without one.
pub fn identity_for(ctx: &Context, file: &Path) -> Result<crate::storage::crypt::Identity> {
    crate::storage::crypt::identity_of(ctx.global.identity.as_deref())?.ok_or_else(|| {
        Error::usage(format!(
            "{} is encrypted: pass the identity that reads it (--identity FILE, or BUDGIE_AGE_IDENTITY); nothing was changed",
            file.display()
        ))
    })
}
