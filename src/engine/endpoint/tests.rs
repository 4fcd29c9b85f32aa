use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn none() -> Choice {
    Choice::default()
}

#[test]
fn the_engines_own_variables_choose_the_endpoint_as_their_clis_do() {
    let e = env(&[
        ("DOCKER_HOST", "ssh://deploy@prod"),
        ("HOME", "/nonexistent"),
    ]);
    let d = resolve(EngineKind::Docker, "docker", &none(), &e).unwrap();
    assert_eq!(d.url.as_deref(), Some("ssh://deploy@prod"));
    assert_eq!(d.source, "DOCKER_HOST");
    assert!(!d.on_this_machine());
    assert_eq!(d.on(), " on ssh://deploy@prod");

    // podman reads its own variable, not docker's.
    let p = resolve(EngineKind::Podman, "podman", &none(), &e).unwrap();
    assert!(p.is_default());
    assert_eq!(p.on(), "");

    let e = env(&[
        ("CONTAINER_HOST", "unix:///run/x/podman.sock"),
        ("CONTAINER_SSHKEY", "/k/id"),
        // podman: CONTAINER_HOST wins over CONTAINER_CONNECTION (measured
        // with podman 4.3); the connection is then never looked up.
        ("CONTAINER_CONNECTION", "elsewhere"),
    ]);
    let p = resolve(EngineKind::Podman, "/nonexistent/podman", &none(), &e).unwrap();
    assert_eq!(p.url.as_deref(), Some("unix:///run/x/podman.sock"));
    assert!(p.on_this_machine());
    let (set, unset) = p.call_env(EngineKind::Podman);
    assert_eq!(
        set,
        [
            (
                "CONTAINER_HOST".to_string(),
                "unix:///run/x/podman.sock".to_string()
            ),
            ("CONTAINER_SSHKEY".to_string(), "/k/id".to_string())
        ]
    );
    assert_eq!(unset, ["CONTAINER_CONNECTION"]);
}

#[test]
fn the_flag_wins_and_a_default_engine_gets_no_variables() {
    let e = env(&[("DOCKER_HOST", "tcp://10.0.0.1:2375")]);
    let choice = Choice {
        host: Some("unix:///run/b/docker.sock".into()),
        ..none()
    };
    let d = resolve(EngineKind::Docker, "docker", &choice, &e).unwrap();
    assert_eq!(d.url.as_deref(), Some("unix:///run/b/docker.sock"));
    assert_eq!(d.source, "--engine-host");
    let (set, unset) = d.call_env(EngineKind::Docker);
    assert_eq!(set[0].1, "unix:///run/b/docker.sock");
    assert_eq!(unset, ["DOCKER_CONTEXT"]);

    let local = Endpoint::local();
    assert_eq!(local.call_env(EngineKind::Docker), (vec![], vec![]));
    assert_eq!(local.to_string(), "this machine's default engine");
}

#[test]
fn bad_urls_and_mixed_flags_are_refused_naming_where_they_came_from() {
    for bad in [
        "prod.example",
        "http://h:2375",
        "unix://relative",
        "ssh://",
        "tcp:///x",
    ] {
        let e = env(&[("DOCKER_HOST", bad)]);
        let err = resolve(EngineKind::Docker, "docker", &none(), &e).unwrap_err();
        assert!(
            err.message
                .starts_with(&format!("DOCKER_HOST={bad}: expected")),
            "{}",
            err.message
        );
    }
    let both = Choice {
        host: Some("unix:///x".into()),
        context: Some("prod".into()),
        ..none()
    };
    let err = resolve(EngineKind::Docker, "docker", &both, &env(&[])).unwrap_err();
    assert!(err.message.contains("give one"), "{}", err.message);
    let wrong = Choice {
        connection: Some("prod".into()),
        ..none()
    };
    let err = resolve(EngineKind::Docker, "docker", &wrong, &env(&[])).unwrap_err();
    assert!(
        err.message.contains("docker has contexts"),
        "{}",
        err.message
    );
}

#[test]
fn a_docker_context_resolves_to_its_host_and_tls_files() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("docker");
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::write(tls.join("ca.pem"), "x").unwrap();
    let json = format!(
        r#"[{{"Name":"prod","Endpoints":{{"docker":{{"Host":"tcp://prod:2376","SkipTLSVerify":false}}}},"Storage":{{"TLSPath":"{}"}}}}]"#,
        dir.path().display()
    );
    let e = parse_context(&json, "prod", "--context").unwrap();
    assert_eq!(e.to_string(), "prod (tcp://prod:2376)");
    let (set, _) = e.call_env(EngineKind::Docker);
    assert!(set.contains(&("DOCKER_CERT_PATH".into(), tls.display().to_string())));
    assert!(set.contains(&("DOCKER_TLS_VERIFY".into(), "1".into())));

    let plain = r#"[{"Name":"b","Endpoints":{"docker":{"Host":"ssh://d@h","SkipTLSVerify":false}},"Storage":{"TLSPath":"/nonexistent"}}]"#;
    let e = parse_context(plain, "b", "DOCKER_CONTEXT").unwrap();
    assert_eq!(e.call_env(EngineKind::Docker).0.len(), 1);
    assert!(parse_context(r#"[{"Endpoints":{}}]"#, "k8s", "x").is_err());
}

#[test]
fn a_podman_connection_resolves_to_its_uri_and_key() {
    let json = r#"[{"Name":"a","URI":"unix:///a.sock","Identity":"","Default":true},
                  {"Name":"prod","URI":"ssh://core@prod:22/run/podman/podman.sock","Identity":"/home/u/.ssh/id","Default":false}]"#;
    let e = parse_connection(json, "prod", "--connection").unwrap();
    assert_eq!(
        e.url.as_deref(),
        Some("ssh://core@prod:22/run/podman/podman.sock")
    );
    assert!(!e.on_this_machine());
    assert!(
        e.call_env(EngineKind::Podman)
            .0
            .contains(&("CONTAINER_SSHKEY".into(), "/home/u/.ssh/id".into()))
    );
    let a = parse_connection(json, "a", "CONTAINER_CONNECTION").unwrap();
    assert_eq!(a.call_env(EngineKind::Podman).0.len(), 1);
    let err = parse_connection(json, "nope", "--connection").unwrap_err();
    assert!(
        err.message
            .contains("--connection nope: no such podman connection")
    );
}

#[test]
fn the_current_context_is_read_from_the_clis_config() {
    let dir = tempfile::tempdir().unwrap();
    let e = env(&[("DOCKER_CONFIG", &dir.path().display().to_string())]);
    assert_eq!(current_context(&e), None);
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"currentContext":"default"}"#,
    )
    .unwrap();
    assert_eq!(current_context(&e), None);
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"auths":{},"currentContext":"prod"}"#,
    )
    .unwrap();
    assert_eq!(current_context(&e).as_deref(), Some("prod"));
}
