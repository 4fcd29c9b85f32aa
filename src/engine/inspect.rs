//! What the engines say of containers and volumes (`container inspect`,
//! `volume inspect`), read into what budgie needs of them, and the compose
//! labels that tell which project and service each belongs to.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};

pub const PROJECT_LABEL: &str = "com.docker.compose.project";
pub const SERVICE_LABEL: &str = "com.docker.compose.service";
pub const NUMBER_LABEL: &str = "com.docker.compose.container-number";

/// What budgie needs to know of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u32,
    pub image: String,
    /// `running`, `exited`, `created`...
    pub state: String,
    pub running: bool,
    /// `healthy`, `unhealthy`, `starting`, or None without a healthcheck.
    pub health: Option<String>,
    pub started_at: Option<String>,
    /// The exit code of its last run (meaningful once it has exited).
    pub exit_code: Option<i64>,
    /// What its last healthcheck printed, if anything.
    pub health_output: Option<String>,
}

/// Parses `container inspect` JSON (podman's and docker's agree on these fields).
pub fn parse_containers(json: &str) -> Result<Vec<Container>> {
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::new(format!("could not read the engine's container list: {e}")))?;
    let mut out = Vec::new();
    for c in v.as_array().into_iter().flatten() {
        let labels = &c["Config"]["Labels"];
        let label = |k: &str| labels[k].as_str().unwrap_or_default().to_string();
        let state = &c["State"];
        let health = state["Health"]["Status"]
            .as_str()
            .or_else(|| state["Healthcheck"]["Status"].as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let health_log = state["Health"]["Log"]
            .as_array()
            .or_else(|| state["Healthcheck"]["Log"].as_array())
            .and_then(|l| l.last());
        out.push(Container {
            id: c["Id"].as_str().unwrap_or_default().to_string(),
            name: c["Name"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            service: label(SERVICE_LABEL),
            number: label(NUMBER_LABEL).parse().unwrap_or(1),
            image: c["Config"]["Image"]
                .as_str()
                .or_else(|| c["ImageName"].as_str())
                .unwrap_or_default()
                .to_string(),
            state: state["Status"].as_str().unwrap_or("unknown").to_string(),
            running: state["Running"].as_bool().unwrap_or(false),
            health,
            started_at: state["StartedAt"].as_str().map(str::to_string),
            exit_code: state["ExitCode"].as_i64(),
            health_output: health_log
                .and_then(|l| l["Output"].as_str())
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty()),
        });
    }
    out.sort_by(|a, b| a.service.cmp(&b.service).then(a.number.cmp(&b.number)));
    Ok(out)
}

/// Parses podman's `ps -a --format json`: everything `container inspect`
/// gives budgie but the last healthcheck's output, in one engine call. The
/// health is the status line's last word in parentheses (`Up 2 minutes
/// ago (healthy)`); `started_at` is the start time in seconds.
pub fn parse_podman_ps(json: &str) -> Result<Vec<Container>> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::new(format!("could not read the engine's container list: {e}")))?;
    let mut out = Vec::new();
    for c in v.as_array().into_iter().flatten() {
        let label = |k: &str| c["Labels"][k].as_str().unwrap_or_default().to_string();
        let state = c["State"].as_str().unwrap_or("unknown").to_string();
        let health = c["Status"]
            .as_str()
            .and_then(|s| s.trim_end().strip_suffix(')'))
            .and_then(|s| s.rsplit_once('('))
            .map(|(_, h)| h)
            .filter(|h| matches!(*h, "healthy" | "unhealthy" | "starting"))
            .map(str::to_string);
        out.push(Container {
            id: c["Id"].as_str().unwrap_or_default().to_string(),
            name: c["Names"][0].as_str().unwrap_or_default().to_string(),
            service: label(SERVICE_LABEL),
            number: label(NUMBER_LABEL).parse().unwrap_or(1),
            image: c["Image"].as_str().unwrap_or_default().to_string(),
            running: state == "running",
            state,
            health,
            started_at: c["StartedAt"].as_i64().map(|t| t.to_string()),
            exit_code: c["ExitCode"].as_i64(),
            health_output: None,
        });
    }
    out.sort_by(|a, b| a.service.cmp(&b.service).then(a.number.cmp(&b.number)));
    Ok(out)
}

/// What budgie needs to know of an existing volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeInfo {
    pub name: String,
    pub mountpoint: Option<String>,
    pub labels: BTreeMap<String, String>,
}

impl VolumeInfo {
    /// The compose project that created it, if any.
    pub fn project(&self) -> Option<&str> {
        self.labels.get(PROJECT_LABEL).map(String::as_str)
    }
}

/// Parses `volume inspect` JSON (and podman's `volume ls --format json`,
/// which is the same); no output at all is no volume.
pub fn parse_volumes(json: &str) -> Result<Vec<VolumeInfo>> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::new(format!("could not read the engine's volume list: {e}")))?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .map(|vol| VolumeInfo {
            name: vol["Name"].as_str().unwrap_or_default().to_string(),
            mountpoint: vol["Mountpoint"].as_str().map(str::to_string),
            labels: vol["Labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_container_inspect() {
        let json = r#"[{"Id":"abc","Name":"/p-db-1","Config":{"Image":"pg","Labels":{"com.docker.compose.service":"db","com.docker.compose.container-number":"1"}},"State":{"Status":"running","Running":true,"Health":{"Status":"healthy"},"StartedAt":"2026-01-01T00:00:00Z"}}]"#;
        let c = parse_containers(json).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].name, "p-db-1");
        assert_eq!(c[0].service, "db");
        assert!(c[0].running);
        assert_eq!(c[0].health.as_deref(), Some("healthy"));
        assert!(parse_containers("not json").is_err());
    }

    #[test]
    fn reads_podman_ps_with_the_health_in_the_status() {
        let json = r#"[{"Id":"a1","Names":["p_db_1"],"Image":"localhost/pg:15","State":"running","Status":"Up 3 minutes ago (healthy)","ExitCode":0,"StartedAt":1796018399,"Labels":{"com.docker.compose.service":"db","com.docker.compose.container-number":"1"}},
            {"Id":"b2","Names":["p_app_1"],"Image":"busybox","State":"exited","Status":"Exited (3) 2 seconds ago","ExitCode":3,"Labels":{"com.docker.compose.service":"app"}},
            {"Id":"c3","Names":["p_web_1"],"Image":"w","State":"running","Status":"Up 1 second ago (starting)","Labels":{"com.docker.compose.service":"web"}}]"#;
        let c = parse_podman_ps(json).unwrap();
        let by = |s: &str| c.iter().find(|c| c.service == s).unwrap();
        assert_eq!(by("db").name, "p_db_1");
        assert!(by("db").running);
        assert_eq!(by("db").health.as_deref(), Some("healthy"));
        assert_eq!(by("db").started_at.as_deref(), Some("1796018399"));
        assert_eq!(
            by("app").health,
            None,
            "an exit code in parentheses is no health"
        );
        assert_eq!(by("app").exit_code, Some(3));
        assert!(!by("app").running);
        assert_eq!(by("web").health.as_deref(), Some("starting"));
        assert!(parse_podman_ps("{").is_err());
    }

    #[test]
    fn reads_exit_codes_and_the_last_healthcheck_output() {
        let json = r#"[{"Id":"a","Name":"p_app_1","Config":{"Labels":{"com.docker.compose.service":"app"}},"State":{"Status":"running","Running":true,"ExitCode":0,"Health":{"Status":"unhealthy","Log":[{"ExitCode":1,"Output":"old"},{"ExitCode":1,"Output":"curl: connection refused\n"}]}}},
            {"Id":"b","Name":"p_job_1","Config":{"Labels":{"com.docker.compose.service":"job"}},"State":{"Status":"exited","Running":false,"ExitCode":3,"Health":{"Status":"","Log":null}}}]"#;
        let c = parse_containers(json).unwrap();
        assert_eq!(c[0].health.as_deref(), Some("unhealthy"));
        assert_eq!(
            c[0].health_output.as_deref(),
            Some("curl: connection refused")
        );
        assert_eq!(c[1].health, None, "podman says \"\" without a healthcheck");
        assert_eq!(c[1].exit_code, Some(3));
        assert_eq!(c[1].health_output, None);
    }
}
