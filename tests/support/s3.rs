//! A real S3 API for the tests: moto's server (`moto_server`, from PyPI,
//! installed by scripts/setup-s3) on 127.0.0.1 and a free port, one per
//! test, stopped when dropped; and a TCP proxy in front of it that cuts
//! the connection once a request has sent a given number of bytes, as a
//! server that dies mid-upload does.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::require;

pub struct S3Server {
    child: Child,
    pub port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl S3Server {
    pub fn start() -> S3Server {
        let found = Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        require(
            "moto_server",
            (!found).then(|| "moto_server (pip install 'moto[server]'; scripts/setup-s3)".into()),
        );
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server");
        let s = S3Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One plain HTTP request to the server (moto checks no signature);
    /// the status and the body.
    pub fn request(&self, method: &str, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let status = out
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (status, body.to_string())
    }

    pub fn create_bucket(&self, name: &str) {
        let (status, body) = self.request("PUT", &format!("/{name}"));
        assert_eq!(status, 200, "create bucket {name}: {body}");
    }

    /// The keys in a bucket (ListObjectsV2, unsigned).
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let (status, body) = self.request("GET", &format!("/{bucket}?list-type=2"));
        assert_eq!(status, 200, "{body}");
        tags(&body, "Key")
    }

    /// The multipart uploads not completed nor aborted.
    pub fn open_uploads(&self, bucket: &str) -> Vec<String> {
        let (status, body) = self.request("GET", &format!("/{bucket}?uploads"));
        assert_eq!(status, 200, "{body}");
        tags(&body, "UploadId")
    }

    /// An object's bytes.
    pub fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "GET /{bucket}/{key} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        out[at..].to_vec()
    }
}

fn tags(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(v, _)| v.to_string()))
        .collect()
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A proxy on its own port to `target`: the first connection whose
/// request bytes pass `cut_after` is cut there (both ways); every other
/// connection goes through whole.
pub struct CuttingProxy {
    pub port: u16,
    pub cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl CuttingProxy {
    pub fn start(target: u16, cut_after: u64) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, st) = (cut.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let c = c.clone();
                std::thread::spawn(move || relay(client, server, cut_after, c));
            }
        });
        CuttingProxy { port, cut, stop }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn relay(client: TcpStream, server: TcpStream, cut_after: u64, cut: Arc<AtomicBool>) {
    let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut s_in, mut c_out) = (server, client);
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut s_in, &mut c_out);
        let _ = c_out.shutdown(Shutdown::Both);
    });
    let sent = AtomicU64::new(0);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match c_in.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let total = sent.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
        if total > cut_after && !cut.swap(true, Ordering::SeqCst) {
            let _ = c_in.shutdown(Shutdown::Both);
            let _ = s_out.shutdown(Shutdown::Both);
            break;
        }
        if s_out.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = s_out.shutdown(Shutdown::Write);
    let _ = back.join();
}

/// An HTTP listener on 127.0.0.1 that answers 200 to everything and
/// keeps each request's first line and body (for the notification pings).
pub struct PingListener {
    pub port: u16,
    got: Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl PingListener {
    pub fn start() -> PingListener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut stream = stream;
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                // Headers, then Content-Length bytes of body.
                let (head, body) = loop {
                    let Ok(n) = stream.read(&mut buf) else {
                        break (String::new(), String::new());
                    };
                    if n == 0 {
                        break (String::new(), String::new());
                    }
                    data.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&data).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            break (head.to_string(), body.to_string());
                        }
                    }
                };
                let first = head.lines().next().unwrap_or("").to_string();
                g.lock().unwrap().push((first, body));
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
                );
            }
        });
        PingListener { port, got }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// (request line, body) of each request so far.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.got.lock().unwrap().clone()
    }
}

/// An S3 server that checks every request's signature, presigned ones
/// included, as AWS, MinIO and R2 do (moto checks only those signed in an
/// `Authorization` header, and budgie presigns): s3rver, from npm
/// (installed by scripts/setup-s3), on 127.0.0.1 and a free port, its data
/// in a temporary directory, `bucket` made at start. Its one account is
/// `S3RVER` with the secret `S3RVER`.
pub struct CheckingS3 {
    child: Child,
    pub port: u16,
    _data: tempfile::TempDir,
}

pub const S3RVER: &str = "/opt/budgie-s3rver/node_modules/.bin/s3rver";

impl CheckingS3 {
    pub fn start(bucket: &str) -> CheckingS3 {
        require(
            "s3rver",
            (!std::path::Path::new(S3RVER).exists())
                .then(|| format!("{S3RVER} (scripts/setup-s3)")),
        );
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(S3RVER)
            .args(["-d", &data.path().display().to_string()])
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "--silent"])
            .args(["--no-vhost-buckets", "--configure-bucket", bucket])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3rver");
        let s = CheckingS3 {
            child,
            port,
            _data: data,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3rver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl CheckingS3 {
    /// The keys the server holds in `bucket`, read from its data directory
    /// (`<bucket>/<key>._S3rver_object`), sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let root = self._data.path().join(bucket);
        let mut files = Vec::new();
        walk(&root, &mut files);
        let mut keys: Vec<String> = files
            .iter()
            .filter_map(|f| {
                let rel = f.strip_prefix(&root).ok()?.to_str()?;
                rel.strip_suffix("._S3rver_object").map(str::to_string)
            })
            .collect();
        keys.sort();
        keys
    }
}

impl Drop for CheckingS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
