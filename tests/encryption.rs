//! End-to-end, both engines: `x-budgie.backup.encrypt` makes every dump
//! an age file written encrypted as it streams (the plaintext never in the
//! backup directory); `backup verify` checks its checksum without the
//! identity and its content with it; `restore` needs the identity (none,
//! or a wrong one, or a cut file: refused, nothing changed); the gate
//! refuses to take an encrypted safety backup nobody at hand can read,
//! unless told `--without-identity`; the key never appears in output.

use std::os::unix::fs::PermissionsExt;

use age::secrecy::ExposeSecret;

use crate::e2e;
use crate::support::*;

fn key_file(dir: &std::path::Path, name: &str, key: &age::x25519::Identity) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", key.to_string().expose_secret())).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.display().to_string()
}

e2e!(encrypted_backups_need_their_identity, |engine| {
    let key = age::x25519::Identity::generate();
    let wrong = age::x25519::Identity::generate();
    let keys = tempfile::tempdir().unwrap();
    let key_path = key_file(keys.path(), "key.txt", &key);
    let wrong_path = key_file(keys.path(), "wrong.txt", &wrong);
    let secret = key.to_string().expose_secret().to_string();
    let p = Fixture::new(engine).compose(&format!(
        "{STACK}\nx-budgie:\n  backup:\n    encrypt:\n      - {}\n",
        key.to_public()
    ));
    p.budgie().arg("start").run().success();
    p.sql(
        "create table notes(id int primary key, body text); \
         insert into notes select g, 'plaintext-marker-' || g from generate_series(1, 5000) g;",
    );
    let before = p.checksums("appdb");

    // Encrypted as written: an age file, no plaintext in it or beside it.
    p.budgie().arg("backup").run().success();
    let files = p.backups_ending(".sql.age");
    assert_eq!(files.len(), 1, "{:?}", p.backup_dir_entries());
    let bytes = std::fs::read(&files[0]).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
    assert!(!bytes.windows(16).any(|w| w == b"plaintext-marker"));
    assert!(p.backups_ending(".sql").is_empty());
    let file = files[0].display().to_string();

    // verify: the checksum without the identity, the content with it.
    p.budgie()
        .args(["backup", "verify", &file])
        .run()
        .success()
        .stderr_has("intact")
        .stderr_has("content not checked");
    p.budgie()
        .env("BUDGIE_AGE_IDENTITY", &key_path)
        .args(["backup", "verify", &file])
        .run()
        .success()
        .stderr_has("decrypted: plain SQL dump")
        .stderr_has("decrypted with the identity");

    // restore: without the identity, with a wrong one, or from a cut
    // copy: refused, the database as it was.
    p.sql("delete from notes where id > 10");
    let changed = p.checksums("appdb");
    p.budgie()
        .args(["restore", &file, "--yes"])
        .run()
        .code(2)
        .stderr_has("is encrypted: pass the identity");
    p.budgie()
        .args(["restore", &file, "--yes", "--identity", &wrong_path])
        .run()
        .failure()
        .stderr_has("is not one it was encrypted to");
    let cut = p.path().join("cut.sql.age");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    p.budgie()
        .args([
            "restore",
            cut.to_str().unwrap(),
            "--yes",
            "--identity",
            &key_path,
        ])
        .run()
        .failure()
        .stderr_has("cut off or altered");
    assert_eq!(p.checksums("appdb"), changed);
    assert!(p.temporaries().is_empty(), "{:?}", p.temporaries());

    // With it: restored exactly; its safety backup encrypted too; the key
    // never printed.
    let out = p
        .budgie()
        .env("BUDGIE_AGE_IDENTITY", &secret)
        .args(["restore", &file, "--yes"])
        .run()
        .success()
        .stderr_has("Restored database appdb")
        .lacks("AGE-SECRET-KEY");
    assert!(!out.stdout.contains("AGE-SECRET-KEY"));
    assert_eq!(p.checksums("appdb"), before);
    assert_eq!(p.backups_ending("_pre-restore.sql.age").len(), 1);
    assert!(p.temporaries().is_empty(), "{:?}", p.temporaries());

    // The gate: an encrypted safety backup nobody at hand can read is
    // refused before anything runs; a wrong identity too.
    let volume = format!("{}_pgdata", p.name);
    p.budgie()
        .args(["clean", "--yes"])
        .run()
        .code(3)
        .stderr_has("no identity is at hand to read it back");
    p.budgie()
        .args(["clean", "--yes", "--identity", &wrong_path])
        .run()
        .code(3)
        .stderr_has("does not read it");
    assert!(p.volume_exists(&volume));
    assert_eq!(p.checksums("appdb"), before);
    // Told so explicitly, it goes on, the safety backup encrypted.
    p.budgie()
        .args(["clean", "--yes", "--without-identity"])
        .run()
        .success();
    assert!(!p.volume_exists(&volume));
    assert_eq!(p.backups_ending("_pre-clean.sql.age").len(), 1);
});
