//! End-to-end: the safety gate in front of clean, nuke and volumes rm, on
//! both engines. Each data-safety invariant has a test here that fails if
//! the invariant breaks.

use crate::e2e;
use crate::support::*;

fn started(engine: Engine) -> Fixture {
    let p = Fixture::new(engine).compose(STACK);
    p.budgie().arg("start").run().success();
    p
}

fn pgdata(p: &Fixture) -> String {
    format!("{}_pgdata", p.name)
}

// Invariant 1: the volume goes only after a checked safety backup, which
// loads back into a fresh database with the same rows.
e2e!(
    clean_takes_a_loadable_safety_backup_then_deletes,
    |engine| {
        let p = started(engine);
        p.sql("create table ledger(id int primary key, amount numeric); insert into ledger select g, g * 2.5 from generate_series(1, 2000) g");
        let expected = p.sql("select count(*), sum(amount) from ledger");
        let app = p.container("app").unwrap();
        p.engine_out(&["exec", &app, "sh", "-c", "echo receipt > /uploads/r.txt"]);

        p.budgie().args(["clean", "--yes"]).run().success();
        assert!(!p.volume_exists(&pgdata(&p)), "the database volume is gone");
        assert!(
            !p.volume_exists(&format!("{}_uploads", p.name)),
            "the uploads volume is gone"
        );
        assert!(p.containers(false).is_empty());
        let dumps = p.backups_ending("_pre-clean.sql");
        assert_eq!(dumps.len(), 1, "{:?}", p.backups());
        assert_eq!(
            p.backups_ending("_pre-clean.uploads.tar.zst").len(),
            1,
            "{:?}",
            p.backups()
        );

        p.budgie().arg("start").run().success();
        assert_eq!(
            p.sql("select count(*) from pg_tables where tablename = 'ledger'"),
            "0",
            "a fresh database"
        );
        p.load_dump(&dumps[0], "restored");
        assert_eq!(
            p.sql_in("restored", "select count(*), sum(amount) from ledger"),
            expected
        );
        // The recovery the README gives: budgie psql < the safety backup.
        let dump = std::fs::read_to_string(&dumps[0]).unwrap();
        p.budgie()
            .args(["psql", "--", "-v", "ON_ERROR_STOP=1", "-q"])
            .stdin(&dump)
            .run()
            .success();
        assert_eq!(p.sql("select count(*), sum(amount) from ledger"), expected);
    }
);

// Invariant 2: no terminal and no --yes: refuse, exit 3, touch nothing.
e2e!(
    clean_without_terminal_or_yes_refuses_and_touches_nothing,
    |engine| {
        let p = started(engine);
        p.sql("create table t(x int); insert into t values (9)");
        let db = p.container("db").unwrap();
        for args in [
            vec!["clean"],
            vec!["nuke"],
            vec!["volumes", "rm", "uploads"],
            vec!["clean", "--no-backup"],
        ] {
            p.budgie().args(&args).run().code(3).stderr_has("no --yes");
        }
        assert!(p.volume_exists(&pgdata(&p)));
        assert_eq!(p.container("db"), Some(db), "containers untouched");
        assert_eq!(p.sql("select x from t"), "9");
        assert!(
            p.backups().is_empty(),
            "no backup taken either: {:?}",
            p.backups()
        );
    }
);

// A failed safety backup aborts with exit 4 before anything is deleted.
e2e!(a_failed_safety_backup_deletes_nothing, |engine| {
    let p = started(engine);
    p.sql("create table secret(x int); insert into secret values (1); create role limited login password 'x'; grant connect on database appdb to limited");
    // The dump runs as a user that cannot read `secret`: pg_dump fails.
    let p = p.file(
        "compose.override.yml",
        "x-budgie:\n  database:\n    user: limited\n",
    );
    p.budgie()
        .args(["clean", "--yes"])
        .run()
        .code(4)
        .stderr_has("safety backup")
        .stderr_has("nothing was deleted");
    assert!(p.volume_exists(&pgdata(&p)));
    assert!(p.container("db").is_some(), "containers untouched");
    assert_eq!(p.sql("select x from secret"), "1");
    assert!(
        p.backups().iter().all(|n| !n.contains(".sql")),
        "no dump under any name: {:?}",
        p.backups()
    );
});

// Invariant 2 at a terminal: the typed project name is the confirmation.
e2e!(the_prompt_wants_the_project_name, |engine| {
    let p = started(engine);
    p.sql("create table t(x int); insert into t values (3)");

    let mut s = p.budgie_pty(&["clean"]);
    s.exp_string("Type the project name").unwrap();
    s.send_line("not-the-name").unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(s.process().wait().unwrap()), 3);
    assert!(
        p.volume_exists(&pgdata(&p)),
        "a wrong answer deletes nothing"
    );
    assert_eq!(p.sql("select x from t"), "3");
    assert_eq!(
        p.backups_ending("_pre-clean.sql").len(),
        1,
        "the safety backup was taken and kept"
    );

    let mut s = p.budgie_pty(&["clean"]);
    s.exp_string("Type the project name").unwrap();
    s.send_line(&p.name).unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(s.process().wait().unwrap()), 0);
    assert!(!p.volume_exists(&pgdata(&p)), "the right answer proceeds");
});

// Invariant 5: nuke never touches another project's volume or an external one.
e2e!(nuke_is_scoped_to_the_project, |engine| {
    // Unique image tags, so removing "the project's images" removes only tags.
    let pg = format!("localhost/budgie-nuke-{}:pg", std::process::id());
    let app = format!("localhost/budgie-nuke-{}:app", std::process::id());
    let other = Fixture::new(engine).compose(STACK);
    other.budgie().arg("start").run().success();
    let other_volume = format!("{}_pgdata", other.name);

    let p = Fixture::new(engine);
    let external = format!("{}-external", p.name);
    p.engine_out(&["tag", PG_IMAGE, &pg]);
    p.engine_out(&["tag", APP_IMAGE, &app]);
    p.engine_out(&["volume", "create", &external]);
    let stack = format!(
        "services:\n  db:\n    image: {pg}\n    environment: {{POSTGRES_USER: app, POSTGRES_PASSWORD: pw, POSTGRES_DB: appdb}}\n    volumes: [pgdata:/var/lib/postgresql/data]\n  app:\n    image: {app}\n    command: [sh, -c, 'while true; do sleep 3600; done']\n    volumes: [ext:/ext, stolen:/stolen]\nvolumes:\n  pgdata:\n  ext:\n    external: true\n    name: {external}\n  stolen:\n    name: {other_volume}\n"
    );
    let p = p.compose(&stack);
    p.budgie().arg("start").run().success();
    p.sql("create table t(x int)");

    p.budgie()
        .args(["nuke", "--yes"])
        .run()
        .success()
        .stderr_has(&format!(
            "Keeping {other_volume}: it belongs to project {}",
            other.name
        ));
    assert!(
        !p.volume_exists(&pgdata(&p)),
        "the project's own volume is gone"
    );
    assert!(p.volume_exists(&external), "the external volume is kept");
    assert!(
        other.volume_exists(&other_volume),
        "the other project's volume is kept"
    );
    assert!(
        other.container("db").is_some(),
        "the other project still runs"
    );
    assert!(p.containers(false).is_empty());
    assert_eq!(p.backups_ending("_pre-nuke.sql").len(), 1);
    let images = p.engine_out(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        !images.contains(&pg),
        "the project's image tag is removed: {images}"
    );
    assert!(images.contains(PG_IMAGE), "shared images stay: {images}");
    p.engine_out(&["volume", "rm", &external]);
});

e2e!(
    volumes_rm_archives_then_deletes_only_that_volume,
    |engine| {
        let p = started(engine);
        p.sql("create table t(x int); insert into t values (1)");
        let app = p.container("app").unwrap();
        p.engine_out(&["exec", &app, "sh", "-c", "echo keep-me > /uploads/k.txt"]);
        p.budgie()
            .args(["--dry-run", "volumes", "rm", "uploads"])
            .run()
            .success()
            .stderr_has(if engine == Engine::Podman {
                "volume export"
            } else {
                "<holder container>:/volume/."
            })
            .lacks("pw-");
        p.budgie()
            .args(["volumes", "rm", "uploads", "--yes"])
            .run()
            .success();
        assert!(!p.volume_exists(&format!("{}_uploads", p.name)));
        assert!(p.volume_exists(&pgdata(&p)));
        assert_eq!(p.sql("select x from t"), "1");
        assert_eq!(
            p.backups_ending("_pre-volume-rm.uploads.tar.zst").len(),
            1,
            "{:?}",
            p.backups()
        );
        p.budgie()
            .args(["volumes", "rm", "nope", "--yes"])
            .run()
            .code(2);
    }
);

e2e!(no_backup_still_needs_confirmation_and_says_so, |engine| {
    let p = started(engine);
    p.budgie()
        .args(["clean", "--no-backup", "--yes"])
        .run()
        .success()
        .stderr_has("NO SAFETY BACKUP");
    assert!(p.backups().is_empty());
    assert!(!p.volume_exists(&pgdata(&p)));
});

e2e!(dry_run_shows_the_backups_and_deletes_nothing, |engine| {
    let p = started(engine);
    let out = p.budgie().args(["--dry-run", "clean"]).run().success();
    assert!(out.stderr.contains("pg_dump"), "{}", out.stderr);
    assert!(out.stderr.contains("_pre-clean.sql"), "{}", out.stderr);
    assert!(out.stderr.contains("volume rm"), "{}", out.stderr);
    assert!(!out.stderr.contains("s3cret-pw"), "{}", out.stderr);
    assert!(p.volume_exists(&pgdata(&p)));
    assert!(p.backups().is_empty());
    p.budgie()
        .args(["--dry-run", "nuke"])
        .run()
        .success()
        .stderr_has("down --remove-orphans");
    assert!(p.container("db").is_some());
});

// One at a time: a backup waits while a clean holds the project.
e2e!(a_backup_during_clean_waits_for_the_lock, |engine| {
    let p = started(engine);
    let mut s = p.budgie_pty(&["clean"]);
    s.exp_string("Type the project name").unwrap();
    // clean holds the lock while it waits for an answer.
    p.budgie()
        .args(["backup", "--lock-timeout", "2"])
        .run()
        .code(1)
        .stderr_has("waiting for another budgie")
        .stderr_has("clean");
    s.send_line("no").unwrap();
    s.exp_eof().unwrap();
    assert_eq!(exit_code(s.process().wait().unwrap()), 3);
    p.budgie().arg("backup").run().success();
});

// Interrupts before deletion stop with exit 130 and nothing deleted.
e2e!(ctrl_c_at_the_prompt_deletes_nothing, |engine| {
    let p = started(engine);
    let mut s = p.budgie_pty(&["clean"]);
    s.exp_string("Type the project name").unwrap();
    s.send_control('c').unwrap();
    let said = s.exp_eof().unwrap();
    assert_eq!(exit_code(s.process().wait().unwrap()), 130, "{said}");
    assert!(p.volume_exists(&pgdata(&p)));
    assert!(p.container("db").is_some());
});

e2e!(ctrl_c_during_the_safety_backup_deletes_nothing, |engine| {
    let p = started(engine);
    p.sql("create table big as select g as id, repeat(md5(g::text), 30) as pad from generate_series(1, 150000) g");
    let mut child = p.budgie().args(["clean", "--yes"]).spawn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while p.temporaries().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the safety backup never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    if status.code() == Some(130) {
        assert!(p.volume_exists(&pgdata(&p)), "nothing deleted");
        assert_eq!(p.sql("select count(*) from big"), "150000");
        assert!(p.temporaries().is_empty(), "{:?}", p.backup_dir_entries());
        assert!(
            p.backups_ending("_pre-clean.sql").is_empty(),
            "{:?}",
            p.backups()
        );
    } else {
        // The dump finished before the signal landed: then the clean must
        // have gone through only with its complete safety backup.
        assert_eq!(status.code(), Some(0));
        assert_eq!(p.backups_ending("_pre-clean.sql").len(), 1);
    }
});

e2e!(disposable_volumes_get_no_archive, |engine| {
    // In the main file: docker-compose 1.x takes an override file without
    // `services:` for a version 1 file and refuses to merge it.
    let p = Fixture::new(engine).compose(&format!(
        "{STACK}x-budgie:\n  volumes:\n    uploads: {{ disposable: true }}\n"
    ));
    p.budgie().arg("start").run().success();
    p.budgie()
        .args(["clean", "--yes"])
        .run()
        .success()
        .stderr_has("disposable");
    assert_eq!(
        p.backups_ending("_pre-clean.sql").len(),
        1,
        "{:?}",
        p.backups()
    );
    assert!(p.backups_ending(".tar.zst").is_empty(), "{:?}", p.backups());
    assert!(!p.volume_exists(&format!("{}_uploads", p.name)));
});

/// The stack with an app whose image holds no shell and no tar.
const BARE_APP: &str = r#"
services:
  db:
    image: ${BUDGIE_PG_IMAGE}
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: s3cret-pw
      POSTGRES_DB: appdb
    volumes:
      - pgdata:/var/lib/postgresql/data
  app:
    image: localhost/budgie-bare:1
    volumes:
      - files:/files
volumes:
  pgdata:
  files:
"#;

// Issue 11, item 6: volume archives need nothing inside any image.
e2e!(
    volumes_of_an_image_without_tar_or_shell_are_archived_and_restored,
    |engine| {
        let p = Fixture::new(engine).compose(BARE_APP);
        p.budgie().arg("start").run().success();
        let files = format!("{}_files", p.name);
        // Written and read from the test's side, with an image that has a
        // shell.
        let put = |text: &str| {
            p.in_volume(
                "files",
                &format!(
                    "printf '%s' '{text}' > /v/receipt.txt && mkdir -p /v/d && echo deep > /v/d/x"
                ),
            );
        };
        let read = || p.in_volume("files", "cat /v/receipt.txt; echo; ls /v | tr '\\n' ' '");
        put("kept-1");
        let archive = p.backup_volume("files");
        p.budgie()
            .args(["backup", "verify"])
            .arg(&archive)
            .run()
            .success();
        // The gate archives the files before clean deletes them.
        p.budgie().args(["clean", "--yes"]).run().success();
        let safety = p.backups_ending("_pre-clean.files.tar.zst");
        assert_eq!(safety.len(), 1, "{:?}", p.backups());
        assert!(!p.volume_exists(&files));
        // Back: start (an empty volume), then the archive restored into it.
        p.budgie().arg("start").run().success();
        put("overwritten");
        p.budgie()
            .args(["restore", "--volume", "files", "--yes"])
            .arg(&safety[0])
            .run()
            .success();
        let now = read();
        assert!(now.starts_with("kept-1"), "{now}");
        assert!(now.contains("d receipt.txt"), "{now}");
        // The volume is still the project's: compose's labels came back.
        let label = p.engine_out(&[
            "volume",
            "inspect",
            "--format",
            "{{ index .Labels \"com.docker.compose.project\" }}",
            &files,
        ]);
        assert_eq!(label.trim(), p.name);
        // No holder container of this volume is left.
        let left = p.engine_out(&[
            "ps",
            "-aq",
            "--filter",
            "label=budgie.holder=1",
            "--filter",
            &format!("volume={files}"),
        ]);
        assert!(left.trim().is_empty(), "holders left: {left}");
    }
);

// Issue 11: the gate and the dry run print every name exactly, even when
// the database password equals the project's name.
e2e!(
    a_password_equal_to_the_project_name_masks_no_name,
    |engine| {
        let p = Fixture::new(engine).compose(&STACK.replace(
            "POSTGRES_PASSWORD: ${DB_PASSWORD:-s3cret-pw}",
            "POSTGRES_PASSWORD: ${COMPOSE_PROJECT_NAME}",
        ));
        p.budgie().arg("start").run().success();
        let volume = pgdata(&p);
        let dry = p.budgie().args(["--dry-run", "clean"]).run().success();
        assert!(dry.stderr.contains(&volume), "{}", dry.stderr);
        assert!(!dry.stderr.contains("***_"), "{}", dry.stderr);
        let done = p.budgie().args(["-v", "clean", "--yes"]).run().success();
        assert!(
            done.stderr
                .contains(&format!("This deletes 2 volumes of project {}:", p.name)),
            "{}",
            done.stderr
        );
        assert!(
            done.stderr.contains(&format!("  - {volume} (")),
            "{}",
            done.stderr
        );
        assert!(!done.stderr.contains("***_"), "{}", done.stderr);
        assert!(!p.volume_exists(&volume));
    }
);
