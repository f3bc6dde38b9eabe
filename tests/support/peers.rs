//! Test peers beyond openssl s_server: a Go crypto/tls + net/http server (post-quantum hybrids,
//! h2) built from `tests/support/go/pq_server.go`, and Debian's nginx with client-certificate
//! verification. Both listen on 127.0.0.1 only and are killed on Drop. A missing tool is a loud
//! panic naming the package to install, never a silent skip.

#![allow(dead_code, clippy::panic, clippy::missing_panics_doc)]

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use tempfile::TempDir;

use super::openssl::{Pki, free_port};

/// Builds the Go peer once per test binary into Cargo's per-target temporary directory.
fn go_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tlsaudit-pq-server");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/go/pq_server.go");
        let output = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg(&source)
            // The machine's Go, the standard library only: no toolchain or module download.
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("CGO_ENABLED", "0")
            .output()
            .unwrap_or_else(|err| {
                panic!("`go` is not installed (Go 1.26+ from https://go.dev/dl): {err}")
            });
        assert!(
            output.status.success(),
            "go build {} failed:\n{}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        out
    })
}

/// The Go peer: crypto/tls defaults behind net/http (h2 and http/1.1), killed on Drop.
pub struct GoServer {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

impl GoServer {
    /// Serves `pki`'s leaf; sends `Strict-Transport-Security: {hsts}` when given.
    #[must_use]
    pub fn start(pki: &Pki, hsts: Option<&str>) -> Self {
        let mut command = Command::new(go_binary());
        command
            .arg("-cert")
            .arg(&pki.cert)
            .arg("-key")
            .arg(&pki.key)
            .args(["-hsts", hsts.unwrap_or("")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("start the Go peer");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the Go peer's address");
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("the Go peer did not start: {line:?}"));
        Self { addr, child }
    }
}

impl Drop for GoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's nginx serving `location / { return 200 }` over TLS 1.2/1.3 with ECDHE AEAD suites and
/// `ssl_verify_client`, from a private prefix directory; killed on Drop.
pub struct NginxServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The prefix directory (configuration, pid, logs, temp paths).
    pub prefix: TempDir,
    child: Child,
}

impl NginxServer {
    /// Starts nginx with `ssl_verify_client {verify}` (`optional` or `on`), trusting `pki`'s CA
    /// for client certificates.
    #[must_use]
    pub fn start(pki: &Pki, verify: &str) -> Self {
        let prefix = tempfile::tempdir().expect("nginx prefix");
        let p = prefix.path().display().to_string();
        for attempt in 0..3 {
            let addr = free_port();
            let conf = format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\n\
                 error_log {p}/error.log info;\nevents {{ worker_connections 64; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n\
                 proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n\
                 uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n  server {{\n\
                 listen {addr} ssl;\n    ssl_certificate {cert};\n    ssl_certificate_key {key};\n\
                 ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;\n\
                 ssl_client_certificate {ca};\n    ssl_verify_client {verify};\n\
                 location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n",
                cert = pki.cert.display(),
                key = pki.key.display(),
                ca = pki.ca_cert.display(),
            );
            fs::write(prefix.path().join("nginx.conf"), conf).expect("write nginx.conf");
            let mut child = Command::new("nginx")
                .arg("-p")
                .arg(prefix.path())
                .arg("-c")
                .arg(prefix.path().join("nginx.conf"))
                .arg("-e")
                .arg(prefix.path().join("error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|err| {
                    panic!("`nginx` is not installed: run `apt-get install nginx-light` ({err})")
                });
            for _ in 0..200 {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                    return Self {
                        addr,
                        prefix,
                        child,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            let log = fs::read_to_string(prefix.path().join("error.log")).unwrap_or_default();
            assert!(
                attempt < 2 && log.contains("in use"),
                "nginx did not start:\n{log}"
            );
        }
        unreachable!("the loop returns or panics")
    }
}

impl Drop for NginxServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
