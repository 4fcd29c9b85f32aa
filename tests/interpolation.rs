//! Interpolation as the user sees it: compose-go's own test table (recorded
//! from its `template/template_test.go` in `tests/data/interpolation-cases.json`)
//! and budgie's unicode cases, each template the value of an `environment:`
//! key of a compose file, checked in what `budgie config --json` prints, or
//! in how budgie refuses the file.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::*;

const CASES: &str = include_str!("data/interpolation-cases.json");

struct Case {
    /// Where the case is in the data file, and compose-go's test name.
    label: String,
    template: String,
    vars: BTreeMap<String, String>,
    /// compose-go's value, or None when compose-go refuses the template.
    value: Option<String>,
    /// compose-go's refusal: "invalid template", or the required-variable message.
    refused: Option<String>,
}

fn cases() -> (usize, Vec<Case>) {
    let table: serde_json::Value = serde_json::from_str(CASES).expect("the cases are JSON");
    let defaults = &table["variables"];
    let mut all = Vec::new();
    for section in ["cases", "unicode"] {
        for (i, c) in table[section].as_array().unwrap().iter().enumerate() {
            let test = c["test"]
                .as_str()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default();
            all.push(Case {
                label: format!("{section}[{i}]{test}"),
                template: c["template"].as_str().unwrap().to_string(),
                vars: serde_json::from_value(c.get("variables").unwrap_or(defaults).clone())
                    .unwrap(),
                value: c["value"].as_str().map(str::to_string),
                refused: c["refused"].as_str().map(str::to_string),
            });
        }
    }
    let compose_go = table["cases"].as_array().unwrap().len();
    (compose_go, all)
}

/// The names a template may look up: the name characters after each `$`
/// or `${` (compose-go's, with the two non-ASCII ones Go's `(?i)[a-z]` takes).
fn names(template: &str) -> BTreeSet<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '\u{17f}' | '\u{212a}');
    template
        .split('$')
        .skip(1)
        .map(|rest| {
            let rest = rest.strip_prefix('{').unwrap_or(rest);
            rest.chars().take_while(|&c| is_name(c)).collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// `budgie config --json` in `f`, with exactly `vars` set among the names
/// the templates use (the rest removed from the inherited environment).
fn config_json<'a>(
    f: &Fixture,
    vars: &BTreeMap<String, String>,
    templates: impl Iterator<Item = &'a str>,
) -> Outcome {
    let mut cmd = f.budgie();
    for name in templates.flat_map(names) {
        if !vars.contains_key(&name) {
            cmd = cmd.env_remove(&name);
        }
    }
    for (k, v) in vars {
        cmd = cmd.env(k, v);
    }
    cmd.args(["config", "--json"]).run()
}

/// A compose file whose one service has these environment values (each
/// a YAML double-quoted string: JSON's escapes are YAML's).
fn compose_file(entries: &[(String, &str)]) -> String {
    let mut yaml = String::from("services:\n  app:\n    image: busybox\n    environment:\n");
    for (key, template) in entries {
        let quoted = serde_json::to_string(template).unwrap();
        yaml.push_str(&format!("      {key}: {quoted}\n"));
    }
    yaml
}

fn key(i: usize) -> String {
    format!("CASE_{i:03}")
}

/// The values `budgie config --json` gives to the cases `group` (all read
/// with `vars`), written as one compose file; its output when it fails.
fn values(
    cases: &[Case],
    group: &[usize],
    vars: &BTreeMap<String, String>,
) -> Result<Vec<serde_json::Value>, Outcome> {
    let entries: Vec<(String, &str)> = group
        .iter()
        .map(|&i| (key(i), cases[i].template.as_str()))
        .collect();
    let f = Fixture::bare().compose(&compose_file(&entries));
    let out = config_json(&f, vars, group.iter().map(|&i| cases[i].template.as_str()));
    if out.code != Some(0) {
        return Err(out);
    }
    let env = out.json()["services"]["app"]["environment"].take();
    Ok(group.iter().map(|&i| env[key(i)].clone()).collect())
}

#[test]
fn compose_go_table_through_config_json() {
    let (compose_go, cases) = cases();
    assert_eq!(compose_go, 82, "compose-go's cases");
    let mut wrong = Vec::new();

    // The values: one compose file per set of variables, each case the
    // value of a key of its own (each case alone when the file is refused,
    // to name the ones refused).
    let mut groups: BTreeMap<&BTreeMap<String, String>, Vec<usize>> = BTreeMap::new();
    for (i, c) in cases.iter().enumerate() {
        if c.value.is_some() {
            groups.entry(&c.vars).or_default().push(i);
        }
    }
    for (vars, group) in &groups {
        let results: Vec<(usize, Result<serde_json::Value, Outcome>)> =
            match values(&cases, group, vars) {
                Ok(got) => group.iter().copied().zip(got.into_iter().map(Ok)).collect(),
                Err(_) => group
                    .iter()
                    .map(|&i| (i, values(&cases, &[i], vars).map(|mut v| v.remove(0))))
                    .collect(),
            };
        for (i, got) in results {
            let c = &cases[i];
            match got {
                Ok(got) if got.as_str() == c.value.as_deref() => {}
                Ok(got) => wrong.push(format!(
                    "{}: {:?} gave {got}, compose-go {:?}",
                    c.label, c.template, c.value
                )),
                Err(out) => wrong.push(format!(
                    "{}: {:?} was refused, compose-go gives {:?}: {}",
                    c.label,
                    c.template,
                    c.value,
                    out.stderr.trim()
                )),
            }
        }
    }

    // The refusals: one file each, since a refusal is the whole file's.
    for (i, c) in cases.iter().enumerate() {
        let Some(refused) = &c.refused else { continue };
        let f = Fixture::bare().compose(&compose_file(&[(key(i), &c.template)]));
        let out = config_json(&f, &c.vars, [c.template.as_str()].into_iter());
        let place = format!("compose.yml: services.app.environment.{}: ", key(i));
        let said = out
            .stderr
            .split_once(&place)
            .map(|(_, said)| said.lines().next().unwrap_or(""));
        let agrees = out.code == Some(1)
            && out.stdout.is_empty()
            && match (said, refused.as_str()) {
                (Some(said), "invalid template") => {
                    said == format!("invalid interpolation format in {:?}", c.template)
                        || said.starts_with("unterminated \"${\"")
                }
                (Some(said), message) => said == message,
                (None, _) => false,
            };
        if !agrees {
            wrong.push(format!(
                "{}: {:?} should be refused ({refused}){}",
                c.label,
                c.template,
                out.explain()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases differ from compose-go:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

/// A regex in a label and a `$1` in a command are kept as docker compose
/// keeps them; a default holding braces is not leaked when unused.
#[test]
fn lone_dollars_and_json_defaults_in_a_real_file() {
    let f = Fixture::bare().compose(
        "services:\n  app:\n    image: busybox\n    command: [sh, -c, 'echo $1 $']\n    \
         environment:\n      PATTERN: ^/api/v[0-9]+$\n      \
         GREETING: ${GREETING_JSON:-{\"hello\":\"world\"}}\n      \
         FALLBACK: ${NO_SUCH_GREETING:-{\"hello\":\"world\"}}\n",
    );
    let doc = f
        .budgie()
        .env("GREETING_JSON", "{\"hi\":2}")
        .env_remove("NO_SUCH_GREETING")
        .args(["config", "--json"])
        .run()
        .success()
        .json();
    let env = &doc["services"]["app"]["environment"];
    assert_eq!(env["PATTERN"], "^/api/v[0-9]+$");
    assert_eq!(env["GREETING"], "{\"hi\":2}");
    assert_eq!(env["FALLBACK"], "{\"hello\":\"world\"}");
}
