//! Restoring a volume from an archive of `budgie backup --volume`: a
//! throwaway container of a service's image, no network, the volume
//! mounted, emptied and filled from the tar stream.

use super::feed::feed;
use super::source::Source;
use crate::engine::{Cmd, Engine};
use crate::error::Result;

/// The command that replaces a volume's contents with a tar on stdin: a
/// throwaway container of `image`, no network, the volume mounted.
pub fn volume_restore_command(engine: &Engine, volume: &str, image: &str) -> Cmd {
    engine.run_with_volume(
        volume,
        image,
        &[
            "sh",
            "-c",
            "cd /volume && rm -rf -- * .[!.]* ..?* && tar -xf - -C /volume",
        ],
    )
}

/// Replaces a volume's contents with an archive's.
pub fn restore_volume(
    engine: &Engine,
    volume: &str,
    image: &str,
    archive: &Source,
    progress: &dyn Fn(u64),
) -> Result<()> {
    let cmd = volume_restore_command(engine, volume, image);
    feed(&cmd, archive, false, false, progress).map(|_| ())
}
