//! The compose corpus: real compose files of public projects, each with
//! what the compose tools themselves (docker-compose 1.29, podman-compose
//! 1.6) make of it — `tests/data/compose-corpus/<case>/expected.json`, the
//! format its README gives. Every case runs through `budgie config --json`
//! and `budgie volumes --json` (against a fake engine, which answers that
//! no volume exists yet) and must agree: the project name, each named
//! volume's engine name, `external` and the services using it, the
//! database service and its volume — or, for a file the tools refuse, an
//! error naming one of the expected words and no engine call at all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::*;

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/compose-corpus");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("expected.json").is_file())
        .collect();
    out.sort();
    out
}

/// The lines of an optional file of the case (`ARGS`, `ENV`).
fn lines(case: &Path, name: &str) -> Vec<String> {
    std::fs::read_to_string(case.join(name))
        .map(|t| {
            t.lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `budgie ARGS... <command>` in the case's directory, with its `ENV`,
/// nothing of the caller's compose environment, and the fake engine.
fn run(case: &Path, fake: &FakeEngine, command: &[&str]) -> Outcome {
    let mut b = Budgie::in_dir(case)
        .env("PATH", fake.path())
        .env("BUDGIE_ENGINE", "podman")
        .args(lines(case, "ARGS"));
    for kv in lines(case, "ENV") {
        let (k, v) = kv.split_once('=').expect("ENV lines are KEY=VALUE");
        b = b.env(k, v);
    }
    b.args(command).run()
}

/// What budgie's volumes (from `config --json` or `volumes --json`) say, in
/// `expected.json`'s shape.
fn volumes_of(list: &Value) -> BTreeMap<String, Value> {
    list.as_array()
        .expect("a list of volumes")
        .iter()
        .map(|v| {
            let mut services: Vec<String> = v["services"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            services.sort();
            (
                v["key"].as_str().unwrap().to_string(),
                serde_json::json!({
                    "name": v["name"],
                    "external": v["external"],
                    "services": services,
                }),
            )
        })
        .collect()
}

/// The database as `expected.json` records it.
fn database_of(db: &Value) -> Value {
    match db["status"].as_str() {
        Some("found") => serde_json::json!({
            "status": "found",
            "service": db["service"],
            "volume": db["volume"],
        }),
        Some("ambiguous") => serde_json::json!({
            "status": "ambiguous",
            "candidates": db["candidates"],
        }),
        other => serde_json::json!({ "status": other }),
    }
}

/// Checks one case; returns what disagrees, in words.
fn check(case: &Path) -> Vec<String> {
    let name = case.file_name().unwrap().to_string_lossy().to_string();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap())
            .unwrap();
    let fake = FakeEngine::new(false);
    let mut wrong = Vec::new();
    if let Some(err) = expected.get("error") {
        for command in [&["config", "--json"][..], &["volumes", "--json"]] {
            let out = run(case, &fake, command);
            let words: Vec<&str> = err["any_of"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap())
                .collect();
            if out.code == Some(0) || !words.iter().any(|w| out.stderr.contains(w)) {
                wrong.push(format!(
                    "{name}: `{}` should fail naming one of {words:?}{}",
                    command.join(" "),
                    out.explain()
                ));
            }
        }
        let calls = fake.calls();
        if !calls.is_empty() {
            wrong.push(format!("{name}: engine calls on a refused file: {calls:?}"));
        }
        return wrong;
    }
    let config = run(case, &fake, &["config", "--json"]);
    if config.code != Some(0) {
        return vec![format!("{name}: config --json failed{}", config.explain())];
    }
    let doc = config.json();
    if doc["project"] != expected["project"] {
        wrong.push(format!(
            "{name}: project {} (expected {})",
            doc["project"], expected["project"]
        ));
    }
    let want: BTreeMap<String, Value> = expected["volumes"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let got = volumes_of(&doc["volumes"]);
    if got != want {
        wrong.push(format!(
            "{name}: config --json volumes {got:#?}\n  expected {want:#?}"
        ));
    }
    let db = database_of(&doc["database"]);
    if db != expected["database"] {
        wrong.push(format!(
            "{name}: database {db} (expected {})",
            expected["database"]
        ));
    }
    let listed = run(case, &fake, &["volumes", "--json"]);
    if listed.code != Some(0) {
        wrong.push(format!("{name}: volumes --json failed{}", listed.explain()));
    } else {
        let got = volumes_of(&listed.json()["volumes"]);
        if got != want {
            wrong.push(format!(
                "{name}: volumes --json {got:#?}\n  expected {want:#?}"
            ));
        }
    }
    wrong
}

#[test]
fn every_corpus_case_agrees_with_the_compose_tools() {
    let cases = cases();
    assert!(cases.len() >= 20, "the corpus has {} cases", cases.len());
    let wrong: Vec<String> = cases.iter().flat_map(|c| check(c)).collect();
    assert!(
        wrong.is_empty(),
        "{} disagreement(s):\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
