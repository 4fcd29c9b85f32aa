use std::io::Write;

use super::*;
use crate::backup::testdata::{gzip, members_of, tar_of};

const DUMP: &[u8] = b"--\n-- PostgreSQL database dump\n--\nSELECT 1;\n--\n-- PostgreSQL database dump complete\n--\n";
const DIR_TAR: &[u8] = include_bytes!("../../../tests/data/pgdump/small-dir.tar");

fn zip_of(members: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Writes `bytes` as `name` in a new directory and unpacks it into a
/// backups directory beside it.
fn unpacked(name: &str, bytes: &[u8]) -> (tempfile::TempDir, Result<Option<Unpacked>>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, bytes).unwrap();
    let got = unpack(&file, &dir.path().join("backups"));
    (dir, got)
}

#[test]
fn a_zip_or_tar_with_one_dump_gives_that_dump() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "a.zip",
            zip_of(&[("x/dump.sql", DUMP)], zip::CompressionMethod::Deflated),
        ),
        (
            "b.zip",
            zip_of(&[("dump.sql", DUMP)], zip::CompressionMethod::Stored),
        ),
        (
            "c.zip",
            zip_of(
                &[
                    ("__MACOSX/._dump.sql", b"junk"),
                    ("dump.sql", DUMP),
                    ("._dump.sql", b"j"),
                ],
                zip::CompressionMethod::Deflated,
            ),
        ),
        ("d.tar", tar_of(&[("dump.sql", DUMP)])),
        ("e.tar.gz", gzip(&tar_of(&[("dir/dump.sql", DUMP)]))),
    ];
    for (name, bytes) in cases {
        let (dir, got) = unpacked(name, &bytes);
        let u = got
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: not unpacked"));
        assert_eq!(std::fs::read(&u.path).unwrap(), DUMP, "{name}");
        assert!(u.origin.ends_with(&format!("in {name}")), "{}", u.origin);
        let temp_name = u.path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            temp_name.starts_with(PREFIX) && temp_name.ends_with(".dump.sql.partial"),
            "{temp_name}"
        );
        assert!(crate::journal::is_leftover_temp("any", &temp_name));
        let path = u.path.clone();
        drop(u);
        assert!(!path.exists(), "{name}: the copy stays");
        drop(dir);
    }
}

#[test]
fn a_directory_dump_in_a_zip_or_compressed_tar_becomes_a_tar() {
    // The fixture's members, zipped.
    let members = members_of(DIR_TAR);
    let as_refs: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    for (name, bytes) in [
        (
            "dir.zip",
            zip_of(&as_refs, zip::CompressionMethod::Deflated),
        ),
        ("dir.tgz", gzip(DIR_TAR)),
    ] {
        let (_dir, got) = unpacked(name, &bytes);
        let u = got.unwrap().unwrap();
        let (toc, top) =
            crate::backup::pgarchive::check_directory_tar(File::open(&u.path).unwrap()).unwrap();
        assert_eq!(top, "small-dir");
        assert_eq!(toc.tables().len(), 4, "{name}");
    }
    // Uncompressed, it is read as it is.
    let (_dir, got) = unpacked("dir.tar", DIR_TAR);
    assert!(got.unwrap().is_none());
}

#[test]
fn several_files_or_none_are_refused_naming_them() {
    let two = zip_of(
        &[("a.sql", DUMP), ("b.sql", DUMP)],
        zip::CompressionMethod::Stored,
    );
    let (_d, got) = unpacked("two.zip", &two);
    let e = got.err().unwrap();
    assert!(e.message.contains("holds 2 files (a.sql, b.sql)"), "{e}");
    assert!(e.message.contains("nothing was changed"), "{e}");
    let (_d, got) = unpacked(
        "two.tgz",
        &gzip(&tar_of(&[("a.sql", DUMP), ("b.dump", DUMP)])),
    );
    assert!(
        got.err()
            .unwrap()
            .message
            .contains("holds 2 files (a.sql, b.dump)")
    );
    let (_d, got) = unpacked(
        "none.zip",
        &zip_of(&[("._x", b"junk")], zip::CompressionMethod::Stored),
    );
    assert!(got.err().unwrap().message.contains("holds no file"));
    let (_d, got) = unpacked("bad.zip", b"PK\x03\x04 not really a zip");
    assert!(got.err().unwrap().message.contains("as a zip"));
}

#[test]
fn dumps_and_other_files_are_left_to_the_checks() {
    for (name, bytes) in [
        ("p.sql", DUMP.to_vec()),
        ("p.sql.gz", gzip(DUMP)),
        ("random", vec![7u8; 3000]),
        ("empty", Vec::new()),
        // A volume archive: files that are not dumps.
        (
            "volume.tar.zst",
            crate::backup::testdata::zstd_of(&tar_of(&[
                ("etc/app.conf", b"x=1"),
                ("data/blob", b"y"),
            ])),
        ),
        ("one-file.tar", tar_of(&[("notes.txt", b"hello")])),
    ] {
        let (_d, got) = unpacked(name, &bytes);
        assert!(got.unwrap().is_none(), "{name}");
    }
}
