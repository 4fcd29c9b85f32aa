//! The fuzz corpus, replayed without the fuzzer: every file under
//! `fuzz/corpus/<target>/` goes through the same function the fuzz target
//! runs (`budgie::fuzzing`), so CI checks that none of them panics —
//! including the inputs that once did, kept there as regressions.

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `harness` on every file of the target's corpus; fails naming each
/// file that panicked.
fn replay(target: &str, harness: fn(&[u8])) {
    let files = corpus(target);
    assert!(
        files.len() >= 10,
        "fuzz/corpus/{target} has only {} files",
        files.len()
    );
    let failed: Vec<String> = files
        .iter()
        .filter(|f| {
            let data = std::fs::read(f).unwrap();
            std::panic::catch_unwind(|| harness(&data)).is_err()
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(failed.is_empty(), "these corpus files panic: {failed:#?}");
}

#[test]
fn compose_corpus_gets_a_model_or_a_clear_error() {
    replay("compose", budgie::fuzzing::compose);
}

#[test]
fn dump_corpus_gets_validated_or_a_clear_error() {
    replay("dump", budgie::fuzzing::dump);
}

/// The dump seeds are real: pg_dump 15's own files validate, and their
/// cut or foreign relatives are refused with a reason.
#[test]
fn real_dumps_in_the_corpus_validate_and_broken_ones_are_refused() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/dump");
    for (name, format) in [
        ("plain.sql", "plain"),
        ("schema-only.sql", "plain"),
        ("plain.sql.gz", "gzip"),
        ("multi-member.sql.gz", "gzip"),
        ("plain.sql.zst", "zstd"),
        ("custom.dump", "custom"),
        ("custom-uncompressed.dump", "custom"),
    ] {
        let found = budgie::fuzzing::validate_dump(&dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(found, format, "{name}");
    }
    for name in [
        "empty",
        "text.txt",
        "truncated.sql",
        "truncated.sql.gz",
        "truncated.sql.zst",
        "custom-header-only.dump",
        "volume.tar.zst",
    ] {
        let e = budgie::fuzzing::validate_dump(&dir.join(name))
            .err()
            .unwrap_or_else(|| panic!("{name} validated"));
        assert!(e.contains(name), "{name}: {e}");
    }
}

/// The sqlscan seeds whose names start with `prefix`; at least `least`.
fn seeds(prefix: &str, least: usize) -> Vec<PathBuf> {
    let found: Vec<PathBuf> = corpus("sqlscan")
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    assert!(found.len() >= least, "too few {prefix} seeds: {found:?}");
    found
}

#[test]
fn sqlscan_corpus_gets_a_scan_or_a_refusal_that_says_where() {
    replay("sqlscan", budgie::fuzzing::sqlscan);
}

/// The seeds that pg_dump itself wrote (`pgdump-*`: real dumps of tricky
/// data by the test image's pg_dump, and of the test stack) are never
/// refused: the scan has no false alarm on pg_dump's own output.
#[test]
fn pg_dump_output_in_the_corpus_is_never_refused() {
    for seed in seeds("pgdump-", 3) {
        let data = std::fs::read(&seed).unwrap();
        let out = budgie::fuzzing::scan_plain(&data, 4096)
            .unwrap_or_else(|why| panic!("{} refused: {why}", seed.display()));
        assert!(!out.is_empty());
    }
}

/// The hostile seeds (`hostile-*`: pg_dump output with one construct
/// added that would reach outside the scratch database) are all refused.
#[test]
fn hostile_seeds_in_the_corpus_are_refused() {
    for seed in seeds("hostile-", 8) {
        let data = std::fs::read(&seed).unwrap();
        let refused = budgie::fuzzing::scan_plain(&data, 4096);
        assert!(refused.is_err(), "{} passed the scan", seed.display());
    }
}
