//! `budgie backup verify FILE`: is a file a complete dump, or a set
//! complete and intact.

use std::path::Path;

use crate::backup::{set, verify};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::ui::human_bytes;
use serde::Serialize;

/// `backup verify SET.set.json`: every member there, of the recorded size
/// and SHA-256, and each complete by its content.
fn verify_set(ctx: &Context, path: &Path) -> Result<i32> {
    let name = file_name(path);
    let manifest = set::read(path)?;
    let found = set::SetFile {
        path: path.to_path_buf(),
        id: set::set_id(&ctx.project.name, &name).unwrap_or(name),
        manifest,
    };
    let spinner = ctx.ui.spinner(&format!("Checking set {}", found.id));
    let mut problems = set::check(&found);
    let dir = path.parent().unwrap_or(Path::new("."));
    if let Ok(problems) = &mut problems {
        for m in &found.manifest.members {
            let member = dir.join(&m.file);
            match verify::verify(&member) {
                Ok(r) if r.complete => {}
                Ok(r) => problems.push(format!("{}: {}", m.file, r.problems.join("; "))),
                Err(e) if member.exists() => problems.push(format!("{}: {}", m.file, e.message)),
                Err(_) => {}
            }
        }
    }
    spinner.clear();
    let problems = problems?;
    if ctx.global.json {
        #[derive(Serialize)]
        struct Doc<'a> {
            set: &'a str,
            files: usize,
            complete: bool,
            problems: &'a [String],
        }
        crate::commands::print_json(&Doc {
            set: &found.id,
            files: found.manifest.members.len(),
            complete: problems.is_empty(),
            problems: &problems,
        })?;
    }
    if problems.is_empty() {
        ctx.ui.success(&format!(
            "set {}: {}, each complete and as the manifest recorded it",
            found.id,
            crate::ui::count(found.manifest.members.len() as u64, "file", "files")
        ));
        return Ok(0);
    }
    Err(Error::new(format!(
        "set {} is not complete and intact:\n  {}",
        found.id,
        problems.join("\n  ")
    )))
}

pub fn verify_file(ctx: &Context, file: &Path, json: bool) -> Result<i32> {
    let path = ctx.resolve(file);
    if path.to_string_lossy().ends_with(".set.json") {
        return verify_set(ctx, &path);
    }
    let spinner = ctx.ui.spinner(&format!("Checking {}", path.display()));
    // A zip or tar holding one dump: the dump is what is checked.
    let unpacked = crate::restore::unwrap::unpack_for_check(&path)?;
    let unpacked = unpacked.as_ref().map(|(_, u)| u);
    let report = verify::verify(unpacked.map_or(&path, |u| &u.path));
    spinner.clear();
    let report = report?;
    let checksum_ok = !matches!(report.checksum, verify::Checksum::Mismatch { .. });
    // Encrypted: its checksum above; its content once decrypted, with the
    // identity (under the lock: the plaintext is a temporary file).
    let decrypted = match report.format {
        verify::Format::Age if checksum_ok => {
            match crate::storage::crypt::identity_of(ctx.global.identity.as_deref())? {
                Some(id) => {
                    let _lock = crate::recover::lock(ctx, "backup verify")?;
                    let u = crate::restore::unwrap::decrypt(&path, &ctx.backup_dir(), &id)?;
                    let r = verify::verify(&u.path)?;
                    Some(r)
                }
                None => None,
            }
        }
        _ => None,
    };
    let ok = report.complete && checksum_ok && decrypted.as_ref().is_none_or(|r| r.complete);
    if ctx.global.json && json {
        crate::commands::print_json(&report)?;
    } else if !ctx.global.json {
        let ui = &ctx.ui;
        ui.print(&format!("file:     {}", path.display()));
        if let Some(u) = unpacked {
            ui.print(&format!("holds:    {} (the dump checked below)", u.origin));
        }
        ui.print(&format!("format:   {}", report.format.describe()));
        ui.print(&format!("size:     {}", human_bytes(report.bytes)));
        if let Some(u) = report.uncompressed_bytes {
            ui.print(&format!("content:  {}", human_bytes(u)));
        }
        if let Some(h) = &report.header {
            ui.print(&format!("header:   {h}"));
        }
        ui.print(&format!("sha256:   {}", report.sha256));
        ui.print(&format!(
            "checksum: {}",
            match &report.checksum {
                verify::Checksum::Matches => "matches the one recorded at backup time".to_string(),
                verify::Checksum::Mismatch { expected } =>
                    format!("DIFFERS from the recorded {expected}"),
                verify::Checksum::NotRecorded => "none recorded".to_string(),
            }
        ));
        for p in &report.problems {
            ui.warn(p);
        }
        match (&decrypted, report.format) {
            (Some(d), _) => {
                ui.print(&format!("decrypted: {}", d.format.describe()));
                if let Some(h) = &d.header {
                    ui.print(&format!("header:   {h}"));
                }
                for p in &d.problems {
                    ui.warn(p);
                }
            }
            (None, verify::Format::Age) => ui.info(
                "content not checked: it is encrypted (pass --identity FILE or BUDGIE_AGE_IDENTITY to check it)",
            ),
            _ => {}
        }
        if ok && decrypted.is_some() {
            ui.success("complete: this is a complete dump, decrypted with the identity");
        } else if ok && report.format == verify::Format::Age {
            ui.success("intact: the encrypted file is the one budgie wrote (its checksum matches)");
        } else if ok {
            ui.success("complete: this is a complete dump");
        }
    }
    if ok {
        Ok(0)
    } else {
        Err(Error::new(format!(
            "{} is not a complete, intact backup",
            path.display()
        )))
    }
}

/// A path's last component (empty for none).
pub(crate) fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
