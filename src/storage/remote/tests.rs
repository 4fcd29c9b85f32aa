use std::collections::BTreeMap;

use super::*;

#[test]
fn targets_are_parsed_and_bad_ones_named() {
    let t = Target::parse("s3://my-bucket/a/b/").unwrap();
    assert_eq!(t.bucket, "my-bucket");
    assert_eq!(t.prefix, "a/b");
    assert_eq!(t.key("x.sql"), "a/b/x.sql");
    assert_eq!(t.list_prefix(), "a/b/");
    assert_eq!(t.shown(Some("x.sql")), "s3://my-bucket/a/b/x.sql");
    let root = Target::parse("s3://my-bucket").unwrap();
    assert_eq!(root.key("x.sql"), "x.sql");
    assert_eq!(root.list_prefix(), "");
    assert_eq!(root.shown(None), "s3://my-bucket");
    for (bad, why) in [
        ("https://b/x", "not an s3:// URL"),
        ("s3://ab", "not valid"),
        ("s3://Upper", "not valid"),
        ("s3://-bucket", "not valid"),
        ("s3://bucket/../x", ". or .."),
        ("s3://bucket/a\nb", "control character"),
    ] {
        let e = Target::parse(bad).unwrap_err();
        assert!(e.message.contains(why), "{bad}: {}", e.message);
    }
    let (t, name) = split_file("s3://bucket/p/q/app_1.sql").unwrap();
    assert_eq!((t.prefix.as_str(), name.as_str()), ("p/q", "app_1.sql"));
    let (t, name) = split_file("s3://bucket/app_1.sql").unwrap();
    assert_eq!((t.prefix.as_str(), name.as_str()), ("", "app_1.sql"));
    assert!(split_file("s3://bucket").is_err());
}

fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

#[test]
fn settings_come_from_config_then_environment_then_profile() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &config,
        "[default]\nregion = eu-west-3\n[profile minio]\nregion = local-1\nendpoint_url = http://127.0.0.1:9000\n",
    )
    .unwrap();
    std::fs::write(
        &credentials,
        "[default]\naws_access_key_id = AKIDEFAULT\naws_secret_access_key = s1\n[minio]\naws_access_key_id = AKIMINIO\naws_secret_access_key = s2\naws_session_token = t2\n",
    )
    .unwrap();
    let files = [
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
    ];

    // The default profile: AWS, virtual-hosted, its region.
    let s = settings(&S3Config::default(), &env_of(&files)).unwrap();
    assert_eq!(s.endpoint, "https://s3.eu-west-3.amazonaws.com");
    assert_eq!(s.region, "eu-west-3");
    assert!(!s.path_style);
    assert_eq!(s.credentials.key, "AKIDEFAULT");
    assert!(s.credentials.from.contains("profile default"));

    // AWS_PROFILE: its endpoint (path style), region, keys and token.
    let mut vars = files.to_vec();
    vars.push(("AWS_PROFILE", "minio"));
    let s = settings(&S3Config::default(), &env_of(&vars)).unwrap();
    assert_eq!(s.endpoint, "http://127.0.0.1:9000");
    assert_eq!(s.region, "local-1");
    assert!(s.path_style);
    assert_eq!(s.credentials.key, "AKIMINIO");
    assert_eq!(s.credentials.token.as_deref(), Some("t2"));

    // The environment before the profile; the compose file before both.
    vars.extend([
        ("AWS_ACCESS_KEY_ID", "AKIENV"),
        ("AWS_SECRET_ACCESS_KEY", "s3"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9100/"),
        ("AWS_REGION", "env-1"),
    ]);
    let s = settings(&S3Config::default(), &env_of(&vars)).unwrap();
    assert_eq!(
        (
            s.endpoint.as_str(),
            s.region.as_str(),
            s.credentials.key.as_str()
        ),
        ("http://127.0.0.1:9100", "env-1", "AKIENV")
    );
    assert!(s.credentials.from.contains("environment"));
    let from_config = S3Config {
        endpoint: Some("https://minio.example:9000".into()),
        region: Some("conf-1".into()),
        path_style: Some(false),
    };
    let s = settings(&from_config, &env_of(&vars)).unwrap();
    assert_eq!(
        (s.endpoint.as_str(), s.region.as_str(), s.path_style),
        ("https://minio.example:9000", "conf-1", false)
    );

    // No credentials anywhere: said, with where budgie looked.
    let e = settings(
        &S3Config::default(),
        &env_of(&[("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/c")]),
    )
    .err()
    .unwrap();
    assert!(e.message.contains("no S3 credentials"), "{}", e.message);
    assert!(e.message.contains("/nonexistent/c"), "{}", e.message);
    // A bad endpoint is named.
    let bad = S3Config {
        endpoint: Some("minio:9000".into()),
        ..S3Config::default()
    };
    assert!(
        settings(&bad, &env_of(&vars))
            .err()
            .unwrap()
            .message
            .contains("http://HOST")
    );
}
