//! The shape of the code, checked: imports go one way (no module imports,
//! directly or not, a module that imports it), no file grows past about
//! 600 lines of code outside its tests, no function past about 100 lines.
//!
//! The module graph is read from the source text: every `crate::` path and
//! `use` tree, `super::` paths, and a `mod.rs` file's paths into its own
//! children, each resolved to the file that defines the module. Test
//! modules (`#[cfg(test)] mod tests` at a file's end, `tests.rs`,
//! `testdata.rs`) are left out: tests may look anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lines of code (not blank, not a comment) a file may hold outside tests.
const MAX_FILE_CODE_LINES: usize = 650;
/// Lines a function may span, braces included.
const MAX_FUNCTION_LINES: usize = 110;

struct Source {
    /// `backup::writer`; the crate root is "".
    module: String,
    path: PathBuf,
    /// The text before the test module.
    code: String,
    /// Whether the file is a directory module (`mod.rs`, `lib.rs`).
    is_dir_module: bool,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut todo = vec![root.clone()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let last = parts.last().cloned().unwrap_or_default();
            if last == "tests" || last == "testdata" || last == "main" {
                continue;
            }
            let is_dir_module = last == "mod" || last == "lib";
            if is_dir_module {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = match text.find("#[cfg(test)]\nmod tests {") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            out.push(Source {
                module: parts.join("::"),
                path,
                code,
                is_dir_module,
            });
        }
    }
    out.sort_by(|a, b| a.module.cmp(&b.module));
    out
}

/// The code without comments and string literals, which may mention paths.
fn strip(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// The paths a `use` tree names, e.g. `crate::{a, b::{c, d}}` gives
/// `crate::a`, `crate::b::c`, `crate::b::d`.
fn use_paths(tree: &str) -> Vec<String> {
    fn walk(prefix: &str, tree: &str, out: &mut Vec<String>) {
        let tree = tree.trim();
        match tree.find('{') {
            None => {
                for part in split_top(tree) {
                    let part = part.split(" as ").next().unwrap_or("").trim();
                    if !part.is_empty() {
                        out.push(format!("{prefix}{part}"));
                    }
                }
            }
            Some(open) => {
                let head = tree[..open].trim();
                let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
                for part in split_top(inner) {
                    walk(&format!("{prefix}{head}"), part, out);
                }
            }
        }
    }
    /// Splits at commas outside braces.
    fn split_top(s: &str) -> Vec<&str> {
        let (mut depth, mut start, mut out) = (0, 0, Vec::new());
        for (i, c) in s.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(&s[start..]);
        out
    }
    let mut out = Vec::new();
    walk("", tree, &mut out);
    out
}

/// The modules `src` imports.
fn imports(src: &Source, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = strip(&src.code);
    let parent = match src.module.rsplit_once("::") {
        Some((p, _)) => p.to_string(),
        None => String::new(),
    };
    let mut paths: Vec<String> = Vec::new();
    // `use` trees, whole.
    for (i, _) in code.match_indices("use ") {
        let word_start = code[..i]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || c == '{');
        if let (true, Some(end)) = (word_start, code[i..].find(';')) {
            paths.extend(use_paths(&code[i + 4..i + end]));
        }
    }
    // Paths anywhere in the code.
    let bytes = code.as_bytes();
    for (i, _) in code.match_indices("::") {
        let start = code[..i]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |s| s + 1);
        let end = i
            + 2
            + code[i + 2..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(code.len() - i - 2);
        // `a::{...}` is a use tree, read whole above.
        if start < i && bytes[start] != b':' && !code[start..end].ends_with("::") {
            paths.push(code[start..end].to_string());
        }
    }
    let mut out = BTreeSet::new();
    for path in paths {
        let path = path.trim_start_matches("::");
        let absolute: Option<String> = if let Some(rest) = path.strip_prefix("crate::") {
            Some(rest.to_string())
        } else if let Some(rest) = path.strip_prefix("super::") {
            Some(if parent.is_empty() {
                rest.to_string()
            } else {
                format!("{parent}::{rest}")
            })
        } else if src.is_dir_module {
            // A directory module's paths into its own children.
            let child = if src.module.is_empty() {
                path.to_string()
            } else {
                format!("{}::{path}", src.module)
            };
            Some(child)
        } else {
            None
        };
        let Some(abs) = absolute else { continue };
        // The longest prefix that is a module of this crate.
        let segments: Vec<&str> = abs.split("::").collect();
        for n in (1..=segments.len()).rev() {
            let candidate = segments[..n].join("::");
            if modules.contains(&candidate) {
                if candidate != src.module {
                    out.insert(candidate);
                }
                break;
            }
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let sources = sources();
    let modules: BTreeSet<String> = sources.iter().map(|s| s.module.clone()).collect();
    sources
        .iter()
        .filter(|s| !s.module.is_empty())
        .map(|s| (s.module.clone(), imports(s, &modules)))
        .collect()
}

/// The strongly connected components with more than one module (Tarjan).
fn loops(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn the_module_graph_has_no_loops() {
    let g = graph();
    // The reader must see the imports at all: a few known edges.
    for (from, to) in [
        ("gate", "execute"),
        ("execute", "plan"),
        ("commands::destroy", "gate"),
        ("backup::writer", "backup::format"),
    ] {
        assert!(
            g.get(from).is_some_and(|d| d.contains(to)),
            "the graph lacks {from} -> {to}: {:?}",
            g.get(from)
        );
    }
    let found = loops(&g);
    let described: Vec<String> = found
        .iter()
        .map(|c| {
            let edges: Vec<String> = c
                .iter()
                .flat_map(|m| {
                    g[m].iter()
                        .filter(|d| c.contains(d))
                        .map(move |d| format!("{m} -> {d}"))
                })
                .collect();
            format!("{}: {}", c.join(", "), edges.join("; "))
        })
        .collect();
    assert!(
        found.is_empty(),
        "import loops between modules:\n{}",
        described.join("\n")
    );
}

#[test]
fn the_loop_finder_finds_loops() {
    let mut g = BTreeMap::new();
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    g.insert("a".to_string(), set(&["b"]));
    g.insert("b".to_string(), set(&["c"]));
    g.insert("c".to_string(), set(&["a", "d"]));
    g.insert("d".to_string(), set(&[]));
    assert_eq!(loops(&g), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        use_paths("crate::{a, b::{c, d as e}, f::G}"),
        ["crate::a", "crate::b::c", "crate::b::d", "crate::f::G"]
    );
}

#[test]
fn files_and_functions_stay_small() {
    let mut big = Vec::new();
    for src in sources() {
        let lines: Vec<&str> = src.code.lines().collect();
        let code = lines
            .iter()
            .filter(|l| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with("//")
            })
            .count();
        if code > MAX_FILE_CODE_LINES {
            big.push(format!(
                "{}: {code} lines of code outside tests",
                src.path.display()
            ));
        }
        // rustfmt'd code: a function's closing brace is at its indentation.
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            let indent = &line[..line.len() - t.len()];
            let is_fn = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "const fn ",
                "pub const fn ",
            ]
            .iter()
            .any(|p| t.starts_with(p));
            if !is_fn || t.ends_with(';') {
                continue;
            }
            let close = format!("{indent}}}");
            if let Some(n) = lines[i..].iter().position(|l| *l == close)
                && n + 1 > MAX_FUNCTION_LINES
            {
                big.push(format!(
                    "{}:{}: a function of {} lines",
                    src.path.display(),
                    i + 1,
                    n + 1
                ));
            }
        }
    }
    assert!(big.is_empty(), "too large:\n{}", big.join("\n"));
}
