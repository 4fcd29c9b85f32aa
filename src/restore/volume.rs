//! Restoring a volume from an archive of `budgie backup --volume`: the
//! volume emptied (created again alike) and filled from the tar stream
//! through the engine (`engine::VolumeIo`), nothing needed inside any image.

use super::feed::feed;
use super::source::Source;
use crate::engine::VolumeIo;
use crate::error::Result;

/// Replaces a volume's contents with an archive's.
pub fn restore_volume(io: &VolumeIo, archive: &Source, progress: &dyn Fn(u64)) -> Result<()> {
    io.replacing(|cmd| feed(cmd, archive, false, false, progress).map(|_| ()))
}
