//! Talking to an S3-compatible endpoint: requests signed by rusty-s3
//! (SigV4, in the URL's query, with the headers that matter signed too)
//! and sent by ureq. Bodies are streamed or sent one part at a time, never
//! a whole backup in memory.
//!
//! An object exists under its key only once complete: a small file is one
//! `PUT` with `Content-MD5` (the server refuses bytes that do not match);
//! a large one is a multipart upload whose parts are each sent with their
//! MD5 and checked against the ETag the server answers, completed only
//! when every part matched, and aborted on any failure. Until
//! `CompleteMultipartUpload`, no object exists under the key.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use md5::{Digest, Md5};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use super::remote::{Settings, Target};
use crate::error::{Error, Result};

/// How long a signed URL stays valid.
const EXPIRES: Duration = Duration::from_secs(3600);
/// The size up to which a file is one `PUT` (held in memory whole).
pub const PART: usize = 8 << 20;
/// Parts sent at once.
const UPLOADERS: usize = 3;

/// Bytes per part of a multipart upload of `size` bytes: 8 MiB (as `aws
/// s3 cp`), larger only as S3's 10,000 parts need (whole MiB, with room).
/// `UPLOADERS` parts are in memory at most: 24 MiB for a backup up to
/// 70 GiB.
fn part_size(size: u64) -> usize {
    const MIB: u64 = 1 << 20;
    let needed = size.div_ceil(9_000).div_ceil(MIB) * MIB;
    usize::try_from(needed.max(8 * MIB)).unwrap_or(usize::MAX)
}

/// A response that is not a success, in words: its status and S3's
/// `<Code>: <Message>` (or the status's reason alone).
fn said(mut resp: Response) -> (ureq::http::StatusCode, String) {
    let status = resp.status();
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    let tag = |t: &str| {
        let open = format!("<{t}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{t}>"))? + start;
        Some(body[start..end].to_string())
    };
    let said = match (tag("Code"), tag("Message")) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c,
        _ => status.canonical_reason().unwrap_or("").to_string(),
    };
    (status, said)
}

/// An object in a listing.
#[derive(Debug, Clone)]
pub struct Object {
    pub key: String,
    pub size: u64,
    /// RFC 3339, as the server says.
    pub last_modified: String,
}

pub struct Client {
    bucket: Bucket,
    credentials: Credentials,
    /// Where the credentials came from, as said to the user.
    credentials_from: String,
    agent: ureq::Agent,
    pub target: Target,
    endpoint: String,
    /// Where each open multipart upload is noted while it runs (the backup
    /// directory), so that one a killed budgie left is aborted by the next.
    notes: Option<std::path::PathBuf>,
}

/// An open multipart upload, as noted in `.budgie-upload.<id>.json`.
#[derive(serde::Serialize, serde::Deserialize)]
struct OpenUpload {
    endpoint: String,
    bucket: String,
    key: String,
    upload_id: String,
}

const NOTE_PREFIX: &str = ".budgie-upload.";

type Response = ureq::http::Response<ureq::Body>;

/// The requests without a body.
#[derive(Clone, Copy)]
enum Verb {
    Head,
    Get,
    Delete,
}

impl Client {
    pub fn new(settings: &Settings, target: &Target) -> Result<Client> {
        let url: url::Url = settings
            .endpoint
            .parse()
            .map_err(|e| Error::usage(format!("S3 endpoint {}: {e}", settings.endpoint)))?;
        let style = match settings.path_style {
            true => UrlStyle::Path,
            false => UrlStyle::VirtualHost,
        };
        let bucket = Bucket::new(url, style, target.bucket.clone(), settings.region.clone())
            .map_err(|e| Error::usage(format!("S3 endpoint {}: {e}", settings.endpoint)))?;
        let c = &settings.credentials;
        let credentials = match &c.token {
            Some(t) => Credentials::new_with_token(c.key.clone(), c.secret.clone(), t.clone()),
            None => Credentials::new(c.key.clone(), c.secret.clone()),
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .build()
            .into();
        Ok(Client {
            bucket,
            credentials,
            credentials_from: c.from.clone(),
            agent,
            target: target.clone(),
            endpoint: settings.endpoint.clone(),
            notes: None,
        })
    }

    /// Notes open multipart uploads in `dir` while they run.
    pub fn with_notes(mut self, dir: &Path) -> Client {
        self.notes = Some(dir.to_path_buf());
        self
    }

    fn note_path(&self, id: &str) -> Option<std::path::PathBuf> {
        let dir = self.notes.as_ref()?;
        let digest = sha2::Sha256::digest(id.as_bytes());
        Some(dir.join(format!(
            "{NOTE_PREFIX}{}.json",
            crate::fsutil::hex(&digest[..12])
        )))
    }

    fn note_open(&self, key: &str, id: &str) -> Result<()> {
        let Some(path) = self.note_path(id) else {
            return Ok(());
        };
        let note = OpenUpload {
            endpoint: self.endpoint.clone(),
            bucket: self.target.bucket.clone(),
            key: key.to_string(),
            upload_id: id.to_string(),
        };
        let json = serde_json::to_vec(&note)
            .map_err(|e| Error::new(format!("internal error: an upload's note: {e}")))?;
        crate::fsutil::write_atomically(&path, &json, NOTE_PREFIX, ".partial")
            .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))
    }

    fn note_closed(&self, id: &str) {
        if let Some(path) = self.note_path(id) {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Aborts the multipart uploads to this endpoint and bucket that a
    /// killed budgie left open (noted in the backup directory); the keys
    /// they were for.
    pub fn abort_left(&self) -> Vec<String> {
        let Some(dir) = &self.notes else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut aborted = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with(NOTE_PREFIX) && name.ends_with(".json")) {
                continue;
            }
            let Ok(bytes) = std::fs::read(entry.path()) else {
                continue;
            };
            let Ok(note) = serde_json::from_slice::<OpenUpload>(&bytes) else {
                continue;
            };
            if note.endpoint != self.endpoint || note.bucket != self.target.bucket {
                continue;
            }
            if self.abort(&note.key, &note.upload_id) {
                let _ = std::fs::remove_file(entry.path());
                aborted.push(note.key);
            }
        }
        aborted
    }

    /// What went wrong, from a response that is not a success: S3's
    /// `<Code>` and `<Message>`, or the status alone.
    fn failed(&self, what: &str, resp: Response) -> Error {
        let (status, said) = said(resp);
        let e = Error::new(format!(
            "{what}: {} answered {} {said}",
            self.endpoint,
            status.as_u16()
        ));
        match status.as_u16() {
            401 | 403 => e.hint(self.credentials_hint()),
            404 if said.contains("NoSuchBucket") || what.starts_with("bucket") => e.hint(format!(
                "create bucket {} first, or fix the remote's URL",
                self.target.bucket
            )),
            _ => e,
        }
    }

    /// What to check when the store refuses the credentials.
    fn credentials_hint(&self) -> String {
        format!(
            "check the S3 credentials (from {}: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) and their rights on the bucket",
            self.credentials_from
        )
    }

    /// Why the bucket refused a `HEAD` (which answers without a body): the
    /// `<Code>` and `<Message>` of a one-key listing, when it says.
    fn why_refused(&self) -> Option<String> {
        let mut action = self.bucket.list_objects_v2(Some(&self.credentials));
        action.with_max_keys(1);
        let url = action.sign(EXPIRES);
        let resp = self.bodiless(Verb::Get, &url, "listing").ok()?;
        let (status, said) = said(resp);
        (!status.is_success() && said.contains(':')).then_some(said)
    }

    fn unreachable(&self, what: &str, e: ureq::Error) -> Error {
        Error::new(format!("{what}: cannot reach the S3 endpoint {}: {e}", self.endpoint))
            .hint("is the endpoint running and its address right (x-budgie.backup.s3.endpoint, AWS_ENDPOINT_URL)?")
    }

    /// A request without a body (`HEAD`, `GET`, `DELETE`) to a signed URL;
    /// an endpoint that does not answer is an error naming `what`.
    fn bodiless(&self, verb: Verb, url: &url::Url, what: &str) -> Result<Response> {
        let url = url.as_str();
        match verb {
            Verb::Head => self.agent.head(url).call(),
            Verb::Get => self.agent.get(url).call(),
            Verb::Delete => self.agent.delete(url).call(),
        }
        .map_err(|e| self.unreachable(what, e))
    }

    /// The bucket answers and may be read: `HEAD` on it.
    pub fn check(&self) -> Result<()> {
        let what = format!("bucket {}", self.target.bucket);
        let url = self
            .bucket
            .head_bucket(Some(&self.credentials))
            .sign(EXPIRES);
        let resp = self.bodiless(Verb::Head, &url, &what)?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            404 => Err(Error::new(format!(
                "bucket {} does not exist at {}",
                self.target.bucket, self.endpoint
            ))
            .hint("create it first, or fix the remote's URL")),
            403 => Err(Error::new(format!(
                "access to bucket {} at {} denied (403{}) for the credentials from {}",
                self.target.bucket,
                self.endpoint,
                self.why_refused()
                    .map(|w| format!(" {w}"))
                    .unwrap_or_default(),
                self.credentials_from
            ))
            .hint(self.credentials_hint())),
            _ => Err(self.failed(&what, resp)),
        }
    }

    /// Uploads `path` to `key`, with `sha256` as the object's
    /// `x-amz-meta-sha256`. `progress` gets the bytes sent so far.
    pub fn upload(
        &self,
        path: &Path,
        key: &str,
        sha256: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let what = format!("upload of {} to {}", path.display(), self.shown(key));
        let mut file = File::open(path)
            .map_err(|e| Error::new(format!("cannot read {}: {e}", path.display())))?;
        let size = file.metadata()?.len();
        if size as usize <= PART {
            let mut buf = vec![0u8; (size as usize).max(1)];
            let n = read_full(&mut file, &mut buf)?;
            self.put(key, &buf[..n], sha256, &what)?;
            progress(n as u64);
        } else {
            self.multipart(&mut file, key, sha256, &what, progress)?;
        }
        // The object is there, whole: its size as the file's.
        let (len, meta) = self.head(key, &what)?;
        if len != size || meta.as_deref() != Some(sha256) {
            let _ = self.delete(key);
            return Err(Error::new(format!(
                "{what}: the server holds {len} bytes (sha256 {}), the file {size} bytes (sha256 {sha256}); the remote copy was deleted",
                meta.unwrap_or_else(|| "unknown".into())
            )));
        }
        Ok(size)
    }

    fn put(&self, key: &str, body: &[u8], sha256: &str, what: &str) -> Result<()> {
        let md5 = Md5::digest(body);
        let content_md5 = base64::engine::general_purpose::STANDARD.encode(md5);
        let mut action = self.bucket.put_object(Some(&self.credentials), key);
        action
            .headers_mut()
            .insert("content-md5", content_md5.clone());
        action
            .headers_mut()
            .insert("x-amz-meta-sha256", sha256.to_string());
        let url = action.sign(EXPIRES);
        let resp = self
            .agent
            .put(url.as_str())
            .header("content-md5", &content_md5)
            .header("x-amz-meta-sha256", sha256)
            .send(body)
            .map_err(|e| self.unreachable(what, e))?;
        if !resp.status().is_success() {
            return Err(self.failed(what, resp));
        }
        self.check_etag(&resp, &md5, what)
    }

    /// The ETag the server answered is the MD5 of what budgie sent.
    fn check_etag(&self, resp: &Response, md5: &[u8], what: &str) -> Result<()> {
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim_matches('"')
            .to_ascii_lowercase();
        let sent: String = md5.iter().map(|b| format!("{b:02x}")).collect();
        if etag != sent {
            return Err(Error::new(format!(
                "{what}: the server's checksum (ETag {etag:?}) is not that of the bytes sent ({sent})"
            )));
        }
        Ok(())
    }

    fn multipart(
        &self,
        file: &mut File,
        key: &str,
        sha256: &str,
        what: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let mut action = self
            .bucket
            .create_multipart_upload(Some(&self.credentials), key);
        action
            .headers_mut()
            .insert("x-amz-meta-sha256", sha256.to_string());
        let url = action.sign(EXPIRES);
        let mut resp = self
            .agent
            .post(url.as_str())
            .header("x-amz-meta-sha256", sha256)
            .send_empty()
            .map_err(|e| self.unreachable(what, e))?;
        if !resp.status().is_success() {
            return Err(self.failed(what, resp));
        }
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| self.unreachable(what, e))?;
        let created =
            rusty_s3::actions::CreateMultipartUpload::parse_response(&body).map_err(|e| {
                Error::new(format!(
                    "{what}: unreadable answer to CreateMultipartUpload: {e}"
                ))
            })?;
        let id = created.upload_id().to_string();
        if let Err(e) = self.note_open(key, &id) {
            self.abort(key, &id);
            return Err(e);
        }
        let parts = self.send_parts(file, key, &id, what, progress);
        let done = parts.and_then(|etags| {
            let action = self.bucket.complete_multipart_upload(
                Some(&self.credentials),
                key,
                &id,
                etags.iter().map(String::as_str),
            );
            let url = action.sign(EXPIRES);
            let resp = self
                .agent
                .post(url.as_str())
                .send(action.body())
                .map_err(|e| self.unreachable(what, e))?;
            match resp.status().is_success() {
                true => Ok(()),
                false => Err(self.failed(what, resp)),
            }
        });
        if done.is_err() {
            self.abort(key, &id);
        }
        self.note_closed(&id);
        done
    }

    /// Sends the file's parts, [`UPLOADERS`] at a time (a store takes
    /// several streams faster than one, as `aws s3 cp` knows): each sender
    /// takes the next part number and reads that part itself (`pread`), so
    /// at most `UPLOADERS` parts are in memory. The ETags in part order.
    fn send_parts(
        &self,
        file: &File,
        key: &str,
        id: &str,
        what: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<String>> {
        use std::os::unix::fs::FileExt;
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
        let size = file.metadata()?.len();
        let part = part_size(size) as u64;
        let count = size.div_ceil(part);
        let next = AtomicU64::new(0);
        let etags: Mutex<std::collections::BTreeMap<u64, String>> = Mutex::default();
        let failure: Mutex<Option<Error>> = Mutex::default();
        let failed = AtomicBool::new(false);
        let sent = AtomicU64::new(0);
        let running = AtomicUsize::new(UPLOADERS);
        std::thread::scope(|s| {
            for _ in 0..UPLOADERS {
                s.spawn(|| {
                    let fail = |e: Error| {
                        failed.store(true, Ordering::SeqCst);
                        if let Ok(mut f) = failure.lock() {
                            f.get_or_insert(e);
                        }
                    };
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= count || failed.load(Ordering::SeqCst) {
                            break;
                        }
                        if crate::interrupt::interrupted() {
                            fail(Error::interrupted());
                            break;
                        }
                        let offset = i * part;
                        let len = part.min(size - offset);
                        let mut buf = vec![0u8; len as usize];
                        if let Err(e) = file.read_exact_at(&mut buf, offset) {
                            fail(Error::new(format!("{what}: cannot read the file: {e}")));
                            break;
                        }
                        let number = u16::try_from(i + 1).unwrap_or(u16::MAX);
                        match self.send_part(key, id, number, &buf, what) {
                            Ok(etag) => {
                                if let Ok(mut e) = etags.lock() {
                                    e.insert(i, etag);
                                }
                                sent.fetch_add(len, Ordering::SeqCst);
                                crate::crash::point("upload:part");
                            }
                            Err(e) => {
                                fail(e);
                                break;
                            }
                        }
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                });
            }
            while running.load(Ordering::SeqCst) > 0 {
                progress(sent.load(Ordering::SeqCst));
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        if let Some(e) = failure.into_inner().ok().flatten() {
            return Err(e);
        }
        progress(sent.load(Ordering::SeqCst));
        let etags = etags.into_inner().unwrap_or_default();
        if etags.len() as u64 != count {
            return Err(Error::new(format!(
                "{what}: {} of {count} parts were sent",
                etags.len()
            )));
        }
        Ok(etags.into_values().collect())
    }

    /// One part, with its MD5; its quoted ETag once the server's matched.
    fn send_part(
        &self,
        key: &str,
        id: &str,
        number: u16,
        buf: &[u8],
        what: &str,
    ) -> Result<String> {
        let md5 = Md5::digest(buf);
        let content_md5 = base64::engine::general_purpose::STANDARD.encode(md5);
        let mut action = self
            .bucket
            .upload_part(Some(&self.credentials), key, number, id);
        action
            .headers_mut()
            .insert("content-md5", content_md5.clone());
        let url = action.sign(EXPIRES);
        let resp = self
            .agent
            .put(url.as_str())
            .header("content-md5", &content_md5)
            .send(buf)
            .map_err(|e| self.unreachable(what, e))?;
        if !resp.status().is_success() {
            return Err(self.failed(what, resp));
        }
        self.check_etag(&resp, &md5, what)?;
        Ok(format!(
            "\"{}\"",
            md5.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ))
    }

    /// The parts sent are deleted by the server; whether it said so (an
    /// upload it no longer knows counts as aborted).
    fn abort(&self, key: &str, id: &str) -> bool {
        let url = self
            .bucket
            .abort_multipart_upload(Some(&self.credentials), key, id)
            .sign(EXPIRES);
        self.bodiless(Verb::Delete, &url, "abort")
            .is_ok_and(|r| r.status().is_success() || r.status().as_u16() == 404)
    }

    /// An object's size and its `x-amz-meta-sha256`; an error when it is
    /// not there.
    pub fn stat(&self, key: &str) -> Result<(u64, Option<String>)> {
        let what = self.shown(key);
        let url = self
            .bucket
            .head_object(Some(&self.credentials), key)
            .sign(EXPIRES);
        let resp = self.bodiless(Verb::Head, &url, &what)?;
        if resp.status().as_u16() == 404 {
            return Err(Error::new(format!("{what} does not exist"))
                .hint("budgie backup list --remote shows what is there"));
        }
        self.head_of(resp, &what)
    }

    fn head(&self, key: &str, what: &str) -> Result<(u64, Option<String>)> {
        let url = self
            .bucket
            .head_object(Some(&self.credentials), key)
            .sign(EXPIRES);
        let resp = self.bodiless(Verb::Head, &url, what)?;
        self.head_of(resp, what)
    }

    fn head_of(&self, resp: Response, what: &str) -> Result<(u64, Option<String>)> {
        if !resp.status().is_success() {
            return Err(self.failed(what, resp));
        }
        let header = |h: &str| {
            resp.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let len = header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        Ok((len, header("x-amz-meta-sha256")))
    }

    /// Every object under the target's prefix.
    pub fn list(&self) -> Result<Vec<Object>> {
        let what = format!("listing of {}", self.target.shown(None));
        let prefix = self.target.list_prefix();
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = self.bucket.list_objects_v2(Some(&self.credentials));
            if !prefix.is_empty() {
                action.with_prefix(prefix.as_str());
            }
            if let Some(t) = &token {
                action.with_continuation_token(t.as_str());
            }
            let url = action.sign(EXPIRES);
            let mut resp = self.bodiless(Verb::Get, &url, &what)?;
            if !resp.status().is_success() {
                return Err(self.failed(&what, resp));
            }
            let body = resp
                .body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_string()
                .map_err(|e| self.unreachable(&what, e))?;
            let page = rusty_s3::actions::ListObjectsV2::parse_response(&body)
                .map_err(|e| Error::new(format!("{what}: unreadable answer: {e}")))?;
            out.extend(page.contents.into_iter().map(|c| Object {
                key: c.key,
                size: c.size,
                last_modified: c.last_modified,
            }));
            match page.next_continuation_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(out)
    }

    /// Streams object `key` into `out`; its length must be what the server
    /// said. Returns the bytes written.
    pub fn download(
        &self,
        key: &str,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let what = format!("download of {}", self.shown(key));
        let url = self
            .bucket
            .get_object(Some(&self.credentials), key)
            .sign(EXPIRES);
        let mut resp = self.bodiless(Verb::Get, &url, &what)?;
        if resp.status().as_u16() == 404 {
            return Err(Error::new(format!("{} does not exist", self.shown(key)))
                .hint("budgie backup list --remote shows what is there"));
        }
        if !resp.status().is_success() {
            return Err(self.failed(&what, resp));
        }
        let expected = resp.body().content_length();
        let mut reader = resp.body_mut().with_config().limit(u64::MAX).reader();
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0u64;
        loop {
            if crate::interrupt::interrupted() {
                return Err(Error::interrupted());
            }
            let n = reader
                .read(&mut buf)
                .map_err(|e| Error::new(format!("{what}: {e}")))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
            got += n as u64;
            progress(got);
        }
        if let Some(len) = expected.filter(|l| *l != got) {
            return Err(Error::new(format!(
                "{what}: cut off after {got} of {len} bytes"
            )));
        }
        Ok(got)
    }

    pub fn delete(&self, key: &str) -> Result<()> {
        let what = format!("deletion of {}", self.shown(key));
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), key)
            .sign(EXPIRES);
        let resp = self.bodiless(Verb::Delete, &url, &what)?;
        match resp.status().is_success() {
            true => Ok(()),
            false => Err(self.failed(&what, resp)),
        }
    }

    /// `s3://bucket/key`.
    pub fn shown(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.target.bucket)
    }
}

/// Reads until `buf` is full or the file ends.
fn read_full(file: &mut File, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parts_are_small_and_at_most_ten_thousand() {
        const MIB: u64 = 1 << 20;
        assert_eq!(super::part_size(540 * MIB) as u64, 8 * MIB);
        for size in [9 * MIB, 45 << 30, 200 << 30, 5 << 40] {
            let part = super::part_size(size) as u64;
            assert!(
                part >= 5 * MIB && part.is_multiple_of(MIB),
                "{size}: {part}"
            );
            assert!(size.div_ceil(part) <= 10_000, "{size}: {part}");
        }
        assert_eq!(super::part_size(45 << 30) as u64, 8 * MIB);
        assert_eq!(super::part_size(100 << 30) as u64, 12 * MIB);
    }
}
