//! Archives written by a real pg_dump 15 (Debian 12) of a small database:
//! a table of 300 rows with a comment and a primary key, a table named
//! `Mixed Case`, an empty table, a table in schema `s2`, a large object.
//! `small-pipe.dump` went through a pipe (no offsets, as budgie's
//! backups), `small-seek.dump` to a file (offsets set), `small-z0.dump`
//! uncompressed, `small-schema.dump` with `--schema-only`;
//! `small-dir-toc.dat` is the `toc.dat` of `-Fd`.

use super::*;
use crate::backup::testdata::{members_of, tar_of};

const PIPE: &[u8] = include_bytes!("../../../tests/data/pgdump/small-pipe.dump");
const SEEK: &[u8] = include_bytes!("../../../tests/data/pgdump/small-seek.dump");
const Z0: &[u8] = include_bytes!("../../../tests/data/pgdump/small-z0.dump");
const SCHEMA: &[u8] = include_bytes!("../../../tests/data/pgdump/small-schema.dump");
const DIR_TOC: &[u8] = include_bytes!("../../../tests/data/pgdump/small-dir-toc.dat");

fn check(bytes: &[u8]) -> Result<Toc, Problem> {
    check_custom(bytes).unwrap()
}

#[test]
fn whole_archives_are_complete_and_list_what_they_hold() {
    for bytes in [PIPE, SEEK, Z0] {
        let toc = check(bytes).unwrap();
        assert_eq!(toc.header.version, (1, 14, 0));
        assert_eq!(toc.header.layout, Layout::Custom);
        assert_eq!(toc.header.database.as_deref(), Some("small"));
        assert!(toc.header.dumped_by.as_deref().unwrap().starts_with("15."));
        assert!(
            toc.header
                .server_version
                .as_deref()
                .unwrap()
                .starts_with("15.")
        );
        assert_eq!(
            toc.tables(),
            [
                "public.\"Mixed Case\"",
                "public.empty_one",
                "public.items",
                "s2.other"
            ]
        );
        // What `pg_restore -l` lists: 13 entries.
        assert_eq!(toc.items(), 13);
        let with_data = toc.entries.iter().filter(|e| e.data == Data::Block).count();
        assert_eq!(with_data, 5, "4 tables' data and the large objects");
    }
    let schema = check(SCHEMA).unwrap();
    assert!(schema.entries.iter().all(|e| e.data == Data::None));
}

#[test]
fn every_cut_is_found_and_said_where() {
    for bytes in [PIPE, Z0, SCHEMA] {
        for len in 0..bytes.len() {
            let got = check(&bytes[..len]);
            let Err(Problem(msg)) = got else {
                panic!("cut at {len} of {} passed", bytes.len());
            };
            assert!(msg.contains("cut off at byte"), "{len}: {msg}");
        }
    }
}

#[test]
fn anything_after_the_last_block_or_a_block_twice_is_damage() {
    let mut longer = PIPE.to_vec();
    longer.push(1);
    let Err(Problem(msg)) = check(&longer) else {
        panic!("a trailing byte passed");
    };
    assert!(msg.contains("cut off"), "{msg}");
    let mut junk = PIPE.to_vec();
    junk.extend_from_slice(&[9, 0, 1, 0, 0, 0]);
    let Err(Problem(msg)) = check(&junk) else {
        panic!("junk passed");
    };
    assert!(msg.contains("damaged"), "{msg}");
}

#[test]
fn flipped_bytes_never_panic_and_rarely_pass() {
    let mut passed = 0;
    for i in 0..PIPE.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut b = PIPE.to_vec();
            b[i] ^= x;
            if check(&b).is_ok() {
                passed += 1;
            }
        }
    }
    // Flips inside compressed data or a string's text are not structure:
    // those pass, and pg_restore is the test of the bytes themselves.
    assert!(passed < PIPE.len() * 3, "{passed}");
}

#[test]
fn a_directory_toc_names_its_data_files() {
    let toc = read_toc(DIR_TOC).unwrap().unwrap();
    assert_eq!(toc.header.layout, Layout::Files);
    let files: Vec<&str> = toc
        .entries
        .iter()
        .filter_map(|e| match &e.data {
            Data::File(f) => Some(f.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(files.len(), 5, "{files:?}");
    assert!(files.contains(&"blobs.toc"), "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.ends_with(".dat") || *f == "blobs.toc")
    );
    assert_eq!(toc.tables().len(), 4);
    // check_custom is for custom archives only.
    assert!(check(DIR_TOC).is_err());
}

#[test]
fn versions_outside_the_known_range_give_the_header_only() {
    let mut newer = PIPE.to_vec();
    newer[6] = 17;
    let toc = check(&newer).unwrap();
    assert_eq!(toc.header.version, (1, 17, 0));
    assert!(toc.entries.is_empty());
    assert!(!toc.header.toc_known());
}

#[test]
fn hostile_sizes_are_refused_without_allocating() {
    // A header claiming 2^31 entries, then nothing.
    let mut b = PIPE[..11].to_vec();
    b.extend_from_slice(&[0, 0, 0, 0, 0]); // compression
    for _ in 0..7 {
        b.extend_from_slice(&[0, 0, 0, 0, 0]);
    }
    for _ in 0..3 {
        b.extend_from_slice(&[1, 1, 0, 0, 0]); // NULL strings
    }
    let mut many = b.clone();
    many.extend_from_slice(&[0, 0, 0, 0, 0x7f]);
    let Err(Problem(msg)) = check(&many) else {
        panic!("passed")
    };
    assert!(msg.contains("claims"), "{msg}");
    let mut one = b.clone();
    one.extend_from_slice(&[0, 1, 0, 0, 0]); // one entry
    one.extend_from_slice(&[0, 1, 0, 0, 0]); // id 1
    one.extend_from_slice(&[0, 0, 0, 0, 0]); // no dumper
    one.extend_from_slice(&[0, 0, 0, 0, 0x7f]); // a 2 GiB string
    let Err(Problem(msg)) = check(&one) else {
        panic!("passed")
    };
    assert!(msg.contains("claims"), "{msg}");
}

#[test]
fn names_are_quoted_as_pg_restore_shows_them() {
    assert_eq!(quote("items"), "items");
    assert_eq!(quote("_x1"), "_x1");
    assert_eq!(quote("Mixed Case"), "\"Mixed Case\"");
    assert_eq!(quote("1abc"), "\"1abc\"");
    assert_eq!(quote("a\"b"), "\"a\"\"b\"");
}

const DIR_TAR: &[u8] = include_bytes!("../../../tests/data/pgdump/small-dir.tar");

#[test]
fn a_directory_archive_in_a_tar_is_checked_member_by_member() {
    let (toc, top) = check_directory_tar(DIR_TAR).unwrap();
    assert_eq!(top, "small-dir");
    assert_eq!(toc.tables().len(), 4);

    // Each data file missing in turn.
    let members = members_of(DIR_TAR);
    assert_eq!(
        members.len(),
        7,
        "{:?}",
        members.iter().map(|m| &m.0).collect::<Vec<_>>()
    );
    for skip in 0..members.len() {
        let kept: Vec<(&str, &[u8])> = members
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, (n, d))| (n.as_str(), d.as_slice()))
            .collect();
        let got = check_directory_tar(&tar_of(&kept)[..]);
        let Err(Problem(msg)) = got else {
            panic!("{} missing passed", members[skip].0);
        };
        assert!(
            msg.contains("missing") || msg.contains("no toc.dat"),
            "{}: {msg}",
            members[skip].0
        );
    }
    // Cut anywhere before the end-of-archive blocks: never a pass. (What
    // follows them is record padding, zeros.)
    let end = (0..=DIR_TAR.len() / 512)
        .map(|b| b * 512)
        .find(|&len| check_directory_tar(&DIR_TAR[..len]).is_ok())
        .unwrap();
    assert!(DIR_TAR[end..].iter().all(|&b| b == 0));
    assert!(DIR_TAR[end - 1024..end].iter().all(|&b| b == 0));
    for len in (0..end).step_by(37) {
        assert!(
            check_directory_tar(&DIR_TAR[..len]).is_err(),
            "cut at {len}"
        );
    }
    // Two top directories; a member at the top.
    let all: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let mut two = all.clone();
    two.push(("other/x", b"x"));
    assert!(
        check_directory_tar(&tar_of(&two)[..])
            .unwrap_err()
            .0
            .contains("more than one")
    );
    let mut loose = all.clone();
    loose.insert(0, ("loose.sql", b"x"));
    assert!(check_directory_tar(&tar_of(&loose)[..]).is_err());
}
