//! What the fuzz targets (`fuzz/fuzz_targets/`) run on each input, shared
//! with the integration test that replays their corpus (`tests/fuzz_corpus.rs`)
//! so that `cargo test` checks every corpus file without the fuzzer.
//!
//! The contract under test: whatever the bytes, budgie answers with a model
//! (or a validated dump) or with an error whose message says something — it
//! never panics and never hangs. Each function panics (which the fuzzer
//! records as a crash) when that contract is broken.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::backup::verify;
use crate::compose::{self, LoadOptions};
use crate::error::Error;
use crate::restore;

/// The line that starts the project's `.env` in a compose input.
pub const ENV_MARKER: &str = "#### .env\n";
/// The line that starts `compose.override.yaml` in a compose input.
pub const OVERRIDE_MARKER: &str = "#### compose.override.yaml\n";

/// The three files of a compose input: `compose.yaml`, then optional
/// sections `#### compose.override.yaml` and `#### .env` (each a line of
/// its own, in any order; a section missing means the file is missing).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ComposeInput<'a> {
    pub compose: &'a [u8],
    pub override_file: Option<&'a [u8]>,
    pub env: Option<&'a [u8]>,
}

impl<'a> ComposeInput<'a> {
    pub fn split(data: &'a [u8]) -> ComposeInput<'a> {
        let mut input = ComposeInput::default();
        let mut cuts: Vec<(usize, &str)> = [ENV_MARKER, OVERRIDE_MARKER]
            .into_iter()
            .filter_map(|m| find_line(data, m.as_bytes()).map(|at| (at, m)))
            .collect();
        cuts.sort();
        let first = cuts.first().map_or(data.len(), |c| c.0);
        input.compose = &data[..first];
        for (i, (at, marker)) in cuts.iter().enumerate() {
            let start = at + marker.len();
            let end = cuts.get(i + 1).map_or(data.len(), |c| c.0).max(start);
            let section = &data[start..end];
            if *marker == ENV_MARKER {
                input.env = Some(section);
            } else {
                input.override_file = Some(section);
            }
        }
        input
    }
}

/// The offset of `line` where it starts a line of `data`.
fn find_line(data: &[u8], line: &[u8]) -> Option<usize> {
    (0..data.len().saturating_sub(line.len() - 1))
        .find(|&i| (i == 0 || data[i - 1] == b'\n') && data[i..].starts_with(line))
}

/// Runs `f` in a directory of this thread's own for the files an input is
/// written to: a fixed project name (`fuzzproject`) so runs are repeatable,
/// created once per thread (the fuzzer runs millions of inputs) and removed
/// when the thread ends (a test thread; the fuzzer is killed instead).
fn in_scratch<R>(f: impl FnOnce(&Path) -> R) -> R {
    thread_local! {
        static DIR: (tempfile::TempDir, PathBuf) = {
            let shm = Path::new("/dev/shm");
            let mut builder = tempfile::Builder::new();
            builder.prefix("budgie-fuzz");
            let tmp = if shm.is_dir() {
                builder.tempdir_in(shm)
            } else {
                builder.tempdir()
            }
            .expect("a temporary directory for fuzz inputs");
            let dir = tmp.path().join("fuzzproject");
            std::fs::create_dir(&dir).expect("the fuzz project directory");
            (tmp, dir)
        };
    }
    DIR.with(|(_, dir)| f(dir))
}

/// Writes `data` to `dir/name`, or removes that file when `data` is None.
fn put(dir: &Path, name: &str, data: Option<&[u8]>) {
    let path = dir.join(name);
    match data {
        Some(d) => std::fs::write(&path, d).expect("writing a fuzz input file"),
        None => match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("removing {}: {e}", path.display()),
        },
    }
}

/// An error as budgie would print it: it must say something.
fn check_error(e: &Error, input: &str) {
    assert!(
        !e.message.trim().is_empty(),
        "{input}: an error with an empty message: {e:?}"
    );
}

/// Compose parsing, merging and interpolation: the input's files are
/// written to a project directory and loaded as `budgie` would load them,
/// with an empty process environment. A model is then used the ways the
/// commands use it (database, JSON, redaction of tool output).
pub fn compose(data: &[u8]) {
    let input = ComposeInput::split(data);
    in_scratch(|dir| load_project(dir, &input));
}

fn load_project(dir: &Path, input: &ComposeInput) {
    put(dir, "compose.yaml", Some(input.compose));
    put(dir, "compose.override.yaml", input.override_file);
    put(dir, ".env", input.env);
    let opts = LoadOptions {
        directory: dir.to_path_buf(),
        files: Vec::new(),
        project_name: None,
        env: BTreeMap::new(),
    };
    match compose::load(&opts) {
        Ok(project) => {
            assert!(!project.name.is_empty(), "a project without a name");
            assert!(!project.services.is_empty(), "a project without services");
            if let Err(e) = project.database() {
                check_error(&e, "database()");
            }
            let json = serde_json::to_string(&project).expect("the model as JSON");
            // A secret shows only where a name (printed exactly) holds it.
            let names = project.names();
            for secret in project.secrets() {
                if names.iter().any(|n| n.contains(&secret)) {
                    continue;
                }
                assert!(
                    !project.redact_output(&json).contains(&secret),
                    "redact_output() leaves a secret in the JSON model"
                );
            }
        }
        Err(e) => check_error(&e, "compose::load"),
    }
}

/// Dump-file validation: the bytes are written to a file and checked as
/// `budgie restore` (validate) and `budgie backup verify` (verify) check
/// them. An incomplete file must come with its problems named.
pub fn dump(data: &[u8]) {
    in_scratch(|dir| check_dump(&dir.join("input.dump"), data));
}

fn check_dump(path: &Path, data: &[u8]) {
    std::fs::write(path, data).expect("writing the fuzz dump file");
    match restore::source::validate(path) {
        Ok(source) => assert_eq!(source.bytes, data.len() as u64, "validate: size"),
        Err(e) => check_error(&e, "restore::validate"),
    }
    match verify::verify(path) {
        Ok(report) => {
            assert_eq!(report.bytes, data.len() as u64, "verify: size");
            assert_eq!(
                report.complete,
                report.problems.is_empty(),
                "verify: complete must mean no problems: {report:?}"
            );
            for p in &report.problems {
                assert!(!p.trim().is_empty(), "verify: an empty problem: {report:?}");
            }
        }
        Err(e) => check_error(&e, "verify"),
    }
    let _ = verify::quick_complete(path);
    // A zip or tar holding one dump: unpacked, or refused in words.
    match restore::unwrap::unpack(path, &path.with_file_name("unpacked")) {
        Ok(_) => {}
        Err(e) => check_error(&e, "restore::unwrap"),
    }
}

/// The plain-SQL scanner (`restore::sqlscan`) on the bytes as a file: it
/// never panics, its answer does not depend on where the file is cut into
/// chunks, it passes on nothing it did not read, and a refusal says where.
pub fn sqlscan(data: &[u8]) {
    let whole = scan_plain(data, data.len().max(1));
    let small = scan_plain(data, 7);
    assert_eq!(whole, small, "the scan depends on where the input is cut");
    match whole {
        Ok(out) => assert!(out.len() <= data.len(), "the scan made bytes up"),
        Err(why) => assert!(
            why.contains("line") || why.contains("ends"),
            "a refusal that does not say where: {why}"
        ),
    }
}

/// What psql would read of `data` scanned in chunks of `chunk` bytes, or
/// the refusal.
pub fn scan_plain(data: &[u8], chunk: usize) -> Result<Vec<u8>, String> {
    let mut scanner = restore::sqlscan::Scanner::default();
    let mut out = Vec::new();
    for piece in data.chunks(chunk) {
        scanner.scan(piece, &mut out)?;
    }
    scanner.finish()?;
    Ok(out)
}

/// What `budgie restore` makes of the file at `path`: the format it
/// recognized (`plain`, `gzip`, `zstd`, `custom`), or its refusal.
pub fn validate_dump(path: &Path) -> Result<String, String> {
    restore::source::validate(path)
        .map(|s| {
            serde_json::to_value(s.format)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .map_err(|e| e.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sections_in_any_order() {
        let data = b"services: {}\n#### .env\nA=1\n#### compose.override.yaml\nx: 1\n";
        let input = ComposeInput::split(data);
        assert_eq!(input.compose, b"services: {}\n");
        assert_eq!(input.env, Some(&b"A=1\n"[..]));
        assert_eq!(input.override_file, Some(&b"x: 1\n"[..]));

        let plain = ComposeInput::split(b"services: {}\n");
        assert_eq!(plain.compose, b"services: {}\n");
        assert_eq!(plain.env, None);

        // A marker that does not start a line is content.
        let inline = ComposeInput::split(b"a: 1 #### .env\nb");
        assert_eq!(inline.env, None);
        let first = ComposeInput::split(b"#### .env\nA=1");
        assert_eq!(first.compose, b"");
        assert_eq!(first.env, Some(&b"A=1"[..]));
    }
}
