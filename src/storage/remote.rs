//! A remote target, `s3://BUCKET[/PREFIX]`, and how to reach it: endpoint,
//! region and addressing style from `x-budgie.backup.s3`, else the
//! standard `AWS_*` variables, else the profile in the AWS config file;
//! credentials only from the environment or the AWS credentials and config
//! files, never from the compose file or the command line.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};

/// `x-budgie.backup.s3`: how to reach the S3 endpoint, where the `AWS_*`
/// variables should not decide. No credentials: those come only from the
/// environment or the AWS files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct S3Config {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: Option<bool>,
}

/// `s3://bucket/prefix`: where remote copies go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub bucket: String,
    /// Without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

impl Target {
    pub fn parse(s: &str) -> Result<Target> {
        let bad = |why: &str| {
            Error::usage(format!("{s}: {why}"))
                .hint("a remote target is s3://BUCKET or s3://BUCKET/PREFIX")
        };
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| bad("not an s3:// URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !valid {
            return Err(bad(&format!(
                "bucket name {bucket:?} is not valid (3 to 63 lowercase letters, digits, '.' and '-')"
            )));
        }
        let parts: Vec<&str> = prefix.split('/').filter(|p| !p.is_empty()).collect();
        if parts.iter().any(|p| *p == "." || *p == "..") {
            return Err(bad("the prefix may not hold . or .. parts"));
        }
        if prefix.chars().any(char::is_control) {
            return Err(bad("the prefix holds a control character"));
        }
        Ok(Target {
            bucket: bucket.to_string(),
            prefix: parts.join("/"),
        })
    }

    /// The key of file `name` under the prefix.
    pub fn key(&self, name: &str) -> String {
        match self.prefix.is_empty() {
            true => name.to_string(),
            false => format!("{}/{name}", self.prefix),
        }
    }

    /// What a listing asks for: the prefix and its `/`.
    pub fn list_prefix(&self) -> String {
        match self.prefix.is_empty() {
            true => String::new(),
            false => format!("{}/", self.prefix),
        }
    }

    /// `s3://bucket/prefix` (or `/name` under it).
    pub fn shown(&self, name: Option<&str>) -> String {
        let mut s = format!("s3://{}", self.bucket);
        for part in [Some(self.prefix.as_str()), name].into_iter().flatten() {
            if !part.is_empty() {
                s.push('/');
                s.push_str(part);
            }
        }
        s
    }
}

/// `s3://bucket/prefix/FILE`: the target that holds a remote file, and
/// its name.
pub fn split_file(s: &str) -> Result<(Target, String)> {
    let trimmed = s.trim_end_matches('/');
    let Some((dir, name)) = trimmed
        .rsplit_once('/')
        .filter(|(d, _)| d.len() > "s3:/".len())
    else {
        return Err(Error::usage(format!(
            "{s}: name a file under the bucket: s3://BUCKET[/PREFIX]/FILE"
        )));
    };
    Ok((Target::parse(dir)?, name.to_string()))
}

/// How to reach the S3 endpoint. Never printed whole: the secret stays in
/// `Credentials`, which has no Debug.
pub struct Settings {
    /// `http(s)://host[:port]`.
    pub endpoint: String,
    pub region: String,
    /// `endpoint/bucket/key` rather than `bucket.endpoint/key`.
    pub path_style: bool,
    pub credentials: Credentials,
}

pub struct Credentials {
    pub key: String,
    pub secret: String,
    pub token: Option<String>,
    /// Where they came from: "the environment", "profile default in ~/.aws/credentials".
    pub from: String,
}

/// The environment as a lookup (tests pass their own).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A section of an AWS shared file (`[default]`, `[profile NAME]`).
struct Profile {
    name: String,
    config: Option<ini::Properties>,
    credentials: Option<ini::Properties>,
    credentials_file: PathBuf,
}

impl Profile {
    fn read(env: Env) -> Result<Profile> {
        let name = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
        let home = env("HOME").map(PathBuf::from).unwrap_or_default();
        let config_file = env("AWS_CONFIG_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".aws/config"));
        let credentials_file = env("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".aws/credentials"));
        let section = |file: &PathBuf, section: &str| -> Result<Option<ini::Properties>> {
            if !file.exists() {
                return Ok(None);
            }
            let parsed = ini::Ini::load_from_file(file)
                .map_err(|e| Error::new(format!("cannot read {}: {e}", file.display())))?;
            Ok(parsed.section(Some(section)).cloned())
        };
        let config_section = match name.as_str() {
            "default" => "default".to_string(),
            other => format!("profile {other}"),
        };
        Ok(Profile {
            config: section(&config_file, &config_section)?,
            credentials: section(&credentials_file, &name)?,
            name,
            credentials_file,
        })
    }

    fn get(&self, key: &str) -> Option<String> {
        [&self.credentials, &self.config]
            .into_iter()
            .flatten()
            .find_map(|p| p.get(key).map(str::to_string))
            .filter(|v| !v.is_empty())
    }

    fn config(&self, key: &str) -> Option<String> {
        self.config
            .as_ref()
            .and_then(|p| p.get(key).map(str::to_string))
            .filter(|v| !v.is_empty())
    }
}

/// Endpoint, region, style and credentials for `config` in this
/// environment.
pub fn settings(config: &S3Config, env: Env) -> Result<Settings> {
    let profile = Profile::read(env)?;
    let region = config
        .region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| profile.config("region"))
        .unwrap_or_else(|| "us-east-1".into());
    let custom = config
        .endpoint
        .clone()
        .or_else(|| env("AWS_ENDPOINT_URL_S3"))
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .or_else(|| profile.config("endpoint_url"));
    let endpoint = match &custom {
        Some(e) => {
            let e = e.trim_end_matches('/').to_string();
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(Error::usage(format!(
                    "S3 endpoint {e}: an endpoint is http://HOST[:PORT] or https://HOST[:PORT]"
                )));
            }
            e
        }
        None => format!("https://s3.{region}.amazonaws.com"),
    };
    let path_style = config.path_style.unwrap_or(custom.is_some());
    let credentials = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(key), Some(secret)) => Credentials {
            key,
            secret,
            token: env("AWS_SESSION_TOKEN"),
            from: "the environment (AWS_ACCESS_KEY_ID)".into(),
        },
        _ => match (
            profile.get("aws_access_key_id"),
            profile.get("aws_secret_access_key"),
        ) {
            (Some(key), Some(secret)) => Credentials {
                key,
                secret,
                token: profile.get("aws_session_token"),
                from: format!(
                    "profile {} ({})",
                    profile.name,
                    profile.credentials_file.display()
                ),
            },
            _ => {
                return Err(Error::new(format!(
                    "no S3 credentials for {endpoint}: neither AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY nor profile {} in {}",
                    profile.name,
                    profile.credentials_file.display()
                ))
                .hint("export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add the profile (budgie never reads keys from the compose file or its arguments)"));
            }
        },
    };
    Ok(Settings {
        endpoint,
        region,
        path_style,
        credentials,
    })
}

#[cfg(test)]
mod tests;
