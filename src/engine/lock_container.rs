//! The engine calls of the project lock that lives on the engine (see
//! `crate::engine_lock`): a container with a fixed name, created and never
//! started. Both engines reserve a container name atomically, so of two
//! budgies creating it at once exactly one succeeds; a volume would not do
//! (`docker volume create` of an existing name succeeds). The container is
//! made from a tiny image of budgie's own (`localhost/budgie-lock:1`, an
//! empty layer imported over the same connection), so it needs no registry
//! and no image of the project.

use std::collections::BTreeMap;

use super::Engine;
use crate::error::{Error, Result};

/// The lock container's image: one empty layer, imported when missing.
pub const LOCK_IMAGE: &str = "localhost/budgie-lock:1";

/// The label that marks a lock container, with the project as its value.
pub const LOCK_LABEL: &str = "io.budgie.lock";

/// What creating the lock container came to.
pub enum Created {
    /// Made: the container's id.
    Made(String),
    /// The name is taken: another budgie holds the lock.
    Taken,
}

impl Engine {
    /// Creates the lock container `name` with `labels`; [`Created::Taken`]
    /// when a container of that name exists. Imports the lock image first
    /// when the engine does not have it.
    pub fn create_lock(&self, name: &str, labels: &[(String, String)]) -> Result<Created> {
        let mut args = vec![
            "create".to_string(),
            "--pull".into(),
            "never".into(),
            "--name".into(),
            name.into(),
            "--network".into(),
            "none".into(),
        ];
        for (k, v) in labels {
            args.push("--label".into());
            args.push(format!("{k}={v}"));
        }
        args.extend(["--entrypoint".into(), "/budgie-lock-never-runs".into()]);
        args.push(LOCK_IMAGE.into());
        let cmd = self.cmd(args);
        for attempt in 0..2 {
            let out = cmd.output()?;
            if out.status.success() {
                let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
                return Ok(Created::Made(id));
            }
            let said = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
            if said.contains("already in use") {
                return Ok(Created::Taken);
            }
            let no_image = [
                "no such image",
                "image not known",
                "not found",
                "unable to find",
            ]
            .iter()
            .any(|k| said.contains(k));
            if attempt == 0 && no_image {
                self.import_lock_image()?;
                continue;
            }
            return Err(cmd.failure(&out));
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// `import - localhost/budgie-lock:1` of an empty tar archive.
    fn import_lock_image(&self) -> Result<()> {
        // An empty archive: its two zero blocks.
        self.cmd(["import", "-", LOCK_IMAGE])
            .read_input(vec![0u8; 1024])
            .map(|_| ())
    }

    /// The lock container `name`: its id and labels; none when there is
    /// none.
    pub fn lock_holder(&self, name: &str) -> Result<Option<(String, BTreeMap<String, String>)>> {
        let cmd = self.cmd([
            "container",
            "inspect",
            "--format",
            "{{.Id}} {{json .Config.Labels}}",
            name,
        ]);
        let out = cmd.output()?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
            if said.contains("no such") {
                return Ok(None);
            }
            return Err(cmd.failure(&out));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let (id, json) = text.trim().split_once(' ').unwrap_or((text.trim(), "{}"));
        let labels: BTreeMap<String, String> = serde_json::from_str(json)
            .map_err(|e| Error::new(format!("the labels of lock container {name}: {e}")))?;
        Ok(Some((id.to_string(), labels)))
    }

    /// Removes the lock container `id` (never by name: a lock broken and
    /// taken by another budgie meanwhile is not ours to remove).
    pub fn remove_lock(&self, id: &str) -> Result<()> {
        self.cmd(["rm", "-f", id]).read().map(|_| ())
    }
}
