//! The `tlsaudit scan HOST:PORT` command: options → one probe → report on stdout → exit code.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::findings::{Code, Severity};
use crate::policy::{Policy, Profile};
use crate::probe::{ClientIdentity, IdentityError, ProbeOptions, Protocol, Target};
use crate::report::{self, EndpointReport};

/// Exit code: no finding at or above `--fail-on`.
pub const EXIT_CLEAN: u8 = 0;
/// Exit code: findings at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: no TLS handshake at all (refused, timeout, not TLS, unresolvable).
pub const EXIT_UNREACHABLE: u8 = 2;
/// Exit code: bad usage — an unknown flag, a bad value, an unreadable or unusable file
/// (`EX_USAGE` of sysexits.h).
pub const EXIT_USAGE: u8 = 64;
/// Exit code: the report could not be written (e.g. a full disk; `EX_IOERR` of sysexits.h).
pub const EXIT_OUTPUT: u8 = 74;

/// The exit codes as `scan --help` shows them.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0   no finding at or above --fail-on
  1   findings at or above --fail-on
  2   no TLS handshake at all (refused, timeout, not TLS, unresolvable)
  64  usage error: unknown flag, bad value, unreadable or unusable file
  74  the report could not be written (stdout full or failing)
A closed stdout (e.g. `| head`) is not an error: the exit code still follows the findings.";

/// The shortest `--timeout` / `--deadline` accepted.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(10);

/// `tlsaudit scan` options.
#[derive(Debug, clap::Args)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "each flag is one independent command-line switch"
)]
pub struct ScanArgs {
    /// HOST:PORT to audit (`[::1]:443` for IPv6, brackets required; port defaults to 443).
    pub target: String,
    /// SNI and verification name (default: HOST when it is a name).
    #[arg(long)]
    pub sni: Option<String>,
    /// Dial this IP address instead of resolving HOST.
    #[arg(long)]
    pub address: Option<std::net::IpAddr>,
    /// PEM bundle of extra trust anchors (repeatable).
    #[arg(long = "ca", value_name = "FILE")]
    pub ca: Vec<PathBuf>,
    /// Do not trust the built-in web PKI roots.
    #[arg(long)]
    pub no_system_roots: bool,
    /// Client certificate chain (PEM) for mTLS.
    #[arg(long, requires = "client_key", value_name = "FILE")]
    pub client_cert: Option<PathBuf>,
    /// Client private key (PEM) for mTLS.
    #[arg(long, requires = "client_cert", value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// Deadline for each connect and exchange, e.g. `5s`, `800ms` (at least 10ms).
    #[arg(long, default_value = "5s", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Deadline for the whole endpoint, all connections included (default: 6 × --timeout, 30s
    /// with the default timeout; at least --timeout). When it passes, the report keeps what was
    /// learned and adds `probe.deadline_exceeded`.
    #[arg(long, value_parser = parse_timeout)]
    pub deadline: Option<Duration>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, default_value = "high", value_parser = parse_severity)]
    pub fail_on: Severity,
    /// Do not send `GET /` (HSTS check).
    #[arg(long)]
    pub no_http: bool,
    /// What to send before the ClientHello: `tls` (nothing) or `postgres` (PostgreSQL's SSLRequest;
    /// no HTTP request is sent then).
    #[arg(long, default_value = "tls", value_parser = parse_protocol)]
    pub protocol: Protocol,
    /// Days before expiry that warn (unless --warning-lifetime-percent gives a sooner threshold).
    #[arg(long, default_value_t = crate::policy::DEFAULT_WARNING_DAYS)]
    pub warning_days: u32,
    /// Days before expiry that are critical (unless --critical-lifetime-percent gives a sooner one).
    #[arg(long, default_value_t = crate::policy::DEFAULT_CRITICAL_DAYS)]
    pub critical_days: u32,
    /// Warn only when less than this percentage of the certificate's lifetime is left (1-100).
    #[arg(long, default_value_t = crate::policy::DEFAULT_WARNING_LIFETIME_PERCENT,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub warning_lifetime_percent: u32,
    /// Critical only when less than this percentage of the certificate's lifetime is left (1-100).
    #[arg(long, default_value_t = crate::policy::DEFAULT_CRITICAL_LIFETIME_PERCENT,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub critical_lifetime_percent: u32,
    /// Longest leaf validity in days accepted from CAs outside the web PKI (default: no limit).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub max_validity_days: Option<u32>,
    /// Mozilla profile expected (guidelines 6.0): modern or intermediate; old is deprecated (5.8).
    #[arg(long, default_value = "intermediate", value_parser = parse_profile)]
    pub profile: Profile,
    /// Finding code to silence (repeatable).
    #[arg(long, value_parser = parse_code)]
    pub ignore: Vec<Code>,
    /// The endpoint is meant for mTLS: an optional or unrequested client certificate is high.
    #[arg(long)]
    pub expect_mtls: bool,
}

/// Parses a duration such as `5s`, `800ms`, `1m30s` or a bare number of seconds (the grammar of
/// [`crate::duration`], shared with the controller).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::duration::parse(text).map_err(|e| e.to_string())
}

/// A duration of at least [`MIN_TIMEOUT`]: a zero timeout would turn every server into
/// `connect.timeout`.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration < MIN_TIMEOUT {
        return Err(format!("{text:?} is too short (at least {MIN_TIMEOUT:?})"));
    }
    Ok(duration)
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    Severity::ALL
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| format!("unknown severity {text:?} (critical, high, medium, low, info)"))
}

fn parse_profile(text: &str) -> Result<Profile, String> {
    [Profile::Modern, Profile::Intermediate, Profile::Old]
        .into_iter()
        .find(|p| p.as_str() == text)
        .ok_or_else(|| format!("unknown profile {text:?} (modern, intermediate, old)"))
}

fn parse_protocol(text: &str) -> Result<Protocol, String> {
    Protocol::parse(text).ok_or_else(|| format!("unknown protocol {text:?} (tls, postgres)"))
}

fn parse_code(text: &str) -> Result<Code, String> {
    Code::parse(text).ok_or_else(|| format!("unknown finding code {text:?} (see docs/findings.md)"))
}

/// Splits `host:port`, `[v6]:port`, or a bare host (port 443).
pub fn split_target(text: &str) -> Result<(String, u16), String> {
    let parse_port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("invalid port in {text:?}"))
    };
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("missing ']' in {text:?}"))?;
        return match after.strip_prefix(':') {
            Some(port) => Ok((host.to_owned(), parse_port(port)?)),
            None if after.is_empty() => Ok((host.to_owned(), 443)),
            None => Err(format!("invalid target {text:?}")),
        };
    }
    match text.rsplit_once(':') {
        // `::1:8443` is a valid IPv6 address and also looks like `::1` port 8443: refuse to guess.
        Some((host, _)) if host.contains(':') => Err(format!(
            "IPv6 addresses need brackets: write [{text}] for port 443, or e.g. [::1]:8443"
        )),
        Some((host, port)) if !host.is_empty() => Ok((host.to_owned(), parse_port(port)?)),
        Some(_) => Err(format!("missing host in {text:?}")),
        None if !text.is_empty() => Ok((text.to_owned(), 443)),
        None => Err("empty target".to_owned()),
    }
}

/// Why the scan could not start, or its report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The target text, host or SNI name is malformed.
    #[error("invalid target: {0}")]
    Target(String),
    /// The flags contradict each other.
    #[error("invalid flags: {0}")]
    Flags(String),
    /// A file could not be read. (The OS error is part of the message, not a source: it would be
    /// printed twice.)
    #[error("failed to read {path}: {error}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A PEM file's content is unusable.
    #[error("failed to use {path}: {error}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// Why.
        error: crate::cert::PemError,
    },
    /// The client certificate and key cannot be used.
    #[error("failed to use the client identity {cert} + {key}: {error}")]
    Identity {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        error: IdentityError,
    },
    /// JSON rendering failed.
    #[error("failed to render JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Standard output failed (not a closed pipe).
    #[error("failed to write the report: {0}")]
    Output(std::io::Error),
}

impl ScanError {
    /// [`EXIT_USAGE`] for the user's input, [`EXIT_OUTPUT`] for a failed write.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Json(_) | Self::Output(_) => EXIT_OUTPUT,
            _ => EXIT_USAGE,
        }
    }
}

fn read(path: &PathBuf) -> Result<Vec<u8>, ScanError> {
    std::fs::read(path).map_err(|error| ScanError::ReadFile {
        path: path.clone(),
        error,
    })
}

fn pem_error(path: &Path) -> impl FnOnce(crate::cert::PemError) -> ScanError + '_ {
    move |error| ScanError::Pem {
        path: path.to_owned(),
        error,
    }
}

/// Builds the probe inputs from the options.
pub fn prepare(args: &ScanArgs) -> Result<(Target, ProbeOptions, Policy), ScanError> {
    let (host, port) = split_target(&args.target).map_err(ScanError::Target)?;
    let target = Target {
        address: args.address.map(|ip| SocketAddr::new(ip, port)),
        server_name: args.sni.clone(),
        host,
        port,
        protocol: args.protocol,
    };
    crate::probe::check_target(&target).map_err(|e| ScanError::Target(e.to_string()))?;
    let deadline = args
        .deadline
        .unwrap_or_else(|| args.timeout.saturating_mul(6));
    if deadline < args.timeout {
        return Err(ScanError::Flags(format!(
            "--deadline {deadline:?} is shorter than --timeout {:?}",
            args.timeout
        )));
    }
    let mut store = crate::cert::root_store(!args.no_system_roots, &[])
        .map_err(pem_error(Path::new("the built-in roots")))?;
    for path in &args.ca {
        let bundle = crate::cert::root_store(false, &[&read(path)?]).map_err(pem_error(path))?;
        store.roots.extend(bundle.roots);
    }
    let client_identity = match (&args.client_cert, &args.client_key) {
        (Some(cert), Some(key)) => {
            let identity =
                ClientIdentity::from_pem(&read(cert)?, &read(key)?).map_err(|error| {
                    ScanError::Identity {
                        cert: cert.clone(),
                        key: key.clone(),
                        error,
                    }
                })?;
            Some(Arc::new(identity))
        }
        _ => None,
    };
    let options = ProbeOptions {
        timeout: args.timeout,
        deadline,
        roots: Arc::new(store),
        client_identity,
        http: !args.no_http,
        ..ProbeOptions::default()
    };
    let policy = Policy {
        warning_days: args.warning_days,
        critical_days: args.critical_days.min(args.warning_days),
        warning_lifetime_percent: args.warning_lifetime_percent,
        critical_lifetime_percent: args
            .critical_lifetime_percent
            .min(args.warning_lifetime_percent),
        max_validity_days: args.max_validity_days,
        profile: args.profile,
        ignore: args.ignore.clone(),
        require_client_certificate: args.expect_mtls,
    };
    Ok((target, options, policy))
}

/// Writes `text` to stdout. A closed pipe (`| head`) ends the output quietly, as SIGPIPE would;
/// any other failure (a full disk) is an error.
pub fn write_stdout(text: &str) -> Result<(), ScanError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(ScanError::Output(err)),
        _ => Ok(()),
    }
}

/// Runs the scan, prints the report and returns the exit code.
pub async fn run(args: &ScanArgs) -> Result<u8, ScanError> {
    let (target, options, policy) = prepare(args)?;
    let facts = crate::probe::probe(&target, &options).await;
    let report = EndpointReport::assemble(&target, facts, &policy, jiff::Timestamp::now());
    let text = if args.json {
        report::to_json(&report)? + "\n"
    } else {
        report::to_text(&report, std::io::stdout().is_terminal())
    };
    write_stdout(&text)?;
    Ok(exit_code(&report, args.fail_on))
}

/// 2 when no handshake happened at all, 1 when a finding is at or above `fail_on`, else 0.
#[must_use]
pub fn exit_code(report: &EndpointReport, fail_on: Severity) -> u8 {
    if !report.facts.reachable {
        EXIT_UNREACHABLE
    } else if report.worst().is_some_and(|w| w >= fail_on) {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_host_and_port() {
        assert_eq!(
            split_target("example.com:8443"),
            Ok(("example.com".into(), 8443))
        );
        assert_eq!(split_target("example.com"), Ok(("example.com".into(), 443)));
        assert_eq!(split_target("[::1]:8443"), Ok(("::1".into(), 8443)));
        assert_eq!(split_target("[::1]"), Ok(("::1".into(), 443)));
        assert!(split_target("::1").is_err());
        assert!(
            split_target("::1:8443")
                .is_err_and(|e| e.contains("brackets") && e.contains("[::1]:8443"))
        );
        assert_eq!(split_target("[]:443"), Ok((String::new(), 443)));
        assert!(split_target("example.com:0").is_err());
        assert!(split_target(":443").is_err());
        assert!(split_target("host:http").is_err());
    }

    #[test]
    fn durations_accept_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("9ms").is_err());
        assert_eq!(parse_timeout("10ms"), Ok(MIN_TIMEOUT));
    }
}
