//! A pg_dump archive (custom format, or a directory-format dump in a
//! tar) checked as it streams into an encrypted backup file.
//!
//! Unencrypted archives are checked by reading the file back from the
//! disk (`writer::check_archive`). An encrypted one cannot be: what lands
//! on the disk is ciphertext, and the identity that reads it is not at
//! hand when backing up (recipients are public keys). So the plaintext is
//! checked on its way to the encryption instead: every chunk written is
//! handed to a thread that runs the same archive reader over it, and
//! `finish` waits for its verdict. The channel is bounded, so the checker
//! never holds more than a few chunks.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::format::Content;
use super::pgarchive;

/// Chunks waiting for the checker at most (each one `write` call's bytes).
const QUEUE: usize = 32;

/// What the archive's check found: its server version when complete, or
/// why it is not.
pub type Verdict = std::result::Result<Option<String>, String>;

/// The checker thread and the channel that feeds it.
pub struct StreamCheck {
    tx: Option<SyncSender<Vec<u8>>>,
    handle: JoinHandle<Verdict>,
}

impl StreamCheck {
    /// Starts checking a stream of `content` (PgCustom or PgDirectory).
    pub fn start(content: Content) -> io::Result<StreamCheck> {
        let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE);
        let handle = std::thread::Builder::new()
            .name("budgie-archive-check".into())
            .spawn(move || {
                let mut reader = ChannelReader {
                    rx,
                    chunk: Vec::new(),
                    at: 0,
                };
                let verdict = check(content, &mut reader);
                // Whatever the checker did not read is drained, so the
                // writer never waits on a full queue nobody empties.
                while reader.rx.recv().is_ok() {}
                verdict
            })?;
        Ok(StreamCheck {
            tx: Some(tx),
            handle,
        })
    }

    /// Hands a copy of `buf` to the checker (waits while its queue is full).
    pub fn feed(&self, buf: &[u8]) {
        if let Some(tx) = &self.tx {
            // The checker drains until the stream ends: a send only fails
            // when it panicked, which `finish` reports.
            let _ = tx.send(buf.to_vec());
        }
    }

    /// Ends the stream and waits for the verdict.
    pub fn finish(mut self) -> Verdict {
        drop(self.tx.take());
        self.handle
            .join()
            .unwrap_or_else(|_| Err("the archive's check stopped unexpectedly".to_string()))
    }
}

/// The archive reader run over the whole stream.
fn check(content: Content, r: &mut impl Read) -> Verdict {
    if content == Content::PgCustom {
        match pgarchive::check_custom(r) {
            Ok(Ok(toc)) => Ok(toc.header.server_version),
            Ok(Err(p)) => Err(p.to_string()),
            Err(e) => Err(e.to_string()),
        }
    } else {
        pgarchive::check_directory_tar(r)
            .map(|(toc, _)| toc.header.server_version)
            .map_err(|p| p.to_string())
    }
}

/// The chunks from the channel as one stream; it ends when the writer
/// drops its sender.
struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.recv() {
                Ok(next) => {
                    self.chunk = next;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pg_dump -Fc` written to a pipe, as budgie streams it.
    const PIPE: &[u8] = include_bytes!("../../tests/data/pgdump/small-pipe.dump");
    /// A directory-format dump in a tar, as budgie streams it.
    const DIR_TAR: &[u8] = include_bytes!("../../tests/data/pgdump/small-dir.tar");

    fn fed(content: Content, data: &[u8], chunk: usize) -> Verdict {
        let c = StreamCheck::start(content).unwrap();
        for part in data.chunks(chunk) {
            c.feed(part);
        }
        c.finish()
    }

    #[test]
    fn a_complete_custom_archive_passes_in_any_chunking() {
        for chunk in [1, 7, 4096, PIPE.len()] {
            let v = fed(Content::PgCustom, PIPE, chunk);
            assert!(matches!(v, Ok(Some(_))), "chunk {chunk}: {v:?}");
            let v = fed(Content::PgDirectory, DIR_TAR, chunk);
            assert!(matches!(v, Ok(Some(_))), "chunk {chunk}: {v:?}");
        }
    }

    /// Through the backup writer: an encrypted archive is committed when
    /// complete (and decrypts to the bytes given), refused when cut, and a
    /// refused one leaves no file.
    #[test]
    fn encrypted_archives_are_checked_on_their_way_to_the_disk() {
        use crate::backup::writer::BackupWriter;
        use crate::compose::Compression;
        use std::io::Write;
        let key = age::x25519::Identity::generate();
        let recipients = vec![key.to_public().to_string()];
        let dir = tempfile::tempdir().unwrap();
        let write = |data: &[u8], name: &str| {
            let mut w = BackupWriter::create_encrypted(
                dir.path(),
                "app",
                Content::PgCustom,
                Compression::None,
                &recipients,
            )
            .unwrap();
            for part in data.chunks(1000) {
                w.write_all(part).unwrap();
            }
            let name = name.to_string();
            w.commit(move |_| name.clone())
        };
        let c = write(PIPE, "app.dump.age").unwrap();
        assert!(c.server_version.is_some());
        let file = std::fs::read(&c.path).unwrap();
        assert!(crate::storage::crypt::is_encrypted(&file));
        let decryptor = age::Decryptor::new(&file[..]).unwrap();
        let mut plain = Vec::new();
        decryptor
            .decrypt(std::iter::once(&key as &dyn age::Identity))
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, PIPE);
        let err = write(&PIPE[..PIPE.len() / 2], "cut.dump.age").unwrap_err();
        assert!(err.message.contains("not complete"), "{err}");
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".gitignore", "app.dump.age"]);
    }

    #[test]
    fn a_cut_or_foreign_stream_is_refused() {
        let cut = &PIPE[..PIPE.len() * 2 / 3];
        assert!(fed(Content::PgCustom, cut, 4096).is_err());
        let cut = &DIR_TAR[..DIR_TAR.len() / 2];
        assert!(fed(Content::PgDirectory, cut, 4096).is_err());
        assert!(fed(Content::PgCustom, b"SELECT 1;\n", 4096).is_err());
        assert!(fed(Content::PgDirectory, &[0u8; 100], 4096).is_err());
        // A stream far longer than the queue, refused early: the writer
        // never blocks on it.
        let junk = vec![b'x'; 4096 * QUEUE * 4];
        assert!(fed(Content::PgCustom, &junk, 4096).is_err());
    }
}
