//! The second engines of the remote-engine tests (started by
//! scripts/setup-remote), and an sshd on 127.0.0.1 that a test starts with
//! keys it makes: Debian's openssh-server, logging in as this user.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Engine, require};

/// The second engine of `engine`: its socket, as an endpoint URL.
pub fn second_engine(engine: Engine) -> &'static str {
    match engine {
        Engine::Docker => "unix:///run/budgie-remote/docker.sock",
        Engine::Podman => "unix:///run/budgie-remote/podman.sock",
    }
}

/// Fails the test unless the second engine of `engine` answers.
pub fn require_second_engine(engine: Engine) {
    let url = second_engine(engine);
    let ok = Command::new(engine.program())
        .arg("version")
        .env(engine.host_var(), url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    require(
        &format!("the second {} engine", engine.program()),
        (!ok).then(|| format!("nothing answers at {url} (run scripts/setup-remote)")),
    );
}

/// An sshd on 127.0.0.1 with a host key and a client key of its own; its
/// client configuration is `ssh_command()`. Stopped when dropped, with
/// the SSH masters budgie left in `runtime_dir()`.
pub struct Sshd {
    dir: tempfile::TempDir,
    pub port: u16,
    child: std::process::Child,
}

impl Sshd {
    pub fn start() -> Sshd {
        require(
            "sshd (openssh-server)",
            (!Path::new("/usr/sbin/sshd").exists())
                .then(|| "not installed (run scripts/setup-remote)".to_string()),
        );
        let dir = tempfile::Builder::new()
            .prefix("budgie-sshd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for key in ["host", "client"] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key))
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "ssh-keygen");
        }
        std::fs::copy(d.join("client.pub"), d.join("authorized_keys")).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = free_port();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {host}\nAuthorizedKeysFile {keys}\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
                 AllowStreamLocalForwarding yes\nPidFile {pid}\n",
                host = d.join("host").display(),
                keys = d.join("authorized_keys").display(),
                pid = d.join("sshd.pid").display(),
            ),
        )
        .unwrap();
        let host_pub = std::fs::read_to_string(d.join("host.pub")).unwrap();
        let host_key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {}\n", host_key.join(" ")),
        )
        .unwrap();
        std::fs::write(
            d.join("ssh_config"),
            format!(
                "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n",
                d.join("client").display(),
                d.join("known_hosts").display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all(d.join("run")).unwrap();
        // -D: stays in the foreground, so the test owns and stops it.
        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log"))
            .spawn()
            .expect("start sshd");
        let sshd = Sshd { dir, port, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd
    }

    /// `BUDGIE_SSH_COMMAND`: ssh with this server's client configuration.
    pub fn ssh_command(&self) -> String {
        format!("ssh -F {}", self.dir.path().join("ssh_config").display())
    }

    /// `XDG_RUNTIME_DIR` for budgie: where its SSH masters' sockets go.
    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// `ssh://root@127.0.0.1:PORT` + the engine's socket path.
    pub fn url(&self, engine: Engine) -> String {
        let socket = second_engine(engine).trim_start_matches("unix://");
        format!("ssh://root@127.0.0.1:{}{socket}", self.port)
    }

    /// The SSH master processes budgie runs for this server.
    pub fn masters(&self) -> usize {
        let needle = format!("ControlPath={}", self.runtime_dir().display());
        let out = Command::new("pgrep")
            .args(["-f", "-c", &needle])
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    }

    /// How many logins the server has seen (its log's "Accepted" lines).
    pub fn logins(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("sshd.log"))
            .unwrap_or_default()
            .matches("Accepted publickey")
            .count()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // The masters budgie left (ControlPersist): asked to exit.
        let dir = self.runtime_dir().join("budgie-ssh");
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.path().extension().is_some_and(|x| x == "ctl") {
                let _ = Command::new("ssh")
                    .arg("-S")
                    .arg(e.path())
                    .args(["-O", "exit", "x"])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
