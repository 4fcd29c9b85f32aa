//! The gate's check for encrypted safety backups: one that nobody at
//! hand can read back is no safety backup.

use super::GateOptions;
use crate::context::Context;
use crate::error::{Error, Result};

/// With `x-budgie.backup.encrypt`, the safety backup is encrypted: an
/// identity at hand must read it back (a probe encrypted to the same
/// recipients), or the user says `--without-identity`. Refused before
/// anything runs otherwise.
pub(super) fn readable_safety_backup(ctx: &Context, opts: GateOptions) -> Result<()> {
    let recipients = &ctx.project.config.backup.encrypt;
    if recipients.is_empty()
        || opts.no_backup
        || opts.safety_snapshot
        || ctx.global.without_identity
    {
        return Ok(());
    }
    let identity = crate::storage::crypt::identity_of(ctx.global.identity.as_deref())?;
    let reads = match &identity {
        Some(id) => id.reads(recipients)?,
        None => false,
    };
    if reads {
        return Ok(());
    }
    Err(Error::refused(format!(
        "the safety backup will be encrypted to x-budgie.backup.encrypt's recipients, and {}; nothing was changed",
        match identity {
            Some(id) => format!("the identity from {} does not read it", id.from),
            None => "no identity is at hand to read it back".to_string(),
        }
    ))
    .hint("pass the identity (--identity FILE, or BUDGIE_AGE_IDENTITY), or --without-identity if you hold it elsewhere"))
}
