//! The `tlsaudit scan` binary: exit codes for CI use, JSON output and usage errors, against real
//! servers on 127.0.0.1.

mod support;

use std::process::Command;

use support::pki::{Hierarchy, Spec};
use support::tls_server::{self, ClientAuth};

const HSTS: &str = "Strict-Transport-Security: max-age=31536000\r\n";

fn scan(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tlsaudit"))
        .arg("scan")
        .args(args)
        .output()
        .expect("run tlsaudit");
    (
        output.status.code().expect("exit code"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_code_follows_fail_on_and_json_carries_findings_and_facts() {
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["cli.test"]).valid(-70, 20));
    let config = tls_server::config(
        vec![leaf.der.clone(), pki.intermediate.der.clone()],
        leaf.key_der(),
        ClientAuth::None,
        &["h2"],
    );
    let server = tls_server::start(config, HSTS).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.root.pem).expect("write CA");
    let target = format!("cli.test:{}", server.addr.port());
    let common = [
        target.as_str(),
        "--address",
        "127.0.0.1",
        "--ca",
        ca.to_str().expect("utf-8"),
        "--no-system-roots",
    ];

    // 20 days left of 90: cert.expiring_soon at medium. Below --fail-on high: exit 0.
    let (code, stdout, stderr) =
        tokio::task::block_in_place(|| scan(&[&common[..], &["--json"]].concat()));
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    assert_eq!(json["grade"], "A");
    assert_eq!(json["findings"][0]["code"], "cert.expiring_soon");
    assert_eq!(json["findings"][0]["severity"], "medium");
    assert_eq!(json["facts"]["chain"][0]["sans"][0], "cli.test");
    assert_eq!(json["facts"]["protocols"]["tls1_3"], true);

    // The same endpoint fails CI when medium is the threshold.
    let (code, stdout, _) =
        tokio::task::block_in_place(|| scan(&[&common[..], &["--fail-on", "medium"]].concat()));
    assert_eq!(code, 1);
    assert!(stdout.contains("cert.expiring_soon"), "{stdout}");
    assert!(
        !stdout.contains("\x1b["),
        "no colour when stdout is not a terminal"
    );

    // Silenced, nothing is left at medium or above.
    let (code, _, _) = tokio::task::block_in_place(|| {
        scan(
            &[
                &common[..],
                &["--fail-on", "medium", "--ignore", "cert.expiring_soon"],
            ]
            .concat(),
        )
    });
    assert_eq!(code, 0);

    // A 10 % lifetime share: 20 days left is 22 % of 90, so no warning. A 60-day limit for this
    // private CA makes its 90-day leaf cert.long_validity (low).
    let lifetime_flags = [
        "--json",
        "--warning-lifetime-percent",
        "10",
        "--critical-lifetime-percent",
        "5",
        "--max-validity-days",
        "60",
    ];
    let (code, stdout, stderr) =
        tokio::task::block_in_place(|| scan(&[&common[..], &lifetime_flags].concat()));
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    let findings: Vec<(&str, &str)> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or_default(),
                f["severity"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(findings, [("cert.long_validity", "low")], "{stdout}");
}

#[test]
fn unreachable_target_exits_2_and_usage_errors_say_what_is_wrong() {
    let closed = tls_server::closed_port();
    let (code, stdout, _) = scan(&[&closed.to_string(), "--timeout", "1s"]);
    assert_eq!(code, 2);
    assert!(stdout.contains("connect.refused"), "{stdout}");

    let (code, _, stderr) = scan(&["example.test:0"]);
    assert_eq!(code, 64);
    assert!(stderr.contains("invalid port"), "{stderr}");

    let (code, _, stderr) = scan(&["example.test:443", "--ignore", "cert.expird"]);
    assert_eq!(code, 64);
    assert!(stderr.contains("unknown finding code"), "{stderr}");

    let (code, _, stderr) = scan(&["example.test:443", "--warning-lifetime-percent", "0"]);
    assert_eq!(code, 64);
    assert!(stderr.contains("--warning-lifetime-percent"), "{stderr}");
}

// ---- Hostile servers and hostile input (issue 12): the real binary, with a hang guard. ----

/// Only a hang exceeds this; it is not a benchmark.
const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `tlsaudit scan ARGS` with stdout going to `stdout`; kills it at the hang guard.
async fn scan_to(args: &[&str], stdout: std::process::Stdio) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || run_guarded(&args, stdout))
        .await
        .expect("join")
}

fn run_guarded(args: &[String], stdout: std::process::Stdio) -> (i32, String, String) {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tlsaudit"))
        .arg("scan")
        .args(args)
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tlsaudit");
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert!(
            started.elapsed() <= HANG_GUARD,
            "tlsaudit scan {args:?} did not end within {HANG_GUARD:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let stdout = out.join().expect("stdout");
    let stderr = err.join().expect("stderr");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (status.code().expect("exit code"), stdout, stderr)
}

async fn scan_guarded(args: &[&str]) -> (i32, String, String) {
    scan_to(args, std::process::Stdio::piped()).await
}

fn codes(json: &serde_json::Value) -> Vec<(String, String)> {
    let mut codes: Vec<(String, String)> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or_default().to_owned(),
                f["severity"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    codes.sort();
    codes
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(c, s)| ((*c).to_owned(), (*s).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leaf_valid_for_one_second_gives_a_report_not_a_crash() {
    let now = time::OffsetDateTime::now_utc();
    let dated = support::hostile::dated_leaf(
        "short.test",
        now - time::Duration::seconds(10),
        now - time::Duration::seconds(9),
    );
    let config = tls_server::config(
        vec![dated.leaf.clone()],
        dated.key.clone_key(),
        ClientAuth::None,
        &["h2"],
    );
    let server = tls_server::start(config, HSTS).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64(&dated.root)
    );
    std::fs::write(&ca, pem).expect("write CA");
    let target = format!("short.test:{}", server.addr.port());
    let (code, stdout, stderr) = scan_guarded(&[
        &target,
        "--address",
        "127.0.0.1",
        "--ca",
        ca.to_str().expect("utf-8"),
        "--no-system-roots",
        "--json",
    ])
    .await;
    assert_eq!(code, 1, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(codes(&json), pairs(&[("cert.expired", "critical")]));
}

/// Standard base64 (the test needs no crate for it).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_stalls_after_server_hello_is_cut_off_at_the_deadline() {
    let server = support::hostile::stalling_server().await;
    let target = format!("stall.test:{}", server.addr.port());
    let (code, stdout, stderr) = scan_guarded(&[
        &target,
        "--address",
        "127.0.0.1",
        "--timeout",
        "200ms",
        "--deadline",
        "1s",
        "--no-system-roots",
        "--json",
    ])
    .await;
    assert_eq!(code, 1, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json["facts"]["deadlineExceeded"], true);
    assert_eq!(json["facts"]["ciphers"][0]["incomplete"], true);
    assert_eq!(json["facts"]["protocols"]["tls1_2"], true);
    assert_eq!(
        codes(&json),
        pairs(&[
            ("connect.timeout", "critical"),
            ("kex.no_pq_hybrid", "info"),
            ("probe.deadline_exceeded", "medium"),
            ("protocol.no_tls1_3", "low"),
            ("tls.no_extended_master_secret", "low"),
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_megabyte_certificate_is_an_oversized_handshake_not_not_tls() {
    let server = support::hostile::huge_certificate_server(1 << 20).await;
    let target = format!("huge.test:{}", server.addr.port());
    let (code, stdout, stderr) = scan_guarded(&[
        &target,
        "--address",
        "127.0.0.1",
        "--no-system-roots",
        "--timeout",
        "2s",
        "--json",
    ])
    .await;
    assert_eq!(code, 1, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json["facts"]["protocols"]["tls1_2"], true);
    assert_eq!(
        codes(&json),
        pairs(&[
            ("kex.no_pq_hybrid", "info"),
            ("protocol.no_tls1_3", "low"),
            ("tls.no_extended_master_secret", "low"),
            ("tls.oversized_handshake", "high"),
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn host_and_sni_names_that_cannot_be_sent_are_usage_errors() {
    let long = format!("{}:443", "a".repeat(300));
    let label = format!("{}.test:443", "b".repeat(64));
    let cases: [(&[&str], &str); 9] = [
        (&["a b.test:443"], "space"),
        (&["a\u{1}b.test:443"], "control"),
        (&["bücher.test:443"], "xn--"),
        (&[&long], "longer than 253"),
        (&[&label], "longer than 63"),
        (&["[]:443"], "empty host name"),
        (&["::1:8443"], "[::1]:8443"),
        (&["ok.test:443", "--sni", "bad name"], "server name"),
        (&["ok.test:443", "--sni", ""], "empty host name"),
    ];
    for (args, says) in cases {
        let (code, stdout, stderr) = scan_guarded(args).await;
        assert_eq!(code, 64, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_client_keys_are_usage_errors_not_server_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Hierarchy::new();
    let leaf = pki.leaf(&Spec::leaf(&["client.test"]));
    let other = pki.leaf(&Spec::leaf(&["other.test"]));
    let cert = dir.path().join("client.crt");
    std::fs::write(&cert, &leaf.pem).expect("write cert");
    let write = |name: &str, pem: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).expect("write key");
        path
    };
    let openssl_key = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .arg("genpkey")
            .args(args)
            .output()
            .expect("openssl genpkey");
        assert!(out.status.success());
        out.stdout
    };
    let keys = [
        (
            write(
                "rsa1024.key",
                &openssl_key(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]),
            ),
            "unsupported RSA client key",
        ),
        (
            write("ed448.key", &openssl_key(&["-algorithm", "ed448"])),
            "unsupported Ed448 client key",
        ),
        (
            write(
                "garbage.key",
                b"-----BEGIN PRIVATE KEY-----\nAAECAwQFBgcICQ==\n-----END PRIVATE KEY-----\n",
            ),
            "unsupported unknown client key",
        ),
        (
            write("other.key", other.key_pem().as_bytes()),
            "does not match the client certificate",
        ),
        (write("empty.key", b""), "no PRIVATE KEY block"),
    ];
    let closed = tls_server::closed_port().to_string();
    for (key, says) in &keys {
        let (code, stdout, stderr) = scan_guarded(&[
            &closed,
            "--client-cert",
            cert.to_str().expect("utf-8"),
            "--client-key",
            key.to_str().expect("utf-8"),
        ])
        .await;
        assert_eq!(code, 64, "{key:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains(says), "{key:?}: {stderr}");
        assert!(stderr.contains(key.to_str().expect("utf-8")), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_flags_and_files_are_usage_errors_that_name_the_problem_once() {
    let closed = tls_server::closed_port().to_string();
    let (code, _, stderr) = scan_guarded(&[&closed, "--timeout", "0"]).await;
    assert_eq!(code, 64);
    assert!(stderr.contains("too short"), "{stderr}");

    let (code, _, stderr) = scan_guarded(&[&closed, "--timeout", "2s", "--deadline", "1s"]).await;
    assert_eq!(code, 64);
    assert!(stderr.contains("--deadline"), "{stderr}");

    let (code, _, stderr) = scan_guarded(&[&closed, "--no-such-flag"]).await;
    assert_eq!(code, 64, "{stderr}");

    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing-ca.pem");
    let (code, _, stderr) =
        scan_guarded(&[&closed, "--ca", missing.to_str().expect("utf-8")]).await;
    assert_eq!(code, 64);
    assert!(stderr.contains("missing-ca.pem"), "{stderr}");
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");

    let garbage = dir.path().join("garbage-ca.pem");
    std::fs::write(&garbage, "not PEM at all").expect("write");
    let (code, _, stderr) =
        scan_guarded(&[&closed, "--ca", garbage.to_str().expect("utf-8")]).await;
    assert_eq!(code, 64);
    assert!(stderr.contains("garbage-ca.pem"), "{stderr}");
    assert!(stderr.contains("no CERTIFICATE block"), "{stderr}");

    let help = std::process::Command::new(env!("CARGO_BIN_EXE_tlsaudit"))
        .args(["scan", "--help"])
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("Exit codes:") && help.contains("64  usage error"),
        "{help}"
    );
    assert!(help.contains("--deadline"), "{help}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_stdout_is_an_output_error_and_a_closed_pipe_a_quiet_exit() {
    let closed = tls_server::closed_port().to_string();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    let (code, _, stderr) = scan_to(&[&closed, "--timeout", "1s"], full.into()).await;
    assert_eq!(code, 74, "{stderr}");
    assert_eq!(
        stderr.matches("failed to write the report").count(),
        1,
        "{stderr}"
    );

    // `| head -c 0`: the reader is gone before the report is written.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let (code, _, stderr) = scan_to(&[&closed, "--timeout", "1s"], writer.into()).await;
    assert_eq!(code, 2, "the verdict (unreachable) stands: {stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}
