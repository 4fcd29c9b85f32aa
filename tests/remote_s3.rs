//! End-to-end, both engines, against a real S3 API (moto's server on
//! 127.0.0.1): `backup --to s3://...` copies the committed backup and its
//! sidecar, whole (multipart, parts checked) or not at all; `backup list
//! --remote` lists them; `restore s3://.../FILE` downloads into the backup
//! directory and restores through the usual gate and swap; a bucket that
//! does not exist, an endpoint that does not answer and a connection cut
//! mid-upload each fail naming what failed, leave no remote object and
//! keep the local backup; a key the store (s3rver, which checks keys)
//! refuses changes nothing; no secret is on any command line.

use crate::e2e;
use crate::support::s3::{CheckingS3, CuttingProxy, PingListener, S3Server};
use crate::support::*;

const SECRET: &str = "budgie-test-secret-Zq81";
const BUCKET: &str = "budgie-test";

fn with_s3(p: Fixture, endpoint: &str) -> Fixture {
    p.env("AWS_ACCESS_KEY_ID", "budgie-test-key")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
}

/// Every process's command line holds no `needle`, sampled while `child`
/// runs.
fn no_command_line_holds(needle: &str, child: &mut std::process::Child) {
    loop {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                let line = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                assert!(
                    !line.contains(needle),
                    "a command line holds the secret: {line}"
                );
            }
        }
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

e2e!(backups_go_to_s3_whole_and_come_back, |engine| {
    let s3 = S3Server::start();
    s3.create_bucket(BUCKET);
    let pings = PingListener::start();
    let p = with_s3(
        Fixture::new(engine).compose(&format!(
            "{STACK}\nx-budgie:\n  backup:\n    remote: s3://budgie-test/nightly\n  notify:\n    on_success: {}\n    on_failure: {}\n",
            pings.url("/ok/0a1b2c"),
            pings.url("/fail/0a1b2c"),
        )),
        &s3.url(),
    );
    p.budgie().arg("start").run().success();
    // A dump above one part (8 MiB): the multipart path.
    p.sql(
        "create table items(id int primary key, name text); \
         insert into items select g, md5(g::text) || repeat('x', 40) from generate_series(1, 200000) g;",
    );
    let before = p.checksums("appdb");

    // Copied, with its sidecar; no secret on any command line meanwhile.
    let mut child = p
        .budgie()
        .args(["backup", "--to", "s3://budgie-test/nightly/"])
        .spawn_capturing_stderr();
    no_command_line_holds(SECRET, &mut child);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Copied "), "{stderr}");
    let local = p.backups_ending(".sql");
    assert_eq!(local.len(), 1, "{local:?}");
    let name = local[0].file_name().unwrap().to_str().unwrap().to_string();
    assert!(std::fs::metadata(&local[0]).unwrap().len() > 8 << 20);
    let keys = s3.keys(BUCKET);
    assert_eq!(
        keys,
        [
            format!("nightly/{name}"),
            format!("nightly/{name}.meta.json")
        ],
        "{keys:?}"
    );
    assert_eq!(
        s3.get(BUCKET, &format!("nightly/{name}")),
        std::fs::read(&local[0]).unwrap(),
        "the remote copy is the local file"
    );

    // Listed.
    let doc = p
        .budgie()
        .args([
            "backup",
            "list",
            "--to",
            "s3://budgie-test/nightly",
            "--json",
        ])
        .run()
        .success()
        .json();
    assert_eq!(doc[0]["name"], name.as_str(), "{doc}");
    assert_eq!(doc[0]["complete"], true, "{doc}");
    assert_eq!(
        doc[0]["bytes"].as_u64().unwrap(),
        std::fs::metadata(&local[0]).unwrap().len()
    );

    // doctor: the remote answers, its newest copy is fresh; the ages are
    // there for monitoring. An endpoint that does not answer fails it.
    let remote_check = |doc: &serde_json::Value| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "remote")
            .cloned()
            .unwrap_or_else(|| panic!("no remote check: {doc}"))
    };
    let doc = p.budgie().args(["doctor", "--json"]).run().json();
    assert_eq!(remote_check(&doc)["ok"], true, "{doc}");
    assert!(
        doc["newest_remote_backup_age_seconds"].as_i64().unwrap() < 3600,
        "{doc}"
    );
    assert!(
        doc["newest_backup_age_seconds"].as_i64().unwrap() < 3600,
        "{doc}"
    );
    let doc = p
        .budgie()
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args(["doctor", "--json"])
        .run()
        .code(1)
        .json();
    let check = remote_check(&doc);
    assert_eq!(check["ok"], false, "{doc}");
    assert!(
        check["detail"].as_str().unwrap().contains("cannot reach"),
        "{check}"
    );
    assert!(doc["newest_remote_backup_age_seconds"].is_null(), "{doc}");

    // The server's disk is lost: the local backups are gone; the data
    // changes. Restored from the remote copy, through the gate.
    for f in &local {
        std::fs::remove_file(f).unwrap();
        let _ = std::fs::remove_file(format!("{}.meta.json", f.display()));
    }
    p.sql("delete from items where id > 10");
    p.budgie()
        .args([
            "restore",
            &format!("s3://budgie-test/nightly/{name}"),
            "--yes",
        ])
        .run()
        .success()
        .stderr_has("Downloaded ")
        .stderr_has("Restored database appdb");
    assert_eq!(p.checksums("appdb"), before);
    assert!(p.path().join("backups").join(&name).exists());
    assert!(p.temporaries().is_empty(), "{:?}", p.temporaries());
    // verify of the remote copy; --latest --remote finds it.
    p.budgie()
        .args([
            "backup",
            "verify",
            &format!("s3://budgie-test/nightly/{name}"),
        ])
        .run()
        .success()
        .stderr_has("using that copy");
    p.sql("delete from items where id > 20");
    p.budgie()
        .args(["restore", "--latest", "--remote", "--yes", "--no-backup"])
        .run()
        .success()
        .stderr_has(&format!(
            "Newest complete remote backup: s3://budgie-test/nightly/{name}"
        ));
    assert_eq!(p.checksums("appdb"), before);

    // A bucket that does not exist: refused before any dump. As a
    // scheduled backup (--log) it pings the failure, saying why.
    let count = p.backups().len();
    let pinged = pings.requests().len();
    p.budgie()
        .args(["backup", "--log", "--to", "s3://no-such-bucket"])
        .run()
        .failure()
        .stderr_has("bucket no-such-bucket does not exist");
    assert_eq!(p.backups().len(), count);
    let got = pings.requests();
    assert_eq!(got.len(), pinged + 1, "{got:?}");
    let (line, body) = got.last().unwrap();
    assert!(line.starts_with("POST /fail/0a1b2c "), "{got:?}");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["status"], "failure", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("does not exist"),
        "{body}"
    );

    // An endpoint that does not answer.
    p.budgie()
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args(["backup", "--to", "s3://budgie-test/nightly"])
        .run()
        .failure()
        .stderr_has("cannot reach the S3 endpoint http://127.0.0.1:9");

    // The connection cut 3 MiB into the upload: exit non-zero, the local
    // backup kept and whole, no new object, the multipart upload aborted.
    let proxy = CuttingProxy::start(s3.port, 3 << 20);
    let out = p
        .budgie()
        .env("AWS_ENDPOINT_URL", proxy.url())
        .args(["backup", "--to", "s3://budgie-test/cut"])
        .run()
        .failure()
        .stderr_has("the local backup is kept");
    assert!(
        proxy.cut.load(std::sync::atomic::Ordering::SeqCst),
        "{}",
        out.explain()
    );
    assert!(
        s3.keys(BUCKET).iter().all(|k| !k.starts_with("cut/")),
        "{:?}",
        s3.keys(BUCKET)
    );
    assert!(
        s3.open_uploads(BUCKET).is_empty(),
        "{:?}",
        s3.open_uploads(BUCKET)
    );
    // The downloaded one, the restore's safety backup, the one cut off.
    let newest = p.backups_ending(".sql");
    assert_eq!(newest.len(), 3, "{newest:?}");
    for f in &newest {
        p.budgie().args(["backup", "verify"]).arg(f).run().success();
    }

    // prune applies the retention rule to the remote copies (and with
    // --remote-only to nothing local): a second backup the same day, keep
    // one a day, and the older copy goes with its sidecar.
    p.budgie()
        .arg("backup")
        .run()
        .success()
        .stderr_has("Copied ");
    let local_before = p.backups();
    p.budgie()
        .args([
            "backup",
            "prune",
            "--remote-only",
            "--keep-daily",
            "1",
            "--keep-weekly",
            "0",
            "--keep-monthly",
            "0",
        ])
        .run()
        .success()
        .stderr_has(&format!("deleted s3://budgie-test/nightly/{name}"));
    let left: Vec<String> = s3
        .keys(BUCKET)
        .into_iter()
        .filter(|k| k.starts_with("nightly/"))
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.iter().any(|k| k.contains(&name)), "{left:?}");
    assert_eq!(p.backups(), local_before);

    // Killed mid-upload (after its first part): no object; the open
    // multipart upload is aborted by the next command that reaches the
    // remote, which says so.
    let out = p
        .budgie()
        .env("BUDGIE_CRASH_AT", "upload:part")
        .args(["backup", "--to", "s3://budgie-test/killed"])
        .run();
    assert_eq!(out.signal, Some(9), "{}", out.explain());
    assert_eq!(s3.open_uploads(BUCKET).len(), 1);
    p.budgie()
        .args(["backup", "list", "--remote"])
        .run()
        .success()
        .stderr_has("Aborted the upload of s3://budgie-test/killed/");
    assert!(
        s3.open_uploads(BUCKET).is_empty(),
        "{:?}",
        s3.open_uploads(BUCKET)
    );
    assert!(s3.keys(BUCKET).iter().all(|k| !k.starts_with("killed/")));

    // backup --all: every file of the set with its sidecar, then the
    // manifest.
    let doc = p
        .budgie()
        .args(["backup", "--all", "--to", "s3://budgie-test/sets", "--json"])
        .run()
        .success()
        .json();
    let keys = s3.keys(BUCKET);
    for f in doc["files"].as_array().unwrap() {
        let path = std::path::PathBuf::from(f["path"].as_str().unwrap());
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(keys.contains(&format!("sets/{name}")), "{name}: {keys:?}");
        assert!(
            keys.contains(&format!("sets/{name}.meta.json")),
            "{name}: {keys:?}"
        );
    }
    let set = std::path::PathBuf::from(doc["set"].as_str().unwrap());
    let manifest = set.file_name().unwrap().to_str().unwrap();
    assert!(keys.contains(&format!("sets/{manifest}")), "{keys:?}");

    // Credentials never come from the compose file.
    let bad = Fixture::bare().compose(
        "services:\n  db:\n    image: postgres\nx-budgie:\n  backup:\n    s3:\n      secret_access_key: nope\n",
    );
    bad.budgie()
        .args(["config"])
        .run()
        .failure()
        .stderr_has("never reads S3 credentials from the compose file");
});

e2e!(credentials_the_store_refuses_change_nothing, |engine| {
    // A store that checks credentials, as AWS, MinIO and R2 do: its key
    // works, an unknown key is refused. (s3rver checks the key of a
    // presigned request, not its signature: a wrong secret with the right
    // key, which AWS refuses with SignatureDoesNotMatch, takes the same 403
    // path, but no server on this machine checks it.)
    let s3 = CheckingS3::start(BUCKET);
    let p = with_s3(Fixture::new(engine).compose(STACK), &s3.url())
        .env("AWS_ACCESS_KEY_ID", "S3RVER")
        .env("AWS_SECRET_ACCESS_KEY", "S3RVER");
    p.budgie().arg("start").run().success();
    p.sql(
        "create table items(id int primary key); insert into items select generate_series(1, 100);",
    );
    let before = p.checksums("appdb");
    let to = "s3://budgie-test/checked";
    p.budgie().args(["backup", "--to", to]).run().success();
    let local = p.backups_ending(".sql");
    assert_eq!(local.len(), 1, "{:?}", p.backup_dir_entries());
    let name = local[0].file_name().unwrap().to_str().unwrap().to_string();
    let held = vec![
        format!("checked/{name}"),
        format!("checked/{name}.meta.json"),
    ];
    assert_eq!(s3.keys(BUCKET), held);
    let remote = format!("{to}/{name}");

    // An unknown key: refused before any dump, naming what the store said
    // and where the credentials came from; the secret never printed.
    let wrong = |b: Budgie| {
        b.env("AWS_ACCESS_KEY_ID", "AKIANOSUCHKEY0000000")
            .env("AWS_SECRET_ACCESS_KEY", "wrong-secret-Xy7")
    };
    let count = p.backups().len();
    wrong(p.budgie())
        .args(["backup", "--to", to])
        .run()
        .failure()
        .stderr_has("denied (403 InvalidAccessKeyId")
        .stderr_has("for the credentials from the environment")
        .lacks("wrong-secret-Xy7");
    assert_eq!(p.backups().len(), count, "no dump was taken");
    // A restore from the store with it: refused, nothing downloaded, the
    // database as it was.
    p.sql("delete from items where id > 50");
    let changed = p.checksums("appdb");
    wrong(p.budgie())
        .args(["restore", &remote, "--yes"])
        .run()
        .failure()
        .stderr_has("403")
        .lacks("wrong-secret-Xy7");
    assert_eq!(p.backups().len(), count, "nothing was downloaded");
    assert_eq!(p.checksums("appdb"), changed);
    // The store holds what it held; with the right key the copy comes back
    // (the local file deleted, its sidecar left: replaced by the remote's).
    assert_eq!(s3.keys(BUCKET), held);
    std::fs::remove_file(&local[0]).unwrap();
    p.budgie()
        .args(["restore", &remote, "--yes", "--no-backup"])
        .run()
        .success();
    assert_eq!(p.checksums("appdb"), before);
});
