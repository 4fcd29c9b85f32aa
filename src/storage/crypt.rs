//! Backups encrypted to age recipients (`x-budgie.backup.encrypt`): the
//! recipients parsed and checked, the encrypting writer the backup file is
//! written through (so the plaintext never touches the disk), and the
//! identity that reads one back (`--identity FILE` or
//! `BUDGIE_AGE_IDENTITY`: a file, or the key itself in the variable;
//! never on a command line, never printed).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The first line of every age file.
pub const MAGIC: &[u8] = b"age-encryption.org/v1\n";
/// The suffix of an encrypted backup.
pub const SUFFIX: &str = ".age";

/// Whether `head` (a file's first bytes) starts an age file.
pub fn is_encrypted(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// One recipient: `age1...` (X25519) or an SSH public key
/// (`ssh-ed25519 ...`, `ssh-rsa ...`).
pub fn recipient(s: &str) -> std::result::Result<Box<dyn age::Recipient + Send>, String> {
    let s = s.trim();
    if s.starts_with("age1") {
        return s
            .parse::<age::x25519::Recipient>()
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|e| format!("{s:.20}...: not an age recipient ({e})"));
    }
    if s.starts_with("ssh-") {
        return s
            .parse::<age::ssh::Recipient>()
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|_| {
                format!(
                    "{s:.20}...: not an SSH public key age can encrypt to (ssh-ed25519 or ssh-rsa)"
                )
            });
    }
    Err(format!(
        "{s:.20}...: a recipient is an age public key (age1...) or an SSH public key (ssh-ed25519 ...)"
    ))
}

/// Whether the file at `path` is an age file (its first bytes).
pub fn file_is_encrypted(path: &Path) -> Result<bool> {
    // A directory (a pg_dump -Fd dump), a missing or unreadable file: not
    // an age file; the checks that follow say what it is.
    if !path.is_file() {
        return Ok(false);
    }
    let mut head = [0u8; MAGIC.len()];
    let Ok(mut file) = std::fs::File::open(path) else {
        return Ok(false);
    };
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    Ok(is_encrypted(&head[..n]))
}

/// The identity from `--identity FILE` (`flag`) or the process's
/// `BUDGIE_AGE_IDENTITY`.
pub fn identity_of(flag: Option<&Path>) -> Result<Option<Identity>> {
    identity(flag, std::env::var("BUDGIE_AGE_IDENTITY").ok().as_deref())
}

/// An encrypting writer around `out`; `finish` ends the age stream.
pub fn encrypt<W: Write>(recipients: &[String], out: W) -> Result<age::stream::StreamWriter<W>> {
    let parsed = recipients
        .iter()
        .map(|r| recipient(r).map_err(Error::usage))
        .collect::<Result<Vec<_>>>()?;
    let encryptor =
        age::Encryptor::with_recipients(parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient))
            .map_err(|e| Error::usage(format!("x-budgie.backup.encrypt: {e}")))?;
    encryptor
        .wrap_output(out)
        .map_err(|e| Error::new(format!("cannot start the encryption: {e}")))
}

/// Where the identity comes from, as said to the user (never the key).
pub struct Identity {
    identities: Vec<Box<dyn age::Identity>>,
    pub from: String,
}

/// The identity: `--identity FILE`, else `BUDGIE_AGE_IDENTITY` (a file, or
/// an `AGE-SECRET-KEY-...` itself); None when neither is given.
pub fn identity(flag: Option<&Path>, env: Option<&str>) -> Result<Option<Identity>> {
    let (text, from) = match (flag, env.filter(|v| !v.trim().is_empty())) {
        (Some(path), _) => (
            read_identity_file(path)?,
            format!("--identity {}", path.display()),
        ),
        (None, Some(v)) if v.trim_start().starts_with("AGE-SECRET-KEY-") => {
            (v.to_string(), "BUDGIE_AGE_IDENTITY".to_string())
        }
        (None, Some(v)) => {
            let path = PathBuf::from(v);
            (
                read_identity_file(&path)?,
                format!("BUDGIE_AGE_IDENTITY ({})", path.display()),
            )
        }
        (None, None) => return Ok(None),
    };
    let file = age::IdentityFile::from_buffer(text.as_bytes())
        .map_err(|e| Error::usage(format!("{from}: not an age identity file: {e}")))?;
    let identities = file
        .into_identities()
        .map_err(|e| Error::usage(format!("{from}: {e}")))?;
    if identities.is_empty() {
        return Err(Error::usage(format!("{from}: holds no identity")));
    }
    Ok(Some(Identity { identities, from }))
}

fn read_identity_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::usage(format!(
            "cannot read the identity file {}: {e}",
            path.display()
        ))
    })
}

impl Identity {
    /// A reader of `input` decrypted; a wrong identity or a damaged header
    /// is an error naming `what`.
    pub fn decrypt<'a, R: Read + 'a>(&self, input: R, what: &str) -> Result<Box<dyn Read + 'a>> {
        let decryptor = age::Decryptor::new(input)
            .map_err(|e| Error::new(format!("{what}: not a readable age file: {e}")))?;
        let reader = decryptor
            .decrypt(self.identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => Error::new(format!(
                    "{what}: the identity from {} is not one it was encrypted to; nothing was changed",
                    self.from
                ))
                .hint("pass the identity of one of x-budgie.backup.encrypt's recipients: --identity FILE or BUDGIE_AGE_IDENTITY"),
                other => Error::new(format!("{what}: cannot decrypt: {other}")),
            })?;
        Ok(Box::new(reader))
    }

    /// Whether this identity reads what is encrypted to `recipients` (a
    /// probe encrypted and decrypted in memory).
    pub fn reads(&self, recipients: &[String]) -> Result<bool> {
        let mut probe = Vec::new();
        let mut w = encrypt(recipients, &mut probe)?;
        w.write_all(b"budgie")?;
        w.finish()?;
        let mut out = Vec::new();
        match self.decrypt(&probe[..], "probe") {
            Ok(mut r) => {
                r.read_to_end(&mut out)?;
                Ok(out == b"budgie")
            }
            Err(_) => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    #[test]
    fn round_trip_and_wrong_identity() {
        let key = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let recipients = vec![key.to_public().to_string()];
        let mut file = Vec::new();
        let mut w = encrypt(&recipients, &mut file).unwrap();
        w.write_all(b"-- PostgreSQL database dump complete\n")
            .unwrap();
        w.finish().unwrap();
        assert!(is_encrypted(&file));
        assert!(!file.windows(10).any(|w| w == b"PostgreSQL"));

        let secret = key.to_string();
        let id = identity(None, Some(secret.expose_secret()))
            .unwrap()
            .unwrap();
        assert!(id.reads(&recipients).unwrap());
        let mut out = String::new();
        id.decrypt(&file[..], "x")
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(out.ends_with("complete\n"));
        assert!(!id.from.contains("AGE-SECRET"));

        let wrong = other.to_string();
        let id = identity(None, Some(wrong.expose_secret()))
            .unwrap()
            .unwrap();
        assert!(!id.reads(&recipients).unwrap());
        let e = id.decrypt(&file[..], "app.sql.age").err().unwrap();
        assert!(
            e.message.contains("not one it was encrypted to"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("AGE-SECRET"));

        assert!(recipient("age1nope").is_err());
        assert!(recipient("ssh-ed25519 AAAA").is_err());
        assert!(recipient("hello").err().unwrap().contains("age public key"));
        assert!(identity(None, None).unwrap().is_none());
        // A directory (a -Fd dump) or a missing file is no age file.
        let dir = tempfile::tempdir().unwrap();
        assert!(!file_is_encrypted(dir.path()).unwrap());
        assert!(!file_is_encrypted(&dir.path().join("none")).unwrap());
        std::fs::write(dir.path().join("x.age"), &file).unwrap();
        assert!(file_is_encrypted(&dir.path().join("x.age")).unwrap());
        assert!(identity(Some(Path::new("/nonexistent/key.txt")), None).is_err());
    }
}
