//! Merging the normalized compose files the way compose does: later files win.
//!
//! Merge rules (compose-spec): mappings merge deeply; scalars are replaced;
//! service `volumes` entries are replaced per target; `command`,
//! `entrypoint` and `healthcheck.test` are replaced; other sequences are
//! concatenated without duplicates. `!reset` removes a value and
//! `!override` replaces it instead of merging. A null never erases a value.

use std::collections::HashSet;

use serde_yaml_ng::Value;

use super::yaml::key_display;

/// Whether sequences under `path` are replaced rather than concatenated,
/// and mappings replaced rather than merged.
fn replaces(path: &[String]) -> bool {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    matches!(
        p.as_slice(),
        ["services", _, "command" | "entrypoint"]
            | ["services", _, "healthcheck", "test"]
            | ["services", _, "volumes", _]
    )
}

/// Merges a later file's value over an earlier one. `None` in, nothing was
/// there; `None` out, the value is removed (`!reset`).
pub(crate) fn merge(base: Option<Value>, over: Value, path: &mut Vec<String>) -> Option<Value> {
    let over = match over {
        Value::Tagged(t) => {
            if t.tag == "reset" {
                return None;
            }
            if t.tag == "override" {
                return clean(t.value);
            }
            return merge(base, t.value, path);
        }
        v => v,
    };
    let Some(base) = base else {
        return clean(over);
    };
    if over.is_null() {
        return Some(base);
    }
    if replaces(path) {
        return clean(over);
    }
    match (base, over) {
        (Value::Mapping(mut b), Value::Mapping(o)) => {
            for (k, ov) in o {
                path.push(key_display(&k));
                let existing = b.get_mut(&k).map(std::mem::take);
                match merge(existing, ov, path) {
                    Some(v) => {
                        b.insert(k, v);
                    }
                    None => {
                        b.shift_remove(&k);
                    }
                }
                path.pop();
            }
            Some(Value::Mapping(b))
        }
        (Value::Sequence(mut b), Value::Sequence(o)) => {
            let mut seen: HashSet<Value> = b.iter().cloned().collect();
            for item in o.into_iter().filter_map(clean) {
                if seen.insert(item.clone()) {
                    b.push(item);
                }
            }
            Some(Value::Sequence(b))
        }
        (_, o) => clean(o),
    }
}

/// The value with `!reset` entries removed and every tag dropped.
fn clean(v: Value) -> Option<Value> {
    match v {
        Value::Tagged(t) => {
            if t.tag == "reset" {
                None
            } else {
                clean(t.value)
            }
        }
        Value::Mapping(m) => Some(Value::Mapping(
            m.into_iter()
                .filter_map(|(k, v)| clean(v).map(|v| (k, v)))
                .collect(),
        )),
        Value::Sequence(s) => Some(Value::Sequence(s.into_iter().filter_map(clean).collect())),
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    fn m(base: &str, over: &str) -> Value {
        merge(Some(y(base)), y(over), &mut Vec::new()).unwrap()
    }

    #[test]
    fn deep_merge_and_scalars() {
        let v = m("a: {b: 1, c: 2}\nd: x", "a: {c: 3, e: 4}\nd: y");
        assert_eq!(v, y("a: {b: 1, c: 3, e: 4}\nd: y"));
    }

    #[test]
    fn sequences_concatenated_without_duplicates() {
        let v = m(
            "services: {a: {ports: [1, 2]}}",
            "services: {a: {ports: [2, 3]}}",
        );
        assert_eq!(v, y("services: {a: {ports: [1, 2, 3]}}"));
    }

    #[test]
    fn command_replaced() {
        let v = m(
            "services: {a: {command: [x, y], entrypoint: [e], healthcheck: {test: [CMD, a], interval: 5s}}}",
            "services: {a: {command: [z], entrypoint: f, healthcheck: {test: [CMD, b]}}}",
        );
        assert_eq!(
            v,
            y(
                "services: {a: {command: [z], entrypoint: f, healthcheck: {test: [CMD, b], interval: 5s}}}"
            )
        );
    }

    #[test]
    fn null_keeps_base() {
        assert_eq!(m("a: {b: 1}", "a:"), y("a: {b: 1}"));
    }

    #[test]
    fn reset_and_override() {
        let v = m(
            "services: {a: {ports: [1], environment: {A: '1', B: '2'}, image: x}}",
            "services: {a: {ports: !reset [], environment: !override {C: '3'}, image: !reset null}}",
        );
        assert_eq!(v, y("services: {a: {environment: {C: '3'}}}"));
        // Tags in the first file are dropped too.
        let v = merge(
            Some(y("{}")),
            y("a: !override {b: !reset 1, c: 2}"),
            &mut Vec::new(),
        );
        assert_eq!(v, Some(y("a: {c: 2}")));
    }
}
