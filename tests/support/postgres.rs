//! A real PostgreSQL server from Debian's `postgresql` package for probe tests. Input: a [`Pki`]
//! whose leaf it serves (or none for `ssl = off`) and extra postgresql.conf settings. Output: a
//! server listening on a free 127.0.0.1 port only, with its own cluster (`initdb`) and Unix socket
//! in a temporary directory; stopped with `pg_ctl stop` and deleted on Drop.
//!
//! PostgreSQL refuses to run as root, so under root (CI) every command runs as the `postgres`
//! user the package creates, through `runuser`, in a directory handed over to it.
//! A missing package is a loud panic naming it, never a silent skip.

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Command, Output};

use tempfile::TempDir;

use super::openssl::{Pki, free_port};

/// A running PostgreSQL cluster on 127.0.0.1.
pub struct PostgresServer {
    /// Where it listens (TCP, loopback only).
    pub addr: SocketAddr,
    dir: TempDir,
    bin: PathBuf,
    run_as: Option<&'static str>,
}

impl PostgresServer {
    /// Starts a cluster serving `pki`'s leaf with `ssl = on`, or with `ssl = off` when `pki` is
    /// `None`, plus `settings` (`name = value` lines appended to postgresql.conf).
    #[must_use]
    pub fn start(pki: Option<&Pki>, settings: &[&str]) -> Self {
        let bin = bin_dir();
        let run_as = running_as_root().then_some("postgres");
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let root = dir.path();
        let mut conf = vec![
            "listen_addresses = '127.0.0.1'".to_owned(),
            format!("unix_socket_directories = '{}'", root.display()),
            "fsync = off".to_owned(),
        ];
        match pki {
            Some(pki) => {
                for (from, to) in [(&pki.cert, "server.crt"), (&pki.key, "server.key")] {
                    fs::copy(from, root.join(to)).expect("copy the server certificate");
                    // PostgreSQL refuses a key readable by others.
                    fs::set_permissions(root.join(to), fs::Permissions::from_mode(0o600))
                        .expect("chmod the server key");
                }
                conf.push("ssl = on".to_owned());
                conf.push(format!(
                    "ssl_cert_file = '{}'",
                    root.join("server.crt").display()
                ));
                conf.push(format!(
                    "ssl_key_file = '{}'",
                    root.join("server.key").display()
                ));
            }
            None => conf.push("ssl = off".to_owned()),
        }
        conf.extend(settings.iter().map(|s| (*s).to_owned()));
        if let Some(user) = run_as {
            run(Command::new("chown")
                .args(["-R", &format!("{user}:")])
                .arg(root));
        }
        let mut server = Self {
            addr: free_port(),
            dir,
            bin,
            run_as,
        };
        server.initdb(&conf);
        for _attempt in 0..3 {
            if server.pg_ctl_start() {
                return server;
            }
            let log = fs::read_to_string(server.path("server.log")).unwrap_or_default();
            assert!(
                log.contains("ddress already in use"),
                "postgres did not start:\n{log}"
            );
            server.addr = free_port();
        }
        panic!("postgres found no free port in 3 attempts");
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn initdb(&self, conf: &[String]) {
        let data = self.path("data");
        run(self
            .command("initdb")
            .args(["--auth=trust", "--username=postgres", "--no-sync", "-D"])
            .arg(&data));
        let mut text =
            fs::read_to_string(data.join("postgresql.conf")).expect("read postgresql.conf");
        text.push_str("\n# tlsaudit test settings\n");
        for line in conf {
            text.push_str(line);
            text.push('\n');
        }
        fs::write(data.join("postgresql.conf"), text).expect("write postgresql.conf");
    }

    /// `pg_ctl start -w`; false when the server did not come up (its log says why).
    fn pg_ctl_start(&self) -> bool {
        let output = self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "30", "-D"])
            .arg(self.path("data"))
            .arg("-l")
            .arg(self.path("server.log"))
            .arg("-o")
            .arg(format!("-p {}", self.addr.port()))
            .output()
            .expect("run pg_ctl");
        output.status.success()
    }

    /// A command of the cluster's binaries, as the cluster's owner, with OpenSSL's system
    /// configuration out of the way (it must not change what the test server accepts).
    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        let mut command = if let Some(user) = self.run_as {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--", "env", "OPENSSL_CONF=/dev/null"])
                .arg(program);
            c
        } else {
            let mut c = Command::new(program);
            c.env("OPENSSL_CONF", "/dev/null");
            c
        };
        command.current_dir(self.dir.path());
        command
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["stop", "-w", "-m", "immediate", "-D"])
            .arg(self.path("data"))
            .output();
    }
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The newest `/usr/lib/postgresql/<major>/bin` (Debian keeps the server binaries off PATH).
fn bin_dir() -> PathBuf {
    let newest = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .max_by_key(|(major, _)| *major);
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is not installed: run `apt-get install postgresql` \
             (no /usr/lib/postgresql/<major>/bin/initdb)"
        ),
    }
}

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("failed to run {command:?}: {err}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
