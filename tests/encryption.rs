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

/// The test stack encrypting to `key`, started, with `rows` notes whose
/// text (`plaintext-marker-N`) must never be in a backup file.
fn encrypted_stack(engine: Engine, key: &age::x25519::Identity, rows: u32) -> Fixture {
    let p = Fixture::new(engine).compose(&format!(
        "{STACK}\nx-budgie:\n  backup:\n    encrypt:\n      - {}\n",
        key.to_public()
    ));
    p.budgie().arg("start").run().success();
    p.sql(&format!(
        "create table notes(id int primary key, body text); \
         insert into notes select g, 'plaintext-marker-' || g from generate_series(1, {rows}) g;"
    ));
    p
}

e2e!(encrypted_backups_need_their_identity, |engine| {
    let key = age::x25519::Identity::generate();
    let wrong = age::x25519::Identity::generate();
    let keys = tempfile::tempdir().unwrap();
    let key_path = key_file(keys.path(), "key.txt", &key);
    let wrong_path = key_file(keys.path(), "wrong.txt", &wrong);
    let secret = key.to_string().expose_secret().to_string();
    let p = encrypted_stack(engine, &key, 5000);
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

/// The file's bytes: an age file, without `marker` in it.
fn assert_ciphertext(path: &std::path::Path, marker: &[u8]) {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"age-encryption.org/v1\n"),
        "{} is not an age file",
        path.display()
    );
    assert!(
        !bytes.windows(marker.len()).any(|w| w == marker),
        "{} holds plaintext",
        path.display()
    );
}

e2e!(archives_custom_dumps_and_sets_are_encrypted_too, |engine| {
    let key = age::x25519::Identity::generate();
    let keys = tempfile::tempdir().unwrap();
    let key_path = key_file(keys.path(), "key.txt", &key);
    let p = encrypted_stack(engine, &key, 3000);
    let app = p.container("app").unwrap();
    let write_upload = |text: &str| {
        p.engine_out(&[
            "exec",
            &app,
            "sh",
            "-c",
            &format!("echo {text} > /uploads/a.txt"),
        ]);
    };
    let upload = || p.in_volume("uploads", "cat /v/a.txt").trim().to_string();
    write_upload("invoice-plaintext-42");
    let before = p.checksums("appdb");

    // A volume archive: encrypted as it streams, no plaintext anywhere.
    let archive = p.backup_volume("uploads");
    assert!(archive.ends_with(".uploads.tar.zst.age"), "{archive}");
    assert_ciphertext(std::path::Path::new(&archive), b"invoice-plaintext");
    assert!(p.backups_ending(".tar.zst").is_empty());
    write_upload("changed-later");
    p.budgie()
        .args(["restore", &archive, "--volume", "uploads", "--yes"])
        .run()
        .code(2)
        .stderr_has("is encrypted: pass the identity");
    assert_eq!(upload(), "changed-later");
    p.budgie()
        .env("BUDGIE_AGE_IDENTITY", &key_path)
        .args(["restore", &archive, "--volume", "uploads", "--yes"])
        .run()
        .success()
        .stderr_has("decrypted");
    assert_eq!(upload(), "invoice-plaintext-42");
    let safety = p.backups_ending("_pre-restore.uploads.tar.zst.age");
    assert_eq!(safety.len(), 1, "{:?}", p.backup_dir_entries());
    assert_ciphertext(&safety[0], b"changed-later");

    // pg_dump's custom and directory formats: encrypted, checked while
    // they streamed, restored exactly.
    for (format, suffix) in [("custom", ".dump.age"), ("directory", ".dir.tar.age")] {
        p.budgie()
            .args(["backup", "--format", format])
            .run()
            .success();
        let dumps = p.backups_ending(suffix);
        assert_eq!(dumps.len(), 1, "{:?}", p.backup_dir_entries());
        assert_ciphertext(&dumps[0], b"plaintext-marker");
        p.sql("delete from notes where id > 10");
        p.budgie()
            .env("BUDGIE_AGE_IDENTITY", &key_path)
            .args(["restore", dumps[0].to_str().unwrap(), "--yes"])
            .run()
            .success();
        assert_eq!(p.checksums("appdb"), before, "{format}");
    }

    // clean: the safety set is ciphertext, member by member; restore --set
    // needs the identity, then brings everything back.
    let out = p
        .budgie()
        .env("BUDGIE_AGE_IDENTITY", &key_path)
        .args(["clean", "--yes"])
        .run()
        .success();
    let id = set_named(&out.stderr);
    let members: Vec<String> = p
        .backup_dir_entries()
        .into_iter()
        .filter(|n| n.contains("_pre-clean") && !n.ends_with(".json"))
        .collect();
    assert_eq!(members.len(), 2, "{members:?}");
    for m in &members {
        assert!(m.ends_with(".age"), "{m}");
        assert_ciphertext(&p.path().join("backups").join(m), b"plaintext");
    }
    p.budgie().arg("start").run().success();
    p.budgie()
        .args(["restore", "--set", &id, "--yes"])
        .run()
        .code(2)
        .stderr_has("is encrypted: pass the identity");
    assert!(
        p.sql("select count(*) from pg_tables where tablename = 'notes'")
            .trim()
            == "0"
    );
    p.budgie()
        .env("BUDGIE_AGE_IDENTITY", &key_path)
        .args(["restore", "--set", &id, "--yes"])
        .run()
        .success()
        .lacks("AGE-SECRET-KEY");
    assert_eq!(p.checksums("appdb"), before);
    assert_eq!(upload(), "invoice-plaintext-42");
    assert!(p.temporaries().is_empty(), "{:?}", p.temporaries());
});
