//! Tests of the whole loader, on fixture directories.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::*;
use crate::error::Error;

/// A project directory `<tmp>/myproj` holding `files`.
struct Fixture {
    _tmp: TempDir,
    dir: PathBuf,
}

fn fixture(files: &[(&str, &str)]) -> Fixture {
    fixture_named("myproj", files)
}

fn fixture_named(name: &str, files: &[(&str, &str)]) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.canonicalize().unwrap();
    for (path, text) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    Fixture { _tmp: tmp, dir }
}

impl Fixture {
    fn opts(&self) -> LoadOptions {
        LoadOptions {
            directory: self.dir.clone(),
            ..LoadOptions::default()
        }
    }

    fn load(&self) -> Project {
        self.load_with(self.opts())
    }

    fn load_with(&self, opts: LoadOptions) -> Project {
        match load(&opts) {
            Ok(p) => p,
            Err(e) => panic!("load failed: {} (hint: {:?})", e.message, e.hint),
        }
    }

    fn err(&self) -> Error {
        self.err_with(self.opts())
    }

    fn err_with(&self, opts: LoadOptions) -> Error {
        match load(&opts) {
            Ok(p) => panic!("load succeeded: {p:#?}"),
            Err(e) => e,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn found(p: &Project) -> &Database {
    match &p.database {
        DatabaseStatus::Found(db) => db,
        other => panic!("no database: {other:?}"),
    }
}

const MINIMAL: &str = "services:\n  app:\n    image: alpine\n";

// ---------------------------------------------------------------- discovery

#[test]
fn discovers_each_of_the_four_names() {
    for name in discover::NAMES {
        let f = fixture(&[(name, MINIMAL)]);
        let p = f.load();
        assert_eq!(p.files, vec![f.path(name)], "{name}");
        assert_eq!(p.dir, f.dir);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }
}

#[test]
fn discovery_precedence() {
    let f = fixture(&[
        ("docker-compose.yml", "services:\n  old:\n    image: a\n"),
        ("compose.yml", "services:\n  yml:\n    image: a\n"),
        ("compose.yaml", "services:\n  new:\n    image: a\n"),
    ]);
    let p = f.load();
    assert_eq!(p.files, vec![f.path("compose.yaml")]);
    assert_eq!(p.services.keys().collect::<Vec<_>>(), ["new"]);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("several compose files"))
    );

    let f = fixture(&[
        ("docker-compose.yml", "services:\n  old:\n    image: a\n"),
        ("docker-compose.yaml", "services:\n  new:\n    image: a\n"),
    ]);
    assert_eq!(f.load().files, vec![f.path("docker-compose.yaml")]);
}

#[test]
fn override_file_is_picked_up() {
    let f = fixture(&[
        ("compose.yml", MINIMAL),
        (
            "compose.override.yml",
            "services:\n  app:\n    image: busybox\n",
        ),
    ]);
    let p = f.load();
    assert_eq!(
        p.files,
        vec![f.path("compose.yml"), f.path("compose.override.yml")]
    );
    assert_eq!(p.services["app"].image.as_deref(), Some("busybox"));

    // .yaml is preferred over .yml for the override too.
    let f = fixture(&[
        ("compose.yaml", MINIMAL),
        ("compose.override.yml", MINIMAL),
        ("compose.override.yaml", MINIMAL),
    ]);
    assert_eq!(
        f.load().files,
        vec![f.path("compose.yaml"), f.path("compose.override.yaml")]
    );
}

#[test]
fn override_file_of_the_docker_compose_family() {
    let f = fixture(&[
        ("docker-compose.yml", MINIMAL),
        (
            "compose.override.yaml",
            "services:\n  app:\n    image: wrong\n",
        ),
        (
            "docker-compose.override.yaml",
            "services:\n  app:\n    image: right\n",
        ),
    ]);
    let p = f.load();
    assert_eq!(
        p.files,
        vec![
            f.path("docker-compose.yml"),
            f.path("docker-compose.override.yaml")
        ]
    );
    assert_eq!(p.services["app"].image.as_deref(), Some("right"));

    // compose.yaml does not take docker-compose.override.yml.
    let f = fixture(&[
        ("compose.yaml", MINIMAL),
        (
            "docker-compose.override.yml",
            "services:\n  app:\n    image: wrong\n",
        ),
    ]);
    assert_eq!(f.load().files, vec![f.path("compose.yaml")]);
}

#[test]
fn compose_file_variable_with_two_files() {
    let f = fixture(&[
        ("compose.yaml", "services:\n  ignored:\n    image: a\n"),
        ("base.yml", MINIMAL),
        ("sub/extra.yml", "services:\n  app:\n    image: extra\n"),
    ]);
    let mut opts = f.opts();
    opts.env = env(&[("COMPOSE_FILE", "base.yml:sub/extra.yml")]);
    let p = f.load_with(opts);
    assert_eq!(p.files, vec![f.path("base.yml"), f.path("sub/extra.yml")]);
    assert_eq!(p.services.keys().collect::<Vec<_>>(), ["app"]);
    assert_eq!(p.services["app"].image.as_deref(), Some("extra"));

    // A custom separator.
    let mut opts = f.opts();
    opts.env = env(&[
        ("COMPOSE_FILE", "base.yml;sub/extra.yml"),
        ("COMPOSE_PATH_SEPARATOR", ";"),
    ]);
    assert_eq!(f.load_with(opts).files.len(), 2);
}

#[test]
fn compose_file_variable_from_dotenv() {
    let f = fixture(&[
        ("compose.yaml", "services:\n  ignored:\n    image: a\n"),
        ("a.yml", MINIMAL),
        (".env", "COMPOSE_FILE=a.yml\n"),
    ]);
    assert_eq!(f.load().files, vec![f.path("a.yml")]);

    // The process environment wins over .env.
    let f = fixture(&[
        ("a.yml", MINIMAL),
        ("b.yml", MINIMAL),
        (".env", "COMPOSE_FILE=a.yml\n"),
    ]);
    let mut opts = f.opts();
    opts.env = env(&[("COMPOSE_FILE", "b.yml")]);
    assert_eq!(f.load_with(opts).files, vec![f.path("b.yml")]);
}

#[test]
fn file_flags_in_order() {
    let f = fixture(&[
        ("compose.yaml", "services:\n  ignored:\n    image: a\n"),
        ("a.yml", "services:\n  app:\n    image: from-a\n"),
        ("b.yml", "services:\n  app:\n    image: from-b\n"),
    ]);
    let mut opts = f.opts();
    opts.files = vec!["b.yml".into(), "a.yml".into()];
    opts.env = env(&[("COMPOSE_FILE", "compose.yaml")]);
    let p = f.load_with(opts.clone());
    assert_eq!(p.files, vec![f.path("b.yml"), f.path("a.yml")]);
    assert_eq!(p.services["app"].image.as_deref(), Some("from-a"));

    opts.files = vec![f.path("a.yml"), "./b.yml".into()];
    let p = f.load_with(opts);
    assert_eq!(p.files, vec![f.path("a.yml"), f.path("b.yml")]);
    assert_eq!(p.services["app"].image.as_deref(), Some("from-b"));
}

#[test]
fn missing_file_error() {
    let f = fixture(&[("compose.yaml", MINIMAL)]);
    let mut opts = f.opts();
    opts.files = vec!["nope.yml".into()];
    let e = f.err_with(opts);
    assert!(
        e.message
            .contains(&f.path("nope.yml").display().to_string()),
        "{}",
        e.message
    );
    assert!(e.message.contains("not found"), "{}", e.message);

    let mut opts = f.opts();
    opts.env = env(&[("COMPOSE_FILE", "compose.yaml:gone.yml")]);
    let e = f.err_with(opts);
    assert!(e.message.contains("gone.yml"), "{}", e.message);
}

#[test]
fn none_found_error() {
    let f = fixture(&[("readme.txt", "hi")]);
    let e = f.err();
    assert!(
        e.message.contains(&f.dir.display().to_string()),
        "{}",
        e.message
    );
    for name in discover::NAMES {
        assert!(e.message.contains(name), "{}", e.message);
    }
    let hint = e.hint.unwrap();
    assert!(
        hint.contains("-f FILE") && hint.contains("-C DIR"),
        "{hint}"
    );
}

#[test]
fn missing_project_directory() {
    let e = load(&LoadOptions {
        directory: "/nonexistent/budgie/dir".into(),
        ..LoadOptions::default()
    })
    .unwrap_err();
    assert!(
        e.message.contains("/nonexistent/budgie/dir"),
        "{}",
        e.message
    );
}

// ---------------------------------------------------------------- merging

#[test]
fn environment_merged_by_key() {
    let f = fixture(&[
        (
            "compose.yaml",
            "services:\n  app:\n    image: a\n    environment:\n      - A=1\n      - B=2\n      - C\n",
        ),
        (
            "compose.override.yaml",
            "services:\n  app:\n    environment:\n      B: 20\n      D: true\n      E:\n",
        ),
    ]);
    let mut opts = f.opts();
    opts.env = env(&[("C", "from-env"), ("E", "e-env")]);
    let p = f.load_with(opts);
    assert_eq!(
        p.services["app"].environment,
        env(&[
            ("A", "1"),
            ("B", "20"),
            ("C", "from-env"),
            ("D", "true"),
            ("E", "e-env")
        ])
    );

    // A name without value and without variable is dropped.
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  app:\n    image: a\n    environment: [X, 'Y=', Z=a=b]\n",
    )]);
    assert_eq!(
        f.load().services["app"].environment,
        env(&[("Y", ""), ("Z", "a=b")])
    );
}

#[test]
fn volumes_merged_by_target() {
    let f = fixture(&[
        (
            "compose.yaml",
            "services:\n  app:\n    image: a\n    volumes:\n      - data:/data\n      - ./conf:/etc/app:ro\n      - /anon\n\
             volumes:\n  data:\n  other:\n",
        ),
        (
            "compose.override.yaml",
            "services:\n  app:\n    volumes:\n      - other:/data/\n      - type: bind\n        source: ./conf2\n        target: /etc/app\n",
        ),
    ]);
    let p = f.load();
    let app = &p.services["app"];
    assert_eq!(
        app.mounts,
        vec![
            Mount {
                kind: MountKind::Volume {
                    key: "other".into()
                },
                target: "/data".into(),
                read_only: false
            },
            Mount {
                kind: MountKind::Bind {
                    source: f.path("conf2").display().to_string(),
                    relative: true,
                },
                target: "/etc/app".into(),
                read_only: false
            },
            Mount {
                kind: MountKind::Anonymous,
                target: "/anon".into(),
                read_only: false
            },
        ]
    );
    assert!(p.volume("data").unwrap().services.is_empty());
    assert_eq!(p.volume("other").unwrap().services, ["app"]);
}

#[test]
fn later_file_renames_a_volume_and_merges_its_fields() {
    let f = fixture(&[
        (
            "compose.yaml",
            "services:\n  app:\n    image: a\n    volumes: [data:/data]\n\
             volumes:\n  data:\n    driver: local\n    labels: {a: '1'}\n",
        ),
        (
            "compose.override.yaml",
            "volumes:\n  data:\n    name: renamed-data\n    labels: {b: '2'}\n",
        ),
    ]);
    let p = f.load();
    let v = p.volume("data").unwrap();
    assert_eq!(v.name, "renamed-data");
    assert!(!v.external);
    assert_eq!(v.services, ["app"]);
}

#[test]
fn top_level_volume_external_added_by_override() {
    let f = fixture(&[
        (
            "compose.yaml",
            "services:\n  app:\n    image: a\n    volumes: [data:/d]\nvolumes:\n  data: {}\n",
        ),
        (
            "compose.override.yaml",
            "volumes:\n  data:\n    external: true\n",
        ),
    ]);
    let v = f.load().volumes;
    assert_eq!(v[0].name, "data");
    assert!(v[0].external);
}

#[test]
fn sequences_commands_and_depends_on() {
    let f = fixture(&[
        (
            "compose.yaml",
            "services:\n  app:\n    image: a\n    command: [a, b]\n    ports: ['80:80']\n    depends_on: [db]\n    profiles: [dev]\n  db:\n    image: b\n  cache:\n    image: c\n",
        ),
        (
            "compose.override.yaml",
            "services:\n  app:\n    command: [c]\n    ports: ['80:80', '443:443']\n    depends_on:\n      cache:\n        condition: service_healthy\n    profiles: [debug]\n",
        ),
    ]);
    let p = f.load();
    let app = &p.services["app"];
    assert_eq!(app.depends_on, ["cache", "db"]);
    assert_eq!(app.profiles, ["dev", "debug"]);
}

#[test]
fn reset_and_override_tags() {
    let f = fixture(&[
        (
            "compose.yaml",
            "services:\n  app:\n    image: a\n    environment: {A: '1', B: '2'}\n    volumes: [data:/data]\n    depends_on: [db]\n  db:\n    image: b\nvolumes:\n  data:\n",
        ),
        (
            "compose.override.yaml",
            "services:\n  app:\n    environment: !override {C: '3'}\n    volumes: !reset []\n    depends_on: !reset\n",
        ),
    ]);
    let p = f.load();
    let app = &p.services["app"];
    assert_eq!(app.environment, env(&[("C", "3")]));
    assert!(app.mounts.is_empty());
    assert!(app.depends_on.is_empty());
    assert!(p.volume("data").unwrap().services.is_empty());
}

#[test]
fn healthcheck_and_build() {
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    healthcheck:\n      test: [CMD, pg_isready]\n  b:\n    build: .\n    healthcheck:\n      disable: true\n  c:\n    image: x\n    healthcheck:\n      test: [NONE]\n  d:\n    image: x\n    container_name: dee\n",
    )]);
    let p = f.load();
    assert!(p.services["a"].healthcheck);
    assert!(!p.services["a"].build);
    assert!(!p.services["b"].healthcheck);
    assert!(p.services["b"].build);
    assert_eq!(p.services["b"].image, None);
    assert!(!p.services["c"].healthcheck);
    assert!(!p.services["d"].healthcheck);
    assert_eq!(p.services["d"].container_name.as_deref(), Some("dee"));
    assert_eq!(p.services["d"].name, "d");
}

// ---------------------------------------------------------------- interpolation

#[test]
fn interpolation_forms_in_a_file() {
    let f = fixture(&[(
        "compose.yaml",
        r#"services:
  app:
    image: "${REGISTRY:-docker.io}/${IMAGE}:${TAG-latest}"
    command: ["sh", "-c", "echo $$HOME ${A:+alt} ${EMPTY:+alt} ${UNSET+alt} ${EMPTY-dflt}"]
    environment:
      NESTED: ${UNSET:-${B:-x}}
      PLAIN: $A
      REQ: ${A:?must be set}
      REQ2: ${EMPTY?set but may be empty}
      KEY_NOT_INTERPOLATED_$A: v
"#,
    )]);
    let mut opts = f.opts();
    opts.env = env(&[("IMAGE", "pg"), ("A", "a"), ("B", "b"), ("EMPTY", "")]);
    let p = f.load_with(opts);
    let app = &p.services["app"];
    assert_eq!(app.image.as_deref(), Some("docker.io/pg:latest"));
    assert_eq!(app.environment["NESTED"], "b");
    assert_eq!(app.environment["PLAIN"], "a");
    assert_eq!(app.environment["REQ"], "a");
    assert_eq!(app.environment["REQ2"], "");
    assert!(app.environment.contains_key("KEY_NOT_INTERPOLATED_$A"));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn unset_variable_becomes_empty_with_a_warning() {
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  app:\n    image: alpine${NOPE}\n    environment: [X=$NOPE]\n",
    )]);
    let p = f.load();
    assert_eq!(p.services["app"].image.as_deref(), Some("alpine"));
    assert_eq!(p.services["app"].environment["X"], "");
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].contains("\"NOPE\""));
}

#[test]
fn required_variable_error_names_variable_file_and_path() {
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  db:\n    image: postgres\n    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD in .env}\n",
    )]);
    let e = f.err();
    assert_eq!(
        e.message,
        format!(
            "{}: services.db.environment.POSTGRES_PASSWORD: required variable DB_PASSWORD is \
             missing a value: set DB_PASSWORD in .env",
            f.path("compose.yaml").display()
        )
    );

    // List form: the path still names the variable.
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  db:\n    image: postgres\n    environment:\n      - POSTGRES_PASSWORD=${EMPTY:?}\n",
    )]);
    let mut opts = f.opts();
    opts.env = env(&[("EMPTY", "")]);
    let e = f.err_with(opts);
    assert!(
        e.message.ends_with(
            "services.db.environment.POSTGRES_PASSWORD: required variable EMPTY is missing a value"
        ),
        "{}",
        e.message
    );
}

#[test]
fn unterminated_brace_error() {
    let f = fixture(&[
        ("compose.yaml", MINIMAL),
        (
            "compose.override.yaml",
            "services:\n  app:\n    command: [echo, '${OOPS']\n",
        ),
    ]);
    let e = f.err();
    assert!(
        e.message.starts_with(&format!(
            "{}: services.app.command[1]: unterminated",
            f.path("compose.override.yaml").display()
        )),
        "{}",
        e.message
    );
    assert!(e.hint.unwrap().contains("$$"));

    // A password is not quoted back.
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  db:\n    environment:\n      - POSTGRES_PASSWORD=pa${1}word\n",
    )]);
    let e = f.err();
    assert!(
        e.message
            .ends_with("services.db.environment.POSTGRES_PASSWORD: invalid interpolation format"),
        "{}",
        e.message
    );

    let f = fixture(&[(
        "compose.yaml",
        "services:\n  app:\n    command: echo ${1}\n",
    )]);
    let e = f.err();
    assert!(
        e.message
            .contains("services.app.command: invalid interpolation format in \"echo ${1}\""),
        "{}",
        e.message
    );
}

#[test]
fn a_lone_dollar_is_kept_as_compose_keeps_it() {
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  app:\n    image: busybox\n    command: sh -c 'echo $1'\n    \
         labels: [\"traefik.rule=PathRegexp(`^/v[0-9]+$`)\"]\n    \
         environment:\n      PATTERN: ^[a-z]+$\n      ARGS: echo $1 $@ $ $}\n      PRICE: 5 €$\n",
    )]);
    let p = f.load();
    let env = &p.services["app"].environment;
    assert_eq!(env["PATTERN"], "^[a-z]+$");
    assert_eq!(env["ARGS"], "echo $1 $@ $ $}");
    assert_eq!(env["PRICE"], "5 €$");
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

// ---------------------------------------------------------------- .env

#[test]
fn dotenv_feeds_interpolation_and_process_env_wins() {
    let f = fixture(&[
        (
            "compose.yaml",
            "services:\n  db:\n    image: postgres:${PG_VERSION}\n    environment:\n      POSTGRES_PASSWORD: ${PW}\n      POSTGRES_USER: ${USER_NAME}\n      Q: ${QUOTED}\n",
        ),
        (
            ".env",
            "# settings\nexport PG_VERSION=16\nPW='s3cr$t'\nUSER_NAME=from-dotenv # comment\nQUOTED=\"a\\\"b ${PG_VERSION}\"\n",
        ),
    ]);
    let p = f.load();
    let db = &p.services["db"];
    assert_eq!(db.image.as_deref(), Some("postgres:16"));
    assert_eq!(db.environment["POSTGRES_PASSWORD"], "s3cr$t");
    assert_eq!(db.environment["POSTGRES_USER"], "from-dotenv");
    assert_eq!(db.environment["Q"], "a\"b 16");
    assert_eq!(p.env["PG_VERSION"], "16");

    let mut opts = f.opts();
    opts.env = env(&[("USER_NAME", "from-process"), ("PG_VERSION", "17")]);
    let p = f.load_with(opts);
    assert_eq!(
        p.services["db"].environment["POSTGRES_USER"],
        "from-process"
    );
    assert_eq!(p.services["db"].image.as_deref(), Some("postgres:17"));
    assert_eq!(p.env["USER_NAME"], "from-process");
    assert_eq!(p.env["PW"], "s3cr$t");
    // Interpolation inside .env also sees the process environment first.
    assert_eq!(p.env["QUOTED"], "a\"b 17");
}

#[test]
fn malformed_dotenv_is_an_error_with_line() {
    let f = fixture(&[("compose.yaml", MINIMAL), (".env", "A=1\nNOT A LINE\n")]);
    let e = f.err();
    assert!(
        e.message
            .starts_with(&format!("{}:2: ", f.path(".env").display())),
        "{}",
        e.message
    );
}

#[test]
fn env_file_entries() {
    let f = fixture(&[
        (
            "compose.yaml",
            "services:\n  db:\n    image: postgres\n    env_file: db.env\n    environment:\n      POSTGRES_DB: fromenv\n  app:\n    image: a\n    env_file:\n      - common.env\n      - path: ./local.env\n        required: false\n      - path: sub/app.env\n",
        ),
        (
            "db.env",
            "POSTGRES_USER=dbuser\nPOSTGRES_DB=fromfile\nPOSTGRES_PASSWORD=pw ${SUFFIX}\n",
        ),
        ("common.env", "A=1\nB=common\n"),
        ("sub/app.env", "B=app\n"),
        (".env", "SUFFIX=x\n"),
    ]);
    let p = f.load();
    assert_eq!(
        p.services["db"].environment,
        env(&[
            ("POSTGRES_USER", "dbuser"),
            ("POSTGRES_DB", "fromenv"),
            ("POSTGRES_PASSWORD", "pw x")
        ])
    );
    assert_eq!(
        p.services["app"].environment,
        env(&[("A", "1"), ("B", "app")])
    );
    let db = found(&p);
    assert_eq!(db.user, "dbuser");
    assert_eq!(db.name, "fromenv");
    assert_eq!(db.password.as_ref().unwrap().expose(), "pw x");

    let f = fixture(&[(
        "compose.yaml",
        "services:\n  app:\n    image: a\n    env_file: [missing.env]\n",
    )]);
    let e = f.err();
    assert!(
        e.message
            .contains(&f.path("missing.env").display().to_string()),
        "{}",
        e.message
    );
}

/// An env file that is a device or a pipe (`/dev/zero` never ends,
/// `/dev/stdin` waits for a terminal) is refused, not read forever.
#[test]
fn env_files_that_are_not_regular_files_are_refused() {
    for (entry, why) in [
        ("/dev/zero", "not a regular file"),
        (".", "not a regular file"),
    ] {
        let f = fixture(&[(
            "compose.yaml",
            &format!("services:\n  app:\n    image: a\n    env_file: [\"{entry}\"]\n"),
        )]);
        let e = f.err();
        assert!(e.message.contains(why), "{entry}: {}", e.message);
    }
    // The project's own .env, as a directory.
    let f = fixture(&[("compose.yaml", "services:\n  app:\n    image: a\n")]);
    std::fs::create_dir(f.path(".env")).unwrap();
    let e = f.err();
    assert!(e.message.contains("not a regular file"), "{}", e.message);
}

// ---------------------------------------------------------------- project name

#[test]
fn project_name_precedence() {
    let f = fixture_named(
        "Dir Name",
        &[
            (
                "compose.yaml",
                "name: ${FILE_NAME:-fromfile}\nservices:\n  app:\n    image: a\n",
            ),
            (".env", "COMPOSE_PROJECT_NAME=fromdotenv\n"),
        ],
    );
    let mut opts = f.opts();
    opts.project_name = Some("flag".into());
    opts.env = env(&[("COMPOSE_PROJECT_NAME", "fromprocess")]);
    let p = f.load_with(opts.clone());
    assert_eq!((p.name.as_str(), p.name_source), ("flag", NameSource::Flag));

    opts.project_name = None;
    let p = f.load_with(opts.clone());
    assert_eq!(
        (p.name.as_str(), p.name_source),
        ("fromprocess", NameSource::Environment)
    );

    opts.env.clear();
    let p = f.load_with(opts.clone());
    assert_eq!(
        (p.name.as_str(), p.name_source),
        ("fromdotenv", NameSource::Environment)
    );

    std::fs::remove_file(f.path(".env")).unwrap();
    let p = f.load_with(opts.clone());
    assert_eq!(
        (p.name.as_str(), p.name_source),
        ("fromfile", NameSource::ComposeFile)
    );
    opts.env = env(&[("FILE_NAME", "interpolated")]);
    assert_eq!(f.load_with(opts.clone()).name, "interpolated");

    std::fs::write(f.path("compose.yaml"), MINIMAL).unwrap();
    let p = f.load();
    assert_eq!(
        (p.name.as_str(), p.name_source),
        ("dirname", NameSource::Directory)
    );
}

#[test]
fn project_name_from_last_file_that_sets_it() {
    let f = fixture(&[
        (
            "compose.yaml",
            "name: first\nservices:\n  app:\n    image: a\n",
        ),
        ("compose.override.yaml", "name: second\n"),
    ]);
    assert_eq!(f.load().name, "second");
    let f = fixture(&[
        (
            "compose.yaml",
            "name: first\nservices:\n  app:\n    image: a\n",
        ),
        ("compose.override.yaml", "services: {}\n"),
    ]);
    assert_eq!(f.load().name, "first");
}

#[test]
fn project_name_normalization_of_directory() {
    let f = fixture_named("My Project.v2", &[("compose.yaml", MINIMAL)]);
    let p = f.load();
    assert_eq!(p.name, "myprojectv2");
    assert_eq!(p.volumes.len(), 0);

    let f = fixture_named("...", &[("compose.yaml", MINIMAL)]);
    let e = f.err();
    assert!(e.hint.unwrap().contains("-p NAME"));
}

#[test]
fn invalid_explicit_project_names() {
    let f = fixture(&[(
        "compose.yaml",
        "name: Upper\nservices:\n  app:\n    image: a\n",
    )]);
    let mut opts = f.opts();
    opts.project_name = Some("Bad!".into());
    let e = f.err_with(opts);
    assert!(e.message.contains("\"Bad!\""), "{}", e.message);
    assert!(e.message.contains("-p"), "{}", e.message);
    assert!(e.message.contains("lower-case"), "{}", e.message);

    let mut opts = f.opts();
    opts.env = env(&[("COMPOSE_PROJECT_NAME", "has space")]);
    let e = f.err_with(opts);
    assert!(e.message.contains("COMPOSE_PROJECT_NAME"), "{}", e.message);

    let e = f.err();
    assert!(e.message.contains("\"Upper\""), "{}", e.message);
    assert!(
        e.message
            .contains(&f.path("compose.yaml").display().to_string()),
        "{}",
        e.message
    );
}

// ---------------------------------------------------------------- volumes

#[test]
fn volume_names() {
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  app:\n    image: a\n    volumes:\n      - plain:/a\n      - named:/b\n      - ext:/c\n      - legacy:/d\n      - extnamed:/e\n      - ./bind:/f\n      - /anon\n      - type: volume\n        target: /anon2\n      - type: tmpfs\n        target: /tmp\n\
         volumes:\n  plain:\n  named:\n    name: my-${SUFFIX:-data}\n  ext:\n    external: true\n  legacy:\n    external:\n      name: legacy-real\n  extnamed:\n    external: true\n    name: ext-real\n  unused: {}\n",
    )]);
    let p = f.load();
    let by_key = |k: &str| p.volume(k).unwrap_or_else(|| panic!("no volume {k}"));
    assert_eq!(by_key("plain").name, "myproj_plain");
    assert!(!by_key("plain").external);
    assert_eq!(by_key("named").name, "my-data");
    assert_eq!(by_key("ext").name, "ext");
    assert!(by_key("ext").external);
    assert_eq!(by_key("legacy").name, "legacy-real");
    assert!(by_key("legacy").external);
    assert_eq!(by_key("extnamed").name, "ext-real");
    assert_eq!(by_key("unused").name, "myproj_unused");
    assert!(by_key("unused").services.is_empty());
    assert_eq!(by_key("plain").services, ["app"]);
    // Only the declared volumes, sorted by key: no bind or anonymous ones.
    let keys: Vec<&str> = p.volumes.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(
        keys,
        ["ext", "extnamed", "legacy", "named", "plain", "unused"]
    );
    let kinds: Vec<&MountKind> = p.services["app"].mounts.iter().map(|m| &m.kind).collect();
    assert_eq!(kinds[6], &MountKind::Anonymous);
    assert_eq!(kinds[7], &MountKind::Anonymous);
    assert_eq!(
        kinds[8],
        &MountKind::Other {
            kind: "tmpfs".into()
        }
    );
    assert_eq!(p.services["app"].volume_keys().count(), 5);
}

#[test]
fn volume_names_use_the_project_name() {
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  app:\n    image: a\n    volumes: [data:/d]\nvolumes:\n  data:\n",
    )]);
    let mut opts = f.opts();
    opts.project_name = Some("other".into());
    assert_eq!(f.load_with(opts).volumes[0].name, "other_data");
}

#[test]
fn undefined_volume_error() {
    let f = fixture(&[
        (
            "compose.yaml",
            "services:\n  app:\n    image: a\nvolumes:\n  data:\n",
        ),
        (
            "compose.override.yaml",
            "services:\n  app:\n    volumes: [x:/x]\n",
        ),
    ]);
    let e = f.err();
    assert_eq!(
        e.message,
        format!(
            "{}: service \"app\" refers to undefined volume \"x\"",
            f.path("compose.override.yaml").display()
        )
    );
    // Declared in a later file: fine.
    let f = fixture(&[
        (
            "compose.yaml",
            "services:\n  app:\n    image: a\n    volumes: [x:/x]\n",
        ),
        ("compose.override.yaml", "volumes:\n  x:\n"),
    ]);
    assert_eq!(f.load().volume("x").unwrap().services, ["app"]);
}

#[test]
fn disposable_volumes() {
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  app:\n    image: a\nvolumes:\n  cache:\n  keep:\nx-budgie:\n  volumes:\n    cache: {disposable: true}\n",
    )]);
    let p = f.load();
    assert!(p.volume("cache").unwrap().disposable);
    assert!(!p.volume("keep").unwrap().disposable);

    let f = fixture(&[(
        "compose.yaml",
        "services:\n  app:\n    image: a\nx-budgie:\n  volumes:\n    nope: {disposable: true}\n",
    )]);
    let e = f.err();
    assert!(e.message.contains("x-budgie.volumes.nope"), "{}", e.message);
}

#[test]
fn bind_mounts_resolve_home() {
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  app:\n    image: a\n    volumes: ['~/pg:/data', '../up:/up:ro']\n",
    )]);
    let mut opts = f.opts();
    opts.env = env(&[("HOME", "/home/me")]);
    let p = f.load_with(opts);
    let m = &p.services["app"].mounts;
    assert_eq!(
        m[0].kind,
        MountKind::Bind {
            source: "/home/me/pg".into(),
            relative: true,
        }
    );
    assert_eq!(
        m[1].kind,
        MountKind::Bind {
            source: f.dir.parent().unwrap().join("up").display().to_string(),
            relative: true,
        }
    );
    assert!(m[1].read_only);
}

#[test]
fn an_absolute_bind_source_is_no_relative_one_in_either_syntax() {
    let f = fixture(&[(
        "compose.yaml",
        "services:
  app:
    image: a
    volumes:
      - /srv/data:/data
      - type: bind
        source: /srv/logs
        target: /logs
      - type: bind
        source: ./conf
        target: /conf
",
    )]);
    let m = &f.load().services["app"].mounts;
    let relative: Vec<bool> = m
        .iter()
        .map(|m| matches!(m.kind, MountKind::Bind { relative: true, .. }))
        .collect();
    assert_eq!(relative, [false, false, true]);
}

// ---------------------------------------------------------------- database

#[test]
fn database_by_image_with_defaults() {
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  db:\n    image: postgres:16\n    volumes: [pgdata:/var/lib/postgresql/data]\n  app:\n    image: myapp\n    environment: {POSTGRES_HOST: db}\nvolumes:\n  pgdata:\n",
    )]);
    let p = f.load();
    let db = found(&p);
    assert_eq!(db.service, "db");
    assert_eq!(db.detected_by, DetectedBy::Image);
    assert_eq!(db.user, "postgres");
    assert_eq!(db.name, "postgres");
    assert_eq!(db.password_var, None);
    assert!(db.password.is_none());
    assert_eq!(db.data_dir, "/var/lib/postgresql/data");
    assert_eq!(db.volume.as_deref(), Some("pgdata"));
    assert!(p.volume("pgdata").unwrap().database);
}

#[test]
fn database_user_name_and_password() {
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  db:\n    image: postgis/postgis\n    environment:\n      POSTGRES_USER: app\n      POSTGRES_PASSWORD: hunter22\n",
    )]);
    let p = f.load();
    let db = found(&p);
    assert_eq!(db.user, "app");
    assert_eq!(db.name, "app");
    assert_eq!(db.password_var.as_deref(), Some("POSTGRES_PASSWORD"));
    assert_eq!(db.password.as_ref().unwrap().expose(), "hunter22");
    assert_eq!(format!("{:?}", db.password), "Some(***)");
    assert!(p.secrets().contains(&"hunter22".to_string()));

    let f = fixture(&[(
        "compose.yaml",
        "services:\n  db:\n    image: timescale/timescaledb\n    environment:\n      POSTGRES_PASSWORD_FILE: /run/secrets/pw\n      POSTGRES_DB: shop\n",
    )]);
    let p = f.load();
    let db = found(&p);
    assert_eq!(db.name, "shop");
    assert_eq!(db.password_var.as_deref(), Some("POSTGRES_PASSWORD_FILE"));
    assert!(db.password.is_none());

    // An empty password is no password.
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  db:\n    image: postgres\n    environment: [POSTGRES_PASSWORD=]\n",
    )]);
    let p = f.load();
    assert_eq!(found(&p).password_var.as_deref(), Some("POSTGRES_PASSWORD"));
    assert!(found(&p).password.is_none());
}

#[test]
fn database_by_config() {
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  main:\n    image: registry/pg-custom\n    volumes: [data:/srv/pg]\n  other:\n    image: postgres\n\
         volumes:\n  data:\n\
         x-budgie:\n  database:\n    service: main\n    user: admin\n    name: maindb\n    volume: data\n",
    )]);
    let p = f.load();
    let db = found(&p);
    assert_eq!(db.service, "main");
    assert_eq!(db.detected_by, DetectedBy::Config);
    assert_eq!(db.user, "admin");
    assert_eq!(db.name, "maindb");
    assert_eq!(db.volume.as_deref(), Some("data"));
    assert!(p.volume("data").unwrap().database);

    let f = fixture(&[(
        "compose.yaml",
        "services:\n  app:\n    image: a\nx-budgie:\n  database:\n    service: nope\n",
    )]);
    let e = f.err();
    assert!(
        e.message.contains("x-budgie.database.service"),
        "{}",
        e.message
    );
    assert!(e.message.contains("\"nope\""), "{}", e.message);

    let f = fixture(&[(
        "compose.yaml",
        "services:\n  db:\n    image: postgres\nx-budgie:\n  database:\n    volume: nope\n",
    )]);
    let e = f.err();
    assert!(
        e.message.contains("x-budgie.database.volume"),
        "{}",
        e.message
    );
}

#[test]
fn database_by_environment() {
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  store:\n    image: bitnami/pg\n    environment: [POSTGRES_DB=x]\n  web:\n    image: nginx\n",
    )]);
    let p = f.load();
    let db = found(&p);
    assert_eq!(db.service, "store");
    assert_eq!(db.detected_by, DetectedBy::Environment);
    assert_eq!(db.name, "x");
    assert_eq!(db.user, "postgres");

    let f = fixture(&[(
        "compose.yaml",
        "services:\n  a:\n    build: .\n    environment: [POSTGRES_USER=x]\n  b:\n    build: .\n    environment: [POSTGRES_DB=y]\n",
    )]);
    match f.load().database {
        DatabaseStatus::Ambiguous { candidates } => assert_eq!(candidates, ["a", "b"]),
        other => panic!("{other:?}"),
    }
}

fn services_of(p: &Project) -> Vec<&str> {
    p.databases().iter().map(|d| d.service.as_str()).collect()
}

#[test]
fn several_server_images_are_several_databases() {
    // Two postgres images, only one looks like a server (the other is a
    // pg_dump sidecar: no data, no variables).
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  db:\n    image: postgres:16\n    volumes: [pg:/var/lib/postgresql/data]\n  backup:\n    image: postgres:16\n    command: pg_dump\n\
         volumes:\n  pg:\n",
    )]);
    let p = f.load();
    assert_eq!(found(&p).service, "db");
    assert_eq!(services_of(&p), ["db"]);
    assert!(!p.names_services());

    // Two servers that say nothing more: both are databases; commands that
    // need one ask which.
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  z:\n    image: postgres\n  a:\n    image: postgres\n  web:\n    image: nginx\n",
    )]);
    let p = f.load();
    assert_eq!(services_of(&p), ["a", "z"]);
    assert!(p.names_services());
    let e = p.database_of(None).unwrap_err();
    assert!(e.message.contains("a, z"), "{}", e.message);
    assert_eq!(p.database_of(Some("z")).unwrap().service, "z");
    let e = p.database_of(Some("web")).unwrap_err();
    assert!(e.message.contains("web"), "{}", e.message);

    // Those with variables are the servers; the bare one is not.
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  one:\n    image: postgres\n    environment: {POSTGRES_PASSWORD: a}\n  two:\n    image: postgres\n    environment: {POSTGRES_PASSWORD: b}\n  three:\n    image: postgres\n",
    )]);
    assert_eq!(services_of(&f.load()), ["one", "two"]);

    // A PostgreSQL beside a MariaDB: both, the PostgreSQL one first.
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  maria:\n    image: mariadb:11\n    environment: {MARIADB_USER: u, MARIADB_PASSWORD: pw, MARIADB_DATABASE: shop}\n    volumes: [m:/var/lib/mysql]\n  pg:\n    image: postgres:16\n    volumes: [p:/var/lib/postgresql/data]\n\
         volumes:\n  m:\n  p:\n",
    )]);
    let p = f.load();
    assert_eq!(services_of(&p), ["pg", "maria"]);
    let m = p.database_of(Some("maria")).unwrap();
    assert_eq!(m.kind, DbKind::Mariadb);
    assert_eq!((m.user.as_str(), m.name.as_str()), ("u", "shop"));
    assert_eq!(m.volume.as_deref(), Some("m"));
    assert_eq!(p.database_in_volume("m").unwrap().service, "maria");
    assert!(p.volumes.iter().all(|v| v.database));
}

#[test]
fn database_none() {
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  web:\n    image: nginx\n  cache:\n    image: redis\n",
    )]);
    let p = f.load();
    assert!(matches!(p.database, DatabaseStatus::None));
    assert!(p.database().is_err());
}

#[test]
fn database_volume_at_parent_of_data_dir() {
    // postgres 18 images mount at /var/lib/postgresql.
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  db:\n    image: postgres:18\n    volumes:\n      - type: volume\n        source: pg18\n        target: /var/lib/postgresql\n      - other:/var/lib/postgresql-other\n\
         volumes:\n  pg18:\n  other:\n",
    )]);
    let p = f.load();
    assert_eq!(found(&p).volume.as_deref(), Some("pg18"));
    assert!(p.volume("pg18").unwrap().database);
    assert!(!p.volume("other").unwrap().database);

    // PGDATA below the mount point.
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  db:\n    image: postgres\n    environment:\n      PGDATA: /var/lib/postgresql/data/pgdata\n    volumes: [pg:/var/lib/postgresql/data]\nvolumes:\n  pg:\n",
    )]);
    let p = f.load();
    assert_eq!(found(&p).data_dir, "/var/lib/postgresql/data/pgdata");
    assert_eq!(found(&p).volume.as_deref(), Some("pg"));

    // A bind mount is not a volume.
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  db:\n    image: postgres\n    volumes: ['./pgdata:/var/lib/postgresql/data']\n",
    )]);
    assert_eq!(found(&f.load()).volume, None);
}

// ---------------------------------------------------------------- YAML

#[test]
fn merge_keys_and_extension_fields() {
    let f = fixture(&[(
        "compose.yaml",
        r#"x-base: &base
  restart: unless-stopped
  environment:
    TZ: UTC
x-pg: &pg
  <<: *base
  image: postgres:16
  healthcheck:
    test: [CMD, pg_isready]
x-extra: &extra
  labels: [a=b]
x-unknown-extension: {whatever: [1, 2]}
services:
  db:
    <<: [*pg, *extra]
    environment:
      POSTGRES_USER: me
  app:
    <<: *base
    image: app
"#,
    )]);
    let p = f.load();
    let db = &p.services["db"];
    assert_eq!(db.image.as_deref(), Some("postgres:16"));
    assert!(db.healthcheck);
    // Explicit keys win over merged ones: the whole environment mapping.
    assert_eq!(db.environment, env(&[("POSTGRES_USER", "me")]));
    assert_eq!(p.services["app"].environment, env(&[("TZ", "UTC")]));
    assert_eq!(p.services.len(), 2);
    assert_eq!(found(&p).user, "me");
}

#[test]
fn malformed_yaml_reports_line_and_column() {
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  db:\n    image: x\n   bad: 1\n",
    )]);
    let e = f.err();
    assert_eq!(
        e.message,
        format!(
            "{}:4:4: did not find expected key, while parsing a block mapping at line 2 column 3",
            f.path("compose.yaml").display()
        )
    );

    let f = fixture(&[("compose.yaml", "services:\n\tdb:\n")]);
    let e = f.err();
    assert!(
        e.message
            .starts_with(&format!("{}:2:1: ", f.path("compose.yaml").display())),
        "{}",
        e.message
    );

    let f = fixture(&[("compose.yaml", "services:\n  db: {}\n  db: {}\n")]);
    let e = f.err();
    assert!(e.message.contains("duplicate entry"), "{}", e.message);
}

#[test]
fn structural_errors_name_file_and_path() {
    let cases = [
        ("- a\n- b\n", "top level must be a mapping"),
        ("", "empty compose file"),
        ("services: [a]\n", "services: expected a mapping"),
        (
            "services:\n  db: 5\n",
            "services.db: a service must be a mapping",
        ),
        (
            "services:\n  db:\n",
            "services.db: a service must be a mapping",
        ),
        (
            "services:\n  db:\n    image: x\n    volumes: 5\n",
            "services.db.volumes: expected a list",
        ),
        (
            "services:\n  db:\n    environment: 5\n",
            "services.db.environment: expected a mapping or a list",
        ),
        (
            "services:\n  db:\n    environment: {A: [1]}\n",
            "services.db.environment.A: expected a string",
        ),
        (
            "services:\n  db:\n    volumes: [{source: a}]\n",
            "services.db.volumes[0]: a mount needs a target",
        ),
        (
            "services:\n  db:\n    volumes: ['a::b']\n",
            "services.db.volumes[0]: empty section",
        ),
        (
            "services:\n  db:\n    volumes: [{type: magic, target: /x}]\n",
            "services.db.volumes[0].type: expected one of",
        ),
        (
            "services:\n  db:\n    image: [x]\n",
            "services.db.image: expected a string",
        ),
        (
            "services:\n  db:\n    depends_on: 5\n",
            "services.db.depends_on: expected a list or a mapping",
        ),
        (
            "services:\n  db:\n    env_file: 5\n",
            "services.db.env_file: expected a path or a list",
        ),
        (
            "services:\n  db:\n    profiles: x\n",
            "services.db.profiles: expected a list",
        ),
        (
            "services:\n  db:\n    image: x\nvolumes: [a]\n",
            "volumes: expected a mapping",
        ),
        (
            "services:\n  db:\n    image: x\nvolumes:\n  a: 5\n",
            "volumes.a: expected a mapping",
        ),
        (
            "services:\n  db:\n    image: x\nvolumes:\n  a: {external: maybe}\n",
            "volumes.a.external: expected true or false",
        ),
        (
            "name: [x]\nservices:\n  db:\n    image: x\n",
            "name: expected a string",
        ),
        (
            "x-a: &a 5\nservices:\n  db:\n    <<: *a\n",
            "services.db.<<: a merge key (<<) takes a mapping",
        ),
        (
            "services:\n  db:\n    image: x\nx-budgie:\n  backup:\n    compress: lz4\n",
            "x-budgie.backup.compress: expected none, gzip or zstd, found \"lz4\"",
        ),
    ];
    for (text, expected) in cases {
        let f = fixture(&[("compose.yaml", text)]);
        let e = f.err();
        let prefix = format!("{}: ", f.path("compose.yaml").display());
        assert!(e.message.starts_with(&prefix), "{text:?}: {}", e.message);
        assert!(e.message.contains(expected), "{text:?}: {}", e.message);
    }
}

#[test]
fn no_services_error() {
    for text in ["name: x\n", "services: {}\n", "services:\n"] {
        let f = fixture(&[("compose.yaml", text)]);
        let e = f.err();
        assert!(e.message.starts_with("no services in "), "{}", e.message);
        assert!(e.message.contains("compose.yaml"), "{}", e.message);
    }
}

#[test]
fn x_budgie_config_merged_across_files() {
    let f = fixture(&[
        (
            "compose.yaml",
            "services:\n  db:\n    image: postgres\nx-budgie:\n  backup:\n    dir: backups\n    compress: gzip\n",
        ),
        (
            "compose.override.yaml",
            "x-budgie:\n  backup:\n    compress: ${COMPRESS:-zstd}\n    retention: {daily: '${DAILY:-2}'}\n",
        ),
    ]);
    let p = f.load();
    assert_eq!(p.config.backup.dir, Some(PathBuf::from("backups")));
    assert_eq!(p.config.backup.compress, Some(Compression::Zstd));
    assert_eq!(p.config.backup.retention.daily, 2);
    assert_eq!(p.config.backup.retention.weekly, 4);
}

// ---------------------------------------------------------------- realistic

#[test]
fn realistic_project() {
    let f = fixture_named(
        "shop",
        &[
            (
                "compose.yaml",
                r#"# The shop stack.
x-logging: &logging
  logging:
    driver: json-file
    options: {max-size: 10m}

services:
  db:
    <<: *logging
    image: postgres:${PG_VERSION:-16}-alpine
    container_name: shop-db
    restart: unless-stopped
    environment:
      POSTGRES_USER: ${DB_USER:-shop}
      POSTGRES_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD in .env}
      POSTGRES_DB: shop_production
    volumes:
      - pgdata:/var/lib/postgresql/data
      - ./initdb:/docker-entrypoint-initdb.d:ro
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U $${POSTGRES_USER}"]
      interval: 5s
  web:
    <<: *logging
    build:
      context: .
    depends_on:
      db:
        condition: service_healthy
    environment:
      - DATABASE_URL=postgres://${DB_USER:-shop}:${DB_PASSWORD}@db/shop_production
      - RAILS_ENV
    volumes:
      - uploads:/app/public/uploads
      - shared-assets:/assets:ro
    ports: ["3000:3000"]

volumes:
  pgdata:
  uploads:
  shared-assets:
    external: true
"#,
            ),
            (
                "compose.override.yaml",
                r#"services:
  web:
    environment:
      RAILS_ENV: development
    volumes:
      - .:/app
volumes:
  pgdata:
    name: shop-pgdata-dev
"#,
            ),
            (".env", "DB_PASSWORD=correct horse\nPG_VERSION=17\n"),
            ("initdb/01.sql", "select 1;"),
        ],
    );
    let p = f.load();
    assert_eq!(p.name, "shop");
    assert_eq!(p.name_source, NameSource::Directory);
    assert_eq!(
        p.files,
        vec![f.path("compose.yaml"), f.path("compose.override.yaml")]
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);

    let db = &p.services["db"];
    assert_eq!(db.image.as_deref(), Some("postgres:17-alpine"));
    assert_eq!(db.container_name.as_deref(), Some("shop-db"));
    assert!(db.healthcheck);
    assert_eq!(db.environment["POSTGRES_USER"], "shop");

    let web = &p.services["web"];
    assert!(web.build);
    assert_eq!(web.depends_on, ["db"]);
    assert_eq!(
        web.environment["DATABASE_URL"],
        "postgres://shop:correct horse@db/shop_production"
    );
    assert_eq!(web.environment["RAILS_ENV"], "development");
    assert_eq!(web.mounts.len(), 3);

    let names: Vec<(&str, &str, bool)> = p
        .volumes
        .iter()
        .map(|v| (v.key.as_str(), v.name.as_str(), v.external))
        .collect();
    assert_eq!(
        names,
        [
            ("pgdata", "shop-pgdata-dev", false),
            ("shared-assets", "shared-assets", true),
            ("uploads", "shop_uploads", false),
        ]
    );
    assert!(p.volume("pgdata").unwrap().database);
    assert_eq!(p.volume("uploads").unwrap().services, ["web"]);

    let database = found(&p);
    assert_eq!(database.service, "db");
    assert_eq!(database.detected_by, DetectedBy::Image);
    assert_eq!(database.user, "shop");
    assert_eq!(database.name, "shop_production");
    assert_eq!(
        database.password.as_ref().unwrap().expose(),
        "correct horse"
    );
    assert_eq!(database.volume.as_deref(), Some("pgdata"));

    // Secrets are redacted in a tool's output, including the one inside
    // DATABASE_URL.
    assert_eq!(
        p.redact_output("password is correct horse"),
        "password is ***"
    );
    let json = serde_json::to_string(&p).unwrap();
    assert!(!json.contains("correct horse"), "{json}");

    // Without the password the required variable stops the load.
    std::fs::write(f.path(".env"), "PG_VERSION=17\n").unwrap();
    let e = f.err();
    assert!(e.message.contains("DB_PASSWORD"), "{}", e.message);
    assert!(
        e.message.contains("set DB_PASSWORD in .env"),
        "{}",
        e.message
    );
}

// ---------------------------------------------------------------- robustness

/// A small deterministic generator (no extra dependency): xorshift.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[rustfmt::skip]
const PIECES: &[&str] = &[
    "$", "${", "}", ":", "-", "\n", " ", "\t", "'", "\"", "[", "]", "{", "}", "<<", "*a", "&b",
    "!reset", "!override", "é", "~", "/", ".", "#", ",", "?", "null", "true", "0", "\u{0}",
    "!", "!!", "!!str ", "&", "*", "---\n", "...\n", "%YAML 1.2\n", "|\n", ">-\n", "=", "\\",
    "    ", "- ", ": ", "${A:?x}", "$$", "x-budgie:", "volumes:", "  ", "\r\n", "\u{feff}",
    "export ", "'\n", "\"\n",
];

/// A few random edits of `seed`, always at character boundaries.
fn mutate(seed: &str, rng: &mut Rng) -> String {
    let mut text = seed.to_string();
    for _ in 0..=rng.below(4) {
        let bounds: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        let at = bounds[rng.below(bounds.len())];
        let piece = PIECES[rng.below(PIECES.len())];
        match rng.below(3) {
            0 => text.insert_str(at, piece),
            1 => {
                let skip = rng.below(8);
                let end = bounds
                    .iter()
                    .copied()
                    .find(|&b| b > at + skip)
                    .unwrap_or(text.len());
                text.replace_range(at..end, "");
            }
            _ => {
                let end = bounds
                    .iter()
                    .copied()
                    .find(|&b| b > at)
                    .unwrap_or(text.len());
                text.replace_range(at..end, piece);
            }
        }
    }
    text
}

/// `BUDGIE_FUZZ_ITERATIONS=200000 cargo test --release never_panic` runs longer.
fn iterations() -> usize {
    std::env::var("BUDGIE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1500)
}

#[test]
fn mutated_compose_files_never_panic() {
    const SEED: &str = "x-a: &a {restart: always, environment: [A=$B]}\n\
        name: ${N:-p}\n\
        services:\n  db:\n    <<: *a\n    image: postgres:${V:-16}\n    environment: {POSTGRES_USER: u, PGDATA: /d/x}\n    volumes: [pg:/d, ./b:/b:ro, /anon, {type: bind, source: ., target: /c}]\n    env_file: [{path: e.env, required: false}]\n    depends_on: {w: {condition: x}}\n    healthcheck: {test: [NONE]}\n  w:\n    image: nginx\n    command: !reset\n\
        volumes:\n  pg: {name: \"${X:-n}\", external: {name: q}}\n\
        x-budgie: {database: {service: db}, backup: {compress: gzip, retention: {daily: 1}}, volumes: {pg: {disposable: true}}}\n";
    let f = fixture(&[("compose.yaml", SEED), (".env", "B=1\n")]);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..iterations() {
        std::fs::write(f.path("compose.yaml"), mutate(SEED, &mut rng)).unwrap();
        let _ = load(&f.opts());
    }
}

#[test]
fn mutated_dotenv_files_never_panic() {
    const SEED: &str = "# c\nexport A=1\nB='x $A'\nC=\"a\\nb ${A:-d} \\$\"\nD=${B} # c\nE\nCOMPOSE_PROJECT_NAME=p\n";
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    env_file: [e.env]\n",
    )]);
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for _ in 0..iterations() {
        std::fs::write(f.path(".env"), mutate(SEED, &mut rng)).unwrap();
        std::fs::write(f.path("e.env"), mutate(SEED, &mut rng)).unwrap();
        let _ = load(&f.opts());
    }
}

#[test]
fn paths_in_messages_are_absolute() {
    let f = fixture(&[("compose.yaml", MINIMAL)]);
    let p = f.load();
    assert!(p.files.iter().all(|f| f.is_absolute()));
    assert!(p.dir.is_absolute());
    assert!(Path::new(&p.files_display()).is_absolute());
}

#[test]
fn names_compose_would_refuse_are_refused_with_file_and_key() {
    let bad = ["a;touch x", "$(id)", "`id`", "a\nb", "../up", "a b", "-x"];
    for v in bad {
        // Keys are not interpolated; values are (`$$` is a literal `$`).
        let k = format!("{v:?}");
        let q = k.replace('$', "$$");
        let cases = [
            (
                format!("services:\n  {k}:\n    image: busybox\n"),
                "services",
                "service name",
            ),
            (
                format!("services:\n  app:\n    image: busybox\n    container_name: {q}\n"),
                "services.app.container_name",
                "container name",
            ),
            (
                format!("services:\n  app:\n    image: busybox\nvolumes:\n  {k}:\n"),
                "volumes",
                "volume key",
            ),
            (
                format!(
                    "services:\n  app:\n    image: busybox\nvolumes:\n  data:\n    name: {q}\n"
                ),
                "volumes.data.name",
                "volume name",
            ),
            (
                format!(
                    "services:\n  app:\n    image: busybox\nvolumes:\n  data:\n    external:\n      name: {q}\n"
                ),
                "volumes.data.external.name",
                "volume name",
            ),
        ];
        for (text, path, what) in cases {
            if v == "-x" && (what == "service name" || what == "volume key") {
                continue; // compose takes a leading '-' in keys
            }
            let f = fixture(&[("compose.yaml", &text)]);
            let e = f.err();
            let want = format!("compose.yaml: {path}: invalid {what} {v:?}");
            assert!(e.message.contains(&want), "{text}\n{}", e.message);
        }
    }
    // What compose accepts still loads.
    let f = fixture(&[(
        "compose.yaml",
        "services:\n  web.1_a-b:\n    image: busybox\n    container_name: Web-1.x_y\nvolumes:\n  _data.1:\n    name: Vol_1.a-b\n",
    )]);
    f.load();
}
