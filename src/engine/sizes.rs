//! How big a volume is: measured on disk from its mountpoint, or, where
//! its files cannot be read (rootless podman's belong to sub-uids), as the
//! engine's `system df -v` reports it, in the engines' own formats and units.

use std::collections::BTreeMap;
use std::path::Path;

/// Reads volume sizes from `system df -v --format '{{json .}}'`: docker
/// prints one JSON object with a `Volumes` array; podman prints an object
/// with `Volumes` too (sizes as numbers or as "1.2MB" strings).
pub fn parse_df_volumes(text: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        for vol in v["Volumes"].as_array().into_iter().flatten() {
            let name = vol["Name"]
                .as_str()
                .or_else(|| vol["VolumeName"].as_str())
                .unwrap_or_default();
            let size = vol["UsageData"]["Size"]
                .as_u64()
                .or_else(|| vol["Size"].as_u64())
                .or_else(|| vol["Size"].as_str().and_then(parse_human_size));
            if let (false, Some(size)) = (name.is_empty(), size) {
                out.insert(name.to_string(), size);
            }
        }
    }
    out
}

/// Reads the "Local Volumes space usage" table of podman's `system df -v`
/// (podman 4 ignores `--format` there): `NAME  LINKS  SIZE`.
pub fn parse_df_table(text: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut in_volumes = false;
    for line in text.lines() {
        if line.starts_with("Local Volumes") {
            in_volumes = true;
            continue;
        }
        if !in_volumes || line.starts_with("VOLUME NAME") {
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if line.ends_with(':') {
            break;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        if let [name, _links, size] = cols.as_slice()
            && let Some(n) = parse_human_size(size)
        {
            out.insert((*name).to_string(), n);
        }
    }
    out
}

/// Parses sizes as the engines print them: `1.5kB`, `12MB`, `3.2GiB`, `0B`.
pub fn parse_human_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0f64.powi(4),
        _ => return None,
    };
    Some((n * mult).round() as u64)
}

/// The size of a directory tree in bytes, or None when it cannot be read
/// (rootless podman's volumes belong to sub-uids). Hard links count once.
pub fn dir_size(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0u64;
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()? {
            let entry = entry.ok()?;
            let meta = entry.path().symlink_metadata().ok()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.nlink() <= 1 || seen.insert((meta.dev(), meta.ino())) {
                total += meta.len();
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_engine_sizes() {
        assert_eq!(parse_human_size("0B"), Some(0));
        assert_eq!(parse_human_size("1.5kB"), Some(1500));
        assert_eq!(parse_human_size("41.2MB"), Some(41_200_000));
        assert_eq!(parse_human_size("2GiB"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_human_size("lots"), None);
        let docker = r#"{"Images":[],"Containers":[],"Volumes":[{"Name":"p_pgdata","UsageData":{"Size":123,"RefCount":1}}]}"#;
        assert_eq!(parse_df_volumes(docker).get("p_pgdata"), Some(&123));
        let docker_str = r#"{"Volumes":[{"Name":"p_x","Size":"1.5kB"}]}"#;
        assert_eq!(parse_df_volumes(docker_str).get("p_x"), Some(&1500));
        let podman = "Images space usage:\n\nREPOSITORY TAG\n\nLocal Volumes space usage:\n\nVOLUME NAME  LINKS       SIZE\npt1_pgdata   1           47.25MB\n";
        assert_eq!(parse_df_table(podman).get("pt1_pgdata"), Some(&47_250_000));
    }
}
