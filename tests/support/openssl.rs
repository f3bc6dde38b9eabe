//! Real TLS servers for probe tests. Input: server arguments. Output: a running server on a free
//! 127.0.0.1 port, killed on Drop.
//! - [`OpensslServer`]: Debian's `openssl s_server`, with an RSA CA and leaf made by the `openssl`
//!   CLI into a temporary directory ([`Pki`]), which can also mint an OCSP response to staple.
//! - [`GnutlsServer`]: `gnutls-serv`, for 3DES and RC4 (Debian's OpenSSL 3 has neither). It binds
//!   every address, so it runs inside a network namespace the test creates, and socat relays
//!   127.0.0.1:PORT into it.
//!
//! A missing tool is a loud panic naming the package to install, never a silent skip.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server may take to start listening.
const STARTUP: Duration = Duration::from_secs(20);

/// A test CA and a `localhost` leaf it issued (RSA 2048), as PEM files in a temporary directory.
pub struct Pki {
    /// The directory holding every file; removed on Drop.
    pub dir: TempDir,
    /// CA certificate (PEM).
    pub ca_cert: PathBuf,
    /// CA private key (PEM).
    pub ca_key: PathBuf,
    /// Leaf certificate (PEM) for `localhost` and 127.0.0.1.
    pub cert: PathBuf,
    /// Leaf private key (PEM).
    pub key: PathBuf,
}

impl Pki {
    /// Generates the CA and an RSA-2048/SHA-256 leaf valid for 2 days with the `openssl` CLI.
    #[must_use]
    pub fn rsa() -> Self {
        Self::with("rsa:2048", "sha256", 2)
    }

    /// Generates the CA and a leaf with the given key (`rsa:1024`), digest (`sha1`) and validity.
    #[must_use]
    pub fn with(leaf_key: &str, digest: &str, days: u32) -> Self {
        let days = days.to_string();
        let digest = format!("-{digest}");
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = |name: &str| dir.path().join(name);
        let (ca_cert, ca_key, cert, key) = (
            path("ca.pem"),
            path("ca.key"),
            path("cert.pem"),
            path("key.pem"),
        );
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=tlsaudit test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                leaf_key,
                "-nodes",
                "-days",
                &days,
                &digest,
                "-subj",
                "/CN=localhost",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                "0x1000",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
            ],
        );
        Self {
            dir,
            ca_cert,
            ca_key,
            cert,
            key,
        }
    }

    /// Signs a "good" OCSP response for the leaf with the CA (via a one-line CA index), writes it
    /// to `ocsp.der` and returns its path and DER bytes.
    #[must_use]
    pub fn ocsp_response(&self) -> (PathBuf, Vec<u8>) {
        // V(alid), expiry (not checked by the responder), no revocation date, serial, file, subject.
        fs::write(
            self.dir.path().join("index.txt"),
            "V\t491231235959Z\t\t1000\tunknown\t/CN=localhost\n",
        )
        .expect("write the CA index");
        openssl(
            self.dir.path(),
            &[
                "ocsp",
                "-issuer",
                "ca.pem",
                "-cert",
                "cert.pem",
                "-no_nonce",
                "-reqout",
                "ocsp-req.der",
            ],
        );
        openssl(
            self.dir.path(),
            &[
                "ocsp",
                "-index",
                "index.txt",
                "-rsigner",
                "ca.pem",
                "-rkey",
                "ca.key",
                "-CA",
                "ca.pem",
                "-reqin",
                "ocsp-req.der",
                "-respout",
                "ocsp.der",
                "-ndays",
                "1",
            ],
        );
        let path = self.dir.path().join("ocsp.der");
        let der = fs::read(&path).expect("read the OCSP response");
        assert!(!der.is_empty(), "openssl ocsp wrote an empty response");
        (path, der)
    }

    /// The leaf certificate as DER.
    #[must_use]
    pub fn cert_der(&self) -> Vec<u8> {
        run(
            Command::new("openssl")
                .args(["x509", "-outform", "DER", "-in"])
                .arg(&self.cert),
            "openssl",
            "openssl",
        )
    }
}

/// `openssl s_server` on 127.0.0.1, killed on Drop.
pub struct OpensslServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its certificates (and the directory holding its log).
    pub pki: Pki,
    child: Child,
    // Held open: s_server ends a connection when its stdin reaches EOF.
    _stdin: Option<ChildStdin>,
}

impl OpensslServer {
    /// Starts `openssl s_server` with a fresh RSA leaf and the extra `args`.
    #[must_use]
    pub fn start(args: &[&str]) -> Self {
        Self::start_with(Pki::rsa(), args)
    }

    /// Starts `openssl s_server` serving `pki`'s leaf with the extra `args`.
    #[must_use]
    pub fn start_with(pki: Pki, args: &[&str]) -> Self {
        Self::start_configured(pki, args, None)
    }

    /// Starts `openssl s_server` with `system_default` SSL_CONF commands (one `Name = value` per
    /// line, e.g. `Options = -ExtendedMasterSecret`) for what has no command-line flag.
    #[must_use]
    pub fn start_with_ssl_conf(pki: Pki, args: &[&str], commands: &str) -> Self {
        let conf = pki.dir.path().join("openssl.cnf");
        fs::write(
            &conf,
            format!(
                "openssl_conf = conf\n[conf]\nssl_conf = ssl\n[ssl]\nsystem_default = tls\n[tls]\n{commands}\n"
            ),
        )
        .expect("write openssl.cnf");
        Self::start_configured(pki, args, Some(&conf))
    }

    fn start_configured(pki: Pki, args: &[&str], conf: Option<&Path>) -> Self {
        let log = pki.dir.path().join("s_server.log");
        for _attempt in 0..3 {
            let addr = free_port();
            let mut command = Command::new("openssl");
            command
                .arg("s_server")
                .arg("-accept")
                .arg(addr.to_string())
                .arg("-quiet")
                .arg("-cert")
                .arg(&pki.cert)
                .arg("-key")
                .arg(&pki.key)
                .args(args)
                // The system configuration must not change what a test server accepts.
                .env("OPENSSL_CONF", conf.unwrap_or(Path::new("/dev/null")))
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(fs::File::create(&log).expect("create the s_server log"));
            let mut child = spawn(&mut command, "openssl", "openssl");
            let stdin = child.stdin.take();
            if wait_listening(addr, &mut child) {
                return Self {
                    addr,
                    pki,
                    child,
                    _stdin: stdin,
                };
            }
            let reason = fs::read_to_string(&log).unwrap_or_default();
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                reason.contains("ddress already in use"),
                "openssl s_server {args:?} did not start:\n{reason}"
            );
        }
        panic!("openssl s_server found no free port in 3 attempts");
    }
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `gnutls-serv` in a private network namespace, relayed to 127.0.0.1 by socat; Drop kills both
/// and deletes the namespace.
pub struct GnutlsServer {
    /// Where the relay listens.
    pub addr: SocketAddr,
    /// Its certificates.
    pub pki: Pki,
    namespace: String,
    server: Child,
    relay: Option<Child>,
}

/// The port gnutls-serv listens on inside its namespace.
const INNER_PORT: u16 = 5556;

impl GnutlsServer {
    /// Starts `gnutls-serv --priority PRIORITY` with a fresh RSA leaf.
    #[must_use]
    pub fn start(priority: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let pki = Pki::rsa();
        let namespace = format!(
            "tlsaudit-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        run(
            Command::new("ip").args(["netns", "add", &namespace]),
            "ip",
            "iproute2",
        );
        run(
            Command::new("ip").args(["netns", "exec", &namespace, "ip", "link", "set", "lo", "up"]),
            "ip",
            "iproute2",
        );
        let log = pki.dir.path().join("gnutls-serv.log");
        let mut command = Command::new("ip");
        command
            .args([
                "netns",
                "exec",
                &namespace,
                "gnutls-serv",
                "--port",
                &INNER_PORT.to_string(),
            ])
            .arg("--x509certfile")
            .arg(&pki.cert)
            .arg("--x509keyfile")
            .arg(&pki.key)
            .args(["--priority", priority])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("create the gnutls-serv log"));
        let server = spawn(&mut command, "ip", "iproute2");
        // The server is owned from here on, so a failed start below still cleans up.
        let mut this = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            pki,
            namespace,
            server,
            relay: None,
        };
        this.wait_inner_listening(&log);
        this.addr = free_port();
        let mut relay = Command::new("socat");
        relay
            .arg(format!(
                "TCP-LISTEN:{},bind=127.0.0.1,fork,reuseaddr",
                this.addr.port()
            ))
            // socat splits addresses at ':', so the inner address's colons are escaped.
            .arg(format!(
                "EXEC:ip netns exec {} socat STDIO TCP\\:127.0.0.1\\:{INNER_PORT}",
                this.namespace
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        this.relay = Some(spawn(&mut relay, "socat", "socat"));
        let relay = this.relay.as_mut().expect("just set");
        assert!(
            wait_listening(this.addr, relay),
            "socat relay on {} did not start",
            this.addr
        );
        this
    }

    fn wait_inner_listening(&mut self, log: &Path) {
        let deadline = Instant::now() + STARTUP;
        let filter = format!("sport = :{INNER_PORT}");
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.server.try_wait() {
                panic!(
                    "gnutls-serv exited ({status}):\n{}",
                    fs::read_to_string(log).unwrap_or_default()
                );
            }
            let listening = run(
                Command::new("ip").args(["netns", "exec", &self.namespace, "ss", "-Hltn", &filter]),
                "ss",
                "iproute2",
            );
            if !listening.is_empty() {
                return;
            }
            sleep(Duration::from_millis(50));
        }
        panic!(
            "gnutls-serv did not listen within {STARTUP:?}:\n{}",
            fs::read_to_string(log).unwrap_or_default()
        );
    }
}

impl Drop for GnutlsServer {
    fn drop(&mut self) {
        if let Some(relay) = &mut self.relay {
            let _ = relay.kill();
            let _ = relay.wait();
        }
        // `ip netns exec` execs the command, so this pid is gnutls-serv itself.
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.namespace])
            .status();
    }
}

/// A 127.0.0.1 address whose port was free a moment ago.
#[must_use]
pub fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address")
}

/// Waits until `addr` accepts TCP connections; false if `child` exits first.
fn wait_listening(addr: SocketAddr, child: &mut Child) -> bool {
    let deadline = Instant::now() + STARTUP;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        sleep(Duration::from_millis(20));
    }
    panic!("{addr} did not accept connections within {STARTUP:?}");
}

fn openssl(dir: &Path, args: &[&str]) {
    run(
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .env("OPENSSL_CONF", "/dev/null"),
        "openssl",
        "openssl",
    );
}

fn spawn(command: &mut Command, tool: &str, package: &str) -> Child {
    match command.spawn() {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{tool}` is not installed: run `apt-get install {package}` ({err})")
        }
        Err(err) => panic!("failed to start {command:?}: {err}"),
    }
}

/// Runs a command to completion, panicking with its stderr when it fails; returns its stdout.
fn run(command: &mut Command, tool: &str, package: &str) -> Vec<u8> {
    let output = match command.output() {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{tool}` is not installed: run `apt-get install {package}` ({err})")
        }
        Err(err) => panic!("failed to run {command:?}: {err}"),
    };
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
