//! Whole-stack backup sets: every database dump and volume archive taken
//! together under one stamp, tied by a manifest,
//! `<project>_<stamp>[-N][_<reason>].set.json`.
//!
//! The manifest is written last, atomically, only once every member was
//! written, checked and published: a manifest on disk means a complete set
//! (until someone deletes a member, which [`check`] finds). It lists each
//! member's file name, what it holds (a database of a service, or a volume
//! by key), its size and its SHA-256, so that `restore --set` can check
//! every file before anything is touched.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::{Taken, Target, store};
use crate::error::{Error, Result};
use crate::fsutil::{safe_name_part, write_atomically};

/// The manifest format's version.
pub const SET_VERSION: u32 = 1;

/// A manifest larger than this is not budgie's.
const SET_MAX_BYTES: u64 = 1024 * 1024;

/// One set's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub project: String,
    /// When the set was planned (the stamp in every member's name).
    pub created: DateTime<FixedOffset>,
    /// `pre-clean`, `pre-nuke`...; None for `backup --all`.
    pub reason: Option<String>,
    pub members: Vec<Member>,
}

/// A file of a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Its file name, in the same directory as the manifest.
    pub file: String,
    /// `dump` or `archive`.
    pub kind: String,
    /// A dump: the database's service and the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// An archive: the volume's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// An archive of a host directory: its path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    pub bytes: u64,
    pub sha256: String,
    /// An archive: what its writers did meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writers: Option<String>,
}

impl Member {
    fn of(t: &Taken) -> Member {
        Member {
            file: t
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            kind: if t.volume.is_some() || t.directory.is_some() {
                "archive"
            } else {
                "dump"
            }
            .into(),
            service: t.service.clone(),
            database: t.database.clone(),
            volume: t.volume.clone(),
            directory: t.directory.clone(),
            bytes: t.bytes,
            sha256: t.sha256.clone(),
            writers: t.writers.clone(),
        }
    }
}

/// The name of a set's manifest: `<project>_<stamp>[-N][_<reason>].set.json`.
pub fn set_name(target: &Target, sequence: u32) -> String {
    let dump = store::dump_name(
        &target.project,
        target.at.naive_local(),
        sequence,
        target.reason.as_deref(),
        crate::compose::Compression::None,
    );
    format!("{}.set.json", dump.strip_suffix(".sql").unwrap_or(&dump))
}

/// The set's id as users type it (`restore --set`): the manifest's name
/// without the project and `.set.json` (`20261130_080238_pre-clean`).
pub fn set_id(project: &str, file_name: &str) -> Option<String> {
    let id = file_name
        .strip_suffix(".set.json")?
        .strip_prefix(project)?
        .strip_prefix('_')?;
    // Parses as a dump name would: a stamp, a sequence, a reason.
    store::parse_dump_name(project, &format!("{project}_{id}.sql"))
        .filter(|p| p.service.is_none())
        .map(|_| id.to_string())
}

/// Writes the manifest of the set `taken` (the files a plan just wrote for
/// `target`), never over another file. Returns its path.
pub fn write(target: &Target, taken: &[Taken]) -> Result<PathBuf> {
    let manifest = Manifest {
        version: SET_VERSION,
        project: target.project.clone(),
        created: target.at.fixed_offset(),
        reason: target.reason.clone(),
        members: taken.iter().map(Member::of).collect(),
    };
    let mut json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Error::new(format!("cannot write the set's manifest: {e}")))?;
    json.push(b'\n');
    for seq in 0..1000 {
        let path = target.dir.join(set_name(target, seq));
        if path.exists() {
            continue;
        }
        let prefix = format!(".{}.", safe_name_part(&target.project));
        write_atomically(&path, &json, &prefix, ".set.partial").map_err(|e| {
            Error::new(format!(
                "cannot write the set's manifest {}: {}",
                path.display(),
                crate::fsutil::io_reason(&e)
            ))
        })?;
        return Ok(path);
    }
    Err(Error::new(format!(
        "cannot name the set's manifest in {}: too many sets with the same stamp",
        target.dir.display()
    )))
}

/// Reads a manifest; errors name the file and what is wrong.
pub fn read(path: &Path) -> Result<Manifest> {
    use std::io::Read;
    let fail = |why: String| Error::new(format!("{}: {why}", path.display()));
    let file = std::fs::File::open(path)
        .map_err(|e| fail(format!("cannot read it: {}", crate::fsutil::io_reason(&e))))?;
    let mut data = Vec::new();
    file.take(SET_MAX_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| fail(format!("cannot read it: {}", crate::fsutil::io_reason(&e))))?;
    if data.len() as u64 > SET_MAX_BYTES {
        return Err(fail("larger than any manifest budgie writes".into()));
    }
    let m: Manifest = serde_json::from_slice(&data).map_err(|e| {
        fail(format!(
            "not a budgie set manifest (line {}, column {}: {e})",
            e.line(),
            e.column()
        ))
    })?;
    if m.version != SET_VERSION {
        return Err(fail(format!(
            "a set manifest of version {}, this budgie reads version {SET_VERSION}",
            m.version
        )));
    }
    for member in &m.members {
        // Members live beside the manifest: a path is not a member.
        if member.file.is_empty()
            || member.file.contains('/')
            || member.file.starts_with('.')
            || member.file.contains('\0')
        {
            return Err(fail(format!("member {:?} is not a file name", member.file)));
        }
    }
    Ok(m)
}

/// A set found in the backup directory.
#[derive(Debug, Clone)]
pub struct SetFile {
    pub path: PathBuf,
    /// See [`set_id`].
    pub id: String,
    pub manifest: Manifest,
}

/// The project's sets in `dir`, newest first; unreadable manifests are
/// left out.
pub fn list_sets(dir: &Path, project: &str) -> Result<Vec<SetFile>> {
    let mut out = Vec::new();
    for entry in store::backup_dir_entries(dir)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = set_id(project, &name) else {
            continue;
        };
        if let Ok(manifest) = read(&entry.path()) {
            out.push(SetFile {
                path: entry.path(),
                id,
                manifest,
            });
        }
    }
    out.sort_by(|a, b| (b.manifest.created, &b.id).cmp(&(a.manifest.created, &a.id)));
    Ok(out)
}

/// The set `which` names: a path to a manifest, `latest`, or an id
/// (`20261130_080238`, `20261130_080238_pre-clean`) — an id without its
/// reason matches when only one set has that stamp.
pub fn find(dir: &Path, project: &str, which: &str) -> Result<SetFile> {
    if which.ends_with(".set.json") && Path::new(which).is_file() {
        let path = PathBuf::from(which);
        let manifest = read(&path)?;
        let id = path
            .file_name()
            .and_then(|n| set_id(&manifest.project, &n.to_string_lossy()))
            .unwrap_or_else(|| which.to_string());
        return Ok(SetFile { path, id, manifest });
    }
    let sets = list_sets(dir, project)?;
    let hint = || {
        let ids: Vec<&str> = sets.iter().take(5).map(|s| s.id.as_str()).collect();
        if ids.is_empty() {
            "take one with: budgie backup --all".to_string()
        } else {
            format!("sets here (newest first): {}", ids.join(", "))
        }
    };
    if which == "latest" {
        return sets.first().cloned().ok_or_else(|| {
            Error::new(format!(
                "no backup set of project {project} in {}",
                dir.display()
            ))
            .hint(hint())
        });
    }
    if let Some(s) = sets.iter().find(|s| s.id == which) {
        return Ok(s.clone());
    }
    let prefixed: Vec<&SetFile> = sets
        .iter()
        .filter(|s| s.id.starts_with(&format!("{which}_")))
        .collect();
    match prefixed.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::usage(format!(
            "no backup set {which} of project {project} in {}",
            dir.display()
        ))
        .hint(hint())),
        more => Err(Error::usage(format!(
            "{which} names {} sets: {}",
            more.len(),
            more.iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Checks that every member of `set` is there, of the recorded size and
/// SHA-256 (reads each file once). The problems, one sentence each.
pub fn check(set: &SetFile) -> Result<Vec<String>> {
    use sha2::{Digest, Sha256};
    let dir = set.path.parent().unwrap_or(Path::new("."));
    let mut problems = Vec::new();
    for m in &set.manifest.members {
        let path = dir.join(&m.file);
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!(
                    "{} is missing or unreadable: {}",
                    m.file,
                    crate::fsutil::io_reason(&e)
                ));
                continue;
            }
        };
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            use std::io::Read;
            let n = file.read(&mut buf).map_err(|e| {
                Error::new(format!(
                    "cannot read {}: {}",
                    path.display(),
                    crate::fsutil::io_reason(&e)
                ))
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            bytes += n as u64;
        }
        let sha = crate::fsutil::hex(&hasher.finalize());
        if bytes != m.bytes || !sha.eq_ignore_ascii_case(&m.sha256) {
            problems.push(format!(
                "{} is not the file the set recorded ({} bytes, sha256 {}; the manifest says {} bytes, sha256 {})",
                m.file, bytes, sha, m.bytes, m.sha256
            ));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(dir: &Path, reason: Option<&str>) -> Target {
        Target {
            dir: dir.to_path_buf(),
            project: "shop".into(),
            at: chrono::Local::now(),
            reason: reason.map(str::to_string),
            encrypt: Vec::new(),
        }
    }

    fn taken(dir: &Path, name: &str, body: &[u8], volume: Option<&str>) -> Taken {
        use sha2::{Digest, Sha256};
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        Taken {
            path,
            bytes: body.len() as u64,
            sha256: crate::fsutil::hex(&Sha256::digest(body)),
            seconds: 0.1,
            database: volume.is_none().then(|| "appdb".to_string()),
            service: volume.is_none().then(|| "db".to_string()),
            volume: volume.map(str::to_string),
            directory: None,
            writers: volume.map(|_| "app paused".to_string()),
        }
    }

    #[test]
    fn a_written_set_is_found_by_its_id_and_checks_out() {
        let dir = tempfile::tempdir().unwrap();
        let t = target(dir.path(), Some("pre-clean"));
        let members = vec![
            taken(dir.path(), "a.db.sql", b"dump", None),
            taken(dir.path(), "a.uploads.tar.zst", b"tar", Some("uploads")),
        ];
        let path = write(&t, &members).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.ends_with("_pre-clean.set.json"), "{name}");
        let id = set_id("shop", &name).unwrap();
        // A second set of the same stamp gets its own name.
        let again = write(&t, &members).unwrap();
        assert_ne!(again, path);

        let found = find(dir.path(), "shop", &id).unwrap();
        assert_eq!(found.manifest.members.len(), 2);
        assert_eq!(found.manifest.members[1].volume.as_deref(), Some("uploads"));
        assert_eq!(
            found.manifest.members[1].writers.as_deref(),
            Some("app paused")
        );
        assert!(check(&found).unwrap().is_empty());
        // The stamp alone names the set of that stamp and reason (the
        // second one is `-1`); with two reasons at one stamp it asks which.
        let stamp = id.split('_').take(2).collect::<Vec<_>>().join("_");
        assert_eq!(find(dir.path(), "shop", &stamp).unwrap().path, path);
        let other = Target {
            reason: Some("pre-nuke".into()),
            ..t.clone()
        };
        write(&other, &members).unwrap();
        let e = find(dir.path(), "shop", &stamp).unwrap_err();
        assert!(e.message.contains("names 2 sets"), "{}", e.message);
        assert!(find(dir.path(), "shop", "latest").is_ok());
        assert!(find(dir.path(), "shop", path.to_str().unwrap()).is_ok());

        // A member changed or gone: said, by name.
        std::fs::write(dir.path().join("a.db.sql"), b"dumq").unwrap();
        std::fs::remove_file(dir.path().join("a.uploads.tar.zst")).unwrap();
        let problems = check(&found).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("a.db.sql is not the file the set recorded"));
        assert!(problems[1].starts_with("a.uploads.tar.zst is missing"));
    }

    #[test]
    fn hostile_or_foreign_manifests_are_refused_with_the_file_and_place() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("shop_20261130_080238.set.json");
        std::fs::write(&p, "{\"version\": 1,\n \"project\": 3}").unwrap();
        let e = read(&p).unwrap_err();
        assert!(e.message.contains("line 2, column"), "{}", e.message);
        let t = target(dir.path(), None);
        let mut m = serde_json::to_value(Manifest {
            version: SET_VERSION,
            project: "shop".into(),
            created: t.at.fixed_offset(),
            reason: None,
            members: vec![Member::of(&taken(dir.path(), "x.sql", b"x", None))],
        })
        .unwrap();
        m["members"][0]["file"] = "../../etc/passwd".into();
        std::fs::write(&p, m.to_string()).unwrap();
        let e = read(&p).unwrap_err();
        assert!(e.message.contains("is not a file name"), "{}", e.message);
        m["version"] = 9.into();
        std::fs::write(&p, m.to_string()).unwrap();
        assert!(read(&p).unwrap_err().message.contains("version 9"));
        let e = find(dir.path(), "shop", "20200101_000000").unwrap_err();
        assert!(
            e.message.contains("no backup set 20200101_000000"),
            "{}",
            e.message
        );
    }
}
